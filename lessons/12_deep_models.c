/* Lesson 12 - the experiment's deepest models, evaluated in C.

   tools/experiment.py trained standard and AttnRes models of 8, 16 and 32
   sublayers on the King James Bible, five seeds each, with the same data,
   initial weights and token budget (docs/experiments/README.md has the
   question, the table and the plots). Two of those models ship here, both
   seed 0 at the deepest setting, L = 32 sublayers (16 layers, dim 48):
     standard  h <- h + f_l(h)
     block     Block AttnRes with N = 4 blocks of S = 8 sublayers
   This lesson runs them with attnres.h, one token at a time (that their
   logits equal PyTorch's is checked by tests/test_model.c):
   (a) the validation loss on the committed validation text, in windows of
       seq_len = 64 bytes, each run from an empty cache (the sweep's rule:
       predict bytes 1..64 of every window from the bytes before them);
   (b) the size of what every sublayer reads, RMS(h_l), across the 32
       sublayers (PreNorm dilution: the standard stream only grows);
   (c) where Block AttnRes depth attention looks: the mean weight alpha
       every sublayer gives the embedding b0, the completed blocks and the
       partial sum of its own block.

   Reads models/experiments/{standard,block}_L32.safetensors and
   models/experiments/kjv_val_excerpt.txt
   (the start of the held-out chapters, written by tools/text_corpus.py).
   Run from the repository root:
     make lessons && ./build/default/lessons/12_deep_models */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define DIR "models/experiments/"
#define TEXT DIR "kjv_val_excerpt.txt"
#define WINDOW 64          /* bytes per window = the models' seq_len */
#define N_WINDOWS 16       /* 16 x 64 = 1024 predictions               */
#define MAX_L 64           /* room for per-sublayer sums; checked        */
#define MAX_SRC 16         /* room for N+1 sources; checked              */

typedef struct {
    const char *name, *path;
    int L, N, S;
    double nats;                         /* mean cross-entropy, nats per byte        */
    double rms_h[MAX_L + 1];             /* [L+1] mean RMS(h_l); [L]: into the final norm */
    double rms_f[MAX_L];                 /* [L] standard: mean RMS(h_{l+1} - h_l)    */
    double alpha[MAX_L + 1][MAX_SRC];    /* [L+1, N+1] mean depth weights (AttnRes)  */
    int alpha_count[MAX_L + 1];          /* [L+1] sources of each row                */
} result;

static double rms(const float *x, int n) {
    double sum = 0.0;
    int i;
    for (i = 0; i < n; i++) sum += (double)x[i] * (double)x[i];
    return sqrt(sum / n);
}

/* -log softmax(logits)[target], in double, max subtracted first */
static double cross_entropy(const float *logits, int n, int target) {
    double max = logits[0], sum = 0.0;
    int i;
    for (i = 1; i < n; i++) if (logits[i] > max) max = logits[i];
    for (i = 0; i < n; i++) sum += exp((double)logits[i] - max);
    return max + log(sum) - (double)logits[target];
}

/* (a)-(c): N_WINDOWS windows of the text, each from an empty cache. */
static int evaluate(result *r, const attnres_model *m, attnres_state *s, const int *text) {
    attnres_error err;
    int d = m->config.dim, w, pos, l, j, n = 0;
    for (w = 0; w < N_WINDOWS; w++) {
        const int *tok = text + w * WINDOW;
        attnres_state_reset(s);
        for (pos = 0; pos < WINDOW; pos++, n++) {
            const float *logits = attnres_forward(m, s, tok[pos], pos, &err);
            if (!logits) { fprintf(stderr, "error: %s\n", err.message); return 1; }
            r->nats += cross_entropy(logits, m->config.vocab_size, tok[pos + 1]);
            for (l = 0; l < r->L; l++) r->rms_h[l] += rms(s->sublayer_input + (size_t)l * d, d);
            r->rms_h[r->L] += rms(s->x, d);
            if (r->S == 0) {
                for (l = 0; l < r->L; l++) {   /* f_l = h_{l+1} - h_l; h_L is s->x */
                    const float *h0 = s->sublayer_input + (size_t)l * d, *h1 = l + 1 < r->L ? h0 + d : s->x;
                    double sum = 0.0;
                    int i;
                    for (i = 0; i < d; i++) sum += ((double)h1[i] - h0[i]) * ((double)h1[i] - h0[i]);
                    r->rms_f[l] += sqrt(sum / d);
                }
            } else {
                for (l = 0; l <= r->L; l++) {
                    r->alpha_count[l] = s->alpha_count[l];
                    for (j = 0; j < s->alpha_count[l]; j++) r->alpha[l][j] += s->alpha[(size_t)l * (r->N + 1) + j];
                }
            }
        }
    }
    r->nats /= n;
    for (l = 0; l <= r->L; l++) {
        r->rms_h[l] /= n;
        if (l < r->L) r->rms_f[l] /= n;
        for (j = 0; j < MAX_SRC; j++) r->alpha[l][j] /= n;
    }
    return 0;
}

