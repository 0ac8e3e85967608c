/* locktab.c — see locktab.h. */
#include "locktab.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#include "charge.h"
#include "clock.h"
#include "sync.h"

#define LOCKTAB_WAYS 6

struct locktab_slot {
    const void *lock;        /* NULL: free. Under the stripe's guard. */
    struct lp_charge charge; /* under the stripe's guard */
};

struct locktab_stripe {
    lp_lock_t guard;
    uint32_t used; /* under guard */
    struct locktab_slot slot[LOCKTAB_WAYS];
} __attribute__((aligned(64)));

static struct locktab_stripe *locktab_stripes; /* immutable after init */
static size_t locktab_bytes;                   /* immutable after init: the stripes and hints */
uint64_t lp_locktab_live_;                     /* atomic: slots in use, all stripes */
uint8_t *lp_locktab_hint_;                     /* per stripe, atomic: lp_locktab_hint */
uint64_t lp_locktab_mask_;                     /* immutable after init: stripes - 1 */
static uint64_t locktab_not_registered;        /* atomic */
static uint64_t locktab_slow_waits;            /* atomic: guard waits over LP_SLOW_WAIT_NS */

/* A stripe's guard, with the waits that took long counted (the clock is read only when the
 * guard was not free at once). */
static void locktab_guard(struct locktab_stripe *s)
{
    if (lp_trylock(&s->guard))
        return;
    uint64_t t0 = lp_now();
    lp_lock_slow(&s->guard);
    if (lp_now() - t0 > LP_SLOW_WAIT_NS)
        __atomic_fetch_add(&locktab_slow_waits, 1, __ATOMIC_RELAXED);
}

int lp_locktab_init(unsigned stripes)
{
    unsigned n = 1;
    while (n < stripes)
        n <<= 1;
    size_t bytes = sizeof(struct locktab_stripe) * n + n;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    locktab_bytes = bytes;
    locktab_stripes = p;
    lp_locktab_mask_ = n - 1;
    lp_locktab_hint_ = (uint8_t *)p + sizeof(struct locktab_stripe) * n;
    return 0;
}

static inline struct locktab_stripe *locktab_stripe_of(const void *lock)
{
    return &locktab_stripes[lp_locktab_stripe_index(lock)];
}

static struct locktab_slot *locktab_find(struct locktab_stripe *s, const void *lock)
{
    for (unsigned i = 0; i < LOCKTAB_WAYS; i++)
        if (s->slot[i].lock == lock)
            return &s->slot[i];
    return NULL;
}

static void locktab_maybe_free(struct locktab_stripe *s, struct locktab_slot *sl)
{
    if (lp_charge_idle(&sl->charge)) {
        sl->lock = NULL;
        s->used--;
        __atomic_fetch_sub(&lp_locktab_live_, 1, __ATOMIC_RELAXED);
    }
}

/* Whether the entry's next release has work to do under the guard: it is armed (picked), or
 * owed by waiters that gave up. Relaxed loads: also read without the guard, by the release's
 * peek (locktab_peek). */
static inline bool locktab_due(const struct lp_charge *c)
{
    return __atomic_load_n(&c->armed, __ATOMIC_RELAXED) != 0 ||
           __atomic_load_n(&c->P, __ATOMIC_RELAXED) != 0;
}

/* Brings the stripe's hint up to date, under its guard, after any change to its entries. */
static void locktab_hint_update(struct locktab_stripe *s)
{
    unsigned h = 0;
    if (s->used) {
        h = LP_LOCKTAB_USED;
        for (unsigned i = 0; i < LOCKTAB_WAYS; i++)
            if (s->slot[i].lock && locktab_due(&s->slot[i].charge))
                h |= LP_LOCKTAB_DUE;
    }
    uint8_t *hp = &lp_locktab_hint_[s - locktab_stripes];
    if (__atomic_load_n(hp, __ATOMIC_RELAXED) != h)
        __atomic_store_n(hp, (uint8_t)h, __ATOMIC_RELAXED);
}

void lp_locktab_wait_begin(struct lp_waiter *w, const void *lock, bool charge, uint64_t arm)
{
    w->lock = lock;
    w->registered = false;
    if (!charge || !locktab_stripes) {
        w->start = lp_now_nofence();
        return;
    }
    struct locktab_stripe *s = locktab_stripe_of(lock);
    locktab_guard(s);
    uint64_t now = lp_now();
    struct locktab_slot *sl = locktab_find(s, lock);
    if (!sl && s->used < LOCKTAB_WAYS) {
        sl = locktab_find(s, NULL);
        sl->lock = lock;
        lp_charge_init(&sl->charge, now, arm);
        s->used++;
        __atomic_fetch_add(&lp_locktab_live_, 1, __ATOMIC_RELAXED);
        locktab_hint_update(s);
    }
    if (sl) {
        w->e = lp_charge_register(&sl->charge, now);
        w->registered = true;
    }
    lp_unlock(&s->guard);
    if (!sl)
        __atomic_fetch_add(&locktab_not_registered, 1, __ATOMIC_RELAXED);
    w->start = now;
}

