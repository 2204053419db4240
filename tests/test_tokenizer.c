/* test_tokenizer.c - tools/tokenizer.c on small files made here (no network:
   the real vocabularies are tests/test_tokenizers.sh's). A byte-level BPE
   tokenizer.json whose encodings are worked out by hand in the comments, a
   llama2.c tokenizer.bin likewise, decoding (byte-exact, also invalid
   UTF-8), the UTF-8 hold-back of streamed output, and malformed files, each
   of which must fail with a message that says what is wrong. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/tokenizer.h"
#include "check.h"

#define TMP "build/test_tokenizer.tmp"

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) { printf("cannot write %s\n", path); exit(1); }
    fclose(f);
}

/* GPT-2's byte -> character map, written out again here (the test's own copy) */
static unsigned byte_cp(int b) {
    int n = 0, k;
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return (unsigned)b;
    for (k = 0; k < b; k++)
        if (!((k >= '!' && k <= '~') || (k >= 0xA1 && k <= 0xAC) || (k >= 0xAE && k <= 0xFF))) n++;
    return 256u + (unsigned)n;
}

/* A JSON string of the character that stands for byte b. */
static void json_char(char *out, int b) {
    unsigned cp = byte_cp(b);
    if (cp == '"' || cp == '\\') sprintf(out, "\\%c", (char)cp);
    else if (cp < 0x80) sprintf(out, "%c", (char)cp);
    else sprintf(out, "\\u%04x", cp);
}

/* ids 0..255: the bytes; 256 "he", 257 "ll", 258 "hell", 259 "Ġw" (Ġ = the
   space byte's character U+0120), 260 "12", 261 "'S"; added tokens (listed
   shortest first, so the file's order is not the longest-first order):
   301 "<|en" and 300 "<|end|>"; and post_processor (JSON, or "null"). */
static void write_bpe_json_post(const char *path, const char *pre_tokenizer, const char *post_processor) {
    static char buf[65536];
    size_t at = 0;
    int b;
    at += (size_t)sprintf(buf + at, "{\"added_tokens\":[{\"id\":301,\"content\":\"<|en\",\"special\":true},"
                                    "{\"id\":300,\"content\":\"<|end|>\",\"special\":true}],"
                                    "\"pre_tokenizer\":%s,\"post_processor\":%s,\"model\":{\"type\":\"BPE\",\"vocab\":{",
                          pre_tokenizer, post_processor);
    for (b = 0; b < 256; b++) {
        char c[16];
        json_char(c, b);
        at += (size_t)sprintf(buf + at, "\"%s\":%d,", c, b);
    }
    at += (size_t)sprintf(buf + at, "\"he\":256,\"ll\":257,\"hell\":258,\"\\u0120w\":259,\"12\":260,\"'S\":261},"
                                    "\"merges\":[\"h e\",\"l l\",\"he ll\",[\"\\u0120\",\"w\"],\"1 2\",\"' S\"]}}");
    write_file(path, buf, at);
}

static void write_bpe_json(const char *path, const char *pre_tokenizer) {
    write_bpe_json_post(path, pre_tokenizer, "null");
}

static int encode(attnres_tok *t, const char *text, int special, int *ids) {
    char err[ATTNRES_TOK_ERRLEN];
    int n = -1;
    if (attnres_tok_encode(t, text, strlen(text), special, ids, 64, &n, err) != ATTNRES_TOK_OK) {
        printf("       encode \"%s\": %s\n", text, err);
        return -1;
    }
    return n;
}

static int same(const int *got, int n, const int *want, int m) {
    return n == m && memcmp(got, want, (size_t)n * sizeof(int)) == 0;
}

