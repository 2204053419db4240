/* numdiff.c - a diff that knows numbers.

     numdiff [--atol A] [--rtol R] expected.txt actual.txt

   Compares two text files line by line. Each line is split into NUMBERS and
   TEXT. Two numbers agree when
       |actual - expected| <= atol + rtol * |expected|
   except that two integers (no '.', no exponent) must be equal: in the
   lessons integers are counts, indices and token ids, never rounded results.
   NaN agrees only with NaN, inf only with an inf of the same sign. Text must
   match exactly, except that a run of spaces or tabs matches any other run
   (a wider number may shift the padding) and trailing spaces and a CR before
   the newline are ignored. Both files must have the same number of lines.

   Exit status: 0 the files agree, 1 they differ (up to 20 differences are
   printed: line number, both lines, the token and by how much), 2 bad
   arguments or an unreadable file. "-" reads standard input.

   Why the defaults, atol 1e-5 and rtol 1e-4: the lessons print float32
   results with at least six significant digits or six decimals, so rounding
   in the last printed digit moves a value by at most 1e-6 absolute or 1e-5
   relative - inside the tolerance. A real change (a different alpha, a
   wrong RMSNorm, a bad index) moves the printed digits far more. float32
   itself carries about 7 significant digits, so rtol 1e-4 also absorbs the
   different rounding of an optimised kernel (FMA, another summation order)
   without hiding a bug. Pass --atol 0 --rtol 0 to compare numbers exactly.

   A number is [+-]digits[.digits][e[+-]digits] (or .digits), or nan / inf /
   infinity with an optional sign, standing alone: not glued to a letter,
   digit, '_' or '.' on either side (so "b0", "f32" and "01_matrices" are
   text, but "=0.25", "(3," and "1e-05:" hold numbers). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPORTS 20

/* ------------------------------------------------------------------------ */
/* Reading a file into lines                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    char  *text;    /* the whole file, NUL-terminated; lines point into it */
    char **lines;   /* [n_lines] NUL-terminated, without "\n" or "\r\n"    */
    size_t n_lines;
} text_file;

static void text_free(text_file *f) {
    free(f->text);
    free(f->lines);
    f->text = NULL;
    f->lines = NULL;
    f->n_lines = 0;
}

/* Reads the whole of fp into f->text. Returns 0, or -1 on a read error or
   when memory runs out. */
static int read_all(FILE *fp, text_file *f) {
    size_t cap = 4096, len = 0, got;
    char *buf = (char *)malloc(cap), *bigger;
    if (!buf) return -1;
    while ((got = fread(buf + len, 1, cap - 1 - len, fp)) > 0) {
        len += got;
        if (len == cap - 1) {
            if (cap > ((size_t)-1) / 2) { free(buf); return -1; }
            bigger = (char *)realloc(buf, cap * 2);
            if (!bigger) { free(buf); return -1; }
            buf = bigger;
            cap *= 2;
        }
    }
    if (ferror(fp)) { free(buf); return -1; }
    buf[len] = '\0';
    f->text = buf;
    return (int)(strlen(buf) == len ? 0 : -2);   /* -2: a NUL byte inside: not text */
}

/* Splits f->text into lines in place: "\n" ends a line, a "\r" just before
   it is dropped, and a last line without "\n" still counts. */
static int split_lines(text_file *f) {
    size_t n = 0, i = 0;
    char *p;
    for (p = f->text; *p; p++) if (*p == '\n') n++;
    if (p > f->text && p[-1] != '\n') n++;          /* last line lacks its newline */
    f->lines = (char **)malloc((n ? n : 1) * sizeof(char *));
    if (!f->lines) return -1;
    p = f->text;
    while (*p) {
        char *start = p, *end;
        while (*p && *p != '\n') p++;
        end = p;
        if (*p) p++;                                /* step over the newline */
        if (end > start && end[-1] == '\r') end--;
        *end = '\0';
        f->lines[i++] = start;
    }
    f->n_lines = i;
    return 0;
}

