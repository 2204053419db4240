"""Fixtures for the importers: tiny random models in each real layout, their
imported form, and the logits of a PyTorch reference of THAT architecture.

    /usr/bin/python3 tools/make_import_golden.py --out golden/import     (rewrite)
    /usr/bin/python3 tools/make_import_golden.py --check golden/import   (regenerate
        into a temporary directory and require byte-identical files)

For every case in CASES it writes into --out:
  CASE/...                     the source layout (a HF directory: config.json +
                               model.safetensors or shards + index; or a llama2.c .bin)
  CASE.model.safetensors       tools/import_model.py's output for that source
  CASE.expect.safetensors      tokens [T] and logits [T, vocab] of the reference below
                               (with a scaled RoPE also inv_freq [head_dim/2]; for
                               hf_llama32 also targets [T] and the mean cross-entropy)
  CASE.grad.safetensors        hf_llama32 only: the gradient of that loss with respect
                               to every weight, imported like a model (write_grad)
and for the two end-to-end cases (e2e_qwen3: HF Qwen3 directory with a
byte-level BPE tokenizer.json, Qwen2 pattern; e2e_llama2c: llama2.c v1 .bin
with a tokenizer.bin) also
  CASE/tokenizer.json or CASE.tokenizer.bin   a tiny tokenizer trained here on a
                               sentence (256 bytes + merges: vocab 300)
  CASE.cli.txt                 what `attnres-run CASE.model.safetensors --tokenizer
                               ... -p PROMPT -n 8 -t 0` must print: the prompt, then
                               the reference's greedy continuation as text

The references are written from each architecture's own definition, not from
the importer or from this engine (float64 throughout):
  hf_forward       LlamaForCausalLM / Qwen3ForCausalLM as in transformers'
                   modeling_llama.py / modeling_qwen3.py: HF tensor names,
                   rotate_half RoPE (cos/sin of cat(freqs, freqs)), repeat_kv
                   for grouped-query attention, Qwen3's q_norm / k_norm on
                   each head before RoPE, scaling head_dim^-0.5.
  llama2c_forward  llama2.c's model.py: complex-number RoPE over interleaved
                   pairs (view_as_complex), theta 10000, eps 1e-5.
Weights are drawn in float32, rounded to the case's storage dtype (F16, BF16),
and the reference uses those rounded values (what the importer reads).
"""

import argparse
import filecmp
import json
import math
import os
import shutil
import struct
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import import_model  # noqa: E402
import st  # noqa: E402

T = 12
F64 = torch.float64


# --------------------------------------------------------------------------
# The references
# --------------------------------------------------------------------------

