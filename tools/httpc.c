/* httpc.c — the HTTP/1.1 client of `lockprof fetch` and of the tests (httpc.h). */
#include "httpc.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

/* The reason of a failure, into c->err; returns rc. Without memory for it, a fixed one. */
static int httpc_fail(struct lp_httpc_call *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int httpc_fail(struct lp_httpc_call *c, int rc, const char *fmt, ...)
{
    va_list ap;
    free(c->err);
    va_start(ap, fmt);
    if (vasprintf(&c->err, fmt, ap) < 0)
        c->err = NULL;
    va_end(ap);
    return rc;
}

int64_t lp_httpc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lp_httpc_call_init(struct lp_httpc_call *c, uint64_t limit_s, size_t max_bytes)
{
    memset(c, 0, sizeof *c);
    c->limit_s = limit_s;
    c->deadline_ms = lp_httpc_now_ms() + (int64_t)limit_s * 1000;
    c->max_bytes = max_bytes;
}

void lp_httpc_call_done(struct lp_httpc_call *c)
{
    free(c->err);
    c->err = NULL;
}

/* Waits for events on fd until the deadline: 1 ready, 0 deadline passed, -errno. */
static int httpc_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - lp_httpc_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = events };
        int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* ---- addresses and requests ------------------------------------------------------------- */

bool lp_httpc_path_ok(const char *p)
{
    if (p[0] != '/' || strlen(p) > 4096)
        return false;
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
            return false;
    return true;
}

void lp_httpc_addr_free(struct lp_httpc_addr *a)
{
    free(a->host);
    free(a->port);
    free(a->unix_path);
    free(a->url_path);
    free(a->display);
    memset(a, 0, sizeof *a);
}

