/* test_primitives.c - every numerical building block of attnres.h against
   golden/primitives.safetensors, written by tools/make_golden.py from the
   PyTorch reference (computed in float64, stored as float32).
   Tolerance: |c - ref| <= 1e-5 + 1e-5*|ref|. */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"

#define ATOL 1e-5
#define RTOL 1e-5

static void test_rmsnorm(const attnres__st_file *f) {
    float *x = fixture_f32(f, "rmsnorm.x", 4 * 64), *g = fixture_f32(f, "rmsnorm.weight", 64);
    float *eps = fixture_f32(f, "rmsnorm.eps", 1), *want = fixture_f32(f, "rmsnorm.out", 4 * 64);
    float got[4 * 64];
    int r;
    if (x && g && eps && want) {
        for (r = 0; r < 4; r++) attnres_rmsnorm(got + r * 64, x + r * 64, g, 64, eps[0]);
        check_close("rmsnorm [4, 64], row scales 1e-2 .. 1e3", got, want, 4 * 64, ATOL, RTOL);
    }
    free(x); free(g); free(eps); free(want);
}

static void test_softmax(const attnres__st_file *f) {
    float *x = fixture_f32(f, "softmax.x", 5 * 17), *want = fixture_f32(f, "softmax.out", 5 * 17);
    int r;
    if (x && want) {
        for (r = 0; r < 5; r++) attnres_softmax(x + r * 17, 17);   /* in place */
        check_close("softmax [5, 17], logits near +-80 and ties", x, want, 5 * 17, ATOL, RTOL);
    }
    free(x); free(want);
}

static void test_matvec(const attnres__st_file *f) {
    float *w = fixture_f32(f, "matvec.w", 24 * 40), *x = fixture_f32(f, "matvec.x", 40);
    float *want = fixture_f32(f, "matvec.out", 24), got[24];
    if (w && x && want) {
        attnres_matvec(got, w, x, 24, 40);
        check_close("matvec [24, 40] x [40]", got, want, 24, ATOL, RTOL);
    }
    free(w); free(x); free(want);
}

static void test_rope(const attnres__st_file *f) {
    float *x = fixture_f32(f, "rope.x", 6 * 64), *theta = fixture_f32(f, "rope.theta", 1);
    float *want = fixture_f32(f, "rope.out", 6 * 64);
    int32_t *pos = fixture_i32(f, "rope.pos", 6), *head_dim = fixture_i32(f, "rope.head_dim", 1);
    int r;
    if (x && theta && want && pos && head_dim) {
        for (r = 0; r < 6; r++) attnres_rope(x + r * 64, 64, head_dim[0], pos[r], theta[0], NULL);
        check_close("rope [6 positions, 4 heads x 16], interleaved pairs", x, want, 6 * 64, ATOL, RTOL);
    }
    free(x); free(theta); free(want); free(pos); free(head_dim);
}

/* One depth-attention case of the fixture: <case>.sources [n, 64], the
   pseudo-query <query>, the shared key gain and eps; alpha [n] and the
   output [64] against the reference's <case>.alpha and <case>.out. */
static void depth_case(const attnres__st_file *f, const char *name, const char *query, int n, const char *what) {
    char key[4][64];
    float *src, *w, *g, *eps, *want_alpha, *want_out, alpha[8], out[64];
    char label[160];
    snprintf(key[0], sizeof key[0], "%s.sources", name);
    snprintf(key[1], sizeof key[1], "%s.alpha", name);
    snprintf(key[2], sizeof key[2], "%s.out", name);
    snprintf(key[3], sizeof key[3], "%s.pseudo_query", query);
    src = fixture_f32(f, key[0], (size_t)n * 64);
    w = fixture_f32(f, key[3], 64);
    g = fixture_f32(f, "depth.key_gain", 64);
    eps = fixture_f32(f, "depth.eps", 1);
    want_alpha = fixture_f32(f, key[1], (size_t)n);
    want_out = fixture_f32(f, key[2], 64);
    if (src && w && g && eps && want_alpha && want_out && n <= 8) {
        attnres_depth_attention(out, alpha, src, n, w, g, 64, eps[0]);
        snprintf(label, sizeof label, "depth attention alpha [%d], %s", n, what);
        check_close(label, alpha, want_alpha, (size_t)n, ATOL, RTOL);
        snprintf(label, sizeof label, "depth attention output [64], %s", what);
        check_close(label, out, want_out, 64, ATOL, RTOL);
    }
    free(src); free(w); free(g); free(eps); free(want_alpha); free(want_out);
}

static void test_depth_attention(const attnres__st_file *f) {
    float *logits = fixture_f32(f, "depth_big.logits", 5), spread = 0.0f;
    int j;
    depth_case(f, "depth", "depth", 5, "one source 50x larger");
    /* logits of several hundred: expf(s) alone overflows past 88, so only
       a softmax that subtracts the max gets these weights */
    for (j = 0; logits && j < 5; j++) if (fabsf(logits[j]) > spread) spread = fabsf(logits[j]);
    check(spread > 88.0f, "depth_big: the reference's logits reach |s| = %.1f, past expf's range", (double)spread);
    depth_case(f, "depth_big", "depth_big", 5, "logits past +-88");
    /* a source with an element of 1e38 and one at 1e20: their key norms
       overflow a float sum of squares */
    depth_case(f, "depth_huge", "depth_huge", 4, "sources with 1e38 and 1e20");
    free(logits);
}

/* Squares that overflow float: a plain sum of x^2 is Inf and 1/sqrt(Inf)
   = 0 would zero the row; the float64 reference gives ordinary values. */
static void test_rmsnorm_huge(const attnres__st_file *f) {
    float *x = fixture_f32(f, "rmsnorm_huge.x", 3 * 64), *g = fixture_f32(f, "rmsnorm.weight", 64);
    float *eps = fixture_f32(f, "rmsnorm.eps", 1), *want = fixture_f32(f, "rmsnorm_huge.out", 3 * 64);
    float got[3 * 64];
    int r;
    if (x && g && eps && want) {
        for (r = 0; r < 3; r++) attnres_rmsnorm(got + r * 64, x + r * 64, g, 64, eps[0]);
        check_close("rmsnorm [3, 64]: a row at 1e20, a row with one 1e38, a row at 1e-30", got, want, 3 * 64,
                    ATOL, RTOL);
    }
    free(x); free(g); free(eps); free(want);
}

static void test_mlp(const attnres__st_file *f) {
    float *x = fixture_f32(f, "mlp.x", 64), *w1 = fixture_f32(f, "mlp.w1", 96 * 64);
    float *w2 = fixture_f32(f, "mlp.w2", 64 * 96), *w3 = fixture_f32(f, "mlp.w3", 96 * 64);
    float *want = fixture_f32(f, "mlp.out", 64), out[64], hb[96], hb2[96];
    if (x && w1 && w2 && w3 && want) {
        attnres_swiglu_mlp(out, x, w1, w2, w3, hb, hb2, 64, 96);
        check_close("SwiGLU MLP [64] -> [96] -> [64]", out, want, 64, ATOL, RTOL);
    }
    free(x); free(w1); free(w2); free(w3); free(want);
}

int main(void) {
    attnres__st_file f;
    if (fixture_open(&f, "primitives.safetensors")) {
        test_matvec(&f);
        test_rmsnorm(&f);
        test_rmsnorm_huge(&f);
        test_softmax(&f);
        test_rope(&f);
        test_depth_attention(&f);
        test_mlp(&f);
        attnres__st_close(&f);
    }
    return check_summary("test_primitives");
}
