/* attnres_kernels.c - the optional fast kernels of attnres.h.

   attnres.h is the specification: plain scalar loops. This file holds the
   same hot loops written for speed, and is the ONLY place in the
   project with intrinsics, unrolling or threads. It is switched on at build
   time; tests/test_kernels.c checks every kernel against its scalar twin,
   and the whole golden suite runs through these kernels in a kernel build.

   VARIANTS (chosen at compile time by what the compiler targets)
     AVX2 + FMA, x86-64      make SIMD=1 test
                               = cc -O2 -mavx2 -mfma -DATTNRES_KERNELS -c attnres_kernels.c
                             Needs a CPU with AVX2 and FMA (Intel Haswell 2013+, AMD
                             Zen); on an older x86-64 the program stops with SIGILL.
     AVX2 + FMA + OpenMP     make SIMD=1 OMP=1 test
                               = the above plus -fopenmp; threads from OMP_NUM_THREADS
     NEON, aarch64           make SIMD=1 test   on an arm64 machine (NEON is always
                             there on aarch64, no flag needed). Dot products only.
                             Without an ARM machine: make test-neon (mk/neon.mk) runs
                             the whole suite under qemu-aarch64; not timed on ARM hardware.
     portable scalar         any other target: the header's own scalar loops
     CUDA                    attnres_kernels.cu, make CUDA=1 (see that file)

   THE KERNELS: the header's two hooks (see "THE HOOKS" in attnres.h: only
   these two loops carry enough of the work to be worth a kernel). Each
   means exactly what the scalar function of the same name in attnres.h
   means; the scalar one is the reference.
     attnres_kernel_matvec            == attnres_matvec            out = W x
     attnres_kernel_matvec_q8         == attnres_matvec_q8         out = (scale * q) x, int8 weights
     attnres_kernel_attend            == attnres_attend            causal GQA attention
     attnres_kernel_name              which variant was compiled, e.g. "avx2+fma, openmp x2 threads"
   Nothing else is copied here: what this file does not speed up (the
   softmax inside attention, axpy and dot where there is no SIMD) is the
   header's own code, from a private copy of the implementation
   (ATTNRES_STATIC, below).

   HOW THE RESULTS DIFFER FROM THE SCALAR LOOPS
     Only in the order of float additions and in fused multiply-adds (one
     rounding instead of two). Every product and every elementwise step
     (softmax, exp) is the same operation on the same inputs, so each
     result differs from the scalar one by rounding only; the bound and
     its test are in tests/test_kernels.c. With OpenMP every output row is
     still computed by one thread in one fixed order, so no result depends
     on the number of threads (tested bit for bit).

   SHAPES
     Nothing is assumed about sizes or alignment: every vector loop is guarded
     by "i + 8 <= n", a scalar tail finishes the rest (all of it when n < 8),
     and all loads and stores are unaligned (_mm256_loadu_ps), which on
     AVX2 hardware cost the same as aligned ones when the data happens to be
     aligned. */
#ifndef ATTNRES_KERNELS
#define ATTNRES_KERNELS   /* so attnres.h declares the kernels and the compiler checks these definitions */
#endif
/* A private (static) copy of the header's implementation: its scalar
   functions are this file's fallbacks, so none of them is rewritten here. */
#define ATTNRES_STATIC
#define ATTNRES_IMPLEMENTATION
#include "attnres.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>    /* snprintf, for attnres_kernel_name */

#if defined(__AVX2__) && defined(__FMA__)
#define ATTNRES_K_AVX2 1
#include <immintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#define ATTNRES_K_NEON 1
#include <arm_neon.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

/* ======================================================================== */
/* Dot product: the one loop every kernel is built from                      */
/* ======================================================================== */

#if defined(ATTNRES_K_AVX2)

/* The 8 lanes of v added into one float. Adds the high half onto the low
   half, then pairs, then the last two: any order is a valid float sum. */
static float k_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); /* 4 */
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                         /* 2 */
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));                                     /* 1 */
    return _mm_cvtss_f32(s);
}

