/* attnres-run.c - generate text with a trained attnres model, and draw where
   its sublayers look in depth.

     attnres-run models/block.safetensors -p "The little robot" -n 200
     attnres-run models/block.safetensors -t 0 --heatmap depth.png --alpha alpha.csv
     printf 'One day' | attnres-run models/full.safetensors -f - --probs 5

   One file, read top to bottom: the command line, the byte-level tokenizer,
   the depth-attention heatmap (a PNG written with stb_image_write, labels
   drawn with stb_easy_font, both from libstb-dev), writing a file whole,
   the exports, then the generation loop and main.

   Tokenizer: byte-level. Token id = byte value, no BOS/EOS, so a prompt is
   its bytes and every byte must be < vocab_size. With --tokenizer FILE (an
   imported model's tokenizer.json or llama2.c tokenizer.bin, tools/tokenizer.c)
   the prompt is encoded by it, BOS first if it has one, and every new token is
   printed as its text (special tokens as nothing, unless --special).

   End of sequence: generation stops after a token the checkpoint's
   eos_token_id names (an imported config's) or the tokenizer's EOS, and says
   so on stderr, unless --ignore-eos.

   Context: the prompt plus the new tokens must fit in the model's seq_len;
   otherwise the program stops before it starts, saying how many new tokens
   would fit (it never truncates silently). The state (KV-cache) is made for
   exactly prompt + new tokens positions (attnres_state_init_ctx), not for
   seq_len: a model with seq_len 2^20 costs what the run uses.

   Output: stdout gets the prompt, then each new byte as soon as it is
   sampled, then one newline. Printable ASCII, newline, tab and valid UTF-8
   are written as they are; every other byte (C0 controls, DEL, the UTF-8
   encodings of the C1 controls U+0080..U+009F, bytes that are not valid
   UTF-8) is written as \xNN, so neither the prompt nor what a model emits
   can drive the terminal. A token id >= 256 (a model whose vocab_size
   exceeds the bytes) is not a byte and is written as <ID>, e.g. <299>.
   (A model that emits the bytes "<299>" or "\x1b" looks the same: the
   escapes are for reading, not for parsing back.) Statistics go to stderr.
   A failed write to stdout (a full disk, /dev/full) stops the generation:
   exit 1 and a message.

   Heatmap: the picture is bounded (at most 4096 px a side): deep models get
   smaller cells, down to 1 px, without the per-cell values and with fewer
   labels. The file is written to a temporary file next to it and renamed
   over it only when complete, so a failed write (full disk, file size
   limit) leaves no partial file and an existing file untouched; a target
   that exists and is not a regular file (/dev/full, a FIFO) is written in
   place; a symbolic link's target is replaced, not the link.

   Exports (formats in docs/cli.md): --alpha FILE writes every depth weight
   the heatmap averages, one row per position x reading sublayer x source,
   the partial sum of a block labelled "partial"; --probs K the K most likely
   next tokens at every generated position (to stdout in place of the text,
   or to --probs-file FILE), each with its text: with --tokenizer the
   tokenizer's piece, without it the byte (ids below 256 are bytes only in
   a byte-level model). CSV, or JSON lines for a name ending .jsonl.
   Files are written like the heatmap: whole, or not at all.

   Outputs are not inputs: an output (--alpha, --probs-file, --heatmap, and
   stdout) that is the model, -f's file (or stdin), the --tokenizer file or
   another output is refused before anything is written (exit 2). Files are
   compared, not names (device and inode), so ./x, a/../x, a hard or
   symbolic link, /dev/stdout and `>> model` are all caught, and two new
   outputs by the same directory and name too.

   Messages quote file names and argument values with control characters
   escaped (attnres_escape), so they cannot drive the terminal either.

   Exit status: 0 success, 1 the model could not be loaded or run, or an
   output (stdout, the PNG) could not be written, 2 a bad command line (the
   message names the argument and what it accepts).

   Build: make build/default/attnres-run (see mk/run.mk). */
#define _XOPEN_SOURCE 700 /* POSIX 2008 + XSI under -std=c99: clock_gettime, fsync, realpath */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* Weights on 2 MiB pages, as tools/bench.c allocates them: one token reads
   every weight once, and on 4 KiB pages each of those pages costs a TLB
   miss. Linux's transparent huge pages in "madvise" mode (Debian's
   default) back only 2 MiB-aligned ranges the program asks for, so every
   allocation of 2 MiB or more goes through posix_memalign + madvise
   (MADV_HUGEPAGE); smaller ones, and other systems, get plain malloc.
   Any program can do the same: define ATTNRES_MALLOC / ATTNRES_FREE before
   including attnres.h with the implementation (memory from posix_memalign
   is released with free). ATTNRES_HUGEPAGES=0 in the environment turns it
   off, to compare. */
static void *run_malloc(size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    const char *off = getenv("ATTNRES_HUGEPAGES");
    if (size >= huge && size <= SIZE_MAX - huge && !(off && !strcmp(off, "0"))) {
        void *p = NULL;
        size_t rounded = (size + huge - 1) / huge * huge;   /* whole huge pages */
        if (posix_memalign(&p, huge, rounded) != 0) return NULL;
        (void)madvise(p, rounded, MADV_HUGEPAGE);           /* a request: without THP, 4 KiB pages */
        return p;
    }
#endif
    return malloc(size);
}
#define ATTNRES_MALLOC(sz) run_malloc(sz)
#define ATTNRES_FREE(p)    free(p)
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "tokenizer.h"   /* --tokenizer; tools/tokenizer.c is linked in (mk/run.mk) */
#define CLI_PROGRAM "attnres-run"
#include "cli_args.h"    /* q(), bad_argument(), parse_int(), parse_seed(), is_flag(), value_of(), split_inline() */

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO   /* only stbi_write_png_to_mem: every write is ours, and checked */
#include "stb_image_write.h"
#include "stb_easy_font.h"

/* ======================================================================== */
/* Command line                                                              */
/* ======================================================================== */

#define DEFAULT_PROMPT      "The little robot"
#define DEFAULT_TOKENS      200
#define DEFAULT_TEMPERATURE 0.8
#define DEFAULT_TOPP        0.9
#define DEFAULT_SEED        42
#define MAX_TOKENS          (1 << 20)  /* the library's largest seq_len */

typedef struct {
    const char *model_path;
    const char *prompt;        /* the prompt's bytes (a file's may hold NULs) */
    int         prompt_len;    /* bytes in prompt                            */
    char       *prompt_buf;    /* what -f read (prompt points here); freed by main */
    const char *prompt_path;   /* -f's FILE ("-": stdin); NULL with -p       */
    const char *prompt_from;   /* for messages: "-p/--prompt" or "-f FILE"   */
    char        prompt_from_buf[80];
    int         n_tokens;      /* new tokens to generate                     */
    float       temperature;   /* 0: greedy                                  */
    float       topp;          /* (0, 1]; 1: no nucleus cut                  */
    uint64_t    seed;
    int         path;          /* an attnres_path                            */
    const char *heatmap_path;  /* NULL: no heatmap                           */
    const char *alpha_path;    /* NULL: no --alpha export                    */
    int         probs_k;       /* 0: no --probs; else the top K per position */
    const char *probs_path;    /* NULL: --probs rows go to stdout            */
    int         quiet;
    const char *tokenizer_path; /* NULL: byte-level                          */
    int         quantize;       /* --quantize q8 or w8a8: group size 32; 0: as stored */
    int         int8_activations; /* --quantize w8a8: 1; q8: 0; not given: -1 (as stored) */
    int         ignore_eos;     /* 1: generate all -n tokens, EOS or not       */
    int         special;        /* 1: print special tokens (EOS, <|im_end|>) as their text */
} options;

static void usage(FILE *out) {
    fprintf(out,
        "usage: attnres-run MODEL.safetensors [options]\n"
        "Generates text with a byte-level attnres model (token id = byte value).\n"
        "  -p, --prompt TEXT      the prompt, at least one byte (default \"%s\")\n"
        "  -f, --prompt-file FILE the prompt is FILE's bytes, exactly (a final newline\n"
        "                         included); - reads stdin\n"
        "  -n, --tokens N         new tokens to generate, >= 0; prompt + N must fit\n"
        "                         in the model's seq_len (default %d)\n"
        "  -t, --temperature T    sampling temperature in [0, 100]; 0 = greedy, and so is a\n"
        "                         T that is 0 as a float (below ~7e-46): the limit T -> 0+\n"
        "                         (default %.1f)\n"
        "      --top-p P          nucleus sampling mass in (0, 1]; 1 = off (default %.1f)\n"
        "  -s, --seed S           random seed, an integer >= 0 (default %d)\n"
        "      --path P           how depth attention is computed: direct | two-phase\n"
        "                         (default direct; same result, ignored for standard models)\n"
        "      --heatmap FILE.png write the depth-attention weights, averaged over every\n"
        "                         position processed, as a PNG (AttnRes models only)\n"
        "      --alpha FILE       write every depth weight: one row per position x reading\n"
        "                         sublayer x source (CSV; JSON lines if FILE ends .jsonl)\n"
        "      --probs K          the top K next-token probabilities (softmax at T = 1) at\n"
        "                         every generated position, as CSV on stdout instead of\n"
        "                         the text, or to --probs-file\n"
        "      --probs-file FILE  write --probs there (CSV; JSON lines if FILE ends .jsonl)\n"
        "                         and keep the text on stdout\n"
        "      --tokenizer FILE   encode the prompt and print tokens with an imported model's\n"
        "                         tokenizer.json or llama2.c tokenizer.bin (default: byte-level)\n"
        "      --quantize q8      int8 weights, groups of 32, made at load (a q8 checkpoint\n"
        "                         is int8 already); activations stay fp32\n"
        "      --quantize w8a8    the same, and every matvec input is rounded to int8 too\n"
        "                         (faster; a second rounding). Without --quantize a q8\n"
        "                         checkpoint runs as stored\n"
        "      --ignore-eos       do not stop at an end-of-sequence token (the checkpoint's\n"
        "                         eos_token_id, or the tokenizer's EOS): generate all N\n"
        "      --special          print special tokens (EOS, <|im_end|>, ...) as their text;\n"
        "                         by default they print as nothing\n"
        "  -q, --quiet            no statistics or depth-weight table on stderr\n"
        "  -h, --help             this message\n"
        "      --version          the version (attnres.h's ATTNRES_VERSION_STRING)\n"
        "Every long option also takes the form --option=VALUE.\n"
        "Output: the prompt and the new bytes; control bytes, C1 controls and invalid\n"
        "UTF-8 as \\xNN, token ids >= 256 as <ID>. Files are written whole or not at all.\n"
        "Formats: docs/cli.md. Exit status: 0 ok, 1 model or output error, 2 bad arguments.\n",
        DEFAULT_PROMPT, DEFAULT_TOKENS, DEFAULT_TEMPERATURE, DEFAULT_TOPP, DEFAULT_SEED);
}

