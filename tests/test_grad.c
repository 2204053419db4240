/* test_grad.c - the backward of every building block, checked two ways.
   1. Against PyTorch autograd: the fixtures golden/grad/NAME.safetensors, written by
      tools/make_grad_golden.py (float64; random non-zero inputs, pseudo-
      queries and gains, and a random upstream gradient dout). For every
      gradient tensor, max |C - ref| <= 1e-4 * max |ref|.
   2. Against central finite differences computed here, in C, needing no
      Python: the loss sum(dout * out) of each stage's float32 forward,
      summed in double, at p +- h; see FD_TOL for the tolerance.
   3. The whole model (attnres_train_forward / attnres_train_backward): the
      gradient of the mean cross-entropy on 8 tokens with respect to every
      weight tensor of the golden models, against PyTorch autograd
      (golden/grad/model_NAME.*), max |C - ref| <= 1e-4 * max |ref| per
      tensor; the norm of the gradient reaching every sublayer's output
      (ts.df_norm) against autograd's, each within GRAD_RTOL of itself; and the
      sequence forward's logits against token-by-token attnres_forward. */
#include <stdlib.h>
/* Every allocation of the library is counted: a training step must make none. */
static size_t n_allocs;
static void *counting_malloc(size_t n) { n_allocs++; return malloc(n); }
#define ATTNRES_MALLOC(sz) counting_malloc(sz)
#define ATTNRES_FREE(p)    free(p)
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"

#define GRAD_RTOL 1e-4   /* of max |ref| over the tensor */

/* got[n] against the reference gradient want[n]: within GRAD_RTOL * max|want|.
   A reference that is all zero would make any got pass: that fails too. */
static void check_grad(const char *what, const float *got, const float *want, size_t n) {
    double max_ref = 0.0;
    size_t i;
    for (i = 0; i < n; i++) if (fabs((double)want[i]) > max_ref) max_ref = fabs((double)want[i]);
    if (!(max_ref > 0.0)) { check(0, "%s: the reference gradient is all zero", what); return; }
    check_close(what, got, want, n, GRAD_RTOL * max_ref, 0.0);
}

/* A zeroed float buffer of n values (the backward functions add into theirs). */
static float *zeros(size_t n) { return (float *)calloc(n ? n : 1, sizeof(float)); }

/* Frees the NULL-terminated list of buffers. */
static void free_all(float **p) { while (*p) free(*p++); }

/* ======================================================================== */
/* 1. Against PyTorch autograd                                              */
/* ======================================================================== */

static void grad_linear(void) {
    attnres__st_file f;
    enum { T = 5, ROWS = 24, COLS = 40 };
    float *x, *w, *dout, *want_dx, *want_dw, *dx = zeros(T * COLS), *dw = zeros(ROWS * COLS);
    int t;
    if (!fixture_open(&f, "grad/linear.safetensors")) { free(dx); free(dw); return; }
    x = fixture_f32(&f, "x", T * COLS); w = fixture_f32(&f, "w", ROWS * COLS);
    dout = fixture_f32(&f, "dout", T * ROWS);
    want_dx = fixture_f32(&f, "dx", T * COLS); want_dw = fixture_f32(&f, "dw", ROWS * COLS);
    if (x && w && dout && want_dx && want_dw) {
        for (t = 0; t < T; t++)   /* one W at 5 positions: dw sums them */
            attnres_matvec_backward(dx + t * COLS, dw, dout + t * ROWS, w, x + t * COLS, ROWS, COLS);
        check_grad("linear dx [5, 40]", dx, want_dx, T * COLS);
        check_grad("linear dw [24, 40], summed over 5 positions", dw, want_dw, ROWS * COLS);
    }
    { float *all[] = {x, w, dout, want_dx, want_dw, dx, dw, NULL}; free_all(all); }
    attnres__st_close(&f);
}

static void grad_embedding(void) {
    attnres__st_file f;
    enum { V = 16, D = 8, T = 6 };
    float *table, *dout, *want, *x, *dlogits, *want_tied, *want_dx;
    float *dtable = zeros(V * D), *dtied = zeros(V * D), *dx = zeros(T * D);
    int32_t *tokens;
    int t;
    if (!fixture_open(&f, "grad/embedding.safetensors")) { free(dtable); free(dtied); free(dx); return; }
    tokens = fixture_i32(&f, "tokens", T);
    table = fixture_f32(&f, "table", V * D); dout = fixture_f32(&f, "dout", T * D);
    want = fixture_f32(&f, "dtable", V * D); x = fixture_f32(&f, "x", T * D);
    dlogits = fixture_f32(&f, "dlogits", T * V);
    want_tied = fixture_f32(&f, "tied.dtable", V * D); want_dx = fixture_f32(&f, "tied.dx", T * D);
    if (tokens && table && dout && want && x && dlogits && want_tied && want_dx) {
        for (t = 0; t < T; t++) attnres_embedding_backward(dtable, dout + t * D, tokens[t], D);
        check_grad("embedding dtable [16, 8], tokens repeated", dtable, want, V * D);
        /* tied: the lookup and the output projection logits = table x add into one table */
        for (t = 0; t < T; t++) {
            attnres_embedding_backward(dtied, dout + t * D, tokens[t], D);
            attnres_matvec_backward(dx + t * D, dtied, dlogits + t * V, table, x + t * D, V, D);
        }
        check_grad("tied embedding dtable (lookup + output projection)", dtied, want_tied, V * D);
        check_grad("tied embedding: output projection dx [6, 8]", dx, want_dx, T * D);
    }
    { float *all[] = {table, dout, want, x, dlogits, want_tied, want_dx, dtable, dtied, dx, NULL}; free_all(all); }
    free(tokens);
    attnres__st_close(&f);
}

static void grad_rmsnorm(void) {
    attnres__st_file f;
    float *x, *gain, *dout, *eps, *want_dx, *want_dg, *hx, *hg, *hdout, *hwant_dx, *hwant_dg;
    float *dx = zeros(4 * 64), *dg = zeros(64), *hdx = zeros(96), *hdg = zeros(16);
    int r;
    if (!fixture_open(&f, "grad/rmsnorm.safetensors")) { free(dx); free(dg); free(hdx); free(hdg); return; }
    x = fixture_f32(&f, "x", 4 * 64); gain = fixture_f32(&f, "gain", 64); dout = fixture_f32(&f, "dout", 4 * 64);
    eps = fixture_f32(&f, "eps", 1);
    want_dx = fixture_f32(&f, "dx", 4 * 64); want_dg = fixture_f32(&f, "dgain", 64);
    hx = fixture_f32(&f, "heads.x", 96); hg = fixture_f32(&f, "heads.gain", 16);
    hdout = fixture_f32(&f, "heads.dout", 96);
    hwant_dx = fixture_f32(&f, "heads.dx", 96); hwant_dg = fixture_f32(&f, "heads.dgain", 16);
    if (x && gain && dout && eps && want_dx && want_dg) {
        static const char *scale[4] = {"1e-2", "1", "30", "1e3"};
        for (r = 0; r < 4; r++) attnres_rmsnorm_backward(dx + r * 64, dg, dout + r * 64, x + r * 64, gain, 64, eps[0]);
        for (r = 0; r < 4; r++) {   /* row by row: dx of a 1e3 row is 1e5 times smaller than of a 1e-2 row */
            char what[96];
            snprintf(what, sizeof what, "rmsnorm dx [64], a row of scale %s", scale[r]);
            check_grad(what, dx + r * 64, want_dx + r * 64, 64);
        }
        check_grad("rmsnorm dgain [64], summed over 4 rows", dg, want_dg, 64);
    }
    if (hx && hg && hdout && hwant_dx && hwant_dg && eps) {
        for (r = 0; r < 6; r++) attnres_rmsnorm_backward(hdx + r * 16, hdg, hdout + r * 16, hx + r * 16, hg, 16, eps[0]);
        check_grad("QK-norm (6 heads of 16, one gain) dx [96]", hdx, hwant_dx, 96);
        check_grad("QK-norm dgain [16], summed over heads", hdg, hwant_dg, 16);
    }
    { float *all[] = {x, gain, dout, eps, want_dx, want_dg, hx, hg, hdout, hwant_dx, hwant_dg, dx, dg, hdx, hdg, NULL};
      free_all(all); }
    attnres__st_close(&f);
}

