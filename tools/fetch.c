/*
 * fetch.c — `lockprof fetch`: a profile or the threads view from a running program's
 * LOCKPROF_HTTP endpoint into a file, as `go tool pprof http://...` would, for machines
 * without Go. The exchange itself is httpc.h's; this file says what to ask for, checks what
 * came back and puts it in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmds.h"
#include "httpc.h"
#include "lockprof.h"
#include "profread.h"

static const char fetch_usage[] =
    "usage: lockprof fetch [OPTIONS] ADDRESS [WHAT]\n"
    "\n"
    "Gets a profile or the threads view from the endpoint of a program running with\n"
    "LOCKPROF_HTTP set, for machines without Go ('go tool pprof http://...' reads\n"
    "the same endpoint).\n"
    "  ADDRESS  what LOCKPROF_HTTP was set to (HOST:PORT or unix:PATH), or the URL\n"
    "           the program printed: 'lockprof: serving http://HOST:PORT/debug/pprof/'\n"
    "  WHAT     mutex    who made threads wait, a pprof profile (the default)\n"
    "           block    where threads waited, a pprof profile\n"
    "           profile  the CPU profile of the next --seconds (default 30), a\n"
    "                    pprof profile (one at a time per program)\n"
    "           threads  what each thread waits for now, on which lock, held by\n"
    "                    whom; a deadlock is named at the top (text)\n"
    "           index    the endpoint's index page\n"
    "           /PATH    any path of the endpoint, with its query, sent as it is\n"
    "\n"
    "A pprof profile goes to a new file in the current directory,\n"
    "lockprof-fetch.WHAT.NNN.pb.gz (NNN = 001, 002, ...: none is overwritten), for\n"
    "'lockprof top' or 'go tool pprof'; text goes to standard output. Files are\n"
    "written under a temporary name and renamed when complete: a failed fetch\n"
    "leaves no file and keeps the one that was there.";
/* Then the largest answer taken (the largest profile 'lockprof top' reads), and the rest. */
static const char fetch_usage_rest[] =
    "\n"
    "options:\n"
    "  -o, --output FILE  write FILE; '-' = standard output (for pprof, not a\n"
    "                     terminal); an existing directory DIR means a new file\n"
    "                     DIR/lockprof-fetch.WHAT.NNN.EXT\n"
    "  --seconds N        a delta: the waits of the next N seconds, not all since\n"
    "                     the start (the answer comes after N seconds); for\n"
    "                     'profile', the CPU time of the next N seconds\n"
    "  --rate NS          with --seconds: the block profile rate for those seconds\n"
    "  --fraction N       with --seconds: the mutex profile fraction for those\n"
    "                     seconds (the program's own come back after: a program\n"
    "                     running with rates 0 can be profiled for a while)\n"
    "  --debug 1          the profile as text (debug=1) instead of pprof\n"
    "  --json             the threads view as JSON\n"
    "  --timeout S        give up S seconds after the --seconds window (default 30)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 when written; 1 when the fetch failed (no connection, no answer\n"
    "in time, an error from the endpoint, shown as it came, a profile that is not\n"
    "complete gzip data); 2 for usage errors.\n"
    "\n"
    "examples:\n"
    "  lockprof fetch 127.0.0.1:6060 threads\n"
    "  lockprof fetch --seconds 30 unix:/run/srv.sock    # lockprof-fetch.mutex.001.pb.gz\n"
    "  lockprof fetch --seconds 10 --rate 1 --fraction 1 127.0.0.1:6060 block\n"
    "  lockprof fetch --seconds 10 127.0.0.1:6060 profile  # lockprof-fetch.profile.001.pb.gz\n";

/* The largest answer taken, head and body as they come: the largest profile that
 * 'lockprof top' reads. It is also what a fetch holds in memory at most. */
#define FETCH_MAX_ANSWER LP_PROFREAD_MAX_FILE

enum fetch_kind {
    FETCH_BLOCK, FETCH_MUTEX, FETCH_THREADS, FETCH_INDEX, FETCH_PROFILE, FETCH_PATH
};