/* A finite decimal number (the caller checks its range); `accepted` says
   what the option takes, for the message. */
static double parse_number(const char *flag, const char *s, const char *accepted) {
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || isspace((unsigned char)s[0]) || !isfinite(v))
        bad_argument("%s: '%s' is not %s", q(flag), q(s), accepted);
    return v;
}

/* A file name option's value: not empty. */
static const char *file_of(const char *a, const char *v) {
    if (v[0] == '\0') bad_argument("%s: the file name is empty", q(a));
    return v;
}

/* -f: the prompt is the bytes of path ("-": stdin), exactly. The library's
   largest context bounds it, so a huge file is refused, not read whole. */
static void read_prompt_file(options *o, const char *flag, const char *path) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    size_t n = 0, cap = MAX_TOKENS + 1;
    char *buf;
    if (!f) bad_argument("%s: cannot read '%s': %s", q(flag), q(path), strerror(errno));
    if (!(buf = (char *)malloc(cap))) bad_argument("%s: out of memory", q(flag));
    n = fread(buf, 1, cap, f);
    if (ferror(f)) { free(buf); bad_argument("%s: cannot read '%s': %s", q(flag), q(path), strerror(errno)); }
    if (f != stdin) fclose(f);
    if (n == cap) {
        free(buf);
        bad_argument("%s: '%s' holds more than %d bytes, the largest context there is", q(flag), q(path),
                     MAX_TOKENS);
    }
    if (n == 0) { free(buf); bad_argument("%s: '%s' is empty; the prompt needs at least one byte", q(flag), q(path)); }
    o->prompt_buf = buf;
    o->prompt = buf;
    snprintf(o->prompt_from_buf, sizeof o->prompt_from_buf, "%s %s", flag, q(path));
    o->prompt_from = o->prompt_from_buf;
    o->prompt_len = (int)n;
}

static void parse_args(options *o, int argc, char **argv) {
    int i;
    const char *prompt_flag = NULL, *prompt_file = NULL, *probs_file_flag = NULL;
    o->model_path = NULL;
    o->prompt = DEFAULT_PROMPT;
    o->prompt_len = (int)strlen(DEFAULT_PROMPT);
    o->prompt_buf = NULL;
    o->prompt_path = NULL;
    o->prompt_from = "-p/--prompt";
    o->n_tokens = DEFAULT_TOKENS;
    o->temperature = (float)DEFAULT_TEMPERATURE;
    o->topp = (float)DEFAULT_TOPP;
    o->seed = DEFAULT_SEED;
    o->path = ATTNRES_PATH_DIRECT;
    o->heatmap_path = NULL;
    o->alpha_path = NULL;
    o->probs_k = 0;
    o->probs_path = NULL;
    o->quiet = 0;
    o->tokenizer_path = NULL;
    o->quantize = 0;
    o->int8_activations = -1;
    o->ignore_eos = 0;
    o->special = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v, *inl = NULL;
        char name[32];
        double x;
        float f;
        /* --option=VALUE: the name before '=', the value after it */
        if ((inl = split_inline(&a, name, sizeof name)) != NULL) {
            if (!strcmp(a, "--help") || !strcmp(a, "--quiet") || !strcmp(a, "--version") ||
                !strcmp(a, "--ignore-eos") || !strcmp(a, "--special"))
                bad_argument("%s: takes no value (got '%s')", q(a), q(inl));
        }
        if (is_flag(a, "-h", "--help")) {
            usage(stdout);
            exit(0);
        } else if (is_flag(a, NULL, "--version")) {
            printf("attnres-run %s\n", ATTNRES_VERSION_STRING);
            exit(fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1);
        } else if (is_flag(a, "-q", "--quiet")) {
            o->quiet = 1;
        } else if (is_flag(a, NULL, "--ignore-eos")) {
            o->ignore_eos = 1;
        } else if (is_flag(a, NULL, "--special")) {
            o->special = 1;
        } else if (is_flag(a, "-p", "--prompt")) {
            v = value_of(a, inl, &i, argc, argv);
            if (v[0] == '\0') bad_argument("%s: the prompt is empty; it needs at least one byte", q(a));
            if (prompt_file) bad_argument("%s: the prompt is already read from a file (-f); give one of them", q(a));
            o->prompt = v;
            o->prompt_len = (int)strlen(v);
            prompt_flag = strcmp(a, "-p") ? "--prompt" : "-p";   /* a literal: a may be a loop-local copy */
        } else if (is_flag(a, "-f", "--prompt-file")) {
            v = file_of(a, value_of(a, inl, &i, argc, argv));
            if (prompt_flag) bad_argument("%s: the prompt is already given (-p); give one of them", q(a));
            if (prompt_file) bad_argument("%s: given twice", q(a));
            prompt_file = v;
            prompt_flag = strcmp(a, "-f") ? "--prompt-file" : "-f";
        } else if (is_flag(a, "-n", "--tokens")) {
            o->n_tokens = (int)parse_int(a, value_of(a, inl, &i, argc, argv), 0, MAX_TOKENS);
        } else if (is_flag(a, "-t", "--temperature")) {
            const char *accepted = "a number in [0, 100] (0 = greedy)";
            v = value_of(a, inl, &i, argc, argv);
            x = parse_number(a, v, accepted);
            f = (float)x;   /* checked as stored; a T that is 0 as a float is greedy (see usage) */
            if (!(f >= 0.0f && f <= 100.0f)) bad_argument("%s: '%s' is not %s", q(a), q(v), accepted);
            o->temperature = f;
        } else if (is_flag(a, NULL, "--top-p")) {
            const char *accepted = "a number in (0, 1] (1 = no nucleus cut)";
            v = value_of(a, inl, &i, argc, argv);
            x = parse_number(a, v, accepted);
            f = (float)x;   /* checked as stored: 1e-46 is 0 as a float, and 0 means "off" */
            if (!(f > 0.0f && f <= 1.0f))
                bad_argument("%s: '%s' is not %s%s", q(a), q(v), accepted,
                             x > 0.0 && f == 0.0f ? " (it is 0 as a float)" : "");
            o->topp = f;
        } else if (is_flag(a, "-s", "--seed")) {
            o->seed = parse_seed(a, value_of(a, inl, &i, argc, argv));
        } else if (is_flag(a, NULL, "--path")) {
            v = value_of(a, inl, &i, argc, argv);
            if (!strcmp(v, "direct")) o->path = ATTNRES_PATH_DIRECT;
            else if (!strcmp(v, "two-phase")) o->path = ATTNRES_PATH_TWO_PHASE;
            else bad_argument("%s: '%s' is not one of: direct, two-phase", q(a), q(v));
        } else if (is_flag(a, NULL, "--quantize")) {
            v = value_of(a, inl, &i, argc, argv);
            if (strcmp(v, "q8") != 0 && strcmp(v, "w8a8") != 0)
                bad_argument("%s: '%s' is not one of: q8, w8a8", q(a), q(v));
            o->quantize = 32;
            o->int8_activations = strcmp(v, "w8a8") == 0;
        } else if (is_flag(a, NULL, "--heatmap")) {
            v = value_of(a, inl, &i, argc, argv);
            o->heatmap_path = file_of(a, v);
        } else if (is_flag(a, NULL, "--alpha")) {
            o->alpha_path = file_of(a, value_of(a, inl, &i, argc, argv));
        } else if (is_flag(a, NULL, "--probs")) {
            o->probs_k = (int)parse_int(a, value_of(a, inl, &i, argc, argv), 1, INT_MAX);
        } else if (is_flag(a, NULL, "--probs-file")) {
            o->probs_path = file_of(a, value_of(a, inl, &i, argc, argv));
            probs_file_flag = "--probs-file";
        } else if (is_flag(a, NULL, "--tokenizer")) {
            o->tokenizer_path = file_of(a, value_of(a, inl, &i, argc, argv));
        } else if (inl) {
            bad_argument("%s: unknown option (or one that takes no value)", q(a));
        } else if (a[0] == '-' && a[1] != '\0') {
            bad_argument("%s: unknown option", q(a));
        } else if (o->model_path) {
            bad_argument("%s: unexpected argument (the model is already '%s')", q(a), q(o->model_path));
        } else {
            o->model_path = a;
        }
    }
    if (!o->model_path) {
        usage(stderr);
        bad_argument("MODEL.safetensors: missing (the first argument)");
    }
    if (probs_file_flag && !o->probs_k) bad_argument("%s: needs --probs K (how many tokens per position)", q(probs_file_flag));
    if (prompt_file) read_prompt_file(o, prompt_flag, prompt_file);
    o->prompt_path = prompt_file;
}

/* ======================================================================== */
/* Outputs must not be inputs                                                */
/* ======================================================================== */

