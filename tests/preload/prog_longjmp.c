/*
 * prog_longjmp — a signal handler that leaves a wait by siglongjmp (host_life.t).
 * Usage: prog_longjmp main|worker|altstack ROUNDS DIR
 *   The waiter (the main thread, or a thread it starts) and a holder thread share a mutex.
 *   altstack: the waiter is a thread whose stack is mapped low and whose handler runs on an
 *   alternate signal stack mapped above it (the jump goes from one stack to the other); after
 *   the rounds it also makes an ordinary siglongjmp (no signal) over frames it has zeroed.
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
#include <sys/mman.h>

#include "../../include/lockprof.h"
#include "progutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sigjmp_buf env, env2;
static pthread_t waiter_thread;
static int waiter_tid, phase, arrived, jumped;
static uint64_t holds;
static int rounds, altstack;
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

/* Zeroes the stack below it, where the abandoned waits' frames were, and jumps back. */
static __attribute__((noinline)) void scribble(void)
{
    volatile char pad[16384];
    for (unsigned i = 0; i < sizeof pad; i++)
        pad[i] = 0;
    siglongjmp(env2, 1);
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
    if (altstack) {
        /* Above the thread's stack (mapped low, in main). */
        void *alt = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        stack_t ss = { .ss_sp = alt, .ss_size = 65536 };
        if (alt == MAP_FAILED || sigaltstack(&ss, NULL) != 0)
            die("sigaltstack");
    }
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
    if (sigsetjmp(env2, 1) == 0)
        scribble();
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
    if (argc != 4 ||
        (strcmp(argv[1], "main") && strcmp(argv[1], "worker") && strcmp(argv[1], "altstack")))
        return 2;
    rounds = atoi(argv[2]);
    altstack = !strcmp(argv[1], "altstack");
    dir = argv[3];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = !strcmp(argv[1], "altstack") ? SA_ONSTACK : 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t h, w;
    if (!strcmp(argv[1], "main")) {
        waiter_thread = pthread_self();
        if (pthread_create(&h, NULL, holder, NULL) != 0)
            die("pthread_create");
        waiter(NULL);
    } else {
        pthread_attr_t at, *attr = NULL;
        if (!strcmp(argv[1], "altstack")) {
            size_t size = 1 << 20;
            void *stack = mmap((void *)0x10000000, size, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (stack == MAP_FAILED)
                die("mmap");
            pthread_attr_init(&at);
            pthread_attr_setstack(&at, stack, size);
            attr = &at;
        }
        if (pthread_create(&w, attr, waiter, NULL) != 0)
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
