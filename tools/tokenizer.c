/* tokenizer.c - BPE from tokenizer.json (byte-level, or SentencePiece-style)
   and llama2.c's tokenizer.bin. See tokenizer.h for what is supported. Read
   top to bottom: errors and files, UTF-8, Unicode classes and NFC, a string
   -> int hash map, a small JSON reader, loading both formats, the
   pre-tokenizer patterns, encoding, decoding. C99, no dependencies beyond
   the C library. */
#include "tokenizer.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_unicode.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/stat.h>   /* to tell a directory or a device from a file */
#define TOK_HAVE_STAT 1
#endif

#define TOK_MAX_FILE   ((size_t)1 << 30)   /* 1 GiB: far above any real tokenizer  */
#define TOK_MAX_ID     (1 << 22)           /* ids beyond this are refused           */
#define TOK_MAX_DEPTH  64                  /* JSON nesting                          */
#define TOK_MAX_TEXT   (1 << 29)           /* bytes one encode call takes            */

/* ======================================================================== */
/* Errors and files                                                          */
/* ======================================================================== */

static int tok__fail(char *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, ATTNRES_TOK_ERRLEN, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Grows *p (of elements of size bytes) to hold need; 0 if out of memory. */
static int tok__grow(void **p, size_t *cap, size_t need, size_t size) {
    void *q;
    if (need <= *cap) return 1;
    if (need < 2 * *cap && *cap < (size_t)-1 / 2) need = 2 * *cap;
    if (need > (size_t)-1 / size || !(q = realloc(*p, need * size))) return 0;   /* too big for size_t: no memory */
    *p = q;
    *cap = need;
    return 1;
}

/* The whole file, NUL-terminated, in *out (malloc'd); *n its length. A
   directory or a device is refused by name: fopen opens a directory on
   Linux, which then reports a size of 2^63 - 1, and /dev/zero one of 0. */
static int tok__read_file(const char *path, unsigned char **out, size_t *n, char *err) {
    FILE *f;
    long size;
    unsigned char *buf;
#ifdef TOK_HAVE_STAT
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return tok__fail(err, ATTNRES_TOK_ERR_IO, "%s is a directory, not a tokenizer file (give its tokenizer.json)", path);
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return tok__fail(err, ATTNRES_TOK_ERR_IO, "%s is a device, pipe or socket, not a tokenizer file", path);
#endif
    if (!(f = fopen(path, "rb"))) return tok__fail(err, ATTNRES_TOK_ERR_IO, "%s: cannot open", path);
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return tok__fail(err, ATTNRES_TOK_ERR_IO, "%s: cannot find its size", path);
    }
    if ((size_t)size > TOK_MAX_FILE) {
        fclose(f);
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "%s: %ld bytes, more than any tokenizer (limit 1 GiB)", path, size);
    }
    if (!(buf = (unsigned char *)malloc((size_t)size + 1))) {
        fclose(f);
        return tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "%s: cannot allocate %ld bytes", path, size);
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(buf);
        return tok__fail(err, ATTNRES_TOK_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    buf[size] = 0;
    *out = buf;
    *n = (size_t)size;
    return ATTNRES_TOK_OK;
}

/* ======================================================================== */
/* UTF-8 and Unicode classes                                                 */
/* ======================================================================== */

#define TOK_INVALID 0xFFFFFFFFu   /* an invalid byte, taken on its own */

/* Decodes the character at s[i] (i < n): returns its length in bytes and
   sets *cp; an invalid or truncated sequence is one byte, *cp TOK_INVALID. */
static size_t tok__utf8(const unsigned char *s, size_t n, size_t i, unsigned *cp) {
    unsigned c = s[i], v;
    size_t len, k;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; }
    else { *cp = TOK_INVALID; return 1; }
    if (i + len > n) { *cp = TOK_INVALID; return 1; }
    for (k = 1; k < len; k++) {
        if ((s[i + k] & 0xC0) != 0x80) { *cp = TOK_INVALID; return 1; }
        v = (v << 6) | (s[i + k] & 0x3Fu);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = TOK_INVALID;
        return 1;
    }
    *cp = v;
    return len;
}

/* Writes cp as UTF-8 into out (4 bytes room); returns the length. */
static size_t tok__put_utf8(unsigned char *out, unsigned cp) {
    if (cp < 0x80) { out[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { out[0] = (unsigned char)(0xC0 | (cp >> 6)); out[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12)); out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18)); out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int tok__in(const unsigned int (*r)[2], size_t n, unsigned cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid][0]) hi = mid;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}
#define TOK_N(a) (sizeof(a) / sizeof((a)[0]))
static int tok__is_letter(unsigned cp) { return cp != TOK_INVALID && tok__in(TOK_LETTER, TOK_N(TOK_LETTER), cp); }
static int tok__is_number(unsigned cp) { return cp != TOK_INVALID && tok__in(TOK_NUMBER, TOK_N(TOK_NUMBER), cp); }
static int tok__is_space(unsigned cp)  { return cp != TOK_INVALID && tok__in(TOK_SPACE, TOK_N(TOK_SPACE), cp); }
/* [^\s\p{L}\p{N}]: punctuation, symbols, marks, controls, invalid bytes */
static int tok__is_other(unsigned cp)  { return !tok__is_letter(cp) && !tok__is_number(cp) && !tok__is_space(cp); }

/* ---- NFC (Unicode's canonical decomposition, then canonical composition) */

#define TOK_RAW_BYTE 0x110000u   /* + b: an invalid byte b, kept as it is */

enum { TOK_HANGUL_S = 0xAC00, TOK_HANGUL_L = 0x1100, TOK_HANGUL_V = 0x1161, TOK_HANGUL_T = 0x11A7,
       TOK_HANGUL_NV = 21, TOK_HANGUL_NT = 28, TOK_HANGUL_COUNT = 11172 };

static unsigned tok__ccc(unsigned cp) {   /* canonical combining class */
    size_t lo = 0, hi = TOK_N(TOK_CCC);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < TOK_CCC[mid][0]) hi = mid;
        else if (cp > TOK_CCC[mid][1]) lo = mid + 1;
        else return TOK_CCC[mid][2];
    }
    return 0;
}

/* Appends the full canonical decomposition of cp to cps[*m] (room for
   TOK_NFC_MAX_DECOMP more). A Hangul syllable is L V or L V T jamo. */
static void tok__decompose(unsigned cp, unsigned *cps, size_t *m) {
    size_t lo = 0, hi = TOK_N(TOK_DECOMP);
    if (cp >= TOK_HANGUL_S && cp < TOK_HANGUL_S + TOK_HANGUL_COUNT) {
        unsigned s = cp - TOK_HANGUL_S;
        cps[(*m)++] = TOK_HANGUL_L + s / (TOK_HANGUL_NV * TOK_HANGUL_NT);
        cps[(*m)++] = TOK_HANGUL_V + s % (TOK_HANGUL_NV * TOK_HANGUL_NT) / TOK_HANGUL_NT;
        if (s % TOK_HANGUL_NT) cps[(*m)++] = TOK_HANGUL_T + s % TOK_HANGUL_NT;
        return;
    }
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < TOK_DECOMP[mid][0]) hi = mid;
        else if (cp > TOK_DECOMP[mid][0]) lo = mid + 1;
        else {
            tok__decompose(TOK_DECOMP[mid][1], cps, m);
            if (TOK_DECOMP[mid][2]) tok__decompose(TOK_DECOMP[mid][2], cps, m);
            return;
        }
    }
    cps[(*m)++] = cp;
}

/* The primary composite of a and b, or 0. */
static unsigned tok__compose(unsigned a, unsigned b) {
    size_t lo = 0, hi = TOK_N(TOK_COMPOSE);
    if (a >= TOK_HANGUL_L && a < TOK_HANGUL_L + 19 && b >= TOK_HANGUL_V && b < TOK_HANGUL_V + TOK_HANGUL_NV)
        return TOK_HANGUL_S + ((a - TOK_HANGUL_L) * TOK_HANGUL_NV + (b - TOK_HANGUL_V)) * TOK_HANGUL_NT;
    if (a >= TOK_HANGUL_S && a < TOK_HANGUL_S + TOK_HANGUL_COUNT && (a - TOK_HANGUL_S) % TOK_HANGUL_NT == 0 &&
        b > TOK_HANGUL_T && b < TOK_HANGUL_T + TOK_HANGUL_NT)
        return a + (b - TOK_HANGUL_T);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a < TOK_COMPOSE[mid][0] || (a == TOK_COMPOSE[mid][0] && b < TOK_COMPOSE[mid][1])) hi = mid;
        else if (a > TOK_COMPOSE[mid][0] || b > TOK_COMPOSE[mid][1]) lo = mid + 1;
        else return TOK_COMPOSE[mid][2];
    }
    return 0;
}

/* Canonical ordering: every run of non-starters (marks) sorted by
   combining class, stably. cls[m] and tmp[m] are scratch. A short run (a few
   marks, as in real text) by insertion; a long one by counting its classes,
   so that a hostile run of a million marks takes linear time too. */
static void tok__canonical_order(unsigned *cps, unsigned *cls, unsigned *tmp, size_t m) {
    size_t i, j, k, at[257];
    for (i = 0; i < m; i++) cls[i] = cps[i] >= TOK_RAW_BYTE ? 0 : tok__ccc(cps[i]);
    for (i = 0; i < m; i = j) {
        for (j = i; j < m && cls[j] != 0; j++) {}   /* the run of marks [i, j) */
        if (j == i) { j++; continue; }
        if (j - i <= 16) {
            for (k = i + 1; k < j; k++) {
                unsigned c = cps[k], cc = cls[k];
                size_t q;
                for (q = k; q > i && cls[q - 1] > cc; q--) { cps[q] = cps[q - 1]; cls[q] = cls[q - 1]; }
                cps[q] = c;
                cls[q] = cc;
            }
            continue;
        }
        memset(at, 0, sizeof at);
        for (k = i; k < j; k++) at[cls[k] + 1]++;
        for (k = 1; k < 257; k++) at[k] += at[k - 1];   /* at[c]: where class c starts */
        for (k = i; k < j; k++) tmp[at[cls[k]]++] = cps[k];
        memcpy(cps + i, tmp, (j - i) * sizeof(unsigned));
    }
}

/* Canonical composition of cps[m] in place (Unicode's algorithm, chapter
   3.11): a mark joins the last starter unless a mark of the same or a
   higher class stands between them. Returns the new length. */
static size_t tok__compose_all(unsigned *cps, size_t m) {
    size_t starter = 0, out = 1, i;
    unsigned last;
    if (m == 0) return 0;
    last = cps[0] >= TOK_RAW_BYTE ? 0 : tok__ccc(cps[0]);
    if (last != 0) last = 256;   /* text that starts with a mark: nothing to join */
    for (i = 1; i < m; i++) {
        unsigned c = cps[i], cc = c >= TOK_RAW_BYTE ? 0 : tok__ccc(c);
        unsigned comp = cps[starter] >= TOK_RAW_BYTE || c >= TOK_RAW_BYTE ? 0 : tok__compose(cps[starter], c);
        if (comp && (last < cc || last == 0)) {
            cps[starter] = comp;
            continue;
        }
        if (cc == 0) starter = out;
        last = cc;
        cps[out++] = c;
    }
    return out;
}

