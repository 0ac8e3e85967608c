/* locktab.c — see locktab.h.
 *
 * An entry's state is one 16-byte word, replaced whole by cmpxchg16b (locktab_cas):
 *
 *   bits   0..55   T, the time of the last charge, modulo 2^56 (2.3 years of nanoseconds)
 *   bits  56..69   W, registered waiters (up to 16383; one more is not registered)
 *   bit   70       LIVE: the slot holds its key's entry (0: free, or being claimed or freed)
 *   bit   71       ARMED: the next release is picked, at the fraction in the slot's frac
 *   bit   72       OWED: waiters that gave up are owed by the next release
 *   bits  73..127  Q = R − P (charge.h), signed: ±2^54 ns, 208 days of waiting not yet charged
 *
 * T is read back as the time within 2^55 ns of the clock read that goes with the operation:
 * exact unless an entry has had no charge for 1.1 years. A registration that would take W or
 * Q out of range is not made (counted as not registered); what waiters that gave up are owed
 * saturates. The all-zero word is a free slot, so zero pages are the empty table.
 *
 * Why a thread of the program never waits here: nothing is held across instructions. Each
 * operation loads the word, reads the clock, computes the new word (charge.c) and swaps it in
 * only if the word is still the one it loaded; if not, it starts over from the word the swap
 * found. A swap fails only because another thread's operation succeeded in between, so some
 * operation always completes, and no thread's progress depends on another one being scheduled:
 * one preempted in the middle of an operation holds nothing anyone else needs. What contention
 * costs is counted in lp_locktab_stats.retries.
 *
 * Why the charge stays exact and never negative without a guard: an operation's clock read
 * follows its load of the word (lp_now fences it), and its swap depends on that read (the new
 * T or Q is computed from it), so the swap cannot become visible before the read. An operation
 * B that swaps after A's swap loaded a word that already held A's change, after A's clock read:
 * B's time is at least A's, which is all charge.h asks of the times read "under the guard".
 *
 * A slot's life: a claimer swaps its key from NULL to the lock (locktab_claim), then makes the
 * state LIVE with its own registration (T strictly above the free state's T); the operation
 * that leaves an entry with no waiter and nothing owed (for a kept entry at rest, a claim
 * that needs its slot or a release that tidies the stripe) swaps in the free state (LIVE
 * clear, T kept) and only then clears the key. So a LIVE state always has its lock in the
 * key, and a thread that loads a LIVE word and then reads its lock's address in the key
 * operates on that lock's entry if its swap succeeds: had the entry been freed and its slot
 * claimed again in between, the word would differ (T only grows over a slot's life). Nobody
 * but the claimer revives a free state, so a slot being claimed or freed is simply passed
 * over. (Within one entry a word can come back bit for bit — a waiter registers and another
 * leaves whose registrations were read at the same nanosecond, or a registration is undone
 * (lp_locktab_wait_end) — and an operation stalled across both would then swap with an early
 * time; the charge saturates at 0 rather than go negative. After the undo of a registration
 * that revived nothing that is exact: the stalled operation swaps as it would have before
 * the registration; after the undo of a revival, T has moved on and its swap fails.)
 */
#include "locktab.h"
#include "sys.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#include "charge.h"
#include "clock.h"

#define LOCKTAB_WAYS 6

typedef unsigned __int128 locktab_word;

#define LOCKTAB_T_BITS 56
#define LOCKTAB_T_MASK ((UINT64_C(1) << LOCKTAB_T_BITS) - 1)
#define LOCKTAB_W_SHIFT 56
#define LOCKTAB_W_MAX 0x3fffu
#define LOCKTAB_LIVE ((locktab_word)1 << 70)
#define LOCKTAB_ARMED ((locktab_word)1 << 71)
#define LOCKTAB_OWED ((locktab_word)1 << 72)
#define LOCKTAB_Q_SHIFT 73
#define LOCKTAB_Q_MAX ((INT64_C(1) << 54) - 1)
#define LOCKTAB_Q_MIN (-(INT64_C(1) << 54))

/* The stripe's hint word (locktab.h): claimed slots in the low half, due entries in the high. */
#define LOCKTAB_HINT_USED_ONE 1u
#define LOCKTAB_HINT_DUE_ONE 0x10000u

