/* sys.c — see sys.h. */
#include "sys.h"

#include <errno.h>

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

int lp_fdid_take(struct lp_fdid *id, int fd)
{
    struct stat st;
    int rc = fd < 0 ? -EBADF : lp_sys_fstat(fd, &st);
    if (rc < 0) {
        id->fd = -1;
        return rc;
    }
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->fd = fd;
    return 0;
}

bool lp_fdid_same(const struct lp_fdid *id)
{
    struct stat st;
    return id->fd >= 0 && lp_sys_fstat(id->fd, &st) == 0 && st.st_dev == id->dev &&
           st.st_ino == id->ino;
}
