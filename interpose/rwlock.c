/*
 * rwlock.c — pthread_rwlock_* (DESIGN §2, §3).
 *
 * Each lock call has its own leaf (pthread_rwlock_rdlock, _wrlock, _timedrdlock, …), so a
 * block profile tells readers from writers. The uncontended path reads no clock: a relaxed
 * peek at glibc's ABI-public __readers word sends a lock that is free for this kind of
 * acquisition straight to glibc. A busy-looking lock is tried once (tryrdlock / trywrlock);
 * EBUSY makes it a wait, any other result (0, EAGAIN: too many readers) is the call's own.
 *
 * glibc's up-front checks come first, so that trying never changes a result (glibc 2.36,
 * nptl/pthread_rwlock_common.c, verified by tests/rwlock.t): a bad clock id or tv_nsec is
 * refused with EINVAL before anything else, then the write owner's rdlock or wrlock is refused
 * with EDEADLK — where the try calls would say EBUSY. Such calls go straight to glibc.
 *
 * Every successful unlock is a release (DESIGN §3.3): a reader's unlock is charged the time
 * the registered waiters waited since the previous release, so readers releasing in turn are
 * charged in turn and, with one waiting writer, their charges add up to its wait. glibc keeps
 * no per-thread count of read holds, so the inner unlock of a recursive read hold is charged
 * like a release too (the totals are the same; they are split between the two unlocks).
 *
 * rwlock acquisitions are not cancellation points in glibc ("We do not support
 * cancellation"). As for mutexes, lockprof is not busy while the real call blocks: a signal
 * handler that runs meanwhile is profiled like any other code (the wait's stack is held).
 */
#include <errno.h>
#include <stdbool.h>

#include "event.h"
#include "resolve.h"

/* The bits of __data.__readers (glibc's nptl/pthread_rwlock_common.c, unchanged since 2.25):
 * the phase, the primary writer, readers waiting for a writer to go first, and from bit 3
 * the number of readers (active, or waiting for a read phase). */
#define RW_WRPHASE 1u
#define RW_WRLOCKED 2u
#define RW_READER_SHIFT 3

static const char leaf_rdlock[] = "pthread_rwlock_rdlock";
static const char leaf_wrlock[] = "pthread_rwlock_wrlock";
static const char leaf_timedrdlock[] = "pthread_rwlock_timedrdlock";
static const char leaf_timedwrlock[] = "pthread_rwlock_timedwrlock";
static const char leaf_clockrdlock[] = "pthread_rwlock_clockrdlock";
static const char leaf_clockwrlock[] = "pthread_rwlock_clockwrlock";
static const char leaf_unlock[] = "pthread_rwlock_unlock";

static inline unsigned rw_readers_word(const pthread_rwlock_t *rw)
{
    return __atomic_load_n(&rw->__data.__readers, __ATOMIC_RELAXED);
}

/* True when rdlock would take rw at once: no writer holds or waits for it, or one waits in a
 * read phase and the kind lets new readers in anyway (all but PREFER_WRITER_NONRECURSIVE,
 * whose new readers queue behind a waiting writer). */
static inline bool rw_free_to_read(const pthread_rwlock_t *rw)
{
    unsigned r = rw_readers_word(rw);
    if (!(r & RW_WRLOCKED))
        return true;
    return !(r & RW_WRPHASE) && __atomic_load_n(&rw->__data.__flags, __ATOMIC_RELAXED) !=
                                    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
}

/* True when wrlock would take rw at once: no writer, no reader, in either phase. */
static inline bool rw_free_to_write(const pthread_rwlock_t *rw)
{
    unsigned r = rw_readers_word(rw);
    return !(r & RW_WRLOCKED) && (r >> RW_READER_SHIFT) == 0;
}

/* The caller holds rw for writing: glibc answers EDEADLK to its lock calls. */
static inline bool rw_write_owner(const pthread_rwlock_t *rw)
{
    return __atomic_load_n(&rw->__data.__cur_writer, __ATOMIC_RELAXED) == lp_thread_tid();
}

static inline bool rw_passes(void)
{
    return !lp_ready() || lp_self.busy || !lp_rates_profiling();
}

static inline bool rw_read_passes(const pthread_rwlock_t *rw)
{
    return rw_passes() || rw_free_to_read(rw) || rw_write_owner(rw);
}

static inline bool rw_write_passes(const pthread_rwlock_t *rw)
{
    return rw_passes() || rw_free_to_write(rw) || rw_write_owner(rw);
}

/* glibc refuses these with EINVAL before it looks at the lock (futex_abstimed_supported_clockid,
 * valid_nanoseconds); a NULL timespec means no timeout to glibc and goes through unprofiled. */
