/* test_errors.c - bad input never crashes: missing, truncated, malformed and
   lying checkpoints, configs that make no sense, tokens and positions out of
   range, and allocation failure at every point. Each case must return the
   right error code with a message that names the problem, and leave no
   allocation behind (the allocator below counts them). */
#include <stddef.h>
static long live_allocs;      /* allocations not yet freed               */
static long alloc_calls;      /* allocations attempted since the reset   */
static long fail_alloc_at = -1; /* make this call fail (-1: never)       */
void *counting_malloc(size_t n);
void counting_free(void *p);
#define ATTNRES_MALLOC(sz) counting_malloc(sz)
#define ATTNRES_FREE(p)    counting_free(p)
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"
#define BASE_MODEL GOLDEN_DIR "/tied.model.safetensors"   /* attnres, S = 3, L = 4, tied */
/* Scratch file next to the test binary (<argv[0]>.tmp.safetensors), so that
   builds run at the same time (default, SAN=1, CC=clang) never share it. */
static char tmp_path[1024] = "build/test_errors.tmp.safetensors";
#define TMP_PATH tmp_path

/* Requests above 4 GB fail, as they would on a small machine (and ASan
   would abort on them instead of returning NULL). */
#if SIZE_MAX > 0xFFFFFFFFu
#define COUNTING_MAX_ALLOC ((size_t)1 << 32)
#else
#define COUNTING_MAX_ALLOC SIZE_MAX   /* a 32-bit build (make test-32): no request is larger */
#endif

void *counting_malloc(size_t n) {
    void *p;
    if (alloc_calls++ == fail_alloc_at || n > COUNTING_MAX_ALLOC) return NULL;
    p = malloc(n);
    if (p) live_allocs++;
    return p;
}
void counting_free(void *p) { if (p) { live_allocs--; free(p); } }

static int write_file(const char *path, const void *bytes, size_t n) {
    FILE *fp = fopen(path, "wb");
    int ok = fp && fwrite(bytes, 1, n, fp) == n;
    if (fp) fclose(fp);
    return ok;
}

/* Loads path expecting `code` and a message containing `word`; also checks
   that nothing stays allocated. Returns 1 when all of that holds. */
static int expect_load_error(const char *path, int code, const char *word, const char *what, int report) {
    attnres_model m;
    attnres_error err;
    int rc, ok;
    live_allocs = 0;
    rc = attnres_model_load(&m, path, &err);
    if (rc == ATTNRES_OK) attnres_model_free(&m);   /* a successful load must free cleanly too */
    ok = rc == code && err.code == code && strstr(err.message, word) != NULL && live_allocs == 0;
    if (report)
        check(ok, "%-46s -> %s: \"%s\"%s", what, attnres_status_name(rc), err.message,
              live_allocs ? " (LEAKED)" : "");
    return ok;
}

/* ------------------------------------------------------------------------ */
/* A safetensors file from a header text and n zero data bytes              */
/* ------------------------------------------------------------------------ */

static void raw_case_code(const char *header, size_t data_len, int code, const char *word, const char *what) {
    size_t hl = strlen(header), i;
    unsigned char *buf = calloc(8 + hl + data_len + 1, 1);
    for (i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    write_file(TMP_PATH, buf, 8 + hl + data_len);
    free(buf);
    expect_load_error(TMP_PATH, code, word, what, 1);
}

static void raw_case(const char *header, size_t data_len, const char *word, const char *what) {
    raw_case_code(header, data_len, ATTNRES_ERR_FORMAT, word, what);
}

static void test_bad_headers(void) {
    raw_case("not json at all", 0, "expected '{'", "header is not JSON");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "expected", "unterminated object");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4, "outside", "offsets past the end of the data");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "need", "byte span disagrees with shape");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "reversed", "begin after end");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "overlaps", "two tensors share bytes");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "twice", "duplicate tensor name");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "after the last", "bytes nobody owns");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap", "gap before a tensor");
    raw_case("{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype", "unknown dtype");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "integer", "negative dimension");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "fraction", "fractional dimension");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, "leading zero", "dimension with a leading zero");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999999],\"data_offsets\":[0,4]}}", 4,
             "overflow", "dimension overflows 64 bits");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}", 4,
             "too large", "shape product overflows");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "too long", "9 dimensions");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "too long", "three data offsets");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "two integers", "one data offset");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "lacks", "no data_offsets");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "repeated", "key given twice");
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unknown", "unknown key");
    raw_case("{\"a\\x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "escape", "bad escape in a name");
    raw_case("{\"a\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "surrogate", "lone surrogate");
    raw_case("{\"a\tb\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "control", "raw tab inside a name");
    raw_case("{\"a", 0, "unterminated", "header ends inside a string");
    raw_case("{\"__metadata__\":{\"a\":1}}", 0, "expected a string", "metadata value not a string");
    raw_case("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "twice", "metadata given twice");
    raw_case("{} trailing", 0, "unexpected bytes", "bytes after the header object");
    raw_case("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]", 0, "expected '{'", "nested arrays");
    raw_case("{\"a\":[{\"a\":[{\"a\":[]}]}]}", 0, "expected '{'", "nested values where a tensor belongs");
    raw_case("{", 0, "header length", "header shorter than 2 bytes");
    raw_case_code("{}", 0, ATTNRES_ERR_MISSING, "metadata lacks 'format_version'", "valid safetensors, no model in it");
}

static void test_files(void) {
    unsigned char eight[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    unsigned char small[12] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    expect_load_error("no/such/model.safetensors", ATTNRES_ERR_IO, "cannot open", "missing file", 1);
    expect_load_error(GOLDEN_DIR, ATTNRES_ERR_IO, "cannot", "a directory", 1);
    write_file(TMP_PATH, "", 0);
    expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, "too short", "empty file", 1);
    write_file(TMP_PATH, eight, 8);
    expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, "header length", "header length 2^63, file of 8 bytes", 1);
    write_file(TMP_PATH, small, sizeof small);
    expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, "header length", "header length larger than the file", 1);
}

/* attnres_model_load_memory: the same model as from the file, bit for
   bit; the same refusals for bad bytes, with "in memory" in place of a
   path; nothing kept of the caller's bytes, nothing leaked. */
static void test_load_memory(void) {
    FILE *fp = fopen(BASE_MODEL, "rb");
    unsigned char *bytes;
    long n;
    attnres_model a, b;
    attnres_error err;
    int rc;
    if (!fp) { check(0, "open %s", BASE_MODEL); return; }
    fseek(fp, 0, SEEK_END); n = ftell(fp); fseek(fp, 0, SEEK_SET);
    bytes = (unsigned char *)malloc((size_t)n);
    if (!bytes || fread(bytes, 1, (size_t)n, fp) != (size_t)n) { check(0, "read %s", BASE_MODEL); fclose(fp); free(bytes); return; }
    fclose(fp);
    live_allocs = 0;
    rc = attnres_model_load_memory(&b, bytes, (size_t)n, &err);
    memset(bytes, 0xff, (size_t)n);   /* the model must not point into the caller's bytes */
    if (rc != ATTNRES_OK || attnres_model_load(&a, BASE_MODEL, &err) != ATTNRES_OK) {
        check(0, "load_memory / load: %s", err.message); free(bytes); return;
    }
    check(a.n_floats == b.n_floats && memcmp(&a.config, &b.config, sizeof a.config) == 0 &&
          memcmp(a.memory, b.memory, a.n_floats * sizeof(float)) == 0,
          "attnres_model_load_memory = attnres_model_load: same config and %zu weights, bit for bit, "
          "after the caller's bytes were overwritten", a.n_floats);
    attnres_model_free(&a); attnres_model_free(&b);
    check(attnres_model_load_memory(&b, bytes, (size_t)n, &err) == ATTNRES_ERR_FORMAT &&
          strstr(err.message, "checkpoint in memory") && b.memory == NULL,
          "load_memory of overwritten bytes -> \"%s\", model left zeroed", err.message);
    check(attnres_model_load_memory(&b, bytes, 5, &err) == ATTNRES_ERR_FORMAT && strstr(err.message, "too short"),
          "load_memory of 5 bytes -> \"%s\"", err.message);
    check(attnres_model_load_memory(&b, NULL, 0, &err) == ATTNRES_ERR_FORMAT,
          "load_memory of nothing -> \"%s\"", err.message);
    check(attnres_model_load_memory(&b, NULL, 100, &err) == ATTNRES_ERR_RANGE && strstr(err.message, "NULL"),
          "load_memory of NULL with a length -> \"%s\"", err.message);
    check(live_allocs == 0, "load_memory: no allocation left behind (%ld)", (long)live_allocs);
    free(bytes);
}

/* Every prefix of a real checkpoint: all of the header, then a spread of
   points through the data. All must fail cleanly (FORMAT), none may leak. */
/* Why a prefix of `cut` bytes must be refused, for a file whose header
   ends at byte header_end. */
static const char *truncation_reason(long cut, long header_end) {
    if (cut < 8) return "too short for the 8-byte header length";
    if (cut < header_end) return "does not fit the";      /* header length > bytes left */
    return "outside the";                                 /* a tensor's bytes are cut off */
}

static void test_truncations(void) {
    FILE *fp = fopen(BASE_MODEL, "rb");
    unsigned char *bytes;
    long size, cut, header_end;
    int tried = 0, good = 0;
    if (!fp) { check(0, "open %s", BASE_MODEL); return; }
    fseek(fp, 0, SEEK_END); size = ftell(fp); fseek(fp, 0, SEEK_SET);
    bytes = malloc((size_t)size);
    if (fread(bytes, 1, (size_t)size, fp) != (size_t)size) size = 0;
    fclose(fp);
    header_end = size > 8 ? 8 + (long)bytes[0] + 256L * bytes[1] : 0;
    /* each prefix must fail for ITS reason: a parser that reads one byte
       past the header bound fails differently at cut = header_end - 1 */
    for (cut = 0; cut < size; cut += cut < header_end + 16 ? 1 : size / 97 + 1) {
        write_file(TMP_PATH, bytes, (size_t)cut);
        good += expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, truncation_reason(cut, header_end), "truncated", 0);
        tried++;
    }
    write_file(TMP_PATH, bytes, (size_t)size - 1);
    good += expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, "outside the", "truncated", 0);
    tried++;
    check(tried > 100 && good == tried, "truncated checkpoint: %d of %d prefixes rejected as malformed for "
          "the reason of their length (header length, header bound, data), no leaks", good, tried);
    /* the two boundaries on their own, with the message shown */
    write_file(TMP_PATH, bytes, (size_t)header_end - 1);
    expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, "does not fit", "cut one byte inside the header", 1);
    write_file(TMP_PATH, bytes, (size_t)header_end);
    expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, "outside the", "cut right after the header", 1);
    free(bytes);
}

