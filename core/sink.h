/*
 * sink.h — buffered output to a descriptor that keeps its first error (STYLE "Errors": the
 * writer keeps its first error and turns later writes into no-ops, as jemalloc's dump writer).
 *
 * Serves every text lockprof writes to a file or a client: the legacy pprof text (pprof.c),
 * the threads view (threadsview.c), the symbol service (writer.c); and the gzip encoder's
 * compressed chunks. The buffer is the caller's (an arena's, or its stack's), so nothing is
 * allocated here. Writes go to the kernel directly (sys.h), never through lockprof's wrappers.
 *
 * Context: one sink belongs to one thread at a time; async-signal-safe.
 */
#ifndef LP_SINK_H
#define LP_SINK_H

#include <stddef.h>

struct lp_sink {
    int fd;
    int err;    /* the first error (-errno); from then on output is dropped */
    char *buf;
    size_t size, len;
};

/* buf of size bytes (at least 1). */
void lp_sink_init(struct lp_sink *s, int fd, char *buf, size_t size);
void lp_sink_put(struct lp_sink *s, const void *p, size_t n);
void lp_sink_str(struct lp_sink *s, const char *str);
/* Formats with lp_fmt_sigsafe (log.h) into a line of at most LP_SINK_LINE - 1 bytes: longer
 * output is cut (put long names with lp_sink_put). */
#define LP_SINK_LINE 1024
void lp_sink_printf(struct lp_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records err (-errno) as the sink's error unless it already has one. */
void lp_sink_fail(struct lp_sink *s, int err);
/* Writes out what is buffered; returns the first error, or 0. */
int lp_sink_flush(struct lp_sink *s);

#endif
