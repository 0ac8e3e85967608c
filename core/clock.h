/*
 * clock.h — the one clock of lockprof: CLOCK_MONOTONIC in nanoseconds.
 *
 * Read through the CPU's time-stamp counter once it is calibrated, where that is the kernel's
 * own clock source (lp_clock_tsc_init): lfence + rdtsc costs about 16 ns here, the vDSO's
 * clock_gettime about 23 ns (measured), and a contended lock reads the clock at least twice.
 * Until then, and wherever the counter is not trusted, clock_gettime(CLOCK_MONOTONIC).
 *
 * A seam: tests replace lp_clock_source with a fake clock (used while the counter is off).
 * Safe from any context (rdtsc and the vDSO clock_gettime are async-signal-safe). errno is
 * preserved.
 */
#ifndef LP_CLOCK_H
#define LP_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t (*lp_clock_fn)(void);

uint64_t lp_clock_monotonic(void);
/* The clock every event reads while the counter is off; tests may point it at a fake. */
extern lp_clock_fn lp_clock_source;

/* The counter's conversion, published once (mult last, with release): ns = base_ns +
 * (tsc - base_tsc) * mult / 2^32. mult is 0 while the counter is not in use. */
struct lp_tsc {
    uint64_t mult;
    uint64_t base_tsc;
    uint64_t base_ns;
};
extern struct lp_tsc lp_tsc_;

/* In the constructor: when enable and the counter is invariant, the counter may be used. Whether
 * it is the kernel's clock source (a file in /sys) is asked by lp_clock_tsc_settle, at the first
 * read of the clock (a process that never times a wait never asks), which notes a first
 * (counter, CLOCK_MONOTONIC) pair; the clock switches to the counter at the first read
 * LP_TSC_CALIBRATE_NS later, from a second pair. */
#define LP_TSC_CALIBRATE_NS 50000000ull
void lp_clock_tsc_init(bool enable);
/* Asks now, if not yet asked (before lockprof's system calls are restricted). Any context. */
void lp_clock_tsc_settle(void);

/* The read itself; fence: lfence first (lp_now), or not (lp_now_nofence). */
static inline __attribute__((always_inline)) uint64_t lp_clock_read_(bool fence)
{
#if defined(__x86_64__)
    uint64_t mult = __atomic_load_n(&lp_tsc_.mult, __ATOMIC_ACQUIRE);
    if (__builtin_expect(mult != 0, 1)) {
        if (fence)
            __builtin_ia32_lfence();
        /* Signed: a counter a few cycles behind the base (another CPU's) stays near it. */
        int64_t d = (int64_t)(__builtin_ia32_rdtsc() - lp_tsc_.base_tsc);
        return lp_tsc_.base_ns + (uint64_t)(int64_t)(((__int128)d * mult) >> 32);
    }
#endif
    (void)fence;
    return lp_clock_source();
}

/* lfence first, as the kernel's own reads do: rdtsc alone may run ahead of the loads and
 * stores before it, and times read under a lock by two threads (the charges of locktab.c)
 * must not come out of order (16 ns a read, measured, against 10 ns unfenced and 23 ns for
 * clock_gettime). */
static inline uint64_t lp_now(void)
{
    return lp_clock_read_(true);
}

/* lp_now() without the fence, for the times that never meet another thread's in the charge
 * arithmetic: the start and end of a wait that is not registered for a charge (locktab.c), of
 * a call on a pipe or queue (io.c), of a join or a barrier wait (thread.c). (The threads view
 * shows such a start beside its own clock, and takes a start after its now as 0 s.) A read may
 * run a few cycles early or late against the instructions around it, which no duration near
 * the wait threshold (two context switches) can notice, and two of them may even come out of
 * order: a threshold check takes their difference with lp_clock_elapsed, and lp_sample_block
 * takes a negative one as no wait. The fence cost 10-15 ns a read next to a system call
 * (measured), and a pipe round trip reads the clock 8 times, a condition-variable round trip 4. */
static inline uint64_t lp_now_nofence(void)
{
    return lp_clock_read_(false);
}

/* end - start, and 0 when end reads earlier than start (two unfenced reads in the wrong
 * order, or two CPUs' counters a few cycles apart): for the threshold checks, where the
 * unsigned difference would wrap and pass for a wait (which lp_sample_block then refused). */
static inline uint64_t lp_clock_elapsed(uint64_t start, uint64_t end)
{
    return end > start ? end - start : 0;
}

/* Sleeps ns nanoseconds on CLOCK_MONOTONIC, resuming after signals (the test variants'
 * slow unwinder and stalled writer; never on the event path). */
void lp_sleep_ns(uint64_t ns);

/* CLOCK_REALTIME in nanoseconds, for time_nanos in profiles. */
int64_t lp_clock_realtime(void);

#endif
