/*
 * unit_cputimer — core/cputimer.c, the CPU profile's per-thread timers, on real threads: an
 * armed thread gets its signal (SI_TIMER, lockprof's cookie) after each period of its own CPU
 * time and no other thread does; a thread that ends with its timer armed leaves a dead timer
 * that the next scan deletes; a scan arms the threads without one and never lockprof's own;
 * arming twice, arming an ended thread, and arming while stopped are refused; stop deletes
 * every timer; a fork child starts with an empty table.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cputimer.h"
#include "tap.h"

#define PERIOD_NS 10000000ULL /* 100 Hz */

static int gettid_(void)
{
    return (int)syscall(SYS_gettid);
}

/* The process's POSIX timers, as the kernel lists them. */
static int timers_now(void)
{
    FILE *f = fopen("/proc/self/timers", "r");
    if (!f)
        return -1;
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strncmp(line, "ID:", 3) == 0;
    fclose(f);
    return n;
}

/* The process's threads (a sanitizer's runtime may have one of its own). */
static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static __thread int my_signals;
static volatile int bad_signals;

static void on_prof(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (si->si_code == SI_TIMER && si->si_value.sival_int == LP_CPUTIMER_COOKIE)
        my_signals += 1 + si->si_overrun;
    else
        bad_signals++;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void burn(uint64_t ns)
{
    uint64_t t0 = thread_cpu_ns();
    volatile uint64_t x = 1;
    while (thread_cpu_ns() - t0 < ns)
        x = x * 3 + 1;
}

/* A thread that waits for `go`, burns `ms`, reports its signals and ends. */
struct worker {
    int tid, go, signals;
    uint64_t ms;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    __atomic_store_n(&w->tid, gettid_(), __ATOMIC_RELEASE);
    while (!__atomic_load_n(&w->go, __ATOMIC_ACQUIRE))
        usleep(100);
    burn(w->ms * 1000000);
    w->signals = my_signals;
    return NULL;
}

static void start_worker(pthread_t *t, struct worker *w, uint64_t ms)
{
    memset(w, 0, sizeof *w);
    w->ms = ms;
    pthread_create(t, NULL, worker_main, w);
    while (!__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE))
        usleep(100);
}

