/*
 * unit_threads.c — the in-flight table (core/inflight.c) and the threads view (core/threads.c),
 * in-process, without the preload: the test's threads call lp_inflight_begin just before they
 * block, as the wrappers do.
 *
 * The table: concurrent begin/end against a reader that must never see a torn entry; nested
 * entries of one thread; drops counted when the probe finds no room; reaping.
 * The view: a two-thread deadlock and a self-deadlock (reported at the top), a thread waiting
 * on a mutex held by the main thread (holder and the wait so far, bracketed by the test's own
 * measurements), PI and robust mutexes (holder from the lock word), rwlocks held by a writer
 * and by readers, a condition variable, a mutex wait lockprof has no entry for (inferred from
 * the futex), a pipe read (the system call and its descriptor), lockprof's own thread, an odd
 * thread name, and an entry whose thread exited inside its wait (reaped). The JSON form is
 * checked by perl's core JSON::PP. The deadlocked threads are never released: _exit at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "clock.h"
#include "inflight.h"
#include "tap.h"
#include "threads.h"

static int32_t gettid_(void)
{
    return (int32_t)syscall(SYS_gettid);
}

/* ---- the table ----------------------------------------------------------------------------- */

static const char *const leaves[4] = { "pthread_mutex_lock", "pthread_cond_wait", "sem_wait",
                                       "pthread_rwlock_wrlock" };
static atomic_bool stress_stop;
static atomic_ulong stress_begins;

/* object and start_ns are derived from leaf, tid and the iteration: a torn copy shows. */
static void *stress_writer(void *arg)
{
    (void)arg;
    int32_t tid = gettid_();
    for (uint32_t i = 0; !atomic_load(&stress_stop); i++) {
        const char *leaf = leaves[i % 4];
        uint64_t start = (uint64_t)tid << 32 | i;
        int h = lp_inflight_begin(tid, leaf, (const char *)leaf + (i & 0xffff) * 8, start);
        int h2 = -1;
        if (i % 7 == 0) { /* a nested wait (a signal handler's) */
            const char *leaf2 = leaves[(i + 1) % 4];
            h2 = lp_inflight_begin(tid, leaf2, leaf2 + ((i + 1) & 0xffff) * 8, start + 1);
        }
        lp_inflight_end(h2);
        lp_inflight_end(h);
        atomic_fetch_add(&stress_begins, 1);
    }
    return NULL;
}

static bool entry_consistent(const struct lp_inflight_entry *e)
{
    bool leaf_ok = false;
    for (int k = 0; k < 4; k++)
        leaf_ok |= e->leaf == leaves[k];
    return leaf_ok && (uint32_t)(e->start_ns >> 32) == (uint32_t)e->tid &&
           (const char *)e->object == e->leaf + (e->start_ns & 0xffff) * 8;
}