size_t attnres_tok_utf8_ready(const char *buf, size_t len) {
    const unsigned char *s = (const unsigned char *)buf;
    size_t start = len, need;
    /* the last lead byte within 3 bytes of the end: is its sequence cut short? */
    while (start > 0 && len - start < 4) {
        unsigned c = s[--start];
        if ((c & 0xC0) != 0x80) {
            need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
            return len - start < need ? start : len;
        }
    }
    return len;
}

/* ======================================================================== */
/* A string -> int hash map (open addressing, FNV-1a); keys are not copied   */
/* ======================================================================== */

typedef struct { const char *key; int len; int value; } tok__slot;
typedef struct { tok__slot *slots; size_t cap, count; } tok__map;

static uint32_t tok__hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 16777619u; }
    return h;
}

static int tok__map_init(tok__map *m, size_t expected) {
    size_t cap = 16;
    while (cap < 2 * expected + 16) cap *= 2;
    m->slots = (tok__slot *)calloc(cap, sizeof(tok__slot));
    m->cap = cap;
    m->count = 0;
    return m->slots != NULL;
}

static tok__slot *tok__map_slot(const tok__map *m, const char *key, size_t len) {
    size_t i = tok__hash(key, len) & (m->cap - 1);
    while (m->slots[i].key && !((size_t)m->slots[i].len == len && memcmp(m->slots[i].key, key, len) == 0))
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

/* -1 if absent */
static int tok__map_get(const tok__map *m, const char *key, size_t len) {
    const tok__slot *s;
    if (!m->slots) return -1;
    s = tok__map_slot(m, key, len);
    return s->key ? s->value : -1;
}

/* Inserts (keeps the first value of a duplicate key); the table never fills:
   it was sized for the expected count, and grows past half full. */
static int tok__map_put(tok__map *m, const char *key, size_t len, int value) {
    tok__slot *s;
    if (2 * (m->count + 1) > m->cap) {
        tok__map bigger;
        size_t i;
        if (!tok__map_init(&bigger, m->cap)) return 0;
        for (i = 0; i < m->cap; i++)
            if (m->slots[i].key) *tok__map_slot(&bigger, m->slots[i].key, (size_t)m->slots[i].len) = m->slots[i];
        bigger.count = m->count;
        free(m->slots);
        *m = bigger;
    }
    s = tok__map_slot(m, key, len);
    if (!s->key) { s->key = key; s->len = (int)len; s->value = value; m->count++; }
    return 1;
}

/* ======================================================================== */
/* JSON: a tree of nodes over the file, strings decoded in place            */
/* ======================================================================== */

/* A file of small numbers ("[0,0,0,...]") has a value every two bytes, so
   the node is kept to 16 bytes, and the nodes are counted before they are
   allocated: the tree takes at most 8 times the file's size. Strings are
   decoded where they stand in the file (a decoded string is never longer
   than its JSON form) and NUL-terminated there, so a string may not hold
   \u0000 (no tokenizer's does). A number is kept only as an int. */
enum { TOK_J_NULL, TOK_J_BOOL, TOK_J_NUM, TOK_J_STR, TOK_J_ARR, TOK_J_OBJ };

typedef struct {
    int next;                 /* next sibling, -1 for none                         */
    unsigned key;             /* member name: its offset in the file + 1; 0: none  */
    int val;                  /* ARR/OBJ: first child or -1; STR: offset in the
                                 file; NUM: the value if is_int; BOOL: 0 or 1      */
    unsigned char type;       /* TOK_J_*                                           */
    unsigned char is_int;     /* NUM: an integer that fits in an int               */
} tok__node;

typedef struct {
    unsigned char *p, *end, *start;
    tok__node *nodes;
    int n_nodes, cap_nodes;
    char *err;
} tok__json;

static int tok__jfail(tok__json *j, const char *what) {
    if (j->p >= j->end)
        return tok__fail(j->err, ATTNRES_TOK_ERR_FORMAT, "JSON ends early (truncated file?): %s at byte %ld",
                         what, (long)(j->p - j->start));
    return tok__fail(j->err, ATTNRES_TOK_ERR_FORMAT, "JSON: %s at byte %ld", what, (long)(j->p - j->start));
}

static void tok__jws(tok__json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

/* At most how many values the JSON text holds: the root, plus one per '['
   or '{' (a first element) and one per ',' outside strings. */
static size_t tok__jcount(const unsigned char *p, const unsigned char *end) {
    size_t n = 1;
    int in_string = 0;
    for (; p < end; p++) {
        if (in_string) {
            if (*p == '\\' && p + 1 < end) p++;
            else if (*p == '"') in_string = 0;
        } else if (*p == '"') in_string = 1;
        else if (*p == '[' || *p == '{' || *p == ',') n++;
    }
    return n;
}

static int tok__jnew(tok__json *j, int type) {
    if (j->n_nodes == j->cap_nodes) return -1;   /* cannot happen: tok__jcount bounds the count */
    memset(&j->nodes[j->n_nodes], 0, sizeof(tok__node));
    j->nodes[j->n_nodes].type = (unsigned char)type;
    j->nodes[j->n_nodes].val = type == TOK_J_ARR || type == TOK_J_OBJ ? -1 : 0;
    j->nodes[j->n_nodes].next = -1;
    return j->n_nodes++;
}

static int tok__hex4(const unsigned char *p, unsigned *v) {
    int k;
    *v = 0;
    for (k = 0; k < 4; k++) {
        unsigned c = p[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        *v = *v * 16 + d;
    }
    return 1;
}

/* Decodes the JSON string at j->p (the opening quote) in place; *out gets
   its offset in the file. */
static int tok__jstring(tok__json *j, unsigned *out) {
    char *dst = (char *)j->p + 1;
    size_t n = 0;
    j->p++;
    for (;;) {
        unsigned c;
        if (j->p >= j->end) return tok__jfail(j, "unterminated string");
        c = *j->p++;
        if (c == '"') break;
        if (c < 0x20) return tok__jfail(j, "control character inside a string");
        if (c != '\\') { dst[n++] = (char)c; continue; }
        if (j->p >= j->end) return tok__jfail(j, "unterminated escape");
        c = *j->p++;
        switch (c) {
        case '"': case '\\': case '/': dst[n++] = (char)c; break;
        case 'b': dst[n++] = '\b'; break;
        case 'f': dst[n++] = '\f'; break;
        case 'n': dst[n++] = '\n'; break;
        case 'r': dst[n++] = '\r'; break;
        case 't': dst[n++] = '\t'; break;
        case 'u': {
            unsigned v, lo;
            if (j->end - j->p < 4 || !tok__hex4(j->p, &v)) return tok__jfail(j, "bad \\u escape");
            j->p += 4;
            if (v >= 0xD800 && v <= 0xDBFF) {   /* a surrogate pair */
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || !tok__hex4(j->p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return tok__jfail(j, "unpaired surrogate in a \\u escape");
                j->p += 6;
                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
            } else if (v >= 0xDC00 && v <= 0xDFFF) {
                return tok__jfail(j, "unpaired surrogate in a \\u escape");
            } else if (v == 0) {
                return tok__jfail(j, "\\u0000 inside a string (not supported)");
            }
            n += tok__put_utf8((unsigned char *)dst + n, v);
            break;
        }
        default: return tok__jfail(j, "unknown escape in a string");
        }
    }
    dst[n] = '\0';   /* at most where the closing quote was */
    *out = (unsigned)(dst - (char *)j->start);
    return ATTNRES_TOK_OK;
}

static int tok__jvalue(tok__json *j, int depth, int *out);

/* An array or object at j->p; children are linked in order. */
static int tok__jcontainer(tok__json *j, int depth, int *out) {
    int is_obj = *j->p == '{', self, last = -1, rc;
    char close = is_obj ? '}' : ']';
    if (depth >= TOK_MAX_DEPTH) return tok__jfail(j, "nesting too deep");
    if ((self = tok__jnew(j, is_obj ? TOK_J_OBJ : TOK_J_ARR)) < 0)
        return tok__fail(j->err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
    j->p++;
    tok__jws(j);
    if (j->p < j->end && *j->p == close) { j->p++; *out = self; return ATTNRES_TOK_OK; }
    for (;;) {
        unsigned key = 0;
        int child;
        tok__jws(j);
        if (is_obj) {
            if (j->p >= j->end || *j->p != '"') return tok__jfail(j, "expected a member name");
            if ((rc = tok__jstring(j, &key)) != ATTNRES_TOK_OK) return rc;
            key++;   /* 0 stands for none */
            tok__jws(j);
            if (j->p >= j->end || *j->p != ':') return tok__jfail(j, "expected ':'");
            j->p++;
        }
        if ((rc = tok__jvalue(j, depth + 1, &child)) != ATTNRES_TOK_OK) return rc;
        j->nodes[child].key = key;
        if (last < 0) j->nodes[self].val = child;
        else j->nodes[last].next = child;
        last = child;
        tok__jws(j);
        if (j->p < j->end && *j->p == ',') { j->p++; continue; }
        if (j->p < j->end && *j->p == close) { j->p++; break; }
        return tok__jfail(j, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    *out = self;
    return ATTNRES_TOK_OK;
}

static int tok__jvalue(tok__json *j, int depth, int *out) {
    int self, rc;
    tok__jws(j);
    if (j->p >= j->end) return tok__jfail(j, "unexpected end of file");
    if (*j->p == '{' || *j->p == '[') return tok__jcontainer(j, depth, out);
    if (*j->p == '"') {
        if ((self = tok__jnew(j, TOK_J_STR)) < 0) return tok__fail(j->err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
        if ((rc = tok__jstring(j, (unsigned *)&j->nodes[self].val)) != ATTNRES_TOK_OK) return rc;
        *out = self;
        return ATTNRES_TOK_OK;
    }
    if ((size_t)(j->end - j->p) >= 4 && memcmp(j->p, "null", 4) == 0) { j->p += 4; self = tok__jnew(j, TOK_J_NULL); }
    else if ((size_t)(j->end - j->p) >= 4 && memcmp(j->p, "true", 4) == 0) {
        j->p += 4;
        if ((self = tok__jnew(j, TOK_J_BOOL)) >= 0) j->nodes[self].val = 1;
    } else if ((size_t)(j->end - j->p) >= 5 && memcmp(j->p, "false", 5) == 0) { j->p += 5; self = tok__jnew(j, TOK_J_BOOL); }
    else if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
        char buf[64];
        size_t n = 0;
        while (j->p < j->end && n < sizeof buf - 1 && *j->p && strchr("+-0123456789.eE", *j->p)) buf[n++] = (char)*j->p++;
        buf[n] = '\0';
        if ((self = tok__jnew(j, TOK_J_NUM)) >= 0) {
            char *end;
            double v = strtod(buf, &end);
            if (*end) return tok__jfail(j, "bad number");
            j->nodes[self].is_int = v >= -2147483647.0 && v <= 2147483647.0 && v == (int)v;
            j->nodes[self].val = j->nodes[self].is_int ? (int)v : 0;
        }
    } else {
        return tok__jfail(j, "unexpected character");
    }
    if (self < 0) return tok__fail(j->err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
    *out = self;
    return ATTNRES_TOK_OK;
}

static int tok__jtype(const tok__json *j, int node) { return node >= 0 ? j->nodes[node].type : -1; }

/* The first element or member of an array or object node; -1 if none. */
static int tok__jchild(const tok__json *j, int node) {
    return tok__jtype(j, node) == TOK_J_ARR || tok__jtype(j, node) == TOK_J_OBJ ? j->nodes[node].val : -1;
}

static int tok__jnext(const tok__json *j, int node) { return j->nodes[node].next; }

/* The member name of node (decoded, NUL-terminated), or NULL. */
static const char *tok__jkey(const tok__json *j, int node) {
    return j->nodes[node].key ? (const char *)j->start + j->nodes[node].key - 1 : NULL;
}

/* The member `name` of object node obj, or -1. */
static int tok__jget(const tok__json *j, int obj, const char *name) {
    int c;
    if (tok__jtype(j, obj) != TOK_J_OBJ) return -1;
    for (c = tok__jchild(j, obj); c >= 0; c = tok__jnext(j, c))
        if (tok__jkey(j, c) && strcmp(tok__jkey(j, c), name) == 0) return c;
    return -1;
}

/* A string node's value (decoded, NUL-terminated), or NULL. */
static const char *tok__jstr(const tok__json *j, int node) {
    return tok__jtype(j, node) == TOK_J_STR ? (const char *)j->start + j->nodes[node].val : NULL;
}

/* A number node that is an integer in [0, limit): 1 and *v, else 0. */
static int tok__jindex(const tok__json *j, int node, int limit, int *v) {
    if (tok__jtype(j, node) != TOK_J_NUM || !j->nodes[node].is_int || j->nodes[node].val < 0 || j->nodes[node].val >= limit)
        return 0;
    *v = j->nodes[node].val;
    return 1;
}

static int tok__jtrue(const tok__json *j, int node) {
    return tok__jtype(j, node) == TOK_J_BOOL && j->nodes[node].val != 0;
}

/* ======================================================================== */
/* The tokenizer                                                             */
/* ======================================================================== */

enum { TOK_BPE = 1, TOK_SPM = 2 };
/* hf_spm: a segment of text (between added tokens) gets U+2581 in front:
   Prepend normalizer: always; Metaspace prepend_scheme "always": unless it
   starts with one; "first": that, and only the segment at the text's start */
enum { TOK_PREPEND_NEVER = 0, TOK_PREPEND_NORMALIZER, TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST };
enum { TOK_PAT_GPT2 = 1, TOK_PAT_LLAMA3 = 2, TOK_PAT_QWEN2 = 3 };

struct attnres_tok {
    int kind;               /* TOK_BPE or TOK_SPM                                    */
    int pattern;            /* BPE: TOK_PAT_*                                        */
    int split_digits;       /* BPE: Digits(individual_digits) before the pattern     */
    int add_prefix_space;   /* BPE: ByteLevel add_prefix_space                       */
    int ignore_merges;      /* BPE: a pre-token that is in the vocab is one token    */
    int nfc;                /* the normalizer asks for NFC                           */
    int hf_spm;             /* SPM: a tokenizer.json (U+2581 pieces, merges by rank) */
    int prepend;            /* hf_spm: TOK_PREPEND_*: when a segment gets U+2581 first */
    int split_meta;         /* hf_spm: Metaspace(split): each U+2581 starts a word   */
    int unk, fuse_unk;      /* hf_spm: the unknown-character token (or -1); fuse runs */
    int strip_first;        /* hf_spm: the decoder drops the text's first ' ' (Strip, Metaspace) */
    int *merge_id;          /* hf_spm: [merges] the piece a merge makes, by rank     */
    int n_vocab;            /* largest id + 1                                        */
    const char **piece;     /* [n_vocab] the token's string (NULL: unused id)        */
    int *piece_len;         /* [n_vocab]                                             */
    float *score;           /* SPM: [n_vocab]                                        */
    unsigned char *added;   /* [n_vocab] 1: an added token (raw text, not byte-mapped), 2: a special one */
    int *added_ids;         /* [n_added] longest first                               */
    int n_added;
    unsigned char added_first[256]; /* 1: some added token starts with this byte    */
    int max_piece_len;      /* the longest piece in bytes (>= 1): what one token covers at most */
    tok__map vocab;         /* string -> id                                          */
    tok__map merges;        /* BPE: "a b" -> rank                                    */
    int bos, eos;
    int byte_piece[256];    /* SPM: id of <0xNN>, or -1                              */
    unsigned byte_cp[256];  /* BPE: byte -> the code point that stands for it        */
    int cp_byte[324];       /* BPE: code point (< 324) -> byte, or -1                */
    char kind_name[48];
    /* storage */
    unsigned char *file;
    tok__json json;
    char *merge_keys;       /* BPE merges given as pairs: "a b" strings built here   */
};

int attnres_tok_vocab_size(const attnres_tok *t) { return t->n_vocab; }
int attnres_tok_bos(const attnres_tok *t) { return t->bos; }
int attnres_tok_eos(const attnres_tok *t) { return t->eos; }
int attnres_tok_is_special(const attnres_tok *t, int id) {
    return id >= 0 && id < t->n_vocab && (id == t->bos || id == t->eos || t->added[id] == 2);
}
const char *attnres_tok_kind(const attnres_tok *t) { return t->kind_name; }

void attnres_tok_free(attnres_tok *t) {
    if (!t) return;
    free(t->piece); free(t->piece_len); free(t->score); free(t->added); free(t->added_ids);
    free(t->vocab.slots); free(t->merges.slots);
    free(t->file); free(t->json.nodes); free(t->merge_keys); free(t->merge_id);
    free(t);
}

static int tok__alloc_ids(attnres_tok *t, int n, char *err) {
    t->n_vocab = n;
    t->piece = (const char **)calloc((size_t)n + 1, sizeof(char *));
    t->piece_len = (int *)calloc((size_t)n + 1, sizeof(int));
    t->added = (unsigned char *)calloc((size_t)n + 1, 1);
    if (!t->piece || !t->piece_len || !t->added) return tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
    return ATTNRES_TOK_OK;
}

/* ---------------------------------------------------------------- tokenizer.bin */

/* llama2.c's tokenizer.bin: int32 max_token_length, then records of
   (float score, int32 len, len bytes) until the end of the file. */
static int tok__load_bin(attnres_tok *t, const char *path, size_t size, char *err) {
    const unsigned char *p = t->file, *end = t->file + size;
    int32_t max_len;
    int n = 0, i, rc;
    char name[8];
    if (size < 4) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "%s: %zu bytes, too short for tokenizer.bin", path, size);
    memcpy(&max_len, p, 4);
    if (max_len < 1 || max_len > 65536)
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "%s: max_token_length %d is not a tokenizer.bin's (1..65536)", path, (int)max_len);
    /* first pass: count and check the records */
    for (p += 4; p < end; n++) {
        int32_t len;
        if (end - p < 8) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "%s: token %d is cut short (truncated file?)", path, n);
        memcpy(&len, p + 4, 4);
        if (len < 0 || len > max_len)
            return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "%s: token %d has length %d, outside [0, max_token_length %d]",
                             path, n, (int)len, (int)max_len);
        if (end - p - 8 < len) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "%s: token %d is cut short (truncated file?)", path, n);
        if (n >= TOK_MAX_ID) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "%s: more than %d tokens", path, TOK_MAX_ID);
        p += 8 + len;
    }
    if (n < 3) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "%s: %d tokens; tokenizer.bin has <unk>, <s>, </s> first", path, n);
    if ((rc = tok__alloc_ids(t, n, err)) != ATTNRES_TOK_OK) return rc;
    t->score = (float *)calloc((size_t)n, sizeof(float));
    if (!t->score || !tok__map_init(&t->vocab, (size_t)n)) return tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
    /* second pass: pieces point into the file (the bytes after a piece are
       the next record's score: the pieces are not NUL-terminated) */
    p = t->file + 4;
    for (i = 0; i < n; i++) {
        int32_t len;
        memcpy(&t->score[i], p, 4);
        memcpy(&len, p + 4, 4);
        t->piece[i] = (const char *)p + 8;
        t->piece_len[i] = len;
        if (!tok__map_put(&t->vocab, t->piece[i], (size_t)len, i)) return tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
        p += 8 + len;
    }
    for (i = 0; i < 256; i++) {
        snprintf(name, sizeof name, "<0x%02X>", i);
        t->byte_piece[i] = tok__map_get(&t->vocab, name, 6);
    }
    t->kind = TOK_SPM;
    t->bos = 1;
    t->eos = 2;
    snprintf(t->kind_name, sizeof t->kind_name, "llama2.c tokenizer.bin (SentencePiece BPE)");
    return ATTNRES_TOK_OK;
}

/* ---------------------------------------------------------------- tokenizer.json */

static const char TOK_RE_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char TOK_RE_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char TOK_RE_QWEN2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* A ByteLevel pre-tokenizer node: its add_prefix_space, and whether it
   splits with the GPT-2 pattern itself (use_regex, true when absent). */
static int tok__bytelevel(attnres_tok *t, int node, int *use_regex) {
    const tok__json *j = &t->json;
    const char *type = tok__jstr(j, tok__jget(j, node, "type"));
    int ur = tok__jget(j, node, "use_regex");
    if (!type || strcmp(type, "ByteLevel") != 0) return 0;
    t->add_prefix_space = tok__jtrue(j, tok__jget(j, node, "add_prefix_space"));
    *use_regex = ur < 0 || tok__jtrue(j, ur);
    return 1;
}

/* Recognises the pre-tokenizers of GPT-2, Llama 3, Qwen2/3 and SmolLM2. */
static int tok__pretokenizer(attnres_tok *t, int node, char *err) {
    const tok__json *j = &t->json;
    const char *type = tok__jstr(j, tok__jget(j, node, "type"));
    int use_regex = 0;
    if (!type) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "no pre_tokenizer (byte-level BPE needs one)");
    if (tok__bytelevel(t, node, &use_regex) && use_regex) { t->pattern = TOK_PAT_GPT2; return ATTNRES_TOK_OK; }
    if (strcmp(type, "Sequence") == 0) {
        int list = tok__jget(j, node, "pretokenizers"), a = -1, b = -1;
        if (tok__jtype(j, list) == TOK_J_ARR) a = tok__jchild(j, list);
        if (a >= 0) b = tok__jnext(j, a);
        if (a >= 0 && b >= 0 && tok__jnext(j, b) < 0) {
            const char *ta = tok__jstr(j, tok__jget(j, a, "type"));
            if (ta && strcmp(ta, "Split") == 0 && tok__bytelevel(t, b, &use_regex) && !use_regex) {
                const char *re = tok__jstr(j, tok__jget(j, tok__jget(j, a, "pattern"), "Regex"));
                const char *behavior = tok__jstr(j, tok__jget(j, a, "behavior"));
                if (tok__jtrue(j, tok__jget(j, a, "invert")) || !behavior || strcmp(behavior, "Isolated") != 0)
                    return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "Split pre-tokenizer must be Isolated, not inverted");
                if (re && strcmp(re, TOK_RE_GPT2) == 0) t->pattern = TOK_PAT_GPT2;
                else if (re && strcmp(re, TOK_RE_LLAMA3) == 0) t->pattern = TOK_PAT_LLAMA3;
                else if (re && strcmp(re, TOK_RE_QWEN2) == 0) t->pattern = TOK_PAT_QWEN2;
                else return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "Split pattern %.60s%s is not one "
                                      "this tokenizer knows (GPT-2, Llama 3, Qwen2)", re ? re : "(none)",
                                      re && strlen(re) > 60 ? "..." : "");
                return ATTNRES_TOK_OK;
            }
            if (ta && strcmp(ta, "Digits") == 0 && tok__jtrue(j, tok__jget(j, a, "individual_digits")) &&
                tok__bytelevel(t, b, &use_regex) && use_regex) {
                t->pattern = TOK_PAT_GPT2;
                t->split_digits = 1;
                return ATTNRES_TOK_OK;
            }
        }
    }
    return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "pre_tokenizer '%s' is not supported "
                     "(ByteLevel; Split(GPT-2 / Llama 3 / Qwen2 pattern) + ByteLevel; Digits + ByteLevel)", type);
}

