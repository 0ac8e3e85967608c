/*
 * lockprof.c — the lockprof command (DESIGN §7, tools/).
 *
 *   lockprof run [--block-rate NS] [--mutex-fraction N] [-o PREFIX] [--] PROGRAM ARGS...
 *   lockprof top [-n N] [--by delay|contentions] [--stacks] FILE...
 *   lockprof fetch [-o FILE] [--seconds N [--rate NS] [--fraction N]] [--debug 1] [--json]
 *                  [--timeout S] ADDRESS [WHAT]
 *
 * `run` starts PROGRAM with liblockprof.so preloaded, passes on the termination signals sent
 * to lockprof itself, says where the profiles went and leaves with PROGRAM's status (or dies
 * of the same signal). `top` reads any pprof profile that has contentions and delay sample
 * types (lockprof's or Go's block and mutex profiles) and prints its heaviest functions, as
 * `go tool pprof -top` does, then its heaviest stacks, for machines without Go. `fetch` gets
 * a profile or the threads view from a running program's LOCKPROF_HTTP endpoint into a file,
 * as `go tool pprof http://...` would, also for machines without Go.
 *
 * This program is not inside the profiled process: it may use malloc and stdio. Messages are
 * one line each, "lockprof CMD: ...". Exit status 2 for usage errors and for files `top`
 * cannot read; `run` otherwise leaves with the program's status; `fetch` exits 1 when the
 * fetch itself failed (no connection, no answer in time, an error from the endpoint).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "lockprof.h"
#include "profile.pb-c.h"

#define TOOL_VERSION LOCKPROF_VERSION

#define EXIT_USAGE 2

/*
 * The ranges lp_config_load() accepts (core/config.c): a value the library would reject is
 * refused here, before the program runs, rather than replaced by a default inside it.
 */
#define RUN_BLOCK_RATE_MAX 1000000000000ULL
#define RUN_MUTEX_FRACTION_MAX 1000000000ULL
#define RUN_OUT_MAX 512                  /* LP_PATH_MAX / 2: strlen(prefix) must stay below */
#define RUN_DEFAULT_OUT "lockprof.%p"

/* gzip bombs and mistakes: no real profile comes near this. */
#define TOP_MAX_FILE (1ULL << 30)
#define TOP_MAX_INFLATED (1ULL << 31)
#define TOP_DEFAULT_N 20
#define TOP_DEFAULT_STACKS 5

static const char main_usage[] =
    "usage: lockprof run [OPTIONS] [--] PROGRAM [ARGS...]\n"
    "       lockprof top [OPTIONS] FILE...\n"
    "       lockprof fetch [OPTIONS] ADDRESS [WHAT]\n"
    "       lockprof --help | --version\n"
    "\n"
    "lockprof finds lock contention in unmodified programs that use POSIX threads.\n"
    "'run' starts PROGRAM with liblockprof.so preloaded; when PROGRAM ends, two pprof\n"
    "profiles in Go's format are written:\n"
    "  PREFIX.block.pb.gz   where threads waited (stacks of the waiting threads)\n"
    "  PREFIX.mutex.pb.gz   who made them wait (stacks that released a lock others waited for)\n"
    "'top' prints the heaviest functions and stacks of such a profile, for machines\n"
    "without Go; 'go tool pprof' reads the same files. 'fetch' gets the profiles, or\n"
    "what each thread waits for now, from a program running with LOCKPROF_HTTP set.\n"
    "\n"
    "commands:\n"
    "  run        run a program under the profiler   (see 'lockprof run --help')\n"
    "  top        summarize a contention profile     (see 'lockprof top --help')\n"
    "  fetch      get a running program's profile    (see 'lockprof fetch --help')\n"
    "\n"
    "options:\n"
    "  -h, --help     show this help\n"
    "  --version      print the version\n"
    "\n"
    "example:\n"
    "  lockprof run -o /tmp/srv -- ./server --port 8080\n"
    "  lockprof top /tmp/srv.mutex.pb.gz\n";

static const char run_usage[] =
    "usage: lockprof run [OPTIONS] [--] PROGRAM [ARGS...]\n"
    "\n"
    "Runs PROGRAM with liblockprof.so preloaded and waits for it. When it ends, lockprof\n"
    "says where the profiles are and exits with PROGRAM's status, or dies of the same\n"
    "signal. SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to lockprof with\n"
    "kill are passed on to PROGRAM (LOCKPROF_SIGNAL=SIGUSR2 then takes snapshots).\n"
    "\n"
    "options:\n"
    "  --block-rate NS      block profile: record every wait of NS nanoseconds or more,\n"
    "                       and shorter ones with probability wait/NS, weighted so that\n"
    "                       totals stay right (0 = off, 1 = every wait; default 100000)\n"
    "  --mutex-fraction N   mutex profile: record one in N of the lock releases that\n"
    "                       made threads wait, scaled by N (0 = off, 1 = all; default 10)\n"
    "  -o, --output PREFIX  write PREFIX.block.pb.gz and PREFIX.mutex.pb.gz (default\n"
    "                       ./lockprof.%p; %p = process id, %t = start time, %% = %;\n"
    "                       an existing directory DIR means DIR/lockprof.%p)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Without --block-rate and --mutex-fraction, $LOCKPROF_BLOCK_RATE and\n"
    "$LOCKPROF_MUTEX_FRACTION apply if set; other LOCKPROF_* variables pass through.\n"
    "Exit status: PROGRAM's; 127 if PROGRAM was not found, 126 if it could not be\n"
    "executed, 2 if lockprof itself failed.\n";

static const char top_usage[] =
    "usage: lockprof top [OPTIONS] FILE...\n"
    "\n"
    "Prints the heaviest functions of a contention profile (lockprof's, or Go's block and\n"
    "mutex profiles; gzip-compressed or not; '-' reads standard input), the way\n"
    "'go tool pprof -top' does, then the heaviest stacks.\n"
    "  flat = samples whose leaf frame is the function. In lockprof's profiles the leaf\n"
    "         is the blocking call itself (pthread_mutex_lock, pthread_cond_wait, ...).\n"
    "  cum  = samples whose stack contains the function anywhere.\n"
    "\n"
    "options:\n"
    "  -n N                     show the N heaviest functions (default 20, 0 = all)\n"
    "  --by delay|contentions   sort by time waited (default) or by number of waits\n"
    "  --stacks                 show the N heaviest stacks (default: the 5 heaviest)\n"
    "  -h, --help               show this help\n";

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
    "           threads  what each thread waits for now, on which lock, held by\n"
    "                    whom; a deadlock is named at the top (text)\n"
    "           index    the endpoint's index page\n"
    "           /PATH    any path of the endpoint, with its query, sent as it is\n"
    "\n"
    "A pprof profile goes to a new file in the current directory,\n"
    "lockprof-fetch.WHAT.NNN.pb.gz (NNN = 001, 002, ...: none is overwritten), for\n"
    "'lockprof top' or 'go tool pprof'; text goes to standard output. Files are\n"
    "written under a temporary name and renamed when complete: a failed fetch\n"
    "leaves no file and keeps the one that was there.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE  write FILE; '-' = standard output (for pprof, not a\n"
    "                     terminal); an existing directory DIR means a new file\n"
    "                     DIR/lockprof-fetch.WHAT.NNN.EXT\n"
    "  --seconds N        a delta: the waits of the next N seconds, not all since\n"
    "                     the start (the answer comes after N seconds)\n"
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
    "  lockprof fetch --seconds 10 --rate 1 --fraction 1 127.0.0.1:6060 block\n";

/* ------------------------------------------------------------------------------------- */
/* messages */

static void vmessage(const char *cmd, const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, cmd ? "lockprof %s: " : "lockprof: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void message(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void message(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, fmt, ap);
    va_end(ap);
}

static void fail(int status, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static void fail(int status, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(cmd, fmt, ap);
    va_end(ap);
    exit(status);
}

/* A usage error: the message, a hint, one line, exit 2. */
static void usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cmd)
        fail(EXIT_USAGE, cmd, "%s; try 'lockprof %s --help'", msg, cmd);
    fail(EXIT_USAGE, NULL, "%s; try 'lockprof --help'", msg);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        fail(EXIT_USAGE, NULL, "out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        fail(EXIT_USAGE, NULL, "out of memory");
    return p;
}

static void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n ? n : 1);
    if (!p)
        fail(EXIT_USAGE, NULL, "out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        fail(EXIT_USAGE, NULL, "out of memory");
    return s;
}

