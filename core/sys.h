/*
 * sys.h — the system calls lockprof makes for itself, issued with the syscall instruction.
 *
 * Inside the preloaded library, read, write, close and friends are lockprof's own wrappers
 * (interpose/), and libc's syscall() may be too: a call of core/ through them would be timed,
 * classified, counted as the program's. Every read, write and close of lockprof's own, and
 * every other system call it makes by number, goes through here instead, straight to the
 * kernel, whatever is interposed.
 *
 * Each returns what the kernel returns: the result, or -errno. errno is never touched, so a
 * caller on a wrapper's path has nothing to save. All are async-signal-safe.
 */
#ifndef LP_SYS_H
#define LP_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#if !defined(__x86_64__)
#error "core/sys.h issues x86-64 system calls"
#endif

static inline long lp_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

#define LP_SYS_ARG(x) ((long)(x))
#define lp_syscall0(nr) lp_syscall6((nr), 0, 0, 0, 0, 0, 0)
#define lp_syscall1(nr, a) lp_syscall6((nr), LP_SYS_ARG(a), 0, 0, 0, 0, 0)
#define lp_syscall2(nr, a, b) lp_syscall6((nr), LP_SYS_ARG(a), LP_SYS_ARG(b), 0, 0, 0, 0)
#define lp_syscall3(nr, a, b, c)                                                               \
    lp_syscall6((nr), LP_SYS_ARG(a), LP_SYS_ARG(b), LP_SYS_ARG(c), 0, 0, 0)
#define lp_syscall4(nr, a, b, c, d)                                                            \
    lp_syscall6((nr), LP_SYS_ARG(a), LP_SYS_ARG(b), LP_SYS_ARG(c), LP_SYS_ARG(d), 0, 0)

static inline ssize_t lp_sys_read(int fd, void *buf, size_t n)
{
    return lp_syscall3(SYS_read, fd, buf, n);
}

static inline ssize_t lp_sys_pread(int fd, void *buf, size_t n, off_t off)
{
    return lp_syscall4(SYS_pread64, fd, buf, n, off);
}

static inline ssize_t lp_sys_write(int fd, const void *buf, size_t n)
{
    return lp_syscall3(SYS_write, fd, buf, n);
}

/* Opens path (relative to the working directory); flags should include O_CLOEXEC. */
static inline int lp_sys_open(const char *path, int flags, unsigned mode)
{
    return (int)lp_syscall4(SYS_openat, -100 /* AT_FDCWD */, path, flags, mode);
}

#ifdef __SANITIZE_THREAD__
#include <errno.h>
#include <unistd.h>
#endif

static inline int lp_sys_close(int fd)
{
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer follows descriptors through the C library's calls. Closed behind its
     * back, a number that another thread's socket then reuses looks like one descriptor used
     * by two threads without synchronization (a false race). A sanitizer build never preloads
     * core/, so the C library's close is not a wrapper of lockprof's there. */
    int saved = errno;
    int rc = close(fd) < 0 ? -errno : 0;
    errno = saved;
    return rc;
#else
    return (int)lp_syscall1(SYS_close, fd);
#endif
}

static inline int lp_sys_fstat(int fd, struct stat *st)
{
    return (int)lp_syscall2(SYS_fstat, fd, st);
}

/* What path names (a symlink is followed). */
static inline int lp_sys_stat(const char *path, struct stat *st)
{
    return (int)lp_syscall4(SYS_newfstatat, -100 /* AT_FDCWD */, path, st, 0);
}

/* What path itself is (a symlink is not followed). */
static inline int lp_sys_lstat(const char *path, struct stat *st)
{
    return (int)lp_syscall4(SYS_newfstatat, -100 /* AT_FDCWD */, path, st,
                            0x100 /* AT_SYMLINK_NOFOLLOW */);
}

/* Up to n bytes from the kernel's random pool, never waiting for it (GRND_NONBLOCK). */
static inline long lp_sys_getrandom(void *buf, size_t n)
{
    return lp_syscall3(SYS_getrandom, buf, n, 1 /* GRND_NONBLOCK */);
}

static inline long lp_sys_getdents64(int fd, void *buf, size_t n)
{
    return lp_syscall3(SYS_getdents64, fd, buf, n);
}

static inline long lp_sys_futex(uint32_t *word, int op, uint32_t val, const void *timeout)
{
    return lp_syscall6(SYS_futex, (long)word, op, val, (long)timeout, 0, 0);
}

