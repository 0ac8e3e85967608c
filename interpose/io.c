/*
 * io.c — pipes and queues (DESIGN §2): read, readv, __read_chk and write, writev on the kinds
 * of descriptor LOCKPROF_IO names (pipes, FIFOs, eventfds by default); mq_receive,
 * mq_timedreceive; msgrcv. And the calls that keep the descriptor cache current.
 *
 * msgrcv and mq_receive have a try that is the call itself: msgrcv with IPC_NOWAIT, and
 * mq_timedreceive with a deadline long past (the kernel returns ETIMEDOUT at once when the
 * queue is empty, and never sleeps). A message that is there is the call's result; only an
 * empty queue makes the real call a wait (lp_event_wait_begin/_end, as for a contended lock),
 * whatever it lasts. mq_timedreceive is timed like a read (see its wrapper).
 *
 * Reads and writes on descriptors have no safe try: a non-blocking attempt (RWF_NOWAIT) is
 * harmless on a pipe, but a stale cache entry (below) could aim it at a regular file, where
 * it may return a short read the program would never have seen. So the real call is timed,
 * and it is a wait when it lasted at least the calibrated threshold (lp_event_is_wait) AND
 * the thread slept in it — a voluntary context switch, which the thread counts (io_look
 * below). The duration alone is not enough: copying 60000 bytes through a pipe takes 6-7 µs,
 * interrupts and a preempted vCPU stretch 1-byte reads, and with the threshold alone
 * tests/preload/prog_pipe's "ready" run (reads and writes that never block) recorded 110-170 waits,
 * where this records none.
 *
 * Which descriptor is which comes from core/fdcache (one byte per fd): a read of a regular
 * file or a socket (not in the default LOCKPROF_IO) costs the usual guard, one byte load and
 * the real call — no clock, no syscall. A slow call on a descriptor cached as profiled is
 * classified again (fstat) before it is recorded, so that a number glibc closed and reused
 * behind our back (pclose, freopen) does not put a file's or a socket's reads in the profile.
 *
 * The real call runs with lp_self.busy == 0: every one of these is a cancellation point, and
 * a cancelled thread's cleanup handlers and a signal handler's calls must be profiled like any
 * other code. Nothing is registered across the call (waits on pipes and queues are charged to
 * nobody), so a cancellation leaves nothing behind.
 *
 * __read_chk (read under _FORTIFY_SOURCE) is recorded under the leaf "read": it is the read
 * the program's source wrote, and one call site must not change its name with a compiler flag.
 * Writes are profiled on every kind LOCKPROF_IO names except eventfds: an eventfd write blocks
 * only when the counter would pass 2^64 - 2, and event loops write them all the time.
 * glibc 2.36 implements __read_chk with its internal __libc_read, and mq_receive with its
 * internal mq_timedreceive (disassembled): no call is seen twice.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "fdcache.h"
#include "unwind.h"
#include "wait.h"

ssize_t __read_chk(int, void *, size_t, size_t);

/* The arguments of a read, a write or a receive, beside the descriptor (lp_call.obj). */
struct io_args {
    int fd;                   /* descriptor, mqd_t, or System V queue id */
    void *buf;
    const struct iovec *iov;
    size_t n;                 /* bytes; iovec count */
    size_t buflen;            /* __read_chk */
    unsigned *prio;           /* mq_*receive */
    long type;                /* msgrcv */
    int flags;
};

static inline const struct io_args *io_args(const struct lp_call *c)
{
    return c->more;
}

/* The queue calls that wait after a try (the timed calls have one function each, below). */
static long io_queue_call(const struct lp_call *c)
{
    const struct io_args *a = io_args(c);
    if (c->id == LP_CALL_mq_receive)
        return REAL(mq_receive)(a->fd, a->buf, a->n, a->prio);
    return REAL(msgrcv)(a->fd, a->buf, a->n, a->type, a->flags);
}

/* ---- descriptors: the real call, timed ---------------------------------------------------- */

/*
 * Did the thread sleep in the call? Its voluntary context switches (getrusage RUSAGE_THREAD)
 * are compared with their count when it last looked. Looking costs a syscall, so the thread
 * looks only when a sleep may have happened since — never in a tight loop of calls:
 *   - after a call that lasted at least the threshold and was picked at the block rate (a
 *     wait that would be recorded: io_confirm);
 *   - before a call that starts at least the threshold after its previous timed call ended
 *     (it may have slept in between: poll, a mutex, nanosleep…), and before its first one.
 * A sleep shorter than the threshold (inside a shorter call, or in a shorter gap) can go
 * unseen: a later slow call that did not sleep could then count. Nothing that slept is ever
 * missed. Measured on a pipe ping-pong, looking before every call cost 0.4 µs per call and
 * doubled the cost of a write to a pipe; looking this way costs nothing in a tight loop.
 */
