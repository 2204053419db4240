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
                             there on aarch64, no flag needed). The matvecs (fp32,
                             W8, W8A8), the W8A8 quantizer and attention's dot products.
                             Without an ARM machine: make test-neon (mk/neon.mk) runs
                             the whole suite under qemu-aarch64; not timed on ARM hardware.
     portable scalar         any other target: the header's own scalar loops
     CUDA                    attnres_kernels.cu, make CUDA=1 (see that file)

   THE KERNELS: the header's hooks (see "THE HOOKS" in attnres.h: matvec
   in its three number formats and attention carry almost all the work;
   W8A8's input quantization runs while other threads wait). Each
   means exactly what the scalar function of the same name in attnres.h
   means; the scalar one is the reference.
     attnres_kernel_matvec            == attnres_matvec            out = W x
     attnres_kernel_matmul            == attnres_matmul            out = x W^T, T positions at once
     attnres_kernel_matmul_backward   == attnres_matmul_backward   dx += dout W, dw += dout^T x (training;
                                                                    the same bits as the scalar loop)
     attnres_kernel_depth_attention_backward
                                      == attnres_depth_attention_backward
                                                                   the softmax over depth's backward
                                                                    (training; the same bits)
     attnres_kernel_matvec_q8         == attnres_matvec_q8         out = (scale * q) x, int8 weights
     attnres_kernel_matvec_w8a8       == attnres_matvec_w8a8       the same with x in int8 too
     attnres_kernel_quantize_q8       == attnres_quantize_q8       group-wise int8 of x before each
                                                                    W8A8 matvec (the same bytes, exactly)
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
/* matmul: out[T, rows] = x[T, cols] W^T, the same W for T positions          */
/* ======================================================================== */

/* A token's matvec reads each weight once for one multiply-add, so it waits
   on memory. T positions against the same W can reuse every weight T
   times, and then arithmetic is the limit: the job becomes keeping the FMA
   units busy from registers and L1. The AVX2 loop computes a tile of 3
   positions x 4 rows at once: per 8 columns it loads 3 slices of x and 4
   of W and makes 12 FMAs into 12 accumulators (with the 3 x slices and one
   W slice that is all 16 ymm registers). A row block's 4 rows of W
   (4 * cols floats, 12-32 KB) stay in L1 while all T positions pass; x
   ([T, cols], at most 0.5 MB for 64 positions of 2048) comes from L2.

   Every output, in a full tile or at an edge, is summed in one order: one
   8-lane chain over the columns, its lanes added by k_hsum8, then the
   scalar tail (k_dot1 is that order for one output). So an output does not
   depend on where its position or row fell in the tiling (nor on T, nor on
   the thread count): the same prompt position gives the same bits whether
   it arrived in a chunk of 5 or of 64. It differs from k_dot (four chains)
   and from the scalar loop by the order of additions only; the bound is in
   tests/test_kernels.c.

   OpenMP over blocks of 4 rows, as matvec's rows: each block's outputs
   come from one thread in one fixed order. NEON and the portable build
   compute each output with their matvec's dot product (one row at a time,
   T positions each). */
#if defined(ATTNRES_K_AVX2)

/* a[n] . b[n] in the order of every matmul output (see above) */
static float k_dot1(const float *a, const float *b, int n) {
    __m256 acc = _mm256_setzero_ps();
    float sum;
    int i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    sum = k_hsum8(acc);
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* out[t*ldo + r] = x_t . w_r for 3 positions (x rows ldx apart) and 4 rows
   (w rows ldw apart): 12 outputs, each in k_dot1's order */
static void k_tile_3x4(float *out, size_t ldo, const float *x, size_t ldx, const float *w, size_t ldw,
                       int cols) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;   /* a<t><r> */
    __m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    __m256 a20 = a00, a21 = a00, a22 = a00, a23 = a00;
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx;
    const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
    float acc[3][4];
    int i = 0, t, r;
    for (; i + 8 <= cols; i += 8) {
        __m256 v0 = _mm256_loadu_ps(x0 + i), v1 = _mm256_loadu_ps(x1 + i), v2 = _mm256_loadu_ps(x2 + i), k;
        k = _mm256_loadu_ps(w0 + i);
        a00 = _mm256_fmadd_ps(v0, k, a00); a10 = _mm256_fmadd_ps(v1, k, a10); a20 = _mm256_fmadd_ps(v2, k, a20);
        k = _mm256_loadu_ps(w1 + i);
        a01 = _mm256_fmadd_ps(v0, k, a01); a11 = _mm256_fmadd_ps(v1, k, a11); a21 = _mm256_fmadd_ps(v2, k, a21);
        k = _mm256_loadu_ps(w2 + i);
        a02 = _mm256_fmadd_ps(v0, k, a02); a12 = _mm256_fmadd_ps(v1, k, a12); a22 = _mm256_fmadd_ps(v2, k, a22);
        k = _mm256_loadu_ps(w3 + i);
        a03 = _mm256_fmadd_ps(v0, k, a03); a13 = _mm256_fmadd_ps(v1, k, a13); a23 = _mm256_fmadd_ps(v2, k, a23);
    }
    acc[0][0] = k_hsum8(a00); acc[0][1] = k_hsum8(a01); acc[0][2] = k_hsum8(a02); acc[0][3] = k_hsum8(a03);
    acc[1][0] = k_hsum8(a10); acc[1][1] = k_hsum8(a11); acc[1][2] = k_hsum8(a12); acc[1][3] = k_hsum8(a13);
    acc[2][0] = k_hsum8(a20); acc[2][1] = k_hsum8(a21); acc[2][2] = k_hsum8(a22); acc[2][3] = k_hsum8(a23);
    for (t = 0; t < 3; t++)
        for (r = 0; r < 4; r++) {
            const float *xt = x + (size_t)t * ldx, *wr = w + (size_t)r * ldw;
            float sum = acc[t][r];
            int j;
            for (j = i; j < cols; j++) sum += xt[j] * wr[j];   /* the tail, as k_dot1 */
            out[(size_t)t * ldo + r] = sum;
        }
}

