/* stack.c — see stack.h. */
#include "stack.h"


lp_unwind_fn lp_unwinder;

static struct {
    uintptr_t lo, hi;
} stack_self[4];         /* set at init, before any event */
static unsigned stack_nself;

void lp_stack_add_self(uintptr_t lo, uintptr_t hi)
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

/* One buffer per level of nesting: a wait holds its stack across the real call, during which
 * a signal handler may run events of its own on this thread. */
static __thread uintptr_t stack_raw0[LP_MAX_DEPTH + LP_SELF_SLACK + 1]
    __attribute__((tls_model("initial-exec")));
/* A handler's events, nested in a wait, keep fewer frames: static TLS is carved out of every
 * thread's stack (a thread made with a 16 KiB stack must keep most of it). */
#define STACK_NESTED_DEPTH 64
static __thread uintptr_t stack_raw1[STACK_NESTED_DEPTH + LP_SELF_SLACK + 1]
    __attribute__((tls_model("initial-exec")));
static __thread unsigned stack_level __attribute__((tls_model("initial-exec")));

void lp_stack_hold(void)
{
    stack_level++;
}

void lp_stack_release(void)
{
    if (stack_level)
        stack_level--;
}

unsigned lp_stack_capture(uintptr_t **pcs, unsigned max_depth, bool *truncated)
{
    *truncated = false;
    if (stack_level >= LP_STACK_LEVELS) {
        /* Handlers nested deeper than the buffers: the event keeps its leaf, no frames. */
        *pcs = stack_raw0;
        *truncated = true;
        return 0;
    }
    uintptr_t *stack_raw = stack_level ? stack_raw1 : stack_raw0;
    if (stack_level && max_depth > STACK_NESTED_DEPTH)
        max_depth = STACK_NESTED_DEPTH;
    *pcs = stack_raw;
    if (!lp_unwinder)
        return 0;
    if (max_depth > LP_MAX_DEPTH)
        max_depth = LP_MAX_DEPTH;
    int want = (int)(max_depth + LP_SELF_SLACK + 1);
    int n = lp_unwinder(stack_raw, want);
    unsigned kept = 0;
    for (int i = 0; i < n; i++) {
        if (lp_stack_is_self(stack_raw[i]) || stack_raw[i] == 0)
            continue;
        if (kept == max_depth) {
            *truncated = true;
            break;
        }
        stack_raw[kept++] = stack_raw[i]; /* compacts in place: kept <= i */
    }
    /* A full buffer means the unwinder stopped for room, not at the outermost frame. */
    if (n == want)
        *truncated = true;
    return kept;
}
