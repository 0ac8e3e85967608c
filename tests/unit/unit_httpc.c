/*
 * unit_httpc — the lockprof command's HTTP client (tools/httpc.c) without a server: the
 * addresses `lockprof fetch` accepts and the reasons it gives for the others, the request's
 * text, heads (status, Content-Length and its conflicts, chunked over Content-Length, what is
 * not HTTP), chunked bodies whole, cut, malformed and fed a byte at a time, and
 * lp_httpc_receive over a socket pair fed by hand: every way an answer ends, each with its
 * reason, and the work it does for a body of many small chunks arriving in many reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpc.h"
#include "tap.h"

static void check_address(const char *given, const char *host, const char *port,
                          const char *display, const char *url_path)
{
    char err[512] = "";
    struct lp_httpc_addr a;
    int rc = lp_httpc_parse_address(given, &a, err, sizeof err);
    bool same = rc == 0 && a.unix_path == NULL && strcmp(a.host, host) == 0 &&
                strcmp(a.port, port) == 0 && strcmp(a.display, display) == 0 &&
                (url_path ? a.url_path && strcmp(a.url_path, url_path) == 0 : !a.url_path);
    if (!ok(same, "address '%s': %s port %s, shown %s, path %s", given, host, port, display,
            url_path ? url_path : "none"))
        diag("  rc %d (%s), host %s, port %s, display %s, path %s", rc, err,
             rc == 0 ? a.host : "-", rc == 0 ? a.port : "-", rc == 0 ? a.display : "-",
             rc == 0 && a.url_path ? a.url_path : "-");
    if (rc == 0)
        lp_httpc_addr_free(&a);
}

static void check_bad_address(const char *given, const char *want)
{
    char err[512] = "";
    struct lp_httpc_addr a;
    int rc = lp_httpc_parse_address(given, &a, err, sizeof err);
    if (!ok(rc == -EINVAL && strcmp(err, want) == 0, "address '%.40s' refused", given))
        diag("  rc %d, \"%s\", expected \"%s\"", rc, err, want);
}

static void check_addresses(void)
{
    check_address("127.0.0.1:6060", "127.0.0.1", "6060", "127.0.0.1:6060", NULL);
    check_address(":6060", "localhost", "6060", "localhost:6060", NULL);
    check_address("[::1]:80", "::1", "80", "[::1]:80", NULL);
    check_address("http://host.example:8080/debug/pprof/", "host.example", "8080",
                  "host.example:8080", NULL);
    check_address("HTTP://h", "h", "80", "h:80", NULL);
    check_address("http://h:1/debug/pprof", "h", "1", "h:1", NULL);
    check_address("http://h:1/debug/pprof/threads?format=json#top", "h", "1", "h:1",
                  "/debug/pprof/threads?format=json");
    check_address("http://h:1?seconds=5", "h", "1", "h:1", "/?seconds=5");
    check_address("http://[::1]/x", "::1", "80", "[::1]:80", "/x");

    char err[512];
    struct lp_httpc_addr a;
    int rc = lp_httpc_parse_address("unix:/run/s.sock", &a, err, sizeof err);
    ok(rc == 0 && !a.host && strcmp(a.unix_path, "/run/s.sock") == 0 &&
           strcmp(a.display, "unix:/run/s.sock") == 0,
       "unix:PATH: the path, shown as given");
    if (rc == 0) {
        char *req = lp_httpc_request("/debug/pprof/threads", &a, "agent/1");
        is_str(req, "GET /debug/pprof/threads HTTP/1.1\r\nHost: localhost\r\nUser-Agent: "
               "agent/1\r\nAccept: */*\r\nConnection: close\r\n\r\n",
               "the request over a unix socket names localhost");
        free(req);
        lp_httpc_addr_free(&a);
    }
    rc = lp_httpc_parse_address("[::1]:6060", &a, err, sizeof err);
    if (rc == 0) {
        char *req = lp_httpc_request("/", &a, "x");
        ok(req && strstr(req, "\r\nHost: [::1]:6060\r\n"), "over TCP, Host: is the address");
        free(req);
        lp_httpc_addr_free(&a);
    }

    check_bad_address("localhost",
                      "address 'localhost': expected HOST:PORT, http://HOST:PORT or unix:PATH");
    check_bad_address("ftp://h:21",
                      "address 'ftp://h:21': expected HOST:PORT, http://HOST:PORT or unix:PATH");
    check_bad_address("https://h/", "address 'https://h/': lockprof's endpoint speaks plain "
                      "HTTP, not https");
    check_bad_address("unix:", "address 'unix:': expected unix:PATH");
    char longpath[200] = "unix:";
    memset(longpath + 5, 'p', 150);
    longpath[155] = '\0';
    char want[400];
    snprintf(want, sizeof want, "address '%s': a socket path has at most 107 bytes", longpath);
    check_bad_address(longpath, want);
    check_bad_address("h:99999", "address 'h:99999': port '99999': expected a number from 1 "
                      "to 65535");
    check_bad_address("h:+80", "address 'h:+80': port '+80': expected a number from 1 to "
                      "65535");
    check_bad_address("h:0", "address 'h:0': port 0: the program chose its port; its "
                      "'lockprof: serving' line says which");
    check_bad_address("::1:80", "address '::1:80': an IPv6 address goes in brackets: "
                      "[ADDRESS]:PORT");
    check_bad_address("[::1", "address '[::1': expected [IPv6 ADDRESS]:PORT");
    check_bad_address("[]:80", "address '[]:80': expected [IPv6 ADDRESS]:PORT");
    check_bad_address("[::1]x", "address '[::1]x': expected [IPv6 ADDRESS]:PORT");
    check_bad_address("[g::1]:80", "address '[g::1]:80': 'g::1' is not an IPv6 address");
    check_bad_address("a b:80", "address 'a b:80': 'a b' is not a host name");
    check_bad_address("http://h:1/a b", "address 'http://h:1/a b': spaces, control characters "
                      "and non-ASCII in a path must be percent-encoded");

    ok(lp_httpc_path_ok("/debug/pprof/mutex?debug=1") && !lp_httpc_path_ok("x") &&
           !lp_httpc_path_ok("/a b") && !lp_httpc_path_ok("/a#b") &&
           !lp_httpc_path_ok("/\xc3\xa9"),
       "paths: printable ASCII after '/', no space or '#'");
}