/* GPT-2's byte -> character map: printable bytes stand for themselves,
   the other 68 for U+0100.. in order. */
static void tok__byte_map(attnres_tok *t) {
    int b, n = 0;
    for (b = 0; b < 324; b++) t->cp_byte[b] = -1;
    for (b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        t->byte_cp[b] = printable ? (unsigned)b : 256u + (unsigned)n++;
        t->cp_byte[t->byte_cp[b]] = b;
    }
}

/* Checks added_tokens[k] (node c) as Hugging Face's library reads it: an
   object with an integer id, a string content, and booleans special,
   single_word, lstrip, rstrip, normalized (a missing one is taken as false,
   where Hugging Face refuses the file). single_word, lstrip and rstrip
   change how the token matches; they are not implemented, so true is
   refused. */
static int tok__added_token(const tok__json *j, int c, int k, int *id, char *err) {
    static const char *const flags[] = {"special", "single_word", "lstrip", "rstrip", "normalized"};
    int f;
    if (tok__jtype(j, c) != TOK_J_OBJ) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "added_tokens[%d] is not an object", k);
    if (!tok__jindex(j, tok__jget(j, c, "id"), TOK_MAX_ID, id))
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "added_tokens[%d].id is missing or not an integer in [0, %d)", k, TOK_MAX_ID);
    if (!tok__jstr(j, tok__jget(j, c, "content")))
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "added_tokens[%d].content is missing or not a string", k);
    for (f = 0; f < 5; f++) {
        int v = tok__jget(j, c, flags[f]);
        if (v >= 0 && tok__jtype(j, v) != TOK_J_BOOL)
            return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "added_tokens[%d].%s is not true or false", k, flags[f]);
        if (f >= 1 && f <= 3 && tok__jtrue(j, v))
            return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "added_tokens[%d].%s is true: not supported", k, flags[f]);
    }
    return ATTNRES_TOK_OK;
}

