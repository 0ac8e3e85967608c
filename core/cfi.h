/*
 * cfi.h — lockprof's unwinder: the caller's return addresses from the DWARF call-frame
 * information (.eh_frame) every x86-64 object carries, through one cache shared by all threads.
 *
 * Why not libunwind's unw_backtrace (DESIGN §3.4 named it): its fast path keeps a 2^14-entry
 * cache per thread, initialised in full on a thread's first unwind, which stays resident until
 * the thread exits — measured, 1,000 threads that each recorded one wait added 266 MB of RSS.
 * lockprof must keep its memory bounded whatever the number of threads (issue #5: 10,000
 * threads within 16 MiB), and libunwind can neither share nor bound that cache; its step-by-step
 * API without it costs microseconds per frame. This walker does what that cache does, shared:
 *   - a frame's rule (CFA = rsp or rbp + offset, return address at CFA − 8, rbp saved at
 *     CFA + k or not) is computed once per return address from the object's FDE, found
 *     through glibc's lock-free _dl_find_object and the .eh_frame_hdr search table, and kept in a
 *     direct-mapped table of 2^15 entries (512 KiB at most, shared by every thread);
 *   - a walk is then a hash probe and one or two loads per frame.
 * It reads stack memory only between the walk's first stack pointer and the top of the stack it
 * is on (a pthread's: its descriptor, which glibc puts at the top of the stack block; the main
 * thread's: __libc_stack_end; a signal's alternate stack: sigaltstack), frames strictly upward:
 * wrong CFI ends a walk early, it never faults. A frame whose CFI it does not model (a CFA
 * computed by an expression, based on another register) ends the walk; signal frames (glibc's
 * __restore_rt) are followed through the interrupted context saved on the stack.
 *
 * Context: any thread, including inside a signal handler (no lock, no allocation, no syscall
 * except sigaltstack when the stack pointer is on no stack it knows).
 */
#ifndef LP_CFI_H
#define LP_CFI_H

#include <stdbool.h>
#include <stdint.h>

/* Maps the cache of unwinding rules (at a process's first entry into lockprof, or at start;
 * without it every frame's rule is computed from the unwind tables each time). 0 or
 * -ENOMEM. */
int lp_cfi_init(void);

/* Fills pcs with up to max return addresses, the caller of lp_cfi_backtrace first (as
 * unw_backtrace does); returns how many. The walk stops at the outermost frame (return address
 * undefined), at a frame it cannot follow, or when pcs is full. */
int lp_cfi_backtrace(uintptr_t *pcs, int max);

/* The same from an interrupted context (a signal handler's third argument, a ucontext_t): the
 * interrupted frame first, then its callers. The interrupted frame's pc is exact (the
 * instruction that was about to run, not a return address): it is stored + 1, so that every
 * address of pcs is read the same way, minus 1 (pprof.h). Safe in a signal handler. */
int lp_cfi_backtrace_context_sigsafe(uintptr_t *pcs, int max, const void *ucontext);

/* Forgets every cached rule: after dlclose (another object may be mapped at the same addresses). */
void lp_cfi_forget(void);

/* Counters since start (for tests and the bench). */
struct lp_cfi_stats {
    uint64_t lookups;   /* rules computed from an FDE (cache misses) */
    uint64_t stops;     /* walks that ended at a frame they could not follow */
};
void lp_cfi_stats(struct lp_cfi_stats *s);

#endif
