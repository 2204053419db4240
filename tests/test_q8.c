/* test_q8.c - group-wise int8 weights against the PyTorch reference
   (tools/quantize.py, fixtures golden/q8_*.safetensors).
     1. attnres_quantize_q8 makes the same bytes as the reference: every
        int8 value and every scale, on rows of very different magnitudes,
        a zero group, subnormal groups and exact ties (k + 1/2) * s, where
        the rounding rule shows.
     2. Round trips that must be exact are: w = k * s (s with few
        significant bits, one |k| = 127) comes back bit for bit, and so do
        q and s after dequantize -> quantize. Anything else moves by at
        most s/2 per weight.
     3. attnres_matvec_q8 is W x for W = scale * q (float32 rounding only).
     4. Whole models (standard, Full and Block AttnRes, GQA, tied): the fp32
        fixture quantized in C (attnres_model_quantize) decodes the prompt
        one token at a time; its logits, output vector and depth weights
        match the reference's fake-quantized float64 forward pass within
        1e-4 + 1e-4*|ref| at every position, on both depth paths. The q8
        checkpoint written by the reference loads to the same bytes and
        the same logits, bit for bit. The forward pass of a quantized model
        allocates nothing.
     5. attnres_model_quantize refuses what it cannot do and then leaves
        the model as it was.
     6. W8A8 (int8_activations): attnres_matvec_w8a8 is the exact integer
        dot of the two int8 forms, scaled; quantizing an activation with a
        NaN or Inf keeps it visible; whole models with every matvec input
        quantized too match the reference's W8A8 forward pass
        (golden/w8a8_*.expect) within the same 1e-4 + 1e-4*|ref| at every
        position on both depth paths; a checkpoint with "activations":
        "int8" turns it on and decodes bit-identically. */
#include <stddef.h>
void *counting_malloc(size_t n);
void counting_free(void *p);
#define ATTNRES_MALLOC(sz) counting_malloc(sz)
#define ATTNRES_FREE(p)    counting_free(p)
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"

static long n_mallocs, n_live;
void *counting_malloc(size_t n) {
    void *p = malloc(n);
    if (p) { n_mallocs++; n_live++; }
    return p;
}
void counting_free(void *p) {
    if (p) n_live--;
    free(p);
}

#define ATOL 1e-4
#define RTOL 1e-4
#define G 32

static const char *CASES[] = {"standard", "full", "block_s2", "gqa", "tied", "standard_gqa_tied", "rope_llama3",
                              NULL};

/* ------------------------------------------------------------------------ */
/* 1. the same bytes as the reference                                        */
/* ------------------------------------------------------------------------ */

static void test_reference_bytes(void) {
    attnres__st_file f;
    const attnres__st_tensor *tq;
    float *w, *scale, *want_scale, *deq, *want_deq;
    int8_t *q;
    size_t rows, cols, n, i, bad_q = 0, bad_s = 0, bad_d = 0;
    if (!fixture_open(&f, "q8_primitives.safetensors")) return;
    tq = attnres__st_find(&f, "q");
    if (!tq || tq->dtype != ATTNRES__DT_I8 || tq->ndim != 2) {
        check(0, "q8_primitives: tensor q (I8, 2-D) missing");
        attnres__st_close(&f);
        return;
    }
    rows = (size_t)tq->shape[0]; cols = (size_t)tq->shape[1]; n = rows * cols;
    w = fixture_f32(&f, "w", n);
    want_scale = fixture_f32(&f, "scale", n / G);
    want_deq = fixture_f32(&f, "dequantized", n);
    q = (int8_t *)malloc(n);
    scale = (float *)malloc(n / G * sizeof(float));
    deq = (float *)malloc(n * sizeof(float));
    if (w && want_scale && want_deq && q && scale && deq) {
        attnres_quantize_q8(q, scale, w, (int)rows, (int)cols, G);
        for (i = 0; i < n; i++) bad_q += q[i] != (int8_t)tq->data[i];
        for (i = 0; i < n / G; i++) bad_s += memcmp(&scale[i], &want_scale[i], sizeof(float)) != 0;
        check(bad_q == 0, "quantize: %zu int8 values identical to the reference (%zu differ)", n, bad_q);
        check(bad_s == 0, "quantize: %zu scales bit-identical to the reference (%zu differ)", n / G, bad_s);
        /* rows 6 and 7: ties (k + 1/2) s with s = 2^-8; half away from zero
           sends 0.5 s to 1 and -2.5 s to -3 (half-to-even would say 0, -2) */
        check(scale[6 * cols / G] == 0.00390625f && q[6 * cols + 16] == 1 && q[6 * cols + 13] == -3 &&
              q[6 * cols + 15] == -1, "quantize: ties round half away from zero: 0.5 s -> %d, -2.5 s -> %d, "
              "-0.5 s -> %d", q[6 * cols + 16], q[6 * cols + 13], q[6 * cols + 15]);
        check(scale[1 * cols / G + 1] == 0.0f && q[1 * cols + G] == 0, "quantize: an all-zero group has scale 0");
        attnres_dequantize_q8(deq, q, scale, (int)rows, (int)cols, G);
        for (i = 0; i < n; i++) bad_d += memcmp(&deq[i], &want_deq[i], sizeof(float)) != 0;
        check(bad_d == 0, "dequantize: %zu weights bit-identical to the reference's scale * q", n);
    }
    free(w); free(want_scale); free(want_deq); free(q); free(scale); free(deq);
    attnres__st_close(&f);
}

