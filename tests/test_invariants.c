/* test_invariants.c - properties that need no fixture values: depth weights
   sum to 1, a zero pseudo-query gives the plain mean of the sources, the
   block state holds the right sums, the KV-cache holds exactly pos+1
   entries, the same run twice gives identical bits, and the sampler keeps
   its promises (greedy ties -> lowest id, seeded, top-p stays in the nucleus). */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"



static void test_alpha_sums_to_one(const char *name) {
    attnres_model m;
    attnres_state s;
    double worst = 0.0;
    int t, l, j, counts_ok = 1;
    if (!fixture_model(&m, name)) return;
    attnres_state_init(&s, &m.config, NULL);
    for (t = 0; t < m.config.seq_len; t++) {
        int rows = attnres_n_blocks(&m.config) + 1, L = attnres_n_sublayers(&m.config);
        attnres_forward(&m, &s, fixture_token_at(t, m.config.vocab_size), t, NULL);
        for (l = 0; l <= L; l++) {
            double sum = 0.0;
            for (j = 0; j < rows; j++) sum += s.alpha[l * rows + j];
            if (fabs(sum - 1.0) > worst) worst = fabs(sum - 1.0);
            for (j = s.alpha_count[l]; j < rows; j++) counts_ok &= s.alpha[l * rows + j] == 0.0f;
            counts_ok &= s.alpha_count[l] >= 1 && s.alpha_count[l] <= rows;
        }
    }
    check(worst < 1e-6, "%s: every alpha row sums to 1 at all %d positions (worst |sum-1| %.2g)",
          name, m.config.seq_len, worst);
    check(counts_ok, "%s: alpha rows are zero past their source count", name);
    attnres_state_free(&s);
    attnres_model_free(&m);
}

/* w = 0 makes every logit 0, so alpha is uniform and h is the plain mean. */
static void test_zero_query_is_mean(void) {
    float sources[5 * 8], w[8] = {0}, g[8], out[8], alpha[5], mean[8] = {0};
    int i, j, ok = 1;
    for (i = 0; i < 5 * 8; i++) sources[i] = (float)((i * 37 % 19) - 9) * (i % 5 == 0 ? 40.0f : 0.3f);
    for (i = 0; i < 8; i++) g[i] = 0.5f + 0.1f * (float)i;
    for (j = 0; j < 5; j++) for (i = 0; i < 8; i++) mean[i] += sources[j * 8 + i] / 5.0f;
    attnres_depth_attention(out, alpha, sources, 5, w, g, 8, 1e-5f);
    for (j = 0; j < 5; j++) ok &= fabsf(alpha[j] - 0.2f) < 1e-7f;
    check(ok, "zero pseudo-query: alpha = 1/5 for 5 sources of very different size");
    check_close("zero pseudo-query: output = plain mean of the sources", out, mean, 8, 1e-5, 1e-6);
}

/* The same through the whole model: zero every pseudo-query of a Block
   AttnRes model and each alpha row must be uniform over its sources. */
static void test_zero_query_model(void) {
    attnres_model m;
    attnres_state s;
    int t, l, j, ok = 1, L, rows;
    if (!fixture_model(&m, "block_s4")) return;
    L = attnres_n_sublayers(&m.config);
    rows = attnres_n_blocks(&m.config) + 1;
    memset(m.weights.pseudo_query, 0, (size_t)(L + 1) * m.config.dim * sizeof(float));
    attnres_state_init(&s, &m.config, NULL);
    for (t = 0; t < 8; t++) {
        attnres_forward(&m, &s, fixture_token_at(t, m.config.vocab_size), t, NULL);
        for (l = 0; l <= L; l++)
            for (j = 0; j < s.alpha_count[l]; j++)
                ok &= fabsf(s.alpha[l * rows + j] - 1.0f / (float)s.alpha_count[l]) < 1e-6f;
    }
    check(ok, "block_s4 with zero pseudo-queries: every alpha row is uniform over its sources");
    attnres_state_free(&s);
    attnres_model_free(&m);
}

