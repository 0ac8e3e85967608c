/*
 * prog_scrape — contention for scrape.t, in which the same call stack ends in different leaves:
 * what a scraper that tells samples apart by their frames' addresses must not merge.
 *
 * Two threads take turns, round after round, on futexes through libc's syscall(), all from one
 * call site each (scrape_futex, called once in scrape_waiter and once in scrape_waker):
 *   - rounds 0, 1, 2 (mod 4): the waiter sleeps in FUTEX_WAIT on a word the waker sets and
 *     then wakes with FUTEX_WAKE, FUTEX_REQUEUE or FUTEX_WAKE_OP (leaves futex_wait; futex_wake,
 *     futex_requeue, futex_wake_op);
 *   - round 3: the waker owns a priority-inheritance lock, the waiter sleeps in FUTEX_LOCK_PI,
 *     the waker unlocks with FUTEX_UNLOCK_PI (leaves futex_lock_pi; futex_unlock_pi).
 * So the block profile has two leaves on the waiter's one stack, the mutex profile four on the
 * waker's. The waker holds each round 1 ms after the waiter is asleep, then wakes it. A third
 * thread, for the CPU profile, burns 2 ms of its CPU time in scrape_spin every 10 ms.
 *
 * Commands, one per line on stdin:
 *   run    starts the three threads; prints "running"
 *   stop   ends them after their round; prints "stopped ROUNDS" once all have returned
 *   exit   exits 0 (end of input too)
 * It prints "ready PID" first.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdbool.h>

#include "progutil.h"

static uint32_t word, word2, pi_word;
static int round_go, round_done, in_call, waiter_tid, stopping;
static int waiter_pi; /* the round's kind for the waiter: 1 for FUTEX_LOCK_PI */

/* The one call site of syscall(SYS_futex) of each thread: its return address is the same
 * whatever op is. */
static __attribute__((noinline)) long scrape_futex(uint32_t *w, int op, uint32_t val,
                                                   uint32_t *w2, uint32_t val3)
{
    return syscall(SYS_futex, w, op, val, NULL, w2, val3);
}

static int round_kind(int r)
{
    return r % 4;
}

static __attribute__((noinline)) void *scrape_waiter(void *arg)
{
    (void)arg;
    __atomic_store_n(&waiter_tid, thread_id(), __ATOMIC_RELEASE);
    for (int r = 1;; r++) {
        await_at_least(&round_go, r);
        if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE) &&
            __atomic_load_n(&round_go, __ATOMIC_ACQUIRE) > r)
            break; /* the waker's last word: no round r */
        static uint32_t *const words[2] = { &word, &pi_word };
        static const int ops[2] = { FUTEX_WAIT_PRIVATE, FUTEX_LOCK_PI_PRIVATE };
        /* The kind is read again (an atomic the compiler cannot know) before and after the
         * call, so that it does not duplicate the call for each kind: one call site. */
        for (;;) {
            int pi = __atomic_load_n(&waiter_pi, __ATOMIC_ACQUIRE);
            if (!pi && __atomic_load_n(&word, __ATOMIC_ACQUIRE))
                break;
            __atomic_store_n(&in_call, r, __ATOMIC_RELEASE);
            long rc = scrape_futex(words[pi], ops[pi], 0, NULL, 0);
            int err = errno;
            if (__atomic_load_n(&waiter_pi, __ATOMIC_ACQUIRE)) {
                if (rc == 0)
                    break; /* the lock is ours */
                if (err != EINTR && err != EAGAIN)
                    die("FUTEX_LOCK_PI");
            }
        }
        bool pi = __atomic_load_n(&waiter_pi, __ATOMIC_ACQUIRE);
        if (pi) {
            uint32_t me = (uint32_t)thread_id();
            if (!__atomic_compare_exchange_n(&pi_word, &me, 0, false, __ATOMIC_RELEASE,
                                             __ATOMIC_RELAXED))
                syscall(SYS_futex, &pi_word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
        } else {
            __atomic_store_n(&word, 0, __ATOMIC_RELEASE);
        }
        __atomic_store_n(&round_done, r, __ATOMIC_RELEASE);
    }
    return NULL;
}

static __attribute__((noinline)) void *scrape_waker(void *arg)
{
    int *rounds = arg;
    static const int ops[4] = { FUTEX_WAKE_PRIVATE, FUTEX_REQUEUE_PRIVATE,
                                FUTEX_WAKE_OP_PRIVATE, FUTEX_UNLOCK_PI_PRIVATE };
    await_at_least(&waiter_tid, 1);
    int r = 1;
    for (; !__atomic_load_n(&stopping, __ATOMIC_ACQUIRE); r++) {
        int kind = round_kind(r);
        if (kind == 3)
            __atomic_store_n(&pi_word, (uint32_t)thread_id(), __ATOMIC_RELEASE);
        __atomic_store_n(&waiter_pi, kind == 3, __ATOMIC_RELEASE);
        __atomic_store_n(&round_go, r, __ATOMIC_RELEASE);
        await_at_least(&in_call, r);
        await_all_asleep(&waiter_tid, 1);
        sleep_ms(1);
        if (kind != 3)
            __atomic_store_n(&word, 1, __ATOMIC_RELEASE);
        /* FUTEX_REQUEUE and FUTEX_WAKE_OP read their second count where the timeout goes
         * (NULL: 0): wake 1 on word, requeue or wake none on word2. */
        scrape_futex(kind == 3 ? &pi_word : &word, ops[kind], 1, &word2,
                     FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_EQ, 1));
        await_at_least(&round_done, r);
    }
    __atomic_store_n(&round_go, r + 1, __ATOMIC_RELEASE); /* past the round it waits for */
    *rounds = r - 1;
    return NULL;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static __attribute__((noinline)) void scrape_spin(void)
{
    uint64_t until = thread_cpu_ns() + 2000000;
    while (thread_cpu_ns() < until)
        ;
}

static void *scrape_spinner(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) {
        scrape_spin();
        sleep_ms(8);
    }
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready %d\n", (int)getpid());
    char line[256];
    pthread_t waiter, waker, spinner;
    int rounds = 0;
    bool running = false;
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "run", 3) == 0 && !running) {
            if (pthread_create(&waiter, NULL, scrape_waiter, NULL) ||
                pthread_create(&waker, NULL, scrape_waker, &rounds) ||
                pthread_create(&spinner, NULL, scrape_spinner, NULL))
                die("pthread_create");
            running = true;
            printf("running\n");
        } else if (strncmp(line, "stop", 4) == 0 && running) {
            __atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
            pthread_join(waker, NULL);
            pthread_join(waiter, NULL);
            pthread_join(spinner, NULL);
            running = false;
            printf("stopped %d\n", rounds);
        } else if (strncmp(line, "exit", 4) == 0) {
            break;
        } else {
            printf("unknown command: %s", line);
        }
    }
    return 0;
}