void attnres_kernel_matmul(float *out, const float *x, const float *w, int T, int rows, int cols) {
    int rb, n_blocks = (rows + 3) / 4;
#ifdef _OPENMP
#pragma omp parallel for schedule(guided, 8) \
    if ((size_t)T * (size_t)rows * (size_t)cols >= ATTNRES_K_OMP_MIN_WEIGHTS)
#endif
    for (rb = 0; rb < n_blocks; rb++) {
        int r = rb * 4, t, tt, rr;
        const float *wr = w + (size_t)r * (size_t)cols;                 /* [4, cols] */
        for (t = 0; t < T; t += 3) {
            if (r + 4 <= rows && t + 3 <= T) {
                k_tile_3x4(out + (size_t)t * rows + r, (size_t)rows, x + (size_t)t * cols, (size_t)cols,
                           wr, (size_t)cols, cols);
                continue;
            }
            for (tt = t; tt < T && tt < t + 3; tt++)                    /* an edge: one output at a time */
                for (rr = r; rr < rows && rr < r + 4; rr++)
                    out[(size_t)tt * rows + rr] = k_dot1(x + (size_t)tt * cols, w + (size_t)rr * cols, cols);
        }
    }
}

#else

void attnres_kernel_matmul(float *out, const float *x, const float *w, int T, int rows, int cols) {
    int r;
#ifdef _OPENMP
#pragma omp parallel for schedule(guided, 32) \
    if ((size_t)T * (size_t)rows * (size_t)cols >= ATTNRES_K_OMP_MIN_WEIGHTS)
#endif
    for (r = 0; r < rows; r++) {
        const float *wr = w + (size_t)r * (size_t)cols;
        int t;
        for (t = 0; t < T; t++) out[(size_t)t * rows + r] = k_dot(wr, x + (size_t)t * cols, cols);
    }
}

#endif

/* ======================================================================== */
/* matmul backward: dx[T, cols] += dout W,  dw[rows, cols] += dout^T x         */
/* ======================================================================== */

/* The training backward's products, every weight matrix once per sublayer
   and sequence. The scalar loop (attnres_matmul_backward: one
   attnres_matvec_backward per position) is two axpys per row and
   position: it reads and writes the whole dw once per position, and dx
   once per row. Here each output keeps a tile in registers while the sum
   runs: a tile of dw (4 rows x 16 columns) across all T positions, a tile
   of dx (4 positions x 16 columns) across all rows, so each multiply-add
   costs a broadcast and a load from L1 instead of a load and a store.

   The SAME bits as the scalar loop: both products are elementwise in c
   (no sum is split into lanes), every dw[r][c] adds its T products in
   the scalar order t = 0..T-1 and every dx[t][c] its rows in the order
   r = 0..rows-1, starting from the value already there, and each step
   is a multiply then an add, each rounded, as the scalar
   y[i] += a * x[i] under -ffp-contract=off. No fused multiply-add here
   on purpose: it would change the bits and buy little, the loop is bound
   by loads and adds. tests/test_kernels.c checks equality, bit for bit.

   OpenMP: one parallel region, the rows of dw split between the threads,
   then the positions of dx (dw and dx are different arrays, so a thread
   finished with its rows of dw goes on to dx at once: nowait). Each
   output is written by one thread in the fixed order above, so the bits
   do not depend on the thread count. Same threshold as matmul. */
#if defined(ATTNRES_K_AVX2)

