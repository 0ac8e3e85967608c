/*
 * unit_cfi — core/cfi.c, lockprof's unwinder, against libunwind's unw_backtrace (the reference:
 * loaded with dlopen, as lockprof used to): the same return addresses, frame for frame, through
 * recursion at many depths, frames with and without rbp as their CFA base (alloca), glibc's own
 * frames (qsort's comparator), a signal handler (on the thread's stack and on an alternate stack,
 * through glibc's __restore_rt), a second thread (up to clone3), and a frame with no unwind
 * information, which ends the walk without a fault. The walk from an interrupted context (the
 * CPU profile's): from a CPU-time timer's handler, the interrupted instruction (+ 1) and then
 * the same callers as libunwind finds beyond the handler's signal frame. Then the cost of a
 * walk of 30 frames.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>

#include "cfi.h"
#include "tap.h"

#define MAXF 128

static int (*unw_bt)(void **, int);

struct both {
    uintptr_t mine[MAXF], ref[MAXF];
    int nmine, nref;
};

/* Both walks from one frame: each starts at the caller of the unwinder, which is this
 * function (two different call sites in it), so frame 0 differs by the call site alone. */
static __attribute__((noinline)) void capture(struct both *b)
{
    b->nmine = lp_cfi_backtrace(b->mine, MAXF);
    b->nref = unw_bt((void **)b->ref, MAXF);
    __asm__ volatile("" ::: "memory");
}

/* Same frames from 1 on, and the same count. */
static bool same(const struct both *b, const char *what)
{
    if (b->nmine != b->nref || b->nmine < 2) {
        diag("%s: %d frames, libunwind %d", what, b->nmine, b->nref);
        for (int i = 0; i < b->nmine || i < b->nref; i++)
            diag("  %2d  %#lx  %#lx", i, i < b->nmine ? (unsigned long)b->mine[i] : 0UL,
                 i < b->nref ? (unsigned long)b->ref[i] : 0UL);
        return false;
    }
    for (int i = 1; i < b->nmine; i++)
        if (b->mine[i] != b->ref[i]) {
            diag("%s: frame %d: %#lx, libunwind %#lx", what, i, (unsigned long)b->mine[i],
                 (unsigned long)b->ref[i]);
            return false;
        }
    return true;
}

/* ---- recursion, with and without a frame pointer ---- */

static volatile int sink;

static __attribute__((noinline)) void rec_plain(struct both *b, int n)
{
    if (n == 0)
        capture(b);
    else
        rec_plain(b, n - 1);
    sink++;
}

static __attribute__((noinline)) void rec_alloca(struct both *b, int n)
{
    /* alloca makes GCC base the CFA on rbp for this function. */
    volatile char *p = __builtin_alloca((size_t)(16 + n));
    p[0] = (char)n;
    if (n == 0)
        capture(b);
    else if (n % 3)
        rec_plain(b, n - 1);
    else
        rec_alloca(b, n - 1);
    sink += p[0];
}

/* ---- through glibc ---- */

static struct both *qsort_b;

static int cmp_capture(const void *a, const void *b)
{
    if (qsort_b) {
        capture(qsort_b);
        qsort_b = NULL;
    }
    return *(const int *)a - *(const int *)b;
}

/* ---- signal handlers ---- */

static struct both sig_b;

static void on_signal(int sig)
{
    (void)sig;
    capture(&sig_b);
}

static __attribute__((noinline)) void raise_from(int n)
{
    if (n == 0)
        raise(SIGUSR1);
    else
        raise_from(n - 1);
    sink++;
}

/* ---- an interrupted context (a CPU-time timer's signal) ---- */

static struct {
    uintptr_t ctx[MAXF];
    int nctx;
    uintptr_t rip;
    struct both in; /* libunwind from inside the handler (and lockprof's, for the record) */
    volatile int taken;
} prof_b;

