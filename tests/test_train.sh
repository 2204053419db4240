#!/bin/sh
# tests/test_train.sh [BUILD_DIR] - attnres-train end to end (mk/run.mk copies
# it next to the programs as test_train_cli, so tests/run.sh runs it).
#   determinism: two runs with the same seed write identical checkpoint
#   bytes; another seed, other bytes;
#   the checkpoint loads in attnres-run, which generates from it;
#   progress lines (step, loss, tok/s, time left) and the validation loss;
#   --eval-every: validation and ||dloss/df_l|| of every sublayer at its
#   steps, and the same checkpoint bytes as without it;
#   bad input: an empty text, a text too short for a window, a window longer
#   than the text or the context, an unwritable checkpoint path, a full disk
#   (ulimit -f), a loss
#   that becomes NaN or infinite (an absurd lr) -> exit 1, a message naming
#   the problem (and the step), no checkpoint and no temporary file left,
#   an existing checkpoint untouched;
#   bad options -> exit 2 naming the option;
#   --watch: frames redrawn in place on a pseudo-terminal (util-linux script),
#   plain lines and no escape code in a pipe or with TERM=dumb, same bytes;
#   with TRAIN_TWIN=PROGRAM (another build of attnres-train, as make test-32
#   sets it), both write the same checkpoint bytes.
# Tiny models (dim 16, 1 layer, 4 steps): seconds, not minutes. Run from the
# repository root; MODELS overrides models/.
build=${1:-$(dirname "$0")}
models=${MODELS:-models}
train="$build/attnres-train"
run="$build/attnres-run"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/attnres-train.XXXXXX") || exit 1
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
passed=0; failed=0; skipped=0
. tests/lib.sh   # ok, fail, skip: print the line and count it (passed, failed, skipped)
tiny="--dim 16 --layers 1 --heads 2 --kv-heads 1 --seq-len 32 --steps 4 --batch 2 --warmup 2 -q"

# expect STATUS NEEDLE DESCRIPTION -- ARGS...: attnres-train ARGS must exit
# STATUS with NEEDLE (a fixed string) in its stderr.
expect() {
  want=$1 needle=$2 what=$3; shift 4
  "$train" "$@" > "$tmp/out" 2> "$tmp/err"
  got=$?
  if [ "$got" -eq "$want" ] && grep -qF -- "$needle" "$tmp/err"; then
    ok "$what: exit $got: $(head -n 1 "$tmp/err")"
  else
    fail "$what: exit $got (want $want), stderr should name '$needle': $(head -n 2 "$tmp/err" | tr '\n' ' ')"
  fi
}

# no file but the expected ones in $tmp/out.d (no checkpoint, no .tmp left)
only_files() {
  left=$(cd "$tmp/out.d" && ls -A | tr '\n' ' ')
  if [ "$left" = "$1" ]; then ok "$2: files left: '${left:-none}'"; else fail "$2: files left: '$left' (want '$1')"; fi
}

head -c 20000 "$models/corpus_train.txt" > "$tmp/text.txt"

# 1. same seed, same bytes; another seed, other bytes
"$train" "$tmp/text.txt" $tiny --residual attnres --block-size 1 --init-queries random --seed 5 -o "$tmp/a.st" 2> "$tmp/err_a"
sa=$?
"$train" "$tmp/text.txt" $tiny --residual attnres --block-size 1 --init-queries random --seed 5 -o "$tmp/b.st" 2> "$tmp/err_b"
sb=$?
"$train" "$tmp/text.txt" $tiny --residual attnres --block-size 1 --init-queries random --seed 6 -o "$tmp/c.st" 2> /dev/null
if [ $sa -eq 0 ] && [ $sb -eq 0 ] && cmp -s "$tmp/a.st" "$tmp/b.st"; then
  ok "two runs with --seed 5 write identical checkpoints ($(wc -c < "$tmp/a.st") bytes)"