/* Parses a whole decimal number, digits only, up to max. 0, -EINVAL or -ERANGE. */
static int parse_whole(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/*
 * Matches argv[*i] against an option that takes a value: "--long VALUE", "--long=VALUE",
 * "-s VALUE" or "-sVALUE". Returns the value (advancing *i past it), or NULL if argv[*i] is
 * another option.
 */
static const char *opt_value(const char *cmd, int argc, char **argv, int *i, const char *lng,
                             const char *shrt)
{
    const char *a = argv[*i];
    size_t n = strlen(lng);
    if (strncmp(a, lng, n) == 0 && a[n] == '=')
        return a + n + 1;
    if (shrt && strncmp(a, shrt, 2) == 0 && a[2] != '\0')
        return a + 2;
    if (strcmp(a, lng) != 0 && !(shrt && strcmp(a, shrt) == 0))
        return NULL;
    if (*i + 1 >= argc)
        usage_error(cmd, "option '%s' needs a value", a);
    return argv[++*i];
}

/* ------------------------------------------------------------------------------------- */
/* run: finding the library, the prefix, the files written */

/*
 * liblockprof.so beside this executable (the build tree) or in ../lib (make install). The
 * path must be absolute and free of spaces and colons, which separate LD_PRELOAD entries.
 */
static int run_find_library(char *out, char *exe_dir, size_t exe_size)
{
    char exe[PATH_MAX];
    exe_dir[0] = '\0';
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return -errno;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -EINVAL;
    *slash = '\0';
    snprintf(exe_dir, exe_size, "%s", exe[0] ? exe : "/");

    static const char *const candidates[] = { "/liblockprof.so", "/../lib/liblockprof.so" };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char path[PATH_MAX + 32];
        struct stat st;
        snprintf(path, sizeof path, "%s%s", exe, candidates[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        return realpath(path, out) ? 0 : -errno; /* out: PATH_MAX bytes */
    }
    return -ENOENT;
}

/* Removes "." components and doubled slashes from an absolute path, in place. ".." stays:
 * with symbolic links it does not simply cancel the component before it. */
static void run_tidy_path(char *path)
{
    char *w = path;
    for (const char *r = path; *r;) {
        if (r[0] == '/' && (r[1] == '/' || (r[1] == '.' && (r[2] == '/' || r[2] == '\0')))) {
            r += r[1] == '/' ? 1 : 2;
            continue;
        }
        *w++ = *r++;
    }
    if (w == path)
        *w++ = '/';
    *w = '\0';
}

/*
 * The absolute form of the -o prefix, checked the way the library checks LOCKPROF_OUT (an
 * unusable value there silently falls back to the default). An existing directory means
 * DIR/lockprof.%p. Exits with a one-line error when the prefix cannot work.
 */
static char *run_absolute_prefix(const char *given)
{
    struct stat st;
    char *cwd = NULL;
    char *abs;

    if (!*given)
        fail(EXIT_USAGE, "run", "-o '': expected a path prefix");
    if (given[0] != '/') {
        char *raw = getcwd(NULL, 0);
        if (!raw)
            fail(EXIT_USAGE, "run", "cannot find the current directory: %s", strerror(errno));
        /* The library expands % sequences in the whole prefix: a % of the cwd is literal. */
        cwd = xmalloc(2 * strlen(raw) + 1);
        char *w = cwd;
        for (const char *r = raw; *r; r++) {
            if (*r == '%')
                *w++ = '%';
            *w++ = *r;
        }
        *w = '\0';
        free(raw);
    }
    bool is_dir = given[strlen(given) - 1] == '/' ||
                  (strchr(given, '%') == NULL && stat(given, &st) == 0 && S_ISDIR(st.st_mode));
    abs = xasprintf("%s%s%s%s%s", cwd ? cwd : "", cwd && strcmp(cwd, "/") != 0 ? "/" : "",
                    given, is_dir && given[strlen(given) - 1] != '/' ? "/" : "",
                    is_dir ? RUN_DEFAULT_OUT : "");
    free(cwd);
    run_tidy_path(abs);

    for (const char *p = abs; *p; p++)
        if (*p == '%') {
            p++;
            if (*p != 'p' && *p != 't' && *p != '%')
                fail(EXIT_USAGE, "run", "-o '%s': after a %% only p (process id), t (start "
                     "time) or %% may follow", given);
        }
    if (strlen(abs) >= RUN_OUT_MAX)
        fail(EXIT_USAGE, "run", "-o '%s': the absolute prefix is %zu bytes long; at most %d "
             "are supported", given, strlen(abs), RUN_OUT_MAX - 1);

    /* The directory must exist and be writable, unless it depends on %p or %t. */
    char *slash = strrchr(abs, '/');
    size_t dlen = slash == abs ? 1 : (size_t)(slash - abs);
    char *dir = xasprintf("%.*s", (int)dlen, abs);
    if (!strstr(dir, "%p") && !strstr(dir, "%t")) {
        char *w = dir;
        for (const char *r = dir; *r; r++) {
            if (r[0] == '%' && r[1] == '%')
                r++;
            *w++ = *r;
        }
        *w = '\0';
        if (stat(dir, &st) != 0)
            fail(EXIT_USAGE, "run", "-o '%s': %s: %s", given, dir, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            fail(EXIT_USAGE, "run", "-o '%s': %s: %s", given, dir, strerror(ENOTDIR));
        if (access(dir, W_OK | X_OK) != 0)
            fail(EXIT_USAGE, "run", "-o '%s': cannot write in %s: %s", given, dir,
                 strerror(errno));
    }
    free(dir);
    return abs;
}

/*
 * The glob pattern of one profile file of this prefix: %p becomes the pid (or * when pid is
 * 0), %t becomes *, %% becomes %; glob's own metacharacters in the prefix are escaped.
 */
static char *run_pattern(const char *prefix, pid_t pid, const char *suffix)
{
    size_t cap = 2 * strlen(prefix) + strlen(suffix) + 32, n = 0;
    char *s = xmalloc(cap);
    for (const char *p = prefix; *p; p++) {
        if (*p == '%' && (p[1] == 'p' || p[1] == 't')) {
            if (p[1] == 'p' && pid > 0)
                n += (size_t)snprintf(s + n, cap - n, "%ld", (long)pid);
            else
                s[n++] = '*';
            p++;
            continue;
        }
        if (*p == '%' && p[1] == '%')
            p++;
        if (strchr("*?[]\\", *p))
            s[n++] = '\\';
        s[n++] = *p;
    }
    snprintf(s + n, cap - n, "%s", suffix);
    return s;
}

/* The name of a profile file for messages: %p and %% expanded, %t left as it is. */
static char *run_display_name(const char *prefix, pid_t pid, const char *suffix)
{
    size_t cap = strlen(prefix) + strlen(suffix) + 32, n = 0;
    char *s = xmalloc(cap);
    for (const char *p = prefix; *p; p++) {
        if (*p == '%' && p[1] == 'p') {
            n += (size_t)snprintf(s + n, cap - n, "%ld", (long)pid);
            p++;
            continue;
        }
        if (*p == '%' && p[1] == '%')
            p++;
        s[n++] = *p;
    }
    snprintf(s + n, cap - n, "%s", suffix);
    return s;
}

/* A file that existed before the run, as it was then. */
struct seen_file {
    char *path;
    dev_t dev;
    ino_t ino;
    struct timespec mtim;
};

struct seen_set {
    struct seen_file *v;
    size_t n;
};

static void seen_add_glob(struct seen_set *s, const char *pattern)
{
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) != 0)
            continue;
        s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
        s->v[s->n++] = (struct seen_file){ xstrdup(g.gl_pathv[i]), st.st_dev, st.st_ino,
                                           st.st_mtim };
    }
    globfree(&g);
}

/*
 * Whether path was written during the run: it did not exist before, or it is another file
 * now (the library writes a temporary file and renames it), or it was modified. Comparing
 * identities rather than times is immune to clock skew and coarse file-system timestamps.
 */
static bool seen_is_new(const struct seen_set *s, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].path, path) == 0)
            return s->v[i].dev != st.st_dev || s->v[i].ino != st.st_ino ||
                   s->v[i].mtim.tv_sec != st.st_mtim.tv_sec ||
                   s->v[i].mtim.tv_nsec != st.st_mtim.tv_nsec;
    return true;
}

static bool strv_contains(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static const char *signal_name(int sig, char *buf, size_t size)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, size, "SIG%s", abbrev);
    else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        snprintf(buf, size, "signal %d", sig);
    return buf;
}

struct run_report {
    const char *prefix;      /* absolute, unexpanded */
    const char *program;
    pid_t pid;
    int status;              /* from waitpid */
    bool block_off, mutex_off;
    struct seen_set before;  /* profile-like files that existed before the run */
};

static const char *const run_kinds[2] = { "block", "mutex" };
static const char *const run_kind_meaning[2] = { "where threads waited", "who made them wait" };

/* Says on stderr where the profiles of the run are, or why one is missing. */
static void run_report(struct run_report *r)
{
    char *found[64];
    size_t nfound = 0, nkept = 0;
    char why[160];

    if (WIFSIGNALED(r->status)) {
        char name[32];
        snprintf(why, sizeof why, "%s died of %s before writing it", r->program,
                 signal_name(WTERMSIG(r->status), name, sizeof name));
    } else {
        snprintf(why, sizeof why, "did %s leave through _exit() or exec()?", r->program);
    }

    for (int k = 0; k < 2; k++) {
        char suffix[32];
        glob_t g;
        snprintf(suffix, sizeof suffix, ".%s.pb.gz", run_kinds[k]);
        char *pattern = run_pattern(r->prefix, r->pid, suffix);
        bool any = false, stale = false;
        if (glob(pattern, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                if (!seen_is_new(&r->before, g.gl_pathv[i])) {
                    stale = true;
                    continue;
                }
                message(NULL, "%s profile: %s (%s)", run_kinds[k], g.gl_pathv[i],
                        run_kind_meaning[k]);
                if (nkept < sizeof found / sizeof found[0])
                    found[nkept++] = xstrdup(g.gl_pathv[i]);
                nfound++;
                any = true;
            }
            globfree(&g);
        }
        if (!any) {
            char *disp = run_display_name(r->prefix, r->pid, suffix);
            if ((k == 0 && r->block_off) || (k == 1 && r->mutex_off))
                message(NULL, "no %s profile: %s profiling was off (--%s 0)", run_kinds[k],
                        run_kinds[k], k == 0 ? "block-rate" : "mutex-fraction");
            else if (stale)
                message(NULL, "no new %s profile: %s is from an earlier run (%s)", run_kinds[k],
                        disp, why);
            else
                message(NULL, "no %s profile at %s (%s)", run_kinds[k], disp, why);
            free(disp);
        }
        free(pattern);
    }

    /* Snapshots (LOCKPROF_SIGNAL, LOCKPROF_INTERVAL, lockprof_snapshot): one line for all. */
    {
        char *pattern = run_pattern(r->prefix, 0, ".snapshot-*.block.pb.gz");
        glob_t g;
        size_t nsnap = 0;
        const char *newest = NULL;
        unsigned long newest_n = 0;
        if (glob(pattern, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                const char *p = g.gl_pathv[i], *n = strstr(p, ".snapshot-");
                if (!n || !seen_is_new(&r->before, p))
                    continue;
                nsnap++;
                unsigned long k = strtoul(n + 10, NULL, 10);
                if (!newest || k > newest_n) {
                    newest = p;
                    newest_n = k;
                }
            }
            if (nsnap)
                message(NULL, "snapshots written during the run: %zu (the newest: %s)", nsnap,
                        newest);
            globfree(&g);
        }
        free(pattern);
    }

    /* Profiles of other processes of the run: forked children profile under their own pid. */
    if (strstr(r->prefix, "%p") || strstr(r->prefix, "%t")) {
        size_t nother = 0;
        for (int k = 0; k < 2; k++) {
            char suffix[32];
            glob_t g;
            snprintf(suffix, sizeof suffix, ".%s.pb.gz", run_kinds[k]);
            char *pattern = run_pattern(r->prefix, 0, suffix);
            if (glob(pattern, 0, NULL, &g) == 0) {
                for (size_t i = 0; i < g.gl_pathc; i++) {
                    const char *p = g.gl_pathv[i];
                    if (strv_contains(found, nkept, p) || !seen_is_new(&r->before, p) ||
                        strstr(p, ".snapshot-"))
                        continue;
                    if (nother < 6)
                        message(NULL, "also written during the run: %s", p);
                    nother++;
                }
                globfree(&g);
            }
            free(pattern);
        }
        if (nother > 6)
            message(NULL, "... and %zu more profiles written during the run", nother - 6);
        nfound += nother;
    }

    if (nfound > 0)
        message(NULL, "look at them with: lockprof top FILE   or   go tool pprof -top FILE");
    for (size_t i = 0; i < nkept; i++)
        free(found[i]);
}

/* ------------------------------------------------------------------------------------- */
/* run: the child and its signals */

/* The signals passed on to the program; lockprof itself never dies of them while it runs. */
static const int run_forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

/*
 * Whether a signal that reached lockprof must be passed on. Sent with kill() or sigqueue()
 * by someone else: yes. SI_KERNEL is what the terminal uses for ^C, ^\ and hang-up, sent to
 * the whole foreground process group, so the program has it already. Sent by the program
 * itself (kill(getppid()) or kill(0)): it knows.
 */
