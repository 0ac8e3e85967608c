/*
 * signals.c — see signals.h.
 */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "log.h"
#include "resolve.h"

#define FATAL_WAIT_NS (5ULL * 1000000000ULL)
#define NSIG_MAX 65

/* What lockprof does with a signal, when the program leaves it at SIG_DFL. Immutable after
 * init. LOCKPROF_SIGNAL wins over LOCKPROF_FATAL_SIGNALS for the same signal. */
enum { ROLE_NONE = 0, ROLE_FATAL, ROLE_SNAPSHOT };
static int sig_role[NSIG_MAX];
/* 1 while lockprof's handler stands in for a SIG_DFL the program believes it has. */
static int sig_owned[NSIG_MAX];
static uint32_t fatal_target; /* atomic: the agent's request that writes for the fatal
                                 signal; 0: none */
static int snapshot_yielded;   /* atomic: "the program handles it" was said */

static void fatal_handler(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    int saved = errno;
    /* Every fatal signal waits for the one write (a supervisor that signals twice, or the pid
     * and then its group, must not kill the process before it is done). Two racing first
     * signals may both request: the agent writes twice, harmlessly. */
    if (lp_agent_here_sigsafe()) {
        uint32_t target = __atomic_load_n(&fatal_target, __ATOMIC_ACQUIRE);
        if (target == 0) {
            uint32_t mine = lp_agent_request_write_sigsafe(), expected = 0;
            if (__atomic_compare_exchange_n(&fatal_target, &expected, mine, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                target = mine;
            else
                target = expected;
        }
        lp_agent_wait_sigsafe(target, FATAL_WAIT_NS);
    }
    /* Die by the same signal: default action back, then the signal again. It is blocked while
     * this handler runs, so it is delivered as the handler returns, before the interrupted
     * code runs again (it never sees EINTR). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    REAL(sigaction)(sig, &dfl, NULL);
    __atomic_store_n(&sig_owned[sig], 0, __ATOMIC_RELEASE);
    raise(sig);
    errno = saved;
}

/* LOCKPROF_SIGNAL: ask the agent for a snapshot. No descriptor, no lock: a counter and a
 * futex wake. SA_RESTART, so that most interrupted calls go on as if nothing happened. */
static void snapshot_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    int saved = errno;
    lp_agent_request_snapshot_sigsafe();
    errno = saved;
}

static int sig_install(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sig_role[sig] == ROLE_SNAPSHOT ? snapshot_handler : fatal_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    int rc = REAL(sigaction)(sig, &sa, NULL);
    if (rc == 0)
        __atomic_store_n(&sig_owned[sig], 1, __ATOMIC_RELEASE);
    return rc;
}

/* The program claimed LOCKPROF_SIGNAL: lockprof leaves it alone, and says so once. */
static void snapshot_yield(int sig)
{
    if (__atomic_exchange_n(&snapshot_yielded, 1, __ATOMIC_ACQ_REL))
        return;
    char name[32];
    lp_log_sigsafe("the program handles %s itself; LOCKPROF_SIGNAL snapshots are off",
                   lp_config_signal_name(sig, name, sizeof name));
}

void lp_signals_init(uint64_t fatal, int snapshot)
{
    for (int sig = 1; sig < NSIG_MAX && sig < 64; sig++)
        if (fatal & (1ULL << sig))
            sig_role[sig] = ROLE_FATAL;
    if (snapshot > 0 && snapshot < NSIG_MAX)
        sig_role[snapshot] = ROLE_SNAPSHOT;
    for (int sig = 1; sig < NSIG_MAX; sig++) {
        if (!sig_role[sig])
            continue;
        struct sigaction old;
        /* Only a signal the program has not claimed (inherited SIG_IGN is a claim too). */
        if (REAL(sigaction)(sig, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
            old.sa_handler == SIG_DFL)
            sig_install(sig);
        else if (sig_role[sig] == ROLE_SNAPSHOT)
            snapshot_yield(sig);
    }
}

/* The program's view of a signal lockprof stands in for is SIG_DFL; setting SIG_DFL keeps
 * lockprof's handler, setting anything else replaces it. */
static int signal_set(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= NSIG_MAX || !sig_role[sig])
        return REAL(sigaction)(sig, act, old);
    bool owned = __atomic_load_n(&sig_owned[sig], __ATOMIC_ACQUIRE);
    /* SIG_DFL is a null handler, with or without SA_SIGINFO (the kernel reads one field). */
    bool to_default = act && act->sa_handler == SIG_DFL;
    if (!owned) {
        if (to_default && lp_ready() &&
            !(sig_role[sig] == ROLE_SNAPSHOT &&
              __atomic_load_n(&snapshot_yielded, __ATOMIC_ACQUIRE))) {
            struct sigaction prev;
            if (REAL(sigaction)(sig, NULL, &prev) < 0)
                return -1;
            if (sig_install(sig) < 0)
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
        return 0;
    int rc = REAL(sigaction)(sig, act, NULL);
    if (rc == 0) {
        __atomic_store_n(&sig_owned[sig], 0, __ATOMIC_RELEASE);
        if (sig_role[sig] == ROLE_SNAPSHOT)
            snapshot_yield(sig);
    }
    return rc;
}

LP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return signal_set(sig, act, old);
}

static sighandler_t signal_common(int sig, sighandler_t h, int flags, bool mask_self)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (mask_self && sig > 0 && sig < NSIG_MAX)
        sigaddset(&sa.sa_mask, sig);
    if (signal_set(sig, &sa, &old) < 0)
        return SIG_ERR;
    return old.sa_handler;
}

/* signal() and its aliases call glibc's sigaction internally, bypassing an interposed one. */
LP_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
    if (sig <= 0 || sig >= NSIG_MAX || !sig_role[sig])
        return REAL(signal)(sig, h);
    return signal_common(sig, h, SA_RESTART, true); /* glibc's BSD semantics */
}

sighandler_t bsd_signal(int sig, sighandler_t h); /* not declared under _GNU_SOURCE */

LP_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
    if (sig <= 0 || sig >= NSIG_MAX || !sig_role[sig])
        return REAL(bsd_signal)(sig, h);
    return signal_common(sig, h, SA_RESTART, true);
}

LP_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
    if (sig <= 0 || sig >= NSIG_MAX || !sig_role[sig])
        return REAL(sysv_signal)(sig, h);
    return signal_common(sig, h, SA_RESETHAND | SA_NODEFER, false);
}

void lp_signals_atfork_child(void)
{
    fatal_target = 0;
    /* No agent here to take a snapshot: the signal gets its default action back, as the
     * program believes it has. */
    for (int sig = 1; sig < NSIG_MAX; sig++)
        if (sig_role[sig] == ROLE_SNAPSHOT) {
            if (sig_owned[sig]) {
                struct sigaction dfl;
                memset(&dfl, 0, sizeof dfl);
                dfl.sa_handler = SIG_DFL;
                REAL(sigaction)(sig, &dfl, NULL);
                sig_owned[sig] = 0;
            }
            sig_role[sig] = ROLE_NONE;
        }
}
