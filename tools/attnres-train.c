/* attnres-train.c - train a byte-level attnres model from a text file, in C.

     attnres-train models/corpus_train.txt --val models/corpus_val.txt -o build/block.safetensors
     attnres-train notes.txt --residual standard --steps 200 -o build/std.safetensors

   What tools/train.py does, with the library's training step
   (attnres_train_step: forward and backward of every window, their mean,
   clipping at global norm 1, AdamW with betas 0.9, 0.95, eps 1e-8, weight
   decay on the matrices only) and its schedule (attnres_lr_at: linear
   warmup, then cosine down to lr/10). One file, top to bottom: options,
   files, the initial weights, evaluation, writing the checkpoint, main.

   Data: byte-level (token id = byte value, vocab 256, no BOS/EOS). Every
   step draws --batch windows of --window + 1 bytes of the training text
   (inputs and next-byte targets) at starts uniform in [0, n - window - 1),
   with the library's xorshift64* generator seeded by --seed
   (attnres_train_window: two 32-bit draws make a 64-bit number, rejection
   keeps every start equally likely). The windows are not torch's: the same
   seed gives the same windows here, not the ones train.py draws.

   Validation text: --val FILE, or else the last --val-frac of TEXT (10%
   by default), held out: training windows never reach into it. The
   validation loss is train.py's: mean next-byte cross-entropy in
   nats/byte, the text cut into non-overlapping windows of seq_len inputs
   (the last one shorter), each run from an empty context, so every byte
   but the first is predicted once (computed in float32 here; train.py
   uses float64 on the exported checkpoint). --val-bytes N uses only the
   first N bytes.

   Initial weights: tools/train.py's distributions, each checkpoint tensor
   from its own generator seeded by (seed, its name), so models that share
   a tensor start with the same values: embeddings and linear weights
   N(0, 0.02^2), the sublayers' output projections (wo, w2)
   N(0, (0.02/sqrt(L))^2), gains 1, pseudo-queries zero (the paper's init)
   or, with --init-queries random, N(0, 1/dim) as tools/experiment.py's
   random_init. The numbers are this program's (Box-Muller over
   xorshift64*), not torch's.

   Progress goes to stderr: the step, its loss, the mean loss since the
   last line, lr, the gradient norm before clipping, tokens/s and the time
   left. The checkpoint (docs/format.md, the bytes tools/reference.py
   would write for these weights) is written to a temporary file beside
   OUT, fsynced, and renamed over OUT only when complete: a failure never
   leaves a partial file, and an existing OUT stays as it was. The
   temporary file is created before training starts, so an OUT that cannot
   be written stops the program before the first step. Same options and
   build: the same bytes.

   Exit status: 0 success; 1 a file could not be read or written, or the
   training failed (a NaN or infinite loss or gradient: the message names
   the step); 2 a bad command line (the message names the option). */
#define _XOPEN_SOURCE 700 /* POSIX 2008 under -std=c99: clock_gettime, fsync */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#define CLI_PROGRAM "attnres-train"
#include "cli_args.h"    /* q(), bad_argument(), parse_int(), parse_seed(), is_flag(), value_of(), split_inline() */

/* ======================================================================== */
/* Options                                                                   */
/* ======================================================================== */

typedef struct {
    const char *text_path, *val_path, *out_path;
    double val_frac, lr, weight_decay;
    long val_bytes;
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, seq_len, window;
    int residual, block_size, tied, random_queries;
    int batch, steps, warmup, log_every, eval_every, quiet, watch;
    uint64_t seed;
} options;

