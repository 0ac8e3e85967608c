/*
 * mutex.c — pthread_mutex_* and C11 mtx_* (DESIGN §2, §3), on the skeleton of wait.h.
 *
 * The uncontended path reads no clock: a relaxed peek at the ABI-public lock word
 * (__data.__lock, 0 when free for every mutex kind) sends a free lock straight to glibc.
 * A busy-looking lock is tried once; any result but "busy" is the call's own result (EOWNERDEAD
 * is success, not busy). Only then is it a wait: unwound, registered, blocked in the real call.
 *
 * glibc's up-front checks come first, so that trying never changes a result: a bad clock id
 * or tv_nsec goes straight to glibc (which refuses it or, for a free lock, may not), and a lock
 * the caller already owns (error-checking: EDEADLK; recursive: count + 1) is never a wait.
 * C11's mtx_t has pthread_mutex_t's layout in glibc; its results are thrd_* codes.
 */
#include <errno.h>
#include <stdbool.h>

#include "mutexkind.h"
#include "wait.h"

/* True when this lock call should go straight to glibc, unprofiled. */
static inline bool mutex_lock_passes(const void *lock)
{
    const pthread_mutex_t *m = lock;
    if (lp_wrap_passes_locks())
        return true;
    if (__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0)
        return true; /* free: the uncontended path, no clock */
    int type = mutex_kind(m) & MUTEX_TYPE_MASK;
    /* Relocking one's own error-checking or recursive mutex never waits. */
    return (type == MUTEX_RECURSIVE || type == MUTEX_ERRORCHECK) && mutex_owned_by_me(m);
}

static inline bool mutex_c11(const struct lp_call *c)
{
    return c->id == LP_CALL_mtx_lock || c->id == LP_CALL_mtx_timedlock;
}

static long mutex_try(const struct lp_call *c)
{
    if (mutex_c11(c)) {
        int rc = REAL(mtx_trylock)(c->obj);
        return rc == thrd_busy ? LP_WOULD_WAIT : rc;
    }
    int rc = REAL(pthread_mutex_trylock)(c->obj);
    return rc == EBUSY ? LP_WOULD_WAIT : rc;
}

static long mutex_call(const struct lp_call *c)
{
    switch (c->id) {
    case LP_CALL_pthread_mutex_timedlock:
        return REAL(pthread_mutex_timedlock)(c->obj, c->ts);
    case LP_CALL_pthread_mutex_clocklock:
        return REAL(pthread_mutex_clocklock)(c->obj, c->clk, c->ts);
    case LP_CALL_mtx_lock:
        return REAL(mtx_lock)(c->obj);
    case LP_CALL_mtx_timedlock:
        return REAL(mtx_timedlock)(c->obj, c->ts);
    default:
        return REAL(pthread_mutex_lock)(c->obj);
    }
}

/* What a lock call's result means for its wait (DESIGN §2: which calls are waits). */
static enum lp_wait_outcome mutex_outcome(const struct lp_call *c, long rc, int err)
{
    (void)err;
    if (rc == 0 || rc == EOWNERDEAD)
        return LP_ACQUIRED;
    if (rc == (mutex_c11(c) ? thrd_timedout : ETIMEDOUT))
        return LP_GAVE_UP;
    return LP_NOT_A_WAIT; /* EINVAL, EDEADLK, ENOTRECOVERABLE, EAGAIN: failed without sleeping */
}

static void mutex_returned(struct lp_waiting *w)
{
    void *m = w->c->obj;
    if (w->rc == EOWNERDEAD) {
        /* The holder died holding it: what it owed goes to a synthetic stack (DESIGN §3.3). */
        struct lp_weight wt;
        if (lp_event_release_charge(m, &wt))
            lp_event_record_charge_synthetic(LP_LEAF_OWNER_DIED, &wt);
    } else if (w->rc == 0 && mutex_pshared(m)) {
        /* A process-shared lock may have been released by another process, which this one's
         * table never sees: what the other waiters here waited so far is charged to no one
         * (DESIGN §3.3), not to this thread's next unlock. (A release here already charged
         * its part; only the hand-off since is dropped.) */
        lp_event_release_unseen(m);
    }
}

