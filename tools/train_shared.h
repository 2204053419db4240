/* tools/train_shared.h - what attnres-train (tools/attnres-train.c) and the
   page's trainer (web/attnres_train_web.c) share, so that the same seed
   gives the same model and the same numbers in both, byte for byte: the
   initial weights and the validation loss. Include after attnres.h (with its implementation);
   needs <math.h>, <stdio.h>, <string.h>. Everything here is static.

   tools/train.py's init, with this file's own generator: every tensor of
   the checkpoint (docs/format.md) from a generator seeded by (seed, its
   name): embeddings and linear weights N(0, 0.02^2), the output projection
   of a residual branch (wo, w2) N(0, (0.02 / sqrt(L))^2), norm gains 1,
   pseudo-queries 0 (a uniform depth softmax) or, with random_queries,
   N(0, 1/dim). */
#ifndef ATTNRES_TRAIN_SHARED_H
#define ATTNRES_TRAIN_SHARED_H

/* zlib's crc32 of a name (train.py seeds each tensor with it). */
static uint32_t crc32_of(const char *s) {
    uint32_t c = 0xFFFFFFFFu;
    int k;
    for (; *s; s++) {
        c ^= (unsigned char)*s;
        for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* x[n] = std * N(0, 1), from a generator seeded by (seed, name, offset):
   Box-Muller over attnres_random_f32, whose state is never 0. */
static void fill_normal(float *x, size_t n, float std, uint64_t seed, const char *name, uint32_t offset) {
    uint64_t rng = (seed * 1000003u + crc32_of(name) + offset) ^ 0x9E3779B97F4A7C15ull;
    size_t i;
    if (!rng) rng = 1;
    for (i = 0; i < n; i += 2) {
        double u1 = 1.0 - attnres_random_f32(&rng), u2 = attnres_random_f32(&rng);   /* u1 in (0, 1] */
        double r = sqrt(-2.0 * log(u1)), a = 2.0 * 3.14159265358979323846 * u2;
        x[i] = (float)(std * r * cos(a));
        if (i + 1 < n) x[i + 1] = (float)(std * r * sin(a));
    }
}

static void fill_ones(float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = 1.0f;
}

/* Every tensor of m by its checkpoint name (docs/format.md). */
static void init_weights(attnres_model *m, uint64_t seed, int random_queries) {
    const attnres_config *c = &m->config;
    attnres_weights *w = &m->weights;
    size_t d = (size_t)c->dim, hid = (size_t)c->hidden_dim, qd = (size_t)c->n_heads * (size_t)attnres_head_dim(c);
    size_t kvd = (size_t)attnres_kv_dim(c), V = (size_t)c->vocab_size, i;
    int L = attnres_n_sublayers(c), l;
    float std = 0.02f, std_out = (float)(0.02 / sqrt((double)L));   /* wo, w2: 0.02 / sqrt(L) */
    char name[96];
    fill_normal(w->tok_embeddings, V * d, std, seed, "tok_embeddings.weight", 0);
    for (i = 0; i < (size_t)c->n_layers; i++) {
#define LAYER(fmt) (snprintf(name, sizeof name, fmt, (unsigned long)i), name)
        fill_ones(w->attention_norm + i * d, d);
        fill_ones(w->ffn_norm + i * d, d);
        fill_normal(w->wq + i * qd * d, qd * d, std, seed, LAYER("layers.%lu.attention.wq.weight"), 0);
        fill_normal(w->wk + i * kvd * d, kvd * d, std, seed, LAYER("layers.%lu.attention.wk.weight"), 0);
        fill_normal(w->wv + i * kvd * d, kvd * d, std, seed, LAYER("layers.%lu.attention.wv.weight"), 0);
        fill_normal(w->wo + i * d * qd, d * qd, std_out, seed, LAYER("layers.%lu.attention.wo.weight"), 0);
        fill_normal(w->w1 + i * hid * d, hid * d, std, seed, LAYER("layers.%lu.feed_forward.w1.weight"), 0);
        fill_normal(w->w2 + i * d * hid, d * hid, std_out, seed, LAYER("layers.%lu.feed_forward.w2.weight"), 0);
        fill_normal(w->w3 + i * hid * d, hid * d, std, seed, LAYER("layers.%lu.feed_forward.w3.weight"), 0);
#undef LAYER
    }
    fill_ones(w->norm, d);
    if (!c->tie_embeddings) fill_normal(w->output, V * d, std, seed, "output.weight", 0);
    if (c->residual != ATTNRES_RESIDUAL_ATTNRES) return;
    fill_ones(w->key_norm, (size_t)(L + 1) * d);
    memset(w->pseudo_query, 0, (size_t)(L + 1) * d * sizeof(float));   /* zero: a uniform depth softmax */
    for (l = 0; random_queries && l <= L; l++) {
        if (l == L) snprintf(name, sizeof name, "output_res.pseudo_query");
        else snprintf(name, sizeof name, "layers.%d.%s_res.pseudo_query", l / 2, l % 2 ? "ffn" : "attention");
        fill_normal(w->pseudo_query + (size_t)l * d, d, (float)(1.0 / sqrt((double)d)), seed, name, 1);
    }
}


/* Mean next-byte cross-entropy over text[n]: windows of seq_len inputs at
   0, seq_len, 2 seq_len, .. (the last shorter), each from an empty context.
   0 on success (*loss set), else the library's code with err filled. */
static int validation_loss(const attnres_model *m, attnres_train_state *ts, const unsigned char *text, size_t n,
                           int *tokens, int *targets, double *loss, attnres_error *err) {
    double total = 0.0;
    size_t k, count = 0;
    int T, t, rc;
    for (k = 0; k + 1 < n; k += (size_t)m->config.seq_len) {
        float window_loss;
        T = (int)(n - 1 - k < (size_t)m->config.seq_len ? n - 1 - k : (size_t)m->config.seq_len);
        for (t = 0; t < T; t++) {
            tokens[t] = text[k + (size_t)t];
            targets[t] = text[k + (size_t)t + 1];
        }
        if ((rc = attnres_train_forward(m, ts, tokens, targets, T, &window_loss, err)) != ATTNRES_OK) return rc;
        total += (double)window_loss * T;
        count += (size_t)T;
    }
    *loss = total / (double)count;
    return ATTNRES_OK;
}

#endif
