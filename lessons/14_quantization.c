/* Lesson 14 - int8 weights: a quarter of the bytes, and what they cost.

   Decoding one token reads every weight once, so a decoder runs as fast as
   memory delivers its matrices. Stored as int8 instead of float32, a weight
   is one byte instead of four. attnres.h does it group by group (see
   attnres_quantize_q8): each row of a matrix is cut into groups of G = 32
   weights, and a group keeps one float scale s = max|w| / 127 and the
   integers q = round(w / s) in [-127, 127]; it stands for the weights s*q.
   Embeddings, norm gains and AttnRes vectors stay float32; activations too.

   This lesson measures the price on the trained models:
   (a) one group by hand;
   (b) the error of every matrix of the block model;
   (c) the same text through float32 and int8 copies of the standard and
       block models: per position the largest logit change and the KL
       divergence KL(p_fp32 || p_int8), the validation loss, and for AttnRes
       how far the depth weights alpha move;
   (d) greedy decoding of 200 bytes: how long the int8 model says exactly
       what the float32 one says.

   Reads models/{standard,block}.safetensors and models/corpus_val.txt.
   Run from the repository root:
     make lessons && ./build/default/lessons/14_quantization */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define TEXT "models/corpus_val.txt"
#define G 32             /* weights per scale */
#define N_PRED 256       /* predictions: bytes 1..256 from bytes 0..255 */
#define N_PROMPT 16      /* (d): prompt bytes, then N_GEN greedy bytes */
#define N_GEN 200
#define MAX_ALPHA 4096   /* room for (L+1)*(N+1) depth weights */

/* -log softmax(logits)[target] and KL(softmax(a) || softmax(b)), in double */
static double log_sum_exp(const float *x, int n) {
    double max = x[0], sum = 0.0;
    int i;
    for (i = 1; i < n; i++) if (x[i] > max) max = x[i];
    for (i = 0; i < n; i++) sum += exp((double)x[i] - max);
    return max + log(sum);
}
static double kl_divergence(const float *a, const float *b, int n) {
    double za = log_sum_exp(a, n), zb = log_sum_exp(b, n), kl = 0.0;
    int i;
    for (i = 0; i < n; i++) {
        double lp = a[i] - za, lq = b[i] - zb;
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

static int load(attnres_model *m, const char *path, int quantize) {
    attnres_error err;
    if (attnres_model_load(m, path, &err) != ATTNRES_OK ||
        (quantize && attnres_model_quantize(m, G, &err) != ATTNRES_OK)) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root)\n", err.message);
        return 0;
    }
    return 1;
}

/* (a) the first group of row 0 of layer 0's wq, quantized by hand */
static void one_group(const attnres_model *m) {
    int8_t q[G];
    float s, worst = 0.0f;
    int j;
    attnres_quantize_q8(q, &s, m->weights.wq, 1, G, G);
    printf("(a) one group: the first %d weights of row 0 of layers.0.attention.wq\n", G);
    printf("    s = max|w| / 127 = %.6f\n    %10s %5s %10s %10s\n", s, "w", "q", "s*q", "w - s*q");
    for (j = 0; j < G; j++) {
        float w = m->weights.wq[j], back = s * (float)q[j];
        if (fabsf(w - back) > worst) worst = fabsf(w - back);
        if (j < 6) printf("    %10.6f %5d %10.6f %10.6f\n", w, q[j], back, w - back);
    }
    printf("    ... largest |w - s*q| in the group: %.6f = %.3f s (rounding moves a weight by at most s/2)\n\n",
           worst, worst / s);
}

/* (b) relative error ||W - s*q|| / ||W|| and the largest |w - s*q| / s of
   one stacked matrix [rows, cols] */
