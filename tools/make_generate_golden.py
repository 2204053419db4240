"""Golden greedy generations of the shipped models, for the C parity test.

    /usr/bin/python3 tools/make_generate_golden.py --models models --out golden/generate

For each of models/{standard,block,full}.safetensors: encode PROMPT as bytes
(the byte-level tokenizer of tools/train.py: id = byte value, no BOS), then
N_NEW times run reference.forward (float64, the whole growing sequence from
an empty context) and append the argmax of the last position's logits (ties
-> the lowest id, as attnres_argmax). Writes

  golden/generate/<mode>.safetensors  prompt [P] I32, generated [N_NEW] I32,
                                      margin [N_NEW] F32 (top-1 minus top-2
                                      logit at each step, float64 then rounded)
  golden/generate/<mode>.txt          prompt + generated text

The C engine runs in float32, so a step whose margin is tiny could pick the
other token; the minimum margin of each model is printed (and must be well
above float32 rounding of the logits for the test to be meaningful).
Deterministic: rerunning gives byte-identical files.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402
import st  # noqa: E402

PROMPT = "The little robot"
N_NEW = 220
MODES = ("standard", "block", "full")
GENERATOR = "tools/make_generate_golden.py"
MIN_SAFE_MARGIN = 1e-3


def argmax_lowest(x):
    """Index of the maximum of x [n]; ties -> the lowest index."""
    best = 0
    for i in range(1, x.shape[0]):
        if x[i] > x[best]:
            best = i
    return best


def greedy(cfg, weights, prompt_ids, n_new):
    """Greedy decoding with reference.forward on the growing sequence.
    Returns (generated ids [n_new], margins [n_new] float64)."""
    if len(prompt_ids) + n_new > cfg.seq_len:
        raise ValueError(f"prompt {len(prompt_ids)} + {n_new} new tokens > seq_len {cfg.seq_len}")
    seq = list(prompt_ids)
    generated, margins = [], []
    for _ in range(n_new):
        logits, _ = ref.forward(cfg, weights, seq)
        last = logits[-1]                                     # [vocab_size] float64
        nxt = argmax_lowest(last)
        top2 = torch.topk(last, 2).values
        generated.append(nxt)
        margins.append(float(top2[0] - top2[1]))
        seq.append(nxt)
    return generated, margins


def printable(ids):
    """Bytes as text; newline kept, anything else outside ASCII 32..126 as \\xNN."""
    return "".join(chr(b) if 32 <= b < 127 or b == 10 else f"\\x{b:02x}" for b in ids)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="models", help="directory of <mode>.safetensors")
    ap.add_argument("--out", default="golden/generate", help="output directory")
    ap.add_argument("--prompt", default=PROMPT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    prompt_ids = list(args.prompt.encode("ascii"))

    low = []
    for mode in MODES:
        model_path = os.path.join(args.models, f"{mode}.safetensors")
        cfg, weights = ref.load_checkpoint(model_path)
        generated, margins = greedy(cfg, weights, prompt_ids, N_NEW)
        st.write(os.path.join(args.out, f"{mode}.safetensors"), {
            "prompt": torch.tensor(prompt_ids, dtype=torch.int32),      # [P]
            "generated": torch.tensor(generated, dtype=torch.int32),    # [N_NEW]
            "margin": torch.tensor(margins, dtype=torch.float32),       # [N_NEW]
        }, {"model": f"models/{mode}.safetensors", "prompt": args.prompt, "generator": GENERATOR})
        text = printable(prompt_ids + generated)
        with open(os.path.join(args.out, f"{mode}.txt"), "w") as f:
            f.write(text + "\n")
        m = min(margins)
        print(f"{mode}: min margin {m:.4g} at step {margins.index(m)}; wrote {args.out}/{mode}.{{safetensors,txt}}")
        print("  " + text.replace("\n", "\n  "))
        if m < MIN_SAFE_MARGIN:
            low.append(mode)
    if low:
        print(f"WARNING: margin below {MIN_SAFE_MARGIN} for {', '.join(low)}: float32 may pick "
              "another token there; choose another --prompt")
        sys.exit(1)


if __name__ == "__main__":
    main()
