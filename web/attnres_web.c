/* attnres_web.c - the few functions the web page calls: attnres.h behind a
   flat interface of ints, floats and pointers that JavaScript can pass.

   Built twice from this one file, so that both builds run the same code:
     make web              emcc: build/web/attnres.js + attnres.wasm (the page)
     make test-web         cc:   build/default/web_parity, a native program
                           that calls the same functions (WEB_PARITY_MAIN)
                           and prints what web/parity.mjs prints from the
                           page's module under node

   One model, one state, one sampler at a time (a page shows one model).
   Every function that can fail returns 0 on success or an attnres_status,
   with the message in web_error(). Pointers returned here point into the
   module's memory and stay valid until the next web_load.

     web_load(path)                 load a .safetensors file (the page first
                                    writes the bytes into the in-memory file
                                    system)
     web_config(WEB_CFG_...)        one number of the config, or L, N
     web_context(n_ctx)             a state (KV-cache) for n_ctx positions:
                                    what the page will run, prompt + new
                                    bytes, as attnres-run sizes its own;
                                    never the whole seq_len, which can be
                                    gigabytes for a file of kilobytes
     web_forward(token, pos)        run one token (pos < n_ctx); logits and
                                    alpha follow
     web_logits() web_alpha()       [vocab_size], [L+1, N+1] (row L: output)
     web_alpha_count()              [L+1] sources of each alpha row
     web_sampler(T, top_p, seed)    a fresh sampler
     web_sample()                   the next token from the current logits
                                    (on a copy: web_logits() stays intact)
     web_set_query_scale(row, s)    "what if": pseudo-query row = s * trained
                                    row (s = 0: a uniform mean over sources);
                                    s = 1 restores it exactly */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __EMSCRIPTEN__
#include <emscripten/emscripten.h>
#define WEBDEF EMSCRIPTEN_KEEPALIVE
#else
#define WEBDEF
#endif

/* what web_config answers */
enum {
    WEB_CFG_DIM, WEB_CFG_N_LAYERS, WEB_CFG_VOCAB_SIZE, WEB_CFG_SEQ_LEN,
    WEB_CFG_RESIDUAL, WEB_CFG_BLOCK_SIZE, WEB_CFG_N_SUBLAYERS, WEB_CFG_N_BLOCKS
};

static attnres_model   web_model;
static attnres_state   web_state;
static attnres_sampler web_sampler_;
static attnres_error   web_err;
static float          *web_trained_query;   /* [L+1, dim] pseudo_query as loaded */
static float          *web_scratch;         /* [vocab_size] logits for sampling  */
static int             web_loaded;

static int web_fail(int code, const char *message) {
    web_err.code = code;
    snprintf(web_err.message, sizeof web_err.message, "%s", message);
    return code;
}

WEBDEF const char *web_error(void) { return web_err.message; }

static void web_unload(void) {
    attnres_sampler_free(&web_sampler_);
    attnres_state_free(&web_state);
    attnres_model_free(&web_model);
    free(web_trained_query);
    free(web_scratch);
    web_trained_query = NULL;
    web_scratch = NULL;
    web_loaded = 0;
}

WEBDEF int web_load(const char *path) {
    const attnres_config *c = &web_model.config;
    size_t query_floats;
    web_unload();
    if (attnres_model_load(&web_model, path, &web_err) != ATTNRES_OK) return web_err.code;
    if (attnres_sampler_init(&web_sampler_, c->vocab_size, 0.0f, 0.0f, 1, &web_err) != ATTNRES_OK) {
        web_unload();
        return web_err.code;
    }
    query_floats = (size_t)(attnres_n_sublayers(c) + 1) * (size_t)c->dim;
    web_scratch = (float *)malloc((size_t)c->vocab_size * sizeof(float));
    if (web_model.weights.pseudo_query)
        web_trained_query = (float *)malloc(query_floats * sizeof(float));
    if (!web_scratch || (web_model.weights.pseudo_query && !web_trained_query)) {
        web_unload();
        return web_fail(ATTNRES_ERR_NOMEM, "out of memory for the page's buffers");
    }
    if (web_trained_query)
        memcpy(web_trained_query, web_model.weights.pseudo_query, query_floats * sizeof(float));
    web_loaded = 1;
    return ATTNRES_OK;
}

WEBDEF int web_config(int what) {
    const attnres_config *c = &web_model.config;
    if (!web_loaded) return -1;
    switch (what) {
    case WEB_CFG_DIM:          return c->dim;
    case WEB_CFG_N_LAYERS:     return c->n_layers;
    case WEB_CFG_VOCAB_SIZE:   return c->vocab_size;
    case WEB_CFG_SEQ_LEN:      return c->seq_len;
    case WEB_CFG_RESIDUAL:     return c->residual;
    case WEB_CFG_BLOCK_SIZE:   return c->block_size;
    case WEB_CFG_N_SUBLAYERS:  return attnres_n_sublayers(c);
    case WEB_CFG_N_BLOCKS:     return attnres_n_blocks(c);
    default:                   return -1;
    }
}

/* A state of exactly n_ctx positions; the one there is kept (emptied) when
   it already has that size, so a what-if rerun of the same text does not
   reallocate. */
WEBDEF int web_context(int n_ctx) {
    if (!web_loaded) return web_fail(ATTNRES_ERR_MISSING, "no model loaded");
    if (web_state.memory && web_state.n_ctx == n_ctx) {
        attnres_state_reset(&web_state);
        return ATTNRES_OK;
    }
    attnres_state_free(&web_state);
    return attnres_state_init_ctx(&web_state, &web_model.config, n_ctx, &web_err);
}

