/* test_regress.c - replays every checkpoint in tests/regress/: files that
   once broke (or fooled) the loader or the forward pass, kept so they stay
   fixed. A file's name says what must happen:

       <what>.<CODE>.safetensors     CODE = OK, FORMAT, DTYPE, SHAPE, MISSING,
                                     CONFIG (an attnres_status without ERR_)

   A refused file must give exactly that code with a message and no leak.
   A file that loads (OK) must then run: every position of its context on
   every depth-attention path, each step giving finite logits or a clear
   error, never NaN/Inf logits passed off as a result.

   Where the files come from:
     fuzz-*        inputs make fuzz reported (libFuzzer's crash-* files),
                   minimised with -minimize_crash and renamed once fixed;
     the others    tiny models (dim 4, one layer) written by tools/st.py,
                   then one thing edited: a metadata key given twice
                   (Python's json keeps the last value, a first-match lookup
                   the first), metadata numbers strtod takes but JSON's
                   grammar does not (hex float, a tab, a '+'), finite
                   weights whose products overflow float (1e30 in wq and
                   wk, 3e38 in a pseudo-query), and two untouched controls. */
#include <stddef.h>
static long live_allocs;
void *counting_malloc(size_t n);
void counting_free(void *p);
#define ATTNRES_MALLOC(sz) counting_malloc(sz)
#define ATTNRES_FREE(p)    counting_free(p)
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include <dirent.h>

#ifndef REGRESS_DIR
#define REGRESS_DIR "tests/regress"
#endif

void *counting_malloc(size_t n) {
    void *p = n > ((size_t)1 << 32) ? NULL : malloc(n);
    if (p) live_allocs++;
    return p;
}
void counting_free(void *p) { if (p) { live_allocs--; free(p); } }

/* The status a file name asks for, or -1 if it names none. */
static int expected_code(const char *name) {
    static const struct { const char *word; int code; } codes[] = {
        {".OK.", ATTNRES_OK}, {".FORMAT.", ATTNRES_ERR_FORMAT}, {".DTYPE.", ATTNRES_ERR_DTYPE},
        {".SHAPE.", ATTNRES_ERR_SHAPE}, {".MISSING.", ATTNRES_ERR_MISSING}, {".CONFIG.", ATTNRES_ERR_CONFIG}};
    int i;
    for (i = 0; i < (int)(sizeof codes / sizeof codes[0]); i++)
        if (strstr(name, codes[i].word)) return codes[i].code;
    return -1;
}

/* Every position on every path: finite logits or an error, never garbage. */
static int run_all_positions(const attnres_model *m, char *why, size_t why_len) {
    attnres_state s;
    attnres_error err;
    int path, pos, i, n_paths = m->config.residual == ATTNRES_RESIDUAL_ATTNRES ? 2 : 1;
    if (attnres_state_init(&s, &m->config, &err) != ATTNRES_OK) {
        snprintf(why, why_len, "state_init: %.200s", err.message);
        return 0;
    }
    for (path = 0; path < n_paths; path++) {
        attnres_state_reset(&s);
        s.path = path;
        for (pos = 0; pos < m->config.seq_len && pos < 64; pos++) {
            const float *logits = attnres_forward(m, &s, pos % m->config.vocab_size, pos, &err);
            if (!logits) {
                if (err.code == ATTNRES_OK || !err.message[0]) {
                    snprintf(why, why_len, "path %d pos %d: NULL logits without an error", path, pos);
                    attnres_state_free(&s);
                    return 0;
                }
                snprintf(why, why_len, "refused at path %d pos %d: %.120s", path, pos, err.message);
                break;   /* a clear error: fine */
            }
            for (i = 0; i < m->config.vocab_size; i++)
                if (!isfinite(logits[i])) {
                    snprintf(why, why_len, "path %d pos %d: logit %d is %g, returned as a result",
                             path, pos, i, (double)logits[i]);
                    attnres_state_free(&s);
                    return 0;
                }
        }
    }
    attnres_state_free(&s);
    return 1;
}

static void replay(const char *dir, const char *name) {
    char path[1024], why[256] = "";
    attnres_model m;
    attnres_error err;
    int want = expected_code(name), rc, ok;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (want < 0) { check(0, "%s: the name does not say which status to expect", name); return; }
    live_allocs = 0;
    rc = attnres_model_load(&m, path, &err);
    ok = rc == want && err.code == want && (rc == ATTNRES_OK || err.message[0]);
    if (rc == ATTNRES_OK) {
        if (ok) ok = run_all_positions(&m, why, sizeof why);
        attnres_model_free(&m);
    }
    ok = ok && live_allocs == 0;
    check(ok, "%-40s -> %s: \"%.110s\"%s%s%s", name, attnres_status_name(rc), rc ? err.message : why,
          rc == want ? "" : " (expected ", rc == want ? "" : attnres_status_name(want),
          live_allocs ? ") LEAKED" : rc == want ? "" : ")");
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Prefill with an uninitialised model must say so, not blame the tokens. */
static void test_prefill_uninitialised(void) {
    attnres_model zm;
    attnres_state s;
    attnres_error err;
    attnres_config c;
    int tokens[2] = {1, 2};
    memset(&zm, 0, sizeof zm);
    memset(&c, 0, sizeof c);
    c.dim = 8; c.hidden_dim = 8; c.n_layers = 1; c.n_heads = 2; c.n_kv_heads = 2;
    c.vocab_size = 4; c.seq_len = 4; c.rope_theta = 10000.0f; c.norm_eps = 1e-5f;
    if (attnres_state_init(&s, &c, &err) != ATTNRES_OK) { check(0, "state_init: %s", err.message); return; }
    check(attnres_prefill(&zm, &s, tokens, 2, &err) == NULL && strstr(err.message, "not initialised"),
          "prefill with a zeroed model says so: \"%s\"", err.message);
    attnres_state_free(&s);
}

int main(void) {
    DIR *d = opendir(REGRESS_DIR);
    struct dirent *e;
    char *names[1024];
    int n = 0, i;
    if (!d) { check(0, "cannot open %s", REGRESS_DIR); return check_summary("test_regress"); }
    while ((e = readdir(d)) != NULL && n < 1024) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 12 || strcmp(e->d_name + len - 12, ".safetensors") != 0) continue;
        names[n] = (char *)malloc(len + 1);
        if (!names[n]) break;
        memcpy(names[n], e->d_name, len + 1);
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);   /* the same order on every system */
    check(n > 0, "%d regression files in %s", n, REGRESS_DIR);
    for (i = 0; i < n; i++) { replay(REGRESS_DIR, names[i]); free(names[i]); }
    test_prefill_uninitialised();
    return check_summary("test_regress");
}
