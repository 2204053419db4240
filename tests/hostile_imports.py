"""Hostile inputs for tools/import_model.py and tools/quantize.py, made and run.

    /usr/bin/python3 tests/hostile_imports.py GOLDEN_IMPORT_DIR SCRATCH_DIR

Makes one directory per case under SCRATCH_DIR (truncated files, headers
claiming huge sizes, every config.json field with a wrong type, nested,
zero, negative, huge or missing, safetensors headers with bad lengths,
dtypes, shapes, offsets, overlaps, duplicate names, non-UTF-8 and deep
nesting, options out of range) and runs the tool's main() on each, in this
process so that over 200 cases cost one interpreter start. Each must return
exit status 1 or 2 with exactly one line on stderr that names the field,
raise nothing (an escaping exception is what a user would see as a
traceback), leave nothing where the output would go (no file, no temporary
file), and stay under an address-space cap of 400 MB above what the process
holds before the cases and a 60 s alarm. Prints ok / FAIL / skip lines;
exits 0.
"""
import contextlib
import copy
import io
import json
import os
import resource
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))


def make_limits(golden, out):
    """Sources at the engine's limits, which must import and then load in
    attnres-run: an HF config with max_position_embeddings 2^20, rope_theta
    FLT_MAX and rms_norm_eps the smallest float32 above 0; a llama2.c file of
    1024 layers (tiny ones)."""
    cfg = json.load(open(f"{golden}/hf_llama/config.json"))
    cfg.update(max_position_embeddings=1 << 20, rope_theta=3.4028234663852886e38, rms_norm_eps=1.401298464324817e-45)
    os.makedirs(f"{out}/hf_limits")
    json.dump(cfg, open(f"{out}/hf_limits/config.json", "w"))
    os.symlink(os.path.abspath(f"{golden}/hf_llama/model.safetensors"), f"{out}/hf_limits/model.safetensors")
    dim, hidden, nl, heads, kv, vocab, seq = 2, 2, 1024, 1, 1, 96, 8
    floats = vocab * dim + nl * (2 * dim + 4 * dim * dim + 3 * hidden * dim) + dim
    header = struct.pack("<Ii7iB", 0x616B3432, 1, dim, hidden, nl, heads, kv, vocab, seq, 1)
    weights = struct.pack(f"<{floats}f", *[((i * 37) % 17 - 8) / 16 for i in range(floats)])
    open(f"{out}/l2c_1024_layers.bin", "wb").write(header + bytes(256 - len(header)) + weights)


if sys.argv[1] == "--limits":
    make_limits(sys.argv[2], sys.argv[3])
    sys.exit(0)
golden, out = sys.argv[1], sys.argv[2]
lines = []


def case(name, needle, tool, *args):
    lines.append((name, needle, tool) + args)


def new(name):
    d = os.path.join(out, name)
    os.makedirs(d)
    return d


