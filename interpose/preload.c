/*
 * preload.c — lockprof's life inside the host process (DESIGN §4, §5, §6).
 *
 * The constructor reads the configuration, resolves the real functions, maps the tables,
 * loads libunwind, starts lockprof's one thread (the agent, which writes profiles when a
 * fatal signal asks it to: the writer never runs inside a signal handler), installs the
 * fatal-signal handlers, and registers the exit-time write. Until it is done — and for ever
 * under secure execution — every wrapper passes straight through.
 *
 * Nothing is ever torn down: other libraries' destructors may still lock after the exit-time
 * write, and the wrappers keep working for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "endpoint.h"
#include "httpd.h"
#include "event.h"
#include "fdcache.h"
#include "inflight.h"
#include "locktab.h"
#include "lockprof.h"
#include "log.h"
#include "sys.h"
#include "maps.h"
#include "preload.h"
#include "resolve.h"
#include "stacktab.h"
#include "threads.h"
#include "sync.h"
#include "unwind.h"
#include "writer.h"

int lp_ready_;

static struct lp_config preload_config;   /* immutable after the constructor */
static int64_t preload_start_realtime;     /* reset in a fork child */

/* ---- the agent thread ------------------------------------------------------------------- */

/*
 * lockprof's one thread (two with LOCKPROF_HTTP): it writes the profiles a fatal signal asks
 * for, the snapshots LOCKPROF_SIGNAL asks for and those LOCKPROF_INTERVAL schedules, and starts
 * the HTTP thread. Signal handlers only bump a counter and wake it (a futex: no descriptor on
 * a signal path, DESIGN §6).
 */
static uint32_t agent_kick;  /* futex: bumped by every request, so one word wakes the agent */
static uint32_t agent_req;   /* fatal-signal writes asked for */
static uint32_t agent_done;  /* futex: the last fatal-signal write served */
static uint32_t agent_snap;  /* snapshots asked for (LOCKPROF_SIGNAL) */
static pid_t agent_pid;      /* the process the agent lives in (0: none) */

static uint32_t agent_seen_at_start; /* agent_req when the agent was created */
static uint32_t agent_snap_at_start; /* agent_snap then */

static void agent_kick_sigsafe(void)
{
    __atomic_add_fetch(&agent_kick, 1, __ATOMIC_ACQ_REL);
    lp_futex_wake_sigsafe(&agent_kick, 1);
}

/* The endpoint's server, once open (a fork child closes its descriptors). */
static struct lp_httpd *preload_httpd;

static void *http_main(void *arg)
{
    (void)arg;
    lp_self.busy = 1; /* for ever, as the agent */
    struct lp_httpd *h;
    char err[320], spec[LP_HTTP_SPEC_MAX + 32];
    /* %p: each process of the tree serves on its own address (unix:/run/srv.%p.sock). */
    char pid[24], start[24];
    lp_fmt_sigsafe(pid, sizeof pid, "%d", (int)getpid());
    lp_fmt_sigsafe(start, sizeof start, "%lld", (long long)(preload_start_realtime / 1000000000));
    if (lp_config_expand(spec, sizeof spec, preload_config.http, pid, start, 0) < 0) {
        lp_log_sigsafe("LOCKPROF_HTTP='%s' is too long once expanded; the endpoint is off",
                       preload_config.http);
        return NULL;
    }
    if (lp_httpd_open(spec, preload_config.http_allow_remote, &h, err, sizeof err) < 0) {
        lp_log_sigsafe("%s; the endpoint is off", err);
        return NULL;
    }
    __atomic_store_n(&preload_httpd, h, __ATOMIC_RELEASE);
    const char *addr = lp_httpd_address(h);
    if (strncmp(addr, "unix:", 5) == 0)
        lp_log_sigsafe("serving %s (/debug/pprof/, pid %d)", addr, (int)getpid());
    else
        lp_log_sigsafe("serving http://%s/debug/pprof/ (pid %d)", addr, (int)getpid());
    int rc = lp_httpd_serve(h, lp_endpoint_handle, NULL);
    lp_log_sigsafe("the endpoint stopped: %s", strerrordesc_np(rc < 0 ? -rc : EIO));
    return NULL;
}

