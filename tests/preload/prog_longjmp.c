/*
 * prog_longjmp — a signal handler that leaves a wait by siglongjmp (host_life.t).
 * Usage: prog_longjmp main|worker ROUNDS DIR
 *   The waiter (the main thread, or a thread it starts) and a holder thread share a mutex.
 *   ROUNDS times: the holder takes it, the waiter calls pthread_mutex_lock in abandoned_wait
 *   and sleeps there; the holder sends it SIGUSR1, whose handler siglongjmps out of the wait,
 *   and then lets the mutex go. Then 20 rounds of an ordinary wait (measured_wait) for the
 *   mutex the holder keeps 20 ms after the waiter fell asleep, measured with the program's clock.
 *   Last, when lockprof is there, the waiter asks it for the profiles and the threads view
 *   (DIR/threads.txt).
 * Prints the rounds, "measure waits NS" (the 20 waits), "measure holds NS" (the holder's 20
 * holds from the waiter's sleep to its unlock) and "write_profiles RC" ("none" without lockprof).
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>

#include "../../include/lockprof.h"
#include "progutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sigjmp_buf env;
static pthread_t waiter_thread;
static int waiter_tid, phase, arrived, jumped;
static uint64_t holds;
static int rounds;
static const char *dir;

static void on_usr1(int sig)
{
    (void)sig;
    siglongjmp(env, 1);
}

static __attribute__((noinline)) void abandoned_wait(void)
{
    pthread_mutex_lock(&lock); /* the holder has it; left only by the handler's siglongjmp */
    printf("abandoned_wait returned\n");
    exit(98);
}

static __attribute__((noinline)) uint64_t measured_wait(void)
{
    uint64_t t0 = now_ns();
    pthread_mutex_lock(&lock);
    uint64_t t = now_ns() - t0;
    pthread_mutex_unlock(&lock);
    return t;
}

/* Each round: the holder takes the mutex at phase 2r+1; the waiter waits in it; the holder
 * ends the wait (a signal, or its unlock) and the round ends at 2r+2. */
static void *holder(void *arg)
{
    (void)arg;
    for (int r = 0; r < rounds + 20; r++) {
        pthread_mutex_lock(&lock);
        __atomic_store_n(&phase, 2 * r + 1, __ATOMIC_RELEASE);
        await_at_least(&arrived, r + 1); /* it calls the lock next: its only sleep */
        while (!thread_sleeping(__atomic_load_n(&waiter_tid, __ATOMIC_ACQUIRE)))
            sleep_ms(1);
        if (r < rounds) {
            pthread_kill(waiter_thread, SIGUSR1);
            await_at_least(&jumped, r + 1);
            pthread_mutex_unlock(&lock);
        } else {
            uint64_t t0 = now_ns();
            sleep_ms(20);
            pthread_mutex_unlock(&lock);
            holds += now_ns() - t0;
        }
        await_at_least(&phase, 2 * r + 2);
    }
    return NULL;
}

static void *waiter(void *arg)
{
    (void)arg;
    __atomic_store_n(&waiter_tid, thread_id(), __ATOMIC_RELEASE);
    for (int r = 0; r < rounds; r++) {
        await_at_least(&phase, 2 * r + 1);
        if (sigsetjmp(env, 1) == 0) {
            __atomic_store_n(&arrived, r + 1, __ATOMIC_RELEASE);
            abandoned_wait();
        }
        __atomic_store_n(&jumped, r + 1, __ATOMIC_RELEASE);
        __atomic_store_n(&phase, 2 * r + 2, __ATOMIC_RELEASE);
    }
    printf("abandoned %d\n", rounds);
    uint64_t waits = 0;
    for (int r = rounds; r < rounds + 20; r++) {
        await_at_least(&phase, 2 * r + 1);
        __atomic_store_n(&arrived, r + 1, __ATOMIC_RELEASE);
        waits += measured_wait();
        __atomic_store_n(&phase, 2 * r + 2, __ATOMIC_RELEASE);
    }
    measure("waits", waits);

    int (*write_profiles)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "lockprof_write_profiles");
    int (*write_profile)(int, int, int) =
        (int (*)(int, int, int))dlsym(RTLD_DEFAULT, "lockprof_write_profile");
    if (write_profiles && write_profile) {
        printf("write_profiles %d\n", write_profiles());
        char path[512];
        snprintf(path, sizeof path, "%s/threads.txt", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            die("open");
        printf("write threads %d\n", write_profile(LOCKPROF_THREADS, fd, LOCKPROF_TEXT));
        close(fd);
    } else {
        printf("write_profiles none\nwrite threads none\n");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "main") && strcmp(argv[1], "worker")))
        return 2;
    rounds = atoi(argv[2]);
    dir = argv[3];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t h, w;
    if (!strcmp(argv[1], "main")) {
        waiter_thread = pthread_self();
        if (pthread_create(&h, NULL, holder, NULL) != 0)
            die("pthread_create");
        waiter(NULL);
    } else {
        if (pthread_create(&w, NULL, waiter, NULL) != 0)
            die("pthread_create");
        waiter_thread = w;
        if (pthread_create(&h, NULL, holder, NULL) != 0)
            die("pthread_create");
        pthread_join(w, NULL);
    }
    pthread_join(h, NULL);
    measure("holds", holds);
    return 0;
}