/* ------------------------------------------------------------------------ */
/* 2. round trips                                                            */
/* ------------------------------------------------------------------------ */

static void test_round_trips(void) {
    enum { R = 5, C = 4 * G };
    static float w[R * C], back[R * C], scale[R * C / G], scale2[R * C / G];
    static int8_t q[R * C], q2[R * C];
    uint64_t rng = 7;
    int i, exact = 1, same = 1, within = 1;
    double worst = 0.0;
    /* w = k * s, s = 3 * 2^e (two significant bits), k in [-127, 127] with
       k = +-127 somewhere in every group: s * k is exact in float */
    for (i = 0; i < R * C; i++) {
        int k = (int)(attnres_random_u32(&rng) % 255) - 127, e = i / G % 7 - 12;
        if (i % G == 5) k = i % 2 ? 127 : -127;
        w[i] = ldexpf(3.0f, e) * (float)k;
    }
    attnres_quantize_q8(q, scale, w, R, C, G);
    attnres_dequantize_q8(back, q, scale, R, C, G);
    for (i = 0; i < R * C; i++) exact &= back[i] == w[i];
    check(exact, "round trip: w = k * s (k in [-127, 127], one |k| = 127 per group) comes back exactly");
    /* dequantize -> quantize reproduces q and the scales */
    attnres_quantize_q8(q2, scale2, back, R, C, G);
    same = memcmp(q, q2, sizeof q) == 0 && memcmp(scale, scale2, sizeof scale) == 0;
    check(same, "round trip: quantize(dequantize(q, s)) gives back the same q and s");
    /* random weights: each moves by at most s/2 (plus the rounding of s*q) */
    for (i = 0; i < R * C; i++) w[i] = (2.0f * attnres_random_f32(&rng) - 1.0f) * ldexpf(1.0f, i / G % 9 - 4);
    attnres_quantize_q8(q, scale, w, R, C, G);
    attnres_dequantize_q8(back, q, scale, R, C, G);
    for (i = 0; i < R * C; i++) {
        double err = fabs((double)back[i] - w[i]), s = scale[i / G];
        if (err / s > worst) worst = err / s;
        within &= err <= 0.5 * s * (1.0 + 1e-6) + fabs((double)back[i]) * 6e-8;
    }
    check(within && worst > 0.45, "random weights move by at most s/2: largest |w - s q| / s = %.4f", worst);
}

/* ------------------------------------------------------------------------ */
/* 3. matvec_q8 = W x for W = scale * q                                       */
/* ------------------------------------------------------------------------ */

static void test_matvec(void) {
    enum { R = 37, C = 6 * G };
    static float w[R * C], deq[R * C], scale[R * C / G], x[C], got[R], want[R];
    static int8_t q[R * C];
    uint64_t rng = 11;
    int r, j, ok = 1;
    double worst = 0.0;
    for (j = 0; j < R * C; j++) w[j] = 2.0f * attnres_random_f32(&rng) - 1.0f;
    for (j = 0; j < C; j++) x[j] = 2.0f * attnres_random_f32(&rng) - 1.0f;
    attnres_quantize_q8(q, scale, w, R, C, G);
    attnres_dequantize_q8(deq, q, scale, R, C, G);
    attnres_matvec_q8(got, q, scale, x, R, C, G);
    attnres_matvec(want, deq, x, R, C);
    for (r = 0; r < R; r++) {
        double mag = 0.0, d;   /* the sum of the terms' magnitudes: the scale of rounding in a sum */
        for (j = 0; j < C; j++) mag += fabs((double)deq[r * C + j] * x[j]);
        d = fabs((double)got[r] - want[r]) / mag;
        if (d > worst) worst = d;
        ok &= d <= 1e-5;
    }
    check(ok, "matvec_q8 = matvec of the dequantized matrix: |diff| <= 1e-5 * sum|terms| (largest %.2g)", worst);
}