/* ------------------------------------------------------------------------ */
/* A real checkpoint rewritten with one thing wrong                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *meta_key, *meta_value; /* set one metadata entry (value NULL: drop it) */
    const char *also[3][2];            /* more {key, value}: set, or added if absent   */
    const char *drop;                  /* leave this tensor out                        */
    const char *extra;                 /* add a [4] F32 tensor of this name            */
    const char *swap_dims;             /* declare this 2-D tensor transposed           */
    const char *as_f16;                /* declare this 2-D tensor F16 [rows, 2*cols]   */
    const char *as_dtype, *dtype;      /* declare this 2-D tensor `dtype` (same bytes) */
    const char *as_row;                /* declare this 1-D tensor [1, n]               */
    const char *poison;                /* write poison_value into this tensor          */
    float poison_value;                /* (0: NaN)                                     */
    int poison_at;                     /* at this element                              */
} edit;

static size_t append(char *dst, size_t at, size_t cap, const char *text) {
    size_t n = strlen(text);
    if (at + n < cap) memcpy(dst + at, text, n + 1);
    return at + n;
}

/* Element sizes of the dtypes the edits use; the declared shape keeps the
   byte count, so only the dtype is wrong. */
static uint64_t dtype_bytes(const char *dtype) {
    return strcmp(dtype, "F64") == 0 ? 8 : strcmp(dtype, "BF16") == 0 || strcmp(dtype, "F16") == 0 ? 2
         : strcmp(dtype, "U8") == 0 ? 1 : 4;
}

static int rewrite(const char *src_path, const char *dst_path, const edit *e) {
    attnres__st_file src;
    attnres_error err;
    size_t cap = 1 << 20, hl = 0, data_len = 0, i, at;
    char *header = malloc(cap), piece[16384];   /* one header entry; names up to ~16000 chars */
    unsigned char *out;
    int t, ok;
    if (attnres__st_open(&src, src_path, &err) != ATTNRES_OK) { free(header); return 0; }
    out = malloc(src.n_bytes + cap);
    hl = append(header, hl, cap, "{\"__metadata__\":{");
    for (i = 0, at = 0; i < (size_t)src.n_meta; i++) {
        const char *value = src.meta[i].value;
        int k;
        if (e->meta_key && strcmp(src.meta[i].key, e->meta_key) == 0) value = e->meta_value;
        for (k = 0; k < 3; k++)
            if (e->also[k][0] && strcmp(src.meta[i].key, e->also[k][0]) == 0) value = e->also[k][1];
        if (!value) continue;
        snprintf(piece, sizeof piece, "%s\"%s\":\"%s\"", at++ ? "," : "", src.meta[i].key, value);
        hl = append(header, hl, cap, piece);
    }
    for (t = 0; t < 3; t++) {   /* the keys of also[] the file lacks */
        int present = 0;
        for (i = 0; i < (size_t)src.n_meta && e->also[t][0]; i++) present |= strcmp(src.meta[i].key, e->also[t][0]) == 0;
        if (!e->also[t][0] || present) continue;
        snprintf(piece, sizeof piece, "%s\"%s\":\"%s\"", at++ ? "," : "", e->also[t][0], e->also[t][1]);
        hl = append(header, hl, cap, piece);
    }
    hl = append(header, hl, cap, "}");
    for (t = 0; t < src.n_tensors; t++) {
        const attnres__st_tensor *x = &src.tensors[t];
        int swap = e->swap_dims && strcmp(x->name, e->swap_dims) == 0;
        int f16 = e->as_f16 && strcmp(x->name, e->as_f16) == 0;
        int other = e->as_dtype && strcmp(x->name, e->as_dtype) == 0;
        int row = e->as_row && strcmp(x->name, e->as_row) == 0;
        const char *dtype = f16 ? "F16" : other ? e->dtype : x->dtype_name;
        if (e->drop && strcmp(x->name, e->drop) == 0) continue;
        memcpy(out + 8 + cap + data_len, x->data, (size_t)x->nbytes);
        if (e->poison && strcmp(x->name, e->poison) == 0) {
            float value = e->poison_value != 0.0f ? e->poison_value : (float)NAN;
            memcpy(out + 8 + cap + data_len + 4 * (size_t)e->poison_at, &value, 4);
        }
        if (x->ndim == 2)
            snprintf(piece, sizeof piece, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu,%llu],\"data_offsets\":[%zu,%zu]}",
                     x->name, dtype,
                     (unsigned long long)(swap ? x->shape[1] : x->shape[0]),
                     (unsigned long long)(swap ? x->shape[0] : f16 ? 2 * x->shape[1]
                                          : other ? x->shape[1] * 4 / dtype_bytes(e->dtype) : x->shape[1]),
                     data_len, data_len + (size_t)x->nbytes);
        else if (row)
            snprintf(piece, sizeof piece, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[1,%llu],\"data_offsets\":[%zu,%zu]}",
                     x->name, x->dtype_name, (unsigned long long)x->shape[0], data_len, data_len + (size_t)x->nbytes);
        else
            snprintf(piece, sizeof piece, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu],\"data_offsets\":[%zu,%zu]}",
                     x->name, x->dtype_name, (unsigned long long)x->shape[0], data_len, data_len + (size_t)x->nbytes);
        hl = append(header, hl, cap, piece);
        data_len += (size_t)x->nbytes;
    }
    if (e->extra) {
        memset(out + 8 + cap + data_len, 0, 16);
        snprintf(piece, sizeof piece, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[%zu,%zu]}",
                 e->extra, data_len, data_len + 16);
        hl = append(header, hl, cap, piece);
        data_len += 16;
    }
    hl = append(header, hl, cap, "}");
    for (i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(out + 8, header, hl);
    memmove(out + 8 + hl, out + 8 + cap, data_len);
    ok = hl < cap && write_file(dst_path, out, 8 + hl + data_len);
    free(out);
    free(header);
    attnres__st_close(&src);
    return ok;
}

static void edit_case_of(const char *base, const edit *e, int code, const char *word, const char *what) {
    if (!rewrite(base, TMP_PATH, e)) { check(0, "%s: cannot rewrite %s", what, base); return; }
    expect_load_error(TMP_PATH, code, word, what, 1);
}

static void edit_case(const edit *e, int code, const char *word, const char *what) {
    edit_case_of(BASE_MODEL, e, code, word, what);
}

/* The float whose little-endian bytes are those of bits: poisons int8 data. */
static float float_of_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* A q8 checkpoint (I8 matrices + F32 scales) with one thing wrong. */
#define Q8_MODEL GOLDEN_DIR "/q8_block_s2.model.safetensors"   /* dim 64, hidden 96, group 32 */
static void test_q8_edits(void) {
    edit e;
#define Q8_CASE(code, word, what) edit_case_of(Q8_MODEL, &e, code, word, what)
#define Q8_EDIT(field, value) (memset(&e, 0, sizeof e), e.field = (value))
#define Q8_META(key, value) (memset(&e, 0, sizeof e), e.meta_key = (key), e.meta_value = (value))
    memset(&e, 0, sizeof e);
    Q8_CASE(ATTNRES_OK, "", "q8: rewritten, unmodified checkpoint");
    Q8_EDIT(drop, "layers.1.attention.wq.weight_scale");
    Q8_CASE(ATTNRES_ERR_MISSING, "'layers.1.attention.wq.weight_scale' (the scales of", "q8: scales missing");
    Q8_EDIT(drop, "layers.2.feed_forward.w3.weight");
    Q8_CASE(ATTNRES_ERR_MISSING, "layers.2.feed_forward.w3.weight", "q8: matrix missing");
    Q8_EDIT(swap_dims, "layers.0.feed_forward.w2.weight_scale");
    Q8_CASE(ATTNRES_ERR_SHAPE, "should have shape [64, 3]", "q8: scales transposed");
    Q8_META("group_size", "16");
    Q8_CASE(ATTNRES_ERR_SHAPE, "holds 128 scales, should have shape [64, 4]: one per group of 16",
            "q8: wrong scales count for the group size");
    Q8_META("group_size", "48");
    Q8_CASE(ATTNRES_ERR_CONFIG, "must divide dim = 64", "q8: group size that does not divide dim");
    /* a group size must divide each kind of row: dim (wq, wk, wv, w1, w3,
       output), hidden_dim (w2) and n_heads*head_dim (wo); each refused
       before any tensor is read, whichever one it fails */
    Q8_META("group_size", "64");
    Q8_CASE(ATTNRES_ERR_CONFIG, "must divide dim = 64, n_heads*head_dim = 64 and hidden_dim = 96",
            "q8: group size 64 divides dim, not hidden_dim 96");
    Q8_META("group_size", "32"); e.also[0][0] = "head_dim"; e.also[0][1] = "12";   /* a key the file lacks */
    Q8_CASE(ATTNRES_ERR_CONFIG, "n_heads*head_dim = 48", "q8: group size 32, not dividing n_heads*head_dim 48");
    /* the upper bound: dims of 8192 that G = 8192 divides (refused on the
       metadata alone, the tensors are not read), and G = 4096, the largest
       allowed, which gets as far as the tensors' shapes */
    Q8_META("group_size", "8192");
    e.also[0][0] = "dim"; e.also[0][1] = "8192"; e.also[1][0] = "hidden_dim"; e.also[1][1] = "8192";
    Q8_CASE(ATTNRES_ERR_CONFIG, "group_size = 8192, must be in [1, 4096]", "q8: group size 8192 dividing every row");
    Q8_META("group_size", "4096");
    e.also[0][0] = "dim"; e.also[0][1] = "8192"; e.also[1][0] = "hidden_dim"; e.also[1][1] = "8192";
    Q8_CASE(ATTNRES_ERR_SHAPE, "should have shape [128, 8192]", "q8: group size 4096 (the bound) accepted");
    Q8_META("group_size", "-32");
    Q8_CASE(ATTNRES_ERR_CONFIG, "group_size = -32, must be in [1, 4096]", "q8: negative group size");
    Q8_META("group_size", "0");
    Q8_CASE(ATTNRES_ERR_CONFIG, "group_size = 0", "q8: group size 0");
    Q8_META("group_size", "32.0");
    Q8_CASE(ATTNRES_ERR_CONFIG, "not an integer", "q8: group size not an integer");
    Q8_META("group_size", NULL);
    Q8_CASE(ATTNRES_ERR_MISSING, "group_size", "q8: no group size");
    Q8_META("quantization", "q4");
    Q8_CASE(ATTNRES_ERR_FORMAT, "\"q4\" is not supported", "q8: unknown quantization");
    Q8_META("quantization", NULL);
    Q8_CASE(ATTNRES_ERR_FORMAT, "'group_size' but no 'quantization'", "q8: group size without quantization");
    Q8_META("format_version", "1");
    Q8_CASE(ATTNRES_ERR_FORMAT, "needs format_version \"2\"", "q8: format_version 1");
    Q8_EDIT(poison, "layers.0.attention.wk.weight_scale");   /* NaN */
    Q8_CASE(ATTNRES_ERR_FORMAT, "a scale must be finite and >= 0", "q8: NaN scale");
    Q8_EDIT(poison, "layers.1.feed_forward.w1.weight_scale"); e.poison_value = -1.0f; e.poison_at = 5;
    Q8_CASE(ATTNRES_ERR_FORMAT, "holds -1 at element 5", "q8: negative scale");
    /* -1.0f is bytes 00 00 80 bf: the int8 at element 2 becomes 0x80 = -128 */
    Q8_EDIT(poison, "layers.0.attention.wq.weight"); e.poison_value = -1.0f;
    Q8_CASE(ATTNRES_ERR_FORMAT, "holds -128 at element 2", "q8: int8 value -128");
    /* -128 anywhere: the first element of the first matrix read (float bits
       0x00000080: bytes 80 00 00 00), the last element of the last one
       (bits 0x80010000: bytes 00 00 01 80; output [128, 64], 8192 values),
       and inside a middle layer's w2 */
    Q8_EDIT(poison, "layers.0.attention.wq.weight"); e.poison_value = float_of_bits(0x00000080u);
    Q8_CASE(ATTNRES_ERR_FORMAT, "'layers.0.attention.wq.weight' holds -128 at element 0", "q8: -128 at the first element");
    Q8_EDIT(poison, "output.weight"); e.poison_value = float_of_bits(0x80010000u); e.poison_at = 2047;
    Q8_CASE(ATTNRES_ERR_FORMAT, "'output.weight' holds -128 at element 8191", "q8: -128 at the last element");
    Q8_EDIT(poison, "layers.1.feed_forward.w2.weight"); e.poison_value = float_of_bits(0x00008000u); e.poison_at = 1000;
    Q8_CASE(ATTNRES_ERR_FORMAT, "'layers.1.feed_forward.w2.weight' holds -128 at element 4001", "q8: -128 in a middle layer's w2");
    Q8_EDIT(extra, "norm.weight_scale");
    Q8_CASE(ATTNRES_ERR_SHAPE, "unexpected tensor 'norm.weight_scale'", "q8: scales of a vector (vectors stay F32)");
#undef Q8_CASE
#undef Q8_EDIT
#undef Q8_META
}

