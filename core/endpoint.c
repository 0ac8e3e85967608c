/* endpoint.c — see endpoint.h. */
#include "endpoint.h"

#include "cpuprof.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "event.h"
#include "log.h"
#include "sys.h"
#include "threads.h"
#include "writer.h"

#define ENDPOINT_MAX_SECONDS 3600

/* A seconds=N request between its start and its answer. One per client at most. */
struct endpoint_window {
    bool used;
    bool sets_rates;            /* rate= or fraction= given */
    uint64_t block, fraction;   /* the rates in force once it began */
    uint64_t changes;           /* lp_rates_changes() then */
    enum lp_profile profile;
    enum lp_writer_format format;
    struct lp_writer_window *w;
    const struct lp_endpoint_hooks *cpu; /* a CPU window: ended through these */
};
/* The CPU window open now (one at a time, as Go's), or NULL. */
static struct endpoint_window *endpoint_cpu_window;
static struct endpoint_window endpoint_windows[LP_HTTPD_MAX_CLIENTS];

int lp_endpoint_windows_open(void)
{
    int n = 0;
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++)
        n += endpoint_windows[i].used;
    return n;
}

/* The stateful deltas of /debug/pprof/delta_block and delta_mutex, by profile: mapped at the
 * path's first request, kept for the life of the process. HTTP thread only. */
static struct lp_writer_window *endpoint_deltas[LP_NPROFILES];
/* When the endpoint began serving: the deltas' first answers hold what was recorded since. */
static int64_t endpoint_start_real;
static uint64_t endpoint_start_mono;

void lp_endpoint_init(void)
{
    endpoint_start_real = lp_clock_realtime();
    endpoint_start_mono = lp_clock_monotonic();
}

void lp_endpoint_atfork_child(void)
{
    lp_rates_atfork_child();
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
        if (endpoint_windows[i].used)
            lp_writer_window_end(endpoint_windows[i].w); /* the child's copy */
        memset(&endpoint_windows[i], 0, sizeof endpoint_windows[i]);
    }
    endpoint_cpu_window = NULL; /* (the child's timers were never armed: cpu.h) */
    for (int p = 0; p < LP_NPROFILES; p++) {
        lp_writer_window_end(endpoint_deltas[p]); /* the child's copy: its profiles are new */
        endpoint_deltas[p] = NULL;
    }
    endpoint_start_real = 0;
    endpoint_start_mono = 0;
}

static void endpoint_window_free(struct endpoint_window *win)
{
    if (win->cpu) {
        win->cpu->cpu_window_end();
        endpoint_cpu_window = NULL;
    }
    if (win->profile == LP_CPU)
        lp_cpuprof_window_close(); /* (answered, or abandoned: its samples are wanted no more) */
    if (win->sets_rates)
        lp_rates_window_end();
    lp_writer_window_end(win->w);
    memset(win, 0, sizeof *win);
}

/* The delta's comment on the rates its window ran at: those it set, if it set any and they
 * held; both ends if they changed meanwhile (another window, the API), each sample being
 * weighted by the rate it was taken at. */
static void endpoint_window_label(struct endpoint_window *win)
{
    char note[240] = "";
    if (lp_rates_changes() != win->changes)
        lp_fmt_sigsafe(note, sizeof note, "rates changed during this window: block rate %llu "
                       "ns, mutex fraction %llu at its start; block rate %llu ns, mutex "
                       "fraction %llu at its end",
                       (unsigned long long)win->block, (unsigned long long)win->fraction,
                       (unsigned long long)lp_rates_block(),
                       (unsigned long long)lp_rates_fraction());
    else if (win->sets_rates)
        lp_fmt_sigsafe(note, sizeof note, "rates set for this window: block rate %llu ns, "
                       "mutex fraction %llu", (unsigned long long)win->block,
                       (unsigned long long)win->fraction);
    lp_writer_window_note(win->w, note);
}

