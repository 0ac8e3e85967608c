/*
 * bench_mutex.c — lock and semaphore workloads for `make bench` (DESIGN §9). Driven by
 * tests/bench/run.
 *
 *   bench_mutex uncontended KIND ITERS
 *       ITERS uncontended pairs on one object, by one thread while a second thread sleeps:
 *         mutex   {pthread_mutex_lock; pthread_mutex_unlock}
 *         rdlock  {pthread_rwlock_rdlock; pthread_rwlock_unlock}
 *         wrlock  {pthread_rwlock_wrlock; pthread_rwlock_unlock}
 *         sem     {sem_post; sem_wait}  (the count goes 0 -> 1 -> 0: the wait never blocks;
 *                 lockprof interposes sem_wait only, so does the floor)
 *       The sleeping thread matters: glibc takes a cheaper path (no lock prefix) while a
 *       process has a single thread, and lockprof's own thread ends that, so a one-thread loop
 *       would measure glibc's mode switch, not lockprof (measured here: 4.2–4.8 ns/pair with
 *       one thread, 11.8–12.3 with two, without any preload). Programs worth profiling have
 *       several threads.
 *       Prints: ns_per_op X            (one op = one pair, wall clock)
 *
 *   bench_mutex uncontended-bg ITERS
 *       The mutex pair on lock A, ITERS times, while two background threads keep an unrelated
 *       lock B contended all the time: each loops {lock B; sleep 1 ms; unlock B}, so one holds
 *       B (asleep) while the other is blocked on it. A profiler's "does any lock have waiters?"
 *       shortcut is then never free: every unlock of A takes the path of a lock that might
 *       have waiters. The background threads sleep nearly all the time (a wake-up every ms),
 *       but their wake-ups can still take the timing thread's CPU for a moment, so the timing
 *       thread's own CPU time is measured as well as the wall clock.
 *       Prints: ns_per_op X thread_cpu_ns_per_op Y   (wall; CPU time of the timing thread,
 *                                                     CLOCK_THREAD_CPUTIME_ID, per pair)
 *
 *   bench_mutex contended THREADS ITERS
 *       THREADS threads, each ITERS × {lock; ~250 ns critical section; unlock} on one mutex.
 *       The critical section is a busy loop on a volatile counter, calibrated once at start,
 *       without the lock. Timed section: from the release of the start barrier to the last join.
 *       Prints: ops_per_s X cpu_ns_per_op Y   (CPU = user + sys of the whole process,
 *                                              getrusage(RUSAGE_SELF), over the timed section)
 *
 *   bench_mutex spin THREADS ITERS
 *       THREADS threads, each ITERS × a call of a function that runs 100 steps of an LCG: no
 *       lock, no system call, CPU-bound (what the CPU profile costs: its signals, its unwinds,
 *       lockprof's thread draining the samples). Timed as contended.
 *       Prints: ns_per_op X cpu_ns_per_op Y   (one op = one call, by any thread; CPU = user +
 *                                              sys of the whole process)
 *
 *   bench_mutex provider [SYMBOL]
 *       Prints: provider PATH   the object that defines the SYMBOL (default
 *                               pthread_mutex_lock) this program calls (libc, or the preload),
 *                               so the driver can check that a preload really is in effect.
 *
 * Each workload prints exactly one line on stdout, "key value" pairs; diagnostics go to stderr.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define CS_TARGET_NS 250.0

static pthread_mutex_t bench_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- uncontended ---- */

static pthread_rwlock_t bench_rwlock = PTHREAD_RWLOCK_INITIALIZER;
static sem_t bench_sem;

/* ITERS pairs of BODY after a warm-up of ITERS/20 (page in, resolve the PLT entries, settle
 * the frequency); sets t0 and t1 around the timed loop. One loop per kind keeps the loop as
 * tight as the caller's own would be. */
#define PAIRS(iters, t0, t1, BODY)                 \
    do {                                           \
        for (long i_ = 0; i_ < (iters) / 20; i_++) \
            BODY;                                  \
        t0 = now_ns();                             \
        for (long i_ = 0; i_ < (iters); i_++)      \
            BODY;                                  \
        t1 = now_ns();                             \
    } while (0)