/* dw[r .. r+3][c .. c+15] += sum_t dout[t][r+i] x[t][c .. c+15], t in order */
static void k_dw_4x16(float *dw, const float *dout, const float *x, int T, int rows, int cols, int r, int c) {
    float *d0 = dw + (size_t)r * cols + c, *d1 = d0 + cols, *d2 = d1 + cols, *d3 = d2 + cols;
    __m256 a00 = _mm256_loadu_ps(d0), a01 = _mm256_loadu_ps(d0 + 8);   /* a<row><half> */
    __m256 a10 = _mm256_loadu_ps(d1), a11 = _mm256_loadu_ps(d1 + 8);
    __m256 a20 = _mm256_loadu_ps(d2), a21 = _mm256_loadu_ps(d2 + 8);
    __m256 a30 = _mm256_loadu_ps(d3), a31 = _mm256_loadu_ps(d3 + 8);
    int t;
    for (t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * cols + c, *g = dout + (size_t)t * rows + r;
        __m256 x0 = _mm256_loadu_ps(xt), x1 = _mm256_loadu_ps(xt + 8), b;
        b = _mm256_set1_ps(g[0]);
        a00 = _mm256_add_ps(a00, _mm256_mul_ps(b, x0)); a01 = _mm256_add_ps(a01, _mm256_mul_ps(b, x1));
        b = _mm256_set1_ps(g[1]);
        a10 = _mm256_add_ps(a10, _mm256_mul_ps(b, x0)); a11 = _mm256_add_ps(a11, _mm256_mul_ps(b, x1));
        b = _mm256_set1_ps(g[2]);
        a20 = _mm256_add_ps(a20, _mm256_mul_ps(b, x0)); a21 = _mm256_add_ps(a21, _mm256_mul_ps(b, x1));
        b = _mm256_set1_ps(g[3]);
        a30 = _mm256_add_ps(a30, _mm256_mul_ps(b, x0)); a31 = _mm256_add_ps(a31, _mm256_mul_ps(b, x1));
    }
    _mm256_storeu_ps(d0, a00); _mm256_storeu_ps(d0 + 8, a01);
    _mm256_storeu_ps(d1, a10); _mm256_storeu_ps(d1 + 8, a11);
    _mm256_storeu_ps(d2, a20); _mm256_storeu_ps(d2 + 8, a21);
    _mm256_storeu_ps(d3, a30); _mm256_storeu_ps(d3 + 8, a31);
}

/* dw[r][c .. c+7] += sum_t dout[t][r] x[t][c .. c+7], t in order: one row at an edge */
static void k_dw_1x8(float *dw, const float *dout, const float *x, int T, int rows, int cols, int r, int c) {
    float *d = dw + (size_t)r * cols + c;
    __m256 a = _mm256_loadu_ps(d);
    int t;
    for (t = 0; t < T; t++)
        a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_set1_ps(dout[(size_t)t * rows + r]),
                                           _mm256_loadu_ps(x + (size_t)t * cols + c)));
    _mm256_storeu_ps(d, a);
}

/* dx[t .. t+3][c .. c+15] += sum_r dout[t+i][r] w[r][c .. c+15], r in order */
static void k_dx_4x16(float *dx, const float *dout, const float *w, int rows, int cols, int t, int c) {
    float *d0 = dx + (size_t)t * cols + c, *d1 = d0 + cols, *d2 = d1 + cols, *d3 = d2 + cols;
    const float *g0 = dout + (size_t)t * rows, *g1 = g0 + rows, *g2 = g1 + rows, *g3 = g2 + rows;
    __m256 a00 = _mm256_loadu_ps(d0), a01 = _mm256_loadu_ps(d0 + 8);   /* a<position><half> */
    __m256 a10 = _mm256_loadu_ps(d1), a11 = _mm256_loadu_ps(d1 + 8);
    __m256 a20 = _mm256_loadu_ps(d2), a21 = _mm256_loadu_ps(d2 + 8);
    __m256 a30 = _mm256_loadu_ps(d3), a31 = _mm256_loadu_ps(d3 + 8);
    int r;
    for (r = 0; r < rows; r++) {
        const float *wr = w + (size_t)r * cols + c;
        __m256 w0 = _mm256_loadu_ps(wr), w1 = _mm256_loadu_ps(wr + 8), b;
        b = _mm256_set1_ps(g0[r]);
        a00 = _mm256_add_ps(a00, _mm256_mul_ps(b, w0)); a01 = _mm256_add_ps(a01, _mm256_mul_ps(b, w1));
        b = _mm256_set1_ps(g1[r]);
        a10 = _mm256_add_ps(a10, _mm256_mul_ps(b, w0)); a11 = _mm256_add_ps(a11, _mm256_mul_ps(b, w1));
        b = _mm256_set1_ps(g2[r]);
        a20 = _mm256_add_ps(a20, _mm256_mul_ps(b, w0)); a21 = _mm256_add_ps(a21, _mm256_mul_ps(b, w1));
        b = _mm256_set1_ps(g3[r]);
        a30 = _mm256_add_ps(a30, _mm256_mul_ps(b, w0)); a31 = _mm256_add_ps(a31, _mm256_mul_ps(b, w1));
    }
    _mm256_storeu_ps(d0, a00); _mm256_storeu_ps(d0 + 8, a01);
    _mm256_storeu_ps(d1, a10); _mm256_storeu_ps(d1 + 8, a11);
    _mm256_storeu_ps(d2, a20); _mm256_storeu_ps(d2 + 8, a21);
    _mm256_storeu_ps(d3, a30); _mm256_storeu_ps(d3 + 8, a31);
}

/* dx[t][c .. c+7] += sum_r dout[t][r] w[r][c .. c+7], r in order: one position at an edge */
static void k_dx_1x8(float *dx, const float *dout, const float *w, int rows, int cols, int t, int c) {
    float *d = dx + (size_t)t * cols + c;
    const float *g = dout + (size_t)t * rows;
    __m256 a = _mm256_loadu_ps(d);
    int r;
    for (r = 0; r < rows; r++)
        a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_set1_ps(g[r]), _mm256_loadu_ps(w + (size_t)r * cols + c)));
    _mm256_storeu_ps(d, a);
}