static void endpoint_text(struct lp_http_exchange *x, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void endpoint_text(struct lp_http_exchange *x, int status, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    size_t n = lp_vfmt_sigsafe(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    buf[n++] = '\n';
    x->status = status;
    x->content_type = "text/plain; charset=utf-8";
    lp_sys_write_all(x->body_fd, buf, n);
}

/* Whether the raw query names parameter name (whatever its value, even one too long to
 * decode). */
static bool endpoint_has(const char *query, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = query; *p;) {
        if (strncmp(p, name, len) == 0 && (p[len] == '=' || p[len] == '&' || !p[len]))
            return true;
        p = strchr(p, '&');
        if (!p)
            break;
        p++;
    }
    return false;
}

/* A whole decimal number in [0, max]: true with *present false if absent; false if
 * malformed, out of range or too long. */
static bool endpoint_number(const char *query, const char *name, uint64_t max, bool *present,
                            uint64_t *out)
{
    char v[32];
    *present = endpoint_has(query, name);
    if (!*present)
        return true;
    if (!lp_http_query_get(query, name, v, sizeof v))
        return false;
    uint64_t n = 0;
    if (!v[0])
        return false;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || n > (max - (uint64_t)(*p - '0')) / 10)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *out = n;
    return true;
}

/* A 500 for a body that could not be written: what was written so far is dropped and the
 * reason is the body (or, if the memfd cannot be emptied, a bare 500). */
static void endpoint_failed(struct lp_http_exchange *x, const char *what, int rc)
{
    if (ftruncate(x->body_fd, 0) == 0 && lseek(x->body_fd, 0, SEEK_SET) == 0)
        endpoint_text(x, 500, "cannot %s: %s", what, strerrordesc_np(-rc));
    else
        x->status = 500;
}

/* The answer once a profile has been written to the body (rc: how that went). A pprof
 * profile is application/octet-stream, as Go serves it and as Grafana Alloy requires (it
 * refuses any other Content-Type); its body is gzip data, with no Content-Encoding. */
static void endpoint_profile_written(struct lp_http_exchange *x, int rc,
                                     enum lp_writer_format f, const char *name)
{
    if (rc < 0)
        return endpoint_failed(x, "encode the profile", rc);
    x->status = 200;
    if (f == LP_FORMAT_TEXT) {
        x->content_type = "text/plain; charset=utf-8";
    } else {
        x->content_type = "application/octet-stream";
        x->disposition = name;
    }
}

static void endpoint_answer_profile(struct lp_http_exchange *x, enum lp_profile p,
                                    enum lp_writer_format f, const struct lp_writer_window *w)
{
    endpoint_profile_written(x, lp_writer_encode_to(x->body_fd, p, f, w), f,
                             p == LP_CPU     ? "profile"
                             : p == LP_BLOCK ? (w ? "block-delta" : "block")
                                             : (w ? "mutex-delta" : "mutex"));
}

/*
 * /debug/pprof/delta_block and delta_mutex, Go's stateful deltas (pyroscope-go's godeltaprof;
 * Grafana Alloy's profile.godeltaprof_mutex and _block): a GET answers what was recorded since
 * the previous GET of the same path (the first: since the endpoint started) and moves the
 * path's baseline; a HEAD answers the same without moving it. Clients that share a path share
 * its deltas, as with godeltaprof: each gets what happened since anybody's last request.
 * Parameters are ignored, as godeltaprof does (always pprof).
 */
static void endpoint_delta(struct lp_http_exchange *x, enum lp_profile p)
{
    struct lp_writer_window **w = &endpoint_deltas[p];
    if (!*w) {
        if (!endpoint_start_real)
            lp_endpoint_init();
        *w = lp_writer_delta_begin(endpoint_start_real, endpoint_start_mono);
        if (!*w)
            return endpoint_text(x, 503, "cannot map the delta's baseline: %s",
                                 strerrordesc_np(ENOMEM));
        lp_writer_window_note(*w, p == LP_BLOCK
                                      ? "stateful delta: since the previous request to "
                                        "/debug/pprof/delta_block, by any client"
                                      : "stateful delta: since the previous request to "
                                        "/debug/pprof/delta_mutex, by any client");
    }
    int rc = strcmp(x->method, "GET") == 0
                 ? lp_writer_delta_next(x->body_fd, p, *w)
                 : lp_writer_encode_to(x->body_fd, p, LP_FORMAT_PPROF, *w);
    endpoint_profile_written(x, rc, LP_FORMAT_PPROF,
                             p == LP_BLOCK ? "delta_block" : "delta_mutex");
}

