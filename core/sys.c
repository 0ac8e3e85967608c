/* sys.c — see sys.h. */
#include "sys.h"

#include <errno.h>
#include <signal.h>

int lp_sys_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = lp_sys_write(fd, p, len);
        if (n == -EINTR)
            continue;
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int lp_sys_write_all_nosigpipe(int fd, const void *buf, size_t len)
{
    /* SIGPIPE blocked around the write; if the write raised one (EPIPE) where none was
     * pending before, that one is taken back, so that nothing of it reaches the program. */
    uint64_t pipe = LP_SIG_BIT(SIGPIPE), old = 0, pending = 0;
    lp_sys_sigprocmask(SIG_BLOCK, &pipe, &old);
    lp_sys_sigpending(&pending);
    int rc = lp_sys_write_all(fd, buf, len);
    if (rc == -EPIPE && !(pending & pipe))
        lp_sys_sigtake(&pipe);
    if (!(old & pipe))
        lp_sys_sigprocmask(SIG_UNBLOCK, &pipe, NULL);
    return rc;
}

LP_INIT_TEXT int lp_fdid_take(struct lp_fdid *id, int fd)
{
    struct stat st;
    int rc = fd < 0 ? -EBADF : lp_sys_fstat(fd, &st);
    if (rc < 0) {
        __atomic_store_n(&id->fd, -1, __ATOMIC_RELEASE);
        return rc;
    }
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    __atomic_store_n(&id->fd, fd, __ATOMIC_RELEASE);
    return 0;
}

bool lp_fdid_same(const struct lp_fdid *id)
{
    struct stat st;
    int fd = __atomic_load_n(&id->fd, __ATOMIC_ACQUIRE);
    return fd >= 0 && lp_sys_fstat(fd, &st) == 0 && st.st_dev == id->dev &&
           st.st_ino == id->ino;
}