static void test_bpe(void) {
    attnres_tok *t;
    char err[ATTNRES_TOK_ERRLEN], back[64];
    int ids[64], n, i;
    size_t at = 0, k;
    static const int hello[] = {258, 'o', 259, 'o', 'r', 'l', 'd'};
    static const int digits[] = {260, 'x'};
    write_bpe_json(TMP, "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}");
    if (attnres_tok_load(&t, TMP, err) != ATTNRES_TOK_OK) { check(0, "load a hand-made tokenizer.json: %s", err); return; }
    check(attnres_tok_vocab_size(t) == 302 && attnres_tok_bos(t) == -1 && attnres_tok_eos(t) == -1,
          "tokenizer.json: 302 ids, no BOS, no EOS (%s)", attnres_tok_kind(t));
    /* "hello" -> h e l l o -> he l l o -> he ll o -> hell o; " world" -> Ġw o r l d */
    n = encode(t, "hello world", 0, ids);
    check(same(ids, n, hello, 7), "\"hello world\" -> [hell][o][Ġw][o][r][l][d] by the merge ranks");
    n = encode(t, "12x", 0, ids);
    check(same(ids, n, digits, 2), "\"12x\": GPT-2's pattern keeps a number whole: [12][x]");
    n = encode(t, "a<|end|>b", 1, ids);
    check(n == 3 && ids[1] == 300, "an added token is one id when specials are allowed");
    n = encode(t, "a<|end|>b", 0, ids);
    check(n == 9, "and ordinary text (9 bytes) when they are not");
    n = encode(t, "\xff\xfe ok \xc3", 0, ids);   /* invalid UTF-8 stays byte for byte */
    for (i = 0; n > 0 && i < n; i++) {
        if (attnres_tok_decode(t, -1, ids[i], back + at, sizeof back - at, &k, err) != ATTNRES_TOK_OK) break;
        at += k;
    }
    check(at == 7 && memcmp(back, "\xff\xfe ok \xc3", 7) == 0, "invalid UTF-8 encodes and decodes back byte-exact");
    check(attnres_tok_decode(t, -1, 258, back, 2, &k, err) == ATTNRES_TOK_ERR_RANGE, "decode into too small a buffer: %s", err);
    check(attnres_tok_decode(t, -1, 280, back, 64, &k, err) == ATTNRES_TOK_ERR_RANGE, "decode an unused id: %s", err);
    check(attnres_tok_encode(t, "hello world", 11, 0, ids, 3, &n, err) == ATTNRES_TOK_ERR_RANGE,
          "encode into too few ids: %s", err);
    attnres_tok_free(t);
}

/* a tokenizer.bin: <unk>, \n<s>\n, \n</s>\n, <0x00>..<0xFF> (ids 3..258),
   then 259 " ", 260 "a", 261 "b", 262 " a" (score -1), 263 "ab" (-2), 264 " ab" (-3) */
static void test_bin(void) {
    static unsigned char buf[8192];
    const char *pieces[6] = {" ", "a", "b", " a", "ab", " ab"};
    const float scores[6] = {0, 0, 0, -1, -2, -3};
    char name[16], err[ATTNRES_TOK_ERRLEN], back[16];
    int32_t v = 6;
    size_t at = 4, k;
    int i, ids[64], n;
    attnres_tok *t;
    static const int e_acute[] = {259, 3 + 0xC3, 3 + 0xA9};
    memcpy(buf, &v, 4);
#define PUT(str, sc) do { float s_ = (sc); int32_t l_ = (int32_t)strlen(str); \
        memcpy(buf + at, &s_, 4); memcpy(buf + at + 4, &l_, 4); memcpy(buf + at + 8, str, (size_t)l_); at += 8 + (size_t)l_; } while (0)
    PUT("<unk>", 0); PUT("\n<s>\n", 0); PUT("\n</s>\n", 0);
    for (i = 0; i < 256; i++) { sprintf(name, "<0x%02X>", i); PUT(name, 0); }
    for (i = 0; i < 6; i++) PUT(pieces[i], scores[i]);
