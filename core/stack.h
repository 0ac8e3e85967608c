/*
 * stack.h — capturing the calling thread's stack, through a replaceable unwinder.
 *
 * The unwinder is a seam (STYLE: tests install a fake one that returns fixed stacks or
 * sleeps): interpose/unwind.c installs libunwind's unw_backtrace, loaded with dlopen in the
 * constructor (DESIGN §3.4). lp_stack_capture drops every frame that lies in one of the
 * registered "self" ranges (lockprof's own text, libunwind's), wherever it stands — by
 * address range, never by a count of frames — and keeps at most max_depth of the rest.
 *
 * Context: any thread, not a signal handler (libunwind is not async-signal-safe here).
 */
#ifndef LP_STACK_H
#define LP_STACK_H

#include <stdbool.h>
#include <stdint.h>

#define LP_MAX_DEPTH 512   /* the upper bound of LOCKPROF_STACK_DEPTH */
#define LP_SELF_SLACK 32   /* frames of lockprof and libunwind above the caller, at most */

/* Fills pcs with up to max return addresses, innermost first; returns how many. */
typedef int (*lp_unwind_fn)(uintptr_t *pcs, int max);

extern lp_unwind_fn lp_unwinder; /* NULL: stacks are empty */

/* Frames in [lo, hi) are lockprof's own and never appear in a profile. Up to 4 ranges. */
void lp_stack_add_self(uintptr_t lo, uintptr_t hi);
bool lp_stack_is_self(uintptr_t pc);

/* Captures the caller's stack into a per-thread buffer, *pcs pointing at its innermost kept
 * frame (valid until the thread's next capture at the same level). Sets *truncated when
 * frames beyond max_depth were dropped. Returns the depth kept. */
unsigned lp_stack_capture(uintptr_t **pcs, unsigned max_depth, bool *truncated);

/* A stack kept across a call that runs un-busy (a wait: signal handlers may record events
 * of their own meanwhile on this thread) is held: captures go to the next buffer until it is
 * released. LP_STACK_LEVELS buffers; deeper captures get no frames. */
#define LP_STACK_LEVELS 2
void lp_stack_hold(void);
void lp_stack_release(void);

#endif