static void usage(FILE *out) {
    fprintf(out,
        "usage: attnres-train TEXT -o OUT.safetensors [options]\n"
        "Trains a byte-level attnres model on TEXT's bytes and writes its checkpoint.\n"
        "  -o, --out FILE         the checkpoint to write (required); replaced only when complete\n"
        "      --val FILE         validation text (default: the last --val-frac of TEXT, held out)\n"
        "      --val-frac F       the share of TEXT held out without --val, in (0, 0.5] (default 0.1)\n"
        "      --val-bytes N      validate on the first N bytes only; 0: all (default 0)\n"
        "Model (defaults: the shipped models' recipe, tools/train.py):\n"
        "      --dim N            model width (default 96)\n"
        "      --hidden-dim N     SwiGLU width (default 8*dim/3 rounded up to a multiple of 8)\n"
        "      --layers N         layers; L = 2N sublayers (default 4)\n"
        "      --heads N          query heads (default 4)\n"
        "      --kv-heads N       key/value heads, dividing --heads (default 2)\n"
        "      --seq-len N        the model's context (default 256)\n"
        "      --residual R       standard or attnres (default attnres)\n"
        "      --block-size S     Block AttnRes block size, 1 = Full (default 2; attnres only)\n"
        "      --untied           an output projection of its own (default: tied to the embeddings)\n"
        "      --init-queries Q   zero (the paper's init, default) or random (N(0, 1/dim))\n"
        "Training:\n"
        "      --steps N          optimizer steps (default 500)\n"
        "      --batch N          windows per step (default 8)\n"
        "      --window N         bytes per window, <= seq-len (default: seq-len)\n"
        "      --lr X             peak learning rate (default 3e-3)\n"
        "      --warmup N         linear warmup steps, then cosine to lr/10 (default 30)\n"
        "      --weight-decay X   AdamW decay of the matrices (default 0.1)\n"
        "      --seed N           initial weights and windows (default 1234)\n"
        "      --log-every N      a progress line every N steps (default 10)\n"
        "      --eval-every N     also validate every N steps, and print the gradient reaching each\n"
        "                         sublayer's output on the first validation window (also at the end);\n"
        "                         0: only validate at the end (default 0)\n"
        "  -q, --quiet            no progress lines, only the result\n"
        "  -w, --watch            a live view in the terminal: loss, tokens/s, the depth weights as\n"
        "                         coloured cells, redrawn in place (plain lines when stderr is not a terminal)\n"
        "  -h, --help             this text\n"
        "Exit status: 0 ok, 1 a file or training error (naming the step), 2 bad arguments.\n");
}

/* A finite number in (lo, hi] (lo_open) or [lo, hi]. */
static double parse_number(const char *flag, const char *s, double lo, double hi, int lo_open) {
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || isspace((unsigned char)s[0]) || !isfinite(v) ||
        (lo_open ? !(v > lo) : !(v >= lo)) || !(v <= hi))
        bad_argument("%s: '%s' is not a number in %c%g, %g]", q(flag), q(s), lo_open ? '(' : '[', lo, hi);
    return v;
}

