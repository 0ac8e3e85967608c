/*
 * prog_mutex_kinds — process-shared, priority-inheritance, adaptive and robust mutexes under
 * the preload (mutex_kinds.t).
 *
 * prog_mutex_kinds pshared [hold_ms]
 *   A PTHREAD_PROCESS_SHARED mutex in MAP_SHARED memory, two processes (fork). Round 1: the
 *   parent holds it while the child waits in pshared_wait; round 2: the child holds it while
 *   the parent waits; round 3: the child holds it while two of the parent's threads wait.
 *   Each holder gives it up in pshared_release once the other process's waiters are asleep
 *   in the lock and HOLD ms more have passed. Each process prints its own:
 *     measure {parent,child}_pid      its pid (its profiles are PREFIX.<pid>.*)
 *     measure {parent,child}_wait     Σ of its waits, measured around pthread_mutex_lock
 *   The child exits through exit(), so it writes its own profiles.
 *
 * prog_mutex_kinds convoy KIND [rounds] [hold_ms]
 *   KIND: normal, pi, pi_errorcheck, adaptive, robust, robust_pi. Each round, main holds the
 *   mutex (kind_hold) while 3 threads queue on it in kind_wait, and once all are asleep in the
 *   lock, HOLD ms more, then gives it up in kind_release:
 *     measure wait_total / wait_count   the waiters' measured waits
 *     measure holder_owed               Σ over waiters of (release − their start)
 *     check convoy KIND lock=.. unlock=..  every lock and unlock result (all 0)
 *
 * prog_mutex_kinds checks
 *   Results that must not change under the preload, one "check NAME ..." line each:
 *   PI error-checking relock (EDEADLK) and foreign unlock (EPERM) while others wait; an
 *   adaptive trylock on a held mutex (EBUSY); a robust PI mutex whose owner dies while a
 *   thread waits (EOWNERDEAD, then consistent, then 0).
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "progutil.h"

#define NOINLINE __attribute__((noinline, noclone))

static unsigned hold_ms = 30;

static void init_mutex(pthread_mutex_t *m, int type, int robust, int protocol, int pshared)
{
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a) || pthread_mutexattr_settype(&a, type) ||
        pthread_mutexattr_setrobust(&a, robust) || pthread_mutexattr_setprotocol(&a, protocol) ||
        pthread_mutexattr_setpshared(&a, pshared) || pthread_mutex_init(m, &a) ||
        pthread_mutexattr_destroy(&a))
        die("pthread_mutex_init");
}

/* True when thread tid of process pid is asleep. */
static int task_sleeping(int pid, int tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] == 'S';
}

/* ---- pshared ------------------------------------------------------------------------------ */

struct shared {
    pthread_mutex_t m;
    int turn;        /* the round: 1, 3 the parent holds; 2, 3 the child holds */
    int arrived;     /* waits that have begun, over all rounds */
    int done;        /* ... and ended */
    int pid;         /* the waiters' process */
    int tids[2];     /* and threads */
};

static NOINLINE uint64_t pshared_wait(struct shared *s, int slot)
{
    s->pid = getpid();
    s->tids[slot] = thread_id();
    uint64_t t0 = now_ns();
    __atomic_fetch_add(&s->arrived, 1, __ATOMIC_ACQ_REL);
    if (pthread_mutex_lock(&s->m))
        die("pthread_mutex_lock");
    uint64_t t1 = now_ns();
    if (pthread_mutex_unlock(&s->m))
        die("pthread_mutex_unlock");
    __atomic_fetch_add(&s->done, 1, __ATOMIC_ACQ_REL);
    return t1 - t0;
}

static NOINLINE void pshared_release(struct shared *s)
{
    if (pthread_mutex_unlock(&s->m))
        die("pthread_mutex_unlock");
}

/* Holds s->m for round `turn` until the other process's n waiters (waits number `upto` − n + 1
 * to `upto`) sleep, then hold_ms more. */
static NOINLINE void pshared_hold(struct shared *s, int turn, int n, int upto)
{
    if (pthread_mutex_lock(&s->m))
        die("pthread_mutex_lock");
    __atomic_store_n(&s->turn, turn, __ATOMIC_RELEASE);
    await_at_least(&s->arrived, upto);
    for (int i = 0; i < n; i++)
        while (!task_sleeping(s->pid, s->tids[i]))
            sleep_ms(1);
    sleep_ms(hold_ms);
    pshared_release(s);
    await_at_least(&s->done, upto);
}

static struct shared *pshared;
static uint64_t pshared_second_wait;

static void *pshared_second_waiter(void *arg)
{
    (void)arg;
    pshared_second_wait = pshared_wait(pshared, 1);
    return NULL;
}

