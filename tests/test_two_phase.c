/* test_two_phase.c - the paper's two-phase computation (Algorithm 1) against
   the direct softmax over depth, and its phase-1 statistics against the
   PyTorch reference (tools/reference.py: forward_two_phase).
   - two-phase logits, h_l and alpha equal direct ones (<= 1e-5 max abs) for
     S = 1, S dividing L, S not dividing L, S = L, GQA and tied models, at
     every position of a long decode;
   - the phase-1 statistics (o, max, sum) of every block match the fixture;
   - the folded pseudo-queries are rebuilt by load and by
     weights changed by hand are used at once (no derived copy to go stale);
   - a whole prompt (attnres_prefill) gives the same logits on both paths,
     and a prompt that does not fit is refused before anything runs;
   - the memory-traffic counters follow their stated rules. */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"

#define SAME_TOL 1e-5   /* two-phase vs direct, both fp32, max abs */
#define REF_ATOL 1e-4   /* against PyTorch (float64 rounded to float32) */
#define REF_RTOL 1e-4

static const char *CASES[] = {"full", "block_s2", "block_s4", "block_sl", "gqa", "tied", "qk_norm_block", "rope_llama3", NULL};


static double max_abs_diff(const float *a, const float *b, size_t n) {
    double worst = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d;   /* NaN sticks */
    }
    return worst;
}


/* Decodes n_steps tokens on both paths side by side; returns the largest
   difference in logits, h_l (all sublayer inputs) and alpha. */
static double compare_paths(const attnres_model *m, int n_steps, const int32_t *tokens, int n_tokens) {
    attnres_state direct, two;
    attnres_error err;
    const attnres_config *c = &m->config;
    size_t L = (size_t)attnres_n_sublayers(c), rows = (size_t)attnres_n_blocks(c) + 1, d = (size_t)c->dim;
    double worst = 0.0, diff;
    int t;
    if (attnres_state_init(&direct, c, &err) != ATTNRES_OK || attnres_state_init(&two, c, &err) != ATTNRES_OK) {
        check(0, "state: %s", err.message);
        return 1e30;
    }
    two.path = ATTNRES_PATH_TWO_PHASE;
    for (t = 0; t < n_steps; t++) {
        int tok = t < n_tokens ? tokens[t] : fixture_token_at(t, c->vocab_size);
        float *a = attnres_forward(m, &direct, tok, t, &err), *b = attnres_forward(m, &two, tok, t, &err);
        if (!a || !b) { check(0, "forward at %d: %s", t, err.message); worst = 1e30; break; }
        diff = max_abs_diff(a, b, (size_t)c->vocab_size);
        if (!(diff <= worst)) worst = diff;
        diff = max_abs_diff(direct.sublayer_input, two.sublayer_input, L * d);
        if (!(diff <= worst)) worst = diff;
        diff = max_abs_diff(direct.alpha, two.alpha, (L + 1) * rows);
        if (!(diff <= worst)) worst = diff;
        if (memcmp(direct.alpha_count, two.alpha_count, (L + 1) * sizeof(int)) != 0) worst = 1e30;
    }
    attnres_state_free(&direct);
    attnres_state_free(&two);
    return worst;
}

static void test_same_as_direct(const char *name) {
    attnres_model m;
    if (!fixture_model(&m, name)) return;
    {
        double worst = compare_paths(&m, m.config.seq_len, NULL, 0);
        check(worst <= SAME_TOL, "%-9s S=%d L=%d: two-phase = direct over %d positions (logits, h_l, alpha; max |diff| %.2g)",
              name, m.config.block_size, attnres_n_sublayers(&m.config), m.config.seq_len, worst);
    }
    attnres_model_free(&m);
}

/* Phase-1 statistics of every block, at every position of the fixture's
   prompt, against forward_two_phase of the PyTorch reference. */