/* Block state by hand: S = 4, L = 6 gives blocks of 4 and 2 sublayers. */
static void test_block_state(void) {
    float blocks[3 * 2], emb[2] = {100.0f, -100.0f};
    attnres_block_state bs;
    int l, ok;
    bs.blocks = blocks; bs.dim = 2; bs.block_size = 4; bs.max_blocks = 3;
    attnres_block_reset(&bs, emb);
    check(attnres_block_n_sources(&bs) == 1, "block state: the first sublayer sees only b0");
    for (l = 1; l <= 6; l++) {
        float f[2];
        f[0] = (float)l; f[1] = (float)(10 * l);
        attnres_block_add(&bs, f);
        if (l == 1) check(attnres_block_n_sources(&bs) == 2, "block state: sublayer 2 sees b0 and the partial");
        if (l == 4) check(bs.n_completed == 2 && bs.n_partial == 0 && attnres_block_n_sources(&bs) == 2,
                          "block state: after 4 outputs (S = 4) block b1 is complete, no partial");
    }
    attnres_block_close(&bs);
    ok = bs.n_completed == 3 && blocks[0] == 100.0f && blocks[1] == -100.0f &&
         blocks[2] == 1 + 2 + 3 + 4 && blocks[3] == 10 + 20 + 30 + 40 && blocks[4] == 5 + 6 && blocks[5] == 50 + 60;
    check(ok, "block state: b0 = embedding, b1 = f1+..+f4, b2 = f5+f6 (short last block)");
}

/* After forward(pos) exactly pos+1 cache slots are written; later slots stay
   untouched; rewinding recomputes the same logits bit for bit. */
static void test_kv_cache(void) {
    attnres_model m;
    attnres_state s;
    float logits3[256];
    int t, ok_len = 1, ok_rest = 1, kvd;
    size_t layer_size;
    if (!fixture_model(&m, "gqa")) return;
    attnres_state_init(&s, &m.config, NULL);
    kvd = attnres_kv_dim(&m.config);
    layer_size = (size_t)m.config.seq_len * kvd;
    for (t = 0; t < 12; t++) {
        size_t l, i;
        attnres_forward(&m, &s, fixture_token_at(t, m.config.vocab_size), t, NULL);
        if (t == 3) memcpy(logits3, s.logits, (size_t)m.config.vocab_size * sizeof(float));
        ok_len &= s.cache_len == t + 1;
        for (l = 0; l < (size_t)m.config.n_layers; l++)
            for (i = (size_t)(t + 1) * kvd; i < layer_size; i++)
                ok_rest &= s.key_cache[l * layer_size + i] == 0.0f && s.value_cache[l * layer_size + i] == 0.0f;
    }
    check(ok_len, "KV-cache: holds exactly pos+1 entries after each of 12 tokens");
    check(ok_rest, "KV-cache: slots past pos are never written");
    attnres_forward(&m, &s, fixture_token_at(3, m.config.vocab_size), 3, NULL);
    check(s.cache_len == 4, "KV-cache: forward at pos 3 after pos 11 rewinds to 4 entries");
    check(memcmp(logits3, s.logits, (size_t)m.config.vocab_size * sizeof(float)) == 0,
          "KV-cache: the rewound pos 3 gives the same logits bit for bit");
    attnres_state_free(&s);
    attnres_model_free(&m);
}

/* Two states, and one state reset, must agree to the last bit. */
static void test_deterministic(const char *name) {
    attnres_model m;
    attnres_state a, b;
    int t, same = 1, pass;
    if (!fixture_model(&m, name)) return;
    attnres_state_init(&a, &m.config, NULL);
    attnres_state_init(&b, &m.config, NULL);
    for (pass = 0; pass < 2; pass++) {
        for (t = 0; t < m.config.seq_len; t++) {
            int tok = fixture_token_at(t, m.config.vocab_size);
            attnres_forward(&m, &a, tok, t, NULL);
            attnres_forward(&m, &b, tok, t, NULL);
            same &= memcmp(a.logits, b.logits, (size_t)m.config.vocab_size * sizeof(float)) == 0;
        }
        attnres_state_reset(&a);   /* second pass: a reused, b rewound from pos 0 */
    }
    check(same, "%s: the same tokens give identical logits bits (two states, and after reset)", name);
    attnres_state_free(&a);
    attnres_state_free(&b);
    attnres_model_free(&m);
}

