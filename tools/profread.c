/* profread.c — reading and indexing a contention profile for `lockprof top` (profread.h). */
#include "profread.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cli.h"

/* Reads all of path ("-": standard input) into *buf. 0 or -errno (-EFBIG: too large). */
static int profread_file(const char *path, uint8_t **buf, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 65536, n = 0;
    uint8_t *b = lp_cli_xmalloc(cap);
    int rc = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= LP_PROFREAD_MAX_FILE) {
                rc = -EFBIG;
                break;
            }
            cap *= 2;
            b = lp_cli_xrealloc(b, cap);
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (fd != STDIN_FILENO)
        close(fd);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return 0;
}

int lp_profread_gunzip(const uint8_t *in, size_t inlen, uint8_t **outp, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + 15) != Z_OK)
        return -ENOMEM;
    size_t cap = inlen < 16384 ? 65536 : inlen * 4, len = 0;
    uint8_t *out = lp_cli_xmalloc(cap);
    int rc = 0;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)inlen; /* inlen <= LP_PROFREAD_MAX_FILE < UINT_MAX */
    for (;;) {
        if (len == cap) {
            if (cap >= LP_PROFREAD_MAX_INFLATED) {
                rc = -EFBIG;
                break;
            }
            cap *= 2;
            out = lp_cli_xrealloc(out, cap);
        }
        size_t room = cap - len < UINT_MAX ? cap - len : UINT_MAX;
        z.next_out = out + len;
        z.avail_out = (uInt)room;
        int zr = inflate(&z, Z_NO_FLUSH);
        len += room - z.avail_out;
        if (zr == Z_STREAM_END) {
            if (z.avail_in >= 2 && z.next_in[0] == 0x1f && z.next_in[1] == 0x8b) {
                inflateReset(&z);
                continue;
            }
            break;
        }
        if (zr == Z_OK || (zr == Z_BUF_ERROR && z.avail_out == 0))
            continue;
        /* Z_BUF_ERROR with output room left: the input ended before the stream did. */
        rc = zr == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
        break;
    }
    inflateEnd(&z);
    if (rc < 0) {
        free(out);
        return rc;
    }
    *outp = out;
    *outlen = len;
    return 0;
}

const char *lp_profread_str(const Lockprof__Pprof__Profile *p, int64_t i)
{
    return i >= 0 && (uint64_t)i < p->n_string_table ? p->string_table[i] : "";
}

static bool profread_str_ok(const Lockprof__Pprof__Profile *p, int64_t i)
{
    return i >= 0 && (uint64_t)i < p->n_string_table;
}

/* Checks every string index in the profile; returns what is wrong, or NULL. */
static const char *profread_check_strings(const Lockprof__Pprof__Profile *p)
{
    if (p->n_string_table == 0 || p->string_table[0][0] != '\0')
        return "its string table does not begin with \"\"";
    for (size_t i = 0; i < p->n_sample_type; i++)
        if (!profread_str_ok(p, p->sample_type[i]->type) ||
            !profread_str_ok(p, p->sample_type[i]->unit))
            return "a sample type names a missing string";
    for (size_t i = 0; i < p->n_function; i++) {
        const Lockprof__Pprof__Function *f = p->function[i];
        if (!profread_str_ok(p, f->name) || !profread_str_ok(p, f->system_name) ||
            !profread_str_ok(p, f->filename))
            return "a function names a missing string";
    }
    for (size_t i = 0; i < p->n_mapping; i++)
        if (!profread_str_ok(p, p->mapping[i]->filename) ||
            !profread_str_ok(p, p->mapping[i]->build_id))
            return "a mapping names a missing string";
    for (size_t i = 0; i < p->n_comment; i++)
        if (!profread_str_ok(p, p->comment[i]))
            return "a comment names a missing string";
    if (p->period_type &&
        (!profread_str_ok(p, p->period_type->type) || !profread_str_ok(p, p->period_type->unit)))
        return "the period type names a missing string";
    return NULL;
}

static int profread_cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int profread_cmp_loc(const void *a, const void *b)
{
    return profread_cmp_u64(((const struct lp_profread_loc *)a)->id,
                            ((const struct lp_profread_loc *)b)->id);
}

