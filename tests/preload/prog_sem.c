/*
 * prog_sem — POSIX semaphores under the preload.
 *  1. Three consumers wait for tokens, 3 each, one per call: sem_consume_wait (sem_wait),
 *     sem_consume_timed (sem_timedwait, a far deadline), sem_consume_clock (sem_clockwait,
 *     CLOCK_MONOTONIC). A producer posts one token ~30 ms after every waiting consumer is
 *     asleep in its call: measure consume_<kind>_total / consume_<kind>_count.
 *  2. sem_timeout_timed / sem_timeout_clock: a 40 ms deadline on an empty semaphore expires:
 *     measure timeout_timed_total, timeout_clock_total; "timeout ..." lines.
 *  3. sem_interrupted: sem_wait interrupted by a signal ~30 ms in (no SA_RESTART):
 *     measure eintr_total; an "eintr ..." line.
 *  4. sem_einval: glibc's EINVAL cases (tv_nsec out of range, an unsupported clock) with and
 *     without a token: "einval ..." lines with the result, errno and the value afterwards.
 *  5. sem_available: six calls that find a token.
 *  6. sem_cancel_pending: a thread whose cancel is pending calls a wait: "pending ..." lines say
 *     whether it was cancelled and the value afterwards.
 * Everything but the measure lines is the same with and without the preload.
 */
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>

#include "progutil.h"

#define ROUNDS 3
#define CONSUMERS 3

static const char *errname(int e)
{
    switch (e) {
    case 0: return "0";
    case EINVAL: return "EINVAL";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    default: return strerror(e);
    }
}

static int sem_value(sem_t *s)
{
    int v;
    sem_getvalue(s, &v);
    return v;
}

static struct timespec mono_deadline_in_ms(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* 1. consumers and a producer */
static sem_t tokens;
static int cons_tid[CONSUMERS], cons_waiting[CONSUMERS], cons_left[CONSUMERS], consumed;
static int errno_kept; /* successful waits that left errno as it was */
static uint64_t cons_total[CONSUMERS], cons_count[CONSUMERS];

static void consumed_one(int id, uint64_t t0)
{
    if (errno == 777)
        __atomic_fetch_add(&errno_kept, 1, __ATOMIC_RELAXED);
    cons_total[id] += now_ns() - t0;
    cons_count[id]++;
    cons_left[id]--;
    __atomic_store_n(&cons_waiting[id], 0, __ATOMIC_RELEASE);
    __atomic_fetch_add(&consumed, 1, __ATOMIC_ACQ_REL);
}

static void about_to_wait(int id)
{
    errno = 777;
    __atomic_store_n(&cons_waiting[id], 1, __ATOMIC_RELEASE);
}

static __attribute__((noinline)) void sem_consume_wait(int id)
{
    about_to_wait(id);
    uint64_t t0 = now_ns();
    if (sem_wait(&tokens) != 0)
        die("sem_wait");
    consumed_one(id, t0);
}

static __attribute__((noinline)) void sem_consume_timed(int id)
{
    struct timespec ts = deadline_in_ms(20000);
    about_to_wait(id);
    uint64_t t0 = now_ns();
    if (sem_timedwait(&tokens, &ts) != 0)
        die("sem_timedwait");
    consumed_one(id, t0);
}

static __attribute__((noinline)) void sem_consume_clock(int id)
{
    struct timespec ts = mono_deadline_in_ms(20000);
    about_to_wait(id);
    uint64_t t0 = now_ns();
    if (sem_clockwait(&tokens, CLOCK_MONOTONIC, &ts) != 0)
        die("sem_clockwait");
    consumed_one(id, t0);
}

static void *consumer(void *arg)
{
    int id = (int)(intptr_t)arg;
    __atomic_store_n(&cons_tid[id], thread_id(), __ATOMIC_RELEASE);
    while (cons_left[id] > 0) {
        if (id == 0)
            sem_consume_wait(id);
        else if (id == 1)
            sem_consume_timed(id);
        else
            sem_consume_clock(id);
    }
    return NULL;
}

/* True when every consumer that still needs a token is asleep in its wait. */
static int consumers_asleep(void)
{
    for (int i = 0; i < CONSUMERS; i++) {
        if (__atomic_load_n(&cons_left[i], __ATOMIC_ACQUIRE) == 0)
            continue;
        if (!__atomic_load_n(&cons_waiting[i], __ATOMIC_ACQUIRE) ||
            !thread_sleeping(__atomic_load_n(&cons_tid[i], __ATOMIC_ACQUIRE)))
            return 0;
    }
    return 1;
}

static void part1(void)
{
    sem_init(&tokens, 0, 0);
    pthread_t t[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) {
        cons_left[i] = ROUNDS;
        if (pthread_create(&t[i], NULL, consumer, (void *)(intptr_t)i))
            die("pthread_create");
    }
    for (int k = 0; k < ROUNDS * CONSUMERS; k++) {
        await_at_least(&consumed, k); /* the previous token was taken */
        while (!consumers_asleep())
            sleep_ms(1);
        sleep_ms(30);
        sem_post(&tokens);
    }
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(t[i], NULL);
    static const char *kind[CONSUMERS] = { "wait", "timed", "clock" };
    char key[64];
    for (int i = 0; i < CONSUMERS; i++) {
        snprintf(key, sizeof key, "consume_%s_total", kind[i]);
        measure(key, cons_total[i]);
        snprintf(key, sizeof key, "consume_%s_count", kind[i]);
        measure(key, cons_count[i]);
    }
    printf("consumed %d tokens, value %d, errno kept by %d\n", consumed, sem_value(&tokens),
           errno_kept);
}

/* 2. timeouts */
static __attribute__((noinline)) void sem_timeout_timed(sem_t *s)
{
    struct timespec ts = deadline_in_ms(40);
    uint64_t t0 = now_ns();
    int rc = sem_timedwait(s, &ts);
    int e = errno;
    measure("timeout_timed_total", now_ns() - t0);
    printf("timeout sem_timedwait: rc %d errno %s\n", rc, errname(e));
}

static __attribute__((noinline)) void sem_timeout_clock(sem_t *s)
{
    struct timespec ts = mono_deadline_in_ms(40);
    uint64_t t0 = now_ns();
    int rc = sem_clockwait(s, CLOCK_MONOTONIC, &ts);
    int e = errno;
    measure("timeout_clock_total", now_ns() - t0);
    printf("timeout sem_clockwait: rc %d errno %s\n", rc, errname(e));
}

/* 3. a signal interrupts sem_wait */
static sem_t never;
static int eintr_tid;
static uint64_t eintr_total;
static int eintr_rc, eintr_errno;

static void on_usr1(int sig)
{
    (void)sig;
}

static __attribute__((noinline)) void sem_interrupted(void)
{
    __atomic_store_n(&eintr_tid, thread_id(), __ATOMIC_RELEASE);
    uint64_t t0 = now_ns();
    eintr_rc = sem_wait(&never);
    eintr_errno = errno;
    eintr_total = now_ns() - t0;
}

static void *interrupted(void *arg)
{
    (void)arg;
    sem_interrupted();
    return NULL;
}

static void part3(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART (sem_wait is never restarted anyway) */
    sigaction(SIGUSR1, &sa, NULL);
    sem_init(&never, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, interrupted, NULL);
    await_at_least(&eintr_tid, 1);
    await_all_asleep(&eintr_tid, 1);
    sleep_ms(30);
    pthread_kill(t, SIGUSR1);
    pthread_join(t, NULL);
    measure("eintr_total", eintr_total);
    printf("eintr sem_wait: rc %d errno %s\n", eintr_rc, errname(eintr_errno));
}

/* 4. glibc's EINVAL cases, with a token (1) and without (0) */
static __attribute__((noinline)) void sem_einval(int value)
{
    sem_t s;
    struct timespec good = deadline_in_ms(20), big = good, neg = good;
    big.tv_nsec = 1000000000L;
    neg.tv_nsec = -1;
    struct { const char *what; int kind; clockid_t clk; struct timespec *ts; } c[] = {
        { "sem_timedwait tv_nsec=1e9", 0, 0, &big },
        { "sem_timedwait tv_nsec=-1", 0, 0, &neg },
        { "sem_clockwait clock=CPUTIME", 1, CLOCK_PROCESS_CPUTIME_ID, &good },
        { "sem_clockwait clock=99", 1, 99, &good },
        { "sem_clockwait tv_nsec=1e9", 1, CLOCK_MONOTONIC, &big },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        sem_init(&s, 0, (unsigned)value);
        errno = 0;
        int rc = c[i].kind == 0 ? sem_timedwait(&s, c[i].ts) : sem_clockwait(&s, c[i].clk, c[i].ts);
        int e = errno;
        printf("einval %s value %d: rc %d errno %s, value after %d\n", c[i].what, value, rc,
               errname(e), sem_value(&s));
        sem_destroy(&s);
    }
}

/* 5. tokens available: no wait */
static __attribute__((noinline)) void sem_available(void)
{
    sem_t s;
    sem_init(&s, 0, 6);
    struct timespec rt = deadline_in_ms(1000), mono = mono_deadline_in_ms(1000);
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        rc |= sem_wait(&s);
        rc |= sem_timedwait(&s, &rt);
        rc |= sem_clockwait(&s, CLOCK_MONOTONIC, &mono);
    }
    int value = sem_value(&s), tr = sem_trywait(&s), e = errno;
    printf("available: rc %d, value after %d, trywait on empty %d errno %s\n", rc, value, tr,
           errname(e));
    sem_destroy(&s);
}