static int run_uncontended(const char *kind, long iters)
{
    uint64_t t0, t1;
    if (bench_start_sleeper() != 0) {
        fprintf(stderr, "bench_mutex: pthread_create failed\n");
        return 1;
    }
    if (!strcmp(kind, "mutex")) {
        PAIRS(iters, t0, t1, {
            pthread_mutex_lock(&bench_lock);
            pthread_mutex_unlock(&bench_lock);
        });
    } else if (!strcmp(kind, "rdlock")) {
        PAIRS(iters, t0, t1, {
            pthread_rwlock_rdlock(&bench_rwlock);
            pthread_rwlock_unlock(&bench_rwlock);
        });
    } else if (!strcmp(kind, "wrlock")) {
        PAIRS(iters, t0, t1, {
            pthread_rwlock_wrlock(&bench_rwlock);
            pthread_rwlock_unlock(&bench_rwlock);
        });
    } else if (!strcmp(kind, "sem")) {
        if (sem_init(&bench_sem, 0, 0) != 0) {
            perror("bench_mutex: sem_init");
            return 1;
        }
        PAIRS(iters, t0, t1, {
            sem_post(&bench_sem);
            sem_wait(&bench_sem);
        });
    } else {
        fprintf(stderr, "bench_mutex: KIND '%s': expected mutex, rdlock, wrlock or sem\n", kind);
        return 2;
    }
    printf("ns_per_op %.4f\n", (double)(t1 - t0) / (double)iters);
    return 0;
}

/* ---- uncontended-bg ---- */

#define BG_HOLD_NS 1000000L

static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static int bg_started; /* atomic: background threads that have begun their loop */

static void *bg_main(void *arg)
{
    (void)arg;
    const struct timespec hold = { 0, BG_HOLD_NS };
    __atomic_add_fetch(&bg_started, 1, __ATOMIC_RELEASE);
    for (;;) {
        pthread_mutex_lock(&bg_lock);
        nanosleep(&hold, NULL);
        pthread_mutex_unlock(&bg_lock);
    }
    return NULL;
}

