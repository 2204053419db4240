"""Generate the training and validation corpus of the tiny trained models.

    /usr/bin/python3 tools/corpus.py --out models

Writes models/corpus_train.txt (seed 1) and models/corpus_val.txt (seed 2).
Same seed, same bytes: the generator uses only Python's `random.Random(seed)`.

The text is made here from a small grammar about a tiny world, so the project
owns every byte of it (no third-party text). It is plain ASCII, one short
paragraph per line. Each paragraph is one of these kinds, chosen at random:

  story      "The little robot found a red ball in the garden. It was happy."
  clause     "The dog that the old cat saw ran to the park."
  have       "Tom has 4 apples. Mia gives him 3 more. Now Tom has 7 apples."
  sum        "5 plus 3 is 8. 9 minus 4 is 5."  (true facts, numbers 0..20)
  count      "Count from 3 to 9: 3, 4, 5, 6, 7, 8, 9."
  question   "The box is green. Q: What color is the box? A: The box is green."

Structure a small byte-level model can learn: spelling of a closed vocabulary,
agreement ("he"/"she" follows the name), arithmetic that is always right,
counting, and copying a fact from earlier in the line (the question kind,
which needs token attention, not just n-gram statistics).

Validation uses a different seed, so its paragraphs are new draws from the
same grammar; with a finite grammar, many short sentences also occur in the
training text. That is intended: the validation loss measures how well a model
learned the grammar, not generalisation beyond it.
"""

import argparse
import os
import random

TRAIN_BYTES = 450_000   # about; whole paragraphs are kept
VAL_BYTES = 30_000
TRAIN_SEED = 1
VAL_SEED = 2

ADJECTIVES = ["little", "old", "small", "big", "happy", "sleepy", "brave", "quiet"]
SIZES = ["little", "small", "big", "old"]  # for things (a creature may be anything)
COLORS = ["red", "blue", "green", "yellow", "white", "black"]
CREATURES = ["robot", "cat", "dog", "bird", "fox", "girl", "boy", "teacher"]
PRONOUN = {"girl": "she", "boy": "he", "teacher": "she"}  # "it" for the others
THINGS = ["ball", "box", "book", "cup", "hat", "key", "apple", "stone"]
PLACES = ["garden", "kitchen", "park", "forest", "house", "river", "school", "shop"]
PLACE_PREPS = {"garden": "in", "kitchen": "in", "park": "in", "forest": "in",
               "house": "in", "river": "by", "school": "at", "shop": "at"}
FIND_VERBS = ["found", "saw", "lost", "took", "painted", "carried"]
MOVE_VERBS = ["ran", "walked", "went", "came back"]
FEELINGS = ["happy", "sad", "tired", "surprised", "proud", "hungry"]
TIMES = ["One day", "In the morning", "At night", "After lunch", "Later"]
NAMES = [("Tom", "he", "him"), ("Mia", "she", "her"), ("Sam", "he", "him"),
         ("Ana", "she", "her"), ("Leo", "he", "him"), ("Eva", "she", "her")]
FRUITS = ["apples", "pears", "plums", "eggs", "coins", "shells"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                "nine", "ten"]


def cap(s):
    return s[0].upper() + s[1:]


def noun_phrase(r, nouns, article="the", noun=None):
    """'the little robot', 'a red ball', or 'the fox'."""
    words = [article]
    u = r.random()
    if nouns is THINGS:
        if u < 0.2:
            words.append(r.choice(SIZES))
        elif u < 0.6:
            words.append(r.choice(COLORS))
    elif u < 0.4:
        words.append(r.choice(ADJECTIVES))
    words.append(noun or r.choice(nouns))
    if article == "a" and words[1][0] in "aeiou":
        words[0] = "an"
    return " ".join(words)


def place(r):
    p = r.choice(PLACES)
    return f"{PLACE_PREPS[p]} the {p}"


