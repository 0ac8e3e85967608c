/*
 * prog_fork — fork while three threads are registered waiters on a mutex (DESIGN §5).
 *
 * The parent holds `lock`; three threads queue on it and are asleep in pthread_mutex_lock.
 * The parent forks. The child (one thread, holding its copy of `lock`) releases it and runs
 * its own convoy: it holds `lock` ~HOLD ms while two new threads wait. Its profile must show
 * exactly its two waits and charge its holder exactly that (no phantom parent waiters). The
 * parent holds on ~HOLD ms after the fork, then releases its three waiters; its profile is its
 * own. Prints, the child first:
 *   measure child_pid, child_wait_total, child_wait_count, child_owed
 *   measure parent_wait_total, parent_wait_count, parent_owed, child_status
 * Usage: prog_fork [hold_ms]
 */
#include <sys/wait.h>

#include "progutil.h"

#define MAXW 3

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned hold_ms = 40;
static int arrived, tids[MAXW];
static uint64_t starts[MAXW], wait_total, wait_count;

struct waiter {
    int id;
    void (*wait)(int id);
};

static void waiter_body(int id)
{
    uint64_t t0 = now_ns();
    starts[id] = t0;
    __atomic_store_n(&tids[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&lock);
    __atomic_fetch_add(&wait_total, now_ns() - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&wait_count, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lock);
}

static __attribute__((noinline)) void parent_waiter_wait(int id)
{
    waiter_body(id);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void child_waiter_wait(int id)
{
    waiter_body(id);
    __asm__ volatile("" ::: "memory");
}

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    w->wait(w->id);
    return NULL;
}

static __attribute__((noinline)) uint64_t parent_holder_release(void)
{
    uint64_t t = now_ns();
    pthread_mutex_unlock(&lock);
    return t;
}

static __attribute__((noinline)) uint64_t child_holder_release(void)
{
    uint64_t t = now_ns();
    pthread_mutex_unlock(&lock);
    return t;
}

/* Starts n waiters on `lock` (held by the caller) and returns once all are asleep in it. */
static void start_waiters(pthread_t *th, struct waiter *w, int n, void (*fn)(int))
{
    arrived = 0;
    for (int i = 0; i < n; i++) {
        tids[i] = 0;
        w[i] = (struct waiter){ i, fn };
        if (pthread_create(&th[i], NULL, waiter_main, &w[i]) != 0)
            die("pthread_create");
    }
    await_at_least(&arrived, n);
    await_all_asleep(tids, n);
}

static void child(void)
{
    /* The parent's waiters do not exist here; `lock` is held by this thread's copy. */
    pthread_mutex_unlock(&lock);
    wait_total = wait_count = 0;
    pthread_t th[2];
    struct waiter w[2];
    pthread_mutex_lock(&lock);
    start_waiters(th, w, 2, child_waiter_wait);
    sleep_ms(hold_ms);
    uint64_t released = child_holder_release();
    uint64_t owed = 0;
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        owed += released - starts[i];
    }
    measure("child_pid", (uint64_t)getpid());
    measure("child_wait_total", wait_total);
    measure("child_wait_count", wait_count);
    measure("child_owed", owed);
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        hold_ms = (unsigned)atoi(argv[1]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t th[MAXW];
    struct waiter w[MAXW];
    pthread_mutex_lock(&lock);
    start_waiters(th, w, MAXW, parent_waiter_wait);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        child();
    sleep_ms(hold_ms);
    uint64_t released = parent_holder_release();
    uint64_t owed = 0;
    for (int i = 0; i < MAXW; i++) {
        pthread_join(th[i], NULL);
        owed += released - starts[i];
    }
    int st;
    if (waitpid(pid, &st, 0) != pid)
        die("waitpid");
    measure("parent_wait_total", wait_total);
    measure("parent_wait_count", wait_count);
    measure("parent_owed", owed);
    measure("child_status", (uint64_t)st);
    return 0;
}
