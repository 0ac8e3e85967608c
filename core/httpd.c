/*
 * httpd.c — see httpd.h. The listener and the descriptors' rules are httplisten.c's, the
 * request's head is parsed by httpreq.c; here are the clients, their answers and the loop.
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
 *   - Every descriptor is checked (httplisten.h) before each use and at every tick: another
 *     thread closing a descriptor this thread polls does not wake poll.
 */
#include "httpd.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "httplisten.h"
#include "log.h"
#include "sys.h"

#define HD_HEAD_SIZE 1024          /* status line + headers (+ a server-made body) */
#define HD_CHUNK (64 * 1024)       /* body bytes read from the memfd per send */
#define HD_SENDS_PER_WAKEUP 16     /* so that one fast client does not starve the others */
#define HD_LINGER_NS (1000000000ULL) /* after the response: how long to wait for the client */
#define HD_LINGER_BYTES (2u << 20) /* … and how much of what it still sends to discard */
#define HD_FIELD_MAX 128           /* longest Content-Type or disposition file name sent */

enum hd_state { HD_FREE, HD_RECV, HD_BODY, HD_WAIT, HD_SEND, HD_LINGER };

struct hd_client {
    enum hd_state state;
    struct lp_fdid sock;
    struct lp_fdid body;     /* the memfd of the answer (-1 for a server-made answer) */
    uint64_t deadline;       /* RECV, BODY: the request's; WAIT: resume time; SEND: no
                                progress; LINGER: the end of lingering */
    size_t len;              /* bytes of the request in req */
    bool head_only;          /* HEAD: no body is sent */
    char *in;                /* BODY, WAIT: the request's body, mapped (NULL: none) */
    size_t in_len, in_got;   /* its length (Content-Length; 0 for GET, HEAD), bytes arrived */
    size_t linger_left;      /* LINGER: bytes still to discard before closing */
    bool http11;             /* the request is HTTP/1.1 or later: it may be sent a 1xx */
    bool half_closed;        /* WAIT: the client shut its sending side and still reads */
    char *req;               /* LP_HTTPD_MAX_HEADER bytes in the mapping */
    char head[HD_HEAD_SIZE]; /* the response's head (and a server-made body) */
    size_t head_len, head_off;
    uint64_t body_len, body_off;
    struct lp_http_exchange x;
};

/* Everything belongs to the thread in lp_httpd_serve, except listen.sock.fd (atomic). */
struct lp_httpd {
    struct lp_httplisten listen;
    uint64_t listen_at;       /* poll the listener / try to reopen it from this time on */
    uint64_t check_at;        /* the next tick's check of every descriptor */
    lp_http_handler_fn handler;
    void *arg;
    const uint32_t *stop;     /* atomic word: serve ends when it is non-zero; NULL: never */
    struct hd_client clients[LP_HTTPD_MAX_CLIENTS];
    char chunk[HD_CHUNK];
    char reqs[LP_HTTPD_MAX_CLIENTS][LP_HTTPD_MAX_HEADER];
};

/* The request's body buffer given back (the handler has answered, or no answer will come). */
static void hd_unmap(struct hd_client *c)
{
    if (c->in)
        munmap(c->in, c->in_len);
    c->in = NULL;
    c->x.body = NULL;
    c->x.body_len = 0;
}

/* ---- the response ----------------------------------------------------------------------- */

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
    size_t blen = lp_fmt_sigsafe(body, sizeof body, "%d %s: %s\n", status,
                                 lp_httpreq_reason(status), reason);
    lp_httplisten_fd_close(&c->body);
    c->body_len = 0;
    c->head_len = lp_fmt_sigsafe(c->head, sizeof c->head,
                                 "HTTP/1.1 %d %s\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Length: %zu\r\n"
                                 "%s"
                                 "Connection: close\r\n"
                                 "Cache-Control: no-store\r\n"
                                 "\r\n%s",
                                 status, lp_httpreq_reason(status), blen,
                                 status == 405 ? "Allow: GET, HEAD, POST\r\n" : "",
                                 c->head_only ? "" : body);
    hd_sending(c, now);
}

