/*
 * prog_pipe — blocking reads and writes on pipes, FIFOs, eventfds and sockets, as a program
 * does them; run by io.t with and without the preload.
 *
 * Usage: prog_pipe MODE [rounds] [hold_ms]
 *
 *   read, readv, fifo, eventfd, socket
 *       A waiter thread blocks in read() (readv() for readv) on a pipe (a FIFO, an eventfd, a
 *       socketpair) ROUNDS times; each time, once it is asleep in the call, main waits HOLD_MS
 *       and writes. Waits at blocked_read / blocked_readv.
 *   write, writev
 *       The waiter blocks in write() (writev()) of 4096 bytes on a full pipe; main drains the
 *       pipe (one 64 KiB read) HOLD_MS after it fell asleep. Waits at blocked_write(v).
 *   ready
 *       No waits: 1-byte reads and readv of a pipe with data ready (ready_pipe_reads,
 *       ready_pipe_readv), 60000-byte reads of a full pipe (ready_pipe_big), reads of a regular
 *       file (ready_file_reads) and of a socket with data ready (ready_socket_reads).
 *   reuse
 *       The descriptor cache follows close, dup2, dup3, close_range, closefrom and fclose: a
 *       regular file is read (cached as a file), its number freed by the call, and a pipe
 *       given the same number is then blocked on once (reuse_after_<call>). And a pipe's
 *       number closed behind the wrappers' back (the raw syscall) and reused by a socket:
 *       a blocking read of it (reuse_stale_socket) is not a pipe wait.
 *   cancel
 *       A thread is cancelled while blocked in read() on a pipe; its cleanup handler prints a
 *       line and then blocks in read() on another pipe (cancel_cleanup_read) until main
 *       writes. Then one more ordinary round (after_cancel_read).
 *   errors
 *       Results and errno of calls that fail or succeed at once, one "check" line each.
 *
 * Prints "check ..." lines (the same with and without a preload) and, for every wait,
 *   measure <function>_total   Σ of the time around each call (CLOCK_MONOTONIC)
 *   measure <function>_count   the number of calls
 * Exit status 0 (cancel: 3, so that an unchanged status is visible).
 */
#include "progutil.h"

#include <errno.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define NOINLINE __attribute__((noinline, noclone))

static int rounds = 4;
static unsigned hold_ms = 30;

/* ---- measured waits ---------------------------------------------------------------------- */

#define MAX_KEYS 16
static struct {
    const char *name;
    uint64_t total, count;
} keys[MAX_KEYS];

static void note(const char *name, uint64_t d)
{
    int i = 0;
    while (keys[i].name && strcmp(keys[i].name, name) != 0)
        i++;
    keys[i].name = name;
    keys[i].total += d;
    keys[i].count++;
}

static void print_measures(void)
{
    char k[96];
    for (int i = 0; keys[i].name; i++) {
        snprintf(k, sizeof k, "%s_total", keys[i].name);
        measure(k, keys[i].total);
        snprintf(k, sizeof k, "%s_count", keys[i].name);
        measure(k, keys[i].count);
    }
}

/* ---- one blocked call per round: the waiter announces itself, main wakes it ---------------- */

static int waiter_tid, waiter_arrived, waiter_finished;
static int rfd = -1, wfd = -1; /* the waiter's descriptor, and the one main wakes it with */
static char bigbuf[65536];

static NOINLINE void blocked_read(void)
{
    char c[8];
    __atomic_fetch_add(&waiter_arrived, 1, __ATOMIC_ACQ_REL);
    uint64_t t0 = now_ns();
    ssize_t n = read(rfd, c, sizeof c);
    note("blocked_read", now_ns() - t0);
    if (n <= 0)
        die("read");
}

static NOINLINE void blocked_readv(void)
{
    char a[1], b[7];
    struct iovec iov[2] = { { a, sizeof a }, { b, sizeof b } };
    __atomic_fetch_add(&waiter_arrived, 1, __ATOMIC_ACQ_REL);
    uint64_t t0 = now_ns();
    ssize_t n = readv(rfd, iov, 2);
    note("blocked_readv", now_ns() - t0);
    if (n <= 0)
        die("readv");
}

