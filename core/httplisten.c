/*
 * httplisten.c — see httplisten.h.
 *
 * Choices worth knowing:
 *   - No name lookups: getaddrinfo may read files, load NSS modules (the loader lock) and
 *     block; only literal addresses and "localhost" are accepted.
 *   - Messages use strerrordesc_np, strerror without translation: strerror may call gettext,
 *     which allocates and locks.
 *   - A unix socket is never reachable with a mode wider than 0600: the socket is fchmod-ed to
 *     0600 before bind (Linux creates the file with the socket inode's mode & ~umask: measured),
 *     the file is chmod-ed to exactly 0600 after bind if the umask took owner bits away, and
 *     only then does listen make it connectable (connecting to a socket that is bound but not
 *     listening is refused). So no umask change (process-wide) and no window.
 *   - A descriptor is identified by (st_dev, st_ino) (st_ino is unique per socket and per
 *     memfd). Another thread closing a descriptor the server polls does not wake poll (poll
 *     holds a reference to the file until it returns), hence the server's tick.
 */
#include "httplisten.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define LISTEN_BACKLOG 64
#define LISTEN_FD_ROOM 128 /* descriptors are moved to [min(limit, 1024) - 128, …) */

/* ---- descriptors ---------------------------------------------------------------------- */

const char *lp_httplisten_strerror(int e)
{
    const char *s = strerrordesc_np(e);
    return s ? s : "unknown error";
}

/*
 * The file is remembered first, then the descriptor moved (F_DUPFD_CLOEXEC). Even here the
 * program may closefrom and reuse the number (daemons do so while lockprof's thread starts):
 * the low number is closed only if it still is our file.
 */
int lp_httplisten_fd_take(const struct lp_httplisten *l, struct lp_fdid *f, int fd)
{
    struct lp_fdid got;
    if (fd < 0)
        return -errno; /* not made: nothing to close */
    int rc = lp_fdid_take(&got, fd);
    if (rc < 0)
        return rc; /* already closed under us: nothing to close */
    if (l->fd_base > 2 && fd < l->fd_base) {
        struct lp_fdid high = got;
        high.fd = fcntl(fd, F_DUPFD_CLOEXEC, l->fd_base);
        if (high.fd >= 0 && !lp_fdid_same(&high)) {
            lp_sys_close(high.fd); /* a copy of what the number holds now: the program's */
            return -EBADF;
        }
        if (high.fd >= 0) {
            if (lp_fdid_same(&got))
                lp_sys_close(fd);
            got.fd = high.fd;
        }
    }
    f->dev = got.dev;
    f->ino = got.ino;
    __atomic_store_n(&f->fd, got.fd, __ATOMIC_RELAXED);
    return 0;
}

bool lp_httplisten_fd_check(struct lp_fdid *f)
{
    if (f->fd < 0)
        return false;
    if (lp_fdid_same(f))
        return true;
    __atomic_store_n(&f->fd, -1, __ATOMIC_RELAXED); /* the program's now, perhaps */
    return false;
}

void lp_httplisten_fd_close(struct lp_fdid *f)
{
    if (lp_httplisten_fd_check(f))
        lp_sys_close(f->fd);
    __atomic_store_n(&f->fd, -1, __ATOMIC_RELAXED);
}

/* ---- the spec and the listener ---------------------------------------------------------- */

