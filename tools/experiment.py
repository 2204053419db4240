"""The laboratory's experiment: when does AttnRes help? One training entry
point, sweeps over depth / residual mode / seed, the paper's ablations and
diagnostics, and the report (summary.json, a mean +- std table, PNG plots).

    # one run (also under torchrun: see "Several processes" below)
    /usr/bin/python3 tools/experiment.py run --corpus kjv --n-layers 8 --residual attnres \\
        --blocks 4 --seed 0 --steps 300 --out build/experiments/one.json
    # a planned sweep (resumable: runs whose JSON exists are skipped), then its report
    /usr/bin/python3 tools/experiment.py sweep --plan quick --out build/experiments/quick
    /usr/bin/python3 tools/experiment.py report build/experiments/quick
    # the same on the C trainer, no PyTorch needed (after make)
    python3 tools/experiment.py sweep --plan quick --engine c --out build/experiments/quick-c
    # C parity fixture for a saved model: PyTorch float64 logits on a text
    /usr/bin/python3 tools/experiment.py expect MODEL.safetensors TEXT --out MODEL.expect.safetensors

The model is the one of tools/reference.py (the contract), trained with the
batched float32 module of tools/train.py (TinyLM, imported, not copied): byte
tokens (vocab 256), tied embeddings, pre-norm attention + SwiGLU sublayers,
L = 2 * n_layers sublayers. Init, optimiser and schedule are train.py's:
every tensor from its own generator seeded by (seed, tensor name), so all
modes share their common tensors at a given seed; AdamW (0.9, 0.95), weight
decay 0.1 on matrices, linear warmup then cosine decay to lr/10, gradient
clipping at 1. The training windows are drawn from a generator seeded with
--seed alone, so every mode and depth sees the same bytes in the same order,
and the token budget (steps x batch x window) is the same everywhere.

Residual modes: standard; attnres with --block-size S or --blocks N (S =
ceil(L / N)); S = 1 is Full AttnRes. Depth-attention ablations (--ablation,
attnres only):
  softmax      the paper's AttnRes: alpha = softmax_j(w_l . RMSNorm(v_j; g_l)),
               pseudo-queries w_l initialised at zero (the default)
  static       input-independent learned weights: alpha = softmax(c_l), one
               learned logit per source and sublayer (init 0), no query, no key
  uniform      pseudo-queries frozen at zero: alpha = 1/n, the plain mean
  no_keynorm   logits w_l . (g_l * v_j) on the raw sources (no RMS division)
  random_init  pseudo-queries drawn N(0, 1/dim) instead of zero, so the
               first logits have standard deviation about 1
  eps          every RMSNorm's eps 1e-10 instead of 1e-5 (round 2)
  out_init     output projections wo, w2 initialised with std 0.02, not
               0.02 / sqrt(L): sublayer outputs start as large as the embedding
  query_lr     pseudo-queries trained with 10x the lr (round 2)
Only the default (softmax) and standard models are the C library's models
and can be saved (--save, written with reference.save_checkpoint and checked
against reference.forward in float64 like train.py does).

Logged per run (one JSON): the config and knobs, parameters, wall time, the
train loss of every step, the validation loss at --evals points (on the
first --curve-bytes of the validation text), the final validation loss (on
the first --val-bytes), and at the end, on the first 16 validation windows
with the final weights:
  rms_h[l]     RMS of h_l, the input of sublayer l (the stream for standard,
               the depth-attention mix for AttnRes), and last the vector fed
               to the final RMSNorm
  rms_f[l]     RMS of the sublayer's output f_l
  alpha[l]     mean depth weights of row l (AttnRes; row L is the output)
  grad_norm[l] L2 norm of the gradient of sublayer l's weight matrices
               (wq, wk, wv, wo or w1, w2, w3) before clipping, averaged over
               the last 20% of training steps
Validation loss: mean next-byte cross-entropy (nats/byte) of the float32
module on non-overlapping windows of --window bytes, each from an empty
context (bytes 1..window of every window predicted).

Several processes (DistributedDataParallel): under torchrun the same command
splits every global batch of --batch windows into equal contiguous shares,
one per process. The data generator, the init and the logged (all-reduced)
loss are those of the 1-process run, so the curves agree up to float32
summation order: `make test-ddp` (gloo, CPU). Debian's torchrun 1.13 under
Python 3.11 needs `--redirects 1 --tee 1`. With --device auto (the default)
or cuda, each process takes the GPU of its LOCAL_RANK and the processes talk
over NCCL; every tensor the model makes in forward is made on the weights'
device (checked on the CPU by tools/check_reference.py with the model on
PyTorch's "meta" device). This machine has no GPU, so the GPU path has not
been run here.

On the C trainer (--engine c, for `run` and `sweep`): the same run on
build/default/attnres-train (--c-trainer), without PyTorch. Same model,
optimiser, schedule and token budget; the initial numbers and the windows
come from attnres-train's own generators (train.py's distributions, other
draws); the JSON has the same fields, with rms_h, rms_f, grad_norm and alpha
null and listed in "absent" (attnres-train does not measure them), and
"engine": "c" with "engine_notes" on what else differs; it adds
df_norm_curve: at each validation point, ||dloss/df_l|| (the gradient
reaching every sublayer's output, the paper's dilution with depth) on the
first validation window. Only the softmax and
random_init ablations, no --diagnostics, one process. `make test`'s
test_experiment_c checks it with PyTorch hidden.

Plans (PLANS below; `sweep --plan NAME`): quick (6 runs, L = 8, 16, seed 0),
full (L = 8, 16, 32 x standard / Block N = 4 / Full x 5 seeds, and the four
ablations of Block AttnRes at L = 32 x 3 seeds), long (L = 32, seed 0, 4x
the steps), grammar (the full grid, 3 seeds, on the generated grammar text),
and round2 (docs/experiments/round2/PLAN.md: an lr search per mode, then
1,000-step comparisons at each mode's lr and one-change ablations of Full
AttnRes; staged, so its list of runs is computed from the finished runs, and
its run JSONs go to the directory given by `sweep --runs`). --diagnostics
(round 2) adds RMS(h_l), RMS(f_l) at step 0 and at every evaluation point, and
the gradient norm of every sublayer and every pseudo-query at step 0 and
averaged over each interval between evaluation points.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    import reference as ref  # noqa: E402
    import train as tr  # noqa: E402
    TORCH_MISSING = None
except ImportError as e:      # `run --engine c`, its sweeps and the reports need no PyTorch
    TORCH_MISSING = e

ABLATIONS = ("softmax", "static", "uniform", "no_keynorm", "random_init")  # round 1 (plan "full")
# Round 2's one-change ablations (Full AttnRes hypotheses; see docs/experiments/round2/PLAN.md)
ROUND2_ABLATIONS = ("eps", "out_init", "query_lr")
EPS_ABLATION = 1e-10      # "eps": every RMSNorm's eps, instead of 1e-5
QUERY_LR_MULT = 10.0      # "query_lr": the pseudo-queries' lr multiplier
HERE = os.path.dirname(os.path.abspath(__file__))
CORPORA = {  # name -> (train, val), relative to the repository root
    "kjv": ("build/corpus/kjv/train.txt", "build/corpus/kjv/val.txt"),
    "grammar": ("models/corpus_train.txt", "models/corpus_val.txt"),
}


# --------------------------------------------------------------------------
# The model: train.py's TinyLM plus the ablations and the diagnostics
# --------------------------------------------------------------------------

class ExperimentLM(tr.TinyLM if TORCH_MISSING is None else object):
    """TinyLM (same parameters, same init) with a depth-attention ablation and
    optional recording of RMS(h_l), RMS(f_l) and mean alpha per row."""

    def __init__(self, cfg, seed, ablation="softmax"):
        super().__init__(cfg, seed)
        self.ablation = ablation
        self.record = None
        if cfg.residual != "attnres":
            return
        rows = [ref.res_names(cfg, l) for l in range(cfg.n_sublayers + 1)]
        if ablation == "random_init":
            for q_name, _ in rows:
                g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(q_name.encode()) + 1)
                with torch.no_grad():
                    self.w(q_name).copy_(torch.randn(cfg.dim, generator=g) / math.sqrt(cfg.dim))
        if ablation == "out_init":                   # undo the 1/sqrt(L) of train.py's init
            with torch.no_grad():
                for name, _ in ref.tensor_names_and_shapes(cfg):
                    if name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
                        self.w(name).mul_(math.sqrt(cfg.n_sublayers))
        if ablation in ("uniform", "static"):
            for q_name, g_name in rows:              # frozen: pseudo-query 0, gain 1
                self.w(q_name).requires_grad_(False)
                self.w(g_name).requires_grad_(False)
        if ablation == "static":
            for l in range(cfg.n_sublayers + 1):
                n = ref.n_sources(cfg, l)
                self.register_parameter(f"static_logits__{l}", torch.nn.Parameter(torch.zeros(n)))

    def depth_attention(self, l, values, normed):
        """As TinyLM.depth_attention, plus the ablations, but values and normed
        are LISTS of n_src tensors [B, T, dim] (the sources and their key RMSNorm
        without gain): the logits are n_src matrix-vector products and the mix a
        sum of n_src scaled tensors, so the sources are never copied into one
        [n_src, B, T, dim] stack (3x less memory traffic for Full AttnRes at
        L = 32 on a CPU). Returns h [B, T, dim], alpha [n_src, B, T]."""
        q_name, g_name = ref.res_names(self.cfg, l)
        if self.ablation == "static":
            c = getattr(self, f"static_logits__{l}")
            logits = c[:, None, None].expand(len(values), *values[0].shape[:2])
        else:
            qg = self.w(g_name) * self.w(q_name)                  # (normed_j * g) . w = normed_j . (g * w)
            keys = values if self.ablation == "no_keynorm" else normed
            logits = torch.stack([k @ qg for k in keys])           # [n_src, B, T]
        alpha = torch.softmax(logits, dim=0)
        h = alpha[0].unsqueeze(-1) * values[0]
        for j in range(1, len(values)):
            h = h + alpha[j].unsqueeze(-1) * values[j]             # [B, T, dim]
        if self.record is not None:
            self.record["alpha"][l] = alpha.detach().mean(dim=(1, 2)).tolist()
            if l == self.cfg.n_sublayers:
                self.record["rms_h"][l] = _rms(h)
        return h, alpha

    def sublayer(self, l, h, cos, sin):
        f = super().sublayer(l, h, cos, sin)
        if self.record is not None:
            self.record["rms_h"][l] = _rms(h)
            self.record["rms_f"][l] = _rms(f)
            if self.cfg.residual == "standard" and l == self.cfg.n_sublayers - 1:
                self.record["rms_h"][l + 1] = _rms(h + f)      # into the final norm
        return f


    def forward(self, tokens):
        """TinyLM.forward with the sources kept as lists (see depth_attention)."""
        c = self.cfg
        if c.residual == "standard":
            return super().forward(tokens)
        B, T = tokens.shape
        x = F.embedding(tokens, self.w("tok_embeddings.weight"))  # [B, T, dim]
        cos, sin = tr.rope_tables(T, c.head_dim, c.rope_theta, x.dtype, x.device)
        ones = torch.ones(c.dim, dtype=x.dtype, device=x.device)
        L = c.n_sublayers
        blocks, normed, partial = [x], [tr.rmsnorm(x, ones, c.norm_eps)], None   # b0 = embedding
        for l in range(L):
            if partial is None:
                h, _ = self.depth_attention(l, blocks, normed)
            else:
                h, _ = self.depth_attention(l, blocks + [partial], normed + [tr.rmsnorm(partial, ones, c.norm_eps)])
            f = self.sublayer(l, h, cos, sin)
            partial = f if partial is None else partial + f
            if (l + 1) % c.block_size == 0 or l == L - 1:          # block complete
                blocks.append(partial)
                normed.append(tr.rmsnorm(partial, ones, c.norm_eps))
                partial = None
        out_h, _ = self.depth_attention(L, blocks, normed)
        hn = tr.rmsnorm(out_h, self.w("norm.weight"), c.norm_eps)
        return hn @ self.w("tok_embeddings.weight").T              # tied embeddings  [B, T, vocab]


def _rms(x):
    """Mean over positions of RMS over the last axis."""
    return float(x.detach().double().pow(2).mean(dim=-1).sqrt().mean())


def profile(model, windows):
    """RMS(h_l), RMS(f_l) of every sublayer and mean alpha of every row, from a
    forward pass without gradients over windows [n, T+1] (their first T bytes)."""
    L = model.cfg.n_sublayers
    model.record = {"rms_h": [0.0] * (L + 1), "rms_f": [0.0] * L, "alpha": [None] * (L + 1)}
    with torch.no_grad():
        model(windows[:, :-1])
    rec, model.record = model.record, None
    return rec


def pseudo_queries(model):
    """[L + 1] pseudo-query parameters w_l (row L: the output), or None for
    standard residuals and for ablations that freeze them."""
    c = model.cfg
    if c.residual != "attnres":
        return None
    qs = [model.w(ref.res_names(c, l)[0]) for l in range(c.n_sublayers + 1)]
    return qs if all(q.requires_grad for q in qs) else None


def grad_norms(groups):
    """L2 norm of the gradients of each list of tensors (the joint norm of a list)."""
    return [math.sqrt(sum(float(t.grad.double().pow(2).sum()) for t in ts)) for ts in groups]


def blas_libraries():
    """File names of the BLAS/LAPACK libraries this process has loaded (Linux)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() or "lapack" in line.lower()}
        return sorted({os.path.basename(os.path.realpath(p)) for p in paths if p.startswith("/")})
    except OSError:
        return []


