/*
 * cond.c — pthread_cond_*wait (both symbol versions, DESIGN §2) and C11 cnd_*wait, on the
 * skeleton of wait.h.
 *
 * The whole call is a wait for the block profile (leaf: the call). Entering it releases the
 * caller's mutex, which charges that mutex's waiters at the *wait stack (DESIGN §3.3): the
 * stack is unwound at most once, and serves both profiles. The caller holds the mutex before
 * the call and again after it, so any unwinding lengthens its critical section: it is done
 * after the call, and only when the wait or the charge is recorded (at the default rate, a
 * cond wait of a few microseconds is unwound a few times in a hundred, not every time). The
 * re-acquire inside glibc is out of reach (DESIGN §2).
 *
 * The calls are cancellation points. glibc releases the mutex before it can block or act on
 * a cancel, and a cancelled wait re-acquires the mutex before unwinding on (glibc 2.36,
 * measured by tests/preload/cancel.t), so the release's charge is owed either way: the wait is
 * finished, and the charge recorded, on return and during the cancellation's unwinding alike,
 * before the program's own cleanup handlers (whose unlocks are then profiled like any other).
 */
#include <errno.h>
#include <stdbool.h>

#include "mutexkind.h"
#include "wait.h"

/* The two ABIs of glibc's condition variables: new (default) and the 2.2.5 compat one, both
 * recorded under the call's one name. */
__asm__(".symver lp_cond_wait_232, pthread_cond_wait@@GLIBC_2.3.2");
__asm__(".symver lp_cond_wait_225, pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver lp_cond_timedwait_232, pthread_cond_timedwait@@GLIBC_2.3.2");
__asm__(".symver lp_cond_timedwait_225, pthread_cond_timedwait@GLIBC_2.2.5");

int lp_cond_wait_232(pthread_cond_t *c, pthread_mutex_t *m);
int lp_cond_wait_225(pthread_cond_t *c, pthread_mutex_t *m);
int lp_cond_timedwait_232(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts);
int lp_cond_timedwait_225(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts);

/* The mutex the call gives back while it waits. */
static inline pthread_mutex_t *cond_mutex(const struct lp_call *c)
{
    return c->more;
}

static long cond_call(const struct lp_call *c)
{
    pthread_mutex_t *m = cond_mutex(c);
    switch (c->id) {
    case LP_CALL_pthread_cond_wait_225:
        return REAL(pthread_cond_wait_225)(c->obj, m);
    case LP_CALL_pthread_cond_timedwait_232:
        return REAL(pthread_cond_timedwait_232)(c->obj, m, c->ts);
    case LP_CALL_pthread_cond_timedwait_225:
        return REAL(pthread_cond_timedwait_225)(c->obj, m, c->ts);
    case LP_CALL_pthread_cond_clockwait:
        return REAL(pthread_cond_clockwait)(c->obj, m, c->clk, c->ts);
    case LP_CALL_cnd_wait:
        return REAL(cnd_wait)(c->obj, (mtx_t *)m);
    case LP_CALL_cnd_timedwait:
        return REAL(cnd_timedwait)(c->obj, (mtx_t *)m, c->ts);
    default:
        return REAL(pthread_cond_wait_232)(c->obj, m);
    }
}

static enum lp_wait_outcome cond_outcome(const struct lp_call *c, long rc, int err)
{
    (void)err;
    bool c11 = c->id == LP_CALL_cnd_wait || c->id == LP_CALL_cnd_timedwait;
    return rc == 0 || rc == (c11 ? thrd_timedout : ETIMEDOUT) ? LP_ACQUIRED : LP_NOT_A_WAIT;
}

/* Entering the wait releases the mutex: its waiters are charged at this stack. A wait on a
 * mutex the caller does not own (EPERM) or holds recursively releases nothing: no charge. */
static void cond_enter(struct lp_waiting *w)
{
    pthread_mutex_t *m = cond_mutex(w->c);
    w->entry_charged = lp_locktab_may_have(m) && mutex_unlock_releases(m) &&
                       lp_event_release_charge(m, &w->entry_charge);
}

/* The release happened before the call could block or be cancelled (glibc releases first,
 * then waits): its charge is recorded either way, at the stack the wait unwound. */
static void cond_finish(struct lp_waiting *w)
{
    if (w->entry_charged)
        lp_event_record_charge(w->c->leaf, &w->entry_charge, &w->ev);
}

static const struct lp_family cond_family = {
    .id = LP_FAM_COND,
    .call = cond_call,
    .outcome = cond_outcome,
    .enter = cond_enter,
    .finish = cond_finish,
    .unwind_after = true,
    .cancelled_waits = true,
};

static __attribute__((noinline)) int cond_profiled(const struct lp_call *c)
{
    return (int)lp_wait_run(&cond_family, c);
}

/* Nobody is charged for the wait itself; the threads view shows the condition variable. */
#define COND_CALL(name, leaf_of, c, m, ...)                                                    \
    (&(const struct lp_call){ .id = LP_CALL_##name, .leaf = lp_call_leaf[LP_CALL_##leaf_of],  \
                              .obj = (c), .more = (m), __VA_ARGS__ })

LP_EXPORT int lp_cond_wait_232(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (lp_wrap_passes_locks())
        return REAL(pthread_cond_wait_232)(c, m);
    return cond_profiled(COND_CALL(pthread_cond_wait_232, pthread_cond_wait_232, c, m));
}

LP_EXPORT int lp_cond_wait_225(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (lp_wrap_passes_locks())
        return REAL(pthread_cond_wait_225)(c, m);
    return cond_profiled(COND_CALL(pthread_cond_wait_225, pthread_cond_wait_232, c, m));
}

/* glibc refuses a bad deadline with EINVAL before it releases the mutex: no wait, no release. */
LP_EXPORT int lp_cond_timedwait_232(pthread_cond_t *c, pthread_mutex_t *m,
                                    const struct timespec *ts)
{
    if (lp_wrap_passes_locks() || !lp_wrap_deadline_ok(ts))
        return REAL(pthread_cond_timedwait_232)(c, m, ts);
    return cond_profiled(
        COND_CALL(pthread_cond_timedwait_232, pthread_cond_timedwait_232, c, m, .ts = ts));
}

LP_EXPORT int lp_cond_timedwait_225(pthread_cond_t *c, pthread_mutex_t *m,
                                    const struct timespec *ts)
{
    if (lp_wrap_passes_locks() || !lp_wrap_deadline_ok(ts))
        return REAL(pthread_cond_timedwait_225)(c, m, ts);
    return cond_profiled(
        COND_CALL(pthread_cond_timedwait_225, pthread_cond_timedwait_232, c, m, .ts = ts));
}

LP_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                                     const struct timespec *ts)
{
    if (lp_wrap_passes_locks() || !lp_wrap_deadline_ok(ts) || !lp_wrap_clock_ok(clk))
        return REAL(pthread_cond_clockwait)(c, m, clk, ts);
    return cond_profiled(COND_CALL(pthread_cond_clockwait, pthread_cond_clockwait, c, m,
                                   .clk = clk, .ts = ts));
}

LP_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
    if (lp_wrap_passes_locks())
        return REAL(cnd_wait)(c, m);
    return cond_profiled(COND_CALL(cnd_wait, cnd_wait, c, m));
}

LP_EXPORT int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
    if (lp_wrap_passes_locks() || !lp_wrap_deadline_ok(ts))
        return REAL(cnd_timedwait)(c, m, ts);
    return cond_profiled(COND_CALL(cnd_timedwait, cnd_timedwait, c, m, .ts = ts));
}