def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def causal_softmax_attention(q, k, v, scale):
    """q [H, T, hd], k, v [H, T, hd] (kv already repeated) -> [T, H*hd]."""
    scores = q @ k.transpose(-1, -2) * scale
    mask = torch.ones(q.shape[1], q.shape[1], dtype=torch.bool).triu(1)
    p = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
    return (p @ v).transpose(0, 1).reshape(q.shape[1], -1)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def hf_inv_freq(cfg, hd):
    """RoPE's inverse frequencies [hd/2] as transformers' modeling_rope_utils.py
    computes them from config.json (in float64 here): the default
    base^(-2i/hd), then for rope_scaling "linear" (_compute_linear_scaling_rope_parameters)
    inv_freq / factor, for "llama3" (_compute_llama3_parameters) a rescaling by
    wavelength against original_max_position_embeddings. Its attention_factor
    is 1.0 for all three, so cos and sin are not scaled."""
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).to(F64) / hd))
    rs = cfg.get("rope_scaling")
    kind = rs.get("rope_type", rs.get("type")) if rs else "default"
    if kind == "default":
        return inv_freq
    if kind == "linear":
        return inv_freq / rs["factor"]
    assert kind == "llama3", kind
    factor, low_freq_factor, high_freq_factor = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old_context_len = rs["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    # wavelen < high_freq_wavelen: kept; wavelen > low_freq_wavelen: divided by factor
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # in between: a blend by smooth_factor
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def hf_forward(cfg, w, tokens, hidden=False):
    """LlamaForCausalLM / Qwen3ForCausalLM logits [T, vocab] from HF-named weights
    (hidden: also the final normed hidden states [T, dim] the head reads)."""
    w = {k: v.to(F64) for k, v in w.items()}
    qwen3 = cfg["architectures"][0] == "Qwen3ForCausalLM"
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps, n = cfg["rms_norm_eps"], len(tokens)
    inv_freq = hf_inv_freq(cfg, hd)
    freqs = torch.arange(n, dtype=F64)[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)                      # [T, hd]
    cos, sin = emb.cos(), emb.sin()
    x = w["model.embed_tokens.weight"][torch.as_tensor(tokens)]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        hs = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (hs @ w[p + "self_attn.q_proj.weight"].T).view(n, H, hd)
        k = (hs @ w[p + "self_attn.k_proj.weight"].T).view(n, KV, hd)
        v = (hs @ w[p + "self_attn.v_proj.weight"].T).view(n, KV, hd)
        if qwen3:
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)   # [heads, T, hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=0)                  # repeat_kv
        v = v.repeat_interleave(H // KV, dim=0)
        x = x + causal_softmax_attention(q, k, v, hd ** -0.5) @ w[p + "self_attn.o_proj.weight"].T
        hs = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate, up = hs @ w[p + "mlp.gate_proj.weight"].T, hs @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
    return (x @ head.T, x) if hidden else x @ head.T


def llama2c_forward(p, w, tokens):
    """llama2.c model.py logits [T, vocab]; weights named as in its Transformer."""
    w = {k: v.to(F64) for k, v in w.items()}
    dim, H, KV, n = p["dim"], p["n_heads"], p["n_kv_heads"], len(tokens)
    hd = dim // H
    freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, dtype=F64)[: hd // 2] / hd))
    freqs_cis = torch.polar(torch.ones(n, hd // 2, dtype=F64), torch.outer(torch.arange(n, dtype=F64), freqs))

    def rope(x):   # x [T, heads, hd]: pairs (x[2i], x[2i+1]) as complex numbers
        xc = torch.view_as_complex(x.reshape(n, x.shape[1], hd // 2, 2).contiguous())
        return torch.view_as_real(xc * freqs_cis[:, None, :]).reshape(x.shape)

    x = w["tok_embeddings.weight"][torch.as_tensor(tokens)]
    for i in range(p["n_layers"]):
        q_ = f"layers.{i}."
        xn = rms_norm(x, w[q_ + "attention_norm.weight"], 1e-5)
        q = rope((xn @ w[q_ + "attention.wq.weight"].T).view(n, H, hd))
        k = rope((xn @ w[q_ + "attention.wk.weight"].T).view(n, KV, hd))
        v = (xn @ w[q_ + "attention.wv.weight"].T).view(n, KV, hd)
        k = torch.repeat_interleave(k, H // KV, dim=1)
        v = torch.repeat_interleave(v, H // KV, dim=1)
        att = causal_softmax_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), 1 / math.sqrt(hd))
        x = x + att @ w[q_ + "attention.wo.weight"].T
        xn = rms_norm(x, w[q_ + "ffn_norm.weight"], 1e-5)
        x = x + (torch.nn.functional.silu(xn @ w[q_ + "feed_forward.w1.weight"].T) *
                 (xn @ w[q_ + "feed_forward.w3.weight"].T)) @ w[q_ + "feed_forward.w2.weight"].T
    x = rms_norm(x, w["norm.weight"], 1e-5)
    return x @ (w["tok_embeddings.weight"] if p["shared"] else w["output.weight"]).T


# --------------------------------------------------------------------------
# Writers of the real layouts
# --------------------------------------------------------------------------

def rounded(t, dtype):
    """float32 tensor t as stored in dtype ("F32", "F16", "BF16"), back in float32."""
    if dtype == "F16":
        return t.to(torch.float16).to(torch.float32)
    if dtype == "BF16":
        return t.to(torch.bfloat16).to(torch.float32)
    return t


def st_bytes(tensors, dtype):
    """A safetensors file (HF style: metadata {"format": "pt"}) of tensors in dtype."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        a = t.numpy().astype(np.float32)
        if dtype == "F16":
            blob = a.astype("<f2").tobytes()
        elif dtype == "BF16":
            blob = (a.view(np.uint32) >> 16).astype("<u2").tobytes()   # exact: t was rounded already
        else:
            blob = a.astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-(8 + len(text))) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write_hf(dir_, cfg, weights, dtype, shards, generation_config=None):
    os.makedirs(dir_, exist_ok=True)
    with open(os.path.join(dir_, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    if generation_config:
        with open(os.path.join(dir_, "generation_config.json"), "w") as f:
            json.dump(generation_config, f, indent=2, sort_keys=True)
            f.write("\n")
    names = list(weights)
    if shards == 1:
        with open(os.path.join(dir_, "model.safetensors"), "wb") as f:
            f.write(st_bytes(weights, dtype))
        return
    per = -(-len(names) // shards)
    weight_map = {}
    for s in range(shards):
        part = names[s * per:(s + 1) * per]
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        with open(os.path.join(dir_, fname), "wb") as f:
            f.write(st_bytes({n: weights[n] for n in part}, dtype))
        weight_map.update({n: fname for n in part})
    with open(os.path.join(dir_, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
        f.write("\n")


def write_llama2c(path, p, w, version):
    """llama2.c export.py's legacy_export (version 0) or version1_export."""
    nl, hd = p["n_layers"], p["dim"] // p["n_heads"]
    kinds = ["attention_norm", "attention.wq", "attention.wk", "attention.wv", "attention.wo", "ffn_norm",
             "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"]
    layer = lambda k: [w[f"layers.{i}.{k}.weight"] for i in range(nl)]   # noqa: E731
    sizes = (p["dim"], p["hidden_dim"], nl, p["n_heads"], p["n_kv_heads"])
    if version == 0:
        head = struct.pack("<7i", *sizes, p["vocab_size"] if p["shared"] else -p["vocab_size"], p["seq_len"])
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2)[: hd // 2].float() / hd))
        ang = torch.outer(torch.arange(p["seq_len"]).float(), freqs)
        order = [w["tok_embeddings.weight"]] + [t for k in kinds for t in layer(k)] + \
                [w["norm.weight"], torch.cos(ang), torch.sin(ang)]
    else:
        head = struct.pack("<Ii", 0x616B3432, 1) + struct.pack("<7i", *sizes, p["vocab_size"], p["seq_len"]) + \
            struct.pack("B", int(p["shared"]))
        head += b"\0" * (256 - len(head))
        order = layer("attention_norm") + layer("ffn_norm") + [w["norm.weight"], w["tok_embeddings.weight"]] + \
            [t for k in kinds if "norm" not in k for t in layer(k)]
    if not p["shared"]:
        order.append(w["output.weight"])
    with open(path, "wb") as f:
        f.write(head)
        for t in order:
            f.write(t.contiguous().numpy().astype("<f4").tobytes())


# --------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------

def hf_config(arch, tie, head_dim=None, qkn=False):
    cfg = {"architectures": [arch], "model_type": "qwen3" if qkn else "llama", "hidden_size": 32,
           "intermediate_size": 80, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "vocab_size": 96, "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
           "tie_word_embeddings": tie, "hidden_act": "silu", "rope_scaling": None, "attention_bias": False}
    if head_dim:
        cfg["head_dim"] = head_dim
        cfg["rope_theta"] = 1000000.0
    return cfg


def hf_weights(cfg, g):
    d, H, KV, hid = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["intermediate_size"]
    hd = cfg.get("head_dim") or d // H
    r = lambda *s, std=1.0, mean=0.0: (mean + std * torch.randn(*s, generator=g, dtype=F64)).float()  # noqa: E731
    w = {"model.embed_tokens.weight": r(cfg["vocab_size"], d, std=0.5)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = r(d, mean=1.0, std=0.2)
        w[p + "self_attn.q_proj.weight"] = r(H * hd, d, std=d ** -0.5)
        w[p + "self_attn.k_proj.weight"] = r(KV * hd, d, std=d ** -0.5)
        w[p + "self_attn.v_proj.weight"] = r(KV * hd, d, std=d ** -0.5)
        w[p + "self_attn.o_proj.weight"] = r(d, H * hd, std=(H * hd) ** -0.5)
        if cfg["architectures"][0] == "Qwen3ForCausalLM":
            w[p + "self_attn.q_norm.weight"] = r(hd, mean=1.0, std=0.3)
            w[p + "self_attn.k_norm.weight"] = r(hd, mean=1.0, std=0.3)
        w[p + "post_attention_layernorm.weight"] = r(d, mean=1.0, std=0.2)
        w[p + "mlp.gate_proj.weight"] = r(hid, d, std=d ** -0.5)
        w[p + "mlp.up_proj.weight"] = r(hid, d, std=d ** -0.5)
        w[p + "mlp.down_proj.weight"] = r(d, hid, std=hid ** -0.5)
    w["model.norm.weight"] = r(d, mean=1.0, std=0.2)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = r(cfg["vocab_size"], d, std=d ** -0.5)
    return w


def llama2c_params(shared):
    return {"dim": 32, "hidden_dim": 80, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "vocab_size": 96,
            "seq_len": 32, "shared": shared}


def llama2c_weights(p, g):
    d, hd = p["dim"], p["dim"] // p["n_heads"]
    kv = p["n_kv_heads"] * hd
    r = lambda *s, std=1.0, mean=0.0: (mean + std * torch.randn(*s, generator=g, dtype=F64)).float()  # noqa: E731
    w = {"tok_embeddings.weight": r(p["vocab_size"], d, std=0.5)}
    for i in range(p["n_layers"]):
        q = f"layers.{i}."
        w.update({q + "attention_norm.weight": r(d, mean=1.0, std=0.2), q + "attention.wq.weight": r(d, d, std=d ** -0.5),
                  q + "attention.wk.weight": r(kv, d, std=d ** -0.5), q + "attention.wv.weight": r(kv, d, std=d ** -0.5),
                  q + "attention.wo.weight": r(d, d, std=d ** -0.5), q + "ffn_norm.weight": r(d, mean=1.0, std=0.2),
                  q + "feed_forward.w1.weight": r(p["hidden_dim"], d, std=d ** -0.5),
                  q + "feed_forward.w2.weight": r(d, p["hidden_dim"], std=p["hidden_dim"] ** -0.5),
                  q + "feed_forward.w3.weight": r(p["hidden_dim"], d, std=d ** -0.5)})
    w["norm.weight"] = r(d, mean=1.0, std=0.2)
    if not p["shared"]:
        w["output.weight"] = r(p["vocab_size"], d, std=d ** -0.5)
    return w


# Llama 3.2's rope_scaling with a tiny original context: head_dim 16 and
# theta 500000 give wavelengths 6.3, 32.4, 167, ... positions, so against 64
# the first pair is kept (< 64/4), the second blended, the rest divided by 32.
LLAMA32 = {"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "rope_theta": 500000.0,
           "max_position_embeddings": 2048, "bos_token_id": 89, "eos_token_id": [90, 91, 92],
           "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                            "original_max_position_embeddings": 64, "rope_type": "llama3"}}

# (name, kind, seed, options)
CASES = [
    ("hf_llama", "hf", 201, dict(arch="LlamaForCausalLM", tie=False, dtype="F32", shards=1)),
    ("hf_llama_bf16_sharded", "hf", 202, dict(arch="LlamaForCausalLM", tie=True, dtype="BF16", shards=3)),
    ("hf_qwen3", "hf", 203, dict(arch="Qwen3ForCausalLM", tie=True, dtype="F16", shards=1, head_dim=16)),
    ("llama2c_v0", "llama2c", 204, dict(version=0, shared=False)),
    ("llama2c_v1", "llama2c", 205, dict(version=1, shared=True)),
    # Llama 3.2 layout: tied, BF16, llama3 RoPE scaling; 80 positions, past the original 64;
    # its EOS ids in generation_config.json
    ("hf_llama32", "hf", 208, dict(arch="LlamaForCausalLM", tie=True, dtype="BF16", shards=1, T=80, cfg=LLAMA32, grad=True,
                                   generation_config={"bos_token_id": 89, "do_sample": True, "eos_token_id": [90, 92],
                                                      "temperature": 0.6, "top_p": 0.9})),
    # linear scaling (the older "type" key): positions / 4; 24 positions, past 64 / 4
    ("hf_llama_linear", "hf", 209, dict(arch="LlamaForCausalLM", tie=False, dtype="F32", shards=1, T=24,
                                        cfg={"rope_scaling": {"type": "linear", "factor": 4.0}})),
]


def make_case(out, name, kind, seed, o):
    g = torch.Generator().manual_seed(seed)
    if kind == "hf":
        cfg = hf_config(o["arch"], o["tie"], o.get("head_dim"), o["arch"] == "Qwen3ForCausalLM")
        cfg.update(o.get("cfg", {}))
        w = {k: rounded(v, o["dtype"]) for k, v in hf_weights(cfg, g).items()}
        src = os.path.join(out, name)
        write_hf(src, cfg, w, o["dtype"], o["shards"], o.get("generation_config"))
        logits = hf_forward(cfg, w, tokens := torch.randint(0, cfg["vocab_size"], (o.get("T", T),), generator=g))
    else:
        p = llama2c_params(o["shared"])
        w = llama2c_weights(p, g)
        src = os.path.join(out, name + ".bin")
        write_llama2c(src, p, w, o["version"])
        logits = llama2c_forward(p, w, tokens := torch.randint(0, p["vocab_size"], (T,), generator=g))
    rc = import_model.main([src, "--out", os.path.join(out, name + ".model.safetensors")])
    assert rc == 0, f"{name}: import failed"
    write_expect(out, name, tokens, logits, cfg if kind == "hf" else None)
    if o.get("grad"):
        write_grad(out, name, cfg, w, tokens)


def write_grad(out, name, cfg, w, tokens):
    """The training side of a scaled RoPE: d(mean cross-entropy)/d(every weight)
    of hf_forward on tokens, each predicting the next (the last the first),
    by autograd in float64. The gradients, named and shaped as the weights,
    go through the importer like weights (its row order for wq and wk is a
    permutation, which carries gradients as it carries weights), into
    CASE.grad.safetensors; CASE.expect.safetensors gains targets and loss."""
    leaves = {k: v.to(F64).requires_grad_(True) for k, v in w.items()}
    targets = torch.roll(tokens, -1)
    loss = torch.nn.functional.cross_entropy(hf_forward(cfg, leaves, tokens), targets)
    loss.backward()
    src = os.path.join(out, name + ".grad_hf")
    write_hf(src, cfg, {k: v.grad.to(torch.float32) for k, v in leaves.items()}, "F32", 1)
    rc = import_model.main([src, "--out", os.path.join(out, name + ".grad.safetensors")])
    assert rc == 0, f"{name}: import of the gradients failed"
    shutil.rmtree(src)
    path = os.path.join(out, name + ".expect.safetensors")
    tensors, meta = st.read(path)
    tensors = {k: torch.from_numpy(v) for k, v in tensors.items()}
    tensors.update(targets=targets.to(torch.int32), loss=loss.detach().to(torch.float32).reshape(1))
    st.write(path, tensors, meta)


def write_expect(out, name, tokens, logits, cfg):
    """CASE.expect.safetensors: tokens [T], logits [T, vocab], and for a
    scaled RoPE also inv_freq [head_dim/2], hf_inv_freq's frequencies."""
    tensors = {"tokens": tokens.to(torch.int32), "logits": logits.to(torch.float32).contiguous()}
    if cfg and cfg.get("rope_scaling"):
        hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        tensors["inv_freq"] = hf_inv_freq(cfg, hd).to(torch.float32)
    st.write(os.path.join(out, name + ".expect.safetensors"), tensors,
             {"fixture": "import", "case": name, "generator": "tools/make_import_golden.py"})


# --------------------------------------------------------------------------
# Tiny tokenizers for the end-to-end cases, and their encoders in Python
# --------------------------------------------------------------------------

CORPUS = ("the little robot saw the big red ball . the little dog ran to the red robot "
          "and the robot saw the dog . a big dog and a little ball .")
E2E_PROMPT = "the little robot"
E2E_TOKENS = 8


def bytes_to_unicode():
    """GPT-2's byte -> character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def train_merges(words, n):
    """Greedy BPE: the most frequent adjacent pair (first in sorted order on
    ties) merged n times. words: lists of symbols."""
    words, merges = [list(w) for w in words], []
    for _ in range(n):
        counts = {}
        for w in words:
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + 1
        if not counts:
            break
        best = max(sorted(counts), key=lambda p: counts[p])
        merges.append(best)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if (w[i], w[i + 1]) == best:
                    w[i:i + 2] = [w[i] + w[i + 1]]
                i += 1
    return merges


def words_of(text):
    """' the', ' little', ...: words with their leading space (ASCII only)."""
    return [(" " if i else "") + w for i, w in enumerate(text.split(" "))]


QWEN2_RE = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
            "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


def make_bpe_tokenizer(vocab_size):
    """(tokenizer.json dict, encode(text) -> ids, decode(id) -> bytes, eos)."""
    b2u = bytes_to_unicode()
    words = [[b2u[b] for b in w.encode()] for w in words_of(CORPUS)]
    merges = train_merges(words, vocab_size - 256 - 1)
    vocab = {b2u[b]: b for b in range(256)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    eos = len(vocab)
    ranks = {p: i for i, p in enumerate(merges)}

    def encode(text):   # ASCII words with single spaces: the Qwen2 pattern splits them as words_of does
        ids = []
        for w in words_of(text):
            sym = [b2u[b] for b in w.encode()]
            while len(sym) > 1:
                r = [(ranks.get(p, 1 << 30), i) for i, p in enumerate(zip(sym, sym[1:]))]
                rank, i = min(r)
                if rank == 1 << 30:
                    break
                sym[i:i + 2] = [sym[i] + sym[i + 1]]
            ids += [vocab[x] for x in sym]
        return ids

    u2b = {u: b for b, u in b2u.items()}
    inv = {i: t for t, i in vocab.items()}
    tj = {"version": "1.0", "added_tokens": [{"id": eos, "content": "<|endoftext|>", "special": True}],
          "normalizer": {"type": "NFC"},
          "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
              {"type": "Split", "pattern": {"Regex": QWEN2_RE}, "behavior": "Isolated", "invert": False},
              {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
          "post_processor": None, "decoder": {"type": "ByteLevel"},
          "model": {"type": "BPE", "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                    "merges": [f"{a} {b}" for a, b in merges]}}
    return tj, encode, (lambda i: b"" if i == eos else bytes(u2b[c] for c in inv[i])), eos


def make_spm_tokenizer(vocab_size):
    """(tokenizer.bin bytes, encode(text) -> ids without BOS, decode(prev, id) -> bytes)."""
    pieces = [b"<unk>", b"\n<s>\n", b"\n</s>\n"] + [b"<0x%02X>" % b for b in range(256)]
    chars = sorted(set(" " + CORPUS))
    pieces += [c.encode() for c in chars]
    scores = [0.0] * len(pieces)
    for r, (a, b) in enumerate(train_merges([list(w if w.startswith(" ") else " " + w) for w in words_of(CORPUS)],
                                            vocab_size - len(pieces))):
        if (a + b).encode() not in pieces:
            pieces.append((a + b).encode())
            scores.append(-float(r))
    while len(pieces) < vocab_size:   # fill with pieces no text reaches
        pieces.append(b"<pad%d>" % len(pieces))
        scores.append(-1e9)
    index = {p: i for i, p in enumerate(pieces)}

    def encode(text):   # llama2.c's encode
        ids = [index[b" "]] + [index[c.encode()] if c.encode() in index else None for c in text]
        assert None not in ids, "E2E prompt has a character without a piece"
        while True:
            best = None
            for i in range(len(ids) - 1):
                j = index.get(pieces[ids[i]] + pieces[ids[i + 1]])
                if j is not None and scores[j] > -1e10 and (best is None or scores[j] > best[0]):
                    best = (scores[j], i, j)
            if best is None:
                return ids
            ids[best[1]:best[1] + 2] = [best[2]]

    def decode(prev, i):
        p = pieces[i]
        if i in (1, 2):
            return b""
        if prev == 1 and p.startswith(b" "):
            p = p[1:]
        if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
            return bytes([int(p[3:5], 16)])
        return p

    blob = struct.pack("<i", max(len(p) for p in pieces))
    for p, sc in zip(pieces, scores):
        blob += struct.pack("<fi", sc, len(p)) + p
    return blob, encode, decode


def greedy(forward, prompt_ids, n):
    """n greedy tokens after prompt_ids; every step's winner must lead by 1e-3."""
    ids = list(prompt_ids)
    for _ in range(n):
        logits = forward(ids)[-1]
        top = torch.topk(logits, 2).values
        assert float(top[0] - top[1]) > 1e-3, "greedy step too close to a tie for a stable test"
        ids.append(int(torch.argmax(logits)))
    return ids[len(prompt_ids):]


def damp_unprintable(w, name, first_byte_id):
    """Scale down the output rows of the byte tokens that are not printable
    ASCII, so the greedy continuation is text the CLI prints as it is."""
    for b in range(256):
        if not (0x20 <= b < 0x7F):
            w[name][first_byte_id + b] *= 0.02


def make_e2e(out, name, seed):
    g = torch.Generator().manual_seed(seed)
    V = 300
    if name == "e2e_qwen3":
        tj, encode, decode_one, eos = make_bpe_tokenizer(V)
        cfg = hf_config("Qwen3ForCausalLM", False, 16, True)
        cfg["vocab_size"] = V
        w = hf_weights(cfg, g)
        damp_unprintable(w, "lm_head.weight", 0)
        w = {k: rounded(v, "BF16") for k, v in w.items()}   # the reference sees what the file holds
        src = os.path.join(out, name)
        write_hf(src, cfg, w, "BF16", 1)
        with open(os.path.join(src, "tokenizer.json"), "w") as f:
            json.dump(tj, f, ensure_ascii=False)
        prompt = encode(E2E_PROMPT)
        fwd = lambda ids: hf_forward(cfg, w, torch.tensor(ids))   # noqa: E731
        gen = greedy(fwd, prompt, E2E_TOKENS)
        text = b"".join(decode_one(i) for i in gen)
    else:
        blob, encode, decode = make_spm_tokenizer(V)
        p = dict(llama2c_params(False), vocab_size=V)
        w = llama2c_weights(p, g)
        damp_unprintable(w, "output.weight", 3)
        src = os.path.join(out, name + ".bin")
        write_llama2c(src, p, w, 1)
        with open(os.path.join(out, name + ".tokenizer.bin"), "wb") as f:
            f.write(blob)
        prompt = [1] + encode(E2E_PROMPT)
        fwd = lambda ids: llama2c_forward(p, w, torch.tensor(ids))   # noqa: E731
        gen = greedy(fwd, prompt, E2E_TOKENS)
        text, prev = b"", prompt[-1]
        for i in gen:
            text += decode(prev, i)
            prev = i
    assert all(0x20 <= c < 0x7F or c == 0x0A for c in text), f"{name}: unprintable output {text!r}"
    tokens = torch.tensor(prompt + gen[:-1])
    logits = (hf_forward(cfg, w, tokens) if name == "e2e_qwen3" else llama2c_forward(p, w, tokens))
    rc = import_model.main([src, "--out", os.path.join(out, name + ".model.safetensors")])
    assert rc == 0, f"{name}: import failed"
    st.write(os.path.join(out, name + ".expect.safetensors"),
             {"tokens": tokens.to(torch.int32), "logits": logits.to(torch.float32).contiguous()},
             {"fixture": "import", "case": name, "generator": "tools/make_import_golden.py"})
    with open(os.path.join(out, name + ".cli.txt"), "wb") as f:
        f.write(E2E_PROMPT.encode() + text + b"\n")


def make_e2e_eos(out, name, seed):
    """A Llama 3.2-layout directory (llama3 RoPE scaling with an original
    context of 8, so the run goes past it) with a byte-level BPE tokenizer
    whose greedy continuation of E2E_PROMPT ends in EOS (<|endoftext|>,
    config.json's eos_token_id). The EOS row of lm_head is set to a * h / |h|^2,
    h the final hidden state at the position that should choose it: there
    its logit is a, just above the best other token; at the earlier
    positions of the continuation it must stay below their winners (checked
    with the margin greedy() demands)."""
    g = torch.Generator().manual_seed(seed)
    V = 300
    tj, encode, decode_one, eos = make_bpe_tokenizer(V)
    cfg = hf_config("LlamaForCausalLM", False)
    cfg.update(vocab_size=V, rope_theta=500000.0, max_position_embeddings=256, eos_token_id=eos, bos_token_id=None,
               rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8, "rope_type": "llama3"})
    w = hf_weights(cfg, g)
    damp_unprintable(w, "lm_head.weight", 0)
    w["lm_head.weight"][eos + 1:] *= 0.02   # ids past the tokenizer's (the model's vocab is rounded up)
    w["lm_head.weight"][eos] = 0.0
    w = {k: rounded(v, "BF16") for k, v in w.items()}
    prompt = encode(E2E_PROMPT)
    plain = greedy(lambda ids: hf_forward(cfg, w, torch.tensor(ids)), prompt, 24)
    assert eos not in plain
    for k in range(10, 24):                # EOS as the (k+1)-th new token: positions past 8
        ids = prompt + plain[:k]
        logits, h = hf_forward(cfg, w, torch.tensor(ids), hidden=True)
        q = len(ids) - 1
        a = float(logits[q].max()) + 0.5
        row = rounded((a * h[q] / (h[q] @ h[q])).float(), "BF16")
        earlier = (h[len(prompt) - 1:q] @ row.to(F64))
        winners = logits[len(prompt) - 1:q].max(dim=-1).values
        if bool((earlier < winners - 0.05).all()):
            w["lm_head.weight"][eos] = row
            break
    else:
        raise AssertionError("no step where EOS can win alone")
    fwd = lambda ids: hf_forward(cfg, w, torch.tensor(ids))   # noqa: E731
    gen = greedy(fwd, prompt, k + 1)
    assert gen[:k] == plain[:k] and gen[k] == eos, "the continuation does not end in EOS where it should"
    text = b"".join(decode_one(i) for i in gen[:k])
    assert all(0x20 <= c < 0x7F or c == 0x0A for c in text), f"{name}: unprintable output {text!r}"
    src = os.path.join(out, name)
    write_hf(src, cfg, w, "BF16", 1)
    with open(os.path.join(src, "tokenizer.json"), "w") as f:
        json.dump(tj, f, ensure_ascii=False)
    tokens = torch.tensor(prompt + gen[:k])
    rc = import_model.main([src, "--out", os.path.join(out, name + ".model.safetensors")])
    assert rc == 0, f"{name}: import failed"
    write_expect(out, name, tokens, hf_forward(cfg, w, tokens), cfg)
    with open(os.path.join(out, name + ".cli.txt"), "wb") as f:
        f.write(E2E_PROMPT.encode() + text + b"\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help="write the fixtures here")
    g.add_argument("--check", help="regenerate and compare with the fixtures here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = args.out or tempfile.mkdtemp(prefix="import_golden.")
    os.makedirs(out, exist_ok=True)
    for name, kind, seed, o in CASES:
        make_case(out, name, kind, seed, o)
    make_e2e(out, "e2e_qwen3", 206)
    make_e2e(out, "e2e_llama2c", 207)
    make_e2e_eos(out, "e2e_llama32", 210)
    if not args.check:
        return 0
    bad = []
    for root, _, files in os.walk(out):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), out)
            ref = os.path.join(args.check, rel)
            if not os.path.isfile(ref) or not filecmp.cmp(os.path.join(root, f), ref, shallow=False):
                bad.append(rel)
    shutil.rmtree(out)
    print("import fixtures: " + ("all byte-identical to " + args.check if not bad else f"DIFFER: {bad}"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
