/* attnres_train_web.c - the page's trainer: two byte-level models trained side
   by side, one with standard residuals and one with (Block or Full) AttnRes,
   from the same initial weights (every tensor they share) on the same
   batches, with attnres.h's training code (docs/training.md) behind a flat
   interface a Web Worker (web/train_worker.js) can call.

   Built twice from this one file, as web/attnres_web.c is:
     make web              emcc: build/web/attnres_train.js + .wasm (the worker's)
     make test-web         cc:   BUILD/web_train_parity, a native program that
                           calls the same functions (WEB_TRAIN_MAIN) and prints
                           what web/train_parity.mjs prints from the wasm module
   Each model is what `attnres-train TEXT --residual R --block-size S --dim D
   --layers N --seq-len W --batch B --steps K --lr X --warmup U --seed SEED
   --val-bytes V` makes (4 heads, 2 kv heads, tied embeddings, zero
   pseudo-queries, the last tenth of TEXT held out for validation): the same
   init and validation code (tools/train_shared.h), the same windows, so the
   same checkpoint bytes; tests/test_web.sh compares them.

   Every function that can fail returns 0 or an attnres_status, with the
   message in wt_error(). Model 0 is the standard one, model 1 the AttnRes one.

     wt_text(n)            a buffer of n bytes for the text; the caller fills it
     wt_init(dim, layers, S, window, batch, steps, lr, warmup, seed, val_bytes)
                           both models, their training states and optimizers
     wt_step()             one step of both on the same B windows; then
     wt_loss(i), wt_grad_norm(i)   that step's batch loss and gradient norm
     wt_alpha()            [L+1, N+1] the AttnRes model's depth weights, mean
                           over the positions of the step's last window
     wt_alpha_count()      [L+1] the sources of each alpha row
     wt_rms(i)             [L+1] the RMS over that window of every sublayer's
                           input (row L: the input of the final norm)
     wt_validate()         the validation loss of both; then wt_val_loss(i)
     wt_checkpoint(i)      model i as a checkpoint; wt_checkpoint_data() and
                           its size (the return value, 0 on failure)
     wt_prompt(n), wt_sample(i, n_prompt, n_new, temperature, seed)
                           model i continues the prompt by n_new bytes
                           (sampled as attnres-run does); the bytes are in
                           wt_sample_data(), prompt first */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/train_shared.h"   /* init_weights, validation_loss */

#ifdef __EMSCRIPTEN__
#include <emscripten/emscripten.h>
#define WEBDEF EMSCRIPTEN_KEEPALIVE
#else
#define WEBDEF
#endif

typedef struct {
    attnres_model       model;
    attnres_train_state ts;     /* window positions; validation uses seq_len = window */
    attnres_adamw       opt;
    float  loss;                /* the last step's batch loss                 */
    double grad_norm;           /* and its gradient norm before clipping      */
    double val_loss;            /* the last wt_validate                        */
    float *rms;                 /* [L+1]                                       */
} wt_model;

static wt_model       wt_[2];
static attnres_error  wt_err;
static unsigned char *wt_text_, *wt_prompt_, *wt_sample_, *wt_ckpt;
static size_t         wt_n_text, wt_n_train, wt_n_val;
static int           *wt_tokens, *wt_targets;   /* [batch * window] */
static float         *wt_alpha_mean;            /* [L+1, N+1]       */
static int           *wt_alpha_count_;          /* [L+1]            */
static int            wt_window, wt_batch, wt_steps, wt_warmup, wt_step_no, wt_ready;
static double         wt_lr;
static uint64_t       wt_rng;

static int wt_fail(int code, const char *message) {
    wt_err.code = code;
    snprintf(wt_err.message, sizeof wt_err.message, "%s", message);
    return code;
}

WEBDEF const char *wt_error(void) { return wt_err.message; }

static void wt_free_models(void) {
    int i;
    for (i = 0; i < 2; i++) {
        attnres_adamw_free(&wt_[i].opt);
        attnres_train_state_free(&wt_[i].ts);
        if (wt_[i].model.memory) attnres_model_free(&wt_[i].model);
        free(wt_[i].rms);
    }
    memset(wt_, 0, sizeof wt_);
    free(wt_tokens); free(wt_targets); free(wt_alpha_mean); free(wt_alpha_count_); free(wt_ckpt); free(wt_sample_);
    wt_tokens = wt_targets = wt_alpha_count_ = NULL;
    wt_alpha_mean = NULL;
    wt_ckpt = wt_sample_ = NULL;
    wt_ready = 0;
}

