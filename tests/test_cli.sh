#!/bin/sh
# tests/test_cli.sh [BUILD_DIR] - the attnres-run command line, end to end.
#   bad arguments: exit status 2 and a message naming the argument;
#   a model that cannot be loaded: exit status 1;
#   greedy decoding reproduces golden/generate/block.txt (the PyTorch
#   reference's continuation) byte for byte, on both depth-attention paths;
#   --heatmap writes a PNG (signature, IHDR size fits the depth-weight table);
#   the same seed gives the same text, another seed another text;
#   a deep model's heatmap stays within 4096 px a side (1024 layers, S = 1);
#   output errors (--heatmap on /dev/full or under ulimit -f, stdout on
#   /dev/full) exit 1 with a message, leave no partial or temporary file and
#   do not truncate an existing one; a symlink's target is replaced;
#   float options are checked as the float they are stored in (--top-p 1e-46);
#   token ids >= 256 print as <ID>, C1 controls and other control bytes as
#   \xNN (what the model emits and the prompt alike);
#   a prompt longer than the context is blamed on the prompt, not on -n;
#   messages quote paths and values with control bytes escaped;
#   a model with seq_len 2^20 and 64 layers runs in a small address space
#   (the state holds prompt + new tokens, not seq_len);
#   --version prints ATTNRES_VERSION_STRING; --option=VALUE equals the spaced form;
#   -f FILE / -f - read the prompt's bytes exactly;
#   --alpha: every (position, sublayer) row sums to 1, sources and partial
#   labels follow the block structure, the means equal the heatmap's table,
#   a zero model gives 1/n exactly, JSON lines carry the CSV's numbers, a
#   failed write leaves no partial file;
#   --probs: rank 1 is the greedy token, all K = vocab probabilities sum to 1,
#   the cycle model's values match a computation by hand; with --tokenizer the
#   text column is the token's piece (a made-up tokenizer.bin whose pieces hold
#   quotes, commas, newlines, ESC, invalid UTF-8, a backslash; the real
#   golden/import tokenizers spell the reference's greedy text);
#   the heatmap's tEXt chunks name the model and the prompt;
#   an output (--alpha, --probs-file, --heatmap, stdout) that is an input (the
#   model, -f FILE or stdin, --tokenizer) or another output, by any spelling,
#   hard or symbolic link, /dev/stdout or >>, or the same new file twice, is
#   refused with exit 2 and nothing written.
# The models those cases need are written here, in shell (zero_model,
# cycle_model): no Python at test time.
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

. tests/lib.sh   # ok, fail, skip: print the line and count it (passed, failed, skipped)

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

# ---- models made here, at test time (no Python): all-zero weights of any shape --
# model_header FILE KEY=VALUE...: writes FILE.json, the safetensors JSON header
# of an attnres model (dim 2 unless given, one head), with every tensor in
# loader order: tok_embeddings, the layers, output_res.*, norm, output;
# prints the data size in bytes.
model_header() {
  out=$1; shift
  awk -v out="$out" '
    BEGIN {
      m["dim"] = 2; m["hidden_dim"] = 2; m["n_layers"] = 1; m["n_heads"] = 1; m["n_kv_heads"] = 1
      m["vocab_size"] = 128; m["seq_len"] = 16; m["residual"] = "attnres"; m["block_size"] = 1
      m["tie_embeddings"] = "true"
      for (i = 1; i < ARGC; i++) { split(ARGV[i], kv, "="); m[kv[1]] = kv[2] }
      ARGC = 1
      d = m["dim"]; h = m["hidden_dim"]; hd = d / m["n_heads"]; kvd = hd * m["n_kv_heads"]
      s = "{\"__metadata__\":{\"format\":\"attnres\",\"format_version\":\"1\""
      split("dim hidden_dim n_layers n_heads n_kv_heads vocab_size seq_len tie_embeddings residual", keys, " ")
      for (k = 1; k <= 9; k++) s = s ",\"" keys[k] "\":\"" m[keys[k]] "\""
      if (m["residual"] == "attnres") s = s ",\"block_size\":\"" m["block_size"] "\""
      if (m["eos_token_id"] != "") s = s ",\"eos_token_id\":\"" m["eos_token_id"] "\""
      printf "%s,\"rope_theta\":\"10000.0\",\"norm_eps\":\"1e-05\"}", s > out
      off = 0
      t("tok_embeddings.weight", m["vocab_size"], d)
      for (i = 0; i < m["n_layers"]; i++) {
        p = "layers." i "."
        t(p "attention_norm.weight", d); t(p "attention.wq.weight", d, d)
        t(p "attention.wk.weight", kvd, d); t(p "attention.wv.weight", kvd, d)
        t(p "attention.wo.weight", d, d); t(p "ffn_norm.weight", d)
        t(p "feed_forward.w1.weight", h, d); t(p "feed_forward.w2.weight", d, h)
        t(p "feed_forward.w3.weight", h, d)
        if (m["residual"] == "attnres") {
          t(p "attention_res.pseudo_query", d); t(p "attention_res.key_norm.weight", d)
          t(p "ffn_res.pseudo_query", d); t(p "ffn_res.key_norm.weight", d)
        }
      }
      if (m["residual"] == "attnres") { t("output_res.pseudo_query", d); t("output_res.key_norm.weight", d) }
      t("norm.weight", d)
      if (m["tie_embeddings"] != "true") t("output.weight", m["vocab_size"], d)
      printf "}" > out
      print off
    }
    function t(name, a, b,   n, shape) {
      n = (b == "" ? a : a * b) * 4
      shape = (b == "" ? a : a "," b)
      printf ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[%d,%d]}", name, shape, off, off + n > out
      off += n
    }' "$@"
}

# le64 N: N as 8 little-endian bytes
le64() {
  n=$1; k=0
  while [ $k -lt 8 ]; do printf "\\$(printf %o $((n % 256)))"; n=$((n / 256)); k=$((k + 1)); done
}

# zero_model FILE KEY=VALUE...: a model whose weights are all zero (it loads
# and runs; every depth weight is uniform, every logit 0)
zero_model() {
  f=$1; shift
  size=$(model_header "$f.json" "$@") || return 1
  { le64 "$(wc -c < "$f.json")"; cat "$f.json"; head -c "$size" /dev/zero; } > "$f"
  rm -f "$f.json"
}

# f32_onehot K D: D little-endian float32s, 1.0 at index K (none if K < 0)
f32_onehot() {
  k=0
  while [ $k -lt "$2" ]; do
    if [ $k -eq "$1" ]; then printf '\000\000\200\077'; else printf '\000\000\000\000'; fi
    k=$((k + 1))
  done
}

# cycle_model FILE T0 T1 ... Tk-1: a standard-residual model (vocab 300, one
# layer of zeros, dim k) whose greedy continuation of token Ti is T(i+1 mod k):
# the embedding of Ti is the unit vector e_i, the output row of T(i+1) is e_i.
# CYCLE_META="eos_token_id=299" adds that metadata key.
cycle_model() {
  f=$1; shift
  d=$#
  size=$(model_header "$f.json" dim=$d hidden_dim=2 vocab_size=300 residual=standard \
         tie_embeddings=false seq_len=64 $CYCLE_META) || return 1
  {
    le64 "$(wc -c < "$f.json")"; cat "$f.json"
    t=0
    while [ $t -lt 300 ]; do        # tok_embeddings: row t is e_i where t = Ti
      i=0; k=-1
      for c in "$@"; do [ "$c" -eq $t ] && k=$i; i=$((i + 1)); done
      f32_onehot $k $d; t=$((t + 1))
    done
    head -c $((size - (2 * 300 * d + d) * 4)) /dev/zero   # the layer: zeros
    f32_onehot 0 1; i=1; while [ $i -lt $d ]; do f32_onehot 0 1; i=$((i + 1)); done   # norm: ones
    t=0
    while [ $t -lt 300 ]; do        # output: row T(i+1) is e_i
      i=0; k=-1
      for c in "$@"; do
        n=$(( (i + 1) % d )); eval "next=\${$((n + 1))}"
        [ "$next" -eq $t ] && k=$i; i=$((i + 1))
      done
      f32_onehot $k $d; t=$((t + 1))
    done
  } > "$f"
  rm -f "$f.json"
}

