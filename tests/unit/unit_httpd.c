/*
 * unit_httpd — the small HTTP server (core/httpd.c) over real sockets.
 *
 * Servers run lp_httpd_serve in threads of their own (all signals blocked but SIGPIPE, so
 * that a SIGPIPE the server raised would kill this test), with a fake handler; the main
 * thread is the client. Checked: answers and their headers, every error status, the limits
 * (8 KiB heads, 16 clients, 5 s per request, 5 s without progress), resumable handlers and
 * ABORT, a large body to a slow reader, random bytes, unix sockets (mode 0600 whatever the
 * umask), the error line of every bad spec, and the loss of descriptors to closefrom(3):
 * the listener comes back on the same address, and a number reused by the program is left
 * alone. POST bodies (/body echoes what the handler saw): in one packet with the head, in
 * many small pieces, exactly 1 MiB, kept across RESUME; 100-continue; 400, 411, 413 (also
 * for a body that never stops); their buffers mapped while needed and given back. The
 * 5-second timeouts run on their own servers while the other checks go on.
 *
 * The client is the lockprof command's own (tools/httpc.h: connect, send, receive, the head
 * parser). What stays byte-level here is what no client does and the test does on purpose:
 * reading slowly, reading while sending, reading whatever random bytes bring back, and
 * checking that the server closes after its answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"
#include "httpd.h"
#include "tap.h"

#define BIG_SIZE (5u << 20)

/* ---- the fake handler ------------------------------------------------------------------- */

static int slow_new, slow_resumed, slow_aborted, other_aborted; /* atomics */
static int slow_marker;

static void write_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p = (const char *)p + w;
        n -= (size_t)w;
    }
}

static uint32_t fnv(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static void reply(struct lp_http_exchange *x, int status, const char *body)
{
    write_all(x->body_fd, body, strlen(body));
    x->status = status;
    x->content_type = "text/plain; charset=utf-8";
}

static void handler(struct lp_http_exchange *x, void *arg)
{
    (void)arg;
    char buf[256], v[64];
    if (x->phase == LP_HTTP_ABORT) {
        __atomic_add_fetch(x->state == &slow_marker ? &slow_aborted : &other_aborted, 1,
                           __ATOMIC_SEQ_CST);
        return;
    }
    if (strcmp(x->path, "/hello") == 0)
        return reply(x, 200, "hello\n");
    if (strcmp(x->path, "/slow") == 0) {
        if (x->phase == LP_HTTP_NEW) {
            long ms = lp_http_query_get(x->query, "ms", v, sizeof v) ? atol(v) : 100;
            x->state = &slow_marker;
            x->resume_at_ns = x->now_ns + (uint64_t)ms * 1000000u;
            __atomic_add_fetch(&slow_new, 1, __ATOMIC_SEQ_CST);
            return;
        }
        __atomic_add_fetch(&slow_resumed, 1, __ATOMIC_SEQ_CST);
        snprintf(buf, sizeof buf, "slow %s %s\n", x->query,
                 x->state == &slow_marker ? "same state" : "LOST STATE");
        x->state = NULL;
        return reply(x, 200, buf);
    }
    if (strcmp(x->path, "/big") == 0) {
        static __thread char chunk[65536];
        for (uint32_t off = 0; off < BIG_SIZE; off += sizeof chunk) {
            for (uint32_t i = 0; i < sizeof chunk; i++)
                chunk[i] = (char)((off + i) % 251);
            write_all(x->body_fd, chunk, sizeof chunk);
        }
        x->status = 200;
        x->content_type = "application/octet-stream";
        x->disposition = "big.bin";
        return;
    }
    if (strcmp(x->path, "/echo") == 0) {
        size_t n = 0;
        const char *names[] = { "a", "b", "c", "d" };
        for (int i = 0; i < 4; i++) {
            if (lp_http_query_get(x->query, names[i], v, sizeof v))
                n += (size_t)snprintf(buf + n, sizeof buf - n, "%s=%s\n", names[i], v);
            else
                n += (size_t)snprintf(buf + n, sizeof buf - n, "%s absent\n", names[i]);
        }
        snprintf(buf + n, sizeof buf - n, "method=%s\n", x->method);
        return reply(x, 200, buf);
    }
    if (strcmp(x->path, "/body") == 0) {
        /* "METHOD LEN null|set FNV\n" and the body itself; ?ms=N answers in RESUME, which
         * must see the same body. */
        if (x->phase == LP_HTTP_NEW && lp_http_query_get(x->query, "ms", v, sizeof v)) {
            x->state = (void *)x->body;
            x->resume_at_ns = x->now_ns + (uint64_t)atol(v) * 1000000u;
            return;
        }
        if (x->phase == LP_HTTP_RESUME && x->state != (void *)x->body)
            return reply(x, 500, "RESUME saw another body\n");
        snprintf(buf, sizeof buf, "%s %zu %s %08x\n", x->method, x->body_len,
                 x->body ? "set" : "null", fnv(x->body, x->body_len));
        write_all(x->body_fd, buf, strlen(buf));
        write_all(x->body_fd, x->body, x->body_len);
        x->status = 200;
        x->content_type = "application/octet-stream";
        return;
    }
    if (strcmp(x->path, "/bad-fields") == 0) {
        x->status = 999; /* out of range: the server sends 500 */
        x->content_type = "text/plain\r\nX-Injected: 1";
        x->disposition = "a\"b";
        write_all(x->body_fd, "x\n", 2);
        return;
    }
    snprintf(buf, sizeof buf, "not found: %s\n", x->path);
    reply(x, 404, buf);
}

/* ---- servers ------------------------------------------------------------------------------ */

struct server {
    struct lp_httpd *h;
    struct lp_httpc_addr addr; /* for the client */
    char address[160];
};

static void *serve_main(void *arg)
{
    sigset_t set;
    sigfillset(&set);
    sigdelset(&set, SIGPIPE); /* a SIGPIPE raised by the server would end this test */
    pthread_sigmask(SIG_SETMASK, &set, NULL);
    struct server *s = arg;
    int rc = lp_httpd_serve(s->h, handler, NULL);
    printf("# lp_httpd_serve returned %d\n", rc);
    return NULL;
}

static bool start(struct server *s, const char *spec)
{
    char err[320];
    int rc = lp_httpd_open(spec, false, &s->h, err, sizeof err);
    if (rc < 0) {
        diag("lp_httpd_open(%s): %d %s", spec, rc, err);
        return false;
    }
    snprintf(s->address, sizeof s->address, "%s", lp_httpd_address(s->h));
    if (lp_httpc_parse_address(s->address, &s->addr, err, sizeof err) < 0) {
        diag("lp_httpc_parse_address(%s): %s", s->address, err);
        return false;
    }
    pthread_t t;
    return pthread_create(&t, NULL, serve_main, s) == 0;
}

/* ---- the client ------------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int dial_rcvbuf(const struct server *s, int rcvbuf)
{
    struct lp_httpc_call c;
    lp_httpc_call_init(&c, 10, 0);
    c.rcvbuf = rcvbuf;
    int fd = lp_httpc_connect(&s->addr, &c);
    lp_httpc_call_done(&c);
    return fd < 0 ? -1 : fd;
}

static int dial(const struct server *s)
{
    return dial_rcvbuf(s, 0);
}

/* Sends all of p[0, n) within 10 s, whatever the bytes are. */
static bool send_all(int fd, const void *p, size_t n)
{
    struct lp_httpc_call c;
    lp_httpc_call_init(&c, 10, 0);
    int rc = lp_httpc_send(fd, p, n, &c);
    lp_httpc_call_done(&c);
    return rc == 0;
}

/*
 * Byte-level reading, for what the client does not do on purpose: reads whatever comes until
 * EOF, an error or timeout_ms, whether or not it is an answer; stores what fits
 * (NUL-terminated). *how: 0 for EOF, an errno, or ETIMEDOUT. Returns the number of bytes read.
 */
static size_t read_all(int fd, char *buf, size_t size, int timeout_ms, int *how)
{
    size_t total = 0;
    double end = now_ms() + timeout_ms;
    char scratch[65536];
    for (;;) {
        int left = (int)(end - now_ms());
        struct pollfd p = { fd, POLLIN, 0 };
        if (left <= 0 || poll(&p, 1, left) == 0) {
            *how = ETIMEDOUT;
            break;
        }
        char *dst = total + 1 < size ? buf + total : scratch;
        size_t room = total + 1 < size ? size - 1 - total : sizeof scratch;
        ssize_t n = recv(fd, dst, room, 0);
        if (n == 0) {
            *how = 0;
            break;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            *how = errno;
            break;
        }
        total += (size_t)n;
    }
    if (size)
        buf[total < size ? total : size - 1] = '\0';
    return total;
}

struct resp {
    int status;
    long clen;        /* Content-Length, -1 if absent */
    size_t total;     /* bytes received */
    size_t head_len;  /* through the empty line */
    const char *body; /* in the caller's buffer: all that came after the head */
    size_t body_len;
    int how;          /* how reading ended: 0 EOF */
};

/* An answer read byte by byte (buf[0, total)), parsed by the client's own head parser. */
static void parse_resp(const char *buf, size_t total, struct resp *r)
{
    struct lp_httpc_answer ans;
    char *why = NULL;
    r->status = -1;
    r->clen = -1;
    r->total = total;
    r->body = "";
    r->body_len = 0;
    r->head_len = lp_httpc_head_end((const uint8_t *)buf, total);
    if (!r->head_len)
        return;
    r->body = buf + r->head_len;
    r->body_len = total - r->head_len;
    memset(&ans, 0, sizeof ans);
    if (lp_httpc_parse_head((const uint8_t *)buf, r->head_len, SIZE_MAX, &ans, &why) == 0) {
        r->status = ans.status;
        r->clen = (long)ans.length;
    }
    free(why);
}

/*
 * Reads the answer on fd with the client, then whatever follows until the server closes
 * (nothing should: body and body_len hold it too), and closes fd. head: the request was a
 * HEAD, whose answer has no body.
 */
static struct resp finish_head(int fd, char *buf, size_t size, bool head)
{
    struct resp r = { .status = -1, .clen = -1, .body = "", .how = -1 };
    struct lp_httpc_call c;
    struct lp_httpc_answer ans;
    buf[0] = '\0';
    lp_httpc_call_init(&c, 10, size - 1);
    c.head = head;
    int rc = lp_httpc_receive(fd, &c, &ans);
    if (rc == 0) {
        size_t n = ans.head_len + ans.len;
        memcpy(buf, ans.buf, n);
        r.total = n + read_all(fd, buf + n, size - n, 10000, &r.how);
        r.status = ans.status;
        r.clen = (long)ans.length;
        r.head_len = ans.head_len;
        r.body = buf + ans.head_len;
        r.body_len = r.total - r.head_len;
        lp_httpc_answer_free(&ans);
    } else if (rc == -ETIMEDOUT) {
        r.how = ETIMEDOUT;
    } else {
        static char scratch[65536];
        read_all(fd, scratch, sizeof scratch, 10000, &r.how);
    }
    lp_httpc_call_done(&c);
    close(fd);
    return r;
}

static struct resp finish(int fd, char *buf, size_t size)
{
    return finish_head(fd, buf, size, false);
}

/* A whole exchange: connect, send raw (any bytes, well-formed or not), read the answer. */
static struct resp request(const struct server *s, const char *raw, size_t len, char *buf,
                           size_t size)
{
    struct resp r = { .status = -1, .clen = -1, .body = "", .how = -1 };
    buf[0] = '\0';
    int fd = dial(s);
    if (fd < 0)
        return r;
    send_all(fd, raw, len);
    return finish_head(fd, buf, size, strncmp(raw, "HEAD ", 5) == 0);
}

/* GET target, the request as the client writes it. */
static struct resp get(const struct server *s, const char *target, char *buf, size_t size)
{
    char *raw = lp_httpc_request(target, &s->addr, "unit_httpd");
    if (!raw)
        return (struct resp){ .status = -1, .clen = -1, .body = "", .how = -1 };
    struct resp r = request(s, raw, strlen(raw), buf, size);
    free(raw);
    return r;
}

static bool has_header(const char *buf, const struct resp *r, const char *line)
{
    const char *p = strstr(buf, line);
    return p && (size_t)(p - buf) < r->head_len;
}

/* /hello answered again within limit_ms (the listener coming back after a loss). */
static bool hello_within(const struct server *s, int limit_ms, double *took)
{
    char buf[1024];
    double t0 = now_ms();
    while (now_ms() - t0 < limit_ms) {
        struct resp r = get(s, "/hello", buf, sizeof buf);
        if (r.status == 200 && strcmp(r.body, "hello\n") == 0) {
            *took = now_ms() - t0;
            return true;
        }
        sleep_ms(20);
    }
    *took = now_ms() - t0;
    return false;
}

static bool wait_counter(int *counter, int above, int limit_ms)
{
    double t0 = now_ms();
    while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) <= above && now_ms() - t0 < limit_ms)
        sleep_ms(5);
    return __atomic_load_n(counter, __ATOMIC_SEQ_CST) > above;
}