/* A thread of lockprof's own: all signals blocked from birth (DESIGN §5: a daemon that takes
 * SIGTERM with sigwait must keep receiving it there), detached, never profiled. */
static int preload_thread(void *(*fn)(void *), const char *name)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    int rc = pthread_create(&t, &attr, fn, NULL);
    if (rc == 0)
        pthread_setname_np(t, name);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void *agent_main(void *arg)
{
    (void)arg;
    lp_self.busy = 1; /* for ever: the agent's own calls are never profiled */
    /* Lazily, here and not in the constructor: the listener is lockprof's thread's business. */
    /* One endpoint per tree: the first process (and what it execs) serves, not the shells
     * and helpers it starts with system() or popen() — unless the address has %p, which
     * gives each process its own. */
    bool serve = preload_config.http[0] && (lp_preload_origin() == (long)lp_preload_pid ||
                                            lp_config_pattern_has(preload_config.http, 'p'));
    if (serve && preload_thread(http_main, "lockprof-http") != 0)
        lp_log_sigsafe("cannot start lockprof's HTTP thread: LOCKPROF_HTTP is off");
    /* Not the counters as they are now: a signal may have bumped them before this thread
     * first ran (`sh -c 'kill $$'` does), and that request must be served. */
    uint32_t seen = agent_seen_at_start, seen_snap = agent_snap_at_start;
    uint64_t interval = preload_config.interval * 1000000000ULL;
    uint64_t next = interval ? lp_clock_monotonic() + interval : 0;
    for (;;) {
        uint32_t kick = __atomic_load_n(&agent_kick, __ATOMIC_ACQUIRE);
        uint32_t r = __atomic_load_n(&agent_req, __ATOMIC_ACQUIRE);
        if (r != seen) {
            seen = r;
            lp_writer_write("fatal signal");
            __atomic_store_n(&agent_done, seen, __ATOMIC_RELEASE);
            lp_futex_wake_sigsafe(&agent_done, 64);
            continue;
        }
        uint32_t sn = __atomic_load_n(&agent_snap, __ATOMIC_ACQUIRE);
        if (sn != seen_snap) {
            seen_snap = sn; /* signals that came while one was written make one snapshot */
            lp_writer_snapshot((unsigned)preload_config.keep, "LOCKPROF_SIGNAL");
            continue;
        }
        uint64_t now = interval ? lp_clock_monotonic() : 0; /* rates 0 read no clock: none */
        if (interval && now >= next) {
            lp_writer_snapshot((unsigned)preload_config.keep, "LOCKPROF_INTERVAL");
            next += interval;
            if (next <= now) /* late (a stopped process): the next one a period from now */
                next = now + interval;
            continue;
        }
        lp_futex_wait_sigsafe(&agent_kick, kick, interval ? next - now : 0);
    }
    return NULL;
}

static void agent_start(void)
{
    agent_seen_at_start = __atomic_load_n(&agent_req, __ATOMIC_ACQUIRE);
    agent_snap_at_start = __atomic_load_n(&agent_snap, __ATOMIC_ACQUIRE);
    if (preload_thread(agent_main, "lockprof") == 0)
        agent_pid = getpid();
    else
        lp_log_sigsafe("cannot start lockprof's thread: no profile will be written on a fatal "
                       "signal");
}

/* Asks the agent to write; returns the request's number. Signal-safe. */
static uint32_t agent_request_sigsafe(void)
{
    uint32_t mine = __atomic_add_fetch(&agent_req, 1, __ATOMIC_ACQ_REL);
    agent_kick_sigsafe();
    return mine;
}

