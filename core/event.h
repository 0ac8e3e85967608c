/*
 * event.h — one event's way through lockprof: clock → sampler → unwinder → table (DESIGN §7).
 *
 * The wrappers in interpose/ call these, in this order, for a contended acquisition:
 *     lp_event_wait_begin   (before blocking: reads the rates, unwinds, registers the waiter)
 *     … the real call …
 *     lp_event_wait_end     (deregisters; samples and records the wait in the block profile)
 * and for a release:
 *     lp_event_release_charge   (before the real unlock: samples; O(1), and writes the lock's
 *                                entry only for a release that is picked or draws the next)
 *     … the real unlock …
 *     lp_event_record_charge    (after it, when picked: unwinds, records in the mutex profile)
 * so nothing slow (unwinding, hashing a stack, table inserts) happens while the program's
 * lock is held for the program, except where the program holds it across the call itself
 * (pthread_cond_wait is entered and left holding its mutex: it unwinds only what it records).
 *
 * Per-thread state (lp_self) is initial-exec TLS. Its busy counter is the re-entrancy guard:
 * calls made by lockprof itself, libunwind included, pass straight through.
 * Context: any application thread; never lockprof's own threads (they are always busy).
 */
#ifndef LP_EVENT_H
#define LP_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "families.h"
#include "locktab.h"
#include "rates.h"
#include "sample.h"
#include "stack.h"
#include "stacktab.h"

struct lp_thread {
    uint32_t busy;      /* re-entrancy depth: non-zero inside lockprof */
    int32_t tid;        /* cached gettid(), 0 until first use (reset in a fork child) */
    struct lp_rng rng;  /* seeded on first use */
    uint32_t in_unwind; /* inside libunwind (interpose/unwind.c guards its descriptors) */
    uintptr_t busy_at;  /* an address in the frame where busy last rose from 0; 0: unknown
                           (interpose/jump.c: a siglongjmp out of lockprof's code) */
};

extern __thread struct lp_thread lp_self __attribute__((tls_model("initial-exec")));

#define LP_LEAF_OWNER_DIED "lockprof::owner_died"

/* The calling thread's id, cached in lp_self. Read from the thread's descriptor when
 * lp_event_thread_descriptor gave its place (no system call), else from gettid. */
int32_t lp_thread_tid(void);
void lp_event_thread_descriptor(size_t offset);
/* In a new process: keeps the descriptor's place if the calling thread's descriptor holds its
 * own id there (glibc's fork updates it; a raw clone leaves the parent's), else forgets it. */
void lp_event_thread_descriptor_recheck(void);
/* The calling thread's id as its descriptor holds it, uncached; 0 when the place is unknown.
 * No system call, no call into libc: for a fork handler. */
int32_t lp_event_descriptor_tid(void);

struct lp_wait {
    struct lp_waiter w;
    const char *leaf;
    enum lp_family_id family; /* which family's count a wait adds to (families.h) */
    uint64_t rate;       /* the block rate read once for this event */
    uintptr_t *pcs;      /* the stack: buf, or a deeper buffer in the caller's frame */
    unsigned depth;
    bool truncated;
    bool have_stack;
    int inflight;        /* the wait's entry in the in-flight table (inflight.h), or -1 */
    uintptr_t buf[LP_STACK_BUF(LP_INLINE_DEPTH)];
};

/* charge_lock: the lock whose holder makes us wait (registers a waiter when the mutex profile
 * is on), or NULL for waits that nobody is charged for (condition variables, semaphores,
 * queues, …). object: what the wait is on, for the threads view (the lock, the condition
 * variable, the semaphore, a queue's descriptor or id cast to a pointer). The wait is entered
 * in the in-flight table (inflight.h) until lp_event_wait_end. */
void lp_event_wait_begin_buf(struct lp_wait *ev, const char *leaf, enum lp_family_id family,
                             const void *charge_lock, const void *object, bool unwind_now);
/* Points ev->pcs at the event's stack buffer: its own, or for a depth configured beyond
 * LP_INLINE_DEPTH one alloca'd in the frame of the function that expands this (never in TLS:
 * stack.h says why), valid until that function returns. */
#define LP_EVENT_STACK_BUF(ev)                                                                \
    do {                                                                                      \
        (ev)->pcs = (ev)->buf;                                                                \
        if (__builtin_expect(lp_stack_depth_ > LP_INLINE_DEPTH, 0))                           \
            (ev)->pcs = __builtin_alloca(LP_STACK_BUF(lp_stack_depth_) * sizeof(uintptr_t));  \
    } while (0)

/* Inlined into the wrapper, whose frame lasts as long as the wait. The stack is unwound now,
 * before the caller blocks (DESIGN §3.4: a lock's waiter holds nothing yet, and the cost
 * overlaps the wait). */
static inline __attribute__((always_inline)) void
lp_event_wait_begin_obj(struct lp_wait *ev, const char *leaf, enum lp_family_id family,
                        const void *charge_lock, const void *object)
{
    LP_EVENT_STACK_BUF(ev);
    lp_event_wait_begin_buf(ev, leaf, family, charge_lock, object, true);
}
/* The same, registered now but unwound by lp_event_wait_end, and by lp_event_record_charge,
 * only for a wait or a charge that is recorded. For a wait entered holding a lock that it
 * gives back only inside the real call (pthread_cond_wait and its mutex), an unwind before the
 * call would lengthen that critical section on every wait; for one that holds nothing before
 * or after its call (a futex word's FUTEX_WAIT: the caller takes the lock, if any, only after
 * it returns), it would overlap nothing when the wait is short (a hand-off between two threads
 * on one CPU pays it in full), and most short waits are not recorded at all. */
