/*
 * seam.h — the test and benchmark seams inside the library (STYLE "Tests": jemalloc's
 * JET_MUTABLE).
 *
 * In a release build lp_seams is a constant, so every branch on it is folded away: the
 * library's code is what it would be without the seams. A seams build (-DLP_SEAMS, which only
 * the Makefile's variants set, each under build/variants/NAME and never installed) makes it
 * one variable, defined by the one file tests/variants/NAME.c that the variant links in; a
 * build with -DLP_SEAMS and no such file fails to link.
 */
#ifndef LP_SEAM_H
#define LP_SEAM_H

#include <stdint.h>

struct lp_seams {
    /* The bench's ablation of the event path: 1 = the wrappers peek and try, nothing more;
     * 2 = + the clock around each wait; 3 = + registration and the charge (locktab, in-flight
     * table); 4 = + sampling, unwinding, recording: the library. */
    int stage;
    /* Every stack capture sleeps this long first (the skew test's slow unwinder). */
    uint64_t unwind_delay_ns;
    /* The writer stops this long half-way through its walk of the stack table (the scale
     * test's stalled writer). */
    uint64_t writer_stall_ns;
    /* The scan of the loaded objects stops this long inside dl_iterate_phdr, with the loader's
     * lock held (the fork test's slow scan). */
    uint64_t maps_scan_stall_ns;
};

#ifdef LP_SEAMS
extern struct lp_seams lp_seams;
#else
static const struct lp_seams lp_seams = { .stage = 4, .unwind_delay_ns = 0, .writer_stall_ns = 0,
                                          .maps_scan_stall_ns = 0 };
#endif

#endif