static int profread_cmp_fn(const void *a, const void *b)
{
    return profread_cmp_u64((*(Lockprof__Pprof__Function *const *)a)->id,
                            (*(Lockprof__Pprof__Function *const *)b)->id);
}

static int profread_cmp_map(const void *a, const void *b)
{
    return profread_cmp_u64((*(Lockprof__Pprof__Mapping *const *)a)->id,
                            (*(Lockprof__Pprof__Mapping *const *)b)->id);
}

const struct lp_profread_loc *lp_profread_find_loc(const struct lp_profread *r, uint64_t id)
{
    struct lp_profread_loc key = { .id = id };
    return bsearch(&key, r->locs, r->nlocs, sizeof *r->locs, profread_cmp_loc);
}

static uint64_t profread_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The index of name in r->names, added if new. Takes ownership of owned (may be NULL). */
static uint32_t profread_intern(struct lp_profread *r, const char *name, char *owned)
{
    if (r->nnames * 2 >= r->hash_cap) {
        size_t cap = r->hash_cap ? r->hash_cap * 2 : 256;
        uint32_t *h = lp_cli_xcalloc(cap, sizeof *h);
        for (size_t i = 0; i < r->nnames; i++) {
            size_t j = profread_hash(r->names[i].name) & (cap - 1);
            while (h[j])
                j = (j + 1) & (cap - 1);
            h[j] = (uint32_t)i + 1;
        }
        free(r->hash);
        r->hash = h;
        r->hash_cap = cap;
    }
    size_t j = profread_hash(name) & (r->hash_cap - 1);
    while (r->hash[j]) {
        uint32_t k = r->hash[j] - 1;
        if (strcmp(r->names[k].name, name) == 0) {
            free(owned);
            return k;
        }
        j = (j + 1) & (r->hash_cap - 1);
    }
    if (r->nnames == r->names_cap) {
        r->names_cap = r->names_cap ? r->names_cap * 2 : 256;
        r->names = lp_cli_xrealloc(r->names, r->names_cap * sizeof *r->names);
    }
    memset(&r->names[r->nnames], 0, sizeof r->names[0]);
    r->names[r->nnames].name = owned ? owned : lp_cli_xstrdup(name);
    r->hash[j] = (uint32_t)r->nnames + 1;
    return (uint32_t)r->nnames++;
}

/* "0x<addr> (<mapping basename>)": how an unnamed frame is shown. */
static char *profread_addr_name(const Lockprof__Pprof__Profile *p,
                                Lockprof__Pprof__Mapping **maps,
                                const Lockprof__Pprof__Location *l)
{
    Lockprof__Pprof__Mapping key = { .id = l->mapping_id }, *kp = &key, **m = NULL;
    if (l->mapping_id)
        m = bsearch(&kp, maps, p->n_mapping, sizeof *maps, profread_cmp_map);
    const char *file = m ? lp_profread_str(p, (*m)->filename) : "";
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (*base)
        return lp_cli_xasprintf("0x%" PRIx64 " (%s)", l->address, base);
    return lp_cli_xasprintf("0x%" PRIx64, l->address);
}

