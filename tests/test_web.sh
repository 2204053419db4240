#!/bin/sh
# tests/test_web.sh BUILD WEB_BUILD - the page's numbers and the page itself
# (make test-web runs it after `make web`; see docs/web.md).
#
#   1. wasm vs native: web/parity.mjs runs WEB_BUILD/attnres.js under node
#      and BUILD/web_parity (the same glue, web/attnres_web.c, compiled by
#      CC) runs natively, on the same prompts, models and seeds; every logit
#      and every alpha of every position must have the same float32 bits,
#      and the sampled text must be the same. One check per case.
#      The page's trainer likewise (web/train_parity.mjs under node against
#      BUILD/web_train_parity), and both against attnres-train's checkpoints.
#   2. the page in headless Chromium: web/browser_test.mjs (its checks are
#      listed at its top) against the native numbers of case 1, the Train
#      view against web_train_parity's.
# A check whose tools are missing prints "SKIP name: reason" and is counted
# as skipped, never as passed: emcc (apt-get install emscripten) and node
# for both, Chromium (apt-get install chromium) and playwright-core for the
# browser. playwright-core is installed into web/node_modules with `npm ci`
# when it is missing, unless WEB_NPM=no.
# Ends with "N passed, N failed" (", N skipped" added when some were) and
# exits non-zero on any failure. Environment: EMCC, NODE, CHROMIUM, WEB_NPM.
build=$1; web=$2
EMCC=${EMCC:-emcc}; NODE=${NODE:-node}; CHROMIUM=${CHROMIUM:-/usr/bin/chromium}; WEB_NPM=${WEB_NPM:-auto}
out=$build/web-test
mkdir -p "$out"
passed=0; failed=0; skipped=0
ok()   { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }

# the cases: NAME MODEL PROMPT N_NEW TEMPERATURE TOP_P SEED [ROW SCALE]
cases() {
  echo 'block|models/block.safetensors|The little robot|60|0.8|0.9|42'
  echo 'block-whatif|models/block.safetensors|The little robot|60|0.8|0.9|42|3|0'
  echo 'block-output-x2.5|models/block.safetensors|Once upon a time|100|1.0|0|1|8|2.5'
  echo 'full|models/full.safetensors|The little robot|80|0.8|0.9|7'
  echo 'full-greedy|models/full.safetensors|Q: Where is the box?|50|0|0|1'
  echo 'standard|models/standard.safetensors|The little robot|60|0.8|0.9|42'
  # seq_len 2^20 and head_dim 2048: a whole-context KV-cache of 2^32 floats,
  # which wasm's 32-bit size_t counted as a few thousand (tests/test_sizes.c)
  echo 'kv-cache-over-4gib|tests/regress/kv-cache-over-4gib.OK.safetensors|The little robot|24|0.8|0.9|42'
  # an imported model with llama3 RoPE scaling (format_version 3), 46 positions past its original 8
  echo 'llama3-rope-scaling|golden/import/e2e_llama32.model.safetensors|the little robot|40|0|0|1'
}

# ---------------------------------------------------------------- 1. parity
need_wasm=""
command -v "$NODE" >/dev/null || need_wasm="$NODE not installed"
command -v "$EMCC" >/dev/null || need_wasm="${need_wasm:+$need_wasm; }$EMCC not installed (Debian: apt-get install emscripten)"
if [ -n "$need_wasm" ]; then
  skip "wasm vs native ($(cases | wc -l) cases): $need_wasm"
elif [ ! -f "$web/attnres.js" ] || [ ! -x "$build/web_parity" ]; then
  fail "wasm vs native: $web/attnres.js or $build/web_parity was not built (make web, make $build/web_parity)"
else
  cases > "$out/cases.txt"
  while IFS='|' read -r name model prompt n t p seed row scale; do
    ./"$build"/web_parity "$model" "$prompt" "$n" "$t" "$p" "$seed" $row $scale > "$out/native_$name.txt" 2> "$out/native_$name.err" &&
    "$NODE" web/parity.mjs "$web/attnres.js" "$model" "$prompt" "$n" "$t" "$p" "$seed" $row $scale \
      > "$out/wasm_$name.txt" 2> "$out/wasm_$name.err" ||
      { fail "wasm vs native, $name: a program failed: $(tail -c 300 "$out/native_$name.err" "$out/wasm_$name.err")"; continue; }
    if result=$("$NODE" web/parity.mjs --compare "$out/native_$name.txt" "$out/wasm_$name.txt"); then
      ok "wasm vs native, $name${row:+ (pseudo-query $row x$scale)}: $(echo "$result" | head -n 1)"
    else
      fail "wasm vs native, $name: $(echo "$result" | tr '\n' ' ')"
    fi
  done < "$out/cases.txt"
