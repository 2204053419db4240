/* test_sizes.c - a size past what one allocation can hold is refused with
   a message, never computed modulo 2^32. Where size_t has 32 bits
   (WebAssembly, i386) a KV-cache or a model past 4 GiB used to wrap to a
   small number, load, and then write past its buffers.

   Built two ways from this one file:
     make test     natively: ATTNRES_SIZE_MAX is lowered to 2^32 - 1 below,
                   so a 64-bit build takes the refusals of a 32-bit one
     make test-32  gcc -m32, run under qemu-i386 (mk/sizes.mk): size_t has
                   32 bits and the limit is the platform's own SIZE_MAX
   Either way the allocator below counts every call and refuses anything
   over 256 MB: a refusal must come before any allocation is attempted. */
#include <stddef.h>
#include <stdint.h>
static long alloc_calls;        /* allocations attempted since the reset */
static long live_allocs;
void *counting_malloc(size_t n);
void counting_free(void *p);
#define ATTNRES_MALLOC(sz) counting_malloc(sz)
#define ATTNRES_FREE(p)    counting_free(p)
#if SIZE_MAX > 0xFFFFFFFFu
#define ATTNRES_SIZE_MAX ((size_t)0xFFFFFFFFu)   /* what a 32-bit size_t holds */
#endif
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"

#ifndef REGRESS_DIR
#define REGRESS_DIR "tests/regress"
#endif
#define LIMIT ((uint64_t)0xFFFFFFFFu)   /* bytes: the largest allocation, 32-bit or lowered */
/* 1 layer, head_dim 2048, seq_len 2^20: each cache 2^31 floats (8 GiB) */
#define BIG_KV_MODEL REGRESS_DIR "/kv-cache-over-4gib.OK.safetensors"

void *counting_malloc(size_t n) {
    void *p;
    alloc_calls++;
    if (n > ((size_t)256 << 20)) return NULL;   /* nothing here needs more */
    p = malloc(n);
    if (p) live_allocs++;
    return p;
}
void counting_free(void *p) { if (p) { live_allocs--; free(p); } }

/* The state of a model with a KV-cache past 4 GiB: asked for the whole
   context it is refused before allocating; the largest context that fits
   is the last one attnres_state_bytes answers for, to the byte. */
static void test_state(const attnres_model *m) {
    const attnres_config *c = &m->config;
    attnres_state s;
    attnres_error err;
    size_t one = attnres_state_bytes(c, 1), two = attnres_state_bytes(c, 2);
    /* each position adds a key and a value row per layer, and one score per head */
    uint64_t per = ((uint64_t)2 * (uint64_t)c->n_layers * (uint64_t)attnres_kv_dim(c) + (uint64_t)c->n_heads) * 4;
    uint64_t t_max = (LIMIT - (uint64_t)one) / per + 1;   /* the largest n_ctx with one + (n_ctx-1)*per <= LIMIT */
    int rc;
    check(one > 0 && (uint64_t)(two - one) == per, "state_bytes: %zu for one position, %llu more per position",
          one, (unsigned long long)(two - one));
    check(t_max < (uint64_t)c->seq_len, "the limit falls inside the context: %llu of %d positions fit",
          (unsigned long long)t_max, c->seq_len);
    check((uint64_t)attnres_state_bytes(c, (int)t_max) == (uint64_t)one + (t_max - 1) * per,
          "state_bytes(n_ctx = %llu) = %zu, the last context that fits", (unsigned long long)t_max,
          attnres_state_bytes(c, (int)t_max));
    check(attnres_state_bytes(c, (int)t_max + 1) == 0 && attnres_state_bytes(c, c->seq_len) == 0,
          "state_bytes: 0 for %llu positions and for all %d (more than one allocation holds), not a wrapped size",
          (unsigned long long)t_max + 1, c->seq_len);
    alloc_calls = 0;
    rc = attnres_state_init_ctx(&s, c, c->seq_len, &err);
    check(rc == ATTNRES_ERR_NOMEM && strstr(err.message, "more than one allocation can hold") && alloc_calls == 0,
          "state for all %d positions: refused before allocating (%ld calls): \"%s\"", c->seq_len, alloc_calls,
          err.message);
    if (rc == ATTNRES_OK) attnres_state_free(&s);
    alloc_calls = 0;
    rc = attnres_state_init_ctx(&s, c, (int)t_max + 1, &err);
    check(rc == ATTNRES_ERR_NOMEM && alloc_calls == 0, "state for %llu positions (one past the limit): refused: \"%s\"",
          (unsigned long long)t_max + 1, err.message);
    if (rc == ATTNRES_OK) attnres_state_free(&s);
    alloc_calls = 0;
    rc = attnres_state_init(&s, c, &err);
    check(rc == ATTNRES_ERR_NOMEM && alloc_calls == 0, "attnres_state_init (n_ctx = seq_len): refused the same way");
    if (rc == ATTNRES_OK) attnres_state_free(&s);
}

