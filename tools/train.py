"""Train the three tiny shipped models: standard residuals, Block AttnRes and
Full AttnRes, with the same budget, on the corpus of tools/corpus.py.

    /usr/bin/python3 tools/corpus.py --out models      # the corpus (seeded)
    /usr/bin/python3 tools/train.py --all               # models/{standard,block,full}.safetensors

Tokenizer: BYTE-LEVEL. A token id is a byte value 0..255, vocab_size = 256;
there is no BOS, EOS or any other special token. Text is encoded as its ASCII
bytes and decoded by writing the ids back as bytes.

Model (the same for all three; only residual / block_size differ):
  dim 96, hidden_dim 256, n_layers 4 (L = 8 sublayers), n_heads 4,
  n_kv_heads 2 (grouped-query), vocab 256, seq_len 256, rope_theta 10000,
  norm_eps 1e-5, tied embeddings.
    standard  residual "standard"
    block     residual "attnres", block_size S = 2 (N = 4 blocks)
    full      residual "attnres", block_size S = 1 (N = 8 blocks: Full AttnRes)

Training: the semantics of tools/reference.py (the contract), written here as
a batched float32 nn.Module so it trains fast; the checkpoint is written with
reference.save_checkpoint and then CHECKED: reference.forward (float64) on the
exported file must give the module's logits on a validation window (float32
module: max |diff| <= 1e-4; the same module in float64: <= 1e-9), else the
program fails.
  - init: every tensor from its own generator, seeded by (seed, tensor name),
    so the tensors the three models share start out identical.
    Embeddings and linear weights N(0, 0.02^2), the output projections of the
    sublayers (wo, w2) N(0, (0.02/sqrt(L))^2); RMSNorm gains and key-norm
    gains 1; pseudo-queries ZERO (the paper's init: every depth softmax starts
    as a uniform average over its sources).
  - data: random windows of seq_len + 1 bytes of the training text (inputs
    and next-byte targets), drawn from a generator seeded with --seed; the
    same windows in the same order for every mode.
  - AdamW (betas 0.9, 0.95, weight decay 0.1 on matrices only, not on gains
    or pseudo-queries), linear warmup then cosine decay to lr/10, gradient
    clipping at norm 1. Same steps, batch, schedule and seed for every mode.
  - CPU, torch.set_num_threads(--threads, default 2), torch.manual_seed.
    Deterministic for a given machine, BLAS and thread count (a rerun gives
    byte-identical checkpoints). Debian's torch calls the system libblas.so.3;
    the shipped checkpoints were trained with Debian's OpenBLAS 0.3.21
    (libopenblas0-openmp: `apt-get install libopenblas0-openmp`, or without
    root `make train-blas` and TRAIN_BLAS=.., which puts the unpacked library
    on LD_LIBRARY_PATH) and OMP_WAIT_POLICY=PASSIVE, see mk/train.mk. With
    the default netlib BLAS training is several times slower and the float32
    bits may differ.

Validation loss (the number in models/train_log.json): the mean next-byte
cross-entropy in nats/byte over the WHOLE validation file, computed with
reference.forward in float64 on the exported checkpoint. The file's bytes
t_0..t_{n-1} are cut into non-overlapping windows of seq_len inputs,
t[k : k+seq_len] for k = 0, seq_len, 2 seq_len, .. (the last one shorter);
each window is run from an empty context and predicts t[k+1 : k+seq_len+1].
So every byte but the first is predicted exactly once, with between 0 and
seq_len-1 bytes of context; the loss is the mean over those n-1 predictions.

Results (mode, parameters, steps, wall time, final train loss, val loss, and
for AttnRes the mean depth weights alpha over the first validation window) go
to models/train_log.json, not into the checkpoints.

Depth attention only, from a converted standard model:
    /usr/bin/python3 tools/import_model.py --to-attnres models/standard.safetensors \
        --out build/bridge.safetensors                   # zero pseudo-queries, unit key gains
    /usr/bin/python3 tools/train.py --from-converted build/bridge.safetensors --out build/bridge-trained
trains ONLY the pseudo-queries and key-norm gains (every other tensor is
frozen and written back bit for bit) with the same data, schedule and
clipping, no weight decay; it prints the validation loss before (the
standard model's, up to RMSNorm's eps: lessons/13) and after, computed with
the float32 module over the first --val-bytes of the validation text. The
data are bytes, so the checkpoint must be byte-level (vocab_size 256).
"""