WEBDEF unsigned char *wt_text(int n) {
    wt_free_models();
    free(wt_text_);
    wt_n_text = 0;
    wt_text_ = n > 0 ? (unsigned char *)malloc((size_t)n) : NULL;
    if (wt_text_) wt_n_text = (size_t)n;
    return wt_text_;
}

WEBDEF unsigned char *wt_prompt(int n) {
    free(wt_prompt_);
    wt_prompt_ = n > 0 ? (unsigned char *)malloc((size_t)n) : NULL;
    return wt_prompt_;
}

/* The config both models share but the residual: attnres-train's defaults
   for the options the page does not offer. */
static void wt_config(attnres_config *c, int dim, int layers, int residual, int S, int window) {
    memset(c, 0, sizeof *c);
    c->dim = dim; c->hidden_dim = (8 * dim / 3 + 7) / 8 * 8; c->n_layers = layers;
    c->n_heads = 4; c->n_kv_heads = 2; c->vocab_size = 256; c->seq_len = window;
    c->rope_theta = 10000.0f; c->norm_eps = 1e-5f; c->tie_embeddings = 1;
    c->residual = residual; c->block_size = residual == ATTNRES_RESIDUAL_ATTNRES ? S : 0;
}

WEBDEF int wt_init(int dim, int layers, int S, int window, int batch, int steps, double lr, int warmup,
                   unsigned seed, int val_bytes) {
    attnres_config c;
    int i, L, N;
    wt_free_models();
    if (!wt_text_) return wt_fail(ATTNRES_ERR_MISSING, "no text");
    if (window < 2 || batch < 1 || steps < 1 || warmup < 0 || !(lr > 0.0 && lr < 1.0) || val_bytes < 0)
        return wt_fail(ATTNRES_ERR_RANGE, "window >= 2, batch >= 1, steps >= 1, warmup >= 0, 0 < lr < 1");
    /* attnres-train without --val: the last tenth held out, --val-bytes of it used */
    wt_n_val = (size_t)((double)wt_n_text * 0.1);
    wt_n_train = wt_n_text - wt_n_val;
    if (wt_n_train < (size_t)window + 2 || wt_n_val < 2) {
        char message[200];
        size_t need = 20;   /* the least length whose split leaves both parts long enough */
        while (need - (size_t)((double)need * 0.1) < (size_t)window + 2) need++;
        snprintf(message, sizeof message, "the text has %lu bytes; a window of %d bytes needs at least %lu "
                 "(%d to train on, and a tenth held out for validation)", (unsigned long)wt_n_text, window,
                 (unsigned long)need, window + 2);
        return wt_fail(ATTNRES_ERR_RANGE, message);
    }
    if (val_bytes && (size_t)val_bytes < wt_n_val) wt_n_val = val_bytes < 2 ? 2 : (size_t)val_bytes;
    for (i = 0; i < 2; i++) {
        wt_config(&c, dim, layers, i ? ATTNRES_RESIDUAL_ATTNRES : ATTNRES_RESIDUAL_STANDARD, S, window);
        if (attnres_config_validate(&c, &wt_err) != ATTNRES_OK ||
            attnres_model_init(&wt_[i].model, &c, &wt_err) != ATTNRES_OK) {
            wt_free_models();
            return wt_err.code;
        }
        init_weights(&wt_[i].model, seed, 0);   /* the same seed: the same shared tensors */
        if (attnres_train_state_init(&wt_[i].ts, &wt_[i].model, window, &wt_err) != ATTNRES_OK ||
            attnres_adamw_init(&wt_[i].opt, &wt_[i].model, 0.1, &wt_err) != ATTNRES_OK) {
            wt_free_models();
            return wt_err.code;
        }
        wt_[i].rms = (float *)calloc((size_t)attnres_n_sublayers(&c) + 1, sizeof(float));
    }
    L = attnres_n_sublayers(&c);
    N = attnres_n_blocks(&c);
    wt_tokens = (int *)malloc((size_t)batch * (size_t)window * sizeof(int));
    wt_targets = (int *)malloc((size_t)batch * (size_t)window * sizeof(int));
    wt_alpha_mean = (float *)calloc((size_t)(L + 1) * (size_t)(N + 1), sizeof(float));
    wt_alpha_count_ = (int *)malloc((size_t)(L + 1) * sizeof(int));
    if (!wt_tokens || !wt_targets || !wt_alpha_mean || !wt_alpha_count_ || !wt_[0].rms || !wt_[1].rms) {
        wt_free_models();
        return wt_fail(ATTNRES_ERR_NOMEM, "out of memory for the trainer's buffers");
    }
    for (i = 0; i <= L; i++) wt_alpha_count_[i] = i == L ? N + 1 : attnres_block_row(i, S) + (i % S != 0);
    wt_window = window; wt_batch = batch; wt_steps = steps; wt_warmup = warmup; wt_lr = lr; wt_step_no = 0;
    wt_rng = (uint64_t)seed ^ 0x5DEECE66DULL;   /* attnres-train's window generator */
    if (!wt_rng) wt_rng = 1;
    wt_ready = 1;
    return ATTNRES_OK;
}

