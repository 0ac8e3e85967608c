/*
 * combine.c — `lockprof combine`: one pprof profile of where a run's threads' time went, on CPU
 * (the run's CPU profile) or waiting (its block profile), for one flame graph in
 * `go tool pprof -http`.
 *
 * Every sample keeps its stack, below one or two frames of lockprof's at the root: "[on CPU]",
 * or "[waiting]" then "[waiting: FAMILY]" (mutex, condition, futex, ... as the profiles'
 * comments name the families), so the graph's first split is CPU against waits and the next
 * one, on the waiting side, the kind of wait. One value: time/nanoseconds (a CPU sample's CPU
 * time; a wait's delay, weighted as the block profile weighs it).
 *
 * The two profiles are read (profread.h), their tables laid side by side in one profile (the
 * block profile's ids and string indices moved past the CPU profile's), and the result written
 * gzip-compressed under a temporary name, then renamed. Command code: malloc and stdio.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cli.h"
#include "cmds.h"
#include "families.h"
#include "profread.h"

static const char combine_usage[] =
    "usage: lockprof combine [-o FILE] CPU.pb.gz BLOCK.pb.gz\n"
    "\n"
    "Writes one pprof profile of where a run's threads' time went: on CPU (from its CPU\n"
    "profile, LOCKPROF_CPU_HZ) or waiting (from its block profile), each stack below\n"
    "'[on CPU]', or '[waiting]' and the kind of wait ('[waiting: mutex]', ...), in one\n"
    "value, time/nanoseconds: 'go tool pprof -http=: FILE' shows it as one flame graph.\n"
    "It leaves out what neither profile holds: waits lockprof does not interpose (see\n"
    "the manual), time a thread was runnable but not running, and the waits the block\n"
    "rate did not sample (the others are weighted for them). Samples' labels are not\n"
    "kept.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE  the file to write (default: the CPU profile's name with\n"
    "                     .cpu.pb.gz replaced by .time.pb.gz, else lockprof-time.pb.gz)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 written; 1 the file could not be written; 2 usage errors and files\n"
    "that are not a CPU profile and a block profile.\n"
    "\n"
    "example:\n"
    "  lockprof combine lockprof.4242.cpu.pb.gz lockprof.4242.block.pb.gz\n"
    "  go tool pprof -http=: lockprof.4242.time.pb.gz\n";

/* The synthetic roots: [on CPU], [waiting], then one [waiting: FAMILY] per family. */
enum { COMBINE_ON_CPU, COMBINE_WAITING, COMBINE_FAMILY0 };
#define COMBINE_ROOTS (COMBINE_FAMILY0 + LP_NFAMILIES)

struct combine {
    Lockprof__Pprof__Profile out;
    char **strings;
    size_t nstrings;
    uint64_t loc_base, fn_base, map_base; /* where the block profile's ids start */
    uint64_t root_loc;                    /* the first synthetic location's id */
    Lockprof__Pprof__Sample *samples;     /* what out.sample points to */
};

static uint64_t combine_max_id(void *const *items, size_t n, size_t id_offset)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        memcpy(&id, (const char *)items[i] + id_offset, sizeof id);
        if (id > m)
            m = id;
    }
    return m;
}

/* memcpy of n items, none from a NULL array (an empty table). */
static void combine_copy(void *dst, const void *src, size_t n, size_t size)
{
    if (n)
        memcpy(dst, src, n * size);
}

/* Ids pprof can use, and that stay apart once moved: none 0, none near the top of the range.
 * NULL, or what is wrong. */
