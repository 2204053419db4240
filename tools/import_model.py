"""Import a real checkpoint into this project's safetensors format (numpy only).

    /usr/bin/python3 tools/import_model.py SOURCE --out MODEL.safetensors [--seq-len N]
    /usr/bin/python3 tools/import_model.py --to-attnres MODEL.safetensors --out BRIDGE.safetensors
                                             [--block-size S]

SOURCE is one of
  a Hugging Face model directory: config.json plus model.safetensors, or the
      shards *.safetensors named by model.safetensors.index.json; tensors F32,
      F16 or BF16. Architectures: LlamaForCausalLM (SmolLM2, TinyLlama,
      Llama 2, Llama 3.0 ...) and Qwen3ForCausalLM (Qwen3-0.6B ...).
  a llama2.c checkpoint .bin (stories15M/42M/110M): version 0 (legacy, a
      7-int header whose negative vocab_size means an untied classifier) or
      version 1 ('ak42' magic, version, 7 ints, a shared-classifier byte,
      header padded to 256 bytes). Version 2 (int8) is refused.

Every transformation, stated once:
  * names: HF model.embed_tokens -> tok_embeddings, layers.i.input_layernorm ->
    attention_norm, self_attn.{q,k,v,o}_proj -> attention.w{q,k,v,o},
    post_attention_layernorm -> ffn_norm, mlp.gate_proj -> feed_forward.w1,
    mlp.down_proj -> w2, mlp.up_proj -> w3, model.norm -> norm, lm_head -> output,
    self_attn.{q,k}_norm -> attention.{q,k}_norm (Qwen3). llama2.c names are
    this project's names already.
  * RoPE layout: HF rotates the two HALVES of a head, (x[i], x[i + hd/2]) by
    angle pos * theta^(-2i/hd) ("rotate_half"); this engine rotates
    interleaved PAIRS (x[2i], x[2i+1]) by the same angle. Permuting the rows of
    wq and wk inside every head, new row 2i = old row i and new row 2i+1 = old
    row i + hd/2, turns one into the other, and attention scores q.k are
    unchanged because q and k are permuted alike; so the engine needs no RoPE
    change. Qwen3's q_norm / k_norm gains act on the same head vector before
    RoPE, so they get the same permutation. llama2.c already uses pairs: no
    permutation.
  * dtypes: F16 and BF16 are widened to F32 exactly (every such value is a
    float32); the engine computes in F32.
  * tied embeddings (tie_word_embeddings, or llama2.c's shared classifier):
    no output.weight is written.
  * config: hidden_size -> dim, intermediate_size -> hidden_dim,
    num_hidden_layers, num_attention_heads, num_key_value_heads, vocab_size,
    max_position_embeddings -> seq_len (or --seq-len), rope_theta, rms_norm_eps,
    head_dim (written only when it is not dim / n_heads: format_version 2).
    llama2.c: theta 10000, eps 1e-5 (its model.py's defaults).
Refused with a message: rope_scaling (Llama 3.1/3.2 "llama3" scaling, YaRN...),
attention or MLP biases, activations other than SiLU, sliding-window attention.

--to-attnres converts an imported standard model into Block AttnRes (default
S = 2, one block per layer) with zero pseudo-queries and unit key-norm gains:
every depth softmax is then a uniform mean, and because every sublayer and
the output start with RMSNorm, which ignores the scale of its input, the
converted model computes the same logits up to RMSNorm's eps (lessons/13).
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

GENERATOR = "tools/import_model.py"
_ST_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2")}
MAX_HEADER = 100 * 1024 * 1024


class ImportError_(Exception):
    """A source this importer cannot or will not convert; the message says why."""


def fail(msg):
    raise ImportError_(msg)


# --------------------------------------------------------------------------
# Reading safetensors (F32 / F16 / BF16), memory-mapped
# --------------------------------------------------------------------------

def st_index(path):
    """name -> (dtype, shape, memmap slice) of one .safetensors file; nothing is read yet."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            fail(f"{path}: too short for a safetensors header")
        (n,) = struct.unpack("<Q", raw)
        if n > min(size - 8, MAX_HEADER):
            fail(f"{path}: header length {n} does not fit in the file ({size} bytes)")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except ValueError as e:
            fail(f"{path}: header is not JSON: {e}")
    header.pop("__metadata__", None)
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n) if size > 8 + n else np.zeros(0, np.uint8)
    out = {}
    for name, info in header.items():
        dt = info.get("dtype")
        if dt not in _ST_DTYPES:
            fail(f"{path}: tensor {name} has dtype {dt}; only F32, F16 and BF16 are supported")
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(o) for o in info["data_offsets"])
        numel = int(np.prod(shape, dtype=np.int64))
        if not (0 <= begin <= end <= data.shape[0]) or end - begin != numel * _ST_DTYPES[dt].itemsize:
            fail(f"{path}: tensor {name}: data_offsets [{begin}, {end}] disagree with its shape or the file")
        out[name] = (dt, shape, data[begin:end])
    return out


