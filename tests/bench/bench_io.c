/*
 * bench_io.c — condition-variable, pipe, file and socket workloads for `make bench`
 * (DESIGN §9). Driven by tests/bench/run.
 *
 *   bench_io condpp ITERS
 *       Two threads alternate ITERS times through one mutex and one condition variable: each
 *       waits (pthread_cond_wait) until it is its turn, flips the turn and signals. Every
 *       hand-off is a wait and a release with a waiter: the profiled path of both profiles.
 *   bench_io pipepp ITERS
 *       Two threads bounce a byte over two pipes ITERS times (write, then a read that blocks
 *       until the other side answers): every read is a wait on a pipe.
 *   bench_io fileread ITERS
 *       ITERS × {lseek to 0; read 4 KiB} of a 4 KiB regular file (page cache), one thread while
 *       a second sleeps. Regular files are not in the default LOCKPROF_IO: the cost of
 *       the wrapper's "not profiled" path.
 *   bench_io sockread ITERS
 *       ITERS × {write 64 bytes; read 64 bytes} on a socketpair, one thread while a second
 *       sleeps: the same for sockets.
 *   bench_io gettid ITERS
 *       ITERS x syscall(SYS_gettid), one thread while a second sleeps: a call through libc's
 *       syscall() that is not a futex call, which lockprof passes on untouched (its entry
 *       jumps to glibc's syscall); what that costs over a bare pass-through. Timed in blocks
 *       of 16 calls (each block's time includes one clock read, the same in every
 *       configuration). Prints ns_per_op (the median block's time per call: what the calls
 *       cost where no tick or preemption hit them), mean_ns_per_op (the whole loop's wall time
 *       per call) and cpu_ns_per_op, instead of the line below.
 *   Both ping-pongs run on one CPU (the highest-numbered one the process may use): across
 *   CPUs, a round trip on these machines takes 6 to 35 µs from run to run depending on where
 *   the scheduler puts the two threads (measured), which drowns any profiler's cost; on one
 *   CPU every cost is on the critical path, the worst case for the ratio.
 *   The sleeping second thread matters: glibc's cancellation points take a cheaper path while
 *   a process has a single thread, and lockprof's own thread ends that; programs worth
 *   profiling have several threads (bench_mutex.c measured the same effect on locks).
 *
 *   Prints: ns_per_op X cpu_ns_per_op Y
 *     one op = one round trip (condpp, pipepp: two hand-offs), one lseek + read (fileread),
 *     one write + read (sockread); wall clock over the timed loop, and the process's CPU time
 *     (user + sys, getrusage(RUSAGE_SELF)) over the same loop.
 *
 *   bench_io provider [SYMBOL]
 *       Prints: provider PATH   the object that defines the SYMBOL (default read) this
 *                               program calls.
 *
 * Each workload prints exactly one line on stdout; diagnostics go to stderr.
 */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

static void fail(const char *what)
{
    fprintf(stderr, "bench_io: %s: %s\n", what, strerror(errno));
    exit(1);
}

static long iters;

static void pin_one_cpu(void)
{
    if (bench_pin_one_cpu() < 0)
        fail("pinning to one CPU");
}

/* ---- condpp ---- */

static pthread_mutex_t cv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cv_turn; /* under cv_lock: whose turn, 0 or 1 */

static void cv_player(int me)
{
    pthread_mutex_lock(&cv_lock);
    for (long i = 0; i < iters; i++) {
        while (cv_turn != me)
            pthread_cond_wait(&cv, &cv_lock);
        cv_turn = !me;
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&cv_lock);
}

static void *cv_other(void *arg)
{
    (void)arg;
    cv_player(1);
    return NULL;
}

static int run_condpp(void)
{
    pthread_t t;
    pin_one_cpu();
    uint64_t t0 = now_ns(), c0 = cpu_ns();
    if (pthread_create(&t, NULL, cv_other, NULL))
        fail("pthread_create");
    cv_player(0);
    pthread_join(t, NULL);
    bench_report(t0, c0, iters);
    return 0;
}

/* ---- pipepp ---- */

static int ping[2], pong[2];

static void *pipe_other(void *arg)
{
    (void)arg;
    char c;
    for (long i = 0; i < iters; i++) {
        if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
            fail("pipe pong");
    }
    return NULL;
}

