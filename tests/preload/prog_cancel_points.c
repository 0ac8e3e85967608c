/*
 * prog_cancel_points — cancellation inside the blocking calls lockprof interposes.
 *
 * One mutex M. For each of sem_wait, sem_timedwait and pthread_join, a victim thread
 * (victim_<call>) locks M, pushes a cleanup handler that unlocks it (cancel_cleanup_unlock),
 * and blocks in the call; two waiters then queue on M (cancel_waiter_fn); ~30 ms after all are
 * asleep the victim is cancelled, and its cleanup handler's unlock is what lets the waiters in:
 *   measure <kind>_owed        Σ over the waiters of (cleanup's unlock − their lock call)
 *   measure <kind>_wait_total  Σ of the waiters' waits in pthread_mutex_lock
 * pthread_barrier_wait is no cancellation point: a victim cancelled while blocked in it
 * returns from it when the barrier fills, and is cancelled at its next pthread_testcancel:
 *   measure barrier_owed, barrier_wait_total, barrier_victim_wait (its wait in the barrier)
 * Last, a convoy on M: convoy_release_fn holds it ~30 ms while two waiters queue:
 *   measure convoy_owed, convoy_wait_total
 * Results are printed; everything but the measure lines is the same without the preload.
 */
#include <errno.h>
#include <semaphore.h>
#include <string.h>

#include "progutil.h"

#define WAITERS 2

static pthread_mutex_t M = PTHREAD_MUTEX_INITIALIZER;
static uint64_t released;                 /* when the last release of M began */
static int waiter_tid[WAITERS], arrived;
static uint64_t waiter_t0[WAITERS], wait_total;

