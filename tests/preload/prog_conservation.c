/*
 * prog_conservation [ITERS HOLD_US PAUSE_US] — one mutex, no condition variables: 4 threads
 * take it ITERS times each (default 120) with random holds (0 to HOLD_US, default 3000, slept
 * while holding) and random pauses (0 to PAUSE_US, default 2000): ~1.5 s by default. Fixed
 * seeds.
 *   measure wait_total / wait_count: what the threads measured inside pthread_mutex_lock
 *                                    (contended or not)
 */
#include "progutil.h"

#define THREADS 4

static int iters = 120;
static unsigned hold_us = 3000, pause_us = 2000;

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
    struct timespec hold = { 0, (long)(next_rand(seed) % hold_us) * 1000L };
    nanosleep(&hold, NULL);
    pthread_mutex_unlock(&lock);
}

static void *conservation_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
    for (int i = 0; i < iters; i++) {
        conservation_work(&seed);
        struct timespec pause = { 0, (long)(next_rand(&seed) % pause_us) * 1000L };
        nanosleep(&pause, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc == 4) {
        iters = atoi(argv[1]);
        hold_us = (unsigned)atoi(argv[2]);
        pause_us = (unsigned)atoi(argv[3]);
    }
    if (argc != 1 && (argc != 4 || iters <= 0 || hold_us == 0 || pause_us == 0)) {
        fprintf(stderr, "usage: prog_conservation [ITERS HOLD_US PAUSE_US]\n");
        return 2;
    }
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, conservation_thread, (void *)(uintptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    measure("wait_total", wait_total);
    measure("wait_count", wait_count);
    return 0;
}