/* ------------------------------------------------------------------------ */
/* 4. whole models                                                           */
/* ------------------------------------------------------------------------ */

/* Decodes the prompt on `path`; logits [T, vocab], out_h [T, dim], alpha [T, L+1, N+1]. */
static int decode(const attnres_model *m, int path, const int32_t *tokens, int T,
                  float *logits, float *out_h, float *alpha, long *mallocs) {
    attnres_state s;
    attnres_error err;
    const attnres_config *c = &m->config;
    size_t rows = (size_t)attnres_n_blocks(c) + 1, L1 = (size_t)attnres_n_sublayers(c) + 1;
    long before;
    int t;
    if (attnres_state_init(&s, c, &err) != ATTNRES_OK) { check(0, "state: %s", err.message); return 0; }
    s.path = path;
    before = n_mallocs;
    for (t = 0; t < T; t++) {
        const float *lg = attnres_forward(m, &s, tokens[t], t, &err);
        if (!lg) { check(0, "forward at pos %d: %s", t, err.message); attnres_state_free(&s); return 0; }
        memcpy(logits + (size_t)t * c->vocab_size, lg, (size_t)c->vocab_size * sizeof(float));
        memcpy(out_h + (size_t)t * c->dim, s.x, (size_t)c->dim * sizeof(float));
        if (c->residual == ATTNRES_RESIDUAL_ATTNRES)
            memcpy(alpha + (size_t)t * L1 * rows, s.alpha, L1 * rows * sizeof(float));
    }
    *mallocs = n_mallocs - before;
    attnres_state_free(&s);
    return 1;
}

/* Decodes the prompt on both depth paths (one for standard residuals) and
   compares logits, the output vector and the depth weights with the fixture
   e within ATOL + RTOL*|ref| at every position; no allocation in forward.
   logits [T, vocab], out_h [T, dim], alpha [T, L+1, N+1]: scratch. */
static void check_paths(const attnres_model *m, attnres__st_file *e, const char *name, const char *kind,
                        const int32_t *tokens, size_t T, float *logits, float *out_h, float *alpha) {
    size_t V = (size_t)m->config.vocab_size, D = (size_t)m->config.dim;
    size_t A = ((size_t)attnres_n_sublayers(&m->config) + 1) * ((size_t)attnres_n_blocks(&m->config) + 1);
    int attnres = m->config.residual == ATTNRES_RESIDUAL_ATTNRES, path_i;
    char label[160];
    long mallocs = -1;
    float *want;
    for (path_i = 0; path_i < (attnres ? 2 : 1); path_i++) {
        const char *path_name = path_i ? "two-phase" : "direct";
        if (!decode(m, path_i, tokens, (int)T, logits, out_h, alpha, &mallocs)) return;
        check(mallocs == 0, "%-18s %s%s: %zu tokens decoded, no allocation in attnres_forward", name, kind,
              path_name, T);
        snprintf(label, sizeof label, "%-18s %s%-9s logits vs fake-quant", name, kind, path_name);
        if ((want = fixture_f32(e, "logits", T * V))) check_close(label, logits, want, T * V, ATOL, RTOL);
        free(want);
        snprintf(label, sizeof label, "%-18s %s%-9s vector into the final norm", name, kind, path_name);
        if ((want = fixture_f32(e, "out_h", T * D))) check_close(label, out_h, want, T * D, ATOL, RTOL);
        free(want);
        if (attnres) {
            snprintf(label, sizeof label, "%-18s %s%-9s alpha, every sublayer + output", name, kind, path_name);
            if ((want = fixture_f32(e, "alpha", T * A))) check_close(label, alpha, want, T * A, ATOL, RTOL);
            free(want);
        }
    }
}

/* 1 if models a and b decode the prompt (direct path) to the same logits,
   bit for bit; la, lb [T, vocab], out_h, alpha: scratch. */
