/*
 * preload.h — what preload.c (lockprof's life in the process) offers the other wrappers.
 */
#ifndef LP_PRELOAD_H
#define LP_PRELOAD_H

#include <sys/types.h>

/* The environment that carries a process tree's lineage across exec (see preload.c). */
#define LP_ENV_ORIGIN "LOCKPROF_ORIGIN"
#define LP_ENV_EXEC "LOCKPROF_EXEC"

/* This process's pid, as lockprof last set it (at start, and in a fork child). */
extern pid_t lp_preload_pid;

/* Before an exec: writes the final profile of this image if it recorded anything. 2 when it
 * wrote (the next image is the next generation), 1 when there was nothing to write (the next
 * image keeps this one's generation), 0 when lockprof is not running, -1 in a vfork child (the
 * parent's memory: touch nothing, allocate nothing). */
int lp_preload_before_exec(void);
long lp_preload_origin(void);
unsigned lp_preload_exec_gen(void);

#endif
