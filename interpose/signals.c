/*
 * signals.c — see signals.h.
 */
#include "signals.h"
#include "sys.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>

#include "agent.h"
#include "config.h"
#include "cpu.h"
#include "cpuprof.h"
#include "cputimer.h"
#include "log.h"
#include "resolve.h"

#define SIGNALS_FATAL_WAIT_NS (5ULL * 1000000000ULL)
#define SIGNALS_MAX 65

/* What lockprof does with a signal, when the program leaves it at SIG_DFL. Immutable after
 * init. LOCKPROF_SIGNAL wins over LOCKPROF_FATAL_SIGNALS for the same signal. */
enum { SIGNALS_NONE = 0, SIGNALS_FATAL, SIGNALS_SNAPSHOT, SIGNALS_CPU };
LP_INIT_DATA static int signals_role[SIGNALS_MAX];
/* atomic: the agent's request that writes for the fatal signal; 0: none */
LP_INIT_DATA static uint32_t signals_fatal_target; /* (.data: read in every fork child) */
static int signals_yielded; /* atomic: "the program handles it" was said */
static int signals_cpu_yielded; /* atomic: the same, for the CPU profile's signal */
static int signals_cpu_sig;     /* the CPU profile's signal, 0: none; immutable after init */

static void signals_fatal_handler(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    int saved = errno;
    /* Every fatal signal waits for the one write (a supervisor that signals twice, or the pid
     * and then its group, must not kill the process before it is done). Two racing first
     * signals may both request: the agent writes twice, harmlessly. */
    if (lp_agent_here_sigsafe()) {
        uint32_t target = __atomic_load_n(&signals_fatal_target, __ATOMIC_ACQUIRE);
        if (target == 0) {
            uint32_t mine = lp_agent_request_write_sigsafe(), expected = 0;
            if (__atomic_compare_exchange_n(&signals_fatal_target, &expected, mine, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                target = mine;
            else
                target = expected;
        }
        lp_agent_wait_sigsafe(target, SIGNALS_FATAL_WAIT_NS);
    }
    /* Die by the same signal: default action back, then the signal again. It is blocked while
     * this handler runs, so it is delivered as the handler returns, before the interrupted
     * code runs again (it never sees EINTR). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    REAL(sigaction)(sig, &dfl, NULL);
    raise(sig);
    errno = saved;
}

/* LOCKPROF_SIGNAL: ask the agent for a snapshot. No descriptor, no lock: a counter and a
 * futex wake. SA_RESTART, so that most interrupted calls go on as if nothing happened. */
static void signals_snapshot_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    int saved = errno;
    lp_agent_request_snapshot_sigsafe();
    errno = saved;
}

/* The CPU profile's sample (DESIGN §3.6): no allocation, no lock, no descriptor, errno as it
 * was. Every other signal is blocked while it runs, so no handler (an asynchronous cancel
 * included) can take the thread away between its claim of a ring record and its publication:
 * the ring's consumer would wait for that record for ever. SA_ONSTACK: on the thread's
 * alternate stack where it has one (Go's threads in a cgo program require it). */
static void signals_cpu_handler(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    bool ours = lp_cpuprof_sample_sigsafe(si, uc);
    errno = saved;
    /* Somebody else's (kill -PROF): the program left the signal at its default action, which
     * ends the process; so it does, with the profile written as for a fatal signal. */
    if (!ours)
        signals_fatal_handler(sig, si, uc);
}

LP_FORK_TEXT static int signals_install(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = signals_role[sig] == SIGNALS_SNAPSHOT ? signals_snapshot_handler
                      : signals_role[sig] == SIGNALS_CPU    ? signals_cpu_handler
                                                            : signals_fatal_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART; /* (sa_mask: empty, cleared above) */
    if (signals_role[sig] == SIGNALS_CPU) {
        sa.sa_flags |= SA_ONSTACK;
        /* Every signal, glibc's own two included (sigfillset leaves out SIGCANCEL and
         * SIGSETXID): an asynchronous cancel inside the handler would leave a ring record
         * claimed and never published, and the drain stops at it. */
        memset(&sa.sa_mask, 0xff, sizeof sa.sa_mask);
    }
    return REAL(sigaction)(sig, &sa, NULL);
}

/* Whether lockprof's handler stands in for sig (for a SIG_DFL the program believes it has),
 * asked of the kernel, with what is installed in *cur. Not a flag of lockprof's: a shell sets
 * and resets SIGINT around every command it starts, and each store would copy a page the
 * command's child still shares (a page fault per command). */
LP_FORK_TEXT static bool signals_ours(const struct sigaction *cur)
{
    return (cur->sa_flags & SA_SIGINFO) && (cur->sa_sigaction == signals_fatal_handler ||
                                            cur->sa_sigaction == signals_snapshot_handler ||
                                            cur->sa_sigaction == signals_cpu_handler);
}

LP_FORK_TEXT static bool signals_owned(int sig, struct sigaction *cur)
{
    return REAL(sigaction)(sig, NULL, cur) == 0 && signals_ours(cur);
}

/* The program claimed LOCKPROF_SIGNAL: lockprof leaves it alone, and says so once. */
LP_FORK_TEXT static void signals_yield(int sig)
{
    if (__atomic_exchange_n(&signals_yielded, 1, __ATOMIC_ACQ_REL))
        return;
    char name[32];
    lp_log_sigsafe("the program handles %s itself; LOCKPROF_SIGNAL snapshots are off",
                   lp_config_signal_name(sig, name, sizeof name));
}

/* The program took the CPU profile's signal (why: for the profile's comments and a window's
 * answer; "the program VERB SIG HOW" for the line said): the timers go for good, and lockprof
 * says so once. */
LP_FORK_TEXT static void signals_cpu_give_up(int sig, const char *why, const char *verb,
                                             const char *how, bool at_start)
{
    lp_cpu_stand_aside(why);
    if (__atomic_exchange_n(&signals_cpu_yielded, 1, __ATOMIC_ACQ_REL))
        return;
    char name[32];
    /* (For the endpoint's windows only, nothing is said: nobody asked for a CPU profile yet,
     * and a window asked for later is answered with the reason.) */
    if (lp_cpuprof_continuous())
        lp_log_sigsafe("the program %s %s %s; the CPU profile (LOCKPROF_CPU_HZ) %s", verb,
                       lp_config_signal_name(sig, name, sizeof name), how,
                       at_start ? "is off" : "takes no more samples");
}

/* The program claimed the CPU profile's signal with a handler: the timers go before the
 * program's handler comes (it would get lockprof's signals). */
LP_FORK_TEXT static void signals_cpu_yield(int sig, bool at_start)
{
    signals_cpu_give_up(sig,
                        at_start ? "the program handles the signal itself"
                                 : "the program installed a handler for the signal",
                        "handles", "itself", at_start);
}

LP_INIT_TEXT void lp_signals_init(uint64_t fatal, int snapshot, int cpu)
{
    for (int sig = 1; sig < SIGNALS_MAX && sig < 64; sig++)
        if (fatal & (1ULL << sig))
            signals_role[sig] = SIGNALS_FATAL;
    if (snapshot > 0 && snapshot < SIGNALS_MAX)
        signals_role[snapshot] = SIGNALS_SNAPSHOT;
    if (cpu > 0 && cpu < SIGNALS_MAX) {
        signals_role[cpu] = SIGNALS_CPU;
        signals_cpu_sig = cpu;
    }
}

LP_INIT_DATA static uint32_t signals_installed; /* atomic; inherited by a fork child, as they are */

LP_INIT_TEXT void lp_signals_install(void)
{
    if (__atomic_load_n(&signals_installed, __ATOMIC_ACQUIRE) ||
        __atomic_exchange_n(&signals_installed, 1, __ATOMIC_ACQ_REL))
        return;
    for (int sig = 1; sig < SIGNALS_MAX; sig++) {
        if (!signals_role[sig])
            continue;
        struct sigaction old;
        /* Only a signal the program has not claimed (inherited SIG_IGN is a claim too). */
        if (REAL(sigaction)(sig, NULL, &old) != 0 || signals_ours(&old))
            continue;
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
            signals_install(sig);
        else if (signals_role[sig] == SIGNALS_SNAPSHOT)
            signals_yield(sig);
        else if (signals_role[sig] == SIGNALS_CPU)
            signals_cpu_yield(sig, true);
    }
}

LP_FORK_TEXT bool lp_signals_cpu_ours(void)
{
    struct sigaction cur;
    return signals_cpu_sig && signals_role[signals_cpu_sig] == SIGNALS_CPU &&
           signals_owned(signals_cpu_sig, &cur);
}

LP_FORK_TEXT void lp_signals_cpu_flush(void)
{
    if (!lp_signals_cpu_ours())
        return;
    /* Ignoring a signal discards it where it is pending (POSIX), in every thread; then the
     * default action the program believes it has, which the new image inherits. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    REAL(sigaction)(signals_cpu_sig, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    REAL(sigaction)(signals_cpu_sig, &sa, NULL);
}

LP_FORK_TEXT bool lp_signals_cpu_reinstall(void)
{
    struct sigaction cur;
    if (!signals_cpu_sig || signals_role[signals_cpu_sig] != SIGNALS_CPU ||
        REAL(sigaction)(signals_cpu_sig, NULL, &cur) != 0)
        return false;
    if (signals_ours(&cur))
        return true;
    /* Only the default action lockprof left: anything else is the program's since. */
    return !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL &&
           signals_install(signals_cpu_sig) == 0;
}

/* The program's view of a signal lockprof stands in for is SIG_DFL; setting SIG_DFL keeps
 * lockprof's handler, setting anything else replaces it. */
LP_FORK_TEXT static int signals_set(int sig, const struct sigaction *act, struct sigaction *old)
{
    /* The program's first handler: what a handler may call is looked up now, not in it. */
    if (act && act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN)
        lp_resolve_signal_safe();
    if (sig <= 0 || sig >= SIGNALS_MAX || !signals_role[sig])
        return REAL(sigaction)(sig, act, old);
    struct sigaction prev;
    /* SIG_DFL is a null handler, with or without SA_SIGINFO (the kernel reads one field). */
    bool to_default = act && act->sa_handler == SIG_DFL;
    if (act && !to_default && signals_role[sig] != SIGNALS_CPU) {
        /* A disposition of the program's own replaces lockprof's in any case: one call sets
         * it and says what was there (a shell does this around every command it runs). */
        int rc = REAL(sigaction)(sig, act, &prev);
        if (rc == 0) {
            bool owned = signals_ours(&prev);
            if (old && owned) {
                memset(old, 0, sizeof *old);
                old->sa_handler = SIG_DFL;
            } else if (old) {
                *old = prev;
            }
            if (owned && signals_role[sig] == SIGNALS_SNAPSHOT)
                signals_yield(sig);
        }
        return rc;
    }
    if (REAL(sigaction)(sig, NULL, &prev) < 0)
        return REAL(sigaction)(sig, act, old); /* its own error, as without lockprof */
    bool owned = signals_ours(&prev);
    if (!owned) {
        if (to_default && lp_ready() &&
            !(signals_role[sig] == SIGNALS_SNAPSHOT &&
              __atomic_load_n(&signals_yielded, __ATOMIC_ACQUIRE)) &&
            signals_role[sig] != SIGNALS_CPU) {
            if (signals_install(sig) < 0)
                return -1;
            if (old)
                *old = prev;
            return 0;
        }
        return REAL(sigaction)(sig, act, old);
    }
    if (old) {
        memset(old, 0, sizeof *old);
        old->sa_handler = SIG_DFL;
    }
    if (!act || to_default)
        return 0; /* a query, or SIG_DFL: lockprof's handler stays */
    /* (The CPU profile's signal.) Its timers go first: once the program's handler is there,
     * each of their signals would be the program's. */
    if (lp_ready())
        signals_cpu_yield(sig, false);
    return REAL(sigaction)(sig, act, NULL);
}

LP_FORK_TEXT LP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return signals_set(sig, act, old);
}

LP_FORK_TEXT static sighandler_t signals_common(int sig, sighandler_t h, int flags, bool mask_self)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (mask_self && sig > 0 && sig < SIGNALS_MAX)
        sigaddset(&sa.sa_mask, sig);
    if (signals_set(sig, &sa, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}

/* signal() and its aliases call glibc's sigaction internally, bypassing an interposed one. */
LP_FORK_TEXT LP_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
    if (sig <= 0 || sig >= SIGNALS_MAX || !signals_role[sig])
        return REAL(signal)(sig, h);
    return signals_common(sig, h, SA_RESTART, true); /* glibc's BSD semantics */
}

sighandler_t bsd_signal(int sig, sighandler_t h); /* not declared under _GNU_SOURCE */

LP_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
    if (sig <= 0 || sig >= SIGNALS_MAX || !signals_role[sig])
        return REAL(bsd_signal)(sig, h);
    return signals_common(sig, h, SA_RESTART, true);
}

