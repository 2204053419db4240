/* test_prefill.c - attnres_prefill's batched path (a chunk of prompt
   positions through each sublayer at once, matrix-matrix products) against
   token-by-token decoding (attnres_forward), on every golden model.
   - For every prompt length n = 1 .. seq_len, the logits after prefilling
     tokens[0..n) equal those of the n-th attnres_forward:
     max |prefill - token| <= 1e-5 * max |token logits| (bit for bit in the
     scalar build, where both run the same operations in the same order);
   - the KV-cache rows, the last position's sublayer inputs and depth
     weights (the inspection rows) are those of the token-by-token run;
   - a prompt given in pieces (the cache already holding positions), and a
     prefill after a rewind, continue the same sequence;
   - the prompt crosses chunk boundaries: this file builds with
     ATTNRES_PREFILL_CHUNK 5, so a 32-token prompt is 7 chunks;
   - quantized models (q8_*, and the same with int8 activations) and the
     two-phase path run token by token; the same checks hold for them;
   - a position whose hidden state overflows float is an error naming it. */
#define ATTNRES_PREFILL_CHUNK 5
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"

#define REL_TOL 1e-5   /* prefill vs token by token: max |diff| / max |token logit| */

static const char *MODELS[] = {"standard", "full", "block_s2", "block_s4", "block_sl", "gqa", "tied",
                               "head_dim", "qk_norm", "qk_norm_block", "standard_gqa_tied", "rope_llama3",
                               "huge_block", "huge_standard",
                               "q8_standard", "q8_full", "q8_block_s2", "q8_gqa", "q8_tied",
                               "q8_standard_gqa_tied", "q8_rope_llama3",
                               "import/e2e_llama32", "import/hf_llama_linear",   /* RoPE scaling: llama3, linear */
                               NULL};

/* max |a - b| / max |b| over n values; NaN anywhere gives Inf */
static double rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0.0, scale = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d;   /* NaN sticks */
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    }
    if (worst != worst) return INFINITY;
    return scale > 0.0 ? worst / scale : worst;
}

/* How a prefill result compares with the token run's: in the scalar build
   they must be equal bit for bit; with the kernel file, within REL_TOL. */
static int same(const float *got, const float *want, size_t n, double *worst) {
    double d = rel_diff(got, want, n);
    if (!(d <= *worst)) *worst = d;
#ifdef ATTNRES_KERNELS
    return d <= REL_TOL;
#else
    return memcmp(got, want, n * sizeof(float)) == 0;
#endif
}

/* The whole check on one model and path: every prompt length, the cache,
   the inspection rows, a prompt in two pieces and after a rewind. */