static const char *const fetch_kind_names[] = { "block", "mutex", "threads", "index", "profile" };
#define FETCH_KINDS (sizeof fetch_kind_names / sizeof fetch_kind_names[0])
/* Go's default window for the CPU profile. */
#define FETCH_CPU_SECONDS 30

/* The temporary file while it exists: removed at exit (lp_cli_fail() included) and on signals. */
static char *volatile fetch_tmp;

static void fetch_remove_tmp(void)
{
    if (fetch_tmp)
        unlink(fetch_tmp);
}

/* SA_RESETHAND: the signal, raised again, kills with the default action on return. */
static void fetch_on_signal(int sig)
{
    int saved = errno;
    if (fetch_tmp)
        unlink(fetch_tmp);
    raise(sig);
    errno = saved;
}

/* The value of name in the query of path ("/x?a=1&b=2"), or NULL; not decoded. */
static char *fetch_query_value(const char *path, const char *name)
{
    const char *q = strchr(path, '?');
    size_t n = strlen(name);
    while (q) {
        q++;
        if (strncmp(q, name, n) == 0 && (q[n] == '=' || q[n] == '&' || q[n] == '\0')) {
            const char *v = q[n] == '=' ? q + n + 1 : q + n;
            return lp_cli_xasprintf("%.*s", (int)strcspn(v, "&"), v);
        }
        q = strchr(q, '&');
    }
    return NULL;
}

/* The first line of a body, short and escaped (lp_cli_escape), for an error message. */
static char *fetch_first_line(const uint8_t *body, size_t len)
{
    size_t n = 0;
    while (n < len && n < 300 && body[n] != '\n')
        n++;
    char *s = lp_cli_xasprintf("%.*s", (int)n, (const char *)body);
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
    char *e = lp_cli_escape(s);
    free(s);
    return e;
}

/* Writes all of buf to fd, through partial writes and EINTR. 0 or -errno. */
static int fetch_write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Opens the temporary file in dir (before anything is fetched: a path that cannot be written
 * fails at once, not after --seconds), with the mode a new file would get (mkstemp's is 0600).
 */
static int fetch_open_tmp(const char *dir, const char *given)
{
    char *tmp = lp_cli_xasprintf("%s.lockprof-fetch.XXXXXX", dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (given)
            lp_cli_fail(LP_CLI_USAGE, "fetch", "-o '%s': cannot write in %s: %s", given,
                        *dir ? dir : ".", strerror(e));
        lp_cli_fail(LP_CLI_USAGE, "fetch", "cannot write in the current directory: %s (use "
                    "-o)", strerror(e));
    }
    fetch_tmp = tmp;
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    return fd;
}

/* Moves the finished temporary file to the first free dir + base.NNN.ext, never replacing
 * a file (RENAME_NOREPLACE, or link() where the file system lacks it). The name used. */
static char *fetch_place_numbered(const char *dir, const char *base, const char *ext)
{
    for (unsigned n = 1; n < 1000000; n++) {
        char *name = lp_cli_xasprintf("%s%s.%03u.%s", dir, base, n, ext);
        int rc = renameat2(AT_FDCWD, fetch_tmp, AT_FDCWD, name, RENAME_NOREPLACE);
        if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
            rc = link(fetch_tmp, name);
            if (rc == 0)
                unlink(fetch_tmp);
        }
        if (rc == 0)
            return name;
        int e = errno;
        free(name);
        if (e != EEXIST)
            lp_cli_fail(1, "fetch", "writing %s%s.NNN.%s: %s", dir, base, ext, strerror(e));
    }
    lp_cli_fail(1, "fetch", "writing %s%s.NNN.%s: no free number", dir, base, ext);
}

/* What the command line asks for. */
struct fetch_opts {
    const char *address, *what; /* ADDRESS and WHAT (NULL if not given) */
    const char *out;            /* -o, or NULL */
    const char *qopt;           /* the last option that sets a query parameter, or NULL */
    bool json, has_seconds, has_rate, has_fraction, has_debug;
    uint64_t seconds, rate, fraction, debug, timeout;
};