/* model.vocab, added_tokens: ids and pieces; the vocab map. */
static int tok__json_vocab(attnres_tok *t, int model, int root, char *err) {
    const tok__json *j = &t->json;
    int vocab = tok__jget(j, model, "vocab"), added = tok__jget(j, root, "added_tokens"), c, max_id = -1, n = 0, rc, id = 0;
    if (tok__jtype(j, vocab) != TOK_J_OBJ)
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "model.vocab is missing or not an object");
    for (c = tok__jchild(j, vocab); c >= 0; c = tok__jnext(j, c), n++) {
        if (!tok__jindex(j, c, TOK_MAX_ID, &id))
            return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "model.vocab[\"%.40s\"] is not an integer id in [0, %d)",
                             tok__jkey(j, c), TOK_MAX_ID);
        if (id > max_id) max_id = id;
    }
    if (added >= 0 && tok__jtype(j, added) != TOK_J_ARR && tok__jtype(j, added) != TOK_J_NULL)
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "added_tokens is not an array");
    for (c = tok__jtype(j, added) == TOK_J_ARR ? tok__jchild(j, added) : -1; c >= 0; c = tok__jnext(j, c), t->n_added++) {
        if ((rc = tok__added_token(j, c, t->n_added, &id, err)) != ATTNRES_TOK_OK) return rc;
        if (id > max_id) max_id = id;
    }
    if (max_id < 0) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "empty vocab");
    if ((rc = tok__alloc_ids(t, max_id + 1, err)) != ATTNRES_TOK_OK) return rc;
    t->added_ids = (int *)calloc((size_t)t->n_added + 1, sizeof(int));
    if (!t->added_ids || !tok__map_init(&t->vocab, (size_t)n + (size_t)t->n_added))
        return tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
    for (c = tok__jchild(j, vocab); c >= 0; c = tok__jnext(j, c)) {
        tok__jindex(j, c, TOK_MAX_ID, &id);
        if (t->piece[id]) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "id %d is given to two vocab entries", id);
        t->piece[id] = tok__jkey(j, c);
        t->piece_len[id] = (int)strlen(t->piece[id]);
        if (!tok__map_put(&t->vocab, t->piece[id], (size_t)t->piece_len[id], id))
            return tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
    }
    n = 0;
    for (c = tok__jtype(j, added) == TOK_J_ARR ? tok__jchild(j, added) : -1; c >= 0; c = tok__jnext(j, c)) {
        const char *content = tok__jstr(j, tok__jget(j, c, "content"));
        int k;
        tok__jindex(j, tok__jget(j, c, "id"), TOK_MAX_ID, &id);
        if (!*content) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "added token %d is empty", id);
        t->piece[id] = content;
        t->piece_len[id] = (int)strlen(content);
        t->added[id] = tok__jtrue(j, tok__jget(j, c, "special")) ? 2 : 1;
        t->added_first[(unsigned char)content[0]] = 1;
        for (k = n; k > 0 && t->piece_len[t->added_ids[k - 1]] < t->piece_len[id]; k--) t->added_ids[k] = t->added_ids[k - 1];
        t->added_ids[k] = id;   /* kept longest first: the longest match wins */
        n++;
    }
    return ATTNRES_TOK_OK;
}

/* model.merges: "a b" strings, or ["a", "b"] pairs (newer files). As in
   Hugging Face's library, a merge is exactly two tokens, and both and the
   token they make are in model.vocab; merge_id[rank] is that token. */
static int tok__json_merges(attnres_tok *t, int model, char *err) {
    const tok__json *j = &t->json;
    int merges = tok__jget(j, model, "merges"), c, rank = 0, rc = ATTNRES_TOK_OK;
    size_t need = 0, at = 0, cap_cat = 0;
    char *cat = NULL;   /* [cap_cat] "ab" of the merge at hand */
    if (tok__jtype(j, merges) != TOK_J_ARR)
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "model.merges is missing or not an array");
    for (c = tok__jchild(j, merges); c >= 0; c = tok__jnext(j, c), rank++) {
        int a = tok__jchild(j, c), b = a >= 0 ? tok__jnext(j, a) : -1;
        const char *sp = tok__jstr(j, c) ? strchr(tok__jstr(j, c), ' ') : NULL;
        if (tok__jtype(j, c) == TOK_J_STR) {
            if (!sp || strchr(sp + 1, ' '))
                return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "model.merges[%d] \"%.40s\" is not two tokens "
                                 "separated by one space", rank, tok__jstr(j, c));
            continue;
        }
        if (tok__jtype(j, c) != TOK_J_ARR || a < 0 || b < 0 || tok__jnext(j, b) >= 0 ||
            tok__jtype(j, a) != TOK_J_STR || tok__jtype(j, b) != TOK_J_STR)
            return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "model.merges[%d] is neither \"a b\" nor [\"a\", \"b\"]", rank);
        need += strlen(tok__jstr(j, a)) + strlen(tok__jstr(j, b)) + 2;
    }
    if (!tok__map_init(&t->merges, (size_t)rank) || !(t->merge_keys = (char *)malloc(need + 1)) ||
        !(t->merge_id = (int *)malloc(((size_t)rank + 1) * sizeof(int))))
        return tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
    rank = 0;
    for (c = tok__jchild(j, merges); c >= 0 && rc == ATTNRES_TOK_OK; c = tok__jnext(j, c), rank++) {
        const char *key = tok__jstr(j, c);
        size_t len, la;
        if (tok__jtype(j, c) == TOK_J_ARR) {   /* "a" "b" -> "a b" */
            const char *a = tok__jstr(j, tok__jchild(j, c)), *b = tok__jstr(j, tok__jnext(j, tok__jchild(j, c)));
            size_t lb = strlen(b);
            la = strlen(a);
            key = t->merge_keys + at;
            memcpy(t->merge_keys + at, a, la);
            t->merge_keys[at + la] = ' ';
            memcpy(t->merge_keys + at + la + 1, b, lb);
            t->merge_keys[at + la + 1 + lb] = '\0';
            at += la + lb + 2;
        } else {
            la = (size_t)(strchr(key, ' ') - key);
        }
        len = strlen(key);
        if (!tok__grow((void **)&cat, &cap_cat, len, 1) || !tok__map_put(&t->merges, key, len, rank)) {
            rc = tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(cat, key, la);
        memcpy(cat + la, key + la + 1, len - la - 1);
        if (tok__map_get(&t->vocab, key, la) < 0 || tok__map_get(&t->vocab, key + la + 1, len - la - 1) < 0 ||
            (t->merge_id[rank] = tok__map_get(&t->vocab, cat, len - 1)) < 0)
            rc = tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "model.merges[%d] \"%.40s\": %s is not in model.vocab", rank, key,
                           tok__map_get(&t->vocab, key, la) < 0 ? "its first token"
                           : tok__map_get(&t->vocab, key + la + 1, len - la - 1) < 0 ? "its second token" : "the token it makes");
    }
    free(cat);
    return rc;
}

/* The id of the token whose text is name: a vocab entry or an added token
   (Llama 3's specials exist only in added_tokens); -1 if none. */
static int tok__token_named(const attnres_tok *t, const char *name) {
    int id = tok__map_get(&t->vocab, name, strlen(name)), k;
    for (k = 0; id < 0 && k < t->n_added; k++)
        if ((size_t)t->piece_len[t->added_ids[k]] == strlen(name) && memcmp(t->piece[t->added_ids[k]], name, strlen(name)) == 0)
            id = t->added_ids[k];
    return id;
}

/* The TemplateProcessing node of the post-processor: the processor itself,
   or the first one of a Sequence (Llama 3: ByteLevel, then the template). */
