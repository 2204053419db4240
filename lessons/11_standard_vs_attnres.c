/* Lesson 11 - standard residuals and AttnRes, side by side.

   The three trained models were made the same way (tools/train.py: same
   data, same steps, same seed, same initial weights where they share a
   tensor); only the residual differs:
     standard  h <- h + f_l(h): every sublayer adds to one running sum
     block     Block AttnRes, S = 2: each sublayer mixes [b0, blocks, partial]
     full      Full AttnRes, S = 1: each sublayer mixes b0 and every earlier f
   This lesson puts them next to each other on the same text:
   (a) the size of the hidden state across depth. In a pre-norm standard
       model h_l = embedding + f_0 + .. + f_{l-1} only grows, so a late
       sublayer's output is a smaller and smaller part of the stream (the
       paper's "PreNorm dilution"). An AttnRes h_l is a convex mix of its
       sources (alpha >= 0, sum 1), so it is never longer than the longest
       source it reads. Size here is RMS(x) = sqrt(mean_i x_i^2), averaged
       over the positions; RMSNorm divides exactly this out.
   (b) the validation loss, computed here in C: the mean cross-entropy
       -log p(next byte) = logsumexp(logits) - logits[next], in nats per
       byte, and / ln 2 in bits per byte.

   Reads models/{standard,block,full}.safetensors and models/corpus_val.txt.
   Run from the repository root:
     make lessons && ./build/default/lessons/11_standard_vs_attnres */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define TEXT "models/corpus_val.txt"
#define N_PRED 256       /* predictions: bytes 1..256 from bytes 0..255 (one window) */
#define N_MODELS 3
#define MAX_L 64         /* room for the per-sublayer sums; checked against the config */

typedef struct {
    const char *name, *path;
    int L, N, S;                  /* sublayers, blocks, block size (0: standard) */
    long params;                  /* parameters, counted from the config */
    double rms_h[MAX_L + 1];      /* [L+1] mean RMS of h_l; [L]: the h into the final norm */
    double rms_f[MAX_L];          /* [L]   standard: mean RMS of f_l = h_{l+1} - h_l        */
    double rms_b[MAX_L + 1];      /* [N+1] AttnRes: mean RMS of b_n (full: b_{l+1} = f_l)   */
    double nats;                  /* mean cross-entropy, nats per byte                      */
} result;

/* RMS(x) of x [n], summed in double */
static double rms(const float *x, int n) {
    double sum = 0.0;
    int i;
    for (i = 0; i < n; i++) sum += (double)x[i] * (double)x[i];
    return sqrt(sum / n);
}

/* -log softmax(logits)[target], in double: logsumexp minus the target's
   logit, with the max subtracted first so that exp cannot overflow. */
static double cross_entropy(const float *logits, int n, int target) {
    double max = logits[0], sum = 0.0;
    int i;
    for (i = 1; i < n; i++) if (logits[i] > max) max = logits[i];
    for (i = 0; i < n; i++) sum += exp((double)logits[i] - max);
    return max + log(sum) - (double)logits[target];
}

/* Parameters of a config: the tensors of the README's table. */
static long count_params(const attnres_config *c) {
    long d = c->dim, q = (long)c->n_heads * attnres_head_dim(c), kv = attnres_kv_dim(c);
    long per_layer = 2 * d + q * d + 2 * kv * d + d * q + 3 * (long)c->hidden_dim * d;
    long n = (long)c->vocab_size * d + c->n_layers * per_layer + d;
    if (!c->tie_embeddings) n += (long)c->vocab_size * d;
    if (c->residual == ATTNRES_RESIDUAL_ATTNRES) n += 2 * d * (attnres_n_sublayers(c) + 1);
    return n;
}