/* A training state over a whole sequence holds every position's scores
   [n_layers, T, n_heads, T]: asked for the whole context of this model it
   is past the limit and refused before allocating, and
   attnres_train_state_bytes answers 0 rather than a wrapped size. */
static void test_train_state(const attnres_model *m) {
    attnres_train_state ts;
    attnres_error err;
    size_t small = attnres_train_state_bytes(&m->config, 8);
    int rc;
    check(small > 0, "train_state_bytes: %zu for 8 tokens", small);
    check(attnres_train_state_bytes(&m->config, m->config.seq_len) == 0,
          "train_state_bytes: 0 for all %d tokens (more than one allocation holds), not a wrapped size",
          m->config.seq_len);
    alloc_calls = 0;
    rc = attnres_train_state_init(&ts, m, m->config.seq_len, &err);
    check(rc == ATTNRES_ERR_NOMEM && strstr(err.message, "more than one allocation can hold") && alloc_calls == 0,
          "train state for all %d tokens: refused before allocating (%ld calls): \"%s\"", m->config.seq_len,
          alloc_calls, err.message);
    if (rc == ATTNRES_OK) attnres_train_state_free(&ts);
}

/* The context the caller needs runs, and gives the same bits whatever
   n_ctx the state was made for (the cache's layout depends on it). */
static void test_short_context(const attnres_model *m) {
    attnres_state a, b;
    attnres_error err;
    int pos, same = 1, finite = 1, i, n = 24;
    if (attnres_state_init_ctx(&a, &m->config, n, &err) != ATTNRES_OK) { check(0, "state n_ctx %d: %s", n, err.message); return; }
    if (attnres_state_init_ctx(&b, &m->config, 64, &err) != ATTNRES_OK) {
        check(0, "state n_ctx 64: %s", err.message);
        attnres_state_free(&a);
        return;
    }
    for (pos = 0; pos < n; pos++) {
        int token = "The little robot walked."[pos];
        const float *la = attnres_forward(m, &a, token, pos, &err);
        const float *lb = la ? attnres_forward(m, &b, token, pos, &err) : NULL;
        if (!la || !lb) { same = 0; break; }
        for (i = 0; i < m->config.vocab_size; i++) finite &= isfinite(la[i]) != 0;
        same &= memcmp(la, lb, (size_t)m->config.vocab_size * sizeof(float)) == 0;
    }
    check(same && finite, "%d positions with n_ctx %d and 64: finite logits, the same bits (%s)", n, n,
          same ? "ok" : err.message);
    attnres_state_free(&a);
    attnres_state_free(&b);
}

static attnres_config base_config(void) {
    attnres_config c;
    memset(&c, 0, sizeof c);
    c.dim = 64; c.hidden_dim = 64; c.n_layers = 1; c.n_heads = 1; c.n_kv_heads = 1;
    c.vocab_size = 256; c.seq_len = 64; c.rope_theta = 10000.0f; c.norm_eps = 1e-5f;
    c.tie_embeddings = 1; c.residual = ATTNRES_RESIDUAL_STANDARD;
    return c;
}