LP_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
    if (sig <= 0 || sig >= SIGNALS_MAX || !signals_role[sig])
        return REAL(sysv_signal)(sig, h);
    return signals_common(sig, h, SA_RESETHAND | SA_NODEFER, false);
}

/* ---- sigwait and friends: the CPU profile's signal is never the program's ----------------
 * A thread that blocks the CPU profile's signal keeps a sample pending (its timer still fires),
 * and a daemon that takes its signals with sigwait on a full set ("block everything, then wait
 * in one thread") would get it: a signal it never asked for, which many take as the end. So
 * a signal of lockprof's timers (SI_TIMER, their cookie) that one of these calls takes is
 * dropped, and the call waits on (a timed one until its deadline). Only while the CPU profile
 * is on, and for a set that holds its signal; any other call goes straight to glibc. */

static bool signals_waits_for_cpu(const sigset_t *set)
{
    return signals_cpu_sig && lp_cpuprof_on() && set && sigismember(set, signals_cpu_sig) == 1;
}

static bool signals_is_cpu_sample(int sig, const siginfo_t *si)
{
    return sig == signals_cpu_sig && si->si_code == SI_TIMER &&
           si->si_value.sival_int == LP_CPUTIMER_COOKIE;
}

LP_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
    if (!signals_waits_for_cpu(set))
        return REAL(sigwaitinfo)(set, info);
    siginfo_t mine;
    siginfo_t *si = info ? info : &mine;
    int sig;
    while ((sig = REAL(sigwaitinfo)(set, si)) > 0 && signals_is_cpu_sample(sig, si))
        ;
    return sig;
}