static inline bool rw_timespec_valid(const struct timespec *ts)
{
    return ts && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

static inline bool rw_clock_valid(clockid_t c)
{
    return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC;
}

enum rw_kind { RW_RD, RW_WR, RW_TIMEDRD, RW_TIMEDWR, RW_CLOCKRD, RW_CLOCKWR };

struct rw_call {
    enum rw_kind kind;
    pthread_rwlock_t *rw;
    clockid_t clk;
    const struct timespec *ts;
};

static int rw_real_call(const struct rw_call *c)
{
    switch (c->kind) {
    case RW_RD:
        return REAL(pthread_rwlock_rdlock)(c->rw);
    case RW_WR:
        return REAL(pthread_rwlock_wrlock)(c->rw);
    case RW_TIMEDRD:
        return REAL(pthread_rwlock_timedrdlock)(c->rw, c->ts);
    case RW_TIMEDWR:
        return REAL(pthread_rwlock_timedwrlock)(c->rw, c->ts);
    case RW_CLOCKRD:
        return REAL(pthread_rwlock_clockrdlock)(c->rw, c->clk, c->ts);
    default:
        return REAL(pthread_rwlock_clockwrlock)(c->rw, c->clk, c->ts);
    }
}

/* What a lock call's result means for its wait (DESIGN §2: which calls are waits). */
static enum lp_wait_outcome rw_outcome(int rc)
{
    if (rc == 0)
        return LP_ACQUIRED;
    if (rc == ETIMEDOUT)
        return LP_GAVE_UP; /* what it waited is owed by the next release */
    return LP_NOT_A_WAIT;  /* EDEADLK, EINVAL, EAGAIN: failed without sleeping */
}

static int rw_lock_common(const char *leaf, const struct rw_call *c)
{
    int saved = errno;
    lp_self.busy++;
    bool write = c->kind == RW_WR || c->kind == RW_TIMEDWR || c->kind == RW_CLOCKWR;
    int rc = write ? REAL(pthread_rwlock_trywrlock)(c->rw) : REAL(pthread_rwlock_tryrdlock)(c->rw);
    if (rc == EBUSY) {
        struct lp_wait ev;
        lp_event_wait_begin(&ev, leaf, c->rw);
        errno = saved;
        lp_self.busy--;
        rc = rw_real_call(c);
        lp_self.busy++;
        saved = errno;
        lp_event_wait_end(&ev, rw_outcome(rc));
    }
    lp_self.busy--;
    errno = saved;
    return rc;
}

LP_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
    if (rw_read_passes(rw))
        return REAL(pthread_rwlock_rdlock)(rw);
    struct rw_call c = { .kind = RW_RD, .rw = rw };
    return rw_lock_common(leaf_rdlock, &c);
}

LP_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
    if (rw_write_passes(rw))
        return REAL(pthread_rwlock_wrlock)(rw);
    struct rw_call c = { .kind = RW_WR, .rw = rw };
    return rw_lock_common(leaf_wrlock, &c);
}

LP_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *ts)
{
    if (rw_read_passes(rw) || !rw_timespec_valid(ts))
        return REAL(pthread_rwlock_timedrdlock)(rw, ts);
    struct rw_call c = { .kind = RW_TIMEDRD, .rw = rw, .ts = ts };
    return rw_lock_common(leaf_timedrdlock, &c);
}

LP_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *ts)
{
    if (rw_write_passes(rw) || !rw_timespec_valid(ts))
        return REAL(pthread_rwlock_timedwrlock)(rw, ts);
    struct rw_call c = { .kind = RW_TIMEDWR, .rw = rw, .ts = ts };
    return rw_lock_common(leaf_timedwrlock, &c);
}

LP_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clk,
                                         const struct timespec *ts)
{
    if (rw_read_passes(rw) || !rw_timespec_valid(ts) || !rw_clock_valid(clk))
        return REAL(pthread_rwlock_clockrdlock)(rw, clk, ts);
    struct rw_call c = { .kind = RW_CLOCKRD, .rw = rw, .clk = clk, .ts = ts };
    return rw_lock_common(leaf_clockrdlock, &c);
}

LP_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clk,
                                         const struct timespec *ts)
{
    if (rw_write_passes(rw) || !rw_timespec_valid(ts) || !rw_clock_valid(clk))
        return REAL(pthread_rwlock_clockwrlock)(rw, clk, ts);
    struct rw_call c = { .kind = RW_CLOCKWR, .rw = rw, .clk = clk, .ts = ts };
    return rw_lock_common(leaf_clockwrlock, &c);
}

/* The try calls never wait; interposed so that the family is listed together and a later
 * issue can count failed tries. */
LP_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
    return REAL(pthread_rwlock_tryrdlock)(rw);
}

LP_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
    return REAL(pthread_rwlock_trywrlock)(rw);
}

LP_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
    if (!lp_ready() || lp_self.busy)
        return REAL(pthread_rwlock_unlock)(rw);
    unsigned hint = lp_locktab_hint(rw);
    if (hint == 0)
        return REAL(pthread_rwlock_unlock)(rw);
    uint64_t arm = lp_event_arm();
    if (lp_event_release_quiet(hint, arm)) /* most unlocks of a contended lock (event.h) */
        return REAL(pthread_rwlock_unlock)(rw);
    int saved = errno;
    lp_self.busy++;
    struct lp_weight wt;
    /* Computed before the real unlock, under the lock's guard: a waiter woken by the unlock
     * must find the release already accounted for. Recorded (unwound) after it. */
    bool picked = lp_event_release_charge_armed(rw, arm, &wt);
    errno = saved;
    int rc = REAL(pthread_rwlock_unlock)(rw);
    saved = errno;
    if (picked && rc == 0)
        lp_event_record_charge(leaf_unlock, &wt, NULL);
    lp_self.busy--;
    errno = saved;
    return rc;
}