static int run_pipepp(void)
{
    pthread_t t;
    char c = 'x';
    pin_one_cpu();
    if (pipe(ping) < 0 || pipe(pong) < 0)
        fail("pipe");
    uint64_t t0 = now_ns(), c0 = cpu_ns();
    if (pthread_create(&t, NULL, pipe_other, NULL))
        fail("pthread_create");
    for (long i = 0; i < iters; i++) {
        if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
            fail("pipe ping");
    }
    pthread_join(t, NULL);
    bench_report(t0, c0, iters);
    return 0;
}

/* ---- fileread, sockread ---- */

static void start_sleeper(void)
{
    if (bench_start_sleeper() != 0)
        fail("pthread_create");
}

static int run_fileread(void)
{
    static char buf[4096];
    char path[] = "/tmp/lockprof-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf)
        fail("temporary file");
    unlink(path);
    start_sleeper();
    for (long i = 0; i < iters / 20; i++) /* warm-up */
        if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, sizeof buf) != sizeof buf)
            fail("read");
    uint64_t t0 = now_ns(), c0 = cpu_ns();
    for (long i = 0; i < iters; i++)
        if (lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, sizeof buf) != sizeof buf)
            fail("read");
    bench_report(t0, c0, iters);
    return 0;
}

static int run_sockread(void)
{
    char buf[64] = { 0 };
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0)
        fail("socketpair");
    start_sleeper();
    for (long i = 0; i < iters / 20; i++)
        if (write(s[1], buf, sizeof buf) != sizeof buf || read(s[0], buf, sizeof buf) != sizeof buf)
            fail("socket");
    uint64_t t0 = now_ns(), c0 = cpu_ns();
    for (long i = 0; i < iters; i++)
        if (write(s[1], buf, sizeof buf) != sizeof buf || read(s[0], buf, sizeof buf) != sizeof buf)
            fail("socket");
    bench_report(t0, c0, iters);
    return 0;
}

/* ---- gettid ---- */

#define GETTID_BLOCK 16

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A call takes about a microsecond on a virtual machine, where a timer tick or a preemption by
 * another process adds tens of microseconds to the call it hits: the mean of a loop moves by
 * 10-30 % from run to run with them (measured), the median of short blocks by 3 %. */
static int run_gettid(void)
{
    long blocks = iters / GETTID_BLOCK;
    if (blocks < 1)
        blocks = 1;
    uint64_t *t = malloc((size_t)blocks * sizeof *t);
    if (!t)
        fail("malloc");
    start_sleeper();
    for (long i = 0; i < iters / 20; i++)
        if (syscall(SYS_gettid) <= 0)
            fail("syscall(SYS_gettid)");
    uint64_t c0 = cpu_ns(), prev = now_ns(), t0 = prev;
    for (long b = 0; b < blocks; b++) {
        for (int i = 0; i < GETTID_BLOCK; i++)
            if (syscall(SYS_gettid) <= 0)
                fail("syscall(SYS_gettid)");
        uint64_t now = now_ns();
        t[b] = now - prev;
        prev = now;
    }
    uint64_t t1 = prev, c1 = cpu_ns();
    qsort(t, (size_t)blocks, sizeof *t, cmp_u64);
    double ops = (double)blocks * GETTID_BLOCK;
    printf("ns_per_op %.2f mean_ns_per_op %.2f cpu_ns_per_op %.2f\n",
           (double)t[blocks / 2] / GETTID_BLOCK, (double)(t1 - t0) / ops, (double)(c1 - c0) / ops);
    free(t);
    return 0;
}

/* ---- provider ---- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_io condpp|pipepp|fileread|sockread|gettid ITERS\n"
                    "       bench_io provider [SYMBOL]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bench_name = "bench_io";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if ((argc == 2 || argc == 3) && !strcmp(argv[1], "provider"))
        return bench_provider(argc == 3 ? argv[2] : "read");
    if (argc != 3)
        usage();
    iters = parse_count(argv[2], "ITERS");
    if (!strcmp(argv[1], "condpp"))
        return run_condpp();
    if (!strcmp(argv[1], "pipepp"))
        return run_pipepp();
    if (!strcmp(argv[1], "fileread"))
        return run_fileread();
    if (!strcmp(argv[1], "sockread"))
        return run_sockread();
    if (!strcmp(argv[1], "gettid"))
        return run_gettid();
    usage();
    return 2;
}