static void parse_options(options *o, int argc, char **argv) {
    int i, hidden_set = 0, window_set = 0, block_set = 0;
    memset(o, 0, sizeof *o);
    o->val_frac = 0.1; o->lr = 3e-3; o->weight_decay = 0.1;
    o->dim = 96; o->n_layers = 4; o->n_heads = 4; o->n_kv_heads = 2; o->seq_len = 256;
    o->residual = ATTNRES_RESIDUAL_ATTNRES; o->block_size = 2; o->tied = 1;
    o->batch = 8; o->steps = 500; o->warmup = 30; o->log_every = 10; o->seed = 1234;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *inl = NULL, *v;
        char name[32];
        if ((inl = split_inline(&a, name, sizeof name)) != NULL) {
            if (!strcmp(a, "--help") || !strcmp(a, "--quiet") || !strcmp(a, "--untied") || !strcmp(a, "--watch"))
                bad_argument("%s: takes no value (got '%s')", q(a), q(inl));
        }
#define OPT(s, l) is_flag(a, s, l)
#define VAL value_of(a, inl, &i, argc, argv)
        if (OPT("-h", "--help")) { usage(stdout); exit(0); }
        else if (OPT("-q", "--quiet")) o->quiet = 1;
        else if (OPT("-w", "--watch")) o->watch = 1;
        else if (OPT("-o", "--out")) o->out_path = VAL;
        else if (OPT(NULL, "--val")) o->val_path = VAL;
        else if (OPT(NULL, "--val-frac")) o->val_frac = parse_number(a, VAL, 0.0, 0.5, 1);
        else if (OPT(NULL, "--val-bytes")) o->val_bytes = parse_int(a, VAL, 0, 1L << 30);
        else if (OPT(NULL, "--dim")) o->dim = (int)parse_int(a, VAL, 2, 65536);
        else if (OPT(NULL, "--hidden-dim")) { o->hidden_dim = (int)parse_int(a, VAL, 1, 1 << 20); hidden_set = 1; }
        else if (OPT(NULL, "--layers")) o->n_layers = (int)parse_int(a, VAL, 1, 1024);
        else if (OPT(NULL, "--heads")) o->n_heads = (int)parse_int(a, VAL, 1, 4096);
        else if (OPT(NULL, "--kv-heads")) o->n_kv_heads = (int)parse_int(a, VAL, 1, 4096);
        else if (OPT(NULL, "--seq-len")) o->seq_len = (int)parse_int(a, VAL, 1, 1 << 16);
        else if (OPT(NULL, "--window")) { o->window = (int)parse_int(a, VAL, 1, 1 << 16); window_set = 1; }
        else if (OPT(NULL, "--block-size")) { o->block_size = (int)parse_int(a, VAL, 1, 2048); block_set = 1; }
        else if (OPT(NULL, "--untied")) o->tied = 0;
        else if (OPT(NULL, "--residual")) {
            v = VAL;
            if (!strcmp(v, "standard")) o->residual = ATTNRES_RESIDUAL_STANDARD;
            else if (!strcmp(v, "attnres")) o->residual = ATTNRES_RESIDUAL_ATTNRES;
            else bad_argument("%s: '%s' is not standard or attnres", q(a), q(v));
        } else if (OPT(NULL, "--init-queries")) {
            v = VAL;
            if (!strcmp(v, "zero")) o->random_queries = 0;
            else if (!strcmp(v, "random")) o->random_queries = 1;
            else bad_argument("%s: '%s' is not zero or random", q(a), q(v));
        }
        else if (OPT(NULL, "--steps")) o->steps = (int)parse_int(a, VAL, 1, 100000000);
        else if (OPT(NULL, "--batch")) o->batch = (int)parse_int(a, VAL, 1, 1 << 16);
        else if (OPT(NULL, "--lr")) o->lr = parse_number(a, VAL, 0.0, 1e300, 1);
        else if (OPT(NULL, "--warmup")) o->warmup = (int)parse_int(a, VAL, 0, 100000000);
        else if (OPT(NULL, "--weight-decay")) o->weight_decay = parse_number(a, VAL, 0.0, 1e6, 0);
        else if (OPT(NULL, "--seed")) o->seed = parse_seed(a, VAL);
        else if (OPT(NULL, "--log-every")) o->log_every = (int)parse_int(a, VAL, 1, 100000000);
        else if (OPT(NULL, "--eval-every")) o->eval_every = (int)parse_int(a, VAL, 0, 100000000);
        else if (a[0] == '-' && a[1] != '\0') bad_argument("%s: unknown option", q(a));
        else if (!o->text_path) o->text_path = a;
        else bad_argument("'%s': one training text only (already '%s')", q(a), q(o->text_path));
#undef VAL
#undef OPT
    }
    if (!o->text_path) bad_argument("no training text given (attnres-train TEXT -o OUT.safetensors)");
    if (!o->out_path) bad_argument("-o: no checkpoint to write given (-o OUT.safetensors)");
    if (!hidden_set) o->hidden_dim = (8 * o->dim / 3 + 7) / 8 * 8;
    if (!window_set) o->window = o->seq_len;
    if (o->window > o->seq_len)
        bad_argument("--window: %d bytes is longer than the model's context (--seq-len %d)", o->window, o->seq_len);
    if (o->residual == ATTNRES_RESIDUAL_STANDARD) {
        if (block_set) bad_argument("--block-size: only for --residual attnres");
        o->block_size = 0;
    }
    if (o->watch && o->quiet) bad_argument("--watch and --quiet: choose one (a live view, or only the result)");
    if (o->random_queries && o->residual == ATTNRES_RESIDUAL_STANDARD)
        bad_argument("--init-queries: a standard model has no pseudo-queries");
}

/* ======================================================================== */
/* Files                                                                     */
/* ======================================================================== */

/* The whole file, malloc'd; NULL after printing why. */
static unsigned char *read_file(const char *path, const char *what, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, got;
    *n = 0;
    if (!f) {
        fprintf(stderr, "attnres-train: error: cannot open %s '%s': %s\n", what, q(path), strerror(errno));
        return NULL;
    }
    for (;;) {
        if (*n == cap) {
            unsigned char *more;
            cap = cap ? cap * 2 : 1 << 16;
            if (!(more = (unsigned char *)realloc(buf, cap))) {
                fprintf(stderr, "attnres-train: error: %s '%s': out of memory\n", what, q(path));
                free(buf); fclose(f); return NULL;
            }
            buf = more;
        }
        got = fread(buf + *n, 1, cap - *n, f);
        *n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        fprintf(stderr, "attnres-train: error: cannot read %s '%s': %s\n", what, q(path), strerror(errno));
        free(buf); fclose(f); return NULL;
    }
    fclose(f);
    return buf;
}