/* The reason an address is refused, into err; -EINVAL. */
static int httpc_bad_address(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int httpc_bad_address(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The part after "unix:". */
static int httpc_parse_unix(const char *given, struct lp_httpc_addr *a, char *err, size_t size)
{
    struct sockaddr_un sun;
    const char *path = given + 5;
    if (!*path)
        return httpc_bad_address(err, size, "address '%s': expected unix:PATH", given);
    if (strlen(path) >= sizeof sun.sun_path)
        return httpc_bad_address(err, size, "address '%s': a socket path has at most %zu bytes",
                                 given, sizeof sun.sun_path - 1);
    a->unix_path = strdup(path);
    a->display = strdup(given);
    return a->unix_path && a->display ? 0 : -ENOMEM;
}

/* An http:// address's path: kept unless it is where the "serving" line points. */
static int httpc_url_path(const char *given, const char *tail, struct lp_httpc_addr *a,
                          char *err, size_t size)
{
    size_t plen = strcspn(tail, "#");
    if (plen == 0)
        return 0;
    char *path;
    if (asprintf(&path, "%s%.*s", tail[0] == '?' ? "/" : "", (int)plen, tail) < 0)
        return -ENOMEM;
    if (strcmp(path, "/") == 0 || strcmp(path, "/debug/pprof") == 0 ||
        strcmp(path, "/debug/pprof/") == 0) {
        free(path);
        return 0;
    }
    if (!lp_httpc_path_ok(path)) {
        free(path);
        return httpc_bad_address(err, size, "address '%s': spaces, control characters and "
                                 "non-ASCII in a path must be percent-encoded", given);
    }
    a->url_path = path;
    return 0;
}

/* HOST:PORT, [IPv6]:PORT, with auth the part before any path (modified in place). */
static int httpc_parse_tcp(const char *given, char *auth, bool url, struct lp_httpc_addr *a,
                           char *err, size_t size)
{
    const char *host = auth, *port = NULL;
    if (auth[0] == '[') {
        char *close = strchr(auth, ']');
        if (!close || close == auth + 1 || (close[1] != '\0' && close[1] != ':'))
            return httpc_bad_address(err, size, "address '%s': expected [IPv6 ADDRESS]:PORT",
                                     given);
        *close = '\0';
        host = auth + 1;
        port = close[1] == ':' ? close + 2 : NULL;
        if (strspn(host, "0123456789abcdefABCDEF:.") != strlen(host))
            return httpc_bad_address(err, size, "address '%s': '%s' is not an IPv6 address",
                                     given, host);
    } else {
        char *colon = strrchr(auth, ':');
        if (colon && strchr(auth, ':') != colon)
            return httpc_bad_address(err, size, "address '%s': an IPv6 address goes in "
                                     "brackets: [ADDRESS]:PORT", given);
        if (colon) {
            *colon = '\0';
            port = colon + 1;
        }
        if (!*host)
            host = "localhost";
        for (const char *c = host; *c; c++)
            if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
                !(*c >= '0' && *c <= '9') && *c != '.' && *c != '-' && *c != '_')
                return httpc_bad_address(err, size, "address '%s': '%s' is not a host name",
                                         given, host);
    }
    uint64_t pn = 80;
    if (!port && !url)
        return httpc_bad_address(err, size, "address '%s': expected HOST:PORT", given);
    if (port && (!lp_config_parse_u64(port, &pn) || pn > 65535))
        return httpc_bad_address(err, size, "address '%s': port '%s': expected a number from "
                                 "1 to 65535", given, port);
    if (pn == 0)
        return httpc_bad_address(err, size, "address '%s': port 0: the program chose its "
                                 "port; its 'lockprof: serving' line says which", given);
    a->host = strdup(host);
    if (asprintf(&a->port, "%" PRIu64, pn) < 0)
        a->port = NULL;
    if (!a->host || !a->port)
        return -ENOMEM;
    if (asprintf(&a->display, strchr(host, ':') ? "[%s]:%s" : "%s:%s", a->host, a->port) < 0) {
        a->display = NULL;
        return -ENOMEM;
    }
    return 0;
}

int lp_httpc_parse_address(const char *given, struct lp_httpc_addr *a, char *err, size_t size)
{
    memset(a, 0, sizeof *a);
    int rc;
    if (strncmp(given, "unix:", 5) == 0) {
        rc = httpc_parse_unix(given, a, err, size);
        if (rc < 0)
            lp_httpc_addr_free(a);
        return rc;
    }
    bool url = false;
    const char *rest = given;
    if (strncasecmp(given, "http://", 7) == 0) {
        url = true;
        rest += 7;
    } else if (strncasecmp(given, "https://", 8) == 0) {
        return httpc_bad_address(err, size, "address '%s': lockprof's endpoint speaks plain "
                                 "HTTP, not https", given);
    } else if (strstr(given, "://") || !strchr(given, ':')) {
        return httpc_bad_address(err, size, "address '%s': expected HOST:PORT, "
                                 "http://HOST:PORT or unix:PATH", given);
    }

    size_t alen = strcspn(rest, "/?#");
    char *auth = strndup(rest, alen);
    if (!auth)
        return -ENOMEM;
    /* The host and port are checked before the path, as they come. */
    rc = httpc_parse_tcp(given, auth, url, a, err, size);
    if (rc == 0)
        rc = httpc_url_path(given, rest + alen, a, err, size);
    free(auth);
    if (rc < 0)
        lp_httpc_addr_free(a);
    return rc;
}

char *lp_httpc_request(const char *target, const struct lp_httpc_addr *a, const char *agent)
{
    char *req;
    if (asprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n"
                 "Connection: close\r\n\r\n", target, a->unix_path ? "localhost" : a->display,
                 agent) < 0)
        return NULL;
    return req;
}

/* ---- connect and send ---------------------------------------------------------------------- */

static int httpc_connect_unix(const struct lp_httpc_addr *a, struct lp_httpc_call *c, int *err)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, a->unix_path, strlen(a->unix_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return httpc_fail(c, -errno, "socket: %s", strerror(errno));
    if (c->rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf, sizeof c->rcvbuf);
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
            return fd;
        *err = errno;
        if (*err == EINTR)
            continue;
        /* A full backlog: a unix socket's connect cannot be polled; try again shortly. */
        if (*err != EAGAIN || lp_httpc_now_ms() >= c->deadline_ms)
            break;
        struct timespec ten_ms = { 0, 10000000 };
        nanosleep(&ten_ms, NULL);
    }
    close(fd);
    return -*err;
}

