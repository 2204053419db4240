/* tok_dump.c - encodes texts with tools/tokenizer.c, for tests/test_tokenizers.sh
   and tools/tok_bench.sh.
     tok_dump TOKENIZER TEXTS.hex [--special]
   TEXTS.hex holds one text per line as hex (UTF-8 bytes; lines of any
   length). For each text it prints the ids on one line (space-separated) to
   stdout, and checks that decoding them gives the text back (llama2.c's
   dummy-prefix space excepted); a text that does not come back is reported
   on stderr. The last stderr line is "roundtrip: N of M texts". Exit 1 on a
   load or encode error.
     tok_dump TOKENIZER --time FILE [REPS]
   encodes FILE's bytes as one text REPS times (default 3, specials allowed)
   and prints "BYTES bytes -> TOKENS tokens, best of REPS: SECONDS s" (CPU
   time, clock()).
     tok_dump TOKENIZER --info
   prints "vocab V bos B eos E" (-1: none).
     tok_dump TOKENIZER --nfc NormalizationTest.txt
   Unicode's conformance test of NFC, through a tokenizer with the NFC
   normalizer whose ids are bytes (every byte its own token, id = the byte):
   for each line c1;c2;c3;c4;c5 (code points in hex), the encoding of c1, c2
   and c3 must be c2's bytes, that of c4 and c5 c4's. Prints the lines that
   fail (the first 5) and "nfc: N of M lines". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tools/tokenizer.h"

/* The next line of f (without its newline) into *buf (grown as needed);
   0 at the end of the file. */
static int read_line(FILE *f, char **buf, size_t *cap, size_t *len) {
    int c;
    *len = 0;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (*len + 1 >= *cap) {
            char *b = (char *)realloc(*buf, *cap ? 2 * *cap : 4096);
            if (!b) { fprintf(stderr, "tok_dump: out of memory\n"); exit(1); }
            *buf = b;
            *cap = *cap ? 2 * *cap : 4096;
        }
        (*buf)[(*len)++] = (char)c;
    }
    if (*len > 0 && (*buf)[*len - 1] == '\r') (*len)--;
    return c != EOF || *len > 0;
}

static int unhex(const char *line, size_t len, unsigned char *out, size_t *n) {
    size_t i;
    if (len % 2) return 0;
    for (i = 0; i < len; i += 2) {
        unsigned v;
        char two[3];
        two[0] = line[i]; two[1] = line[i + 1]; two[2] = 0;
        if (sscanf(two, "%2x", &v) != 1) return 0;
        out[i / 2] = (unsigned char)v;
    }
    *n = len / 2;
    return 1;
}

/* --time: the whole file as one text, encoded reps times. */
static int time_file(attnres_tok *t, const char *path, int reps) {
    FILE *f = fopen(path, "rb");
    char *text = NULL, err[ATTNRES_TOK_ERRLEN];
    size_t len = 0, cap = 0, got;
    int *ids, n_ids = 0, r;
    double best = -1;
    if (!f) { fprintf(stderr, "tok_dump: cannot open %s\n", path); return 1; }
    do {
        char *b;
        cap = cap ? 2 * cap : 1 << 16;
        if (!(b = (char *)realloc(text, cap))) { fprintf(stderr, "tok_dump: out of memory\n"); return 1; }
        text = b;
        len += got = fread(text + len, 1, cap - len, f);
    } while (got > 0 && len == cap);
    if (ferror(f)) { fprintf(stderr, "tok_dump: cannot read %s (a directory?)\n", path); fclose(f); return 1; }
    fclose(f);
    if (!(ids = (int *)malloc((len + 2) * sizeof(int)))) { fprintf(stderr, "tok_dump: out of memory\n"); return 1; }
    for (r = 0; r < reps; r++) {
        clock_t c0 = clock();
        double s;
        if (attnres_tok_encode(t, text, len, 1, ids, (int)len + 2, &n_ids, err) != ATTNRES_TOK_OK) {
            fprintf(stderr, "tok_dump: %s: %s\n", path, err);
            return 1;
        }
        s = (double)(clock() - c0) / CLOCKS_PER_SEC;
        if (best < 0 || s < best) best = s;
    }
    printf("%zu bytes -> %d tokens, best of %d: %.4f s\n", len, n_ids, reps, best);
    free(text);
    free(ids);
    return 0;
}

/* One field of a NormalizationTest.txt line ("0044 0307") as UTF-8 in out
   (room for 4 bytes per code point); returns its length. */
