/*
 * fuzz_profread.c — the profile reader of `lockprof top` (tools/profread.c) and the report it
 * feeds (tools/top.c): they read whatever file a user was given. Each input is read three
 * ways: as the file's bytes (gzip-compressed or not), gzip-compressed here (so that a mutant
 * of an uncompressed profile also reaches the decoder through the gzip layer, which a mutant of
 * a compressed one rarely passes), and under a small limit taken from the input (so that
 * protobuf-c and the index fail their allocations at every point). Besides not crashing, the
 * reader must keep its promises:
 *   - the memory it counts stays within its limit (plus less than a page, profread.h), and a
 *     profile it accepts has no more samples than the limit holds, nor more frames;
 *   - an accepted profile's totals are >= 0 and every function's 0 <= flat <= cum <= total;
 *   - a refused one has a one-line reason without control characters, and the refusal says
 *     which kind it is (-EFBIG for the limit, -EBADMSG otherwise; malloc does not fail here);
 *   - the report, printed to memory, is UTF-8 without a control character but newlines;
 *   - the bytes gzip-compressed read as the bytes themselves do, report for report; a smaller
 *     limit only refuses, it never reads a profile differently.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profread.h"
#include "top.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* Large enough for any input the driver makes (64 KiB) that is not a gzip bomb, small enough
 * that a bomb costs little. */
enum { FULL_LIMIT = 16 << 20, PAGE = 4096 };

/* Whether s[0, n) is UTF-8 without controls but '\n' (the report's promise), decoded here
 * independently of the escaping under test. */
static bool printable_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2
                               : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        if (len == 0 || i + len > n)
            return false;
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        if ((cp < 0x20 && cp != '\n') || (cp >= 0x7f && cp <= 0x9f))
            return false;
        i += len;
    }
    return true;
}

struct outcome {
    int rc;
    int64_t total[2];
    char *report;      /* the report, or the reason of the refusal */
    size_t len;
};

/* Reads data within limit, checks the promises, and keeps what it read in *o. */
static void read_one(const uint8_t *data, size_t size, size_t limit, struct outcome *o)
{
    struct lp_profread r;
    char *err = NULL;

    memset(o, 0, sizeof *o);
    o->rc = lp_profread_load(&r, data, size, limit, &err);
    CHECK(r.mem.peak <= limit + PAGE);
    if (o->rc < 0) {
        CHECK(o->rc == -EFBIG || o->rc == -EBADMSG);
        CHECK(err != NULL && err[0] != '\0');
        CHECK(printable_utf8((const unsigned char *)err, strlen(err)));
        CHECK(strchr(err, '\n') == NULL);
        CHECK((o->rc == -EFBIG) == (strstr(err, "exceeds lockprof top's limit") != NULL));
        CHECK(o->rc != -EFBIG || r.mem.over || r.frames > r.frames_limit);
        o->report = err;
        o->len = strlen(err);
        lp_profread_close(&r);
        return;
    }
    CHECK(err == NULL);
    CHECK(r.p->n_sample <= limit / sizeof(Lockprof__Pprof__Sample));
    CHECK(r.frames <= limit / LP_PROFREAD_BYTES_PER_FRAME);
    for (int j = 0; j < 2; j++) {
        CHECK(r.total[j] >= 0);
        o->total[j] = r.total[j];
        for (size_t i = 0; i < r.nnames; i++) {
            const struct lp_profread_name *t = &r.names[i];
            CHECK(t->flat[j] >= 0 && t->flat[j] <= t->cum[j] && t->cum[j] <= r.total[j]);
        }
    }

    /* Every option that changes what is printed. */
    static const struct lp_top_opts opts[] = {
        { .n = 20, .by = 1 }, { .n = 1, .by = 0, .stacks = true }, { .n = 0, .by = 1,
                                                                      .stacks = true },
    };
    FILE *f = open_memstream(&o->report, &o->len);
    CHECK(f != NULL);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        lp_top_report(f, &r, "fuzz\x1b[0m.pb", &opts[i]);
    CHECK(fclose(f) == 0);
    CHECK(printable_utf8((const unsigned char *)o->report, o->len));
    lp_profread_close(&r);
}

static bool same(const struct outcome *a, const struct outcome *b)
{
    if (a->rc != b->rc)
        return false;
    if (a->rc < 0)
        return true; /* the reasons may differ: "(gzip data that is not profile.proto)" */
    return a->total[0] == b->total[0] && a->total[1] == b->total[1] && a->len == b->len &&
           memcmp(a->report, b->report, a->len) == 0;
}

/* data gzip-compressed (level 1), or NULL. */
static uint8_t *gzip_of(const uint8_t *data, size_t size, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, size);
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (!out || deflate(&z, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&z);
        free(out);
        return NULL;
    }
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome plain, zipped, small;
    bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;

    read_one(data, size, FULL_LIMIT, &plain);

    size_t zlen = 0;
    uint8_t *z = gzip_of(data, size, &zlen);
    CHECK(z != NULL);
    read_one(z, zlen, FULL_LIMIT, &zipped);
    /* The same bytes, decompressed on the way: the same profile (a non-empty input that is
     * gzip data is another thing once compressed again). */
    CHECK(gz || size == 0 || same(&plain, &zipped));
    free(z);

    /* A limit from 1 KiB to 1 MiB, from the input's last bytes. */
    size_t limit = 1024 + (size >= 2 ? ((size_t)data[size - 2] << 8 | data[size - 1]) * 16 : 0);
    read_one(data, size, limit, &small);
    CHECK(small.rc == -EFBIG || same(&plain, &small));

    free(plain.report);
    free(zipped.report);
    free(small.report);
    return 0;
}