/* A file as the system knows it, whatever the spelling (./x, a/../x, a
   symbolic link, a hard link): device and inode. A file that does not exist
   yet (a new output) is its directory's device and inode and its last name.
   A character device (a terminal, /dev/null) holds nothing to overwrite and
   is never "the same file" as anything. */
typedef struct {
    const char *flag, *path;  /* for messages: "--alpha" and its value, or "stdout", NULL */
    int known;                /* 0: not found (the open or load says why later) */
    int is_new;               /* dev, ino are the directory's; name the file's  */
    dev_t dev;
    ino_t ino;
    const char *name;         /* is_new: the last component of path             */
} file_id;

static void id_of_stat(file_id *f, const struct stat *st) {
    f->known = !S_ISCHR(st->st_mode);
    f->dev = st->st_dev;
    f->ino = st->st_ino;
}

/* The identity of path; fd >= 0 instead: of that open descriptor. */
static file_id file_id_of(const char *flag, const char *path, int fd) {
    file_id f;
    struct stat st;
    memset(&f, 0, sizeof f);
    f.flag = flag;
    f.path = path;
    if (fd >= 0 ? fstat(fd, &st) == 0 : stat(path, &st) == 0) {
        id_of_stat(&f, &st);
    } else if (fd < 0 && errno == ENOENT) {   /* new: the directory it goes in, and its name */
        const char *slash = strrchr(path, '/');
        char dir[PATH_MAX];
        if (!slash) snprintf(dir, sizeof dir, ".");
        else if (slash == path) snprintf(dir, sizeof dir, "/");
        else if ((size_t)(slash - path) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        else return f;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
            id_of_stat(&f, &st);
            f.is_new = 1;
            f.name = slash ? slash + 1 : path;
        }
    }
    return f;
}

static int same_file(const file_id *a, const file_id *b) {
    return a->known && b->known && a->is_new == b->is_new && a->dev == b->dev && a->ino == b->ino &&
           (!a->is_new || !strcmp(a->name, b->name));
}

/* "--alpha 'x'", or "stdout" */
static const char *describe(char *buf, size_t size, const file_id *f) {
    if (f->path) snprintf(buf, size, "%s '%s'", f->flag, q(f->path));
    else snprintf(buf, size, "%s", f->flag);
    return buf;
}

/* Refuses (exit 2, before anything is written) a command line whose
   outputs (--alpha, --probs-file, --heatmap, and stdout, which carries the
   text or the --probs rows) include an input (the model, -f's file or
   stdin, --tokenizer) or the same file twice: the run would overwrite what
   it reads, or two outputs would overwrite each other. */
static void check_outputs(const options *o) {
    file_id in[3], out[4];
    int n_in = 0, n_out = 0, i, j;
    char a[1100], b[1100];
    in[n_in++] = file_id_of("the model", o->model_path, -1);
    if (o->prompt_path && strcmp(o->prompt_path, "-") != 0) in[n_in++] = file_id_of("-f", o->prompt_path, -1);
    else if (o->prompt_path) in[n_in++] = file_id_of("stdin (-f -)", NULL, 0);
    if (o->tokenizer_path) in[n_in++] = file_id_of("--tokenizer", o->tokenizer_path, -1);
    out[n_out++] = file_id_of(o->probs_k && !o->probs_path ? "stdout (the --probs rows)" : "stdout (the text)", NULL, 1);
    if (o->alpha_path) out[n_out++] = file_id_of("--alpha", o->alpha_path, -1);
    if (o->probs_path) out[n_out++] = file_id_of("--probs-file", o->probs_path, -1);
    if (o->heatmap_path) out[n_out++] = file_id_of("--heatmap", o->heatmap_path, -1);
    for (i = 0; i < n_out; i++) {
        for (j = 0; j < n_in; j++)
            if (same_file(&out[i], &in[j]))
                bad_argument("%s is the same file as %s, an input; writing it would destroy what the run reads",
                             describe(a, sizeof a, &out[i]), describe(b, sizeof b, &in[j]));
        for (j = 0; j < i; j++)
            if (same_file(&out[i], &out[j]))
                bad_argument("%s is the same file as %s; each output needs its own file",
                             describe(a, sizeof a, &out[i]), describe(b, sizeof b, &out[j]));
    }
}

/* ======================================================================== */
/* Byte-level tokenizer                                                      */
/* ======================================================================== */

/* The prompt's n bytes as token ids. tokens [n]
   Returns 0 (after saying why) if a byte is not a token of the model. */
static int encode(int *tokens, const char *text, int n, int vocab_size, const char *from) {
    int i;
    for (i = 0; i < n; i++) {
        int id = (unsigned char)text[i];
        if (id >= vocab_size) {
            fprintf(stderr, "attnres-run: %s: byte 0x%02x at offset %d is not a token of this "
                            "model (byte-level, vocab_size %d: bytes 0x00..0x%02x)\n",
                    from, id, i, vocab_size, vocab_size - 1);
            return 0;
        }
        tokens[i] = id;
    }
    return 1;
}

/* With --tokenizer: BOS (if the tokenizer has one), then the ids of
   text[len]. tokens [len + 2]; *n gets the count. Returns 0 after saying why
   if the text cannot be encoded, does not fit in seq_len tokens (the
   encoder stops, or refuses up front, as soon as it knows), or an id is not
   a token of the model. */
static attnres_tok *tok;   /* NULL: byte-level */
static int tok_prev = -1;  /* the token before the next one put_token prints */
static int encode_with_tokenizer(int *tokens, int *n, const char *text, int len, int vocab_size,
                                 int seq_len, const char *from) {
    char msg[ATTNRES_TOK_ERRLEN];
    int bos = attnres_tok_bos(tok), k, i, rc;
    int room = seq_len - (bos >= 0) < len + 1 ? seq_len - (bos >= 0) : len + 1;
    if (bos >= 0) tokens[0] = bos;
    if ((rc = attnres_tok_encode(tok, text, (size_t)len, 1, tokens + (bos >= 0), room, &k, msg)) == ATTNRES_TOK_ERR_RANGE) {
        fprintf(stderr, "attnres-run: %s: the prompt (%d bytes) is more than %d tokens%s, longer than the context of "
                        "%d tokens (the model's seq_len)\n", from, len, room, bos >= 0 ? " after BOS" : "", seq_len);
        return 0;
    }
    if (rc != ATTNRES_TOK_OK) {
        fprintf(stderr, "attnres-run: %s: %s\n", from, q(msg));
        return 0;
    }
    *n = k + (bos >= 0);
    for (i = 0; i < *n; i++)
        if (tokens[i] >= vocab_size) {
            fprintf(stderr, "attnres-run: --tokenizer: token %d of the prompt is %d, past the model's vocab_size %d "
                            "(a tokenizer of another model?)\n", i, tokens[i], vocab_size);
            return 0;
        }
    return 1;
}

/* ======================================================================== */
/* End of sequence and special tokens                                        */
/* ======================================================================== */

/* Where generation stops: every id of the checkpoint's eos_token_id (the
   importer records it from config.json or generation_config.json; a chat
   model names its end of turn there too), then the tokenizer's EOS, each
   once. eos [n_eos]; eos_from [n_eos] says who named it, for the message. */
static int eos[ATTNRES_MAX_EOS + 1], n_eos;
static const char *eos_from[ATTNRES_MAX_EOS + 1];
static int show_special;   /* --special */

static int is_eos(int id) {
    int i;
    for (i = 0; i < n_eos; i++) if (eos[i] == id) return 1;
    return 0;
}

static void collect_eos(const attnres_config *c) {
    int i;
    for (i = 0; i < c->n_eos; i++)
        if (!is_eos(c->eos_token_id[i])) { eos_from[n_eos] = "the checkpoint's eos_token_id"; eos[n_eos++] = c->eos_token_id[i]; }
    if (tok && attnres_tok_eos(tok) >= 0 && !is_eos(attnres_tok_eos(tok))) {
        eos_from[n_eos] = "the tokenizer's EOS";
        eos[n_eos++] = attnres_tok_eos(tok);
    }
}

static const char *eos_source(int id) {
    int i;
    for (i = 0; i < n_eos; i++) if (eos[i] == id) return eos_from[i];
    return "";
}

/* A token that marks the text instead of being part of it: BOS, an EOS,
   or a tokenizer's special added token (<|im_end|>, <|eot_id|>). */
static int is_special(int id) { return is_eos(id) || (tok && attnres_tok_is_special(tok, id)); }

/* ======================================================================== */
/* Text output (stdout)                                                      */
/* ======================================================================== */

/* Bytes arrive one token at a time, so a UTF-8 sequence is held back until
   it is complete (or broken), then written through attnres_escape: valid
   text as it is, C1 controls and invalid bytes as \xNN. The first failed
   write is remembered (errno) and stops the generation. */
static struct {
    char pending[5];   /* an incomplete UTF-8 sequence, NUL-terminated */
    int  n_pending, need;
    int  error;        /* errno of the first failed write, 0 if none   */
} txt;

static void out_str(const char *s) {
    size_t n = strlen(s);
    if (txt.error) return;
    errno = 0;
    if (fwrite(s, 1, n, stdout) != n || ferror(stdout)) txt.error = errno ? errno : EIO;
}

/* Pushes stdout's buffer to the file; 0, or the errno of the failure. */
static int out_flush(void) {
    errno = 0;
    if (!txt.error && (fflush(stdout) == EOF || ferror(stdout))) txt.error = errno ? errno : EIO;
    return txt.error;
}

static void out_pending(void) {
    char esc[4 * 4 + 1];   /* every byte as \xNN at worst */
    if (txt.n_pending == 0) return;
    txt.pending[txt.n_pending] = '\0';
    attnres_escape(esc, sizeof esc, txt.pending);
    out_str(esc);
    txt.n_pending = 0;
}

/* One byte: printable ASCII, newline and tab as they are; UTF-8 sequences
   held until complete; everything else as \xNN. */
