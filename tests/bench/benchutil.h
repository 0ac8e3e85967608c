/*
 * benchutil.h — what the benchmark programs (tests/bench_*.c) share: the wall clock, thread and
 * process CPU clocks, the count argument, the sleeping second thread, pinning to one CPU, the
 * "ns_per_op X cpu_ns_per_op Y" line and the "provider" check. Each program sets bench_name
 * (for its messages) before using them.
 */
#ifndef LP_BENCHUTIL_H
#define LP_BENCHUTIL_H

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *bench_name;

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread alone (user + sys): not counting the time other threads of
 * the process run, nor the time this one waits for a CPU. */
static inline uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* User + system time of the whole process. */
static inline uint64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* A positive count, or exit 2 naming the argument (what). */
static inline long parse_count(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v <= 0) {
        fprintf(stderr, "%s: %s '%s': expected a positive integer\n", bench_name, what, s);
        exit(2);
    }
    return v;
}

static inline void *bench_sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

/* A second thread that only sleeps: glibc takes cheaper single-thread paths (no lock prefix,
 * no cancellation bookkeeping) while a process has one thread, and lockprof's own thread ends
 * that; the workloads measure lockprof, not glibc's mode switch. 0 or -1. */
static inline int bench_start_sleeper(void)
{
    pthread_t t;
    return pthread_create(&t, NULL, bench_sleeper, NULL) == 0 ? 0 : -1;
}

/* Pins the process (and the threads it creates afterwards) to one CPU: the highest-numbered one
 * it may use. 0 or -1 (errno set). */
static inline int bench_pin_one_cpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) < 0)
        return -1;
    for (int cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--) {
        if (CPU_ISSET(cpu, &set)) {
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            return sched_setaffinity(0, sizeof set, &set);
        }
    }
    errno = EINVAL;
    return -1;
}

/* Prints "ns_per_op X cpu_ns_per_op Y": the wall clock and the process's CPU time (user + sys)
 * since t0 and c0, per op. */
static inline void bench_report(uint64_t t0, uint64_t c0, long ops)
{
    uint64_t t1 = now_ns(), c1 = cpu_ns();
    printf("ns_per_op %.2f cpu_ns_per_op %.2f\n", (double)(t1 - t0) / (double)ops,
           (double)(c1 - c0) / (double)ops);
}

/* Prints "provider PATH": the object that defines symbol for this program (libc, or the
 * preload), so that the driver can check a preload really is in effect. */
static inline int bench_provider(const char *symbol)
{
    Dl_info info;
    void *p = dlsym(RTLD_DEFAULT, symbol);
    if (!p || !dladdr(p, &info) || !info.dli_fname) {
        fprintf(stderr, "%s: cannot locate %s\n", bench_name, symbol);
        return 1;
    }
    printf("provider %s\n", info.dli_fname);
    return 0;
}

#endif
