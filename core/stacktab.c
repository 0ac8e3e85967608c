/* stacktab.c — see stacktab.h. */
#include "stacktab.h"
#include "sys.h"

#include "clock.h"
#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define STACKTAB_MAX_PROBE 128

enum { SLOT_EMPTY = 0, SLOT_CLAIMED = 1, SLOT_READY = 2 };

struct stacktab_slot {
    uint32_t state;      /* atomic: SLOT_* */
    uint16_t depth;      /* immutable once READY */
    uint8_t prof;        /* immutable once READY */
    uint8_t truncated;   /* immutable once READY */
    uint32_t frames;     /* offset in the pool; immutable once READY */
    uint64_t hash;       /* immutable once READY */
    const char *leaf;    /* immutable once READY */
    uint64_t count_fp;   /* atomic add */
    uint64_t delay;      /* atomic add */
};

LP_INIT_DATA static struct stacktab_slot *stacktab_slots; /* immutable after init */
LP_INIT_DATA static uint64_t stacktab_mask;               /* immutable after init */
/* One bit per run of STACKTAB_RUN slots, set once one of them is ready: a walk reads only the
 * runs in use, not every page of a table that is mostly empty (reading those would map them:
 * one page fault each). After the slots, in their mapping; atomic OR. */
#define STACKTAB_RUN 64
LP_INIT_DATA static uint64_t *stacktab_used;              /* immutable after init */
LP_INIT_DATA static uintptr_t *stacktab_pool;             /* immutable after init */
LP_INIT_DATA static uint32_t stacktab_pool_size;          /* immutable after init */
static uint32_t stacktab_pool_used;          /* atomic */
LP_INIT_DATA static uint64_t stacktab_entries;            /* atomic */
struct stacktab_share {
    uint32_t entries, frames;  /* atomic */
    uint32_t max_entries, max_frames; /* immutable after lp_stacktab_limit; 0: no limit */
};
static struct stacktab_share stacktab_share[LP_NPROFILES];
/* The block and mutex profiles together (lp_stacktab_limit_contention). */
static struct stacktab_share stacktab_contention;
LP_INIT_DATA static struct {
    uint64_t count_fp, delay, events; /* atomic */
} stacktab_overflow[LP_NPROFILES];
LP_INIT_DATA static uint64_t stacktab_events[LP_NPROFILES]; /* atomic */
/* atomic: waits on a slot being filled */
LP_INIT_DATA static uint64_t stacktab_waits, stacktab_wait_ns;
LP_INIT_DATA static uint64_t stacktab_slow_waits;           /* atomic: those over LP_SLOW_WAIT_NS */
/* The slot this thread is claiming or filling in, or NULL (lp_stacktab_abandon). A claimed slot's
 * state holds SLOT_CLAIMED and, above its two low bits, the claiming thread's tag: a thread
 * knows its own claim, and gives back only that. */
static __thread struct stacktab_slot *stacktab_filling __attribute__((tls_model("initial-exec")));
static __thread uint32_t stacktab_me __attribute__((tls_model("initial-exec")));
static uint32_t stacktab_next_tag; /* atomic */

static uint32_t stacktab_claim_word(void)
{
    /* A distinct odd tag per thread (odd: never a state of its own), for 2^29 threads. (The
     * counter's low bit must not be overwritten by the oddness: two threads would then share a
     * tag, and each take the other's claim for its own.) */
    if (__builtin_expect(stacktab_me == 0, 0)) {
        uint32_t n = __atomic_add_fetch(&stacktab_next_tag, 1, __ATOMIC_RELAXED);
        stacktab_me = ((n << 1 | 1u) & 0x3fffffffu) << 2 | SLOT_CLAIMED;
    }
    return stacktab_me;
}

LP_INIT_TEXT static size_t stacktab_used_words(uint64_t slots)
{
    return (size_t)((slots / STACKTAB_RUN + 63) / 64);
}

LP_INIT_TEXT static void *stacktab_map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
                   MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

LP_INIT_DATA static uint64_t stacktab_planned; /* entries: set before the table is mapped */

LP_INIT_TEXT static uint64_t stacktab_entries_for(unsigned capacity)
{
    uint64_t n = 64;
    while (n < capacity)
        n <<= 1;
    return n;
}

