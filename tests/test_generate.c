/* test_generate.c - greedy generation with the trained models, token for
   token against the PyTorch reference.
   For each mode (standard, block = Block AttnRes S=2, full = Full AttnRes
   S=1), golden/generate/<mode>.safetensors holds the prompt [P], the
   reference's greedy continuation generated [G] (argmax, ties -> lowest id)
   and its margin [G] (top-1 minus top-2 logit at each step); its metadata
   names the model (models/<mode>.safetensors). The C engine feeds the
   prompt one token at a time through the KV-cache and decodes G tokens with
   attnres_argmax; every token must be identical. AttnRes models run both
   depth-attention paths (direct and two-phase).
   A mismatch prints its index, both tokens and the reference's margin there:
   a tiny margin points at rounding, a large one at a bug.
   A missing model or golden file is a failure, not a skip. */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"

static const char *MODES[] = {"standard", "block", "full", NULL};

/* One golden run, as the reference wrote it. */
typedef struct {
    int32_t *prompt;       /* [n_prompt]     byte-level token ids        */
    int32_t *generated;    /* [n_generated]  greedy continuation         */
    float   *margin;       /* [n_generated]  top-1 minus top-2 logit     */
    int      n_prompt, n_generated;
    char     model_path[1024];
} golden_run;

static void golden_free(golden_run *g) {
    free(g->prompt);
    free(g->generated);
    free(g->margin);
    memset(g, 0, sizeof *g);
}

/* Length of 1-D tensor `name`, or -1 (after a failed check). */
static int vector_length(const attnres__st_file *f, const char *file, const char *name) {
    const attnres__st_tensor *t = attnres__st_find(f, name);
    if (!t) { check(0, "%s: tensor '%s' is missing", file, name); return -1; }
    if (t->ndim != 1 || t->numel > (1u << 20)) {
        check(0, "%s: tensor '%s' must be 1-D and short (ndim %d, %llu values)", file, name, t->ndim,
              (unsigned long long)t->numel);
        return -1;
    }
    return (int)t->numel;
}

/* Reads golden/generate/<mode>.safetensors; 0 (after a failed check) if it
   is missing or malformed. */
static int golden_load(golden_run *g, const char *mode) {
    char name[128];
    attnres__st_file f;
    const char *model;
    int n_margin, ok = 0;
    memset(g, 0, sizeof *g);
    snprintf(name, sizeof name, "generate/%s.safetensors", mode);
    if (!fixture_open(&f, name)) return 0;
    g->n_prompt = vector_length(&f, name, "prompt");
    g->n_generated = vector_length(&f, name, "generated");
    n_margin = vector_length(&f, name, "margin");
    model = attnres__st_meta_get(&f, "model");
    if (!model) {
        check(0, "%s: metadata 'model' (the checkpoint it was made with) is missing", name);
    } else if (g->n_prompt < 1 || g->n_generated < 1 || n_margin != g->n_generated) {
        if (g->n_prompt >= 0 && g->n_generated >= 0 && n_margin >= 0)
            check(0, "%s: need prompt >= 1, generated >= 1 and margin == generated tokens (got %d, %d, %d)",
                  name, g->n_prompt, g->n_generated, n_margin);
    } else {
        snprintf(g->model_path, sizeof g->model_path, "%s", model);
        g->prompt = fixture_i32(&f, "prompt", (size_t)g->n_prompt);
        g->generated = fixture_i32(&f, "generated", (size_t)g->n_generated);
        g->margin = fixture_f32(&f, "margin", (size_t)g->n_generated);
        ok = g->prompt && g->generated && g->margin;
    }
    attnres__st_close(&f);
    if (!ok) golden_free(g);
    return ok;
}

/* The model under `mode` must be what the name says. */
static int check_mode(const attnres_config *c, const char *mode, const char *path) {
    int ok;
    if (!strcmp(mode, "standard")) ok = c->residual == ATTNRES_RESIDUAL_STANDARD;
    else if (!strcmp(mode, "full")) ok = c->residual == ATTNRES_RESIDUAL_ATTNRES && c->block_size == 1;
    else ok = c->residual == ATTNRES_RESIDUAL_ATTNRES && c->block_size > 1;
    check(ok, "%s: %s is a %s model (residual %s, S = %d, %d layers, dim %d, vocab %d, seq_len %d)",
          mode, path, mode, c->residual == ATTNRES_RESIDUAL_STANDARD ? "standard" : "attnres",
          c->block_size, c->n_layers, c->dim, c->vocab_size, c->seq_len);
    return ok;
}

