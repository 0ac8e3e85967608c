/*
 * run.c — `lockprof run`: starts a program with liblockprof.so preloaded, passes on the
 * termination signals sent to lockprof itself, says where the profiles went and leaves with
 * the program's status (or dies of the same signal).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmds.h"
#include "config.h"

/* The default of one of the library's variables, as its table has it. */
static const char *run_default(const char *var, char *buf, size_t size)
{
    const char *def = lp_config_default(var, buf, size);
    return def ? def : "";
}

/* --cpu without a rate: Go's and gperftools' (the library's default is 0, off). */
#define RUN_CPU_HZ 100

/* The usage text, with the library's own defaults. */
static void run_usage(void)
{
    char rate[32], fraction[32], out[64];
    const char *def_out = run_default("LOCKPROF_OUT", out, sizeof out);
    printf("usage: lockprof run [OPTIONS] [--] PROGRAM [ARGS...]\n"
           "\n"
           "Runs PROGRAM with liblockprof.so preloaded and waits for it. When it ends, lockprof\n"
           "says where the profiles are and exits with PROGRAM's status, or dies of the same\n"
           "signal. SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to lockprof with\n"
           "kill are passed on to PROGRAM (LOCKPROF_SIGNAL=SIGUSR2 then takes snapshots).\n"
           "\n"
           "options:\n"
           "  --block-rate NS      block profile: record every wait of NS nanoseconds or more,\n"
           "                       and shorter ones with probability wait/NS, weighted so that\n"
           "                       totals stay right (0 = off, 1 = every wait; default %s)\n"
           "  --mutex-fraction N   mutex profile: record one in N of the lock releases that\n"
           "                       made threads wait, scaled by N (0 = off, 1 = all; default %s)\n"
           "  --cpu[=HZ]           a CPU profile too, PREFIX.cpu.pb.gz: HZ samples a second of\n"
           "                       each thread's CPU time, from 1 to 1000 (--cpu alone: %d;\n"
           "                       0 = off, the default)\n"
           "  -o, --output PREFIX  write PREFIX.block.pb.gz and PREFIX.mutex.pb.gz (default\n"
           "                       ./%s; %%p = process id, %%t = start time, %%%% = %%;\n"
           "                       an existing directory DIR means DIR/%s)\n"
           "  -h, --help           show this help\n"
           "\n"
           "Without --block-rate, --mutex-fraction and --cpu, $LOCKPROF_BLOCK_RATE,\n"
           "$LOCKPROF_MUTEX_FRACTION and $LOCKPROF_CPU_HZ apply if set; other LOCKPROF_*\n"
           "variables pass through ('man 3 lockprof' lists them), but not $LOCKPROF_OUT:\n"
           "-o sets it.\n"
           "Exit status: PROGRAM's; 127 if PROGRAM was not found, 126 if it could not be\n"
           "executed, 2 if lockprof itself failed.\n",
           run_default("LOCKPROF_BLOCK_RATE", rate, sizeof rate),
           run_default("LOCKPROF_MUTEX_FRACTION", fraction, sizeof fraction), RUN_CPU_HZ,
           def_out, def_out);
}

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
 * The absolute form of the -o prefix, checked by the library's own rules for LOCKPROF_OUT
 * (an unusable value there silently falls back to the default). An existing directory means
 * DIR/lockprof.%p. Exits with a one-line error when the prefix cannot work.
 */
