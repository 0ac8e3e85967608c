/*
 * cond.c — pthread_cond_*wait (both symbol versions, DESIGN §2) and C11 cnd_*wait.
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
 * measured by tests/cancel.t), so the release's charge is owed either way: the wait is
 * finished, and the charge recorded, by a cleanup that runs on return and during the
 * cancellation's unwinding alike, before the program's own cleanup handlers (whose unlocks
 * are then profiled like any other: lp_self.busy is back to what it was).
 */
#include <errno.h>
#include <stdbool.h>

#include "event.h"
#include "mutexkind.h"
#include "resolve.h"

enum cond_call { COND_WAIT, COND_TIMED, COND_CLOCK };

struct cond_args {
    void *c, *m;
    clockid_t clk;
    const struct timespec *ts;
};

typedef int (*cond_call_fn)(const struct cond_args *a);

/* One profiled wait, finished by cond_finish when cond_profiled's scope ends: on return, or
 * while a cancellation unwinds through it (interpose/ is built with -fexceptions, so the
 * cleanup runs then too). */
struct cond_wait {
    struct lp_wait ev;
    const char *leaf;
    struct lp_weight charge; /* what entering the wait's release of the mutex owes */
    bool charged;            /* ... if that release was picked and had anything to charge */
    bool returned;       /* the real call returned (false: cancelled inside it) */
    int rc, timedout;
    uint32_t busy;       /* lp_self.busy when the wrapper was entered, restored at the end */
};

static void cond_finish(struct cond_wait *w)
{
    int saved = errno;
    lp_self.busy = w->busy + 1;
    /* A cancelled wait waited too (glibc re-acquired the mutex before unwinding). */
    enum lp_wait_outcome outcome = LP_GAVE_UP;
    if (w->returned)
        outcome = w->rc == 0 || w->rc == w->timedout ? LP_ACQUIRED : LP_NOT_A_WAIT;
    lp_event_wait_end(&w->ev, outcome);
    /* The release happened before the call could block or be cancelled (glibc releases
     * first, then waits): its charge is recorded either way. */
    if (w->charged)
        lp_event_record_charge(w->leaf, &w->charge, &w->ev);
    lp_self.busy = w->busy;
    errno = saved;
}

static int cond_profiled(const char *leaf, cond_call_fn call, const struct cond_args *a,
                         int timedout)
{
    int saved = errno;
    /* Field by field: an initializer would zero the event's stack buffer too, half a KiB of
     * stores on every wait (the unwind fills what it uses). */
    struct cond_wait w __attribute__((cleanup(cond_finish)));
    w.leaf = leaf;
    w.charged = false;
    w.returned = false;
    w.rc = 0;
    w.timedout = timedout;
    w.busy = lp_self.busy;
    lp_self.busy++;
    /* Nobody is charged for the wait; the view shows c. The caller holds a->m until the real
     * call gives it back, and again when it returns: the stack is unwound only for a wait or
     * a charge that is recorded (event.h). */
    lp_event_wait_begin_held(&w.ev, leaf, a->c);
    /* A wait on a mutex the caller does not own (EPERM) or holds recursively releases
     * nothing: no charge. */
    w.charged = lp_locktab_may_have(a->m) && mutex_unlock_releases(a->m) &&
                lp_event_release_charge(a->m, &w.charge);
    /* Not busy inside the real call: it is a cancellation point, and the program's cleanup
     * handlers (which may unlock the mutex) must be seen like any other code. */
    lp_self.busy = w.busy;
    errno = saved;
    w.rc = call(a);
    w.returned = true;
    return w.rc;
}

static inline bool cond_passes(void)
{
    return !lp_ready() || lp_self.busy || !lp_rates_profiling();
}