static uint64_t rng = 1;
static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char big[BIG_SIZE + 4096];

/* ---- the checks ------------------------------------------------------------------------- */

static void check_query(void)
{
    char v[16];
    const char *q = "a=1&b=x%20y+z&c&d=&e=%zz&e=ok&long=0123456789abcdef&%61%62=ab";
    ok(lp_http_query_get(q, "a", v, sizeof v) && strcmp(v, "1") == 0, "query: a=1");
    ok(lp_http_query_get(q, "b", v, sizeof v) && strcmp(v, "x y z") == 0,
       "query: %%20 and '+' are spaces");
    ok(lp_http_query_get(q, "c", v, sizeof v) && v[0] == '\0', "query: a name alone is \"\"");
    ok(lp_http_query_get(q, "d", v, sizeof v) && v[0] == '\0', "query: d= is \"\"");
    ok(lp_http_query_get(q, "e", v, sizeof v) && strcmp(v, "ok") == 0,
       "query: a malformed escape drops its pair (as Go)");
    ok(!lp_http_query_get(q, "long", v, sizeof v) && v[0] == '\0',
       "query: a value longer than size - 1 is false");
    ok(lp_http_query_get(q, "ab", v, sizeof v) && strcmp(v, "ab") == 0,
       "query: the name is decoded too");
    ok(!lp_http_query_get(q, "x", v, sizeof v) && !lp_http_query_get("", "a", v, sizeof v) &&
           !lp_http_query_get("a=%00", "a", v, sizeof v),
       "query: absent names, an empty query, %%00");
    ok(!lp_http_query_get(q, "a", v, 0) && !lp_http_query_get(NULL, "a", v, sizeof v),
       "query: size 0 and NULL query");

    /* Random queries: never out of bounds, always NUL-terminated within size. */
    bool fine = true;
    for (int i = 0; i < 20000 && fine; i++) {
        char qb[64], out[8];
        size_t n = xorshift() % sizeof qb;
        for (size_t k = 0; k < n; k++)
            qb[k] = "a=&%+0f9zZ\x01\xff"[xorshift() % 13];
        qb[n] = '\0';
        memset(out, 'X', sizeof out);
        size_t size = 1 + xorshift() % sizeof out;
        lp_http_query_get(qb, "a", out, size);
        fine = memchr(out, '\0', size) != NULL;
        for (size_t k = size; k < sizeof out; k++)
            fine = fine && out[k] == 'X';
    }
    ok(fine, "query: 20000 random queries stay within the output buffer");
}

static void check_spec(const char *spec, int want_rc, const char *want_err)
{
    char err[320];
    struct lp_httpd *h = NULL;
    int rc = lp_httpd_open(spec, false, &h, err, sizeof err);
    if (!ok(rc == want_rc && strcmp(err, want_err) == 0, "bad spec %.60s", spec))
        diag("  got %d \"%s\", expected %d \"%s\"", rc, err, want_rc, want_err);
}