static void check_model(const attnres_model *m, const char *name, int path) {
    const attnres_config *c = &m->config;
    int T = c->seq_len, V = c->vocab_size, d = c->dim, L = attnres_n_sublayers(c), n, t;
    int rows = attnres_n_blocks(c) + 1, kvd = attnres_kv_dim(c);
    size_t cache = (size_t)c->n_layers * (size_t)T * (size_t)kvd;
    static int tokens[4096];   /* T <= 4096 checked below */
    float *want = (float *)malloc((size_t)T * V * sizeof(float));   /* [T, V] token-by-token logits */
    attnres_state ref, s;
    attnres_error err;
    double worst = 0.0;
    int ok_logits = 1, ok_state = 1, ok_pieces = 1, ok_rewind = 1;
    const char *how = m->q8.group_size ? "token by token (quantized)"
                    : (c->residual == ATTNRES_RESIDUAL_ATTNRES && path == ATTNRES_PATH_TWO_PHASE)
                        ? "token by token (two-phase)" : "batched";
    if (!want || T > 4096 || attnres_state_init(&ref, c, &err) != ATTNRES_OK ||
        attnres_state_init(&s, c, &err) != ATTNRES_OK) {
        check(0, "%s: setup", name);
        free(want);
        return;
    }
    ref.path = s.path = path;
    for (t = 0; t < T; t++) tokens[t] = fixture_token_at(t, V);
    for (t = 0; t < T; t++) {
        float *logits = attnres_forward(m, &ref, tokens[t], t, &err);
        if (!logits) { check(0, "%s: forward at %d: %s", name, t, err.message); goto done; }
        memcpy(want + (size_t)t * V, logits, (size_t)V * sizeof(float));
    }
    /* which path ran: the batched one fills the chunk buffers of a fresh
       state, the token path never touches them */
    {
        int touched = 0;
        size_t i;
        ok_logits &= attnres_prefill(m, &s, tokens, T, &err) != NULL;
        for (i = 0; i < (size_t)s.chunk_len * (size_t)d; i++) touched |= s.chunk_xn[i] != 0.0f;
        check(touched == (strcmp(how, "batched") == 0) && s.chunk_len == ATTNRES_PREFILL_CHUNK,
              "%-20s %-27s is the path that ran (chunks of %d)", name, how, s.chunk_len);
    }
    /* every prompt length: the last logits, and the cache rows it wrote */
    for (n = 1; n <= T; n++) {
        float *logits;
        attnres_state_reset(&s);
        logits = attnres_prefill(m, &s, tokens, n, &err);
        if (!logits) { check(0, "%s: prefill of %d: %s", name, n, err.message); goto done; }
        ok_logits &= same(logits, want + (size_t)(n - 1) * V, (size_t)V, &worst);
        ok_logits &= s.cache_len == n;
    }
    /* after the whole prompt: the same KV-cache and inspection rows as after
       the token run (the last position's h_l and alpha) */
    ok_state &= same(s.key_cache, ref.key_cache, cache, &worst);
    ok_state &= same(s.value_cache, ref.value_cache, cache, &worst);
    ok_state &= same(s.sublayer_input, ref.sublayer_input, (size_t)L * d, &worst);
    ok_state &= same(s.x, ref.x, (size_t)d, &worst);
    if (c->residual == ATTNRES_RESIDUAL_ATTNRES) {
        ok_state &= same(s.alpha, ref.alpha, (size_t)(L + 1) * rows, &worst);
        ok_state &= memcmp(s.alpha_count, ref.alpha_count, (size_t)(L + 1) * sizeof(int)) == 0;
    }
    /* in pieces: 3 tokens, then 1, then the rest (each piece starts where the cache ends) */
    attnres_state_reset(&s);
    ok_pieces &= attnres_prefill(m, &s, tokens, 3, &err) != NULL;
    ok_pieces &= attnres_prefill(m, &s, tokens + 3, 1, &err) != NULL;
    if (ok_pieces) {
        float *logits = attnres_prefill(m, &s, tokens + 4, T - 4, &err);
        ok_pieces &= logits != NULL && same(logits, want + (size_t)(T - 1) * V, (size_t)V, &worst);
    }
    /* a rewind: the cache holds T positions, cache_len set back to 7, the rest again */
    s.cache_len = 7;
    {
        float *logits = attnres_prefill(m, &s, tokens + 7, T - 7, &err);
        ok_rewind &= logits != NULL && same(logits, want + (size_t)(T - 1) * V, (size_t)V, &worst) &&
                     s.cache_len == T;
    }
    check(ok_logits, "%-20s %-27s logits after every prompt length 1..%d = token by token (max rel %.2g)",
          name, how, T, worst);
    check(ok_state, "%-20s %-27s KV-cache, h_l, alpha of the last position = token by token", name, how);
    check(ok_pieces, "%-20s %-27s a prompt in pieces 3 + 1 + %d = one prompt", name, how, T - 4);
    check(ok_rewind, "%-20s %-27s after a rewind to 7, the rest again = one prompt", name, how);
done:
    attnres_state_free(&ref);
    attnres_state_free(&s);
    free(want);
}

/* A position whose hidden state is not a number: the batched path must
   name it, as the token path does (its logits there are NaN), rather than
   go on with the prompt. */
static void test_overflow(void) {
    attnres_model m;
    attnres_state s;
    attnres_error err;
    int tokens[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float *logits;
    if (!fixture_model(&m, "standard")) return;
    attnres_state_init(&s, &m.config, NULL);
    m.weights.tok_embeddings[(size_t)5 * m.config.dim] = INFINITY;   /* token 5, at position 4 */
    logits = attnres_prefill(&m, &s, tokens, 8, &err);
    check(logits == NULL && err.code == ATTNRES_ERR_RANGE && strstr(err.message, "pos 4"),
          "a prompt whose position 4 overflows -> %s: \"%s\"", attnres_status_name(err.code), err.message);
    attnres_state_free(&s);
    attnres_model_free(&m);
}

int main(void) {
    int i;
    printf("# prefill in chunks of %d positions\n", ATTNRES_PREFILL_CHUNK);
    for (i = 0; MODELS[i]; i++) {
        attnres_model m;
        if (!fixture_model(&m, MODELS[i])) continue;
        check_model(&m, MODELS[i], ATTNRES_PATH_DIRECT);
        if (m.config.residual == ATTNRES_RESIDUAL_ATTNRES && m.q8.group_size == 0 && strcmp(MODELS[i], "block_s4") == 0)
            check_model(&m, MODELS[i], ATTNRES_PATH_TWO_PHASE);
        if (m.q8.group_size) {   /* the same model with int8 activations (the w8a8_* goldens) */
            char name[64];
            m.q8.int8_activations = 1;
            snprintf(name, sizeof name, "%s+w8a8", MODELS[i]);
            check_model(&m, name, ATTNRES_PATH_DIRECT);
        }
        attnres_model_free(&m);
    }
    test_overflow();
    return check_summary("test_prefill");
}