static void matrix_error(const char *name, const float *w, int rows, int cols) {
    size_t n = (size_t)rows * (size_t)cols, i;
    int8_t *q = (int8_t *)malloc(n);
    float *s = (float *)malloc(n / G * sizeof(float)), *back = (float *)malloc(n * sizeof(float));
    double err2 = 0.0, w2 = 0.0, worst = 0.0;
    if (!q || !s || !back) { fprintf(stderr, "error: out of memory\n"); exit(1); }
    attnres_quantize_q8(q, s, w, rows, cols, G);
    attnres_dequantize_q8(back, q, s, rows, cols, G);
    for (i = 0; i < n; i++) {
        double d = (double)w[i] - back[i];
        err2 += d * d;
        w2 += (double)w[i] * w[i];
        if (s[i / G] > 0.0f && fabs(d) / s[i / G] > worst) worst = fabs(d) / s[i / G];
    }
    printf("    %-22s [%5d, %4d]   %.4f%%          %.3f\n", name, rows, cols, 100.0 * sqrt(err2 / w2), worst);
    free(q); free(s); free(back);
}

static void all_matrices(const attnres_model *m) {
    const attnres_config *c = &m->config;
    int nl = c->n_layers, d = c->dim, hd = c->hidden_dim, kv = attnres_kv_dim(c);
    double matrix_weights = (double)nl * (2.0 * d * d + 2.0 * kv * d + 3.0 * hd * d) + (double)c->vocab_size * d;
    printf("(b) every matrix of the block model, all layers stacked, groups of %d\n", G);
    printf("    %-22s %-14s ||W - s*q||/||W||   max |w - s*q|/s\n", "matrix", "shape");
    matrix_error("attention.wq", m->weights.wq, nl * d, d);
    matrix_error("attention.wk", m->weights.wk, nl * kv, d);
    matrix_error("attention.wv", m->weights.wv, nl * kv, d);
    matrix_error("attention.wo", m->weights.wo, nl * d, d);
    matrix_error("feed_forward.w1", m->weights.w1, nl * hd, d);
    matrix_error("feed_forward.w2", m->weights.w2, nl * d, hd);
    matrix_error("feed_forward.w3", m->weights.w3, nl * hd, d);
    matrix_error("output (= embeddings)", m->weights.output, c->vocab_size, d);
    printf("    A group's error is set by its largest weight: about s/sqrt(12) = max|w| / 440 per weight,\n"
           "    so the error relative to the matrix is small where a group's weights are alike in size.\n");
    printf("    bytes of the %.0f matrix weights: %.0f as float32, %.0f as int8 + scales (1 + 4/%d bytes each),\n"
           "    %.2fx fewer\n\n", matrix_weights, 4.0 * matrix_weights, matrix_weights * (1.0 + 4.0 / G), G,
           4.0 / (1.0 + 4.0 / G));
}

/* (c) the same text through both copies of one model */
typedef struct { double nats32, nats8, kl_sum, kl_max, dlogit_max, alpha_sum, alpha_max; int kl_at, dlogit_at, top1; } compared;