static void on_prof(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    if (prof_b.taken)
        return;
    prof_b.nctx = lp_cfi_backtrace_context_sigsafe(prof_b.ctx, MAXF, uc);
    prof_b.rip = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
    capture(&prof_b.in);
    prof_b.taken = 1;
}

/* Spins (nothing but arithmetic, so the timer interrupts it mid-function) until taken. */
static __attribute__((noinline)) void spin_until_taken(int n)
{
    if (n > 0) {
        spin_until_taken(n - 1);
        sink++;
        return;
    }
    unsigned x = 1;
    while (!prof_b.taken)
        x = x * 1103515245u + 12345u;
    sink += (int)x;
}

/* The context walk: its frame 0 is the interrupted pc + 1, and its frames after that are the
 * ones libunwind finds after that pc (beyond the handler and __restore_rt). */
static bool context_same(void)
{
    const struct both *r = &prof_b.in;
    int k = 0;
    while (k < r->nref && r->ref[k] != prof_b.rip)
        k++;
    if (prof_b.nctx < 2 || prof_b.ctx[0] != prof_b.rip + 1 || k == r->nref ||
        r->nref - k != prof_b.nctx) {
        diag("context: %d frames, frame 0 %#lx, rip %#lx; libunwind %d frames, rip at %d",
             prof_b.nctx, prof_b.nctx ? (unsigned long)prof_b.ctx[0] : 0UL,
             (unsigned long)prof_b.rip, r->nref, k);
        return false;
    }
    for (int i = 1; i < prof_b.nctx; i++)
        if (prof_b.ctx[i] != r->ref[k + i]) {
            diag("context: frame %d: %#lx, libunwind %#lx", i, (unsigned long)prof_b.ctx[i],
                 (unsigned long)r->ref[k + i]);
            return false;
        }
    return true;
}

/* ---- a thread ---- */

static sem_t thread_walked;

/* Under ThreadSanitizer the thread never exits: at a thread's exit libunwind's per-thread
 * cache destructor puts itself back to run last, after ThreadSanitizer's has retired the
 * thread, and takes a mutex that ThreadSanitizer can no longer track (it crashes). Blocked,
 * the thread ends with the process. (Not under LeakSanitizer, which cannot scan at exit a
 * live thread's libunwind thread-local storage: libunwind is dlopen'ed.) */
static void *thread_main(void *arg)
{
    rec_plain(arg, 7);
    sem_post(&thread_walked);
#ifdef __SANITIZE_THREAD__
    for (;;)
        pause();
#endif
    return NULL;
}

/* ---- code without unwind information ---- */

/* ---- cost ---- */

static int walk_short;

static __attribute__((noinline)) double time_walks(int n)
{
    if (n > 0) {
        double r = time_walks(n - 1);
        sink++;
        return r;
    }
    uintptr_t pcs[64];
    double best = 1e18;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 20000; i++)
            if (lp_cfi_backtrace(pcs, 30) != 30)
                walk_short++;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                    20000;
        if (ns < best)
            best = ns;
    }
    return best;
}

typedef void (*jit_fn)(void (*)(struct both *), struct both *);

