/*
 * config.h — lockprof's settings, read once at start from the environment (DESIGN §4).
 *
 * One table (config.c) lists every variable: name, type, default, range, meaning. A malformed
 * or out-of-range value prints exactly one line,
 *     lockprof: VARIABLE='value': expected …; using …
 * and the default is kept. LOCKPROF_SHOW_CONFIG=1 prints the effective settings.
 *
 * Context: lp_config_load at start (constructor), single-threaded; the struct is immutable
 * afterwards except the two rates, which the C API may change (atomics, in event.h).
 */
#ifndef LP_CONFIG_H
#define LP_CONFIG_H

#include <stdbool.h>
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
    bool http_allow_remote;  /* LOCKPROF_HTTP_ALLOW_REMOTE */
    bool show_config;        /* LOCKPROF_SHOW_CONFIG */
    bool libunwind;          /* LOCKPROF_LIBUNWIND */
    bool tsc;                /* LOCKPROF_TSC */
    char out[LP_PATH_MAX];   /* LOCKPROF_OUT, as given (expanded by lp_config_out_path) */
    char http[LP_HTTP_SPEC_MAX]; /* LOCKPROF_HTTP: "" off, "HOST:PORT" or "unix:PATH" */
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

/* Expands %p (pid), %t (start time, seconds since the epoch), %% in prefix, and makes the
 * result absolute against cwd. 0 or -ENAMETOOLONG / -EINVAL (a lone % or unknown %x). */
int lp_config_expand_out(char *dst, unsigned size, const char *prefix, long pid, long start,
                         const char *cwd);

#endif
