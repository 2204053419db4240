/* attnres-run.c - generate text with a trained attnres model, and draw where
   its sublayers look in depth.

     attnres-run models/block.safetensors -p "The little robot" -n 200
     attnres-run models/block.safetensors -t 0 --heatmap depth.png

   One file, read top to bottom: the command line, the byte-level tokenizer,
   the depth-attention heatmap (a PNG written with stb_image_write, labels
   drawn with stb_easy_font, both from libstb-dev), then the generation loop
   and main.

   Tokenizer: byte-level. Token id = byte value, no BOS/EOS, so a prompt is
   its bytes and every byte must be < vocab_size.

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

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO   /* only stbi_write_png_to_func: every write is ours, and checked */
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
    const char *prompt;
    int         n_tokens;      /* new tokens to generate                     */
    float       temperature;   /* 0: greedy                                  */
    float       topp;          /* (0, 1]; 1: no nucleus cut                  */
    uint64_t    seed;
    int         path;          /* an attnres_path                            */
    const char *heatmap_path;  /* NULL: no heatmap                           */
    int         quiet;
    int         quantize;       /* --quantize q8: group size 32; 0: as stored */
} options;

/* s with its control characters escaped, for quoting in a message; four
   rotating buffers, so one message can quote up to four strings. */
static const char *q(const char *s) {
    static char bufs[4][1024];
    static int next;
    char *b = bufs[next++ % 4];
    attnres_escape(b, sizeof bufs[0], s);
    return b;
}

static void usage(FILE *out) {
    fprintf(out,
        "usage: attnres-run MODEL.safetensors [options]\n"
        "Generates text with a byte-level attnres model (token id = byte value).\n"
        "  -p, --prompt TEXT      the prompt, at least one byte (default \"%s\")\n"
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
        "      --quantize q8      int8 weights, groups of 32, made at load (a q8 checkpoint\n"
        "                         is int8 already and runs as it is, with or without it)\n"
        "  -q, --quiet            no statistics or depth-weight table on stderr\n"
        "  -h, --help             this message\n"
        "Output: the prompt and the new bytes; control bytes, C1 controls and invalid\n"
        "UTF-8 as \\xNN, token ids >= 256 as <ID>.\n"
        "Exit status: 0 ok, 1 model or output error, 2 bad arguments.\n",
        DEFAULT_PROMPT, DEFAULT_TOKENS, DEFAULT_TEMPERATURE, DEFAULT_TOPP, DEFAULT_SEED);
}

/* Every argument error ends here: the message, a hint, exit status 2. */
static void bad_argument(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;
static void bad_argument(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "attnres-run: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(attnres-run --help lists every option)\n");
    exit(2);
}

