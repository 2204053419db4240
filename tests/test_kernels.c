/* test_kernels.c - every kernel of the optional kernel file (attnres_kernels.c,
   or attnres_kernels.cu in a CUDA build) against its scalar twin in attnres.h,
   both in this one binary, on random inputs of many shapes: sizes that are
   and are not multiples of 8, 1, unaligned pointers, many context lengths,
   grouped-query ratios. Built only in a kernel build
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
   With OpenMP each output row is still summed by one thread in one order,
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



/* ======================================================================== */
/* matmul: T positions against one weight matrix                             */
/* ======================================================================== */

/* The same bound as matvec, output by output: out[t, r] adds the products
   x[t, j] w[r, j], scale sum_j |x_tj w_rj|. The kernel tiles 3 positions x
   4 rows, so T and rows around multiples of 3 and 4 (full tiles, edges,
   fewer than one tile) are all here. Also: every output equals the
   kernel's own result for that position alone (T = 1), bit for bit, so a
   position's result does not depend on which chunk or tile it fell in. */
static double one_matmul(int T, int rows, int cols, int offset, int wide, int *alone_ok) {
    size_t nw = (size_t)rows * (size_t)cols, nx = (size_t)T * (size_t)cols, no = (size_t)T * (size_t)rows;
    float *wbuf = alloc_floats(nw + 1), *xbuf = alloc_floats(nx + 1);
    float *w = wbuf + offset, *x = xbuf + offset;
    float *got = alloc_floats(no), *want = alloc_floats(no), *alone = alloc_floats((size_t)rows);
    double *scale = (double *)malloc((no ? no : 1) * sizeof(double));
    cmp_result res;
    int t, r, j;
    if (!scale) { printf("FAIL out of memory\n"); exit(1); }
    if (wide) { fill_wide(w, nw); fill_wide(x, nx); }
    else { fill(w, nw, 1.0f); fill(x, nx, 1.0f); }
    for (j = 0; j < (int)no; j++) got[j] = want[j] = -7.0f;   /* sentinel: every output must be written */
    attnres_kernel_matmul(got, x, w, T, rows, cols);
    attnres_matmul(want, x, w, T, rows, cols);
    for (t = 0; t < T; t++)
        for (r = 0; r < rows; r++) {   /* sum_j |x_tj w_rj|, in double */
            double sum = 0.0;
            for (j = 0; j < cols; j++) sum += fabs((double)x[(size_t)t * cols + j] * (double)w[(size_t)r * cols + j]);
            scale[(size_t)t * rows + r] = sum;
        }
    res = compare("matmul", got, want, scale, no);
    for (t = 0; t < T; t++) {
        attnres_kernel_matmul(alone, x + (size_t)t * cols, w, 1, rows, cols);
        if (memcmp(alone, got + (size_t)t * rows, (size_t)rows * sizeof(float)) != 0) *alone_ok = 0;
    }
    free(wbuf); free(xbuf); free(got); free(want); free(alone); free(scale);
    return res.n_bad ? -1.0 : res.worst;
}

static void test_matmul(void) {
    static const int Ts[] = {1, 2, 3, 4, 5, 6, 7, 64};
    static const int sizes[] = {1, 3, 4, 5, 7, 8, 9, 16, 17, 33, 65, 288};
    int n_T = (int)(sizeof Ts / sizeof Ts[0]), n_sizes = (int)(sizeof sizes / sizeof sizes[0]);
    int a, b, c, n_shapes = 0, n_bad = 0, alone_ok = 1;
    double worst = 0.0, r;
    for (a = 0; a < n_T; a++)
        for (b = 0; b < n_sizes; b++)
            for (c = 0; c < n_sizes; c++) {
                r = one_matmul(Ts[a], sizes[b], sizes[c], (a + b + c) % 2, 0, &alone_ok);
                n_shapes++;
                if (r < 0) n_bad++; else if (r > worst) worst = r;
            }
    check(n_bad == 0, "matmul: %d shapes, T in {1..7, 64}, rows and cols in {1, 3..5, 7..9, 16, 17, 33, 65, 288}, "
          "aligned and offset: |kernel - scalar| <= %.0e * sum|x w| (%d missed; worst ratio %.2g)",
          n_shapes, TOL, n_bad, worst);
    {   /* the 110M prefill shapes (64 positions), above the OpenMP threshold, and wide magnitudes */
        static const int shapes[][3] = {{64, 768, 768}, {64, 2048, 768}, {64, 768, 2048}, {61, 2049, 767},
                                        {7, 4099, 129}};
        int i, n = (int)(sizeof shapes / sizeof shapes[0]);
        n_bad = 0; worst = 0.0;
        for (i = 0; i < n; i++) {
            r = one_matmul(shapes[i][0], shapes[i][1], shapes[i][2], i % 2, 0, &alone_ok);
            if (r < 0) n_bad++; else if (r > worst) worst = r;
            r = one_matmul(shapes[i][0], shapes[i][1] / 8 + 1, shapes[i][2], 1, 1, &alone_ok);
            if (r < 0) n_bad++; else if (r > worst) worst = r;
        }
        check(n_bad == 0, "matmul: %d large shapes (64 x 768x768 .. 64 x 768x2048, 61 x 2049x767), and magnitudes "
              "2^-10 .. 2^10 with cancellation: within %.0e * sum|x w| (%d missed; worst ratio %.2g)",
              2 * n, TOL, n_bad, worst);
    }
    check(alone_ok, "matmul: every position's outputs equal that position run alone (T = 1), bit for bit");
    {   /* sensitivity: a matmul that drops the last column of one tile's row is caught */
        int T = 6, rows = 8, cols = 64;
        float *x = alloc_floats((size_t)T * cols), *w = alloc_floats((size_t)rows * cols);
        float *want = alloc_floats((size_t)T * rows), *buggy = alloc_floats((size_t)T * rows);
        double *scale = (double *)malloc((size_t)T * rows * sizeof(double));
        cmp_result res;
        int t, rr, j;
        if (!scale) { printf("FAIL out of memory\n"); exit(1); }
        fill(x, (size_t)T * cols, 1.0f); fill(w, (size_t)rows * cols, 1.0f);
        attnres_kernel_matmul(want, x, w, T, rows, cols);
        memcpy(buggy, want, (size_t)T * rows * sizeof(float));
        for (t = 0; t < T; t++) {
            buggy[(size_t)t * rows + 5] -= x[(size_t)t * cols + cols - 1] * w[(size_t)5 * cols + cols - 1];
            for (rr = 0; rr < rows; rr++) {
                double sum = 0.0;
                for (j = 0; j < cols; j++) sum += fabs((double)x[(size_t)t * cols + j] * (double)w[(size_t)rr * cols + j]);
                scale[(size_t)t * rows + rr] = sum;
            }
        }
        res = compare("matmul without one product", buggy, want, scale, (size_t)T * rows);
        check(res.n_bad >= T - 1, "sensitivity: a matmul missing one product in row 5 is caught at %d of %d positions",
              res.n_bad, T);
        free(x); free(w); free(want); free(buggy); free(scale);
    }
}

