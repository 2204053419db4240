/* bench.c - decode speed of attnres.h, in tokens/s, against the memory-
   bandwidth limit. `make bench` builds this one file three ways (scalar,
   SIMD kernels, SIMD kernels + OpenMP) and runs them one after another.

   What it does, per build:
     1. Measures memory bandwidth: read-only sums over a buffer much larger
        than any cache (1 GB), the best of a plain and an AVX2 reader, on 1
        thread and (OpenMP build) on all threads, there split both into
        halves and into 2 MiB blocks handed to whichever thread is free.
     2. For three model shapes (llama2.c's stories15M, 42M and 110M), makes
        random-weight models in memory (no file I/O; weights in memory the
        program owns, on 2 MiB pages where Linux gives them: see
        bench_malloc): standard residuals, Block AttnRes with
        N = 8 blocks, and Full AttnRes (S = 1). Block AttnRes runs on both
        depth paths, direct and two-phase. The standard and block models
        also run with int8 weights (attnres_model_quantize, groups of 32):
        the rows marked q8, with their own (smaller) bytes per token; and
        once more with int8 activations too (q8.int8_activations = 1, the
        same weights): the rows marked w8a8.
     3. Decodes BENCH_TOKENS tokens from position 0 (greedy, each token fed
        back), BENCH_REPS times, the modes interleaved (standard, block,
        two-phase, full, standard, ...) so that a burst of noise from other
        processes hits every mode alike; reports medians.
     4. Each tokens/s is also given as a fraction of the bandwidth limit:
        bandwidth / bytes of weights read per token (every matvec weight,
        the output projection included, one embedding row, the norm gains
        and the AttnRes vectors). The KV-cache and block-state reads are
        left out (under 1% here), so the limit is slightly optimistic.
        The bandwidth of a shared VM moves by 30% from one second to the
        next, so one figure from the start of the run is a poor yardstick
        for a decode minutes later. Each decode is therefore paired with
        the bandwidth measured right before it and right after it (best of
        2 passes of each reader and split) and judged against the HIGHER of the two, the
        conservative choice; the table gives the median of these per-decode
        fractions.

   PREFILL (BENCH_PREFILL=n): instead of all the above, a prompt of n
   tokens (from position 0) two ways, interleaved per repetition: token by
   token (attnres_forward per position, what attnres_prefill did before it
   had a batched path) and attnres_prefill (chunks of ATTNRES_PREFILL_CHUNK
   positions through each sublayer, matmuls); fp32 standard and Block
   AttnRes models. Prompt tokens/s of each, the ratio within each
   repetition (median), and how far the two last logits are apart.

   usage: bench [ROWS_FILE]      ROWS_FILE: also append the table rows there
   environment: BENCH_TOKENS (default 64), BENCH_REPS (5), BENCH_SHAPES
   (e.g. "15M,110M"; default all three), BENCH_BW_MB (1024), BENCH_PREFILL,
   BENCH_HUGEPAGES (1; 0 = plain malloc, to see what huge pages change). */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime, posix_memalign */
#define _DEFAULT_SOURCE           /* glibc: madvise and MADV_HUGEPAGE */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* ======================================================================== */
/* Memory: large buffers on huge pages                                       */
/* ======================================================================== */

/* One token streams every weight once: 440 MB at the 110M shape, 110,000
   pages of 4 KiB, each a TLB miss and a page-table walk on the way. Linux
   can back memory with 2 MiB pages instead (transparent huge pages), but in
   its "madvise" mode, Debian's default, only where the program asks with
   madvise(MADV_HUGEPAGE) on a 2 MiB-aligned range. Measured here,
   interleaved in one process, 2 threads: the matvecs of a 110M token ran
   1.06-1.30x faster on huge pages, the plain read-only sum 1.03-1.14x
   faster (the gain itself varies with the host's state).
   So this program allocates every large buffer that way: the weights, via
   attnres.h's ATTNRES_MALLOC hook (the library itself stays portable C99),
   and the bandwidth yardstick too, so the limit it measures is the best
   this machine does, not a slower baseline. Elsewhere, or with
   BENCH_HUGEPAGES=0, it is plain malloc. */
static int use_huge_pages = 1;

