/*
 * threads.c — see threads.h. The view is built in four steps, each from one source:
 *
 *   1. the in-flight table is copied first (inflight.h), then /proc/self/task is listed, so
 *      that an entry whose thread is missing from the listing belongs to a thread that exited
 *      inside its wait (cancelled in sem_wait, pthread_exit from a signal handler) — confirmed
 *      with tgkill(…, 0) and then reaped, since nobody else will ever end it;
 *   2. each thread's name and kernel state, and for a thread that is not running the system
 *      call it sleeps in (procthreads.h);
 *   3. the holder of each mutex, rwlock or PI futex waited on, from its words (procthreads.h).
 *      A thread lockprof has no entry for (rates 0, or the table was full) that sleeps in
 *      glibc's lll_lock_wait for a plain mutex owned by one of this process's threads is
 *      shown as held by that thread ("inferred");
 *   4. the cycles of the waits-for graph, each confirmed on a second look (waitgraph.h): the
 *      in-flight table copied again, and each member's system call and holder read again.
 *
 * Then one of the renderers (threadsview.h) writes it.
 */
#include "threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#include "clock.h"
#include "inflight.h"
#include "procthreads.h"
#include "rates.h"
#include "sink.h"
#include "sys.h"
#include "threadsview.h"
#include "waitgraph.h"

static enum lp_lock_kind threads_kind_of_leaf(const char *leaf)
{
    if (!leaf)
        return LP_LOCK_OTHER;
    if (strncmp(leaf, "pthread_mutex_", 14) == 0 || strncmp(leaf, "mtx_", 4) == 0)
        return LP_LOCK_MUTEX;
    if (strncmp(leaf, "pthread_rwlock_", 15) == 0)
        return LP_LOCK_RWLOCK;
    if (strncmp(leaf, "mq_", 3) == 0)
        return LP_LOCK_QUEUE_MQ;
    if (strcmp(leaf, "msgrcv") == 0)
        return LP_LOCK_QUEUE_MSG;
    if (strcmp(leaf, "futex_lock_pi") == 0) /* (interpose/futex.c) */
        return LP_LOCK_FUTEX_PI;
    return LP_LOCK_OTHER;
}

static void threads_read_holder(enum lp_lock_kind kind, const void *lock, enum lp_held *held,
                                int32_t *holder)
{
    if (kind == LP_LOCK_MUTEX)
        lp_procthreads_mutex_holder(lock, held, holder);
    else if (kind == LP_LOCK_RWLOCK)
        lp_procthreads_rwlock_holder(lock, held, holder);
    else if (kind == LP_LOCK_FUTEX_PI)
        lp_procthreads_pi_holder(lock, held, holder);
}

/* The kinds whose holder the lock's words name. */
static bool threads_has_holder(enum lp_lock_kind kind)
{
    return kind == LP_LOCK_MUTEX || kind == LP_LOCK_RWLOCK || kind == LP_LOCK_FUTEX_PI;
}

/* One of lockprof's own threads, by the names it gives them. */
static bool threads_own_name(const char *name, size_t len)
{
    return (len == 8 && memcmp(name, "lockprof", 8) == 0) ||
           (len > 9 && memcmp(name, "lockprof-", 9) == 0);
}

