/*
 * clock.h — the one clock of lockprof: CLOCK_MONOTONIC in nanoseconds.
 *
 * A seam: tests replace lp_clock_source with a fake clock. Safe from any context (the vDSO
 * clock_gettime is async-signal-safe). errno is preserved.
 */
#ifndef LP_CLOCK_H
#define LP_CLOCK_H

#include <stdint.h>

typedef uint64_t (*lp_clock_fn)(void);

uint64_t lp_clock_monotonic(void);
/* The clock every event reads; tests may point it at a fake. */
extern lp_clock_fn lp_clock_source;

static inline uint64_t lp_now(void)
{
    return lp_clock_source();
}

/* CLOCK_REALTIME in nanoseconds, for time_nanos in profiles. */
int64_t lp_clock_realtime(void);

#endif