static bool run_should_forward(const siginfo_t *si, pid_t child)
{
    if (si->si_code != SI_USER && si->si_code != SI_QUEUE && si->si_code != SI_TKILL)
        return false;
    return si->si_pid != child;
}

/* Leaves the way the program left: its exit status, or death by its signal. */
static void run_exit_like(int status) __attribute__((noreturn));
static void run_exit_like(int status)
{
    if (WIFEXITED(status))
        exit(WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    fflush(NULL);
    /* The program's core file (if any) is the one that matters: do not overwrite it. */
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    /* Only a signal whose default action neither terminates nor dumps core gets here. */
    exit(128 + sig);
}

static int cmd_run(int argc, char **argv)
{
    const char *block = NULL, *mutex = NULL, *out = RUN_DEFAULT_OUT;
    uint64_t block_v = 0, mutex_v = 0;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(run_usage, stdout);
            return 0;
        }
        if ((v = opt_value("run", argc, argv, &i, "--block-rate", NULL)))
            block = v;
        else if ((v = opt_value("run", argc, argv, &i, "--mutex-fraction", NULL)))
            mutex = v;
        else if ((v = opt_value("run", argc, argv, &i, "--output", "-o")))
            out = v;
        else
            usage_error("run", "unknown option '%s'", a);
    }
    if (i >= argc)
        usage_error("run", "no program to run");
    char **prog = argv + i;

    int rc;
    if (block && (rc = parse_whole(block, RUN_BLOCK_RATE_MAX, &block_v)) < 0) {
        if (rc == -ERANGE)
            fail(EXIT_USAGE, "run", "--block-rate '%s': expected a whole number of nanoseconds "
                 "up to %llu", block, RUN_BLOCK_RATE_MAX);
        fail(EXIT_USAGE, "run", "--block-rate '%s': expected a whole number of nanoseconds",
             block);
    }
    if (mutex && (rc = parse_whole(mutex, RUN_MUTEX_FRACTION_MAX, &mutex_v)) < 0) {
        if (rc == -ERANGE)
            fail(EXIT_USAGE, "run", "--mutex-fraction '%s': expected a whole number up to %llu",
                 mutex, RUN_MUTEX_FRACTION_MAX);
        fail(EXIT_USAGE, "run", "--mutex-fraction '%s': expected a whole number (1 in N)",
             mutex);
    }

    char lib[PATH_MAX], exe_dir[PATH_MAX];
    rc = run_find_library(lib, exe_dir, sizeof exe_dir);
    if (rc < 0 && !exe_dir[0])
        fail(EXIT_USAGE, "run", "cannot find liblockprof.so: /proc/self/exe: %s",
             strerror(-rc));
    if (rc == -ENOENT)
        fail(EXIT_USAGE, "run", "cannot find liblockprof.so in %s or %s/../lib", exe_dir,
             exe_dir);
    if (rc < 0)
        fail(EXIT_USAGE, "run", "cannot find liblockprof.so: %s", strerror(-rc));
    if (strpbrk(lib, " :\t\n"))
        fail(EXIT_USAGE, "run", "%s: LD_PRELOAD cannot hold a path with spaces or colons; "
             "install lockprof elsewhere", lib);

    char *prefix = run_absolute_prefix(out);

    /* The environment of the program. Values are rewritten in plain decimal. */
    const char *old_preload = getenv("LD_PRELOAD");
    char *preload = old_preload && *old_preload ? xasprintf("%s %s", lib, old_preload)
                                                : xstrdup(lib);
    char num[32];
    if (setenv("LD_PRELOAD", preload, 1) != 0 || setenv("LOCKPROF_OUT", prefix, 1) != 0)
        fail(EXIT_USAGE, "run", "setenv: %s", strerror(errno));
    if (block) {
        snprintf(num, sizeof num, "%" PRIu64, block_v);
        if (setenv("LOCKPROF_BLOCK_RATE", num, 1) != 0)
            fail(EXIT_USAGE, "run", "setenv: %s", strerror(errno));
    }
    if (mutex) {
        snprintf(num, sizeof num, "%" PRIu64, mutex_v);
        if (setenv("LOCKPROF_MUTEX_FRACTION", num, 1) != 0)
            fail(EXIT_USAGE, "run", "setenv: %s", strerror(errno));
    }
    free(preload);

    struct run_report report = {
        .prefix = prefix,
        .program = prog[0],
        .block_off = block && block_v == 0,
        .mutex_off = mutex && mutex_v == 0,
    };
    for (int k = 0; k < 2; k++) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, ".%s.pb.gz", run_kinds[k]);
        char *pattern = run_pattern(prefix, 0, suffix);
        seen_add_glob(&report.before, pattern);
        free(pattern);
    }

    /*
     * The forwarded signals and SIGCHLD are blocked before the fork and taken with
     * sigwaitinfo: none is lost in the window before the wait, and lockprof has no handler
     * that the program could inherit. SIGCHLD must not be SIG_IGN here (children would be
     * reaped automatically), but the program gets whatever lockprof inherited.
     */
    sigset_t waitset, oldmask;
    sigemptyset(&waitset);
    for (size_t s = 0; s < sizeof run_forwarded / sizeof run_forwarded[0]; s++)
        sigaddset(&waitset, run_forwarded[s]);
    sigaddset(&waitset, SIGCHLD);
    sigprocmask(SIG_BLOCK, &waitset, &oldmask);
    struct sigaction dfl, old_chld;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &old_chld);

    /* exec's errno comes back through a close-on-exec pipe: no report for a program that
     * never ran. */
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0)
        fail(EXIT_USAGE, "run", "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        fail(EXIT_USAGE, "run", "fork: %s", strerror(errno));
    if (pid == 0) {
        close(errpipe[0]);
        sigaction(SIGCHLD, &old_chld, NULL);
        sigprocmask(SIG_SETMASK, &oldmask, NULL);
        execvp(prog[0], prog);
        int e = errno;
        ssize_t unused = write(errpipe[1], &e, sizeof e);
        (void)unused;
        _exit(127);
    }
    close(errpipe[1]);

    /* lockprof's own reports must not die of a closed stderr pipe and lose the status. */
    struct sigaction ign = dfl;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, NULL);

    int exec_errno = 0;
    ssize_t got;
    do
        got = read(errpipe[0], &exec_errno, sizeof exec_errno);
    while (got < 0 && errno == EINTR);
    close(errpipe[0]);

    int status = 0;
    if (got == (ssize_t)sizeof exec_errno) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        message("run", "%s: %s", prog[0], strerror(exec_errno));
        /* Like a shell: 127 when there is no such program, 126 when it cannot be run. */
        exit(exec_errno == ENOENT || exec_errno == ENOTDIR || exec_errno == ENAMETOOLONG ||
                     exec_errno == ELOOP
                 ? 127
                 : 126);
    }

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&waitset, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            fail(EXIT_USAGE, "run", "sigwaitinfo: %s", strerror(errno));
        }
        if (sig == SIGCHLD) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid)
                break;
            if (w < 0 && errno != EINTR)
                fail(EXIT_USAGE, "run", "waitpid: %s", strerror(errno));
            continue;
        }
        if (run_should_forward(&si, pid))
            kill(pid, sig);
    }

    report.pid = pid;
    report.status = status;
    run_report(&report);
    for (size_t k = 0; k < report.before.n; k++)
        free(report.before.v[k].path);
    free(report.before.v);
    free(prefix);
    run_exit_like(status);
}

/* ------------------------------------------------------------------------------------- */
/* top: reading and decoding */

/* Reads all of path ("-": standard input) into *buf. 0 or -errno (-EFBIG: too large). */
static int top_read_file(const char *path, uint8_t **buf, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 65536, n = 0;
    uint8_t *b = xmalloc(cap);
    int rc = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= TOP_MAX_FILE) {
                rc = -EFBIG;
                break;
            }
            cap *= 2;
            b = xrealloc(b, cap);
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (fd != STDIN_FILENO)
        close(fd);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return 0;
}

/*
 * Decompresses gzip data (one member or several concatenated, as gzip allows). 0, -EBADMSG
 * (truncated or corrupt), -EFBIG (larger than TOP_MAX_INFLATED) or -ENOMEM.
 */
static int top_gunzip(const uint8_t *in, size_t inlen, uint8_t **outp, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + 15) != Z_OK)
        return -ENOMEM;
    size_t cap = inlen < 16384 ? 65536 : inlen * 4, len = 0;
    uint8_t *out = xmalloc(cap);
    int rc = 0;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)inlen; /* inlen <= TOP_MAX_FILE < UINT_MAX */
    for (;;) {
        if (len == cap) {
            if (cap >= TOP_MAX_INFLATED) {
                rc = -EFBIG;
                break;
            }
            cap *= 2;
            out = xrealloc(out, cap);
        }
        size_t room = cap - len < UINT_MAX ? cap - len : UINT_MAX;
        z.next_out = out + len;
        z.avail_out = (uInt)room;
        int zr = inflate(&z, Z_NO_FLUSH);
        len += room - z.avail_out;
        if (zr == Z_STREAM_END) {
            if (z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b) {
                inflateReset(&z);
                continue;
            }
            break;
        }
        if (zr == Z_OK || (zr == Z_BUF_ERROR && z.avail_out == 0))
            continue;
        /* Z_BUF_ERROR with output room left: the input ended before the stream did. */
        rc = zr == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
        break;
    }
    inflateEnd(&z);
    if (rc < 0) {
        free(out);
        return rc;
    }
    *outp = out;
    *outlen = len;
    return 0;
}

/* One frame of a stack: a function (or an unnamed address) at a location. */
struct top_frame {
    uint32_t name;      /* index into top_ctx.names */
    bool inlined;       /* inlined into the next frame of the same location */
    const char *file;   /* source file or NULL */
    int64_t line;       /* 0 if unknown */
};

struct top_loc {
    uint64_t id;
    struct top_frame *frames; /* innermost first */
    size_t nframes;
};

/* A function's totals; values are [0] contentions, [1] delay in ns. */
struct top_name {
    char *name;
    int64_t flat[2], cum[2];
    size_t stamp; /* 1 + the last sample counted in cum (a function counts once per sample) */
};

struct top_stack {
    const Lockprof__Pprof__Sample *first; /* its frames */
    int64_t v[2];
};

struct top_ctx {
    const char *path;
    Lockprof__Pprof__Profile *p;
    int vi[2];             /* sample value index of contentions and delay */
    int64_t delay_mul;     /* delay unit to nanoseconds */
    struct top_loc *locs;  /* sorted by id */
    size_t nlocs;
    struct top_name *names;
    size_t nnames, names_cap;
    uint32_t *hash;        /* open addressing: 0 empty, else name index + 1 */
    size_t hash_cap;
    int64_t total[2];
};

struct top_opts {
    size_t n;              /* functions shown; 0 = all */
    int by;                /* 0 contentions, 1 delay */
    bool stacks;
};

static const char *top_str(const Lockprof__Pprof__Profile *p, int64_t i)
{
    return i >= 0 && (uint64_t)i < p->n_string_table ? p->string_table[i] : "";
}

