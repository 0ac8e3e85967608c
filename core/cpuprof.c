/* cpuprof.c — see cpuprof.h. */
#include "cpuprof.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "cfi.h"
#include "cpuring.h"
#include "cputimer.h"
#include "sample.h"
#include "stacktab.h"
#include "sync.h"
#include "sys.h"

/* The ring holds two seconds of samples with every CPU busy, at least 1024 (ten seconds of a
 * busy thread at 100 Hz: a fork child has no thread of lockprof's to drain it, and its
 * samples wait for its next profile), and at most 16 MiB. Lockprof's thread drains it each
 * second, and when a handler finds it half full. */
#define CPUPROF_RING_MIN 1024
#define CPUPROF_RING_BYTES ((size_t)16 << 20)

LP_INIT_DATA static unsigned cpuprof_hz; /* immutable after init; 0: off (read at start) */
static uint64_t cpuprof_period;      /* immutable after init */
static unsigned cpuprof_depth;       /* immutable after init */
static int cpuprof_signo;            /* immutable after init */
LP_INIT_DATA static bool cpuprof_windowed; /* immutable after init: the endpoint's windows only */
static const char *cpuprof_stop_why; /* atomic: a static string, NULL while sampling */
static void (*cpuprof_waker)(void);  /* atomic */
static int64_t cpuprof_began_at;     /* atomic */
static lp_lock_t cpuprof_drain_lock = LP_LOCK_INIT;
static uint64_t cpuprof_lost_drained; /* lost periods already added; under cpuprof_drain_lock */
static struct lp_cpuprof_stats cpuprof_st; /* atomic adds */

LP_INIT_TEXT int lp_cpuprof_init(unsigned hz, int signo, unsigned depth, unsigned ncpus)
{
    if (hz == 0)
        return 0;
    uint64_t want = (uint64_t)hz * (ncpus ? ncpus : 1) * 2;
    uint64_t most = CPUPROF_RING_BYTES / (32 + ((uint64_t)depth + 1) * sizeof(uintptr_t));
    if (want < CPUPROF_RING_MIN)
        want = CPUPROF_RING_MIN;
    if (want > most)
        want = most;
    /* depth + 1 addresses: a walk that fills them all was cut at the depth. */
    int rc = lp_cpuring_init((unsigned)want, depth + 1);
    if (rc < 0)
        return rc;
    cpuprof_depth = depth;
    cpuprof_signo = signo;
    cpuprof_period = 1000000000ULL / hz;
    cpuprof_hz = hz;
    return 0;
}

LP_INIT_TEXT bool lp_cpuprof_on(void)
{
    return cpuprof_hz != 0;
}

LP_INIT_TEXT void lp_cpuprof_windows_only(void)
{
    cpuprof_windowed = true;
}

LP_INIT_TEXT bool lp_cpuprof_continuous(void)
{
    return cpuprof_hz != 0 && !cpuprof_windowed;
}

unsigned lp_cpuprof_hz(void)
{
    return cpuprof_hz;
}

uint64_t lp_cpuprof_period_ns(void)
{
    return cpuprof_period;
}

int lp_cpuprof_signal(void)
{
    return cpuprof_signo;
}

