/*
 * unit_sample — Go-style sampling is unbiased: totals at block rate N and mutex fraction n
 * agree with the true totals within 5 standard deviations of the estimator (fixed seeds, so
 * the outcome is deterministic; the bound is what makes the seed unremarkable).
 */
#include <math.h>

#include "sample.h"
#include "tap.h"

static void block_rate(uint64_t rate, uint64_t dmin, uint64_t dmax, long n, uint64_t seed)
{
    struct lp_rng r, draw;
    lp_rng_seed(&r, seed);
    lp_rng_seed(&draw, seed ^ 0xabcdef);
    double true_delay = 0, var_delay = 0, var_count = 0, got_delay = 0, got_count = 0;
    for (long i = 0; i < n; i++) {
        uint64_t d = dmin + lp_rng_below(&draw, dmax - dmin + 1);
        true_delay += (double)d;
        if (d < rate) {
            /* recorded with p = d/N: delay N·B, count (N/d)·B */
            double p = (double)d / (double)rate;
            var_delay += (double)rate * (double)rate * p * (1 - p);
            var_count += ((double)rate / (double)d) * ((double)rate / (double)d) * p * (1 - p);
        }
        struct lp_weight w;
        if (lp_sample_block(&r, rate, d, &w)) {
            got_delay += (double)w.delay;
            got_count += (double)w.count_fp / (double)LP_COUNT_ONE;
        }
    }
    near(got_delay, true_delay, 5 * sqrt(var_delay) + 1,
         "block rate %llu, waits %llu..%llu ns: Σ delay unbiased", (unsigned long long)rate,
         (unsigned long long)dmin, (unsigned long long)dmax);
    /* fixed-point counts add at most 2^-16 of rounding per sample */
    near(got_count, (double)n, 5 * sqrt(var_count) + (double)n / 65536.0 + 1,
         "block rate %llu: Σ contentions unbiased (%ld waits)", (unsigned long long)rate, n);
}

static void mutex_fraction(uint64_t fraction, long n, uint64_t seed)
{
    struct lp_rng r, draw;
    lp_rng_seed(&r, seed);
    lp_rng_seed(&draw, seed ^ 0x12345);
    double true_delay = 0, var_delay = 0, got_delay = 0, got_count = 0;
    for (long i = 0; i < n; i++) {
        uint64_t charge = 1 + lp_rng_below(&draw, 1000000);
        true_delay += (double)charge;
        /* recorded with p = 1/n: delay n·c·B → variance c²(n − 1) */
        var_delay += (double)charge * (double)charge * (double)(fraction - 1);
        if (lp_sample_mutex_pick(&r, fraction)) {
            struct lp_weight w;
            lp_sample_mutex_weight(fraction, charge, &w);
            got_delay += (double)w.delay;
            got_count += (double)(w.count_fp >> LP_COUNT_SHIFT);
        }
    }
    near(got_delay, true_delay, 5 * sqrt(var_delay) + 1,
         "mutex fraction %llu: Σ delay unbiased (%ld charges)", (unsigned long long)fraction, n);
    near(got_count, (double)n, 5 * sqrt((double)n * (double)(fraction - 1)) + 1,
         "mutex fraction %llu: Σ contentions unbiased", (unsigned long long)fraction);
}

int main(void)
{
    struct lp_rng r;
    lp_rng_seed(&r, 1);
    struct lp_weight w;

    ok(!lp_sample_block(&r, 0, 12345, &w), "rate 0: nothing is recorded");
    ok(!lp_sample_block(&r, 1, (uint64_t)-40, &w) && !lp_sample_block(&r, 100000, (uint64_t)-40, &w),
       "an end read 40 ns before its start (counters out of step) is no wait, at rate 1 or N");
    ok(lp_sample_block(&r, 1, 0, &w) && w.delay == 0 && w.count_fp == LP_COUNT_ONE,
       "rate 1: even a 0 ns wait is recorded, count 1");
    ok(lp_sample_block(&r, 1, 777, &w) && w.delay == 777 && w.count_fp == LP_COUNT_ONE,
       "rate 1: exact duration");
    ok(lp_sample_block(&r, 1000, 1000, &w) && w.delay == 1000 && w.count_fp == LP_COUNT_ONE,
       "d >= N: always, exact");
    ok(!lp_sample_mutex_pick(&r, 0), "fraction 0: no charge recorded");
    int all = 1;
    for (int i = 0; i < 1000; i++)
        all &= lp_sample_mutex_pick(&r, 1);
    ok(all, "fraction 1: every charge recorded");
    lp_sample_mutex_weight(7, 100, &w);
    ok(w.delay == 700 && (w.count_fp >> LP_COUNT_SHIFT) == 7, "fraction 7: pre-scaled weight");

    is_i64(lp_count_round(LP_COUNT_ONE * 3 / 2, 10), 2, "count rounding: 1.5 -> 2");
    is_i64(lp_count_round(LP_COUNT_ONE / 4, 10), 1, "count rounding: 0.25 with delay -> 1");
    is_i64(lp_count_round(LP_COUNT_ONE / 4, 0), 0, "count rounding: 0.25 without delay -> 0");
    is_i64(lp_count_round(LP_COUNT_ONE * 5 / 4, 10), 1, "count rounding: 1.25 -> 1");

    block_rate(10000, 100, 20000, 1000000, 42);  /* half the waits sampled, half exact */
    block_rate(10000, 100, 2000, 1000000, 43);   /* all sampled */
    block_rate(1000000, 1000, 50000, 500000, 44); /* rare samples, large weights */
    mutex_fraction(10, 1000000, 45);
    mutex_fraction(100, 1000000, 46);

    /* The rate read once: a sample's weight comes from the same value as its probability,
     * so mixing rates mid-stream stays unbiased. */
    struct lp_rng rr, draw;
    lp_rng_seed(&rr, 47);
    lp_rng_seed(&draw, 48);
    double truth = 0, got = 0, var = 0;
    for (long i = 0; i < 1000000; i++) {
        uint64_t rate = (i / 1000) % 2 ? 5000 : 50000, d = 100 + lp_rng_below(&draw, 4000);
        truth += (double)d;
        double p = (double)d / (double)rate;
        var += (double)rate * (double)rate * p * (1 - p);
        if (lp_sample_block(&rr, rate, d, &w))
            got += (double)w.delay;
    }
    near(got, truth, 5 * sqrt(var), "rates alternating every 1000 waits: Σ delay unbiased");
    return done_testing();
}