/* The handler's answer: the head now, the body from the memfd as the socket takes it. */
static void hd_answer(struct hd_client *c, uint64_t now)
{
    struct stat st;
    if (!lp_httplisten_fd_check(&c->body) || lp_sys_fstat(c->body.fd, &st) < 0)
        return hd_error(c, 500, "the answer's memfd was lost", now);
    int status = c->x.status >= 200 && c->x.status <= 599 ? c->x.status : 500;
    const char *type = hd_field(c->x.content_type, false);
    const char *name = hd_field(c->x.disposition, true);
    char disp[HD_FIELD_MAX + 64] = "";
    if (name)
        lp_fmt_sigsafe(disp, sizeof disp, "Content-Disposition: attachment; "
                       "filename=\"%s\"\r\n", name);
    /* As Go's net/http/pprof marks its error answers: go tool pprof then shows the body (the
     * handler's one line) instead of the bare status. */
    bool go_error = status >= 400 && type && strncmp(type, "text/plain", 10) == 0;
    c->body_len = (uint64_t)st.st_size;
    c->head_len = lp_fmt_sigsafe(c->head, sizeof c->head,
                                 "HTTP/1.1 %d %s\r\n"
                                 "Content-Type: %s\r\n"
                                 "Content-Length: %llu\r\n"
                                 "%s%s"
                                 "Connection: close\r\n"
                                 "Cache-Control: no-store\r\n"
                                 "\r\n",
                                 status, lp_httpreq_reason(status),
                                 type ? type : "application/octet-stream",
                                 (unsigned long long)c->body_len, disp,
                                 go_error ? "X-Go-Pprof: 1\r\n" : "");
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
    lp_httplisten_fd_close(&c->body);
    if (lp_httplisten_fd_check(&c->sock)) {
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
    if (lp_httplisten_fd_check(&c->body) &&
        (ftruncate(c->body.fd, 0) < 0 || lseek(c->body.fd, 0, SEEK_SET) < 0))
        lp_httplisten_fd_close(&c->body);
    if (c->body.fd < 0) {
        int rc = lp_httplisten_fd_take(&h->listen, &c->body,
                                       memfd_create("lockprof-http", MFD_CLOEXEC));
        if (rc < 0) {
            char reason[96];
            lp_fmt_sigsafe(reason, sizeof reason, "cannot create a memfd: %s",
                           lp_httplisten_strerror(-rc));
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
    struct lp_httpreq r;
    switch (lp_httpreq_parse(c->req, c->len, LP_HTTPD_MAX_HEADER, LP_HTTPD_MAX_BODY, &r)) {
    case LP_HTTPREQ_INCOMPLETE:
        return;
    case LP_HTTPREQ_ERROR:
        return hd_error(c, r.status, r.reason, now);
    case LP_HTTPREQ_COMPLETE:
        break;
    }
    size_t end = r.head_len;
    c->head_only = r.head_only;
    c->http11 = r.minor >= 1;
    c->in_len = r.body_len; /* GET, HEAD: a body is discarded after the answer */
    c->x.method = r.method;
    c->x.path = r.path;
    c->x.query = r.query;
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
                       lp_httplisten_strerror(errno));
        return hd_error(c, 503, why, now);
    }
    c->in = in;
    c->in_got = c->len - end < c->in_len ? c->len - end : c->in_len;
    memcpy(c->in, c->req + end, c->in_got);
    c->state = HD_BODY;
    if (c->in_got < c->in_len && r.expect_continue) {
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
            if (!lp_httplisten_fd_check(&c->body))
                return hd_drop(h, c, true, now);
            uint64_t left = c->body_len - c->body_off;
            size_t want = left < HD_CHUNK ? (size_t)left : HD_CHUNK;
            ssize_t r = lp_sys_pread(c->body.fd, h->chunk, want, (off_t)c->body_off);
            if (r <= 0)
                return hd_drop(h, c, true, now); /* the memfd shrank: cannot keep our word */
            n = send(c->sock.fd, h->chunk, (size_t)r, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                c->body_off += (uint64_t)n;
        } else {
            /* All sent. Our FIN goes after the data; the client closes in turn. */
            lp_httplisten_fd_close(&c->body);
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

/*
 * WAIT: the client's FIN. Over TCP, a client that only shut its sending side (nc -N) and one
 * that closed its socket send the same FIN. An interim "100 Continue" (which HTTP/1.1 clients
 * skip, as many as come) tells them apart: a closed socket answers it with a reset, seen as
 * POLLERR or POLLHUP on the next poll (ABORT then), a half-closed one reads it and gets its
 * answer after the wait. A half-closed client may still close later: the probe is sent again
 * every tick while the last one has left the send queue (so no part of one is ever left
 * before the answer). HTTP/1.0 clients may not be sent a 1xx: their FIN is taken for a
 * hang-up, as Go's server takes every FIN.
 */
static bool hd_continue(struct hd_client *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    int queued = 0;
    if (ioctl(c->sock.fd, SIOCOUTQ, &queued) < 0 || queued > 0)
        return true; /* the last one still on its way: no news yet */
    ssize_t sent = send(c->sock.fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    return sent == (ssize_t)(sizeof cont - 1);
}

static void hd_probe(struct lp_httpd *h, struct hd_client *c, uint64_t now)
{
    if (!c->http11 || !hd_continue(c))
        return hd_drop(h, c, c->http11, now);
    c->half_closed = true; /* only a reset or a hang-up is news now */
}

/* A client's poll events, its descriptor checked first. */
static void hd_client_io(struct lp_httpd *h, struct hd_client *c, short revents,
                         uint64_t now)
{
    if (!lp_httplisten_fd_check(&c->sock))
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
        if (revents & (POLLHUP | POLLERR))
            hd_drop(h, c, false, now); /* hung up while the handler waits: ABORT */
        else if (revents & POLLRDHUP)
            hd_probe(h, c, now);
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
        if (!lp_httplisten_fd_check(&h->listen.sock))
            return; /* lost: reopened by the loop */
        int fd = accept4(h->listen.sock.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)
                continue; /* that connection is gone; the slot stays free for the next */
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                h->listen_at = now + LP_HTTPD_TICK_NS; /* EMFILE…: not in a busy loop */
            return;
        }
        if (lp_httplisten_fd_take(&h->listen, &c->sock, fd) < 0)
            continue;
        c->state = HD_RECV;
        c->len = 0;
        c->head_only = false;
        c->in = NULL;
        c->in_len = c->in_got = 0;
        c->half_closed = false;
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
        if (!lp_httplisten_fd_check(&c->sock)) {
            hd_drop(h, c, false, now);
            continue;
        }
        if (c->body.fd >= 0)
            lp_httplisten_fd_check(&c->body); /* forgotten if lost; noticed when next used */
        if (c->state == HD_WAIT && c->half_closed && !hd_continue(c))
            hd_drop(h, c, true, now); /* gone: ABORT */
    }
    lp_httplisten_check(&h->listen);
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
        if (h->stop && __atomic_load_n(h->stop, __ATOMIC_ACQUIRE))
            return 0;
        uint64_t now = lp_clock_monotonic();
        if (now >= h->check_at) {
            h->check_at = now + LP_HTTPD_TICK_NS;
            hd_tick(h, now);
        }
        if (h->listen.sock.fd < 0 && now >= h->listen_at)
            if (lp_httplisten_reopen(&h->listen) < 0)
                h->listen_at = now + LP_HTTPD_TICK_NS;
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
            short want = events[c->state];
            if (c->state == HD_WAIT && c->half_closed)
                want = 0; /* only a hang-up (POLLHUP, POLLERR) is news now */
            pfd[n] = (struct pollfd){ .fd = c->sock.fd, .events = want };
            who[n++] = i;
            if (c->deadline < wake)
                wake = c->deadline;
        }
        /* While every slot is taken, new connections wait in the kernel's backlog. */
        if (h->listen.sock.fd >= 0 && room && now >= h->listen_at) {
            pfd[n] = (struct pollfd){ .fd = h->listen.sock.fd, .events = POLLIN };
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

/* ---- the public entry points ----------------------------------------------------------- */

void lp_httpd_stop_on(struct lp_httpd *h, const uint32_t *stop)
{
    h->stop = stop;
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
                       sizeof *h, lp_httplisten_strerror(errno));
        return -ENOMEM;
    }
    h->listen.sock.fd = -1;
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
        h->clients[i].sock.fd = -1;
        h->clients[i].body.fd = -1;
        h->clients[i].req = h->reqs[i];
    }
    rc = lp_httplisten_open(&h->listen, spec, allow_remote, why, sizeof why);
    if (rc < 0) {
        lp_fmt_sigsafe(err, errsize, "LOCKPROF_HTTP='%s': %s", spec, why);
        munmap(h, sizeof *h);
        return rc;
    }
    *out = h;
    if (errsize)
        err[0] = '\0';
    return 0;
}

const char *lp_httpd_address(const struct lp_httpd *h)
{
    return h->listen.address;
}

int lp_httpd_listener_fd(const struct lp_httpd *h)
{
    return lp_httplisten_fd(&h->listen);
}

void lp_httpd_close_fds(struct lp_httpd *h)
{
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
        lp_httplisten_fd_close(&h->clients[i].sock);
        lp_httplisten_fd_close(&h->clients[i].body);
        /* A fork's child: the body buffer is forgotten, not unmapped — the parent may have
         * unmapped it just before fork, and the range may hold something else by now. */
        h->clients[i].in = NULL;
        h->clients[i].x.body = NULL;
        h->clients[i].x.body_len = 0;
        h->clients[i].state = HD_FREE;
    }
    lp_httplisten_fd_close(&h->listen.sock);
}