/* Opens path ("-" = stdin) and splits it into lines; prints why on failure. */
static int load(const char *path, text_file *f) {
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    int rc;
    memset(f, 0, sizeof *f);
    if (!fp) {
        fprintf(stderr, "numdiff: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    errno = 0;
    rc = read_all(fp, f);
    if (fp != stdin) fclose(fp);
    if (rc == -2) {
        fprintf(stderr, "numdiff: %s contains a NUL byte; it is not a text file\n", path);
        text_free(f);
        return -1;
    }
    if (rc != 0 || split_lines(f) != 0) {
        fprintf(stderr, "numdiff: cannot read %s: %s\n", path, errno ? strerror(errno) : "out of memory");
        text_free(f);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Tokens: a number, or a stretch of text                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *start;
    size_t      len;
    int         is_number;
    int         is_integer;  /* a number without '.' or exponent        */
    double      value;       /* when is_number                          */
} token;

static int glued(int c) { return isalnum((unsigned char)c) || c == '_' || c == '.'; }

/* Length of a number starting at s (0 if none); sets *is_integer. */
static size_t scan_number(const char *s, int *is_integer) {
    const char *p = s;
    size_t digits = 0;
    static const char *const words[] = {"infinity", "inf", "nan"};
    size_t w;
    *is_integer = 0;
    if (*p == '+' || *p == '-') p++;
    for (w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t n = strlen(words[w]), k;
        for (k = 0; k < n && p[k] && tolower((unsigned char)p[k]) == words[w][k]; k++) {}
        if (k == n) return (size_t)(p + n - s);
    }
    while (isdigit((unsigned char)*p)) { p++; digits++; }
    *is_integer = 1;
    if (*p == '.') {
        *is_integer = 0;
        p++;
        while (isdigit((unsigned char)*p)) { p++; digits++; }
    }
    if (digits == 0) return 0;
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        if (*q == '+' || *q == '-') q++;
        if (isdigit((unsigned char)*q)) {
            while (isdigit((unsigned char)*q)) q++;
            p = q;
            *is_integer = 0;
        }
    }
    return (size_t)(p - s);
}

/* The next token of a line starting at s (s must not be at the NUL). Text
   runs until the next number that stands alone. */
static token next_token(const char *line, const char *s) {
    token t;
    const char *p = s;
    int is_int;
    size_t n;
    memset(&t, 0, sizeof t);
    t.start = s;
    for (;;) {
        int before_ok = (p == line) || !glued((unsigned char)p[-1]);
        n = before_ok ? scan_number(p, &is_int) : 0;
        if (n > 0 && !glued((unsigned char)p[n])) {
            if (p == s) {                         /* the token is this number */
                char buf[64];
                size_t k = n < sizeof buf - 1 ? n : sizeof buf - 1;
                memcpy(buf, p, k);
                buf[k] = '\0';
                t.len = n;
                t.is_number = 1;
                t.is_integer = is_int;
                t.value = strtod(buf, NULL);      /* numdiff never calls setlocale: "C" */
                return t;
            }
            break;                                /* the text ends before it */
        }
        p++;
        if (!*p) break;
    }
    t.len = (size_t)(p - s);
    return t;
}

/* Text equality with every run of blanks equal to any other run and
   trailing blanks ignored (a trailing run only matters before more text). */
static int text_equal(const char *a, size_t na, const char *b, size_t nb, int at_end_a, int at_end_b) {
    size_t i = 0, j = 0;
    for (;;) {
        int blank_a = i < na && (a[i] == ' ' || a[i] == '\t');
        int blank_b = j < nb && (b[j] == ' ' || b[j] == '\t');
        if (blank_a || blank_b) {
            if (!(blank_a && blank_b)) {
                /* blanks on one side only: fine only if they trail the line */
                if (blank_a) { while (i < na && (a[i] == ' ' || a[i] == '\t')) i++; if (!(i == na && at_end_a)) return 0; }
                if (blank_b) { while (j < nb && (b[j] == ' ' || b[j] == '\t')) j++; if (!(j == nb && at_end_b)) return 0; }
                continue;
            }
            while (i < na && (a[i] == ' ' || a[i] == '\t')) i++;
            while (j < nb && (b[j] == ' ' || b[j] == '\t')) j++;
            continue;
        }
        if (i == na || j == nb) return i == na && j == nb;
        if (a[i] != b[j]) return 0;
        i++;
        j++;
    }
}

/* ------------------------------------------------------------------------ */
/* Comparing two lines                                                       */
/* ------------------------------------------------------------------------ */

typedef struct { double atol, rtol; } tolerance;

static int numbers_agree(const token *e, const token *a, tolerance tol) {
    if (e->is_integer && a->is_integer) return e->value == a->value;
    if (isnan(e->value) || isnan(a->value)) return isnan(e->value) && isnan(a->value);
    if (isinf(e->value) || isinf(a->value)) return e->value == a->value;
    return fabs(a->value - e->value) <= tol.atol + tol.rtol * fabs(e->value);
}

/* Compares one line; on a difference writes a one-line explanation into
   why[n_why], the column of the expected line into *where, and returns 0. */
static int compare_line(const char *exp, const char *act, tolerance tol, char *why, size_t n_why,
                        int *where) {
    const char *pe = exp, *pa = act;
    while (*pe || *pa) {
        int column;
        token te, ta;
        /* a line that only has blanks left is over */
        if (!*pe) { while (*pa == ' ' || *pa == '\t') pa++; if (!*pa) return 1; }
        if (!*pa) { while (*pe == ' ' || *pe == '\t') pe++; if (!*pe) return 1; }
        if (!*pe || !*pa) {
            *where = (int)((*pe ? pe - exp : pa - act) + 1);
            snprintf(why, n_why, "the %s line is longer (from column %d)", *pe ? "expected" : "actual", *where);
            return 0;
        }
        te = next_token(exp, pe);
        ta = next_token(act, pa);
        column = (int)(pe - exp) + 1;
        *where = column;
        if (te.is_number != ta.is_number) {
            snprintf(why, n_why, "column %d: expected %s \"%.*s\", got %s \"%.*s\"", column,
                     te.is_number ? "a number" : "text", (int)(te.len > 40 ? 40 : te.len), te.start,
                     ta.is_number ? "a number" : "text", (int)(ta.len > 40 ? 40 : ta.len), ta.start);
            return 0;
        }
        if (te.is_number) {
            if (!numbers_agree(&te, &ta, tol)) {
                if (!isfinite(te.value) || !isfinite(ta.value))
                    snprintf(why, n_why, "column %d: expected %.*s, got %.*s (nan and inf must match exactly)",
                             column, (int)te.len, te.start, (int)ta.len, ta.start);
                else if (te.is_integer && ta.is_integer)
                    snprintf(why, n_why, "column %d: expected %.*s, got %.*s (integers must be equal)", column,
                             (int)te.len, te.start, (int)ta.len, ta.start);
                else
                    snprintf(why, n_why, "column %d: expected %.*s, got %.*s: |diff| %.3g > tol %.3g", column,
                             (int)te.len, te.start, (int)ta.len, ta.start, fabs(ta.value - te.value),
                             tol.atol + tol.rtol * fabs(te.value));
                return 0;
            }
        } else if (!text_equal(te.start, te.len, ta.start, ta.len, !te.start[te.len], !ta.start[ta.len])) {
            snprintf(why, n_why, "column %d: text \"%.*s\" differs from \"%.*s\"", column,
                     (int)(te.len > 60 ? 60 : te.len), te.start, (int)(ta.len > 60 ? 60 : ta.len), ta.start);
            return 0;
        }
        pe += te.len;
        pa += ta.len;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */
/* ------------------------------------------------------------------------ */

static void usage(FILE *out) {
    fprintf(out,
            "usage: numdiff [--atol A] [--rtol R] expected.txt actual.txt\n"
            "Compares two text files line by line; numbers agree within\n"
            "atol + rtol*|expected| (integers must be equal), other text exactly\n"
            "(runs of blanks match any run; trailing blanks and CR are ignored).\n"
            "  --atol A   absolute tolerance (default 1e-5)\n"
            "  --rtol R   relative tolerance (default 1e-4)\n"
            "  -          read that file from standard input\n"
            "exit status: 0 equal, 1 different, 2 bad arguments or unreadable file\n");
}

static int parse_tolerance(const char *flag, const char *s, double *out) {
    char *end;
    double v;
    if (!s) { fprintf(stderr, "numdiff: %s needs a value\n", flag); return -1; }
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= 0.0) || isinf(v)) {
        fprintf(stderr, "numdiff: %s %s: expected a finite number >= 0\n", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Prints a line; a long one only around `column` (1-based; 0 = its start). */
static void show(const char *label, const char *line, int column) {
    size_t n = strlen(line), from = 0, width = 160;
    if (n <= 200) { printf("  %s %s\n", label, line); return; }
    if (column > 80) from = (size_t)column - 80;
    if (from > n) from = n;
    printf("  %s %s%.*s%s (columns %lu-%lu of %lu)\n", label, from ? "..." : "", (int)width, line + from,
           from + width < n ? "..." : "", (unsigned long)from + 1,
           (unsigned long)(from + width < n ? from + width : n), (unsigned long)n);
}

int main(int argc, char **argv) {
    tolerance tol = {1e-5, 1e-4};
    const char *paths[2] = {NULL, NULL};
    int n_paths = 0, i, reported = 0, differing = 0, dash_only = 0;
    text_file exp, act;
    size_t line, common;
    char why[512];

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dash_only && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) { usage(stdout); return 0; }
        else if (!dash_only && strcmp(a, "--") == 0) dash_only = 1;
        else if (!dash_only && strcmp(a, "--atol") == 0) { if (parse_tolerance(a, argv[++i], &tol.atol)) return 2; }
        else if (!dash_only && strcmp(a, "--rtol") == 0) { if (parse_tolerance(a, argv[++i], &tol.rtol)) return 2; }
        else if (!dash_only && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "numdiff: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (n_paths < 2) paths[n_paths++] = a;
        else { fprintf(stderr, "numdiff: too many files (%s)\n", a); usage(stderr); return 2; }
    }
    if (n_paths != 2) { fprintf(stderr, "numdiff: need two files\n"); usage(stderr); return 2; }
    if (strcmp(paths[0], "-") == 0 && strcmp(paths[1], "-") == 0) {
        fprintf(stderr, "numdiff: only one of the files can be standard input\n");
        return 2;
    }
    if (load(paths[0], &exp) != 0) return 2;
    if (load(paths[1], &act) != 0) { text_free(&exp); return 2; }

    common = exp.n_lines < act.n_lines ? exp.n_lines : act.n_lines;
    for (line = 0; line < common; line++) {
        int column = 0;
        if (compare_line(exp.lines[line], act.lines[line], tol, why, sizeof why, &column)) continue;
        differing++;
        if (reported++ < MAX_REPORTS) {
            printf("line %lu: %s\n", (unsigned long)(line + 1), why);
            show("expected:", exp.lines[line], column);
            show("actual:  ", act.lines[line], column);
        }
    }
    if (exp.n_lines != act.n_lines) {
        const text_file *longer = exp.n_lines > act.n_lines ? &exp : &act;
        differing++;
        printf("line count: expected %lu lines, actual %lu; first extra %s line %lu:\n",
               (unsigned long)exp.n_lines, (unsigned long)act.n_lines,
               longer == &exp ? "expected" : "actual", (unsigned long)(common + 1));
        show(longer == &exp ? "expected:" : "actual:  ", longer->lines[common], 0);
    }
    if (reported > MAX_REPORTS)
        printf("... %d more differing lines not shown\n", reported - MAX_REPORTS);
    if (differing)
        printf("numdiff: %s and %s differ (atol %g, rtol %g)\n", paths[0], paths[1], tol.atol, tol.rtol);
    text_free(&exp);
    text_free(&act);
    return differing ? 1 : 0;
}
