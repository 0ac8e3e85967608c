/*
 * real_glib — GLib's GMutex and GCond, which block through libc's syscall() on Linux
 * (reallibs.t). Measures its own waits around each blocking call (progutil.h).
 *
 *   a GMutex convoy: a holder holds the mutex HOLD ms while 3 waiters block in
 *   gmutex_waiter_wait, ROUNDS rounds; gmutex_release unlocks.
 *     gmutex_wait_total, gmutex_wait_count, gmutex_owed (Σ release − each wait's start)
 *   a GCond hand-off: gcond_waiter_wait blocks in g_cond_wait until gcond_notify sets the
 *   flag and signals, HOLD ms after the waiter is asleep (the mutex released first).
 *     gcond_wait_total, gcond_owed
 *
 * Usage: real_glib [ROUNDS [HOLD_MS]]
 */
#include <glib.h>

#include "progutil.h"

#define WAITERS 3

static GMutex lock;
static int rounds = 4;
static unsigned hold_ms = 40;
static int round_started, arrived, finished, tids[WAITERS];
static uint64_t starts[WAITERS], wait_total, wait_count;

static __attribute__((noinline)) void gmutex_waiter_wait(int id)
{
    uint64_t t0 = now_ns();
    starts[id] = t0;
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    g_mutex_lock(&lock);
    uint64_t t1 = now_ns();
    g_mutex_unlock(&lock);
    __atomic_fetch_add(&wait_total, t1 - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&wait_count, 1, __ATOMIC_RELAXED);
}

static __attribute__((noinline)) uint64_t gmutex_release(void)
{
    uint64_t t = now_ns();
    g_mutex_unlock(&lock);
    return t;
}

static gpointer gmutex_waiter(gpointer arg)
{
    int id = (int)(intptr_t)arg;
    __atomic_store_n(&tids[id], thread_id(), __ATOMIC_RELEASE);
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&round_started, r);
        gmutex_waiter_wait(id);
        __atomic_fetch_add(&finished, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

static void gmutex_convoy(void)
{
    GThread *th[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        th[i] = g_thread_new("waiter", gmutex_waiter, (gpointer)(intptr_t)i);
    uint64_t owed = 0;
    for (int r = 1; r <= rounds; r++) {
        g_mutex_lock(&lock);
        __atomic_store_n(&round_started, r, __ATOMIC_RELEASE);
        await_at_least(&arrived, r * WAITERS);
        await_all_asleep(tids, WAITERS);
        sleep_ms(hold_ms);
        uint64_t released = gmutex_release();
        for (int i = 0; i < WAITERS; i++)
            owed += released - starts[i];
        await_at_least(&finished, r * WAITERS);
    }
    for (int i = 0; i < WAITERS; i++)
        g_thread_join(th[i]);
    printf("gmutex: %d rounds\n", rounds);
    measure("gmutex_wait_total", wait_total);
    measure("gmutex_wait_count", wait_count);
    measure("gmutex_owed", owed);
}

static GMutex cond_lock;
static GCond cond;
static int cond_round, cond_ready, cond_tid;
static uint64_t cond_start, cond_total;

static __attribute__((noinline)) void gcond_waiter_wait(int r)
{
    g_mutex_lock(&cond_lock);
    uint64_t t0 = now_ns();
    __atomic_store_n(&cond_start, t0, __ATOMIC_RELEASE);
    __atomic_store_n(&cond_ready, r, __ATOMIC_RELEASE);
    while (cond_round < r)
        g_cond_wait(&cond, &cond_lock);
    cond_total += now_ns() - t0;
    g_mutex_unlock(&cond_lock);
}

static __attribute__((noinline)) uint64_t gcond_notify(int r)
{
    g_mutex_lock(&cond_lock);
    cond_round = r;
    g_mutex_unlock(&cond_lock);
    uint64_t t = now_ns();
    g_cond_signal(&cond);
    return t;
}

static gpointer gcond_waiter(gpointer arg)
{
    (void)arg;
    __atomic_store_n(&cond_tid, thread_id(), __ATOMIC_RELEASE);
    for (int r = 1; r <= rounds; r++)
        gcond_waiter_wait(r);
    return NULL;
}

static void gcond_handoff(void)
{
    GThread *th = g_thread_new("cond", gcond_waiter, NULL);
    uint64_t owed = 0;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&cond_ready, r);
        await_all_asleep(&cond_tid, 1);
        sleep_ms(hold_ms);
        uint64_t start = __atomic_load_n(&cond_start, __ATOMIC_ACQUIRE);
        owed += gcond_notify(r) - start;
    }
    g_thread_join(th);
    printf("gcond: %d rounds\n", rounds);
    measure("gcond_wait_total", cond_total);
    measure("gcond_owed", owed);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (argc > 2)
        hold_ms = (unsigned)atoi(argv[2]);
    gmutex_convoy();
    gcond_handoff();
    return 0;
}