/* A profile Go's servers have and lockprof does not: a one-line 404, as Go answers a profile
 * it does not have ("Unknown profile"). Scrapers ask for several by default (Grafana Alloy
 * and Parca: allocs and goroutine): they log the line and go on with the others. */
static void endpoint_not_profiled(struct lp_http_exchange *x, const char *what)
{
    endpoint_text(x, 404, "Unknown profile: lockprof profiles lock and blocking contention, "
                  "not %s (it serves block, mutex, delta_block, delta_mutex, profile and "
                  "threads)", what);
}

/* A free window with its baseline taken (not yet marked used), or NULL after a 503. */
static struct endpoint_window *endpoint_window_open(struct lp_http_exchange *x)
{
    struct endpoint_window *win = NULL;
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS && !win; i++)
        if (!endpoint_windows[i].used)
            win = &endpoint_windows[i];
    if (!win) {
        endpoint_text(x, 503, "too many windows open at once");
        return NULL;
    }
    win->w = lp_writer_window_begin();
    if (!win->w) {
        endpoint_text(x, 503, "cannot map the window's baseline: %s", strerrordesc_np(ENOMEM));
        return NULL;
    }
    return win;
}

/*
 * /debug/pprof/profile, Go's CPU profile of the next seconds=N (default 30; Alloy and Parca ask
 * with seconds=14): the samples taken in the window, duration_nanos its length. One window at
 * a time: another request meanwhile gets Go's answer for a busy profiler (500). Always pprof,
 * as Go (debug is ignored).
 */
static void endpoint_cpu_profile(struct lp_http_exchange *x, const struct lp_endpoint_hooks *h)
{
    uint64_t seconds = 0;
    bool has_seconds;
    if (!endpoint_number(x->query, "seconds", ENDPOINT_MAX_SECONDS, &has_seconds, &seconds) ||
        (has_seconds && seconds == 0))
        return endpoint_text(x, 400, "invalid value for \"seconds\": expected a whole number "
                             "from 1 to %d", ENDPOINT_MAX_SECONDS);
    if (!has_seconds)
        seconds = 30;
    if (!h || !h->cpu_window_begin)
        return endpoint_text(x, 500, "Could not enable CPU profiling: lockprof has no CPU "
                             "profile here");
    if (endpoint_cpu_window)
        return endpoint_text(x, 500, "Could not enable CPU profiling: cpu profiling already "
                             "in use");
    struct endpoint_window *win = endpoint_window_open(x);
    if (!win)
        return;
    const char *why = "";
    if (h->cpu_window_begin(&why) < 0) {
        lp_writer_window_end(win->w);
        win->w = NULL;
        return endpoint_text(x, 500, "Could not enable CPU profiling: %s", why);
    }
    win->used = true;
    win->profile = LP_CPU;
    win->format = LP_FORMAT_PPROF;
    win->cpu = h;
    endpoint_cpu_window = win;
    x->state = win;
    x->resume_at_ns = x->now_ns + seconds * 1000000000ULL;
}

static const struct {
    const char *path, *what;
} endpoint_absent[] = {
    { "/debug/pprof/allocs", "memory allocations" },
    { "/debug/pprof/heap", "memory allocations" },
    { "/debug/pprof/delta_heap", "memory allocations" },
    { "/debug/pprof/goroutine", "goroutines" },
    { "/debug/pprof/threadcreate", "thread creation" },
    { "/debug/pprof/trace", "execution traces" },
};