LP_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts)
{
    if (signals_waits_for_cpu(set) && !ts)
        return sigwaitinfo(set, info); /* no timeout: Linux waits as long as sigwaitinfo */
    if (!signals_waits_for_cpu(set) || !ts || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
        return REAL(sigtimedwait)(set, info, ts); /* (a bad timeout is the kernel's EINVAL) */
    siginfo_t mine;
    siginfo_t *si = info ? info : &mine;
    struct timespec deadline, left = *ts;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ts->tv_sec;
    deadline.tv_nsec += ts->tv_nsec;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    for (;;) {
        int sig = REAL(sigtimedwait)(set, si, &left);
        if (sig <= 0 || !signals_is_cpu_sample(sig, si))
            return sig;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left.tv_sec = deadline.tv_sec - now.tv_sec;
        left.tv_nsec = deadline.tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000;
        }
        if (left.tv_sec < 0)
            left.tv_sec = left.tv_nsec = 0; /* (then a poll: the kernel's EAGAIN if nothing) */
    }
}

/* glibc's sigwait retries after EINTR, and returns an error number, not -1. */
LP_EXPORT int sigwait(const sigset_t *set, int *sig)
{
    if (!signals_waits_for_cpu(set))
        return REAL(sigwait)(set, sig);
    int saved = errno;
    siginfo_t si;
    int got;
    while ((got = REAL(sigwaitinfo)(set, &si)) < 0 ? errno == EINTR
                                                   : signals_is_cpu_sample(got, &si))
        ;
    int rc = got < 0 ? errno : 0;
    if (got > 0)
        *sig = got;
    errno = saved;
    return rc;
}

