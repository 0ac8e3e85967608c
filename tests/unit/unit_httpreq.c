/*
 * unit_httpreq — the request parser of the HTTP server (core/httpreq.c), driven on byte
 * strings: incomplete heads, every status it answers with and its reason, the Content-Length
 * rules, Transfer-Encoding, 100-continue, HEAD, the head limit, percent-decoding, targets,
 * the reason phrases and the query lookup. No socket, no privilege.
 */
#include <stdint.h>

#include "httpd.h"
#include "httpreq.h"
#include "tap.h"

#define MAX_HEAD LP_HTTPD_MAX_HEADER
#define MAX_BODY LP_HTTPD_MAX_BODY

/* The last request parsed, in a buffer of exactly its size (a sanitizer sees any read past
 * it); the result's pointers point into it until the next parse. */
static char *req_buf;
static struct lp_httpreq req;

static enum lp_httpreq_state parse_n(const char *s, size_t n, size_t max_head, size_t max_body)
{
    free(req_buf);
    req_buf = malloc(n ? n : 1);
    if (!req_buf)
        abort();
    memcpy(req_buf, s, n);
    return lp_httpreq_parse(req_buf, n, max_head, max_body, &req);
}

static enum lp_httpreq_state parse(const char *s)
{
    return parse_n(s, strlen(s), MAX_HEAD, MAX_BODY);
}

/* s is refused with status and exactly reason. */
static void refused(const char *s, int status, const char *reason, const char *name)
{
    enum lp_httpreq_state st = parse(s);
    if (!ok(st == LP_HTTPREQ_ERROR && req.status == status && strcmp(req.reason, reason) == 0,
            "%d: %s", status, name))
        diag("  state %d, status %d, reason \"%s\"; expected %d \"%s\"", (int)st, req.status,
             req.reason, status, reason);
}

/* s is a complete request for path with query (raw). */
static void accepted(const char *s, const char *method, const char *path, const char *query,
                     const char *name)
{
    enum lp_httpreq_state st = parse(s);
    bool good = st == LP_HTTPREQ_COMPLETE && strcmp(req.method, method) == 0 &&
                strcmp(req.path, path) == 0 && strcmp(req.query, query) == 0;
    if (!ok(good, "complete: %s", name))
        diag("  state %d (status %d \"%s\"), %s \"%s\" ? \"%s\"", (int)st, req.status, req.reason,
             req.method ? req.method : "-", req.path ? req.path : "-",
             req.query ? req.query : "-");
}

static const char R400_LINE[] = "malformed request line (expected METHOD /path HTTP/1.1)";
static const char R400_FIELD[] = "malformed header field";
static const char R400_LENGTH[] = "malformed Content-Length (expected one decimal number)";
static const char R400_ESCAPE[] = "malformed percent-escape (or %00) in the path";
static const char R411_CODED[] =
    "Transfer-Encoding is not supported: send the body with Content-Length";

static void check_incomplete(void)
{
    static const char *partial[] = {
        "", "G", "GET / HTTP/1.1", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x\r\n",
        "GET / HTTP/1.1\r\n\r", "\r\n\r\n", "\n\n\n",
    };
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++)
        ok(parse(partial[i]) == LP_HTTPREQ_INCOMPLETE, "incomplete: partial head %zu", i);

    /* Byte by byte: every prefix incomplete and left as it was, the whole complete. */
    const char *full = "POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 3\r\n\r\n0x1";
    size_t head = strlen(full) - 3;
    bool fine = true;
    for (size_t n = 0; n < head && fine; n++) {
        fine = parse_n(full, n, MAX_HEAD, MAX_BODY) == LP_HTTPREQ_INCOMPLETE &&
               memcmp(req_buf, full, n) == 0;
        if (!fine)
            diag("  prefix of %zu bytes", n);
    }
    ok(fine, "every prefix of the head is incomplete, and the buffer is not written");
    ok(parse_n(full, head, MAX_HEAD, MAX_BODY) == LP_HTTPREQ_COMPLETE && req.head_len == head,
       "the head alone is complete");
}