static bool httplisten_loopback(const struct lp_httplisten *l)
{
    if (l->addr.sa.sa_family == AF_INET)
        return (ntohl(l->addr.in.sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a = &l->addr.in6.sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* Parses spec into l->addr. 0, or -EINVAL with the reason in why. */
static int httplisten_parse_spec(struct lp_httplisten *l, const char *spec, bool allow_remote,
                                 char *why, size_t whysize)
{
    if (strncmp(spec, "unix:", 5) == 0) {
        const char *p = spec + 5;
        char *dst = l->addr.un.sun_path;
        size_t room = sizeof l->addr.un.sun_path, n = 0, len = strlen(p);
        if (!*p) {
            lp_fmt_sigsafe(why, whysize, "no path after 'unix:'");
            return -EINVAL;
        }
        if (p[0] != '/') {
            /* Made absolute now: daemons chdir("/"), and a lost listener is bound again. */
            if (!getcwd(dst, room)) {
                lp_fmt_sigsafe(why, whysize, "cannot make the path absolute: getcwd: %s",
                               lp_httplisten_strerror(errno));
                return -EINVAL;
            }
            n = strlen(dst);
            if (n > 1 && n + 1 < room)
                dst[n++] = '/'; /* not added: too long anyway, said below */
        }
        if (n + len >= room) {
            lp_fmt_sigsafe(why, whysize, "path too long for a unix socket (%zu bytes, at most "
                           "%zu)", n + len, room - 1);
            return -EINVAL;
        }
        memcpy(dst + n, p, len + 1);
        l->addr.un.sun_family = AF_UNIX;
        l->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + len + 1);
        return 0;
    }

    const char *host = spec, *port;
    size_t hostlen;
    bool v6 = false;
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb) {
            lp_fmt_sigsafe(why, whysize, "no ']' after the IPv6 address (expected "
                           "[ADDRESS]:PORT)");
            return -EINVAL;
        }
        if (rb[1] != ':') {
            lp_fmt_sigsafe(why, whysize, "no port (expected [ADDRESS]:PORT)");
            return -EINVAL;
        }
        host = spec + 1;
        hostlen = (size_t)(rb - host);
        port = rb + 2;
        v6 = true;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon) {
            lp_fmt_sigsafe(why, whysize, "no port (expected HOST:PORT or unix:PATH)");
            return -EINVAL;
        }
        hostlen = (size_t)(colon - spec);
        port = colon + 1;
        if (memchr(host, ':', hostlen)) {
            lp_fmt_sigsafe(why, whysize, "an IPv6 address goes in brackets: [ADDRESS]:PORT");
            return -EINVAL;
        }
    }
    if (!*port) {
        lp_fmt_sigsafe(why, whysize, "no port after ':'");
        return -EINVAL;
    }
    unsigned long pn = 0;
    for (const char *p = port; *p; p++) {
        if (*p < '0' || *p > '9' || p - port >= 5 || (pn = pn * 10 + (unsigned)(*p - '0')) >
            65535) {
            lp_fmt_sigsafe(why, whysize, "bad port '%s' (expected 0 to 65535)", port);
            return -EINVAL;
        }
    }

    char hbuf[64];
    if (hostlen >= sizeof hbuf)
        hostlen = sizeof hbuf - 1; /* too long for any literal: reported as unknown below */
    memcpy(hbuf, host, hostlen);
    hbuf[hostlen] = '\0';
    if (v6) {
        l->addr.in6.sin6_family = AF_INET6;
        l->addr.in6.sin6_port = htons((uint16_t)pn);
        if (inet_pton(AF_INET6, hbuf, &l->addr.in6.sin6_addr) != 1) {
            lp_fmt_sigsafe(why, whysize, "bad IPv6 address '%s'", hbuf);
            return -EINVAL;
        }
        l->addrlen = sizeof l->addr.in6;
    } else {
        l->addr.in.sin_family = AF_INET;
        l->addr.in.sin_port = htons((uint16_t)pn);
        l->addrlen = sizeof l->addr.in;
        if (hostlen == 0) /* ":PORT" is every address, as in Go (refused below by default) */
            l->addr.in.sin_addr.s_addr = htonl(INADDR_ANY);
        else if (strcasecmp(hbuf, "localhost") == 0)
            l->addr.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, hbuf, &l->addr.in.sin_addr) != 1) {
            lp_fmt_sigsafe(why, whysize, "unknown host '%s' (expected an IPv4 address, "
                           "[IPv6 address] or localhost: names are not looked up)", hbuf);
            return -EINVAL;
        }
    }
    if (!allow_remote && !httplisten_loopback(l)) {
        lp_fmt_sigsafe(why, whysize, "not a loopback address; set "
                       "LOCKPROF_HTTP_ALLOW_REMOTE=1 to allow it");
        return -EINVAL;
    }
    return 0;
}