def st_parts(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def st_bytes(header_text, data):
    if isinstance(header_text, str):
        header_text = header_text.encode("utf-8")
    return struct.pack("<Q", len(header_text)) + header_text + data


# ---- llama2.c headers: every field zero, negative, huge, inconsistent
v1 = open(f"{golden}/llama2c_v1.bin", "rb").read()
FIELDS = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"]
good = dict(zip(FIELDS, struct.unpack("<7i", v1[8:36])))


def llama2c(name, needle, legacy=False, **over):
    """The v1 fixture (or a bare legacy header) with header fields replaced;
    the v1 weights follow, so a field that does not change the layout
    (seq_len) is not caught by the file size alone."""
    h = dict(good, **over)
    body = b"" if legacy else v1[256:]
    d = new(name)
    vals = [h[k] for k in FIELDS]
    raw = struct.pack("<7i", *vals) if legacy else v1[:8] + struct.pack("<7i", *vals) + v1[36:256]
    open(f"{d}/m.bin", "wb").write(raw + body)
    case(name, needle, "import_model", f"{d}/m.bin", "--out", "@OUT")


llama2c("l2c_layers_millions_28_bytes", "n_layers", legacy=True, n_layers=4_000_000)
for k in FIELDS:
    llama2c(f"l2c_{k}_zero", k, **{k: 0})
    llama2c(f"l2c_{k}_negative", k, **{k: -7})
    llama2c(f"l2c_{k}_huge", k, **{k: 2 ** 31 - 1})
llama2c("l2c_seq_len_past_engine", "seq_len", seq_len=(1 << 20) + 1)
llama2c("l2c_heads_not_dividing", "n_heads", n_heads=3)
llama2c("l2c_kv_not_dividing", "n_kv_heads", n_heads=4, n_kv_heads=3)
llama2c("l2c_odd_head_dim", "head_dim", dim=30, n_heads=2, n_kv_heads=2)
llama2c("l2c_max_sizes_short_file", "bytes, but a llama2.c v1 model", dim=1 << 16, hidden_dim=1 << 18,
        n_layers=1024, n_heads=1 << 9, n_kv_heads=1 << 9, vocab_size=1 << 22, seq_len=1 << 20)
llama2c("l2c_legacy_max_sizes", "bytes, but a llama2.c v0 model", legacy=True, dim=1 << 16, n_layers=1024,
        vocab_size=1 << 22, n_heads=1 << 9, n_kv_heads=1 << 9)
d = new("l2c_ten_bytes"); open(f"{d}/m.bin", "wb").write(b"0123456789")
case("l2c_ten_bytes", "too short", "import_model", f"{d}/m.bin", "--out", "@OUT")
d = new("l2c_v1_short_header"); open(f"{d}/m.bin", "wb").write(v1[:100])
case("l2c_v1_short_header", "version-1 header", "import_model", f"{d}/m.bin", "--out", "@OUT")
d = new("l2c_shared_flag"); open(f"{d}/m.bin", "wb").write(v1[:36] + b"\x07" + v1[37:])
case("l2c_shared_flag", "shared-classifier", "import_model", f"{d}/m.bin", "--out", "@OUT")
d = new("l2c_nan_weight"); open(f"{d}/m.bin", "wb").write(v1[:-4] + struct.pack("<f", float("nan")))
case("l2c_nan_weight", "NaN", "import_model", f"{d}/m.bin", "--out", "@OUT")
case("opt_block_size_without_to_attnres", "--block-size", "import_model", f"{golden}/llama2c_v1.bin",
     "--block-size", "2", "--out", "@OUT")
case("opt_to_attnres_and_source", "SOURCE", "import_model", f"{golden}/llama2c_v1.bin",
     "--to-attnres", f"{golden}/hf_llama.model.safetensors", "--out", "@OUT")
case("opt_to_attnres_and_seq_len", "--seq-len", "import_model", "--to-attnres", f"{golden}/hf_llama.model.safetensors",
     "--seq-len", "16", "--out", "@OUT")
case("source_missing", "not a file or a directory", "import_model", f"{golden}/no_such_model", "--out", "@OUT")
case("source_device", "not a file or a directory", "import_model", "/dev/zero", "--out", "@OUT")
case("out_missing_folder", "missing/out: No such file", "import_model", f"{golden}/llama2c_v1.bin", "--out", "@OUT/missing/out")
for v in ("0", "-5", str((1 << 20) + 1), str(10 ** 30), "abc", "1.5"):
    case(f"opt_seq_len_{v}", "--seq-len", "import_model", f"{golden}/llama2c_v1.bin", "--seq-len", v, "--out", "@OUT")

# ---- config.json: every field with a wrong type, nested, zero, negative, huge, missing
base_cfg = json.load(open(f"{golden}/hf_llama/config.json"))


def hf(name, needle, cfg=None, raw=None, weights=None, gen=None):
    """A Hugging Face directory: config.json (cfg, or the bytes raw), the
    golden weights (or the bytes weights), and generation_config.json's bytes
    when gen is given."""
    d = new(name)
    if raw is None:
        raw = json.dumps(cfg if cfg is not None else base_cfg).encode("utf-8")
    open(f"{d}/config.json", "wb").write(raw)
    if gen is not None:
        open(f"{d}/generation_config.json", "wb").write(gen)
    if weights is None:
        os.symlink(os.path.abspath(f"{golden}/hf_llama/model.safetensors"), f"{d}/model.safetensors")
    else:
        open(f"{d}/model.safetensors", "wb").write(weights)
    case(name, needle, "import_model", d, "--out", "@OUT")


def with_field(k, v):
    c = copy.deepcopy(base_cfg)
    if v is DELETE:
        c.pop(k, None)
    else:
        c[k] = v
    return c


DELETE = object()
INTS = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "vocab_size", "max_position_embeddings"]
for k in INTS:
    for label, v in [("string", "32"), ("list", [32]), ("object", {"v": 32}), ("float", 32.5),
                     ("bool", True), ("zero", 0), ("negative", -4), ("huge", 10 ** 30)]:
        hf(f"cfg_{k}_{label}", k, with_field(k, v))
