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
 * tests/prog_pipe's "ready" run (reads and writes that never block) recorded 110-170 waits,
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

#include "clock.h"
#include "config.h"
#include "event.h"
#include "fdcache.h"
#include "resolve.h"
#include "unwind.h"

ssize_t __read_chk(int, void *, size_t, size_t);

static const char leaf_read[] = "read";
static const char leaf_readv[] = "readv";
static const char leaf_write[] = "write";
static const char leaf_writev[] = "writev";
static const char leaf_mq_receive[] = "mq_receive";
static const char leaf_mq_timedreceive[] = "mq_timedreceive";
static const char leaf_msgrcv[] = "msgrcv";

enum io_op {
    IO_READ, IO_READV, IO_READ_CHK, IO_WRITE, IO_WRITEV,
    IO_MQ_RECEIVE, IO_MQ_TIMEDRECEIVE, IO_MSGRCV,
};

struct io_call {
    enum io_op op;
    bool on_fd;      /* a descriptor the cache classified: re-checked before recording */
    int fd;          /* descriptor, mqd_t, or System V queue id */
    void *buf;
    const struct iovec *iov;
    size_t n;        /* bytes; iovec count */
    size_t buflen;   /* __read_chk */
    unsigned *prio;  /* mq_*receive */
    const struct timespec *ts;
    long type;       /* msgrcv */
    int flags;
};

static inline __attribute__((always_inline)) ssize_t io_real(enum io_op op,
                                                              const struct io_call *c)
{
    switch (op) {
    case IO_READ:
        return REAL(read)(c->fd, c->buf, c->n);
    case IO_READV:
        return REAL(readv)(c->fd, c->iov, (int)c->n);
    case IO_READ_CHK:
        return REAL(__read_chk)(c->fd, c->buf, c->n, c->buflen);
    case IO_WRITE:
        return REAL(write)(c->fd, c->buf, c->n);
    case IO_WRITEV:
        return REAL(writev)(c->fd, c->iov, (int)c->n);
    case IO_MQ_RECEIVE:
        return REAL(mq_receive)(c->fd, c->buf, c->n, c->prio);
    case IO_MQ_TIMEDRECEIVE:
        return REAL(mq_timedreceive)(c->fd, c->buf, c->n, c->prio, c->ts);
    default:
        return REAL(msgrcv)(c->fd, c->buf, c->n, c->type, c->flags);
    }
}

/* ---- descriptors: the real call, timed ---------------------------------------------------- */

/*
 * Did the thread sleep in the call? Its voluntary context switches (getrusage RUSAGE_THREAD)
 * are compared with their count when it last looked. Looking costs a syscall, so the thread
 * looks only when a sleep may have happened since — never in a tight loop of calls:
 *   - after a call that lasted at least the threshold and was picked at the block rate (a
 *     wait that would be recorded: io_slow);
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

static __attribute__((noinline)) void io_look_before(void)
{
    int saved = errno;
    io_look();
    errno = saved;
}

static __attribute__((noinline)) void io_slow(const char *leaf, const struct io_call *c,
                                               ssize_t rc, uint64_t start, uint64_t end)
{
    int saved = errno;
    lp_self.busy++;
    /* Sampled first: the checks below cost a syscall each (getrusage, fstat: 220 and 250 ns
     * measured), and at the default rate most short waits are not recorded — a pipe ping-pong
     * paid both on every read (1.40x its round trip). A call not picked is not looked at: the
     * next look compares with an older count, so a slow call that did not sleep, picked after
     * one that slept and was not, counts as a wait (a copy of tens of KiB, or a preempted
     * read; never a call in a loop that never sleeps). */
    struct lp_weight wt;
    if (lp_event_pick_wait(start, end, &wt)) {
        long before = io_self.nvcsw;
        io_look();
        /* != rather than >: a fork child's counts start again from 0. EAGAIN is O_NONBLOCK,
         * which never waits, however long the call took. */
        bool slept = before < 0 || io_self.nvcsw < 0 || io_self.nvcsw != before;
        if (slept && !(rc < 0 && saved == EAGAIN) && (!c->on_fd || lp_fdcache_recheck(c->fd)))
            lp_event_record_picked(leaf, &wt);
    }
    lp_self.busy--;
    errno = saved;
}