static void check_specs(const char *dir, const struct server *a, const struct server *u)
{
    char spec[300], want[1024];
    check_spec("", -EINVAL, "LOCKPROF_HTTP='': expected HOST:PORT or unix:PATH");
    check_spec("127.0.0.1", -EINVAL,
               "LOCKPROF_HTTP='127.0.0.1': no port (expected HOST:PORT or unix:PATH)");
    check_spec("127.0.0.1:", -EINVAL, "LOCKPROF_HTTP='127.0.0.1:': no port after ':'");
    check_spec("127.0.0.1:65536", -EINVAL,
               "LOCKPROF_HTTP='127.0.0.1:65536': bad port '65536' (expected 0 to 65535)");
    check_spec("127.0.0.1:http", -EINVAL,
               "LOCKPROF_HTTP='127.0.0.1:http': bad port 'http' (expected 0 to 65535)");
    check_spec("127.0.0.1:-1", -EINVAL,
               "LOCKPROF_HTTP='127.0.0.1:-1': bad port '-1' (expected 0 to 65535)");
    check_spec("example.com:80", -EINVAL,
               "LOCKPROF_HTTP='example.com:80': unknown host 'example.com' (expected an IPv4 "
               "address, [IPv6 address] or localhost: names are not looked up)");
    check_spec("127.1:80", -EINVAL,
               "LOCKPROF_HTTP='127.1:80': unknown host '127.1' (expected an IPv4 "
               "address, [IPv6 address] or localhost: names are not looked up)");
    check_spec("::1:80", -EINVAL,
               "LOCKPROF_HTTP='::1:80': an IPv6 address goes in brackets: [ADDRESS]:PORT");
    check_spec("[::1", -EINVAL, "LOCKPROF_HTTP='[::1': no ']' after the IPv6 address "
               "(expected [ADDRESS]:PORT)");
    check_spec("[::1]", -EINVAL, "LOCKPROF_HTTP='[::1]': no port (expected [ADDRESS]:PORT)");
    check_spec("[::1]:", -EINVAL, "LOCKPROF_HTTP='[::1]:': no port after ':'");
    check_spec("[::g]:80", -EINVAL, "LOCKPROF_HTTP='[::g]:80': bad IPv6 address '::g'");
    check_spec("10.1.2.3:80", -EINVAL, "LOCKPROF_HTTP='10.1.2.3:80': not a loopback address; "
               "set LOCKPROF_HTTP_ALLOW_REMOTE=1 to allow it");
    check_spec(":8080", -EINVAL, "LOCKPROF_HTTP=':8080': not a loopback address; "
               "set LOCKPROF_HTTP_ALLOW_REMOTE=1 to allow it");
    check_spec("[2001:db8::1]:80", -EINVAL, "LOCKPROF_HTTP='[2001:db8::1]:80': not a loopback "
               "address; set LOCKPROF_HTTP_ALLOW_REMOTE=1 to allow it");
    check_spec("unix:", -EINVAL, "LOCKPROF_HTTP='unix:': no path after 'unix:'");
    char longpath[200];
    memset(longpath, 'a', 120);
    longpath[0] = '/';
    longpath[120] = '\0';
    snprintf(spec, sizeof spec, "unix:%s", longpath);
    snprintf(want, sizeof want, "LOCKPROF_HTTP='%s': path too long for a unix socket "
             "(120 bytes, at most 107)", spec);
    check_spec(spec, -EINVAL, want);

    snprintf(spec, sizeof spec, "unix:%s/file", dir);
    close(open(spec + 5, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    snprintf(want, sizeof want, "LOCKPROF_HTTP='%s': '%s' exists and is not a socket", spec,
             spec + 5);
    check_spec(spec, -EEXIST, want);
    snprintf(spec, sizeof spec, "%s", u->address);
    snprintf(want, sizeof want, "LOCKPROF_HTTP='%s': a server already listens on '%s'", spec,
             spec + 5);
    check_spec(spec, -EADDRINUSE, want);
    snprintf(spec, sizeof spec, "unix:%s/nodir/s", dir);
    snprintf(want, sizeof want, "LOCKPROF_HTTP='%s': bind %s: No such file or directory",
             spec, spec);
    check_spec(spec, -ENOENT, want);
    snprintf(spec, sizeof spec, "%s", a->address);
    snprintf(want, sizeof want, "LOCKPROF_HTTP='%s': bind %s: Address already in use", spec,
             spec);
    check_spec(spec, -EADDRINUSE, want);

    /* Accepted specs (opened, then closed again). */
    char err[320];
    struct lp_httpd *h;
    int rc = lp_httpd_open("0.0.0.0:0", true, &h, err, sizeof err);
    ok(rc == 0 && strncmp(lp_httpd_address(h), "0.0.0.0:", 8) == 0 &&
           atoi(lp_httpd_address(h) + 8) > 0,
       "0.0.0.0:0 with allow_remote: %s", rc == 0 ? lp_httpd_address(h) : err);
    if (rc == 0)
        lp_httpd_close_fds(h);
    rc = lp_httpd_open("LocalHost:0", false, &h, err, sizeof err);
    ok(rc == 0 && strncmp(lp_httpd_address(h), "127.0.0.1:", 10) == 0,
       "localhost is 127.0.0.1: %s", rc == 0 ? lp_httpd_address(h) : err);
    if (rc == 0)
        lp_httpd_close_fds(h);
    rc = lp_httpd_open("127.1.2.3:0", false, &h, err, sizeof err);
    ok(rc == 0, "127.0.0.0/8 is loopback: %s", rc == 0 ? lp_httpd_address(h) : err);
    if (rc == 0)
        lp_httpd_close_fds(h);

    /* A relative unix path is made absolute (daemons chdir("/")). */
    char cwd[256];
    if (getcwd(cwd, sizeof cwd) && chdir(dir) == 0) {
        rc = lp_httpd_open("unix:rel.sock", false, &h, err, sizeof err);
        snprintf(want, sizeof want, "unix:%s/rel.sock", dir);
        ok(rc == 0 && strcmp(lp_httpd_address(h), want) == 0, "a relative path: %s",
           rc == 0 ? lp_httpd_address(h) : err);
        if (rc == 0)
            lp_httpd_close_fds(h);
        if (chdir(cwd) != 0)
            diag("chdir back failed");
    }
}

static void check_unix_modes(const char *dir)
{
    char spec[200], err[320];
    struct stat st;
    mode_t masks[] = { 0, 022, 0277 };
    for (int i = 0; i < 3; i++) {
        struct lp_httpd *h;
        snprintf(spec, sizeof spec, "unix:%s/m%d", dir, i);
        mode_t old = umask(masks[i]);
        int rc = lp_httpd_open(spec, false, &h, err, sizeof err);
        umask(old);
        memset(&st, 0, sizeof st);
        bool there = rc == 0 && lstat(spec + 5, &st) == 0;
        ok(there && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0600,
           "unix socket mode 0600 under umask %03o (got %03o)", (unsigned)masks[i],
           (unsigned)(st.st_mode & 07777));
        if (rc == 0)
            lp_httpd_close_fds(h);
    }
    /* A socket file nobody listens on (a process that died) is replaced. */
    snprintf(spec, sizeof spec, "unix:%s/stale", dir);
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    size_t plen = strnlen(spec + 5, sizeof un.sun_path - 1);
    memcpy(un.sun_path, spec + 5, plen);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    bool made = bind(s, (struct sockaddr *)&un, sizeof un) == 0;
    close(s);
    struct lp_httpd *h;
    int rc = lp_httpd_open(spec, false, &h, err, sizeof err);
    ok(made && rc == 0, "a stale socket file is replaced: %s", rc == 0 ? "ok" : err);
    if (rc == 0)
        lp_httpd_close_fds(h);
}

static void check_basics(const struct server *a)
{
    char buf[4096];
    struct resp r = get(a, "/hello", buf, sizeof buf);
    ok(r.status == 200 && r.clen == 6 && r.body_len == 6 && strcmp(r.body, "hello\n") == 0 &&
           r.how == 0,
       "GET /hello: 200, Content-Length 6, body \"hello\\n\", then the server closes");
    ok(has_header(buf, &r, "\r\nContent-Type: text/plain; charset=utf-8\r\n") &&
           has_header(buf, &r, "\r\nConnection: close\r\n") &&
           has_header(buf, &r, "\r\nCache-Control: no-store\r\n") &&
           strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0,
       "status line, Content-Type, Connection: close, Cache-Control: no-store");

    const char *head = "HEAD /hello HTTP/1.1\r\n\r\n";
    r = request(a, head, strlen(head), buf, sizeof buf);
    ok(r.status == 200 && r.clen == 6 && r.body_len == 0 && r.total == r.head_len,
       "HEAD /hello: Content-Length 6 and no body");

    r = get(a, "/nope", buf, sizeof buf);
    ok(r.status == 404 && strcmp(r.body, "not found: /nope\n") == 0 && r.clen == 17,
       "404 from the handler");
    r = get(a, "/h%65llo", buf, sizeof buf);
    ok(r.status == 200 && strcmp(r.body, "hello\n") == 0, "the path is percent-decoded");
    r = get(a, "/echo%3Fa=1", buf, sizeof buf);
    ok(r.status == 404 && strcmp(r.body, "not found: /echo?a=1\n") == 0,
       "a decoded '?' stays in the path");
    r = get(a, "/echo?a=1&b=x%20y+z&c", buf, sizeof buf);
    ok(r.status == 200 && strcmp(r.body, "a=1\nb=x y z\nc=\nd absent\nmethod=GET\n") == 0,
       "the query reaches the handler raw: %s", r.body);
    r = get(a, "/bad-fields", buf, sizeof buf);
    ok(r.status == 500 && !strstr(buf, "X-Injected") && !strstr(buf, "Content-Disposition") &&
           has_header(buf, &r, "\r\nContent-Type: application/octet-stream\r\n"),
       "a bad status or unsafe header values from the handler: 500, values left out");

    const char *lf = "GET /hello HTTP/1.0\nHost: x\n\n";
    r = request(a, lf, strlen(lf), buf, sizeof buf);
    ok(r.status == 200 && strcmp(r.body, "hello\n") == 0, "bare LF line ends, HTTP/1.0");
    const char *lead = "\r\n\r\nGET /hello HTTP/1.1\r\n\r\n";
    r = request(a, lead, strlen(lead), buf, sizeof buf);
    ok(r.status == 200, "empty lines before the request line are skipped");

    static const char *const bad[] = {
        "garbage\r\n\r\n",
        "GET\r\n\r\n",
        "GET /hello\r\n\r\n",
        "GET  /hello HTTP/1.1\r\n\r\n",
        "GET /hello  HTTP/1.1\r\n\r\n",
        "GET /hello HTTP/1.1 \r\n\r\n",
        "GET /h%zzllo HTTP/1.1\r\n\r\n",
        "GET /h% HTTP/1.1\r\n\r\n",
        "GET /h%4 HTTP/1.1\r\n\r\n",
        "GET /a%00b HTTP/1.1\r\n\r\n",
        "GET http://x/hello HTTP/1.1\r\n\r\n",
        "GET * HTTP/1.1\r\n\r\n",
        "GET hello HTTP/1.1\r\n\r\n",
        "GET /he\x01llo HTTP/1.1\r\n\r\n",
        "GET /h\xc3\xa9 HTTP/1.1\r\n\r\n",
        "G@T /hello HTTP/1.1\r\n\r\n",
        "GET /hello HTTP/x.y\r\n\r\n",
        "GET /hello HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET /hello HTTP/1.1\r\n Folded: x\r\n\r\n",
        "GET /hello HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET /hello HTTP/1.1\r\nX: a\x01b\r\n\r\n",
        "GET /hello HTTP/1.1\r\n\r\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = request(a, bad[i], strlen(bad[i]), buf, sizeof buf);
        if (!ok(r.status == 400 && r.clen == (long)r.body_len && r.body_len > 0 &&
                    strchr(r.body, '\n') == r.body + r.body_len - 1,
                "400 (one line) for malformed request %zu", i))
            diag("  status %d, body \"%s\"", r.status, r.body);
    }
    static const char *const version[] = {
        "GET /hello HTTP/2.0\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "GET /hello HTTP/3\r\n\r\n",
        "GET /hello HTTP/0.9\r\n\r\n",
        "GET /hello RTSP/1.0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof version / sizeof version[0]; i++) {
        r = request(a, version[i], strlen(version[i]), buf, sizeof buf);
        ok(r.status == 505, "505 for another version or protocol %zu (%d)", i, r.status);
    }
    static const char *const methods[] = {
        "DELETE /hello HTTP/1.1\r\n\r\n",
        "PUT /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        "post /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        "get /hello HTTP/1.1\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        r = request(a, methods[i], strlen(methods[i]), buf, sizeof buf);
        ok(r.status == 405 && has_header(buf, &r, "\r\nAllow: GET, HEAD, POST\r\n"),
           "405 with Allow: GET, HEAD, POST for method %zu (%d)", i, r.status);
    }

    /* The head limit, exactly: 8192 bytes fit, 8193 do not. */
    static char req[LP_HTTPD_MAX_HEADER + 2048];
    const char *start = "GET /hello HTTP/1.1\r\nX-Pad: ";
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = strlen(start), total = LP_HTTPD_MAX_HEADER + (size_t)extra;
        memcpy(req, start, n);
        memset(req + n, 'p', total - n - 4);
        memcpy(req + total - 4, "\r\n\r\n", 4);
        r = request(a, req, total, buf, sizeof buf);
        ok(r.status == (extra ? 431 : 200), "a request head of %zu bytes: %d", total,
           r.status);
    }
    memset(req, 'h', sizeof req);
    memcpy(req, start, strlen(start));
    r = request(a, req, sizeof req, buf, sizeof buf);
    ok(r.status == 431 && r.how == 0, "431 for a 10 KiB head, delivered before the close");
}

static void check_concurrency(const struct server *a, const struct server *c)
{
    char buf[4096];
    /* 16 at once, all connected first; a 17th waits in the backlog until they are done. */
    int fds[LP_HTTPD_MAX_CLIENTS + 1];
    const char *req = "GET /hello HTTP/1.1\r\n\r\n";
    for (int i = 0; i <= LP_HTTPD_MAX_CLIENTS; i++)
        fds[i] = dial(c);
    bool all = true;
    for (int i = 0; i <= LP_HTTPD_MAX_CLIENTS; i++)
        all = all && fds[i] >= 0;
    ok(all, "17 clients connected");
    send_all(fds[LP_HTTPD_MAX_CLIENTS], req, strlen(req));
    struct pollfd p = { fds[LP_HTTPD_MAX_CLIENTS], POLLIN, 0 };
    ok(poll(&p, 1, 300) == 0, "the 17th is not served while 16 hold every slot");
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++)
        send_all(fds[i], req, strlen(req));
    int served = 0;
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
        struct resp r = finish(fds[i], buf, sizeof buf);
        served += r.status == 200 && strcmp(r.body, "hello\n") == 0;
    }
    is_i64(served, LP_HTTPD_MAX_CLIENTS, "16 concurrent clients all get 200");
    double t0 = now_ms();
    struct resp r = finish(fds[LP_HTTPD_MAX_CLIENTS], buf, sizeof buf);
    ok(r.status == 200, "the 17th is served after the others (%.0f ms later)", now_ms() - t0);

    /* A resumable handler does not hold up others. */
    int slow = dial(a);
    const char *sreq = "GET /slow?ms=300 HTTP/1.1\r\n\r\n";
    double s0 = now_ms();
    send_all(slow, sreq, strlen(sreq));
    int new0 = __atomic_load_n(&slow_new, __ATOMIC_SEQ_CST);
    (void)new0;
    double h0 = now_ms();
    r = get(a, "/hello", buf, sizeof buf);
    double took = now_ms() - h0;
    ok(r.status == 200 && took < 100, "/hello during /slow?ms=300 took %.1f ms (< 100)", took);
    r = finish(slow, buf, sizeof buf);
    double stook = now_ms() - s0;
    ok(r.status == 200 && strcmp(r.body, "slow ms=300 same state\n") == 0 && stook >= 299,
       "/slow?ms=300 answered after %.0f ms, state and query kept (%s)", stook, r.body);
}