else fail "two runs with --seed 5: exit $sa, $sb; checkpoints differ or missing: $(cat "$tmp/err_a")"; fi
if [ -f "$tmp/c.st" ] && ! cmp -s "$tmp/a.st" "$tmp/c.st"; then ok "--seed 6 writes another checkpoint"
else fail "--seed 6 gives the same checkpoint as --seed 5 (or none)"; fi
if grep -q "validation loss [0-9.]* nats/byte" "$tmp/err_a"; then ok "the result line gives the validation loss: $(tail -n 1 "$tmp/err_a")"
else fail "no validation loss in: $(cat "$tmp/err_a")"; fi
# TRAIN_TWIN: another build of attnres-train (make test-32 gives the x86_64
# one while testing the i386 one); the same options must give the same bytes
if [ -n "$TRAIN_TWIN" ]; then
  "$TRAIN_TWIN" "$tmp/text.txt" $tiny --residual attnres --block-size 1 --init-queries random --seed 5 -o "$tmp/twin.st" 2> /dev/null
  for m in standard attnres; do
    "$train" "$tmp/text.txt" $tiny --residual $m -o "$tmp/this_$m.st" 2> /dev/null
    "$TRAIN_TWIN" "$tmp/text.txt" $tiny --residual $m -o "$tmp/twin_$m.st" 2> /dev/null
  done
  if [ -s "$tmp/twin.st" ] && cmp -s "$tmp/a.st" "$tmp/twin.st" && [ -s "$tmp/this_standard.st" ] &&
     cmp -s "$tmp/this_standard.st" "$tmp/twin_standard.st" && cmp -s "$tmp/this_attnres.st" "$tmp/twin_attnres.st"; then
    ok "$train and $TRAIN_TWIN write the same checkpoint bytes (Full AttnRes with random queries, standard, Block S=2)"
  else fail "$train and $TRAIN_TWIN write different checkpoints for the same options"; fi
fi

# 2. progress: step, loss, tokens/s, time left (not with -q)
"$train" "$tmp/text.txt" --dim 16 --layers 1 --heads 2 --kv-heads 1 --seq-len 32 --steps 3 --batch 2 --log-every 1 \
  --residual standard --val "$models/corpus_val.txt" --val-bytes 500 -o "$tmp/s.st" 2> "$tmp/err_s"
if [ $? -eq 0 ] && [ "$(grep -c '^step  *[0-9]*/3  loss [0-9.]* .* tok/s .* left$' "$tmp/err_s")" -eq 3 ]; then
  ok "3 progress lines with step, loss, tok/s and time left: $(sed -n 2p "$tmp/err_s")"
else fail "progress lines missing: $(cat "$tmp/err_s")"; fi

# 2b. --eval-every: validation and the gradient reaching each sublayer's output
#     (L = 4 numbers) at steps 2 and 4; the diagnostic changes no weight
"$train" "$tmp/text.txt" --dim 16 --layers 2 --heads 2 --kv-heads 1 --seq-len 32 --steps 4 --batch 2 --warmup 2 \
  --eval-every 2 -q --seed 5 --val "$models/corpus_val.txt" --val-bytes 300 -o "$tmp/e.st" 2> "$tmp/err_e"; se=$?
"$train" "$tmp/text.txt" --dim 16 --layers 2 --heads 2 --kv-heads 1 --seq-len 32 --steps 4 --batch 2 --warmup 2 \
  -q --seed 5 --val "$models/corpus_val.txt" --val-bytes 300 -o "$tmp/f.st" 2> /dev/null
pat='^step  *[24]/4  ||dloss/df_l||, l = 0..3 (first validation window): [0-9.e+-]* [0-9.e+-]* [0-9.e+-]* [0-9.e+-]*$'
if [ $se -eq 0 ] && [ "$(grep -c "$pat" "$tmp/err_e")" -eq 2 ] && grep -q '^step  *2/4  validation loss' "$tmp/err_e"; then
  ok "--eval-every 2: validation, and ||dloss/df_l|| of the 4 sublayers at steps 2 and 4: $(grep -m 1 "$pat" "$tmp/err_e")"
else fail "--eval-every 2: exit $se, lines missing: $(cat "$tmp/err_e")"; fi
if cmp -s "$tmp/e.st" "$tmp/f.st"; then ok "--eval-every changes no weight: the same checkpoint bytes as without it"
else fail "--eval-every changed the checkpoint"; fi

# 3. the checkpoints load in attnres-run and generate
for m in a s; do
  if [ -x "$run" ]; then
    "$run" "$tmp/$m.st" -p "The " -n 20 -t 0 > "$tmp/gen" 2> "$tmp/gen_err"
    if [ $? -eq 0 ] && [ "$(wc -c < "$tmp/gen")" -ge 24 ]; then ok "attnres-run loads $m.st and generates 20 bytes"
    else fail "attnres-run on $m.st: $(cat "$tmp/gen_err")"; fi
  elif [ -f "$run.skip" ]; then skip "attnres-run loads $m.st: attnres-run was not built: $(cat "$run.skip")"
  else fail "attnres-run is not built"; fi