static int tok__template(const tok__json *j, int post) {
    const char *type = tok__jstr(j, tok__jget(j, post, "type"));
    int list = tok__jget(j, post, "processors"), c;
    if (type && strcmp(type, "TemplateProcessing") == 0) return post;
    if (!type || strcmp(type, "Sequence") != 0 || tok__jtype(j, list) != TOK_J_ARR) return -1;
    for (c = tok__jchild(j, list); c >= 0; c = tok__jnext(j, c))
        if ((type = tok__jstr(j, tok__jget(j, c, "type"))) && strcmp(type, "TemplateProcessing") == 0) return c;
    return -1;
}

/* BOS and EOS. The single template reads e.g. [<|begin_of_text|>, $A] or
   [<s>, $A, </s>]: BOS is a special token before the text, EOS one after it.
   Without one after it, EOS is the added token that ends a document in
   GPT-2, Qwen2, SmolLM2 (<|endoftext|>) or Llama 3 (<|end_of_text|>), if
   the file has it. Chat turn ends (<|eot_id|>, <|im_end|>) are not EOS here. */
static void tok__json_bos_eos(attnres_tok *t, int root) {
    static const char *const doc_end[] = {"<|endoftext|>", "<|end_of_text|>"};
    const tok__json *j = &t->json;
    int single = tok__jget(j, tok__template(j, tok__jget(j, root, "post_processor")), "single"), c, seen_text = 0, k;
    t->bos = t->eos = -1;
    if (tok__jtype(j, single) == TOK_J_ARR)
        for (c = tok__jchild(j, single); c >= 0; c = tok__jnext(j, c)) {
            const char *name = tok__jstr(j, tok__jget(j, tok__jget(j, c, "SpecialToken"), "id"));
            if (tok__jget(j, c, "Sequence") >= 0) seen_text = 1;
            else if (name && !seen_text && t->bos < 0 && c == tok__jchild(j, single)) t->bos = tok__token_named(t, name);
            else if (name && seen_text && t->eos < 0) t->eos = tok__token_named(t, name);
        }
    for (k = 0; k < 2 && t->eos < 0; k++) t->eos = tok__token_named(t, doc_end[k]);
}

/* The normalizer: none, NFC, or (SentencePiece style) Prepend(U+2581)
   then Replace(' ' -> U+2581), alone or in a Sequence. *replace: the
   Replace is there. Any other normalizer is refused by its type. */
static int tok__normalizer(attnres_tok *t, int node, int *replace, char *err) {
    const tok__json *j = &t->json;
    const char *type = tok__jstr(j, tok__jget(j, node, "type"));
    int list = tok__jget(j, node, "normalizers"), c, single = 1;
    if (node < 0 || tok__jtype(j, node) == TOK_J_NULL) return ATTNRES_TOK_OK;
    if (type && strcmp(type, "Sequence") == 0 && tok__jtype(j, list) == TOK_J_ARR) { c = tok__jchild(j, list); single = 0; }
    else c = node;
    for (; c >= 0; c = single ? -1 : tok__jnext(j, c)) {
        const char *ty = tok__jstr(j, tok__jget(j, c, "type"));
        const char *pre = tok__jstr(j, tok__jget(j, c, "prepend"));
        const char *from = tok__jstr(j, tok__jget(j, tok__jget(j, c, "pattern"), "String"));
        const char *to = tok__jstr(j, tok__jget(j, c, "content"));
        if (ty && strcmp(ty, "NFC") == 0) t->nfc = 1;
        else if (ty && strcmp(ty, "Prepend") == 0 && pre && strcmp(pre, "\xE2\x96\x81") == 0) t->prepend = TOK_PREPEND_NORMALIZER;
        else if (ty && strcmp(ty, "Replace") == 0 && from && to && strcmp(from, " ") == 0 && strcmp(to, "\xE2\x96\x81") == 0)
            *replace = 1;
        else return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "normalizer '%s' is not supported (none; NFC; "
                              "Prepend(U+2581) and Replace(' ', U+2581))", ty ? ty : "(no type)");
    }
    if (t->prepend && !*replace)
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "normalizer Prepend without Replace(' ', U+2581) is not supported");
    return ATTNRES_TOK_OK;
}

/* A SentencePiece-style file's pre-tokenizer: none after the Replace
   normalizer, or Metaspace (replacement U+2581, prepend_scheme always,
   first or never, or in older files add_prefix_space true for always;
   split, true when absent). */
static int tok__metaspace(attnres_tok *t, int pre, int replace, char *err) {
    const tok__json *j = &t->json;
    const char *type = tok__jstr(j, tok__jget(j, pre, "type"));
    const char *rep = tok__jstr(j, tok__jget(j, pre, "replacement"));
    const char *scheme = tok__jstr(j, tok__jget(j, pre, "prepend_scheme"));
    if (pre < 0 || tok__jtype(j, pre) == TOK_J_NULL) return ATTNRES_TOK_OK;
    if (replace || !type || strcmp(type, "Metaspace") != 0)
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "pre_tokenizer '%s' after the normalizer Replace(' ', U+2581) is not "
                         "supported (none)", type ? type : "(no type)");
    if (!rep || strcmp(rep, "\xE2\x96\x81") != 0)
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "pre_tokenizer Metaspace: replacement must be U+2581");
    if (tok__jget(j, pre, "add_prefix_space") >= 0 && !tok__jtrue(j, tok__jget(j, pre, "add_prefix_space")) &&
        !(scheme && strcmp(scheme, "never") == 0))   /* as Hugging Face's library */
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "pre_tokenizer Metaspace: add_prefix_space false does not match "
                         "prepend_scheme '%s'", scheme ? scheme : "always");
    if (!scheme || strcmp(scheme, "always") == 0) t->prepend = TOK_PREPEND_ALWAYS;   /* older files: add_prefix_space */
    else if (strcmp(scheme, "first") == 0) t->prepend = TOK_PREPEND_FIRST;
    else if (strcmp(scheme, "never") == 0) t->prepend = TOK_PREPEND_NEVER;
    else return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "pre_tokenizer Metaspace: prepend_scheme '%s' is not always, first or never", scheme);
    t->split_meta = tok__jget(j, pre, "split") < 0 || tok__jtrue(j, tok__jget(j, pre, "split"));
    return ATTNRES_TOK_OK;
}

/* The rest of a SentencePiece-style file: byte_fallback's <0xNN> pieces,
   unk_token, fuse_unk, and a decoder this file's decode() matches:
   Replace(U+2581 -> ' '), ByteFallback, Fuse, Strip(' ', 1, 0), or
   Metaspace (in a Sequence or alone). */
static int tok__hf_spm_model(attnres_tok *t, int model, int root, char *err) {
    const tok__json *j = &t->json;
    const char *unk = tok__jstr(j, tok__jget(j, model, "unk_token"));
    int dec = tok__jget(j, root, "decoder"), list = tok__jget(j, dec, "decoders"), c, i;
    const char *type = tok__jstr(j, tok__jget(j, dec, "type"));
    char name[8];
    int start;
    if (tok__jtrue(j, tok__jget(j, model, "byte_fallback")))
        for (i = 0; i < 256; i++) {
            snprintf(name, sizeof name, "<0x%02X>", i);
            t->byte_piece[i] = tok__map_get(&t->vocab, name, 6);
        }
    t->unk = unk ? tok__map_get(&t->vocab, unk, strlen(unk)) : -1;
    if (unk && t->unk < 0) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "model.unk_token '%.40s' is not in model.vocab", unk);
    t->fuse_unk = tok__jtrue(j, tok__jget(j, model, "fuse_unk"));
    c = type && strcmp(type, "Sequence") == 0 && tok__jtype(j, list) == TOK_J_ARR ? tok__jchild(j, list) : dec;
    for (; c >= 0; c = c == dec ? -1 : tok__jnext(j, c)) {
        const char *ty = tok__jstr(j, tok__jget(j, c, "type"));
        static const char *const known[] = {"Replace", "ByteFallback", "Fuse", "Strip", "Metaspace"};
        for (i = 0; i < 5 && !(ty && strcmp(ty, known[i]) == 0); i++) {}
        if (i == 5) return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "decoder '%s' is not supported with a SentencePiece-style "
                                     "file (Replace, ByteFallback, Fuse, Strip, Metaspace)", ty ? ty : "(none)");
        if (i == 3) t->strip_first |= tok__jindex(j, tok__jget(j, c, "start"), 1 << 30, &start) && start > 0;
        if (i == 4) {   /* Metaspace: prepend_scheme always or first (add_prefix_space true in older files) */
            const char *scheme = tok__jstr(j, tok__jget(j, c, "prepend_scheme"));
            int aps = tok__jget(j, c, "add_prefix_space");
            t->strip_first |= scheme ? strcmp(scheme, "never") != 0 : aps < 0 || tok__jtrue(j, aps);
        }
    }
    t->kind = TOK_SPM;
    snprintf(t->kind_name, sizeof t->kind_name, "SentencePiece-style BPE (tokenizer.json%s)", t->nfc ? ", NFC" : "");
    return ATTNRES_TOK_OK;
}

static int tok__load_json(attnres_tok *t, size_t size, char *err) {
    tok__json *j = &t->json;
    int root, model, rc;
    const char *type, *prefix, *suffix, *pre_type;
    int replace = 0, pre;
    j->start = j->p = t->file;
    j->end = t->file + size;
    j->err = err;
    j->cap_nodes = (int)tok__jcount(t->file, t->file + size);   /* <= size + 1 <= 1 GiB + 1 */
    if (!(j->nodes = (tok__node *)malloc((size_t)j->cap_nodes * sizeof(tok__node))))
        return tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "out of memory for the JSON tree (%d values)", j->cap_nodes);
    if ((rc = tok__jvalue(j, 0, &root)) != ATTNRES_TOK_OK) return rc;
    tok__jws(j);
    if (j->p != j->end) return tok__jfail(j, "text after the JSON value");
    model = tok__jget(j, root, "model");
    type = tok__jstr(j, tok__jget(j, model, "type"));
    if (!type || strcmp(type, "BPE") != 0)
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "model.type is %s; only \"BPE\" is supported", type ? type : "missing");
    prefix = tok__jstr(j, tok__jget(j, model, "continuing_subword_prefix"));
    suffix = tok__jstr(j, tok__jget(j, model, "end_of_word_suffix"));
    if ((prefix && *prefix) || (suffix && *suffix))
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "subword prefixes / suffixes are not supported");
    if ((rc = tok__normalizer(t, tok__jget(j, root, "normalizer"), &replace, err)) != ATTNRES_TOK_OK) return rc;
    t->ignore_merges = tok__jtrue(j, tok__jget(j, model, "ignore_merges"));
    pre = tok__jget(j, root, "pre_tokenizer");
    pre_type = tok__jstr(j, tok__jget(j, pre, "type"));
    t->hf_spm = replace || (pre_type && strcmp(pre_type, "Metaspace") == 0);
    if (t->hf_spm && (rc = tok__metaspace(t, pre, replace, err)) != ATTNRES_TOK_OK) return rc;
    if (!t->hf_spm && tok__jtrue(j, tok__jget(j, model, "byte_fallback")))
        return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "model.byte_fallback with a byte-level pre_tokenizer is not supported "
                         "(byte fallback goes with SentencePiece-style files: Metaspace, or Replace(' ', U+2581))");
    if (!t->hf_spm && (rc = tok__pretokenizer(t, pre, err)) != ATTNRES_TOK_OK) return rc;
    if ((rc = tok__json_vocab(t, model, root, err)) != ATTNRES_TOK_OK) return rc;
    if ((rc = tok__json_merges(t, model, err)) != ATTNRES_TOK_OK) return rc;
    tok__json_bos_eos(t, root);
    if (t->hf_spm) return tok__hf_spm_model(t, model, root, err);
    tok__byte_map(t);
    t->kind = TOK_BPE;
    snprintf(t->kind_name, sizeof t->kind_name, "byte-level BPE (%s%s%s)",
             t->pattern == TOK_PAT_GPT2 ? "GPT-2" : t->pattern == TOK_PAT_LLAMA3 ? "Llama 3" : "Qwen2",
             t->split_digits ? " + digits" : "", t->nfc ? ", NFC" : "");
    return ATTNRES_TOK_OK;
}

