/*
 * helper_recordcost — run by `make bench`: the cost of one recorded event,
 * from "this wait is recorded" to "it is in the table": the sampler's weight, the unwind and
 * the table insert (lp_sample_block, lp_stack_capture, lp_stacktab_add — the code the
 * library runs, linked from libcore.a), at a stack of 30 frames, with each unwinder:
 *   cfi        lockprof's own (core/cfi.c), the default
 *   libunwind  unw_backtrace (LOCKPROF_LIBUNWIND=1), dlopen'ed as the library does
 * Each event is timed on its own (CLOCK_MONOTONIC; the cost of a clock read pair, measured the
 * same way, is subtracted); 200,000 events after 10,000 of warm-up (rules cached, the entry in
 * the table: the steady state of a program that waits at the same places). Prints one line per
 * unwinder: median, 90th and 99th percentiles in ns.
 *
 *   helper_recordcost [EVENTS]
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cfi.h"
#include "sample.h"
#include "stack.h"
#include "stacktab.h"

#define FRAMES 30

static const char leaf[] = "pthread_mutex_lock";
static int (*unw_bt)(void **, int);
static volatile int sink;

static uint64_t clk(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int by_libunwind(uintptr_t *pcs, int max)
{
    return unw_bt((void **)pcs, max);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t *samples;
static long nevents;
static unsigned got_depth;

/* One event as the library records it: weight, unwind, insert. */
static inline void record_one(struct lp_rng *rng)
{
    uintptr_t buf[LP_STACK_BUF(64)];
    bool trunc;
    struct lp_weight wt;
    if (!lp_sample_block(rng, 1, 1000, &wt))
        return;
    unsigned depth = lp_stack_capture(buf, 64, &trunc);
    got_depth = depth;
    lp_stacktab_add(LP_BLOCK, leaf, buf, depth, trunc, &wt);
}

static void measure(const char *name)
{
    struct lp_rng rng;
    lp_rng_seed(&rng, 1);
    for (long i = 0; i < 10000; i++)
        record_one(&rng);
    for (long i = 0; i < nevents; i++) {
        uint64_t t0 = clk();
        record_one(&rng);
        samples[i] = clk() - t0;
    }
    /* The clock pair alone, measured the same way. */
    uint64_t *z = malloc(sizeof *z * 100000);
    for (long i = 0; i < 100000; i++) {
        uint64_t t0 = clk();
        z[i] = clk() - t0;
    }
    qsort(z, 100000, sizeof *z, cmp_u64);
    uint64_t overhead = z[50000];
    free(z);
    qsort(samples, (size_t)nevents, sizeof *samples, cmp_u64);
#define PCT(p) (samples[(long)((p) * (double)(nevents - 1))] - overhead)
    printf("record-cost  %-9s  %u frames  median %4llu ns  p90 %4llu ns  p99 %5llu ns  "
           "(%ld events; clock pair %llu ns subtracted)\n",
           name, got_depth, (unsigned long long)PCT(0.5), (unsigned long long)PCT(0.9),
           (unsigned long long)PCT(0.99), nevents, (unsigned long long)overhead);
}

/* Recursion to the depth where a capture keeps FRAMES frames (main and libc's start below). */
static __attribute__((noinline)) int descend(int n, const char *name)
{
    if (n > 0) {
        int r = descend(n - 1, name);
        sink++;
        return r;
    }
    measure(name);
    return 0;
}

int main(int argc, char **argv)
{
    nevents = argc > 1 ? atol(argv[1]) : 200000;
    if (nevents < 1000) {
        fprintf(stderr, "helper_recordcost: EVENTS must be at least 1000\n");
        return 2;
    }
    samples = malloc(sizeof *samples * (size_t)nevents);
    /* (The unwinder's cache, as the library maps it with its tables: without it every frame's
     * rule is looked up in the ELF file's tables again.) */
    if (!samples || lp_stacktab_init(4096, 4096 * 16) < 0 || lp_cfi_init() < 0) {
        fprintf(stderr, "helper_recordcost: out of memory\n");
        return 1;
    }
    /* 24 frames of descend (levels 23..0) and those around them (main and libc's below,
     * measure and lp_stack_capture above): 30 with either unwinder, as the lines printed say. */
    lp_unwinder = lp_cfi_backtrace;
    descend(FRAMES - 7, "cfi");
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    unw_bt = h ? (int (*)(void **, int))dlsym(h, "unw_backtrace") : NULL;
    if (unw_bt) {
        lp_unwinder = by_libunwind;
        descend(FRAMES - 7, "libunwind");
    } else {
        printf("record-cost  libunwind  not measured: libunwind.so.8 does not load\n");
    }
    return 0;
}
