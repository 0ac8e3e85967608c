/*
 * config.h — lockprof's settings, read once at start from the environment (DESIGN §4).
 *
 * One table (config.c) lists every variable: name, type, default, range, meaning. A malformed
 * or out-of-range value prints exactly one line,
 *     lockprof: VARIABLE='value': expected …; using …
 * and the default is kept. LOCKPROF_SHOW_CONFIG=1 prints the effective settings.
 *
 * Context: lp_config_load at start (constructor), single-threaded; the struct is immutable
 * afterwards (the rates in force are rates.h's, which start from it). Everything else here is
 * safe from any thread.
 */
#ifndef LP_CONFIG_H
#define LP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LP_PATH_MAX 1024
#define LP_HTTP_SPEC_MAX 256

struct lp_config {
    uint64_t block_rate;     /* LOCKPROF_BLOCK_RATE, ns */
    uint64_t mutex_fraction; /* LOCKPROF_MUTEX_FRACTION */
    uint64_t stack_depth;    /* LOCKPROF_STACK_DEPTH */
    uint64_t max_stacks;     /* LOCKPROF_MAX_STACKS */
    uint64_t lock_stripes;   /* LOCKPROF_LOCK_STRIPES */
    uint64_t io;             /* LOCKPROF_IO: LP_IO_* bits */
    uint64_t fatal_signals;  /* LOCKPROF_FATAL_SIGNALS: bit n for signal n */
    uint64_t snapshot_signal; /* LOCKPROF_SIGNAL: 0 off, else the signal's number */
    uint64_t interval;       /* LOCKPROF_INTERVAL: seconds between snapshots, 0 off */
    uint64_t keep;           /* LOCKPROF_KEEP: snapshots kept, the newest; 0 all */
    uint64_t cpu_hz;         /* LOCKPROF_CPU_HZ: CPU profile samples per CPU second, 0 off */
    bool http_allow_remote;  /* LOCKPROF_HTTP_ALLOW_REMOTE */
    bool show_config;        /* LOCKPROF_SHOW_CONFIG */
    bool libunwind;          /* LOCKPROF_LIBUNWIND */
    bool tsc;                /* LOCKPROF_TSC */
    bool futex;              /* LOCKPROF_FUTEX */
    /* The strings last, the short one first: what a process writes at start (the numbers,
     * http's first byte, out's first bytes) stays within a few hundred bytes. */
    char http[LP_HTTP_SPEC_MAX]; /* LOCKPROF_HTTP: "" off, "HOST:PORT" or "unix:PATH" */
    char out[LP_PATH_MAX];   /* LOCKPROF_OUT, as given (expanded by lp_config_expand_out) */
};

/* The name of a signal LOCKPROF_SIGNAL accepts ("SIGUSR2", "SIGRTMIN+3"), into buf. */
const char *lp_config_signal_name(int sig, char *buf, unsigned size);

/* The kinds of descriptor whose blocking reads and writes are waits (LOCKPROF_IO). */
enum lp_io_kind {
    LP_IO_PIPE = 1 << 0,
    LP_IO_FIFO = 1 << 1,
    LP_IO_EVENTFD = 1 << 2,
    LP_IO_MQ = 1 << 3,     /* mq_receive, mq_timedreceive */
    LP_IO_MSG = 1 << 4,    /* msgrcv */
    LP_IO_SOCKET = 1 << 5,
    LP_IO_FILE = 1 << 6,   /* regular files */
    LP_IO_CHR = 1 << 7,    /* character devices: terminals, /dev/… */
};

/* getenv_fn is getenv, or a fake in tests. Fills c with defaults, then the environment. */
void lp_config_load(struct lp_config *c, const char *(*getenv_fn)(const char *));
/* Prints the effective settings, one per line, on fd 2. */
void lp_config_show(const struct lp_config *c);

/*
 * For the lockprof command, which checks its options against the same table before it starts
 * the program (a value the library would refuse is refused there, not replaced inside it):
 * lp_config_check says whether value is one that variable name accepts, and if not, what it
 * expects ("expected a whole number of nanoseconds from 0 to 1000000000000") in expected.
 */
bool lp_config_check(const char *name, const char *value, char *expected, size_t size);
/* A whole decimal number as every numeric variable is read: digits only (no sign, no blanks),
 * at most UINT64_MAX. The lockprof command reads its own numbers by the same rule. */
bool lp_config_parse_u64(const char *s, uint64_t *out);
/* The range of a numeric variable; false if name is not one. */
bool lp_config_range(const char *name, uint64_t *min, uint64_t *max);
/* The default of variable name as text ("100000", "lockprof.%p"); NULL if there is none. */
const char *lp_config_default(const char *name, char *buf, size_t size);
/* The name of the table's i-th variable, in the table's order; NULL past its end. For the
 * test that holds lockprof(3) to the table. */
const char *lp_config_name(size_t i);

/*
 * The one expander of %-patterns (LOCKPROF_OUT, LOCKPROF_HTTP, the command's -o): %p becomes
 * pid, %t start (the start time, seconds since the epoch), %% a %. A NULL pid or start keeps
 * that sequence as written. With LP_EXPAND_GLOB the pattern's literal text has glob(3)'s
 * metacharacters escaped, so that the result is a glob pattern for the names it can expand to
 * (pass "*" for what is unknown). 0, -EINVAL (a % followed by anything else, or a lone % at
 * the end) or -ENAMETOOLONG (size is too small).
 */
#define LP_EXPAND_GLOB 1u
int lp_config_expand(char *dst, size_t size, const char *pattern, const char *pid,
                     const char *start, unsigned flags);
/* True when pattern holds the sequence %what ('p' or 't'), not counting %%what. */
bool lp_config_pattern_has(const char *pattern, char what);
/* LOCKPROF_OUT expanded (pid, start) and made absolute against cwd. 0 or -errno as above. */
int lp_config_expand_out(char *dst, unsigned size, const char *prefix, long pid, long start,
                         const char *cwd);

#endif
