/*
 * prog_cancel — a thread cancelled inside pthread_cond_wait while others wait for its mutex
 * (cancel.t, DESIGN §6 "cancellation points keep the bookkeeping consistent").
 *
 *  1. The victim locks m and holds it while two early waiters queue on it, then enters
 *     pthread_cond_wait, whose release of m is what the victim's cond wait is charged:
 *       measure condwait_owed      Σ over the early waiters of (release − their start)
 *  2. main locks m and cancels the victim. glibc's cancellation handler inside
 *     pthread_cond_wait re-acquires m, so the victim waits for main, asleep on m's futex
 *     (/proc/self/task/TID/syscall names the futex word), before two late waiters queue
 *     behind it. main holds m HOLD ms and releases it (the victim, first in the futex queue,
 *     gets it); the victim's cleanup handler holds it HOLD ms more and unlocks it:
 *       measure main_owed          Σ over the late waiters of (main's release − their start):
 *                                  the victim's re-acquire is charged to no one
 *       measure cleanup_owed       Σ over the late waiters of (cleanup's unlock − main's release)
 *       measure condwait_waited    the victim's time in pthread_cond_wait, up to its cleanup
 *  3. A convoy on the same mutex: main holds m while three waiters queue:
 *       measure convoy_owed        Σ over them of (release − their start)
 *  Each group's waits: measure {early,late,convoy}_wait_total / _count.
 *  Prints "victim cancelled 1" when pthread_join returned PTHREAD_CANCELED.
 *
 * prog_cancel pending: cancels requested while cancellation is disabled, acted on (or not)
 * once it is enabled again, with another thread waiting for the mutex:
 *  - pthread_mutex_lock is not a cancellation point: it acquires, and the thread returns
 *    ("pending_lock returned 1"; measure pending_lock_waited);
 *  - pthread_cond_wait releases the mutex before it acts on the cancel ("pending_cond
 *    cancelled 1"; measure pending_cond_owed: the waiter's wait up to the call).
 * Usage: prog_cancel [hold_ms] | prog_cancel pending
 */
#include <inttypes.h>

#include "progutil.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned hold_ms = 30;

struct group {
    int n, arrived;
    int tids[3];
    uint64_t start[3];
    uint64_t wait_total, wait_count;
};

static struct group early = { .n = 2 }, late = { .n = 2 }, convoy = { .n = 3 };
static int victim_tid, victim_waiting;
static uint64_t condwait_owed, condwait_start, condwait_waited, main_released, cleanup_owed;

