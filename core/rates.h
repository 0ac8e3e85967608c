/*
 * rates.h — the block rate and the mutex fraction in force (DESIGN §3.1, §3.2), and their one
 * owner.
 *
 * Every event reads them (relaxed atomics, inline: the wrappers' fast paths test them); only
 * rates.c stores them. The constructor sets the configured pair (lp_rates_init); the C API sets
 * either at run time (lp_rates_set_*); the HTTP endpoint's windows (seconds=N with rate= or
 * fraction=) set them for their length: the first such window saves the pair in force, each
 * sets its own, and the last to end puts the saved pair back (a rate the API set meanwhile is
 * replaced then). A change after start is remembered for the profiles' comments.
 *
 * Context: the getters and setters from any thread, signal handlers included; the window
 * functions from lockprof's HTTP thread only; lp_rates_atfork_child in a fork child.
 */
#ifndef LP_RATES_H
#define LP_RATES_H

#include <stdbool.h>
#include <stdint.h>

/* Owned by rates.c: read them through the functions below. */
extern uint64_t lp_rates_block_;    /* atomic */
extern uint64_t lp_rates_fraction_; /* atomic */

static inline uint64_t lp_rates_block(void)
{
    return __atomic_load_n(&lp_rates_block_, __ATOMIC_RELAXED);
}

static inline uint64_t lp_rates_fraction(void)
{
    return __atomic_load_n(&lp_rates_fraction_, __ATOMIC_RELAXED);
}

/* Both off: no clock is read anywhere (DESIGN §3.1). */
static inline bool lp_rates_profiling(void)
{
    return (lp_rates_block() | lp_rates_fraction()) != 0;
}

/* The configured pair, at start: not a change. */
void lp_rates_init(uint64_t block, uint64_t fraction);
/* Set one rate now; return the one in force before. */
uint64_t lp_rates_set_block(uint64_t rate);
uint64_t lp_rates_set_fraction(uint64_t fraction);
/* True once a rate was changed after start. */
bool lp_rates_changed(void);
/* How many times either rate has changed since start: equal readings before and after a span
 * mean it ran at one pair throughout. */
uint64_t lp_rates_changes(void);

/* A window opens: saves the pair in force if no window had, then sets what is given. */
void lp_rates_window_begin(bool set_block, uint64_t block, bool set_fraction, uint64_t fraction);
/* A window that lp_rates_window_begin opened ends: the last one restores the saved pair. */
void lp_rates_window_end(void);
/* After fork, in the child (no HTTP thread there to end its windows): the saved pair, if any
 * window was open, is put back, and no window is open. */
void lp_rates_atfork_child(void);

#endif
