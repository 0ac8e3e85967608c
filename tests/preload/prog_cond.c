/*
 * prog_cond — condition variables under the preload.
 *  1. cond_waiter_fn waits in pthread_cond_wait until signalled ~30 ms later (3 times):
 *     measure cond_wait_total / cond_wait_count
 *  2. cond_timeout_fn: pthread_cond_timedwait with a 30 ms deadline that expires (3 times):
 *     measure timedwait_total / timedwait_count, and "timedout N" on stdout
 *  3. cond_releaser_fn holds the mutex ~30 ms while two threads wait for it in
 *     mutex_waiter_fn, then calls pthread_cond_wait (which releases it): the waiters' waits up
 *     to that call are what its pthread_cond_wait stack is charged (3 rounds):
 *     measure releaser_owed, mutex_wait_total / mutex_wait_count
 *  4. The same with cnd_wait / mtx_* (C11), once: measure c11_wait_total.
 */
#include <errno.h>
#include <unistd.h>
#include <threads.h>

#include "progutil.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int flag, waiting;
static uint64_t cond_wait_total, cond_wait_count, timedwait_total, timedwait_count, timedout;

static __attribute__((noinline)) void cond_waiter_fn(void)
{
    pthread_mutex_lock(&m);
    __atomic_store_n(&waiting, 1, __ATOMIC_RELEASE);
    while (!flag) {
        uint64_t t0 = now_ns();
        pthread_cond_wait(&cv, &m);
        cond_wait_total += now_ns() - t0;
        cond_wait_count++;
    }
    flag = 0;
    pthread_mutex_unlock(&m);
}

static void *cond_waiter(void *arg)
{
    (void)arg;
    cond_waiter_fn();
    return NULL;
}

static void part1(void)
{
    for (int i = 0; i < 3; i++) {
        pthread_t t;
        waiting = 0;
        pthread_create(&t, NULL, cond_waiter, NULL);
        await_at_least(&waiting, 1);
        sleep_ms(30);
        pthread_mutex_lock(&m);
        flag = 1;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&m);
        pthread_join(t, NULL);
    }
}

static __attribute__((noinline)) void cond_timeout_fn(void)
{
    pthread_mutex_lock(&m);
    struct timespec ts = deadline_in_ms(30);
    uint64_t t0 = now_ns();
    int rc = pthread_cond_timedwait(&cv, &m, &ts);
    timedwait_total += now_ns() - t0;
    timedwait_count++;
    if (rc == ETIMEDOUT)
        timedout++;
    pthread_mutex_unlock(&m);
}

static pthread_mutex_t rm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rcv = PTHREAD_COND_INITIALIZER;
static int round_started, arrived, done_round, release_flag;
static int waiter_tid[2];
static uint64_t wstart[2], releaser_owed, mutex_wait_total, mutex_wait_count;

static __attribute__((noinline)) void cond_releaser_fn(int r)
{
    pthread_mutex_lock(&rm);
    __atomic_store_n(&round_started, r, __ATOMIC_RELEASE);
    await_at_least(&arrived, r * 2);
    await_all_asleep(waiter_tid, 2);
    sleep_ms(30);
    uint64_t t = now_ns();
    releaser_owed += (t - wstart[0]) + (t - wstart[1]);
    while (release_flag < r)
        pthread_cond_wait(&rcv, &rm); /* releases rm: charged to this stack */
    pthread_mutex_unlock(&rm);
}

static void *releaser(void *arg)
{
    (void)arg;
    for (int r = 1; r <= 3; r++) {
        cond_releaser_fn(r);
        await_at_least(&done_round, r * 2);
    }
    return NULL;
}

static __attribute__((noinline)) void mutex_waiter_fn(int id, int r)
{
    uint64_t t0 = now_ns();
    wstart[id] = t0;
    __atomic_store_n(&waiter_tid[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&rm);
    __atomic_fetch_add(&mutex_wait_total, now_ns() - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&mutex_wait_count, 1, __ATOMIC_RELAXED);
    if (__atomic_fetch_add(&done_round, 1, __ATOMIC_ACQ_REL) % 2 == 1) {
        release_flag = r; /* the second one through wakes the releaser */
        pthread_cond_signal(&rcv);
    }
    pthread_mutex_unlock(&rm);
}

static void *mutex_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 1; r <= 3; r++) {
        await_at_least(&round_started, r);
        mutex_waiter_fn(id, r);
    }
    return NULL;
}

static void part3(void)
{
    pthread_t rt, w[2];
    pthread_create(&rt, NULL, releaser, NULL);
    for (int i = 0; i < 2; i++)
        pthread_create(&w[i], NULL, mutex_waiter, (void *)(intptr_t)i);
    pthread_join(rt, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
}

static mtx_t cm;
static cnd_t ccv;
static int cflag, cwaiting;
static uint64_t c11_wait_total;

static __attribute__((noinline)) int c11_waiter_fn(void *arg)
{
    (void)arg;
    mtx_lock(&cm);
    __atomic_store_n(&cwaiting, 1, __ATOMIC_RELEASE);
    while (!cflag) {
        uint64_t t0 = now_ns();
        cnd_wait(&ccv, &cm);
        c11_wait_total += now_ns() - t0;
    }
    mtx_unlock(&cm);
    return 0;
}

static void part4(void)
{
    mtx_init(&cm, mtx_plain);
    cnd_init(&ccv);
    thrd_t t;
    thrd_create(&t, c11_waiter_fn, NULL);
    await_at_least(&cwaiting, 1);
    sleep_ms(30);
    mtx_lock(&cm);
    cflag = 1;
    cnd_signal(&ccv);
    mtx_unlock(&cm);
    thrd_join(t, NULL);
}

int main(void)
{
    alarm(60);
    part1();
    for (int i = 0; i < 3; i++)
        cond_timeout_fn();
    part3();
    part4();
    printf("timedout %llu\n", (unsigned long long)timedout);
    measure("cond_wait_total", cond_wait_total);
    measure("cond_wait_count", cond_wait_count);
    measure("timedwait_total", timedwait_total);
    measure("timedwait_count", timedwait_count);
    measure("releaser_owed", releaser_owed);
    measure("mutex_wait_total", mutex_wait_total);
    measure("mutex_wait_count", mutex_wait_count);
    measure("c11_wait_total", c11_wait_total);
    return 0;
}