/* A whole decimal integer in [lo, hi]: digits only, nothing after. */
static long parse_int(const char *flag, const char *s, long lo, long hi) {
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (!isdigit((unsigned char)s[0]) || *end != '\0' || errno == ERANGE || v < lo || v > hi)
        bad_argument("%s: '%s' is not an integer in [%ld, %ld]", q(flag), q(s), lo, hi);
    return v;
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

/* An integer in [0, 2^64): strtoull alone would accept "-1" and wrap it. */
static uint64_t parse_seed(const char *flag, const char *s) {
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (!isdigit((unsigned char)s[0]) || *end != '\0' || errno == ERANGE)
        bad_argument("%s: '%s' is not an integer in [0, 2^64)", q(flag), q(s));
    return (uint64_t)v;
}

static int is_flag(const char *a, const char *short_name, const char *long_name) {
    return (short_name && !strcmp(a, short_name)) || !strcmp(a, long_name);
}

/* The value after flag a, or exit 2 if the command line ends there. */
static const char *value_of(int *i, int argc, char **argv) {
    if (*i + 1 >= argc) bad_argument("%s: needs a value", q(argv[*i]));
    return argv[++*i];
}

static void parse_args(options *o, int argc, char **argv) {
    int i;
    o->model_path = NULL;
    o->prompt = DEFAULT_PROMPT;
    o->n_tokens = DEFAULT_TOKENS;
    o->temperature = (float)DEFAULT_TEMPERATURE;
    o->topp = (float)DEFAULT_TOPP;
    o->seed = DEFAULT_SEED;
    o->path = ATTNRES_PATH_DIRECT;
    o->heatmap_path = NULL;
    o->quiet = 0;
    o->quantize = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        double x;
        float f;
        if (is_flag(a, "-h", "--help")) {
            usage(stdout);
            exit(0);
        } else if (is_flag(a, "-q", "--quiet")) {
            o->quiet = 1;
        } else if (is_flag(a, "-p", "--prompt")) {
            v = value_of(&i, argc, argv);
            if (v[0] == '\0') bad_argument("%s: the prompt is empty; it needs at least one byte", q(a));
            o->prompt = v;
        } else if (is_flag(a, "-n", "--tokens")) {
            o->n_tokens = (int)parse_int(a, value_of(&i, argc, argv), 0, MAX_TOKENS);
        } else if (is_flag(a, "-t", "--temperature")) {
            const char *accepted = "a number in [0, 100] (0 = greedy)";
            v = value_of(&i, argc, argv);
            x = parse_number(a, v, accepted);
            f = (float)x;   /* checked as stored; a T that is 0 as a float is greedy (see usage) */
            if (!(f >= 0.0f && f <= 100.0f)) bad_argument("%s: '%s' is not %s", q(a), q(v), accepted);
            o->temperature = f;
        } else if (is_flag(a, NULL, "--top-p")) {
            const char *accepted = "a number in (0, 1] (1 = no nucleus cut)";
            v = value_of(&i, argc, argv);
            x = parse_number(a, v, accepted);
            f = (float)x;   /* checked as stored: 1e-46 is 0 as a float, and 0 means "off" */
            if (!(f > 0.0f && f <= 1.0f))
                bad_argument("%s: '%s' is not %s%s", q(a), q(v), accepted,
                             x > 0.0 && f == 0.0f ? " (it is 0 as a float)" : "");
            o->topp = f;
        } else if (is_flag(a, "-s", "--seed")) {
            o->seed = parse_seed(a, value_of(&i, argc, argv));
        } else if (is_flag(a, NULL, "--path")) {
            v = value_of(&i, argc, argv);
            if (!strcmp(v, "direct")) o->path = ATTNRES_PATH_DIRECT;
            else if (!strcmp(v, "two-phase")) o->path = ATTNRES_PATH_TWO_PHASE;
            else bad_argument("%s: '%s' is not one of: direct, two-phase", q(a), q(v));
        } else if (is_flag(a, NULL, "--quantize")) {
            v = value_of(&i, argc, argv);
            if (strcmp(v, "q8") != 0) bad_argument("%s: '%s' is not one of: q8", q(a), q(v));
            o->quantize = 32;
        } else if (is_flag(a, NULL, "--heatmap")) {
            v = value_of(&i, argc, argv);
            if (v[0] == '\0') bad_argument("%s: the file name is empty", q(a));
            o->heatmap_path = v;
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
}

/* ======================================================================== */
/* Byte-level tokenizer                                                      */
/* ======================================================================== */

/* The prompt's bytes as token ids. tokens [strlen(text)]
   Returns 0 (after saying why) if a byte is not a token of the model. */
static int encode(int *tokens, const char *text, int vocab_size) {
    int i;
    for (i = 0; text[i]; i++) {
        int id = (unsigned char)text[i];
        if (id >= vocab_size) {
            fprintf(stderr, "attnres-run: -p/--prompt: byte 0x%02x at offset %d is not a token of this "
                            "model (byte-level, vocab_size %d: bytes 0x00..0x%02x)\n",
                    id, i, vocab_size, vocab_size - 1);
            return 0;
        }
        tokens[i] = id;
    }
    return 1;
}

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

/* One token: a byte, or <ID> for an id past the bytes (vocab_size > 256). */
static void put_token(int id) {
    char buf[24];
    if (id >= 0 && id < 256) {
        put_byte(id);
    } else {
        out_pending();
        snprintf(buf, sizeof buf, "<%d>", id);
        out_str(buf);
    }
}

/* ======================================================================== */
/* Depth-attention heatmap                                                   */
/* ======================================================================== */

/* The mean depth weights of a run.
   Row l < L is sublayer l (2i: attention of layer i, 2i+1: its MLP), row L
   the output aggregation; column j is source b_j (the last source of a row
   inside a block is that block's partial sum). */
typedef struct {
    int     L, N;         /* sublayers, blocks                                */
    double *sum;          /* [L+1, N+1]  alpha summed over positions           */
    int    *count;        /* [L+1]       sources of each row                   */
    int     n_positions;  /* positions summed                                  */
} depth_map;

static int depth_map_init(depth_map *dm, const attnres_config *c) {
    dm->L = attnres_n_sublayers(c);
    dm->N = attnres_n_blocks(c);
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
    fprintf(out, "depth attention: mean alpha over %d positions (rows read, columns are sources)\n",
            dm->n_positions);
    fprintf(out, "%-8s", "");
    for (j = 0; j <= dm->N; j++) {
        snprintf(label, sizeof label, "b%d", j);
        fprintf(out, "  %5s", label);
    }
    fprintf(out, "\n");
    for (l = 0; l <= dm->L; l++) {
        row_label(label, sizeof label, l, dm->L);
        fprintf(out, "%-8s", label);
        for (j = 0; j <= dm->N; j++) {
            if (j < dm->count[l]) fprintf(out, "  %5.3f", depth_map_mean(dm, l, j));
            else fprintf(out, "  %5s", ".");
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

typedef struct {
    int cell;                /* px of one (row, source) cell             */
    int row_step, col_step;  /* a label every row_step rows, col_step columns */
    int label_w, grid_x, grid_y, bar_y, width, height;
} png_layout;

/* The layout of a rows x cols grid; 0, or -1 if even 1-px cells would not
   fit in PNG_MAX_SIDE (which the library's limits never reach). */
static int layout_png(png_layout *lo, const depth_map *dm, const char *title, const char *legend) {
    int rows = dm->L + 1, cols = dm->N + 1, l, fixed_w, fixed_h, cell_w, cell_h;
    char label[32];
    lo->label_w = text_width("alpha", FONT);
    for (l = 0; l < rows; l++) {
        row_label(label, sizeof label, l, dm->L);
        if (text_width(label, FONT) > lo->label_w) lo->label_w = text_width(label, FONT);
    }
    lo->grid_x = PAD + lo->label_w + PAD;
    lo->grid_y = PAD + 2 * LINE;                         /* title, column labels */
    fixed_w = lo->grid_x + PAD;                          /* + cols * cell         */
    fixed_h = lo->grid_y + PAD + BAR + LINE + 3 * 12 + PAD;   /* + rows * cell    */
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
    lo->height = fixed_h + rows * lo->cell;
    return lo->width <= PNG_MAX_SIDE && lo->height <= PNG_MAX_SIDE ? 0 : -1;
}

/* Draws the mean depth weights as a grid: rows sublayers then the output,
   columns sources b0..bN, colour = mean alpha on a fixed 0..1 scale, the
   value printed in each cell (if it is big enough), grey where a row has no
   such source; a colour bar and a legend below. im->pixels is allocated
   here (the caller frees it). Returns 0, or -1 after printing why. */
static int depth_map_draw(image *im, const depth_map *dm, const attnres_config *c) {
    static const unsigned char white[3] = {255, 255, 255}, black[3] = {0, 0, 0},
                               grid[3] = {255, 255, 255}, grey[3] = {190, 190, 190},
                               dark_grey[3] = {110, 110, 110};
    char label[96], title[96], legend1[128], legend2[96];
    int rows = dm->L + 1, cols = dm->N + 1, l, j, x, y;
    png_layout lo;

    im->pixels = NULL;
    if (c->block_size == 1) snprintf(title, sizeof title, "Full AttnRes (S=1): depth attention");
    else snprintf(title, sizeof title, "Block AttnRes (S=%d): depth attention", c->block_size);
    snprintf(legend2, sizeof legend2, "row: who reads; column: source b_j; grey: not a source");
    if (layout_png(&lo, dm, title, legend2) != 0) {
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
    for (j = 0; j < cols; j += lo.col_step) {         /* column labels b0 .. bN */
        snprintf(label, sizeof label, "b%d", j);
        draw_text(im, lo.grid_x + j * lo.cell + (lo.cell - text_width(label, FONT)) / 2, PAD + LINE + 4,
                  FONT, label, black);
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
                colormap(rgb, a);
                fill_rect(im, cx, cy, cx + lo.cell, cy + lo.cell, rgb);
                if (lo.cell >= VALUE_MIN) {
                    snprintf(label, sizeof label, "%.2f", a);
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

    /* colour bar 0 .. 1 under the grid (cols >= 2, so at least 2 px wide) */
    for (x = 0; x < cols * lo.cell; x++) {
        unsigned char rgb[3];
        colormap(rgb, (double)x / (cols * lo.cell - 1));
        fill_rect(im, lo.grid_x + x, lo.bar_y, lo.grid_x + x + 1, lo.bar_y + BAR, rgb);
    }
    draw_text(im, lo.grid_x, lo.bar_y + BAR + 4, FONT, "0", black);
    draw_text(im, lo.grid_x + cols * lo.cell - text_width("1", FONT), lo.bar_y + BAR + 4, FONT, "1", black);
    draw_text(im, lo.grid_x - PAD - text_width("alpha", FONT), lo.bar_y + (BAR - 7 * FONT) / 2, FONT,
              "alpha", black);
    y = lo.bar_y + BAR + LINE + 4;
    draw_text(im, PAD, y, 1, legend1, dark_grey);
    draw_text(im, PAD, y + 12, 1, legend2, dark_grey);
    return 0;
}

/* ======================================================================== */
/* Writing a file: complete, or not at all                                   */
/* ======================================================================== */

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

/* stb_image_write's output callback: every chunk written and checked. */
typedef struct { int fd, error; } png_sink;
static void png_sink_write(void *context, void *data, int size) {
    png_sink *sink = (png_sink *)context;
    if (sink->error) return;
    if (size < 0) sink->error = EINVAL;
    else sink->error = write_all(sink->fd, (const unsigned char *)data, (size_t)size);
}

/* Writes im as a PNG to path. A regular file (or a new one) is replaced
   whole: the PNG goes to a temporary file in the same directory (created
   O_EXCL, mode 0666 less the umask, or the old file's mode), is fsynced and
   closed, every step checked, then renamed over the target; on any failure
   the temporary file is removed and the target is untouched. A file we may
   not write is not replaced either (access W_OK). A symbolic
   link is followed (its target is replaced, the link stays); a dangling one
   is refused. A target that exists and is not a regular file (/dev/full, a
   FIFO) is written in place, never replaced. Returns 0, or -1 after
   printing why. */
static int save_png(const image *im, const char *path) {
    struct stat st;
    char *resolved = NULL, *tmp = NULL;
    const char *target = path, *what = "cannot write";
    int fd = -1, error = 0, in_place = 0, k;
    png_sink sink;

    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) in_place = 1;
        else if (!(resolved = realpath(path, NULL))) { error = errno; what = "cannot resolve"; }
        else if (access(resolved, W_OK) != 0) error = errno;   /* replacing must not bypass the file's mode */
        else target = resolved;
    } else if (errno == ENOENT && lstat(path, &st) == 0) {
        fprintf(stderr, "attnres-run: error: cannot write the heatmap '%s': a symbolic link to a missing file\n",
                q(path));
        return -1;
    }
    if (!error && in_place) {
        fd = open(path, O_WRONLY);
        if (fd < 0) error = errno;
    } else if (!error) {
        size_t n = strlen(target) + 40;
        if (!(tmp = (char *)malloc(n))) error = ENOMEM;
        for (k = 0; !error && k < 100; k++) {
            snprintf(tmp, n, "%s.%ld-%d.tmp", target, (long)getpid(), k);
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
            if (fd >= 0 || errno != EEXIST) break;
        }
        if (!error && fd < 0) error = errno;
        if (!error && resolved && fchmod(fd, st.st_mode & 0777) != 0) error = errno;
    }
    if (!error) {
        sink.fd = fd;
        sink.error = 0;
        if (!stbi_write_png_to_func(png_sink_write, &sink, im->width, im->height, 3, im->pixels, im->width * 3))
            error = sink.error ? sink.error : ENOMEM;   /* the encoder's own allocation failed */
        else error = sink.error;
    }
    if (!error && !in_place && fsync(fd) != 0) error = errno;
    if (fd >= 0 && close(fd) != 0 && !error) error = errno;
    if (!error && !in_place && rename(tmp, target) != 0) error = errno;
    if (error && tmp && fd >= 0) unlink(tmp);
    if (error)
        fprintf(stderr, "attnres-run: error: %s the heatmap '%s': %s\n", what, q(path), strerror(error));
    free(tmp);
    free(resolved);
    return error ? -1 : 0;
}

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
   but never fed, so there are n_prompt + n_tokens - 1 forward passes.
   Returns 0, or 1 after printing the error (a failed write to stdout is
   left for main to report). *t_gen: generation seconds. */
static int generate(const attnres_model *model, attnres_state *state, attnres_sampler *sampler,
                    depth_map *dm, const int *prompt, int n_prompt, int n_tokens, double *t_gen) {
    attnres_error err;
    int n_forward = n_tokens > 0 ? n_prompt + n_tokens - 1 : n_prompt, pos, token = prompt[0];
    double t_start = now_seconds();
    for (pos = 0; pos < n_forward; pos++) {
        float *logits;
        if (pos == n_prompt - 1) t_start = now_seconds();   /* generation starts here */
        logits = attnres_forward(model, state, token, pos, &err);   /* [vocab_size] */
        if (!logits) {
            fprintf(stderr, "\nattnres-run: error at position %d: %s\n", pos, err.message);
            return 1;
        }
        if (dm->sum) depth_map_add(dm, state);
        if (pos + 1 < n_prompt) {
            token = prompt[pos + 1];
        } else if (n_tokens > 0) {
            token = attnres_sample(sampler, logits);
            put_token(token);
            if (out_flush() != 0) return 1;   /* main says why */
        }
    }
    *t_gen = now_seconds() - t_start;
    return 0;
}

int main(int argc, char **argv) {
    options o;
    attnres_model model;
    attnres_state state;
    attnres_sampler sampler;
    attnres_error err;
    const attnres_config *c = &model.config;
    depth_map dm;
    int *prompt = NULL, n_prompt, status = 0;
    double t_gen = 0.0;

    memset(&state, 0, sizeof state);
    memset(&sampler, 0, sizeof sampler);
    memset(&dm, 0, sizeof dm);
    /* a file-size limit makes write() fail with EFBIG instead of killing the
       program (which would leave the heatmap's temporary file behind) */
    signal(SIGXFSZ, SIG_IGN);
    parse_args(&o, argc, argv);
    if (attnres_model_load(&model, o.model_path, &err) != ATTNRES_OK ||
        (o.quantize && !model.q8.group_size && attnres_model_quantize(&model, o.quantize, &err) != ATTNRES_OK)) {
        fprintf(stderr, "attnres-run: error: %s\n", err.message);
        attnres_model_free(&model);
        return 1;
    }
    /* checks that need the model: exit 2, nothing allocated but the model */
    n_prompt = (int)strlen(o.prompt);
    if (o.heatmap_path && c->residual != ATTNRES_RESIDUAL_ATTNRES) {
        fprintf(stderr, "attnres-run: --heatmap: '%s' is a standard-residual model; "
                        "there is no depth attention to draw\n", q(o.model_path));
        status = 2;
    } else if (!(prompt = (int *)malloc((size_t)n_prompt * sizeof(int)))) {   /* [n_prompt] */
        fprintf(stderr, "attnres-run: error: out of memory\n");
        status = 1;
    } else if (!encode(prompt, o.prompt, c->vocab_size)) {
        status = 2;
    } else if (n_prompt > c->seq_len) {   /* the prompt alone: -n is not to blame */
        fprintf(stderr, "attnres-run: -p/--prompt: the prompt (%d bytes) is longer than the context of "
                        "%d tokens (the model's seq_len); at most %d bytes fit\n",
                n_prompt, c->seq_len, c->seq_len);
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
    } else if (o.heatmap_path && !depth_map_init(&dm, c)) {
        fprintf(stderr, "attnres-run: error: out of memory\n");
        status = 1;
    }
    if (status == 0) {
        int i;
        state.path = o.path;
        for (i = 0; i < n_prompt; i++) put_byte(prompt[i]);   /* the prompt, escaped alike */
        if (out_flush() == 0)
            status = generate(&model, &state, &sampler, &dm, prompt, n_prompt, o.n_tokens, &t_gen);
        out_pending();   /* a UTF-8 sequence cut off by the end */
        out_str("\n");
        errno = 0;
        if (out_flush() == 0 && fclose(stdout) != 0) txt.error = errno ? errno : EIO;
        if (txt.error) {
            fprintf(stderr, "attnres-run: error: cannot write to stdout: %s\n", strerror(txt.error));
            status = 1;
        }
    }
    if (status == 0 && !o.quiet)
        fprintf(stderr, "generated %d token%s in %.3f s (%.1f tokens/s); prompt %d tokens; %s; "
                        "context %d of seq_len %d (state %.1f KB)\n",
                o.n_tokens, o.n_tokens == 1 ? "" : "s", t_gen, o.n_tokens > 0 && t_gen > 0.0 ? o.n_tokens / t_gen : 0.0, n_prompt,
                c->residual == ATTNRES_RESIDUAL_STANDARD ? "standard residuals"
                : o.path == ATTNRES_PATH_TWO_PHASE ? "AttnRes, two-phase path" : "AttnRes, direct path",
                state.n_ctx, c->seq_len, attnres_state_bytes(c, state.n_ctx) / 1024.0);
    if (status == 0 && dm.sum) {
        image im;
        if (!o.quiet) depth_map_print(&dm, stderr);
        if (depth_map_draw(&im, &dm, c) != 0 || save_png(&im, o.heatmap_path) != 0) status = 1;
        else if (!o.quiet) fprintf(stderr, "wrote %s (%d x %d px)\n", q(o.heatmap_path), im.width, im.height);
        free(im.pixels);
    }
    depth_map_free(&dm);
    free(prompt);
    attnres_sampler_free(&sampler);
    attnres_state_free(&state);
    attnres_model_free(&model);
    return status;
}
