/*
 * mutex.c — pthread_mutex_* and C11 mtx_* (DESIGN §2, §3).
 *
 * The uncontended path reads no clock: a relaxed peek at the ABI-public lock word
 * (__data.__lock, 0 when free for every mutex kind) sends a free lock straight to glibc.
 * A busy-looking lock is tried once; any result but "busy" is the call's own result (EOWNERDEAD
 * is success, not busy). Only then is it a wait: unwind, register, block in the real call.
 *
 * glibc's up-front checks come first, so that trying never changes a result: a bad clock id
 * or tv_nsec goes straight to glibc (which refuses it or, for a free lock, may not), and a lock
 * the caller already owns (error-checking: EDEADLK; recursive: count + 1) is never a wait.
 */
#include <errno.h>
#include <stdbool.h>

#include "event.h"
#include "mutexkind.h"
#include "resolve.h"


static const char leaf_lock[] = "pthread_mutex_lock";
static const char leaf_timedlock[] = "pthread_mutex_timedlock";
static const char leaf_clocklock[] = "pthread_mutex_clocklock";
static const char leaf_unlock[] = "pthread_mutex_unlock";
static const char leaf_mtx_lock[] = "mtx_lock";
static const char leaf_mtx_timedlock[] = "mtx_timedlock";
static const char leaf_mtx_unlock[] = "mtx_unlock";

/* True when this lock call should go straight to glibc, unprofiled. */
static inline bool mutex_lock_passes(const pthread_mutex_t *m)
{
    if (!lp_ready() || lp_self.busy || !lp_rates_profiling())
        return true;
    if (__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0)
        return true; /* free: the uncontended path, no clock */
    int type = mutex_kind(m) & MUTEX_TYPE_MASK;
    /* Relocking one's own error-checking or recursive mutex never waits. */
    return (type == MUTEX_RECURSIVE || type == MUTEX_ERRORCHECK) && mutex_owned_by_me(m);
}

static inline bool timespec_valid(const struct timespec *ts)
{
    return ts && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

static inline bool clock_valid(clockid_t c)
{
    return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC;
}

/* What a lock call's result means for its wait (DESIGN §2: which calls are waits). */
static enum lp_wait_outcome mutex_outcome(int rc, int timedout)
{
    if (rc == 0 || rc == EOWNERDEAD)
        return LP_ACQUIRED;
    if (rc == timedout)
        return LP_GAVE_UP;
    return LP_NOT_A_WAIT; /* EINVAL, EDEADLK, ENOTRECOVERABLE, EAGAIN: failed without sleeping */
}

/* The wait of a contended lock call, after its try said busy. `call` runs the real call. */
struct mutex_call {
    int kind; /* 0 lock, 1 timed, 2 clock; +3 for mtx_* */
    void *m;
    clockid_t clk;
    const struct timespec *ts;
};

static int mutex_real_call(const struct mutex_call *c)
{
    switch (c->kind) {
    case 0:
        return REAL(pthread_mutex_lock)(c->m);
    case 1:
        return REAL(pthread_mutex_timedlock)(c->m, c->ts);
    case 2:
        return REAL(pthread_mutex_clocklock)(c->m, c->clk, c->ts);
    case 3:
        return REAL(mtx_lock)(c->m);
    default:
        return REAL(mtx_timedlock)(c->m, c->ts);
    }
}

static int mutex_wait(const char *leaf, const struct mutex_call *c, int timedout)
{
    int saved = errno;
    struct lp_wait ev;
    lp_event_wait_begin(&ev, leaf, c->m);
    /* Not busy while blocked: a signal handler that runs meanwhile is profiled like any other
     * code (the wait's stack is held, see stack.h). */
    lp_self.busy--;
    int rc = mutex_real_call(c);
    lp_self.busy++;
    if (rc == EOWNERDEAD) {
        /* The holder died holding it: what it owed goes to a synthetic stack (DESIGN §3.3). */
        struct lp_weight wt;
        if (lp_event_release_charge(c->m, &wt))
            lp_event_record_charge_synthetic(LP_LEAF_OWNER_DIED, &wt);
    } else if (rc == 0 && mutex_pshared(c->m)) {
        /* A process-shared lock may have been released by another process, which this one's
         * table never sees: what the other waiters here waited so far is charged to no one
         * (DESIGN §3.3), not to this thread's next unlock. (A release here already charged
         * its part; only the hand-off since is dropped.) */
        lp_event_release_unseen(c->m);
    }
    lp_event_wait_end(&ev, mutex_outcome(rc, timedout));
    errno = saved;
    return rc;
}

static int mutex_lock_common(const char *leaf, const struct mutex_call *c)
{
    lp_self.busy++;
    int rc = REAL(pthread_mutex_trylock)(c->m);
    if (rc == EBUSY)
        rc = mutex_wait(leaf, c, ETIMEDOUT);
    lp_self.busy--;
    return rc;
}

LP_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (mutex_lock_passes(m))
        return REAL(pthread_mutex_lock)(m);
    struct mutex_call c = { .kind = 0, .m = m };
    return mutex_lock_common(leaf_lock, &c);
}

