/*
 * threadsview.h — the threads view's renderers, text and JSON, and the view they render:
 * every thread of the process as threads.c found it (threads.h). The formats below are their
 * contract with the people and programs that read them (lockprof(3), "The threads view").
 *
 * Text, one line each, fields separated by single spaces:
 *
 *   lockprof threads: pid PID, N threads, W waiting, at YYYY-MM-DDTHH:MM:SSZ
 *   deadlock: TID "NAME" waits for KIND 0xLOCK held by TID "NAME"[, TID "NAME" waits for …]
 *   note: TEXT
 *   thread TID "NAME" STATE [in CALL] [on OBJ] [for SECONDS s] [held by HOLDER]
 *
 * W counts the blocked threads. A deadlock line per cycle of waits (waitgraph.h), right after
 * the first line: from its lowest TID, each member followed by the thread holding its lock
 * (a thread waiting for a lock it holds is a cycle of one); KIND is mutex, rwlock or futex (a
 * priority-inheritance futex waited on through syscall()). note
 * lines: waits are not tracked (both rates 0), and how many waits the in-flight table had no
 * room for since start. Then a line per thread, ascending TID, where STATE is
 *   blocked   lockprof saw this wait begin: CALL the interposed call (? if unknown), OBJ the
 *             object (0x… an address; mqd N, msqid N for queues), SECONDS the wait so far
 *             (6 decimals; absent when the wait has no start time);
 *   sleeping  the kernel's state S or D;
 *   running, stopped, zombie, dead, other: the kernel's state;
 *   lockprof  one of lockprof's own threads (named "lockprof" or "lockprof-…"): no more.
 * Any other thread of the program that is not running and not the one writing the view
 * shows the system call it is in, with its main argument and no "on": in futex(0x…), in
 * read(fd 3), in msgrcv(msqid N), in nanosleep, or in syscall NR for one without a name.
 * HOLDER, for a mutex, rwlock or priority-inheritance futex whose words could be read: TID "NAME", TID (no such thread)
 * when that thread is not one of this process's (a process-shared lock, or it exited),
 * readers (N), nobody, or nobody (owner died). A sleeping thread has it only when its lock
 * was inferred: glibc's lock wait in futex on a plain mutex owned by one of the threads.
 * Names are quoted; " and \ are escaped with \, other bytes outside printable ASCII are \xHH.
 * Of nested waits (a signal handler that waits), the innermost is shown.
 *
 * JSON, one line, in this key order, every key present (null when it does not apply):
 *
 *   {"pid":PID,"time":"YYYY-MM-DDTHH:MM:SSZ","tracking":BOOL,"dropped":N,
 *    "deadlocks":[[{"tid","name","lock","object","holder","inferred"},…],…],
 *    "threads":[{"tid","name","state","kstate","blocked_in","object","waiting_ns","held",
 *                "holder","holder_name","inferred","syscall","nested"},…]}
 *
 * The values are the text's: "tracking" false when waits are not tracked, "dropped" the note's
 * count; a deadlock member's "lock" is KIND, "object" 0xLOCK, "holder" the holder's TID;
 * "kstate" the kernel's state letter, "blocked_in" CALL (a system call without its argument;
 * null for ?), "object" OBJ or the system call's argument, "waiting_ns" the wait so far in
 * nanoseconds, "held" thread, readers, nobody, owner_died or unknown, "holder" a thread's TID
 * (held is thread), "holder_name" its name when it is one of the threads, "inferred" true
 * when the lock was inferred, "syscall" the system call's number, "nested" how many other
 * waits the thread has in flight. Names are JSON strings: valid UTF-8 passes through, any
 * other byte is the code point of the same value (\u00XX).
 *
 * Context: any thread, not a signal handler; writes only to the sink, allocates nothing.
 */
#ifndef LP_THREADSVIEW_H
#define LP_THREADSVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "inflight.h"
#include "procthreads.h"
#include "sink.h"

/* What a wait is on, from its interposed call. */
enum lp_lock_kind { LP_LOCK_OTHER, LP_LOCK_MUTEX, LP_LOCK_RWLOCK, LP_LOCK_QUEUE_MQ,
                    LP_LOCK_QUEUE_MSG, LP_LOCK_FUTEX_PI };

/* One thread. The view is built by one thread (threads.c) and read-only once rendered. */
struct lp_threadsview_thread {
    int32_t tid;
    char kstate;            /* the kernel's state letter */
    bool own;               /* one of lockprof's threads */
    bool inferred;          /* the lock and holder come from the futex, not lockprof */
    uint8_t name_len;
    char name[16];
    long sys;               /* the system call it sleeps in; -1 none, -2 not read */
    unsigned long long args[3];
    const struct lp_inflight_entry *wait; /* the innermost wait lockprof knows of, or NULL */
    unsigned nested;        /* other waits in flight under it */
    enum lp_lock_kind kind;
    const void *lock;       /* what the holder was read from (mutex, rwlock, PI futex), else
                             * NULL */
    enum lp_held held;
    int32_t holder;         /* a tid (LP_HELD_THREAD), a count (LP_HELD_READERS) */
    int holder_idx;         /* its index in the view, or -1 */
};

struct lp_threadsview {
    int pid;
    int64_t realtime;       /* when the view was taken: ns since the epoch … */
    uint64_t now;           /* … and lp_now(), the clock of the waits' start_ns */
    bool tracking;          /* waits are tracked (a rate is not 0) */
    uint64_t dropped;       /* waits the in-flight table had no room for, since start */
    struct lp_threadsview_thread *th; /* ascending tid */
    unsigned n;
    unsigned waiting;       /* threads in a wait lockprof knows of */
    int *cycle_of;          /* per thread: the index of its deadlock's first member, or -1;
                             * NULL: no deadlock */
};

void lp_threadsview_text(struct lp_sink *s, const struct lp_threadsview *v);
void lp_threadsview_json(struct lp_sink *s, const struct lp_threadsview *v);

#endif
