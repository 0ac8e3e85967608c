/* agent.c — see agent.h. */
#include "agent.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cpu.h"
#include "cputimer.h"
#include "endpoint.h"
#include "event.h"
#include "httpd.h"
#include "lifecycle.h"
#include "log.h"
#include "maps.h"
#include "sync.h"
#include "sys.h"
#include "writer.h"

static uint32_t agent_kick;  /* futex: bumped by every request, so one word wakes the agent */
static uint32_t agent_req;   /* atomic: fatal-signal writes asked for */
static uint32_t agent_done;  /* futex: the last fatal-signal write served */
static uint32_t agent_snap;  /* atomic: snapshots asked for (LOCKPROF_SIGNAL) */
/* (These two in .data: lp_agent_atfork_child reads them in every fork child.) */
LP_INIT_DATA static pid_t agent_pid; /* atomic: the process the agent lives in (0: none) */

static uint32_t agent_seen_at_start;       /* agent_req when the agent was created */
static uint32_t agent_snap_at_start;       /* agent_snap then */
static const struct lp_config *agent_cfg;  /* immutable after lp_agent_start */
static char agent_http[LP_HTTP_SPEC_MAX + 32]; /* immutable after lp_agent_start */
LP_INIT_DATA static struct lp_httpd *agent_httpd; /* atomic: the endpoint's server, once open */
static pid_t agent_http_tid;               /* atomic: lockprof's HTTP thread, 0 while none */
static uint32_t agent_ending;              /* atomic: the program's threads are all gone */

/*
 * lockprof's threads do not keep the process alive. glibc ends a process when its last thread
 * returns or calls pthread_exit (exit(0), atexit handlers and lockprof's profile included), by
 * a count of the threads it started, __nptl_nthreads (GLIBC_PRIVATE, glibc 2.34 on): each of
 * lockprof's threads is taken out of that count once started, so that "main calls pthread_exit
 * and lets the workers finish" ends when the workers do. (Without the symbol, a process whose
 * last thread calls pthread_exit is still ended by the check below, without its atexit
 * handlers.)
 */
static int *agent_nthreads; /* immutable after lp_agent_start; NULL when glibc has none */

static void agent_uncount(void)
{
    if (agent_nthreads)
        __atomic_fetch_sub(agent_nthreads, 1, __ATOMIC_ACQ_REL);
}

/* Ends the calling thread of lockprof's without glibc's thread bookkeeping: it is no longer
 * in glibc's count, and the process may be ending (the kernel ends it with its last thread). */
static __attribute__((noreturn)) void agent_thread_exit(void)
{
    for (;;)
        lp_syscall1(SYS_exit, 0);
}