static void test_phase1_fixture(const char *name) {
    attnres_model m;
    attnres_state s;
    attnres__st_file e;
    char path[128];
    const attnres__st_tensor *tok;
    int32_t *tokens = NULL;
    float *want_o = NULL, *want_max = NULL, *want_sum = NULL, *got_o, *got_max, *got_sum;
    size_t T, d, S, rows, per_o, per_s;
    int t, ok = 1;
    if (!fixture_model(&m, name)) return;
    snprintf(path, sizeof path, "%s.expect.safetensors", name);
    if (!fixture_open(&e, path)) { attnres_model_free(&m); return; }
    attnres_state_init(&s, &m.config, NULL);
    s.path = ATTNRES_PATH_TWO_PHASE;
    tok = attnres__st_find(&e, "tokens");
    T = tok ? (size_t)tok->numel : 0;
    d = (size_t)m.config.dim; S = (size_t)m.config.block_size; rows = (size_t)attnres_n_blocks(&m.config) + 1;
    per_o = rows * S * d; per_s = rows * S;
    tokens = T ? fixture_i32(&e, "tokens", T) : NULL;
    want_o = fixture_f32(&e, "phase1_o", T * per_o);
    want_max = fixture_f32(&e, "phase1_max", T * per_s);
    want_sum = fixture_f32(&e, "phase1_sum", T * per_s);
    got_o = calloc(T * per_o + 1, sizeof(float));
    got_max = calloc(T * per_s + 1, sizeof(float));
    got_sum = calloc(T * per_s + 1, sizeof(float));
    /* slots of a short last block past its sublayers are padding: zero them
       in the state so both sides agree on them */
    for (t = 0; tokens && want_o && want_max && want_sum && t < (int)T && ok; t++) {
        memset(s.phase1_o, 0, per_o * sizeof(float));
        memset(s.phase1_max, 0, per_s * sizeof(float));
        memset(s.phase1_sum, 0, per_s * sizeof(float));
        ok = attnres_forward(&m, &s, tokens[t], t, NULL) != NULL;
        memcpy(got_o + t * per_o, s.phase1_o, per_o * sizeof(float));
        memcpy(got_max + t * per_s, s.phase1_max, per_s * sizeof(float));
        memcpy(got_sum + t * per_s, s.phase1_sum, per_s * sizeof(float));
    }
    if (tokens && want_o && want_max && want_sum && ok) {
        char label[96];
        snprintf(label, sizeof label, "%-9s phase 1: o, every block and the output", name);
        check_close(label, got_o, want_o, T * per_o, REF_ATOL, REF_RTOL);
        snprintf(label, sizeof label, "%-9s phase 1: max", name);
        check_close(label, got_max, want_max, T * per_s, REF_ATOL, REF_RTOL);
        snprintf(label, sizeof label, "%-9s phase 1: sum of exponentials", name);
        check_close(label, got_sum, want_sum, T * per_s, REF_ATOL, REF_RTOL);
    } else {
        check(0, "%s: phase-1 fixture incomplete or forward failed", name);
    }
    free(tokens); free(want_o); free(want_max); free(want_sum); free(got_o); free(got_max); free(got_sum);
    attnres_state_free(&s);
    attnres__st_close(&e);
    attnres_model_free(&m);
}

/* A model of its own, seq_len 256, S = 4 not dividing L = 6, with random
   non-zero weights: both paths over 256 decode steps. */
static void test_long_decode(void) {
    attnres_config c = {48, 64, 3, 4, 2, 97, 256, 10000.0f, 1e-5f, 0, ATTNRES_RESIDUAL_ATTNRES, 4, 0, 0,
                        {ATTNRES_ROPE_PLAIN, 0.0f, 0.0f, 0.0f, 0}, 0, {0}};
    attnres_model m;
    attnres_error err;
    uint64_t rng = 12345;
    size_t i;
    double worst;
    if (attnres_model_init(&m, &c, &err) != ATTNRES_OK) { check(0, "init: %s", err.message); return; }
    for (i = 0; i < m.n_floats; i++) m.memory[i] = (attnres_random_f32(&rng) - 0.5f) * 0.4f;
    for (i = 0; i < (size_t)(attnres_n_sublayers(&c) + 1) * (size_t)c.dim; i++) {
        m.weights.key_norm[i] += 1.0f;              /* gains near 1            */
        m.weights.pseudo_query[i] *= 5.0f;          /* selective, not uniform  */
    }
    worst = compare_paths(&m, c.seq_len, NULL, 0);
    check(worst <= SAME_TOL, "random model, S=4 L=6 dim 48: two-phase = direct over 256 decode steps (max |diff| %.2g)", worst);
    attnres_model_free(&m);
}

