"""Write the gradient fixtures for tests/test_grad.c (seeded; rerunning gives
byte-identical files).

    /usr/bin/python3 tools/make_grad_golden.py --out golden/grad

For every backward stage of attnres.h, random non-zero inputs (pseudo-queries
and gains too: a zero pseudo-query makes the depth weights uniform and hides
bugs) and a random upstream gradient `dout`; the stage's forward is run in
float64 with PyTorch and autograd gives the gradient of sum(dout * out) with
respect to every input and weight. Writes into --out, one file per stage:

  linear.safetensors       y = W x at T positions sharing W: dx, dw (summed)
  embedding.safetensors    untied lookup; tied: lookup + output projection
                           into the same table
  rmsnorm.safetensors      rows of magnitudes 1e-2 .. 1e3; per-head (QK-norm)
  rope.safetensors         6 positions, 4 heads
  attention.safetensors    causal attention over T positions: MHA, GQA, MQA
  mlp.safetensors          SwiGLU at T positions sharing its weights
  depth.safetensors        the softmax over depth: dsources, dpseudo_query,
                           dkey_gain; one source 50x larger; a single source
  blocks.safetensors       the block state: b0 and toy sublayers
                           f_l = c_l * h_l through Full, Block S = 2, an
                           uneven last block (L = 6, S = 4) and S = L
  cross_entropy.safetensors  mean over T positions: loss, dlogits
  model_NAME.grad.safetensors    the whole model: d(mean cross-entropy)/d(every
                           weight) of golden/NAME.model.safetensors on a short
                           sequence, stored as a checkpoint of that model (same
                           names, shapes and metadata: the C loader reads it)
  model_NAME.expect.safetensors  its tokens, targets, loss and logits, and
                           df_norm [L]: ||d loss / d f_l||, the norm over the
                           positions and dim of the gradient reaching every
                           sublayer's output f_l (autograd with the outputs
                           as inputs: what retain_grad on them would hold)

Inputs are float32 (what the C side reads); the gradients are computed from
them in float64 and stored as float32.
"""

import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402
import st  # noqa: E402

GENERATOR = "tools/make_grad_golden.py"


def randn(g, *shape, std=1.0, mean=0.0):
    """float32 values of mean + std * N(0, 1), drawn in float64 from generator g."""
    return (mean + std * torch.randn(*shape, generator=g, dtype=torch.float64)).to(torch.float32)


def leaf(x):
    """A float64 copy of the float32 tensor x that autograd tracks."""
    return x.to(torch.float64).requires_grad_(True)


def f32(x):
    """A float64 result rounded to float32 for storage."""
    return x.detach().to(torch.float32).contiguous()


def grads(out, dout, inputs):
    """The gradients of sum(dout * out) with respect to each input."""
    return torch.autograd.grad(out, inputs, grad_outputs=dout.to(torch.float64))


def write(out_dir, name, tensors):
    st.write(os.path.join(out_dir, f"{name}.safetensors"), tensors,
             {"fixture": f"grad_{name}", "generator": GENERATOR})
    print(f"wrote {out_dir}/{name}.safetensors ({len(tensors)} tensors)")


# --------------------------------------------------------------------------
# one function per stage, in the order of attnres.h
# --------------------------------------------------------------------------

def make_linear(out_dir, g):
    T, rows, cols = 5, 24, 40
    t = {"x": randn(g, T, cols), "w": randn(g, rows, cols, std=cols ** -0.5), "dout": randn(g, T, rows)}
    x, w = leaf(t["x"]), leaf(t["w"])
    t["dx"], t["dw"] = map(f32, grads(ref.linear(x, w), t["dout"], (x, w)))
    write(out_dir, "linear", t)