/* busy == 0 around the real call: a cancellation point. Inlined into one function per call
 * (io_timed_read...), where op is a constant: no dispatch on the way to the real call, and the
 * wrappers' pass-through paths stay free of this one's frame. */
static inline __attribute__((always_inline)) ssize_t io_timed(const char *leaf, enum io_op op,
                                                               const struct io_call *c)
{
    uint64_t threshold = __atomic_load_n(&lp_wait_threshold_ns_, __ATOMIC_RELAXED);
    uint64_t start = lp_now_nofence();
    if (__builtin_expect(!io_self.have || lp_clock_elapsed(io_self.last_end, start) >= threshold,
                         0)) {
        io_look_before();
        start = lp_now_nofence();
    }
    ssize_t rc = io_real(op, c);
    uint64_t end = lp_now_nofence(); /* preserves errno */
    io_self.last_end = end;
    if (__builtin_expect(lp_clock_elapsed(start, end) >= threshold, 0))
        io_slow(leaf, c, rc, start, end);
    return rc;
}

#define IO_TIMED(name, leaf, op)                                                               \
    static __attribute__((noinline)) ssize_t name(const struct io_call *c)                    \
    {                                                                                          \
        return io_timed(leaf, op, c);                                                          \
    }
IO_TIMED(io_timed_read, leaf_read, IO_READ)
IO_TIMED(io_timed_readv, leaf_readv, IO_READV)
IO_TIMED(io_timed_read_chk, leaf_read, IO_READ_CHK)
IO_TIMED(io_timed_write, leaf_write, IO_WRITE)
IO_TIMED(io_timed_writev, leaf_writev, IO_WRITEV)
IO_TIMED(io_timed_mq_timedreceive, leaf_mq_timedreceive, IO_MQ_TIMEDRECEIVE)

/* ---- queues: a try, then the wait --------------------------------------------------------- */

/* The try found the queue empty: the real call is a wait, recorded whatever it lasts (no
 * threshold), its stack unwound before it blocks. errno on entry: the caller's. */
static ssize_t io_queue_wait(const char *leaf, const struct io_call *c)
{
    int saved = errno;
    lp_self.busy++;
    /* Cancelled inside the wait: its in-flight entry goes too (nothing else is registered).
     * The view shows the mqd_t or the System V queue id. */
    struct lp_wait ev __attribute__((cleanup(lp_event_wait_cleanup)));
    lp_event_wait_begin_obj(&ev, leaf, NULL, (const void *)(uintptr_t)(unsigned)c->fd);
    lp_self.busy--;
    errno = saved;
    ssize_t rc = io_real(c->op, c);
    saved = errno;
    lp_self.busy++;
    /* A signal, or the queue removed (EIDRM), ends a wait; other errors come at once. */
    bool waited = rc >= 0 || saved == EINTR || saved == EIDRM;
    lp_event_wait_end(&ev, waited ? LP_ACQUIRED : LP_NOT_A_WAIT);
    lp_self.busy--;
    errno = saved;
    return rc;
}

/* ---- the wrappers --------------------------------------------------------------------------- */

/* These waits go to the block profile only (nobody is charged for them): with the block
 * rate 0 there is nothing to time. */
static inline bool io_passes(void)
{
    return !lp_ready() || lp_self.busy || lp_rates_block() == 0;
}

static __attribute__((noinline)) int8_t io_classify(int fd)
{
    int saved = errno;
    lp_self.busy++;
    int8_t b = lp_fdcache_classify(fd);
    lp_self.busy--;
    errno = saved;
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

LP_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    if (io_passes() || !io_reads_profiled(fd)) {
        if (__builtin_expect(lp_self.in_unwind != 0, 0) && lp_unwind_pipe_fd(fd))
            return lp_unwind_read(fd, buf, n); /* libunwind's pipe (unwind.h) */
        return REAL(read)(fd, buf, n);
    }
    struct io_call c = { .op = IO_READ, .on_fd = true, .fd = fd, .buf = buf, .n = n };
    return io_timed_read(&c);
}

LP_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    if (io_passes() || !io_reads_profiled(fd))
        return REAL(readv)(fd, iov, cnt);
    struct io_call c = { .op = IO_READV, .on_fd = true, .fd = fd, .iov = iov, .n = (size_t)cnt };
    return io_timed_readv(&c);
}

