/* test_train.c - the trainer's library parts (attnres_train_step: the mean
   over a batch, clipping at global norm 1, AdamW; attnres_lr_at;
   attnres_train_window; the checkpoint writer), checked against
   tools/train.py itself.
   1. From the same initial weights and the same batches
      (golden/train/NAME.*, written by tools/make_train_golden.py, which
      runs train.py's own make_optimizer / lr_at / train_step), the loss of
      each of the first 20 steps is within LOSS_TOL nats of train.py's, and
      the weights after step 1 and step 20 within WEIGHT_TOL; the schedule
      equals lr_at at every step. Configs: standard, Block AttnRes S = 2
      with random pseudo-queries (a non-uniform depth softmax), S = 3 of
      L = 4 with zero pseudo-queries and an untied output.
   2. No allocation inside a training step (a counting allocator).
   3. The checkpoint writer gives reference.save_checkpoint's bytes, and
      what it writes loads back to the same weights.
   4. Refusals: a NaN weight (the step fails naming the loss, and no weight
      changes), an optimizer of another model, a text too short for a
      window; windows stay inside the text and repeat with the seed. */
#include <stdlib.h>
static size_t n_allocs;
static void *counting_malloc(size_t n) { n_allocs++; return malloc(n); }
#define ATTNRES_MALLOC(sz) counting_malloc(sz)
#define ATTNRES_FREE(p)    free(p)
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"

#define STEPS 20
/* The brief's bound. Measured: the largest difference is printed below. */
#define LOSS_TOL 1e-3
/* Weights: Adam's update is lr * m / (sqrt(v) + eps), about lr per weight
   whatever the gradient's size, so float32 rounding in a gradient near 0
   can move a weight by up to ~lr; 2e-4 absolute is 2.6% of lr = 2^-7, while
   a wrong decay, bias correction or clip is off by a whole update (~lr).
   (The fixtures' lr 2^-7 and weight decay 2^-3 are exact in float32, the
   type they are stored in, so C runs train.py's very numbers.) */
#define WEIGHT_TOL 2e-4

static int load(attnres_model *m, const char *name, const char *suffix) {
    char path[256];
    attnres_error err;
    snprintf(path, sizeof path, "%s/train/%s.%s.safetensors", GOLDEN_DIR, name, suffix);
    if (attnres_model_load(m, path, &err) != ATTNRES_OK) { check(0, "load %s: %s", path, err.message); return 0; }
    return 1;
}

/* The weights of m against the checkpoint NAME.SUFFIX, every float. */
static void check_weights(const attnres_model *m, const char *name, const char *suffix) {
    attnres_model want;
    char what[128];
    if (!load(&want, name, suffix)) return;
    snprintf(what, sizeof what, "%s: the weights after %s against train.py's", name, suffix);
    check_close(what, m->memory, want.memory, m->n_floats, WEIGHT_TOL, 0.0);
    attnres_model_free(&want);
}

/* The checkpoint writer: the bytes of the fixture file, which reference.save_checkpoint wrote. */
static void check_writer(const attnres_model *m, const char *name) {
    char path[256];
    FILE *f;
    size_t n = attnres_checkpoint_bytes(m), got;
    unsigned char *mine = (unsigned char *)malloc(n + 1), *file = (unsigned char *)malloc(n + 1);
    attnres_error err;
    snprintf(path, sizeof path, "%s/train/%s.model.safetensors", GOLDEN_DIR, name);
    f = fopen(path, "rb");
    got = f ? fread(file, 1, n + 1, f) : 0;
    if (f) fclose(f);
    check(n > 0 && attnres_checkpoint_write(mine, n, m, &err) == ATTNRES_OK && got == n && memcmp(mine, file, n) == 0,
          "%s: attnres_checkpoint_write gives reference.save_checkpoint's %zu bytes (file %zu)", name, n, got);
    check(attnres_checkpoint_write(mine, n - 1, m, &err) == ATTNRES_ERR_RANGE,
          "%s: a buffer one byte short is refused: %s", name, err.message);
    free(mine);
    free(file);
}

/* Written and loaded back: the same weights, bit for bit. */
static void check_roundtrip(const attnres_model *m, const char *name) {
    size_t n = attnres_checkpoint_bytes(m);
    unsigned char *bytes = (unsigned char *)malloc(n);
    attnres_model back;
    attnres_error err;
    int ok = attnres_checkpoint_write(bytes, n, m, &err) == ATTNRES_OK &&
             attnres_model_load_memory(&back, bytes, n, &err) == ATTNRES_OK;
    check(ok && back.n_floats == m->n_floats && memcmp(back.memory, m->memory, m->n_floats * sizeof(float)) == 0 &&
          memcmp(&back.config, &m->config, sizeof back.config) == 0,
          "%s: the trained model written and loaded back is the same, bit for bit%s%s", name, ok ? "" : ": ",
          ok ? "" : err.message);
    if (ok) attnres_model_free(&back);
    free(bytes);
}