static const char *combine_check_ids(const Lockprof__Pprof__Profile *p)
{
    static const struct {
        size_t n_off, arr_off, id_off;
    } tables[] = {
        { offsetof(Lockprof__Pprof__Profile, n_mapping),
          offsetof(Lockprof__Pprof__Profile, mapping), offsetof(Lockprof__Pprof__Mapping, id) },
        { offsetof(Lockprof__Pprof__Profile, n_function),
          offsetof(Lockprof__Pprof__Profile, function), offsetof(Lockprof__Pprof__Function, id) },
        { offsetof(Lockprof__Pprof__Profile, n_location),
          offsetof(Lockprof__Pprof__Profile, location), offsetof(Lockprof__Pprof__Location, id) },
    };
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        size_t n;
        void **items;
        memcpy(&n, (const char *)p + tables[t].n_off, sizeof n);
        memcpy(&items, (const char *)p + tables[t].arr_off, sizeof items);
        for (size_t i = 0; i < n; i++) {
            uint64_t id;
            memcpy(&id, (const char *)items[i] + tables[t].id_off, sizeof id);
            if (id == 0 || id > UINT64_MAX / 4)
                return "an id of 0, or above 2^62 (not a profile pprof reads)";
        }
    }
    return NULL;
}

/* A string of the block profile's, as an index of the output's table. */
static int64_t combine_bstr(size_t cpu_strings, int64_t i)
{
    return i ? i + (int64_t)cpu_strings - 1 : 0;
}

static int64_t combine_add_string(struct combine *c, const char *s)
{
    c->strings[c->nstrings] = (char *)s;
    return (int64_t)c->nstrings++;
}

/* The leaf function's name of a sample (its first location's first line), or "". */
static const char *combine_leaf(const struct lp_profread *r, const Lockprof__Pprof__Sample *s)
{
    if (!s->n_location_id)
        return "";
    const struct lp_profread_loc *l = lp_profread_find_loc(r, s->location_id[0]);
    return l && l->nframes ? r->names[l->frames[0].name].name : "";
}