static void *bench_malloc(size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    if (use_huge_pages && size >= huge) {
        void *p = NULL;
        size_t rounded;
        if (size > SIZE_MAX - huge) return NULL;
        rounded = (size + huge - 1) / huge * huge;   /* whole huge pages */
        if (posix_memalign(&p, huge, rounded) != 0) return NULL;
        (void)madvise(p, rounded, MADV_HUGEPAGE);     /* a request: without THP, 4 KiB pages */
        return p;
    }
#endif
    return malloc(size);
}

/* Megabytes of this process's memory on huge pages right now (Linux), or -1. */
static long huge_pages_mb(void) {
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "AnonHugePages:", 14) == 0) kb = atol(line + 14);
    fclose(f);
    return kb < 0 ? -1 : kb / 1024;
}

#define ATTNRES_MALLOC(sz) bench_malloc(sz)
#define ATTNRES_FREE(p)    free(p)   /* posix_memalign memory is freed with free */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"

#include <unistd.h>   /* isatty */
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(ATTNRES_KERNELS) && defined(_OPENMP)
#define BUILD_NAME "simd-omp"
#elif defined(ATTNRES_KERNELS)
#define BUILD_NAME "simd"
#else
#define BUILD_NAME "scalar"
#endif

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    int n = v ? atoi(v) : 0;
    return n > 0 ? n : fallback;
}

/* ======================================================================== */
/* Memory bandwidth                                                          */
/* ======================================================================== */

/* Sums words[0 .. n) as 64-bit integers with 8 independent accumulators:
   integer adds take one cycle and never wait on each other, so the loop
   runs as fast as memory delivers, whatever the compiler flags. */
static uint64_t sum_words(const uint64_t *words, size_t n) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        s0 += words[i];     s1 += words[i + 1]; s2 += words[i + 2]; s3 += words[i + 3];
        s4 += words[i + 4]; s5 += words[i + 5]; s6 += words[i + 6]; s7 += words[i + 7];
    }
    for (; i < n; i++) s0 += words[i];
    return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
}

