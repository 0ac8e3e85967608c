/* cpu.c — see cpu.h. */
#include "cpu.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include "agent.h"
#include "clock.h"
#include "cpuprof.h"
#include "cputimer.h"
#include "log.h"
#include "signals.h"
#include "sys.h"
#include "wait.h"

uint32_t lp_cpu_sampling_; /* atomic: new threads are armed */

/* The process whose timers the table holds (0: none yet); atomic. A vfork child, which shares
 * the parent's memory, has another pid: it touches nothing. */
static pid_t cpu_pid;
/* Under the exec wrappers: the timers were deleted for this exec, to be made again if it
 * fails. Atomic. */
static uint32_t cpu_exec_stopped;
/* lockprof's thread: when it last listed the threads (monotonic ns; 0: never). */
static uint64_t cpu_scanned_at;
/* A thread was started since the last listing (lp_cpu_thread_started); atomic. */
static uint32_t cpu_scan_asked;

/* Threads out of lockprof's sight are armed, and ended threads' timers deleted, this often. */
#define CPU_SCAN_NS (10ULL * 1000000000ULL)
/* Threads the program started are armed this soon at most after the listing before (a program
 * that starts threads in a burst pays for one listing per interval, not one per thread). */
#define CPU_SCAN_SOON_NS (10ULL * 1000000ULL)
/* Timers at most: a quarter of what the user may have pending (RLIMIT_SIGPENDING, which every
 * timer takes one of, and which the user's other processes share), and 16384. */
#define CPU_MAX_TIMERS 16384

