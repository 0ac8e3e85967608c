/*
 * thread.c — pthread_join, pthread_timedjoin_np, pthread_clockjoin_np, thrd_join and
 * pthread_barrier_wait (DESIGN §2): their waits go to the block profile (leaf: the call).
 * Nobody is charged: a thread that runs on, or a barrier's late arrivals, hold no lock.
 *
 * These calls have no "try": each call is timed, and it was a wait when it succeeded (or timed
 * out) after lasting at least the threshold calibrated at start (lp_event_is_wait): a join of
 * a thread that has already finished returns at once and is not a wait. The last arrival at a
 * barrier (glibc's PTHREAD_BARRIER_SERIAL_THREAD, which completes the round) is never a wait.
 * Calls that fail without sleeping (EDEADLK, EINVAL, ESRCH, thrd_error) are never waits. The
 * stack is unwound after the call: it is the same stack, and only waits pay for it.
 *
 * The real call runs with busy == 0: the joins are cancellation points (the barrier is not, in
 * glibc, but it blocks for long), and the program's cleanup handlers and signal handlers must
 * be profiled like any other code. A thread cancelled inside a join leaves nothing behind
 * (nothing is registered) and its wait is not recorded: the call never returns.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "event.h"
#include "resolve.h"

static const char leaf_join[] = "pthread_join";
static const char leaf_timedjoin[] = "pthread_timedjoin_np";
static const char leaf_clockjoin[] = "pthread_clockjoin_np";
static const char leaf_thrd_join[] = "thrd_join";
static const char leaf_barrier[] = "pthread_barrier_wait";

/* Only the block profile hears of these calls: with it off, nothing is timed. */
static inline bool thread_passes(void)
{
    return !lp_ready() || lp_self.busy || lp_rates_block() == 0;
}

/* The end of a call that started at start and returned a result that says it slept (success
 * or timeout): recorded if it lasted long enough to be a wait. */
static void thread_call_end(const char *leaf, uint64_t start)
{
    uint64_t end = lp_now_nofence();
    if (!lp_event_is_wait(start, end))
        return; /* returned at once: no unwinding, no errno to save */
    int saved = errno;
    lp_self.busy++;
    /* (A pending cancel cannot act inside lockprof's unwinding, which calls read: unwind.c
     * disables it there; pthread_barrier_wait stays no cancellation point.) */
    lp_event_record_wait(leaf, start, end);
    lp_self.busy--;
    errno = saved;
}

LP_EXPORT int pthread_join(pthread_t t, void **ret)
{
    if (thread_passes())
        return REAL(pthread_join)(t, ret);
    uint64_t start = lp_now_nofence();
    int rc = REAL(pthread_join)(t, ret);
    if (rc == 0)
        thread_call_end(leaf_join, start);
    return rc;
}

LP_EXPORT int pthread_timedjoin_np(pthread_t t, void **ret, const struct timespec *ts)
{
    if (thread_passes())
        return REAL(pthread_timedjoin_np)(t, ret, ts);
    uint64_t start = lp_now_nofence();
    int rc = REAL(pthread_timedjoin_np)(t, ret, ts);
    if (rc == 0 || rc == ETIMEDOUT)
        thread_call_end(leaf_timedjoin, start);
    return rc;
}

LP_EXPORT int pthread_clockjoin_np(pthread_t t, void **ret, clockid_t clk,
                                   const struct timespec *ts)
{
    if (thread_passes())
        return REAL(pthread_clockjoin_np)(t, ret, clk, ts);
    uint64_t start = lp_now_nofence();
    int rc = REAL(pthread_clockjoin_np)(t, ret, clk, ts);
    if (rc == 0 || rc == ETIMEDOUT)
        thread_call_end(leaf_clockjoin, start);
    return rc;
}

LP_EXPORT int thrd_join(thrd_t t, int *res)
{
    if (thread_passes())
        return REAL(thrd_join)(t, res);
    uint64_t start = lp_now_nofence();
    int rc = REAL(thrd_join)(t, res);
    if (rc == thrd_success)
        thread_call_end(leaf_thrd_join, start);
    return rc;
}

LP_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
    if (thread_passes())
        return REAL(pthread_barrier_wait)(b);
    uint64_t start = lp_now_nofence();
    int rc = REAL(pthread_barrier_wait)(b);
    /* glibc's serial thread is the round's last arrival: it completes the round and never
     * waits (it wakes the others, and on two cores is often preempted by them: measured
     * 27-650 us, well above the threshold). The others waited for it. */
    if (rc == 0)
        thread_call_end(leaf_barrier, start);
    return rc;
}
