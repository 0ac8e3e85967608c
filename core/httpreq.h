/*
 * httpreq.h — the request side of lockprof's HTTP server (httpd.h): the parser of a request's
 * head, the lookup of a query parameter, and the reason phrases of the status line.
 *
 * Pure: it reads the bytes it is given and writes only into them and into its result. No
 * descriptors, no clock, no memory of its own; the server reads the socket, keeps the time
 * and maps the bodies. Any thread, on the caller's buffers.
 *
 * lp_httpreq_parse is given every byte received so far, again after each read, and says:
 *   - INCOMPLETE: the empty line that ends the head has not arrived, and the head is still
 *     within max_head bytes;
 *   - COMPLETE: a GET, HEAD or POST of HTTP/1.x whose head (request line and header fields,
 *     RFC 9112 §2-§5) is well formed, with what the server needs to go on;
 *   - ERROR: the status to answer with and a one-line reason:
 *       400  malformed request line, method token, HTTP version, header field, Content-Length
 *            or percent-escape in the path; a target that is not origin-form ("/path?query":
 *            absolute-form, "*" and anything with a byte <= 0x20 or >= 0x7f are refused);
 *       405  a method other than GET, HEAD and POST;
 *       411  Transfer-Encoding, with any method and whatever the coding (only Content-Length
 *            frames a body); a POST without Content-Length;
 *       413  a POST whose Content-Length exceeds max_body (known from the head alone);
 *       431  max_head bytes without the end of the head;
 *       505  a version other than HTTP/1.x.
 *     When several apply, the first found is answered: a missing end (431); the request
 *     line's shape, its version, its method token, its method (405), its target; each header
 *     field in turn; Transfer-Encoding, then a POST's Content-Length (411, 413); the path's
 *     escapes.
 * Content-Length is one decimal value (1*DIGIT, RFC 9110 §8.6) between optional spaces and
 * tabs; a sign, a list ("5, 5") or an empty value is 400; repeated fields must agree (400
 * otherwise). Values above max_body are all read as max_body + 1, so two such fields agree.
 * Empty lines before the request line are skipped (RFC 9112 §2.2); lines may end in CRLF or
 * LF alone. The status 408 (a request that does not arrive in time) is the server's.
 */
#ifndef LP_HTTPREQ_H
#define LP_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>

enum lp_httpreq_state {
    LP_HTTPREQ_INCOMPLETE,
    LP_HTTPREQ_COMPLETE,
    LP_HTTPREQ_ERROR,
};

/* The parser's result. Every field is reset by each call; those of COMPLETE are meaningful
 * only then, status and reason only for ERROR. */
struct lp_httpreq {
    const char *method;    /* "GET", "HEAD" or "POST" (static strings) */
    const char *path;      /* in the buffer: the target's path, percent-decoded ('+' stays) */
    const char *query;     /* in the buffer: the raw query after '?', "" if none */
    int minor;             /* HTTP/1.minor */
    size_t head_len;       /* bytes of the head, its empty line included: the body follows */
    bool has_length;       /* a Content-Length field was present */
    size_t content_length; /* its value (above max_body: max_body + 1); 0 without one */
    size_t body_len;       /* body bytes to read before answering: a POST's Content-Length;
                              0 for GET and HEAD (a body they announce is not for the handler) */
    bool expect_continue;  /* a POST of HTTP/1.1 (or a later 1.x) with "Expect: 100-continue"
                              (other expectations are ignored) */
    bool head_only;        /* HEAD: the answer has no body */
    int status;            /* ERROR: 400, 405, 411, 413, 431 or 505 */
    char reason[96];       /* ERROR: why, one line without a newline */
};

/*
 * Parses the head at the start of buf[0, len), the bytes received so far (max_body below
 * SIZE_MAX / 10). Only COMPLETE writes into buf: NULs after the path and the query, and the
 * path decoded where it lies (an ERROR for a bad escape may have begun to). The pointers in r
 * point into buf; the body's first bytes, if any arrived, start at buf + r->head_len.
 */
enum lp_httpreq_state lp_httpreq_parse(char *buf, size_t len, size_t max_head, size_t max_body,
                                       struct lp_httpreq *r);

/* The reason phrase of a status line ("Not Found"); for a status it does not know, that of
 * its class ("Client Error"). */
const char *lp_httpreq_reason(int status);

/* Finds parameter name in a raw query ("a=1&b=x%20y") and percent-decodes it into out ('+'
 * is a space): true if present (an empty value is ""), false if absent or longer than
 * size - 1. A pair with a malformed escape (or %00) is skipped, as Go's url.ParseQuery does. */
bool lp_http_query_get(const char *query, const char *name, char *out, size_t size);

#endif