static int same_logits(const attnres_model *a, const attnres_model *b, const int32_t *tokens, size_t T,
                       float *la, float *lb, float *out_h, float *alpha) {
    long mallocs;
    return decode(a, ATTNRES_PATH_DIRECT, tokens, (int)T, la, out_h, alpha, &mallocs) &&
           decode(b, ATTNRES_PATH_DIRECT, tokens, (int)T, lb, out_h, alpha, &mallocs) &&
           memcmp(la, lb, T * (size_t)a->config.vocab_size * sizeof(float)) == 0;
}

static int same_q8(const attnres_model *a, const attnres_model *b) {
    const attnres_q8 *x[8] = {&a->q8.wq, &a->q8.wk, &a->q8.wv, &a->q8.wo, &a->q8.w1, &a->q8.w2, &a->q8.w3, &a->q8.output};
    const attnres_q8 *y[8] = {&b->q8.wq, &b->q8.wk, &b->q8.wv, &b->q8.wo, &b->q8.w1, &b->q8.w2, &b->q8.w3, &b->q8.output};
    int k;
    if (a->n_int8 != b->n_int8 || a->n_floats != b->n_floats) return 0;
    for (k = 1; k < 8; k++) if (x[k]->q < x[k - 1]->q || y[k]->q < y[k - 1]->q) return 0;   /* carve order */
    /* the int8 values and the scales are each one contiguous run: compare all */
    return memcmp(x[0]->q, y[0]->q, a->n_int8) == 0 &&
           memcmp(a->memory, b->memory, a->n_floats * sizeof(float)) == 0;
}

static void test_case(const char *name) {
    char path[256];
    attnres_model m, stored;
    attnres_error err;
    attnres__st_file e;
    const attnres__st_tensor *tok;
    int32_t *tokens = NULL;
    float *logits = NULL, *logits_file = NULL, *out_h = NULL, *alpha = NULL;
    size_t T, V, D, A;
    long live;

    memset(&stored, 0, sizeof stored);
    if (!fixture_model(&m, name)) return;
    live = n_live;
    if (attnres_model_quantize(&m, G, &err) != ATTNRES_OK) {
        check(0, "%s: quantize: %s", name, err.message);
        attnres_model_free(&m);
        return;
    }
    check(m.q8.group_size == G && !m.weights.wq && !m.weights.w2 && n_live == live &&
          (m.config.tie_embeddings ? m.weights.output == m.weights.tok_embeddings : !m.weights.output),
          "%-18s quantized in place: fp32 matrices gone, one allocation (%zu floats + %zu int8)",
          name, m.n_floats, m.n_int8);
    snprintf(path, sizeof path, "q8_%s.expect.safetensors", name);
    if (!fixture_open(&e, path)) { attnres_model_free(&m); return; }
    tok = attnres__st_find(&e, "tokens");
    T = tok ? (size_t)tok->numel : 0;
    tokens = T ? fixture_i32(&e, "tokens", T) : NULL;
    V = (size_t)m.config.vocab_size; D = (size_t)m.config.dim;
    A = ((size_t)attnres_n_sublayers(&m.config) + 1) * ((size_t)attnres_n_blocks(&m.config) + 1);
    logits = calloc(T * V + 1, sizeof(float)); logits_file = calloc(T * V + 1, sizeof(float));
    out_h = calloc(T * D + 1, sizeof(float)); alpha = calloc(T * A + 1, sizeof(float));
    if (tokens) check_paths(&m, &e, name, "", tokens, T, logits, out_h, alpha);
    /* the stored q8 checkpoint: the same bytes, so the same logits bit for bit */
    snprintf(path, sizeof path, "%s/q8_%s.model.safetensors", GOLDEN_DIR, name);
    if (attnres_model_load(&stored, path, &err) != ATTNRES_OK) {
        check(0, "%s: load %s: %s", name, path, err.message);
    } else if (tokens) {
        check(stored.q8.group_size == G && same_q8(&m, &stored),
              "%-18s q8 checkpoint from the reference = quantized in C, byte for byte", name);
        check(same_logits(&stored, &m, tokens, T, logits_file, logits, out_h, alpha),
              "%-18s q8 checkpoint: logits bit-identical to quantize-at-load", name);
    }
    free(tokens); free(logits); free(logits_file); free(out_h); free(alpha);
    attnres__st_close(&e);
    attnres_model_free(&stored);
    attnres_model_free(&m);
}

/* ------------------------------------------------------------------------ */
/* 5. what attnres_model_quantize refuses                                    */
/* ------------------------------------------------------------------------ */

