/* cputimer.c — see cputimer.h. */
#include "cputimer.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "clock.h"
#include "sample.h"
#include "sync.h"

/* A thread's entry: tid 0 is an empty slot. Open addressing, linear probing, deletion by
 * shifting back the entries after the hole (no tombstones). */
struct timer_slot {
    int32_t tid;
    int32_t timer;   /* the kernel's timer id; -1 for a thread of lockprof's own */
    uint32_t seen;   /* the scan that last listed the thread */
    uint32_t pad;
};

static lp_lock_t timer_lock = LP_LOCK_INIT;
static struct timer_slot *timer_slots;  /* immutable after init (the pointer) */
static uint32_t timer_mask;              /* immutable after init */
static uint32_t timer_max;               /* immutable after init: entries at most */
static uint64_t timer_period;            /* immutable after init */
static int timer_signo;                  /* immutable after init */
static uint32_t timer_on;                /* atomic; written under timer_lock */
static uint32_t timer_holds; /* execs in progress (lp_cputimer_hold); under timer_lock */
static bool timer_done;      /* lp_cputimer_stop_for_good; under timer_lock */

/* timer_lock is taken with every signal blocked (the raw call: glibc's own two included): a
 * program's handler that runs on a thread holding it and calls sigaction for the signal, or
 * exec, would take it again (lp_cputimer_hold) and never return. */
static void timer_enter(uint64_t *old)
{
    uint64_t all = ~0ULL;
    lp_sys_sigprocmask(SIG_SETMASK, &all, old);
    lp_lock(&timer_lock);
}

static void timer_leave(const uint64_t *old)
{
    lp_unlock(&timer_lock);
    lp_sys_sigprocmask(SIG_SETMASK, old, NULL);
}
/* Under timer_lock: */
static uint32_t timer_count, timer_own, timer_sweep_at, timer_scan_gen; /* own: lockprof's */
static struct lp_rng timer_rng;
static struct lp_cputimer_stats timer_st;
/* Set (under timer_lock) by an arming that took the table past timer_sweep_at, cleared by the
 * next scan; read without the lock (lp_cputimer_sweep_wanted). Atomic. */
static uint32_t timer_sweep_wanted;
/* Under timer_lock: the entries the last scan left (a full table that has gained none since
 * has nothing a sweep could delete). */
static uint32_t timer_scan_left;

/* A sweep (scan) is wanted once an arming takes the table past this: twice what the last scan
 * left. */
#define TIMER_SWEEP_MIN 64