static int pshared_main(void)
{
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                            -1, 0);
    if (s == MAP_FAILED)
        die("mmap");
    pshared = s;
    init_mutex(&s->m, PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE,
               PTHREAD_PROCESS_SHARED);
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        await_at_least(&s->turn, 1);
        uint64_t waited = pshared_wait(s, 0);
        pshared_hold(s, 2, 1, 2);
        pshared_hold(s, 3, 2, 4);
        measure("child_pid", (uint64_t)getpid());
        measure("child_wait", waited);
        exit(0); /* exit(), not _exit(): the child writes its own profiles */
    }
    pshared_hold(s, 1, 1, 1);
    await_at_least(&s->turn, 2);
    uint64_t waited = pshared_wait(s, 0);
    /* Round 3: two threads of this process wait for the child. */
    await_at_least(&s->turn, 3);
    pthread_t t;
    if (pthread_create(&t, NULL, pshared_second_waiter, NULL))
        die("pthread_create");
    uint64_t waited3 = pshared_wait(s, 0);
    pthread_join(t, NULL);
    int st;
    if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("the child failed");
    measure("parent_pid", (uint64_t)getpid());
    measure("parent_wait", waited + waited3 + pshared_second_wait);
    return 0;
}

/* ---- convoy ------------------------------------------------------------------------------- */

#define WAITERS 3

static pthread_mutex_t cm;
static int arrived, tids[WAITERS], lock_errors, unlock_errors;
static uint64_t wstart[WAITERS], wait_total, wait_count;

static NOINLINE void kind_wait(int id)
{
    uint64_t t0 = now_ns();
    wstart[id] = t0;
    __atomic_store_n(&tids[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    if (pthread_mutex_lock(&cm))
        __atomic_fetch_add(&lock_errors, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&wait_total, now_ns() - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&wait_count, 1, __ATOMIC_RELAXED);
    if (pthread_mutex_unlock(&cm))
        __atomic_fetch_add(&unlock_errors, 1, __ATOMIC_RELAXED);
}

static void *kind_waiter(void *arg)
{
    kind_wait((int)(intptr_t)arg);
    return NULL;
}

static NOINLINE void kind_hold(void)
{
    if (pthread_mutex_lock(&cm))
        lock_errors++;
}

static NOINLINE void kind_release(uint64_t *t)
{
    *t = now_ns();
    if (pthread_mutex_unlock(&cm))
        unlock_errors++;
}

static const struct kind {
    const char *name;
    int type, robust, protocol;
} kinds[] = {
    { "normal", PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE },
    { "pi", PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_INHERIT },
    { "pi_errorcheck", PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_INHERIT },
    { "adaptive", PTHREAD_MUTEX_ADAPTIVE_NP, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE },
    { "robust", PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ROBUST, PTHREAD_PRIO_NONE },
    { "robust_pi", PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ROBUST, PTHREAD_PRIO_INHERIT },
};

static int convoy_main(const char *name, int rounds)
{
    const struct kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, name) == 0)
            k = &kinds[i];
    if (!k) {
        fprintf(stderr, "unknown kind %s\n", name);
        return 2;
    }
    init_mutex(&cm, k->type, k->robust, k->protocol, PTHREAD_PROCESS_PRIVATE);
    uint64_t owed = 0;
    for (int r = 1; r <= rounds; r++) {
        pthread_t t[WAITERS];
        kind_hold();
        for (int i = 0; i < WAITERS; i++)
            if (pthread_create(&t[i], NULL, kind_waiter, (void *)(intptr_t)i))
                die("pthread_create");
        await_at_least(&arrived, r * WAITERS);
        await_all_asleep(tids, WAITERS);
        sleep_ms(hold_ms);
        uint64_t released;
        kind_release(&released);
        for (int i = 0; i < WAITERS; i++) {
            pthread_join(t[i], NULL);
            owed += released - wstart[i];
        }
    }
    printf("check convoy %s lock_errors=%d unlock_errors=%d\n", name, lock_errors, unlock_errors);
    measure("wait_total", wait_total);
    measure("wait_count", wait_count);
    measure("holder_owed", owed);
    return 0;
}

/* ---- checks ------------------------------------------------------------------------------- */

static pthread_mutex_t xm;
static int x_tid, x_arrived, x_rc;

static void *x_waiter(void *arg)
{
    (void)arg;
    __atomic_store_n(&x_tid, thread_id(), __ATOMIC_RELEASE);
    __atomic_store_n(&x_arrived, 1, __ATOMIC_RELEASE);
    x_rc = pthread_mutex_lock(&xm);
    if (x_rc == EOWNERDEAD)
        x_rc = x_rc * 1000 + pthread_mutex_consistent(&xm);
    int u = pthread_mutex_unlock(&xm);
    return (void *)(intptr_t)u;
}

