/*
 * signals.h — the signals that end a program, the snapshot signal (DESIGN §5), and the CPU
 * profile's signal (§3.6).
 *
 * A default-fatal signal the program has not claimed (LOCKPROF_FATAL_SIGNALS: SIGINT and
 * SIGTERM by default) gets lockprof's handler: it asks the agent for the profiles and waits for
 * them with a bound, then restores the default action and raises the signal again, so the
 * program dies by the same signal and the interrupted code never sees EINTR. LOCKPROF_SIGNAL,
 * if the program has not claimed it, asks the agent for a snapshot. Handlers touch no
 * descriptor and take no lock: a counter and a futex (agent.h).
 *
 * The program keeps its own view: sigaction, signal, bsd_signal and sysv_signal are interposed
 * (signal() calls glibc's internal sigaction, not the interposed one), so that a signal
 * lockprof stands in for reads back as SIG_DFL, setting SIG_DFL keeps lockprof's handler, and
 * setting anything else replaces it. sigwait, sigwaitinfo and sigtimedwait drop the CPU
 * profile's signals that a thread blocking them would otherwise take as the program's; a
 * signalfd that reads the CPU profile's signal makes it the program's, as a handler would.
 *
 * Context: lp_signals_init in the constructor; lp_signals_install there or at a process's first
 * entry into lockprof (signal handlers included); lp_signals_atfork_child in a fork child.
 */
#ifndef LP_SIGNALS_H
#define LP_SIGNALS_H

#include <stdbool.h>
#include <stdint.h>

/* fatal: bit n for signal n (LOCKPROF_FATAL_SIGNALS); snapshot: LOCKPROF_SIGNAL, 0 for none;
 * cpu: the CPU profile's signal (cpu.h), 0 for none. A signal has one role: the caller gives
 * each at most one. Says which signals lockprof stands in for; lp_signals_install installs its
 * handlers, once, on those the program has not claimed (the constructor, or a process's first
 * entry). */
void lp_signals_init(uint64_t fatal, int snapshot, int cpu);
void lp_signals_install(void);
/*
 * The CPU profile's signal. Its handler records a sample (cpuprof.h). When the program claims
 * the signal (at start, or later with sigaction or signal), lockprof stands aside: the timers
 * are deleted first (lp_cpu_stand_aside), and it says so once.
 *   lp_signals_cpu_ours: lockprof's handler is installed for it now.
 *   lp_signals_cpu_flush: before an exec, once the timers are deleted: a sample pending is
 *     discarded (the signal is ignored a moment), and the action is the default again, as the
 *     program believes it is (the new image inherits it).
 *   lp_signals_cpu_reinstall: after an exec that failed: lockprof's handler again, unless the
 *     program changed the action meanwhile; true when it is installed.
 */
bool lp_signals_cpu_ours(void);
void lp_signals_cpu_flush(void);
bool lp_signals_cpu_reinstall(void);
/* After fork, in the child: no agent to write for a fatal signal, none to take a snapshot. */
void lp_signals_atfork_child(void);
/* The program restricts its system calls (seccomp): lockprof's handlers go, every signal
 * it stood in for has its default action again (a handler would need calls to re-raise). */
void lp_signals_stand_aside(void);

#endif