LP_INIT_TEXT void lp_stacktab_plan(unsigned capacity)
{
    stacktab_planned = stacktab_entries_for(capacity);
}

LP_INIT_TEXT int lp_stacktab_init(unsigned capacity, unsigned frames)
{
    uint64_t n = stacktab_entries_for(capacity);
    size_t slot_bytes = n * sizeof(struct stacktab_slot);
    stacktab_slots = stacktab_map(slot_bytes + stacktab_used_words(n) * sizeof(uint64_t));
    stacktab_used = stacktab_slots ? (uint64_t *)((char *)stacktab_slots + slot_bytes) : NULL;
    stacktab_pool = stacktab_map((size_t)frames * sizeof(uintptr_t));
    if (!stacktab_slots || !stacktab_pool)
        return -ENOMEM;
    stacktab_mask = n - 1;
    stacktab_pool_size = frames;
    return 0;
}

LP_INIT_TEXT void lp_stacktab_limit(enum lp_profile prof, unsigned entries, unsigned frames)
{
    stacktab_share[prof].max_entries = entries;
    stacktab_share[prof].max_frames = frames;
}

LP_INIT_TEXT void lp_stacktab_limit_contention(unsigned entries, unsigned frames)
{
    stacktab_contention.max_entries = entries;
    stacktab_contention.max_frames = frames;
}

static void stacktab_give(struct stacktab_share *sh, unsigned depth)
{
    __atomic_fetch_sub(&sh->entries, 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&sh->frames, depth, __ATOMIC_RELAXED);
}

static bool stacktab_take(struct stacktab_share *sh, unsigned depth)
{
    uint32_t me = sh->max_entries, mf = sh->max_frames;
    uint32_t e = __atomic_add_fetch(&sh->entries, 1, __ATOMIC_RELAXED);
    uint32_t f = __atomic_add_fetch(&sh->frames, depth, __ATOMIC_RELAXED);
    if ((me && e > me) || (mf && f > mf)) {
        stacktab_give(sh, depth);
        return false;
    }
    return true;
}

/* Takes one entry and depth frames of prof's share (and of the block and mutex profiles'
 * together, for those two); false (nothing taken) when one is spent. */
static bool stacktab_share_take(enum lp_profile prof, unsigned depth)
{
    if (!stacktab_take(&stacktab_share[prof], depth))
        return false;
    if (prof != LP_CPU && !stacktab_take(&stacktab_contention, depth)) {
        stacktab_give(&stacktab_share[prof], depth);
        return false;
    }
    return true;
}

/* What stacktab_share_take took, given back. */
static void stacktab_share_give(enum lp_profile prof, unsigned depth)
{
    stacktab_give(&stacktab_share[prof], depth);
    if (prof != LP_CPU)
        stacktab_give(&stacktab_contention, depth);
}

static uint64_t stacktab_hash(enum lp_profile prof, const char *leaf, const uintptr_t *pcs,
                              unsigned depth, bool truncated)
{
    /* FNV-1a over words, then a final mix: cheap and good enough for return addresses. */
    uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)prof << 1 | truncated);
    h = (h ^ (uintptr_t)leaf) * 0x100000001b3ULL;
    for (unsigned i = 0; i < depth; i++)
        h = (h ^ pcs[i]) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static bool stacktab_same(const struct stacktab_slot *s, uint64_t hash, enum lp_profile prof,
                          const char *leaf, const uintptr_t *pcs, unsigned depth, bool truncated)
{
    return s->hash == hash && s->prof == prof && s->leaf == leaf && s->depth == depth &&
           s->truncated == truncated &&
           (depth == 0 || memcmp(&stacktab_pool[s->frames], pcs, depth * sizeof(uintptr_t)) == 0);
}

static void stacktab_add_weight(uint64_t *count_fp, uint64_t *delay, const struct lp_weight *w)
{
    __atomic_fetch_add(count_fp, w->count_fp, __ATOMIC_RELAXED);
    __atomic_fetch_add(delay, w->delay, __ATOMIC_RELAXED);
}

static void stacktab_overflow_add(enum lp_profile prof, const struct lp_weight *w)
{
    stacktab_add_weight(&stacktab_overflow[prof].count_fp, &stacktab_overflow[prof].delay, w);
    __atomic_fetch_add(&stacktab_overflow[prof].events, 1, __ATOMIC_RELAXED);
}

