"""Peak memory of tools/import_model.py on a real-sized model (a measurement
for docs/models-import.md, not a test).

    /usr/bin/python3 tests/import_memory.py [--layers N]

Writes a Hugging Face directory of SmolLM2-135M's shape (dim 576, hidden
1536, 9 heads of 64, 3 KV heads, vocab 49152, tied; 30 layers, 270 MB of
BF16, random values) into a temporary directory (removed at the end),
imports it (540 MB of F32 out), and
prints the importer's peak resident set size (ru_maxrss from wait4 on the
importer's process), the source and output sizes, and the largest tensor.
The model is written by a child process and the importer is started from
this small one: a process started by fork counts its parent's resident
pages in its own ru_maxrss until it execs.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile


def shapes(c):
    d, hid, H, KV, hd, V = (c[k] for k in ("hidden_size", "intermediate_size", "num_attention_heads",
                                          "num_key_value_heads", "head_dim", "vocab_size"))
    out = [("model.embed_tokens.weight", (V, d))]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (d,)), (p + "self_attn.q_proj.weight", (H * hd, d)),
                (p + "self_attn.k_proj.weight", (KV * hd, d)), (p + "self_attn.v_proj.weight", (KV * hd, d)),
                (p + "self_attn.o_proj.weight", (d, H * hd)), (p + "post_attention_layernorm.weight", (d,)),
                (p + "mlp.gate_proj.weight", (hid, d)), (p + "mlp.down_proj.weight", (d, hid)),
                (p + "mlp.up_proj.weight", (hid, d))]
    return out + [("model.norm.weight", (d,))]


def write_model(folder, layers):
    """config.json and model.safetensors (BF16), one tensor at a time."""
    import numpy as np
    c = {"architectures": ["LlamaForCausalLM"], "hidden_size": 576, "intermediate_size": 1536,
         "num_hidden_layers": layers, "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
         "vocab_size": 49152, "max_position_embeddings": 8192, "rope_theta": 100000.0, "rms_norm_eps": 1e-5,
         "tie_word_embeddings": True, "hidden_act": "silu"}
    os.makedirs(folder, exist_ok=True)
    json.dump(c, open(os.path.join(folder, "config.json"), "w"))
    header, at = {}, 0
    for name, s in shapes(c):
        n = 2 * int(np.prod(s))
        header[name] = {"dtype": "BF16", "shape": list(s), "data_offsets": [at, at + n]}
        at += n
    text = json.dumps(header).encode()
    rng = np.random.default_rng(0)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, s in shapes(c):
            w = (rng.standard_normal(s, dtype=np.float32) * 0.02).view(np.uint32) >> 16   # BF16 bits
            f.write(w.astype("<u2").tobytes())
    print(max(int(np.prod(s)) for _, s in shapes(c)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--write-only", metavar="DIR", help="(internal) write the model into DIR, print its largest tensor")
    args = ap.parse_args()
    if args.write_only:
        write_model(os.path.join(args.write_only, "smollm2_shape"), args.layers)
        return
    with tempfile.TemporaryDirectory(prefix="attnres-memory.") as scratch:
        src, out = os.path.join(scratch, "smollm2_shape"), os.path.join(scratch, "smollm2_shape.safetensors")
        largest = int(subprocess.run([sys.executable, __file__, "--layers", str(args.layers), "--write-only", scratch],
                                     check=True, stdout=subprocess.PIPE).stdout)
        tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "import_model.py")
        pid = os.spawnv(os.P_NOWAIT, sys.executable, [sys.executable, tool, src, "--out", out])
        _, status, usage = os.wait4(pid, 0)
        if status != 0:
            sys.exit(f"import_memory: the importer failed (status {status})")
        peak_mb = usage.ru_maxrss / 1024      # Linux: KiB
        src_mb = os.path.getsize(os.path.join(src, "model.safetensors")) / 2 ** 20
        print(f"import_memory: {args.layers} layers, source {src_mb:.0f} MiB (BF16), output "
              f"{os.path.getsize(out) / 2 ** 20:.0f} MiB (F32), largest tensor {4 * largest / 2 ** 20:.0f} MiB at F32; "
              f"importer peak RSS {peak_mb:.0f} MiB")


if __name__ == "__main__":
    main()