int attnres_tok_load(attnres_tok **out, const char *path, char *err) {
    attnres_tok *t = (attnres_tok *)calloc(1, sizeof *t);
    size_t size = 0, i;
    int rc;
    *out = NULL;
    if (!t) return tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "out of memory");
    t->bos = t->eos = -1;
    t->unk = -1;
    for (i = 0; i < 256; i++) t->byte_piece[i] = -1;
    if ((rc = tok__read_file(path, &t->file, &size, err)) != ATTNRES_TOK_OK) { attnres_tok_free(t); return rc; }
    for (i = 0; i < size && (t->file[i] == ' ' || t->file[i] == '\n' || t->file[i] == '\t' || t->file[i] == '\r'); i++) {}
    if (i < size && t->file[i] == '{') {
        rc = tok__load_json(t, size, err);
        if (rc != ATTNRES_TOK_OK && err) {   /* name the file */
            char inner[ATTNRES_TOK_ERRLEN];
            memcpy(inner, err, sizeof inner);
            tok__fail(err, rc, "%s: %s", path, inner);
        }
    } else {
        rc = tok__load_bin(t, path, size, err);
    }
    if (rc != ATTNRES_TOK_OK) { attnres_tok_free(t); return rc; }
    t->max_piece_len = 1;
    for (i = 0; i < (size_t)t->n_vocab; i++)
        if (t->piece_len[i] > t->max_piece_len) t->max_piece_len = t->piece_len[i];
    *out = t;
    return ATTNRES_TOK_OK;
}

/* ======================================================================== */
/* Pre-tokenizer patterns (hand-written matchers of the three regexes)       */
/* ======================================================================== */

typedef struct { const unsigned char *s; size_t n; } tok__text;

static unsigned tok__cp_at(const tok__text *x, size_t i, size_t *len) {
    unsigned cp = TOK_INVALID;
    size_t l = i < x->n ? tok__utf8(x->s, x->n, i, &cp) : 0;
    if (len) *len = l;
    return i < x->n ? cp : TOK_INVALID;
}

/* Consumes characters of a class from i; returns the end. */
static size_t tok__run(const tok__text *x, size_t i, int (*is)(unsigned), size_t max_chars) {
    size_t l, k = 0;
    while (i < x->n && k < max_chars && is(tok__cp_at(x, i, &l))) { i += l; k++; }
    return i;
}