static void grad_rope(void) {
    attnres__st_file f;
    float *dout, *want;
    int32_t *pos;
    int r;
    if (!fixture_open(&f, "grad/rope.safetensors")) return;
    dout = fixture_f32(&f, "dout", 6 * 64); want = fixture_f32(&f, "dx", 6 * 64);
    pos = fixture_i32(&f, "pos", 6);
    if (dout && want && pos) {
        for (r = 0; r < 6; r++) attnres_rope_backward(dout + r * 64, 64, 16, pos[r], 10000.0f, NULL);   /* in place */
        check_grad("rope dx [6 positions, 4 heads x 16]", dout, want, 6 * 64);
    }
    free(dout); free(want); free(pos);
    attnres__st_close(&f);
}

/* Causal attention over T positions from q [T, n_heads*hd] and the cache
   k, v [T, kv_dim]: the forward at every position (its att rows kept), then
   the backward of every position into dq, dk, dv. */
static void grad_attention_case(const attnres__st_file *f, const char *name) {
    enum { T = 7, HD = 8, NH = 4 };
    char key[64], what[96];
    float *in[7];
    static const char *names[7] = {"q", "k", "v", "dout", "dq", "dk", "dv"};
    int32_t *n_kv = NULL;
    float out[T * NH * HD], att[T * NH * T], want_out[1];
    int i, t, kv_dim;
    (void)want_out;
    snprintf(key, sizeof key, "%s.n_kv_heads", name);
    n_kv = fixture_i32(f, key, 1);
    kv_dim = n_kv ? n_kv[0] * HD : 0;
    for (i = 0; i < 7; i++) {
        size_t n = (i == 1 || i == 2 || i == 5 || i == 6) ? (size_t)T * kv_dim : (size_t)T * NH * HD;
        snprintf(key, sizeof key, "%s.%s", name, names[i]);
        in[i] = n_kv ? fixture_f32(f, key, n) : NULL;
    }
    if (n_kv && in[0] && in[1] && in[2] && in[3] && in[4] && in[5] && in[6]) {
        float *dq = zeros(T * NH * HD), *dk = zeros((size_t)T * kv_dim), *dv = zeros((size_t)T * kv_dim);
        float *ref_out;
        snprintf(key, sizeof key, "%s.out", name);
        ref_out = fixture_f32(f, key, T * NH * HD);
        memset(att, 0, sizeof att);
        for (t = 0; t < T; t++)
            attnres_attend(out + t * NH * HD, att + t * NH * T, in[0] + t * NH * HD, in[1], in[2],
                           t + 1, NH, n_kv[0], HD, T);
        if (ref_out) {
            snprintf(what, sizeof what, "attention %s (4 q heads, %d kv): forward output", name, n_kv[0]);
            check_grad(what, out, ref_out, T * NH * HD);
        }
        for (t = 0; t < T; t++)
            attnres_attend_backward(dq + t * NH * HD, dk, dv, in[3] + t * NH * HD, att + t * NH * T,
                                    in[0] + t * NH * HD, in[1], in[2], t + 1, NH, n_kv[0], HD, T);
        snprintf(what, sizeof what, "attention %s dq [7, 32]", name);
        check_grad(what, dq, in[4], T * NH * HD);
        snprintf(what, sizeof what, "attention %s dk [7, %d] (heads sharing a kv head sum)", name, kv_dim);
        check_grad(what, dk, in[5], (size_t)T * kv_dim);
        snprintf(what, sizeof what, "attention %s dv [7, %d]", name, kv_dim);
        check_grad(what, dv, in[6], (size_t)T * kv_dim);
        free(dq); free(dk); free(dv); free(ref_out);
    }
    for (i = 0; i < 7; i++) free(in[i]);
    free(n_kv);
}

static void grad_attention(void) {
    attnres__st_file f;
    if (!fixture_open(&f, "grad/attention.safetensors")) return;
    grad_attention_case(&f, "mha");
    grad_attention_case(&f, "gqa");
    grad_attention_case(&f, "mqa");
    attnres__st_close(&f);
}

static void grad_mlp(void) {
    attnres__st_file f;
    enum { T = 3, D = 32, H = 48 };
    float *x, *w1, *w2, *w3, *dout, *want[4], hb[H], hb2[H];
    float *dx = zeros(T * D), *dw1 = zeros(H * D), *dw2 = zeros(D * H), *dw3 = zeros(H * D);
    int t;
    if (!fixture_open(&f, "grad/mlp.safetensors")) { free(dx); free(dw1); free(dw2); free(dw3); return; }
    x = fixture_f32(&f, "x", T * D); dout = fixture_f32(&f, "dout", T * D);
    w1 = fixture_f32(&f, "w1", H * D); w2 = fixture_f32(&f, "w2", D * H); w3 = fixture_f32(&f, "w3", H * D);
    want[0] = fixture_f32(&f, "dx", T * D); want[1] = fixture_f32(&f, "dw1", H * D);
    want[2] = fixture_f32(&f, "dw2", D * H); want[3] = fixture_f32(&f, "dw3", H * D);
    if (x && dout && w1 && w2 && w3 && want[0] && want[1] && want[2] && want[3]) {
        for (t = 0; t < T; t++)
            attnres_swiglu_mlp_backward(dx + t * D, dw1, dw2, dw3, dout + t * D, x + t * D, w1, w2, w3, hb, hb2, D, H);
        check_grad("SwiGLU dx [3, 32]", dx, want[0], T * D);
        check_grad("SwiGLU dw1 (gate) [48, 32], summed over 3 positions", dw1, want[1], H * D);
        check_grad("SwiGLU dw2 (down) [32, 48]", dw2, want[2], D * H);
        check_grad("SwiGLU dw3 (up) [48, 32]", dw3, want[3], H * D);
    }
    { float *all[] = {x, w1, w2, w3, dout, want[0], want[1], want[2], want[3], dx, dw1, dw2, dw3, NULL}; free_all(all); }
    attnres__st_close(&f);
}

