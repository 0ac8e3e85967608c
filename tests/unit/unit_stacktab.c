/*
 * unit_stacktab — the event pipeline with its seams replaced: a fake clock and a fake
 * unwinder. Checks that lockprof's own frames are dropped by address range, that deep stacks
 * are truncated under a synthetic frame, that overflowing the stack table keeps totals whole
 * (also from several threads at once), that sampled waits through the real event path
 * give unbiased totals (fixed seed), and that a wait whose end reads earlier than its start
 * (two unfenced counter reads, clock.h) is no wait, timed around a lock or around a call.
 */
#include <math.h>
#include <pthread.h>

#include "clock.h"
#include "event.h"
#include "locktab.h"
#include "stack.h"
#include "stacktab.h"
#include "tap.h"

static uint64_t fake_now;
static uint64_t fake_clock(void)
{
    return fake_now;
}

/* The fake unwinder: two "lockprof" frames, then fake_depth frames derived from fake_id. */
static uintptr_t fake_id;
static unsigned fake_depth = 5;
#define SELF_LO 0x1000
#define SELF_HI 0x2000
static int fake_unwind(uintptr_t *pcs, int max)
{
    int n = 0;
    if (n < max)
        pcs[n++] = SELF_LO + 0x10;
    if (n < max)
        pcs[n++] = SELF_LO + 0x20;
    for (unsigned i = 0; i < fake_depth && n < max; i++)
        pcs[n++] = 0x100000 + fake_id * 0x1000 + i;
    return n;
}

struct totals {
    double count, delay;
    unsigned entries;
    double overflow_count;
};

static void add_totals(const struct lp_stack_view *v, void *arg)
{
    struct totals *t = arg;
    t->count += (double)v->count_fp / LP_COUNT_ONE;
    t->delay += (double)v->delay;
    t->entries++;
    if (v->leaf == (const char *)LP_LEAF_TABLE_FULL || !strcmp(v->leaf, LP_LEAF_TABLE_FULL))
        t->overflow_count += (double)v->count_fp / LP_COUNT_ONE;
}

static struct totals totals(enum lp_profile p)
{
    struct totals t = { 0 };
    lp_stacktab_foreach(p, add_totals, &t);
    return t;
}

static const char leaf[] = "pthread_mutex_lock";

static void capture(void)
{
    lp_unwinder = fake_unwind;
    lp_stack_add_self(SELF_LO, SELF_HI);
    uintptr_t pcs[LP_STACK_BUF(64)];
    bool trunc;
    fake_id = 1;
    fake_depth = 5;
    unsigned n = lp_stack_capture(pcs, 64, &trunc);
    is_u64(n, 5, "capture: lockprof's two frames are dropped by address range");
    ok(pcs[0] == 0x101000 && !trunc, "capture: the caller's frame comes first, not truncated");
    fake_depth = 100;
    n = lp_stack_capture(pcs, 64, &trunc);
    is_u64(n, 64, "capture: a 100-frame stack is cut at the depth limit");
    ok(trunc, "capture: and says it was truncated");
}

struct worker_arg {
    unsigned first, count;
};

static void *overflow_worker(void *arg)
{
    struct worker_arg *a = arg;
    for (unsigned i = a->first; i < a->first + a->count; i++) {
        uintptr_t pcs[3] = { 0x5000 + i, 0x6000, 0x7000 };
        struct lp_weight w = { LP_COUNT_ONE, 1000 };
        lp_stacktab_add(LP_BLOCK, leaf, pcs, 3, false, &w);
    }
    return NULL;
}

static void overflow(void)
{
    /* 64 entries and a pool of 64*16 frames; 4 threads insert 500 distinct stacks each, twice
     * over, and the same stacks from two threads at once. */
    pthread_t t[4];
    struct worker_arg a[4];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++) {
            a[i].first = (unsigned)(i % 2) * 500; /* threads 0/2 and 1/3 collide */
            a[i].count = 500;
            pthread_create(&t[i], NULL, overflow_worker, &a[i]);
        }
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    }
    struct totals b = totals(LP_BLOCK);
    near(b.count, 4000, 0, "overflow: 4000 events in, 4000 contentions out");
    near(b.delay, 4000 * 1000.0, 0, "overflow: the delay is whole too");
    ok(b.overflow_count > 0, "overflow: the excess is under %s (%.0f)", LP_LEAF_TABLE_FULL,
       b.overflow_count);
    cmp_ok_u64(b.entries, "<=", 65, "overflow: no more entries than the table holds (+1 synthetic)");
    struct lp_stacktab_stats st;
    lp_stacktab_stats(&st);
    is_u64(st.events[LP_BLOCK], 4000, "overflow: stats count every event");
}