static int httpc_connect_tcp(const struct lp_httpc_addr *a, struct lp_httpc_call *c, int *err)
{
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(a->host, a->port, &hints, &res);
    if (rc != 0) {
        int e = rc == EAI_SYSTEM ? errno : EHOSTUNREACH;
        return httpc_fail(c, -e, "cannot connect to %s: %s", a->display,
                          rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    }
    for (struct addrinfo *ai = res; ai && *err != ETIMEDOUT; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                        ai->ai_protocol);
        if (fd < 0) {
            *err = errno;
            continue;
        }
        if (c->rcvbuf)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf, sizeof c->rcvbuf);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        *err = errno;
        if (*err == EINPROGRESS || *err == EINTR) {
            int w = httpc_wait(fd, POLLOUT, c->deadline_ms);
            socklen_t len = sizeof *err;
            if (w > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) != 0)
                *err = errno;
            else if (w == 0)
                *err = ETIMEDOUT;
            else if (w < 0)
                *err = -w;
            if (*err == 0) {
                freeaddrinfo(res);
                return fd;
            }
        }
        close(fd);
    }
    freeaddrinfo(res);
    return -*err;
}

int lp_httpc_connect(const struct lp_httpc_addr *a, struct lp_httpc_call *c)
{
    int err = 0;
    int fd = a->unix_path ? httpc_connect_unix(a, c, &err) : httpc_connect_tcp(a, c, &err);
    if (fd >= 0 || err == 0) /* connected, or failed with its reason said */
        return fd;
    if (err == ETIMEDOUT || err == EAGAIN)
        return httpc_fail(c, -ETIMEDOUT, "cannot connect to %s: no answer within %" PRIu64
                          " s", a->display, c->limit_s);
    if (err == ECONNREFUSED || err == ENOENT)
        return httpc_fail(c, -err, "cannot connect to %s: %s (is the program running, with "
                          "LOCKPROF_HTTP=%s?)", a->display, strerror(err), a->display);
    return httpc_fail(c, -err, "cannot connect to %s: %s", a->display, strerror(err));
}

int lp_httpc_send(int fd, const void *req, size_t len, struct lp_httpc_call *c)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, (const char *)req + off, len - off, MSG_NOSIGNAL);
        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        int w = errno == EAGAIN || errno == EWOULDBLOCK ? httpc_wait(fd, POLLOUT, c->deadline_ms)
                                                        : -errno;
        if (w == 0)
            return httpc_fail(c, -ETIMEDOUT, "could not send the request within %" PRIu64
                              " s", c->limit_s);
        if (w < 0)
            return httpc_fail(c, w, "sending the request: %s", strerror(-w));
    }
    return 0;
}

/* ---- the answer -------------------------------------------------------------------------- */

/* The decoder's states: what the next byte of the body may be. */
enum {
    DC_SIZE0,       /* the first hex digit of a chunk size */
    DC_SIZE,        /* more digits, or what ends them */
    DC_EXT,         /* the rest of a size line (an extension), up to its LF */
    DC_DATA,        /* chunk data: d->size bytes more */
    DC_DATA_END,    /* the CRLF or LF after the data */
    DC_DATA_LF,     /* the LF of that CRLF */
    DC_TRAILER,     /* the start of a trailer line; an empty one ends the body */
    DC_TRAILER_CR,  /* after a CR at the start of a trailer line */
    DC_TRAILER_LINE, /* the rest of a trailer field, up to its LF */
    DC_DONE,
    DC_BAD,
};

void lp_httpc_dechunk_init(struct lp_httpc_dechunk *d, size_t max)
{
    memset(d, 0, sizeof *d);
    d->state = DC_SIZE0;
    d->max = max;
}

