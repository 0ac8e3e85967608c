/*
 * api.c — the public C API (include/lockprof.h): rates at run time, profiles and the threads
 * view written on request, snapshots.
 *
 * Every call returns 0 or -errno and leaves errno as it was. A call made while lockprof is busy
 * on this thread (from a signal handler that interrupted lockprof) answers -EDEADLK: the
 * writer's lock may be this thread's, and waiting for it would never end.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "lifecycle.h"
#include "lockprof.h"
#include "sys.h"
#include "threads.h"
#include "wait.h"
#include "writer.h"

LP_EXPORT const char *lockprof_version(void)
{
    return LOCKPROF_VERSION;
}

LP_EXPORT int64_t lockprof_set_block_rate(int64_t rate)
{
    return (int64_t)lp_rates_set_block(rate < 0 ? 0 : (uint64_t)rate);
}

LP_EXPORT int64_t lockprof_set_mutex_fraction(int64_t fraction)
{
    if (fraction < 0)
        return (int64_t)lp_rates_fraction();
    return (int64_t)lp_rates_set_fraction((uint64_t)fraction);
}

/* Whether a writing call can go on: 0, or its answer. */
static int api_can_write(void)
{
    if (!lp_ready())
        return -EAGAIN;
    if (lp_self.busy)
        return -EDEADLK;
    return lp_lifecycle_check() ? 0 : -EAGAIN;
}

LP_EXPORT int lockprof_write_profiles(void)
{
    int rc = api_can_write();
    if (rc < 0)
        return rc;
    struct lp_guard g;
    lp_guard_enter(&g);
    rc = lp_writer_write("lockprof_write_profiles", false);
    lp_guard_leave(&g);
    return rc;
}

/* Copies all of memfd (from its start) to fd; 0 or -errno. */
static int api_copy_out(int memfd, int fd)
{
    char buf[16384];
    off_t off = 0;
    for (;;) {
        ssize_t n = lp_sys_pread(memfd, buf, sizeof buf, off);
        if (n == -EINTR)
            continue;
        if (n <= 0)
            return (int)n;
        int rc = lp_sys_write_all(fd, buf, (size_t)n);
        if (rc < 0)
            return rc;
        off += n;
    }
}

LP_EXPORT int lockprof_write_profile(int kind, int fd, int format)
{
    int rc = api_can_write();
    if (rc < 0)
        return rc;
    if (fd < 0)
        return -EBADF;
    bool profile = (kind == LOCKPROF_BLOCK || kind == LOCKPROF_MUTEX) &&
                   (format == LOCKPROF_PPROF || format == LOCKPROF_TEXT);
    bool threads = kind == LOCKPROF_THREADS && (format == LOCKPROF_TEXT || format == LOCKPROF_JSON);
    if (!profile && !threads)
        return -EINVAL;
    struct lp_guard g;
    lp_guard_enter(&g);
    /* Encoded into memory under the writer lock, copied to fd after it: a descriptor that
     * does not drain (a full pipe, a client's socket) must not hold up exit, fork or a fatal
     * signal's profile, which all wait for that lock. */
    int mem = memfd_create("lockprof-api", MFD_CLOEXEC);
    if (mem < 0) {
        rc = -errno;
    } else {
        if (profile)
            rc = lp_writer_encode_to(mem, kind == LOCKPROF_BLOCK ? LP_BLOCK : LP_MUTEX,
                                     format == LOCKPROF_TEXT ? LP_FORMAT_TEXT : LP_FORMAT_PPROF,
                                     NULL);
        else
            rc = lp_writer_threads(mem, format == LOCKPROF_JSON ? LP_THREADS_JSON
                                                                : LP_THREADS_TEXT);
        if (rc == 0)
            rc = api_copy_out(mem, fd);
        lp_sys_close(mem);
    }
    lp_guard_leave(&g);
    return rc;
}

LP_EXPORT int lockprof_snapshot(void)
{
    int rc = api_can_write();
    if (rc < 0)
        return rc;
    struct lp_guard g;
    lp_guard_enter(&g);
    rc = lp_writer_snapshot((unsigned)lp_lifecycle_config()->keep, "lockprof_snapshot");
    lp_guard_leave(&g);
    return rc;
}