static NOINLINE void blocked_write(void)
{
    __atomic_fetch_add(&waiter_arrived, 1, __ATOMIC_ACQ_REL);
    uint64_t t0 = now_ns();
    ssize_t n = write(wfd, bigbuf, 4096);
    note("blocked_write", now_ns() - t0);
    if (n != 4096)
        die("write");
}

static NOINLINE void blocked_writev(void)
{
    struct iovec iov[2] = { { bigbuf, 1000 }, { bigbuf + 1000, 3096 } };
    __atomic_fetch_add(&waiter_arrived, 1, __ATOMIC_ACQ_REL);
    uint64_t t0 = now_ns();
    ssize_t n = writev(wfd, iov, 2);
    note("blocked_writev", now_ns() - t0);
    if (n != 4096)
        die("writev");
}

static void (*waiter_call)(void);

static int round_ready; /* main: the round may start */

static void *waiter_rounds(void *arg)
{
    (void)arg;
    __atomic_store_n(&waiter_tid, thread_id(), __ATOMIC_RELEASE);
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&round_ready, r);
        waiter_call();
        __atomic_fetch_add(&waiter_finished, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

/* Runs the rounds: prepare() before each, wake() once the waiter sleeps in its call. */
static void run_rounds(void (*call)(void), void (*prepare)(void), void (*wake)(void))
{
    pthread_t t;
    waiter_call = call;
    if (pthread_create(&t, NULL, waiter_rounds, NULL))
        die("pthread_create");
    for (int r = 1; r <= rounds; r++) {
        if (prepare)
            prepare();
        __atomic_store_n(&round_ready, r, __ATOMIC_RELEASE);
        await_at_least(&waiter_arrived, r);
        await_all_asleep(&waiter_tid, 1);
        sleep_ms(hold_ms);
        wake();
        await_at_least(&waiter_finished, r);
    }
    pthread_join(t, NULL);
}

static void wake_byte(void)
{
    if (write(wfd, "x", 1) != 1)
        die("write");
}

static void wake_eventfd(void)
{
    uint64_t one = 1;
    if (write(wfd, &one, sizeof one) != sizeof one)
        die("eventfd write");
}

static void set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0)
        die("fcntl");
}

/* Fills the pipe until a 4096-byte write would block. */
static void fill_pipe(void)
{
    set_nonblock(wfd, 1);
    while (write(wfd, bigbuf, 4096) == 4096)
        ;
    if (errno != EAGAIN)
        die("fill");
    set_nonblock(wfd, 0);
}

/* One read drains the whole pipe (64 KiB) and frees room for the blocked writer. */
static void drain_pipe(void)
{
    if (read(rfd, bigbuf, sizeof bigbuf) <= 0)
        die("drain");
}

static void make_pipe(void)
{
    int p[2];
    if (pipe(p) < 0)
        die("pipe");
    rfd = p[0];
    wfd = p[1];
}

static char fifo_dir[] = "/tmp/lockprof-fifo-XXXXXX";
static char fifo_path[64];

static void make_fifo(void)
{
    if (!mkdtemp(fifo_dir))
        die("mkdtemp");
    snprintf(fifo_path, sizeof fifo_path, "%s/fifo", fifo_dir);
    if (mkfifo(fifo_path, 0600) < 0)
        die("mkfifo");
    rfd = open(fifo_path, O_RDWR); /* a reader that is also a writer never sees EOF */
    wfd = open(fifo_path, O_WRONLY);
    if (rfd < 0 || wfd < 0)
        die("open fifo");
}

static void remove_fifo(void)
{
    unlink(fifo_path);
    rmdir(fifo_dir);
}

static void make_socketpair(int *a, int *b)
{
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0)
        die("socketpair");
    *a = s[0];
    *b = s[1];
}

/* ---- ready: reads that never wait --------------------------------------------------------- */

#define READY_N 10000

static NOINLINE void ready_pipe_reads(int r, int w)
{
    char c;
    if (write(w, bigbuf, READY_N) != READY_N)
        die("write");
    for (int i = 0; i < READY_N; i++)
        if (read(r, &c, 1) != 1)
            die("read");
}

static NOINLINE void ready_pipe_readv(int r, int w)
{
    char c;
    struct iovec iov = { &c, 1 };
    if (write(w, bigbuf, READY_N) != READY_N)
        die("write");
    for (int i = 0; i < READY_N; i++)
        if (readv(r, &iov, 1) != 1)
            die("readv");
}