LP_INIT_TEXT int lp_cpu_init(const struct lp_config *cfg, bool windows)
{
    if (!cfg->cpu_hz && !windows)
        return 0;
    unsigned hz = cfg->cpu_hz ? (unsigned)cfg->cpu_hz : LP_CPU_WINDOW_HZ;
    cpu_set_t set;
    unsigned ncpus = sched_getaffinity(0, sizeof set, &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
    struct rlimit rl;
    unsigned max = CPU_MAX_TIMERS;
    if (getrlimit(RLIMIT_SIGPENDING, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur / 4 < max)
        max = (unsigned)(rl.rlim_cur / 4);
    /* (The timers' table first: the profile is on once its ring is there.) */
    if (lp_cputimer_init(1000000000ULL / hz, LP_CPU_SIGNAL, max ? max : 1) < 0 ||
        lp_cpuprof_init(hz, LP_CPU_SIGNAL, (unsigned)cfg->stack_depth, ncpus) < 0) {
        lp_log_sigsafe("cannot map the CPU profile's memory: %s",
                       cfg->cpu_hz ? "LOCKPROF_CPU_HZ is off"
                                   : "the endpoint serves no CPU profile");
        return 0;
    }
    if (!cfg->cpu_hz)
        lp_cpuprof_windows_only();
    return LP_CPU_SIGNAL;
}

/* Arms the calling thread and says sampling is on in this process. */
static void cpu_begin_here(void)
{
    __atomic_store_n(&cpu_pid, lp_sys_getpid(), __ATOMIC_RELEASE);
    lp_cpuprof_begin(lp_clock_realtime());
    if (!lp_cputimer_resume())
        return; /* (the program took the signal for itself) */
    __atomic_store_n(&lp_cpu_sampling_, 1, __ATOMIC_RELEASE);
    lp_cputimer_arm((int32_t)lp_sys_gettid());
}

LP_INIT_TEXT void lp_cpu_start(void)
{
    if (!lp_cpuprof_on() || !lp_signals_cpu_ours())
        return;
    lp_cpuprof_set_waker(lp_agent_wake_sigsafe);
    if (!lp_cpuprof_continuous())
        return; /* armed for the endpoint's windows only (lp_cpu_window_begin) */
    cpu_begin_here();
    lp_agent_wake_sigsafe(); /* its first tick arms the threads already there */
}

/* A window of the endpoint's is open (at most one): set and cleared by lockprof's HTTP thread
 * (and a fork child), read by a failed exec. Atomic. */
static uint32_t cpu_window_open;

int lp_cpu_window_begin(const char **why)
{
    *why = "";
    if (!lp_cpuprof_on()) {
        *why = "the CPU profile's memory could not be mapped at start";
        return -ENOTSUP;
    }
    if (__atomic_load_n(&cpu_window_open, __ATOMIC_ACQUIRE)) {
        *why = "cpu profiling already in use";
        return -EBUSY;
    }
    if (lp_cpuprof_stopped()[0]) {
        *why = lp_cpuprof_stopped();
        return -EPERM;
    }
    if (lp_lifecycle_restricted()) {
        *why = "the program restricts its system calls (seccomp)";
        return -EPERM;
    }
    if (!lp_cpuprof_continuous()) {
        if (!lp_signals_cpu_ours()) {
            *why = "the program handles SIGPROF itself";
            return -EPERM;
        }
        __atomic_store_n(&cpu_pid, lp_sys_getpid(), __ATOMIC_RELEASE);
        if (lp_cpuprof_window_open() < 0) {
            *why = "cannot map the window's stack table";
            return -ENOMEM;
        }
        /* (Refused while a thread is in an exec wrapper, between its timers' deletion and the
         * signal's default action: a timer armed then would kill the process.) */
        if (!lp_cputimer_resume()) {
            lp_cpuprof_window_close();
            *why = lp_cpuprof_stopped()[0] ? lp_cpuprof_stopped()
                                           : "the program is starting another program (exec)";
            return -EBUSY;
        }
        __atomic_store_n(&lp_cpu_sampling_, 1, __ATOMIC_RELEASE);
        lp_cputimer_scan(); /* every thread there is but lockprof's */
    }
    __atomic_store_n(&cpu_window_open, 1, __ATOMIC_RELEASE);
    return 0;
}

void lp_cpu_window_end(void)
{
    if (!__atomic_exchange_n(&cpu_window_open, 0, __ATOMIC_ACQ_REL))
        return;
    if (lp_cpuprof_continuous())
        return;
    __atomic_store_n(&lp_cpu_sampling_, 0, __ATOMIC_RELEASE);
    lp_cputimer_stop();
    lp_cpuprof_drain(); /* (into the window's table, given back once answered: endpoint.c) */
}

/* The start routines on their way to new threads: a slot is taken by the creating thread and
 * given back by the new one once it has read it. Bounded: a burst of more creations at once
 * than there are slots is armed by the scan. */
#define CPU_START_SLOTS 256
static struct cpu_start {
    void *(*fn)(void *);
    void *arg;
    uint32_t busy; /* atomic */
} cpu_starts[CPU_START_SLOTS];
static uint32_t cpu_start_next; /* atomic: where the next claim looks first */

static void *cpu_thread_start(void *p)
{
    struct cpu_start *s = p;
    void *(*fn)(void *) = s->fn;
    void *arg = s->arg;
    __atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
    if (lp_cpu_sampling() && !lp_lifecycle_restricted()) {
        struct lp_guard g; /* (errno kept; anything lockprof calls passes straight through) */
        lp_guard_enter(&g);
        lp_cputimer_arm((int32_t)lp_sys_gettid());
        if (lp_cputimer_sweep_wanted())
            lp_agent_wake_sigsafe(); /* (lockprof's thread scans: lp_cpu_tick) */
        lp_guard_leave(&g);
    }
    return fn(arg);
}

int lp_cpu_thread_wrap(void *(**fn)(void *), void **arg)
{
    if (lp_wrap_off() || lp_lifecycle_restricted())
        return -1;
    uint32_t first = __atomic_fetch_add(&cpu_start_next, 1, __ATOMIC_RELAXED);
    for (uint32_t k = 0; k < CPU_START_SLOTS; k++) {
        uint32_t i = (first + k) % CPU_START_SLOTS;
        uint32_t idle = 0;
        if (__atomic_load_n(&cpu_starts[i].busy, __ATOMIC_RELAXED) ||
            !__atomic_compare_exchange_n(&cpu_starts[i].busy, &idle, 1, false,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            continue;
        cpu_starts[i].fn = *fn;
        cpu_starts[i].arg = *arg;
        *fn = cpu_thread_start;
        *arg = &cpu_starts[i];
        return (int)i;
    }
    return -1;
}

void lp_cpu_thread_unwrap(int slot)
{
    if (slot >= 0)
        __atomic_store_n(&cpu_starts[slot].busy, 0, __ATOMIC_RELEASE);
}

void lp_cpu_thread_started(void)
{
    if (lp_wrap_off() || lp_lifecycle_restricted())
        return; /* (lockprof's own threads are started busy) */
    if (!__atomic_exchange_n(&cpu_scan_asked, 1, __ATOMIC_ACQ_REL))
        lp_agent_wake_sigsafe();
}

void lp_cpu_tick(void)
{
    if (!lp_cpuprof_on())
        return;
    lp_cpuprof_drain();
    if (!lp_cputimer_armed() || lp_lifecycle_restricted())
        return;
    uint64_t now = lp_clock_monotonic();
    uint64_t every = lp_cputimer_sweep_wanted()                          ? 0
                     : __atomic_load_n(&cpu_scan_asked, __ATOMIC_ACQUIRE) ? CPU_SCAN_SOON_NS
                                                                         : CPU_SCAN_NS;
    if (cpu_scanned_at && now - cpu_scanned_at < every)
        return;
    cpu_scanned_at = now;
    __atomic_store_n(&cpu_scan_asked, 0, __ATOMIC_RELEASE);
    lp_cputimer_scan();
}

LP_FORK_TEXT void lp_cpu_before_exec(void)
{
    pid_t pid = __atomic_load_n(&cpu_pid, __ATOMIC_ACQUIRE);
    if (!pid || !lp_cputimer_armed() || pid != lp_sys_getpid())
        return;
    __atomic_store_n(&lp_cpu_sampling_, 0, __ATOMIC_RELEASE);
    lp_cputimer_hold(); /* (until lp_cpu_exec_failed, if it fails) */
    lp_signals_cpu_flush();
    __atomic_store_n(&cpu_exec_stopped, 1, __ATOMIC_RELEASE);
}

LP_FORK_TEXT void lp_cpu_exec_failed(void)
{
    /* (A load first: a vfork child's failed exec must not store into its parent's memory.) */
    if (!__atomic_load_n(&cpu_exec_stopped, __ATOMIC_ACQUIRE) ||
        !__atomic_exchange_n(&cpu_exec_stopped, 0, __ATOMIC_ACQ_REL))
        return;
    lp_cputimer_release();
    if (lp_cpuprof_stopped()[0] || !lp_signals_cpu_reinstall())
        return;
    /* (For the endpoint's windows only: sampling resumes only if the window is still open.) */
    if (!lp_cpuprof_continuous() && !__atomic_load_n(&cpu_window_open, __ATOMIC_ACQUIRE))
        return;
    if (!lp_cputimer_resume())
        return;
    __atomic_store_n(&lp_cpu_sampling_, 1, __ATOMIC_RELEASE);
    lp_cputimer_scan(); /* every thread there is, the caller included */
    /* A window that ended meanwhile found nothing to stop: stopped here then. */
    if (!lp_cpuprof_continuous() && !__atomic_load_n(&cpu_window_open, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&lp_cpu_sampling_, 0, __ATOMIC_RELEASE);
        lp_cputimer_stop();
    }
}

void lp_cpu_atfork_child(void)
{
    pid_t me = lp_sys_getpid();
    if (!lp_cpuprof_on() || __atomic_load_n(&cpu_pid, __ATOMIC_ACQUIRE) == me)
        return;
    __atomic_store_n(&cpu_pid, me, __ATOMIC_RELEASE);
    lp_cputimer_atfork_child();
    lp_cpuprof_atfork_child();
    __atomic_store_n(&cpu_exec_stopped, 0, __ATOMIC_RELAXED);
    cpu_scanned_at = 0;
    __atomic_store_n(&cpu_window_open, 0, __ATOMIC_RELAXED); /* (the parent's windows) */
    /* Start slots taken by threads of the parent that were being created: not the child's. */
    for (uint32_t i = 0; i < CPU_START_SLOTS; i++)
        __atomic_store_n(&cpu_starts[i].busy, 0, __ATOMIC_RELAXED);
    if (!lp_cpuprof_continuous()) {
        __atomic_store_n(&lp_cpu_sampling_, 0, __ATOMIC_RELEASE);
        lp_cputimer_stop(); /* (no timer to delete: arming is off) */
        return;
    }
    if (lp_cputimer_armed())
        cpu_begin_here();
}

void lp_cpu_stand_aside(const char *why)
{
    if (!lp_cpuprof_on())
        return;
    __atomic_store_n(&lp_cpu_sampling_, 0, __ATOMIC_RELEASE);
    lp_cpuprof_stop_note(why);
    lp_cputimer_stop_for_good(); /* (no window arms them again either) */
}