/* One waiter of group g: its wait for m, measured. */
static __attribute__((noinline)) void waiter_lock(struct group *g, int id)
{
    uint64_t t0 = now_ns();
    g->start[id] = t0;
    __atomic_store_n(&g->tids[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&g->arrived, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&m);
    __atomic_fetch_add(&g->wait_total, now_ns() - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&g->wait_count, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&m);
}

static __attribute__((noinline)) void *early_waiter(void *arg)
{
    waiter_lock(&early, (int)(intptr_t)arg);
    return NULL;
}

static __attribute__((noinline)) void *late_waiter(void *arg)
{
    waiter_lock(&late, (int)(intptr_t)arg);
    return NULL;
}

static __attribute__((noinline)) void *convoy_waiter(void *arg)
{
    waiter_lock(&convoy, (int)(intptr_t)arg);
    return NULL;
}

static void start_group(struct group *g, void *(*fn)(void *), pthread_t *t)
{
    for (int i = 0; i < g->n; i++)
        if (pthread_create(&t[i], NULL, fn, (void *)(intptr_t)i))
            die("pthread_create");
    await_at_least(&g->arrived, g->n);
    await_all_asleep(g->tids, g->n);
}

static uint64_t owed_since(const struct group *g, uint64_t t)
{
    uint64_t s = 0;
    for (int i = 0; i < g->n; i++)
        s += t - g->start[i];
    return s;
}

/* Runs during the victim's cancellation, holding m (glibc re-acquired it). */
static __attribute__((noinline)) void victim_cleanup(void *arg)
{
    (void)arg;
    condwait_waited = now_ns() - condwait_start;
    sleep_ms(hold_ms);
    uint64_t t = now_ns();
    cleanup_owed = late.n * (t - main_released);
    pthread_mutex_unlock(&m);
}

static __attribute__((noinline)) void victim_wait(void)
{
    pthread_mutex_lock(&m);
    pthread_cleanup_push(victim_cleanup, NULL);
    __atomic_store_n(&victim_tid, thread_id(), __ATOMIC_RELEASE);
    __atomic_store_n(&victim_waiting, 1, __ATOMIC_RELEASE);
    await_at_least(&early.arrived, early.n);
    await_all_asleep(early.tids, early.n);
    sleep_ms(hold_ms);
    condwait_start = now_ns();
    condwait_owed = owed_since(&early, condwait_start);
    for (;;)
        pthread_cond_wait(&cv, &m); /* releases m: charged here; never signalled */
    pthread_cleanup_pop(1);
}

static void *victim(void *arg)
{
    (void)arg;
    victim_wait();
    return NULL;
}

/* Waits until thread tid is blocked in futex(2) on a word in [lo, hi), or has exited. */
static void await_futex_on(int tid, const void *lo, const void *hi)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    for (;;) {
        FILE *f = fopen(path, "r");
        if (!f)
            return;
        unsigned long long nr = 0, addr = 0;
        int n = fgets(buf, sizeof buf, f) ? sscanf(buf, "%llu 0x%llx", &nr, &addr) : 0;
        fclose(f);
        if (n == 2 && nr == SYS_futex && addr >= (uintptr_t)lo && addr < (uintptr_t)hi)
            return;
        sleep_ms(1);
    }
}

static __attribute__((noinline)) void main_release_after_cancel(void)
{
    main_released = now_ns();
    pthread_mutex_unlock(&m);
}

static __attribute__((noinline)) void convoy_release(uint64_t *t)
{
    *t = now_ns();
    pthread_mutex_unlock(&m);
}

/* ---- prog_cancel pending ---------------------------------------------------------------- */

static struct group pending_waiter = { .n = 1 };
static int pending_go, pending_ready, pending_tid;
static pthread_t pending_waiter_thread;
static uint64_t pending_lock_waited, pending_cond_owed;

static __attribute__((noinline)) void *pending_waiter_fn(void *arg)
{
    waiter_lock(&pending_waiter, (int)(intptr_t)arg);
    return NULL;
}

static void pending_cleanup(void *arg)
{
    (void)arg;
    pthread_mutex_unlock(&m);
}

/* Locks m with a cancel pending: returns normally. */
static __attribute__((noinline)) void *pending_lock_fn(void *arg)
{
    (void)arg;
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    __atomic_store_n(&pending_tid, thread_id(), __ATOMIC_RELEASE);
    __atomic_store_n(&pending_ready, 1, __ATOMIC_RELEASE);
    await_at_least(&pending_go, 1);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    uint64_t t0 = now_ns();
    pthread_mutex_lock(&m);
    pending_lock_waited = now_ns() - t0;
    pthread_mutex_unlock(&m);
    return NULL;
}

/* Enters pthread_cond_wait holding m, with a cancel pending and a waiter for m. */
static __attribute__((noinline)) void *pending_cond_fn(void *arg)
{
    (void)arg;
    int old;
    pthread_mutex_lock(&m);
    pthread_cleanup_push(pending_cleanup, NULL);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    __atomic_store_n(&pending_ready, 1, __ATOMIC_RELEASE);
    await_at_least(&pending_go, 1);
    if (pthread_create(&pending_waiter_thread, NULL, pending_waiter_fn, NULL))
        die("pthread_create");
    await_at_least(&pending_waiter.arrived, 1);
    await_all_asleep(pending_waiter.tids, 1);
    sleep_ms(hold_ms);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    pending_cond_owed = owed_since(&pending_waiter, now_ns());
    for (;;)
        pthread_cond_wait(&cv, &m);
    pthread_cleanup_pop(1);
}