void lp_stacktab_add(enum lp_profile prof, const char *leaf, const uintptr_t *pcs,
                     unsigned depth, bool truncated, const struct lp_weight *w)
{
    __atomic_fetch_add(&stacktab_events[prof], 1, __ATOMIC_RELAXED);
    if (!stacktab_slots) {
        stacktab_overflow_add(prof, w);
        return;
    }
    uint64_t h = stacktab_hash(prof, leaf, pcs, depth, truncated);
    for (unsigned probe = 0; probe < STACKTAB_MAX_PROBE; probe++) {
        struct stacktab_slot *s = &stacktab_slots[(h + probe) & stacktab_mask];
        uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
        if (st == SLOT_EMPTY) {
            uint32_t expected = SLOT_EMPTY;
            /* (prev: one this thread was filling when a signal handler's event came) */
            struct stacktab_slot *prev = stacktab_filling;
            stacktab_filling = s; /* before the claim: a jump between the two finds it */
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
            if (__atomic_compare_exchange_n(&s->state, &expected, stacktab_claim_word(), false,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
                if (!stacktab_share_take(prof, depth)) {
                    /* The profile's share is spent: the slot goes back, the event aside. */
                    __atomic_store_n(&s->state, SLOT_EMPTY, __ATOMIC_RELEASE);
                    stacktab_filling = prev;
                    stacktab_overflow_add(prof, w);
                    return;
                }
                uint32_t off = __atomic_fetch_add(&stacktab_pool_used, depth, __ATOMIC_RELAXED);
                if ((uint64_t)off + depth > stacktab_pool_size) {
                    /* The pool is spent: give the slot back and count the event aside. */
                    stacktab_share_give(prof, depth);
                    __atomic_store_n(&s->state, SLOT_EMPTY, __ATOMIC_RELEASE);
                    stacktab_filling = prev;
                    stacktab_overflow_add(prof, w);
                    return;
                }
                if (depth) /* (a synthetic stack's pcs may be NULL) */
                    memcpy(&stacktab_pool[off], pcs, depth * sizeof(uintptr_t));
                s->frames = off;
                s->depth = (uint16_t)depth;
                s->prof = (uint8_t)prof;
                s->truncated = truncated;
                s->leaf = leaf;
                s->hash = h;
                stacktab_add_weight(&s->count_fp, &s->delay, w);
                __atomic_store_n(&s->state, SLOT_READY, __ATOMIC_RELEASE);
                uint64_t run = (uint64_t)(s - stacktab_slots) / STACKTAB_RUN;
                __atomic_fetch_or(&stacktab_used[run / 64], 1ULL << (run % 64), __ATOMIC_RELEASE);
                stacktab_filling = prev;
                __atomic_fetch_add(&stacktab_entries, 1, __ATOMIC_RELAXED);
                return;
            }
            stacktab_filling = prev;
            st = expected;
        }
        /* Another thread is filling this slot in: its key decides whether it is ours. The
         * wait is a spin (the filler copies a stack and stores a few fields), timed and
         * counted: it is long only when the filler was preempted. */
        if (st == stacktab_claim_word()) {
            /* This thread's own, from a signal handler that interrupted its filling in:
             * waiting for it would never end. */
            stacktab_overflow_add(prof, w);
            return;
        }
        if ((st & 3) == SLOT_CLAIMED) {
            uint64_t t0 = lp_now();
            do {
                __builtin_ia32_pause();
                st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
            } while ((st & 3) == SLOT_CLAIMED);
            uint64_t waited = lp_clock_elapsed(t0, lp_now());
            __atomic_fetch_add(&stacktab_waits, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&stacktab_wait_ns, waited, __ATOMIC_RELAXED);
            if (waited > LP_SLOW_WAIT_NS)
                __atomic_fetch_add(&stacktab_slow_waits, 1, __ATOMIC_RELAXED);
        }
        if (st == SLOT_EMPTY) { /* given back: look at it again */
            probe--;
            continue;
        }
        if (stacktab_same(s, h, prof, leaf, pcs, depth, truncated)) {
            stacktab_add_weight(&s->count_fp, &s->delay, w);
            return;
        }
    }
    stacktab_overflow_add(prof, w);
}

void lp_stacktab_foreach(enum lp_profile prof, lp_stack_visit_fn fn, void *arg)
{
    /* An empty table (a process that recorded nothing) is not walked: its 2^16 slots by
     * default cost a write of empty profiles 3 million instructions. */
    bool any = __atomic_load_n(&stacktab_entries, __ATOMIC_ACQUIRE) != 0;
    for (uint64_t i = 0; any && stacktab_slots && i <= stacktab_mask; i++) {
        if (i % STACKTAB_RUN == 0) {
            uint64_t run = i / STACKTAB_RUN;
            if (!(__atomic_load_n(&stacktab_used[run / 64], __ATOMIC_ACQUIRE) &
                  (1ULL << (run % 64)))) {
                i += STACKTAB_RUN - 1; /* no slot of this run is ready */
                continue;
            }
        }
        struct stacktab_slot *s = &stacktab_slots[i];
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SLOT_READY || s->prof != prof)
            continue;
        struct lp_stack_view v = {
            .index = i,
            .leaf = s->leaf,
            .pcs = &stacktab_pool[s->frames],
            .depth = s->depth,
            .truncated = s->truncated,
            .count_fp = __atomic_load_n(&s->count_fp, __ATOMIC_RELAXED),
            .delay = __atomic_load_n(&s->delay, __ATOMIC_RELAXED),
        };
        if (v.count_fp || v.delay)
            fn(&v, arg);
    }
    struct lp_stack_view o = {
        .index = (stacktab_slots ? stacktab_mask + 1 : 0) + (uint64_t)prof,
        .leaf = LP_LEAF_TABLE_FULL,
        .count_fp = __atomic_load_n(&stacktab_overflow[prof].count_fp, __ATOMIC_RELAXED),
        .delay = __atomic_load_n(&stacktab_overflow[prof].delay, __ATOMIC_RELAXED),
    };
    if (o.count_fp || o.delay)
        fn(&o, arg);
}