static void pipeline(void)
{
    lp_stacktab_atfork_child(); /* start from zero */
    lp_clock_source = fake_clock;
    lp_unwinder = fake_unwind;
    struct lp_rng draw;
    lp_rng_seed(&draw, 7);
    lp_self.rng.s = 0;
    lp_self.tid = 1234; /* the rng is seeded from the tid and the clock: fixed here */
    lp_rates_init(10000, 0);
    fake_now = 1000000;
    double truth = 0, var = 0;
    int lockword;
    for (int i = 0; i < 200000; i++) {
        fake_id = (uintptr_t)(i % 7);
        fake_depth = 4;
        uint64_t d = 200 + lp_rng_below(&draw, 15000);
        struct lp_wait ev;
        lp_event_wait_begin(&ev, leaf, LP_FAM_MUTEX, &lockword);
        fake_now += d;
        lp_event_wait_end(&ev, LP_ACQUIRED);
        fake_now += 10;
        truth += (double)d;
        if (d < 10000) {
            double p = (double)d / 10000.0;
            var += 1e8 * p * (1 - p);
        }
    }
    struct totals b = totals(LP_BLOCK);
    near(b.delay, truth, 5 * sqrt(var), "pipeline with a fake clock: Σ delay at rate 10000 is "
                                        "unbiased");
    is_u64(b.entries, 7, "pipeline: seven distinct fake stacks");
    lp_clock_source = lp_clock_monotonic;
}

/* The clock going back between a wait's two reads: no wait, at rate 1 too (sample.h), through
 * the event path as through the threshold checks of timed calls. */
static void backwards(void)
{
    lp_stacktab_atfork_child();
    lp_clock_source = fake_clock;
    lp_unwinder = fake_unwind;
    lp_rates_init(1, 0);
    int lockword;
    struct lp_wait ev;
    fake_now = 5000000;
    lp_event_wait_begin(&ev, leaf, LP_FAM_MUTEX, &lockword);
    fake_now -= 40;
    lp_event_wait_end(&ev, LP_ACQUIRED);
    fake_now += 40 + 1000;
    lp_event_wait_begin(&ev, leaf, LP_FAM_MUTEX, &lockword);
    fake_now += 777;
    lp_event_wait_end(&ev, LP_ACQUIRED);
    struct totals b = totals(LP_BLOCK);
    ok(b.entries == 1 && b.count == 1 && b.delay == 777,
       "clock back 40 ns inside a wait: no wait; the next one, 777 ns, is recorded alone (got %.0f "
       "waits, %.0f ns)", b.count, b.delay);
    struct lp_weight wt;
    lp_event_calibrate(); /* (as the first timed call does: the threshold is 0 until then) */
    ok(!lp_event_is_wait(5000000, 4999960) && !lp_event_pick_wait(5000000, 4999960, &wt),
       "a call timed back 40 ns is no wait");
    ok(lp_event_is_wait(5000000, 5000000 + lp_wait_threshold_ns_) &&
           lp_event_pick_wait(5000000, 5000000 + lp_wait_threshold_ns_, &wt),
       "a call timed at the threshold is a wait, picked at rate 1");
    lp_clock_source = lp_clock_monotonic;
}

/* The block and mutex profiles share one limit (lp_stacktab_limit_contention), the CPU profile
 * has its own (lp_stacktab_limit): 3 block and 3 mutex stacks into a contention limit of 4, and
 * 3 CPU stacks beside them, stored. */
static void shares(void)
{
    lp_stacktab_atfork_child();
    lp_stacktab_limit_contention(4, 0);
    struct lp_weight w = { LP_COUNT_ONE, 10 };
    uintptr_t pcs[3] = { 0x1000, 0x2000, 0x3000 };
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 3; i++) {
            pcs[0] = 0x1000 + 0x10 * (uintptr_t)(10 * p + i);
            lp_stacktab_add((enum lp_profile)p, leaf, pcs, 3, false, &w);
        }
    struct lp_stacktab_stats st;
    lp_stacktab_stats(&st);
    ok(st.entries_of[LP_BLOCK] + st.entries_of[LP_MUTEX] == 4 &&
           st.overflowed[LP_BLOCK] + st.overflowed[LP_MUTEX] == 2,
       "block and mutex together: 4 stacks kept, 2 counted aside (got %llu + %llu, %llu + %llu)",
       (unsigned long long)st.entries_of[LP_BLOCK], (unsigned long long)st.entries_of[LP_MUTEX],
       (unsigned long long)st.overflowed[LP_BLOCK], (unsigned long long)st.overflowed[LP_MUTEX]);
    ok(st.entries_of[LP_CPU] == 3 && st.overflowed[LP_CPU] == 0,
       "the CPU profile's 3 beside them, outside that limit (got %llu)",
       (unsigned long long)st.entries_of[LP_CPU]);
    lp_stacktab_limit_contention(0, 0);
}

int main(void)
{
    if (lp_stacktab_init(64, 64 * 16) || lp_locktab_init(64)) {
        ok(0, "init");
        return done_testing();
    }
    capture();
    overflow();
    pipeline();
    backwards();
    shares();
    return done_testing();
}