/* The folded queries are made from the weights every token, so weights
   changed by hand take effect at once: nothing derived can go stale. */
static void test_weights_changed_by_hand(void) {
    attnres_model m;
    size_t n, i;
    double before, after;
    if (!fixture_model(&m, "block_s2")) return;
    n = (size_t)(attnres_n_sublayers(&m.config) + 1) * (size_t)m.config.dim;
    before = compare_paths(&m, 4, NULL, 0);
    for (i = 0; i < n; i++) { m.weights.pseudo_query[i] *= -1.5f; m.weights.key_norm[i] += 0.25f; }
    after = compare_paths(&m, m.config.seq_len, NULL, 0);
    check(before <= SAME_TOL && after <= SAME_TOL,
          "pseudo-queries and key gains changed by hand: two-phase = direct at once (max |diff| %.2g, before %.2g)",
          after, before);
    attnres_model_free(&m);
}

/* A whole prompt through attnres_prefill on both paths. */
static void test_prefill(void) {
    attnres_model m;
    attnres_state direct, two;
    attnres_error err;
    int prompt[24], t, too_long[40], bad[3] = {1, 2, 100000};
    float *a, *b;
    if (!fixture_model(&m, "block_s4")) return;
    for (t = 0; t < 24; t++) prompt[t] = fixture_token_at(t, m.config.vocab_size);
    for (t = 0; t < 40; t++) too_long[t] = 1;
    attnres_state_init(&direct, &m.config, NULL);
    attnres_state_init(&two, &m.config, NULL);
    two.path = ATTNRES_PATH_TWO_PHASE;
    a = attnres_prefill(&m, &direct, prompt, 24, &err);
    b = attnres_prefill(&m, &two, prompt, 24, &err);
    check(a && b && max_abs_diff(a, b, (size_t)m.config.vocab_size) <= SAME_TOL && direct.cache_len == 24 && two.cache_len == 24,
          "prefill of 24 tokens: same last logits on both paths (max |diff| %.2g), cache holds 24",
          a && b ? max_abs_diff(a, b, (size_t)m.config.vocab_size) : -1.0);
    /* 24 + 9 > seq_len 32: refused, and the cache is untouched */
    check(attnres_prefill(&m, &two, too_long, 9, &err) == NULL && err.code == ATTNRES_ERR_RANGE &&
          strstr(err.message, "does not fit") && two.cache_len == 24,
          "prefill past the context -> \"%s\", cache still 24", err.message);
    check(attnres_prefill(&m, &two, too_long, 40, &err) == NULL && err.code == ATTNRES_ERR_RANGE,
          "prompt of 40 tokens, seq_len 32 -> \"%s\"", err.message);
    check(attnres_prefill(&m, &two, bad, 3, &err) == NULL && err.code == ATTNRES_ERR_RANGE &&
          strstr(err.message, "token 2") && two.cache_len == 24,
          "prompt with an out-of-range token -> \"%s\", nothing ran", err.message);
    check(attnres_prefill(&m, &two, bad, 0, &err) == NULL && err.code == ATTNRES_ERR_RANGE,
          "empty prompt -> \"%s\"", err.message);
    two.path = 7;
    check(attnres_forward(&m, &two, 1, 0, &err) == NULL && err.code == ATTNRES_ERR_CONFIG,
          "unknown path -> \"%s\"", err.message);
    attnres_state_free(&direct);
    attnres_state_free(&two);
    attnres_model_free(&m);
}

