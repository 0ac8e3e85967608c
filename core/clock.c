/* clock.c — see clock.h. */
#include "clock.h"

#include <errno.h>
#include <time.h>

uint64_t lp_clock_monotonic(void)
{
    struct timespec ts;
    int saved = errno;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    errno = saved;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

lp_clock_fn lp_clock_source = lp_clock_monotonic;

int64_t lp_clock_realtime(void)
{
    struct timespec ts;
    int saved = errno;
    clock_gettime(CLOCK_REALTIME, &ts);
    errno = saved;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
