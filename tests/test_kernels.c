/* test_kernels.c - every kernel of the optional kernel file (attnres_kernels.c,
   or attnres_kernels.cu in a CUDA build) against its scalar twin in attnres.h,
   both in this one binary, on random inputs of many shapes: sizes that are
   and are not multiples of 8, 1, unaligned pointers, many context lengths,
   grouped-query ratios, 1 to 25 depth sources. Built only in a kernel build
   (make test SIMD=1); without ATTNRES_KERNELS it reports a skip.

   TOLERANCE: |kernel - scalar| <= TOL * (the sum of the magnitudes of the
   terms), TOL = 1e-5, and why.
     A kernel adds the same products as the scalar loop, in another order (8
     lanes, several accumulators, a tree at the end) and with fused multiply-
     adds (one rounding instead of two). Nothing else differs: every product,
     normalisation, exp and division is the same operation. For a float sum
     s = t_1 + .. + t_n taken in ANY order, every rounding error is at most
     u = 2^-24 (6e-8) times a partial sum, and no partial sum exceeds
     sum|t_i|, so |computed - exact| <= (n-1) u sum|t_i| (Higham, "Accuracy
     and Stability of Numerical Algorithms", 2nd ed., section 4.2). The
     honest scale for comparing two orders of one sum is therefore
     sum|t_i|, not |s|: with cancellation s can be tiny while the rounding
     errors are not, and a relative test against |s| would be meaningless.
     That worst case (all roundings pushing the same way, at full size)
     bounds the difference of two orders by 2 (n-1) u sum|t_i|, which is
     below 1e-5 for n <= 84. Real rounding errors behave like independent
     random signs and grow like sqrt(n) u: about 3e-6 of sum|t_i| at n = 2048
     even when every term has the same sign (a sum of squares), much less
     with mixed signs. Each check prints the largest ratio it saw; they sit
     one to two orders of magnitude under TOL.
     A real bug - a dropped, doubled or misplaced product, a wrong row, tail
     or head - moves a result by about one whole term, roughly sum|t_i| / n,
     which is >= 5e-4 sum|t_i| for n <= 2048, 50 x TOL; the sensitivity
     checks at the end show that this comparison does catch such a bug.
   Where a rounding difference passes through a later step, the bound is
   carried through it (comments at each check): a softmax turns logits that
   move by at most d into weights that move by at most a factor e^(2d).
   The depth-attention kernel keeps the scalar order on purpose, so it is
   checked for identical bits instead. With OpenMP each output row is still summed by one thread in one order,
   so the result must not depend on the number of threads: checked bit for
   bit. */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"

#ifndef ATTNRES_KERNELS

int main(void) {
    printf("skip test_kernels: built without ATTNRES_KERNELS (make test SIMD=1)\n");
    return check_summary("test_kernels");
}

#else

#ifdef _OPENMP
#include <omp.h>
#endif

#define TOL 1e-5

/* Defined by attnres_kernels.cu: the number of CUDA devices, or 0 with the
   reason in why. */
#ifdef ATTNRES_CUDA
int attnres_kernel_cuda_device_count(char *why, int why_size);
#endif

static uint64_t rng = 20260323u;

/* x[n] uniform in [-scale, scale) */
static void fill(float *x, size_t n, float scale) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = scale * (2.0f * attnres_random_f32(&rng) - 1.0f);
}

/* x[n] with magnitudes spread over 2^-10 .. 2^10 and random signs: sums of
   such terms cancel a lot, the hard case for a relative comparison. */
static void fill_wide(float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = ldexpf(2.0f * attnres_random_f32(&rng) - 1.0f, (int)(attnres_random_u32(&rng) % 21) - 10);
}

static float *alloc_floats(size_t n) {
    float *p = (float *)malloc((n ? n : 1) * sizeof(float));
    if (!p) { printf("FAIL out of memory (%zu floats)\n", n); exit(1); }
    return p;
}

/* Counts how many got[i] miss |got - want| <= TOL * scale[i] and returns
   the largest |got - want| / scale seen; prints the first miss. NaN fails. */
typedef struct { int n_bad; double worst; } cmp_result;

