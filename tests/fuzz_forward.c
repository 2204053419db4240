/* fuzz_forward.c - libFuzzer harness for the run-time API: attnres_forward,
   attnres_prefill, attnres_state_reset, the depth-attention path switch and
   the sampler, driven by fuzzed sequences of calls on tiny fixed models.
   Build and run with `make fuzz`.

   The models are built in memory (attnres_model_init, then weights from a
   fixed xorshift stream), so no file is involved. The first input byte
   picks one of six models (standard; Full AttnRes; Block AttnRes with S
   not dividing L; GQA with tied embeddings; and the last two again with
   int8 weights and activations, W8A8, groups of 4); every following group of four
   bytes is one call. Tokens and positions are drawn so that roughly half
   are out of range, including INT_MIN and INT_MAX.

   The harness predicts, from its own bookkeeping, whether each call is
   valid (0 <= token < vocab_size, 0 <= pos < seq_len, pos <= cache_len)
   and requires:
     - an invalid call returns NULL with ATTNRES_ERR_RANGE and a message,
       and leaves cache_len alone (ATTNRES_ERR_CONFIG for a path that is
       neither DIRECT nor TWO_PHASE);
     - a valid call returns finite logits, cache_len = pos + 1, and logits
       bit-identical to a fresh state that ran the same tokens at
       positions 0..pos on the same path (so rewinding the cache never
       leaves stale data behind);
     - the sampler returns an id in [0, vocab_size).
   A broken promise calls abort(), which libFuzzer reports as a crash. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTNRES_IMPLEMENTATION
#ifdef ATTNRES_HEADER
#include ATTNRES_HEADER
#else
#include "../attnres.h"
#endif

#define N_CONFIGS 6   /* 4 and 5: configs 2 and 3 in W8A8 */
#define MAX_SEQ   8

static attnres_model models[N_CONFIGS];
static attnres_state fresh[N_CONFIGS];   /* replays from position 0 */
static int ready;

static void require(int ok, const char *what, const attnres_error *err) {
    if (ok) return;
    fprintf(stderr, "fuzz_forward: broken promise: %s (err: %d \"%s\")\n", what,
            err ? err->code : -1, err ? err->message : "");
    abort();
}

static attnres_config tiny_config(int which) {
    attnres_config c;
    memset(&c, 0, sizeof c);
    if (which >= 4) which -= 2;   /* the W8A8 copies of configs 2 and 3 */
    c.dim = 8; c.hidden_dim = 12; c.n_layers = 2; c.n_heads = 2; c.n_kv_heads = 2;
    c.vocab_size = 16; c.seq_len = MAX_SEQ; c.rope_theta = 10000.0f; c.norm_eps = 1e-5f;
    if (which == 1) { c.residual = ATTNRES_RESIDUAL_ATTNRES; c.block_size = 1; }
    if (which == 2) { c.residual = ATTNRES_RESIDUAL_ATTNRES; c.block_size = 3; }   /* L = 4 */
    if (which == 3) { c.residual = ATTNRES_RESIDUAL_ATTNRES; c.block_size = 2;
                      c.n_heads = 4; c.n_kv_heads = 1; c.dim = 16; c.tie_embeddings = 1; }
    return c;
}

static void setup(void) {
    uint64_t rng = 0x1234567ULL;
    attnres_error err;
    int k;
    size_t i;
    for (k = 0; k < N_CONFIGS; k++) {
        attnres_config c = tiny_config(k);
        require(attnres_model_init(&models[k], &c, &err) == ATTNRES_OK, "model_init", &err);
        for (i = 0; i < models[k].n_floats; i++)   /* uniform in [-0.5, 0.5) */
            models[k].memory[i] = attnres_random_f32(&rng) - 0.5f;
        if (k >= 4) {   /* W8A8: int8 weights (groups of 4 divide every dim here) and activations */
            require(attnres_model_quantize(&models[k], 4, &err) == ATTNRES_OK, "quantize", &err);
            models[k].q8.int8_activations = 1;
        }
        require(attnres_state_init(&fresh[k], &c, &err) == ATTNRES_OK, "state_init", &err);
    }
    ready = 1;
}

/* A token for byte b: mostly near [0, V), sometimes far outside. */
static int pick_token(unsigned b, int V) {
    if (b < 224) return (int)(b % (unsigned)(V + 4)) - 2;
    if (b < 240) return b % 2 ? INT_MAX : INT_MIN;
    return (int)b * 100000;
}

static int pick_pos(unsigned b, int T, int cache_len) {
    if (b < 96) return cache_len;                       /* the next position */
    if (b < 224) return (int)(b % (unsigned)(T + 4)) - 2;
    return b % 2 ? INT_MAX : INT_MIN;
}

/* Logits must match a fresh state fed history[0..pos] one token at a time,
   each position on the path it was first computed with (the two paths
   agree only to rounding, so a mixed cache replays with the same mix). */
