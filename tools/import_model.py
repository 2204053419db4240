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
    head_dim (written only when it is not dim / n_heads: format_version 2),
    rope_scaling or rope_parameters of type "linear" or "llama3" (Llama
    3.1/3.2) -> rope_scaling and rope_scaling_* (format_version 3: the
    engine computes the scaled frequencies itself, attnres_rope_freq),
    eos_token_id of generation_config.json (else config.json), an id or a
    list -> eos_token_id "a,b,c" (attnres-run stops there).
    llama2.c: theta 10000, eps 1e-5 (its model.py's defaults).
Refused with a message: other RoPE scalings (yarn, dynamic, longrope ...),
attention or MLP biases, activations other than SiLU, sliding-window attention.

--to-attnres converts an imported standard model into Block AttnRes (default
S = 2, one block per layer) with zero pseudo-queries and unit key-norm gains:
every depth softmax is then a uniform mean, and because every sublayer and
the output start with RMSNorm, which ignores the scale of its input, the
converted model computes the same logits up to RMSNorm's eps (lessons/13).
"""

import argparse
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

GENERATOR = "tools/import_model.py"
_ST_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2")}
# Tensors are converted and written a slice of rows at a time, about this
# many bytes of float32 each, so the importer's memory does not grow with
# the model (docs/models-import.md has the measurement).
CHUNK_BYTES = 16 << 20


def fail(msg):
    """A source this importer cannot or will not convert: one line saying why."""
    raise st.FormatError(msg)


# --------------------------------------------------------------------------
# Reading tensors a slice of rows at a time
# --------------------------------------------------------------------------
# A source tensor is (path, dtype, shape, begin): its bytes start at file
# offset begin, rows of prod(shape[1:]) values (a 1-D tensor: rows of one).

def row_width(shape):
    n = 1
    for d in shape[1:]:
        n *= d
    return n


def read_rows(src, r0, r1):
    """Rows [r0, r1) of a source tensor as float32 [r1 - r0, *shape[1:]]
    (F16 and BF16 widen exactly)."""
    path, dt, shape, begin = src
    raw = np.empty((r1 - r0) * row_width(shape), dtype=_ST_DTYPES[dt])          # [rows * cols]
    with open(path, "rb") as f:
        f.seek(begin + r0 * row_width(shape) * raw.itemsize)
        if f.readinto(raw) != raw.nbytes:
            fail(f"{path}: the file ended while reading it (was it changed during the import?)")
    if dt == "BF16":          # bf16 is the top half of a float32
        wide = raw.astype(np.uint32)
        wide <<= 16
        raw = wide.view(np.float32)
    elif dt == "F16":
        raw = raw.astype(np.float32)
    return raw.reshape((r1 - r0,) + tuple(shape[1:]))


def chunks_plain(src):
    """A function yielding the tensor as consecutive slices of rows."""
    shape = src[2]
    step = max(1, CHUNK_BYTES // (4 * max(1, row_width(shape))))

    def gen():
        for r in range(0, shape[0], step):
            yield read_rows(src, r, min(shape[0], r + step))
    return gen


def chunks_rotated(src, n_heads, head_dim):
    """The same with the rows of every head reordered from rotate-half to
    interleaved pairs: new row 2i = old row i, new row 2i+1 = old row
    i + head_dim/2. Output rows [2a, 2b) of a head need old rows [a, b) and
    [half + a, half + b): two contiguous reads."""
    shape, half = src[2], head_dim // 2
    step = max(1, CHUNK_BYTES // (8 * max(1, row_width(shape))))

    def gen():
        for h in range(n_heads):
            base = h * head_dim
            for a in range(0, half, step):
                b = min(half, a + step)
                first, second = read_rows(src, base + a, base + b), read_rows(src, base + half + a, base + half + b)
                out = np.empty((2 * (b - a),) + first.shape[1:], np.float32)   # [2*(b-a), cols]
                out[0::2], out[1::2] = first, second
                yield out
    return gen


def chunks_constant(shape, value):
    return lambda: iter([np.full(shape, value, np.float32)])


# --------------------------------------------------------------------------
# Writing this project's safetensors, one slice at a time
# --------------------------------------------------------------------------

def config_metadata(c):
    """__metadata__ for the engine (tools/reference.py config_to_metadata, same keys;
    format_version 3 only for rope_scaling, 2 only for head_dim or qk_norm)."""
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
    rs = c.get("rope_scaling")
    if rs:
        meta["format_version"] = "3"
        meta["rope_scaling"] = rs["type"]
        for k in st.ROPE_SCALING_KEYS[rs["type"]]:
            meta["rope_scaling_" + k] = str(int(rs[k])) if k.startswith("original") else repr(float(rs[k]))
    if c.get("eos_token_id"):
        meta["eos_token_id"] = ",".join(str(int(i)) for i in c["eos_token_id"])
    meta["imported_from"] = c.get("imported_from", "")
    meta["generator"] = GENERATOR
    return meta


def write_streaming(path, tensors, metadata):
    """tensors: list of (name, shape, chunks), chunks() yielding float32 slices
    of consecutive rows. The header is computed from the shapes first, then
    each slice is made and written in turn, so neither the model nor a whole
    tensor needs to sit in memory. A failure (a NaN, a full disk) leaves
    neither path nor a temporary file."""
    header = {"__metadata__": metadata}
    offset = 0
    for name, shape, _ in tensors:
        nbytes = 4 * int(np.prod(shape, dtype=np.int64))
        header[name] = {"dtype": "F32", "shape": [int(d) for d in shape], "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    with st.atomic_output(path) as f:
        f.write(st.header_bytes(header))
        for name, shape, chunks in tensors:
            rows = 0
            for a in chunks():
                if not np.isfinite(a).all():
                    fail(f"tensor {name} holds NaN or Inf: the engine would refuse it")
                f.write(np.ascontiguousarray(a, dtype="<f4").data)
                rows += a.shape[0]
            if rows != shape[0]:
                fail(f"internal: {name} has {rows} rows, expected {shape[0]}")


# --------------------------------------------------------------------------
# Hugging Face directories
# --------------------------------------------------------------------------

_MISSING = object()
# the engine's config keys as config.json calls them, for messages
HF_NAMES = {"dim": "hidden_size", "hidden_dim": "intermediate_size", "n_layers": "num_hidden_layers",
            "n_heads": "num_attention_heads", "n_kv_heads": "num_key_value_heads", "vocab_size": "vocab_size",
            "seq_len": "max_position_embeddings", "head_dim": "head_dim", "rope_theta": "rope_theta",
            "norm_eps": "rms_norm_eps", "rope_scaling": "rope_scaling", "eos_token_id": "eos_token_id"}


def json_field(cfg, where, key, kind, default=_MISSING):
    """cfg[key] if it has the JSON type kind ("int", "number", "bool", "str");
    absent or null gives default (or an error if there is none)."""
    v = cfg.get(key)
    if v is None:
        if default is _MISSING:
            fail(f"{where}: {key} is missing")
        return default
    ok = {"int": st.is_int(v), "number": isinstance(v, (int, float)) and not isinstance(v, bool),
          "bool": isinstance(v, bool), "str": isinstance(v, str)}[kind]
    if not ok:
        expected = {"int": "an integer", "number": "a number", "bool": "true or false", "str": "a string"}[kind]
        fail(f"{where}: {key} = {st.show(v)}, expected {expected}")
    return v


def hf_rope(cfg, where):
    """(rope_theta, scaling) from config.json: rope_theta and rope_scaling, or
    the newer rope_parameters (which may hold rope_theta too). The type is
    "rope_type" (older files: "type"); "default" or none is plain RoPE
    (scaling None). "linear" and "llama3" are returned as
    {"type": ..., "factor": ..., ...} with the numbers
    modeling_rope_utils.py reads for them; any other type is refused."""
    key = "rope_parameters" if cfg.get("rope_parameters") is not None else "rope_scaling"
    r = cfg.get(key)
    theta = json_field(cfg, where, "rope_theta", "number", 10000.0)
    if r is None or r == {}:
        return theta, None
    if not isinstance(r, dict):
        fail(f"{where}: {key} = {st.show(r)}, expected an object")
    at = f"{where}: {key}"
    if r.get("rope_theta") is not None:
        theta = json_field(r, at, "rope_theta", "number")
    kind = r.get("rope_type", r.get("type", "default"))
    if kind == "default":
        return theta, None
    if kind not in st.ROPE_SCALING_KEYS:
        fail(f"{at}: rope type {st.show(kind)} is not supported: this engine implements \"linear\" and "
             "\"llama3\" (Llama 3.1/3.2) frequency scaling, not yarn, dynamic, longrope or others")
    scaling = {"type": kind}
    for k in st.ROPE_SCALING_KEYS[kind]:
        scaling[k] = json_field(r, at, k, "int" if k.startswith("original") else "number")
    return theta, scaling


def hf_eos(src, cfg, where):
    """The end-of-sequence ids generation stops at, as Hugging Face's
    generate() takes them: generation_config.json's eos_token_id if that file
    names one, else config.json's; an id or a list of ids. Returns (ids, the
    file they came from), so a later range check names the right file."""
    gen_path = os.path.join(src, "generation_config.json")
    ids, at = cfg.get("eos_token_id"), where
    if os.path.isfile(gen_path):
        with open(gen_path, "rb") as f:
            gen = st.load_json(f.read(), gen_path)
        if not isinstance(gen, dict):
            fail(f"{gen_path}: a JSON {type(gen).__name__}, expected an object")
        if gen.get("eos_token_id") is not None:
            ids, at = gen["eos_token_id"], gen_path
    if ids is None:
        return [], at
    if st.is_int(ids):
        ids = [ids]
    if not (isinstance(ids, list) and ids and all(st.is_int(i) for i in ids)):
        fail(f"{at}: eos_token_id = {st.show(ids)}, expected a token id or a list of them")
    return list(dict.fromkeys(ids)), at    # each once, in order


def hf_refusals(cfg, where, kind):
    """What this engine does not implement, each refused by name."""
    arch = cfg["architectures"][0]
    for key in ("attention_bias", "mlp_bias"):
        if json_field(cfg, where, key, "bool", False):
            fail(f"{where}: {key} is not supported (the engine's linears have no bias)")
    act = json_field(cfg, where, "hidden_act", "str", "silu")
    if act != "silu":
        fail(f"{where}: hidden_act {st.show(act)} is not supported (SwiGLU with SiLU only)")
    if kind == "qwen3" and json_field(cfg, where, "use_sliding_window", "bool", False):
        fail(f"{where}: use_sliding_window is not supported (full causal attention only)")
    return arch


def hf_config(src, seq_len):
    path = os.path.join(src, "config.json")
    if not os.path.isfile(path):
        fail(f"{src}: no config.json (a Hugging Face model directory has one)")
    with open(path, "rb") as f:
        cfg = st.load_json(f.read(), path)
    if not isinstance(cfg, dict):
        fail(f"{path}: a JSON {type(cfg).__name__}, expected an object")
    archs = cfg.get("architectures")
    if not (isinstance(archs, list) and archs and all(isinstance(a, str) for a in archs)):
        fail(f"{path}: architectures = {st.show(archs)}, expected a list of names")
    kind = {"LlamaForCausalLM": "llama", "Qwen3ForCausalLM": "qwen3"}.get(archs[0])
    if kind is None:
        fail(f"{src}: architecture {archs[0]} is not supported (LlamaForCausalLM, Qwen3ForCausalLM)")
    arch = hf_refusals(cfg, path, kind)
    rope_theta, rope_scaling = hf_rope(cfg, path)
    dim, n_heads = json_field(cfg, path, "hidden_size", "int"), json_field(cfg, path, "num_attention_heads", "int")
    explicit_hd = json_field(cfg, path, "head_dim", "int", 0)
    if "head_dim" in cfg and cfg["head_dim"] is not None and explicit_hd < 1:
        fail(f"{path}: head_dim = {explicit_hd}, must be >= 1")
    c = {
        "kind": kind,
        "dim": dim, "hidden_dim": json_field(cfg, path, "intermediate_size", "int"),
        "n_layers": json_field(cfg, path, "num_hidden_layers", "int"),
        "n_heads": n_heads, "n_kv_heads": json_field(cfg, path, "num_key_value_heads", "int", n_heads),
        "vocab_size": json_field(cfg, path, "vocab_size", "int"),
        "seq_len": seq_len or json_field(cfg, path, "max_position_embeddings", "int", 2048),
        "rope_theta": rope_theta, "rope_scaling": rope_scaling,
        "eos_token_id": None,
        "norm_eps": json_field(cfg, path, "rms_norm_eps", "number", 1e-6),
        "tie_embeddings": json_field(cfg, path, "tie_word_embeddings", "bool", False),
        "head_dim": explicit_hd, "residual": "standard", "block_size": 0,
        "qk_norm": kind == "qwen3",
        "imported_from": f"Hugging Face {arch}",
    }
    c["eos_token_id"], eos_path = hf_eos(src, cfg, path)
    names = dict(HF_NAMES, seq_len="--seq-len" if seq_len else "max_position_embeddings",
                 rope_scaling="rope_parameters" if cfg.get("rope_parameters") is not None else "rope_scaling")
    try:
        st.check_config(c, names)
    except st.FormatError as e:
        hint = ": pass --seq-len" if str(e).startswith("max_position_embeddings") else ""
        fail(f"{eos_path if str(e).startswith('eos_token_id') else path}: {e}{hint}")
    c["hd"] = st.head_dim(c)
    if c["hd"] * n_heads == dim:    # an explicit head_dim equal to the derived one is not written
        c["head_dim"] = 0
    return c


def hf_tensors(src):
    """name -> source tensor over model.safetensors or the shards of its index."""
    index = os.path.join(src, "model.safetensors.index.json")
    single = os.path.join(src, "model.safetensors")
    if os.path.isfile(index):
        with open(index, "rb") as f:
            doc = st.load_json(f.read(), index)
        weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            fail(f"{index}: weight_map = {st.show(weight_map)}, expected an object of tensor name -> shard file")
        out = {}
        for shard in sorted(set(weight_map.values())):
            if os.path.basename(shard) != shard or shard in ("", ".", ".."):
                fail(f"{index}: shard name {st.show(shard)} is not a plain file name")
            if not os.path.isfile(os.path.join(src, shard)):
                fail(f"{src}: shard {shard} named by model.safetensors.index.json is missing")
            for name, e in hf_file(os.path.join(src, shard)).items():
                if weight_map.get(name) == shard:
                    out[name] = e
        lost = sorted(set(weight_map) - set(out))
        if lost:
            fail(f"{index}: tensors not found in their shards: {lost[:5]}")
        return out
    if os.path.isfile(single):
        return hf_file(single)
    if any(n.endswith(".bin") or n.endswith(".pth") for n in os.listdir(src)):
        fail(f"{src}: only safetensors weights are read (found PyTorch pickles: convert them to safetensors first)")
    fail(f"{src}: neither model.safetensors nor model.safetensors.index.json")


def hf_file(path):
    """name -> source tensor of one .safetensors file (header checked against the file)."""
    _, entries, _ = st.read_header(path, dtypes=tuple(_ST_DTYPES))
    return {name: (path, dt, shape, begin) for name, (dt, shape, begin, _) in entries.items()}


def hf_plan(src, seq_len):
    """(config, list of (name, shape, chunks)) for a Hugging Face directory."""
    c = hf_config(src, seq_len)
    t = hf_tensors(src)
    d, hd, H, KV, nl = c["dim"], c["hd"], c["n_heads"], c["n_kv_heads"], c["n_layers"]
    used = set()

    def take(name, shape, rotate_heads=0):
        if name not in t:
            fail(f"{src}: tensor {name} is missing")
        if tuple(t[name][2]) != tuple(shape):
            fail(f"{src}: tensor {name} has shape {list(t[name][2])}, the config says {list(shape)}")
        used.add(name)
        return chunks_rotated(t[name], rotate_heads, hd) if rotate_heads else chunks_plain(t[name])

    plan = [("tok_embeddings.weight", (c["vocab_size"], d), take("model.embed_tokens.weight", (c["vocab_size"], d)))]
    for i in range(nl):
        p, q = f"model.layers.{i}.", f"layers.{i}."
        plan += [
            (q + "attention_norm.weight", (d,), take(p + "input_layernorm.weight", (d,))),
            (q + "attention.wq.weight", (H * hd, d), take(p + "self_attn.q_proj.weight", (H * hd, d), H)),
            (q + "attention.wk.weight", (KV * hd, d), take(p + "self_attn.k_proj.weight", (KV * hd, d), KV)),
            (q + "attention.wv.weight", (KV * hd, d), take(p + "self_attn.v_proj.weight", (KV * hd, d))),
            (q + "attention.wo.weight", (d, H * hd), take(p + "self_attn.o_proj.weight", (d, H * hd))),
        ]
        if c["qk_norm"]:
            plan += [
                (q + "attention.q_norm.weight", (hd,), take(p + "self_attn.q_norm.weight", (hd,), 1)),
                (q + "attention.k_norm.weight", (hd,), take(p + "self_attn.k_norm.weight", (hd,), 1)),
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

def llama2c_header(path):
    """(header sizes, shared classifier, data offset, legacy) of a llama2.c .bin."""
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
    return sizes, shared, offset, legacy


def llama2c_plan(path, seq_len):
    sizes, shared, offset, legacy = llama2c_header(path)
    c = dict(kind="llama2c", rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=bool(shared), head_dim=0,
             qk_norm=False, residual="standard", block_size=0,
             imported_from=f"llama2.c v{0 if legacy else 1} .bin", **sizes)
    # every size is checked before anything is made from it: first the
    # engine's limits, then the file size the header implies
    if seq_len:
        c["seq_len"] = seq_len
    try:
        st.check_config(c, {k: f"header field {k}" for k in sizes} | ({"seq_len": "--seq-len"} if seq_len else {}))
    except st.FormatError as e:
        fail(f"{path}: not a llama2.c checkpoint this engine can run: {e}")
    dim, hidden, nl, H, KV, V, T = (sizes[k] for k in ("dim", "hidden_dim", "n_layers", "n_heads",
                                                        "n_kv_heads", "vocab_size", "seq_len"))
    if legacy and T < 1:
        fail(f"{path}: header field seq_len = {T}, must be >= 1 (it sizes the RoPE tables)")
    hd = dim // H
    kv = KV * hd
    per_layer = [("attention_norm", (dim,)), ("attention.wq", (dim, dim)), ("attention.wk", (kv, dim)),
                 ("attention.wv", (kv, dim)), ("attention.wo", (dim, dim)), ("ffn_norm", (dim,)),
                 ("feed_forward.w1", (hidden, dim)), ("feed_forward.w2", (dim, hidden)),
                 ("feed_forward.w3", (hidden, dim))]
    floats = V * dim + nl * sum(row_width((1,) + s) for _, s in per_layer) + dim
    floats += (2 * T * (hd // 2) if legacy else 0) + (0 if shared else V * dim)
    size = os.path.getsize(path)
    if size != offset + 4 * floats:
        fail(f"{path}: {size} bytes, but a llama2.c v{0 if legacy else 1} model with header {sizes}"
             f"{'' if shared else ' and its own classifier'} has {offset + 4 * floats}")
    groups = {k: [(f"layers.{i}.{k}.weight", s) for i in range(nl)] for k, s in per_layer}
    embedding = [("tok_embeddings.weight", (V, dim))]
    if legacy:   # embedding, then each kind of weight for all layers, norm, freqs, classifier
        order = embedding + [x for k, _ in per_layer for x in groups[k]] + [("norm.weight", (dim,))]
    else:        # norms first, then embedding, then the matrices of all layers
        order = (groups["attention_norm"] + groups["ffn_norm"] + [("norm.weight", (dim,))] + embedding +
                 [x for k in ("attention.wq", "attention.wk", "attention.wv", "attention.wo",
                              "feed_forward.w1", "feed_forward.w2", "feed_forward.w3") for x in groups[k]])
    at, where = offset, {}
    for name, s in order:
        where[name] = (path, "F32", s, at)
        at += 4 * s[0] * row_width(s)
    if legacy:
        at += 4 * 2 * T * (hd // 2)        # freqs_cos, freqs_sin [seq_len, head_dim/2]: not needed
    if not shared:
        where["output.weight"] = (path, "F32", (V, dim), at)
    c["hd"] = hd
    names = [n for n, _ in st.tensor_shapes(c)]
    return c, [(n, where[n][2], chunks_plain(where[n])) for n in names]


# --------------------------------------------------------------------------
# standard -> Block AttnRes with zero pseudo-queries and unit key gains
# --------------------------------------------------------------------------

def to_attnres(src, out, block_size):
    meta, entries, _ = st.read_header(src)
    if "quantization" in meta:
        fail(f"{src}: a {meta['quantization']} checkpoint; convert the float32 model it came from")
    c = st.config_from_metadata(meta, src)
    if c["residual"] != "standard":
        fail(f"{src}: not a standard-residual attnres checkpoint (residual {c['residual']!r})")
    st.check_tensors(src, entries, c)
    target = dict(c, residual="attnres", block_size=block_size)
    try:
        st.check_config(target, {"block_size": "--block-size"})
    except st.FormatError as e:
        fail(str(e))
    d = c["dim"]
    plan = []
    for name, shape in st.tensor_shapes(target):
        if name in entries:
            dt, s, begin, _ = entries[name]
            plan.append((name, shape, chunks_plain((src, dt, s, begin))))
        else:                                      # the AttnRes vectors of every sublayer and the output
            plan.append((name, shape, chunks_constant((d,), 0.0 if name.endswith("pseudo_query") else 1.0)))
    meta = dict(meta, residual="attnres", block_size=str(block_size),
                converted="standard -> Block AttnRes, zero pseudo-queries, unit key gains")
    write_streaming(out, plan, meta)


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (its default adds the usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message}\n")


def main(argv=None):
    ap = Parser(prog="import_model", description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?", help="HF model directory or llama2.c .bin")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seq-len", type=int, default=None, help="context to record (default: the model's)")
    ap.add_argument("--to-attnres", metavar="MODEL", help="convert an imported standard model to AttnRes")
    ap.add_argument("--block-size", type=int, default=None, help="S for --to-attnres (default 2: a block per layer)")
    args = ap.parse_args(argv)
    try:
        if args.seq_len is not None and not 1 <= args.seq_len <= st.MAX_SEQ:
            fail(f"--seq-len = {args.seq_len}, must be in [1, {st.MAX_SEQ}] (attnres.h's limit for seq_len)")
        if args.to_attnres:
            # options that would be ignored are refused, so no one believes they took effect
            if args.source or args.seq_len is not None:
                fail(f"--to-attnres takes no {'SOURCE' if args.source else '--seq-len'}: it converts MODEL as it is")
            block_size = 2 if args.block_size is None else args.block_size
            to_attnres(args.to_attnres, args.out, block_size)
            print(f"wrote {args.out}: Block AttnRes S={block_size}, zero pseudo-queries, unit key gains")
            return 0
        if args.block_size is not None:
            fail("--block-size is an option of --to-attnres only")
        if not args.source:
            fail("give a SOURCE (HF directory or llama2.c .bin) or --to-attnres MODEL")
        if os.path.isdir(args.source):
            c, plan = hf_plan(args.source, args.seq_len)
        elif os.path.isfile(args.source):
            c, plan = llama2c_plan(args.source, args.seq_len)
        else:
            fail(f"{args.source}: not a file or a directory")
        write_streaming(args.out, plan, config_metadata(c))
        n = sum(int(np.prod(s)) for _, s, _ in plan)
        print(f"wrote {args.out}: {c['imported_from']}, {c['n_layers']} layers, dim {c['dim']}, "
              f"heads {c['n_heads']}/{c['n_kv_heads']} x {c['hd']}, "
              f"vocab {c['vocab_size']}, {n / 1e6:.1f}M parameters ({4 * n / 1e6:.0f} MB at F32)")
    except (st.FormatError, OSError) as e:
        print(f"import_model: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
