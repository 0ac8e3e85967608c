/* charge.c — see charge.h for the invariants. */
#include "charge.h"


static inline uint64_t charge_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

void lp_charge_init(struct lp_charge *c, uint64_t now, uint64_t armed)
{
    c->T = now;
    c->R = 0;
    c->P = 0;
    c->armed = armed;
    c->W = 0;
}

uint64_t lp_charge_register(struct lp_charge *c, uint64_t now)
{
    uint64_t e = charge_max(now, c->T);
    c->W++;
    c->R += e - c->T;
    return e;
}

uint64_t lp_charge_release(struct lp_charge *c, uint64_t now, bool *charged)
{
    uint64_t t = charge_max(now, c->T);
    *charged = c->W > 0 || c->P > 0;
    if (!*charged)
        return 0;
    uint64_t owed = (uint64_t)c->W * (t - c->T) + c->P;
    /* owed >= R by the invariant of charge.h; saturate rather than trust it in production. */
    uint64_t charge = owed >= c->R ? owed - c->R : 0;
    c->R = 0;
    c->T = t;
    c->P = 0;
    return charge;
}

static void charge_unregister(struct lp_charge *c, uint64_t e)
{
    /* Inside someone else's process a broken invariant must not abort: saturate. */
    if (c->W > 0)
        c->W--;
    if (e > c->T)
        c->R = c->R >= e - c->T ? c->R - (e - c->T) : 0;
}

void lp_charge_leave(struct lp_charge *c, uint64_t e, uint64_t now, bool acquired)
{
    charge_unregister(c, e);
    if (!acquired) {
        uint64_t t = charge_max(now, c->T);
        c->P += t - charge_max(e, c->T);
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
    if (!armed && !arm_next) {
        c->P = 0; /* owed to this release, which is not recorded */
        return false;
    }
    bool charged;
    *charge = lp_charge_release(c, now, &charged);
    *fraction = armed;
    return armed && charged;
}