static void combine_build(struct combine *c, const struct lp_profread *cpu,
                          const struct lp_profread *blk, const char *cpu_path,
                          const char *blk_path)
{
    Lockprof__Pprof__Profile *a = cpu->p, *b = blk->p;
    Lockprof__Pprof__Profile *o = &c->out;
    size_t na = a->n_string_table ? a->n_string_table : 1;

    /* Strings: the CPU profile's, the block profile's but its "", then lockprof's. */
    size_t extra = 8 + COMBINE_ROOTS;
    c->strings = lp_cli_xcalloc(na + b->n_string_table + extra, sizeof *c->strings);
    c->strings[0] = (char *)"";
    c->nstrings = 1;
    for (size_t i = 1; i < a->n_string_table; i++)
        c->strings[c->nstrings++] = a->string_table[i];
    for (size_t i = 1; i < b->n_string_table; i++)
        c->strings[c->nstrings++] = b->string_table[i];

    /* Mappings, functions and locations: the block profile's moved past the CPU profile's. */
    c->map_base = combine_max_id((void *const *)a->mapping, a->n_mapping,
                                 offsetof(Lockprof__Pprof__Mapping, id));
    c->fn_base = combine_max_id((void *const *)a->function, a->n_function,
                                offsetof(Lockprof__Pprof__Function, id));
    c->loc_base = combine_max_id((void *const *)a->location, a->n_location,
                                 offsetof(Lockprof__Pprof__Location, id));
    uint64_t fn_end = c->fn_base + combine_max_id((void *const *)b->function, b->n_function,
                                                  offsetof(Lockprof__Pprof__Function, id));
    c->root_loc = c->loc_base + 1 +
                  combine_max_id((void *const *)b->location, b->n_location,
                                 offsetof(Lockprof__Pprof__Location, id));
    for (size_t i = 0; i < b->n_mapping; i++) {
        Lockprof__Pprof__Mapping *m = b->mapping[i];
        m->id += c->map_base;
        m->filename = combine_bstr(na, m->filename);
        m->build_id = combine_bstr(na, m->build_id);
    }
    for (size_t i = 0; i < b->n_function; i++) {
        Lockprof__Pprof__Function *f = b->function[i];
        f->id += c->fn_base;
        f->name = combine_bstr(na, f->name);
        f->system_name = combine_bstr(na, f->system_name);
        f->filename = combine_bstr(na, f->filename);
    }
    for (size_t i = 0; i < b->n_location; i++) {
        Lockprof__Pprof__Location *l = b->location[i];
        l->id += c->loc_base;
        if (l->mapping_id)
            l->mapping_id += c->map_base;
        for (size_t k = 0; k < l->n_line; k++)
            l->line[k]->function_id += c->fn_base;
    }

    o->n_mapping = a->n_mapping + b->n_mapping;
    o->mapping = lp_cli_xcalloc(o->n_mapping + 1, sizeof *o->mapping);
    combine_copy(o->mapping, a->mapping, a->n_mapping, sizeof *o->mapping);
    combine_copy(o->mapping + a->n_mapping, b->mapping, b->n_mapping, sizeof *o->mapping);

    /* The roots: a function and a location each, no mapping, address 0. */
    static Lockprof__Pprof__Function root_fn[COMBINE_ROOTS];
    static Lockprof__Pprof__Location root_loc[COMBINE_ROOTS];
    static Lockprof__Pprof__Line root_line[COMBINE_ROOTS];
    static Lockprof__Pprof__Line *root_lines[COMBINE_ROOTS];
    static char root_name[COMBINE_ROOTS][64];
    for (int i = 0; i < COMBINE_ROOTS; i++) {
        if (i == COMBINE_ON_CPU)
            snprintf(root_name[i], sizeof root_name[i], "[on CPU]");
        else if (i == COMBINE_WAITING)
            snprintf(root_name[i], sizeof root_name[i], "[waiting]");
        else
            snprintf(root_name[i], sizeof root_name[i], "[waiting: %s]",
                     lp_families_name((enum lp_family_id)(i - COMBINE_FAMILY0)));
        lockprof__pprof__function__init(&root_fn[i]);
        root_fn[i].id = fn_end + 1 + (uint64_t)i;
        root_fn[i].name = root_fn[i].system_name = combine_add_string(c, root_name[i]);
        lockprof__pprof__line__init(&root_line[i]);
        root_line[i].function_id = root_fn[i].id;
        root_lines[i] = &root_line[i];
        lockprof__pprof__location__init(&root_loc[i]);
        root_loc[i].id = c->root_loc + (uint64_t)i;
        root_loc[i].n_line = 1;
        root_loc[i].line = &root_lines[i];
    }
    o->n_function = a->n_function + b->n_function + COMBINE_ROOTS;
    o->function = lp_cli_xcalloc(o->n_function, sizeof *o->function);
    combine_copy(o->function, a->function, a->n_function, sizeof *o->function);
    combine_copy(o->function + a->n_function, b->function, b->n_function, sizeof *o->function);
    for (int i = 0; i < COMBINE_ROOTS; i++)
        o->function[a->n_function + b->n_function + (size_t)i] = &root_fn[i];
    o->n_location = a->n_location + b->n_location + COMBINE_ROOTS;
    o->location = lp_cli_xcalloc(o->n_location, sizeof *o->location);
    combine_copy(o->location, a->location, a->n_location, sizeof *o->location);
    combine_copy(o->location + a->n_location, b->location, b->n_location, sizeof *o->location);
    for (int i = 0; i < COMBINE_ROOTS; i++)
        o->location[a->n_location + b->n_location + (size_t)i] = &root_loc[i];

    /* Samples: each stack, then its roots; one value, in nanoseconds. */
    o->n_sample = a->n_sample + b->n_sample;
    o->sample = lp_cli_xcalloc(o->n_sample + 1, sizeof *o->sample);
    Lockprof__Pprof__Sample *s = c->samples = lp_cli_xcalloc(o->n_sample + 1, sizeof *s);
    for (size_t i = 0; i < o->n_sample; i++) {
        bool is_cpu = i < a->n_sample;
        const struct lp_profread *r = is_cpu ? cpu : blk;
        const Lockprof__Pprof__Sample *in = is_cpu ? a->sample[i] : b->sample[i - a->n_sample];
        int64_t v[2];
        lp_profread_values(r, in, v);
        lockprof__pprof__sample__init(&s[i]);
        size_t n = in->n_location_id;
        s[i].location_id = lp_cli_xcalloc(n + 2, sizeof *s[i].location_id);
        for (size_t k = 0; k < n; k++)
            s[i].location_id[k] = in->location_id[k] + (is_cpu ? 0 : c->loc_base);
        if (is_cpu) {
            s[i].location_id[n++] = c->root_loc + COMBINE_ON_CPU;
        } else {
            enum lp_family_id f = lp_families_of_leaf(combine_leaf(blk, in));
            s[i].location_id[n++] = c->root_loc + COMBINE_FAMILY0 + (uint64_t)f;
            s[i].location_id[n++] = c->root_loc + COMBINE_WAITING;
        }
        s[i].n_location_id = n;
        s[i].value = lp_cli_xcalloc(1, sizeof *s[i].value);
        s[i].value[0] = v[1];
        s[i].n_value = 1;
        o->sample[i] = &s[i];
    }

    /* Types, times, comments. */
    static Lockprof__Pprof__ValueType vt, pt;
    static Lockprof__Pprof__ValueType *vts[1];
    lockprof__pprof__value_type__init(&vt);
    vt.type = combine_add_string(c, "time");
    vt.unit = combine_add_string(c, "nanoseconds");
    vts[0] = &vt;
    pt = vt;
    o->n_sample_type = 1;
    o->sample_type = vts;
    o->period_type = &pt;
    o->period = 1;
    o->time_nanos = a->time_nanos && (!b->time_nanos || a->time_nanos < b->time_nanos)
                        ? a->time_nanos
                        : b->time_nanos;
    o->duration_nanos = a->duration_nanos > b->duration_nanos ? a->duration_nanos
                                                              : b->duration_nanos;
    static char note1[1024], note2[1024];
    char *ea = lp_cli_escape(cpu_path), *eb = lp_cli_escape(blk_path);
    snprintf(note1, sizeof note1, "lockprof combined profile: time on CPU from %s, waits from %s",
             ea, eb);
    free(ea);
    free(eb);
    snprintf(note2, sizeof note2, "left out: waits lockprof does not interpose, time runnable "
             "but not running");
    o->comment = lp_cli_xcalloc(2, sizeof *o->comment);
    o->comment[o->n_comment++] = combine_add_string(c, note1);
    o->comment[o->n_comment++] = combine_add_string(c, note2);
    o->n_string_table = c->nstrings;
    o->string_table = c->strings;
}