import argparse
import json
import math
import os
import sys
import time
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

MODES = {  # mode -> (residual, block_size)
    "standard": ("standard", 0),
    "block": ("attnres", 2),
    "full": ("attnres", 1),
}


def make_config(mode):
    residual, block_size = MODES[mode]
    return ref.Config(dim=96, hidden_dim=256, n_layers=4, n_heads=4, n_kv_heads=2,
                      vocab_size=256, seq_len=256, rope_theta=10000.0, norm_eps=1e-5,
                      tie_embeddings=True, residual=residual, block_size=block_size)


# --------------------------------------------------------------------------
# The model, batched: tokens [B, T] -> logits [B, T, vocab]
# --------------------------------------------------------------------------

def rmsnorm(x, g, eps):
    """x / sqrt(mean(x^2) + eps) * g over the last axis (as reference.rmsnorm)."""
    return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + eps) * g


def rope_tables(T, head_dim, theta, dtype, device=None, scaling=None):
    """cos, sin [T, head_dim/2] of angle pos * freq_i, freq_i = theta^(-2i/head_dim)
    rescaled by the config's rope_scaling (reference.rope_inv_freq), made on
    device (the model's: every tensor forward makes lives beside the weights)."""
    freq = ref.rope_inv_freq(head_dim, theta, scaling).to(device)   # [half], float64
    angle = torch.arange(T, dtype=torch.float64, device=device)[:, None] * freq[None, :]  # [T, half]
    return torch.cos(angle).to(dtype), torch.sin(angle).to(dtype)


def rope(x, cos, sin):
    """Interleaved pairs (x[2i], x[2i+1]) rotated. x [B, T, heads, head_dim]."""
    B, T, H, hd = x.shape
    pairs = x.reshape(B, T, H, hd // 2, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]                     # [B, T, H, half]
    c, s = cos[None, :, None, :], sin[None, :, None, :]       # [1, T, 1, half]
    return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1).reshape(B, T, H, hd)


