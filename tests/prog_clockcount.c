/*
 * prog_clockcount — counts lockprof's clock reads. This program defines clock_gettime itself;
 * the main program's definition comes first in the lookup order, so the preloaded library's
 * calls land here too (then go to the vDSO's through dlsym(RTLD_NEXT)).
 *   uncontended: 100000 lock/unlock pairs of a free mutex, one thread
 *   contended:   main holds the mutex while a second thread blocks on it, 5 times
 * Prints "clock_reads <phase> N" for each phase.
 */
#include <dlfcn.h>

#include "progutil.h"

#include "clockcount.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static int started;

static void *contender(void *arg)
{
    (void)arg;
    __atomic_store_n(&started, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argv;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* resolve before counting */
    unsigned long before = clock_reads;
    for (int i = 0; i < 100000; i++) {
        pthread_mutex_lock(&m);
        pthread_mutex_unlock(&m);
    }
    printf("clock_reads uncontended %lu\n", clock_reads - before);
    if (argc > 1) {
        before = clock_reads;
        for (int i = 0; i < 5; i++) {
            pthread_t t;
            pthread_mutex_lock(&m);
            started = 0;
            pthread_create(&t, NULL, contender, NULL);
            await_at_least(&started, 1);
            /* Until glibc's lock word says a waiter sleeps (2): really contended. */
            while (__atomic_load_n(&m.__data.__lock, __ATOMIC_ACQUIRE) != 2)
                sleep_ms(1);
            pthread_mutex_unlock(&m);
            pthread_join(t, NULL);
        }
        printf("clock_reads contended %lu\n", clock_reads - before);
    }
    return 0;
}
