/*
 * unit_locktab_mt — the lock table (locktab.h) under real threads and the real clock: four
 * threads contend on three mutexes that share one stripe, in the order the wrappers make the
 * calls (try; register; wait; leave; release the entry, then the mutex), some waits timed out,
 * some not waits after all, as a FUTEX_WAIT that finds its word changed (undone, or cancelled
 * when the entry changed since the registration or the registration created it).
 * The table takes no lock, so what this checks is that its compare-and-swaps compose: every
 * release that charges is charged at most what its waiters waited (Σ charges <= Σ registered
 * waits, at fraction 1), no charge is absurd (an underflow), and once everyone is gone no
 * entry and no count of the stripe's hint is left behind. The same at a sampled fraction,
 * once the clock may have moved to the time-stamp counter, with releases that race the next
 * holder's (as a rwlock's readers' race each other), and with kept entries (a futex word's)
 * on eight mutexes, more than the stripe's six ways, so that claims free entries at rest
 * while the others register, leave and release; once everyone is gone the entries left are
 * at rest, and give their slots up to other locks' waiters.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "clock.h"
#include "locktab.h"
#include "sample.h"
#include "tap.h"

extern uint32_t *lp_locktab_hint_; /* the stripes' hint words (locktab.h) */

#define THREADS 4
#define LOCKS 3      /* mutexes of the runs without kept entries ... */
#define LOCKS_KEPT 8 /* ... and with: more than the stripe's six ways, so claims free them */

static pthread_mutex_t mutexes[LOCKS_KEPT];
static uint64_t sum_waits, sum_charges, max_charge, charges, gave_up, unregistered;
static uint64_t not_waits, undone; /* waiters that were not waits: cancelled, undone */
static uint64_t not_waits_all, undone_all; /* the same over all the runs */

struct worker {
    int id;
    long ops;
    uint64_t fraction; /* 1: every release draws "arm" */
    bool racing;       /* releases without holding the mutex, as readers do */
    bool keep;         /* registrations ask for kept entries, as a futex word's do */
    unsigned locks;    /* how many of mutexes[] it takes */
};

/* Work that the compiler keeps: a volatile of the thread's own (threads share no sink). */
static void spin(unsigned n)
{
    volatile unsigned sink = 0;
    for (unsigned i = 0; i < n; i++)
        sink += i;
}

static uint64_t draw(struct lp_rng *r, uint64_t fraction)
{
    if (fraction <= 1)
        return fraction;
    return lp_sample_mutex_pick(r, fraction) ? fraction : 0;
}

static void account_wait(struct lp_waiter *w, uint64_t end)
{
    __atomic_fetch_add(&sum_waits, end - w->start, __ATOMIC_RELAXED);
}

