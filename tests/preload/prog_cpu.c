/*
 * prog_cpu — CPU-bound work for the CPU profile's tests (tests/preload/cpu.t). It measures its
 * own CPU time (CLOCK_THREAD_CPUTIME_ID around each function, CLOCK_PROCESS_CPUTIME_ID at the
 * end) and prints "measure KEY VALUE" lines.
 *
 *   burn MS          two threads started now: cpu_burn_a burns 3 × MS ms of its thread's CPU
 *                    time, cpu_burn_b MS ms (measure a, b, process: ns)
 *   early MS PATH    a thread burning MS ms in cpu_burn_early, started before PATH (the library,
 *                    with LOCKPROF_CPU_HZ in the environment) is loaded with dlopen; main
 *                    burns MS ms in cpu_burn_a after (measure early, a)
 *   churn N MS       N short threads one after another, each burning about MS ms in
 *                    cpu_burn_b and ending with its timer armed, while main burns in cpu_burn_a
 *                    (measure threads, timers: the POSIX timers left at the end, from
 *                    /proc/self/timers, once their count has settled)
 *   syscalls N       N rounds, in each of two threads, of: burn about 1 ms, then a read of a
 *                    pipe that holds data, an epoll_wait of 1 ms on an empty pipe, a nanosleep
 *                    of 200 us; the results are printed (the same with or without lockprof),
 *                    and the EINTRs, which a program retries (measure eintr_read, eintr_epoll,
 *                    eintr_nanosleep)
 *   own MS           installs a SIGPROF handler of its own and an ITIMER_PROF, burns MS ms in
 *                    cpu_burn_a; prints how many signals its handler got, and how many were not
 *                    its timer's (measure own, foreign)
 *   fork MS          burns MS ms in cpu_burn_a, forks a child that burns 2 × MS ms in
 *                    cpu_burn_child and exits, waits for it, burns MS ms more (measure a,
 *                    child, child_pid)
 *   forkonly MS      forks a child that burns MS ms in cpu_burn_child and exits; the parent
 *                    (one thread, as the child) only waits for it (measure child, child_pid)
 *   exec N MS        N times: forks a child that burns MS ms in cpu_burn_b then execs this
 *                    program ("plain MS") with LD_PRELOAD taken out of its environment; prints
 *                    how many children died of a signal (measure killed)
 *   plain MS         burns MS ms (what exec runs)
 *   sigwait MS       as a daemon that takes its signals with sigwait: blocks every signal,
 *                    burns MS ms, then sigtimedwait (200 ms) on every signal, then sigwait after
 *                    raising SIGUSR1, then sigwaitinfo after raising SIGUSR2, then sigtimedwait
 *                    with no timeout after raising SIGWINCH; prints what each returned
 *   signalfd MS      as a daemon that takes its signals from a signalfd: blocks every signal,
 *                    burns MS ms, opens a non-blocking signalfd on every signal (says so at
 *                    once: "signalfd: made"), raises SIGUSR1,
 *                    burns MS ms more, raises SIGUSR2, then prints each signal it reads, until
 *                    the descriptor has none left
 *   phases S         for S seconds burns in cpu_burn_a, 2 ms at a time, at the bottom of a
 *                    descent 6 levels deep through cpu_left and cpu_right that spells a
 *                    path in binary: in each half second (number k) paths 4k … 4k+3 in turn;
 *                    so the stacks sampled in one second are few, and those of a run many
 *   freed N          starts N detached threads, each of which first frees the memory its
 *                    pthread_t was stored in; prints "freed: done"
 *   restart N        sends N SIGPROFs made to look like lockprof's timers' (si_code SI_TIMER,
 *                    its cookie: rt_tgsigqueueinfo lets a process send itself those) to a thread
 *                    blocked in a read of an empty pipe, then writes a byte to it; prints what
 *                    the read returned, and whether errno was the same after such a SIGPROF it
 *                    sent itself. Only under lockprof: without a handler, SIGPROF ends the
 *                    process
 *   foreign MS       burns MS ms in cpu_burn_a, then sends itself a plain SIGPROF (kill), which
 *                    ends it (the default action); prints "survived" if it does not
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "progutil.h"

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t process_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static volatile uint64_t sink;

/* Burns ms of the calling thread's CPU time; returns what it measured itself, from entry to
 * return. Arithmetic between the clock reads, in this function's own frame. */
#define BURNER(name)                                                                          \
    static __attribute__((noinline)) uint64_t name(uint64_t ms)                               \
    {                                                                                          \
        uint64_t t0 = thread_cpu_ns(), x = sink + 1;                                          \
        while (thread_cpu_ns() - t0 < ms * 1000000u)                                          \
            for (int i = 0; i < 2000; i++)                                                    \
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;                      \
        sink = x;                                                                              \
        uint64_t used = thread_cpu_ns() - t0;                                                 \
        __asm__ volatile("" ::: "memory");                                                    \
        return used;                                                                           \
    }