/* Greedy decoding: the prompt one token at a time, then n_generated argmax
   tokens; the logits of position pos choose the token at pos + 1, so the
   last token is never fed. out [n_generated]. Returns the number of tokens
   decoded (n_generated unless attnres_forward failed; err says why). */
static int greedy_decode(int32_t *out, const attnres_model *m, attnres_state *s,
                         const int32_t *prompt, int n_prompt, int n_generated, attnres_error *err) {
    int pos, token = prompt[0], n_out = 0;
    for (pos = 0; pos < n_prompt + n_generated - 1; pos++) {
        const float *logits = attnres_forward(m, s, token, pos, err);   /* [vocab_size] */
        if (!logits) return n_out;
        if (pos + 1 < n_prompt) {
            token = prompt[pos + 1];
        } else {
            token = attnres_argmax(logits, m->config.vocab_size);
            out[n_out++] = token;
        }
    }
    return n_out;
}

/* Decodes with one depth-attention path and compares every token. */
static void run_path(const attnres_model *m, const golden_run *g, const char *mode, int path) {
    const char *path_name = m->config.residual == ATTNRES_RESIDUAL_STANDARD ? "standard"
                          : path == ATTNRES_PATH_TWO_PHASE ? "two-phase" : "direct";
    attnres_state s;
    attnres_error err;
    int32_t *got = (int32_t *)malloc((size_t)g->n_generated * sizeof(int32_t));   /* [n_generated] */
    int n_got, i, bad = -1;
    float min_margin = g->margin[0];
    if (!got || attnres_state_init(&s, &m->config, &err) != ATTNRES_OK) {
        check(0, "%s/%s: %s", mode, path_name, got ? err.message : "out of memory");
        free(got);
        return;
    }
    s.path = path;
    n_got = greedy_decode(got, m, &s, g->prompt, g->n_prompt, g->n_generated, &err);
    if (n_got < g->n_generated) {
        check(0, "%s/%s: forward failed after %d of %d tokens: %s", mode, path_name, n_got,
              g->n_generated, err.message);
    } else {
        for (i = 0; i < g->n_generated; i++) {
            if (g->margin[i] < min_margin) min_margin = g->margin[i];
            if (bad < 0 && got[i] != g->generated[i]) bad = i;
        }
        if (bad < 0)
            check(1, "%s/%s: %d greedy tokens after a %d-token prompt identical to the PyTorch reference "
                     "(smallest reference margin %.3g)", mode, path_name, g->n_generated, g->n_prompt,
                  (double)min_margin);
        else
            check(0, "%s/%s: first mismatch at generated token %d of %d: got %d want %d; the reference's "
                     "top-1 - top-2 logit margin there is %.3g", mode, path_name, bad, g->n_generated,
                  got[bad], g->generated[bad], (double)g->margin[bad]);
    }
    attnres_state_free(&s);
    free(got);
}

static void run_mode(const char *mode) {
    golden_run g;
    attnres_model m;
    attnres_error err;
    if (!golden_load(&g, mode)) return;
    if (attnres_model_load(&m, g.model_path, &err) != ATTNRES_OK) {
        check(0, "%s: load the model the golden names: %s", mode, err.message);
        golden_free(&g);
        return;
    }
    if (check_mode(&m.config, mode, g.model_path)) {
        if (g.n_prompt + g.n_generated - 1 > m.config.seq_len) {
            check(0, "%s: prompt %d + generated %d tokens need %d positions; seq_len is %d", mode,
                  g.n_prompt, g.n_generated, g.n_prompt + g.n_generated - 1, m.config.seq_len);
        } else {
            run_path(&m, &g, mode, ATTNRES_PATH_DIRECT);
            if (m.config.residual == ATTNRES_RESIDUAL_ATTNRES) run_path(&m, &g, mode, ATTNRES_PATH_TWO_PHASE);
        }
    }
    attnres_model_free(&m);
    golden_free(&g);
}

int main(void) {
    int i;
    for (i = 0; MODES[i]; i++) run_mode(MODES[i]);
    return check_summary("test_generate");
}
