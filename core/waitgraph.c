/* waitgraph.c — see waitgraph.h. */
#include "waitgraph.h"

unsigned lp_waitgraph_cycles(const struct lp_waitgraph_node *node, unsigned n, int *walk,
                             int *starts)
{
    for (unsigned i = 0; i < n; i++)
        walk[i] = 0;
    /* Walk each path once, marking it with the walk's number; meeting the current walk's mark
     * again closes a cycle, meeting an earlier walk's joins a path already walked. */
    unsigned nstarts = 0;
    for (unsigned i = 0; i < n; i++) {
        int j = (int)i;
        while (j >= 0 && walk[j] == 0) {
            walk[j] = (int)i + 1;
            j = node[j].holder;
        }
        if (j < 0 || walk[j] != (int)i + 1 || nstarts == LP_WAITGRAPH_MAX_CYCLES)
            continue;
        int first = j, k = j;
        do {
            if (k < first)
                first = k;
            k = node[k].holder;
        } while (k != j);
        starts[nstarts++] = first;
    }
    return nstarts;
}

/* Is e among the entries of the second copy? (The slot and its sequence count name one wait.) */
static bool waitgraph_same_entry(const struct lp_inflight_entry *e,
                                 const struct lp_inflight_entry *again, unsigned nagain)
{
    for (unsigned i = 0; i < nagain; i++)
        if (again[i].slot == e->slot && again[i].seq == e->seq && again[i].tid == e->tid)
            return true;
    return false;
}

static bool waitgraph_holds(const struct lp_waitgraph_node *node, int start,
                            const struct lp_inflight_entry *again, unsigned nagain,
                            lp_waitgraph_look_fn *look, void *ctx)
{
    int i = start;
    do {
        const struct lp_waitgraph_node *w = &node[i];
        struct lp_waitgraph_look l = { 0 };
        look(ctx, (unsigned)i, &l);
        if (!l.in_futex || l.futex < w->lock || l.futex >= w->lock + w->lock_size ||
            l.holder_tid == 0 || l.holder_tid != w->holder_tid)
            return false;
        if (w->entry && !waitgraph_same_entry(w->entry, again, nagain))
            return false;
        i = w->holder;
    } while (i != start);
    return true;
}

unsigned lp_waitgraph_confirm(const struct lp_waitgraph_node *node, unsigned n,
                              const int *starts, unsigned nstarts,
                              const struct lp_inflight_entry *again, unsigned nagain,
                              lp_waitgraph_look_fn *look, void *ctx, int *cycle_of)
{
    unsigned deadlocks = 0;
    for (unsigned i = 0; i < n; i++)
        cycle_of[i] = -1;
    for (unsigned c = 0; c < nstarts; c++) {
        if (!waitgraph_holds(node, starts[c], again, nagain, look, ctx))
            continue;
        int k = starts[c];
        do {
            cycle_of[k] = starts[c];
            k = node[k].holder;
        } while (k != starts[c]);
        deadlocks++;
    }
    return deadlocks;
}
