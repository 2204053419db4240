/* check.h - the few helpers every test program shares.
   A test program counts checks, prints one line per check (and, on a
   failure, where it first disagrees: index, both values, the tolerance),
   and ends with "# summary: P passed, F failed"; tests/run.sh adds those
   up. A program exits non-zero if any check failed. */
#ifndef CHECK_H
#define CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

/* A boolean check with a printf-style description. */
static void check(int ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#include <stdarg.h>
static void check(int ok, const char *fmt, ...) {
    va_list ap;
    printf("%s ", ok ? "ok  " : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (ok) check_passed++; else check_failed++;
}

/* Compares got[n] with want[n]: |got - want| <= atol + rtol * |want| at
   every index (rtol covers large values; for |want| <= 1 the bound stays
   within 2*atol). NaN anywhere fails. Prints the max abs difference, and
   on failure the first offending index with both values and the bound. */
static inline int check_close(const char *what, const float *got, const float *want, size_t n,
                       double atol, double rtol) {
    size_t i, bad = (size_t)-1;
    double max_diff = 0.0;
    for (i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)want[i]);
        double bound = atol + rtol * fabs((double)want[i]);
        if (!(diff <= bound) && bad == (size_t)-1) bad = i;   /* !(<=) also catches NaN */
        if (diff > max_diff || diff != diff) max_diff = diff;
    }
    if (bad == (size_t)-1) {
        check(1, "%s: %zu values, max |diff| %.3g (tol %.0e + %.0e*|want|)", what, n, max_diff, atol, rtol);
        return 1;
    }
    check(0, "%s: %zu values, max |diff| %.3g; first mismatch at [%zu]: got %.9g want %.9g, "
             "|diff| %.3g > tol %.3g", what, n, max_diff, bad, (double)got[bad], (double)want[bad],
          fabs((double)got[bad] - (double)want[bad]), atol + rtol * fabs((double)want[bad]));
    for (i = 0; i < n && i < 4; i++)
        printf("       [%zu] got %.9g want %.9g\n", i, (double)got[i], (double)want[i]);
    return 0;
}

static inline int check_summary(const char *program) {
    printf("# summary %s: %d passed, %d failed\n", program, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
