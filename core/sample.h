/*
 * sample.h — Go's sampling of waits and charges, without Go's bias (DESIGN §3.1, §3.2).
 *
 * Block profile, rate N nanoseconds (runtime.SetBlockProfileRate):
 *   N == 0: nothing.  N == 1: every wait, count 1, delay d.
 *   d >= N: always, count 1, delay d.
 *   d <  N: with probability d/N, and then count N/d, delay N.
 * so that E[count] = 1 and E[delay] = d for every wait. Go ≥ 1.17 draws the same way but
 * compares against a value off by one tick; we compare u < d with u uniform in [0, N).
 *
 * Mutex profile, fraction n (runtime.SetMutexProfileFraction):
 *   n == 0: nothing.  Otherwise with probability 1/n: count n, delay n × charge — pre-scaled at
 *   record time as Go ≥ 1.20 does, so nothing is rescaled when the profile is written.
 *
 * The caller reads the rate once per event and passes that one value, so a rate changed at run
 * time never pairs one value's probability with another's weight.
 *
 * Counts are fixed-point (LP_COUNT_ONE units per contention) because N/d is fractional.
 * The generator is xorshift64*, one state per thread (or per test, with a fixed seed).
 * Pure functions: safe from any context.
 */
#ifndef LP_SAMPLE_H
#define LP_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#define LP_COUNT_SHIFT 16
#define LP_COUNT_ONE ((uint64_t)1 << LP_COUNT_SHIFT)

struct lp_rng {
    uint64_t s; /* never 0 */
};

void lp_rng_seed(struct lp_rng *r, uint64_t seed);

static inline uint64_t lp_rng_next(struct lp_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; the bias is below 2^-32 for our n). */
static inline uint64_t lp_rng_below(struct lp_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)lp_rng_next(r) * n) >> 64);
}

struct lp_weight {
    uint64_t count_fp; /* contentions × LP_COUNT_ONE */
    uint64_t delay;    /* nanoseconds */
};

/* Decides whether a wait of d ns is recorded at rate, and with which weight. */
bool lp_sample_block(struct lp_rng *r, uint64_t rate, uint64_t d, struct lp_weight *w);
/* Decides whether a charge is recorded at fraction (call before unwinding: the charge itself
 * is only needed for the weight). */
static inline bool lp_sample_mutex_pick(struct lp_rng *r, uint64_t fraction)
{
    if (fraction == 0)
        return false;
    return fraction == 1 || lp_rng_below(r, fraction) == 0;
}
/* The weight of a picked charge. */
void lp_sample_mutex_weight(uint64_t fraction, uint64_t charge, struct lp_weight *w);

/* The one rounding rule for every encoding (DESIGN §3.5): nearest, at least 1 if delay > 0. */
int64_t lp_count_round(uint64_t count_fp, uint64_t delay);

#endif