/* rows r .. r+n-1 of dw (n <= 4): 4x16 tiles, then 8 columns a row, then
   the last cols mod 8 columns as the scalar loop does them */
static void k_dw_rows(float *dw, const float *dout, const float *x, int T, int rows, int cols, int r, int n) {
    int c = 0, i, t, j;
    if (n == 4)
        for (; c + 16 <= cols; c += 16) k_dw_4x16(dw, dout, x, T, rows, cols, r, c);
    for (; c + 8 <= cols; c += 8)
        for (i = 0; i < n; i++) k_dw_1x8(dw, dout, x, T, rows, cols, r + i, c);
    for (i = 0; i < n && c < cols; i++)
        for (t = 0; t < T; t++) {
            float g = dout[(size_t)t * rows + r + i];
            for (j = c; j < cols; j++) dw[(size_t)(r + i) * cols + j] += g * x[(size_t)t * cols + j];
        }
}

/* positions t .. t+n-1 of dx (n <= 4), in the same pattern */
static void k_dx_positions(float *dx, const float *dout, const float *w, int rows, int cols, int t, int n) {
    int c = 0, i, r, j;
    if (n == 4)
        for (; c + 16 <= cols; c += 16) k_dx_4x16(dx, dout, w, rows, cols, t, c);
    for (; c + 8 <= cols; c += 8)
        for (i = 0; i < n; i++) k_dx_1x8(dx, dout, w, rows, cols, t + i, c);
    for (i = 0; i < n && c < cols; i++)
        for (r = 0; r < rows; r++) {
            float g = dout[(size_t)(t + i) * rows + r];
            for (j = c; j < cols; j++) dx[(size_t)(t + i) * cols + j] += g * w[(size_t)r * cols + j];
        }
}

void attnres_kernel_matmul_backward(float *dx, float *dw, const float *dout, const float *w,
                                    const float *x, int T, int rows, int cols) {
    int n_rb = (rows + 3) / 4, n_tb = (T + 3) / 4;
#ifdef _OPENMP
#pragma omp parallel if ((size_t)T * (size_t)rows * (size_t)cols >= ATTNRES_K_OMP_MIN_WEIGHTS)
#endif
    {
        int b;
        if (dw) {
#ifdef _OPENMP
#pragma omp for schedule(static) nowait
#endif
            for (b = 0; b < n_rb; b++)
                k_dw_rows(dw, dout, x, T, rows, cols, 4 * b, rows - 4 * b < 4 ? rows - 4 * b : 4);
        }
        if (dx) {
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
            for (b = 0; b < n_tb; b++)
                k_dx_positions(dx, dout, w, rows, cols, 4 * b, T - 4 * b < 4 ? T - 4 * b : 4);
        }
    }
}

#else

/* NEON and the portable build: the header's loop (a NEON version would
   follow the AVX2 tiles with 4-lane vectors; not written yet) */
void attnres_kernel_matmul_backward(float *dx, float *dw, const float *dout, const float *w,
                                    const float *x, int T, int rows, int cols) {
    attnres_matmul_backward(dx, dw, dout, w, x, T, rows, cols);
}

#endif

/* ======================================================================== */
/* depth attention backward: the softmax over depth, for training             */
/* ======================================================================== */

/* attnres_depth_attention_backward spends its time in three sums over dim
   per source (its squares for 1/rms, dout . v, and the key's mean), each
   a chain of dependent scalar adds in the header; Full AttnRes at L = 32
   runs it for about 560 sources per position. A sum cannot be split into
   lanes without changing its bits, but 8 SOURCES can run at once: lane k
   sums source j+k's terms in the scalar order i = 0..dim-1, elements
   i..i+7 of the 8 sources loaded as 8 rows and transposed 8 x 8 (a
   vgatherdps per element was measured slower: it dominated the profile).
   The per-element updates
   then run 8 elements at a time for one source after another, as the
   scalar loop orders them. Every operation is the scalar one on the same
   operands in the same order (a multiply and an add, each rounded; no
   fused multiply-add), so the result is the header's to the bit;
   tests/test_kernels.c checks that. A source whose sum of squares
   overflows takes the header's own rescaled 1/rms. NEON and portable:
   the header's function. */
#if defined(ATTNRES_K_AVX2)

/* The 8 sources of a group: rows[k] = source min(j + k, n - 1), so a short
   last group re-reads its last source instead of reading past the end
   (those lanes are computed and not used). */
static void k_group_rows(const float **rows, const float *sources, int j, int n, int dim) {
    int k;
    for (k = 0; k < 8; k++) rows[k] = sources + (size_t)(j + k < n ? j + k : n - 1) * dim;
}

/* col[c], lane k = rows[k][i + c] for c = 0..7: 8 loads and an 8 x 8
   transpose (pairs, then quads, then the 128-bit halves) */
