/* det_dump.c - prints a fingerprint of every logit the golden models
   produce on their prompts, for tests/determinism.sh.

   For each golden model it feeds the 20-token prompt of its .expect file
   one token at a time (on both depth-attention paths for AttnRes models)
   and hashes the raw IEEE-754 bits of all logits at every position with
   FNV-1a 64. One line per model and path:
       <model> <path> <positions> <fnv1a64 of the logits bits>
   and a last line "all <hash of the lines above>". Two builds, or two runs,
   that print the same lines computed bit-identical logits.

   usage: det_dump [GOLDEN_DIR]   (default: golden) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "st_i32.h"

static const char *const CASES[] = {
    "standard", "full", "block_s2", "block_s4", "block_sl", "gqa", "tied", "standard_gqa_tied"};

/* FNV-1a, 64 bits, over n bytes. */
static uint64_t fnv1a(uint64_t h, const void *bytes, size_t n) {
    const unsigned char *p = (const unsigned char *)bytes;
    size_t i;
    for (i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
    return h;
}

/* The prompt of a golden case: the I32 tensor "tokens" of its expect file. */
static int32_t *read_prompt(const char *dir, const char *name, int *n_tokens) {
    char path[1024];
    attnres__st_file f;
    attnres_error err;
    const attnres__st_tensor *t;
    int32_t *tokens = NULL;
    snprintf(path, sizeof path, "%s/%s.expect.safetensors", dir, name);
    if (attnres__st_open(&f, path, &err) != ATTNRES_OK) { fprintf(stderr, "det_dump: %s\n", err.message); return NULL; }
    t = attnres__st_find(&f, "tokens");
    if (t && t->numel > 0 && t->numel < 1000000) {
        tokens = (int32_t *)malloc((size_t)t->numel * sizeof *tokens);
        if (tokens && st_read_i32(tokens, (size_t)t->numel, t, &err) != ATTNRES_OK) {
            fprintf(stderr, "det_dump: %s: %s\n", path, err.message);
            free(tokens);
            tokens = NULL;
        }
        *n_tokens = (int)t->numel;
    } else {
        fprintf(stderr, "det_dump: %s has no usable 'tokens' tensor\n", path);
    }
    attnres__st_close(&f);
    return tokens;
}

/* Runs the prompt on one path; returns 1 and the hash, or 0 on an error. */
static int hash_run(const attnres_model *m, int path, const int32_t *tokens, int n, uint64_t *hash) {
    attnres_state s;
    attnres_error err;
    int pos;
    *hash = 0xcbf29ce484222325ULL;   /* FNV-1a offset basis */
    if (attnres_state_init(&s, &m->config, &err) != ATTNRES_OK) { fprintf(stderr, "det_dump: %s\n", err.message); return 0; }
    s.path = path;
    for (pos = 0; pos < n; pos++) {
        const float *logits = attnres_forward(m, &s, tokens[pos], pos, &err);   /* [vocab_size] */
        if (!logits) { fprintf(stderr, "det_dump: %s\n", err.message); attnres_state_free(&s); return 0; }
        *hash = fnv1a(*hash, logits, (size_t)m->config.vocab_size * sizeof(float));
    }
    attnres_state_free(&s);
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "golden";
    uint64_t all = 0xcbf29ce484222325ULL;
    int c, failed = 0;
    for (c = 0; c < (int)(sizeof CASES / sizeof CASES[0]); c++) {
        char path[1024], line[256];
        attnres_model m;
        attnres_error err;
        int32_t *tokens;
        int n = 0, path_id;
        snprintf(path, sizeof path, "%s/%s.model.safetensors", dir, CASES[c]);
        if (attnres_model_load(&m, path, &err) != ATTNRES_OK) { fprintf(stderr, "det_dump: %s\n", err.message); failed++; continue; }
        tokens = read_prompt(dir, CASES[c], &n);
        if (!tokens) { attnres_model_free(&m); failed++; continue; }
        for (path_id = 0; path_id < (m.config.residual == ATTNRES_RESIDUAL_ATTNRES ? 2 : 1); path_id++) {
            uint64_t h;
            if (!hash_run(&m, path_id, tokens, n, &h)) { failed++; continue; }
            snprintf(line, sizeof line, "%-18s %-9s %3d %016llx", CASES[c],
                     path_id == ATTNRES_PATH_TWO_PHASE ? "two-phase" : "direct", n, (unsigned long long)h);
            printf("%s\n", line);
            all = fnv1a(all, line, strlen(line));
        }
        free(tokens);
        attnres_model_free(&m);
    }
    printf("all %016llx\n", (unsigned long long)all);
    return failed ? 1 : 0;
}