struct locktab_slot {
    locktab_word st; /* atomic, by cmpxchg16b: the entry's state, packed as above */
    uint64_t frac;   /* atomic: the fraction the entry was armed at; meaningful while ARMED */
    uint64_t keep;   /* atomic: non-zero while the slot holds a kept entry (locktab.h); set by
                        each claimer before the swap that makes its entry LIVE */
};

struct locktab_stripe {
    const void *key[LOCKTAB_WAYS]; /* atomic: slot i's lock, or NULL: free to claim */
    uint64_t pad_[8 - LOCKTAB_WAYS];
    struct locktab_slot slot[LOCKTAB_WAYS];
} __attribute__((aligned(64)));

LP_INIT_DATA static struct locktab_stripe *locktab_stripes; /* immutable after init */
LP_INIT_DATA static size_t locktab_bytes; /* immutable after init: the stripes and hints */
uint64_t lp_locktab_live_;                     /* atomic: slots claimed, all stripes */
LP_INIT_DATA uint32_t *lp_locktab_hint_; /* per stripe, atomic: lp_locktab_hint */
LP_INIT_DATA uint64_t lp_locktab_mask_;                     /* immutable after init: stripes - 1 */
static uint64_t locktab_not_registered;        /* atomic */
static uint64_t locktab_retries;               /* atomic */

LP_INIT_TEXT int lp_locktab_init(unsigned stripes)
{
    unsigned n = 1;
    while (n < stripes)
        n <<= 1;
    size_t bytes = sizeof(struct locktab_stripe) * n + sizeof(uint32_t) * n;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    locktab_bytes = bytes;
    locktab_stripes = p;
    lp_locktab_mask_ = n - 1;
    lp_locktab_hint_ = (uint32_t *)((char *)p + sizeof(struct locktab_stripe) * n);
    return 0;
}

/* ---- the word ---------------------------------------------------------------------------- */

/* Two 8-byte loads: they may come from two different words, which the swap then refuses. */
static inline locktab_word locktab_load(const locktab_word *p)
{
    const uint64_t *h = (const uint64_t *)p;
    uint64_t lo = __atomic_load_n(&h[0], __ATOMIC_ACQUIRE);
    uint64_t hi = __atomic_load_n(&h[1], __ATOMIC_ACQUIRE);
    return (locktab_word)hi << 64 | lo;
}

/* Replaces *p by desired if it is *expected; else loads *expected with what *p holds. A full
 * barrier either way (lock prefix). */
static inline bool locktab_cas(locktab_word *p, locktab_word *expected, locktab_word desired)
{
    uint64_t lo = (uint64_t)*expected, hi = (uint64_t)(*expected >> 64);
    bool ok;
    __asm__ __volatile__("lock cmpxchg16b %1"
                         : "=@ccz"(ok), "+m"(*p), "+a"(lo), "+d"(hi)
                         : "b"((uint64_t)desired), "c"((uint64_t)(desired >> 64))
                         : "memory");
    *expected = (locktab_word)hi << 64 | lo;
    return ok;
}

static inline bool locktab_live(locktab_word v)
{
    return (v & LOCKTAB_LIVE) != 0;
}

static inline bool locktab_word_due(locktab_word v)
{
    return locktab_live(v) && (v & (LOCKTAB_ARMED | LOCKTAB_OWED)) != 0;
}

/* A LIVE word with no waiter and nothing owed: a kept entry at rest (locktab_rest), which a
 * claim may free. */
static inline bool locktab_word_idle(locktab_word v)
{
    return locktab_live(v) && (v & LOCKTAB_OWED) == 0 &&
           ((uint64_t)(v >> LOCKTAB_W_SHIFT) & LOCKTAB_W_MAX) == 0;
}

/* Whether slot sl's entry is kept when idle, read after its word each time the word is
 * (re)loaded: its claimer stored it before the swap that published the LIVE word, and a word
 * found after a failed swap may be a later entry's of the same lock, claimed by another
 * family. */
static inline bool locktab_kept(const struct locktab_slot *sl)
{
    return __atomic_load_n(&sl->keep, __ATOMIC_RELAXED) != 0;
}

