/* config.c — the one table of lockprof's environment variables (DESIGN §4). */
#include "config.h"
#include "sys.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#include <signal.h>

enum config_type { CONFIG_U64, CONFIG_BOOL, CONFIG_PATH, CONFIG_WORDS, CONFIG_SIGNAL, CONFIG_STRING };

/* A word of a comma-separated list, and the bits it sets; "" ends a list. The word is held,
 * not pointed to: a table of pointers is relocated by the loader in every process. */
struct config_word {
    char word[8];
    uint64_t bits;
};

static const struct config_word config_io_words[] = {
    { "pipe", LP_IO_PIPE }, { "fifo", LP_IO_FIFO }, { "eventfd", LP_IO_EVENTFD },
    { "mq", LP_IO_MQ }, { "msg", LP_IO_MSG }, { "socket", LP_IO_SOCKET },
    { "file", LP_IO_FILE }, { "chr", LP_IO_CHR }, { "none", 0 }, { "", 0 },
};

#define SIGBIT(s) (1ULL << (s))
/* Signals whose default action ends the process and that arrive from outside (not faults:
 * a SIGSEGV handler that returns would fault again before any profile is written). */
static const struct config_word config_signal_words[] = {
    { "HUP", SIGBIT(SIGHUP) }, { "INT", SIGBIT(SIGINT) }, { "QUIT", SIGBIT(SIGQUIT) },
    { "ABRT", SIGBIT(SIGABRT) }, { "USR1", SIGBIT(SIGUSR1) }, { "USR2", SIGBIT(SIGUSR2) },
    { "PIPE", SIGBIT(SIGPIPE) }, { "ALRM", SIGBIT(SIGALRM) }, { "TERM", SIGBIT(SIGTERM) },
    { "XCPU", SIGBIT(SIGXCPU) }, { "XFSZ", SIGBIT(SIGXFSZ) }, { "VTALRM", SIGBIT(SIGVTALRM) },
    { "PROF", SIGBIT(SIGPROF) }, { "none", 0 }, { "", 0 },
};

struct config_var {
    const char *name;
    enum config_type type;
    size_t offset;
    uint64_t def, min, max; /* numbers and booleans */
    const char *def_str;    /* paths, and word lists as written */
    const char *meaning;
    const struct config_word *words; /* word lists */
    const char *unit;                /* numbers: "nanoseconds", "seconds", or NULL */
};

/*
 * The defaults, from the measurements of tests/bench/README.md. Block rate 100 us: every
 * wait of 100 us or more is recorded exactly, shorter ones in proportion to their length
 * (expected totals stay exact). The rate's value matters only where recording is most of the
 * cost: a contended lock's waiter is unwound before it blocks at any rate, but a pipe read is
 * checked (getrusage, fstat) and unwound only when picked — a pipe ping-pong measured 1.21x
 * at 10 us, 1.12x at 30 us, 1.08x at 100 us. Mutex fraction 10: a release that made others
 * wait is unwound one time in ten (at fraction 1, contended CPU per operation measured 1.22x
 * against about 1.10x); weights are pre-scaled, so totals stay unbiased.
 *
 * CPU profile: off unless asked for (it takes a signal of the program's, SIGPROF, and a timer
 * per thread). Up to 1000 Hz: the kernel checks CPU-time timers at its tick (CONFIG_HZ, at most
 * 1000; 250 on the machine measured), so a higher rate brings no more signals, only heavier
 * ones (each counts the periods it covers); 100 Hz is Go's and gperftools' rate.
 */
#define CONFIG_DEFAULT_OUT "lockprof.%p"

