/*
 * prog_sigterm — a program that is told to stop with a signal.
 *
 * It first makes some contention so that the profiles have something in them: a holder
 * thread holds a mutex ~HOLD_MS ms (in sigterm_hold) while a waiter blocks on it (in
 * sigterm_contend), for ROUNDS rounds. The holder releases only once the waiter is really
 * asleep in the lock (glibc's lock word reads 2, "locked with waiters"), so every round is
 * contended however loaded the machine is, and the next round starts only once the waiter is
 * through (one wait per round). Then it prints "ready" and blocks for ever: the
 * main thread in a pthread_cond_wait loop, another thread in a pause() loop.
 *
 * Usage: prog_sigterm [MODE]
 *   (none)          as above; dies of whatever signal it is sent
 *   handler         installs its own SIGTERM handler with sigaction() first; the handler
 *                   prints "handled" and the program exits 5 (through exit(), from main)
 *   signal-handler  the same, with the handler installed by signal()
 *   query           prints what sigaction(SIGTERM, NULL, &old), sigaction(SIGINT, NULL, &old)
 *                   and signal(SIGTERM, SIG_DFL) report, then carries on as (none)
 */
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "progutil.h"

#define ROUNDS 4
#define HOLD_MS 10

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int holding; /* the round the holder holds the lock for */
static int done;    /* rounds the waiter is through */

static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;

static sem_t quit;

/* Whether some thread sleeps in the lock (glibc's lowlevellock: 2 = locked, with waiters). */
static int lock_has_sleeper(void)
{
    return __atomic_load_n(&lock.__data.__lock, __ATOMIC_ACQUIRE) == 2;
}

static __attribute__((noinline)) void sigterm_hold(int round)
{
    pthread_mutex_lock(&lock);
    __atomic_store_n(&holding, round, __ATOMIC_RELEASE);
    sleep_ms(HOLD_MS);
    while (!lock_has_sleeper())
        sleep_ms(1);
    pthread_mutex_unlock(&lock);
}

static __attribute__((noinline)) void sigterm_contend(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
}

static void *holder_main(void *arg)
{
    (void)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        sigterm_hold(r);
        /* Not the next round before the waiter is through this one: one wait per round. */
        await_at_least(&done, r);
    }
    return NULL;
}

static void *waiter_main(void *arg)
{
    (void)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        await_at_least(&holding, r);
        sigterm_contend();
        __atomic_store_n(&done, r, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void *pauser_main(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void on_sigterm(int sig)
{
    (void)sig;
    static const char msg[] = "handled\n";
    ssize_t unused = write(STDOUT_FILENO, msg, sizeof msg - 1);
    (void)unused;
    sem_post(&quit);
}

static const char *disposition(int sig)
{
    struct sigaction old;
    memset(&old, 0xa5, sizeof old); /* so that a field left unset cannot pass for SIG_DFL */
    if (sigaction(sig, NULL, &old) != 0)
        die("sigaction");
    if (old.sa_flags & SA_SIGINFO)
        return "SA_SIGINFO";
    return old.sa_handler == SIG_DFL ? "SIG_DFL" : old.sa_handler == SIG_IGN ? "SIG_IGN" : "other";
}

/* What the program sees of the two signals lockprof may stand in for. */
static void query(void)
{
    printf("sigaction SIGTERM handler %s\n", disposition(SIGTERM));
    printf("sigaction SIGINT handler %s\n", disposition(SIGINT)); /* only looked at */
    sighandler_t prev = signal(SIGTERM, SIG_DFL);
    printf("signal SIGTERM returned %s\n",
           prev == SIG_DFL ? "SIG_DFL" : prev == SIG_ERR ? "SIG_ERR" : "other");
    printf("sigaction SIGTERM after signal %s\n", disposition(SIGTERM));
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int handled = 0;

    if (sem_init(&quit, 0, 0) != 0)
        die("sem_init");
    if (strcmp(mode, "handler") == 0) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigterm;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGTERM, &sa, NULL) != 0)
            die("sigaction");
        if (sigaction(SIGTERM, NULL, &old) != 0)
            die("sigaction");
        printf("own handler %s\n", old.sa_handler == on_sigterm ? "installed" : "missing");
        handled = 1;
    } else if (strcmp(mode, "signal-handler") == 0) {
        sighandler_t prev = signal(SIGTERM, on_sigterm);
        printf("signal SIGTERM returned %s\n", prev == SIG_DFL ? "SIG_DFL" : "other");
        sighandler_t mine = signal(SIGTERM, on_sigterm);
        printf("own handler %s\n", mine == on_sigterm ? "installed" : "missing");
        handled = 1;
    } else if (strcmp(mode, "query") == 0) {
        query();
    } else if (mode[0]) {
        fprintf(stderr, "usage: prog_sigterm [handler|signal-handler|query]\n");
        return 2;
    }

    pthread_t h, w, p;
    if (pthread_create(&h, NULL, holder_main, NULL) || pthread_create(&w, NULL, waiter_main, NULL))
        die("pthread_create");
    pthread_join(h, NULL);
    pthread_join(w, NULL);
    if (pthread_create(&p, NULL, pauser_main, NULL))
        die("pthread_create");

    printf("ready\n");
    fflush(stdout);

    if (handled) {
        while (sem_wait(&quit) != 0) {
            if (errno != EINTR)
                die("sem_wait");
        }
        exit(5);
    }
    pthread_mutex_lock(&idle_lock);
    for (;;)
        pthread_cond_wait(&idle_cond, &idle_lock);
}
