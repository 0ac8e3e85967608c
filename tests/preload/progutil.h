/*
 * progutil.h — small helpers for the test programs that run under the preload.
 *
 * The programs know nothing of lockprof. They measure their own waits with CLOCK_MONOTONIC
 * around each call and print them as "measure KEY VALUE" lines for the tests to compare with
 * the profiles.
 */
#ifndef LP_PROGUTIL_H
#define LP_PROGUTIL_H

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleeps ms milliseconds, resuming after signals. */
static inline void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Waits until *word >= want (spinning with short sleeps: no lock, so nothing to profile). */
static inline void await_at_least(int *word, int want)
{
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) < want) {
        struct timespec ts = { 0, 100000 };
        nanosleep(&ts, NULL);
    }
}

/* A CLOCK_REALTIME deadline ms milliseconds from now, for the timed wait and lock calls. */
static inline struct timespec deadline_in_ms(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static inline int thread_id(void)
{
    return (int)syscall(SYS_gettid);
}

/* True when thread tid of this process is asleep ('S' in /proc/self/task/tid/stat). */
static inline int thread_sleeping(int tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *paren = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
    return paren && paren[1] == ' ' && paren[2] == 'S';
}

/* Waits until each of n threads that announced their arrival (and then called a blocking
 * lock, which is the only place they can sleep afterwards) is asleep: every one of them
 * really waits, however long the machine took to schedule them. */
static inline void await_all_asleep(const int *tids, int n)
{
    for (int i = 0; i < n; i++)
        while (!thread_sleeping(__atomic_load_n(&tids[i], __ATOMIC_ACQUIRE))) {
            struct timespec ts = { 0, 200000 };
            nanosleep(&ts, NULL);
        }
}

/*
 * A small convoy on *lock: SMALL_CONVOY_N threads each call wait_fn (which locks and unlocks
 * *lock, in a function of the program's, so that its name is in the stacks) while the caller
 * holds *lock; once all of them are asleep in it, the caller holds on hold_ms more, then
 * release_fn unlocks it (returning when). Returns when all have finished, with what they
 * measured: Σ waits, their count, and what the release owes (Σ release − wait start).
 */
#define SMALL_CONVOY_N 2

struct small_convoy {
    void (*wait_fn)(void);
    uint64_t wait_total, wait_count, owed;
    /* Σ over the waiters of (release − the moment all were seen asleep): each was in its wait
     * all that time, so the waits recorded add up to at least this, however the threads were
     * preempted before or after them (wait_total is the bound above). */
    uint64_t asleep_total;
    uint64_t starts[SMALL_CONVOY_N];
    int tids[SMALL_CONVOY_N], arrived, next;
};

static inline void *small_convoy_waiter(void *arg)
{
    struct small_convoy *c = (struct small_convoy *)arg;
    int id = __atomic_fetch_add(&c->next, 1, __ATOMIC_ACQ_REL);
    uint64_t t0 = now_ns();
    c->starts[id] = t0;
    __atomic_store_n(&c->tids[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&c->arrived, 1, __ATOMIC_ACQ_REL);
    c->wait_fn();
    __atomic_fetch_add(&c->wait_total, now_ns() - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&c->wait_count, 1, __ATOMIC_RELAXED);
    return NULL;
}

static inline void small_convoy(pthread_mutex_t *lock, unsigned hold_ms, void (*wait_fn)(void),
                                uint64_t (*release_fn)(void), struct small_convoy *c)
{
    memset(c, 0, sizeof *c);
    c->wait_fn = wait_fn;
    pthread_t th[SMALL_CONVOY_N];
    pthread_mutex_lock(lock);
    for (int i = 0; i < SMALL_CONVOY_N; i++)
        if (pthread_create(&th[i], NULL, small_convoy_waiter, c) != 0) {
            perror("pthread_create");
            exit(99);
        }
    await_at_least(&c->arrived, SMALL_CONVOY_N);
    await_all_asleep(c->tids, SMALL_CONVOY_N);
    uint64_t asleep = now_ns();
    sleep_ms(hold_ms);
    uint64_t released = release_fn();
    for (int i = 0; i < SMALL_CONVOY_N; i++) {
        pthread_join(th[i], NULL);
        c->owed += released - c->starts[i];
        c->asleep_total += released - asleep;
    }
}

/*
 * Distinct stacks on demand: distinct_stack(leaf, bits, n) calls leaf() through n levels, each
 * stack_level_a or stack_level_b as the bits of `bits` say (2^n distinct stacks of leaf).
 */
static void (*stack_leaf)(void);
static void stack_level(unsigned bits, int n);

static __attribute__((noinline, unused)) void stack_level_a(unsigned bits, int n)
{
    stack_level(bits, n);
    __asm__ volatile("" ::: "memory"); /* keep the call a call, not a tail jump */
}

static __attribute__((noinline, unused)) void stack_level_b(unsigned bits, int n)
{
    stack_level(bits, n);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline, unused)) void stack_level(unsigned bits, int n)
{
    if (n == 0)
        stack_leaf();
    else if (bits & 1)
        stack_level_a(bits >> 1, n - 1);
    else
        stack_level_b(bits >> 1, n - 1);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((unused)) void distinct_stack(void (*leaf)(void), unsigned bits, int n)
{
    stack_leaf = leaf;
    stack_level(bits, n);
}

static inline void measure(const char *key, uint64_t value)
{
    printf("measure %s %llu\n", key, (unsigned long long)value);
}

static inline void die(const char *what)
{
    perror(what);
    exit(99);
}

#endif
