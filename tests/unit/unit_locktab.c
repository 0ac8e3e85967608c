/*
 * unit_locktab — the lock table's entries and its stripe hint (locktab.h), with a scripted
 * clock, on one stripe of six ways: what a release can skip, what it must do, that every
 * charge event is picked at 1 in n whatever came before it, that entries go with their
 * waiters, and that a kept entry (a futex word's) stays at rest, is charged as any other,
 * gives its slot up when the stripe is full, and goes after a long rest; and that a wait that
 * was not one is undone without the clock when nothing happened on its entry since.
 */
#include <inttypes.h>
#include <math.h>

#include "clock.h"
#include "locktab.h"
#include "sample.h"
#include "tap.h"

static uint64_t fake_now, clock_reads;
static uint64_t fake_clock(void)
{
    clock_reads++;
    return fake_now;
}

static uint64_t live(void)
{
    struct lp_locktab_stats st;
    lp_locktab_stats(&st);
    return st.live;
}

static uint64_t not_registered(void)
{
    struct lp_locktab_stats st;
    lp_locktab_stats(&st);
    return st.not_registered;
}

/* A waiter that registers at begin and leaves at end, on the scripted clock; wait_kept's
 * registration asks for a kept entry. */
static void wait_at(struct lp_waiter *w, const void *lock, uint64_t begin, uint64_t arm)
{
    fake_now = begin;
    lp_locktab_wait_begin(w, lock, true, arm, false);
}

static void wait_kept(struct lp_waiter *w, const void *lock, uint64_t begin, uint64_t arm)
{
    fake_now = begin;
    lp_locktab_wait_begin(w, lock, true, arm, true);
}

static void end_at(struct lp_waiter *w, uint64_t end, enum lp_wait_outcome outcome)
{
    fake_now = end;
    lp_locktab_wait_end(w, outcome);
}

static bool release_at(const void *lock, uint64_t now, uint64_t arm, uint64_t *charge,
                       uint64_t *fraction)
{
    fake_now = now;
    *charge = *fraction = 0;
    return lp_locktab_release(lock, arm, charge, fraction);
}