/* A W8A8 checkpoint ("activations": "int8") with its key edited. */
#define W8A8_MODEL GOLDEN_DIR "/w8a8_block_s2.model.safetensors"
static void test_w8a8_edits(void) {
    edit e;
    attnres_model m;
    attnres_error err;
    int rc;
    rc = attnres_model_load(&m, W8A8_MODEL, &err);
    check(rc == ATTNRES_OK && m.q8.group_size == 32 && m.q8.int8_activations == 1,
          "w8a8: \"activations\": \"int8\" loads with int8_activations = 1");
    attnres_model_free(&m);
    memset(&e, 0, sizeof e); e.meta_key = "activations"; e.meta_value = "fp32";
    rc = rewrite(W8A8_MODEL, TMP_PATH, &e) ? attnres_model_load(&m, TMP_PATH, &err) : -1;
    check(rc == ATTNRES_OK && m.q8.group_size == 32 && m.q8.int8_activations == 0,
          "w8a8: \"activations\": \"fp32\" loads as W8 (int8_activations = 0)");
    attnres_model_free(&m);
    memset(&e, 0, sizeof e); e.meta_key = "activations"; e.meta_value = "int4";
    edit_case_of(W8A8_MODEL, &e, ATTNRES_ERR_FORMAT, "activations \"int4\" is not supported", "w8a8: unknown activations");
    memset(&e, 0, sizeof e); e.meta_key = "activations"; e.meta_value = "";
    edit_case_of(W8A8_MODEL, &e, ATTNRES_ERR_FORMAT, "activations \"\" is not supported", "w8a8: empty activations");
    memset(&e, 0, sizeof e); e.meta_key = "quantization"; e.meta_value = NULL;
    edit_case_of(W8A8_MODEL, &e, ATTNRES_ERR_FORMAT, "'activations' but no 'quantization'",
                 "w8a8: int8 activations on fp32 weights");
}

/* The imported Llama 3.2-layout fixture (format_version "3", llama3 RoPE
   scaling, eos_token_id "90,92") with one key edited: unknown scaling
   types are refused by name, numbers attnres_rope_freq could not use are
   refused by field, keys without their type or in an older version are
   refused, and so are EOS lists that are not ids of the model. */
#define ROPE_MODEL GOLDEN_DIR "/import/hf_llama32.model.safetensors"
static void test_rope_edits(void) {
    edit e;
    attnres_model m;
    attnres_error err;
    int rc;
#define ROPE_META(key, value) (memset(&e, 0, sizeof e), e.meta_key = (key), e.meta_value = (value))
#define ROPE_CASE(code, word, what) edit_case_of(ROPE_MODEL, &e, code, word, what)
    rc = attnres_model_load(&m, ROPE_MODEL, &err);
    check(rc == ATTNRES_OK && m.config.rope_scaling.type == ATTNRES_ROPE_LLAMA3 &&
          m.config.rope_scaling.factor == 32.0f && m.config.rope_scaling.original_context == 64 && m.config.n_eos == 2,
          "rope: the llama3 fixture loads (factor 32, original context 64, 2 EOS ids): %s", rc ? err.message : "ok");
    attnres_model_free(&m);
    ROPE_META("rope_scaling", "linear");   /* linear with the llama3 numbers beside it */
    ROPE_CASE(ATTNRES_ERR_FORMAT, "'rope_scaling_low_freq_factor', which rope_scaling \"linear\" does not use",
              "rope: llama3's numbers under linear");
    ROPE_META("rope_scaling", "yarn");
    ROPE_CASE(ATTNRES_ERR_FORMAT, "rope_scaling \"yarn\" is not supported", "rope: yarn is refused by name");
    ROPE_META("rope_scaling", "dynamic");
    ROPE_CASE(ATTNRES_ERR_FORMAT, "rope_scaling \"dynamic\" is not supported", "rope: dynamic is refused by name");
    ROPE_META("rope_scaling", NULL);
    ROPE_CASE(ATTNRES_ERR_FORMAT, "has 'rope_scaling_factor' but no 'rope_scaling'", "rope: numbers without a type");
    ROPE_META("format_version", "2");
    ROPE_CASE(ATTNRES_ERR_FORMAT, "rope_scaling needs format_version \"3\"", "rope: scaling in a version 2 file");
    ROPE_META("format_version", "4");
    ROPE_CASE(ATTNRES_ERR_FORMAT, "format_version \"4\" is not supported", "rope: a future format version");
    ROPE_META("rope_scaling_factor", NULL);
    ROPE_CASE(ATTNRES_ERR_MISSING, "rope_scaling_factor", "rope: llama3 without its factor");
    ROPE_META("rope_scaling_factor", "0");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "rope_scaling.factor must be finite and > 0", "rope: factor 0");
    ROPE_META("rope_scaling_factor", "-8.0");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "rope_scaling.factor must be finite and > 0", "rope: negative factor");
    ROPE_META("rope_scaling_factor", "1e39");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "outside the range of a float", "rope: factor past float");
    ROPE_META("rope_scaling_high_freq_factor", "1.0");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "high_freq_factor = 1 must be greater than low_freq_factor = 1",
              "rope: high_freq_factor == low_freq_factor (the blend would divide by 0)");
    ROPE_META("rope_scaling_low_freq_factor", "0");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "rope_scaling.low_freq_factor must be finite and > 0", "rope: low_freq_factor 0");
    ROPE_META("rope_scaling_original_max_position_embeddings", "0");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "original_context = 0", "rope: original context 0");
    ROPE_META("rope_scaling_original_max_position_embeddings", "8192.5");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "not an integer", "rope: original context not an integer");
    ROPE_META("eos_token_id", "96");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "eos_token_id 96 is not a token (vocab_size 96)", "eos: an id past the vocab");
    ROPE_META("eos_token_id", "90,,92");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "not a comma-separated list", "eos: an empty item");
    ROPE_META("eos_token_id", "90,");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "not a comma-separated list", "eos: a trailing comma");
    ROPE_META("eos_token_id", "-1");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "not a comma-separated list", "eos: a negative id");
    ROPE_META("eos_token_id", "");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "not a comma-separated list", "eos: empty");
    ROPE_META("eos_token_id", "99999999999");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "not a comma-separated list", "eos: past an int");
    ROPE_META("eos_token_id", "1,2,3,4,5,6,7,8,9");
    ROPE_CASE(ATTNRES_ERR_CONFIG, "more than 8 ids", "eos: more ids than ATTNRES_MAX_EOS");
    ROPE_META("eos_token_id", "1,2,3,4,5,6,7,8");
    ROPE_CASE(ATTNRES_OK, "", "eos: 8 ids load");
#undef ROPE_CASE
#undef ROPE_META
}