is_plain() { [ -z "$(no_vm_measure "$run")" ]; }

block="$models/block.safetensors"
standard="$models/standard.safetensors"
small="$golden/block_s2.model.safetensors"   # vocab 128: bytes >= 0x80 are not tokens
txt="$golden/generate/block.txt"
gen="$golden/generate/block.safetensors"

if [ ! -x "$run" ]; then
  fail "$run is not built"
  echo "# summary test_cli: $passed passed, $failed failed"; exit 1
fi
for f in "$block" "$standard" "$small" "$txt" "$gen" "$golden/import/e2e_llama2c.model.safetensors" \
         "$golden/import/e2e_llama2c.tokenizer.bin" "$golden/import/e2e_llama2c.cli.txt" \
         "$golden/import/e2e_llama32.model.safetensors" "$golden/import/e2e_llama32.cli.txt"; do
  [ -f "$f" ] || fail "missing file $f (trained models and golden/generate come from the training tools, golden/import from tools/make_import_golden.py)"
done

# ---- help lists every option -------------------------------------------------
"$run" --help > "$tmp/help" 2>&1; st=$?
missing=""
for flag in -p --prompt -f --prompt-file -n --tokens -t --temperature --top-p -s --seed --path --heatmap \
            --alpha --probs --probs-file -q --quiet -h --help --version --ignore-eos --special; do
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

# ---- a deep model's heatmap stays a bounded picture ----------------------------
# 1024 layers with S = 1: 2049 rows x 2049 sources. At 40 px a cell that was an
# 82000 px square (20 GB; past 2^31 bytes the PNG writer's int sizes overflow).
# The cells shrink instead, to keep the picture within 4096 px a side.
deep="$tmp/deep.safetensors"
zero_model "$deep" n_layers=1024 block_size=1
lim=$(vm_limit "$run" 1000000)   # KB of address space
(ulimit -v $lim; exec "$run" "$deep" -p a -n 2 -q --heatmap "$tmp/deep.png") > /dev/null 2> "$tmp/err"; st=$?
if [ "$st" -eq 0 ] && [ -f "$tmp/deep.png" ]; then
  w=$(png_u32 "$tmp/deep.png" 16); h=$(png_u32 "$tmp/deep.png" 20)
  iend=$(tail -c 8 "$tmp/deep.png" | od -An -c -N 4 | tr -d ' \n')
  if [ "$w" -ge 2049 ] && [ "$h" -ge 2049 ] && [ "$w" -le 4096 ] && [ "$h" -le 4096 ] && [ "$iend" = "IEND" ]; then
    ok "--heatmap, 1024 layers (2049 x 2049 cells): ${w}x${h} px PNG, $(wc -c < "$tmp/deep.png") bytes, complete (IEND), in ulimit -v $lim"
  else fail "--heatmap, 1024 layers: ${w}x${h} px, last chunk '$iend'"; fi
else
  fail "--heatmap, 1024 layers: exit $st (ulimit -v $lim): $(head -n 1 "$tmp/err")"
fi
zero_model "$tmp/d2.safetensors" n_layers=300 block_size=2
"$run" "$tmp/d2.safetensors" -p a -n 2 --heatmap "$tmp/d2.png" > /dev/null 2> "$tmp/err"; st=$?
w=$(png_u32 "$tmp/d2.png" 16 2>/dev/null); h=$(png_u32 "$tmp/d2.png" 20 2>/dev/null)
if [ "$st" -eq 0 ] && [ "${w:-0}" -ge 301 ] && [ "${w:-0}" -le 4096 ] && [ "${h:-0}" -ge 601 ] && [ "${h:-0}" -le 4096 ] &&
   [ "$(wc -l < "$tmp/err")" -lt 50 ]; then
  ok "--heatmap, 300 layers, S=2 (601 rows x 152 sources): ${w}x${h} px; the stderr table is summarised"
else fail "--heatmap, 300 layers, S=2: exit $st, ${w}x${h} px, $(wc -l < "$tmp/err") lines on stderr"; fi

# ---- output errors: exit 1 and a message, never "wrote", nothing half-written ----
"$run" "$block" -p a -n 1 --heatmap /dev/full > /dev/null 2> "$tmp/err"; st=$?
if [ "$st" -eq 1 ] && grep -q "heatmap" "$tmp/err" && ! grep -q "^wrote" "$tmp/err" && [ -c /dev/full ]; then
  ok "--heatmap /dev/full: exit 1, $(grep heatmap "$tmp/err" | head -n 1); /dev/full still a device"
else fail "--heatmap /dev/full: exit $st: $(tail -n 1 "$tmp/err"); device: $(ls -l /dev/full)"; fi

# a file-size limit (ulimit -f counts 512- or 1024-byte blocks; the PNG is ~12 KB)
(ulimit -f 4; exec "$run" "$block" -p a -n 1 -q --heatmap "$tmp/limit.png") > /dev/null 2> "$tmp/err"; st=$?
left=$(ls -a "$tmp" | grep -c limit)
if [ "$st" -eq 1 ] && grep -q "heatmap" "$tmp/err" && [ "$left" -eq 0 ]; then
  ok "--heatmap under ulimit -f 4: exit 1, nothing left behind: $(head -n 1 "$tmp/err")"
else fail "--heatmap under ulimit -f 4: exit $st, $left files named *limit* left: $(head -n 1 "$tmp/err")"; fi

printf 'old picture' > "$tmp/keep.png"
(ulimit -f 4; exec "$run" "$block" -p a -n 1 -q --heatmap "$tmp/keep.png") > /dev/null 2> "$tmp/err"; st=$?
if [ "$st" -eq 1 ] && [ "$(cat "$tmp/keep.png")" = "old picture" ] && [ "$(ls -a "$tmp" | grep -c keep)" -eq 1 ]; then
  ok "--heatmap failing over an existing file: exit 1, the old file intact, no temporary left"
else fail "--heatmap failing over an existing file: exit $st, now $(wc -c < "$tmp/keep.png") bytes: $(head -n 1 "$tmp/err")"; fi

# replacing a file through a symbolic link replaces the link's target
printf 'old picture' > "$tmp/real.png"; ln -s real.png "$tmp/link.png"
(umask 027; exec "$run" "$block" -p a -n 1 -q --heatmap "$tmp/link.png") > /dev/null 2> "$tmp/err"; st=$?
sig=$(od -An -tx1 -N 8 "$tmp/real.png" 2>/dev/null | tr -d ' \n')
if [ "$st" -eq 0 ] && [ -L "$tmp/link.png" ] && [ "$sig" = "89504e470d0a1a0a" ]; then
  ok "--heatmap through a symlink: the link stays, its target becomes the PNG"
else fail "--heatmap through a symlink: exit $st, link kept: $([ -L "$tmp/link.png" ] && echo yes || echo no), target '$sig'"; fi
(umask 027; exec "$run" "$block" -p a -n 1 -q --heatmap "$tmp/new.png") > /dev/null 2> "$tmp/err"; st=$?
mode=$(ls -l "$tmp/new.png" 2>/dev/null | cut -c 1-10)
if [ "$st" -eq 0 ] && [ "$mode" = "-rw-r-----" ]; then ok "--heatmap: a new file's mode follows the umask ($mode under 027)"
else fail "--heatmap: a new file under umask 027 has mode '$mode' (exit $st)"; fi

"$run" "$block" -p "The" -n 20 > /dev/full 2> "$tmp/err"; st=$?
if [ "$st" -eq 1 ] && grep -q "stdout" "$tmp/err"; then ok "stdout to /dev/full: exit 1, $(head -n 1 "$tmp/err")"
else fail "stdout to /dev/full: exit $st, stderr '$(head -n 1 "$tmp/err")'"; fi