def sublayer_matrices(model):
    """[L] lists of the weight matrices of every sublayer's f_l."""
    out = []
    for l in range(model.cfg.n_sublayers):
        p = f"layers.{l // 2}."
        names = ["attention.wq", "attention.wk", "attention.wv", "attention.wo"] if l % 2 == 0 else \
                ["feed_forward.w1", "feed_forward.w2", "feed_forward.w3"]
        out.append([model.w(p + n + ".weight") for n in names])
    return out


# --------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------

def make_config(a):
    L = 2 * a.n_layers
    if a.residual == "standard":
        S = 0
    elif a.block_size:
        S = a.block_size
    else:
        S = -(-L // a.blocks)
    cfg = ref.Config(dim=a.dim, hidden_dim=a.hidden_dim, n_layers=a.n_layers, n_heads=a.heads,
                     n_kv_heads=a.kv_heads, vocab_size=256, seq_len=a.window, rope_theta=10000.0,
                     norm_eps=EPS_ABLATION if a.ablation == "eps" else 1e-5, tie_embeddings=True,
                     residual=a.residual, block_size=S)
    cfg.validate()
    return cfg


def val_windows(val, T, n_bytes):
    """Non-overlapping windows [n, T+1] over the first n_bytes of val."""
    data = val[:n_bytes]
    n = (len(data) - 1) // T
    idx = torch.arange(n)[:, None] * T + torch.arange(T + 1)[None, :]
    return data[idx]


def evaluate(model, windows, rank, world, device, batch=64):
    """Mean cross-entropy (nats/byte) over windows [n, T+1], split over ranks."""
    mine = windows[rank::world]
    total = torch.zeros(1, dtype=torch.float64, device=device)   # on the device: NCCL
    count = torch.zeros(1, dtype=torch.float64, device=device)   # reduces CUDA tensors only
    with torch.no_grad():
        for k in range(0, len(mine), batch):
            chunk = mine[k:k + batch].to(device)
            logits = model(chunk[:, :-1])
            total += float(F.cross_entropy(logits.reshape(-1, 256), chunk[:, 1:].reshape(-1), reduction="sum"))
            count += chunk[:, 1:].numel()
    if world > 1:
        dist.all_reduce(total)
        dist.all_reduce(count)
    return float(total / count)


def pick_device(choice):
    """--device: cpu, or this process's GPU (cuda:LOCAL_RANK under torchrun)."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SystemExit("--device cuda: PyTorch sees no CUDA device here (use --device cpu)")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if local >= torch.cuda.device_count():
        raise SystemExit(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s)")
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


def run_record(a, residual, block_size, n_blocks, L, B, T, *, processes, device, params, wall, val_loss,
               val_bytes, train_curve, val_curve):
    """The fields every run's JSON has, from either engine, in this order."""
    return {
        "corpus": a.corpus, "n_layers": L, "layers": a.n_layers, "residual": residual,
        "mode": "standard" if residual == "standard" else ("full" if block_size == 1 else "block"),
        "block_size": block_size, "n_blocks": n_blocks,
        "ablation": a.ablation if residual == "attnres" else None, "seed": a.seed,
        "dim": a.dim, "hidden_dim": a.hidden_dim, "heads": a.heads, "kv_heads": a.kv_heads,
        "steps": a.steps, "batch": B, "window": T, "tokens": a.steps * B * T, "lr": a.lr,
        "warmup": a.warmup, "weight_decay": a.weight_decay, "processes": processes, "threads": a.threads,
        "device": device, "params": params, "train_wall_s": round(wall, 1),
        "val_loss": round(val_loss, 6), "val_bytes": val_bytes,
        "final_train_loss": round(sum(train_curve[-20:]) / len(train_curve[-20:]), 6),
        "train_curve": train_curve, "val_curve": val_curve,
    }


def write_record(path, result):
    """result as PATH's JSON, whole or not at all, with the commit of the tools
    (a sweep passes the commit it snapshotted; HEAD may have moved since)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    result["commit"] = os.environ.get("EXPERIMENT_TOOLS_COMMIT") or git_commit()
    with open(path + ".tmp", "w") as f:
        json.dump(result, f)
        f.write("\n")
    os.replace(path + ".tmp", path)


def run(a):
    if a.engine == "c":
        return run_c(a)
    if TORCH_MISSING is not None:
        raise SystemExit(f"PyTorch is needed for --engine torch ({TORCH_MISSING}); --engine c runs on the C trainer")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(a.device)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    torch.set_num_threads(a.threads)
    if a.batch % world:
        raise SystemExit(f"--batch {a.batch} must be a multiple of the number of processes ({world})")
    train_path, val_path = CORPORA[a.corpus] if a.corpus in CORPORA else a.corpus.split(",")
    if not os.path.exists(train_path):
        hint = " (make it with: /usr/bin/python3 tools/text_corpus.py)" if a.corpus == "kjv" else ""
        raise SystemExit(f"missing corpus {train_path}{hint}")
    train, val = tr.read_bytes(train_path), tr.read_bytes(val_path)
    cfg = make_config(a)
    if a.ablation != "softmax" and cfg.residual != "attnres":
        raise SystemExit("--ablation applies to --residual attnres only")
    L, T, B = cfg.n_sublayers, a.window, a.batch

    torch.manual_seed(a.seed)
    model = ExperimentLM(cfg, a.seed, a.ablation).to(device)   # init on the CPU: same on every device
    n_params = sum(p.numel() for p in model.parameters())
    params = [p for p in model.parameters() if p.requires_grad]
    queries = pseudo_queries(model)
    fast = {id(q) for q in queries} if a.ablation == "query_lr" and queries else set()
    groups = [{"params": [p for p in params if p.dim() == 2], "weight_decay": a.weight_decay},
              {"params": [p for p in params if p.dim() < 2 and id(p) not in fast], "weight_decay": 0.0}]
    if fast:                                   # "query_lr": the pseudo-queries in a group of their own
        groups.append({"params": [q for q in queries], "weight_decay": 0.0, "lr_mult": QUERY_LR_MULT})
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    if world == 1:
        net = model
    elif device.type == "cuda":
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    else:
        net = torch.nn.parallel.DistributedDataParallel(model)
    data_gen = torch.Generator().manual_seed(a.seed)
    curve_w, val_w = val_windows(val, T, a.curve_bytes), val_windows(val, T, a.val_bytes)
    eval_steps = sorted({round(a.steps * k / a.evals) for k in range(1, a.evals + 1)})
    mats = sublayer_matrices(model)
    grad_sum, grad_n = [0.0] * L, 0
    # --diagnostics: profiles at step 0 and at every evaluation point; gradient norms of every
    # sublayer's matrices and of every pseudo-query at step 0 and averaged over each interval
    diag_w = val_w[:16].to(device)
    profiles = [dict(step=0, **_rounded(profile(model, diag_w)))] if a.diagnostics else None
    grad_rows = ([list(ms) for ms in mats] + [[q] for q in queries or []]) if a.diagnostics else []
    interval_sum, interval_n, grad_profiles = [0.0] * len(grad_rows), 0, []
    tag = (f"[standard L={L} seed {a.seed}]" if cfg.residual == "standard" else
           f"[attnres L={L} S={cfg.block_size} {a.ablation} seed {a.seed}]")
    if rank == 0:
        print(f"{tag} {n_params} parameters, {a.steps} steps of {B} x {T} bytes, {world} process(es)", flush=True)

    train_curve, val_curve, t0 = [], [], time.time()
    share = B // world
    for step in range(a.steps):
        starts = torch.randint(0, len(train) - T - 1, (B,), generator=data_gen)
        starts = starts[rank * share:(rank + 1) * share]          # this process's share
        chunk = train[starts[:, None] + torch.arange(T + 1)[None, :]].to(device)
        logits = net(chunk[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 256), chunk[:, 1:].reshape(-1))
        for group in opt.param_groups:
            group["lr"] = tr.lr_at(step, a.steps, a.lr, a.warmup) * group.get("lr_mult", 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()                       # DDP: gradients averaged over processes here
        if grad_rows:
            norms = grad_norms(grad_rows)
            if step == 0:
                grad_profiles.append(_grad_entry(0, norms, 1, L))
            interval_sum = [x + y for x, y in zip(interval_sum, norms)]
            interval_n += 1
        if step >= a.steps - max(1, a.steps // 5):
            with torch.no_grad():
                for l, ms in enumerate(mats):
                    grad_sum[l] += math.sqrt(sum(float(m.grad.double().pow(2).sum()) for m in ms))
            grad_n += 1
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        lv = loss.detach().clone()
        if world > 1:
            dist.all_reduce(lv)
            lv /= world
        train_curve.append(round(float(lv), 6))
        if step + 1 in eval_steps:
            v = evaluate(model, curve_w, rank, world, device)
            val_curve.append([step + 1, round(v, 6)])
            if a.diagnostics:
                profiles.append(dict(step=step + 1, **_rounded(profile(model, diag_w))))
                grad_profiles.append(_grad_entry(step + 1, interval_sum, interval_n, L))
                interval_sum, interval_n = [0.0] * len(grad_rows), 0
            if rank == 0:
                print(f"{tag} step {step + 1}/{a.steps} train {float(lv):.4f} val {v:.4f} "
                      f"{time.time() - t0:.0f} s", flush=True)
    wall = time.time() - t0
    val_loss = evaluate(model, val_w, rank, world, device)

    rec = profile(model, val_w[:16].to(device))
    result = run_record(a, cfg.residual, cfg.block_size, cfg.n_blocks, L, B, T, processes=world, device=device.type,
                        params=n_params, wall=wall, val_loss=val_loss, val_bytes=int(val_w[:, 1:].numel()),
                        train_curve=train_curve, val_curve=val_curve)
    result.update({
        "rms_h": [round(x, 6) for x in rec["rms_h"]], "rms_f": [round(x, 6) for x in rec["rms_f"]],
        "grad_norm": [round(g / max(1, grad_n), 8) for g in grad_sum],
        "alpha": [[round(x, 5) for x in row] for row in rec["alpha"]] if cfg.residual == "attnres" else None,
    })
    if a.diagnostics:
        result.update(norm_eps=cfg.norm_eps, blas=blas_libraries(), profiles=profiles, grad_profiles=grad_profiles,
                      diagnostics_windows=int(diag_w.shape[0]))
        if a.ablation == "query_lr":
            result["query_lr_mult"] = QUERY_LR_MULT
    if rank == 0:
        print(f"{tag} val loss {val_loss:.4f} nats/byte, {wall:.0f} s", flush=True)
        if a.save:
            if a.ablation != "softmax":
                raise SystemExit("--save: only standard and softmax AttnRes models are C library models")
            model.to("cpu")                  # the export check runs the reference on the CPU
            ref.save_checkpoint(a.save, cfg, model.named_weights())
            _, _, _, d32, d64 = tr.verify_export(a.save, model, val[:T])
            result["export_max_abs_diff_f32"] = d32
            print(f"{tag} wrote {a.save}; reference.forward matches: max |diff| {d32:.2e} (float32), "
                  f"{d64:.2e} (float64)", flush=True)
        if a.out:
            write_record(a.out, result)
    if world > 1:
        dist.destroy_process_group()
    return result


# --------------------------------------------------------------------------
# One run on the C trainer (--engine c): no PyTorch
# --------------------------------------------------------------------------

C_TRAINER = os.path.join(os.path.dirname(HERE), "build", "default", "attnres-train")
# what a PyTorch run records that attnres-train does not measure: null in the JSON, named in "absent"
C_ABSENT = ("rms_h", "rms_f", "grad_norm", "alpha")
C_ABLATIONS = {"softmax": "zero", "random_init": "random"}     # ablation -> --init-queries


def c_command(a, cfg, train_path, val_path, out_path):
    """attnres-train's command line for this run: the model and training
    options of `run`, every step's loss logged, validation every
    steps/evals steps on the first --val-bytes of the validation text."""
    every = max(1, a.steps // a.evals)
    cmd = [a.c_trainer, train_path, "--val", val_path, "--val-bytes", str(a.val_bytes), "-o", out_path,
           "--dim", str(a.dim), "--hidden-dim", str(a.hidden_dim), "--layers", str(a.n_layers),
           "--heads", str(a.heads), "--kv-heads", str(a.kv_heads), "--seq-len", str(a.window),
           "--residual", cfg.residual, "--steps", str(a.steps), "--batch", str(a.batch),
           "--window", str(a.window), "--lr", repr(a.lr), "--warmup", str(a.warmup),
           "--weight-decay", repr(a.weight_decay), "--seed", str(a.seed), "--log-every", "1",
           "--eval-every", str(every), "--init-queries", C_ABLATIONS[a.ablation]]
    if cfg.residual == "attnres":
        cmd += ["--block-size", str(cfg.block_size)]
    return cmd


def parse_c_log(text):
    """From attnres-train's stderr: parameters, the loss of every step, the
    validation points and the final validation loss with its byte count."""
    import re
    params = re.search(r"(\d+) parameters;", text)
    steps = [(int(m.group(1)), float(m.group(2)))
             for m in re.finditer(r"^step\s+(\d+)/\d+\s+loss (\S+)", text, re.M)]
    evals = [[int(m.group(1)), float(m.group(2))]
             for m in re.finditer(r"^step\s+(\d+)/\d+\s+validation loss (\S+)", text, re.M)]
    final = re.search(r"^attnres-train: validation loss (\S+) nats/byte .* over (\d+) bytes", text, re.M)
    df = [[int(m.group(1)), [float(x) for x in m.group(2).split()]]
          for m in re.finditer(r"^step\s+(\d+)/\d+\s+\|\|dloss/df_l\|\|.*?: (.*)$", text, re.M)]
    if not params or not final:
        raise SystemExit("attnres-train's output has no parameter count or final validation line:\n" + text[-2000:])
    return int(params.group(1)), steps, evals, float(final.group(1)), int(final.group(2)), df


def run_c(a):
    """`run` on the C trainer: the same model, optimiser, schedule and token
    budget, the same JSON fields where attnres-train measures them. What
    differs is said in the JSON ("engine_notes"): the initial numbers and
    the windows come from attnres-train's own generators (the same
    distributions, other draws), every validation point is on the first
    --val-bytes (PyTorch's curve uses --curve-bytes), and the diagnostics of
    C_ABSENT are null."""
    import tempfile
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise SystemExit("--engine c: one process (attnres-train is not distributed)")
    if a.ablation not in C_ABLATIONS:
        raise SystemExit(f"--engine c: ablation {a.ablation} is not in the C trainer (it has "
                         f"{', '.join(C_ABLATIONS)})")
    if a.diagnostics:
        raise SystemExit("--engine c: --diagnostics (RMS profiles, per-interval gradient norms) are PyTorch's only")
    if not os.access(a.c_trainer, os.X_OK):
        raise SystemExit(f"--engine c: no trainer at {a.c_trainer} (build it with make)")
    train_path, val_path = CORPORA[a.corpus] if a.corpus in CORPORA else a.corpus.split(",")
    if not os.path.exists(train_path):
        hint = " (make it with: /usr/bin/python3 tools/text_corpus.py)" if a.corpus == "kjv" else ""
        raise SystemExit(f"missing corpus {train_path}{hint}")
    cfg = make_c_config(a)
    L, T, B = 2 * a.n_layers, a.window, a.batch
    tag = f"[C {cfg.residual} L={L}" + (f" S={cfg.block_size}" if cfg.residual == "attnres" else "") + f" seed {a.seed}]"
    with tempfile.TemporaryDirectory() as tmp:
        out_path = a.save or os.path.join(tmp, "model.safetensors")
        cmd = c_command(a, cfg, train_path, val_path, out_path)
        print(f"{tag} {' '.join(cmd)}", flush=True)
        t0 = time.time()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, OMP_NUM_THREADS=str(a.threads)))
        wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{tag} attnres-train failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    n_params, steps, evals, val_loss, n_val, df_norm = parse_c_log(proc.stderr)
    if [s for s, _ in steps] != list(range(1, a.steps + 1)):
        raise SystemExit(f"{tag} attnres-train logged {len(steps)} of {a.steps} steps")
    train_curve = [v for _, v in steps]
    result = run_record(a, cfg.residual, cfg.block_size, -(-L // cfg.block_size) if cfg.block_size else 0, L, B, T,
                        processes=1, device="cpu", params=n_params, wall=wall, val_loss=val_loss,
                        val_bytes=n_val - 1, train_curve=train_curve,
                        val_curve=evals + [[a.steps, round(val_loss, 6)]])
    result.update({
        **{k: None for k in C_ABSENT},
        # C only: ||dloss/df_l|| of every sublayer output on the first validation window, at each val_curve step
        "df_norm_curve": df_norm,
        "engine": "c", "trainer": os.path.relpath(a.c_trainer),
        "absent": list(C_ABSENT),
        "engine_notes": ["initial weights and windows from attnres-train's generators (train.py's "
                         "distributions, other numbers than torch's)",
                         "losses as attnres-train prints them: 4 decimals",
                         f"val_curve on the first {a.val_bytes} validation bytes (not --curve-bytes), the last "
                         "point the final validation loss",
                         "validation windows of --window bytes, the last one shorter (PyTorch drops it)",
                         "train_wall_s includes the validation passes"],
    })
    print(f"{tag} val loss {val_loss:.4f} nats/byte, {wall:.0f} s", flush=True)
    if a.save:
        print(f"{tag} wrote {a.save}", flush=True)
    if a.out:
        write_record(a.out, result)
    return result


class _CConfig:
    """The few config fields run_c needs (reference.Config needs PyTorch's module)."""
    def __init__(self, residual, block_size):
        self.residual, self.block_size = residual, block_size


def make_c_config(a):
    """make_config's residual and S, without PyTorch."""
    L = 2 * a.n_layers
    if a.residual == "standard":
        return _CConfig("standard", 0)
    return _CConfig("attnres", a.block_size or -(-L // a.blocks))


def _rounded(rec):
    """A profile() record with its floats rounded for the JSON (alpha dropped: it is kept at the end only)."""
    return {"rms_h": [round(x, 7) for x in rec["rms_h"]], "rms_f": [round(x, 7) for x in rec["rms_f"]]}


def _grad_entry(step, sums, n, L):
    """Mean gradient norms over n steps ending at `step`: the first L entries are the
    sublayers' matrices, any further ones the pseudo-queries (rows 0..L)."""
    means = [x / max(1, n) for x in sums]
    return {"step": step, "steps_averaged": n, "sublayer": [round(x, 8) for x in means[:L]],
            "pseudo_query": [round(x, 8) for x in means[L:]] or None}


def add_run_args(ap):
    ap.add_argument("--corpus", default="kjv", help="kjv | grammar | TRAIN,VAL (paths)")
    ap.add_argument("--n-layers", type=int, default=4, help="layers (L = 2 x this sublayers)")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--hidden-dim", type=int, default=168)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--residual", choices=("standard", "attnres"), default="standard")
    ap.add_argument("--block-size", type=int, default=0, help="S in sublayers (1 = Full AttnRes)")
    ap.add_argument("--blocks", type=int, default=4, help="N blocks (S = ceil(L/N)) if no --block-size")
    ap.add_argument("--ablation", choices=ABLATIONS + ROUND2_ABLATIONS, default="softmax")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=32, help="global batch (windows per step)")
    ap.add_argument("--window", type=int, default=64, help="bytes per window (= the model's seq_len)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--evals", type=int, default=8, help="validation points on the curve")
    ap.add_argument("--curve-bytes", type=int, default=16384)
    ap.add_argument("--val-bytes", type=int, default=65536)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--diagnostics", action="store_true",
                    help="also record RMS profiles at step 0 and every evaluation, and per-interval gradient "
                         "norms of every sublayer and pseudo-query (round 2)")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="auto: a GPU if PyTorch sees one (one per process under torchrun), else the CPU")
    ap.add_argument("--save", help="write the trained model here (standard / softmax AttnRes only)")
    ap.add_argument("--out", help="the run's JSON")
    ap.add_argument("--engine", choices=("torch", "c"), default="torch",
                    help="torch: PyTorch (train.py's module); c: the C trainer attnres-train (no PyTorch "
                         "needed; no --diagnostics, no ablations but random_init; see run_c)")
    ap.add_argument("--c-trainer", default=C_TRAINER, help="--engine c: the attnres-train program")