/* a[n] . b[n]. Four accumulators, lane k of acc_m summing the products
   i = 32 t + 8 m + k. Why four: an FMA's result is ready only ~4 cycles
   later and two FMAs can start per cycle, so one chain would leave the
   unit idle most of the time; four chains keep up with data coming from
   L1/L2, and for matvec (weights from DRAM) arithmetic is then never the
   bottleneck. Correct for any n: the 32-step runs while 32 floats remain,
   the 8-step while 8 remain, the scalar tail adds the last n mod 8 (all n
   when n < 8). Reordering the sum is the only difference from the scalar
   loop; the bound is in tests/test_kernels.c. */
static float k_dot(const float *a, const float *b, int n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    float sum;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    sum = k_hsum8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

#elif defined(ATTNRES_K_NEON)

/* a[n] . b[n] with two 4-lane accumulators (same reasoning as AVX2: two
   independent FMA chains); vaddvq_f32 sums the 4 lanes; scalar tail. */
static float k_dot(const float *a, const float *b, int n) {
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    float sum;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    sum = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

#else

#define k_dot attnres_dot   /* no SIMD here: the header's scalar loop */

#endif

/* y[n] += a * x[n]. Elementwise, so no sum is reordered: each y[i] gets
   the one update of attnres_axpy, fused on AVX2 (one rounding instead of
   two, the only difference). Elsewhere: the header's loop. */
#if defined(ATTNRES_K_AVX2)
static void k_axpy(float *y, float a, const float *x, int n) {
    __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    attnres_axpy(y + i, a, x + i, n - i);   /* the tail, as the header does it */
}
#else
#define k_axpy attnres_axpy
#endif

/* ======================================================================== */
/* matvec: out[rows] = w[rows, cols] x[cols]                                 */
/* ======================================================================== */

/* One token's forward pass reads every weight exactly once, so matvec is
   bound by memory bandwidth, not arithmetic: the job is to keep the loads
   streaming. One row at a time, so the weights are read strictly in
   address order, the pattern hardware prefetchers follow best; x (a few
   KB) stays in L1 and is re-read for every row at no cost. (Processing 4
   rows at once to reuse x was measured slower on the machine this was
   written on, AMD EPYC: 4 interleaved streams 3 KB apart prefetch worse
   than one, and x never was the bottleneck.)

   OpenMP: rows are independent (each writes only out[r], summed in one
   fixed order by one thread), so they may run on any thread in any order
   and the result does not depend on the thread count. The schedule is
   guided with chunks of at least 32 rows: each chunk a thread takes is
   about the remaining rows divided by the thread count, so the first ones
   are long contiguous streams the prefetchers like, later ones shrink, and
   the last rows go 32 at a time to whichever thread is free. Why not the
   simpler schedules, as measured here (2 vCPUs of a shared VM; the matvecs
   of one 110M-parameter token, the schedules interleaved in one process,
   18 repetitions):
     static (one block per thread): when one vCPU runs slower than the
       other (perf showed one thread idle at the join 16% of the time), the
       fast thread waits at every one of a token's ~85 joins;
     dynamic, 64 rows: balances, but every small chunk restarts a stream;
       1.2x slower than static in one session, faster in another;
     guided, 32: the fastest of the three in each of three runs, 5-11%
       over static by the median. The machine's noise is as large as these
       gaps, which is why they were measured interleaved.

   Threshold, in weights (rows*cols): starting and joining a parallel
   region costs a few microseconds; below 2^15 weights (128 KiB) a matvec
   takes about that long on one core, so splitting it would not pay. Every
   matrix of the benchmark models is above it; the tiny golden-test models
   are below it (which is why tests/test_kernels.c runs large shapes too). */
#define ATTNRES_K_OMP_MIN_WEIGHTS 32768

void attnres_kernel_matvec(float *out, const float *w, const float *x, int rows, int cols) {
    int r;
#ifdef _OPENMP
#pragma omp parallel for schedule(guided, 32) \
    if ((size_t)rows * (size_t)cols >= ATTNRES_K_OMP_MIN_WEIGHTS)
#endif
    for (r = 0; r < rows; r++) out[r] = k_dot(w + (size_t)r * (size_t)cols, x, cols);
}

/* ======================================================================== */
/* matvec_q8: out[rows] = (scale * q)[rows, cols] x[cols], int8 weights       */
/* ======================================================================== */

/* The int8 form reads a quarter of the bytes of fp32, so the loop must now
   turn bytes into products four times as fast to stay memory-bound. 8 int8
   values at a time are widened to 32-bit integers, converted to float,
   multiplied by their group's scale and multiply-added with x (x stays
   fp32), into four accumulators that run through the whole row (the FMA
   latency argument of k_dot). The scalar loop instead sums q_j x_j over a
   group and then multiplies by the scale once: the same products, summed
   in another order (rounding only; tests/test_kernels.c bounds it). Per 8
   weights that is widen, convert, multiply, multiply-add; measured on one
   core with the data in cache, 1.15-1.6x the rate of summing per group and
   combining four partial sums at the end of every group, which spent as
   many instructions on the combining as on the products (a whole 110M
   decode on two threads: 0.97-1.08x, within the machine's noise). G not a
   multiple of 8: the header's scalar loop. */
#if defined(ATTNRES_K_AVX2)

/* 8 int8 values at q, as 8 floats (exact: |q| <= 127). */
static __m256 k_q8_load8(const int8_t *q) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)q)));
}