static cmp_result compare(const char *what, const float *got, const float *want, const double *scale, size_t n) {
    cmp_result res = {0, 0.0};
    size_t i;
    for (i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)want[i]);
        double ratio = scale[i] > 0.0 ? diff / scale[i] : (diff == 0.0 ? 0.0 : HUGE_VAL);
        if (!(diff <= TOL * scale[i])) {
            if (res.n_bad == 0)
                printf("       %s: first miss at [%zu]: kernel %.9g scalar %.9g, |diff| %.3g > %.0e * scale %.3g\n",
                       what, i, (double)got[i], (double)want[i], diff, TOL, scale[i]);
            res.n_bad++;
        }
        if (ratio > res.worst || ratio != ratio) res.worst = ratio;
    }
    return res;
}

/* ======================================================================== */
/* matvec                                                                    */
/* ======================================================================== */

/* One shape; returns the worst ratio, or -1 if some output missed. offset
   shifts w and x by that many floats, so no 32-byte alignment can hold. */
static double one_matvec(int rows, int cols, int offset, int wide) {
    size_t nw = (size_t)rows * (size_t)cols;
    float *wbuf = alloc_floats(nw + 1), *xbuf = alloc_floats((size_t)cols + 1);
    float *w = wbuf + offset, *x = xbuf + offset;
    float *got = alloc_floats((size_t)rows), *want = alloc_floats((size_t)rows);
    double *scale = (double *)malloc((size_t)rows * sizeof(double));
    cmp_result res;
    int r, j;
    if (!scale) { printf("FAIL out of memory\n"); exit(1); }
    if (wide) { fill_wide(w, nw); fill_wide(x, (size_t)cols); }
    else { fill(w, nw, 1.0f); fill(x, (size_t)cols, 1.0f); }
    attnres_kernel_matvec(got, w, x, rows, cols);
    attnres_matvec(want, w, x, rows, cols);
    for (r = 0; r < rows; r++) {   /* sum_j |w_rj x_j|, in double */
        double s = 0.0;
        for (j = 0; j < cols; j++) s += fabs((double)w[(size_t)r * cols + j] * (double)x[j]);
        scale[r] = s;
    }
    res = compare("matvec", got, want, scale, (size_t)rows);
    free(wbuf); free(xbuf); free(got); free(want); free(scale);
    return res.n_bad ? -1.0 : res.worst;
}

static void test_matvec(void) {
    static const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 288, 768};
    int n_sizes = (int)(sizeof sizes / sizeof sizes[0]), a, b, offset, n_shapes = 0, n_bad = 0;
    double worst = 0.0, r;
    for (a = 0; a < n_sizes; a++)
        for (b = 0; b < n_sizes; b++)
            for (offset = 0; offset <= 1; offset++) {
                r = one_matvec(sizes[a], sizes[b], offset, 0);
                n_shapes++;
                if (r < 0) n_bad++; else if (r > worst) worst = r;
            }
    check(n_bad == 0, "matvec: %d shapes, rows and cols in {1..5, 7..9, 15..17, 31, 33, 63..65, 288, 768}, aligned and "
          "offset by one float: |kernel - scalar| <= %.0e * sum|w x| (%d missed; worst ratio %.2g)",
          n_shapes, TOL, n_bad, worst);

    {   /* the model shapes: every matrix of a stories110M-sized layer and its output */
        static const int shapes[][2] = {{768, 768}, {2048, 768}, {768, 2048}, {32000, 768}, {1376, 512}, {512, 1376},
                                        {2049, 767}, {4099, 129}};
        int i, n = (int)(sizeof shapes / sizeof shapes[0]);
        n_bad = 0; worst = 0.0;
        for (i = 0; i < n; i++) {
            r = one_matvec(shapes[i][0], shapes[i][1], i % 2, 0);
            if (r < 0) n_bad++; else if (r > worst) worst = r;
        }
        check(n_bad == 0, "matvec: %d large shapes (768x768 .. 32000x768, 2049x767, 4099x129), above the OpenMP "
              "threshold: within %.0e * sum|w x| (%d missed; worst ratio %.2g)", n, TOL, n_bad, worst);
    }
    {   /* magnitudes over 2^-20 .. 2^20 with cancellation */
        static const int shapes[][2] = {{64, 2048}, {65, 9}, {9, 768}, {130, 63}};
        int i, n = (int)(sizeof shapes / sizeof shapes[0]);
        n_bad = 0; worst = 0.0;
        for (i = 0; i < n; i++) {
            r = one_matvec(shapes[i][0], shapes[i][1], 1, 1);
            if (r < 0) n_bad++; else if (r > worst) worst = r;
        }
        check(n_bad == 0, "matvec: %d shapes with magnitudes 2^-10 .. 2^10 and cancellation: within %.0e * sum|w x| "
              "(%d missed; worst ratio %.2g)", n, TOL, n_bad, worst);
    }
}

