/*
 * unit_waitgraph — the waits-for graph of the threads view (core/waitgraph.c) on fixed
 * graphs: no cycle, cycles of one, two and three threads, a chain into a cycle, two disjoint
 * cycles, holders that are not among the threads, more cycles than are reported; then the
 * second look: a member that no longer sleeps in futex on its lock, a holder that changed, an
 * in-flight entry that changed or went between the looks (nested waits included), an inferred
 * wait with no entry, and looks that stop at the first member that does not hold up.
 */
#include "tap.h"
#include "waitgraph.h"

#define MAXN 80
#define LOCK_SIZE 40

/* The graph under test: node i is thread 100 + i, waiting for lock 0x1000 * (i + 1). */
static struct lp_waitgraph_node node[MAXN];
static struct lp_inflight_entry entry[MAXN];
static int walk[MAXN], starts[LP_WAITGRAPH_MAX_CYCLES], cycle_of[MAXN];

/* The second looks: look_at[i] is what the fake sees; looked records the order it was asked. */
static struct lp_waitgraph_look look_at[MAXN];
static int looked[4 * MAXN];
static unsigned nlooked;

static void fake_look(void *ctx, unsigned i, struct lp_waitgraph_look *look)
{
    (void)ctx;
    if (nlooked < sizeof looked / sizeof *looked)
        looked[nlooked++] = (int)i;
    *look = look_at[i];
}

/* holder[i]: the index of the node holding i's lock, -1 none. Every node has an entry, and
 * the second look by default sees every waiter exactly as the first did. */
static void graph(unsigned n, const int *holder)
{
    for (unsigned i = 0; i < n; i++) {
        entry[i] = (struct lp_inflight_entry){ .tid = 100 + (int32_t)i, .slot = i, .seq = 2 };
        node[i] = (struct lp_waitgraph_node){
            .holder = holder[i],
            .holder_tid = holder[i] >= 0 ? 100 + holder[i] : 0,
            .lock = 0x1000 * (uintptr_t)(i + 1),
            .lock_size = LOCK_SIZE,
            .entry = &entry[i],
        };
        look_at[i] = (struct lp_waitgraph_look){ .in_futex = true, .futex = node[i].lock,
                                                 .holder_tid = node[i].holder_tid };
    }
    nlooked = 0;
}

/* The cycles of the graph, confirmed against again (nagain) as the second copy of the table;
 * *candidates (may be NULL) gets the number of cycles found before the second look. */
static unsigned confirm_with(unsigned n, const struct lp_inflight_entry *again, unsigned nagain,
                             unsigned *candidates)
{
    unsigned found = lp_waitgraph_cycles(node, n, walk, starts);
    if (candidates)
        *candidates = found;
    return lp_waitgraph_confirm(node, n, starts, found, again, nagain, fake_look, NULL,
                                cycle_of);
}

/* The same, with the entries of the first look as the second copy. */
static unsigned deadlocks(unsigned n, unsigned *candidates)
{
    return confirm_with(n, entry, n, candidates);
}

/* cycle_of as "0,0,-1,…" for one comparison per graph. */
static const char *marks(unsigned n)
{
    static char buf[8 * MAXN];
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%d", i ? "," : "", cycle_of[i]);
    return buf;
}

static void shapes(void)
{
    unsigned c;

    static const int none[] = { 1, 2, -1, 2 };
    graph(4, none);
    is_u64(deadlocks(4, &c), 0, "no cycle: no deadlock");
    is_u64(c, 0, "no cycle: no candidate");
    is_str(marks(4), "-1,-1,-1,-1", "no cycle: nobody marked");
    is_u64(nlooked, 0, "no cycle: no second look");

    static const int two[] = { 1, 0 };
    graph(2, two);
    is_u64(deadlocks(2, &c), 1, "2-cycle: one deadlock");
    is_i64(starts[0], 0, "2-cycle: starts at its lowest index");
    is_str(marks(2), "0,0", "2-cycle: both members marked");
    is_u64(nlooked, 2, "2-cycle: each member looked at again");

    static const int three[] = { -1, 3, 1, 2 }; /* 1 → 3 → 2 → 1 */
    graph(4, three);
    is_u64(deadlocks(4, &c), 1, "3-cycle: one deadlock");
    is_str(marks(4), "-1,1,1,1", "3-cycle: its members marked with its lowest index");
    ok(nlooked == 3 && looked[0] == 1 && looked[1] == 3 && looked[2] == 2,
       "3-cycle: looked at from the start, in the order of the waits");

    static const int self[] = { -1, 1, -1 };
    graph(3, self);
    is_u64(deadlocks(3, &c), 1, "waiting for itself: a cycle of one");
    is_str(marks(3), "-1,1,-1", "waiting for itself: only it is marked");

    /* 0 → 1 → 2 → 3 → 2 and 4 → 0: two chains into one cycle. */
    static const int chain[] = { 1, 2, 3, 2, 0 };
    graph(5, chain);
    is_u64(deadlocks(5, &c), 1, "chain into a cycle: one deadlock");
    is_u64(c, 1, "chain into a cycle: found once, whichever walk meets it");
    is_str(marks(5), "-1,-1,2,2,-1", "chain into a cycle: the chain is not part of it");
    is_u64(nlooked, 2, "chain into a cycle: only the cycle is looked at again");

    static const int disjoint[] = { 3, 2, 1, 0, 3 };
    graph(5, disjoint);
    is_u64(deadlocks(5, &c), 2, "two disjoint cycles: two deadlocks");
    is_str(marks(5), "0,1,1,0,-1", "two disjoint cycles: each marked with its own start");

    /* Holders that are not nodes: another process's thread, a thread that exited, readers. */
    static const int unknown[] = { -1, 0, -1 };
    graph(3, unknown);
    node[0].holder_tid = 999;
    node[2].holder_tid = 0;
    is_u64(deadlocks(3, &c), 0, "unknown holders: no cycle");
    is_u64(c, 0, "unknown holders: no candidate");

    /* More cycles than are reported: the first ones found. */
    int many[MAXN];
    for (unsigned i = 0; i < MAXN; i++)
        many[i] = (int)i;
    graph(MAXN, many);
    is_u64(deadlocks(MAXN, &c), LP_WAITGRAPH_MAX_CYCLES, "80 self-waits: 64 deadlocks");
    ok(cycle_of[LP_WAITGRAPH_MAX_CYCLES - 1] == LP_WAITGRAPH_MAX_CYCLES - 1 &&
       cycle_of[LP_WAITGRAPH_MAX_CYCLES] == -1, "80 self-waits: the first 64 are reported");

    graph(0, none);
    is_u64(deadlocks(0, &c), 0, "no threads: no deadlock");
}