int main(void)
{
    struct sigaction sa = { .sa_sigaction = on_prof, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigaction(SIGPROF, &sa, NULL);
    int base = timers_now();
    if (base < 0) {
        plan(1);
        ok(1, "# SKIP /proc/self/timers is not there");
        return 0;
    }
    ok(lp_cputimer_init(PERIOD_NS, SIGPROF, 64) == 0, "init");
    is_i64(lp_cputimer_arm(gettid_()), -ECANCELED, "arming is off until resumed");
    lp_cputimer_resume();

    /* One armed thread, one not: 300 ms of CPU each. */
    pthread_t ta, tb;
    struct worker a, b;
    start_worker(&ta, &a, 300);
    start_worker(&tb, &b, 300);
    is_i64(lp_cputimer_arm(a.tid), 0, "a thread is armed");
    is_i64(lp_cputimer_arm(a.tid), -EEXIST, "twice: refused (-EEXIST)");
    is_i64(timers_now(), base + 1, "one timer in the kernel's list");
    __atomic_store_n(&a.go, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&b.go, 1, __ATOMIC_RELEASE);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ok(a.signals >= 28 && a.signals <= 32, "the armed thread: 300 ms at 100 Hz, 30 periods "
       "signalled (%d)", a.signals);
    is_i64(b.signals, 0, "the other thread: none");
    is_i64(bad_signals, 0, "no signal without the cookie");

    /* The armed thread has ended: its timer is dead, still listed, until a scan. */
    is_i64(timers_now(), base + 1, "a thread that ended armed leaves its timer");
    struct lp_cputimer_stats st;
    ok(lp_cputimer_scan() == 0, "a scan of /proc/self/task");
    lp_cputimer_stats(&st);
    is_u64(st.deleted, 1, "the scan deleted the ended thread's timer");
    int threads = threads_now();
    is_u64(st.live, threads, "and armed the threads there are (this one)");
    is_i64(timers_now(), base + threads, "their timers");
    is_i64(lp_cputimer_arm(a.tid), -EINVAL, "an ended thread cannot be armed (-EINVAL)");
    lp_cputimer_stats(&st);
    is_u64(st.failed, 1, "... counted as a failure");

    /* lockprof's own thread: registered before it starts, never armed by a scan. */
    pthread_t to;
    struct worker o;
    lp_cputimer_own_begin();
    memset(&o, 0, sizeof o);
    pthread_create(&to, NULL, worker_main, &o);
    while (!__atomic_load_n(&o.tid, __ATOMIC_ACQUIRE))
        usleep(100);
    lp_cputimer_own_end(o.tid);
    lp_cputimer_scan();
    is_i64(lp_cputimer_arm(o.tid), -EEXIST, "a thread of lockprof's own is never armed");
    is_i64(timers_now(), base + threads, "... nor by a scan");
    __atomic_store_n(&o.go, 1, __ATOMIC_RELEASE);
    pthread_join(to, NULL);

    /* Threads that end armed, one after another: the arming that fills the table to its sweep
     * mark (64 entries) asks for a scan and makes none itself; the scan deletes their timers. */
    ok(!lp_cputimer_sweep_wanted(), "no sweep wanted after a scan");
    int ended = 0;
    for (int i = 0; i < 70; i++) {
        pthread_t tc;
        struct worker c;
        start_worker(&tc, &c, 0);
        ended += lp_cputimer_arm(c.tid) == 0;
        __atomic_store_n(&c.go, 1, __ATOMIC_RELEASE);
        pthread_join(tc, NULL);
    }
    lp_cputimer_stats(&st);
    ok(lp_cputimer_sweep_wanted(), "a table at its sweep mark wants a sweep (%d armed, %llu "
       "not: full)", ended, (unsigned long long)st.table_full);
    ok(ended >= 60 && timers_now() == base + threads + ended,
       "and arming swept nothing: the %d ended threads' timers are all there", ended);
    lp_cputimer_scan();
    ok(!lp_cputimer_sweep_wanted() && timers_now() == base + threads,
       "the scan deletes them and wants no other");

    /* A table full of live threads: a scan leaves it full, and a thread that then finds it full
     * asks for no sweep (there is nothing to delete; one per thread started would list
     * /proc/self/task for each). */
    enum { LIVE = 70 };
    static pthread_t tl[LIVE];
    static struct worker wl[LIVE];
    int full = 0;
    for (int i = 0; i < LIVE; i++) {
        start_worker(&tl[i], &wl[i], 0);
        full += lp_cputimer_arm(wl[i].tid) == -ENOSPC;
    }
    lp_cputimer_scan();
    lp_cputimer_stats(&st);
    ok(full > 0 && st.live == 64 && !lp_cputimer_sweep_wanted(),
       "a table full of live threads: the scan leaves it full (%llu) and wants no other",
       (unsigned long long)st.live);
    pthread_t tx;
    struct worker x;
    start_worker(&tx, &x, 0);
    is_i64(lp_cputimer_arm(x.tid), -ENOSPC, "one more thread finds it full");
    ok(!lp_cputimer_sweep_wanted(), "and asks for no sweep: nothing in it has ended");
    __atomic_store_n(&x.go, 1, __ATOMIC_RELEASE);
    pthread_join(tx, NULL);
    for (int i = 0; i < LIVE; i++) {
        __atomic_store_n(&wl[i].go, 1, __ATOMIC_RELEASE);
        pthread_join(tl[i], NULL);
    }
    lp_cputimer_scan();
    ok(timers_now() == base + threads, "once they end, a scan deletes their timers");

    /* A fork child: no timers of its own, an empty table, arming as it was. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        lp_cputimer_atfork_child();
        struct lp_cputimer_stats c;
        lp_cputimer_stats(&c);
        int bad = c.live != 0 || timers_now() != base;
        bad |= lp_cputimer_arm(gettid_()) != 0 || timers_now() != base + 1;
        _exit(bad);
    }
    int status;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "fork child: no timers, an empty table, and it arms its own thread");

    lp_cputimer_stop();
    is_i64(timers_now(), base, "stop deletes every timer");
    is_i64(lp_cputimer_arm(gettid_()), -ECANCELED, "and arming is off");

    /* Holds: an exec in progress, then a program that took the signal. */
    ok(lp_cputimer_resume(), "resume");
    ok(lp_cputimer_arm(gettid_()) == 0 && timers_now() == base + 1, "armed again");
    lp_cputimer_hold();
    ok(timers_now() == base && !lp_cputimer_armed(), "a hold deletes every timer");
    ok(!lp_cputimer_resume(), "no resume while an exec holds");
    lp_cputimer_hold();
    lp_cputimer_release();
    ok(!lp_cputimer_resume(), "nor while a second one does");
    pid = fork();
    if (pid == 0) {
        lp_cputimer_atfork_child();
        _exit(!lp_cputimer_resume()); /* the child: no exec holds */
    }
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a fork child has no hold of its parent's");
    lp_cputimer_release();
    ok(lp_cputimer_resume(), "resume once every hold is released");
    lp_cputimer_stop_for_good();
    ok(!lp_cputimer_resume() && timers_now() == base, "for ever: no resume, no timer");
    lp_cputimer_release();
    ok(!lp_cputimer_resume(), "whatever is released after");
    done_testing();
    return tap_failed != 0;
}
