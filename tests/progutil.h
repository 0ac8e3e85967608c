/*
 * progutil.h — small helpers for the test programs that run under the preload.
 *
 * The programs know nothing of lockprof. They measure their own waits with CLOCK_MONOTONIC
 * around each call and print them as "measure KEY VALUE" lines for the tests to compare with
 * the profiles.
 */
#ifndef LP_PROGUTIL_H
#define LP_PROGUTIL_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleeps ms milliseconds, resuming after signals. */
static inline void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Waits until *word >= want (spinning with short sleeps: no lock, so nothing to profile). */
static inline void await_at_least(int *word, int want)
{
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) < want) {
        struct timespec ts = { 0, 100000 };
        nanosleep(&ts, NULL);
    }
}

/* A CLOCK_REALTIME deadline ms milliseconds from now, for the timed wait and lock calls. */
static inline struct timespec deadline_in_ms(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static inline void measure(const char *key, uint64_t value)
{
    printf("measure %s %llu\n", key, (unsigned long long)value);
}

static inline void die(const char *what)
{
    perror(what);
    exit(99);
}

#endif
