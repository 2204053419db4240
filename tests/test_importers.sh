#!/bin/sh
# tests/test_importers.sh [BUILD_DIR] - tools/import_model.py on every real
# layout of golden/import/ (HF LLaMA F32, HF LLaMA BF16 sharded, HF Qwen3 F16,
# llama2.c .bin v0 and v1, HF Llama 3.2 layout with llama3 RoPE scaling and
# generation_config.json, HF LLaMA with linear scaling, and the three
# end-to-end directories): the output must be byte-identical to the
# committed golden/import/CASE.model.safetensors, whose logits test_import
# compares with each architecture's PyTorch reference. Then what must be
# refused, with a message and exit 1 (never a traceback): a truncated .bin, a
# llama2.c version 2 (int8) file, a config with rope_scaling yarn, an unknown
# architecture, an F64 tensor, a shard the index names but that is missing,
# and --to-attnres of a model that is already AttnRes. Hostile inputs:
# tests/hostile_imports.py runs over 200 malformed files and options through
# import_model.py and quantize.py (one stderr line naming the field, no
# traceback, no output or temporary file, bounded memory and time), and
# attnres-run must refuse the same broken checkpoints; as real processes, a
# 28-byte header claiming millions of layers (under ulimit -v) and writes that
# fail half-way (ulimit -f). Accepted at the engine's limits (seq_len 2^20,
# 1024 layers, rope_theta FLT_MAX, the smallest eps, block sizes 1 and L,
# group size 1): each import is loaded by attnres-run, so the importer's
# copy of attnres.h's limits cannot drift from the engine's.
# End to end (no Python): attnres-run on the two e2e models with their
# tokenizers (a Qwen3 directory's tokenizer.json, a llama2.c tokenizer.bin)
# must print exactly golden/import/CASE.cli.txt: the prompt, then the PyTorch
# reference's greedy continuation as text (skipped if attnres-run could not
# be built). The importer cases need /usr/bin/python3 (PYTHON) with numpy;
# without them they print "skip" and count as skipped. Run from the
# repository root.
# Prints ok/FAIL/skip lines and "# summary test_importers: P passed, F failed, S skipped".
build=${1:-$(dirname "$0")}
python=${PYTHON:-/usr/bin/python3}
golden=${GOLDEN:-golden}/import
tmp=$(mktemp -d "${TMPDIR:-/tmp}/attnres-import.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0; skipped=0
. tests/lib.sh   # ok, fail, skip: print the line and count it (passed, failed, skipped)
CASES="hf_llama hf_llama_bf16_sharded hf_qwen3 llama2c_v0 llama2c_v1 hf_llama32 hf_llama_linear e2e_qwen3 e2e_llama2c e2e_llama32"
N_REFUSALS=7

# ---- the command line, end to end: imported model + its tokenizer -> text
for c in e2e_qwen3 e2e_llama2c; do
  tk="$golden/$c/tokenizer.json"; [ -f "$tk" ] || tk="$golden/$c.tokenizer.bin"
  if [ ! -x "$build/attnres-run" ]; then
    skip "attnres-run $c --tokenizer: attnres-run was not built ($(cat "$build/attnres-run.skip" 2>/dev/null))"
  elif "$build/attnres-run" "$golden/$c.model.safetensors" --tokenizer "$tk" -p "the little robot" -n 8 -t 0 -q \
         > "$tmp/$c.out" 2> "$tmp/$c.err" && cmp -s "$tmp/$c.out" "$golden/$c.cli.txt"; then
    ok "attnres-run $c --tokenizer $(basename "$tk"): prints the reference's greedy text: $(cat "$tmp/$c.out")"
  else
    fail "attnres-run $c --tokenizer: printed '$(cat "$tmp/$c.out")', want '$(cat "$golden/$c.cli.txt")' $(cat "$tmp/$c.err")"
  fi
done

if ! "$python" -c 'import numpy' 2>/dev/null; then
  why="$python with numpy is not available (apt-get install python3-numpy)"
  for c in $CASES; do skip "import $c: $why"; done
  i=0; while [ $i -lt $N_REFUSALS ]; do skip "importer refusal $i: $why"; i=$((i + 1)); done
  skip "train.py --from-converted: $why"
  echo "# summary test_importers: $passed passed, $failed failed, $skipped skipped"
  exit 0
fi

for c in $CASES; do
  src="$golden/$c"; [ -d "$src" ] || src="$golden/$c.bin"
  if "$python" tools/import_model.py "$src" --out "$tmp/$c.safetensors" > "$tmp/log" 2>&1 &&
     cmp -s "$tmp/$c.safetensors" "$golden/$c.model.safetensors"; then
    ok "import $c: byte-identical to $golden/$c.model.safetensors"
  else
    fail "import $c: $(tail -n 2 "$tmp/log" | tr '\n' ' ') (or differs from $golden/$c.model.safetensors)"
  fi
done

# refuse DESCRIPTION NEEDLE -- ARGS: import_model.py ARGS must exit 1 with NEEDLE on stderr
refuse() {
  what=$1 needle=$2; shift 3
  "$python" tools/import_model.py "$@" > "$tmp/out" 2> "$tmp/err"
  got=$?
  if [ "$got" -eq 1 ] && grep -qF -- "$needle" "$tmp/err" && ! grep -q Traceback "$tmp/err"; then
    ok "refused $what: $(head -n 1 "$tmp/err")"
  else
    fail "$what: exit $got (want 1), stderr should name '$needle': $(head -n 3 "$tmp/err" | tr '\n' ' ')"
  fi
}
head -c 5000 "$golden/llama2c_v1.bin" > "$tmp/short.bin"
refuse "truncated llama2.c file" "bytes, but a llama2.c v1 model" -- "$tmp/short.bin" --out "$tmp/x"
"$python" -c "import struct,sys; b=open(sys.argv[1],'rb').read(); open(sys.argv[2],'wb').write(b[:4]+struct.pack('<i',2)+b[8:])" \
  "$golden/llama2c_v1.bin" "$tmp/v2.bin"
refuse "llama2.c version 2" "version 2 is not supported" -- "$tmp/v2.bin" --out "$tmp/x"
mkdir -p "$tmp/scaled" "$tmp/arch" "$tmp/f64" "$tmp/lost"
cp "$golden/hf_llama/model.safetensors" "$tmp/scaled/"
sed 's/"rope_scaling": null/"rope_scaling": {"factor": 4.0, "rope_type": "yarn"}/' \
  "$golden/hf_llama/config.json" > "$tmp/scaled/config.json"
refuse "rope_scaling yarn" 'rope type "yarn" is not supported' -- "$tmp/scaled" --out "$tmp/x"
cp "$golden/hf_llama/model.safetensors" "$tmp/arch/"
sed 's/LlamaForCausalLM/MistralForCausalLM/' "$golden/hf_llama/config.json" > "$tmp/arch/config.json"
refuse "another architecture" "MistralForCausalLM is not supported" -- "$tmp/arch" --out "$tmp/x"
cp "$golden/hf_llama/config.json" "$tmp/f64/"
"$python" -c "import sys; b=open(sys.argv[1],'rb').read(); open(sys.argv[2],'wb').write(b.replace(b'\"F32\"', b'\"F64\"', 1))" \
  "$golden/hf_llama/model.safetensors" "$tmp/f64/model.safetensors"
refuse "an F64 tensor" "only F32, F16 and BF16" -- "$tmp/f64" --out "$tmp/x"
cp "$golden/hf_llama_bf16_sharded/config.json" "$golden/hf_llama_bf16_sharded/model.safetensors.index.json" \
   "$golden/hf_llama_bf16_sharded/model-00001-of-00003.safetensors" "$tmp/lost/"
refuse "a missing shard" "model-00002-of-00003.safetensors" -- "$tmp/lost" --out "$tmp/x"
"$python" tools/import_model.py --to-attnres "$golden/hf_llama.model.safetensors" --out "$tmp/bridge.safetensors" > /dev/null
refuse "--to-attnres of an AttnRes model" "not a standard-residual" -- --to-attnres "$tmp/bridge.safetensors" --out "$tmp/x"
# ---- hostile inputs: tests/hostile_imports.py makes over 200 malformed files and
# options and runs each through the tool's main() (one line naming the field,
# no exception, no output or temporary file, bounded memory and time)
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$python" tests/hostile_imports.py "$golden" "$tmp/hostile" > "$tmp/hostile.log" 2>&1
cat "$tmp/hostile.log"
passed=$((passed + $(grep -c '^ok ' "$tmp/hostile.log")))
failed=$((failed + $(grep -c '^FAIL ' "$tmp/hostile.log")))
skipped=$((skipped + $(grep -c '^skip ' "$tmp/hostile.log")))
if ! grep -q '^ok ' "$tmp/hostile.log" || grep -qv '^\(ok\|FAIL\|skip\) ' "$tmp/hostile.log"; then
  fail "tests/hostile_imports.py did not run to the end: $(tail -n 2 "$tmp/hostile.log" | tr '\n' ' ')"
fi
# the C engine refuses the same broken checkpoints (metadata out of its
# range, missing tensors): the two checkers agree on the refusing side too
if [ -x "$build/attnres-run" ]; then
  for f in "$tmp"/hostile/bridge_*/m.safetensors; do
    "$build/attnres-run" "$f" -p A -n 1 -q > /dev/null 2> "$tmp/err"; got=$?
    c=$(basename "$(dirname "$f")")
    if [ $got -ge 1 ] && [ $got -lt 128 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ]; then
      ok "attnres-run refuses $c too: $(cat "$tmp/err")"
    else
      fail "attnres-run on $c: exit $got (want a refusal), $(head -c 200 "$tmp/err")"
    fi
  done
fi

# expect_refusal DESCRIPTION NEEDLE DIR -- COMMAND...: as a real process,
# under a 1.5 GB address-space cap (quantize.py's torch maps about 1 GB) and a
# 60 s timeout: exit 1, one stderr line naming NEEDLE, nothing left in DIR
# (where the output would go)
expect_refusal() {
  what=$1 needle=$2 dir=$3; shift 4
  ( ulimit -v 1500000; OPENBLAS_NUM_THREADS=1 exec timeout 60 "$@" ) > "$tmp/out" 2> "$tmp/err"
  got=$?
  if [ $got -eq 1 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -qF -- "$needle" "$tmp/err" && [ -z "$(ls -A "$dir")" ]; then
    ok "$what: $(cat "$tmp/err")"
  else
    fail "$what: exit $got (want 1), left '$(ls -A "$dir" | tr '\n' ' ')', stderr: $(head -c 300 "$tmp/err" | tr '\n' ' ')"
  fi
}
mkdir "$tmp/cli"
"$python" -c "import struct,sys; open(sys.argv[1],'wb').write(struct.pack('<7i', 8, 16, 4000000, 2, 2, 32, 16))" "$tmp/huge.bin"
expect_refusal "a 28-byte llama2.c header claiming 4 million layers, as a process" n_layers "$tmp/cli" -- \
  "$python" tools/import_model.py "$tmp/huge.bin" --out "$tmp/cli/out"
# a full disk: a file-size limit makes write() fail with EFBIG (Python ignores SIGXFSZ)
mkdir "$tmp/full"
expect_refusal "a write that fails half-way (file-size limit): no output, no temporary file" "cannot write $tmp/full/out: File too large" "$tmp/full" -- \
  sh -c 'ulimit -f 100; exec "$@"' sh "$python" tools/import_model.py "$golden/hf_llama" --out "$tmp/full/out"
if "$python" -c 'import torch' 2>/dev/null; then
  expect_refusal "quantize.py: a write that fails half-way: no output, no temporary file" "cannot write $tmp/full/out: File too large" "$tmp/full" -- \
    sh -c 'ulimit -f 20; exec "$@"' sh "$python" tools/quantize.py models/block.safetensors "$tmp/full/out"
else
  skip "quantize.py: a write that fails half-way: $python has no torch"
fi

# ---- accepted at the engine's limits: what the importer writes, the engine loads
# accepted NAME -- IMPORTER ARGS (output $tmp/lim/NAME.safetensors), then attnres-run loads it
mkdir "$tmp/lim"
accepted() {
  what=$1; shift 2
  if "$python" "$@" > "$tmp/log" 2>&1 && [ -x "$build/attnres-run" ] &&
     "$build/attnres-run" "$tmp/lim/$what.safetensors" -p A -n 1 -q > /dev/null 2> "$tmp/err"; then
    ok "accepted at the limit and loaded by attnres-run: $what"
  elif [ ! -x "$build/attnres-run" ]; then
    skip "accepted $what: attnres-run was not built"
  else
    fail "accepted $what: $(tail -n 1 "$tmp/log") $(cat "$tmp/err" 2>/dev/null)"
  fi
}
"$python" tests/hostile_imports.py --limits "$golden" "$tmp/lim" > "$tmp/lim.log" 2>&1 ||
  fail "tests/hostile_imports.py --limits: $(tail -n 1 "$tmp/lim.log")"
accepted hf_limits -- tools/import_model.py "$tmp/lim/hf_limits" --out "$tmp/lim/hf_limits.safetensors"
accepted l2c_1024_layers -- tools/import_model.py "$tmp/lim/l2c_1024_layers.bin" --out "$tmp/lim/l2c_1024_layers.safetensors"
accepted l2c_seq_len_max -- tools/import_model.py "$golden/llama2c_v1.bin" --seq-len 1048576 --out "$tmp/lim/l2c_seq_len_max.safetensors"
# the newer config.json spelling (transformers 5): rope_parameters with rope_theta inside
"$python" -c "import json,sys; c=json.load(open(sys.argv[1])); c.pop('rope_theta'); c.pop('rope_scaling')
c['rope_parameters']={'rope_type':'llama3','rope_theta':500000.0,'factor':8.0,'low_freq_factor':1.0,'high_freq_factor':4.0,'original_max_position_embeddings':16}
json.dump(c,open(sys.argv[2],'w'))" "$golden/hf_llama/config.json" "$tmp/lim/rope_parameters.json" &&
  mkdir "$tmp/lim/rope_parameters" && mv "$tmp/lim/rope_parameters.json" "$tmp/lim/rope_parameters/config.json" &&
  ln -s "$(cd "$golden/hf_llama" && pwd)/model.safetensors" "$tmp/lim/rope_parameters/model.safetensors"
accepted rope_parameters -- tools/import_model.py "$tmp/lim/rope_parameters" --out "$tmp/lim/rope_parameters.safetensors"
if grep -q '"rope_theta":"500000.0"' "$tmp/lim/rope_parameters.safetensors" 2>/dev/null &&
   grep -q '"rope_scaling":"llama3"' "$tmp/lim/rope_parameters.safetensors"; then
  ok "rope_parameters: rope_theta and the llama3 scaling are read from it"
else fail "rope_parameters: the metadata lacks rope_theta 500000.0 or rope_scaling llama3"; fi
accepted bridge_S1 -- tools/import_model.py --to-attnres "$golden/hf_llama.model.safetensors" --block-size 1 --out "$tmp/lim/bridge_S1.safetensors"
accepted bridge_S2L -- tools/import_model.py --to-attnres "$golden/hf_llama.model.safetensors" --block-size 4 --out "$tmp/lim/bridge_S2L.safetensors"
if "$python" -c 'import torch' 2>/dev/null; then
  accepted q8_G1 -- tools/quantize.py "$golden/hf_llama.model.safetensors" "$tmp/lim/q8_G1.safetensors" --group-size 1
  accepted w8a8_G16 -- tools/quantize.py "$golden/hf_llama.model.safetensors" "$tmp/lim/w8a8_G16.safetensors" --group-size 16 --activations int8
  # a Llama 3.2-layout model: its RoPE scaling and eos ids survive quantization
  # (the logits of such a q8 file: golden/q8_rope_llama3, tests/test_q8.c)
  accepted q8_llama32 -- tools/quantize.py "$golden/hf_llama32.model.safetensors" "$tmp/lim/q8_llama32.safetensors" --group-size 16
  head -c 2000 "$tmp/lim/q8_llama32.safetensors" > "$tmp/q8head" 2>/dev/null
  if grep -q '"format_version":"3"' "$tmp/q8head" && grep -q '"rope_scaling":"llama3"' "$tmp/q8head" &&
     grep -q '"rope_scaling_original_max_position_embeddings":"64"' "$tmp/q8head" &&
     grep -q '"eos_token_id":"90,92"' "$tmp/q8head" && grep -q '"quantization":"q8"' "$tmp/q8head"; then
    ok "quantize.py on a llama3-scaled model: format_version 3, rope_scaling and eos_token_id 90,92 kept"
  else fail "quantize.py on a llama3-scaled model: metadata lost: $(tr -c '[:print:]' ' ' < "$tmp/q8head" | cut -c1-400)"; fi
else
  skip "quantize.py at the group-size limits: $python has no torch"
fi
# tools/train.py --from-converted: a few steps on the converted shipped standard
# model train the pseudo-queries and key gains only (it checks that every other
# tensor is written back unchanged); needs python3-torch
if "$python" -c 'import torch' 2>/dev/null; then
  "$python" tools/import_model.py --to-attnres models/standard.safetensors --out "$tmp/std_bridge.safetensors" > /dev/null &&
  OMP_NUM_THREADS=1 "$python" tools/train.py --from-converted "$tmp/std_bridge.safetensors" --out "$tmp" --corpus models \
    --steps 4 --batch 2 --window 32 --val-bytes 512 --threads 1 > "$tmp/train.log" 2>&1
  if [ $? -eq 0 ] && grep -q "every other tensor unchanged" "$tmp/train.log" && [ -f "$tmp/std_bridge.depth-trained.safetensors" ]; then
    ok "train.py --from-converted: $(tail -n 1 "$tmp/train.log")"
  else
    fail "train.py --from-converted: $(tail -n 3 "$tmp/train.log" | tr '\n' ' ')"
  fi
  # files it cannot train: one line naming the file and the reason, nothing written
  mkdir "$tmp/tr_out"
  expect_refusal "train.py --from-converted on a Llama 3.2-layout (format 3) import" "needs a byte-level (vocab 256)" "$tmp/tr_out" -- \
    "$python" tools/train.py --from-converted "$golden/hf_llama32.model.safetensors" --out "$tmp/tr_out" --steps 1
  head -c 100 models/block.safetensors > "$tmp/cut.safetensors"
  expect_refusal "train.py --from-converted on a file cut to 100 bytes" "$tmp/cut.safetensors: header length" "$tmp/tr_out" -- \
    "$python" tools/train.py --from-converted "$tmp/cut.safetensors" --out "$tmp/tr_out" --steps 1
else
  skip "train.py --from-converted: $python has no torch (apt-get install python3-torch)"
fi
echo "# summary test_importers: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
