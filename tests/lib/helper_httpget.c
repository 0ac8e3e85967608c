/*
 * helper_httpget — one GET with the lockprof command's own HTTP client (tools/httpc.h), for
 * the Perl tests (tests/lib/LP.pm's http_get), so that they talk to the endpoint as
 * `lockprof fetch` does rather than through a client of their own.
 *
 *   helper_httpget ADDRESS TARGET [SECONDS]
 *
 * ADDRESS is what `lockprof fetch` accepts: HOST:PORT, [IPv6]:PORT, unix:PATH or
 * http://HOST:PORT. TARGET is the request target, a path and its query
 * ("/debug/pprof/mutex?debug=1"). SECONDS (default 60) bounds the whole exchange.
 *
 * On stdout: the answer's head exactly as it came (status line, header lines, the empty
 * line), then its body (a chunked body decoded). Exit 0 when a whole answer came, whatever
 * its status; 1 with one line "helper_httpget: REASON" on stderr when none did (no
 * connection, no answer in time, not HTTP, cut short), and nothing on stdout; 2 for usage.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpc.h"

#define HTTPGET_MAX_BYTES (256u << 20)

static int httpget_fail(const char *why)
{
    fprintf(stderr, "helper_httpget: %s\n", why ? why : "out of memory");
    return 1;
}

int main(int argc, char **argv)
{
    char err[1024];
    struct lp_httpc_addr addr;
    struct lp_httpc_call call;
    struct lp_httpc_answer ans;
    char *end = NULL;
    unsigned long seconds = argc > 3 ? strtoul(argv[3], &end, 10) : 60;

    if (argc < 3 || argc > 4 || (end && (*end || end == argv[3] || seconds == 0))) {
        fprintf(stderr, "usage: helper_httpget ADDRESS TARGET [SECONDS]\n");
        return 2;
    }
    int rc = lp_httpc_parse_address(argv[1], &addr, err, sizeof err);
    if (rc < 0)
        return httpget_fail(rc == -EINVAL ? err : NULL);
    char *req = lp_httpc_request(argv[2], &addr, "lockprof-test");
    if (!req)
        return httpget_fail(NULL);
    lp_httpc_call_init(&call, seconds, HTTPGET_MAX_BYTES);
    int fd = lp_httpc_connect(&addr, &call);
    rc = fd < 0 ? fd : lp_httpc_send(fd, req, strlen(req), &call);
    if (rc == 0)
        rc = lp_httpc_receive(fd, &call, &ans);
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        return httpget_fail(call.err);

    size_t n = ans.head_len + ans.len;
    bool written = fwrite(ans.buf, 1, n, stdout) == n && fflush(stdout) == 0;
    lp_httpc_answer_free(&ans);
    lp_httpc_call_done(&call);
    lp_httpc_addr_free(&addr);
    free(req);
    if (!written)
        return httpget_fail(strerror(errno));
    return 0;
}
