/* Lesson 06 - the whole forward pass, against PyTorch.

   attnres_forward(model, state, token, pos) runs one token through the
   model. Step by step:
     standard residuals
       1. h = the token's embedding
       2. for each sublayer l: h_l = h; f_l = Attn or MLP of RMSNorm(h_l);
          h = h + f_l
     AttnRes (Block AttnRes, block size S; S = 1 is Full AttnRes)
       1. b0 = the token's embedding (attnres_block_reset)
       2. for each sublayer l: h_l = sum_j alpha_j v_j over its sources,
          alpha = softmax_j(w_l . RMSNorm(v_j)) (attnres_depth_attention);
          f_l = Attn or MLP of RMSNorm(h_l); the partial block += f_l
          (attnres_block_add, which closes a block after S outputs)
       3. h = one more depth attention, with the output's own pseudo-query,
          over the completed blocks [b0 .. b_N]
     both
       4. logits = W_out RMSNorm(h)
   After the call the state keeps what the step saw: sublayer_input holds
   every h_l, alpha every row of depth weights (alpha_count sources each),
   bs.blocks the blocks. This lesson feeds each golden model its 20-token
   prompt and prints, for the last token, the size of every h_l and every
   alpha row next to the PyTorch reference (golden/NAME.expect.safetensors).

   Run from the repository root:
     make lessons && ./build/default/lessons/06_forward */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define TOL 1e-4   /* |C - PyTorch| on every compared value (float32 vs float64) */

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

/* |x|, summed in double so the printed digits are the vector's, not the sum's */
static double norm(const float *x, int n) {
    double sum = 0.0;
    int i;
    for (i = 0; i < n; i++) sum += (double)x[i] * (double)x[i];
    return sqrt(sum);
}

/* A malloc'd copy of float tensor `name` of the expect file, which must
   hold numel values; NULL (after printing why) otherwise. */
