/*
 * helper_mkprof.c — writes small, known pprof profiles for the tests of `lockprof top`,
 * without the library: the protobuf-c code generated from core/profile.proto, then zlib.
 *
 *   helper_mkprof KIND FILE
 *
 * KIND:
 *   block   gzip'd contention profile, sample types [contentions/count, delay/nanoseconds]:
 *             pthread_mutex_lock <- handle_request <- worker_main <- main     30   600 ms
 *             pthread_mutex_lock <- rebuild_cache <- main                     10   300 ms
 *             pthread_cond_wait  <- 0x1234 (libfoo.so) <- main                60   100 ms
 *           totals 100 contentions, 1 s; the leaves are mapping-less, as lockprof writes them
 *   raw     the same, not compressed
 *   empty   contention sample types, no samples
 *   cpu     sample types [samples/count, cpu/nanoseconds], one sample
 *
 * Exit 0, or 1 with a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"

enum {
    S_EMPTY, S_CONTENTIONS, S_COUNT, S_DELAY, S_NANOSECONDS, S_LOCK, S_HANDLE, S_WORKER,
    S_MAIN, S_REBUILD, S_CONDWAIT, S_DEMO, S_LIBFOO, S_COMMENT, S_SAMPLES, S_CPU, S_SOURCE,
    S_N
};

static char *strings[S_N] = {
    [S_EMPTY] = "", [S_CONTENTIONS] = "contentions", [S_COUNT] = "count", [S_DELAY] = "delay",
    [S_NANOSECONDS] = "nanoseconds", [S_LOCK] = "pthread_mutex_lock",
    [S_HANDLE] = "handle_request", [S_WORKER] = "worker_main", [S_MAIN] = "main",
    [S_REBUILD] = "rebuild_cache", [S_CONDWAIT] = "pthread_cond_wait", [S_DEMO] = "/opt/demo",
    [S_LIBFOO] = "/usr/lib/libfoo.so", [S_COMMENT] = "lockprof test helper",
    [S_SAMPLES] = "samples", [S_CPU] = "cpu", [S_SOURCE] = "/src/demo.c",
};

/* Functions 1..6 and their names. */
static const int fn_names[] = { S_LOCK, S_HANDLE, S_WORKER, S_MAIN, S_REBUILD, S_CONDWAIT };
#define NFN (sizeof fn_names / sizeof fn_names[0])

/* Locations 1..7: {function id (0: none), mapping id, address}. */
static const struct { uint64_t fn, map, addr; int64_t line; } locs[] = {
    { 1, 0, 0, 0 },          /* 1 pthread_mutex_lock: synthetic leaf, no mapping */
    { 2, 1, 0x401100, 42 },  /* 2 handle_request */
    { 3, 1, 0x401200, 0 },   /* 3 worker_main */
    { 4, 1, 0x401300, 0 },   /* 4 main */
    { 5, 1, 0x401400, 0 },   /* 5 rebuild_cache */
    { 6, 0, 0, 0 },          /* 6 pthread_cond_wait: synthetic leaf */
    { 0, 2, 0x1234, 0 },     /* 7 unnamed, in libfoo.so */
};
#define NLOC (sizeof locs / sizeof locs[0])

static const struct { uint64_t ids[4]; size_t n; int64_t count, delay; } samples[] = {
    { { 1, 2, 3, 4 }, 4, 30, 600000000 },
    { { 1, 5, 4 }, 3, 10, 300000000 },
    { { 6, 7, 4 }, 3, 60, 100000000 },
};
#define NSAMPLE (sizeof samples / sizeof samples[0])