for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
    hf(f"cfg_{k}_missing", k, with_field(k, DELETE))
hf("cfg_max_position_past_engine", "max_position_embeddings", with_field("max_position_embeddings", (1 << 20) + 1))
hf("cfg_heads_not_dividing", "num_attention_heads", with_field("num_attention_heads", 3))
hf("cfg_kv_not_dividing", "num_key_value_heads", with_field("num_key_value_heads", 3))
for label, v in [("string", "8"), ("zero", 0), ("negative", -8), ("odd", 7), ("huge", 1 << 17), ("list", [8])]:
    hf(f"cfg_head_dim_{label}", "head_dim", with_field("head_dim", v))
for k in ("rope_theta", "rms_norm_eps"):
    for label, v in [("string", "1e4"), ("list", [1.0]), ("bool", True), ("zero", 0), ("negative", -1.0),
                     ("past_float32", 1e39), ("under_float32", 1e-50)]:
        hf(f"cfg_{k}_{label}", k, with_field(k, v))
    for label, lit in [("nan", "NaN"), ("infinity", "Infinity")]:
        text = json.dumps(with_field(k, 12345.5)).replace("12345.5", lit)
        hf(f"cfg_{k}_{label}", k, raw=text.encode())
for k, v in [("tie_word_embeddings", "false"), ("tie_word_embeddings", 0), ("attention_bias", "no"),
             ("mlp_bias", [False]), ("hidden_act", ["silu"]), ("hidden_act", 5)]:
    hf(f"cfg_{k}_{type(v).__name__}", k, with_field(k, v))
for label, v in [("string", "LlamaForCausalLM"), ("empty", []), ("number", [5]), ("missing", DELETE)]:
    hf(f"cfg_architectures_{label}", "architectures", with_field("architectures", v))
hf("cfg_rope_scaling_string", "rope_scaling", with_field("rope_scaling", "linear"))
hf("cfg_rope_scaling_number_type", "rope_scaling", with_field("rope_scaling", {"rope_type": 5}))
LLAMA3 = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 8}
for kind in ("yarn", "dynamic", "longrope", "ntk"):
    hf(f"cfg_rope_scaling_{kind}", f'rope type "{kind}" is not supported', with_field("rope_scaling", {"rope_type": kind, "factor": 4.0}))
hf("cfg_rope_parameters_yarn", 'rope_parameters: rope type "yarn"', with_field("rope_parameters", {"rope_type": "yarn", "factor": 4.0}))
hf("cfg_rope_parameters_list", "rope_parameters", with_field("rope_parameters", [1]))
for k in LLAMA3:
    if k != "rope_type":
        hf(f"cfg_rope_llama3_{k}_missing", k, with_field("rope_scaling", {x: v for x, v in LLAMA3.items() if x != k}))
for k, v in [("factor", 0.0), ("factor", "8"), ("low_freq_factor", -1.0), ("high_freq_factor", 1.0),
             ("original_max_position_embeddings", 8.5), ("original_max_position_embeddings", 0), ("factor", 1e39)]:
    hf(f"cfg_rope_llama3_{k}_{v}", k, with_field("rope_scaling", dict(LLAMA3, **{k: v})))
hf("cfg_rope_linear_factor_missing", "factor", with_field("rope_scaling", {"type": "linear"}))
for label, v in [("string", "2"), ("list_of_strings", ["2"]), ("empty_list", []), ("past_vocab", 96), ("negative", -1),
                 ("too_many", list(range(9)))]:
    hf(f"cfg_eos_token_id_{label}", "eos_token_id", with_field("eos_token_id", v))