static void put_byte(int b) {
    char buf[8];
    if (txt.n_pending > 0) {
        if ((b & 0xC0) == 0x80) {              /* a continuation byte */
            txt.pending[txt.n_pending++] = (char)b;
            if (txt.n_pending == txt.need) out_pending();
            return;
        }
        out_pending();                         /* broken: escaped     */
    }
    if (b >= 0xC2 && b <= 0xF4) {              /* a UTF-8 lead byte   */
        txt.pending[0] = (char)b;
        txt.n_pending = 1;
        txt.need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        return;
    }
    if (b == '\n' || b == '\t' || (b >= 0x20 && b < 0x7f)) snprintf(buf, sizeof buf, "%c", b);
    else snprintf(buf, sizeof buf, "\\x%02x", (unsigned)b);
    out_str(buf);
}

/* The bytes of token id: with --tokenizer, its text as the tokenizer
   decodes it after token prev (llama2.c drops the dummy-prefix space after
   BOS); without, the byte-level rule: ids below 256 are bytes. The byte
   shortcut is only for byte-level models: a tokenizer's id 65 is whatever
   piece it is, not 'A'. *bytes points into a buffer that lives until the
   next call. Returns the count, or -1 for an id with no text (past the
   bytes of a byte-level model, unknown to the tokenizer): callers write
   <ID>. The buffer grows as a token needs, up to tok_text_max. */
static size_t tok_text_max;   /* the tokenizer file's size: no piece decodes to more */
static long token_bytes(const char **bytes, int prev, int id) {
    static char *buf, byte;
    static size_t cap;
    size_t n;
    if (!tok) {
        if (id < 0 || id >= 256) return -1;
        byte = (char)id;
        *bytes = &byte;
        return 1;
    }
    if (id < 0 || id >= attnres_tok_vocab_size(tok)) return -1;
    for (;;) {
        int rc = cap ? attnres_tok_decode(tok, prev, id, buf, cap, &n, NULL) : ATTNRES_TOK_ERR_RANGE;
        if (rc == ATTNRES_TOK_OK) {
            *bytes = buf;
            return (long)n;
        }
        /* RANGE: the buffer is too small, or id is a gap in the vocab (no
           text at any size); anything else: a piece that stands for no bytes */
        if (rc != ATTNRES_TOK_ERR_RANGE || cap >= tok_text_max) return -1;
        {
            size_t grown = cap ? (cap > tok_text_max / 2 ? tok_text_max : cap * 2) : 256;
            char *p = (char *)realloc(buf, grown);
            if (!p) return -1;
            buf = p;
            cap = grown;
        }
    }
}

/* One token: its bytes (token_bytes), or <ID> for an id with none. Special
   tokens (is_special) print nothing unless --special asked for their text:
   they mark the text, they are not part of it. */
static void put_token(int id) {
    const char *bytes;
    long n, i;
    int hidden = is_special(id) && !show_special;
    if (!hidden && (n = token_bytes(&bytes, tok_prev, id)) >= 0) {
        for (i = 0; i < n; i++) put_byte((unsigned char)bytes[i]);
    } else if (!hidden) {
        char buf[24];
        out_pending();
        snprintf(buf, sizeof buf, "<%d>", id);
        out_str(buf);
    }
    tok_prev = id;
}

/* ======================================================================== */
/* Depth-attention heatmap                                                   */
/* ======================================================================== */

/* The mean depth weights of a run.
   Row l < L is sublayer l (2i: attention of layer i, 2i+1: its MLP), row L
   the output aggregation; column j is source b_j (the last source of a row
   inside a block is that block's partial sum). */
typedef struct {
    int     L, N, S;      /* sublayers, blocks, block size                    */
    double *sum;          /* [L+1, N+1]  alpha summed over positions           */
    int    *count;        /* [L+1]       sources of each row                   */
    int     n_positions;  /* positions summed                                  */
} depth_map;

static int depth_map_init(depth_map *dm, const attnres_config *c) {
    dm->L = attnres_n_sublayers(c);
    dm->N = attnres_n_blocks(c);
    dm->S = c->block_size;
    dm->n_positions = 0;
    dm->sum = (double *)calloc((size_t)(dm->L + 1) * (size_t)(dm->N + 1), sizeof(double));
    dm->count = (int *)calloc((size_t)(dm->L + 1), sizeof(int));
    return dm->sum && dm->count;
}

static void depth_map_free(depth_map *dm) {
    free(dm->sum);
    free(dm->count);
    dm->sum = NULL;
    dm->count = NULL;
}

/* Adds what the last attnres_forward saw (state alpha [L+1, N+1]). */
static void depth_map_add(depth_map *dm, const attnres_state *s) {
    int l, j, cols = dm->N + 1;
    for (l = 0; l <= dm->L; l++) {
        dm->count[l] = s->alpha_count[l];
        for (j = 0; j < cols; j++) dm->sum[l * cols + j] += s->alpha[l * cols + j];
    }
    dm->n_positions++;
}

/* Is source j of row l the partial sum of row l's own block? Sublayer l
   (0-based) is in block l/S + 1; unless it is the block's first (l % S ==
   0), its last source, j = l/S + 1, is the sum of the outputs of the
   block's earlier sublayers, not a completed block. The output row reads
   completed blocks only. */
static int is_partial(int l, int j, int L, int S) {
    return l < L && l % S != 0 && j == l / S + 1;
}

static double depth_map_mean(const depth_map *dm, int l, int j) {
    return dm->sum[l * (dm->N + 1) + j] / (dm->n_positions ? dm->n_positions : 1);
}

/* "attn 3", "mlp 3" or "output" */
static void row_label(char *buf, size_t size, int l, int L) {
    if (l == L) snprintf(buf, size, "output");
    else snprintf(buf, size, "%s %d", l % 2 == 0 ? "attn" : "mlp", l / 2);
}

/* The table on stderr: the same numbers as the PNG. A deep model's table
   (more than TABLE_MAX_ROWS rows or TABLE_MAX_COLS sources) would be
   megabytes of text: one line says so instead, the PNG has them all. */
#define TABLE_MAX_ROWS 129
#define TABLE_MAX_COLS 33
static void depth_map_print(const depth_map *dm, FILE *out) {
    int l, j;
    char label[32];
    if (dm->L + 1 > TABLE_MAX_ROWS || dm->N + 1 > TABLE_MAX_COLS) {
        fprintf(out, "depth attention: mean alpha over %d positions: %d rows x %d sources, too many "
                     "for a table here (at most %d x %d); the PNG has them\n",
                dm->n_positions, dm->L + 1, dm->N + 1, TABLE_MAX_ROWS, TABLE_MAX_COLS);
        return;
    }
    fprintf(out, "depth attention: mean alpha over %d positions (rows read, columns are sources%s)\n",
            dm->n_positions, dm->S > 1 ? "; p: the partial sum of the row's own block" : "");
    fprintf(out, "%-8s", "");
    for (j = 0; j <= dm->N; j++) {
        snprintf(label, sizeof label, "b%d", j);
        fprintf(out, "  %5s ", label);
    }
    fprintf(out, "\n");
    for (l = 0; l <= dm->L; l++) {
        row_label(label, sizeof label, l, dm->L);
        fprintf(out, "%-8s", label);
        for (j = 0; j <= dm->N; j++) {
            if (j < dm->count[l])
                fprintf(out, "  %5.3f%c", depth_map_mean(dm, l, j), is_partial(l, j, dm->L, dm->S) ? 'p' : ' ');
            else fprintf(out, "  %5s ", ".");
        }
        fprintf(out, "\n");
    }
}

/* An RGB image being drawn. pixels [height, width, 3] */
typedef struct { unsigned char *pixels; int width, height; } image;

static void fill_rect(image *im, int x0, int y0, int x1, int y1, const unsigned char rgb[3]) {
    int x, y;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > im->width) x1 = im->width;
    if (y1 > im->height) y1 = im->height;
    for (y = y0; y < y1; y++)
        for (x = x0; x < x1; x++) memcpy(im->pixels + ((size_t)y * im->width + x) * 3, rgb, 3);
}

/* Text in stb_easy_font's segment font, each font pixel scale x scale;
   (x, y) is the top-left corner. Printable ASCII only. */
#define TEXT_MAX_QUADS 2000
static void draw_text(image *im, int x, int y, int scale, const char *text, const unsigned char rgb[3]) {
    static float quads[TEXT_MAX_QUADS * 16];   /* 4 vertices of {x, y, z, rgba} per quad */
    char buf[256];
    int n, q;
    snprintf(buf, sizeof buf, "%s", text);
    n = stb_easy_font_print(0.0f, 0.0f, buf, NULL, quads, (int)sizeof quads);
    for (q = 0; q < n; q++) {   /* every quad is an axis-aligned rectangle */
        const float *v = quads + q * 16;   /* vertex k at v[4k], v[4k+1] */
        float xa = v[0], xb = v[0], ya = v[1], yb = v[1];
        int k;
        for (k = 1; k < 4; k++) {
            xa = fminf(xa, v[4 * k]); xb = fmaxf(xb, v[4 * k]);
            ya = fminf(ya, v[4 * k + 1]); yb = fmaxf(yb, v[4 * k + 1]);
        }
        fill_rect(im, x + (int)lroundf(xa * scale), y + (int)lroundf(ya * scale),
                  x + (int)lroundf(xb * scale), y + (int)lroundf(yb * scale), rgb);
    }
}

static int text_width(const char *text, int scale) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    return stb_easy_font_width(buf) * scale;
}

/* A viridis-like perceptual ramp: linear interpolation between nine anchor
   colours of matplotlib's viridis. t in [0, 1] -> rgb. */
