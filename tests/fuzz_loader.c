/* fuzz_loader.c - libFuzzer harness for the checkpoint loader.
   Build and run with `make fuzz` (clang -fsanitize=fuzzer,address,undefined).

   Every input is one candidate .safetensors file, and goes down two paths:

   1. attnres__st_parse on a malloc'd copy (it takes ownership): the JSON
      header reader, the offset and overlap checks. When it accepts the
      file, the harness checks what the parser promised (every tensor's
      bytes lie inside the file and equal numel * dtype size, at most 8
      dims, names are C strings, metadata keys are unique) and reads every F32/I32 tensor, once with
      the right count and once with a wrong one (which must fail).

   2. attnres_model_load on the same bytes, written to a file on tmpfs
      (/dev/shm). The loader takes a path, so a file is unavoidable; but
      model_load parses first and stops at the first parse error, so only an
      input that path 1 accepted can reach the config and tensor checks.
      Writing the file for just those inputs covers the whole loader at the
      cost of one extra write, instead of a write per input (most inputs die
      in the parser) or every Nth input (which would skip most of the
      interesting ones). When the load succeeds, the harness checks the
      config is valid and every weight is finite, then runs a few tokens
      through attnres_forward on a state of just those positions (whatever
      seq_len the file claims): each step gives finite logits or an error,
      never NaN/Inf passed off as a result.

   Any error must come with its code in err.code and a non-empty message
   that carries no byte a terminal acts on.
   A broken promise calls abort(), which libFuzzer reports as a crash;
   leaks are reported by LeakSanitizer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATTNRES_IMPLEMENTATION
#ifdef ATTNRES_HEADER            /* make fuzz may point this at a patched copy */
#include ATTNRES_HEADER
#else
#include "../attnres.h"
#endif
#include "st_i32.h"

/* A broken promise is a crash for libFuzzer; a coverage replay
   (-DFUZZ_KEEP_GOING, make fuzz-coverage) only reports it. */
static void require(int ok, const char *what, const attnres_error *err) {
    if (ok) return;
    fprintf(stderr, "fuzz_loader: broken promise: %s (err: %d \"%s\")\n", what,
            err ? err->code : -1, err ? err->message : "");
#ifndef FUZZ_KEEP_GOING
    abort();
#endif
}

/* An error must say what happened: the code in err and a non-empty message. */
static void require_error_filled(int rc, const attnres_error *err) {
    require(rc != ATTNRES_OK && err->code == rc, "err.code matches the returned status", err);
    require(err->message[0] != '\0', "an error comes with a message", err);
    require(memchr(err->message, '\0', sizeof err->message) != NULL, "message is NUL-terminated", err);
    {   /* whatever a file holds, a message carries no byte a terminal acts on */
        const unsigned char *p = (const unsigned char *)err->message;
        for (; *p; p++)
            require(*p >= 0x20 && *p != 0x7f && !(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f),
                    "a message is inert (control bytes escaped)", err);
    }
}

