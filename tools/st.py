"""Tiny safetensors writer and reader (F32, I32 and I8 only), no dependencies
beyond numpy (torch tensors are accepted on write), and the rules of an
attnres checkpoint's config as attnres.h applies them.

File layout:

    [8 bytes]  N, the header length, little-endian uint64
    [N bytes]  JSON header, padded with trailing spaces so that (8 + N) % 8 == 0
    [rest]     raw little-endian tensor bytes, laid out contiguously in the
               order of the header, with no gaps

Header JSON (written compactly, keys in this order):

    {"__metadata__": {"key": "value", ...},
     "<name>": {"dtype": "F32" | "I32" | "I8", "shape": [..], "data_offsets": [begin, end]},
     ...}

data_offsets are byte offsets relative to the start of the data section
(byte 8 + N). The writer is deterministic: the same input gives the same bytes.

Reading a file nobody vouches for: read_header() checks every field of the
header against the file's size before anything is allocated for a tensor,
and raises FormatError, a one-line message naming the field, for anything
malformed (wrong JSON types, negative or overflowing shapes, offsets outside
the file, overlapping or duplicate tensors, non-UTF-8, deep nesting).
Writing: the file appears complete under its name or not at all (a
temporary file beside it, removed on any failure).
"""

import contextlib
import json
import os
import re
import struct
import tempfile

import numpy as np

# safetensors dtype name <-> little-endian numpy dtype
_DTYPES = {"F32": np.dtype("<f4"), "I32": np.dtype("<i4"), "I8": np.dtype("i1")}
# every dtype name a header may hold, with its width in bytes
ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
MAX_HEADER = 100 * 1024 * 1024   # the format's own limit, as attnres.h's


class FormatError(ValueError):
    """A file or setting this project refuses; the message is one line that names the field."""