int main(void)
{
    lp_clock_source = fake_clock;
    ok(lp_locktab_init(1) == 0, "one stripe mapped");
    static char locks[200];
    const void *a = &locks[0], *b = &locks[8];
    struct lp_waiter w, w2;
    uint64_t charge, fraction;

    /* ---- the hint, and an entry that lives as long as its waiters ---- */
    is_u64(lp_locktab_hint(a), 0, "no entry: hint 0, a release does nothing");
    wait_at(&w, a, 100, 0);
    is_u64(lp_locktab_hint(a), LP_LOCKTAB_USED, "a waiter, nothing armed: USED, not DUE");
    is_u64(live(), 1, "... one entry");
    ok(!release_at(a, 140, 0, &charge, &fraction), "an unarmed release: not picked");
    is_u64(lp_locktab_hint(a), LP_LOCKTAB_USED, "... still USED, not DUE");
    end_at(&w, 150, LP_ACQUIRED);
    is_u64(live(), 0, "the waiter left: the entry is freed");
    is_u64(lp_locktab_hint(a), 0, "... hint back to 0");
    ok(!release_at(a, 160, 10, &charge, &fraction), "a release with no entry: nothing");

    /* ---- DUE: an armed entry, then its picked release ---- */
    wait_at(&w, a, 1000, 10);
    is_u64(lp_locktab_hint(a), LP_LOCKTAB_USED | LP_LOCKTAB_DUE, "created armed: DUE");
    ok(release_at(a, 1040, 0, &charge, &fraction), "the armed release is picked");
    is_u64(charge, 40, "... charged the waiter's 40 ns");
    is_u64(fraction, 10, "... at the fraction it was armed with");
    is_u64(lp_locktab_hint(a), LP_LOCKTAB_USED, "picked, not re-armed: DUE cleared");
    ok(!release_at(a, 1100, 0, &charge, &fraction), "the next unarmed release: not picked");
    end_at(&w, 1110, LP_ACQUIRED);

    /* ---- DUE: time owed by a waiter that gave up ---- */
    wait_at(&w, b, 2000, 0);
    end_at(&w, 2030, LP_GAVE_UP);
    ok(lp_locktab_hint(b) & LP_LOCKTAB_DUE, "a waiter gave up: its stripe is DUE (owed 30 ns)");
    ok(!release_at(b, 2050, 0, &charge, &fraction), "the owed release, not picked: no record");
    is_u64(lp_locktab_hint(b), 0, "... it dropped what it was owed, and the entry is freed");

    /* ---- a sampled charge spans exactly the picked release's own interval ---- */
    wait_at(&w, b, 3000, 0);
    ok(!release_at(b, 3010, 0, &charge, &fraction), "unarmed release: not picked");
    ok(!release_at(b, 3020, 5, &charge, &fraction), "a release that arms the next");
    ok(lp_locktab_hint(b) & LP_LOCKTAB_DUE, "... DUE");
    ok(release_at(b, 3070, 0, &charge, &fraction), "the armed release is picked");
    is_u64(charge, 50, "... charged from the arming release (3020), not from the wait's start");
    is_u64(fraction, 5, "... at the arming release's fraction");
    end_at(&w, 3080, LP_ACQUIRED);

    /* ---- every charge event is picked with probability 1/n, whatever came before ----
     * Hand-offs as two threads make them, with the draws the library makes (one per release,
     * one at an entry's creation, fixed seed): a waiter leaves, sometimes a release comes
     * before the next waiter registers, then a waiter registers and the release that follows
     * is a charge event. A table that kept or freed entries according to a draw's value would
     * pick those at another rate (an attempt at keeping idle entries picked 11,829 of 200,000,
     * where 20,000 is right). The same with a kept entry, which a full stripe sometimes frees
     * while it is at rest. */
    uint64_t t = 10000;
    for (int kept = 0; kept < 2; kept++) {
        struct lp_rng r;
        lp_rng_seed(&r, 42);
        const uint64_t n = 10, cycles = 200000;
        const void *h = &locks[16];
        uint64_t events = 0, picks = 0;
        void (*wait)(struct lp_waiter *, const void *, uint64_t, uint64_t) =
            kept ? wait_kept : wait_at;
#define DRAW() (lp_sample_mutex_pick(&r, n) ? n : 0)
        for (uint64_t i = 0; i < cycles; i++) {
            wait(&w, h, t += 10, DRAW());
            end_at(&w, t += 10, LP_ACQUIRED);
            if (kept && lp_rng_below(&r, 4) == 0) { /* six other locks' waiters fill the stripe */
                struct lp_waiter six[6];
                for (int j = 0; j < 6; j++)
                    wait_at(&six[j], &locks[60 + j], t += 1, 0);
                for (int j = 0; j < 6; j++)
                    end_at(&six[j], t += 1, LP_ACQUIRED);
            }
            if (lp_rng_below(&r, 2)) /* the release before anyone registers: idle entry */
                (void)release_at(h, t += 10, DRAW(), &charge, &fraction);
            wait(&w2, h, t += 10, DRAW());
            events++;
            if (release_at(h, t += 10, DRAW(), &charge, &fraction))
                picks++;
            end_at(&w2, t += 10, LP_ACQUIRED);
        }
#undef DRAW
        double want = (double)events / (double)n;
        double sd = sqrt((double)events * (1.0 / (double)n) * (1.0 - 1.0 / (double)n));
        near((double)picks, want, 6 * sd,
             "%s, hand-offs, releases between them: %" PRIu64 " of %" PRIu64 " charge events "
             "picked, 1 in %" PRIu64 " (within 6 sd)", kept ? "kept entry" : "entries freed",
             picks, events, n);
        is_u64(live(), (uint64_t)kept, "... %s", kept ? "the kept entry stays" : "none left");
        if (kept) { /* gone, for what follows: a full stripe's waiters free it */
            struct lp_waiter six[6];
            for (int i = 0; i < 6; i++)
                wait_at(&six[i], &locks[60 + i], t += 10, 0);
            for (int i = 0; i < 6; i++)
                end_at(&six[i], t += 10, LP_ACQUIRED);
            is_u64(live(), 0, "... and gives its slot up to a full stripe's sixth waiter");
        }
    }

    /* ---- a kept entry: at rest between waiters, charged as any other ---- */
    {
        const void *k = &locks[24];
        const uint64_t K = 1000000000; /* after the times above: a slot's T only grows */
        wait_kept(&w, k, K + 6000, 10);
        is_u64(lp_locktab_hint(k), LP_LOCKTAB_USED | LP_LOCKTAB_DUE, "kept, created armed: DUE");
        end_at(&w, K + 6010, LP_ACQUIRED);
        is_u64(live(), 1, "... the last waiter left, the entry stays");
        is_u64(lp_locktab_hint(k), LP_LOCKTAB_USED, "... at rest: USED, its draw dropped");
        ok(!release_at(k, K + 6020, 10, &charge, &fraction), "... a release at rest: no charge");
        is_u64(lp_locktab_hint(k), LP_LOCKTAB_USED, "... and it keeps no draw: not DUE");
        wait_at(&w, k, K + 6100, 10); /* not kept itself: the entry is found, not created */
        is_u64(live(), 1, "... the next waiter finds it (no second entry)");
        is_u64(lp_locktab_hint(k), LP_LOCKTAB_USED | LP_LOCKTAB_DUE,
               "... and draws for the next release, as a creation does: DUE");
        wait_at(&w2, k, K + 6130, 0);
        ok(release_at(k, K + 6150, 0, &charge, &fraction), "... the armed release is picked");
        is_u64(charge, 50 + 20, "... charged both waits from their starts: 50 + 20 ns");
        is_u64(fraction, 10, "... at the registration's fraction");
        end_at(&w, K + 6160, LP_ACQUIRED);
        end_at(&w2, K + 6170, LP_ACQUIRED);
        wait_at(&w, k, K + 6200, 0);
        end_at(&w, K + 6230, LP_GAVE_UP);
        ok(lp_locktab_hint(k) & LP_LOCKTAB_DUE, "... a waiter gave up: owed, DUE");
        ok(!release_at(k, K + 6240, 10, &charge, &fraction),
           "... the owed release is not picked");
        is_u64(lp_locktab_hint(k), LP_LOCKTAB_USED, "... paid: at rest again, no draw kept");
        is_u64(live(), 1, "... still there");

        /* Five more kept entries fill the stripe; waiters for other locks free those at rest,
         * and none is turned away while one is. */
        uint64_t before = not_registered();
        for (int i = 0; i < 5; i++) {
            wait_kept(&w, &locks[32 + 8 * i], K + 6300 + 10 * (uint64_t)i, 10);
            end_at(&w, K + 6305 + 10 * (uint64_t)i, LP_ACQUIRED);
        }
        is_u64(live(), 6, "six kept entries at rest fill the stripe");
        is_u64(lp_locktab_hint(k), LP_LOCKTAB_USED, "... none DUE, though created armed");
        struct lp_waiter more[6];
        for (int i = 0; i < 6; i++)
            wait_at(&more[i], &locks[100 + i], K + 6400, 0);
        for (int i = 0; i < 6; i++)
            ok(more[i].registered, "waiter %d for another lock registers over an entry at rest",
               i);
        is_u64(not_registered() - before, 0, "... none turned away");
        is_u64(live(), 6, "... six entries, all theirs");
        for (int i = 0; i < 6; i++)
            end_at(&more[i], K + 6420, LP_ACQUIRED);
        is_u64(live(), 0, "... and once they leave, no entry is left");
        is_u64(lp_locktab_hint(k), 0, "... hint back to 0");

        /* An entry with a waiter, or owed, is not at rest: it keeps its slot. */
        wait_kept(&w, &locks[32], K + 6500, 0); /* stays registered */
        wait_kept(&w2, &locks[40], K + 6500, 0);
        end_at(&w2, K + 6510, LP_GAVE_UP); /* owed */
        for (int i = 0; i < 4; i++) {
            wait_kept(&more[i], &locks[48 + 8 * i], K + 6520, 0);
            end_at(&more[i], K + 6530, LP_ACQUIRED);
        }
        before = not_registered();
        for (int i = 0; i < 5; i++)
            wait_at(&more[i], &locks[100 + i], K + 6540, 0);
        for (int i = 0; i < 4; i++)
            ok(more[i].registered, "waiter %d of five registers over an entry at rest", i);
        ok(!more[4].registered, "... the fifth finds only an entry with a waiter and an owed one");
        is_u64(not_registered() - before, 1, "... and is counted");
        for (int i = 0; i < 5; i++)
            end_at(&more[i], K + 6550, LP_ACQUIRED);
        end_at(&w, K + 6560, LP_ACQUIRED);
        ok(!release_at(&locks[40], K + 6570, 0, &charge, &fraction), "the owed one paid");
        struct lp_waiter six[6];
        for (int i = 0; i < 6; i++)
            wait_at(&six[i], &locks[100 + i], K + 6600, 0);
        for (int i = 0; i < 6; i++)
            end_at(&six[i], K + 6610, LP_ACQUIRED);
        is_u64(live(), 0, "... and six waiters for other locks free both, now at rest");

        /* A release of another lock in the stripe that draws frees an entry at rest for 10 ms,
         * not one at rest for less, and a release that does not draw frees none. */
        const void *other = &locks[120];
        wait_kept(&w, k, K + 7000, 0);
        end_at(&w, K + 7010, LP_ACQUIRED);
        ok(!release_at(other, K + 7010 + 9999999, 10, &charge, &fraction),
           "another lock's release, 10 ms less 1 ns into a rest: nothing to charge");
        is_u64(live(), 1, "... and the entry at rest stays");
        ok(!release_at(other, K + 7010 + 20000000, 0, &charge, &fraction),
           "another lock's release that does not draw, 20 ms into the rest");
        is_u64(live(), 1, "... leaves it");
        ok(!release_at(other, K + 7010 + 20000001, 10, &charge, &fraction),
           "another lock's release that draws, 20 ms into the rest");
        is_u64(live(), 0, "... frees it");
        is_u64(lp_locktab_hint(k), 0, "... hint back to 0");

        /* A long rest adds nothing to what the next waiters are charged, nor to Q: after a
         * rest of 2^54 ns (208 days, Q's range) the next 60 waiters all register, and the
         * first charge is theirs alone. */
        const uint64_t L = K + 8000 + (UINT64_C(1) << 54);
        wait_kept(&w, k, K + 8000, 0);
        end_at(&w, K + 8000, LP_ACQUIRED);
        struct lp_waiter sixty[60];
        before = not_registered();
        for (int i = 0; i < 60; i++)
            wait_at(&sixty[i], k, L + (uint64_t)i, i == 0 ? 10 : 0);
        is_u64(not_registered() - before, 0, "after a 208-day rest, 60 waiters all register");
        ok(release_at(k, L + 100, 0, &charge, &fraction), "... the armed release is picked");
        is_u64(charge, 60 * 100 - 59 * 60 / 2, "... charged their waits since they began");
        for (int i = 0; i < 60; i++)
            end_at(&sixty[i], L + 200, LP_ACQUIRED);
        ok(!release_at(&locks[120], L + 200 + 10000000, 10, &charge, &fraction),
           "... at rest again, 10 ms on");
        is_u64(live(), 0, "... and tidied away");
    }

    /* ---- a wait that was not one (a FUTEX_WAIT that found its word changed) ---- */
    {
        const void *u = &locks[136];
        const uint64_t U = 3000000000; /* after the times above */
        wait_kept(&w, u, U, 0);
        end_at(&w, U + 10, LP_ACQUIRED);
        is_u64(lp_locktab_hint(u), LP_LOCKTAB_USED, "an entry at rest");
        wait_at(&w, u, U + 100, 10); /* revives it, armed */
        wait_at(&w2, u, U + 110, 0);
        uint64_t reads = clock_reads;
        fake_now = U + 115;
        is_u64(lp_locktab_wait_end(&w2, LP_NOT_A_WAIT), 0,
               "not a wait, nothing since its registration: undone, no time returned");
        is_u64(clock_reads - reads, 0, "... and no clock read");
        ok(release_at(u, U + 150, 0, &charge, &fraction), "... the armed release is picked");
        is_u64(charge, 50, "... and charges only the waiter that stayed: 50 ns");
        end_at(&w, U + 160, LP_ACQUIRED);
        is_u64(lp_locktab_hint(u), LP_LOCKTAB_USED, "... at rest again");

        wait_at(&w, u, U + 200, 0); /* revives it, not armed */
        is_u64(lp_locktab_hint(u), LP_LOCKTAB_USED, "revived unarmed: not DUE");
        end_at(&w, U + 205, LP_NOT_A_WAIT);
        is_u64(lp_locktab_hint(u), LP_LOCKTAB_USED, "... undone: at rest");
        wait_at(&w, u, U + 210, 10); /* revives it, armed */
        is_u64(lp_locktab_hint(u), LP_LOCKTAB_USED | LP_LOCKTAB_DUE, "revived armed: DUE");
        end_at(&w, U + 215, LP_NOT_A_WAIT);
        is_u64(lp_locktab_hint(u), LP_LOCKTAB_USED, "... undone: at rest, its draw gone");
        ok(!release_at(u, U + 220, 0, &charge, &fraction), "... a release at rest: no charge");

        /* A release between the registration and the end: the end is a cancel, on the clock. */
        wait_at(&w, u, U + 300, 10);
        wait_at(&w2, u, U + 310, 0);
        ok(release_at(u, U + 350, 10, &charge, &fraction), "two waiters, the armed release");
        is_u64(charge, 50 + 40, "... charges both: 50 + 40 ns");
        reads = clock_reads;
        end_at(&w2, U + 360, LP_NOT_A_WAIT);
        ok(clock_reads > reads, "not a wait, after a release: a cancel, with the clock");
        ok(release_at(u, U + 400, 0, &charge, &fraction),
           "... the next release, armed by that one");
        is_u64(charge, 50, "... charges only the waiter that stayed, since the last release");
        end_at(&w, U + 410, LP_ACQUIRED);

        /* An entry that is not kept: undone, it still goes with its last waiter. */
        const void *m = &locks[144];
        wait_at(&w, m, U + 500, 0);
        wait_at(&w2, m, U + 510, 0);
        uint64_t n = live();
        end_at(&w2, U + 515, LP_NOT_A_WAIT);
        is_u64(live(), n, "a mutex's second waiter was not one: undone, the entry stays");
        end_at(&w, U + 520, LP_ACQUIRED);
        is_u64(live(), n - 1, "... and goes with its last waiter");

        /* The undo of a revival leaves the entry at rest from the revival on: T never goes
         * back, and a rest is counted from there. */
        wait_at(&w, u, U + 600, 0); /* revives it: at rest since U + 410 */
        reads = clock_reads;
        end_at(&w, U + 605, LP_NOT_A_WAIT);
        is_u64(clock_reads - reads, 0, "a revival undone, with no clock");
        ok(!release_at(&locks[120], U + 600 + 10000000 - 1, 10, &charge, &fraction),
           "... another lock's release that draws, 10 ms less 1 ns after the revival");
        is_u64(live(), n - 1, "... leaves the entry: its rest is counted from the revival");
        ok(!release_at(&locks[120], U + 600 + 10000000, 10, &charge, &fraction),
           "... and 10 ms after it");
        is_u64(live(), n - 2, "... tidies it away");
    }

    /* ---- entries go with their waiters ---- */
    uint64_t before = not_registered();
    for (int i = 0; i < 100; i++) {
        wait_at(&w, &locks[i], 4000 + 10 * (uint64_t)i, 0);
        if (!w.registered)
            break;
        end_at(&w, 4005 + 10 * (uint64_t)i, LP_ACQUIRED);
    }
    is_u64(not_registered() - before, 0,
           "100 locks contended in turn on a 6-way stripe: every waiter registered");
    is_u64(live(), 0, "... and no entry is left behind");

    /* Six waiters at once fill the stripe; the seventh is counted. */
    struct lp_waiter six[6];
    for (int i = 0; i < 6; i++)
        wait_at(&six[i], &locks[50 + i], 5000, 0);
    before = not_registered();
    wait_at(&w2, &locks[99], 5001, 0);
    ok(!w2.registered, "seven waiters at once on six ways: the seventh is not registered");
    is_u64(not_registered() - before, 1, "... and counted");
    end_at(&w2, 5002, LP_ACQUIRED);
    for (int i = 0; i < 6; i++) {
        ok(six[i].registered, "waiter %d of six registered", i);
        end_at(&six[i], 5010, LP_ACQUIRED);
    }
    return done_testing();
}