/* T as a full time: the one within 2^55 ns of now whose low 56 bits are stored. */
static inline uint64_t locktab_time(locktab_word v, uint64_t now)
{
    uint64_t d = (now - (uint64_t)v) & LOCKTAB_T_MASK;
    int64_t sd = (int64_t)(d << (64 - LOCKTAB_T_BITS)) >> (64 - LOCKTAB_T_BITS);
    return now - (uint64_t)sd;
}

/* The fraction an armed entry was armed at, read once per operation, after its word. The
 * operation that arms an entry stores it before the swap that publishes ARMED
 * (locktab_arm). Releases of one mutex never race (its holder makes them), so a picked release
 * reads the fraction its arming release drew with; releases that do race (readers of a
 * rwlock) may overwrite each other's, and the two differ only if the fraction was changed at
 * run time between their draws. */
static inline uint64_t locktab_frac(const struct locktab_slot *sl)
{
    return __atomic_load_n(&sl->frac, __ATOMIC_RELAXED);
}

/* The state of a LIVE word, with the clock read now that goes with the operation and the
 * slot's frac as read once for it (locktab_frac). */
static void locktab_unpack(locktab_word v, uint64_t now, uint64_t *frac,
                           const struct locktab_slot *sl, struct lp_charge *c)
{
    c->T = locktab_time(v, now);
    c->W = (uint32_t)(v >> LOCKTAB_W_SHIFT) & LOCKTAB_W_MAX;
    c->owed = (v & LOCKTAB_OWED) != 0;
    c->armed = 0;
    if (v & LOCKTAB_ARMED) {
        if (*frac == 0) /* read before the word was armed: now it is stored */
            *frac = locktab_frac(sl);
        c->armed = *frac ? *frac : 1;
    }
    /* 55 bits, sign-extended: shifted up as unsigned (a signed shift that overflows is
     * undefined), then down as signed (gcc's >> of a negative value is arithmetic). */
    c->Q = (int64_t)((uint64_t)(v >> LOCKTAB_Q_SHIFT) << 9) >> 9;
}

static inline void locktab_arm(struct locktab_slot *sl, uint64_t arm)
{
    if (arm && __atomic_load_n(&sl->frac, __ATOMIC_RELAXED) != arm)
        __atomic_store_n(&sl->frac, arm, __ATOMIC_RELAXED);
}

/* A kept entry's state once nobody waits and nothing is owed: at rest. It keeps no draw (the
 * next registration draws, as an entry's creation does: a release at rest is no charge event,
 * and its draw would only make the stripe DUE for nothing), and its T moves up to the
 * operation's time, so that a long rest never leaves T 2^55 ns behind the clock. */
static inline void locktab_rest(struct lp_charge *c, uint64_t now)
{
    if (!lp_charge_idle(c))
        return;
    c->armed = 0;
    if (now > c->T)
        c->T = now;
}

/* The word of a state: LIVE, or the free word (T kept) once it is idle, unless the entry is
 * kept (keep): then a LIVE word with no waiter. Q is kept in range: registrations that would
 * take it above are refused, and what is owed saturates below. */
static locktab_word locktab_pack(const struct lp_charge *c, bool keep)
{
    locktab_word v = c->T & LOCKTAB_T_MASK;
    if (lp_charge_idle(c) && !keep)
        return v;
    int64_t q = c->Q < LOCKTAB_Q_MIN ? LOCKTAB_Q_MIN : c->Q > LOCKTAB_Q_MAX ? LOCKTAB_Q_MAX : c->Q;
    v |= (locktab_word)(c->W & LOCKTAB_W_MAX) << LOCKTAB_W_SHIFT | LOCKTAB_LIVE;
    v |= (locktab_word)((uint64_t)q & ((UINT64_C(1) << 55) - 1)) << LOCKTAB_Q_SHIFT;
    if (c->owed)
        v |= LOCKTAB_OWED;
    if (c->armed)
        v |= LOCKTAB_ARMED;
    return v;
}

/* The T of an entry created at now in a slot whose free word is v: strictly above the free
 * word's T, so that no word of the slot's earlier entries can come back (a slot's life, at
 * the top). The free word's T is the clock read of the operation that freed it, made before
 * the claimer saw the key cleared, so it is at most now, unless the counters of two CPUs
 * disagree by a few cycles; a never-used slot's T is 0, and is not a time at all. The same
 * for a kept entry revived from rest (v its word at rest, T when the rest began): however long
 * the rest, the entry starts afresh, and a T read back from 2^55 ns ago as the future is no
 * future. */