static void test_refusals(void) {
    attnres_model m;
    attnres_error err;
    float *memory;
    int rc;
    if (!fixture_model(&m, "block_s2")) return;
    memory = m.memory;
    rc = attnres_model_quantize(&m, 24, &err);   /* 24 does not divide dim = 64 */
    check(rc == ATTNRES_ERR_CONFIG && strstr(err.message, "must divide") && m.memory == memory && m.q8.group_size == 0,
          "group size 24 for dim 64: refused, model unchanged (\"%s\")", err.message);
    rc = attnres_model_quantize(&m, 0, &err);
    check(rc == ATTNRES_ERR_CONFIG && m.memory == memory, "group size 0: refused (\"%s\")", err.message);
    {   /* int8 activations need int8 weights: refused, not silently fp32 */
        attnres_state st;
        if (attnres_state_init(&st, &m.config, &err) == ATTNRES_OK) {
            m.q8.int8_activations = 1;
            check(attnres_forward(&m, &st, 1, 0, &err) == NULL && err.code == ATTNRES_ERR_CONFIG &&
                  strstr(err.message, "not quantized"),
                  "int8_activations on an fp32 model: forward refuses (\"%s\")", err.message);
            attnres_state_free(&st);   /* the flag stays set: quantizing below keeps it */
        }
    }
    m.weights.w2[77] = (float)INFINITY;
    rc = attnres_model_quantize(&m, G, &err);
    check(rc == ATTNRES_ERR_RANGE && strstr(err.message, "w2[77]") && m.memory == memory,
          "an Inf weight: refused, model unchanged (\"%s\")", err.message);
    m.weights.w2[77] = 0.0f;
    rc = attnres_model_quantize(&m, G, &err);
    check(rc == ATTNRES_OK && m.q8.int8_activations == 1,
          "then quantizes, keeping the int8_activations set before (W8A8 from here on)");
    rc = attnres_model_quantize(&m, G, &err);
    check(rc == ATTNRES_ERR_RANGE && strstr(err.message, "already"), "twice: refused (\"%s\")", err.message);
    attnres_model_free(&m);
    check(n_live == 0, "every allocation freed (%ld live)", n_live);
}

/* ------------------------------------------------------------------------ */
/* 6. int8 activations (W8A8)                                                */
/* ------------------------------------------------------------------------ */

static void test_matvec_w8a8(void) {
    enum { R = 29, C = 5 * G };
    static float w[R * C], scale[R * C / G], x[C], xscale[C / G], got[R];
    static int8_t q[R * C], xq[C];
    uint64_t rng = 21;
    int r, j, ok = 1;
    double worst = 0.0;
    for (j = 0; j < R * C; j++) w[j] = 2.0f * attnres_random_f32(&rng) - 1.0f;
    for (j = 0; j < C; j++) x[j] = 3.0f * attnres_random_f32(&rng) - 1.5f;
    x[5] = 0.0f;
    for (j = G; j < 2 * G; j++) x[j] = 0.0f;   /* an all-zero group of x: scale 0 */
    attnres_quantize_q8(q, scale, w, R, C, G);
    attnres_quantize_q8(xq, xscale, x, 1, C, G);
    attnres_matvec_w8a8(got, q, scale, xq, xscale, R, C, G);
    for (r = 0; r < R; r++) {
        /* the exact value: integer group sums in long, scaled in double */
        double want = 0.0, mag = 0.0, d;
        int g;
        for (g = 0; g < C / G; g++) {
            long isum = 0;
            for (j = g * G; j < (g + 1) * G; j++) isum += (long)q[r * C + j] * xq[j];
            want += (double)scale[r * (C / G) + g] * xscale[g] * (double)isum;
            mag += fabs((double)scale[r * (C / G) + g] * xscale[g] * (double)isum);
        }
        d = fabs((double)got[r] - want) / (mag > 0 ? mag : 1.0);
        if (d > worst) worst = d;
        ok &= d <= 1e-6;
    }
    check(ok && xscale[1] == 0.0f, "matvec_w8a8 = the exact integer dot, scaled: |diff| <= 1e-6 * sum|terms| "
          "(largest %.2g)", worst);
    /* a NaN or Inf in an activation must not vanish into a finite int8 */
    x[7] = NAN;
    x[G * 3 + 2] = INFINITY;
    attnres_quantize_q8(xq, xscale, x, 1, C, G);
    check(isnan(xscale[0]) && isinf(xscale[3]) && xscale[2] > 0.0f && isfinite(xscale[2]),
          "an activation group holding NaN gets scale NaN, one holding Inf scale Inf (others finite)");
    attnres_matvec_w8a8(got, q, scale, xq, xscale, R, C, G);
    for (r = 0, ok = 1; r < R; r++) ok &= !isfinite(got[r]);
    check(ok, "and then every output of the matvec is NaN or Inf, not a finite number");
}