static __thread struct {
    uint64_t last_end; /* when its last timed call returned */
    long nvcsw;        /* voluntary context switches when it last looked; -1 unknown */
    bool have;         /* it has looked (a thread's first timed call looks first) */
} io_self __attribute__((tls_model("initial-exec")));

static void io_look(void)
{
    struct rusage ru;
    io_self.nvcsw = getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nvcsw : -1;
    io_self.have = true;
}

static __attribute__((noinline)) uint64_t io_look_before(void)
{
    struct lp_guard g;
    lp_guard_enter(&g);
    io_look();
    lp_guard_leave(&g);
    return lp_now_nofence();
}

/* Before the call: look after a gap that may have held a sleep (see above). */
static inline uint64_t io_before(uint64_t start)
{
    if (__builtin_expect(lp_lifecycle_restricted(), 0))
        return start; /* no getrusage the program did not call (io_confirm records nothing) */
    uint64_t threshold = __atomic_load_n(&lp_wait_threshold_ns_, __ATOMIC_RELAXED);
    if (__builtin_expect(!io_self.have || lp_clock_elapsed(io_self.last_end, start) >= threshold,
                         0))
        return io_look_before();
    return start;
}

static inline void io_after(uint64_t end)
{
    io_self.last_end = end;
}

/*
 * A call that lasted a wait's length and was picked at the block rate (the checks below cost a
 * syscall each, getrusage and fstat: 220 and 250 ns measured, and at the default rate most
 * short waits are not recorded — a pipe ping-pong paid both on every read, 1.40x its round
 * trip). A call not picked is not looked at: the next look compares with an older count, so a
 * slow call that did not sleep, picked after one that slept and was not, counts as a wait (a
 * copy of tens of KiB, or a preempted read; never a call in a loop that never sleeps).
 */
static bool io_confirm(const struct lp_call *c, long rc, int err)
{
    if (lp_lifecycle_restricted())
        return false; /* the check takes system calls the program did not make */
    long before = io_self.nvcsw;
    io_look();
    /* != rather than >: a fork child's counts start again from 0. EAGAIN is O_NONBLOCK,
     * which never waits, however long the call took. */
    bool slept = before < 0 || io_self.nvcsw < 0 || io_self.nvcsw != before;
    bool on_fd = c->id != LP_CALL_mq_timedreceive;
    return slept && !(rc < 0 && err == EAGAIN) && (!on_fd || lp_fdcache_recheck(io_args(c)->fd));
}

/* One family and one function per call: the real call is direct, with no dispatch on the
 * way to it (a pipe round trip makes four of these calls), and the wrappers' pass-through
 * paths stay free of this one's frame. */