static inline pid_t lp_sys_getpid(void)
{
    return (pid_t)lp_syscall0(SYS_getpid);
}

/* The current directory into buf (NUL-terminated): its length with the NUL, or -errno. */
static inline long lp_sys_getcwd(char *buf, size_t size)
{
    return lp_syscall6(SYS_getcwd, (long)buf, (long)size, 0, 0, 0, 0);
}

static inline pid_t lp_sys_gettid(void)
{
    return (pid_t)lp_syscall0(SYS_gettid);
}

static inline long lp_sys_getppid(void)
{
    return lp_syscall0(SYS_getppid);
}

static inline int lp_sys_tgkill(pid_t pid, pid_t tid, int sig)
{
    return (int)lp_syscall3(SYS_tgkill, pid, tid, sig);
}

/* The kernel's signal set on x86-64: one bit per signal, signal n at bit n - 1. */
#define LP_SIG_BIT(sig) (1ULL << ((sig) - 1))

static inline int lp_sys_sigprocmask(int how, const uint64_t *set, uint64_t *old)
{
    return (int)lp_syscall4(SYS_rt_sigprocmask, how, set, old, sizeof(uint64_t));
}

static inline int lp_sys_sigpending(uint64_t *set)
{
    return (int)lp_syscall2(SYS_rt_sigpending, set, sizeof(uint64_t));
}

/* Takes one of the signals in set if one is pending, without waiting (timeout zero). */
static inline int lp_sys_sigtake(const uint64_t *set)
{
    static const struct { long sec, nsec; } zero = { 0, 0 };
    return (int)lp_syscall4(SYS_rt_sigtimedwait, set, 0, &zero, sizeof(uint64_t));
}

/* Writes all of buf to fd, resuming after EINTR and short writes: 0 or -errno. */
int lp_sys_write_all(int fd, const void *buf, size_t len);
/* The same, and a write to a pipe nobody reads raises no SIGPIPE in the calling thread (it
 * fails with -EPIPE): for lockprof's messages on the program's standard error. */
int lp_sys_write_all_nosigpipe(int fd, const void *buf, size_t len);

/*
 * The identity of an open file (st_dev, st_ino), for descriptors lockprof keeps across the
 * program's own calls (DESIGN §6: a long-lived descriptor is re-checked before use). A program
 * that closes every descriptor (closefrom(3), a daemon's close loop) may get lockprof's
 * numbers for its own files: before lockprof uses such a number again it checks that the
 * number still names the file it opened, and leaves it alone otherwise.
 */
struct lp_fdid {
    dev_t dev;   /* written by lp_fdid_take before fd */
    ino_t ino;
    int fd;      /* atomic, stored last (release): -1 none; readable from any thread */
};

/* Notes which file fd is: 0, or -errno (fd not open: id->fd is -1). */
int lp_fdid_take(struct lp_fdid *id, int fd);
/* True when id->fd is open and still names the file lp_fdid_take saw. */
bool lp_fdid_same(const struct lp_fdid *id);

/* Code a fork child runs before it execs (the fork handlers, the exec wrappers, sigaction and
 * what they call), kept on pages of their own (the linker gathers every .text.hot.* input
 * section of every object in one place). fork does not copy the mappings of the library's
 * code pages: every page of it that a child touches is a page fault, which a shell pays in
 * every command it starts. */
#define LP_FORK_TEXT __attribute__((section(".text.hot.lp_fork")))

/* Code every process runs at start and exit (the constructor's path, the exit-time check),
 * kept beside the constructor (.text.startup), within one of the kernel's fault-around windows
 * of the library's code, rather than spread over all of them. */
#define LP_INIT_TEXT __attribute__((section(".text.startup.lp")))

/* Variables every process reads or writes at start and exit (the constructor's path, the
 * exit-time check), and those a fork child reads before it execs (the fork handler's), kept
 * together in .data, right after the GOT: on pages the loader writes anyway (it relocates the
 * GOT and .data, and zeroes the tail of .data's last page for .bss), rather than spread over
 * the pages of .bss, each of which a process (or a child, of a page its parent never touched)
 * touches is one more page fault. Only for variables those paths touch: every byte here moves
 * .bss a byte further. */
#define LP_INIT_DATA __attribute__((section(".data.lp_start")))

#endif
