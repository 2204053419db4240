"""Prepare a real-English corpus for the experiments: the King James Bible.

    /usr/bin/python3 tools/text_corpus.py --out build/corpus/kjv

The text comes from Debian's public-domain King James Version (package
bible-kjv-text, read through the `bible` program of package bible-kjv:
`apt-get install bible-kjv`). Nothing of it is committed except a small
validation excerpt for lesson 12 (--excerpt).

What is written (plain ASCII, one verse a line, no chapter/verse numbers):
  train.txt   every chapter except the held-out ones (about 3.9 MB)
  val.txt     every 20th chapter (chapters 0, 20, 40, .. counted over the
              whole book, 1189 chapters in all: 60 chapters, about 0.2 MB)
  --excerpt FILE   additionally the first EXCERPT_BYTES bytes of val.txt,
              cut at a line end (for lesson 12's committed validation text)
Held-out chapters are whole chapters spread over all 66 books, so the
validation text is the same kind of English and never a verse of training.
The output is deterministic: the same package version gives the same bytes.
"""

import argparse
import os
import shutil
import subprocess
import sys

SPEC = "Gen1:1-Rev22:21"   # the whole book
VAL_EVERY = 20             # every 20th chapter is validation text
EXCERPT_BYTES = 4096


def read_verses():
    """[(chapter key, verse text)] for the whole Bible, in order."""
    if shutil.which("bible") is None:
        sys.exit("text_corpus.py: the `bible` program is missing. Install the King James text with\n"
                 "    apt-get install bible-kjv        (Debian/Ubuntu; pulls in bible-kjv-text)")
    proc = subprocess.run(["bible", "-f", SPEC], capture_output=True, env=dict(os.environ, COLUMNS="100000"))
    if proc.returncode != 0:
        sys.exit(f"text_corpus.py: `bible -f {SPEC}` failed ({proc.stderr.decode(errors='replace').strip()}).\n"
                 "The text comes with: apt-get install bible-kjv bible-kjv-text")
    out = proc.stdout.decode("ascii")
    verses = []
    for line in out.splitlines():
        if not line.strip():
            continue
        ref, _, text = line.partition(" ")        # "Ge1:1 In the beginning ..."
        if ":" not in ref or not text:
            sys.exit(f"text_corpus.py: unexpected line from `bible -f`: {line[:80]!r}")
        verses.append((ref.rsplit(":", 1)[0], text.strip()))
    if len(verses) != 31102:
        sys.exit(f"text_corpus.py: expected 31102 verses from `bible -f {SPEC}`, got {len(verses)}")
    return verses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="build/corpus/kjv", help="output directory (default: build/corpus/kjv)")
    ap.add_argument("--excerpt", help="also write the first %d bytes of val.txt here" % EXCERPT_BYTES)
    args = ap.parse_args()
    train, val, chapter, prev = [], [], -1, None
    for key, text in read_verses():
        if key != prev:
            chapter, prev = chapter + 1, key
        (val if chapter % VAL_EVERY == 0 else train).append(text)
    os.makedirs(args.out, exist_ok=True)
    for name, lines in (("train.txt", train), ("val.txt", val)):
        data = ("\n".join(lines) + "\n").encode("ascii")
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        print(f"wrote {args.out}/{name}: {len(data)} bytes, {len(lines)} verses")
    if args.excerpt:
        data = ("\n".join(val) + "\n").encode("ascii")
        cut = data.rindex(b"\n", 0, EXCERPT_BYTES) + 1
        with open(args.excerpt, "wb") as f:
            f.write(data[:cut])
        print(f"wrote {args.excerpt}: {cut} bytes (the start of val.txt)")


if __name__ == "__main__":
    main()