static void endpoint_profile(struct lp_http_exchange *x, enum lp_profile p)
{
    uint64_t debug = 0, seconds = 0, rate = 0, fraction = 0;
    bool has_debug, has_seconds, has_rate, has_fraction;
    if (!endpoint_number(x->query, "debug", 1000000, &has_debug, &debug))
        return endpoint_text(x, 400, "invalid value for \"debug\": expected a whole number");
    if (!endpoint_number(x->query, "seconds", ENDPOINT_MAX_SECONDS, &has_seconds, &seconds) ||
        (has_seconds && seconds == 0))
        return endpoint_text(x, 400, "invalid value for \"seconds\": expected a whole number "
                             "from 1 to %d", ENDPOINT_MAX_SECONDS);
    /* The ranges the variables accept (config.c). */
    uint64_t min, rate_max = 0, fraction_max = 0;
    lp_config_range("LOCKPROF_BLOCK_RATE", &min, &rate_max);
    lp_config_range("LOCKPROF_MUTEX_FRACTION", &min, &fraction_max);
    if (!endpoint_number(x->query, "rate", rate_max, &has_rate, &rate))
        return endpoint_text(x, 400, "invalid value for \"rate\": expected a block rate in "
                             "nanoseconds, 0 to %llu", (unsigned long long)rate_max);
    if (!endpoint_number(x->query, "fraction", fraction_max, &has_fraction, &fraction))
        return endpoint_text(x, 400, "invalid value for \"fraction\": expected a mutex "
                             "fraction, 0 to %llu", (unsigned long long)fraction_max);
    if ((has_rate || has_fraction) && !has_seconds)
        return endpoint_text(x, 400, "\"rate\" and \"fraction\" set the rates for a window: "
                             "give \"seconds\" too");
    enum lp_writer_format f = debug > 0 ? LP_FORMAT_TEXT : LP_FORMAT_PPROF;
    if (!has_seconds)
        return endpoint_answer_profile(x, p, f, NULL);

    struct endpoint_window *win = endpoint_window_open(x);
    if (!win)
        return;
    win->used = true;
    win->profile = p;
    win->format = f;
    /* The baseline first, then the rates: nothing recorded under the window's rates is in
     * the baseline. */
    if (has_rate || has_fraction) {
        win->sets_rates = true;
        lp_rates_window_begin(has_rate, rate, has_fraction, fraction);
    }
    win->block = lp_rates_block();
    win->fraction = lp_rates_fraction();
    win->changes = lp_rates_changes();
    x->state = win;
    x->resume_at_ns = x->now_ns + seconds * 1000000000ULL;
}

static void endpoint_threads(struct lp_http_exchange *x)
{
    char format[16] = "";
    lp_http_query_get(x->query, "format", format, sizeof format);
    int f;
    if (!format[0] || strcmp(format, "text") == 0)
        f = LP_THREADS_TEXT;
    else if (strcmp(format, "json") == 0)
        f = LP_THREADS_JSON;
    else
        return endpoint_text(x, 400, "invalid value for \"format\": expected text or json");
    int rc = lp_writer_threads(x->body_fd, f);
    if (rc < 0)
        return endpoint_failed(x, "write the threads view", rc);
    x->status = 200;
    x->content_type = f == LP_THREADS_JSON ? "application/json" : "text/plain; charset=utf-8";
}

/* Go's /debug/pprof/symbol: GET says symbols are available; POST (or GET with a query) names
 * the addresses, "0x…+0x…", one "0x… name" line each (go tool pprof's remote symbolizer). */
static void endpoint_symbol(struct lp_http_exchange *x)
{
    const char *addrs = x->query;
    size_t len = strlen(x->query);
    if (strcmp(x->method, "POST") == 0) {
        addrs = x->body ? x->body : "";
        len = x->body ? x->body_len : 0;
    } else if (len == 0) {
        static const char avail[] = "num_symbols: 1\n";
        lp_sys_write_all(x->body_fd, avail, sizeof avail - 1);
        x->status = 200;
        x->content_type = "text/plain; charset=utf-8";
        return;
    }
    int rc = lp_writer_symbolize(x->body_fd, addrs, len);
    if (rc < 0)
        return endpoint_failed(x, "look the addresses up", rc);
    x->status = 200;
    x->content_type = "text/plain; charset=utf-8";
}