/* Parses the options into o; false when -h asked for the usage (printed). */
static bool fetch_options(int argc, char **argv, struct fetch_opts *o)
{
    const char *pos[3] = { NULL, NULL, NULL };
    int npos = 0;
    bool opts_done = false;
    char expected[320];
    memset(o, 0, sizeof *o);
    o->timeout = 30;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (opts_done || a[0] != '-' || a[1] == '\0') {
            if (npos == 2)
                lp_cli_usage_error("fetch", "unexpected argument '%s' after ADDRESS and WHAT",
                                   a);
            pos[npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            opts_done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            unsigned long long mib = FETCH_MAX_ANSWER >> 20;
            printf("%s\nAn answer over %llu %s is refused.\n%s", fetch_usage,
                   mib % 1024 ? mib : mib / 1024, mib % 1024 ? "MiB" : "GiB", fetch_usage_rest);
            return false;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
            o->qopt = "--json";
        } else if ((v = lp_cli_opt_value("fetch", argc, argv, &i, "--output", "-o"))) {
            if (!*v)
                lp_cli_usage_error("fetch", "-o '': expected a file name, a directory or -");
            o->out = v;
        } else if ((v = lp_cli_opt_value("fetch", argc, argv, &i, "--seconds", NULL))) {
            if (!lp_cli_parse_whole(v, 86400, &o->seconds) || o->seconds == 0)
                lp_cli_usage_error("fetch", "--seconds '%s': expected a whole number of "
                                   "seconds from 1 to 86400", v);
            o->has_seconds = true;
            o->qopt = "--seconds";
        } else if ((v = lp_cli_opt_value("fetch", argc, argv, &i, "--rate", NULL))) {
            /* The endpoint's rate and fraction are the library's variables, for a while. */
            if (!lp_cli_config_number("LOCKPROF_BLOCK_RATE", v, &o->rate, expected,
                                      sizeof expected))
                lp_cli_usage_error("fetch", "--rate '%s': %s", v, expected);
            o->has_rate = true;
            o->qopt = "--rate";
        } else if ((v = lp_cli_opt_value("fetch", argc, argv, &i, "--fraction", NULL))) {
            if (!lp_cli_config_number("LOCKPROF_MUTEX_FRACTION", v, &o->fraction, expected,
                                      sizeof expected))
                lp_cli_usage_error("fetch", "--fraction '%s': %s", v, expected);
            o->has_fraction = true;
            o->qopt = "--fraction";
        } else if ((v = lp_cli_opt_value("fetch", argc, argv, &i, "--debug", NULL))) {
            if (!lp_cli_parse_whole(v, 9, &o->debug) || o->debug > 1)
                lp_cli_usage_error("fetch", "--debug '%s': expected 1 (text) or 0 (pprof)", v);
            o->has_debug = true;
            o->qopt = "--debug";
        } else if ((v = lp_cli_opt_value("fetch", argc, argv, &i, "--timeout", NULL))) {
            if (!lp_cli_parse_whole(v, 86400, &o->timeout) || o->timeout == 0)
                lp_cli_usage_error("fetch", "--timeout '%s': expected a whole number of "
                                   "seconds from 1 to 86400", v);
        } else {
            lp_cli_usage_error("fetch", "unknown option '%s'", a);
        }
    }
    if (npos == 0)
        lp_cli_usage_error("fetch", "no address to fetch from");
    o->address = pos[0];
    o->what = pos[1];
    return true;
}

/* What is fetched, and what the answer is. */
struct fetch_request {
    enum fetch_kind kind;
    char *target;        /* the request target: path and query */
    char *what;          /* for messages: "mutex profile, delta of 10 s" */
    const char *name;    /* for files: lockprof-fetch.NAME.NNN.EXT */
    bool pprof;          /* the answer is a gzip-compressed profile */
};

