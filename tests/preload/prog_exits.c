/*
 * prog_exits — ways a program ends (DESIGN §5). It runs a small convoy
 * (2 waiters in exits_waiter_wait, holder ~HOLD ms), prints its measures, then ends by HOW:
 *   return        return 0 from main
 *   thread_exit   exit(3) from a thread other than the main one
 *   _exit         _exit(4)
 *   quick_exit    quick_exit(5)
 *   abort         abort()
 *   HUP QUIT TERM INT USR1 ALRM   raise that signal (default action)
 *   PIPE          write to a pipe whose reader is gone (SIGPIPE)
 *   main_pthread_exit   pthread_exit from main while a worker runs on for 50 ms and returns:
 *                       glibc ends the process with the last thread, status 0
 *   worker_sys_exit     the same, but the worker ends with syscall(SYS_exit, 0): the kernel
 *                       ends the process with its last thread, status 0 (main's)
 *   main_sys_exit       syscall(SYS_exit, 0) from main, the last thread
 * Core dumps are off (RLIMIT_CORE 0), with or without lockprof.
 * Usage: prog_exits HOW
 */
#include <signal.h>
#include <sys/resource.h>

#include "progutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __attribute__((noinline)) void exits_waiter_wait(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
    __asm__ volatile("" ::: "memory");
}

static uint64_t exits_release(void)
{
    uint64_t t = now_ns();
    pthread_mutex_unlock(&lock);
    return t;
}

static void *exiter(void *arg)
{
    (void)arg;
    exit(3);
}

static void *worker(void *arg)
{
    sleep_ms(50);
    if (arg)
        syscall(SYS_exit, 0);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *how = argv[1];
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);

    struct small_convoy c;
    small_convoy(&lock, 30, exits_waiter_wait, exits_release, &c);
    measure("wait_total", c.wait_total);
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
    if (!strcmp(how, "main_pthread_exit") || !strcmp(how, "worker_sys_exit")) {
        pthread_t t;
        pthread_create(&t, NULL, worker, how[0] == 'w' ? (void *)1 : NULL);
        pthread_exit(NULL);
    }
    if (!strcmp(how, "main_sys_exit"))
        syscall(SYS_exit, 0);
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
