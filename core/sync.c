/* sync.c — see sync.h. */
#include "sync.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long futex_call(uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

void lp_lock_slow(lp_lock_t *l)
{
    int saved = errno;
    /* A few spins first: our critical sections are tens of nanoseconds. */
    for (int i = 0; i < 64; i++) {
        uint32_t expected = 0;
        if (__atomic_load_n(&l->word, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&l->word, &expected, 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            errno = saved;
            return;
        }
        __builtin_ia32_pause();
    }
    while (__atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE) != 0)
        futex_call(&l->word, FUTEX_WAIT_PRIVATE, 2, NULL);
    errno = saved;
}

void lp_unlock_slow(lp_lock_t *l)
{
    int saved = errno;
    futex_call(&l->word, FUTEX_WAKE_PRIVATE, 1, NULL);
    errno = saved;
}

int lp_futex_wait_sigsafe(uint32_t *word, uint32_t val, uint64_t timeout_ns)
{
    int saved = errno, rc = 0;
    struct timespec ts = { (time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u) };
    if (futex_call(word, FUTEX_WAIT_PRIVATE, val, timeout_ns ? &ts : NULL) < 0)
        rc = -errno;
    errno = saved;
    return rc;
}

void lp_futex_wake_sigsafe(uint32_t *word, int nwake)
{
    int saved = errno;
    futex_call(word, FUTEX_WAKE_PRIVATE, (uint32_t)nwake, NULL);
    errno = saved;
}
