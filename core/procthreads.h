/*
 * procthreads.h — what the kernel and the lock words say about this process's threads, for
 * the threads view (threads.h): the thread ids, each thread's name, state and the system call
 * it sleeps in, and the holder of a mutex, a rwlock or a priority-inheritance futex.
 *
 * Sources:
 *   - /proc/self/task: the ids; /proc/self/task/TID/stat: name and kernel state;
 *     /proc/self/task/TID/syscall: the system call a thread sleeps in (readable for the
 *     process's own threads by any user, unlike another process's);
 *   - the lock words (glibc 2.36 x86-64, ABI-public fields), copied with process_vm_readv on
 *     the own pid so that a lock freed meanwhile reads as an error, not a fault
 *     (/proc/self/mem where a seccomp policy refuses process_vm_readv):
 *       - a mutex (pthread_mutex_* and C11 mtx_*, the same object in glibc): __data.__owner,
 *         which glibc stores for every kind just after acquiring and clears before releasing;
 *         for robust and priority-inheritance kinds the kernel's own record instead, the tid
 *         in __lock (FUTEX_TID_MASK), with FUTEX_OWNER_DIED when the owner died holding it;
 *       - a priority-inheritance futex (FUTEX_LOCK_PI through syscall()): its word, as the
 *         kernel keeps it, the owner's tid and FUTEX_OWNER_DIED;
 *       - a rwlock: __data.__cur_writer (the writer, set once it holds the lock, cleared
 *         before it releases it); 0 with readers counted in __readers (bits 3 and up) and the
 *         write-phase bit (bit 0) clear means held by readers.
 *
 * Files are opened, read and closed through sys.h, never through lockprof's own wrappers.
 * Context: lockprof's own threads or an API caller; never a signal handler. No malloc: the
 * id list comes from the caller's arena, everything else from the stack.
 */
#ifndef LP_PROCTHREADS_H
#define LP_PROCTHREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

/* Who holds a lock, as its words read. */
enum lp_held {
    LP_HELD_NA,         /* not a lock with an owner (condition variable, semaphore, queue, …) */
    LP_HELD_THREAD,     /* holder: a tid */
    LP_HELD_READERS,    /* an rwlock held by readers (holder: how many) */
    LP_HELD_NOBODY,     /* free right now: the waiter is about to get it */
    LP_HELD_OWNER_DIED, /* robust mutex whose owner died holding it */
    LP_HELD_UNKNOWN,    /* cannot tell (the lock is unreadable, or between two states) */
};

/* The ids of this process's threads, ascending, in *tids (the arena's). 0, or -errno when
 * /proc/self/task cannot be opened (-ENOMEM: the arena); a listing cut short by an error
 * gives the ids read until then. */
int lp_procthreads_list(struct lp_arena *a, int32_t **tids, unsigned *count);

/* Name (up to 16 bytes, not NUL-terminated: *name_len) and kernel state letter of thread
 * tid. False: the thread is gone. */
bool lp_procthreads_stat(int32_t tid, char name[16], uint8_t *name_len, char *kstate);

/* The system call thread tid sleeps in, with its first three arguments in args; -1 when it
 * sleeps in none (running, blocked outside a system call, unreadable: args untouched). */
long lp_procthreads_syscall(int32_t tid, unsigned long long args[3]);

/* Is (nr, args) a futex wait as glibc's lll_lock_wait does it, for the non-robust, non-PI
 * mutex kinds: futex(addr, FUTEX_WAIT[_BITSET], 2)? */
bool lp_procthreads_lock_wait(long nr, const unsigned long long args[3]);

/* The number (base 10, or 16 with an optional 0x) at *p, which is moved past it: for /proc's
 * files. Wraps rather than fails on too many digits. */
unsigned long long lp_procthreads_parse_ull(const char **p, int base);

/* Copies n bytes at addr of this process; false (never a fault) when they are unreadable. */
bool lp_procthreads_read_mem(const void *addr, void *out, size_t n);

/* The holder of the mutex or rwlock at lock: *holder is a tid (LP_HELD_THREAD) or a reader
 * count (LP_HELD_READERS), untouched otherwise. */
void lp_procthreads_mutex_holder(const void *lock, enum lp_held *held, int32_t *holder);
void lp_procthreads_rwlock_holder(const void *lock, enum lp_held *held, int32_t *holder);
/* The owner of the priority-inheritance futex word at word. */
void lp_procthreads_pi_holder(const void *word, enum lp_held *held, int32_t *holder);

/* The owner of the mutex at addr if its words read like a mutex of the plain kinds that a
 * thread waits for in glibc's lll_lock_wait (lock word 2, an owner set); else 0. */
int32_t lp_procthreads_waited_owner(const void *addr);

#endif