/* Waits until the agent has served request `target`, at most timeout_ns. Signal-safe. */
static void agent_wait_sigsafe(uint32_t target, uint64_t timeout_ns)
{
    uint64_t deadline = lp_clock_monotonic() + timeout_ns;
    for (;;) {
        uint32_t done = __atomic_load_n(&agent_done, __ATOMIC_ACQUIRE);
        if ((int32_t)(done - target) >= 0)
            return;
        uint64_t now = lp_clock_monotonic();
        if (now >= deadline) {
            lp_log_sigsafe("the profile was not written within %llu ms; exiting without it",
                           (unsigned long long)(timeout_ns / 1000000));
            return;
        }
        lp_futex_wait_sigsafe(&agent_done, done, deadline - now);
    }
}

/* ---- fatal signals ------------------------------------------------------------------------ */

#define FATAL_WAIT_NS (5ULL * 1000000000ULL)
#define NSIG_MAX 65

/* What lockprof does with a signal, when the program leaves it at SIG_DFL. Immutable after
 * init. LOCKPROF_SIGNAL wins over LOCKPROF_FATAL_SIGNALS for the same signal. */
enum { ROLE_NONE = 0, ROLE_FATAL, ROLE_SNAPSHOT };
static int sig_role[NSIG_MAX];
/* 1 while lockprof's handler stands in for a SIG_DFL the program believes it has. */
static int sig_owned[NSIG_MAX];
static uint32_t fatal_target; /* the agent request that writes for the fatal signal; 0: none */
static int snapshot_yielded;   /* "the program handles it" was said */