static void test_w8a8_case(const char *name) {
    char path[256];
    attnres_model m, stored;
    attnres_error err;
    attnres__st_file e;
    const attnres__st_tensor *tok;
    int32_t *tokens = NULL;
    float *logits = NULL, *logits_w8 = NULL, *out_h = NULL, *alpha = NULL;
    size_t T, V, D, A, i;
    long mallocs = -1;
    double moved = 0.0;

    memset(&stored, 0, sizeof stored);
    if (!fixture_model(&m, name)) return;
    if (attnres_model_quantize(&m, G, &err) != ATTNRES_OK) {
        check(0, "%s: quantize: %s", name, err.message);
        attnres_model_free(&m);
        return;
    }
    snprintf(path, sizeof path, "w8a8_%s.expect.safetensors", name);
    if (!fixture_open(&e, path)) { attnres_model_free(&m); return; }
    {   /* W8A8 is a step function of the activations: the comparison below is
           only well-posed on a prompt whose activations all sit clear of a
           rounding boundary (tools/make_golden.py, W8A8_MARGIN) */
        const char *margin = attnres__st_meta_get(&e, "min_rounding_margin");
        check(margin && atof(margin) >= 1e-4, "%-18s W8A8 fixture: every activation >= %s of a step from a "
              "rounding boundary (>= 1e-4)", name, margin ? margin : "(missing)");
    }
    tok = attnres__st_find(&e, "tokens");
    T = tok ? (size_t)tok->numel : 0;
    tokens = T ? fixture_i32(&e, "tokens", T) : NULL;
    V = (size_t)m.config.vocab_size; D = (size_t)m.config.dim;
    A = ((size_t)attnres_n_sublayers(&m.config) + 1) * ((size_t)attnres_n_blocks(&m.config) + 1);
    logits = calloc(T * V + 1, sizeof(float)); logits_w8 = calloc(T * V + 1, sizeof(float));
    out_h = calloc(T * D + 1, sizeof(float)); alpha = calloc(T * A + 1, sizeof(float));
    /* W8 first, to show the flag changes the computation */
    if (tokens && decode(&m, ATTNRES_PATH_DIRECT, tokens, (int)T, logits_w8, out_h, alpha, &mallocs)) {}
    m.q8.int8_activations = 1;
    if (tokens) check_paths(&m, &e, name, "W8A8 ", tokens, T, logits, out_h, alpha);
    for (i = 0; tokens && i < T * V; i++) if (fabs((double)logits[i] - logits_w8[i]) > moved)
        moved = fabs((double)logits[i] - logits_w8[i]);
    check(moved > 1e-3, "%-18s W8A8 differs from W8 (max |logit diff| %.3g): the activations were rounded", name, moved);
    /* the reference's W8A8 checkpoint of block_s2: the flag comes from the file */
    snprintf(path, sizeof path, "%s/w8a8_%s.model.safetensors", GOLDEN_DIR, name);
    if (strcmp(name, "block_s2") == 0 && tokens) {
        if (attnres_model_load(&stored, path, &err) != ATTNRES_OK) {
            check(0, "%s: load %s: %s", name, path, err.message);
        } else {
            check(stored.q8.int8_activations == 1 && same_q8(&m, &stored),
                  "%-18s \"activations\": \"int8\" checkpoint loads with int8_activations = 1, same bytes", name);
            check(same_logits(&stored, &m, tokens, T, logits_w8, logits, out_h, alpha),
                  "%-18s W8A8 checkpoint: logits bit-identical to quantize-at-load + flag", name);
        }
    }
    free(tokens); free(logits); free(logits_w8); free(out_h); free(alpha);
    attnres__st_close(&e);
    attnres_model_free(&stored);
    attnres_model_free(&m);
}

int main(void) {
    int i;
    test_reference_bytes();
    test_round_trips();
    test_matvec();
    for (i = 0; CASES[i]; i++) test_case(CASES[i]);
    test_refusals();
    test_matvec_w8a8();
    for (i = 0; CASES[i]; i++) test_w8a8_case(CASES[i]);
    return check_summary("test_q8");
}
