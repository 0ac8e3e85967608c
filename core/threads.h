/*
 * threads.h — the threads view: every thread of the process, what it is blocked in right now,
 * on which object, for how long and, for a mutex or a write-held rwlock, which thread holds
 * it; waits in flight that form a cycle are reported as a deadlock at the top.
 * (/debug/pprof/threads, snapshot files PREFIX.snapshot-N.threads.txt, the C API.)
 *
 * Sources: /proc/self/task and the lock words themselves (procthreads.h), and the in-flight
 * table (inflight.h); deadlocks are the waits-for graph's cycles (waitgraph.h).
 *
 * Formats (specified in threadsview.h, shown in lockprof(3)): LP_THREADS_TEXT, a line format,
 * and LP_THREADS_JSON. lockprof's own threads (named "lockprof", "lockprof-…") are listed,
 * marked as lockprof's.
 * Context: lockprof's own threads, or an API caller; never a signal handler. No malloc: the
 * caller passes an arena (about 40 bytes per in-flight slot, twice that when there is a
 * cycle, and 140 per thread). It opens and reads two small /proc files per thread, and may
 * reap in-flight entries of exited threads.
 */
#ifndef LP_THREADS_H
#define LP_THREADS_H

#include "arena.h"

enum lp_threads_format { LP_THREADS_TEXT = 0, LP_THREADS_JSON = 1 };

/* Writes the view to fd. 0 or -errno (-ENOMEM: the arena is exhausted). */
int lp_threads_write(int fd, struct lp_arena *a, enum lp_threads_format format);

#endif