BURNER(cpu_burn_a)
BURNER(cpu_burn_b)
BURNER(cpu_burn_early)
BURNER(cpu_burn_child)

struct burn {
    uint64_t (*fn)(uint64_t);
    uint64_t ms, used;
};

static void *burn_thread(void *arg)
{
    struct burn *b = arg;
    b->used = b->fn(b->ms);
    return NULL;
}

static void start(pthread_t *t, struct burn *b)
{
    if (pthread_create(t, NULL, burn_thread, b) != 0)
        die("pthread_create");
}

static int mode_burn(uint64_t ms)
{
    struct burn a = { cpu_burn_a, 3 * ms, 0 }, b = { cpu_burn_b, ms, 0 };
    pthread_t ta, tb;
    start(&ta, &a);
    start(&tb, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    measure("a", a.used);
    measure("b", b.used);
    measure("process", process_cpu_ns());
    return 0;
}

static int mode_early(uint64_t ms, const char *lib)
{
    struct burn e = { cpu_burn_early, ms, 0 };
    pthread_t te;
    start(&te, &e);
    void *h = dlopen(lib, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 99;
    }
    uint64_t a = cpu_burn_a(ms);
    pthread_join(te, NULL);
    measure("early", e.used);
    measure("a", a);
    return 0;
}

static int count_timers(void)
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

struct churn {
    int n;
    uint64_t ms;
    int done;
};

static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    for (int i = 0; i < c->n; i++) {
        struct burn b = { cpu_burn_b, c->ms, 0 };
        pthread_t t;
        start(&t, &b);
        pthread_join(t, NULL);
    }
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int mode_churn(int n, uint64_t ms)
{
    struct churn c = { n, ms, 0 };
    pthread_t t;
    if (pthread_create(&t, NULL, churn_thread, &c) != 0)
        die("pthread_create");
    while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
        cpu_burn_a(5);
    pthread_join(t, NULL);
    /* The timers once they have settled: a sweep that the last thread asked for is made by
     * lockprof's thread, a moment later (unchanged for 200 ms, 3 s at most). */
    int timers = count_timers(), same = 0;
    for (int i = 0; i < 300 && same < 20; i++) {
        struct timespec tick = { 0, 10000000 };
        nanosleep(&tick, NULL);
        int now = count_timers();
        same = now == timers ? same + 1 : 0;
        timers = now;
    }
    measure("threads", (uint64_t)n);
    measure("timers", (uint64_t)timers);
    return 0;
}

/* ---- system calls under the profile's signal ---- */

struct sys_round {
    int rounds;
    uint64_t bytes, epoll_zero, slept;
    uint64_t eintr_read, eintr_epoll, eintr_nanosleep;
};

static void *sys_thread(void *arg)
{
    struct sys_round *r = arg;
    int data[2], empty[2];
    if (pipe(data) != 0 || pipe(empty) != 0)
        die("pipe");
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN };
    epoll_ctl(ep, EPOLL_CTL_ADD, empty[0], &ev);
    char buf[64];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < r->rounds; i++) {
        cpu_burn_b(1);
        if (write(data[1], buf, sizeof buf) != (ssize_t)sizeof buf)
            die("write");
        ssize_t got;
        while ((got = read(data[0], buf, sizeof buf)) < 0 && errno == EINTR)
            r->eintr_read++;
        r->bytes += (uint64_t)got;
        struct epoll_event out;
        int n;
        while ((n = epoll_wait(ep, &out, 1, 1)) < 0 && errno == EINTR)
            r->eintr_epoll++; /* (a program retries, here with the whole timeout again) */
        r->epoll_zero += n == 0;
        struct timespec ts = { 0, 200000 }, left;
        while (nanosleep(&ts, &left) != 0 && errno == EINTR) {
            r->eintr_nanosleep++;
            ts = left;
        }
        r->slept++;
    }
    return NULL;
}

static int mode_syscalls(int rounds)
{
    struct sys_round r[2];
    pthread_t t[2];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 2; i++) {
        r[i].rounds = rounds;
        if (pthread_create(&t[i], NULL, sys_thread, &r[i]) != 0)
            die("pthread_create");
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++)
        printf("thread %d: read %llu bytes, %llu epoll_waits timed out, %llu sleeps\n", i,
               (unsigned long long)r[i].bytes, (unsigned long long)r[i].epoll_zero,
               (unsigned long long)r[i].slept);
    measure("eintr_read", r[0].eintr_read + r[1].eintr_read);
    measure("eintr_epoll", r[0].eintr_epoll + r[1].eintr_epoll);
    measure("eintr_nanosleep", r[0].eintr_nanosleep + r[1].eintr_nanosleep);
    return 0;
}

