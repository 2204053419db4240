/* Lesson 14 - int8 weights, then int8 activations: what each rounding costs.

   Decoding one token reads every weight once, so a decoder runs as fast as
   memory delivers its matrices. Stored as int8 instead of float32, a weight
   is one byte instead of four. attnres.h does it group by group (see
   attnres_quantize_q8): each row of a matrix is cut into groups of G = 32
   weights, and a group keeps one float scale s = max|w| / 127 and the
   integers q = round(w / s) in [-127, 127]; it stands for the weights s*q.
   Embeddings, norm gains and AttnRes vectors stay float32. That is "W8".

   "W8A8" goes one step further (m.q8.int8_activations = 1, as llama2.c's
   runq.c does): before every matvec the input vector x is rounded by the
   same rule and groups, and the products are int8 x int8. It saves no
   memory traffic (x is a few hundred bytes in cache); it is a second
   rounding, taken for faster arithmetic. Norms, pseudo-queries and the
   depth softmax stay float32 in both.

   This lesson measures the price on the trained models:
   (a) one weight group by hand, and one activation group;
   (b) the error of every matrix of the block model;
   (c) the same text through float32, W8 and W8A8 copies of the standard
       and block models: the largest logit change and the KL divergence
       KL(p_fp32 || p_copy) (per position for W8; W8A8's vary by build, see
       main), the validation loss, top-1 agreement, and for AttnRes how far
       the depth weights alpha move;
   (d) greedy decoding of 200 bytes: how long each copy says exactly what
       the float32 model says.

   Reads models/{standard,block}.safetensors and models/corpus_val.txt.
   Run from the repository root:
     make lessons && ./build/default/lessons/14_quantization */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define TEXT "models/corpus_val.txt"
#define G 32             /* weights (and activations) per scale */
#define N_PRED 256       /* predictions: bytes 1..256 from bytes 0..255 */
#define N_PROMPT 16      /* (d): prompt bytes, then N_GEN greedy bytes */
#define N_GEN 200
#define MAX_ALPHA 4096   /* room for (L+1)*(N+1) depth weights */

/* the three copies of a model: 0 fp32, 1 W8, 2 W8A8 */
enum { FP32, W8, W8A8, N_COPIES };
static const char *copy_name[N_COPIES] = {"fp32", "W8", "W8A8"};

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

/* copy FP32: as stored; W8: weights quantized; W8A8: and the flag that
   makes every matvec quantize its input too (set after quantizing) */
static int load(attnres_model *m, const char *path, int copy) {
    attnres_error err;
    if (attnres_model_load(m, path, &err) != ATTNRES_OK ||
        (copy != FP32 && attnres_model_quantize(m, G, &err) != ATTNRES_OK)) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root)\n", err.message);
        return 0;
    }
    m->q8.int8_activations = copy == W8A8;
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
    printf("    ... largest |w - s*q| in the group: %.6f = %.3f s (rounding moves a weight by at most s/2)\n",
           worst, worst / s);
}

/* (a) one activation vector, rounded the way W8A8 rounds every matvec
   input: the final RMSNorm output of the fp32 model at position 0, which
   the output projection reads. Unlike a weight, it is new for every token,
   so W8A8 quantizes it at run time, inside each matvec. */