uint64_t lp_locktab_wait_end(struct lp_waiter *w, enum lp_wait_outcome outcome)
{
    if (!w->registered)
        return lp_now_nofence();
    struct locktab_stripe *s = locktab_stripe_of(w->lock);
    locktab_guard(s);
    uint64_t now = lp_now();
    struct locktab_slot *sl = locktab_find(s, w->lock);
    if (sl) { /* always found, unless a fork dropped the table under us */
        if (outcome == LP_NOT_A_WAIT)
            lp_charge_cancel(&sl->charge, w->e);
        else
            lp_charge_leave(&sl->charge, w->e, now, outcome == LP_ACQUIRED);
        locktab_maybe_free(s, sl);
        locktab_hint_update(s);
    }
    lp_unlock(&s->guard);
    w->registered = false;
    return now;
}

/* Unguarded: the stripe of lock when lock has an entry there, and the entry in *slp; else
 * NULL. Relaxed loads of fields written under the guard: most unlocks while other locks are
 * contended end here, and an entry being created concurrently is missed — a waiter registering
 * while the release runs is one this release could not have made wait anyway. */
static struct locktab_stripe *locktab_peek(const void *lock, const struct locktab_slot **slp)
{
    if (!lp_locktab_busy())
        return NULL;
    struct locktab_stripe *s = locktab_stripe_of(lock);
    if (__atomic_load_n(&s->used, __ATOMIC_RELAXED) == 0)
        return NULL;
    for (unsigned i = 0; i < LOCKTAB_WAYS; i++) {
        if (__atomic_load_n(&s->slot[i].lock, __ATOMIC_RELAXED) == lock) {
            *slp = &s->slot[i];
            return s;
        }
    }
    return NULL;
}

bool lp_locktab_release(const void *lock, uint64_t arm, uint64_t *charge, uint64_t *fraction)
{
    const struct locktab_slot *peek;
    struct locktab_stripe *s = locktab_peek(lock, &peek);
    if (!s)
        return false;
    /* Most releases of a lock with waiters are neither picked nor arm the next, and owe
     * nothing (charge.h): nothing to change, no guard, no clock. */
    if (!arm && !locktab_due(&peek->charge))
        return false;
    bool picked = false;
    locktab_guard(s);
    struct locktab_slot *sl = locktab_find(s, lock);
    if (sl) {
        uint64_t now = lp_charge_release_timed(&sl->charge, arm) ? lp_now() : 0;
        picked = lp_charge_release_sampled(&sl->charge, now, arm, charge, fraction);
        locktab_maybe_free(s, sl);
        locktab_hint_update(s);
    }
    lp_unlock(&s->guard);
    return picked;
}

void lp_locktab_rebase(const void *lock)
{
    const struct locktab_slot *peek;
    struct locktab_stripe *s = locktab_peek(lock, &peek);
    if (!s)
        return;
    locktab_guard(s);
    struct locktab_slot *sl = locktab_find(s, lock);
    if (sl) {
        bool charged;
        (void)lp_charge_release(&sl->charge, lp_now(), &charged); /* armed stays as it is */
        locktab_maybe_free(s, sl);
        locktab_hint_update(s);
    }
    lp_unlock(&s->guard);
}

void lp_locktab_stats(struct lp_locktab_stats *st)
{
    st->not_registered = __atomic_load_n(&locktab_not_registered, __ATOMIC_RELAXED);
    st->slow_waits = __atomic_load_n(&locktab_slow_waits, __ATOMIC_RELAXED);
    st->live = __atomic_load_n(&lp_locktab_live_, __ATOMIC_RELAXED);
}

void lp_locktab_atfork_child(void)
{
    /* MADV_DONTNEED on private anonymous memory gives back zero pages, which is the empty
     * table with every guard free: the child drops the parent's entries without touching (and
     * so without making resident) a stripe it never uses. */
    if (locktab_stripes && madvise(locktab_stripes, locktab_bytes, MADV_DONTNEED) != 0) {
        /* Refused (a seccomp policy): every stripe by hand. */
        for (unsigned i = 0; i <= lp_locktab_mask_; i++) {
            struct locktab_stripe *s = &locktab_stripes[i];
            lp_lock_reset(&s->guard);
            s->used = 0;
            lp_locktab_hint_[i] = 0;
            for (unsigned j = 0; j < LOCKTAB_WAYS; j++)
                s->slot[j].lock = NULL;
        }
    }
    lp_locktab_live_ = 0;
}
