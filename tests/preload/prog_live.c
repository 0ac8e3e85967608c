/*
 * prog_live — a daemon the tests talk to while it runs (live profiles). It reads one
 * command per line on stdin and answers on stdout (flushed), so a test can interleave its own
 * requests (HTTP, signals) with the program's contention:
 *   convoy HOLD_MS     2 threads wait in live_convoy_wait while main holds the mutex HOLD_MS
 *                      after both are asleep; prints "convoy WAIT_NS COUNT OWED_NS" (Σ waits
 *                      as measured, their number, and what the release owes)
 *   block              a thread blocks in live_blocked_wait on a mutex main holds; prints
 *                      "blocked WAITER_TID HOLDER_TID 0xMUTEX" once it is asleep in the call
 *   unblock            main releases it; prints "unblocked WAIT_NS"
 *   deadlock           two threads lock A then B and B then A: prints "deadlock TID1 TID2
 *                      0xA 0xB" once both are asleep (they stay so until the process exits)
 *   closefrom          closes every descriptor above 2; prints "closed"
 *   snapshot           lockprof_snapshot() found with dlsym; prints "snapshot N"
 *   trap               installs its own SIGUSR2 handler (counting); prints "trapped"
 *   traps              prints "traps N", the number of SIGUSR2 its handler saw
 *   fork               forks a child that prints "child rates BLOCK_RATE FRACTION" (read
 *                      through the API) and exits
 *   system             runs system("exec true") (a shell, under the preload too); "system S"
 *   exit               exits 0 (end of input too)
 * It prints "ready PID" first.
 */
#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>

#include "progutil.h"

static pthread_mutex_t convoy_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t dl_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t dl_b = PTHREAD_MUTEX_INITIALIZER;

static __attribute__((noinline)) void live_convoy_wait(void)
{
    pthread_mutex_lock(&convoy_lock);
    pthread_mutex_unlock(&convoy_lock);
}

static __attribute__((noinline)) uint64_t live_convoy_release(void)
{
    uint64_t t = now_ns();
    pthread_mutex_unlock(&convoy_lock);
    return t;
}

static int blocked_tid;
static uint64_t blocked_wait;

static __attribute__((noinline)) void *live_blocked_wait(void *arg)
{
    (void)arg;
    uint64_t t0 = now_ns();
    __atomic_store_n(&blocked_tid, thread_id(), __ATOMIC_RELEASE);
    pthread_mutex_lock(&block_lock);
    blocked_wait = now_ns() - t0;
    pthread_mutex_unlock(&block_lock);
    return NULL;
}

static int dl_tids[2], dl_holding;

static __attribute__((noinline)) void *live_deadlock(void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_mutex_t *first = id ? &dl_b : &dl_a, *second = id ? &dl_a : &dl_b;
    pthread_mutex_lock(first);
    __atomic_fetch_add(&dl_holding, 1, __ATOMIC_ACQ_REL);
    await_at_least(&dl_holding, 2); /* both hold their first before either asks for its second */
    __atomic_store_n(&dl_tids[id], thread_id(), __ATOMIC_RELEASE);
    pthread_mutex_lock(second); /* never returns */
    return NULL;
}

static volatile sig_atomic_t traps;

static void on_usr2(int sig)
{
    (void)sig;
    traps++;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready %d\n", (int)getpid());
    char line[256];
    pthread_t blocked;
    while (fgets(line, sizeof line, stdin)) {
        unsigned ms;
        if (sscanf(line, "convoy %u", &ms) == 1) {
            struct small_convoy c;
            small_convoy(&convoy_lock, ms, live_convoy_wait, live_convoy_release, &c);
            printf("convoy %llu %llu %llu\n", (unsigned long long)c.wait_total,
                   (unsigned long long)c.wait_count, (unsigned long long)c.owed);
        } else if (strncmp(line, "block", 5) == 0) {
            pthread_mutex_lock(&block_lock);
            blocked_tid = 0;
            if (pthread_create(&blocked, NULL, live_blocked_wait, NULL))
                die("pthread_create");
            await_at_least(&blocked_tid, 1);
            int tid = blocked_tid;
            await_all_asleep(&tid, 1);
            printf("blocked %d %d %p\n", tid, thread_id(), (void *)&block_lock);
        } else if (strncmp(line, "unblock", 7) == 0) {
            pthread_mutex_unlock(&block_lock);
            pthread_join(blocked, NULL);
            printf("unblocked %llu\n", (unsigned long long)blocked_wait);
        } else if (strncmp(line, "deadlock", 8) == 0) {
            pthread_t t[2];
            for (intptr_t i = 0; i < 2; i++)
                if (pthread_create(&t[i], NULL, live_deadlock, (void *)i))
                    die("pthread_create");
            await_at_least(&dl_tids[0], 1);
            await_at_least(&dl_tids[1], 1);
            await_all_asleep(dl_tids, 2);
            printf("deadlock %d %d %p %p\n", dl_tids[0], dl_tids[1], (void *)&dl_a,
                   (void *)&dl_b);
        } else if (strncmp(line, "closefrom", 9) == 0) {
            closefrom(3);
            printf("closed\n");
        } else if (strncmp(line, "snapshot", 8) == 0) {
            int (*snap)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "lockprof_snapshot");
            printf("snapshot %d\n", snap ? snap() : -1);
        } else if (strncmp(line, "traps", 5) == 0) {
            printf("traps %d\n", (int)traps);
        } else if (strncmp(line, "trap", 4) == 0) {
            signal(SIGUSR2, on_usr2);
            printf("trapped\n");
        } else if (strncmp(line, "fork", 4) == 0) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                int64_t (*rate)(int64_t) =
                    (int64_t (*)(int64_t))dlsym(RTLD_DEFAULT, "lockprof_set_block_rate");
                int64_t (*frac)(int64_t) =
                    (int64_t (*)(int64_t))dlsym(RTLD_DEFAULT, "lockprof_set_mutex_fraction");
                int64_t r = rate ? rate(0) : -1; /* the previous rate; 0 is what it was */
                printf("child rates %lld %lld\n", (long long)r, (long long)(frac ? frac(-1) : -1));
                fflush(stdout);
                _exit(0);
            }
            waitpid(pid, NULL, 0);
        } else if (strncmp(line, "system", 6) == 0) {
            printf("system %d\n", system("exec true"));
        } else if (strncmp(line, "exit", 4) == 0) {
            break;
        } else {
            printf("unknown command: %s", line);
        }
    }
    /* Deadlocked threads never return: exit without joining them (the exit-time profile is
     * still written). */
    exit(0);
}
