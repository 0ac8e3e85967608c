/* agent.c — see agent.h. */
#include "agent.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "endpoint.h"
#include "event.h"
#include "httpd.h"
#include "log.h"
#include "sync.h"
#include "sys.h"
#include "writer.h"

static uint32_t agent_kick;  /* futex: bumped by every request, so one word wakes the agent */
static uint32_t agent_req;   /* atomic: fatal-signal writes asked for */
static uint32_t agent_done;  /* futex: the last fatal-signal write served */
static uint32_t agent_snap;  /* atomic: snapshots asked for (LOCKPROF_SIGNAL) */
static pid_t agent_pid;      /* atomic: the process the agent lives in (0: none) */

static uint32_t agent_seen_at_start;       /* agent_req when the agent was created */
static uint32_t agent_snap_at_start;       /* agent_snap then */
static const struct lp_config *agent_cfg;  /* immutable after lp_agent_start */
static char agent_http[LP_HTTP_SPEC_MAX + 32]; /* immutable after lp_agent_start */
static struct lp_httpd *agent_httpd;       /* atomic: the endpoint's server, once open */

static void agent_kick_sigsafe(void)
{
    __atomic_add_fetch(&agent_kick, 1, __ATOMIC_ACQ_REL);
    lp_futex_wake_sigsafe(&agent_kick, 1);
}

static void *agent_http_main(void *arg)
{
    (void)arg;
    lp_self.busy = 1; /* for ever, as the agent */
    struct lp_httpd *h;
    char err[320];
    if (lp_httpd_open(agent_http, agent_cfg->http_allow_remote, &h, err, sizeof err) < 0) {
        lp_log_sigsafe("%s; the endpoint is off", err);
        return NULL;
    }
    __atomic_store_n(&agent_httpd, h, __ATOMIC_RELEASE);
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
            lp_writer_snapshot(keep, "LOCKPROF_SIGNAL");
            continue;
        }
        uint64_t now = interval ? lp_clock_monotonic() : 0; /* rates 0 read no clock: none */
        if (interval && now >= next) {
            lp_writer_snapshot(keep, "LOCKPROF_INTERVAL");
            next += interval;
            if (next <= now) /* late (a stopped process): the next one a period from now */
                next = now + interval;
            continue;
        }
        lp_futex_wait_sigsafe(&agent_kick, kick, interval ? next - now : 0);
    }
    return NULL;
}

void lp_agent_start(const struct lp_config *cfg, const char *http_spec)
{
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

void lp_agent_atfork_child(void)
{
    struct lp_httpd *h = __atomic_load_n(&agent_httpd, __ATOMIC_ACQUIRE);
    if (h) {
        lp_httpd_close_fds(h);
        agent_httpd = NULL;
    }
    agent_pid = 0;
}
