/* wait.c — the out-of-line parts of the skeleton (wait.h). */
#include "wait.h"

__thread struct lp_wait_nest lp_wait_nest_ __attribute__((tls_model("initial-exec")));

void lp_wait_cancelled(struct lp_waiting *w)
{
    const struct lp_family *f = w->f;
    int err = errno;
    lp_self.busy = w->busy + 1;
    if (!w->abandoned) { /* (jump.c: ended already) */
        if (f->cancelled_waits)
            lp_event_wait_end(&w->ev, LP_GAVE_UP);
        else
            lp_event_wait_drop(&w->ev); /* nothing is recorded */
        if (f->finish)
            f->finish(w);
    }
    lp_wait_pop(w);
    lp_self.busy = w->busy;
    errno = err;
}

void lp_wait_abandon(struct lp_waiting *w)
{
    int err = errno;
    lp_self.busy = w->busy + 1;
    w->abandoned = true;
    /* Caught inside lp_wait_end, the wait has (partly) ended already: nothing more is done. */
    if (!w->ending) {
        if (w->ev.have_stack)
            lp_event_wait_end(&w->ev, LP_GAVE_UP);
        else
            lp_event_wait_drop(&w->ev); /* caught before its stack was unwound */
        if (w->f->finish)
            w->f->finish(w);
    }
    lp_self.busy = w->busy;
    errno = err;
}

void lp_wait_timed_slow(const struct lp_timed_family *f, const struct lp_call *c, long rc,
                        uint64_t start, uint64_t end)
{
    if (!lp_lifecycle_check())
        return;
    struct lp_guard g;
    lp_guard_enter(&g);
    /* Sampled first: the family's checks may cost system calls, and at the default rate most
     * short waits are not recorded. (A pending cancel cannot act inside lockprof's unwinding:
     * unwind.c disables it there.) */
    struct lp_weight wt;
    if (lp_event_pick_wait(start, end, &wt) && (!f->confirm || f->confirm(c, rc, g.err)))
        lp_event_record_picked(c->leaf, f->id, &wt);
    lp_guard_leave(&g);
}
