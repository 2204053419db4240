"""Independent checks of tools/reference.py and of the golden fixtures.

    /usr/bin/python3 tools/check_reference.py --golden golden

1. A second implementation of the model, written separately in numpy
   (float64), that decodes ONE TOKEN AT A TIME with an explicit KV-cache and
   an explicit block state, the way the C engine does. RoPE here uses complex
   multiplication instead of the pair formula; a format-2 head_dim and
   QK-norm (RMSNorm over each q and k head before RoPE) from their
   definition. Its logits and traces must
   match reference.forward (whole prompt, causal mask) to 1e-9 (times the
   tensor's largest magnitude when that is above 1), and the stored
   float32 fixtures to float32 rounding.
2. The primitives fixture, recomputed here in numpy.
3. AttnRes invariants: every alpha row sums to 1 and is zero past its source
   count; with all pseudo-queries zero the depth weights are uniform.
4. st.py: reading then rewriting every fixture reproduces it byte for byte,
   and the header is compact JSON, metadata first, padded to 8 bytes.
5. The experiment's shipped models (--experiments, default
   models/experiments): for every NAME.expect.safetensors there (written by
   `tools/experiment.py expect`, read by tests/test_model.c, which compares
   the C logits with it), the numpy decoder on NAME.safetensors gives
   reference.forward's logits to 1e-9, and the stored logits are those
   float64 logits rounded to float32. So the C engine, in that test,
   equals an independently checked PyTorch result.
6. The int8 fixtures: each q8_NAME model dequantized here in numpy
   (scale * q per group of group_size; the tied output projection
   quantized here from the embeddings by the documented rule: scale =
   max|w|/127 in float32, round half away from zero), run through the
   numpy decoder above, gives the stored fake-quantization logits to 1e-5
   of max(1, |logit|) (float32 products of scale and q against exact ones);
   and with every matvec input rounded to int8 by the same rule inside
   the numpy decoder (W8A8), the stored w8a8_NAME logits, whose prompts
   keep every activation at least 1e-4 of a step from a rounding boundary.
7. Device placement of the training modules (tools/train.py TinyLM and
   tools/experiment.py ExperimentLM with every ablation): with the weights
   and tokens on PyTorch's "meta" device, a forward and backward pass runs
   and no operation sees tensors of two devices. A tensor made on the CPU
   inside forward would fail here as it would on a GPU.
Exits with status 1 if any check fails.
"""

import argparse
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402
import st  # noqa: E402

FAILED = []