/* A signalfd whose mask holds the CPU profile's signal reads it whenever it is pending on the
 * reading thread or the process, its handler never running (the program blocks it): a sample
 * pending there would be read as the program's own signal, and no read can tell it from one
 * without changing what a poll said. So the program owns the signal, as if it had installed a
 * handler: once the signalfd is made (before the call returns to the program), the timers go
 * for good, samples pending are discarded, the signal's action goes back to the default the
 * program believes it has, and lockprof says so once. (A signalfd made before lockprof was
 * loaded, or through syscall(SYS_signalfd4), is not seen.) */
static void signals_cpu_signalfd(void)
{
    int sig = signals_cpu_sig;
    signals_cpu_give_up(sig, "the program reads the signal from a signalfd", "reads",
                        "from a signalfd", false);
    lp_signals_cpu_flush();
    signals_role[sig] = SIGNALS_NONE;
}

LP_EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
    bool cpu = signals_waits_for_cpu(mask) && signals_role[signals_cpu_sig] == SIGNALS_CPU;
    int rc = REAL(signalfd)(fd, mask, flags);
    if (cpu && rc >= 0) { /* (a call that failed reads nothing) */
        int saved = errno;
        signals_cpu_signalfd();
        errno = saved;
    }
    return rc;
}

/* Every signal lockprof stands in for gets its default action back, as the program believes
 * it has, and lockprof claims none again. */
void lp_signals_stand_aside(void)
{
    for (int sig = 1; sig < SIGNALS_MAX; sig++) {
        struct sigaction cur;
        if (signals_role[sig] == SIGNALS_CPU) {
            lp_cpu_stand_aside("the program restricted its system calls (PR_SET_SECCOMP)");
            lp_signals_cpu_flush(); /* (discards a sample pending, as at exec) */
        }
        if (signals_role[sig] && signals_owned(sig, &cur)) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            REAL(sigaction)(sig, &dfl, NULL);
        }
        signals_role[sig] = SIGNALS_NONE;
    }
}

LP_FORK_TEXT void lp_signals_atfork_child(void)
{
    if (signals_fatal_target) /* (a store copies the page the child shares with its parent) */
        signals_fatal_target = 0;
    /* No agent here to take a snapshot: the signal gets its default action back, as the
     * program believes it has. */
    for (int sig = 1; sig < SIGNALS_MAX; sig++)
        if (signals_role[sig] == SIGNALS_SNAPSHOT) {
            struct sigaction cur;
            if (signals_owned(sig, &cur)) {
                struct sigaction dfl;
                memset(&dfl, 0, sizeof dfl);
                dfl.sa_handler = SIG_DFL;
                REAL(sigaction)(sig, &dfl, NULL);
            }
            signals_role[sig] = SIGNALS_NONE;
        }
}