WEBDEF int web_forward(int token, int pos) {
    if (!web_loaded) return web_fail(ATTNRES_ERR_MISSING, "no model loaded");
    return attnres_forward(&web_model, &web_state, token, pos, &web_err) ? ATTNRES_OK : web_err.code;
}

WEBDEF float *web_logits(void) { return web_loaded ? web_state.logits : NULL; }
WEBDEF float *web_alpha(void) { return web_loaded ? web_state.alpha : NULL; }
WEBDEF int *web_alpha_count(void) { return web_loaded ? web_state.alpha_count : NULL; }

/* seed: below 2^32 here (what a page's number box holds), as in attnres-run -s */
WEBDEF int web_sampler(float temperature, float top_p, unsigned seed) {
    if (!web_loaded) return web_fail(ATTNRES_ERR_MISSING, "no model loaded");
    attnres_sampler_free(&web_sampler_);
    return attnres_sampler_init(&web_sampler_, web_model.config.vocab_size, temperature, top_p,
                                (uint64_t)seed, &web_err);
}

/* -1 when nothing is loaded */
WEBDEF int web_sample(void) {
    if (!web_loaded) return -1;
    memcpy(web_scratch, web_state.logits, (size_t)web_model.config.vocab_size * sizeof(float));
    return attnres_sample(&web_sampler_, web_scratch);
}

WEBDEF int web_set_query_scale(int row, float scale) {
    int dim = web_model.config.dim, j;
    float *w;
    if (!web_loaded) return web_fail(ATTNRES_ERR_MISSING, "no model loaded");
    if (!web_trained_query) return web_fail(ATTNRES_ERR_CONFIG, "a standard model has no pseudo-queries");
    if (row < 0 || row > attnres_n_sublayers(&web_model.config))
        return web_fail(ATTNRES_ERR_RANGE, "pseudo-query row out of range");
    w = web_model.weights.pseudo_query + (size_t)row * (size_t)dim;
    /* the forward pass reads the weights as they are: nothing derived to rebuild */
    for (j = 0; j < dim; j++) w[j] = scale * web_trained_query[(size_t)row * (size_t)dim + j];
    return ATTNRES_OK;
}

#ifdef WEB_PARITY_MAIN
/* web_parity MODEL PROMPT N_NEW TEMPERATURE TOP_P SEED [ROW SCALE]
   Feeds the prompt, then samples N_NEW bytes into a state of that many
   positions (every position gets a
   forward pass, the last one too), printing per position the token, every
   logit and every alpha row as float bits (%08x), then the text in hex.
   web/parity.mjs prints the same lines from the WebAssembly module. */
#include <stdlib.h>

/* "NAME POS bits bits ...": each float as the 8 hex digits of its bits */
static void print_floats(const char *name, int pos, const float *x, int n) {
    int i;
    printf("%s %d", name, pos);
    for (i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        printf(" %08x", (unsigned)bits);
    }
    printf("\n");
}

int main(int argc, char **argv) {
    int n_prompt, n_new, pos, L, N, vocab, l;
    int tokens[4096];
    if (argc != 7 && argc != 9) {
        fprintf(stderr, "usage: web_parity MODEL PROMPT N_NEW TEMPERATURE TOP_P SEED [ROW SCALE]\n");
        return 2;
    }
    n_prompt = (int)strlen(argv[2]);
    n_new = atoi(argv[3]);
    if (n_prompt < 1 || n_new < 0 || n_prompt + n_new > 4096) {
        fprintf(stderr, "web_parity: need a prompt of 1 byte or more and 0 <= N_NEW, at most 4096 in all\n");
        return 2;
    }
    if (web_load(argv[1]) != ATTNRES_OK || web_context(n_prompt + n_new) != ATTNRES_OK ||
        web_sampler((float)atof(argv[4]), (float)atof(argv[5]), (unsigned)strtoul(argv[6], NULL, 10)) != ATTNRES_OK ||
        (argc == 9 && web_set_query_scale(atoi(argv[7]), (float)atof(argv[8])) != ATTNRES_OK)) {
        fprintf(stderr, "web_parity: %s\n", web_error());
        return 1;
    }
    L = web_config(WEB_CFG_N_SUBLAYERS);
    N = web_config(WEB_CFG_N_BLOCKS);
    vocab = web_config(WEB_CFG_VOCAB_SIZE);
    for (pos = 0; pos < n_prompt; pos++) tokens[pos] = (unsigned char)argv[2][pos];
    for (pos = 0; pos < n_prompt + n_new; pos++) {
        if (web_forward(tokens[pos], pos) != ATTNRES_OK) {
            fprintf(stderr, "web_parity: %s\n", web_error());
            return 1;
        }
        if (pos + 1 < n_prompt + n_new)
            tokens[pos + 1] = pos + 1 < n_prompt ? tokens[pos + 1] : web_sample();
        printf("token %d %d\n", pos, tokens[pos]);
        print_floats("logits", pos, web_logits(), vocab);
        if (web_config(WEB_CFG_RESIDUAL) == ATTNRES_RESIDUAL_ATTNRES)
            for (l = 0; l <= L; l++) {
                char name[32];
                snprintf(name, sizeof name, "alpha%d", l);
                print_floats(name, pos, web_alpha() + l * (N + 1), web_alpha_count()[l]);
            }
    }
    printf("text ");
    for (pos = 0; pos < n_prompt + n_new; pos++) printf("%02x", tokens[pos]);
    printf("\n");
    web_unload();
    return 0;
}
#endif
