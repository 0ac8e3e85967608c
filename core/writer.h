/*
 * writer.h — writing both profiles to their files, atomically (DESIGN §3.5, §5).
 *
 * PREFIX.block.pb.gz and PREFIX.mutex.pb.gz are written to PREFIX.*.tmp.<pid> and renamed,
 * so a reader never sees half a profile. The writer keeps its first error and reports it once
 * (STYLE), as one "lockprof:" line; it never changes the program's behaviour.
 *
 * Context: lockprof's own thread or the exiting thread, never a signal handler. Uses no malloc
 * (its arena is mmapped). Serialised by the writer lock (first in the lock order of sync.h);
 * lp_writer_write_timed gives up after a bound rather than wait for ever.
 */
#ifndef LP_WRITER_H
#define LP_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "stacktab.h"

struct lp_writer_info {
    const char *version;        /* "0.1.0" */
    unsigned stack_depth;
};

/* prefix: absolute, already expanded. Copies what it is given. */
void lp_writer_init(const char *prefix, const struct lp_writer_info *info);
/* Writes both profiles now. 0, or the first error (-errno), already reported once. */
int lp_writer_write(const char *why);
/* The paths the writer writes to (for messages and tests). */
const char *lp_writer_path(enum lp_profile p);
/* Encodes one profile to fd (pprof, gzip): the writer's core, also for tests and the API. */
int lp_writer_encode(int fd, enum lp_profile p);
/* Fork handlers: the writer lock is held across fork, so a child never inherits half a
 * write (the arena mid-update); the child's copy is freed by lp_writer_atfork_child. */
void lp_writer_prefork(void);
void lp_writer_postfork_parent(void);
/* After fork, in the child: the writer lock is free again, and the files take new_prefix. */
void lp_writer_atfork_child(const char *new_prefix);

#endif
