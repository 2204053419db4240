/* Lesson 05 - RoPE, attention and the KV-cache.

   Token attention mixes information ACROSS POSITIONS (AttnRes mixes across
   depth). Three pieces:
   - RoPE rotates every pair (x[2i], x[2i+1]) of a query or key head by the
     angle pos * theta^(-2i/head_dim). Rotations keep lengths, and the dot
     product of a rotated q and k depends only on how far apart they are.
   - Attention: the query of the newest token scores every cached key
     (q . k / sqrt(head_dim)), softmaxes over positions 0..pos, and mixes
     the cached values.
   - The KV-cache keeps k and v of every earlier token, so generating one
     more token costs one new k and v per layer instead of redoing the
     whole prompt. It grows by one entry per token.
   The proof that the cache is right: feeding a prompt one token at a time
   gives the same logits as the PyTorch reference running the whole prompt
   at once with a causal mask (golden/block_s2.*.safetensors).

   Run from the repository root:
     make lessons && ./build/default/lessons/05_rope_attention_kvcache */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define HEAD_DIM 8
#define MODEL_PATH  "golden/block_s2.model.safetensors"
#define EXPECT_PATH "golden/block_s2.expect.safetensors"
#define TOL 1e-4   /* |C - PyTorch|: float32 here, float64 there */
#define TOL_TEXT "1e-4"

static void print_vec(const char *label, const float *x, int n) {
    int i;
    printf("%s [", label);
    for (i = 0; i < n; i++) printf(i ? " %.6f" : "%.6f", (double)x[i]);
    printf("]\n");
}

/* x rotated by RoPE to position pos, into out [HEAD_DIM] */
static void rope_at(float *out, const float *x, int pos) {
    int i;
    for (i = 0; i < HEAD_DIM; i++) out[i] = x[i];
    attnres_rope(out, HEAD_DIM, HEAD_DIM, pos, 10000.0f);
}

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0.0f;
    size_t i;
    for (i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (d != d) return d;   /* NaN: never < TOL, so never "yes" */
        if (d > m) m = d;
    }
    return m;
}

/* ------------------------------------------------------------------------ */

static void part1_rope(void) {
    const float ones[HEAD_DIM] = {1, 0, 1, 0, 1, 0, 1, 0};      /* [HEAD_DIM] each pair = (1, 0) */
    const float q[HEAD_DIM] = {0.5f, -1.0f, 0.25f, 2.0f, 1.0f, 0.0f, -0.5f, 0.75f};
    const float k[HEAD_DIM] = {1.0f, 0.5f, -0.5f, 1.0f, 0.0f, 2.0f, 1.0f, -1.0f};
    const int pairs[4][2] = {{2, 0}, {5, 3}, {12, 10}, {5, 4}};
    float r[HEAD_DIM], rq[HEAD_DIM], rk[HEAD_DIM];
    int i;

    printf("1. RoPE, head_dim %d, theta 10000. Pair i turns at frequency theta^(-2i/head_dim):\n", HEAD_DIM);
    for (i = 0; i < HEAD_DIM / 2; i++)
        printf("   pair %d: %.6f radians per position\n", i, pow(10000.0, -(double)(2 * i) / HEAD_DIM));
    rope_at(r, ones, 1);
    printf("   Every pair (1, 0) at position 1 becomes (cos a, sin a) for its angle a:\n");
    print_vec("  ", r, HEAD_DIM);
    rope_at(rq, q, 7);
    printf("   Rotation keeps length: |q| = %.6f, |RoPE(q, pos 7)| = %.6f\n",
           sqrt((double)attnres_dot(q, q, HEAD_DIM)), sqrt((double)attnres_dot(rq, rq, HEAD_DIM)));
    printf("   q . k after rotating q to position m and k to position n depends on m - n only:\n");
    for (i = 0; i < 4; i++) {
        rope_at(rq, q, pairs[i][0]);
        rope_at(rk, k, pairs[i][1]);
        printf("   m = %2d, n = %2d (m - n = %d): %.6f\n", pairs[i][0], pairs[i][1],
               pairs[i][0] - pairs[i][1], (double)attnres_dot(rq, rk, HEAD_DIM));
    }
}

/* ------------------------------------------------------------------------ */