/* With OpenMP a row is still summed by one thread in one order: 1 thread
   and all threads must give the same bits. */
static void test_matvec_threads(void) {
#ifdef _OPENMP
    int rows = 2048, cols = 768, max_threads = omp_get_max_threads();
    float *w = alloc_floats((size_t)rows * cols), *x = alloc_floats((size_t)cols);
    float *one = alloc_floats((size_t)rows), *all = alloc_floats((size_t)rows);
    fill(w, (size_t)rows * cols, 1.0f); fill(x, (size_t)cols, 1.0f);
    omp_set_num_threads(1);
    attnres_kernel_matvec(one, w, x, rows, cols);
    omp_set_num_threads(max_threads < 2 ? 2 : max_threads);   /* 2 threads even on 1 core */
    attnres_kernel_matvec(all, w, x, rows, cols);
    omp_set_num_threads(max_threads);
    check(memcmp(one, all, (size_t)rows * sizeof(float)) == 0,
          "matvec 2048x768: 1 thread and %d threads give identical bits", max_threads < 2 ? 2 : max_threads);
    free(w); free(x); free(one); free(all);
#endif
}

/* matvecs (n matrices, one input, one parallel region) must give exactly
   the bits of n separate matvec calls: each row is the same dot product,
   only the threading around it differs. Shapes: q/k/v of a GQA layer and
   gate/up of a 110M layer (above the threading threshold), and small odd
   ones below it. With OpenMP also 1 thread against 2 or more, since the
   "nowait" loops let a thread move on to the next matrix early. */
static int one_matvecs(int n, const int *rows, int cols, int offset, int threads) {
    float *w[3], *out[3], *want[3], *x = alloc_floats((size_t)cols + 1) + offset;
    const float *w_c[3];
    int j, n_diff = 0;
    for (j = 0; j < n; j++) {
        w[j] = alloc_floats((size_t)rows[j] * cols + 1) + offset;
        fill(w[j], (size_t)rows[j] * cols, 1.0f);
        w_c[j] = w[j];
        out[j] = alloc_floats((size_t)rows[j]); want[j] = alloc_floats((size_t)rows[j]);
        memset(out[j], 0xff, (size_t)rows[j] * sizeof(float));   /* NaN: a row left unwritten shows */
    }
    fill(x, (size_t)cols, 1.0f);
    for (j = 0; j < n; j++) attnres_kernel_matvec(want[j], w[j], x, rows[j], cols);
#ifdef _OPENMP
    {
        int max_threads = omp_get_max_threads();
        omp_set_num_threads(threads);
        attnres_kernel_matvecs(n, out, w_c, rows, x, cols);
        omp_set_num_threads(max_threads);
    }
#else
    (void)threads;
    attnres_kernel_matvecs(n, out, w_c, rows, x, cols);
#endif
    for (j = 0; j < n; j++) {
        if (memcmp(out[j], want[j], (size_t)rows[j] * sizeof(float)) != 0) n_diff++;
        free(w[j] - offset); free(out[j]); free(want[j]);
    }
    free(x - offset);
    return n_diff;
}

