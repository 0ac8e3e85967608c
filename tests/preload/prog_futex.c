/*
 * prog_futex — a program that blocks on futexes through libc's syscall() itself, as Rust's std,
 * GLib and libstdc++ do (futex.t). Each mode measures its own waits around each futex call
 * (the calls that returned 0, or timed out, or were interrupted: those that slept) and prints
 * "measure KEY VALUE" lines; everything else it prints is the same with and without lockprof.
 *
 *   convoy ROUNDS HOLD_MS  a three-state futex mutex (0 free, 1 locked, 2 locked with
 *           sleepers; FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE 1): a holder holds it HOLD_MS
 *           while 3 waiters sleep in fm_sleep, ROUNDS rounds; each woken waiter takes the lock
 *           and releases it in turn (fm_unlock, waking the next).
 *           wait_total, wait_count: the sleeps in fm_sleep; holder_owed: Σ over the waiters
 *           of (the holder's release − the start of the sleep it ended), what
 *           convoy_release should be charged
 *   handoff ROUNDS HOLD_MS  a condition-style hand-off: a waiter sleeps in cond_sleep on a
 *           sequence word (FUTEX_WAIT_BITSET_PRIVATE, as Rust's Condvar) until the notifier,
 *           HOLD_MS after the waiter fell asleep, increments it and wakes one in cond_notify.
 *           cond_wait_total, cond_wait_count, cond_owed
 *   eagain N  N waits on a word that does not hold the expected value (EAGAIN at once: not a
 *           wait), in eagain_call; a wake of nobody and a FUTEX_TRYLOCK_PI keep errno
 *   timeout MS  waits nobody ends, each MS long: a relative FUTEX_WAIT (timeout_relative),
 *           FUTEX_WAIT_BITSET on CLOCK_MONOTONIC (timeout_bitset) and with FUTEX_CLOCK_REALTIME
 *           (timeout_realtime), absolute; and a FUTEX_WAIT whose operation and value have
 *           garbage in the upper halves of their registers (timeout_garbage: the kernel reads
 *           32-bit ints). timeout_total, timeout_count
 *   pi HOLD_MS  a priority-inheritance lock: the main thread owns the word (its tid), a waiter
 *           sleeps in FUTEX_LOCK_PI (pi_lock), the main thread unlocks with FUTEX_UNLOCK_PI
 *           after HOLD_MS (pi_release). pi_wait, pi_owed
 *   signal HOLD_MS  the main thread sleeps in sig_wait; a helper thread raises SIGUSR1 at
 *           itself HOLD_MS after, and the handler wakes the main thread (sig_wake), as folly
 *           wakes from signal handlers. sig_wait, sig_owed
 *   threads FILE  a thread sleeps in FUTEX_WAIT on word_a, another in FUTEX_LOCK_PI on word_b
 *           owned by the main thread; the main thread writes lockprof's threads view to FILE
 *           (when lockprof is there) and prints "waiter TID on ADDR" for each, and "main TID"
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdbool.h>

#include "progutil.h"

#define WAITERS 3

/* Inlined: the caller of syscall() is the named function the profiles show. */
static inline __attribute__((always_inline)) long futex(uint32_t *w, long op, long val,
                                                        const struct timespec *ts, uint32_t *w2,
                                                        long val3)
{
    return syscall(SYS_futex, w, op, val, ts, w2, val3);
}

/* The waits that slept: their time and their number. */
static uint64_t wait_total, wait_count;

static void count_wait(uint64_t t0, long rc, int err)
{
    if (rc == 0 || err == ETIMEDOUT || err == EINTR) {
        __atomic_fetch_add(&wait_total, now_ns() - t0, __ATOMIC_RELAXED);
        __atomic_fetch_add(&wait_count, 1, __ATOMIC_RELAXED);
    }
}

/* ---- convoy: a futex mutex ---------------------------------------------------------------- */

