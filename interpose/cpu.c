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

/* Threads out of lockprof's sight are armed, and ended threads' timers deleted, this often. */
#define CPU_SCAN_NS (10ULL * 1000000000ULL)
/* Timers at most: a quarter of what the user may have pending (RLIMIT_SIGPENDING, which every
 * timer takes one of, and which the user's other processes share), and 16384. */
#define CPU_MAX_TIMERS 16384

LP_INIT_TEXT int lp_cpu_init(const struct lp_config *cfg)
{
    if (!cfg->cpu_hz)
        return 0;
    cpu_set_t set;
    unsigned ncpus = sched_getaffinity(0, sizeof set, &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
    struct rlimit rl;
    unsigned max = CPU_MAX_TIMERS;
    if (getrlimit(RLIMIT_SIGPENDING, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur / 4 < max)
        max = (unsigned)(rl.rlim_cur / 4);
    /* (The timers' table first: the profile is on once its ring is there.) */
    if (lp_cputimer_init(1000000000ULL / cfg->cpu_hz, LP_CPU_SIGNAL, max ? max : 1) < 0 ||
        lp_cpuprof_init((unsigned)cfg->cpu_hz, LP_CPU_SIGNAL, (unsigned)cfg->stack_depth,
                        ncpus) < 0) {
        lp_log_sigsafe("cannot map the CPU profile's memory: LOCKPROF_CPU_HZ is off");
        return 0;
    }
    return LP_CPU_SIGNAL;
}

/* Arms the calling thread and says sampling is on in this process. */
static void cpu_begin_here(void)
{
    __atomic_store_n(&cpu_pid, lp_sys_getpid(), __ATOMIC_RELEASE);
    lp_cpuprof_begin(lp_clock_realtime());
    lp_cputimer_resume();
    __atomic_store_n(&lp_cpu_sampling_, 1, __ATOMIC_RELEASE);
    lp_cputimer_arm((int32_t)lp_sys_gettid());
}

LP_INIT_TEXT void lp_cpu_start(void)
{
    if (!lp_cpuprof_on() || !lp_signals_cpu_ours())
        return;
    lp_cpuprof_set_waker(lp_agent_wake_sigsafe);
    cpu_begin_here();
    lp_agent_wake_sigsafe(); /* its first tick arms the threads already there */
}

void lp_cpu_thread_started(pthread_t t)
{
    if (lp_wrap_off() || lp_lifecycle_restricted())
        return; /* (lockprof's own threads are started busy) */
    struct lp_guard g;
    lp_guard_enter(&g);
    clockid_t clk;
    /* The clock is ((~tid) << 3) | 6; a thread that has already ended has tid 0 (glibc's
     * descriptor is cleared by the kernel at its exit), and is left alone. */
    if (pthread_getcpuclockid(t, &clk) == 0) {
        int32_t tid = (int32_t) ~((int32_t)clk >> 3);
        if (tid > 0)
            lp_cputimer_arm(tid);
    }
    lp_guard_leave(&g);
}

void lp_cpu_tick(void)
{
    if (!lp_cpuprof_on())
        return;
    lp_cpuprof_drain();
    if (!lp_cputimer_armed() || lp_lifecycle_restricted())
        return;
    uint64_t now = lp_clock_monotonic();
    if (cpu_scanned_at && now - cpu_scanned_at < CPU_SCAN_NS)
        return;
    cpu_scanned_at = now;
    lp_cputimer_scan();
}

LP_FORK_TEXT void lp_cpu_before_exec(void)
{
    pid_t pid = __atomic_load_n(&cpu_pid, __ATOMIC_ACQUIRE);
    if (!pid || !lp_cputimer_armed() || pid != lp_sys_getpid())
        return;
    __atomic_store_n(&lp_cpu_sampling_, 0, __ATOMIC_RELEASE);
    lp_cputimer_stop();
    lp_signals_cpu_flush();
    __atomic_store_n(&cpu_exec_stopped, 1, __ATOMIC_RELEASE);
}

LP_FORK_TEXT void lp_cpu_exec_failed(void)
{
    /* (A load first: a vfork child's failed exec must not store into its parent's memory.) */
    if (!__atomic_load_n(&cpu_exec_stopped, __ATOMIC_ACQUIRE) ||
        !__atomic_exchange_n(&cpu_exec_stopped, 0, __ATOMIC_ACQ_REL))
        return;
    if (lp_cpuprof_stopped()[0] || !lp_signals_cpu_reinstall())
        return;
    lp_cputimer_resume();
    __atomic_store_n(&lp_cpu_sampling_, 1, __ATOMIC_RELEASE);
    lp_cputimer_scan(); /* every thread there is, the caller included */
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
    if (lp_cputimer_armed())
        cpu_begin_here();
}

void lp_cpu_stand_aside(const char *why)
{
    if (!lp_cpuprof_on())
        return;
    __atomic_store_n(&lp_cpu_sampling_, 0, __ATOMIC_RELEASE);
    lp_cpuprof_stop_note(why);
    lp_cputimer_stop();
}