static void k_group_columns(__m256 col[8], const float *const *rows, int i) {
    __m256 t0, t1, t2, t3, t4, t5, t6, t7, u0, u1, u2, u3, u4, u5, u6, u7;
    t0 = _mm256_unpacklo_ps(_mm256_loadu_ps(rows[0] + i), _mm256_loadu_ps(rows[1] + i));
    t1 = _mm256_unpackhi_ps(_mm256_loadu_ps(rows[0] + i), _mm256_loadu_ps(rows[1] + i));
    t2 = _mm256_unpacklo_ps(_mm256_loadu_ps(rows[2] + i), _mm256_loadu_ps(rows[3] + i));
    t3 = _mm256_unpackhi_ps(_mm256_loadu_ps(rows[2] + i), _mm256_loadu_ps(rows[3] + i));
    t4 = _mm256_unpacklo_ps(_mm256_loadu_ps(rows[4] + i), _mm256_loadu_ps(rows[5] + i));
    t5 = _mm256_unpackhi_ps(_mm256_loadu_ps(rows[4] + i), _mm256_loadu_ps(rows[5] + i));
    t6 = _mm256_unpacklo_ps(_mm256_loadu_ps(rows[6] + i), _mm256_loadu_ps(rows[7] + i));
    t7 = _mm256_unpackhi_ps(_mm256_loadu_ps(rows[6] + i), _mm256_loadu_ps(rows[7] + i));
    u0 = _mm256_shuffle_ps(t0, t2, 0x44); u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    u2 = _mm256_shuffle_ps(t1, t3, 0x44); u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    u4 = _mm256_shuffle_ps(t4, t6, 0x44); u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    u6 = _mm256_shuffle_ps(t5, t7, 0x44); u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    col[0] = _mm256_permute2f128_ps(u0, u4, 0x20); col[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    col[2] = _mm256_permute2f128_ps(u2, u6, 0x20); col[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    col[4] = _mm256_permute2f128_ps(u0, u4, 0x31); col[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    col[6] = _mm256_permute2f128_ps(u2, u6, 0x31); col[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* lane k = rows[k][i], one element (the last dim mod 8) */
static __m256 k_group_column(const float *const *rows, int i) {
    return _mm256_setr_ps(rows[0][i], rows[1][i], rows[2][i], rows[3][i], rows[4][i], rows[5][i], rows[6][i], rows[7][i]);
}

/* The group's sums, lane k for source j+k, each over i = 0..dim-1 in
   order: dot = dout . v, and (if sq) sq = v . v */
static void k_group_sums(__m256 *dot, __m256 *sq, const float *dout, const float *const *rows, int dim) {
    __m256 d = _mm256_setzero_ps(), q = _mm256_setzero_ps(), col[8];
    int i = 0, c;
    for (; i + 8 <= dim; i += 8) {
        k_group_columns(col, rows, i);
        for (c = 0; c < 8; c++) {
            d = _mm256_add_ps(d, _mm256_mul_ps(_mm256_set1_ps(dout[i + c]), col[c]));
            if (sq) q = _mm256_add_ps(q, _mm256_mul_ps(col[c], col[c]));
        }
    }
    for (; i < dim; i++) {
        col[0] = k_group_column(rows, i);
        d = _mm256_add_ps(d, _mm256_mul_ps(_mm256_set1_ps(dout[i]), col[0]));
        if (sq) q = _mm256_add_ps(q, _mm256_mul_ps(col[0], col[0]));
    }
    *dot = d;
    if (sq) *sq = q;
}

/* lane k = sum_i (w_i g_i) (v_ki r_k), i in order: the key's mean before the division */
static __m256 k_group_mean(const float *const *rows, const float *pseudo_query, const float *key_gain,
                           __m256 r8, int dim) {
    __m256 m = _mm256_setzero_ps(), col[8];
    int i = 0, c;
    for (; i + 8 <= dim; i += 8) {
        k_group_columns(col, rows, i);
        for (c = 0; c < 8; c++)
            m = _mm256_add_ps(m, _mm256_mul_ps(_mm256_set1_ps(pseudo_query[i + c] * key_gain[i + c]),
                                               _mm256_mul_ps(col[c], r8)));
    }
    for (; i < dim; i++)
        m = _mm256_add_ps(m, _mm256_mul_ps(_mm256_set1_ps(pseudo_query[i] * key_gain[i]),
                                           _mm256_mul_ps(k_group_column(rows, i), r8)));
    return m;
}

/* One source's per-element updates, 8 elements at a time, the header's
   expressions and their order; the last dim mod 8 elements as the header. */
static void k_depth_source_update(float *dsrc, float *dpseudo_query, float *dkey_gain, const float *dout,
                                  const float *v, const float *pseudo_query, const float *key_gain,
                                  float alpha, float r, float ds, float mean, int dim) {
    __m256 r_v = _mm256_set1_ps(r), ds_v = _mm256_set1_ps(ds), m_v = _mm256_set1_ps(mean);
    __m256 rds_v = _mm256_set1_ps(r * ds), al_v = _mm256_set1_ps(alpha);
    int i;
    for (i = 0; i + 8 <= dim; i += 8) {
        __m256 xhat = _mm256_mul_ps(_mm256_loadu_ps(v + i), r_v), dsx = _mm256_mul_ps(ds_v, xhat);
        __m256 w = _mm256_loadu_ps(pseudo_query + i), g = _mm256_loadu_ps(key_gain + i);
        if (dpseudo_query)
            _mm256_storeu_ps(dpseudo_query + i, _mm256_add_ps(_mm256_loadu_ps(dpseudo_query + i), _mm256_mul_ps(dsx, g)));
        if (dkey_gain)
            _mm256_storeu_ps(dkey_gain + i, _mm256_add_ps(_mm256_loadu_ps(dkey_gain + i), _mm256_mul_ps(dsx, w)));
        if (dsrc) {
            __m256 key = _mm256_mul_ps(rds_v, _mm256_sub_ps(_mm256_mul_ps(w, g), _mm256_mul_ps(xhat, m_v)));
            __m256 val = _mm256_mul_ps(al_v, _mm256_loadu_ps(dout + i));
            _mm256_storeu_ps(dsrc + i, _mm256_add_ps(_mm256_loadu_ps(dsrc + i), _mm256_add_ps(val, key)));
        }
    }
    for (; i < dim; i++) {
        float xhat = v[i] * r;
        if (dpseudo_query) dpseudo_query[i] += ds * xhat * key_gain[i];
        if (dkey_gain) dkey_gain[i] += ds * xhat * pseudo_query[i];
        if (dsrc) dsrc[i] += alpha * dout[i] + r * ds * (pseudo_query[i] * key_gain[i] - xhat * mean);
    }
}

void attnres_kernel_depth_attention_backward(float *dsources, float *dpseudo_query, float *dkey_gain,
                                             const float *dout, const float *alpha,
                                             const float *sources, int n_sources,
                                             const float *pseudo_query, const float *key_gain,
                                             int dim, float eps) {
    float a_da = 0.0f, dots[8], sum_sq[8], means[8], r[8];
    const float *rows[8];
    __m256 dot, sq;
    int j, k;
    /* sum_u alpha_u dalpha_u, u in order */
    for (j = 0; j < n_sources; j += 8) {
        k_group_rows(rows, sources, j, n_sources, dim);
        k_group_sums(&dot, NULL, dout, rows, dim);
        _mm256_storeu_ps(dots, dot);
        for (k = 0; k < 8 && j + k < n_sources; k++) a_da += alpha[j + k] * dots[k];
    }
    for (j = 0; j < n_sources; j += 8) {
        k_group_rows(rows, sources, j, n_sources, dim);
        k_group_sums(&dot, &sq, dout, rows, dim);                /* dout . v, and v . v as attnres_dot */
        _mm256_storeu_ps(dots, dot);
        _mm256_storeu_ps(sum_sq, sq);
        for (k = 0; k < 8; k++)                                  /* 1/rms, as attnres__inv_rms */
            r[k] = !isinf(sum_sq[k]) ? 1.0f / sqrtf(sum_sq[k] / (float)dim + eps) : attnres__inv_rms(rows[k], dim, eps);
        _mm256_storeu_ps(means, k_group_mean(rows, pseudo_query, key_gain, _mm256_loadu_ps(r), dim));
        for (k = 0; k < 8 && j + k < n_sources; k++)             /* the updates, source by source */
            k_depth_source_update(dsources ? dsources + (size_t)(j + k) * dim : NULL, dpseudo_query, dkey_gain,
                                  dout, rows[k], pseudo_query, key_gain, alpha[j + k], r[k],
                                  alpha[j + k] * (dots[k] - a_da), means[k] / (float)dim, dim);
    }
}

#else

void attnres_kernel_depth_attention_backward(float *dsources, float *dpseudo_query, float *dkey_gain,
                                             const float *dout, const float *alpha,
                                             const float *sources, int n_sources,
                                             const float *pseudo_query, const float *key_gain,
                                             int dim, float eps) {
    attnres_depth_attention_backward(dsources, dpseudo_query, dkey_gain, dout, alpha, sources, n_sources,
                                     pseudo_query, key_gain, dim, eps);
}

#endif

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

/* Software prefetch. With weights of one byte, the hardware prefetcher
   alone kept the int8 loops (W8A8 below; matvec_q8 likewise) at about half of the memory bandwidth: a 123 MB
   int8 matrix streamed at 6.7-7.3 G weights/s on one thread and 12-15 on
   two, against 12 and 25 GB/s for fp32 in the same runs (which gains
   nothing from a prefetch: it is at the bandwidth already). Asking for the
   line 4 KiB ahead (a prefetch never faults, so running past the end of
   the matrix is harmless) took it to 11 and 26-28 G weights/s; 1 KiB
   ahead gave 9.5 and 19-23, 8-16 KiB the same as 4. */
#define ATTNRES_K_PREFETCH 4096

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
            _mm_prefetch((const char *)(qg + j + ATTNRES_K_PREFETCH), _MM_HINT_T0);
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
/* matvec_w8a8: out[rows] = W x with W and x both group-wise int8            */
/* ======================================================================== */

/* With x in int8 too, a group's products are small whole numbers that SIMD
   units multiply 32 (AVX2) or 16 (NEON) at a time and sum exactly in
   integers; the only float step left is one multiply-add per group with
   the two scales. Per 32 weights that is 5-7 instructions instead of the
   16 of matvec_q8's widen-convert-multiply-add. The integer sums are exact,
   so the result differs from the scalar loop only in the order the
   per-group floats are added (rounding only; tests/test_kernels.c).
   G not a multiple of 32 (AVX2) or 16 (NEON): the header's scalar loop. */
#if defined(ATTNRES_K_AVX2)


/* 32 int8 products w_j x_j, summed in fours into 8 int32 lanes (exact).
   The instructions multiply unsigned by signed bytes, so the weight's sign
   moves onto x: w x = |w| (sign(w) x). |w|, |x| <= 127 (the format never
   holds -128), so maddubs' 16-bit pair sums (at most 2 * 127 * 127 =
   32258) never saturate. AVX-VNNI (-mavxvnni, or -march=native on a CPU
   that has it) does the multiply and the sums in one instruction. */
static __m256i k_dot32_i8(__m256i w, __m256i x) {
    __m256i abs_w = _mm256_sign_epi8(w, w);
    __m256i signed_x = _mm256_sign_epi8(x, w);
#if defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), abs_w, signed_x);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, signed_x), _mm256_set1_epi16(1));
#endif
}

/* One group's G products (G % 32 == 0), summed exactly in 8 int32 lanes.
   Each step also asks for the weights ATTNRES_K_PREFETCH bytes ahead. */
static __m256i k_group_w8a8(const int8_t *q, const int8_t *xq, int G) {
    __m256i sum = _mm256_setzero_si256();
    int j;
    for (j = 0; j < G; j += 32) {
        _mm_prefetch((const char *)(q + j + ATTNRES_K_PREFETCH), _MM_HINT_T0);
        sum = _mm256_add_epi32(sum, k_dot32_i8(_mm256_loadu_si256((const __m256i *)(const void *)(q + j)),
                                               _mm256_loadu_si256((const __m256i *)(const void *)(xq + j))));
    }
    return sum;
}

/* row q [cols] with scales [cols/G], dotted with xq [cols] and its scales;
   G % 32 == 0. Two groups per step into two float accumulators (named
   variables, so they stay in registers), so the multiply-adds of
   neighbouring groups do not wait on each other. */
static float k_dot_w8a8(const int8_t *q, const float *scale, const int8_t *xq, const float *xscale,
                        int cols, int G) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int g, groups = cols / G;
    for (g = 0; g + 2 <= groups; g += 2) {
        const int8_t *qg = q + (size_t)g * G, *xg = xq + (size_t)g * G;
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(k_group_w8a8(qg, xg, G)),
                               _mm256_set1_ps(scale[g] * xscale[g]), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(k_group_w8a8(qg + G, xg + G, G)),
                               _mm256_set1_ps(scale[g + 1] * xscale[g + 1]), acc1);
    }
    if (g < groups)
        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(k_group_w8a8(q + (size_t)g * G, xq + (size_t)g * G, G)),
                               _mm256_set1_ps(scale[g] * xscale[g]), acc0);
    return k_hsum8(_mm256_add_ps(acc0, acc1));
}
#define ATTNRES_K_W8A8_MULTIPLE 32

#elif defined(ATTNRES_K_NEON)

/* The same with 16 int8 values per step: two widening multiplies give 8
   int16 sums of two products (at most 32258, exact), added pairwise into
   4 int32 lanes. */
static float k_dot_w8a8(const int8_t *q, const float *scale, const int8_t *xq, const float *xscale,
                        int cols, int G) {
    float32x4_t total = vdupq_n_f32(0.0f);
    int g, j, groups = cols / G;
    for (g = 0; g < groups; g++) {
        const int8_t *qg = q + (size_t)g * G, *xg = xq + (size_t)g * G;
        int32x4_t sum = vdupq_n_s32(0);
        for (j = 0; j < G; j += 16) {
            int8x16_t w = vld1q_s8(qg + j), x = vld1q_s8(xg + j);
            int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(x));
            p = vmlal_s8(p, vget_high_s8(w), vget_high_s8(x));
            sum = vpadalq_s16(sum, p);
        }
        total = vfmaq_n_f32(total, vcvtq_f32_s32(sum), scale[g] * xscale[g]);
    }
    return vaddvq_f32(total);
}
#define ATTNRES_K_W8A8_MULTIPLE 16

#endif

void attnres_kernel_matvec_w8a8(float *out, const int8_t *q, const float *scale, const int8_t *xq,
                                const float *xscale, int rows, int cols, int group_size) {
    int r;
#ifdef ATTNRES_K_W8A8_MULTIPLE
    if (group_size % ATTNRES_K_W8A8_MULTIPLE == 0) {
        int groups = cols / group_size;
#ifdef _OPENMP
#pragma omp parallel for schedule(guided, 32) \
    if ((size_t)rows * (size_t)cols >= 4 * ATTNRES_K_OMP_MIN_WEIGHTS)   /* same bytes as the fp32 threshold */
#endif
        for (r = 0; r < rows; r++)
            out[r] = k_dot_w8a8(q + (size_t)r * (size_t)cols, scale + (size_t)r * (size_t)groups, xq, xscale,
                                cols, group_size);
        return;
    }
#endif
    (void)r;
    attnres_matvec_w8a8(out, q, scale, xq, xscale, rows, cols, group_size);   /* the header's loop */
}

/* ======================================================================== */
/* quantize_q8: x -> int8 + scales, before every W8A8 matvec                 */
/* ======================================================================== */

/* W8A8 quantizes each matvec's input on the one thread that runs the
   forward pass, while the other threads wait: the scalar loop (a division
   and a roundf call per value) took about a tenth of a 110M decode on two
   threads. This is the same computation 8 values at a time, and it must
   give the same bytes and scales, exactly (tests/test_kernels.c): the max
   is exact in any order, s = max / 127 is the same scalar division, x / s
   is the same correctly rounded division, and the rounding is half away
   from zero like roundf (NEON has that instruction; AVX2 truncates and
   adds sign(y) where |y - trunc(y)| >= 1/2, exact for these magnitudes).
   A group holding a NaN or Inf, or G not a multiple of 8: the header's
   scalar loop, which gives such groups their NaN or Inf scale. */
#if defined(ATTNRES_K_AVX2)

/* one group of G values (G % 8 == 0); returns 0 if it is not all finite */
static int k_quantize_group(int8_t *q, float *scale, const float *x, int G) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    __m256 vmax = _mm256_setzero_ps(), bad = _mm256_setzero_ps(), vs;
    float m[8], max = 0.0f, s;
    int j, k;
    for (j = 0; j < G; j += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, _mm256_set1_ps(FLT_MAX), _CMP_NLE_UQ));   /* Inf or NaN */
        vmax = _mm256_max_ps(vmax, a);
    }
    if (_mm256_movemask_ps(bad)) return 0;
    _mm256_storeu_ps(m, vmax);
    for (k = 0; k < 8; k++) if (m[k] > max) max = m[k];
    s = max / 127.0f;
    *scale = s;
    if (!(s > 0.0f)) {
        memset(q, 0, (size_t)G);
        return 1;
    }
    vs = _mm256_set1_ps(s);
    for (j = 0; j < G; j += 8) {
        __m256 y = _mm256_div_ps(_mm256_loadu_ps(x + j), vs);
        __m256 t = _mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256 half_or_more = _mm256_cmp_ps(_mm256_and_ps(_mm256_sub_ps(y, t), abs_mask), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
        __m256 step = _mm256_or_ps(_mm256_and_ps(y, sign_mask), _mm256_set1_ps(1.0f));   /* +-1 with y's sign */
        __m256 r = _mm256_add_ps(t, _mm256_and_ps(half_or_more, step));
        __m256i r32;
        __m128i r16;
        r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
        r32 = _mm256_cvtps_epi32(r);   /* whole numbers already: exact */
        r16 = _mm_packs_epi32(_mm256_castsi256_si128(r32), _mm256_extracti128_si256(r32, 1));
        _mm_storel_epi64((__m128i *)(void *)(q + j), _mm_packs_epi16(r16, r16));
    }
    return 1;
}
#define ATTNRES_K_HAVE_QUANTIZE 1