uint64_t lp_stacktab_index_limit(void)
{
    return (stacktab_slots ? stacktab_mask + 1 : 0) + LP_NPROFILES;
}

LP_INIT_TEXT void lp_stacktab_stats(struct lp_stacktab_stats *st)
{
    st->entries = __atomic_load_n(&stacktab_entries, __ATOMIC_RELAXED);
    st->capacity = stacktab_slots ? stacktab_mask + 1 : stacktab_planned;
    for (int p = 0; p < LP_NPROFILES; p++) {
        st->entries_of[p] = __atomic_load_n(&stacktab_share[p].entries, __ATOMIC_RELAXED);
        st->overflowed[p] = __atomic_load_n(&stacktab_overflow[p].events, __ATOMIC_RELAXED);
        st->events[p] = __atomic_load_n(&stacktab_events[p], __ATOMIC_RELAXED);
    }
    st->waits = __atomic_load_n(&stacktab_waits, __ATOMIC_RELAXED);
    st->wait_ns = __atomic_load_n(&stacktab_wait_ns, __ATOMIC_RELAXED);
    st->slow_waits = __atomic_load_n(&stacktab_slow_waits, __ATOMIC_RELAXED);
}

void lp_stacktab_abandon(void)
{
    struct stacktab_slot *s = stacktab_filling;
    if (s) {
        stacktab_filling = NULL;
        uint32_t mine = stacktab_claim_word();
        __atomic_compare_exchange_n(&s->state, &mine, SLOT_EMPTY, false, __ATOMIC_RELEASE,
                                    __ATOMIC_RELAXED); /* only if still this thread's claim */
    }
}

void lp_stacktab_atfork_child(void)
{
    stacktab_filling = NULL;
    /* MADV_DONTNEED on private anonymous memory gives back zero pages: the child starts empty
     * without touching (and so without making resident) the whole table. */
    if (stacktab_slots)
        madvise(stacktab_slots, (stacktab_mask + 1) * sizeof(struct stacktab_slot) +
                                    stacktab_used_words(stacktab_mask + 1) * sizeof(uint64_t),
                MADV_DONTNEED);
    stacktab_pool_used = 0;
    stacktab_entries = 0;
    for (int p = 0; p < LP_NPROFILES; p++)
        stacktab_share[p].entries = stacktab_share[p].frames = 0;
    stacktab_contention.entries = stacktab_contention.frames = 0;
    memset(stacktab_overflow, 0, sizeof stacktab_overflow);
    memset(stacktab_events, 0, sizeof stacktab_events);
}