# generation_config.json: its eos_token_id wins over config.json's, so it is
# read as carefully
for label, gen, needle in [
        ("not_json", b'{"eos_token_id": 2,', "generation_config.json"),
        ("top_level_list", b"[2]", "expected an object"),
        ("not_utf8", b'{"eos_token_id": 2, "x": "\xff"}', "not UTF-8"),
        ("deep_nesting", b"[" * 200000 + b"]" * 200000, "nested too deeply"),
        ("eos_string", b'{"eos_token_id": "2"}', "eos_token_id"),
        ("eos_list_of_strings", b'{"eos_token_id": ["2"]}', "eos_token_id"),
        ("eos_float", b'{"eos_token_id": 2.5}', "eos_token_id"),
        ("eos_bool", b'{"eos_token_id": true}', "eos_token_id"),
        ("eos_empty_list", b'{"eos_token_id": []}', "eos_token_id"),
        ("eos_nested_list", b'{"eos_token_id": [[2]]}', "eos_token_id"),
        ("eos_negative", b'{"eos_token_id": -1}', "generation_config.json: eos_token_id"),
        ("eos_past_vocab", b'{"eos_token_id": [2, 96]}', "generation_config.json: eos_token_id"),
        ("eos_huge", b'{"eos_token_id": 100000000000000000000}', "generation_config.json: eos_token_id"),
        ("eos_too_many", json.dumps({"eos_token_id": list(range(9))}).encode(), "generation_config.json: eos_token_id")]:
    hf(f"gen_{label}", needle, gen=gen)
hf("cfg_top_level_list", "expected an object", raw=b"[1, 2]")
hf("cfg_not_json", "not JSON", raw=b"{\"hidden_size\": 32,")
hf("cfg_not_utf8", "not UTF-8", raw=b"{\"architectures\": [\"Llama\xff\"]}")
hf("cfg_deep_nesting", "nested too deeply", raw=b"[" * 200000 + b"]" * 200000)
hf("cfg_duplicate_key", "hidden_size", raw=json.dumps(base_cfg)[:-1].encode() + b", \"hidden_size\": 64}")
hf("cfg_hidden_size_disagrees", "model.embed_tokens.weight", with_field("hidden_size", 64))

# ---- safetensors headers: lengths, JSON, every entry field, offsets
header, data = st_parts(f"{golden}/hf_llama/model.safetensors")
names = [n for n in header if n != "__metadata__"]
first, second = names[0], names[1]


def hdr(name, needle, edit=None, text=None, extra=b"", length=None):
    h = copy.deepcopy(header)
    if edit:
        edit(h)
    t = text if text is not None else json.dumps(h).encode()
    raw = st_bytes(t, data + extra)
    if length is not None:
        raw = struct.pack("<Q", length) + raw[8:]
    hf(name, needle, base_cfg, weights=raw)


def setf(tensor, key, value):
    def edit(h):
        if value is DELETE:
            del h[tensor][key]
        else:
            h[tensor][key] = value
    return edit


hdr("st_length_past_file", "header length", length=len(json.dumps(header)) + len(data) + 9)
hdr("st_length_2_63", "header length", length=1 << 63)
hf("st_five_bytes", "too short", base_cfg, weights=b"\x05\x00\x00\x00\x00")
hdr("st_not_json", "not JSON", text=b"{\"a\": ")
hdr("st_not_utf8", "not UTF-8", text=b"{\"\xff\": 1}")
hdr("st_deep_nesting", "nested too deeply", text=b"[" * 200000 + b"]" * 200000)
hdr("st_list", "expected an object", text=b"[]")
hdr("st_duplicate_name", first, text=json.dumps(header)[:-1].encode() + b", " +
    json.dumps({first: header[first]})[1:].encode())
hdr("st_metadata_not_strings", "__metadata__", edit=lambda h: h.__setitem__("__metadata__", {"a": 1}))
hdr("st_metadata_list", "__metadata__", edit=lambda h: h.__setitem__("__metadata__", ["a"]))
hdr("st_entry_string", first, edit=lambda h: h.__setitem__(first, "F32"))
for label, v in [("missing", DELETE), ("number", 5), ("F64", "F64"), ("I8", "I8"), ("list", ["F32"])]:
    hdr(f"st_dtype_{label}", "dtype", edit=setf(first, "dtype", v))
