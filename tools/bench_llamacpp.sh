#!/bin/sh
# bench_llamacpp.sh - a 256-token prompt at the 110M shape: this library's
# batched prefill (tools/bench.c, BENCH_PREFILL) against llama.cpp's prompt
# processing (llama-bench -p 256 -n 0) on a model of the same shape, the two
# interleaved round by round, with the same number of threads.
#
#   sh tools/bench_llamacpp.sh LLAMACPP_DIR
#
# LLAMACPP_DIR: a llama.cpp checkout built outside this repository, CPU only,
# with llama-bench and llama-convert-llama2c-to-ggml, e.g.
#   git clone https://github.com/ggerganov/llama.cpp /work/llamacpp/src && cd /work/llamacpp/src &&
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF &&
#   cmake --build build -j2 --target llama-bench llama-convert-llama2c-to-ggml
# Nothing of llama.cpp is part of this repository.
#
# The model: stories110M's shape (dim 768, hidden 2048, 12 layers, 12 heads,
# vocab 32000, tied embeddings, seq_len 256), fp32, random N(0, 0.02^2)
# weights (speed does not depend on the values), written as a llama2.c .bin
# by numpy and converted to GGUF (F32) by llama.cpp's own converter, with
# the LLaMA vocabulary of its models/ggml-vocab-llama-spm.gguf. Our side
# runs the same shape made in memory by tools/bench.c (standard residuals,
# and Block AttnRes with N = 8 for reference).
#
# Environment: THREADS [2], ROUNDS [3], WORK [build/llamacpp-bench: the
# model files, ~0.9 GB], PYTHON [/usr/bin/python3], BENCH [build/bench/simd-omp/bench].
set -eu
LL=${1:?usage: sh tools/bench_llamacpp.sh LLAMACPP_DIR}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
WORK=${WORK:-build/llamacpp-bench}
PYTHON=${PYTHON:-/usr/bin/python3}
BENCH=${BENCH:-build/bench/simd-omp/bench}
LLBENCH=$LL/build/bin/llama-bench
CONVERT=$LL/build/bin/llama-convert-llama2c-to-ggml
for f in "$LLBENCH" "$CONVERT" "$BENCH"; do
    [ -x "$f" ] || { echo "bench_llamacpp: $f is missing (build it: see the top of this file, or make $BENCH)" >&2; exit 1; }
done
mkdir -p "$WORK"

if [ ! -f "$WORK/110M.gguf" ]; then
    "$PYTHON" - "$WORK/110M.bin" <<'EOF'
import sys, numpy as np
dim, hidden, layers, heads, kv_heads, vocab, seq = 768, 2048, 12, 12, 12, 32000, 256
rng = np.random.default_rng(0)
def normal(*shape): return (rng.standard_normal(shape, dtype=np.float32) * 0.02)
with open(sys.argv[1] + ".tmp", "wb") as f:
    # llama2.c version 0: 7 int32 (a positive vocab_size: shared classifier), then the tensors in order
    np.array([dim, hidden, layers, heads, kv_heads, vocab, seq], dtype=np.int32).tofile(f)
    normal(vocab, dim).tofile(f)                                       # token embeddings
    np.ones((layers, dim), np.float32).tofile(f)                       # rms_att
    for shape in [(dim, dim)] * 4:                                     # wq, wk, wv, wo
        normal(layers, *shape).tofile(f)
    np.ones((layers, dim), np.float32).tofile(f)                       # rms_ffn
    normal(layers, hidden, dim).tofile(f)                              # w1
    normal(layers, dim, hidden).tofile(f)                              # w2
    normal(layers, hidden, dim).tofile(f)                              # w3
    np.ones(dim, np.float32).tofile(f)                                 # rms_final
    np.zeros((2, seq, dim // heads // 2), np.float32).tofile(f)        # freq_cis (unused)
import os; os.replace(sys.argv[1] + ".tmp", sys.argv[1])
EOF
    "$CONVERT" --copy-vocab-from-model "$LL/models/ggml-vocab-llama-spm.gguf" \
        --llama2c-model "$WORK/110M.bin" --llama2c-output-model "$WORK/110M.gguf.tmp" >"$WORK/convert.log" 2>&1 ||
        { cat "$WORK/convert.log" >&2; exit 1; }
    mv "$WORK/110M.gguf.tmp" "$WORK/110M.gguf"
    rm -f "$WORK/110M.bin"
fi

echo "bench_llamacpp: $THREADS threads, $ROUNDS rounds, llama.cpp $(git -C "$LL" describe --tags --always 2>/dev/null || echo '?')"
round=1
: >"$WORK/rows"
while [ "$round" -le "$ROUNDS" ]; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    OMP_NUM_THREADS=$THREADS BENCH_PREFILL=256 BENCH_SHAPES=110M BENCH_REPS=1 "$BENCH" >"$WORK/ours.log"
    ours=$(awk -F'|' '$3 ~ /standard/ { gsub(/ /, "", $7); print $7 }' "$WORK/ours.log")
    bytok=$(awk -F'|' '$3 ~ /standard/ { gsub(/ /, "", $6); print $6 }' "$WORK/ours.log")
    block=$(awk -F'|' '$3 ~ /block/ { gsub(/ /, "", $7); print $7 }' "$WORK/ours.log")
    "$LLBENCH" -m "$WORK/110M.gguf" -p 256 -n 0 -t "$THREADS" -r 1 -o csv >"$WORK/llama.csv" 2>"$WORK/llama.log" ||
        { cat "$WORK/llama.log" >&2; exit 1; }
    llama=$("$PYTHON" -c 'import csv, sys; r = list(csv.DictReader(open(sys.argv[1]))); print(round(float(r[-1]["avg_ts"]), 1))' \
        "$WORK/llama.csv")
    echo "round $round: ours batched $ours tok/s (token by token $bytok, Block AttnRes batched $block), llama.cpp $llama tok/s (load $load)"
    echo "$ours $bytok $block $llama $load" >>"$WORK/rows"
    round=$((round + 1))
done
echo
echo "| round | ours, batched tok/s | ours, token by token | ours, Block AttnRes batched | llama.cpp pp256 tok/s | ours / llama.cpp | load (1 min) |"
echo "|---:|---:|---:|---:|---:|---:|---|"
awk '{ printf "| %d | %s | %s | %s | %s | %.2f | %s |\n", NR, $1, $2, $3, $4, $1 / $4, $5 }' "$WORK/rows"