/* The checkpoint is written whole or not at all: a temporary file in OUT's
   directory, created O_EXCL before training (so an unwritable OUT stops
   us at once), filled, fsynced, closed and renamed over OUT. */
typedef struct { const char *path; char *tmp; int fd; } outfile;

static int outfile_open(outfile *f, const char *path) {
    size_t n = strlen(path) + 40;
    int k;
    f->path = path;
    f->fd = -1;
    if (!(f->tmp = (char *)malloc(n))) return -1;
    for (k = 0; k < 100; k++) {
        snprintf(f->tmp, n, "%s.%ld-%d.tmp", path, (long)getpid(), k);
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (f->fd >= 0 || errno != EEXIST) break;
    }
    if (f->fd < 0) {
        fprintf(stderr, "attnres-train: error: cannot write the checkpoint '%s': %s\n", q(path), strerror(errno));
        free(f->tmp);
        f->tmp = NULL;
        return -1;
    }
    return 0;
}

/* Writes bytes[n] and renames into place (ok), or only removes the
   temporary file (!ok). 0, or -1 after printing why. */
static int outfile_close(outfile *f, const unsigned char *bytes, size_t n, int ok) {
    int error = 0;
    while (ok && !error && n > 0) {
        ssize_t w = write(f->fd, bytes, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { error = w < 0 ? errno : EIO; break; }
        bytes += w;
        n -= (size_t)w;
    }
    if (ok && !error && fsync(f->fd) != 0) error = errno;
    if (close(f->fd) != 0 && ok && !error) error = errno;
    if (ok && !error && rename(f->tmp, f->path) != 0) error = errno;
    if (!ok || error) unlink(f->tmp);
    if (error) fprintf(stderr, "attnres-train: error: cannot write the checkpoint '%s': %s\n", q(f->path), strerror(error));
    free(f->tmp);
    f->tmp = NULL;
    return error ? -1 : 0;
}

/* Initial weights (init_weights: train.py's distributions, one generator
   per tensor) and the validation loss (validation_loss), shared with the
   page's trainer */
#include "train_shared.h"

/* ======================================================================== */
/* Evaluation: the gradient reaching every sublayer                          */
/* ======================================================================== */

/* The gradient reaching every sublayer's output, ||dloss/df_l|| (the
   paper's "gradient dilution with depth"), on the first validation window
   (up to seq_len predictions), printed as one line. The backward adds into
   ts->grad, which the next training step zeroes; no weight changes. */
static int print_depth_gradient(const attnres_model *m, attnres_train_state *ts, const unsigned char *text, size_t n,
                                int *tokens, int *targets, int step, int steps, attnres_error *err) {
    int T = (int)(n - 1 < (size_t)m->config.seq_len ? n - 1 : (size_t)m->config.seq_len), t, l, rc;
    float loss;
    for (t = 0; t < T; t++) {
        tokens[t] = text[t];
        targets[t] = text[t + 1];
    }
    if ((rc = attnres_train_forward(m, ts, tokens, targets, T, &loss, err)) != ATTNRES_OK ||
        (rc = attnres_train_backward(m, ts, err)) != ATTNRES_OK)
        return rc;
    fprintf(stderr, "step %6d/%d  ||dloss/df_l||, l = 0..%d (first validation window):", step, steps,
            attnres_n_sublayers(&m->config) - 1);
    for (l = 0; l < attnres_n_sublayers(&m->config); l++) fprintf(stderr, " %.4e", (double)ts->df_norm[l]);
    fprintf(stderr, "\n");
    return ATTNRES_OK;
}

/* ======================================================================== */
/* The live view (--watch)                                                   */
/* ======================================================================== */
/* With --watch and stderr a terminal, every progress point redraws one
   frame in place (the cursor moves up over the last frame, which is then
   cleared): the step, loss, tokens/s and the time left; the loss so far
   as a sparkline; the validation losses; and the depth weights alpha of
   the step's last window, averaged over its positions, as coloured cells
   (rows read, columns are the sources b0..bN, as attnres-run --heatmap
   draws them). Every pseudo-query starts at zero, so every row starts
   uniform; training makes the rows selective, and the cells show it.
   Where stderr is not a terminal (a pipe, a log file) or TERM is dumb,
   --watch prints the plain progress lines, without one escape code. The
   view only reads the training state: a run is the same with it and
   without it. Lines are never wrapped (autowrap is off while a frame is
   drawn), so a narrow terminal cuts them and the redraw stays in place. */
#define WATCH_LOSSES 72    /* progress points in the sparkline (the most recent) */
#define WATCH_VALS 6       /* validation losses listed (the most recent)          */
#define WATCH_ROWS 40      /* alpha rows drawn; a deeper model shows evenly spaced rows */
#define WATCH_COLS 64      /* sources drawn; more: the first ones and a note      */

typedef struct {
    int on;                      /* frames are drawn (stderr is a terminal)      */
    int lines;                   /* lines of the last frame, to move up over     */
    float loss[WATCH_LOSSES];    /* ring of the most recent progress-point losses */
    int n_loss;                  /* points so far (the ring holds the last ones)  */
    double val[WATCH_VALS];      /* ring of validation losses                     */
    int val_step[WATCH_VALS];
    int n_val;
} watch_view;

static void watch_init(watch_view *w, int asked) {
    const char *term = getenv("TERM");
    memset(w, 0, sizeof *w);
    w->on = asked && isatty(fileno(stderr)) && !(term && !strcmp(term, "dumb"));
}

static void watch_add_loss(watch_view *w, float loss) { w->loss[w->n_loss++ % WATCH_LOSSES] = loss; }

static void watch_add_val(watch_view *w, int step, double loss) {
    w->val[w->n_val % WATCH_VALS] = loss;
    w->val_step[w->n_val++ % WATCH_VALS] = step;
}

/* The sparkline: each point one of eight bar heights between the shown
   minimum and maximum (UTF-8 U+2581..U+2588). */
static void watch_sparkline(FILE *out, const watch_view *w) {
    static const char *bars[8] = {"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
                                  "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"};
    int n = w->n_loss < WATCH_LOSSES ? w->n_loss : WATCH_LOSSES, first = w->n_loss - n, k;
    float lo = w->loss[first % WATCH_LOSSES], hi = lo;
    for (k = first; k < w->n_loss; k++) {
        float v = w->loss[k % WATCH_LOSSES];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    fprintf(out, "loss  ");
    for (k = first; k < w->n_loss; k++) {
        float v = w->loss[k % WATCH_LOSSES];
        int b = hi > lo ? (int)((v - lo) / (hi - lo) * 7.0f + 0.5f) : 0;
        fputs(bars[b < 0 ? 0 : b > 7 ? 7 : b], out);
    }
    fprintf(out, "  %.3f .. %.3f\n", (double)hi, (double)lo);
}

/* One cell: two spaces on a background from dark blue (alpha 0) to yellow
   (alpha 1), xterm's 256-colour palette. */
static void watch_cell(FILE *out, float alpha) {
    static const int ramp[10] = {17, 18, 24, 30, 36, 72, 108, 148, 184, 226};
    int k = (int)(alpha * 9.0f + 0.5f);
    fprintf(out, "\033[48;5;%dm  \033[0m", ramp[k < 0 ? 0 : k > 9 ? 9 : k]);
}

/* The depth weights of the step's last window, averaged over its T
   positions: ts->alpha [T, L+1, N+1] as that window's forward left it (the
   backward reads alpha, never writes it); row l reads n + (partial) sources. */
static void watch_alpha(FILE *out, const attnres_model *m, const attnres_train_state *ts, int T) {
    const attnres_config *c = &m->config;
    int L = attnres_n_sublayers(c), rows = attnres_n_blocks(c) + 1, S = c->block_size;
    int cols = rows < WATCH_COLS ? rows : WATCH_COLS, shown = L + 1 < WATCH_ROWS ? L + 1 : WATCH_ROWS;
    int r, j, t, arg = 0;
    double top = 0.0;
    if (c->residual != ATTNRES_RESIDUAL_ATTNRES || T <= 0) {
        fprintf(out, "standard residual: no depth weights (every sublayer reads the plain sum of all before it)\n");
        return;
    }
    fprintf(out, "depth weights alpha, mean over the %d positions of the step's last window "
                 "(rows read, columns are sources b0..b%d%s)\n", T, rows - 1,
            cols < rows ? "; the first ones" : "");
    fprintf(out, "%-8s", "");
    for (j = 0; j < cols; j++) fprintf(out, "%-2d", j % 100);
    fprintf(out, "\n");
    for (r = 0; r < shown; r++) {
        int l = shown == L + 1 ? r : (int)((long)r * L / (shown - 1));   /* evenly spaced, first and output kept */
        int n_sources = l == L ? rows : attnres_block_row(l, S) + (l % S != 0);
        char label[16];
        if (l == L) snprintf(label, sizeof label, "output");
        else snprintf(label, sizeof label, "%s %d", l % 2 == 0 ? "attn" : "mlp", l / 2);
        fprintf(out, "%-8s", label);
        for (j = 0; j < n_sources; j++) {   /* the row's largest weight, beside the cells: how selective */
            double sum = 0.0;
            for (t = 0; t < T; t++) sum += ts->alpha[((size_t)t * (L + 1) + l) * rows + j];
            if (j < cols) watch_cell(out, (float)(sum / T));
            if (j == 0 || sum / T > top) { top = sum / T; arg = j; }
        }
        for (j = n_sources; j < cols; j++) fprintf(out, "  ");
        fprintf(out, "  max %.2f at b%d (uniform %.2f)\n", top, arg, 1.0 / n_sources);
    }
    fprintf(out, "%-8s", "scale");
    for (j = 0; j <= 9; j++) watch_cell(out, j / 9.0f);
    fprintf(out, "  0 .. 1\n");
}

/* Moves up over the last frame, clears it, and draws the next one. */
static void watch_frame(watch_view *w, const char *kind, const attnres_model *m, const attnres_train_state *ts,
                        int T, int step, int steps, float loss, double mean, double lr, double norm, double rate,
                        const char *took, const char *left) {
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);   /* the frame is counted, then written at once */
    int k, lines = 0;
    size_t i;
    if (!out) return;
    fprintf(out, "attnres-train --watch: %s\n", kind);
    fprintf(out, "step %d/%d  loss %.4f (mean %.4f)  lr %.2e  |g| %.3f  %.0f tok/s  %s, %s left\n", step, steps,
            (double)loss, mean, lr, norm, rate, took, left);
    watch_sparkline(out, w);
    fprintf(out, "validation");
    if (!w->n_val) fprintf(out, "  (none yet: --eval-every N validates every N steps)");
    for (k = w->n_val > WATCH_VALS ? w->n_val - WATCH_VALS : 0; k < w->n_val; k++)
        fprintf(out, "  step %d: %.4f", w->val_step[k % WATCH_VALS], w->val[k % WATCH_VALS]);
    fprintf(out, "\n");
    watch_alpha(out, m, ts, T);
    fclose(out);
    for (i = 0; i < size; i++) lines += buf[i] == '\n';
    if (w->lines) fprintf(stderr, "\033[%dA", w->lines);
    fprintf(stderr, "\033[?7l\033[J%s\033[?7h", buf);   /* autowrap off while drawing: no line wraps */
    fflush(stderr);
    w->lines = lines;
    free(buf);
}

/* ======================================================================== */
/* main                                                                      */
/* ======================================================================== */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* "1 h 02 min", "3 min 05 s", "12 s" */
static const char *duration(double s, char *buf, size_t size) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%ld h %02ld min", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, size, "%ld min %02ld s", t / 60, t % 60);
    else snprintf(buf, size, "%ld s", t);
    return buf;
}