static void test_edits(void) {
    edit e;
#define EDIT(field, value) (memset(&e, 0, sizeof e), e.field = (value), &e)
#define META(key, value) (memset(&e, 0, sizeof e), e.meta_key = (key), e.meta_value = (value), &e)
    /* the unmodified rewrite must load: otherwise the cases below prove nothing */
    memset(&e, 0, sizeof e);
    if (rewrite(BASE_MODEL, TMP_PATH, &e)) expect_load_error(TMP_PATH, ATTNRES_OK, "", "rewritten, unmodified checkpoint", 1);
    edit_case(EDIT(drop, "layers.1.ffn_res.pseudo_query"), ATTNRES_ERR_MISSING, "layers.1.ffn_res.pseudo_query", "missing tensor");
    edit_case(EDIT(extra, "layers.9.attention.wq.weight"), ATTNRES_ERR_SHAPE, "unexpected tensor", "tensor the config does not use");
    edit_case(EDIT(swap_dims, "layers.0.feed_forward.w1.weight"), ATTNRES_ERR_SHAPE, "[96, 64]", "transposed weight");
    edit_case(EDIT(as_f16, "layers.0.feed_forward.w1.weight"), ATTNRES_ERR_DTYPE, "F16", "F16 tensor");
    edit_case(EDIT(poison, "norm.weight"), ATTNRES_ERR_FORMAT, "NaN", "NaN in a weight");
    (void)EDIT(poison, "tok_embeddings.weight"); e.poison_value = (float)INFINITY; e.poison_at = 100;
    edit_case(&e, ATTNRES_ERR_FORMAT, "Inf at element 100", "+Inf in a weight, element 100");
    (void)EDIT(poison, "layers.1.feed_forward.w2.weight"); e.poison_value = -(float)INFINITY; e.poison_at = 6143;
    edit_case(&e, ATTNRES_ERR_FORMAT, "Inf at element 6143", "-Inf in the last element of a weight");
    (void)EDIT(poison, "output_res.key_norm.weight"); e.poison_value = 3e38f;   /* large but finite: fine */
    edit_case(&e, ATTNRES_OK, "", "3e38 (finite) in a weight loads");
    edit_case(EDIT(as_row, "norm.weight"), ATTNRES_ERR_SHAPE, "[64]", "[64] vector declared [1, 64]");
    (void)EDIT(as_dtype, "layers.0.feed_forward.w1.weight"); e.dtype = "BF16";
    edit_case(&e, ATTNRES_ERR_DTYPE, "BF16", "BF16 tensor");
    (void)EDIT(as_dtype, "layers.0.feed_forward.w1.weight"); e.dtype = "F64";
    edit_case(&e, ATTNRES_ERR_DTYPE, "F64", "F64 tensor");
    (void)EDIT(as_dtype, "layers.1.attention.wq.weight"); e.dtype = "I32";
    edit_case(&e, ATTNRES_ERR_DTYPE, "I32", "I32 tensor (a dtype the reader knows)");
    (void)EDIT(as_dtype, "tok_embeddings.weight"); e.dtype = "U8";
    edit_case(&e, ATTNRES_ERR_DTYPE, "U8", "U8 tensor");
    edit_case(EDIT(extra, ""), ATTNRES_ERR_SHAPE, "unexpected tensor ''", "extra tensor with an empty name");
    edit_case(META("format_version", "4"), ATTNRES_ERR_FORMAT, "format_version", "future format version");
    edit_case(META("format_version", "3"), ATTNRES_OK, "", "a version 1 model read as version 3 (no new keys) loads");
    edit_case(META("format_version", "2"), ATTNRES_OK, "", "a version 1 model read as version 2 (no new keys) loads");
    edit_case(META("format_version", NULL), ATTNRES_ERR_MISSING, "format_version", "no format version");
    edit_case(META("format", "gguf"), ATTNRES_ERR_FORMAT, "format", "another format");
    edit_case(META("dim", "sixty-four"), ATTNRES_ERR_CONFIG, "dim", "dim not a number");
    edit_case(META("dim", "99999999999"), ATTNRES_ERR_CONFIG, "dim", "dim beyond int");
    edit_case(META("dim", "32"), ATTNRES_ERR_SHAPE, "should have shape", "dim disagrees with the tensors");
    edit_case(META("vocab_size", "4000000"), ATTNRES_ERR_SHAPE, "[4000000, 64]", "absurd vocab_size in a small file");
    edit_case(META("n_layers", "1000"), ATTNRES_ERR_MISSING, "layers.2.", "absurd n_layers in a small file");
    edit_case(META("vocab_size", "0"), ATTNRES_ERR_CONFIG, "vocab_size", "vocab_size 0");
    edit_case(META("seq_len", "-1"), ATTNRES_ERR_CONFIG, "seq_len", "negative seq_len");
    edit_case(META("n_heads", "5"), ATTNRES_ERR_CONFIG, "n_heads", "heads do not divide dim");
    edit_case(META("n_kv_heads", "3"), ATTNRES_ERR_CONFIG, "n_kv_heads", "kv heads do not divide heads");
    edit_case(META("block_size", "0"), ATTNRES_ERR_CONFIG, "block_size", "block_size 0");
    edit_case(META("block_size", "5"), ATTNRES_ERR_CONFIG, "block_size", "block_size larger than L");
    edit_case(META("block_size", NULL), ATTNRES_ERR_MISSING, "block_size", "attnres without block_size");
    edit_case(META("residual", "fancy"), ATTNRES_ERR_CONFIG, "residual", "unknown residual mode");
    edit_case(META("residual", "standard"), ATTNRES_ERR_CONFIG, "block_size", "standard with a block_size");
    edit_case(META("rope_theta", NULL), ATTNRES_ERR_MISSING, "rope_theta", "no rope_theta");
    edit_case(META("rope_theta", "nan"), ATTNRES_ERR_CONFIG, "rope_theta", "rope_theta NaN");
    edit_case(META("norm_eps", "-1e-5"), ATTNRES_ERR_CONFIG, "norm_eps", "negative norm_eps");
    edit_case(META("tie_embeddings", "false"), ATTNRES_ERR_MISSING, "output.weight", "untied without output.weight");
    edit_case(META("tie_embeddings", "yes"), ATTNRES_ERR_CONFIG, "tie_embeddings", "tie_embeddings not a boolean");
    edit_case(META("tie_embeddings", "True"), ATTNRES_ERR_CONFIG, "tie_embeddings", "tie_embeddings \"True\"");
    edit_case(META("dim", "0"), ATTNRES_ERR_CONFIG, "dim", "dim 0");
    edit_case(META("dim", "-64"), ATTNRES_ERR_CONFIG, "dim", "dim -64");
    edit_case(META("dim", "+64"), ATTNRES_ERR_CONFIG, "not an integer", "dim \"+64\"");
    edit_case(META("dim", " 64"), ATTNRES_ERR_CONFIG, "not an integer", "dim with a leading space");
    edit_case(META("dim", "64 "), ATTNRES_ERR_CONFIG, "not an integer", "dim with a trailing space");
    edit_case(META("dim", "0x40"), ATTNRES_ERR_CONFIG, "not an integer", "dim in hex");
    edit_case(META("dim", "64.0"), ATTNRES_ERR_CONFIG, "not an integer", "dim \"64.0\"");
    edit_case(META("dim", ""), ATTNRES_ERR_CONFIG, "not an integer", "dim empty");
    edit_case(META("dim", NULL), ATTNRES_ERR_MISSING, "'dim'", "no dim");
    edit_case(META("hidden_dim", "0"), ATTNRES_ERR_CONFIG, "hidden_dim", "hidden_dim 0");
    edit_case(META("n_layers", "0"), ATTNRES_ERR_CONFIG, "n_layers", "n_layers 0");
    edit_case(META("n_layers", "-2"), ATTNRES_ERR_CONFIG, "n_layers", "n_layers -2");
    edit_case(META("n_heads", "0"), ATTNRES_ERR_CONFIG, "n_heads", "n_heads 0");
    edit_case(META("n_kv_heads", "0"), ATTNRES_ERR_CONFIG, "n_kv_heads", "n_kv_heads 0");
    edit_case(META("n_kv_heads", "8"), ATTNRES_ERR_CONFIG, "n_kv_heads", "more kv heads than heads");
    edit_case(META("n_heads", "64"), ATTNRES_ERR_CONFIG, "even", "head_dim 1 (RoPE needs pairs)");
    edit_case(META("seq_len", "0"), ATTNRES_ERR_CONFIG, "seq_len", "seq_len 0");
    edit_case(META("seq_len", "1048577"), ATTNRES_ERR_CONFIG, "seq_len", "seq_len above the limit");
    edit_case(META("block_size", "-1"), ATTNRES_ERR_CONFIG, "block_size", "block_size -1");
    edit_case(META("block_size", "2147483647"), ATTNRES_ERR_CONFIG, "block_size", "block_size INT_MAX");
    edit_case(META("norm_eps", "0"), ATTNRES_ERR_CONFIG, "norm_eps", "norm_eps 0");
    edit_case(META("norm_eps", "1e-50"), ATTNRES_ERR_CONFIG, "norm_eps", "norm_eps that rounds to 0 in float");
    edit_case(META("norm_eps", "inf"), ATTNRES_ERR_CONFIG, "norm_eps", "norm_eps inf");
    edit_case(META("rope_theta", "1e39"), ATTNRES_ERR_CONFIG, "rope_theta", "rope_theta beyond float");
    edit_case(META("rope_theta", ""), ATTNRES_ERR_CONFIG, "rope_theta", "rope_theta empty");
    edit_case(META("format_version", ""), ATTNRES_ERR_FORMAT, "format_version", "empty format version");
    /* each message names what is actually wrong: a float in range is not
       "not a number", INT_MIN is an integer, 1e-50 is not "not a number" */
    edit_case(META("norm_eps", "3.4e38"), ATTNRES_OK, "", "norm_eps 3.4e38 (< FLT_MAX) loads");
    edit_case(META("norm_eps", "3.4028235e38"), ATTNRES_OK, "", "norm_eps 3.4028235e38 (rounds to FLT_MAX) loads");
    edit_case(META("norm_eps", "3.5e38"), ATTNRES_ERR_CONFIG, "outside the range of a float", "norm_eps 3.5e38");
    edit_case(META("norm_eps", "1e-50"), ATTNRES_ERR_CONFIG, "too small for a float", "norm_eps 1e-50 says why");
    edit_case(META("norm_eps", "1e-5x"), ATTNRES_ERR_CONFIG, "not a decimal number", "norm_eps \"1e-5x\"");
    edit_case(META("block_size", "-2147483648"), ATTNRES_ERR_CONFIG, "block_size = -2147483648, must be in",
              "block_size INT_MIN is an integer, out of range");
    edit_case(META("dim", "99999999999"), ATTNRES_ERR_CONFIG, "outside the range of an int", "dim past INT_MAX says so");
    edit_case(META("dim", "-2147483649"), ATTNRES_ERR_CONFIG, "outside the range of an int", "dim below INT_MIN says so");
#undef EDIT
#undef META
}

/* ------------------------------------------------------------------------ */
/* Forward, state, sampler and config misuse                                */
/* ------------------------------------------------------------------------ */