# --------------------------------------------------------------------------
# Sweeps: planned lists of runs, run as subprocesses, resumable
# --------------------------------------------------------------------------

# Shared by every run of a plan: the model width and the token budget.
PLANS = {
    "quick": {"corpus": "kjv", "depths": (8, 16), "seeds": (0,), "ablation_seeds": (),
              "dim": 48, "hidden_dim": 128, "steps": 150, "batch": 32, "window": 64, "warmup": 15},
    "full": {"corpus": "kjv", "depths": (8, 16, 32), "seeds": (0, 1, 2, 3, 4), "ablation_seeds": (0, 1, 2),
             "dim": 48, "hidden_dim": 128, "steps": 150, "batch": 32, "window": 64, "warmup": 15},
    # the grid of "full" on the generated grammar text of the shipped models (3 seeds, no ablations)
    "grammar": {"corpus": "grammar", "depths": (8, 16, 32), "seeds": (0, 1, 2), "ablation_seeds": (),
                "dim": 48, "hidden_dim": 128, "steps": 150, "batch": 32, "window": 64, "warmup": 15},
    # the deepest setting of "full" with 4x its token budget: does the ranking hold with more training?
    "long": {"corpus": "kjv", "depths": (32,), "seeds": (0,), "ablation_seeds": (),
             "dim": 48, "hidden_dim": 128, "steps": 600, "batch": 32, "window": 64, "warmup": 60},
}
BLOCKS = 4  # Block AttnRes: N = 4 blocks at every depth (S = L / 4)


