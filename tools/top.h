/*
 * top.h — the report of `lockprof top` (top.c): the heaviest functions of a contention profile
 * that profread.h has read, then its heaviest stacks, printed to any stream (the command
 * prints to stdout, the fuzz target to memory).
 *
 * Every string from the profile is printed escaped (lp_cli_escape), and every sum stops at
 * INT64_MAX. Command code: malloc and stdio. Context: one thread.
 */
#ifndef LP_TOP_H
#define LP_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "profread.h"

struct lp_top_opts {
    size_t n;              /* functions shown; 0 = all */
    int by;                /* 0 contentions, 1 delay */
    bool stacks;           /* n stacks rather than the 5 heaviest */
};

/* Prints, per function, the CPU time of cpu (a CPU profile) and the waits of blk (a block
 * profile of the same run), side by side. */
void lp_top_side_by_side(FILE *out, const struct lp_profread *cpu, const char *cpu_path,
                         const struct lp_profread *blk, const char *blk_path,
                         const struct lp_top_opts *o);
/* Prints r's report, headed by path, to out. */
void lp_top_report(FILE *out, const struct lp_profread *r, const char *path,
                   const struct lp_top_opts *o);

#endif