/* gzip of the packed profile into path, through a temporary file renamed at the end. */
static int combine_write(const Lockprof__Pprof__Profile *p, const char *path)
{
    size_t len = lockprof__pprof__profile__get_packed_size(p);
    uint8_t *buf = lp_cli_xmalloc(len ? len : 1);
    lockprof__pprof__profile__pack(p, buf);
    char *tmp = lp_cli_xasprintf("%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    int rc = -1;
    if (fd < 0)
        goto out;
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    gzFile gz = gzdopen(fd, "wb9");
    if (!gz) {
        close(fd);
        goto out_unlink;
    }
    size_t done = 0;
    while (done < len) {
        unsigned chunk = len - done > (1u << 30) ? 1u << 30 : (unsigned)(len - done);
        int w = gzwrite(gz, buf + done, chunk);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (gzclose(gz) != Z_OK || done < len)
        goto out_unlink;
    if (rename(tmp, path) == 0)
        rc = 0;
out_unlink:
    if (rc)
        unlink(tmp);
out:
    free(tmp);
    free(buf);
    return rc;
}

/* The default output: CPU's name with .cpu.pb.gz replaced by .time.pb.gz. */
static char *combine_default_out(const char *cpu_path)
{
    size_t n = strlen(cpu_path), k = strlen(".cpu.pb.gz");
    if (n > k && strcmp(cpu_path + n - k, ".cpu.pb.gz") == 0)
        return lp_cli_xasprintf("%.*s.time.pb.gz", (int)(n - k), cpu_path);
    return lp_cli_xstrdup("lockprof-time.pb.gz");
}

int cmd_combine(int argc, char **argv)
{
    const char *files[2] = { NULL, NULL }, *out = NULL, *v;
    int nfiles = 0;
    bool opts_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || a[1] == '\0') {
            if (nfiles == 2)
                lp_cli_usage_error("combine", "unexpected argument '%s' after CPU.pb.gz and "
                                   "BLOCK.pb.gz", a);
            files[nfiles++] = a;
        } else if (strcmp(a, "--") == 0) {
            opts_done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(combine_usage, stdout);
            return 0;
        } else if ((v = lp_cli_opt_value("combine", argc, argv, &i, "--output", "-o"))) {
            out = v;
        } else {
            lp_cli_usage_error("combine", "unknown option '%s'", a);
        }
    }
    if (nfiles < 2)
        lp_cli_usage_error("combine", "expected a CPU profile and a block profile");

    struct lp_profread r[2];
    char *err = NULL;
    for (int i = 0; i < 2; i++) {
        if (lp_profread_open(&r[i], files[i], &err) < 0) {
            char *name = lp_cli_escape(files[i]);
            lp_cli_message("combine", "%s: %s", name, err);
            free(name);
            free(err);
            for (int k = 0; k <= i; k++)
                lp_profread_close(&r[k]);
            return LP_CLI_USAGE;
        }
    }
    /* Either order; one of each. */
    int ci = r[0].cpu ? 0 : 1, bi = 1 - ci;
    const char *why = !r[ci].cpu ? "neither is a CPU profile"
                      : r[bi].cpu ? "both are CPU profiles"
                      : lp_profread_kind(&r[bi]) == LP_PROFREAD_MUTEX
                          ? "the other is a mutex profile: the waits are in the block profile"
                          : NULL;
    const char *bad_ids = NULL;
    int bad_at = -1;
    for (int i = 0; i < 2 && !why && !bad_ids; i++)
        if ((bad_ids = combine_check_ids(r[i].p)))
            bad_at = i;
    if (bad_ids) {
        char *name = lp_cli_escape(files[bad_at]);
        lp_cli_message("combine", "%s: %s", name, bad_ids);
        free(name);
        lp_profread_close(&r[0]);
        lp_profread_close(&r[1]);
        return LP_CLI_USAGE;
    }
    if (why) {
        lp_cli_message("combine", "expected a CPU profile and a block profile: %s", why);
        lp_profread_close(&r[0]);
        lp_profread_close(&r[1]);
        return LP_CLI_USAGE;
    }
    struct combine c;
    memset(&c, 0, sizeof c);
    lockprof__pprof__profile__init(&c.out);
    combine_build(&c, &r[ci], &r[bi], files[ci], files[bi]);
    char *path = out ? lp_cli_xstrdup(out) : combine_default_out(files[ci]);
    int rc = combine_write(&c.out, path);
    char *name = lp_cli_escape(path);
    if (rc < 0)
        lp_cli_message("combine", "cannot write %s: %s", name, strerror(errno));
    else
        lp_cli_message("combine", "wrote %s (%zu samples on CPU, %zu waiting)", name,
                       r[ci].p->n_sample, r[bi].p->n_sample);
    free(name);
    for (size_t i = 0; i < c.out.n_sample; i++) {
        free(c.out.sample[i]->location_id);
        free(c.out.sample[i]->value);
    }
    free(c.samples);
    free(c.out.sample);
    free(c.out.mapping);
    free(c.out.function);
    free(c.out.location);
    free(c.out.comment);
    free(c.strings);
    free(path);
    lp_profread_close(&r[0]);
    lp_profread_close(&r[1]);
    return rc < 0 ? 1 : 0;
}