#define IO_TIMED(name, real_call)                                                               \
    static long io_call_##name(const struct lp_call *c)                                        \
    {                                                                                          \
        const struct io_args *a = io_args(c);                                                  \
        return real_call;                                                                      \
    }                                                                                          \
    static const struct lp_timed_family io_timed_family_##name = {                             \
        .id = LP_FAM_IO,                                                                       \
        .call = io_call_##name,                                                                \
        .before = io_before,                                                                   \
        .after = io_after,                                                                     \
        .confirm = io_confirm,                                                                 \
    };                                                                                         \
    static __attribute__((noinline)) ssize_t io_timed_##name(const struct lp_call *c)         \
    {                                                                                          \
        return lp_wait_timed(&io_timed_family_##name, c);                                      \
    }
IO_TIMED(read, REAL(read)(a->fd, a->buf, a->n))
IO_TIMED(readv, REAL(readv)(a->fd, a->iov, (int)a->n))
IO_TIMED(read_chk, REAL(__read_chk)(a->fd, a->buf, a->n, a->buflen))
IO_TIMED(write, REAL(write)(a->fd, a->buf, a->n))
IO_TIMED(writev, REAL(writev)(a->fd, a->iov, (int)a->n))
IO_TIMED(mq_timedreceive, REAL(mq_timedreceive)(a->fd, a->buf, a->n, a->prio, c->ts))

/* ---- queues: a try, then the wait --------------------------------------------------------- */

/* An absolute deadline long past: the kernel's mq_timedreceive returns ETIMEDOUT at once on an
 * empty queue, without sleeping (ipc/mqueue.c: an expired timeout never schedules). */
static const struct timespec io_past = { 0, 0 };

/* The try is the call itself, made so that it cannot sleep: mq_timedreceive with a deadline
 * long past, msgrcv with IPC_NOWAIT (both cancellation points, like the calls). A message that
 * is there, or any error but "empty", is the call's result. */
static long io_queue_try(const struct lp_call *c)
{
    const struct io_args *a = io_args(c);
    if (c->id == LP_CALL_mq_receive) {
        ssize_t rc = REAL(mq_timedreceive)(a->fd, a->buf, a->n, a->prio, &io_past);
        return rc >= 0 || errno != ETIMEDOUT ? rc : LP_WOULD_WAIT;
    }
    ssize_t rc = REAL(msgrcv)(a->fd, a->buf, a->n, a->type, a->flags | IPC_NOWAIT);
    return rc >= 0 || errno != ENOMSG ? rc : LP_WOULD_WAIT;
}

/* The try found the queue empty: the real call is a wait, recorded whatever it lasts. A
 * signal, or the queue removed (EIDRM), ends a wait; other errors come at once. */
static enum lp_wait_outcome io_queue_outcome(const struct lp_call *c, long rc, int err)
{
    (void)c;
    return rc >= 0 || err == EINTR || err == EIDRM ? LP_ACQUIRED : LP_NOT_A_WAIT;
}

static const struct lp_family io_queue_family = {
    .id = LP_FAM_IO,
    .try_ = io_queue_try,
    .call = io_queue_call,
    .outcome = io_queue_outcome,
};

static __attribute__((noinline)) ssize_t io_queue_profiled(const struct lp_call *c)
{
    return lp_wait_run(&io_queue_family, c);
}

/* ---- the wrappers --------------------------------------------------------------------------- */

static __attribute__((noinline)) int8_t io_classify(int fd)
{
    if (lp_lifecycle_restricted())
        return LP_FD_OTHER; /* fstat: a system call the program did not make; not cached */
    struct lp_guard g;
    lp_guard_enter(&g);
    int8_t b = lp_fdcache_classify(fd);
    lp_guard_leave(&g);
    return b;
}

/* fd's cached byte (fdcache.h), classified on first sight. The common answer, "a kind that is
 * not profiled", is one byte load. */
static inline int8_t io_fd_byte(int fd)
{
    int8_t b = lp_fdcache_get(fd);
    return __builtin_expect(b != 0, 1) ? b : io_classify(fd);
}

static inline bool io_reads_profiled(int fd)
{
    return io_fd_byte(fd) < 0;
}

static inline bool io_writes_profiled(int fd)
{
    int8_t b = io_fd_byte(fd);
    return b < 0 && (b & LP_FD_KIND_MASK) != LP_FD_EVENTFD;
}

/* The view shows the descriptor, the mqd_t or the System V queue id. */
#define IO_OBJ(fd) ((void *)(uintptr_t)(unsigned)(fd))

LP_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    if (lp_wrap_passes_block() || !io_reads_profiled(fd)) {
        if (__builtin_expect(lp_self.in_unwind != 0, 0) && lp_unwind_pipe_fd(fd))
            return lp_unwind_read(fd, buf, n); /* libunwind's pipe (unwind.h) */
        return REAL(read)(fd, buf, n);
    }
    struct io_args a = { .fd = fd, .buf = buf, .n = n };
    return io_timed_read(LP_CALL(read, .obj = IO_OBJ(fd), .more = &a));
}

LP_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    if (lp_wrap_passes_block() || !io_reads_profiled(fd))
        return REAL(readv)(fd, iov, cnt);
    struct io_args a = { .fd = fd, .iov = iov, .n = (size_t)cnt };
    return io_timed_readv(LP_CALL(readv, .obj = IO_OBJ(fd), .more = &a));
}

/* The read under _FORTIFY_SOURCE, recorded as "read": it is the read the program's source
 * wrote, and one call site must not change its name with a compiler flag. */
LP_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (lp_wrap_passes_block() || !io_reads_profiled(fd))
        return REAL(__read_chk)(fd, buf, n, buflen);
    struct io_args a = { .fd = fd, .buf = buf, .n = n, .buflen = buflen };
    return io_timed_read_chk(&(const struct lp_call){ .id = LP_CALL___read_chk,
                                                      .leaf = lp_call_leaf[LP_CALL_read],
                                                      .obj = IO_OBJ(fd), .more = &a });
}

LP_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    if (lp_wrap_passes_block() || !io_writes_profiled(fd))
        return REAL(write)(fd, buf, n);
    struct io_args a = { .fd = fd, .buf = (void *)buf, .n = n };
    return io_timed_write(LP_CALL(write, .obj = IO_OBJ(fd), .more = &a));
}