/* The same sum with 32-byte AVX2 loads, compiled for AVX2 by a function
   attribute (GCC and Clang on x86-64) and used only if the CPU has it. Why
   a second reader: the plain loop above, built with the default flags,
   turned out to be a weak yardstick; the SIMD decode streamed weights
   faster than it on one thread (103-121% of it). A yardstick is only
   useful if it is the fastest read we know, so each measurement takes the
   best of both readers. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#define BENCH_HAVE_AVX2_READER 1
__attribute__((target("avx2"))) static uint64_t sum_words_avx2(const uint64_t *words, size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    uint64_t lanes[4], s = 0;
    size_t i;
    for (i = 0; i + 16 <= n; i += 16) {   /* 128 bytes: two cache lines per step */
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(words + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(words + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256((const __m256i *)(words + i + 8)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256((const __m256i *)(words + i + 12)));
    }
    _mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
    for (; i < n; i++) s += words[i];
    return s + lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
static int have_avx2_reader(void) { return __builtin_cpu_supports("avx2"); }
#else
static int have_avx2_reader(void) { return 0; }
#endif

static uint64_t read_words(const uint64_t *words, size_t n, int reader) {
#ifdef BENCH_HAVE_AVX2_READER
    if (reader == 1) return sum_words_avx2(words, n);
#endif
    (void)reader;
    return sum_words(words, n);
}

/* Best of `passes` passes of each reader and each split, in GB/s (1e9
   bytes/s), reading the buffer with `threads` threads. Two ways to split
   the buffer between threads:
     halves: each thread one contiguous part (the longest streams);
     blocks: 2 MiB blocks handed out one at a time to whichever thread is
       free (OpenMP dynamic schedule).
   Why both: on this shared VM one vCPU is often slower than the other, and
   then the halves wait for the slow thread, while the decode's guided
   schedule does not; measured interleaved, the blocks read 1.09-1.11x as
   fast as the halves, and with the halves alone some
   decodes came out at 100-116% of the "limit". So the yardstick takes the
   best of every reader and split. One thread reads one contiguous stream. */
static volatile uint64_t bw_sink;   /* keeps the sums from being optimised away */

#define BW_BLOCK_WORDS ((size_t)1 << 18)   /* 2 MiB of 8-byte words */

static uint64_t read_split(const uint64_t *words, size_t n, int threads, int reader, int blocks) {
    uint64_t total = 0;
#ifdef _OPENMP
    if (threads > 1 && blocks) {
        long b, n_blocks = (long)((n + BW_BLOCK_WORDS - 1) / BW_BLOCK_WORDS);
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(dynamic, 1)
        for (b = 0; b < n_blocks; b++) {
            size_t lo = (size_t)b * BW_BLOCK_WORDS, hi = lo + BW_BLOCK_WORDS < n ? lo + BW_BLOCK_WORDS : n;
            total += read_words(words + lo, hi - lo, reader);
        }
    } else if (threads > 1) {
        int t;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
        for (t = 0; t < threads; t++) {
            size_t lo = n / (size_t)threads * (size_t)t, hi = t == threads - 1 ? n : n / (size_t)threads * (size_t)(t + 1);
            total += read_words(words + lo, hi - lo, reader);
        }
    } else
#endif
    {
        (void)threads; (void)blocks;
        total = read_words(words, n, reader);
    }
    return total;
}

static double bandwidth(const uint64_t *words, size_t n, int threads, int passes) {
    double best = 0.0;
    int pass, n_readers = have_avx2_reader() ? 2 : 1, n_splits = threads > 1 ? 2 : 1;
    for (pass = 0; pass < passes * n_readers * n_splits; pass++) {
        int reader = pass % n_readers, blocks = (pass / n_readers) % n_splits;
        double t0 = now_seconds(), dt;
        bw_sink += read_split(words, n, threads, reader, blocks);
        dt = now_seconds() - t0;
        if ((double)n * 8.0 / dt / 1e9 > best) best = (double)n * 8.0 / dt / 1e9;
    }
    return best;
}

/* ======================================================================== */
/* Random models                                                             */
/* ======================================================================== */

typedef struct { const char *name; int dim, n_layers, n_heads, hidden_dim; } shape;

static const shape SHAPES[] = {
    {"15M",  288, 6,  6,  768},    /* llama2.c stories15M  */
    {"42M",  512, 8,  8,  1376},   /* llama2.c stories42M  */
    {"110M", 768, 12, 12, 2048},   /* llama2.c stories110M */
};
#define VOCAB 32000
#define SEQ_LEN 256

/* A fast seeded generator (64-bit LCG, top 24 bits): uniform in [-a, a). */
static uint64_t lcg = 12345u;
static void fill(float *x, size_t n, float a) {
    size_t i;
    for (i = 0; i < n; i++) {
        lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = a * ((float)(lcg >> 40) * (2.0f / 16777216.0f) - 1.0f);
    }
}
static void fill_const(float *x, size_t n, float v) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = v;
}

/* Weights scaled so activations stay O(1): a matrix with `cols` inputs
   draws from [-1/sqrt(cols), 1/sqrt(cols)); norm gains are 1; AttnRes
   pseudo-queries are random and NON-zero (zero ones would make every depth
   softmax uniform), scaled so the depth logits are O(1). */
static int make_model(attnres_model *m, const shape *sh, int residual, int block_size) {
    attnres_config c;
    attnres_weights *w = &m->weights;
    attnres_error err;
    size_t d, hd, nl, L;
    memset(&c, 0, sizeof c);
    c.dim = sh->dim; c.hidden_dim = sh->hidden_dim; c.n_layers = sh->n_layers;
    c.n_heads = sh->n_heads; c.n_kv_heads = sh->n_heads; c.vocab_size = VOCAB; c.seq_len = SEQ_LEN;
    c.rope_theta = 10000.0f; c.norm_eps = 1e-5f; c.tie_embeddings = 1;   /* as the stories models */
    c.residual = residual; c.block_size = block_size;
    if (attnres_model_init(m, &c, &err) != ATTNRES_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        return 0;
    }
    d = (size_t)c.dim; hd = (size_t)c.hidden_dim; nl = (size_t)c.n_layers; L = 2 * nl;
    fill(w->tok_embeddings, (size_t)VOCAB * d, 1.0f);
    fill_const(w->attention_norm, nl * d, 1.0f);
    fill_const(w->ffn_norm, nl * d, 1.0f);
    fill_const(w->norm, d, 1.0f);
    fill(w->wq, nl * d * d, 1.0f / sqrtf((float)d));
    fill(w->wk, nl * d * d, 1.0f / sqrtf((float)d));
    fill(w->wv, nl * d * d, 1.0f / sqrtf((float)d));
    fill(w->wo, nl * d * d, 1.0f / sqrtf((float)d));
    fill(w->w1, nl * hd * d, 1.0f / sqrtf((float)d));
    fill(w->w3, nl * hd * d, 1.0f / sqrtf((float)d));
    fill(w->w2, nl * d * hd, 1.0f / sqrtf((float)hd));
    if (residual == ATTNRES_RESIDUAL_ATTNRES) {
        fill(w->pseudo_query, (L + 1) * d, 2.0f / sqrtf((float)d));
        fill_const(w->key_norm, (L + 1) * d, 1.0f);
    }
    return 1;
}

