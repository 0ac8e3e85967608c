/*
 * stacktab.h — the profiles themselves: Σ contentions and Σ delay per (profile, leaf, stack).
 *
 * One bounded, preallocated (mmap) open-addressing table holds the three profiles (the CPU
 * profile's entries, when it is on, within a share of their own: lp_stacktab_limit). Insertion is
 * lock-free: a slot is claimed with a compare-and-swap, filled, then published; weights are
 * added with atomic adds, so recording never waits for the writer and the writer never
 * stops a recording thread. Entries are never removed (profiles are cumulative).
 *
 * When the table or its frame pool is full, or a probe runs too long, the event is still
 * counted, in a per-profile overflow entry written as the synthetic stack
 * "lockprof::stack_table_full": totals stay whole (DESIGN §6).
 *
 * Leaf names are static strings (the interposed call's name, or lockprof::…), or NULL for a
 * stack whose first address is a frame of its own (the CPU profile's interrupted pc); the
 * pointer is part of the key. Context: any thread; not signal handlers (it may spin briefly on
 * a slot another thread is publishing).
 */
#ifndef LP_STACKTAB_H
#define LP_STACKTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "sample.h"

enum lp_profile { LP_BLOCK = 0, LP_MUTEX = 1, LP_CPU = 2, LP_NPROFILES };

#define LP_LEAF_TABLE_FULL "lockprof::stack_table_full"
#define LP_TAIL_TRUNCATED "lockprof::truncated"

/* capacity: entries (rounded up to a power of two); frames: size of the frame pool.
 * 0 or -ENOMEM. Call once, before any event. */
int lp_stacktab_init(unsigned capacity, unsigned frames);
/* Profile prof takes at most entries entries and frames frames of the pool (0: no limit); past
 * that its events are counted under the overflow entry. Call after init, before any event. */
void lp_stacktab_limit(enum lp_profile prof, unsigned entries, unsigned frames);
/* The same for the block and mutex profiles together. */
void lp_stacktab_limit_contention(unsigned entries, unsigned frames);
/* The capacity the table will have (lp_stacktab_stats reports it until lp_stacktab_init maps
 * the table, which a process may never need). */
void lp_stacktab_plan(unsigned capacity);

void lp_stacktab_add(enum lp_profile prof, const char *leaf, const uintptr_t *pcs,
                     unsigned depth, bool truncated, const struct lp_weight *w);

/* A consistent-enough view for the writer: each published entry, in table order. */
struct lp_stack_view {
    uint64_t index;          /* stable for the entry's life, < lp_stacktab_index_limit() */
    const char *leaf;
    const uintptr_t *pcs;
    unsigned depth;
    bool truncated;
    uint64_t count_fp;
    uint64_t delay;
};
typedef void (*lp_stack_visit_fn)(const struct lp_stack_view *v, void *arg);
/* Visits every entry of prof with a non-zero weight, the overflow entry included. */
void lp_stacktab_foreach(enum lp_profile prof, lp_stack_visit_fn fn, void *arg);

/* The bound of lp_stack_view.index (the overflow entries included): a window's baseline can be
 * an array of that many weights. */
uint64_t lp_stacktab_index_limit(void);

struct lp_stacktab_stats {
    uint64_t entries;        /* published entries, all profiles */
    uint64_t entries_of[LP_NPROFILES]; /* ... of each profile */
    uint64_t capacity;
    uint64_t overflowed[LP_NPROFILES]; /* events counted under lockprof::stack_table_full */
    uint64_t events[LP_NPROFILES];     /* events recorded, overflow included */
    uint64_t waits;          /* waits (spins) on a slot another thread was filling */
    uint64_t wait_ns;        /* ... their time in all */
    uint64_t slow_waits;     /* ... those over LP_SLOW_WAIT_NS */
};
void lp_stacktab_stats(struct lp_stacktab_stats *s);

/* The calling thread gives up the entry it was entering, if any: a siglongjmp out of a signal
 * handler that interrupted it (interpose/jump.c). The slot is free again; its frames are
 * lost to the pool. An event entered from such a handler that lands on that same slot is
 * counted under LP_LEAF_TABLE_FULL rather than wait for a filler that cannot go on. */
void lp_stacktab_abandon(void);

/* After fork, in the child: profiles start from zero (entries and pool are forgotten). */
void lp_stacktab_atfork_child(void);

#endif