static void expect_forward_error(const attnres_model *m, attnres_state *s, int token, int pos,
                                 int code, const char *word, const char *what) {
    attnres_error err;
    float *logits = attnres_forward(m, s, token, pos, &err);
    check(logits == NULL && err.code == code && strstr(err.message, word) != NULL,
          "%-46s -> %s: \"%s\"", what, attnres_status_name(err.code), err.message);
}

static void test_forward_errors(void) {
    attnres_model m, other;
    attnres_state s, s_other;
    attnres_error err;
    attnres_config c;
    int V;
    if (attnres_model_load(&m, BASE_MODEL, &err) != ATTNRES_OK) { check(0, "load: %s", err.message); return; }
    attnres_state_init(&s, &m.config, &err);
    V = m.config.vocab_size;
    expect_forward_error(&m, &s, V, 0, ATTNRES_ERR_RANGE, "token", "token = vocab_size");
    expect_forward_error(&m, &s, -1, 0, ATTNRES_ERR_RANGE, "token", "token = -1");
    expect_forward_error(&m, &s, 1, m.config.seq_len, ATTNRES_ERR_RANGE, "seq_len", "pos = seq_len (prompt past the context)");
    expect_forward_error(&m, &s, 1, -1, ATTNRES_ERR_RANGE, "pos", "pos = -1");
    expect_forward_error(&m, &s, 1, 5, ATTNRES_ERR_RANGE, "skips", "pos 5 with an empty KV-cache");
    check(attnres_forward(&m, &s, 1, 0, &err) != NULL && s.cache_len == 1, "after those errors a valid token still runs");
    /* a state made for another config must be refused, not overrun */
    c = m.config;
    c.seq_len = 4;
    attnres_state_init(&s_other, &c, &err);
    expect_forward_error(&m, &s_other, 1, 0, ATTNRES_ERR_CONFIG, "different config", "state made for another config");
    attnres_state_free(&s_other);
    c = m.config;
    c.dim = 0;
    check(attnres_model_init(&other, &c, &err) == ATTNRES_ERR_CONFIG && strstr(err.message, "dim"),
          "model_init with dim 0 -> \"%s\"", err.message);
    c = m.config;
    c.n_heads = 64; c.n_kv_heads = 64;   /* head_dim 1: RoPE needs pairs */
    check(attnres_state_init(&s_other, &c, &err) == ATTNRES_ERR_CONFIG && strstr(err.message, "even"),
          "state_init with odd head_dim -> \"%s\"", err.message);
    attnres_state_free(&s);
    attnres_model_free(&m);
}

static void test_sampler_errors(void) {
    attnres_sampler smp;
    attnres_error err;
    check(attnres_sampler_init(&smp, 0, 1.0f, 0.9f, 1, &err) == ATTNRES_ERR_RANGE, "sampler vocab 0 -> \"%s\"", err.message);
    check(attnres_sampler_init(&smp, 8, -1.0f, 0.9f, 1, &err) == ATTNRES_ERR_RANGE, "sampler temperature -1 -> \"%s\"", err.message);
    check(attnres_sampler_init(&smp, 8, (float)NAN, 0.9f, 1, &err) == ATTNRES_ERR_RANGE, "sampler temperature NaN -> \"%s\"", err.message);
    check(attnres_sampler_init(&smp, 8, 1.0f, 1.5f, 1, &err) == ATTNRES_ERR_RANGE, "sampler top-p 1.5 -> \"%s\"", err.message);
}

/* Make allocation k fail, for every k a load + state init performs: each
   must come back as NOMEM (or succeed) without leaking. */
static void test_allocation_failures(void) {
    long k;
    int all_ok = 1, n_fail = 0;
    for (k = 0; k < 64; k++) {
        attnres_model m;
        attnres_state s;
        attnres_error err;
        int rc;
        live_allocs = 0; alloc_calls = 0; fail_alloc_at = k;
        rc = attnres_model_load(&m, BASE_MODEL, &err);
        if (rc == ATTNRES_OK) {
            rc = attnres_state_init(&s, &m.config, &err);
            if (rc == ATTNRES_OK) attnres_state_free(&s);
            attnres_model_free(&m);
        }
        if (rc == ATTNRES_OK && alloc_calls <= k) break;   /* past the last allocation */
        all_ok &= rc == ATTNRES_ERR_NOMEM && live_allocs == 0;
        n_fail++;
    }
    fail_alloc_at = -1;
    check(all_ok && n_fail > 3 && k < 64, "allocation failure at each of %d points -> NOMEM, no leaks", n_fail);
}

/* ------------------------------------------------------------------------ */
/* Hostile JSON, through attnres__st_parse on a buffer in memory             */
/* ------------------------------------------------------------------------ */

/* A buffer from the counting allocator (st_parse takes ownership of it):
   8-byte header length hl, the header text, then data_len zero bytes. */
static unsigned char *st_buffer(const char *header, size_t hl, uint64_t declared_hl, size_t data_len) {
    unsigned char *buf = (unsigned char *)counting_malloc(8 + hl + data_len);
    int i;
    if (!buf) return NULL;
    for (i = 0; i < 8; i++) buf[i] = (unsigned char)(declared_hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    memset(buf + 8 + hl, 0, data_len);
    return buf;
}

/* attnres__st_parse on header + data_len zero bytes: expects `code` and
   `word` in the message (or, on success, a tensor named `find`). */
static void parse_case_n(const char *header, size_t hl, size_t data_len, int code, const char *word,
                         const char *find, const char *what) {
    attnres__st_file f;
    attnres_error err;
    unsigned char *buf;
    int rc, found = 1;
    live_allocs = 0;
    buf = st_buffer(header, hl, hl, data_len);
    if (!buf) { check(0, "%s: out of memory", what); return; }
    rc = attnres__st_parse(&f, buf, 8 + hl + data_len, &err);
    if (rc == ATTNRES_OK) {
        if (find) found = attnres__st_find(&f, find) != NULL;
        attnres__st_close(&f);
    }
    check(rc == code && err.code == code && strstr(err.message, word) != NULL && found && live_allocs == 0,
          "%-46s -> %s: \"%.120s\"%s%s", what, attnres_status_name(rc), err.message,
          found ? "" : " (tensor not found)", live_allocs ? " (LEAKED)" : "");
}

static void parse_case(const char *header, size_t data_len, int code, const char *word, const char *find,
                       const char *what) {
    parse_case_n(header, strlen(header), data_len, code, word, find, what);
}

#define T4 "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"

static void test_hostile_json(void) {
    char *deep, *long_header;
    size_t i, n = 100000;
    /* nesting: the reader is not recursive, so depth cannot exhaust the stack */
    deep = (char *)malloc(2 * n + 16);
    for (i = 0; i < n; i++) { deep[i] = '['; deep[n + i] = ']'; }
    deep[2 * n] = '\0';
    parse_case(deep, 0, ATTNRES_ERR_FORMAT, "expected '{'", NULL, "100000 nested arrays");
    strcpy(deep, "{\"a\":");
    for (i = 0; i < 20000; i++) memcpy(deep + 5 + 5 * i, "{\"a\":", 5);
    deep[5 + 5 * 20000] = '\0';
    parse_case(deep, 0, ATTNRES_ERR_FORMAT, "unknown", NULL, "20000 nested objects");
    free(deep);
    /* unicode escapes */
    parse_case("{\"\\u00e9t\\u00E9\":" T4 "}", 4, ATTNRES_OK, "", "\xc3\xa9t\xc3\xa9", "\\u00e9 escapes decode to UTF-8");
    parse_case("{\"\\u4e2d\":" T4 "}", 4, ATTNRES_OK, "", "\xe4\xb8\xad", "a 3-byte UTF-8 escape");
    parse_case("{\"caf\xc3\xa9\":" T4 "}", 4, ATTNRES_OK, "", "caf\xc3\xa9", "raw UTF-8 in a name");
    parse_case("{\"\\ud83d\\ude00\":" T4 "}", 4, ATTNRES_ERR_FORMAT, "surrogate", NULL, "surrogate pair (refused)");
    parse_case("{\"a\\u0000b\":" T4 "}", 4, ATTNRES_ERR_FORMAT, "NUL", NULL, "\\u0000 in a tensor name");
    parse_case("{\"__metadata__\":{\"format\":\"attnres\\u0000evil\"}}", 0, ATTNRES_ERR_FORMAT, "NUL", NULL,
               "\\u0000 in a metadata value");
    parse_case("{\"a\\u12\":" T4 "}", 4, ATTNRES_ERR_FORMAT, "hex", NULL, "\\u with 2 hex digits");
    parse_case("{\"a\\u12G4\":" T4 "}", 4, ATTNRES_ERR_FORMAT, "hex", NULL, "\\u with a bad hex digit");
    parse_case("{\"a\\u00", 0, ATTNRES_ERR_FORMAT, "truncated", NULL, "header ends inside \\u");
    parse_case("{\"a\\", 0, ATTNRES_ERR_FORMAT, "unterminated", NULL, "header ends after a backslash");
    /* names */
    parse_case("{\"\":" T4 "}", 4, ATTNRES_OK, "", "", "empty tensor name (parses)");
    parse_case("{\"__metadata__\":{\"\":\"\"}}", 0, ATTNRES_OK, "", NULL, "empty metadata key and value");
    long_header = (char *)malloc(10100);
    strcpy(long_header, "{\"");
    memset(long_header + 2, 'n', 10000);
    strcpy(long_header + 10002, "\":" T4 "}");
    parse_case(long_header, 4, ATTNRES_OK, "", NULL, "10000-character tensor name (parses)");
    free(long_header);
    /* numbers */
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[+1],\"data_offsets\":[0,4]}}", 4, ATTNRES_ERR_FORMAT,
               "non-negative integer", NULL, "dimension \"+1\"");
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[+0,4]}}", 4, ATTNRES_ERR_FORMAT,
               "non-negative integer", NULL, "offset \"+0\"");
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[-0],\"data_offsets\":[0,0]}}", 0, ATTNRES_ERR_FORMAT,
               "non-negative integer", NULL, "dimension \"-0\"");
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4, ATTNRES_ERR_FORMAT,
               "fraction", NULL, "dimension \"1e0\"");
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, ATTNRES_ERR_FORMAT,
               "integer", NULL, "dimension as a string");
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}", 4,
               ATTNRES_ERR_FORMAT, "outside", NULL, "end offset 2^64-1");
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}", 4,
               ATTNRES_ERR_FORMAT, "overflow", NULL, "end offset 2^64");
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, ATTNRES_OK, "", "a",
               "empty tensor [0] (valid safetensors)");
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, ATTNRES_OK, "", "a",
               "scalar tensor [] (valid safetensors)");
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0,
               ATTNRES_ERR_FORMAT, "too large", NULL, "numel * 4 overflows 64 bits");
    parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,0,18446744073709551615],\"data_offsets\":[0,0]}}", 0,
               ATTNRES_OK, "", "a", "a zero dimension next to 2^64-1");
    /* whitespace and structure */
    parse_case(" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n{ \"dtype\" : \"F32\" ,\n\"shape\"\t:\t[ 1 ] ,\r\"data_offsets\"\n:\n[ 0 , 4 ] } \t\r\n}  ",
               4, ATTNRES_OK, "", "a", "JSON whitespace everywhere");
    parse_case("{\f\"a\":" T4 "}", 4, ATTNRES_ERR_FORMAT, "expected", NULL, "form feed is not JSON whitespace");
    parse_case("{\xc2\xa0\"a\":" T4 "}", 4, ATTNRES_ERR_FORMAT, "expected", NULL, "no-break space");
    parse_case_n("{}\0", 3, 0, ATTNRES_ERR_FORMAT, "unexpected bytes", NULL, "NUL byte after the header object");
    parse_case_n("{\"a\0b\":" T4 "}", 57, 4, ATTNRES_ERR_FORMAT, "control", NULL, "raw NUL inside a name");
    parse_case("{\"a\":" T4 ",}", 4, ATTNRES_ERR_FORMAT, "expected a string", NULL, "trailing comma");
    parse_case("{,}", 0, ATTNRES_ERR_FORMAT, "expected a string", NULL, "a lone comma");
    parse_case("{1:2}", 0, ATTNRES_ERR_FORMAT, "expected a string", NULL, "a number as a key");
    parse_case("{\"a\":null}", 0, ATTNRES_ERR_FORMAT, "expected '{'", NULL, "null where a tensor belongs");
    parse_case("{\"__metadata__\":[]}", 0, ATTNRES_ERR_FORMAT, "expected '{'", NULL, "metadata as an array");
    parse_case("{\"__metadata__\":{\"a\":null}}", 0, ATTNRES_ERR_FORMAT, "expected a string", NULL, "metadata value null");
    parse_case("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ATTNRES_ERR_FORMAT,
               "dtype", NULL, "dtype \"f32\" (lower case)");
    parse_case("{\"a\":{\"dtype\":\"F32\\u0000\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ATTNRES_ERR_FORMAT,
               "NUL", NULL, "dtype with \\u0000");
    parse_case("{\"a\":{\"dtype\":\"F8_E4M3FN\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, ATTNRES_ERR_FORMAT,
               "dtype", NULL, "dtype name longer than any known");
    parse_case("{\"a\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ATTNRES_ERR_FORMAT,
               "expected a string", NULL, "dtype as a number");
    parse_case("{\"a\":{}}", 0, ATTNRES_ERR_FORMAT, "expected a string", NULL, "empty tensor entry");
    parse_case("{\"__metadata__\":{}, \"__metadata__\":{}}", 0, ATTNRES_ERR_FORMAT, "twice", NULL, "__metadata__ twice");
    parse_case("{}", 4, ATTNRES_ERR_FORMAT, "no tensors", NULL, "data bytes but no tensors");
    parse_case("{\"__metadata__\":{\"k\":\"v\"}}", 0, ATTNRES_OK, "", NULL, "metadata only, no data (parses)");
}

