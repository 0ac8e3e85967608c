/*
 * lifecycle.h — lockprof's life inside the host process (DESIGN §4, §5, §6): the constructor,
 * the exit-time write, fork, and the lineage that names each process's files across fork and
 * exec.
 *
 * Until the constructor is done — and for ever under secure execution — every wrapper passes
 * straight through (lp_ready, resolve.h). Nothing is ever torn down: other libraries'
 * destructors may still lock after the exit-time write, and the wrappers keep working for them.
 *
 * Context: the functions below from any application thread, as each says.
 */
#ifndef LP_LIFECYCLE_H
#define LP_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

/* The environment that carries a process tree's lineage across exec (see lifecycle.c). */
#define LP_ENV_ORIGIN "LOCKPROF_ORIGIN"
#define LP_ENV_EXEC "LOCKPROF_EXEC"

/* A process no fork handler ran in (a raw clone) finds out at its first entry into lockprof
 * (lp_lifecycle_check: a load) and becomes a child as after fork (lifecycle.c); a process's
 * first entry of all comes here too, and maps lockprof's tables and the token. False when
 * that found no memory for the tables: lockprof is off from then on (lp_ready says so), and
 * the caller passes straight through. Any thread that is not busy, not a signal handler. */
extern uint32_t *lp_lifecycle_token_;
bool lp_lifecycle_adopt(void);
static inline bool lp_lifecycle_check(void)
{
    if (__builtin_expect(__atomic_load_n(lp_lifecycle_token_, __ATOMIC_ACQUIRE) != 1, 0))
        return lp_lifecycle_adopt();
    return true;
}

/* The program is about to start a thread (pthread_create, thrd_create): lockprof's thread
 * starts first if it has not (DESIGN §5). Any application thread. */
void lp_lifecycle_threads_begin(void);

/*
 * A program that restricts its own system calls (seccomp, through prctl: lp_lifecycle_restrict)
 * gets none it did not make from lockprof from then on. The profiles so far are written just
 * before (the one write after that point); then nothing is written (no files, no
 * /proc), descriptors are not classified, a read is not checked for a sleep (so pipes' waits
 * are not recorded), and lockprof's signal handlers give way. Waits on locks are still
 * recorded: that takes no system call. Any thread.
 */
extern uint32_t lp_lifecycle_restricted_;
static inline bool lp_lifecycle_restricted(void)
{
    return __atomic_load_n(&lp_lifecycle_restricted_, __ATOMIC_RELAXED) != 0;
}
void lp_lifecycle_restrict(void);
/* The restriction failed (prctl returned an error): lockprof writes again. (The signal handlers
 * it gave back stay given back.) */
void lp_lifecycle_unrestrict(void);

/* The settings read at start; immutable once lp_ready. */
const struct lp_config *lp_lifecycle_config(void);

/* The file name of lockprof's library ("liblockprof.so"), found at start; what an LD_PRELOAD
 * value must name for a new image to run lockprof. */
const char *lp_lifecycle_library_name(void);

/* This process's pid, as lockprof last set it (at start, and in a fork child). */
pid_t lp_lifecycle_pid(void);

/* The lineage an exec passes on (LOCKPROF_EXEC=pid:gen, LOCKPROF_ORIGIN=origin). */
struct lp_lineage {
    long pid, origin;
    unsigned gen;  /* the next image's generation */
    bool may_map;  /* the environment's copy may be mapped: not a vfork child, not restricted */
    bool other_pid; /* not lockprof's pid: a vfork child, or a child that has not adopted */
};

/* A decimal number that is the whole of [s, end) (at most 11 digits' worth); false otherwise. */
bool lp_lifecycle_parse_long(const char *s, const char *end, long *out);

/* In a process whose pid is not lockprof's (lp_lineage.other_pid), pid: true when it has
 * memory of its own (a fork or raw clone child, whose token page reads 0; a fork child of a
 * process that had no token page yet), false in a vfork child (the parent's memory). Reads the
 * token's page, which a fork child faults in. */
bool lp_lifecycle_own_memory(pid_t pid);

/* Before an exec: writes the final profile of this image if it recorded anything (then the
 * next image is the next generation), and says what the next image inherits. 1 with *next
 * filled, 0 when lockprof is not running. In a vfork child (the parent's memory) it touches
 * nothing of lockprof's. */
int lp_lifecycle_before_exec(struct lp_lineage *next);

#endif