void lp_cpuprof_stop_note(const char *why)
{
    const char *none = NULL; /* (the first reason is the one) */
    __atomic_compare_exchange_n(&cpuprof_stop_why, &none, why, false, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
}

const char *lp_cpuprof_stopped(void)
{
    const char *why = __atomic_load_n(&cpuprof_stop_why, __ATOMIC_ACQUIRE);
    return why ? why : "";
}

void lp_cpuprof_set_waker(void (*wake)(void))
{
    __atomic_store_n(&cpuprof_waker, wake, __ATOMIC_RELEASE);
}

void lp_cpuprof_begin(int64_t realtime_ns)
{
    __atomic_store_n(&cpuprof_began_at, realtime_ns, __ATOMIC_RELEASE);
}

int64_t lp_cpuprof_began(void)
{
    return __atomic_load_n(&cpuprof_began_at, __ATOMIC_ACQUIRE);
}

bool lp_cpuprof_sample_sigsafe(const siginfo_t *si, const void *ucontext)
{
    if (!cpuprof_hz || si->si_code != SI_TIMER ||
        si->si_value.sival_int != LP_CPUTIMER_COOKIE) {
        __atomic_fetch_add(&cpuprof_st.foreign, 1, __ATOMIC_RELAXED);
        return false;
    }
    /* Periods that passed before the signal could be delivered: a tick's worth weigh on this
     * sample (the tick is 1 to 10 ms, CONFIG_HZ 1000 to 100, so it covers at most hz / 100
     * periods, and one more for its jitter). More than that, the thread held the signal
     * blocked: those periods are not sampled (they would all land on the stack that
     * unblocked it), only counted. */
    uint32_t overrun = si->si_overrun > 0 ? (uint32_t)si->si_overrun : 0;
    uint32_t tick = cpuprof_hz / 100 + 1;
    uint32_t weight = 1 + (overrun < tick ? overrun : tick);
    if (overrun > tick)
        __atomic_fetch_add(&cpuprof_st.blocked_periods, overrun - tick, __ATOMIC_RELAXED);
    __atomic_fetch_add(&cpuprof_st.samples, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&cpuprof_st.periods, weight, __ATOMIC_RELAXED);
    uint64_t ticket;
    uintptr_t *pcs = lp_cpuring_claim_sigsafe(&ticket);
    if (!pcs) {
        __atomic_fetch_add(&cpuprof_st.lost, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&cpuprof_st.lost_periods, weight, __ATOMIC_RELAXED);
        return true;
    }
    int n = lp_cfi_backtrace_context_sigsafe(pcs, (int)cpuprof_depth + 1, ucontext);
    bool truncated = n > (int)cpuprof_depth;
    if (truncated) {
        n = (int)cpuprof_depth;
        __atomic_fetch_add(&cpuprof_st.truncated, 1, __ATOMIC_RELAXED);
    }
    lp_cpuring_publish_sigsafe(ticket, (unsigned)n, truncated, weight);
    /* Half full: lockprof's thread is woken once per lap of the ring. */
    void (*wake)(void) = __atomic_load_n(&cpuprof_waker, __ATOMIC_ACQUIRE);
    if (wake && lp_cpuring_used_sigsafe(ticket) == lp_cpuring_records() / 2)
        wake();
    return true;
}

/* ---- a window's own table (for the endpoint's windows only) ---------------------------------
 * The stack table never removes an entry (its profiles are cumulative), and a window's samples
 * are wanted only until it has been answered: a daemon scraped every few seconds for days would
 * fill the table with stacks nobody asks for again. So, for the windows only, the samples go to
 * a table of the window's own, mapped (NORESERVE: pages as they are used) when it opens and
 * given back when it ends, as large as the CPU profile's share would be (LOCKPROF_MAX_STACKS
 * entries and 16 frames each); past that, samples are counted under LP_LEAF_TABLE_FULL.
 * Written by the drain and read by the writer, each under cpuprof_drain_lock. */
#define CPUWIN_MAX_PROBE 64

struct cpuwin_slot {
    uint64_t hash;
    const char *leaf;
    uint32_t frames; /* offset in the pool */
    uint16_t depth;
    uint8_t used, truncated;
    uint64_t count_fp, delay;
};

static unsigned cpuwin_max_entries, cpuwin_max_frames; /* set at start */
struct cpuwin {
    struct cpuwin_slot *slots; /* NULL: no window open */
    uintptr_t *pool;
    size_t bytes;
    uint64_t mask;
    uint32_t entries, pool_used;
    uint64_t overflowed, over_count_fp, over_delay; /* under LP_LEAF_TABLE_FULL */
};
static struct cpuwin cpuwin; /* under cpuprof_drain_lock */

void lp_cpuprof_window_size(unsigned entries, unsigned frames)
{
    cpuwin_max_entries = entries ? entries : 1;
    cpuwin_max_frames = frames;
}

static uint64_t cpuwin_hash(const char *leaf, const uintptr_t *pcs, unsigned depth,
                            bool truncated)
{
    uint64_t h = (uint64_t)(uintptr_t)leaf ^ ((uint64_t)depth << 1 | truncated);
    for (unsigned i = 0; i < depth; i++)
        h = (h ^ pcs[i]) * 0x100000001b3ULL;
    return h ^ h >> 29;
}

static void cpuwin_add(const char *leaf, const uintptr_t *pcs, unsigned depth, bool truncated,
                       const struct lp_weight *w)
{
    if (!cpuwin.slots)
        return; /* (drained after the window ended: nobody wants them) */
    uint64_t h = cpuwin_hash(leaf, pcs, depth, truncated);
    for (uint64_t k = 0; k < CPUWIN_MAX_PROBE; k++) {
        struct cpuwin_slot *sl = &cpuwin.slots[(h + k) & cpuwin.mask];
        if (sl->used && (sl->hash != h || sl->leaf != leaf || sl->depth != depth ||
                         sl->truncated != truncated ||
                         memcmp(cpuwin.pool + sl->frames, pcs, depth * sizeof *pcs) != 0))
            continue;
        if (!sl->used) {
            if (cpuwin.entries >= cpuwin_max_entries ||
                cpuwin.pool_used + depth > cpuwin_max_frames)
                break;
            sl->used = 1;
            sl->hash = h;
            sl->leaf = leaf;
            sl->depth = (uint16_t)depth;
            sl->truncated = truncated;
            sl->frames = cpuwin.pool_used;
            memcpy(cpuwin.pool + sl->frames, pcs, depth * sizeof *pcs);
            cpuwin.pool_used += depth;
            cpuwin.entries++;
        }
        sl->count_fp += w->count_fp;
        sl->delay += w->delay;
        return;
    }
    cpuwin.overflowed++;
    cpuwin.over_count_fp += w->count_fp;
    cpuwin.over_delay += w->delay;
}

/* Puts next in the window's place, and unmaps the one it replaces once it is forgotten (a fork
 * meanwhile must not find it, to unmap it again). */
static void cpuwin_replace(const struct cpuwin *next)
{
    lp_lock(&cpuprof_drain_lock);
    struct cpuwin old = cpuwin;
    cpuwin = *next;
    lp_unlock(&cpuprof_drain_lock);
    if (old.slots)
        munmap(old.slots, old.bytes);
}

int lp_cpuprof_window_open(void)
{
    if (!cpuprof_windowed)
        return 0;
    uint64_t n = 64;
    while (n < 2 * (uint64_t)cpuwin_max_entries)
        n <<= 1;
    size_t slot_bytes = n * sizeof(struct cpuwin_slot);
    size_t bytes = slot_bytes + (size_t)cpuwin_max_frames * sizeof(uintptr_t);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    cpuwin_replace(&(struct cpuwin){ .slots = p,
                                     .pool = (uintptr_t *)((char *)p + slot_bytes),
                                     .bytes = bytes,
                                     .mask = n - 1 });
    return 0;
}

void lp_cpuprof_window_close(void)
{
    if (cpuprof_windowed)
        cpuwin_replace(&(struct cpuwin){ 0 });
}

void lp_cpuprof_window_foreach(lp_stack_visit_fn fn, void *arg)
{
    lp_lock(&cpuprof_drain_lock);
    for (uint64_t i = 0; cpuwin.slots && i <= cpuwin.mask; i++) {
        const struct cpuwin_slot *sl = &cpuwin.slots[i];
        if (!sl->used)
            continue;
        struct lp_stack_view v = {
            .index = UINT64_MAX, /* (no baseline: everything here is the window's) */
            .leaf = sl->leaf,
            .pcs = cpuwin.pool + sl->frames,
            .depth = sl->depth,
            .truncated = sl->truncated,
            .count_fp = sl->count_fp,
            .delay = sl->delay,
        };
        fn(&v, arg);
    }
    if (cpuwin.slots && cpuwin.over_count_fp) {
        struct lp_stack_view v = { .index = UINT64_MAX, .leaf = LP_LEAF_TABLE_FULL,
                                   .count_fp = cpuwin.over_count_fp,
                                   .delay = cpuwin.over_delay };
        fn(&v, arg);
    }
    lp_unlock(&cpuprof_drain_lock);
}

void lp_cpuprof_window_stats(struct lp_cpuprof_window_stats *s)
{
    lp_lock(&cpuprof_drain_lock);
    s->entries = cpuwin.entries;
    s->capacity = cpuwin.slots ? cpuwin_max_entries : 0;
    s->overflowed = cpuwin.overflowed;
    lp_unlock(&cpuprof_drain_lock);
}

/* ---- the drain ------------------------------------------------------------------------------ */

static void cpuprof_add(const char *leaf, const uintptr_t *pcs, unsigned depth, bool truncated,
                        const struct lp_weight *w)
{
    if (cpuprof_windowed)
        cpuwin_add(leaf, pcs, depth, truncated, w);
    else
        lp_stacktab_add(LP_CPU, leaf, pcs, depth, truncated, w);
}

static void cpuprof_record(const uintptr_t *pcs, unsigned depth, bool truncated, uint32_t weight,
                           void *arg)
{
    (void)arg;
    struct lp_weight w = { weight * LP_COUNT_ONE, weight * cpuprof_period };
    cpuprof_add(NULL, pcs, depth, truncated, &w);
}

void lp_cpuprof_drain(void)
{
    if (!cpuprof_hz)
        return;
    lp_lock(&cpuprof_drain_lock);
    lp_cpuring_drain(cpuprof_record, NULL);
    uint64_t lost = __atomic_load_n(&cpuprof_st.lost_periods, __ATOMIC_RELAXED);
    if (lost > cpuprof_lost_drained) {
        uint64_t k = lost - cpuprof_lost_drained;
        struct lp_weight w = { k * LP_COUNT_ONE, k * cpuprof_period };
        cpuprof_add(LP_LEAF_CPU_LOST, NULL, 0, false, &w);
        cpuprof_lost_drained = lost;
    }
    lp_unlock(&cpuprof_drain_lock);
}

void lp_cpuprof_stats(struct lp_cpuprof_stats *s)
{
    s->samples = __atomic_load_n(&cpuprof_st.samples, __ATOMIC_RELAXED);
    s->periods = __atomic_load_n(&cpuprof_st.periods, __ATOMIC_RELAXED);
    s->lost = __atomic_load_n(&cpuprof_st.lost, __ATOMIC_RELAXED);
    s->lost_periods = __atomic_load_n(&cpuprof_st.lost_periods, __ATOMIC_RELAXED);
    s->truncated = __atomic_load_n(&cpuprof_st.truncated, __ATOMIC_RELAXED);
    s->foreign = __atomic_load_n(&cpuprof_st.foreign, __ATOMIC_RELAXED);
    s->blocked_periods = __atomic_load_n(&cpuprof_st.blocked_periods, __ATOMIC_RELAXED);
}

void lp_cpuprof_atfork_child(void)
{
    if (!cpuprof_hz)
        return;
    lp_lock_reset(&cpuprof_drain_lock);
    if (cpuwin.slots) /* (the parent's window, not the child's) */
        munmap(cpuwin.slots, cpuwin.bytes);
    memset(&cpuwin, 0, sizeof cpuwin);
    lp_cpuring_atfork_child();
    memset(&cpuprof_st, 0, sizeof cpuprof_st);
    cpuprof_lost_drained = 0;
}
