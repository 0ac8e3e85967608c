/*
 * prog_join — joins and barriers under the preload.
 *  1. join_wait: pthread_join of a thread that runs ~50 ms more: measure join_total.
 *  2. join_timeout: pthread_timedjoin_np with a 40 ms deadline on a thread that runs longer:
 *     ETIMEDOUT; measure timedjoin_total. (The thread is joined later, at join_rest.)
 *  3. join_clock: pthread_clockjoin_np (CLOCK_MONOTONIC, far deadline) of a thread that runs
 *     ~50 ms more: measure clockjoin_total.
 *  4. join_c11: thrd_join of a thread that runs ~50 ms more: measure thrd_join_total.
 *  5. join_finished: pthread_join of 3 threads that have already exited: no wait.
 *  6. barrier_early / barrier_last: 3 threads reach a barrier ~30 ms apart, each after the
 *     previous one is asleep in it: measure barrier_early_total (the first two),
 *     barrier_last_total (the last, which does not wait).
 *  7. join_self: pthread_join and thrd_join of the calling thread: EDEADLK, thrd_error.
 * Every result is printed; everything but the measure lines is the same with and without the
 * preload.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <threads.h>

#include "progutil.h"

static void *run_ms(void *arg)
{
    sleep_ms((unsigned)(uintptr_t)arg);
    return arg;
}

static int c11_run_ms(void *arg)
{
    sleep_ms((unsigned)(uintptr_t)arg);
    return 7;
}

static struct timespec mono_deadline_in_ms(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static __attribute__((noinline)) void join_wait(pthread_t t)
{
    void *ret;
    errno = 777;
    uint64_t t0 = now_ns();
    int rc = pthread_join(t, &ret);
    int e = errno;
    measure("join_total", now_ns() - t0);
    printf("pthread_join: %d, returned %d, errno %s\n", rc, (int)(uintptr_t)ret,
           e == 777 ? "kept" : "changed");
}

static __attribute__((noinline)) void join_timeout(pthread_t t)
{
    struct timespec ts = deadline_in_ms(40);
    uint64_t t0 = now_ns();
    int rc = pthread_timedjoin_np(t, NULL, &ts);
    measure("timedjoin_total", now_ns() - t0);
    printf("pthread_timedjoin_np: %s\n", rc == ETIMEDOUT ? "ETIMEDOUT" : strerror(rc));
}

static __attribute__((noinline)) void join_rest(pthread_t t)
{
    printf("pthread_join after the timeout: %d\n", pthread_join(t, NULL));
}

static __attribute__((noinline)) void join_clock(pthread_t t)
{
    struct timespec ts = mono_deadline_in_ms(20000);
    void *ret;
    uint64_t t0 = now_ns();
    int rc = pthread_clockjoin_np(t, &ret, CLOCK_MONOTONIC, &ts);
    measure("clockjoin_total", now_ns() - t0);
    printf("pthread_clockjoin_np: %d, returned %d\n", rc, (int)(uintptr_t)ret);
}

static __attribute__((noinline)) void join_c11(thrd_t t)
{
    int res = 0;
    errno = 777;
    uint64_t t0 = now_ns();
    int rc = thrd_join(t, &res);
    if (errno != 777)
        printf("thrd_join changed errno\n");
    measure("thrd_join_total", now_ns() - t0);
    printf("thrd_join: %s, result %d\n", rc == thrd_success ? "thrd_success" : "thrd_error", res);
}

/* 5. threads that have exited: their task is gone from /proc, so the kernel has cleared the
 * tid glibc's join waits on. */
static int finished_tid[3];

static void *announce_and_exit(void *arg)
{
    __atomic_store_n((int *)arg, thread_id(), __ATOMIC_RELEASE);
    return NULL;
}

static void await_gone(int tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", tid);
    struct stat st;
    while (stat(path, &st) == 0)
        sleep_ms(1);
}

static __attribute__((noinline)) void join_finished(pthread_t *t, int n)
{
    int rc = 0;
    for (int i = 0; i < n; i++)
        rc |= pthread_join(t[i], NULL);
    printf("joined %d finished threads: %d\n", n, rc);
}

/* 6. a barrier */
#define PARTIES 3
static pthread_barrier_t barrier;
static int go[PARTIES], party_tid[PARTIES], serial, serial_id = -1;
static uint64_t barrier_took[PARTIES];

static __attribute__((noinline)) int barrier_early(int id)
{
    uint64_t t0 = now_ns();
    int rc = pthread_barrier_wait(&barrier);
    barrier_took[id] = now_ns() - t0;
    return rc;
}

static __attribute__((noinline)) int barrier_last(int id)
{
    uint64_t t0 = now_ns();
    int rc = pthread_barrier_wait(&barrier);
    barrier_took[id] = now_ns() - t0;
    return rc;
}

static void *party(void *arg)
{
    int id = (int)(intptr_t)arg;
    await_at_least(&go[id], 1);
    __atomic_store_n(&party_tid[id], thread_id(), __ATOMIC_RELEASE);
    int rc = id < PARTIES - 1 ? barrier_early(id) : barrier_last(id);
    if (rc == PTHREAD_BARRIER_SERIAL_THREAD) {
        __atomic_fetch_add(&serial, 1, __ATOMIC_RELAXED);
        serial_id = id;
    }
    else if (rc != 0)
        die("pthread_barrier_wait");
    return NULL;
}

static void part6(void)
{
    pthread_barrier_init(&barrier, NULL, PARTIES);
    pthread_t t[PARTIES];
    for (int i = 0; i < PARTIES; i++)
        pthread_create(&t[i], NULL, party, (void *)(intptr_t)i);
    for (int i = 0; i < PARTIES; i++) {
        if (i > 0) {
            await_at_least(&party_tid[i - 1], 1);
            await_all_asleep(&party_tid[i - 1], 1); /* the previous one is in the barrier */
            sleep_ms(30);
        }
        __atomic_store_n(&go[i], 1, __ATOMIC_RELEASE);
    }
    for (int i = 0; i < PARTIES; i++)
        pthread_join(t[i], NULL);
    measure("barrier_early_total", barrier_took[0] + barrier_took[1]);
    measure("barrier_last_total", barrier_took[2]);
    printf("barrier: %d serial thread, arrival %d of %d\n", serial, serial_id + 1, PARTIES);
    pthread_barrier_destroy(&barrier);
}

static __attribute__((noinline)) void join_self(void)
{
    int rc = pthread_join(pthread_self(), NULL);
    printf("self pthread_join: %s\n", rc == EDEADLK ? "EDEADLK" : strerror(rc));
    rc = thrd_join(thrd_current(), NULL);
    printf("self thrd_join: %s\n", rc == thrd_error ? "thrd_error" : "other");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t;
    pthread_create(&t, NULL, run_ms, (void *)(uintptr_t)50);
    join_wait(t);

    pthread_create(&t, NULL, run_ms, (void *)(uintptr_t)150);
    join_timeout(t);
    join_rest(t);

    pthread_create(&t, NULL, run_ms, (void *)(uintptr_t)50);
    join_clock(t);

    thrd_t c;
    thrd_create(&c, c11_run_ms, (void *)(uintptr_t)50);
    join_c11(c);

    pthread_t f[3];
    for (int i = 0; i < 3; i++) {
        pthread_create(&f[i], NULL, announce_and_exit, &finished_tid[i]);
        await_at_least(&finished_tid[i], 1);
        await_gone(finished_tid[i]);
    }
    join_finished(f, 3);

    part6();
    join_self();
    return 0;
}