/* A client that ends its side of the connection while its handler waits: a half-close is not
 * a hang-up (the client still reads), a reset or a unix peer's close is. */
static void check_hangups(const struct server *a, const struct server *u)
{
    char buf[1024];

    /* shutdown(SHUT_WR) after the request, as nc -N does: the answer comes after the wait. */
    int aborted0 = __atomic_load_n(&slow_aborted, __ATOMIC_SEQ_CST);
    int slow = dial(a);
    const char *sreq = "GET /slow?ms=300 HTTP/1.1\r\n\r\n";
    double s0 = now_ms();
    send_all(slow, sreq, strlen(sreq));
    shutdown(slow, SHUT_WR);
    struct resp r = finish(slow, buf, sizeof buf);
    double stook = now_ms() - s0;
    ok(r.status == 200 && strcmp(r.body, "slow ms=300 same state\n") == 0 && stook >= 299,
       "TCP: a client that half-closed after its request is answered after the wait "
       "(%.0f ms, status %d)", stook, r.status);
    ok(__atomic_load_n(&slow_aborted, __ATOMIC_SEQ_CST) == aborted0,
       "TCP: a half-close is not taken for a hang-up");

    /* The same over the unix socket. */
    slow = dial(u);
    send_all(slow, sreq, strlen(sreq));
    shutdown(slow, SHUT_WR);
    r = finish(slow, buf, sizeof buf);
    ok(r.status == 200 && strcmp(r.body, "slow ms=300 same state\n") == 0,
       "unix: a client that half-closed after its request is answered (status %d)", r.status);

    /* A plain close over TCP: the same FIN as a half-close; the interim answer it is sent
     * then draws a reset, and the handler sees ABORT at once, not after the 4 s wait. */
    int news = __atomic_load_n(&slow_new, __ATOMIC_SEQ_CST);
    aborted0 = __atomic_load_n(&slow_aborted, __ATOMIC_SEQ_CST);
    slow = dial(a);
    sreq = "GET /slow?ms=4000 HTTP/1.1\r\n\r\n";
    send_all(slow, sreq, strlen(sreq));
    ok(wait_counter(&slow_new, news, 2000), "TCP: a slow handler started");
    double c0 = now_ms();
    close(slow);
    ok(wait_counter(&slow_aborted, aborted0, 2000) && now_ms() - c0 < 1000,
       "TCP: a close during the wait makes the handler see ABORT (%.0f ms after)",
       now_ms() - c0);

    /* Half-closed first, the interim answer read, then closed: still found out (the probe is
     * sent again every tick), ABORT within a tick or two, not at the end of the wait. */
    news = __atomic_load_n(&slow_new, __ATOMIC_SEQ_CST);
    aborted0 = __atomic_load_n(&slow_aborted, __ATOMIC_SEQ_CST);
    slow = dial(a);
    send_all(slow, sreq, strlen(sreq));
    ok(wait_counter(&slow_new, news, 2000), "TCP: a slow handler started (shut, then closed)");
    shutdown(slow, SHUT_WR);
    char interim[64];
    struct pollfd ip = { slow, POLLIN, 0 };
    /* The first 25 bytes: under load the probe may have been sent again (every tick, once the
     * last one has left the send queue) before this reads it. */
    ssize_t got = poll(&ip, 1, 2000) == 1 ? recv(slow, interim, 25, MSG_WAITALL) : -1;
    ok(got == 25 && memcmp(interim, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0,
       "TCP: a half-closed client is sent an interim 100 Continue (%zd bytes)", got);
    c0 = now_ms();
    close(slow);
    ok(wait_counter(&slow_aborted, aborted0, 3000) && now_ms() - c0 < 2000,
       "TCP: closed after its half-close: the handler sees ABORT (%.0f ms after)",
       now_ms() - c0);

    /* HTTP/1.0 may not be sent a 1xx: its half-close is taken for a hang-up. */
    news = __atomic_load_n(&slow_new, __ATOMIC_SEQ_CST);
    aborted0 = __atomic_load_n(&slow_aborted, __ATOMIC_SEQ_CST);
    slow = dial(a);
    const char *req10 = "GET /slow?ms=4000 HTTP/1.0\r\n\r\n";
    send_all(slow, req10, strlen(req10));
    ok(wait_counter(&slow_new, news, 2000), "TCP, HTTP/1.0: a slow handler started");
    c0 = now_ms();
    shutdown(slow, SHUT_WR);
    ok(wait_counter(&slow_aborted, aborted0, 2000) && now_ms() - c0 < 1000,
       "TCP, HTTP/1.0: a half-close is a hang-up, ABORT (%.0f ms after)", now_ms() - c0);
    close(slow);

    /* A reset (close with SO_LINGER 0): ABORT at once, not at the end of the 4 s wait. */
    news = __atomic_load_n(&slow_new, __ATOMIC_SEQ_CST);
    aborted0 = __atomic_load_n(&slow_aborted, __ATOMIC_SEQ_CST);
    slow = dial(a);
    send_all(slow, sreq, strlen(sreq));
    ok(wait_counter(&slow_new, news, 2000), "TCP: the slow handler started");
    struct linger lg = { 1, 0 };
    setsockopt(slow, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    c0 = now_ms();
    close(slow);
    ok(wait_counter(&slow_aborted, aborted0, 2000) && now_ms() - c0 < 1000,
       "TCP: a reset during the wait makes the handler see ABORT (%.0f ms after)",
       now_ms() - c0);

    /* A unix client that closes: its peer sees the hang-up, ABORT at once. */
    news = __atomic_load_n(&slow_new, __ATOMIC_SEQ_CST);
    aborted0 = __atomic_load_n(&slow_aborted, __ATOMIC_SEQ_CST);
    slow = dial(u);
    send_all(slow, sreq, strlen(sreq));
    ok(wait_counter(&slow_new, news, 2000), "unix: the slow handler started");
    c0 = now_ms();
    close(slow);
    ok(wait_counter(&slow_aborted, aborted0, 2000) && now_ms() - c0 < 1000,
       "unix: a close during the wait makes the handler see ABORT (%.0f ms after)",
       now_ms() - c0);
}

static void check_big(const struct server *a)
{
    /* A slow reader (small receive buffer, small reads, a pause after each, and one of a
     * second after the first MiB: less than LP_HTTPD_SEND_NS) gets all 5 MiB. Reading this
     * slowly is the test: it is done here, byte by byte, not by the client. */
    int fd = dial_rcvbuf(a, 16384);
    const char *req = "GET /big HTTP/1.1\r\n\r\n";
    send_all(fd, req, strlen(req));
    size_t total = 0;
    double t0 = now_ms();
    for (int i = 0; now_ms() - t0 < 15000; i++) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 10000) <= 0)
            break;
        size_t room = sizeof big - total < 16384 ? sizeof big - total : 16384;
        ssize_t n = room ? recv(fd, big + total, room, 0) : 0;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            break;
        if (total < (1u << 20) && total + (size_t)n >= (1u << 20))
            sleep_ms(1000);
        total += (size_t)n;
        sleep_ms(1);
    }
    close(fd);
    struct resp r;
    big[total < sizeof big ? total : sizeof big - 1] = '\0';
    parse_resp(big, total, &r);
    bool same = r.body_len == BIG_SIZE;
    for (size_t i = 0; same && i < BIG_SIZE; i++)
        same = (unsigned char)r.body[i] == i % 251;
    if (!ok(r.status == 200 && r.clen == BIG_SIZE && same &&
                has_header(big, &r, "\r\nContent-Disposition: attachment; "
                           "filename=\"big.bin\"\r\n"),
            "/big: 5 MiB to a slow reader, complete and intact, in %.0f ms", now_ms() - t0))
        diag("  status %d, Content-Length %ld, body %zu bytes, intact %d, head:\n%.*s",
             r.status, r.clen, r.body_len, same, (int)r.head_len, big);

    /* Readers that reset the connection mid-body: send fails with EPIPE or ECONNRESET, no
     * SIGPIPE (this process would die: the servers' threads do not block it). */
    for (int k = 0; k < 10; k++) {
        fd = dial_rcvbuf(a, 16384);
        send_all(fd, req, strlen(req));
        char tmp[16384];
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 5000) == 1)
            recv(fd, tmp, sizeof tmp, 0);
        struct linger lg = { 1, 0 };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
    }
    char buf[1024];
    sleep_ms(50);
    r = get(a, "/hello", buf, sizeof buf);
    ok(r.status == 200, "10 resets mid-body: no SIGPIPE, still serving");
}

