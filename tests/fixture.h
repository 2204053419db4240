/* fixture.h - reading golden tensors written by tools/make_golden.py.
   Include after attnres.h and check.h. */
#ifndef FIXTURE_H
#define FIXTURE_H

#include "st_i32.h"

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "golden"
#endif

/* Opens GOLDEN_DIR/name; a missing fixture is a failed check, not a skip. */
static inline int fixture_open(attnres__st_file *f, const char *name) {
    char path[1024];
    attnres_error err;
    snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, name);
    if (attnres__st_open(f, path, &err) != ATTNRES_OK) {
        check(0, "open fixture %s: %s", path, err.message);
        return 0;
    }
    return 1;
}

/* A malloc'd copy of float tensor `name`, which must hold numel values. */
static inline float *fixture_f32(const attnres__st_file *f, const char *name, size_t numel) {
    const attnres__st_tensor *t = attnres__st_find(f, name);
    attnres_error err;
    float *out;
    if (!t) { check(0, "fixture tensor %s is missing", name); return NULL; }
    out = (float *)malloc(numel ? numel * sizeof(float) : 1);
    if (!out || attnres__st_read_f32(out, numel, t, &err) != ATTNRES_OK) {
        check(0, "fixture tensor %s: %s", name, out ? err.message : "out of memory");
        free(out);
        return NULL;
    }
    return out;
}

/* The same for int32 tensors (token ids, counts). */
static inline int32_t *fixture_i32(const attnres__st_file *f, const char *name, size_t numel) {
    const attnres__st_tensor *t = attnres__st_find(f, name);
    attnres_error err;
    int32_t *out;
    if (!t) { check(0, "fixture tensor %s is missing", name); return NULL; }
    out = (int32_t *)malloc(numel ? numel * sizeof(int32_t) : 1);
    if (!out || st_read_i32(out, numel, t, &err) != ATTNRES_OK) {
        check(0, "fixture tensor %s: %s", name, out ? err.message : "out of memory");
        free(out);
        return NULL;
    }
    return out;
}

/* Loads GOLDEN_DIR/name.model.safetensors; a failure is a failed check. */
static inline int fixture_model(attnres_model *m, const char *name) {
    char path[256];
    attnres_error err;
    snprintf(path, sizeof path, "%s/%s.model.safetensors", GOLDEN_DIR, name);
    if (attnres_model_load(m, path, &err) == ATTNRES_OK) {
#ifdef ATTNRES_CUDA
        attnres_cuda_upload(m, NULL);   /* on a GPU the golden tests run through it; else the host */
#endif
        return 1;
    }
    check(0, "load %s: %s", path, err.message);
    return 0;
}

/* A fixed pseudo-random token sequence (not the fixtures' prompts), for
   tests that decode more positions than a fixture holds. */
static inline int fixture_token_at(int t, int vocab) {
    return (int)((7u * (unsigned)t * (unsigned)t + 3u * (unsigned)t + 11u) % (unsigned)vocab);
}

#endif
