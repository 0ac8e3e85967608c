/*
 * locktab.h — per-lock charge state (charge.h) for the locks that have waiters right now.
 *
 * A lock has an entry only while it has registered waiters or pending time (DESIGN §3.3), so
 * the table stays small however many locks a program has. (Keeping idle entries across
 * hand-offs was tried: once it stopped biasing the sampled releases, see unit_locktab.t, it no
 * longer measured faster, and it is not done.)
 *
 * The table is striped: a lock's address picks one stripe, whose guard (an lp_lock) protects
 * that stripe's few slots, and every timestamp of an operation on the lock is read under that
 * guard, which is what keeps the charge non-negative. A full stripe is not an error: the waiter
 * is not registered, its wait still goes to the block profile, and lp_locktab_stats counts it.
 *
 * lp_locktab_busy() is the release path's gate: false when no lock anywhere has an entry, in
 * which case an unlock does nothing else (no hashing, no clock). lp_locktab_may_have(lock)
 * narrows it to the lock's stripe, through one byte per stripe: an unlock of an uncontended
 * lock while other locks have waiters costs a multiply and a byte load (measured before it:
 * 1.33x the floor per uncontended pair, the whole unlock path taken). The same byte says
 * whether any entry in the stripe has work for its next release (lp_locktab_hint): most
 * releases of a contended lock have none, and end there.
 *
 * Context: any thread; not signal handlers. Memory: one mmap at lp_locktab_init.
 */
#ifndef LP_LOCKTAB_H
#define LP_LOCKTAB_H

#include <stdbool.h>
#include <stdint.h>

struct lp_waiter {
    const void *lock;
    uint64_t start;   /* when the wait began (clock read under the guard when registered) */
    uint64_t e;       /* the registration time of charge.h */
    bool registered;
};

enum lp_wait_outcome {
    LP_ACQUIRED,      /* got the lock (or the semaphore token…) */
    LP_GAVE_UP,       /* timed out, or cancelled: what it waited is owed by the next release */
    LP_NOT_A_WAIT,    /* failed without sleeping (EINVAL, EDEADLK, …): forget it */
};

struct lp_locktab_stats {
    uint64_t not_registered; /* waiters that found their stripe full */
    uint64_t live;           /* entries in use now */
    uint64_t slow_waits;     /* waits for a stripe's guard longer than LP_SLOW_WAIT_NS */
};

/* stripes: a power of two (rounded up); 0 or -ENOMEM. Call once, before any wrapper is live. */
int lp_locktab_init(unsigned stripes);

/* Starts a wait on lock. With charge, registers a waiter (reading the clock under the guard);
 * otherwise only reads the clock. Sets w->start. arm: the fraction the lock's first release is
 * picked at if this creates its entry, or 0 (charge.h: sampled releases). */
void lp_locktab_wait_begin(struct lp_waiter *w, const void *lock, bool charge, uint64_t arm);
/* Ends it; returns the time it ended (read under the guard when registered). */
uint64_t lp_locktab_wait_end(struct lp_waiter *w, enum lp_wait_outcome outcome);

/* A release of lock, sampled (charge.h): true when it is picked and is a charge event (the lock
 * had waiters or pending time), with its charge and the fraction it was picked at. arm: the
 * fraction the next release is picked at, or 0. Takes the guard and reads the clock only for a
 * picked release, one that arms the next, or one that is owed time by waiters that gave up. */
bool lp_locktab_release(const void *lock, uint64_t arm, uint64_t *charge, uint64_t *fraction);
/* Charges nobody for the waits of lock up to now (a process-shared lock taken after a release
 * this process never saw): its entry, if any, restarts from now. */
void lp_locktab_rebase(const void *lock);

static inline bool lp_locktab_busy(void)
{
    extern uint64_t lp_locktab_live_;
    return __atomic_load_n(&lp_locktab_live_, __ATOMIC_RELAXED) != 0;
}

/* The stripe of a lock (also the index of its byte in lp_locktab_hint_). */
static inline uint64_t lp_locktab_stripe_index(const void *lock)
{
    extern uint64_t lp_locktab_mask_;
    uint64_t h = ((uintptr_t)lock >> 3) * 0x9E3779B97F4A7C15ULL;
    return (h >> 40) & lp_locktab_mask_;
}

/* The stripe hint of lock (one byte per stripe, written under the stripe's guard, read
 * relaxed): 0 when no lock in lock's stripe has an entry (or none anywhere); else
 * LP_LOCKTAB_USED, with LP_LOCKTAB_DUE when some entry there has work for its next release
 * (it is armed, or owed by waiters that gave up, charge.h). A release that finds no DUE and
 * does not arm the next does nothing, and need not look further (lp_locktab_release).
 * Relaxed, as lp_locktab_release's peek: a waiter registering concurrently is one this
 * release could not have made wait. */
#define LP_LOCKTAB_USED 1u
#define LP_LOCKTAB_DUE 2u
static inline unsigned lp_locktab_hint(const void *lock)
{
    extern uint64_t lp_locktab_live_;
    extern uint8_t *lp_locktab_hint_;
    if (__atomic_load_n(&lp_locktab_live_, __ATOMIC_RELAXED) == 0)
        return 0;
    return __atomic_load_n(&lp_locktab_hint_[lp_locktab_stripe_index(lock)], __ATOMIC_RELAXED);
}

/* False when lock has no entry: neither any lock, nor any in its stripe. */
static inline bool lp_locktab_may_have(const void *lock)
{
    return lp_locktab_hint(lock) != 0;
}

void lp_locktab_stats(struct lp_locktab_stats *s);
/* After fork, in the child: the parent's waiters do not exist here. Every entry is dropped
 * and every guard is free again (sync.h: the guards are reset, not taken, at fork). */
void lp_locktab_atfork_child(void);

#endif