fi

# a context past what wasm32's memory can address: a clear refusal, not a
# wrapped size (the module sizes its state for prompt + new bytes)
if [ -z "$need_wasm" ] && [ -f "$web/attnres.js" ]; then
  big=tests/regress/kv-cache-over-4gib.OK.safetensors
  "$NODE" web/parity.mjs "$web/attnres.js" "$big" "The little robot" $((1048576 - 16)) 0 0 1 \
    > /dev/null 2> "$out/wasm_whole_context.err"
  status=$?
  if [ "$status" -eq 2 ] && grep -q 'more than one allocation can hold' "$out/wasm_whole_context.err"; then
    ok "wasm: a state for all 2^20 positions of $big is refused: $(head -c 160 "$out/wasm_whole_context.err")"
  else
    fail "wasm: a state for all 2^20 positions of $big (status $status): $(head -c 300 "$out/wasm_whole_context.err")"
  fi
fi

# the glue samples as attnres-run does: the same seed, the same text
# (attnres-run ends it with a newline; web_parity prints it in hex)
if [ -f "$build/attnres-run.skip" ] || [ ! -x "$build/attnres-run" ]; then
  skip "web_parity's text vs attnres-run: attnres-run not built${build:+: $(cat "$build/attnres-run.skip" 2>/dev/null)}"
elif [ ! -s "$out/native_full.txt" ]; then
  skip "web_parity's text vs attnres-run: the parity cases did not run"
else
  want=$(./"$build"/attnres-run models/full.safetensors -p "The little robot" -n 80 -t 0.8 --top-p 0.9 -s 7 2>/dev/null |
         od -An -v -tx1 | tr -d ' \n')
  got=$(sed -n 's/^text //p' "$out/native_full.txt")0a
  if [ "$want" = "$got" ]; then ok "web_parity samples the text attnres-run samples (full, seed 7, 80 bytes)"
  else fail "web_parity's text differs from attnres-run's: $got vs $want"; fi
fi

# the Train view's trainer: the wasm module (driven by web/trainer.js, the
# worker's code) against its native build, and both against attnres-train
# with the same options: every loss, gradient norm, validation loss, alpha
# and RMS by its bits, and both checkpoints byte for byte.
# train_cases: NAME S STEPS (dim 32, 4 layers, window 64, batch 4, lr 3e-3,
# warmup 10, seed 7, 2048 validation bytes, validated every 10 steps)
train_cases() {
  echo 'train-block|2|30'
  echo 'train-full|1|12'
}
if [ -n "$need_wasm" ]; then
  skip "the page's trainer, wasm vs native vs attnres-train ($(train_cases | wc -l) cases): $need_wasm"
elif [ ! -f "$web/attnres_train.js" ] || [ ! -x "$build/web_train_parity" ] || [ ! -x "$build/attnres-train" ]; then
  fail "the page's trainer: $web/attnres_train.js, $build/web_train_parity or $build/attnres-train was not built"