static float *read_f32(const attnres_st_file *f, const char *name, size_t numel) {
    const attnres_st_tensor *t = attnres_st_find(f, name);
    attnres_error err;
    float *out;
    if (!t || t->numel != numel) {
        fprintf(stderr, "error: expect file: tensor %s is %s\n", name, t ? "the wrong size" : "missing");
        return NULL;
    }
    out = (float *)malloc(numel * sizeof *out);
    if (!out) { fprintf(stderr, "error: out of memory\n"); return NULL; }
    if (attnres_st_read_f32(out, numel, t, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        free(out);
        return NULL;
    }
    return out;
}

/* Runs golden model `name` over its prompt and narrates the last token.
   Returns 0 when everything agrees with PyTorch, 1 when something does
   not, 2 when the model cannot be run at all (a missing file, say). */
static int run_model(const char *name) {
    char path[256];
    attnres_model m;
    attnres_state s;
    attnres_st_file e;
    attnres_error err;
    const attnres_config *c;
    const attnres_st_tensor *t_tokens;
    int32_t *tokens = NULL;          /* [T] */
    float *ref_h = NULL;             /* [T, L, dim]   every h_l       */
    float *ref_alpha = NULL;         /* [T, L+1, N+1] every alpha row */
    float *ref_out = NULL;           /* [T, dim]      h into the final norm */
    float *ref_logits = NULL;        /* [T, vocab]    */
    float *logits = NULL, *xb = NULL, *h_out = NULL, *alpha = NULL;   /* scratch for step 3 and 4 */
    int T, L, N, d, V, pos, l, j, ok = 1, rc = 2, attnres;
    float worst_h = 0.0f, worst_alpha = 0.0f, worst_logits = 0.0f, diff;

    snprintf(path, sizeof path, "golden/%s.model.safetensors", name);
    if (attnres_model_load(&m, path, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root)\n", err.message);
        return 2;
    }
    snprintf(path, sizeof path, "golden/%s.expect.safetensors", name);
    if (attnres_st_open(&e, path, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root)\n", err.message);
        attnres_model_free(&m);
        return 2;
    }
    if (attnres_state_init(&s, &m.config, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        attnres_st_close(&e);
        attnres_model_free(&m);
        return 2;
    }
    c = &m.config;
    L = attnres_n_sublayers(c);
    N = attnres_n_blocks(c);
    d = c->dim;
    V = c->vocab_size;
    attnres = c->residual == ATTNRES_RESIDUAL_ATTNRES;
    t_tokens = attnres_st_find(&e, "tokens");
    if (!t_tokens || t_tokens->ndim != 1 || t_tokens->numel < 1 || t_tokens->numel > (uint64_t)c->seq_len) {
        fprintf(stderr, "error: %s: tokens must be [T] with 1 <= T <= seq_len\n", path);
        goto done;
    }
    T = (int)t_tokens->numel;
    tokens = (int32_t *)malloc((size_t)T * sizeof *tokens);
    logits = (float *)malloc((size_t)V * sizeof *logits);
    xb = (float *)malloc((size_t)d * sizeof *xb);
    h_out = (float *)malloc((size_t)d * sizeof *h_out);
    alpha = (float *)malloc((size_t)(N + 1) * sizeof *alpha);
    if (!tokens || !logits || !xb || !h_out || !alpha) { fprintf(stderr, "error: out of memory\n"); goto done; }
    if (attnres_st_read_i32(tokens, (size_t)T, t_tokens, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        goto done;
    }
    if (!(ref_h = read_f32(&e, "h", (size_t)T * L * d)) ||
        !(ref_out = read_f32(&e, "out_h", (size_t)T * d)) ||
        !(ref_logits = read_f32(&e, "logits", (size_t)T * V)) ||
        (attnres && !(ref_alpha = read_f32(&e, "alpha", (size_t)T * (L + 1) * (N + 1)))))
        goto done;

    if (attnres)
        printf("\n== %s: Block AttnRes, S = %d%s, L = %d sublayers, N = %d blocks ==\n", name,
               c->block_size, c->block_size == 1 ? " (Full AttnRes)" : "", L, N);
    else
        printf("\n== %s: standard residuals, L = %d sublayers ==\n", name, L);

    /* the whole prompt, one token at a time; every position compared */
    for (pos = 0; pos < T; pos++) {
        const float *out = attnres_forward(&m, &s, tokens[pos], pos, &err);
        if (!out) { fprintf(stderr, "error: %s\n", err.message); goto done; }
        diff = max_abs_diff(s.sublayer_input, ref_h + (size_t)pos * L * d, (size_t)L * d);
        if (diff != diff || diff > worst_h) worst_h = diff;   /* a NaN sticks */
        diff = max_abs_diff(out, ref_logits + (size_t)pos * V, (size_t)V);
        if (diff != diff || diff > worst_logits) worst_logits = diff;   /* a NaN sticks */
        if (attnres) {
            diff = max_abs_diff(s.alpha, ref_alpha + (size_t)pos * (L + 1) * (N + 1), (size_t)(L + 1) * (N + 1));
            if (diff != diff || diff > worst_alpha) worst_alpha = diff;   /* a NaN sticks */
        }
    }

    /* the last token, sublayer by sublayer */
    pos = T - 1;
    printf("The last token (pos %d, token %d), sublayer by sublayer; |h_l| is the length of the\n"
           "sublayer's input, in C and in PyTorch:\n", pos, tokens[pos]);
    for (l = 0; l < L; l++) {
        const float *h = s.sublayer_input + (size_t)l * d;
        const float *h_ref = ref_h + ((size_t)pos * L + l) * d;
        printf("  h_%d (%s of layer %d): |h| = %10.6f  (PyTorch %10.6f)\n", l, l % 2 ? "mlp " : "attn", l / 2,
               norm(h, d), norm(h_ref, d));
        if (attnres) {
            /* sublayer l is number l % S + 1 of block l / S + 1: it reads
               b0 .. b_{l/S}, plus the partial unless it opens its block */
            int n_expected = l / c->block_size + 1 + (l % c->block_size ? 1 : 0);
            printf("       alpha over [");
            for (j = 0; j < n_expected; j++) {
                if (j == n_expected - 1 && l % c->block_size) printf(" partial");
                else printf(j ? " b%d" : "b%d", j);
            }
            printf("] =");
            for (j = 0; j < s.alpha_count[l]; j++) printf(" %.6f", (double)s.alpha[(size_t)l * (N + 1) + j]);
            printf("\n");
            if (s.alpha_count[l] != n_expected) {
                printf("       MISMATCH: %d sources, expected %d\n", s.alpha_count[l], n_expected);
                ok = 0;
            }
        }
    }
    if (attnres) {
        printf("  output: alpha over [b0 .. b%d] =", N);
        for (j = 0; j < s.alpha_count[L]; j++) printf(" %.6f", (double)s.alpha[(size_t)L * (N + 1) + j]);
        printf("\n");
    }
    printf("  h into the final norm: |h| = %10.6f  (PyTorch %10.6f)\n", norm(s.x, d), norm(ref_out + (size_t)pos * d, d));

    /* steps 3 and 4 again, by hand, with the public functions */
    if (attnres) {
        attnres_depth_attention(h_out, alpha, s.bs.blocks, N + 1, m.weights.pseudo_query + (size_t)L * d,
                                m.weights.key_norm + (size_t)L * d, d, c->norm_eps);
        diff = max_abs_diff(h_out, s.x, (size_t)d);
        ok &= diff < TOL;
        printf("  by hand: attnres_depth_attention over bs.blocks with the output's pseudo-query gives that h: %s\n",
               diff < TOL ? "yes" : "NO");
    } else {
        memcpy(h_out, s.x, (size_t)d * sizeof *h_out);
    }
    attnres_rmsnorm(xb, h_out, m.weights.norm, d, c->norm_eps);
    attnres_matvec(logits, m.weights.output, xb, V, d);
    diff = max_abs_diff(logits, s.logits, (size_t)V);
    ok &= diff < TOL;
    printf("  by hand: attnres_rmsnorm + attnres_matvec(output) give the logits: %s\n", diff < TOL ? "yes" : "NO");

    ok &= worst_h < TOL && worst_logits < TOL && (!attnres || worst_alpha < TOL);
    printf("  all %d positions: every h_l%s and every logit within %s of PyTorch: %s\n", T,
           attnres ? ", every alpha" : "", "1e-4", ok ? "yes" : "NO");
    rc = ok ? 0 : 1;
done:
    free(tokens); free(ref_h); free(ref_alpha); free(ref_out); free(ref_logits);
    free(logits); free(xb); free(h_out); free(alpha);
    attnres_state_free(&s);
    attnres_st_close(&e);
    attnres_model_free(&m);
    return rc;
}

int main(void) {
    static const char *models[] = {"standard", "full", "block_s2"};
    int i, failed = 0;
    printf("Lesson 06: the forward pass, step by step, against PyTorch.\n\n");
    printf("attnres_forward(model, state, token, pos) does, for one token:\n"
           "  standard  1. h = embedding   2. per sublayer l: h_l = h, h = h + f_l(h_l)\n"
           "  AttnRes   1. b0 = embedding  2. per sublayer l: h_l = sum_j alpha_j v_j over its sources,\n"
           "               alpha = softmax_j(w_l . RMSNorm(v_j)); f_l(h_l) goes into the partial block\n"
           "            3. h = the same depth attention over [b0 .. b_N], with the output's pseudo-query\n"
           "  both      4. logits = W_out RMSNorm(h)\n"
           "where f_l(h) = Attn(RMSNorm(h)) for even l and MLP(RMSNorm(h)) for odd l. Each golden model\n"
           "reads its 20-token prompt; shown is the last token, with the PyTorch reference's values.\n");
    for (i = 0; i < 3; i++) {
        int rc = run_model(models[i]);
        if (rc == 2) return 1;   /* cannot run: the reason is on stderr */
        failed |= rc;
    }
    printf("\nIn the standard model |h_l| grows layer after layer: every output is added with weight 1.\n"
           "With AttnRes each h_l is a convex mix of its sources (the alphas are >= 0 and sum to 1),\n"
           "so it is never longer than the longest source it reads.\n");
    return failed;
}