/* With OpenMP a block of rows is summed by one thread in one order */
static void test_matmul_threads(void) {
#ifdef _OPENMP
    int T = 64, rows = 2048, cols = 768, max_threads = omp_get_max_threads();
    float *w = alloc_floats((size_t)rows * cols), *x = alloc_floats((size_t)T * cols);
    float *one = alloc_floats((size_t)T * rows), *all = alloc_floats((size_t)T * rows);
    fill(w, (size_t)rows * cols, 1.0f); fill(x, (size_t)T * cols, 1.0f);
    omp_set_num_threads(1);
    attnres_kernel_matmul(one, x, w, T, rows, cols);
    omp_set_num_threads(max_threads < 2 ? 2 : max_threads);
    attnres_kernel_matmul(all, x, w, T, rows, cols);
    omp_set_num_threads(max_threads);
    check(memcmp(one, all, (size_t)T * rows * sizeof(float)) == 0,
          "matmul 64 x 2048x768: 1 thread and %d threads give identical bits", max_threads < 2 ? 2 : max_threads);
    free(w); free(x); free(one); free(all);
#endif
}

/* ======================================================================== */
/* matmul backward: dx += dout W, dw += dout^T x over T positions             */
/* ======================================================================== */
/* No tolerance here: the kernel adds every product in the scalar order (dw
   over t = 0..T-1, dx over r = 0..rows-1, from the value already there),
   a multiply and an add each rounded, so it must give the scalar loop's
   bits exactly (attnres_kernels.c says why). dx and dw start from random
   values, not zero, since both accumulate. The tiles are 4 rows x 16
   columns of dw and 4 positions x 16 columns of dx, so T, rows and cols
   around multiples of 4, 8 and 16 are all here, aligned and offset. */

/* One shape with both gradients, dx only and dw only; 1 if all equal. */
static int one_matmul_backward(int T, int rows, int cols, int offset, int wide) {
    size_t nw = (size_t)rows * cols, nx = (size_t)T * cols, no = (size_t)T * rows;
    float *wbuf = alloc_floats(nw + 1), *xbuf = alloc_floats(nx + 1), *gbuf = alloc_floats(no + 1);
    float *w = wbuf + offset, *x = xbuf + offset, *dout = gbuf + offset;
    float *dx0 = alloc_floats(nx), *dw0 = alloc_floats(nw);
    float *dx_got = alloc_floats(nx), *dw_got = alloc_floats(nw), *dx_want = alloc_floats(nx), *dw_want = alloc_floats(nw);
    int pass, ok = 1;
    if (wide) { fill_wide(w, nw); fill_wide(x, nx); fill_wide(dout, no); }
    else { fill(w, nw, 1.0f); fill(x, nx, 1.0f); fill(dout, no, 1.0f); }
    fill(dx0, nx, 1.0f); fill(dw0, nw, 1.0f);
    for (pass = 0; pass < 3; pass++) {   /* both, dx only (dw NULL), dw only (dx NULL) */
        int with_dx = pass != 2, with_dw = pass != 1;
        memcpy(dx_got, dx0, nx * sizeof(float)); memcpy(dx_want, dx0, nx * sizeof(float));
        memcpy(dw_got, dw0, nw * sizeof(float)); memcpy(dw_want, dw0, nw * sizeof(float));
        attnres_kernel_matmul_backward(with_dx ? dx_got : NULL, with_dw ? dw_got : NULL, dout, w, x, T, rows, cols);
        attnres_matmul_backward(with_dx ? dx_want : NULL, with_dw ? dw_want : NULL, dout, w, x, T, rows, cols);
        if (memcmp(dx_got, dx_want, nx * sizeof(float)) || memcmp(dw_got, dw_want, nw * sizeof(float))) {
            if (ok) printf("       matmul backward T %d rows %d cols %d (%s): differs from the scalar loop\n",
                           T, rows, cols, pass == 0 ? "dx and dw" : pass == 1 ? "dx only" : "dw only");
            ok = 0;
        }
        if (pass > 0 && (memcmp(with_dx ? dw_got : dx_got, with_dx ? dw0 : dx0, (with_dx ? nw : nx) * sizeof(float)))) {
            printf("       matmul backward T %d rows %d cols %d: wrote the gradient it was not given\n", T, rows, cols);
            ok = 0;
        }
    }
    free(wbuf); free(xbuf); free(gbuf); free(dx0); free(dw0); free(dx_got); free(dw_got); free(dx_want); free(dw_want);
    return ok;
}