/* 's 't 're 've 'm 'll 'd (ASCII-case-insensitive if ci) at i: the length, or 0. */
static size_t tok__contraction(const tok__text *x, size_t i, int ci) {
    static const char *const forms[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    size_t k, m;
    if (x->s[i] != '\'') return 0;
    for (k = 0; k < 7; k++) {
        size_t len = strlen(forms[k]);
        if (i + 1 + len > x->n) continue;
        for (m = 0; m < len; m++) {
            unsigned char c = x->s[i + 1 + m];
            if (ci && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
            if (c != (unsigned char)forms[k][m]) break;
        }
        if (m == len) return 1 + len;
    }
    return 0;
}

static int tok__is_newline(unsigned cp) { return cp == '\r' || cp == '\n'; }

/* \s+(?!\S) then \s+ at i (a whitespace character): the run, minus its
   last character when more text follows and the run has two or more. */
static size_t tok__spaces(const tok__text *x, size_t i) {
    size_t end = tok__run(x, i, tok__is_space, (size_t)-1), last = i, l;
    if (end == x->n) return end - i;
    while (1) {   /* the start of the run's last character */
        size_t next;
        tok__cp_at(x, last, &l);
        next = last + l;
        if (next >= end) break;
        last = next;
    }
    return last > i ? last - i : end - i;
}

/* The length of the pre-token at i (i < n), per the tokenizer's pattern. */
static size_t tok__match(const attnres_tok *t, const tok__text *x, size_t i) {
    size_t l, l2, j, k;
    unsigned c = tok__cp_at(x, i, &l), c2 = tok__cp_at(x, i + l, &l2);
    int llama = t->pattern != TOK_PAT_GPT2;
    if ((k = tok__contraction(x, i, llama)) > 0) return k;
    if (!llama) {
        j = c == ' ' && (tok__is_letter(c2) || tok__is_number(c2) || tok__is_other(c2)) ? i + 1 : i;
        c = tok__cp_at(x, j, NULL);
        if (tok__is_letter(c)) return tok__run(x, j, tok__is_letter, (size_t)-1) - i;          /*  ?\p{L}+ */
        if (tok__is_number(c)) return tok__run(x, j, tok__is_number, (size_t)-1) - i;          /*  ?\p{N}+ */
        if (tok__is_other(c)) return tok__run(x, j, tok__is_other, (size_t)-1) - i;            /*  ?[^\s\p{L}\p{N}]+ */
        return tok__spaces(x, i);
    }
    if (tok__is_letter(c)) return tok__run(x, i, tok__is_letter, (size_t)-1) - i;             /* \p{L}+ */
    if (!tok__is_newline(c) && !tok__is_number(c) && tok__is_letter(c2))                        /* [^\r\n\p{L}\p{N}]\p{L}+ */
        return tok__run(x, i + l, tok__is_letter, (size_t)-1) - i;
    if (tok__is_number(c))                                                                      /* \p{N}{1,3} or \p{N} */
        return tok__run(x, i, tok__is_number, t->pattern == TOK_PAT_LLAMA3 ? 3 : 1) - i;
    j = c == ' ' && tok__is_other(c2) ? i + 1 : i;                                             /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    if (tok__is_other(tok__cp_at(x, j, NULL)))
        return tok__run(x, tok__run(x, j, tok__is_other, (size_t)-1), tok__is_newline, (size_t)-1) - i;
    {   /* \s*[\r\n]+ : up to and including the last newline of the whitespace run */
        size_t end = tok__run(x, i, tok__is_space, (size_t)-1), p = i, after = 0;
        while (p < end) {
            unsigned cp = tok__cp_at(x, p, &l);
            p += l;
            if (tok__is_newline(cp)) after = p;
        }
        if (after > 0) return after - i;
    }
    return tok__spaces(x, i);
}

/* ======================================================================== */
/* Encoding                                                                  */
/* ======================================================================== */

/* Both encoders merge adjacent symbols, the best pair first, until no pair
   merges. Rescanning all pairs after every merge is quadratic in the length
   of the text (a 1 MB run of letters is a single BPE pre-token; llama2.c
   merges over the whole text), so the symbols form a linked list and the
   candidate pairs wait in a binary heap. A pair whose symbols changed after
   it was pushed is stale and skipped when it comes out. This picks exactly
   the pair a rescan would: the best, leftmost on ties (a symbol's index is
   the position of its first character, so indices order symbols left to
   right). A symbol only grows, so its length tells whether it changed. */

typedef struct {
    int off, len;     /* BPE: its bytes in work.buf; SPM: len = piece_len[id]  */
    int id;           /* SPM: its piece                                        */
    int prev, next;   /* neighbours, -1 at the ends; len 0: merged away        */
} tok__sym;

typedef struct {
    double key;                  /* lower merges first: BPE rank, SPM -score    */
    int left;                    /* the left symbol; ties go to the leftmost    */
    int left_len, right_len;     /* both symbols' lengths when pushed           */
    int id;                      /* SPM: the merged piece                       */
} tok__pair;

typedef struct {
    tok__sym *sym;  size_t cap_sym;    /* [symbols of the current text]          */
    tok__pair *heap; size_t cap_heap;  /* [3 * symbols]: m - 1 pairs + 2 a merge */
    size_t n_heap;
    unsigned char *buf; size_t cap_buf; /* BPE: the pre-token's mapped bytes     */
    unsigned char *key; size_t cap_key; /* a pair's lookup key                   */
    unsigned *cps; size_t cap_cps;      /* NFC: a segment's code points, classes, scratch */
    unsigned char *norm; size_t cap_norm; /* a segment's normalised bytes         */
} tok__work;

typedef struct { int *ids; int max, n; char *err; tok__work w; } tok__out;

static int tok__emit(tok__out *o, int id) {
    if (o->n >= o->max) return tok__fail(o->err, ATTNRES_TOK_ERR_RANGE, "encode: more than %d tokens", o->max);
    o->ids[o->n++] = id;
    return ATTNRES_TOK_OK;
}

/* Room for m symbols, buf_bytes of mapped text and key_bytes of key. */
static int tok__reserve(tok__out *o, size_t m, size_t buf_bytes, size_t key_bytes) {
    tok__work *w = &o->w;
    if (!tok__grow((void **)&w->sym, &w->cap_sym, m, sizeof(tok__sym)) ||
        !tok__grow((void **)&w->heap, &w->cap_heap, 3 * m, sizeof(tok__pair)) ||
        !tok__grow((void **)&w->buf, &w->cap_buf, buf_bytes + 1, 1) ||
        !tok__grow((void **)&w->key, &w->cap_key, key_bytes + 1, 1))
        return tok__fail(o->err, ATTNRES_TOK_ERR_NOMEM, "encode: out of memory");
    return ATTNRES_TOK_OK;
}

static int tok__before(const tok__pair *a, const tok__pair *b) {
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static void tok__heap_push(tok__work *w, const tok__pair *p) {
    size_t i = w->n_heap++;
    while (i > 0 && tok__before(p, &w->heap[(i - 1) / 2])) { w->heap[i] = w->heap[(i - 1) / 2]; i = (i - 1) / 2; }
    w->heap[i] = *p;
}

static tok__pair tok__heap_pop(tok__work *w) {
    tok__pair top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, c, n = w->n_heap;
    if (n == 0) return top;
    while ((c = 2 * i + 1) < n) {   /* sift the last entry down from the root */
        if (c + 1 < n && tok__before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!tok__before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    w->heap[i] = last;
    return top;
}

/* Pushes the pair of symbols l and r if it merges. BPE: merges["a b"] is
   its rank (a tokenizer.json's SPM too, which makes piece merge_id[rank]).
   llama2.c's SPM: the concatenation of the two pieces is a piece, whose
   score must be above -1e10 (llama2.c's starting best score). */
static void tok__push_pair(const attnres_tok *t, tok__work *w, int l, int r) {
    const tok__sym *a = &w->sym[l], *b = &w->sym[r];
    tok__pair p;
    if (t->kind == TOK_BPE) {
        int rank;
        memcpy(w->key, w->buf + a->off, (size_t)a->len);
        w->key[a->len] = ' ';
        memcpy(w->key + a->len + 1, w->buf + b->off, (size_t)b->len);
        if ((rank = tok__map_get(&t->merges, (const char *)w->key, (size_t)a->len + 1 + (size_t)b->len)) < 0) return;
        p.key = rank;
        p.id = -1;
    } else if (t->hf_spm) {
        int rank;
        memcpy(w->key, t->piece[a->id], (size_t)a->len);
        w->key[a->len] = ' ';
        memcpy(w->key + a->len + 1, t->piece[b->id], (size_t)b->len);
        if ((rank = tok__map_get(&t->merges, (const char *)w->key, (size_t)a->len + 1 + (size_t)b->len)) < 0) return;
        p.key = rank;
        p.id = t->merge_id[rank];
    } else {
        int id;
        memcpy(w->key, t->piece[a->id], (size_t)a->len);
        memcpy(w->key + a->len, t->piece[b->id], (size_t)b->len);
        id = tok__map_get(&t->vocab, (const char *)w->key, (size_t)a->len + (size_t)b->len);
        if (id < 0 || !(t->score[id] > -1e10f)) return;
        p.key = -(double)t->score[id];
        p.id = id;
    }
    p.left = l;
    p.left_len = a->len;
    p.right_len = b->len;
    tok__heap_push(w, &p);
}

/* Merges the m linked symbols w->sym[0..m) until no pair merges. */
static void tok__merge_all(const attnres_tok *t, tok__work *w, int m) {
    int i;
    w->n_heap = 0;
    for (i = 0; i + 1 < m; i++) tok__push_pair(t, w, i, i + 1);
    while (w->n_heap > 0) {
        tok__pair p = tok__heap_pop(w);
        tok__sym *a = &w->sym[p.left];
        int r = a->next;
        if (a->len != p.left_len || r < 0 || w->sym[r].len != p.right_len) continue;   /* stale */
        if (t->kind == TOK_BPE) a->len += w->sym[r].len;   /* adjacent in buf */
        else { a->id = p.id; a->len = t->piece_len[p.id]; }
        a->next = w->sym[r].next;
        if (a->next >= 0) w->sym[a->next].prev = p.left;
        w->sym[r].len = 0;
        if (a->prev >= 0) tok__push_pair(t, w, a->prev, p.left);
        if (a->next >= 0) tok__push_pair(t, w, p.left, a->next);
    }
}

static void tok__link(tok__sym *s, int i, int m) {
    s->prev = i - 1;
    s->next = i + 1 < m ? i + 1 : -1;
}

/* The m symbols w->sym[0..m), each a vocab id: linked, merged by rank
   until no pair merges, and the result emitted (both SentencePiece-style
   paths end here). */
static int tok__merge_ids(const attnres_tok *t, tok__work *w, int m, tok__out *o) {
    int k, rc;
    for (k = 0; k < m; k++) {
        w->sym[k].len = t->piece_len[w->sym[k].id];
        tok__link(&w->sym[k], k, m);
    }
    tok__merge_all(t, w, m);
    for (k = 0; k >= 0; k = w->sym[k].next)
        if ((rc = tok__emit(o, w->sym[k].id)) != ATTNRES_TOK_OK) return rc;
    return ATTNRES_TOK_OK;
}

/* Byte-level BPE of one pre-token s[n] (n > 0): its bytes as byte-map
   characters, then the lowest-ranked adjacent pair merged (leftmost on
   ties) until no pair is a merge; each symbol is then a vocab entry. */
static int tok__bpe_piece(const attnres_tok *t, const unsigned char *s, size_t n, tok__out *o) {
    tok__work *w = &o->w;
    size_t at = 0, i;
    int rc, k;
    if ((rc = tok__reserve(o, n, 2 * n, 2 * n + 1)) != ATTNRES_TOK_OK) return rc;
    for (i = 0; i < n; i++) {   /* every byte becomes one symbol: its stand-in character */
        w->sym[i].off = (int)at;
        w->sym[i].len = (int)tok__put_utf8(w->buf + at, t->byte_cp[s[i]]);
        tok__link(&w->sym[i], (int)i, (int)n);
        at += (size_t)w->sym[i].len;
    }
    if (t->ignore_merges) {
        int id = tok__map_get(&t->vocab, (const char *)w->buf, at);
        if (id >= 0) return tok__emit(o, id);
    }
    tok__merge_all(t, w, (int)n);
    for (k = 0; k >= 0; k = w->sym[k].next) {
        int id = tok__map_get(&t->vocab, (const char *)w->buf + w->sym[k].off, (size_t)w->sym[k].len);
        if (id < 0) return tok__fail(o->err, ATTNRES_TOK_ERR_FORMAT, "encode: a BPE symbol of %d bytes is not in the vocab "
                                     "(an incomplete byte-level vocab?)", w->sym[k].len);
        if ((rc = tok__emit(o, id)) != ATTNRES_TOK_OK) return rc;
    }
    return ATTNRES_TOK_OK;
}

/* Pre-tokenizes text s[n] (no added tokens in it) and BPE-encodes each piece. */
static int tok__bpe_text(const attnres_tok *t, const unsigned char *s, size_t n, tok__out *o) {
    tok__text x, all;
    size_t i = 0, seg_end, l;
    int rc;
    all.s = s;
    all.n = n;
    while (i < n) {
        /* Digits(individual_digits): every number character is its own segment */
        seg_end = n;
        if (t->split_digits) {
            if (tok__is_number(tok__cp_at(&all, i, &l))) seg_end = i + l;
            else for (seg_end = i; seg_end < n && !tok__is_number(tok__cp_at(&all, seg_end, &l)); seg_end += l) {}
        }
        x.s = s;
        x.n = seg_end;
        while (i < seg_end) {
            size_t k = tok__match(t, &x, i);
            if ((rc = tok__bpe_piece(t, s + i, k, o)) != ATTNRES_TOK_OK) return rc;
            i += k;
        }
    }
    return ATTNRES_TOK_OK;
}

/* llama2.c's encoder over s[n] (n > 0): a leading ' ' (dummy prefix), then
   every UTF-8 character as its piece, or its bytes as <0xNN> pieces, then
   the merges. */
static int tok__spm_text(const attnres_tok *t, const unsigned char *s, size_t n, tok__out *o) {
    tok__work *w = &o->w;
    int m = 0, rc, id, k;
    size_t i, l;
    if ((rc = tok__reserve(o, n + 1, 0, 2 * (size_t)t->max_piece_len)) != ATTNRES_TOK_OK) return rc;
    if ((id = tok__map_get(&t->vocab, " ", 1)) < 0)
        return tok__fail(o->err, ATTNRES_TOK_ERR_FORMAT, "encode: the vocab has no ' ' piece for the dummy prefix");
    w->sym[m++].id = id;
    for (i = 0; i < n; i += l) {
        unsigned cp;
        l = tok__utf8(s, n, i, &cp);
        id = cp == TOK_INVALID ? -1 : tok__map_get(&t->vocab, (const char *)s + i, l);
        if (id >= 0) { w->sym[m++].id = id; continue; }
        for (k = 0; k < (int)l; k++) {   /* byte fallback: every byte of the character as <0xNN> */
            if (t->byte_piece[s[i + k]] < 0)
                return tok__fail(o->err, ATTNRES_TOK_ERR_FORMAT, "encode: byte 0x%02X has no piece and no <0x%02X> fallback",
                                 s[i + k], s[i + k]);
            w->sym[m++].id = t->byte_piece[s[i + k]];
        }
    }
    return tok__merge_ids(t, w, m, o);
}

/* The added token that starts at s[i], longest first; -1 if none. */
static int tok__added_at(const attnres_tok *t, const unsigned char *s, size_t n, size_t i) {
    int k;
    if (!t->added_first[s[i]]) return -1;   /* most bytes start none */
    for (k = 0; k < t->n_added; k++) {
        int id = t->added_ids[k];
        size_t len = (size_t)t->piece_len[id];
        if (len <= n - i && memcmp(s + i, t->piece[id], len) == 0) return id;
    }
    return -1;
}

/* NFC of a segment s[n], if the tokenizer's normalizer asks for it: *out
   gets the normalised bytes (in o->w.norm, or s itself when no character
   of s can change) and *m their length. Every character is decomposed
   fully, the marks ordered, then composed again; an invalid byte stays. */
static int tok__normalize(const attnres_tok *t, const unsigned char *s, size_t n, tok__out *o,
                          const unsigned char **out, size_t *m) {
    tok__work *w = &o->w;
    size_t i, l, k = 0, d, at = 0;
    unsigned cp, tmp[TOK_NFC_MAX_DECOMP];
    *out = s;
    *m = n;
    if (!t->nfc) return ATTNRES_TOK_OK;
    for (i = 0; i < n; i += l)   /* most text: every character below U+0300 */
        if ((l = tok__utf8(s, n, i, &cp)) > 1 && cp >= TOK_NFC_INERT_BELOW) break;
    if (i >= n) return ATTNRES_TOK_OK;
    for (i = 0; i < n; i += l, k += d) {   /* count the decomposed code points */
        d = 0;
        l = tok__utf8(s, n, i, &cp);
        if (cp == TOK_INVALID) d = l;
        else tok__decompose(cp, tmp, &d);
    }
    /* w->cps [3k]: the code points, their combining classes, scratch */
    if (!tok__grow((void **)&w->cps, &w->cap_cps, 3 * k, sizeof(unsigned)))
        return tok__fail(o->err, ATTNRES_TOK_ERR_NOMEM, "encode: out of memory");
    for (i = 0, k = 0; i < n; i += l) {
        l = tok__utf8(s, n, i, &cp);
        if (cp == TOK_INVALID) w->cps[k++] = TOK_RAW_BYTE + s[i];
        else tok__decompose(cp, w->cps, &k);
    }
    tok__canonical_order(w->cps, w->cps + k, w->cps + 2 * k, k);
    k = tok__compose_all(w->cps, k);
    if (!tok__grow((void **)&w->norm, &w->cap_norm, 4 * k, 1))
        return tok__fail(o->err, ATTNRES_TOK_ERR_NOMEM, "encode: out of memory");
    for (i = 0; i < k; i++) {
        if (w->cps[i] >= TOK_RAW_BYTE) w->norm[at++] = (unsigned char)(w->cps[i] - TOK_RAW_BYTE);
        else at += tok__put_utf8(w->norm + at, w->cps[i]);
    }
    *out = w->norm;
    *m = at;
    return ATTNRES_TOK_OK;
}

/* A tokenizer.json's SentencePiece-style BPE of one word s[n] (n > 0; its
   spaces already U+2581): every character its piece, else its bytes as
   <0xNN> pieces (byte_fallback), else the unknown token (one for a run of
   them with fuse_unk); then the merges by rank, as Hugging Face's BPE. */
static int tok__hf_spm_word(const attnres_tok *t, const unsigned char *s, size_t n, tok__out *o) {
    tok__work *w = &o->w;
    size_t i, l, b;
    int m = 0, id;
    for (i = 0; i < n; i += l) {
        unsigned cp;
        l = tok__utf8(s, n, i, &cp);
        id = cp == TOK_INVALID ? -1 : tok__map_get(&t->vocab, (const char *)s + i, l);
        if (id >= 0) { w->sym[m++].id = id; continue; }
        for (b = 0; b < l && t->byte_piece[s[i + b]] >= 0; b++) {}
        if (b == l) {
            for (b = 0; b < l; b++) w->sym[m++].id = t->byte_piece[s[i + b]];
            continue;
        }
        if (t->unk < 0)
            return tok__fail(o->err, ATTNRES_TOK_ERR_FORMAT, "encode: a character of %d bytes is not in the vocab, "
                             "and the file has no byte fallback and no unk_token", (int)l);
        if (!(t->fuse_unk && m > 0 && w->sym[m - 1].id == t->unk)) w->sym[m++].id = t->unk;
    }
    return tok__merge_ids(t, w, m, o);
}

/* A tokenizer.json's SentencePiece-style pre-processing of one segment
   s[n] (text between added tokens; at_start: it begins the text): U+2581
   in front (t->prepend), every ' ' as U+2581; then one word, or with
   Metaspace(split) a word at every U+2581. */
static int tok__hf_spm_text(const attnres_tok *t, const unsigned char *s, size_t n, int at_start, tok__out *o) {
    static const unsigned char meta[3] = {0xE2, 0x96, 0x81};   /* U+2581 */
    tok__work *w = &o->w;
    size_t i, at = 0, start;
    int rc, starts_meta = n > 0 && (s[0] == ' ' || (n >= 3 && memcmp(s, meta, 3) == 0));
    int prepend = n > 0 && (t->prepend == TOK_PREPEND_NORMALIZER || (t->prepend == TOK_PREPEND_ALWAYS && !starts_meta) ||
                            (t->prepend == TOK_PREPEND_FIRST && !starts_meta && at_start));
    /* [3n + 3] bytes, at most one symbol each */
    if ((rc = tok__reserve(o, 3 * n + 3, 3 * n + 3, 2 * (size_t)t->max_piece_len + 1)) != ATTNRES_TOK_OK) return rc;
    if (prepend) { memcpy(w->buf, meta, 3); at = 3; }
    for (i = 0; i < n; i++) {
        if (s[i] == ' ') { memcpy(w->buf + at, meta, 3); at += 3; }
        else w->buf[at++] = s[i];
    }
    for (i = start = 0; i <= at; i++) {
        int boundary = i == at || (t->split_meta && i > start && i + 3 <= at && memcmp(w->buf + i, meta, 3) == 0);
        if (!boundary) continue;
        if ((rc = tok__hf_spm_word(t, w->buf + start, i - start, o)) != ATTNRES_TOK_OK) return rc;
        start = i;
    }
    return ATTNRES_TOK_OK;
}

/* One segment s[n] of text between added tokens (n > 0): normalised, then
   encoded by the tokenizer's kind. */
static int tok__segment(const attnres_tok *t, const unsigned char *s, size_t n, int at_start, tok__out *o) {
    const unsigned char *x;
    size_t m;
    int rc;
    if ((rc = tok__normalize(t, s, n, o, &x, &m)) != ATTNRES_TOK_OK) return rc;
    return t->hf_spm ? tok__hf_spm_text(t, x, m, at_start, o) : tok__bpe_text(t, x, m, o);
}

/* A tokenizer.json's BPE of s[len]: text between added tokens, then the token. */
static int tok__json_encode(const attnres_tok *t, const unsigned char *s, size_t len, int allow_special, tok__out *o) {
    size_t i = 0, start = 0;
    int rc = ATTNRES_TOK_OK;
    while (i <= len && rc == ATTNRES_TOK_OK) {
        int id = i < len && allow_special ? tok__added_at(t, s, len, i) : -1;
        if (id < 0 && i < len) { i++; continue; }
        if (i > start) rc = tok__segment(t, s + start, i - start, start == 0, o);
        if (rc == ATTNRES_TOK_OK && id >= 0) rc = tok__emit(o, id);
        if (id < 0) break;
        i += (size_t)t->piece_len[id];
        start = i;
    }
    return rc;
}

int attnres_tok_encode(const attnres_tok *t, const char *text, size_t len, int allow_special,
                       int *ids, int max_ids, int *n_ids, char *err) {
    const unsigned char *s = (const unsigned char *)text;
    tok__out o;
    int rc;
    unsigned char *prefixed = NULL;
    /* bytes of pieces the text needs at least: NFC may shorten it; ' ' -> U+2581 lengthens */
    size_t covered = t->nfc ? (len + TOK_NFC_MAX_SHRINK - 1) / TOK_NFC_MAX_SHRINK
                   : len + (len > 0 && ((t->kind == TOK_SPM && !t->hf_spm) || (t->add_prefix_space && s[0] != ' ')));
    memset(&o, 0, sizeof o);
    o.ids = ids; o.max = max_ids; o.err = err;
    *n_ids = 0;
    if (len == 0) return ATTNRES_TOK_OK;
    if (len > TOK_MAX_TEXT)
        return tok__fail(err, ATTNRES_TOK_ERR_RANGE, "encode: %zu bytes of text, more than %d", len, TOK_MAX_TEXT);
    /* no token covers more bytes than the longest piece has: a text that
       needs more tokens than max_ids is refused before any work */
    if ((covered + (size_t)t->max_piece_len - 1) / (size_t)t->max_piece_len > (size_t)(max_ids < 0 ? 0 : max_ids))
        return tok__fail(err, ATTNRES_TOK_ERR_RANGE, "encode: %zu bytes need at least %zu tokens (no token is longer "
                         "than %d bytes), more than %d", len, (covered + (size_t)t->max_piece_len - 1) / (size_t)t->max_piece_len,
                         t->max_piece_len, max_ids);
    if (t->kind == TOK_SPM && !t->hf_spm) {
        rc = tok__spm_text(t, s, len, &o);
    } else {
        if (t->add_prefix_space && s[0] != ' ') {   /* ByteLevel(add_prefix_space) */
            if (!(prefixed = (unsigned char *)malloc(len + 1))) return tok__fail(err, ATTNRES_TOK_ERR_NOMEM, "encode: out of memory");
            prefixed[0] = ' ';
            memcpy(prefixed + 1, s, len);
            s = prefixed;
            len++;
        }
        rc = tok__json_encode(t, s, len, allow_special, &o);
    }
    free(prefixed);
    free(o.w.sym); free(o.w.heap); free(o.w.buf); free(o.w.key); free(o.w.cps); free(o.w.norm);
    *n_ids = o.n;
    return rc;
}

/* ======================================================================== */
/* Decoding                                                                  */
/* ======================================================================== */

/* A tokenizer.json's SentencePiece-style piece as its decoder gives it:
   <0xNN> is the byte NN (ByteFallback), U+2581 is ' ' (Replace), and the
   first token of the text loses one leading ' ' where the decoder says so
   (Strip, or Metaspace but for "never"). So does the token after BOS where
   the Prepend normalizer puts U+2581 before every segment of text;
   Metaspace puts none before text that starts with ' ' ("always") or does
   not start the text ("first"), so after BOS a ' ' is the text's own. */
static int tok__hf_spm_decode(const attnres_tok *t, int prev, int id, char *out, size_t cap, size_t *n, char *err) {
    const unsigned char *p = (const unsigned char *)t->piece[id];
    size_t len = (size_t)t->piece_len[id], i, at = 0;
    int strip = t->strip_first && (prev < 0 || (prev == t->bos && t->prepend == TOK_PREPEND_NORMALIZER));
    unsigned hex;
    if (len == 6 && memcmp(p, "<0x", 3) == 0 && p[5] == '>' && sscanf((const char *)p + 3, "%2X", &hex) == 1 &&
        t->byte_piece[hex & 0xFF] == id) {
        if (cap < 1) return tok__fail(err, ATTNRES_TOK_ERR_RANGE, "decode: output buffer too small");
        out[0] = (char)hex;
        *n = 1;
        return ATTNRES_TOK_OK;
    }
    for (i = 0; i < len;) {
        int meta = i + 3 <= len && p[i] == 0xE2 && p[i + 1] == 0x96 && p[i + 2] == 0x81;
        if (!(meta && strip && i == 0)) {
            if (at >= cap) return tok__fail(err, ATTNRES_TOK_ERR_RANGE, "decode: output buffer too small");
            out[at++] = meta ? ' ' : (char)p[i];
        }
        i += meta ? 3 : 1;
    }
    *n = at;
    return ATTNRES_TOK_OK;
}

int attnres_tok_decode(const attnres_tok *t, int prev, int id, char *out, size_t cap, size_t *n, char *err) {
    const unsigned char *p;
    size_t len, i, at = 0;
    unsigned hex;
    *n = 0;
    if (id < 0 || id >= t->n_vocab || !t->piece[id])
        return tok__fail(err, ATTNRES_TOK_ERR_RANGE, "decode: token %d is not in the vocab (%d ids)", id, t->n_vocab);
    p = (const unsigned char *)t->piece[id];
    len = (size_t)t->piece_len[id];
    if (t->hf_spm && !t->added[id]) return tok__hf_spm_decode(t, prev, id, out, cap, n, err);
    if (t->kind == TOK_SPM) {
        if (prev == t->bos && len > 0 && p[0] == ' ') { p++; len--; }   /* the dummy prefix after BOS */
        if (len == 6 && memcmp(p, "<0x", 3) == 0 && p[5] == '>' && sscanf((const char *)p + 3, "%2X", &hex) == 1) {
            if (cap < 1) return tok__fail(err, ATTNRES_TOK_ERR_RANGE, "decode: output buffer too small");
            out[0] = (char)hex;
            *n = 1;
            return ATTNRES_TOK_OK;
        }
    }
    if (t->kind == TOK_SPM || t->added[id]) {   /* raw text */
        if (len > cap) return tok__fail(err, ATTNRES_TOK_ERR_RANGE, "decode: output buffer too small");
        memcpy(out, p, len);
        *n = len;
        return ATTNRES_TOK_OK;
    }
    for (i = 0; i < len;) {   /* byte-level: each character stands for one byte */
        unsigned cp;
        i += tok__utf8(p, len, i, &cp);
        if (cp >= 324 || t->cp_byte[cp] < 0)
            return tok__fail(err, ATTNRES_TOK_ERR_FORMAT, "decode: token %d holds U+%04X, which stands for no byte", id, cp);
        if (at >= cap) return tok__fail(err, ATTNRES_TOK_ERR_RANGE, "decode: output buffer too small");
        out[at++] = (char)t->cp_byte[cp];
    }
    *n = at;
    return ATTNRES_TOK_OK;
}