static void second_look(void)
{
    static const int two[] = { 1, 0 };
    unsigned c;

    graph(2, two);
    look_at[1].in_futex = false;
    is_u64(deadlocks(2, &c), 0, "a member no longer in futex: no deadlock");
    is_u64(c, 1, "… though it was a candidate");
    is_str(marks(2), "-1,-1", "… and nobody is marked");

    graph(2, two);
    look_at[0].futex = node[0].lock + LOCK_SIZE;
    is_u64(deadlocks(2, &c), 0, "in futex on the word just past its lock: no deadlock");
    graph(2, two);
    look_at[0].futex = node[0].lock - 4;
    is_u64(deadlocks(2, &c), 0, "in futex on a word before its lock: no deadlock");
    graph(2, two);
    look_at[0].futex = node[0].lock + LOCK_SIZE - 4;
    look_at[1].futex = node[1].lock + 8; /* a rwlock's waiters sleep on an inner word */
    is_u64(deadlocks(2, &c), 1, "in futex on words inside their locks: a deadlock");

    graph(2, two);
    look_at[1].holder_tid = 107;
    is_u64(deadlocks(2, &c), 0, "a holder that changed between the looks: no deadlock");
    graph(2, two);
    look_at[1].holder_tid = 0;
    is_u64(deadlocks(2, &c), 0, "a lock released between the looks: no deadlock");

    /* The in-flight entries: the same slot with a new sequence count is a new wait. */
    graph(2, two);
    struct lp_inflight_entry again[3] = { entry[0], entry[1] };
    again[1].seq = 6;
    is_u64(confirm_with(2, again, 2, NULL), 0,
           "an entry that changed between the looks: no deadlock");
    is_u64(nlooked, 2, "… found after the member's own look");
    graph(2, two);
    is_u64(confirm_with(2, again, 1, NULL), 0,
           "an entry gone from the second copy: no deadlock");
    graph(2, two);
    node[0].entry = NULL;
    node[1].entry = NULL;
    is_u64(confirm_with(2, NULL, 0, NULL), 1,
           "inferred waits (no entries): confirmed by the futex and the holders alone");

    /* Nested waits: a signal handler's wait (the newer entry, the one shown) on top of the
     * interrupted one. */
    graph(2, two);
    const struct lp_inflight_entry inner = { .tid = 100, .slot = 9, .seq = 4 };
    node[0].entry = &inner;
    again[0] = entry[0];
    again[1] = inner;
    again[2] = entry[1];
    is_u64(confirm_with(2, again, 3, NULL), 1,
           "nested waits, the inner one still in progress: a deadlock");
    again[1] = entry[1]; /* the handler's wait ended: only the interrupted one is left */
    is_u64(confirm_with(2, again, 2, NULL), 0,
           "nested waits, the inner one ended between the looks: no deadlock");

    graph(3, (const int[]){ 1, 2, 0 });
    look_at[0].in_futex = false;
    is_u64(deadlocks(3, &c), 0, "the first member fails its look: no deadlock");
    ok(nlooked == 1 && looked[0] == 0, "… and the others are not looked at");

    static const int disjoint[] = { 3, 2, 1, 0 };
    graph(4, disjoint);
    look_at[2].holder_tid = 0;
    is_u64(deadlocks(4, &c), 1, "two cycles, one released between the looks: one deadlock");
    is_str(marks(4), "0,-1,-1,0", "… the one that held up is marked");
}

int main(void)
{
    shapes();
    second_look();
    return done_testing();
}