/* Before binding a unix socket: an existing socket file nobody listens on (or the one we
 * bound before) is removed; anything else is an error. */
static int httplisten_unix_clear(struct lp_httplisten *l, char *why, size_t whysize)
{
    const char *path = l->addr.un.sun_path;
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        lp_fmt_sigsafe(why, whysize, "'%s': %s", path, lp_httplisten_strerror(e));
        return -e;
    }
    if (!S_ISSOCK(st.st_mode)) {
        lp_fmt_sigsafe(why, whysize, "'%s' exists and is not a socket", path);
        return -EEXIST;
    }
    if (!(l->path_known && st.st_dev == l->path_dev && st.st_ino == l->path_ino)) {
        /* Not ours: removed only if nobody listens (a leftover of a process that died). */
        struct lp_fdid p;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int e = -lp_httplisten_fd_take(l, &p, fd);
        if (e) {
            lp_fmt_sigsafe(why, whysize, "socket: %s", lp_httplisten_strerror(e));
            return -e;
        }
        int r = connect(p.fd, &l->addr.sa, l->addrlen);
        e = errno;
        lp_httplisten_fd_close(&p);
        if (r == 0 || e == EAGAIN) {
            lp_fmt_sigsafe(why, whysize, "a server already listens on '%s'", path);
            return -EADDRINUSE;
        }
        if (e == ENOENT)
            return 0;
        if (e != ECONNREFUSED) {
            lp_fmt_sigsafe(why, whysize, "'%s': connect: %s", path, lp_httplisten_strerror(e));
            return -e;
        }
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        int e = errno;
        lp_fmt_sigsafe(why, whysize, "cannot remove the old socket '%s': %s", path,
                       lp_httplisten_strerror(e));
        return -e;
    }
    return 0;
}

/* Opens the listener on l->addr (again, after a loss). 0, or -errno with the reason in why. */
static int httplisten_listen(struct lp_httplisten *l, char *why, size_t whysize)
{
    int family = l->addr.sa.sa_family, rc;
    const char *step = "socket";
    struct lp_fdid s;
    if (family == AF_UNIX && (rc = httplisten_unix_clear(l, why, whysize)) < 0)
        return rc;
    int made = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if ((rc = lp_httplisten_fd_take(l, &s, made)) < 0) {
        errno = -rc;
        goto fail;
    }
    int fd = s.fd;
    if (family == AF_UNIX) {
        struct stat st;
        const char *path = l->addr.un.sun_path;
        step = "fchmod";
        if (fchmod(fd, 0600) < 0)
            goto fail_close;
        step = "bind";
        if (bind(fd, &l->addr.sa, l->addrlen) < 0)
            goto fail_close;
        step = "stat";
        if (lstat(path, &st) < 0)
            goto fail_close;
        if (!S_ISSOCK(st.st_mode)) {
            errno = EEXIST; /* replaced under our feet */
            goto fail_close;
        }
        /* The umask may have taken owner bits away; nobody can connect before listen. */
        step = "chmod";
        if ((st.st_mode & 07777) != 0600 && chmod(path, 0600) < 0)
            goto fail_close;
        l->path_known = true;
        l->path_dev = st.st_dev;
        l->path_ino = st.st_ino;
    } else {
        int one = 1;
        step = "setsockopt";
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            goto fail_close;
        step = "bind";
        if (bind(fd, &l->addr.sa, l->addrlen) < 0)
            goto fail_close;
    }
    step = "listen";
    if (listen(fd, LISTEN_BACKLOG) < 0)
        goto fail_close;
    if (family != AF_UNIX) {
        /* Port 0: remember the port chosen, so that a reopened listener keeps the address
         * that was announced. */
        socklen_t len = l->addrlen;
        step = "getsockname";
        if (getsockname(fd, &l->addr.sa, &len) < 0)
            goto fail_close;
    }
    l->sock.dev = s.dev;
    l->sock.ino = s.ino;
    __atomic_store_n(&l->sock.fd, fd, __ATOMIC_RELAXED);
    return 0;

fail_close:
    lp_httplisten_fd_close(&s); /* errno stays the failed step's (sys.h) */
fail:
    rc = errno;
    if (strcmp(step, "bind") == 0)
        lp_fmt_sigsafe(why, whysize, "bind %s: %s", l->address, lp_httplisten_strerror(rc));
    else
        lp_fmt_sigsafe(why, whysize, "%s: %s", step, lp_httplisten_strerror(rc));
    return -rc;
}