static void test_matvecs(void) {
    static const int qkv_gqa[3] = {768, 256, 256}, gate_up[2] = {2048, 2048}, odd[3] = {5, 1, 33}, one[1] = {9};
    static const int with_empty[3] = {7, 0, 40};   /* a matrix of 0 rows in the middle */
    int threads[2] = {1, 2}, t, n_diff = 0, n_cases = 0;
    char how[48] = "no OpenMP";   /* two passes either way: the offsets of x and w differ */
#ifdef _OPENMP
    if (omp_get_max_threads() > 2) threads[1] = omp_get_max_threads();
    snprintf(how, sizeof how, "1 and %d threads", threads[1]);
#endif
    for (t = 0; t < 2; t++) {
        n_diff += one_matvecs(3, qkv_gqa, 768, t, threads[t]);
        n_diff += one_matvecs(2, gate_up, 768, 1 - t, threads[t]);
        n_diff += one_matvecs(3, odd, 17, t, threads[t]);
        n_diff += one_matvecs(1, one, 31, 1, threads[t]);
        n_diff += one_matvecs(3, with_empty, 13, t, threads[t]);
        n_cases += 5;
    }
    check(n_diff == 0, "matvecs: %d cases (q/k/v 768+256+256 x 768, gate/up 2x 2048x768, odd 5+1+33 x 17, one 9x31, "
          "7+0+40 x 13; %s): identical bits to separate matvec calls (%d matrices differ)",
          n_cases, how, n_diff);
    {   /* n = 0: nothing to compute, nothing read or written */
        float sentinel[4] = {1.0f, 2.0f, 3.0f, 4.0f}, x[4] = {5.0f, 6.0f, 7.0f, 8.0f};
        float *out[1]; const float *w[1]; int rows[1] = {1};
        out[0] = sentinel; w[0] = x;
        attnres_kernel_matvecs(0, out, w, rows, x, 4);
        check(sentinel[0] == 1.0f && sentinel[1] == 2.0f && sentinel[2] == 3.0f && sentinel[3] == 4.0f,
              "matvecs with n = 0 leaves the output untouched");
    }
}

/* Attention is threaded over heads: each head is still computed by one
   thread in one order, so 1 thread and all threads must give the same
   bits. The shape (12 heads x 64, 256 positions) is above the kernel's
   threading threshold, so the threaded loop really runs. */
static void test_attend_threads(void) {
#ifdef _OPENMP
    int n_pos = 256, n_heads = 12, head_dim = 64, seq_len = 256, max_threads = omp_get_max_threads();
    int threads = max_threads < 2 ? 2 : max_threads;
    size_t q_dim = (size_t)n_heads * head_dim, n_att = (size_t)n_heads * seq_len;
    float *q = alloc_floats(q_dim), *k = alloc_floats((size_t)seq_len * q_dim), *v = alloc_floats((size_t)seq_len * q_dim);
    float *out_one = alloc_floats(q_dim), *out_all = alloc_floats(q_dim);
    float *att_one = alloc_floats(n_att), *att_all = alloc_floats(n_att);
    fill(q, q_dim, 2.0f); fill(k, (size_t)seq_len * q_dim, 2.0f); fill(v, (size_t)seq_len * q_dim, 1.0f);
    omp_set_num_threads(1);
    attnres_kernel_attend(out_one, att_one, q, k, v, n_pos, n_heads, n_heads, head_dim, seq_len);
    omp_set_num_threads(threads);   /* 2 threads even on 1 core */
    attnres_kernel_attend(out_all, att_all, q, k, v, n_pos, n_heads, n_heads, head_dim, seq_len);
    omp_set_num_threads(max_threads);
    check(memcmp(out_one, out_all, q_dim * sizeof(float)) == 0 && memcmp(att_one, att_all, n_att * sizeof(float)) == 0,
          "attend 12 heads x 64, 256 positions: 1 thread and %d threads give identical bits", threads);
    free(q); free(k); free(v); free(out_one); free(out_all); free(att_one); free(att_all);
#endif
}

/* ======================================================================== */
/* RMSNorm                                                                   */
/* ======================================================================== */

/* out_i = (x_i * inv_rms) * g_i in both; only the sum of squares (same-sign
   terms, so sum|t| = the sum itself) is reordered. inv_rms = 1/sqrt(ss/n +
   eps) moves by at most half the relative change of ss, plus identical
   roundings, so each out_i is within TOL * |out_i| of the scalar one. */