/* The 100 MB header limit, both sides of it, on buffers in memory; and a
   header length near the limit in a 12-byte file. */
static void test_header_limit(void) {
    const size_t max = (size_t)100 * 1024 * 1024;
    attnres__st_file f;
    attnres_error err;
    unsigned char small[12] = {0, 0, 0x40, 0x06, 0, 0, 0, 0, '{', '}', ' ', ' '};   /* 100 MB + 0 */
    unsigned char *buf;
    int rc;
    write_file(TMP_PATH, small, sizeof small);
    expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, "header length 104857600", "header length 100 MB, file of 12 bytes", 1);
    small[2] = 0x3f; small[1] = 0xff; small[0] = 0xff;   /* 100 MB - 1 */
    write_file(TMP_PATH, small, sizeof small);
    expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, "header length", "header length 100 MB - 1, file of 12 bytes", 1);
    /* exactly 100 MB: "{}" padded with spaces is a valid empty file */
    live_allocs = 0;
    buf = (unsigned char *)counting_malloc(8 + max);
    if (!buf) { check(0, "cannot allocate 100 MB for the header-limit test"); return; }
    memset(buf + 8, ' ', max);
    buf[8] = '{'; buf[9] = '}';
    for (rc = 0; rc < 8; rc++) buf[rc] = (unsigned char)((uint64_t)max >> (8 * rc));
    rc = attnres__st_parse(&f, buf, 8 + max, &err);
    if (rc == ATTNRES_OK) attnres__st_close(&f);
    check(rc == ATTNRES_OK && live_allocs == 0, "header of exactly 100 MB (spaces) parses -> %s", attnres_status_name(rc));
    /* one byte more is refused before anything is parsed */
    buf = (unsigned char *)counting_malloc(8 + max + 1);
    if (!buf) { check(0, "cannot allocate 100 MB for the header-limit test"); return; }
    memset(buf + 8, ' ', max + 1);
    buf[8] = '{'; buf[9] = '}';
    for (rc = 0; rc < 8; rc++) buf[rc] = (unsigned char)((uint64_t)(max + 1) >> (8 * rc));
    rc = attnres__st_parse(&f, buf, 8 + max + 1, &err);
    check(rc == ATTNRES_ERR_FORMAT && strstr(err.message, "header length") && live_allocs == 0,
          "header of 100 MB + 1 byte -> %s: \"%s\"", attnres_status_name(rc), err.message);
}

/* A very long tensor name in a real checkpoint: the message is cut to fit
   its buffer but still says what happened. */
static void test_long_name(void) {
    char *name = (char *)malloc(10001);
    edit e;
    attnres_model m;
    attnres_error err;
    int rc;
    memset(name, 'x', 10000);
    name[10000] = '\0';
    memset(&e, 0, sizeof e);
    e.extra = name;
    if (!rewrite(BASE_MODEL, TMP_PATH, &e)) { check(0, "rewrite with a long name"); free(name); return; }
    live_allocs = 0;
    rc = attnres_model_load(&m, TMP_PATH, &err);
    check(rc == ATTNRES_ERR_SHAPE && strstr(err.message, "unexpected tensor 'xxxx") && strlen(err.message) < sizeof err.message
          && live_allocs == 0, "10000-character tensor name -> %s: \"%.70s...\" (%zu chars)",
          attnres_status_name(rc), err.message, strlen(err.message));
    free(name);
}

/* ------------------------------------------------------------------------ */
/* Public functions with wrong arguments, NULL err, zeroed and freed structs */
/* ------------------------------------------------------------------------ */

static void test_read_counts(void) {
    attnres__st_file f;
    attnres_error err;
    const attnres__st_tensor *t;
    float buf[65];
    int32_t ibuf[65];
    live_allocs = 0;
    if (attnres__st_open(&f, BASE_MODEL, &err) != ATTNRES_OK) { check(0, "open: %s", err.message); return; }
    t = attnres__st_find(&f, "norm.weight");   /* [64] */
    check(t && attnres__st_read_f32(buf, 64, t, &err) == ATTNRES_OK, "st_read_f32 with the right count works");
    check(t && attnres__st_read_f32(buf, 63, t, &err) == ATTNRES_ERR_SHAPE && strstr(err.message, "64 elements, expected 63"),
          "st_read_f32 count 63 of 64 -> \"%s\"", err.message);
    check(t && attnres__st_read_f32(buf, 65, t, &err) == ATTNRES_ERR_SHAPE && strstr(err.message, "expected 65"),
          "st_read_f32 count 65 of 64 -> \"%s\"", err.message);
    check(t && attnres__st_read_f32(buf, 0, t, &err) == ATTNRES_ERR_SHAPE, "st_read_f32 count 0 of 64 -> \"%s\"", err.message);
    check(t && attnres__st_read_f32(buf, (size_t)-1, t, &err) == ATTNRES_ERR_SHAPE, "st_read_f32 count SIZE_MAX -> \"%s\"", err.message);
    check(t && st_read_i32(ibuf, 64, t, &err) == ATTNRES_ERR_DTYPE && strstr(err.message, "F32"),
          "st_read_i32 of an F32 tensor -> \"%s\"", err.message);
    check(attnres__st_find(&f, "no.such.tensor") == NULL && attnres__st_find(&f, "") == NULL &&
          attnres__st_meta_get(&f, "no_such_key") == NULL, "st_find / st_meta_get of absent names return NULL");
    attnres__st_close(&f);
    check(live_allocs == 0, "st_open + st_close leave nothing allocated");
}