#elif defined(ATTNRES_K_NEON)

static int k_quantize_group(int8_t *q, float *scale, const float *x, int G) {
    float32x4_t vmax = vdupq_n_f32(0.0f), vs;
    uint32x4_t bad = vdupq_n_u32(0);
    float max, s;
    int j;
    for (j = 0; j < G; j += 4) {
        float32x4_t a = vabsq_f32(vld1q_f32(x + j));
        bad = vorrq_u32(bad, vmvnq_u32(vcleq_f32(a, vdupq_n_f32(FLT_MAX))));   /* Inf or NaN */
        vmax = vmaxq_f32(vmax, a);
    }
    if (vmaxvq_u32(bad)) return 0;
    max = vmaxvq_f32(vmax);
    s = max / 127.0f;
    *scale = s;
    if (!(s > 0.0f)) {
        memset(q, 0, (size_t)G);
        return 1;
    }
    vs = vdupq_n_f32(s);
    for (j = 0; j < G; j += 8) {
        /* vrndaq: round to nearest, ties away from zero, as roundf */
        float32x4_t r0 = vrndaq_f32(vdivq_f32(vld1q_f32(x + j), vs));
        float32x4_t r1 = vrndaq_f32(vdivq_f32(vld1q_f32(x + j + 4), vs));
        int16x8_t r16;
        r0 = vminq_f32(vmaxq_f32(r0, vdupq_n_f32(-127.0f)), vdupq_n_f32(127.0f));
        r1 = vminq_f32(vmaxq_f32(r1, vdupq_n_f32(-127.0f)), vdupq_n_f32(127.0f));
        r16 = vcombine_s16(vmovn_s32(vcvtq_s32_f32(r0)), vmovn_s32(vcvtq_s32_f32(r1)));
        vst1_s8(q + j, vmovn_s16(r16));
    }
    return 1;
}
#define ATTNRES_K_HAVE_QUANTIZE 1

#endif

void attnres_kernel_quantize_q8(int8_t *q, float *scale, const float *w, int rows, int cols, int group_size) {
    size_t n_groups = (size_t)rows * (size_t)(cols / group_size), g;
#ifdef ATTNRES_K_HAVE_QUANTIZE
    if (group_size % 8 == 0) {
        for (g = 0; g < n_groups; g++) {
            size_t at = g * (size_t)group_size;
            if (!k_quantize_group(q + at, scale + g, w + at, group_size))
                attnres_quantize_q8(q + at, scale + g, w + at, 1, group_size, group_size);
        }
        return;
    }
#endif
    (void)g; (void)n_groups;
    attnres_quantize_q8(q, scale, w, rows, cols, group_size);   /* the header's loop */
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
#if defined(ATTNRES_K_AVX2) && defined(__AVXVNNI__)
#define ATTNRES_K_ISA "avx2+fma+avx-vnni"
#elif defined(ATTNRES_K_AVX2)
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