#undef PUT
    write_file(TMP, buf, at);
    if (attnres_tok_load(&t, TMP, err) != ATTNRES_TOK_OK) { check(0, "load a hand-made tokenizer.bin: %s", err); return; }
    check(attnres_tok_vocab_size(t) == 265 && attnres_tok_bos(t) == 1 && attnres_tok_eos(t) == 2,
          "tokenizer.bin: 265 pieces, BOS 1, EOS 2 (%s)", attnres_tok_kind(t));
    /* "ab" -> [ ][a][b] -> " a" scores -1 > "ab" -2 -> [ a][b] -> [ ab] */
    n = encode(t, "ab", 0, ids);
    check(n == 1 && ids[0] == 264, "\"ab\" -> dummy prefix, then the best-scoring merges -> [ ab]");
    n = encode(t, "\xc3\xa9", 0, ids);
    check(same(ids, n, e_acute, 3), "\"\\u00e9\" (not a piece) -> [ ][<0xC3>][<0xA9>] by byte fallback");
    check(attnres_tok_decode(t, 1, 264, back, sizeof back, &k, err) == ATTNRES_TOK_OK && k == 2 && memcmp(back, "ab", 2) == 0,
          "decoding after BOS drops the dummy-prefix space");
    check(attnres_tok_decode(t, 5, 3 + 0xC3, back, sizeof back, &k, err) == ATTNRES_TOK_OK && k == 1 &&
          (unsigned char)back[0] == 0xC3, "<0xC3> decodes to the byte 0xC3");
    attnres_tok_free(t);
    /* truncated and lying files */
    write_file(TMP, buf, at - 3);
    check(attnres_tok_load(&t, TMP, err) == ATTNRES_TOK_ERR_FORMAT && strstr(err, "cut short"), "truncated tokenizer.bin: %s", err);
    v = -4;
    memcpy(buf + 4 + 4, &v, 4);   /* the length of piece 0 */
    write_file(TMP, buf, at);
    check(attnres_tok_load(&t, TMP, err) == ATTNRES_TOK_ERR_FORMAT && strstr(err, "length -4"), "negative piece length: %s", err);
    v = 0;
    memcpy(buf, &v, 4);
    write_file(TMP, buf, at);
    check(attnres_tok_load(&t, TMP, err) == ATTNRES_TOK_ERR_FORMAT && strstr(err, "max_token_length"), "max_token_length 0: %s", err);
}

static void expect_bad_json(const char *json, const char *needle, const char *what) {
    attnres_tok *t = NULL;
    char err[ATTNRES_TOK_ERRLEN] = "";
    int rc;
    write_file(TMP, json, strlen(json));
    rc = attnres_tok_load(&t, TMP, err);
    check(rc == ATTNRES_TOK_ERR_FORMAT && t == NULL && strstr(err, needle) != NULL, "%s: \"%s\"", what, err);
    attnres_tok_free(t);
}

static void test_malformed(void) {
    attnres_tok *t;
    char err[ATTNRES_TOK_ERRLEN];
    expect_bad_json("{\"model\": {\"type\": \"BPE\", ", "ends early", "truncated JSON");
    expect_bad_json("{\"model\": \"\\q\"}", "unknown escape", "bad escape");
    expect_bad_json("{\"a\": \"\\ud800\"}", "surrogate", "unpaired surrogate");
    expect_bad_json("{\"a\": \"x\\u0000\"}", "\\u0000", "a NUL inside a string (strings are NUL-terminated in place)");
    expect_bad_json("{\"model\": {\"type\": \"WordPiece\"}}", "WordPiece", "another model type");
    expect_bad_json("{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true}}", "byte_fallback", "SentencePiece-style BPE");
    expect_bad_json("{\"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                    "Whitespace", "unknown pre-tokenizer");
    expect_bad_json("{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": "
                    "{\"Regex\": \"\\\\w+\"}, \"behavior\": \"Isolated\"}, {\"type\": \"ByteLevel\", \"use_regex\": false}]}, "
                    "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", "\\w+", "unknown split pattern");
    expect_bad_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
                    "not an integer", "negative id");
    expect_bad_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}",
                    "two vocab entries", "duplicate id");
    expect_bad_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"ab\"]}}",
                    "not two tokens", "merge without a space");
    expect_bad_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a a\"]}}",
                    "the token it makes is not in model.vocab", "merge whose token is not in the vocab");
    expect_bad_json("{\"added_tokens\": [{\"id\": 0, \"content\": \"x\", \"lstrip\": true}], \"pre_tokenizer\": "
                    "{\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                    "added_tokens[0].lstrip is true", "an added token with lstrip (not implemented)");
    expect_bad_json("{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"_\"}, \"model\": {\"type\": \"BPE\", "
                    "\"vocab\": {\"a\": 0}, \"merges\": []}}", "replacement must be U+2581", "Metaspace with another replacement");
    expect_bad_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}",
                    "neither", "merge pair of one");
    expect_bad_json("{\"normalizer\": {\"type\": \"Lowercase\"}, \"model\": {\"type\": \"BPE\"}}", "Lowercase", "unsupported normalizer");
    check(attnres_tok_load(&t, "build/no/such/tokenizer.json", err) == ATTNRES_TOK_ERR_IO, "missing file: \"%s\"", err);
}

