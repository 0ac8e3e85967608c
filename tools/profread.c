/* profread.c — reading and indexing a contention profile for `lockprof top` (profread.h). */
#include "profread.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "cli.h"
#include "demangle.h"

/* The room left under m's limit. */
static size_t profread_room(const struct lp_profread_mem *m)
{
    return m->used < m->limit ? m->limit - m->used : 0;
}

static void profread_charge(struct lp_profread_mem *m, size_t n)
{
    m->used += n;
    if (m->used > m->peak)
        m->peak = m->used;
}

/*
 * The allocators of one profile's memory: NULL, with m->over or m->nomem set, for a request
 * beyond the limit or one malloc refused. A block counts as what malloc really gave
 * (malloc_usable_size). A new block never ends past the limit; a block grown in place by
 * profread_realloc may end past it by malloc's rounding (less than a page), and then nothing
 * more is given.
 */
static void *profread_alloc(struct lp_profread_mem *m, size_t n)
{
    if (m->over || n > profread_room(m)) {
        m->over = true;
        return NULL;
    }
    void *p = malloc(n ? n : 1);
    if (!p) {
        m->nomem = true;
        return NULL;
    }
    if (malloc_usable_size(p) > profread_room(m)) {
        free(p);
        m->over = true;
        return NULL;
    }
    profread_charge(m, malloc_usable_size(p));
    return p;
}

static void *profread_calloc(struct lp_profread_mem *m, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        m->over = true;
        return NULL;
    }
    void *p = profread_alloc(m, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

static void *profread_realloc(struct lp_profread_mem *m, void *old, size_t n)
{
    size_t had = malloc_usable_size(old);
    if (m->over || (n > had && n - had > profread_room(m))) {
        m->over = true;
        return NULL;
    }
    void *p = realloc(old, n ? n : 1);
    if (!p) {
        m->nomem = true;
        return NULL;
    }
    m->used -= had;
    profread_charge(m, malloc_usable_size(p));
    return p;
}

static void profread_free(struct lp_profread_mem *m, void *p)
{
    m->used -= malloc_usable_size(p);
    free(p);
}

static char *profread_strdup(struct lp_profread_mem *m, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = profread_alloc(m, n);
    return d ? memcpy(d, s, n) : NULL;
}

/* protobuf-c's allocator: allocator_data is the lp_profread. */
static void *profread_pbc_alloc(void *data, size_t size)
{
    return profread_alloc(&((struct lp_profread *)data)->mem, size);
}

static void profread_pbc_free(void *data, void *p)
{
    if (p)
        profread_free(&((struct lp_profread *)data)->mem, p);
}

/* Reads all of path ("-": standard input), up to max bytes, into *buf (plain malloc: the
 * file is not counted in a profile's memory). 0 or -errno (-EFBIG: larger than max). */
static int profread_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 0, n = 0;
    uint8_t *b = NULL;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            /* One byte past max tells a file of max bytes from a larger one. */
            size_t want = cap ? (cap < max / 2 ? cap * 2 : max + 1) : 65536;
            if (cap == max + 1) {
                rc = -EFBIG;
                break;
            }
            uint8_t *nb = realloc(b, want);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            b = nb;
            cap = want;
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

/* One step of inflating gzip data into z's output room: 1 to go on (output room used up, or
 * the next of several concatenated members begun), 0 at the end of the data, -EBADMSG
 * (truncated or corrupt: a Z_BUF_ERROR with output room left means the input ended before
 * the stream did) or -ENOMEM. */
static int profread_inflate_step(z_stream *z)
{
    int zr = inflate(z, Z_NO_FLUSH);
    if (zr == Z_STREAM_END) {
        if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b) {
            inflateReset(z);
            return 1;
        }
        return 0;
    }
    if (zr == Z_OK || (zr == Z_BUF_ERROR && z->avail_out == 0))
        return 1;
    return zr == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
}

/*
 * Decompresses gzip data (one member or several concatenated, as gzip allows) into a buffer
 * from m. 0, -EBADMSG (truncated or corrupt), -EFBIG (beyond m's limit; m->over) or -ENOMEM
 * (m->nomem, or zlib's own state). inlen is at most UINT_MAX.
 */