/* Bytes of weights one token reads: every matvec matrix (output included,
   read once even when tied), one embedding row, the RMSNorm gains, and
   for AttnRes the pseudo-query and key-norm rows. */
static double bytes_per_token(const attnres_model *m) {
    const attnres_config *c = &m->config;
    double d = c->dim, hd = c->hidden_dim, nl = c->n_layers, L = 2 * nl, G = m->q8.group_size;
    double matrices = nl * (4 * d * d + 3 * d * hd)        /* wq wk wv wo, w1 w2 w3 */
                    + (double)c->vocab_size * d;           /* output projection */
    double floats = nl * 2 * d + d + d;                    /* two norms a layer, embedding row, final norm */
    if (c->residual == ATTNRES_RESIDUAL_ATTNRES) floats += 2 * (L + 1) * d;
    /* int8: one byte a weight and a 4-byte scale per G weights */
    return 4.0 * floats + (G > 0 ? matrices * (1.0 + 4.0 / G) : 4.0 * matrices);
}

/* ======================================================================== */
/* Timing                                                                    */
/* ======================================================================== */

/* Decodes n_tokens from position 0, greedy; returns tokens/s, or -1. */
static double decode(const attnres_model *m, attnres_state *s, int n_tokens, float *last_logits) {
    attnres_error err;
    int token = 1, pos;
    double t0 = now_seconds();
    attnres_state_reset(s);
    for (pos = 0; pos < n_tokens; pos++) {
        float *logits = attnres_forward(m, s, token, pos, &err);
        if (!logits) { fprintf(stderr, "bench: %s\n", err.message); return -1.0; }
        token = attnres_argmax(logits, m->config.vocab_size);
        if (last_logits && pos == n_tokens - 1)
            memcpy(last_logits, logits, (size_t)m->config.vocab_size * sizeof(float));
    }
    return n_tokens / (now_seconds() - t0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

#define N_MODES 8
#define N_MODELS 5
#define MAX_REPS 64

/* The memory bandwidth yardstick: the buffer and thread count to measure it
   with, between decodes. */
typedef struct { const uint64_t *words; size_t n; int threads; } yardstick;

static double measure_bandwidth(const yardstick *y) { return bandwidth(y->words, y->n, y->threads, 2); }

static int bench_shape(const shape *sh, int n_tokens, int reps, const yardstick *yard, FILE *rows) {
    /* modes: standard, Block AttnRes direct, the same two-phase, Full AttnRes,
       and standard and block with int8 weights */
    static const char *mode_name[N_MODES] = {"standard", "block", "block two-phase", "full", "standard q8", "block q8",
                                             "standard w8a8", "block w8a8"};
    attnres_model models[N_MODELS];
    attnres_model w8a8[2];   /* views of models[3] and [4] (the same weights) with int8 activations; not freed */
    attnres_state states[N_MODES];
    const attnres_model *model_of[N_MODES];
    double tps[N_MODES][MAX_REPS], ratio[N_MODES][MAX_REPS];
    double frac[N_MODES][MAX_REPS];      /* tok/s / (paired bandwidth / bytes per token) */
    double paired_gbs[N_MODES * MAX_REPS], gbs_before, gbs_after;
    float *logits_direct = NULL, *logits_two = NULL;
    int L = 2 * sh->n_layers, S = (L + 7) / 8, k, r, ok = 1, progress = isatty(fileno(stderr));
    char label[N_MODES][48];
    attnres_error err;

    memset(models, 0, sizeof models);
    memset(states, 0, sizeof states);
    if (!make_model(&models[0], sh, ATTNRES_RESIDUAL_STANDARD, 0) ||
        !make_model(&models[1], sh, ATTNRES_RESIDUAL_ATTNRES, S) ||
        !make_model(&models[2], sh, ATTNRES_RESIDUAL_ATTNRES, 1) ||
        !make_model(&models[3], sh, ATTNRES_RESIDUAL_STANDARD, 0) ||
        !make_model(&models[4], sh, ATTNRES_RESIDUAL_ATTNRES, S)) { ok = 0; goto done; }
    if (attnres_model_quantize(&models[3], 32, &err) != ATTNRES_OK ||
        attnres_model_quantize(&models[4], 32, &err) != ATTNRES_OK) {
        fprintf(stderr, "bench: %s\n", err.message); ok = 0; goto done;
    }
    model_of[0] = &models[0]; model_of[1] = &models[1]; model_of[2] = &models[1]; model_of[3] = &models[2];
    model_of[4] = &models[3]; model_of[5] = &models[4];
    w8a8[0] = models[3]; w8a8[0].q8.int8_activations = 1;
    w8a8[1] = models[4]; w8a8[1].q8.int8_activations = 1;
    model_of[6] = &w8a8[0]; model_of[7] = &w8a8[1];
    {
        long huge_mb = huge_pages_mb();   /* weights and yardstick: what Linux really gave */
        if (huge_mb >= 0) printf("  %s: %ld MB of this process on huge pages\n", sh->name, huge_mb);
    }
    for (k = 0; k < N_MODES; k++)
        if (attnres_state_init(&states[k], &model_of[k]->config, &err) != ATTNRES_OK) {
            fprintf(stderr, "bench: %s\n", err.message); ok = 0; goto done;
        }
    states[2].path = ATTNRES_PATH_TWO_PHASE;
    snprintf(label[0], sizeof label[0], "standard");
    snprintf(label[1], sizeof label[1], "block S=%d N=%d", S, attnres_n_blocks(&models[1].config));
    snprintf(label[2], sizeof label[2], "block S=%d two-phase", S);
    snprintf(label[3], sizeof label[3], "full S=1 N=%d", L);
    snprintf(label[4], sizeof label[4], "standard q8");
    snprintf(label[5], sizeof label[5], "block S=%d q8", S);
    snprintf(label[6], sizeof label[6], "standard w8a8");
    snprintf(label[7], sizeof label[7], "block S=%d w8a8", S);

    /* warm-up: one short decode per mode (page tables, caches, OpenMP threads) */
    for (k = 0; k < N_MODES; k++)
        if (decode(model_of[k], &states[k], 4, NULL) < 0) { ok = 0; goto done; }

    gbs_before = measure_bandwidth(yard);
    for (r = 0; r < reps; r++)
        for (k = 0; k < N_MODES; k++) {
            double gbs;
            if ((tps[k][r] = decode(model_of[k], &states[k], n_tokens, NULL)) < 0) { ok = 0; goto done; }
            gbs_after = measure_bandwidth(yard);
            gbs = gbs_after > gbs_before ? gbs_after : gbs_before;   /* the higher: conservative */
            paired_gbs[r * N_MODES + k] = gbs;
            frac[k][r] = tps[k][r] / (gbs * 1e9 / bytes_per_token(model_of[k]));
            gbs_before = gbs_after;   /* the measurement after this decode is the one before the next */
            if (progress)   /* a progress line on a terminal, overwritten in place */
                fprintf(stderr, "\r  %s rep %d/%d %-22s %8.2f tok/s", sh->name, r + 1, reps, mode_name[k], tps[k][r]);
        }
    if (progress) fprintf(stderr, "\r%70s\r", "");
    for (r = 0; r < reps; r++)
        for (k = 0; k < N_MODES; k++) ratio[k][r] = tps[k][r] / tps[0][r];   /* same rep: same noise */

    for (k = 0; k < N_MODES; k++) {
        double med = median(tps[k], reps), med_ratio = median(ratio[k], reps), med_frac = median(frac[k], reps);
        char line[512];
        snprintf(line, sizeof line, "| %s | %s | %s | %.2f | %.3f | %.1f | %.0f%% |", sh->name, label[k], BUILD_NAME,
                 med, med_ratio, bytes_per_token(model_of[k]) / 1e6, 100.0 * med_frac);
        printf("%s\n", line);
        if (rows) fprintf(rows, "%s\n", line);
    }
    {
        int n = reps * N_MODES;
        double lo = paired_gbs[0], hi = paired_gbs[0];
        for (k = 1; k < n; k++) {
            if (paired_gbs[k] < lo) lo = paired_gbs[k];
            if (paired_gbs[k] > hi) hi = paired_gbs[k];
        }
        printf("  bandwidth paired with these %d decodes (%d thread%s): median %.1f GB/s, range %.1f-%.1f\n",
               n, yard->threads, yard->threads > 1 ? "s" : "", median(paired_gbs, n), lo, hi);
    }

    /* The two depth paths on the same input: how far apart their logits are
       (both are floats; the two-phase merge rounds differently). */
    logits_direct = (float *)malloc(VOCAB * sizeof(float));
    logits_two = (float *)malloc(VOCAB * sizeof(float));
    if (logits_direct && logits_two &&
        decode(model_of[1], &states[1], 8, logits_direct) > 0 && decode(model_of[2], &states[2], 8, logits_two) > 0) {
        double worst = 0.0, largest = 0.0;
        for (k = 0; k < VOCAB; k++) {
            if (fabs((double)logits_direct[k] - logits_two[k]) > worst) worst = fabs((double)logits_direct[k] - logits_two[k]);
            if (fabs((double)logits_direct[k]) > largest) largest = fabs((double)logits_direct[k]);
        }
        printf("  two-phase vs direct, logits after 8 tokens: max |diff| %.3g (largest |logit| %.3g)\n", worst, largest);
    }

done:
    free(logits_direct); free(logits_two);
    for (k = 0; k < N_MODES; k++) attnres_state_free(&states[k]);
    for (k = 0; k < N_MODELS; k++) attnres_model_free(&models[k]);
    return ok;
}

/* ======================================================================== */
/* Prefill: a whole prompt, token by token against batched                   */
/* ======================================================================== */

/* The prompt tokens[n] from position 0 token by token; returns tokens/s. */
static double prompt_by_token(const attnres_model *m, attnres_state *s, const int *tokens, int n, float *logits_out) {
    attnres_error err;
    float *logits = NULL;
    int pos;
    double t0 = now_seconds();
    attnres_state_reset(s);
    for (pos = 0; pos < n; pos++)
        if (!(logits = attnres_forward(m, s, tokens[pos], pos, &err))) {
            fprintf(stderr, "bench: %s\n", err.message);
            return -1.0;
        }
    t0 = n / (now_seconds() - t0);
    memcpy(logits_out, logits, (size_t)m->config.vocab_size * sizeof(float));
    return t0;
}

/* The same prompt through attnres_prefill; returns tokens/s. */
static double prompt_batched(const attnres_model *m, attnres_state *s, const int *tokens, int n, float *logits_out) {
    attnres_error err;
    float *logits;
    double t0 = now_seconds();
    attnres_state_reset(s);
    if (!(logits = attnres_prefill(m, s, tokens, n, &err))) {
        fprintf(stderr, "bench: %s\n", err.message);
        return -1.0;
    }
    t0 = n / (now_seconds() - t0);
    memcpy(logits_out, logits, (size_t)m->config.vocab_size * sizeof(float));
    return t0;
}

static int bench_prefill(const shape *sh, int n, int reps, FILE *rows) {
    attnres_model models[2];
    attnres_state state;
    attnres_error err;
    float *a = (float *)malloc(VOCAB * sizeof(float)), *b = (float *)malloc(VOCAB * sizeof(float));
    int tokens[SEQ_LEN], L = 2 * sh->n_layers, S = (L + 7) / 8, k, r, i, ok = 1;
    memset(models, 0, sizeof models);
    memset(&state, 0, sizeof state);
    for (i = 0; i < n; i++) tokens[i] = (int)((7u * (unsigned)i * (unsigned)i + 3u * (unsigned)i + 11u) % VOCAB);
    if (!a || !b || !make_model(&models[0], sh, ATTNRES_RESIDUAL_STANDARD, 0) ||
        !make_model(&models[1], sh, ATTNRES_RESIDUAL_ATTNRES, S)) { ok = 0; goto done; }
    for (k = 0; k < 2 && ok; k++) {
        double by_token[MAX_REPS], batched[MAX_REPS], ratio[MAX_REPS], worst = 0.0, largest = 0.0;
        char line[512];
        if (attnres_state_init(&state, &models[k].config, &err) != ATTNRES_OK) {
            fprintf(stderr, "bench: %s\n", err.message); ok = 0; break;
        }
        if (prompt_batched(&models[k], &state, tokens, 8, a) < 0) { ok = 0; break; }   /* warm-up */
        for (r = 0; r < reps && ok; r++) {   /* interleaved: the same noise hits both */
            by_token[r] = prompt_by_token(&models[k], &state, tokens, n, a);
            batched[r] = prompt_batched(&models[k], &state, tokens, n, b);
            if (by_token[r] < 0 || batched[r] < 0) ok = 0;
            ratio[r] = batched[r] / by_token[r];
        }
        for (i = 0; ok && i < VOCAB; i++) {
            if (fabs((double)a[i] - b[i]) > worst) worst = fabs((double)a[i] - b[i]);
            if (fabs((double)a[i]) > largest) largest = fabs((double)a[i]);
        }
        if (ok) {
            snprintf(line, sizeof line, "| %s | %s | %s | %d | %.1f | %.1f | %.2f | %.1e |", sh->name,
                     k ? "block" : "standard", BUILD_NAME, n, median(by_token, reps), median(batched, reps),
                     median(ratio, reps), worst / largest);
            printf("%s\n", line);
            if (rows) fprintf(rows, "%s\n", line);
            fflush(stdout);
        }
        attnres_state_free(&state);
    }
done:
    attnres_state_free(&state);
    attnres_model_free(&models[0]);
    attnres_model_free(&models[1]);
    free(a); free(b);
    return ok;
}

/* ======================================================================== */
/* main                                                                      */
/* ======================================================================== */

static void print_page_mode(void) {
    char mode[128] = "unknown (no /sys/kernel/mm/transparent_hugepage)";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(mode, sizeof mode, f)) snprintf(mode, sizeof mode, "unreadable");
        mode[strcspn(mode, "\n")] = '\0';
        fclose(f);
    }
    printf("pages: %s; transparent huge pages: %s\n",
           use_huge_pages ? "2 MiB pages requested for buffers >= 2 MiB (madvise)" : "plain malloc (BENCH_HUGEPAGES=0)", mode);
}