/* Builds r->locs with their frames. Returns what is wrong with the profile, or NULL. */
static const char *profread_index(struct lp_profread *r)
{
    const Lockprof__Pprof__Profile *p = r->p;
    Lockprof__Pprof__Function **fns = lp_cli_xmalloc(p->n_function * sizeof *fns);
    Lockprof__Pprof__Mapping **maps = lp_cli_xmalloc(p->n_mapping * sizeof *maps);
    if (p->n_function)
        memcpy(fns, p->function, p->n_function * sizeof *fns);
    if (p->n_mapping)
        memcpy(maps, p->mapping, p->n_mapping * sizeof *maps);
    qsort(fns, p->n_function, sizeof *fns, profread_cmp_fn);
    qsort(maps, p->n_mapping, sizeof *maps, profread_cmp_map);

    const char *bad = NULL;
    r->nlocs = p->n_location;
    r->locs = lp_cli_xcalloc(p->n_location, sizeof *r->locs);
    for (size_t i = 0; i < p->n_location && !bad; i++) {
        const Lockprof__Pprof__Location *l = p->location[i];
        struct lp_profread_loc *tl = &r->locs[i];
        tl->id = l->id;
        tl->frames = lp_cli_xcalloc(l->n_line ? l->n_line : 1, sizeof *tl->frames);
        for (size_t k = 0; k < l->n_line; k++) {
            Lockprof__Pprof__Function key = { .id = l->line[k]->function_id }, *kp = &key;
            Lockprof__Pprof__Function **f =
                bsearch(&kp, fns, p->n_function, sizeof *fns, profread_cmp_fn);
            if (!f) {
                bad = "a location refers to a missing function";
                break;
            }
            const char *name = lp_profread_str(p, (*f)->name);
            if (!*name)
                name = lp_profread_str(p, (*f)->system_name);
            struct lp_profread_frame *fr = &tl->frames[tl->nframes++];
            fr->name = *name ? profread_intern(r, name, NULL)
                             : profread_intern(r, "", profread_addr_name(p, maps, l));
            fr->inlined = k + 1 < l->n_line;
            fr->file = *lp_profread_str(p, (*f)->filename) ? lp_profread_str(p, (*f)->filename)
                                                            : NULL;
            fr->line = l->line[k]->line;
        }
        if (!bad && tl->nframes == 0) {
            char *name = profread_addr_name(p, maps, l);
            tl->frames[tl->nframes++].name = profread_intern(r, name, name);
        }
    }
    free(fns);
    free(maps);
    if (!bad)
        qsort(r->locs, r->nlocs, sizeof *r->locs, profread_cmp_loc);
    return bad;
}

/* Finds the sample value index of type. Returns -1 if absent. */
static int profread_sample_index(const Lockprof__Pprof__Profile *p, const char *type)
{
    for (size_t i = 0; i < p->n_sample_type; i++)
        if (strcmp(lp_profread_str(p, p->sample_type[i]->type), type) == 0)
            return (int)i;
    return -1;
}

static int64_t profread_delay_multiplier(const char *unit)
{
    static const struct { const char *unit; int64_t mul; } units[] = {
        { "nanoseconds", 1 }, { "ns", 1 },
        { "microseconds", 1000 }, { "us", 1000 },
        { "milliseconds", 1000000 }, { "ms", 1000000 },
        { "seconds", 1000000000 }, { "s", 1000000000 },
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].unit) == 0)
            return units[i].mul;
    return 0;
}

/* "not a contention profile (sample types: TYPE/UNIT, ...)". */
static char *profread_not_contention(const Lockprof__Pprof__Profile *p)
{
    size_t cap = 64, n = 0;
    char *types = lp_cli_xmalloc(cap);
    types[0] = '\0';
    for (size_t i = 0; i < p->n_sample_type; i++) {
        const char *t = lp_profread_str(p, p->sample_type[i]->type);
        const char *u = lp_profread_str(p, p->sample_type[i]->unit);
        size_t need = strlen(t) + strlen(u) + 4;
        if (n + need >= cap) {
            cap = 2 * (n + need);
            types = lp_cli_xrealloc(types, cap);
        }
        n += (size_t)snprintf(types + n, cap - n, "%s%s/%s", i ? ", " : "", t, u);
    }
    char *msg = lp_cli_xasprintf("not a contention profile (sample types: %s)",
                                 n ? types : "none");
    free(types);
    return msg;
}

/* Adds up every sample into r->total and the functions' flat and cum. NULL, or what is
 * wrong with the profile. */
