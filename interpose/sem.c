/*
 * sem.c — sem_wait, sem_timedwait, sem_clockwait (DESIGN §2), on the skeleton of wait.h:
 * contended waits go to the block profile (leaf: the call). A semaphore has no owner, so
 * nobody is charged: no mutex profile. sem_trywait never waits and passes through.
 *
 * The uncontended path reads no clock: a relaxed peek at the sem_t's value sends an available
 * token straight to glibc. glibc 2.36's new_sem on x86-64 is one 64-bit word, the value in its
 * low 32 bits and the count of waiters in the high ones (nptl/semaphoreP.h, __HAVE_64B_ATOMICS).
 *
 * Otherwise the token is tried for once (sem_trywait) before it is a wait — but only after
 * glibc's own up-front checks, in glibc's order, because a try takes a token that the real call
 * might not take. What glibc 2.36 does first (read in libc.so.6's code, and tested):
 *   sem_wait       pthread_testcancel, then the token
 *   sem_timedwait  tv_nsec outside [0, 1e9): EINVAL; then pthread_testcancel; then the token
 *   sem_clockwait  a clock other than CLOCK_REALTIME/MONOTONIC: EINVAL; bad tv_nsec: EINVAL;
 *                  then the token — no pthread_testcancel: with a cancel pending and a token
 *                  there it returns 0 (it is cancelled only if it blocks)
 * So a call glibc refuses goes to glibc untouched, and a pending cancel is acted on in the try,
 * where glibc would act on it, before the try can take a token.
 *
 * The real call is a cancellation point: a thread cancelled inside it leaves nothing behind
 * (nothing is registered: nobody is charged for a semaphore), and its wait is not recorded:
 * the call never returns.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "wait.h"

/* The value of a glibc 2.36 x86-64 semaphore: the low half of its first 64-bit word. */
typedef uint64_t __attribute__((may_alias)) sem_word;
_Static_assert(sizeof(sem_t) >= sizeof(sem_word), "sem_t holds new_sem's 64-bit data word");

static inline uint32_t sem_value_peek(const sem_t *s)
{
    return (uint32_t)__atomic_load_n((const sem_word *)(const void *)s, __ATOMIC_RELAXED);
}

/* True when this wait call should go straight to glibc, unprofiled. */
static inline bool sem_passes(const sem_t *s)
{
    return lp_wrap_passes_block() || sem_value_peek(s) != 0; /* a token: no clock */
}

static long sem_try(const struct lp_call *c)
{
    if (c->id != LP_CALL_sem_clockwait)
        pthread_testcancel(); /* glibc's first step: a pending cancel wins over any token */
    /* A token that came meanwhile is taken at once, as glibc would (errno untouched). */
    return REAL(sem_trywait)(c->obj) == 0 ? 0 : LP_WOULD_WAIT;
}

static long sem_call(const struct lp_call *c)
{
    switch (c->id) {
    case LP_CALL_sem_timedwait:
        return REAL(sem_timedwait)(c->obj, c->ts);
    case LP_CALL_sem_clockwait:
        return REAL(sem_clockwait)(c->obj, c->clk, c->ts);
    default:
        return REAL(sem_wait)(c->obj);
    }
}

/* What a failed wait's errno means (DESIGN §2: which calls are waits). */
static enum lp_wait_outcome sem_outcome(const struct lp_call *c, long rc, int err)
{
    (void)c;
    if (rc == 0)
        return LP_ACQUIRED;
    if (err == ETIMEDOUT || err == EINTR)
        return LP_GAVE_UP; /* it slept until the deadline or a signal: a wait */
    return LP_NOT_A_WAIT;
}

static const struct lp_family sem_family = {
    .id = LP_FAM_SEM,
    .try_ = sem_try,
    .call = sem_call,
    .outcome = sem_outcome,
};

static __attribute__((noinline)) int sem_profiled(const struct lp_call *c)
{
    return (int)lp_wait_run(&sem_family, c);
}

LP_EXPORT int sem_wait(sem_t *s)
{
    if (sem_passes(s))
        return REAL(sem_wait)(s);
    return sem_profiled(LP_CALL(sem_wait, .obj = s));
}

LP_EXPORT int sem_timedwait(sem_t *s, const struct timespec *ts)
{
    if (sem_passes(s) || !lp_wrap_deadline_ok(ts))
        return REAL(sem_timedwait)(s, ts); /* EINVAL before anything else, as glibc */
    return sem_profiled(LP_CALL(sem_timedwait, .obj = s, .ts = ts));
}

LP_EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *ts)
{
    if (sem_passes(s) || !lp_wrap_clock_ok(clk) || !lp_wrap_deadline_ok(ts))
        return REAL(sem_clockwait)(s, clk, ts);
    return sem_profiled(LP_CALL(sem_clockwait, .obj = s, .clk = clk, .ts = ts));
}

LP_EXPORT int sem_trywait(sem_t *s)
{
    return REAL(sem_trywait)(s);
}
