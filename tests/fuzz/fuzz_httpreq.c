/*
 * fuzz_httpreq.c — the endpoint's request parser (core/httpreq.c), which reads whatever a
 * stranger who can reach the port sends. Besides not crashing, it must keep its promises:
 * a COMPLETE head lies within the bytes given, its path and query lie within the buffer and
 * end in NUL, the same head alone parses to the same result, and a shorter prefix of it is
 * never COMPLETE; an ERROR has one of the documented statuses and a one-line reason. The
 * query lookup is run on every query the parser accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpreq.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { MAX_HEAD = 8192, MAX_BODY = 1 << 20 };

static int valid_error(int status)
{
    return status == 400 || status == 405 || status == 411 || status == 413 ||
           status == 431 || status == 505;
}

static int within(const char *p, const char *buf, size_t len)
{
    return p >= buf && p < buf + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *again;
    struct lp_httpreq r, r2;
    enum lp_httpreq_state st;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    st = lp_httpreq_parse(buf, size, MAX_HEAD, MAX_BODY, &r);
    if (st == LP_HTTPREQ_ERROR) {
        CHECK(valid_error(r.status));
        CHECK(memchr(r.reason, '\0', sizeof r.reason) != NULL);
        CHECK(strchr(r.reason, '\n') == NULL);
    } else if (st == LP_HTTPREQ_COMPLETE) {
        char out[64];

        CHECK(r.head_len > 0 && r.head_len <= size);
        CHECK(r.query[0] == '\0' || within(r.query, buf, r.head_len));
        CHECK(within(r.path, buf, r.head_len));
        CHECK(memchr(r.path, '\0', (size_t)(buf + r.head_len - r.path)) != NULL);
        CHECK(!strcmp(r.method, "GET") || !strcmp(r.method, "HEAD") ||
              !strcmp(r.method, "POST"));
        CHECK(r.body_len <= MAX_BODY);
        CHECK(!r.has_length || r.content_length <= (size_t)MAX_BODY + 1);
        lp_http_query_get(r.query, "seconds", out, sizeof out);
        lp_http_query_get(r.query, "", out, sizeof out);
        lp_http_query_get(r.query, "rate", out, 2);

        /* The head alone, from the original bytes, says the same; one byte less does not
         * complete. */
        again = malloc(r.head_len);
        if (again) {
            memcpy(again, data, r.head_len);
            CHECK(lp_httpreq_parse(again, r.head_len, MAX_HEAD, MAX_BODY, &r2) ==
                  LP_HTTPREQ_COMPLETE);
            CHECK(r2.head_len == r.head_len && r2.body_len == r.body_len);
            CHECK(strcmp(r2.method, r.method) == 0 && strcmp(r2.path, r.path) == 0 &&
                  strcmp(r2.query, r.query) == 0);
            memcpy(again, data, r.head_len);
            CHECK(lp_httpreq_parse(again, r.head_len - 1, MAX_HEAD, MAX_BODY, &r2) !=
                  LP_HTTPREQ_COMPLETE);
            free(again);
        }
    } else {
        CHECK(st == LP_HTTPREQ_INCOMPLETE);
        CHECK(size < MAX_HEAD);
    }
    free(buf);
    return 0;
}