static bool top_str_ok(const Lockprof__Pprof__Profile *p, int64_t i)
{
    return i >= 0 && (uint64_t)i < p->n_string_table;
}

/* Checks every string index in the profile; returns what is wrong, or NULL. */
static const char *top_check_strings(const Lockprof__Pprof__Profile *p)
{
    if (p->n_string_table == 0 || p->string_table[0][0] != '\0')
        return "its string table does not begin with \"\"";
    for (size_t i = 0; i < p->n_sample_type; i++)
        if (!top_str_ok(p, p->sample_type[i]->type) || !top_str_ok(p, p->sample_type[i]->unit))
            return "a sample type names a missing string";
    for (size_t i = 0; i < p->n_function; i++) {
        const Lockprof__Pprof__Function *f = p->function[i];
        if (!top_str_ok(p, f->name) || !top_str_ok(p, f->system_name) ||
            !top_str_ok(p, f->filename))
            return "a function names a missing string";
    }
    for (size_t i = 0; i < p->n_mapping; i++)
        if (!top_str_ok(p, p->mapping[i]->filename) || !top_str_ok(p, p->mapping[i]->build_id))
            return "a mapping names a missing string";
    for (size_t i = 0; i < p->n_comment; i++)
        if (!top_str_ok(p, p->comment[i]))
            return "a comment names a missing string";
    if (p->period_type &&
        (!top_str_ok(p, p->period_type->type) || !top_str_ok(p, p->period_type->unit)))
        return "the period type names a missing string";
    return NULL;
}

static int top_cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int top_cmp_loc(const void *a, const void *b)
{
    return top_cmp_u64(((const struct top_loc *)a)->id, ((const struct top_loc *)b)->id);
}

static int top_cmp_fn(const void *a, const void *b)
{
    return top_cmp_u64((*(Lockprof__Pprof__Function *const *)a)->id,
                       (*(Lockprof__Pprof__Function *const *)b)->id);
}

static int top_cmp_map(const void *a, const void *b)
{
    return top_cmp_u64((*(Lockprof__Pprof__Mapping *const *)a)->id,
                       (*(Lockprof__Pprof__Mapping *const *)b)->id);
}

static const struct top_loc *top_find_loc(const struct top_ctx *c, uint64_t id)
{
    struct top_loc key = { .id = id };
    return bsearch(&key, c->locs, c->nlocs, sizeof *c->locs, top_cmp_loc);
}

static uint64_t top_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The index of name in c->names, added if new. Takes ownership of owned (may be NULL). */
static uint32_t top_intern(struct top_ctx *c, const char *name, char *owned)
{
    if (c->nnames * 2 >= c->hash_cap) {
        size_t cap = c->hash_cap ? c->hash_cap * 2 : 256;
        uint32_t *h = xcalloc(cap, sizeof *h);
        for (size_t i = 0; i < c->nnames; i++) {
            size_t j = top_hash(c->names[i].name) & (cap - 1);
            while (h[j])
                j = (j + 1) & (cap - 1);
            h[j] = (uint32_t)i + 1;
        }
        free(c->hash);
        c->hash = h;
        c->hash_cap = cap;
    }
    size_t j = top_hash(name) & (c->hash_cap - 1);
    while (c->hash[j]) {
        uint32_t k = c->hash[j] - 1;
        if (strcmp(c->names[k].name, name) == 0) {
            free(owned);
            return k;
        }
        j = (j + 1) & (c->hash_cap - 1);
    }
    if (c->nnames == c->names_cap) {
        c->names_cap = c->names_cap ? c->names_cap * 2 : 256;
        c->names = xrealloc(c->names, c->names_cap * sizeof *c->names);
    }
    memset(&c->names[c->nnames], 0, sizeof c->names[0]);
    c->names[c->nnames].name = owned ? owned : xstrdup(name);
    c->hash[j] = (uint32_t)c->nnames + 1;
    return (uint32_t)c->nnames++;
}

/* "0x<addr> (<mapping basename>)": how an unnamed frame is shown. */
static char *top_addr_name(const Lockprof__Pprof__Profile *p, Lockprof__Pprof__Mapping **maps,
                           const Lockprof__Pprof__Location *l)
{
    Lockprof__Pprof__Mapping key = { .id = l->mapping_id }, *kp = &key, **m = NULL;
    if (l->mapping_id)
        m = bsearch(&kp, maps, p->n_mapping, sizeof *maps, top_cmp_map);
    const char *file = m ? top_str(p, (*m)->filename) : "";
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (*base)
        return xasprintf("0x%" PRIx64 " (%s)", l->address, base);
    return xasprintf("0x%" PRIx64, l->address);
}

/* Builds c->locs with their frames. Returns what is wrong with the profile, or NULL. */
static const char *top_index(struct top_ctx *c)
{
    const Lockprof__Pprof__Profile *p = c->p;
    Lockprof__Pprof__Function **fns = xmalloc(p->n_function * sizeof *fns);
    Lockprof__Pprof__Mapping **maps = xmalloc(p->n_mapping * sizeof *maps);
    if (p->n_function)
        memcpy(fns, p->function, p->n_function * sizeof *fns);
    if (p->n_mapping)
        memcpy(maps, p->mapping, p->n_mapping * sizeof *maps);
    qsort(fns, p->n_function, sizeof *fns, top_cmp_fn);
    qsort(maps, p->n_mapping, sizeof *maps, top_cmp_map);

    const char *bad = NULL;
    c->nlocs = p->n_location;
    c->locs = xcalloc(p->n_location, sizeof *c->locs);
    for (size_t i = 0; i < p->n_location && !bad; i++) {
        const Lockprof__Pprof__Location *l = p->location[i];
        struct top_loc *tl = &c->locs[i];
        tl->id = l->id;
        tl->frames = xcalloc(l->n_line ? l->n_line : 1, sizeof *tl->frames);
        for (size_t k = 0; k < l->n_line; k++) {
            Lockprof__Pprof__Function key = { .id = l->line[k]->function_id }, *kp = &key;
            Lockprof__Pprof__Function **f =
                bsearch(&kp, fns, p->n_function, sizeof *fns, top_cmp_fn);
            if (!f) {
                bad = "a location refers to a missing function";
                break;
            }
            const char *name = top_str(p, (*f)->name);
            if (!*name)
                name = top_str(p, (*f)->system_name);
            struct top_frame *fr = &tl->frames[tl->nframes++];
            fr->name = *name ? top_intern(c, name, NULL)
                             : top_intern(c, "", top_addr_name(p, maps, l));
            fr->inlined = k + 1 < l->n_line;
            fr->file = *top_str(p, (*f)->filename) ? top_str(p, (*f)->filename) : NULL;
            fr->line = l->line[k]->line;
        }
        if (!bad && tl->nframes == 0) {
            char *name = top_addr_name(p, maps, l);
            tl->frames[tl->nframes++].name = top_intern(c, name, name);
        }
    }
    free(fns);
    free(maps);
    if (!bad)
        qsort(c->locs, c->nlocs, sizeof *c->locs, top_cmp_loc);
    return bad;
}

/* ------------------------------------------------------------------------------------- */
/* top: formatting */

/* A duration in ns as pprof would write it: 3 significant digits, ns to hours. */
static void top_fmt_ns(char *buf, size_t size, int64_t ns)
{
    static const struct { double div; const char *unit; } units[] = {
        { 1e0, "ns" }, { 1e3, "µs" }, { 1e6, "ms" }, { 1e9, "s" }, { 60e9, "min" }, { 3600e9, "h" },
    };
    double v = (double)ns, a = v < 0 ? -v : v;
    size_t u = 0;
    if (a >= 1000)
        u = a < 1e6 ? 1 : a < 1e9 ? 2 : a < 60e9 ? 3 : a < 3600e9 ? 4 : 5;
    double x = v / units[u].div, ax = x < 0 ? -x : x;
    if (ns == 0)
        snprintf(buf, size, "0");
    else if (u == 0)
        snprintf(buf, size, "%" PRId64 "ns", ns);
    else
        snprintf(buf, size, "%.*f%s", ax < 10 ? 2 : ax < 100 ? 1 : 0, x, units[u].unit);
}

static void top_fmt_value(char *buf, size_t size, int by, int64_t v)
{
    if (by == 1)
        top_fmt_ns(buf, size, v);
    else
        snprintf(buf, size, "%" PRId64, v);
}

/* Prints s right-aligned in width columns (UTF-8 aware: µ is one column, two bytes). */
static void top_put_right(const char *s, int width)
{
    int cols = 0;
    for (const char *p = s; *p; p++)
        cols += ((unsigned char)*p & 0xc0) != 0x80;
    for (; cols < width; cols++)
        putchar(' ');
    fputs(s, stdout);
}

static double top_pct(int64_t part, int64_t total)
{
    return total ? 100.0 * (double)part / (double)total : 0.0;
}

static void top_put_pct(double pct, int width)
{
    char b[32];
    snprintf(b, sizeof b, "%.2f%%", pct);
    top_put_right(b, width);
}

struct top_sort {
    const struct top_name *names;
    int by;
};

