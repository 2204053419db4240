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
                   wk, 3e38 in a pseudo-query), and two untouched controls;
     and the hardening round: control bytes (ESC, BEL, CR, C1 CSI, DEL)
                   in a tensor name and a metadata value, reversed
                   data_offsets, block_size INT_MIN, norm_eps 3.4e38 (a
                   float, < FLT_MAX), and long-context-deep: 110 KB that
                   claim seq_len 2^20 over 64 layers (a whole-context state
                   would be 2 GB); kv-cache-over-4gib: 266 KB, head_dim
                   2048, seq_len 2^20: a whole-context KV-cache of 2^32
                   floats, which a 32-bit size_t (WebAssembly) counted as
                   a few thousand (tests/test_sizes.c).
   Every file must also stay in proportion: the peak memory of load + a
   64-position run is at most 4x the file + 1 MB, and every message is
   inert (no byte a terminal acts on). */
#include <stddef.h>
static long live_allocs;
static size_t live_bytes, peak_bytes;   /* bytes allocated now, and the most at once */
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

/* Requests above 4 GB fail, as on a small machine (a 32-bit build, make
   test-32, cannot ask for more). */
#if SIZE_MAX > 0xFFFFFFFFu
#define COUNTING_MAX_ALLOC ((size_t)1 << 32)
#else
#define COUNTING_MAX_ALLOC SIZE_MAX
#endif

/* Each block carries its size in front (16 bytes keep the alignment). */
void *counting_malloc(size_t n) {
    unsigned char *p = n > COUNTING_MAX_ALLOC ? NULL : (unsigned char *)malloc(n + 16);
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    live_allocs++;
    live_bytes += n;
    if (live_bytes > peak_bytes) peak_bytes = live_bytes;
    return p + 16;
}
void counting_free(void *q) {
    unsigned char *p = (unsigned char *)q - 16;
    size_t n;
    if (!q) return;
    memcpy(&n, p, sizeof n);
    live_allocs--;
    live_bytes -= n;
    free(p);
}

/* The context the replay runs: at most 64 positions, whatever seq_len a
   file claims (a state for the whole seq_len is the caller's choice). */
#define REPLAY_POSITIONS 64

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
    int n_ctx = m->config.seq_len < REPLAY_POSITIONS ? m->config.seq_len : REPLAY_POSITIONS;
    if (attnres_state_init_ctx(&s, &m->config, n_ctx, &err) != ATTNRES_OK) {
        snprintf(why, why_len, "state_init: %.200s", err.message);
        return 0;
    }
    for (path = 0; path < n_paths; path++) {
        attnres_state_reset(&s);
        s.path = path;
        for (pos = 0; pos < n_ctx; pos++) {
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

static long file_size(const char *path) {
    FILE *fp = fopen(path, "rb");
    long n = -1;
    if (fp && fseek(fp, 0, SEEK_END) == 0) n = ftell(fp);
    if (fp) fclose(fp);
    return n;
}

/* A message must not carry a byte a terminal would act on. */
static int message_is_inert(const char *msg) {
    const unsigned char *p = (const unsigned char *)msg;
    for (; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) return 0;
    return 1;
}

static void replay(const char *dir, const char *name) {
    char path[1024], why[256] = "";
    attnres_model m;
    attnres_error err;
    int want = expected_code(name), rc, ok;
    long size;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (want < 0) { check(0, "%s: the name does not say which status to expect", name); return; }
    size = file_size(path);
    live_allocs = 0;
    live_bytes = peak_bytes = 0;
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
    /* in proportion to the input: the file, its weights, a 64-position state */
    check(size >= 0 && peak_bytes <= 4 * (size_t)size + ((size_t)1 << 20) && message_is_inert(err.message),
          "%-40s    peak memory %zu KB for a %ld KB file; message inert", name, peak_bytes >> 10, size >> 10);
}

/* A 110 KB file that claims seq_len 2^20 over 64 layers: a state for the
   whole context would be ~2 GB; the caller asks for what it needs. */
static void test_context_memory(void) {
    attnres_model m;
    attnres_state s, full;
    attnres_error err;
    size_t whole, one;
    const float *logits;
    int rc, pos, same = 1;
    rc = attnres_model_load(&m, REGRESS_DIR "/long-context-deep.OK.safetensors", &err);
    if (rc != ATTNRES_OK) { check(0, "load long-context-deep: %s", err.message); return; }
    whole = attnres_state_bytes(&m.config, m.config.seq_len);
    one = attnres_state_bytes(&m.config, 1);
    check(whole > ((size_t)1 << 30) && one > 0 && one < ((size_t)1 << 20),
          "state_bytes: %.2f GB for all %d positions, %zu KB for one (asked before allocating)",
          (double)whole / 1e9, m.config.seq_len, one >> 10);
    live_bytes = peak_bytes = 0;
    rc = attnres_state_init_ctx(&s, &m.config, 1, &err);
    logits = rc == ATTNRES_OK ? attnres_forward(&m, &s, 3, 0, &err) : NULL;
    check(logits != NULL && peak_bytes == one, "one token with n_ctx = 1: runs, allocating %zu KB (= state_bytes)",
          peak_bytes >> 10);
    if (rc == ATTNRES_OK) {
        check(attnres_forward(&m, &s, 3, 1, &err) == NULL && err.code == ATTNRES_ERR_RANGE &&
              strstr(err.message, "n_ctx = 1"), "pos 1 past n_ctx 1 -> \"%s\"", err.message);
        attnres_state_free(&s);
    }
    check(attnres_state_init_ctx(&s, &m.config, 0, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "n_ctx = 0"),
          "n_ctx 0 -> \"%s\"", err.message);
    check(attnres_state_init_ctx(&s, &m.config, m.config.seq_len + 1, &err) == ATTNRES_ERR_RANGE,
          "n_ctx seq_len + 1 -> \"%s\"", err.message);
    check(attnres_state_bytes(&m.config, 0) == 0 && attnres_state_bytes(&m.config, m.config.seq_len + 1) == 0,
          "state_bytes: 0 for an n_ctx outside [1, seq_len]");
    attnres_model_free(&m);
    /* a short context computes what the whole one does, bit for bit */
    rc = attnres_model_load(&m, REGRESS_DIR "/tiny-valid-attnres.OK.safetensors", &err);
    if (rc != ATTNRES_OK) { check(0, "load tiny-valid-attnres: %s", err.message); return; }
    if (attnres_state_init_ctx(&s, &m.config, m.config.seq_len > 3 ? 3 : m.config.seq_len, &err) == ATTNRES_OK &&
        attnres_state_init(&full, &m.config, &err) == ATTNRES_OK) {
        for (pos = 0; pos < s.n_ctx; pos++) {
            const float *a = attnres_forward(&m, &s, pos % m.config.vocab_size, pos, &err);
            const float *b = attnres_forward(&m, &full, pos % m.config.vocab_size, pos, &err);
            same &= a && b && memcmp(a, b, (size_t)m.config.vocab_size * sizeof(float)) == 0;
        }
        check(same, "n_ctx %d of seq_len %d: the same logits bits as a state for the whole context",
              s.n_ctx, m.config.seq_len);
        attnres_state_free(&s);
        attnres_state_free(&full);
    }
    attnres_model_free(&m);
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
    test_context_memory();
    return check_summary("test_regress");
}