/* The traffic rules, summed by hand for one small config (L = 6, S = 4:
   blocks of 4 and 2 sublayers), independently of the counting code:
     standard   per sublayer: read h, f; write h                 = 2r 1w
     direct     sublayer with n sources: 2n r + 1 w (the mix), then the
                partial: 1r 1w when it starts, else 2r 1w
     two-phase  per block with n completed: phase 1 2n r (logits, then the
                weighted sums), count w; phase 2:
                1r 1w (first sublayer) or 3r 1w; the partial as above;
                1/rms of every completed block (b0 too): 1 r */
static void test_traffic_rules(void) {
    attnres_config c = {8, 8, 3, 2, 2, 5, 4, 10000.0f, 1e-5f, 1, ATTNRES_RESIDUAL_ATTNRES, 4, 0, 0,
                        {ATTNRES_ROPE_PLAIN, 0.0f, 0.0f, 0.0f, 0}, 0, {0}};
    attnres_io sub, out;
    attnres_error err;
    /* sources per sublayer: block 1 (n=1): 1,2,2,2; block 2 (n=2): 2,3 */
    long direct_r = 2 * (1 + 2 + 2 + 2 + 2 + 3) + (1 + 2 + 2 + 2) + (1 + 2);
    long direct_w = 6 + 6;
    long two_r = 2 * (1 + 2) + (1 + 3 + 3 + 3) + (1 + 3) + (1 + 2 + 2 + 2) + (1 + 2) + 3;  /* phase 1, phase 2, partial, 1/rms */
    long two_w = (4 + 2) + 6 + 6;
    int rc = attnres_traffic(&c, ATTNRES_PATH_DIRECT, &sub, &out, &err);
    check(rc == ATTNRES_OK && sub.reads == direct_r && sub.writes == direct_w && out.reads == 2 * 3 && out.writes == 1,
          "direct traffic, L=6 S=4: %ld reads %ld writes (rules say %ld, %ld); output %ld r %ld w (rules: 6, 1)",
          sub.reads, sub.writes, direct_r, direct_w, out.reads, out.writes);
    rc = attnres_traffic(&c, ATTNRES_PATH_TWO_PHASE, &sub, &out, &err);
    check(rc == ATTNRES_OK && sub.reads == two_r && sub.writes == two_w && out.reads == 2 * 3 + 1 && out.writes == 2,
          "two-phase traffic, L=6 S=4: %ld reads %ld writes (rules say %ld, %ld); output %ld r %ld w (rules: 7, 2)",
          sub.reads, sub.writes, two_r, two_w, out.reads, out.writes);
    /* Full AttnRes, L=6 S=1: sublayer l reads its l+1 blocks twice; no partial ever */
    c.block_size = 1;
    rc = attnres_traffic(&c, ATTNRES_PATH_DIRECT, &sub, &out, &err);
    check(rc == ATTNRES_OK && sub.reads == 2 * (1 + 2 + 3 + 4 + 5 + 6) + 6 && sub.writes == 12 && out.reads == 14,
          "direct traffic, Full L=6: %ld reads %ld writes (rules say 48, 12), output %ld reads (rules: 14)",
          sub.reads, sub.writes, out.reads);
    rc = attnres_traffic(&c, 7, &sub, &out, &err);
    check(rc == ATTNRES_ERR_CONFIG && strstr(err.message, "path"), "unknown path -> \"%s\"", err.message);
    c.residual = ATTNRES_RESIDUAL_STANDARD;
    c.block_size = 0;
    rc = attnres_traffic(&c, ATTNRES_PATH_TWO_PHASE, &sub, &out, &err);
    check(rc == ATTNRES_OK && sub.reads == 12 && sub.writes == 6 && out.reads == 0 && out.writes == 0,
          "standard traffic, L=6: %ld reads %ld writes (rules say 12, 6), output %ld", sub.reads, sub.writes, out.reads);
}

int main(void) {
    int i;
    for (i = 0; CASES[i]; i++) test_same_as_direct(CASES[i]);
    for (i = 0; CASES[i]; i++) test_phase1_fixture(CASES[i]);
    test_long_decode();
    test_weights_changed_by_hand();
    test_prefill();
    test_traffic_rules();
    return check_summary("test_two_phase");
}