/* ---- POST bodies ------------------------------------------------------------------------- */

static char post_req[LP_HTTPD_MAX_BODY + 512];

/* What /body answers for method and body[0, n), into out; its length. */
static size_t body_echo(const char *method, const char *body, size_t n, char *out)
{
    int k = sprintf(out, "%s %zu %s %08x\n", method, n, body ? "set" : "null", fnv(body, n));
    if (n)
        memcpy(out + k, body, n);
    return (size_t)k + n;
}

/* "POST target" with Content-Length n and extra header lines, into post_req; its length. */
static size_t post_head(const char *target, size_t n, const char *extra)
{
    return (size_t)sprintf(post_req, "POST %s HTTP/1.1\r\nHost: lockprof\r\nContent-Length: "
                           "%zu\r\n%s\r\n", target, n, extra);
}

/* Sends p[0, n) in pieces of 1..maxpiece bytes with pause_ms between them: the pieces are
 * the test, each sent by the client's send. */
static bool send_pieces(int fd, const char *p, size_t n, size_t maxpiece, int pause_ms)
{
    while (n) {
        size_t k = 1 + (size_t)(xorshift() % maxpiece);
        if (k > n)
            k = n;
        if (!send_all(fd, p, k))
            return false;
        p += k;
        n -= k;
        if (n && pause_ms)
            sleep_ms(pause_ms);
    }
    return true;
}

/* The answer is /body's for method and body[0, n). */
static bool echoed(const struct resp *r, const char *method, const char *body, size_t n)
{
    static char want[LP_HTTPD_MAX_BODY + 128];
    size_t wn = body_echo(method, body, n, want);
    return r->status == 200 && r->how == 0 && r->body_len == wn && (long)wn == r->clen &&
           memcmp(r->body, want, wn) == 0;
}

