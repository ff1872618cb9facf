/*
 * A minimal TAP producer for the C tests (run by automake's tap-driver.sh).
 * ok(cond, fmt...) prints "ok N - ..." or "not ok N - ..." with the failing
 * file:line on stderr; done_testing() prints the plan and sets the exit code.
 */
#ifndef HM_TAP_H
#define HM_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond)
        fprintf(stderr, "#   failed at %s:%d\n", file, line);
    fflush(stdout);
    return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(a, b, ...)                                                                     \
    do {                                                                                      \
        long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);                           \
        if (!tap_ok(tap_a_ == tap_b_, __FILE__, __LINE__, __VA_ARGS__))                       \
            fprintf(stderr, "#   got %lld, expected %lld\n", tap_a_, tap_b_);                 \
    } while (0)
#define is_str(a, b, ...)                                                                     \
    do {                                                                                      \
        const char *tap_a_ = (a), *tap_b_ = (b);                                              \
        int tap_c_ = tap_a_ && tap_b_ && strcmp(tap_a_, tap_b_) == 0;                         \
        if (!tap_ok(tap_c_, __FILE__, __LINE__, __VA_ARGS__))                                 \
            fprintf(stderr, "#   got \"%s\", expected \"%s\"\n", tap_a_ ? tap_a_ : "(null)",  \
                    tap_b_ ? tap_b_ : "(null)");                                              \
    } while (0)
#define diag(...) (fprintf(stderr, "# " __VA_ARGS__), fprintf(stderr, "\n"))

static inline int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