static void *x_trylock(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)pthread_mutex_trylock(&xm);
}

static void *x_unlock(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)pthread_mutex_unlock(&xm);
}

/* Starts a waiter on xm (held by the caller) and waits until it sleeps in the lock. */
static pthread_t x_start_waiter(void)
{
    pthread_t t;
    x_arrived = 0;
    if (pthread_create(&t, NULL, x_waiter, NULL))
        die("pthread_create");
    await_at_least(&x_arrived, 1);
    int tid = __atomic_load_n(&x_tid, __ATOMIC_ACQUIRE);
    await_all_asleep(&tid, 1);
    return t;
}

static int x_run(void *(*fn)(void *))
{
    pthread_t t;
    void *ret;
    if (pthread_create(&t, NULL, fn, NULL))
        die("pthread_create");
    pthread_join(t, &ret);
    return (int)(intptr_t)ret;
}

static int x_join(pthread_t t)
{
    void *ret;
    pthread_join(t, &ret);
    return (int)(intptr_t)ret;
}

static int x_held, x_go;

static void *x_die_holding(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&xm);
    __atomic_store_n(&x_held, 1, __ATOMIC_RELEASE);
    await_at_least(&x_go, 1);
    return NULL; /* ends holding it */
}

static int checks_main(void)
{
    /* PI error-checking, with a waiter queued. */
    init_mutex(&xm, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_INHERIT,
               PTHREAD_PROCESS_PRIVATE);
    int lk = pthread_mutex_lock(&xm);
    pthread_t w = x_start_waiter();
    int relock = pthread_mutex_lock(&xm);
    int tryl = x_run(x_trylock);
    int foreign = x_run(x_unlock);
    int ul = pthread_mutex_unlock(&xm);
    int wu = x_join(w);
    printf("check pi_errorcheck lock=%d relock=%d other_trylock=%d foreign_unlock=%d unlock=%d "
           "waiter=%d,%d\n", lk, relock, tryl, foreign, ul, x_rc, wu);
    pthread_mutex_destroy(&xm);

    /* Adaptive: a held mutex is busy to a trylock, and to a relock by its owner. */
    init_mutex(&xm, PTHREAD_MUTEX_ADAPTIVE_NP, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE,
               PTHREAD_PROCESS_PRIVATE);
    lk = pthread_mutex_lock(&xm);
    w = x_start_waiter();
    int own_try = pthread_mutex_trylock(&xm);
    tryl = x_run(x_trylock);
    ul = pthread_mutex_unlock(&xm);
    wu = x_join(w);
    printf("check adaptive lock=%d owner_trylock=%d other_trylock=%d unlock=%d waiter=%d,%d\n", lk,
           own_try, tryl, ul, x_rc, wu);
    pthread_mutex_destroy(&xm);

    /* Robust PI: the owner dies while a thread waits. */
    init_mutex(&xm, PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ROBUST, PTHREAD_PRIO_INHERIT,
               PTHREAD_PROCESS_PRIVATE);
    lk = pthread_mutex_lock(&xm);
    w = x_start_waiter();
    ul = pthread_mutex_unlock(&xm);
    wu = x_join(w);
    pthread_t d;
    if (pthread_create(&d, NULL, x_die_holding, NULL))
        die("pthread_create");
    await_at_least(&x_held, 1);
    w = x_start_waiter();
    __atomic_store_n(&x_go, 1, __ATOMIC_RELEASE);
    pthread_join(d, NULL);
    wu = x_join(w);
    int after = pthread_mutex_trylock(&xm);
    int after_ul = pthread_mutex_unlock(&xm);
    printf("check robust_pi_owner_died lock=%d unlock=%d waiter=%d,%d then=%d,%d\n", lk, ul, x_rc,
           wu, after, after_ul);
    pthread_mutex_destroy(&xm);
    return 0;
}

int main(int argc, char **argv)
{
    alarm(60);
    if (argc > 1 && strcmp(argv[1], "pshared") == 0) {
        if (argc > 2)
            hold_ms = (unsigned)atoi(argv[2]);
        return pshared_main();
    }
    if (argc > 2 && strcmp(argv[1], "convoy") == 0) {
        int rounds = argc > 3 ? atoi(argv[3]) : 2;
        if (argc > 4)
            hold_ms = (unsigned)atoi(argv[4]);
        return convoy_main(argv[2], rounds);
    }
    if (argc > 1 && strcmp(argv[1], "checks") == 0)
        return checks_main();
    fprintf(stderr, "usage: %s pshared [hold_ms] | convoy KIND [rounds] [hold_ms] | checks\n",
            argv[0]);
    return 2;
}