/* Top-p must not sort the whole vocabulary: with a few likely tokens
   among 32000 and the rest negligible, only the tokens past the cutoff
   (1-p)/(n-1) may reach the sort. */
static void test_topp_filters_first(void) {
    enum { V = 32000 };
    static float logits[V];
    attnres_sampler smp;
    int i, k, ok = 1, worst = 0;
    attnres_sampler_init(&smp, V, 1.0f, 0.9f, 3, NULL);
    for (k = 0; k < 50; k++) {
        for (i = 0; i < V; i++) logits[i] = (float)(i % 97) * 0.01f - 10.0f;   /* a negligible tail */
        logits[123] = 12.0f; logits[4567] = 11.0f; logits[31999] = 10.5f;      /* the likely few */
        i = attnres_sample(&smp, logits);
        ok &= i == 123 || i == 4567 || i == 31999;
        if (smp.n_sorted > worst) worst = smp.n_sorted;
    }
    check(ok && worst >= 3 && worst <= 16,
          "top-p over 32000 tokens: samples stay among the 3 likely ones, and at most %d candidates were sorted", worst);
    attnres_sampler_free(&smp);
}

static void test_sampling(void) {
    float tie[6] = {0.5f, 2.0f, -1.0f, 2.0f, 2.0f, 0.0f};
    float probs_logits[4], counts[4] = {0}, cnt_t[4] = {0};
    attnres_sampler smp, a, b;
    uint64_t rng = 42;
    int i, in_range = 1, same = 1, nucleus = 1, n = 20000;
    check(attnres_argmax(tie, 6) == 1, "argmax: ties go to the lowest id");
    attnres_sampler_init(&smp, 6, 0.0f, 0.9f, 7, NULL);
    check(attnres_sample(&smp, tie) == 1, "greedy sampler (temperature 0) = argmax");
    attnres_sampler_free(&smp);
    for (i = 0; i < 100000; i++) { float r = attnres_random_f32(&rng); in_range &= r >= 0.0f && r < 1.0f; }
    check(in_range, "random_f32 stays in [0, 1)");
    attnres_sampler_init(&a, 4, 1.0f, 0.0f, 1234, NULL);
    attnres_sampler_init(&b, 4, 1.0f, 0.0f, 1234, NULL);
    for (i = 0; i < 1000; i++) {
        float la[4] = {1.0f, 2.0f, 0.5f, -1.0f}, lb[4] = {1.0f, 2.0f, 0.5f, -1.0f};
        same &= attnres_sample(&a, la) == attnres_sample(&b, lb);
    }
    check(same, "sampler: the same seed gives the same 1000 samples");
    attnres_sampler_free(&a); attnres_sampler_free(&b);
    /* probabilities 0.5, 0.3, 0.15, 0.05 (logits = log p, temperature 1);
       top-p 0.7 keeps {0, 1} and renormalises to 0.625 / 0.375 */
    attnres_sampler_init(&smp, 4, 1.0f, 0.7f, 99, NULL);
    for (i = 0; i < n; i++) {
        int k;
        probs_logits[0] = logf(0.5f); probs_logits[1] = logf(0.3f);
        probs_logits[2] = logf(0.15f); probs_logits[3] = logf(0.05f);
        k = attnres_sample(&smp, probs_logits);
        nucleus &= k == 0 || k == 1;
        counts[k] += 1.0f / (float)n;
    }
    check(nucleus, "top-p 0.7: every sample is one of the two tokens of the nucleus");
    check(fabsf(counts[0] - 0.625f) < 0.02f, "top-p 0.7: token 0 drawn %.3f of the time (expect 0.625)", counts[0]);
    attnres_sampler_free(&smp);
    test_topp_filters_first();
    /* temperature 2 flattens: p ~ sqrt(0.5, 0.3, 0.15, 0.05) normalised */
    attnres_sampler_init(&smp, 4, 2.0f, 1.0f, 5, NULL);
    for (i = 0; i < n; i++) {
        probs_logits[0] = logf(0.5f); probs_logits[1] = logf(0.3f);
        probs_logits[2] = logf(0.15f); probs_logits[3] = logf(0.05f);
        cnt_t[attnres_sample(&smp, probs_logits)] += 1.0f / (float)n;
    }
    {
        double z = sqrt(0.5) + sqrt(0.3) + sqrt(0.15) + sqrt(0.05), worst = 0.0;
        double want[4];
        want[0] = sqrt(0.5) / z; want[1] = sqrt(0.3) / z; want[2] = sqrt(0.15) / z; want[3] = sqrt(0.05) / z;
        for (i = 0; i < 4; i++) if (fabs(cnt_t[i] - want[i]) > worst) worst = fabs(cnt_t[i] - want[i]);
        check(worst < 0.02, "temperature 2: sample frequencies within 0.02 of softmax(logits/2) (worst %.3f)", worst);
    }
    attnres_sampler_free(&smp);
}

