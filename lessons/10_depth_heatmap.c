/* Lesson 10 - what depth attention learned: the depth heatmap.

   Every AttnRes sublayer l mixes its sources with weights
       alpha_l = softmax_j(w_l . RMSNorm(v_j))
   and the output does the same over all blocks [b0 .. b_N]. Training
   starts from w = 0, i.e. the plain mean of the sources; whatever the
   weights are now, training put there. After each attnres_forward the
   state holds the weights of that token:
       state.alpha        [L+1, N+1]  row l = sublayer l (2i: attention of
                                      layer i, 2i+1: its MLP), row L = the
                                      output; zero past the row's sources
       state.alpha_count  [L+1]       how many sources each row read
   This lesson averages them over the positions of a fixed piece of text,
   for the trained Block AttnRes (S = 2) and Full AttnRes (S = 1) models,
   and prints the matrix twice: as numbers and as a text heatmap.

   Reading the columns (see the README, "The model"): b0 is the token
   embedding and b_n, n >= 1, the sum of the outputs of block n's
   sublayers. A sublayer that is not the first of its block also reads the
   PARTIAL sum of its own block, in the column after its last completed
   block. With S = 2 that is every MLP row: "mlp i" reads b0 .. b_i and the
   partial = f of "attn i" (the attention output of the same layer), which
   becomes b_{i+1} once the MLP has added its own output. With S = 1 there
   is no partial: b_j is exactly the output of sublayer j-1.

   `make demo` draws the same averaged weights as a PNG
   (build/depth_heatmap.png), over the prompt and the text it generates.

   Reads models/block.safetensors, models/full.safetensors and
   models/corpus_val.txt. Run from the repository root:
     make lessons && ./build/default/lessons/10_depth_heatmap */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <stdio.h>
#include <stdlib.h>

#define TEXT "models/corpus_val.txt"
#define N_POS 128                       /* positions averaged: the first 128 bytes */
static const char SHADES[] = " .:-=+*#%@";   /* alpha in [0,0.1) .. [0.9,1] */

/* "attn 3", "mlp 3" or "output" */
static const char *row_label(char *buf, size_t size, int l, int L) {
    if (l == L) snprintf(buf, size, "output");
    else snprintf(buf, size, "%s %d", l % 2 == 0 ? "attn" : "mlp", l / 2);
    return buf;
}

/* Does row l's last source sit in the partial column? (a sublayer that is
   not the first of its block; never the output) */
static int reads_partial(int l, int L, int S) {
    return l < L && l % S != 0;
}

/* Runs the model over tokens [N_POS] and prints the averaged depth weights.
   Returns 0, or 1 after printing the error. */
