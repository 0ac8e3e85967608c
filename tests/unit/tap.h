/*
 * tap.h — the smallest TAP producer that prints both sides of a failed comparison.
 *
 *   plan(n) or plan_no_plan(); ok(cond, "name %d", i); is_u64(a, b, "name");
 *   cmp_ok_u64(a, "<=", b, "name"); near(a, b, tol, "name"); done_testing();
 *
 * Header-only; every test program includes it once.
 */
#ifndef LP_TAP_H
#define LP_TAP_H

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count, tap_failed, tap_planned = -1;

static inline void plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

static inline bool tap_vok(bool cond, const char *fmt, va_list ap)
{
    tap_count++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_count);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    return cond;
}

static inline bool ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool ok(bool cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool r = tap_vok(cond, fmt, ap);
    va_end(ap);
    return r;
}

#define is_u64(got, want, ...)                                                                 \
    do {                                                                                       \
        uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                                 \
        if (!ok(g_ == w_, __VA_ARGS__))                                                        \
            diag("  %s = %" PRIu64 ", expected %s = %" PRIu64, #got, g_, #want, w_);          \
    } while (0)

#define is_i64(got, want, ...)                                                                 \
    do {                                                                                       \
        int64_t g_ = (int64_t)(got), w_ = (int64_t)(want);                                    \
        if (!ok(g_ == w_, __VA_ARGS__))                                                        \
            diag("  %s = %" PRId64 ", expected %s = %" PRId64, #got, g_, #want, w_);          \
    } while (0)

#define is_str(got, want, ...)                                                                 \
    do {                                                                                       \
        const char *g_ = (got), *w_ = (want);                                                  \
        if (!ok(g_ && w_ && strcmp(g_, w_) == 0, __VA_ARGS__))                                 \
            diag("  %s = \"%s\", expected \"%s\"", #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

#define cmp_ok_u64(a, op, b, ...)                                                              \
    do {                                                                                       \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                      \
        bool r_ = strcmp(op, "<") == 0 ? a_ < b_ : strcmp(op, "<=") == 0 ? a_ <= b_           \
                : strcmp(op, ">") == 0 ? a_ > b_ : strcmp(op, ">=") == 0 ? a_ >= b_           \
                : strcmp(op, "==") == 0 ? a_ == b_ : a_ != b_;                                \
        if (!ok(r_, __VA_ARGS__))                                                              \
            diag("  %s = %" PRIu64 " %s %s = %" PRIu64 " is false", #a, a_, op, #b, b_);      \
    } while (0)

/* |got - want| <= tol */
#define near(got, want, tol, ...)                                                              \
    do {                                                                                       \
        double g_ = (double)(got), w_ = (double)(want), t_ = (double)(tol);                   \
        if (!ok(fabs(g_ - w_) <= t_, __VA_ARGS__))                                             \
            diag("  %s = %.6g, expected %s = %.6g within %.6g (off by %.6g)", #got, g_, #want, \
                 w_, t_, g_ - w_);                                                             \
    } while (0)

static inline int done_testing(void)
{
    if (tap_planned < 0)
        printf("1..%d\n", tap_count);
    else if (tap_planned != tap_count)
        printf("# planned %d tests but ran %d\n", tap_planned, tap_count);
    fflush(stdout);
    return tap_failed || (tap_planned >= 0 && tap_planned != tap_count) ? 1 : 0;
}

#endif