static void fatal_handler(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    int saved = errno;
    /* Every fatal signal waits for the one write (a supervisor that signals twice, or the pid
     * and then its group, must not kill the process before it is done). Two racing first
     * signals may both request: the agent writes twice, harmlessly. */
    if (agent_pid != 0 && agent_pid == getpid()) {
        uint32_t target = __atomic_load_n(&fatal_target, __ATOMIC_ACQUIRE);
        if (target == 0) {
            uint32_t mine = agent_request_sigsafe(), expected = 0;
            if (__atomic_compare_exchange_n(&fatal_target, &expected, mine, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                target = mine;
            else
                target = expected;
        }
        agent_wait_sigsafe(target, FATAL_WAIT_NS);
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
    __atomic_add_fetch(&agent_snap, 1, __ATOMIC_ACQ_REL);
    agent_kick_sigsafe();
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

static void signals_init(uint64_t fatal, int snapshot)
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

/* ---- exit and fork ------------------------------------------------------------------------ */

static void preload_exit_write(void)
{
    /* Busy: exit or quick_exit from a signal handler that interrupted lockprof on this thread
     * (perhaps inside a write, holding the writer lock): no profile rather than a deadlock. */
    if (!lp_ready() || lp_self.busy)
        return;
    lp_self.busy++;
    lp_writer_write("exit");
    lp_self.busy--;
}

static char preload_cwd_at_start[LP_PATH_MAX]; /* immutable after the constructor */

/*
 * Whose files are whose (DESIGN §5). Every process of a tree lockprof runs in knows the tree's
 * origin, the first process (LOCKPROF_ORIGIN in the environment, set by the origin itself and
 * passed on by the exec wrappers), and its exec generation (LOCKPROF_EXEC=pid:n, passed by
 * the exec wrappers: a new image with the same pid must not overwrite the files the old one
 * wrote before exec). When LOCKPROF_OUT has no %p, every process but the origin adds ".PID"
 * to the prefix; every image after an exec adds ".execN".
 */
static long preload_origin;       /* the tree's first process */
static unsigned preload_exec_gen; /* 0 in a fresh process, n after n execs */
static bool preload_out_has_pid;  /* LOCKPROF_OUT contains %p */
pid_t lp_preload_pid;             /* this process (set again in a fork child) */

/* A decimal number that is the whole of s; false otherwise. */
static bool parse_long(const char *s, const char *end, long *out)
{
    long v = 0;
    if (s == end)
        return false;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9' || v > 100000000000L)
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

static void preload_lineage_init(long pid)
{
    const char *o = getenv(LP_ENV_ORIGIN);
    long origin;
    if (o && parse_long(o, o + strlen(o), &origin) && origin > 0) {
        preload_origin = origin;
    } else {
        preload_origin = pid;
        /* In the constructor, before the program's threads: children spawned by means no
         * wrapper sees (system, popen, posix_spawn) inherit it through environ. */
        char v[24];
        lp_fmt_sigsafe(v, sizeof v, "%ld", pid);
        setenv(LP_ENV_ORIGIN, v, 1);
    }
    const char *e = getenv(LP_ENV_EXEC);
    const char *colon = e ? strchr(e, ':') : NULL;
    long epid, gen;
    if (colon && parse_long(e, colon, &epid) && epid == pid &&
        parse_long(colon + 1, colon + strlen(colon), &gen) && gen < 1000000)
        preload_exec_gen = (unsigned)gen;
}

/* LOCKPROF_OUT made absolute against the directory lockprof started in (daemons chdir("/")),
 * with the lineage's suffixes. */
static void preload_expand_out(char *dst, size_t size, long pid)
{
    if (lp_config_expand_out(dst, (unsigned)size, preload_config.out, pid,
                             (long)(preload_start_realtime / 1000000000),
                             preload_cwd_at_start) < 0) {
        lp_log_sigsafe("LOCKPROF_OUT='%s' is too long once expanded; using lockprof.%ld",
                       preload_config.out, pid);
        lp_fmt_sigsafe(dst, size, "%s/lockprof.%ld", preload_cwd_at_start, pid);
    }
    size_t n = strlen(dst);
    char suffix[48] = "";
    size_t k = 0;
    if (!preload_out_has_pid && pid != preload_origin)
        k += lp_fmt_sigsafe(suffix + k, sizeof suffix - k, ".%ld", pid);
    if (preload_exec_gen)
        k += lp_fmt_sigsafe(suffix + k, sizeof suffix - k, ".exec%u", preload_exec_gen);
    if (n + k + 32 < size) /* room for ".block.pb.gz.tmp.PID" */
        memcpy(dst + n, suffix, k + 1);
}

/* ---- exec (process.c) -------------------------------------------------------------------- */

int lp_preload_before_exec(void)
{
    if (!lp_ready())
        return 0;
    if ((pid_t)syscall(SYS_getpid) != lp_preload_pid)
        return -1; /* a vfork child (no fork handler ran): the parent's memory; hands off */
    if (lp_self.busy)
        return 1; /* exec from a handler that interrupted lockprof: no write, no deadlock */
    struct lp_stacktab_stats st;
    lp_stacktab_stats(&st);
    /* A final profile, unless this image recorded nothing (the child of fork-then-exec, a
     * shell that execs the program): then there is nothing the next image could overwrite,
     * and it keeps this image's name. */
    if (st.events[LP_BLOCK] + st.events[LP_MUTEX] == 0)
        return 1;
    lp_self.busy++;
    lp_writer_write("exec");
    lp_self.busy--;
    return 2;
}

long lp_preload_origin(void)
{
    return preload_origin;
}

unsigned lp_preload_exec_gen(void)
{
    return preload_exec_gen;
}

/* Set when this thread's fork did not take the writer lock: a fork from a signal handler that
 * interrupted lockprof on this thread, which may hold it (waiting for it would never end). */
static __thread int prefork_skipped __attribute__((tls_model("initial-exec")));

static void preload_prefork(void)
{
    prefork_skipped = lp_self.busy != 0;
    lp_self.busy++;
    if (!prefork_skipped)
        lp_writer_prefork();
}

static void preload_postfork_parent(void)
{
    if (!prefork_skipped)
        lp_writer_postfork_parent();
    lp_self.busy--;
}

static void preload_postfork_child(void)
{
    /* The child profiles itself from zero under its own pid (DESIGN §5); the parent's
     * waiters, thread and start time are not its own. */
    lp_locktab_atfork_child();
    lp_stacktab_atfork_child();
    lp_event_atfork_child();
    lp_maps_atfork_child();
    lp_inflight_atfork_child();
    /* A window open in the parent (rate=/fraction=) has no thread here to end it: the rates
     * it saved are the child's again. */
    lp_endpoint_atfork_child();
    /* The parent's listener is not the child's to serve (DESIGN §5), nor to keep open. */
    struct lp_httpd *h = __atomic_load_n(&preload_httpd, __ATOMIC_ACQUIRE);
    if (h) {
        lp_httpd_close_fds(h);
        preload_httpd = NULL;
    }
    agent_pid = 0;
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
    lp_preload_pid = getpid();
    preload_exec_gen = 0;
    preload_start_realtime = lp_clock_realtime();
    char prefix[LP_PATH_MAX];
    preload_expand_out(prefix, sizeof prefix, (long)lp_preload_pid);
    lp_writer_atfork_child(prefix); /* frees the writer lock taken in prefork */
    /* No agent thread here: a thread would make the child multithreaded behind its back
     * (unshare(CLONE_NEWUSER) then fails, pids.max counts it). The child writes at exit and
     * through the API; a fatal signal ends it without a profile. */
    lp_self.busy--;
}

/* Waits in progress the threads view can name (one per waiting thread). */
#define PRELOAD_INFLIGHT_SLOTS 4096

/* ---- the constructor ---------------------------------------------------------------------- */

static const char *preload_getenv(const char *name)
{
    return getenv(name);
}

__attribute__((constructor(101))) static void preload_init(void)
{
    if (getauxval(AT_SECURE))
        return; /* setuid and friends: dormant (DESIGN §4) */
    lp_self.busy++;
    lp_log_init();
    lp_resolve_all();
    lp_config_load(&preload_config, preload_getenv);
    if (preload_config.show_config)
        lp_config_show(&preload_config);

    lp_clock_tsc_init(preload_config.tsc);
    preload_start_realtime = lp_clock_realtime();
    if (!getcwd(preload_cwd_at_start, sizeof preload_cwd_at_start))
        strcpy(preload_cwd_at_start, "/");
    lp_preload_pid = getpid();
    preload_out_has_pid = lp_config_pattern_has(preload_config.out, 'p');
    preload_lineage_init((long)lp_preload_pid);
    char prefix[LP_PATH_MAX];
    preload_expand_out(prefix, sizeof prefix, (long)lp_preload_pid);

    if (lp_locktab_init((unsigned)preload_config.lock_stripes) < 0 ||
        lp_stacktab_init((unsigned)preload_config.max_stacks,
                         (unsigned)preload_config.max_stacks * 16) < 0) {
        lp_log_sigsafe("cannot map lockprof's tables: profiling is off");
        lp_self.busy--;
        return;
    }
    if (lp_inflight_init(PRELOAD_INFLIGHT_SLOTS) < 0)
        lp_log_sigsafe("cannot map lockprof's table of waits in progress: the threads view "
                       "shows system calls only");
    if (lp_fdcache_init(preload_config.io) < 0)
        lp_log_sigsafe("cannot map lockprof's descriptor table: reads and writes are not "
                       "profiled");
    lp_event_calibrate();
    lp_stack_set_depth((unsigned)preload_config.stack_depth);
    lp_unwind_add_self_range((const void *)preload_init);
    lp_unwind_load(preload_config.libunwind);
    lp_maps_refresh();

    struct lp_writer_info info = {
        .version = LOCKPROF_VERSION,
        .stack_depth = (unsigned)preload_config.stack_depth,
    };
    lp_writer_init(prefix, &info);

    /* The rates before lockprof's threads: an HTTP window that opens at once saves these. */
    lp_rates_init(preload_config.block_rate, preload_config.mutex_fraction);
    agent_start();
    signals_init(preload_config.fatal_signals, (int)preload_config.snapshot_signal);
    pthread_atfork(preload_prefork, preload_postfork_parent, preload_postfork_child);
    atexit(preload_exit_write);
    at_quick_exit(preload_exit_write); /* quick_exit is a normal termination too */

    __atomic_store_n(&lp_ready_, 1, __ATOMIC_RELEASE);
    lp_self.busy--;
}

/* ---- the public API ----------------------------------------------------------------------- */

LP_EXPORT const char *lockprof_version(void)
{
    return LOCKPROF_VERSION;
}

LP_EXPORT int64_t lockprof_set_block_rate(int64_t rate)
{
    return (int64_t)lp_rates_set_block(rate < 0 ? 0 : (uint64_t)rate);
}

LP_EXPORT int64_t lockprof_set_mutex_fraction(int64_t fraction)
{
    if (fraction < 0)
        return (int64_t)lp_rates_fraction();
    return (int64_t)lp_rates_set_fraction((uint64_t)fraction);
}

LP_EXPORT int lockprof_write_profiles(void)
{
    if (!lp_ready())
        return -EAGAIN;
    if (lp_self.busy)
        return -EDEADLK;
    lp_self.busy++;
    int rc = lp_writer_write("lockprof_write_profiles");
    lp_self.busy--;
    return rc;
}

/* Copies all of memfd (from its start) to fd; 0 or -errno. */
static int preload_copy_out(int memfd, int fd)
{
    char buf[16384];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(memfd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        int rc = lp_sys_write_all(fd, buf, (size_t)n);
        if (rc < 0)
            return rc;
        off += n;
    }
}

LP_EXPORT int lockprof_write_profile(int kind, int fd, int format)
{
    if (!lp_ready())
        return -EAGAIN;
    /* From a signal handler that interrupted lockprof on this thread: the writer lock may be
     * this thread's (waiting for it would never end). */
    if (lp_self.busy)
        return -EDEADLK;
    if (fd < 0)
        return -EBADF;
    bool profile = (kind == LOCKPROF_BLOCK || kind == LOCKPROF_MUTEX) &&
                   (format == LOCKPROF_PPROF || format == LOCKPROF_TEXT);
    bool threads = kind == LOCKPROF_THREADS && (format == LOCKPROF_TEXT || format == LOCKPROF_JSON);
    if (!profile && !threads)
        return -EINVAL;
    int saved = errno;
    lp_self.busy++;
    /* Encoded into memory under the writer lock, copied to fd after it: a descriptor that
     * does not drain (a full pipe, a client's socket) must not hold up exit, fork or a fatal
     * signal's profile, which all wait for that lock. */
    int rc, mem = memfd_create("lockprof-api", MFD_CLOEXEC);
    if (mem < 0) {
        rc = -errno;
    } else {
        if (profile)
            rc = lp_writer_encode_to(mem, kind == LOCKPROF_BLOCK ? LP_BLOCK : LP_MUTEX,
                                     format == LOCKPROF_TEXT ? LP_FORMAT_TEXT : LP_FORMAT_PPROF,
                                     NULL);
        else
            rc = lp_writer_threads(mem, format == LOCKPROF_JSON ? LP_THREADS_JSON
                                                                : LP_THREADS_TEXT);
        if (rc == 0)
            rc = preload_copy_out(mem, fd);
        close(mem);
    }
    lp_self.busy--;
    errno = saved;
    return rc;
}

LP_EXPORT int lockprof_snapshot(void)
{
    if (!lp_ready())
        return -EAGAIN;
    if (lp_self.busy)
        return -EDEADLK;
    lp_self.busy++;
    int rc = lp_writer_snapshot((unsigned)preload_config.keep, "lockprof_snapshot");
    lp_self.busy--;
    return rc;
}
