/*
 * charge.h — the exact charge of DESIGN §3.3, as pure arithmetic on one lock's state.
 *
 * Per lock: W registered waiters, T the time of the last charge, R = Σ max(e_i − T, 0) over
 * the registered waiters (relative to T, so nothing overflows: absolute Σ W×now would within
 * months of uptime), and P, time owed by waiters that left without the lock.
 *
 *   register at now:   e = max(now, T); W += 1; R += e − T              (the waiter keeps e)
 *   release at now:    t = max(now, T); if W > 0 or P > 0:
 *                      charge = W·(t − T) − R + P; R = 0; T = t; P = 0
 *   leave (acquired):  W −= 1; R −= max(e − T, 0)
 *   leave (gave up):   the same, and P += t − max(e, T) with t = max(now, T): the holder that
 *                      made it give up pays at its release
 *   cancel (not a wait after all, e.g. EDEADLK): W −= 1; R −= max(e − T, 0); nothing owed
 *
 * R and P are only ever used as R − P, so the state keeps that one signed number, Q = R − P,
 * and a flag, owed (P > 0), for the release that must pay it: when W = 0, R = 0 and P = −Q.
 * A leave that gave up then moves Q by t − T at once. One number instead of two is what lets
 * the lock table keep a lock's whole state in one 16-byte word (locktab.c).
 *
 * charge = Σ_i (t − max(e_i, T)) + P ≥ 0 because t ≥ T and t ≥ e_i when every timestamp is read
 * after the state it is applied to was (the caller's job: locktab.c, a compare-and-swap on a
 * state loaded before the clock). Each waiter is charged, over all releases, exactly the part
 * of [e, leave] during which it was registered, so Σ charges never exceeds Σ waits. Pure
 * functions, no locking: the caller applies the result atomically.
 */
#ifndef LP_CHARGE_H
#define LP_CHARGE_H

#include <stdbool.h>
#include <stdint.h>

struct lp_charge {
    uint64_t T;     /* time of the last charge (or of the entry's creation) */
    int64_t Q;      /* R − P: Σ max(e_i − T, 0) over registered waiters, less what is owed */
    uint64_t armed; /* the fraction the next release is picked at, or 0 */
    uint32_t W;     /* registered waiters */
    bool owed;      /* P > 0: waiters that gave up are owed by the next release */
};

/* A fresh state, as when a lock's entry is created at time now; armed: the fraction its first
 * release is picked at, or 0 (lp_charge_release_sampled). */
void lp_charge_init(struct lp_charge *c, uint64_t now, uint64_t armed);
uint64_t lp_charge_register(struct lp_charge *c, uint64_t now);
/* The charge of a release at now; 0 when nobody waited and nothing was owed. *charged tells
 * whether the release was a charge event (W > 0 or P > 0). */
uint64_t lp_charge_release(struct lp_charge *c, uint64_t now, bool *charged);
void lp_charge_leave(struct lp_charge *c, uint64_t e, uint64_t now, bool acquired);

/*
 * Sampled releases (the mutex fraction n, DESIGN §3.2). Every release is picked with
 * probability 1/n, but the draw is made one event early: by the release before it, or by the
 * entry's creation, and kept in armed. A picked release, and one that arms the next, applies
 * lp_charge_release at its time: so the next release, if picked, starts from this one's time,
 * and its charge is exactly the one lp_charge_release would have given it. A release owed by
 * waiters that gave up does too, and drops what it charged (it is not recorded): P cannot be
 * dropped alone, since the state keeps only R − P. Any other release changes nothing and
 * needs no clock: lp_charge_release_timed says which. At fraction 10, 8 releases in 10 of a
 * lock with waiters read no clock and, in locktab.c, write nothing.
 *
 * arm_next: the fraction the next release is picked at (0: not picked). Returns true when
 * this release is picked and is a charge event, with its charge and its fraction.
 */
static inline bool lp_charge_release_timed(const struct lp_charge *c, uint64_t arm_next)
{
    return c->armed != 0 || c->owed || arm_next != 0;
}
bool lp_charge_release_sampled(struct lp_charge *c, uint64_t now, uint64_t arm_next,
                               uint64_t *charge, uint64_t *fraction);
void lp_charge_cancel(struct lp_charge *c, uint64_t e);
/* True when the entry carries nothing and may be removed. */
static inline bool lp_charge_idle(const struct lp_charge *c)
{
    return c->W == 0 && !c->owed;
}
/* What waiters that gave up are owed, once nobody is registered (W = 0): P, that is −Q. */
static inline uint64_t lp_charge_pending(const struct lp_charge *c)
{
    return c->W == 0 && c->Q < 0 ? (uint64_t)-c->Q : 0;
}

#endif
