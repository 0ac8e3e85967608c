/* sample.c — see sample.h for the derivation of the weights. */
#include "sample.h"

void lp_rng_seed(struct lp_rng *r, uint64_t seed)
{
    /* splitmix64 scrambles small or similar seeds (thread ids) into unrelated states. */
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    r->s = z ? z : 0x9E3779B97F4A7C15ULL;
}

bool lp_sample_block(struct lp_rng *r, uint64_t rate, uint64_t d, struct lp_weight *w)
{
    /* A "negative" duration (end read before start: counters out of step across CPUs) is
     * no wait, rather than one of 584 years. */
    if (rate == 0 || (int64_t)d < 0)
        return false;
    if (rate == 1 || d >= rate) {
        w->count_fp = LP_COUNT_ONE;
        w->delay = d;
        return true;
    }
    /* P(record) = d/rate; weight rate/d contentions and rate ns: E = 1 contention, d ns. */
    if (lp_rng_below(r, rate) >= d)
        return false;
    w->count_fp = (uint64_t)(((unsigned __int128)rate << LP_COUNT_SHIFT) / d);
    w->delay = rate;
    return true;
}

void lp_sample_mutex_weight(uint64_t fraction, uint64_t charge, struct lp_weight *w)
{
    w->count_fp = fraction << LP_COUNT_SHIFT;
    w->delay = fraction * charge;
}

int64_t lp_count_round(uint64_t count_fp, uint64_t delay)
{
    uint64_t c = (count_fp + LP_COUNT_ONE / 2) >> LP_COUNT_SHIFT;
    if (c == 0 && delay > 0)
        c = 1;
    return (int64_t)c;
}