static char *run_absolute_prefix(const char *given)
{
    struct stat st;
    char *cwd = NULL;
    char *abs, def[64], expected[320];

    if (!*given)
        lp_cli_fail(LP_CLI_USAGE, "run", "-o '': expected a path prefix");
    if (given[0] != '/') {
        char *raw = getcwd(NULL, 0);
        if (!raw)
            lp_cli_fail(LP_CLI_USAGE, "run", "cannot find the current directory: %s",
                        strerror(errno));
        /* The library expands % sequences in the whole prefix: a % of the cwd is literal. */
        cwd = lp_cli_xmalloc(2 * strlen(raw) + 1);
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
    abs = lp_cli_xasprintf("%s%s%s%s%s", cwd ? cwd : "",
                           cwd && strcmp(cwd, "/") != 0 ? "/" : "", given,
                           is_dir && given[strlen(given) - 1] != '/' ? "/" : "",
                           is_dir ? run_default("LOCKPROF_OUT", def, sizeof def) : "");
    free(cwd);
    run_tidy_path(abs);
    if (!lp_config_check("LOCKPROF_OUT", abs, expected, sizeof expected))
        lp_cli_fail(LP_CLI_USAGE, "run", "-o '%s': %s", given, expected);

    /* The directory must exist and be writable, unless it depends on %p or %t. */
    char *slash = strrchr(abs, '/');
    size_t dlen = slash == abs ? 1 : (size_t)(slash - abs);
    char *pattern = lp_cli_xasprintf("%.*s", (int)dlen, abs), *dir = NULL;
    if (!lp_config_pattern_has(pattern, 'p') && !lp_config_pattern_has(pattern, 't')) {
        /* What is left to expand is %%: the name is never longer than its pattern. */
        dir = lp_cli_xmalloc(dlen + 1);
        lp_config_expand(dir, dlen + 1, pattern, NULL, NULL, 0);
        if (stat(dir, &st) != 0)
            lp_cli_fail(LP_CLI_USAGE, "run", "-o '%s': %s: %s", given, dir, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            lp_cli_fail(LP_CLI_USAGE, "run", "-o '%s': %s: %s", given, dir,
                        strerror(ENOTDIR));
        if (access(dir, W_OK | X_OK) != 0)
            lp_cli_fail(LP_CLI_USAGE, "run", "-o '%s': cannot write in %s: %s", given, dir,
                        strerror(errno));
    }
    free(pattern);
    free(dir);
    return abs;
}

/*
 * A name of this prefix's files, then suffix: %p becomes pid and %t start, or stay as they
 * are written where those are NULL; %% becomes %. With LP_EXPAND_GLOB, a glob pattern: the
 * prefix's own metacharacters are escaped (suffix is a pattern as it is).
 */
static char *run_expand(const char *prefix, const char *pid, const char *start, unsigned flags,
                        const char *suffix)
{
    size_t size = 2 * strlen(prefix) + 64;
    for (;;) {
        char *s = lp_cli_xmalloc(size);
        int rc = lp_config_expand(s, size, prefix, pid, start, flags);
        if (rc == 0) {
            char *name = lp_cli_xasprintf("%s%s", s, suffix);
            free(s);
            return name;
        }
        free(s);
        if (rc != -ENAMETOOLONG) /* the prefix was checked: never */
            lp_cli_fail(LP_CLI_USAGE, "run", "%s: %s", prefix, strerror(-rc));
        size *= 2;
    }
}

/* The glob pattern of one profile file of this prefix: %p becomes the pid (or * when pid is
 * 0), %t becomes *. */
static char *run_pattern(const char *prefix, pid_t pid, const char *suffix)
{
    char spid[24];
    snprintf(spid, sizeof spid, "%ld", (long)pid);
    return run_expand(prefix, pid > 0 ? spid : "*", "*", LP_EXPAND_GLOB, suffix);
}

/* The name of a profile file for messages: %p and %% expanded, %t left as it is. */
static char *run_display_name(const char *prefix, pid_t pid, const char *suffix)
{
    char spid[24];
    snprintf(spid, sizeof spid, "%ld", (long)pid);
    return run_expand(prefix, spid, NULL, 0, suffix);
}

/* A file that existed before the run, as it was then. */
struct run_seen_file {
    char *path;
    dev_t dev;
    ino_t ino;
    struct timespec mtim;
};

struct run_seen_set {
    struct run_seen_file *v;
    size_t n;
};

static void run_seen_add_glob(struct run_seen_set *s, const char *pattern)
{
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) != 0)
            continue;
        s->v = lp_cli_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
        s->v[s->n++] = (struct run_seen_file){ lp_cli_xstrdup(g.gl_pathv[i]), st.st_dev,
                                               st.st_ino, st.st_mtim };
    }
    globfree(&g);
}

/*
 * Whether path was written during the run: it did not exist before, or it is another file
 * now (the library writes a temporary file and renames it), or it was modified. Comparing
 * identities rather than times is immune to clock skew and coarse file-system timestamps.
 */
static bool run_seen_is_new(const struct run_seen_set *s, const char *path)
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

static bool run_strv_contains(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static const char *run_signal_name(int sig, char *buf, size_t size)
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
    int nkinds;              /* the profiles looked for: block, mutex, and cpu when it is on */
    struct run_seen_set before;  /* profile-like files that existed before the run */
};

static const char *const run_kinds[3] = { "block", "mutex", "cpu" };
static const char *const run_kind_meaning[3] = { "where threads waited", "who made them wait",
                                                 "where the CPU time went" };