static NOINLINE void ready_pipe_big(int r, int w)
{
    for (int i = 0; i < 50; i++) {
        if (write(w, bigbuf, 60000) != 60000)
            die("write");
        if (read(r, bigbuf, 60000) != 60000)
            die("read");
    }
}

static NOINLINE void ready_file_reads(int fd)
{
    for (int i = 0; i < 100000; i++) {
        lseek(fd, 0, SEEK_SET);
        if (read(fd, bigbuf, 4096) <= 0)
            die("read file");
    }
}

static NOINLINE void ready_socket_reads(int a, int b)
{
    for (int i = 0; i < READY_N; i++) {
        if (write(b, bigbuf, 64) != 64)
            die("write socket");
        if (read(a, bigbuf, 64) != 64)
            die("read socket");
    }
}

static void run_ready(void)
{
    make_pipe();
    ready_pipe_reads(rfd, wfd);
    ready_pipe_readv(rfd, wfd);
    ready_pipe_big(rfd, wfd);
    int fd = open("/proc/self/exe", O_RDONLY);
    if (fd < 0)
        die("open");
    ready_file_reads(fd);
    int a, b;
    make_socketpair(&a, &b);
    ready_socket_reads(a, b);
}

/* ---- reuse: the cache follows the calls that free descriptor numbers ---------------------- */

static int main_tid, main_about_to_block;

/* A thread that writes a byte to fd once main is asleep in its blocking call, hold_ms later. */
static void *waker_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    await_at_least(&main_about_to_block, 1);
    await_all_asleep(&main_tid, 1);
    sleep_ms(hold_ms);
    if (write(fd, "x", 1) != 1)
        die("waker write");
    return NULL;
}

/* main blocks in read(fd) until the waker writes to wake_fd; the call is measured as `name`. */
static void blocking_read_once(const char *name, int fd, int wake_fd)
{
    pthread_t t;
    char c;
    __atomic_store_n(&main_about_to_block, 0, __ATOMIC_RELEASE);
    if (pthread_create(&t, NULL, waker_main, (void *)(intptr_t)wake_fd))
        die("pthread_create");
    __atomic_store_n(&main_about_to_block, 1, __ATOMIC_RELEASE);
    uint64_t t0 = now_ns();
    if (read(fd, &c, 1) != 1)
        die("read");
    note(name, now_ns() - t0);
    pthread_join(t, NULL);
}

static char file_path[] = "/tmp/lockprof-reuse-XXXXXX";

/* A regular file, read once through the wrapper so that the cache knows its number as a file. */
static int open_file_read_once(void)
{
    int fd = open(file_path, O_RDONLY);
    char c;
    if (fd < 0 || read(fd, &c, 1) != 1)
        die("open/read file");
    return fd;
}

static void check_same(const char *what, int got, int want)
{
    printf("check reuse %s same-number %d\n", what, got == want);
}

static NOINLINE void reuse_after_close(void)
{
    int fd = open_file_read_once(), p[2];
    close(fd);
    if (pipe(p) < 0)
        die("pipe");
    check_same("close", p[0], fd);
    blocking_read_once("reuse_after_close", p[0], p[1]);
    close(p[0]);
    close(p[1]);
}

static void reuse_dup(const char *name, int use_dup3)
{
    int fd = open_file_read_once(), p[2];
    if (pipe(p) < 0)
        die("pipe");
    if ((use_dup3 ? dup3(p[0], fd, O_CLOEXEC) : dup2(p[0], fd)) != fd)
        die("dup");
    blocking_read_once(name, fd, p[1]);
    close(fd);
    close(p[0]);
    close(p[1]);
}

static NOINLINE void reuse_after_dup2(void)
{
    reuse_dup("reuse_after_dup2", 0);
}

static NOINLINE void reuse_after_dup3(void)
{
    reuse_dup("reuse_after_dup3", 1);
}

static NOINLINE void reuse_after_close_range(void)
{
    int fd = open_file_read_once(), p[2];
    if (close_range((unsigned)fd, (unsigned)fd, 0) < 0)
        die("close_range");
    if (pipe(p) < 0)
        die("pipe");
    check_same("close_range", p[0], fd);
    blocking_read_once("reuse_after_close_range", p[0], p[1]);
    close(p[0]);
    close(p[1]);
}

