"""Write the golden fixtures for the C tests (seeded; rerunning gives
byte-identical files).

    /usr/bin/python3 tools/make_golden.py --out golden

Writes into --out:
  primitives.safetensors     inputs and float64-computed outputs of each building block
  NAME.model.safetensors     a random model (checkpoint format of tools/reference.py)
  NAME.expect.safetensors    its whole-prompt forward pass: tokens, logits, h, out_h,
                             k_cache, v_cache (+ alpha, alpha_count, blocks for attnres,
                             and phase1_o, phase1_max, phase1_sum of the two-phase path)
  q8_primitives.safetensors  matrices and their group-wise int8 form (tools/quantize.py)
  q8_NAME.model.safetensors  the model NAME as a q8 checkpoint (I8 matrices + F32 scales)
  w8a8_NAME.expect.safetensors  the same with every matvec input fake-quantized too (W8A8);
                             w8a8_block_s2.model.safetensors its q8 file asking for it
  q8_NAME.expect.safetensors the forward pass of its fake-quantized weights on NAME's
                             prompt: tokens, logits, out_h (+ alpha for attnres)

Every input is rounded to float32 first (that is what the C side reads), and
the outputs are computed from those float32 values in float64, then stored as
float32.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quantize as q8  # noqa: E402
import reference as ref  # noqa: E402
import st  # noqa: E402

T_PROMPT = 20
GENERATOR = "tools/make_golden.py"


def randn(g, *shape, std=1.0, mean=0.0):
    """float32 values of mean + std * N(0, 1), drawn in float64 from generator g."""
    return (mean + std * torch.randn(*shape, generator=g, dtype=torch.float64)).to(torch.float32)


def f64(x):
    """The float32 tensor x as float64, for computing."""
    return x.to(torch.float64)


def f32(x):
    """A float64 result rounded to float32 for storage."""
    return x.to(torch.float32).contiguous()


# --------------------------------------------------------------------------
# A. primitives
# --------------------------------------------------------------------------

def make_primitives(path):
    g = torch.Generator().manual_seed(20260101)
    t = {}

    # RMSNorm: rows of very different magnitude
    scales = torch.tensor([1e-2, 1.0, 30.0, 1000.0], dtype=torch.float64)[:, None]
    x = (torch.randn(4, 64, generator=g, dtype=torch.float64) * scales).to(torch.float32)
    gain = randn(g, 64, mean=1.0, std=0.2)
    eps = torch.tensor([1e-5], dtype=torch.float32)
    t["rmsnorm.x"], t["rmsnorm.weight"], t["rmsnorm.eps"] = x, gain, eps
    t["rmsnorm.out"] = f32(ref.rmsnorm(f64(x), f64(gain), float(eps[0])))

    # softmax: ordinary, near +80, near -80, ties, wide spread
    ties = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)[torch.randint(0, 3, (17,), generator=g)]
    ties[3] = ties[11] = 2.0  # the maximum is tied for sure
    x = torch.stack([
        torch.randn(17, generator=g, dtype=torch.float64) * 3.0,
        80.0 + torch.randn(17, generator=g, dtype=torch.float64),
        -80.0 + torch.randn(17, generator=g, dtype=torch.float64),
        ties,
        torch.randn(17, generator=g, dtype=torch.float64) * 15.0,
    ]).to(torch.float32)                                      # [5, 17]
    t["softmax.x"] = x
    t["softmax.out"] = f32(ref.softmax(f64(x), dim=-1))

    # matvec
    w = randn(g, 24, 40, std=40 ** -0.5)
    x = randn(g, 40)
    t["matvec.w"], t["matvec.x"] = w, x
    t["matvec.out"] = f32(f64(w) @ f64(x))

    # RoPE: 6 positions, 4 heads of head_dim 16
    x = randn(g, 6, 64)
    pos = torch.tensor([0, 1, 2, 7, 19, 31], dtype=torch.int32)
    head_dim = torch.tensor([16], dtype=torch.int32)
    theta = torch.tensor([10000.0], dtype=torch.float32)
    t["rope.x"], t["rope.pos"], t["rope.head_dim"], t["rope.theta"] = x, pos, head_dim, theta
    t["rope.out"] = f32(ref.rope(f64(x), pos.long(), int(head_dim[0]), float(theta[0])))

    # depth attention: 5 sources, source 2 is 50x larger than the others
    src_scale = torch.tensor([1.0, 1.0, 50.0, 1.0, 1.0], dtype=torch.float64)[:, None]
    src = (torch.randn(5, 64, generator=g, dtype=torch.float64) * src_scale).to(torch.float32)
    pq = randn(g, 64, std=0.3)
    kg = randn(g, 64, mean=1.0, std=0.2)
    eps = torch.tensor([1e-5], dtype=torch.float32)
    t["depth.sources"], t["depth.pseudo_query"], t["depth.key_gain"], t["depth.eps"] = src, pq, kg, eps
    out, alpha = ref.depth_attention(f64(src), f64(pq), f64(kg), float(eps[0]))
    t["depth.alpha"], t["depth.out"] = f32(alpha), f32(out)

    # SwiGLU MLP (input already normalised: no RMSNorm here)
    x = randn(g, 64)
    w1, w2, w3 = randn(g, 96, 64, std=64 ** -0.5), randn(g, 64, 96, std=96 ** -0.5), randn(g, 96, 64, std=64 ** -0.5)
    t["mlp.x"], t["mlp.w1"], t["mlp.w2"], t["mlp.w3"] = x, w1, w2, w3
    t["mlp.out"] = f32(ref.mlp(f64(x), f64(w1), f64(w2), f64(w3)))

    # Values whose squares overflow float32 (the float64 reference does not
    # care): a row at 1e20, a row with one element of 1e38, a row so small
    # that eps dominates. A plain float sum of squares is Inf on the first
    # two, and 1/sqrt(Inf) = 0 would zero them.
    x = torch.randn(3, 64, generator=g, dtype=torch.float64)
    x[0] *= 1e20
    x[1, 5] = 1e38
    x[2] *= 1e-30
    x = x.to(torch.float32)
    t["rmsnorm_huge.x"] = x
    t["rmsnorm_huge.out"] = f32(ref.rmsnorm(f64(x), f64(gain), float(eps[0])))
    # depth attention with logits far outside expf's range (|s| > 88): a
    # softmax that skips the max-subtraction gives Inf/Inf = NaN here
    src = randn(g, 5, 64)
    pq = randn(g, 64, std=40.0)
    logits = ref.rmsnorm(f64(src), f64(kg), float(eps[0])) @ f64(pq)
    assert float(logits.abs().max()) > 88.0 and float(logits.max() - logits.min()) > 88.0
    t["depth_big.sources"], t["depth_big.pseudo_query"] = src, pq
    out, alpha = ref.depth_attention(f64(src), f64(pq), f64(kg), float(eps[0]))
    t["depth_big.logits"], t["depth_big.alpha"], t["depth_big.out"] = f32(logits), f32(alpha), f32(out)
    # depth attention over a source with an element of 1e38 (its key norm
    # overflows a float sum of squares) and one at 1e20
    src = randn(g, 4, 64)
    src[1, 7] = 1e38
    src[2] *= 1e20
    t["depth_huge.sources"] = src
    out, alpha = ref.depth_attention(f64(src), f64(pq) / 40.0, f64(kg), float(eps[0]))
    t["depth_huge.pseudo_query"] = f32(f64(pq) / 40.0)
    t["depth_huge.alpha"], t["depth_huge.out"] = f32(alpha), f32(out)
    st.write(path, t, {"fixture": "primitives", "generator": GENERATOR})


# --------------------------------------------------------------------------
# B. models
# --------------------------------------------------------------------------

def _cfg(n_layers, residual="attnres", block_size=0, n_heads=4, n_kv_heads=4, vocab_size=128,
         tie_embeddings=False, norm_eps=1e-5, rope_theta=10000.0, head_dim=0, qk_norm=False,
         rope_scaling=None, eos_token_id=()):
    return ref.Config(dim=64, hidden_dim=96, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv_heads,
                      vocab_size=vocab_size, seq_len=32, rope_theta=rope_theta, norm_eps=norm_eps,
                      tie_embeddings=tie_embeddings, residual=residual, block_size=block_size,
                      head_dim_explicit=head_dim, qk_norm=qk_norm, rope_scaling=rope_scaling,
                      eos_token_id=eos_token_id)


# (name, config, seed[, edit applied to the random weights])
CASES = [
    ("standard", _cfg(3, residual="standard"), 101),
    ("full", _cfg(3, block_size=1), 102),
    ("block_s2", _cfg(3, block_size=2, norm_eps=1e-6, rope_theta=500000.0), 103),
    ("block_s4", _cfg(3, block_size=4), 104),
    ("block_sl", _cfg(3, block_size=6), 105),
    ("gqa", _cfg(2, block_size=2, n_heads=8, n_kv_heads=2, vocab_size=256), 106),
    ("tied", _cfg(2, block_size=3, n_kv_heads=2, tie_embeddings=True), 107),
    ("standard_gqa_tied", _cfg(2, residual="standard", n_kv_heads=1, tie_embeddings=True), 108),
    ("huge_standard", _cfg(2, residual="standard"), 109, "huge"),
    ("huge_block", _cfg(2, block_size=2), 110, "huge"),
    # format 2: heads wider than dim / n_heads (n_heads*head_dim = 96 != dim = 64), as in Qwen3,
    # and QK-norm (RMSNorm per q and k head before RoPE), standard and Block AttnRes
    ("head_dim", _cfg(2, residual="standard", n_heads=4, n_kv_heads=2, head_dim=24), 111),
    ("qk_norm", _cfg(2, residual="standard", n_heads=4, n_kv_heads=2, head_dim=24, qk_norm=True,
                     rope_theta=1000000.0, tie_embeddings=True), 112),
    ("qk_norm_block", _cfg(3, block_size=2, n_heads=2, n_kv_heads=1, head_dim=48, qk_norm=True), 113),
    # format 3: Llama 3.x's RoPE scaling. head_dim 16, theta 100: the 8 pair
    # wavelengths are 6.3, 11.2, 19.9, 35.3, ...; against an original context
    # of 14 with high/low factors 2 and 1, the first is kept (< 7), the second
    # blended (7 .. 14), the rest divided by 8; prompt positions 14..19 lie
    # past the original context. The eos ids only ride along in the metadata.
    ("rope_llama3", _cfg(3, block_size=2, rope_theta=100.0, eos_token_id=(5, 7),
                         rope_scaling={"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 2.0, "original_max_position_embeddings": 14}), 114),
]


def random_weights(cfg, g):
    """Random float32 weights in the canonical order: embeddings N(0, 0.5^2),
    linear weights N(0, 1/in_features), norm gains 1 + 0.2 N(0, 1),
    pseudo-queries N(0, 0.3^2) (non-zero, so depth weights are not uniform)."""
    weights = {}
    for name, shape in ref.tensor_names_and_shapes(cfg):
        if name == "tok_embeddings.weight":
            weights[name] = randn(g, *shape, std=0.5)
        elif name.endswith("pseudo_query"):
            weights[name] = randn(g, *shape, std=0.3)
        elif name.endswith("norm.weight"):       # attention_norm, ffn_norm, key_norm, q/k_norm, norm
            weights[name] = randn(g, *shape, mean=1.0, std=0.2)
        else:                                    # a linear layer [out, in]
            weights[name] = randn(g, *shape, std=shape[1] ** -0.5)
    return weights


def make_huge_rows(weights, tokens):
    """Finite embeddings whose squares overflow float32: the row of the
    prompt's 4th token scaled to ~1e20, and one element of the 8th token's
    row set to 1e38. The float64 reference gives ordinary logits; a float
    sum of squares is Inf, and 1/sqrt(Inf) = 0 would zero the stream."""
    emb = weights["tok_embeddings.weight"]
    a, b = int(tokens[3]), int(tokens[7])
    assert a != b
    emb[a] *= 2e20
    emb[b, 0] = 1e38


EDITS = {"huge": make_huge_rows}   # the edits CASES may name


def make_case(out_dir, name, cfg, seed, edit=None):
    g = torch.Generator().manual_seed(seed)
    weights = random_weights(cfg, g)
    tokens = torch.randint(0, cfg.vocab_size, (T_PROMPT,), generator=g, dtype=torch.int64)
    if edit:
        edit(weights, tokens)

    model_path = os.path.join(out_dir, f"{name}.model.safetensors")
    ref.save_checkpoint(model_path, cfg, weights)
    # compute from what was written, exactly as the C side will read it
    cfg_read, weights_read = ref.load_checkpoint(model_path)
    assert cfg_read == cfg
    logits, tr = ref.forward(cfg_read, weights_read, tokens)

    expect = {
        "tokens": tokens.to(torch.int32),
        "logits": f32(logits),           # [T, vocab_size]
        "h": f32(tr["h"]),               # [T, L, dim]
        "out_h": f32(tr["out_h"]),       # [T, dim]
        "k_cache": f32(tr["k_cache"]),   # [n_layers, T, kv_dim]
        "v_cache": f32(tr["v_cache"]),   # [n_layers, T, kv_dim]
    }
    if cfg.residual == "attnres":
        expect["alpha"] = f32(tr["alpha"])                 # [T, L+1, N+1]
        expect["alpha_count"] = tr["alpha_count"].to(torch.int32)  # [L+1]
        expect["blocks"] = f32(tr["blocks"])               # [T, N+1, dim]
        # the two-phase path must compute the same thing; keep its phase-1 statistics
        logits2, stats = ref.forward_two_phase(cfg_read, weights_read, tokens)
        gap = float((logits2 - logits).abs().max())
        assert gap < 1e-9, f"{name}: two-phase logits differ from direct by {gap}"
        for key in ("phase1_o", "phase1_max", "phase1_sum"):  # [T, N+1, S(, dim)]
            expect[key] = f32(stats[key])
    st.write(os.path.join(out_dir, f"{name}.expect.safetensors"), expect,
             {"fixture": "expect", "case": name, "generator": GENERATOR})
    return cfg


# --------------------------------------------------------------------------
# C. group-wise int8 (q8)
# --------------------------------------------------------------------------

Q8_GROUP = 32
Q8_CASES = ["standard", "full", "block_s2", "gqa", "tied", "standard_gqa_tied", "rope_llama3"]


def make_q8_primitives(path):
    """Matrices whose int8 form C must reproduce byte for byte: random rows of
    very different magnitudes, a zero group, a group of subnormals, and rows
    of exact ties (k + 1/2) * s, where half-away-from-zero and half-to-even
    disagree."""
    g = torch.Generator().manual_seed(20260315)
    G = Q8_GROUP
    rows = randn(g, 6, 4 * G) * torch.tensor([1e-3, 0.05, 1.0, 7.0, 300.0, 1e30], dtype=torch.float32)[:, None]
    rows[1, G:2 * G] = 0.0                                   # an all-zero group: scale 0
    rows[2, 2 * G:3 * G] = randn(g, G) * 1e-42               # subnormals: 1e-42/127 is still > 0 ...
    rows[2, 3 * G:] = randn(g, G) * 1e-44                    # ... this one's scale underflows to 0
    s = 2.0 ** -8
    ties = torch.arange(-G // 2, G // 2, dtype=torch.float64) + 0.5   # -15.5 .. 15.5
    tie_rows = torch.stack([torch.cat([ties, ties.flip(0)] * 2), torch.cat([-ties, ties] * 2)]) * s
    tie_rows[:, ::G] = 127 * s                               # the max of every group: s exactly
    w = torch.cat([rows, tie_rows.to(torch.float32)])        # [8, 4G]
    q, scale = q8.quantize_q8(w, G)
    t = {"w": w, "q": q, "scale": scale, "group_size": torch.tensor([G], dtype=torch.int32),
         "dequantized": f32(q8.dequantize_q8(q, scale, G))}
    st.write(path, t, {"fixture": "q8_primitives", "generator": GENERATOR})


def make_q8_case(out_dir, name):
    """q8_NAME: NAME's model as a q8 checkpoint, and the logits of its
    fake-quantized weights on NAME's prompt (float64, reference.forward)."""
    cfg, weights = ref.load_checkpoint(os.path.join(out_dir, f"{name}.model.safetensors"))
    tokens = torch.from_numpy(st.read(os.path.join(out_dir, f"{name}.expect.safetensors"))[0]["tokens"]).long()
    model_path = os.path.join(out_dir, f"q8_{name}.model.safetensors")
    q8.save_checkpoint_q8(model_path, cfg, weights, Q8_GROUP)
    # compute from what was written: its int8 values and scales
    cfg_read, group, fp32, mats = q8.load_checkpoint_q8(model_path)
    assert cfg_read == cfg and group == Q8_GROUP
    fq_cfg, fq = q8.fake_quantize(cfg, weights, Q8_GROUP)
    for mat, (q, s) in mats.items():
        assert torch.equal(q8.dequantize_q8(q, s, group), fq[mat]), mat
    logits, tr = ref.forward(fq_cfg, fq, tokens)
    expect = {"tokens": tokens.to(torch.int32), "logits": f32(logits), "out_h": f32(tr["out_h"])}
    if cfg.residual == "attnres":
        expect["alpha"] = f32(tr["alpha"])                   # [T, L+1, N+1]
    fp32_logits, _ = ref.forward(cfg, weights, tokens)
    st.write(os.path.join(out_dir, f"q8_{name}.expect.safetensors"), expect,
             {"fixture": "q8_expect", "case": name, "group_size": str(Q8_GROUP), "generator": GENERATOR})
    return float((logits - fp32_logits).abs().max())