int main(void)
{
    ok(lp_cfi_init() == 0, "the rule cache is mapped");
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    unw_bt = h ? (int (*)(void **, int))dlsym(h, "unw_backtrace") : NULL;
    if (!unw_bt) {
        plan(1);
        ok(0, "libunwind.so.8 loads (the reference): %s", dlerror());
        return 1;
    }

    struct both b;
    int bad = 0;
    for (int d = 0; d < 60; d++) {
        rec_plain(&b, d);
        bad += !same(&b, "plain");
    }
    ok(bad == 0, "recursion, 60 depths: the same frames as libunwind (%d differ)", bad);
    ok(b.nmine > 60, "the deepest walk reached main and beyond (%d frames)", b.nmine);

    bad = 0;
    for (int d = 0; d < 40; d++) {
        rec_alloca(&b, d);
        bad += !same(&b, "alloca");
    }
    ok(bad == 0, "frames based on rbp (alloca) mixed with others, 40 depths (%d differ)", bad);

    int v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (i * 37) % 64;
    qsort_b = &b;
    qsort(v, 64, sizeof v[0], cmp_capture);
    ok(same(&b, "qsort"), "from qsort's comparator, through glibc's frames (%d frames)", b.nmine);

    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGUSR1, &sa, NULL);
    raise_from(5);
    ok(same(&sig_b, "signal"), "from a signal handler, through __restore_rt (%d frames)",
       sig_b.nmine);

    stack_t ss = { .ss_sp = malloc(1 << 16), .ss_size = 1 << 16 };
    sigaltstack(&ss, NULL);
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise_from(3);
    ok(same(&sig_b, "altstack"), "from a handler on an alternate stack (%d frames)", sig_b.nmine);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    free(ss.ss_sp);

#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer delivers an asynchronous signal at the thread's next call it intercepts:
     * never inside the spinning function, which makes none. */
    ok(1, "# SKIP an interrupted context: ThreadSanitizer defers asynchronous signals");
    ok(1, "# SKIP (with the one above)");
#else
    struct sigaction sp = { .sa_sigaction = on_prof, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigaction(SIGPROF, &sp, NULL);
    struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
    setitimer(ITIMER_PROF, &it, NULL);
    spin_until_taken(6);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_PROF, &off, NULL);
    ok(context_same(), "from an interrupted context: the interrupted pc + 1, then the callers "
       "libunwind finds (%d frames)", prof_b.nctx);
    ok(prof_b.nctx > 8, "through the spinning function's 7 frames to main (%d frames)",
       prof_b.nctx);
#endif

    pthread_t t;
    sem_init(&thread_walked, 0, 0);
    pthread_create(&t, NULL, thread_main, &b);
    while (sem_wait(&thread_walked) != 0)
        ;
#ifndef __SANITIZE_THREAD__
    pthread_join(t, NULL);
#endif
    ok(same(&b, "thread"), "in a second thread, to its outermost frame (%d frames)", b.nmine);

    /* Code with no FDE: a trampoline that calls capture. The walk must end there, not fault. */
    static const unsigned char code[] = {
        0x48, 0x83, 0xec, 0x08, /* sub $8, %rsp */
        0x48, 0x89, 0xf8,       /* mov %rdi, %rax */
        0x48, 0x89, 0xf7,       /* mov %rsi, %rdi */
        0xff, 0xd0,             /* call *%rax */
        0x48, 0x83, 0xc4, 0x08, /* add $8, %rsp */
        0xc3,                   /* ret */
    };
    void *jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (jit != MAP_FAILED) {
        memcpy(jit, code, sizeof code);
        struct lp_cfi_stats s0, s1;
        lp_cfi_stats(&s0);
        b.nmine = 0;
        ((jit_fn)jit)(capture, &b);
        lp_cfi_stats(&s1);
        ok(b.nmine == 2 && (uintptr_t)b.mine[1] - (uintptr_t)jit < sizeof code,
           "a frame without unwind information ends the walk (%d frames, the last in it)",
           b.nmine);
        ok(s1.stops == s0.stops + 1, "and is counted as a stop (%" PRIu64 ")", s1.stops - s0.stops);
        munmap(jit, 4096);
    } else {
        ok(0, "mmap of an executable page");
        ok(0, "(skipped with the one above)");
    }

    /* Cost: a walk of 30 frames (rules cached), the fastest of 5 batches of 20,000. */
    double ns = time_walks(40);
    ok(walk_short == 0, "every timed walk had its 30 frames");
    diag("lp_cfi_backtrace, 30 frames, rules cached: %.1f ns per walk (fastest of 5 x 20,000)",
         ns);
    done_testing();
    return tap_failed != 0;
}