static int top_cmp_name(const void *a, const void *b, void *arg)
{
    const struct top_sort *ts = arg;
    const struct top_name *x = &ts->names[*(const uint32_t *)a];
    const struct top_name *y = &ts->names[*(const uint32_t *)b];
    int by = ts->by, other = 1 - by;
    if (x->flat[by] != y->flat[by])
        return x->flat[by] > y->flat[by] ? -1 : 1;
    if (x->flat[other] != y->flat[other])
        return x->flat[other] > y->flat[other] ? -1 : 1;
    if (x->cum[by] != y->cum[by])
        return x->cum[by] > y->cum[by] ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int top_cmp_stack_ids(const Lockprof__Pprof__Sample *a, const Lockprof__Pprof__Sample *b)
{
    if (a->n_location_id != b->n_location_id)
        return a->n_location_id < b->n_location_id ? -1 : 1;
    for (size_t i = 0; i < a->n_location_id; i++)
        if (a->location_id[i] != b->location_id[i])
            return top_cmp_u64(a->location_id[i], b->location_id[i]);
    return 0;
}

static int top_cmp_sample_ptr(const void *a, const void *b)
{
    return top_cmp_stack_ids(*(Lockprof__Pprof__Sample *const *)a,
                             *(Lockprof__Pprof__Sample *const *)b);
}

static int top_cmp_stack(const void *a, const void *b, void *arg)
{
    const struct top_stack *x = a, *y = b;
    int by = *(const int *)arg, other = 1 - by;
    if (x->v[by] != y->v[by])
        return x->v[by] > y->v[by] ? -1 : 1;
    if (x->v[other] != y->v[other])
        return x->v[other] > y->v[other] ? -1 : 1;
    return top_cmp_stack_ids(x->first, y->first);
}

static void top_header(const struct top_ctx *c, const char *path)
{
    const Lockprof__Pprof__Profile *p = c->p;
    char d[32];
    printf("File: %s\n", path);
    for (size_t i = 0; i < p->n_comment; i++)
        printf("Comment: %s\n", top_str(p, p->comment[i]));
    if (p->time_nanos > 0) {
        time_t t = (time_t)(p->time_nanos / 1000000000);
        struct tm tm;
        char when[64];
        if (localtime_r(&t, &tm) && strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", &tm))
            printf("Time: %s\n", when);
    }
    if (p->duration_nanos > 0) {
        top_fmt_ns(d, sizeof d, p->duration_nanos);
        printf("Duration: %s\n", d);
    }
    top_fmt_ns(d, sizeof d, c->total[1]);
    printf("Total: %" PRId64 " contention%s, %s delay, in %zu sample%s\n", c->total[0],
           c->total[0] == 1 ? "" : "s", d, p->n_sample, p->n_sample == 1 ? "" : "s");
}

static void top_functions(const struct top_ctx *c, const struct top_opts *o)
{
    int by = o->by, other = 1 - by;
    static const char *const what[2] = { "contentions", "delay" };
    static const char *const col[2] = { "cont", "delay" };
    uint32_t *order = xmalloc(c->nnames * sizeof *order);
    size_t n = 0;
    for (size_t i = 0; i < c->nnames; i++)
        if (c->names[i].cum[0] || c->names[i].cum[1])
            order[n++] = (uint32_t)i;
    struct top_sort ts = { c->names, by };
    qsort_r(order, n, sizeof *order, top_cmp_name, &ts);
    size_t shown = o->n && o->n < n ? o->n : n;

    printf("Showing the top %zu of %zu functions, by flat %s (flat: the leaf frame; cum: "
           "anywhere in the stack)\n", shown, n, what[by]);
    char h1[16], h2[16];
    snprintf(h1, sizeof h1, "flat %s", col[by]);
    snprintf(h2, sizeof h2, "cum %s", col[by]);
    top_put_right(h1, 10);
    printf("  flat%%    sum%%");
    top_put_right(h2, 11);
    printf("    cum%%");
    snprintf(h1, sizeof h1, "flat %s", col[other]);
    snprintf(h2, sizeof h2, "cum %s", col[other]);
    top_put_right(h1, 12);
    top_put_right(h2, 11);
    printf("  function\n");

    int64_t sum = 0;
    for (size_t i = 0; i < shown; i++) {
        const struct top_name *t = &c->names[order[i]];
        char b[48];
        sum += t->flat[by];
        top_fmt_value(b, sizeof b, by, t->flat[by]);
        top_put_right(b, 10);
        top_put_pct(top_pct(t->flat[by], c->total[by]), 8);
        top_put_pct(top_pct(sum, c->total[by]), 8);
        top_fmt_value(b, sizeof b, by, t->cum[by]);
        top_put_right(b, 11);
        top_put_pct(top_pct(t->cum[by], c->total[by]), 8);
        top_fmt_value(b, sizeof b, other, t->flat[other]);
        top_put_right(b, 12);
        top_fmt_value(b, sizeof b, other, t->cum[other]);
        top_put_right(b, 11);
        printf("  %s\n", t->name);
    }
    free(order);
}

static void top_stacks(const struct top_ctx *c, const struct top_opts *o)
{
    const Lockprof__Pprof__Profile *p = c->p;
    int by = o->by, other = 1 - by;
    static const char *const what[2] = { "contentions", "delay" };

    /* Samples with the same stack (they differ by labels) count as one stack. */
    Lockprof__Pprof__Sample **s = xmalloc(p->n_sample * sizeof *s);
    if (p->n_sample)
        memcpy(s, p->sample, p->n_sample * sizeof *s);
    qsort(s, p->n_sample, sizeof *s, top_cmp_sample_ptr);
    struct top_stack *st = xcalloc(p->n_sample, sizeof *st);
    size_t n = 0;
    for (size_t i = 0; i < p->n_sample; i++) {
        if (n == 0 || top_cmp_stack_ids(st[n - 1].first, s[i]) != 0)
            st[n++].first = s[i];
        st[n - 1].v[0] += s[i]->value[c->vi[0]];
        st[n - 1].v[1] += s[i]->value[c->vi[1]] * c->delay_mul;
    }
    qsort_r(st, n, sizeof *st, top_cmp_stack, &by);
    size_t limit = o->stacks ? (o->n ? o->n : n) : TOP_DEFAULT_STACKS;
    size_t shown = limit < n ? limit : n;

    printf("\nHeaviest stacks (the top %zu of %zu, by %s; leaf first):\n", shown, n, what[by]);
    for (size_t i = 0; i < shown; i++) {
        char b1[48], b2[48];
        top_fmt_ns(b1, sizeof b1, st[i].v[1]);
        snprintf(b2, sizeof b2, "%" PRId64 " contention%s", st[i].v[0],
                 st[i].v[0] == 1 ? "" : "s");
        printf("%s%5zu. %s (%.2f%%), %s (%.2f%%)\n", i ? "\n" : "", i + 1,
               by == 1 ? b1 : b2, top_pct(st[i].v[by], c->total[by]),
               by == 1 ? b2 : b1, top_pct(st[i].v[other], c->total[other]));
        for (size_t k = 0; k < st[i].first->n_location_id; k++) {
            const struct top_loc *l = top_find_loc(c, st[i].first->location_id[k]);
            for (size_t f = 0; f < l->nframes; f++) {
                const struct top_frame *fr = &l->frames[f];
                printf("        %s%s", c->names[fr->name].name, fr->inlined ? " (inline)" : "");
                if (fr->file && fr->line > 0) {
                    const char *base = strrchr(fr->file, '/') ? strrchr(fr->file, '/') + 1
                                                              : fr->file;
                    printf("  %s:%" PRId64, base, fr->line);
                }
                putchar('\n');
            }
        }
    }
    free(st);
    free(s);
}

/* Finds the sample value index of type/unit. Returns -1 if absent. */
static int top_sample_index(const Lockprof__Pprof__Profile *p, const char *type)
{
    for (size_t i = 0; i < p->n_sample_type; i++)
        if (strcmp(top_str(p, p->sample_type[i]->type), type) == 0)
            return (int)i;
    return -1;
}

static int64_t top_delay_multiplier(const char *unit)
{
    static const struct { const char *unit; int64_t mul; } units[] = {
        { "nanoseconds", 1 }, { "ns", 1 },
        { "microseconds", 1000 }, { "us", 1000 },
        { "milliseconds", 1000000 }, { "ms", 1000000 },
        { "seconds", 1000000000 }, { "s", 1000000000 },
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].unit) == 0)
            return units[i].mul;
    return 0;
}

/* Reports one file. 0, or EXIT_USAGE after a one-line error. */
static int top_one(const char *path, const struct top_opts *o, bool *printed)
{
    uint8_t *raw = NULL, *data = NULL;
    size_t rawlen = 0, len = 0;
    int status = EXIT_USAGE;
    struct top_ctx c;
    memset(&c, 0, sizeof c);
    c.path = path;

    int rc = top_read_file(path, &raw, &rawlen);
    if (rc == -EFBIG) {
        message("top", "%s: larger than %llu bytes, not a profile", path, TOP_MAX_FILE);
        return EXIT_USAGE;
    }
    if (rc < 0) {
        message("top", "%s: %s", path, strerror(-rc));
        return EXIT_USAGE;
    }
    if (rawlen == 0) {
        message("top", "%s: empty file, not a pprof profile", path);
        goto out;
    }
    bool gz = rawlen >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
    if (gz) {
        rc = top_gunzip(raw, rawlen, &data, &len);
        if (rc == -EBADMSG) {
            message("top", "%s: truncated or corrupt gzip data", path);
            goto out;
        }
        if (rc == -EFBIG) {
            message("top", "%s: decompresses to more than %llu bytes, not a profile", path,
                    TOP_MAX_INFLATED);
            goto out;
        }
        if (rc < 0) {
            message("top", "%s: %s", path, strerror(-rc));
            goto out;
        }
    } else {
        data = raw;
        len = rawlen;
        raw = NULL;
    }

    c.p = lockprof__pprof__profile__unpack(NULL, len, data);
    const char *bad = c.p ? top_check_strings(c.p) : "";
    if (bad) {
        if (*bad)
            message("top", "%s: not a pprof profile (%s)", path, bad);
        else
            message("top", "%s: not a pprof profile%s", path,
                    gz ? " (gzip data that is not profile.proto)" : "");
        goto out;
    }

    const Lockprof__Pprof__Profile *p = c.p;
    c.vi[0] = top_sample_index(p, "contentions");
    c.vi[1] = top_sample_index(p, "delay");
    c.delay_mul = c.vi[1] >= 0 ? top_delay_multiplier(top_str(p, p->sample_type[c.vi[1]]->unit))
                               : 0;
    if (c.vi[0] < 0 || c.vi[1] < 0 || c.delay_mul == 0) {
        size_t cap = 64, n = 0;
        char *types = xmalloc(cap);
        types[0] = '\0';
        for (size_t i = 0; i < p->n_sample_type; i++) {
            const char *t = top_str(p, p->sample_type[i]->type);
            const char *u = top_str(p, p->sample_type[i]->unit);
            size_t need = strlen(t) + strlen(u) + 4;
            if (n + need >= cap) {
                cap = 2 * (n + need);
                types = xrealloc(types, cap);
            }
            n += (size_t)snprintf(types + n, cap - n, "%s%s/%s", i ? ", " : "", t, u);
        }
        message("top", "%s: not a contention profile (sample types: %s)", path,
                n ? types : "none");
        free(types);
        goto out;
    }

    bad = top_index(&c);
    for (size_t i = 0; !bad && i < p->n_sample; i++) {
        const Lockprof__Pprof__Sample *s = p->sample[i];
        if (s->n_value != p->n_sample_type) {
            bad = "a sample's values do not match the sample types";
            break;
        }
        int64_t v[2] = { s->value[c.vi[0]], s->value[c.vi[1]] * c.delay_mul };
        c.total[0] += v[0];
        c.total[1] += v[1];
        for (size_t k = 0; k < s->n_location_id && !bad; k++) {
            const struct top_loc *l = top_find_loc(&c, s->location_id[k]);
            if (!l) {
                bad = "a sample refers to a missing location";
                break;
            }
            for (size_t f = 0; f < l->nframes; f++) {
                struct top_name *t = &c.names[l->frames[f].name];
                if (k == 0 && f == 0) {
                    t->flat[0] += v[0];
                    t->flat[1] += v[1];
                }
                if (t->stamp != i + 1) {
                    t->stamp = i + 1;
                    t->cum[0] += v[0];
                    t->cum[1] += v[1];
                }
            }
        }
    }
    if (bad) {
        message("top", "%s: corrupt pprof profile: %s", path, bad);
        goto out;
    }

    if (*printed)
        putchar('\n');
    *printed = true;
    top_header(&c, path);
    if (p->n_sample == 0) {
        printf("No samples: nothing was recorded (the comments above say what was in force)\n");
    } else {
        top_functions(&c, o);
        top_stacks(&c, o);
    }
    fflush(stdout);
    status = 0;

out:
    for (size_t i = 0; i < c.nlocs; i++)
        free(c.locs[i].frames);
    free(c.locs);
    for (size_t i = 0; i < c.nnames; i++)
        free(c.names[i].name);
    free(c.names);
    free(c.hash);
    if (c.p)
        lockprof__pprof__profile__free_unpacked(c.p, NULL);
    free(data);
    free(raw);
    return status;
}

