/*
 * prog_scale — memory and scale: many threads, many locks, many stacks.
 *
 * Plain pthreads; it knows nothing of lockprof except that, when lockprof_write_profile is
 * found with dlsym (include/lockprof.h), it times profile writes. The same binary is run with
 * and without the preload, and the tests subtract: what lockprof adds is the difference of
 * the figures printed at the same point of the two runs. Every figure is a "measure KEY N"
 * line (sizes in KiB, times in ns).
 *
 *   prog_scale [-t THREADS] [-l LOCKS] [-s STACKS] [-k STACK_KIB] [-d TOUCH_KIB] [-o FILE] MODE
 *
 *   threads  THREADS threads (default 10000, stacks of STACK_KIB = 64 KiB) each block once on
 *            a mutex of its own that the main thread holds (released once glibc has marked it
 *            contended: the thread is inside the real lock call), then stay alive in
 *            sigwaitinfo (not interposed: nothing more is recorded) to the end:
 *            threads_created, rss_threads_kib, stack_resident_kib (what mincore finds of the
 *            threads' stack mappings: their stacks, TCBs and static TLS). With -d, each thread
 *            first uses TOUCH_KIB of its stack and returns, as a thread that has done some work
 *            before it waits has, so that lockprof's own use of the stack below the wait's
 *            caller lands on pages the thread has touched already
 *   locks    LOCKS distinct mutexes (default 1,000,000), each contended exactly once: a
 *            holder locks a batch, LOCKS_WAITERS threads each block on their share of it in
 *            turn, and the holder releases each once glibc has marked it contended;
 *            locks_contended, rss_locks_kib
 *   stacks   STACKS distinct stacks (default 100,000): a branching call chain (one of ten
 *            functions at each of ceil(log10 STACKS) levels) ends in a contended lock, held by
 *            a holder thread until the walker blocks on it; stacks_waits, rss_stacks_kib.
 *            Then the block profile is written three times to /dev/null (or FILE), timed:
 *            cold, warm, and while two recorder threads keep recording events (below);
 *            write_{cold,warm,busy}_ns (wall), write_*_cpu_ns (the writing thread's CPU)
 *   all      the three in one process, in that order, the threads staying alive to the end
 *            (the scale test's scenario); the RSS after each phase
 *
 * Every wait and every charge of the program is one of those counted: each helper thread is
 * detached (no pthread_join, which may wait) and reports its end on a raw futex, so a test
 * can check the profiles' totals exactly (block: threads + locks + stacks + rec_waits).
 *
 * The recorders: each holds a normal mutex of its own and calls pthread_mutex_timedlock on it
 * with a deadline before the epoch: a relock of a normal mutex times out, and glibc (2.36)
 * returns ETIMEDOUT at once, with no system call — a contended acquisition that timed out, a
 * wait recorded with its stack. Every REC_BURST of them, it releases the mutex and takes it
 * back: a release that pays what the expired waits left pending, a charge recorded after the
 * unlock. Neither call blocks on anything of the program's (the two recorders share nothing),
 * so their duration is lockprof's path, plus a futex wake for the unlock. Each is timed, and
 * getrusage(RUSAGE_THREAD) tells whether the thread was preempted (involuntary switch) or
 * slept (voluntary switch) during it. A quiet window before and after the busy write is the
 * control: rec_{quiet,write}_{calls,slept,over50,over50_preempted,over50_slept,max_ns,
 * max_unpreempted_ns}, rec_write_window_ns, rec_quiet_window_ns; rec_waits, rec_releases
 * (and rec_acquired, timed locks that did not time out: 0). Their stacks go through a
 * 3-level chain too (1,000 stacks), so new stacks are inserted while the profile is written.
 *
 * Exit status 0; 77 when the system refused a thread (EAGAIN: a limit of the environment),
 * with the limits that may have been hit on stderr; 99 on any other failure.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "lockprof.h"
#include "progutil.h"

#define LOCKS_WAITERS 2
#define LOCKS_BATCH 4096
#define LOCKS_SPIN 1024   /* pauses before the holder gives its CPU away */
#define RECORDERS 2
#define REC_BURST 8       /* expired waits per recorder between two releases */
#define REC_WINDOW_MS 150 /* each quiet window, before and after the busy write */

static int opt_threads = 10000, opt_locks = 1000000, opt_stacks = 100000, opt_stack_kib = 64;
static int opt_touch_kib;
static const char *opt_out = "/dev/null";