def make_embedding(out_dir, g):
    V, d, T = 16, 8, 6
    tokens = torch.tensor([3, 7, 3, 0, 15, 7], dtype=torch.int64)   # repeats: their rows sum
    t = {"tokens": tokens.to(torch.int32), "table": randn(g, V, d, std=0.5), "dout": randn(g, T, d)}
    table = leaf(t["table"])
    (t["dtable"],) = map(f32, grads(table[tokens], t["dout"], (table,)))
    # tied: the same table is the lookup and the output projection logits = table @ x
    t["x"], t["dlogits"] = randn(g, T, d), randn(g, T, V)
    table, x = leaf(t["table"]), leaf(t["x"])
    loss = (t["dout"].double() * table[tokens]).sum() + (t["dlogits"].double() * ref.linear(x, table)).sum()
    t["tied.dtable"], t["tied.dx"] = map(f32, torch.autograd.grad(loss, (table, x)))
    write(out_dir, "embedding", t)


def make_rmsnorm(out_dir, g):
    scales = torch.tensor([1e-2, 1.0, 30.0, 1000.0], dtype=torch.float64)[:, None]
    t = {"x": (torch.randn(4, 64, generator=g, dtype=torch.float64) * scales).to(torch.float32),
         "gain": randn(g, 64, mean=1.0, std=0.2), "dout": randn(g, 4, 64), "eps": torch.tensor([1e-5])}
    x, gain = leaf(t["x"]), leaf(t["gain"])
    t["dx"], t["dgain"] = map(f32, grads(ref.rmsnorm(x, gain, 1e-5), t["dout"], (x, gain)))
    # QK-norm: 6 heads of 16 share one gain [16]
    t["heads.x"], t["heads.gain"], t["heads.dout"] = randn(g, 96), randn(g, 16, mean=1.0, std=0.2), randn(g, 96)
    x, gain = leaf(t["heads.x"]), leaf(t["heads.gain"])
    out = ref.head_norm(x[None, :], gain, 16, 1e-5)[0]
    t["heads.dx"], t["heads.dgain"] = map(f32, grads(out, t["heads.dout"], (x, gain)))
    write(out_dir, "rmsnorm", t)


def make_rope(out_dir, g):
    pos = torch.tensor([0, 1, 2, 7, 19, 31], dtype=torch.int32)
    t = {"x": randn(g, 6, 64), "pos": pos, "dout": randn(g, 6, 64)}
    x = leaf(t["x"])
    (t["dx"],) = map(f32, grads(ref.rope(x, pos.long(), 16, 10000.0), t["dout"], (x,)))
    write(out_dir, "rope", t)


def attention_core(q, k, v, n_heads, n_kv_heads):
    """reference.attention after its projections and RoPE: q [T, n_heads*hd],
    k, v [T, kv_dim] -> the heads' outputs concatenated [T, n_heads*hd]."""
    T, hd = q.shape[0], k.shape[1] // n_kv_heads
    kv_of_head = torch.arange(n_heads) // (n_heads // n_kv_heads)
    qh = q.reshape(T, n_heads, hd)
    kh = k.reshape(T, n_kv_heads, hd)[:, kv_of_head]
    vh = v.reshape(T, n_kv_heads, hd)[:, kv_of_head]
    scores = torch.einsum("thd,shd->hts", qh, kh) / math.sqrt(hd)
    scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(diagonal=1), float("-inf"))
    return torch.einsum("hts,shd->thd", ref.softmax(scores, dim=-1), vh).reshape(T, n_heads * hd)


def make_attention(out_dir, g):
    t = {}
    T, hd, n_heads = 7, 8, 4
    for name, n_kv in (("mha", 4), ("gqa", 2), ("mqa", 1)):
        t[f"{name}.q"], t[f"{name}.k"] = randn(g, T, n_heads * hd), randn(g, T, n_kv * hd)
        t[f"{name}.v"], t[f"{name}.dout"] = randn(g, T, n_kv * hd), randn(g, T, n_heads * hd)
        t[f"{name}.n_kv_heads"] = torch.tensor([n_kv], dtype=torch.int32)
        q, k, v = leaf(t[f"{name}.q"]), leaf(t[f"{name}.k"]), leaf(t[f"{name}.v"])
        out = attention_core(q, k, v, n_heads, n_kv)
        t[f"{name}.out"] = f32(out)
        t[f"{name}.dq"], t[f"{name}.dk"], t[f"{name}.dv"] = map(f32, grads(out, t[f"{name}.dout"], (q, k, v)))
    write(out_dir, "attention", t)


