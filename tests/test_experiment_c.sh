#!/bin/sh
# tests/test_experiment_c.sh [BUILD_DIR] - tools/experiment.py on the C trainer
# (`run --engine c`), with PyTorch hidden (a module named torch that raises
# ImportError comes first on PYTHONPATH), so the check holds on a machine
# without python3-torch. mk/experiments.mk copies it next to the programs as
# test_experiment_c, so tests/run.sh runs it.
#   a tiny run (dim 16, 1 layer, Full AttnRes, 6 steps) writes the run JSON:
#   every field a PyTorch run writes (the keys of a committed PyTorch run in
#   docs/experiments/round2/runs/, less those --diagnostics adds), engine "c",
#   a loss for every step, the validation curve ending at the final loss,
#   ||dloss/df_l|| of every sublayer at each validation point, and
#   the diagnostics attnres-train does not measure null and named in "absent";
#   the options reach attnres-train: its checkpoint (--save) has the bytes
#   attnres-train writes when run by hand with the same options, and the
#   JSON's validation loss and parameter count are the ones it prints;
#   `report` of a directory holding that run says it ran on the C trainer
#   (skipped without matplotlib);
#   refusals: an ablation the C trainer lacks, --diagnostics, --engine torch
#   without PyTorch -> a non-zero exit naming the problem, no JSON.
# Needs python3 (PYTHON, default /usr/bin/python3), nothing else; without it
# the checks print one skip line. Run from the repository root.
build=${1:-$(dirname "$0")}; build=${build#./}
python=${PYTHON:-/usr/bin/python3}
train="$build/attnres-train"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/attnres-exp.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0; skipped=0
. tests/lib.sh   # ok, fail, skip: print the line and count it (passed, failed, skipped)
summary() { echo "# summary test_experiment_c: $passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit; }

if ! "$python" -c 'import json, re, subprocess, tempfile' 2>/dev/null; then
  skip "experiment.py --engine c: $python is not available"
  summary
fi
mkdir -p "$tmp/hide/torch"
echo 'raise ImportError("PyTorch is hidden by tests/test_experiment_c.sh")' > "$tmp/hide/torch/__init__.py"
exp() { PYTHONPATH="$tmp/hide" "$python" tools/experiment.py "$@"; }

# the run; its options by hand for attnres-train (what c_command must pass on)
opts="--corpus grammar --n-layers 1 --dim 16 --hidden-dim 32 --heads 2 --kv-heads 1 --residual attnres
      --block-size 1 --steps 6 --batch 2 --window 32 --evals 3 --val-bytes 512 --warmup 2 --seed 3 --lr 0.004"
by_hand="models/corpus_train.txt --val models/corpus_val.txt --val-bytes 512 --dim 16 --hidden-dim 32 --layers 1
         --heads 2 --kv-heads 1 --seq-len 32 --residual attnres --block-size 1 --steps 6 --batch 2 --window 32
         --lr 0.004 --warmup 2 --weight-decay 0.1 --seed 3"
# shellcheck disable=SC2086
exp run --engine c --c-trainer "$train" $opts --save "$tmp/exp.st" --out "$tmp/run.json" > "$tmp/log" 2>&1
st=$?
if [ "$st" -eq 0 ] && [ -f "$tmp/run.json" ]; then ok "experiment.py run --engine c without PyTorch: exit 0, wrote the run JSON"
else fail "experiment.py run --engine c: exit $st: $(tail -n 3 "$tmp/log" | tr '\n' ' ')"; summary; fi
# shellcheck disable=SC2086
"$train" $by_hand -o "$tmp/hand.st" 2> "$tmp/hand.log" > /dev/null
if cmp -s "$tmp/exp.st" "$tmp/hand.st"; then ok "its checkpoint (--save) = attnres-train's by hand with the same options (same bytes)"
else fail "its checkpoint differs from attnres-train's by hand with the same options"; fi

"$python" - "$tmp/run.json" "$tmp/hand.log" > "$tmp/fields" 2>&1 <<'PY'
import glob, json, math, re, sys
r = json.load(open(sys.argv[1]))
hand = open(sys.argv[2]).read()
diagnostics = {"norm_eps", "blas", "profiles", "grad_profiles", "diagnostics_windows", "query_lr_mult"}
pt = json.load(open(sorted(glob.glob("docs/experiments/round2/runs/*.json"))[0]))
missing = sorted(set(pt) - diagnostics - set(r))
print("keys", "ok" if not missing else "missing " + " ".join(missing), len(set(pt) - diagnostics))
print("engine", r.get("engine"))
curve = r["train_curve"]
print("curve", "ok" if len(curve) == 6 and all(math.isfinite(x) and 0 < x < 6 for x in curve) else curve)
print("val_curve", "ok" if [s for s, _ in r["val_curve"]] == [2, 4, 6] and r["val_curve"][-1][1] == r["val_loss"]
      else r["val_curve"])
absent = r.get("absent") or []
print("absent", "ok" if absent and all(r[k] is None for k in absent) and
      {"rms_h", "rms_f", "grad_norm", "alpha"} <= set(absent) else absent)
v = re.search(r"validation loss (\S+) nats/byte", hand).group(1)
p = re.search(r"(\d+) parameters", hand).group(1)
df = r.get("df_norm_curve") or []
print("df", "ok" if [s for s, _ in df] == [2, 4, 6] and all(len(v) == 2 and all(x > 0 for x in v) for _, v in df)
      else df)
print("same", "ok" if f"{r['val_loss']:.4f}" == v and r["params"] == int(p) and r["mode"] == "full"
      and r["tokens"] == 6 * 2 * 32 else f"{r['val_loss']} {r['params']} vs {v} {p}")
PY
line() { sed -n "s/^$1 //p" "$tmp/fields"; }
case "$(line keys)" in ok*) ok "the JSON has each of the $(line keys | cut -d' ' -f2) fields of a PyTorch run (diagnostics aside)";;
  *) fail "the JSON lacks fields of a PyTorch run: $(line keys) $(cat "$tmp/fields" | head -n 3 | tr '\n' ' ')";; esac