static int pending_main(void)
{
    pthread_t t;
    void *ret;
    /* pthread_mutex_lock, contended, with a cancel pending. */
    pthread_mutex_lock(&m);
    if (pthread_create(&t, NULL, pending_lock_fn, NULL))
        die("pthread_create");
    await_at_least(&pending_ready, 1);
    pthread_cancel(t);
    __atomic_store_n(&pending_go, 1, __ATOMIC_RELEASE);
    int tids[1] = { __atomic_load_n(&pending_tid, __ATOMIC_ACQUIRE) };
    await_futex_on(tids[0], &m, &m + 1);
    sleep_ms(hold_ms);
    pthread_mutex_unlock(&m);
    pthread_join(t, &ret);
    printf("pending_lock returned %d\n", ret != PTHREAD_CANCELED);
    measure("pending_lock_waited", pending_lock_waited);

    /* pthread_cond_wait with a cancel pending. */
    pending_ready = pending_go = 0;
    if (pthread_create(&t, NULL, pending_cond_fn, NULL))
        die("pthread_create");
    await_at_least(&pending_ready, 1);
    pthread_cancel(t);
    __atomic_store_n(&pending_go, 1, __ATOMIC_RELEASE);
    pthread_join(t, &ret);
    pthread_join(pending_waiter_thread, NULL);
    printf("pending_cond cancelled %d\n", ret == PTHREAD_CANCELED);
    measure("pending_cond_owed", pending_cond_owed);
    measure("pending_wait_total", pending_waiter.wait_total);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "pending") == 0) {
        alarm(60);
        return pending_main();
    }
    if (argc > 1)
        hold_ms = (unsigned)atoi(argv[1]);
    alarm(60);
    pthread_t v, te[2], tl[2], tc[3];

    /* 1. The victim's cond wait releases m while the early waiters wait for it. */
    if (pthread_create(&v, NULL, victim, NULL))
        die("pthread_create");
    await_at_least(&victim_waiting, 1);
    start_group(&early, early_waiter, te);
    for (int i = 0; i < early.n; i++)
        pthread_join(te[i], NULL);
    await_futex_on(victim_tid, &cv, &cv + 1);

    /* 2. Cancelled while main holds m: its re-acquire and the late waiters wait for main. */
    pthread_mutex_lock(&m);
    pthread_cancel(v);
    await_futex_on(victim_tid, &m, &m + 1);
    start_group(&late, late_waiter, tl);
    sleep_ms(hold_ms);
    main_release_after_cancel();
    uint64_t main_owed = owed_since(&late, main_released);
    void *ret;
    pthread_join(v, &ret);
    for (int i = 0; i < late.n; i++)
        pthread_join(tl[i], NULL);
    printf("victim cancelled %d\n", ret == PTHREAD_CANCELED);

    /* 3. A convoy on the same mutex afterwards. */
    pthread_mutex_lock(&m);
    start_group(&convoy, convoy_waiter, tc);
    sleep_ms(hold_ms);
    uint64_t t;
    convoy_release(&t);
    uint64_t convoy_owed = owed_since(&convoy, t);
    for (int i = 0; i < convoy.n; i++)
        pthread_join(tc[i], NULL);

    measure("condwait_owed", condwait_owed);
    measure("condwait_waited", condwait_waited);
    measure("main_owed", main_owed);
    measure("cleanup_owed", cleanup_owed);
    measure("convoy_owed", convoy_owed);
    measure("early_wait_total", early.wait_total);
    measure("early_wait_count", early.wait_count);
    measure("late_wait_total", late.wait_total);
    measure("late_wait_count", late.wait_count);
    measure("convoy_wait_total", convoy.wait_total);
    measure("convoy_wait_count", convoy.wait_count);
    return 0;
}
