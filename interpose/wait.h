/*
 * wait.h — the one skeleton every wrapper follows (DESIGN §2, §6; STYLE "One skeleton, many
 * families"). A family file (mutex.c, rwlock.c, sem.c, cond.c, thread.c, io.c) keeps only what
 * is its own: which word it peeks at, its try, its real calls, and what a result means for
 * the wait. The sequence — guard and errno, glibc's up-front checks, the try, the wait's
 * begin, the real call, the wait's end — is written here once.
 *
 * errno, the one rule for every wrapper: the program sees errno exactly as the real call left
 * it. The real call starts with the errno the program had when it made the call (whatever
 * lockprof did first, a try included, is undone), and after it the program gets the real
 * call's errno back, whatever lockprof did afterwards. A try whose result is the call's result
 * (it did not have to wait) stands for the real call: its errno is the call's.
 *
 * The guard: lp_self.busy (event.h) is raised while lockprof's own code runs, so that the
 * calls lockprof makes pass straight through its wrappers, and it is lowered around the real
 * call and the try: these are the program's calls. A cancellation point's cleanup handlers,
 * and a signal handler that interrupts a wait, run the program's code, profiled like any other.
 *
 * Context: application threads; a wrapper entered while busy (lockprof's own calls, its own
 * threads) passes straight through.
 */
#ifndef LP_WAIT_H
#define LP_WAIT_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "event.h"
#include "lifecycle.h"
#include "resolve.h"

/* ---- the guard and errno ----------------------------------------------------------------- */

struct lp_guard {
    int err; /* the errno the program is to see next */
};

/* lockprof's code begins: the program's errno kept, the guard up (and where it rose, for a
 * siglongjmp out of it: jump.c). */
static inline void lp_guard_enter(struct lp_guard *g)
{
    g->err = errno;
    if (lp_self.busy++ == 0)
        lp_self.busy_at = (uintptr_t)g;
}

/* The program's call begins: the guard down, the program's errno back. */
static inline void lp_guard_call(struct lp_guard *g)
{
    lp_self.busy--;
    errno = g->err;
}

/* The program's call returned: its errno kept, the guard up. */
static inline void lp_guard_return(struct lp_guard *g)
{
    g->err = errno;
    if (lp_self.busy++ == 0)
        lp_self.busy_at = (uintptr_t)g;
}

/* lockprof's code ends: the guard down, errno as the program is to see it. */
static inline void lp_guard_leave(struct lp_guard *g)
{
    lp_self.busy--;
    errno = g->err;
}

/* ---- whether a call is profiled at all, and glibc's up-front checks ----------------------- */

/* lockprof is not there for this call: before its constructor (and for ever under secure
 * execution), or the call is lockprof's own. */
static inline bool lp_wrap_off(void)
{
    return !lp_ready() || lp_self.busy;
}

/* For the families that feed the block profile only (semaphores, joins, pipes, queues): with
 * it off there is nothing to time. */
static inline bool lp_wrap_passes_block(void)
{
    return lp_wrap_off() || lp_rates_block() == 0;
}

/* For the lock families, which feed both profiles: with both off no clock is read (§3.1). */
static inline bool lp_wrap_passes_locks(void)
{
    return lp_wrap_off() || !lp_rates_profiling();
}

/* glibc refuses a deadline whose tv_nsec is out of range, and a clock other than these two,
 * with EINVAL before it looks at the object (valid_nanoseconds,
 * futex_abstimed_supported_clockid): such a call goes to glibc untried, or a try could take
 * what glibc would refuse (DESIGN §2). A NULL deadline is glibc's to judge too. */