static void colormap(unsigned char rgb[3], double t) {
    static const unsigned char anchors[9][3] = {
        {68, 1, 84}, {71, 44, 122}, {59, 81, 139}, {44, 113, 142}, {33, 144, 141},
        {39, 173, 129}, {92, 200, 99}, {170, 220, 50}, {253, 231, 37}};
    double u;
    int i, k;
    if (!(t > 0.0)) t = 0.0;   /* also NaN */
    if (t > 1.0) t = 1.0;
    u = t * 8.0;
    i = (int)u;
    if (i > 7) i = 7;
    u -= i;
    for (k = 0; k < 3; k++)
        rgb[k] = (unsigned char)lround(anchors[i][k] + u * (anchors[i + 1][k] - anchors[i][k]));
}

/* Layout of the PNG, in pixels. A cell is CELL_MAX px, or less for a deep
   model, so that the picture stays within PNG_MAX_SIDE px a side (the
   library allows 2048 sublayers, so up to 2049 x 2049 cells: at 40 px that was an
   82000 px square, 20 GB, and sizes past 2^31 overflow the PNG writer). */
#define CELL_MAX      40
#define PNG_MAX_SIDE  4096
#define FONT          2    /* font pixel size of labels              */
#define PAD           12
#define LINE          (12 * FONT)
#define BAR           20   /* height of the colour bar               */
#define VALUE_MIN     28   /* smallest cell that shows its value     */
#define GRID_MIN      8    /* smallest cell with 1-px grid lines     */
#define LABEL_GAP     16   /* row labels at least this far apart     */
#define TICK          5    /* length of a tick under the colour bar  */
#define SMALL_LINE    12   /* a line of text at font size 1          */

typedef struct {
    int cell;                /* px of one (row, source) cell             */
    int row_step, col_step;  /* a label every row_step rows, col_step columns */
    int label_w, grid_x, grid_y, bar_y, width, height;
} png_layout;

/* The layout of a rows x cols grid; 0, or -1 if even 1-px cells would not
   fit in PNG_MAX_SIDE (which the library's limits never reach). */
static int layout_png(png_layout *lo, const depth_map *dm, const char *title, const char *subtitle,
                      const char *legend) {
    int rows = dm->L + 1, cols = dm->N + 1, l, fixed_w, fixed_h, cell_w, cell_h;
    char label[32];
    lo->label_w = text_width("alpha", FONT);
    for (l = 0; l < rows; l++) {
        row_label(label, sizeof label, l, dm->L);
        if (text_width(label, FONT) > lo->label_w) lo->label_w = text_width(label, FONT);
    }
    lo->grid_x = PAD + lo->label_w + PAD;
    lo->grid_y = PAD + LINE + SMALL_LINE + LINE;         /* title, subtitle, column labels */
    fixed_w = lo->grid_x + PAD;                          /* + cols * cell         */
    fixed_h = lo->grid_y + PAD + BAR + TICK + LINE + 3 * SMALL_LINE + PAD;   /* + rows * cell */
    cell_w = (PNG_MAX_SIDE - fixed_w) / cols;
    cell_h = (PNG_MAX_SIDE - fixed_h) / rows;
    lo->cell = CELL_MAX;
    if (cell_w < lo->cell) lo->cell = cell_w;
    if (cell_h < lo->cell) lo->cell = cell_h;
    if (lo->cell < 1) return -1;
    lo->row_step = (LABEL_GAP + lo->cell - 1) / lo->cell;
    snprintf(label, sizeof label, "b%d", dm->N);        /* the widest column label */
    lo->col_step = (text_width(label, FONT) + 8 + lo->cell - 1) / lo->cell;
    lo->bar_y = lo->grid_y + rows * lo->cell + PAD;
    lo->width = fixed_w + cols * lo->cell;
    if (text_width(legend, 1) + 2 * PAD > lo->width) lo->width = text_width(legend, 1) + 2 * PAD;
    if (text_width(title, FONT) + 2 * PAD > lo->width) lo->width = text_width(title, FONT) + 2 * PAD;
    if (text_width(subtitle, 1) + 2 * PAD > lo->width) lo->width = text_width(subtitle, 1) + 2 * PAD;
    lo->height = fixed_h + rows * lo->cell;
    return lo->width <= PNG_MAX_SIDE && lo->height <= PNG_MAX_SIDE ? 0 : -1;
}

/* The frame of a partial-sum cell: dashes of 3 px alternating black and
   white, visible on every colour of the ramp. (x, y) top-left, n px a side. */
static void dashed_frame(image *im, int x, int y, int n) {
    static const unsigned char black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
    int k;
    for (k = 0; k < n; k++) {
        const unsigned char *rgb = (k / 3) % 2 ? white : black;
        fill_rect(im, x + k, y, x + k + 1, y + 1, rgb);                 /* top    */
        fill_rect(im, x + k, y + n - 1, x + k + 1, y + n, rgb);         /* bottom */
        fill_rect(im, x, y + k, x + 1, y + k + 1, rgb);                 /* left   */
        fill_rect(im, x + n - 1, y + k, x + n, y + k + 1, rgb);         /* right  */
    }
}

/* The colour bar, 0 .. 1 left to right over w px (w >= 2) at (x0, y0), with
   a tick at 0, 0.25, 0.5, 0.75 and 1 and the value under each tick that
   has room (0 and 1 always). */
static void colour_bar(image *im, int x0, int y0, int w) {
    static const unsigned char black[3] = {0, 0, 0};
    static const char *names[5] = {"0", "0.25", "0.5", "0.75", "1"};
    int x, k, right_of_last = -1000, last_left;
    for (x = 0; x < w; x++) {
        unsigned char rgb[3];
        colormap(rgb, (double)x / (w - 1));
        fill_rect(im, x0 + x, y0, x0 + x + 1, y0 + BAR, rgb);
    }
    last_left = x0 + w - text_width("1", FONT);   /* where the "1" goes */
    for (k = 0; k < 5; k++) {
        int tx = x0 + (int)lround(k * 0.25 * (w - 1)), tw = text_width(names[k], FONT);
        int lx = tx - tw / 2;
        fill_rect(im, tx, y0 + BAR, tx + 1, y0 + BAR + TICK, black);
        if (k == 0) lx = x0;
        if (k == 4) lx = last_left;
        if (k == 0 || k == 4 || (lx > right_of_last + 6 && lx + tw + 6 < last_left)) {
            draw_text(im, lx, y0 + BAR + TICK + 3, FONT, names[k], black);
            right_of_last = lx + tw;
        }
    }
}

/* Draws the mean depth weights as a grid: rows sublayers then the output,
   columns sources b0..bN, colour = mean alpha on a fixed 0..1 scale, the
   value printed in each cell (if it is big enough), grey where a row has no
   such source; a colour bar and a legend below. im->pixels is allocated
   here (the caller frees it). Returns 0, or -1 after printing why. */
static int depth_map_draw(image *im, const depth_map *dm, const char *title, const char *subtitle) {
    static const unsigned char white[3] = {255, 255, 255}, black[3] = {0, 0, 0},
                               grid[3] = {255, 255, 255}, grey[3] = {190, 190, 190},
                               dark_grey[3] = {110, 110, 110};
    char label[96], legend1[128], legend2[96];
    const char *legend3 = dm->S > 1 ? "dashed frame, p: the partial sum of the row's own block" : "";
    int rows = dm->L + 1, cols = dm->N + 1, l, j, y;
    png_layout lo;

    im->pixels = NULL;
    snprintf(legend2, sizeof legend2, "row: who reads; column: source b_j; grey: not a source");
    if (layout_png(&lo, dm, title, subtitle, legend2) != 0) {
        fprintf(stderr, "attnres-run: --heatmap: %d x %d cells do not fit in %d px a side\n",
                rows, cols, PNG_MAX_SIDE);
        return -1;
    }
    snprintf(legend1, sizeof legend1, "mean alpha over %d positions; %d x %d cells of %d px%s",
             dm->n_positions, rows, cols, lo.cell, lo.cell < VALUE_MIN ? " (values in the stderr table)" : "");
    im->width = lo.width;
    im->height = lo.height;
    /* every size the PNG writer gets is an int: the row stride and the image */
    if (im->width > INT_MAX / 3 || (size_t)im->width * 3 * (size_t)im->height > (size_t)INT_MAX) {
        fprintf(stderr, "attnres-run: --heatmap: a %d x %d px picture is too large for the PNG writer\n",
                im->width, im->height);
        return -1;
    }
    im->pixels = (unsigned char *)malloc((size_t)im->width * im->height * 3);
    if (!im->pixels) {
        fprintf(stderr, "attnres-run: --heatmap: out of memory for a %d x %d px picture\n", im->width, im->height);
        return -1;
    }
    fill_rect(im, 0, 0, im->width, im->height, white);

    draw_text(im, PAD, PAD, FONT, title, black);
    draw_text(im, PAD, PAD + LINE, 1, subtitle, dark_grey);
    for (j = 0; j < cols; j += lo.col_step) {         /* column labels b0 .. bN */
        snprintf(label, sizeof label, "b%d", j);
        draw_text(im, lo.grid_x + j * lo.cell + (lo.cell - text_width(label, FONT)) / 2,
                  PAD + LINE + SMALL_LINE + 4, FONT, label, black);
    }
    for (l = 0; l < rows; l++) {
        int cy = lo.grid_y + l * lo.cell;
        /* a label every row_step rows, and always the output row's (the
           sublayer labels give way to it when they would touch) */
        if (l == rows - 1 || (l % lo.row_step == 0 && l + lo.row_step <= rows - 1)) {
            row_label(label, sizeof label, l, dm->L);
            draw_text(im, lo.grid_x - PAD - text_width(label, FONT), cy + (lo.cell - 7 * FONT) / 2, FONT,
                      label, black);
        }
        for (j = 0; j < cols; j++) {
            int cx = lo.grid_x + j * lo.cell;
            unsigned char rgb[3];
            if (j < dm->count[l]) {
                double a = depth_map_mean(dm, l, j);
                int partial = is_partial(l, j, dm->L, dm->S);
                colormap(rgb, a);
                fill_rect(im, cx, cy, cx + lo.cell, cy + lo.cell, rgb);
                if (partial && lo.cell >= GRID_MIN) dashed_frame(im, cx + 2, cy + 2, lo.cell - 3);
                if (lo.cell >= VALUE_MIN) {
                    snprintf(label, sizeof label, "%.2f%s", a, partial ? "p" : "");
                    draw_text(im, cx + (lo.cell - text_width(label, 1)) / 2, cy + (lo.cell - 7) / 2, 1, label,
                              a < 0.6 ? white : black);
                }
            } else {
                fill_rect(im, cx, cy, cx + lo.cell, cy + lo.cell, grey);
            }
        }
    }
    if (lo.cell >= GRID_MIN) {                        /* 1-px grid              */
        for (l = 0; l <= rows; l++)
            fill_rect(im, lo.grid_x, lo.grid_y + l * lo.cell, lo.grid_x + cols * lo.cell + 1,
                      lo.grid_y + l * lo.cell + 1, grid);
        for (j = 0; j <= cols; j++)
            fill_rect(im, lo.grid_x + j * lo.cell, lo.grid_y, lo.grid_x + j * lo.cell + 1,
                      lo.grid_y + rows * lo.cell + 1, grid);
    }

    colour_bar(im, lo.grid_x, lo.bar_y, cols * lo.cell);
    draw_text(im, lo.grid_x - PAD - text_width("alpha", FONT), lo.bar_y + (BAR - 7 * FONT) / 2, FONT,
              "alpha", black);
    y = lo.bar_y + BAR + TICK + LINE + 4;
    draw_text(im, PAD, y, 1, legend1, dark_grey);
    draw_text(im, PAD, y + SMALL_LINE, 1, legend2, dark_grey);
    draw_text(im, PAD, y + 2 * SMALL_LINE, 1, legend3, dark_grey);
    return 0;
}