class TinyLM(nn.Module):
    """The reference model (tools/reference.py) for batches. Parameters carry
    the checkpoint names, with '.' written as '__' (nn.Module forbids dots)."""

    def __init__(self, cfg, seed):
        super().__init__()
        self.cfg = cfg
        L = cfg.n_sublayers
        for name, shape in ref.tensor_names_and_shapes(cfg):
            g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
            if name.endswith("pseudo_query"):
                t = torch.zeros(shape)
            elif name.endswith("norm.weight"):   # attention_norm, ffn_norm, key_norm, norm
                t = torch.ones(shape)
            elif name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
                t = torch.randn(shape, generator=g) * (0.02 / math.sqrt(L))
            else:                                # embeddings, wq, wk, wv, w1, w3
                t = torch.randn(shape, generator=g) * 0.02
            self.register_parameter(name.replace(".", "__"), nn.Parameter(t))

    def w(self, name):
        return getattr(self, name.replace(".", "__"))

    def named_weights(self):
        """name -> tensor, in the checkpoint's canonical order."""
        return {name: self.w(name).detach() for name, _ in ref.tensor_names_and_shapes(self.cfg)}

    def attention(self, i, xn, cos, sin):
        """Causal GQA self-attention of layer i. xn [B, T, dim] -> [B, T, dim]."""
        c, p = self.cfg, f"layers.{i}.attention."
        B, T, _ = xn.shape
        hd = c.head_dim
        q = (xn @ self.w(p + "wq.weight").T).view(B, T, c.n_heads, hd)
        k = (xn @ self.w(p + "wk.weight").T).view(B, T, c.n_kv_heads, hd)
        if c.qk_norm:   # RMSNorm over each head, before RoPE (format 2)
            q = rmsnorm(q, self.w(p + "q_norm.weight"), c.norm_eps)
            k = rmsnorm(k, self.w(p + "k_norm.weight"), c.norm_eps)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        v = (xn @ self.w(p + "wv.weight").T).view(B, T, c.n_kv_heads, hd)
        kv_of_head = torch.arange(c.n_heads, device=xn.device) // (c.n_heads // c.n_kv_heads)
        q = q.transpose(1, 2)                                 # [B, H, T, hd]
        k = k[:, :, kv_of_head].transpose(1, 2)               # [B, H, T, hd]
        v = v[:, :, kv_of_head].transpose(1, 2)               # [B, H, T, hd]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)    # [B, H, T, T]
        future = torch.ones(T, T, dtype=torch.bool, device=xn.device).triu(diagonal=1)
        p_att = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        ctx = (p_att @ v).transpose(1, 2).reshape(B, T, c.n_heads * hd)
        return ctx @ self.w(p + "wo.weight").T

    def sublayer(self, l, h, cos, sin):
        """f_l(h): pre-norm attention (l even) or SwiGLU MLP (l odd). h [B, T, dim]."""
        c, p = self.cfg, f"layers.{l // 2}."
        if l % 2 == 0:
            return self.attention(l // 2, rmsnorm(h, self.w(p + "attention_norm.weight"), c.norm_eps), cos, sin)
        xn = rmsnorm(h, self.w(p + "ffn_norm.weight"), c.norm_eps)
        gate = xn @ self.w(p + "feed_forward.w1.weight").T
        up = xn @ self.w(p + "feed_forward.w3.weight").T
        return (F.silu(gate) * up) @ self.w(p + "feed_forward.w2.weight").T

    def depth_attention(self, l, values, normed):
        """AttnRes over depth for sublayer l (l == L: the output).
        values [n_src, B, T, dim] are the raw sources v_j; normed [n_src, B, T, dim]
        are v_j / sqrt(mean(v_j^2) + eps), the key RMSNorm WITHOUT its gain, which
        does not depend on l and so is computed once per source. Since
        (normed_j * g_l) . w_l = normed_j . (g_l * w_l), the logits are one
        matrix-vector product. Returns h [B, T, dim], alpha [n_src, B, T]."""
        q_name, g_name = ref.res_names(self.cfg, l)
        logits = normed @ (self.w(g_name) * self.w(q_name))   # [n_src, B, T]
        alpha = torch.softmax(logits, dim=0)                  # [n_src, B, T]
        h = torch.einsum("jbt,jbtd->btd", alpha, values)      # sum_j alpha_j v_j
        return h, alpha

    def forward(self, tokens):
        c = self.cfg
        B, T = tokens.shape
        x = F.embedding(tokens, self.w("tok_embeddings.weight"))  # [B, T, dim]
        cos, sin = rope_tables(T, c.head_dim, c.rope_theta, x.dtype, x.device, c.rope_scaling)
        L = c.n_sublayers
        if c.residual == "standard":
            h = x
            for l in range(L):
                h = h + self.sublayer(l, h, cos, sin)
            out_h = h
        else:
            ones = torch.ones(c.dim, dtype=x.dtype, device=x.device)
            unit = lambda v: rmsnorm(v, ones, c.norm_eps)     # noqa: E731 (key norm, gain 1)
            blocks, normed, partial = [x], [unit(x)], None    # b0 = embedding
            for l in range(L):
                if partial is None:
                    values, keys = blocks, normed
                else:
                    values, keys = blocks + [partial], normed + [unit(partial)]
                h, _ = self.depth_attention(l, torch.stack(values), torch.stack(keys))
                f = self.sublayer(l, h, cos, sin)
                partial = f if partial is None else partial + f
                if (l + 1) % c.block_size == 0 or l == L - 1:  # block complete
                    blocks.append(partial)
                    normed.append(unit(partial))
                    partial = None
            out_h, _ = self.depth_attention(L, torch.stack(blocks), torch.stack(normed))
        hn = rmsnorm(out_h, self.w("norm.weight"), c.norm_eps)
        w_out = self.w("tok_embeddings.weight") if c.tie_embeddings else self.w("output.weight")
        return hn @ w_out.T                                   # [B, T, vocab]


# --------------------------------------------------------------------------
# Data, schedule, evaluation
# --------------------------------------------------------------------------

def read_bytes(path):
    with open(path, "rb") as f:
        return torch.tensor(list(f.read()), dtype=torch.long)


def lr_at(step, steps, lr, warmup):
    """Linear warmup over `warmup` steps, then cosine from lr down to lr/10."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * t)))


def val_loss_reference(cfg, weights, val):
    """Mean next-byte cross-entropy (nats/byte) over the whole val file with
    reference.forward in float64; non-overlapping seq_len windows (see the top)."""
    total, count = 0.0, 0
    for k in range(0, len(val) - 1, cfg.seq_len):
        inp = val[k:k + cfg.seq_len]
        tgt = val[k + 1:k + cfg.seq_len + 1]
        inp = inp[:len(tgt)]
        logits, _ = ref.forward(cfg, weights, inp)
        total += float(F.cross_entropy(logits, tgt, reduction="sum"))
        count += len(tgt)
    assert count == len(val) - 1
    return total / count


def verify_export(path, model, window):
    """reference.forward on the exported file must match the training module."""
    cfg, weights = ref.load_checkpoint(path)
    ref_logits, trace = ref.forward(cfg, weights, window)    # float64 [T, vocab]
    with torch.no_grad():
        ours32 = model(window[None])[0].double()
        model64 = TinyLM(cfg, 0).double()
        model64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        ours64 = model64(window[None])[0]
    d32 = float((ours32 - ref_logits).abs().max())
    d64 = float((ours64 - ref_logits).abs().max())
    if not (d32 <= 1e-4 and d64 <= 1e-9):
        raise SystemExit(f"EXPORT CHECK FAILED for {path}: max |logit diff| float32 {d32:.3g} "
                         f"(limit 1e-4), float64 {d64:.3g} (limit 1e-9)")
    return cfg, weights, trace, d32, d64


def alpha_summary(cfg, trace):
    """Mean depth weights per row (sublayer 0..L-1, output L) over the window's positions."""
    rows = []
    for l, n in enumerate(trace["alpha_count"].tolist()):
        rows.append([round(float(a), 4) for a in trace["alpha"][:, l, :n].mean(dim=0)])
    return rows


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

def make_optimizer(model, lr, weight_decay):
    """AdamW, betas (0.9, 0.95), eps 1e-8; weight decay on the matrices only."""
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def train_step(model, opt, chunk, lr):
    """One step on chunk [B, T+1] (inputs and next-byte targets) at learning
    rate lr: mean cross-entropy, backward, clip at global norm 1, AdamW.
    Returns the loss (before the step). tools/make_train_golden.py runs
    this very function, so the C trainer is checked against it."""
    logits = model(chunk[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, model.cfg.vocab_size), chunk[:, 1:].reshape(-1))
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def train_one(mode, args, train, val):
    cfg = make_config(mode)
    cfg.validate()
    torch.manual_seed(args.seed)
    model = TinyLM(cfg, args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    opt = make_optimizer(model, args.lr, args.weight_decay)
    data_gen = torch.Generator().manual_seed(args.seed)
    T = args.window
    print(f"[{mode}] {cfg.residual} S={cfg.block_size} N={cfg.n_blocks}: {n_params} parameters, "
          f"{args.steps} steps of {args.batch} x {T} bytes", flush=True)

    t0 = time.time()
    recent = []
    for step in range(args.steps):
        starts = torch.randint(0, len(train) - T - 1, (args.batch,), generator=data_gen)
        idx = starts[:, None] + torch.arange(T + 1)[None, :]  # [B, T+1]
        loss = train_step(model, opt, train[idx], lr_at(step, args.steps, args.lr, args.warmup))
        recent = (recent + [float(loss)])[-args.log_every:]
        if (step + 1) % args.log_every == 0 or step == 0 or step + 1 == args.steps:
            print(f"[{mode}] step {step + 1:5d}/{args.steps}  loss {float(loss):.4f}  "
                  f"(mean of last {len(recent)}: {sum(recent) / len(recent):.4f})  "
                  f"{time.time() - t0:6.1f} s", flush=True)
    wall = time.time() - t0

    path = os.path.join(args.out, f"{mode}.safetensors")
    ref.save_checkpoint(path, cfg, model.named_weights())
    cfg_r, weights_r, trace, d32, d64 = verify_export(path, model, val[:cfg.seq_len])
    print(f"[{mode}] wrote {path}; reference.forward matches the module: "
          f"max |diff| {d32:.2e} (float32 module), {d64:.2e} (float64 module)", flush=True)
    vloss = val_loss_reference(cfg_r, weights_r, val)
    print(f"[{mode}] validation loss {vloss:.4f} nats/byte ({vloss / math.log(2):.4f} bits/byte), "
          f"train wall time {wall:.0f} s", flush=True)
    entry = {"mode": mode, "residual": cfg.residual, "block_size": cfg.block_size,
             "n_blocks": cfg.n_blocks, "params": n_params, "steps": args.steps,
             "batch": args.batch, "window": T, "lr": args.lr, "seed": args.seed,
             "threads": args.threads, "train_wall_s": round(wall, 1),
             "final_train_loss": round(sum(recent) / len(recent), 4),
             "final_train_loss_steps": len(recent),
             "val_loss_nats_per_byte": round(vloss, 4),
             "val_bits_per_byte": round(vloss / math.log(2), 4),
             "export_max_abs_diff_f32": d32}
    if cfg.residual == "attnres":
        entry["alpha_mean_first_val_window"] = alpha_summary(cfg_r, trace)
        for l, row in enumerate(entry["alpha_mean_first_val_window"]):
            label = "output" if l == cfg.n_sublayers else f"sublayer {l}"
            print(f"[{mode}]   alpha {label:11s}: " + " ".join(f"{a:.3f}" for a in row))
    return entry


def module_val_loss(model, val, seq_len):
    """Mean next-byte cross-entropy of the float32 module over val, in
    non-overlapping seq_len windows (as val_loss_reference, without float64)."""
    total, count = 0.0, 0
    with torch.no_grad():
        for k in range(0, len(val) - 1, seq_len):
            tgt = val[k + 1:k + seq_len + 1]
            logits = model(val[k:k + len(tgt)][None])[0]
            total += float(F.cross_entropy(logits, tgt, reduction="sum"))
            count += len(tgt)
    return total / count


def train_depth_only(args, train, val):
    """--from-converted: only the pseudo-queries and key gains learn."""
    try:
        cfg, weights = ref.load_checkpoint(args.from_converted)
    except (ValueError, OSError) as e:   # st.FormatError is a ValueError
        msg = str(e)
        raise SystemExit(msg if args.from_converted in msg else f"{args.from_converted}: {msg}") from None
    if cfg.residual != "attnres" or cfg.vocab_size != 256:
        raise SystemExit(f"{args.from_converted}: needs a byte-level (vocab 256) AttnRes checkpoint, e.g. "
                         "tools/import_model.py --to-attnres models/standard.safetensors; "
                         f"this one is {cfg.residual}, vocab {cfg.vocab_size}")
    torch.manual_seed(args.seed)
    model = TinyLM(cfg, args.seed)
    depth = []
    for name, t in weights.items():
        param = model.w(name)
        with torch.no_grad():
            param.copy_(t)
        param.requires_grad_(name.endswith(("pseudo_query", "key_norm.weight")))
        if param.requires_grad:
            depth.append(param)
    opt = torch.optim.AdamW(depth, lr=args.lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
    val = val[:args.val_bytes] if args.val_bytes else val
    before = module_val_loss(model, val, cfg.seq_len)
    data_gen = torch.Generator().manual_seed(args.seed)
    T = args.window
    print(f"[depth-only] {args.from_converted}: S={cfg.block_size}, {sum(p.numel() for p in depth)} trainable "
          f"(pseudo-queries, key gains) of {sum(p.numel() for p in model.parameters())}; "
          f"val loss before {before:.4f} nats/byte", flush=True)
    for step in range(args.steps):
        starts = torch.randint(0, len(train) - T - 1, (args.batch,), generator=data_gen)
        chunk = train[starts[:, None] + torch.arange(T + 1)[None, :]]
        loss = F.cross_entropy(model(chunk[:, :-1]).reshape(-1, cfg.vocab_size), chunk[:, 1:].reshape(-1))
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, min(args.warmup, args.steps))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(depth, 1.0)
        opt.step()
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            print(f"[depth-only] step {step + 1:5d}/{args.steps}  loss {float(loss):.4f}", flush=True)
    after = module_val_loss(model, val, cfg.seq_len)
    path = os.path.join(args.out, os.path.basename(args.from_converted).replace(".safetensors", "") +
                        ".depth-trained.safetensors")
    ref.save_checkpoint(path, cfg, model.named_weights())
    frozen = sum(1 for n, t in ref.load_checkpoint(path)[1].items()
                 if not n.endswith(("pseudo_query", "key_norm.weight")) and not torch.equal(t, weights[n]))
    if frozen:
        raise SystemExit(f"{frozen} frozen tensors changed: a bug")
    print(f"[depth-only] wrote {path}; val loss {before:.4f} -> {after:.4f} nats/byte "
          f"over {len(val)} bytes; every other tensor unchanged", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--mode", choices=sorted(MODES), help="train one model")
    which.add_argument("--all", action="store_true", help="train all three, one after another")
    which.add_argument("--from-converted", metavar="CKPT",
                       help="train only the pseudo-queries and key gains of a converted AttnRes checkpoint")
    ap.add_argument("--out", default="models", help="directory for <mode>.safetensors and train_log.json")
    ap.add_argument("--corpus", default="models", help="directory of corpus_train.txt / corpus_val.txt")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--window", type=int, default=256, help="training window in bytes (<= seq_len)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--val-bytes", type=int, default=0, help="--from-converted: validate on this many bytes (0: all)")
    args = ap.parse_args()
    if not 1 <= args.window <= 256:
        ap.error("--window must be in [1, seq_len = 256]")

    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    train = read_bytes(os.path.join(args.corpus, "corpus_train.txt"))
    val = read_bytes(os.path.join(args.corpus, "corpus_val.txt"))

    if args.from_converted:
        train_depth_only(args, train, val)
        return
    log_path = os.path.join(args.out, "train_log.json")
    log = {}
    if os.path.exists(log_path):
        with open(log_path) as f:
            log = json.load(f)
    for mode in (["standard", "block", "full"] if args.all else [args.mode]):
        log[mode] = train_one(mode, args, train, val)
        with open(log_path, "w") as f:
            json.dump(log, f, indent=1)
            f.write("\n")
    print(f"wrote {log_path}")
    print(f"{'mode':9s} {'params':>8s} {'steps':>6s} {'time s':>7s} {'train':>7s} {'val':>7s}")
    for mode in ("standard", "block", "full"):
        if mode in log:
            e = log[mode]
            print(f"{mode:9s} {e['params']:8d} {e['steps']:6d} {e['train_wall_s']:7.0f} "
                  f"{e['final_train_loss']:7.4f} {e['val_loss_nats_per_byte']:7.4f}")


if __name__ == "__main__":
    main()
