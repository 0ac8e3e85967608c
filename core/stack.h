/*
 * stack.h — capturing the calling thread's stack, through a replaceable unwinder.
 *
 * The unwinder is a seam (STYLE: tests install a fake one that returns fixed stacks or
 * sleeps): interpose/unwind.c installs lockprof's own (core/cfi.h) or, on request, libunwind's
 * unw_backtrace, loaded with dlopen in the constructor (DESIGN §3.4). lp_stack_capture drops every frame that lies in one of the
 * registered "self" ranges (lockprof's own text, libunwind's), wherever it stands — by
 * address range, never by a count of frames — and keeps at most max_depth of the rest.
 *
 * Context: any thread, not a signal handler (libunwind is not async-signal-safe here). The
 * caller owns the buffer, so an event in a signal handler that interrupted a wait never touches
 * the wait's stack.
 */
#ifndef LP_STACK_H
#define LP_STACK_H

#include <stdbool.h>
#include <stdint.h>

#define LP_MAX_DEPTH 512   /* the upper bound of LOCKPROF_STACK_DEPTH */
#define LP_SELF_SLACK 16   /* frames of lockprof (and libunwind) above the caller, at most */
/* Depths up to this one are captured into a buffer inside the event (on the recording thread's
 * own stack, a few hundred bytes beside the frames it already uses); deeper configured depths
 * get a buffer alloca'd by the event's caller. No buffer lives in TLS: glibc zeroes every
 * module's static TLS in each new thread, so a TLS buffer costs a page or two in every thread
 * of the program, recording or not (measured: 4 KiB per thread, 41 MB at 10,000 threads). */
#define LP_INLINE_DEPTH 64
#define LP_STACK_BUF(depth) ((depth) + LP_SELF_SLACK + 1)

/* Fills pcs with up to max return addresses, innermost first; returns how many. */
typedef int (*lp_unwind_fn)(uintptr_t *pcs, int max);

extern lp_unwind_fn lp_unwinder; /* NULL: stacks are empty */

/* LOCKPROF_STACK_DEPTH: frames kept per stack. Immutable once lp_stack_set_depth has run
 * (the constructor, before any event). */
extern unsigned lp_stack_depth_;
void lp_stack_set_depth(unsigned depth);

/* Frames in [lo, hi) are lockprof's own and never appear in a profile. Up to 4 ranges. */
void lp_stack_add_self(uintptr_t lo, uintptr_t hi);
bool lp_stack_is_self(uintptr_t pc);

/* Captures the caller's stack into buf (LP_STACK_BUF(max_depth) entries), keeping at most
 * max_depth frames compacted at its start. Sets *truncated when frames beyond max_depth were
 * dropped. Returns the depth kept. */
unsigned lp_stack_capture(uintptr_t *buf, unsigned max_depth, bool *truncated);

#endif
