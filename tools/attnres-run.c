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
   would fit (it never truncates silently).

   Output: stdout gets the prompt, then each new byte as soon as it is
   sampled, then one newline. Printable bytes, newline, tab and bytes >= 0x80
   (UTF-8) are written as they are; other control bytes are written as \xNN
   so they cannot upset the terminal. Statistics go to stderr.

   Exit status: 0 success, 1 the model could not be loaded or run (or the
   PNG could not be written), 2 a bad command line (the message names the
   argument and what it accepts).

   Build: make build/default/attnres-run (see mk/run.mk). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
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
} options;

static void usage(FILE *out) {
    fprintf(out,
        "usage: attnres-run MODEL.safetensors [options]\n"
        "Generates text with a byte-level attnres model (token id = byte value).\n"
        "  -p, --prompt TEXT      the prompt, at least one byte (default \"%s\")\n"
        "  -n, --tokens N         new tokens to generate, >= 0; prompt + N must fit\n"
        "                         in the model's seq_len (default %d)\n"
        "  -t, --temperature T    sampling temperature in [0, 100]; 0 = greedy (default %.1f)\n"
        "      --top-p P          nucleus sampling mass in (0, 1]; 1 = off (default %.1f)\n"
        "  -s, --seed S           random seed, an integer >= 0 (default %d)\n"
        "      --path P           how depth attention is computed: direct | two-phase\n"
        "                         (default direct; same result, ignored for standard models)\n"
        "      --heatmap FILE.png write the depth-attention weights, averaged over every\n"
        "                         position processed, as a PNG (AttnRes models only)\n"
        "  -q, --quiet            no statistics or depth-weight table on stderr\n"
        "  -h, --help             this message\n"
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
        bad_argument("%s: '%s' is not an integer in [%ld, %ld]", flag, s, lo, hi);
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
        bad_argument("%s: '%s' is not %s", flag, s, accepted);
    return v;
}

/* An integer in [0, 2^64): strtoull alone would accept "-1" and wrap it. */
static uint64_t parse_seed(const char *flag, const char *s) {
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (!isdigit((unsigned char)s[0]) || *end != '\0' || errno == ERANGE)
        bad_argument("%s: '%s' is not an integer in [0, 2^64)", flag, s);
    return (uint64_t)v;
}

static int is_flag(const char *a, const char *short_name, const char *long_name) {
    return (short_name && !strcmp(a, short_name)) || !strcmp(a, long_name);
}

/* The value after flag a, or exit 2 if the command line ends there. */
static const char *value_of(int *i, int argc, char **argv) {
    if (*i + 1 >= argc) bad_argument("%s: needs a value", argv[*i]);
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
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        double x;
        if (is_flag(a, "-h", "--help")) {
            usage(stdout);
            exit(0);
        } else if (is_flag(a, "-q", "--quiet")) {
            o->quiet = 1;
        } else if (is_flag(a, "-p", "--prompt")) {
            v = value_of(&i, argc, argv);
            if (v[0] == '\0') bad_argument("%s: the prompt is empty; it needs at least one byte", a);
            o->prompt = v;
        } else if (is_flag(a, "-n", "--tokens")) {
            o->n_tokens = (int)parse_int(a, value_of(&i, argc, argv), 0, MAX_TOKENS);
        } else if (is_flag(a, "-t", "--temperature")) {
            const char *accepted = "a number in [0, 100] (0 = greedy)";
            v = value_of(&i, argc, argv);
            x = parse_number(a, v, accepted);
            if (!(x >= 0.0 && x <= 100.0)) bad_argument("%s: '%s' is not %s", a, v, accepted);
            o->temperature = (float)x;
        } else if (is_flag(a, NULL, "--top-p")) {
            const char *accepted = "a number in (0, 1] (1 = no nucleus cut)";
            v = value_of(&i, argc, argv);
            x = parse_number(a, v, accepted);
            if (!(x > 0.0 && x <= 1.0)) bad_argument("%s: '%s' is not %s", a, v, accepted);
            o->topp = (float)x;
        } else if (is_flag(a, "-s", "--seed")) {
            o->seed = parse_seed(a, value_of(&i, argc, argv));
        } else if (is_flag(a, NULL, "--path")) {
            v = value_of(&i, argc, argv);
            if (!strcmp(v, "direct")) o->path = ATTNRES_PATH_DIRECT;
            else if (!strcmp(v, "two-phase")) o->path = ATTNRES_PATH_TWO_PHASE;
            else bad_argument("%s: '%s' is not one of: direct, two-phase", a, v);
        } else if (is_flag(a, NULL, "--heatmap")) {
            v = value_of(&i, argc, argv);
            if (v[0] == '\0') bad_argument("%s: the file name is empty", a);
            o->heatmap_path = v;
        } else if (a[0] == '-' && a[1] != '\0') {
            bad_argument("%s: unknown option", a);
        } else if (o->model_path) {
            bad_argument("%s: unexpected argument (the model is already '%s')", a, o->model_path);
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

/* One token to stdout: printable ASCII, newline, tab and UTF-8 bytes as they
   are, other control bytes as \xNN. */
static void put_token(int id) {
    if (id == '\n' || id == '\t' || (id >= 0x20 && id != 0x7f)) putchar(id);
    else printf("\\x%02x", id);
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

/* The table on stderr: the same numbers as the PNG. */
static void depth_map_print(const depth_map *dm, FILE *out) {
    int l, j;
    char label[32];
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

/* Layout of the PNG, in pixels. */
#define CELL   40   /* one (row, source) cell                 */
#define FONT   2    /* font pixel size of labels              */
#define PAD    12
#define LINE   (12 * FONT)

/* Draws the mean depth weights as a grid: rows sublayers then the output,
   columns sources b0..bN, colour = mean alpha on a fixed 0..1 scale, the
   value printed in each cell, grey where a row has no such source; a colour
   bar and a legend below. Returns 0 on success. */
static int depth_map_write_png(const depth_map *dm, const attnres_config *c, const char *path) {
    static const unsigned char white[3] = {255, 255, 255}, black[3] = {0, 0, 0},
                               grid[3] = {255, 255, 255}, grey[3] = {190, 190, 190},
                               dark_grey[3] = {110, 110, 110};
    char label[96], title[96], legend1[96], legend2[96];
    int rows = dm->L + 1, cols = dm->N + 1, l, j, x, y, ok, label_w = 0, grid_x, grid_y, bar_y;
    image im;

    if (c->block_size == 1) snprintf(title, sizeof title, "Full AttnRes (S=1): depth attention");
    else snprintf(title, sizeof title, "Block AttnRes (S=%d): depth attention", c->block_size);
    snprintf(legend1, sizeof legend1, "mean alpha over %d positions", dm->n_positions);
    snprintf(legend2, sizeof legend2, "row: who reads; column: source b_j; grey: not a source");
    for (l = 0; l < rows; l++) {
        row_label(label, sizeof label, l, dm->L);
        if (text_width(label, FONT) > label_w) label_w = text_width(label, FONT);
    }
    grid_x = PAD + label_w + PAD;
    grid_y = PAD + 2 * LINE;                          /* title, column labels      */
    bar_y = grid_y + rows * CELL + PAD;
    im.width = grid_x + cols * CELL + PAD;
    x = text_width(legend2, 1) + 2 * PAD;            /* the legend is in the small font */
    if (x > im.width) im.width = x;
    if (text_width(title, FONT) + 2 * PAD > im.width) im.width = text_width(title, FONT) + 2 * PAD;
    im.height = bar_y + CELL / 2 + LINE + 3 * 12 + PAD;
    im.pixels = (unsigned char *)malloc((size_t)im.width * im.height * 3);
    if (!im.pixels) return 1;
    fill_rect(&im, 0, 0, im.width, im.height, white);

    draw_text(&im, PAD, PAD, FONT, title, black);
    for (j = 0; j < cols; j++) {                      /* column labels b0 .. bN    */
        snprintf(label, sizeof label, "b%d", j);
        draw_text(&im, grid_x + j * CELL + (CELL - text_width(label, FONT)) / 2, PAD + LINE + 4,
                  FONT, label, black);
    }
    for (l = 0; l < rows; l++) {
        int cy = grid_y + l * CELL;
        row_label(label, sizeof label, l, dm->L);
        draw_text(&im, grid_x - PAD - text_width(label, FONT), cy + (CELL - 7 * FONT) / 2, FONT, label, black);
        for (j = 0; j < cols; j++) {
            int cx = grid_x + j * CELL;
            unsigned char rgb[3];
            if (j < dm->count[l]) {
                double a = depth_map_mean(dm, l, j);
                colormap(rgb, a);
                fill_rect(&im, cx, cy, cx + CELL, cy + CELL, rgb);
                snprintf(label, sizeof label, "%.2f", a);
                draw_text(&im, cx + (CELL - text_width(label, 1)) / 2, cy + (CELL - 7) / 2, 1, label,
                          a < 0.6 ? white : black);
            } else {
                fill_rect(&im, cx, cy, cx + CELL, cy + CELL, grey);
            }
        }
    }
    for (l = 0; l <= rows; l++)                       /* 1-px grid                 */
        fill_rect(&im, grid_x, grid_y + l * CELL, grid_x + cols * CELL + 1, grid_y + l * CELL + 1, grid);
    for (j = 0; j <= cols; j++)
        fill_rect(&im, grid_x + j * CELL, grid_y, grid_x + j * CELL + 1, grid_y + rows * CELL + 1, grid);

    /* colour bar 0 .. 1 under the grid */
    for (x = 0; x < cols * CELL; x++) {
        unsigned char rgb[3];
        colormap(rgb, (double)x / (cols * CELL - 1));
        fill_rect(&im, grid_x + x, bar_y, grid_x + x + 1, bar_y + CELL / 2, rgb);
    }
    draw_text(&im, grid_x, bar_y + CELL / 2 + 4, FONT, "0", black);
    draw_text(&im, grid_x + cols * CELL - text_width("1", FONT), bar_y + CELL / 2 + 4, FONT, "1", black);
    draw_text(&im, grid_x - PAD - text_width("alpha", FONT), bar_y + (CELL / 2 - 7 * FONT) / 2, FONT,
              "alpha", black);
    y = bar_y + CELL / 2 + LINE + 4;
    draw_text(&im, PAD, y, 1, legend1, dark_grey);
    draw_text(&im, PAD, y + 12, 1, legend2, dark_grey);

    ok = stbi_write_png(path, im.width, im.height, 3, im.pixels, im.width * 3);
    free(im.pixels);
    return ok ? 0 : 1;
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
   Returns 0, or 1 after printing the error. *t_gen: generation seconds. */
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
            fflush(stdout);
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
    parse_args(&o, argc, argv);
    if (attnres_model_load(&model, o.model_path, &err) != ATTNRES_OK) {
        fprintf(stderr, "attnres-run: error: %s\n", err.message);
        return 1;
    }
    /* checks that need the model: exit 2, nothing allocated but the model */
    n_prompt = (int)strlen(o.prompt);
    if (o.heatmap_path && c->residual != ATTNRES_RESIDUAL_ATTNRES) {
        fprintf(stderr, "attnres-run: --heatmap: '%s' is a standard-residual model; "
                        "there is no depth attention to draw\n", o.model_path);
        status = 2;
    } else if (!(prompt = (int *)malloc((size_t)n_prompt * sizeof(int)))) {   /* [n_prompt] */
        fprintf(stderr, "attnres-run: error: out of memory\n");
        status = 1;
    } else if (!encode(prompt, o.prompt, c->vocab_size)) {
        status = 2;
    } else if (n_prompt > c->seq_len || o.n_tokens > c->seq_len - n_prompt) {
        fprintf(stderr, "attnres-run: -n/--tokens: the prompt (%d bytes) + %d new tokens exceed the "
                        "context of %d tokens; at most %d new tokens fit after this prompt\n",
                n_prompt, o.n_tokens, c->seq_len, n_prompt > c->seq_len ? 0 : c->seq_len - n_prompt);
        status = 2;
    } else if (attnres_state_init(&state, c, &err) != ATTNRES_OK ||
               attnres_sampler_init(&sampler, c->vocab_size, o.temperature, o.topp, o.seed, &err) != ATTNRES_OK) {
        fprintf(stderr, "attnres-run: error: %s\n", err.message);
        status = 1;
    } else if (o.heatmap_path && !depth_map_init(&dm, c)) {
        fprintf(stderr, "attnres-run: error: out of memory\n");
        status = 1;
    }
    if (status == 0) {
        state.path = o.path;
        fwrite(o.prompt, 1, (size_t)n_prompt, stdout);   /* the prompt, as given */
        fflush(stdout);
        status = generate(&model, &state, &sampler, &dm, prompt, n_prompt, o.n_tokens, &t_gen);
        printf("\n");
        fflush(stdout);
    }
    if (status == 0 && !o.quiet)
        fprintf(stderr, "generated %d token%s in %.3f s (%.1f tokens/s); prompt %d tokens; %s; seq_len %d\n",
                o.n_tokens, o.n_tokens == 1 ? "" : "s", t_gen, o.n_tokens > 0 && t_gen > 0.0 ? o.n_tokens / t_gen : 0.0, n_prompt,
                c->residual == ATTNRES_RESIDUAL_STANDARD ? "standard residuals"
                : o.path == ATTNRES_PATH_TWO_PHASE ? "AttnRes, two-phase path" : "AttnRes, direct path",
                c->seq_len);
    if (status == 0 && dm.sum) {
        if (!o.quiet) depth_map_print(&dm, stderr);
        if (depth_map_write_png(&dm, c, o.heatmap_path) != 0) {
            fprintf(stderr, "attnres-run: error: cannot write the heatmap '%s'\n", o.heatmap_path);
            status = 1;
        } else if (!o.quiet) {
            fprintf(stderr, "wrote %s\n", o.heatmap_path);
        }
    }
    depth_map_free(&dm);
    free(prompt);
    attnres_sampler_free(&sampler);
    attnres_state_free(&state);
    attnres_model_free(&model);
    return status;
}