/* Says on stderr where the profiles of the run are, or why one is missing. */
static void run_report(struct run_report *r)
{
    char *found[64];
    size_t nfound = 0, nkept = 0;
    char why[160];

    if (WIFSIGNALED(r->status)) {
        char name[32];
        snprintf(why, sizeof why, "%s died of %s before writing it", r->program,
                 run_signal_name(WTERMSIG(r->status), name, sizeof name));
    } else {
        snprintf(why, sizeof why, "did %s leave through _exit() or exec()?", r->program);
    }

    for (int k = 0; k < r->nkinds; k++) {
        char suffix[32];
        glob_t g;
        snprintf(suffix, sizeof suffix, ".%s.pb.gz", run_kinds[k]);
        char *pattern = run_pattern(r->prefix, r->pid, suffix);
        bool any = false, stale = false;
        if (glob(pattern, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                if (!run_seen_is_new(&r->before, g.gl_pathv[i])) {
                    stale = true;
                    continue;
                }
                lp_cli_message(NULL, "%s profile: %s (%s)", run_kinds[k], g.gl_pathv[i],
                               run_kind_meaning[k]);
                if (nkept < sizeof found / sizeof found[0])
                    found[nkept++] = lp_cli_xstrdup(g.gl_pathv[i]);
                nfound++;
                any = true;
            }
            globfree(&g);
        }
        if (!any) {
            char *disp = run_display_name(r->prefix, r->pid, suffix);
            if ((k == 0 && r->block_off) || (k == 1 && r->mutex_off))
                lp_cli_message(NULL, "no %s profile: %s profiling was off (--%s 0)",
                               run_kinds[k], run_kinds[k],
                               k == 0 ? "block-rate" : "mutex-fraction");
            else if (stale)
                lp_cli_message(NULL, "no new %s profile: %s is from an earlier run (%s)",
                               run_kinds[k], disp, why);
            else
                lp_cli_message(NULL, "no %s profile at %s (%s)", run_kinds[k], disp, why);
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
                if (!n || !run_seen_is_new(&r->before, p))
                    continue;
                nsnap++;
                unsigned long k = strtoul(n + 10, NULL, 10);
                if (!newest || k > newest_n) {
                    newest = p;
                    newest_n = k;
                }
            }
            if (nsnap)
                lp_cli_message(NULL, "snapshots written during the run: %zu (the newest: %s)",
                               nsnap, newest);
            globfree(&g);
        }
        free(pattern);
    }

    /* Profiles of other processes of the run: forked children profile under their own pid. */
    if (strstr(r->prefix, "%p") || strstr(r->prefix, "%t")) {
        size_t nother = 0;
        for (int k = 0; k < r->nkinds; k++) {
            char suffix[32];
            glob_t g;
            snprintf(suffix, sizeof suffix, ".%s.pb.gz", run_kinds[k]);
            char *pattern = run_pattern(r->prefix, 0, suffix);
            if (glob(pattern, 0, NULL, &g) == 0) {
                for (size_t i = 0; i < g.gl_pathc; i++) {
                    const char *p = g.gl_pathv[i];
                    if (run_strv_contains(found, nkept, p) || !run_seen_is_new(&r->before, p) ||
                        strstr(p, ".snapshot-"))
                        continue;
                    if (nother < 6)
                        lp_cli_message(NULL, "also written during the run: %s", p);
                    nother++;
                }
                globfree(&g);
            }
            free(pattern);
        }
        if (nother > 6)
            lp_cli_message(NULL, "... and %zu more profiles written during the run",
                           nother - 6);
        nfound += nother;
    }

    if (nfound > 0)
        lp_cli_message(NULL,
                       "look at them with: lockprof top FILE   or   go tool pprof -top FILE");
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