[ "$(line engine)" = c ] && ok "engine: c" || fail "engine: '$(line engine)'"
[ "$(line curve)" = ok ] && ok "train_curve: 6 finite losses, one per step" || fail "train_curve: $(line curve)"
[ "$(line val_curve)" = ok ] && ok "val_curve: steps 2, 4, 6 (--evals 3), the last = val_loss" || fail "val_curve: $(line val_curve)"
[ "$(line absent)" = ok ] && ok "rms_h, rms_f, grad_norm, alpha: null and named in 'absent' (not measured, not faked)" ||
  fail "absent: $(line absent)"
[ "$(line df)" = ok ] && ok "df_norm_curve: ||dloss/df_l|| of the 2 sublayers at steps 2, 4, 6" || fail "df_norm_curve: $(line df)"
[ "$(line same)" = ok ] && ok "val_loss, params, mode, tokens: what attnres-train reports for these options" ||
  fail "val_loss/params: $(line same)"

# the report of a directory of C runs (sweep ends with it): needs matplotlib, not PyTorch
if "$python" -c 'import matplotlib' 2>/dev/null; then
  mkdir -p "$tmp/sweep/runs" && cp "$tmp/run.json" "$tmp/sweep/runs/"
  exp report "$tmp/sweep" > "$tmp/log" 2>&1; st=$?
  if [ "$st" -eq 0 ] && grep -q "on the C trainer" "$tmp/sweep/table.md" 2>/dev/null; then
    ok "report of a directory of C runs: exit 0, table.md says they ran on the C trainer"
  else fail "report of C runs: exit $st: $(tail -n 2 "$tmp/log" | tr '\n' ' ')"; fi
else skip "report of C runs: $python has no matplotlib (apt-get install python3-matplotlib)"; fi

# refusals
refuse() {
  what=$1 needle=$2; shift 2
  rm -f "$tmp/no.json"
  exp "$@" --out "$tmp/no.json" > "$tmp/log" 2>&1; st=$?
  if [ "$st" -ne 0 ] && grep -qF -- "$needle" "$tmp/log" && [ ! -e "$tmp/no.json" ]; then
    ok "$what: exit $st, no JSON: $(grep -F -- "$needle" "$tmp/log" | head -n 1)"
  else fail "$what: exit $st, want non-zero naming '$needle': $(tail -n 2 "$tmp/log" | tr '\n' ' ')"; fi
}
# shellcheck disable=SC2086
refuse "--engine c --ablation uniform" "not in the C trainer" run --engine c --c-trainer "$train" $opts --ablation uniform
# shellcheck disable=SC2086
refuse "--engine c --diagnostics" "PyTorch's only" run --engine c --c-trainer "$train" $opts --diagnostics
# shellcheck disable=SC2086
refuse "--engine torch without PyTorch" "--engine c runs on the C trainer" run $opts
summary
