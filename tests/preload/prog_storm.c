/*
 * prog_storm [THREADS MUTEXES MS] — a lock storm, as `sysbench mutex` makes one: THREADS
 * threads (default 4) each take one of MUTEXES mutexes (default 2) at random, hold it for a
 * few instructions, let it go and run a few hundred instructions, for MS milliseconds (default
 * 2000). Fixed seeds.
 *   measure ops:        lock/unlock pairs, all threads
 *   measure wait_total: what the threads measured inside pthread_mutex_lock (contended or not)
 */
#include "progutil.h"

#define MAX_THREADS 16
#define MAX_MUTEXES 16

static int threads = 4, mutexes = 2;
static unsigned ms = 2000;
static pthread_mutex_t locks[MAX_MUTEXES];
static uint64_t ops_total, wait_total;
static int stop;
static volatile unsigned sink;

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static __attribute__((noinline)) void storm_lock(pthread_mutex_t *m, uint64_t *waited)
{
    uint64_t t0 = now_ns();
    pthread_mutex_lock(m);
    *waited += now_ns() - t0;
    sink++;
    pthread_mutex_unlock(m);
}

static void *storm_thread(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
    uint64_t ops = 0, waited = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        storm_lock(&locks[next_rand(&seed) % (unsigned)mutexes], &waited);
        ops++;
        for (unsigned i = next_rand(&seed) % 256; i > 0; i--)
            sink += i;
    }
    __atomic_fetch_add(&ops_total, ops, __ATOMIC_RELAXED);
    __atomic_fetch_add(&wait_total, waited, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc == 4) {
        threads = atoi(argv[1]);
        mutexes = atoi(argv[2]);
        ms = (unsigned)atoi(argv[3]);
    }
    if (argc != 1 && (argc != 4 || threads <= 0 || threads > MAX_THREADS || mutexes <= 0 ||
                      mutexes > MAX_MUTEXES || ms == 0)) {
        fprintf(stderr, "usage: prog_storm [THREADS MUTEXES MS]\n");
        return 2;
    }
    for (int i = 0; i < mutexes; i++)
        pthread_mutex_init(&locks[i], NULL);
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, storm_thread, (void *)(uintptr_t)i) != 0)
            die("pthread_create");
    sleep_ms(ms);
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    measure("ops", ops_total);
    measure("wait_total", wait_total);
    return 0;
}