LP_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *ts)
{
    if (mutex_lock_passes(m) || !timespec_valid(ts))
        return REAL(pthread_mutex_timedlock)(m, ts);
    struct mutex_call c = { .kind = 1, .m = m, .ts = ts };
    return mutex_lock_common(leaf_timedlock, &c);
}

LP_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *ts)
{
    if (mutex_lock_passes(m) || !timespec_valid(ts) || !clock_valid(clk))
        return REAL(pthread_mutex_clocklock)(m, clk, ts);
    struct mutex_call c = { .kind = 2, .m = m, .clk = clk, .ts = ts };
    return mutex_lock_common(leaf_clocklock, &c);
}

/* trylock never waits; it is interposed so that C11 and pthread calls are listed together
 * and a later issue can count failed tries. */
LP_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    return REAL(pthread_mutex_trylock)(m);
}

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
static inline bool mutex_unlock_passes(const pthread_mutex_t *m, uint64_t *arm)
{
    if (!lp_ready() || lp_self.busy)
        return true;
    unsigned hint = lp_locktab_hint(m);
    return hint == 0 || mutex_unlock_quiet(m, hint, arm);
}

static int mutex_unlock_common(const char *leaf, void *m, uint64_t arm, bool c11)
{
    int saved = errno;
    lp_self.busy++;
    struct lp_weight wt;
    /* The charge is computed before the real unlock, under the lock's guard: a waiter woken by
     * the unlock must find the release already accounted for. Only a release that is picked,
     * or that draws the next one, takes the guard (charge.h). Recording (unwinding, hashing)
     * waits until after the unlock. */
    bool picked = lp_event_release_charge_armed(m, arm, &wt);
    int rc = c11 ? REAL(mtx_unlock)(m) : REAL(pthread_mutex_unlock)(m);
    if (picked && rc == 0)
        lp_event_record_charge(leaf, &wt, NULL);
    lp_self.busy--;
    errno = saved;
    return rc;
}

LP_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    uint64_t arm;
    if (mutex_unlock_passes(m, &arm))
        return REAL(pthread_mutex_unlock)(m);
    return mutex_unlock_common(leaf_unlock, m, arm, false);
}

/* C11: mtx_t has pthread_mutex_t's layout in glibc; results are thrd_* codes. */
LP_EXPORT int mtx_lock(mtx_t *m)
{
    pthread_mutex_t *pm = (pthread_mutex_t *)m;
    if (mutex_lock_passes(pm))
        return REAL(mtx_lock)(m);
    struct mutex_call c = { .kind = 3, .m = m };
    lp_self.busy++;
    int rc = REAL(mtx_trylock)(m);
    if (rc == thrd_busy) {
        rc = mutex_wait(leaf_mtx_lock, &c, thrd_timedout);
    }
    lp_self.busy--;
    return rc;
}

LP_EXPORT int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
    pthread_mutex_t *pm = (pthread_mutex_t *)m;
    if (mutex_lock_passes(pm) || !timespec_valid(ts))
        return REAL(mtx_timedlock)(m, ts);
    struct mutex_call c = { .kind = 4, .m = m, .ts = ts };
    lp_self.busy++;
    int rc = REAL(mtx_trylock)(m);
    if (rc == thrd_busy)
        rc = mutex_wait(leaf_mtx_timedlock, &c, thrd_timedout);
    lp_self.busy--;
    return rc;
}

LP_EXPORT int mtx_trylock(mtx_t *m)
{
    return REAL(mtx_trylock)(m);
}

LP_EXPORT int mtx_unlock(mtx_t *m)
{
    uint64_t arm;
    if (mutex_unlock_passes((pthread_mutex_t *)m, &arm))
        return REAL(mtx_unlock)(m);
    return mutex_unlock_common(leaf_mtx_unlock, m, arm, true);
}
