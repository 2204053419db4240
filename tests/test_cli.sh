#!/bin/sh
# tests/test_cli.sh [BUILD_DIR] - the attnres-run command line, end to end.
#   bad arguments: exit status 2 and a message naming the argument;
#   a model that cannot be loaded: exit status 1;
#   greedy decoding reproduces golden/generate/block.txt (the PyTorch
#   reference's continuation) byte for byte, on both depth-attention paths;
#   --heatmap writes a PNG (signature, IHDR size fits the depth-weight table);
#   the same seed gives the same text, another seed another text.
# BUILD_DIR defaults to the directory this script sits in (mk/run.mk copies it
# there as test_cli, so tests/run.sh can run it like the C tests). Run from
# the repository root. MODELS and GOLDEN override models/ and golden/;
# SAMPLE_TOKENS (default 100) is the length of the sampled texts.
# Prints ok/FAIL lines and "# summary test_cli: P passed, F failed".
build=${1:-$(dirname "$0")}
models=${MODELS:-models}
golden=${GOLDEN:-golden}
n_sample=${SAMPLE_TOKENS:-100}
run="$build/attnres-run"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/attnres-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0

ok()   { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

# expect_status STATUS NEEDLE DESCRIPTION -- ARGS...: runs attnres-run ARGS,
# wants exit status STATUS and NEEDLE (a fixed string) in its stderr.
expect_status() {
  want=$1 needle=$2 what=$3; shift 4
  "$run" "$@" > "$tmp/out" 2> "$tmp/err"
  got=$?
  if [ "$got" -eq "$want" ] && grep -qF -- "$needle" "$tmp/err"; then
    ok "$what: exit $got, names '$needle': $(head -n 1 "$tmp/err")"
  else
    fail "$what: exit $got (want $want), stderr should name '$needle': $(head -n 2 "$tmp/err" | tr '\n' ' ')"
  fi
}

# png_u32 FILE OFFSET: the big-endian 32-bit integer at OFFSET
png_u32() {
  od -An -tu1 -j "$2" -N 4 "$1" | awk '{ print (($1 * 256 + $2) * 256 + $3) * 256 + $4 }'
}

block="$models/block.safetensors"
standard="$models/standard.safetensors"
small="$golden/block_s2.model.safetensors"   # vocab 128: bytes >= 0x80 are not tokens
txt="$golden/generate/block.txt"
gen="$golden/generate/block.safetensors"

if [ ! -x "$run" ]; then
  fail "$run is not built"
  echo "# summary test_cli: $passed passed, $failed failed"; exit 1
fi
for f in "$block" "$standard" "$small" "$txt" "$gen"; do
  [ -f "$f" ] || fail "missing file $f (trained models and golden/generate come from the training tools)"
done

# ---- help lists every option -------------------------------------------------
"$run" --help > "$tmp/help" 2>&1; st=$?
missing=""
for flag in -p --prompt -n --tokens -t --temperature --top-p -s --seed --path --heatmap -q --quiet -h --help; do
  grep -qF -- "$flag" "$tmp/help" || missing="$missing $flag"
done
if [ "$st" -eq 0 ] && [ -z "$missing" ]; then ok "--help: exit 0, lists every option"
else fail "--help: exit $st, missing:$missing"; fi

# ---- bad arguments: exit 2, the argument named --------------------------------
expect_status 2 "MODEL" "no model" --
expect_status 2 "--bogus" "unknown option" -- "$block" --bogus
expect_status 2 "-n" "missing value" -- "$block" -n
expect_status 2 "-n" "-n 12x" -- "$block" -n 12x
expect_status 2 "-n" "-n -1" -- "$block" -n -1
expect_status 2 "-n" "-n 1.5" -- "$block" -n 1.5
expect_status 2 "--tokens" "--tokens 99999999999999999999" -- "$block" --tokens 99999999999999999999
expect_status 2 "-n" "prompt + -n past seq_len" -- "$block" -n 100000
expect_status 2 "-t" "-t -1" -- "$block" -t -1
expect_status 2 "-t" "-t abc" -- "$block" -t abc
expect_status 2 "-t" "-t nan" -- "$block" -t nan
expect_status 2 "--temperature" "--temperature ''" -- "$block" --temperature ""
expect_status 2 "--top-p" "--top-p 1.5" -- "$block" --top-p 1.5
expect_status 2 "--top-p" "--top-p 0" -- "$block" --top-p 0
expect_status 2 "-s" "-s -5" -- "$block" -s -5
expect_status 2 "--seed" "--seed 42x" -- "$block" --seed 42x
expect_status 2 "--path" "--path sideways" -- "$block" --path sideways
expect_status 2 "-p" "empty prompt" -- "$block" -p ""
expect_status 2 "--prompt" "prompt byte >= vocab_size" -- "$small" -n 1 --prompt "$(printf 'caf\303\251')"
expect_status 2 "--heatmap" "--heatmap on a standard model" -- "$standard" --heatmap "$tmp/x.png"
expect_status 2 "unexpected argument" "two models" -- "$block" "$block"
expect_status 1 "$tmp/nope.safetensors" "missing model file" -- "$tmp/nope.safetensors"
printf 'not a checkpoint' > "$tmp/bad.safetensors"
expect_status 1 "bad.safetensors" "malformed model file" -- "$tmp/bad.safetensors"

# ---- greedy decoding reproduces the PyTorch reference --------------------------
# golden/generate/block.txt is the prompt, the reference's greedy continuation
# and (optionally) one newline; block.safetensors's header gives the lengths.
shape_of() {   # shape_of NAME: the length of 1-D tensor NAME in $gen's header
  head -c 4096 "$gen" 2>/dev/null | tr -c '[:print:]' ' ' |
    sed -n "s/.*\"$1\":{\"dtype\":\"I32\",\"shape\":\[\([0-9]*\)\].*/\1/p"
}
n_prompt=$(shape_of prompt); n_gen=$(shape_of generated)
if [ -f "$txt" ] && [ -n "$n_prompt" ] && [ -n "$n_gen" ]; then
  n_txt=$(wc -c < "$txt")
  prompt=$(head -c "$n_prompt" "$txt")
  if [ "$n_txt" -eq $((n_prompt + n_gen + 1)) ]; then cp "$txt" "$tmp/want"
  else { cat "$txt"; printf '\n'; } > "$tmp/want"; fi   # attnres-run ends with a newline
  for path in direct two-phase; do
    "$run" "$block" -p "$prompt" -n "$n_gen" -t 0 --path "$path" -q > "$tmp/got" 2> "$tmp/err"
    st=$?
    if [ "$st" -eq 0 ] && cmp -s "$tmp/got" "$tmp/want" && [ ! -s "$tmp/err" ]; then
      ok "greedy --path $path: $n_gen tokens after a $n_prompt-byte prompt identical to $txt (-q: stderr empty)"
    else
      fail "greedy --path $path: exit $st; output differs from $txt: $(cmp "$tmp/got" "$tmp/want" 2>&1 | head -n 1)"
    fi
  done
else
  fail "greedy: cannot read $txt or the prompt/generated lengths in $gen"
fi

# ---- -n 0: just the prompt; statistics on stderr without -q ---------------------
"$run" "$block" -p "abc" -n 0 > "$tmp/got" 2> "$tmp/err"; st=$?
if [ "$st" -eq 0 ] && [ "$(cat "$tmp/got")" = "abc" ] && grep -q "tokens/s" "$tmp/err"; then
  ok "-n 0: prints the prompt only; stats line on stderr"
else fail "-n 0: exit $st, stdout '$(cat "$tmp/got")', stderr '$(head -n 1 "$tmp/err")'"; fi

# ---- --heatmap writes a PNG whose size fits the depth-weight table ---------------
png="$tmp/depth.png"
"$run" "$block" -p "The" -n 20 --heatmap "$png" > /dev/null 2> "$tmp/err"; st=$?
# the table: header line, column-label line, then one line per row (L+1 rows)
rows=$(grep -cE '^(attn|mlp) [0-9]+ |^output ' "$tmp/err")
cols=$(awk '/^depth attention:/ { getline; print NF; exit }' "$tmp/err")
sig=$(od -An -tx1 -N 8 "$png" 2>/dev/null | tr -d ' \n')
ihdr=$(od -An -c -j 12 -N 4 "$png" 2>/dev/null | tr -d ' \n')
if [ "$st" -eq 0 ] && [ "$sig" = "89504e470d0a1a0a" ] && [ "$ihdr" = "IHDR" ]; then
  w=$(png_u32 "$png" 16); h=$(png_u32 "$png" 20)
  if [ "$rows" -gt 1 ] && [ "$cols" -gt 0 ] && [ "$w" -ge $((cols * 40)) ] && [ "$h" -ge $((rows * 40)) ] &&
     [ "$w" -le 4000 ] && [ "$h" -le 4000 ]; then
    ok "--heatmap: PNG signature, IHDR ${w}x${h} px holds ${rows} rows x ${cols} sources of 40 px"
  else fail "--heatmap: IHDR ${w}x${h} px for ${rows} rows x ${cols} sources"; fi
else
  fail "--heatmap: exit $st, signature '$sig', first chunk '$ihdr'"
fi
expect_status 1 "cannot write" "--heatmap into a missing directory" -- "$block" -n 1 --heatmap "$tmp/no/such/dir.png"

# ---- seeded sampling ---------------------------------------------------------------
"$run" "$block" -p "The" -n "$n_sample" -t 0.8 -s 7 -q > "$tmp/a" 2>/dev/null; s1=$?
"$run" "$block" -p "The" -n "$n_sample" -t 0.8 -s 7 -q > "$tmp/b" 2>/dev/null; s2=$?
"$run" "$block" -p "The" -n "$n_sample" -t 0.8 -s 8 -q > "$tmp/c" 2>/dev/null; s3=$?
if [ "$s1$s2" = "00" ] && cmp -s "$tmp/a" "$tmp/b"; then ok "sampling: seed 7 twice gives the same text"
else fail "sampling: seed 7 twice gives different text (exit $s1, $s2)"; fi
if [ "$s3" -eq 0 ] && ! cmp -s "$tmp/a" "$tmp/c"; then ok "sampling: seeds 7 and 8 give different text"
else fail "sampling: seeds 7 and 8 give the same text (exit $s3)"; fi

echo "# summary test_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
