/*
 * thread.c — threads: their creation, which starts lockprof's own thread with the program's
 * first (DESIGN §5), and pthread_join, pthread_timedjoin_np, pthread_clockjoin_np, thrd_join
 * and pthread_barrier_wait (DESIGN §2), on the timed skeleton of wait.h: their waits go to the
 * block profile (leaf: the call). Nobody is charged: a thread that runs on, or a barrier's late
 * arrivals, hold no lock.
 *
 * These calls have no "try": each call is timed, and it was a wait when it succeeded (or timed
 * out) after lasting at least the threshold calibrated at start: a join of a thread that has
 * already finished returns at once and is not a wait. The last arrival at a barrier (glibc's
 * PTHREAD_BARRIER_SERIAL_THREAD, which completes the round) is never a wait: it wakes the
 * others, and on two cores is often preempted by them (measured 27-650 us, well above the
 * threshold); the others waited for it. Calls that fail without sleeping (EDEADLK, EINVAL,
 * ESRCH, thrd_error) are never waits.
 *
 * The joins are cancellation points (the barrier is not, in glibc, but it blocks for long). A
 * thread cancelled inside a join leaves nothing behind (nothing is registered) and its wait is
 * not recorded: the call never returns.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "wait.h"

static long thread_call(const struct lp_call *c)
{
    pthread_t t = (pthread_t)(uintptr_t)c->obj;
    switch (c->id) {
    case LP_CALL_pthread_timedjoin_np:
        return REAL(pthread_timedjoin_np)(t, c->more, c->ts);
    case LP_CALL_pthread_clockjoin_np:
        return REAL(pthread_clockjoin_np)(t, c->more, c->clk, c->ts);
    case LP_CALL_thrd_join:
        return REAL(thrd_join)((thrd_t)t, c->more);
    case LP_CALL_pthread_barrier_wait:
        return REAL(pthread_barrier_wait)(c->obj);
    default:
        return REAL(pthread_join)(t, c->more);
    }
}

static bool thread_can_wait(const struct lp_call *c, long rc, int err)
{
    (void)err;
    switch (c->id) {
    case LP_CALL_pthread_timedjoin_np:
    case LP_CALL_pthread_clockjoin_np:
        return rc == 0 || rc == ETIMEDOUT;
    case LP_CALL_thrd_join:
        return rc == thrd_success;
    default:
        return rc == 0; /* the barrier's serial thread returns PTHREAD_BARRIER_SERIAL_THREAD */
    }
}

static const struct lp_timed_family thread_family = {
    .id = LP_FAM_THREAD,
    .call = thread_call,
    .can_wait = thread_can_wait,
};

static __attribute__((noinline)) int thread_profiled(const struct lp_call *c)
{
    return (int)lp_wait_timed(&thread_family, c);
}

#define THREAD_OBJ(t) ((void *)(uintptr_t)(t))

LP_EXPORT int pthread_join(pthread_t t, void **ret)
{
    if (lp_wrap_passes_block())
        return REAL(pthread_join)(t, ret);
    return thread_profiled(LP_CALL(pthread_join, .obj = THREAD_OBJ(t), .more = ret));
}

LP_EXPORT int pthread_timedjoin_np(pthread_t t, void **ret, const struct timespec *ts)
{
    if (lp_wrap_passes_block())
        return REAL(pthread_timedjoin_np)(t, ret, ts);
    return thread_profiled(
        LP_CALL(pthread_timedjoin_np, .obj = THREAD_OBJ(t), .more = ret, .ts = ts));
}

LP_EXPORT int pthread_clockjoin_np(pthread_t t, void **ret, clockid_t clk,
                                   const struct timespec *ts)
{
    if (lp_wrap_passes_block())
        return REAL(pthread_clockjoin_np)(t, ret, clk, ts);
    return thread_profiled(LP_CALL(pthread_clockjoin_np, .obj = THREAD_OBJ(t), .more = ret,
                                   .clk = clk, .ts = ts));
}

LP_EXPORT int thrd_join(thrd_t t, int *res)
{
    if (lp_wrap_passes_block())
        return REAL(thrd_join)(t, res);
    return thread_profiled(LP_CALL(thrd_join, .obj = THREAD_OBJ(t), .more = res));
}

LP_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
    if (lp_wrap_passes_block())
        return REAL(pthread_barrier_wait)(b);
    return thread_profiled(LP_CALL(pthread_barrier_wait, .obj = b));
}

/* glibc's thrd_create calls its pthread_create internally, out of the wrapper's sight: both.
 * While the CPU profile samples, a new thread arms its own timer first thing (cpu.h). */
LP_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    lp_lifecycle_threads_begin();
    if (!lp_cpu_sampling())
        return REAL(pthread_create)(t, attr, fn, arg);
    int slot = lp_cpu_thread_wrap(&fn, &arg);
    int rc = REAL(pthread_create)(t, attr, fn, arg);
    if (rc != 0)
        lp_cpu_thread_unwrap(slot);
    else if (slot < 0)
        lp_cpu_thread_started();
    return rc;
}

/* glibc's thrd_create starts its thread through its own pthread_create, out of the wrappers'
 * sight: such a thread is armed by lockprof's thread's listing. */
LP_EXPORT int thrd_create(thrd_t *t, thrd_start_t fn, void *arg)
{
    lp_lifecycle_threads_begin();
    int rc = REAL(thrd_create)(t, fn, arg);
    if (rc == thrd_success && lp_cpu_sampling())
        lp_cpu_thread_started();
    return rc;
}