# ---- a float option is checked as the float it is stored in ---------------------
expect_status 2 "--top-p" "--top-p 1e-46 (0 as a float: would mean off)" -- "$block" --top-p 1e-46
"$run" "$block" -p "The" -n 20 -t 1e-46 -q > "$tmp/a" 2> "$tmp/err"; st=$?
"$run" "$block" -p "The" -n 20 -t 0 -q > "$tmp/b" 2>/dev/null
if [ "$st" -eq 0 ] && cmp -s "$tmp/a" "$tmp/b"; then ok "-t 1e-46 (0 as a float) is greedy, the limit T -> 0+, as documented"
else fail "-t 1e-46: exit $st, differs from -t 0: $(head -n 1 "$tmp/err")"; fi
grep -q "0 as a float" "$tmp/help" && ok "--help says what a temperature below the smallest float does" ||
  fail "--help does not say what a temperature that rounds to 0 does"

# ---- what a model emits cannot drive the terminal; ids >= 256 are visible ---------
# 'a' -> C3 A9 (e acute, printed) -> C2 85 (NEL, a C1 control: escaped) -> 299 -> 'a'
cyc="$tmp/cycle.safetensors"
cycle_model "$cyc" 97 195 169 194 133 299
"$run" "$cyc" -p a -n 6 -t 0 -q > "$tmp/got" 2> "$tmp/err"; st=$?
printf 'a\303\251\\xc2\\x85<299>a\n' > "$tmp/want"
if [ "$st" -eq 0 ] && cmp -s "$tmp/got" "$tmp/want"; then
  ok "vocab 300: token 299 printed as <299>, UTF-8 passes, the C1 control C2 85 as \\xc2\\x85"
else fail "vocab 300: exit $st, stdout $(od -An -c "$tmp/got" | tr -s ' ' | head -n 2)"; fi
"$run" "$small" -p "$(printf 'a\033]0;x\007b')" -n 0 -q > "$tmp/got" 2> "$tmp/err"; st=$?
if [ "$st" -eq 0 ] && [ "$(cat "$tmp/got")" = 'a\x1b]0;x\x07b' ]; then ok "the prompt is echoed under the same rule (ESC, BEL escaped)"
else fail "prompt with ESC: exit $st, stdout $(od -An -c "$tmp/got" | head -n 1)"; fi

# ---- messages blame the right thing and quote nothing raw ------------------------
zero_model "$tmp/ctx16.safetensors" n_layers=1 seq_len=16
expect_status 2 "--prompt: the prompt (20 bytes) is longer than the context" "prompt alone past seq_len, -n 0" -- \
  "$tmp/ctx16.safetensors" -p "abcdefghijklmnopqrst" -n 0
grep -q "new tokens fit" "$tmp/err" && fail "prompt past seq_len: still blames -n: $(head -n 1 "$tmp/err")"
expect_status 2 "-n/--tokens: the prompt (10 bytes) + 7 new tokens" "prompt fits, -n does not" -- \
  "$tmp/ctx16.safetensors" -p "abcdefghij" -n 7
esc=$(printf '\033')
no_raw_controls() {   # no_raw_controls WHAT: stderr holds \x1b, no ESC byte
  if grep -qF '\x1b' "$tmp/err" && ! grep -q "$esc" "$tmp/err"; then ok "$1: control bytes escaped: $(head -n 1 "$tmp/err")"
  else fail "$1: raw control bytes in the message: $(od -An -c "$tmp/err" | head -n 2 | tr -s ' ')"; fi
}
"$run" "$tmp/evil$esc[2J.safetensors" > /dev/null 2> "$tmp/err"; no_raw_controls "missing model with ESC in its path"
"$run" "$block" -t "1$esc]0;x" > /dev/null 2> "$tmp/err"; no_raw_controls "-t value with ESC"
"$run" "$block" "--bo${esc}gus" > /dev/null 2> "$tmp/err"; no_raw_controls "unknown option with ESC"
"$run" "$block" "x${esc}y" > /dev/null 2> "$tmp/err"; no_raw_controls "extra argument with ESC"
cp "$standard" "$tmp/std$esc.safetensors"
"$run" "$tmp/std$esc.safetensors" --heatmap "$tmp/x.png" > /dev/null 2> "$tmp/err"; no_raw_controls "standard model path with ESC"
"$run" "$block" -n 1 -q --heatmap "$tmp/no/x$esc.png" > /dev/null 2> "$tmp/err"; no_raw_controls "--heatmap path with ESC"

# ---- the state holds the context asked for, not the model's seq_len -------------
# seq_len 2^20 and 64 layers: the whole KV-cache would be 2 x 64 x 2^20 x 2
# floats = 1 GiB; three tokens need a few KB.
long="$tmp/long.safetensors"
zero_model "$long" n_layers=64 block_size=4 seq_len=1048576
lim=$(vm_limit "$run" 200000)
t0=$(date +%s)
(ulimit -v $lim; exec "$run" "$long" -p ab -n 3 -q) > "$tmp/got" 2> "$tmp/err"; st=$?
took=$(( $(date +%s) - t0 ))
rss=""
if [ -x /usr/bin/time ] && is_plain; then
  rss=$(/usr/bin/time -f %M "$run" "$long" -p ab -n 3 -q 2>&1 >/dev/null | tail -n 1)
  rss=", max RSS ${rss} KB"
fi
if [ "$st" -eq 0 ] && [ "$took" -le 10 ]; then ok "seq_len 2^20, 64 layers: 3 tokens in ${took} s under ulimit -v $lim$rss"
else fail "seq_len 2^20, 64 layers: exit $st in ${took} s under ulimit -v $lim: $(head -n 1 "$tmp/err")"; fi

# ---- --version, --option=VALUE ---------------------------------------------------
version=$(sed -n 's/^#define ATTNRES_VERSION_STRING "\(.*\)"/\1/p' attnres.h)
got=$("$run" --version 2>&1); st=$?
if [ "$st" -eq 0 ] && [ -n "$version" ] && [ "$got" = "attnres-run $version" ]; then ok "--version: '$got' (ATTNRES_VERSION_STRING)"
else fail "--version: exit $st, '$got', want 'attnres-run $version'"; fi
"$run" "$block" -p "One day" -n 30 -t 0.7 --top-p 0.8 -s 3 --path two-phase -q > "$tmp/a" 2>&1; s1=$?
"$run" "$block" --prompt="One day" --tokens=30 --temperature=0.7 --top-p=0.8 --seed=3 --path=two-phase --quiet \
  > "$tmp/b" 2>&1; s2=$?
if [ "$s1$s2" = "00" ] && cmp -s "$tmp/a" "$tmp/b" && [ "$(wc -c < "$tmp/a")" -gt 30 ]; then
  ok "--option=VALUE: --prompt= --tokens= --temperature= --top-p= --seed= --path= give the same text as the spaced forms"
else fail "--option=VALUE: exit $s1/$s2, outputs differ: $(head -c 80 "$tmp/b")"; fi
expect_status 2 "--quiet" "--quiet=1 (takes no value)" -- "$block" --quiet=1
expect_status 2 "--bogus" "--bogus=1" -- "$block" --bogus=1
expect_status 2 "--tokens" "--tokens=" -- "$block" --tokens=
expect_status 2 "--alpha" "--alpha= (empty file name)" -- "$block" --alpha=

# ---- -f FILE, -f -: the prompt's bytes exactly ------------------------------------
printf 'The little robot' > "$tmp/prompt.txt"
"$run" "$block" -p "The little robot" -n 40 -t 0 -q > "$tmp/a" 2>/dev/null
"$run" "$block" -f "$tmp/prompt.txt" -n 40 -t 0 -q > "$tmp/b" 2>&1; s1=$?
"$run" "$block" --prompt-file=- -n 40 -t 0 -q < "$tmp/prompt.txt" > "$tmp/c" 2>&1; s2=$?
if [ "$s1$s2" = "00" ] && cmp -s "$tmp/a" "$tmp/b" && cmp -s "$tmp/a" "$tmp/c"; then
  ok "-f FILE and --prompt-file=- (stdin) give what -p gives"