static void train_against_pytorch(const char *name) {
    attnres_model m;
    attnres_train_state ts;
    attnres_adamw opt;
    attnres__st_file f;
    attnres_error err;
    float *losses = NULL, *lrs = NULL, *hp = NULL, loss;
    int32_t *batches = NULL;
    int *tokens = NULL, *targets = NULL, B, T, step, b, t, rc = ATTNRES_OK, lr_ok = 1;
    double max_loss_diff = 0.0, norm;
    size_t allocs, step_allocs = 0;
    const attnres__st_tensor *bt;
    if (!load(&m, name, "model")) return;
    check_writer(&m, name);
    {
        char fx[128];
        snprintf(fx, sizeof fx, "train/%s.train.safetensors", name);
        if (!fixture_open(&f, fx)) { attnres_model_free(&m); return; }
    }
    bt = attnres__st_find(&f, "batches");
    if (!bt || bt->ndim != 3 || bt->shape[0] != STEPS) {
        check(0, "%s: fixture batches [%d, B, T+1] missing", name, STEPS);
        attnres__st_close(&f);
        attnres_model_free(&m);
        return;
    }
    B = (int)bt->shape[1];
    T = (int)bt->shape[2] - 1;
    batches = fixture_i32(&f, "batches", (size_t)STEPS * B * (T + 1));
    losses = fixture_f32(&f, "losses", STEPS);
    lrs = fixture_f32(&f, "lr", STEPS);
    hp = fixture_f32(&f, "hparams", 3);
    attnres__st_close(&f);
    tokens = (int *)malloc((size_t)B * T * sizeof(int));
    targets = (int *)malloc((size_t)B * T * sizeof(int));
    if (!batches || !losses || !lrs || !hp || !tokens || !targets ||
        attnres_train_state_init(&ts, &m, T, &err) != ATTNRES_OK) {
        check(0, "%s: setting up", name);
        goto done;
    }
    if (attnres_adamw_init(&opt, &m, hp[2], &err) != ATTNRES_OK) {
        check(0, "%s: adamw init: %s", name, err.message);
        attnres_train_state_free(&ts);
        goto done;
    }
    for (step = 0; step < STEPS && rc == ATTNRES_OK; step++) {
        double lr = attnres_lr_at(step, STEPS, hp[0], (int)hp[1]);
        for (b = 0; b < B; b++)
            for (t = 0; t < T; t++) {
                tokens[b * T + t] = batches[((size_t)step * B + b) * (T + 1) + t];
                targets[b * T + t] = batches[((size_t)step * B + b) * (T + 1) + t + 1];
            }
        if ((float)lr != lrs[step]) lr_ok = 0;
        allocs = n_allocs;
        rc = attnres_train_step(&m, &ts, &opt, tokens, targets, B, T, lr, &loss, &norm, &err);
        step_allocs += n_allocs - allocs;
        if (rc != ATTNRES_OK) break;
        if (fabs((double)loss - losses[step]) > max_loss_diff || loss != loss)
            max_loss_diff = fabs((double)loss - losses[step]);
        if (!(fabs((double)loss - losses[step]) <= LOSS_TOL))
            printf("       step %d: loss %.6f, train.py %.6f\n", step + 1, (double)loss, (double)losses[step]);
        if (step == 0) check_weights(&m, name, "step1");
    }
    check(rc == ATTNRES_OK, "%s: %d training steps ran%s%s", name, STEPS, rc ? ": " : "", rc ? err.message : "");
    check(max_loss_diff <= LOSS_TOL, "%s: the loss of each of %d steps is within %.0e nats of train.py's "
          "(max |diff| %.2e; %.4f -> %.4f)", name, STEPS, LOSS_TOL, max_loss_diff, (double)losses[0],
          (double)losses[STEPS - 1]);
    check(lr_ok, "%s: attnres_lr_at equals train.py's lr_at (as float) at every step", name);
    check(step_allocs == 0, "%s: no allocation in %d training steps (%zu made)", name, STEPS, step_allocs);
    check_weights(&m, name, "step20");
    check_roundtrip(&m, name);
    attnres_adamw_free(&opt);
    attnres_train_state_free(&ts);
done:
    free(batches); free(losses); free(lrs); free(hp); free(tokens); free(targets);
    attnres_model_free(&m);
}

