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
    uint32_t W; /* registered waiters */
};

/* A fresh state, as when a lock's entry is created at time now. */
void lp_charge_init(struct lp_charge *c, uint64_t now);
uint64_t lp_charge_register(struct lp_charge *c, uint64_t now);
/* The charge of a release at now; 0 when nobody waited and nothing was owed. *charged tells
 * whether the release was a charge event (W > 0 or P > 0). */
uint64_t lp_charge_release(struct lp_charge *c, uint64_t now, bool *charged);
void lp_charge_leave(struct lp_charge *c, uint64_t e, uint64_t now, bool acquired);
void lp_charge_cancel(struct lp_charge *c, uint64_t e);
/* True when the entry carries nothing and may be removed. */
static inline bool lp_charge_idle(const struct lp_charge *c)
{
    return c->W == 0 && c->P == 0;
}

#endif
