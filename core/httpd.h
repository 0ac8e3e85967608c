/*
 * httpd.h — a deliberately small HTTP/1.1 server for lockprof's /debug/pprof endpoint
 * (LOCKPROF_HTTP, DESIGN §4, §6).
 *
 * One thread (the caller's: lockprof's HTTP thread) runs lp_httpd_serve, a poll loop over
 * non-blocking sockets. It serves GET, HEAD and POST (pprof's symbol lookups post their
 * addresses), one request per connection ("Connection: close"), and never lets one client
 * stall another or the program:
 *   - request line + headers at most LP_HTTPD_MAX_HEADER bytes (else 431, then close);
 *   - a POST body must be announced by Content-Length (else 411) and be at most
 *     LP_HTTPD_MAX_BODY bytes (else 413, answered at once, before the body is read);
 *   - the whole request, head and body, must arrive within LP_HTTPD_REQUEST_NS of the
 *     connection (else 408);
 *   - at most LP_HTTPD_MAX_CLIENTS connections at once; more wait in the kernel's backlog;
 *   - malformed requests get 400, other methods 405, absolute-form or bad targets 400;
 *   - a response body is written by the handler to a memfd and sent from it as the socket
 *     takes it, in chunks pread from the memfd and sent with send(MSG_NOSIGNAL), not with
 *     sendfile: sendfile to a socket the client has reset raises SIGPIPE at the calling
 *     thread (measured), send never does; a client that stops reading is dropped after
 *     LP_HTTPD_SEND_NS without progress.
 * A handler that needs time (a seconds=N window) asks to be resumed at a given monotonic time
 * instead of blocking; other clients are served meanwhile. A client that goes away meanwhile,
 * half-closing (shutdown(SHUT_WR)) included, is taken as gone (ABORT), as Go's net/http
 * cancels a request whose connection reads EOF.
 *
 * The request's head is parsed by httpreq.h (which also declares lp_http_query_get, for
 * handlers); the listener and the descriptors' rules are httplisten.h's.
 *
 * Descriptors (DESIGN §6): the listener, the clients and the body memfds are O_CLOEXEC and
 * moved above the numbers programs usually use. Programs close every descriptor when they
 * daemonize (closefrom(3)): every descriptor is re-checked (st_dev, st_ino) before use, a
 * number that no longer holds lockprof's file is forgotten, never closed (it may be the
 * program's now), and a lost listener is opened again (a unix socket's path is bound again).
 * The loop wakes at least every LP_HTTPD_TICK_NS to notice.
 *
 * Memory: fixed buffers, mmapped once by lp_httpd_open, and one buffer per POST body, mapped
 * when its head announces it and unmapped as soon as the handler has answered (or the client
 * is gone): at most LP_HTTPD_MAX_CLIENTS of them, none while idle. No malloc.
 * Context: lockprof's HTTP thread only (it is always "busy": its own calls are not profiled).
 */
#ifndef LP_HTTPD_H
#define LP_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpreq.h"

#define LP_HTTPD_MAX_HEADER 8192
#define LP_HTTPD_MAX_CLIENTS 16
#define LP_HTTPD_MAX_BODY (1024 * 1024) /* bytes of a POST body */
#define LP_HTTPD_REQUEST_NS (5ULL * 1000000000ULL)
#define LP_HTTPD_SEND_NS (5ULL * 1000000000ULL)
#define LP_HTTPD_TICK_NS (250ULL * 1000000ULL)

struct lp_httpd;

enum lp_http_phase {
    LP_HTTP_NEW,    /* a complete request has arrived */
    LP_HTTP_RESUME, /* the time the handler asked for has come */
    LP_HTTP_ABORT,  /* the client went away (a reset, a hang-up) before the handler answered:
                       clean up only */
};

/* One request and its answer, as the handler sees them. */
struct lp_http_exchange {
    /* The request (valid through every phase). */
    const char *method;  /* "GET", "HEAD" or "POST" */
    const char *path;    /* the target's path, percent-decoded, e.g. "/debug/pprof/mutex" */
    const char *query;   /* the raw query after '?', "" if none */
    const char *body;    /* POST: the body's body_len bytes, whole (not NUL-terminated; ""
                            for Content-Length: 0); NULL for GET and HEAD. Valid in NEW and
                            RESUME only (NULL, 0 in ABORT): unmapped once the handler answers */
    size_t body_len;
    enum lp_http_phase phase;
    uint64_t now_ns;     /* lp_clock_monotonic() when the handler is called */
    void *state;         /* the handler's own, kept across phases (NULL at first) */