/* ---- a program that uses SIGPROF itself ---- */

static volatile uint64_t own_signals, foreign_signals;

static void own_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (si->si_code == SI_KERNEL) /* setitimer's */
        own_signals++;
    else
        foreign_signals++;
}

static int mode_own(uint64_t ms)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = own_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPROF, &sa, NULL) != 0)
        die("sigaction");
    struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
    setitimer(ITIMER_PROF, &it, NULL);
    cpu_burn_a(ms);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_PROF, &off, NULL);
    struct sigaction now;
    sigaction(SIGPROF, NULL, &now);
    printf("handler kept: %s\n", (now.sa_flags & SA_SIGINFO) && now.sa_sigaction == own_handler
                                     ? "yes" : "no");
    measure("own", own_signals);
    measure("foreign", foreign_signals);
    return 0;
}

/* ---- fork and exec ---- */

static int mode_fork(uint64_t ms)
{
    uint64_t a = cpu_burn_a(ms);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        uint64_t c = cpu_burn_child(2 * ms);
        printf("measure child %llu\n", (unsigned long long)c);
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    a += cpu_burn_a(ms);
    measure("a", a);
    measure("child_pid", (uint64_t)pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 98;
}

static int mode_forkonly(uint64_t ms)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        uint64_t c = cpu_burn_child(ms);
        printf("measure child %llu\n", (unsigned long long)c);
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    measure("child_pid", (uint64_t)pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 98;
}

static int mode_exec(const char *self, int n, uint64_t ms)
{
    /* The new image's environment: this one without LD_PRELOAD. */
    extern char **environ;
    size_t k = 0;
    while (environ[k])
        k++;
    char **env = calloc(k + 1, sizeof *env);
    size_t j = 0;
    for (size_t i = 0; i < k; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            env[j++] = environ[i];
    char arg[24];
    snprintf(arg, sizeof arg, "%llu", (unsigned long long)(2 * ms));
    int killed = 0;
    for (int i = 0; i < n; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            cpu_burn_b(ms);
            char *argv[] = { (char *)self, "plain", arg, NULL };
            execve(self, argv, env);
            _exit(127);
        }
        int status;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) {
            killed++;
            fprintf(stderr, "child %d died of signal %d\n", i, WTERMSIG(status));
        } else if (WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child %d exited %d\n", i, WEXITSTATUS(status));
        }
    }
    measure("killed", (uint64_t)killed);
    return 0;
}

/* ---- a daemon that takes its signals with sigwait ---- */

static int mode_sigwait(uint64_t ms)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    cpu_burn_a(ms);
    siginfo_t si;
    struct timespec ts = { 0, 200000000 };
    int sig = sigtimedwait(&all, &si, &ts);
    printf("sigtimedwait: %s\n", sig > 0 ? sigabbrev_np(sig) : strerror(errno));
    raise(SIGUSR1);
    int got = 0, rc = sigwait(&all, &got);
    printf("sigwait: %s\n", rc == 0 ? sigabbrev_np(got) : strerror(rc));
    cpu_burn_a(ms);
    raise(SIGUSR2);
    sig = sigwaitinfo(&all, &si);
    printf("sigwaitinfo: %s\n", sig > 0 ? sigabbrev_np(sig) : strerror(errno));
    cpu_burn_a(ms);
    raise(SIGWINCH);
    sig = sigtimedwait(&all, &si, NULL); /* no timeout: waits as sigwaitinfo does */
    printf("sigtimedwait(NULL): %s\n", sig > 0 ? sigabbrev_np(sig) : strerror(errno));
    return 0;
}

static int mode_signalfd(uint64_t ms)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    cpu_burn_a(ms);
    int fd = signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        die("signalfd");
    printf("signalfd: made\n");
    fflush(stdout);
    raise(SIGUSR1);
    cpu_burn_a(ms);
    raise(SIGUSR2);
    struct signalfd_siginfo si;
    ssize_t n;
    while ((n = read(fd, &si, sizeof si)) == (ssize_t)sizeof si)
        printf("signalfd: %s\n", sigabbrev_np((int)si.ssi_signo));
    printf("signalfd: then %s\n", n < 0 ? strerror(errno) : "a short read");
    return 0;
}

static void cpu_descend(unsigned path, int level);

/* The two ways down: a stack spells its path in binary. */
static __attribute__((noinline)) void cpu_left(unsigned path, int level)
{
    cpu_descend(path, level);
    __asm__ volatile("" ::: "memory"); /* (no tail call: every level keeps its frame) */
}

