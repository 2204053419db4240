"""Write the trainer fixtures for tests/test_train.c (seeded; rerunning gives
byte-identical files on the same machine, torch and thread count).

    /usr/bin/python3 tools/make_train_golden.py --out golden/train

For each config below, a small byte-level model is built with
tools/train.py's TinyLM (its init; `block` then gets random non-zero
pseudo-queries, N(0, 1/dim) as tools/experiment.py's random_init, so the
depth softmax is not uniform), saved as the starting checkpoint, and
trained for STEPS steps by train.py's own make_optimizer, lr_at and
train_step (imported, not rewritten here: the point is to check C against
what train.py really does) on batches of random windows of
models/corpus_train.txt. The batches' token ids are stored so the C test
trains on exactly the same bytes. Writes into --out, per config NAME:

  NAME.model.safetensors   the initial weights (a checkpoint: the C loader reads it)
  NAME.train.safetensors   batches  I32 [STEPS, B, T+1]  inputs + next-byte targets
                           losses   F32 [STEPS]  the loss of each step (before its update)
                           lr       F32 [STEPS]  lr_at(step) (the C schedule is checked too)
                           hparams  F32 [3]      lr, warmup, weight_decay
  NAME.step1.safetensors   the weights after step 1
  NAME.step20.safetensors  the weights after the last step (20)

Configs: `standard` (standard residual, tied, GQA); `block` (Block AttnRes
S = 2, random pseudo-queries, tied); `block_untied` (S = 3 of L = 4: an
uneven last block; the train.py init with zero pseudo-queries; an untied
output projection, so weight decay meets output.weight).
"""

import argparse
import math
import os
import sys
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402
import st  # noqa: E402
import train as tr  # noqa: E402

STEPS, BATCH, WINDOW = 20, 3, 12
LR, WARMUP, WEIGHT_DECAY, SEED = 2 ** -7, 5, 2 ** -3, 7   # exact in float32, as hparams stores them

CONFIGS = {
    "standard": dict(residual="standard", block_size=0, tie_embeddings=True, random_queries=False),
    "block": dict(residual="attnres", block_size=2, tie_embeddings=True, random_queries=True),
    "block_untied": dict(residual="attnres", block_size=3, tie_embeddings=False, random_queries=False),
}


def build(name, spec):
    cfg = ref.Config(dim=16, hidden_dim=32, n_layers=2, n_heads=2, n_kv_heads=1, vocab_size=256,
                     seq_len=16, rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=spec["tie_embeddings"],
                     residual=spec["residual"], block_size=spec["block_size"])
    cfg.validate()
    torch.manual_seed(SEED)
    model = tr.TinyLM(cfg, SEED)
    if spec["random_queries"]:
        for l in range(cfg.n_sublayers + 1):
            q_name, _ = ref.res_names(cfg, l)
            g = torch.Generator().manual_seed(SEED * 1_000_003 + zlib.crc32(q_name.encode()) + 1)
            with torch.no_grad():
                model.w(q_name).copy_(torch.randn(cfg.dim, generator=g) / math.sqrt(cfg.dim))
    return cfg, model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="golden/train")
    ap.add_argument("--corpus", default="models/corpus_train.txt")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    text = tr.read_bytes(args.corpus)
    for name, spec in CONFIGS.items():
        cfg, model = build(name, spec)
        ref.save_checkpoint(os.path.join(args.out, f"{name}.model.safetensors"), cfg, model.named_weights())
        opt = tr.make_optimizer(model, LR, WEIGHT_DECAY)
        data_gen = torch.Generator().manual_seed(SEED)
        batches, losses, lrs = [], [], []
        for step in range(STEPS):
            starts = torch.randint(0, len(text) - WINDOW - 1, (BATCH,), generator=data_gen)
            chunk = text[starts[:, None] + torch.arange(WINDOW + 1)[None, :]]     # [B, T+1]
            lr = tr.lr_at(step, STEPS, LR, WARMUP)
            loss = tr.train_step(model, opt, chunk, lr)
            batches.append(chunk.to(torch.int32))
            losses.append(float(loss))
            lrs.append(lr)
            if step == 0 or step + 1 == STEPS:
                ref.save_checkpoint(os.path.join(args.out, f"{name}.step{step + 1}.safetensors"), cfg,
                                    model.named_weights())
        st.write(os.path.join(args.out, f"{name}.train.safetensors"),
                 {"batches": torch.stack(batches), "losses": torch.tensor(losses, dtype=torch.float32),
                  "lr": torch.tensor(lrs, dtype=torch.float32),
                  "hparams": torch.tensor([LR, WARMUP, WEIGHT_DECAY], dtype=torch.float32)},
                 {"generator": "tools/make_train_golden.py"})
        print(f"{name}: loss {losses[0]:.4f} -> {losses[-1]:.4f} over {STEPS} steps")


if __name__ == "__main__":
    main()