static void account_release(const void *lock, uint64_t arm)
{
    uint64_t charge = 0, fraction = 0;
    if (!lp_locktab_release(lock, arm, &charge, &fraction))
        return;
    __atomic_fetch_add(&sum_charges, charge, __ATOMIC_RELAXED);
    __atomic_fetch_add(&charges, 1, __ATOMIC_RELAXED);
    uint64_t m = __atomic_load_n(&max_charge, __ATOMIC_RELAXED);
    while (charge > m &&
           !__atomic_compare_exchange_n(&max_charge, &m, charge, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct lp_rng r;
    lp_rng_seed(&r, 1234 + (uint64_t)wk->id);
    for (long i = 0; i < wk->ops; i++) {
        pthread_mutex_t *m = &mutexes[lp_rng_below(&r, wk->locks)];
        bool held = pthread_mutex_trylock(m) == 0;
        if (!held) {
            struct lp_waiter w;
            lp_locktab_wait_begin(&w, m, true, draw(&r, wk->fraction), wk->keep);
            if (!w.registered)
                __atomic_fetch_add(&unregistered, 1, __ATOMIC_RELAXED);
            int rc;
            if (lp_rng_below(&r, 8) == 1) {
                /* Not a wait after all, as a FUTEX_WAIT that finds its word changed, and
                 * tries again, as a spinning lock's waiter does. Its registered time bounds
                 * what releases meanwhile charged it. */
                bool registered = w.registered;
                uint64_t end = lp_locktab_wait_end(&w, LP_NOT_A_WAIT);
                if (registered) {
                    account_wait(&w, lp_now());
                    __atomic_fetch_add(end == 0 ? &undone : &not_waits, 1, __ATOMIC_RELAXED);
                }
                if (pthread_mutex_trylock(m) == 0)
                    goto hold;
                lp_locktab_wait_begin(&w, m, true, draw(&r, wk->fraction), wk->keep);
                if (!w.registered)
                    __atomic_fetch_add(&unregistered, 1, __ATOMIC_RELAXED);
            }
            if (lp_rng_below(&r, 8) == 0) { /* a short timeout: some of these give up */
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 3000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                rc = pthread_mutex_timedlock(m, &ts);
            } else {
                rc = pthread_mutex_lock(m);
            }
            bool registered = w.registered;
            uint64_t end = lp_locktab_wait_end(&w, rc == 0 ? LP_ACQUIRED : LP_GAVE_UP);
            if (registered)
                account_wait(&w, end);
            if (rc != 0) {
                __atomic_fetch_add(&gave_up, 1, __ATOMIC_RELAXED);
                continue;
            }
        hold:
            held = true;
        }
        spin(50 + (unsigned)lp_rng_below(&r, 200));
        if (lp_rng_below(&r, 64) == 0)
            sched_yield(); /* a holder that loses its CPU: the others pile up */
        if (wk->racing) {
            /* The mutex goes first, and the entry's release races the next holder's. */
            pthread_mutex_unlock(m);
            account_release(m, draw(&r, wk->fraction));
        } else {
            account_release(m, draw(&r, wk->fraction));
            pthread_mutex_unlock(m);
        }
    }
    return NULL;
}

static void run(const char *what, long ops, uint64_t fraction, bool racing, bool keep)
{
    sum_waits = sum_charges = max_charge = charges = gave_up = unregistered = 0;
    not_waits = undone = 0;
    pthread_t th[THREADS];
    struct worker wk[THREADS];
    uint64_t t0 = lp_now();
    for (int i = 0; i < THREADS; i++) {
        wk[i] = (struct worker){ i, ops, fraction, racing, keep, keep ? LOCKS_KEPT : LOCKS };
        if (pthread_create(&th[i], NULL, worker_main, &wk[i]) != 0) {
            ok(false, "%s: pthread_create", what);
            return;
        }
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    uint64_t elapsed = lp_now() - t0;
    struct lp_locktab_stats st;
    lp_locktab_stats(&st);
    /* A waiter that gave up after its lock's last release left its time owed, for the next
     * holder's release to pay: made here, one per lock, so that nothing owed is left. */
    for (int i = 0; i < (keep ? LOCKS_KEPT : LOCKS); i++)
        account_release(&mutexes[i], 0);
    lp_locktab_stats(&st);
    diag("%s: %llu charges, Σ %.3f ms of Σ %.3f ms registered waits; %llu gave up, "
         "%llu not waits (%llu undone), %llu not registered, %llu compare-and-swaps went again",
         what, (unsigned long long)charges, (double)sum_charges / 1e6, (double)sum_waits / 1e6,
         (unsigned long long)gave_up, (unsigned long long)(not_waits + undone),
         (unsigned long long)undone, (unsigned long long)unregistered,
         (unsigned long long)st.retries);
    cmp_ok_u64(charges, ">", 100, "%s: the threads contended (charges made)", what);
    undone_all += undone;
    not_waits_all += not_waits;
    /* Picked charges are some of the releases' charges, unweighted: at any fraction their sum
     * is at most that of every release's, which is at most the registered waits. */
    cmp_ok_u64(sum_charges, "<=", sum_waits, "%s: Σ charges <= Σ registered waits", what);
    cmp_ok_u64(max_charge, "<=", (THREADS - 1) * elapsed,
               "%s: no charge above (threads - 1) x the run's time (no underflow)", what);
    if (keep) {
        /* Kept entries stay, at rest (unless a release tidied them away): six waiters on
         * other locks of the stripe, at once, all find a slot (each kept entry freed for one
         * of them, which it could not be if a waiter or owed time were left in it), and once
         * they leave nothing is left. */
        static char others[6];
        struct lp_waiter w[6];
        uint64_t before = st.not_registered;
        for (int i = 0; i < 6; i++)
            lp_locktab_wait_begin(&w[i], &others[i], true, 0, false);
        lp_locktab_stats(&st);
        is_u64(st.not_registered - before, 0,
               "%s: six new waiters registered over the kept entries (they were at rest)", what);
        for (int i = 0; i < 6; i++)
            lp_locktab_wait_end(&w[i], LP_ACQUIRED);
        lp_locktab_stats(&st);
    }
    is_u64(st.live, 0, "%s: every entry went with its waiters", what);
    /* The stripe's counts themselves (lp_locktab_hint reads 0 whenever no entry is live). */
    is_u64(lp_locktab_hint_[0], 0, "%s: the stripe's hint word back to 0", what);
}

int main(void)
{
    lp_clock_tsc_init(true);
    ok(lp_locktab_init(1) == 0, "one stripe: the mutexes share it");
    for (int i = 0; i < LOCKS_KEPT; i++)
        pthread_mutex_init(&mutexes[i], NULL);
    run("fraction 1", 100000, 1, false, false);
    run("fraction 4", 100000, 4, false, false);
    /* The clock switches to the time-stamp counter 50 ms after lp_clock_tsc_init, where the
     * kernel's clock source is the counter (clock.h); elsewhere this is the same clock. */
    struct timespec ms60 = { 0, 60 * 1000 * 1000 };
    nanosleep(&ms60, NULL);
    run("after the clock's calibration, fraction 1", 100000, 1, false, false);
    run("racing releases, fraction 3", 100000, 3, true, false);
    run("kept entries, fraction 1", 100000, 1, false, true);
    run("kept entries, racing releases, fraction 3", 100000, 3, true, true);
    cmp_ok_u64(undone_all, ">", 0, "some registered waiters were not waits, and were undone");
    cmp_ok_u64(not_waits_all, ">", 0,
               "... and some were cancelled (the entry changed meanwhile, or was theirs)");
    return done_testing();
}
