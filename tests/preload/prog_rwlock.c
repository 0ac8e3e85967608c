/*
 * prog_rwlock — read-write lock contention and glibc's rwlock results, as a program sees them
 * (rwlock.t). Usage: prog_rwlock MODE [ROUNDS] [MS]
 *
 *   convoy [rounds] [hold_ms]  a writer holds ~hold_ms while 2 readers and 2 writers wait.
 *       measure rd_wait, rd_count, wr_wait, wr_count: the time spent inside
 *           pthread_rwlock_rdlock (rwconvoy_reader_wait) and _wrlock (rwconvoy_writer_wait)
 *       measure holder_owed: Σ over waiters of (holder's unlock − waiter's call): the charge
 *           of the holder's releases (rwconvoy_holder_release)
 *   turns [rounds] [gap_ms]  3 readers hold, a writer waits (turns_writer_wait), the readers
 *       release one after another (turns_release_0, _1, _2) gap_ms apart.
 *       measure owed_0, owed_1, owed_2: reader i's part of the writer's wait (from the writer's
 *           call, or the previous reader's unlock, to its own unlock)
 *       measure writer_wait: the time the writer spent inside pthread_rwlock_wrlock
 *   prefer_writer [rounds] [hold_ms]  a PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP lock: a
 *       reader holds (pw_holder_release), a writer waits (pw_writer_wait), then 2 new readers
 *       queue behind the writer (pw_reader_wait); the holder releases after hold_ms, the writer
 *       holds hold_ms and releases (pw_writer_release), then the readers get in.
 *       measure writer_wait, reader_wait: the waits, as measured around the calls
 *       measure holder_owed: (holder's unlock − writer's call) + Σ readers (holder's unlock −
 *           reader's call); writer_owed: Σ readers (writer's unlock − holder's unlock)
 *   timed [timeout_ms]  the main thread holds the write lock; another thread calls
 *       timedrdlock, timedwrlock, clockrdlock and clockwrlock in turn (tm_timedrd_wait,
 *       tm_timedwr_wait, tm_clockrd_wait, tm_clockwr_wait), each timing out; then the holder
 *       releases (tm_holder_release).
 *       measure timedrd_wait, timedwr_wait, clockrd_wait, clockwr_wait; holder_owed = their sum
 *       (what those waiters left unpaid: the next release pays it)
 *   errors  EDEADLK (the write owner's own lock calls, errs_owner), EINVAL (bad tv_nsec, bad
 *       clock id; free and held locks, errs_bad_args), the try calls' EBUSY (errs_try).
 *
 * Every mode prints "check NAME RESULT" lines (return codes, errno changes, whether a refused
 * call returned at once) that must be identical with and without a preload, then
 * "measure KEY VALUE" lines, and exits 0 (1 if a lock call the program expects to succeed
 * failed). Every pthread_rwlock_* call goes through E(): errno is set to 12345 before and
 * checked after (the rwlock functions return their error and never set errno).
 * Threads announce themselves and then block; whoever releases first waits until each is
 * asleep (progutil.h), so every announced call really waits. alarm(30): a hang fails.
 */
#include "progutil.h"

#include <errno.h>
#include <signal.h>

#define NOINLINE __attribute__((noinline, noclone))

static int errno_changes, failures;

#define E(call)                                                                                \
    __extension__({                                                                            \
        errno = 12345;                                                                         \
        int rc_ = (call);                                                                      \
        if (errno != 12345)                                                                    \
            __atomic_fetch_add(&errno_changes, 1, __ATOMIC_RELAXED);                           \
        rc_;                                                                                   \
    })

/* A call the program expects to succeed. */
#define OK(call)                                                                               \
    do {                                                                                       \
        if (E(call) != 0)                                                                      \
            __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);                                \
    } while (0)

static int rounds = 3;
static unsigned ms = 50;

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    if (pthread_create(t, NULL, fn, arg))
        die("pthread_create");
}

static void join(pthread_t t)
{
    if (pthread_join(t, NULL))
        die("pthread_join");
}