static const struct config_var config_vars[] = {
    { "LOCKPROF_BLOCK_RATE", CONFIG_U64, offsetof(struct lp_config, block_rate),
      100000, 0, 1000000000000ULL, NULL,
      "block profile rate in ns: 0 off, 1 every wait, N one wait per N ns waited", NULL,
      "nanoseconds" },
    { "LOCKPROF_MUTEX_FRACTION", CONFIG_U64, offsetof(struct lp_config, mutex_fraction),
      10, 0, 1000000000ULL, NULL, "mutex profile: 0 off, n one charge in n", NULL, NULL },
    { "LOCKPROF_CPU_HZ", CONFIG_U64, offsetof(struct lp_config, cpu_hz),
      0, 0, 1000, NULL, "CPU profile: samples per second of each thread's CPU time (0 off; "
      "100 is Go's rate)", NULL, NULL },
    { "LOCKPROF_STACK_DEPTH", CONFIG_U64, offsetof(struct lp_config, stack_depth),
      64, 1, 512, NULL, "frames kept per stack", NULL, NULL },
    { "LOCKPROF_MAX_STACKS", CONFIG_U64, offsetof(struct lp_config, max_stacks),
      65536, 64, 4194304, NULL, "distinct stacks kept, the block and mutex profiles together "
      "(the CPU profile, or each CPU window of the endpoint's, keeps as many more)", NULL, NULL },
    { "LOCKPROF_LOCK_STRIPES", CONFIG_U64, offsetof(struct lp_config, lock_stripes),
      1024, 16, 1048576, NULL, "stripes of the table of locks with waiters (6 locks each)", NULL, NULL },
    { "LOCKPROF_IO", CONFIG_WORDS, offsetof(struct lp_config, io),
      LP_IO_PIPE | LP_IO_FIFO | LP_IO_EVENTFD | LP_IO_MQ | LP_IO_MSG, 0, 0,
      "pipe,fifo,eventfd,mq,msg", "descriptors whose blocking reads and writes are waits",
      config_io_words, NULL },
    { "LOCKPROF_FUTEX", CONFIG_BOOL, offsetof(struct lp_config, futex),
      1, 0, 1, NULL, "profile futex waits and wakes made through syscall() (Rust's std, GLib, "
      "C++20 waits, absl, ...); 0 passes them through", NULL, NULL },
    { "LOCKPROF_FATAL_SIGNALS", CONFIG_WORDS, offsetof(struct lp_config, fatal_signals),
      SIGBIT(SIGINT) | SIGBIT(SIGTERM), 0, 0, "INT,TERM",
      "default-fatal signals that still leave a profile", config_signal_words, NULL },
    { "LOCKPROF_SIGNAL", CONFIG_SIGNAL, offsetof(struct lp_config, snapshot_signal),
      0, 0, 0, "0", "a signal that writes a snapshot (0: none)", NULL, NULL },
    { "LOCKPROF_INTERVAL", CONFIG_U64, offsetof(struct lp_config, interval),
      0, 0, 31536000, NULL, "seconds between snapshots (0: none)", NULL, "seconds" },
    { "LOCKPROF_KEEP", CONFIG_U64, offsetof(struct lp_config, keep),
      16, 0, 1000000, NULL, "snapshots kept, the newest (0: all)", NULL, NULL },
    { "LOCKPROF_HTTP", CONFIG_STRING, offsetof(struct lp_config, http),
      0, 0, 0, "", "serve /debug/pprof/ on HOST:PORT or unix:PATH (empty: off; %p pid)", NULL, NULL },
    { "LOCKPROF_HTTP_ALLOW_REMOTE", CONFIG_BOOL, offsetof(struct lp_config, http_allow_remote),
      0, 0, 1, NULL, "let LOCKPROF_HTTP listen on an address other than loopback", NULL, NULL },
    { "LOCKPROF_LIBUNWIND", CONFIG_BOOL, offsetof(struct lp_config, libunwind),
      0, 0, 1, NULL, "unwind with libunwind (about 260 KiB per thread that records) instead of "
      "lockprof's own unwinder", NULL, NULL },
    { "LOCKPROF_TSC", CONFIG_BOOL, offsetof(struct lp_config, tsc),
      1, 0, 1, NULL, "time waits with the CPU's time-stamp counter where it is the kernel's "
      "clock source (0: clock_gettime)", NULL, NULL },
    { "LOCKPROF_SHOW_CONFIG", CONFIG_BOOL, offsetof(struct lp_config, show_config),
      0, 0, 1, NULL, "print these settings at start", NULL, NULL },
    { "LOCKPROF_OUT", CONFIG_PATH, offsetof(struct lp_config, out),
      0, 0, 0, CONFIG_DEFAULT_OUT, "output prefix (%p pid, %t start time)", NULL, NULL },
};

