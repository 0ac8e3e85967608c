/*
 * cputimer.h — the CPU profile's timers (DESIGN §3.6): one POSIX timer per thread on that
 * thread's CPU-time clock, ((~tid) << 3) | 6 (the kernel's MAKE_THREAD_CPUCLOCK), which sends
 * the profile's signal to that thread alone (SIGEV_THREAD_ID) after every period of the
 * thread's own CPU time, as Go ≥ 1.18 does. Not setitimer(ITIMER_PROF): one per process, which
 * the kernel checks against the process's CPU time and signals to whichever thread it likes,
 * and which survives exec while the handler does not.
 *
 * A POSIX timer belongs to the process, not to the thread it measures: the thread's exit leaves
 * it in place, dead (the kernel then reports its interval as 0 and refuses to set it, ESRCH:
 * measured on 6.18), holding the signal the kernel preallocated for it, which counts against
 * the user's RLIMIT_SIGPENDING. So a table (tid → timer, bounded, lp_lock'ed) keeps every
 * timer, and lp_cputimer_scan lists /proc/self/task: the timers of threads that are gone are
 * deleted, and threads without one (started before profiling, or out of lockprof's sight) are
 * armed. An arming that doubles the table since the last scan (or finds it full, when it has
 * gained entries since) asks for one at once (lp_cputimer_sweep_wanted), which lockprof's
 * thread makes, not the program's thread that armed: so a program that starts and ends threads
 * without end holds about twice its live threads' timers, and its threads never list
 * /proc/self/task. About: while lockprof's thread is busy (writing a profile) the table may
 * grow up to its bound (timers beyond it are not made, and counted), and in a fork child whose
 * thread of lockprof's could not start nothing sweeps it.
 * A thread that exits while its timer is armed is harmless meanwhile: a dead timer never fires.
 *
 * Threads of lockprof's own are registered as such (lp_cputimer_own_*) and never armed.
 *
 * Context: any thread, not a signal handler (its lock is lp_lock, sync.h: taken alone, under
 * no other lock of lockprof's); lp_cputimer_atfork_child in a fork child, first.
 */
#ifndef LP_CPUTIMER_H
#define LP_CPUTIMER_H

#include <stdbool.h>
#include <stdint.h>

/* Distinguishes lockprof's timers' signals (si_value.sival_int) from anybody else's. */
#define LP_CPUTIMER_COOKIE 0x6c707266 /* "lprf" */

/* period_ns: the timers' interval; signo: their signal. The table holds max_threads timers
 * (beyond that, threads go unsampled and are counted). 0 or -ENOMEM. Arming is off until
 * lp_cputimer_resume. */
int lp_cputimer_init(uint64_t period_ns, int signo, unsigned max_threads);

/* Arms thread tid of this process: 0, or -errno: -EEXIST (it has a live timer, or is one of
 * lockprof's), -ECANCELED (arming is off), -ENOSPC (the table is full), or timer_create's
 * error (-EAGAIN: RLIMIT_SIGPENDING; -EINVAL: no such thread, it has ended). */
int lp_cputimer_arm(int32_t tid);
/* An arming took the table to twice what the last scan left, or found it full: a scan is
 * wanted now (read without the lock, by the thread that armed and by lockprof's thread). */
bool lp_cputimer_sweep_wanted(void);

/* lockprof starts a thread of its own: _begin before pthread_create, _end after it with the
 * new thread's id (0 if it did not start). No scan runs in between, so none arms it. */
void lp_cputimer_own_begin(void);
void lp_cputimer_own_end(int32_t tid);

/* Lists /proc/self/task: arms every thread without a timer, deletes the timers of threads that
 * have ended. 0 or -errno (the directory cannot be read: nothing is deleted). */
int lp_cputimer_scan(void);

/* Deletes every timer, and arms none until lp_cputimer_resume (an exec, or the program taking
 * the signal for itself). */
void lp_cputimer_stop(void);
/* Arming is on, unless a hold is in force (then false); the caller scans to arm the threads
 * there are. */
bool lp_cputimer_resume(void);
/* _hold: every timer deleted, and no resume succeeds until as many _release calls as holds
 * (an exec in progress holds until it fails; a fork child has no hold of its parent's).
 * _stop_for_good: every timer deleted and no resume succeeds again, in this process and its
 * children (the program took the signal for itself). Atomic against lp_cputimer_resume: a
 * resume that races with either comes first (and what it armed is deleted) or fails. */
void lp_cputimer_hold(void);
void lp_cputimer_release(void);
void lp_cputimer_stop_for_good(void);
bool lp_cputimer_armed(void);

struct lp_cputimer_stats {
    uint64_t live;        /* timers in the table now */
    uint64_t armed;       /* threads armed since start */
    uint64_t deleted;     /* timers of threads that ended, deleted */
    uint64_t failed;      /* threads whose timer could not be made (last_error says why) */
    int last_error;       /* -errno of the last such failure */
    uint64_t table_full;  /* threads not armed: the table was full */
    uint64_t max_threads;
};
void lp_cputimer_stats(struct lp_cputimer_stats *s);

/* In a fork child (its only thread the caller): it has no timers (fork does not copy them), so
 * the parent's table is forgotten, not deleted; arming stays on or off as it was. */
void lp_cputimer_atfork_child(void);

#endif