static const struct lp_family mutex_family = {
    .id = LP_FAM_MUTEX,
    .try_ = mutex_try,
    .call = mutex_call,
    .outcome = mutex_outcome,
    .returned = mutex_returned,
};

static __attribute__((noinline)) int mutex_lock_profiled(const struct lp_call *c)
{
    return (int)lp_wait_run(&mutex_family, c);
}

LP_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (mutex_lock_passes(m))
        return REAL(pthread_mutex_lock)(m);
    return mutex_lock_profiled(LP_CALL(pthread_mutex_lock, .obj = m, .charge = m));
}

LP_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{
    if (mutex_lock_passes(m) || !lp_wrap_deadline_ok(ts))
        return REAL(pthread_mutex_timedlock)(m, ts);
    return mutex_lock_profiled(LP_CALL(pthread_mutex_timedlock, .obj = m, .charge = m, .ts = ts));
}

LP_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *ts)
{
    if (mutex_lock_passes(m) || !lp_wrap_deadline_ok(ts) || !lp_wrap_clock_ok(clk))
        return REAL(pthread_mutex_clocklock)(m, clk, ts);
    return mutex_lock_profiled(
        LP_CALL(pthread_mutex_clocklock, .obj = m, .charge = m, .clk = clk, .ts = ts));
}

LP_EXPORT int mtx_lock(mtx_t *m)
{
    if (mutex_lock_passes(m))
        return REAL(mtx_lock)(m);
    return mutex_lock_profiled(LP_CALL(mtx_lock, .obj = m, .charge = m));
}

LP_EXPORT int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
    if (mutex_lock_passes(m) || !lp_wrap_deadline_ok(ts))
        return REAL(mtx_timedlock)(m, ts);
    return mutex_lock_profiled(LP_CALL(mtx_timedlock, .obj = m, .charge = m, .ts = ts));
}

/* The try calls never wait: they pass straight through. */
LP_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    return REAL(pthread_mutex_trylock)(m);
}

LP_EXPORT int mtx_trylock(mtx_t *m)
{
    return REAL(mtx_trylock)(m);
}

/* ---- unlock -------------------------------------------------------------------------------- */

/* The unlock of a lock whose stripe has an entry (hint != 0): true when it has nothing for
 * lockprof to do all the same and goes straight to glibc — it releases nothing, or nothing in
 * the stripe is armed or owed and this release's draw (*arm) does not arm the next (event.h).
 * Most unlocks of a contended lock end here, after a table byte and a random draw. Not inlined
 * into the wrappers: their path for an unlock with no entry in its stripe (every uncontended
 * lock) stays a few instructions with no registers to save. */
static __attribute__((noinline)) bool mutex_unlock_quiet(const pthread_mutex_t *m, unsigned hint,
                                                         uint64_t *arm)
{
    if (!mutex_unlock_releases(m))
        return true;
    *arm = lp_event_arm();
    return lp_event_release_quiet(hint, *arm);
}

/* True when this unlock goes straight to glibc. */
static inline bool mutex_unlock_passes(const void *lock, uint64_t *arm)
{
    if (lp_wrap_off())
        return true;
    unsigned hint = lp_locktab_hint(lock);
    return hint == 0 || mutex_unlock_quiet(lock, hint, arm);
}

static long mutex_unlock_call(const struct lp_call *c)
{
    if (c->id == LP_CALL_mtx_unlock)
        return REAL(mtx_unlock)(c->obj);
    return REAL(pthread_mutex_unlock)(c->obj);
}

static __attribute__((noinline)) int mutex_unlock_profiled(const struct lp_call *c, uint64_t arm)
{
    return (int)lp_release_run(c, arm, mutex_unlock_call);
}

LP_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    uint64_t arm;
    if (mutex_unlock_passes(m, &arm))
        return REAL(pthread_mutex_unlock)(m);
    return mutex_unlock_profiled(LP_CALL(pthread_mutex_unlock, .obj = m), arm);
}

LP_EXPORT int mtx_unlock(mtx_t *m)
{
    uint64_t arm;
    if (mutex_unlock_passes(m, &arm))
        return REAL(mtx_unlock)(m);
    return mutex_unlock_profiled(LP_CALL(mtx_unlock, .obj = m), arm);
}