static void check_complete(void)
{
    const char *get = "GET /debug/pprof/mutex?seconds=5&debug=1 HTTP/1.1\r\nHost: localhost\r\n"
                      "User-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n";
    accepted(get, "GET", "/debug/pprof/mutex", "seconds=5&debug=1", "a GET with a query");
    ok(req.minor == 1 && !req.has_length && req.content_length == 0 && req.body_len == 0 &&
           !req.head_only && !req.expect_continue && req.head_len == strlen(get),
       "its version, its length, no body, no expectation");

    const char *lf = "GET /a HTTP/1.0\n\n";
    accepted(lf, "GET", "/a", "", "lines ending in LF alone, no query");
    ok(req.minor == 0 && req.head_len == strlen(lf), "HTTP/1.0, head_len %zu", req.head_len);

    const char *lead = "\r\n\nGET /b HTTP/1.1\nHost: x\r\n\n";
    accepted(lead, "GET", "/b", "", "empty lines before the request line are skipped");
    is_u64(req.head_len, strlen(lead), "head_len counts the skipped lines");

    accepted("GET /? HTTP/1.1\r\n\r\n", "GET", "/", "", "an empty query");
    accepted("GET /x HTTP/1.9\r\n\r\n", "GET", "/x", "", "HTTP/1.9 is an HTTP/1.x");
    is_i64(req.minor, 9, "minor 9");

    accepted("HEAD /debug/pprof/ HTTP/1.1\r\n\r\n", "HEAD", "/debug/pprof/", "", "HEAD");
    ok(req.head_only && req.body_len == 0, "HEAD: head only");

    const char *post = "POST /debug/pprof/symbol HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
                       "\r\n0x401000+0x";
    accepted(post, "POST", "/debug/pprof/symbol", "", "a POST whose body began with its head");
    ok(req.has_length && req.content_length == 11 && req.body_len == 11 &&
           req.head_len == strlen(post) - 11 && memcmp(req_buf + req.head_len, "0x401000+0x",
                                                       11) == 0,
       "its body follows the head (head_len %zu)", req.head_len);
    ok(!req.head_only && !req.expect_continue, "no expectation, a body to send");

    accepted("GET / HTTP/1.1\r\nX-Empty:\r\nX-Tab: a\tb\r\nX-Text: caf\xc3\xa9\r\n"
             "X-Token!#$%&'*+-.^_`|~: 1\r\n\r\n",
             "GET", "/", "", "empty values, tabs, obs-text, every token character");
}