shape = header[first]["shape"]
for label, v in [("string", "96"), ("negative", [-shape[0], -shape[1]]), ("float", [float(shape[0]), shape[1]]),
                 ("nested", [[shape[0]], shape[1]]), ("bool", [True, shape[0] * shape[1]]), ("missing", DELETE),
                 ("overflow", [2 ** 62, 2 ** 62]), ("disagrees", [shape[0] + 1, shape[1]])]:
    hdr(f"st_shape_{label}", "shape" if label != "disagrees" else "data_offsets", edit=setf(first, "shape", v))
begin, end = header[first]["data_offsets"]
for label, v in [("missing", DELETE), ("one", [begin]), ("strings", [str(begin), str(end)]),
                 ("negative", [-4, end - 4]), ("past_file", [len(data), len(data) + end - begin]),
                 ("huge", [10 ** 30, 10 ** 30 + end - begin]), ("reversed", [end, begin])]:
    hdr(f"st_offsets_{label}", "data_offsets", edit=setf(first, "data_offsets", v))
b2, e2 = header[second]["data_offsets"]
hdr("st_overlap", "overlaps", edit=setf(second, "data_offsets", [begin, begin + e2 - b2]))
hdr("st_trailing_bytes", "unused bytes", extra=b"\0\0\0\0")

# ---- sharded index
def index(name, needle, raw):
    d = new(name)
    for f in os.listdir(f"{golden}/hf_llama_bf16_sharded"):
        os.symlink(os.path.abspath(f"{golden}/hf_llama_bf16_sharded/{f}"), f"{d}/{f}")
    os.unlink(f"{d}/model.safetensors.index.json")
    open(f"{d}/model.safetensors.index.json", "wb").write(raw)
    case(name, needle, "import_model", d, "--out", "@OUT")


idx = json.load(open(f"{golden}/hf_llama_bf16_sharded/model.safetensors.index.json"))
index("index_weight_map_list", "weight_map", json.dumps(dict(idx, weight_map=[1])).encode())
index("index_shard_number", "weight_map", json.dumps(dict(idx, weight_map={k: 5 for k in idx["weight_map"]})).encode())
index("index_shard_path", "not a plain file name",
      json.dumps(dict(idx, weight_map={k: "../x.safetensors" for k in idx["weight_map"]})).encode())
index("index_not_json", "not JSON", b"{")
index("index_deep_nesting", "nested too deeply", b"{\"weight_map\": " + b"[" * 200000 + b"]" * 200000 + b"}")

# ---- --to-attnres sources: attnres checkpoints with one thing wrong
mheader, mdata = st_parts(f"{golden}/hf_llama.model.safetensors")


def bridge(name, needle, meta=None, edit=None, args=()):
    h = copy.deepcopy(mheader)
    for k, v in (meta or {}).items():
        if v is DELETE:
            del h["__metadata__"][k]
        else:
            h["__metadata__"][k] = v
    if edit:
        edit(h)
    d = new(name)
    open(f"{d}/m.safetensors", "wb").write(st_bytes(json.dumps(h), mdata))
    case(name, needle, "import_model", "--to-attnres", f"{d}/m.safetensors", *args, "--out", "@OUT")


for k in ("dim", "n_layers", "seq_len", "rope_theta", "norm_eps", "tie_embeddings", "residual"):
    bridge(f"bridge_meta_{k}_missing", k, meta={k: DELETE})
    bridge(f"bridge_meta_{k}_garbage", k, meta={k: "1x"})