    /* The answer, filled by the handler in NEW or RESUME (ignored for ABORT). */
    int status;               /* 200, 400, 404, … (the server writes the reason phrase); one
                                 outside 200..599 is sent as 500 */
    const char *content_type; /* a static string; left out (application/octet-stream is sent)
                                 if empty, longer than 128 bytes or holding a byte outside
                                 0x20..0x7e. With a status of 400 or more, text/plain… gets
                                 "X-Go-Pprof: 1" too, as Go's net/http/pprof marks an error
                                 message (go tool pprof then shows it) */
    const char *disposition;  /* Content-Disposition filename, or NULL; left out if empty,
                                 longer than 128 bytes or holding a byte outside 0x20..0x7e,
                                 '"' or '\\' */
    int body_fd;              /* a memfd the server made for this answer: write the body to it
                                 (from offset 0); the server sends all of it, then closes it.
                                 Emptied (size 0, offset 0) before each call: the same memfd
                                 in NEW and RESUME, or a fresh one if the program closed it;
                                 lost by the time the handler returns, a 500 is sent. -1 in
                                 ABORT */
    uint64_t resume_at_ns;    /* set instead of answering: call again at this monotonic time */
};

typedef void (*lp_http_handler_fn)(struct lp_http_exchange *x, void *arg);

/*
 * Parses spec — "HOST:PORT" (an IPv4 address, "localhost", or "[IPv6]"; PORT 0 picks a free
 * port) or "unix:PATH" — and opens the listener. Only loopback addresses are accepted unless
 * allow_remote. A unix socket is created with mode 0600 (an existing socket file at PATH that
 * nobody listens on is replaced; any other file is an error). 0 and *out, or -errno with a
 * one-line reason in err (e.g. "LOCKPROF_HTTP='0.0.0.0:80': not a loopback address; set
 * LOCKPROF_HTTP_ALLOW_REMOTE=1 to allow it").
 */
int lp_httpd_open(const char *spec, bool allow_remote, struct lp_httpd **out, char *err,
                  size_t errsize);

/* The address really listened on, for the one "lockprof: serving …" line: "127.0.0.1:PORT"
 * (the port chosen when 0 was asked), "[::1]:PORT" or "unix:PATH". */
const char *lp_httpd_address(const struct lp_httpd *h);

/* Serves for ever (returns only on an error it cannot recover from, as -errno), or until
 * *stop, if set with lp_httpd_stop_on, is non-zero (returns 0 within a tick of it). */
int lp_httpd_serve(struct lp_httpd *h, lp_http_handler_fn handler, void *arg);
/* The word lp_httpd_serve watches to end (atomic; any thread may set it). Before serving. */
void lp_httpd_stop_on(struct lp_httpd *h, const uint32_t *stop);

/*
 * Request bodies (go tool pprof POSTs "0x…+0x…" to /debug/pprof/symbol):
 *   - Content-Length: one decimal value (1*DIGIT); repeated fields must agree; anything else
 *     (a sign, a list "5, 5", an empty value) is 400. A POST without it is 411.
 *   - Transfer-Encoding (chunked or any other), with any method: 411 Length Required, the
 *     reason saying to send Content-Length. (Go's client sends Content-Length for a body of
 *     known size, curl for -d and --data-binary.)
 *   - Over LP_HTTPD_MAX_BODY: 413 at once, from the head alone. After any answer the server
 *     reads and discards what the client still sends for at most 1 s and 2 MiB, then closes
 *     (a reset if more is coming): a client that reads while it sends (curl, Go) sees the
 *     answer; the server never reads a too-large body whole.
 *   - "Expect: 100-continue" on an HTTP/1.1 POST whose body has not arrived with its head:
 *     "HTTP/1.1 100 Continue" is sent once the head is accepted (curl then sends at once
 *     instead of waiting 1 s); a rejected head gets its final answer instead. Other
 *     expectations are ignored.
 *   - GET and HEAD with a Content-Length body (Go accepts one): the body is not read before
 *     the answer, only discarded after it as above; the handler sees body NULL.
 *   - Bytes after the body (a pipelined request) are ignored: one request per connection.
 */

/* The listener's descriptor number now (-1 while it is lost), for tests that close it as
 * closefrom(3) would. Any thread. */
int lp_httpd_listener_fd(const struct lp_httpd *h);

/* Closes every descriptor h still holds (those that are still its files), without unlinking
 * a unix socket's path and without calling the handler: for the child of a fork, which must
 * not keep the parent's listener open, and for tests. Not while lp_httpd_serve runs on h in
 * another thread. h stays mapped; lp_httpd_serve on it would open the listener again. */
void lp_httpd_close_fds(struct lp_httpd *h);

#endif