LP_INIT_TEXT bool lp_config_parse_u64(const char *s, uint64_t *out)
{
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* The value as echoed in a message: long ones are cut (the message must stay one line). */
static const char *config_echo(const char *value, char *buf, size_t size)
{
    size_t keep = size - 4;
    if (strlen(value) <= keep)
        return value;
    memcpy(buf, value, keep);
    memcpy(buf + keep, "...", 4);
    return buf;
}

/* What a variable accepts, "expected …", into buf. */
static void config_expected(const struct config_var *v, char *buf, size_t size)
{
    switch (v->type) {
    case CONFIG_U64:
        lp_fmt_sigsafe(buf, size, "expected a whole number%s%s from %llu to %llu",
                       v->unit ? " of " : "", v->unit ? v->unit : "",
                       (unsigned long long)v->min, (unsigned long long)v->max);
        break;
    case CONFIG_BOOL:
        lp_fmt_sigsafe(buf, size, "expected 0 or 1");
        break;
    case CONFIG_WORDS: {
        size_t n = lp_fmt_sigsafe(buf, size, "expected a comma-separated list of ");
        for (const struct config_word *w = v->words; w->word[0] && n + 16 < size; w++)
            n += lp_fmt_sigsafe(buf + n, size - n, "%s%s", w == v->words ? "" : ", ",
                                w->word);
        break;
    }
    case CONFIG_SIGNAL:
        lp_fmt_sigsafe(buf, size, "expected a signal only sent on purpose, by name (SIGUSR2, "
                       "SIGRTMIN+1) or number, or 0");
        break;
    case CONFIG_STRING:
        lp_fmt_sigsafe(buf, size, "expected at most %d bytes, with only %%p, %%t or %%%% "
                       "after a %%", LP_HTTP_SPEC_MAX - 1);
        break;
    case CONFIG_PATH:
        lp_fmt_sigsafe(buf, size, "expected a path prefix shorter than %d bytes, with only "
                       "%%p, %%t or %%%% after a %%", LP_PATH_MAX / 2);
        break;
    }
}

/* The default as a message shows it. */
static const char *config_default_text(const struct config_var *v, char *buf, size_t size)
{
    switch (v->type) {
    case CONFIG_U64:
    case CONFIG_BOOL:
        lp_fmt_sigsafe(buf, size, "%llu", (unsigned long long)v->def);
        return buf;
    case CONFIG_STRING:
        lp_fmt_sigsafe(buf, size, "'%s'", v->def_str);
        return buf;
    default:
        return v->def_str;
    }
}

static void config_reject(const struct config_var *v, const char *raw)
{
    char cut[104], expected[320], def[32];
    config_expected(v, expected, sizeof expected);
    lp_log_sigsafe("%s='%s': %s; using %s", v->name, config_echo(raw, cut, sizeof cut), expected,
                   config_default_text(v, def, sizeof def));
}

/* The word of w matching s[0, len), ignoring case and, for signals, a leading "SIG". */
static const struct config_word *config_word_find(const struct config_word *w, const char *s,
                                                  size_t len)
{
    if (w == config_signal_words && len > 3 && strncasecmp(s, "SIG", 3) == 0) {
        s += 3;
        len -= 3;
    }
    for (; w->word[0]; w++)
        if (strlen(w->word) == len && strncasecmp(w->word, s, len) == 0)
            return w;
    return NULL;
}

/* A comma-separated list of words: false on an empty list, an empty word or an unknown one. */
LP_INIT_TEXT static bool config_parse_words(const struct config_word *words, const char *s,
                                            uint64_t *out)
{
    uint64_t bits = 0;
    for (;;) {
        size_t len = strcspn(s, ",");
        const struct config_word *w = config_word_find(words, s, len);
        if (!w)
            return false;
        bits |= w->bits;
        if (!s[len])
            break;
        s += len + 1;
    }
    *out = bits;
    return true;
}

/* The words whose bits are all in `bits`, comma-separated ("none" when there are none). */
static void config_words_show(const struct config_word *words, uint64_t bits, char *buf,
                              size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (const struct config_word *w = words; w->word[0]; w++) {
        if (!w->bits || (bits & w->bits) != w->bits)
            continue;
        int k = lp_fmt_sigsafe(buf + n, size - n, "%s%s", n ? "," : "", w->word);
        if (k < 0 || (size_t)k >= size - n)
            break;
        n += (size_t)k;
    }
    if (n == 0)
        lp_fmt_sigsafe(buf, size, "none");
}

/*
 * LOCKPROF_SIGNAL: a signal a program can catch and that nothing else relies on — not KILL
 * and STOP (they cannot be caught), not the faults (SEGV, BUS, FPE, ILL, TRAP, SYS: a handler
 * that returns faults again), not glibc's two reserved real-time signals (32, 33), and not
 * the ones ordinary events send (config_signal_ok). The names are also for messages; ""
 * for a number that has none (held, not pointed to: no relocations).
 */
static const char config_signal_names[][8] = {
    [SIGHUP] = "HUP", [SIGINT] = "INT", [SIGQUIT] = "QUIT", [SIGUSR1] = "USR1",
    [SIGUSR2] = "USR2", [SIGPIPE] = "PIPE", [SIGALRM] = "ALRM", [SIGTERM] = "TERM",
    [SIGCHLD] = "CHLD", [SIGCONT] = "CONT", [SIGTSTP] = "TSTP", [SIGTTIN] = "TTIN",
    [SIGTTOU] = "TTOU", [SIGURG] = "URG", [SIGXCPU] = "XCPU", [SIGXFSZ] = "XFSZ",
    [SIGVTALRM] = "VTALRM", [SIGPROF] = "PROF", [SIGWINCH] = "WINCH", [SIGIO] = "IO",
    [SIGPWR] = "PWR", [SIGSTKFLT] = "STKFLT",
};
#define CONFIG_NSIGNAMES (sizeof config_signal_names / sizeof config_signal_names[0])

static bool config_signal_ok(uint64_t sig)
{
    /* Not the signals ordinary events deliver, which their default action ignores (a child
     * exiting, a window resized, urgent data, a continue) or which stop the process (job
     * control), nor SIGPIPE (every write to a closed pipe): with a handler installed each
     * would become a snapshot, and an EINTR the program never saw before. */
    if (sig == SIGCHLD || sig == SIGWINCH || sig == SIGURG || sig == SIGCONT ||
        sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU || sig == SIGPIPE)
        return false;
    if (sig < CONFIG_NSIGNAMES)
        return config_signal_names[sig][0] != '\0';
    return sig >= (uint64_t)SIGRTMIN && sig <= (uint64_t)SIGRTMAX;
}

const char *lp_config_signal_name(int sig, char *buf, unsigned size)
{
    if (sig > 0 && (unsigned)sig < CONFIG_NSIGNAMES && config_signal_names[sig][0])
        lp_fmt_sigsafe(buf, size, "SIG%s", config_signal_names[sig]);
    else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        lp_fmt_sigsafe(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        lp_fmt_sigsafe(buf, size, "%d", sig);
    return buf;
}

/* "SIGUSR2", "usr2", "12", "SIGRTMIN+3", "RTMAX-1", or "0" (none). */
LP_INIT_TEXT static bool config_parse_signal(const char *s, uint64_t *out)
{
    uint64_t n;
    if (lp_config_parse_u64(s, &n)) {
        if (n != 0 && !config_signal_ok(n))
            return false;
        *out = n;
        return true;
    }
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < CONFIG_NSIGNAMES; i++)
        if (config_signal_names[i][0] && strcasecmp(s, config_signal_names[i]) == 0) {
            if (!config_signal_ok(i))
                return false;
            *out = i;
            return true;
        }
    bool min = strncasecmp(s, "RTMIN", 5) == 0, max = strncasecmp(s, "RTMAX", 5) == 0;
    if (!min && !max)
        return false;
    s += 5;
    uint64_t k = 0;
    if (*s) {
        if ((min && *s != '+') || (max && *s != '-') || !lp_config_parse_u64(s + 1, &k) || k > 64)
            return false;
    }
    int64_t sig = min ? (int64_t)SIGRTMIN + (int64_t)k : (int64_t)SIGRTMAX - (int64_t)k;
    if (sig < SIGRTMIN || sig > SIGRTMAX)
        return false;
    *out = (uint64_t)sig;
    return true;
}

/* Only %p, %t and %% after a %: what lp_config_expand takes (the values do not matter here;
 * the callers bound the length). */
LP_INIT_TEXT static bool config_pattern_ok(const char *s)
{
    char scratch[LP_PATH_MAX];
    return lp_config_expand(scratch, sizeof scratch, s, "", "", 0) == 0;
}

/* Parses value into field as v's type says: false when it is not accepted (field untouched). */
LP_INIT_TEXT static bool config_parse(const struct config_var *v, const char *value, char *field)
{
    uint64_t n;
    switch (v->type) {
    case CONFIG_U64:
    case CONFIG_BOOL:
        if (!lp_config_parse_u64(value, &n) || n < v->min || n > v->max)
            return false;
        if (v->type == CONFIG_BOOL)
            *(bool *)field = n != 0;
        else
            *(uint64_t *)field = n;
        return true;
    case CONFIG_WORDS:
        if (!config_parse_words(v->words, value, &n))
            return false;
        *(uint64_t *)field = n;
        return true;
    case CONFIG_SIGNAL:
        if (!config_parse_signal(value, &n))
            return false;
        *(uint64_t *)field = n;
        return true;
    case CONFIG_PATH:
        if (!*value || strlen(value) >= LP_PATH_MAX / 2 || !config_pattern_ok(value))
            return false;
        strcpy(field, value); /* (not strncpy: it would write all of the field) */
        return true;
    case CONFIG_STRING:
        if (strlen(value) >= LP_HTTP_SPEC_MAX || !config_pattern_ok(value))
            return false;
        strcpy(field, value);
        return true;
    }
    return false;
}

LP_INIT_TEXT static void config_set_default(const struct config_var *v, char *field)
{
    switch (v->type) {
    case CONFIG_BOOL:
        *(bool *)field = v->def != 0;
        break;
    case CONFIG_PATH:
    case CONFIG_STRING:
        strcpy(field, v->def_str);
        break;
    default:
        *(uint64_t *)field = v->def;
        break;
    }
}

static const struct config_var *config_find(const char *name)
{
    for (size_t i = 0; i < sizeof config_vars / sizeof config_vars[0]; i++)
        if (strcmp(config_vars[i].name, name) == 0)
            return &config_vars[i];
    return NULL;
}

LP_INIT_TEXT void lp_config_load(struct lp_config *c, const char *(*getenv_fn)(const char *))
{
    /* The numbers, and the strings' first bytes: the strings' other bytes are never read, and
     * clearing all of them would write a page more at every start. */
    memset(c, 0, offsetof(struct lp_config, http));
    c->http[0] = c->out[0] = '\0';
    for (size_t i = 0; i < sizeof config_vars / sizeof config_vars[0]; i++) {
        const struct config_var *v = &config_vars[i];
        char *field = (char *)c + v->offset;
        const char *value = getenv_fn ? getenv_fn(v->name) : NULL;
        config_set_default(v, field);
        if (value && !config_parse(v, value, field))
            config_reject(v, value);
    }
}

bool lp_config_check(const char *name, const char *value, char *expected, size_t size)
{
    const struct config_var *v = config_find(name);
    struct lp_config scratch;
    if (!v) {
        lp_fmt_sigsafe(expected, size, "%s is not a variable of lockprof's", name);
        return false;
    }
    if (config_parse(v, value, (char *)&scratch + v->offset))
        return true;
    config_expected(v, expected, size);
    return false;
}

bool lp_config_range(const char *name, uint64_t *min, uint64_t *max)
{
    const struct config_var *v = config_find(name);
    if (!v || v->type != CONFIG_U64)
        return false;
    *min = v->min;
    *max = v->max;
    return true;
}

const char *lp_config_default(const char *name, char *buf, size_t size)
{
    const struct config_var *v = config_find(name);
    if (!v)
        return NULL;
    if (v->type == CONFIG_STRING)
        return v->def_str;
    return config_default_text(v, buf, size);
}

const char *lp_config_name(size_t i)
{
    return i < sizeof config_vars / sizeof config_vars[0] ? config_vars[i].name : NULL;
}

void lp_config_show(const struct lp_config *c)
{
    for (size_t i = 0; i < sizeof config_vars / sizeof config_vars[0]; i++) {
        const struct config_var *v = &config_vars[i];
        const char *field = (const char *)c + v->offset;
        switch (v->type) {
        case CONFIG_U64:
            lp_log_sigsafe("%s=%llu (%s)", v->name, (unsigned long long)*(const uint64_t *)field,
                           v->meaning);
            break;
        case CONFIG_BOOL:
            lp_log_sigsafe("%s=%d (%s)", v->name, *(const bool *)field ? 1 : 0, v->meaning);
            break;
        case CONFIG_PATH:
            lp_log_sigsafe("%s=%s (%s)", v->name, field, v->meaning);
            break;
        case CONFIG_WORDS: {
            char list[256];
            config_words_show(v->words, *(const uint64_t *)field, list, sizeof list);
            lp_log_sigsafe("%s=%s (%s)", v->name, list, v->meaning);
            break;
        }
        case CONFIG_SIGNAL: {
            char name[32];
            uint64_t sig = *(const uint64_t *)field;
            lp_log_sigsafe("%s=%s (%s)", v->name,
                           sig ? lp_config_signal_name((int)sig, name, sizeof name) : "0",
                           v->meaning);
            break;
        }
        case CONFIG_STRING:
            lp_log_sigsafe("%s=%s (%s)", v->name, field, v->meaning);
            break;
        }
    }
}

LP_INIT_TEXT bool lp_config_pattern_has(const char *pattern, char what)
{
    for (const char *p = pattern; *p; p++)
        if (*p == '%') {
            if (p[1] == what)
                return true;
            if (p[1])
                p++;
        }
    return false;
}

LP_INIT_TEXT int lp_config_expand(char *dst, size_t size, const char *pattern, const char *pid,
                     const char *start, unsigned flags)
{
    size_t n = 0;
    for (const char *p = pattern; *p; p++) {
        const char *piece = p;
        size_t len = 1;
        bool literal = true;
        if (*p == '%') {
            p++;
            const char *value = *p == 'p' ? pid : *p == 't' ? start : NULL;
            if (*p == 'p' || *p == 't') {
                piece = value ? value : p - 1; /* NULL: kept as written */
                len = value ? strlen(value) : 2;
                literal = false;
            } else if (*p != '%') {
                return -EINVAL;
            } else {
                piece = p;
            }
        }
        bool escape = literal && (flags & LP_EXPAND_GLOB) && strchr("*?[]\\", *piece);
        if (n + len + escape + 1 > size)
            return -ENAMETOOLONG;
        if (escape)
            dst[n++] = '\\';
        memcpy(dst + n, piece, len);
        n += len;
    }
    if (size == 0)
        return -ENAMETOOLONG;
    dst[n] = '\0';
    return 0;
}

LP_INIT_TEXT int lp_config_expand_out(char *dst, unsigned size, const char *prefix, long pid, long start,
                         const char *cwd)
{
    char spid[24], sstart[24];
    lp_fmt_sigsafe(spid, sizeof spid, "%ld", pid);
    lp_fmt_sigsafe(sstart, sizeof sstart, "%ld", start);
    size_t n = 0;
    if (prefix[0] != '/') {
        size_t l = strlen(cwd);
        if (l + 2 >= size)
            return -ENAMETOOLONG;
        memcpy(dst, cwd, l);
        n = l;
        if (n == 0 || dst[n - 1] != '/')
            dst[n++] = '/';
    }
    return lp_config_expand(dst + n, size - n, prefix, spid, sstart, 0);
}