LP_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (io_passes() || !io_reads_profiled(fd))
        return REAL(__read_chk)(fd, buf, n, buflen);
    struct io_call c = { .op = IO_READ_CHK, .on_fd = true, .fd = fd, .buf = buf, .n = n,
                         .buflen = buflen };
    return io_timed_read_chk(&c);
}

LP_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    if (io_passes() || !io_writes_profiled(fd))
        return REAL(write)(fd, buf, n);
    struct io_call c = { .op = IO_WRITE, .on_fd = true, .fd = fd, .buf = (void *)buf, .n = n };
    return io_timed_write(&c);
}

LP_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (io_passes() || !io_writes_profiled(fd))
        return REAL(writev)(fd, iov, cnt);
    struct io_call c = { .op = IO_WRITEV, .on_fd = true, .fd = fd, .iov = iov, .n = (size_t)cnt };
    return io_timed_writev(&c);
}

/* An absolute deadline long past: the kernel's mq_timedreceive returns ETIMEDOUT at once on an
 * empty queue, without sleeping (ipc/mqueue.c: an expired timeout never schedules). */
static const struct timespec io_past = { 0, 0 };

LP_EXPORT ssize_t mq_receive(mqd_t q, char *buf, size_t n, unsigned *prio)
{
    if (io_passes() || !lp_fdcache_wants(LP_IO_MQ))
        return REAL(mq_receive)(q, buf, n, prio);
    int saved = errno;
    /* The try, with busy == 0 like the call (a pending cancellation acts here as it would
     * there): a message, or any error but "empty" (EAGAIN: O_NONBLOCK), is the result. */
    ssize_t rc = REAL(mq_timedreceive)(q, buf, n, prio, &io_past);
    if (rc >= 0 || errno != ETIMEDOUT)
        return rc;
    errno = saved;
    struct io_call c = { .op = IO_MQ_RECEIVE, .fd = q, .buf = buf, .n = n, .prio = prio };
    return io_queue_wait(leaf_mq_receive, &c);
}

LP_EXPORT ssize_t mq_timedreceive(mqd_t q, char *restrict buf, size_t n, unsigned *restrict prio,
                                  const struct timespec *restrict ts)
{
    if (io_passes() || !lp_fdcache_wants(LP_IO_MQ))
        return REAL(mq_timedreceive)(q, buf, n, prio, ts);
    /* No try: the kernel checks the deadline (EINVAL, EFAULT) before the queue, and reading
     * *ts here could fault where the call would not (glibc passes it straight to the kernel
     * on 64-bit). Timed, like a read; a timeout is a wait. */
    struct io_call c = { .op = IO_MQ_TIMEDRECEIVE, .fd = q, .buf = buf, .n = n, .prio = prio,
                         .ts = ts };
    return io_timed_mq_timedreceive(&c);
}

LP_EXPORT ssize_t msgrcv(int id, void *buf, size_t n, long type, int flags)
{
    /* IPC_NOWAIT never waits: no clock. MSG_COPY without IPC_NOWAIT is EINVAL, which adding
     * IPC_NOWAIT for the try would turn into a copy. */
    if (io_passes() || (flags & (IPC_NOWAIT | MSG_COPY)) || !lp_fdcache_wants(LP_IO_MSG))
        return REAL(msgrcv)(id, buf, n, type, flags);
    int saved = errno;
    /* The try is the same call with IPC_NOWAIT (a cancellation point too): anything but ENOMSG,
     * "no message", is the result. */
    ssize_t rc = REAL(msgrcv)(id, buf, n, type, flags | IPC_NOWAIT);
    if (rc >= 0 || errno != ENOMSG)
        return rc;
    errno = saved;
    struct io_call c = { .op = IO_MSGRCV, .fd = id, .buf = buf, .n = n, .type = type,
                         .flags = flags };
    return io_queue_wait(leaf_msgrcv, &c);
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
        int saved = errno;
        fd = fileno(fp); /* -1 (EBADF) for a stream without a descriptor */
        errno = saved;
    }
    int forget __attribute__((cleanup(io_forget_cleanup))) = fd;
    return REAL(fclose)(fp);
}