def report(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        FAILED.append(what)


# --------------------------------------------------------------------------
# The second implementation: numpy, one token at a time, KV-cache
# --------------------------------------------------------------------------

def np_rmsnorm(x, g, eps):
    return x * (1.0 / np.sqrt(np.dot(x, x) / x.shape[0] + eps)) * g


def np_softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def np_rope_freqs(head_dim, theta, meta):
    """theta^(-2i/head_dim) per pair, then the checkpoint's rope_scaling (format
    3) pair by pair as Hugging Face's transformers defines it: "linear" divides
    every frequency by factor; "llama3" keeps a pair whose wavelength
    2 pi / f is below original / high_freq_factor, divides by factor one above
    original / low_freq_factor, and in between mixes f / factor and f with
    weight s = (original / wavelength - low) / (high - low) on f."""
    freqs = [1.0 / theta ** (2.0 * i / head_dim) for i in range(head_dim // 2)]
    kind = meta.get("rope_scaling")
    if kind is None:
        return np.array(freqs)
    factor = float(meta["rope_scaling_factor"])
    if kind == "linear":
        return np.array([f / factor for f in freqs])
    assert kind == "llama3", kind
    low, high = float(meta["rope_scaling_low_freq_factor"]), float(meta["rope_scaling_high_freq_factor"])
    original = float(meta["rope_scaling_original_max_position_embeddings"])
    out = []
    for f in freqs:
        wavelength = 2.0 * np.pi / f
        if wavelength < original / high:
            out.append(f)
        elif wavelength > original / low:
            out.append(f / factor)
        else:
            s = (original / wavelength - low) / (high - low)
            out.append((1.0 - s) * f / factor + s * f)
    return np.array(out)


def np_rope(x, pos, head_dim, freqs):
    """Complex form: pair (x[2i], x[2i+1]) is the number x[2i] + j x[2i+1],
    multiplied by exp(j * pos * freqs[i]) (np_rope_freqs)."""
    z = x[0::2] + 1j * x[1::2]                                 # [n/2]
    rot = np.tile(np.exp(1j * pos * freqs), x.shape[0] // head_dim)
    z = z * rot
    out = np.empty_like(x)
    out[0::2], out[1::2] = z.real, z.imag
    return out


def np_depth(sources, q, g, eps):
    """sources: list of [dim] vectors. Returns (out [dim], alpha [n])."""
    logits = np.array([np.dot(q, np_rmsnorm(v, g, eps)) for v in sources])
    alpha = np_softmax(logits)
    out = np.zeros_like(sources[0])
    for a, v in zip(alpha, sources):
        out += a * v
    return out, alpha


class Decoder:
    """Token-by-token decoder over raw checkpoint arrays (float64)."""

    def __init__(self, arrays, meta):
        self.w = {k: v.astype(np.float64) for k, v in arrays.items()}
        m = meta
        self.dim, self.n_layers = int(m["dim"]), int(m["n_layers"])
        self.n_heads, self.n_kv = int(m["n_heads"]), int(m["n_kv_heads"])
        self.seq_len, self.vocab = int(m["seq_len"]), int(m["vocab_size"])
        self.theta, self.eps = float(m["rope_theta"]), float(m["norm_eps"])
        self.tied = m["tie_embeddings"] == "true"
        self.attnres = m["residual"] == "attnres"
        self.S = int(m.get("block_size", "0"))
        self.hd = int(m.get("head_dim", "0")) or self.dim // self.n_heads   # format 2: explicit
        self.qk_norm = m.get("qk_norm", "false") == "true"
        self.freqs = np_rope_freqs(self.hd, self.theta, m)   # [hd/2]
        self.kv_dim = self.n_kv * self.hd
        self.L = 2 * self.n_layers
        self.key_cache = np.zeros((self.n_layers, self.seq_len, self.kv_dim))
        self.value_cache = np.zeros((self.n_layers, self.seq_len, self.kv_dim))
        self.act_group = 0   # > 0: W8A8, every matvec input rounded to int8 in groups of this size

    def mv(self, w, x):
        """w @ x; for W8A8 x first becomes its group-wise int8 form s * q, by the
        documented rule (s = max|x| / 127, q = round half away from zero of x / s)."""
        if self.act_group:
            g = x.reshape(-1, self.act_group)
            s = np.abs(g).max(axis=1, keepdims=True) / 127.0
            y = g / np.where(s > 0, s, 1.0)
            x = (s * np.clip(np.sign(y) * np.floor(np.abs(y) + 0.5), -127, 127)).reshape(-1)
        return w @ x

    def head_norm(self, v, gain):
        """QK-norm: RMSNorm over every head of v (heads of hd), one gain [hd]."""
        return np.concatenate([np_rmsnorm(h, gain, self.eps) for h in v.reshape(-1, self.hd)])

    def attn(self, layer, x, pos):
        p = f"layers.{layer}.attention."
        q, k = self.mv(self.w[p + "wq.weight"], x), self.mv(self.w[p + "wk.weight"], x)
        if self.qk_norm:   # before RoPE, as Qwen3 defines it
            q, k = self.head_norm(q, self.w[p + "q_norm.weight"]), self.head_norm(k, self.w[p + "k_norm.weight"])
        q = np_rope(q, pos, self.hd, self.freqs)
        self.key_cache[layer, pos] = np_rope(k, pos, self.hd, self.freqs)
        self.value_cache[layer, pos] = self.mv(self.w[p + "wv.weight"], x)
        out = np.zeros(self.n_heads * self.hd)
        group = self.n_heads // self.n_kv
        for hq in range(self.n_heads):
            kvh = hq // group
            qh = q[hq * self.hd:(hq + 1) * self.hd]
            ks = self.key_cache[layer, :pos + 1, kvh * self.hd:(kvh + 1) * self.hd]   # [pos+1, hd]
            vs = self.value_cache[layer, :pos + 1, kvh * self.hd:(kvh + 1) * self.hd]
            a = np_softmax(ks @ qh / np.sqrt(self.hd))
            out[hq * self.hd:(hq + 1) * self.hd] = a @ vs
        return self.mv(self.w[p + "wo.weight"], out)

    def f(self, l, h, pos):
        i = l // 2
        if l % 2 == 0:
            return self.attn(i, np_rmsnorm(h, self.w[f"layers.{i}.attention_norm.weight"], self.eps), pos)
        p = f"layers.{i}.feed_forward."
        xn = np_rmsnorm(h, self.w[f"layers.{i}.ffn_norm.weight"], self.eps)
        a, b = self.mv(self.w[p + "w1.weight"], xn), self.mv(self.w[p + "w3.weight"], xn)
        return self.mv(self.w[p + "w2.weight"], a / (1.0 + np.exp(-a)) * b)

    def res(self, l):
        if l == self.L:
            p = "output_res."
        else:
            p = f"layers.{l // 2}." + ("attention_res." if l % 2 == 0 else "ffn_res.")
        return self.w[p + "pseudo_query"], self.w[p + "key_norm.weight"]

    def step(self, token, pos):
        """One token. Returns (logits, dict of this position's trace)."""
        x = self.w["tok_embeddings.weight"][token].copy()
        hs, alphas = [], []
        if not self.attnres:
            h = x
            for l in range(self.L):
                hs.append(h.copy())
                h = h + self.f(l, h, pos)
            out_h, blocks = h, None
        else:
            blocks = [x]          # completed blocks
            partial = None        # running sum of the open block
            n_in_block = 0
            for l in range(self.L):
                srcs = blocks + ([partial] if partial is not None else [])
                h, alpha = np_depth(srcs, *self.res(l), self.eps)
                hs.append(h)
                alphas.append(alpha)
                out = self.f(l, h, pos)
                partial = out if partial is None else partial + out
                n_in_block += 1
                if n_in_block == self.S or l == self.L - 1:
                    blocks.append(partial)
                    partial, n_in_block = None, 0
            out_h, alpha = np_depth(blocks, *self.res(self.L), self.eps)
            alphas.append(alpha)
        w_out = self.w["tok_embeddings.weight"] if self.tied else self.w["output.weight"]
        logits = self.mv(w_out, np_rmsnorm(out_h, self.w["norm.weight"], self.eps))
        return logits, {"h": np.stack(hs), "out_h": out_h, "alphas": alphas, "blocks": blocks}


def decode(arrays, meta, tokens, act_group=0):
    """Run the token-by-token decoder; returns arrays in the fixture layout."""
    dec = Decoder(arrays, meta)
    dec.act_group = act_group
    T = len(tokens)
    res = {"logits": [], "h": [], "out_h": []}
    alpha_rows, blocks = [], []
    for pos, tok in enumerate(tokens):
        logits, tr = dec.step(int(tok), pos)
        res["logits"].append(logits)
        res["h"].append(tr["h"])
        res["out_h"].append(tr["out_h"])
        if dec.attnres:
            width = len(tr["blocks"])
            alpha_rows.append(np.stack([np.pad(a, (0, width - len(a))) for a in tr["alphas"]]))
            blocks.append(np.stack(tr["blocks"]))
            res["alpha_count"] = np.array([len(a) for a in tr["alphas"]], dtype=np.int32)
    res = {k: np.stack(v) if isinstance(v, list) else v for k, v in res.items()}
    res["k_cache"] = dec.key_cache[:, :T]
    res["v_cache"] = dec.value_cache[:, :T]
    if dec.attnres:
        res["alpha"], res["blocks"] = np.stack(alpha_rows), np.stack(blocks)
    return res


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

def maxdiff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def f32_close(stored, exact):
    """Stored float32 == exact float64 rounded to float32 (allowing 1 ulp)."""
    exact = np.asarray(exact, dtype=np.float64)
    return bool(np.all(np.abs(stored.astype(np.float64) - exact) <= 1.2e-7 * np.abs(exact) + 1e-30))


def check_case(golden, name):
    arrays, meta = st.read(os.path.join(golden, f"{name}.model.safetensors"))
    expect, _ = st.read(os.path.join(golden, f"{name}.expect.safetensors"))
    cfg, weights = ref.load_checkpoint(os.path.join(golden, f"{name}.model.safetensors"))
    tokens = expect["tokens"]

    logits, tr = ref.forward(cfg, weights, torch.from_numpy(tokens.astype(np.int64)))
    full = {"logits": logits.numpy(), **{k: v.numpy() for k, v in tr.items()}}
    step = decode(arrays, meta, tokens)

    keys = ["logits", "h", "out_h", "k_cache", "v_cache"]
    if cfg.residual == "attnres":
        keys += ["alpha", "blocks"]
    # relative to each tensor's largest magnitude (at least 1), so that the "huge" cases
    # (embeddings of 1e20 and 1e38) are held to the same 1e-9 as the ordinary ones
    worst = max(maxdiff(full[k], step[k]) / max(1.0, float(np.max(np.abs(full[k])))) for k in keys)
    report(worst < 1e-9, f"{name:18s} whole-prompt vs token-by-token KV-cache, max |diff| / max(1, max |x|) "
                         f"{worst:.2e} over {', '.join(keys)}")
    stored_ok = all(f32_close(expect[k], full[k]) for k in keys)
    report(stored_ok and expect["logits"].shape == (20, cfg.vocab_size),
           f"{name:18s} stored fixtures are the float64 results rounded to float32")

    if cfg.residual == "attnres":
        L, N = cfg.n_sublayers, cfg.n_blocks
        count = expect["alpha_count"]
        want = [ref.n_sources(cfg, l) for l in range(L + 1)]
        report(list(count) == want and list(step["alpha_count"]) == want,
               f"{name:18s} alpha_count {list(count)}")
        a = full["alpha"]
        pad_zero = all(np.all(a[:, l, c:] == 0) for l, c in enumerate(count))
        sums = maxdiff(a.sum(-1), np.ones(a.shape[:2]))
        report(pad_zero and sums < 1e-12 and np.all(a >= 0),
               f"{name:18s} alpha rows sum to 1 (max err {sums:.1e}), zero past the source count")
        emb_ok = maxdiff(expect["blocks"][:, 0], arrays["tok_embeddings.weight"][tokens]) == 0
        report(emb_ok, f"{name:18s} b0 is the token embedding")
        # uniform depth weights with zero pseudo-queries
        w0 = {k: (torch.zeros_like(v) if k.endswith("pseudo_query") else v) for k, v in weights.items()}
        _, tr0 = ref.forward(cfg, w0, torch.from_numpy(tokens.astype(np.int64)))
        a0 = tr0["alpha"].numpy()
        err = max(maxdiff(a0[:, l, :c], np.full((a0.shape[0], c), 1.0 / c)) for l, c in enumerate(count))
        report(err < 1e-15 and a0.shape == (20, L + 1, N + 1),
               f"{name:18s} zero pseudo-queries give uniform alpha (max err {err:.1e})")
        # ... and then every sublayer input is the plain mean of its sources
        w_nonuniform_ok = float(np.std(a[:, :, 0])) > 1e-3
        report(w_nonuniform_ok, f"{name:18s} golden alpha is far from uniform (std of alpha[:, :, 0] "
                                f"{float(np.std(a[:, :, 0])):.3f})")


def check_primitives(golden):
    t, _ = st.read(os.path.join(golden, "primitives.safetensors"))
    d = lambda k: t[k].astype(np.float64)  # noqa: E731
    out = np.stack([np_rmsnorm(r, d("rmsnorm.weight"), d("rmsnorm.eps")[0]) for r in d("rmsnorm.x")])
    report(f32_close(t["rmsnorm.out"], out), "primitives rmsnorm")
    out = np.stack([np_softmax(r) for r in d("softmax.x")])
    report(f32_close(t["softmax.out"], out), "primitives softmax")
    report(f32_close(t["matvec.out"], d("matvec.w") @ d("matvec.x")), "primitives matvec")
    hd, th = int(t["rope.head_dim"][0]), d("rope.theta")[0]
    out = np.stack([np_rope(x, int(p), hd, np_rope_freqs(hd, th, {})) for x, p in zip(d("rope.x"), t["rope.pos"])])
    report(f32_close(t["rope.out"], out) and not np.allclose(t["rope.out"], t["rope.x"]), "primitives rope")
    out, alpha = np_depth(list(d("depth.sources")), d("depth.pseudo_query"), d("depth.key_gain"), d("depth.eps")[0])
    report(f32_close(t["depth.alpha"], alpha) and f32_close(t["depth.out"], out),
           f"primitives depth attention (alpha {np.round(alpha, 3).tolist()})")
    x = d("mlp.x")
    a, b = d("mlp.w1") @ x, d("mlp.w3") @ x
    report(f32_close(t["mlp.out"], d("mlp.w2") @ (a / (1 + np.exp(-a)) * b)), "primitives SwiGLU mlp")


def check_st_format(golden):
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for fn in sorted(os.listdir(golden)):
            if not fn.endswith(".safetensors"):
                continue
            path = os.path.join(golden, fn)
            raw = open(path, "rb").read()
            (n,) = struct.unpack("<Q", raw[:8])
            text = raw[8:8 + n].decode("utf-8")
            header = json.loads(text)
            ok &= (8 + n) % 8 == 0
            ok &= next(iter(header)) == "__metadata__"
            ok &= text.rstrip(" ") == json.dumps(header, separators=(",", ":"))
            tensors, meta = st.read(path)
            st.write(os.path.join(tmp, fn), tensors, meta)
            ok &= open(os.path.join(tmp, fn), "rb").read() == raw
    report(bool(ok), "st.py: every fixture re-reads and rewrites byte-identically; compact header, metadata first, 8-aligned")
    try:
        st.write(os.path.join(tempfile.gettempdir(), "x.safetensors"), {"a": np.zeros(2)}, {})
        report(False, "st.py rejects float64")
    except TypeError:
        report(True, "st.py rejects float64")


def check_experiment_models(folder):
    names = sorted(fn[:-len(".expect.safetensors")] for fn in os.listdir(folder)
                   if fn.endswith(".expect.safetensors")) if os.path.isdir(folder) else []
    report(bool(names), f"experiment models: {len(names)} parity fixture(s) in {folder}")
    for name in names:
        path = os.path.join(folder, name + ".safetensors")
        arrays, meta = st.read(path)
        expect, _ = st.read(os.path.join(folder, name + ".expect.safetensors"))
        cfg, weights = ref.load_checkpoint(path)
        tokens = expect["tokens"]
        logits, _ = ref.forward(cfg, weights, torch.from_numpy(tokens.astype(np.int64)))
        step = decode(arrays, meta, tokens)["logits"]
        worst = maxdiff(logits.numpy(), step)
        report(worst < 1e-9, f"{name:18s} L = {cfg.n_sublayers} {cfg.residual} S = {cfg.block_size}: whole-prompt "
                             f"vs token-by-token logits, max |diff| {worst:.2e} over {len(tokens)} positions")
        report(f32_close(expect["logits"], logits.numpy()) and expect["logits"].shape == (len(tokens), cfg.vocab_size),
               f"{name:18s} stored logits are the float64 logits rounded to float32")


def np_quantize_q8(w, G):
    """The documented rounding rule, in numpy float32: -> q [rows, cols], scale [rows, cols/G]."""
    rows, cols = w.shape
    g = w.astype(np.float32).reshape(rows, cols // G, G)
    scale = (np.abs(g).max(axis=-1) / np.float32(127.0)).astype(np.float32)
    y = (g / np.where(scale > 0, scale, np.float32(1.0))[..., None]).astype(np.float64)
    q = np.clip(np.sign(y) * np.floor(np.abs(y) + 0.5), -127, 127)
    q[scale == 0] = 0
    return q.reshape(rows, cols), scale


def check_q8(golden):
    names = sorted(fn[3:-len(".model.safetensors")] for fn in os.listdir(golden)
                   if fn.startswith("q8_") and fn.endswith(".model.safetensors"))
    report(bool(names), f"q8: {len(names)} int8 fixture(s) in {golden}")
    w8a8 = [n for n in names if os.path.exists(os.path.join(golden, f"w8a8_{n}.expect.safetensors"))]
    report(len(w8a8) == len(names), f"w8a8: an expect fixture for {len(w8a8)} of the {len(names)} q8 models")
    for name in names:
        arrays, meta = st.read(os.path.join(golden, f"q8_{name}.model.safetensors"))
        expect, _ = st.read(os.path.join(golden, f"q8_{name}.expect.safetensors"))
        G = int(meta["group_size"])
        w = {}
        for key, v in arrays.items():
            if key.endswith("_scale"):
                continue
            if v.dtype == np.int8:
                sc = arrays[key + "_scale"].astype(np.float64)
                rows, cols = v.shape
                w[key] = (v.astype(np.float64).reshape(rows, cols // G, G) * sc[..., None]).reshape(rows, cols)
            else:
                w[key] = v
        meta = dict(meta)
        if meta["tie_embeddings"] == "true":   # the output projection: int8 copy of the embeddings
            q, sc = np_quantize_q8(arrays["tok_embeddings.weight"], G)
            rows, cols = q.shape
            w["output.weight"] = (q.reshape(rows, cols // G, G) * sc.astype(np.float64)[..., None]).reshape(rows, cols)
            meta["tie_embeddings"] = "false"
        got = decode(w, meta, expect["tokens"])["logits"]
        want = expect["logits"].astype(np.float64)
        worst = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
        report(worst <= 1e-5, f"q8_{name:16s} numpy dequantization + decoder vs the stored fake-quant logits: "
                              f"max |diff| / max(1, |logit|) {worst:.2e} (tol 1e-5)")
        if name in w8a8:   # the same weights with every matvec input rounded too
            expect, emeta = st.read(os.path.join(golden, f"w8a8_{name}.expect.safetensors"))
            got = decode(w, meta, expect["tokens"], act_group=G)["logits"]
            want = expect["logits"].astype(np.float64)
            worst = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
            report(worst <= 1e-5 and float(emeta["min_rounding_margin"]) >= 1e-4,
                   f"w8a8_{name:14s} numpy W8A8 decoder vs the stored logits: max |diff| / max(1, |logit|) "
                   f"{worst:.2e} (tol 1e-5); activations >= {emeta['min_rounding_margin']} of a step from a boundary")


class _DeviceMix(torch.overrides.TorchFunctionMode):
    """Records every torch operation whose tensor arguments (0-dim ones
    aside, which PyTorch moves freely) live on more than one device."""

    def __init__(self):
        super().__init__()
        self.mixed = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        seen = set()

        def visit(x):
            if isinstance(x, torch.Tensor) and x.dim() > 0:
                seen.add(x.device.type)
            elif isinstance(x, (list, tuple)):
                for y in x:
                    visit(y)
        visit(list(args) + list(kwargs.values()))
        if len(seen) > 1:
            self.mixed.append(f"{getattr(func, '__name__', func)} on {sorted(seen)}")
        return func(*args, **kwargs)


def check_devices():
    import train as tr
    import experiment as ex
    base = dict(dim=16, hidden_dim=24, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=256, seq_len=8,
                rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=True)
    cases = [("TinyLM standard", tr.TinyLM, ref.Config(residual="standard", block_size=0, **base), None),
             ("TinyLM block S=2", tr.TinyLM, ref.Config(residual="attnres", block_size=2, **base), None)]
    for abl in ex.ABLATIONS:
        cases.append((f"ExperimentLM block S=3 {abl}", ex.ExperimentLM,
                      ref.Config(residual="attnres", block_size=3, **base), abl))
    for name, cls, cfg, abl in cases:
        model = (cls(cfg, 0) if abl is None else cls(cfg, 0, abl)).to("meta")
        tokens = torch.zeros(2, 8, dtype=torch.long, device="meta")
        mode, err = _DeviceMix(), None
        try:
            with mode:
                model(tokens).sum().backward()
        except Exception as e:   # a mix PyTorch itself refuses
            err = str(e).splitlines()[0]
        what = err or (mode.mixed[0] if mode.mixed else "")
        report(err is None and not mode.mixed,
               f"device: {name}: forward + backward on 'meta' {'mixes devices: ' + what if what else 'stays on it'}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", default="golden")
    ap.add_argument("--experiments", default="models/experiments",
                    help="folder of the experiment's shipped models and their .expect fixtures")
    args = ap.parse_args()
    torch.set_num_threads(1)
    check_st_format(args.golden)
    check_primitives(args.golden)
    import make_golden
    for name, *_ in make_golden.CASES:
        check_case(args.golden, name)
    check_experiment_models(args.experiments)
    check_q8(args.golden)
    check_devices()
    print(f"{len(FAILED)} check(s) failed" if FAILED else "all checks passed")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
