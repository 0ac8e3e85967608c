/*
 * threads.c — see threads.h. The view is built in four steps, each from one source:
 *
 *   1. the in-flight table is copied first (inflight.h), then /proc/self/task is listed, so
 *      that an entry whose thread is missing from the listing belongs to a thread that exited
 *      inside its wait (cancelled in sem_wait, pthread_exit from a signal handler) — confirmed
 *      with tgkill(…, 0) and then reaped, since nobody else will ever end it;
 *   2. each thread's /proc/self/task/TID/stat gives its name and kernel state, and for a
 *      thread that is not running, /proc/self/task/TID/syscall the call it sleeps in
 *      (readable for the process's own threads by any user, unlike another process's);
 *   3. holders are read from the lock words (glibc 2.36 x86-64, ABI-public fields), with
 *      process_vm_readv on the own pid so that a lock freed meanwhile reads as an error, not a
 *      fault (/proc/self/mem where a seccomp policy refuses process_vm_readv):
 *        - a mutex (pthread_mutex_* and C11 mtx_*, the same object in glibc): __data.__owner,
 *          which glibc stores for every kind just after acquiring and clears before releasing;
 *          for robust and priority-inheritance kinds the kernel's own record instead, the tid
 *          in __lock (FUTEX_TID_MASK), with FUTEX_OWNER_DIED when the owner died holding it;
 *        - a rwlock: __data.__cur_writer (the writer, set once it holds the lock, cleared
 *          before it releases it); 0 with readers counted in __readers (bits 3 and up) and the
 *          write-phase bit (bit 0) clear means held by readers;
 *      A thread lockprof has no entry for (rates 0, or the table was full) that sleeps in
 *      futex(addr, FUTEX_WAIT[_BITSET], 2) — glibc's lll_lock_wait for the non-robust,
 *      non-PI kinds — on a word that reads 2 inside what is laid out like such a mutex, owned
 *      by one of this process's threads, is shown as held by that thread ("inferred");
 *   4. each waiting thread has at most one holder, so the waits-for graph has out-degree ≤ 1
 *      and its cycles are found by walking it once. A cycle is reported only when it holds up
 *      on a second look: every member still sleeps in futex on its lock, the holders read the
 *      same, and the in-flight entries are the same entries. (One look is not enough: a thread
 *      that has just acquired its lock still has its entry for a few instructions, and reads
 *      as waiting on a lock it holds.)
 *
 * The text format (one line each, fields separated by single spaces, the thread id first):
 *
 *   lockprof threads: pid PID, N threads, W waiting, at YYYY-MM-DDTHH:MM:SSZ
 *   deadlock: TID "NAME" waits for KIND OBJ held by TID "NAME", TID "NAME" waits for … held by TID "NAME"
 *   note: TEXT
 *   thread TID "NAME" STATE [in CALL] [on OBJ] [for SECONDS s] [held by HOLDER]
 *
 * deadlock lines (one per cycle; a thread waiting on a lock it holds itself is a cycle of
 * one) come right after the first line, and only when there is one. KIND is mutex or rwlock.
 * STATE is one of
 *   blocked   lockprof saw it start this wait: CALL is the interposed call, OBJ the object
 *             (0x… an address; "mqd N", "msqid N" for queues), SECONDS the wait so far;
 *   sleeping  the kernel's state S or D: CALL is the system call with its main argument,
 *             e.g. futex(0x…), read(fd 3), nanosleep, or "syscall N";
 *   running, stopped, zombie, dead, other: the kernel's state;
 *   lockprof  one of lockprof's own threads (named "lockprof" or "lockprof-…").
 * HOLDER is TID "NAME", TID (no such thread) for a tid that is not one of this process's
 * threads (a process-shared lock, or a holder that exited), readers (N), nobody, or
 * nobody (owner died). W counts the blocked threads. Names are quoted; a " or \ in them is
 * escaped with \, other bytes outside printable ASCII as \xHH. SECONDS has 6 decimals.
 * When a thread is in nested waits (a signal handler that waits), the innermost is shown.
 * A sleeping thread has "held by" only when its lock was inferred from the futex (step 3).
 * note lines: tracking is off (both rates 0: no blocked threads, only system calls), and how
 * many waits the in-flight table had no room for since start.
 *
 * The JSON format: {"pid":…, "time":"…Z", "tracking":bool, "dropped":N,
 *   "deadlocks":[[{"tid","name","lock","object","holder","inferred"}, …], …],
 *   "threads":[{"tid","name","state","kstate","blocked_in","object","waiting_ns","held",
 *               "holder","holder_name","inferred","syscall","nested"}, …]}
 * with every key present (null when it does not apply); "held" is "thread", "readers",
 * "nobody", "owner_died" or "unknown"; names are JSON strings (valid UTF-8 passes through,
 * any other byte is written as the code point of the same value, \u00XX).
 */