static void set_at_least(int *word, int value)
{
    __atomic_store_n(word, value, __ATOMIC_RELEASE);
}

static void add(uint64_t *sum, uint64_t v)
{
    __atomic_fetch_add(sum, v, __ATOMIC_RELAXED);
}

static struct timespec deadline(clockid_t clk, unsigned after_ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += after_ms / 1000;
    ts.tv_nsec += (long)(after_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* ---- convoy: a writer holds while readers and writers queue ------------------------------ */

#define CV_READERS 2
#define CV_WAITERS 4 /* readers first, then writers */

static pthread_rwlock_t cv_lock = PTHREAD_RWLOCK_INITIALIZER;
static int cv_round, cv_arrived, cv_finished;
static int cv_tid[CV_WAITERS];
static uint64_t cv_start[CV_WAITERS];
static uint64_t cv_rd_wait, cv_wr_wait, cv_rd_count, cv_wr_count, cv_owed;

static NOINLINE void rwconvoy_holder_release(uint64_t *released)
{
    *released = now_ns();
    OK(pthread_rwlock_unlock(&cv_lock));
}

static void *rwconvoy_holder(void *arg)
{
    (void)arg;
    for (int r = 1; r <= rounds; r++) {
        OK(pthread_rwlock_wrlock(&cv_lock));
        set_at_least(&cv_round, r);
        await_at_least(&cv_arrived, r * CV_WAITERS);
        await_all_asleep(cv_tid, CV_WAITERS);
        sleep_ms(ms);
        uint64_t released;
        rwconvoy_holder_release(&released);
        for (int i = 0; i < CV_WAITERS; i++)
            cv_owed += released - cv_start[i];
        await_at_least(&cv_finished, r * CV_WAITERS);
    }
    return NULL;
}

static uint64_t cv_announce(int id)
{
    uint64_t t0 = now_ns();
    cv_start[id] = t0;
    __atomic_store_n(&cv_tid[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&cv_arrived, 1, __ATOMIC_ACQ_REL);
    return t0;
}

static NOINLINE void rwconvoy_reader_wait(int id)
{
    uint64_t t0 = cv_announce(id);
    OK(pthread_rwlock_rdlock(&cv_lock));
    add(&cv_rd_wait, now_ns() - t0);
    add(&cv_rd_count, 1);
    OK(pthread_rwlock_unlock(&cv_lock));
}

static NOINLINE void rwconvoy_writer_wait(int id)
{
    uint64_t t0 = cv_announce(id);
    OK(pthread_rwlock_wrlock(&cv_lock));
    add(&cv_wr_wait, now_ns() - t0);
    add(&cv_wr_count, 1);
    OK(pthread_rwlock_unlock(&cv_lock));
}

static void *rwconvoy_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&cv_round, r);
        if (id < CV_READERS)
            rwconvoy_reader_wait(id);
        else
            rwconvoy_writer_wait(id);
        __atomic_fetch_add(&cv_finished, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

static void run_convoy(void)
{
    pthread_t h, w[CV_WAITERS];
    start(&h, rwconvoy_holder, NULL);
    for (int i = 0; i < CV_WAITERS; i++)
        start(&w[i], rwconvoy_waiter, (void *)(intptr_t)i);
    join(h);
    for (int i = 0; i < CV_WAITERS; i++)
        join(w[i]);
    printf("check convoy_done rounds=%d\n", rounds);
    measure("rd_wait", cv_rd_wait);
    measure("rd_count", cv_rd_count);
    measure("wr_wait", cv_wr_wait);
    measure("wr_count", cv_wr_count);
    measure("holder_owed", cv_owed);
}

/* ---- turns: readers release in turn while a writer waits --------------------------------- */

#define TN_READERS 3

static pthread_rwlock_t tn_lock = PTHREAD_RWLOCK_INITIALIZER;
static int tn_round, tn_held, tn_turn, tn_released, tn_writer_arrived, tn_writer_done;
static int tn_writer_tid;
static uint64_t tn_rel[TN_READERS], tn_writer_start, tn_writer_wait;

/* One function per reader, so that each reader's charge has a stack of its own. */
#define TURNS_RELEASE(i)                                                                       \
    static NOINLINE void turns_release_##i(void)                                               \
    {                                                                                          \
        tn_rel[i] = now_ns();                                                                  \
        OK(pthread_rwlock_unlock(&tn_lock));                                                   \
    }
TURNS_RELEASE(0)
TURNS_RELEASE(1)
TURNS_RELEASE(2)

static void *turns_reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&tn_round, r);
        OK(pthread_rwlock_rdlock(&tn_lock)); /* free: the writer of the last round is done */
        __atomic_fetch_add(&tn_held, 1, __ATOMIC_ACQ_REL);
        await_at_least(&tn_turn, (r - 1) * TN_READERS + id + 1);
        if (id == 0)
            turns_release_0();
        else if (id == 1)
            turns_release_1();
        else
            turns_release_2();
        __atomic_fetch_add(&tn_released, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

static NOINLINE void turns_writer_wait(void)
{
    uint64_t t0 = now_ns();
    tn_writer_start = t0;
    __atomic_store_n(&tn_writer_tid, thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&tn_writer_arrived, 1, __ATOMIC_ACQ_REL);
    OK(pthread_rwlock_wrlock(&tn_lock));
    tn_writer_wait += now_ns() - t0;
    OK(pthread_rwlock_unlock(&tn_lock));
}

static void *turns_writer(void *arg)
{
    (void)arg;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&tn_held, r * TN_READERS); /* every reader holds the lock */
        turns_writer_wait();
        __atomic_fetch_add(&tn_writer_done, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

static void run_turns(void)
{
    pthread_t rd[TN_READERS], wr;
    uint64_t owed[TN_READERS] = { 0 };
    for (int i = 0; i < TN_READERS; i++)
        start(&rd[i], turns_reader, (void *)(intptr_t)i);
    start(&wr, turns_writer, NULL);
    for (int r = 1; r <= rounds; r++) {
        set_at_least(&tn_round, r);
        await_at_least(&tn_writer_arrived, r);
        await_all_asleep(&tn_writer_tid, 1);
        for (int i = 0; i < TN_READERS; i++) {
            sleep_ms(ms);
            int turn = (r - 1) * TN_READERS + i + 1;
            set_at_least(&tn_turn, turn);
            await_at_least(&tn_released, turn);
        }
        await_at_least(&tn_writer_done, r);
        owed[0] += tn_rel[0] - tn_writer_start;
        for (int i = 1; i < TN_READERS; i++)
            owed[i] += tn_rel[i] - tn_rel[i - 1];
    }
    for (int i = 0; i < TN_READERS; i++)
        join(rd[i]);
    join(wr);
    printf("check turns_done rounds=%d\n", rounds);
    measure("owed_0", owed[0]);
    measure("owed_1", owed[1]);
    measure("owed_2", owed[2]);
    measure("writer_wait", tn_writer_wait);
}

/* ---- prefer_writer: new readers queue behind a waiting writer ---------------------------- */

#define PW_READERS 2

static pthread_rwlock_t pw_lock;
static int pw_round, pw_held, pw_release, pw_writer_arrived, pw_readers_go, pw_readers_arrived;
static int pw_writer_done, pw_readers_done;
static int pw_writer_tid, pw_reader_tid[PW_READERS];
static uint64_t pw_writer_start, pw_reader_start[PW_READERS], pw_holder_rel, pw_writer_rel;
static uint64_t pw_writer_waited, pw_reader_waited;

static NOINLINE void pw_holder_release(void)
{
    pw_holder_rel = now_ns();
    OK(pthread_rwlock_unlock(&pw_lock));
}

static void *pw_holder(void *arg)
{
    (void)arg;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&pw_round, r);
        OK(pthread_rwlock_rdlock(&pw_lock));
        __atomic_fetch_add(&pw_held, 1, __ATOMIC_ACQ_REL);
        await_at_least(&pw_release, r);
        pw_holder_release();
    }
    return NULL;
}

static NOINLINE void pw_writer_release(void)
{
    pw_writer_rel = now_ns();
    OK(pthread_rwlock_unlock(&pw_lock));
}

static NOINLINE void pw_writer_wait(void)
{
    uint64_t t0 = now_ns();
    pw_writer_start = t0;
    __atomic_store_n(&pw_writer_tid, thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&pw_writer_arrived, 1, __ATOMIC_ACQ_REL);
    OK(pthread_rwlock_wrlock(&pw_lock));
    pw_writer_waited += now_ns() - t0;
}

static void *pw_writer(void *arg)
{
    (void)arg;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&pw_held, r);
        pw_writer_wait();
        sleep_ms(ms); /* the new readers wait for this writer now */
        pw_writer_release();
        __atomic_fetch_add(&pw_writer_done, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

static NOINLINE void pw_reader_wait(int id)
{
    uint64_t t0 = now_ns();
    pw_reader_start[id] = t0;
    __atomic_store_n(&pw_reader_tid[id], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&pw_readers_arrived, 1, __ATOMIC_ACQ_REL);
    OK(pthread_rwlock_rdlock(&pw_lock));
    add(&pw_reader_waited, now_ns() - t0);
    OK(pthread_rwlock_unlock(&pw_lock));
}

static void *pw_reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&pw_readers_go, r);
        pw_reader_wait(id);
        __atomic_fetch_add(&pw_readers_done, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

static void run_prefer_writer(void)
{
    pthread_rwlockattr_t a;
    if (pthread_rwlockattr_init(&a) ||
        pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) ||
        pthread_rwlock_init(&pw_lock, &a))
        die("pthread_rwlock_init");
    pthread_t h, w, rd[PW_READERS];
    start(&h, pw_holder, NULL);
    start(&w, pw_writer, NULL);
    for (int i = 0; i < PW_READERS; i++)
        start(&rd[i], pw_reader, (void *)(intptr_t)i);
    uint64_t holder_owed = 0, writer_owed = 0;
    for (int r = 1; r <= rounds; r++) {
        set_at_least(&pw_round, r);
        await_at_least(&pw_writer_arrived, r);
        await_all_asleep(&pw_writer_tid, 1);
        set_at_least(&pw_readers_go, r);
        await_at_least(&pw_readers_arrived, r * PW_READERS);
        await_all_asleep(pw_reader_tid, PW_READERS);
        sleep_ms(ms);
        set_at_least(&pw_release, r);
        await_at_least(&pw_writer_done, r);
        await_at_least(&pw_readers_done, r * PW_READERS);
        holder_owed += pw_holder_rel - pw_writer_start;
        for (int i = 0; i < PW_READERS; i++) {
            holder_owed += pw_holder_rel - pw_reader_start[i];
            writer_owed += pw_writer_rel - pw_holder_rel;
        }
    }
    join(h);
    join(w);
    for (int i = 0; i < PW_READERS; i++)
        join(rd[i]);
    printf("check prefer_writer_done rounds=%d flags=%u\n", rounds, pw_lock.__data.__flags);
    measure("writer_wait", pw_writer_waited);
    measure("reader_wait", pw_reader_waited);
    measure("holder_owed", holder_owed);
    measure("writer_owed", writer_owed);
}

/* ---- timed: the timed and clock variants time out ---------------------------------------- */

static pthread_rwlock_t tm_lock = PTHREAD_RWLOCK_INITIALIZER;
static int tm_done;
static uint64_t tm_waits;

#define TM_WAIT(name, call, clk)                                                               \
    static NOINLINE void tm_##name##_wait(void)                                                \
    {                                                                                          \
        struct timespec ts = deadline(clk, ms);                                                \
        uint64_t t0 = now_ns();                                                                \
        int rc = E(call);                                                                      \
        uint64_t d = now_ns() - t0;                                                            \
        tm_waits += d;                                                                         \
        printf("check timed_%s rc=%d waited_timeout=%d\n", #name, rc, d + 1000000 >= ms * 1000000ull);\
        measure(#name "_wait", d);                                                             \
    }
TM_WAIT(timedrd, pthread_rwlock_timedrdlock(&tm_lock, &ts), CLOCK_REALTIME)
TM_WAIT(timedwr, pthread_rwlock_timedwrlock(&tm_lock, &ts), CLOCK_REALTIME)
TM_WAIT(clockrd, pthread_rwlock_clockrdlock(&tm_lock, CLOCK_MONOTONIC, &ts), CLOCK_MONOTONIC)
TM_WAIT(clockwr, pthread_rwlock_clockwrlock(&tm_lock, CLOCK_REALTIME, &ts), CLOCK_REALTIME)

static void *tm_waiter(void *arg)
{
    (void)arg;
    tm_timedrd_wait();
    tm_timedwr_wait();
    tm_clockrd_wait();
    tm_clockwr_wait();
    fflush(stdout);
    set_at_least(&tm_done, 1);
    return NULL;
}

static NOINLINE void tm_holder_release(void)
{
    OK(pthread_rwlock_unlock(&tm_lock));
}

static void run_timed(void)
{
    OK(pthread_rwlock_wrlock(&tm_lock));
    pthread_t t;
    start(&t, tm_waiter, NULL);
    await_at_least(&tm_done, 1);
    tm_holder_release();
    join(t);
    measure("holder_owed", tm_waits);
}

/* ---- errors: EDEADLK, EINVAL, EBUSY ------------------------------------------------------ */

static pthread_rwlock_t er_lock = PTHREAD_RWLOCK_INITIALIZER;

/* The write owner's own lock calls: EDEADLK (the try calls: EBUSY), EINVAL first. */
static NOINLINE void errs_owner(void)
{
    OK(pthread_rwlock_wrlock(&er_lock));
    struct timespec rt = deadline(CLOCK_REALTIME, 200), mt = deadline(CLOCK_MONOTONIC, 200);
    struct timespec neg = { 0, -1 };
    uint64_t t0 = now_ns();
    int rd = E(pthread_rwlock_rdlock(&er_lock));
    int wr = E(pthread_rwlock_wrlock(&er_lock));
    int trd = E(pthread_rwlock_timedrdlock(&er_lock, &rt));
    int twr = E(pthread_rwlock_timedwrlock(&er_lock, &rt));
    int crd = E(pthread_rwlock_clockrdlock(&er_lock, CLOCK_MONOTONIC, &mt));
    int cwr = E(pthread_rwlock_clockwrlock(&er_lock, CLOCK_REALTIME, &rt));
    int tryrd = E(pthread_rwlock_tryrdlock(&er_lock));
    int trywr = E(pthread_rwlock_trywrlock(&er_lock));
    int twr_neg = E(pthread_rwlock_timedwrlock(&er_lock, &neg));
    int crd_bad = E(pthread_rwlock_clockrdlock(&er_lock, 12345, &mt));
    int quick = now_ns() - t0 < 100000000ull;
    int unlock = E(pthread_rwlock_unlock(&er_lock));
    int after = E(pthread_rwlock_trywrlock(&er_lock));
    OK(pthread_rwlock_unlock(&er_lock));
    printf("check owner_relock rdlock=%d wrlock=%d timedrdlock=%d timedwrlock=%d clockrdlock=%d "
           "clockwrlock=%d tryrdlock=%d trywrlock=%d timedwrlock_nsec_neg=%d clockrdlock_12345=%d "
           "quick=%d unlock=%d then_trywrlock=%d\n",
           rd, wr, trd, twr, crd, cwr, tryrd, trywr, twr_neg, crd_bad, quick, unlock, after);
}

/* Every malformed timed call; "quick" when they all returned well before the valid deadline
 * they would otherwise have waited for. */
static NOINLINE void errs_bad_args(const char *state)
{
    struct timespec neg = { 0, -1 }, big = { 0, 1000000000L };
    struct timespec rt = deadline(CLOCK_REALTIME, 200);
    uint64_t t0 = now_ns();
    int rc[10] = {
        E(pthread_rwlock_timedrdlock(&er_lock, &neg)),
        E(pthread_rwlock_timedrdlock(&er_lock, &big)),
        E(pthread_rwlock_timedwrlock(&er_lock, &neg)),
        E(pthread_rwlock_timedwrlock(&er_lock, &big)),
        E(pthread_rwlock_clockrdlock(&er_lock, CLOCK_PROCESS_CPUTIME_ID, &rt)),
        E(pthread_rwlock_clockrdlock(&er_lock, 12345, &rt)),
        E(pthread_rwlock_clockrdlock(&er_lock, CLOCK_MONOTONIC, &neg)),
        E(pthread_rwlock_clockwrlock(&er_lock, CLOCK_THREAD_CPUTIME_ID, &rt)),
        E(pthread_rwlock_clockwrlock(&er_lock, CLOCK_BOOTTIME, &rt)),
        E(pthread_rwlock_clockwrlock(&er_lock, CLOCK_REALTIME, &big)),
    };
    int quick = now_ns() - t0 < 100000000ull;
    printf("check bad_args_%s rc=%d,%d,%d,%d,%d,%d,%d,%d,%d,%d quick=%d\n", state, rc[0], rc[1],
           rc[2], rc[3], rc[4], rc[5], rc[6], rc[7], rc[8], rc[9], quick);
}

/* The try calls on a lock another thread holds. */
static NOINLINE void errs_try(const char *state)
{
    int rd = E(pthread_rwlock_tryrdlock(&er_lock));
    if (rd == 0)
        OK(pthread_rwlock_unlock(&er_lock));
    int wr = E(pthread_rwlock_trywrlock(&er_lock));
    if (wr == 0)
        OK(pthread_rwlock_unlock(&er_lock));
    printf("check try_%s tryrdlock=%d trywrlock=%d\n", state, rd, wr);
}

static int er_hold_write, er_held, er_release;

static void *errs_holder(void *arg)
{
    (void)arg;
    if (er_hold_write)
        OK(pthread_rwlock_wrlock(&er_lock));
    else
        OK(pthread_rwlock_rdlock(&er_lock));
    set_at_least(&er_held, 1);
    await_at_least(&er_release, 1);
    OK(pthread_rwlock_unlock(&er_lock));
    return NULL;
}

static void errs_held(int write)
{
    pthread_t t;
    er_hold_write = write;
    er_held = er_release = 0;
    start(&t, errs_holder, NULL);
    await_at_least(&er_held, 1);
    errs_bad_args(write ? "write_held" : "read_held");
    errs_try(write ? "write_held" : "read_held");
    set_at_least(&er_release, 1);
    join(t);
}

static void run_errors(void)
{
    errs_owner();
    errs_bad_args("free");
    int wr = E(pthread_rwlock_trywrlock(&er_lock)); /* still free after the refused calls */
    int unlock = E(pthread_rwlock_unlock(&er_lock));
    printf("check free_after_bad_args trywrlock=%d unlock=%d\n", wr, unlock);
    errs_held(1);
    errs_held(0);
}

int main(int argc, char **argv)
{
    alarm(30);
    const char *mode = argc > 1 ? argv[1] : "convoy";
    if (argc > 2)
        rounds = atoi(argv[2]);
    if (argc > 3)
        ms = (unsigned)atoi(argv[3]);
    if (!strcmp(mode, "convoy"))
        run_convoy();
    else if (!strcmp(mode, "turns"))
        run_turns();
    else if (!strcmp(mode, "prefer_writer"))
        run_prefer_writer();
    else if (!strcmp(mode, "timed")) {
        if (argc > 2)
            ms = (unsigned)atoi(argv[2]);
        run_timed();
    } else if (!strcmp(mode, "errors"))
        run_errors();
    else {
        fprintf(stderr, "usage: prog_rwlock convoy|turns|prefer_writer|timed|errors [rounds] [ms]\n");
        return 2;
    }
    printf("check errno_changes %d\n", errno_changes);
    printf("check failures %d\n", failures);
    return failures ? 1 : 0;
}
