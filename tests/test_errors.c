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
#define TMP_PATH "build/test_errors.tmp.safetensors"

void *counting_malloc(size_t n) {
    void *p;
    if (alloc_calls++ == fail_alloc_at) return NULL;
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
    raw_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "outside", "begin after end");
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

/* Every prefix of a real checkpoint: all of the header, then a spread of
   points through the data. All must fail cleanly (FORMAT), none may leak. */
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
    for (cut = 0; cut < size; cut += cut < header_end + 16 ? 1 : size / 97 + 1) {
        write_file(TMP_PATH, bytes, (size_t)cut);
        good += expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, "", "truncated", 0);
        tried++;
    }
    write_file(TMP_PATH, bytes, (size_t)size - 1);
    good += expect_load_error(TMP_PATH, ATTNRES_ERR_FORMAT, "", "truncated", 0);
    tried++;
    check(tried > 100 && good == tried, "truncated checkpoint: %d of %d prefixes rejected as malformed, no leaks", good, tried);
    free(bytes);
}

/* ------------------------------------------------------------------------ */
/* A real checkpoint rewritten with one thing wrong                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *meta_key, *meta_value; /* set one metadata entry (value NULL: drop it) */
    const char *drop;                  /* leave this tensor out                        */
    const char *extra;                 /* add a [4] F32 tensor of this name            */
    const char *swap_dims;             /* declare this 2-D tensor transposed           */
    const char *as_f16;                /* declare this 2-D tensor F16 [rows, 2*cols]   */
    const char *poison;                /* write a NaN into this tensor                 */
} edit;

static size_t append(char *dst, size_t at, size_t cap, const char *text) {
    size_t n = strlen(text);
    if (at + n < cap) memcpy(dst + at, text, n + 1);
    return at + n;
}

static int rewrite(const char *src_path, const char *dst_path, const edit *e) {
    attnres_st_file src;
    attnres_error err;
    size_t cap = 1 << 20, hl = 0, data_len = 0, i, at;
    char *header = malloc(cap), piece[512];
    unsigned char *out;
    int t, ok;
    if (attnres_st_open(&src, src_path, &err) != ATTNRES_OK) { free(header); return 0; }
    out = malloc(src.n_bytes + cap);
    hl = append(header, hl, cap, "{\"__metadata__\":{");
    for (i = 0, at = 0; i < (size_t)src.n_meta; i++) {
        const char *value = src.meta[i].value;
        if (e->meta_key && strcmp(src.meta[i].key, e->meta_key) == 0) value = e->meta_value;
        if (!value) continue;
        snprintf(piece, sizeof piece, "%s\"%s\":\"%s\"", at++ ? "," : "", src.meta[i].key, value);
        hl = append(header, hl, cap, piece);
    }
    hl = append(header, hl, cap, "}");
    for (t = 0; t < src.n_tensors; t++) {
        const attnres_st_tensor *x = &src.tensors[t];
        int swap = e->swap_dims && strcmp(x->name, e->swap_dims) == 0;
        int f16 = e->as_f16 && strcmp(x->name, e->as_f16) == 0;
        if (e->drop && strcmp(x->name, e->drop) == 0) continue;
        memcpy(out + 8 + cap + data_len, x->data, (size_t)x->nbytes);
        if (e->poison && strcmp(x->name, e->poison) == 0) {
            float nan_value = (float)NAN;
            memcpy(out + 8 + cap + data_len + 4, &nan_value, 4);
        }
        if (x->ndim == 2)
            snprintf(piece, sizeof piece, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu,%llu],\"data_offsets\":[%zu,%zu]}",
                     x->name, f16 ? "F16" : x->dtype_name,
                     (unsigned long long)(swap ? x->shape[1] : x->shape[0]),
                     (unsigned long long)(swap ? x->shape[0] : f16 ? 2 * x->shape[1] : x->shape[1]),
                     data_len, data_len + (size_t)x->nbytes);
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
    attnres_st_close(&src);
    return ok;
}

static void edit_case(const edit *e, int code, const char *word, const char *what) {
    if (!rewrite(BASE_MODEL, TMP_PATH, e)) { check(0, "%s: cannot rewrite %s", what, BASE_MODEL); return; }
    expect_load_error(TMP_PATH, code, word, what, 1);
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
    edit_case(META("format_version", "2"), ATTNRES_ERR_FORMAT, "format_version", "future format version");
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

int main(void) {
    test_files();
    test_bad_headers();
    test_truncations();
    test_edits();
    test_forward_errors();
    test_sampler_errors();
    test_allocation_failures();
    remove(TMP_PATH);
    return check_summary("test_errors");
}