def show(value, limit=40):
    """A JSON value as a short one-line string for a message."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def is_int(v):
    """A JSON integer (a bool is not one)."""
    return isinstance(v, int) and not isinstance(v, bool)


def load_json(raw, where):
    """bytes -> JSON value; non-UTF-8, bad syntax, duplicate keys and nesting
    too deep for Python's parser are FormatErrors."""
    def no_duplicates(pairs):
        seen = {}
        for k, v in pairs:
            if k in seen:
                raise FormatError(f"{where}: key {show(k)} appears twice")
            seen[k] = v
        return seen
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"{where}: not UTF-8 (byte {e.start})") from None
    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except RecursionError:
        raise FormatError(f"{where}: JSON nested too deeply") from None
    except json.JSONDecodeError as e:
        raise FormatError(f"{where}: not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None


def read_header(path, dtypes=None):
    """(metadata dict str -> str, dict name -> (dtype, shape, begin, end), data_start)
    of a .safetensors file, begin/end absolute file offsets. Every field is
    checked before it is used: the tensors must tile the data section
    exactly (no overlap, no gap, nothing after the last one), as attnres.h
    requires. dtypes: the dtype names accepted (default: this module's)."""
    dtypes = dtypes or tuple(_DTYPES)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise FormatError(f"{path}: {size} bytes, too short for a safetensors header")
        (n,) = struct.unpack("<Q", raw)
        if n > min(size - 8, MAX_HEADER):
            raise FormatError(f"{path}: header length {n} does not fit in the file ({size} bytes)"
                              + (f" or the format's {MAX_HEADER}" if n > MAX_HEADER else ""))
        header = load_json(f.read(n), f"{path}: header")
    if not isinstance(header, dict):
        raise FormatError(f"{path}: header is a JSON {type(header).__name__}, expected an object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise FormatError(f"{path}: __metadata__ must map strings to strings: {show(meta)}")
    start, data_size = 8 + n, size - 8 - n
    tensors = {name: _tensor_entry(path, name, info, dtypes, data_size, start) for name, info in header.items()}
    _check_tiling(path, tensors, start, size)
    return meta, tensors, start


def _tensor_entry(path, name, info, dtypes, data_size, start):
    """(dtype, shape, begin, end) of one header entry, every field checked."""
    where = f"{path}: tensor {show(name)}"
    if not name:
        raise FormatError(f"{path}: a tensor has an empty name")
    if not isinstance(info, dict):
        raise FormatError(f"{where}: entry is {show(info)}, expected an object")
    dt, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dt not in dtypes:
        raise FormatError(f"{where}: dtype {show(dt)} is not supported (only {', '.join(dtypes[:-1])} and {dtypes[-1]})")
    if not isinstance(shape, list) or not all(is_int(d) and d >= 0 for d in shape):
        raise FormatError(f"{where}: shape {show(shape)} is not a list of integers >= 0")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(is_int(o) for o in offsets)):
        raise FormatError(f"{where}: data_offsets {show(offsets)} is not a pair of integers")
    begin, end = offsets
    numel = 1
    for d in shape:
        numel *= d          # Python ints: a lying shape cannot overflow into agreement
    if not 0 <= begin <= end <= data_size:
        raise FormatError(f"{where}: data_offsets [{begin}, {end}] lie outside the data section ({data_size} bytes)")
    if end - begin != numel * ITEMSIZE[dt]:
        raise FormatError(f"{where}: data_offsets [{begin}, {end}] hold {end - begin} bytes, "
                          f"but shape {shape} of {dt} needs {numel * ITEMSIZE[dt]}")
    return dt, tuple(shape), start + begin, start + end


def _check_tiling(path, tensors, start, size):
    """The tensors cover [start, size) exactly, one after another."""
    at = start
    for name, (_, _, begin, end) in sorted(tensors.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        if begin != at:
            raise FormatError(f"{path}: tensor {show(name)} {'overlaps the one before it' if begin < at else 'leaves a gap before it'}"
                              f" (data_offsets start {begin - start}, expected {at - start})")
        at = end
    if at != size:
        raise FormatError(f"{path}: {size - at} unused bytes after the last tensor")


# --------------------------------------------------------------------------
# Writing: complete under the final name, or nothing
# --------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_output(path):
    """Yields a binary file to write; on success it is renamed to path, on
    any failure (an exception, a full disk, Ctrl-C) it is removed, so path
    never holds half a file and no temporary file is left behind. A failed
    write or rename is a FormatError naming path."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = _writing(path, lambda: tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                                                      suffix=".tmp"))
    f = os.fdopen(fd, "wb")
    try:
        yield _Writer(f, path)
        _writing(path, f.close)
        _writing(path, lambda: os.replace(tmp, path))
    except BaseException:
        with contextlib.suppress(OSError):
            f.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _writing(path, fn):
    """fn(), with an OSError turned into one line that names the file written."""
    try:
        return fn()
    except OSError as e:
        raise FormatError(f"cannot write {path}: {e.strerror or e}") from None


class _Writer:
    """A file whose write() failures name the output file."""

    def __init__(self, f, path):
        self.f, self.path = f, path

    def write(self, data):
        return _writing(self.path, lambda: self.f.write(data))


def header_bytes(header):
    """The compact JSON header, padded so the data starts 8-aligned, with its length first."""
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % 8)
    return struct.pack("<Q", len(text)) + text


def _dtype_name(arr):
    """The safetensors dtype name of a numpy array; other dtypes are rejected."""
    if arr.dtype == np.float32:
        return "F32"
    if arr.dtype == np.int32:
        return "I32"
    if arr.dtype == np.int8:
        return "I8"
    raise TypeError(f"unsupported dtype {arr.dtype} (only float32 -> F32, int32 -> I32, int8 -> I8)")


def _to_numpy(value):
    """A numpy array from a numpy array or a torch tensor (moved to the CPU)."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):  # torch.Tensor, without importing torch here
        return value.detach().cpu().numpy()
    raise TypeError(f"expected a numpy array or torch tensor, got {type(value).__name__}")


def write(path, tensors, metadata=None):
    """Write `tensors` (dict name -> array/tensor, in the order given) and
    `metadata` (dict str -> str) to a .safetensors file at `path`."""
    metadata = dict(metadata or {})
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"metadata must map str to str, got {k!r}: {v!r}")

    header = {"__metadata__": metadata}
    arrays = []
    offset = 0
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"bad tensor name {name!r}")
        arr = _to_numpy(value)
        dtype = _dtype_name(arr)
        arr = np.ascontiguousarray(arr, dtype=_DTYPES[dtype])
        header[name] = {
            "dtype": dtype,
            "shape": [int(d) for d in arr.shape],
            "data_offsets": [offset, offset + arr.nbytes],
        }
        arrays.append(arr)
        offset += arr.nbytes

    with atomic_output(path) as f:
        f.write(header_bytes(header))
        for arr in arrays:
            f.write(arr.data)


def read(path):
    """Read a .safetensors file: returns (dict name -> np.ndarray, metadata dict).
    The header is checked by read_header (FormatError, one line, if malformed)."""
    meta, entries, _ = read_header(path)
    tensors = {}
    with open(path, "rb") as f:
        for name, (dt, shape, begin, end) in entries.items():
            f.seek(begin)
            a = np.empty(shape, dtype=_DTYPES[dt])
            if f.readinto(a.reshape(-1).view(np.uint8)) != end - begin:
                raise FormatError(f"{path}: tensor {show(name)}: the file ended while reading it")
            tensors[name] = a
    return tensors, meta