static int heatmap(const char *path, const int *tokens) {
    attnres_model m;
    attnres_state s;
    attnres_error err;
    double *mean = NULL;            /* [L+1, N+1] alpha summed, then averaged, over positions */
    double *lo = NULL, *hi = NULL;  /* [N+1] the output row's smallest and largest alpha */
    double b0_lo, b0_hi, ratio_lo = 0.0, ratio_hi = 0.0;   /* b0's share over rows; output max/min */
    int L, N, S, l, j, pos, rc = 1, to_b0, to_newest, lo_row = 1, hi_row = 1;
    char label[32], label2[32];

    if (attnres_model_load(&m, path, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root; the trained models come from "
                        "tools/train.py, see the README)\n", err.message);
        return 1;
    }
    if (m.config.residual != ATTNRES_RESIDUAL_ATTNRES || m.config.vocab_size != 256 || m.config.seq_len < N_POS) {
        fprintf(stderr, "error: %s: expected a byte-level AttnRes model with seq_len >= %d\n", path, N_POS);
        attnres_model_free(&m);
        return 1;
    }
    if (attnres_state_init(&s, &m.config, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        attnres_model_free(&m);
        return 1;
    }
    L = attnres_n_sublayers(&m.config);
    N = attnres_n_blocks(&m.config);
    S = m.config.block_size;
    mean = (double *)calloc((size_t)(L + 1) * (size_t)(N + 1), sizeof *mean);
    lo = (double *)malloc((size_t)(N + 1) * sizeof *lo);
    hi = (double *)malloc((size_t)(N + 1) * sizeof *hi);
    if (!mean || !lo || !hi) { fprintf(stderr, "error: out of memory\n"); goto done; }
    for (j = 0; j <= N; j++) { lo[j] = 1.0; hi[j] = 0.0; }

    /* every position, one token at a time: sum alpha, track the output row */
    for (pos = 0; pos < N_POS; pos++) {
        if (!attnres_forward(&m, &s, tokens[pos], pos, &err)) {
            fprintf(stderr, "error: %s\n", err.message);
            goto done;
        }
        for (l = 0; l <= L; l++)
            for (j = 0; j < s.alpha_count[l]; j++) mean[l * (N + 1) + j] += s.alpha[l * (N + 1) + j];
        for (j = 0; j <= N; j++) {
            double a = s.alpha[L * (N + 1) + j];
            if (a < lo[j]) lo[j] = a;
            if (a > hi[j]) hi[j] = a;
        }
    }
    for (l = 0; l <= L; l++) for (j = 0; j <= N; j++) mean[l * (N + 1) + j] /= N_POS;

    if (S == 1) printf("\n== %s: Full AttnRes (S = 1), L = %d sublayers, N = %d blocks ==\n", path, L, N);
    else printf("\n== %s: Block AttnRes, S = %d, L = %d sublayers, N = %d blocks ==\n", path, S, L, N);
    printf("Mean alpha over %d positions. Rows read, columns are the sources they read;\n", N_POS);
    if (S == 1) printf("b0 = the embedding, b_j = the output of sublayer j-1.\n\n");
    else printf("b0 = the embedding, b_n = block n; * marks a row's partial sum (its own block so far).\n\n");

    /* the numbers */
    printf("%-8s", "");
    for (j = 0; j <= N; j++) { snprintf(label, sizeof label, "b%d", j); printf(" %8s ", label); }
    printf("     sum\n");
    for (l = 0; l <= L; l++) {
        double sum = 0.0;
        printf("%-8s", row_label(label, sizeof label, l, L));
        for (j = 0; j <= N; j++) {
            if (j < s.alpha_count[l]) {
                int partial = reads_partial(l, L, S) && j == s.alpha_count[l] - 1;
                printf(" %8.6f%c", mean[l * (N + 1) + j], partial ? '*' : ' ');
                sum += mean[l * (N + 1) + j];
            } else {
                printf(" %8s ", "");
            }
        }
        printf(" %8.6f\n", sum);
    }

    /* the picture: one shade per cell, | after a row's last source */
    printf("\nAs a heatmap, \"%s\" for alpha in [0, 0.1), [0.1, 0.2), .. [0.9, 1]:\n\n", SHADES);
    printf("%-8s ", "");
    for (j = 0; j <= N; j++) { snprintf(label, sizeof label, "b%d", j); printf("%3s", label); }
    printf("\n");
    for (l = 0; l <= L; l++) {
        printf("%-8s|", row_label(label, sizeof label, l, L));
        for (j = 0; j < s.alpha_count[l]; j++) {
            int shade = (int)(mean[l * (N + 1) + j] * 10.0);
            char c = SHADES[shade < 0 ? 0 : shade > 9 ? 9 : shade];
            printf(" %c%c", c, c);
        }
        printf(" |\n");
    }

    printf("\nThe output row is per token too: its alpha over the %d positions, source by source:\n", N_POS);
    printf("           min       mean      max\n");
    for (j = 0; j <= N; j++)
        printf("  b%-3d %9.6f %9.6f %9.6f\n", j, lo[j], mean[L * (N + 1) + j], hi[j]);

    /* what the table says, computed: which source each row favours, and b0's share */
    b0_lo = 1.0; b0_hi = 0.0; to_b0 = 0; to_newest = 0;
    for (l = 1; l <= L; l++) {   /* row 0 has one source: weight 1 by construction */
        const double *row = mean + l * (N + 1);
        int n = s.alpha_count[l], top = 0;
        for (j = 1; j < n; j++) if (row[j] > row[top]) top = j;
        to_b0 += top == 0;
        to_newest += top == n - 1;
        if (row[0] < b0_lo) { b0_lo = row[0]; lo_row = l; }
        if (row[0] > b0_hi) { b0_hi = row[0]; hi_row = l; }
    }
    for (j = 0; j <= N; j++) {
        if (j == 0 || hi[j] / lo[j] < ratio_lo) ratio_lo = hi[j] / lo[j];
        if (j == 0 || hi[j] / lo[j] > ratio_hi) ratio_hi = hi[j] / lo[j];
    }
    printf("\nRead off the numbers (training started every row at the plain mean, 1/n each):\n");
    printf("  Of the %d rows that choose (mlp 0 .. output; attn 0 reads only b0), the largest\n"
           "  weight goes to the embedding b0 in %d, and to the newest source, the last column\n"
           "  a row reads (%s), in %d.\n", L, to_b0,
           S > 1 ? "a partial sum, or the block completed just before" : "the output of the sublayer below", to_newest);
    printf("  b0's mean weight ranges from %.3f (%s) to %.3f (%s).\n", b0_lo,
           row_label(label, sizeof label, lo_row, L), b0_hi, row_label(label2, sizeof label2, hi_row, L));
    printf("  In the output row, each source's weight varies from token to token by a factor\n"
           "  (max / min over the %d positions) between %.1f and %.1f.\n", N_POS, ratio_lo, ratio_hi);
    rc = 0;
done:
    free(mean); free(lo); free(hi);
    attnres_state_free(&s);
    attnres_model_free(&m);
    return rc;
}

int main(void) {
    int tokens[N_POS];   /* [N_POS] byte-level: token id = byte value */
    int i, c;
    FILE *f = fopen(TEXT, "rb");

    printf("Lesson 10: what depth attention learned, as a heatmap.\n\n");
    if (!f) {
        fprintf(stderr, "error: cannot open %s\n(run the lessons from the repository root; the corpus comes "
                        "from tools/corpus.py, see the README)\n", TEXT);
        return 1;
    }
    for (i = 0; i < N_POS && (c = fgetc(f)) != EOF; i++) tokens[i] = c;
    fclose(f);
    if (i < N_POS) {
        fprintf(stderr, "error: %s holds only %d bytes, the lesson reads %d\n", TEXT, i, N_POS);
        return 1;
    }
    printf("Both trained AttnRes models read the first %d bytes of %s, one token at a time\n"
           "from an empty cache; after every token we add state.alpha to a running sum.\n", N_POS, TEXT);
    if (heatmap("models/block.safetensors", tokens) || heatmap("models/full.safetensors", tokens)) return 1;
    printf("\nThese are averages over one piece of text from two small models; `make demo` draws the\n"
           "block model's map as a PNG (build/depth_heatmap.png), over its own prompt and output.\n");
    return 0;
}