static int one_activation(const attnres_model *m, int token) {
    attnres_state s;
    attnres_error err;
    int d = m->config.dim, j, g;
    int8_t *q = (int8_t *)malloc((size_t)d);
    float *scale = (float *)malloc((size_t)(d / G) * sizeof(float));
    double err2 = 0.0, x2 = 0.0;
    if (!q || !scale) { fprintf(stderr, "error: out of memory\n"); exit(1); }
    if (attnres_state_init(&s, &m->config, &err) != ATTNRES_OK || !attnres_forward(m, &s, token, 0, &err)) {
        fprintf(stderr, "error: %s\n", err.message);
        free(q); free(scale);
        return 0;
    }
    attnres_quantize_q8(q, scale, s.xb, 1, d, G);   /* what W8A8 does to it: one row of d/G groups */
    printf("    one activation vector: the %d inputs of the output projection at position 0 (fp32 model),\n"
           "    %d groups of %d; group 0: s_x = max|x| / 127 = %.6f\n    %10s %5s %10s %10s\n", d, d / G, G,
           scale[0], "x", "q", "s_x*q", "x - s_x*q");
    for (j = 0; j < 3; j++) {
        float back = scale[0] * (float)q[j];
        printf("    %10.6f %5d %10.6f %10.6f\n", s.xb[j], q[j], back, s.xb[j] - back);
    }
    printf("    ... max|x| of the %d groups:", d / G);
    for (g = 0; g < d / G; g++) printf(" %.4f", 127.0f * scale[g]);
    for (j = 0; j < d; j++) {
        double e = (double)s.xb[j] - scale[j / G] * (float)q[j];
        err2 += e * e;
        x2 += (double)s.xb[j] * s.xb[j];
    }
    printf("; ||x - s_x*q||/||x|| = %.4f%% (the matrices: see (b))\n\n", 100.0 * sqrt(err2 / x2));
    attnres_state_free(&s);
    free(q); free(scale);
    return 1;
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

/* (c) the same text through the three copies of one model; per copy, its
   loss, and (for W8 and W8A8) how far it is from the fp32 copy */
typedef struct {
    double nats[N_COPIES], kl_sum[N_COPIES], kl_max[N_COPIES], dlogit_max[N_COPIES];
    double alpha_sum[N_COPIES], alpha_max[N_COPIES];
    int top1[N_COPIES];
} compared;

static int compare_on_text(const char *name, const char *path, const int *text, compared *r) {
    attnres_model m[N_COPIES];
    attnres_state s[N_COPIES];
    attnres_error err;
    static float out_alpha[N_COPIES][MAX_ALPHA];   /* output row of alpha, summed over positions */
    int pos, i, k, V, L, rows, n_alpha = 0, loaded = 0, ok = 0;
    memset(r, 0, sizeof *r);
    memset(s, 0, sizeof s);
    for (loaded = 0; loaded < N_COPIES; loaded++) if (!load(&m[loaded], path, loaded)) goto done;
    V = m[FP32].config.vocab_size;
    L = attnres_n_sublayers(&m[FP32].config);
    rows = attnres_n_blocks(&m[FP32].config) + 1;
    if ((L + 1) * rows > MAX_ALPHA) { fprintf(stderr, "error: more than %d depth weights\n", MAX_ALPHA); goto done; }
    for (k = 0; k < N_COPIES; k++)
        if (attnres_state_init(&s[k], &m[k].config, &err) != ATTNRES_OK) {
            fprintf(stderr, "error: %s\n", err.message);
            goto done;
        }
    memset(out_alpha, 0, sizeof out_alpha);
    printf("    %s: %6s %16s %14s\n", name, "pos", "max |dlogit|", "KL(fp32||W8)");
    for (pos = 0; pos < N_PRED; pos++) {
        const float *logits[N_COPIES];
        double dmax[N_COPIES] = {0.0}, kl[N_COPIES] = {0.0};
        for (k = 0; k < N_COPIES; k++)
            if (!(logits[k] = attnres_forward(&m[k], &s[k], text[pos], pos, &err))) {
                fprintf(stderr, "error: %s\n", err.message);
                goto done;
            }
        for (k = 0; k < N_COPIES; k++) {
            r->nats[k] += log_sum_exp(logits[k], V) - logits[k][text[pos + 1]];
            if (k == FP32) continue;
            for (i = 0; i < V; i++) {
                double d = fabs((double)logits[FP32][i] - logits[k][i]);
                if (d > dmax[k]) dmax[k] = d;
            }
            kl[k] = kl_divergence(logits[FP32], logits[k], V);
            r->kl_sum[k] += kl[k];
            if (kl[k] > r->kl_max[k]) r->kl_max[k] = kl[k];
            if (dmax[k] > r->dlogit_max[k]) r->dlogit_max[k] = dmax[k];
            r->top1[k] += attnres_argmax(logits[FP32], V) == attnres_argmax(logits[k], V);
        }
        /* W8 only: W8A8's per-position numbers differ between builds (see main) */
        if (pos % 32 == 0 || pos == N_PRED - 1)
            printf("    %*s  %6d %16.5f %14.3e\n", (int)strlen(name), "", pos, dmax[W8], kl[W8]);
        if (m[FP32].config.residual == ATTNRES_RESIDUAL_ATTNRES) {   /* every depth weight of every sublayer */
            n_alpha = (L + 1) * rows;
            for (k = 0; k < N_COPIES; k++) {
                for (i = 0; i < n_alpha && k != FP32; i++) {
                    double d = fabs((double)s[FP32].alpha[i] - s[k].alpha[i]);
                    r->alpha_sum[k] += d;
                    if (d > r->alpha_max[k]) r->alpha_max[k] = d;
                }
                for (i = 0; i < rows; i++) out_alpha[k][i] += s[k].alpha[L * rows + i];
            }
        }
    }
    for (k = 0; k < N_COPIES; k++) r->nats[k] /= N_PRED;
    if (n_alpha) {
        printf("    %s: depth weights alpha, all %d sublayers + output, %d positions, |dalpha| vs fp32:\n",
               name, L, N_PRED);
        for (k = W8; k < N_COPIES; k++) {
            r->alpha_sum[k] /= (double)N_PRED * n_alpha;
            printf("      %-4s mean %.2e, max %.2e\n", copy_name[k], r->alpha_sum[k], r->alpha_max[k]);
        }
        printf("    %s: output aggregation, alpha over [b0..b%d] averaged over positions\n", name, rows - 1);
        for (k = 0; k < N_COPIES; k++) {
            printf("      %-4s", copy_name[k]);
            for (i = 0; i < rows; i++) printf(" %.4f", out_alpha[k][i] / N_PRED);
            printf("\n");
        }
    }
    ok = 1;
done:
    for (k = 0; k < loaded; k++) { attnres_state_free(&s[k]); attnres_model_free(&m[k]); }
    return ok;
}

/* (d) greedy decoding from the same prompt; out [N_GEN] */
static int greedy(const char *path, int copy, const int *prompt, int *out) {
    attnres_model m;
    attnres_state s;
    attnres_error err;
    const float *logits = NULL;
    int pos, ok = 0;
    if (!load(&m, path, copy)) return 0;
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
    printf("      %-4s \"", label);
    for (i = 0; i < n; i++) putchar(t[i] >= 32 && t[i] < 127 && t[i] != '"' ? t[i] : t[i] == '\n' ? '/' : '.');
    printf("\"\n");
}

/* a change of the loss, in percent of fp32's, as words; one that rounds
   to zero at this many digits is "within" half a unit of the last digit */
static void print_change(double nats, double nats32, int digits) {
    double pct = 100.0 * (nats - nats32) / nats32, half_unit = 0.5 * pow(10.0, -digits);
    if (fabs(pct) < half_unit) printf("within %.*f%% of it", digits + 1, half_unit);
    else printf("%.*f%% %s", digits, fabs(pct), pct > 0.0 ? "above" : "below");
}

int main(void) {
    static const char *names[2] = {"standard", "block"};
    static const char *paths[2] = {"models/standard.safetensors", "models/block.safetensors"};
    static int text[N_PRED + 1];
    int gen[N_COPIES][N_GEN], i, k, v, c;
    compared r[2];
    attnres_model block;
    FILE *f = fopen(TEXT, "rb");
    if (!f) { fprintf(stderr, "error: cannot open %s (run from the repository root)\n", TEXT); return 1; }
    for (i = 0; i < N_PRED + 1 && (c = fgetc(f)) != EOF; i++) text[i] = c;
    fclose(f);
    if (i < N_PRED + 1) { fprintf(stderr, "error: %s is shorter than %d bytes\n", TEXT, N_PRED + 1); return 1; }

    if (!load(&block, paths[1], FP32)) return 1;
    one_group(&block);
    if (!one_activation(&block, text[0])) return 1;
    all_matrices(&block);
    attnres_model_free(&block);

    printf("(c) the first %d bytes of %s through fp32, W8 and W8A8 copies\n", N_PRED + 1, TEXT);
    for (k = 0; k < 2; k++) if (!compare_on_text(names[k], paths[k], text, &r[k])) return 1;
    /* The W8A8 rows get fewer digits. W8A8 rounds activations, and an
       activation is the result of float sums: a SIMD build, adding in
       another order, changes its last bits, and where it sits near the
       middle between two multiples of s_x, rounding sends it to the other
       integer. One such flip moves a logit by about s_x * |w|, far more
       than float32 noise, so W8A8's numbers differ between builds in the
       second or third digit (and per position more: (c) shows W8 only). */
    printf("\n    %-9s %-5s %7s %9s %11s %11s %13s %8s\n", "model", "copy", "loss", "change", "mean KL",
           "max KL", "max |dlogit|", "top-1");
    for (k = 0; k < 2; k++) {
        double pct[N_COPIES];
        for (v = 0; v < N_COPIES; v++) pct[v] = 100.0 * (r[k].nats[v] - r[k].nats[FP32]) / r[k].nats[FP32];
        printf("    %-9s %-5s %7.4f\n", names[k], copy_name[FP32], r[k].nats[FP32] / log(2.0));
        printf("    %-9s %-5s %7.4f %+8.3f%% %11.3e %11.3e %13.4f %4d/%d\n", "", copy_name[W8],
               r[k].nats[W8] / log(2.0), pct[W8], r[k].kl_sum[W8] / N_PRED, r[k].kl_max[W8], r[k].dlogit_max[W8],
               r[k].top1[W8], N_PRED);
        printf("    %-9s %-5s %7.4f %+8.1f%% %11.1e %11.1e %13.2f %4d/%d\n", "", copy_name[W8A8],
               r[k].nats[W8A8] / log(2.0), pct[W8A8], r[k].kl_sum[W8A8] / N_PRED, r[k].kl_max[W8A8],
               r[k].dlogit_max[W8A8], r[k].top1[W8A8], N_PRED);
    }
    printf("    (loss in bits per byte, change in %% of fp32's; KL and |dlogit| against fp32; top-1: positions\n"
           "    where the copy ranks the same byte first as fp32. W8A8 has fewer digits: a last-bit change\n"
           "    of an activation, as a SIMD build makes, can flip its rounding, so its figures vary by build.)\n");

    printf("\n(d) greedy decoding of %d bytes after the first %d bytes of the text\n", N_GEN, N_PROMPT);
    for (k = 0; k < 2; k++) {
        for (v = 0; v < N_COPIES; v++) if (!greedy(paths[k], v, text, gen[v])) return 1;
        for (v = W8; v < N_COPIES; v++) {
            int same = 0, first = -1;
            for (i = 0; i < N_GEN; i++) {
                same += gen[FP32][i] == gen[v][i];
                if (first < 0 && gen[FP32][i] != gen[v][i]) first = i;
            }
            if (first < 0) printf("    %s: %s and fp32 write the same %d bytes\n", names[k], copy_name[v], N_GEN);
            else printf("    %s: %s and fp32 write the same first %d bytes; %d of %d positions agree in all\n",
                        names[k], copy_name[v], first, same, N_GEN);
        }
        for (v = 0; v < N_COPIES; v++) print_bytes(copy_name[v], gen[v], 60);
    }

    printf("\n    Reading it: against fp32's loss, W8's is ");
    print_change(r[0].nats[W8], r[0].nats[FP32], 3);
    printf(" (standard) and ");
    print_change(r[1].nats[W8], r[1].nats[FP32], 3);
    printf(" (block);\n    W8A8's is ");
    print_change(r[0].nats[W8A8], r[0].nats[FP32], 1);
    printf(" (standard) and ");
    print_change(r[1].nats[W8A8], r[1].nats[FP32], 1);
    printf(" (block). Rounding the\n"
           "    activations too makes the mean KL %.0f times W8's (standard) and %.0f times (block): each\n"
           "    matvec input moves by up to max|x|/254 of its group, anew for every token, on top of the\n"
           "    weights' rounding. Either sign of a loss change is possible; on %d bytes it is noise too.\n"
           "    Once greedy decoding picks one different byte, everything after it is a different text,\n"
           "    so agreement over a long generation measures near-ties as much as accuracy.\n"
           "    docs/quantization.md has the speed that the %.2fx fewer bytes (both copies) and the int8\n"
           "    products (W8A8) buy.\n",
           r[0].kl_sum[W8A8] / r[0].kl_sum[W8], r[1].kl_sum[W8A8] / r[1].kl_sum[W8], N_PRED, 4.0 / (1.0 + 4.0 / G));
    return 0;
}
