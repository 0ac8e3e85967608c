/*
 * rwlock.c — pthread_rwlock_* (DESIGN §2, §3), on the skeleton of wait.h.
 *
 * Each lock call has its own leaf (pthread_rwlock_rdlock, _wrlock, _timedrdlock, …), so a
 * block profile tells readers from writers. The uncontended path reads no clock: a relaxed
 * peek at glibc's ABI-public __readers word sends a lock that is free for this kind of
 * acquisition straight to glibc. A busy-looking lock is tried once (tryrdlock / trywrlock);
 * EBUSY makes it a wait, any other result (0, EAGAIN: too many readers) is the call's own.
 *
 * glibc's up-front checks come first, so that trying never changes a result (glibc 2.36,
 * nptl/pthread_rwlock_common.c, verified by tests/preload/rwlock.t): a bad clock id or tv_nsec is
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
 * cancellation").
 */
#include <errno.h>
#include <stdbool.h>

#include "wait.h"

/* The bits of __data.__readers (glibc's nptl/pthread_rwlock_common.c, unchanged since 2.25):
 * the phase, the primary writer, readers waiting for a writer to go first, and from bit 3
 * the number of readers (active, or waiting for a read phase). */
#define RW_WRPHASE 1u
#define RW_WRLOCKED 2u
#define RW_READER_SHIFT 3

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

static inline bool rw_read_passes(const pthread_rwlock_t *rw)
{
    return lp_wrap_passes_locks() || rw_free_to_read(rw) || rw_write_owner(rw);
}

static inline bool rw_write_passes(const pthread_rwlock_t *rw)
{
    return lp_wrap_passes_locks() || rw_free_to_write(rw) || rw_write_owner(rw);
}

static inline bool rw_writes(const struct lp_call *c)
{
    return c->id == LP_CALL_pthread_rwlock_wrlock || c->id == LP_CALL_pthread_rwlock_timedwrlock ||
           c->id == LP_CALL_pthread_rwlock_clockwrlock;
}

static long rw_try(const struct lp_call *c)
{
    int rc = rw_writes(c) ? REAL(pthread_rwlock_trywrlock)(c->obj)
                          : REAL(pthread_rwlock_tryrdlock)(c->obj);
    return rc == EBUSY ? LP_WOULD_WAIT : rc;
}

static long rw_call(const struct lp_call *c)
{
    switch (c->id) {
    case LP_CALL_pthread_rwlock_wrlock:
        return REAL(pthread_rwlock_wrlock)(c->obj);
    case LP_CALL_pthread_rwlock_timedrdlock:
        return REAL(pthread_rwlock_timedrdlock)(c->obj, c->ts);
    case LP_CALL_pthread_rwlock_timedwrlock:
        return REAL(pthread_rwlock_timedwrlock)(c->obj, c->ts);
    case LP_CALL_pthread_rwlock_clockrdlock:
        return REAL(pthread_rwlock_clockrdlock)(c->obj, c->clk, c->ts);
    case LP_CALL_pthread_rwlock_clockwrlock:
        return REAL(pthread_rwlock_clockwrlock)(c->obj, c->clk, c->ts);
    default:
        return REAL(pthread_rwlock_rdlock)(c->obj);
    }
}

/* What a lock call's result means for its wait (DESIGN §2: which calls are waits). */
static enum lp_wait_outcome rw_outcome(const struct lp_call *c, long rc, int err)
{
    (void)c;
    (void)err;
    if (rc == 0)
        return LP_ACQUIRED;
    if (rc == ETIMEDOUT)
        return LP_GAVE_UP; /* what it waited is owed by the next release */
    return LP_NOT_A_WAIT;  /* EDEADLK, EINVAL, EAGAIN: failed without sleeping */
}

static const struct lp_family rw_family = {
    .id = LP_FAM_RWLOCK,
    .try_ = rw_try,
    .call = rw_call,
    .outcome = rw_outcome,
};

static __attribute__((noinline)) int rw_lock_profiled(const struct lp_call *c)
{
    return (int)lp_wait_run(&rw_family, c);
}

LP_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
    if (rw_read_passes(rw))
        return REAL(pthread_rwlock_rdlock)(rw);
    return rw_lock_profiled(LP_CALL(pthread_rwlock_rdlock, .obj = rw, .charge = rw));
}

LP_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
    if (rw_write_passes(rw))
        return REAL(pthread_rwlock_wrlock)(rw);
    return rw_lock_profiled(LP_CALL(pthread_rwlock_wrlock, .obj = rw, .charge = rw));
}

LP_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *ts)
{
    if (rw_read_passes(rw) || !lp_wrap_deadline_ok(ts))
        return REAL(pthread_rwlock_timedrdlock)(rw, ts);
    return rw_lock_profiled(LP_CALL(pthread_rwlock_timedrdlock, .obj = rw, .charge = rw, .ts = ts));
}

LP_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *ts)
{
    if (rw_write_passes(rw) || !lp_wrap_deadline_ok(ts))
        return REAL(pthread_rwlock_timedwrlock)(rw, ts);
    return rw_lock_profiled(LP_CALL(pthread_rwlock_timedwrlock, .obj = rw, .charge = rw, .ts = ts));
}

LP_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clk,
                                         const struct timespec *ts)
{
    if (rw_read_passes(rw) || !lp_wrap_deadline_ok(ts) || !lp_wrap_clock_ok(clk))
        return REAL(pthread_rwlock_clockrdlock)(rw, clk, ts);
    return rw_lock_profiled(
        LP_CALL(pthread_rwlock_clockrdlock, .obj = rw, .charge = rw, .clk = clk, .ts = ts));
}

LP_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clk,
                                         const struct timespec *ts)
{
    if (rw_write_passes(rw) || !lp_wrap_deadline_ok(ts) || !lp_wrap_clock_ok(clk))
        return REAL(pthread_rwlock_clockwrlock)(rw, clk, ts);
    return rw_lock_profiled(
        LP_CALL(pthread_rwlock_clockwrlock, .obj = rw, .charge = rw, .clk = clk, .ts = ts));
}

/* The try calls never wait: they pass straight through. */
LP_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
    return REAL(pthread_rwlock_tryrdlock)(rw);
}

LP_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
    return REAL(pthread_rwlock_trywrlock)(rw);
}

static long rw_unlock_call(const struct lp_call *c)
{
    return REAL(pthread_rwlock_unlock)(c->obj);
}

static __attribute__((noinline)) int rw_unlock_profiled(const struct lp_call *c, uint64_t arm)
{
    return (int)lp_release_run(c, arm, rw_unlock_call);
}

LP_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
    if (lp_wrap_off())
        return REAL(pthread_rwlock_unlock)(rw);
    unsigned hint = lp_locktab_hint(rw);
    if (hint == 0)
        return REAL(pthread_rwlock_unlock)(rw);
    uint64_t arm = lp_event_arm();
    if (lp_event_release_quiet(hint, arm)) /* most unlocks of a contended lock (event.h) */
        return REAL(pthread_rwlock_unlock)(rw);
    return rw_unlock_profiled(LP_CALL(pthread_rwlock_unlock, .obj = rw), arm);
}
