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
 * charge = Σ_i (t − max(e_i, T)) + P ≥ 0 because t ≥ T and t ≥ e_i when every timestamp is read
 * under the lock's guard (the caller's job: locktab.c). Each waiter is charged, over all
 * releases, exactly the part of [e, leave] during which it was registered, so Σ charges never
 * exceeds Σ waits. Pure functions, no locking: the caller holds the guard.
 */
#ifndef LP_CHARGE_H
#define LP_CHARGE_H

#include <stdbool.h>
#include <stdint.h>

struct lp_charge {
    uint64_t T; /* time of the last charge (or of the entry's creation) */
    uint64_t R; /* Σ max(e_i − T, 0) over registered waiters */
    uint64_t P; /* pending: owed by waiters that gave up */
    uint64_t armed; /* the fraction the next release is picked at, or 0 */
    uint32_t W; /* registered waiters */
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
 * and its charge is exactly the one lp_charge_release would have given it. Any other release
 * changes nothing but dropping what waiters that gave up owed it (it is not recorded), and
 * needs no clock: lp_charge_release_timed says which. At fraction 10, 8 releases in 10 of a
 * lock with waiters read no clock and, in locktab.c, take no guard.
 *
 * arm_next: the fraction the next release is picked at (0: not picked). Returns true when
 * this release is picked and is a charge event, with its charge and its fraction.
 */
static inline bool lp_charge_release_timed(const struct lp_charge *c, uint64_t arm_next)
{
    return c->armed != 0 || arm_next != 0;
}
bool lp_charge_release_sampled(struct lp_charge *c, uint64_t now, uint64_t arm_next,
                               uint64_t *charge, uint64_t *fraction);
void lp_charge_cancel(struct lp_charge *c, uint64_t e);
/* True when the entry carries nothing and may be removed. */
static inline bool lp_charge_idle(const struct lp_charge *c)
{
    return c->W == 0 && c->P == 0;
}

#endif
