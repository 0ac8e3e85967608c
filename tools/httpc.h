/*
 * httpc.h — the HTTP/1.1 client of `lockprof fetch` and of the tests: one request over a plain
 * socket (TCP or unix), "Connection: close", the whole answer read into memory before the
 * caller sees any of it (a failed fetch writes nothing).
 *
 * An exchange is connect, send, receive, each bounded by the one deadline of its struct
 * lp_httpc_call (name resolution excepted: getaddrinfo cannot be bounded, and LOCKPROF_HTTP
 * names a loopback address or a unix socket anyway). The deadline is looked at after every
 * read and every wait is for the time left, so a server that keeps sending does not extend
 * it; the answer is parsed as it arrives, each byte once, in memory bounded by the call's
 * max_bytes. The answer's body is delimited by Content-Length, by the chunked encoding (Go's
 * own net/http/pprof uses it, so a Go server can be fetched too) or by the server closing.
 * Every failure leaves one line in call->err saying why, in the words `lockprof fetch`
 * prints: connect's names the address, send's and receive's are to follow "TARGET from
 * ADDRESS: ".
 *
 * The pure parts (addresses, request text, the head, chunked bodies) are separate functions
 * so that a test that sends or reads bytes of its own can still parse what it gets.
 *
 * This is not the preloaded library: it allocates with malloc and returns -ENOMEM when that
 * fails. Context: any thread, one call struct per thread.
 */
#ifndef LP_HTTPC_H
#define LP_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* An answer's head (status line and headers) is at most this long. */
#define LP_HTTPC_MAX_HEAD 65536

/* An address: "HOST:PORT", "[IPv6]:PORT", "unix:PATH" or "http://HOST[:PORT][/PATH]". */
struct lp_httpc_addr {
    char *host;      /* TCP: a name or an address (IPv6 without brackets); NULL: unix */
    char *port;      /* TCP: 1..65535, decimal */
    char *unix_path; /* unix:PATH; NULL: TCP */
    char *url_path;  /* an http:// address's path beyond /debug/pprof/, or NULL */
    char *display;   /* "HOST:PORT" or "unix:PATH", for messages */
};

/* One exchange's bounds and, after a failure, its reason. */
struct lp_httpc_call {
    int64_t deadline_ms; /* lp_httpc_now_ms() time after which nothing more is waited for */
    uint64_t limit_s;    /* the time allowed, as messages say it */
    size_t max_bytes;    /* the whole answer at most, head and body (one that only the
                            close ends is seen to end with a byte of room left) */
    int rcvbuf;          /* SO_RCVBUF asked for before connecting; 0: the system's */
    bool head;           /* the request is a HEAD: its answer has no body, whatever it says */
    char *err;           /* why the last call failed, one line (owned; lp_httpc_call_done) */
    uint64_t parsed;     /* bytes of the answer looked at by the head's search and the chunk
                            decoder, counted each time: the receive's work, which stays
                            within the bytes received (a byte is looked at once, the last two
                            of a read that ends inside the head twice) */
};

struct lp_httpc_answer {
    int status;
    char reason[64];
    char type[128];      /* Content-Type, "" if none */
    int64_t length;      /* Content-Length; -1 if none or chunked (chunked wins, RFC 9112 §6.3) */
    bool chunked;
    uint8_t *buf;        /* the answer as received, head then body (owned); a NUL follows */
    size_t head_len;     /* the head, through its empty line */
    uint8_t *body;       /* buf + head_len, the chunked encoding removed */
    size_t len;          /* of body */
};

/* The clock of deadlines: CLOCK_MONOTONIC in milliseconds. */
int64_t lp_httpc_now_ms(void);

/* A call that may take limit_s seconds from now, for an answer of at most max_bytes. */
void lp_httpc_call_init(struct lp_httpc_call *c, uint64_t limit_s, size_t max_bytes);
void lp_httpc_call_done(struct lp_httpc_call *c);