static __attribute__((noinline)) void cancel_waiter_fn(int id)
{
    uint64_t t0 = now_ns();
    waiter_t0[id] = t0;
    __atomic_store_n(&waiter_tid[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&M);
    __atomic_fetch_add(&wait_total, now_ns() - t0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&M);
}

static void *waiter(void *arg)
{
    cancel_waiter_fn((int)(intptr_t)arg);
    return NULL;
}

/* Starts the waiters and waits until both are asleep on M. */
static void start_waiters(pthread_t *w)
{
    arrived = 0;
    wait_total = 0;
    memset(waiter_tid, 0, sizeof waiter_tid);
    for (int i = 0; i < WAITERS; i++)
        if (pthread_create(&w[i], NULL, waiter, (void *)(intptr_t)i))
            die("pthread_create");
    await_at_least(&arrived, WAITERS);
    await_all_asleep(waiter_tid, WAITERS);
}

static uint64_t owed_by_last_release(void)
{
    uint64_t owed = 0;
    for (int i = 0; i < WAITERS; i++)
        owed += released - waiter_t0[i];
    return owed;
}

static __attribute__((noinline)) void cancel_cleanup_unlock(void *arg)
{
    released = now_ns();
    pthread_mutex_unlock(arg);
}

/* The victims. */
enum kind { K_SEM_WAIT, K_SEM_TIMEDWAIT, K_JOIN, K_BARRIER };
static const char *kind_name[] = { "sem_wait", "sem_timedwait", "pthread_join", "barrier" };

static sem_t never, release_target;
static pthread_barrier_t barrier;
static pthread_t target;
static int victim_tid, victim_blocking, after_barrier;
static uint64_t victim_wait;

static void *target_fn(void *arg)
{
    (void)arg;
    sem_wait(&release_target);
    return (void *)42;
}

/* The blocking call, timed from just before it (the barrier victim returns from it). */
static __attribute__((noinline)) void victim_call(enum kind k)
{
    __atomic_store_n(&victim_tid, thread_id(), __ATOMIC_RELEASE);
    __atomic_store_n(&victim_blocking, 1, __ATOMIC_RELEASE);
    struct timespec ts = deadline_in_ms(20000);
    uint64_t t0 = now_ns();
    switch (k) {
    case K_SEM_WAIT:
        sem_wait(&never);
        break;
    case K_SEM_TIMEDWAIT:
        sem_timedwait(&never, &ts);
        break;
    case K_JOIN:
        pthread_join(target, NULL);
        break;
    case K_BARRIER:
        pthread_barrier_wait(&barrier);
        victim_wait = now_ns() - t0;
        after_barrier = 1;
        pthread_testcancel();
        break;
    }
}

/* One victim function per call, so that each cleanup's charge has its own stack
 * (cancel_cleanup_unlock runs in the frame that pushed it). */
#define VICTIM(name, k)                                          \
    static __attribute__((noinline)) void name(void)             \
    {                                                            \
        pthread_mutex_lock(&M);                                  \
        pthread_cleanup_push(cancel_cleanup_unlock, &M);         \
        victim_call(k);                                          \
        pthread_cleanup_pop(1);                                  \
    }
VICTIM(victim_sem_wait, K_SEM_WAIT)
VICTIM(victim_sem_timedwait, K_SEM_TIMEDWAIT)
VICTIM(victim_join, K_JOIN)
VICTIM(victim_barrier, K_BARRIER)

static void *victim(void *arg)
{
    static void (*const fn[])(void) = { victim_sem_wait, victim_sem_timedwait, victim_join,
                                        victim_barrier };
    fn[(intptr_t)arg]();
    return NULL;
}

static void scenario(enum kind k)
{
    victim_tid = victim_blocking = after_barrier = 0;
    if (k == K_JOIN) {
        sem_init(&release_target, 0, 0);
        pthread_create(&target, NULL, target_fn, NULL);
    }
    if (k == K_BARRIER)
        pthread_barrier_init(&barrier, NULL, 2);
    pthread_t v, w[WAITERS];
    pthread_create(&v, NULL, victim, (void *)(intptr_t)k);
    await_at_least(&victim_blocking, 1);
    await_all_asleep(&victim_tid, 1);
    start_waiters(w);
    sleep_ms(30);
    pthread_cancel(v);
    if (k == K_BARRIER) {
        sleep_ms(20); /* not a cancellation point: the victim stays in the barrier */
        printf("barrier: still blocked after the cancel %d\n", thread_sleeping(victim_tid));
        pthread_barrier_wait(&barrier);
    }
    void *ret;
    pthread_join(v, &ret);
    for (int i = 0; i < WAITERS; i++)
        pthread_join(w[i], NULL);
    printf("%s: victim %s\n", kind_name[k], ret == PTHREAD_CANCELED ? "cancelled" : "returned");
    char key[64];
    snprintf(key, sizeof key, "%s_owed", kind_name[k]);
    measure(key, owed_by_last_release());
    snprintf(key, sizeof key, "%s_wait_total", kind_name[k]);
    measure(key, wait_total);
    if (k == K_JOIN) {
        sem_post(&release_target);
        void *tr;
        int rc = pthread_join(target, &tr);
        printf("pthread_join: the target joined after the cancelled join: %d %d\n", rc,
               (int)(intptr_t)tr);
    }
    if (k == K_BARRIER) {
        printf("barrier: returned from the barrier %d\n", after_barrier);
        measure("barrier_victim_wait", victim_wait);
        pthread_barrier_destroy(&barrier);
    }
}

/* A convoy on M after it all. */
static __attribute__((noinline)) void convoy_release_fn(void)
{
    released = now_ns();
    pthread_mutex_unlock(&M);
}

static void convoy(void)
{
    pthread_t w[WAITERS];
    pthread_mutex_lock(&M);
    start_waiters(w);
    sleep_ms(30);
    convoy_release_fn();
    for (int i = 0; i < WAITERS; i++)
        pthread_join(w[i], NULL);
    measure("convoy_owed", owed_by_last_release());
    measure("convoy_wait_total", wait_total);
    printf("convoy: done\n");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sem_init(&never, 0, 0);
    scenario(K_SEM_WAIT);
    scenario(K_SEM_TIMEDWAIT);
    scenario(K_JOIN);
    scenario(K_BARRIER);
    convoy();
    return 0;
}
