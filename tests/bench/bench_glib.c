/*
 * bench_glib.c — GLib's GMutex and GCond ping-pong for `make bench` (DESIGN §9); driven by
 * tests/bench/run. The twin of `bench_io condpp` (bench_io.c) on GLib's locks, which block
 * through libc's syscall(SYS_futex) instead of pthread (g_cond_signal wakes with FUTEX_WAKE
 * every time, waiter or not; g_cond_wait and a contended g_mutex_lock wait with FUTEX_WAIT).
 * Built only where pkg-config finds glib-2.0 (Makefile).
 *
 *   bench_glib condpp ITERS
 *       Two threads (the main one and a GThread) alternate ITERS times through one GMutex and
 *       one GCond: each waits (g_cond_wait) until it is its turn, flips the turn and signals.
 *       Pinned to one CPU, as the twin is (bench_io.c says why).
 *       Prints: ns_per_op X cpu_ns_per_op Y   (one op = one round trip: two hand-offs; wall
 *                                              clock, and the process's user + sys time)
 *
 *   bench_glib provider [SYMBOL]
 *       Prints: provider PATH   the object that defines the SYMBOL (default syscall) this
 *                               program calls.
 *
 * Each workload prints exactly one line on stdout; diagnostics go to stderr.
 */
#include <glib.h>

#include "benchutil.h"

static long iters;
static GMutex cv_lock;
static GCond cv;
static int cv_turn; /* under cv_lock: whose turn, 0 or 1 */

static void cv_player(int me)
{
    g_mutex_lock(&cv_lock);
    for (long i = 0; i < iters; i++) {
        while (cv_turn != me)
            g_cond_wait(&cv, &cv_lock);
        cv_turn = !me;
        g_cond_signal(&cv);
    }
    g_mutex_unlock(&cv_lock);
}

static gpointer cv_other(gpointer arg)
{
    (void)arg;
    cv_player(1);
    return NULL;
}

static int run_condpp(void)
{
    if (bench_pin_one_cpu() < 0) {
        fprintf(stderr, "bench_glib: pinning to one CPU: %s\n", strerror(errno));
        return 1;
    }
    uint64_t t0 = now_ns(), c0 = cpu_ns();
    GThread *t = g_thread_new("pong", cv_other, NULL);
    cv_player(0);
    g_thread_join(t);
    bench_report(t0, c0, iters);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_glib condpp ITERS\n"
                    "       bench_glib provider [SYMBOL]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bench_name = "bench_glib";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if ((argc == 2 || argc == 3) && !strcmp(argv[1], "provider"))
        return bench_provider(argc == 3 ? argv[2] : "syscall");
    if (argc == 3 && !strcmp(argv[1], "condpp")) {
        iters = parse_count(argv[2], "ITERS");
        return run_condpp();
    }
    usage();
    return 2;
}
