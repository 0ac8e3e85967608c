/*
 * unwind.c — the unwinder: lockprof's own (core/cfi.h, the default: one rule cache shared by all
 * threads), or on request (LOCKPROF_LIBUNWIND=1) libunwind, loaded at run time (DESIGN §3.4).
 *
 * libunwind's unw_backtrace keeps a cache of 2^14 frames per thread that records, resident
 * until the thread exits: measured, 266 MB for 1,000 threads. It stays available for code whose
 * unwind information the default unwinder does not follow (lp_cfi_stats counts the walks it
 * cut short).
 *
 * Linked as a dependency, libunwind's _Unwind_* would preempt libgcc's in the host and make
 * C++ exceptions 10.8× slower (measured), so it is dlopen'ed RTLD_LOCAL in the constructor
 * (never inside a wrapper: the loader lock) and reached only through unw_backtrace, with
 * UNW_CACHE_PER_THREAD so that concurrent unwinds take no lock of libunwind's. Its calls into
 * pthread_* reach our wrappers, which pass them through (lp_self.busy is set around them).
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cfi.h"
#include "wait.h"

#include "log.h"
#include "stack.h"
#include "sys.h"
#include "unwind.h"

static int (*unwind_backtrace)(void **buf, int size);

static int unwind_libunwind(uintptr_t *pcs, int max)
{
    /* libunwind calls read, msync, open: cancellation points. A cancel pending in this thread
     * must act where it would without lockprof, never inside lockprof's unwinding (measured:
     * it did, turning pthread_mutex_lock into a cancellation point). */
    int cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    lp_self.in_unwind++;
    int n = unwind_backtrace((void **)pcs, max);
    lp_self.in_unwind--;
    pthread_setcancelstate(cancel, NULL);
    return n;
}

/* ---- libunwind's validation pipe (unwind.h) ----------------------------------------------- */

/* The two ends of the pipe libunwind opened (fd -1: none); both share the pipe's inode. */
static struct lp_fdid unwind_pipe[2] = { { .fd = -1 }, { .fd = -1 } };

/* Moves fd up, out of the way of the lowest numbers a program's open() gets (the 64 numbers
 * below the soft limit, or below 1024 when the limit is higher: a descriptor near a limit of
 * 2^20 would grow the kernel's table to megabytes, copied at every fork), so that a program
 * that closes everything and opens its files gets the numbers it would get without lockprof. */
static void unwind_fd_up(int *fd)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 256)
        return;
    rlim_t top = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1024 ? 1024 : rl.rlim_cur;
    int up = (int)fcntl(*fd, F_DUPFD_CLOEXEC, (int)top - 64);
    if (up >= 0) {
        lp_sys_close(*fd);
        *fd = up;
    }
}

LP_EXPORT int pipe2(int fds[2], int flags)
{
    if (!lp_self.in_unwind)
        return REAL(pipe2)(fds, flags);
    /* libunwind's threads race to reopen its pipe into one shared array: each works on its
     * own copy here, and publishes its numbers only once they are moved (with the shared
     * array, one thread moved the other's descriptor again and left its own pipe behind at
     * the program's lowest numbers — measured after closefrom(3), 4 runs in 60). */
    int mine[2];
    int rc = REAL(pipe2)(mine, flags);
    if (rc == 0) {
        struct lp_guard g;
        lp_guard_enter(&g);
        unwind_fd_up(&mine[0]);
        unwind_fd_up(&mine[1]);
        lp_fdid_take(&unwind_pipe[0], mine[0]);
        lp_fdid_take(&unwind_pipe[1], mine[1]);
        fds[0] = mine[0];
        fds[1] = mine[1];
        lp_guard_leave(&g);
    }
    return rc;
}

bool lp_unwind_pipe_fd(int fd)
{
    return fd >= 0 && (fd == __atomic_load_n(&unwind_pipe[0].fd, __ATOMIC_RELAXED) ||
                       fd == __atomic_load_n(&unwind_pipe[1].fd, __ATOMIC_RELAXED));
}

ssize_t lp_unwind_read(int fd, void *buf, size_t n)
{
    /* libunwind writes to the other end next: both must still be its pipe (not a
     * descriptor of the program's that reuses a number). */
    if (fd == unwind_pipe[0].fd && unwind_pipe[0].dev == unwind_pipe[1].dev &&
        unwind_pipe[0].ino == unwind_pipe[1].ino && lp_fdid_same(&unwind_pipe[0]) &&
        lp_fdid_same(&unwind_pipe[1])) {
        ssize_t r = lp_sys_read(fd, buf, n);
        if (r >= 0)
            return r;
        errno = (int)-r;
        return -1;
    }
    errno = EBADF;
    return -1;
}

int lp_unwind_close(int fd)
{
    /* libunwind closes its pipe only to replace it, after a read that failed, and a read fails
     * only when lp_unwind_read found the pipe no longer intact: the numbers are the program's
     * now, or closed. Nothing is closed, then: not a descriptor of the program's, nor an end
     * of the old pipe that another thread may be writing to at this moment (libunwind's
     * threads race on its pipe; closing a read end under a writer raised SIGPIPE — measured). */
    (void)fd;
    return 0;
}

struct range_search {
    uintptr_t addr, lo, hi;
};

LP_INIT_TEXT static int unwind_range_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct range_search *r = arg;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (r->addr >= lo && r->addr < hi) {
            r->lo = lo;
            r->hi = hi;
            return 1;
        }
    }
    return 0;
}

LP_INIT_TEXT void lp_unwind_add_self_range(const void *addr)
{
    struct range_search r = { (uintptr_t)addr, 0, 0 };
    if (dl_iterate_phdr(unwind_range_cb, &r))
        lp_stack_add_self(r.lo, r.hi);
}

void lp_unwind_restrict(void)
{
    lp_unwinder = lp_cfi_backtrace; /* libunwind checks memory through a pipe: system calls */
}

LP_INIT_TEXT int lp_unwind_load(bool use_libunwind)
{
    if (!use_libunwind) {
        lp_unwinder = lp_cfi_backtrace;
        return 0;
    }
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        lp_log_sigsafe("cannot load libunwind.so.8 (install libunwind8): profiles will have "
                       "no stacks");
        return -1;
    }
    unwind_backtrace = (int (*)(void **, int))dlsym(h, "unw_backtrace");
    int (*set_policy)(unw_addr_space_t, unw_caching_policy_t) =
        (int (*)(unw_addr_space_t, unw_caching_policy_t))dlsym(h, "_ULx86_64_set_caching_policy");
    unw_addr_space_t *local_as = (unw_addr_space_t *)dlsym(h, "_ULx86_64_local_addr_space");
    if (!unwind_backtrace) {
        lp_log_sigsafe("libunwind.so.8 has no unw_backtrace: profiles will have no stacks");
        return -1;
    }
    /* libunwind initialises itself here, its validation pipe included: recorded (pipe2). */
    lp_self.in_unwind++;
    if (set_policy && local_as)
        set_policy(*local_as, UNW_CACHE_PER_THREAD);
    lp_self.in_unwind--;
    lp_unwind_add_self_range((const void *)unwind_backtrace);
    lp_unwinder = unwind_libunwind;
    return 0;
}