static void test_rmsnorm(void) {
    static const int sizes[] = {1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 288, 512, 768, 2048};
    int n_sizes = (int)(sizeof sizes / sizeof sizes[0]), k, i, n_bad = 0, n_alias_bad = 0;
    double worst = 0.0;
    for (k = 0; k < n_sizes; k++) {
        int n = sizes[k];
        float *x = alloc_floats((size_t)n + 1), *g = alloc_floats((size_t)n), *got = alloc_floats((size_t)n);
        float *want = alloc_floats((size_t)n), *inplace = alloc_floats((size_t)n + 1);
        double *scale = (double *)malloc((size_t)n * sizeof(double));
        cmp_result res;
        if (!scale) { printf("FAIL out of memory\n"); exit(1); }
        fill(x, (size_t)n + 1, k % 3 == 0 ? 100.0f : 1.0f);
        fill(g, (size_t)n, 1.0f);
        attnres_kernel_rmsnorm(got, x + 1, g, n, 1e-5f);   /* x + 1: unaligned */
        attnres_rmsnorm(want, x + 1, g, n, 1e-5f);
        for (i = 0; i < n; i++) scale[i] = fabs((double)want[i]);
        res = compare("rmsnorm", got, want, scale, (size_t)n);
        n_bad += res.n_bad;
        if (res.worst > worst) worst = res.worst;
        /* out may alias x: the in-place kernel must equal the out-of-place one */
        memcpy(inplace, x, ((size_t)n + 1) * sizeof(float));
        attnres_kernel_rmsnorm(inplace + 1, inplace + 1, g, n, 1e-5f);
        if (memcmp(inplace + 1, got, (size_t)n * sizeof(float)) != 0) n_alias_bad++;
        free(x); free(g); free(got); free(want); free(inplace); free(scale);
    }
    check(n_bad == 0, "rmsnorm: %d sizes 1 .. 2048, unaligned: |kernel - scalar| <= %.0e * |scalar| (worst ratio %.2g)",
          n_sizes, TOL, worst);
    check(n_alias_bad == 0, "rmsnorm: in place (out == x) gives the same bits as out of place, %d sizes", n_sizes);
}

/* ======================================================================== */
/* Token attention                                                           */
/* ======================================================================== */

/* Bound carried through: a score s_t = c * sum_d q_d k_td moves by at most
   TOL * S_t with S_t = c * sum_d |q_d k_td|; the softmax then moves each
   weight a_t by at most a factor e^(2 TOL maxS) - 1 ~ 2 TOL maxS of itself;
   out_i = sum_t a_t v_ti moves by that times sum_t a_t |v_ti|, plus its
   own reordering/fusing (TOL * sum_t a_t |v_ti|). So
     att:  |diff_t| <= TOL (2 maxS + 1) a_t
     out:  |diff_i| <= TOL (2 maxS + 1) sum_t a_t |v_ti|                     */
static int one_attend(int n_pos, int n_heads, int n_kv_heads, int head_dim, double *worst) {
    int seq_len = n_pos + 3, kv_dim = n_kv_heads * head_dim, q_dim = n_heads * head_dim;
    int group = n_heads / n_kv_heads, hq, t, i, n_bad = 0;
    size_t n_att = (size_t)n_heads * (size_t)seq_len;
    float *q = alloc_floats((size_t)q_dim), *k = alloc_floats((size_t)seq_len * kv_dim);
    float *v = alloc_floats((size_t)seq_len * kv_dim);
    float *got = alloc_floats((size_t)q_dim), *want = alloc_floats((size_t)q_dim);
    float *att_got = alloc_floats(n_att), *att_want = alloc_floats(n_att);
    double *scale_out = (double *)malloc((size_t)q_dim * sizeof(double));
    double *scale_att = (double *)malloc(n_att * sizeof(double));
    float c = 1.0f / sqrtf((float)head_dim);
    cmp_result res;
    if (!scale_out || !scale_att) { printf("FAIL out of memory\n"); exit(1); }
    fill(q, (size_t)q_dim, 2.0f); fill(k, (size_t)seq_len * kv_dim, 2.0f); fill(v, (size_t)seq_len * kv_dim, 1.0f);
    for (i = 0; i < (int)n_att; i++) att_got[i] = att_want[i] = -7.0f;   /* sentinel past n_pos */
    attnres_kernel_attend(got, att_got, q, k, v, n_pos, n_heads, n_kv_heads, head_dim, seq_len);
    attnres_attend(want, att_want, q, k, v, n_pos, n_heads, n_kv_heads, head_dim, seq_len);
    for (hq = 0; hq < n_heads; hq++) {
        const float *qh = q + (size_t)hq * head_dim, *a = att_want + (size_t)hq * seq_len;
        const float *kh = k + (size_t)(hq / group) * head_dim, *vh = v + (size_t)(hq / group) * head_dim;
        double max_s = 0.0, factor;
        for (t = 0; t < n_pos; t++) {
            double s = 0.0;
            for (i = 0; i < head_dim; i++) s += fabs((double)qh[i] * (double)kh[(size_t)t * kv_dim + i]);
            if (c * s > max_s) max_s = c * s;
        }
        factor = 2.0 * max_s + 1.0;
        for (t = 0; t < seq_len; t++) scale_att[(size_t)hq * seq_len + t] = t < n_pos ? factor * a[t] : 0.0;
        for (i = 0; i < head_dim; i++) {
            double s = 0.0;
            for (t = 0; t < n_pos; t++) s += (double)a[t] * fabs((double)vh[(size_t)t * kv_dim + i]);
            scale_out[(size_t)hq * head_dim + i] = factor * s;
        }
    }
    res = compare("attend out", got, want, scale_out, (size_t)q_dim);
    n_bad += res.n_bad;
    if (res.worst > *worst) *worst = res.worst;
    res = compare("attend att", att_got, att_want, scale_att, n_att);   /* sentinels: scale 0, must match exactly */
    n_bad += res.n_bad;
    if (res.worst > *worst) *worst = res.worst;
    free(q); free(k); free(v); free(got); free(want); free(att_got); free(att_want); free(scale_out); free(scale_att);
    return n_bad;
}

