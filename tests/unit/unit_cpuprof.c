/*
 * unit_cpuprof — core/cpuprof.c, what a CPU sample becomes, with samples handed to it as the
 * handler would (a siginfo and a ucontext from getcontext): a sample of lockprof's timer is
 * unwound from its context into the ring and drained into the stack table as samples × period;
 * a signal with overruns weighs 1 + overrun periods, up to a tick's worth (more passed with
 * the signal blocked: counted, not sampled); a signal that is not lockprof's timer's is
 * counted and dropped; samples the ring had no room for are counted and added, weight and all,
 * under lockprof::cpu_samples_lost, so the totals stay whole.
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

#include "cfi.h"
#include "cpuprof.h"
#include "cpuring.h"
#include "cputimer.h"
#include "sample.h"
#include "stacktab.h"
#include "tap.h"

#define PERIOD 10000000ULL /* 100 Hz */

static siginfo_t timer_info(int overrun)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGPROF;
    si.si_code = SI_TIMER;
    si.si_value.sival_int = LP_CPUTIMER_COOKIE;
    si.si_overrun = overrun;
    return si;
}

/* A sample taken here, as the handler takes one: from a context of this frame. */
static __attribute__((noinline)) void sample_here(const siginfo_t *si)
{
    ucontext_t uc;
    getcontext(&uc);
    lp_cpuprof_sample_sigsafe(si, &uc);
    __asm__ volatile("" ::: "memory");
}

struct totals {
    uint64_t count_fp, delay, lost_count_fp, lost_delay, entries, deep;
};

static void add(const struct lp_stack_view *v, void *arg)
{
    struct totals *t = arg;
    if (v->leaf && strcmp(v->leaf, LP_LEAF_CPU_LOST) == 0) {
        t->lost_count_fp += v->count_fp;
        t->lost_delay += v->delay;
        return;
    }
    t->count_fp += v->count_fp;
    t->delay += v->delay;
    t->entries++;
    t->deep += v->depth >= 3 && !v->leaf;
}

static struct totals totals(void)
{
    struct totals t;
    memset(&t, 0, sizeof t);
    lp_stacktab_foreach(LP_CPU, add, &t);
    return t;
}

int main(void)
{
    ok(lp_stacktab_init(4096, 65536) == 0 && lp_cfi_init() == 0, "tables");
    ok(lp_cpuprof_init(100, SIGPROF, 64, 1) == 0 && lp_cpuprof_on(), "init at 100 Hz");
    is_u64(lp_cpuprof_period_ns(), PERIOD, "period 1e9 / 100");
    unsigned records = lp_cpuring_records();
    ok(records >= 1024, "a ring of %u records", records);

    siginfo_t si = timer_info(0);
    for (int i = 0; i < 10; i++)
        sample_here(&si);
    lp_cpuprof_drain();
    struct totals t = totals();
    is_u64(t.count_fp, 10 * LP_COUNT_ONE, "10 samples drained: count 10");
    is_u64(t.delay, 10 * PERIOD, "... and 10 periods of CPU");
    ok(t.deep == t.entries && t.entries >= 1, "each stack unwound from its context: no leaf "
       "name, 3 frames or more (%llu stacks)", (unsigned long long)t.entries);

    si = timer_info(2);
    sample_here(&si);
    lp_cpuprof_drain();
    t = totals();
    is_u64(t.delay, 13 * PERIOD, "a signal with 2 overruns weighs 3 periods (a tick's worth "
           "at 100 Hz: 100 / 100 + 1)");
    si = timer_info(7);
    sample_here(&si);
    lp_cpuprof_drain();
    t = totals();
    struct lp_cpuprof_stats st;
    lp_cpuprof_stats(&st);
    is_u64(t.delay, 16 * PERIOD, "one with 7 weighs no more: 3 periods");
    is_u64(st.blocked_periods, 5, "the other 5 passed with the signal blocked: counted only");

    siginfo_t foreign = timer_info(0);
    foreign.si_code = SI_USER;
    sample_here(&foreign);
    foreign = timer_info(0);
    foreign.si_value.sival_int = 42;
    sample_here(&foreign);
    lp_cpuprof_drain();
    lp_cpuprof_stats(&st);
    is_u64(st.foreign, 2, "signals that are not lockprof's timers': counted");
    is_u64(totals().delay, 16 * PERIOD, "... and not recorded");

    /* More than the ring holds before the next drain. */
    si = timer_info(1);
    for (unsigned i = 0; i < records + 50; i++)
        sample_here(&si);
    lp_cpuprof_stats(&st);
    is_u64(st.lost, 50, "a full ring: 50 samples not recorded, counted");
    is_u64(st.lost_periods, 100, "... with their weight (2 periods each)");
    lp_cpuprof_drain();
    t = totals();
    is_u64(t.lost_count_fp, 100 * LP_COUNT_ONE, "drained: under lockprof::cpu_samples_lost");
    is_u64(t.delay + t.lost_delay, (16 + 2 * ((uint64_t)records + 50)) * PERIOD,
           "so the profile's total is every period signalled");
    is_u64(st.samples, 12 + records + 50, "every sample of lockprof's timers counted");
    is_u64(st.periods, 16 + 2 * ((uint64_t)records + 50), "... and its periods");
    done_testing();
    return tap_failed != 0;
}
