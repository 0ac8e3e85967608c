/*
 * locktab.h — per-lock charge state (charge.h) for the locks that have waiters right now, and
 * for futex words that had some (kept entries, below).
 *
 * A lock has an entry only while it has registered waiters or pending time (DESIGN §3.3), so
 * the table stays small however many locks a program has. (Keeping a mutex's idle entries
 * across hand-offs was tried: once it stopped biasing the sampled releases, see unit_locktab.t,
 * it no longer measured faster, and it is not done: every unlock of a lock with an entry looks
 * at it, contended or not.) The exception is a kept entry, asked for by a registration that
 * creates it (keep): it stays when its last waiter leaves, at rest (LIVE, no waiter, nothing
 * owed, no draw), until a registration for another lock finds its stripe full and frees it.
 * It is for a futex word (interpose/futex.c), whose releases are FUTEX_WAKE system calls that
 * look at the table anyway, and whose waiters come and go thousands of times a second when a
 * FUTEX_WAIT finds the word already changed (a spinning lock under contention): creating and
 * freeing the entry each time writes the table's shared counts on every one of those calls.
 * For sampling an entry at rest is no entry: a release finds nothing to charge and keeps no
 * draw, and the registration that ends the rest draws for the next release as a creation
 * does; so which entry at rest a claim frees does not matter. The price: a stripe that holds
 * an entry at rest says USED, so an unlock of another lock in it makes its draw (mutex.c),
 * and the table is not empty (lp_locktab_busy). So a release that draws for the next (one in
 * n) also frees the entries of its stripe that have been at rest for 10 ms: the words of a
 * lock no longer contended, or of memory the program has freed, do not stay in the way.
 *
 * The table is striped: a lock's address picks one stripe of a few slots. It takes no lock:
 * an entry's whole state is one 16-byte word (locktab.c says how it is packed), and every
 * operation on it — a waiter registering or leaving, a release, a rebase — loads that word,
 * reads the clock, and replaces the word with one compare-and-swap, starting again from the
 * word it found when another thread changed it first. So a thread of the program never waits
 * for another one inside lockprof, let alone sleeps: a failed compare-and-swap means another
 * thread's operation completed. The clock is read after the word is loaded and before the
 * swap that depends on it, so each operation's time is at least that of every operation
 * ordered before it on the same entry: that is what keeps the charge non-negative (charge.h).
 * A slot is claimed by a compare-and-swap on its key; two waiters that find no entry for the
 * same lock at the same moment may each claim one, and a release then applies to both: the
 * charge stays exact, since each entry is exact for its own waiters. A full stripe is not an
 * error: the waiter is not registered, its wait still goes to the block profile, and
 * lp_locktab_stats counts it.
 *
 * lp_locktab_busy() is the release path's gate: false when no lock anywhere has an entry, in
 * which case an unlock does nothing else (no hashing, no clock). lp_locktab_may_have(lock)
 * narrows it to the lock's stripe, through one word per stripe: an unlock of an uncontended
 * lock while other locks have waiters costs a multiply and a load (measured before it: 1.33x
 * the floor per uncontended pair, the whole unlock path taken). The same word says whether
 * any entry in the stripe has work for its next release (lp_locktab_hint): most releases of a
 * contended lock have none, and end there.
 *
 * Context: any thread; not signal handlers. Memory: one mmap at lp_locktab_init; zero pages
 * are the empty table (lp_locktab_atfork_child relies on it).
 */
#ifndef LP_LOCKTAB_H
#define LP_LOCKTAB_H

#include <stdbool.h>
#include <stdint.h>

struct lp_waiter {
    const void *lock;
    uint64_t start;   /* when the wait began (the clock read for the registration) */
    uint64_t e;       /* the registration time of charge.h */
    uint32_t way;     /* the slot of its lock's stripe it is registered in */
    bool registered;
    /* The words its registration's swap replaced and put, when it was made on an entry that
     * existed (lp_locktab_wait_end's undo); after is 0 otherwise (a LIVE word never is). */
    unsigned __int128 before, after;
};

enum lp_wait_outcome {
    LP_ACQUIRED,      /* got the lock (or the semaphore token…) */
    LP_GAVE_UP,       /* timed out, or cancelled: what it waited is owed by the next release */
    LP_NOT_A_WAIT,    /* failed without sleeping (EINVAL, EDEADLK, …): forget it */
};