/* "Every fallible call takes an attnres_error* (which may be NULL)". */
static void test_null_err(void) {
    attnres_model m, zm;
    attnres_state s;
    attnres_sampler smp;
    attnres__st_file f;
    attnres_config c;
    unsigned char *buf;
    float out[64];
    int tokens[3] = {1, 2, 3}, ok = 1;
    live_allocs = 0;
    memset(&zm, 0, sizeof zm);
    ok &= attnres_model_load(&m, "no/such/file", NULL) == ATTNRES_ERR_IO;
    ok &= attnres_model_load(&m, GOLDEN_DIR "/tied.expect.safetensors", NULL) == ATTNRES_ERR_MISSING;
    ok &= attnres__st_open(&f, "no/such/file", NULL) == ATTNRES_ERR_IO;
    buf = st_buffer("{", 1, 1, 0);
    ok &= buf && attnres__st_parse(&f, buf, 9, NULL) == ATTNRES_ERR_FORMAT;
    buf = st_buffer("{\"a\":[", 6, 6, 0);
    ok &= buf && attnres__st_parse(&f, buf, 14, NULL) == ATTNRES_ERR_FORMAT;
    ok &= attnres_model_load(&m, BASE_MODEL, NULL) == ATTNRES_OK;
    c = m.config;
    ok &= attnres_config_validate(&c, NULL) == ATTNRES_OK;
    c.dim = 0;
    ok &= attnres_config_validate(&c, NULL) == ATTNRES_ERR_CONFIG;
    ok &= attnres_model_init(&zm, &c, NULL) == ATTNRES_ERR_CONFIG;
    ok &= attnres_state_init(&s, &c, NULL) == ATTNRES_ERR_CONFIG;
    ok &= attnres_state_init(&s, &m.config, NULL) == ATTNRES_OK;
    ok &= attnres_forward(&m, &s, -1, 0, NULL) == NULL;
    ok &= attnres_forward(&m, &s, 0, 1, NULL) == NULL;
    ok &= attnres_forward(&zm, &s, 0, 0, NULL) == NULL;
    ok &= attnres_forward(&m, &s, 0, 0, NULL) != NULL;
    ok &= attnres_prefill(&m, &s, tokens, 0, NULL) == NULL;
    ok &= attnres_prefill(&m, &s, tokens, m.config.seq_len, NULL) == NULL;
    ok &= attnres_prefill(&m, &s, tokens, 3, NULL) != NULL;
    ok &= attnres_sampler_init(&smp, 0, 1.0f, 0.9f, 1, NULL) == ATTNRES_ERR_RANGE;
    ok &= attnres_sampler_init(&smp, 8, 1.0f, 0.9f, 1, NULL) == ATTNRES_OK;
    attnres_sampler_free(&smp);
    if (attnres__st_open(&f, BASE_MODEL, NULL) == ATTNRES_OK) {
        const attnres__st_tensor *t = attnres__st_find(&f, "norm.weight");
        ok &= t && attnres__st_read_f32(out, 63, t, NULL) == ATTNRES_ERR_SHAPE;
        ok &= t && st_read_i32((int32_t *)out, 64, t, NULL) == ATTNRES_ERR_DTYPE;
        ok &= t && attnres__st_read_f32(out, 64, t, NULL) == ATTNRES_OK;
        attnres__st_close(&f);
    } else ok = 0;
    attnres_state_free(&s);
    attnres_model_free(&m);
    check(ok && live_allocs == 0, "every fallible call accepts err = NULL (errors and successes), no leaks");
}

/* Free functions on zeroed structs, and twice in a row. */
static void test_free_twice(void) {
    attnres_model m;
    attnres_state s;
    attnres_sampler smp;
    attnres__st_file f;
    attnres_error err;
    live_allocs = 0;
    memset(&m, 0, sizeof m); memset(&s, 0, sizeof s); memset(&smp, 0, sizeof smp); memset(&f, 0, sizeof f);
    attnres_model_free(&m); attnres_state_free(&s); attnres_sampler_free(&smp); attnres__st_close(&f);
    attnres_state_reset(&s);
    check(live_allocs == 0, "free and reset accept zeroed structs");
    if (attnres_model_load(&m, BASE_MODEL, &err) != ATTNRES_OK) { check(0, "load: %s", err.message); return; }
    attnres_state_init(&s, &m.config, &err);
    attnres_sampler_init(&smp, m.config.vocab_size, 1.0f, 0.9f, 1, &err);
    attnres__st_open(&f, BASE_MODEL, &err);
    attnres_model_free(&m); attnres_state_free(&s); attnres_sampler_free(&smp); attnres__st_close(&f);
    attnres_model_free(&m); attnres_state_free(&s); attnres_sampler_free(&smp); attnres__st_close(&f);
    check(live_allocs == 0 && m.memory == NULL && s.memory == NULL && smp.candidates == NULL && f.bytes == NULL,
          "each free function twice in a row: no double free, nothing left");
    /* a failed init leaves a struct that free accepts */
    attnres_model_load(&m, "no/such/file", &err);
    attnres_model_free(&m);
    check(live_allocs == 0, "free after a failed load is harmless");
}

/* Forward and prefill with a zeroed (never initialised, or freed) model or state. */
static void test_uninitialised(void) {
    attnres_model m, zm;
    attnres_state s, zs;
    attnres_error err;
    int tokens[2] = {1, 2};
    float *logits;
    memset(&zm, 0, sizeof zm);
    memset(&zs, 0, sizeof zs);
    if (attnres_model_load(&m, BASE_MODEL, &err) != ATTNRES_OK) { check(0, "load: %s", err.message); return; }
    attnres_state_init(&s, &m.config, &err);
    expect_forward_error(&zm, &s, 0, 0, ATTNRES_ERR_RANGE, "not initialised", "forward with a zeroed model");
    expect_forward_error(&m, &zs, 0, 0, ATTNRES_ERR_RANGE, "not initialised", "forward with a zeroed state");
    expect_forward_error(&zm, &zs, 0, 0, ATTNRES_ERR_RANGE, "not initialised", "forward with both zeroed");
    logits = attnres_prefill(&zm, &s, tokens, 2, &err);
    check(!logits && err.code != ATTNRES_OK && s.cache_len == 0,
          "prefill with a zeroed model -> %s: \"%s\"", attnres_status_name(err.code), err.message);
    logits = attnres_prefill(&m, &zs, tokens, 2, &err);
    check(!logits && err.code != ATTNRES_OK,
          "prefill with a zeroed state -> %s: \"%s\"", attnres_status_name(err.code), err.message);
    attnres_state_free(&s);
    expect_forward_error(&m, &s, 0, 0, ATTNRES_ERR_RANGE, "not initialised", "forward with a freed state");
    attnres_model_free(&m);
}

/* Prompts: longer than the context, not fitting after what is cached, a
   bad token at the end. A refused prompt runs nothing. */
static void test_prefill_errors(void) {
    attnres_model m;
    attnres_state s;
    attnres_error err;
    int *tokens, T, i;
    float *logits;
    if (attnres_model_load(&m, BASE_MODEL, &err) != ATTNRES_OK) { check(0, "load: %s", err.message); return; }
    attnres_state_init(&s, &m.config, &err);
    T = m.config.seq_len;
    tokens = (int *)malloc((size_t)(T + 1) * sizeof *tokens);
    for (i = 0; i <= T; i++) tokens[i] = i % m.config.vocab_size;
    logits = attnres_prefill(&m, &s, tokens, T + 1, &err);
    check(!logits && err.code == ATTNRES_ERR_RANGE && strstr(err.message, "does not fit") && s.cache_len == 0,
          "prompt of seq_len + 1 tokens -> %s: \"%s\"", attnres_status_name(err.code), err.message);
    logits = attnres_prefill(&m, &s, tokens, -5, &err);
    check(!logits && err.code == ATTNRES_ERR_RANGE && s.cache_len == 0, "prompt of -5 tokens -> \"%s\"", err.message);
    logits = attnres_prefill(&m, &s, tokens, 10, &err);
    check(logits && s.cache_len == 10, "a prompt of 10 tokens runs (cache_len %d)", s.cache_len);
    logits = attnres_prefill(&m, &s, tokens, T - 9, &err);
    check(!logits && err.code == ATTNRES_ERR_RANGE && strstr(err.message, "does not fit") && s.cache_len == 10,
          "%d more tokens after 10 cached -> \"%s\"", T - 9, err.message);
    tokens[4] = m.config.vocab_size;
    logits = attnres_prefill(&m, &s, tokens, 5, &err);
    check(!logits && err.code == ATTNRES_ERR_RANGE && strstr(err.message, "token 4") && s.cache_len == 10,
          "prompt whose last token = vocab_size runs nothing -> \"%s\"", err.message);
    logits = attnres_prefill(&m, &s, tokens, T - 10, &err);
    check(!logits && s.cache_len == 10, "a bad token anywhere refuses the whole prompt");
    tokens[4] = 4;
    logits = attnres_prefill(&m, &s, tokens, T - 10, &err);
    check(logits && s.cache_len == T, "a prompt filling the context exactly runs (cache_len %d)", s.cache_len);
    expect_forward_error(&m, &s, 1, T, ATTNRES_ERR_RANGE, "seq_len", "one more token after a full context");
    free(tokens);
    attnres_state_free(&s);
    attnres_model_free(&m);
}

/* Format 2 (head_dim, qk_norm): edits of golden/qk_norm.model.safetensors
   (standard, 4 heads of 24 over dim 64, QK-norm, tied). */
static void qk_case(const edit *e, int code, const char *word, const char *what) {
    if (!rewrite(GOLDEN_DIR "/qk_norm.model.safetensors", TMP_PATH, e)) { check(0, "%s: cannot rewrite", what); return; }
    expect_load_error(TMP_PATH, code, word, what, 1);
}

static void test_format2_edits(void) {
    edit e;
#define EDIT(field, value) (memset(&e, 0, sizeof e), e.field = (value), &e)
#define META(key, value) (memset(&e, 0, sizeof e), e.meta_key = (key), e.meta_value = (value), &e)
    memset(&e, 0, sizeof e);
    qk_case(&e, ATTNRES_OK, "", "format 2 (head_dim 24, qk_norm), rewritten unmodified");
    qk_case(EDIT(drop, "layers.1.attention.k_norm.weight"), ATTNRES_ERR_MISSING, "layers.1.attention.k_norm.weight",
            "qk_norm without a k_norm gain");
    qk_case(META("qk_norm", "false"), ATTNRES_ERR_SHAPE, "unexpected tensor 'layers.0.attention.q_norm.weight'",
            "q/k-norm gains in a model without qk_norm");
    qk_case(META("qk_norm", "yes"), ATTNRES_ERR_CONFIG, "qk_norm", "qk_norm not a boolean");
    qk_case(META("head_dim", "7"), ATTNRES_ERR_CONFIG, "even", "odd head_dim");
    qk_case(META("head_dim", "16"), ATTNRES_ERR_SHAPE, "should have shape", "head_dim disagrees with wq");
    qk_case(META("head_dim", "99999999"), ATTNRES_ERR_CONFIG, "head_dim", "absurd head_dim");
    qk_case(META("format_version", "1"), ATTNRES_ERR_SHAPE, "should have shape",
            "version 1 ignores head_dim: wq no longer fits dim / n_heads");
#undef EDIT
#undef META
}

/* Each config field out of range, straight into attnres_config_validate;
   then valid but absurd sizes, which must fail to allocate cleanly. */
