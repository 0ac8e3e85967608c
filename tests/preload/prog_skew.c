/*
 * prog_skew — convoys on one mutex, to show that lockprof's own work (its unwinding above all)
 * never lengthens a critical section: run under a library whose unwinder takes 2 ms
 * (build/variants/slowunwind), the hand-offs stay as short as without it.
 *
 *   prog_skew ROUNDS WAITERS HOLD_MS
 *
 * Each round: the main thread holds the mutex; WAITERS threads arrive and block on it; once all
 * are asleep the main thread holds HOLD_MS more and releases; each waiter, once it has the
 * lock, holds it HOLD_MS and releases it. Everyone timestamps: t0 before its lock call, t1 after
 * it returned, rel just before its unlock call, rel_end after it returned. Ordered by t1, each
 * waiter's predecessor is the holder whose release let it in, and
 *     excess = t1 − rel(predecessor)
 * is the hand-off: the time from "the holder calls unlock" to "the waiter's lock call returned".
 * Work done inside the critical section by the profiler — unwinding the releaser before its real
 * unlock, or the acquirer after its real lock — would add its 2 ms to every hand-off, and so
 * 2 ms × position to every waiter's wait.
 *
 * Then a short hold: the main thread holds, one waiter arrives, the main thread releases 0.5 ms
 * later: the waiter's lock call lasts at least the 2 ms of its unwinding, which runs before it
 * blocks (registered first, so the holder is charged only until its release).
 *
 * Prints measure lines: wait_total wait_count owed (Σ rel(predecessor) − t0: what the holders
 * caused), excess_median_us excess_max_us, unlock_median_us (time inside the releases),
 * short_wait (the short hold's waiter's lock call), short_owed.
 */
#include "progutil.h"

#define MAXW 16

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static unsigned hold_ms;

struct waiter {
    pthread_t th;
    int tid, arrived;
    uint64_t t0, t1, rel, rel_end;
};

static __attribute__((noinline)) void skew_waiter_lock(void)
{
    pthread_mutex_lock(&m);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void skew_holder_unlock(void)
{
    pthread_mutex_unlock(&m);
    __asm__ volatile("" ::: "memory");
}

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    __atomic_store_n(&w->tid, thread_id(), __ATOMIC_RELEASE);
    w->t0 = now_ns();
    __atomic_store_n(&w->arrived, 1, __ATOMIC_RELEASE);
    skew_waiter_lock();
    w->t1 = now_ns();
    sleep_ms(hold_ms);
    w->rel = now_ns();
    skew_holder_unlock();
    w->rel_end = now_ns();
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_t1(const void *a, const void *b)
{
    const struct waiter *x = *(struct waiter *const *)a, *y = *(struct waiter *const *)b;
    return x->t1 < y->t1 ? -1 : x->t1 > y->t1;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return fprintf(stderr, "usage: prog_skew ROUNDS WAITERS HOLD_MS\n"), 2;
    int rounds = atoi(argv[1]), n = atoi(argv[2]);
    hold_ms = (unsigned)atoi(argv[3]);
    if (rounds < 1 || n < 1 || n > MAXW)
        return fprintf(stderr, "prog_skew: bad arguments\n"), 2;

    uint64_t wait_total = 0, owed = 0, count = 0;
    uint64_t excess[64 * MAXW], unlocks[64 * (MAXW + 1)];
    int nex = 0, nun = 0;
    for (int r = 0; r < rounds && r < 64; r++) {
        struct waiter w[MAXW];
        memset(w, 0, sizeof w);
        pthread_mutex_lock(&m);
        for (int i = 0; i < n; i++)
            if (pthread_create(&w[i].th, NULL, waiter_main, &w[i]) != 0)
                die("pthread_create");
        int tids[MAXW];
        for (int i = 0; i < n; i++) {
            await_at_least(&w[i].arrived, 1);
            tids[i] = __atomic_load_n(&w[i].tid, __ATOMIC_ACQUIRE);
        }
        await_all_asleep(tids, n);
        sleep_ms(hold_ms);
        uint64_t rel0 = now_ns();
        skew_holder_unlock();
        unlocks[nun++] = now_ns() - rel0;
        for (int i = 0; i < n; i++)
            pthread_join(w[i].th, NULL);

        struct waiter *order[MAXW];
        for (int i = 0; i < n; i++)
            order[i] = &w[i];
        qsort(order, (size_t)n, sizeof order[0], cmp_t1);
        uint64_t prev_rel = rel0;
        for (int i = 0; i < n; i++) {
            struct waiter *x = order[i];
            wait_total += x->t1 - x->t0;
            owed += prev_rel - x->t0;
            excess[nex++] = x->t1 - prev_rel;
            unlocks[nun++] = x->rel_end - x->rel;
            prev_rel = x->rel;
            count++;
        }
    }

    /* The short hold. */
    struct waiter s;
    memset(&s, 0, sizeof s);
    pthread_mutex_lock(&m);
    hold_ms = 0;
    if (pthread_create(&s.th, NULL, waiter_main, &s) != 0)
        die("pthread_create");
    await_at_least(&s.arrived, 1);
    uint64_t until = s.t0 + 500000;
    while (now_ns() < until)
        ;
    uint64_t srel = now_ns();
    skew_holder_unlock();
    pthread_join(s.th, NULL);

    qsort(excess, (size_t)nex, sizeof excess[0], cmp_u64);
    qsort(unlocks, (size_t)nun, sizeof unlocks[0], cmp_u64);
    measure("wait_total", wait_total);
    measure("wait_count", count);
    measure("owed", owed);
    measure("excess_median_us", excess[nex / 2] / 1000);
    measure("excess_max_us", excess[nex - 1] / 1000);
    measure("unlock_median_us", unlocks[nun / 2] / 1000);
    measure("short_wait", s.t1 - s.t0);
    measure("short_owed", srel > s.t0 ? srel - s.t0 : 0);
    return 0;
}