/* ======================================================================== */
/* Writing a file: complete, or not at all                                   */
/* ======================================================================== */

/* An output file written whole or not at all. A regular file (or a new
   one) is replaced whole: the bytes go to a temporary file in the same
   directory (created O_EXCL, mode 0666 less the umask, or the old file's
   mode), which is fsynced and closed, every step checked, then renamed over
   the target; on any failure the temporary file is removed and the target
   is untouched. A file we may not write is not replaced either (access
   W_OK). A symbolic link is followed (its target is replaced, the link
   stays); a dangling one is refused. A target that exists and is not a
   regular file (/dev/full, a FIFO) is written in place, never replaced.
   Writes are buffered; the first error is kept and reported by
   outfile_commit. `what` names the file in messages ("the heatmap"). */
typedef struct {
    const char *path, *what;  /* as given, for messages                  */
    char *resolved, *tmp;     /* the link's target; the temporary file   */
    const char *target;       /* what the temporary file is renamed to   */
    int fd, in_place, error;  /* error: the first errno, 0 if none       */
    size_t n;                 /* bytes waiting in buf                    */
    char buf[1 << 14];
} outfile;

/* Opens f for path; 0, or -1 after printing why. */
static int outfile_open(outfile *f, const char *path, const char *what) {
    struct stat st;
    const char *verb = "cannot write";
    int k;
    memset(f, 0, sizeof *f);
    f->path = path;
    f->what = what;
    f->target = path;
    f->fd = -1;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) f->in_place = 1;
        else if (!(f->resolved = realpath(path, NULL))) { f->error = errno; verb = "cannot resolve"; }
        else if (access(f->resolved, W_OK) != 0) f->error = errno;   /* replacing must not bypass the file's mode */
        else f->target = f->resolved;
    } else if (errno == ENOENT && lstat(path, &st) == 0) {
        fprintf(stderr, "attnres-run: error: cannot write %s '%s': a symbolic link to a missing file\n", what, q(path));
        return -1;
    }
    if (!f->error && f->in_place) {
        f->fd = open(path, O_WRONLY);
        if (f->fd < 0) f->error = errno;
    } else if (!f->error) {
        size_t n = strlen(f->target) + 40;
        if (!(f->tmp = (char *)malloc(n))) f->error = ENOMEM;
        for (k = 0; !f->error && k < 100; k++) {
            snprintf(f->tmp, n, "%s.%ld-%d.tmp", f->target, (long)getpid(), k);
            f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
            if (f->fd >= 0 || errno != EEXIST) break;
        }
        if (!f->error && f->fd < 0) f->error = errno;
        if (!f->error && f->resolved && fchmod(f->fd, st.st_mode & 0777) != 0) f->error = errno;
    }
    if (f->error) {
        fprintf(stderr, "attnres-run: error: %s %s '%s': %s\n", verb, what, q(path), strerror(f->error));
        if (f->fd >= 0) { close(f->fd); if (f->tmp) unlink(f->tmp); }
        free(f->tmp);
        free(f->resolved);
        f->tmp = f->resolved = NULL;
        f->fd = -1;
        return -1;
    }
    return 0;
}

/* Writes all n bytes to fd (partial writes, EINTR); 0 or an errno. */
static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (w == 0) return EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void outfile_write(outfile *f, const void *data, size_t n) {
    if (f->error) return;
    if (f->n + n > sizeof f->buf) {
        f->error = write_all(f->fd, (const unsigned char *)f->buf, f->n);
        f->n = 0;
        if (!f->error && n > sizeof f->buf) { f->error = write_all(f->fd, (const unsigned char *)data, n); return; }
    }
    if (!f->error) { memcpy(f->buf + f->n, data, n); f->n += n; }
}

/* Finishes f: flush, fsync, close, rename. With ok = 0 (the run failed) it
   only cleans up: the target stays as it was. Returns 0, or -1 after
   printing why. Safe on a file that never opened (fd < 0). */
static int outfile_close(outfile *f, int ok) {
    int error = f->error;
    if (f->fd < 0) return ok ? -1 : 0;
    if (!error && f->n) error = write_all(f->fd, (const unsigned char *)f->buf, f->n);
    if (ok && !error && !f->in_place && fsync(f->fd) != 0) error = errno;
    if (close(f->fd) != 0 && !error) error = errno;
    if (ok && !error && !f->in_place && rename(f->tmp, f->target) != 0) error = errno;
    if ((error || !ok) && f->tmp) unlink(f->tmp);
    if (ok && error)
        fprintf(stderr, "attnres-run: error: cannot write %s '%s': %s\n", f->what, q(f->path), strerror(error));
    free(f->tmp);
    free(f->resolved);
    f->tmp = f->resolved = NULL;
    f->fd = -1;
    return ok && !error ? 0 : -1;
}

/* A PNG tEXt chunk (keyword, NUL, Latin-1 text; we write ASCII) */
static void png_text_chunk(outfile *f, const char *key, const char *text) {
    unsigned char head[8], crc[4], *chunk;
    size_t kn = strlen(key), tn = strlen(text), n = kn + 1 + tn;
    unsigned int c;
    int k;
    if (!(chunk = (unsigned char *)malloc(4 + n))) { if (!f->error) f->error = ENOMEM; return; }
    for (k = 0; k < 4; k++) head[k] = (unsigned char)(n >> (24 - 8 * k));
    memcpy(head + 4, "tEXt", 4);
    memcpy(chunk, "tEXt", 4);
    memcpy(chunk + 4, key, kn + 1);
    memcpy(chunk + 4 + kn + 1, text, tn);
    c = stbiw__crc32(chunk, (int)(4 + n));
    for (k = 0; k < 4; k++) crc[k] = (unsigned char)(c >> (24 - 8 * k));
    outfile_write(f, head, 8);
    outfile_write(f, chunk + 4, n);
    outfile_write(f, crc, 4);
    free(chunk);
}

/* Writes im as a PNG to path (see outfile), with tEXt chunks Title,
   Description and Software after the header chunk, so the picture says
   what it shows to tools that read text (and to tests). Returns 0, or -1
   after printing why. */
static int save_png(const image *im, const char *path, const char *title, const char *description) {
    outfile *f;
    unsigned char *png;
    int len, rc;
    if (!(f = (outfile *)malloc(sizeof *f))) {
        fprintf(stderr, "attnres-run: error: out of memory for the heatmap\n");
        return -1;
    }
    if (outfile_open(f, path, "the heatmap") != 0) { free(f); return -1; }
    png = stbi_write_png_to_mem(im->pixels, im->width * 3, im->width, im->height, 3, &len);
    if (!png || len < 33) {
        f->error = ENOMEM;   /* the encoder's own allocation failed */
    } else {
        outfile_write(f, png, 33);   /* the signature and IHDR */
        png_text_chunk(f, "Title", title);
        png_text_chunk(f, "Description", description);
        png_text_chunk(f, "Software", "attnres-run " ATTNRES_VERSION_STRING);
        outfile_write(f, png + 33, (size_t)len - 33);
    }
    free(png);
    rc = outfile_close(f, 1);
    free(f);
    return rc;
}

/* ======================================================================== */
/* Exports: --alpha (every depth weight) and --probs (top-K next tokens)     */
/* ======================================================================== */

/* One byte as printable ASCII into piece [5]: a backslash doubled, every
   byte outside 0x20..0x7e as \xNN, the rest as it is. The one rule for
   titles and the exports' text: ASCII only, and nothing is lost (the
   bytes can be read back). */
static void escape_byte(char *piece, unsigned char b) {
    if (b == '\\') snprintf(piece, 5, "\\\\");
    else if (b >= 0x20 && b < 0x7f) snprintf(piece, 5, "%c", b);
    else snprintf(piece, 5, "\\x%02x", (unsigned)b);
}

/* n bytes of src through escape_byte into dst [size]; cut with "..." once
   more than max_chars would be written. For titles. */