/* Runs one model over tokens [N_PRED + 1]. Returns 0, or 1 after printing the error. */
static int run(result *r, const int *tokens) {
    attnres_model m;
    attnres_state s;
    attnres_error err;
    int pos, l, d, rc = 1;

    if (attnres_model_load(&m, r->path, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root; the trained models come from "
                        "tools/train.py, see the README)\n", err.message);
        return 1;
    }
    r->L = attnres_n_sublayers(&m.config);
    r->N = attnres_n_blocks(&m.config);
    r->S = m.config.block_size;
    r->params = count_params(&m.config);
    d = m.config.dim;
    if (m.config.vocab_size != 256 || m.config.seq_len < N_PRED || r->L > MAX_L) {
        fprintf(stderr, "error: %s: expected a byte-level model with seq_len >= %d and at most %d sublayers\n",
                r->path, N_PRED, MAX_L);
        attnres_model_free(&m);
        return 1;
    }
    if (attnres_state_init(&s, &m.config, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        attnres_model_free(&m);
        return 1;
    }
    for (pos = 0; pos < N_PRED; pos++) {
        const float *logits = attnres_forward(&m, &s, tokens[pos], pos, &err);
        if (!logits) { fprintf(stderr, "error: %s\n", err.message); goto done; }
        r->nats += cross_entropy(logits, m.config.vocab_size, tokens[pos + 1]);
        for (l = 0; l < r->L; l++) r->rms_h[l] += rms(s.sublayer_input + (size_t)l * d, d);
        r->rms_h[r->L] += rms(s.x, d);   /* the vector into the final RMSNorm */
        if (r->S == 0) {
            /* standard: what sublayer l added is h_{l+1} - h_l (h_L: the final h) */
            for (l = 0; l < r->L; l++) {
                const float *h0 = s.sublayer_input + (size_t)l * d;
                const float *h1 = l + 1 < r->L ? h0 + d : s.x;
                double sum = 0.0;
                int i;
                for (i = 0; i < d; i++) sum += ((double)h1[i] - h0[i]) * ((double)h1[i] - h0[i]);
                r->rms_f[l] += sqrt(sum / d);
            }
        } else {
            for (l = 0; l <= r->N; l++) r->rms_b[l] += rms(s.bs.blocks + (size_t)l * d, d);
        }
    }
    for (l = 0; l <= r->L; l++) r->rms_h[l] /= N_PRED;
    for (l = 0; l < r->L; l++) r->rms_f[l] /= N_PRED;
    for (l = 0; l <= r->N; l++) r->rms_b[l] /= N_PRED;
    r->nats /= N_PRED;
    rc = 0;
done:
    attnres_state_free(&s);
    attnres_model_free(&m);
    return rc;
}

int main(void) {
    static result r[N_MODELS] = {{"standard", "models/standard.safetensors", 0, 0, 0, 0, {0}, {0}, {0}, 0},
                                 {"block", "models/block.safetensors", 0, 0, 0, 0, {0}, {0}, {0}, 0},
                                 {"full", "models/full.safetensors", 0, 0, 0, 0, {0}, {0}, {0}, 0}};
    result *st = &r[0], *bl = &r[1], *fu = &r[2];
    int tokens[N_PRED + 1];   /* [N_PRED + 1] byte-level: token id = byte value */
    double earlier;   /* mean RMS of Full AttnRes' outputs before the last */
    int i, c, l, L, below, grows, diluted, best, worst;
    FILE *f = fopen(TEXT, "rb");

    printf("Lesson 11: standard residuals and AttnRes, side by side.\n\n");
    if (!f) {
        fprintf(stderr, "error: cannot open %s\n(run the lessons from the repository root; the corpus comes "
                        "from tools/corpus.py, see the README)\n", TEXT);
        return 1;
    }
    for (i = 0; i < N_PRED + 1 && (c = fgetc(f)) != EOF; i++) tokens[i] = c;
    fclose(f);
    if (i < N_PRED + 1) {
        fprintf(stderr, "error: %s holds only %d bytes, the lesson reads %d\n", TEXT, i, N_PRED + 1);
        return 1;
    }
    for (i = 0; i < N_MODELS; i++) if (run(&r[i], tokens)) return 1;
    if (bl->L != st->L || fu->L != st->L || st->S != 0 || bl->S < 1 || fu->S != 1) {
        fprintf(stderr, "error: the three models must have the same depth, and be standard, Block and Full AttnRes\n");
        return 1;
    }
    L = st->L;
    printf("The three trained models read the same %d bytes, the first of %s,\n"
           "one token at a time from an empty cache, and predict bytes 1..%d from what came before.\n",
           N_PRED + 1, TEXT, N_PRED);

    /* (a) size across depth */
    printf("\n(a) The size of what every sublayer reads, RMS(h_l), averaged over the %d positions:\n\n", N_PRED);
    printf("    %-16s %10s %10s %10s\n", "reads", "standard", "block S=2", "full S=1");
    for (l = 0; l <= L; l++) {
        char label[40];   /* room for any int l */
        if (l < L) snprintf(label, sizeof label, "h_%d (%s %d)", l, l % 2 ? "mlp" : "attn", l / 2);
        else snprintf(label, sizeof label, "final h");
        printf("    %-16s %10.4f %10.4f %10.4f\n", label, st->rms_h[l], bl->rms_h[l], fu->rms_h[l]);
    }
    /* below: the first l from which both AttnRes h_l stay under the standard one */
    below = L + 1;
    while (below > 0 && bl->rms_h[below - 1] < st->rms_h[below - 1] &&
           fu->rms_h[below - 1] < st->rms_h[below - 1])
        below--;
    for (grows = 0, l = 0; l < L; l++) grows += st->rms_h[l + 1] > st->rms_h[l];
    printf("    h_0 is the token embedding in all three. The standard stream only accumulates: its\n"
           "    RMS rises in %d of the %d steps from h_0 to the final h, which ends %.1f times the\n"
           "    embedding's. An AttnRes h_l is a mix its sublayer picks; from h_%d on both AttnRes\n"
           "    models stay below the standard stream, and their final h is %.2f (block) and %.2f\n"
           "    (full) of the standard one.\n", grows, L, st->rms_h[L] / st->rms_h[0],
           below, bl->rms_h[L] / st->rms_h[L], fu->rms_h[L] / st->rms_h[L]);
    printf("\n    What the sublayers write. Standard: f_l = h_{l+1} - h_l, and its size relative to\n"
           "    the stream it is added to. Full AttnRes: f_l is block b_{l+1}, kept apart.\n\n");
    printf("    %-16s %10s %10s %12s\n", "sublayer", "std f_l", "f_l / h_l", "full f_l");
    for (l = 0; l < L; l++) {
        char label[32];
        snprintf(label, sizeof label, "%d (%s %d)", l, l % 2 ? "mlp" : "attn", l / 2);
        printf("    %-16s %10.4f %10.4f %12.4f\n", label, st->rms_f[l], st->rms_f[l] / st->rms_h[l],
               fu->rms_b[l + 1]);
    }
    printf("\n    Block AttnRes (S = %d) keeps one sum per block: RMS(b_n) =", bl->S);
    for (l = 0; l <= bl->N; l++) printf(" %.4f", bl->rms_b[l]);
    printf("  (b0 .. b%d)\n", bl->N);
    for (diluted = 0, l = 2; l < L; l++) diluted += st->rms_f[l] < st->rms_h[l];
    for (earlier = 0.0, l = 0; l < L - 1; l++) earlier += fu->rms_b[l + 1] / (L - 1);
    printf("\n    In the standard model, from sublayer 2 on, the output is smaller than the stream it\n"
           "    joins (f_l / h_l below 1) in %d of %d sublayers: there its say in the sum shrinks as\n"
           "    the sum grows, the dilution AttnRes is meant to remove. In Full AttnRes the outputs\n"
           "    stay separate sources (the last one's RMS is %.4f, the earlier ones' mean %.4f), and\n"
           "    a source's say is the weight alpha a reader gives it, not its size next to a growing\n"
           "    sum. A mix with weights >= 0 that sum to 1 is never longer than its longest source.\n",
           diluted, L - 2, fu->rms_b[L], earlier);

    /* (b) the loss */
    printf("\n(b) Validation loss on those %d predictions, computed here in C (double):\n\n", N_PRED);
    printf("    %-20s %10s %12s %10s %11s\n", "model", "params", "nats/byte", "bits/byte", "perplexity");
    for (i = 0; i < N_MODELS; i++) {
        char label[40];
        if (r[i].S == 0) snprintf(label, sizeof label, "%s", r[i].name);
        else snprintf(label, sizeof label, "%s (S = %d)", r[i].name, r[i].S);
        printf("    %-20s %10ld %12.6f %10.6f %11.4f\n", label, r[i].params, r[i].nats, r[i].nats / log(2.0),
               exp(r[i].nats));
    }
    printf("    %-20s %10s %12.6f %10.6f %11.4f\n", "uniform guess", "-", log(256.0), 8.0, 256.0);
    for (best = 0, worst = 0, i = 1; i < N_MODELS; i++) {
        if (r[i].nats < r[best].nats) best = i;
        if (r[i].nats > r[worst].nats) worst = i;
    }
    printf("\n    A model that knows nothing pays ln 256 = %.6f nats = 8 bits for every byte; here\n"
           "    the models pay between %.3f and %.3f bits. AttnRes adds only 2 x dim numbers per\n"
           "    sublayer and for the output (a pseudo-query and a key-norm gain): %ld parameters\n"
           "    here, %.2f%% of the model.\n", log(256.0), r[best].nats / log(2.0), r[worst].nats / log(2.0),
           bl->params - st->params, 100.0 * (double)(bl->params - st->params) / (double)st->params);
    printf("\n    On this text the %s model has the lowest loss; relative to it", r[best].name);
    for (c = 0, i = 0; i < N_MODELS; i++)
        if (i != best) printf("%s %s %+.0f%%", c++ ? "," : ":", r[i].name, 100.0 * (r[i].nats / r[best].nats - 1.0));
    printf(".\n");
    printf("    %d bytes and models of L = %d trained for minutes on a CPU are no verdict on the\n"
           "    method: the paper reports its gains for much deeper models trained far longer.\n"
           "    Lesson 12 and docs/experiments/ look at deeper models and several seeds.\n", N_PRED + 1, L);
    return 0;
}
