/*
 * waitgraph.h — deadlocks among the waits in progress, for the threads view (threads.h).
 *
 * A waiting thread waits for at most one holder (a mutex's owner, a rwlock's writer), so the
 * waits-for graph has out-degree ≤ 1 and its cycles are found by walking it once; a thread
 * waiting for a lock it holds itself is a cycle of one. A cycle seen on one look is only a
 * candidate: a thread that has just acquired its lock still has its in-flight entry for a few
 * instructions and reads as waiting for a lock it holds. It is a deadlock when it holds up on
 * a second look at every member: the member sleeps in futex on a word inside its lock, the
 * lock's holder reads the same, and its in-flight entry, if it had one, is the same entry.
 *
 * Pure: the caller takes both looks (/proc, the lock words, the in-flight table) and hands
 * them in; nothing here reads the system, the clock or a global. Any thread, no allocation
 * (the caller's arrays).
 */
#ifndef LP_WAITGRAPH_H
#define LP_WAITGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inflight.h"

/* One thread, as the first look saw it. Nodes are in ascending thread id order, so that a
 * cycle is reported from its lowest thread id. */
struct lp_waitgraph_node {
    int holder;         /* the index of the node holding the lock this one waits for; -1: none
                         * (no lock with an owner, free, readers, unreadable, or a thread
                         * that is not one of the nodes) */
    int32_t holder_tid; /* that holder's thread id */
    uintptr_t lock;     /* the lock waited for, lock_size bytes (a mutex, a rwlock, a PI futex) */
    size_t lock_size;
    const struct lp_inflight_entry *entry; /* lockprof's entry for the wait; NULL: inferred */
};

/* The second look at one node. */
struct lp_waitgraph_look {
    bool in_futex;      /* it sleeps in futex(2) … */
    uintptr_t futex;    /* … on this word */
    int32_t holder_tid; /* the thread that holds its lock now; 0: no thread */
};

/* Takes the second look at node i. */
typedef void lp_waitgraph_look_fn(void *ctx, unsigned i, struct lp_waitgraph_look *look);

#define LP_WAITGRAPH_MAX_CYCLES 64

/* The candidate cycles among the n nodes: starts gets each one's lowest index, in the order
 * found, at most LP_WAITGRAPH_MAX_CYCLES (more are not reported); returns how many. walk: n
 * ints of scratch. */
unsigned lp_waitgraph_cycles(const struct lp_waitgraph_node *node, unsigned n, int *walk,
                             int *starts);

/* Takes the second look at the members of each candidate cycle (in the cycle's order, up to
 * the first that does not hold up) through look; again (nagain) is the in-flight table copied
 * after the first look. cycle_of (n ints) gets, for each node, the start of its deadlocked
 * cycle, or -1. Returns the number of deadlocks. */
unsigned lp_waitgraph_confirm(const struct lp_waitgraph_node *node, unsigned n,
                              const int *starts, unsigned nstarts,
                              const struct lp_inflight_entry *again, unsigned nagain,
                              lp_waitgraph_look_fn *look, void *ctx, int *cycle_of);

#endif
