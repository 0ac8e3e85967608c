/* clock.c — see clock.h. */
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "sys.h"

struct lp_tsc lp_tsc_;

enum { TSC_OFF, TSC_UNCHECKED, TSC_CHECKING, TSC_PENDING, TSC_CALIBRATING, TSC_ON };
LP_INIT_DATA static int clock_tsc_state;              /* atomic */
static uint64_t clock_tsc0, clock_ns0;   /* the first pair: written before PENDING */

static uint64_t clock_gettime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
/* A (counter, CLOCK_MONOTONIC) pair read as close together as a few tries allow: the counter
 * on both sides of the clock read, the tightest bracket kept. */
static void clock_pair(uint64_t *tsc, uint64_t *ns)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 8; i++) {
        __builtin_ia32_lfence();
        uint64_t a = __builtin_ia32_rdtsc();
        uint64_t n = clock_gettime_ns();
        __builtin_ia32_lfence();
        uint64_t b = __builtin_ia32_rdtsc();
        if (b - a < best) {
            best = b - a;
            *tsc = a + (b - a) / 2;
            *ns = n;
        }
    }
}

/* The second pair, by whichever thread reads the clock first once LP_TSC_CALIBRATE_NS has
 * passed: the counter's rate over that time, or the counter stays off if it is not sane. */
static void clock_tsc_calibrate(void)
{
    int want = TSC_PENDING;
    if (!__atomic_compare_exchange_n(&clock_tsc_state, &want, TSC_CALIBRATING, false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    uint64_t tsc1, ns1;
    clock_pair(&tsc1, &ns1);
    uint64_t dt = tsc1 - clock_tsc0, dn = ns1 - clock_ns0;
    /* Between 10 MHz and 100 GHz: anything else is not a counter to time waits with. */
    if ((int64_t)dt <= 0 || dn < LP_TSC_CALIBRATE_NS || dt < dn / 100 || dt / 100 > dn) {
        __atomic_store_n(&clock_tsc_state, TSC_OFF, __ATOMIC_RELEASE);
        return;
    }
    lp_tsc_.base_tsc = tsc1;
    lp_tsc_.base_ns = ns1;
    __atomic_store_n(&lp_tsc_.mult, (uint64_t)(((unsigned __int128)dn << 32) / dt),
                     __ATOMIC_RELEASE);
    __atomic_store_n(&clock_tsc_state, TSC_ON, __ATOMIC_RELEASE);
}

/* The kernel's current clock source is "tsc": it found the counter stable and in step across
 * CPUs (a virtual machine's kvm-clock or a machine's hpet means it did not). */
static bool clock_kernel_uses_tsc(void)
{
    static const char path[] = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
    int fd = lp_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return false;
    char buf[16];
    long n = lp_sys_read(fd, buf, sizeof buf);
    lp_sys_close(fd);
    return n == 4 && memcmp(buf, "tsc\n", 4) == 0;
}
#endif

LP_INIT_TEXT void lp_clock_tsc_init(bool enable)
{
#if defined(__x86_64__)
    /* Checked when first needed (lp_clock_tsc_settle): in a virtual machine even the CPUID
     * instruction costs microseconds, which a process that times nothing need not pay. */
    if (enable)
        __atomic_store_n(&clock_tsc_state, TSC_UNCHECKED, __ATOMIC_RELEASE);
#else
    (void)enable;
#endif
}

void lp_clock_tsc_settle(void)
{
#if defined(__x86_64__)
    int want = TSC_UNCHECKED;
    if (!__atomic_compare_exchange_n(&clock_tsc_state, &want, TSC_CHECKING, false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    int saved = errno;
    unsigned a, b, c, d;
    /* CPUID 0x80000007, EDX bit 8: the invariant counter (constant rate, runs in deep sleep). */
    bool invariant = __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
    if (invariant && clock_kernel_uses_tsc()) {
        clock_pair(&clock_tsc0, &clock_ns0);
        __atomic_store_n(&clock_tsc_state, TSC_PENDING, __ATOMIC_RELEASE);
    } else {
        __atomic_store_n(&clock_tsc_state, TSC_OFF, __ATOMIC_RELEASE);
    }
    errno = saved;
#endif
}

uint64_t lp_clock_monotonic(void)
{
    int saved = errno;
    uint64_t ns = clock_gettime_ns();
#if defined(__x86_64__)
    int st = __atomic_load_n(&clock_tsc_state, __ATOMIC_ACQUIRE);
    if (__builtin_expect(st == TSC_PENDING, 0) && ns - clock_ns0 >= LP_TSC_CALIBRATE_NS)
        clock_tsc_calibrate();
    else if (__builtin_expect(st == TSC_UNCHECKED, 0))
        lp_clock_tsc_settle();
#endif
    errno = saved;
    return ns;
}

lp_clock_fn lp_clock_source = lp_clock_monotonic;

LP_INIT_TEXT int64_t lp_clock_realtime(void)
{
    struct timespec ts;
    int saved = errno;
    clock_gettime(CLOCK_REALTIME, &ts);
    errno = saved;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void lp_sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}