/* ---- small tools ---------------------------------------------------------------------- */

/* Raw futex waits and wakes, made with the syscall instruction (out of any preload's reach,
 * where libc's syscall() is lockprof's), so waiting here records nothing. */
static long futex_raw(int *word, int op, int val)
{
    long ret;
    register long r10 __asm__("r10") = 0;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"((long)SYS_futex), "D"(word), "S"((long)op), "d"((long)val), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

static void futex_wait(int *word, int val)
{
    futex_raw(word, FUTEX_WAIT_PRIVATE, val);
}

static void futex_wake_all(int *word)
{
    futex_raw(word, FUTEX_WAKE_PRIVATE, INT_MAX);
}

static void wait_until_at_least(int *word, int want)
{
    int v;
    while ((v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) < want)
        futex_wait(word, v);
}

static void publish(int *word, int v)
{
    __atomic_store_n(word, v, __ATOMIC_RELEASE);
    futex_wake_all(word);
}

static void count_up(int *word)
{
    __atomic_fetch_add(word, 1, __ATOMIC_ACQ_REL);
    futex_wake_all(word);
}

/* glibc's lock word of a normal mutex: 0 free, 1 locked, 2 locked and a waiter is inside the
 * real lock call (it stores 2 before it sleeps). The ABI-public field lockprof peeks at. */
static int lock_word(pthread_mutex_t *m)
{
    return __atomic_load_n(&m->__data.__lock, __ATOMIC_ACQUIRE);
}

/* Returns once a waiter is inside the real lock call on m, which the caller holds. */
static void await_contended(pthread_mutex_t *m)
{
    while (lock_word(m) != 2)
        sched_yield();
}

static void print_memory(const char *phase)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        die("/proc/self/status");
    char line[256];
    unsigned long long v;
    while (fgets(line, sizeof line, f)) {
        char key[64];
        if (sscanf(line, "VmRSS: %llu", &v) == 1)
            snprintf(key, sizeof key, "rss_%s_kib", phase);
        else if (sscanf(line, "VmHWM: %llu", &v) == 1)
            snprintf(key, sizeof key, "hwm_%s_kib", phase);
        else if (sscanf(line, "RssAnon: %llu", &v) == 1)
            snprintf(key, sizeof key, "anon_%s_kib", phase);
        else
            continue;
        measure(key, v);
    }
    fclose(f);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A thread could not be created: name the limits that may have been hit, exit 77 (EAGAIN). */
static void refused(const char *what, int rc, int made)
{
    struct rlimit nproc;
    getrlimit(RLIMIT_NPROC, &nproc);
    fprintf(stderr, "prog_scale: %s: thread %d refused: %s (RLIMIT_NPROC %lld; see also "
            "/proc/sys/kernel/threads-max, pid_max, vm.max_map_count, the pids cgroup)\n",
            what, made + 1, strerror(rc), (long long)nproc.rlim_cur);
    exit(rc == EAGAIN ? 77 : 99);
}

/* A detached thread (nobody joins it: a join may be a wait); stack_bytes 0 is the default. */
static void spawn(const char *what, int i, void *(*fn)(void *), void *arg, size_t stack_bytes)
{
    pthread_attr_t a;
    pthread_t t;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (stack_bytes)
        pthread_attr_setstacksize(&a, stack_bytes);
    int rc = pthread_create(&t, &a, fn, arg);
    pthread_attr_destroy(&a);
    if (rc)
        refused(what, rc, i);
}

/* ---- threads: many threads, each recording one wait, alive when measured ---------------- */

struct tslot {
    pthread_mutex_t m; /* held by main until this thread is blocked on it */
    void *stack;
    size_t stack_size;
};

static struct tslot *tslots;
static int threads_recorded;

/* Uses kib KiB of stack, as a thread that has done some work before it waits has. */
static __attribute__((noinline)) void threads_touch(int kib)
{
    volatile char buf[1024];
    buf[0] = 1;
    if (kib > 1)
        threads_touch(kib - 1);
    buf[sizeof buf - 1] = buf[0];
}

static __attribute__((noinline)) void threads_wait(struct tslot *s)
{
    pthread_mutex_lock(&s->m);
    pthread_mutex_unlock(&s->m);
}

static __attribute__((noinline)) void threads_release(struct tslot *s)
{
    pthread_mutex_unlock(&s->m);
}

static void *threads_main(void *arg)
{
    struct tslot *s = arg;
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstack(&a, &s->stack, &s->stack_size);
        pthread_attr_destroy(&a);
    }
    if (opt_touch_kib)
        threads_touch(opt_touch_kib);
    threads_wait(s);
    count_up(&threads_recorded);
    /* Parked in sigwaitinfo (SIGUSR2 is blocked and never sent), not on a futex: since Linux
     * 6.16 a process's private futexes hash into a table of its own, sized by its threads and
     * CPUs (PR_FUTEX_HASH(2)), small on 2 CPUs, and 10,000 sleepers in one bucket made many
     * futex wakes of the later phases walk them all (measured on 6.18: the locks phase was
     * 13-18x slower). */
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    for (;;)
        sigwaitinfo(&usr2, NULL);
    return NULL;
}

