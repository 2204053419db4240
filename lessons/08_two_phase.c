/* Lesson 08 - two-phase inference (the paper's Algorithm 1) and what it saves.

   Block AttnRes as written in lesson 07 scores EVERY source in EVERY
   sublayer, although the completed blocks b0..b_{n-1} do not change while
   block n is being built. Two-phase inference splits the work:
     phase 1  once per block: the S pseudo-queries of the block's sublayers
              against the completed blocks, as one batch. Per query it keeps
              only the softmax statistics:
                  max  m = max_j s_j,   sum  l = sum_j exp(s_j - m),
                  o = sum_j exp(s_j - m) b_j          (unnormalised)
     phase 2  per sublayer: one new logit, the partial sum's s_p, merged in
              by online softmax:
                  m' = max(m, s_p),   l' = l e^(m - m') + e^(s_p - m')
                  h  = (o e^(m - m') + e^(s_p - m') partial) / l'
   which is exactly softmax over [b0 .. b_{n-1}, partial]. Two tricks keep
   phase 1 cheap: a completed block's key RMSNorm needs only its 1/rms,
   computed once; and the key gain g is folded into the pseudo-query (w*g).

     make lessons && ./build/default/lessons/08_two_phase */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>

#define MODEL "golden/block_s4.model.safetensors"   /* L = 6 sublayers, S = 4: blocks of 4 and 2 */

static double max_abs_diff(const float *a, const float *b, int n) {
    double worst = 0.0;
    int i;
    for (i = 0; i < n; i++) if (fabs((double)a[i] - (double)b[i]) > worst) worst = fabs((double)a[i] - (double)b[i]);
    return worst;
}

/* Residual-path traffic per token of a model with L sublayers and block
   size S (0: standard): a function of the depth, the blocks and the path
   only, so the other sizes are as small as a config allows. */
static void traffic(int L, int S, int path, attnres_io *sub, attnres_io *out) {
    attnres_config c = {0};   /* the rest zero: no head_dim override, no QK-norm, plain RoPE */
    c.dim = 2; c.hidden_dim = 2; c.n_heads = 1; c.n_kv_heads = 1; c.vocab_size = 2; c.seq_len = 1;
    c.rope_theta = 10000.0f; c.norm_eps = 1e-5f; c.tie_embeddings = 1;
    c.n_layers = L / 2;
    c.residual = S ? ATTNRES_RESIDUAL_ATTNRES : ATTNRES_RESIDUAL_STANDARD;
    c.block_size = S;
    attnres_traffic(&c, path, sub, out, NULL);
}

/* One row of the traffic table: per-sublayer reads and writes in units of d
   (dim-sized vectors), and the output aggregation's counts. */
typedef struct {
    const char *label, *paper;   /* the paper's Table 1 entry, "-" if none */
    int L, S, path;
    double reads, writes, total; /* per sublayer, in d */
    long out_reads, out_writes;  /* the output aggregation, in d */
} traffic_row;

static void table_row(traffic_row *r) {
    attnres_io sub, out;
    traffic(r->L, r->S, r->path, &sub, &out);
    r->reads = (double)sub.reads / r->L;
    r->writes = (double)sub.writes / r->L;
    r->total = r->reads + r->writes;
    r->out_reads = out.reads;
    r->out_writes = out.writes;
    printf("  %-26s %6.2f %6.2f %7.2f d  %-15s %3ld + %ld\n", r->label, r->reads, r->writes, r->total,
           r->paper, r->out_reads, r->out_writes);
}

/* "less" or "MORE": the word a comparison of two totals earns */
static const char *less_or_more(double a, double b) { return a < b ? "less" : a > b ? "MORE" : "the same"; }

