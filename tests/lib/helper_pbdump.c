/*
 * helper_pbdump — prints a gzip-compressed pprof profile (lockprof's or Go's) as stable lines
 * for the Perl tests:
 *
 *   sample_type contentions/count delay/nanoseconds
 *   period_type contentions/count
 *   period 1
 *   default_sample_type N              (only when set)
 *   time_nanos N
 *   duration_nanos N
 *   comment <text>                     (one per comment)
 *   mapping <id> 0x<start> 0x<limit> 0x<offset> <build_id or -> <path or ->
 *   location <id> <mapping_id> 0x<address> <function names of its Lines joined by ',' or ->
 *   function <id> <name> <system_name or -> <filename or -> <start_line>
 *   sample <value>... <leaf-first frames joined by ';'>
 *   sample_addresses 0x<address>...    (after each sample: its locations' addresses, leaf
 *                                       first, by which scrapers tell samples apart)
 *
 * A frame is the function name of its location's first Line or, without a Line,
 * 0x<address>@<mapping basename> (just 0x<address> when the location has no mapping).
 * Errors: one line "pbdump: FILE: reason" on stderr, exit status 2.
 *
 * Usage: helper_pbdump FILE
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"

static const char *pb_file;

static void pb_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void pb_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pbdump: %s: ", pb_file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static unsigned char *pb_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        pb_fail("%s", strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    if (ferror(f))
        pb_fail("%s", strerror(errno));
    fclose(f);
    *len = n;
    return buf;
}

static unsigned char *pb_gunzip(const unsigned char *in, size_t in_len, size_t *out_len)
{
    if (in_len < 2 || in[0] != 0x1f || in[1] != 0x8b)
        pb_fail("not gzip");
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 16 + 15) != Z_OK)
        pb_fail("inflateInit2 failed");
    size_t cap = in_len * 4 + 1024, n = 0;
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)in_len;
    for (;;) {
        if (n == cap)
            out = realloc(out, cap *= 2);
        z.next_out = out + n;
        z.avail_out = (uInt)(cap - n);
        int rc = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
        if (rc == Z_STREAM_END)
            break;
        if (rc == Z_BUF_ERROR && z.avail_in == 0)
            pb_fail("truncated gzip stream");
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            pb_fail("corrupt gzip stream (%s)", z.msg ? z.msg : "?");
    }
    inflateEnd(&z);
    *out_len = n;
    return out;
}

static const Lockprof__Pprof__Profile *pb_prof;

/* String i of the table; exits if out of range (the profile is not well formed). */
static const char *pb_str(int64_t i)
{
    if (i < 0 || (uint64_t)i >= pb_prof->n_string_table)
        pb_fail("not a profile (string index %" PRId64 " out of range)", i);
    return pb_prof->string_table[i];
}