/* What the page draws after a step, from the state the step's last window
   left: the stream RMS of every depth, and the mean alpha of the AttnRes model. */
static void wt_observe(void) {
    int i, l, j, t, T = wt_window;
    for (i = 0; i < 2; i++) {
        const attnres_config *c = &wt_[i].model.config;
        int L = attnres_n_sublayers(c), d = c->dim;
        for (l = 0; l <= L; l++) {   /* h: [T, L, dim]; out_h: [T, dim] */
            double sum = 0.0;
            for (t = 0; t < T; t++) {
                const float *x = l < L ? wt_[i].ts.h + ((size_t)t * L + l) * d : wt_[i].ts.out_h + (size_t)t * d;
                for (j = 0; j < d; j++) sum += (double)x[j] * x[j];
            }
            wt_[i].rms[l] = (float)sqrt(sum / ((double)T * d));
        }
    }
    {
        const attnres_config *c = &wt_[1].model.config;
        int L = attnres_n_sublayers(c), cols = attnres_n_blocks(c) + 1;
        for (l = 0; l <= L; l++)   /* alpha: [T, L+1, N+1] */
            for (j = 0; j < cols; j++) {
                double sum = 0.0;
                for (t = 0; t < T; t++) sum += wt_[1].ts.alpha[((size_t)t * (L + 1) + l) * cols + j];
                wt_alpha_mean[l * cols + j] = (float)(sum / T);
            }
    }
}

WEBDEF int wt_step(void) {
    int b, i;
    double lr;
    if (!wt_ready) return wt_fail(ATTNRES_ERR_MISSING, "no training set up");
    if (wt_step_no >= wt_steps) return wt_fail(ATTNRES_ERR_RANGE, "every step has been taken");
    lr = attnres_lr_at(wt_step_no, wt_steps, wt_lr, wt_warmup);
    for (b = 0; b < wt_batch; b++)   /* cannot fail: wt_n_train >= window + 2 */
        attnres_train_window(wt_tokens + (size_t)b * wt_window, wt_targets + (size_t)b * wt_window, wt_text_,
                             wt_n_train, wt_window, &wt_rng, &wt_err);
    for (i = 0; i < 2; i++)
        if (attnres_train_step(&wt_[i].model, &wt_[i].ts, &wt_[i].opt, wt_tokens, wt_targets, wt_batch, wt_window,
                               lr, &wt_[i].loss, &wt_[i].grad_norm, &wt_err) != ATTNRES_OK) {
            wt_ready = 0;   /* the two models no longer stand side by side */
            return wt_err.code;
        }
    wt_step_no++;
    wt_observe();
    return ATTNRES_OK;
}