/* KiB of the threads' stack mappings that are resident (stack pages, TCB, static TLS). */
static uint64_t threads_stack_resident_kib(void)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t pages = 0;
    unsigned char vec[4096];
    for (int i = 0; i < opt_threads; i++) {
        uintptr_t lo = (uintptr_t)tslots[i].stack & ~(uintptr_t)(page - 1);
        uintptr_t hi = (uintptr_t)tslots[i].stack + tslots[i].stack_size;
        size_t n = (hi - lo + (size_t)page - 1) / (size_t)page;
        if (!tslots[i].stack || n > sizeof vec || mincore((void *)lo, n * (size_t)page, vec))
            continue;
        for (size_t j = 0; j < n; j++)
            pages += vec[j] & 1;
    }
    return pages * (uint64_t)page / 1024;
}

static void threads_run(void)
{
    tslots = calloc((size_t)opt_threads, sizeof *tslots);
    if (!tslots)
        die("calloc");
    for (int i = 0; i < opt_threads; i++) {
        pthread_mutex_init(&tslots[i].m, NULL);
        pthread_mutex_lock(&tslots[i].m);
    }
    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, &old); /* inherited by the threads */
    uint64_t t0 = now_ns();
    for (int i = 0; i < opt_threads; i++)
        spawn("threads", i, threads_main, &tslots[i], (size_t)opt_stack_kib * 1024);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    measure("threads_created", (uint64_t)opt_threads);
    /* Each thread is released once it is inside the real lock call: every one has waited. */
    for (int i = 0; i < opt_threads; i++) {
        await_contended(&tslots[i].m);
        threads_release(&tslots[i]);
    }
    wait_until_at_least(&threads_recorded, opt_threads);
    measure("threads_waits", (uint64_t)opt_threads);
    measure("threads_phase_ns", now_ns() - t0);
    print_memory("threads");
    measure("stack_resident_kib", threads_stack_resident_kib());
}

/* ---- locks: many distinct mutexes, each contended exactly once --------------------------- */

static pthread_mutex_t *locks;
static int locks_batches_held; /* batches the holder has locked (published) */
static int locks_waiters_done;

static __attribute__((noinline)) void locks_wait(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
}

static __attribute__((noinline)) void locks_release(pthread_mutex_t *m)
{
    pthread_mutex_unlock(m);
}

/* Waiter w takes the locks w, w + W, w + 2W, … of each batch, in turn. */
static void *locks_waiter(void *arg)
{
    int w = (int)(intptr_t)arg;
    for (int b = 0; (long)b * LOCKS_BATCH < opt_locks; b++) {
        wait_until_at_least(&locks_batches_held, b + 1);
        int end = (b + 1) * LOCKS_BATCH < opt_locks ? (b + 1) * LOCKS_BATCH : opt_locks;
        for (int i = b * LOCKS_BATCH + w; i < end; i += LOCKS_WAITERS)
            locks_wait(&locks[i]);
    }
    count_up(&locks_waiters_done);
    return NULL;
}