static void test_table(void)
{
    enum { WRITERS = 6 };
    pthread_t w[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&w[i], NULL, stress_writer, NULL);
    struct lp_inflight_entry snap[64];
    unsigned long snaps = 0, seen = 0, torn = 0;
    uint64_t t0 = lp_clock_monotonic();
    while (lp_clock_monotonic() - t0 < 1500000000ull) {
        unsigned n = lp_inflight_snapshot(snap, 64, NULL);
        snaps++;
        seen += n;
        for (unsigned i = 0; i < n; i++)
            if (!entry_consistent(&snap[i])) {
                if (torn++ == 0)
                    diag("torn: tid %d leaf %p object %p start %llx", snap[i].tid,
                         (void *)snap[i].leaf, snap[i].object, (unsigned long long)snap[i].start_ns);
            }
    }
    atomic_store(&stress_stop, true);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    diag("%lu snapshots, %lu entries seen, %lu begin/end pairs", snaps, seen,
         atomic_load(&stress_begins));
    cmp_ok_u64(seen, ">", 1000, "the reader saw entries in flight");
    is_u64(torn, 0, "no snapshot showed a torn entry");
    is_u64(lp_inflight_snapshot(snap, 64, NULL), 0, "every entry ended");

    /* One thread's nested waits: each takes another slot of its probe range, until none. */
    uint64_t d0, d1;
    lp_inflight_snapshot(snap, 64, &d0);
    int h[LP_INFLIGHT_PROBE + 1];
    int taken = 0;
    for (int i = 0; i <= LP_INFLIGHT_PROBE; i++) {
        h[i] = lp_inflight_begin(4242, "sem_wait", NULL, (uint64_t)i + 1);
        taken += h[i] >= 0;
    }
    unsigned n = lp_inflight_snapshot(snap, 64, &d1);
    is_i64(taken, LP_INFLIGHT_PROBE, "a tid takes at most %d slots", LP_INFLIGHT_PROBE);
    is_i64(h[LP_INFLIGHT_PROBE], -1, "the next begin finds no room");
    is_u64(d1 - d0, 1, "and is counted as dropped");
    is_u64(n, LP_INFLIGHT_PROBE, "the snapshot shows every nested entry");
    for (int i = 0; i <= LP_INFLIGHT_PROBE; i++)
        lp_inflight_end(h[i]);
    is_u64(lp_inflight_snapshot(snap, 64, NULL), 0, "all ended");

    /* Reaping takes exactly the entry it was given. */
    int a = lp_inflight_begin(777, "sem_wait", NULL, 1);
    lp_inflight_snapshot(snap, 64, NULL);
    struct lp_inflight_entry old = snap[0];
    lp_inflight_end(a);
    int b = lp_inflight_begin(777, "sem_wait", NULL, 2);
    ok(!lp_inflight_reap(&old), "an ended entry is not reaped (its slot was reused)");
    is_u64(lp_inflight_snapshot(snap, 64, NULL), 1, "the new entry is still there");
    ok(lp_inflight_reap(&snap[0]), "the current entry is reaped");
    is_u64(lp_inflight_snapshot(snap, 64, NULL), 0, "and gone");
    (void)b; /* reaped: never ended */
}

/* ---- the view ------------------------------------------------------------------------------ */

static pthread_mutex_t mA = PTHREAD_MUTEX_INITIALIZER, mB = PTHREAD_MUTEX_INITIALIZER,
                       mC = PTHREAD_MUTEX_INITIALIZER, mD = PTHREAD_MUTEX_INITIALIZER,
                       mE = PTHREAD_MUTEX_INITIALIZER, mcv = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mPI, mRobust;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t rw1 = PTHREAD_RWLOCK_INITIALIZER, rw2 = PTHREAD_RWLOCK_INITIALIZER;
static int pipe_r[2], pipe_w[2], pipe_own[2];
static sem_t dl_a_locked, dl_b_locked, rw_writer_holds;
static int32_t tid_of[16];
static uint64_t waiter_start;

enum { T_DLA, T_DLB, T_WAITER, T_PIPE, T_COND, T_RWRD, T_RWWR, T_PI, T_ROBUST, T_INFER,
       T_SELF, T_RWWRITER, T_OWN, T_ODD, T_STALE, T_COUNT };

static const char odd_name[] = "q\"\\\n\xc3\xa9\xff-x"; /* quote, backslash, newline, é, bad byte */

static void timed_lock(pthread_mutex_t *m, const char *leaf)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 600;
    lp_inflight_begin(gettid_(), leaf, m, lp_now());
    pthread_mutex_timedlock(m, &ts); /* never returns before _exit */
}