def make_mlp(out_dir, g):
    T, d, hid = 3, 32, 48
    t = {"x": randn(g, T, d), "w1": randn(g, hid, d, std=d ** -0.5), "w2": randn(g, d, hid, std=hid ** -0.5),
         "w3": randn(g, hid, d, std=d ** -0.5), "dout": randn(g, T, d)}
    x, w1, w2, w3 = (leaf(t[k]) for k in ("x", "w1", "w2", "w3"))
    t["dx"], t["dw1"], t["dw2"], t["dw3"] = map(f32, grads(ref.mlp(x, w1, w2, w3), t["dout"], (x, w1, w2, w3)))
    write(out_dir, "mlp", t)


def make_depth(out_dir, g):
    t = {}
    scale = torch.tensor([1.0, 1.0, 50.0, 1.0, 1.0], dtype=torch.float64)[:, None]
    cases = (("depth", (torch.randn(5, 64, generator=g, dtype=torch.float64) * scale).to(torch.float32)),
             ("single", randn(g, 1, 64)))
    for name, src in cases:
        t[f"{name}.sources"], t[f"{name}.pseudo_query"] = src, randn(g, 64, std=0.5)
        t[f"{name}.key_gain"], t[f"{name}.dout"] = randn(g, 64, mean=1.0, std=0.2), randn(g, 64)
        s, w, kg = leaf(src), leaf(t[f"{name}.pseudo_query"]), leaf(t[f"{name}.key_gain"])
        out, alpha = ref.depth_attention(s, w, kg, 1e-5)
        t[f"{name}.alpha"] = f32(alpha)
        t[f"{name}.dsources"], t[f"{name}.dpseudo_query"], t[f"{name}.dkey_gain"] = \
            map(f32, grads(out, t[f"{name}.dout"], (s, w, kg)))
    write(out_dir, "depth", t)


def toy_depth_stack(L, S, b0, c, pq, kg, eps=1e-5):
    """reference.forward's AttnRes loop for one position, with the toy
    sublayer f_l(h) = c_l * h: blocks, partials, the output aggregation."""
    blocks, partial = [b0], None
    for l in range(L):
        sources = blocks if partial is None else blocks + [partial]
        h, _ = ref.depth_attention(torch.stack(sources), pq[l], kg[l], eps)
        f = c[l] * h
        partial = f if partial is None else partial + f
        if (l + 1) % S == 0 or l == L - 1:        # block complete (a last one may be short)
            blocks.append(partial)
            partial = None
    out, _ = ref.depth_attention(torch.stack(blocks), pq[L], kg[L], eps)
    return out


def make_blocks(out_dir, g):
    t = {}
    d = 32
    for name, L, S in (("full", 4, 1), ("s2", 6, 2), ("uneven", 6, 4), ("s_eq_l", 4, 4)):
        t[f"{name}.config"] = torch.tensor([L, S], dtype=torch.int32)
        t[f"{name}.b0"], t[f"{name}.c"] = randn(g, d), randn(g, L, d, mean=1.0, std=0.5)
        t[f"{name}.pseudo_query"] = randn(g, L + 1, d, std=0.5)
        t[f"{name}.key_gain"] = randn(g, L + 1, d, mean=1.0, std=0.2)
        t[f"{name}.dout"] = randn(g, d)
        b0, c, pq, kg = (leaf(t[f"{name}.{k}"]) for k in ("b0", "c", "pseudo_query", "key_gain"))
        out = toy_depth_stack(L, S, b0, c, pq, kg)
        t[f"{name}.out"] = f32(out)
        t[f"{name}.db0"], t[f"{name}.dc"], t[f"{name}.dpseudo_query"], t[f"{name}.dkey_gain"] = \
            map(f32, grads(out, t[f"{name}.dout"], (b0, c, pq, kg)))
    write(out_dir, "blocks", t)