static void locks_run(void)
{
    locks = malloc((size_t)opt_locks * sizeof *locks);
    if (!locks)
        die("malloc");
    for (int i = 0; i < opt_locks; i++)
        pthread_mutex_init(&locks[i], NULL);
    for (int w = 0; w < LOCKS_WAITERS; w++)
        spawn("locks", w, locks_waiter, (void *)(intptr_t)w, 0);
    uint64_t t0 = now_ns(), contended = 0;
    for (int b = 0; (long)b * LOCKS_BATCH < opt_locks; b++) {
        int start = b * LOCKS_BATCH;
        int end = start + LOCKS_BATCH < opt_locks ? start + LOCKS_BATCH : opt_locks;
        for (int i = start; i < end; i++)
            pthread_mutex_lock(&locks[i]);
        publish(&locks_batches_held, b + 1);
        /* Release each lock once its waiter is blocked on it, whichever waiter comes first. */
        int next[LOCKS_WAITERS], left = end - start, idle = 0;
        for (int w = 0; w < LOCKS_WAITERS; w++)
            next[w] = start + w;
        while (left > 0) {
            int progress = 0;
            for (int w = 0; w < LOCKS_WAITERS; w++)
                if (next[w] < end && lock_word(&locks[next[w]]) == 2) {
                    locks_release(&locks[next[w]]);
                    next[w] += LOCKS_WAITERS;
                    left--;
                    contended++;
                    progress = 1;
                }
            if (progress)
                idle = 0;
            else if (++idle % LOCKS_SPIN == 0)
                sched_yield();
            else
                __builtin_ia32_pause();
        }
    }
    wait_until_at_least(&locks_waiters_done, LOCKS_WAITERS);
    measure("locks_contended", contended);
    measure("locks_phase_ns", now_ns() - t0);
    print_memory("locks");
}

/* ---- stacks: many distinct stacks, each waiting once ------------------------------------- */

typedef void (*leaf_fn)(void *arg);
static volatile int step_sink;
static void level(unsigned path, int n, leaf_fn leaf, void *arg);

/* Ten different functions, so that each digit of the path is a different frame; the store
 * after the call keeps the call a call (not a tail jump) and the functions distinct. */
#define STEP(k)                                                                          \
    static __attribute__((noinline)) void step_##k(unsigned path, int n, leaf_fn leaf,   \
                                                   void *arg)                            \
    {                                                                                    \
        level(path, n, leaf, arg);                                                       \
        step_sink = k;                                                                   \
    }
STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8) STEP(9)

static __attribute__((noinline)) void level(unsigned path, int n, leaf_fn leaf, void *arg)
{
    static void (*const steps[10])(unsigned, int, leaf_fn, void *) = {
        step_0, step_1, step_2, step_3, step_4, step_5, step_6, step_7, step_8, step_9,
    };
    if (n == 0)
        leaf(arg);
    else
        steps[path % 10](path / 10, n - 1, leaf, arg);
    __asm__ volatile("" ::: "memory");
}

static pthread_mutex_t stacks_m = PTHREAD_MUTEX_INITIALIZER;
static int stacks_held, stacks_done;

/* The walker's wait: the holder holds stacks_m for this event once held == done + 1. */
static __attribute__((noinline)) void stacks_leaf(void *arg)
{
    (void)arg;
    int want = __atomic_load_n(&stacks_done, __ATOMIC_ACQUIRE) + 1;
    while (__atomic_load_n(&stacks_held, __ATOMIC_ACQUIRE) < want)
        sched_yield();
    pthread_mutex_lock(&stacks_m);
    pthread_mutex_unlock(&stacks_m);
    __atomic_store_n(&stacks_done, want, __ATOMIC_RELEASE);
}

static __attribute__((noinline)) void stacks_release(void)
{
    pthread_mutex_unlock(&stacks_m);
}

static void *stacks_holder(void *arg)
{
    (void)arg;
    for (int e = 1; e <= opt_stacks; e++) {
        pthread_mutex_lock(&stacks_m); /* free: the walker unlocked it before done moved */
        __atomic_store_n(&stacks_held, e, __ATOMIC_RELEASE);
        await_contended(&stacks_m);
        stacks_release();
        while (__atomic_load_n(&stacks_done, __ATOMIC_ACQUIRE) < e)
            sched_yield();
    }
    return NULL;
}

/* The recorders (see the header comment). */
struct rec_stats {
    uint64_t calls, slept, over50, over50_preempted, over50_slept, max_ns, max_unpreempted_ns;
};
struct recorder {
    pthread_mutex_t own;    /* a normal mutex, held by its recorder but for a moment */
    struct rec_stats st[2]; /* [0] quiet, [1] during the busy write */
    uint64_t waits, releases, acquired;
};
static struct recorder recs[RECORDERS];
static int writing, recs_stop, recs_finished;

static void rec_account(struct rec_stats *st, uint64_t ns, const struct rusage *a,
                        const struct rusage *b)
{
    long inv = b->ru_nivcsw - a->ru_nivcsw, vol = b->ru_nvcsw - a->ru_nvcsw;
    st->calls++;
    if (vol && !inv)
        st->slept++;
    if (ns > st->max_ns)
        st->max_ns = ns;
    if (!inv && ns > st->max_unpreempted_ns)
        st->max_unpreempted_ns = ns;
    if (ns > 50000) {
        st->over50++;
        if (inv)
            st->over50_preempted++;
        else if (vol)
            st->over50_slept++;
    }
}