/* A NaN weight: the step is refused, naming the loss, and no weight moves. */
static void refusals(void) {
    attnres_model m, other;
    attnres_train_state ts;
    attnres_adamw opt;
    attnres_error err;
    int tokens[4] = {1, 2, 3, 4}, targets[4] = {2, 3, 4, 5}, rc;
    float loss, *before;
    double norm;
    if (!load(&m, "block", "model")) return;
    if (attnres_train_state_init(&ts, &m, 4, &err) != ATTNRES_OK || attnres_adamw_init(&opt, &m, 0.1, &err) != ATTNRES_OK) {
        check(0, "refusals: setup: %s", err.message);
        attnres_model_free(&m);
        return;
    }
    m.weights.pseudo_query[3] = NAN;   /* a NaN that reaches the loss */
    before = (float *)malloc(m.n_floats * sizeof(float));
    memcpy(before, m.memory, m.n_floats * sizeof(float));
    rc = attnres_train_step(&m, &ts, &opt, tokens, targets, 1, 4, 1e-2, &loss, &norm, &err);
    check(rc == ATTNRES_ERR_RANGE && (strstr(err.message, "NaN") || strstr(err.message, "nan")),
          "a NaN weight: the step is refused: %s", err.message);
    check(memcmp(before, m.memory, m.n_floats * sizeof(float)) == 0 && opt.step == 0,
          "a refused step changes no weight and no optimizer state");
    free(before);
    if (load(&other, "standard", "model")) {
        check(attnres_adamw_step(&opt, &other, &ts.grad, 1e-2, &err) == ATTNRES_ERR_RANGE,
              "AdamW refuses a model it was not made for: %s", err.message);
        attnres_model_free(&other);
    }
    check(attnres_adamw_step(&opt, &m, &ts.grad, NAN, &err) == ATTNRES_ERR_RANGE, "AdamW refuses lr = NaN: %s",
          err.message);
    check(attnres_train_step(&m, &ts, &opt, tokens, targets, 0, 4, 1e-2, &loss, &norm, &err) == ATTNRES_ERR_RANGE,
          "a batch of 0 windows is refused: %s", err.message);
    attnres_adamw_free(&opt);
    attnres_train_state_free(&ts);
    attnres_model_free(&m);
}

/* Windows: T + 2 bytes is the shortest text; every start is inside; the seed repeats them. */
static void windows(void) {
    unsigned char text[40];
    int tok[8], tgt[8], tok2[8], tgt2[8], i, t, inside = 1, same = 1, seen[31] = {0}, all_seen = 1;
    uint64_t a = 99, b2 = 99;
    attnres_error err;
    for (i = 0; i < 40; i++) text[i] = (unsigned char)i;
    check(attnres_train_window(tok, tgt, text, 9, 8, &a, &err) == ATTNRES_ERR_RANGE,
          "a text of T + 1 bytes has no window: %s", err.message);
    check(attnres_train_window(tok, tgt, text, 0, 8, &a, &err) == ATTNRES_ERR_RANGE, "an empty text is refused");
    check(attnres_train_window(tok, tgt, text, 10, 8, &a, &err) == ATTNRES_OK && tok[0] == 0 && tgt[7] == 8,
          "a text of T + 2 bytes has exactly one window, start 0 (as torch.randint(0, n - T - 1))");
    a = b2 = 12345;
    for (i = 0; i < 2000; i++) {
        attnres_train_window(tok, tgt, text, 40, 8, &a, &err);
        attnres_train_window(tok2, tgt2, text, 40, 8, &b2, &err);
        if (tok[0] > 40 - 8 - 2) inside = 0;
        else seen[tok[0]] = 1;
        for (t = 0; t < 8; t++) {
            if (tgt[t] != tok[t] + 1 || (t && tok[t] != tok[t - 1] + 1)) inside = 0;
            if (tok[t] != tok2[t] || tgt[t] != tgt2[t]) same = 0;
        }
    }
    for (i = 0; i <= 40 - 8 - 2; i++) if (!seen[i]) all_seen = 0;
    check(inside && all_seen, "2000 windows: starts in [0, n - T - 1), every one drawn, targets = tokens + 1");
    check(same, "the same seed draws the same windows");
}

int main(void) {
    train_against_pytorch("standard");
    train_against_pytorch("block");
    train_against_pytorch("block_untied");
    refusals();
    windows();
    return check_summary("test_train");
}