static void test_matmul_backward(void) {
    static const int Ts[] = {1, 2, 3, 4, 5, 7, 8, 9, 64};
    static const int sizes[] = {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 33, 48, 64, 65, 168};
    int n_T = (int)(sizeof Ts / sizeof Ts[0]), n_sizes = (int)(sizeof sizes / sizeof sizes[0]);
    int a, b, c, n_shapes = 0, n_bad = 0;
    for (a = 0; a < n_T; a++)
        for (b = 0; b < n_sizes; b++)
            for (c = 0; c < n_sizes; c++) {
                n_shapes++;
                if (!one_matmul_backward(Ts[a], sizes[b], sizes[c], (a + b + c) % 2, 0)) n_bad++;
            }
    check(n_bad == 0, "matmul backward: %d shapes, T in {1..5, 7..9, 64}, rows and cols in {1, 3..5, 7..9, 15..17, "
          "24, 33, 48, 64, 65, 168}, aligned and offset, dx and dw, each alone: the scalar loop's bits (%d differ)",
          n_shapes, n_bad);
    {   /* the trainer's shapes above the OpenMP threshold, the output projection, wide magnitudes */
        static const int shapes[][3] = {{64, 64, 64}, {64, 168, 64}, {64, 64, 168}, {64, 256, 64}, {256, 288, 768},
                                        {61, 2049, 67}, {63, 67, 2049}};
        int i, n = (int)(sizeof shapes / sizeof shapes[0]);
        n_bad = 0;
        for (i = 0; i < n; i++) {
            if (!one_matmul_backward(shapes[i][0], shapes[i][1], shapes[i][2], i % 2, 0)) n_bad++;
            if (!one_matmul_backward(shapes[i][0], shapes[i][1], shapes[i][2], 1, 1)) n_bad++;
        }
        check(n_bad == 0, "matmul backward: %d large shapes (64 x 64x64 .. 256 x 288x768, 61 x 2049x67), and "
              "magnitudes 2^-10 .. 2^10: the scalar loop's bits (%d differ)", 2 * n, n_bad);
    }
    {   /* sensitivity: the comparison sees one product added twice (dw) or one row skipped (dx) */
        int T = 9, rows = 17, cols = 33;
        float *w = alloc_floats((size_t)rows * cols), *x = alloc_floats((size_t)T * cols), *dout = alloc_floats((size_t)T * rows);
        float *dx = alloc_floats((size_t)T * cols), *dw = alloc_floats((size_t)rows * cols);
        float *dx2 = alloc_floats((size_t)T * cols), *dw2 = alloc_floats((size_t)rows * cols);
        fill(w, (size_t)rows * cols, 1.0f); fill(x, (size_t)T * cols, 1.0f); fill(dout, (size_t)T * rows, 1.0f);
        memset(dx, 0, (size_t)T * cols * sizeof(float)); memset(dw, 0, (size_t)rows * cols * sizeof(float));
        memset(dx2, 0, (size_t)T * cols * sizeof(float)); memset(dw2, 0, (size_t)rows * cols * sizeof(float));
        attnres_kernel_matmul_backward(dx, dw, dout, w, x, T, rows, cols);
        attnres_matmul_backward(dx2, NULL, dout, w, x, T, rows - 1, cols);  /* dx without W's last row */
        attnres_matmul_backward(NULL, dw2, dout, w, x, T, rows, cols);
        dw[5 * cols + 7] += dout[3 * rows + 5] * x[3 * cols + 7];           /* one dw product twice */
        check(memcmp(dx, dx2, (size_t)T * cols * sizeof(float)) != 0 && memcmp(dw, dw2, (size_t)rows * cols * sizeof(float)) != 0,
              "sensitivity: a dx missing one row of W, and a dw with one product added twice, are both caught");
        free(w); free(x); free(dout); free(dx); free(dw); free(dx2); free(dw2);
    }
}

/* With OpenMP: rows of dw and positions of dx each summed by one thread */
static void test_matmul_backward_threads(void) {
#ifdef _OPENMP
    int T = 64, rows = 768, cols = 288, max_threads = omp_get_max_threads();
    size_t nw = (size_t)rows * cols, nx = (size_t)T * cols;
    float *w = alloc_floats(nw), *x = alloc_floats(nx), *dout = alloc_floats((size_t)T * rows);
    float *dx1 = alloc_floats(nx), *dw1 = alloc_floats(nw), *dxn = alloc_floats(nx), *dwn = alloc_floats(nw);
    fill(w, nw, 1.0f); fill(x, nx, 1.0f); fill(dout, (size_t)T * rows, 1.0f);
    memset(dx1, 0, nx * sizeof(float)); memset(dw1, 0, nw * sizeof(float));
    memset(dxn, 0, nx * sizeof(float)); memset(dwn, 0, nw * sizeof(float));
    omp_set_num_threads(1);
    attnres_kernel_matmul_backward(dx1, dw1, dout, w, x, T, rows, cols);
    omp_set_num_threads(max_threads < 2 ? 2 : max_threads);
    attnres_kernel_matmul_backward(dxn, dwn, dout, w, x, T, rows, cols);
    omp_set_num_threads(max_threads);
    check(memcmp(dx1, dxn, nx * sizeof(float)) == 0 && memcmp(dw1, dwn, nw * sizeof(float)) == 0,
          "matmul backward 64 x 768x288: 1 thread and %d threads give identical bits", max_threads < 2 ? 2 : max_threads);
    free(w); free(x); free(dout); free(dx1); free(dw1); free(dxn); free(dwn);
#endif
}

/* ======================================================================== */
/* depth attention backward: the softmax over depth's gradients               */
/* ======================================================================== */
/* Also no tolerance: the kernel runs 8 sources' sums side by side, each in
   the scalar order, and the per-element updates in the scalar order, so it
   must give the header's bits (attnres_kernels.c). Sources 1 .. 40 (groups
   of 8, full and short), dim around multiples of 8, aligned and offset, a
   non-uniform softmax (random alpha), the gradients accumulating into
   non-zero values, each output alone (the others NULL), and sources whose
   sum of squares overflows float (the rescaled 1/rms). */
