/* rates.c — see rates.h. */
#include "rates.h"
#include "sys.h"

LP_INIT_DATA uint64_t lp_rates_block_;
LP_INIT_DATA uint64_t lp_rates_fraction_;
static uint32_t rates_changed;          /* atomic */
static uint64_t rates_changes;          /* atomic: stores of a different value, ever */
/* (In .data with what a fork child reads: lp_rates_atfork_child reads it in every child.) */
LP_INIT_DATA static int rates_windows;  /* open windows that set rates; HTTP thread */
static uint64_t rates_saved_block;      /* the pair before the first of them; HTTP thread */
static uint64_t rates_saved_fraction;

LP_INIT_TEXT void lp_rates_init(uint64_t block, uint64_t fraction)
{
    __atomic_store_n(&lp_rates_block_, block, __ATOMIC_RELAXED);
    __atomic_store_n(&lp_rates_fraction_, fraction, __ATOMIC_RELAXED);
}

static uint64_t rates_swap(uint64_t *rate, uint64_t v)
{
    uint64_t prev = __atomic_exchange_n(rate, v, __ATOMIC_RELAXED);
    if (prev != v) {
        __atomic_store_n(&rates_changed, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&rates_changes, 1, __ATOMIC_RELAXED);
    }
    return prev;
}

uint64_t lp_rates_set_block(uint64_t rate)
{
    return rates_swap(&lp_rates_block_, rate);
}

uint64_t lp_rates_set_fraction(uint64_t fraction)
{
    return rates_swap(&lp_rates_fraction_, fraction);
}

bool lp_rates_changed(void)
{
    return __atomic_load_n(&rates_changed, __ATOMIC_RELAXED) != 0;
}

uint64_t lp_rates_changes(void)
{
    return __atomic_load_n(&rates_changes, __ATOMIC_RELAXED);
}

void lp_rates_window_begin(bool set_block, uint64_t block, bool set_fraction, uint64_t fraction)
{
    if (rates_windows++ == 0) {
        rates_saved_block = lp_rates_block();
        rates_saved_fraction = lp_rates_fraction();
    }
    if (set_block)
        rates_swap(&lp_rates_block_, block);
    if (set_fraction)
        rates_swap(&lp_rates_fraction_, fraction);
}

void lp_rates_window_end(void)
{
    if (rates_windows > 0 && --rates_windows == 0) {
        rates_swap(&lp_rates_block_, rates_saved_block);
        rates_swap(&lp_rates_fraction_, rates_saved_fraction);
    }
}

LP_FORK_TEXT void lp_rates_atfork_child(void)
{
    if (rates_windows > 0) { /* (no store otherwise: it would copy a page the parent shares) */
        rates_swap(&lp_rates_block_, rates_saved_block);
        rates_swap(&lp_rates_fraction_, rates_saved_fraction);
        rates_windows = 0;
    }
}
