/* tok_dump.c - encodes texts with tools/tokenizer.c, for tests/test_tokenizers.sh.
     tok_dump TOKENIZER TEXTS.hex [--special]
   TEXTS.hex holds one text per line as hex (UTF-8 bytes). For each text it
   prints the ids on one line (space-separated) to stdout, and checks that
   decoding them gives the text back (llama2.c's dummy-prefix space
   excepted); a text that does not come back is reported on stderr. The
   last stderr line is "roundtrip: N of M texts". Exit 1 on a load or
   encode error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/tokenizer.h"

#define MAX_TEXT 65536

static int unhex(const char *line, unsigned char *out, size_t *n) {
    size_t i, len = strcspn(line, "\r\n");
    if (len % 2) return 0;
    for (i = 0; i < len; i += 2) {
        unsigned v;
        if (sscanf(line + i, "%2x", &v) != 1) return 0;
        out[i / 2] = (unsigned char)v;
    }
    *n = len / 2;
    return 1;
}

int main(int argc, char **argv) {
    static char line[2 * MAX_TEXT + 4];
    static unsigned char text[MAX_TEXT], back[8 * MAX_TEXT];
    static int ids[MAX_TEXT + 8];
    char err[ATTNRES_TOK_ERRLEN];
    attnres_tok *t;
    FILE *f;
    int special = argc > 3 && strcmp(argv[3], "--special") == 0, n_texts = 0, n_back = 0;
    if (argc < 3) { fprintf(stderr, "usage: tok_dump TOKENIZER TEXTS.hex [--special]\n"); return 2; }
    if (attnres_tok_load(&t, argv[1], err) != ATTNRES_TOK_OK) { fprintf(stderr, "tok_dump: %s\n", err); return 1; }
    if (!(f = fopen(argv[2], "r"))) { fprintf(stderr, "tok_dump: cannot open %s\n", argv[2]); attnres_tok_free(t); return 1; }
    while (fgets(line, sizeof line, f)) {
        size_t n, at = 0;
        int n_ids, i, prev = -1;
        if (!unhex(line, text, &n)) { fprintf(stderr, "tok_dump: bad hex line %d\n", n_texts + 1); return 1; }
        if (attnres_tok_encode(t, (const char *)text, n, special, ids, MAX_TEXT + 8, &n_ids, err) != ATTNRES_TOK_OK) {
            fprintf(stderr, "tok_dump: text %d: %s\n", n_texts + 1, err);
            return 1;
        }
        for (i = 0; i < n_ids; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
        /* decode: as after BOS, so llama2.c's dummy prefix goes away again */
        if (attnres_tok_bos(t) >= 0 && !strstr(attnres_tok_kind(t), "byte-level")) prev = attnres_tok_bos(t);
        for (i = 0; i < n_ids; i++) {
            size_t k;
            if (attnres_tok_decode(t, prev, ids[i], (char *)back + at, sizeof back - at, &k, err) != ATTNRES_TOK_OK) {
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
    fclose(f);
    fprintf(stderr, "roundtrip: %d of %d texts\n", n_back, n_texts);
    attnres_tok_free(t);
    return 0;
}