static inline bool cond_args_valid(const struct timespec *ts)
{
    /* glibc refuses these with EINVAL before it releases the mutex: no wait, no release. */
    return ts && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

/* The real calls, one per symbol and version. */
static int call_wait_232(const struct cond_args *a)
{
    return REAL(pthread_cond_wait_232)(a->c, a->m);
}
static int call_wait_225(const struct cond_args *a)
{
    return REAL(pthread_cond_wait_225)(a->c, a->m);
}
static int call_timedwait_232(const struct cond_args *a)
{
    return REAL(pthread_cond_timedwait_232)(a->c, a->m, a->ts);
}
static int call_timedwait_225(const struct cond_args *a)
{
    return REAL(pthread_cond_timedwait_225)(a->c, a->m, a->ts);
}
static int call_clockwait(const struct cond_args *a)
{
    return REAL(pthread_cond_clockwait)(a->c, a->m, a->clk, a->ts);
}
static int call_cnd_wait(const struct cond_args *a)
{
    return REAL(cnd_wait)(a->c, a->m);
}
static int call_cnd_timedwait(const struct cond_args *a)
{
    return REAL(cnd_timedwait)(a->c, a->m, a->ts);
}

static const char leaf_wait[] = "pthread_cond_wait";
static const char leaf_timedwait[] = "pthread_cond_timedwait";
static const char leaf_clockwait[] = "pthread_cond_clockwait";
static const char leaf_cnd_wait[] = "cnd_wait";
static const char leaf_cnd_timedwait[] = "cnd_timedwait";

/* The two ABIs of glibc's condition variables: new (default) and the 2.2.5 compat one. */
__asm__(".symver lp_cond_wait_232, pthread_cond_wait@@GLIBC_2.3.2");
__asm__(".symver lp_cond_wait_225, pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver lp_cond_timedwait_232, pthread_cond_timedwait@@GLIBC_2.3.2");
__asm__(".symver lp_cond_timedwait_225, pthread_cond_timedwait@GLIBC_2.2.5");

int lp_cond_wait_232(pthread_cond_t *c, pthread_mutex_t *m);
int lp_cond_wait_225(pthread_cond_t *c, pthread_mutex_t *m);
int lp_cond_timedwait_232(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts);
int lp_cond_timedwait_225(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts);

LP_EXPORT int lp_cond_wait_232(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (cond_passes())
        return REAL(pthread_cond_wait_232)(c, m);
    struct cond_args a = { .c = c, .m = m };
    return cond_profiled(leaf_wait, call_wait_232, &a, ETIMEDOUT);
}

LP_EXPORT int lp_cond_wait_225(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (cond_passes())
        return REAL(pthread_cond_wait_225)(c, m);
    struct cond_args a = { .c = c, .m = m };
    return cond_profiled(leaf_wait, call_wait_225, &a, ETIMEDOUT);
}

LP_EXPORT int lp_cond_timedwait_232(pthread_cond_t *c, pthread_mutex_t *m,
                                    const struct timespec *ts)
{
    if (cond_passes() || !cond_args_valid(ts))
        return REAL(pthread_cond_timedwait_232)(c, m, ts);
    struct cond_args a = { .c = c, .m = m, .ts = ts };
    return cond_profiled(leaf_timedwait, call_timedwait_232, &a, ETIMEDOUT);
}

LP_EXPORT int lp_cond_timedwait_225(pthread_cond_t *c, pthread_mutex_t *m,
                                    const struct timespec *ts)
{
    if (cond_passes() || !cond_args_valid(ts))
        return REAL(pthread_cond_timedwait_225)(c, m, ts);
    struct cond_args a = { .c = c, .m = m, .ts = ts };
    return cond_profiled(leaf_timedwait, call_timedwait_225, &a, ETIMEDOUT);
}

LP_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                                     const struct timespec *ts)
{
    if (cond_passes() || !cond_args_valid(ts) || (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC))
        return REAL(pthread_cond_clockwait)(c, m, clk, ts);
    struct cond_args a = { .c = c, .m = m, .clk = clk, .ts = ts };
    return cond_profiled(leaf_clockwait, call_clockwait, &a, ETIMEDOUT);
}

LP_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
    if (cond_passes())
        return REAL(cnd_wait)(c, m);
    struct cond_args a = { .c = c, .m = m };
    return cond_profiled(leaf_cnd_wait, call_cnd_wait, &a, thrd_timedout);
}

LP_EXPORT int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
    if (cond_passes() || !cond_args_valid(ts))
        return REAL(cnd_timedwait)(c, m, ts);
    struct cond_args a = { .c = c, .m = m, .ts = ts };
    return cond_profiled(leaf_cnd_timedwait, call_cnd_timedwait, &a, thrd_timedout);
}
