/*
 * prog_two_holders — two holders with different hold times, each charged its own part.
 *
 * Each round: the first holder takes the lock and holds it HOLD1 ms while two threads queue
 * on it; then it releases, one of the two takes it (whichever the kernel wakes first) and
 * holds it HOLD2 ms while the other keeps waiting. The first holder owes both waits up to its
 * release; the second holder owes the remaining thread's wait from then to its own release.
 *   measure first_owed   Σ (first release − each waiter's lock call start)
 *   measure second_owed  Σ (second release − first release)
 *   measure wait_total / wait_count
 */
#include "progutil.h"

#define ROUNDS 4
#define HOLD1 40
#define HOLD2 15

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int round_started, arrived, finished, took;
static int waiter_tid[2];
static uint64_t start[2], first_release, second_release;
static uint64_t first_owed, second_owed, wait_total, wait_count;

static __attribute__((noinline)) void first_holder_release(void)
{
    first_release = now_ns();
    pthread_mutex_unlock(&lock);
}

static __attribute__((noinline)) void second_holder_release(int order)
{
    uint64_t t = now_ns();
    if (order == 0) /* the other one is still waiting */
        second_release = t;
    pthread_mutex_unlock(&lock);
}

static void *first_holder(void *arg)
{
    (void)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        pthread_mutex_lock(&lock);
        __atomic_store_n(&round_started, r, __ATOMIC_RELEASE);
        await_at_least(&arrived, r * 2);
        await_all_asleep(waiter_tid, 2);
        sleep_ms(HOLD1);
        first_holder_release();
        await_at_least(&finished, r * 2);
        first_owed += (first_release - start[0]) + (first_release - start[1]);
        second_owed += second_release - first_release;
    }
    return NULL;
}

static __attribute__((noinline)) void second_holder_take(int id)
{
    uint64_t t0 = now_ns();
    start[id] = t0;
    __atomic_store_n(&waiter_tid[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&lock);
    uint64_t t1 = now_ns();
    __atomic_fetch_add(&wait_total, t1 - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&wait_count, 1, __ATOMIC_RELAXED);
    int order = __atomic_fetch_add(&took, 1, __ATOMIC_ACQ_REL) % 2;
    sleep_ms(HOLD2);
    second_holder_release(order);
}

static void *second_holder(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        await_at_least(&round_started, r);
        second_holder_take(id);
        __atomic_fetch_add(&finished, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

int main(void)
{
    pthread_t a, b[2];
    pthread_create(&a, NULL, first_holder, NULL);
    for (int i = 0; i < 2; i++)
        pthread_create(&b[i], NULL, second_holder, (void *)(intptr_t)i);
    pthread_join(a, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(b[i], NULL);
    measure("first_owed", first_owed);
    measure("second_owed", second_owed);
    measure("wait_total", wait_total);
    measure("wait_count", wait_count);
    return 0;
}