#define LOCKTAB_SKEW_NS (UINT64_C(1) << 30)
static uint64_t locktab_revival_time(locktab_word v, uint64_t now)
{
    uint64_t t_free = locktab_time(v, now);
    if (t_free < now || t_free - now >= LOCKTAB_SKEW_NS)
        return now;
    return t_free + 1;
}

/* ---- slots ------------------------------------------------------------------------------- */

static inline struct locktab_stripe *locktab_stripe_of(const void *lock)
{
    return &locktab_stripes[lp_locktab_stripe_index(lock)];
}

static inline uint32_t *locktab_hint_of(const struct locktab_stripe *s)
{
    return &lp_locktab_hint_[s - locktab_stripes];
}

/* Slot i's word, when it is lock's LIVE entry: the word is loaded before the key is checked
 * (a LIVE word's slot has its lock in the key until the word is freed). */
static inline bool locktab_load_entry(struct locktab_stripe *s, unsigned i, const void *lock,
                                      locktab_word *v)
{
    *v = locktab_load(&s->slot[i].st);
    return locktab_live(*v) && __atomic_load_n(&s->key[i], __ATOMIC_ACQUIRE) == lock;
}

/* Slot i's word, when it is lock's LIVE entry, with a relaxed look at the key first: most
 * ways of a stripe hold other locks, and this costs them no ordered load. */
static inline bool locktab_find_entry(struct locktab_stripe *s, unsigned i, const void *lock,
                                      locktab_word *v)
{
    return __atomic_load_n(&s->key[i], __ATOMIC_RELAXED) == lock &&
           locktab_load_entry(s, i, lock, v);
}

/* After a failed swap: whether the word found is still lock's entry. */
static inline bool locktab_still_entry(struct locktab_stripe *s, unsigned i, const void *lock,
                                       locktab_word v)
{
    __atomic_fetch_add(&locktab_retries, 1, __ATOMIC_RELAXED);
    return locktab_live(v) && __atomic_load_n(&s->key[i], __ATOMIC_ACQUIRE) == lock;
}

/* Swaps slot i's word from *v to nv. The stripe's DUE count is raised before a word that is
 * not due is replaced by one that is, and lowered after the reverse, so that it never counts
 * fewer due entries than there are. A word swapped to free gives its key back after the swap,
 * so that nobody claims the slot while a LIVE word is in it. */
static bool locktab_commit(struct locktab_stripe *s, unsigned i, locktab_word *v, locktab_word nv)
{
    bool was = locktab_word_due(*v), will = locktab_word_due(nv);
    uint32_t *hint = locktab_hint_of(s);
    if (will && !was)
        __atomic_fetch_add(hint, LOCKTAB_HINT_DUE_ONE, __ATOMIC_RELAXED);
    if (!locktab_cas(&s->slot[i].st, v, nv)) {
        if (will && !was)
            __atomic_fetch_sub(hint, LOCKTAB_HINT_DUE_ONE, __ATOMIC_RELAXED);
        return false;
    }
    if (was && !will)
        __atomic_fetch_sub(hint, LOCKTAB_HINT_DUE_ONE, __ATOMIC_RELAXED);
    if (locktab_live(*v) && !locktab_live(nv)) {
        __atomic_store_n(&s->key[i], NULL, __ATOMIC_RELEASE);
        __atomic_fetch_sub(hint, LOCKTAB_HINT_USED_ONE, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&lp_locktab_live_, 1, __ATOMIC_RELAXED);
    }
    return true;
}

/* Frees one kept entry of s that is at rest, for a claim that found every slot taken: the
 * same swap to the free word as the last waiter's leave of an entry that is not kept. An
 * entry at rest holds no draw (locktab_rest), so which one goes is of no consequence to the
 * releases picked. True when one was. */
