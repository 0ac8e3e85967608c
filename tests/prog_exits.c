/*
 * prog_exits — ways a program ends (DESIGN §5, issue #3 item 8). It runs a small convoy
 * (2 waiters in exits_waiter_wait, holder ~HOLD ms), prints its measures, then ends by HOW:
 *   return        return 0 from main
 *   thread_exit   exit(3) from a thread other than the main one
 *   _exit         _exit(4)
 *   quick_exit    quick_exit(5)
 *   abort         abort()
 *   HUP QUIT TERM INT USR1 ALRM   raise that signal (default action)
 *   PIPE          write to a pipe whose reader is gone (SIGPIPE)
 * Core dumps are off (RLIMIT_CORE 0), with or without lockprof.
 * Usage: prog_exits HOW
 */
#include <signal.h>
#include <sys/resource.h>

#include "progutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int arrived, tids[2];
static uint64_t wait_total;

static __attribute__((noinline)) void exits_waiter_wait(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
    __asm__ volatile("" ::: "memory");
}

static void *waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t t0 = now_ns();
    __atomic_store_n(&tids[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    exits_waiter_wait();
    __atomic_fetch_add(&wait_total, now_ns() - t0, __ATOMIC_RELAXED);
    return NULL;
}

static void *exiter(void *arg)
{
    (void)arg;
    exit(3);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *how = argv[1];
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);

    pthread_t th[2];
    pthread_mutex_lock(&lock);
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, waiter, (void *)(intptr_t)i) != 0)
            die("pthread_create");
    await_at_least(&arrived, 2);
    await_all_asleep(tids, 2);
    sleep_ms(30);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    measure("wait_total", wait_total);
    fflush(stdout);

    static const struct { const char *name; int sig; } sigs[] = {
        { "HUP", SIGHUP }, { "QUIT", SIGQUIT }, { "TERM", SIGTERM }, { "INT", SIGINT },
        { "USR1", SIGUSR1 }, { "ALRM", SIGALRM },
    };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (!strcmp(how, sigs[i].name)) {
            raise(sigs[i].sig);
            return 98; /* not reached: the default action ends the process */
        }
    if (!strcmp(how, "return"))
        return 0;
    if (!strcmp(how, "thread_exit")) {
        pthread_t t;
        pthread_create(&t, NULL, exiter, NULL);
        pthread_join(t, NULL); /* never returns: the process exits meanwhile */
        return 97;
    }
    if (!strcmp(how, "_exit"))
        _exit(4);
    if (!strcmp(how, "quick_exit"))
        quick_exit(5);
    if (!strcmp(how, "abort"))
        abort();
    if (!strcmp(how, "PIPE")) {
        int p[2];
        if (pipe(p) != 0)
            die("pipe");
        close(p[0]);
        ssize_t n = write(p[1], "x", 1);
        (void)n;
        return 96; /* not reached */
    }
    return 2;
}
