"""Writes tools/tokenizer_unicode.h: the Unicode data tools/tokenizer.c needs,
read from the Unicode Character Database files that Debian's package
unicode-data installs under /usr/share/unicode (UCD= chooses another folder):

  UnicodeData.txt            general categories L (letters: Lu Ll Lt Lm Lo) and
                             N (numbers: Nd Nl No), which the pre-tokenizer
                             patterns of byte-level BPE tokenizers (GPT-2,
                             Llama 3, Qwen) call \\p{L} and \\p{N}; canonical
                             combining classes; canonical decompositions
  PropList.txt               White_Space, the patterns' \\s
  CompositionExclusions.txt  the compositions NFC does not make

    apt-get install unicode-data
    /usr/bin/python3 tools/make_unicode_tables.py > tools/tokenizer_unicode.h

The NFC tables: TOK_CCC (code point ranges and their nonzero combining
class), TOK_DECOMP (a code point and the one or two code points of its
canonical decomposition, one level: the decomposition is applied again to
its result), TOK_COMPOSE (the primary composites: pair -> composite, sorted
by pair), and three numbers derived from them. Hangul syllables are
composed and decomposed by arithmetic (Unicode's chapter 3.12) and are not
in the tables. Rust's regex and unicode-normalization crates (Hugging
Face's tokenizers) may know a newer Unicode version, which differs only in
code points assigned since then.
"""
import os
import sys

UCD = os.environ.get("UCD", "/usr/share/unicode")


def lines(name):
    if not os.path.exists(os.path.join(UCD, name)):
        sys.exit(f"make_unicode_tables.py: {os.path.join(UCD, name)} is missing "
                 "(apt-get install unicode-data, or UCD=the folder that holds it)")
    with open(os.path.join(UCD, name), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                yield [x.strip() for x in line.split(";")]


def version():
    with open(os.path.join(UCD, "ReadMe.txt"), encoding="utf-8") as f:
        for line in f:
            if "Version" in line and "of the Unicode Standard" in line:
                return line.split("Version", 1)[1].split("of", 1)[0].strip()
    return "(unknown version)"


# ---- UnicodeData.txt: category, combining class, decomposition per code point
category, ccc, decomp = {}, {}, {}
first = None
for f in lines("UnicodeData.txt"):
    cp = int(f[0], 16)
    if f[1].endswith(", First>"):
        first = cp
        continue
    span = range(first, cp + 1) if f[1].endswith(", Last>") else [cp]
    first = None
    for c in span:
        category[c] = f[2]
        if int(f[3]):
            ccc[c] = int(f[3])
    if f[5] and not f[5].startswith("<"):   # canonical, not a compatibility <tag>
        decomp[cp] = [int(x, 16) for x in f[5].split()]

white_space = set()
for f in lines("PropList.txt"):
    if f[1] == "White_Space":
        a, _, b = f[0].partition("..")
        white_space.update(range(int(a, 16), int(b or a, 16) + 1))

excluded = set()
for f in lines("CompositionExclusions.txt"):
    excluded.add(int(f[0], 16))


def ranges(pred):
    out, start = [], None
    for cp in range(0x110000 + 1):
        inside = cp <= 0x10FFFF and pred(cp)
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def full(cp):
    """The full canonical decomposition of cp (Hangul syllables aside)."""
    if cp not in decomp:
        return [cp]
    return [x for d in decomp[cp] for x in full(d)]


def utf8_len(cps):
    return sum(len(chr(c).encode("utf-8")) for c in cps)


# Primary composites: two-code-point canonical decompositions that are not
# Full_Composition_Exclusion (excluded by name, singletons, or starting with
# or being a non-starter).
compose = sorted((d[0], d[1], cp) for cp, d in decomp.items()
                 if len(d) == 2 and cp not in excluded and cp not in ccc and d[0] not in ccc)
seconds = {b for _, b, _ in compose}

# Every code point below NFC_INERT_BELOW is left alone by NFC whatever
# surrounds it: combining class 0, not the second of a composition, and its
# decomposition (if any) composes back to itself. Text made only of such
# code points skips normalisation.
inert_below = min([c for c in ccc] + list(seconds) +
                  [c for c in decomp if c in excluded or len(decomp[c]) == 1 or c in ccc or decomp[c][0] in ccc] +
                  [0x1100])   # Hangul jamo: composed by arithmetic
max_decomp = max(max(len(full(c)) for c in decomp), 3)   # a Hangul syllable: 3 jamo
# NFC shortens UTF-8 text by at most this factor: a composite's bytes against
# its full decomposition's (a Hangul syllable: 3 bytes from 9)
shrink = max(max(utf8_len(full(cp)) / utf8_len([cp]) for _, _, cp in compose), 3)


def emit(name, rows, fmt, per_line, comment):
    print(f"static const unsigned int {name}[][{len(rows[0])}] = {{   /* {len(rows)} {comment} */")
    for i in range(0, len(rows), per_line):
        print("    " + " ".join(fmt(r) for r in rows[i:i + per_line]))
    print("};")


def pair(r):
    return f"{{0x{r[0]:X}, 0x{r[1]:X}}},"


def triple(r):
    return f"{{0x{r[0]:X}, 0x{r[1]:X}, 0x{r[2]:X}}},"


ccc_ranges = []
for cp in sorted(ccc):
    if ccc_ranges and ccc_ranges[-1][1] == cp - 1 and ccc_ranges[-1][2] == ccc[cp]:
        ccc_ranges[-1][1] = cp
    else:
        ccc_ranges.append([cp, cp, ccc[cp]])

print("/* tokenizer_unicode.h - generated by tools/make_unicode_tables.py; do not edit.")
print(f"   Unicode {version()} (the Unicode Character Database in {UCD}): general")
print("   categories L and N, the White_Space property, as sorted inclusive ranges;")
print("   canonical combining classes, decompositions and compositions for NFC. */")
emit("TOK_LETTER", ranges(lambda c: category.get(c, "Cn").startswith("L")), pair, 4, "ranges")
emit("TOK_NUMBER", ranges(lambda c: category.get(c, "Cn").startswith("N")), pair, 4, "ranges")
emit("TOK_SPACE", ranges(lambda c: c in white_space), pair, 4, "ranges")
emit("TOK_CCC", ccc_ranges, triple, 4, "ranges: first, last, combining class")
emit("TOK_DECOMP", sorted((cp, d[0], d[1] if len(d) > 1 else 0) for cp, d in decomp.items()), triple, 4,
     "code point, its decomposition (0: none)")
emit("TOK_COMPOSE", compose, triple, 4, "first, second, composite")
print(f"#define TOK_NFC_INERT_BELOW 0x{inert_below:X}   /* NFC changes no text of code points below this */")
print(f"#define TOK_NFC_MAX_DECOMP {max_decomp}   /* code points one decomposes into, at most */")
print(f"#define TOK_NFC_MAX_SHRINK {int(-(-shrink // 1))}   /* NFC shortens UTF-8 text by at most this factor */")