static int cmd_top(int argc, char **argv)
{
    struct top_opts o = { .n = TOP_DEFAULT_N, .by = 1, .stacks = false };
    char **files = xcalloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    bool opts_done = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (opts_done || a[0] != '-' || a[1] == '\0') {
            files[nfiles++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            opts_done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(top_usage, stdout);
            free(files);
            return 0;
        } else if (strcmp(a, "--stacks") == 0) {
            o.stacks = true;
        } else if ((v = opt_value("top", argc, argv, &i, "--by", NULL))) {
            if (strcmp(v, "delay") == 0)
                o.by = 1;
            else if (strcmp(v, "contentions") == 0)
                o.by = 0;
            else
                usage_error("top", "--by '%s': expected delay or contentions", v);
        } else if ((v = opt_value("top", argc, argv, &i, "--nodes", "-n"))) {
            uint64_t n;
            if (parse_whole(v, SIZE_MAX / 2, &n) < 0)
                usage_error("top", "-n '%s': expected a whole number", v);
            o.n = (size_t)n;
        } else {
            usage_error("top", "unknown option '%s'", a);
        }
    }
    if (nfiles == 0)
        usage_error("top", "no profile to read");

    int status = 0;
    bool printed = false;
    for (size_t i = 0; i < nfiles; i++)
        if (top_one(files[i], &o, &printed) != 0)
            status = EXIT_USAGE;
    free(files);
    if (fflush(stdout) != 0 || ferror(stdout))
        fail(EXIT_USAGE, "top", "writing the report: %s", strerror(errno));
    return status;
}

/* ------------------------------------------------------------------------------------- */
/* fetch: a profile or the threads view from a running program's endpoint */

/*
 * One GET over a plain socket, "Connection: close", the whole answer read into memory before
 * anything is written: a failed fetch writes nothing. The body is delimited by Content-Length,
 * by the chunked encoding (Go's own net/http/pprof uses it, so a Go server can be fetched
 * too) or by the server closing. Everything after the option checks is bounded by one
 * deadline, --seconds + --timeout from the start (name resolution excepted: getaddrinfo
 * cannot be bounded, and LOCKPROF_HTTP names a loopback address or a unix socket anyway).
 */

enum fetch_kind { FETCH_BLOCK, FETCH_MUTEX, FETCH_THREADS, FETCH_INDEX, FETCH_PATH };

static const char *const fetch_kind_names[] = { "block", "mutex", "threads", "index" };

struct fetch_addr {
    char *host;            /* TCP: a name or an address (IPv6 without brackets); NULL: unix */
    char *port;            /* TCP: 1..65535, decimal */
    const char *unix_path; /* unix:PATH */
    char *url_path;        /* an http:// address's path beyond /debug/pprof/, or NULL */
    char *display;         /* "HOST:PORT" or "unix:PATH", for messages */
};

struct fetch_answer {
    int status;
    char reason[64];
    char type[128];        /* Content-Type, "" if none */
    uint8_t *buf;          /* the whole response, owned */
    uint8_t *body;         /* into buf */
    size_t len;
};

/* The temporary file while it exists: removed at exit (fail() included) and on signals. */
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

static int64_t fetch_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline: 1 ready, 0 deadline passed, -errno. */
static int fetch_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - fetch_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = events };
        int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* Whether a path may go into the request line as it is: printable ASCII, no space. */
static bool fetch_path_ok(const char *p)
{
    if (p[0] != '/' || strlen(p) > 4096)
        return false;
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
            return false;
    return true;
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
            return xasprintf("%.*s", (int)strcspn(v, "&"), v);
        }
        q = strchr(q, '&');
    }
    return NULL;
}

/*
 * Parses ADDRESS: "unix:PATH", "HOST:PORT" ("[IPv6]:PORT"; an empty HOST is localhost, as in
 * Go's ":6060") or "http://HOST[:PORT][/PATH]", the form lockprof's "serving" line prints.
 */
static void fetch_parse_address(const char *given, struct fetch_addr *a)
{
    memset(a, 0, sizeof *a);
    if (strncmp(given, "unix:", 5) == 0) {
        struct sockaddr_un sun;
        a->unix_path = given + 5;
        if (!*a->unix_path)
            usage_error("fetch", "address '%s': expected unix:PATH", given);
        if (strlen(a->unix_path) >= sizeof sun.sun_path)
            usage_error("fetch", "address '%s': a socket path has at most %zu bytes", given,
                        sizeof sun.sun_path - 1);
        a->display = xstrdup(given);
        return;
    }
    bool url = false;
    const char *rest = given;
    if (strncasecmp(given, "http://", 7) == 0) {
        url = true;
        rest += 7;
    } else if (strncasecmp(given, "https://", 8) == 0) {
        usage_error("fetch", "address '%s': lockprof's endpoint speaks plain HTTP, not https",
                    given);
    } else if (strstr(given, "://") || !strchr(given, ':')) {
        usage_error("fetch", "address '%s': expected HOST:PORT, http://HOST:PORT or unix:PATH",
                    given);
    }

    size_t alen = strcspn(rest, "/?#");
    char *auth = xasprintf("%.*s", (int)alen, rest);
    const char *tail = rest + alen;
    const char *host = auth, *port = NULL;
    if (auth[0] == '[') {
        char *close = strchr(auth, ']');
        if (!close || close == auth + 1 || (close[1] != '\0' && close[1] != ':'))
            usage_error("fetch", "address '%s': expected [IPv6 ADDRESS]:PORT", given);
        *close = '\0';
        host = auth + 1;
        port = close[1] == ':' ? close + 2 : NULL;
        if (strspn(host, "0123456789abcdefABCDEF:.") != strlen(host))
            usage_error("fetch", "address '%s': '%s' is not an IPv6 address", given, host);
    } else {
        char *colon = strrchr(auth, ':');
        if (colon && strchr(auth, ':') != colon)
            usage_error("fetch", "address '%s': an IPv6 address goes in brackets: "
                        "[ADDRESS]:PORT", given);
        if (colon) {
            *colon = '\0';
            port = colon + 1;
        }
        if (!*host)
            host = "localhost";
        for (const char *c = host; *c; c++)
            if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
                !(*c >= '0' && *c <= '9') && *c != '.' && *c != '-' && *c != '_')
                usage_error("fetch", "address '%s': '%s' is not a host name", given, host);
    }
    uint64_t pn = 80;
    if (!port && !url)
        usage_error("fetch", "address '%s': expected HOST:PORT", given);
    if (port && parse_whole(port, 65535, &pn) < 0)
        usage_error("fetch", "address '%s': port '%s': expected a number from 1 to 65535",
                    given, port);
    if (pn == 0)
        usage_error("fetch", "address '%s': port 0: the program chose its port; its "
                    "'lockprof: serving' line says which", given);

    /* A URL's path: /debug/pprof/ is where the "serving" line points; anything else is WHAT. */
    size_t plen = strcspn(tail, "#");
    if (plen > 0) {
        char *path = xasprintf("%s%.*s", tail[0] == '?' ? "/" : "", (int)plen, tail);
        if (strcmp(path, "/") == 0 || strcmp(path, "/debug/pprof") == 0 ||
            strcmp(path, "/debug/pprof/") == 0)
            free(path);
        else if (!fetch_path_ok(path))
            usage_error("fetch", "address '%s': spaces, control characters and non-ASCII in "
                        "a path must be percent-encoded", given);
        else
            a->url_path = path;
    }
    a->host = xstrdup(host);
    a->port = xasprintf("%" PRIu64, pn);
    a->display = xasprintf(strchr(host, ':') ? "[%s]:%s" : "%s:%s", a->host, a->port);
    free(auth);
}

/* Connects before the deadline; a one-line message and exit 1 if it cannot. */
static int fetch_connect(const struct fetch_addr *a, int64_t deadline, uint64_t limit)
{
    int err = 0;
    if (a->unix_path) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, a->unix_path, strlen(a->unix_path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            fail(1, "fetch", "socket: %s", strerror(errno));
        for (;;) {
            if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
                return fd;
            err = errno;
            if (err == EINTR)
                continue;
            /* A full backlog: a unix socket's connect cannot be polled; try again shortly. */
            if (err != EAGAIN || fetch_now_ms() >= deadline)
                break;
            struct timespec ten_ms = { 0, 10000000 };
            nanosleep(&ten_ms, NULL);
        }
        close(fd);
    } else {
        struct addrinfo hints, *res;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        int rc = getaddrinfo(a->host, a->port, &hints, &res);
        if (rc != 0)
            fail(1, "fetch", "cannot connect to %s: %s", a->display,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        for (struct addrinfo *ai = res; ai && err != ETIMEDOUT; ai = ai->ai_next) {
            int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                            ai->ai_protocol);
            if (fd < 0) {
                err = errno;
                continue;
            }
            if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
                freeaddrinfo(res);
                return fd;
            }
            err = errno;
            if (err == EINPROGRESS || err == EINTR) {
                int w = fetch_wait(fd, POLLOUT, deadline);
                socklen_t len = sizeof err;
                if (w > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                    err = errno;
                else if (w == 0)
                    err = ETIMEDOUT;
                else if (w < 0)
                    err = -w;
                if (err == 0) {
                    freeaddrinfo(res);
                    return fd;
                }
            }
            close(fd);
        }
        freeaddrinfo(res);
    }
    if (err == ETIMEDOUT || err == EAGAIN)
        fail(1, "fetch", "cannot connect to %s: no answer within %" PRIu64 " s", a->display,
             limit);
    if (err == ECONNREFUSED || err == ENOENT)
        fail(1, "fetch", "cannot connect to %s: %s (is the program running, with "
             "LOCKPROF_HTTP=%s?)", a->display, strerror(err), a->display);
    fail(1, "fetch", "cannot connect to %s: %s", a->display, strerror(err));
}

/* Sends all of the request; exit 1 on failure. */
static void fetch_send(int fd, const char *req, int64_t deadline, const char *where,
                       uint64_t limit)
{
    size_t len = strlen(req), off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        int w = errno == EAGAIN || errno == EWOULDBLOCK ? fetch_wait(fd, POLLOUT, deadline)
                                                        : -errno;
        if (w == 0)
            fail(1, "fetch", "%s: could not send the request within %" PRIu64 " s", where,
                 limit);
        if (w < 0)
            fail(1, "fetch", "%s: sending the request: %s", where, strerror(-w));
    }
}