static int one_depth_backward(int n_sources, int dim, int offset, int huge) {
    size_t ns = (size_t)n_sources * dim;
    float *sbuf = alloc_floats(ns + 1), *obuf = alloc_floats((size_t)dim + 1);
    float *sources = sbuf + offset, *dout = obuf + offset, *alpha = alloc_floats((size_t)n_sources);
    float *w = alloc_floats((size_t)dim), *g = alloc_floats((size_t)dim);
    float *ds0 = alloc_floats(ns), *dw0 = alloc_floats((size_t)dim), *dg0 = alloc_floats((size_t)dim);
    float *got[3], *want[3];
    size_t sizes[3];
    int pass, i, ok = 1;
    float sum = 0.0f;
    sizes[0] = ns; sizes[1] = sizes[2] = (size_t)dim;
    for (i = 0; i < 3; i++) { got[i] = alloc_floats(sizes[i]); want[i] = alloc_floats(sizes[i]); }
    fill(sources, ns, 2.0f); fill(dout, (size_t)dim, 1.0f); fill(w, (size_t)dim, 1.0f); fill(g, (size_t)dim, 1.5f);
    if (huge) for (i = 0; i < dim; i++) sources[(size_t)(n_sources - 1) * dim + i] *= 3e19f;   /* squares overflow */
    for (i = 0; i < n_sources; i++) { alpha[i] = 0.05f + attnres_random_f32(&rng); sum += alpha[i]; }
    for (i = 0; i < n_sources; i++) alpha[i] /= sum;
    fill(ds0, ns, 1.0f); fill(dw0, (size_t)dim, 1.0f); fill(dg0, (size_t)dim, 1.0f);
    for (pass = 0; pass < 4; pass++) {   /* all three, then each alone */
        int k;
        float *gk[3], *wk[3];
        memcpy(got[0], ds0, ns * sizeof(float)); memcpy(want[0], ds0, ns * sizeof(float));
        for (k = 1; k < 3; k++) {
            memcpy(got[k], k == 1 ? dw0 : dg0, (size_t)dim * sizeof(float));
            memcpy(want[k], k == 1 ? dw0 : dg0, (size_t)dim * sizeof(float));
        }
        for (k = 0; k < 3; k++) { gk[k] = pass == 0 || pass == k + 1 ? got[k] : NULL; wk[k] = gk[k] ? want[k] : NULL; }
        attnres_kernel_depth_attention_backward(gk[0], gk[1], gk[2], dout, alpha, sources, n_sources, w, g, dim, 1e-5f);
        attnres_depth_attention_backward(wk[0], wk[1], wk[2], dout, alpha, sources, n_sources, w, g, dim, 1e-5f);
        for (k = 0; k < 3; k++)
            if (memcmp(got[k], want[k], sizes[k] * sizeof(float)) != 0) {
                if (ok) printf("       depth backward n_sources %d dim %d%s: %s differs from the scalar loop\n",
                               n_sources, dim, huge ? " (overflowing source)" : "",
                               k == 0 ? "dsources" : k == 1 ? "dpseudo_query" : "dkey_gain");
                ok = 0;
            }
    }
    free(sbuf); free(obuf); free(alpha); free(w); free(g); free(ds0); free(dw0); free(dg0);
    for (i = 0; i < 3; i++) { free(got[i]); free(want[i]); }
    return ok;
}

static void test_depth_backward(void) {
    static const int dims[] = {1, 3, 7, 8, 9, 15, 16, 17, 48, 64, 65, 96, 768};
    int n_dims = (int)(sizeof dims / sizeof dims[0]), n, b, n_shapes = 0, n_bad = 0;
    for (n = 1; n <= 40; n++)
        for (b = 0; b < n_dims; b++) {
            n_shapes++;
            if (!one_depth_backward(n, dims[b], (n + b) % 2, 0)) n_bad++;
        }
    check(n_bad == 0, "depth attention backward: %d shapes, 1..40 sources, dim in {1, 3, 7..9, 15..17, 48, 64, 65, "
          "96, 768}, aligned and offset, every output together and alone: the scalar loop's bits (%d differ)",
          n_shapes, n_bad);
    n_bad = 0;
    for (n = 1; n <= 17; n += 8) if (!one_depth_backward(n, 64, 1, 1)) n_bad++;
    check(n_bad == 0, "depth attention backward: a source whose sum of squares overflows float takes the "
          "header's rescaled 1/rms: the same bits (%d differ)", n_bad);
    {   /* sensitivity: the exact comparison sees one source's value path dropped */
        int ns = 9, dim = 16, i;
        float *src = alloc_floats((size_t)ns * dim), *dout = alloc_floats((size_t)dim), *alpha = alloc_floats((size_t)ns);
        float *w = alloc_floats((size_t)dim), *g = alloc_floats((size_t)dim);
        float *a = alloc_floats((size_t)ns * dim), *b2 = alloc_floats((size_t)ns * dim);
        fill(src, (size_t)ns * dim, 1.0f); fill(dout, (size_t)dim, 1.0f); fill(w, (size_t)dim, 1.0f);
        for (i = 0; i < dim; i++) g[i] = 1.0f;
        for (i = 0; i < ns; i++) alpha[i] = 1.0f / ns;
        memset(a, 0, (size_t)ns * dim * sizeof(float)); memset(b2, 0, (size_t)ns * dim * sizeof(float));
        attnres_kernel_depth_attention_backward(a, NULL, NULL, dout, alpha, src, ns, w, g, dim, 1e-5f);
        attnres_depth_attention_backward(b2, NULL, NULL, dout, alpha, src, ns, w, g, dim, 1e-5f);
        for (i = 0; i < dim; i++) b2[8 * dim + i] -= alpha[8] * dout[i];   /* source 8 without dv += alpha dout */
        check(memcmp(a, b2, (size_t)ns * dim * sizeof(float)) != 0,
              "sensitivity: a depth backward that drops one source's value gradient is caught");
        free(src); free(dout); free(alpha); free(w); free(g); free(a); free(b2);
    }
}