static void check_heads(void)
{
    const char *lf = "HTTP/1.0 404 Not Found\nContent-Type: text/plain\n\nbody";
    is_u64(lp_httpc_head_end((const uint8_t *)lf, strlen(lf)), strlen(lf) - 4,
           "a head ending in LF LF");
    const char *crlf = "HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody";
    is_u64(lp_httpc_head_end((const uint8_t *)crlf, strlen(crlf)), strlen(crlf) - 4,
           "a head ending in CRLF CRLF");
    is_u64(lp_httpc_head_end((const uint8_t *)crlf, 20), 0, "no end yet");

    struct lp_httpc_answer ans;
    char *err = NULL;
    const char *h = "HTTP/1.1 503 Service Unavailable \r\ncontent-length:  12 \r\n"
                    "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 12\r\n\r\n";
    memset(&ans, 0, sizeof ans);
    int rc = lp_httpc_parse_head((const uint8_t *)h, strlen(h), 100, &ans, &err);
    ok(rc == 0 && ans.status == 503 && strcmp(ans.reason, "Service Unavailable") == 0 &&
           ans.length == 12 && !ans.chunked &&
           strcmp(ans.type, "text/plain; charset=utf-8") == 0,
       "status, reason, type, agreeing Content-Lengths in any case and spacing");
    h = "HTTP/1.1 200\r\nTransfer-Encoding: gzip, Chunked\r\nContent-Length: 5\r\n\r\n";
    rc = lp_httpc_parse_head((const uint8_t *)h, strlen(h), 100, &ans, &err);
    ok(rc == 0 && ans.status == 200 && ans.reason[0] == '\0' && ans.chunked &&
           ans.length == -1,
       "no reason; chunked wins over Content-Length");

    static const struct { const char *head, *why; } bad[] = {
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
          "the answer has a bad Content-Length, '6'" },
        { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
          "the answer has a bad Content-Length, '-1'" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n",
          "the answer has a bad Content-Length, '101'" },
        { "HTTP/2 200 OK\r\n\r\n",
          "the answer is not HTTP (does that port serve lockprof's endpoint?)" },
        { "HTTP/1.1 600 No\r\n\r\n",
          "the answer is not HTTP (does that port serve lockprof's endpoint?)" },
        { "SSH-2.0-OpenSSH_9.2\r\n\r\n",
          "the answer is not HTTP (does that port serve lockprof's endpoint?)" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = NULL;
        rc = lp_httpc_parse_head((const uint8_t *)bad[i].head, strlen(bad[i].head), 100, &ans,
                                 &err);
        if (!ok(rc == -EBADMSG && err && strcmp(err, bad[i].why) == 0, "bad head %zu: %s", i,
                bad[i].why))
            diag("  rc %d, \"%s\"", rc, err ? err : "(null)");
        free(err);
    }
}