static void grad_depth_case(const attnres__st_file *f, const char *name, int n, const char *what) {
    enum { D = 64 };
    char key[64], label[160];
    static const char *names[8] = {"sources", "pseudo_query", "key_gain", "dout", "alpha",
                                   "dsources", "dpseudo_query", "dkey_gain"};
    float *in[8], out[D], alpha[8];
    float *ds = zeros((size_t)n * D), *dw = zeros(D), *dg = zeros(D);
    int i;
    for (i = 0; i < 8; i++) {
        size_t count = (i == 0 || i == 5) ? (size_t)n * D : i == 4 ? (size_t)n : D;
        snprintf(key, sizeof key, "%s.%s", name, names[i]);
        in[i] = fixture_f32(f, key, count);
    }
    if (in[0] && in[1] && in[2] && in[3] && in[4] && in[5] && in[6] && in[7] && n <= 8) {
        attnres_depth_attention(out, alpha, in[0], n, in[1], in[2], D, 1e-5f);
        snprintf(label, sizeof label, "depth attention alpha [%d], %s (not uniform)", n, what);
        if (n > 1) check_grad(label, alpha, in[4], (size_t)n);
        attnres_depth_attention_backward(ds, dw, dg, in[3], alpha, in[0], n, in[1], in[2], D, 1e-5f);
        snprintf(label, sizeof label, "depth attention dsources [%d, 64] (value + key paths), %s", n, what);
        check_grad(label, ds, in[5], (size_t)n * D);
        snprintf(label, sizeof label, "depth attention dpseudo_query [64], %s", what);
        if (n > 1) check_grad(label, dw, in[6], D);
        else check(dw[0] == 0.0f && dg[0] == 0.0f, "one source: alpha = 1 whatever the logit, so dpseudo_query "
                   "and dkey_gain are 0 (got %g, %g)", (double)dw[0], (double)dg[0]);
        snprintf(label, sizeof label, "depth attention dkey_gain [64], %s", what);
        if (n > 1) check_grad(label, dg, in[7], D);
    }
    for (i = 0; i < 8; i++) free(in[i]);
    free(ds); free(dw); free(dg);
}

static void grad_depth(void) {
    attnres__st_file f;
    if (!fixture_open(&f, "grad/depth.safetensors")) return;
    grad_depth_case(&f, "depth", 5, "source 2 is 50x larger");
    grad_depth_case(&f, "single", 1, "a single source");
    attnres__st_close(&f);
}

/* ------------------------------------------------------------------------ */
/* The block state, through a toy depth stack: b0, and L toy sublayers     */
/* f_l(h) = c_l * h (elementwise), so that what is checked is the AttnRes  */
/* wiring (partials, completed blocks, a short last block, the output      */
/* aggregation) and not a sublayer. The same code serves the finite-       */
/* difference check below.                                                  */
/* ------------------------------------------------------------------------ */

enum { TOY_D = 32, TOY_MAX_L = 6 };

typedef struct {
    int L, S, N;
    float *b0, *c, *pq, *kg;              /* [D], [L, D], [L+1, D], [L+1, D] */
    /* what the forward keeps for the backward */
    float blocks[(TOY_MAX_L + 1) * TOY_D];          /* [N+1, D] b0 .. b_N at the end  */
    float partial_in[TOY_MAX_L * TOY_D];            /* [L, D] the partial each sublayer read */
    float h[TOY_MAX_L * TOY_D];                     /* [L, D] each sublayer's input   */
    float alpha[(TOY_MAX_L + 1) * (TOY_MAX_L + 1)]; /* [L+1, N+1]                    */
    float inv_rms[TOY_MAX_L + 1];
    float out[TOY_D];
} toy_stack;

/* The forward, with the library's block state and depth attention. */
static void toy_forward(toy_stack *m) {
    attnres_block_state bs;
    int l, i, D = TOY_D;
    bs.blocks = m->blocks; bs.inv_rms = m->inv_rms; bs.block_size = m->S;
    bs.max_blocks = m->N + 1; bs.dim = D;
    attnres_block_reset(&bs, m->b0);
    for (l = 0; l <= m->L; l++) {
        float *h = l < m->L ? m->h + l * D : m->out, f[TOY_D];
        if (l == m->L) attnres_block_close(&bs);
        if (l < m->L) memcpy(m->partial_in + l * D, m->blocks + bs.n_completed * D, sizeof f);
        attnres_depth_attention(h, m->alpha + l * (m->N + 1), m->blocks, attnres_block_n_sources(&bs),
                                m->pq + l * D, m->kg + l * D, D, 1e-5f);
        if (l == m->L) break;
        for (i = 0; i < D; i++) f[i] = m->c[l * D + i] * h[i];
        attnres_block_add(&bs, f);
    }
}

/* The backward, sublayers in reverse. dblocks [N+1, D] gathers the gradient
   of every block and partial; before sublayer l's depth attention is undone,
   the row of its block is put back to the partial it read. */
static void toy_backward(toy_stack *m, float *db0, float *dc, float *dpq, float *dkg, const float *dout) {
    float dblocks[(TOY_MAX_L + 1) * TOY_D];
    int l, i, D = TOY_D;
    memset(dblocks, 0, sizeof dblocks);
    attnres_depth_attention_backward(dblocks, dpq + m->L * D, dkg + m->L * D, dout, m->alpha + m->L * (m->N + 1),
                                     m->blocks, m->N + 1, m->pq + m->L * D, m->kg + m->L * D, D, 1e-5f);
    for (l = m->L - 1; l >= 0; l--) {
        int row = attnres_block_row(l, m->S), first = l % m->S == 0;
        float df[TOY_D], dh[TOY_D];
        memset(df, 0, sizeof df);
        attnres_block_add_backward(df, dblocks, l, m->S, D);          /* df = d(partial) */
        for (i = 0; i < D; i++) {                                     /* f = c * h */
            dc[l * D + i] += df[i] * m->h[l * D + i];
            dh[i] = df[i] * m->c[l * D + i];
        }
        memcpy(m->blocks + row * D, m->partial_in + l * D, sizeof df);  /* the sources l read */
        attnres_depth_attention_backward(dblocks, dpq + l * D, dkg + l * D, dh, m->alpha + l * (m->N + 1),
                                         m->blocks, row + !first, m->pq + l * D, m->kg + l * D, D, 1e-5f);
    }
    attnres_axpy(db0, 1.0f, dblocks, D);
    toy_forward(m);   /* the blocks were walked back: restore them */
}