else
  train_cases > "$out/train_cases.txt"
  while IFS='|' read -r name S steps; do
    set -- models/corpus_train.txt 32 4 "$S" 64 4 "$steps" 3e-3 10 7 2048 10
    if ! ./"$build"/web_train_parity "$@" "$out/native_$name" > "$out/native_$name.txt" 2> "$out/native_$name.err" ||
       ! "$NODE" web/train_parity.mjs "$web/attnres_train.js" "$@" "$out/wasm_$name" > "$out/wasm_$name.txt" 2> "$out/wasm_$name.err"; then
      fail "the page's trainer, $name: a program failed: $(tail -c 300 "$out/native_$name.err" "$out/wasm_$name.err")"; continue
    fi
    bad=""
    cmp -s "$out/native_$name.txt" "$out/wasm_$name.txt" ||
      bad="wasm prints other numbers: $(diff "$out/native_$name.txt" "$out/wasm_$name.txt" | head -n 2 | cut -c1-120 | tr '\n' ' ')"
    for kind in standard attnres; do
      if [ $kind = standard ]; then r="--residual standard"; else r="--residual attnres --block-size $S"; fi
      ./"$build"/attnres-train models/corpus_train.txt -o "$out/cli_$name.$kind.safetensors" $r --dim 32 --layers 4 \
        --seq-len 64 --batch 4 --steps "$steps" --lr 3e-3 --warmup 10 --seed 7 --val-bytes 2048 -q 2> "$out/cli_$name.$kind.err" ||
        bad="$bad attnres-train ($kind) failed: $(tail -n 1 "$out/cli_$name.$kind.err")"
      cmp -s "$out/cli_$name.$kind.safetensors" "$out/wasm_$name.$kind.safetensors" ||
        bad="$bad the wasm $kind checkpoint is not attnres-train's;"
      cmp -s "$out/native_$name.$kind.safetensors" "$out/wasm_$name.$kind.safetensors" ||
        bad="$bad the wasm $kind checkpoint is not the native glue's;"
      want=$(sed -n 's/.*validation loss \([0-9.]*\) nats.*/\1/p' "$out/cli_$name.$kind.err")
      got=$(sed -n "s/^val $steps [0-9a-f]* [0-9a-f]* \([0-9.]*\) \([0-9.]*\)$/\1 \2/p" "$out/wasm_$name.txt")
      [ $kind = standard ] && got=${got% *} || got=${got#* }
      [ -n "$want" ] && [ "$want" = "$got" ] || bad="$bad validation loss ($kind): attnres-train $want, the page's trainer $got;"
    done
    if [ -z "$bad" ]; then
      ok "the page's trainer, $name (S=$S, $steps steps): wasm = native bit for bit ($(grep -c '^step ' "$out/wasm_$name.txt") steps of losses and gradient norms, $(grep -c '^val ' "$out/wasm_$name.txt") validations, alpha, RMS); both checkpoints = attnres-train's, byte for byte; validation $(sed -n "s/^val $steps [0-9a-f]* [0-9a-f]* \(.*\)$/\1/p" "$out/wasm_$name.txt")"
    else fail "the page's trainer, $name: $bad"; fi
  done < "$out/train_cases.txt"
fi

# ---------------------------------------------------------------- 2. browser
need=""
[ -z "$need_wasm" ] || need="$need_wasm"
[ -x "$CHROMIUM" ] || need="${need:+$need; }no Chromium at $CHROMIUM (Debian: apt-get install chromium)"
if [ -z "$need" ] && [ ! -d web/node_modules/playwright-core ]; then
  if [ "$WEB_NPM" != no ] && command -v npm >/dev/null; then
    echo "web: npm ci in web/ (playwright-core, to drive Chromium; WEB_NPM=no skips this)"
    ( cd web && npm ci --no-audit --no-fund --loglevel=error ) > "$out/npm.log" 2>&1 || tail -n 5 "$out/npm.log"
  fi
  [ -d web/node_modules/playwright-core ] ||
    need="playwright-core is not in web/node_modules (cd web && npm ci)"
fi
if [ -n "$need" ]; then
  skip "the page in headless Chromium: $need"
elif [ ! -s "$out/native_block.txt" ] || [ ! -s "$out/native_block-whatif.txt" ]; then
  fail "the page in headless Chromium: no native numbers to compare with (the parity cases failed)"
else
  # the Train view's run (web/browser_test.mjs's TRAIN_ARGS), natively
  ./"$build"/web_train_parity models/corpus_train.txt 16 4 2 32 4 200 0.003 20 7 4096 50 "$out/native_train-page" \
    > "$out/native_train-page.txt" 2> "$out/native_train-page.err" ||
    fail "the Train view's native run: $(tail -c 300 "$out/native_train-page.err")"
  "$NODE" web/browser_test.mjs "$web" "$CHROMIUM" "$out/native_block.txt" "$out/native_block-whatif.txt" "$out" \
    "$out/native_kv-cache-over-4gib.txt" "$out/native_train-page" > "$out/browser.log" 2>&1
  status=$?
  grep -v '^# summary' "$out/browser.log"
  line=$(grep '^# summary browser: ' "$out/browser.log" | tail -n 1)
  p=$(echo "$line" | sed -n 's/.*: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p')
  f=$(echo "$line" | sed -n 's/.*: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p')
  if [ -z "$p" ] || [ -z "$f" ]; then
    fail "the page in headless Chromium: browser_test.mjs stopped (status $status) before its summary"
  else
    passed=$((passed + p)); failed=$((failed + f))
    [ "$status" -eq 0 ] || [ "$f" -gt 0 ] || fail "browser_test.mjs exited with status $status"
    echo "screenshots: $out/desktop.png $out/phone.png"
  fi
fi

if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
