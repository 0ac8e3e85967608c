/*
 * prog_conservation — one mutex, no condition variables: 4 threads take it with random holds
 * (0–3 ms, slept while holding) and random pauses, for ~1.5 s. Fixed seeds.
 *   measure wait_total / wait_count: what the threads measured inside pthread_mutex_lock
 *                                    (contended or not)
 */
#include "progutil.h"

#define THREADS 4
#define ITERS 120

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t wait_total, wait_count;

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static __attribute__((noinline)) void conservation_work(unsigned *seed)
{
    uint64_t t0 = now_ns();
    pthread_mutex_lock(&lock);
    __atomic_fetch_add(&wait_total, now_ns() - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&wait_count, 1, __ATOMIC_RELAXED);
    struct timespec hold = { 0, (long)(next_rand(seed) % 3000) * 1000L };
    nanosleep(&hold, NULL);
    pthread_mutex_unlock(&lock);
}

static void *conservation_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
    for (int i = 0; i < ITERS; i++) {
        conservation_work(&seed);
        struct timespec pause = { 0, (long)(next_rand(&seed) % 2000) * 1000L };
        nanosleep(&pause, NULL);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, conservation_thread, (void *)(uintptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    measure("wait_total", wait_total);
    measure("wait_count", wait_count);
    return 0;
}