static void grad_blocks_case(const attnres__st_file *f, const char *name, const char *what) {
    enum { D = TOY_D };
    char key[64], label[160];
    static const char *names[9] = {"b0", "c", "pseudo_query", "key_gain", "dout",
                                   "db0", "dc", "dpseudo_query", "dkey_gain"};
    float *in[9];
    int32_t *cfg;
    int i;
    toy_stack m;
    snprintf(key, sizeof key, "%s.config", name);
    cfg = fixture_i32(f, key, 2);
    if (!cfg || cfg[0] > TOY_MAX_L || cfg[1] < 1) { free(cfg); check(0, "blocks %s: bad config", name); return; }
    m.L = cfg[0]; m.S = cfg[1]; m.N = (m.L + m.S - 1) / m.S;
    for (i = 0; i < 9; i++) {
        size_t n = (i == 1 || i == 6) ? (size_t)m.L * D : (i == 2 || i == 3 || i == 7 || i == 8) ? (size_t)(m.L + 1) * D : D;
        snprintf(key, sizeof key, "%s.%s", name, names[i]);
        in[i] = fixture_f32(f, key, n);
    }
    if (in[0] && in[1] && in[2] && in[3] && in[4] && in[5] && in[6] && in[7] && in[8]) {
        float *db0 = zeros(D), *dc = zeros((size_t)m.L * D), *dpq = zeros((size_t)(m.L + 1) * D);
        float *dkg = zeros((size_t)(m.L + 1) * D), *ref_out;
        m.b0 = in[0]; m.c = in[1]; m.pq = in[2]; m.kg = in[3];
        snprintf(key, sizeof key, "%s.out", name);
        ref_out = fixture_f32(f, key, D);
        toy_forward(&m);
        snprintf(label, sizeof label, "blocks %s (L=%d, S=%d): forward output", name, m.L, m.S);
        if (ref_out) check_grad(label, m.out, ref_out, D);
        toy_backward(&m, db0, dc, dpq, dkg, in[4]);
        snprintf(label, sizeof label, "blocks %s: db0 (the embedding, read by every sublayer), %s", name, what);
        check_grad(label, db0, in[5], D);
        snprintf(label, sizeof label, "blocks %s: df of every sublayer (as dc = df * h) [%d, 32]", name, m.L);
        check_grad(label, dc, in[6], (size_t)m.L * D);
        snprintf(label, sizeof label, "blocks %s: dpseudo_query [%d, 32], output row included", name, m.L + 1);
        check_grad(label, dpq, in[7], (size_t)(m.L + 1) * D);
        snprintf(label, sizeof label, "blocks %s: dkey_gain [%d, 32]", name, m.L + 1);
        check_grad(label, dkg, in[8], (size_t)(m.L + 1) * D);
        free(db0); free(dc); free(dpq); free(dkg); free(ref_out);
    }
    for (i = 0; i < 9; i++) free(in[i]);
    free(cfg);
}

static void grad_blocks(void) {
    attnres__st_file f;
    if (!fixture_open(&f, "grad/blocks.safetensors")) return;
    grad_blocks_case(&f, "full", "Full AttnRes (S = 1)");
    grad_blocks_case(&f, "s2", "S = 2 dividing L");
    grad_blocks_case(&f, "uneven", "an uneven last block (L = 6, S = 4)");
    grad_blocks_case(&f, "s_eq_l", "one block (S = L)");
    attnres__st_close(&f);
}

static void grad_cross_entropy(void) {
    attnres__st_file f;
    enum { T = 5, V = 40 };
    float *logits, *loss, *want, *dlogits = zeros(T * V), mean = 0.0f;
    int32_t *targets;
    int t;
    if (!fixture_open(&f, "grad/cross_entropy.safetensors")) { free(dlogits); return; }
    logits = fixture_f32(&f, "logits", T * V); loss = fixture_f32(&f, "loss", 1);
    want = fixture_f32(&f, "dlogits", T * V); targets = fixture_i32(&f, "targets", T);
    if (logits && loss && want && targets) {
        for (t = 0; t < T; t++) {
            mean += attnres_cross_entropy(logits + t * V, targets[t], V) / (float)T;
            attnres_cross_entropy_backward(dlogits + t * V, logits + t * V, targets[t], V, 1.0f / (float)T);
        }
        check_close("cross-entropy, mean over 5 positions (a logit of 60 among them)", &mean, loss, 1, 0.0, 1e-5);
        check_grad("cross-entropy dlogits [5, 40] = (softmax - onehot) / T", dlogits, want, T * V);
    }
    free(logits); free(loss); free(want); free(dlogits); free(targets);
    attnres__st_close(&f);
}

/* ======================================================================== */
/* 2. Central finite differences, in C                                      */
/* ======================================================================== */
/* For a stage out = F(p) and a fixed random dout, the scalar loss is
   sum(dout * out); its gradient with respect to each coordinate p_i is what
   the backward computes. Central differences (loss(p_i + h) - loss(p_i - h))
   / (2h) err by O(h^2) (the truncation, ~1e-5 here at h = 1e-2 on inputs of
   order 1), plus the float32 rounding of the forward (about 1e-7 relative
   in each output, summed in double: ~1e-6 absolute in the loss) divided by
   2h: ~1e-5 of the gradient. Measured, the worst tensor is at 1.5e-4 of
   its max |gradient| (up to 8e-4 with other random draws: the toy stack's
   dkey_gain, a small gradient through four softmaxes); FD_TOL = 1e-2 leaves
   a 10x margin, while a dropped path or a wrong sign or factor is an
   error of order the gradient itself. The step is divided by the distance
   the perturbed float really moved, so the rounding of p +- h costs nothing. */

#define FD_H   1e-2
#define FD_TOL 1e-2

typedef double (*fd_loss_fn)(void *ctx);

/* Every coordinate of p[n] perturbed in turn; the differences against grad[n]. */
static void fd_check(const char *what, float *p, const float *grad, int n, fd_loss_fn loss, void *ctx) {
    double max_diff = 0.0, max_grad = 0.0;
    int i, worst = 0;
    for (i = 0; i < n; i++) {
        float keep = p[i], up = (float)(keep + FD_H), down = (float)(keep - FD_H);
        double lu, ld, fd;
        p[i] = up;   lu = loss(ctx);
        p[i] = down; ld = loss(ctx);
        p[i] = keep;
        fd = (lu - ld) / ((double)up - (double)down);
        if (fabs(fd - grad[i]) > max_diff) { max_diff = fabs(fd - grad[i]); worst = i; }
        if (fabs((double)grad[i]) > max_grad) max_grad = fabs((double)grad[i]);
    }
    check(max_grad > 0.0 && max_diff <= FD_TOL * max_grad,
          "finite differences, %s: %d coordinates, max |fd - backward| %.3g (%.2g of max |grad| %.3g; "
          "tol %.0e; worst at [%d])", what, n, max_diff, max_grad > 0 ? max_diff / max_grad : 0.0, max_grad,
          FD_TOL, worst);
}

/* sum(dout[n] * out[n]) in double */
static double dot_double(const float *dout, const float *out, int n) {
    double s = 0.0;
    int i;
    for (i = 0; i < n; i++) s += (double)dout[i] * (double)out[i];
    return s;
}

/* uniform in [lo, hi), from the library's portable generator */
static void fill(float *x, int n, float lo, float hi, uint64_t *rng) {
    int i;
    for (i = 0; i < n; i++) x[i] = lo + (hi - lo) * attnres_random_f32(rng);
}