static inline bool lp_wrap_deadline_ok(const struct timespec *ts)
{
    return ts && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

static inline bool lp_wrap_clock_ok(clockid_t clk)
{
    return clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC;
}

/* ---- a call, and the wait in it ---------------------------------------------------------- */

/* A blocking call as its family describes it to the skeleton. */
struct lp_call {
    enum lp_call_id id;        /* which call (symbols.def) */
    const char *leaf;          /* its name in the profiles: lp_call_leaf[id] or its alias's */
    void *obj;                 /* what the wait is on: the lock, the semaphore, the condition
                                  variable, a queue's id (the threads view shows it) */
    const void *charge;        /* the lock whose releases are charged for the wait; NULL: none */
    clockid_t clk;             /* the *clock* calls' clock */
    const struct timespec *ts; /* the timed calls' deadline */
    void *more;                /* anything else the family's real call needs */
};

/* The descriptor of call `name` (an interposed symbol), with designated initializers for the
 * rest: LP_CALL(pthread_mutex_lock, .obj = m, .charge = m). */
#define LP_CALL(name, ...)                                                                     \
    (&(const struct lp_call){ .id = LP_CALL_##name, .leaf = lp_call_leaf[LP_CALL_##name],     \
                              __VA_ARGS__ })

/* A try's answer when the call would have to wait; any other is the call's own result. */
#define LP_WOULD_WAIT LONG_MIN

struct lp_waiting;

/* What a family says about its calls. Its functions run with the guard up unless said. */
struct lp_family {
    enum lp_family_id id; /* whose count its waits add to (families.h) */
    /* The try, with the guard down (it is the program's call, and may be a cancellation
     * point): LP_WOULD_WAIT when the call would block, anything else is the call's result.
     * NULL: every call that reaches the skeleton is a wait. */
    long (*try_)(const struct lp_call *c);
    /* The real call, with the guard down. */
    long (*call)(const struct lp_call *c);
    /* What the real call's result, and the errno it left, mean for its wait (DESIGN §2). */
    enum lp_wait_outcome (*outcome)(const struct lp_call *c, long rc, int err);
    /* Optional: once the wait has begun, before the real call (cond.c: the call releases the
     * caller's mutex, whose waiters are charged then). */
    void (*enter)(struct lp_waiting *w);
    /* Optional: after the real call returned, before the wait ends (mutex.c: an owner that
     * died, a process-shared hand-off). */
    void (*returned)(struct lp_waiting *w);
    /* Optional: after the wait ended, on return and when the thread is cancelled inside the
     * real call alike (cond.c: records the charge of the release made on entering). */
    void (*finish)(struct lp_waiting *w);
    /* The stack is unwound after the call, only for a wait that is recorded (event.h:
     * lp_event_wait_begin_late): the caller holds a lock across the call (cond.c), or holds
     * nothing before or after it (futex.c: FUTEX_WAIT). The wait is registered for the charge
     * of the call's charge lock all the same, if it has one. */
    bool unwind_after;
    /* A thread cancelled inside the real call did wait (cond.c: glibc re-acquires the mutex
     * before unwinding): its wait is recorded. Otherwise such a wait is dropped (the call never
     * returned): nothing of it is recorded, and a registered waiter leaves as one that gave
     * up. */
    bool cancelled_waits;
};

/* One wait in progress, in the wrapper's frame. */
struct lp_waiting {
    struct lp_wait ev;
    const struct lp_family *f;
    const struct lp_call *c;
    long rc;                       /* the real call's result ... */
    int err;                       /* ... and errno, once returned */
    uint32_t busy;                 /* lp_self.busy when the wrapper was entered */
    bool ending;                   /* the real call returned: lp_wait_end has it */
    bool abandoned;                /* ended by lp_wait_abandon: nothing more to do */
    bool entry_charged;            /* enter() made a release that was picked (cond.c) ... */
    struct lp_weight entry_charge; /* ... and this is its charge */
    uint64_t token;                /* its lp_wait_nest_ token while it is open */
};

/*
 * The thread's waits in progress, outermost first (a handler that interrupts a wait may wait
 * itself). A signal handler that leaves a wait by siglongjmp (undefined by POSIX, done by real
 * programs) never lets it end: jump.c finds the waits whose frames the jump discards and ends
 * them with lp_wait_abandon, before the jump. The list is in TLS, not linked through the frames,
 * so that a frame left some other way (a wait forgotten here) is never read again: a new wait
 * forgets every entry below its own frame (on one stack, frames already left), and an entry is
 * read only when its token is still the one it was entered with. Deeper nesting than
 * LP_WAIT_NEST is not tracked (such a wait is not ended by a jump).
 */
#define LP_WAIT_NEST 8
struct lp_wait_nest {
    uint32_t n;
    uint64_t next_token;
    struct lp_waiting *w[LP_WAIT_NEST];
    uint64_t token[LP_WAIT_NEST];
};
extern __thread struct lp_wait_nest lp_wait_nest_ __attribute__((tls_model("initial-exec")));

static inline void lp_wait_push(struct lp_waiting *w)
{
    struct lp_wait_nest *s = &lp_wait_nest_;
    uint32_t n = s->n;
    while (n && (uintptr_t)s->w[n - 1] < (uintptr_t)w)
        n--;
    if (n < LP_WAIT_NEST) {
        w->token = ++s->next_token;
        s->w[n] = w;
        s->token[n] = w->token;
        n++;
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* the entry whole before a handler can see it */
    s->n = n;
}

/* w's entry and any above it (waits of handlers that never ended) leave the list. */
static inline void lp_wait_pop(struct lp_waiting *w)
{
    struct lp_wait_nest *s = &lp_wait_nest_;
    for (uint32_t i = s->n; i-- > 0;)
        if (s->w[i] == w) {
            s->n = i;
            return;
        }
}

/* Ends w, left by a jump out of a signal handler that interrupted it: a wait that had begun
 * (its stack unwound) is recorded as one that gave up, at the time of the jump; one caught
 * earlier is dropped. The guard goes back to where the wrapper found it. The caller takes w off
 * the list. */
void lp_wait_abandon(struct lp_waiting *w);

/* Ends w after the real call returned (f is w->f, passed as the constant it is). */
static inline __attribute__((always_inline)) void lp_wait_end(const struct lp_family *f,
                                                              struct lp_waiting *w)
{
    w->ending = true;
    if (!w->busy)
        lp_self.busy_at = (uintptr_t)w;
    lp_self.busy = w->busy + 1;
    if (__builtin_expect(w->abandoned, 0)) { /* (jump.c: a jump to another stack came back) */
        lp_wait_pop(w);
        lp_self.busy = w->busy;
        errno = w->err;
        return;
    }
    if (f->returned)
        f->returned(w);
    lp_event_wait_end(&w->ev, f->outcome(w->c, w->rc, w->err));
    if (f->finish)
        f->finish(w);
    lp_wait_pop(w);
    lp_self.busy = w->busy;
    errno = w->err;
}

/* Ends w while a cancellation unwinds through the wrapper from inside the real call (interpose/
 * is built with -fexceptions, so cleanups run then). */
void lp_wait_cancelled(struct lp_waiting *w);

static inline void lp_wait_cancel_cleanup(struct lp_waiting **armed)
{
    if (*armed)
        lp_wait_cancelled(*armed);
}

/*
 * The skeleton of a blocking call that may wait: the try (if the family has one), then the wait —
 * begun (registered, timed and, unless unwind_after, unwound) before the real call blocks, ended
 * (deregistered, sampled, recorded) after it. Called once the family's pass-through checks and
 * glibc's up-front checks said the call is profiled. Inlined into one function per family whose f
 * is a constant, so that the family's functions are called directly; keep that function out of line
 * (noinline), so that the wrappers' pass-through paths stay without its frame.
 */
static inline __attribute__((always_inline)) long lp_wait_run(const struct lp_family *f,
                                                              const struct lp_call *c)
{
    int err = errno;
    if (f->try_) {
        long rc = f->try_(c);
        if (rc != LP_WOULD_WAIT)
            return rc;
    }
    if (__builtin_expect(!lp_lifecycle_check(), 0)) {
        errno = err;
        return f->call(c);
    }
    /* Field by field: an initializer would zero the event's stack buffer too, half a KiB of
     * stores on every wait (the unwind fills what it uses). */
    struct lp_waiting w;
    w.f = f;
    w.c = c;
    w.entry_charged = false;
    w.ending = false;
    w.abandoned = false;
    w.ev.inflight = -1; /* before it is open: what lp_wait_abandon may find */
    w.ev.w.registered = false;
    w.ev.have_stack = false;
    w.busy = lp_self.busy;
    if (!w.busy)
        lp_self.busy_at = (uintptr_t)&w;
    lp_self.busy = w.busy + 1;
    lp_wait_push(&w);
    if (f->unwind_after)
        lp_event_wait_begin_late(&w.ev, c->leaf, f->id, c->charge, c->obj);
    else
        lp_event_wait_begin_obj(&w.ev, c->leaf, f->id, c->charge, c->obj);
    if (f->enter)
        f->enter(&w);
    lp_self.busy = w.busy;
    errno = err;
    {
        /* Armed only while the real call runs: a cancellation inside it unwinds through here. */
        struct lp_waiting *armed __attribute__((cleanup(lp_wait_cancel_cleanup))) = &w;
        w.rc = f->call(c);
        w.err = errno;
        armed = NULL;
    }
    lp_wait_end(f, &w);
    return w.rc;
}

/* ---- calls with no try: timed --------------------------------------------------------------
 * A join, a barrier, a read of a pipe cannot be tried without changing what the program sees:
 * the real call is timed, and it was a wait when it lasted at least the threshold calibrated
 * at start (lp_event_is_wait: a call that returns at once never waits). Nothing is registered,
 * and the stack is unwound after the call (it is the same stack) and only for a recorded wait.
 */
struct lp_timed_family {
    enum lp_family_id id; /* whose count its waits add to (families.h) */
    /* The real call, with the guard down. */
    long (*call)(const struct lp_call *c);
    /* Optional: whether the result can follow a wait (thread.c: success or a timeout; calls
     * that fail without sleeping never waited). NULL: any result can. */
    bool (*can_wait)(const struct lp_call *c, long rc, int err);
    /* Optional, guard down: before the clock's first read; returns when the call starts
     * (io.c looks at the thread's context switches after a gap). */
    uint64_t (*before)(uint64_t start);
    /* Optional, guard down: when the call returned (io.c notes it). */
    void (*after)(uint64_t end);
    /* Optional, guard up, for a wait that is picked: checks that cost more than sampling
     * (io.c: did the thread sleep, is the descriptor still a pipe); false: not a wait. */
    bool (*confirm)(const struct lp_call *c, long rc, int err);
};

/* A call [start, end) that lasted a wait's length: picked at the block rate, confirmed,
 * recorded. Out of line: only calls that lasted that long come here. */
void lp_wait_timed_slow(const struct lp_timed_family *f, const struct lp_call *c, long rc,
                        uint64_t start, uint64_t end);

/* The skeleton of a timed call. Inlined as lp_wait_run is, and kept out of the wrappers'
 * pass-through paths the same way. */
static inline __attribute__((always_inline)) long lp_wait_timed(const struct lp_timed_family *f,
                                                                const struct lp_call *c)
{
    uint64_t start = lp_now_nofence();
    if (f->before)
        start = f->before(start);
    long rc = f->call(c);
    uint64_t end = lp_now_nofence(); /* preserves errno */
    if (f->after)
        f->after(end);
    if (__builtin_expect(lp_event_is_wait(start, end), 0) &&
        (!f->can_wait || f->can_wait(c, rc, errno)))
        lp_wait_timed_slow(f, c, rc, start, end);
    return rc;
}

/* ---- releases -------------------------------------------------------------------------------
 * The release of a lock that may have an entry in the lock table (locktab.h), whose own draw
 * (lp_event_arm) says it is not quiet: its charge is computed before the real unlock — a
 * waiter woken by the unlock must find the release already accounted for in the lock's entry
 * — and recorded (unwound, hashed) after it, outside the critical section (DESIGN §3.4).
 * Inlined, as the waits' skeleton is, into one out-of-line function per family.
 */
static inline __attribute__((always_inline)) long
lp_release_run(const struct lp_call *c, uint64_t arm, long (*unlock)(const struct lp_call *c))
{
    if (__builtin_expect(!lp_lifecycle_check(), 0))
        return unlock(c);
    struct lp_guard g;
    lp_guard_enter(&g);
    struct lp_weight wt;
    bool picked = lp_event_release_charge_armed(c->obj, arm, &wt);
    lp_guard_call(&g);
    long rc = unlock(c);
    lp_guard_return(&g);
    if (picked && rc == 0)
        lp_event_record_charge(c->leaf, &wt, NULL);
    lp_guard_leave(&g);
    return rc;
}

#endif