/*
 * Sends head, then body_total bytes of body as fast as the server takes them while reading
 * its answer (as curl and Go's client do), until the server has closed (EOF) and either the
 * body is all sent or sending fails, or limit_ms. *sent: body bytes the kernel took; *reset:
 * sending failed (the server reset the connection). Sending and reading at once is the test,
 * which the client does not do: byte-level here, the answer parsed by the client's parser.
 */
static struct resp stream_body(const struct server *s, const char *head, uint64_t body_total,
                               int limit_ms, char *buf, size_t size, uint64_t *sent,
                               bool *reset)
{
    static char zeros[65536];
    struct resp r = { .status = -1, .clen = -1, .how = -1 };
    size_t total = 0;
    *sent = 0;
    *reset = false;
    buf[0] = '\0';
    int fd = dial(s);
    if (fd < 0 || !send_all(fd, head, strlen(head)))
        return r;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    bool sending = true, reading = true;
    double end = now_ms() + limit_ms;
    r.how = ETIMEDOUT;
    while (now_ms() < end && (reading || (sending && *sent < body_total))) {
        struct pollfd p = { fd, (reading ? POLLIN : 0) |
                                (sending && *sent < body_total ? POLLOUT : 0), 0 };
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (reading && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = recv(fd, buf + total, size - 1 - total, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                r.how = n == 0 ? 0 : errno;
                reading = false;
            }
            if (n > 0)
                total += (size_t)n;
            if (total == size - 1)
                reading = false;
        }
        if (sending && *sent < body_total && (p.revents & (POLLOUT | POLLHUP | POLLERR))) {
            uint64_t left = body_total - *sent;
            ssize_t n = send(fd, zeros, left < sizeof zeros ? (size_t)left : sizeof zeros,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                *sent += (uint64_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                sending = false; /* EPIPE, ECONNRESET: keep reading what came before */
                *reset = true;
            }
        }
    }
    close(fd);
    int how = r.how;
    buf[total] = '\0';
    parse_resp(buf, total, &r);
    r.how = how;
    return r;
}

/* The process's virtual size in KiB (VmSize), for the body buffers' mappings. */
static long vm_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0)
            kib = atol(line + 7);
    fclose(f);
    return kib;
}

static bool vm_within(long lo, long hi, int limit_ms, long *got)
{
    double t0 = now_ms();
    for (;;) {
        *got = vm_kib();
        if ((*got >= lo && *got <= hi) || now_ms() - t0 > limit_ms)
            return *got >= lo && *got <= hi;
        sleep_ms(10);
    }
}

static void check_post(const struct server *a, const struct server *c)
{
    char buf[4096];
    static char body[LP_HTTPD_MAX_BODY + 1];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)xorshift();

    /* The head and the body in one packet. */
    size_t n = post_head("/body", 11, "Content-Type: application/octet-stream\r\n");
    memcpy(post_req + n, "hello world", 11);
    struct resp r = request(a, post_req, n + 11, buf, sizeof buf);
    ok(echoed(&r, "POST", "hello world", 11), "POST: head and body in one packet, echoed");
    n = post_head("/body", 0, "");
    r = request(a, post_req, n, buf, sizeof buf);
    ok(echoed(&r, "POST", "", 0) && strncmp(r.body, "POST 0 set ", 11) == 0,
       "POST with Content-Length: 0: the handler sees \"\", not NULL");
    const char *addrs = "0x7f1200001000+0x7f3400002000+0x10";
    n = (size_t)sprintf(post_req, "POST /body HTTP/1.1\r\nContent-Type: application/"
                        "octet-stream\r\ncontent-length: \t%zu \r\ncontent-LENGTH: %zu\r\n"
                        "\r\n%s", strlen(addrs), strlen(addrs), addrs);
    r = request(a, post_req, n, buf, sizeof buf);
    ok(echoed(&r, "POST", addrs, strlen(addrs)),
       "pprof's symbol POST; any case, spaces around the value, agreeing duplicates (%d)",
       r.status);
    /* Bytes after the body (a pipelined request) are not part of it. */
    n = post_head("/body", 5, "");
    memcpy(post_req + n, "hello" "GET /hello HTTP/1.1\r\n\r\n", 28);
    r = request(a, post_req, n + 28, buf, sizeof buf);
    ok(echoed(&r, "POST", "hello", 5), "bytes after Content-Length are ignored");

    /* GET and HEAD with a body: answered, the body discarded; the handler sees NULL. */
    const char *gb = "GET /body HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    r = request(a, gb, strlen(gb), buf, sizeof buf);
    ok(echoed(&r, "GET", NULL, 0), "GET with a body: served, body NULL for the handler");
    const char *hb = "HEAD /body HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    r = request(a, hb, strlen(hb), buf, sizeof buf);
    ok(r.status == 200 && r.body_len == 0 && r.clen == (long)strlen("HEAD 0 null 811c9dc5\n"),
       "HEAD with a body: served (%d)", r.status);
    r = get(a, "/body", buf, sizeof buf);
    ok(echoed(&r, "GET", NULL, 0), "GET /body: NULL, 0");

    /* 100 KiB in pieces of 1..2000 bytes, 1 ms apart, the head in pieces too (TCP_NODELAY:
     * one segment each). */
    size_t len = 100000;
    n = post_head("/body", len, "");
    memcpy(post_req + n, body, len);
    int fd = dial(a), one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    double t0 = now_ms();
    bool sent = send_pieces(fd, post_req, n, 7, 1) && send_pieces(fd, post_req + n, len, 2000, 1);
    double took = now_ms() - t0;
    r = finish(fd, big, sizeof big);
    ok(sent && echoed(&r, "POST", body, len), "100000 bytes in small pieces over %.0f ms, "
       "echoed intact", took);

    /* The head and the first bytes together, the rest 50 ms later. */
    len = 3000;
    n = post_head("/body", len, "");
    memcpy(post_req + n, body, len);
    fd = dial(a);
    send_all(fd, post_req, n + 1000);
    sleep_ms(50);
    send_all(fd, post_req + n + 1000, len - 1000);
    r = finish(fd, big, sizeof big);
    ok(echoed(&r, "POST", body, len), "head + 1000 body bytes, then 2000 more: intact");

    /* Exactly LP_HTTPD_MAX_BODY, and kept across RESUME. */
    len = LP_HTTPD_MAX_BODY;
    n = post_head("/body", len, "");
    memcpy(post_req + n, body, len);
    r = request(a, post_req, n + len, big, sizeof big);
    ok(echoed(&r, "POST", body, len), "a body of exactly 1 MiB: echoed intact");
    n = post_head("/body?ms=100", len, "");
    memcpy(post_req + n, body, len);
    r = request(a, post_req, n + len, big, sizeof big);
    ok(echoed(&r, "POST", body, len), "1 MiB across NEW and RESUME (100 ms): same, intact");

    /* Expect: 100-continue: the interim answer once the head is accepted; none for 1.0. */
    len = 5000;
    n = post_head("/body", len, "Expect: 100-Continue\r\n");
    fd = dial(a);
    send_all(fd, post_req, n);
    t0 = now_ms();
    char cont[64] = "";
    struct pollfd p = { fd, POLLIN, 0 };
    ssize_t got = poll(&p, 1, 2000) == 1 ? recv(fd, cont, sizeof cont - 1, 0) : -1;
    took = now_ms() - t0;
    cont[got > 0 ? got : 0] = '\0';
    ok(strcmp(cont, "HTTP/1.1 100 Continue\r\n\r\n") == 0 && took < 500,
       "Expect: 100-continue: \"100 Continue\" after %.1f ms", took);
    send_all(fd, body, len);
    r = finish(fd, big, sizeof big);
    ok(echoed(&r, "POST", body, len), "then the body: 200, intact");
    const char *ten = "POST /body HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    fd = dial(a);
    send_all(fd, ten, strlen(ten));
    p = (struct pollfd){ fd, POLLIN, 0 };
    int pr = poll(&p, 1, 200);
    send_all(fd, "abc", 3);
    r = finish(fd, buf, sizeof buf);
    ok(pr == 0 && echoed(&r, "POST", "abc", 3), "no 100 Continue to HTTP/1.0");
    n = post_head("/body", len, "Expect: 100-continue\r\n");
    memcpy(post_req + n, body, len);
    r = request(a, post_req, n + len, big, sizeof big);
    ok(echoed(&r, "POST", body, len) && strncmp(big, "HTTP/1.1 200", 12) == 0,
       "no 100 Continue when the body came with the head");

    /* 411, 400. */
    static const char *const need_len[] = {
        "POST /body HTTP/1.1\r\n\r\nhello",
        "POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
        "POST /body HTTP/1.1\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
        "GET /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /body HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof need_len / sizeof need_len[0]; i++) {
        r = request(a, need_len[i], strlen(need_len[i]), buf, sizeof buf);
        if (!ok(r.status == 411 && r.how == 0 && !strstr(buf, "100 Continue"),
                "411 Length Required for request %zu", i))
            diag("  status %d, body \"%s\"", r.status, r.body);
    }
    r = request(a, need_len[1], strlen(need_len[1]), buf, sizeof buf);
    ok(strstr(r.body, "send the body with Content-Length"), "411 says why: %s", r.body);
    static const char *const bad_len[] = {
        "", "abc", "-1", "+5", "0x10", "5, 5", "5 5", "5.0", "1e3", "\"5\"",
    };
    for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++) {
        n = (size_t)sprintf(post_req, "POST /body HTTP/1.1\r\nContent-Length: %s\r\n\r\n"
                            "hello", bad_len[i]);
        r = request(a, post_req, n, buf, sizeof buf);
        if (!ok(r.status == 400 && strstr(r.body, "Content-Length"),
                "400 for Content-Length: '%s'", bad_len[i]))
            diag("  status %d, body \"%s\"", r.status, r.body);
    }
    const char *two = "POST /body HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    r = request(a, two, strlen(two), buf, sizeof buf);
    ok(r.status == 400 && strstr(r.body, "conflicting"), "400 for differing Content-Lengths");
    two = "GET /body HTTP/1.1\r\nContent-Length: x\r\n\r\n";
    r = request(a, two, strlen(two), buf, sizeof buf);
    ok(r.status == 400, "400 for a bad Content-Length on a GET too");

    /* 413: from the head alone (curl waits for 100 Continue: it gets 413 instead). */
    n = post_head("/body", LP_HTTPD_MAX_BODY + 1, "Expect: 100-continue\r\n");
    t0 = now_ms();
    r = request(a, post_req, n, buf, sizeof buf);
    took = now_ms() - t0;
    ok(r.status == 413 && r.how == 0 && !strstr(buf, "100 Continue") && took < 500,
       "413 for 1 MiB + 1 announced, at once (%.1f ms): %s", took, r.body);
    const char *huge = "POST /body HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n";
    r = request(a, huge, strlen(huge), buf, sizeof buf);
    ok(r.status == 413, "413 for a 26-digit Content-Length (%d)", r.status);
    /* … and for a client that sends it anyway while reading: all of a 1 MiB + 1 body is
     * discarded, then the connection ends cleanly. */
    uint64_t took_bytes;
    bool reset;
    n = post_head("/body", LP_HTTPD_MAX_BODY + 1, "");
    t0 = now_ms();
    r = stream_body(a, post_req, LP_HTTPD_MAX_BODY + 1, 5000, buf, sizeof buf, &took_bytes,
                    &reset);
    ok(r.status == 413 && r.how == 0 && took_bytes == LP_HTTPD_MAX_BODY + 1 && !reset,
       "413 to a client that sends 1 MiB + 1 anyway: it sent all, then EOF (%.0f ms)",
       now_ms() - t0);
    /* A body that does not end: the server resets the connection after discarding 2 MiB
     * (the client's count includes what the kernels' buffers hold). */
    n = post_head("/body", 1000000000000ull, "");
    t0 = now_ms();
    r = stream_body(a, post_req, 1000000000000ull, 8000, buf, sizeof buf, &took_bytes, &reset);
    took = now_ms() - t0;
    ok(r.status == 413 && reset && took < 3000 && took_bytes < (64u << 20),
       "413 for 10^12 bytes; the client was cut off after %.0f ms and %llu bytes", took,
       (unsigned long long)took_bytes);
    r = get(a, "/hello", buf, sizeof buf);
    ok(r.status == 200 && strcmp(r.body, "hello\n") == 0, "after the 413s: still serving");

    /* The buffers: mapped when a head announces a body, given back when done. 16 clients
     * announce 1 MiB each and send 10 bytes. */
    long during, after, before = vm_kib(); /* (once first: fopen's own memory) */
    before = vm_kib();
    int fds[LP_HTTPD_MAX_CLIENTS];
    n = post_head("/body", LP_HTTPD_MAX_BODY, "");
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++) {
        fds[i] = dial(c);
        send_all(fds[i], post_req, n + 10);
    }
    bool grew = vm_within(before + 16 * 1024, LONG_MAX, 3000, &during);
    for (int i = 0; i < LP_HTTPD_MAX_CLIENTS; i++)
        close(fds[i]);
    bool shrank = vm_within(0, before + 512, 3000, &after);
    ok(grew && shrank, "16 bodies announced: +%ld KiB mapped; after they hung up: %+ld KiB",
       during - before, after - before);
    n = post_head("/body", 3, "");
    memcpy(post_req + n, "abc", 3);
    r = request(c, post_req, n + 3, buf, sizeof buf);
    ok(echoed(&r, "POST", "abc", 3) && vm_within(0, before + 512, 3000, &after),
       "and after an answered POST: %+ld KiB", after - before);
}

