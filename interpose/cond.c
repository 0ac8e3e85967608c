/*
 * cond.c — pthread_cond_*wait (both symbol versions, DESIGN §2) and C11 cnd_*wait.
 *
 * The whole call is a wait for the block profile (leaf: the call). Entering it releases the
 * caller's mutex, which charges that mutex's waiters at the *wait stack (DESIGN §3.3): the
 * stack is unwound once, before the call, and serves both profiles. The re-acquire inside
 * glibc is out of reach (DESIGN §2).
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

static int cond_profiled(const char *leaf, cond_call_fn call, const struct cond_args *a,
                         int timedout)
{
    int saved = errno;
    lp_self.busy++;
    struct lp_wait ev;
    lp_event_wait_begin(&ev, leaf, NULL);
    uint64_t charge;
    /* A wait on a mutex the caller does not own (EPERM) or holds recursively releases
     * nothing: no charge. */
    bool charged = lp_locktab_busy() && mutex_unlock_releases(a->m) &&
                   lp_event_release_charge(a->m, &charge);
    /* Not busy inside the real call: it is a cancellation point, and the program's cleanup
     * handlers (which may unlock the mutex) must be seen like any other code. */
    lp_self.busy--;
    errno = saved;
    int rc = call(a);
    saved = errno;
    lp_self.busy++;
    lp_event_wait_end(&ev, rc == 0 || rc == timedout ? LP_ACQUIRED : LP_NOT_A_WAIT);
    if (charged)
        lp_event_record_charge(leaf, charge, &ev);
    lp_self.busy--;
    errno = saved;
    return rc;
}

static inline bool cond_passes(void)
{
    return !lp_ready() || lp_self.busy || !lp_profiling();
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