done

# 4. bad input: exit 1, a message naming it, nothing written, an existing file kept
mkdir "$tmp/out.d"
printf 'previous checkpoint\n' > "$tmp/out.d/keep.st"
: > "$tmp/empty.txt"
head -c 30 "$tmp/text.txt" > "$tmp/short.txt"
expect 1 "is empty" "an empty text" -- "$tmp/empty.txt" $tiny -o "$tmp/out.d/keep.st"
expect 1 "needs at least 34" "a text too short for a window of 32" -- "$tmp/short.txt" $tiny --val "$tmp/text.txt" -o "$tmp/out.d/keep.st"
expect 1 "needs at least 2" "an empty validation file" -- "$tmp/text.txt" $tiny --val "$tmp/empty.txt" -o "$tmp/out.d/keep.st"
expect 2 "--window" "a window longer than the context" -- "$tmp/text.txt" $tiny --window 33 -o "$tmp/out.d/keep.st"
head -c 60 "$tmp/text.txt" > "$tmp/60.txt"
expect 1 "once its validation tail is held out" "a window longer than the text once its tail is held out" -- "$tmp/60.txt" $tiny --val-frac 0.5 -o "$tmp/out.d/keep.st"
expect 1 "cannot write the checkpoint" "a checkpoint in a missing directory" -- "$tmp/text.txt" $tiny -o "$tmp/no/such/dir/x.st"
if [ "$(id -u)" -ne 0 ]; then
  mkdir "$tmp/ro"; chmod a-w "$tmp/ro"
  expect 1 "cannot write the checkpoint" "a checkpoint in a read-only directory" -- "$tmp/text.txt" $tiny -o "$tmp/ro/x.st"
fi
expect 1 "error at step 2 of 4" "an absurd lr: the loss overflows, the message names the step" -- \
  "$tmp/text.txt" $tiny --lr 1e30 -o "$tmp/out.d/keep.st"
if grep -qE "NaN|infinite|overflow" "$tmp/err"; then ok "  ... and says the loss or logits are NaN or infinite"
else fail "  ... the message does not say NaN / infinite: $(cat "$tmp/err")"; fi
# a full disk, as a file size limit: the write fails (EFBIG) after training
( ulimit -f 8; trap '' XFSZ; exec "$train" "$tmp/text.txt" $tiny -o "$tmp/out.d/keep.st" ) > "$tmp/out" 2> "$tmp/err"
st=$?
if [ $st -eq 1 ] && grep -q "cannot write the checkpoint" "$tmp/err"; then ok "a full disk (ulimit -f 8): exit 1: $(head -n 1 "$tmp/err")"
else fail "a full disk (ulimit -f 8): exit $st: $(cat "$tmp/err")"; fi
if [ "$(cat "$tmp/out.d/keep.st")" = "previous checkpoint" ]; then ok "every failed run left the existing checkpoint as it was"
else fail "the existing checkpoint was changed"; fi
only_files "keep.st " "after the failed runs, no partial checkpoint and no temporary file"
# 5. bad options: exit 2, naming the option
expect 2 "--steps" "--steps 0" -- "$tmp/text.txt" $tiny --steps 0 -o "$tmp/x.st"
expect 2 "--lr" "--lr -1" -- "$tmp/text.txt" $tiny --lr -1 -o "$tmp/x.st"
expect 2 "--lr" "--lr nan" -- "$tmp/text.txt" $tiny --lr nan -o "$tmp/x.st"
expect 2 "--residual" "--residual other" -- "$tmp/text.txt" $tiny --residual other -o "$tmp/x.st"
expect 2 "--init-queries" "--init-queries ones" -- "$tmp/text.txt" $tiny --init-queries ones -o "$tmp/x.st"
expect 2 "--block-size" "--block-size with standard residuals" -- "$tmp/text.txt" $tiny --residual standard --block-size 2 -o "$tmp/x.st"
expect 2 "--dim" "--dim x" -- "$tmp/text.txt" $tiny --dim x -o "$tmp/x.st"
expect 2 "--bogus" "an unknown option" -- "$tmp/text.txt" $tiny --bogus -o "$tmp/x.st"
expect 2 "-o" "no -o" -- "$tmp/text.txt" $tiny
expect 2 "--batch" "--batch without a value" -- "$tmp/text.txt" -o "$tmp/x.st" --batch
expect 2 "n_heads" "heads that do not divide dim (the config check names the field)" -- "$tmp/text.txt" $tiny --heads 3 -o "$tmp/x.st"
if [ ! -e "$tmp/x.st" ]; then ok "no checkpoint from any bad command line"; else fail "a bad command line wrote $tmp/x.st"; fi