/* The regex of a Split pre-tokenizer as a JSON string's body (\ doubled). */
static const char *split_json(const char *regex) {
    static char buf[1024];
    size_t at = 0, i;
    at += (size_t)sprintf(buf, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"");
    for (i = 0; regex[i]; i++) {
        if (regex[i] == '\\') buf[at++] = '\\';
        buf[at++] = regex[i];
    }
    sprintf(buf + at, "\"},\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"use_regex\":false}]}");
    return buf;
}

/* Loads the hand-made tokenizer.json with pre_tokenizer, encodes text (specials
   allowed) and compares with want[m]. */
static void check_encoding(const char *pre_tokenizer, const char *text, const int *want, int m, const char *what) {
    attnres_tok *t;
    char err[ATTNRES_TOK_ERRLEN];
    int ids[64], n;
    write_bpe_json(TMP, pre_tokenizer);
    if (attnres_tok_load(&t, TMP, err) != ATTNRES_TOK_OK) { check(0, "%s: load: %s", what, err); return; }
    n = encode(t, text, 1, ids);
    check(same(ids, n, want, m), "%s (got %d ids, first %d)", what, n, n > 0 ? ids[0] : -1);
    attnres_tok_free(t);
}

/* Each rule of the pre-tokenizers that changes ids, with a merge ("1 2",
   "' S") that shows whether the rule split the text: a mutated rule fails. */
static void test_pretokenizer_rules(void) {
    static const char re_llama3[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static const char re_qwen2[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static const char gpt2[] = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}";
    static const char smollm2[] = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},"
                                  "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}]}";
    static const int qwen2_123[] = {'1', '2', '3'}, llama3_1234[] = {260, '3', '4'}, gpt2_x12[] = {'x', 260};
    static const int smol_x12[] = {'x', '1', '2'}, gpt2_aps[] = {'A', '\'', 'S'}, llama3_aps[] = {'A', 261};
    static const int end[] = {300}, en[] = {301, 'x'};
    check_encoding(split_json(re_qwen2), "123", qwen2_123, 3, "Qwen2 pattern: one digit per pre-token, \"123\" -> [1][2][3]");
    check_encoding(split_json(re_llama3), "1234", llama3_1234, 3, "Llama 3 pattern: up to three digits, \"1234\" -> [12][3][4]");
    check_encoding(gpt2, "x12", gpt2_x12, 2, "GPT-2 pattern: \"x12\" -> [x][12]");
    check_encoding(smollm2, "x12", smol_x12, 3, "SmolLM2's Digits(individual) + ByteLevel: \"x12\" -> [x][1][2]");
    check_encoding(gpt2, "A'S", gpt2_aps, 3, "GPT-2's contractions are case-sensitive: \"A'S\" -> [A]['][S]");
    check_encoding(split_json(re_llama3), "A'S", llama3_aps, 2, "Llama 3's are not: \"A'S\" -> [A]['S]");
    check_encoding(gpt2, "<|end|>", end, 1, "overlapping added tokens: the longest matches, \"<|end|>\" -> [<|end|>]");
    check_encoding(gpt2, "<|enx", en, 2, "and the shorter one where the longer does not: \"<|enx\" -> [<|en][x]");
}