static const char *pb_or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* Lookups by id: pointer arrays sorted by id (ids need not be dense), searched by bisection. */
#define PB_BY_ID(fn, type, field, count)                                                       \
    static int fn##_cmp(const void *a, const void *b)                                          \
    {                                                                                          \
        uint64_t x = (*(type *const *)a)->id, y = (*(type *const *)b)->id;                     \
        return x < y ? -1 : x > y;                                                             \
    }                                                                                          \
    static type *fn(uint64_t id)                                                               \
    {                                                                                          \
        static type **sorted;                                                                  \
        size_t lo = 0, hi = pb_prof->count;                                                    \
        if (!sorted && hi) {                                                                   \
            sorted = malloc(hi * sizeof(*sorted));                                             \
            memcpy(sorted, pb_prof->field, hi * sizeof(*sorted));                              \
            qsort(sorted, hi, sizeof(*sorted), fn##_cmp);                                      \
        }                                                                                      \
        while (lo < hi) {                                                                      \
            size_t mid = lo + (hi - lo) / 2;                                                   \
            if (sorted[mid]->id == id)                                                         \
                return sorted[mid];                                                            \
            if (sorted[mid]->id < id)                                                          \
                lo = mid + 1;                                                                  \
            else                                                                               \
                hi = mid;                                                                      \
        }                                                                                      \
        return NULL;                                                                           \
    }

PB_BY_ID(pb_mapping, Lockprof__Pprof__Mapping, mapping, n_mapping)
PB_BY_ID(pb_location, Lockprof__Pprof__Location, location, n_location)
PB_BY_ID(pb_function, Lockprof__Pprof__Function, function, n_function)

static const char *pb_function_name(uint64_t id)
{
    const Lockprof__Pprof__Function *f = pb_function(id);
    if (!f)
        pb_fail("not a profile (no function %" PRIu64 ")", id);
    return pb_str(f->name);
}

static void pb_print_frame(const Lockprof__Pprof__Location *l)
{
    if (l->n_line > 0) {
        fputs(pb_function_name(l->line[0]->function_id), stdout);
        return;
    }
    printf("0x%" PRIx64, l->address);
    if (l->mapping_id) {
        const Lockprof__Pprof__Mapping *m = pb_mapping(l->mapping_id);
        if (!m)
            pb_fail("not a profile (no mapping %" PRIu64 ")", l->mapping_id);
        const char *path = pb_str(m->filename);
        const char *base = strrchr(path, '/');
        printf("@%s", base ? base + 1 : path);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    pb_file = argv[1];
    size_t gz_len, len;
    unsigned char *gz = pb_read_file(pb_file, &gz_len);
    unsigned char *raw = pb_gunzip(gz, gz_len, &len);
    Lockprof__Pprof__Profile *p = lockprof__pprof__profile__unpack(NULL, len, raw);
    if (!p)
        pb_fail("not a profile (protobuf decoding failed)");
    pb_prof = p;
    if (p->n_string_table == 0 || p->string_table[0][0] != '\0')
        pb_fail("not a profile (string_table[0] is not \"\")");

    printf("sample_type");
    for (size_t i = 0; i < p->n_sample_type; i++)
        printf(" %s/%s", pb_str(p->sample_type[i]->type), pb_str(p->sample_type[i]->unit));
    printf("\n");
    if (p->period_type)
        printf("period_type %s/%s\n", pb_str(p->period_type->type), pb_str(p->period_type->unit));
    printf("period %" PRId64 "\n", p->period);
    if (p->default_sample_type)
        printf("default_sample_type %s\n", pb_str(p->default_sample_type));
    printf("time_nanos %" PRId64 "\n", p->time_nanos);
    printf("duration_nanos %" PRId64 "\n", p->duration_nanos);
    for (size_t i = 0; i < p->n_comment; i++)
        printf("comment %s\n", pb_str(p->comment[i]));
    for (size_t i = 0; i < p->n_mapping; i++) {
        const Lockprof__Pprof__Mapping *m = p->mapping[i];
        printf("mapping %" PRIu64 " 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 " %s %s\n", m->id,
               m->memory_start, m->memory_limit, m->file_offset, pb_or_dash(pb_str(m->build_id)),
               pb_or_dash(pb_str(m->filename)));
    }
    for (size_t i = 0; i < p->n_location; i++) {
        const Lockprof__Pprof__Location *l = p->location[i];
        printf("location %" PRIu64 " %" PRIu64 " 0x%" PRIx64 " ", l->id, l->mapping_id, l->address);
        for (size_t k = 0; k < l->n_line; k++)
            printf("%s%s", k ? "," : "", pb_function_name(l->line[k]->function_id));
        printf("%s\n", l->n_line ? "" : "-");
    }
    for (size_t i = 0; i < p->n_function; i++) {
        const Lockprof__Pprof__Function *f = p->function[i];
        printf("function %" PRIu64 " %s %s %s %" PRId64 "\n", f->id, pb_or_dash(pb_str(f->name)),
               pb_or_dash(pb_str(f->system_name)), pb_or_dash(pb_str(f->filename)),
               f->start_line);
    }
    for (size_t i = 0; i < p->n_sample; i++) {
        const Lockprof__Pprof__Sample *s = p->sample[i];
        printf("sample");
        for (size_t k = 0; k < s->n_value; k++)
            printf(" %" PRId64, s->value[k]);
        for (size_t k = 0; k < s->n_location_id; k++) {
            const Lockprof__Pprof__Location *l = pb_location(s->location_id[k]);
            if (!l)
                pb_fail("not a profile (no location %" PRIu64 ")", s->location_id[k]);
            fputs(k ? ";" : " ", stdout);
            pb_print_frame(l);
        }
        printf("\nsample_addresses");
        for (size_t k = 0; k < s->n_location_id; k++)
            printf(" 0x%" PRIx64, pb_location(s->location_id[k])->address);
        printf("\n");
    }
    lockprof__pprof__profile__free_unpacked(p, NULL);
    free(raw);
    free(gz);
    if (fflush(stdout) != 0)
        pb_fail("stdout: %s", strerror(errno));
    return 0;
}