static int profread_inflate(struct lp_profread_mem *m, const uint8_t *in, size_t inlen,
                            uint8_t **outp, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + 15) != Z_OK)
        return -ENOMEM;
    size_t cap = inlen < 16384 ? 65536 : inlen < SIZE_MAX / 4 ? inlen * 4 : SIZE_MAX, len = 0;
    cap = cap < profread_room(m) ? cap : profread_room(m);
    uint8_t *out = profread_alloc(m, cap);
    int rc = out ? 0 : m->over ? -EFBIG : -ENOMEM;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)inlen;
    while (rc == 0) {
        if (len == cap) {
            size_t most = cap + profread_room(m);
            size_t next = cap < most / 2 ? cap * 2 : most;
            uint8_t *nb = next > cap ? profread_realloc(m, out, next) : NULL;
            if (!nb) {
                m->over = !m->nomem;
                rc = m->nomem ? -ENOMEM : -EFBIG;
                break;
            }
            out = nb;
            cap = next;
        }
        size_t room = cap - len < UINT_MAX ? cap - len : UINT_MAX;
        z.next_out = out + len;
        z.avail_out = (uInt)room;
        int step = profread_inflate_step(&z);
        len += room - z.avail_out;
        if (step <= 0) {
            rc = step;
            break;
        }
    }
    inflateEnd(&z);
    if (rc < 0) {
        if (out)
            profread_free(m, out);
        return rc;
    }
    *outp = out;
    *outlen = len;
    return 0;
}

int lp_profread_gzip_check(const uint8_t *in, size_t inlen)
{
    static uint8_t scratch[65536]; /* what is inflated, looked at by zlib only */
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + 15) != Z_OK)
        return -ENOMEM;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)inlen;
    uint64_t total = 0;
    int rc = 1;
    while (rc > 0) {
        z.next_out = scratch;
        z.avail_out = sizeof scratch;
        rc = profread_inflate_step(&z);
        total += sizeof scratch - z.avail_out;
        if (total > LP_PROFREAD_MAX_INFLATED)
            rc = -EFBIG;
    }
    inflateEnd(&z);
    return rc;
}

int64_t lp_profread_add(int64_t a, int64_t b, bool *saturated)
{
    if (b > INT64_MAX - a) {
        if (saturated)
            *saturated = true;
        return INT64_MAX;
    }
    return a + b;
}

const char *lp_profread_str(const Lockprof__Pprof__Profile *p, int64_t i)
{
    return i >= 0 && (uint64_t)i < p->n_string_table ? p->string_table[i] : "";
}

/* What profread_add_samples returns for a profile past r->frames_limit. */
static const char profread_too_many_frames[] = "too many frames";

/* What profread_add_samples returns for a negative value, whole. */
static const char profread_negative[] = "not a contention profile: a sample's contentions or "
                                        "delay is negative (as in a difference of two profiles)";

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

/* The index of name in r->names, added if new; UINT32_MAX when there is no room for it.
 * Takes ownership of owned (may be NULL; allocated from r->mem). */
static uint32_t profread_intern(struct lp_profread *r, const char *name, char *owned)
{
    struct lp_profread_mem *m = &r->mem;
    if (r->nnames * 2 >= r->hash_cap) {
        size_t cap = r->hash_cap ? r->hash_cap * 2 : 256;
        uint32_t *h = cap < UINT32_MAX ? profread_calloc(m, cap, sizeof *h) : NULL;
        if (!h)
            goto fail;
        for (size_t i = 0; i < r->nnames; i++) {
            size_t j = profread_hash(r->names[i].name) & (cap - 1);
            while (h[j])
                j = (j + 1) & (cap - 1);
            h[j] = (uint32_t)i + 1;
        }
        if (r->hash)
            profread_free(m, r->hash);
        r->hash = h;
        r->hash_cap = cap;
    }
    size_t j = profread_hash(name) & (r->hash_cap - 1);
    while (r->hash[j]) {
        uint32_t k = r->hash[j] - 1;
        if (strcmp(r->names[k].name, name) == 0) {
            if (owned)
                profread_free(m, owned);
            return k;
        }
        j = (j + 1) & (r->hash_cap - 1);
    }
    if (r->nnames == r->names_cap) {
        size_t cap = r->names_cap ? r->names_cap * 2 : 256;
        void *n = profread_realloc(m, r->names, cap * sizeof *r->names);
        if (!n)
            goto fail;
        r->names = n;
        r->names_cap = cap;
    }
    char *copy = owned ? owned : profread_strdup(m, name);
    if (!copy)
        return UINT32_MAX;
    memset(&r->names[r->nnames], 0, sizeof r->names[0]);
    r->names[r->nnames].name = copy;
    r->hash[j] = (uint32_t)r->nnames + 1;
    return (uint32_t)r->nnames++;
fail:
    if (owned)
        profread_free(m, owned);
    return UINT32_MAX;
}