else fail "-f: exit $s1/$s2; differs from -p: $(head -c 60 "$tmp/b") / $(head -c 60 "$tmp/c")"; fi
printf 'ab\000c\n' > "$tmp/nul.txt"
"$run" "$small" -f "$tmp/nul.txt" -n 0 -q > "$tmp/got" 2>&1; st=$?
printf 'ab\\x00c\n\n' > "$tmp/want"
if [ "$st" -eq 0 ] && cmp -s "$tmp/got" "$tmp/want"; then ok "-f keeps every byte: a NUL (token 0) and the final newline"
else fail "-f with a NUL and a newline: exit $st, stdout $(od -An -c "$tmp/got" | head -n 1)"; fi
: > "$tmp/empty.txt"
expect_status 2 "is empty" "-f an empty file" -- "$block" -f "$tmp/empty.txt"
expect_status 2 "cannot read" "-f a missing file" -- "$block" -f "$tmp/none.txt"
expect_status 2 "give one of them" "-p and -f together" -- "$block" -p x -f "$tmp/prompt.txt"

# ---- --alpha: every depth weight ----------------------------------------------------
# The block model: L = 8 sublayers, S = 2. Sublayer l reads l/2 + 1 completed
# sources plus, when l is odd (not first in its block), the partial sum
# (source l/2 + 1); the output reads b0..b4. 29 weights per position.
"$run" "$block" -p "The" -n 20 -t 0 --alpha "$tmp/alpha.csv" --heatmap "$tmp/h.png" > /dev/null 2> "$tmp/err"; st=$?
n_rows=$(($(wc -l < "$tmp/alpha.csv") - 1)); want_rows=$(((3 + 20 - 1) * 29))
if [ "$st" -eq 0 ] && [ "$(head -n 1 "$tmp/alpha.csv")" = "position,token,sublayer,reader,source,kind,alpha" ] &&
   [ "$n_rows" -eq "$want_rows" ]; then ok "--alpha: CSV header, $n_rows rows = 22 positions x 29 (sublayer, source) pairs"
else fail "--alpha: exit $st, $n_rows rows (want $want_rows), header '$(head -n 1 "$tmp/alpha.csv")'"; fi
# each (position, sublayer) sums to 1
sums=$(awk -F, 'NR > 1 { s[$1 "," $3] += $7 } END { m = 0; for (k in s) { d = s[k] - 1; if (d < 0) d = -d; if (d > m) m = d; n++ }
                printf "%d %.3g", n, m }' "$tmp/alpha.csv")
set -- $sums
if [ "$1" -eq $((22 * 9)) ] && awk -v m="$2" 'BEGIN { exit !(m <= 1e-5) }'; then ok "--alpha: each of the $1 (position, sublayer) rows sums to 1 (max |sum - 1| = $2)"
else fail "--alpha: rows do not sum to 1: $sums"; fi
# the sources and their kinds, row by row
bad=$(awk -F, 'NR > 1 { l = $3; j = $5; n = (l == 8) ? 5 : int(l / 2) + 1 + (l % 2)
        want = (j == 0) ? "embedding" : (l < 8 && l % 2 == 1 && j == int(l / 2) + 1) ? "partial" : "block"
        rdr = (l == 8) ? "output" : ((l % 2 == 0 ? "attn " : "mlp ") int(l / 2))
        if (j >= n || $6 != want || $4 != rdr) { print NR ": " $0; exit } }' "$tmp/alpha.csv")
if [ -z "$bad" ]; then ok "--alpha: sources and kinds as the block structure says (partial: the last source of odd sublayers)"
else fail "--alpha: unexpected row $bad"; fi
# the same numbers the heatmap averages: the stderr table (3 decimals)
awk -F, 'NR > 1 { s[$3 " " $5] += $7; if (!seen[$1]++) np++ } END { for (k in s) printf "%s %.6f\n", k, s[k] / np }' \
  "$tmp/alpha.csv" | sort > "$tmp/mean"
awk '/^depth attention:/ { t = 1; getline; r = 0; next }
     t && /^(attn|mlp|output)/ { k = ($1 == "output") ? 2 : 3; for (i = k; i <= NF; i++) { v = $i; sub(/p$/, "", v)
       if (v != ".") printf "%d %d %s\n", r, i - k, v }; r++ }' "$tmp/err" | sort > "$tmp/table"