/* Decodes the chunked body at b in place, given in one piece: its decoded length, -EAGAIN if
 * it is not complete, or -EBADMSG. */
static ssize_t dechunk_whole(char *b, size_t max)
{
    struct lp_httpc_dechunk d;
    size_t used, out;
    lp_httpc_dechunk_init(&d, max);
    int rc = lp_httpc_dechunk(&d, (uint8_t *)b, strlen(b), &used, &out);
    return rc < 0 ? rc : rc == 0 ? -EAGAIN : (ssize_t)out;
}

static void check_dechunk(void)
{
    char b[256];
    strcpy(b, "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nAFTER");
    ssize_t n = dechunk_whole(b, 1000);
    ok(n == 11 && memcmp(b, "hello world", 11) == 0, "chunks with an extension and a trailer");
    strcpy(b, "3\nabc\nA\n0123456789\n0\n\n");
    n = dechunk_whole(b, 1000);
    ok(n == 13 && memcmp(b, "abc0123456789", 13) == 0, "bare LF line ends, a hex size");
    static const char *const partial[] = { "5\r\nhel", "5\r\nhello", "5\r\nhello\r",
                                           "5\r\nhello\r\n0\r\n", "5\r\nhello\r\n0\r\nT: 1\r\n",
                                           "" };
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        strcpy(b, partial[i]);
        is_i64(dechunk_whole(b, 1000), -EAGAIN, "incomplete chunked body %zu", i);
    }
    static const char *const bad[] = { "x\r\n", "5\r\nhelloXX\r\n", "5x\r\nhello\r\n",
                                       "\r\nhello", "FFFFFFFFFFFFFFFFFFFF\r\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(b, bad[i]);
        is_i64(dechunk_whole(b, 1000), -EBADMSG, "malformed chunked body %zu", i);
    }
    strcpy(b, "1000\r\n");
    is_i64(dechunk_whole(b, 100), -EBADMSG, "a chunk size over the limit is malformed");
    strcpy(b, "64\r\n");
    is_i64(dechunk_whole(b, 100), -EAGAIN, "a chunk size of exactly the limit is not");

    /* Fed a byte at a time: the same data, the same end, each byte taken once. */
    const char *body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nAFTER";
    struct lp_httpc_dechunk d;
    char got[64];
    size_t glen = 0, taken = 0, used, out;
    int rc = 0;
    lp_httpc_dechunk_init(&d, 1000);
    for (size_t i = 0; body[i] && rc == 0; i++) {
        got[glen] = body[i];
        rc = lp_httpc_dechunk(&d, (uint8_t *)got + glen, 1, &used, &out);
        glen += out;
        taken += used;
    }
    ok(rc == 1 && glen == 11 && memcmp(got, "hello world", 11) == 0 &&
           taken == strlen(body) - 5 && d.in == taken && d.out == 11,
       "a byte at a time: the same body, complete at the same byte (rc %d, %zu bytes, %zu "
       "taken)", rc, glen, taken);
    rc = lp_httpc_dechunk(&d, (uint8_t *)"0\r\n\r\n", 5, &used, &out);
    ok(rc == 1 && used == 0 && out == 0, "complete is final: nothing more is taken");
    strcpy(b, "zz");
    lp_httpc_dechunk_init(&d, 1000);
    rc = lp_httpc_dechunk(&d, (uint8_t *)b, 2, &used, &out);
    int again = lp_httpc_dechunk(&d, (uint8_t *)"0\r\n\r\n", 5, &used, &out);
    ok(rc == -EBADMSG && again == -EBADMSG, "malformed is final");
}

