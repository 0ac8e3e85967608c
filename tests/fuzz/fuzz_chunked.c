/*
 * fuzz_chunked.c — the chunked decoder of `lockprof fetch` (lp_httpc_dechunk in
 * tools/httpc.c), which reads whatever the server at the other end sends. Besides not
 * crashing, it must keep its promises, for a large and a small chunk-size limit:
 *  - it never produces more bytes than it takes, and never takes more than it is given;
 *  - the input given whole and the same input given in pieces (a byte at a time, and pieces
 *    of sizes drawn from the input) end the same way, at the same byte, with the same data;
 *  - what it says agrees with a second decoder written here from RFC 9112 §7.1 in another
 *    way (by position over the whole input): complete, incomplete or malformed, where the
 *    body ends, and its data, so a complete body's length is the sum of its chunks' sizes;
 *  - complete and malformed are final: more bytes change nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpc.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { REF_INCOMPLETE = 0, REF_COMPLETE = 1, REF_BAD = -EBADMSG };

static int ref_hex(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The reference: the grammar the decoder accepts (CRLF or LF line ends, anything after a
 * chunk size that begins with ';', SP, HT or CR is skipped to its LF, trailer lines are
 * skipped to an empty line), parsed by position over the whole of p[0, n). Returns
 * REF_COMPLETE, REF_INCOMPLETE or REF_BAD; *end is where the body ended (COMPLETE), the byte
 * after the one found wrong (BAD) or n; out holds the data up to there.
 */
static int ref_decode(const uint8_t *p, size_t n, uint64_t max, uint8_t *out, size_t *outlen,
                      size_t *end)
{
    size_t i = 0;
    *outlen = 0;
    *end = n;
    for (;;) {
        unsigned __int128 size = 0;
        size_t first = i;
        for (; i < n && ref_hex(p[i]) >= 0; i++) {
            size = size * 16 + (unsigned)ref_hex(p[i]);
            if (size > max) {
                *end = i + 1;
                return REF_BAD;
            }
        }
        if (i == n)
            return REF_INCOMPLETE;
        if (i == first || (p[i] != '\n' && p[i] != ';' && p[i] != ' ' && p[i] != '\t' &&
                           p[i] != '\r')) {
            *end = i + 1;
            return REF_BAD;
        }
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        if (!nl)
            return REF_INCOMPLETE;
        i = (size_t)(nl - p) + 1;
        if (size == 0)
            break;
        size_t take = n - i < size ? n - i : (size_t)size;
        memcpy(out + *outlen, p + i, take);
        *outlen += take;
        i += take;
        if (take < size || i == n)
            return REF_INCOMPLETE;
        if (p[i] == '\r') {
            if (++i == n)
                return REF_INCOMPLETE;
        }
        if (p[i] != '\n') {
            *end = i + 1;
            return REF_BAD;
        }
        i++;
    }
    /* Trailer lines, up to an empty one (LF or CRLF alone). */
    for (;;) {
        if (i == n || (p[i] == '\r' && i + 1 == n))
            return REF_INCOMPLETE;
        if (p[i] == '\n' || (p[i] == '\r' && p[i + 1] == '\n')) {
            *end = i + (p[i] == '\n' ? 1 : 2);
            return REF_COMPLETE;
        }
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        if (!nl)
            return REF_INCOMPLETE;
        i = (size_t)(nl - p) + 1;
    }
}

/* What a decoding came to. */
struct result {
    int rc;
    size_t taken;   /* bytes of the input taken */
    size_t len;     /* data produced, at buf */
};

/*
 * Decodes data[0, size) into buf (size bytes) in pieces: a byte at a time when step is 1,
 * of sizes drawn from *seed when step is 0, whole when step is size. Each piece is copied to
 * where the data ends, as lp_httpc_receive reads into its buffer, and decoded there.
 */
static struct result feed(const uint8_t *data, size_t size, size_t max, size_t step,
                          uint64_t *seed, uint8_t *buf)
{
    struct lp_httpc_dechunk d;
    struct result res = { 0, 0, 0 };
    size_t at = 0;
    lp_httpc_dechunk_init(&d, max);
    while (at < size || at == 0) {
        size_t piece = step;
        if (step == 0) {
            *seed ^= *seed << 13, *seed ^= *seed >> 7, *seed ^= *seed << 17;
            piece = 1 + (size_t)(*seed % 64);
        }
        if (piece > size - at)
            piece = size - at;
        memcpy(buf + res.len, data + at, piece);
        size_t used = (size_t)-1, out = (size_t)-1;
        int rc = lp_httpc_dechunk(&d, buf + res.len, piece, &used, &out);
        CHECK(rc == 0 || rc == 1 || rc == -EBADMSG);
        CHECK(used <= piece && out <= used);
        CHECK(rc != 0 || used == piece);
        if (res.rc != 0) /* already complete or malformed: final */
            CHECK(rc == res.rc && used == 0 && out == 0);
        res.rc = rc;
        res.taken += used;
        res.len += out;
        at += piece;
        if (size == 0)
            break;
    }
    CHECK(d.in == res.taken && d.out == res.len && res.len <= res.taken);
    if (res.rc != 0) { /* more bytes after the end or the error change nothing */
        uint8_t more[] = "0\r\n\r\n";
        size_t used, out;
        CHECK(lp_httpc_dechunk(&d, more, 5, &used, &out) == res.rc && used == 0 && out == 0);
    }
    return res;
}

static void check(const uint8_t *data, size_t size, size_t max, uint8_t *buf, uint8_t *ref)
{
    size_t ref_len, ref_end;
    int ref_rc = ref_decode(data, size, max, ref, &ref_len, &ref_end);
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ size;
    for (size_t i = 0; i < size && i < 64; i++)
        seed = (seed ^ data[i]) * 0x100000001b3ull;
    if (!seed)
        seed = 1;

    size_t steps[3] = { size ? size : 1, 1, 0 };
    for (int k = 0; k < 3; k++) {
        struct result r = feed(data, size, max, steps[k], &seed, buf);
        CHECK(r.rc == ref_rc);
        CHECK(r.taken == ref_end);
        CHECK(r.len == ref_len && memcmp(buf, ref, r.len) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size + 1), *ref = malloc(size + 1);
    if (buf && ref) {
        check(data, size, SIZE_MAX, buf, ref);
        check(data, size, 64, buf, ref);
    }
    free(buf);
    free(ref);
    return 0;
}