/*
 * Decodes a chunked body (RFC 9112 §7.1) at p[0..len): its length, -EAGAIN if incomplete or
 * -EBADMSG. With apply, the data is also moved together at p (it only moves backwards).
 */
static ssize_t fetch_dechunk(uint8_t *p, size_t len, bool apply)
{
    size_t r = 0, w = 0;
    for (;;) {
        uint8_t *nl = memchr(p + r, '\n', len - r);
        if (!nl)
            return -EAGAIN;
        size_t end = (size_t)(nl - p), size = 0, i = r;
        for (; i < end; i++) {
            int d = p[i] >= '0' && p[i] <= '9'   ? p[i] - '0'
                    : p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
                    : p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10
                                                 : -1;
            if (d < 0)
                break;
            if (size > TOP_MAX_FILE)
                return -EBADMSG;
            size = size * 16 + (size_t)d;
        }
        if (i == r || (i < end && p[i] != ';' && p[i] != ' ' && p[i] != '\t' && p[i] != '\r'))
            return -EBADMSG;
        r = end + 1;
        if (size == 0) {
            /* The trailer section, up to an empty line. */
            for (;;) {
                nl = memchr(p + r, '\n', len - r);
                if (!nl)
                    return -EAGAIN;
                bool empty = nl == p + r || (nl == p + r + 1 && p[r] == '\r');
                r = (size_t)(nl - p) + 1;
                if (empty)
                    return (ssize_t)w;
            }
        }
        if (len - r < size + 1)
            return -EAGAIN;
        if (apply)
            memmove(p + w, p + r, size);
        w += size;
        r += size;
        if (p[r] == '\r') {
            if (len - r < 2)
                return -EAGAIN;
            r++;
        }
        if (p[r] != '\n')
            return -EBADMSG;
        r++;
    }
}

/* The end of the header section in buf (the first byte of the body), or 0 if not there yet. */
static size_t fetch_head_end(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Copies a header value without the surrounding blanks. */
static void fetch_trim_copy(char *out, size_t size, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
        n--;
    snprintf(out, size, "%.*s", (int)n, v);
}

/*
 * Parses the status line and the headers we need. Returns the Content-Length (-1 if none);
 * sets *chunked. Exit 1 if this is not an HTTP answer.
 */
static int64_t fetch_parse_head(struct fetch_answer *ans, size_t head_len, bool *chunked,
                                const char *where)
{
    const char *h = (const char *)ans->buf;
    if (head_len < 13 || strncmp(h, "HTTP/1.", 7) != 0 || h[7] < '0' || h[7] > '9' ||
        h[8] != ' ' || h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' ||
        h[11] < '0' || h[11] > '9' || (h[12] != ' ' && h[12] != '\r' && h[12] != '\n'))
        fail(1, "fetch", "%s: the answer is not HTTP (does that port serve lockprof's "
             "endpoint?)", where);
    ans->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    const char *eol = memchr(h, '\n', head_len);
    fetch_trim_copy(ans->reason, sizeof ans->reason, h + 12, (size_t)(eol - h - 12));

    int64_t length = -1;
    *chunked = false;
    for (const char *line = eol + 1; line < h + head_len; line = eol + 1) {
        eol = memchr(line, '\n', (size_t)(h + head_len - line));
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon)
            continue;
        size_t nlen = (size_t)(colon - line), vlen = (size_t)(eol - colon - 1);
        char v[128];
        if (nlen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
            uint64_t n;
            fetch_trim_copy(v, sizeof v, colon + 1, vlen);
            if (parse_whole(v, TOP_MAX_FILE, &n) < 0 || (length >= 0 && (uint64_t)length != n))
                fail(1, "fetch", "%s: the answer has a bad Content-Length, '%s'", where, v);
            length = (int64_t)n;
        } else if (nlen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
            fetch_trim_copy(v, sizeof v, colon + 1, vlen);
            *chunked = strcasestr(v, "chunked") != NULL;
        } else if (nlen == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
            fetch_trim_copy(ans->type, sizeof ans->type, colon + 1, vlen);
        }
    }
    if (*chunked)
        length = -1; /* RFC 9112 §6.3: chunked wins over Content-Length */
    return length;
}

/*
 * Reads the whole answer, until its body is complete (Content-Length, chunked) or the server
 * closes, within the deadline. Exit 1 on failure.
 */
static void fetch_receive(int fd, int64_t deadline, const char *where, uint64_t limit,
                          struct fetch_answer *ans)
{
    size_t cap = 65536, len = 0, head = 0;
    uint8_t *buf = xmalloc(cap);
    int64_t length = -1;
    bool chunked = false, eof = false;
    for (;;) {
        if (head && length >= 0 && len - head >= (uint64_t)length)
            break;
        if (head && chunked && fetch_dechunk(buf + head, len - head, false) >= 0)
            break;
        if (len == cap) {
            if (cap >= TOP_MAX_FILE)
                fail(1, "fetch", "%s: the answer is larger than %llu bytes", where,
                     TOP_MAX_FILE);
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = fetch_wait(fd, POLLIN, deadline);
            if (w == 0)
                fail(1, "fetch", "%s: no complete answer within %" PRIu64 " s%s", where, limit,
                     len ? "" : " (the program sent nothing)");
            if (w < 0)
                fail(1, "fetch", "%s: receiving the answer: %s", where, strerror(-w));
            continue;
        }
        if (n < 0)
            fail(1, "fetch", "%s: receiving the answer: %s", where, strerror(errno));
        if (n == 0) {
            eof = true;
            if (!head)
                fail(1, "fetch", "%s: the connection closed %s", where,
                     len ? "in the middle of the answer's header" : "without an answer");
            break;
        }
        len += (size_t)n;
        if (!head && (head = fetch_head_end(buf, len)) != 0) {
            ans->buf = buf;
            length = fetch_parse_head(ans, head, &chunked, where);
        } else if (!head && len > 65536) {
            fail(1, "fetch", "%s: the answer's header is longer than 64 KiB", where);
        }
    }
    size_t body = len - head;
    if (length >= 0 && body < (uint64_t)length)
        fail(1, "fetch", "%s: the connection closed after %zu of the answer's %" PRId64
             " bytes", where, body, length);
    if (length >= 0)
        body = (size_t)length;
    if (chunked) {
        ssize_t d = fetch_dechunk(buf + head, len - head, true);
        if (d < 0)
            fail(1, "fetch", "%s: %s", where, eof && d == -EAGAIN
                 ? "the connection closed in the middle of the answer"
                 : "the answer's chunked encoding is malformed");
        body = (size_t)d;
    }
    ans->buf = buf;
    ans->body = buf + head;
    ans->len = body;
}

/* The first line of a body, made printable and short, for an error message. */
static char *fetch_first_line(const uint8_t *body, size_t len)
{
    size_t n = 0;
    while (n < len && n < 300 && body[n] != '\n')
        n++;
    char *s = xasprintf("%.*s", (int)n, (const char *)body);
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            s[i] = '?';
    return s;
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
    char *tmp = xasprintf("%s.lockprof-fetch.XXXXXX", dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (given)
            fail(EXIT_USAGE, "fetch", "-o '%s': cannot write in %s: %s", given,
                 *dir ? dir : ".", strerror(e));
        fail(EXIT_USAGE, "fetch", "cannot write in the current directory: %s (use -o)",
             strerror(e));
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
        char *name = xasprintf("%s%s.%03u.%s", dir, base, n, ext);
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
            fail(1, "fetch", "writing %s%s.NNN.%s: %s", dir, base, ext, strerror(e));
    }
    fail(1, "fetch", "writing %s%s.NNN.%s: no free number", dir, base, ext);
}