#include "threads.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "event.h"
#include "inflight.h"
#include "log.h"
#include "sys.h"

/* ---- output: a buffer flushed with write(2); the first error is kept ---------------------- */

struct tw {
    int fd;
    int err;
    size_t len;
    char buf[8192];
};

static void tw_flush(struct tw *w)
{
    if (w->len && !w->err)
        w->err = lp_sys_write_all(w->fd, w->buf, w->len);
    w->len = 0;
}

static void tw_put(struct tw *w, const char *s, size_t n)
{
    while (n) {
        if (w->len == sizeof w->buf)
            tw_flush(w);
        size_t k = sizeof w->buf - w->len;
        if (k > n)
            k = n;
        memcpy(w->buf + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
    }
}

static void tw_str(struct tw *w, const char *s)
{
    tw_put(w, s, strlen(s));
}

static void tw_printf(struct tw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tw_printf(struct tw *w, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = lp_vfmt_sigsafe(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    tw_put(w, tmp, n);
}

/* A name in the text format: quoted, printable ASCII as is except " and \. */
static void tw_text_name(struct tw *w, const char *s, size_t n)
{
    tw_put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            tw_printf(w, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            tw_printf(w, "\\x%02x", c);
        else
            tw_put(w, (const char *)&c, 1);
    }
    tw_put(w, "\"", 1);
}

/* The length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (len > n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

static void tw_json_str(struct tw *w, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    tw_put(w, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k;
        if (c == '"' || c == '\\') {
            tw_printf(w, "\\%c", c);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            tw_printf(w, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            tw_put(w, (const char *)&s[i], 1);
            i++;
        } else if ((k = utf8_valid(s + i, n - i)) != 0) {
            tw_put(w, (const char *)&s[i], k);
            i += k;
        } else {
            tw_printf(w, "\\u%04x", c);
            i++;
        }
    }
    tw_put(w, "\"", 1);
}

/* ---- /proc and memory --------------------------------------------------------------------- */

/* Reads a whole small file; its length, or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = lp_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    size_t len = 0;
    while (len < size) {
        ssize_t r = lp_sys_read(fd, buf + len, size - len);
        if (r == -EINTR)
            continue;
        if (r <= 0) {
            lp_sys_close(fd);
            return r < 0 ? r : (ssize_t)len;
        }
        len += (size_t)r;
    }
    lp_sys_close(fd);
    return (ssize_t)len;
}

/* Copies n bytes at addr of this process without faulting on an unmapped address. */
static bool read_mem(const void *addr, void *out, size_t n)
{
    struct iovec local = { out, n }, remote = { (void *)addr, n };
    ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (r == (ssize_t)n)
        return true;
    if (r >= 0 || errno == EFAULT)
        return false;
    /* Refused (a seccomp policy, ENOSYS): the same through /proc/self/mem. */
    int fd = lp_sys_open("/proc/self/mem", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return false;
    r = lp_sys_pread(fd, out, n, (off_t)(uintptr_t)addr);
    lp_sys_close(fd);
    return r == (ssize_t)n;
}

static unsigned long long parse_ull(const char **p, int base)
{
    const char *s = *p;
    unsigned long long v = 0;
    if (base == 16 && s[0] == '0' && s[1] == 'x')
        s += 2;
    for (;; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else
            break;
        v = v * (unsigned)base + (unsigned)d;
    }
    *p = s;
    return v;
}

/* ---- one thread --------------------------------------------------------------------------- */

enum held {
    HELD_NA,        /* not a lock with an owner (condition variable, semaphore, queue, …) */
    HELD_THREAD,    /* holder: a tid */
    HELD_READERS,   /* an rwlock held by readers (holder: how many) */
    HELD_NOBODY,    /* free right now: the waiter is about to get it */
    HELD_OWNER_DIED,/* robust mutex whose owner died holding it */
    HELD_UNKNOWN,   /* cannot tell (the lock is unreadable, or between two states) */
};

enum lock_kind { LOCK_OTHER, LOCK_MUTEX, LOCK_RWLOCK, LOCK_QUEUE_MQ, LOCK_QUEUE_MSG };

struct thr {
    int32_t tid;
    char kstate;            /* the kernel's state letter */
    bool own;               /* one of lockprof's threads */
    bool inferred;          /* the lock and holder come from the futex, not lockprof */
    uint8_t name_len;
    char name[16];
    long sys;               /* the system call it sleeps in; -1 none, -2 not read */
    unsigned long long args[3];
    const struct lp_inflight_entry *wait; /* the innermost wait lockprof knows of, or NULL */
    unsigned nested;        /* other waits in flight under it */
    enum lock_kind kind;
    const void *lock;       /* what the holder was read from (mutex or rwlock), else NULL */
    enum held held;
    int32_t holder;         /* a tid (HELD_THREAD), a count (HELD_READERS) */
    int holder_idx;         /* its index in the view, or -1 */
};

static enum lock_kind kind_of_leaf(const char *leaf)
{
    if (!leaf)
        return LOCK_OTHER;
    if (strncmp(leaf, "pthread_mutex_", 14) == 0 || strncmp(leaf, "mtx_", 4) == 0)
        return LOCK_MUTEX;
    if (strncmp(leaf, "pthread_rwlock_", 15) == 0)
        return LOCK_RWLOCK;
    if (strncmp(leaf, "mq_", 3) == 0)
        return LOCK_QUEUE_MQ;
    if (strcmp(leaf, "msgrcv") == 0)
        return LOCK_QUEUE_MSG;
    return LOCK_OTHER;
}

static const char *kind_word(enum lock_kind k)
{
    return k == LOCK_RWLOCK ? "rwlock" : "mutex";
}

/* glibc's mutex kind bits (pthreadP.h; see interpose/mutexkind.h). */
#define KIND_ROBUST 16
#define KIND_PI 32
#define KIND_PP 64
#define KIND_PSHARED 128
#define KIND_ELISION 256
#define KIND_NO_ELISION 512
#define FUTEX_TID_MASK_ 0x3fffffffu
#define FUTEX_OWNER_DIED_ 0x40000000u
/* glibc's __readers bits (pthread_rwlock_common.c). */
#define RW_WRPHASE 1u
#define RW_READER_SHIFT 3

static void holder_of_mutex(const void *lock, enum held *held, int32_t *holder)
{
    pthread_mutex_t m;
    *held = HELD_UNKNOWN;
    if (!read_mem(lock, &m, sizeof m))
        return;
    unsigned lockword = (unsigned)m.__data.__lock;
    if (m.__data.__kind & (KIND_ROBUST | KIND_PI)) {
        /* The kernel's record: the owner's tid in the lock word. */
        if (lockword & FUTEX_OWNER_DIED_)
            *held = HELD_OWNER_DIED;
        else if ((lockword & FUTEX_TID_MASK_) == 0)
            *held = HELD_NOBODY;
        else
            *held = HELD_THREAD, *holder = (int32_t)(lockword & FUTEX_TID_MASK_);
        return;
    }
    int owner = m.__data.__owner;
    if (owner > 0 && (unsigned)owner <= FUTEX_TID_MASK_)
        *held = HELD_THREAD, *holder = owner;
    else if (lockword == 0)
        *held = HELD_NOBODY;
}

static void holder_of_rwlock(const void *lock, enum held *held, int32_t *holder)
{
    pthread_rwlock_t rw;
    *held = HELD_UNKNOWN;
    if (!read_mem(lock, &rw, sizeof rw))
        return;
    unsigned r = rw.__data.__readers;
    if (rw.__data.__cur_writer > 0)
        *held = HELD_THREAD, *holder = rw.__data.__cur_writer;
    else if (!(r & RW_WRPHASE) && (r >> RW_READER_SHIFT) != 0)
        *held = HELD_READERS, *holder = (int32_t)(r >> RW_READER_SHIFT);
    else if (r == 0)
        *held = HELD_NOBODY;
}

static void read_holder(struct thr *t)
{
    if (t->kind == LOCK_MUTEX)
        holder_of_mutex(t->lock, &t->held, &t->holder);
    else if (t->kind == LOCK_RWLOCK)
        holder_of_rwlock(t->lock, &t->held, &t->holder);
}

/* Fills name and kstate from /proc/self/task/TID/stat: "TID (NAME) S …", NAME up to 15 bytes
 * that may hold anything, ')' included: it ends at the last ')'. False: the thread is gone. */
static bool read_stat(struct thr *t)
{
    char path[64], buf[512];
    lp_fmt_sigsafe(path, sizeof path, "/proc/self/task/%d/stat", t->tid);
    ssize_t n = read_small(path, buf, sizeof buf - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *open_paren = memchr(buf, '(', (size_t)n), *close_paren = NULL;
    for (char *p = buf + n - 1; p > buf; p--)
        if (*p == ')') {
            close_paren = p;
            break;
        }
    if (!open_paren || !close_paren || close_paren < open_paren || close_paren + 2 >= buf + n)
        return false;
    size_t len = (size_t)(close_paren - open_paren - 1);
    if (len > sizeof t->name)
        len = sizeof t->name;
    memcpy(t->name, open_paren + 1, len);
    t->name_len = (uint8_t)len;
    t->kstate = close_paren[2];
    t->own = (len == 8 && memcmp(t->name, "lockprof", 8) == 0) ||
             (len > 9 && memcmp(t->name, "lockprof-", 9) == 0);
    return true;
}

/* /proc/self/task/TID/syscall: "NR ARG0 … ARG5 SP PC" while it sleeps in a system call,
 * "-1 SP PC" when blocked elsewhere, "running" when it runs. */
static void read_syscall(struct thr *t)
{
    char path[64], buf[256];
    lp_fmt_sigsafe(path, sizeof path, "/proc/self/task/%d/syscall", t->tid);
    ssize_t n = read_small(path, buf, sizeof buf - 1);
    t->sys = -1;
    if (n <= 0 || buf[0] < '0' || buf[0] > '9')
        return;
    buf[n] = '\0';
    const char *p = buf;
    t->sys = (long)parse_ull(&p, 10);
    for (int i = 0; i < 3; i++) {
        while (*p == ' ')
            p++;
        t->args[i] = parse_ull(&p, 16);
    }
}

/* A futex wait as glibc's lll_lock_wait does it: futex(addr, FUTEX_WAIT[_BITSET], 2). */
static bool sys_is_mutex_wait(const struct thr *t)
{
    if (t->sys != SYS_futex || t->args[2] != 2)
        return false;
    unsigned op = (unsigned)t->args[1] & ~(128u | 256u); /* PRIVATE_FLAG, CLOCK_REALTIME */
    return op == 0 || op == 9;                            /* FUTEX_WAIT, FUTEX_WAIT_BITSET */
}

/* Does t sleep in futex on a word inside its lock? (A deadlocked thread does, always.) */
static bool sleeps_on_lock(const struct thr *t)
{
    size_t size = t->kind == LOCK_RWLOCK ? sizeof(pthread_rwlock_t) : sizeof(pthread_mutex_t);
    uintptr_t lo = (uintptr_t)t->lock;
    return t->sys == SYS_futex && t->args[0] >= lo && t->args[0] < lo + size;
}

static int find_tid(const struct thr *th, unsigned n, int32_t tid)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (th[mid].tid == tid)
            return (int)mid;
        if (th[mid].tid < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The thread ids in /proc/self/task, sorted; NULL on failure (-errno in *err). */
static int32_t *list_tids(struct lp_arena *a, unsigned *count, int *err)
{
    int fd = lp_sys_open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) {
        *err = fd;
        return NULL;
    }
    unsigned n = 0, cap = 256;
    int32_t *tids = lp_arena_calloc(a, cap, sizeof *tids);
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        long r = lp_sys_getdents64(fd, buf, sizeof buf);
        if (r == -EINTR)
            continue;
        if (r <= 0) {
            if (r < 0)
                *err = (int)r;
            break;
        }
        for (long off = 0; off < r;) {
            /* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            const char *name = buf + off + 19;
            off += reclen;
            if (name[0] < '1' || name[0] > '9')
                continue;
            if (!tids)
                break;
            if (n == cap) {
                int32_t *more = lp_arena_calloc(a, cap * 2, sizeof *tids);
                if (more)
                    memcpy(more, tids, n * sizeof *tids);
                tids = more;
                cap *= 2;
                if (!tids)
                    break;
            }
            const char *p = name;
            tids[n++] = (int32_t)parse_ull(&p, 10);
        }
    }
    lp_sys_close(fd);
    if (!tids) {
        *err = -ENOMEM;
        return NULL;
    }
    /* Shell sort (no qsort: glibc's may malloc). */
    for (unsigned gap = n / 2; gap; gap /= 2)
        for (unsigned i = gap; i < n; i++)
            for (unsigned j = i; j >= gap && tids[j - gap] > tids[j]; j -= gap) {
                int32_t x = tids[j];
                tids[j] = tids[j - gap];
                tids[j - gap] = x;
            }
    *count = n;
    return tids;
}

/* ---- the view ----------------------------------------------------------------------------- */

struct view {
    struct thr *th;
    unsigned n;
    unsigned waiting;
    int *cycle_of;          /* per thread: the index of its cycle's first member, or -1 */
    unsigned cycles;
    uint64_t dropped;
    bool tracking;
    int64_t realtime;
    uint64_t now;
};

static bool same_entry(const struct lp_inflight_entry *a, const struct lp_inflight_entry *e,
                       unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (e[i].slot == a->slot && e[i].seq == a->seq && e[i].tid == a->tid)
            return true;
    return false;
}

/* The second look (see the header comment): true when the cycle through start holds. */
static bool cycle_confirmed(struct view *v, int start, const struct lp_inflight_entry *again,
                            unsigned nagain)
{
    int i = start;
    do {
        struct thr *t = &v->th[i];
        struct thr look = *t;
        read_syscall(&look);
        read_holder(&look);
        if (!sleeps_on_lock(&look) || look.held != HELD_THREAD || look.holder != t->holder)
            return false;
        if (t->wait && !same_entry(t->wait, again, nagain))
            return false;
        i = t->holder_idx;
    } while (i != start);
    return true;
}

static void find_deadlocks(struct view *v, struct lp_arena *a)
{
    int *walk = lp_arena_calloc(a, v->n ? v->n : 1, sizeof *walk);
    v->cycle_of = lp_arena_calloc(a, v->n ? v->n : 1, sizeof *v->cycle_of);
    if (!walk || !v->cycle_of) {
        v->cycle_of = NULL;
        return;
    }
    for (unsigned i = 0; i < v->n; i++)
        v->cycle_of[i] = -1;
    /* Each thread waits for at most one holder: walk each path once, marking it with the
     * walk's number; meeting the current walk's mark again closes a cycle. */
    int starts[64];
    unsigned nstarts = 0;
    for (unsigned i = 0; i < v->n; i++) {
        int j = (int)i;
        while (j >= 0 && walk[j] == 0) {
            walk[j] = (int)i + 1;
            j = v->th[j].held == HELD_THREAD ? v->th[j].holder_idx : -1;
        }
        if (j < 0 || walk[j] != (int)i + 1 || nstarts == sizeof starts / sizeof *starts)
            continue;
        /* Start the cycle at its lowest thread id (th is sorted): stable output. */
        int first = j, k = j;
        do {
            if (k < first)
                first = k;
            k = v->th[k].holder_idx;
        } while (k != j);
        starts[nstarts++] = first;
    }
    if (!nstarts)
        return;
    unsigned cap = lp_inflight_capacity(), nagain = 0;
    struct lp_inflight_entry *again = cap ? lp_arena_calloc(a, cap, sizeof *again) : NULL;
    if (again)
        nagain = lp_inflight_snapshot(again, cap, NULL);
    for (unsigned c = 0; c < nstarts; c++) {
        if (!cycle_confirmed(v, starts[c], again, nagain))
            continue;
        int k = starts[c];
        do {
            v->cycle_of[k] = starts[c];
            k = v->th[k].holder_idx;
        } while (k != starts[c]);
        v->cycles++;
    }
}

static int build_view(struct view *v, struct lp_arena *a)
{
    int err = 0;
    unsigned cap = lp_inflight_capacity(), ne = 0;
    struct lp_inflight_entry *ent = NULL;
    if (cap) {
        ent = lp_arena_calloc(a, cap, sizeof *ent);
        if (!ent)
            return -ENOMEM;
        ne = lp_inflight_snapshot(ent, cap, &v->dropped);
    }
    v->now = lp_now();
    v->realtime = lp_clock_realtime();
    v->tracking = lp_rates_profiling();

    /* After the snapshot (see the header comment). */
    int32_t *tids = list_tids(a, &v->n, &err);
    if (!tids)
        return err;
    v->th = lp_arena_calloc(a, v->n ? v->n : 1, sizeof *v->th);
    if (!v->th)
        return -ENOMEM;
    int32_t self = (int32_t)lp_sys_gettid();
    unsigned n = 0;
    for (unsigned i = 0; i < v->n; i++) {
        struct thr *t = &v->th[n];
        t->tid = tids[i];
        t->sys = -2;
        t->holder_idx = -1;
        if (read_stat(t))
            n++; /* else it exited meanwhile */
        else
            memset(t, 0, sizeof *t);
    }
    v->n = n;

    for (unsigned e = 0; e < ne; e++) {
        int i = find_tid(v->th, n, ent[e].tid);
        if (i < 0) {
            /* Exited inside its wait? Then reap the entry (a live thread may be missing from
             * a listing taken while others exit: ask the kernel). */
            if (lp_sys_tgkill(lp_sys_getpid(), ent[e].tid, 0) == -ESRCH)
                lp_inflight_reap(&ent[e]);
            continue;
        }
        struct thr *t = &v->th[i];
        if (!t->wait || ent[e].start_ns >= t->wait->start_ns) {
            if (t->wait)
                t->nested++;
            t->wait = &ent[e];
        } else {
            t->nested++;
        }
    }

    for (unsigned i = 0; i < n; i++) {
        struct thr *t = &v->th[i];
        if (t->own)
            continue;
        if (t->tid != self && t->kstate != 'R')
            read_syscall(t);
        if (t->wait) {
            v->waiting++;
            t->kind = kind_of_leaf(t->wait->leaf);
            if (t->kind == LOCK_MUTEX || t->kind == LOCK_RWLOCK) {
                t->lock = t->wait->object;
                read_holder(t);
            }
        } else if (sys_is_mutex_wait(t)) {
            /* Inferred: only when the word reads like a waited-on mutex of the plain kinds
             * owned by one of this process's threads. */
            pthread_mutex_t m;
            const void *addr = (const void *)(uintptr_t)t->args[0];
            int kind;
            if (read_mem(addr, &m, sizeof m) && m.__data.__lock == 2 &&
                ((kind = m.__data.__kind) &
                 ~(3 | KIND_PSHARED | KIND_ELISION | KIND_NO_ELISION)) == 0 &&
                m.__data.__owner > 0 && find_tid(v->th, n, m.__data.__owner) >= 0) {
                t->inferred = true;
                t->kind = LOCK_MUTEX;
                t->lock = addr;
                t->held = HELD_THREAD;
                t->holder = m.__data.__owner;
            }
        }
        if (t->held == HELD_THREAD)
            t->holder_idx = find_tid(v->th, n, t->holder);
    }
    find_deadlocks(v, a);
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

static const char *state_word(const struct thr *t)
{
    if (t->own)
        return "lockprof";
    if (t->wait)
        return "blocked";
    switch (t->kstate) {
    case 'R':
        return "running";
    case 'S':
    case 'D':
        return "sleeping";
    case 'T':
    case 't':
        return "stopped";
    case 'Z':
        return "zombie";
    case 'X':
    case 'x':
        return "dead";
    default:
        return "other";
    }
}

/* The system calls a sleeping thread is usually found in, and which argument tells more. */
enum sysarg { ARG_NONE, ARG_ADDR, ARG_FD, ARG_MSQID };

static const char *syscall_name(long nr, enum sysarg *arg)
{
    static const struct {
        long nr;
        const char *name;
        enum sysarg arg;
    } table[] = {
        { SYS_futex, "futex", ARG_ADDR },
        { SYS_read, "read", ARG_FD },
        { SYS_readv, "readv", ARG_FD },
        { SYS_write, "write", ARG_FD },
        { SYS_writev, "writev", ARG_FD },
        { SYS_ppoll, "ppoll", ARG_NONE },
        { SYS_pselect6, "pselect6", ARG_NONE },
        { SYS_epoll_pwait, "epoll_pwait", ARG_FD },
        { SYS_nanosleep, "nanosleep", ARG_NONE },
        { SYS_clock_nanosleep, "clock_nanosleep", ARG_NONE },
        { SYS_accept4, "accept4", ARG_FD },
        { SYS_accept, "accept", ARG_FD },
        { SYS_connect, "connect", ARG_FD },
        { SYS_recvfrom, "recvfrom", ARG_FD },
        { SYS_recvmsg, "recvmsg", ARG_FD },
        { SYS_sendto, "sendto", ARG_FD },
        { SYS_sendmsg, "sendmsg", ARG_FD },
        { SYS_wait4, "wait4", ARG_NONE },
        { SYS_waitid, "waitid", ARG_NONE },
        { SYS_msgrcv, "msgrcv", ARG_MSQID },
        { SYS_mq_timedreceive, "mq_timedreceive", ARG_FD },
        { SYS_mq_timedsend, "mq_timedsend", ARG_FD },
        { SYS_semtimedop, "semtimedop", ARG_NONE },
        { SYS_flock, "flock", ARG_FD },
        { SYS_rt_sigtimedwait, "rt_sigtimedwait", ARG_NONE },
        { SYS_rt_sigsuspend, "rt_sigsuspend", ARG_NONE },
#ifdef SYS_poll
        { SYS_poll, "poll", ARG_NONE },
#endif
#ifdef SYS_select
        { SYS_select, "select", ARG_NONE },
#endif
#ifdef SYS_epoll_wait
        { SYS_epoll_wait, "epoll_wait", ARG_FD },
#endif
#ifdef SYS_pause
        { SYS_pause, "pause", ARG_NONE },
#endif
#ifdef SYS_semop
        { SYS_semop, "semop", ARG_NONE },
#endif
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (table[i].nr == nr) {
            *arg = table[i].arg;
            return table[i].name;
        }
    *arg = ARG_NONE;
    return NULL;
}

/* The object as text: "0x…", "mqd N", "msqid N", "fd N"; "" when there is none. */
static void object_text(const struct thr *t, char *buf, size_t size, const char **call)
{
    buf[0] = '\0';
    *call = NULL;
    if (t->wait) {
        *call = t->wait->leaf;
        uintptr_t o = (uintptr_t)t->wait->object;
        if (t->kind == LOCK_QUEUE_MQ)
            lp_fmt_sigsafe(buf, size, "mqd %d", (int)o);
        else if (t->kind == LOCK_QUEUE_MSG)
            lp_fmt_sigsafe(buf, size, "msqid %d", (int)o);
        else if (o)
            lp_fmt_sigsafe(buf, size, "0x%lx", (unsigned long)o);
        return;
    }
    if (t->sys < 0)
        return;
    enum sysarg arg;
    *call = syscall_name(t->sys, &arg);
    if (arg == ARG_ADDR)
        lp_fmt_sigsafe(buf, size, "0x%llx", t->args[0]);
    else if (arg == ARG_FD)
        lp_fmt_sigsafe(buf, size, "fd %d", (int)t->args[0]);
    else if (arg == ARG_MSQID)
        lp_fmt_sigsafe(buf, size, "msqid %d", (int)t->args[0]);
}

/* "YYYY-MM-DDTHH:MM:SSZ" from ns since the epoch (days to civil date: the proleptic Gregorian
 * calendar in 400-year eras of 146097 days, years starting in March). No gmtime_r: it takes
 * glibc's time zone lock. */
static void iso_time(int64_t ns, char *buf, size_t size)
{
    int64_t secs = ns / 1000000000, days = secs / 86400, rem = secs % 86400;
    if (rem < 0)
        rem += 86400, days--;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                     /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                   /* March = 0 */
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    lp_fmt_sigsafe(buf, size, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", (long long)y,
                   (long long)m, (long long)d, (long long)(rem / 3600),
                   (long long)(rem / 60 % 60), (long long)(rem % 60));
}

static uint64_t waiting_ns(const struct view *v, const struct thr *t)
{
    if (!t->wait || !t->wait->start_ns || t->wait->start_ns > v->now)
        return 0;
    return v->now - t->wait->start_ns;
}

static const char *held_word(enum held h)
{
    switch (h) {
    case HELD_THREAD:
        return "thread";
    case HELD_READERS:
        return "readers";
    case HELD_NOBODY:
        return "nobody";
    case HELD_OWNER_DIED:
        return "owner_died";
    case HELD_UNKNOWN:
        return "unknown";
    default:
        return NULL;
    }
}

static void text_holder(struct tw *w, const struct view *v, const struct thr *t)
{
    switch (t->held) {
    case HELD_THREAD:
        tw_printf(w, " held by %d ", t->holder);
        if (t->holder_idx >= 0)
            tw_text_name(w, v->th[t->holder_idx].name, v->th[t->holder_idx].name_len);
        else
            tw_str(w, "(no such thread)");
        break;
    case HELD_READERS:
        tw_printf(w, " held by readers (%d)", t->holder);
        break;
    case HELD_NOBODY:
        tw_str(w, " held by nobody");
        break;
    case HELD_OWNER_DIED:
        tw_str(w, " held by nobody (owner died)");
        break;
    default:
        break;
    }
}

static void write_text(struct tw *w, const struct view *v)
{
    char when[40];
    iso_time(v->realtime, when, sizeof when);
    tw_printf(w, "lockprof threads: pid %d, %u threads, %u waiting, at %s\n", (int)getpid(),
              v->n, v->waiting, when);
    for (unsigned i = 0; v->cycle_of && i < v->n; i++) {
        if (v->cycle_of[i] != (int)i)
            continue;
        tw_str(w, "deadlock:");
        int k = (int)i;
        do {
            const struct thr *t = &v->th[k], *h = &v->th[t->holder_idx];
            tw_printf(w, "%s %d ", k == (int)i ? "" : ",", t->tid);
            tw_text_name(w, t->name, t->name_len);
            tw_printf(w, " waits for %s %p held by %d ", kind_word(t->kind), t->lock, h->tid);
            tw_text_name(w, h->name, h->name_len);
            k = t->holder_idx;
        } while (k != (int)i);
        tw_str(w, "\n");
    }
    if (!v->tracking)
        tw_str(w, "note: waits are not tracked while LOCKPROF_BLOCK_RATE and "
                  "LOCKPROF_MUTEX_FRACTION are both 0: sleeping threads show their system call\n");
    if (v->dropped)
        tw_printf(w, "note: waits not tracked since start (the in-flight table was full): %llu\n",
                  (unsigned long long)v->dropped);
    for (unsigned i = 0; i < v->n; i++) {
        const struct thr *t = &v->th[i];
        tw_printf(w, "thread %d ", t->tid);
        tw_text_name(w, t->name, t->name_len);
        tw_printf(w, " %s", state_word(t));
        if (!t->own) {
            char obj[48];
            const char *call;
            object_text(t, obj, sizeof obj, &call);
            if (t->wait) {
                tw_printf(w, " in %s", call ? call : "?");
                if (obj[0])
                    tw_printf(w, " on %s", obj);
                uint64_t ns = waiting_ns(v, t);
                if (t->wait->start_ns)
                    tw_printf(w, " for %llu.%06llu s", (unsigned long long)(ns / 1000000000),
                              (unsigned long long)(ns / 1000 % 1000000));
            } else if (call) {
                tw_printf(w, obj[0] ? " in %s(%s)" : " in %s", call, obj);
            } else if (t->sys >= 0) {
                tw_printf(w, " in syscall %ld", t->sys);
            }
            text_holder(w, v, t);
        }
        tw_str(w, "\n");
    }
}

static void json_name_or_null(struct tw *w, const struct view *v, int idx)
{
    if (idx < 0)
        tw_str(w, "null");
    else
        tw_json_str(w, v->th[idx].name, v->th[idx].name_len);
}

static void write_json(struct tw *w, const struct view *v)
{
    char when[40];
    iso_time(v->realtime, when, sizeof when);
    tw_printf(w, "{\"pid\":%d,\"time\":\"%s\",\"tracking\":%s,\"dropped\":%llu,\"deadlocks\":[",
              (int)getpid(), when, v->tracking ? "true" : "false",
              (unsigned long long)v->dropped);
    bool first_cycle = true;
    for (unsigned i = 0; v->cycle_of && i < v->n; i++) {
        if (v->cycle_of[i] != (int)i)
            continue;
        tw_str(w, first_cycle ? "[" : ",[");
        first_cycle = false;
        int k = (int)i;
        do {
            const struct thr *t = &v->th[k];
            tw_printf(w, "%s{\"tid\":%d,\"name\":", k == (int)i ? "" : ",", t->tid);
            tw_json_str(w, t->name, t->name_len);
            tw_printf(w, ",\"lock\":\"%s\",\"object\":\"%p\",\"holder\":%d,\"inferred\":%s}",
                      kind_word(t->kind), t->lock, t->holder, t->inferred ? "true" : "false");
            k = t->holder_idx;
        } while (k != (int)i);
        tw_str(w, "]");
    }
    tw_str(w, "],\"threads\":[");
    for (unsigned i = 0; i < v->n; i++) {
        const struct thr *t = &v->th[i];
        tw_printf(w, "%s{\"tid\":%d,\"name\":", i ? "," : "", t->tid);
        tw_json_str(w, t->name, t->name_len);
        tw_printf(w, ",\"state\":\"%s\",\"kstate\":", state_word(t));
        tw_json_str(w, &t->kstate, 1);
        char obj[48] = "";
        const char *call = NULL;
        if (!t->own)
            object_text(t, obj, sizeof obj, &call);
        tw_str(w, ",\"blocked_in\":");
        if (call)
            tw_json_str(w, call, strlen(call));
        else
            tw_str(w, "null");
        tw_str(w, ",\"object\":");
        if (obj[0])
            tw_json_str(w, obj, strlen(obj));
        else
            tw_str(w, "null");
        if (t->wait && t->wait->start_ns)
            tw_printf(w, ",\"waiting_ns\":%llu", (unsigned long long)waiting_ns(v, t));
        else
            tw_str(w, ",\"waiting_ns\":null");
        const char *held = held_word(t->held);
        if (held)
            tw_printf(w, ",\"held\":\"%s\"", held);
        else
            tw_str(w, ",\"held\":null");
        if (t->held == HELD_THREAD)
            tw_printf(w, ",\"holder\":%d", t->holder);
        else
            tw_str(w, ",\"holder\":null");
        tw_str(w, ",\"holder_name\":");
        json_name_or_null(w, v, t->held == HELD_THREAD ? t->holder_idx : -1);
        tw_printf(w, ",\"inferred\":%s", t->inferred ? "true" : "false");
        if (t->sys >= 0)
            tw_printf(w, ",\"syscall\":%ld", t->sys);
        else
            tw_str(w, ",\"syscall\":null");
        tw_printf(w, ",\"nested\":%u}", t->nested);
    }
    tw_str(w, "]}\n");
}

int lp_threads_write(int fd, struct lp_arena *a, enum lp_threads_format format)
{
    struct view v = { 0 };
    int err = build_view(&v, a);
    if (err)
        return err;
    struct tw w = { .fd = fd };
    if (format == LP_THREADS_JSON)
        write_json(&w, &v);
    else
        write_text(&w, &v);
    tw_flush(&w);
    return a->failed ? -ENOMEM : w.err;
}