static void check_replay(int k, const int *history, const int *paths, int pos, const float *logits) {
    attnres_state *r = &fresh[k];
    attnres_error err;
    const float *want = NULL;
    int p;
    attnres_state_reset(r);
    for (p = 0; p <= pos; p++) {
        r->path = paths[p];
        want = attnres_forward(&models[k], r, history[p], p, &err);
    }
    require(want != NULL, "replay runs", &err);
    require(memcmp(want, logits, (size_t)models[k].config.vocab_size * sizeof(float)) == 0,
            "logits after a rewind equal a fresh run, bit for bit", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    attnres_state s;
    attnres_sampler smp;
    attnres_error err;
    const attnres_model *m;
    int history[MAX_SEQ];   /* token at each cached position */
    int paths[MAX_SEQ];     /* the path it was computed on   */
    float last[64];         /* a copy of the latest logits, for the sampler */
    int have_last = 0, path_ok = 1, k, V, T, i, j;
    size_t at;
    if (!ready) setup();
    if (size < 1) return 0;
    k = data[0] % N_CONFIGS;
    m = &models[k];
    V = m->config.vocab_size; T = m->config.seq_len;
    require(attnres_state_init(&s, &m->config, &err) == ATTNRES_OK, "state_init", &err);
    for (at = 1; at + 4 <= size; at += 4) {
        unsigned op = data[at] % 8, b1 = data[at + 1], b2 = data[at + 2], b3 = data[at + 3];
        if (op <= 3) {   /* one forward step */
            int token = pick_token(b1, V), pos = pick_pos(b2, T, s.cache_len), before = s.cache_len;
            int valid = token >= 0 && token < V && pos >= 0 && pos < T && pos <= s.cache_len;
            float *logits = attnres_forward(m, &s, token, pos, &err);
            if (!path_ok) {
                require(logits == NULL && err.code == ATTNRES_ERR_CONFIG && s.cache_len == before,
                        "an unknown path is refused", &err);
                continue;
            }
            if (!valid) {
                require(logits == NULL && err.code == ATTNRES_ERR_RANGE && err.message[0],
                        "an out-of-range token or position is an error", &err);
                require(s.cache_len == before, "a refused call leaves the cache alone", &err);
                continue;
            }
            require(logits != NULL && err.code == ATTNRES_OK, "a valid call works", &err);
            require(s.cache_len == pos + 1, "cache_len = pos + 1", &err);
            for (i = 0; i < V; i++) require(isfinite(logits[i]), "finite logits", NULL);
            history[pos] = token;
            paths[pos] = s.path;
            if (b3 < 64) check_replay(k, history, paths, pos, logits);
            memcpy(last, logits, (size_t)V * sizeof(float));
            have_last = 1;
        } else if (op == 4) {   /* a whole prompt */
            int tokens[MAX_SEQ + 4], n = (int)(b1 % (unsigned)(T + 4)), before = s.cache_len, valid;
            float *logits;
            valid = n >= 1 && before + n <= T && path_ok;
            for (i = 0; i < n; i++) {
                tokens[i] = (int)((b2 + 5u * (unsigned)i) % (unsigned)(V + (b3 < 32 ? 1 : 0)));
                if (tokens[i] >= V) valid = 0;
            }
            logits = attnres_prefill(m, &s, tokens, n, &err);
            if (n == 0) {   /* an empty prompt: either refused or a no-op, never a crash */
                require(s.cache_len == before, "an empty prompt changes nothing", &err);
                continue;
            }
            if (!valid) {
                require(logits == NULL && err.code != ATTNRES_OK && err.message[0],
                        "a prompt past the context or with a bad token is refused", &err);
                require(s.cache_len == before, "a refused prompt runs nothing", &err);
                continue;
            }
            require(logits != NULL, "a valid prompt runs", &err);
            require(s.cache_len == before + n, "cache_len grows by the prompt length", &err);
            for (i = 0; i < n; i++) { history[before + i] = tokens[i]; paths[before + i] = s.path; }
            if (b3 >= 192) check_replay(k, history, paths, s.cache_len - 1, logits);
            memcpy(last, logits, (size_t)V * sizeof(float));
            have_last = 1;
        } else if (op == 5) {
            attnres_state_reset(&s);
        } else if (op == 6) {   /* switch paths; sometimes to a value that is no path */
            s.path = b1 >= 240 ? (int)b1 - 245 : b1 % 2 ? ATTNRES_PATH_TWO_PHASE : ATTNRES_PATH_DIRECT;
            path_ok = s.path == ATTNRES_PATH_DIRECT || s.path == ATTNRES_PATH_TWO_PHASE;
        } else if (have_last) {   /* sample from a copy of the last logits */
            float probs[64];
            float temperature = (float)b1 / 64.0f, topp = (float)b2 / 255.0f;
            require(attnres_sampler_init(&smp, V, temperature, topp, b3, &err) == ATTNRES_OK, "sampler_init", &err);
            for (j = 0; j < 3; j++) {
                int id;
                memcpy(probs, last, (size_t)V * sizeof(float));
                id = attnres_sample(&smp, probs);
                require(id >= 0 && id < V, "a sample is a token id", NULL);
            }
            attnres_sampler_free(&smp);
            attnres_sampler_free(&smp);
        }
    }
    attnres_state_free(&s);
    attnres_state_free(&s);
    return 0;
}
