/*
 * clockcount.h — counts this program's clock reads, lockprof's included: the program defines
 * clock_gettime, which the preloaded library's calls bind to (lockprof reads its clock with
 * clock_gettime). For the tests that show a path reads no clock. Include once, after
 * progutil.h; `clock_reads` is the count.
 */
#ifndef LP_CLOCKCOUNT_H
#define LP_CLOCKCOUNT_H

#include <dlfcn.h>
#include <time.h>

static int (*next_clock_gettime)(clockid_t, struct timespec *);
static unsigned long clock_reads;

int clock_gettime(clockid_t c, struct timespec *ts)
{
    if (!next_clock_gettime)
        next_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    __atomic_fetch_add(&clock_reads, 1, __ATOMIC_RELAXED);
    return next_clock_gettime(c, ts);
}

#endif
