/* stack.c — see stack.h. */
#include "stack.h"
#include "sys.h"

#include "clock.h"
#include "seam.h"


LP_INIT_DATA lp_unwind_fn lp_unwinder;
unsigned lp_stack_depth_ = 64;

LP_INIT_DATA static struct {
    uintptr_t lo, hi;
} stack_self[4];         /* set at init, before any event */
LP_INIT_DATA static unsigned stack_nself;

LP_INIT_TEXT void lp_stack_add_self(uintptr_t lo, uintptr_t hi)
{
    if (stack_nself < 4 && lo < hi) {
        stack_self[stack_nself].lo = lo;
        stack_self[stack_nself].hi = hi;
        stack_nself++;
    }
}

bool lp_stack_is_self(uintptr_t pc)
{
    for (unsigned i = 0; i < stack_nself; i++)
        if (pc >= stack_self[i].lo && pc < stack_self[i].hi)
            return true;
    return false;
}

unsigned lp_stack_capture(uintptr_t *buf, unsigned max_depth, bool *truncated)
{
    *truncated = false;
    if (lp_seams.unwind_delay_ns) {
        /* The skew test's slow unwinder (seam.h). It sleeps rather than spins: the test asks
         * where lockprof's work falls (inside a critical section or not), and a spinning
         * releaser on a loaded 2-core machine keeps the waiter it woke off the CPU — measured,
         * hand-offs of 40 us to 2.1 ms, which is the scheduler, not the order of work. */
        lp_sleep_ns(lp_seams.unwind_delay_ns);
    }
    if (!lp_unwinder)
        return 0;
    if (max_depth > LP_MAX_DEPTH)
        max_depth = LP_MAX_DEPTH;
    int want = (int)LP_STACK_BUF(max_depth);
    int n = lp_unwinder(buf, want);
    unsigned kept = 0;
    for (int i = 0; i < n; i++) {
        if (lp_stack_is_self(buf[i]) || buf[i] == 0)
            continue;
        if (kept == max_depth) {
            *truncated = true;
            break;
        }
        buf[kept++] = buf[i]; /* compacts in place: kept <= i */
    }
    /* A full buffer means the unwinder stopped for room, not at the outermost frame. */
    if (n == want)
        *truncated = true;
    return kept;
}

LP_INIT_TEXT void lp_stack_set_depth(unsigned depth)
{
    lp_stack_depth_ = depth > LP_MAX_DEPTH ? LP_MAX_DEPTH : depth;
}
