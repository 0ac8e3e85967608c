/*
 * prog_rawclone — a child made by a raw clone (syscall(SYS_clone, SIGCHLD, …)), which runs no
 * fork handler, outlives its parent (host_life.t). Each waits in a small convoy of its own;
 * the parent has one before the clone and one after. The child waits until its parent has
 * exited (and written its profile), then has its convoy and exits. Prints "child PID" and the
 * measured waits of each convoy: measure NAME_total and NAME_count.
 * Usage: prog_rawclone [first]   (first: no convoy before the clone, whose child is then made
 * of a process that has not entered lockprof yet)
 */
#include <signal.h>
#include <sys/syscall.h>

#include "progutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t release(void)
{
    uint64_t t = now_ns();
    pthread_mutex_unlock(&lock);
    return t;
}

static __attribute__((noinline)) void parent_before_wait(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
}

static __attribute__((noinline)) void parent_after_wait(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
}

static __attribute__((noinline)) void child_wait(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
}

static void convoy(const char *name, void (*fn)(void))
{
    struct small_convoy c;
    small_convoy(&lock, 20, fn, release, &c);
    char key[64];
    snprintf(key, sizeof key, "%s_total", name);
    measure(key, c.wait_total);
    snprintf(key, sizeof key, "%s_count", name);
    measure(key, c.wait_count);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!(argc > 1 && strcmp(argv[1], "first") == 0))
        convoy("parent_before", parent_before_wait);
    pid_t parent = getpid();
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0)
        die("clone");
    if (pid == 0) {
        alarm(30);
        while (getppid() == parent)
            sleep_ms(1);
        convoy("child", child_wait);
        exit(0);
    }
    printf("child %ld\n", pid);
    convoy("parent_after", parent_after_wait);
    return 0;
}
