/*
 * prog_convoy — a convoy: one holder holds a mutex ~HOLD ms while 3 waiters queue on it,
 * for ROUNDS rounds. Prints what it measured:
 *   measure wait_total   Σ over waiters of the time spent inside pthread_mutex_lock
 *   measure wait_count   number of those calls
 *   measure holder_owed  Σ over waiters of (holder's unlock − waiter's lock call start):
 *                        what the holder's release should be charged
 * Usage: prog_convoy [rounds] [hold_ms]
 */
#include "progutil.h"

#define WAITERS 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int round_started, arrived, finished;
static int waiter_tid[WAITERS];
static uint64_t wait_start[WAITERS];
static uint64_t wait_total, wait_count, holder_owed;
static int rounds = 4;
static unsigned hold_ms = 50;

static __attribute__((noinline)) void convoy_holder_release(uint64_t *released)
{
    *released = now_ns();
    pthread_mutex_unlock(&lock);
}

static void *convoy_holder(void *arg)
{
    (void)arg;
    for (int r = 1; r <= rounds; r++) {
        pthread_mutex_lock(&lock);
        __atomic_store_n(&round_started, r, __ATOMIC_RELEASE);
        await_at_least(&arrived, r * WAITERS);
        await_all_asleep(waiter_tid, WAITERS);
        sleep_ms(hold_ms);
        uint64_t released;
        convoy_holder_release(&released);
        for (int w = 0; w < WAITERS; w++)
            holder_owed += released - wait_start[w];
        /* Let this round's waiters through before the next round starts. */
        await_at_least(&finished, r * WAITERS);
    }
    return NULL;
}

static __attribute__((noinline)) void convoy_waiter_wait(int id)
{
    uint64_t t0 = now_ns();
    wait_start[id] = t0;
    __atomic_store_n(&waiter_tid[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&lock);
    uint64_t t1 = now_ns();
    __atomic_fetch_add(&wait_total, t1 - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&wait_count, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lock);
}

static void *convoy_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&round_started, r);
        convoy_waiter_wait(id);
        __atomic_fetch_add(&finished, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (argc > 2)
        hold_ms = (unsigned)atoi(argv[2]);
    pthread_t h, w[WAITERS];
    if (pthread_create(&h, NULL, convoy_holder, NULL))
        die("pthread_create");
    for (int i = 0; i < WAITERS; i++)
        if (pthread_create(&w[i], NULL, convoy_waiter, (void *)(intptr_t)i))
            die("pthread_create");
    pthread_join(h, NULL);
    for (int i = 0; i < WAITERS; i++)
        pthread_join(w[i], NULL);
    measure("wait_total", wait_total);
    measure("wait_count", wait_count);
    measure("holder_owed", holder_owed);
    return 0;
}