/*
 * "0x<addr> (<mapping basename>)", how an unnamed frame is shown, from r->mem; NULL if there
 * is no room. The base name is looked for in the file name's first PATH_MAX bytes and has at
 * most NAME_MAX: no file's are longer, and every location of a mapping makes one of these
 * names, so that a long one costs no more than a short one.
 */
static char *profread_addr_name(struct lp_profread *r, Lockprof__Pprof__Mapping **maps,
                                const Lockprof__Pprof__Location *l)
{
    const Lockprof__Pprof__Profile *p = r->p;
    Lockprof__Pprof__Mapping key = { .id = l->mapping_id }, *kp = &key, **m = NULL;
    if (l->mapping_id)
        m = bsearch(&kp, maps, p->n_mapping, sizeof *maps, profread_cmp_map);
    const char *file = m ? lp_profread_str(p, (*m)->filename) : "";
    const char *slash = memrchr(file, '/', strnlen(file, PATH_MAX));
    const char *base = slash ? slash + 1 : file;
    int blen = (int)strnlen(base, NAME_MAX);
    char addr[32];
    snprintf(addr, sizeof addr, "0x%" PRIx64, l->address);
    size_t n = strlen(addr) + (blen ? (size_t)blen + 3 : 0) + 1;
    char *name = profread_alloc(&r->mem, n);
    if (name)
        snprintf(name, n, blen ? "%s (%.*s)" : "%s", addr, blen, base);
    return name;
}

/* What profread_index and profread_add_samples return when r->mem has no room left. */
static const char profread_no_room[] = "no room";

/* Builds r->locs with their frames. Returns what is wrong with the profile, profread_no_room,
 * or NULL. */
