/*
 * unit_charge — the charge of DESIGN §3.3 with a scripted clock, then 10^6 random
 * interleavings against a brute-force model (fixed seed).
 */
#include <math.h>

#include "charge.h"
#include "sample.h"
#include "tap.h"

static uint64_t release(struct lp_charge *c, uint64_t now, bool *charged)
{
    return lp_charge_release(c, now, charged);
}

static void scripted(void)
{
    struct lp_charge c;
    bool charged;

    /* k = 3 waiters for the whole of one hold h = 50: the holder is charged k·h. */
    lp_charge_init(&c, 100, 0);
    uint64_t e[3];
    for (int i = 0; i < 3; i++)
        e[i] = lp_charge_register(&c, 100);
    is_u64(release(&c, 150, &charged), 150, "convoy: one holder, 3 waiters, 50 each: 3*50");
    ok(charged, "convoy: the release is a charge event");
    for (int i = 0; i < 3; i++)
        lp_charge_leave(&c, e[i], 151 + i, true);
    ok(lp_charge_idle(&c), "convoy: idle once every waiter left");

    /* Two successive holders are each charged their own part of one wait. */
    lp_charge_init(&c, 0, 0);
    uint64_t w = lp_charge_register(&c, 0);
    is_u64(release(&c, 30, &charged), 30, "two holders: the first is charged 30");
    is_u64(release(&c, 100, &charged), 70, "two holders: the second is charged 70");
    lp_charge_leave(&c, w, 101, true);
    ok(lp_charge_idle(&c), "two holders: idle after");

    /* A charge between a waiter's clock read (50) and its registration (after T = 60). */
    lp_charge_init(&c, 0, 0);
    uint64_t w1 = lp_charge_register(&c, 0);
    is_u64(release(&c, 60, &charged), 60, "late registration: first release");
    uint64_t w2 = lp_charge_register(&c, 50); /* its clock read predates T */
    is_u64(w2, 60, "late registration: e = max(now, T)");
    is_u64(release(&c, 80, &charged), 40, "late registration: 20 for each waiter, not negative");
    lp_charge_leave(&c, w1, 81, true);
    lp_charge_leave(&c, w2, 82, true);
    ok(lp_charge_idle(&c), "late registration: idle after");

    /* A timeout right after registration owes nothing; a later one owes its wait. */
    lp_charge_init(&c, 10, 0);
    uint64_t t1 = lp_charge_register(&c, 10);
    lp_charge_leave(&c, t1, 10, false);
    ok(lp_charge_idle(&c), "immediate timeout: nothing owed, entry idle");
    is_u64(release(&c, 20, &charged), 0, "immediate timeout: no charge");
    ok(!charged, "immediate timeout: not a charge event");
    lp_charge_init(&c, 10, 0);
    t1 = lp_charge_register(&c, 10);
    lp_charge_leave(&c, t1, 40, false);
    ok(!lp_charge_idle(&c), "timeout after 30: pending time keeps the entry");
    is_u64(lp_charge_pending(&c), 30, "timeout after 30: P = 30");
    is_u64(release(&c, 50, &charged), 30, "timeout after 30: the holder that caused it pays 30");
    ok(charged && lp_charge_idle(&c), "timeout after 30: charged, then idle");

    /* Timeout after a partial charge: only the uncharged part is pending. */
    lp_charge_init(&c, 0, 0);
    t1 = lp_charge_register(&c, 0);
    is_u64(release(&c, 25, &charged), 25, "partial: first release 25");
    lp_charge_leave(&c, t1, 40, false);
    is_u64(lp_charge_pending(&c), 15, "partial: 15 pending after the timeout");

    /* Owner died: what the waiters are owed goes to whoever records the synthetic charge. */
    lp_charge_init(&c, 0, 0);
    uint64_t a = lp_charge_register(&c, 0), b = lp_charge_register(&c, 20);
    is_u64(release(&c, 90, &charged), 90 + 70, "owner died: both waits charged at EOWNERDEAD");
    lp_charge_leave(&c, a, 91, true);
    lp_charge_leave(&c, b, 92, true);
    ok(lp_charge_idle(&c), "owner died: idle after");

    /* Not a wait after all (EDEADLK, EINVAL): cancelled without a trace. */
    lp_charge_init(&c, 5, 0);
    a = lp_charge_register(&c, 7);
    lp_charge_cancel(&c, a);
    ok(lp_charge_idle(&c) && c.Q == 0, "cancel: idle, R back to 0");
}

/* Random interleavings against a brute-force model that tracks, per waiter, the time up to
 * which it has been charged. */
#define MAXW 16
struct model_waiter {
    bool live;
    uint64_t start, e, charged_until;
    uint64_t se; /* its registration in the sampled state */
};

#define SAMPLED_N 3
static uint64_t sampled_arm(struct lp_rng *r)
{
    return lp_rng_below(r, SAMPLED_N) == 0 ? SAMPLED_N : 0;
}

