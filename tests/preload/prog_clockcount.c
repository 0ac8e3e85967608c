/*
 * prog_clockcount — counts lockprof's clock reads. This program defines clock_gettime itself;
 * the main program's definition comes first in the lookup order, so the preloaded library's
 * calls land here too (then go to the vDSO's through dlsym(RTLD_NEXT)).
 *   uncontended: 100000 lock/unlock pairs of a free mutex, one thread
 *   contended:   main holds the mutex while a second thread blocks on it, 5 times
 *   late:        (with the argument "late") after 100 ms, when lockprof has calibrated the
 *                CPU's time-stamp counter (core/clock.h), one contention that lets it switch,
 *                then 5 more in which main holds the mutex 30 ms after the second thread
 *                sleeps in it; the thread times each lock call with a system call (not
 *                counted): "measure late_wait_ns N", their sum
 * Prints "clock_reads <phase> N" for each phase.
 */
#include <dlfcn.h>

#include "progutil.h"

#include "clockcount.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static int started;

static uint64_t late_wait_ns;

/* CLOCK_MONOTONIC by a system call: not one of the reads counted. */
static uint64_t uncounted_now_ns(void)
{
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *contender(void *arg)
{
    (void)arg;
    __atomic_store_n(&started, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    return NULL;
}

static __attribute__((noinline)) void *contender_late(void *arg)
{
    (void)arg;
    __atomic_store_n(&started, 1, __ATOMIC_RELEASE);
    uint64_t t0 = uncounted_now_ns();
    pthread_mutex_lock(&m);
    late_wait_ns += uncounted_now_ns() - t0;
    pthread_mutex_unlock(&m);
    return NULL;
}

/* Main holds the mutex until a thread running fn sleeps in it, and hold_ms more. */
static void contend_once(void *(*fn)(void *), unsigned hold_ms)
{
    pthread_t t;
    pthread_mutex_lock(&m);
    started = 0;
    pthread_create(&t, NULL, fn, NULL);
    await_at_least(&started, 1);
    /* Until glibc's lock word says a waiter sleeps (2): really contended. */
    while (__atomic_load_n(&m.__data.__lock, __ATOMIC_ACQUIRE) != 2)
        sleep_ms(1);
    if (hold_ms)
        sleep_ms(hold_ms);
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
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
        for (int i = 0; i < 5; i++)
            contend_once(contender, 0);
        printf("clock_reads contended %lu\n", clock_reads - before);
    }
    if (argc > 1 && strcmp(argv[1], "late") == 0) {
        sleep_ms(100);
        contend_once(contender, 0);
        before = clock_reads;
        for (int i = 0; i < 5; i++)
            contend_once(contender_late, 30);
        printf("clock_reads late %lu\n", clock_reads - before);
        printf("measure late_wait_ns %llu\n", (unsigned long long)late_wait_ns);
    }
    return 0;
}