/* One timed recording wait: an expired timed lock on the recorder's own mutex. */
static __attribute__((noinline)) void rec_leaf(void *arg)
{
    struct recorder *r = arg;
    /* Before the epoch: glibc (2.36) returns ETIMEDOUT at once, without a system call. */
    static const struct timespec past = { -1, 0 };
    struct rusage a, b;
    int w0 = __atomic_load_n(&writing, __ATOMIC_ACQUIRE);
    getrusage(RUSAGE_THREAD, &a);
    uint64_t t0 = now_ns();
    int rc = pthread_mutex_timedlock(&r->own, &past);
    uint64_t t1 = now_ns();
    getrusage(RUSAGE_THREAD, &b);
    int w1 = __atomic_load_n(&writing, __ATOMIC_ACQUIRE);
    if (rc != ETIMEDOUT) { /* cannot happen (a normal mutex relocked times out): counted */
        r->acquired++;
        return;
    }
    r->waits++;
    rec_account(&r->st[w0 | w1], t1 - t0, &a, &b);
}

/* One timed recording release: it pays what the expired waits left pending. */
static __attribute__((noinline)) void rec_release(struct recorder *r)
{
    struct rusage a, b;
    int w0 = __atomic_load_n(&writing, __ATOMIC_ACQUIRE);
    getrusage(RUSAGE_THREAD, &a);
    uint64_t t0 = now_ns();
    pthread_mutex_unlock(&r->own);
    uint64_t t1 = now_ns();
    getrusage(RUSAGE_THREAD, &b);
    int w1 = __atomic_load_n(&writing, __ATOMIC_ACQUIRE);
    r->releases++;
    rec_account(&r->st[w0 | w1], t1 - t0, &a, &b);
    pthread_mutex_lock(&r->own); /* free: nobody else uses it */
}

static void *recorder_main(void *arg)
{
    struct recorder *r = arg;
    pthread_mutex_lock(&r->own);
    for (unsigned path = 0; !__atomic_load_n(&recs_stop, __ATOMIC_ACQUIRE);) {
        for (int k = 0; k < REC_BURST; k++)
            level(path++ % 1000, 3, rec_leaf, r);
        rec_release(r);
    }
    pthread_mutex_unlock(&r->own);
    count_up(&recs_finished);
    return NULL;
}

/* Writes the block profile to opt_out, timed: wall and this thread's CPU. */
static void timed_write(int (*write_profile)(int, int, int), const char *name)
{
    int fd = open(opt_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die(opt_out);
    uint64_t c0 = thread_cpu_ns(), t0 = now_ns();
    int rc = write_profile(LOCKPROF_BLOCK, fd, LOCKPROF_PPROF);
    uint64_t t1 = now_ns(), c1 = thread_cpu_ns();
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "prog_scale: lockprof_write_profile: %s\n", strerror(-rc));
        exit(99);
    }
    char key[64];
    snprintf(key, sizeof key, "write_%s_ns", name);
    measure(key, t1 - t0);
    snprintf(key, sizeof key, "write_%s_cpu_ns", name);
    measure(key, c1 - c0);
}

static void print_rec(const char *win, int w)
{
    struct rec_stats s = { 0 };
    for (int i = 0; i < RECORDERS; i++) {
        const struct rec_stats *r = &recs[i].st[w];
        s.calls += r->calls;
        s.slept += r->slept;
        s.over50 += r->over50;
        s.over50_preempted += r->over50_preempted;
        s.over50_slept += r->over50_slept;
        s.max_ns = r->max_ns > s.max_ns ? r->max_ns : s.max_ns;
        s.max_unpreempted_ns =
            r->max_unpreempted_ns > s.max_unpreempted_ns ? r->max_unpreempted_ns
                                                         : s.max_unpreempted_ns;
    }
    static const char *const names[] = { "calls", "slept", "over50", "over50_preempted",
                                          "over50_slept", "max_ns", "max_unpreempted_ns" };
    const uint64_t v[] = { s.calls, s.slept, s.over50, s.over50_preempted, s.over50_slept,
                           s.max_ns, s.max_unpreempted_ns };
    for (int i = 0; i < 7; i++) {
        char key[64];
        snprintf(key, sizeof key, "rec_%s_%s", win, names[i]);
        measure(key, v[i]);
    }
}