/* A whole small /proc file into buf (NUL-terminated); its length, or -1. */
static ssize_t agent_read_proc(const char *path, char *buf, size_t size)
{
    int fd = lp_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    ssize_t n = lp_sys_read(fd, buf, size - 1);
    lp_sys_close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* The field (1-based) of a /proc stat line, after the name in parentheses (which may hold
 * anything, ')' included): its first character, or NULL. */
static const char *agent_stat_field(const char *stat, int field)
{
    const char *p = strrchr(stat, ')');
    if (!p)
        return NULL;
    for (int f = 2; f < field; f++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return NULL;
    }
    return p + 1;
}

/*
 * True when no thread of the program's is alive: only lockprof's threads, and perhaps the main
 * thread as a zombie (it ended with pthread_exit or SYS_exit while others ran). Without
 * lockprof the process would have ended then (by SYS_exit of its last thread, which no count
 * of glibc's sees). /proc/self/stat counts the zombie leader among the threads; its own stat
 * says whether it is one.
 */
static bool agent_alone(void)
{
    char buf[1024];
    /* (Restricted or not: a filter the program installs with prctl applies to the thread that
     * installs it and the threads it starts after, never to lockprof's, started before.) */
    if (agent_read_proc("/proc/self/stat", buf, sizeof buf) < 0)
        return false;
    const char *f = agent_stat_field(buf, 20); /* num_threads */
    long threads = f ? strtol(f, NULL, 10) : 0;
    long ours = 1 + (__atomic_load_n(&agent_http_tid, __ATOMIC_ACQUIRE) != 0);
    if (threads <= 0 || threads > ours + 1)
        return false;
    char path[64];
    lp_fmt_sigsafe(path, sizeof path, "/proc/self/task/%d/stat", (int)lp_sys_getpid());
    if (agent_read_proc(path, buf, sizeof buf) < 0)
        return threads == ours;
    const char *state = agent_stat_field(buf, 3);
    return state && (*state == 'Z' || *state == 'X');
}

static void agent_kick_sigsafe(void)
{
    __atomic_add_fetch(&agent_kick, 1, __ATOMIC_ACQ_REL);
    lp_futex_wake_sigsafe(&agent_kick, 1);
}

void lp_agent_wake_sigsafe(void)
{
    agent_kick_sigsafe();
}

static void *agent_http_main(void *arg)
{
    (void)arg;
    lp_self.busy = 1; /* for ever, as the agent */
    __atomic_store_n(&agent_http_tid, lp_sys_gettid(), __ATOMIC_RELEASE);
    struct lp_httpd *h;
    char err[320];
    if (lp_httpd_open(agent_http, agent_cfg->http_allow_remote, &h, err, sizeof err) < 0) {
        lp_log_sigsafe("%s; the endpoint is off", err);
        __atomic_store_n(&agent_http_tid, 0, __ATOMIC_RELEASE);
        agent_thread_exit();
    }
    __atomic_store_n(&agent_httpd, h, __ATOMIC_RELEASE);
    const char *addr = lp_httpd_address(h);
    if (strncmp(addr, "unix:", 5) == 0)
        lp_log_sigsafe("serving %s (/debug/pprof/, pid %d)", addr, (int)getpid());
    else
        lp_log_sigsafe("serving http://%s/debug/pprof/ (pid %d)", addr, (int)getpid());
    lp_httpd_stop_on(h, &agent_ending);
    lp_endpoint_init();
    static const struct lp_endpoint_hooks hooks = {
        .cpu_window_begin = lp_cpu_window_begin,
        .cpu_window_end = lp_cpu_window_end,
    };
    int rc = lp_httpd_serve(h, lp_endpoint_handle, (void *)&hooks);
    if (!__atomic_load_n(&agent_ending, __ATOMIC_ACQUIRE))
        lp_log_sigsafe("the endpoint stopped: %s", strerrordesc_np(rc < 0 ? -rc : EIO));
    __atomic_store_n(&agent_http_tid, 0, __ATOMIC_RELEASE);
    agent_thread_exit();
}

/* A thread of lockprof's own: all signals blocked from birth (DESIGN §5: a daemon that takes
 * SIGTERM with sigwait must keep receiving it there), detached, never profiled. */
static int agent_thread(void *(*fn)(void *), const char *name)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    /* Never armed by the CPU profile: registered before a scan can list it. */
    lp_cputimer_own_begin();
    int rc = pthread_create(&t, &attr, fn, NULL);
    clockid_t clk;
    lp_cputimer_own_end(rc == 0 && pthread_getcpuclockid(t, &clk) == 0
                            ? (int32_t) ~((int32_t)clk >> 3) : 0);
    if (rc == 0) {
        agent_uncount();
        pthread_setname_np(t, name);
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* How often the agent looks whether the program's threads are all gone (agent_alone), when
 * nothing woke it meanwhile. */
#define AGENT_WATCH_NS (1000ULL * 1000000ULL)

/* The program's threads are all gone: the profiles are written, and lockprof's threads end, the
 * last of them ending the process with the exit status its main thread left. */
static __attribute__((noreturn)) void agent_end(void)
{
    if (!lp_lifecycle_restricted())
        lp_writer_write("last thread exited", true);
    __atomic_store_n(&agent_ending, 1, __ATOMIC_RELEASE);
    agent_thread_exit();
}

static void *agent_main(void *arg)
{
    (void)arg;
    lp_self.busy = 1; /* for ever: the agent's own calls are never profiled */
    /* The loaded objects, named once the program has threads (a fork child of a process that
     * had some may find the loader's lock held: maps.c), rather than at start, which every
     * short process would pay for. */
    lp_maps_refresh();
    /* Lazily, here and not in the constructor: the listener is lockprof's thread's business. */
    if (agent_http[0] && agent_thread(agent_http_main, "lockprof-http") != 0)
        lp_log_sigsafe("cannot start lockprof's HTTP thread: LOCKPROF_HTTP is off");
    /* Not the counters as they are now: a signal may have bumped them before this thread
     * first ran (`sh -c 'kill $$'` does), and that request must be served. */
    uint32_t seen = agent_seen_at_start, seen_snap = agent_snap_at_start;
    unsigned keep = (unsigned)agent_cfg->keep;
    uint64_t interval = agent_cfg->interval * 1000000000ULL;
    uint64_t next = interval ? lp_clock_monotonic() + interval : 0;
    for (;;) {
        uint32_t kick = __atomic_load_n(&agent_kick, __ATOMIC_ACQUIRE);
        lp_cpu_tick(); /* (each second, and at each wake-up) */
        uint32_t r = __atomic_load_n(&agent_req, __ATOMIC_ACQUIRE);
        if (r != seen) {
            seen = r;
            if (!lp_lifecycle_restricted())
                lp_writer_write("fatal signal", true);
            __atomic_store_n(&agent_done, seen, __ATOMIC_RELEASE);
            lp_futex_wake_sigsafe(&agent_done, 64);
            continue;
        }
        uint32_t sn = __atomic_load_n(&agent_snap, __ATOMIC_ACQUIRE);
        if (sn != seen_snap) {
            seen_snap = sn; /* signals that came while one was written make one snapshot */
            if (!lp_lifecycle_restricted())
                lp_writer_snapshot(keep, "LOCKPROF_SIGNAL");
            continue;
        }
        /* The clock only for LOCKPROF_INTERVAL: with both rates 0 and no interval lockprof
         * reads none (DESIGN §3.1). */
        uint64_t wait = AGENT_WATCH_NS;
        if (interval) {
            uint64_t now = lp_clock_monotonic();
            if (now >= next) {
                if (!lp_lifecycle_restricted())
                    lp_writer_snapshot(keep, "LOCKPROF_INTERVAL");
                next += interval;
                if (next <= now) /* late (a stopped process): the next one a period from now */
                    next = now + interval;
                continue;
            }
            if (next - now < wait)
                wait = next - now;
        }
        if (lp_futex_wait_sigsafe(&agent_kick, kick, wait) == -ETIMEDOUT && agent_alone())
            agent_end();
    }
    return NULL;
}

void lp_agent_init(void)
{
    static bool done;
    if (done)
        return;
    agent_nthreads = (int *)dlvsym(RTLD_DEFAULT, "__nptl_nthreads", "GLIBC_PRIVATE");
    done = true;
}

void lp_agent_start(const struct lp_config *cfg, const char *http_spec)
{
    lp_agent_init();
    agent_cfg = cfg;
    lp_fmt_sigsafe(agent_http, sizeof agent_http, "%s", http_spec);
    agent_seen_at_start = __atomic_load_n(&agent_req, __ATOMIC_ACQUIRE);
    agent_snap_at_start = __atomic_load_n(&agent_snap, __ATOMIC_ACQUIRE);
    if (agent_thread(agent_main, "lockprof") == 0)
        __atomic_store_n(&agent_pid, lp_sys_getpid(), __ATOMIC_RELEASE);
    else
        lp_log_sigsafe("cannot start lockprof's thread: no profile will be written on a fatal "
                       "signal");
}

bool lp_agent_here_sigsafe(void)
{
    pid_t pid = __atomic_load_n(&agent_pid, __ATOMIC_ACQUIRE);
    return pid != 0 && pid == lp_sys_getpid();
}

uint32_t lp_agent_request_write_sigsafe(void)
{
    uint32_t mine = __atomic_add_fetch(&agent_req, 1, __ATOMIC_ACQ_REL);
    agent_kick_sigsafe();
    return mine;
}

void lp_agent_wait_sigsafe(uint32_t target, uint64_t timeout_ns)
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

void lp_agent_request_snapshot_sigsafe(void)
{
    __atomic_add_fetch(&agent_snap, 1, __ATOMIC_ACQ_REL);
    agent_kick_sigsafe();
}

LP_FORK_TEXT void lp_agent_atfork_child(void)
{
    struct lp_httpd *h = __atomic_load_n(&agent_httpd, __ATOMIC_ACQUIRE);
    if (h) {
        lp_httpd_close_fds(h);
        agent_httpd = NULL;
    }
    if (agent_pid) /* (a store copies the page the child shares with its parent) */
        agent_pid = 0;
}
