/* Lesson 07 - the forward pass by hand.

   attnres_forward(model, state, token, pos) runs one token through the
   model. This lesson writes it out again, as one function made of the
   header's public pieces, in the order the data flows:
     1. the token's embedding: the stream h (standard residuals), or block
        b0 (AttnRes: attnres_block_reset)
     2. for each sublayer l = 0 .. L-1 (2i: attention of layer i, 2i+1: its
        MLP):
        a. AttnRes only: h_l = softmax over depth of the sources
           (attnres_depth_attention with the sublayer's pseudo-query w_l);
           standard: h_l is the stream h itself
        b. f_l = Attn(RMSNorm(h_l)) or MLP(RMSNorm(h_l)). Attention: q, k, v
           (attnres_matvec), RoPE on q and k (attnres_rope), k and v written
           into the cache slot of this position, attention over positions
           0..pos (attnres_attend), then wo. MLP: attnres_swiglu_mlp
        c. the residual: h += f_l (standard), or partial block += f_l
           (attnres_block_add, which closes the block after S outputs)
     3. AttnRes only: h = one more depth attention, over all the blocks
        [b0 .. b_N], with the output's pseudo-query (row L)
     4. logits = W_out RMSNorm(h)
   Then it runs a prompt through both, on a standard, a Full AttnRes and a
   Block AttnRes model, and compares the logits bit for bit (memcmp): the
   same functions in the same order give the same floats.

   The scalar functions are the specification; this lesson compares against
   them even in a build with the optional kernel file (make SIMD=1), whose
   faster loops round differently in the last bit. Hence the #undef.

   Run from the repository root:
     make lessons && ./build/default/lessons/07_forward_by_hand */
#undef ATTNRES_KERNELS
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

/* One token at position pos, by hand: returns s->logits [vocab_size].
   Uses the state's buffers (the same ones attnres_forward uses) and its
   KV-cache, whose slots 0..pos-1 must hold the earlier tokens. */
static const float *forward_by_hand(const attnres_model *m, attnres_state *s, int token, int pos) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights;
    int d = c->dim, hd = c->hidden_dim, head_dim = attnres_head_dim(c), kv_dim = attnres_kv_dim(c);
    int q_dim = c->n_heads * head_dim, L = attnres_n_sublayers(c), N = attnres_n_blocks(c), l;
    int attnres = c->residual == ATTNRES_RESIDUAL_ATTNRES;
    const float *emb = w->tok_embeddings + (size_t)token * d;   /* [dim] */
    float *h = s->x;                                            /* [dim] */

    /* 1. the embedding */
    if (attnres) attnres_block_reset(&s->bs, emb);
    else memcpy(h, emb, (size_t)d * sizeof(float));
    for (l = 0; l < L; l++) {
        int layer = l / 2;
        /* 2a. AttnRes: h_l = sum_j alpha_j v_j over the sources b0 .. (partial) */
        if (attnres)
            attnres_depth_attention(h, s->alpha + (size_t)l * (N + 1), s->bs.blocks,
                                    attnres_block_n_sources(&s->bs), w->pseudo_query + (size_t)l * d,
                                    w->key_norm + (size_t)l * d, d, c->norm_eps);
        /* 2b. f_l = sublayer(RMSNorm(h_l)), into s->f */
        if (l % 2 == 0) {
            size_t cache = (size_t)layer * s->n_ctx * kv_dim;          /* this layer's [n_ctx, kv_dim] */
            float *k = s->key_cache + cache + (size_t)pos * kv_dim;   /* [kv_dim] slot of pos */
            float *v = s->value_cache + cache + (size_t)pos * kv_dim;
            attnres_rmsnorm(s->xb, h, w->attention_norm + (size_t)layer * d, d, c->norm_eps);
            attnres_matvec(s->q, w->wq + (size_t)layer * q_dim * d, s->xb, q_dim, d);
            attnres_matvec(k, w->wk + (size_t)layer * kv_dim * d, s->xb, kv_dim, d);
            attnres_matvec(v, w->wv + (size_t)layer * kv_dim * d, s->xb, kv_dim, d);
            attnres_rope(s->q, q_dim, head_dim, pos, c->rope_theta, &c->rope_scaling);
            attnres_rope(k, kv_dim, head_dim, pos, c->rope_theta, &c->rope_scaling);
            attnres_attend(s->xb2, s->att, s->q, s->key_cache + cache, s->value_cache + cache,
                           pos + 1, c->n_heads, c->n_kv_heads, head_dim, s->n_ctx);
            attnres_matvec(s->f, w->wo + (size_t)layer * d * q_dim, s->xb2, d, q_dim);
        } else {
            attnres_rmsnorm(s->xb, h, w->ffn_norm + (size_t)layer * d, d, c->norm_eps);
            attnres_swiglu_mlp(s->f, s->xb, w->w1 + (size_t)layer * hd * d, w->w2 + (size_t)layer * d * hd,
                               w->w3 + (size_t)layer * hd * d, s->hb, s->hb2, d, hd);
        }
        /* 2c. the residual */
        if (attnres) attnres_block_add(&s->bs, s->f);
        else attnres_axpy(h, 1.0f, s->f, d);
    }
    /* 3. AttnRes: the output aggregation over [b0 .. b_N] */
    if (attnres) {
        attnres_block_close(&s->bs);   /* a last block shorter than S */
        attnres_depth_attention(h, s->alpha + (size_t)L * (N + 1), s->bs.blocks, attnres_block_n_sources(&s->bs),
                                w->pseudo_query + (size_t)L * d, w->key_norm + (size_t)L * d, d, c->norm_eps);
    }
    /* 4. final norm and output projection */
    attnres_rmsnorm(s->xb, h, w->norm, d, c->norm_eps);
    attnres_matvec(s->logits, w->output, s->xb, c->vocab_size, d);
    return s->logits;
}

