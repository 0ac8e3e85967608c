/*
 * httpd.c — see httpd.h.
 *
 * Written by hand rather than taken from a library: what it serves is small and fixed (GET of
 * a few paths, the POST of pprof's symbol lookups, one request per connection), and it runs
 * inside someone else's process, where
 * it must not malloc, start threads, install signal handlers or load libraries at run time,
 * and must survive the program closing its descriptors (closefrom(3)).
 *
 * The shape: one struct lp_httpd, mmapped once, holds everything — the listener, the slots of
 * LP_HTTPD_MAX_CLIENTS clients with their request buffers, and one chunk buffer for sending.
 * A client goes through RECV (reading the request's head) → [BODY (reading a POST body into
 * a buffer mapped for it)] → [WAIT (the handler asked to be resumed)] → SEND (status line,
 * headers, body; the request's body buffer is unmapped on entry) → LINGER (our side shut
 * down; reading and discarding what the client still sends, so that closing does not turn
 * into a reset that could destroy the response before the client has read it) → free.
 *
 * Choices worth knowing:
 *   - Bodies are sent with send(MSG_NOSIGNAL) of chunks pread from the memfd, not sendfile:
 *     sendfile to a socket the peer has reset raises SIGPIPE (measured on Linux 6.18: EPIPE
 *     and a SIGPIPE directed at the calling thread). lockprof's threads block every signal, so
 *     it would only stay pending on that thread, but send cannot raise it at all, whatever the
 *     mask; the copy costs nothing next to encoding a profile.
 *   - A body buffer is a mapping of its own, made when a head announces the body: the server's
 *     fixed mapping stays small (a 16 MiB worst case held for ever would be a cost for every
 *     program that sets LOCKPROF_HTTP), and munmap gives the memory back at once, which
 *     free() into a heap would not. The head's buffer may already hold the first bytes of
 *     the body (they often share a packet): they are copied over.
 *   - No name lookups: getaddrinfo may read files, load NSS modules (the loader lock) and
 *     block; only literal addresses and "localhost" are accepted.
 *   - Messages use strerrordesc_np, strerror without translation: strerror may call gettext,
 *     which allocates and locks.
 *   - A unix socket is never reachable with a mode wider than 0600: the socket is fchmod-ed to
 *     0600 before bind (Linux creates the file with the socket inode's mode & ~umask: measured),
 *     the file is chmod-ed to exactly 0600 after bind if the umask took owner bits away, and
 *     only then does listen make it connectable (connecting to a socket that is bound but not
 *     listening is refused). So no umask change (process-wide) and no window.
 *   - A descriptor is identified by (st_dev, st_ino), checked before each use and at every
 *     tick: a number that names another file now is forgotten, never closed (DESIGN §6).
 *     Another thread closing a descriptor this thread polls does not wake poll (poll holds a
 *     reference to the file until it returns), hence the tick. Nothing is closed without
 *     that check, not even a descriptor made a moment before (hd_take). There remains the
 *     window between a check and the call that follows it; it cannot be closed from user
 *     space.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sys.h"

#define HD_HEAD_SIZE 1024          /* status line + headers (+ a server-made body) */
#define HD_CHUNK (64 * 1024)       /* body bytes read from the memfd per send */
#define HD_SENDS_PER_WAKEUP 16     /* so that one fast client does not starve the others */
#define HD_LINGER_NS (1000000000ULL) /* after the response: how long to wait for the client */
#define HD_LINGER_BYTES (2u << 20) /* … and how much of what it still sends to discard */
#define HD_BACKLOG 64
#define HD_FD_ROOM 128             /* descriptors are moved to [min(limit, 1024) - 128, …) */
#define HD_FIELD_MAX 128           /* longest Content-Type or disposition file name sent */

/* A descriptor and the file it was when we opened it. fd -1: none (or forgotten). */
struct hd_fd {
    int fd; /* atomic for the listener (lp_httpd_listener_fd reads it from another thread) */
    dev_t dev;
    ino_t ino;
};

enum hd_state { HD_FREE, HD_RECV, HD_BODY, HD_WAIT, HD_SEND, HD_LINGER };

struct hd_client {
    enum hd_state state;
    struct hd_fd sock;
    struct hd_fd body;       /* the memfd of the answer (-1 for a server-made answer) */
    uint64_t deadline;       /* RECV, BODY: the request's; WAIT: resume time; SEND: no
                                progress; LINGER: the end of lingering */
    size_t len;              /* bytes of the request in req */
    bool head_only;          /* HEAD: no body is sent */
    bool expect_continue;    /* a POST's head asked for "100 Continue" (HTTP/1.1) */
    char *in;                /* BODY, WAIT: the request's body, mapped (NULL: none) */
    size_t in_len, in_got;   /* its length (Content-Length; 0 for GET, HEAD), bytes arrived */
    size_t linger_left;      /* LINGER: bytes still to discard before closing */
    char *req;               /* LP_HTTPD_MAX_HEADER bytes in the mapping */
    char head[HD_HEAD_SIZE]; /* the response's head (and a server-made body) */
    size_t head_len, head_off;
    uint64_t body_len, body_off;
    struct lp_http_exchange x;
};