static void httplisten_format_address(struct lp_httplisten *l)
{
    char ip[INET6_ADDRSTRLEN];
    switch (l->addr.sa.sa_family) {
    case AF_UNIX:
        lp_fmt_sigsafe(l->address, sizeof l->address, "unix:%s", l->addr.un.sun_path);
        break;
    case AF_INET:
        inet_ntop(AF_INET, &l->addr.in.sin_addr, ip, sizeof ip);
        lp_fmt_sigsafe(l->address, sizeof l->address, "%s:%u", ip,
                       (unsigned)ntohs(l->addr.in.sin_port));
        break;
    default:
        inet_ntop(AF_INET6, &l->addr.in6.sin6_addr, ip, sizeof ip);
        lp_fmt_sigsafe(l->address, sizeof l->address, "[%s]:%u", ip,
                       (unsigned)ntohs(l->addr.in6.sin6_port));
        break;
    }
}


int lp_httplisten_open(struct lp_httplisten *l, const char *spec, bool allow_remote, char *why,
                       size_t whysize)
{
    int rc;
    struct rlimit rl;
    rlim_t limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0;
    l->fd_base = limit >= 1024                ? 1024 - LISTEN_FD_ROOM
                 : limit > 2 * LISTEN_FD_ROOM ? (int)limit - LISTEN_FD_ROOM
                                              : 0;
    if (!*spec) {
        lp_fmt_sigsafe(why, whysize, "expected HOST:PORT or unix:PATH");
        return -EINVAL;
    }
    if ((rc = httplisten_parse_spec(l, spec, allow_remote, why, whysize)) < 0)
        return rc;
    httplisten_format_address(l);
    if ((rc = httplisten_listen(l, why, whysize)) < 0)
        return rc;
    httplisten_format_address(l); /* with the port chosen */
    return 0;
}

int lp_httplisten_reopen(struct lp_httplisten *l)
{
    char why[256];
    int rc = httplisten_listen(l, why, sizeof why);
    if (rc == 0) {
        if (l->lost_reported)
            lp_log_sigsafe("HTTP: listening again on %s", l->address);
        l->lost_reported = false;
        return 0;
    }
    if (!l->lost_reported)
        lp_log_sigsafe("HTTP: the listener on %s was closed (closefrom?) and cannot be "
                       "opened again yet: %s; retrying", l->address, why);
    l->lost_reported = true;
    return rc;
}

void lp_httplisten_check(struct lp_httplisten *l)
{
    if (l->sock.fd >= 0 && lp_httplisten_fd_check(&l->sock) && l->addr.sa.sa_family == AF_UNIX) {
        struct stat st;
        if (lstat(l->addr.un.sun_path, &st) < 0 && errno == ENOENT)
            lp_httplisten_fd_close(&l->sock); /* removed: bound again by the server's loop */
    }
}

int lp_httplisten_fd(const struct lp_httplisten *l)
{
    return __atomic_load_n(&l->sock.fd, __ATOMIC_RELAXED);
}
