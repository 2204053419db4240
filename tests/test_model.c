/* test_model.c - the whole decoder against the PyTorch reference.
   For every golden case the prompt is fed ONE TOKEN AT A TIME through the
   KV-cache, while the reference (tools/reference.py) ran the whole prompt
   at once with a causal mask, so the cache is checked too. Compared at
   every position: the input h_l of every sublayer, the depth weights alpha
   of every sublayer and of the output, the block states b0..b_N, the
   vector fed to the final norm, the logits; then the KV-cache contents.
   Last, the logits of the experiment's two shipped L = 32 models.
   Tolerance: |c - ref| <= 1e-4 + 1e-4*|ref|. */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"

#define ATOL 1e-4
#define RTOL 1e-4

static const char *CASES[] = {
    "standard", "full", "block_s2", "block_s4", "block_sl", "gqa", "tied", "standard_gqa_tied",
    "huge_standard", "huge_block",   /* embeddings of 1e20 and 1e38: squares overflow float */
    "head_dim", "qk_norm", "qk_norm_block",   /* format 2: head_dim != dim / n_heads, QK-norm */
    "rope_llama3",                            /* format 3: Llama 3.x's RoPE scaling, past its context */
    NULL};

/* What the C engine produced, position by position, in the fixture's layout. */
typedef struct {
    float *h;          /* [T, L, dim]          */
    float *alpha;      /* [T, L+1, N+1]        */
    float *blocks;     /* [T, N+1, dim]        */
    float *out_h;      /* [T, dim]             */
    float *logits;     /* [T, vocab]           */
    float *k, *v;      /* [n_layers, T, kv_dim] */
} run_record;

static void record_position(run_record *r, const attnres_state *s, const attnres_config *c, int t) {
    size_t d = (size_t)c->dim, L = (size_t)attnres_n_sublayers(c), rows = (size_t)attnres_n_blocks(c) + 1;
    memcpy(r->h + t * L * d, s->sublayer_input, L * d * sizeof(float));
    memcpy(r->out_h + t * d, s->x, d * sizeof(float));
    memcpy(r->logits + (size_t)t * c->vocab_size, s->logits, (size_t)c->vocab_size * sizeof(float));
    if (c->residual == ATTNRES_RESIDUAL_ATTNRES) {
        memcpy(r->alpha + t * (L + 1) * rows, s->alpha, (L + 1) * rows * sizeof(float));
        memcpy(r->blocks + t * rows * d, s->bs.blocks, rows * d * sizeof(float));
    }
}

/* The cache is [n_layers, seq_len, kv_dim]; the fixture keeps only T positions. */
static void record_cache(run_record *r, const attnres_state *s, const attnres_config *c, int T) {
    size_t kvd = (size_t)attnres_kv_dim(c), l;
    for (l = 0; l < (size_t)c->n_layers; l++) {
        memcpy(r->k + l * T * kvd, s->key_cache + l * c->seq_len * kvd, T * kvd * sizeof(float));
        memcpy(r->v + l * T * kvd, s->value_cache + l * c->seq_len * kvd, T * kvd * sizeof(float));
    }
}

static void compare(const char *name, const char *what, const attnres__st_file *e, const char *tensor,
                    const float *got, size_t n) {
    float *want = fixture_f32(e, tensor, n);
    char label[128];
    snprintf(label, sizeof label, "%-18s %s", name, what);
    if (want) check_close(label, got, want, n, ATOL, RTOL);
    free(want);
}