static void check_fuzz(const struct server *a)
{
    static char junk[10001];
    static char resp[65536];
    static const char base[] = "GET /echo?a=1&b=x%20y HTTP/1.1\r\nHost: lockprof\r\n"
                               "Accept: */*\r\n\r\n";
    int counts[600] = { 0 }, stalled = 0, none = 0, posts = 0, echoes = 0, wrong = 0;
    rng = 1;
    double t0 = now_ms();
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)(xorshift() % 10001);
        int kind = (int)(xorshift() % 5);
        for (size_t k = 0; k < len; k++)
            junk[k] = (char)xorshift();
        if (kind == 1 && len >= 5) {
            memcpy(junk, "GET /", 5);
        } else if (kind == 2 && len >= 28) {
            memcpy(junk, "GET /hello HTTP/1.1\r\nX: ", 24);
            for (size_t k = 24; k < len; k++)
                junk[k] = (char)(0x20 + xorshift() % 95);
            if (xorshift() % 2)
                memcpy(junk + len - 4, "\r\n\r\n", 4);
        }
        if (kind <= 1 && len >= 9 && xorshift() % 2)
            memcpy(junk + len - 4, "\r\n\r\n", 4); /* a whole head, for the parser */
        if (kind == 3) {
            len = sizeof base - 1;
            memcpy(junk, base, len);
            for (int f = 1 + (int)(xorshift() % 4); f > 0; f--)
                junk[xorshift() % len] = (char)xorshift();
        }
        size_t blen = 0, hlen = 0;
        if (kind == 4) {
            /* A POST with a random body, announced shorter, longer or (rarely) too long. */
            blen = len < 16 || xorshift() % 8 ? (size_t)(xorshift() % (len + len / 4 + 1))
                                             : LP_HTTPD_MAX_BODY + xorshift() % 100;
            char h[128];
            hlen = (size_t)sprintf(h, "POST /body HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
                                   blen);
            if (hlen + len > sizeof junk)
                len = sizeof junk - hlen;
            memmove(junk + hlen, junk, len);
            memcpy(junk, h, hlen);
            len += hlen;
            posts++;
        }
        /* Random bytes, then a half-close, then whatever comes back (an answer or not):
         * byte-level on purpose, the answer parsed by the client's parser. */
        int fd = dial(a);
        if (fd < 0) {
            none++;
            continue;
        }
        send_all(fd, junk, len);
        shutdown(fd, SHUT_WR);
        int how;
        size_t n = read_all(fd, resp, sizeof resp, 6000, &how);
        close(fd);
        if (how == ETIMEDOUT)
            stalled++;
        struct resp r;
        parse_resp(resp, n, &r);
        r.how = how;
        int status = r.status > 0 && r.status < 600 ? r.status : 0;
        counts[status]++;
        if (kind == 4 && status == 200) {
            /* The body the server saw must be the one sent. */
            echoes++;
            wrong += !(hlen + blen <= len && echoed(&r, "POST", junk + hlen, blen));
        }
    }
    diag("fuzz: 2000 inputs in %.0f ms: closed without answer %d, 200 %d, 400 %d, 404 %d, "
         "405 %d, 411 %d, 413 %d, 431 %d, 505 %d; stalled %d, refused %d", now_ms() - t0,
         counts[0], counts[200], counts[400], counts[404], counts[405], counts[411],
         counts[413], counts[431], counts[505], stalled, none);
    ok(stalled == 0 && none == 0, "fuzz: every input answered or closed, none stalled");
    ok(posts > 300 && echoes > 100 && wrong == 0,
       "fuzz: %d random POSTs, %d whole bodies echoed, %d of them wrong", posts, echoes,
       wrong);
    char buf[1024];
    struct resp r = get(a, "/hello", buf, sizeof buf);
    ok(r.status == 200 && strcmp(r.body, "hello\n") == 0, "after the fuzz: still serving");
}