/* Runs the prompt through attnres_forward (state a) and forward_by_hand
   (state b) and prints how far apart their logits ever were. */
static int compare(const char *name, const int *tokens, int T) {
    char path[128];
    attnres_model m;
    attnres_state a, b;
    attnres_error err;
    double worst = 0.0;
    int pos, i, V, same = 1;

    snprintf(path, sizeof path, "golden/%s.model.safetensors", name);
    if (attnres_model_load(&m, path, &err) != ATTNRES_OK || attnres_state_init(&a, &m.config, &err) != ATTNRES_OK ||
        attnres_state_init(&b, &m.config, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root)\n", err.message);
        return 1;
    }
    V = m.config.vocab_size;
    for (pos = 0; pos < T; pos++) {
        const float *want = attnres_forward(&m, &a, tokens[pos], pos, &err);
        const float *got = forward_by_hand(&m, &b, tokens[pos], pos);
        if (!want) { fprintf(stderr, "error: %s\n", err.message); return 1; }
        same &= memcmp(want, got, (size_t)V * sizeof(float)) == 0;
        for (i = 0; i < V; i++) {
            double diff = fabs((double)want[i] - (double)got[i]);
            if (diff > worst) worst = diff;
        }
    }
    if (m.config.residual == ATTNRES_RESIDUAL_STANDARD) printf("  %s: standard residuals", name);
    else printf("  %s: AttnRes, S = %d (N = %d blocks)", name, m.config.block_size, attnres_n_blocks(&m.config));
    printf(", L = %d sublayers\n", attnres_n_sublayers(&m.config));
    printf("    last token, logits[0..2]: attnres_forward %10.6f %10.6f %10.6f\n"
           "                              by hand         %10.6f %10.6f %10.6f\n",
           (double)a.logits[0], (double)a.logits[1], (double)a.logits[2], (double)b.logits[0],
           (double)b.logits[1], (double)b.logits[2]);
    printf("    all %d positions: max |diff| = %g, memcmp of the logits: %s\n", T, worst,
           same ? "identical" : "DIFFERENT");
    attnres_state_free(&a);
    attnres_state_free(&b);
    attnres_model_free(&m);
    return same ? 0 : 1;
}

int main(void) {
    const int tokens[12] = {5, 17, 99, 3, 42, 42, 7, 120, 64, 1, 88, 30};   /* a made-up prompt */
    int failed = 0;
    printf("Lesson 07: the forward pass by hand.\n\n");
    printf("The same %d-token prompt through attnres_forward and through forward_by_hand (this file),\n"
           "each with its own state and KV-cache:\n", 12);
    failed |= compare("standard", tokens, 12);
    failed |= compare("full", tokens, 12);
    failed |= compare("block_s2", tokens, 12);
    failed |= compare("block_s4", tokens, 12);
    printf("%s\n", failed ? "MISMATCH: the forward pass is not what this lesson says it is."
                          : "Every float the same: attnres_forward is these steps, in this order, and nothing else.");
    return failed;
}