static int compare_on_text(const char *name, const char *path, const int *text, compared *r) {
    attnres_model m32, m8;
    attnres_state s32, s8;
    attnres_error err;
    static float out32[MAX_ALPHA], out8[MAX_ALPHA];   /* output row of alpha, summed over positions */
    int pos, i, V, L, rows, n_alpha = 0, ok = 0;
    memset(r, 0, sizeof *r);
    if (!load(&m32, path, 0)) return 0;
    if (!load(&m8, path, 1)) { attnres_model_free(&m32); return 0; }
    V = m32.config.vocab_size;
    L = attnres_n_sublayers(&m32.config);
    rows = attnres_n_blocks(&m32.config) + 1;
    if (attnres_state_init(&s32, &m32.config, &err) != ATTNRES_OK ||
        attnres_state_init(&s8, &m8.config, &err) != ATTNRES_OK || (L + 1) * rows > MAX_ALPHA) {
        fprintf(stderr, "error: %s\n", err.message);
        goto done;
    }
    memset(out32, 0, sizeof out32); memset(out8, 0, sizeof out8);
    printf("    %s: %6s %16s %14s\n", name, "pos", "max |dlogit|", "KL(fp32||int8)");
    for (pos = 0; pos < N_PRED; pos++) {
        const float *a = attnres_forward(&m32, &s32, text[pos], pos, &err), *b;
        double kl, dmax = 0.0;
        if (!a || !(b = attnres_forward(&m8, &s8, text[pos], pos, &err))) { fprintf(stderr, "error: %s\n", err.message); goto done; }
        for (i = 0; i < V; i++) if (fabs((double)a[i] - b[i]) > dmax) dmax = fabs((double)a[i] - b[i]);
        kl = kl_divergence(a, b, V);
        r->nats32 += log_sum_exp(a, V) - a[text[pos + 1]];
        r->nats8 += log_sum_exp(b, V) - b[text[pos + 1]];
        r->kl_sum += kl;
        if (kl > r->kl_max) { r->kl_max = kl; r->kl_at = pos; }
        if (dmax > r->dlogit_max) { r->dlogit_max = dmax; r->dlogit_at = pos; }
        r->top1 += attnres_argmax(a, V) == attnres_argmax(b, V);
        if (pos % 32 == 0 || pos == N_PRED - 1) printf("    %*s  %6d %16.5f %14.3e\n", (int)strlen(name), "", pos, dmax, kl);
        if (m32.config.residual == ATTNRES_RESIDUAL_ATTNRES) {   /* every depth weight of every sublayer */
            n_alpha = (L + 1) * rows;
            for (i = 0; i < n_alpha; i++) {
                double d = fabs((double)s32.alpha[i] - s8.alpha[i]);
                r->alpha_sum += d;
                if (d > r->alpha_max) r->alpha_max = d;
            }
            for (i = 0; i < rows; i++) { out32[i] += s32.alpha[L * rows + i]; out8[i] += s8.alpha[L * rows + i]; }
        }
    }
    r->nats32 /= N_PRED; r->nats8 /= N_PRED;
    if (n_alpha) {
        r->alpha_sum /= (double)N_PRED * n_alpha;
        printf("    %s: depth weights alpha, all %d sublayers + output, %d positions: mean |dalpha| %.2e, "
               "max %.2e\n", name, L, N_PRED, r->alpha_sum, r->alpha_max);
        printf("    %s: output aggregation, alpha over [b0..b%d] averaged over positions\n      fp32:", name, rows - 1);
        for (i = 0; i < rows; i++) printf(" %.4f", out32[i] / N_PRED);
        printf("\n      int8:");
        for (i = 0; i < rows; i++) printf(" %.4f", out8[i] / N_PRED);
        printf("\n");
    }
    ok = 1;
done:
    attnres_state_free(&s32); attnres_state_free(&s8);
    attnres_model_free(&m32); attnres_model_free(&m8);
    return ok;
}

/* (d) greedy decoding from the same prompt; out [N_GEN] */
static int greedy(const char *path, int quantize, const int *prompt, int *out) {
    attnres_model m;
    attnres_state s;
    attnres_error err;
    const float *logits = NULL;
    int pos, ok = 0;
    if (!load(&m, path, quantize)) return 0;
    if (attnres_state_init(&s, &m.config, &err) == ATTNRES_OK &&
        (logits = attnres_prefill(&m, &s, prompt, N_PROMPT, &err)) != NULL) {
        for (pos = 0; pos < N_GEN; pos++) {
            out[pos] = attnres_argmax(logits, m.config.vocab_size);
            if (pos + 1 < N_GEN && !(logits = attnres_forward(&m, &s, out[pos], N_PROMPT + pos, &err))) break;
        }
        ok = pos == N_GEN;
    }
    if (!ok) fprintf(stderr, "error: %s\n", err.message);
    attnres_state_free(&s);
    attnres_model_free(&m);
    return ok;
}