# --------------------------------------------------------------------------
# The config of an attnres checkpoint, checked as attnres.h checks it
# --------------------------------------------------------------------------

# attnres.h's ATTNRES__MAX_* (attnres_config_validate) and its q8 group limit.
# tests/test_importers.sh loads files at these limits with the C engine, so
# the two cannot drift apart unnoticed.
MAX_DIM, MAX_LAYERS, MAX_VOCAB, MAX_SEQ, MAX_GROUP = 1 << 16, 1024, 1 << 22, 1 << 20, 4096
MAX_EOS = 8   # attnres.h's ATTNRES_MAX_EOS
# RoPE scalings attnres.h implements, and the numbers each one uses (metadata
# key rope_scaling_NAME; in config.json's rope_scaling just NAME)
ROPE_SCALING_KEYS = {"linear": ("factor",),
                     "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")}
FLT_MAX = float(np.finfo(np.float32).max)


def head_dim(c):
    """The width of one head: the explicit head_dim, or dim / n_heads."""
    return c["head_dim"] or c["dim"] // c["n_heads"]


def check_config(c, names=None):
    """Raises FormatError unless attnres_config_validate would accept c (a dict
    with dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
    head_dim (0: dim / n_heads), rope_theta, norm_eps, residual, block_size).
    names: how each key is called where the user wrote it (a config.json
    field, a header slot, an option); the message uses that name."""
    name = lambda k: (names or {}).get(k, k)   # noqa: E731
    ranges = [("dim", 1, MAX_DIM), ("hidden_dim", 1, 4 * MAX_DIM), ("n_layers", 1, MAX_LAYERS),
              ("n_heads", 1, c["dim"]), ("n_kv_heads", 1, c["n_heads"]), ("vocab_size", 1, MAX_VOCAB),
              ("seq_len", 1, MAX_SEQ), ("head_dim", 0, MAX_DIM)]
    for k, lo, hi in ranges:
        if not lo <= c[k] <= hi:
            raise FormatError(f"{name(k)} = {c[k]}, must be in [{lo}, {hi}] (attnres.h's limit for {k})")
    if c["head_dim"] == 0 and c["dim"] % c["n_heads"]:
        raise FormatError(f"{name('n_heads')} = {c['n_heads']} does not divide {name('dim')} = {c['dim']}")
    hd = head_dim(c)
    if c["n_heads"] * hd > 4 * MAX_DIM:
        raise FormatError(f"{name('n_heads')} * head_dim = {c['n_heads']} * {hd} exceeds {4 * MAX_DIM}")
    if hd % 2:
        raise FormatError(f"head_dim = {hd} ({name('head_dim') if c['head_dim'] else name('dim') + ' / ' + name('n_heads')})"
                          " must be even for RoPE")
    if c["n_heads"] % c["n_kv_heads"]:
        raise FormatError(f"{name('n_kv_heads')} = {c['n_kv_heads']} does not divide {name('n_heads')} = {c['n_heads']}")
    for k in ("rope_theta", "norm_eps"):
        check_float32(c[k], name(k), positive=True)
    if c.get("rope_scaling"):
        check_rope_scaling(c["rope_scaling"], name("rope_scaling"))
    eos = c.get("eos_token_id") or []
    if len(eos) > MAX_EOS:
        raise FormatError(f"{name('eos_token_id')} names {len(eos)} ids, at most {MAX_EOS} (attnres.h's limit)")
    for i in eos:
        if not 0 <= i < c["vocab_size"]:
            raise FormatError(f"{name('eos_token_id')}: {i} is not a token (vocab_size {c['vocab_size']})")
    if c["residual"] == "standard":
        if c["block_size"] != 0:
            raise FormatError(f"{name('block_size')} = {c['block_size']}, must be 0 for standard residuals")
    elif c["residual"] == "attnres":
        if not 1 <= c["block_size"] <= 2 * c["n_layers"]:
            raise FormatError(f"{name('block_size')} = {c['block_size']}, must be in [1, L = {2 * c['n_layers']}]")
    else:
        raise FormatError(f"{name('residual')} = {show(c['residual'])}, expected \"standard\" or \"attnres\"")