static int write_all(const char *path, const uint8_t *buf, size_t len, int gzip)
{
    if (gzip) {
        gzFile g = gzopen(path, "wb9");
        if (!g || gzwrite(g, buf, (unsigned)len) != (int)len || gzclose(g) != Z_OK)
            return -1;
        return 0;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: helper_mkprof block|raw|empty|cpu FILE\n");
        return 1;
    }
    const char *kind = argv[1];
    int cpu = strcmp(kind, "cpu") == 0, empty = strcmp(kind, "empty") == 0;
    if (!cpu && !empty && strcmp(kind, "block") != 0 && strcmp(kind, "raw") != 0) {
        fprintf(stderr, "helper_mkprof: unknown kind '%s'\n", kind);
        return 1;
    }

    Lockprof__Pprof__Profile p = LOCKPROF__PPROF__PROFILE__INIT;
    p.n_string_table = S_N;
    p.string_table = strings;

    Lockprof__Pprof__ValueType vt[2] = { LOCKPROF__PPROF__VALUE_TYPE__INIT,
                                         LOCKPROF__PPROF__VALUE_TYPE__INIT };
    Lockprof__Pprof__ValueType *vtp[2] = { &vt[0], &vt[1] };
    vt[0].type = cpu ? S_SAMPLES : S_CONTENTIONS;
    vt[0].unit = S_COUNT;
    vt[1].type = cpu ? S_CPU : S_DELAY;
    vt[1].unit = S_NANOSECONDS;
    p.n_sample_type = 2;
    p.sample_type = vtp;
    Lockprof__Pprof__ValueType period = LOCKPROF__PPROF__VALUE_TYPE__INIT;
    period.type = vt[0].type;
    period.unit = S_COUNT;
    p.period_type = &period;
    p.period = 1;
    p.time_nanos = 1700000000LL * 1000000000LL;
    int64_t comment = S_COMMENT;
    p.n_comment = 1;
    p.comment = &comment;

    Lockprof__Pprof__Mapping maps[2] = { LOCKPROF__PPROF__MAPPING__INIT,
                                         LOCKPROF__PPROF__MAPPING__INIT };
    Lockprof__Pprof__Mapping *mapp[2] = { &maps[0], &maps[1] };
    maps[0].id = 1;
    maps[0].memory_start = 0x400000;
    maps[0].memory_limit = 0x500000;
    maps[0].filename = S_DEMO;
    maps[1].id = 2;
    maps[1].memory_start = 0x1000;
    maps[1].memory_limit = 0x2000;
    maps[1].filename = S_LIBFOO;
    p.n_mapping = 2;
    p.mapping = mapp;

    Lockprof__Pprof__Function fns[NFN];
    Lockprof__Pprof__Function *fnp[NFN];
    for (size_t i = 0; i < NFN; i++) {
        lockprof__pprof__function__init(&fns[i]);
        fns[i].id = i + 1;
        fns[i].name = fns[i].system_name = fn_names[i];
        fns[i].filename = i == 1 ? S_SOURCE : S_EMPTY;
        fnp[i] = &fns[i];
    }
    p.n_function = NFN;
    p.function = fnp;

    Lockprof__Pprof__Location loc[NLOC];
    Lockprof__Pprof__Location *locp[NLOC];
    Lockprof__Pprof__Line lines[NLOC];
    Lockprof__Pprof__Line *linep[NLOC];
    for (size_t i = 0; i < NLOC; i++) {
        lockprof__pprof__location__init(&loc[i]);
        lockprof__pprof__line__init(&lines[i]);
        loc[i].id = i + 1;
        loc[i].mapping_id = locs[i].map;
        loc[i].address = locs[i].addr;
        if (locs[i].fn) {
            lines[i].function_id = locs[i].fn;
            lines[i].line = locs[i].line;
            linep[i] = &lines[i];
            loc[i].n_line = 1;
            loc[i].line = &linep[i];
        }
        locp[i] = &loc[i];
    }
    p.n_location = NLOC;
    p.location = locp;

    Lockprof__Pprof__Sample smp[NSAMPLE];
    Lockprof__Pprof__Sample *smpp[NSAMPLE];
    int64_t values[NSAMPLE][2];
    for (size_t i = 0; i < NSAMPLE; i++) {
        lockprof__pprof__sample__init(&smp[i]);
        smp[i].n_location_id = samples[i].n;
        smp[i].location_id = (uint64_t *)samples[i].ids;
        values[i][0] = samples[i].count;
        values[i][1] = samples[i].delay;
        smp[i].n_value = 2;
        smp[i].value = values[i];
        smpp[i] = &smp[i];
    }
    p.n_sample = empty ? 0 : cpu ? 1 : NSAMPLE;
    p.sample = smpp;

    size_t len = lockprof__pprof__profile__get_packed_size(&p);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return 1;
    lockprof__pprof__profile__pack(&p, buf);
    if (write_all(argv[2], buf, len, strcmp(kind, "raw") != 0) != 0) {
        perror(argv[2]);
        return 1;
    }
    free(buf);
    return 0;
}