/* --- one context and loss per stage --- */
enum { FD_D = 12, FD_H2 = 20, FD_T = 5, FD_NH = 4, FD_HD = 4, FD_NKV = 2, FD_V = 9 };

typedef struct { float x[FD_D], w[FD_H2 * FD_D], gain[FD_D], dout[FD_H2]; } fd_small;
static double loss_matvec(void *p) {
    fd_small *c = (fd_small *)p;
    float out[FD_H2];
    attnres_matvec(out, c->w, c->x, FD_H2, FD_D);
    return dot_double(c->dout, out, FD_H2);
}
static double loss_rmsnorm(void *p) {
    fd_small *c = (fd_small *)p;
    float out[FD_D];
    attnres_rmsnorm(out, c->x, c->gain, FD_D, 1e-5f);
    return dot_double(c->dout, out, FD_D);
}
static double loss_rope(void *p) {
    fd_small *c = (fd_small *)p;
    float out[FD_D];
    memcpy(out, c->x, sizeof out);
    attnres_rope(out, FD_D, FD_HD, 13, 10000.0f, NULL);
    return dot_double(c->dout, out, FD_D);
}
/* Llama 3.1's scaling with an original context of 16, at position 300:
   the backward turns each pair back by its scaled angle too. */
static const attnres_rope_scaling FD_LLAMA3 = {ATTNRES_ROPE_LLAMA3, 8.0f, 1.0f, 4.0f, 16};
static double loss_rope_llama3(void *p) {
    fd_small *c = (fd_small *)p;
    float out[FD_D];
    memcpy(out, c->x, sizeof out);
    attnres_rope(out, FD_D, FD_HD, 300, 10000.0f, &FD_LLAMA3);
    return dot_double(c->dout, out, FD_D);
}
static double loss_ce(void *p) {
    fd_small *c = (fd_small *)p;
    return attnres_cross_entropy(c->x, 4, FD_D);
}

/* tied embeddings: one table [FD_V, FD_D] is read by the lookup of two
   tokens and by the output projection of x */
typedef struct { float table[FD_V * FD_D], x[FD_D], dout[FD_D], dlogits[FD_V]; } fd_tied;
static double loss_tied(void *p) {
    fd_tied *c = (fd_tied *)p;
    float logits[FD_V];
    attnres_matvec(logits, c->table, c->x, FD_V, FD_D);
    return dot_double(c->dout, c->table + 3 * FD_D, FD_D) + dot_double(c->dout, c->table + 7 * FD_D, FD_D)
           + dot_double(c->dlogits, logits, FD_V);
}

typedef struct { float x[FD_D], w1[FD_H2 * FD_D], w2[FD_D * FD_H2], w3[FD_H2 * FD_D], dout[FD_D]; } fd_mlp;
static double loss_mlp(void *p) {
    fd_mlp *c = (fd_mlp *)p;
    float out[FD_D], hb[FD_H2], hb2[FD_H2];
    attnres_swiglu_mlp(out, c->x, c->w1, c->w2, c->w3, hb, hb2, FD_D, FD_H2);
    return dot_double(c->dout, out, FD_D);
}

typedef struct {
    float q[FD_T * FD_NH * FD_HD], k[FD_T * FD_NKV * FD_HD], v[FD_T * FD_NKV * FD_HD];
    float dout[FD_T * FD_NH * FD_HD], att[FD_T * FD_NH * FD_T];
} fd_att;
static double loss_att(void *p) {   /* every position of a causal sequence, GQA */
    fd_att *c = (fd_att *)p;
    float out[FD_NH * FD_HD];
    double s = 0.0;
    int t;
    for (t = 0; t < FD_T; t++) {
        attnres_attend(out, c->att + t * FD_NH * FD_T, c->q + t * FD_NH * FD_HD, c->k, c->v, t + 1,
                       FD_NH, FD_NKV, FD_HD, FD_T);
        s += dot_double(c->dout + t * FD_NH * FD_HD, out, FD_NH * FD_HD);
    }
    return s;
}

typedef struct { float src[5 * FD_D], pq[FD_D], kg[FD_D], dout[FD_D], alpha[5]; } fd_depth;
static double loss_depth(void *p) {
    fd_depth *c = (fd_depth *)p;
    float out[FD_D];
    attnres_depth_attention(out, c->alpha, c->src, 5, c->pq, c->kg, FD_D, 1e-5f);
    return dot_double(c->dout, out, FD_D);
}

typedef struct { toy_stack m; float b0[TOY_D], c[TOY_MAX_L * TOY_D], pq[7 * TOY_D], kg[7 * TOY_D], dout[TOY_D]; } fd_toy;
static double loss_toy(void *p) {
    fd_toy *c = (fd_toy *)p;
    toy_forward(&c->m);
    return dot_double(c->dout, c->m.out, TOY_D);
}