static void test_attend(void) {
    /* n_heads, n_kv_heads, head_dim: MHA, GQA ratios 2, 3, 4, 6, MQA; head_dim not a multiple of 8 too */
    static const int heads[][3] = {{1, 1, 1}, {2, 1, 7}, {4, 4, 8}, {4, 2, 9}, {6, 6, 48}, {8, 2, 64},
                                   {12, 4, 64}, {12, 12, 64}, {6, 1, 17}, {3, 3, 33}};
    static const int positions[] = {1, 2, 3, 7, 8, 9, 16, 33, 100, 256};
    int nh = (int)(sizeof heads / sizeof heads[0]), np = (int)(sizeof positions / sizeof positions[0]);
    int a, b, n_bad = 0;
    double worst = 0.0;
    for (a = 0; a < nh; a++)
        for (b = 0; b < np; b++)
            n_bad += one_attend(positions[b], heads[a][0], heads[a][1], heads[a][2], &worst);
    check(n_bad == 0, "attend: %d cases (n_pos 1 .. 256; heads MHA, GQA 2/3/4/6, MQA; head_dim 1 .. 64): "
          "out and att within %.0e * the carried bound, att untouched past n_pos (worst ratio %.2g)",
          nh * np, TOL, worst);
}

/* ======================================================================== */
/* Depth attention                                                           */
/* ======================================================================== */

/* The depth-attention kernel promises more than closeness: it keeps the
   scalar order of every sum (it vectorises across sources, not along dim)
   and uses no fused multiply-add, so alpha and out must be the same bits.
   That is what keeps the two AttnRes paths of attnres.h in agreement in a
   kernel build. Returns the number of differing values. */
static int one_depth(int n_sources, int dim) {
    float *src = alloc_floats((size_t)n_sources * dim + 1), *w = alloc_floats((size_t)dim);
    float *g = alloc_floats((size_t)dim), *got = alloc_floats((size_t)dim), *want = alloc_floats((size_t)dim);
    float alpha_got[32], alpha_want[32];
    int i, j, n_diff = 0;
    /* sources of different sizes (like blocks that sum more outputs); w scaled
       so the logits are O(1) and the softmax is neither flat nor one-hot */
    for (j = 0; j < n_sources; j++) fill(src + 1 + (size_t)j * dim, (size_t)dim, (float)(1 + 3 * j));
    fill(w, (size_t)dim, sqrtf(3.0f / (float)dim) * 2.0f);
    for (i = 0; i < dim; i++) g[i] = 1.0f + 0.5f * (2.0f * attnres_random_f32(&rng) - 1.0f);
    attnres_kernel_depth_attention(got, alpha_got, src + 1, n_sources, w, g, dim, 1e-5f);   /* src + 1: unaligned */
    attnres_depth_attention(want, alpha_want, src + 1, n_sources, w, g, dim, 1e-5f);
    for (j = 0; j < n_sources; j++) n_diff += memcmp(&alpha_got[j], &alpha_want[j], sizeof(float)) != 0;
    for (i = 0; i < dim; i++) n_diff += memcmp(&got[i], &want[i], sizeof(float)) != 0;
    if (n_diff)
        printf("       depth attention n_sources %d dim %d: %d values differ (alpha[0] %.9g vs %.9g, out[0] %.9g vs %.9g)\n",
               n_sources, dim, n_diff, (double)alpha_got[0], (double)alpha_want[0], (double)got[0], (double)want[0]);
    free(src); free(w); free(g); free(got); free(want);
    return n_diff;
}

