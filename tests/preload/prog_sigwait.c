/*
 * prog_sigwait — a daemon that takes SIGTERM with sigwait, as many do.
 *
 * main blocks SIGTERM before it creates any thread (so every thread it creates inherits the
 * mask), starts a worker pair that contends on a mutex until told to stop — the holder
 * (sigwait_hold) keeps the lock ~HOLD_MS ms and releases only once the other worker
 * (sigwait_contend) sleeps in it — prints "ready" once a few rounds are done, waits for
 * SIGTERM with sigwait, prints "got SIGTERM", stops and joins the workers and exits 3.
 *
 * Usage: prog_sigwait
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "progutil.h"

#define HOLD_MS 10
#define ROUNDS_BEFORE_READY 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int holding; /* the round the holder holds the lock for */
static int done;    /* rounds the contender has finished */
static int stop;

static int lock_has_sleeper(void)
{
    return __atomic_load_n(&lock.__data.__lock, __ATOMIC_ACQUIRE) == 2;
}

static int stopping(void)
{
    return __atomic_load_n(&stop, __ATOMIC_ACQUIRE);
}

static __attribute__((noinline)) void sigwait_hold(int round)
{
    pthread_mutex_lock(&lock);
    __atomic_store_n(&holding, round, __ATOMIC_RELEASE);
    sleep_ms(HOLD_MS);
    /* The contender may have been told to stop before it reached the lock. */
    while (!lock_has_sleeper() && !stopping())
        sleep_ms(1);
    pthread_mutex_unlock(&lock);
}

static __attribute__((noinline)) void sigwait_contend(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
}

static void *holder_main(void *arg)
{
    (void)arg;
    for (int r = 1; !stopping(); r++) {
        sigwait_hold(r);
        /* Next round once the contender is through this one. */
        while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < r && !stopping())
            sleep_ms(1);
    }
    return NULL;
}

static void *contender_main(void *arg)
{
    (void)arg;
    for (int r = 1; !stopping(); r++) {
        while (__atomic_load_n(&holding, __ATOMIC_ACQUIRE) < r && !stopping())
            sleep_ms(1);
        if (stopping())
            break;
        sigwait_contend();
        __atomic_store_n(&done, r, __ATOMIC_RELEASE);
    }
    return NULL;
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc) {
        errno = rc;
        die("pthread_sigmask");
    }

    pthread_t h, c;
    if (pthread_create(&h, NULL, holder_main, NULL) ||
        pthread_create(&c, NULL, contender_main, NULL))
        die("pthread_create");
    await_at_least(&done, ROUNDS_BEFORE_READY);

    printf("ready\n");
    fflush(stdout);

    int sig = 0;
    rc = sigwait(&set, &sig);
    if (rc) {
        errno = rc;
        die("sigwait");
    }
    printf("got %s\n", sig == SIGTERM ? "SIGTERM" : strsignal(sig));
    fflush(stdout);

    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(h, NULL);
    pthread_join(c, NULL);
    return 3;
}