bridge("bridge_meta_seq_len_past_engine", "seq_len", meta={"seq_len": str((1 << 20) + 1)})
bridge("bridge_meta_n_layers_huge", "n_layers", meta={"n_layers": "99999999999"})
bridge("bridge_meta_rope_theta_past_float32", "rope_theta", meta={"rope_theta": "1e39"})
bridge("bridge_meta_norm_eps_zero_as_float32", "norm_eps", meta={"norm_eps": "1e-50"})
bridge("bridge_meta_format", "format", meta={"format": "gguf"})
bridge("bridge_meta_group_size_alone", "group_size", meta={"group_size": "8"})
bridge("bridge_meta_activations_int8_alone", "activations", meta={"activations": "int8"})
bridge("bridge_meta_activations_other", "activations", meta={"activations": "int4"})
bridge("bridge_missing_tensor", "norm.weight", edit=lambda h: h.__setitem__("norm.weightx", h.pop("norm.weight")))
bridge("bridge_q8_source", "q8", meta={"quantization": "q8", "group_size": "8"})
for v in ("0", "-5", "5", str(10 ** 12), "abc"):
    bridge(f"opt_block_size_{v}", "--block-size", args=("--block-size", v))

# ---- tools/quantize.py: options and sources
for v in ("0", "-5", "7", "8192", str(2 ** 40), "abc", "3.5"):
    case(f"q_group_size_{v}", "--group-size", "quantize", f"{golden}/hf_llama.model.safetensors", "@OUT", "--group-size", v)
case("q_activations", "--activations", "quantize", f"{golden}/hf_llama.model.safetensors", "@OUT", "--activations", "int4")
for src in ("bridge_meta_seq_len_past_engine", "bridge_meta_n_layers_huge", "bridge_meta_dim_garbage",
            "bridge_missing_tensor", "bridge_q8_source"):
    needle = [c for c in lines if c[0] == src][0][1]
    case(f"q_source_{src[7:]}", needle, "quantize", f"{out}/{src}/m.safetensors", "@OUT")
case("q_source_deep_nesting", "nested too deeply", "quantize", f"{out}/st_deep_nesting/model.safetensors", "@OUT")
d = new("q_nan")
h = copy.deepcopy(mheader)
off = 8 + len(json.dumps(h).encode())
open(f"{d}/m.safetensors", "wb").write(st_bytes(json.dumps(h), mdata[:-4] + struct.pack("<f", float("inf"))))
case("q_nan", "NaN or Inf", "quantize", f"{d}/m.safetensors", "@OUT", "--group-size", "16")


def run_case(tool, argv):
    """(exit status or None, stderr text, the exception that escaped or None)."""
    err = io.StringIO()
    status, escaped = None, None
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = tool.main(argv)
        except SystemExit as e:            # argparse's own errors
            status = e.code if isinstance(e.code, int) else 1
        except BaseException as e:         # noqa: B036 - MemoryError, the alarm, anything a user would see
            escaped = e
    return status, err.getvalue(), escaped


class Alarm(Exception):
    pass


def alarm(signum, frame):
    raise Alarm("took longer than 60 s")


def main():
    tools = {}
    import import_model
    tools["import_model"] = import_model
    try:
        import quantize
        quantize.torch.set_num_threads(1)   # no thread pool made after the cap below
        tools["quantize"] = quantize
    except ImportError as e:
        why = f"tools/quantize.py cannot be imported here ({e})"
    # the cap: what the process holds now, plus 400 MB for one case
    with open("/proc/self/statm") as f:
        held = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (held + (400 << 20), resource.getrlimit(resource.RLIMIT_AS)[1]))
    signal.signal(signal.SIGALRM, alarm)
    for name, needle, tool, *args in lines:
        if tool not in tools:
            print(f"skip hostile {name}: {why}")
            continue
        target = os.path.join(out, "o." + name)
        os.makedirs(target)
        argv = [a.replace("@OUT", os.path.join(target, "out")) for a in args]
        signal.alarm(60)
        start = time.monotonic()
        status, err, escaped = run_case(tools[tool], argv)
        signal.alarm(0)
        left = os.listdir(target)
        err_lines = err.splitlines()
        if escaped is None and status in (1, 2) and len(err_lines) == 1 and needle in err and not left:
            print(f"ok   hostile {name}: {err_lines[0][:200]}")
        else:
            what = f"{type(escaped).__name__} escaped: {str(escaped)[:200]}" if escaped else f"exit {status}"
            print(f"FAIL hostile {name}: {what}; {len(err_lines)} stderr lines (want 1 naming {needle!r}): "
                  f"{err[:300]!r}; left behind {left} ({time.monotonic() - start:.1f} s)")


main()