static void *thr_main(void *arg)
{
    int which = (int)(intptr_t)arg;
    static const char *names[T_COUNT] = {
        "dl-a", "dl-b", "waiter", "pipe-reader", "cond", "rw-rd", "rw-wr", "pi", "robust",
        "infer", "self-dl", "rw-writer", "lockprof-http", odd_name, "stale",
    };
    pthread_setname_np(pthread_self(), names[which]);
    int32_t tid = gettid_();
    __atomic_store_n(&tid_of[which], tid, __ATOMIC_RELEASE);
    char c;
    switch (which) {
    case T_DLA:
        pthread_mutex_lock(&mA);
        sem_post(&dl_a_locked);
        sem_wait(&dl_b_locked);
        timed_lock(&mB, "pthread_mutex_timedlock");
        break;
    case T_DLB:
        pthread_mutex_lock(&mB);
        sem_post(&dl_b_locked);
        sem_wait(&dl_a_locked);
        timed_lock(&mA, "pthread_mutex_timedlock");
        break;
    case T_WAITER: {
        uint64_t t0 = lp_now();
        __atomic_store_n(&waiter_start, t0, __ATOMIC_RELEASE);
        int h = lp_inflight_begin(tid, "pthread_mutex_lock", &mC, t0);
        pthread_mutex_lock(&mC);
        lp_inflight_end(h);
        pthread_mutex_unlock(&mC);
        break;
    }
    case T_PIPE:
    case T_OWN:
        read(which == T_PIPE ? pipe_r[0] : pipe_own[0], &c, 1);
        break;
    case T_COND:
        pthread_mutex_lock(&mcv);
        lp_inflight_begin(tid, "pthread_cond_wait", &cv, lp_now());
        for (;;)
            pthread_cond_wait(&cv, &mcv);
    case T_RWRD:
        sem_wait(&rw_writer_holds);
        lp_inflight_begin(tid, "pthread_rwlock_rdlock", &rw1, lp_now());
        pthread_rwlock_rdlock(&rw1);
        break;
    case T_RWWR:
        lp_inflight_begin(tid, "pthread_rwlock_wrlock", &rw2, lp_now());
        pthread_rwlock_wrlock(&rw2);
        break;
    case T_PI:
        timed_lock(&mPI, "pthread_mutex_lock");
        break;
    case T_ROBUST:
        timed_lock(&mRobust, "pthread_mutex_lock");
        break;
    case T_INFER:
        pthread_mutex_lock(&mD); /* no entry: lockprof would not know of this wait */
        break;
    case T_SELF:
        pthread_mutex_lock(&mE);
        timed_lock(&mE, "pthread_mutex_lock"); /* a normal mutex, locked twice */
        break;
    case T_RWWRITER:
        pthread_rwlock_wrlock(&rw1);
        sem_post(&rw_writer_holds);
        read(pipe_w[0], &c, 1);
        break;
    case T_ODD:
        read(pipe_r[0], &c, 1);
        break;
    case T_STALE:
        /* Exits inside its "wait" (as a cancelled sem_wait would): the view reaps it. */
        lp_inflight_begin(tid, "sem_wait", NULL, lp_now());
        pthread_exit(NULL);
    }
    return NULL;
}

/* /proc/self/task/TID/syscall: the call it sleeps in and its first argument. */
static bool sleeping_in(int32_t tid, long nr, uintptr_t lo, uintptr_t hi)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    long got;
    unsigned long arg0;
    if (sscanf(buf, "%ld %lx", &got, &arg0) != 2 || got != nr)
        return false;
    return lo == hi || (arg0 >= lo && arg0 < hi);
}

static void wait_sleeping(int which, long nr, const void *obj, size_t size)
{
    uint64_t t0 = lp_clock_monotonic();
    int32_t tid;
    while (!(tid = __atomic_load_n(&tid_of[which], __ATOMIC_ACQUIRE)))
        usleep(1000);
    while (!sleeping_in(tid, nr, (uintptr_t)obj, (uintptr_t)obj + size)) {
        if (lp_clock_monotonic() - t0 > 20000000000ull) {
            diag("thread %d (%d) never slept in syscall %ld", which, tid, nr);
            return;
        }
        usleep(1000);
    }
}

static char *view(enum lp_threads_format format, size_t *len)
{
    int fd = memfd_create("view", 0);
    struct lp_arena a;
    lp_arena_init(&a, 0);
    int rc = lp_threads_write(fd, &a, format);
    if (rc)
        diag("lp_threads_write: %d", rc);
    lp_arena_destroy(&a);
    off_t size = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)size + 1);
    pread(fd, buf, (size_t)size, 0);
    close(fd);
    *len = (size_t)size;
    return buf;
}