static int cmd_fetch(int argc, char **argv)
{
    const char *pos[3] = { NULL, NULL, NULL };
    const char *out = NULL, *qopt = NULL;
    int npos = 0;
    bool opts_done = false, json = false, has_seconds = false, has_rate = false,
         has_fraction = false, has_debug = false;
    uint64_t seconds = 0, rate = 0, fraction = 0, debug = 0, timeout = 30;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (opts_done || a[0] != '-' || a[1] == '\0') {
            if (npos == 2)
                usage_error("fetch", "unexpected argument '%s' after ADDRESS and WHAT", a);
            pos[npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            opts_done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(fetch_usage, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
            qopt = "--json";
        } else if ((v = opt_value("fetch", argc, argv, &i, "--output", "-o"))) {
            if (!*v)
                usage_error("fetch", "-o '': expected a file name, a directory or -");
            out = v;
        } else if ((v = opt_value("fetch", argc, argv, &i, "--seconds", NULL))) {
            if (parse_whole(v, 86400, &seconds) < 0 || seconds == 0)
                usage_error("fetch", "--seconds '%s': expected a whole number of seconds from "
                            "1 to 86400", v);
            has_seconds = true;
            qopt = "--seconds";
        } else if ((v = opt_value("fetch", argc, argv, &i, "--rate", NULL))) {
            if (parse_whole(v, RUN_BLOCK_RATE_MAX, &rate) < 0)
                usage_error("fetch", "--rate '%s': expected a whole number of nanoseconds up "
                            "to %llu", v, RUN_BLOCK_RATE_MAX);
            has_rate = true;
            qopt = "--rate";
        } else if ((v = opt_value("fetch", argc, argv, &i, "--fraction", NULL))) {
            if (parse_whole(v, RUN_MUTEX_FRACTION_MAX, &fraction) < 0)
                usage_error("fetch", "--fraction '%s': expected a whole number up to %llu", v,
                            RUN_MUTEX_FRACTION_MAX);
            has_fraction = true;
            qopt = "--fraction";
        } else if ((v = opt_value("fetch", argc, argv, &i, "--debug", NULL))) {
            if (parse_whole(v, 9, &debug) < 0 || debug > 1)
                usage_error("fetch", "--debug '%s': expected 1 (text) or 0 (pprof)", v);
            has_debug = true;
            qopt = "--debug";
        } else if ((v = opt_value("fetch", argc, argv, &i, "--timeout", NULL))) {
            if (parse_whole(v, 86400, &timeout) < 0 || timeout == 0)
                usage_error("fetch", "--timeout '%s': expected a whole number of seconds from "
                            "1 to 86400", v);
        } else {
            usage_error("fetch", "unknown option '%s'", a);
        }
    }
    if (npos == 0)
        usage_error("fetch", "no address to fetch from");

    struct fetch_addr addr;
    fetch_parse_address(pos[0], &addr);

    /* What to fetch: a name, a path, or the path of an http:// address. */
    enum fetch_kind kind = FETCH_MUTEX;
    const char *path = addr.url_path;
    if (pos[1] && path)
        usage_error("fetch", "both the address '%s' and '%s' say what to fetch; give one",
                    pos[0], pos[1]);
    if (pos[1] && pos[1][0] == '/') {
        if (!fetch_path_ok(pos[1]))
            usage_error("fetch", "'%s': spaces, control characters and non-ASCII in a path "
                        "must be percent-encoded", pos[1]);
        path = pos[1];
    } else if (pos[1]) {
        size_t k = 0;
        while (k < 4 && strcmp(pos[1], fetch_kind_names[k]) != 0)
            k++;
        if (k == 4)
            usage_error("fetch", "'%s': expected block, mutex, threads, index or a path "
                        "starting with /", pos[1]);
        kind = (enum fetch_kind)k;
    }
    if (path && qopt)
        usage_error("fetch", "%s does not go with a path: write the parameters in its query",
                    qopt);
    if (path)
        kind = FETCH_PATH;

    bool profile = kind == FETCH_BLOCK || kind == FETCH_MUTEX;
    if (json && kind != FETCH_THREADS)
        usage_error("fetch", "--json is for the threads view ('threads')");
    if (has_debug && !profile)
        usage_error("fetch", "--debug is for the block and mutex profiles%s",
                    kind == FETCH_THREADS ? " (--json for the threads view)" : "");
    if (has_seconds && !profile)
        usage_error("fetch", "--seconds is for the block and mutex profiles");
    if ((has_rate || has_fraction) && !has_seconds)
        usage_error("fetch", "%s needs --seconds: it sets the rate for that window only",
                    has_rate ? "--rate" : "--fraction");

    /* The request target, what the answer is, and a name for it. */
    char *target, *what;
    const char *name = kind == FETCH_PATH ? "answer" : fetch_kind_names[kind]; /* files' */
    bool pprof;
    if (kind == FETCH_PATH) {
        /* A path the endpoint knows is named, and checked, as if WHAT had named it. */
        target = xstrdup(path);
        what = xstrdup(path);
        char *d = fetch_query_value(path, "debug"), *s = fetch_query_value(path, "seconds");
        char *f = fetch_query_value(path, "format");
        size_t plen = strcspn(path, "?");
        pprof = false;
        for (size_t k = FETCH_BLOCK; k <= FETCH_THREADS; k++)
            if (plen == 13 + strlen(fetch_kind_names[k]) &&
                strncmp(path, "/debug/pprof/", 13) == 0 &&
                strncmp(path + 13, fetch_kind_names[k], plen - 13) == 0) {
                name = fetch_kind_names[k];
                pprof = k != FETCH_THREADS && (!d || strcmp(d, "0") == 0);
            }
        json = f && strcmp(f, "json") == 0;
        if (s && parse_whole(s, 86400, &seconds) < 0)
            seconds = 0;
        free(d);
        free(s);
        free(f);
    } else if (kind == FETCH_THREADS) {
        target = xstrdup(json ? "/debug/pprof/threads?format=json" : "/debug/pprof/threads");
        what = xstrdup(json ? "threads view, JSON" : "threads view");
        pprof = false;
    } else if (kind == FETCH_INDEX) {
        target = xstrdup("/debug/pprof/");
        what = xstrdup("index page");
        pprof = false;
    } else {
        char q[160] = "", w[160] = "";
        size_t qn = 0, wn = 0;
        if (debug) {
            qn += (size_t)snprintf(q + qn, sizeof q - qn, "&debug=1");
            wn += (size_t)snprintf(w + wn, sizeof w - wn, ", debug=1 text");
        }
        if (has_seconds) {
            qn += (size_t)snprintf(q + qn, sizeof q - qn, "&seconds=%" PRIu64, seconds);
            wn += (size_t)snprintf(w + wn, sizeof w - wn, ", delta of %" PRIu64 " s", seconds);
        }
        if (has_rate) {
            qn += (size_t)snprintf(q + qn, sizeof q - qn, "&rate=%" PRIu64, rate);
            wn += (size_t)snprintf(w + wn, sizeof w - wn, ", block rate %" PRIu64, rate);
        }
        if (has_fraction) {
            qn += (size_t)snprintf(q + qn, sizeof q - qn, "&fraction=%" PRIu64, fraction);
            wn += (size_t)snprintf(w + wn, sizeof w - wn, ", mutex fraction %" PRIu64,
                                   fraction);
        }
        target = xasprintf("/debug/pprof/%s%s%s", fetch_kind_names[kind], qn ? "?" : "",
                           qn ? q + 1 : "");
        what = xasprintf("%s profile%s", fetch_kind_names[kind], w);
        pprof = !debug;
    }

    /*
     * Where the answer goes. Text: standard output. pprof: a new numbered file (a binary
     * profile is something to keep and hand to a reader, and never goes to a terminal);
     * "-o -" sends it to standard output when that is not a terminal. A regular file is
     * replaced by rename (through a symbolic link: the link stays); a device or a FIFO
     * (/dev/null, a pipe's /dev/stdout) is written to as it is, never replaced.
     */
    bool to_stdout = out ? strcmp(out, "-") == 0 : !pprof;
    int direct = to_stdout ? STDOUT_FILENO : -1, fd = -1;
    char *dir = NULL, *file = NULL;
    if (!to_stdout) {
        struct stat st, lst;
        bool exists = out && stat(out, &st) == 0;
        char *real = exists && lstat(out, &lst) == 0 && S_ISLNK(lst.st_mode)
                         ? realpath(out, NULL)
                         : NULL;
        if (exists && !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            direct = open(out, O_WRONLY | O_CLOEXEC);
            if (direct < 0)
                fail(EXIT_USAGE, "fetch", "-o '%s': %s", out, strerror(errno));
            file = xstrdup(out);
        } else if (!out || (exists && S_ISDIR(st.st_mode))) {
            /* A new numbered file in the current directory or in DIR. */
            dir = !out ? xstrdup("")
                       : xasprintf("%s%s", out, out[strlen(out) - 1] == '/' ? "" : "/");
        } else {
            file = real ? real : xstrdup(out);
            real = NULL;
            const char *slash = strrchr(file, '/');
            dir = slash ? xasprintf("%.*s", (int)(slash - file + 1), file) : xstrdup("");
        }
        free(real);
    }
    if (direct >= 0 && pprof && isatty(direct))
        usage_error("fetch", "not writing a binary profile to a terminal: give -o FILE, or "
                    "redirect standard output");
    if (direct < 0) {
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
        fd = fetch_open_tmp(dir, out);
    }

    /* The request: one deadline for everything, --seconds (the window) + --timeout. */
    uint64_t limit = seconds + timeout;
    int64_t deadline = fetch_now_ms() + (int64_t)limit * 1000;
    char *where = xasprintf("%s from %s", target, addr.display);
    if (seconds && isatty(STDERR_FILENO))
        message("fetch", "%s: the answer comes in %" PRIu64 " s", where, seconds);
    char *req = xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lockprof-fetch/%s\r\n"
                          "Accept: */*\r\nConnection: close\r\n\r\n",
                          target, addr.unix_path ? "localhost" : addr.display, TOOL_VERSION);
    int sock = fetch_connect(&addr, deadline, limit);
    fetch_send(sock, req, deadline, where, limit);
    struct fetch_answer ans;
    memset(&ans, 0, sizeof ans);
    fetch_receive(sock, deadline, where, limit, &ans);
    close(sock);

    if (ans.status != 200) {
        /* The endpoint's errors are one line of text/plain; other bodies are not shown. */
        bool text = !ans.type[0] || strncasecmp(ans.type, "text/plain", 10) == 0;
        char *line = text ? fetch_first_line(ans.body, ans.len) : xstrdup("");
        fail(1, "fetch", "%s: %d%s%s%s%s", where, ans.status, ans.reason[0] ? " " : "",
             ans.reason, line[0] ? ": " : "", line);
    }
    if (pprof) {
        /* The whole gzip stream, not only its magic: a body cut short by a close is refused. */
        if (ans.len < 2 || ans.body[0] != 0x1f || ans.body[1] != 0x8b) {
            char *line = fetch_first_line(ans.body, ans.len);
            fail(1, "fetch", "%s: the answer is not a gzip-compressed profile "
                 "(%zu bytes%s%s%s%s%s)", where, ans.len, ans.type[0] ? ", " : "", ans.type,
                 line[0] ? ", beginning '" : "", line, line[0] ? "'" : "");
        }
        uint8_t *inflated = NULL;
        size_t ilen = 0;
        int rc = top_gunzip(ans.body, ans.len, &inflated, &ilen);
        if (rc < 0)
            fail(1, "fetch", "%s: the profile is %s", where,
                 rc == -EBADMSG ? "truncated or corrupt gzip data" : strerror(-rc));
        free(inflated);
    } else if (direct >= 0 && isatty(direct) &&
               (memchr(ans.body, '\0', ans.len) ||
                strncasecmp(ans.type, "application/octet-stream", 24) == 0)) {
        fail(1, "fetch", "%s: the answer is binary (%s); not writing it to a terminal: "
             "give -o FILE", where, ans.type[0] ? ans.type : "no Content-Type");
    }

    if (direct >= 0) {
        fflush(stdout);
        int rc = fetch_write_all(direct, ans.body, ans.len);
        if (rc == 0 && file && close(direct) != 0)
            rc = -errno;
        if (rc < 0)
            fail(1, "fetch", "writing %s: %s", file ? file : "to standard output",
                 strerror(-rc));
        if (file)
            message("fetch", "wrote %zu bytes to %s (%s)", ans.len, file, what);
        return 0;
    }

    int rc = fetch_write_all(fd, ans.body, ans.len);
    if (rc == 0 && fsync(fd) != 0 && errno != EINVAL)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        fail(1, "fetch", "writing %s: %s", file ? file : *dir ? dir : "./", strerror(-rc));
    if (file) {
        if (rename(fetch_tmp, file) != 0)
            fail(1, "fetch", "writing %s: %s", file, strerror(errno));
    } else {
        const char *ext = pprof                   ? "pb.gz"
                          : kind == FETCH_INDEX   ? "html"
                          : json                  ? "json"
                                                  : "txt";
        char *base = xasprintf("lockprof-fetch.%s", name);
        file = fetch_place_numbered(dir, base, ext);
        free(base);
    }
    char *tmp = fetch_tmp;
    fetch_tmp = NULL;
    free(tmp);
    message("fetch", "wrote %zu bytes to %s (%s)", ans.len, file, what);

    free(file);
    free(dir);
    free(req);
    free(where);
    free(what);
    free(target);
    free(ans.buf);
    free(addr.host);
    free(addr.port);
    free(addr.url_path);
    free(addr.display);
    return 0;
}

/* ------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        const char *what = argc > 2 ? argv[2] : NULL;
        fputs(what && strcmp(what, "run") == 0     ? run_usage
              : what && strcmp(what, "top") == 0   ? top_usage
              : what && strcmp(what, "fetch") == 0 ? fetch_usage
                                                   : main_usage,
              stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("lockprof %s\n", TOOL_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "top") == 0)
        return cmd_top(argc - 1, argv + 1);
    if (strcmp(cmd, "fetch") == 0)
        return cmd_fetch(argc - 1, argv + 1);
    if (cmd[0] == '-')
        usage_error(NULL, "unknown option '%s'", cmd);
    usage_error(NULL, "unknown command '%s'", cmd);
}