struct lp_locktab_stats {
    uint64_t not_registered; /* waiters that found their stripe full */
    uint64_t live;           /* entries in use now */
    uint64_t retries;        /* compare-and-swaps that found the word changed, and went again */
};

/* stripes: a power of two (rounded up); 0 or -ENOMEM. Call once, before any wrapper is live. */
int lp_locktab_init(unsigned stripes);

/* Starts a wait on lock. With charge, registers a waiter (reading the clock for it);
 * otherwise only reads the clock. Sets w->start. arm: the fraction the lock's first release is
 * picked at if this creates its entry, or 0 (charge.h: sampled releases). keep: an entry this
 * creates is kept when idle (above). */
void lp_locktab_wait_begin(struct lp_waiter *w, const void *lock, bool charge, uint64_t arm,
                           bool keep);
/* Ends it; returns the time it ended (read for the leave when registered). LP_NOT_A_WAIT
 * needs no time, and returns 0 unless the clock was read anyway: when the waiter was not
 * registered, or when its registration, made on an entry that already existed (one at rest
 * included: most FUTEX_WAITs that find their word changed), is still the last thing that
 * happened to the entry, it is undone with no clock: the word it replaced is swapped back
 * (for a revival, at rest from the revival on). */
uint64_t lp_locktab_wait_end(struct lp_waiter *w, enum lp_wait_outcome outcome);

/* A release of lock, sampled (charge.h): true when it is picked and is a charge event (the lock
 * had waiters or pending time), with its charge and the fraction it was picked at. arm: the
 * fraction the next release is picked at, or 0. Writes the entry and reads the clock only for
 * a picked release, one that arms the next, or one that is owed time by waiters that gave up. */
bool lp_locktab_release(const void *lock, uint64_t arm, uint64_t *charge, uint64_t *fraction);
/* Charges nobody for the waits of lock up to now (a process-shared lock taken after a release
 * this process never saw): its entry, if any, restarts from now. */
void lp_locktab_rebase(const void *lock);

static inline bool lp_locktab_busy(void)
{
    extern uint64_t lp_locktab_live_;
    return __atomic_load_n(&lp_locktab_live_, __ATOMIC_RELAXED) != 0;
}

/* The stripe of a lock (also the index of its word in lp_locktab_hint_). */
static inline uint64_t lp_locktab_stripe_index(const void *lock)
{
    extern uint64_t lp_locktab_mask_;
    uint64_t h = ((uintptr_t)lock >> 3) * 0x9E3779B97F4A7C15ULL;
    return (h >> 40) & lp_locktab_mask_;
}

/* The stripe hint of lock: 0 when no lock in lock's stripe has an entry (or none anywhere);
 * else LP_LOCKTAB_USED, with LP_LOCKTAB_DUE when some entry there has work for its next release
 * (it is armed, or owed by waiters that gave up, charge.h). A release that finds no DUE and
 * does not arm the next does nothing, and need not look further (lp_locktab_release).
 * The word behind it holds two counts, kept with atomic adds (locktab.c): slots claimed in the
 * stripe (LOCKTAB_HINT_USED_ONE) and entries due there (LOCKTAB_HINT_DUE_ONE), each raised
 * before the change it covers and lowered after, so a count is never below what it counts.
 * Read relaxed, as lp_locktab_release's peek: a waiter registering concurrently is one this
 * release could not have made wait. */
#define LP_LOCKTAB_USED 1u
#define LP_LOCKTAB_DUE 2u
static inline unsigned lp_locktab_hint(const void *lock)
{
    extern uint64_t lp_locktab_live_;
    extern uint32_t *lp_locktab_hint_;
    if (__atomic_load_n(&lp_locktab_live_, __ATOMIC_RELAXED) == 0)
        return 0;
    uint32_t h = __atomic_load_n(&lp_locktab_hint_[lp_locktab_stripe_index(lock)],
                                 __ATOMIC_RELAXED);
    if (h == 0)
        return 0;
    return LP_LOCKTAB_USED | (h >> 16 ? LP_LOCKTAB_DUE : 0u);
}

/* False when lock has no entry: neither any lock, nor any in its stripe. */
static inline bool lp_locktab_may_have(const void *lock)
{
    return lp_locktab_hint(lock) != 0;
}

void lp_locktab_stats(struct lp_locktab_stats *s);
/* After fork, in the child: the parent's waiters do not exist here. Every entry is dropped:
 * the table's pages are given back, and zero pages are the empty table. */
void lp_locktab_atfork_child(void);

#endif