/* Temperatures and logits at the edges of float: logits / T must never
   overflow into Inf (then NaN) and hand back the first or last token. As
   T -> 0+ sampling is the argmax; a huge T is close to uniform. */
static void test_sampling_extremes(void) {
    static const float temps[] = {1e-38f, 1.4e-45f /* smallest subnormal */, 1e-20f, 1e-6f};
    attnres_sampler smp;
    int k, i, argmax_ok = 1, big_ok = 1, n_uniform[3] = {0, 0, 0};
    for (k = 0; k < 4; k++) {
        for (i = 0; i < 200; i++) {
            float l[5] = {1.0f, 3.0f, 2.0f, -5.0f, 2.999f}, l2[5] = {1.0f, 3.0f, 2.0f, -5.0f, 2.999f};
            attnres_sampler_init(&smp, 5, temps[k], 1.0f, (uint64_t)(i + 1), NULL);
            argmax_ok &= attnres_sample(&smp, l) == 1;
            attnres_sampler_free(&smp);
            attnres_sampler_init(&smp, 5, temps[k], 0.9f, (uint64_t)(i + 1), NULL);   /* with top-p too */
            argmax_ok &= attnres_sample(&smp, l2) == 1;
            attnres_sampler_free(&smp);
        }
    }
    check(argmax_ok, "temperatures 1e-38, 1.4e-45, 1e-20, 1e-6 (with and without top-p): always the argmax");
    for (i = 0; i < 200; i++) {
        float l[3] = {-3e38f, 3e38f, 0.0f}, l2[3] = {3.4e38f, -3.4e38f, 3.3e38f};
        attnres_sampler_init(&smp, 3, 0.5f, 1.0f, (uint64_t)(i + 1), NULL);
        big_ok &= attnres_sample(&smp, l) == 1 && attnres_sample(&smp, l2) == 0;
        attnres_sampler_free(&smp);
    }
    check(big_ok, "logits of +-3e38 at temperature 0.5: the top token, every time");
    attnres_sampler_init(&smp, 3, 1e30f, 1.0f, 77, NULL);
    for (i = 0; i < 3000; i++) {
        float l[3] = {1.0f, 50.0f, -20.0f};
        n_uniform[attnres_sample(&smp, l)]++;
    }
    attnres_sampler_free(&smp);
    check(n_uniform[0] > 900 && n_uniform[1] > 900 && n_uniform[2] > 900,
          "temperature 1e30: close to uniform (%d / %d / %d of 3000)", n_uniform[0], n_uniform[1], n_uniform[2]);
}

int main(void) {
    test_alpha_sums_to_one("full");
    test_alpha_sums_to_one("block_s4");
    test_alpha_sums_to_one("tied");
    test_zero_query_is_mean();
    test_zero_query_model();
    test_block_state();
    test_kv_cache();
    test_deterministic("standard");
    test_deterministic("block_s2");
    test_sampling();
    test_sampling_extremes();
    return check_summary("test_invariants");
}