/* BOS and EOS of a tokenizer.json from its post-processor and added tokens. */
static void check_bos_eos(const char *post_processor, int bos, int eos, const char *what) {
    attnres_tok *t;
    char err[ATTNRES_TOK_ERRLEN];
    write_bpe_json_post(TMP, "{\"type\":\"ByteLevel\"}", post_processor);
    if (attnres_tok_load(&t, TMP, err) != ATTNRES_TOK_OK) { check(0, "%s: load: %s", what, err); return; }
    check(attnres_tok_bos(t) == bos && attnres_tok_eos(t) == eos, "%s: BOS %d, EOS %d (want %d, %d)", what,
          attnres_tok_bos(t), attnres_tok_eos(t), bos, eos);
    attnres_tok_free(t);
}

static void test_bos_eos(void) {
    attnres_tok *t;
    char err[ATTNRES_TOK_ERRLEN];
    static const char eot[] = "{\"added_tokens\":[{\"id\":1,\"content\":\"<|endoftext|>\"}],\"pre_tokenizer\":{\"type\":\"ByteLevel\"},"
                              "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}";
    /* the specials of this file exist only in added_tokens, as Llama 3's do */
    check_bos_eos("{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<|en\",\"type_id\":0}},"
                  "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"<|end|>\",\"type_id\":0}}]}",
                  301, 300, "template [<|en], $A, [<|end|>]");
    check_bos_eos("{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\",\"trim_offsets\":false},"
                  "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<|en\",\"type_id\":0}},"
                  "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}]}]}",
                  301, -1, "Sequence [ByteLevel, template [<|en], $A] ] (Llama 3's layout)");
    check_bos_eos("{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
                  "{\"SpecialToken\":{\"id\":\"<|end|>\",\"type_id\":0}}]}", -1, 300, "template $A, [<|end|>]: EOS only");
    write_file(TMP, eot, strlen(eot));
    if (attnres_tok_load(&t, TMP, err) != ATTNRES_TOK_OK) { check(0, "load: %s", err); return; }
    check(attnres_tok_bos(t) == -1 && attnres_tok_eos(t) == 1, "no template: EOS is the added token <|endoftext|> (%d)",
          attnres_tok_eos(t));
    attnres_tok_free(t);
}

/* A directory or a device is not read as a file of 2^63 or 0 bytes. */
static void test_not_a_file(void) {
    attnres_tok *t;
    char err[ATTNRES_TOK_ERRLEN] = "";
    check(attnres_tok_load(&t, "build", err) == ATTNRES_TOK_ERR_IO && strstr(err, "is a directory"), "a directory: \"%s\"", err);
    check(attnres_tok_load(&t, "/dev/null", err) == ATTNRES_TOK_ERR_IO && strstr(err, "is a device"), "/dev/null: \"%s\"", err);
}

/* A SentencePiece-style tokenizer.json: <unk> <s> </s> <0xC3> <0xA9> (ids
   0-4), then 5 "▁", 6 "a", 7 "b", 8 "▁a", 9 "ab", 10 "▁ab"; merges by rank
   "▁ a", "a b", "▁a b"; Prepend + Replace, byte fallback, fuse_unk. */