static int threads_find(const struct lp_threadsview_thread *th, unsigned n, int32_t tid)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (th[mid].tid == tid)
            return (int)mid;
        if (th[mid].tid < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The second look at thread i of the view (lp_waitgraph_look_fn). */
static void threads_look_again(void *ctx, unsigned i, struct lp_waitgraph_look *look)
{
    const struct lp_threadsview_thread *t = &((const struct lp_threadsview *)ctx)->th[i];
    unsigned long long args[3];
    if (lp_procthreads_syscall(t->tid, args) == SYS_futex) {
        look->in_futex = true;
        look->futex = (uintptr_t)args[0];
    }
    enum lp_held held = LP_HELD_NA;
    int32_t holder = 0;
    threads_read_holder(t->kind, t->lock, &held, &holder);
    look->holder_tid = held == LP_HELD_THREAD ? holder : 0;
}

/* Sets v->cycle_of when the waits hold a deadlock; none when the arena runs out. */
static void threads_find_deadlocks(struct lp_threadsview *v, struct lp_arena *a)
{
    unsigned n = v->n ? v->n : 1;
    struct lp_waitgraph_node *node = lp_arena_calloc(a, n, sizeof *node);
    int *walk = lp_arena_calloc(a, n, sizeof *walk);
    int *cycle_of = lp_arena_calloc(a, n, sizeof *cycle_of);
    if (!node || !walk || !cycle_of)
        return;
    for (unsigned i = 0; i < v->n; i++) {
        const struct lp_threadsview_thread *t = &v->th[i];
        node[i].holder = t->holder_idx;
        node[i].holder_tid = t->holder;
        node[i].lock = (uintptr_t)t->lock;
        node[i].lock_size = t->kind == LP_LOCK_RWLOCK     ? sizeof(pthread_rwlock_t)
                            : t->kind == LP_LOCK_FUTEX_PI ? sizeof(uint32_t)
                                                          : sizeof(pthread_mutex_t);
        node[i].entry = t->wait;
    }
    int starts[LP_WAITGRAPH_MAX_CYCLES];
    unsigned nstarts = lp_waitgraph_cycles(node, v->n, walk, starts);
    if (!nstarts)
        return;
    unsigned cap = lp_inflight_capacity(), nagain = 0;
    struct lp_inflight_entry *again = cap ? lp_arena_calloc(a, cap, sizeof *again) : NULL;
    if (again)
        nagain = lp_inflight_snapshot(again, cap, NULL);
    if (lp_waitgraph_confirm(node, v->n, starts, nstarts, again, nagain, threads_look_again, v,
                             cycle_of))
        v->cycle_of = cycle_of;
}

static int threads_build(struct lp_threadsview *v, struct lp_arena *a)
{
    unsigned cap = lp_inflight_capacity(), ne = 0;
    struct lp_inflight_entry *ent = NULL;
    if (cap) {
        ent = lp_arena_calloc(a, cap, sizeof *ent);
        if (!ent)
            return -ENOMEM;
        ne = lp_inflight_snapshot(ent, cap, &v->dropped);
    }
    v->pid = (int)lp_sys_getpid();
    v->now = lp_now();
    v->realtime = lp_clock_realtime();
    v->tracking = lp_rates_profiling();

    /* After the snapshot (see the header comment). */
    int32_t *tids;
    int err = lp_procthreads_list(a, &tids, &v->n);
    if (err)
        return err;
    v->th = lp_arena_calloc(a, v->n ? v->n : 1, sizeof *v->th);
    if (!v->th)
        return -ENOMEM;
    int32_t self = (int32_t)lp_sys_gettid();
    unsigned n = 0;
    for (unsigned i = 0; i < v->n; i++) {
        struct lp_threadsview_thread *t = &v->th[n];
        t->tid = tids[i];
        t->sys = -2;
        t->holder_idx = -1;
        if (lp_procthreads_stat(t->tid, t->name, &t->name_len, &t->kstate)) {
            t->own = threads_own_name(t->name, t->name_len);
            n++;
        } else {
            memset(t, 0, sizeof *t); /* it exited meanwhile */
        }
    }
    v->n = n;

    for (unsigned e = 0; e < ne; e++) {
        int i = threads_find(v->th, n, ent[e].tid);
        if (i < 0) {
            /* Exited inside its wait? Then reap the entry (a live thread may be missing from
             * a listing taken while others exit: ask the kernel). */
            if (lp_sys_tgkill(lp_sys_getpid(), ent[e].tid, 0) == -ESRCH)
                lp_inflight_reap(&ent[e]);
            continue;
        }
        struct lp_threadsview_thread *t = &v->th[i];
        if (!t->wait || ent[e].start_ns >= t->wait->start_ns) {
            if (t->wait)
                t->nested++;
            t->wait = &ent[e];
        } else {
            t->nested++;
        }
    }

    for (unsigned i = 0; i < n; i++) {
        struct lp_threadsview_thread *t = &v->th[i];
        if (t->own)
            continue;
        if (t->tid != self && t->kstate != 'R')
            t->sys = lp_procthreads_syscall(t->tid, t->args);
        if (t->wait) {
            v->waiting++;
            t->kind = threads_kind_of_leaf(t->wait->leaf);
            if (threads_has_holder(t->kind)) {
                t->lock = t->wait->object;
                threads_read_holder(t->kind, t->lock, &t->held, &t->holder);
            }
        } else if (lp_procthreads_lock_wait(t->sys, t->args)) {
            /* Inferred: only when the word reads like a waited-on mutex of the plain kinds
             * owned by one of this process's threads. */
            const void *addr = (const void *)(uintptr_t)t->args[0];
            int32_t owner = lp_procthreads_waited_owner(addr);
            if (owner > 0 && threads_find(v->th, n, owner) >= 0) {
                t->inferred = true;
                t->kind = LP_LOCK_MUTEX;
                t->lock = addr;
                t->held = LP_HELD_THREAD;
                t->holder = owner;
            }
        }
        if (t->held == LP_HELD_THREAD)
            t->holder_idx = threads_find(v->th, n, t->holder);
    }
    threads_find_deadlocks(v, a);
    return 0;
}

int lp_threads_write(int fd, struct lp_arena *a, enum lp_threads_format format)
{
    struct lp_threadsview v = { 0 };
    int err = threads_build(&v, a);
    if (err)
        return err;
    char buf[8192];
    struct lp_sink s;
    lp_sink_init(&s, fd, buf, sizeof buf);
    if (format == LP_THREADS_JSON)
        lp_threadsview_json(&s, &v);
    else
        lp_threadsview_text(&s, &v);
    err = lp_sink_flush(&s);
    return a->failed ? -ENOMEM : err;
}