def make_cross_entropy(out_dir, g):
    T, V = 5, 40
    logits = randn(g, T, V, std=3.0)
    logits[2, 5] = 60.0                             # a confident row: exp() must not overflow
    targets = torch.tensor([0, 17, 5, 39, 17], dtype=torch.int32)
    t = {"logits": logits, "targets": targets}
    x = leaf(logits)
    loss = torch.nn.functional.cross_entropy(x, targets.long())     # mean over positions
    t["loss"] = f32(loss.reshape(1))
    (t["dlogits"],) = map(f32, torch.autograd.grad(loss, (x,)))
    write(out_dir, "cross_entropy", t)


# --------------------------------------------------------------------------
# the whole model, at the golden configs (tools/make_golden.py writes the
# models, with random non-zero pseudo-queries and gains)
# --------------------------------------------------------------------------

T_SEQ = 8
MODEL_CASES = ["standard", "full", "block_s2", "block_s4", "block_sl", "gqa", "tied", "standard_gqa_tied",
               "head_dim", "qk_norm", "qk_norm_block", "rope_llama3"]


def forward_keeping_outputs(cfg, weights, tokens):
    """reference.forward, also returning every sublayer's output f_l [T, dim]
    (l = 0 .. L-1) as the graph holds it, so autograd can differentiate the
    loss with respect to them. reference.forward calls reference.sublayer
    once per sublayer in order; it is wrapped for the call."""
    outputs, sublayer = [], ref.sublayer

    def keep(cfg_, w, l, h, pos):
        f, kv = sublayer(cfg_, w, l, h, pos)
        outputs.append(f)
        return f, kv

    ref.sublayer = keep
    try:
        logits, _ = ref.forward(cfg, weights, tokens)
    finally:
        ref.sublayer = sublayer
    assert len(outputs) == cfg.n_sublayers
    return logits, outputs


def make_model_grad(out_dir, golden_dir, name, g):
    cfg, weights = ref.load_checkpoint(os.path.join(golden_dir, f"{name}.model.safetensors"))
    tokens = torch.randint(0, cfg.vocab_size, (T_SEQ,), generator=g, dtype=torch.int64)
    targets = torch.randint(0, cfg.vocab_size, (T_SEQ,), generator=g, dtype=torch.int64)
    leaves = {n: leaf(w) for n, w in weights.items()}
    logits, outputs = forward_keeping_outputs(cfg, leaves, tokens)
    loss = torch.nn.functional.cross_entropy(logits, targets)          # mean over positions
    names = list(leaves)
    got = torch.autograd.grad(loss, [leaves[n] for n in names] + outputs)
    grad = dict(zip(names, got[:len(names)]))
    df_norm = torch.stack([df.norm() for df in got[len(names):]])     # [L], over [T, dim]
    ref.save_checkpoint(os.path.join(out_dir, f"model_{name}.grad.safetensors"), cfg, grad)
    st.write(os.path.join(out_dir, f"model_{name}.expect.safetensors"),
             {"tokens": tokens.to(torch.int32), "targets": targets.to(torch.int32),
              "loss": f32(loss.reshape(1)), "logits": f32(logits), "df_norm": f32(df_norm)},
             {"fixture": "grad_model", "case": name, "generator": GENERATOR})
    print(f"wrote {out_dir}/model_{name}.{{grad,expect}}.safetensors (loss {float(loss):.4f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="golden/grad", help="output directory (default: golden/grad)")
    ap.add_argument("--golden", default="golden", help="the golden models (default: golden)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for seed, make in enumerate((make_linear, make_embedding, make_rmsnorm, make_rope, make_attention,
                                 make_mlp, make_depth, make_blocks, make_cross_entropy)):
        make(args.out, torch.Generator().manual_seed(2026_0700 + seed))
    for seed, name in enumerate(MODEL_CASES):
        make_model_grad(args.out, args.golden, name, torch.Generator().manual_seed(2026_0800 + seed))


if __name__ == "__main__":
    main()
