/* charge.c — see charge.h for the invariants. */
#include "charge.h"


static inline uint64_t charge_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

void lp_charge_init(struct lp_charge *c, uint64_t now, uint64_t armed)
{
    c->T = now;
    c->Q = 0;
    c->armed = armed;
    c->W = 0;
    c->owed = false;
}

uint64_t lp_charge_register(struct lp_charge *c, uint64_t now)
{
    uint64_t e = charge_max(now, c->T);
    c->W++;
    c->Q += (int64_t)(e - c->T);
    return e;
}

uint64_t lp_charge_release(struct lp_charge *c, uint64_t now, bool *charged)
{
    uint64_t t = charge_max(now, c->T);
    *charged = c->W > 0 || c->owed;
    if (!*charged)
        return 0;
    /* W·(t − T) − R + P, in 128 bits: W·(t − T) alone can pass 2^64 after years of waiting. */
    __int128 charge = (__int128)c->W * (__int128)(t - c->T) - c->Q;
    c->Q = 0;
    c->T = t;
    c->owed = false;
    /* charge >= 0 by the invariant of charge.h; saturate rather than trust it in production. */
    if (charge < 0)
        return 0;
    return charge > (__int128)UINT64_MAX ? UINT64_MAX : (uint64_t)charge;
}

static void charge_unregister(struct lp_charge *c, uint64_t e)
{
    /* Inside someone else's process a broken invariant must not abort: saturate. */
    if (c->W > 0)
        c->W--;
    if (e > c->T)
        c->Q -= (int64_t)(e - c->T);
    /* With nobody registered R is 0, so Q is −P: anything else is the residue of timestamps
     * out of order, and is dropped here rather than charged to someone. */
    if (c->W == 0 && (!c->owed || c->Q >= 0)) {
        c->Q = 0;
        c->owed = false;
    }
}

void lp_charge_leave(struct lp_charge *c, uint64_t e, uint64_t now, bool acquired)
{
    uint64_t base = charge_max(e, c->T);
    charge_unregister(c, e);
    if (!acquired) {
        uint64_t owed = charge_max(now, c->T) - base;
        if (owed) {
            c->Q -= (int64_t)owed;
            c->owed = true;
        }
    }
}

void lp_charge_cancel(struct lp_charge *c, uint64_t e)
{
    charge_unregister(c, e);
}

bool lp_charge_release_sampled(struct lp_charge *c, uint64_t now, uint64_t arm_next,
                               uint64_t *charge, uint64_t *fraction)
{
    uint64_t armed = c->armed;
    c->armed = arm_next;
    if (!armed && !arm_next && !c->owed)
        return false; /* nothing to change, nothing recorded: no clock needed (timed says so) */
    bool charged;
    uint64_t ch = lp_charge_release(c, now, &charged);
    if (!armed)
        return false; /* what was owed to this release goes with it: it is not recorded */
    *charge = ch;
    *fraction = armed;
    return charged;
}