static void fd_primitives(uint64_t *rng) {
    fd_small s;
    fd_mlp mlp;
    fd_att att;
    fd_depth dep;
    float dx[FD_D], dw[FD_H2 * FD_D], dg[FD_D], d1[FD_H2 * FD_D], d2[FD_D * FD_H2], d3[FD_H2 * FD_D];
    float hb[FD_H2], hb2[FD_H2];
    int t;

    fill(s.x, FD_D, -1, 1, rng); fill(s.w, FD_H2 * FD_D, -0.5f, 0.5f, rng);
    fill(s.gain, FD_D, 0.7f, 1.3f, rng); fill(s.dout, FD_H2, -1, 1, rng);
    memset(dx, 0, sizeof dx); memset(dw, 0, sizeof dw);
    attnres_matvec_backward(dx, dw, s.dout, s.w, s.x, FD_H2, FD_D);
    fd_check("matvec dx", s.x, dx, FD_D, loss_matvec, &s);
    fd_check("matvec dw", s.w, dw, FD_H2 * FD_D, loss_matvec, &s);

    memset(dx, 0, sizeof dx); memset(dg, 0, sizeof dg);
    attnres_rmsnorm_backward(dx, dg, s.dout, s.x, s.gain, FD_D, 1e-5f);
    fd_check("rmsnorm dx", s.x, dx, FD_D, loss_rmsnorm, &s);
    fd_check("rmsnorm dgain", s.gain, dg, FD_D, loss_rmsnorm, &s);

    memcpy(dx, s.dout, sizeof dx);
    attnres_rope_backward(dx, FD_D, FD_HD, 13, 10000.0f, NULL);
    fd_check("rope dx (pos 13)", s.x, dx, FD_D, loss_rope, &s);
    memcpy(dx, s.dout, sizeof dx);
    attnres_rope_backward(dx, FD_D, FD_HD, 300, 10000.0f, &FD_LLAMA3);
    fd_check("rope dx, llama3 scaling (pos 300, original context 16)", s.x, dx, FD_D, loss_rope_llama3, &s);

    fill(s.x, FD_D, -3, 3, rng);
    memset(dx, 0, sizeof dx);
    attnres_cross_entropy_backward(dx, s.x, 4, FD_D, 1.0f);
    fd_check("cross-entropy dlogits", s.x, dx, FD_D, loss_ce, &s);

    {
        fd_tied e;
        float dtable[FD_V * FD_D];
        fill(e.table, FD_V * FD_D, -1, 1, rng); fill(e.x, FD_D, -1, 1, rng);
        fill(e.dout, FD_D, -1, 1, rng); fill(e.dlogits, FD_V, -1, 1, rng);
        memset(dtable, 0, sizeof dtable); memset(dx, 0, sizeof dx);
        attnres_embedding_backward(dtable, e.dout, 3, FD_D);
        attnres_embedding_backward(dtable, e.dout, 7, FD_D);
        attnres_matvec_backward(dx, dtable, e.dlogits, e.table, e.x, FD_V, FD_D);
        fd_check("tied embedding dtable (two lookups + the output projection)", e.table, dtable, FD_V * FD_D, loss_tied, &e);
        fd_check("tied embedding: output projection dx", e.x, dx, FD_D, loss_tied, &e);
    }

    fill(mlp.x, FD_D, -1, 1, rng); fill(mlp.dout, FD_D, -1, 1, rng);
    fill(mlp.w1, FD_H2 * FD_D, -0.6f, 0.6f, rng); fill(mlp.w2, FD_D * FD_H2, -0.5f, 0.5f, rng);
    fill(mlp.w3, FD_H2 * FD_D, -0.6f, 0.6f, rng);
    memset(dx, 0, sizeof dx); memset(d1, 0, sizeof d1); memset(d2, 0, sizeof d2); memset(d3, 0, sizeof d3);
    attnres_swiglu_mlp_backward(dx, d1, d2, d3, mlp.dout, mlp.x, mlp.w1, mlp.w2, mlp.w3, hb, hb2, FD_D, FD_H2);
    fd_check("SwiGLU dx", mlp.x, dx, FD_D, loss_mlp, &mlp);
    fd_check("SwiGLU dw1", mlp.w1, d1, FD_H2 * FD_D, loss_mlp, &mlp);
    fd_check("SwiGLU dw2", mlp.w2, d2, FD_D * FD_H2, loss_mlp, &mlp);
    fd_check("SwiGLU dw3", mlp.w3, d3, FD_H2 * FD_D, loss_mlp, &mlp);

    {
        float dq[FD_T * FD_NH * FD_HD], dk[FD_T * FD_NKV * FD_HD], dv[FD_T * FD_NKV * FD_HD];
        fill(att.q, FD_T * FD_NH * FD_HD, -1.5f, 1.5f, rng); fill(att.k, FD_T * FD_NKV * FD_HD, -1.5f, 1.5f, rng);
        fill(att.v, FD_T * FD_NKV * FD_HD, -1, 1, rng); fill(att.dout, FD_T * FD_NH * FD_HD, -1, 1, rng);
        memset(dq, 0, sizeof dq); memset(dk, 0, sizeof dk); memset(dv, 0, sizeof dv);
        loss_att(&att);   /* leaves the weights of every position in att.att */
        for (t = 0; t < FD_T; t++)
            attnres_attend_backward(dq + t * FD_NH * FD_HD, dk, dv, att.dout + t * FD_NH * FD_HD,
                                    att.att + t * FD_NH * FD_T, att.q + t * FD_NH * FD_HD, att.k, att.v,
                                    t + 1, FD_NH, FD_NKV, FD_HD, FD_T);
        fd_check("causal attention (5 positions, GQA 4/2) dq", att.q, dq, FD_T * FD_NH * FD_HD, loss_att, &att);
        fd_check("causal attention dk", att.k, dk, FD_T * FD_NKV * FD_HD, loss_att, &att);
        fd_check("causal attention dv", att.v, dv, FD_T * FD_NKV * FD_HD, loss_att, &att);
    }
    {
        float ds[5 * FD_D], dpq[FD_D], dkg[FD_D], spread;
        int j;
        fill(dep.src, 5 * FD_D, -1, 1, rng);
        for (j = 0; j < FD_D; j++) dep.src[3 * FD_D + j] *= 4.0f;   /* one source larger: only its key is normed */
        fill(dep.pq, FD_D, -1.5f, 1.5f, rng); fill(dep.kg, FD_D, 0.7f, 1.3f, rng); fill(dep.dout, FD_D, -1, 1, rng);
        memset(ds, 0, sizeof ds); memset(dpq, 0, sizeof dpq); memset(dkg, 0, sizeof dkg);
        loss_depth(&dep);
        for (spread = 0.0f, j = 0; j < 5; j++) spread = fmaxf(spread, fabsf(dep.alpha[j] - 0.2f));
        check(spread > 0.05f, "finite differences: the depth weights are not uniform (max |alpha - 1/5| = %.3f)",
              (double)spread);
        attnres_depth_attention_backward(ds, dpq, dkg, dep.dout, dep.alpha, dep.src, 5, dep.pq, dep.kg, FD_D, 1e-5f);
        fd_check("depth attention dsources", dep.src, ds, 5 * FD_D, loss_depth, &dep);
        fd_check("depth attention dpseudo_query", dep.pq, dpq, FD_D, loss_depth, &dep);
        fd_check("depth attention dkey_gain", dep.kg, dkg, FD_D, loss_depth, &dep);
    }
}

static void fd_blocks(uint64_t *rng, int L, int S, const char *what) {
    static fd_toy c;   /* static: a few KB, zeroed */
    float db0[TOY_D], dc[TOY_MAX_L * TOY_D], dpq[7 * TOY_D], dkg[7 * TOY_D], spread = 0.0f;
    char label[128];
    int i;
    memset(&c, 0, sizeof c);
    c.m.L = L; c.m.S = S; c.m.N = (L + S - 1) / S;
    c.m.b0 = c.b0; c.m.c = c.c; c.m.pq = c.pq; c.m.kg = c.kg;
    fill(c.b0, TOY_D, -1, 1, rng); fill(c.c, L * TOY_D, 0.3f, 1.7f, rng);
    fill(c.pq, (L + 1) * TOY_D, -2, 2, rng); fill(c.kg, (L + 1) * TOY_D, 0.7f, 1.3f, rng);
    fill(c.dout, TOY_D, -1, 1, rng);
    memset(db0, 0, sizeof db0); memset(dc, 0, sizeof dc); memset(dpq, 0, sizeof dpq); memset(dkg, 0, sizeof dkg);
    toy_forward(&c.m);
    for (i = 0; i <= L * (c.m.N + 1) + c.m.N; i++) {   /* every row: its sources n, weights 1/n if uniform */
        int l = i / (c.m.N + 1), n = l == L ? c.m.N + 1 : attnres_block_row(l, S) + (l % S > 0);
        if (i % (c.m.N + 1) < n && n > 1) spread = fmaxf(spread, fabsf(c.m.alpha[i] - 1.0f / (float)n));
    }
    check(spread > 0.1f, "finite differences, blocks %s: the depth weights are not uniform "
          "(max |alpha - 1/n| = %.3f)", what, (double)spread);
    toy_backward(&c.m, db0, dc, dpq, dkg, c.dout);
    snprintf(label, sizeof label, "blocks %s db0", what);
    fd_check(label, c.b0, db0, TOY_D, loss_toy, &c);
    snprintf(label, sizeof label, "blocks %s dc (df of every sublayer)", what);
    fd_check(label, c.c, dc, L * TOY_D, loss_toy, &c);
    snprintf(label, sizeof label, "blocks %s dpseudo_query", what);
    fd_check(label, c.pq, dpq, (L + 1) * TOY_D, loss_toy, &c);
    snprintf(label, sizeof label, "blocks %s dkey_gain", what);
    fd_check(label, c.kg, dkg, (L + 1) * TOY_D, loss_toy, &c);
}

