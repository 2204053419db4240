/* tools/cli_args.h - the command-line parsing attnres-run and attnres-train
   share: quoting a value in a message, the one exit for a bad argument, and
   the strict number parsers (digits only, nothing after, no wrap-around).
   Programs, not the library: these print and exit. Define CLI_PROGRAM (the
   program's name, for messages) before including; needs <ctype.h>,
   <errno.h>, <stdarg.h>, <stdint.h>, <stdio.h>, <stdlib.h>, <string.h> and
   attnres.h (for attnres_escape). */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

/* s with its control characters escaped, for quoting in a message; four
   rotating buffers, so one message can quote up to four strings. */
static const char *q(const char *s) {
    static char bufs[4][1024];
    static int next;
    char *b = bufs[next++ % 4];
    attnres_escape(b, sizeof bufs[0], s);
    return b;
}

/* Every argument error ends here: the message, a hint, exit status 2. */
static void bad_argument(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;
static void bad_argument(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, CLI_PROGRAM ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(" CLI_PROGRAM " --help lists every option)\n");
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

/* The value of option a: the part after '=' of --option=VALUE (inline),
   else the next argument; exit 2 if the command line ends there. */
static const char *value_of(const char *a, const char *inline_value, int *i, int argc, char **argv) {
    if (inline_value) return inline_value;
    if (*i + 1 >= argc) bad_argument("%s: needs a value", q(a));
    return argv[++*i];
}

/* --option=VALUE: copies the name before '=' into name[size] and returns
   the value after it; any other argument: returns NULL, a unchanged. */
static const char *split_inline(const char **a, char *name, size_t size) {
    const char *eq;
    if ((*a)[0] != '-' || (*a)[1] != '-' || (eq = strchr(*a, '=')) == NULL) return NULL;
    if ((size_t)(eq - *a) >= size) bad_argument("%s: unknown option", q(*a));
    memcpy(name, *a, (size_t)(eq - *a));
    name[eq - *a] = '\0';
    *a = name;
    return eq + 1;
}

#endif