static int httpc_hex(uint8_t c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int lp_httpc_dechunk(struct lp_httpc_dechunk *d, uint8_t *p, size_t len, size_t *used,
                     size_t *out)
{
    size_t r = 0, w = 0;
    while (r < len && d->state != DC_DONE && d->state != DC_BAD) {
        if (d->state == DC_DATA) {
            size_t n = len - r < d->size ? len - r : (size_t)d->size;
            memmove(p + w, p + r, n);
            w += n;
            r += n;
            d->size -= n;
            if (d->size == 0)
                d->state = DC_DATA_END;
            continue;
        }
        if (d->state == DC_EXT || d->state == DC_TRAILER_LINE) {
            const uint8_t *nl = memchr(p + r, '\n', len - r);
            r = nl ? (size_t)(nl - p) + 1 : len;
            if (nl)
                d->state = d->state == DC_TRAILER_LINE ? DC_TRAILER
                           : d->size                   ? DC_DATA
                                                       : DC_TRAILER;
            continue;
        }
        uint8_t c = p[r++];
        int x = httpc_hex(c);
        switch (d->state) {
        case DC_SIZE0:
        case DC_SIZE:
            if (x >= 0) {
                /* size * 16 + x > max, without overflow */
                if (d->size > d->max / 16 || (uint64_t)x > d->max - d->size * 16)
                    d->state = DC_BAD;
                else
                    d->size = d->size * 16 + (uint64_t)x, d->state = DC_SIZE;
            } else if (d->state == DC_SIZE && (c == ';' || c == ' ' || c == '\t' || c == '\r')) {
                d->state = DC_EXT;
            } else if (d->state == DC_SIZE && c == '\n') {
                d->state = d->size ? DC_DATA : DC_TRAILER;
            } else {
                d->state = DC_BAD;
            }
            break;
        case DC_DATA_END:
            d->state = c == '\r' ? DC_DATA_LF : c == '\n' ? DC_SIZE0 : DC_BAD;
            break;
        case DC_DATA_LF:
            d->state = c == '\n' ? DC_SIZE0 : DC_BAD;
            break;
        case DC_TRAILER:
            d->state = c == '\n' ? DC_DONE : c == '\r' ? DC_TRAILER_CR : DC_TRAILER_LINE;
            break;
        case DC_TRAILER_CR:
            d->state = c == '\n' ? DC_DONE : DC_TRAILER_LINE;
            break;
        }
    }
    d->in += r;
    d->out += w;
    *used = r;
    *out = w;
    return d->state == DC_DONE ? 1 : d->state == DC_BAD ? -EBADMSG : 0;
}

size_t lp_httpc_head_end(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Copies a header value without the surrounding blanks. */
static void httpc_trim_copy(char *out, size_t size, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
        n--;
    snprintf(out, size, "%.*s", (int)n, v);
}

int lp_httpc_parse_head(const uint8_t *buf, size_t head_len, size_t max,
                        struct lp_httpc_answer *ans, char **err)
{
    const char *h = (const char *)buf;
    if (head_len < 13 || strncmp(h, "HTTP/1.", 7) != 0 || h[7] < '0' || h[7] > '9' ||
        h[8] != ' ' || h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' ||
        h[11] < '0' || h[11] > '9' || (h[12] != ' ' && h[12] != '\r' && h[12] != '\n')) {
        *err = strdup("the answer is not HTTP (does that port serve lockprof's endpoint?)");
        return -EBADMSG;
    }
    ans->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    const char *eol = memchr(h, '\n', head_len);
    httpc_trim_copy(ans->reason, sizeof ans->reason, h + 12, (size_t)(eol - h - 12));

    ans->length = -1;
    ans->chunked = false;
    ans->type[0] = '\0';
    for (const char *line = eol + 1; line < h + head_len; line = eol + 1) {
        eol = memchr(line, '\n', (size_t)(h + head_len - line));
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon)
            continue;
        size_t nlen = (size_t)(colon - line), vlen = (size_t)(eol - colon - 1);
        char v[128];
        if (nlen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
            uint64_t n;
            httpc_trim_copy(v, sizeof v, colon + 1, vlen);
            if (!lp_config_parse_u64(v, &n) || n > max ||
                (ans->length >= 0 && (uint64_t)ans->length != n)) {
                if (asprintf(err, "the answer has a bad Content-Length, '%s'", v) < 0)
                    *err = NULL;
                return -EBADMSG;
            }
            ans->length = (int64_t)n;
        } else if (nlen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
            httpc_trim_copy(v, sizeof v, colon + 1, vlen);
            ans->chunked = strcasestr(v, "chunked") != NULL;
        } else if (nlen == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
            httpc_trim_copy(ans->type, sizeof ans->type, colon + 1, vlen);
        }
    }
    if (ans->chunked)
        ans->length = -1; /* RFC 9112 §6.3: chunked wins over Content-Length */
    return 0;
}

void lp_httpc_answer_free(struct lp_httpc_answer *ans)
{
    free(ans->buf);
    memset(ans, 0, sizeof *ans);
}

/* An answer as it arrives. */
struct httpc_rx {
    uint8_t *buf;      /* the head, then the body so far (chunked: decoded); cap + 1 bytes */
    size_t cap;
    size_t len;        /* bytes of buf in use */
    size_t received;   /* bytes read from the socket, at most max_bytes */
    bool complete;     /* the body the head announced is all there */
    struct lp_httpc_dechunk dc;
};

/* Room for the next read: at least 4 KiB when the limit allows (the room that decoding
 * frees is used again first). 0, or -ENOMEM. */
static int httpc_room(struct lp_httpc_call *c, struct httpc_rx *rx)
{
    if (rx->cap - rx->len >= 4096 || rx->cap >= c->max_bytes)
        return 0;
    size_t cap = rx->cap * 2 < c->max_bytes ? rx->cap * 2 : c->max_bytes;
    uint8_t *nb = realloc(rx->buf, cap + 1);
    if (!nb)
        return httpc_fail(c, -ENOMEM, "out of memory");
    rx->buf = nb;
    rx->cap = cap;
    return 0;
}

/*
 * Takes the n bytes just read to rx->buf + rx->len: looks for the head's end among them (and
 * the two before: an end split between reads), parses the head when it is complete, and
 * decodes or keeps the body. 0, or -errno with the reason in c->err.
 */
static int httpc_take(struct lp_httpc_call *c, struct lp_httpc_answer *ans,
                      struct httpc_rx *rx, size_t n)
{
    size_t at = rx->len;
    rx->len += n;
    rx->received += n;
    while (!ans->head_len) {
        size_t from = at > 2 ? at - 2 : 0;
        size_t end = lp_httpc_head_end(rx->buf + from, rx->len - from);
        c->parsed += end ? end : rx->len - from;
        if (!end) {
            if (rx->len > LP_HTTPC_MAX_HEAD)
                return httpc_fail(c, -EBADMSG, "the answer's header is longer than 64 KiB");
            return 0;
        }
        ans->head_len = from + end;
        char *why = NULL;
        if (lp_httpc_parse_head(rx->buf, ans->head_len, c->max_bytes, ans, &why) < 0) {
            httpc_fail(c, -EBADMSG, "%s", why ? why : "the answer's head is malformed");
            free(why);
            return -EBADMSG;
        }
        if (ans->status / 100 == 1 && ans->status != 101) {
            /* An interim answer (RFC 9110 §15.2: "100 Continue" while a window runs): the
             * final one follows it. */
            size_t h = ans->head_len;
            memmove(rx->buf, rx->buf + h, rx->len - h);
            rx->len -= h;
            ans->head_len = 0;
            at = 0;
            continue;
        }
        lp_httpc_dechunk_init(&rx->dc, c->max_bytes);
        at = ans->head_len;
    }
    if (c->head) {
        rx->complete = true;
    } else if (ans->chunked) {
        size_t used, out;
        int rc = lp_httpc_dechunk(&rx->dc, rx->buf + at, rx->len - at, &used, &out);
        c->parsed += used;
        rx->len = at + out;
        if (rc < 0)
            return httpc_fail(c, -EBADMSG, "the answer's chunked encoding is malformed");
        rx->complete = rc > 0;
    } else if (ans->length >= 0) {
        rx->complete = rx->len - ans->head_len >= (uint64_t)ans->length;
    }
    return 0;
}

/* What a close means: the end of a body that only the close delimits, or an answer cut
 * short. 0, or -EPIPE with the reason in c->err. */
static int httpc_closed(struct lp_httpc_call *c, const struct lp_httpc_answer *ans,
                        const struct httpc_rx *rx)
{
    if (!ans->head_len)
        return httpc_fail(c, -EPIPE, "the connection closed %s",
                          rx->len ? "in the middle of the answer's header" : "without an answer");
    if (ans->chunked)
        return httpc_fail(c, -EPIPE, "the connection closed in the middle of the answer");
    if (ans->length >= 0)
        return httpc_fail(c, -EPIPE, "the connection closed after %zu of the answer's %" PRId64
                          " bytes", rx->len - ans->head_len, ans->length);
    return 0;
}

/*
 * Reads until the body is complete or the server closes: 0, or -errno with the reason in
 * c->err. The deadline is looked at after every read, not only when a read would wait: a
 * server that always has a byte more to send is cut off on time all the same.
 */
static int httpc_read_answer(int fd, struct lp_httpc_call *c, struct lp_httpc_answer *ans,
                             struct httpc_rx *rx)
{
    rx->cap = c->max_bytes < 65536 ? c->max_bytes : 65536;
    rx->buf = malloc(rx->cap + 1);
    if (!rx->buf)
        return httpc_fail(c, -ENOMEM, "out of memory");
    for (;;) {
        if (rx->received == c->max_bytes)
            return httpc_fail(c, -EFBIG, "the answer is larger than %zu bytes", c->max_bytes);
        int rc = httpc_room(c, rx);
        if (rc < 0)
            return rc;
        size_t room = rx->cap - rx->len;
        if (room > c->max_bytes - rx->received)
            room = c->max_bytes - rx->received;
        ssize_t n = read(fd, rx->buf + rx->len, room);
        if (n > 0) {
            rc = httpc_take(c, ans, rx, (size_t)n);
            if (rc < 0)
                return rc;
            if (rx->complete)
                return 0;
        } else if (n == 0) {
            return httpc_closed(c, ans, rx);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* Returns at the deadline at the latest (0), which the test below sees. */
            rc = httpc_wait(fd, POLLIN, c->deadline_ms);
            if (rc < 0)
                return httpc_fail(c, rc, "receiving the answer: %s", strerror(-rc));
        } else if (errno != EINTR) {
            return httpc_fail(c, -errno, "receiving the answer: %s", strerror(errno));
        }
        if (lp_httpc_now_ms() >= c->deadline_ms)
            return httpc_fail(c, -ETIMEDOUT, "no complete answer within %" PRIu64 " s%s",
                              c->limit_s, rx->received ? "" : " (the program sent nothing)");
    }
}

int lp_httpc_receive(int fd, struct lp_httpc_call *c, struct lp_httpc_answer *ans)
{
    struct httpc_rx rx;
    memset(&rx, 0, sizeof rx);
    memset(ans, 0, sizeof *ans);
    int rc = httpc_read_answer(fd, c, ans, &rx);
    if (rc < 0) {
        free(rx.buf);
        memset(ans, 0, sizeof *ans);
        return rc;
    }
    size_t body = rx.len - ans->head_len;
    if (c->head)
        body = 0;
    else if (ans->length >= 0)
        body = (size_t)ans->length;
    rx.buf[ans->head_len + body] = '\0';
    ans->buf = rx.buf;
    ans->body = rx.buf + ans->head_len;
    ans->len = body;
    return 0;
}