/* ======================================================================== */
/* matvec_q8: int8 weights, fp32 scales and activations                      */
/* ======================================================================== */
/* The same bound as matvec: the kernel adds the same products q_j x_j (each
   exact in float: an int8 times a float is a float times a small integer,
   rounded once, as in the scalar loop) in another order, and scales each
   group sum once. The honest scale is sum_j |s_g q_j x_j|. */

/* q [rows, cols] random int8 in [-127, 127], scales spread over 2^-12 ..
   2^0, x [cols] random. offset shifts q by that many bytes and x by that
   many floats. Returns the worst ratio, or -1 if an output missed. */
static double one_matvec_q8(int rows, int cols, int G, int offset) {
    size_t nw = (size_t)rows * (size_t)cols, ng = nw / (size_t)G, i;
    int8_t *qbuf = (int8_t *)malloc(nw + 1), *q = qbuf + offset;
    float *scale = alloc_floats(ng), *xbuf = alloc_floats((size_t)cols + 1), *x = xbuf + offset;
    float *got = alloc_floats((size_t)rows), *want = alloc_floats((size_t)rows);
    double *mag = (double *)malloc((size_t)rows * sizeof(double));
    cmp_result res;
    int r, j;
    if (!qbuf || !mag) { printf("FAIL out of memory\n"); exit(1); }
    for (i = 0; i < nw; i++) q[i] = (int8_t)((int)(attnres_random_u32(&rng) % 255) - 127);
    for (i = 0; i < ng; i++) scale[i] = ldexpf(attnres_random_f32(&rng) + 0.5f, -(int)(attnres_random_u32(&rng) % 13));
    fill(x, (size_t)cols, 1.0f);
    attnres_kernel_matvec_q8(got, q, scale, x, rows, cols, G);
    attnres_matvec_q8(want, q, scale, x, rows, cols, G);
    for (r = 0; r < rows; r++) {
        double sum = 0.0;
        for (j = 0; j < cols; j++)
            sum += fabs((double)scale[((size_t)r * cols + j) / (size_t)G] * q[(size_t)r * cols + j] * x[j]);
        mag[r] = sum;
    }
    res = compare("matvec_q8", got, want, mag, (size_t)rows);
    free(qbuf); free(scale); free(xbuf); free(got); free(want); free(mag);
    return res.n_bad ? -1.0 : res.worst;
}

static void test_matvec_q8(void) {
    static const int rows[] = {1, 2, 3, 7, 8, 9, 31, 33, 64, 65, 288};
    static const int groups[] = {1, 2, 3, 5, 24};        /* cols = k * G */
    static const int sizes[] = {8, 16, 32, 64, 12, 1};   /* 12 and 1: not multiples of 8, the scalar fallback */
    int a, b, c, offset, n_shapes = 0, n_bad = 0, i;
    double worst = 0.0, r;
    for (a = 0; a < (int)(sizeof rows / sizeof rows[0]); a++)
        for (b = 0; b < (int)(sizeof groups / sizeof groups[0]); b++)
            for (c = 0; c < (int)(sizeof sizes / sizeof sizes[0]); c++)
                for (offset = 0; offset <= 1; offset++) {
                    r = one_matvec_q8(rows[a], groups[b] * sizes[c], sizes[c], offset);
                    n_shapes++;
                    if (r < 0) n_bad++; else if (r > worst) worst = r;
                }
    check(n_bad == 0, "matvec_q8: %d shapes, rows 1..288, 1..24 groups of 8, 16, 32, 64 (and 12, 1: fallback), "
          "aligned and offset: |kernel - scalar| <= %.0e * sum|s q x| (%d missed; worst ratio %.2g)",
          n_shapes, TOL, n_bad, worst);
    {
        static const int shapes[][3] = {{768, 768, 32}, {2048, 768, 32}, {768, 2048, 32}, {32000, 768, 32},
                                        {768, 768, 64}, {4099, 96, 32}};
        n_bad = 0; worst = 0.0;
        for (i = 0; i < 6; i++) {
            r = one_matvec_q8(shapes[i][0], shapes[i][1], shapes[i][2], i % 2);
            if (r < 0) n_bad++; else if (r > worst) worst = r;
        }
        check(n_bad == 0, "matvec_q8: 6 large shapes (768x768 .. 32000x768, group 32 and 64), above the OpenMP "
              "threshold: within %.0e * sum|s q x| (%d missed; worst ratio %.2g)", TOL, n_bad, worst);
    }
#ifdef _OPENMP
    {   /* threads: each row is one thread's, in one order: the same bits */
        int R = 2048, C = 768, max_threads = omp_get_max_threads();
        int8_t *q = (int8_t *)malloc((size_t)R * C);
        float *scale = alloc_floats((size_t)R * C / 32), *x = alloc_floats((size_t)C);
        float *one = alloc_floats((size_t)R), *all = alloc_floats((size_t)R);
        if (!q) { printf("FAIL out of memory\n"); exit(1); }
        for (i = 0; i < R * C; i++) q[i] = (int8_t)((int)(attnres_random_u32(&rng) % 255) - 127);
        fill(scale, (size_t)R * C / 32, 0.01f); fill(x, (size_t)C, 1.0f);
        omp_set_num_threads(1);
        attnres_kernel_matvec_q8(one, q, scale, x, R, C, 32);
        omp_set_num_threads(max_threads < 2 ? 2 : max_threads);
        attnres_kernel_matvec_q8(all, q, scale, x, R, C, 32);
        omp_set_num_threads(max_threads);
        check(memcmp(one, all, (size_t)R * sizeof(float)) == 0,
              "matvec_q8 2048x768: 1 thread and %d threads give identical bits", max_threads < 2 ? 2 : max_threads);
        free(q); free(scale); free(x); free(one); free(all);
    }
#endif
    {   /* sensitivity: a q8 matvec that forgets the scale of the last group is caught */
        int R = 64, C = 768, G = 32, k;
        int8_t *q = (int8_t *)malloc((size_t)R * C);
        float *scale = alloc_floats((size_t)R * C / G), *x = alloc_floats((size_t)C);
        float *buggy = alloc_floats((size_t)R), *want = alloc_floats((size_t)R);
        double *mag = (double *)malloc((size_t)R * sizeof(double));
        cmp_result res;
        if (!q || !mag) { printf("FAIL out of memory\n"); exit(1); }
        for (i = 0; i < R * C; i++) q[i] = (int8_t)((int)(attnres_random_u32(&rng) % 255) - 127);
        for (i = 0; i < R * C / G; i++) scale[i] = 0.01f * (1.0f + attnres_random_f32(&rng));
        fill(x, (size_t)C, 1.0f);
        attnres_kernel_matvec_q8(want, q, scale, x, R, C, G);
        for (i = 0; i < R; i++) scale[(size_t)i * (C / G) + C / G - 1] *= 1.5f;   /* the bug: a wrong last scale */
        attnres_matvec_q8(buggy, q, scale, x, R, C, G);
        for (i = 0; i < R; i++) {
            double sum = 0.0;
            for (k = 0; k < C; k++) sum += fabs((double)scale[((size_t)i * C + k) / G] * q[(size_t)i * C + k] * x[k]);
            mag[i] = sum;
        }
        printf("       (expected: the next comparison reports a miss)\n");
        res = compare("matvec_q8 with a wrong last scale", buggy, want, mag, (size_t)R);
        check(res.n_bad > R / 2, "sensitivity: a q8 matvec with the last group's scale off by 1.5x is caught in %d of %d rows",
              res.n_bad, R);
        free(q); free(scale); free(x); free(buggy); free(want); free(mag);
    }
}