def story(r):
    who = r.choice(CREATURES)
    it = PRONOUN.get(who, "it")
    subj = noun_phrase(r, CREATURES, noun=who)
    first = f"{cap(subj)} {r.choice(FIND_VERBS)} {noun_phrase(r, THINGS, 'a')} {place(r)}."
    if r.random() < 0.4:
        first = f"{r.choice(TIMES)}, {subj} {r.choice(FIND_VERBS)} {noun_phrase(r, THINGS, 'a')} {place(r)}."
    out = [first]
    if r.random() < 0.6:
        out.append(f"{cap(it)} was {r.choice(FEELINGS)}.")
    if r.random() < 0.5:
        dest = r.choice(PLACES)
        out.append(f"Then {it} {r.choice(MOVE_VERBS)} to the {dest}.")
    return " ".join(out)


def clause(r):
    first, second = r.sample(CREATURES, 2)
    a = noun_phrase(r, CREATURES, noun=first)
    b = noun_phrase(r, CREATURES, noun=second)
    verb = r.choice(["saw", "liked", "followed", "helped"])
    found = r.choice([v for v in FIND_VERBS if v != verb])
    end = r.choice([f"{r.choice(MOVE_VERBS)} to the {r.choice(PLACES)}",
                    f"was {r.choice(FEELINGS)}",
                    f"{found} {noun_phrase(r, THINGS, 'a')}"])
    return f"{cap(a)} that {b} {verb} {end}."


def have(r):
    name, he, him = r.choice(NAMES)
    other = r.choice([n for n in NAMES if n[0] != name])[0]
    item = r.choice(FRUITS)
    a = r.randint(2, 10)  # plurals throughout: never "1 apples"
    if r.random() < 0.6:
        b = r.randint(2, 10)
        return (f"{name} has {a} {item}. {other} gives {him} {b} more. "
                f"Now {he} has {a + b} {item}.")
    b = r.choice([k for k in range(1, a + 1) if a - k != 1])
    return (f"{name} has {a} {item}. {cap(he)} gives {b} to {other}. "
            f"Now {he} has {a - b} {item}.")


def arithmetic_fact(r):
    if r.random() < 0.5:
        a, b = r.randint(0, 10), r.randint(0, 10)
        return f"{a} plus {b} is {a + b}."
    a = r.randint(0, 20)
    b = r.randint(0, a)
    return f"{a} minus {b} is {a - b}."


def sums(r):
    return " ".join(arithmetic_fact(r) for _ in range(r.randint(2, 4)))


def count(r):
    if r.random() < 0.25:
        lo = r.randint(0, 4)
        hi = r.randint(lo + 3, 10)
        return f"Count from {NUMBER_WORDS[lo]} to {NUMBER_WORDS[hi]}: " + \
            ", ".join(NUMBER_WORDS[lo:hi + 1]) + "."
    lo = r.randint(0, 15)
    hi = r.randint(lo + 3, lo + 9)
    if r.random() < 0.3:
        return f"Count down from {hi} to {lo}: " + ", ".join(str(i) for i in range(hi, lo - 1, -1)) + "."
    return f"Count from {lo} to {hi}: " + ", ".join(str(i) for i in range(lo, hi + 1)) + "."


def question(r):
    thing = r.choice(THINGS)
    color = r.choice(COLORS)
    where = r.choice(PLACES)
    facts = [f"The {thing} is {color}.", f"The {thing} is {PLACE_PREPS[where]} the {where}."]
    r.shuffle(facts)
    if r.random() < 0.5:
        q = f"Q: What color is the {thing}? A: The {thing} is {color}."
    else:
        q = f"Q: Where is the {thing}? A: The {thing} is {PLACE_PREPS[where]} the {where}."
    return " ".join(facts) + " " + q


KINDS = [(story, 3), (clause, 2), (have, 2), (sums, 1), (count, 1), (question, 2)]


def paragraph(r):
    fns, weights = zip(*KINDS)
    return r.choices(fns, weights=weights)[0](r)


def make_text(seed, n_bytes):
    """Whole paragraphs (one a line) until at least n_bytes bytes."""
    r = random.Random(seed)
    lines, size = [], 0
    while size < n_bytes:
        line = paragraph(r)
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="models", help="output directory (default: models)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, seed, n in (("corpus_train.txt", TRAIN_SEED, TRAIN_BYTES),
                          ("corpus_val.txt", VAL_SEED, VAL_BYTES)):
        text = make_text(seed, n)
        data = text.encode("ascii")
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        print(f"wrote {args.out}/{name}: {len(data)} bytes, {text.count(chr(10))} lines, seed {seed}")


if __name__ == "__main__":
    main()