static uint32_t mword;
static uint64_t starts[WAITERS + 1]; /* (+ 1: the main thread, which never sleeps) */
static int tids[WAITERS], round_started, arrived, finished;
static int rounds = 4;
static unsigned hold_ms = 50;

static __attribute__((noinline)) void fm_sleep(int id)
{
    uint64_t t0 = now_ns();
    starts[id] = t0;
    long rc = futex(&mword, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
    count_wait(t0, rc, errno);
}

static void fm_lock(int id)
{
    uint32_t c = 0;
    if (__atomic_compare_exchange_n(&mword, &c, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    if (c != 2)
        c = __atomic_exchange_n(&mword, 2, __ATOMIC_ACQUIRE);
    while (c != 0) {
        fm_sleep(id);
        c = __atomic_exchange_n(&mword, 2, __ATOMIC_ACQUIRE);
    }
}

static __attribute__((noinline)) void fm_unlock(void)
{
    if (__atomic_exchange_n(&mword, 0, __ATOMIC_RELEASE) == 2)
        futex(&mword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static __attribute__((noinline)) uint64_t convoy_release(void)
{
    uint64_t t = now_ns();
    if (__atomic_exchange_n(&mword, 0, __ATOMIC_RELEASE) == 2)
        futex(&mword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return t;
}

static void *convoy_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    __atomic_store_n(&tids[id], thread_id(), __ATOMIC_RELEASE);
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&round_started, r);
        __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
        fm_lock(id);
        fm_unlock();
        __atomic_fetch_add(&finished, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

/* Whether every waiter sleeps in the kernel on the mutex (its word says sleepers, and each
 * thread is asleep: it can sleep nowhere else after it arrived). */
static void await_sleepers(void)
{
    while (__atomic_load_n(&mword, __ATOMIC_ACQUIRE) != 2)
        sleep_ms(1);
    await_all_asleep(tids, WAITERS);
}

static void convoy(void)
{
    pthread_t th[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        if (pthread_create(&th[i], NULL, convoy_waiter, (void *)(intptr_t)i))
            die("pthread_create");
    uint64_t owed = 0;
    for (int r = 1; r <= rounds; r++) {
        fm_lock(WAITERS); /* uncontended: the waiters are waiting for the round */
        __atomic_store_n(&round_started, r, __ATOMIC_RELEASE);
        await_at_least(&arrived, r * WAITERS);
        await_sleepers();
        sleep_ms(hold_ms);
        uint64_t released = convoy_release();
        for (int i = 0; i < WAITERS; i++)
            owed += released - starts[i];
        await_at_least(&finished, r * WAITERS);
    }
    for (int i = 0; i < WAITERS; i++)
        pthread_join(th[i], NULL);
    printf("convoy: %d rounds, word %u\n", rounds, mword);
    measure("wait_total", wait_total);
    measure("wait_count", wait_count);
    measure("holder_owed", owed);
}

/* ---- handoff: a condition-style futex ----------------------------------------------------- */

static uint32_t seq;
static int cond_tid, cond_ready;
static uint64_t cond_start;

static __attribute__((noinline)) void cond_sleep(uint32_t seen)
{
    while (__atomic_load_n(&seq, __ATOMIC_ACQUIRE) == seen) {
        uint64_t t0 = now_ns();
        __atomic_store_n(&cond_start, t0, __ATOMIC_RELEASE);
        long rc = futex(&seq, FUTEX_WAIT_BITSET_PRIVATE, seen, NULL, NULL, FUTEX_BITSET_MATCH_ANY);
        count_wait(t0, rc, errno);
    }
}

static void *cond_waiter(void *arg)
{
    (void)arg;
    __atomic_store_n(&cond_tid, thread_id(), __ATOMIC_RELEASE);
    for (int r = 1; r <= rounds; r++) {
        uint32_t seen = __atomic_load_n(&seq, __ATOMIC_ACQUIRE);
        __atomic_store_n(&cond_ready, r, __ATOMIC_RELEASE);
        cond_sleep(seen);
    }
    return NULL;
}

static __attribute__((noinline)) uint64_t cond_notify(void)
{
    uint64_t t = now_ns();
    __atomic_fetch_add(&seq, 1, __ATOMIC_RELEASE);
    futex(&seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return t;
}

static void handoff(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, cond_waiter, NULL))
        die("pthread_create");
    uint64_t owed = 0;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&cond_ready, r);
        /* Asleep in the kernel, not between its check of the word and the call. */
        await_all_asleep(&cond_tid, 1);
        sleep_ms(hold_ms);
        uint64_t start = __atomic_load_n(&cond_start, __ATOMIC_ACQUIRE); /* (before it wakes) */
        owed += cond_notify() - start;
    }
    pthread_join(th, NULL);
    printf("handoff: %d rounds, sequence %u\n", rounds, seq);
    measure("cond_wait_total", wait_total);
    measure("cond_wait_count", wait_count);
    measure("cond_owed", owed);
}

/* ---- eagain: calls that do not wait --------------------------------------------------------- */

static __attribute__((noinline)) long eagain_call(uint32_t *w)
{
    return futex(w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

static void eagain(int n)
{
    uint32_t w = 1;
    int again = 0, other = 0;
    for (int i = 0; i < n; i++) {
        errno = 0;
        long rc = eagain_call(&w);
        if (rc == -1 && errno == EAGAIN)
            again++;
        else
            other++;
    }
    printf("eagain: %d of %d calls returned -1 with EAGAIN, %d otherwise\n", again, n, other);
    errno = 1234;
    long rc = futex(&w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    printf("wake of nobody: %ld, errno %d\n", rc, errno);
    uint32_t pi = 0;
    errno = 1234;
    rc = futex(&pi, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    printf("trylock_pi of a free word: %ld, errno %d, owner is me: %d\n", rc, errno,
           (int)(pi & FUTEX_TID_MASK) == thread_id());
    errno = 1234;
    rc = futex(NULL, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    printf("wait on NULL: %ld, errno %s\n", rc, errno == EFAULT ? "EFAULT" : "other");
    errno = 1234;
    rc = futex(&w, 0x7e, 0, NULL, NULL, 0);
    printf("unknown operation: %ld, errno %s\n", rc, errno == ENOSYS ? "ENOSYS" : "other");
}

/* ---- timeout: waits that time out ------------------------------------------------------------ */

static unsigned timeout_ms = 30;

static struct timespec after_ms(clockid_t clk, unsigned ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

static void report_timeout(const char *what, long rc, int err)
{
    printf("%s: %ld, %s\n", what, rc, err == ETIMEDOUT ? "ETIMEDOUT" : "other");
}

static __attribute__((noinline)) void timeout_relative(uint32_t *w)
{
    struct timespec ts = { 0, (long)timeout_ms * 1000000L };
    uint64_t t0 = now_ns();
    long rc = futex(w, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    int err = errno;
    count_wait(t0, rc, err);
    report_timeout("relative", rc, err);
}

static __attribute__((noinline)) void timeout_bitset(uint32_t *w)
{
    struct timespec ts = after_ms(CLOCK_MONOTONIC, timeout_ms);
    uint64_t t0 = now_ns();
    long rc = futex(w, FUTEX_WAIT_BITSET, 0, &ts, NULL, FUTEX_BITSET_MATCH_ANY);
    int err = errno;
    count_wait(t0, rc, err);
    report_timeout("bitset monotonic", rc, err);
}

static __attribute__((noinline)) void timeout_realtime(uint32_t *w)
{
    struct timespec ts = after_ms(CLOCK_REALTIME, timeout_ms);
    uint64_t t0 = now_ns();
    long rc = futex(w, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &ts, NULL,
                    FUTEX_BITSET_MATCH_ANY);
    int err = errno;
    count_wait(t0, rc, err);
    report_timeout("bitset realtime", rc, err);
}

static __attribute__((noinline)) void timeout_garbage(uint32_t *w)
{
    struct timespec ts = { 0, (long)timeout_ms * 1000000L };
    uint64_t t0 = now_ns();
    long rc = futex(w, (long)0x5a5a5a5a00000000ULL | FUTEX_WAIT_PRIVATE,
                    (long)0x7f7f7f7f00000000ULL, &ts, NULL, 0);
    int err = errno;
    count_wait(t0, rc, err);
    report_timeout("upper halves set", rc, err);
}

static void timeouts(void)
{
    uint32_t w = 0;
    timeout_relative(&w);
    timeout_bitset(&w);
    timeout_realtime(&w);
    timeout_garbage(&w);
    measure("timeout_total", wait_total);
    measure("timeout_count", wait_count);
}

/* ---- pi: a priority-inheritance lock -------------------------------------------------------- */

static uint32_t pi_word;
static int pi_tid, pi_owner_is_waiter;
static long pi_rc;
static uint64_t pi_start, pi_wait;

static __attribute__((noinline)) void pi_lock(void)
{
    uint64_t t0 = now_ns();
    __atomic_store_n(&pi_start, t0, __ATOMIC_RELEASE);
    pi_rc = futex(&pi_word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    pi_wait = now_ns() - t0;
    pi_owner_is_waiter = (int)(pi_word & FUTEX_TID_MASK) == thread_id();
}

static void pi_unlock_own(void)
{
    uint32_t me = (uint32_t)thread_id();
    if (!__atomic_compare_exchange_n(&pi_word, &me, 0, false, __ATOMIC_RELEASE,
                                     __ATOMIC_RELAXED))
        futex(&pi_word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
}

static void *pi_waiter(void *arg)
{
    (void)arg;
    __atomic_store_n(&pi_tid, thread_id(), __ATOMIC_RELEASE);
    pi_lock();
    pi_unlock_own();
    return NULL;
}

static __attribute__((noinline)) uint64_t pi_release(void)
{
    uint64_t t = now_ns();
    if (futex(&pi_word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) != 0)
        die("FUTEX_UNLOCK_PI");
    return t;
}

static void pi(void)
{
    pi_word = (uint32_t)thread_id();
    pthread_t th;
    if (pthread_create(&th, NULL, pi_waiter, NULL))
        die("pthread_create");
    while (!(__atomic_load_n(&pi_word, __ATOMIC_ACQUIRE) & FUTEX_WAITERS))
        sleep_ms(1);
    await_all_asleep(&pi_tid, 1);
    sleep_ms(hold_ms);
    uint64_t t = pi_release();
    uint64_t owed = t - __atomic_load_n(&pi_start, __ATOMIC_ACQUIRE);
    pthread_join(th, NULL);
    printf("lock_pi: %ld, owner is the waiter: %d\n", pi_rc, pi_owner_is_waiter);
    printf("pi: word %u\n", pi_word);
    measure("pi_wait", pi_wait);
    measure("pi_owed", owed);
}

/* ---- signal: a wake from a signal handler --------------------------------------------------- */

static uint32_t sig_word;
static int main_tid;
static uint64_t sig_start, sig_woken;

static __attribute__((noinline)) void sig_wake(void)
{
    sig_woken = now_ns();
    __atomic_store_n(&sig_word, 1, __ATOMIC_RELEASE);
    futex(&sig_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void on_usr1(int sig)
{
    (void)sig;
    int err = errno;
    sig_wake();
    errno = err;
}

static void *sig_helper(void *arg)
{
    (void)arg;
    await_all_asleep(&main_tid, 1);
    sleep_ms(hold_ms);
    raise(SIGUSR1);
    return NULL;
}

static __attribute__((noinline)) void sig_wait(void)
{
    while (__atomic_load_n(&sig_word, __ATOMIC_ACQUIRE) == 0) {
        uint64_t t0 = now_ns();
        sig_start = t0;
        long rc = futex(&sig_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
        count_wait(t0, rc, errno);
    }
}

static void signal_wake(void)
{
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGUSR1, &sa, NULL))
        die("sigaction");
    main_tid = thread_id();
    pthread_t th;
    if (pthread_create(&th, NULL, sig_helper, NULL))
        die("pthread_create");
    sig_wait();
    pthread_join(th, NULL);
    printf("signal: woken\n");
    measure("sig_wait", wait_total);
    measure("sig_count", wait_count);
    measure("sig_owed", sig_woken - sig_start);
}

/* ---- threads: the threads view during futex waits --------------------------------------------- */

static uint32_t word_a, word_b;
static int tid_a, tid_b;

static void *thread_a(void *arg)
{
    (void)arg;
    __atomic_store_n(&tid_a, thread_id(), __ATOMIC_RELEASE);
    while (__atomic_load_n(&word_a, __ATOMIC_ACQUIRE) == 0)
        futex(&word_a, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

static void *thread_b(void *arg)
{
    (void)arg;
    __atomic_store_n(&tid_b, thread_id(), __ATOMIC_RELEASE);
    futex(&word_b, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    uint32_t me = (uint32_t)thread_id();
    if (!__atomic_compare_exchange_n(&word_b, &me, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        futex(&word_b, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

static void threads_view(const char *file)
{
    word_b = (uint32_t)thread_id();
    pthread_t a, b;
    if (pthread_create(&a, NULL, thread_a, NULL) || pthread_create(&b, NULL, thread_b, NULL))
        die("pthread_create");
    await_at_least(&tid_a, 1);
    await_at_least(&tid_b, 1);
    int both[2] = { tid_a, tid_b };
    await_all_asleep(both, 2);
    sleep_ms(30);
    int (*write_profile)(int, int, int) =
        (int (*)(int, int, int))dlsym(RTLD_DEFAULT, "lockprof_write_profile");
    if (write_profile) {
        int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_profile(2 /* LOCKPROF_THREADS */, fd, 1 /* LOCKPROF_TEXT */) != 0)
            die("the threads view");
        close(fd);
    }
    printf("main %d\n", thread_id());
    printf("waiter %d on %p\n", tid_a, (void *)&word_a);
    printf("waiter %d on %p\n", tid_b, (void *)&word_b);
    __atomic_store_n(&word_a, 1, __ATOMIC_RELEASE);
    futex(&word_a, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    futex(&word_b, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "convoy";
    if (argc > 2 && strcmp(mode, "threads") != 0)
        rounds = atoi(argv[2]);
    if (argc > 3)
        hold_ms = (unsigned)atoi(argv[3]);
    if (strcmp(mode, "convoy") == 0) {
        convoy();
    } else if (strcmp(mode, "handoff") == 0) {
        handoff();
    } else if (strcmp(mode, "eagain") == 0) {
        eagain(argc > 2 ? atoi(argv[2]) : 100);
    } else if (strcmp(mode, "timeout") == 0) {
        timeout_ms = argc > 2 ? (unsigned)atoi(argv[2]) : 30;
        timeouts();
    } else if (strcmp(mode, "pi") == 0) {
        hold_ms = argc > 2 ? (unsigned)atoi(argv[2]) : 50;
        pi();
    } else if (strcmp(mode, "signal") == 0) {
        hold_ms = argc > 2 ? (unsigned)atoi(argv[2]) : 50;
        signal_wake();
    } else if (strcmp(mode, "threads") == 0) {
        threads_view(argc > 2 ? argv[2] : "/dev/null");
    } else {
        fprintf(stderr, "usage: prog_futex convoy|handoff|eagain|timeout|pi|signal|threads …\n");
        return 2;
    }
    return 0;
}