/* 6. a pending cancel */
struct pending {
    sem_t s;
    int kind;
};

static __attribute__((noinline)) void *sem_cancel_pending(void *arg)
{
    struct pending *p = arg;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    pthread_cancel(pthread_self());
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    struct timespec rt = deadline_in_ms(1000), mono = mono_deadline_in_ms(1000);
    int rc;
    if (p->kind == 0)
        rc = sem_wait(&p->s);
    else if (p->kind == 1)
        rc = sem_timedwait(&p->s, &rt);
    else
        rc = sem_clockwait(&p->s, CLOCK_MONOTONIC, &mono);
    return (void *)(intptr_t)(rc + 100);
}

static void part6(void)
{
    static const char *name[3] = { "sem_wait", "sem_timedwait", "sem_clockwait" };
    for (int value = 1; value >= 0; value--)
        for (int kind = 0; kind < 3; kind++) {
            struct pending p = { .kind = kind };
            sem_init(&p.s, 0, (unsigned)value);
            pthread_t t;
            void *ret;
            pthread_create(&t, NULL, sem_cancel_pending, &p);
            pthread_join(t, &ret);
            if (ret == PTHREAD_CANCELED)
                printf("pending %s value %d: cancelled, value after %d\n", name[kind], value,
                       sem_value(&p.s));
            else
                printf("pending %s value %d: returned %d, value after %d\n", name[kind], value,
                       (int)(intptr_t)ret - 100, sem_value(&p.s));
            sem_destroy(&p.s);
        }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    part1();
    sem_t empty;
    sem_init(&empty, 0, 0);
    sem_timeout_timed(&empty);
    sem_timeout_clock(&empty);
    part3();
    sem_einval(1);
    sem_einval(0);
    sem_available();
    part6();
    return 0;
}