static void random_interleavings(void)
{
    struct lp_rng r;
    lp_rng_seed(&r, 20261121);
    struct lp_charge c;
    struct model_waiter w[MAXW] = { 0 };
    uint64_t now = 1000, sum_charges = 0, sum_waits = 0, pending_bf = 0;
    uint64_t negatives = 0, mismatches = 0, releases = 0, nonzero = 0;
    /* Beside it, the same events on a state with sampled releases at fraction SAMPLED_N (its
     * own generator draws the arming): every picked release must be charged exactly what the
     * full state charged that release, and the picks, weighted n, must add up to the total. */
    struct lp_rng ra;
    lp_rng_seed(&ra, 5);
    struct lp_charge sc;
    uint64_t s_picked = 0, s_mismatches = 0, s_weighted = 0, s_timed = 0;
    lp_charge_init(&c, now, 0);
    lp_charge_init(&sc, now, sampled_arm(&ra));
    for (long step = 0; step < 1000000; step++) {
        now += lp_rng_below(&r, 1000);
        unsigned op = (unsigned)lp_rng_below(&r, 100), i = (unsigned)lp_rng_below(&r, MAXW);
        if (op < 35) { /* register, sometimes with a clock read older than T */
            if (w[i].live)
                continue;
            uint64_t t = now - (lp_rng_below(&r, 4) == 0 ? lp_rng_below(&r, 2000) : 0);
            if (t > now)
                t = now;
            w[i].live = true;
            w[i].start = t;
            w[i].e = lp_charge_register(&c, t);
            w[i].se = lp_charge_register(&sc, t);
            w[i].charged_until = w[i].e;
        } else if (op < 65) { /* release */
            bool charged;
            uint64_t t = now > c.T ? now : c.T;
            /* brute force: Σ (t − charged_until) + pending */
            int64_t bf = (int64_t)pending_bf;
            for (int k = 0; k < MAXW; k++)
                if (w[k].live)
                    bf += (int64_t)(t - w[k].charged_until);
            if (bf < 0)
                negatives++;
            uint64_t ch = lp_charge_release(&c, now, &charged);
            uint64_t arm = sampled_arm(&ra), sch, sf;
            s_timed += lp_charge_release_timed(&sc, arm);
            if (lp_charge_release_sampled(&sc, now, arm, &sch, &sf)) {
                s_picked++;
                if (!charged || sch != ch || sf != SAMPLED_N)
                    s_mismatches++;
                s_weighted += sf * sch;
            }
            if (charged) {
                releases++;
                if ((int64_t)ch != bf)
                    mismatches++;
                if (ch)
                    nonzero++;
                sum_charges += ch;
                pending_bf = 0;
                for (int k = 0; k < MAXW; k++)
                    if (w[k].live)
                        w[k].charged_until = t;
            }
        } else { /* leave: acquired, or gave up (timeout / cancel) */
            if (!w[i].live)
                continue;
            bool acquired = op < 90;
            uint64_t t = now > c.T ? now : c.T;
            lp_charge_leave(&c, w[i].e, now, acquired);
            lp_charge_leave(&sc, w[i].se, now, acquired);
            if (!acquired)
                pending_bf += t - w[i].charged_until;
            sum_waits += now - w[i].start;
            w[i].live = false;
        }
        if (lp_charge_idle(&c)) /* the table drops idle entries; a new one starts at now */
            lp_charge_init(&c, now, 0);
        if (lp_charge_idle(&sc))
            lp_charge_init(&sc, now, sampled_arm(&ra));
    }
    for (int k = 0; k < MAXW; k++) /* everyone still waiting leaves, so Σ waits is complete */
        if (w[k].live) {
            now += 1;
            lp_charge_leave(&c, w[k].e, now, true);
            sum_waits += now - w[k].start;
            w[k].live = false;
        }
    ok(lp_charge_idle(&c) || lp_charge_pending(&c) > 0,
       "random: the state is idle once everyone left");
    is_u64(negatives, 0, "random: the brute-force charge is never negative");
    is_u64(mismatches, 0, "random: every charge equals the brute-force model (%llu releases, "
                          "%llu non-zero)", (unsigned long long)releases,
           (unsigned long long)nonzero);
    cmp_ok_u64(sum_charges, "<=", sum_waits, "random: Σ charges <= Σ waits");
    cmp_ok_u64(releases, ">", 100000, "random: enough charge events to mean something");

    is_u64(s_mismatches, 0, "sampled at 1/%d: every picked release is charged what the full "
                            "state charged it (%llu picked)", SAMPLED_N,
           (unsigned long long)s_picked);
    /* Picks are Bernoulli(1/n), one per release: the count's sd is sqrt(N (1/n)(1 - 1/n)). */
    double N = (double)releases, p = 1.0 / SAMPLED_N;
    double sd = sqrt(N * p * (1 - p));
    ok(fabs((double)s_picked - N * p) < 6 * sd, "sampled: %llu picks of %llu releases, "
       "expected %.0f +- %.0f (6 sd)", (unsigned long long)s_picked,
       (unsigned long long)releases, N * p, 6 * sd);
    /* The weighted total is unbiased; with this many picks its relative error is well under
     * 2 % (the per-release charges have a coefficient of variation near 1: sd ~ 0.3 %). */
    double rel = (double)s_weighted / (double)sum_charges - 1;
    ok(fabs(rel) < 0.02, "sampled: n x Σ picked charges is Σ charges within 2 %% (%+.2f %%)",
       100 * rel);
    ok((double)s_timed < 2.2 * N * p, "sampled: only picked, arming and owed releases need the "
       "clock (%llu of %llu releases)", (unsigned long long)s_timed,
       (unsigned long long)releases);
}

int main(void)
{
    scripted();
    random_interleavings();
    return done_testing();
}
