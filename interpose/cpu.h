/*
 * cpu.h — the CPU profile's life in the process (DESIGN §3.6, §5): which threads are sampled
 * and when, across thread creation, fork, exec, and the program taking the signal for itself.
 *
 * Sampling starts in the constructor, once the signal's handler is in place (signals.h): the
 * constructor's thread is armed at once, and lockprof's thread (agent.h) arms the threads that
 * are already there from /proc/self/task at its first tick. Every thread the program starts
 * after that with pthread_create or thrd_create arms itself first thing, in a start routine of
 * lockprof's that then calls the program's (nothing is read through the caller's pthread_t
 * after the call: the new thread may have freed its memory, and an ended detached thread's
 * descriptor may be unmapped); threads started out of lockprof's sight (a raw clone, glibc's
 * own helpers) by lockprof's thread's scan, every 10 s. lockprof's own threads are never armed
 * (they block every signal anyway).
 *
 * fork: the child has no timers (fork does not copy them) and no pending signal; it arms its
 * one thread, and the threads it starts, and profiles itself from zero. exec: every timer is
 * deleted and the signal's action is the default again before the call, so the new image is
 * never sent a signal it does not handle; if the exec fails, sampling resumes. A program that
 * installs its own handler for the signal, or restricts its system calls (seccomp), ends
 * sampling for good (lp_cpu_stand_aside).
 *
 * Context: as each function says; none in a signal handler.
 */
#ifndef LP_CPU_H
#define LP_CPU_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

/* The signal the CPU profile takes: SIGPROF, which the program does not use (it has not set a
 * handler for it at start). */
#define LP_CPU_SIGNAL SIGPROF

/* The rate of the endpoint's windows when LOCKPROF_CPU_HZ is 0: Go's. */
#define LP_CPU_WINDOW_HZ 100

/* Constructor, before lockprof's threads start: the ring, the timers' table, the profile's
 * share of the stack table (sized by the caller). windows: the endpoint is on, so CPU windows
 * (/debug/pprof/profile?seconds=N) may be asked for: with LOCKPROF_CPU_HZ 0, the memory is
 * mapped (untouched until a window) and the signal's handler installed, but no timer is armed
 * before a window. Returns the signal to install (0: the CPU profile is off: LOCKPROF_CPU_HZ
 * is 0 and no endpoint, or its memory cannot be mapped, said once). */
int lp_cpu_init(const struct lp_config *cfg, bool windows);
/* Constructor, once the signal's handler is installed (or not: then nothing is armed). */
void lp_cpu_start(void);

/* The endpoint's CPU window (lockprof's thread only), one at a time. _begin: with
 * LOCKPROF_CPU_HZ 0, every thread of the program armed now and every thread it starts until
 * _end; with it set, nothing to arm (the window is a delta of the run's profile). 0, or
 * -errno with *why saying why in Go's words (-EBUSY: a window is open already; -EPERM: the
 * program took the signal, or sampling stopped for good; -ENOTSUP: no CPU profile in this
 * process). _end: the timers the window armed deleted, and its samples drained. */
int lp_cpu_window_begin(const char **why);
void lp_cpu_window_end(void);

/* Whether new threads are armed: one load. */
extern uint32_t lp_cpu_sampling_;
static inline bool lp_cpu_sampling(void)
{
    return __atomic_load_n(&lp_cpu_sampling_, __ATOMIC_RELAXED) != 0;
}
/* The start of a thread the program is about to create: the new thread arms itself, then runs
 * fn(arg). Sets *fn and *arg to the trampoline and its argument (one of a bounded set of
 * slots) and returns the slot, or returns -1 and leaves them as they are when every slot is in
 * use: such a thread is armed by lockprof's thread, which lists the threads at its next wake-up
 * (lp_cpu_thread_started). Any thread. */
int lp_cpu_thread_wrap(void *(**fn)(void *), void **arg);
/* pthread_create failed: the slot lp_cpu_thread_wrap gave (or -1) is free again. */
void lp_cpu_thread_unwrap(int slot);
/* The program started a thread that lp_cpu_thread_wrap could not wrap: lockprof's thread
 * lists the threads at its next wake-up, at most every CPU_SCAN_SOON_NS, and arms the new
 * ones. Any thread. */
void lp_cpu_thread_started(void);

/* lockprof's thread, at each of its ticks and wake-ups: the ring drained into the profile, and
 * the threads listed (armed or swept) when due. */
void lp_cpu_tick(void);

/* Before an exec, after its final profile: the timers deleted, the signal's action default.
 * In a process whose timers these are not (a vfork child) nothing is touched. After an exec
 * that returned (failed): the handler and the timers again. Any thread. */
void lp_cpu_before_exec(void);
void lp_cpu_exec_failed(void);

/* In a new process (fork, or a raw clone that adopts), its only thread the caller: its own
 * timers and profile from zero. Idempotent in one process. */
void lp_cpu_atfork_child(void);

/* Sampling ends for good, for the reason why (a static string, for the profile's comments):
 * every timer is deleted first. Any thread. */
void lp_cpu_stand_aside(const char *why);

#endif