int main(void) {
    attnres_model m;
    attnres_state direct, two;
    attnres_error err;
    int d, L, S, t, i, sums_one = 1, sums_in_range = 1, alpha_same = 1;
    double worst = 0.0, std_max = 0.0, attnres_min = 1e30, attnres_max = 0.0;
    const int tokens[12] = {5, 17, 99, 3, 42, 42, 7, 120, 64, 1, 88, 30};
    /* rows 0-4 at the paper's shape (L = 128); 5-9 smaller models */
    traffic_row rows[10] = {
        {"standard L=128", "3d", 128, 0, ATTNRES_PATH_DIRECT, 0, 0, 0, 0, 0},
        {"direct L=128 S=16 N=8", "-", 128, 16, ATTNRES_PATH_DIRECT, 0, 0, 0, 0, 0},
        {"two-phase L=128 S=16 N=8", "(N/S+5)d=5.5d", 128, 16, ATTNRES_PATH_TWO_PHASE, 0, 0, 0, 0, 0},
        {"direct Full L=128 S=1", "-", 128, 1, ATTNRES_PATH_DIRECT, 0, 0, 0, 0, 0},
        {"two-phase Full L=128 S=1", "(S+N)d=129d", 128, 1, ATTNRES_PATH_TWO_PHASE, 0, 0, 0, 0, 0},
        {"standard L=24", "3d", 24, 0, ATTNRES_PATH_DIRECT, 0, 0, 0, 0, 0},
        {"direct L=24 S=3 N=8", "-", 24, 3, ATTNRES_PATH_DIRECT, 0, 0, 0, 0, 0},
        {"two-phase L=24 S=3 N=8", "(N/S+5)d=7.67d", 24, 3, ATTNRES_PATH_TWO_PHASE, 0, 0, 0, 0, 0},
        {"direct L=8 S=2 N=4", "-", 8, 2, ATTNRES_PATH_DIRECT, 0, 0, 0, 0, 0},
        {"two-phase L=8 S=2 N=4", "(N/S+5)d=7d", 8, 2, ATTNRES_PATH_TWO_PHASE, 0, 0, 0, 0, 0},
    };
    const traffic_row *dir = &rows[1], *two16 = &rows[2], *full_dir = &rows[3],
                      *full_two = &rows[4], *dir24 = &rows[6], *two24 = &rows[7], *dir8 = &rows[8], *two8 = &rows[9];
    const double paper_reads = 8.0 / 16 + 5;           /* (N/S + 5)d with N = 8, S = 16 */
    const double paper_full = 1 + 128;                 /* (S + N)d with S = 1, N = 128 */

    printf("Lesson 08: two-phase inference, Algorithm 1 of the paper.\n\n");
    if (attnres_model_load(&m, MODEL, &err) != ATTNRES_OK) { printf("error: %s\n", err.message); return 1; }
    d = m.config.dim; L = attnres_n_sublayers(&m.config); S = m.config.block_size;
    attnres_state_init(&direct, &m.config, NULL);
    attnres_state_init(&two, &m.config, NULL);
    two.path = ATTNRES_PATH_TWO_PHASE;     /* the only switch between the two paths */
    printf("Model %s: L = %d sublayers, S = %d, so blocks of %d and %d.\n\n", MODEL, L, S, S, L - S);

    /* 1. one token through both paths */
    attnres_forward(&m, &direct, tokens[0], 0, NULL);
    attnres_forward(&m, &two, tokens[0], 0, NULL);
    printf("1. Phase 1 of block 1 (sublayers 0..3) sees only b0: one source, so for each query\n");
    printf("   max is its one logit and sum is exp(0) = 1:\n");
    for (t = 0; t < S; t++) {
        printf("     sublayer %d: max %9.6f  sum %.6f\n", t, (double)two.phase1_max[t], (double)two.phase1_sum[t]);
        sums_one &= two.phase1_sum[t] == 1.0f;
    }
    printf("   every sum exactly 1: %s\n", sums_one ? "yes" : "NO");
    printf("   Phase 1 of block 2 (sublayers 4, 5) batches its 2 queries against b0 and b1:\n");
    for (t = 0; t < L - S; t++) {
        printf("     sublayer %d: max %9.6f  sum %.6f\n", S + t, (double)two.phase1_max[S + t],
               (double)two.phase1_sum[S + t]);
        sums_in_range &= two.phase1_sum[S + t] >= 1.0f && two.phase1_sum[S + t] <= 2.0f;
    }
    printf("   two sources, so each sum lies in [1, 2] (the max term is 1, the other at most 1): %s\n",
           sums_in_range ? "yes" : "NO");
    printf("   Phase 2 merges the partial sum in. Sublayer 5 reads [b0, b1, partial]:\n");
    printf("     alpha direct    = [%.6f %.6f %.6f]\n", (double)direct.alpha[5 * 3], (double)direct.alpha[5 * 3 + 1],
           (double)direct.alpha[5 * 3 + 2]);
    printf("     alpha two-phase = [%.6f %.6f %.6f]\n", (double)two.alpha[5 * 3], (double)two.alpha[5 * 3 + 1],
           (double)two.alpha[5 * 3 + 2]);
    for (i = 0; i < 3; i++) alpha_same &= fabs((double)direct.alpha[5 * 3 + i] - (double)two.alpha[5 * 3 + i]) < 1e-6;
    printf("   the same weights within 1e-6: %s\n", alpha_same ? "yes" : "NO");

    /* 2. a prompt, token by token, comparing everything */
    for (t = 1; t < 12; t++) {
        float *a = attnres_forward(&m, &direct, tokens[t], t, NULL);
        float *b = attnres_forward(&m, &two, tokens[t], t, NULL);
        double diff = max_abs_diff(a, b, m.config.vocab_size);
        diff = fmax(diff, max_abs_diff(direct.sublayer_input, two.sublayer_input, L * d));
        if (diff > worst) worst = diff;
    }
    printf("\n2. Twelve tokens through the KV-cache on both paths: the largest difference in any\n");
    printf("   logit or sublayer input is %.1e; below 1e-5: %s. Both paths form the same\n", worst,
           worst < 1e-5 ? "yes" : "NO");
    printf("   statistics in the same order; they can differ only where the merge rescales o\n");
    printf("   because the partial holds the largest logit (and then by a few float32 roundings).\n");

    /* 3. what it saves: dim-sized vectors moved by the residual path */
    printf("\n3. Memory traffic of the residual path per token, in dim-sized vectors,\n");
    printf("   from the rules below (attnres_traffic(config, path)):\n");
    printf("     standard:  read h and f, write h.\n");
    printf("     direct:    each source read twice (logits, then the weighted sum), h written;\n");
    printf("                the partial updated (read f and the partial, write the partial).\n");
    printf("     two-phase: phase 1 reads the n completed blocks twice PER BLOCK and writes S\n");
    printf("                statistics vectors o; phase 2 reads o (and the partial twice:\n");
    printf("                logit, then the mix) and writes h; the partial as above; and each\n");
    printf("                completed block is read once more for its cached 1/rms.\n\n");
    printf("  %-26s %6s %6s %9s  %-15s %s\n", "per sublayer (L, S, N)", "reads", "writes", "total", "paper Table 1", "output r + w");
    for (i = 0; i < 10; i++) {
        table_row(&rows[i]);
        if (rows[i].S == 0) std_max = fmax(std_max, rows[i].total);
        else { attnres_min = fmin(attnres_min, rows[i].total); attnres_max = fmax(attnres_max, rows[i].total); }
    }

    /* every sentence below is chosen or filled in from the rows above */
    printf("\n   Reading the table:\n");
    printf("   - At the paper's shape two-phase moves %.0f%% %s than direct (%.2fd against %.2fd).\n",
           100.0 * fabs(1.0 - two16->total / dir->total), less_or_more(two16->total, dir->total),
           two16->total, dir->total);
    printf("     Its READS (%.2fd) %s the paper's (N/S + 5)d = %.2fd.\n", two16->reads,
           fabs(two16->reads - paper_reads) < 0.1 ? "land within 0.1d of" : "are NOT within 0.1d of", paper_reads);
    printf("     The %.0f writes per sublayer (o, h and the partial) are counted here on top; this\n",
           two16->writes);
    printf("     count also reads each source twice per pass, where a fused kernel holding a block\n");
    printf("     in registers would read it once.\n");
    printf("   - Full AttnRes (S = 1) has one query per block, so there is nothing to batch:\n");
    printf("     direct reads %.2fd per sublayer, two-phase %.2fd (%s); the paper's (S+N)d is\n",
           full_dir->reads, full_two->reads, less_or_more(full_two->reads, full_dir->reads));
    printf("     %.0fd (within 5%% of it: direct %s, two-phase %s).\n", paper_full,
           fabs(full_dir->reads / paper_full - 1) < 0.05 ? "yes" : "no",
           fabs(full_two->reads / paper_full - 1) < 0.05 ? "yes" : "no");
    printf("   - With few blocks (L=8, S=2, N=4) two-phase moves %s than direct (%.2fd against\n",
           less_or_more(two8->total, dir8->total), two8->total);
    printf("     %.2fd); at L=24, S=3, N=8 it moves %s (%.2fd against %.2fd), and at L=128,\n",
           dir8->total, less_or_more(two24->total, dir24->total), two24->total, dir24->total);
    printf("     S=16, N=8 %s (%.2fd against %.2fd).\n", less_or_more(two16->total, dir->total),
           two16->total, dir->total);
    printf("   - Standard residuals move %.2fd per sublayer, AttnRes %.2fd to %.2fd: standard is the\n",
           std_max, attnres_min, attnres_max);
    printf("     cheapest here: %s. What Block AttnRes adds is counted in d, the width of one\n",
           std_max < attnres_min ? "yes" : "NO");
    printf("     vector, not in the size of the weights.\n");

    attnres_state_free(&direct);
    attnres_state_free(&two);
    attnres_model_free(&m);
    return 0;
}