static int part2_kvcache(void) {
    attnres_model model;
    attnres_state state;
    attnres_st_file expect;
    attnres_error err;
    const attnres_st_tensor *t_tokens, *t_logits, *t_k, *t_v;
    int32_t *tokens = NULL;   /* [T] */
    float *ref = NULL;        /* [T, vocab] reference logits */
    float *ref_k = NULL, *ref_v = NULL;   /* [n_layers, T, kv_dim] */
    int T, V, pos, l, rc = 1, all_ok = 1;
    size_t kv_dim;

    if (attnres_model_load(&model, MODEL_PATH, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root)\n", err.message);
        return 1;
    }
    if (attnres_st_open(&expect, EXPECT_PATH, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root)\n", err.message);
        attnres_model_free(&model);
        return 1;
    }
    if (attnres_state_init(&state, &model.config, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        attnres_st_close(&expect);
        attnres_model_free(&model);
        return 1;
    }
    V = model.config.vocab_size;
    kv_dim = (size_t)attnres_kv_dim(&model.config);
    t_tokens = attnres_st_find(&expect, "tokens");
    t_logits = attnres_st_find(&expect, "logits");
    t_k = attnres_st_find(&expect, "k_cache");
    t_v = attnres_st_find(&expect, "v_cache");
    if (!t_tokens || !t_logits || !t_k || !t_v || t_tokens->ndim != 1 ||
        t_tokens->numel > (uint64_t)model.config.seq_len ||
        t_logits->numel != t_tokens->numel * (uint64_t)V ||
        t_k->numel != (uint64_t)model.config.n_layers * t_tokens->numel * kv_dim || t_v->numel != t_k->numel) {
        fprintf(stderr, "error: %s does not hold tokens [T], logits [T, %d], k_cache and v_cache "
                        "[n_layers, T, kv_dim] for this model\n", EXPECT_PATH, V);
        goto done;
    }
    T = (int)t_tokens->numel;
    tokens = (int32_t *)malloc((size_t)T * sizeof *tokens);
    ref = (float *)malloc((size_t)T * (size_t)V * sizeof *ref);
    ref_k = (float *)malloc((size_t)t_k->numel * sizeof *ref_k);
    ref_v = (float *)malloc((size_t)t_v->numel * sizeof *ref_v);
    if (!tokens || !ref || !ref_k || !ref_v) { fprintf(stderr, "error: out of memory\n"); goto done; }
    if (attnres_st_read_i32(tokens, (size_t)T, t_tokens, &err) != ATTNRES_OK ||
        attnres_st_read_f32(ref, (size_t)T * (size_t)V, t_logits, &err) != ATTNRES_OK ||
        attnres_st_read_f32(ref_k, (size_t)t_k->numel, t_k, &err) != ATTNRES_OK ||
        attnres_st_read_f32(ref_v, (size_t)t_v->numel, t_v, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        goto done;
    }

    printf("\n2. The KV-cache. %s: %d layers, %d heads of head_dim %d, Block AttnRes S = %d.\n",
           MODEL_PATH, model.config.n_layers, model.config.n_heads, attnres_head_dim(&model.config),
           model.config.block_size);
    printf("   PyTorch ran the %d-token prompt at once (float64, causal mask); here it goes in one token\n"
           "   at a time (float32), each step adding one k and one v per layer to the cache.\n", T);
    printf("   pos  token  cache_len  argmax (PyTorch)  max |diff| of the %d logits < %s\n", V, TOL_TEXT);
    for (pos = 0; pos < T; pos++) {
        const float *logits = attnres_forward(&model, &state, tokens[pos], pos, &err);
        const float *want = ref + (size_t)pos * V;
        int ok;
        if (!logits) { fprintf(stderr, "error: %s\n", err.message); goto done; }
        ok = max_abs_diff(logits, want, (size_t)V) < TOL;
        all_ok &= ok;
        printf("   %3d  %5d  %9d  %6d (%6d)  %s\n", pos, tokens[pos], state.cache_len,
               attnres_argmax(logits, V), attnres_argmax(want, V), ok ? "yes" : "NO");
        if (pos < 3) {
            /* the last layer's head 0 has just attended over positions 0..pos */
            printf("        head 0 of layer %d attended over %d position%s:", model.config.n_layers - 1,
                   pos + 1, pos ? "s" : "");
            for (l = 0; l <= pos; l++) printf(" %.6f", (double)state.att[l]);
            printf("\n");
            if (pos == 2)
                printf("        (a softmax over the cached positions, summing to 1; later tokens are not in\n"
                       "         the cache yet, which is what makes the attention causal)\n");
        }
    }

    /* the cache itself: [n_layers, seq_len, kv_dim] here, [n_layers, T, kv_dim] in the fixture */
    printf("   The cache now holds k (after RoPE) and v of all %d positions of every layer:\n", state.cache_len);
    for (l = 0; l < model.config.n_layers; l++) {
        size_t here = (size_t)l * (size_t)model.config.seq_len * kv_dim, there = (size_t)l * (size_t)T * kv_dim;
        int ok = max_abs_diff(state.key_cache + here, ref_k + there, (size_t)T * kv_dim) < TOL &&
                 max_abs_diff(state.value_cache + here, ref_v + there, (size_t)T * kv_dim) < TOL;
        all_ok &= ok;
        printf("   layer %d: k and v equal PyTorch's (max |diff| < %s): %s\n", l, TOL_TEXT, ok ? "yes" : "NO");
    }
    printf("%s\n", all_ok ? "Token by token with a cache = the whole prompt at once."
                          : "MISMATCH: the C engine disagrees with the PyTorch reference.");
    rc = all_ok ? 0 : 1;
done:
    free(tokens); free(ref); free(ref_k); free(ref_v);
    attnres_state_free(&state);
    attnres_st_close(&expect);
    attnres_model_free(&model);
    return rc;
}

int main(void) {
    printf("Lesson 05: RoPE, attention and the KV-cache.\n\n");
    part1_rope();
    return part2_kvcache();
}