static __attribute__((noinline)) void cpu_right(unsigned path, int level)
{
    cpu_descend(path, level);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void cpu_descend(unsigned path, int level)
{
    if (level == 0)
        cpu_burn_a(2);
    else if (path & 1)
        cpu_right(path >> 1, level - 1);
    else
        cpu_left(path >> 1, level - 1);
    __asm__ volatile("" ::: "memory");
}

static int mode_phases(uint64_t seconds)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0;; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t ms = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= (int64_t)seconds * 1000)
            return 0;
        cpu_descend((unsigned)(ms / 500) * 4 + i % 4, 6);
    }
}

/* ---- threads that free the memory their pthread_t was stored in ---- */

struct freed_job {
    pthread_t tid;
    long pad[3];
};

static void *freed_worker(void *arg)
{
    free(arg); /* the creator's pthread_create may not have returned yet */
    return NULL;
}

static int mode_freed(unsigned n)
{
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (unsigned i = 0; i < n; i++) {
        struct freed_job *j = malloc(sizeof *j);
        if (!j)
            die("malloc");
        if (pthread_create(&j->tid, &at, freed_worker, j) != 0) {
            free(j);
            sched_yield();
        }
    }
    puts("freed: done");
    return 0;
}

/* ---- a signal that interrupts a blocked read (the handler's SA_RESTART) ---- */

static int restart_fds[2];
static int restart_tid, restart_done;

static void *restart_reader(void *arg)
{
    (void)arg;
    __atomic_store_n(&restart_tid, thread_id(), __ATOMIC_RELEASE);
    char c;
    ssize_t n = read(restart_fds[0], &c, 1);
    int err = errno;
    printf("read returned %zd%s%s\n", n, n < 0 ? ": " : "", n < 0 ? strerror(err) : "");
    __atomic_store_n(&restart_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A SIGPROF as lockprof's timers send it (cputimer.h's cookie, 0x6c707266), to thread tid. */
static void timer_like_sigprof(int tid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGPROF;
    si.si_code = SI_TIMER;
    si.si_value.sival_int = 0x6c707266;
    syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, SIGPROF, &si);
}

static int mode_foreign(uint64_t ms)
{
    measure("a", cpu_burn_a(ms));
    fflush(stdout);
    kill(getpid(), SIGPROF);
    printf("survived\n");
    return 0;
}

static int mode_restart(int n)
{
    if (pipe(restart_fds) != 0)
        die("pipe");
    pthread_t t;
    if (pthread_create(&t, NULL, restart_reader, NULL) != 0)
        die("pthread_create");
    await_at_least(&restart_tid, 1);
    for (int i = 0; i < n && !__atomic_load_n(&restart_done, __ATOMIC_ACQUIRE); i++) {
        while (!thread_sleeping(restart_tid) && !__atomic_load_n(&restart_done, __ATOMIC_ACQUIRE))
            sleep_ms(1);
        timer_like_sigprof(restart_tid);
        sleep_ms(2);
    }
    if (write(restart_fds[1], "x", 1) != 1)
        die("write");
    pthread_join(t, NULL);
    fflush(stdout);
    errno = 4242;
    timer_like_sigprof(thread_id());
    int after = errno; /* (delivered before the system call returned) */
    printf("errno after a SIGPROF: %s\n", after == 4242 ? "unchanged" : strerror(after));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "burn") == 0)
        return mode_burn(strtoull(argv[2], NULL, 10));
    if (argc >= 4 && strcmp(argv[1], "early") == 0)
        return mode_early(strtoull(argv[2], NULL, 10), argv[3]);
    if (argc >= 4 && strcmp(argv[1], "churn") == 0)
        return mode_churn(atoi(argv[2]), strtoull(argv[3], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "syscalls") == 0)
        return mode_syscalls(atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "own") == 0)
        return mode_own(strtoull(argv[2], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "fork") == 0)
        return mode_fork(strtoull(argv[2], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "foreign") == 0)
        return mode_foreign(strtoull(argv[2], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "forkonly") == 0)
        return mode_forkonly(strtoull(argv[2], NULL, 10));
    if (argc >= 4 && strcmp(argv[1], "exec") == 0)
        return mode_exec(argv[0], atoi(argv[2]), strtoull(argv[3], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "sigwait") == 0)
        return mode_sigwait(strtoull(argv[2], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "phases") == 0)
        return mode_phases(strtoull(argv[2], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "signalfd") == 0)
        return mode_signalfd(strtoull(argv[2], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "freed") == 0)
        return mode_freed((unsigned)strtoul(argv[2], NULL, 10));
    if (argc >= 3 && strcmp(argv[1], "restart") == 0)
        return mode_restart(atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "plain") == 0) {
        cpu_burn_a(strtoull(argv[2], NULL, 10));
        return 0;
    }
    fprintf(stderr, "usage: prog_cpu burn|early|churn|syscalls|own|fork|exec|plain|sigwait|signalfd|phases|"
            "restart ...\n");
    return 2;
}
