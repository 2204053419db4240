/* Lesson 04 - the block state: which sources each sublayer sees.

   Full AttnRes keeps every sublayer output as a separate source; Block
   AttnRes (block size S) keeps one vector per block of S sublayers, the sum
   of their outputs, plus the partial sum of the block being built:
     b0       = the token embedding
     b_n      = f of the sublayers ((n-1)S, nS] (1-based), summed; the last
                block is shorter when S does not divide L
     partial  = the outputs of the current block so far (absent at its start)
   attnres.h keeps this in an attnres_block_state and changes it with four
   calls: attnres_block_reset (b0 = embedding), attnres_block_n_sources,
   attnres_block_add (partial += f, close the block after S outputs) and
   attnres_block_close (finish a short last block).

   To SEE what each source holds, this lesson feeds the block state
   labelled vectors: the embedding is the unit vector e0 and sublayer l
   "outputs" e(l+1). Every row of the block state is then a sum of unit
   vectors, and reading its coordinates back says which outputs it holds.
   Sublayers are counted from 0: sublayer 2i is the attention of layer i,
   2i+1 its MLP, and f_l is the output of sublayer l.

     make lessons && ./build/default/lessons/04_block_state */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <stdio.h>
#include <string.h>

#define N_LAYERS 4                  /* L = 8 sublayers */
#define L (2 * N_LAYERS)
#define DIM 16                      /* >= L + 1 coordinates: one per label */

/* Writes the labels a row holds, e.g. "emb" or "f0+f1", by reading which
   unit vectors were summed into it (coordinate 0 = emb, l+1 = f_l). */
static void describe(char *out, size_t size, const float *row) {
    size_t used = 0;
    int i;
    out[0] = '\0';
    for (i = 0; i <= L; i++) {
        if (row[i] == 0.0f) continue;
        if (i == 0) used += (size_t)snprintf(out + used, size - used, "%semb", used ? "+" : "");
        else used += (size_t)snprintf(out + used, size - used, "%sf%d", used ? "+" : "", i - 1);
        if (used >= size) return;
    }
}

static const char *kind(int l) { return l % 2 == 0 ? "attn" : "mlp "; }

/* Runs one token through the block state of a Block AttnRes model with
   block size S and prints the sources of every sublayer and of the output. */
static int show_block_size(int S) {
    attnres_config c = {0};
    attnres_model model;
    attnres_state state;
    attnres_error err;
    float unit[DIM];   /* [DIM] e0 (embedding) or e(l+1) (output of sublayer l) */
    char what[128];
    int l, j, n;

    c.dim = DIM; c.hidden_dim = 8; c.n_layers = N_LAYERS; c.n_heads = 2; c.n_kv_heads = 2;
    c.vocab_size = 4; c.seq_len = 4; c.rope_theta = 10000.0f; c.norm_eps = 1e-5f;
    c.residual = ATTNRES_RESIDUAL_ATTNRES; c.block_size = S;
    if (attnres_state_init(&state, &c, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    printf("\nBlock AttnRes, S = %d%s: N = ceil(L/S) = %d blocks, so each token keeps %d vectors (b0..b%d).\n",
           S, S == 1 ? " (Full AttnRes)" : (L % S ? " (does not divide L: the last block is short)" : ""),
           attnres_n_blocks(&c), attnres_n_blocks(&c) + 1, attnres_n_blocks(&c));

    memset(unit, 0, sizeof unit);
    unit[0] = 1.0f;
    attnres_block_reset(&state.bs, unit);                      /* b0 = emb */
    for (l = 0; l < L; l++) {
        n = attnres_block_n_sources(&state.bs);                /* rows [0, n) of bs.blocks */
        printf("  sublayer %d (%s of layer %d) reads [", l, kind(l), l / 2);
        for (j = 0; j < n; j++) {
            int is_partial = state.bs.n_partial > 0 && j == n - 1;
            describe(what, sizeof what, state.bs.blocks + (size_t)j * DIM);
            if (is_partial) printf("%spartial(=%s)", j ? ", " : "", what);
            else printf("%sb%d(=%s)", j ? ", " : "", j, what);
        }
        printf("]\n");
        memset(unit, 0, sizeof unit);
        unit[l + 1] = 1.0f;
        attnres_block_add(&state.bs, unit);                    /* partial += f_l */
    }
    attnres_block_close(&state.bs);                            /* a short last block */
    n = attnres_block_n_sources(&state.bs);
    printf("  output aggregation reads [");
    for (j = 0; j < n; j++) {
        describe(what, sizeof what, state.bs.blocks + (size_t)j * DIM);
        printf("%sb%d(=%s)", j ? ", " : "", j, what);
    }
    printf("]\n");

    /* attnres_forward keeps the same block state: on a model whose weights
       are all zero it records how many sources every sublayer had */
    if (attnres_model_init(&model, &c, &err) != ATTNRES_OK ||
        !attnres_forward(&model, &state, 0, 0, &err)) {
        fprintf(stderr, "error: %s\n", err.message);
        attnres_model_free(&model);
        attnres_state_free(&state);
        return 1;
    }
    printf("  attnres_forward agrees; its alpha_count per sublayer (and output):");
    for (l = 0; l <= L; l++) printf(" %d", state.alpha_count[l]);
    printf("\n");
    attnres_model_free(&model);
    attnres_state_free(&state);
    return 0;
}

int main(void) {
    float h[DIM];   /* [DIM] the standard residual stream */
    char what[128];
    int l, S;

    printf("Lesson 04: the block state. A model with %d layers has L = %d sublayers.\n", N_LAYERS, L);

    /* Standard residuals: one stream, h <- h + f_l(h); every earlier output
       counts with weight 1 and nothing can be read separately */
    printf("\nStandard residuals: one running sum, every term with weight 1.\n");
    memset(h, 0, sizeof h);
    h[0] = 1.0f;                                               /* h = emb */
    for (l = 0; l < L; l++) {
        describe(what, sizeof what, h);
        printf("  sublayer %d (%s of layer %d) reads h = %s\n", l, kind(l), l / 2, what);
        h[l + 1] += 1.0f;                                      /* h += f_l */
    }
    describe(what, sizeof what, h);
    printf("  the final norm reads h = %s\n", what);

    for (S = 1; S <= 3; S++)
        if (show_block_size(S) != 0) return 1;

    printf("\nS = 1 keeps every output apart (L+1 = %d vectors per token); a larger S keeps\n"
           "fewer, and each sublayer mixes completed blocks with its own block's partial sum.\n", L + 1);
    return 0;
}