/* ======================================================================== */
/* 3. The whole model: sequence forward and backward                        */
/* ======================================================================== */

/* A stacked field of the weights: n_slices checkpoint tensors of `per`
   values each (one per layer, or one per row of the AttnRes vectors), each
   held to GRAD_RTOL of its own max |ref|. A slice whose reference is all
   zero (the first sublayer's pseudo-query and key gain: one source, alpha =
   1 whatever its logit) must be exactly zero in C too. */
static void check_grad_slices(const char *model, const char *field, const float *got, const float *want,
                              int n_slices, size_t per) {
    double worst = 0.0;
    int k, worst_k = 0, zero_ok = 1, n_zero = 0;
    size_t i, worst_i = 0;
    for (k = 0; k < n_slices; k++) {
        const float *g = got + (size_t)k * per, *w = want + (size_t)k * per;
        double max_ref = 0.0, max_diff = 0.0;
        size_t at = 0;
        for (i = 0; i < per; i++) {
            double diff = fabs((double)g[i] - (double)w[i]);
            if (fabs((double)w[i]) > max_ref) max_ref = fabs((double)w[i]);
            if (diff > max_diff || diff != diff) { max_diff = diff; at = i; }
        }
        if (max_ref == 0.0) { n_zero++; if (max_diff != 0.0) zero_ok = 0; continue; }
        if (!(max_diff / max_ref <= worst)) { worst = max_diff / max_ref; worst_k = k; worst_i = at; }
    }
    if (worst <= GRAD_RTOL && zero_ok && n_zero < n_slices)
        check(1, "%s: d%s, %d tensor%s of %zu: worst max |C - ref| = %.2g of max |ref| (tol %.0e)%s", model, field,
              n_slices, n_slices > 1 ? "s" : "", per, worst, GRAD_RTOL, n_zero ? "; zero rows zero in C too" : "");
    else
        check(0, "%s: d%s: worst %.3g of max |ref| in tensor %d at [%zu]: C %.9g, ref %.9g (tol %.0e)%s", model, field,
              worst, worst_k, worst_i, (double)got[(size_t)worst_k * per + worst_i],
              (double)want[(size_t)worst_k * per + worst_i], GRAD_RTOL,
              !zero_ok ? "; a zero reference row is not zero in C" : n_zero == n_slices ? "; the reference is all zero" : "");
}

static void grad_model(const char *name) {
    enum { T = 8 };
    attnres_model m, ref;
    attnres_train_state ts;
    attnres_state s;
    attnres_error err;
    attnres__st_file f;
    char path[256], label[160];
    float loss = 0.0f, *want_loss = NULL, *want_logits = NULL, *step_logits = NULL, *want_df_norm = NULL;
    int32_t *tokens = NULL, *targets = NULL;
    int tok[T], tgt[T], t, V;
    size_t allocs = 0;
    memset(&m, 0, sizeof m); memset(&ref, 0, sizeof ref); memset(&ts, 0, sizeof ts); memset(&s, 0, sizeof s);
    snprintf(path, sizeof path, "%s/grad/model_%s.grad.safetensors", GOLDEN_DIR, name);
    if (!fixture_model(&m, name)) return;
    if (attnres_model_load(&ref, path, &err) != ATTNRES_OK) { check(0, "load %s: %s", path, err.message); goto done; }
    snprintf(path, sizeof path, "grad/model_%s.expect.safetensors", name);
    if (!fixture_open(&f, path)) goto done;
    V = m.config.vocab_size;
    tokens = fixture_i32(&f, "tokens", T); targets = fixture_i32(&f, "targets", T);
    want_loss = fixture_f32(&f, "loss", 1); want_logits = fixture_f32(&f, "logits", (size_t)T * V);
    want_df_norm = fixture_f32(&f, "df_norm", (size_t)attnres_n_sublayers(&m.config));
    attnres__st_close(&f);
    step_logits = (float *)malloc((size_t)T * V * sizeof(float));
    if (!tokens || !targets || !want_loss || !want_logits || !want_df_norm || !step_logits) goto done;
    for (t = 0; t < T; t++) { tok[t] = tokens[t]; tgt[t] = targets[t]; }
    if (attnres_train_state_init(&ts, &m, T, &err) != ATTNRES_OK) { check(0, "%s: train state: %s", name, err.message); goto done; }
    check(attnres_train_state_bytes(&m.config, T) == ts.n_floats * sizeof(float),
          "%s: attnres_train_state_bytes = %zu, what init allocates", name, attnres_train_state_bytes(&m.config, T));
    if (attnres_state_init_ctx(&s, &m.config, T, &err) != ATTNRES_OK) { check(0, "%s: state: %s", name, err.message); goto done; }
    attnres_train_zero_grad(&ts);
    allocs = n_allocs;
    if (attnres_train_forward(&m, &ts, tok, tgt, T, &loss, &err) != ATTNRES_OK) { check(0, "%s: forward: %s", name, err.message); goto done; }
    snprintf(label, sizeof label, "%s: mean cross-entropy over %d tokens", name, T);
    check_close(label, &loss, want_loss, 1, 0.0, 1e-5);
    snprintf(label, sizeof label, "%s: sequence forward logits [%d, %d] against PyTorch", name, T, V);
    check_grad(label, ts.logits, want_logits, (size_t)T * V);
    /* the same model token by token, with the KV-cache */
    for (t = 0; t < T; t++) {
        float *lg = attnres_forward(&m, &s, tok[t], t, &err);
        if (!lg) { check(0, "%s: attnres_forward: %s", name, err.message); goto done; }
        memcpy(step_logits + (size_t)t * V, lg, (size_t)V * sizeof(float));
    }
    {   /* within 1e-5 of the largest logit */
        double max = 0.0;
        size_t i;
        for (i = 0; i < (size_t)T * V; i++) if (fabs((double)step_logits[i]) > max) max = fabs((double)step_logits[i]);
        snprintf(label, sizeof label, "%s: sequence forward logits = token-by-token attnres_forward", name);
        check_close(label, ts.logits, step_logits, (size_t)T * V, 1e-5 * max, 0.0);
    }
    if (attnres_train_backward(&m, &ts, &err) != ATTNRES_OK) { check(0, "%s: backward: %s", name, err.message); goto done; }
    check(n_allocs == allocs, "%s: the training step (forward and backward) allocates nothing (%zu allocations)",
          name, n_allocs - allocs);
    /* the gradient reaching every sublayer's output, ||dloss/df_l|| over [T, dim] */
    snprintf(label, sizeof label, "%s: df_norm [%d], ||dloss/df_l|| of every sublayer, against PyTorch", name,
             attnres_n_sublayers(&m.config));
    check_close(label, ts.df_norm, want_df_norm, (size_t)attnres_n_sublayers(&m.config), 0.0, GRAD_RTOL);  /* each norm */
    {
        const attnres_config *c = &m.config;
        const attnres_weights *g = &ts.grad, *r = &ref.weights;
        size_t d = (size_t)c->dim, nl = (size_t)c->n_layers, hd = (size_t)attnres_head_dim(c);
        size_t qd = (size_t)c->n_heads * hd, kvd = (size_t)attnres_kv_dim(c), hid = (size_t)c->hidden_dim;
        int L1 = attnres_n_sublayers(c) + 1;
        check_grad_slices(name, c->tie_embeddings ? "tok_embeddings (tied: + output)" : "tok_embeddings",
                          g->tok_embeddings, r->tok_embeddings, 1, (size_t)V * d);
        check_grad_slices(name, "attention_norm", g->attention_norm, r->attention_norm, (int)nl, d);
        check_grad_slices(name, "wq", g->wq, r->wq, (int)nl, qd * d);
        check_grad_slices(name, "wk", g->wk, r->wk, (int)nl, kvd * d);
        check_grad_slices(name, "wv", g->wv, r->wv, (int)nl, kvd * d);
        check_grad_slices(name, "wo", g->wo, r->wo, (int)nl, d * qd);
        if (c->qk_norm) {
            check_grad_slices(name, "q_norm", g->q_norm, r->q_norm, (int)nl, hd);
            check_grad_slices(name, "k_norm", g->k_norm, r->k_norm, (int)nl, hd);
        }
        check_grad_slices(name, "ffn_norm", g->ffn_norm, r->ffn_norm, (int)nl, d);
        check_grad_slices(name, "w1", g->w1, r->w1, (int)nl, hid * d);
        check_grad_slices(name, "w2", g->w2, r->w2, (int)nl, d * hid);
        check_grad_slices(name, "w3", g->w3, r->w3, (int)nl, hid * d);
        if (c->residual == ATTNRES_RESIDUAL_ATTNRES) {
            check_grad_slices(name, "pseudo_query", g->pseudo_query, r->pseudo_query, L1, d);
            check_grad_slices(name, "key_norm", g->key_norm, r->key_norm, L1, d);
        }
        check_grad_slices(name, "norm", g->norm, r->norm, 1, d);
        if (!c->tie_embeddings) check_grad_slices(name, "output", g->output, r->output, 1, (size_t)V * d);
    }
done:
    free(tokens); free(targets); free(want_loss); free(want_logits); free(want_df_norm); free(step_logits);
    attnres_train_state_free(&ts); attnres_state_free(&s);
    attnres_model_free(&m); attnres_model_free(&ref);
}