static void test_depth_attention(void) {
    static const int dims[] = {1, 7, 8, 9, 16, 17, 64, 65, 288, 512, 768};
    static const int sources[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 25};
    int nd = (int)(sizeof dims / sizeof dims[0]), ns = (int)(sizeof sources / sizeof sources[0]), a, b, n_diff = 0;
    for (a = 0; a < nd; a++)
        for (b = 0; b < ns; b++) n_diff += one_depth(sources[b], dims[a]);
    check(n_diff == 0, "depth attention: %d cases (n_sources 1 .. 9, 16, 17, 25; dim 1 .. 768; unaligned): "
          "alpha and out bit-identical to the scalar loop (%d values differ)", nd * ns, n_diff);
}

/* Finite inputs whose squares overflow float (one element of 1e38, a row
   at 1e20): the kernels must take the header's overflow-safe 1/rms, not
   1/sqrt(Inf) = 0. The golden huge_* cases check the header against
   PyTorch; here each kernel is held to the scalar function, and an Inf
   input must come out NaN (reported by forward), never zeros. */
static void test_huge_values(void) {
    static const int dims[] = {7, 8, 64, 65};
    int k, i, j, bad_norm = 0, bad_depth = 0, bad_inf = 0;
    for (k = 0; k < 4; k++) {
        int n = dims[k];
        float x[65], g[65], got[65], want[65], src[3 * 65], w[65], alpha_got[3], alpha_want[3];
        fill(x, (size_t)n, 1.0f);
        fill(g, (size_t)n, 1.0f);
        x[n / 2] = 1e38f;
        attnres_kernel_rmsnorm(got, x, g, n, 1e-5f);
        attnres_rmsnorm(want, x, g, n, 1e-5f);
        for (i = 0; i < n; i++)
            bad_norm += !(fabsf(got[i] - want[i]) <= 1e-5f * fabsf(want[i]) + 1e-30f) || want[n / 2] == 0.0f;
        for (j = 0; j < 3; j++) fill(src + j * n, (size_t)n, 1.0f);
        src[n + 1] = 1e38f;                                   /* source 1: one huge element */
        for (i = 0; i < n; i++) src[2 * n + i] *= 1e20f;      /* source 2: a row at 1e20 */
        fill(w, (size_t)n, 0.3f);
        attnres_kernel_depth_attention(got, alpha_got, src, 3, w, g, n, 1e-5f);
        attnres_depth_attention(want, alpha_want, src, 3, w, g, n, 1e-5f);
        bad_depth += memcmp(alpha_got, alpha_want, sizeof alpha_got) != 0 ||
                     memcmp(got, want, (size_t)n * sizeof(float)) != 0 || !isfinite(alpha_want[1]);
        x[0] = INFINITY;
        attnres_kernel_rmsnorm(got, x, g, n, 1e-5f);
        bad_inf += !isnan(got[1]);
    }
    check(bad_norm == 0, "rmsnorm with an element of 1e38, dims 7 8 64 65: kernel = scalar within 1e-5, not zeroed");
    check(bad_depth == 0, "depth attention over sources with 1e38 and 1e20: kernel bit-identical to scalar, finite");
    check(bad_inf == 0, "rmsnorm of a vector holding Inf: NaN (reported by forward), never silent zeros");
}

/* ======================================================================== */
/* The comparison can fail                                                   */
/* ======================================================================== */

/* A kernel with a bug of the kind these tests exist for: the last column
   (or the last position) forgotten. Simulated with the scalar function on
   a shortened input; the comparison must flag it. */