/* lp_httpc_receive of what was written into the other end of a socket pair (closed after
 * it when close_after), with a limit of max bytes and limit_s seconds. */
static int receive(const char *sent, bool close_after, size_t max, uint64_t limit_s, bool head,
                   struct lp_httpc_answer *ans, char *why, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    if (write(sv[1], sent, strlen(sent)) != (ssize_t)strlen(sent))
        return -EIO;
    if (close_after)
        close(sv[1]);
    struct lp_httpc_call c;
    lp_httpc_call_init(&c, limit_s, max);
    c.head = head;
    int rc = lp_httpc_receive(sv[0], &c, ans);
    snprintf(why, size, "%s", c.err ? c.err : "");
    lp_httpc_call_done(&c);
    close(sv[0]);
    if (!close_after)
        close(sv[1]);
    return rc;
}

static void check_receive(void)
{
    struct lp_httpc_answer ans;
    char why[256];
    int rc = receive("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", false, 1000, 5,
                     false, &ans, why, sizeof why);
    ok(rc == 0 && ans.status == 200 && ans.len == 5 && memcmp(ans.body, "hello", 5) == 0 &&
           ans.body[5] == '\0' && ans.head_len == 38 &&
           memcmp(ans.buf, "HTTP/1.1 200 OK\r\n", 17) == 0,
       "Content-Length: done without waiting for the close, the body NUL-terminated");
    if (rc == 0)
        lp_httpc_answer_free(&ans);
    rc = receive("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, 1000, 5, true, &ans,
                 why, sizeof why);
    ok(rc == 0 && ans.len == 0 && ans.length == 5, "a HEAD's answer has no body");
    if (rc == 0)
        lp_httpc_answer_free(&ans);
    rc = receive("HTTP/1.0 200 OK\n\nuntil the close", true, 1000, 5, false, &ans, why,
                 sizeof why);
    ok(rc == 0 && ans.len == 15 && strcmp((char *)ans.body, "until the close") == 0,
       "no length: the body ends at the close");
    if (rc == 0)
        lp_httpc_answer_free(&ans);
    rc = receive("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n"
                 "0\r\n\r\n", false, 1000, 5, false, &ans, why, sizeof why);
    ok(rc == 0 && ans.len == 5 && strcmp((char *)ans.body, "abcde") == 0,
       "chunked: decoded, done at the last chunk");
    if (rc == 0)
        lp_httpc_answer_free(&ans);

    static const struct {
        const char *sent;
        bool close;
        size_t max;
        int rc;
        const char *why;
    } fails[] = {
        { "", true, 1000, -EPIPE, "the connection closed without an answer" },
        { "HTTP/1.1 200 OK\r\n", true, 1000, -EPIPE,
          "the connection closed in the middle of the answer's header" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true, 1000, -EPIPE,
          "the connection closed after 5 of the answer's 10 bytes" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", true, 1000, -EPIPE,
          "the connection closed in the middle of the answer" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true, 1000, -EBADMSG,
          "the answer's chunked encoding is malformed" },
        { "<html>\r\n\r\n", true, 1000, -EBADMSG,
          "the answer is not HTTP (does that port serve lockprof's endpoint?)" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n", true, 1000, -EBADMSG,
          "the answer has a bad Content-Length, '1000000'" },
        { "", false, 1000, -ETIMEDOUT, "no complete answer within 0 s (the program sent nothing)" },
        { "HTTP/1.1 200 OK\r\n", false, 1000, -ETIMEDOUT, "no complete answer within 0 s" },
    };
    for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
        rc = receive(fails[i].sent, fails[i].close, fails[i].max, fails[i].rc == -ETIMEDOUT ? 0 : 5,
                     false, &ans, why, sizeof why);
        if (!ok(rc == fails[i].rc && strcmp(why, fails[i].why) == 0, "answer %zu: %s", i,
                fails[i].why))
            diag("  rc %d, \"%s\"", rc, why);
    }

    /* The byte limit, and the head's own limit (64 KiB). */
    static char sent[80000];
    int hn = sprintf(sent, "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n");
    memset(sent + hn, 'x', 20000);
    sent[hn + 20000] = '\0';
    rc = receive(sent, true, (size_t)hn + 20000, 5, false, &ans, why, sizeof why);
    ok(rc == 0 && ans.len == 20000, "an answer of exactly max_bytes");
    if (rc == 0)
        lp_httpc_answer_free(&ans);
    rc = receive(sent, true, (size_t)hn + 19999, 5, false, &ans, why, sizeof why);
    char want[64];
    snprintf(want, sizeof want, "the answer is larger than %d bytes", hn + 19999);
    ok(rc == -EFBIG && strcmp(why, want) == 0, "one byte more than max_bytes: %s", why);
    memset(sent, 'h', 70000);
    memcpy(sent, "HTTP/1.1 200 OK\r\nX: ", 20);
    sent[70000] = '\0';
    rc = receive(sent, true, 1000000, 5, false, &ans, why, sizeof why);
    ok(rc == -EBADMSG && strcmp(why, "the answer's header is longer than 64 KiB") == 0,
       "a head over 64 KiB: %s", why);
}