/* The request o asks for at addr. A path's query sets o->json and o->seconds, as the
 * options would have. Usage errors for what does not go together. */
static void fetch_describe(struct fetch_opts *o, const struct lp_httpc_addr *addr,
                           struct fetch_request *rq)
{
    /* What to fetch: a name, a path, or the path of an http:// address. */
    enum fetch_kind kind = FETCH_MUTEX;
    const char *path = addr->url_path;
    if (o->what && path)
        lp_cli_usage_error("fetch", "both the address '%s' and '%s' say what to fetch; give "
                           "one", o->address, o->what);
    if (o->what && o->what[0] == '/') {
        if (!lp_httpc_path_ok(o->what))
            lp_cli_usage_error("fetch", "'%s': spaces, control characters and non-ASCII in a "
                               "path must be percent-encoded", o->what);
        path = o->what;
    } else if (o->what) {
        size_t k = 0;
        while (k < FETCH_KINDS && strcmp(o->what, fetch_kind_names[k]) != 0)
            k++;
        if (k == FETCH_KINDS)
            lp_cli_usage_error("fetch", "'%s': expected block, mutex, profile, threads, index or "
                               "a path starting with /", o->what);
        kind = (enum fetch_kind)k;
    }
    if (path && o->qopt)
        lp_cli_usage_error("fetch", "%s does not go with a path: write the parameters in its "
                           "query", o->qopt);
    if (path)
        kind = FETCH_PATH;

    bool profile = kind == FETCH_BLOCK || kind == FETCH_MUTEX;
    if (o->json && kind != FETCH_THREADS)
        lp_cli_usage_error("fetch", "--json is for the threads view ('threads')");
    if (o->has_debug && !profile)
        lp_cli_usage_error("fetch", "--debug is for the block and mutex profiles%s",
                           kind == FETCH_THREADS ? " (--json for the threads view)" : "");
    if (kind == FETCH_PROFILE && (o->has_debug || o->has_rate || o->has_fraction))
        lp_cli_usage_error("fetch", "%s is for the block and mutex profiles: 'profile' takes "
                           "--seconds only", o->has_debug  ? "--debug"
                                             : o->has_rate ? "--rate"
                                                           : "--fraction");
    if (o->has_seconds && !profile && kind != FETCH_PROFILE)
        lp_cli_usage_error("fetch", "--seconds is for the block, mutex and CPU profiles");
    if ((o->has_rate || o->has_fraction) && !o->has_seconds)
        lp_cli_usage_error("fetch", "%s needs --seconds: it sets the rate for that window only",
                           o->has_rate ? "--rate" : "--fraction");