/* Weights past the limit: refused before allocating, with a message. */
static void expect_model_refused(const attnres_config *c, int G, const char *what) {
    attnres_model m;
    attnres_error err;
    int rc;
    alloc_calls = 0;
    rc = attnres__model_alloc(&m, c, G, &err);
    check(rc == ATTNRES_ERR_NOMEM && strstr(err.message, "more than one allocation can hold") && alloc_calls == 0,
          "%s: refused before allocating (%ld calls): \"%s\"", what, alloc_calls, err.message);
    if (rc == ATTNRES_OK) attnres_model_free(&m);
}

static void test_model(void) {
    attnres_config c = base_config();
    attnres_model m;
    attnres_error err;
    int rc;
    /* 2^22 x 1024 embeddings: 2^32 floats, a count that is 0 modulo 2^32 */
    c.vocab_size = 1 << 22; c.dim = 1024; c.hidden_dim = 1024;
    expect_model_refused(&c, 0, "model with 2^32 embedding floats (16 GiB)");
    /* 2^22 x 256: 2^30 floats, 4 GiB of bytes: the byte count wraps */
    c.dim = 256; c.hidden_dim = 256;
    expect_model_refused(&c, 0, "model with 2^30 embedding floats (4 GiB + its other weights)");
    /* q8, tied: the fp32 embeddings (3.76 GB) fit; with the int8 copy of the
       output projection (0.94 GB) they do not */
    c.dim = 224; c.hidden_dim = 224;
    expect_model_refused(&c, 32, "q8 model: 3.76 GB of fp32 + 0.94 GB of int8");
    alloc_calls = 0;
    rc = attnres__model_alloc(&m, &c, 0, &err);   /* the same config in fp32: under the limit */
    check(rc == ATTNRES_ERR_NOMEM && strstr(err.message, "cannot allocate") && alloc_calls == 1,
          "the same model in fp32 (3.76 GB) passes the size check: it asks the allocator (here: refused) \"%s\"",
          err.message);
    if (rc == ATTNRES_OK) attnres_model_free(&m);
    /* a small one still loads: the check refuses only what does not fit */
    c = base_config();
    rc = attnres__model_alloc(&m, &c, 32, &err);
    check(rc == ATTNRES_OK && m.n_int8 > 0, "a small q8 model allocates (%zu floats, %zu int8)", m.n_floats, m.n_int8);
    if (rc == ATTNRES_OK) attnres_model_free(&m);
}

/* n_heads * head_dim is checked in 64 bits: 2^16 * 2^16 = 2^32 is 0 in a
   32-bit long (i386, Windows), and used to pass. */
static void test_config_products(void) {
    attnres_config c = base_config();
    attnres_error err;
    int rc;
    c.dim = 1 << 16; c.n_heads = 1 << 16; c.n_kv_heads = 1; c.head_dim = 1 << 16;
    rc = attnres_config_validate(&c, &err);
    check(rc == ATTNRES_ERR_CONFIG && strstr(err.message, "n_heads * head_dim"),
          "n_heads 2^16 x head_dim 2^16 (2^32): refused: \"%s\"", err.message);
}

int main(void) {
    attnres_model m;
    attnres_error err;
    printf("size_t: %d bits; the largest allocation: %llu bytes (%s)\n", (int)(8 * sizeof(size_t)),
           (unsigned long long)LIMIT, SIZE_MAX > LIMIT ? "ATTNRES_SIZE_MAX, lowered" : "SIZE_MAX");
    if (attnres_model_load(&m, BIG_KV_MODEL, &err) != ATTNRES_OK) {
        check(0, "load %s: %s", BIG_KV_MODEL, err.message);
    } else {
        check(1, "%s loads (%zu floats): its KV-cache, not its file, is large", BIG_KV_MODEL, m.n_floats);
        test_state(&m);
        test_short_context(&m);
        test_train_state(&m);
        attnres_model_free(&m);
    }
    test_model();
    test_config_products();
    check(live_allocs == 0, "no allocation left behind (%ld)", live_allocs);
    return check_summary("test_sizes");
}
