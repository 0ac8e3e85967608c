/* cpuring.c — see cpuring.h. */
#include "cpuring.h"
#include "sys.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

/*
 * A record's state, for the position pos it serves in lap L = pos >> ring_bits:
 *     2L      free for that lap (or claimed and being filled: a claim does not change it)
 *     2L + 1  published
 * and the consumer frees it for the next lap by storing 2(L + 1). Zero is "free for lap 0".
 */
struct cpuring_rec {
    uint64_t state;     /* atomic */
    uint16_t depth;     /* written by the claimant before publication */
    uint8_t truncated;
    uint8_t pad;
    uint32_t weight;
    uintptr_t pcs[];    /* ring_frames entries */
};

static char *ring_base;         /* immutable after init */
static size_t ring_stride;      /* immutable after init: bytes per record, cache-line multiple */
static unsigned ring_bits;      /* immutable after init */
static unsigned ring_frames;    /* immutable after init */
/* The producers' head and the consumer's tail, each on a cache line of its own. */
static struct {
    uint64_t head; /* atomic: the next position to claim */
    char pad1[56];
    uint64_t tail; /* the next position to consume: written by the consumer only (atomic) */
    char pad2[56];
} ring_pos __attribute__((aligned(64)));

LP_INIT_TEXT int lp_cpuring_init(unsigned records, unsigned frames)
{
    unsigned bits = 1;
    while ((1u << bits) < records && bits < 24)
        bits++;
    size_t stride = (sizeof(struct cpuring_rec) + (size_t)frames * sizeof(uintptr_t) + 63) &
                    ~(size_t)63;
    void *p = mmap(NULL, stride << bits, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    ring_stride = stride;
    ring_bits = bits;
    ring_frames = frames;
    __atomic_store_n(&ring_base, (char *)p, __ATOMIC_RELEASE);
    return 0;
}

unsigned lp_cpuring_frames(void)
{
    return ring_frames;
}

unsigned lp_cpuring_records(void)
{
    return ring_base ? 1u << ring_bits : 0;
}

static inline struct cpuring_rec *ring_rec(uint64_t pos)
{
    size_t i = (size_t)(pos & ((1u << ring_bits) - 1));
    return (struct cpuring_rec *)(ring_base + i * ring_stride);
}

uintptr_t *lp_cpuring_claim_sigsafe(uint64_t *ticket)
{
    if (!__atomic_load_n(&ring_base, __ATOMIC_ACQUIRE))
        return NULL;
    uint64_t pos = __atomic_load_n(&ring_pos.head, __ATOMIC_RELAXED);
    for (;;) {
        struct cpuring_rec *r = ring_rec(pos);
        uint64_t st = __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);
        uint64_t free_here = (pos >> ring_bits) * 2;
        if (st == free_here) {
            /* (A failed exchange loads the head as it is into pos.) */
            if (__atomic_compare_exchange_n(&ring_pos.head, &pos, pos + 1, true,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
                *ticket = pos;
                return r->pcs;
            }
        } else if (st < free_here) {
            return NULL; /* last lap's record, not consumed yet: the ring is full */
        } else {
            pos = __atomic_load_n(&ring_pos.head, __ATOMIC_RELAXED); /* taken: look again */
        }
    }
}

void lp_cpuring_publish_sigsafe(uint64_t ticket, unsigned depth, bool truncated,
                                uint32_t weight)
{
    struct cpuring_rec *r = ring_rec(ticket);
    r->depth = (uint16_t)depth;
    r->truncated = truncated;
    r->weight = weight;
    __atomic_store_n(&r->state, (ticket >> ring_bits) * 2 + 1, __ATOMIC_RELEASE);
}

uint64_t lp_cpuring_used_sigsafe(uint64_t ticket)
{
    uint64_t tail = __atomic_load_n(&ring_pos.tail, __ATOMIC_RELAXED);
    return ticket >= tail ? ticket - tail + 1 : 0;
}

uint64_t lp_cpuring_drain(lp_cpuring_fn fn, void *arg)
{
    if (!__atomic_load_n(&ring_base, __ATOMIC_ACQUIRE))
        return 0;
    uint64_t tail = __atomic_load_n(&ring_pos.tail, __ATOMIC_RELAXED), n = 0;
    for (;; tail++, n++) {
        struct cpuring_rec *r = ring_rec(tail);
        uint64_t lap = tail >> ring_bits;
        if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != lap * 2 + 1)
            break;
        unsigned depth = r->depth <= ring_frames ? r->depth : ring_frames;
        fn(r->pcs, depth, r->truncated, r->weight, arg);
        __atomic_store_n(&r->state, (lap + 1) * 2, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&ring_pos.tail, tail, __ATOMIC_RELAXED);
    return n;
}

void lp_cpuring_atfork_child(void)
{
    if (!ring_base)
        return;
    uint64_t head = __atomic_load_n(&ring_pos.head, __ATOMIC_RELAXED);
    for (uint64_t pos = ring_pos.tail; pos < head; pos++)
        __atomic_store_n(&ring_rec(pos)->state, ((pos >> ring_bits) + 1) * 2, __ATOMIC_RELAXED);
    __atomic_store_n(&ring_pos.tail, head, __ATOMIC_RELAXED);
}