/* ======================================================================== */
/* matvec_w8a8: int8 weights and int8 activations                            */
/* ======================================================================== */
/* The kernel sums a group's products exactly in integer lanes, scales
   each lane by s_g xs_g (one float rounding) and adds the lanes; the
   scalar loop scales the group's whole integer sum. Lanes can cancel, so
   the honest scale is that of the products, sum_j |s_g xs_g q_j x_j|, as
   for matvec and matvec_q8 (a bound on any order of adding them). Activations include -127 and
   127 against weights of both signs (the sign trick and maddubs' 16-bit
   pair sums at their limit, 2 * 127 * 127). */
static double one_matvec_w8a8(int rows, int cols, int G, int offset, int extremes) {
    size_t nw = (size_t)rows * (size_t)cols, ng = nw / (size_t)G, i;
    int8_t *qbuf = (int8_t *)malloc(nw + 1), *q = qbuf + offset;
    int8_t *xbuf = (int8_t *)malloc((size_t)cols + 1), *xq = xbuf + offset;
    float *scale = alloc_floats(ng), *xscale = alloc_floats((size_t)(cols / G));
    float *got = alloc_floats((size_t)rows), *want = alloc_floats((size_t)rows);
    double *mag = (double *)malloc((size_t)rows * sizeof(double));
    cmp_result res;
    int r, g, j;
    if (!qbuf || !xbuf || !mag) { printf("FAIL out of memory\n"); exit(1); }
    for (i = 0; i < nw; i++)
        q[i] = extremes ? (int8_t)(attnres_random_u32(&rng) % 2 ? 127 : -127)
                        : (int8_t)((int)(attnres_random_u32(&rng) % 255) - 127);
    for (j = 0; j < cols; j++)
        xq[j] = extremes ? (int8_t)(j % 3 ? 127 : -127) : (int8_t)((int)(attnres_random_u32(&rng) % 255) - 127);
    for (i = 0; i < ng; i++) scale[i] = ldexpf(attnres_random_f32(&rng) + 0.5f, -(int)(attnres_random_u32(&rng) % 13));
    for (g = 0; g < cols / G; g++) xscale[g] = ldexpf(attnres_random_f32(&rng) + 0.5f, -(int)(attnres_random_u32(&rng) % 7));
    attnres_kernel_matvec_w8a8(got, q, scale, xq, xscale, rows, cols, G);
    attnres_matvec_w8a8(want, q, scale, xq, xscale, rows, cols, G);
    for (r = 0; r < rows; r++) {
        double sum = 0.0;
        for (g = 0; g < cols / G; g++)
            for (j = g * G; j < (g + 1) * G; j++)
                sum += fabs((double)scale[(size_t)r * (cols / G) + g] * xscale[g] * q[(size_t)r * cols + j] * xq[j]);
        mag[r] = sum > 0.0 ? sum : 1e-30;
    }
    res = compare("matvec_w8a8", got, want, mag, (size_t)rows);
    free(qbuf); free(xbuf); free(scale); free(xscale); free(got); free(want); free(mag);
    return res.n_bad ? -1.0 : res.worst;
}