/* A chunked answer of n one-byte chunks, written a chunk per write by a thread. */
struct feed {
    int fd;
    size_t chunks;
    size_t sent;
};

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void *feed_chunks(void *arg)
{
    struct feed *f = arg;
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    bool good = write_all(f->fd, head, sizeof head - 1);
    f->sent = sizeof head - 1;
    for (size_t i = 0; good && i < f->chunks; i++, f->sent += 6)
        good = write_all(f->fd, "1\r\nx\r\n", 6);
    if (good && write_all(f->fd, "0\r\n\r\n", 5))
        f->sent += 5;
    return NULL;
}

/*
 * The receive's work is linear in what it receives: a body of n one-byte chunks that arrives
 * in many reads (the writer is slower than the reader) is looked at once, byte by byte,
 * whatever the number of reads. Parsing the body again from its start after each read, as a
 * decoder without state must, looks at the sum of the body's lengths at each read, which
 * grows as the square of the body when the reads are many.
 */
static void check_linear(size_t chunks)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
        fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0) {
        ok(false, "socketpair: %s", strerror(errno));
        return;
    }
    struct feed f = { .fd = sv[1], .chunks = chunks };
    pthread_t t;
    if (pthread_create(&t, NULL, feed_chunks, &f) != 0) {
        ok(false, "pthread_create");
        return;
    }
    struct lp_httpc_call c;
    struct lp_httpc_answer ans;
    lp_httpc_call_init(&c, 60, 64u << 20);
    int64_t t0 = lp_httpc_now_ms();
    int rc = lp_httpc_receive(sv[0], &c, &ans);
    int64_t took = lp_httpc_now_ms() - t0;
    pthread_join(t, NULL);
    size_t x = 0;
    while (rc == 0 && x < ans.len && ans.body[x] == 'x')
        x++;
    ok(rc == 0 && ans.len == chunks && x == chunks, "%zu one-byte chunks: the body (rc %d, %s)",
       chunks, rc, c.err ? c.err : "");
    /* The head came in one write, so in one read: no byte is looked at twice. */
    if (!ok(c.parsed <= f.sent, "%zu one-byte chunks: %" PRIu64 " bytes looked at for %zu "
            "received", chunks, c.parsed, f.sent))
        diag("  the receive parsed some bytes again");
    diag("%zu chunks received in %" PRId64 " ms", chunks, took);
    if (rc == 0)
        lp_httpc_answer_free(&ans);
    lp_httpc_call_done(&c);
    close(sv[0]);
    close(sv[1]);
}

static void check_connect(void)
{
    char err[512];
    struct lp_httpc_addr a;
    struct lp_httpc_call c;
    lp_httpc_parse_address("unix:/nonexistent/lockprof-unit-httpc.sock", &a, err, sizeof err);
    lp_httpc_call_init(&c, 5, 1000);
    int rc = lp_httpc_connect(&a, &c);
    is_str(c.err, "cannot connect to unix:/nonexistent/lockprof-unit-httpc.sock: No such file "
           "or directory (is the program running, with "
           "LOCKPROF_HTTP=unix:/nonexistent/lockprof-unit-httpc.sock?)",
           "a unix socket that is not there (%d)", rc);
    lp_httpc_call_done(&c);
    lp_httpc_addr_free(&a);
}

int main(void)
{
    check_addresses();
    check_heads();
    check_dechunk();
    check_receive();
    check_linear(20000);
    check_linear(200000);
    check_connect();
    return done_testing();
}
