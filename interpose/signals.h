/*
 * signals.h — the signals that end a program, and the snapshot signal (DESIGN §5).
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
 * setting anything else replaces it.
 *
 * Context: lp_signals_init in the constructor; lp_signals_atfork_child in a fork child.
 */
#ifndef LP_SIGNALS_H
#define LP_SIGNALS_H

#include <stdint.h>

/* fatal: bit n for signal n (LOCKPROF_FATAL_SIGNALS); snapshot: LOCKPROF_SIGNAL, 0 for none. */
void lp_signals_init(uint64_t fatal, int snapshot);
/* After fork, in the child: no agent to write for a fatal signal, none to take a snapshot. */
void lp_signals_atfork_child(void);
/* The program restricts its system calls (seccomp): lockprof's handlers go, every signal
 * it stood in for has its default action again (a handler would need calls to re-raise). */
void lp_signals_stand_aside(void);

#endif
