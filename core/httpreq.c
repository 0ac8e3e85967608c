/*
 * httpreq.c — see httpreq.h.
 *
 * The head is parsed where it lies: the server's request buffer is fixed (LP_HTTPD_MAX_HEADER
 * bytes a client), so the path is decoded in place (decoding never lengthens it) and NULs
 * end the path and the query; nothing is copied and nothing is allocated.
 */
#include "httpreq.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static int httpreq_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0, n) into out (which may be s: the output never outruns the input), '+'
 * as a space if plus. The decoded length, -1 for a malformed escape or %00, -2 if it needs
 * more than size - 1 bytes. NUL-terminated when it succeeds. */
static long httpreq_decode(const char *s, size_t n, char *out, size_t size, bool plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? httpreq_hex(s[i + 1]) : -1;
            int lo = hi >= 0 ? httpreq_hex(s[i + 2]) : -1;
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
static bool httpreq_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The length of the request head, up to and including its empty line, or 0 if it has not
 * all arrived. Empty lines before the request line are skipped (RFC 9112 §2.2). */
static size_t httpreq_head_end(const char *b, size_t len)
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
static int httpreq_version(const char *v, size_t n)
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
static bool httpreq_named(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* A Content-Length value v[0, n): 1*DIGIT (RFC 9110 §8.6), saturated at max + 1 (any larger
 * value is as too large). false if malformed. */
static bool httpreq_length(const char *v, size_t n, size_t max, size_t *out)
{
    size_t len = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        len = len * 10 + (size_t)(v[i] - '0');
        if (len > max)
            len = max + 1;
    }
    *out = len;
    return true;
}

/* ERROR with status and the reason fmt formats (lp_fmt_sigsafe's formats). */
static enum lp_httpreq_state httpreq_fail(struct lp_httpreq *r, int status, const char *fmt,
                                          ...) __attribute__((format(printf, 3, 4)));
static enum lp_httpreq_state httpreq_fail(struct lp_httpreq *r, int status, const char *fmt,
                                          ...)
{
    va_list ap;
    va_start(ap, fmt);
    lp_vfmt_sigsafe(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    r->status = status;
    return LP_HTTPREQ_ERROR;
}

enum lp_httpreq_state lp_httpreq_parse(char *buf, size_t len, size_t max_head, size_t max_body,
                                       struct lp_httpreq *r)
{
    *r = (struct lp_httpreq){ .query = "" };
    size_t end = httpreq_head_end(buf, len < max_head ? len : max_head);
    if (!end) {
        if (len < max_head)
            return LP_HTTPREQ_INCOMPLETE;
        return httpreq_fail(r, 431, "the request head exceeds %zu bytes", max_head);
    }

    char *b = buf;
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
        memchr(sp2 + 1, ' ', (size_t)(line + ll - sp2 - 1)))
        return httpreq_fail(r, 400, "malformed request line (expected METHOD /path HTTP/1.1)");
    int v = httpreq_version(sp2 + 1, (size_t)(line + ll - sp2 - 1));
    if (v)
        return httpreq_fail(r, v, v == 505 ? "only HTTP/1.x is served"
                                           : "malformed HTTP version");
    for (char *p = line; p < sp1; p++)
        if (!httpreq_tchar((unsigned char)*p))
            return httpreq_fail(r, 400, "malformed method");
    size_t mlen = (size_t)(sp1 - line);
    bool get = mlen == 3 && memcmp(line, "GET", 3) == 0;
    bool head = mlen == 4 && memcmp(line, "HEAD", 4) == 0;
    bool post = mlen == 4 && memcmp(line, "POST", 4) == 0;
    if (!get && !head && !post)
        return httpreq_fail(r, 405, "only GET, HEAD and POST are served");
    int minor = sp2[8] - '0'; /* "HTTP/1.x", checked above */

    char *t = sp1 + 1;
    size_t tlen = (size_t)(sp2 - t);
    if (t[0] != '/')
        return httpreq_fail(r, 400, "the target must be a path (/path?query)");
    for (size_t k = 0; k < tlen; k++)
        if ((unsigned char)t[k] <= 0x20 || (unsigned char)t[k] >= 0x7f)
            return httpreq_fail(r, 400, "bad character in the target");

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
            bad = !httpreq_tchar((unsigned char)*q); /* obs-fold (a leading space) included */
        for (char *q = colon ? colon + 1 : p; !bad && q < p + n; q++)
            bad = ((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f;
        if (bad)
            return httpreq_fail(r, 400, "malformed header field");
        const char *val = colon + 1, *ve = p + n;
        while (val < ve && (*val == ' ' || *val == '\t'))
            val++;
        while (ve > val && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t namelen = (size_t)(colon - p), vlen = (size_t)(ve - val), value;
        if (httpreq_named(p, namelen, "content-length")) {
            if (!httpreq_length(val, vlen, max_body, &value))
                return httpreq_fail(r, 400, "malformed Content-Length (expected one decimal "
                                    "number)");
            if (has_length && value != length)
                return httpreq_fail(r, 400, "conflicting Content-Length fields");
            has_length = true;
            length = value;
        } else if (httpreq_named(p, namelen, "transfer-encoding")) {
            coded = true; /* whatever the coding: only Content-Length is read */
        } else if (httpreq_named(p, namelen, "expect")) {
            expect = httpreq_named(val, vlen, "100-continue");
        }
        p = e + 1;
    }
    if (coded)
        return httpreq_fail(r, 411, "Transfer-Encoding is not supported: send the body with "
                            "Content-Length");
    if (post && !has_length)
        return httpreq_fail(r, 411, "a POST needs Content-Length");
    if (post && length > max_body)
        return httpreq_fail(r, 413, "the body exceeds %zu bytes", max_body);

    /* Only now, as nothing above reads them again: the NULs and the decoded path. */
    char *q = memchr(t, '?', tlen);
    size_t plen = q ? (size_t)(q - t) : tlen;
    *sp2 = '\0';
    if (httpreq_decode(t, plen, t, plen + 1, false) < 0)
        return httpreq_fail(r, 400, "malformed percent-escape (or %%00) in the path");
    r->method = get ? "GET" : head ? "HEAD" : "POST";
    r->path = t;
    r->query = q ? q + 1 : "";
    r->minor = minor;
    r->head_len = end;
    r->has_length = has_length;
    r->content_length = length;
    r->body_len = post ? length : 0;
    r->expect_continue = post && expect && minor != 0;
    r->head_only = head;
    return LP_HTTPREQ_COMPLETE;
}

const char *lp_httpreq_reason(int status)
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
        long kd = httpreq_decode(p, klen, key, sizeof key, true);
        if (kd >= 0 && (size_t)kd == nlen && memcmp(key, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : p + n;
            long vd = httpreq_decode(v, (size_t)(p + n - v), out, size, true);
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