cmp_out=$(paste -d' ' "$tmp/mean" "$tmp/table" |
  awk '{ if ($1 != $4 || $2 != $5) { bad = 1 } d = $3 - $6; if (d < 0) d = -d; if (d > m) m = d; n++ }
       END { printf "%d %s %g", n, bad ? "mismatch" : "same", m }')
set -- $cmp_out
if [ "$1" -eq 29 ] && [ "$2" = same ] && awk -v m="$3" 'BEGIN { exit !(m <= 0.0005 + 1e-6) }' &&
   [ "$(wc -l < "$tmp/table")" -eq 29 ]; then
  ok "--alpha: the mean over positions of each of the 29 cells equals the heatmap's table (max diff $3, table rounds to 1e-3)"
else fail "--alpha vs the heatmap's table: $cmp_out ($(wc -l < "$tmp/table") table cells)"; fi
# a model whose pseudo-queries are zero weights every source equally: alpha = 1/n exactly
zero_model "$tmp/z.safetensors" n_layers=3 block_size=2 seq_len=16
"$run" "$tmp/z.safetensors" -p ab -n 2 --alpha "$tmp/z.csv" -q > /dev/null 2>&1; st=$?
bad=$(awk -F, 'NR > 1 { n[$1 "," $3]++; a[NR] = $7; key[NR] = $1 "," $3 } END {
        for (r in a) { d = a[r] - 1 / n[key[r]]; if (d < 0) d = -d; if (d > 1e-7) { print r ": " a[r] " vs 1/" n[key[r]]; exit } } }' "$tmp/z.csv")
rows=$(($(wc -l < "$tmp/z.csv") - 1))
if [ "$st" -eq 0 ] && [ -z "$bad" ] && [ "$rows" -eq $((3 * (1 + 2 + 2 + 3 + 3 + 4 + 4))) ]; then
  ok "--alpha, zero model (L = 6, S = 2): every weight is 1/n_sources, $rows rows"
else fail "--alpha, zero model: exit $st, $rows rows, $bad"; fi
# JSON lines: the same numbers; the two-phase path: the same within 1e-5
"$run" "$block" -p "The" -n 20 -t 0 -q --path two-phase --alpha="$tmp/alpha.jsonl" > /dev/null 2>&1; st=$?
sed -n 's/^{"position":\([0-9]*\),"token":\([0-9]*\),"sublayer":\([0-9]*\),"reader":"\([a-z0-9 ]*\)","source":\([0-9]*\),"kind":"\([a-z]*\)","alpha":\([-0-9.e]*\)}$/\1,\2,\3,\4,\5,\6,\7/p' \
  "$tmp/alpha.jsonl" > "$tmp/alpha2.csv"
diff=$(tail -n +2 "$tmp/alpha.csv" | paste -d, - "$tmp/alpha2.csv" |
  awk -F, '{ for (i = 1; i <= 6; i++) if ($i != $(i + 7)) bad = 1; d = $7 - $14; if (d < 0) d = -d; if (d > m) m = d }
           END { printf "%s %g", bad ? "labels-differ" : "labels-same", m }')
if [ "$st" -eq 0 ] && [ "$(wc -l < "$tmp/alpha2.csv")" -eq "$n_rows" ] && [ "$(wc -l < "$tmp/alpha.jsonl")" -eq "$n_rows" ] &&
   [ "${diff%% *}" = labels-same ] && awk -v m="${diff#* }" 'BEGIN { exit !(m <= 1e-5) }'; then
  ok "--alpha=FILE.jsonl on the two-phase path: $n_rows JSON lines, the CSV's rows, weights within 1e-5 ($diff)"
else fail "--alpha .jsonl: exit $st, $(wc -l < "$tmp/alpha2.csv") parsed of $(wc -l < "$tmp/alpha.jsonl") lines, $diff"; fi
expect_status 2 "--alpha" "--alpha on a standard model" -- "$standard" --alpha "$tmp/x.csv"
printf 'old table' > "$tmp/keep.csv"
(ulimit -f 4; exec "$run" "$block" -p a -n 100 -q --alpha "$tmp/keep.csv") > /dev/null 2> "$tmp/err"; st=$?
if [ "$st" -eq 1 ] && grep -q "alpha" "$tmp/err" && [ "$(cat "$tmp/keep.csv")" = "old table" ] &&
   [ "$(ls -a "$tmp" | grep -c keep.csv)" -eq 1 ]; then
  ok "--alpha failing under ulimit -f 4: exit 1, the old file intact, no temporary left: $(head -n 1 "$tmp/err")"
else fail "--alpha under ulimit -f 4: exit $st, $(ls -a "$tmp" | grep -c keep.csv) files: $(head -n 1 "$tmp/err")"; fi
expect_status 1 "alpha" "--alpha /dev/full" -- "$block" -p a -n 5 --alpha /dev/full

# ---- --probs K: the next-token distribution at every generated position --------------
"$run" "$block" -p "The" -n 20 -t 0 -q > "$tmp/text" 2>/dev/null
"$run" "$block" -p "The" -n 20 -t 0 -q --probs 3 > "$tmp/p.csv" 2> "$tmp/err"; st=$?
# stdout holds the table instead of the text; greedy: the sampled token is rank 1
chk=$(awk -F, 'NR == 1 { next } { n++; if ($2 == 1) { if ($3 != $6) bad = "rank 1 is not the greedy token at " $1; seq = seq " " $6; last = 2 }
         else if ($5 > last + 0) bad = "not descending at " $1; last = $5 }
         END { print (bad ? bad : "ok") ";" n ";" seq }' "$tmp/p.csv")
want_seq=$(tail -c +4 "$tmp/text" | head -c 20 | od -An -tu1 | tr -s ' \n' ' ' | sed 's/ $//')
if [ "$st" -eq 0 ] && [ "$(head -n 1 "$tmp/p.csv")" = "position,rank,token,text,prob,sampled" ] &&
   [ "${chk%%;*}" = ok ] && [ "$(echo "$chk" | cut -d';' -f2)" -eq 60 ] && [ "$(echo "$chk" | cut -d';' -f3)" = "$want_seq" ]; then
  ok "--probs 3 -t 0: 20 positions x 3 rows on stdout, descending, rank 1 = the sampled token = the greedy text's bytes"
else fail "--probs 3: exit $st, $(echo "$chk" | cut -c 1-120); want tokens$want_seq"; fi
"$run" "$block" -p "The" -n 20 -s 5 -q --probs 256 --probs-file "$tmp/all.jsonl" > "$tmp/b" 2>&1; st=$?
"$run" "$block" -p "The" -n 20 -s 5 -q > "$tmp/a" 2>&1
m=$(sed -n 's/.*"position":\([0-9]*\),.*"prob":\([-0-9.e]*\),.*/\1 \2/p' "$tmp/all.jsonl" |
    awk '{ s[$1] += $2; n++ } END { for (k in s) { d = s[k] - 1; if (d < 0) d = -d; if (d > m) m = d; c++ } printf "%d %d %g", n, c, m }')
set -- $m
if [ "$st" -eq 0 ] && cmp -s "$tmp/a" "$tmp/b" && [ "$1" -eq $((20 * 256)) ] && [ "$2" -eq 20 ] &&
   awk -v m="$3" 'BEGIN { exit !(m <= 1e-5) }'; then
  ok "--probs 256 --probs-file FILE.jsonl: the text stays on stdout unchanged; all 256 probabilities sum to 1 at each of 20 positions (max |sum - 1| = $3)"
else fail "--probs 256 --probs-file: exit $st, $m, text same: $(cmp -s "$tmp/a" "$tmp/b" && echo yes || echo no)"; fi
# values against a computation by hand: the cycle model's logits are sqrt(d)/sqrt(1 + d eps) for the
# next token and 0 for the other 299 (d = 6, eps = 1e-5, a layer of zeros, norm gain 1)
"$run" "$cyc" -p a -n 3 -t 0 --probs 2 --probs-file "$tmp/cyc.csv" -q > /dev/null 2>&1; st=$?
want=$(awk 'BEGIN { z = sqrt(6) / sqrt(1 + 6e-5); printf "%.9f %.9f", exp(z) / (exp(z) + 299), 1 / (exp(z) + 299) }')
got=$(awk -F, 'NR == 2 { printf "%s %s %s", $3, $5, $6 } NR == 3 { printf " %s %s %s", $3, $4, $5 }' "$tmp/cyc.csv")
set -- $got
if [ "$st" -eq 0 ] && [ "$1" = 195 ] && [ "$3" = 195 ] && [ "$4" = 0 ] && [ "$5" = '"\x00"' ] &&
   awk -v a="$2" -v b="$6" -v w="$want" 'BEGIN { split(w, x, " "); d1 = a - x[1]; d2 = b - x[2]
     exit !(d1 < 1e-7 && d1 > -1e-7 && d2 < 1e-7 && d2 > -1e-7) }'; then
  ok "--probs on the cycle model: p(next) = $2, p(token 0) = $6, as computed by hand ($want)"
else fail "--probs on the cycle model: exit $st, got '$got', want token 195 with p, token 0 with q = $want"; fi
expect_status 2 "--probs" "--probs 0" -- "$block" --probs 0
expect_status 2 "--probs" "--probs 257 (more than the vocabulary)" -- "$block" --probs 257
expect_status 2 "--probs-file" "--probs-file without --probs" -- "$block" --probs-file "$tmp/x.csv"

# ---- the heatmap says what it shows: tEXt chunks (the title drawn in the picture) ---
"$run" "$block" -p 'The little robot' -n 5 -q --heatmap "$tmp/t.png" > /dev/null 2>&1; st=$?
tr -c '[:print:]' '\n' < "$tmp/t.png" > "$tmp/texts"
missing=""
for want in "tEXtTitle" "Block AttnRes (S=2): depth attention" "tEXtDescription" \
            "model block.safetensors, prompt \"The little robot\" + 5 new tokens; mean alpha over 20 positions" \
            "tEXtSoftware" "attnres-run $version"; do
  grep -qF -- "$want" "$tmp/texts" || missing="$missing '$want'"
done
if [ "$st" -eq 0 ] && [ -z "$missing" ]; then ok "--heatmap: the PNG names the model and the prompt (tEXt Title, Description, Software)"
else fail "--heatmap tEXt: exit $st, missing:$missing"; fi

# ---- --probs with --tokenizer: the token's text, escaped for the format -------------
# spm_tokenizer FILE PIECE...: a llama2.c tokenizer.bin of 300 tokens laid out like
# llama2.c's: <unk>, <s>, </s>, the byte pieces <0x00>..<0xFF> (ids 3..258), then the
# PIECEs (printf %b strings) from id 259, then unused pieces; every score 0
# (le32 and spm_tokenizer use variables of their own: sh has no locals)
le32() { v=$1; k=0; while [ $k -lt 4 ]; do printf "\\$(printf %o $((v % 256)))"; v=$((v / 256)); k=$((k + 1)); done; }
spm_piece() { printf '\000\000\000\000'; le32 "$(printf '%b' "$1" | wc -c)"; printf '%b' "$1"; }
spm_tokenizer() {
  f=$1; shift
  {
    le32 1024
    spm_piece '<unk>'; spm_piece '\n<s>\n'; spm_piece '\n</s>\n'
    b=0; while [ $b -lt 256 ]; do spm_piece "$(printf '<0x%02X>' $b)"; b=$((b + 1)); done
    id=259; for p in "$@"; do spm_piece "$p"; id=$((id + 1)); done
    while [ $id -lt 300 ]; do spm_piece "<unused$id>"; id=$((id + 1)); done
  } > "$f"
}
# The prompt "a" encodes to BOS and " a" (id 261); the cycle model then continues with
# id 65 (the piece <0x3E>, the byte '>': not 'A', a tokenizer's id below 256 is no byte),
# then pieces with a quote and a comma, a newline, ESC, invalid UTF-8, a backslash,
# valid UTF-8 (e acute), EOS (</s>: no text on stdout), "a", 600 x's (longer than any
# buffer a token's text starts in), " " and " a" again.
long_x=$(printf '%600s' '' | tr ' ' x)
spm_tokenizer "$tmp/tricky.bin" ' ' 'a' ' a' 'say "hi", ok' 'line1\nline2' '\033[2J' '\0377\0303' 'back\\slash' \
  '\0303\0251' "$long_x"
cycle_model "$tmp/tricky.safetensors" 261 65 262 263 264 265 266 267 2 260 268 259
"$run" "$tmp/tricky.safetensors" --tokenizer "$tmp/tricky.bin" -p a -n 12 -t 0 -q --probs 1 --ignore-eos \
  --probs-file "$tmp/tricky.csv" > "$tmp/got" 2> "$tmp/err"; s1=$?
"$run" "$tmp/tricky.safetensors" --tokenizer "$tmp/tricky.bin" -p a -n 12 -t 0 -q --probs 1 --ignore-eos \
  --probs-file "$tmp/tricky.jsonl" > /dev/null 2>> "$tmp/err"; s2=$?
sed 's/,[-0-9.e]*,\([0-9]*\)$/,P,\1/' "$tmp/tricky.csv" > "$tmp/got.csv"
sed 's/"prob":[-0-9.e]*,/"prob":P,/' "$tmp/tricky.jsonl" > "$tmp/got.jsonl"
cat > "$tmp/want.csv" <<'END'
position,rank,token,text,prob,sampled
2,1,65,">",P,65
3,1,262,"say ""hi"", ok",P,262
4,1,263,"line1\x0aline2",P,263
5,1,264,"\x1b[2J",P,264
6,1,265,"\xff\xc3",P,265
7,1,266,"back\\slash",P,266
8,1,267,"\xc3\xa9",P,267
9,1,2,"\x0a</s>\x0a",P,2
10,1,260,"a",P,260
END
printf '11,1,268,"%s",P,268\n12,1,259," ",P,259\n13,1,261," a",P,261\n' "$long_x" >> "$tmp/want.csv"
cat > "$tmp/want.jsonl" <<'END'
{"position":2,"rank":1,"token":65,"text":">","prob":P,"sampled":65}
{"position":3,"rank":1,"token":262,"text":"say \"hi\", ok","prob":P,"sampled":262}
{"position":4,"rank":1,"token":263,"text":"line1\\x0aline2","prob":P,"sampled":263}
{"position":5,"rank":1,"token":264,"text":"\\x1b[2J","prob":P,"sampled":264}
{"position":6,"rank":1,"token":265,"text":"\\xff\\xc3","prob":P,"sampled":265}
{"position":7,"rank":1,"token":266,"text":"back\\\\slash","prob":P,"sampled":266}
{"position":8,"rank":1,"token":267,"text":"\\xc3\\xa9","prob":P,"sampled":267}
{"position":9,"rank":1,"token":2,"text":"\\x0a</s>\\x0a","prob":P,"sampled":2}
{"position":10,"rank":1,"token":260,"text":"a","prob":P,"sampled":260}
END
printf '{"position":11,"rank":1,"token":268,"text":"%s","prob":P,"sampled":268}\n' "$long_x" >> "$tmp/want.jsonl"
printf '{"position":12,"rank":1,"token":259,"text":" ","prob":P,"sampled":259}\n' >> "$tmp/want.jsonl"
printf '{"position":13,"rank":1,"token":261,"text":" a","prob":P,"sampled":261}\n' >> "$tmp/want.jsonl"
if [ "$s1$s2" = "00" ] && cmp -s "$tmp/got.csv" "$tmp/want.csv"; then
  ok "--probs --tokenizer, CSV: each token's text (id 65 is the piece <0x3E>, not 'A'), quotes doubled, newline, ESC, invalid UTF-8 as \\xNN, a 600-byte piece whole"
else fail "--probs --tokenizer, CSV: exit $s1, $(head -n 1 "$tmp/err"); got $(diff "$tmp/want.csv" "$tmp/got.csv" | grep '^>' | head -n 2 | tr '\n' ' ')"; fi
if [ "$s1$s2" = "00" ] && cmp -s "$tmp/got.jsonl" "$tmp/want.jsonl"; then
  ok "--probs --tokenizer, JSON lines: the same texts, quote and backslash escaped"
else fail "--probs --tokenizer, JSON lines: exit $s2; got $(diff "$tmp/want.jsonl" "$tmp/got.jsonl" | grep '^>' | head -n 2 | tr '\n' ' ')"; fi
# the text on stdout: the same tokens through the terminal rule (ESC and broken UTF-8 as \xNN, EOS silent)
printf 'a>say "hi", okline1\nline2\\x1b[2J\\xff\\xc3back\\slash\303\251a%s  a\n' "$long_x" > "$tmp/want"
if [ "$s1" -eq 0 ] && cmp -s "$tmp/got" "$tmp/want"; then ok "--tokenizer: stdout prints the same tokens' text, ESC and invalid UTF-8 escaped, EOS as nothing"
else fail "--tokenizer stdout: exit $s1, $(od -An -c "$tmp/got" | head -n 3 | tr -s ' \n' ' ')"; fi

# ---- generation stops at EOS, and special tokens print only when asked -----------
# the tokenizer's EOS: the same model without --ignore-eos stops at id 2 (</s>)
"$run" "$tmp/tricky.safetensors" --tokenizer "$tmp/tricky.bin" -p a -n 12 -t 0 > "$tmp/got" 2> "$tmp/err"; s1=$?
"$run" "$tmp/tricky.safetensors" --tokenizer "$tmp/tricky.bin" -p a -n 12 -t 0 --special -q > "$tmp/got2" 2> "$tmp/err2"; s2=$?
printf 'a>say "hi", okline1\nline2\\x1b[2J\\xff\\xc3back\\slash\303\251\n' > "$tmp/want"
printf 'a>say "hi", okline1\nline2\\x1b[2J\\xff\\xc3back\\slash\303\251\n</s>\n\n' > "$tmp/want2"
if [ "$s1" -eq 0 ] && cmp -s "$tmp/got" "$tmp/want" &&
   grep -qF "stopped at end-of-sequence token 2 (the tokenizer's EOS) after 8 of 12 new tokens" "$tmp/err" &&
   grep -q "^generated 8 tokens" "$tmp/err"; then
  ok "--tokenizer tokenizer.bin: stops at its EOS (id 2), prints it as nothing, says so: $(head -n 1 "$tmp/err")"
else fail "stop at the tokenizer's EOS: exit $s1, stdout $(od -An -c "$tmp/got" | tr -s ' \n' ' ' | tail -c 80), stderr $(head -n 2 "$tmp/err" | tr '\n' ' ')"; fi
if [ "$s2" -eq 0 ] && cmp -s "$tmp/got2" "$tmp/want2" && [ ! -s "$tmp/err2" ]; then
  ok "--special prints the EOS as its text (newline, </s>, newline); -q keeps stderr empty"
else fail "--special: exit $s2, stdout $(od -An -c "$tmp/got2" | tr -s ' \n' ' ' | tail -c 80), stderr $(head -n 1 "$tmp/err2")"; fi
# the checkpoint's eos_token_id (an imported config.json names it), byte-level: a b c 299 a b c ...
CYCLE_META="eos_token_id=7,299" cycle_model "$tmp/eos.safetensors" 97 98 99 299
"$run" "$tmp/eos.safetensors" -p a -n 10 -t 0 > "$tmp/got" 2> "$tmp/err"; s1=$?
"$run" "$tmp/eos.safetensors" -p a -n 6 -t 0 --ignore-eos > "$tmp/got2" 2> "$tmp/err2"; s2=$?
"$run" "$tmp/eos.safetensors" -p a -n 6 -t 0 --ignore-eos --special -q > "$tmp/got3" 2> "$tmp/err3"; s3=$?
if [ "$s1" -eq 0 ] && [ "$(cat "$tmp/got")" = abc ] &&
   grep -qF "stopped at end-of-sequence token 299 (the checkpoint's eos_token_id) after 3 of 10 new tokens" "$tmp/err"; then
  ok "eos_token_id \"7,299\" in the checkpoint: stops at 299 (byte-level, no tokenizer): $(head -n 1 "$tmp/err")"
else fail "stop at the checkpoint's EOS: exit $s1, stdout '$(cat "$tmp/got")', stderr $(head -n 2 "$tmp/err" | tr '\n' ' ')"; fi
if [ "$s2$s3" = "00" ] && [ "$(cat "$tmp/got2")" = abcabc ] && [ "$(cat "$tmp/got3")" = 'abc<299>abc' ] &&
   ! grep -q stopped "$tmp/err2" && grep -q "^generated 6 tokens" "$tmp/err2"; then
  ok "--ignore-eos generates all 6 (EOS printed as nothing; with --special as <299>)"
else fail "--ignore-eos: exit $s2/$s3, stdout '$(cat "$tmp/got2")' / '$(cat "$tmp/got3")', stderr $(head -n 2 "$tmp/err2" | tr '\n' ' ')"; fi
expect_status 2 "takes no value" "--ignore-eos=1" -- "$block" --ignore-eos=1
# tokenizer.json's added tokens: "special": true prints as nothing (without being EOS),
# "special": false is text. e2e_llama32's tokenizer with two more: 295 <|im_end|>, 296 <|plain|>
sed 's/"added_tokens": \[{"id": 292, "content": "<|endoftext|>", "special": true}\]/"added_tokens": [{"id": 292, "content": "<|endoftext|>", "special": true}, {"id": 295, "content": "<|im_end|>", "special": true}, {"id": 296, "content": "<|plain|>", "special": false}]/' \
  "$golden/import/e2e_llama32/tokenizer.json" > "$tmp/added.json"
cycle_model "$tmp/added.safetensors" 97 295 296 98
"$run" "$tmp/added.safetensors" --tokenizer "$tmp/added.json" -p a -n 4 -t 0 -q > "$tmp/got" 2> "$tmp/err"; s1=$?
"$run" "$tmp/added.safetensors" --tokenizer "$tmp/added.json" -p a -n 4 -t 0 -q --special > "$tmp/got2" 2>> "$tmp/err"; s2=$?
if [ "$s1$s2" = "00" ] && [ "$(cat "$tmp/got")" = 'a<|plain|>ba' ] && [ "$(cat "$tmp/got2")" = 'a<|im_end|><|plain|>ba' ]; then
  ok "a special added token (<|im_end|>) prints as nothing, and as its text with --special; a non-special one is text"
else fail "added tokens: exit $s1/$s2, printed '$(cat "$tmp/got")' / '$(cat "$tmp/got2")' $(head -n 1 "$tmp/err")"; fi
# an imported Llama 3.2-layout model (llama3 RoPE scaling) whose greedy continuation,
# by the PyTorch reference, ends in EOS: the text is the reference's, then it stops
l32="$golden/import/e2e_llama32"
"$run" "$l32.model.safetensors" --tokenizer "$l32/tokenizer.json" -p "the little robot" -n 30 -t 0 \
  > "$tmp/got" 2> "$tmp/err"; s1=$?
"$run" "$l32.model.safetensors" --tokenizer "$l32/tokenizer.json" -p "the little robot" -n 30 -t 0 --special -q \
  > "$tmp/got2" 2> /dev/null; s2=$?
{ tr -d '\n' < "$l32.cli.txt"; printf '<|endoftext|>\n'; } > "$tmp/want2"
if [ "$s1" -eq 0 ] && cmp -s "$tmp/got" "$l32.cli.txt" && grep -q "stopped at end-of-sequence token" "$tmp/err"; then
  ok "imported e2e_llama32: prints the reference's greedy text, then stops at EOS: $(head -n 1 "$tmp/err")"
else fail "e2e_llama32: exit $s1, printed '$(cat "$tmp/got")', want '$(cat "$l32.cli.txt")', $(head -n 2 "$tmp/err" | tr '\n' ' ')"; fi
if [ "$s2" -eq 0 ] && cmp -s "$tmp/got2" "$tmp/want2"; then ok "e2e_llama32 --special: the same text, then <|endoftext|>"
else fail "e2e_llama32 --special: exit $s2, printed '$(cat "$tmp/got2")'"; fi

# real tokenizers: with -t 0 the rank-1 texts, put together, are the greedy text the
# reference printed (golden/import/*.cli.txt, the prompt "the little robot" first)
for c in e2e_llama2c e2e_qwen3; do
  tk="$golden/import/$c/tokenizer.json"; [ -f "$tk" ] || tk="$golden/import/$c.tokenizer.bin"
  "$run" "$golden/import/$c.model.safetensors" --tokenizer "$tk" -p "the little robot" -n 8 -t 0 -q \
    --probs 1 > "$tmp/$c.csv" 2> "$tmp/err"; st=$?
  got=$(sed -n 's/^[0-9]*,1,[0-9]*,"\(.*\)",[-0-9.e]*,[0-9]*$/\1/p' "$tmp/$c.csv" | sed 's/""/"/g' | tr -d '\n')
  want=$(tail -c +17 "$golden/import/$c.cli.txt")
  if [ "$st" -eq 0 ] && [ -n "$want" ] && [ "$got" = "$want" ] && [ "$(wc -l < "$tmp/$c.csv")" -eq 9 ]; then
    ok "--probs 1 --tokenizer $(basename "$tk"): the rank-1 texts spell the reference's greedy text '$want'"
  else fail "--probs 1 --tokenizer $(basename "$tk"): exit $st, rank-1 texts '$got', want '$want' $(head -n 1 "$tmp/err")"; fi
done

# ---- an output that is an input, or another output: refused before anything is written ----
# Files are compared, not names: the same file by another spelling, a hard link, a
# symbolic link, stdin (-f -) and stdout (/dev/stdout, >>) count; so do two new
# outputs that would be the same file. Exit 2, and the directory is as it was.
# make_io: a fresh io/ (model, links, prompt, tokenizer), its state in io.before, so that
# each case starts from the same files whatever the one before it did
io="$tmp/io"; m="$io/m.safetensors"
make_io() {
  rm -rf "$io"; mkdir -p "$io/sub"; printf 'x' > "$io/sub/keep"
  cp "$block" "$m"; ln "$m" "$io/hard"; ln -s m.safetensors "$io/soft"
  printf 'The' > "$io/prompt.txt"
  cp "$golden/import/e2e_llama2c.tokenizer.bin" "$io/tok.bin"
  cp "$golden/import/e2e_llama2c.model.safetensors" "$io/imported.safetensors"
  io_state > "$tmp/io.before"
}
# io_state: every name, size and time (nanoseconds: a temporary file made and removed
# changes the directory's) and every file's checksum under io/
io_state() { (cd "$io" && ls -ld --full-time . sub ./* ./sub/* && cksum ./* ./sub/*); }
# refuse_io WHAT NEEDLE -- ARGS...: attnres-run ARGS (stdout to $tmp/out) exits 2 naming NEEDLE, io/ untouched
refuse_io() {
  what=$1 needle=$2; shift 3
  make_io
  "$run" "$@" > "$tmp/out" 2> "$tmp/err"; st=$?
  check_refused "$what" "$needle"
}
check_refused() {
  io_state > "$tmp/io.after"
  if [ "$st" -eq 2 ] && grep -qF -- "$1" "$tmp/err" && grep -qF -- "$2" "$tmp/err" && cmp -s "$tmp/io.before" "$tmp/io.after"; then
    ok "refused $1: exit 2, nothing written: $(head -n 1 "$tmp/err")"
  else fail "$1: exit $st (want 2), stderr '$(head -n 1 "$tmp/err")', files changed: $(diff "$tmp/io.before" "$tmp/io.after" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"; fi
}
refuse_io "--alpha" "is the same file as the model" -- "$m" -n 2 -q --alpha "$m"
refuse_io "--heatmap" "is the same file as the model" -- "$m" -n 2 -q --heatmap "$io/sub/../m.safetensors"
refuse_io "--probs-file" "is the same file as the model" -- "$m" -n 2 -q --probs 2 --probs-file "$io/hard"
refuse_io "--alpha" "is the same file as the model" -- "$m" -n 2 -q --alpha "$io/soft"
refuse_io "--alpha" "is the same file as -f" -- "$m" -n 2 -q -f "$io/prompt.txt" --alpha "$io/./prompt.txt"
make_io; "$run" "$m" -n 2 -q -f - --heatmap "$io/prompt.txt" < "$io/prompt.txt" > "$tmp/out" 2> "$tmp/err"; st=$?
check_refused "--heatmap" "is the same file as stdin (-f -)"
refuse_io "--probs-file" "is the same file as --tokenizer" -- "$io/imported.safetensors" --tokenizer "$io/tok.bin" \
  -p "the little robot" -n 2 -q --probs 2 --probs-file "$io/sub/../tok.bin"
refuse_io "--probs-file" "is the same file as --alpha" -- "$m" -n 2 -q --alpha "$io/new.csv" --probs 2 --probs-file "$io/sub/../new.csv"
refuse_io "--heatmap" "is the same file as --alpha" -- "$m" -n 2 -q --alpha "$io/new.png" --heatmap "$io/new.png"
make_io; "$run" "$m" -n 2 -q >> "$m" 2> "$tmp/err"; st=$?
check_refused "stdout (the text)" "is the same file as the model"
make_io; "$run" "$m" -n 2 -q --alpha /dev/stdout > "$tmp/out.txt" 2> "$tmp/err"; st=$?
[ -s "$tmp/out.txt" ] || [ "$(ls -a "$tmp" | grep -c out.txt)" -ne 1 ] && st=99   # written, or a temporary left
check_refused "--alpha '/dev/stdout'" "is the same file as stdout (the text)"
make_io; "$run" "$m" -n 2 -q --probs 2 --heatmap /dev/stdout 2> "$tmp/err" | cat > "$tmp/out"
grep -qF -- "is the same file as stdout (the --probs rows)" "$tmp/err" && [ ! -s "$tmp/out" ] &&
  ok "refused --heatmap /dev/stdout into a pipe that carries the --probs rows: $(head -n 1 "$tmp/err")" ||
  fail "--heatmap /dev/stdout into a pipe: stderr '$(head -n 1 "$tmp/err")', $(wc -c < "$tmp/out") bytes on stdout"
# and no false alarm: distinct outputs, and /dev/null (a device, nothing to overwrite) twice
make_io; "$run" "$m" -n 2 -q --alpha "$io/a.csv" --probs 2 --probs-file "$io/sub/b.csv" --heatmap "$io/c.png" > /dev/null 2> "$tmp/err"; s1=$?
"$run" "$m" -n 2 -q --alpha /dev/null --probs 2 --probs-file /dev/null > /dev/null 2>> "$tmp/err"; s2=$?
if [ "$s1$s2" = "00" ] && [ -s "$io/a.csv" ] && [ -s "$io/sub/b.csv" ] && [ -s "$io/c.png" ] && cmp -s "$m" "$block"; then
  ok "three distinct outputs next to the inputs are written; --alpha and --probs-file both /dev/null (stdout too) run"
else fail "distinct outputs: exit $s1/$s2: $(head -n 1 "$tmp/err")"; fi

# ---- --quantize q8: int8 weights made at load --------------------------------------
"$run" "$block" -p "The little robot" -n 60 -t 0 -q > "$tmp/fp32" 2>&1; s1=$?
"$run" "$block" --quantize q8 -p "The little robot" -n 60 -t 0 -q > "$tmp/q8a" 2>&1; s2=$?
"$run" "$block" --quantize=q8 -p "The little robot" -n 60 -t 0 -q --path two-phase > "$tmp/q8b" 2>&1; s3=$?
same=$(cmp -s "$tmp/fp32" "$tmp/q8a" && echo same || echo differs)
if [ "$s1$s2$s3" = "000" ] && [ -s "$tmp/q8a" ] && cmp -s "$tmp/q8a" "$tmp/q8b"; then
  ok "--quantize q8: greedy text on both paths, identical to each other ($same from fp32: $(head -c 60 "$tmp/q8a" | tr '\n' ' '))"
else fail "--quantize q8: exit $s1/$s2/$s3; $(head -c 80 "$tmp/q8a")"; fi
expect_status 2 "not one of" "--quantize q4" -- "$block" --quantize q4
"$run" "$golden/q8_block_s2.model.safetensors" -p "ab" -n 5 -t 0 -q > "$tmp/q8file" 2>&1; st=$?
"$run" "$golden/q8_block_s2.model.safetensors" --quantize q8 -p "ab" -n 5 -t 0 -q > "$tmp/q8file2" 2>&1; st2=$?
if [ "$st$st2" = "00" ] && cmp -s "$tmp/q8file" "$tmp/q8file2"; then ok "a q8 checkpoint runs as it is, with or without --quantize q8"
else fail "q8 checkpoint: exit $st/$st2: $(head -c 80 "$tmp/q8file")"; fi

# ---- --quantize w8a8: int8 activations too ------------------------------------------
"$run" "$block" --quantize w8a8 -p "The little robot" -n 60 -t 0 -q > "$tmp/w8a8a" 2>&1; s1=$?
"$run" "$block" --quantize=w8a8 -p "The little robot" -n 60 -t 0 -q --path two-phase > "$tmp/w8a8b" 2>&1; s2=$?
same=$(cmp -s "$tmp/fp32" "$tmp/w8a8a" && echo same || echo differs)
if [ "$s1$s2" = "00" ] && [ -s "$tmp/w8a8a" ] && cmp -s "$tmp/w8a8a" "$tmp/w8a8b"; then
  ok "--quantize w8a8: greedy text on both paths, identical to each other ($same from fp32: $(head -c 60 "$tmp/w8a8a" | tr '\n' ' '))"
else fail "--quantize w8a8: exit $s1/$s2; $(head -c 80 "$tmp/w8a8a")"; fi
# the probabilities show which arithmetic ran: a W8A8 checkpoint as stored = a q8 one with
# --quantize w8a8 (bit for bit), and differs from the q8 one as stored (W8); --quantize q8
# turns a W8A8 file back to W8
w8a8file="$golden/w8a8_block_s2.model.safetensors"; q8file="$golden/q8_block_s2.model.safetensors"
"$run" "$w8a8file" -p "ab" -n 5 -t 0 -q --probs 4 --probs-file "$tmp/p_w8a8file" > /dev/null 2>&1; st1=$?
"$run" "$q8file" --quantize w8a8 -p "ab" -n 5 -t 0 -q --probs 4 --probs-file "$tmp/p_q8flag" > /dev/null 2>&1; st2=$?
"$run" "$q8file" -p "ab" -n 5 -t 0 -q --probs 4 --probs-file "$tmp/p_q8file" > /dev/null 2>&1; st3=$?
"$run" "$w8a8file" --quantize q8 -p "ab" -n 5 -t 0 -q --probs 4 --probs-file "$tmp/p_w8flag" > /dev/null 2>&1; st4=$?
if [ "$st1$st2$st3$st4" = "0000" ] && [ -s "$tmp/p_w8a8file" ] && cmp -s "$tmp/p_w8a8file" "$tmp/p_q8flag" &&
   ! cmp -s "$tmp/p_w8a8file" "$tmp/p_q8file" && cmp -s "$tmp/p_w8flag" "$tmp/p_q8file"; then
  ok "a W8A8 checkpoint runs W8A8 as stored (= q8 file + --quantize w8a8, != q8 file as stored); --quantize q8 makes it W8"
else fail "W8A8 checkpoint: exit $st1/$st2/$st3/$st4"; fi
expect_status 2 "q8, w8a8" "--quantize a8" -- "$block" --quantize a8
# the statistics line names the arithmetic that ran
st_fp=$("$run" "$block" -p "ab" -n 2 -t 0 2>&1 >/dev/null | tail -n 1)
st_w8=$("$run" "$w8a8file" --quantize q8 -p "ab" -n 2 -t 0 2>&1 >/dev/null | tail -n 1)
st_a8=$("$run" "$w8a8file" -p "ab" -n 2 -t 0 2>&1 >/dev/null | tail -n 1)
case "$st_fp|$st_w8|$st_a8" in
  *"; fp32; "*"|"*"int8 weights (q8), groups of 32"*"|"*"int8 weights and activations (w8a8), groups of 32"*)
    ok "the statistics line says fp32, q8 or w8a8 as it ran" ;;
  *) fail "statistics line: '$st_fp' / '$st_w8' / '$st_a8'" ;;
esac


echo "# summary test_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