#define LOCKTAB_EVICT_TRIES 4
static bool locktab_evict(struct locktab_stripe *s)
{
    for (unsigned i = 0; i < LOCKTAB_WAYS; i++) {
        if (__atomic_load_n(&s->key[i], __ATOMIC_RELAXED) == NULL)
            continue;
        locktab_word v = locktab_load(&s->slot[i].st);
        /* A swap that fails against a waiter coming and going (a FUTEX_WAIT that found the
         * word changed) may find the entry at rest again: a few tries, then the next way. */
        for (unsigned t = 0; t < LOCKTAB_EVICT_TRIES; t++) {
            if (!locktab_word_idle(v) || !locktab_kept(&s->slot[i]))
                break;
            if (locktab_commit(s, i, &v, v & LOCKTAB_T_MASK))
                return true;
        }
    }
    return false;
}

/* Claims a free slot of s for lock and makes it LIVE with w's registration at the clock read
 * then; a kept entry when keep. When every slot is taken, frees a kept entry at rest and tries
 * again (another claimer may take the slot first: at most once per way). False when every
 * slot is taken (or being freed) and none is at rest. */
static bool locktab_claim(struct locktab_stripe *s, const void *lock, uint64_t arm, bool keep,
                          struct lp_waiter *w)
{
    uint32_t *hint = locktab_hint_of(s);
    unsigned evicted = 0;
again:
    for (unsigned i = 0; i < LOCKTAB_WAYS; i++) {
        if (__atomic_load_n(&s->key[i], __ATOMIC_RELAXED) != NULL)
            continue;
        /* Counted before the key is taken: the hint never says "no entry" while there is one. */
        __atomic_fetch_add(&lp_locktab_live_, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(hint, LOCKTAB_HINT_USED_ONE, __ATOMIC_RELAXED);
        const void *expected = NULL;
        if (!__atomic_compare_exchange_n(&s->key[i], &expected, lock, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_RELAXED)) {
            __atomic_fetch_sub(hint, LOCKTAB_HINT_USED_ONE, __ATOMIC_RELAXED);
            __atomic_fetch_sub(&lp_locktab_live_, 1, __ATOMIC_RELAXED);
            continue;
        }
        /* The slot is ours: its word is free (its key was cleared after the word was), and
         * only its claimer revives a free word. */
        __atomic_store_n(&s->slot[i].keep, (uint64_t)keep, __ATOMIC_RELAXED);
        locktab_word v = locktab_load(&s->slot[i].st);
        for (;;) {
            uint64_t now = lp_now();
            struct lp_charge c;
            lp_charge_init(&c, locktab_revival_time(v, now), arm);
            w->e = lp_charge_register(&c, now);
            w->start = now;
            locktab_arm(&s->slot[i], arm);
            if (locktab_commit(s, i, &v, locktab_pack(&c, keep)))
                break;
            /* Not expected (nobody else swaps a free word whose key is set); a word that
             * changed is reread, and a LIVE one would not be ours: give the slot up. */
            if (locktab_live(v))
                return false;
        }
        w->way = i;
        w->registered = true;
        return true;
    }
    if (evicted < LOCKTAB_WAYS && locktab_evict(s)) {
        evicted++;
        goto again;
    }
    return false;
}

/* ---- operations -------------------------------------------------------------------------- */

void lp_locktab_wait_begin(struct lp_waiter *w, const void *lock, bool charge, uint64_t arm,
                           bool keep)
{
    w->lock = lock;
    w->registered = false;
    w->after = 0;
    if (!charge || !locktab_stripes) {
        w->start = lp_now_nofence();
        return;
    }
    struct locktab_stripe *s = locktab_stripe_of(lock);
    for (unsigned i = 0; i < LOCKTAB_WAYS; i++) {
        locktab_word v;
        if (!locktab_find_entry(s, i, lock, &v))
            continue;
        uint64_t frac = locktab_frac(&s->slot[i]);
        do {
            uint64_t now = lp_now();
            struct lp_charge c;
            locktab_unpack(v, now, &frac, &s->slot[i], &c);
            bool kept = locktab_kept(&s->slot[i]);
            if (kept && lp_charge_idle(&c)) {
                /* At rest (nobody registered or owed, no draw): revived as a claimer revives
                 * a free word, with this registration's draw for the next release. */
                lp_charge_init(&c, locktab_revival_time(v, now), arm);
                locktab_arm(&s->slot[i], arm);
            }
            uint64_t e = lp_charge_register(&c, now);
            if (c.W > LOCKTAB_W_MAX || c.Q > LOCKTAB_Q_MAX)
                goto out_full; /* out of the word's range: not registered, counted */
            locktab_word nv = locktab_pack(&c, kept);
            if (locktab_commit(s, i, &v, nv)) {
                w->before = v; /* a swap that succeeds leaves v as it was */
                w->after = nv;
                w->start = now;
                w->e = e;
                w->way = i;
                w->registered = true;
                return;
            }
        } while (locktab_still_entry(s, i, lock, v));
        /* Freed under us: look again from the next slot, then claim one. */
    }
    if (locktab_claim(s, lock, arm, keep, w))
        return;
out_full:
    __atomic_fetch_add(&locktab_not_registered, 1, __ATOMIC_RELAXED);
    w->start = lp_now();
}

uint64_t lp_locktab_wait_end(struct lp_waiter *w, enum lp_wait_outcome outcome)
{
    if (!w->registered)
        return outcome == LP_NOT_A_WAIT ? 0 : lp_now_nofence();
    w->registered = false;
    struct locktab_stripe *s = locktab_stripe_of(w->lock);
    unsigned i = w->way;
    locktab_word v;
    /* Its registration keeps the entry LIVE: it is gone only if a fork dropped the table. */
    if (!locktab_load_entry(s, i, w->lock, &v))
        return lp_now();
    /* Not a wait, and the entry's word still the one this registration put: nothing happened
     * on the entry since, and the word before it is the state without this waiter, exactly
     * (the whole state is the word: a waiter that came and went meanwhile left it as it
     * found it). Swapped back, it needs no clock. It goes back with the registration's T,
     * which differs only where the registration revived an entry at rest: the rest then
     * begins at the revival (a cancel would begin it at its own clock read, nanoseconds
     * later: locktab_rest), and a slot's T never goes down (a slot's life, at the top).
     * Otherwise it is the word before, and a thread that loaded that and swaps now operates
     * as it would have before this registration. A swap that fails leaves in v the word
     * found, for the cancel below. */
    if (outcome == LP_NOT_A_WAIT && v == w->after &&
        locktab_commit(s, i, &v, (w->before & ~(locktab_word)LOCKTAB_T_MASK) |
                                     (w->after & LOCKTAB_T_MASK)))
        return 0;
    uint64_t frac = locktab_frac(&s->slot[i]);
    for (;;) {
        uint64_t now = lp_now();
        struct lp_charge c;
        locktab_unpack(v, now, &frac, &s->slot[i], &c);
        bool kept = locktab_kept(&s->slot[i]);
        if (outcome == LP_NOT_A_WAIT)
            lp_charge_cancel(&c, w->e);
        else
            lp_charge_leave(&c, w->e, now, outcome == LP_ACQUIRED);
        if (kept)
            locktab_rest(&c, now);
        if (locktab_commit(s, i, &v, locktab_pack(&c, kept)))
            return now;
        if (!locktab_still_entry(s, i, w->lock, v))
            return now;
    }
}

/* Frees slot i's entry if it is another lock's kept entry that has been at rest for
 * LOCKTAB_REST_NS (its T: when the rest began, or when a waiter that did not wait last
 * revived it): a word nobody waits on any more, whose entry would otherwise make every
 * release in the stripe draw (locktab.h). *now: the clock, read here the first time it is
 * needed. One try: a word that changes is in use. */
#define LOCKTAB_REST_NS UINT64_C(10000000)
static void locktab_tidy(struct locktab_stripe *s, unsigned i, uint64_t *now)
{
    if (__atomic_load_n(&s->key[i], __ATOMIC_RELAXED) == NULL)
        return;
    locktab_word v = locktab_load(&s->slot[i].st);
    if (!locktab_word_idle(v) || !locktab_kept(&s->slot[i]))
        return;
    if (*now == 0)
        *now = lp_now();
    uint64_t t = locktab_time(v, *now); /* may be after *now: a rest begun since it was read */
    if (t <= *now && *now - t >= LOCKTAB_REST_NS)
        (void)locktab_commit(s, i, &v, v & LOCKTAB_T_MASK);
}

bool lp_locktab_release(const void *lock, uint64_t arm, uint64_t *charge, uint64_t *fraction)
{
    if (!lp_locktab_busy())
        return false;
    struct locktab_stripe *s = locktab_stripe_of(lock);
    bool picked = false;
    uint64_t sum = 0, tidy_now = 0;
    /* Every entry of the lock (there may be two, locktab.h): most releases of a lock with
     * waiters find theirs neither armed nor owed and do not arm the next (charge.h): nothing to
     * change, no clock. Relaxed loads: an entry created concurrently is missed, and a waiter
     * registering while the release runs is one this release could not have made wait. */
    for (unsigned i = 0; i < LOCKTAB_WAYS; i++) {
        locktab_word v;
        if (!locktab_find_entry(s, i, lock, &v)) {
            /* A release that draws (one in n) also frees the stripe's long rests. */
            if (arm)
                locktab_tidy(s, i, &tidy_now);
            continue;
        }
        uint64_t frac = locktab_frac(&s->slot[i]);
        do {
            if (!arm && !locktab_word_due(v))
                break;
            bool kept = locktab_kept(&s->slot[i]);
            if (kept && locktab_word_idle(v))
                break; /* at rest: nothing to charge, and no draw kept (locktab_rest) */
            uint64_t now = lp_now();
            struct lp_charge c;
            uint64_t ch = 0, f = 0;
            locktab_unpack(v, now, &frac, &s->slot[i], &c);
            bool p = lp_charge_release_sampled(&c, now, arm, &ch, &f);
            if (kept)
                locktab_rest(&c, now);
            locktab_arm(&s->slot[i], c.armed);
            if (locktab_commit(s, i, &v, locktab_pack(&c, kept))) {
                if (p) {
                    sum += ch;
                    if (!picked)
                        *fraction = f;
                    picked = true;
                }
                break;
            }
        } while (locktab_still_entry(s, i, lock, v));
    }
    if (picked)
        *charge = sum;
    return picked;
}

void lp_locktab_rebase(const void *lock)
{
    if (!lp_locktab_busy())
        return;
    struct locktab_stripe *s = locktab_stripe_of(lock);
    for (unsigned i = 0; i < LOCKTAB_WAYS; i++) {
        locktab_word v;
        if (!locktab_find_entry(s, i, lock, &v))
            continue;
        uint64_t frac = locktab_frac(&s->slot[i]);
        do {
            bool kept = locktab_kept(&s->slot[i]);
            if (kept && locktab_word_idle(v))
                break; /* at rest: nobody's wait to forget */
            uint64_t now = lp_now();
            struct lp_charge c;
            bool charged;
            locktab_unpack(v, now, &frac, &s->slot[i], &c);
            (void)lp_charge_release(&c, now, &charged); /* armed stays as it is */
            if (kept)
                locktab_rest(&c, now);
            if (locktab_commit(s, i, &v, locktab_pack(&c, kept)))
                break;
        } while (locktab_still_entry(s, i, lock, v));
    }
}

void lp_locktab_stats(struct lp_locktab_stats *st)
{
    st->not_registered = __atomic_load_n(&locktab_not_registered, __ATOMIC_RELAXED);
    st->retries = __atomic_load_n(&locktab_retries, __ATOMIC_RELAXED);
    st->live = __atomic_load_n(&lp_locktab_live_, __ATOMIC_RELAXED);
}

void lp_locktab_atfork_child(void)
{
    /* MADV_DONTNEED on private anonymous memory gives back zero pages, which is the empty
     * table: the child drops the parent's entries without touching (and so without making
     * resident) a stripe it never uses. */
    if (locktab_stripes && madvise(locktab_stripes, locktab_bytes, MADV_DONTNEED) != 0) {
        /* Refused (a seccomp policy): every stripe by hand. */
        for (unsigned i = 0; i <= lp_locktab_mask_; i++) {
            struct locktab_stripe *s = &locktab_stripes[i];
            lp_locktab_hint_[i] = 0;
            for (unsigned j = 0; j < LOCKTAB_WAYS; j++) {
                s->key[j] = NULL;
                s->slot[j].st = 0;
            }
        }
    }
    lp_locktab_live_ = 0;
}