    /* The request target, what the answer is, and a name for it. */
    rq->kind = kind;
    rq->name = kind == FETCH_PATH ? "answer" : fetch_kind_names[kind]; /* files' */
    if (kind == FETCH_PATH) {
        /* A path the endpoint knows is named, and checked, as if WHAT had named it. */
        rq->target = lp_cli_xstrdup(path);
        rq->what = lp_cli_xstrdup(path);
        char *d = fetch_query_value(path, "debug"), *s = fetch_query_value(path, "seconds");
        char *f = fetch_query_value(path, "format");
        size_t plen = strcspn(path, "?");
        rq->pprof = false;
        for (size_t k = 0; k < FETCH_KINDS; k++)
            if (k != FETCH_INDEX && plen == 13 + strlen(fetch_kind_names[k]) &&
                strncmp(path, "/debug/pprof/", 13) == 0 &&
                strncmp(path + 13, fetch_kind_names[k], plen - 13) == 0) {
                rq->name = fetch_kind_names[k];
                rq->pprof = k != FETCH_THREADS && (!d || strcmp(d, "0") == 0);
            }
        o->json = f && strcmp(f, "json") == 0;
        if (s && !lp_cli_parse_whole(s, 86400, &o->seconds))
            o->seconds = 0;
        if (!s && strcmp(rq->name, "profile") == 0)
            o->seconds = FETCH_CPU_SECONDS; /* (the endpoint's default window: Go's) */
        free(d);
        free(s);
        free(f);
    } else if (kind == FETCH_THREADS) {
        rq->target = lp_cli_xstrdup(o->json ? "/debug/pprof/threads?format=json"
                                            : "/debug/pprof/threads");
        rq->what = lp_cli_xstrdup(o->json ? "threads view, JSON" : "threads view");
        rq->pprof = false;
    } else if (kind == FETCH_PROFILE) {
        if (!o->has_seconds)
            o->seconds = FETCH_CPU_SECONDS;
        rq->target = lp_cli_xasprintf("/debug/pprof/profile?seconds=%" PRIu64, o->seconds);
        rq->what = lp_cli_xasprintf("CPU profile of %" PRIu64 " s", o->seconds);
        rq->pprof = true;
    } else if (kind == FETCH_INDEX) {
        rq->target = lp_cli_xstrdup("/debug/pprof/");
        rq->what = lp_cli_xstrdup("index page");
        rq->pprof = false;
    } else {
        char q[160] = "", w[160] = "";
        size_t qn = 0, wn = 0;
        if (o->debug) {
            qn += (size_t)snprintf(q + qn, sizeof q - qn, "&debug=1");
            wn += (size_t)snprintf(w + wn, sizeof w - wn, ", debug=1 text");
        }
        if (o->has_seconds) {
            qn += (size_t)snprintf(q + qn, sizeof q - qn, "&seconds=%" PRIu64, o->seconds);
            wn += (size_t)snprintf(w + wn, sizeof w - wn, ", delta of %" PRIu64 " s",
                                   o->seconds);
        }
        if (o->has_rate) {
            qn += (size_t)snprintf(q + qn, sizeof q - qn, "&rate=%" PRIu64, o->rate);
            wn += (size_t)snprintf(w + wn, sizeof w - wn, ", block rate %" PRIu64, o->rate);
        }
        if (o->has_fraction) {
            qn += (size_t)snprintf(q + qn, sizeof q - qn, "&fraction=%" PRIu64, o->fraction);
            wn += (size_t)snprintf(w + wn, sizeof w - wn, ", mutex fraction %" PRIu64,
                                   o->fraction);
        }
        rq->target = lp_cli_xasprintf("/debug/pprof/%s%s%s", fetch_kind_names[kind],
                                      qn ? "?" : "", qn ? q + 1 : "");
        rq->what = lp_cli_xasprintf("%s profile%s", fetch_kind_names[kind], w);
        rq->pprof = !o->debug;
    }
}

/* Where the answer goes. */
struct fetch_dest {
    int direct;          /* written to as it is (stdout, a device, a FIFO), or -1 */
    int fd;              /* else the temporary file in dir */
    char *dir;           /* "" (the current directory) or ending in '/' */
    char *file;          /* the file named by -o, or NULL: a new numbered one in dir */
};

/*
 * Text: standard output. pprof: a new numbered file (a binary profile is something to keep
 * and hand to a reader, and never goes to a terminal); "-o -" sends it to standard output
 * when that is not a terminal. A regular file is replaced by rename (through a symbolic link:
 * the link stays); a device or a FIFO (/dev/null, a pipe's /dev/stdout) is written to as it
 * is, never replaced.
 */