/* The long ones, started first and checked last: a silent client, an incomplete request,
 * a client that never reads its answer. */
struct slowpokes {
    int silent, partial, stalled, body;
    double t_silent, t_partial, t_stalled, t_body;
};

static void start_slowpokes(const struct server *t, const struct server *u,
                            struct slowpokes *sp)
{
    sp->silent = dial(t);
    sp->t_silent = now_ms();
    /* Requests that stop short on purpose: the client's send sends exactly these bytes. */
    sp->partial = dial(t);
    sp->t_partial = now_ms();
    const char *part = "GET /hello HTTP/1.1\r\nHost: x\r\n";
    send_all(sp->partial, part, strlen(part));
    sp->body = dial(t);
    sp->t_body = now_ms();
    part = "POST /body HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789";
    send_all(sp->body, part, strlen(part));
    sp->stalled = dial(u);
    const char *req = "GET /big HTTP/1.1\r\n\r\n";
    send_all(sp->stalled, req, strlen(req));
    sp->t_stalled = now_ms();
}

static void check_slowpokes(struct slowpokes *sp)
{
    char buf[4096];
    int how;
    struct resp r = finish(sp->silent, buf, sizeof buf);
    double took = now_ms() - sp->t_silent;
    ok(r.status == 408 && r.how == 0 && took > 4900 && took < 8000,
       "a silent client gets 408 after %.0f ms (~5 s)", took);
    r = finish(sp->partial, buf, sizeof buf);
    took = now_ms() - sp->t_partial;
    ok(r.status == 408 && r.how == 0 && took > 4900 && took < 8000,
       "an incomplete request gets 408 after %.0f ms", took);
    r = finish(sp->body, buf, sizeof buf);
    took = now_ms() - sp->t_body;
    ok(r.status == 408 && r.how == 0 && took > 4900 && took < 8000,
       "a POST with 10 of its 100 body bytes gets 408 after %.0f ms", took);
    /* The server stops sending and drops it: the hang-up arrives although this side has
     * never read (its receive queue still holds what it was sent). */
    struct pollfd p = { sp->stalled, POLLRDHUP, 0 };
    int left = (int)(sp->t_stalled + 12000 - now_ms());
    int pr = poll(&p, 1, left > 0 ? left : 0);
    took = now_ms() - sp->t_stalled;
    ok(pr == 1 && took > 4900 && took < 9000,
       "a client that does not read is dropped after %.0f ms without progress (~5 s)", took);
    size_t n = read_all(sp->stalled, big, sizeof big, 5000, &how);
    ok(n < BIG_SIZE, "and it got %zu bytes of the 5 MiB", n);
    close(sp->stalled);
}

static void check_closefrom(const struct server *a, const struct server *u,
                            const struct server *others[], int nothers)
{
    double took = 0;
    bool back;
    struct stat st;
    /* The listener's number closed, as closefrom would: back on the same address. (took is
     * read after hello_within has set it: not in the same call.) */
    int lfd = lp_httpd_listener_fd(a->h);
    ok(lfd >= 3 && close(lfd) == 0, "closed the TCP listener's descriptor %d", lfd);
    back = hello_within(a, 2000, &took);
    ok(back && strcmp(lp_httpd_address(a->h), a->address) == 0,
       "TCP: served again on %s within %.0f ms", a->address, took);
    lfd = lp_httpd_listener_fd(u->h);
    ok(lfd >= 3 && close(lfd) == 0, "closed the unix listener's descriptor %d", lfd);
    back = hello_within(u, 2000, &took);
    ok(back, "unix: served again within %.0f ms", took);
    memset(&st, 0, sizeof st);
    bool there = lstat(u->address + 5, &st) == 0;
    ok(there && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0600,
       "unix: the socket file is back, mode %03o", (unsigned)(st.st_mode & 07777));
    back = unlink(u->address + 5) == 0 && hello_within(u, 2000, &took);
    ok(back,
       "unix: its file removed (a /tmp cleaner), bound again within %.0f ms", took);

    /* A real closefrom while a handler waits, and the listener's number reused at once by
     * the program: the handler sees ABORT, the program's descriptor is left alone. */
    int news = __atomic_load_n(&slow_new, __ATOMIC_SEQ_CST);
    int aborted0 = __atomic_load_n(&slow_aborted, __ATOMIC_SEQ_CST);
    int slow = dial(a);
    const char *sreq = "GET /slow?ms=3000 HTTP/1.1\r\n\r\n";
    send_all(slow, sreq, strlen(sreq));
    ok(wait_counter(&slow_new, news, 2000), "a slow request waits in its handler");
    int low = lp_httpd_listener_fd(a->h), reuse = low;
    for (int i = 0; i < nothers; i++) {
        int f = lp_httpd_listener_fd(others[i]->h);
        if (f >= 3 && f < low)
            low = f;
    }
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return;
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer does not see closefrom's descriptors closed, and would take a number
     * reused afterwards for the descriptor it held before: closed one by one instead. */
    for (long fd = low, max = sysconf(_SC_OPEN_MAX); fd < max; fd++)
        close((int)fd);
#else
    closefrom((unsigned)low);
#endif
    int got = dup2(pipefd[0], reuse);
    struct stat pst, rst;
    fstat(pipefd[0], &pst);
    diag("closefrom(%d); the program now has a pipe at %d", low, reuse);
    ok(got == reuse, "dup2 of a pipe onto the old listener number %d", reuse);
    for (int i = 0; i < nothers; i++) {
        back = hello_within(others[i], 2000, &took);
        ok(back, "after closefrom: %s served again within %.0f ms", others[i]->address, took);
    }
    ok(wait_counter(&slow_aborted, aborted0, 2000), "the waiting handler saw ABORT");
    ok(fstat(reuse, &rst) == 0 && rst.st_ino == pst.st_ino && rst.st_dev == pst.st_dev &&
           write(pipefd[1], "x", 1) == 1,
       "the program's descriptor %d was left alone", reuse);
    ok(lp_httpd_listener_fd(a->h) != reuse, "the listener lives at another number (%d)",
       lp_httpd_listener_fd(a->h));
    close(slow);
    close(pipefd[0]);
    close(pipefd[1]);
    close(reuse);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    char dir[] = "/tmp/lockprof-unit-httpd-XXXXXX";
    if (!mkdtemp(dir))
        return 99;
    char spec[128];
    static struct server a, t, c, u, v6;
    bool started = start(&t, "localhost:0");
    snprintf(spec, sizeof spec, "unix:%s/s", dir);
    started = started && start(&u, spec);
    struct slowpokes sp;
    if (started)
        start_slowpokes(&t, &u, &sp);
    started = started && start(&a, "127.0.0.1:0") && start(&c, "127.0.0.1:0");
    ok(started, "servers on %s, %s, %s, %s", a.address, t.address, c.address, u.address);
    if (!started)
        return done_testing();

    char buf[1024];
    double t0 = now_ms();
    struct resp r = get(&t, "/hello", buf, sizeof buf);
    double took = now_ms() - t0;
    ok(r.status == 200 && took < 1000,
       "/hello while a silent client is connected: %.1f ms (< 1 s)", took);
    const char *post = "POST /body HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    t0 = now_ms();
    r = request(&t, post, strlen(post), buf, sizeof buf);
    took = now_ms() - t0;
    ok(r.status == 200 && took < 1000,
       "a POST while another's body is incomplete: %.1f ms (< 1 s)", took);

    check_query();
    check_specs(dir, &a, &u);
    check_unix_modes(dir);
    check_basics(&a);
    check_concurrency(&a, &c);
    check_hangups(&a, &u);
    check_big(&a);
    check_post(&a, &c);
    check_fuzz(&a);

    r = get(&u, "/hello", buf, sizeof buf);
    ok(r.status == 200 && strcmp(r.body, "hello\n") == 0, "over the unix socket");
    bool v6ok = start(&v6, "[::1]:0");
    if (v6ok) {
        r = get(&v6, "/hello", buf, sizeof buf);
        ok(r.status == 200 && strncmp(v6.address, "[::1]:", 6) == 0, "over IPv6: %s",
           v6.address);
    } else {
        ok(true, "over IPv6 # SKIP no ::1 here");
    }

    check_slowpokes(&sp);
    const struct server *all[] = { &a, &t, &c, &u, &v6 };
    check_closefrom(&a, &u, all, v6ok ? 5 : 4);

    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