/* row q [cols] with scales [cols/G], dotted with x [cols]; G % 8 == 0 */
static float k_dot_q8(const int8_t *q, const float *scale, const float *x, int cols, int G) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int g, j, groups = cols / G;
    for (g = 0; g < groups; g++) {
        const int8_t *qg = q + (size_t)g * G;
        const float *xg = x + (size_t)g * G;
        __m256 s = _mm256_set1_ps(scale[g]);
        for (j = 0; j + 32 <= G; j += 32) {
            acc0 = _mm256_fmadd_ps(_mm256_mul_ps(k_q8_load8(qg + j), s), _mm256_loadu_ps(xg + j), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_mul_ps(k_q8_load8(qg + j + 8), s), _mm256_loadu_ps(xg + j + 8), acc1);
            acc2 = _mm256_fmadd_ps(_mm256_mul_ps(k_q8_load8(qg + j + 16), s), _mm256_loadu_ps(xg + j + 16), acc2);
            acc3 = _mm256_fmadd_ps(_mm256_mul_ps(k_q8_load8(qg + j + 24), s), _mm256_loadu_ps(xg + j + 24), acc3);
        }
        for (; j < G; j += 8)
            acc0 = _mm256_fmadd_ps(_mm256_mul_ps(k_q8_load8(qg + j), s), _mm256_loadu_ps(xg + j), acc0);
    }
    return k_hsum8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}
#define ATTNRES_K_HAVE_Q8 1

#elif defined(ATTNRES_K_NEON)

/* row q [cols] with scales [cols/G], dotted with x [cols]; G % 8 == 0.
   8 int8 values widen to int16, then to two int32x4, then float. */
static float k_dot_q8(const int8_t *q, const float *scale, const float *x, int cols, int G) {
    float32x4_t total = vdupq_n_f32(0.0f);
    int g, j, groups = cols / G;
    for (g = 0; g < groups; g++) {
        const int8_t *qg = q + (size_t)g * G;
        const float *xg = x + (size_t)g * G;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
        for (j = 0; j < G; j += 8) {
            int16x8_t w16 = vmovl_s8(vld1_s8(qg + j));
            a0 = vfmaq_f32(a0, vcvtq_f32_s32(vmovl_s16(vget_low_s16(w16))), vld1q_f32(xg + j));
            a1 = vfmaq_f32(a1, vcvtq_f32_s32(vmovl_s16(vget_high_s16(w16))), vld1q_f32(xg + j + 4));
        }
        total = vfmaq_n_f32(total, vaddq_f32(a0, a1), scale[g]);
    }
    return vaddvq_f32(total);
}
#define ATTNRES_K_HAVE_Q8 1

#endif