static void print_cpu(void) {
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    const char *model = "unknown (no /proc/cpuinfo)";
    int cpus = 0;
    static char found[512];
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "processor", 9) == 0) cpus++;
            if (!found[0] && strncmp(line, "model name", 10) == 0) {
                const char *p = strchr(line, ':');
                if (p) {
                    snprintf(found, sizeof found, "%s", p + 2);
                    found[strcspn(found, "\n")] = '\0';
                }
            }
        }
        fclose(f);
        if (found[0]) model = found;
    }
    printf("cpu: %s (%d logical cpus)\n", model, cpus);
}

int main(int argc, char **argv) {
    int n_tokens = env_int("BENCH_TOKENS", 64), reps = env_int("BENCH_REPS", 5);
    size_t bw_bytes = (size_t)env_int("BENCH_BW_MB", 1024) << 20, n_words = bw_bytes / 8;
    const char *only = getenv("BENCH_SHAPES");
    double bw1, bwn = 0.0;
    yardstick yard;
    int threads = 1, i, ok = 1;
    uint64_t *buf;
    FILE *rows = NULL;

    if (argc > 2) { fprintf(stderr, "usage: bench [ROWS_FILE]\n"); return 2; }
    if (getenv("BENCH_HUGEPAGES") && strcmp(getenv("BENCH_HUGEPAGES"), "0") == 0) use_huge_pages = 0;
    if (reps > MAX_REPS) reps = MAX_REPS;
    if (n_tokens > SEQ_LEN) n_tokens = SEQ_LEN;
    if (argc == 2 && !(rows = fopen(argv[1], "a"))) { fprintf(stderr, "bench: cannot open %s\n", argv[1]); return 1; }
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    if (getenv("BENCH_PREFILL")) {   /* the prompt benchmark instead of decode */
        int n = env_int("BENCH_PREFILL", 256);
        if (n < 1 || n > SEQ_LEN) { fprintf(stderr, "bench: BENCH_PREFILL must be in [1, %d]\n", SEQ_LEN); return 2; }
        printf("build: %s   kernels: %s   threads: %d\n", BUILD_NAME,
#ifdef ATTNRES_KERNELS
               attnres_kernel_name(),
#else
               "none (the scalar loops of attnres.h)",
#endif
               threads);
        print_cpu();
        printf("prefill: a %d-token prompt from pos 0, token by token and batched (chunks of %d), "
               "interleaved, %d repetitions (median); fp32, vocab %d\n", n, ATTNRES_PREFILL_CHUNK, reps, VOCAB);
        printf("| shape | model | build | prompt | token by token tok/s | batched tok/s | batched / token | "
               "logits max diff / max |logit| |\n|---|---|---|---:|---:|---:|---:|---:|\n");
        for (i = 0; i < (int)(sizeof SHAPES / sizeof SHAPES[0]) && ok; i++) {
            if (only && !strstr(only, SHAPES[i].name)) continue;
            ok = bench_prefill(&SHAPES[i], n, reps, rows);
        }
        if (rows) fclose(rows);
        return ok ? 0 : 1;
    }
    printf("build: %s   kernels: %s\n", BUILD_NAME,
#ifdef ATTNRES_KERNELS
           attnres_kernel_name()
#else
           "none (the scalar loops of attnres.h)"
#endif
    );
    print_cpu();
    printf("decode: %d tokens from pos 0, %d repetitions (median), seq_len %d, vocab %d, tied embeddings\n",
           n_tokens, reps, SEQ_LEN, VOCAB);
    print_page_mode();

    /* 1. bandwidth, on a buffer we fill first (so every page is really there) */
    buf = (uint64_t *)bench_malloc(n_words * sizeof *buf);
    if (!buf) { fprintf(stderr, "bench: cannot allocate %zu MB for the bandwidth test\n", bw_bytes >> 20); return 1; }
    {
        size_t j;
        for (j = 0; j < n_words; j++) buf[j] = j;
    }
    bw1 = bandwidth(buf, n_words, 1, 5);
    printf("memory bandwidth at the start (read-only sum over %zu MB, best of 5 passes x %s%s): 1 thread %.1f GB/s",
           bw_bytes >> 20, have_avx2_reader() ? "2 readers (plain, AVX2)" : "1 reader",
           threads > 1 ? " x 2 splits (halves, 2 MiB blocks)" : "", bw1);
    if (threads > 1) {
        bwn = bandwidth(buf, n_words, threads, 5);
        printf(", %d threads %.1f GB/s", threads, bwn);
    }
    printf("\n");
    yard.words = buf; yard.n = n_words; yard.threads = threads;   /* this build's threads */
    printf("of bw limit = tok/s / (bandwidth / bytes of weights per token), the bandwidth measured on\n"
           "%d thread%s right before and right after each decode (the higher of the two); median over repetitions\n",
           threads, threads > 1 ? "s" : "");

    /* 2.-4. every shape */
    printf("| shape | mode | build | tok/s | vs standard | MB/token | of bw limit |\n|---|---|---|---:|---:|---:|---:|\n");
    for (i = 0; i < (int)(sizeof SHAPES / sizeof SHAPES[0]) && ok; i++) {
        if (only && !strstr(only, SHAPES[i].name)) continue;
        fflush(stdout);
        ok = bench_shape(&SHAPES[i], n_tokens, reps, &yard, rows);
    }
    if (rows) fclose(rows);
    free(buf);
    return ok ? 0 : 1;
}
