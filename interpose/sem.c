/*
 * sem.c — sem_wait, sem_timedwait, sem_clockwait (DESIGN §2): contended waits go to the block
 * profile (leaf: the call). A semaphore has no owner, so nobody is charged: no mutex profile.
 * sem_trywait never waits and passes through.
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
 * So a call glibc refuses goes to glibc untouched, and a pending cancel is acted on here,
 * where glibc would act on it, before the try can take a token.
 *
 * The real call runs with busy == 0: it is a cancellation point, and the program's cleanup
 * handlers and signal handlers must be profiled like any other code. A thread cancelled inside
 * it leaves nothing behind (nothing is registered: nobody is charged for a semaphore), and its
 * wait is not recorded: the call never returns.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "resolve.h"

static const char leaf_wait[] = "sem_wait";
static const char leaf_timedwait[] = "sem_timedwait";
static const char leaf_clockwait[] = "sem_clockwait";

/* The value of a glibc 2.36 x86-64 semaphore: the low half of its first 64-bit word. */
typedef uint64_t __attribute__((may_alias)) sem_word;
_Static_assert(sizeof(sem_t) >= sizeof(sem_word), "sem_t holds new_sem's 64-bit data word");

static inline uint32_t sem_value_peek(const sem_t *s)
{
    return (uint32_t)__atomic_load_n((const sem_word *)(const void *)s, __ATOMIC_RELAXED);
}

/* True when this wait call should go straight to glibc, unprofiled. Only the block profile
 * hears of semaphores: with it off, nothing is timed. */
static inline bool sem_passes(const sem_t *s)
{
    if (!lp_ready() || lp_self.busy || lp_rates_block() == 0)
        return true;
    return sem_value_peek(s) != 0; /* a token is there: the uncontended path, no clock */
}

static inline bool timespec_valid(const struct timespec *ts)
{
    return ts && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

static inline bool clock_valid(clockid_t c)
{
    return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC;
}

struct sem_call {
    int kind; /* 0 sem_wait, 1 sem_timedwait, 2 sem_clockwait */
    sem_t *s;
    clockid_t clk;
    const struct timespec *ts;
};

static int sem_real_call(const struct sem_call *c)
{
    switch (c->kind) {
    case 0:
        return REAL(sem_wait)(c->s);
    case 1:
        return REAL(sem_timedwait)(c->s, c->ts);
    default:
        return REAL(sem_clockwait)(c->s, c->clk, c->ts);
    }
}

/* What a failed wait's errno means (DESIGN §2: which calls are waits). */
static enum lp_wait_outcome sem_outcome(int rc, int err)
{
    if (rc == 0)
        return LP_ACQUIRED;
    if (err == ETIMEDOUT || err == EINTR)
        return LP_GAVE_UP; /* it slept until the deadline or a signal: a wait */
    return LP_NOT_A_WAIT;
}

/* The semaphore looked empty and glibc's up-front checks are done. */
static int sem_contended(const char *leaf, const struct sem_call *c)
{
    int saved = errno;
    if (REAL(sem_trywait)(c->s) == 0)
        return 0; /* a token came meanwhile: taken at once, as glibc would (errno untouched) */
    lp_self.busy++;
    /* (A pending cancel cannot act inside lockprof's unwinding: unwind.c disables it.) */
    /* Cancelled inside the wait: its in-flight entry goes too (nothing else is registered). */
    struct lp_wait ev __attribute__((cleanup(lp_event_wait_cleanup)));
    lp_event_wait_begin_obj(&ev, leaf, NULL, c->s); /* nobody charged; the view shows s */
    lp_self.busy--;
    errno = saved;
    int rc = sem_real_call(c);
    saved = errno;
    lp_self.busy++;
    lp_event_wait_end(&ev, sem_outcome(rc, saved));
    lp_self.busy--;
    errno = saved;
    return rc;
}

LP_EXPORT int sem_wait(sem_t *s)
{
    if (sem_passes(s))
        return REAL(sem_wait)(s);
    pthread_testcancel(); /* glibc's first step: a pending cancel wins over any token */
    struct sem_call c = { .kind = 0, .s = s };
    return sem_contended(leaf_wait, &c);
}

LP_EXPORT int sem_timedwait(sem_t *s, const struct timespec *ts)
{
    if (sem_passes(s) || !timespec_valid(ts))
        return REAL(sem_timedwait)(s, ts); /* EINVAL before anything else, as glibc */
    pthread_testcancel();
    struct sem_call c = { .kind = 1, .s = s, .ts = ts };
    return sem_contended(leaf_timedwait, &c);
}

LP_EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *ts)
{
    if (sem_passes(s) || !clock_valid(clk) || !timespec_valid(ts))
        return REAL(sem_clockwait)(s, clk, ts);
    /* No pthread_testcancel: glibc 2.36's sem_clockwait has none before taking a token. */
    struct sem_call c = { .kind = 2, .s = s, .clk = clk, .ts = ts };
    return sem_contended(leaf_clockwait, &c);
}

LP_EXPORT int sem_trywait(sem_t *s)
{
    return REAL(sem_trywait)(s);
}