# W8A8 rounds every matvec input, so its output is a step function of the
# activations: a value within float rounding of a boundary k + 1/2 (in units
# of its group's step s) can round one way in C's float32 and the other in
# this float64 reference, and then the two differ by a whole step there (up
# to 0.2 in a logit). Measured on these models, C's activations sit 5e-6 to
# 1e-5 of a step from the reference's. So the W8A8 fixtures use prompts on
# which every activation is at least W8A8_MARGIN of a step (ten times that)
# from a boundary: drawn with seeds W8A8_SEED, W8A8_SEED + 1, ... until one
# is; the seed and the margin go into the fixture's metadata. On such a
# prompt the comparison at 1e-4 is well-posed, and it is made in full.
W8A8_MARGIN = 1e-4
W8A8_SEED = 880000


def make_w8a8_case(out_dir, name):
    """w8a8_NAME: the logits of NAME's model with int8 weights AND int8
    activations (every matvec input fake-quantized, quantize.forward_w8a8),
    on a prompt drawn as described above. The weights are those of
    q8_NAME.model (a W8A8 engine runs that file with int8_activations set);
    w8a8_block_s2.model is the same file with "activations": "int8" in its
    metadata. Returns the largest change from the W8 logits, the smallest
    rounding margin of any activation, and the prompt seed."""
    cfg, weights = ref.load_checkpoint(os.path.join(out_dir, f"{name}.model.safetensors"))
    fq_cfg, fq = q8.fake_quantize(cfg, weights, Q8_GROUP)
    for seed in range(W8A8_SEED, W8A8_SEED + 1000):
        g = torch.Generator().manual_seed(seed)
        tokens = torch.randint(0, cfg.vocab_size, (T_PROMPT,), generator=g, dtype=torch.int64)
        margins = []
        logits, tr = q8.forward_w8a8(fq_cfg, fq, tokens, Q8_GROUP, margins=margins)
        if min(margins) >= W8A8_MARGIN:
            break
    else:
        raise RuntimeError(f"w8a8_{name}: no prompt with every activation {W8A8_MARGIN} from a boundary")
    margin = min(margins)
    expect = {"tokens": tokens.to(torch.int32), "logits": f32(logits), "out_h": f32(tr["out_h"])}
    if cfg.residual == "attnres":
        expect["alpha"] = f32(tr["alpha"])                   # [T, L+1, N+1]
        logits2, _ = q8.forward_w8a8(fq_cfg, fq, tokens, Q8_GROUP, two_phase=True)
        assert float((logits2 - logits).abs().max()) < 1e-9, name   # the paths agree in the reference too
    w8_logits, _ = ref.forward(fq_cfg, fq, tokens)
    st.write(os.path.join(out_dir, f"w8a8_{name}.expect.safetensors"), expect,
             {"fixture": "w8a8_expect", "case": name, "group_size": str(Q8_GROUP), "prompt_seed": str(seed),
              "min_rounding_margin": f"{margin:.6e}", "generator": GENERATOR})
    if name == "block_s2":
        q8.save_checkpoint_q8(os.path.join(out_dir, f"w8a8_{name}.model.safetensors"), cfg, weights, Q8_GROUP,
                              int8_activations=True)
    return float((logits - w8_logits).abs().max()), margin, seed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="golden", help="output directory (default: golden)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    make_primitives(os.path.join(args.out, "primitives.safetensors"))
    print(f"wrote {args.out}/primitives.safetensors")
    for name, cfg, seed, *edit in CASES:
        make_case(args.out, name, cfg, seed, EDITS[edit[0]] if edit else None)
        extra = f" S={cfg.block_size} N={cfg.n_blocks}" if cfg.residual == "attnres" else ""
        print(f"wrote {args.out}/{name}.{{model,expect}}.safetensors  "
              f"({cfg.residual}{extra}, L={cfg.n_sublayers}, heads {cfg.n_heads}/{cfg.n_kv_heads}, "
              f"vocab {cfg.vocab_size}, tied={cfg.tie_embeddings}, seed {seed})")
    make_q8_primitives(os.path.join(args.out, "q8_primitives.safetensors"))
    print(f"wrote {args.out}/q8_primitives.safetensors")
    for name in Q8_CASES:
        gap = make_q8_case(args.out, name)
        print(f"wrote {args.out}/q8_{name}.{{model,expect}}.safetensors  (group {Q8_GROUP}; "
              f"max |logit - fp32 logit| {gap:.3g})")
    for name in Q8_CASES:
        gap, margin, seed = make_w8a8_case(args.out, name)
        print(f"wrote {args.out}/w8a8_{name}.expect.safetensors  (max |logit - W8 logit| {gap:.3g}; prompt seed "
              f"{seed}: every activation >= {margin:.2e} of a step from a rounding boundary)")


if __name__ == "__main__":
    main()