int cmd_run(int argc, char **argv)
{
    const char *block = NULL, *mutex = NULL, *out = NULL, *cpu = NULL;
    uint64_t block_v = 0, mutex_v = 0, cpu_v = 0;
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
            run_usage();
            return 0;
        }
        if ((v = lp_cli_opt_value("run", argc, argv, &i, "--block-rate", NULL)))
            block = v;
        else if ((v = lp_cli_opt_value("run", argc, argv, &i, "--mutex-fraction", NULL)))
            mutex = v;
        else if ((v = lp_cli_opt_value("run", argc, argv, &i, "--output", "-o")))
            out = v;
        else if (strcmp(a, "--cpu") == 0) /* (its value is optional: only --cpu=HZ) */
            cpu = "";
        else if (strncmp(a, "--cpu=", 6) == 0)
            cpu = a + 6;
        else
            lp_cli_usage_error("run", "unknown option '%s'", a);
    }
    if (i >= argc)
        lp_cli_usage_error("run", "no program to run");
    char **prog = argv + i;

    /* The library's own table says what it accepts: the message ends with its words. */
    char expected[320], def[64];
    if (block && !lp_cli_config_number("LOCKPROF_BLOCK_RATE", block, &block_v, expected,
                                       sizeof expected))
        lp_cli_fail(LP_CLI_USAGE, "run", "--block-rate '%s': %s", block, expected);
    if (mutex && !lp_cli_config_number("LOCKPROF_MUTEX_FRACTION", mutex, &mutex_v, expected,
                                       sizeof expected))
        lp_cli_fail(LP_CLI_USAGE, "run", "--mutex-fraction '%s': %s", mutex, expected);
    if (cpu && !*cpu)
        cpu_v = RUN_CPU_HZ;
    else if (cpu && !lp_cli_config_number("LOCKPROF_CPU_HZ", cpu, &cpu_v, expected,
                                          sizeof expected))
        lp_cli_fail(LP_CLI_USAGE, "run", "--cpu='%s': %s", cpu, expected);
    if (!out)
        out = run_default("LOCKPROF_OUT", def, sizeof def);

    char lib[PATH_MAX], exe_dir[PATH_MAX];
    int rc = run_find_library(lib, exe_dir, sizeof exe_dir);
    if (rc < 0 && !exe_dir[0])
        lp_cli_fail(LP_CLI_USAGE, "run", "cannot find liblockprof.so: /proc/self/exe: %s",
                    strerror(-rc));
    if (rc == -ENOENT)
        lp_cli_fail(LP_CLI_USAGE, "run", "cannot find liblockprof.so in %s or %s/../lib",
                    exe_dir, exe_dir);
    if (rc < 0)
        lp_cli_fail(LP_CLI_USAGE, "run", "cannot find liblockprof.so: %s", strerror(-rc));
    if (strpbrk(lib, " :\t\n"))
        lp_cli_fail(LP_CLI_USAGE, "run", "%s: LD_PRELOAD cannot hold a path with spaces or "
                    "colons; install lockprof elsewhere", lib);

    char *prefix = run_absolute_prefix(out);

    /* The environment of the program. Values are rewritten in plain decimal. */
    const char *old_preload = getenv("LD_PRELOAD");
    char *preload = old_preload && *old_preload ? lp_cli_xasprintf("%s %s", lib, old_preload)
                                                : lp_cli_xstrdup(lib);
    char num[32];
    if (setenv("LD_PRELOAD", preload, 1) != 0 || setenv("LOCKPROF_OUT", prefix, 1) != 0)
        lp_cli_fail(LP_CLI_USAGE, "run", "setenv: %s", strerror(errno));
    /* The program is the first process of this run, whatever run started lockprof before. */
    unsetenv("LOCKPROF_ORIGIN");
    unsetenv("LOCKPROF_EXEC");
    if (block) {
        snprintf(num, sizeof num, "%" PRIu64, block_v);
        if (setenv("LOCKPROF_BLOCK_RATE", num, 1) != 0)
            lp_cli_fail(LP_CLI_USAGE, "run", "setenv: %s", strerror(errno));
    }
    if (mutex) {
        snprintf(num, sizeof num, "%" PRIu64, mutex_v);
        if (setenv("LOCKPROF_MUTEX_FRACTION", num, 1) != 0)
            lp_cli_fail(LP_CLI_USAGE, "run", "setenv: %s", strerror(errno));
    }
    if (cpu) {
        snprintf(num, sizeof num, "%" PRIu64, cpu_v);
        if (setenv("LOCKPROF_CPU_HZ", num, 1) != 0)
            lp_cli_fail(LP_CLI_USAGE, "run", "setenv: %s", strerror(errno));
    }
    free(preload);
    /* The CPU profile is looked for when the library will take one (a value it refuses is
     * 0 there). */
    const char *hz = getenv("LOCKPROF_CPU_HZ");
    uint64_t hz_v = 0;
    bool cpu_on = hz && lp_cli_config_number("LOCKPROF_CPU_HZ", hz, &hz_v, expected,
                                             sizeof expected) && hz_v > 0;

    struct run_report report = {
        .prefix = prefix,
        .program = prog[0],
        .block_off = block && block_v == 0,
        .mutex_off = mutex && mutex_v == 0,
        .nkinds = cpu_on ? 3 : 2,
    };
    for (int k = 0; k < report.nkinds; k++) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, ".%s.pb.gz", run_kinds[k]);
        char *pattern = run_pattern(prefix, 0, suffix);
        run_seen_add_glob(&report.before, pattern);
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
        lp_cli_fail(LP_CLI_USAGE, "run", "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        lp_cli_fail(LP_CLI_USAGE, "run", "fork: %s", strerror(errno));
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
        lp_cli_message("run", "%s: %s", prog[0], strerror(exec_errno));
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
            lp_cli_fail(LP_CLI_USAGE, "run", "sigwaitinfo: %s", strerror(errno));
        }
        if (sig == SIGCHLD) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid)
                break;
            if (w < 0 && errno != EINTR)
                lp_cli_fail(LP_CLI_USAGE, "run", "waitpid: %s", strerror(errno));
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