/* The training API refuses what it cannot do, with a message, and leaves
   the state usable. */
static void train_refusals(void) {
    attnres_model m, other;
    attnres_train_state ts;
    attnres_error err;
    int tok[4] = {1, 2, 3, 4}, bad[4] = {1, 2, 128, 4}, neg[4] = {1, -1, 3, 4};
    float loss;
    memset(&m, 0, sizeof m); memset(&other, 0, sizeof other); memset(&ts, 0, sizeof ts);
    if (!fixture_model(&m, "block_s2") || !fixture_model(&other, "full")) goto done;
    check(attnres_train_state_bytes(&m.config, 0) == 0 && attnres_train_state_bytes(&m.config, m.config.seq_len + 1) == 0
          && attnres_train_state_bytes(&m.config, m.config.seq_len) > 0,
          "train_state_bytes: 0 for n_tokens 0 and seq_len + 1, > 0 for seq_len");
    check(attnres_train_state_init(&ts, &m, 0, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "n_tokens = 0"),
          "train state of 0 tokens refused: %s", err.message);
    check(attnres_train_state_init(&ts, &m, 33, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "seq_len = 32"),
          "train state of seq_len + 1 tokens refused: %s", err.message);
    if (attnres_train_state_init(&ts, &m, 4, &err) != ATTNRES_OK) { check(0, "train state: %s", err.message); goto done; }
    check(attnres_train_backward(&m, &ts, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "no forward"),
          "backward before any forward refused: %s", err.message);
    check(attnres_train_forward(&m, &ts, tok, tok, 5, &loss, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "T = 5"),
          "a forward of 5 tokens in a state of 4 refused: %s", err.message);
    check(attnres_train_forward(&m, &ts, neg, tok, 4, &loss, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "token 1 is -1"),
          "a token of -1 refused: %s", err.message);
    check(attnres_train_forward(&m, &ts, tok, bad, 4, &loss, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "target 2 is 128"),
          "a target past the vocabulary refused: %s", err.message);
    check(attnres_train_forward(&other, &ts, tok, tok, 4, &loss, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "another model"),
          "a forward of another model than the state's refused: %s", err.message);
    check(attnres_train_forward(&m, &ts, tok, NULL, 4, &loss, &err) == ATTNRES_OK
          && attnres_train_backward(&m, &ts, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "no targets"),
          "a forward without targets gives logits; its backward is refused: %s", err.message);
    check(attnres_train_forward(&m, &ts, tok, tok, 4, &loss, &err) == ATTNRES_OK
          && attnres_train_backward(&m, &ts, &err) == ATTNRES_OK
          && attnres_train_backward(&m, &ts, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "no forward"),
          "a second backward of one forward refused (the forward is used up): %s", err.message);
    attnres_train_state_free(&ts);
    if (attnres_model_quantize(&m, 32, &err) == ATTNRES_OK)
        check(attnres_train_state_init(&ts, &m, 4, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "quantized"),
              "a quantized model cannot be trained: %s", err.message);
    else check(0, "quantize: %s", err.message);
done:
    attnres_train_state_free(&ts);
    attnres_model_free(&m); attnres_model_free(&other);
}

int main(void) {
    uint64_t rng = 20261207u;
    grad_linear();
    grad_embedding();
    grad_rmsnorm();
    grad_rope();
    grad_attention();
    grad_mlp();
    grad_depth();
    grad_blocks();
    grad_cross_entropy();
    fd_primitives(&rng);
    fd_blocks(&rng, 4, 1, "Full (L=4, S=1)");
    fd_blocks(&rng, 6, 4, "uneven (L=6, S=4)");
    {
        static const char *models[] = {"standard", "full", "block_s2", "block_s4", "block_sl", "gqa", "tied",
                                       "standard_gqa_tied", "head_dim", "qk_norm", "qk_norm_block", "rope_llama3"};
        size_t i;
        for (i = 0; i < sizeof models / sizeof models[0]; i++) grad_model(models[i]);
    }
    train_refusals();
    return check_summary("test_grad");
}