static int run(result *r, const int *text) {
    attnres_model m;
    attnres_state s;
    attnres_error err;
    int rc = 1;
    if (attnres_model_load(&m, r->path, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root)\n", err.message);
        return 1;
    }
    r->L = attnres_n_sublayers(&m.config);
    r->N = attnres_n_blocks(&m.config);
    r->S = m.config.block_size;
    if (m.config.vocab_size != 256 || m.config.seq_len != WINDOW || r->L > MAX_L || r->N + 1 > MAX_SRC) {
        fprintf(stderr, "error: %s: expected a byte-level model with seq_len %d, at most %d sublayers and "
                        "%d sources\n", r->path, WINDOW, MAX_L, MAX_SRC);
        attnres_model_free(&m);
        return 1;
    }
    if (attnres_state_init(&s, &m.config, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        attnres_model_free(&m);
        return 1;
    }
    rc = evaluate(r, &m, &s, text);
    attnres_state_free(&s);
    attnres_model_free(&m);
    return rc;
}

int main(void) {
    static result r[2] = {{"standard", DIR "standard_L32.safetensors", 0, 0, 0, 0, {0}, {0}, {{0}}, {0}},
                          {"block", DIR "block_L32.safetensors", 0, 0, 0, 0, {0}, {0}, {{0}}, {0}}};
    result *st = &r[0], *bl = &r[1];
    static int text[N_WINDOWS * WINDOW + 1];   /* byte-level: token id = byte value */
    int i, c, l, j, L, peak;
    double share[2] = {0.0, 0.0};   /* mean f_l / h_l of the standard model: sublayers 2..L/2-1, L/2..L-1 */
    double b0[6] = {0};   /* Block AttnRes, upper half, [attn, mlp]: alpha on b0, 1/n_sources, readers */
    char peak_label[64];  /* where the Block AttnRes h_l is largest */
    FILE *f = fopen(TEXT, "rb");

    printf("Lesson 12: the experiment's deepest models, evaluated in C.\n\n");
    if (!f) {
        fprintf(stderr, "error: cannot open %s (run the lessons from the repository root)\n", TEXT);
        return 1;
    }
    for (i = 0; i < N_WINDOWS * WINDOW + 1 && (c = fgetc(f)) != EOF; i++) text[i] = c;
    fclose(f);
    if (i < N_WINDOWS * WINDOW + 1) {
        fprintf(stderr, "error: %s holds only %d bytes, the lesson reads %d\n", TEXT, i, N_WINDOWS * WINDOW + 1);
        return 1;
    }
    for (i = 0; i < 2; i++) if (run(&r[i], text)) return 1;
    if (st->S != 0 || bl->S < 2 || bl->L != st->L) {
        fprintf(stderr, "error: expected a standard and a Block AttnRes model of the same depth\n");
        return 1;
    }
    L = st->L;

    printf("(a) Validation loss: %d windows of %d bytes (%d predictions), each from an empty cache:\n\n",
           N_WINDOWS, WINDOW, N_WINDOWS * WINDOW);
    printf("    %-22s %10s %10s\n", "model", "nats/byte", "bits/byte");
    printf("    %-22s %10.4f %10.4f\n", "standard", st->nats, st->nats / log(2.0));
    printf("    Block AttnRes (S = %d) %10.4f %10.4f\n", bl->S, bl->nats, bl->nats / log(2.0));
    printf("    %-22s %10.4f %10.4f\n", "uniform guess", log(256.0), 8.0);
    printf("    On these %d bytes the %s model is lower by %.4f nats/byte. One seed and 1 KB of\n"
           "    text decide nothing: docs/experiments/ has the loss on 64 KB for five seeds each.\n",
           N_WINDOWS * WINDOW, st->nats <= bl->nats ? "standard" : "Block AttnRes", fabs(st->nats - bl->nats));

    printf("\n(b) What every sublayer reads, RMS(h_l), averaged over the %d positions:\n\n", N_WINDOWS * WINDOW);
    printf("    %-14s %10s %10s %10s\n", "reads", "standard", "f_l / h_l", "block");
    for (l = 0; l <= L; l++) {
        char label[40];   /* room for any int l */
        if (l < L) snprintf(label, sizeof label, "h_%d (%s %d)", l, l % 2 ? "mlp" : "attn", l / 2);
        else snprintf(label, sizeof label, "final h");
        if (l < L) printf("    %-14s %10.4f %10.4f %10.4f\n", label, st->rms_h[l], st->rms_f[l] / st->rms_h[l], bl->rms_h[l]);
        else printf("    %-14s %10.4f %10s %10.4f\n", label, st->rms_h[l], "", bl->rms_h[l]);
    }
    peak = 0;
    for (l = 1; l <= L; l++) if (bl->rms_h[l] > bl->rms_h[peak]) peak = l;
    if (peak == L) snprintf(peak_label, sizeof peak_label, "the final norm's input");
    else snprintf(peak_label, sizeof peak_label, "h_%d, read by %s %d", peak, peak % 2 ? "mlp" : "attn", peak / 2);
    for (l = 2; l < L; l++) share[l < L / 2 ? 0 : 1] += st->rms_f[l] / st->rms_h[l];
    share[0] /= L / 2 - 2;
    share[1] /= L - L / 2;
    printf("    The standard stream is a running sum: from h_2 on it grows to %.2f times its size at h_2\n"
           "    by the final norm. What a sublayer adds, f_l / h_l, is on average %.3f of the stream in\n"
           "    sublayers 2..%d and %.3f in sublayers %d..%d:\n"
           "    %s.\n"
           "    A Block AttnRes h_l is a convex mix of at most %d sources; its largest RMS is %.4f\n"
           "    (%s), while the standard stream ends at %.4f.\n",
           st->rms_h[L] / st->rms_h[2], share[0], L / 2 - 1, share[1], L / 2, L - 1,
           share[1] < share[0] ? "the deeper, the smaller each contribution (PreNorm dilution)"
                               : "no dilution with depth in this model",
           bl->N + 1, bl->rms_h[peak], peak_label, st->rms_h[L]);

    printf("\n(c) Where Block AttnRes looks (S = %d, N = %d): the mean alpha every reader gives each of\n"
           "    its sources: the embedding b0, the completed blocks, and (marked p) the partial sum of\n"
           "    its own block, which every sublayer but the first of a block reads. Rows sum to 1.\n\n",
           bl->S, bl->N);
    printf("    %-9s", "reader");
    for (j = 0; j <= bl->N; j++) printf("     b%d", j);
    printf("\n");
    for (l = 0; l <= L; l++) {
        char label[24], line[256];   /* label: room for any int l */
        int partial = l < L && l % bl->S != 0, n;
        if (l < L) snprintf(label, sizeof label, "%s %d", l % 2 ? "mlp" : "attn", l / 2);
        else snprintf(label, sizeof label, "output");
        n = snprintf(line, sizeof line, "    %-9s", label);
        for (j = 0; j <= bl->N && n < (int)sizeof line - 8; j++) {
            if (j < bl->alpha_count[l])
                n += snprintf(line + n, sizeof line - n, " %5.3f%c", bl->alpha[l][j],
                              partial && j == bl->alpha_count[l] - 1 ? 'p' : ' ');
            else n += snprintf(line + n, sizeof line - n, "   .   ");
        }
        while (n > 0 && line[n - 1] == ' ') line[--n] = '\0';   /* no trailing blanks */
        printf("%s\n", line);
        if (l >= L / 2 && l < L) {   /* the upper half: weight on b0, attention and MLP readers */
            b0[l % 2] += bl->alpha[l][0];
            b0[2 + l % 2] += 1.0 / bl->alpha_count[l];
            b0[4 + l % 2] += 1.0;
        }
    }
    printf("    In the upper half (sublayers %d..%d) the attention sublayers give the embedding b0 a mean\n"
           "    weight of %.3f and the MLPs %.3f; a uniform mix of the same sources would give %.3f\n"
           "    and %.3f. In the standard model the embedding is one of the %d unweighted terms of\n"
           "    the stream that every sublayer reads.\n",
           L / 2, L - 1, b0[0] / b0[4], b0[1] / b0[5], b0[2] / b0[4], b0[3] / b0[5], L + 1);
    return 0;
}