static void check_length(void)
{
    accepted("POST /s HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "POST", "/s", "",
             "Content-Length: 0");
    ok(req.has_length && req.body_len == 0, "an empty body");
    accepted("POST /s HTTP/1.1\r\ncontent-LENGTH: \t 12 \t\r\n\r\n", "POST", "/s", "",
             "the name in any case, spaces and tabs around the value");
    is_u64(req.body_len, 12, "12");
    accepted("POST /s HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n", "POST", "/s",
             "", "repeated fields that agree");
    is_u64(req.body_len, 4, "4");
    accepted("POST /s HTTP/1.1\r\nContent-Length: 0004\r\n\r\n", "POST", "/s", "",
             "leading zeros are digits");
    is_u64(req.body_len, 4, "0004 is 4");
    accepted("POST /s HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n", "POST", "/s", "",
             "exactly LP_HTTPD_MAX_BODY");
    is_u64(req.body_len, MAX_BODY, "the whole maximum");

    accepted("GET /g HTTP/1.1\r\nContent-Length: 7\r\n\r\n", "GET", "/g", "",
             "a GET with a body");
    ok(req.has_length && req.content_length == 7 && req.body_len == 0,
       "its body is not for the handler");
    accepted("GET /g HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", "GET",
             "/g", "", "a GET announcing a huge body");
    is_u64(req.content_length, (uint64_t)MAX_BODY + 1, "saturated at the maximum + 1");

    static const char *bad[] = { "+5", "-5", "5, 5", "", "5 5", "0x5", "5.0", "five", "5;" };
    char s[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(s, sizeof s, "POST /s HTTP/1.1\r\nContent-Length: %s\r\n\r\n", bad[i]);
        char name[64];
        snprintf(name, sizeof name, "Content-Length: \"%s\"", bad[i]);
        refused(s, 400, R400_LENGTH, name);
    }
    refused("GET /s HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, R400_LENGTH,
            "a malformed Content-Length on a GET too");
    refused("POST /s HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
            "conflicting Content-Length fields", "fields that disagree");
    refused("POST /s HTTP/1.1\r\nHost: x\r\n\r\n", 411, "a POST needs Content-Length",
            "a POST without Content-Length");
    refused("POST /s HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413,
            "the body exceeds 1048576 bytes", "one byte over the maximum");
    refused("POST /s HTTP/1.1\r\nContent-Length: 99999999999999999999999999999999\r\n\r\n",
            413, "the body exceeds 1048576 bytes", "a length that overflows any integer");
    refused("POST /s HTTP/1.1\r\nContent-Length: 2000000\r\nContent-Length: 3000000\r\n\r\n",
            413, "the body exceeds 1048576 bytes",
            "two values over the maximum agree (both too large)");
    refused("POST /s HTTP/1.1\r\nContent-Length: 1048577\r\nContent-Length: 1048578\r\n\r\n",
            413, "the body exceeds 1048576 bytes", "even just over it");
    const char *eleven = "POST /s HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
    ok(parse_n(eleven, strlen(eleven), MAX_HEAD, 10) == LP_HTTPREQ_ERROR &&
           req.status == 413 && strcmp(req.reason, "the body exceeds 10 bytes") == 0,
       "413 against the max_body given (the reason says it)");

    refused("POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411, R411_CODED,
            "Transfer-Encoding: chunked");
    refused("POST /s HTTP/1.1\r\nContent-Length: 3\r\ntransfer-encoding: identity\r\n\r\n", 411,
            R411_CODED, "any coding, even with Content-Length");
    refused("GET /s HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 411, R411_CODED,
            "Transfer-Encoding on a GET");
    refused("GET /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n", 400,
            R400_LENGTH, "a malformed field is found before Transfer-Encoding is answered");
}