static void test_matvec_w8a8(void) {
    static const int rows[] = {1, 2, 3, 7, 8, 9, 31, 33, 64, 65, 288};
    static const int groups[] = {1, 2, 3, 5, 24};
    static const int sizes[] = {16, 32, 64, 128, 8, 12, 1};   /* 8, 12, 1 (and 16 on AVX2): the scalar fallback */
    int a, b, c, offset, n_shapes = 0, n_bad = 0, i;
    double worst = 0.0, r;
    for (a = 0; a < (int)(sizeof rows / sizeof rows[0]); a++)
        for (b = 0; b < (int)(sizeof groups / sizeof groups[0]); b++)
            for (c = 0; c < (int)(sizeof sizes / sizeof sizes[0]); c++)
                for (offset = 0; offset <= 1; offset++) {
                    r = one_matvec_w8a8(rows[a], groups[b] * sizes[c], sizes[c], offset, a == 4 && offset);
                    n_shapes++;
                    if (r < 0) n_bad++; else if (r > worst) worst = r;
                }
    check(n_bad == 0, "matvec_w8a8: %d shapes, rows 1..288, 1..24 groups of 16..128 (and 8, 12, 1: fallback), "
          "aligned and offset, some all +-127: |kernel - scalar| <= %.0e * sum|s xs q xq| (%d missed; worst %.2g)",
          n_shapes, TOL, n_bad, worst);
    {
        static const int shapes[][3] = {{768, 768, 32}, {2048, 768, 32}, {768, 2048, 32}, {32000, 768, 32},
                                        {768, 768, 64}, {4099, 96, 32}};
        n_bad = 0; worst = 0.0;
        for (i = 0; i < 6; i++) {
            r = one_matvec_w8a8(shapes[i][0], shapes[i][1], shapes[i][2], i % 2, i == 5);
            if (r < 0) n_bad++; else if (r > worst) worst = r;
        }
        check(n_bad == 0, "matvec_w8a8: 6 large shapes (768x768 .. 32000x768, group 32 and 64), above the OpenMP "
              "threshold: within %.0e * sum|s xs q xq| (%d missed; worst ratio %.2g)", TOL, n_bad, worst);
    }
#ifdef _OPENMP
    {   /* threads: each row is one thread's, in one order: the same bits */
        int R = 2048, C = 768, max_threads = omp_get_max_threads();
        int8_t *q = (int8_t *)malloc((size_t)R * C), xq[768];
        float *scale = alloc_floats((size_t)R * C / 32), *xscale = alloc_floats((size_t)C / 32);
        float *one = alloc_floats((size_t)R), *all = alloc_floats((size_t)R);
        if (!q) { printf("FAIL out of memory\n"); exit(1); }
        for (i = 0; i < R * C; i++) q[i] = (int8_t)((int)(attnres_random_u32(&rng) % 255) - 127);
        for (i = 0; i < C; i++) xq[i] = (int8_t)((int)(attnres_random_u32(&rng) % 255) - 127);
        fill(scale, (size_t)R * C / 32, 0.01f); fill(xscale, (size_t)C / 32, 0.02f);
        omp_set_num_threads(1);
        attnres_kernel_matvec_w8a8(one, q, scale, xq, xscale, R, C, 32);
        omp_set_num_threads(max_threads < 2 ? 2 : max_threads);
        attnres_kernel_matvec_w8a8(all, q, scale, xq, xscale, R, C, 32);
        omp_set_num_threads(max_threads);
        check(memcmp(one, all, (size_t)R * sizeof(float)) == 0,
              "matvec_w8a8 2048x768: 1 thread and %d threads give identical bits", max_threads < 2 ? 2 : max_threads);
        free(q); free(scale); free(xscale); free(one); free(all);
    }
#endif
    {   /* sensitivity: one weight's product dropped from each row is caught */
        int R = 64, C = 768, G = 32;
        int8_t *q = (int8_t *)malloc((size_t)R * C), xq[768];
        float *scale = alloc_floats((size_t)R * C / G), *xscale = alloc_floats((size_t)C / G);
        float *buggy = alloc_floats((size_t)R), *want = alloc_floats((size_t)R);
        double *mag = (double *)malloc((size_t)R * sizeof(double));
        cmp_result res;
        if (!q || !mag) { printf("FAIL out of memory\n"); exit(1); }
        for (i = 0; i < R * C; i++) q[i] = (int8_t)((int)(attnres_random_u32(&rng) % 255) - 127);
        for (i = 0; i < C; i++) xq[i] = (int8_t)((int)(attnres_random_u32(&rng) % 255) - 127);
        for (i = 0; i < R * C / G; i++) scale[i] = 0.01f * (1.0f + attnres_random_f32(&rng));
        fill(xscale, (size_t)C / G, 0.02f);
        attnres_kernel_matvec_w8a8(want, q, scale, xq, xscale, R, C, G);
        for (i = 0; i < R; i++) {
            mag[i] = 1e-6 * fabs((double)want[i]) + 1e-30;   /* the bound's scale, roughly: float rounding of |out| */
            q[(size_t)i * C + 5] = (int8_t)(q[(size_t)i * C + 5] > 0 ? q[(size_t)i * C + 5] - 100 : q[(size_t)i * C + 5] + 100);
        }
        attnres_matvec_w8a8(buggy, q, scale, xq, xscale, R, C, G);
        printf("       (expected: the next comparison reports a miss)\n");
        res = compare("matvec_w8a8 with one weight changed per row", buggy, want, mag, (size_t)R);
        check(res.n_bad > R / 2, "sensitivity: one int8 weight per row changed by 100 is caught in %d of %d rows",
              res.n_bad, R);
        free(q); free(scale); free(xscale); free(buggy); free(want); free(mag);
    }
}