static int run_uncontended_bg(long iters)
{
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        int rc = pthread_create(&t, NULL, bg_main, NULL);
        if (rc) {
            fprintf(stderr, "bench_mutex: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    /* Both threads running, then a few hold periods: one holds B, the other is blocked. */
    while (__atomic_load_n(&bg_started, __ATOMIC_ACQUIRE) < 2)
        sched_yield();
    const struct timespec settle = { 0, 5 * BG_HOLD_NS };
    nanosleep(&settle, NULL);

    for (long i = 0; i < iters / 20; i++) {
        pthread_mutex_lock(&bench_lock);
        pthread_mutex_unlock(&bench_lock);
    }
    uint64_t c0 = thread_cpu_ns(), t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        pthread_mutex_lock(&bench_lock);
        pthread_mutex_unlock(&bench_lock);
    }
    uint64_t t1 = now_ns(), c1 = thread_cpu_ns();
    printf("ns_per_op %.4f thread_cpu_ns_per_op %.4f\n", (double)(t1 - t0) / (double)iters,
           (double)(c1 - c0) / (double)iters);
    return 0;
}

/* ---- contended ---- */

static volatile unsigned long cs_counter;
static unsigned long cs_spins; /* immutable once the threads start */

static void busy(unsigned long n)
{
    for (unsigned long i = 0; i < n; i++)
        cs_counter++;
}

/* Spins per CS_TARGET_NS. Each trial times a long loop; the fastest of several trials is the
 * one least disturbed by interrupts and preemption, so it gives the loop's own speed. */
static unsigned long calibrate(void)
{
    const unsigned long n = 2000000;
    double best = 0;
    busy(n); /* warm-up */
    for (int trial = 0; trial < 7; trial++) {
        uint64_t t0 = now_ns();
        busy(n);
        double ns = (double)(now_ns() - t0);
        if (trial == 0 || ns < best)
            best = ns;
    }
    double spins = CS_TARGET_NS * (double)n / best;
    return spins < 1 ? 1 : (unsigned long)(spins + 0.5);
}

struct worker {
    pthread_t tid;
    long iters;
    pthread_barrier_t *start;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    unsigned long spins = cs_spins;
    pthread_barrier_wait(w->start);
    for (long i = 0; i < w->iters; i++) {
        pthread_mutex_lock(&bench_lock);
        busy(spins);
        pthread_mutex_unlock(&bench_lock);
    }
    return NULL;
}

/* Starts `threads` threads running fn (each with a struct worker of iters), releases them
 * together and waits for them all: the wall and CPU time (the whole process's) from the
 * release to the last join. 0, or 1 (said on stderr). */
static int run_workers(long threads, long iters, void *(*fn)(void *), uint64_t *wall,
                       uint64_t *cpu)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    struct worker *w = calloc((size_t)threads, sizeof *w);
    if (!w) {
        perror("bench_mutex: calloc");
        return 1;
    }
    for (long i = 0; i < threads; i++) {
        w[i].iters = iters;
        w[i].start = &start;
        int rc = pthread_create(&w[i].tid, NULL, fn, &w[i]);
        if (rc) {
            fprintf(stderr, "bench_mutex: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    /* The workers are asleep in the barrier: the clocks start before they are released. */
    uint64_t c0 = cpu_ns(), t0 = now_ns();
    pthread_barrier_wait(&start);
    for (long i = 0; i < threads; i++)
        pthread_join(w[i].tid, NULL);
    *wall = now_ns() - t0;
    *cpu = cpu_ns() - c0;
    free(w);
    pthread_barrier_destroy(&start);
    return 0;
}

static int run_contended(long threads, long iters)
{
    cs_spins = calibrate();
    uint64_t wall, cpu;
    if (run_workers(threads, iters, worker_main, &wall, &cpu) != 0)
        return 1;
    double ops = (double)threads * (double)iters;
    printf("ops_per_s %.1f cpu_ns_per_op %.2f\n", ops * 1e9 / (double)wall, (double)cpu / ops);
    return 0;
}

/* ---- spin ---- */

static volatile uint64_t spin_sink;

static __attribute__((noinline)) uint64_t spin_step(uint64_t x)
{
    for (int i = 0; i < 100; i++)
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    __asm__ volatile("" ::: "memory");
    return x;
}

static void *spin_main(void *arg)
{
    struct worker *w = arg;
    uint64_t x = (uint64_t)(uintptr_t)w;
    pthread_barrier_wait(w->start);
    for (long i = 0; i < w->iters; i++)
        x = spin_step(x);
    spin_sink = x;
    return NULL;
}

static int run_spin(long threads, long iters)
{
    uint64_t wall, cpu;
    if (run_workers(threads, iters, spin_main, &wall, &cpu) != 0)
        return 1;
    double ops = (double)threads * (double)iters;
    printf("ns_per_op %.4f cpu_ns_per_op %.4f\n", (double)wall / ops, (double)cpu / ops);
    return 0;
}

/* ---- provider ---- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_mutex uncontended mutex|rdlock|wrlock|sem ITERS\n"
                    "       bench_mutex uncontended-bg ITERS\n"
                    "       bench_mutex contended THREADS ITERS\n"
                    "       bench_mutex spin THREADS ITERS\n"
                    "       bench_mutex provider [SYMBOL]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bench_name = "bench_mutex";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && !strcmp(argv[1], "uncontended"))
        return run_uncontended(argv[2], parse_count(argv[3], "ITERS"));
    if (argc == 3 && !strcmp(argv[1], "uncontended-bg"))
        return run_uncontended_bg(parse_count(argv[2], "ITERS"));
    if (argc == 4 && !strcmp(argv[1], "contended"))
        return run_contended(parse_count(argv[2], "THREADS"), parse_count(argv[3], "ITERS"));
    if (argc == 4 && !strcmp(argv[1], "spin"))
        return run_spin(parse_count(argv[2], "THREADS"), parse_count(argv[3], "ITERS"));
    if ((argc == 2 || argc == 3) && !strcmp(argv[1], "provider"))
        return bench_provider(argc == 3 ? argv[2] : "pthread_mutex_lock");
    usage();
    return 2;
}
