"""Group-wise int8 weights (q8): the PyTorch reference of attnres.h's
attnres_quantize_q8 / attnres_matvec_q8, and the tool that writes q8
checkpoints.

    /usr/bin/python3 tools/quantize.py IN.safetensors OUT.safetensors [--group-size 32]
                                       [--activations fp32|int8]

The rule (the same as the C code, so both make the same bytes)
--------------------------------------------------------------
Every matvec matrix W [rows, cols] (wq, wk, wv, wo, w1, w2, w3 of every
layer, and the output projection) is cut, row by row, into groups of G
consecutive weights. For each group, in float32 arithmetic as C does it:
    s = max_j |w_j| / 127            (one correctly rounded float32 division)
    q_j = round(w_j / s)             (float32 division, then round half AWAY
                                      from zero, C's roundf; s == 0 gives q = 0;
                                      clamped to [-127, 127], which only a
                                      subnormal s needs)
and the group stands for the weights s * q_j. Embeddings, norm gains and the
AttnRes vectors stay float32. With tied embeddings the output projection is
the int8 copy of tok_embeddings, while the embedding lookup still reads the
float32 rows: fake_quantize() models that as an untied model whose
output.weight is the dequantized embedding matrix.

Fake quantization: the reference forward pass (reference.forward, float64)
run on the dequantized weights s * q gives the logits a quantized engine
should compute; s * q is exact in float64, so this is the exact math of the
int8 model, and the C engine (float32, activations not quantized) must match
it to float32 rounding.

W8A8 (int8 activations): an engine may also quantize each matvec input x
by the same rule, as one row of groups (x / s in float32 in C; here exactly,
fake_quantize_activations); forward_w8a8 is that model. A checkpoint asks
for it with "activations": "int8".

Checkpoint (format_version "2", or "3" for a model with scaled RoPE):
metadata as in reference.config_to_metadata (rope_scaling and eos_token_id
kept) plus "quantization": "q8" and "group_size"; each matrix NAME stored as I8
[rows, cols], with F32 NAME_scale [rows, cols/G] right after it; the tied
output projection is not stored (the loader makes it from the embeddings).
"""

import argparse
import dataclasses
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402
import st  # noqa: E402

Q8_FORMAT_VERSION = "2"   # the least version a q8 file has; "3" with rope_scaling


def is_matrix(name, shape):
    """The tensors a matvec reads: every 2-D weight except the embedding table."""
    return len(shape) == 2 and name != "tok_embeddings.weight"