LP_INIT_TEXT int lp_cputimer_init(uint64_t period_ns, int signo, unsigned max_threads)
{
    uint32_t cap = 64;
    while (cap < 2 * max_threads && cap < (1u << 24))
        cap <<= 1;
    void *p = mmap(NULL, cap * sizeof(struct timer_slot), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    timer_slots = p;
    timer_mask = cap - 1;
    timer_max = cap / 2 < max_threads ? cap / 2 : max_threads;
    timer_st.max_threads = timer_max;
    timer_period = period_ns;
    timer_signo = signo;
    timer_sweep_at = TIMER_SWEEP_MIN;
    lp_rng_seed(&timer_rng, lp_now() ^ (uint64_t)lp_sys_getpid() << 32);
    return 0;
}

static uint32_t timer_home(int32_t tid)
{
    return (uint32_t)(((uint64_t)(uint32_t)tid * 0x9e3779b97f4a7c15ULL) >> 32) & timer_mask;
}

static struct timer_slot *timer_find(int32_t tid)
{
    for (uint32_t i = timer_home(tid);; i = (i + 1) & timer_mask) {
        if (timer_slots[i].tid == tid)
            return &timer_slots[i];
        if (timer_slots[i].tid == 0)
            return NULL;
    }
}

static struct timer_slot *timer_insert(int32_t tid, int32_t timer)
{
    uint32_t i = timer_home(tid);
    while (timer_slots[i].tid)
        i = (i + 1) & timer_mask;
    timer_slots[i] = (struct timer_slot){ tid, timer, timer_scan_gen, 0 };
    timer_count++;
    return &timer_slots[i];
}

/* Empties slot i, moving back the entries of its probe run that would no longer be found. */
static void timer_remove_at(uint32_t i)
{
    for (uint32_t j = i;;) {
        j = (j + 1) & timer_mask;
        if (!timer_slots[j].tid)
            break;
        uint32_t k = timer_home(timer_slots[j].tid);
        /* j stays if its home lies cyclically in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        timer_slots[i] = timer_slots[j];
        i = j;
    }
    memset(&timer_slots[i], 0, sizeof timer_slots[i]);
    timer_count--;
}

/* A new timer for thread tid, armed: its first expiry uniform in (0, period] of the thread's
 * CPU time (as Go does), so that threads started together are not sampled in step. */
static int timer_create_for(int32_t tid, int32_t *out)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_value.sival_int = LP_CPUTIMER_COOKIE;
    sev.sigev_signo = timer_signo;
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev._sigev_un._tid = tid;
    clockid_t clk = (clockid_t)((~(uint32_t)tid << 3) | 6); /* CPUCLOCK_PERTHREAD | SCHED */
    int id = -1;
    long rc = lp_syscall3(SYS_timer_create, clk, &sev, &id);
    if (rc < 0)
        return (int)rc;
    uint64_t first = 1 + lp_rng_below(&timer_rng, timer_period);
    struct itimerspec its = {
        .it_interval = { (time_t)(timer_period / 1000000000), (long)(timer_period % 1000000000) },
        .it_value = { (time_t)(first / 1000000000), (long)(first % 1000000000) },
    };
    rc = lp_syscall4(SYS_timer_settime, id, 0, &its, NULL);
    if (rc < 0) {
        lp_syscall1(SYS_timer_delete, id);
        return (int)rc;
    }
    *out = id;
    return 0;
}

/* A periodic timer whose interval reads 0 measures a thread that has ended. */
static bool timer_dead(int32_t id)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    return lp_syscall2(SYS_timer_gettime, id, &its) < 0 ||
           (its.it_interval.tv_sec == 0 && its.it_interval.tv_nsec == 0);
}

static void timer_failed(int rc)
{
    timer_st.failed++;
    timer_st.last_error = rc;
}

/* Arms tid, under timer_lock. */
static int timer_arm_locked(int32_t tid)
{
    if (!timer_on)
        return -ECANCELED;
    struct timer_slot *s = timer_find(tid);
    if (s) {
        if (s->timer < 0 || !timer_dead(s->timer))
            return -EEXIST;
        /* The id of a thread that has ended, given to a new one: its old timer goes. */
        lp_syscall1(SYS_timer_delete, s->timer);
        timer_st.deleted++;
        int32_t id;
        int rc = timer_create_for(tid, &id);
        if (rc < 0) {
            timer_failed(rc);
            timer_remove_at((uint32_t)(s - timer_slots));
            return rc;
        }
        s->timer = id;
        timer_st.armed++;
        return 0;
    }
    if (timer_count >= timer_max) {
        timer_st.table_full++;
        return -ENOSPC;
    }
    int32_t id;
    int rc = timer_create_for(tid, &id);
    if (rc < 0) {
        timer_failed(rc);
        return rc;
    }
    timer_insert(tid, id);
    timer_st.armed++;
    return 0;
}

/* The scan, under timer_lock (cputimer.h). */
static int timer_scan_locked(void)
{
    int fd = lp_sys_open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    uint32_t gen = ++timer_scan_gen;
    char buf[4096] __attribute__((aligned(8)));
    long r;
    for (;;) {
        r = lp_sys_getdents64(fd, buf, sizeof buf);
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        for (long off = 0; off < r;) {
            const char *d = buf + off;
            unsigned short reclen;
            memcpy(&reclen, d + 16, sizeof reclen); /* d_ino 8, d_off 8, d_reclen 2 */
            const char *name = d + 19;              /* after d_type */
            off += reclen;
            int64_t tid = 0;
            for (; *name >= '0' && *name <= '9' && tid < INT32_MAX; name++)
                tid = tid * 10 + (*name - '0');
            if (*name || tid <= 0 || tid > INT32_MAX)
                continue; /* "." and ".." */
            struct timer_slot *s = timer_find((int32_t)tid);
            if (s)
                s->seen = gen;
            else if (timer_on)
                timer_arm_locked((int32_t)tid); /* (seen: inserted with this generation) */
        }
    }
    lp_sys_close(fd);
    if (r < 0)
        return (int)r; /* a listing cut short: nobody is taken for gone */
    for (uint32_t i = 0; i <= timer_mask; i++)
        while (timer_slots[i].tid && timer_slots[i].seen != gen) {
            if (timer_slots[i].timer >= 0) {
                lp_syscall1(SYS_timer_delete, timer_slots[i].timer);
                timer_st.deleted++;
            } else {
                timer_own--;
            }
            timer_remove_at(i);
        }
    timer_sweep_at = 2 * timer_count > TIMER_SWEEP_MIN ? 2 * timer_count : TIMER_SWEEP_MIN;
    timer_scan_left = timer_count;
    __atomic_store_n(&timer_sweep_wanted, 0, __ATOMIC_RELAXED);
    return 0;
}

int lp_cputimer_arm(int32_t tid)
{
    if (!timer_slots || tid <= 0)
        return -EINVAL;
    uint64_t old_mask;
    timer_enter(&old_mask);
    int rc = timer_arm_locked(tid);
    /* (A table the last scan left full of live threads is not swept again for each thread
     * that finds it full: only once it has gained entries, which may have ended since.) */
    if (timer_on && (timer_count >= timer_sweep_at ||
                     (rc == -ENOSPC && timer_count > timer_scan_left)))
        __atomic_store_n(&timer_sweep_wanted, 1, __ATOMIC_RELAXED);
    timer_leave(&old_mask);
    return rc;
}

bool lp_cputimer_sweep_wanted(void)
{
    return __atomic_load_n(&timer_sweep_wanted, __ATOMIC_RELAXED) != 0;
}

void lp_cputimer_own_begin(void)
{
    if (timer_slots)
        lp_lock(&timer_lock);
}

void lp_cputimer_own_end(int32_t tid)
{
    if (!timer_slots)
        return;
    if (tid > 0 && !timer_find(tid) && timer_count < timer_max) {
        timer_insert(tid, -1);
        timer_own++;
    }
    lp_unlock(&timer_lock);
}

int lp_cputimer_scan(void)
{
    if (!timer_slots)
        return -EINVAL;
    uint64_t old_mask;
    timer_enter(&old_mask);
    int rc = timer_scan_locked();
    timer_leave(&old_mask);
    return rc;
}

static void timer_stop_locked(void)
{
    __atomic_store_n(&timer_on, 0, __ATOMIC_RELEASE);
    for (uint32_t i = 0; i <= timer_mask && timer_count; i++)
        while (timer_slots[i].tid && timer_slots[i].timer >= 0) {
            lp_syscall1(SYS_timer_delete, timer_slots[i].timer);
            timer_remove_at(i);
        }
}

void lp_cputimer_stop(void)
{
    if (!timer_slots)
        return;
    uint64_t old_mask;
    timer_enter(&old_mask);
    timer_stop_locked();
    timer_leave(&old_mask);
}

bool lp_cputimer_resume(void)
{
    if (!timer_slots)
        return false;
    uint64_t old_mask;
    timer_enter(&old_mask);
    bool on = timer_holds == 0 && !timer_done;
    if (on)
        __atomic_store_n(&timer_on, 1, __ATOMIC_RELEASE);
    timer_leave(&old_mask);
    return on;
}

/* delta: +1 a hold, -1 a release, 0 the hold for ever. */
static void timer_hold(int delta)
{
    if (!timer_slots)
        return;
    uint64_t old_mask;
    timer_enter(&old_mask);
    if (delta == 0)
        timer_done = true;
    else if (delta > 0)
        timer_holds++;
    else if (timer_holds)
        timer_holds--;
    if (delta >= 0)
        timer_stop_locked();
    timer_leave(&old_mask);
}

void lp_cputimer_hold(void)
{
    timer_hold(+1);
}

void lp_cputimer_release(void)
{
    timer_hold(-1);
}

void lp_cputimer_stop_for_good(void)
{
    timer_hold(0);
}

bool lp_cputimer_armed(void)
{
    return __atomic_load_n(&timer_on, __ATOMIC_ACQUIRE) != 0;
}

void lp_cputimer_stats(struct lp_cputimer_stats *s)
{
    uint64_t old_mask;
    timer_enter(&old_mask);
    *s = timer_st;
    s->live = timer_count - timer_own;
    timer_leave(&old_mask);
}

void lp_cputimer_atfork_child(void)
{
    if (!timer_slots)
        return;
    lp_lock_reset(&timer_lock);
    /* Zero pages again, without touching them (as the stack table does). */
    madvise(timer_slots, (size_t)(timer_mask + 1) * sizeof(struct timer_slot), MADV_DONTNEED);
    timer_count = 0;
    timer_own = 0;
    timer_holds = 0; /* (execs in progress in the parent's other threads: not the child's) */
    timer_sweep_at = TIMER_SWEEP_MIN;
    timer_scan_left = 0;
    __atomic_store_n(&timer_sweep_wanted, 0, __ATOMIC_RELAXED);
    uint64_t max = timer_st.max_threads;
    memset(&timer_st, 0, sizeof timer_st);
    timer_st.max_threads = max;
    lp_rng_seed(&timer_rng, lp_now() ^ (uint64_t)lp_sys_getpid() << 32);
}