static void test_case(const char *name) {
    char path[256];
    attnres_model m;
    attnres_state s;
    attnres_error err;
    attnres__st_file e;
    const attnres__st_tensor *tok;
    int32_t *tokens = NULL;
    run_record r;
    size_t d, L, rows, kvd, T;
    int t, ok = 1;

    snprintf(path, sizeof path, "%s/%s.model.safetensors", GOLDEN_DIR, name);
    if (attnres_model_load(&m, path, &err) != ATTNRES_OK) { check(0, "%s: load: %s", name, err.message); return; }
    snprintf(path, sizeof path, "%s.expect.safetensors", name);
    if (!fixture_open(&e, path)) { attnres_model_free(&m); return; }
    if (attnres_state_init(&s, &m.config, &err) != ATTNRES_OK) {
        check(0, "%s: state: %s", name, err.message);
        attnres__st_close(&e); attnres_model_free(&m);
        return;
    }
    tok = attnres__st_find(&e, "tokens");
    T = tok ? (size_t)tok->numel : 0;
    check(T >= 16 && (int)T <= m.config.seq_len, "%-18s prompt of %zu tokens (16+ required, <= seq_len)", name, T);
    tokens = T ? fixture_i32(&e, "tokens", T) : NULL;

    d = (size_t)m.config.dim; L = (size_t)attnres_n_sublayers(&m.config);
    rows = (size_t)attnres_n_blocks(&m.config) + 1; kvd = (size_t)attnres_kv_dim(&m.config);
    r.h = calloc(T * L * d + 1, sizeof(float));
    r.alpha = calloc(T * (L + 1) * rows + 1, sizeof(float));
    r.blocks = calloc(T * rows * d + 1, sizeof(float));
    r.out_h = calloc(T * d + 1, sizeof(float));
    r.logits = calloc(T * (size_t)m.config.vocab_size + 1, sizeof(float));
    r.k = calloc((size_t)m.config.n_layers * T * kvd + 1, sizeof(float));
    r.v = calloc((size_t)m.config.n_layers * T * kvd + 1, sizeof(float));

    for (t = 0; tokens && t < (int)T && ok; t++) {
        if (!attnres_forward(&m, &s, tokens[t], t, &err)) {
            check(0, "%s: forward at pos %d: %s", name, t, err.message);
            ok = 0;
        } else {
            record_position(&r, &s, &m.config, t);
        }
    }
    if (tokens && ok) {
        record_cache(&r, &s, &m.config, (int)T);
        compare(name, "h_l, every sublayer input", &e, "h", r.h, T * L * d);
        compare(name, "vector into the final norm", &e, "out_h", r.out_h, T * d);
        compare(name, "logits, every position", &e, "logits", r.logits, T * (size_t)m.config.vocab_size);
        compare(name, "KV-cache keys (after RoPE)", &e, "k_cache", r.k, (size_t)m.config.n_layers * T * kvd);
        compare(name, "KV-cache values", &e, "v_cache", r.v, (size_t)m.config.n_layers * T * kvd);
        if (m.config.residual == ATTNRES_RESIDUAL_ATTNRES) {
            int32_t *count = fixture_i32(&e, "alpha_count", L + 1);
            size_t l, same = count != NULL;
            for (l = 0; count && l <= L; l++) same &= count[l] == s.alpha_count[l];
            check(same != 0, "%-18s number of sources of every sublayer and the output", name);
            free(count);
            compare(name, "alpha, every sublayer + output", &e, "alpha", r.alpha, T * (L + 1) * rows);
            compare(name, "block states b0..b_N", &e, "blocks", r.blocks, T * rows * d);
        }
    }
    free(r.h); free(r.alpha); free(r.blocks); free(r.out_h); free(r.logits); free(r.k); free(r.v);
    free(tokens);
    attnres_state_free(&s);
    attnres__st_close(&e);
    attnres_model_free(&m);
}

/* The experiment's two shipped L = 32 models (models/experiments/, run by
   lesson 12): their logits on the first bytes of the validation text,
   token by token, against PyTorch's whole-prompt float64 logits stored by
   `tools/experiment.py expect` (tokens [T], logits [T, vocab]). */
static void test_shipped(const char *name) {
    char path[256];
    attnres_model m;
    attnres_state s;
    attnres_error err;
    attnres__st_file e;
    const attnres__st_tensor *tok;
    int32_t *tokens = NULL;
    float *got = NULL;
    size_t T = 0, V;
    int t, ok = 1;

    snprintf(path, sizeof path, "models/experiments/%s.safetensors", name);
    if (attnres_model_load(&m, path, &err) != ATTNRES_OK) { check(0, "%s: load: %s", name, err.message); return; }
    snprintf(path, sizeof path, "models/experiments/%s.expect.safetensors", name);
    if (attnres__st_open(&e, path, &err) != ATTNRES_OK) {
        check(0, "%s: open %s: %s", name, path, err.message);
        attnres_model_free(&m);
        return;
    }
    V = (size_t)m.config.vocab_size;
    tok = attnres__st_find(&e, "tokens");
    if (tok) T = (size_t)tok->numel;
    check(T >= 16 && (int)T <= m.config.seq_len, "%-18s prompt of %zu tokens (16+ required, <= seq_len)", name, T);
    if (T >= 16 && (int)T <= m.config.seq_len && attnres_state_init(&s, &m.config, &err) == ATTNRES_OK) {
        tokens = fixture_i32(&e, "tokens", T);
        got = calloc(T * V, sizeof(float));
        for (t = 0; tokens && got && t < (int)T && ok; t++) {
            const float *logits = attnres_forward(&m, &s, tokens[t], t, &err);
            if (!logits) { check(0, "%s: forward at pos %d: %s", name, t, err.message); ok = 0; }
            else memcpy(got + (size_t)t * V, logits, V * sizeof(float));
        }
        if (tokens && got && ok) compare(name, "logits, every position (shipped model)", &e, "logits", got, T * V);
        attnres_state_free(&s);
    }
    free(tokens); free(got);
    attnres__st_close(&e);
    attnres_model_free(&m);
}

int main(void) {
    int i;
    for (i = 0; CASES[i]; i++) test_case(CASES[i]);
    test_shipped("standard_L32");
    test_shipped("block_L32");
    return check_summary("test_model");
}