def check_rope_scaling(r, name="rope_scaling"):
    """r = {"type": "linear" | "llama3", "factor": ..., ...} as attnres.h's
    attnres__rope_scaling_validate accepts it: finite positive float32
    factors, 0 < low_freq_factor < high_freq_factor, an original context
    in [1, MAX_SEQ]."""
    if r["type"] not in ROPE_SCALING_KEYS:
        raise FormatError(f"{name} type {show(r['type'])} is not supported (\"linear\" and \"llama3\" are)")
    for k in ROPE_SCALING_KEYS[r["type"]]:
        if k == "original_max_position_embeddings":
            if not (is_int(r[k]) and 1 <= r[k] <= MAX_SEQ):
                raise FormatError(f"{name}.{k} = {show(r[k])}, must be an integer in [1, {MAX_SEQ}]")
        else:
            check_float32(r[k], f"{name}.{k}", positive=True)
    if r["type"] == "llama3" and not r["high_freq_factor"] > r["low_freq_factor"]:
        raise FormatError(f"{name}.high_freq_factor = {r['high_freq_factor']!r} must be greater than "
                          f"low_freq_factor = {r['low_freq_factor']!r}")


def check_float32(v, name, positive=False):
    """v must be a finite number a float32 holds (not rounded to 0 or Inf),
    and > 0 if positive: the engine stores these settings as float."""
    if not (isinstance(v, (int, float)) and not isinstance(v, bool)) or v != v or abs(v) == float("inf"):
        raise FormatError(f"{name} = {show(v)} is not a finite number")
    if abs(v) >= FLT_MAX + 2.0 ** 103:     # past FLT_MAX by half an ulp or more: Inf as a float
        raise FormatError(f"{name} = {v!r} is outside the range of a float32 (|x| <= {FLT_MAX:g})")
    if v != 0 and struct.unpack("<f", struct.pack("<f", max(-FLT_MAX, min(FLT_MAX, v))))[0] == 0:
        raise FormatError(f"{name} = {v!r} is too small for a float32: it would be stored as 0")
    if positive and not v > 0:
        raise FormatError(f"{name} = {v!r}, must be > 0")


def check_group_size(c, G, name="group_size"):
    """attnres.h's rule for q8 groups: 1 <= G <= 4096, dividing every matvec's columns."""
    if not 1 <= G <= MAX_GROUP:
        raise FormatError(f"{name} = {G}, must be in [1, {MAX_GROUP}]")
    q_dim = c["n_heads"] * head_dim(c)
    if c["dim"] % G or q_dim % G or c["hidden_dim"] % G:
        raise FormatError(f"{name} = {G} must divide dim = {c['dim']}, n_heads*head_dim = {q_dim} "
                          f"and hidden_dim = {c['hidden_dim']}")


_DECIMAL_INT = r"-?[0-9]+"
_DECIMAL = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"