/* closefrom closes every descriptor from its argument up: the file is the highest one. */
static NOINLINE void reuse_after_closefrom(void)
{
    int fd = open_file_read_once(), p[2];
    closefrom(fd);
    if (pipe(p) < 0)
        die("pipe");
    check_same("closefrom", p[0], fd);
    blocking_read_once("reuse_after_closefrom", p[0], p[1]);
    close(p[0]);
    close(p[1]);
}

static NOINLINE void reuse_after_fclose(void)
{
    FILE *f = fopen(file_path, "r");
    char c;
    if (!f)
        die("fopen");
    int fd = fileno(f), p[2];
    if (read(fd, &c, 1) != 1)
        die("read");
    fclose(f);
    if (pipe(p) < 0)
        die("pipe");
    check_same("fclose", p[0], fd);
    blocking_read_once("reuse_after_fclose", p[0], p[1]);
    close(p[0]);
    close(p[1]);
}

/* A pipe's number closed by the raw syscall (as glibc does internally in pclose, freopen…)
 * and reused by a socket: the stale "pipe" entry must not make the socket's wait a pipe's. */
static NOINLINE void reuse_stale_socket(void)
{
    int p[2], a, b;
    char c;
    if (pipe(p) < 0)
        die("pipe");
    if (write(p[1], "x", 1) != 1 || read(p[0], &c, 1) != 1)
        die("pipe io");
    syscall(SYS_close, p[0]);
    make_socketpair(&a, &b);
    check_same("raw-close", a, p[0]);
    blocking_read_once("reuse_stale_socket", a, b);
    close(a);
    close(b);
    close(p[1]);
}

static void run_reuse(void)
{
    main_tid = thread_id();
    int fd = mkstemp(file_path);
    if (fd < 0 || write(fd, "lockprof\n", 9) != 9)
        die("mkstemp");
    close(fd);
    reuse_after_closefrom(); /* first: nothing above it is open yet */
    reuse_after_close();
    reuse_after_dup2();
    reuse_after_dup3();
    reuse_after_close_range();
    reuse_after_fclose();
    reuse_stale_socket();
    unlink(file_path);
}

/* ---- cancel ------------------------------------------------------------------------------- */

static int cancel_pipe[2], cleanup_pipe[2];
static int cancel_tid, cancel_blocked, cleanup_blocked;

static NOINLINE void cancel_cleanup_read(void *arg)
{
    (void)arg;
    char c;
    printf("check cancel cleanup-ran 1\n");
    fflush(stdout);
    __atomic_store_n(&cleanup_blocked, 1, __ATOMIC_RELEASE);
    uint64_t t0 = now_ns();
    ssize_t n = read(cleanup_pipe[0], &c, 1);
    note("cancel_cleanup_read", now_ns() - t0);
    printf("check cancel cleanup-read %zd\n", n);
}

static void *cancel_main(void *arg)
{
    (void)arg;
    char c;
    __atomic_store_n(&cancel_tid, thread_id(), __ATOMIC_RELEASE);
    pthread_cleanup_push(cancel_cleanup_read, NULL);
    __atomic_store_n(&cancel_blocked, 1, __ATOMIC_RELEASE);
    ssize_t n = read(cancel_pipe[0], &c, 1);
    printf("check cancel not-cancelled %zd\n", n); /* never printed */
    pthread_cleanup_pop(0);
    return NULL;
}

static int run_cancel(void)
{
    pthread_t t;
    void *res;
    if (pipe(cancel_pipe) < 0 || pipe(cleanup_pipe) < 0)
        die("pipe");
    if (pthread_create(&t, NULL, cancel_main, NULL))
        die("pthread_create");
    await_at_least(&cancel_blocked, 1);
    await_all_asleep(&cancel_tid, 1);
    pthread_cancel(t);
    await_at_least(&cleanup_blocked, 1);
    await_all_asleep(&cancel_tid, 1);
    sleep_ms(hold_ms);
    if (write(cleanup_pipe[1], "x", 1) != 1)
        die("write");
    pthread_join(t, &res);
    printf("check cancel joined-cancelled %d\n", res == PTHREAD_CANCELED);
    /* Still profiled afterwards: one ordinary round. */
    make_pipe();
    rounds = 1;
    run_rounds(blocked_read, NULL, wake_byte);
    return 3;
}

