#!/bin/sh
# bench_train.sh - training tokens/s: attnres-train (SIMD+OpenMP) against
# tools/experiment.py run (PyTorch with OpenBLAS), side by side.
#
#   make bench-train        (builds build/simd-omp/attnres-train, then runs this)
#   sh tools/bench_train.sh [C_TRAINER]
#
# For each round and each shape (dim x L x mode) the two programs run one
# after the other, so the machine's load hits both alike; the ratio is taken
# within a round, and the table shows every round's rates and the median
# ratio. Shapes are tools/experiment.py's: hidden_dim 128 (dim 48) or 168
# (dim 64), 4 query heads, 2 kv heads, 32 windows of 64 bytes per step;
# standard residuals, Block AttnRes with N = 4 blocks (S = L/4) and Full
# AttnRes (S = 1). Both train on models/corpus_train.txt.
#
# Environment (defaults in brackets):
#   THREADS  threads for both programs [2]
#   STEPS    optimizer steps per run [10]; the first step is included in both
#   ROUNDS   rounds [3]
#   DIMS     model widths [48 64]       DEPTHS  L = sublayers [8 32]
#   MODES    standard block full [all three]
#   OPENBLAS directory holding OpenBLAS's libblas.so.3, put on
#            LD_LIBRARY_PATH for PyTorch only
#            [build/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread]; get it with
#              mkdir -p build/openblas && cd build/openblas && apt-get download libopenblas0-pthread &&
#              dpkg-deb -x libopenblas0-pthread_*.deb . && cd ../..
#   PYTHON   [/usr/bin/python3]
#   OMP_WAIT_POLICY  for both programs [passive]: threads that wait at a
#            join sleep instead of spinning. On a machine shared with other
#            work the spinning default lets a waiting thread burn the time
#            slice its partner needs; measured here under load 15 on 2
#            cores, attnres-train ran 20-40x slower with it (docs/performance.md).
#
# Rates: attnres-train's own "tok/s" of its last step line (training steps
# only, start-up and the final validation excluded); experiment.py's tokens
# / train_wall_s of its JSON (its training loop; torch's import and the
# final validation excluded; one validation point at the end of the loop is
# inside, on 256 bytes). Not a timed test: nothing here passes or fails on
# speed.
set -eu
C=${1:-build/simd-omp/attnres-train}
THREADS=${THREADS:-2}
STEPS=${STEPS:-10}
ROUNDS=${ROUNDS:-3}
DIMS=${DIMS:-48 64}
DEPTHS=${DEPTHS:-8 32}
MODES=${MODES:-standard block full}
OPENBLAS=${OPENBLAS:-build/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread}
PYTHON=${PYTHON:-/usr/bin/python3}
TEXT=models/corpus_train.txt,models/corpus_val.txt
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export OMP_WAIT_POLICY

[ -x "$C" ] || { echo "bench_train: no trainer at $C (make SIMD=1 OMP=1)" >&2; exit 1; }
[ -f "$OPENBLAS/libblas.so.3" ] || { echo "bench_train: no $OPENBLAS/libblas.so.3 (see the top of this file)" >&2; exit 1; }
OPENBLAS=$(cd "$OPENBLAS" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

hidden_of() { if [ "$1" = 48 ]; then echo 128; else echo 168; fi; }

# the residual options of both programs for a mode at depth L
c_mode() {
    case $1 in
        standard) echo "--residual standard" ;;
        block) echo "--residual attnres --block-size $(($2 / 4))" ;;
        full) echo "--residual attnres --block-size 1" ;;
    esac
}
py_mode() {
    case $1 in
        standard) echo "--residual standard" ;;
        block) echo "--residual attnres --blocks 4" ;;
        full) echo "--residual attnres --block-size 1" ;;
    esac
}

run_c() {   # dim L mode -> tokens/s
    # shellcheck disable=SC2046
    OMP_NUM_THREADS=$THREADS "$C" models/corpus_train.txt --val models/corpus_val.txt --val-bytes 256 \
        --dim "$1" --hidden-dim "$(hidden_of "$1")" --layers $(($2 / 2)) --heads 4 --kv-heads 2 \
        --seq-len 64 --window 64 --batch 32 --steps "$STEPS" --warmup 1 --log-every "$STEPS" \
        $(c_mode "$3" "$2") -o "$tmp/c.safetensors" 2>"$tmp/c.log" ||
        { cat "$tmp/c.log" >&2; exit 1; }
    sed -n 's/.* \([0-9][0-9]*\) tok\/s .*/\1/p' "$tmp/c.log" | tail -n 1
}

run_py() {   # dim L mode -> tokens/s
    # shellcheck disable=SC2046
    OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS LD_LIBRARY_PATH=$OPENBLAS \
        "$PYTHON" tools/experiment.py run --corpus "$TEXT" --dim "$1" --hidden-dim "$(hidden_of "$1")" \
        --n-layers $(($2 / 2)) --heads 4 --kv-heads 2 --batch 32 --window 64 --steps "$STEPS" --warmup 1 \
        --evals 1 --curve-bytes 256 --val-bytes 256 --threads "$THREADS" $(py_mode "$3") \
        --out "$tmp/py.json" >"$tmp/py.log" 2>&1 || { cat "$tmp/py.log" >&2; exit 1; }
    "$PYTHON" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(round(r["tokens"] / r["train_wall_s"]))' \
        "$tmp/py.json"
}

echo "bench_train: $C, $THREADS threads (OMP_WAIT_POLICY=$OMP_WAIT_POLICY), $STEPS steps of 32 x 64 bytes, $ROUNDS rounds"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
round=1
while [ "$round" -le "$ROUNDS" ]; do
    for dim in $DIMS; do for L in $DEPTHS; do for mode in $MODES; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        c=$(run_c "$dim" "$L" "$mode")
        py=$(run_py "$dim" "$L" "$mode")
        echo "round $round dim $dim L $L $mode: attnres-train $c tok/s, PyTorch $py tok/s (load $load)"
        echo "$dim $L $mode $c $py $load" >>"$tmp/rows"
    done; done; done
    round=$((round + 1))
done

echo
echo "| dim | L | mode | attnres-train tok/s | PyTorch+OpenBLAS tok/s | C / PyTorch per round | median | load (1 min) |"
echo "|---:|---:|---|---|---|---|---:|---|"
for dim in $DIMS; do for L in $DEPTHS; do for mode in $MODES; do
    awk -v d="$dim" -v l="$L" -v m="$mode" '
        $1 == d && $2 == l && $3 == m { n++; c[n] = $4; p[n] = $5; r[n] = $4 / $5; ld[n] = $6 }
        END {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
            med = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
            cs = ""; ps = ""; rs = ""; ls = ""
            for (i = 1; i <= n; i++) { cs = cs (i > 1 ? ", " : "") c[i]; ps = ps (i > 1 ? ", " : "") p[i];
                                        ls = ls (i > 1 ? ", " : "") ld[i] }
            for (i = 1; i <= n; i++) rs = rs (i > 1 ? ", " : "") sprintf("%.2f", c[i] / p[i])
            printf "| %s | %s | %s | %s | %s | %s | %.2f | %s |\n", d, l, m, cs, ps, rs, med, ls
        }' "$tmp/rows"
done; done; done