# Round 2 (docs/experiments/round2/PLAN.md): staged, and the stages after the lr search
# depend on its results, so the list of runs is computed from the finished run files.
R2 = {"corpus": "kjv", "dim": 48, "hidden_dim": 128, "batch": 32, "window": 64,
      "lr_grid": (1.5e-3, 3e-3, 6e-3), "lr_shared": 3e-3, "lr_seeds": (0, 1), "lr_steps": 300,
      "steps": 1000, "seeds": (0, 1, 2, 3, 4), "ablation_seeds": (0, 1, 2), "long_steps": 3000,
      "long_seeds": (0, 1, 2), "tie": 0.01, "max_extensions": 2}
R2_MODES = {"full": ["--residual", "attnres", "--block-size", "1"],
            "block4": ["--residual", "attnres", "--blocks", "4"],
            "block8": ["--residual", "attnres", "--blocks", "8"],
            "standard": ["--residual", "standard"]}       # slowest first: pairs of runs end together


def _r2_run(L, mode, lr, seed, steps, ablation=None):
    args = ["--corpus", R2["corpus"], "--dim", str(R2["dim"]), "--hidden-dim", str(R2["hidden_dim"]),
            "--batch", str(R2["batch"]), "--window", str(R2["window"]), "--steps", str(steps),
            "--warmup", str(steps // 10), "--evals", "10", "--curve-bytes", "8192", "--diagnostics",
            "--lr", repr(lr), "--n-layers", str(L // 2), "--seed", str(seed)] + R2_MODES[mode]
    return args + (["--ablation", ablation] if ablation else [])


def r2_lr_name(mode, lr, seed):
    return f"A_L32_{mode}_lr{lr:g}_s{seed}"


def choose_lr(done, mode):
    """The lr search's rule (PLAN.md, Stage A): (grid, chosen lr or None while runs
    are missing). done: run name -> val loss. The best mean over the lr seeds wins;
    at an edge of the grid the grid grows by a factor of 2 there (at most twice);
    values within R2["tie"] of the best go to the one closest to the shared lr."""
    grid = list(R2["lr_grid"])
    for extension in range(R2["max_extensions"] + 1):
        means = {}
        for lr in grid:
            vals = [done.get(r2_lr_name(mode, lr, s)) for s in R2["lr_seeds"]]
            if None in vals:
                return grid, None
            means[lr] = sum(vals) / len(vals)
        best = min(grid, key=lambda lr: means[lr])
        if extension < R2["max_extensions"] and best in (grid[0], grid[-1]):
            grid = [best / 2] + grid if best == grid[0] else grid + [best * 2]
            continue
        near = [lr for lr in grid if means[lr] - means[best] < R2["tie"]]
        return grid, min(near, key=lambda lr: abs(math.log(lr / R2["lr_shared"])))
    raise AssertionError("unreachable")


def round2_runs(rdir):
    """[(name, args)] of round 2 in the order of PLAN.md: A (lr search), then, once
    every mode's lr is chosen, B (L = 32), C (Full ablations), D (shared lr),
    E (L = 16), F (random init), G (3,000 steps, then L = 64)."""
    done = {}
    if os.path.isdir(rdir):
        for fn in os.listdir(rdir):
            if fn.endswith(".json"):
                with open(os.path.join(rdir, fn)) as f:
                    done[fn[:-5]] = json.load(f)["val_loss"]
    runs, chosen = [], {}
    grids = {mode: choose_lr(done, mode) for mode in R2_MODES}
    for seed in R2["lr_seeds"]:                       # A: seed-major, the shared lr first
        for lr in sorted(set().union(*(g for g, _ in grids.values())),
                         key=lambda lr: abs(math.log(lr / R2["lr_shared"]))):
            for mode in R2_MODES:
                if lr in grids[mode][0]:
                    runs.append((r2_lr_name(mode, lr, seed), _r2_run(32, mode, lr, seed, R2["lr_steps"])))
    chosen = {mode: c for mode, (_, c) in grids.items()}
    if None in chosen.values():
        return runs
    S, seeds = R2["steps"], R2["seeds"]
    for s in seeds:                                                           # B
        runs += [(f"B_L32_{m}_s{s}", _r2_run(32, m, chosen[m], s, S)) for m in R2_MODES]
    for s in R2["ablation_seeds"]:                                            # C
        runs += [(f"C_L32_full_{abl}_s{s}", _r2_run(32, "full", chosen["full"], s, S, abl))
                 for abl in ("eps", "random_init", "out_init", "query_lr")]
    for s in seeds:                                                           # D
        runs += [(f"D_L32_{m}_lr{R2['lr_shared']:g}_s{s}", _r2_run(32, m, R2["lr_shared"], s, S))
                 for m in R2_MODES if chosen[m] != R2["lr_shared"]]
    for s in seeds:                                                           # E
        runs += [(f"E_L16_{m}_s{s}", _r2_run(16, m, chosen[m], s, S)) for m in R2_MODES]
    for s in seeds:                                                           # F
        runs += [(f"F_L32_{m}_random_init_s{s}", _r2_run(32, m, chosen[m], s, S, "random_init"))
                 for m in ("block4", "block8")]
        if s not in R2["ablation_seeds"]:
            runs.append((f"C_L32_full_random_init_s{s}", _r2_run(32, "full", chosen["full"], s, S, "random_init")))
    for s in R2["long_seeds"]:                                                # G
        runs += [(f"G_L32_{m}_{R2['long_steps']}_s{s}", _r2_run(32, m, chosen[m], s, R2["long_steps"]))
                 for m in ("full", "standard")]
    for s in R2["long_seeds"]:
        runs += [(f"G_L64_{m}_s{s}", _r2_run(64, m, chosen[m], s, S)) for m in ("block8", "standard")]
    return runs


def plan_runs(plan, rdir=None):
    """[(name, [run arguments])] of a plan, in the order they run: the first
    three seeds, seed by seed, deepest (slowest) first; then the ablations
    (Block AttnRes at the deepest setting); then any further seeds. The first
    seed's standard and Block models at the deepest setting are saved
    (--save models/NAME.safetensors, relative to the sweep directory)."""
    if plan == "round2":
        return round2_runs(rdir)
    p = PLANS[plan]
    common = ["--corpus", p["corpus"], "--dim", str(p["dim"]), "--hidden-dim", str(p["hidden_dim"]),
              "--steps", str(p["steps"]), "--batch", str(p["batch"]), "--window", str(p["window"]),
              "--warmup", str(p["warmup"]), "--evals", "10", "--curve-bytes", "8192"]
    modes = [("standard", ["--residual", "standard"]),
             ("block", ["--residual", "attnres", "--blocks", str(BLOCKS)]),
             ("full", ["--residual", "attnres", "--block-size", "1"])]
    deepest = max(p["depths"])

    def grid(seeds):
        out = []
        for seed in seeds:
            for L in sorted(p["depths"], reverse=True):
                for mode, extra in modes:
                    name = f"L{L}_{mode}_s{seed}"
                    save = ["--save", os.path.join("models", name + ".safetensors")] \
                        if seed == p["seeds"][0] and L == deepest and mode != "full" else []
                    out.append((name, common + extra + save + ["--n-layers", str(L // 2), "--seed", str(seed)]))
        return out

    runs = grid(p["seeds"][:3])
    for s in p["ablation_seeds"]:
        for abl in ABLATIONS[1:]:
            runs.append((f"L{deepest}_block_{abl}_s{s}",
                         common + modes[1][1] + ["--ablation", abl, "--n-layers", str(deepest // 2),
                                                 "--seed", str(s)]))
    runs += grid(p["seeds"][3:])
    return runs


def git_commit():
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "tools"], capture_output=True,
                               text=True).stdout.strip()
        return head + ("+uncommitted changes in tools/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def sweep(a):
    rdir = a.runs or os.path.join(a.out, "runs")     # the run JSONs (round 2: in docs/, committed)
    logdir = rdir if not a.runs else os.path.join(a.out, "logs")
    for d in (rdir, logdir, os.path.join(a.out, "models")):
        os.makedirs(d, exist_ok=True)

    def pending():
        """The plan's runs without a JSON yet; recomputed as runs finish, since a
        staged plan (round2) grows when a stage's results decide the next."""
        runs = [(n, [os.path.join(a.out, x) if x.startswith("models" + os.sep) else x for x in args])
                for n, args in plan_runs(a.plan, rdir)]
        return runs, [(n, args) for n, args in runs if not os.path.exists(os.path.join(rdir, n + ".json"))]

    runs, todo = pending()
    print(f"sweep {a.plan}: {len(runs)} runs, {len(runs) - len(todo)} already done, {len(todo)} to run "
          f"with {a.jobs} at a time (logs in {logdir}/*.log)", flush=True)
    # sweep.json: the plan, and every invocation (a resumed sweep adds one) with the
    # commit whose tools it ran: the runs use a snapshot of tools/ taken here; with --runs it sits
    # beside that directory, so it is committed with the runs
    info_path = os.path.join(os.path.dirname(os.path.abspath(rdir)) if a.runs else a.out, "sweep.json")
    history = []
    if os.path.exists(info_path):
        with open(info_path) as f:
            old = json.load(f)
        history = old.get("invocations") or [{"commit": old.get("commit"), "command": old.get("command")}]
    history.append({"commit": git_commit(), "command": " ".join(["tools/experiment.py"] + sys.argv[1:]),
                    "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "runs": [n for n, _ in todo]})
    with open(info_path, "w") as f:
        json.dump({"plan": a.plan, "settings": R2 if a.plan == "round2" else PLANS[a.plan], "blocks": BLOCKS,
                   "invocations": history}, f, indent=1)
        f.write("\n")
    # the runs use a snapshot of the tools, so editing them mid-sweep changes nothing
    code = os.path.join(a.out, "code")
    os.makedirs(code, exist_ok=True)
    for fn in ("experiment.py", "train.py", "reference.py", "st.py"):
        shutil.copy(os.path.join(HERE, fn), os.path.join(code, fn))
    t0, running, failed = time.time(), [], []
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               EXPERIMENT_TOOLS_COMMIT=history[-1]["commit"])
    while todo or running:
        while todo and len(running) < a.jobs:
            name, args = todo.pop(0)
            log = open(os.path.join(logdir, name + ".log"), "w")
            cmd = [sys.executable, os.path.join(code, "experiment.py"), "run", *args,
                   "--out", os.path.join(rdir, name + ".json")]
            if a.engine == "c":              # the snapshot in code/ would look for its own build/
                cmd += ["--engine", "c", "--c-trainer", os.path.abspath(a.c_trainer)]
            running.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
        time.sleep(1)
        for item in list(running):
            name, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                status = "done" if proc.returncode == 0 else f"FAILED ({proc.returncode})"
                if proc.returncode:
                    failed.append(name)
                print(f"{time.time() - t0:7.0f} s  {name} {status}", flush=True)
                busy = {n for n, _, _ in running} | set(failed)
                todo = [(n, args) for n, args in pending()[1] if n not in busy]
    print(f"sweep {a.plan}: finished in {time.time() - t0:.0f} s; {len(failed)} failed {failed}", flush=True)
    if a.plan == "round2":
        report_round2(rdir, os.path.dirname(os.path.abspath(rdir)))
    else:
        report(a.out, f"/usr/bin/python3 tools/experiment.py sweep --plan {a.plan} --out {a.out}")
    return 1 if failed else 0


# --------------------------------------------------------------------------
# Report: summary.json, table.md, plots
# --------------------------------------------------------------------------

def _betainc(a, b, x):
    """Regularised incomplete beta function I_x(a, b), by its continued fraction
    (modified Lentz); the standard library has no Student t, and scipy is not one
    of the tools' dependencies."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    if x > (a + 1) / (a + b + 2):               # the fraction converges fast only on this side
        return 1.0 - _betainc(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    tiny, f, c, d = 1e-300, 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        if abs(1.0 - c * d) < 1e-15:
            break
    return front * (f - 1.0)


def _t_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom."""
    return _betainc(df / 2.0, 0.5, df / (df + t * t))


def _t_quantile_975(df):
    """The t with P(T <= t) = 0.975 (df degrees of freedom), by bisection on the tail."""
    lo, hi = 0.0, 1e4
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_two_sided_p(mid, df) > 0.05 else (lo, mid)
    return (lo + hi) / 2


def _paired(a, b):
    """PLAN.md's test: the paired differences a[s] - b[s] over common seeds ->
    mean, standard error, 95% interval, two-sided paired t-test p, per-seed values."""
    seeds = sorted(set(a) & set(b))
    d = [a[s] - b[s] for s in seeds]
    out = {"seeds": seeds, "diffs": d, "n": len(d), "mean": sum(d) / len(d) if d else float("nan")}
    if len(d) >= 2:
        _, sd = _mean_std(d)
        se = sd / math.sqrt(len(d))
        q = _t_quantile_975(len(d) - 1)
        out.update(se=se, ci=(out["mean"] - q * se, out["mean"] + q * se),
                   p=_t_two_sided_p(out["mean"] / se, len(d) - 1) if se > 0 else 0.0)
    return out


def _verdict(c, margin=0.02):
    if c["n"] < 2:
        return "1 seed: no test"
    if c["p"] < 0.05:
        return "significant"
    if -margin < c["ci"][0] and c["ci"][1] < margin:
        return "no difference (95% CI within +-0.02)"
    return "not resolved"


def _paired_row(label, c, test=True):
    signs = ", ".join(f"s{s}: {x:+.3f}" for s, x in zip(c["seeds"], c["diffs"]))
    if not test:
        return f"| {label} | {c['n']} | {c['mean']:+.4f} | - | - | - | {signs} | lr search: not tested |"
    if c["n"] < 2:
        return f"| {label} | {c['n']} | {c['mean']:+.4f} | - | - | - | {signs} | 1 seed |"
    return (f"| {label} | {c['n']} | {c['mean']:+.4f} | {c['se']:.4f} | [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}] | "
            f"{c['p']:.3g} | {signs} | {_verdict(c)} |")


def _holm(ps):
    """Holm's step-down adjusted p-values, in the order of ps."""
    order, adj, run = sorted(range(len(ps)), key=lambda i: ps[i]), [0.0] * len(ps), 0.0
    for k, i in enumerate(order):
        run = max(run, min(1.0, (len(ps) - k) * ps[i]))
        adj[i] = run
    return adj


def _holm_section(comparisons):
    """PLAN.md: the six primary comparisons (block4, block8, full − standard at L = 32
    and 16) with Holm's correction for six tests. While some are missing, min(1, 6p)
    is shown instead: Holm's adjusted p never exceeds it, so it can only understate
    significance, never claim it falsely."""
    labels = [f"{st}: {m} − standard" for st in ("B", "E") for m in list(R2_MODES)[:3]]
    have = [lab for lab in labels if lab in comparisons and comparisons[lab]["n"] >= 2]
    out = ["", "## The six primary comparisons, corrected for six tests (Holm)", ""]
    if not have:
        return out + ["None has two seeds yet."]
    complete = len(have) == 6
    adj = dict(zip(have, _holm([comparisons[lab]["p"] for lab in have]))) if complete else \
        {lab: min(1.0, 6 * comparisons[lab]["p"]) for lab in have}
    out += [("All six have run; adjusted p is Holm's." if complete else
             f"{len(have)} of 6 have at least two seeds; until all six exist the column shows min(1, 6p), an upper "
             "bound on Holm's adjusted p (so \"not yet\" means not decided, not \"not significant\")."), "",
            "| comparison | seeds | mean diff | p (paired t) | adjusted p | after correction |", "|---|---|---|---|---|---|"]
    for lab in have:
        c = comparisons[lab]
        verdict = "significant" if adj[lab] < 0.05 else ("not significant" if complete else "not yet")
        out.append(f"| {lab} | {c['n']} | {c['mean']:+.4f} | {c['p']:.3g} | {'' if complete else '≤ '}"
                   f"{adj[lab]:.3g} | {verdict} |")
    return out


def _median(xs):
    xs = sorted(xs)
    return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2


def _training_diagnostics(recs, columns, title):
    """PLAN.md's diagnostics for groups of paired runs, columns: label -> run-name
    prefix (runs PREFIX_s{seed}). RMS(h_l) of every sublayer at step 0 against
    sqrt(eps) of its own run, with the gradient each pseudo-query gets (seed 0); then
    over training, at every evaluation point, the smallest sublayer input, the
    pseudo-queries' gradient and the deepest quarter's matrix gradients (means over
    the finished seeds)."""
    runs = {lab: {int(n.rsplit("_s", 1)[1]): r for n, r in recs.items() if n.rsplit("_s", 1)[0] == prefix
                  and r.get("profiles")} for lab, prefix in columns.items()}
    runs = {lab: v for lab, v in runs.items() if v}
    out = ["", f"## Diagnostics of {title}", ""]
    if not runs:
        return out + ["Not run yet."]
    any_run = lambda lab: next(iter(runs[lab].values()))  # noqa: E731
    labs = list(runs)
    qlabs = [lab for lab in labs if any_run(lab)["grad_profiles"][0]["pseudo_query"] is not None]
    root = {lab: math.sqrt(any_run(lab)["norm_eps"]) for lab in labs}
    L = any_run(labs[0])["n_layers"]
    s0 = {lab: v[0] for lab, v in runs.items() if 0 in v}
    eps_note = ", ".join(f"{root[lab]:.2g} in the column {lab}" for lab in labs if root[lab] != root[labs[0]])
    if s0:
        out += [f"RMS(h_l), the input of sublayer l before its RMSNorm, at step 0 (seed 0; the step-0 state depends "
                f"on the seed and the model, not the lr); † marks RMS below sqrt(eps) = {root[labs[0]]:.2g}"
                + (f" ({eps_note})" if eps_note else "") + ", where the pre-norm scales its input by less than "
                "1/sqrt(2) instead of normalising it. Then the L2 norm of the gradient of each pseudo-query w_l at "
                "step 0 (row 0 has one source, so no gradient). Row L is the output's mix.", "",
                "| l | " + " | ".join(f"{lab} RMS(h_l)" for lab in s0) + " | "
                + " | ".join(f"{lab} ‖∂loss/∂w_l‖" for lab in s0 if lab in qlabs) + " |",
                "|---|" + "---|" * (len(s0) + len([lab for lab in s0 if lab in qlabs]))]
        for l in range(L + 1):
            cells = []
            for lab, r in s0.items():
                x = r["profiles"][0]["rms_h"][l]
                cells.append(f"{x:.2e}{' †' if x < root[lab] else ''}")
            cells += [f"{r['grad_profiles'][0]['pseudo_query'][l]:.2e}" for lab, r in s0.items() if lab in qlabs]
            out.append(f"| {l if l < L else 'out'} | " + " | ".join(cells) + " |")
        out += ["", "Sublayers with RMS(h_l) < sqrt(eps) at step 0: " + ", ".join(
            f"{lab} {sum(x < root[lab] for x in r['profiles'][0]['rms_h'][:L])} of {L}" for lab, r in s0.items()) + "."]
    seeds = {lab: sorted(v) for lab, v in runs.items()}
    out += ["", "Over training, means over each column's finished seeds ("
            + "; ".join(f"{lab}: {', '.join(map(str, s))}" for lab, s in seeds.items()) + "). Rows: the evaluation "
            "step (RMS) or the interval of steps that ends there (gradients, the mean over its steps).", "",
            "| step | " + " | ".join(f"{lab}: min_l RMS(h_l), # < sqrt(eps)" for lab in labs) + " | "
            + " | ".join(f"{lab}: median_l ‖∂loss/∂w_l‖" for lab in qlabs) + " | "
            + " | ".join(f"{lab}: median ‖∂loss/∂W‖, l ≥ {3 * L // 4}" for lab in labs) + " |",
            "|---|" + "---|" * (2 * len(labs) + len(qlabs))]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    for k, step in enumerate(p["step"] for p in any_run(labs[0])["profiles"]):
        cells = []
        for lab in labs:
            hs = [r["profiles"][k]["rms_h"][:L] for r in runs[lab].values()]
            cells.append(f"{mean([min(h) for h in hs]):.2e}, {mean([sum(x < root[lab] for x in h) for h in hs]):.3g}")
        for lab in qlabs:
            cells.append(f"{mean([_median(r['grad_profiles'][k]['pseudo_query'][1:]) for r in runs[lab].values()]):.2e}")
        for lab in labs:
            cells.append(f"{mean([_median(r['grad_profiles'][k]['sublayer'][3 * L // 4:]) for r in runs[lab].values()]):.2e}")
        out.append(f"| {step if k == 0 else f'…{step}'} | " + " | ".join(cells) + " |")
    return out


def report_round2(rdir, out):
    """results.md and results.json of round 2 from the run JSONs in rdir: step
    times, the lr search and each mode's chosen lr, the paired comparisons of
    every stage finished so far (PLAN.md's test), and step-0 diagnostics."""
    recs = {}
    for fn in sorted(os.listdir(rdir)):
        if fn.endswith(".json"):
            with open(os.path.join(rdir, fn)) as f:
                recs[fn[:-5]] = json.load(f)
    if not recs:
        raise SystemExit(f"no runs in {rdir}")
    done = {n: r["val_loss"] for n, r in recs.items()}
    P = ["| comparison | seeds | mean diff | SE | 95% CI | p (paired t) | per seed | verdict |",
         "|---|---|---|---|---|---|---|---|"]
    L = [f"# Round 2 results so far ({len(recs)} runs)", "",
         f"Made by `/usr/bin/python3 tools/experiment.py report2 {rdir}` on commit {git_commit()}; the runs' "
         f"commits: {', '.join(sorted({r.get('commit', '?')[:12] for r in recs.values()}))}. Validation loss in "
         "nats/byte on 65,472 bytes of the KJV validation text; differences are paired by seed (negative: the "
         "first is better). Test and verdicts as pre-registered in PLAN.md.", "",
         "## Step time (wall seconds per training step, 1 thread, 2 runs at a time, shared machine)", "",
         "| stage | L | mode | runs | s/step mean | min | max |", "|---|---|---|---|---|---|---|"]
    times = {}
    for n, r in recs.items():
        key = (n[0], r["n_layers"], n.split("_")[2])
        times.setdefault(key, []).append(r["train_wall_s"] / r["steps"])
    for key in sorted(times):
        t = times[key]
        L.append(f"| {key[0]} | {key[1]} | {key[2]} | {len(t)} | {sum(t) / len(t):.2f} | {min(t):.2f} | {max(t):.2f} |")
    L += ["", "## A: learning-rate search (L = 32, 300 steps)", "",
          "| mode | lr | seed 0 | seed 1 | mean | |", "|---|---|---|---|---|---|"]
    chosen = {}
    for mode in R2_MODES:
        grid, c = choose_lr(done, mode)
        chosen[mode] = c
        for lr in grid:
            v = [done.get(r2_lr_name(mode, lr, s)) for s in R2["lr_seeds"]]
            have = [x for x in v if x is not None]
            mean = f"{sum(have) / len(have):.4f}" if len(have) == len(v) else "-"
            L.append(f"| {mode} | {lr:g} | " + " | ".join("-" if x is None else f"{x:.4f}" for x in v)
                     + f" | {mean} | {'**chosen**' if lr == c else ''} |")
    L += ["", "Chosen lr: " + ", ".join(f"{m} {'(not yet decided)' if c is None else f'{c:g}'}"
                                         for m, c in chosen.items()) + "."]
    # paired lr comparisons inside the search: every mode minus standard at each lr
    L += ["", "Paired by seed inside the search, at the same lr:", ""] + P
    for lr in sorted({lr for g, _ in (choose_lr(done, m) for m in R2_MODES) for lr in g}):
        base = {s: done[r2_lr_name("standard", lr, s)] for s in R2["lr_seeds"] if r2_lr_name("standard", lr, s) in done}
        for mode in list(R2_MODES)[:3]:
            a = {s: done[r2_lr_name(mode, lr, s)] for s in R2["lr_seeds"] if r2_lr_name(mode, lr, s) in done}
            if set(a) & set(base):
                L.append(_paired_row(f"{mode} − standard, lr {lr:g}", _paired(a, base), test=False))

    def by_seed(prefix):
        return {int(n.rsplit("_s", 1)[1]): v for n, v in done.items()
                if n.rsplit("_s", 1)[0] == prefix}

    results = {"chosen_lr": chosen, "comparisons": {}}
    sections = [("B: L = 32, 1,000 steps, each mode at its chosen lr", [
                    (f"{m} − standard", by_seed(f"B_L32_{m}"), by_seed("B_L32_standard")) for m in list(R2_MODES)[:3]]),
                ("C: one-change ablations of Full AttnRes (L = 32, 1,000 steps)",
                    [(f"full {a} − full", by_seed(f"C_L32_full_{a}"), by_seed("B_L32_full"))
                     for a in ("eps", "random_init", "out_init", "query_lr")] +
                    [(f"full {a} − standard", by_seed(f"C_L32_full_{a}"), by_seed("B_L32_standard"))
                     for a in ("eps", "random_init", "out_init", "query_lr")]),
                ("D: shared lr 3e-3 (L = 32, 1,000 steps)",
                    [(f"{m} (lr 3e-3) − standard (its lr)", by_seed(f"D_L32_{m}_lr0.003"), by_seed("B_L32_standard"))
                     for m in R2_MODES]),
                ("E: L = 16, 1,000 steps", [(f"{m} − standard", by_seed(f"E_L16_{m}"), by_seed("E_L16_standard"))
                                            for m in list(R2_MODES)[:3]]),
                ("F: random vs zero pseudo-query init (L = 32, 1,000 steps)",
                    [(f"{m} random_init − {m}", by_seed(f"F_L32_{m}_random_init"), by_seed(f"B_L32_{m}"))
                     for m in ("block4", "block8")]),
                ("G: 3,000 steps (L = 32)", [("full − standard", by_seed("G_L32_full_3000"),
                                              by_seed("G_L32_standard_3000"))])]
    for title, rows in sections:
        rows = [(lab, _paired(a, b)) for lab, a, b in rows if set(a) & set(b)]
        L += ["", f"## {title}", ""]
        if not rows:
            L.append("Not run yet.")
            continue
        L += P + [_paired_row(lab, c) for lab, c in rows]
        results["comparisons"].update({f"{title.split(':')[0]}: {lab}": c for lab, c in rows})
        if title.startswith("C"):      # the share of Full's gap to standard each change closes
            full, std = by_seed("B_L32_full"), by_seed("B_L32_standard")
            for abl in ("eps", "random_init", "out_init", "query_lr"):
                x = by_seed(f"C_L32_full_{abl}")
                common = sorted(set(x) & set(full) & set(std))
                gap = sum(full[s] - std[s] for s in common)
                if common and gap > 0:
                    per_seed = ", ".join(f"s{s}: {(full[s] - x[s]) / (full[s] - std[s]):.0%}" for s in common)
                    L.append(f"\n`{abl}` closes {sum(full[s] - x[s] for s in common) / gap:.0%} of Full's gap to "
                             f"standard (ratio of the means over seeds {', '.join(map(str, common))}; per seed "
                             f"{per_seed}).")
    L += _holm_section(results["comparisons"])
    L += _training_diagnostics(recs, {m: f"B_L32_{m}" for m in R2_MODES}, "B (L = 32, 1,000 steps)")
    L += _training_diagnostics(recs, {"full": "B_L32_full", **{a: f"C_L32_full_{a}" for a in
                                                                  ("eps", "random_init", "out_init", "query_lr")}},
                               "C, beside default Full (L = 32, 1,000 steps)")
    L += _training_diagnostics(recs, {m: f"E_L16_{m}" for m in R2_MODES}, "E (L = 16, 1,000 steps)")
    # diagnostics: at step 0, how many sublayer inputs sit below sqrt(eps); pseudo-query gradients
    L += ["", "## Diagnostics at step 0 and at the end (lr-search runs, seed 0, lr 3e-3)", "",
          "| mode | RMS(h_l) at step 0: min, median over l | sublayers with RMS(h_l) < sqrt(eps) at step 0 | "
          "same at the end | pseudo-query gradient norm, median over rows: step 0 | last interval |",
          "|---|---|---|---|---|---|"]
    for mode in R2_MODES:
        r = recs.get(r2_lr_name(mode, 3e-3, 0))
        if not r or not r.get("profiles"):
            continue
        root = math.sqrt(r["norm_eps"])
        h0, h1 = r["profiles"][0]["rms_h"][:-1], r["profiles"][-1]["rms_h"][:-1]
        q0, q1 = r["grad_profiles"][0]["pseudo_query"], r["grad_profiles"][-1]["pseudo_query"]
        med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
        L.append(f"| {mode} | {min(h0):.2e}, {med(h0):.2e} | {sum(x < root for x in h0)} of {len(h0)} | "
                 f"{sum(x < root for x in h1)} of {len(h1)} | "
                 f"{'-' if not q0 else f'{med(q0[1:]):.2e}'} | {'-' if not q1 else f'{med(q1[1:]):.2e}'} |")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    print("\n".join(L))


def _engines(records):
    """A sentence naming the trainer of the runs when any ran on the C trainer."""
    n_c = sum(r.get("engine") == "c" for r in records)
    if not n_c:
        return ""
    return (f" {'All' if n_c == len(records) else n_c} of the {len(records)} runs on the C trainer "
            f"(attnres-train, --engine c): their RMS, gradient-norm and alpha diagnostics are absent.")


def _mean_std(xs):
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else float("nan")
    return m, s


def _group_key(r):
    return (r["n_layers"], r["mode"], r["ablation"] or "-")


def report(out, command=None):
    rdir = os.path.join(out, "runs")
    records = []
    for fn in sorted(os.listdir(rdir)):
        if fn.endswith(".json"):
            with open(os.path.join(rdir, fn)) as f:
                r = json.load(f)
            r["name"] = fn[:-5]
            records.append(r)
    if not records:
        raise SystemExit(f"no runs in {rdir}")
    sweep_info = {}
    if os.path.exists(os.path.join(out, "sweep.json")):
        with open(os.path.join(out, "sweep.json")) as f:
            sweep_info = json.load(f)
    inv = sweep_info.get("invocations") or ([sweep_info] if sweep_info else [])
    prov = {"sweep_command": inv[-1].get("command") if inv else None,
            "run_commits": [i.get("commit") or "unknown" for i in inv] or ["unknown"],
            "report_command": command or f"/usr/bin/python3 tools/experiment.py report {out}",
            "report_commit": git_commit()}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"provenance": prov, "runs": records}, f, separators=(",", ":"))
        f.write("\n")

    groups = {}
    for r in records:
        groups.setdefault(_group_key(r), []).append(r)
    order = {"standard": 0, "block": 1, "full": 2}
    r0 = records[0]
    lines = [f"Validation loss in nats/byte ({r0['val_bytes']:,} predicted bytes of the {r0['corpus']} validation "
             f"text, windows of {r0['window']} bytes), mean +- sample standard deviation over seeds. Every run: "
             f"dim {r0['dim']}, {r0['steps']} steps of {r0['batch']} x {r0['window']} bytes "
             f"({r0['tokens']:,} training bytes), lr {r0['lr']:g}." + _engines(records), "",
             "| L (sublayers) | mode | S | ablation | seeds | params | val loss | min | max |",
             "|---|---|---|---|---|---|---|---|---|"]
    table = []
    def sort_key(k):   # depth, mode, then the default before the ablations
        return (k[0], order[k[1]], k[2] not in ("-", "softmax"), k[2])
    for key in sorted(groups, key=sort_key):
        rs = groups[key]
        m, s = _mean_std([r["val_loss"] for r in rs])
        vs = [r["val_loss"] for r in rs]
        table.append({"n_layers": key[0], "mode": key[1], "ablation": key[2], "block_size": rs[0]["block_size"],
                      "seeds": sorted(r["seed"] for r in rs), "mean": m, "std": s})
        sd = "" if len(rs) < 2 else f" +- {s:.4f}"
        lines.append(f"| {key[0]} | {key[1]} | {rs[0]['block_size'] or '-'} | {key[2]} | {len(rs)} | "
                     f"{rs[0]['params']:,} | {m:.4f}{sd} | {min(vs):.4f} | {max(vs):.4f} |")
    # paired by seed: the same seed means the same data order and the same shared initial weights
    lines += ["", "Paired by seed: val loss of a run minus that of the run it is compared with at the same seed "
                  "(same data order, same shared initial weights); negative = the first is better.", "",
              "| L | mode | ablation | minus | seeds | mean difference | std | std / sqrt(seeds) | per seed |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(groups, key=sort_key):
        if key[1] == "standard":
            continue
        bases = [("standard", (key[0], "standard", "-"))]
        if key[2] not in ("-", "softmax"):          # an ablation: also against the default AttnRes
            bases.append((f"{key[1]} softmax", (key[0], key[1], "softmax")))
        for base_name, base_key in bases:
            base = {r["seed"]: r["val_loss"] for r in groups.get(base_key, [])}
            diffs = [(r["seed"], r["val_loss"] - base[r["seed"]])
                     for r in sorted(groups[key], key=lambda r: r["seed"]) if r["seed"] in base]
            if not diffs:
                continue
            m, sd = _mean_std([d for _, d in diffs])
            if base_name == "standard":
                table_d = next(t for t in table if (t["n_layers"], t["mode"], t["ablation"]) == key)
                table_d["paired_diff_mean"], table_d["paired_diff_std"] = m, sd
            sds = "-" if math.isnan(sd) else f"{sd:.4f}"
            sem = "-" if math.isnan(sd) else f"{sd / math.sqrt(len(diffs)):.4f}"
            lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {base_name} | {len(diffs)} | {m:+.4f} | {sds} | {sem} | "
                         + ", ".join(f"s{seed:d}: {d:+.4f}" for seed, d in diffs) + " |")
    lines += ["", f"Made by `{prov['sweep_command'] or prov['report_command']}` "
                  f"(the runs used the tools of commit{'s' if len(prov['run_commits']) > 1 else ''} "
                  f"{', '.join(prov['run_commits'])} (one per sweep invocation, see sweep.json); "
                  f"the report and plots: `{prov['report_command']}` on commit {prov['report_commit']})."]
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "table.json"), "w") as f:
        json.dump(table, f, indent=1)
        f.write("\n")
    print("\n".join(lines))
    plots(out, records, groups, prov)


def plots(out, records, groups, prov):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.colors
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    colors = {"standard": "tab:blue", "block": "tab:orange", "full": "tab:green"}
    depths = sorted({r["n_layers"] for r in records})
    main = {k: v for k, v in groups.items() if k[2] in ("-", "softmax")}
    foot = (f"{prov['sweep_command'] or prov['report_command']}  |  runs on commit "
            f"{', '.join(c[:12] for c in prov['run_commits'])}  |  plot on commit {prov['report_commit'][:12]}")
    made = {}

    def save(fig, name, what):
        fig.text(0.01, 0.005, foot, fontsize=6, color="gray")
        path = os.path.join(out, name)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made[name] = what

    def default_runs(L, mode):
        """The runs of one depth and mode with the default depth attention (no ablation)."""
        return main.get((L, mode, "-" if mode == "standard" else "softmax"))

    def depth_panels():
        """A figure with one panel per depth, side by side."""
        return plt.subplots(1, len(depths), figsize=(max(4.2 * len(depths), 7.5), 3.8), squeeze=False)

    def label(mode, L=None):
        if mode == "block":
            return f"Block AttnRes (N = {BLOCKS})"
        return {"standard": "standard", "full": "Full AttnRes (S = 1)"}[mode]

    # 1. validation loss vs depth
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, mode in enumerate(("standard", "block", "full")):
        xs, ms, ss = [], [], []
        for L in depths:
            rs = default_runs(L, mode)
            if rs:
                m, s = _mean_std([r["val_loss"] for r in rs])
                xs.append(L * (1 + 0.02 * (i - 1)))
                ms.append(m)
                ss.append(0.0 if math.isnan(s) else s)
                for r in rs:
                    ax.plot(L * (1 + 0.02 * (i - 1)), r["val_loss"], ".", color=colors[mode], alpha=0.35)
        if xs:
            ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=4, color=colors[mode], label=label(mode))
    abl = sorted(k for k in groups if k[2] not in ("-", "softmax"))
    for j, k in enumerate(abl):
        vs = [r["val_loss"] for r in groups[k]]
        ax.plot([k[0] * (1.06 + 0.025 * j)] * len(vs), vs, "x", ms=7, label=f"{k[1]}, ablation: {k[2]}",
                color=plt.cm.Dark2(j))
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths)
    ax.set_xticklabels([str(L) for L in depths])
    ax.set_xlabel("depth L (sublayers)")
    ax.set_ylabel("validation loss (nats/byte)")
    ax.set_title("Validation loss vs depth (mean +- std over seeds; dots: single seeds)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save(fig, "val_loss_vs_depth.png", "validation loss vs depth per mode, error bars = std over seeds")

    # 2. loss curves: one panel per depth, validation (mean over seeds) and train (smoothed, seed mean)
    fig, axs = depth_panels()
    for ax, L in zip(axs[0], depths):
        for mode in ("standard", "block", "full"):
            rs = default_runs(L, mode)
            if not rs:
                continue
            n = min(len(r["train_curve"]) for r in rs)
            tc = [sum(r["train_curve"][i] for r in rs) / len(rs) for i in range(n)]
            k = max(1, n // 40)
            sm = [sum(tc[max(0, i - k):i + 1]) / len(tc[max(0, i - k):i + 1]) for i in range(n)]
            ax.plot(range(1, n + 1), sm, color=colors[mode], alpha=0.45, lw=1)
            vc = [[p[1] for p in r["val_curve"]] for r in rs]
            steps = [p[0] for p in rs[0]["val_curve"]]
            ax.plot(steps, [sum(v[i] for v in vc) / len(vc) for i in range(len(steps))], "o-", ms=3,
                    color=colors[mode], label=label(mode) + " (val)")
        ax.set_title(f"L = {L} sublayers", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylim(top=3.5)
        ax.set_ylabel("loss (nats/byte)")
        ax.legend(fontsize=7)
    fig.suptitle("Loss curves: validation (dots) and training (faint, smoothed), mean over seeds", fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save(fig, "loss_curves.png", "train (smoothed) and validation loss curves per depth, mean over seeds")

    # 3 and 4. RMS(h_l) and gradient norm across depth
    for key, fname, ylabel, title in (
            ("rms_h", "stream_rms.png", "RMS of h_l (input of sublayer l)",
             "What every sublayer reads: RMS(h_l) across depth (last point: the final norm's input)"),
            ("grad_norm", "grad_norm.png", "gradient norm of sublayer l's matrices",
             "Gradient norm per sublayer (mean over the last 20% of steps)")):
        fig, axs = depth_panels()
        for ax, L in zip(axs[0], depths):
            for mode in ("standard", "block", "full"):
                rs = [r for r in default_runs(L, mode) or [] if r.get(key) is not None]   # C runs: absent
                if not rs:
                    continue
                n = len(rs[0][key])
                ys = [sum(r[key][i] for r in rs) / len(rs) for i in range(n)]
                ax.plot(range(n), ys, "o-", ms=2.5, color=colors[mode], label=label(mode))
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.set_title(f"L = {L}", fontsize=9)
            ax.set_xlabel("sublayer l")
            ax.set_ylabel(ylabel, fontsize=8)
            ax.legend(fontsize=7)
        fig.suptitle(title + ", mean over seeds", fontsize=9)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        save(fig, fname, title)

    # 5. mean alpha at the deepest setting: Block and Full, seed-mean
    L = depths[-1]
    panels = [(m, [r for r in main.get((L, m, "softmax")) or [] if r.get("alpha") is not None])
              for m in ("block", "full")]
    panels = [(m, rs) for m, rs in panels if rs]
    if panels:
        fig, axs = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
        for ax, (mode, rs) in zip(axs[0], panels):
            rows = len(rs[0]["alpha"])
            width = len(rs[0]["alpha"][-1])
            grid = [[float("nan")] * width for _ in range(rows)]
            for i in range(rows):
                for j in range(len(rs[0]["alpha"][i])):
                    grid[i][j] = sum(r["alpha"][i][j] for r in rs) / len(rs)
            im = ax.imshow(grid, cmap="viridis", aspect="auto",
                           norm=matplotlib.colors.PowerNorm(gamma=0.5, vmin=0, vmax=1))
            ax.set_xlabel("source (0 = embedding; last of a row may be the partial sum)")
            ax.set_ylabel("reader: sublayer l (last row: output)")
            ax.set_title(f"{label(mode)}, L = {L}: mean alpha", fontsize=9)
            fig.colorbar(im, ax=ax)
        fig.suptitle(f"Where depth attention looks: mean alpha over 16 validation windows and {len(panels[0][1])} "
                     f"seed(s); square-root colour scale, white = not a source", fontsize=9)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        save(fig, "alpha.png", "mean depth weights alpha at the deepest setting")
    # 6. the ablations at the deepest setting, next to standard and the default
    abl = sorted(k for k in groups if k[0] == L and k[2] not in ("-", "softmax"))
    if abl:
        bars = [("standard", groups.get((L, "standard", "-"), []))]
        mode = abl[0][1]
        bars.append((f"{mode} (softmax)", groups.get((L, mode, "softmax"), [])))
        bars += [(f"{mode}: {k[2]}", groups[k]) for k in abl]
        bars = [(n, rs) for n, rs in bars if rs]
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        for i, (name, rs) in enumerate(bars):
            vs = [r["val_loss"] for r in rs]
            m, sd = _mean_std(vs)
            ax.bar(i, m, yerr=0 if math.isnan(sd) else sd, capsize=4, color=plt.cm.tab10(i), alpha=0.7)
            ax.plot([i] * len(vs), vs, "k.", ms=5)
            ax.text(i, max(vs + [m + (0 if math.isnan(sd) else sd)]) + 0.005,
                    f"{m:.3f}\n({len(vs)} seed{'s' if len(vs) > 1 else ''})", ha="center", va="bottom", fontsize=7)
        lo = min(r["val_loss"] for _, rs in bars for r in rs)
        hi = max(r["val_loss"] for _, rs in bars for r in rs)
        ax.set_ylim(lo - 0.3 * (hi - lo) - 0.01, hi + 0.35 * (hi - lo) + 0.01)
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels([n for n, _ in bars], rotation=20, fontsize=7, ha="right")
        ax.set_ylabel("validation loss (nats/byte)")
        ax.set_title(f"Ablations of the depth attention at L = {L} (bars: mean +- std; dots: seeds)", fontsize=9)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        save(fig, "ablations.png", "validation loss of the ablations at the deepest setting")
    with open(os.path.join(out, "plots.json"), "w") as f:
        json.dump({"provenance": prov, "plots": made}, f, indent=1)
        f.write("\n")
    print(f"wrote {out}/summary.json, table.md, table.json and {', '.join(made)}")


# --------------------------------------------------------------------------
# C parity fixture
# --------------------------------------------------------------------------

def expect(a):
    """reference.forward (float64) logits of MODEL on the first --tokens bytes of TEXT."""
    import st
    cfg, weights = ref.load_checkpoint(a.model)
    with open(a.text, "rb") as f:
        data = f.read()[:min(a.tokens, cfg.seq_len)]
    tokens = torch.tensor(list(data), dtype=torch.long)
    logits, _ = ref.forward(cfg, weights, tokens)
    st.write(a.out, {"tokens": tokens.to(torch.int32).numpy(), "logits": logits.to(torch.float32).numpy()},
             {"made_by": "tools/experiment.py expect", "model": os.path.basename(a.model),
              "text": os.path.basename(a.text)})
    print(f"wrote {a.out}: logits [{len(tokens)}, {cfg.vocab_size}] of {a.model} on {a.text}")


def compare(a):
    """The DDP test: same-batch curves within --tol, a different-batch control beyond it."""
    def curves(path):
        with open(path) as f:
            r = json.load(f)
        return r["train_curve"] + [v for _, v in r["val_curve"]] + [r["val_loss"]], r["processes"]
    one, n1 = curves(a.one)
    two, n2 = curves(a.two)
    ctl, _ = curves(a.control)
    d = max(abs(x - y) for x, y in zip(one, two))
    dc = max(abs(x - y) for x, y in zip(one, ctl))
    print(f"{n1} vs {n2} process(es), same global batch: max |loss difference| {d:.2e} over {len(one)} "
          f"losses (tolerance {a.tol:g})")
    print(f"control, half the batch in 1 process: max |loss difference| {dc:.2e} (must exceed the tolerance)")
    ok = len(one) == len(two) and n1 == 1 and n2 > 1 and d <= a.tol < dc
    print("test-ddp: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    add_run_args(sub.add_parser("run", help="one training run", formatter_class=argparse.ArgumentDefaultsHelpFormatter))
    sp = sub.add_parser("sweep", help="a planned sweep (resumable), then its report")
    sp.add_argument("--plan", choices=sorted(PLANS) + ["round2"], required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each")
    sp.add_argument("--runs", help="directory of the run JSONs (default OUT/runs; logs then go to OUT/logs)")
    sp.add_argument("--engine", choices=("torch", "c"), default="torch",
                    help="every run on PyTorch or on the C trainer (run --engine c)")
    sp.add_argument("--c-trainer", default=C_TRAINER, help="--engine c: the attnres-train program")
    rp = sub.add_parser("report", help="summary.json, table and plots of a sweep directory")
    rp.add_argument("dir")
    r2 = sub.add_parser("report2", help="round 2: results.md of a directory of run JSONs (written beside it)")
    r2.add_argument("runs")
    ep = sub.add_parser("expect", help="PyTorch logits of a saved model on a text (C parity fixture)")
    ep.add_argument("model")
    ep.add_argument("text")
    ep.add_argument("--tokens", type=int, default=64)
    ep.add_argument("--out", required=True)
    cp = sub.add_parser("compare", help="the DDP test: compare two runs' loss curves")
    cp.add_argument("one", help="JSON of the 1-process run")
    cp.add_argument("two", help="JSON of the same run under torchrun")
    cp.add_argument("control", help="JSON of a run with another batch (must differ)")
    cp.add_argument("--tol", type=float, default=1e-3)
    a = ap.parse_args()
    if a.cmd == "compare":
        sys.exit(compare(a))
    if a.cmd == "run":
        run(a)
    elif a.cmd == "sweep":
        sys.exit(sweep(a))
    elif a.cmd == "report":
        report(a.dir)
    elif a.cmd == "report2":
        report_round2(a.runs, os.path.dirname(os.path.abspath(a.runs)))
    else:
        expect(a)


if __name__ == "__main__":
    main()