def config_from_metadata(meta, where="checkpoint"):
    """The config dict of an attnres checkpoint's __metadata__, parsed as
    attnres.h parses it (decimal ints, JSON-grammar floats, exact words) and
    checked by check_config; FormatError names the key."""

    def need(k):
        if k not in meta:
            raise FormatError(f"{where}: metadata lacks '{k}'")
        return meta[k]

    def integer(k, default=None):
        s = need(k) if default is None or k in meta else default
        if not re.fullmatch(_DECIMAL_INT, s):
            raise FormatError(f"{where}: metadata '{k}' = {show(s)} is not an integer")
        return int(s)

    def number(k):
        s = need(k)
        if not re.fullmatch(_DECIMAL, s):
            raise FormatError(f"{where}: metadata '{k}' = {show(s)} is not a decimal number")
        return float(s)

    def word(k, choices, default=None):
        s = need(k) if default is None or k in meta else default
        if s not in choices:
            raise FormatError(f"{where}: metadata '{k}' = {show(s)}, expected " + " or ".join(f'"{w}"' for w in choices))
        return s

    # keys of a q8 file in a file without "quantization": attnres.h refuses them
    if meta.get("activations", "fp32") not in ("fp32", "int8"):
        raise FormatError(f"{where}: metadata 'activations' = {show(meta['activations'])}, expected \"fp32\" or \"int8\"")
    for k in ("group_size", "activations"):
        if k in meta and "quantization" not in meta and not (k == "activations" and meta[k] == "fp32"):
            raise FormatError(f"{where}: metadata has '{k}' but no 'quantization'")
    if meta.get("format", "attnres") != "attnres":
        raise FormatError(f"{where}: metadata 'format' = {show(meta['format'])} is not \"attnres\"")
    version = word("format_version", ("1", "2", "3"))
    v2 = version != "1"
    c = {k: integer(k) for k in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")}
    c.update(rope_theta=number("rope_theta"), norm_eps=number("norm_eps"),
             tie_embeddings=word("tie_embeddings", ("false", "true")) == "true",
             residual=word("residual", ("standard", "attnres")))
    c["block_size"] = integer("block_size", "0")
    c["head_dim"] = integer("head_dim", "0") if v2 else 0
    c["qk_norm"] = v2 and word("qk_norm", ("false", "true"), "false") == "true"
    c["rope_scaling"] = None
    if "rope_scaling" in meta:
        kind = word("rope_scaling", tuple(ROPE_SCALING_KEYS))
        if version != "3":
            raise FormatError(f"{where}: rope_scaling needs format_version \"3\" (the file says {show(version)})")
        unused = [k for k in ROPE_SCALING_KEYS["llama3"] if k not in ROPE_SCALING_KEYS[kind] and "rope_scaling_" + k in meta]
        if unused:
            raise FormatError(f"{where}: metadata has 'rope_scaling_{unused[0]}', which rope_scaling \"{kind}\" does not use")
        c["rope_scaling"] = {"type": kind}
        for k in ROPE_SCALING_KEYS[kind]:
            c["rope_scaling"][k] = integer("rope_scaling_" + k) if k.startswith("original") else number("rope_scaling_" + k)
    else:
        stray = [k for k in ROPE_SCALING_KEYS["llama3"] if "rope_scaling_" + k in meta]
        if stray:
            raise FormatError(f"{where}: metadata has 'rope_scaling_{stray[0]}' but no 'rope_scaling'")
    c["eos_token_id"] = []
    if "eos_token_id" in meta:
        if not re.fullmatch(r"[0-9]+(,[0-9]+)*", meta["eos_token_id"]):
            raise FormatError(f"{where}: metadata 'eos_token_id' = {show(meta['eos_token_id'])} is not a "
                              "comma-separated list of token ids")
        c["eos_token_id"] = [int(x) for x in meta["eos_token_id"].split(",")]
    for k in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len", "block_size", "head_dim"):
        if not -2 ** 31 <= c[k] < 2 ** 31:
            raise FormatError(f"{where}: metadata '{k}' = {c[k]} is outside the range of an int")
    try:
        check_config(c, {k: f"metadata '{k}'" for k in c})
    except FormatError as e:
        raise FormatError(f"{where}: {e}") from None
    return c


def tensor_shapes(c):
    """Every tensor of a float32 checkpoint with config c as (name, shape), in
    the canonical order (tools/reference.py tensor_names_and_shapes)."""
    d, hd, hid = c["dim"], head_dim(c), c["hidden_dim"]
    qd, kv = c["n_heads"] * hd, c["n_kv_heads"] * hd
    out = [("tok_embeddings.weight", (c["vocab_size"], d))]
    for i in range(c["n_layers"]):
        p = f"layers.{i}."
        out += [(p + "attention_norm.weight", (d,)), (p + "attention.wq.weight", (qd, d)),
                (p + "attention.wk.weight", (kv, d)), (p + "attention.wv.weight", (kv, d)),
                (p + "attention.wo.weight", (d, qd))]
        if c["qk_norm"]:
            out += [(p + "attention.q_norm.weight", (hd,)), (p + "attention.k_norm.weight", (hd,))]
        out += [(p + "ffn_norm.weight", (d,)), (p + "feed_forward.w1.weight", (hid, d)),
                (p + "feed_forward.w2.weight", (d, hid)), (p + "feed_forward.w3.weight", (hid, d))]
        if c["residual"] == "attnres":
            out += [(p + k, (d,)) for k in ("attention_res.pseudo_query", "attention_res.key_norm.weight",
                                           "ffn_res.pseudo_query", "ffn_res.key_norm.weight")]
    if c["residual"] == "attnres":
        out += [("output_res.pseudo_query", (d,)), ("output_res.key_norm.weight", (d,))]
    out.append(("norm.weight", (d,)))
    if not c["tie_embeddings"]:
        out.append(("output.weight", (c["vocab_size"], d)))
    return out


def check_tensors(path, entries, c):
    """The header's tensors are exactly those of config c, as float32, with its shapes."""
    expected = tensor_shapes(c)
    names = {n for n, _ in expected}
    missing = [n for n, _ in expected if n not in entries]
    if missing:
        raise FormatError(f"{path}: tensor {missing[0]} is missing ({len(missing)} missing)")
    extra = sorted(set(entries) - names)
    if extra:
        raise FormatError(f"{path}: tensor {show(extra[0])} is not part of this config ({len(extra)} extra)")
    for n, shape in expected:
        if entries[n][0] != "F32" or tuple(entries[n][1]) != shape:
            raise FormatError(f"{path}: tensor {n} is {entries[n][0]} {list(entries[n][1])}, "
                              f"the config says F32 {list(shape)}")