int main(int argc, char **argv) {
    options o;
    attnres_config c;
    attnres_model m;
    attnres_train_state ts;
    attnres_adamw opt;
    attnres_error err;
    outfile out;
    unsigned char *text, *val_text, *bytes = NULL;
    size_t n_text, n_val, n_train, n_bytes;
    int *tokens, *targets, *eval_tokens, *eval_targets, step, b, status = 1;
    uint64_t rng;
    double t0, loss_sum = 0.0, val_loss;
    int loss_count = 0;
    char left[32], took[32], kind[48];
    watch_view view;

    parse_options(&o, argc, argv);
    memset(&c, 0, sizeof c);
    c.dim = o.dim; c.hidden_dim = o.hidden_dim; c.n_layers = o.n_layers; c.n_heads = o.n_heads;
    c.n_kv_heads = o.n_kv_heads; c.vocab_size = 256; c.seq_len = o.seq_len; c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f; c.tie_embeddings = o.tied; c.residual = o.residual; c.block_size = o.block_size;
    if (attnres_config_validate(&c, &err) != ATTNRES_OK)
        bad_argument("the model options do not make a valid model: %s", err.message);

    /* the texts: training, and validation (a second file, or TEXT's held-out tail) */
    if (!(text = read_file(o.text_path, "the training text", &n_text))) return 1;
    if (o.val_path) {
        if (!(val_text = read_file(o.val_path, "the validation text", &n_val))) { free(text); return 1; }
        n_train = n_text;
    } else {
        n_val = (size_t)((double)n_text * o.val_frac);
        n_train = n_text - n_val;
        val_text = text + n_train;
    }
    if (n_train < (size_t)o.window + 2 || n_val < 2) {
        if (n_text == 0) fprintf(stderr, "attnres-train: error: the training text '%s' is empty\n", q(o.text_path));
        else if (n_train < (size_t)o.window + 2)
            fprintf(stderr, "attnres-train: error: the training text '%s' has %lu bytes%s; a window of %d "
                    "bytes (--window) needs at least %d\n", q(o.text_path), (unsigned long)n_train,
                    o.val_path ? "" : " once its validation tail is held out", o.window, o.window + 2);
        else fprintf(stderr, "attnres-train: error: the validation text (%s) has %lu bytes; it needs at least 2\n",
                     o.val_path ? q(o.val_path) : "the tail of the training text", (unsigned long)n_val);
        free(text);
        if (o.val_path) free(val_text);
        return 1;
    }
    if (o.val_bytes && (size_t)o.val_bytes < n_val) n_val = (size_t)o.val_bytes < 2 ? 2 : (size_t)o.val_bytes;

    /* the model, its training state (seq_len positions: windows and validation), the optimizer */
    tokens = (int *)malloc((size_t)o.batch * o.window * sizeof(int));
    targets = (int *)malloc((size_t)o.batch * o.window * sizeof(int));
    eval_tokens = (int *)malloc((size_t)o.seq_len * sizeof(int));
    eval_targets = (int *)malloc((size_t)o.seq_len * sizeof(int));
    memset(&ts, 0, sizeof ts);
    memset(&opt, 0, sizeof opt);
    if (!tokens || !targets || !eval_tokens || !eval_targets) {
        fprintf(stderr, "attnres-train: error: out of memory\n");
        goto done_model;
    }
    if (attnres_model_init(&m, &c, &err) != ATTNRES_OK) {
        fprintf(stderr, "attnres-train: error: %s\n", err.message);
        goto done_model;
    }
    init_weights(&m, o.seed, o.random_queries);
    if (attnres_train_state_init(&ts, &m, o.seq_len, &err) != ATTNRES_OK ||
        attnres_adamw_init(&opt, &m, o.weight_decay, &err) != ATTNRES_OK) {
        fprintf(stderr, "attnres-train: error: %s\n", err.message);
        goto done;
    }
    if (outfile_open(&out, o.out_path) != 0) goto done;
    if (o.residual == ATTNRES_RESIDUAL_ATTNRES) snprintf(kind, sizeof kind, "Block AttnRes S = %d", o.block_size);
    else snprintf(kind, sizeof kind, "standard residual");
    if (!o.quiet)
        fprintf(stderr, "attnres-train: %s, dim %d, %d layers, %d heads (%d kv), %lu parameters; %d steps "
                "of %d x %d bytes of '%s' (%lu bytes); validation: %s (%lu bytes)\n", kind, o.dim, o.n_layers,
                o.n_heads, o.n_kv_heads, (unsigned long)m.n_floats, o.steps, o.batch, o.window, q(o.text_path),
                (unsigned long)n_train, o.val_path ? q(o.val_path) : "the held-out tail", (unsigned long)n_val);

    watch_init(&view, o.watch);
    if (o.watch && !view.on)
        fprintf(stderr, "attnres-train: --watch: stderr is not a terminal (or TERM is dumb); plain progress lines\n");

    /* the loop: draw the batch, one step, a progress line (or a frame) now and then */
    rng = o.seed ^ 0x5DEECE66DULL;
    if (!rng) rng = 1;
    t0 = now_seconds();
    for (step = 0; step < o.steps; step++) {
        double lr = attnres_lr_at(step, o.steps, o.lr, o.warmup), norm;
        float loss;
        for (b = 0; b < o.batch; b++)
            attnres_train_window(tokens + (size_t)b * o.window, targets + (size_t)b * o.window, text, n_train,
                                 o.window, &rng, &err);   /* cannot fail: n_train >= window + 2 */
        if (attnres_train_step(&m, &ts, &opt, tokens, targets, o.batch, o.window, lr, &loss, &norm, &err)
            != ATTNRES_OK) {
            fprintf(stderr, "attnres-train: error at step %d of %d: %s; training stopped, no checkpoint "
                    "written ('%s' is as it was)\n", step + 1, o.steps, err.message, q(o.out_path));
            outfile_close(&out, NULL, 0, 0);
            goto done;
        }
        loss_sum += loss;
        loss_count++;
        if (!o.quiet && ((step + 1) % o.log_every == 0 || step == 0 || step + 1 == o.steps)) {
            double t = now_seconds(), rate = (double)(step + 1) * o.batch * o.window / (t - t0 > 0 ? t - t0 : 1e-9);
            duration(t - t0, took, sizeof took);
            duration((double)(o.steps - step - 1) * o.batch * o.window / rate, left, sizeof left);
            if (view.on) {
                watch_add_loss(&view, (float)(loss_sum / loss_count));
                watch_frame(&view, kind, &m, &ts, o.window, step + 1, o.steps, loss, loss_sum / loss_count, lr, norm, rate,
                            took, left);
            } else
                fprintf(stderr, "step %6d/%d  loss %.4f  (mean of %d: %.4f)  lr %.2e  |g| %.3f  %.0f tok/s  "
                        "%s, %s left\n", step + 1, o.steps, (double)loss, loss_count, loss_sum / loss_count, lr,
                        norm, rate, took, left);
            loss_sum = 0.0;
            loss_count = 0;
        }
        if (o.eval_every && (step + 1) % o.eval_every == 0 && step + 1 != o.steps) {
            if (validation_loss(&m, &ts, val_text, n_val, eval_tokens, eval_targets, &val_loss, &err) != ATTNRES_OK) {
                fprintf(stderr, "attnres-train: error at step %d of %d, validating: %s; training stopped, no "
                        "checkpoint written\n", step + 1, o.steps, err.message);
                outfile_close(&out, NULL, 0, 0);
                goto done;
            }
            if (view.on) {               /* shown in the next frame; the depth gradient line at the end */
                watch_add_val(&view, step + 1, val_loss);
                continue;
            }
            fprintf(stderr, "step %6d/%d  validation loss %.4f nats/byte\n", step + 1, o.steps, val_loss);
            if (print_depth_gradient(&m, &ts, val_text, n_val, eval_tokens, eval_targets, step + 1, o.steps, &err)
                != ATTNRES_OK) {
                fprintf(stderr, "attnres-train: error at step %d of %d, in the depth gradient: %s; training "
                        "stopped, no checkpoint written\n", step + 1, o.steps, err.message);
                outfile_close(&out, NULL, 0, 0);
                goto done;
            }
        }
    }

    /* the result: validation loss, then the checkpoint */
    if (validation_loss(&m, &ts, val_text, n_val, eval_tokens, eval_targets, &val_loss, &err) != ATTNRES_OK) {
        fprintf(stderr, "attnres-train: error after step %d, validating: %s; no checkpoint written\n", o.steps,
                err.message);
        outfile_close(&out, NULL, 0, 0);
        goto done;
    }
    if (o.eval_every &&
        print_depth_gradient(&m, &ts, val_text, n_val, eval_tokens, eval_targets, o.steps, o.steps, &err) != ATTNRES_OK) {
        fprintf(stderr, "attnres-train: error after step %d, in the depth gradient: %s; no checkpoint written\n",
                o.steps, err.message);
        outfile_close(&out, NULL, 0, 0);
        goto done;
    }
    n_bytes = attnres_checkpoint_bytes(&m);
    if (!(bytes = (unsigned char *)malloc(n_bytes)) || attnres_checkpoint_write(bytes, n_bytes, &m, &err) != ATTNRES_OK) {
        fprintf(stderr, "attnres-train: error: %s\n", bytes ? err.message : "out of memory for the checkpoint");
        outfile_close(&out, NULL, 0, 0);
        goto done;
    }
    if (outfile_close(&out, bytes, n_bytes, 1) != 0) goto done;
    fprintf(stderr, "attnres-train: validation loss %.4f nats/byte (%.4f bits/byte) over %lu bytes; "
            "%d steps in %s; wrote '%s' (%lu bytes)\n", val_loss, val_loss / log(2.0), (unsigned long)n_val,
            o.steps, duration(now_seconds() - t0, took, sizeof took), q(o.out_path), (unsigned long)n_bytes);
    status = 0;
done:
    attnres_adamw_free(&opt);
    attnres_train_state_free(&ts);
    attnres_model_free(&m);
done_model:
    free(bytes);
    free(tokens); free(targets); free(eval_tokens); free(eval_targets);
    free(text);
    if (o.val_path) free(val_text);
    return status;
}
