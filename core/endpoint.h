/*
 * endpoint.h — what LOCKPROF_HTTP serves: Go's /debug/pprof/ paths for the block and mutex
 * profiles, and lockprof's threads view (DESIGN §3.5, §5; issue #4).
 *
 *   /debug/pprof/             an index page
 *   /debug/pprof/block        the block profile;  /debug/pprof/mutex  the mutex profile
 *       debug=0 (default) pprof; debug=N>0 Go's legacy text (debug=1)
 *       seconds=N             a delta: what is recorded in the next N seconds (the answer
 *                             comes after them), time_nanos and duration_nanos as Go sets them
 *       rate=R, fraction=F    with seconds=N: the block rate and mutex fraction for that
 *                             window, restored after it (a dormant program can be profiled)
 *   /debug/pprof/delta_block, /debug/pprof/delta_mutex
 *                             Go's stateful deltas (pyroscope-go's godeltaprof): a GET
 *                             answers what was recorded since the previous GET of that path
 *                             (the first: since lp_endpoint_init), in pprof; clients that
 *                             share a path share its deltas. HEAD does not move them.
 *   /debug/pprof/profile      the CPU profile of the next seconds=N (default 30), as Go's:
 *                             one window at a time (another meanwhile: 500, Go's line);
 *                             timers armed for the window only when LOCKPROF_CPU_HZ is 0
 *   /debug/pprof/allocs, heap, delta_heap, goroutine, threadcreate, trace
 *                             what Go's servers have and lockprof does not (scrapers ask for
 *                             some by default): 404, one text line "Unknown profile: …"
 *   /debug/pprof/threads      the threads view (threads.h); format=json for JSON
 *   /debug/pprof/symbol       Go's symbol service: POST "0x…+0x…" → "0x… name" lines (how
 *                             go tool pprof names frames it cannot name itself, e.g. libc's
 *                             and the synthetic leaves in the debug=1 text form)
 * Unknown parameters are ignored (as Go does); a malformed value is a 400 with one line.
 *
 * Context: lockprof's HTTP thread only (lp_httpd_serve's handler).
 */
#ifndef LP_ENDPOINT_H
#define LP_ENDPOINT_H

#include "httpd.h"

/* When the endpoint begins serving (lockprof's HTTP thread, before lp_httpd_serve): the time
 * the delta paths' first answers count from. */
void lp_endpoint_init(void);

/* What the endpoint needs of the library around it: the CPU profile's windows (cpu.h's
 * lp_cpu_window_begin and _end). */
struct lp_endpoint_hooks {
    int (*cpu_window_begin)(const char **why);
    void (*cpu_window_end)(void);
};

/* The handler for lp_httpd_serve; arg: the hooks (const struct lp_endpoint_hooks *), or NULL
 * (no CPU profile: /debug/pprof/profile answers 500). */
void lp_endpoint_handle(struct lp_http_exchange *x, void *arg);

/* After fork, in the child (no HTTP thread there): windows are forgotten, and rates a window
 * set are put back to what they were before it. */
void lp_endpoint_atfork_child(void);

/* The seconds=N windows open now (the index page shows it). */
int lp_endpoint_windows_open(void);

#endif