LP_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (lp_wrap_passes_block() || !io_writes_profiled(fd))
        return REAL(writev)(fd, iov, cnt);
    struct io_args a = { .fd = fd, .iov = iov, .n = (size_t)cnt };
    return io_timed_writev(LP_CALL(writev, .obj = IO_OBJ(fd), .more = &a));
}

LP_EXPORT ssize_t mq_receive(mqd_t q, char *buf, size_t n, unsigned *prio)
{
    if (lp_wrap_passes_block() || !lp_fdcache_wants(LP_IO_MQ))
        return REAL(mq_receive)(q, buf, n, prio);
    struct io_args a = { .fd = q, .buf = buf, .n = n, .prio = prio };
    return io_queue_profiled(LP_CALL(mq_receive, .obj = IO_OBJ(q), .more = &a));
}

LP_EXPORT ssize_t mq_timedreceive(mqd_t q, char *restrict buf, size_t n, unsigned *restrict prio,
                                  const struct timespec *restrict ts)
{
    if (lp_wrap_passes_block() || !lp_fdcache_wants(LP_IO_MQ))
        return REAL(mq_timedreceive)(q, buf, n, prio, ts);
    /* No try: the kernel checks the deadline (EINVAL, EFAULT) before the queue, and reading
     * *ts here could fault where the call would not (glibc passes it straight to the kernel
     * on 64-bit). Timed, like a read; a timeout is a wait. */
    struct io_args a = { .fd = q, .buf = buf, .n = n, .prio = prio };
    return io_timed_mq_timedreceive(LP_CALL(mq_timedreceive, .obj = IO_OBJ(q), .ts = ts,
                                            .more = &a));
}

LP_EXPORT ssize_t msgrcv(int id, void *buf, size_t n, long type, int flags)
{
    /* IPC_NOWAIT never waits: no clock. MSG_COPY without IPC_NOWAIT is EINVAL, which adding
     * IPC_NOWAIT for the try would turn into a copy. */
    if (lp_wrap_passes_block() || (flags & (IPC_NOWAIT | MSG_COPY)) ||
        !lp_fdcache_wants(LP_IO_MSG))
        return REAL(msgrcv)(id, buf, n, type, flags);
    struct io_args a = { .fd = id, .buf = buf, .n = n, .type = type, .flags = flags };
    return io_queue_profiled(LP_CALL(msgrcv, .obj = IO_OBJ(id), .more = &a));
}

/* ---- keeping the descriptor cache current ------------------------------------------------
 * Always, ready or not, busy or not: forgetting only ever costs one fstat later. After the
 * real call, so that the old file cannot be classified again in between; close and fclose
 * are cancellation points, so their forget is a cleanup that also runs if the thread is
 * cancelled inside them (Linux frees the number even then). */

static void io_forget_cleanup(const int *fd)
{
    lp_fdcache_forget(*fd);
}

LP_EXPORT int close(int fd)
{
    if (__builtin_expect(lp_self.in_unwind != 0, 0) && lp_unwind_pipe_fd(fd))
        return lp_unwind_close(fd); /* never a descriptor of the program's (unwind.h) */
    int forget __attribute__((cleanup(io_forget_cleanup))) = fd;
    return REAL(close)(forget);
}

LP_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    int rc = REAL(close_range)(first, last, flags);
    if (!(flags & CLOSE_RANGE_CLOEXEC)) /* which closes nothing */
        lp_fdcache_forget_range(first, last);
    return rc;
}

LP_EXPORT void closefrom(int low)
{
    REAL(closefrom)(low);
    lp_fdcache_forget_range(low < 0 ? 0 : (unsigned)low, UINT_MAX);
}

LP_EXPORT int dup2(int fd, int to)
{
    int rc = REAL(dup2)(fd, to);
    lp_fdcache_forget(to);
    return rc;
}

LP_EXPORT int dup3(int fd, int to, int flags)
{
    int rc = REAL(dup3)(fd, to, flags);
    lp_fdcache_forget(to);
    return rc;
}

LP_EXPORT int fclose(FILE *fp)
{
    int fd = -1;
    if (fp && lp_fdcache_size_) {
        struct lp_guard g;
        lp_guard_enter(&g);
        fd = fileno(fp); /* -1 (EBADF) for a stream without a descriptor */
        lp_guard_leave(&g);
    }
    int forget __attribute__((cleanup(io_forget_cleanup))) = fd;
    return REAL(fclose)(fp);
}