static void stacks_run(void)
{
    int levels = 0;
    for (long n = 1; n < opt_stacks; n *= 10)
        levels++;
    spawn("stacks", 0, stacks_holder, NULL, 0);
    uint64_t t0 = now_ns();
    for (int e = 0; e < opt_stacks; e++)
        level((unsigned)e, levels, stacks_leaf, NULL);
    measure("stacks_waits", (uint64_t)__atomic_load_n(&stacks_done, __ATOMIC_ACQUIRE));
    measure("stacks_levels", (uint64_t)levels);
    measure("stacks_phase_ns", now_ns() - t0);
    print_memory("stacks");

    int (*write_profile)(int, int, int) =
        (int (*)(int, int, int))dlsym(RTLD_DEFAULT, "lockprof_write_profile");
    if (write_profile) {
        timed_write(write_profile, "cold");
        timed_write(write_profile, "warm");
    }
    /* The busy write, between two quiet windows of the recorders (without lockprof: the same
     * recorders for the same time, so that the memory is measured at the same point). */
    pthread_mutexattr_t normal;
    pthread_mutexattr_init(&normal);
    pthread_mutexattr_settype(&normal, PTHREAD_MUTEX_NORMAL);
    for (int i = 0; i < RECORDERS; i++)
        pthread_mutex_init(&recs[i].own, &normal);
    pthread_mutexattr_destroy(&normal);
    for (int i = 0; i < RECORDERS; i++)
        spawn("recorders", i, recorder_main, &recs[i], 0);
    sleep_ms(REC_WINDOW_MS);
    uint64_t w0 = now_ns();
    __atomic_store_n(&writing, 1, __ATOMIC_RELEASE);
    if (write_profile)
        timed_write(write_profile, "busy");
    __atomic_store_n(&writing, 0, __ATOMIC_RELEASE);
    uint64_t w1 = now_ns();
    sleep_ms(REC_WINDOW_MS);
    __atomic_store_n(&recs_stop, 1, __ATOMIC_RELEASE);
    wait_until_at_least(&recs_finished, RECORDERS);
    measure("rec_write_window_ns", w1 - w0);
    measure("rec_quiet_window_ns", 2ull * REC_WINDOW_MS * 1000000);
    print_rec("quiet", 0);
    print_rec("write", 1);
    uint64_t waits = 0, releases = 0, acquired = 0;
    for (int i = 0; i < RECORDERS; i++) {
        waits += recs[i].waits;
        releases += recs[i].releases;
        acquired += recs[i].acquired;
    }
    measure("rec_waits", waits);
    measure("rec_releases", releases);
    measure("rec_acquired", acquired);
    print_memory("written");
}

/* ---- main ------------------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: prog_scale [-t THREADS] [-l LOCKS] [-s STACKS] [-k STACK_KIB] "
            "[-d TOUCH_KIB] [-o FILE] threads|locks|stacks|all\n");
    return 2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int c;
    while ((c = getopt(argc, argv, "t:l:s:k:d:o:")) != -1) {
        switch (c) {
        case 't': opt_threads = atoi(optarg); break;
        case 'l': opt_locks = atoi(optarg); break;
        case 's': opt_stacks = atoi(optarg); break;
        case 'k': opt_stack_kib = atoi(optarg); break;
        case 'd': opt_touch_kib = atoi(optarg); break;
        case 'o': opt_out = optarg; break;
        default: return usage();
        }
    }
    if (optind != argc - 1 || opt_threads < 1 || opt_locks < 1 || opt_stacks < 1 ||
        opt_stacks > 100000000 || opt_stack_kib < 16 || opt_touch_kib < 0 ||
        opt_touch_kib > opt_stack_kib - 8)
        return usage();
    const char *mode = argv[optind];
    bool all = strcmp(mode, "all") == 0;
    if (!all && strcmp(mode, "threads") && strcmp(mode, "locks") && strcmp(mode, "stacks"))
        return usage();
    uint64_t t0 = now_ns();
    print_memory("start");
    if (all || strcmp(mode, "threads") == 0)
        threads_run();
    if (all || strcmp(mode, "locks") == 0)
        locks_run();
    if (all || strcmp(mode, "stacks") == 0)
        stacks_run();
    print_memory("end");
    measure("total_ns", now_ns() - t0);
    /* The threads are still parked: exit ends them (and lockprof writes its profiles). */
    return 0;
}
