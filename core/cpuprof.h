/*
 * cpuprof.h — the CPU profile's samples (DESIGN §3.6): what the signal handler records, and
 * their way into the stack table (LP_CPU).
 *
 * Each thread's timer (cputimer.h) sends the profile's signal after every period (1e9 / hz ns)
 * of that thread's CPU time. The handler (interpose/cpu.c) hands the interrupted context to
 * lp_cpuprof_sample_sigsafe, which unwinds it (cfi.h) straight into a record of the ring
 * (cpuring.h). lp_cpuprof_drain moves the ring's records into the stack table: count = samples,
 * delay = samples × period. Lockprof's thread drains each second and when a handler finds the
 * ring half full (the waker), the writer before every profile it writes.
 *
 * A sample weighs 1 + si_overrun periods, up to a tick's worth: the kernel checks CPU timers at
 * its tick (CONFIG_HZ, 250 on the machine measured), so above that rate one signal stands for
 * several periods (measured at 1000 Hz: 259 signals a second carrying 740 overruns). Periods
 * beyond a tick's worth passed while the thread held the signal blocked: they are counted, not
 * sampled (no stack of theirs is known). Samples the ring had no room for are added, with their
 * weight, under the synthetic stack lockprof::cpu_samples_lost, so totals stay whole.
 *
 * Context: lp_cpuprof_sample_sigsafe in the signal handler (no lock, no allocation, no system
 * call but the waker's futex wake, errno untouched); lp_cpuprof_drain from any thread but a
 * handler (its own lock, sync.h); the rest as each says.
 */
#ifndef LP_CPUPROF_H
#define LP_CPUPROF_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "stacktab.h"

#define LP_LEAF_CPU_LOST "lockprof::cpu_samples_lost"

/* At start: hz samples a second of each thread's CPU time, carried by signal signo, stacks of
 * at most depth frames, a ring sized for ncpus CPUs busy. 0, or -ENOMEM (the profile stays
 * off). */
int lp_cpuprof_init(unsigned hz, int signo, unsigned depth, unsigned ncpus);
/* Initialised (LOCKPROF_CPU_HZ > 0, or the endpoint's windows, and the ring mapped); whether
 * samples are taken is the timers' business. */
bool lp_cpuprof_on(void);
/* At start, after init: the profile is taken only for the endpoint's windows
 * (/debug/pprof/profile), not for the whole run: no PREFIX.cpu.pb.gz is written. */
void lp_cpuprof_windows_only(void);
/* The profile covers the whole run (LOCKPROF_CPU_HZ > 0): it is written with the others. */
bool lp_cpuprof_continuous(void);
unsigned lp_cpuprof_hz(void);
uint64_t lp_cpuprof_period_ns(void);
int lp_cpuprof_signal(void);
/* Sampling stopped for good, and why (a static string, for the profile's comments; the first
 * reason given is kept); "" while it has not. */
void lp_cpuprof_stop_note(const char *why);
const char *lp_cpuprof_stopped(void);

/* What a handler calls when the ring is half full (lockprof's thread's wake-up), or NULL. */
void lp_cpuprof_set_waker(void (*wake)(void));

/* The handler's work: si and the ucontext_t the handler got. False for a signal that is not
 * one of lockprof's timers' (cputimer.h's cookie): counted, and left to the caller. */
bool lp_cpuprof_sample_sigsafe(const siginfo_t *si, const void *ucontext);

/* The ring into the stack table; any thread, one at a time. */
void lp_cpuprof_drain(void);

/* Sampling began (in this process) at realtime ns since the epoch: the profile's span starts
 * there. */
void lp_cpuprof_begin(int64_t realtime_ns);
int64_t lp_cpuprof_began(void);

struct lp_cpuprof_stats {
    uint64_t samples;      /* signals of lockprof's timers handled */
    uint64_t periods;      /* their weight: samples + overruns */
    uint64_t lost;         /* samples the ring had no room for */
    uint64_t lost_periods; /* ... their weight */
    uint64_t truncated;    /* samples whose stack was cut at the depth */
    uint64_t foreign;      /* signals that were not from lockprof's timers */
    uint64_t blocked_periods; /* periods that passed while a thread blocked the signal */
};
void lp_cpuprof_stats(struct lp_cpuprof_stats *s);

/*
 * The endpoint's windows, when the profile is taken for them only (lp_cpuprof_windows_only):
 * their samples go to a table of the open window's own, not to the stack table, and are given
 * back when it ends. _size at start (entries, frames: what the CPU profile's share of the
 * stack table would be); _open when a window opens (0, or -ENOMEM), _close when it has been
 * answered; _foreach visits its entries as lp_stacktab_foreach does (index UINT64_MAX: they
 * have no baseline), LP_LEAF_TABLE_FULL's included. The views' pcs point into the window's
 * table, valid until _close: one thread (the endpoint's) opens a window, encodes its profile
 * and closes it. Nothing of this for a continuous profile.
 */
struct lp_cpuprof_window_stats {
    uint64_t entries, capacity; /* stacks in the window's table, and the most it takes */
    uint64_t overflowed;        /* samples counted under LP_LEAF_TABLE_FULL */
};
void lp_cpuprof_window_size(unsigned entries, unsigned frames);
int lp_cpuprof_window_open(void);
void lp_cpuprof_window_close(void);
void lp_cpuprof_window_foreach(lp_stack_visit_fn fn, void *arg);
void lp_cpuprof_window_stats(struct lp_cpuprof_window_stats *s);

/* In a fork child, its only thread the caller, before its first sample: the ring and the counts
 * start from zero (the stack table is reset by its own atfork). */
void lp_cpuprof_atfork_child(void);

#endif