static const char *profread_add_samples(struct lp_profread *r)
{
    const Lockprof__Pprof__Profile *p = r->p;
    for (size_t i = 0; i < p->n_sample; i++) {
        const Lockprof__Pprof__Sample *s = p->sample[i];
        if (s->n_value != p->n_sample_type)
            return "a sample's values do not match the sample types";
        int64_t v[2] = { s->value[r->vi[0]], s->value[r->vi[1]] * r->delay_mul };
        r->total[0] += v[0];
        r->total[1] += v[1];
        for (size_t k = 0; k < s->n_location_id; k++) {
            const struct lp_profread_loc *l = lp_profread_find_loc(r, s->location_id[k]);
            if (!l)
                return "a sample refers to a missing location";
            for (size_t f = 0; f < l->nframes; f++) {
                struct lp_profread_name *t = &r->names[l->frames[f].name];
                if (k == 0 && f == 0) {
                    t->flat[0] += v[0];
                    t->flat[1] += v[1];
                }
                if (t->stamp != i + 1) {
                    t->stamp = i + 1;
                    t->cum[0] += v[0];
                    t->cum[1] += v[1];
                }
            }
        }
    }
    return NULL;
}

/* The bytes of path, decompressed if they are gzip data. 0, or -errno with *err. */
static int profread_bytes(const char *path, uint8_t **data, size_t *len, bool *gz, char **err)
{
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    int rc = profread_file(path, &raw, &rawlen);
    if (rc == -EFBIG) {
        *err = lp_cli_xasprintf("larger than %llu bytes, not a profile", LP_PROFREAD_MAX_FILE);
        return rc;
    }
    if (rc < 0) {
        *err = lp_cli_xstrdup(strerror(-rc));
        return rc;
    }
    *gz = rawlen >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
    if (rawlen == 0) {
        *err = lp_cli_xstrdup("empty file, not a pprof profile");
        rc = -EBADMSG;
    } else if (!*gz) {
        *data = raw;
        *len = rawlen;
        return 0;
    } else if ((rc = lp_profread_gunzip(raw, rawlen, data, len)) == -EBADMSG) {
        *err = lp_cli_xstrdup("truncated or corrupt gzip data");
    } else if (rc == -EFBIG) {
        *err = lp_cli_xasprintf("decompresses to more than %llu bytes, not a profile",
                                LP_PROFREAD_MAX_INFLATED);
    } else if (rc < 0) {
        *err = lp_cli_xstrdup(strerror(-rc));
    }
    free(raw);
    return rc;
}

int lp_profread_open(struct lp_profread *r, const char *path, char **err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    bool gz = false;
    memset(r, 0, sizeof *r);
    *err = NULL;
    int rc = profread_bytes(path, &data, &len, &gz, err);
    if (rc < 0)
        return rc;

    /* protobuf-c copies what it unpacks: data is not needed afterwards. */
    r->p = lockprof__pprof__profile__unpack(NULL, len, data);
    free(data);
    const char *bad = r->p ? profread_check_strings(r->p) : "";
    if (bad) {
        if (*bad)
            *err = lp_cli_xasprintf("not a pprof profile (%s)", bad);
        else
            *err = lp_cli_xasprintf("not a pprof profile%s",
                                    gz ? " (gzip data that is not profile.proto)" : "");
        return -EBADMSG;
    }

    const Lockprof__Pprof__Profile *p = r->p;
    r->vi[0] = profread_sample_index(p, "contentions");
    r->vi[1] = profread_sample_index(p, "delay");
    if (r->vi[1] >= 0) {
        const char *unit = lp_profread_str(p, p->sample_type[r->vi[1]]->unit);
        r->delay_mul = profread_delay_multiplier(unit);
    }
    if (r->vi[0] < 0 || r->vi[1] < 0 || r->delay_mul == 0) {
        *err = profread_not_contention(p);
        return -EBADMSG;
    }

    bad = profread_index(r);
    if (!bad)
        bad = profread_add_samples(r);
    if (bad) {
        *err = lp_cli_xasprintf("corrupt pprof profile: %s", bad);
        return -EBADMSG;
    }
    return 0;
}

void lp_profread_close(struct lp_profread *r)
{
    for (size_t i = 0; i < r->nlocs; i++)
        free(r->locs[i].frames);
    free(r->locs);
    for (size_t i = 0; i < r->nnames; i++)
        free(r->names[i].name);
    free(r->names);
    free(r->hash);
    if (r->p)
        lockprof__pprof__profile__free_unpacked(r->p, NULL);
    memset(r, 0, sizeof *r);
}
