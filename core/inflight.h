/*
 * inflight.h — the waits in progress right now, for the threads view (threads.h).
 *
 * A bounded table, mmapped once, of the waits that lockprof's wrappers know are waits before
 * they block (contended mutexes and rwlocks, condition variables, semaphores, queues with
 * nothing to receive): the waiting thread's id, the call (its leaf name), the object waited on
 * and when the wait began. lp_event_wait_begin enters a wait, lp_event_wait_end removes it.
 * A reader (the threads view, in lockprof's own thread) sees each entry whole or not at all (a
 * per-slot sequence count); a full table drops the entry and counts it.
 *
 * Open addressing keyed by the thread id: hash → slot, linear probe of at most
 * LP_INFLIGHT_PROBE slots, a slot claimed by one compare-and-swap of its control word
 * (thread id and sequence count together, so that claiming and marking "being written" are one
 * step). A thread waits in one call at a time, except that a signal handler may interrupt a
 * wait and wait itself: the nested wait simply takes another slot, and the reader keeps the
 * most recent.
 *
 * Cost: a hash of the thread id, a compare-and-swap and a few stores on the contended path
 * only, never on an uncontended lock; the end is one store.
 * Memory: 32 bytes a slot (4096 slots: 128 KiB, touched only where threads land).
 * Context: begin/end from any application thread, signal handlers included (lock-free, no
 * syscall); the snapshot and the reaping from any thread.
 */
#ifndef LP_INFLIGHT_H
#define LP_INFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#define LP_INFLIGHT_PROBE 16

struct lp_inflight_entry {
    int32_t tid;
    const char *leaf;     /* the interposed call, e.g. "pthread_mutex_lock" (a static string) */
    const void *object;   /* the mutex, rwlock, condition variable, semaphore, … or NULL */
    uint64_t start_ns;    /* when the wait began, lp_now() or lp_now_nofence() (0: no clock) */
    uint32_t slot, seq;   /* where it was and its sequence count then (lp_inflight_reap) */
};

/* slots: a power of two (rounded up). 0 or -ENOMEM. Before any wrapper is live. */
int lp_inflight_init(unsigned slots);
/* The number of slots (0 before init): the most a snapshot can return. */
unsigned lp_inflight_capacity(void);
/* Enters this thread's wait; returns a handle for lp_inflight_end, or -1 if the table is full
 * (or not mapped). */
int lp_inflight_begin(int32_t tid, const char *leaf, const void *object, uint64_t start_ns);
/* Ends it (handle -1: nothing). Only the thread that began it. */
void lp_inflight_end(int handle);
/* Copies the entries in progress into out (at most max); returns how many. *dropped (may be
 * NULL) gets the number of waits the table had no room for, since start. */
unsigned lp_inflight_snapshot(struct lp_inflight_entry *out, unsigned max, uint64_t *dropped);
/* Frees e's slot if it still holds exactly that entry. Only for an entry whose thread is known
 * to have exited inside its wait (cancelled in sem_wait, pthread_exit from a signal handler):
 * nobody else will end it. True when freed. */
bool lp_inflight_reap(const struct lp_inflight_entry *e);
/* After fork, in the child: only the forking thread exists, and it is not waiting. */
void lp_inflight_atfork_child(void);

#endif
