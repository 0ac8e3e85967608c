/*
 * agent.h — lockprof's own thread, the agent (DESIGN §5), and the HTTP thread it starts.
 *
 * The agent writes the profiles a fatal signal asks for (the writer never runs inside a signal
 * handler), the snapshots LOCKPROF_SIGNAL asks for and those LOCKPROF_INTERVAL schedules,
 * drains the CPU profile's samples each second (cpu.h), and starts the HTTP thread when
 * LOCKPROF_HTTP is set. Signal handlers only bump a counter and
 * wake it: a futex, no descriptor on a signal path (DESIGN §6). lockprof's threads block every
 * signal from birth and are always busy (never profiled).
 *
 * Context: lp_agent_init and lp_agent_start in the constructor or as the program starts its
 * first thread (lifecycle.c); the _sigsafe functions from any thread, signal handlers
 * included; lp_agent_atfork_child in a fork child.
 */
#ifndef LP_AGENT_H
#define LP_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* Finds glibc's count of the program's threads, once: the loader's lock is taken here, which
 * no other thread can hold while the process has one (resolve.h says why that matters). In
 * the constructor when the program has threads already, else by lp_agent_start. */
void lp_agent_init(void);
/* Starts the agent with the settings in cfg (kept: immutable after the constructor). http_spec
 * is LOCKPROF_HTTP expanded (%p, %t), "" when this process serves no endpoint. */
void lp_agent_start(const struct lp_config *cfg, const char *http_spec);
/* True when the agent runs in this process (not in a fork child, which has none). */
bool lp_agent_here_sigsafe(void);
/* Asks the agent to write both profiles; returns the request's number. */
uint32_t lp_agent_request_write_sigsafe(void);
/* Waits until the agent has served request target, at most timeout_ns (then says so once). */
void lp_agent_wait_sigsafe(uint32_t target, uint64_t timeout_ns);
/* Wakes the agent for its periodic work now (the CPU profile's ring is half full). */
void lp_agent_wake_sigsafe(void);
/* Asks the agent for a snapshot; requests that come while one is written make one more. */
void lp_agent_request_snapshot_sigsafe(void);
/* After fork, in the child: no agent here, and the parent's listener is closed (DESIGN §5: it
 * is not the child's to serve, nor to keep open). */
void lp_agent_atfork_child(void);

#endif
