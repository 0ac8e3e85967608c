/*
 * inflight.c — see inflight.h.
 *
 * A slot's control word holds the thread id (low 32 bits, 0: free) and a sequence count
 * (high 32 bits) that is odd while the slot is being written. A wait goes through three
 * states, each one atomic change of the word:
 *     free      (0,   s)     s even
 *     claimed   (tid, s + 1) by compare-and-swap from free: the fields are being written
 *     published (tid, s + 2) by a release store: the entry is whole
 * and back to free (0, s + 4) when it ends. The reader is a seqlock reader (Boehm, "Can
 * seqlocks get along with programming language memory models?", 2012): it copies the fields
 * between two reads of the word and keeps the copy only when the word was published and did
 * not change — so a slot freed and claimed again meanwhile (the count moved) is never mixed
 * with its previous occupant.
 */
#include "inflight.h"
#include "sys.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

struct inflight_slot {
    uint64_t ctl;         /* atomic: tid | seq << 32 */
    const char *leaf;     /* atomic (relaxed), written while the slot is claimed */
    const void *object;   /* idem */
    uint64_t start_ns;    /* idem */
};

LP_INIT_DATA static struct inflight_slot *inflight_slots; /* immutable after init */
LP_INIT_DATA static unsigned inflight_mask;               /* immutable after init: slots - 1 */
LP_INIT_DATA static unsigned inflight_shift; /* immutable after init: 32 - log2(slots) */
static uint64_t inflight_dropped;            /* atomic */

#define CTL(tid, seq) ((uint64_t)(uint32_t)(tid) | (uint64_t)(uint32_t)(seq) << 32)
#define CTL_TID(c) ((int32_t)(uint32_t)(c))
#define CTL_SEQ(c) ((uint32_t)((c) >> 32))

LP_INIT_TEXT int lp_inflight_init(unsigned slots)
{
    if (inflight_slots)
        return 0;
    unsigned n = LP_INFLIGHT_PROBE;
    while (n < slots && n < (1u << 24))
        n <<= 1;
    void *p = mmap(NULL, (size_t)n * sizeof(struct inflight_slot), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    inflight_mask = n - 1;
    inflight_shift = 32 - (unsigned)__builtin_ctz(n);
    __atomic_store_n(&inflight_slots, (struct inflight_slot *)p, __ATOMIC_RELEASE);
    return 0;
}

unsigned lp_inflight_capacity(void)
{
    return __atomic_load_n(&inflight_slots, __ATOMIC_ACQUIRE) ? inflight_mask + 1 : 0;
}

/* Thread ids are mostly consecutive: Fibonacci hashing (the top bits of tid × 2^32/φ)
 * spreads them over the table. */
static inline unsigned inflight_hash(int32_t tid)
{
    return ((uint32_t)tid * 0x9e3779b1u) >> inflight_shift;
}

int lp_inflight_begin(int32_t tid, const char *leaf, const void *object, uint64_t start_ns)
{
    struct inflight_slot *slots = __atomic_load_n(&inflight_slots, __ATOMIC_ACQUIRE);
    if (!slots)
        return -1;
    unsigned h = inflight_hash(tid);
    for (unsigned i = 0; i < LP_INFLIGHT_PROBE; i++) {
        unsigned idx = (h + i) & inflight_mask;
        struct inflight_slot *s = &slots[idx];
        uint64_t c = __atomic_load_n(&s->ctl, __ATOMIC_RELAXED);
        if (CTL_TID(c) != 0)
            continue;
        uint32_t seq = CTL_SEQ(c);
        if (!__atomic_compare_exchange_n(&s->ctl, &c, CTL(tid, seq + 1), false,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            continue; /* another thread took it: look further */
        /* Claimed (odd): the fields' stores may not pass the claim. */
        __atomic_thread_fence(__ATOMIC_RELEASE);
        __atomic_store_n(&s->leaf, leaf, __ATOMIC_RELAXED);
        __atomic_store_n(&s->object, object, __ATOMIC_RELAXED);
        __atomic_store_n(&s->start_ns, start_ns, __ATOMIC_RELAXED);
        __atomic_store_n(&s->ctl, CTL(tid, seq + 2), __ATOMIC_RELEASE);
        return (int)idx;
    }
    __atomic_fetch_add(&inflight_dropped, 1, __ATOMIC_RELAXED);
    return -1;
}

void lp_inflight_end(int handle)
{
    if (handle < 0)
        return;
    struct inflight_slot *s = &inflight_slots[handle];
    uint64_t c = __atomic_load_n(&s->ctl, __ATOMIC_RELAXED); /* ours: nobody else writes it */
    __atomic_store_n(&s->ctl, CTL(0, CTL_SEQ(c) + 2), __ATOMIC_RELEASE);
}

unsigned lp_inflight_snapshot(struct lp_inflight_entry *out, unsigned max, uint64_t *dropped)
{
    struct inflight_slot *slots = __atomic_load_n(&inflight_slots, __ATOMIC_ACQUIRE);
    unsigned n = 0;
    if (dropped)
        *dropped = __atomic_load_n(&inflight_dropped, __ATOMIC_RELAXED);
    if (!slots)
        return 0;
    for (unsigned idx = 0; idx <= inflight_mask && n < max; idx++) {
        struct inflight_slot *s = &slots[idx];
        /* A few tries: a slot being written is consistent again within nanoseconds, unless
         * its writer was preempted, and then the entry is not worth waiting for. */
        for (int tries = 0; tries < 4; tries++) {
            uint64_t c1 = __atomic_load_n(&s->ctl, __ATOMIC_ACQUIRE);
            if (CTL_TID(c1) == 0)
                break;
            if (CTL_SEQ(c1) & 1)
                continue;
            struct lp_inflight_entry e = {
                .tid = CTL_TID(c1),
                .leaf = __atomic_load_n(&s->leaf, __ATOMIC_RELAXED),
                .object = __atomic_load_n(&s->object, __ATOMIC_RELAXED),
                .start_ns = __atomic_load_n(&s->start_ns, __ATOMIC_RELAXED),
                .slot = idx,
                .seq = CTL_SEQ(c1),
            };
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (__atomic_load_n(&s->ctl, __ATOMIC_RELAXED) != c1)
                continue;
            out[n++] = e;
            break;
        }
    }
    return n;
}

bool lp_inflight_reap(const struct lp_inflight_entry *e)
{
    struct inflight_slot *slots = __atomic_load_n(&inflight_slots, __ATOMIC_ACQUIRE);
    if (!slots || e->slot > inflight_mask)
        return false;
    uint64_t c = CTL(e->tid, e->seq);
    return __atomic_compare_exchange_n(&slots[e->slot].ctl, &c, CTL(0, e->seq + 2), false,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

void lp_inflight_atfork_child(void)
{
    struct inflight_slot *slots = inflight_slots;
    __atomic_store_n(&inflight_dropped, 0, __ATOMIC_RELAXED);
    if (!slots)
        return;
    /* The parent's waiters do not exist here. Zero pages instead of copies of them. */
    size_t size = (size_t)(inflight_mask + 1) * sizeof(struct inflight_slot);
    if (madvise(slots, size, MADV_DONTNEED) != 0)
        memset(slots, 0, size);
}