static void print_bytes(const char *label, const int *t, int n) {
    int i;
    printf("      %s \"", label);
    for (i = 0; i < n; i++) putchar(t[i] >= 32 && t[i] < 127 && t[i] != '"' ? t[i] : t[i] == '\n' ? '/' : '.');
    printf("\"\n");
}

int main(void) {
    static const char *names[2] = {"standard", "block"};
    static const char *paths[2] = {"models/standard.safetensors", "models/block.safetensors"};
    static int text[N_PRED + 1];
    int gen32[N_GEN], gen8[N_GEN], i, k, c;
    compared r[2];
    attnres_model block;
    FILE *f = fopen(TEXT, "rb");
    if (!f) { fprintf(stderr, "error: cannot open %s (run from the repository root)\n", TEXT); return 1; }
    for (i = 0; i < N_PRED + 1 && (c = fgetc(f)) != EOF; i++) text[i] = c;
    fclose(f);
    if (i < N_PRED + 1) { fprintf(stderr, "error: %s is shorter than %d bytes\n", TEXT, N_PRED + 1); return 1; }

    if (!load(&block, paths[1], 0)) return 1;
    one_group(&block);
    all_matrices(&block);
    attnres_model_free(&block);

    printf("(c) the first %d bytes of %s, float32 and int8 copies side by side\n", N_PRED + 1, TEXT);
    for (k = 0; k < 2; k++) if (!compare_on_text(names[k], paths[k], text, &r[k])) return 1;
    printf("\n    %-9s %10s %10s %12s %16s %18s %8s\n", "model", "loss fp32", "loss int8", "change", "mean KL",
           "max KL (pos)", "top-1");
    for (k = 0; k < 2; k++)
        printf("    %-9s %10.4f %10.4f %+12.5f %16.3e %10.3e (%3d) %4d/%d\n", names[k], r[k].nats32 / log(2.0),
               r[k].nats8 / log(2.0), (r[k].nats8 - r[k].nats32) / log(2.0), r[k].kl_sum / N_PRED,
               r[k].kl_max, r[k].kl_at, r[k].top1, N_PRED);
    printf("    (loss in bits per byte; top-1: positions where both copies rank the same byte first)\n");
    for (k = 0; k < 2; k++)
        printf("    %s: largest logit change %.4f at position %d\n", names[k], r[k].dlogit_max, r[k].dlogit_at);

    printf("\n(d) greedy decoding of %d bytes after the first %d bytes of the text\n", N_GEN, N_PROMPT);
    for (k = 0; k < 2; k++) {
        int same = 0, first = -1;
        if (!greedy(paths[k], 0, text, gen32) || !greedy(paths[k], 1, text, gen8)) return 1;
        for (i = 0; i < N_GEN; i++) {
            same += gen32[i] == gen8[i];
            if (first < 0 && gen32[i] != gen8[i]) first = i;
        }
        if (first < 0) printf("    %s: int8 and float32 write the same %d bytes\n", names[k], N_GEN);
        else printf("    %s: the same first %d bytes; %d of %d positions agree in all\n", names[k], first, same, N_GEN);
        print_bytes("fp32", gen32, 60);
        print_bytes("int8", gen8, 60);
    }
    printf("\n    Reading it: int8 moves the loss by %+.3f%% (standard) and %+.3f%% (block) of its value,\n"
           "    and the next-byte distribution by a mean KL of %.1e nats: rounding every weight by up\n"
           "    to s/2 acts like a little noise, which a trained model barely notices (either sign of\n"
           "    the change is possible; on %d bytes it is noise too). Once greedy decoding picks one\n"
           "    different byte, everything after it is a different text, so agreement over a long\n"
           "    generation measures near-ties as much as accuracy. docs/quantization.md has the speed\n"
           "    that the 3.56x fewer bytes buy.\n",
           100.0 * (r[0].nats8 - r[0].nats32) / r[0].nats32, 100.0 * (r[1].nats8 - r[1].nats32) / r[1].nats32,
           0.5 * (r[0].kl_sum + r[1].kl_sum) / N_PRED, N_PRED);
    return 0;
}