# 6. --watch: frames redrawn in place on a terminal (a pseudo-terminal made by
# util-linux's script), plain progress lines without one escape code in a pipe
# or with TERM=dumb; the view only reads, so every run writes the same bytes
watch="--dim 16 --layers 2 --heads 2 --kv-heads 1 --seq-len 32 --steps 6 --batch 2 --warmup 2 --log-every 2 --eval-every 3 --block-size 2 --seed 5"
"$train" "$tmp/text.txt" $watch -o "$tmp/plain.st" 2> "$tmp/plain.err"
points=$(grep -c '^step .*tok/s' "$tmp/plain.err")
esc=$(printf '\033')
"$train" "$tmp/text.txt" $watch --watch -o "$tmp/pipe.st" 2>&1 | cat > "$tmp/pipe.out"
if ! grep -q "$esc" "$tmp/pipe.out" && grep -q "stderr is not a terminal" "$tmp/pipe.out" &&
   [ "$(grep -c '^step .*tok/s' "$tmp/pipe.out")" -eq "$points" ] && cmp -s "$tmp/pipe.st" "$tmp/plain.st"; then
  ok "--watch in a pipe: $points plain progress lines, no escape code, the same checkpoint bytes"
else fail "--watch in a pipe: $(grep -c "$esc" "$tmp/pipe.out") lines with escape codes, $(grep -c '^step .*tok/s' "$tmp/pipe.out") progress lines (want $points): $(head -n 2 "$tmp/pipe.out" | tr '\n' ' ')"; fi
if command -v script > /dev/null; then
  TERM=xterm script -qec "'$train' '$tmp/text.txt' $watch --watch -o '$tmp/tty.st'" /dev/null > "$tmp/tty.out" 2>&1; st=$?
  frames=$(grep -c "attnres-train --watch:" "$tmp/tty.out")
  # the first frame: zero pseudo-queries, every row's largest weight is the uniform one
  first=$(sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$tmp/tty.out" | tr -d '\r' |
          awk '/attnres-train --watch:/ { n++ } n == 1 && / max .* at b.*\(uniform/ { rows++; if ($(NF-4) != substr($NF, 1, length($NF) - 1)) bad++ }
               END { print rows + 0, bad + 0 }')
  if [ $st -eq 0 ] && [ "$frames" -eq "$points" ] && grep -q "${esc}\[48;5;" "$tmp/tty.out" &&
     grep -q "${esc}\[[0-9]*A" "$tmp/tty.out" && grep -q "validation  step 3: " "$tmp/tty.out" &&
     [ "$first" = "5 0" ] && grep -q "attnres-train: validation loss" "$tmp/tty.out" && cmp -s "$tmp/tty.st" "$tmp/plain.st"; then
    ok "--watch on a terminal: $frames frames redrawn in place (cursor up), alpha as coloured cells, 5 uniform rows at zero init, validation listed, the same checkpoint bytes"
  else fail "--watch on a terminal: exit $st, $frames frames (want $points), first frame rows/non-uniform '$first' (want '5 0'): $(tail -c 300 "$tmp/tty.out" | tr -d '\033')"; fi
  TERM=dumb script -qec "'$train' '$tmp/text.txt' $watch --watch -o '$tmp/dumb.st'" /dev/null > "$tmp/dumb.out" 2>&1; st=$?
  if [ $st -eq 0 ] && ! grep -q "$esc" "$tmp/dumb.out" && grep -q "TERM is dumb" "$tmp/dumb.out"; then
    ok "--watch on a terminal with TERM=dumb: plain progress lines, no escape code"
  else fail "--watch with TERM=dumb: exit $st, $(grep -c "$esc" "$tmp/dumb.out") lines with escape codes"; fi
else
  skip "--watch on a terminal: util-linux's script (a pseudo-terminal) is not installed"
  skip "--watch with TERM=dumb: util-linux's script is not installed"
fi
expect 2 "--watch" "--watch with --quiet" -- "$tmp/text.txt" $tiny --watch -o "$tmp/x.st"

echo "# summary test_train_cli: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