/* ---- errors: results and errno -------------------------------------------------------------- */

#define CHECK(name, call)                                                                      \
    do {                                                                                       \
        errno = 12345;                                                                         \
        long rc_ = (long)(call);                                                               \
        int e_ = errno;                                                                        \
        printf("check errors %s rc %ld errno %s\n", name, rc_,                                 \
               e_ == 12345 ? "unchanged" : strerrorname_np(e_));                               \
    } while (0)

static void run_errors(void)
{
    char buf[16];
    struct iovec iov = { buf, sizeof buf };
    int p[2], q[2];
    uint64_t one = 1;
    signal(SIGPIPE, SIG_IGN);
    if (pipe(p) < 0 || pipe(q) < 0)
        die("pipe");
    CHECK("read-bad-fd", read(-1, buf, 1));
    CHECK("read-closed-fd", read(1000, buf, 1));
    CHECK("read-huge-fd", read(1 << 24, buf, 1));
    CHECK("read-write-end", read(p[1], buf, 1));
    volatile int bad_count = -1; /* hidden from the compiler's argument checks */
    CHECK("readv-bad-count", readv(p[0], &iov, bad_count));
    CHECK("readv-bad-fd", readv(-1, &iov, 1));
    set_nonblock(p[0], 1);
    CHECK("read-nonblock-empty", read(p[0], buf, 1));
    CHECK("readv-nonblock-empty", readv(p[0], &iov, 1));
    CHECK("write-pipe", write(p[1], "ab", 2));
    CHECK("read-pipe-ok", read(p[0], buf, sizeof buf));
    CHECK("read-pipe-zero", read(p[0], buf, 0));
    close(q[0]);
    CHECK("write-no-reader", write(q[1], "x", 1));
    CHECK("writev-no-reader", writev(q[1], &iov, 1));
    close(p[1]);
    CHECK("read-eof", read(p[0], buf, 1));
    int e = eventfd(0, EFD_NONBLOCK);
    CHECK("eventfd-read-short", read(e, buf, 4));
    CHECK("eventfd-read-empty", read(e, &one, 8));
    CHECK("eventfd-write", write(e, &one, 8));
    CHECK("eventfd-read", read(e, &one, 8));
    CHECK("close-bad", close(-1));
    CHECK("dup2-bad", dup2(-1, 5));
    CHECK("dup3-same", dup3(p[0], p[0], 0));
    CHECK("close-range-bad", close_range(5, 2, 0));
    FILE *f = fmemopen(buf, sizeof buf, "r");
    CHECK("fclose-memstream", fclose(f));
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "read";
    if (argc > 2)
        rounds = atoi(argv[2]);
    if (argc > 3)
        hold_ms = (unsigned)atoi(argv[3]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int status = 0;
    if (!strcmp(mode, "read") || !strcmp(mode, "readv")) {
        make_pipe();
        run_rounds(!strcmp(mode, "read") ? blocked_read : blocked_readv, NULL, wake_byte);
    } else if (!strcmp(mode, "fifo")) {
        make_fifo();
        run_rounds(blocked_read, NULL, wake_byte);
        remove_fifo();
    } else if (!strcmp(mode, "eventfd")) {
        rfd = wfd = eventfd(0, 0);
        run_rounds(blocked_read, NULL, wake_eventfd);
    } else if (!strcmp(mode, "socket")) {
        make_socketpair(&rfd, &wfd);
        run_rounds(blocked_read, NULL, wake_byte);
    } else if (!strcmp(mode, "write") || !strcmp(mode, "writev")) {
        make_pipe();
        run_rounds(!strcmp(mode, "write") ? blocked_write : blocked_writev, fill_pipe,
                   drain_pipe);
    } else if (!strcmp(mode, "ready")) {
        run_ready();
    } else if (!strcmp(mode, "reuse")) {
        run_reuse();
    } else if (!strcmp(mode, "cancel")) {
        status = run_cancel();
    } else if (!strcmp(mode, "errors")) {
        run_errors();
    } else {
        fprintf(stderr, "prog_pipe: unknown mode %s\n", mode);
        return 2;
    }
    printf("check %s done\n", mode);
    print_measures();
    return status;
}