static void endpoint_index(struct lp_http_exchange *x)
{
    struct lp_stacktab_stats st;
    lp_stacktab_stats(&st);
    char buf[3072];
    size_t n = lp_fmt_sigsafe(
        buf, sizeof buf,
        "<html>\n<head><title>/debug/pprof/</title></head>\n<body>\n"
        "<p>lockprof: lock and blocking contention of pid %d</p>\n"
        "<p>Block rate %llu ns, mutex fraction %llu. Windows open: %d.</p>\n"
        "<table>\n<thead><td>Events</td><td>Profile</td></thead>\n"
        "<tr><td>%llu</td><td><a href=\"block?debug=1\">block</a></td></tr>\n"
        "<tr><td>%llu</td><td><a href=\"mutex?debug=1\">mutex</a></td></tr>\n"
        "<tr><td></td><td><a href=\"delta_block\">delta_block</a></td></tr>\n"
        "<tr><td></td><td><a href=\"delta_mutex\">delta_mutex</a></td></tr>\n"
        "<tr><td></td><td><a href=\"profile?seconds=30\">profile</a></td></tr>\n"
        "<tr><td></td><td><a href=\"threads\">threads</a></td></tr>\n"
        "</table>\n"
        "<p>block: stack traces that led to blocking on synchronization primitives "
        "(the waiting thread's stack).<br>\n"
        "mutex: stack traces of holders of contended locks, at the release that ended the "
        "waits (the delay they caused).<br>\n"
        "delta_block, delta_mutex: what was recorded since the previous request to the same "
        "path (pprof, stateful, as godeltaprof serves them); clients that share a path share "
        "its deltas: each gets what happened since anybody's last request.<br>\n"
        "threads: every thread, what it is blocked in now, on which lock, held by whom; "
        "deadlocks first.<br>\n"
        "Parameters: debug=1 (text), seconds=N (a delta of the next N seconds), rate=R and "
        "fraction=F (with seconds: the rates for that window), format=json (threads).<br>\n"
        "profile: the CPU profile of the next seconds=N (default 30), one window at a "
        "time.<br>\n"
        "Not profiled (404): allocs, heap, goroutine, threadcreate.</p>\n"
        "</body>\n</html>\n",
        (int)getpid(), (unsigned long long)lp_rates_block(),
        (unsigned long long)lp_rates_fraction(), lp_endpoint_windows_open(),
        (unsigned long long)st.events[LP_BLOCK],
        (unsigned long long)st.events[LP_MUTEX]);
    lp_sys_write_all(x->body_fd, buf, n);
    x->status = 200;
    x->content_type = "text/html; charset=utf-8";
}

void lp_endpoint_handle(struct lp_http_exchange *x, void *arg)
{
    const struct lp_endpoint_hooks *hooks = arg;
    struct endpoint_window *win = x->state;
    if (x->phase == LP_HTTP_ABORT) {
        if (win)
            endpoint_window_free(win);
        x->state = NULL;
        return;
    }
    if (x->phase == LP_HTTP_RESUME && win) {
        /* The window ends now: the answer first, then the rates go back. (A CPU window's
         * timers go first: its samples are drained into the answer.) */
        if (win->cpu) {
            win->cpu->cpu_window_end();
            win->cpu = NULL;
            endpoint_cpu_window = NULL;
        } else {
            endpoint_window_label(win);
        }
        endpoint_answer_profile(x, win->profile, win->format, win->w);
        endpoint_window_free(win);
        x->state = NULL;
        return;
    }
    const char *path = x->path;
    if (strcmp(path, "/debug/pprof/") == 0 || strcmp(path, "/debug/pprof") == 0)
        return endpoint_index(x);
    if (strcmp(path, "/debug/pprof/block") == 0)
        return endpoint_profile(x, LP_BLOCK);
    if (strcmp(path, "/debug/pprof/mutex") == 0)
        return endpoint_profile(x, LP_MUTEX);
    if (strcmp(path, "/debug/pprof/symbol") == 0)
        return endpoint_symbol(x);
    if (strcmp(x->method, "POST") == 0)
        return endpoint_text(x, 405, "POST is for /debug/pprof/symbol only");
    if (strcmp(path, "/debug/pprof/threads") == 0)
        return endpoint_threads(x);
    if (strcmp(path, "/debug/pprof/delta_block") == 0)
        return endpoint_delta(x, LP_BLOCK);
    if (strcmp(path, "/debug/pprof/delta_mutex") == 0)
        return endpoint_delta(x, LP_MUTEX);
    if (strcmp(path, "/debug/pprof/profile") == 0)
        return endpoint_cpu_profile(x, hooks);
    for (size_t i = 0; i < sizeof endpoint_absent / sizeof endpoint_absent[0]; i++)
        if (strcmp(path, endpoint_absent[i].path) == 0)
            return endpoint_not_profiled(x, endpoint_absent[i].what);
    endpoint_text(x, 404, "unknown profile: %s (this endpoint serves /debug/pprof/block, "
                  "/debug/pprof/mutex, /debug/pprof/delta_block, /debug/pprof/delta_mutex, "
                  "/debug/pprof/profile and /debug/pprof/threads)", path);
}
