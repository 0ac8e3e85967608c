/*
 * sync.h — lockprof's own locks and wake-ups, on raw futexes.
 *
 * lockprof's locks must never be the interposed pthread ones (DESIGN §6), and the fatal-signal
 * path may only wake and wait on futexes (no descriptors on a signal path), so both are here.
 * lp_lock is Drepper's three-state futex mutex: 0 free, 1 locked, 2 locked with sleepers.
 * All functions are safe from any thread; lp_futex_wake_sigsafe and lp_futex_wait_sigsafe are
 * safe in a signal handler. Nothing here reads errno-visible state: errno is preserved.
 *
 * Lock order (STYLE: declared once). Every lock lockprof owns, in the order a thread may take
 * them:
 *   1. the writer's lock (writer.c): one profile, snapshot or view written at a time;
 *   2. the mapping registry's lock (maps.c), taken under the writer's when it writes; the
 *      loader's lock (dl_iterate_phdr) is taken under it, never the other way round;
 *   3. the CPU profile's drain lock (cpuprof.c): one thread at a time empties the ring into the
 *      stack table, under the writer's lock or under none (lockprof's thread);
 *   4. the CPU profile's timer table lock (cputimer.c): by a thread the program starts
 *      (pthread_create's wrapper arms it), lockprof's thread's scans, exec, alone; under the
 *      writer's only to count the timers for a profile's comments.
 * None is taken on the path of a contended lock or of a recorded event, nor in a signal
 * handler (the CPU profile's handler takes none); 1 and 2 only to write a profile or to name
 * the loaded objects (at a dlclose), 3 to record the CPU profile's samples. A fork takes
 * none (it would wait for a profile being written): a new process frees them before it first
 * uses them, and forgets a write that was in progress at the fork (writer.h); the registry is
 * usable whatever the fork interrupted (maps.c). The lock table (locktab.c) takes no lock:
 * each entry is one 16-byte word replaced by compare-and-swap, so a program's thread never
 * waits there for another one, and a fork child, which drops every entry (its parent's
 * waiters are not its own), finds no operation half-done that it would have to finish. The
 * stack table, the in-flight table, the descriptor cache, the unwinder's rule cache and the
 * CPU profile's ring take no lock either (atomics); the stack table's one wait, on a slot
 * another thread is filling, is a spin, counted and timed (stacktab.h).
 *
 * lp_lock counts the times it had to sleep, and for how long (lp_sync_stats): every profile
 * says so, so that a wait of the program on a lock of lockprof's is never hidden.
 */
#ifndef LP_SYNC_H
#define LP_SYNC_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t word; /* atomic: 0 free, 1 locked, 2 locked and contended */
} lp_lock_t;

#define LP_LOCK_INIT { 0 }

/* A recording thread's wait on anything of lockprof's that lasts longer than this is counted
 * apart (none may wait 50 us on what the writer holds; the writer takes none of the stack
 * table's slots, so these count waits on other recorders). */
#define LP_SLOW_WAIT_NS 50000

/* The sleeps of lp_lock on a lock another thread held past its spins: how many, how long in
 * all (any thread, lockprof's own included). */
struct lp_sync_stats {
    uint64_t sleeps;
    uint64_t sleep_ns;
};
void lp_sync_stats(struct lp_sync_stats *s);

void lp_lock_slow(lp_lock_t *l);
void lp_unlock_slow(lp_lock_t *l);

/* How many of lockprof's locks the calling thread holds or is taking (interpose/jump.c: a
 * siglongjmp out of lockprof's code that holds one leaves the thread's guard raised rather than
 * let the thread take the lock again). */
extern __thread uint32_t lp_sync_held_ __attribute__((tls_model("initial-exec")));

static inline void lp_lock(lp_lock_t *l)
{
    uint32_t expected = 0;
    lp_sync_held_++; /* counted from before the lock is taken until after it is given back */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (!__atomic_compare_exchange_n(&l->word, &expected, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        lp_lock_slow(l);
}

static inline bool lp_trylock(lp_lock_t *l)
{
    uint32_t expected = 0;
    lp_sync_held_++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (!__atomic_compare_exchange_n(&l->word, &expected, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED)) {
        lp_sync_held_--;
        return false;
    }
    return true;
}

static inline void lp_unlock(lp_lock_t *l)
{
    if (__atomic_exchange_n(&l->word, 0, __ATOMIC_RELEASE) == 2)
        lp_unlock_slow(l);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    lp_sync_held_--;
}

/* After fork, in the child: the lock is free whoever held it in the parent (and the child's
 * thread sets lp_sync_held_ to 0: it holds none). */
static inline void lp_lock_reset(lp_lock_t *l)
{
    __atomic_store_n(&l->word, 0, __ATOMIC_RELAXED);
}

/* Waits while *word == val, at most timeout_ns (0: forever). 0, -ETIMEDOUT, -EAGAIN, -EINTR. */
int lp_futex_wait_sigsafe(uint32_t *word, uint32_t val, uint64_t timeout_ns);
void lp_futex_wake_sigsafe(uint32_t *word, int nwake);

#endif