static inline __attribute__((always_inline)) void
lp_event_wait_begin_late(struct lp_wait *ev, const char *leaf, enum lp_family_id family,
                         const void *charge_lock, const void *object)
{
    LP_EVENT_STACK_BUF(ev);
    lp_event_wait_begin_buf(ev, leaf, family, charge_lock, object, false);
}
/* The same, for a lock that is both what is waited on and what is charged. */
static inline void lp_event_wait_begin(struct lp_wait *ev, const char *leaf,
                                       enum lp_family_id family, const void *lock)
{
    lp_event_wait_begin_obj(ev, leaf, family, lock, lock);
}
/* Ends the wait; records it in the block profile unless outcome is LP_NOT_A_WAIT. Returns
 * when it ended (for LP_NOT_A_WAIT, possibly 0: lp_locktab_wait_end). */
uint64_t lp_event_wait_end(struct lp_wait *ev, enum lp_wait_outcome outcome);
/* Ends a wait that is not recorded: the thread was cancelled inside the call, so
 * lp_event_wait_end never ran. Its in-flight entry goes, and a registered waiter leaves the
 * lock's entry as one that gave up. */
void lp_event_wait_drop(struct lp_wait *ev);

/* This thread's generator, seeded on first use (lp_event_rng_init). */
void lp_event_rng_init(void);
static inline struct lp_rng *lp_event_rng(void)
{
    if (__builtin_expect(lp_self.rng.s == 0, 0))
        lp_event_rng_init();
    return &lp_self.rng;
}
/* The draw of charge.h's sampled releases, made by every release of a lock that may have an
 * entry: the mutex fraction in force if the next release of the lock is to be picked, else 0.
 * Inline: most releases of a contended lock end with this draw (lp_event_release_quiet). */
static inline uint64_t lp_event_arm(void)
{
    uint64_t fraction = lp_rates_fraction();
    if (fraction <= 1)
        return fraction; /* 0: off; 1: every release picked, no draw */
    return lp_sample_mutex_pick(lp_event_rng(), fraction) ? fraction : 0;
}
/* True when a release has nothing to do: no entry in its lock's stripe is armed or owed
 * (hint: lp_locktab_hint of the lock) and its own draw (arm) does not arm the next. */
static inline bool lp_event_release_quiet(unsigned hint, uint64_t arm)
{
    return !(hint & LP_LOCKTAB_DUE) && arm == 0;
}
/* A release of lock, before the real one, at the mutex fraction in force: true when the release
 * is picked (one in n, charge.h: the draw is made one release early) and had something to
 * charge, with its weight in *wt for lp_event_record_charge after the real release. Most
 * releases of a lock with waiters write nothing and read no clock. _armed: with the release's
 * draw already made (lp_event_arm). */
bool lp_event_release_charge_armed(const void *lock, uint64_t arm, struct lp_weight *wt);
static inline bool lp_event_release_charge(const void *lock, struct lp_weight *wt)
{
    return lp_event_release_charge_armed(lock, lp_event_arm(), wt);
}
/* A process-shared lock acquired after a release in another process: the waits here so far
 * are charged to no one (DESIGN §3.3). */
void lp_event_release_unseen(const void *lock);
/* Records a picked charge at leaf and the caller's stack (unwound here unless ev already holds
 * one: pthread_cond_wait charges at the stack it unwound for its own wait). */
void lp_event_record_charge(const char *leaf, const struct lp_weight *wt, struct lp_wait *ev);
/* Records a picked charge at a synthetic stack (lockprof::owner_died). */
void lp_event_record_charge_synthetic(const char *leaf, const struct lp_weight *wt);

/*
 * Waits measured around a call that has no "try" (read, join, barrier wait, …, DESIGN §2): the
 * call was a wait when it lasted at least lp_wait_threshold_ns_, a small multiple of a null
 * syscall measured by lp_event_calibrate (a call that returns at once never waits): once, by the
 * first timed call (the threshold is 0 until then, so that call reaches lp_event_pick_wait),
 * or earlier by lockprof itself when its system calls are about to be restricted.
 * Nothing is registered (nobody is charged for these waits), and the stack is unwound after
 * the call returned: it is the same stack. The wrapper reads lp_now_nofence() before and after.
 */
extern uint64_t lp_wait_threshold_ns_;
void lp_event_calibrate(void); /* once; later calls return at once */
static inline bool lp_event_is_wait(uint64_t start, uint64_t end)
{
    uint64_t threshold = __atomic_load_n(&lp_wait_threshold_ns_, __ATOMIC_RELAXED);
    return lp_clock_elapsed(start, end) >= threshold;
}
/* A timed call [start, end), in two steps, so that a caller with checks of its own that cost
 * more than sampling makes them only for what is picked: whether the call is a wait picked at
 * the block rate in force (its weight in *wt), then its recording at leaf, at the caller's
 * stack, counted as a wait of family. */
bool lp_event_pick_wait(uint64_t start, uint64_t end, struct lp_weight *wt);
void lp_event_record_picked(const char *leaf, enum lp_family_id family,
                            const struct lp_weight *wt);

/* After fork, in the child. */
void lp_event_atfork_child(void);

#endif