void attnres_kernel_matvec_q8(float *out, const int8_t *q, const float *scale, const float *x,
                              int rows, int cols, int group_size) {
    int r;
#ifdef ATTNRES_K_HAVE_Q8
    if (group_size % 8 == 0) {
        int groups = cols / group_size;
#ifdef _OPENMP
#pragma omp parallel for schedule(guided, 32) \
    if ((size_t)rows * (size_t)cols >= 4 * ATTNRES_K_OMP_MIN_WEIGHTS)   /* same bytes as the fp32 threshold */
#endif
        for (r = 0; r < rows; r++)
            out[r] = k_dot_q8(q + (size_t)r * (size_t)cols, scale + (size_t)r * (size_t)groups, x, cols, group_size);
        return;
    }
#endif
    (void)r;
    attnres_matvec_q8(out, q, scale, x, rows, cols, group_size);   /* the header's loop */
}

/* ======================================================================== */
/* Token attention over one layer's KV-cache                                 */
/* ======================================================================== */

/* Same loop as attnres_attend, with the dot products and the weighted sum
   vectorised over head_dim.

   OpenMP over heads: each query head reads the shared cache and writes
   only its own att row and its own slice of out, in the scalar order, so
   heads may run on any thread and the result does not depend on the
   thread count. Worth it late in a long context: at position p the heads
   together make 2 * p * n_heads * head_dim multiply-adds over a KV-cache
   read from memory (at the 110M shape and p = 255, 1.5 MB per layer, about
   5% of the layer's weights), which one thread would otherwise do while
   the other waits. Below ATTNRES_K_OMP_MIN_WEIGHTS multiply-adds (the
   matvec break-even: a few microseconds of work) it stays on one thread.
     out [n_heads*head_dim]   att [n_heads, seq_len]   q [n_heads*head_dim]
     key_cache, value_cache [seq_len, n_kv_heads*head_dim] */
void attnres_kernel_attend(float *out, float *att, const float *q,
                           const float *key_cache, const float *value_cache,
                           int n_pos, int n_heads, int n_kv_heads, int head_dim, int seq_len) {
    int kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads, hq;
    float scale = 1.0f / sqrtf((float)head_dim);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) \
    if (2 * (size_t)n_pos * (size_t)n_heads * (size_t)head_dim >= ATTNRES_K_OMP_MIN_WEIGHTS)
#endif
    for (hq = 0; hq < n_heads; hq++) {
        int t, i;
        const float *qh = q + (size_t)hq * head_dim;                   /* [head_dim] */
        const float *kh = key_cache + (size_t)(hq / group) * head_dim;  /* its kv head */
        const float *vh = value_cache + (size_t)(hq / group) * head_dim;
        float *a = att + (size_t)hq * seq_len;                          /* [n_pos] */
        float *o = out + (size_t)hq * head_dim;                         /* [head_dim] */
        for (t = 0; t < n_pos; t++) a[t] = k_dot(qh, kh + (size_t)t * kv_dim, head_dim) * scale;
        attnres_softmax(a, n_pos);   /* the header's: exp is not vectorised */
        for (i = 0; i < head_dim; i++) o[i] = 0.0f;
        /* positions in increasing order, as in the scalar loop */
        for (t = 0; t < n_pos; t++) k_axpy(o, a[t], vh + (size_t)t * kv_dim, head_dim);
    }
}

/* ======================================================================== */
/* Which variant is this?                                                    */
/* ======================================================================== */

const char *attnres_kernel_name(void) {
#if defined(ATTNRES_K_AVX2)
#define ATTNRES_K_ISA "avx2+fma"
#elif defined(ATTNRES_K_NEON)
#define ATTNRES_K_ISA "neon"
#else
#define ATTNRES_K_ISA "portable scalar"
#endif
#ifdef _OPENMP
    /* the thread count OMP_NUM_THREADS asked for (or the core count) */
    static char name[64];
    snprintf(name, sizeof name, "%s, openmp x%d threads", ATTNRES_K_ISA, omp_get_max_threads());
    return name;
#else
    return ATTNRES_K_ISA;
#endif
}