/* ======================================================================== */
/* quantize_q8: the same bytes and scales as the scalar quantizer, exactly   */
/* ======================================================================== */
static void test_quantize_q8(void) {
    enum { C = 24 * 64 };
    static float x[C], scale_k[C], scale_s[C];
    static int8_t q_k[C], q_s[C];
    static const int sizes[] = {8, 16, 32, 64, 128, 12, 1};
    int trial, c, j, n_cases = 0, n_bad = 0;
    for (trial = 0; trial < 40; trial++) {
        for (j = 0; j < C; j++) {
            float u = attnres_random_f32(&rng) * 2.0f - 1.0f;
            switch (trial % 5) {
            case 0: x[j] = u; break;
            case 1: x[j] = ldexpf(u, (int)(attnres_random_u32(&rng) % 60) - 30); break;   /* wide magnitudes */
            case 2: x[j] = ((float)((int)(attnres_random_u32(&rng) % 254) - 127) + 0.5f) * 0.5f; break;  /* ties */
            case 3: x[j] = ldexpf(u, -130); break;                                        /* subnormal scales */
            default: x[j] = u * 1e30f; break;
            }
        }
        if (trial % 5 == 2) for (j = 0; j < C; j += 8) x[j] = 127.0f * 0.5f;   /* s = 0.5: x / s = k + 1/2 */
        x[64 + trial] = 0.0f;
        if (trial % 4 == 1) for (j = 128; j < 192; j++) x[j] = 0.0f;   /* all-zero groups */
        if (trial % 7 == 3) { x[300] = NAN; x[700] = INFINITY; x[701] = -INFINITY; }
        for (c = 0; c < (int)(sizeof sizes / sizeof sizes[0]); c++) {
            int G = sizes[c], cols = C / G * G, g, same = 1;
            attnres_kernel_quantize_q8(q_k, scale_k, x, 1, cols, G);
            attnres_quantize_q8(q_s, scale_s, x, 1, cols, G);
            for (g = 0; g < cols / G; g++)   /* scales compared as values, NaN == NaN */
                same &= scale_k[g] == scale_s[g] || (isnan(scale_k[g]) && isnan(scale_s[g]));
            same &= memcmp(q_k, q_s, (size_t)cols) == 0;
            n_cases++;
            if (!same) {
                if (!n_bad) printf("       quantize_q8: trial %d group %d differs\n", trial, G);
                n_bad++;
            }
        }
    }
    check(n_bad == 0, "quantize_q8: %d inputs (uniform, 2^-30..2^30, exact ties x/s = k + 1/2, subnormal, 1e30, zero groups, "
          "NaN and +-Inf), groups 8..128 (and 12, 1: fallback): the same int8 bytes and scales as the scalar "
          "loop (%d differ)", n_cases, n_bad);
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

#ifdef ATTNRES_CUDA
/* The CUDA file runs a matvec on the GPU only for uploaded weights. Here:
   a random model, uploaded; every matrix of layer 0 and the output, GPU
   against the header's scalar matvec; then a weight changed by hand is
   seen only after the next upload, as documented. Needs a GPU. */
static void test_cuda_upload(void) {
    attnres_config c = {256, 688, 2, 4, 2, 512, 64, 10000.0f, 1e-5f, 0, ATTNRES_RESIDUAL_STANDARD, 0};
    attnres_model m;
    attnres_error err;
    float *x = alloc_floats(688), *got = alloc_floats(512), *want = alloc_floats(512);
    double *scale = (double *)malloc(512 * sizeof(double));
    const float *mats[4];
    int rows[4] = {256, 688, 256, 512}, cols[4] = {256, 256, 688, 256}, k, r, j, bad = 0;
    if (!scale || attnres_model_init(&m, &c, &err) != ATTNRES_OK) { check(0, "cuda: model init"); return; }
    fill(m.memory, m.n_floats, 0.1f);
    fill(x, 688, 1.0f);
    check(attnres_cuda_upload(&m, &err) == ATTNRES_OK, "cuda: upload %zu weights: %s", m.n_floats,
          err.code ? err.message : "ok");
    mats[0] = m.weights.wq; mats[1] = m.weights.w1; mats[2] = m.weights.w2; mats[3] = m.weights.output;
    for (k = 0; k < 4; k++) {
        attnres_kernel_matvec(got, mats[k], x, rows[k], cols[k]);
        attnres_matvec(want, mats[k], x, rows[k], cols[k]);
        for (r = 0; r < rows[k]; r++) {
            double s = 0.0;
            for (j = 0; j < cols[k]; j++) s += fabs((double)mats[k][(size_t)r * cols[k] + j] * (double)x[j]);
            scale[r] = s;
        }
        bad += compare("cuda matvec of an uploaded matrix", got, want, scale, (size_t)rows[k]).n_bad;
    }
    check(bad == 0, "cuda: wq, w1, w2, output of an uploaded model on the GPU = scalar within %g", TOL);
    m.weights.wq[0] += 1000.0f;
    attnres_kernel_matvec(got, m.weights.wq, x, 256, 256);
    attnres_matvec(want, m.weights.wq, x, 256, 256);
    check(fabsf(got[0] - want[0]) > 1.0f, "cuda: a weight changed by hand is not seen before the next upload");
    attnres_cuda_upload(&m, &err);
    attnres_kernel_matvec(got, m.weights.wq, x, 256, 256);
    check(fabsf(got[0] - want[0]) <= 1e-3f * (float)scale[0], "cuda: after attnres_cuda_upload it is");
    attnres_cuda_release();
    attnres_model_free(&m);
    free(x); free(got); free(want); free(scale);
}
#endif

int main(void) {
    printf("kernels: %s\n", attnres_kernel_name());
#ifdef ATTNRES_CUDA
    {
        char why[200];
        attnres_model m;
        attnres_error err;
        attnres_config c = {8, 8, 1, 2, 2, 5, 4, 10000.0f, 1e-5f, 1, ATTNRES_RESIDUAL_STANDARD, 0};
        if (attnres_cuda_device_count(why, (int)sizeof why) == 0) {
            /* what can be checked without a GPU: upload says why it cannot */
            attnres_model_init(&m, &c, NULL);
            check(attnres_cuda_upload(&m, &err) != ATTNRES_OK && strstr(err.message, "no GPU"),
                  "cuda: without a GPU, upload fails and says so: \"%s\"", err.message);
            attnres_model_free(&m);
            printf("skip CUDA kernels: no GPU found (%s): the GPU matvec, its upload and every kernel "
                   "comparison did not run\n", why);
            return check_summary("test_kernels");
        }
        test_cuda_upload();
    }
#endif
    test_matvec();
    test_matvec_threads();
    test_matmul();
    test_matmul_threads();
    test_matmul_backward();
    test_matmul_backward_threads();
    test_depth_backward();
    test_matvec_q8();
    test_matvec_w8a8();
    test_quantize_q8();
    test_attend();
    test_attend_threads();
    test_sensitivity();
    return check_summary("test_kernels");
}

#endif /* ATTNRES_KERNELS */