/*
 * Parses what `lockprof fetch` accepts as ADDRESS. An empty HOST is localhost (as in Go's
 * ":6060"); an http:// address's port defaults to 80, and its path is kept in url_path unless
 * it is /, /debug/pprof or /debug/pprof/ (where the "serving" line points). 0, -ENOMEM, or
 * -EINVAL with the reason in err ("address 'x': expected HOST:PORT, ...").
 */
int lp_httpc_parse_address(const char *given, struct lp_httpc_addr *a, char *err, size_t size);
void lp_httpc_addr_free(struct lp_httpc_addr *a);
/* Whether a path may go into a request line as it is: '/' first, printable ASCII, no space
 * or '#', at most 4096 bytes. */
bool lp_httpc_path_ok(const char *path);
/* The GET request for target (a path and its query) at a, naming agent; NULL if no memory. */
char *lp_httpc_request(const char *target, const struct lp_httpc_addr *a, const char *agent);

/* A connected socket (non-blocking, close-on-exec), or -errno. */
int lp_httpc_connect(const struct lp_httpc_addr *a, struct lp_httpc_call *c);
/* Sends all of req[0, len): 0 or -errno (-ETIMEDOUT: the deadline passed). */
int lp_httpc_send(int fd, const void *req, size_t len, struct lp_httpc_call *c);
/*
 * Reads one whole answer: 0, or -ETIMEDOUT (the deadline), -EFBIG (more than max_bytes),
 * -EBADMSG (not HTTP, a bad Content-Length or chunk, a head over LP_HTTPC_MAX_HEAD), -EPIPE
 * (the server closed before the answer was complete), -ENOMEM or a read's -errno. On success
 * the caller owns ans (lp_httpc_answer_free); on failure ans holds nothing to free. Bytes
 * after a delimited body are left unread.
 */
int lp_httpc_receive(int fd, struct lp_httpc_call *c, struct lp_httpc_answer *ans);
void lp_httpc_answer_free(struct lp_httpc_answer *ans);

/* The end of an answer's head in buf (the first byte of the body), or 0 if not there yet.
 * Lines may end in CRLF or LF. */
size_t lp_httpc_head_end(const uint8_t *buf, size_t len);
/*
 * Parses a head (buf[0, head_len), as lp_httpc_head_end found it) into ans's status, reason,
 * type, length and chunked; a Content-Length over max is a bad one. 0, or -EBADMSG with the
 * reason in *err (the caller frees it; NULL if there was no memory for it).
 */
int lp_httpc_parse_head(const uint8_t *buf, size_t head_len, size_t max,
                        struct lp_httpc_answer *ans, char **err);
/*
 * A chunked body's decoder (RFC 9112 §7.1), fed the body's bytes as they arrive, in pieces
 * of any size: it keeps its place in the grammar between pieces, so each byte is looked at
 * once and nothing is parsed again. Line ends may be CRLF or LF; chunk extensions and
 * trailer fields are skipped, never stored.
 */
struct lp_httpc_dechunk {
    int state;      /* where in the grammar the next byte falls (httpc.c) */
    uint64_t size;  /* the chunk size being read, then the bytes of its data still to come */
    uint64_t max;   /* a chunk size over max is malformed */
    uint64_t in;    /* bytes of the encoded body taken so far */
    uint64_t out;   /* bytes of data produced so far */
};

void lp_httpc_dechunk_init(struct lp_httpc_dechunk *d, size_t max);
/*
 * Decodes the next len bytes of the body at p: the chunk data among them is moved to the
 * start of p (in place: it only moves backwards), *out says how much. Returns 0 when the
 * body needs more bytes (all len were taken), 1 when it is complete (*used: the bytes of p
 * that were its end; those after are not the body's), -EBADMSG when it is malformed (a chunk
 * size over max is). Complete and malformed are final: later calls take nothing and say the
 * same.
 */
int lp_httpc_dechunk(struct lp_httpc_dechunk *d, uint8_t *p, size_t len, size_t *used,
                     size_t *out);

#endif