/* Everything belongs to the thread in lp_httpd_serve, except listener.fd (atomic). */
struct lp_httpd {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
    } addr;                   /* what we listen on; the port chosen when 0 was asked */
    socklen_t addrlen;
    bool path_known;          /* unix: (path_dev, path_ino) is the socket file we bound */
    dev_t path_dev;
    ino_t path_ino;
    struct hd_fd listener;
    int fd_base;              /* where descriptors are moved to (0: they are not moved) */
    uint64_t listen_at;       /* poll the listener / try to reopen it from this time on */
    bool lost_reported;       /* one message per loss of the listener */
    uint64_t check_at;        /* the next tick's check of every descriptor */
    lp_http_handler_fn handler;
    void *arg;
    char address[sizeof(struct sockaddr_un) + 16];
    struct hd_client clients[LP_HTTPD_MAX_CLIENTS];
    char chunk[HD_CHUNK];
    char reqs[LP_HTTPD_MAX_CLIENTS][LP_HTTPD_MAX_HEADER];
};

/* ---- descriptors ---------------------------------------------------------------------- */

static const char *hd_strerror(int e)
{
    const char *s = strerrordesc_np(e);
    return s ? s : "unknown error";
}

static bool hd_same(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Takes a descriptor just made (fd, or -1 with errno set by the call that failed) into f:
 * its file remembered first, then moved to fd_base or above (F_DUPFD_CLOEXEC), out of the
 * way of the numbers programs use; kept where it is if that fails. 0 or -errno.
 * Even here the program may closefrom and reuse the number (daemons do so while lockprof's
 * thread starts): the low number is closed only if it still is our file.
 */
static int hd_take(const struct lp_httpd *h, struct hd_fd *f, int fd)
{
    struct stat st, now;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -errno; /* not made, or already closed under us: nothing to close */
    if (h->fd_base > 2 && fd < h->fd_base) {
        int high = fcntl(fd, F_DUPFD_CLOEXEC, h->fd_base);
        if (high >= 0 && !(fstat(high, &now) == 0 && hd_same(&now, &st))) {
            lp_sys_close(high); /* a copy of what the number holds now: the program's */
            return -EBADF;
        }
        if (high >= 0) {
            if (fstat(fd, &now) == 0 && hd_same(&now, &st))
                lp_sys_close(fd);
            fd = high;
        }
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    __atomic_store_n(&f->fd, fd, __ATOMIC_RELAXED);
    return 0;
}

/* Is f still the file we opened? If not, it is forgotten — never closed: the number may be
 * the program's now (closefrom, then a new open). */
static bool hd_valid(struct hd_fd *f)
{
    struct stat st;
    if (f->fd < 0)
        return false;
    if (fstat(f->fd, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino)
        return true; /* (st_ino is unique per socket and per memfd) */
    __atomic_store_n(&f->fd, -1, __ATOMIC_RELAXED);
    return false;
}

static void hd_close(struct hd_fd *f)
{
    if (hd_valid(f))
        lp_sys_close(f->fd);
    __atomic_store_n(&f->fd, -1, __ATOMIC_RELAXED);
}

/* The request's body buffer given back (the handler has answered, or no answer will come). */
static void hd_unmap(struct hd_client *c)
{
    if (c->in)
        munmap(c->in, c->in_len);
    c->in = NULL;
    c->x.body = NULL;
    c->x.body_len = 0;
}

/* ---- the spec and the listener ---------------------------------------------------------- */

static bool hd_loopback(const struct lp_httpd *h)
{
    if (h->addr.sa.sa_family == AF_INET)
        return (ntohl(h->addr.in.sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a = &h->addr.in6.sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* Parses spec into h->addr. 0, or -EINVAL with the reason in why. */
static int hd_parse_spec(struct lp_httpd *h, const char *spec, bool allow_remote, char *why,
                         size_t whysize)
{
    if (strncmp(spec, "unix:", 5) == 0) {
        const char *p = spec + 5;
        char *dst = h->addr.un.sun_path;
        size_t room = sizeof h->addr.un.sun_path, n = 0, len = strlen(p);
        if (!*p) {
            lp_fmt_sigsafe(why, whysize, "no path after 'unix:'");
            return -EINVAL;
        }
        if (p[0] != '/') {
            /* Made absolute now: daemons chdir("/"), and a lost listener is bound again. */
            if (!getcwd(dst, room)) {
                lp_fmt_sigsafe(why, whysize, "cannot make the path absolute: getcwd: %s",
                               hd_strerror(errno));
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
        h->addr.un.sun_family = AF_UNIX;
        h->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + len + 1);
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
        h->addr.in6.sin6_family = AF_INET6;
        h->addr.in6.sin6_port = htons((uint16_t)pn);
        if (inet_pton(AF_INET6, hbuf, &h->addr.in6.sin6_addr) != 1) {
            lp_fmt_sigsafe(why, whysize, "bad IPv6 address '%s'", hbuf);
            return -EINVAL;
        }
        h->addrlen = sizeof h->addr.in6;
    } else {
        h->addr.in.sin_family = AF_INET;
        h->addr.in.sin_port = htons((uint16_t)pn);
        h->addrlen = sizeof h->addr.in;
        if (hostlen == 0) /* ":PORT" is every address, as in Go (refused below by default) */
            h->addr.in.sin_addr.s_addr = htonl(INADDR_ANY);
        else if (strcasecmp(hbuf, "localhost") == 0)
            h->addr.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, hbuf, &h->addr.in.sin_addr) != 1) {
            lp_fmt_sigsafe(why, whysize, "unknown host '%s' (expected an IPv4 address, "
                           "[IPv6 address] or localhost: names are not looked up)", hbuf);
            return -EINVAL;
        }
    }
    if (!allow_remote && !hd_loopback(h)) {
        lp_fmt_sigsafe(why, whysize, "not a loopback address; set "
                       "LOCKPROF_HTTP_ALLOW_REMOTE=1 to allow it");
        return -EINVAL;
    }
    return 0;
}

/* Before binding a unix socket: an existing socket file nobody listens on (or the one we
 * bound before) is removed; anything else is an error. */
static int hd_unix_clear(struct lp_httpd *h, char *why, size_t whysize)
{
    const char *path = h->addr.un.sun_path;
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        lp_fmt_sigsafe(why, whysize, "'%s': %s", path, hd_strerror(e));
        return -e;
    }
    if (!S_ISSOCK(st.st_mode)) {
        lp_fmt_sigsafe(why, whysize, "'%s' exists and is not a socket", path);
        return -EEXIST;
    }
    if (!(h->path_known && st.st_dev == h->path_dev && st.st_ino == h->path_ino)) {
        /* Not ours: removed only if nobody listens (a leftover of a process that died). */
        struct hd_fd p;
        int e = -hd_take(h, &p, socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (e) {
            lp_fmt_sigsafe(why, whysize, "socket: %s", hd_strerror(e));
            return -e;
        }
        int r = connect(p.fd, &h->addr.sa, h->addrlen);
        e = errno;
        hd_close(&p);
        if (r == 0 || e == EAGAIN) {
            lp_fmt_sigsafe(why, whysize, "a server already listens on '%s'", path);
            return -EADDRINUSE;
        }
        if (e == ENOENT)
            return 0;
        if (e != ECONNREFUSED) {
            lp_fmt_sigsafe(why, whysize, "'%s': connect: %s", path, hd_strerror(e));
            return -e;
        }
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        int e = errno;
        lp_fmt_sigsafe(why, whysize, "cannot remove the old socket '%s': %s", path,
                       hd_strerror(e));
        return -e;
    }
    return 0;
}

/* Opens the listener on h->addr (again, after a loss). 0, or -errno with the reason in why. */
static int hd_listen(struct lp_httpd *h, char *why, size_t whysize)
{
    int family = h->addr.sa.sa_family, rc;
    const char *step = "socket";
    struct hd_fd l;
    if (family == AF_UNIX && (rc = hd_unix_clear(h, why, whysize)) < 0)
        return rc;
    if ((rc = hd_take(h, &l, socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0))) <
        0) {
        errno = -rc;
        goto fail;
    }
    int fd = l.fd;
    if (family == AF_UNIX) {
        struct stat st;
        const char *path = h->addr.un.sun_path;
        step = "fchmod";
        if (fchmod(fd, 0600) < 0)
            goto fail_close;
        step = "bind";
        if (bind(fd, &h->addr.sa, h->addrlen) < 0)
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
        h->path_known = true;
        h->path_dev = st.st_dev;
        h->path_ino = st.st_ino;
    } else {
        int one = 1;
        step = "setsockopt";
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            goto fail_close;
        step = "bind";
        if (bind(fd, &h->addr.sa, h->addrlen) < 0)
            goto fail_close;
    }
    step = "listen";
    if (listen(fd, HD_BACKLOG) < 0)
        goto fail_close;
    if (family != AF_UNIX) {
        /* Port 0: remember the port chosen, so that a reopened listener keeps the address
         * that was announced. */
        socklen_t len = h->addrlen;
        step = "getsockname";
        if (getsockname(fd, &h->addr.sa, &len) < 0)
            goto fail_close;
    }
    h->listener.dev = l.dev;
    h->listener.ino = l.ino;
    __atomic_store_n(&h->listener.fd, fd, __ATOMIC_RELAXED);
    return 0;

fail_close:
    rc = errno;
    hd_close(&l);
    errno = rc;
fail:
    rc = errno;
    if (strcmp(step, "bind") == 0)
        lp_fmt_sigsafe(why, whysize, "bind %s: %s", h->address, hd_strerror(rc));
    else
        lp_fmt_sigsafe(why, whysize, "%s: %s", step, hd_strerror(rc));
    return -rc;
}

static void hd_format_address(struct lp_httpd *h)
{
    char ip[INET6_ADDRSTRLEN];
    switch (h->addr.sa.sa_family) {
    case AF_UNIX:
        lp_fmt_sigsafe(h->address, sizeof h->address, "unix:%s", h->addr.un.sun_path);
        break;
    case AF_INET:
        inet_ntop(AF_INET, &h->addr.in.sin_addr, ip, sizeof ip);
        lp_fmt_sigsafe(h->address, sizeof h->address, "%s:%u", ip,
                       (unsigned)ntohs(h->addr.in.sin_port));
        break;
    default:
        inet_ntop(AF_INET6, &h->addr.in6.sin6_addr, ip, sizeof ip);
        lp_fmt_sigsafe(h->address, sizeof h->address, "[%s]:%u", ip,
                       (unsigned)ntohs(h->addr.in6.sin6_port));
        break;
    }
}

int lp_httpd_open(const char *spec, bool allow_remote, struct lp_httpd **out, char *err,
                  size_t errsize)
{
    char why[256];
    int rc;
    if (!spec)
        spec = "";
    struct lp_httpd *h = mmap(NULL, sizeof *h, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h == MAP_FAILED) {
        lp_fmt_sigsafe(err, errsize, "LOCKPROF_HTTP='%s': cannot map %zu bytes: %s", spec,
                       sizeof *h, hd_strerror(errno));
        return -ENOMEM;
    }
    h->listener.fd = -1;
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
        h->clients[i].sock.fd = -1;
        h->clients[i].body.fd = -1;
        h->clients[i].req = h->reqs[i];
    }
    struct rlimit rl;
    rlim_t limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0;
    h->fd_base = limit >= 1024 ? 1024 - HD_FD_ROOM : limit > 2 * HD_FD_ROOM
                                                        ? (int)limit - HD_FD_ROOM : 0;

    if (!*spec) {
        lp_fmt_sigsafe(why, sizeof why, "expected HOST:PORT or unix:PATH");
        rc = -EINVAL;
        goto fail_unmap;
    }
    if ((rc = hd_parse_spec(h, spec, allow_remote, why, sizeof why)) < 0)
        goto fail_unmap;
    hd_format_address(h);
    if ((rc = hd_listen(h, why, sizeof why)) < 0)
        goto fail_unmap;
    hd_format_address(h); /* with the port chosen */
    *out = h;
    if (errsize)
        err[0] = '\0';
    return 0;

fail_unmap:
    lp_fmt_sigsafe(err, errsize, "LOCKPROF_HTTP='%s': %s", spec, why);
    munmap(h, sizeof *h);
    return rc;
}

const char *lp_httpd_address(const struct lp_httpd *h)
{
    return h->address;
}

int lp_httpd_listener_fd(const struct lp_httpd *h)
{
    return __atomic_load_n(&h->listener.fd, __ATOMIC_RELAXED);
}

void lp_httpd_close_fds(struct lp_httpd *h)
{
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
        hd_close(&h->clients[i].sock);
        hd_close(&h->clients[i].body);
        /* A fork's child: the body buffer is forgotten, not unmapped — the parent may have
         * unmapped it just before fork, and the range may hold something else by now. */
        h->clients[i].in = NULL;
        h->clients[i].x.body = NULL;
        h->clients[i].x.body_len = 0;
        h->clients[i].state = HD_FREE;
    }
    hd_close(&h->listener);
}

/* ---- the request ------------------------------------------------------------------------ */

static int hd_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0, n) into out (which may be s: the output never outruns the input), '+'
 * as a space if plus. The decoded length, -1 for a malformed escape or %00, -2 if it needs
 * more than size - 1 bytes. NUL-terminated when it succeeds. */
static long hd_decode(const char *s, size_t n, char *out, size_t size, bool plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hd_hex(s[i + 1]) : -1;
            int lo = hi >= 0 ? hd_hex(s[i + 2]) : -1;
            if (lo < 0 || (hi | lo) == 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (o + 1 >= size)
            return -2;
        out[o++] = c;
    }
    if (size)
        out[o] = '\0';
    return (long)o;
}

/* RFC 9110 §5.6.2: the characters of a token (method and header names). */
static bool hd_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The length of the request head, up to and including its empty line, or 0 if it has not
 * all arrived. Empty lines before the request line are skipped (RFC 9112 §2.2). */
static size_t hd_head_end(const char *b, size_t len)
{
    size_t i = 0;
    while (i < len && (b[i] == '\r' || b[i] == '\n'))
        i++;
    for (; i < len; i++) {
        if (b[i] != '\n')
            continue;
        if (i + 1 < len && b[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* The version field: 0 if HTTP/1.x, 505 for another version or protocol, 400 if malformed. */
static int hd_version(const char *v, size_t n)
{
    size_t slash = 0;
    while (slash < n && v[slash] != '/')
        slash++;
    if (slash == 0 || slash >= n - 1)
        return 400;
    for (size_t i = 0; i < slash; i++)
        if (!((v[i] | 0x20) >= 'a' && (v[i] | 0x20) <= 'z'))
            return 400;
    /* DIGIT ["." DIGIT] after the slash ("HTTP/2" and "HTTP/3" have no minor digit) */
    const char *d = v + slash + 1;
    size_t dn = n - slash - 1;
    if (!(d[0] >= '0' && d[0] <= '9') ||
        !(dn == 1 || (dn == 3 && d[1] == '.' && d[2] >= '0' && d[2] <= '9')))
        return 400;
    if (slash != 4 || memcmp(v, "HTTP", 4) != 0)
        return 505;
    return d[0] == '1' && dn == 3 ? 0 : 505;
}

/* Is the header name p[0, n) name (lower case)? */
static bool hd_named(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* A Content-Length value v[0, n): 1*DIGIT (RFC 9110 §8.6), saturated just above
 * LP_HTTPD_MAX_BODY (any larger value is as too large). false if malformed. */
static bool hd_length(const char *v, size_t n, size_t *out)
{
    size_t len = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        len = len * 10 + (size_t)(v[i] - '0');
        if (len > LP_HTTPD_MAX_BODY)
            len = LP_HTTPD_MAX_BODY + 1;
    }
    *out = len;
    return true;
}

/*
 * Parses the request head req[0, end) in place (NULs are written into it; the path is decoded
 * where it lies). 0 with c->x's method, path and query, c->in_len and c->expect_continue set,
 * or an error status with a reason.
 */
static int hd_parse(struct hd_client *c, size_t end, const char **reason)
{
    char *b = c->req;
    size_t i = 0;
    while (b[i] == '\r' || b[i] == '\n')
        i++;
    char *line = b + i;
    char *nl = memchr(line, '\n', end - i);
    size_t ll = (size_t)(nl - line);
    if (ll && line[ll - 1] == '\r')
        ll--;
    char *sp1 = memchr(line, ' ', ll);
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line + ll - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || sp2 + 1 == line + ll ||
        memchr(sp2 + 1, ' ', (size_t)(line + ll - sp2 - 1))) {
        *reason = "malformed request line (expected METHOD /path HTTP/1.1)";
        return 400;
    }
    int v = hd_version(sp2 + 1, (size_t)(line + ll - sp2 - 1));
    if (v) {
        *reason = v == 505 ? "only HTTP/1.x is served" : "malformed HTTP version";
        return v;
    }
    for (char *p = line; p < sp1; p++)
        if (!hd_tchar((unsigned char)*p)) {
            *reason = "malformed method";
            return 400;
        }
    size_t mlen = (size_t)(sp1 - line);
    bool get = mlen == 3 && memcmp(line, "GET", 3) == 0;
    bool head = mlen == 4 && memcmp(line, "HEAD", 4) == 0;
    bool post = mlen == 4 && memcmp(line, "POST", 4) == 0;
    if (!get && !head && !post) {
        *reason = "only GET, HEAD and POST are served";
        return 405;
    }
    bool http11 = sp2[8] != '0'; /* "HTTP/1.x", checked above: not 1.0 */

    char *t = sp1 + 1;
    size_t tlen = (size_t)(sp2 - t);
    if (t[0] != '/') {
        *reason = "the target must be a path (/path?query)";
        return 400;
    }
    for (size_t k = 0; k < tlen; k++)
        if ((unsigned char)t[k] <= 0x20 || (unsigned char)t[k] >= 0x7f) {
            *reason = "bad character in the target";
            return 400;
        }

    /* The header fields: "name: value" lines, checked; only those that frame the body are
     * read. */
    char *p = nl + 1, *stop = b + end;
    size_t length = 0;
    bool has_length = false, coded = false, expect = false;
    for (;;) {
        char *e = memchr(p, '\n', (size_t)(stop - p));
        size_t n = (size_t)(e - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0)
            break; /* the empty line */
        char *colon = memchr(p, ':', n);
        bool bad = !colon || colon == p;
        for (char *q = p; !bad && q < colon; q++)
            bad = !hd_tchar((unsigned char)*q); /* obs-fold (a leading space) included */
        for (char *q = colon ? colon + 1 : p; !bad && q < p + n; q++)
            bad = ((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f;
        if (bad) {
            *reason = "malformed header field";
            return 400;
        }
        const char *val = colon + 1, *ve = p + n;
        while (val < ve && (*val == ' ' || *val == '\t'))
            val++;
        while (ve > val && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t namelen = (size_t)(colon - p), vlen = (size_t)(ve - val), value;
        if (hd_named(p, namelen, "content-length")) {
            if (!hd_length(val, vlen, &value)) {
                *reason = "malformed Content-Length (expected one decimal number)";
                return 400;
            }
            if (has_length && value != length) {
                *reason = "conflicting Content-Length fields";
                return 400;
            }
            has_length = true;
            length = value;
        } else if (hd_named(p, namelen, "transfer-encoding")) {
            coded = true; /* whatever the coding: only Content-Length is read */
        } else if (hd_named(p, namelen, "expect")) {
            expect = hd_named(val, vlen, "100-continue");
        }
        p = e + 1;
    }
    if (coded) {
        *reason = "Transfer-Encoding is not supported: send the body with Content-Length";
        return 411;
    }
    if (post && !has_length) {
        *reason = "a POST needs Content-Length";
        return 411;
    }
    if (post && length > LP_HTTPD_MAX_BODY) {
        *reason = "the body exceeds 1048576 bytes";
        return 413;
    }

    /* Only now, as nothing above reads them again: the NULs and the decoded path. */
    char *q = memchr(t, '?', tlen);
    size_t plen = q ? (size_t)(q - t) : tlen;
    *sp2 = '\0';
    if (hd_decode(t, plen, t, plen + 1, false) < 0) {
        *reason = "malformed percent-escape (or %00) in the path";
        return 400;
    }
    c->head_only = head;
    c->in_len = post ? length : 0; /* GET, HEAD: a body is discarded after the answer */
    c->expect_continue = post && expect && http11;
    c->x.method = get ? "GET" : head ? "HEAD" : "POST";
    c->x.path = t;
    c->x.query = q ? q + 1 : "";
    return 0;
}

bool lp_http_query_get(const char *query, const char *name, char *out, size_t size)
{
    if (!out || size == 0)
        return false;
    out[0] = '\0';
    if (!query || !name)
        return false;
    size_t nlen = strlen(name);
    for (const char *p = query; *p;) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : n;
        /* The name, decoded on the fly and compared. */
        char key[64];
        long kd = hd_decode(p, klen, key, sizeof key, true);
        if (kd >= 0 && (size_t)kd == nlen && memcmp(key, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : p + n;
            long vd = hd_decode(v, (size_t)(p + n - v), out, size, true);
            if (vd >= 0)
                return true;
            out[0] = '\0';
            if (vd == -2)
                return false;
            /* A malformed escape: the pair is dropped, as Go's url.ParseQuery does. */
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return false;
}

/* ---- the response ----------------------------------------------------------------------- */

static const char *hd_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: break;
    }
    return status < 300 ? "OK" : status < 400 ? "Redirection" : status < 500 ? "Client Error"
                                                                            : "Server Error";
}

/* A header value from the handler, if it is short and has no character that could end the
 * header (or, for a file name, the quoted string); NULL otherwise. */
static const char *hd_field(const char *s, bool quoted)
{
    if (!s)
        return NULL;
    size_t n = strnlen(s, HD_FIELD_MAX + 1);
    if (n == 0 || n > HD_FIELD_MAX)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || (quoted && (c == '"' || c == '\\')))
            return NULL;
    }
    return s;
}

static void hd_sending(struct hd_client *c, uint64_t now)
{
    hd_unmap(c);
    c->state = HD_SEND;
    c->head_off = 0;
    c->body_off = 0;
    c->deadline = now + LP_HTTPD_SEND_NS;
}

/* An answer the server makes itself: a one-line text/plain body, in head. */
static void hd_error(struct hd_client *c, int status, const char *reason, uint64_t now)
{
    char body[192];
    size_t blen = lp_fmt_sigsafe(body, sizeof body, "%d %s: %s\n", status, hd_reason(status),
                                 reason);
    hd_close(&c->body);
    c->body_len = 0;
    c->head_len = lp_fmt_sigsafe(c->head, sizeof c->head,
                                 "HTTP/1.1 %d %s\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Length: %zu\r\n"
                                 "%s"
                                 "Connection: close\r\n"
                                 "Cache-Control: no-store\r\n"
                                 "\r\n%s",
                                 status, hd_reason(status), blen,
                                 status == 405 ? "Allow: GET, HEAD, POST\r\n" : "",
                                 c->head_only ? "" : body);
    hd_sending(c, now);
}

/* The handler's answer: the head now, the body from the memfd as the socket takes it. */
static void hd_answer(struct hd_client *c, uint64_t now)
{
    struct stat st;
    if (!hd_valid(&c->body) || fstat(c->body.fd, &st) < 0)
        return hd_error(c, 500, "the answer's memfd was lost", now);
    int status = c->x.status >= 200 && c->x.status <= 599 ? c->x.status : 500;
    const char *type = hd_field(c->x.content_type, false);
    const char *name = hd_field(c->x.disposition, true);
    char disp[HD_FIELD_MAX + 64] = "";
    if (name)
        lp_fmt_sigsafe(disp, sizeof disp, "Content-Disposition: attachment; "
                       "filename=\"%s\"\r\n", name);
    c->body_len = (uint64_t)st.st_size;
    c->head_len = lp_fmt_sigsafe(c->head, sizeof c->head,
                                 "HTTP/1.1 %d %s\r\n"
                                 "Content-Type: %s\r\n"
                                 "Content-Length: %llu\r\n"
                                 "%s"
                                 "Connection: close\r\n"
                                 "Cache-Control: no-store\r\n"
                                 "\r\n",
                                 status, hd_reason(status),
                                 type ? type : "application/octet-stream",
                                 (unsigned long long)c->body_len, disp);
    if (c->head_only)
        c->body_len = 0;
    hd_sending(c, now);
}

/* A client whose handler has not answered: the handler is called with ABORT to clean up. */
static void hd_abort(struct lp_httpd *h, struct hd_client *c, uint64_t now)
{
    if (c->state != HD_WAIT)
        return;
    c->state = HD_SEND; /* not WAIT any more: never aborted twice */
    c->x.phase = LP_HTTP_ABORT;
    c->x.now_ns = now;
    c->x.body_fd = -1;
    c->x.body = NULL;
    c->x.body_len = 0;
    h->handler(&c->x, h->arg);
}

/* Frees the slot. A client whose handler has not answered gets it called with ABORT first.
 * reset: an abortive close (RST), for clients that are dropped rather than done — the kernel
 * then frees what it still holds for them at once. */
static void hd_drop(struct lp_httpd *h, struct hd_client *c, bool reset, uint64_t now)
{
    hd_abort(h, c, now);
    hd_unmap(c);
    hd_close(&c->body);
    if (hd_valid(&c->sock)) {
        if (reset) {
            struct linger lg = { 1, 0 };
            setsockopt(c->sock.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        lp_sys_close(c->sock.fd);
    }
    c->sock.fd = -1;
    c->state = HD_FREE;
}

/* Calls the handler (NEW or RESUME) with an empty memfd, then answers or waits. */
static void hd_call(struct lp_httpd *h, struct hd_client *c, enum lp_http_phase phase,
                    uint64_t now)
{
    if (hd_valid(&c->body) &&
        (ftruncate(c->body.fd, 0) < 0 || lseek(c->body.fd, 0, SEEK_SET) < 0))
        hd_close(&c->body);
    if (c->body.fd < 0) {
        int rc = hd_take(h, &c->body, memfd_create("lockprof-http", MFD_CLOEXEC));
        if (rc < 0) {
            char reason[96];
            lp_fmt_sigsafe(reason, sizeof reason, "cannot create a memfd: %s",
                           hd_strerror(-rc));
            hd_abort(h, c, now);
            return hd_error(c, 503, reason, now);
        }
    }
    c->x.phase = phase;
    c->x.now_ns = now;
    c->x.body_fd = c->body.fd;
    c->x.status = 0;
    c->x.content_type = NULL;
    c->x.disposition = NULL;
    c->x.resume_at_ns = 0;
    h->handler(&c->x, h->arg);
    if (c->x.resume_at_ns) {
        c->state = HD_WAIT;
        c->deadline = c->x.resume_at_ns;
        return;
    }
    c->state = HD_SEND; /* the handler has answered: nothing to abort any more */
    hd_answer(c, now);
}

/* ---- the loop --------------------------------------------------------------------------- */

/* BODY: n more bytes of the body have arrived in c->in (0 to just check); the handler is
 * called once it is whole. */
static void hd_body(struct lp_httpd *h, struct hd_client *c, size_t n, uint64_t now)
{
    c->in_got += n;
    if (c->in_got < c->in_len)
        return;
    c->x.body = c->in;
    c->x.body_len = c->in_len;
    hd_call(h, c, LP_HTTP_NEW, now);
}

static void hd_recv_body(struct lp_httpd *h, struct hd_client *c, uint64_t now)
{
    ssize_t n = recv(c->sock.fd, c->in + c->in_got, c->in_len - c->in_got, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0)
        return hd_drop(h, c, false, now); /* gone before its body was whole */
    hd_body(h, c, (size_t)n, now);
}

static void hd_recv(struct lp_httpd *h, struct hd_client *c, uint64_t now)
{
    ssize_t n = recv(c->sock.fd, c->req + c->len, LP_HTTPD_MAX_HEADER - c->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0)
        return hd_drop(h, c, false, now); /* gone before its request was whole */
    c->len += (size_t)n;
    size_t end = hd_head_end(c->req, c->len);
    if (!end) {
        if (c->len == LP_HTTPD_MAX_HEADER)
            hd_error(c, 431, "the request head exceeds 8192 bytes", now);
        return;
    }
    const char *reason = "";
    int status = hd_parse(c, end, &reason);
    if (status)
        return hd_error(c, status, reason, now);
    c->x.state = NULL;
    if (c->in_len == 0) {
        if (strcmp(c->x.method, "POST") == 0)
            c->x.body = ""; /* Content-Length: 0 */
        return hd_call(h, c, LP_HTTP_NEW, now);
    }

    /* A POST body: its buffer, the bytes that came with the head, then BODY for the rest. */
    void *in = mmap(NULL, c->in_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                    0);
    if (in == MAP_FAILED) {
        char why[96];
        lp_fmt_sigsafe(why, sizeof why, "cannot map %zu bytes for the body: %s", c->in_len,
                       hd_strerror(errno));
        return hd_error(c, 503, why, now);
    }
    c->in = in;
    c->in_got = c->len - end < c->in_len ? c->len - end : c->in_len;
    memcpy(c->in, c->req + end, c->in_got);
    c->state = HD_BODY;
    if (c->in_got < c->in_len && c->expect_continue) {
        /* The first bytes on a fresh socket: all of them fit in its empty send buffer. If
         * not even that, the client sends its body anyway after its own wait (curl: 1 s);
         * only half an interim answer would garble the final one. */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        ssize_t sent = send(c->sock.fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0 && (size_t)sent < sizeof cont - 1)
            return hd_drop(h, c, true, now);
    }
    hd_body(h, c, 0, now);
}

static void hd_send(struct lp_httpd *h, struct hd_client *c, uint64_t now)
{
    for (int round = 0; round < HD_SENDS_PER_WAKEUP; round++) {
        ssize_t n;
        if (c->head_off < c->head_len) {
            int more = c->body_off < c->body_len ? MSG_MORE : 0;
            n = send(c->sock.fd, c->head + c->head_off, c->head_len - c->head_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT | more);
            if (n > 0)
                c->head_off += (size_t)n;
        } else if (c->body_off < c->body_len) {
            if (!hd_valid(&c->body))
                return hd_drop(h, c, true, now);
            uint64_t left = c->body_len - c->body_off;
            size_t want = left < HD_CHUNK ? (size_t)left : HD_CHUNK;
            ssize_t r = pread(c->body.fd, h->chunk, want, (off_t)c->body_off);
            if (r <= 0)
                return hd_drop(h, c, true, now); /* the memfd shrank: cannot keep our word */
            n = send(c->sock.fd, h->chunk, (size_t)r, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                c->body_off += (uint64_t)n;
        } else {
            /* All sent. Our FIN goes after the data; the client closes in turn. */
            hd_close(&c->body);
            shutdown(c->sock.fd, SHUT_WR);
            c->state = HD_LINGER;
            c->deadline = now + HD_LINGER_NS;
            c->linger_left = HD_LINGER_BYTES;
            return;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0)
            return hd_drop(h, c, true, now);
        c->deadline = now + LP_HTTPD_SEND_NS;
    }
}

static void hd_linger(struct lp_httpd *h, struct hd_client *c, uint64_t now)
{
    for (int round = 0; round < HD_SENDS_PER_WAKEUP; round++) {
        ssize_t n = recv(c->sock.fd, h->chunk, sizeof h->chunk, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0)
            return hd_drop(h, c, false, now);
        if ((size_t)n >= c->linger_left)
            return hd_drop(h, c, true, now); /* a body too large to read whole (413) */
        c->linger_left -= (size_t)n;
    }
}

/* A client's poll events, its descriptor checked first. */
static void hd_client_io(struct lp_httpd *h, struct hd_client *c, short revents,
                         uint64_t now)
{
    if (!hd_valid(&c->sock))
        return hd_drop(h, c, false, now); /* forgotten, not closed */
    switch (c->state) {
    case HD_RECV:
        if (revents & (POLLIN | POLLHUP | POLLERR))
            hd_recv(h, c, now);
        break;
    case HD_BODY:
        if (revents & (POLLIN | POLLHUP | POLLERR))
            hd_recv_body(h, c, now);
        break;
    case HD_WAIT:
        if (revents & (POLLRDHUP | POLLHUP | POLLERR))
            hd_drop(h, c, false, now); /* hung up while the handler waits: ABORT */
        break;
    case HD_SEND:
        if (revents & (POLLOUT | POLLHUP | POLLERR))
            hd_send(h, c, now);
        break;
    case HD_LINGER:
        if (revents & (POLLIN | POLLHUP | POLLERR))
            hd_linger(h, c, now);
        break;
    case HD_FREE:
        break;
    }
}

static void hd_accept(struct lp_httpd *h, uint64_t now)
{
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
        struct hd_client *c = &h->clients[i];
        if (c->state != HD_FREE)
            continue;
        if (!hd_valid(&h->listener))
            return; /* lost: reopened by the loop */
        int fd = accept4(h->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)
                continue; /* that connection is gone; the slot stays free for the next */
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                h->listen_at = now + LP_HTTPD_TICK_NS; /* EMFILE…: not in a busy loop */
            return;
        }
        if (hd_take(h, &c->sock, fd) < 0)
            continue;
        c->state = HD_RECV;
        c->len = 0;
        c->head_only = false;
        c->expect_continue = false;
        c->in = NULL;
        c->in_len = c->in_got = 0;
        c->deadline = now + LP_HTTPD_REQUEST_NS;
        memset(&c->x, 0, sizeof c->x);
        c->x.body_fd = -1;
    }
}

/* At every tick: every descriptor checked; a lost listener (or a unix socket file removed
 * from under it) opened again, at most once a tick. */
static void hd_tick(struct lp_httpd *h, uint64_t now)
{
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
        struct hd_client *c = &h->clients[i];
        if (c->state == HD_FREE)
            continue;
        if (!hd_valid(&c->sock)) {
            hd_drop(h, c, false, now);
            continue;
        }
        if (c->body.fd >= 0)
            hd_valid(&c->body); /* forgotten if lost; noticed when next used */
    }
    if (h->listener.fd >= 0 && hd_valid(&h->listener) && h->addr.sa.sa_family == AF_UNIX) {
        struct stat st;
        if (lstat(h->addr.un.sun_path, &st) < 0 && errno == ENOENT)
            hd_close(&h->listener); /* removed (a /tmp cleaner?): bound again below */
    }
}

static void hd_relisten(struct lp_httpd *h, uint64_t now)
{
    char why[256];
    if (hd_listen(h, why, sizeof why) == 0) {
        if (h->lost_reported)
            lp_log_sigsafe("HTTP: listening again on %s", h->address);
        h->lost_reported = false;
        return;
    }
    h->listen_at = now + LP_HTTPD_TICK_NS;
    if (!h->lost_reported)
        lp_log_sigsafe("HTTP: the listener on %s was closed (closefrom?) and cannot be "
                       "opened again yet: %s; retrying", h->address, why);
    h->lost_reported = true;
}

/* Deadlines: 408 for a request that has not arrived, the handler's resume time, a client
 * that stopped reading, the end of lingering. */
static void hd_timers(struct lp_httpd *h, uint64_t now)
{
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
        struct hd_client *c = &h->clients[i];
        if (c->state == HD_FREE || now < c->deadline)
            continue;
        switch (c->state) {
        case HD_RECV:
        case HD_BODY:
            hd_error(c, 408, "the request did not arrive within 5 seconds", now);
            break;
        case HD_WAIT:
            hd_call(h, c, LP_HTTP_RESUME, now);
            break;
        case HD_SEND:
            hd_drop(h, c, true, now);
            break;
        case HD_LINGER:
            hd_drop(h, c, false, now);
            break;
        case HD_FREE:
            break;
        }
    }
}

int lp_httpd_serve(struct lp_httpd *h, lp_http_handler_fn handler, void *arg)
{
    if (!h || !handler)
        return -EINVAL;
    h->handler = handler;
    h->arg = arg;
    for (;;) {
        struct pollfd pfd[LP_HTTPD_MAX_CLIENTS + 1];
        int who[LP_HTTPD_MAX_CLIENTS + 1];
        nfds_t n = 0;
        uint64_t now = lp_clock_monotonic();
        if (now >= h->check_at) {
            h->check_at = now + LP_HTTPD_TICK_NS;
            hd_tick(h, now);
        }
        if (h->listener.fd < 0 && now >= h->listen_at)
            hd_relisten(h, now);
        hd_timers(h, now);

        uint64_t wake = h->check_at;
        bool room = false;
        for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
            struct hd_client *c = &h->clients[i];
            static const short events[] = {
                [HD_FREE] = 0, [HD_RECV] = POLLIN, [HD_BODY] = POLLIN, [HD_WAIT] = POLLRDHUP,
                [HD_SEND] = POLLOUT, [HD_LINGER] = POLLIN,
            };
            if (c->state == HD_FREE) {
                room = true;
                continue;
            }
            pfd[n] = (struct pollfd){ .fd = c->sock.fd, .events = events[c->state] };
            who[n++] = i;
            if (c->deadline < wake)
                wake = c->deadline;
        }
        /* While every slot is taken, new connections wait in the kernel's backlog. */
        if (h->listener.fd >= 0 && room && now >= h->listen_at) {
            pfd[n] = (struct pollfd){ .fd = h->listener.fd, .events = POLLIN };
            who[n++] = -1;
        } else if (h->listen_at > now && h->listen_at < wake) {
            wake = h->listen_at;
        }
        uint64_t ms = wake > now ? (wake - now + 999999) / 1000000 : 0;
        int r = poll(pfd, n, (int)ms);
        if (r < 0 && errno != EINTR) {
            poll(NULL, 0, (int)(LP_HTTPD_TICK_NS / 1000000)); /* ENOMEM: wait a tick */
            continue;
        }
        now = lp_clock_monotonic();
        for (nfds_t k = 0; r > 0 && k < n; k++) {
            if (!pfd[k].revents)
                continue;
            if (who[k] < 0)
                hd_accept(h, now);
            else if (h->clients[who[k]].state != HD_FREE)
                hd_client_io(h, &h->clients[who[k]], pfd[k].revents, now);
        }
    }
}