WEBDEF float  wt_loss(int i)      { return wt_ready && (i == 0 || i == 1) ? wt_[i].loss : -1.0f; }
WEBDEF double wt_grad_norm(int i) { return wt_ready && (i == 0 || i == 1) ? wt_[i].grad_norm : -1.0; }
WEBDEF double wt_val_loss(int i)  { return wt_ready && (i == 0 || i == 1) ? wt_[i].val_loss : -1.0; }
WEBDEF float *wt_alpha(void)      { return wt_ready ? wt_alpha_mean : NULL; }
WEBDEF int   *wt_alpha_count(void) { return wt_ready ? wt_alpha_count_ : NULL; }
WEBDEF float *wt_rms(int i)       { return wt_ready && (i == 0 || i == 1) ? wt_[i].rms : NULL; }
WEBDEF int    wt_steps_done(void) { return wt_step_no; }

/* L and N of the AttnRes model (the standard one has the same L) */
WEBDEF int wt_n_sublayers(void) { return wt_ready ? attnres_n_sublayers(&wt_[1].model.config) : -1; }
WEBDEF int wt_n_blocks(void)    { return wt_ready ? attnres_n_blocks(&wt_[1].model.config) : -1; }

/* attnres-train's validation loss on the held-out tail; the training states
   serve as scratch, so call it between steps (wt_alpha and wt_rms keep the
   last step's values). */
WEBDEF int wt_validate(void) {
    int i;
    if (!wt_ready) return wt_fail(ATTNRES_ERR_MISSING, "no training set up");
    for (i = 0; i < 2; i++)
        if (validation_loss(&wt_[i].model, &wt_[i].ts, wt_text_ + wt_n_train, wt_n_val, wt_tokens, wt_targets,
                            &wt_[i].val_loss, &wt_err) != ATTNRES_OK)
            return wt_err.code;
    return ATTNRES_OK;
}

WEBDEF unsigned char *wt_checkpoint_data(void) { return wt_ckpt; }

WEBDEF int wt_checkpoint(int i) {
    size_t n;
    if (!wt_ready || (i != 0 && i != 1)) return wt_fail(ATTNRES_ERR_MISSING, "no trained model"), 0;
    free(wt_ckpt);
    n = attnres_checkpoint_bytes(&wt_[i].model);
    if (!(wt_ckpt = (unsigned char *)malloc(n))) return wt_fail(ATTNRES_ERR_NOMEM, "out of memory for the checkpoint"), 0;
    if (attnres_checkpoint_write(wt_ckpt, n, &wt_[i].model, &wt_err) != ATTNRES_OK) return 0;
    return (int)n;
}

WEBDEF unsigned char *wt_sample_data(void) { return wt_sample_; }

/* One forward pass per position, as attnres-run generates: the prompt, then
   n_new bytes drawn by attnres_sample at temperature (0: greedy), top-p 0.9. */
WEBDEF int wt_sample(int i, int n_prompt, int n_new, float temperature, unsigned seed) {
    attnres_state st;
    attnres_sampler sm;
    int pos, rc = ATTNRES_OK, n = n_prompt + n_new;
    if (!wt_ready || (i != 0 && i != 1)) return wt_fail(ATTNRES_ERR_MISSING, "no trained model");
    if (!wt_prompt_ || n_prompt < 1 || n_new < 0 || n > wt_[i].model.config.seq_len)
        return wt_fail(ATTNRES_ERR_RANGE, "the prompt and the new bytes must fit the model's context (the window)");
    free(wt_sample_);
    if (!(wt_sample_ = (unsigned char *)malloc((size_t)n))) return wt_fail(ATTNRES_ERR_NOMEM, "out of memory");
    memcpy(wt_sample_, wt_prompt_, (size_t)n_prompt);
    memset(&st, 0, sizeof st);
    memset(&sm, 0, sizeof sm);
    if (attnres_state_init_ctx(&st, &wt_[i].model.config, n, &wt_err) != ATTNRES_OK ||
        attnres_sampler_init(&sm, 256, temperature, 0.9f, (uint64_t)seed, &wt_err) != ATTNRES_OK)
        rc = wt_err.code;
    for (pos = 0; rc == ATTNRES_OK && pos + 1 < n; pos++) {
        if (!attnres_forward(&wt_[i].model, &st, wt_sample_[pos], pos, &wt_err)) rc = wt_err.code;
        else if (pos + 1 >= n_prompt) wt_sample_[pos + 1] = (unsigned char)attnres_sample(&sm, st.logits);
    }
    attnres_sampler_free(&sm);
    attnres_state_free(&st);
    return rc;
}