static void test_hf_spm(void) {
    attnres_tok *t;
    char err[ATTNRES_TOK_ERRLEN], back[16];
    int ids[64], n, i;
    size_t at = 0, k;
    static const int abab[] = {10, 10}, acute[] = {5, 3, 4}, unk[] = {5, 0}, bos_a[] = {1, 8};
    static const char json[] = "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},"
        "{\"id\":1,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},\"pre_tokenizer\":null,"
        "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
        "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}]},"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},"
        "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \","
        "\"start\":1,\"stop\":0}]},\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,"
        "\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"<0xC3>\":3,\"<0xA9>\":4,\"\\u2581\":5,"
        "\"a\":6,\"b\":7,\"\\u2581a\":8,\"ab\":9,\"\\u2581ab\":10},"
        "\"merges\":[\"\\u2581 a\",\"a b\",\"\\u2581a b\"]}}";
    write_file(TMP, json, strlen(json));
    if (attnres_tok_load(&t, TMP, err) != ATTNRES_TOK_OK) { check(0, "load a SentencePiece-style tokenizer.json: %s", err); return; }
    check(attnres_tok_bos(t) == 1, "SentencePiece-style tokenizer.json: BOS <s> from the template (%s)", attnres_tok_kind(t));
    /* "▁ab▁ab": ▁ a b ▁ a b -> (rank 0, leftmost first) ▁a b ▁a b -> (rank 2) ▁ab ▁ab */
    n = encode(t, "ab ab", 0, ids);
    check(same(ids, n, abab, 2), "\"ab ab\" -> [▁ab][▁ab]: U+2581 in front and for the space, merges by rank");
    n = encode(t, "\xc3\xa9", 0, ids);
    check(same(ids, n, acute, 3), "\"é\" (not a piece) -> [▁][<0xC3>][<0xA9>] by byte fallback");
    for (i = 0; n > 0 && i < n; i++) {
        if (attnres_tok_decode(t, i ? ids[i - 1] : -1, ids[i], back + at, sizeof back - at, &k, err) != ATTNRES_TOK_OK) break;
        at += k;
    }
    check(at == 2 && memcmp(back, "\xc3\xa9", 2) == 0, "and decodes back to \"é\": the first token's space stripped, bytes joined");
    n = encode(t, "cc", 0, ids);
    check(same(ids, n, unk, 2), "\"cc\" (no piece, no byte pieces) -> [▁][<unk>]: fuse_unk makes one unknown of two");
    n = encode(t, "<s>a", 1, ids);
    check(same(ids, n, bos_a, 2), "\"<s>a\" -> [<s>][▁a]: the text after an added token gets its own U+2581");
    attnres_tok_free(t);
}

/* NFC: "e" + U+0301 is composed to "é" (bytes C3 A9, the byte-level
   characters Ã ©) before the BPE, which knows only the composed form. */
static void test_nfc(void) {
    attnres_tok *t;
    char err[ATTNRES_TOK_ERRLEN];
    int ids[64], n;
    static const int one[] = {3};
    static const char json[] = "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"ByteLevel\"},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"e\":0,\"\\u00c3\":1,\"\\u00a9\":2,\"\\u00c3\\u00a9\":3},"
        "\"merges\":[\"\\u00c3 \\u00a9\"]}}";
    write_file(TMP, json, strlen(json));
    if (attnres_tok_load(&t, TMP, err) != ATTNRES_TOK_OK) { check(0, "load a tokenizer.json with NFC: %s", err); return; }
    n = encode(t, "e\xcc\x81", 0, ids);
    check(same(ids, n, one, 1), "NFC: \"e\" + U+0301 -> \"é\" -> [Ã©]");
    n = encode(t, "\xc3\xa9", 0, ids);
    check(same(ids, n, one, 1), "NFC: the composed \"é\" -> the same [Ã©]");
    attnres_tok_free(t);
}

static void test_utf8_ready(void) {
    check(attnres_tok_utf8_ready("a\xc3", 2) == 1, "utf8_ready holds back a cut 2-byte sequence");
    check(attnres_tok_utf8_ready("\xe2\x82", 2) == 0, "utf8_ready holds back a cut 3-byte sequence");
    check(attnres_tok_utf8_ready("\xe2\x82\xac", 3) == 3, "utf8_ready releases a complete one");
    check(attnres_tok_utf8_ready("x\xff", 2) == 2, "utf8_ready releases an invalid byte (nothing completes it)");
    check(attnres_tok_utf8_ready("\xf0\x9f\x98", 3) == 0, "utf8_ready holds back 3 of an emoji's 4 bytes");
}

int main(void) {
    test_bpe();
    test_bin();
    test_malformed();
    test_pretokenizer_rules();
    test_bos_eos();
    test_not_a_file();
    test_utf8_ready();
    test_hf_spm();
    test_nfc();
    remove(TMP);
    return check_summary("test_tokenizer");
}