def quantize_q8(w, group_size):
    """w float32 [rows, cols] -> (q int8 [rows, cols], scale float32 [rows, cols/G])."""
    w = torch.as_tensor(w)
    assert w.dtype == torch.float32 and w.dim() == 2
    rows, cols = w.shape
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide {cols} columns")
    groups = w.reshape(rows, cols // group_size, group_size)            # [rows, cols/G, G]
    scale = groups.abs().amax(dim=-1) / torch.tensor(127.0, dtype=torch.float32)  # float32 division
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    y = (groups / safe[..., None]).to(torch.float64)                    # float32 division, then exact
    q = torch.sign(y) * torch.floor(y.abs() + 0.5)                      # half away from zero
    q = torch.where(scale[..., None] > 0, q, torch.zeros_like(q)).clamp(-127, 127)
    return q.to(torch.int8).reshape(rows, cols), scale.contiguous()


def dequantize_q8(q, scale, group_size):
    """(q [rows, cols], scale [rows, cols/G]) -> float64 [rows, cols] = scale * q (exact)."""
    rows, cols = q.shape
    qg = q.to(torch.float64).reshape(rows, cols // group_size, group_size)
    return (qg * scale.to(torch.float64)[..., None]).reshape(rows, cols)


def fake_quantize_activations(x, group_size, margins=None):
    """x [..., n] (float64) -> the same shape, each group of G consecutive
    values replaced by s * q with the weights' rule (s = max|x| / 127,
    q = round half away from zero of x / s), computed exactly in float64.
    This is attnres.h's W8A8 input: attnres_quantize_q8 on x as one row.

    margins: a list that receives, per call, the smallest distance of any
    |x / s| to a rounding boundary k + 1/2. The C engine quantizes float32
    activations that differ from these by float rounding; a value that close
    to a boundary could round the other way there, so a fixture is only a
    fair test if this margin is clear of that difference."""
    shape = x.shape
    g = x.reshape(*shape[:-1], shape[-1] // group_size, group_size)       # [..., n/G, G]
    s = g.abs().amax(dim=-1, keepdim=True) / 127.0
    safe = torch.where(s > 0, s, torch.ones_like(s))
    y = g / safe
    q = torch.sign(y) * torch.floor(y.abs() + 0.5)
    q = torch.where(s > 0, q, torch.zeros_like(q)).clamp(-127, 127)
    if margins is not None:
        frac = y.abs() - torch.floor(y.abs())
        margins.append(float((frac - 0.5).abs().min()))
    return (s * q).reshape(shape)


def forward_w8a8(cfg, weights, tokens, group_size, two_phase=False, margins=None):
    """reference.forward (or forward_two_phase) with every linear()'s input
    fake-quantized: the W8A8 model, given already fake-quantized weights."""
    ref.ACTIVATION_QUANT = lambda x: fake_quantize_activations(x, group_size, margins)
    try:
        return (ref.forward_two_phase if two_phase else ref.forward)(cfg, weights, tokens)
    finally:
        ref.ACTIVATION_QUANT = None


def quantize_weights(cfg, weights, group_size):
    """name -> (q, scale) for every stored matrix of a float32 model."""
    return {name: quantize_q8(weights[name], group_size)
            for name, shape in ref.tensor_names_and_shapes(cfg) if is_matrix(name, shape)}


def fake_quantize(cfg, weights, group_size):
    """(cfg', weights') for reference.forward: the matrices replaced by their
    dequantized int8 form (float64); a tied model becomes untied, its
    output.weight the dequantized embeddings and its lookup the float32 rows."""
    out = dict(weights)
    for name, (q, s) in quantize_weights(cfg, weights, group_size).items():
        out[name] = dequantize_q8(q, s, group_size)
    if cfg.tie_embeddings:
        q, s = quantize_q8(weights["tok_embeddings.weight"], group_size)
        out["output.weight"] = dequantize_q8(q, s, group_size)
        cfg = dataclasses.replace(cfg, tie_embeddings=False)
    return cfg, out


def save_checkpoint_q8(path, cfg, weights, group_size, int8_activations=False):
    """Write a float32 model as a q8 checkpoint (format_version "2"); with
    int8_activations the file also asks for W8A8 ("activations": "int8")."""
    cfg.validate()
    q8 = quantize_weights(cfg, weights, group_size)
    tensors = {}
    for name, _ in ref.tensor_names_and_shapes(cfg):
        if name in q8:
            tensors[name], tensors[name + "_scale"] = q8[name]
        else:
            tensors[name] = torch.as_tensor(weights[name]).to(torch.float32).contiguous()
    meta = ref.config_to_metadata(cfg)
    meta.update(format_version=max(Q8_FORMAT_VERSION, cfg.format_version), quantization="q8",
                group_size=str(group_size))
    if int8_activations:
        meta["activations"] = "int8"
    st.write(path, tensors, meta)


def load_checkpoint_q8(path):
    """Read a q8 checkpoint: (cfg, group_size, float32 tensors, name -> (q, scale))."""
    arrays, meta = st.read(path)
    if meta.get("format_version") not in (Q8_FORMAT_VERSION, ref.SCALED_FORMAT_VERSION) or meta.get("quantization") != "q8":
        raise ValueError(f"{path}: not a q8 checkpoint")
    cfg = ref.config_from_metadata(meta)
    group_size = int(meta["group_size"])
    if meta.get("activations", "fp32") not in ("fp32", "int8"):
        raise ValueError(f"{path}: activations {meta['activations']!r}")
    fp32, q8 = {}, {}
    for name, shape in ref.tensor_names_and_shapes(cfg):
        if is_matrix(name, shape):
            q8[name] = (torch.from_numpy(arrays.pop(name)), torch.from_numpy(arrays.pop(name + "_scale")))
        else:
            fp32[name] = torch.from_numpy(arrays.pop(name))
    if arrays:
        raise ValueError(f"{path}: unexpected tensors {sorted(arrays)}")
    return cfg, group_size, fp32, q8


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (its default adds the usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message}\n")


def check_source(path, group_size):
    """Refuses, in one line naming the field, a source the engine would not
    load or whose q8 copy it would not load: the header and config checked
    as attnres.h checks them (before anything is read into memory), exactly
    the tensors of that config, a group size attnres.h accepts for it."""
    meta, entries, _ = st.read_header(path)
    if "quantization" in meta:
        raise st.FormatError(f"{path}: already a {st.show(meta['quantization'])} checkpoint; quantize the float32 model")
    c = st.config_from_metadata(meta, path)
    st.check_tensors(path, entries, c)
    st.check_group_size(c, group_size, "--group-size")


def main(argv=None):
    ap = Parser(prog="quantize", description="Write a q8 (group-wise int8) copy of an attnres checkpoint.")
    ap.add_argument("src", help="float32 checkpoint (format_version 1, 2 or 3)")
    ap.add_argument("dst", help="q8 checkpoint to write (format_version 2; 3 with scaled RoPE)")
    ap.add_argument("--group-size", type=int, default=32, help="weights per scale (default 32)")
    ap.add_argument("--activations", choices=["fp32", "int8"], default="fp32",
                    help="int8: the file asks engines to quantize each matvec input too (W8A8)")
    args = ap.parse_args(argv)
    try:
        check_source(args.src, args.group_size)
        cfg, weights = ref.load_checkpoint(args.src)
        for name, w in weights.items():
            if not torch.isfinite(w).all():
                raise st.FormatError(f"{args.src}: tensor {name} holds NaN or Inf")
        save_checkpoint_q8(args.dst, cfg, weights, args.group_size, args.activations == "int8")
    except (st.FormatError, OSError) as e:
        print(f"quantize: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.dst}: q8, group size {args.group_size}, activations {args.activations}, "
          f"{os.path.getsize(args.dst)} bytes (from {os.path.getsize(args.src)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