static void test_configs(void) {
    static const struct { const char *field; int value; } bad[] = {
        {"dim", 0}, {"dim", -8}, {"dim", 65537}, {"hidden_dim", 0}, {"hidden_dim", -1},
        {"n_layers", 0}, {"n_layers", 1025}, {"n_heads", 0}, {"n_heads", 3}, {"n_heads", 65},
        {"n_kv_heads", 0}, {"n_kv_heads", 3}, {"n_kv_heads", 8}, {"vocab_size", 0}, {"vocab_size", -1},
        {"seq_len", 0}, {"seq_len", 2000000}, {"block_size", 0}, {"block_size", 5}, {"block_size", -3},
        {"tie_embeddings", 2}, {"residual", 2}, {"residual", -1},
        {"head_dim", -2}, {"head_dim", 7}, {"head_dim", 65538}, {"qk_norm", 2}, {"qk_norm", -1}};
    attnres_model m;
    attnres_state s;
    attnres_error err;
    attnres_config base, c;
    int i, rc, all_ok = 1;
    memset(&base, 0, sizeof base);
    base.dim = 64; base.hidden_dim = 96; base.n_layers = 2; base.n_heads = 4; base.n_kv_heads = 2;
    base.vocab_size = 128; base.seq_len = 32; base.rope_theta = 10000.0f; base.norm_eps = 1e-5f;
    base.residual = ATTNRES_RESIDUAL_ATTNRES; base.block_size = 3;
    check(attnres_config_validate(&base, &err) == ATTNRES_OK, "the base config is valid");
    for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        const char *f = bad[i].field;
        int named;
        c = base;
        if (!strcmp(f, "dim")) c.dim = bad[i].value;
        else if (!strcmp(f, "hidden_dim")) c.hidden_dim = bad[i].value;
        else if (!strcmp(f, "n_layers")) c.n_layers = bad[i].value;
        else if (!strcmp(f, "n_heads")) c.n_heads = bad[i].value;
        else if (!strcmp(f, "n_kv_heads")) c.n_kv_heads = bad[i].value;
        else if (!strcmp(f, "vocab_size")) c.vocab_size = bad[i].value;
        else if (!strcmp(f, "seq_len")) c.seq_len = bad[i].value;
        else if (!strcmp(f, "block_size")) c.block_size = bad[i].value;
        else if (!strcmp(f, "tie_embeddings")) c.tie_embeddings = bad[i].value;
        else if (!strcmp(f, "head_dim")) c.head_dim = bad[i].value;
        else if (!strcmp(f, "qk_norm")) c.qk_norm = bad[i].value;
        else c.residual = bad[i].value;
        rc = attnres_config_validate(&c, &err);
        named = strstr(err.message, f) != NULL || (!strcmp(f, "n_heads") && strstr(err.message, "head_dim"));
        if (rc != ATTNRES_ERR_CONFIG || !named) {
            all_ok = 0;
            check(0, "config %s = %d -> %s: \"%s\"", f, bad[i].value, attnres_status_name(rc), err.message);
        }
    }
    check(all_ok, "%d invalid config fields -> CONFIG, each message naming its field", (int)(sizeof bad / sizeof bad[0]));
    c = base; c.rope_theta = (float)INFINITY;
    check(attnres_config_validate(&c, &err) == ATTNRES_ERR_CONFIG, "rope_theta Inf -> \"%s\"", err.message);
    c = base; c.norm_eps = (float)NAN;
    check(attnres_config_validate(&c, &err) == ATTNRES_ERR_CONFIG, "norm_eps NaN -> \"%s\"", err.message);
    c = base; c.rope_scaling.type = 7;
    check(attnres_config_validate(&c, &err) == ATTNRES_ERR_CONFIG && strstr(err.message, "rope_scaling type 7"),
          "rope_scaling type 7 -> \"%s\"", err.message);
    c = base; c.rope_scaling.type = ATTNRES_ROPE_LINEAR; c.rope_scaling.factor = (float)NAN;
    check(attnres_config_validate(&c, &err) == ATTNRES_ERR_CONFIG && strstr(err.message, "rope_scaling.factor"),
          "linear rope_scaling with factor NaN -> \"%s\"", err.message);
    c = base; c.n_eos = ATTNRES_MAX_EOS + 1;
    check(attnres_config_validate(&c, &err) == ATTNRES_ERR_CONFIG && strstr(err.message, "n_eos"),
          "n_eos past ATTNRES_MAX_EOS -> \"%s\"", err.message);
    c = base; c.residual = ATTNRES_RESIDUAL_STANDARD;
    check(attnres_config_validate(&c, &err) == ATTNRES_ERR_CONFIG && strstr(err.message, "block_size"),
          "standard with block_size 3 -> \"%s\"", err.message);
    c = base; c.block_size = 2 * c.n_layers;
    check(attnres_config_validate(&c, &err) == ATTNRES_OK, "block_size = L is valid");
    /* the largest valid sizes: far too big to allocate, which must be NOMEM */
    c = base;
    c.dim = 65536; c.hidden_dim = 262144; c.n_layers = 1024; c.n_heads = 256; c.n_kv_heads = 256;
    c.vocab_size = 1 << 22; c.seq_len = 1 << 20; c.block_size = 1;
    live_allocs = 0;
    rc = attnres_model_init(&m, &c, &err);
    check(rc == ATTNRES_ERR_NOMEM && m.memory == NULL && live_allocs == 0,
          "model_init at the size limits -> %s: \"%s\"", attnres_status_name(rc), err.message);
    rc = attnres_state_init(&s, &c, &err);
    check(rc == ATTNRES_ERR_NOMEM && s.memory == NULL && live_allocs == 0,
          "state_init at the size limits -> %s: \"%s\"", attnres_status_name(rc), err.message);
    c = base; c.seq_len = 1 << 20; c.n_layers = 1024; c.block_size = 1;   /* a 275 GB KV-cache */
    rc = attnres_state_init(&s, &c, &err);
    check(rc == ATTNRES_ERR_NOMEM && live_allocs == 0, "state_init with a 275 GB KV-cache -> %s: \"%s\"",
          attnres_status_name(rc), err.message);
}

/* ------------------------------------------------------------------------ */
/* What messages quote: control bytes escaped, long paths shortened         */
/* ------------------------------------------------------------------------ */

/* No byte a terminal would act on: C0 controls, DEL, UTF-8 C1 controls. */
static int message_is_inert(const char *msg) {
    const unsigned char *p = (const unsigned char *)msg;
    for (; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) return 0;
    return 1;
}

static void expect_inert(const edit *e, int code, const char *escaped, const char *what) {
    attnres_model m;
    attnres_error err;
    int rc;
    if (!rewrite(BASE_MODEL, TMP_PATH, e)) { check(0, "%s: cannot rewrite %s", what, BASE_MODEL); return; }
    rc = attnres_model_load(&m, TMP_PATH, &err);
    if (rc == ATTNRES_OK) attnres_model_free(&m);
    check(rc == code && message_is_inert(err.message) && strstr(err.message, escaped) != NULL,
          "%s -> %s, quoted escaped: \"%s\"", what, attnres_status_name(rc), err.message);
}

static void test_message_escaping(void) {
    edit e;
    char out[64];
    memset(&e, 0, sizeof e);
    e.extra = "x\\u001b]0;pwned\\u0007\\r\\nok   fake line";
    expect_inert(&e, ATTNRES_ERR_SHAPE, "x\\x1b]0;pwned\\x07\\x0d\\x0aok", "tensor name with ESC, BEL, CR, LF");
    memset(&e, 0, sizeof e);
    e.meta_key = "residual"; e.meta_value = "\\u001b[2J\\u009b31m\\u007f";
    expect_inert(&e, ATTNRES_ERR_CONFIG, "\\x1b[2J\\xc2\\x9b31m\\x7f", "metadata value with ESC, C1 CSI, DEL");
    attnres_escape(out, sizeof out, "caf\xc3\xa9 \xe2\x82\xac ok");
    check(strcmp(out, "caf\xc3\xa9 \xe2\x82\xac ok") == 0, "escape: valid UTF-8 text passes unchanged");
    attnres_escape(out, sizeof out, "a\xff\xc3(\xe0\x80\xaf");
    check(strcmp(out, "a\\xff\\xc3(\\xe0\\x80\\xaf") == 0, "escape: invalid and overlong UTF-8 as \\xNN: \"%s\"", out);
    attnres_escape(out, 8, "\x1b\x1b\x1b");
    check(strcmp(out, "\\x1b") == 0, "escape: cut to fit, never half an escape: \"%s\"", out);
}

/* A path of 300 bytes must not push the reason out of the 256-byte message. */
static void test_long_path(void) {
    char dir[1400], path[1500], cmd[1600];
    attnres_model m;
    attnres_error err;
    unsigned char small[12] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    int rc, i;
    snprintf(dir, sizeof dir, "%s.d", TMP_PATH);
    for (i = 0; i < 5; i++) strcat(dir, "/a_rather_long_directory_name_that_keeps_going_on_");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) { check(0, "mkdir %s", dir); return; }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_file(path, small, sizeof small);
    rc = attnres_model_load(&m, path, &err);
    check(rc == ATTNRES_ERR_FORMAT && strstr(err.message, "header length") && strstr(err.message, "...") &&
          strstr(err.message, "model.safetensors:"), "a %zu-byte path: the reason survives: \"%s\"",
          strlen(path), err.message);
    remove(path);
    snprintf(cmd, sizeof cmd, "rm -r '%s.d'", TMP_PATH);
    if (system(cmd) != 0) check(0, "rm %s.d", TMP_PATH);
}

/* Devices and procfs files report a size of 0 and then read on. */
static void test_special_files(void) {
    static const char *paths[] = {"/dev/zero", "/proc/self/status", "/dev/urandom"};
    int i;
    for (i = 0; i < 3; i++) {
        FILE *fp = fopen(paths[i], "rb");
        if (!fp) { printf("skip %s: not on this system\n", paths[i]); continue; }
        fclose(fp);
        expect_load_error(paths[i], ATTNRES_ERR_IO, "not a regular file", paths[i], 1);
    }
}

int main(int argc, char **argv) {
    if (argc > 0 && strlen(argv[0]) + 20 < sizeof tmp_path)
        snprintf(tmp_path, sizeof tmp_path, "%s.tmp.safetensors", argv[0]);
    test_files();
    test_load_memory();
    test_bad_headers();
    test_hostile_json();
    test_header_limit();
    test_long_name();
    test_truncations();
    test_edits();
    test_format2_edits();
    test_q8_edits();
    test_w8a8_edits();
    test_rope_edits();
    test_forward_errors();
    test_sampler_errors();
    test_read_counts();
    test_null_err();
    test_free_twice();
    test_uninitialised();
    test_prefill_errors();
    test_configs();
    test_allocation_failures();
    test_message_escaping();
    test_long_path();
    test_special_files();
    remove(TMP_PATH);
    return check_summary("test_errors");
}