static void test_sensitivity(void) {
    int rows = 64, cols, r, j, k;
    static const int sizes[] = {9, 65, 768, 2048};
    for (k = 0; k < 4; k++) {
        float *w, *x, *buggy, *want;
        double *scale;
        cmp_result res;
        cols = sizes[k];
        w = alloc_floats((size_t)rows * cols); x = alloc_floats((size_t)cols);
        buggy = alloc_floats((size_t)rows); want = alloc_floats((size_t)rows);
        scale = (double *)malloc((size_t)rows * sizeof(double));
        if (!scale) { printf("FAIL out of memory\n"); exit(1); }
        fill(w, (size_t)rows * cols, 1.0f); fill(x, (size_t)cols, 1.0f);
        x[cols - 1] = 0.5f;   /* a typical |x|, so the dropped term is typical too */
        for (r = 0; r < rows; r++) buggy[r] = attnres_dot(w + (size_t)r * cols, x, cols - 1);
        attnres_matvec(want, w, x, rows, cols);
        for (r = 0; r < rows; r++) {
            double s = 0.0;
            for (j = 0; j < cols; j++) s += fabs((double)w[(size_t)r * cols + j] * (double)x[j]);
            scale[r] = s;
        }
        printf("       (expected: the next comparison reports a miss)\n");
        res = compare("matvec that drops its last column", buggy, want, scale, (size_t)rows);
        check(res.n_bad > rows / 2, "sensitivity: a matvec that drops the last of %d columns is caught in %d of %d rows",
              cols, res.n_bad, rows);
        free(w); free(x); free(buggy); free(want); free(scale);
    }
    {   /* attention that forgets the newest position */
        int n_pos = 100, hd = 64, n_heads = 4, seq = 100;
        float *q = alloc_floats((size_t)n_heads * hd), *kc = alloc_floats((size_t)seq * n_heads * hd);
        float *vc = alloc_floats((size_t)seq * n_heads * hd), *buggy = alloc_floats((size_t)n_heads * hd);
        float *want = alloc_floats((size_t)n_heads * hd), *att = alloc_floats((size_t)n_heads * seq);
        double *scale = (double *)malloc((size_t)n_heads * hd * sizeof(double));
        int i, t, h;
        cmp_result res;
        if (!scale) { printf("FAIL out of memory\n"); exit(1); }
        fill(q, (size_t)n_heads * hd, 2.0f); fill(kc, (size_t)seq * n_heads * hd, 2.0f);
        fill(vc, (size_t)seq * n_heads * hd, 1.0f);
        attnres_attend(buggy, att, q, kc, vc, n_pos - 1, n_heads, n_heads, hd, seq);
        attnres_attend(want, att, q, kc, vc, n_pos, n_heads, n_heads, hd, seq);
        for (h = 0; h < n_heads; h++)   /* the honest scale, as in one_attend, with a generous factor 10 */
            for (i = 0; i < hd; i++) {
                double s = 0.0;
                for (t = 0; t < n_pos; t++) s += (double)att[(size_t)h * seq + t] * fabs((double)vc[(size_t)t * n_heads * hd + h * hd + i]);
                scale[h * hd + i] = 10.0 * s;
            }
        printf("       (expected: the next comparison reports a miss)\n");
        res = compare("attend that drops the newest position", buggy, want, scale, (size_t)n_heads * hd);
        check(res.n_bad > 0, "sensitivity: attention that forgets the newest of %d positions is caught (%d of %d values)",
              n_pos, res.n_bad, n_heads * hd);
        free(q); free(kc); free(vc); free(buggy); free(want); free(att); free(scale);
    }
}

int main(void) {
    printf("kernels: %s\n", attnres_kernel_name());
#ifdef ATTNRES_CUDA
    {
        char why[200];
        if (attnres_kernel_cuda_device_count(why, (int)sizeof why) == 0) {
            printf("skip CUDA kernels: no GPU found (%s)\n", why);
            return check_summary("test_kernels");
        }
    }
#endif
    test_matvec();
    test_matvec_threads();
    test_matvecs();
    test_rmsnorm();
    test_attend();
    test_attend_threads();
    test_depth_attention();
    test_huge_values();
    test_sensitivity();
    return check_summary("test_kernels");
}

#endif /* ATTNRES_KERNELS */