static size_t field_utf8(const char *f, const char *end, unsigned char *out) {
    size_t n = 0;
    while (f < end) {
        char *next;
        unsigned long cp = strtoul(f, &next, 16);
        if (next == f) break;
        f = next;
        if (cp < 0x80) out[n++] = (unsigned char)cp;
        else if (cp < 0x800) { out[n++] = (unsigned char)(0xC0 | (cp >> 6)); out[n++] = (unsigned char)(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) {
            out[n++] = (unsigned char)(0xE0 | (cp >> 12)); out[n++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            out[n++] = (unsigned char)(0x80 | (cp & 0x3F));
        } else {
            out[n++] = (unsigned char)(0xF0 | (cp >> 18)); out[n++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            out[n++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); out[n++] = (unsigned char)(0x80 | (cp & 0x3F));
        }
    }
    return n;
}

/* --nfc: see the top of the file. */
static int nfc_test(attnres_tok *t, const char *path) {
    FILE *f = fopen(path, "r");
    char *line = NULL, err[ATTNRES_TOK_ERRLEN];
    size_t cap = 0, len;
    int lines = 0, good = 0;
    if (!f) { fprintf(stderr, "tok_dump: cannot open %s\n", path); return 1; }
    while (read_line(f, &line, &cap, &len)) {
        unsigned char c[5][256], got[256];
        size_t n[5], k;
        int ids[256], n_ids, i, ok = 1, want;
        const char *p = line, *semi;
        if (len == 0 || line[0] == '#' || line[0] == '@') continue;
        line[len] = 0;
        for (i = 0; i < 5; i++, p = semi + 1) {   /* [c1..c5]: at most 60 code points each, 4 bytes */
            if (!(semi = strchr(p, ';')) || semi - p > 60 * 5) break;
            n[i] = field_utf8(p, semi, c[i]);
        }
        if (i < 5) { fprintf(stderr, "tok_dump: %s: not a NormalizationTest line: %s\n", path, line); return 1; }
        for (i = 0; i < 5 && ok; i++) {
            want = i < 3 ? 1 : 3;   /* NFC(c1) = NFC(c2) = NFC(c3) = c2; NFC(c4) = NFC(c5) = c4 */
            if (attnres_tok_encode(t, (const char *)c[i], n[i], 0, ids, 256, &n_ids, err) != ATTNRES_TOK_OK) {
                fprintf(stderr, "tok_dump: %s: %s\n", line, err);
                return 1;
            }
            for (k = 0; k < (size_t)n_ids; k++) got[k] = (unsigned char)ids[k];
            ok = (size_t)n_ids == n[want] && memcmp(got, c[want], n[want]) == 0;
        }
        if (ok) good++;
        else if (lines - good < 5) printf("nfc: line %s: field %d does not normalise to field %d\n", line, i, want + 1);
        lines++;
    }
    fclose(f);
    free(line);
    printf("nfc: %d of %d lines\n", good, lines);
    return 0;
}

int main(int argc, char **argv) {
    char err[ATTNRES_TOK_ERRLEN], *line = NULL;
    unsigned char *text = NULL, *back = NULL;
    int *ids = NULL;
    size_t cap = 0, len;
    attnres_tok *t;
    FILE *f;
    int special = argc > 3 && strcmp(argv[3], "--special") == 0, n_texts = 0, n_back = 0, rc;
    if (argc < 3) { fprintf(stderr, "usage: tok_dump TOKENIZER TEXTS.hex [--special] | TOKENIZER --time FILE [REPS] | TOKENIZER --info | TOKENIZER --nfc FILE\n"); return 2; }
    if (attnres_tok_load(&t, argv[1], err) != ATTNRES_TOK_OK) { fprintf(stderr, "tok_dump: %s\n", err); return 1; }
    if (strcmp(argv[2], "--info") == 0) {
        printf("vocab %d bos %d eos %d\n", attnres_tok_vocab_size(t), attnres_tok_bos(t), attnres_tok_eos(t));
        attnres_tok_free(t);
        return 0;
    }
    if (strcmp(argv[2], "--nfc") == 0 && argc > 3) {
        rc = nfc_test(t, argv[3]);
        attnres_tok_free(t);
        return rc;
    }
    if (strcmp(argv[2], "--time") == 0 && argc > 3) {
        rc = time_file(t, argv[3], argc > 4 ? atoi(argv[4]) : 3);
        attnres_tok_free(t);
        return rc;
    }
    if (!(f = fopen(argv[2], "r"))) { fprintf(stderr, "tok_dump: cannot open %s\n", argv[2]); attnres_tok_free(t); return 1; }
    while (read_line(f, &line, &cap, &len)) {
        size_t n, at = 0, room = len / 2 + 8;
        int n_ids, i, prev = -1;
        /* [len / 2 + 8]: a text of n bytes has at most n + 1 ids; decoding gives n bytes */
        text = (unsigned char *)realloc(text, room);
        back = (unsigned char *)realloc(back, room);
        ids = (int *)realloc(ids, room * sizeof(int));
        if (!text || !back || !ids) { fprintf(stderr, "tok_dump: out of memory\n"); return 1; }
        if (!unhex(line, len, text, &n)) { fprintf(stderr, "tok_dump: bad hex line %d\n", n_texts + 1); return 1; }
        if (attnres_tok_encode(t, (const char *)text, n, special, ids, (int)room, &n_ids, err) != ATTNRES_TOK_OK) {
            fprintf(stderr, "tok_dump: text %d: %s\n", n_texts + 1, err);
            return 1;
        }
        for (i = 0; i < n_ids; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
        /* decode: llama2.c's as after BOS, so its dummy prefix goes away again */
        if (attnres_tok_bos(t) >= 0 && strstr(attnres_tok_kind(t), "llama2.c")) prev = attnres_tok_bos(t);
        for (i = 0; i < n_ids; i++) {
            size_t k;
            if (attnres_tok_decode(t, prev, ids[i], (char *)back + at, room - at, &k, err) != ATTNRES_TOK_OK) {
                fprintf(stderr, "tok_dump: text %d: %s\n", n_texts + 1, err);
                break;
            }
            at += k;
            prev = ids[i];
        }
        if (at == n && memcmp(back, text, n) == 0) n_back++;
        else fprintf(stderr, "roundtrip: text %d does not come back (%zu bytes in, %zu out)\n", n_texts + 1, n, at);
        n_texts++;
    }
    if (ferror(f)) { fprintf(stderr, "tok_dump: cannot read %s (a directory?)\n", argv[2]); return 1; }
    fclose(f);
    fprintf(stderr, "roundtrip: %d of %d texts\n", n_back, n_texts);
    free(line); free(text); free(back); free(ids);
    attnres_tok_free(t);
    return 0;
}