static void fetch_destination(const char *out, bool pprof, struct fetch_dest *d)
{
    bool to_stdout = out ? strcmp(out, "-") == 0 : !pprof;
    memset(d, 0, sizeof *d);
    d->direct = to_stdout ? STDOUT_FILENO : -1;
    d->fd = -1;
    if (!to_stdout) {
        struct stat st, lst;
        bool exists = out && stat(out, &st) == 0;
        char *real = exists && lstat(out, &lst) == 0 && S_ISLNK(lst.st_mode)
                         ? realpath(out, NULL)
                         : NULL;
        if (exists && !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            d->direct = open(out, O_WRONLY | O_CLOEXEC);
            if (d->direct < 0)
                lp_cli_fail(LP_CLI_USAGE, "fetch", "-o '%s': %s", out, strerror(errno));
            d->file = lp_cli_xstrdup(out);
        } else if (!out || (exists && S_ISDIR(st.st_mode))) {
            /* A new numbered file in the current directory or in DIR. */
            d->dir = !out ? lp_cli_xstrdup("")
                          : lp_cli_xasprintf("%s%s", out, out[strlen(out) - 1] == '/' ? "" : "/");
        } else {
            d->file = real ? real : lp_cli_xstrdup(out);
            real = NULL;
            const char *slash = strrchr(d->file, '/');
            d->dir = slash ? lp_cli_xasprintf("%.*s", (int)(slash - d->file + 1), d->file)
                           : lp_cli_xstrdup("");
        }
        free(real);
    }
    if (d->direct >= 0 && pprof && isatty(d->direct))
        lp_cli_usage_error("fetch", "not writing a binary profile to a terminal: give -o FILE, "
                           "or redirect standard output");
    if (d->direct < 0) {
        atexit(fetch_remove_tmp);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = fetch_on_signal;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };
        for (size_t s = 0; s < sizeof sigs / sizeof sigs[0]; s++) {
            struct sigaction old;
            if (sigaction(sigs[s], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
                sigaction(sigs[s], &sa, NULL);
        }
        d->fd = fetch_open_tmp(d->dir, out);
    }
}

/* The whole exchange within limit seconds; a one-line message and exit 1 if it fails. */
static void fetch_exchange(const struct lp_httpc_addr *addr, const char *target,
                           const char *where, uint64_t limit, struct lp_httpc_answer *ans)
{
    struct lp_httpc_call call;
    char *req = lp_httpc_request(target, addr, "lockprof-fetch/" LOCKPROF_VERSION);
    if (!req)
        lp_cli_fail(LP_CLI_USAGE, NULL, "out of memory");
    lp_httpc_call_init(&call, limit, FETCH_MAX_ANSWER);
    int sock = lp_httpc_connect(addr, &call);
    int rc = sock < 0 ? sock : lp_httpc_send(sock, req, strlen(req), &call);
    if (rc == 0)
        rc = lp_httpc_receive(sock, &call, ans);
    if (rc < 0 && !call.err) /* no memory even for the reason */
        lp_cli_fail(LP_CLI_USAGE, NULL, "out of memory");
    if (sock < 0) /* connect's reason names the address */
        lp_cli_fail(1, "fetch", "%s", lp_cli_escape(call.err));
    if (rc < 0) /* it may quote what the server sent */
        lp_cli_fail(1, "fetch", "%s: %s", where, lp_cli_escape(call.err));
    close(sock);
    lp_httpc_call_done(&call);
    free(req);
}

/* Exit 1 unless the answer is one to write where it goes. */
static void fetch_check_answer(const struct lp_httpc_answer *ans, const char *where,
                               bool pprof, int direct)
{
    if (ans->status != 200) {
        /* The endpoint's errors are one line of text/plain; other bodies are not shown. */
        bool text = !ans->type[0] || strncasecmp(ans->type, "text/plain", 10) == 0;
        char *line = text ? fetch_first_line(ans->body, ans->len) : lp_cli_xstrdup("");
        lp_cli_fail(1, "fetch", "%s: %d%s%s%s%s", where, ans->status,
                    ans->reason[0] ? " " : "", lp_cli_escape(ans->reason),
                    line[0] ? ": " : "", line);
    }
    if (pprof) {
        /* The whole gzip stream, not only its magic: a body cut short by a close is refused. */
        if (ans->len < 2 || ans->body[0] != 0x1f || ans->body[1] != 0x8b) {
            char *line = fetch_first_line(ans->body, ans->len);
            lp_cli_fail(1, "fetch", "%s: the answer is not a gzip-compressed profile "
                        "(%zu bytes%s%s%s%s%s)", where, ans->len, ans->type[0] ? ", " : "",
                        lp_cli_escape(ans->type), line[0] ? ", beginning '" : "", line, line[0] ? "'" : "");
        }
        int rc = lp_profread_gzip_check(ans->body, ans->len);
        if (rc < 0)
            lp_cli_fail(1, "fetch", "%s: the profile is %s", where,
                        rc == -EBADMSG ? "truncated or corrupt gzip data"
                        : rc == -EFBIG ? "larger than 2 GiB once inflated" : strerror(-rc));
    } else if (direct >= 0 && isatty(direct) &&
               (memchr(ans->body, '\0', ans->len) ||
                strncasecmp(ans->type, "application/octet-stream", 24) == 0)) {
        lp_cli_fail(1, "fetch", "%s: the answer is binary (%s); not writing it to a terminal: "
                    "give -o FILE", where,
                    ans->type[0] ? lp_cli_escape(ans->type) : "no Content-Type");
    }
}

int cmd_fetch(int argc, char **argv)
{
    struct fetch_opts o;
    if (!fetch_options(argc, argv, &o))
        return 0;

    struct lp_httpc_addr addr;
    char err[1024];
    int rc = lp_httpc_parse_address(o.address, &addr, err, sizeof err);
    if (rc == -ENOMEM)
        lp_cli_fail(LP_CLI_USAGE, NULL, "out of memory");
    if (rc < 0)
        lp_cli_usage_error("fetch", "%s", err);

    struct fetch_request rq;
    fetch_describe(&o, &addr, &rq);
    struct fetch_dest d;
    fetch_destination(o.out, rq.pprof, &d);

    /* The request: one deadline for everything, --seconds (the window) + --timeout. */
    uint64_t limit = o.seconds + o.timeout;
    char *where = lp_cli_xasprintf("%s from %s", rq.target, addr.display);
    if (o.seconds && isatty(STDERR_FILENO))
        lp_cli_message("fetch", "%s: the answer comes in %" PRIu64 " s", where, o.seconds);
    struct lp_httpc_answer ans;
    fetch_exchange(&addr, rq.target, where, limit, &ans);
    fetch_check_answer(&ans, where, rq.pprof, d.direct);

    if (d.direct >= 0) {
        fflush(stdout);
        rc = fetch_write_all(d.direct, ans.body, ans.len);
        if (rc == 0 && d.file && close(d.direct) != 0)
            rc = -errno;
        if (rc < 0)
            lp_cli_fail(1, "fetch", "writing %s: %s", d.file ? d.file : "to standard output",
                        strerror(-rc));
        if (d.file)
            lp_cli_message("fetch", "wrote %zu bytes to %s (%s)", ans.len, d.file, rq.what);
        goto out_free;
    }

    rc = fetch_write_all(d.fd, ans.body, ans.len);
    if (rc == 0 && fsync(d.fd) != 0 && errno != EINVAL)
        rc = -errno;
    if (close(d.fd) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        lp_cli_fail(1, "fetch", "writing %s: %s", d.file ? d.file : *d.dir ? d.dir : "./",
                    strerror(-rc));
    if (d.file) {
        if (rename(fetch_tmp, d.file) != 0)
            lp_cli_fail(1, "fetch", "writing %s: %s", d.file, strerror(errno));
    } else {
        const char *ext = rq.pprof                  ? "pb.gz"
                          : rq.kind == FETCH_INDEX  ? "html"
                          : o.json                  ? "json"
                                                    : "txt";
        char *base = lp_cli_xasprintf("lockprof-fetch.%s", rq.name);
        d.file = fetch_place_numbered(d.dir, base, ext);
        free(base);
    }
    char *tmp = fetch_tmp;
    fetch_tmp = NULL;
    free(tmp);
    lp_cli_message("fetch", "wrote %zu bytes to %s (%s)", ans.len, d.file, rq.what);

out_free:
    free(d.file);
    free(d.dir);
    free(where);
    free(rq.what);
    free(rq.target);
    lp_httpc_answer_free(&ans);
    lp_httpc_addr_free(&addr);
    return 0;
}