static void check_continue(void)
{
    static const struct {
        const char *req;
        bool expect;
        const char *name;
    } cases[] = {
        { "POST /s HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", true,
          "a POST of HTTP/1.1" },
        { "POST /s HTTP/1.1\r\nContent-Length: 5\r\nexpect:  100-Continue \r\n\r\n", true,
          "any case, spaces around" },
        { "POST /s HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", false,
          "not for HTTP/1.0" },
        { "GET /s HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", false, "not for a GET" },
        { "POST /s HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 5\r\n\r\n", false,
          "another expectation is ignored" },
        { "POST /s HTTP/1.1\r\nExpect: 100-continue, x\r\nContent-Length: 5\r\n\r\n", false,
          "a list is another expectation" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ok(parse(cases[i].req) == LP_HTTPREQ_COMPLETE &&
               req.expect_continue == cases[i].expect,
           "100-continue %s: %s", cases[i].expect ? "asked" : "not asked", cases[i].name);
}

static void check_head_limit(void)
{
    static char big[MAX_HEAD + 64];
    const char *line = "GET / HTTP/1.1\r\nX: ";
    size_t n = strlen(line);
    memcpy(big, line, n);
    memset(big + n, 'a', sizeof big - n);

    ok(parse_n(big, MAX_HEAD - 1, MAX_HEAD, MAX_BODY) == LP_HTTPREQ_INCOMPLETE,
       "8191 bytes without the end: incomplete");
    ok(parse_n(big, MAX_HEAD, MAX_HEAD, MAX_BODY) == LP_HTTPREQ_ERROR && req.status == 431 &&
           strcmp(req.reason, "the request head exceeds 8192 bytes") == 0,
       "431 at 8192 bytes without the end, with its reason");
    ok(parse_n(big, sizeof big, MAX_HEAD, MAX_BODY) == LP_HTTPREQ_ERROR && req.status == 431,
       "431 for more bytes than the limit too");

    /* A head that ends exactly at the limit is whole. */
    memcpy(big + MAX_HEAD - 4, "\r\n\r\n", 4);
    ok(parse_n(big, MAX_HEAD, MAX_HEAD, MAX_BODY) == LP_HTTPREQ_COMPLETE &&
           req.head_len == MAX_HEAD,
       "a head of exactly 8192 bytes is complete");
    /* An end beyond the limit does not count. */
    ok(parse_n(big, MAX_HEAD, MAX_HEAD - 1, MAX_BODY) == LP_HTTPREQ_ERROR && req.status == 431 &&
           strcmp(req.reason, "the request head exceeds 8191 bytes") == 0,
       "an end past max_head is 431 (the reason says the max_head given)");
}

static void check_request_line(void)
{
    refused("GET /\r\n\r\n", 400, R400_LINE, "no version");
    refused("GET  / HTTP/1.1\r\n\r\n", 400, R400_LINE, "two spaces");
    refused("GET / HTTP/1.1 x\r\n\r\n", 400, R400_LINE, "a fourth word");
    refused(" / HTTP/1.1\r\n\r\n", 400, R400_LINE, "no method");
    refused("GET / \r\n\r\n", 400, R400_LINE, "an empty version");
    refused("GET/ HTTP/1.1\r\n\r\n", 400, R400_LINE, "one space");
    refused("GET\t/\tHTTP/1.1\r\n\r\n", 400, R400_LINE, "tabs are not separators");

    static const char *v505[] = { "HTTP/2", "HTTP/2.0", "HTTP/3", "HTTP/1", "HTTP/0.9",
                                  "SPDY/1.1", "http/1.1" };
    char s[64];
    for (size_t i = 0; i < sizeof v505 / sizeof v505[0]; i++) {
        snprintf(s, sizeof s, "GET / %s\r\n\r\n", v505[i]);
        refused(s, 505, "only HTTP/1.x is served", v505[i]);
    }
    static const char *v400[] = { "HTTP/1.x", "HTTP/", "/1.1", "HT-P/1.1", "HTTP/a.1",
                                  "HTTP/1.1x", "HTTP/1..1", "HTTP", "HTTP/11.1" };
    for (size_t i = 0; i < sizeof v400 / sizeof v400[0]; i++) {
        snprintf(s, sizeof s, "GET / %s\r\n\r\n", v400[i]);
        refused(s, 400, "malformed HTTP version", v400[i]);
    }
    refused("PUT / HTTP/2\r\n\r\n", 505, "only HTTP/1.x is served",
            "the version is judged before the method");

    refused("G(T / HTTP/1.1\r\n\r\n", 400, "malformed method", "a method that is no token");
    refused("G\x80T / HTTP/1.1\r\n\r\n", 400, "malformed method", "a non-ASCII method");
    static const char *m405[] = { "PUT", "DELETE", "OPTIONS", "get", "GETS", "PATCH" };
    for (size_t i = 0; i < sizeof m405 / sizeof m405[0]; i++) {
        snprintf(s, sizeof s, "%s / HTTP/1.1\r\n\r\n", m405[i]);
        refused(s, 405, "only GET, HEAD and POST are served", m405[i]);
    }
    refused("DELETE * HTTP/1.1\r\n\r\n", 405, "only GET, HEAD and POST are served",
            "the method is judged before the target");
}

static void check_target(void)
{
    const char *path = "the target must be a path (/path?query)";
    refused("GET * HTTP/1.1\r\n\r\n", 400, path, "asterisk-form");
    refused("GET http://127.0.0.1:8080/debug/pprof/ HTTP/1.1\r\n\r\n", 400, path,
            "absolute-form");
    refused("GET localhost:80 HTTP/1.1\r\n\r\n", 400, path, "authority-form");
    refused("GET ?a=1 HTTP/1.1\r\n\r\n", 400, path, "a query alone");
    const char *bad = "bad character in the target";
    refused("GET /a\tb HTTP/1.1\r\n\r\n", 400, bad, "a tab");
    refused("GET /a\x7f HTTP/1.1\r\n\r\n", 400, bad, "DEL");
    refused("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400, bad, "raw UTF-8");
    refused("GET /a\x01 HTTP/1.1\r\n\r\n", 400, bad, "a control character");
    refused("GET /a?b=\x80 HTTP/1.1\r\n\r\n", 400, bad, "in the query too");
}

static void check_decoding(void)
{
    accepted("GET /a%20b HTTP/1.1\r\n\r\n", "GET", "/a b", "", "%20");
    accepted("GET /%41%6a%4A%7e HTTP/1.1\r\n\r\n", "GET", "/AjJ~", "", "hex in either case");
    accepted("GET /a+b HTTP/1.1\r\n\r\n", "GET", "/a+b", "", "'+' stays '+' in a path");
    accepted("GET /%2F%2fx HTTP/1.1\r\n\r\n", "GET", "///x", "", "an encoded slash");
    accepted("GET /%25 HTTP/1.1\r\n\r\n", "GET", "/%", "", "an encoded '%'");
    accepted("GET /caf%C3%A9 HTTP/1.1\r\n\r\n", "GET", "/caf\xc3\xa9", "",
             "encoded bytes above 0x7f");
    accepted("GET /a%3Fb?x=%3F&y=%zz+1 HTTP/1.1\r\n\r\n", "GET", "/a?b", "x=%3F&y=%zz+1",
             "an encoded '?' is the path's; the query stays raw, escapes unchecked");
    accepted("GET /%01 HTTP/1.1\r\n\r\n", "GET", "/\x01", "", "%01 is a byte like any other");
    static const char *bad[] = { "/%", "/%4", "/a%2", "/%zz", "/%4G", "/%G4", "/%00",
                                 "/x%00y", "/%%41", "/%-1" };
    char s[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(s, sizeof s, "GET %s HTTP/1.1\r\n\r\n", bad[i]);
        refused(s, 400, R400_ESCAPE, bad[i]);
    }
    refused("GET /%zz HTTP/1.1\r\nHost x\r\n\r\n", 400, R400_FIELD,
            "the fields are judged before the path's escapes");
    refused("POST /%zz HTTP/1.1\r\n\r\n", 411, "a POST needs Content-Length",
            "so is the body's framing");
}

static void check_fields(void)
{
    static const struct {
        const char *field, *name;
    } bad[] = {
        { "Host x", "no colon" },
        { ": x", "an empty name" },
        { "Ho st: x", "a space in the name" },
        { "Host : x", "a space before the colon" },
        { " folded", "obs-fold (a leading space)" },
        { "\tfolded: x", "obs-fold (a leading tab)" },
        { "X: a\x01z", "a control character in the value" },
        { "X: a\x7fz", "DEL in the value" },
        { "X: a\rz", "a lone CR in the value" },
        { "X\x80: 1", "a non-ASCII name" },
    };
    char s[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n", bad[i].field);
        refused(s, 400, R400_FIELD, bad[i].name);
    }
    refused("POST / HTTP/1.1\r\nHost x\r\nTransfer-Encoding: chunked\r\n\r\n", 400, R400_FIELD,
            "a malformed field is found before Transfer-Encoding");
}

static void check_reasons(void)
{
    static const struct {
        int status;
        const char *phrase;
    } known[] = {
        { 200, "OK" },
        { 400, "Bad Request" },
        { 404, "Not Found" },
        { 405, "Method Not Allowed" },
        { 408, "Request Timeout" },
        { 411, "Length Required" },
        { 413, "Content Too Large" },
        { 431, "Request Header Fields Too Large" },
        { 500, "Internal Server Error" },
        { 503, "Service Unavailable" },
        { 505, "HTTP Version Not Supported" },
        { 299, "OK" },
        { 399, "Redirection" },
        { 418, "Client Error" },
        { 599, "Server Error" },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        is_str(lp_httpreq_reason(known[i].status), known[i].phrase, "reason of %d",
               known[i].status);
}

static void check_query(void)
{
    static const struct {
        const char *query, *name, *value, *what;
    } found[] = {
        { "seconds=5&debug=1", "debug", "1", "the second pair" },
        { "a=1&a=2", "a", "1", "the first of repeated names" },
        { "a=%zz&a=2", "a", "2", "a malformed value skips its pair" },
        { "a=%00&a=3", "a", "3", "so does %00" },
        { "a+b=1&%61=2", "a b", "1", "'+' in a name is a space" },
        { "a+b=1&%61=2", "a", "2", "an encoded name" },
        { "&&a=x=y&", "a", "x=y", "empty pairs, '=' in a value" },
        { "a=%41%2b+", "a", "A+ ", "%2b is '+', '+' is ' '" },
        { "a=0123456789abcde", "a", "0123456789abcde", "a value of size - 1 fits" },
    };
    char v[16];
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++) {
        bool got = lp_http_query_get(found[i].query, found[i].name, v, sizeof v);
        is_str(got ? v : NULL, found[i].value, "query: %s", found[i].what);
    }
    ok(!lp_http_query_get("a=0123456789abcdef&a=1", "a", v, sizeof v) && v[0] == '\0',
       "query: one longer is false, even with a later pair");
    char longname[80];
    memset(longname, 'k', 70);
    snprintf(longname + 70, sizeof longname - 70, "=1");
    ok(!lp_http_query_get(longname, "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
                                    "kkkkkkkkkkkk", v, sizeof v),
       "query: a name longer than 63 bytes never matches");
    ok(!lp_http_query_get("a=1", NULL, v, sizeof v) && v[0] == '\0' &&
           !lp_http_query_get(NULL, "a", v, sizeof v) && !lp_http_query_get("a=1", "a", v, 0) &&
           !lp_http_query_get("a=1", "a", NULL, 4),
       "query: NULL name, NULL query, size 0, NULL out");
}

/* Random heads: never a read past the bytes given (under a sanitizer), and a consistent
 * result. */
static void check_random(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    static const char alphabet[] = "GET POST HEAD / ?%%41:\r\n\t xContent-Length: 5 1.1HTTP/";
    bool fine = true;
    for (int i = 0; i < 20000 && fine; i++) {
        char s[96];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = x % sizeof s;
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s[k] = alphabet[x % (sizeof alphabet - 1)];
        }
        enum lp_httpreq_state st = parse_n(s, n, 64, 16);
        if (st == LP_HTTPREQ_COMPLETE)
            fine = req.head_len <= n && req.head_len <= 64 && req.path[0] == '/' &&
                   req.body_len <= 16;
        else if (st == LP_HTTPREQ_ERROR)
            fine = req.status >= 400 && req.status <= 505 && req.reason[0];
        else
            fine = n < 64;
        if (!fine)
            diag("  round %d, %zu bytes: state %d", i, n, (int)st);
    }
    ok(fine, "20000 random heads: consistent results");
}

int main(void)
{
    check_incomplete();
    check_complete();
    check_length();
    check_continue();
    check_head_limit();
    check_request_line();
    check_target();
    check_decoding();
    check_fields();
    check_reasons();
    check_query();
    check_random();
    free(req_buf);
    return done_testing();
}
