/*
 * prog_sighandler — waits interrupted by a signal handler that takes locks.
 *
 * Four threads block: in pthread_mutex_lock (sig_mutex_wait), pthread_cond_wait
 * (sig_cond_wait), sem_wait (sig_sem_wait, which returns EINTR at every signal and is called
 * again) and read on a pipe (sig_read_wait). While they wait, the main thread sends each of
 * them SIGUSR1 ROUNDS times; the handler locks and unlocks a mutex that another thread keeps
 * taking in short bursts, so the handler's own lock is often contended. Then everything is
 * released. Prints the handler's count and each wait as measured (total and calls).
 * Usage: prog_sighandler [rounds]
 */
#include <errno.h>
#include <semaphore.h>
#include <signal.h>

#include "progutil.h"

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;    /* the waited-for mutex */
static pthread_mutex_t cmutex = PTHREAD_MUTEX_INITIALIZER;  /* the condition's mutex */
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t hmutex = PTHREAD_MUTEX_INITIALIZER;  /* taken by the handler */
static sem_t sem;
static int pipefd[2];
static int cond_ready, stop_hog, handled;
static int tids[4], arrived;

static void handler(int sig)
{
    (void)sig;
    int saved = errno;
    pthread_mutex_lock(&hmutex);
    __atomic_fetch_add(&handled, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&hmutex);
    errno = saved;
}

static void *hog(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_hog, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&hmutex);
        struct timespec ts = { 0, 200000 };
        nanosleep(&ts, NULL);
        pthread_mutex_unlock(&hmutex);
        sched_yield();
    }
    return NULL;
}

static uint64_t total[4], calls[4];

static void announce(int id)
{
    __atomic_store_n(&tids[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
}

static __attribute__((noinline)) void sig_mutex_wait(void)
{
    uint64_t t0 = now_ns();
    announce(0);
    pthread_mutex_lock(&held);
    total[0] += now_ns() - t0;
    calls[0]++;
    pthread_mutex_unlock(&held);
}

static __attribute__((noinline)) void sig_cond_wait(void)
{
    pthread_mutex_lock(&cmutex);
    announce(1);
    while (!cond_ready) {
        uint64_t t0 = now_ns();
        pthread_cond_wait(&cond, &cmutex);
        total[1] += now_ns() - t0;
        calls[1]++;
    }
    pthread_mutex_unlock(&cmutex);
}

static __attribute__((noinline)) void sig_sem_wait(void)
{
    announce(2);
    for (;;) {
        uint64_t t0 = now_ns();
        int rc = sem_wait(&sem);
        total[2] += now_ns() - t0;
        calls[2]++;
        if (rc == 0)
            break;
        if (errno != EINTR)
            die("sem_wait");
    }
}

static __attribute__((noinline)) void sig_read_wait(void)
{
    char c;
    announce(3);
    for (;;) {
        uint64_t t0 = now_ns();
        ssize_t n = read(pipefd[0], &c, 1);
        total[3] += now_ns() - t0;
        calls[3]++;
        if (n == 1)
            break;
        if (n < 0 && errno != EINTR)
            die("read");
    }
}

static void *waiter(void *arg)
{
    switch ((int)(intptr_t)arg) {
    case 0: sig_mutex_wait(); break;
    case 1: sig_cond_wait(); break;
    case 2: sig_sem_wait(); break;
    default: sig_read_wait(); break;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sem_init(&sem, 0, 0);
    if (pipe(pipefd) != 0)
        die("pipe");

    pthread_t h, th[4];
    pthread_create(&h, NULL, hog, NULL);
    pthread_mutex_lock(&held);
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, waiter, (void *)(intptr_t)i);
    await_at_least(&arrived, 4);
    await_all_asleep(tids, 4);
    for (int r = 0; r < rounds; r++) {
        /* One signal at a time, each handled before the next (pending signals coalesce). */
        for (int i = 0; i < 4; i++) {
            int before = __atomic_load_n(&handled, __ATOMIC_ACQUIRE);
            pthread_kill(th[i], SIGUSR1);
            await_at_least(&handled, before + 1);
        }
        sleep_ms(2);
    }
    sleep_ms(20);
    pthread_mutex_unlock(&held);
    pthread_mutex_lock(&cmutex);
    cond_ready = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&cmutex);
    sem_post(&sem);
    if (write(pipefd[1], "x", 1) != 1)
        die("write");
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    __atomic_store_n(&stop_hog, 1, __ATOMIC_RELEASE);
    pthread_join(h, NULL);

    measure("handled", (uint64_t)handled);
    static const char *names[4] = { "mutex", "cond", "sem", "read" };
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s_total", names[i]);
        measure(key, total[i]);
        snprintf(key, sizeof key, "%s_calls", names[i]);
        measure(key, calls[i]);
    }
    return 0;
}
