/* sync.c — see sync.h. */
#include "sync.h"

#include <linux/futex.h>
#include <time.h>

#include "clock.h"
#include "sys.h"

static uint64_t sync_sleeps, sync_sleep_ns; /* atomic: lp_sync_stats */
__thread uint32_t lp_sync_held_ __attribute__((tls_model("initial-exec")));

void lp_lock_slow(lp_lock_t *l)
{
    /* A few spins first: our critical sections are tens of nanoseconds. */
    for (int i = 0; i < 64; i++) {
        uint32_t expected = 0;
        if (__atomic_load_n(&l->word, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&l->word, &expected, 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        __builtin_ia32_pause();
    }
    if (__atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE) == 0)
        return;
    uint64_t t0 = lp_now();
    do
        lp_sys_futex(&l->word, FUTEX_WAIT_PRIVATE, 2, NULL);
    while (__atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE) != 0);
    __atomic_fetch_add(&sync_sleeps, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&sync_sleep_ns, lp_clock_elapsed(t0, lp_now()), __ATOMIC_RELAXED);
}

void lp_sync_stats(struct lp_sync_stats *s)
{
    s->sleeps = __atomic_load_n(&sync_sleeps, __ATOMIC_RELAXED);
    s->sleep_ns = __atomic_load_n(&sync_sleep_ns, __ATOMIC_RELAXED);
}

void lp_unlock_slow(lp_lock_t *l)
{
    lp_sys_futex(&l->word, FUTEX_WAKE_PRIVATE, 1, NULL);
}

int lp_futex_wait_sigsafe(uint32_t *word, uint32_t val, uint64_t timeout_ns)
{
    struct timespec ts = { (time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u) };
    long rc = lp_sys_futex(word, FUTEX_WAIT_PRIVATE, val, timeout_ns ? &ts : NULL);
    return rc < 0 ? (int)rc : 0;
}

void lp_futex_wake_sigsafe(uint32_t *word, int nwake)
{
    lp_sys_futex(word, FUTEX_WAKE_PRIVATE, (uint32_t)nwake, NULL);
}