def to_f32(entry):
    """The float32 array of an st_index entry (F16 and BF16 widen exactly)."""
    dt, shape, raw = entry
    a = np.frombuffer(raw, dtype=_ST_DTYPES[dt])
    if dt == "BF16":
        a = (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(np.float32).reshape(shape)


# --------------------------------------------------------------------------
# Writing this project's safetensors, one tensor at a time
# --------------------------------------------------------------------------

def config_metadata(c):
    """__metadata__ for the engine (tools/reference.py config_to_metadata, same keys)."""
    meta = {"format": "attnres", "format_version": "2" if c.get("head_dim") else "1"}
    for k in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"):
        meta[k] = str(int(c[k]))
    meta["rope_theta"] = repr(float(c["rope_theta"]))
    meta["norm_eps"] = repr(float(c["norm_eps"]))
    meta["tie_embeddings"] = "true" if c["tie_embeddings"] else "false"
    meta["residual"] = c.get("residual", "standard")
    meta["block_size"] = str(int(c.get("block_size", 0)))
    if c.get("head_dim"):
        meta["head_dim"] = str(int(c["head_dim"]))
    if c.get("qk_norm"):
        meta["format_version"] = "2"
        meta["qk_norm"] = "true"
    meta["imported_from"] = c.get("imported_from", "")
    meta["generator"] = GENERATOR
    return meta


def write_streaming(path, tensors, metadata):
    """tensors: list of (name, shape, fn returning a float32 array). The header is
    computed from the shapes first, then each tensor is made and written in
    turn, so a large model never sits in memory twice."""
    header = {"__metadata__": metadata}
    offset = 0
    for name, shape, _ in tensors:
        nbytes = 4 * int(np.prod(shape, dtype=np.int64))
        header[name] = {"dtype": "F32", "shape": [int(d) for d in shape], "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, shape, make in tensors:
            a = np.ascontiguousarray(make(), dtype="<f4")
            if tuple(a.shape) != tuple(shape):
                fail(f"internal: {name} has shape {a.shape}, expected {shape}")
            if not np.isfinite(a).all():
                fail(f"tensor {name} holds NaN or Inf: the engine would refuse it")
            f.write(a.tobytes())
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# Hugging Face directories
# --------------------------------------------------------------------------

def rotate_half_to_pairs(w, n_heads, head_dim):
    """Rows of w [n_heads*head_dim, ...] (or a gain [head_dim] with n_heads 1)
    reordered inside every head: new 2i = old i, new 2i+1 = old i + head_dim/2."""
    half = head_dim // 2
    perm = np.stack([np.arange(half), np.arange(half) + half], axis=1).reshape(-1)   # [head_dim]
    rows = (np.arange(n_heads)[:, None] * head_dim + perm[None, :]).reshape(-1)
    return w[rows]


def hf_config(src, seq_len):
    path = os.path.join(src, "config.json")
    if not os.path.isfile(path):
        fail(f"{src}: no config.json (a Hugging Face model directory has one)")
    with open(path) as f:
        cfg = json.load(f)
    arch = (cfg.get("architectures") or ["?"])[0]
    kind = {"LlamaForCausalLM": "llama", "Qwen3ForCausalLM": "qwen3"}.get(arch)
    if kind is None:
        fail(f"{src}: architecture {arch} is not supported (LlamaForCausalLM, Qwen3ForCausalLM)")
    if cfg.get("rope_scaling") not in (None, {}) and (cfg["rope_scaling"] or {}).get("rope_type",
                                                    cfg["rope_scaling"].get("type")) != "default":
        fail(f"{src}: rope_scaling {json.dumps(cfg['rope_scaling'])} is not supported: this engine has "
             "plain RoPE only (Llama 3.1/3.2 and long-context variants need their scaled frequencies)")
    if cfg.get("attention_bias") or cfg.get("mlp_bias"):
        fail(f"{src}: attention_bias / mlp_bias are not supported (the engine's linears have no bias)")
    if cfg.get("hidden_act", "silu") != "silu":
        fail(f"{src}: hidden_act {cfg['hidden_act']!r} is not supported (SwiGLU with SiLU only)")
    if kind == "qwen3" and cfg.get("use_sliding_window"):
        fail(f"{src}: use_sliding_window is not supported (full causal attention only)")
    need = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size"]
    missing = [k for k in need if k not in cfg]
    if missing:
        fail(f"{src}/config.json lacks {missing}")
    dim, n_heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    head_dim = int(cfg.get("head_dim") or 0) or (dim // n_heads if dim % n_heads == 0 else 0)
    if head_dim <= 0:
        fail(f"{src}: no head_dim and hidden_size {dim} is not a multiple of num_attention_heads {n_heads}")
    c = {
        "kind": kind,
        "dim": dim, "hidden_dim": int(cfg["intermediate_size"]), "n_layers": int(cfg["num_hidden_layers"]),
        "n_heads": n_heads, "n_kv_heads": int(cfg.get("num_key_value_heads") or n_heads),
        "vocab_size": int(cfg["vocab_size"]),
        "seq_len": int(seq_len or cfg.get("max_position_embeddings") or 2048),
        "rope_theta": float(cfg.get("rope_theta", 10000.0)), "norm_eps": float(cfg.get("rms_norm_eps", 1e-6)),
        "tie_embeddings": bool(cfg.get("tie_word_embeddings", False)),
        "head_dim": head_dim if head_dim * n_heads != dim else 0, "hd": head_dim,
        "qk_norm": kind == "qwen3",
        "imported_from": f"Hugging Face {arch}",
    }
    if c["seq_len"] > (1 << 20):
        fail(f"{src}: max_position_embeddings {c['seq_len']} exceeds the engine's 2^20: pass --seq-len")
    return c


def hf_tensors(src):
    """name -> st_index entry over model.safetensors or the shards of its index."""
    index = os.path.join(src, "model.safetensors.index.json")
    single = os.path.join(src, "model.safetensors")
    if os.path.isfile(index):
        with open(index) as f:
            weight_map = json.load(f).get("weight_map")
        if not isinstance(weight_map, dict):
            fail(f"{index}: no weight_map")
        out = {}
        for shard in sorted(set(weight_map.values())):
            if os.path.basename(shard) != shard:
                fail(f"{index}: shard name {shard!r} is not a plain file name")
            if not os.path.isfile(os.path.join(src, shard)):
                fail(f"{src}: shard {shard} named by model.safetensors.index.json is missing")
            entries = st_index(os.path.join(src, shard))
            for name, e in entries.items():
                if weight_map.get(name) == shard:
                    out[name] = e
        lost = sorted(set(weight_map) - set(out))
        if lost:
            fail(f"{index}: tensors not found in their shards: {lost[:5]}")
        return out
    if os.path.isfile(single):
        return st_index(single)
    if any(n.endswith(".bin") or n.endswith(".pth") for n in os.listdir(src)):
        fail(f"{src}: only safetensors weights are read (found PyTorch pickles: convert them to safetensors first)")
    fail(f"{src}: neither model.safetensors nor model.safetensors.index.json")


def hf_plan(src, seq_len):
    """(config, list of (name, shape, make)) for a Hugging Face directory."""
    c = hf_config(src, seq_len)
    t = hf_tensors(src)
    d, hd, H, KV, nl = c["dim"], c["hd"], c["n_heads"], c["n_kv_heads"], c["n_layers"]
    used = set()

    def take(name, shape, fn=lambda a: a):
        if name not in t:
            fail(f"{src}: tensor {name} is missing")
        if tuple(t[name][1]) != tuple(shape):
            fail(f"{src}: tensor {name} has shape {list(t[name][1])}, the config says {list(shape)}")
        used.add(name)
        return lambda: fn(to_f32(t[name]))

    plan = [("tok_embeddings.weight", (c["vocab_size"], d), take("model.embed_tokens.weight", (c["vocab_size"], d)))]
    for i in range(nl):
        p, q = f"model.layers.{i}.", f"layers.{i}."
        plan += [
            (q + "attention_norm.weight", (d,), take(p + "input_layernorm.weight", (d,))),
            (q + "attention.wq.weight", (H * hd, d),
             take(p + "self_attn.q_proj.weight", (H * hd, d), lambda a: rotate_half_to_pairs(a, H, hd))),
            (q + "attention.wk.weight", (KV * hd, d),
             take(p + "self_attn.k_proj.weight", (KV * hd, d), lambda a: rotate_half_to_pairs(a, KV, hd))),
            (q + "attention.wv.weight", (KV * hd, d), take(p + "self_attn.v_proj.weight", (KV * hd, d))),
            (q + "attention.wo.weight", (d, H * hd), take(p + "self_attn.o_proj.weight", (d, H * hd))),
        ]
        if c["qk_norm"]:
            plan += [
                (q + "attention.q_norm.weight", (hd,),
                 take(p + "self_attn.q_norm.weight", (hd,), lambda a: rotate_half_to_pairs(a, 1, hd))),
                (q + "attention.k_norm.weight", (hd,),
                 take(p + "self_attn.k_norm.weight", (hd,), lambda a: rotate_half_to_pairs(a, 1, hd))),
            ]
        plan += [
            (q + "ffn_norm.weight", (d,), take(p + "post_attention_layernorm.weight", (d,))),
            (q + "feed_forward.w1.weight", (c["hidden_dim"], d), take(p + "mlp.gate_proj.weight", (c["hidden_dim"], d))),
            (q + "feed_forward.w2.weight", (d, c["hidden_dim"]), take(p + "mlp.down_proj.weight", (d, c["hidden_dim"]))),
            (q + "feed_forward.w3.weight", (c["hidden_dim"], d), take(p + "mlp.up_proj.weight", (c["hidden_dim"], d))),
        ]
    plan.append(("norm.weight", (d,), take("model.norm.weight", (d,))))
    if not c["tie_embeddings"]:
        plan.append(("output.weight", (c["vocab_size"], d), take("lm_head.weight", (c["vocab_size"], d))))
    elif "lm_head.weight" in t:
        used.add("lm_head.weight")   # a saved copy of the tied matrix: not needed
    extra = sorted(n for n in set(t) - used if not n.endswith("rotary_emb.inv_freq"))
    if extra:
        fail(f"{src}: tensors this importer does not know (another architecture?): {extra[:5]}")
    return c, plan


# --------------------------------------------------------------------------
# llama2.c .bin
# --------------------------------------------------------------------------

def llama2c_plan(path, seq_len):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(256)
    if len(head) < 28:
        fail(f"{path}: {size} bytes, too short for a llama2.c header")
    (magic,) = struct.unpack("<I", head[:4])
    if magic == 0x616B3432:
        if len(head) < 256:
            fail(f"{path}: version-1 header is 256 bytes, the file has {size}")
        (version,) = struct.unpack("<i", head[4:8])
        if version != 1:
            fail(f"{path}: llama2.c version {version} is not supported (1, or the legacy headerless 0; "
                 "2 is int8-quantised)")
        dim, hidden, nl, H, KV, V, T = struct.unpack("<7i", head[8:36])
        shared = head[36]
        if shared not in (0, 1):
            fail(f"{path}: shared-classifier flag is {shared}, expected 0 or 1")
        offset, legacy = 256, False
    else:
        dim, hidden, nl, H, KV, V, T = struct.unpack("<7i", head[:28])
        shared = 1 if V > 0 else 0
        V, offset, legacy = abs(V), 28, True
    sizes = dict(dim=dim, hidden_dim=hidden, n_layers=nl, n_heads=H, n_kv_heads=KV, vocab_size=V, seq_len=T)
    bad = {k: v for k, v in sizes.items() if not 1 <= v <= (1 << 22)}
    if bad or dim % H or H % KV or (dim // H) % 2:
        fail(f"{path}: not a llama2.c checkpoint this importer understands: header {sizes}")
    hd = dim // H
    kv = KV * hd
    shapes = [("tok_embeddings.weight", (V, dim))]
    per_layer = [("attention_norm", (dim,)), ("attention.wq", (dim, dim)), ("attention.wk", (kv, dim)),
                 ("attention.wv", (kv, dim)), ("attention.wo", (dim, dim)), ("ffn_norm", (dim,)),
                 ("feed_forward.w1", (hidden, dim)), ("feed_forward.w2", (dim, hidden)),
                 ("feed_forward.w3", (hidden, dim))]
    groups = {k: [(f"layers.{i}.{k}.weight", s) for i in range(nl)] for k, s in per_layer}
    if legacy:   # embedding, then each kind of weight for all layers, norm, freqs, classifier
        order = shapes + [x for k, _ in per_layer for x in groups[k]] + [("norm.weight", (dim,)),
                                                                          ("freqs_cos", (T, hd // 2)),
                                                                          ("freqs_sin", (T, hd // 2))]
    else:        # norms first, then embedding, then the matrices of all layers
        order = (groups["attention_norm"] + groups["ffn_norm"] + [("norm.weight", (dim,))] + shapes +
                 [x for k in ("attention.wq", "attention.wk", "attention.wv", "attention.wo",
                              "feed_forward.w1", "feed_forward.w2", "feed_forward.w3") for x in groups[k]])
    if not shared:
        order.append(("output.weight", (V, dim)))
    expected = offset + 4 * sum(int(np.prod(s)) for _, s in order)
    if size != expected:
        fail(f"{path}: {size} bytes, but a llama2.c v{0 if legacy else 1} model with header {sizes}"
             f"{'' if shared else ' and its own classifier'} has {expected}")
    mm = np.memmap(path, dtype="<f4", mode="r", offset=offset)
    at, where = 0, {}
    for name, s in order:
        n = int(np.prod(s))
        where[name] = (at, s)
        at += n

    def take(name):
        a, s = where[name]
        return lambda: np.array(mm[a:a + int(np.prod(s))], dtype=np.float32).reshape(s)

    c = dict(kind="llama2c", rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=bool(shared), head_dim=0,
             qk_norm=False, imported_from=f"llama2.c v{0 if legacy else 1} .bin", **sizes)
    if seq_len:
        c["seq_len"] = int(seq_len)
    canon = ["tok_embeddings.weight"]
    for i in range(nl):
        canon += [f"layers.{i}.{k}.weight" for k, _ in per_layer]
    canon.append("norm.weight")
    if not shared:
        canon.append("output.weight")
    return c, [(n, where[n][1], take(n)) for n in canon]


# --------------------------------------------------------------------------
# standard -> Block AttnRes with zero pseudo-queries and unit key gains
# --------------------------------------------------------------------------

def to_attnres(src, out, block_size):
    idx = st_index(src)
    with open(src, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        meta = json.loads(f.read(n))["__metadata__"]
    if meta.get("format") != "attnres" or meta.get("residual") != "standard":
        fail(f"{src}: not a standard-residual attnres checkpoint (residual {meta.get('residual')!r})")
    nl, d = int(meta["n_layers"]), int(meta["dim"])
    if not 1 <= block_size <= 2 * nl:
        fail(f"--block-size {block_size} must be in [1, L = {2 * nl}]")
    plan = []
    for name, e in idx.items():
        plan.append((name, e[1], (lambda e=e: to_f32(e))))
        if name.endswith("feed_forward.w3.weight"):      # after each layer, its AttnRes vectors
            i = name.split(".")[1]
            for kind in ("attention_res", "ffn_res"):
                plan.append((f"layers.{i}.{kind}.pseudo_query", (d,), lambda: np.zeros(d, np.float32)))
                plan.append((f"layers.{i}.{kind}.key_norm.weight", (d,), lambda: np.ones(d, np.float32)))
    plan.append(("output_res.pseudo_query", (d,), lambda: np.zeros(d, np.float32)))
    plan.append(("output_res.key_norm.weight", (d,), lambda: np.ones(d, np.float32)))
    meta = dict(meta, residual="attnres", block_size=str(block_size),
                converted="standard -> Block AttnRes, zero pseudo-queries, unit key gains")
    write_streaming(out, plan, meta)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?", help="HF model directory or llama2.c .bin")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seq-len", type=int, default=0, help="context to record (default: the model's)")
    ap.add_argument("--to-attnres", metavar="MODEL", help="convert an imported standard model to AttnRes")
    ap.add_argument("--block-size", type=int, default=2, help="S for --to-attnres (default 2: a block per layer)")
    args = ap.parse_args(argv)
    try:
        if args.to_attnres:
            to_attnres(args.to_attnres, args.out, args.block_size)
            print(f"wrote {args.out}: Block AttnRes S={args.block_size}, zero pseudo-queries, unit key gains")
            return 0
        if not args.source:
            fail("give a SOURCE (HF directory or llama2.c .bin) or --to-attnres MODEL")
        if os.path.isdir(args.source):
            c, plan = hf_plan(args.source, args.seq_len)
        elif os.path.isfile(args.source):
            c, plan = llama2c_plan(args.source, args.seq_len)
        else:
            fail(f"{args.source}: no such file or directory")
        write_streaming(args.out, plan, config_metadata(c))
        n = sum(int(np.prod(s)) for _, s, _ in plan)
        print(f"wrote {args.out}: {c['imported_from']}, {c['n_layers']} layers, dim {c['dim']}, "
              f"heads {c['n_heads']}/{c['n_kv_heads']} x {c['hd'] if 'hd' in c else c['dim'] // c['n_heads']}, "
              f"vocab {c['vocab_size']}, {n / 1e6:.1f}M parameters ({4 * n / 1e6:.0f} MB at F32)")
    except (ImportError_, OSError, KeyError, ValueError, struct.error) as e:
        print(f"import_model: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