static int by_string(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* What attnres__st_parse promises about a file it accepted. */
static void check_parsed(const attnres__st_file *f) {
    const unsigned char *begin = f->bytes, *end = f->bytes + f->n_bytes;
    attnres_error err;
    int i;
    for (i = 0; i < f->n_tensors; i++) {
        const attnres__st_tensor *t = &f->tensors[i];
        uint64_t numel = 1;
        int k;
        require(t->ndim >= 0 && t->ndim <= ATTNRES__ST_MAX_DIMS, "ndim in [0, 8]", NULL);
        for (k = 0; k < t->ndim; k++) numel *= t->shape[k];
        require(numel == t->numel, "numel is the product of the shape", NULL);
        require(t->data >= begin && t->data <= end && t->nbytes <= (uint64_t)(end - t->data),
                "tensor bytes inside the file", NULL);
        require(strlen(t->name) < f->n_bytes, "name is a C string", NULL);
        require(attnres__st_find(f, t->name) != NULL, "st_find finds every tensor", NULL);
        if (t->dtype == ATTNRES__DT_F32 || t->dtype == ATTNRES__DT_I32) {
            size_t n = (size_t)t->numel;
            void *dst = malloc(n ? n * 4 : 1);
            int rc;
            require(t->nbytes == 4 * t->numel, "4-byte dtype spans 4*numel bytes", NULL);
            if (!dst) abort();
            rc = t->dtype == ATTNRES__DT_F32 ? attnres__st_read_f32((float *)dst, n, t, &err)
                                            : st_read_i32((int32_t *)dst, n, t, &err);
            require(rc == ATTNRES_OK, "reading a tensor with its own count works", &err);
            rc = t->dtype == ATTNRES__DT_F32 ? attnres__st_read_f32((float *)dst, n + 1, t, &err)
                                            : st_read_i32((int32_t *)dst, n + 1, t, &err);
            require(rc == ATTNRES_ERR_SHAPE, "reading with a wrong count fails", &err);
            rc = t->dtype == ATTNRES__DT_F32 ? st_read_i32((int32_t *)dst, n, t, NULL)
                                            : attnres__st_read_f32((float *)dst, n, t, NULL);
            require(rc == ATTNRES_ERR_DTYPE, "reading as the other dtype fails", NULL);
            free(dst);
        }
    }
    if (f->n_meta > 0) {   /* keys are strings, and unique (sorted copy, adjacent pairs) */
        const char **keys = (const char **)malloc((size_t)f->n_meta * sizeof *keys);
        if (!keys) abort();
        for (i = 0; i < f->n_meta; i++) {
            require(f->meta[i].key != NULL && f->meta[i].value != NULL, "metadata strings", NULL);
            keys[i] = f->meta[i].key;
        }
        qsort(keys, (size_t)f->n_meta, sizeof *keys, by_string);
        for (i = 1; i < f->n_meta; i++)
            require(strcmp(keys[i - 1], keys[i]) != 0, "metadata keys are unique", NULL);
        free(keys);
    }
}

/* A loaded model: valid config, finite weights; then a few tokens. */
static void check_model(attnres_model *m) {
    attnres_error err;
    attnres_state s;
    const attnres_config *c = &m->config;
    size_t i;
    int pos, n_ctx = c->seq_len < 3 ? c->seq_len : 3;   /* the context the run needs */
    require(attnres_config_validate(c, &err) == ATTNRES_OK, "a loaded config is valid", &err);
    for (i = 0; i < m->n_floats; i++)
        require(isfinite(m->memory[i]), "every loaded weight is finite", NULL);
    require(attnres_state_bytes(c, n_ctx) > 0, "state_bytes answers for a loaded config", NULL);
    if (attnres_state_init_ctx(&s, c, n_ctx, &err) != ATTNRES_OK) { require_error_filled(err.code, &err); return; }
    for (pos = 0; pos < n_ctx; pos++) {
        float *logits = attnres_forward(m, &s, pos % c->vocab_size, pos, &err);
        int k;
        if (!logits) {   /* finite weights may still overflow float: an error, then */
            require(err.code == ATTNRES_ERR_RANGE && err.message[0], "forward fails only with a reason", &err);
            break;
        }
        for (k = 0; k < c->vocab_size; k++)
            require(isfinite(logits[k]), "forward never returns NaN/Inf logits as a result", NULL);
    }
    require(attnres_forward(m, &s, c->vocab_size, 0, &err) == NULL && err.code == ATTNRES_ERR_RANGE,
            "token = vocab_size is refused", &err);
    attnres_state_free(&s);
    attnres_state_free(&s);   /* freeing twice is allowed: free zeroes the struct */
}

static void load_from_file(const uint8_t *data, size_t size) {
    static char path[64];
    attnres_model m;
    attnres_error err;
    FILE *fp;
    int rc;
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/attnres-fuzz-%ld.safetensors", dir, (long)getpid());
    }
    fp = fopen(path, "wb");
    if (!fp) abort();
    if (size && fwrite(data, 1, size, fp) != size) abort();
    fclose(fp);
    rc = attnres_model_load(&m, path, &err);
    remove(path);   /* before any check can abort: no file left behind */
    if (rc == ATTNRES_OK) check_model(&m);
    else require_error_filled(rc, &err);
    attnres_model_free(&m);
    attnres_model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    attnres__st_file f;
    attnres_error err;
    unsigned char *copy = (unsigned char *)malloc(size ? size : 1);
    int rc;
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    rc = attnres__st_parse(&f, copy, size, &err);   /* owns copy from here on */
    if (rc != ATTNRES_OK) {
        require_error_filled(rc, &err);
        require(f.bytes == NULL && f.tensors == NULL, "a failed parse leaves a zeroed file", &err);
        return 0;
    }
    check_parsed(&f);
    attnres__st_close(&f);
    attnres__st_close(&f);
    load_from_file(data, size);
    return 0;
}
