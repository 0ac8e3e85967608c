/*
 * families.h — the families of interposed calls (DESIGN §2), as the profiles' comments count
 * them: which family an event's leaf belongs to, and how many waits each family has seen.
 *
 * A profile that recorded nothing says "nothing contended" only when no family saw a wait;
 * otherwise its comments give each family's counts (writer.c). A wait is seen when lockprof
 * knows it was one, whether the block rate picked it or not: a wait the skeleton ended
 * (interpose/wait.h: contended locks, condition variables, semaphores, queues, futexes) and a
 * timed call (joins, barriers, pipes) recorded as one.
 *
 * The counters are spread over stripes by thread id, so that threads waiting at once do not
 * share a cache line; a read sums them (relaxed: a count may lag by the events in flight).
 * Context: any thread, signal handlers included (relaxed atomic adds); lp_families_atfork_child
 * in a new process.
 */
#ifndef LP_FAMILIES_H
#define LP_FAMILIES_H

#include <stdint.h>

enum lp_family_id {
    LP_FAM_MUTEX,
    LP_FAM_RWLOCK,
    LP_FAM_COND,
    LP_FAM_SEM,
    LP_FAM_THREAD,
    LP_FAM_IO,     /* pipes and queues */
    LP_FAM_FUTEX,
    LP_FAM_OTHER,  /* lockprof's synthetic leaves (lockprof::stack_table_full, …) */
    LP_NFAMILIES
};

/* The family's name in comments: "mutex", "rwlock", "condition", "semaphore", "thread",
 * "pipes and queues", "futex", "other". */
const char *lp_families_name(enum lp_family_id f);

/* The family of an event's leaf (an interposed call's name as the profiles show it), for
 * what is read back from the stack table (writer.c); prefix compares. */
enum lp_family_id lp_families_of_leaf(const char *leaf);

/* A wait of family f was seen, by thread tid (which stripe it counts in). The caller knows
 * its family (interpose/wait.h: each family's descriptor names it): no leaf is classified on
 * the event path. */
void lp_families_seen_add(enum lp_family_id f, int32_t tid);
/* The waits seen since start (or since this process was forked), per family. */
void lp_families_seen(uint64_t out[LP_NFAMILIES]);

/* After fork, in the child: nothing seen yet. */
void lp_families_atfork_child(void);

#endif