#ifdef WEB_TRAIN_MAIN
/* web_train_parity TEXT DIM LAYERS S WINDOW BATCH STEPS LR WARMUP SEED VAL_BYTES VAL_EVERY OUT_PREFIX
   Trains as the page does, printing per step "step K" and both losses and
   gradient norms as bits (%08x, %016llx), every VAL_EVERY steps (and at the
   end) both validation losses, and the alpha and RMS rows of the last step;
   writes OUT_PREFIX.standard.safetensors and OUT_PREFIX.attnres.safetensors.
   web/train_parity.mjs prints the same lines from the wasm module. */
static void print_bits(const char *name, const float *x, int n) {
    int k;
    printf("%s", name);
    for (k = 0; k < n; k++) {
        uint32_t bits;
        memcpy(&bits, &x[k], sizeof bits);
        printf(" %08x", (unsigned)bits);
    }
    printf("\n");
}

static unsigned long long bits64(double x) {
    unsigned long long b;
    memcpy(&b, &x, sizeof b);
    return b;
}

int main(int argc, char **argv) {
    FILE *f;
    long n;
    int a[7], k, i, val_every, L, N;
    char path[4096];
    if (argc != 14) {
        fprintf(stderr, "usage: web_train_parity TEXT DIM LAYERS S WINDOW BATCH STEPS LR WARMUP SEED VAL_BYTES "
                        "VAL_EVERY OUT_PREFIX\n");
        return 2;
    }
    if (!(f = fopen(argv[1], "rb")) || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !wt_text((int)n) || fread(wt_text_, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "web_train_parity: cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    for (k = 0; k < 6; k++) a[k] = atoi(argv[2 + k]);
    a[6] = atoi(argv[9]);
    val_every = atoi(argv[12]);
    if (wt_init(a[0], a[1], a[2], a[3], a[4], a[5], atof(argv[8]), a[6], (unsigned)strtoul(argv[10], NULL, 10),
                atoi(argv[11])) != ATTNRES_OK) {
        fprintf(stderr, "web_train_parity: %s\n", wt_error());
        return 1;
    }
    L = wt_n_sublayers();
    N = wt_n_blocks();
    for (k = 1; k <= a[5]; k++) {
        if (wt_step() != ATTNRES_OK) { fprintf(stderr, "web_train_parity: step %d: %s\n", k, wt_error()); return 1; }
        printf("step %d", k);
        for (i = 0; i < 2; i++) {
            float loss = wt_loss(i);
            uint32_t bits;
            memcpy(&bits, &loss, sizeof bits);
            printf(" %08x %016llx", (unsigned)bits, bits64(wt_grad_norm(i)));
        }
        printf("\n");
        if ((val_every && k % val_every == 0) || k == a[5]) {
            if (wt_validate() != ATTNRES_OK) { fprintf(stderr, "web_train_parity: %s\n", wt_error()); return 1; }
            printf("val %d %016llx %016llx %.4f %.4f\n", k, bits64(wt_val_loss(0)), bits64(wt_val_loss(1)),
                   wt_val_loss(0), wt_val_loss(1));
        }
    }
    print_bits("alpha", wt_alpha(), (L + 1) * (N + 1));
    print_bits("rms0", wt_rms(0), L + 1);
    print_bits("rms1", wt_rms(1), L + 1);
    for (i = 0; i < 2; i++) {
        int size = wt_checkpoint(i);
        snprintf(path, sizeof path, "%s.%s.safetensors", argv[13], i ? "attnres" : "standard");
        if (!size || !(f = fopen(path, "wb")) || fwrite(wt_checkpoint_data(), 1, (size_t)size, f) != (size_t)size ||
            fclose(f) != 0) {
            fprintf(stderr, "web_train_parity: cannot write %s: %s\n", path, size ? "write failed" : wt_error());
            return 1;
        }
    }
    wt_text(0);
    wt_prompt(0);
    return 0;
}
#endif