static const char *profread_index(struct lp_profread *r)
{
    const Lockprof__Pprof__Profile *p = r->p;
    struct lp_profread_mem *m = &r->mem;
    Lockprof__Pprof__Function **fns = profread_calloc(m, p->n_function, sizeof *fns);
    Lockprof__Pprof__Mapping **maps = profread_calloc(m, p->n_mapping, sizeof *maps);
    /* By string index, the name a function's name interned as, + 1 (0: not yet): a name is
     * hashed once, however many lines and functions name it. */
    uint32_t *by_str = profread_calloc(m, p->n_string_table, sizeof *by_str);
    r->locs = profread_calloc(m, p->n_location, sizeof *r->locs);
    const char *bad = !fns || !maps || !by_str || !r->locs ? profread_no_room : NULL;
    if (bad)
        goto out;
    if (p->n_function)
        memcpy(fns, p->function, p->n_function * sizeof *fns);
    if (p->n_mapping)
        memcpy(maps, p->mapping, p->n_mapping * sizeof *maps);
    qsort(fns, p->n_function, sizeof *fns, profread_cmp_fn);
    qsort(maps, p->n_mapping, sizeof *maps, profread_cmp_map);

    /* Functions by the names people read (a demangler that cannot be mapped leaves them as
     * they are): names that demangle the same, as a C++ constructor's complete and base
     * object variants do, are one function, as in pprof. */
    struct lp_demangler dm;
    lp_demangle_open(&dm);
    char readable[LP_PROFREAD_NAME_MAX];

    r->nlocs = p->n_location;
    for (size_t i = 0; i < p->n_location && !bad; i++) {
        const Lockprof__Pprof__Location *l = p->location[i];
        struct lp_profread_loc *tl = &r->locs[i];
        tl->id = l->id;
        tl->frames = profread_calloc(m, l->n_line ? l->n_line : 1, sizeof *tl->frames);
        if (!tl->frames) {
            bad = profread_no_room;
            break;
        }
        for (size_t k = 0; k < l->n_line; k++) {
            Lockprof__Pprof__Function key = { .id = l->line[k]->function_id }, *kp = &key;
            Lockprof__Pprof__Function **f =
                bsearch(&kp, fns, p->n_function, sizeof *fns, profread_cmp_fn);
            if (!f) {
                bad = "a location refers to a missing function";
                break;
            }
            int64_t si = *lp_profread_str(p, (*f)->name) ? (*f)->name : (*f)->system_name;
            uint32_t ni;
            if (*lp_profread_str(p, si)) {
                if (!by_str[si])
                    by_str[si] = profread_intern(r, lp_demangle(&dm, lp_profread_str(p, si),
                                                                readable, sizeof readable),
                                                 NULL) + 1;
                ni = by_str[si] - 1; /* UINT32_MAX (and by_str[si] 0) when there is no room */
            } else {
                char *owned = profread_addr_name(r, maps, l);
                ni = owned ? profread_intern(r, owned, owned) : UINT32_MAX;
            }
            if (ni == UINT32_MAX) {
                bad = profread_no_room;
                break;
            }
            struct lp_profread_frame *fr = &tl->frames[tl->nframes++];
            fr->name = ni;
            fr->inlined = k + 1 < l->n_line;
            fr->file = *lp_profread_str(p, (*f)->filename) ? lp_profread_str(p, (*f)->filename)
                                                            : NULL;
            fr->line = l->line[k]->line;
        }
        if (!bad && tl->nframes == 0) {
            char *name = profread_addr_name(r, maps, l);
            uint32_t ni = name ? profread_intern(r, name, name) : UINT32_MAX;
            if (ni == UINT32_MAX)
                bad = profread_no_room;
            else
                tl->frames[tl->nframes++].name = ni;
        }
    }
    lp_demangle_close(&dm);
    if (!bad)
        qsort(r->locs, r->nlocs, sizeof *r->locs, profread_cmp_loc);
out:
    if (fns)
        profread_free(m, fns);
    if (maps)
        profread_free(m, maps);
    if (by_str)
        profread_free(m, by_str);
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

/* What profread_not_contention names at most: the sample types (Go's profiles have up to 4)
 * and the bytes of each name, so that the message stays a line however many a file has. */
#define PROFREAD_TYPES_SHOWN 8
#define PROFREAD_TYPE_NAME_MAX 256

/* "not a contention or CPU profile (sample types: TYPE/UNIT, ...)", the names escaped. */
static char *profread_not_contention(const Lockprof__Pprof__Profile *p)
{
    size_t cap = 64, n = 0;
    char *types = lp_cli_xmalloc(cap);
    types[0] = '\0';
    for (size_t i = 0; i < p->n_sample_type && i < PROFREAD_TYPES_SHOWN; i++) {
        char *t = lp_cli_escape_max(lp_profread_str(p, p->sample_type[i]->type),
                                    PROFREAD_TYPE_NAME_MAX);
        char *u = lp_cli_escape_max(lp_profread_str(p, p->sample_type[i]->unit),
                                    PROFREAD_TYPE_NAME_MAX);
        size_t need = strlen(t) + strlen(u) + 4;
        if (n + need >= cap) {
            cap = 2 * (n + need);
            types = lp_cli_xrealloc(types, cap);
        }
        n += (size_t)snprintf(types + n, cap - n, "%s%s/%s", i ? ", " : "", t, u);
        free(t);
        free(u);
    }
    char more[48] = "";
    if (p->n_sample_type > PROFREAD_TYPES_SHOWN)
        snprintf(more, sizeof more, ", … %zu more", p->n_sample_type - PROFREAD_TYPES_SHOWN);
    char *msg = lp_cli_xasprintf("not a contention or CPU profile (sample types: %s%s)",
                                 n ? types : "none", more);
    free(types);
    return msg;
}

void lp_profread_values(const struct lp_profread *r, const Lockprof__Pprof__Sample *s,
                        int64_t v[2])
{
    v[0] = s->value[r->vi[0]];
    v[1] = s->value[r->vi[1]];
    v[1] = v[1] > INT64_MAX / r->delay_mul ? INT64_MAX : v[1] * r->delay_mul;
}

/* Adds up every sample into r->total and the functions' flat and cum, each sum stopping at
 * INT64_MAX, counting the frames in r->frames. NULL, profread_too_many_frames (when a
 * location takes r->frames past r->frames_limit, before its frames are visited), or what is
 * wrong with the profile. */
static const char *profread_add_samples(struct lp_profread *r)
{
    const Lockprof__Pprof__Profile *p = r->p;
    bool *sat = &r->saturated;
    for (size_t i = 0; i < p->n_sample; i++) {
        const Lockprof__Pprof__Sample *s = p->sample[i];
        if (s->n_value != p->n_sample_type)
            return "a sample's values do not match the sample types";
        if (s->value[r->vi[0]] < 0 || s->value[r->vi[1]] < 0)
            return profread_negative;
        if (s->value[r->vi[1]] > INT64_MAX / r->delay_mul)
            *sat = true;
        int64_t v[2];
        lp_profread_values(r, s, v);
        for (int j = 0; j < 2; j++)
            r->total[j] = lp_profread_add(r->total[j], v[j], sat);
        for (size_t k = 0; k < s->n_location_id; k++) {
            const struct lp_profread_loc *l = lp_profread_find_loc(r, s->location_id[k]);
            if (!l)
                return "a sample refers to a missing location";
            r->frames += l->nframes;
            if (r->frames > r->frames_limit)
                return profread_too_many_frames;
            for (size_t f = 0; f < l->nframes; f++) {
                struct lp_profread_name *t = &r->names[l->frames[f].name];
                if (k == 0 && f == 0)
                    for (int j = 0; j < 2; j++)
                        t->flat[j] = lp_profread_add(t->flat[j], v[j], sat);
                if (t->stamp != i + 1) {
                    t->stamp = i + 1;
                    for (int j = 0; j < 2; j++)
                        t->cum[j] = lp_profread_add(t->cum[j], v[j], sat);
                }
            }
        }
    }
    return NULL;
}

/* "256 MiB", or the number of bytes when it is not whole MiB. */
static void profread_fmt_size(char *buf, size_t size, size_t n)
{
    if (n && n % ((size_t)1 << 20) == 0)
        snprintf(buf, size, "%zu MiB", n >> 20);
    else
        snprintf(buf, size, "%zu bytes", n);
}

/* The one-line reason for -EFBIG or -ENOMEM: what exceeded r's limit, or where memory ran
 * out. */
static char *profread_mem_error(const struct lp_profread *r, const char *what)
{
    char lim[32];
    profread_fmt_size(lim, sizeof lim, r->mem.limit);
    if (r->mem.nomem)
        return lp_cli_xasprintf("out of memory after %zu MiB (the limit per profile is %s)",
                                r->mem.peak >> 20, lim);
    return lp_cli_xasprintf("exceeds lockprof top's limit of %s per profile (%s)", lim, what);
}

/* Reads a varint at d[*i], advancing *i. False if the data ends first or it is too long. */
static bool profread_varint(const uint8_t *d, size_t len, size_t *i, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 64 && *i < len; shift += 7) {
        uint8_t b = d[(*i)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* Counts the samples, locations, functions and strings a Profile message holds on the wire,
 * up to the first malformed field: what a profile too large to decode is made of. */
static void profread_wire_counts(const uint8_t *d, size_t len, size_t n[4])
{
    size_t i = 0;
    uint64_t key, v;
    memset(n, 0, 4 * sizeof *n);
    while (i < len && profread_varint(d, len, &i, &key)) {
        switch (key & 7) {
        case 0:
            if (!profread_varint(d, len, &i, &v))
                return;
            break;
        case 1:
            i += 8;
            break;
        case 2:
            if (!profread_varint(d, len, &i, &v) || v > len - i)
                return;
            i += v;
            break;
        case 5:
            i += 4;
            break;
        default:
            return;
        }
        if (i > len)
            return;
        switch (key >> 3) {
        case 2: n[0]++; break;
        case 4: n[1]++; break;
        case 5: n[2]++; break;
        case 6: n[3]++; break;
        }
    }
}

/*
 * Decodes and indexes the profile in data[0, len), allocated from r->mem (gz: it came
 * gzip-compressed, for the message about what is not profile.proto); frees it. 0, or -errno
 * with *err.
 */
static int profread_decode(struct lp_profread *r, uint8_t *data, size_t len, bool gz,
                           char **err)
{
    r->p = lockprof__pprof__profile__unpack(&r->pbc, len, data);
    if (!r->p && (r->mem.over || r->mem.nomem)) {
        size_t n[4];
        profread_wire_counts(data, len, n);
        profread_free(&r->mem, data);
        char *what = lp_cli_xasprintf("decoding it: %zu samples, %zu locations, %zu functions, "
                                      "%zu strings in %zu bytes", n[0], n[1], n[2], n[3], len);
        *err = profread_mem_error(r, what);
        free(what);
        return r->mem.nomem ? -ENOMEM : -EFBIG;
    }
    profread_free(&r->mem, data);
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
    if (r->vi[0] < 0 && r->vi[1] < 0) {
        /* A CPU profile (lockprof's, or Go's): samples and CPU time, read the same way. */
        r->vi[0] = profread_sample_index(p, "samples");
        r->vi[1] = profread_sample_index(p, "cpu");
        r->cpu = true;
    }
    if (r->vi[1] >= 0) {
        const char *unit = lp_profread_str(p, p->sample_type[r->vi[1]]->unit);
        r->delay_mul = profread_delay_multiplier(unit);
    }
    if (r->vi[0] < 0 || r->vi[1] < 0 || r->delay_mul == 0) {
        *err = profread_not_contention(p);
        return -EBADMSG;
    }

    bad = profread_index(r);
    /* What a report sorts, in the limit too. */
    if (!bad && (p->n_sample > SIZE_MAX / 2 / LP_PROFREAD_PER_SAMPLE ||
                 p->n_sample * LP_PROFREAD_PER_SAMPLE + r->nnames * LP_PROFREAD_PER_NAME >
                     profread_room(&r->mem))) {
        r->mem.over = true;
        bad = profread_no_room;
    }
    if (!bad) {
        profread_charge(&r->mem, p->n_sample * LP_PROFREAD_PER_SAMPLE +
                                     r->nnames * LP_PROFREAD_PER_NAME);
        bad = profread_add_samples(r);
    }
    if (bad == profread_no_room) {
        char *what = lp_cli_xasprintf("indexing it: %zu samples, %zu locations, %zu functions, "
                                      "%zu strings", p->n_sample, p->n_location,
                                      p->n_function, p->n_string_table);
        *err = profread_mem_error(r, what);
        free(what);
        return r->mem.nomem ? -ENOMEM : -EFBIG;
    }
    if (bad == profread_too_many_frames) {
        size_t listed = 0, longest = 0;
        for (size_t i = 0; i < p->n_sample; i++)
            listed += p->sample[i]->n_location_id;
        for (size_t i = 0; i < r->nlocs; i++)
            longest = r->locs[i].nframes > longest ? r->locs[i].nframes : longest;
        *err = lp_cli_xasprintf("exceeds lockprof top's limit of %zu frames per profile (its "
                                "samples list %zu locations, each a frame per line; the "
                                "longest has %zu lines)", r->frames_limit, listed, longest);
        return -EFBIG;
    }
    if (bad == profread_negative) {
        *err = lp_cli_xstrdup(bad);
        return -EBADMSG;
    }
    if (bad) {
        *err = lp_cli_xasprintf("corrupt pprof profile: %s", bad);
        return -EBADMSG;
    }
    return 0;
}

static void profread_init(struct lp_profread *r, size_t limit)
{
    memset(r, 0, sizeof *r);
    r->mem.limit = limit;
    r->frames_limit = limit / LP_PROFREAD_BYTES_PER_FRAME;
    r->pbc.alloc = profread_pbc_alloc;
    r->pbc.free = profread_pbc_free;
    r->pbc.allocator_data = r;
}

/* Reads raw[0, rawlen) (owned: from plain malloc, and freed here), decompressed if it is gzip
 * data. 0, or -errno with *err. */
static int profread_parse(struct lp_profread *r, uint8_t *raw, size_t rawlen, bool owned,
                          char **err)
{
    bool gz = rawlen >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = 0;
    if (rawlen == 0) {
        *err = lp_cli_xstrdup("empty file, not a pprof profile");
        rc = -EBADMSG;
    } else if (rawlen > r->mem.limit) {
        r->mem.over = true;
        *err = profread_mem_error(r, "the file is larger");
        rc = -EFBIG;
    } else if (gz) {
        rc = rawlen <= UINT_MAX ? profread_inflate(&r->mem, raw, rawlen, &data, &len) : -EFBIG;
        r->mem.nomem |= rc == -ENOMEM; /* zlib's own state, too */
        if (rc == -EBADMSG)
            *err = lp_cli_xstrdup("truncated or corrupt gzip data");
        else if (rc < 0)
            *err = profread_mem_error(r, "it decompresses to more");
    } else if ((data = profread_alloc(&r->mem, rawlen))) {
        memcpy(data, raw, rawlen);
        len = rawlen;
    } else {
        *err = profread_mem_error(r, "the file is larger");
        rc = r->mem.nomem ? -ENOMEM : -EFBIG;
    }
    if (owned)
        free(raw);
    return rc < 0 ? rc : profread_decode(r, data, len, gz, err);
}

int lp_profread_load(struct lp_profread *r, const uint8_t *buf, size_t len, size_t limit,
                     char **err)
{
    profread_init(r, limit);
    *err = NULL;
    return profread_parse(r, (uint8_t *)buf, len, false, err);
}

int lp_profread_open(struct lp_profread *r, const char *path, char **err)
{
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    profread_init(r, LP_PROFREAD_LIMIT);
    *err = NULL;
    int rc = profread_file(path, LP_PROFREAD_LIMIT, &raw, &rawlen);
    if (rc == -EFBIG) {
        r->mem.over = true;
        *err = profread_mem_error(r, "the file is larger");
        return rc;
    }
    if (rc == -ENOMEM) {
        char lim[32];
        profread_fmt_size(lim, sizeof lim, r->mem.limit);
        *err = lp_cli_xasprintf("out of memory reading it (the limit per profile is %s)", lim);
        return rc;
    }
    if (rc < 0) {
        *err = lp_cli_xstrdup(strerror(-rc));
        return rc;
    }
    return profread_parse(r, raw, rawlen, true, err);
}

void lp_profread_close(struct lp_profread *r)
{
    for (size_t i = 0; i < r->nlocs; i++)
        profread_free(&r->mem, r->locs[i].frames);
    if (r->locs)
        profread_free(&r->mem, r->locs);
    for (size_t i = 0; i < r->nnames; i++)
        profread_free(&r->mem, r->names[i].name);
    if (r->names)
        profread_free(&r->mem, r->names);
    if (r->hash)
        profread_free(&r->mem, r->hash);
    if (r->p)
        lockprof__pprof__profile__free_unpacked(r->p, &r->pbc);
    memset(r, 0, sizeof *r);
}

/* The leaves of lockprof's mutex profile that no block profile has (a profile whose comments
 * were taken out on the way, by a tool that keeps only the samples). */
static const char *const profread_lockprof_releases[] = {
    "pthread_mutex_unlock", "pthread_rwlock_unlock", "mtx_unlock",   "futex_wake",
    "futex_wake_op",        "futex_requeue",         "futex_unlock_pi",
};

/* Whether function name is a release's, as the first frame of a mutex profile's stacks is: Go's
 * sync.(*Mutex).Unlock, sync.(*RWMutex).RUnlock, runtime.unlock (the last part of the name,
 * after its last '.', begins with "unlock" or "runlock", in any case), or one of lockprof's. */
static bool profread_release_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *last = dot ? dot + 1 : name;
    if (strncasecmp(last, "unlock", 6) == 0 || strncasecmp(last, "runlock", 7) == 0)
        return true;
    for (size_t i = 0; i < sizeof profread_lockprof_releases / sizeof *profread_lockprof_releases;
         i++)
        if (strcmp(name, profread_lockprof_releases[i]) == 0)
            return true;
    return false;
}

/* Whether some stack of r begins at a release: a mutex profile, which Go's files do not say
 * they are (its block and mutex profiles have the same types and period, and no comments). */
static bool profread_begins_at_release(const struct lp_profread *r)
{
    for (size_t i = 0; i < r->p->n_sample; i++) {
        const Lockprof__Pprof__Sample *s = r->p->sample[i];
        const struct lp_profread_loc *l =
            s->n_location_id ? lp_profread_find_loc(r, s->location_id[0]) : NULL;
        if (l && l->nframes && profread_release_name(r->names[l->frames[0].name].name))
            return true;
    }
    return false;
}

enum lp_profread_kind lp_profread_kind(const struct lp_profread *r)
{
    if (r->cpu)
        return LP_PROFREAD_CPU;
    const char *first = r->p->n_comment ? lp_profread_str(r->p, r->p->comment[0]) : "";
    if (strstr(first, "block profile"))
        return LP_PROFREAD_BLOCK;
    if (strstr(first, "mutex profile") || profread_begins_at_release(r))
        return LP_PROFREAD_MUTEX;
    return LP_PROFREAD_BLOCK;
}
