#!/bin/sh
# tools/tok_bench.sh [BASE] - how long tools/tokenizer.c takes to encode long
# prompts, side by side with the tokenizer.c of git revision BASE (default:
# the last one that rescanned every pair after each merge, i.e. the parent of
# the commit that brought in tok__heap_push). Both are built with tests/tok_dump.c, which times one encode call
# (CPU time); the two binaries run interleaved, REPS times each, best kept.
# The tokenizers are the real GPT-2, Llama 3 and LLaMA 2 vocabularies that
# tests/test_tokenizers.sh writes into build/default/npm (run it, or make
# test, first). Inputs: ordinary English (models/corpus_train.txt repeated)
# and a run of seeded random lowercase letters with no spaces, 10 KiB to
# 1 MiB. A run that takes longer than TIMEOUT seconds is shown as "> TIMEOUT".
# Prints a Markdown table; environment: REPS (3), TIMEOUT (60), CC (cc).
set -e
base=${1:-$(git log --format=%H -S tok__heap_push -- tools/tokenizer.c | tail -n 1)^}
label=${1:-rescan}
reps=${REPS:-3}
limit=${TIMEOUT:-60}
cc=${CC:-cc}
npm=build/default/npm
out=build/tok_bench
for f in gpt2.tokenizer.json llama3.tokenizer.json llama2.tokenizer.bin; do
  [ -f "$npm/$f" ] || { echo "tok_bench: $npm/$f is missing: run sh tests/test_tokenizers.sh build/default first" >&2; exit 1; }
done
mkdir -p "$out/base/tools" "$out/base/tests"
for f in tokenizer.c tokenizer.h tokenizer_unicode.h; do git show "$base:tools/$f" > "$out/base/tools/$f"; done
cp tests/tok_dump.c "$out/base/tests/"
$cc -std=c99 -O3 -o "$out/tok_base" "$out/base/tests/tok_dump.c" "$out/base/tools/tokenizer.c"
$cc -std=c99 -O3 -o "$out/tok_new" tests/tok_dump.c tools/tokenizer.c

# inputs: text_SIZE and run_SIZE, SIZE in bytes
: > "$out/text"
while [ "$(wc -c < "$out/text")" -lt 1048576 ]; do cat models/corpus_train.txt >> "$out/text"; done
awk 'BEGIN { s = 12345; for (i = 0; i < 1048576; i++) { s = (s * 1103515245 + 12345) % 2147483648;
             printf "%c", 97 + int(s / 65536) % 26 } }' > "$out/run"
for size in 10240 102400 1048576; do
  head -c $size "$out/text" > "$out/text_$size"
  head -c $size "$out/run" > "$out/run_$size"
done

# seconds BIN TOKENIZER FILE: the best of REPS single encodes, or "> TIMEOUT"
best() {
  r=$(timeout "$limit" "$1" "$2" --time "$3" 1 2> /dev/null) || { echo "> $limit"; return; }
  echo "$r" | sed 's/.*: \([0-9.]*\) s$/\1/'
}
least() { echo "$1 $2" | awk 'NF == 1 { print $1; exit } { print ($2 < $1) ? $2 : $1 }'; }
echo "| tokenizer | input | bytes | tokens | $label (s) | this (s) | $label / this |"
echo "|---|---|---:|---:|---:|---:|---:|"
for tk in gpt2.tokenizer.json llama3.tokenizer.json llama2.tokenizer.bin; do
  for kind in text run; do
    for size in 10240 102400 1048576; do
      file="$out/${kind}_$size"
      tokens=$("$out/tok_new" "$npm/$tk" --time "$file" 1 | sed 's/.*-> \([0-9]*\) tokens.*/\1/')
      b=""; n=""; i=0
      while [ $i -lt "$reps" ]; do   # interleaved: base, this, base, this ...
        case "$b" in ">"*) ;; *) x=$(best "$out/tok_base" "$npm/$tk" "$file")
                                  case "$x" in ">"*) b=$x ;; *) b=$(least "$b" "$x") ;; esac ;; esac
        n=$(least "$n" "$(best "$out/tok_new" "$npm/$tk" "$file")")
        i=$((i + 1))
      done
      case "$b" in ">"*) ratio="> $(echo "$limit $n" | awk '{ printf "%.0f", $1 / ($2 > 0.0001 ? $2 : 0.0001) }')" ;;
                   *) ratio=$(echo "$b $n" | awk '{ printf "%.1f", $1 / ($2 > 0.0001 ? $2 : 0.0001) }') ;; esac
      name=$(echo "$kind" | sed 's/text/English text/; s/run/letters, no spaces/')
      echo "| $tk | $name | $size | $tokens | $b | $n | $ratio |"
    done
  done
done