/* The line that begins with prefix (NULL: none), NUL-terminated in a static buffer. */
static const char *line_with(const char *text, const char *prefix)
{
    static char line[1024];
    size_t pl = strlen(prefix);
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n >= pl && memcmp(p, prefix, pl) == 0) {
            if (n >= sizeof line)
                n = sizeof line - 1;
            memcpy(line, p, n);
            line[n] = '\0';
            return line;
        }
        p += n + (e != NULL);
    }
    return NULL;
}

static const char *thread_line(const char *text, int which)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "thread %d ", tid_of[which]);
    const char *l = line_with(text, prefix);
    if (!l)
        diag("no line for thread %d", tid_of[which]);
    return l ? l : "";
}

static bool has(const char *hay, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool has(const char *hay, const char *fmt, ...)
{
    char needle[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(needle, sizeof needle, fmt, ap);
    va_end(ap);
    bool r = strstr(hay, needle) != NULL;
    if (!r)
        diag("'%s' not in '%s'", needle, hay);
    return r;
}

/* waiting_ns of tid in the JSON form. */
static uint64_t json_waiting(const char *json, int32_t tid)
{
    char key[32];
    snprintf(key, sizeof key, "{\"tid\":%d,", tid);
    const char *threads = strstr(json, "\"threads\":");
    const char *p = threads ? strstr(threads, key) : NULL;
    p = p ? strstr(p, "\"waiting_ns\":") : NULL;
    return p ? strtoull(p + 13, NULL, 10) : 0;
}

static const char json_check[] =
    "use strict; use JSON::PP; local $/; my $j = decode_json(<STDIN>);\n"
    "my ($main, $da, $db, $w, $self, $odd) = @ARGV;\n"
    "my %t = map { $_->{tid} => $_ } @{$j->{threads}};\n"
    "sub fail { print STDERR \"json: @_\\n\"; exit 1 }\n"
    "$j->{pid} == $main or fail('pid');\n"
    "$t{$w}{holder} == $main or fail('holder of waiter');\n"
    "$t{$w}{state} eq 'blocked' && $t{$w}{blocked_in} eq 'pthread_mutex_lock' or fail('waiter');\n"
    "$t{$main}{name} eq 'unit-main' or fail('main name');\n"
    "$t{$odd}{name} eq \"q\\\"\\\\\\n\\x{e9}\\x{ff}-x\" or fail('odd name ', $t{$odd}{name});\n"
    "my @c = map { my $c = $_; join ',', sort { $a <=> $b } map { $_->{tid} } @$c } @{$j->{deadlocks}};\n"
    "my $pair = join ',', sort { $a <=> $b } $da, $db;\n"
    "grep({ $_ eq $pair } @c) or fail('cycle a-b: ', @c);\n"
    "grep({ $_ eq $self } @c) or fail('self cycle: ', @c);\n"
    "@c == 2 or fail('cycles: ', scalar @c);\n"
    "for my $x (@{$j->{threads}}) { exists $x->{$_} or fail(\"key $_\") for\n"
    "qw(tid name state kstate blocked_in object waiting_ns held holder holder_name inferred\n"
    "syscall nested) }\n"
    "exit 0;\n";

int main(void)
{
    pthread_setname_np(pthread_self(), "unit-main");
    ok(lp_inflight_init(64) == 0, "lp_inflight_init");
    is_u64(lp_inflight_capacity(), 64, "64 slots");
    test_table();

    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_setprotocol(&at, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&mPI, &at);
    pthread_mutexattr_init(&at);
    pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&mRobust, &at);
    if (pipe(pipe_r) || pipe(pipe_w) || pipe(pipe_own))
        return 1;
    sem_init(&dl_a_locked, 0, 0);
    sem_init(&dl_b_locked, 0, 0);
    sem_init(&rw_writer_holds, 0, 0);
    int32_t main_tid = gettid_();
    pthread_mutex_lock(&mC);
    pthread_mutex_lock(&mD);
    pthread_mutex_lock(&mPI);
    pthread_mutex_lock(&mRobust);
    pthread_rwlock_rdlock(&rw2);

    pthread_t th[T_COUNT];
    for (int i = 0; i < T_COUNT; i++)
        pthread_create(&th[i], NULL, thr_main, (void *)(intptr_t)i);
    pthread_join(th[T_STALE], NULL);
    wait_sleeping(T_DLA, SYS_futex, &mB, sizeof mB);
    wait_sleeping(T_DLB, SYS_futex, &mA, sizeof mA);
    wait_sleeping(T_WAITER, SYS_futex, &mC, sizeof mC);
    wait_sleeping(T_PIPE, SYS_read, 0, 0);
    wait_sleeping(T_COND, SYS_futex, &cv, sizeof cv);
    wait_sleeping(T_RWRD, SYS_futex, &rw1, sizeof rw1);
    wait_sleeping(T_RWWR, SYS_futex, &rw2, sizeof rw2);
    wait_sleeping(T_PI, SYS_futex, &mPI, sizeof mPI);
    wait_sleeping(T_ROBUST, SYS_futex, &mRobust, sizeof mRobust);
    wait_sleeping(T_INFER, SYS_futex, &mD, sizeof mD);
    wait_sleeping(T_SELF, SYS_futex, &mE, sizeof mE);
    wait_sleeping(T_RWWRITER, SYS_read, 0, 0);
    wait_sleeping(T_OWN, SYS_read, 0, 0);
    wait_sleeping(T_ODD, SYS_read, 0, 0);

    /* The text form. */
    uint64_t before = lp_now() - __atomic_load_n(&waiter_start, __ATOMIC_ACQUIRE);
    size_t len;
    char *text = view(LP_THREADS_TEXT, &len);
    uint64_t after = lp_now() - __atomic_load_n(&waiter_start, __ATOMIC_ACQUIRE);
    diag("the view (%zu bytes):", len);
    for (char *p = text; *p;) {
        char *e = strchr(p, '\n');
        diag("  %.*s", (int)(e ? e - p : (long)strlen(p)), p);
        p = e ? e + 1 : p + strlen(p);
    }
    char head[64];
    snprintf(head, sizeof head, "lockprof threads: pid %d, ", (int)getpid());
    ok(strncmp(text, head, strlen(head)) == 0, "the first line names the pid");
    ok(has(text, ", 9 waiting, at 20"), "9 waiting, and the time");
    ok(strncmp(strchr(text, '\n') + 1, "deadlock: ", 10) == 0, "deadlock right at the top");
    char dl[256];
    snprintf(dl, sizeof dl, "deadlock: %d \"dl-a\" waits for mutex %p held by %d \"dl-b\", "
             "%d \"dl-b\" waits for mutex %p held by %d \"dl-a\"",
             tid_of[T_DLA], (void *)&mB, tid_of[T_DLB], tid_of[T_DLB], (void *)&mA, tid_of[T_DLA]);
    if (tid_of[T_DLB] < tid_of[T_DLA])
        snprintf(dl, sizeof dl, "deadlock: %d \"dl-b\" waits for mutex %p held by %d \"dl-a\", "
                 "%d \"dl-a\" waits for mutex %p held by %d \"dl-b\"",
                 tid_of[T_DLB], (void *)&mA, tid_of[T_DLA], tid_of[T_DLA], (void *)&mB,
                 tid_of[T_DLB]);
    ok(has(text, "%s\n", dl), "the two-thread cycle, named once");
    ok(has(text, "deadlock: %d \"self-dl\" waits for mutex %p held by %d \"self-dl\"\n",
           tid_of[T_SELF], (void *)&mE, tid_of[T_SELF]), "the self-deadlock: a cycle of one");
    const char *l = thread_line(text, T_WAITER);
    ok(has(l, "\"waiter\" blocked in pthread_mutex_lock on %p for ", (void *)&mC),
       "the waiter: call and mutex");
    ok(has(l, " held by %d \"unit-main\"", main_tid), "held by the main thread");
    double secs = strtod(strstr(l, " for ") + 5, NULL);
    ok(secs * 1e9 >= (double)before - 1000 && secs * 1e9 <= (double)after,
       "wait so far %.6f s within [%.6f, %.6f]", secs, before / 1e9, after / 1e9);
    ok(has(thread_line(text, T_PIPE), "\"pipe-reader\" sleeping in read(fd %d)", pipe_r[0]),
       "the pipe reader: read and its fd");
    l = thread_line(text, T_COND);
    ok(has(l, "blocked in pthread_cond_wait on %p for ", (void *)&cv) && !strstr(l, "held by"),
       "the condition variable: no holder");
    ok(has(thread_line(text, T_RWRD), "blocked in pthread_rwlock_rdlock on %p for ", (void *)&rw1)
       && has(thread_line(text, T_RWRD), "held by %d \"rw-writer\"", tid_of[T_RWWRITER]),
       "rwlock: held by its writer");
    ok(has(thread_line(text, T_RWWR), "held by readers (1)"), "rwlock: held by readers");
    ok(has(thread_line(text, T_PI), "held by %d \"unit-main\"", main_tid), "PI mutex: holder");
    ok(has(thread_line(text, T_ROBUST), "held by %d \"unit-main\"", main_tid),
       "robust mutex: holder");
    ok(has(thread_line(text, T_INFER), "\"infer\" sleeping in futex(%p) held by %d \"unit-main\"",
           (void *)&mD, main_tid), "a wait without an entry: inferred from the futex");
    ok(has(thread_line(text, T_OWN), "\"lockprof-http\" lockprof"), "lockprof's own thread");
    ok(has(thread_line(text, T_ODD), "\"q\\\"\\\\\\x0a\\xc3\\xa9\\xff-x\" sleeping"),
       "an odd name, escaped on one line");
    ok(has(text, "note: waits are not tracked"), "a note says tracking is off");
    char stale[32];
    snprintf(stale, sizeof stale, "thread %d ", tid_of[T_STALE]);
    ok(!line_with(text, stale), "an exited thread is not listed");
    struct lp_inflight_entry snap[64];
    unsigned n = lp_inflight_snapshot(snap, 64, NULL);
    bool reaped = true;
    for (unsigned i = 0; i < n; i++)
        reaped &= snap[i].tid != tid_of[T_STALE];
    ok(reaped, "its entry was reaped");
    unsigned lines = 0, nthreads = 0;
    for (const char *p = text; (p = strstr(p, "\nthread ")); p++)
        lines++;
    sscanf(text + strlen(head), "%u threads", &nthreads);
    is_u64(lines, nthreads, "one line per thread");
    cmp_ok_u64(nthreads, ">=", T_COUNT, "every thread listed");

    /* The JSON form. */
    before = lp_now() - __atomic_load_n(&waiter_start, __ATOMIC_ACQUIRE);
    char *json = view(LP_THREADS_JSON, &len);
    after = lp_now() - __atomic_load_n(&waiter_start, __ATOMIC_ACQUIRE);
    uint64_t w = json_waiting(json, tid_of[T_WAITER]);
    ok(w >= before && w <= after, "waiting_ns %llu within [%llu, %llu]", (unsigned long long)w,
       (unsigned long long)before, (unsigned long long)after);
    char path[] = "/tmp/unit_threads.XXXXXX", script[] = "/tmp/unit_threads_pl.XXXXXX";
    int fd = mkstemp(path), sfd = mkstemp(script);
    if (write(fd, json, len) != (ssize_t)len ||
        write(sfd, json_check, sizeof json_check - 1) != (ssize_t)sizeof json_check - 1)
        diag("cannot write %s or %s", path, script);
    close(fd);
    close(sfd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "perl %s %d %d %d %d %d %d < %s", script, main_tid, tid_of[T_DLA],
             tid_of[T_DLB], tid_of[T_WAITER], tid_of[T_SELF], tid_of[T_ODD], path);
    int rc = system(cmd);
    ok(rc == 0, "JSON::PP parses the JSON, and it says the same");
    if (rc != 0)
        diag("%s", json);
    unlink(path);
    unlink(script);

    /* The waiter gets its mutex and leaves the table. */
    pthread_mutex_unlock(&mC);
    pthread_join(th[T_WAITER], NULL);
    n = lp_inflight_snapshot(snap, 64, NULL);
    bool gone = true;
    for (unsigned i = 0; i < n; i++)
        gone &= snap[i].tid != tid_of[T_WAITER];
    ok(gone, "an ended wait leaves the table");
    fflush(stdout);
    _exit(done_testing());
}
