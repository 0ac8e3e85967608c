/*
 * prog_forkwrite — forks while another thread writes the profiles (DESIGN §5).
 *
 * The parent records a convoy, then a thread calls lockprof_write_profiles() in a loop while
 * the main thread forks N children one after the other. A fork does not wait for a write in
 * progress: a child forked in the middle of one inherits the writer half-way through it. Each
 * child runs its own convoy (two waiters on a lock it holds HOLD ms) and exits, writing its
 * profiles at exit. Prints, per child, "child PID WAIT_TOTAL_NS", then
 *   measure children_ok, forks_during_write
 * Usage: prog_forkwrite [children] [hold_ms]
 */
#include <dlfcn.h>
#include <sys/wait.h>

#include "progutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned hold_ms = 20;
static int stop;
static unsigned long started, done; /* the writer's calls; atomic */

static __attribute__((noinline)) void parent_wait(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void forked_child_wait(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
    __asm__ volatile("" ::: "memory");
}

static uint64_t release(void)
{
    uint64_t t = now_ns();
    pthread_mutex_unlock(&lock);
    return t;
}

static void *writer_main(void *arg)
{
    int (*write_profiles)(void) = (int (*)(void))arg;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&started, 1, __ATOMIC_ACQ_REL);
        write_profiles();
        __atomic_fetch_add(&done, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 30;
    if (argc > 2)
        hold_ms = (unsigned)atoi(argv[2]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int (*write_profiles)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "lockprof_write_profiles");
    if (!write_profiles) {
        fprintf(stderr, "lockprof_write_profiles not found: run under the preload\n");
        return 2;
    }
    struct small_convoy c;
    small_convoy(&lock, hold_ms, parent_wait, release, &c);
    pthread_t writer;
    if (pthread_create(&writer, NULL, writer_main, (void *)write_profiles) != 0)
        die("pthread_create");
    int ok = 0, during = 0;
    for (int i = 0; i < n; i++) {
        unsigned long s0 = __atomic_load_n(&started, __ATOMIC_ACQUIRE);
        unsigned long d0 = __atomic_load_n(&done, __ATOMIC_ACQUIRE);
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            small_convoy(&lock, hold_ms, forked_child_wait, release, &c);
            printf("child %d %llu %llu\n", (int)getpid(), (unsigned long long)c.wait_total,
                   (unsigned long long)c.asleep_total);
            exit(0);
        }
        /* The write that was going on before the fork was still going on after it. */
        if (s0 == d0 + 1 && __atomic_load_n(&done, __ATOMIC_ACQUIRE) == d0)
            during++;
        int status;
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
        else
            fprintf(stderr, "child %d: status %d\n", (int)pid, status);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(writer, NULL);
    measure("children_ok", (uint64_t)ok);
    measure("forks_during_write", (uint64_t)during);
    return 0;
}