static void printable(char *dst, size_t size, const char *src, int n, int max_chars) {
    size_t k = 0;
    int i;
    for (i = 0; i < n; i++) {
        char piece[5];
        escape_byte(piece, (unsigned char)src[i]);
        if (k + strlen(piece) > (size_t)max_chars || k + strlen(piece) + 4 > size) {
            snprintf(dst + k, size - k, "...");
            return;
        }
        memcpy(dst + k, piece, strlen(piece));
        k += strlen(piece);
    }
    dst[k] = '\0';
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Where --alpha and --probs rows go: a file (written whole or not at all)
   or, for --probs without --probs-file, stdout in place of the text. */
typedef struct {
    outfile *f;     /* NULL: stdout                   */
    int      jsonl; /* JSON lines, else CSV           */
} sink;

static void sink_line(const sink *k, const char *line) {
    if (k->f) outfile_write(k->f, line, strlen(line));
    else out_str(line);
}

static int sink_failed(const sink *k) { return k->f ? k->f->error != 0 : txt.error != 0; }

static void alpha_header(const sink *k) {
    if (!k->jsonl) sink_line(k, "position,token,sublayer,reader,source,kind,alpha\n");
}

/* The depth weights of one position, as the last attnres_forward left them
   in the state: alpha [L+1, N+1], alpha_count [L+1] sources per row. One
   row per (reading sublayer, source); a row l's weights sum to 1. kind:
   "embedding" (b0), "block" (a completed block), "partial" (the partial
   sum of the reader's own block, see is_partial). */
static void alpha_rows(const sink *k, const attnres_state *s, int L, int N, int S, int pos, int token) {
    char line[256], reader[32];
    int l, j;
    for (l = 0; l <= L; l++) {
        row_label(reader, sizeof reader, l, L);
        for (j = 0; j < s->alpha_count[l]; j++) {
            const char *kind = j == 0 ? "embedding" : is_partial(l, j, L, S) ? "partial" : "block";
            double a = s->alpha[l * (N + 1) + j];
            if (k->jsonl)
                snprintf(line, sizeof line, "{\"position\":%d,\"token\":%d,\"sublayer\":%d,\"reader\":\"%s\","
                         "\"source\":%d,\"kind\":\"%s\",\"alpha\":%.9g}\n", pos, token, l, reader, j, kind, a);
            else snprintf(line, sizeof line, "%d,%d,%d,%s,%d,%s,%.9g\n", pos, token, l, reader, j, kind, a);
            sink_line(k, line);
        }
    }
}

/* The model's next-token distribution, softmax(logits) at temperature 1
   in double, sorted: highest probability first, ties by lowest id. */
typedef struct { double p; int id; } ranked;

static int ranked_cmp(const void *a, const void *b) {
    const ranked *x = (const ranked *)a, *y = (const ranked *)b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return x->id - y->id;
}

/* r [vocab_size] <- the sorted distribution of logits [vocab_size] */
static void probs_rank(ranked *r, const float *logits, int vocab_size) {
    double max = logits[0], sum = 0.0;
    int i;
    for (i = 1; i < vocab_size; i++) if (logits[i] > max) max = logits[i];
    for (i = 0; i < vocab_size; i++) {
        r[i].p = exp((double)logits[i] - max);
        r[i].id = i;
        sum += r[i].p;
    }
    for (i = 0; i < vocab_size; i++) r[i].p /= sum;
    qsort(r, (size_t)vocab_size, sizeof *r, ranked_cmp);
}

static void probs_header(const sink *k) {
    if (!k->jsonl) sink_line(k, "position,rank,token,text,prob,sampled\n");
}

/* n bytes of a token's text into k, whole (a token may be long): each byte
   through escape_byte, then quoted for the format: CSV doubles a quote,
   JSON escapes quote and backslash. Newlines, commas and control bytes
   cannot break a row: the first two are inside quotes or \xNN, the last
   always \xNN. */
static void sink_text(const sink *k, const char *text, size_t n) {
    char chunk[256];   /* written in pieces of at most 4 escaped bytes x 2 */
    size_t used = 0, i;
    for (i = 0; i < n; i++) {
        char piece[5];
        const char *c;
        escape_byte(piece, (unsigned char)text[i]);
        for (c = piece; *c; c++) {
            if (k->jsonl && (*c == '"' || *c == '\\')) chunk[used++] = '\\';
            else if (!k->jsonl && *c == '"') chunk[used++] = '"';
            chunk[used++] = *c;
        }
        if (used + 16 >= sizeof chunk || i + 1 == n) {
            chunk[used] = '\0';
            sink_line(k, chunk);
            used = 0;
        }
    }
}

/* The top K of r for the token at sequence position `position`, which
   follows token prev (the one fed at position - 1), and the token the
   sampler chose there. The text column is the candidate's text
   (token_bytes, so a tokenizer's piece, never a byte for a tokenizer's id
   below 256), or <ID> for an id with none. */
static void probs_rows(const sink *k, const ranked *r, int top_k, int position, int prev, int sampled) {
    char line[160];
    int i;
    for (i = 0; i < top_k; i++) {
        const char *bytes;
        long n = token_bytes(&bytes, prev, r[i].id);
        char id_text[24];
        if (k->jsonl)
            snprintf(line, sizeof line, "{\"position\":%d,\"rank\":%d,\"token\":%d,\"text\":\"", position, i + 1, r[i].id);
        else snprintf(line, sizeof line, "%d,%d,%d,\"", position, i + 1, r[i].id);
        sink_line(k, line);
        if (n < 0) {
            snprintf(id_text, sizeof id_text, "<%d>", r[i].id);
            sink_line(k, id_text);   /* no quote or backslash to escape */
        } else sink_text(k, bytes, (size_t)n);
        if (k->jsonl) snprintf(line, sizeof line, "\",\"prob\":%.9g,\"sampled\":%d}\n", r[i].p, sampled);
        else snprintf(line, sizeof line, "\",%.9g,%d\n", r[i].p, sampled);
        sink_line(k, line);
    }
}

/* What one run exports besides the text. */
typedef struct {
    sink    alpha, probs;   /* alpha.f NULL: no --alpha; probs_k 0: no --probs */
    int     probs_k;
    ranked *ranked;         /* [vocab_size] */
} exports;

/* ======================================================================== */
/* Generation                                                                */
/* ======================================================================== */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Feeds the prompt one token at a time, then samples: the logits of
   position pos choose the token at pos + 1. The last new token is printed
   but never fed, so there are n_prompt + n_tokens - 1 forward passes; a
   sampled EOS (unless stop_at_eos is 0) ends the run there, after it is
   "printed" (as nothing, or as its text with --special).
   Returns 0, or 1 after printing the error (a failed write to stdout is
   left for main to report). *t_gen: generation seconds; *n_new: tokens
   generated; *eos_id: the EOS that stopped it, or -1. */
static int generate(const attnres_model *model, attnres_state *state, attnres_sampler *sampler,
                    depth_map *dm, const exports *ex, const int *prompt, int n_prompt, int n_tokens,
                    int stop_at_eos, double *t_gen, int *n_new, int *eos_id) {
    const attnres_config *c = &model->config;
    int L = attnres_n_sublayers(c), N = attnres_n_blocks(c);
    attnres_error err;
    int n_forward = n_tokens > 0 ? n_prompt + n_tokens - 1 : n_prompt, pos, token = prompt[0];
    double t_start = now_seconds();
    *n_new = 0;
    *eos_id = -1;
    for (pos = 0; pos < n_forward; pos++) {
        float *logits;
        if (pos == n_prompt - 1) t_start = now_seconds();   /* generation starts here */
        logits = attnres_forward(model, state, token, pos, &err);   /* [vocab_size] */
        if (!logits) {
            fprintf(stderr, "\nattnres-run: error at position %d: %s\n", pos, err.message);
            return 1;
        }
        if (dm->sum) depth_map_add(dm, state);
        if (ex->alpha.f) alpha_rows(&ex->alpha, state, L, N, c->block_size, pos, token);
        if (pos + 1 < n_prompt) {
            token = prompt[pos + 1];
        } else if (n_tokens > 0) {
            int fed = token;   /* the candidates follow it */
            if (ex->probs_k) probs_rank(ex->ranked, logits, c->vocab_size);   /* before the sampler sees them */
            token = attnres_sample(sampler, logits);
            if (ex->probs_k) probs_rows(&ex->probs, ex->ranked, ex->probs_k, pos + 1, fed, token);
            if (ex->probs.f || !ex->probs_k) put_token(token);   /* else stdout holds the probabilities */
            if (out_flush() != 0) return 1;   /* main says why */
            (*n_new)++;
            if (stop_at_eos && is_eos(token)) {
                *eos_id = token;
                break;
            }
        }
        if ((ex->alpha.f && sink_failed(&ex->alpha)) || (ex->probs.f && sink_failed(&ex->probs)))
            return 1;   /* main says why, when it closes the file */
    }
    *t_gen = now_seconds() - t_start;
    return 0;
}

/* The heatmap's title and subtitle: the residual, the model file and the
   prompt (printable, cut to fit), and how much was generated. */
static void heatmap_titles(char *title, size_t tsize, char *sub, size_t ssize, const options *o,
                           const attnres_config *c, int n_new) {
    const char *base = strrchr(o->model_path, '/');
    char model[64], prompt[64];
    base = base && base[1] ? base + 1 : o->model_path;
    printable(model, sizeof model, base, (int)strlen(base), 40);
    printable(prompt, sizeof prompt, o->prompt, o->prompt_len, 40);
    if (c->block_size == 1) snprintf(title, tsize, "Full AttnRes (S=1): depth attention");
    else snprintf(title, tsize, "Block AttnRes (S=%d): depth attention", c->block_size);
    snprintf(sub, ssize, "model %s, prompt \"%s\" + %d new token%s", model, prompt, n_new,
             n_new == 1 ? "" : "s");
}

/* Opens an export file (CSV, or JSON lines for *.jsonl) into k; 0, or -1
   after printing why. */
static int open_export(sink *k, outfile *f, const char *path, const char *what) {
    if (outfile_open(f, path, what) != 0) return -1;
    k->f = f;
    k->jsonl = ends_with(path, ".jsonl");
    return 0;
}

/* Closes an export: renamed into place when the run succeeded, removed
   (the target untouched) when it did not. Returns the new status. */
static int close_export(sink *k, int status) {
    if (!k->f) return status;
    if (outfile_close(k->f, status == 0 || k->f->error != 0) != 0 && status == 0) status = 1;
    if (k->f->error && status == 0) status = 1;
    k->f = NULL;
    return status;
}

int main(int argc, char **argv) {
    static outfile alpha_file, probs_file;   /* 16 KB buffers each */
    options o;
    attnres_model model;
    attnres_state state;
    attnres_sampler sampler;
    attnres_error err;
    const attnres_config *c = &model.config;
    depth_map dm;
    exports ex;
    int *prompt = NULL, n_prompt, status = 0, text_out, n_new = 0, stop_id = -1;
    double t_gen = 0.0;

    memset(&state, 0, sizeof state);
    memset(&sampler, 0, sizeof sampler);
    memset(&dm, 0, sizeof dm);
    memset(&ex, 0, sizeof ex);
    /* a file-size limit makes write() fail with EFBIG instead of killing the
       program (which would leave a temporary file behind) */
    signal(SIGXFSZ, SIG_IGN);
    parse_args(&o, argc, argv);
    check_outputs(&o);
    if (attnres_model_load(&model, o.model_path, &err) != ATTNRES_OK ||
        (o.quantize && !model.q8.group_size && attnres_model_quantize(&model, o.quantize, &err) != ATTNRES_OK)) {
        fprintf(stderr, "attnres-run: error: %s\n", err.message);
        attnres_model_free(&model);   /* loaded, then the quantization failed */
        free(o.prompt_buf);
        return 1;
    }
    if (o.int8_activations >= 0) model.q8.int8_activations = o.int8_activations;
#ifdef ATTNRES_CUDA
    /* the CUDA build runs matvecs on the GPU for uploaded weights only; without
       a GPU everything runs on the host (quietly: the output is the same) */
    {
        char why[200];
        if (attnres_cuda_device_count(why, (int)sizeof why) > 0 && attnres_cuda_upload(&model, &err) != ATTNRES_OK)
            fprintf(stderr, "attnres-run: %s\n", err.message);
    }
#endif
    if (o.tokenizer_path && attnres_tok_load(&tok, o.tokenizer_path, err.message) != ATTNRES_TOK_OK) {
        fprintf(stderr, "attnres-run: --tokenizer: %s\n", q(err.message));
        attnres_model_free(&model);
        free(o.prompt_buf);
        return 1;
    }
    collect_eos(c);
    show_special = o.special;
    if (tok) {   /* a bound on any token's text (token_bytes) */
        struct stat st;
        tok_text_max = stat(o.tokenizer_path, &st) == 0 && st.st_size > 256 ? (size_t)st.st_size : 256;
    }
    /* checks that need the model: exit 2, nothing allocated but the model */
    n_prompt = o.prompt_len;
    ex.probs_k = o.probs_k;
    text_out = !o.probs_k || o.probs_path;   /* stdout: the text, or the probabilities */
    if ((o.heatmap_path || o.alpha_path) && c->residual != ATTNRES_RESIDUAL_ATTNRES) {
        fprintf(stderr, "attnres-run: %s: '%s' is a standard-residual model; "
                        "there is no depth attention to %s\n", o.heatmap_path ? "--heatmap" : "--alpha",
                q(o.model_path), o.heatmap_path ? "draw" : "export");
        status = 2;
    } else if (o.probs_k > c->vocab_size) {
        fprintf(stderr, "attnres-run: --probs: %d is more than the model's %d tokens\n", o.probs_k, c->vocab_size);
        status = 2;
    } else if (!(prompt = (int *)malloc(((size_t)n_prompt + 2) * sizeof(int)))) {   /* [n_prompt (+2)] */
        fprintf(stderr, "attnres-run: error: out of memory\n");
        status = 1;
    } else if (tok ? !encode_with_tokenizer(prompt, &n_prompt, o.prompt, o.prompt_len, c->vocab_size, c->seq_len,
                                            o.prompt_from)
                   : !encode(prompt, o.prompt, n_prompt, c->vocab_size, o.prompt_from)) {
        status = 2;
    } else if (n_prompt > c->seq_len) {   /* the prompt alone: -n is not to blame */
        fprintf(stderr, "attnres-run: %s: the prompt (%d bytes) is longer than the context of "
                        "%d tokens (the model's seq_len); at most %d bytes fit\n",
                o.prompt_from, n_prompt, c->seq_len, c->seq_len);
        status = 2;
    } else if (o.n_tokens > c->seq_len - n_prompt) {
        fprintf(stderr, "attnres-run: -n/--tokens: the prompt (%d bytes) + %d new tokens exceed the "
                        "context of %d tokens; at most %d new tokens fit after this prompt\n",
                n_prompt, o.n_tokens, c->seq_len, c->seq_len - n_prompt);
        status = 2;
    } else if (attnres_state_init_ctx(&state, c, n_prompt + o.n_tokens, &err) != ATTNRES_OK ||
               attnres_sampler_init(&sampler, c->vocab_size, o.temperature, o.topp, o.seed, &err) != ATTNRES_OK) {
        fprintf(stderr, "attnres-run: error: %s\n", err.message);
        status = 1;
    } else if ((o.heatmap_path && !depth_map_init(&dm, c)) ||
               (o.probs_k && !(ex.ranked = (ranked *)malloc((size_t)c->vocab_size * sizeof(ranked))))) {
        fprintf(stderr, "attnres-run: error: out of memory\n");
        status = 1;
    } else if ((o.alpha_path && open_export(&ex.alpha, &alpha_file, o.alpha_path, "the alpha file") != 0) ||
               (o.probs_path && open_export(&ex.probs, &probs_file, o.probs_path, "the probabilities file") != 0)) {
        status = 1;
    }
    if (status == 0) {
        int i;
        state.path = o.path;
        if (ex.alpha.f) alpha_header(&ex.alpha);
        if (o.probs_k) probs_header(&ex.probs);   /* ex.probs.f NULL: stdout */
        if (text_out && tok)                      /* the prompt's text, escaped alike */
            for (i = 0; i < o.prompt_len; i++) put_byte((unsigned char)o.prompt[i]);
        else if (text_out)
            for (i = 0; i < n_prompt; i++) put_byte(prompt[i]);
        if (tok) tok_prev = prompt[n_prompt - 1];
        if (out_flush() == 0)
            status = generate(&model, &state, &sampler, &dm, &ex, prompt, n_prompt, o.n_tokens, !o.ignore_eos,
                              &t_gen, &n_new, &stop_id);
        if (text_out) {
            out_pending();   /* a UTF-8 sequence cut off by the end */
            out_str("\n");
        }
        errno = 0;
        if (out_flush() == 0 && fclose(stdout) != 0) txt.error = errno ? errno : EIO;
        if (txt.error) {
            fprintf(stderr, "attnres-run: error: cannot write to stdout: %s\n", strerror(txt.error));
            status = 1;
        }
    }
    status = close_export(&ex.alpha, status);
    status = close_export(&ex.probs, status);
    if (status == 0 && !o.quiet && stop_id >= 0)
        fprintf(stderr, "stopped at end-of-sequence token %d (%s) after %d of %d new tokens "
                        "(--ignore-eos generates all)\n", stop_id, eos_source(stop_id), n_new, o.n_tokens);
    if (status == 0 && !o.quiet) {
        char numbers[64];   /* which arithmetic ran */
        if (!model.q8.group_size) snprintf(numbers, sizeof numbers, "fp32");
        else snprintf(numbers, sizeof numbers, "int8 weights%s, groups of %d",
                      model.q8.int8_activations ? " and activations (w8a8)" : " (q8)", model.q8.group_size);
        fprintf(stderr, "generated %d token%s in %.3f s (%.1f tokens/s); prompt %d tokens; %s; %s; "
                        "context %d of seq_len %d (state %.1f KB)\n",
                n_new, n_new == 1 ? "" : "s", t_gen, n_new > 0 && t_gen > 0.0 ? n_new / t_gen : 0.0, n_prompt,
                c->residual == ATTNRES_RESIDUAL_STANDARD ? "standard residuals"
                : o.path == ATTNRES_PATH_TWO_PHASE ? "AttnRes, two-phase path" : "AttnRes, direct path",
                numbers, state.n_ctx, c->seq_len, attnres_state_bytes(c, state.n_ctx) / 1024.0);
    }
    if (status == 0 && !o.quiet && o.alpha_path) fprintf(stderr, "wrote %s\n", q(o.alpha_path));
    if (status == 0 && !o.quiet && o.probs_path) fprintf(stderr, "wrote %s\n", q(o.probs_path));
    if (status == 0 && dm.sum) {
        image im;
        char title[96], sub[192], desc[256];
        heatmap_titles(title, sizeof title, sub, sizeof sub, &o, c, n_new);
        snprintf(desc, sizeof desc, "%s; mean alpha over %d positions", sub, dm.n_positions);
        if (!o.quiet) depth_map_print(&dm, stderr);
        if (depth_map_draw(&im, &dm, title, sub) != 0 || save_png(&im, o.heatmap_path, title, desc) != 0) status = 1;
        else if (!o.quiet) fprintf(stderr, "wrote %s (%d x %d px)\n", q(o.heatmap_path), im.width, im.height);
        free(im.pixels);
    }
    depth_map_free(&dm);
    free(ex.ranked);
    free(prompt);
    free(o.prompt_buf);
    attnres_sampler_free(&sampler);
    attnres_state_free(&state);
    attnres_model_free(&model);
    attnres_tok_free(tok);
    return status;
}
