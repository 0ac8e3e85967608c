/* pprof.c — see pprof.h.
 *
 * Everything lives in the caller's arena: the string, location and function tables (open
 * addressing, grown by doubling into fresh arena memory), the protobuf-c messages, zlib's
 * state and the output buffer. protobuf-c's pack_to_buffer streams the encoding into
 * pp_sink, which deflates it and writes whole chunks to fd; neither library calls malloc on
 * this path (zlib allocates through pp_zalloc only; pack_to_buffer allocates nothing), which
 * tests/unit/unit_pprof.c checks by counting malloc calls during a write.
 */
#include "pprof.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <zlib.h>

#include "demangle.h"
#include "elfsym.h"
#include "log.h"
#include "maps.h"
#include "profile.pb-c.h"
#include "sink.h"

#define PP_OUT_SIZE ((size_t)1 << 16)
/* The most a demangled name takes in the text form; a longer one is cut, ending with "…". */
#define PP_NAME_SIZE ((size_t)4096)
/* A profile of at most this many samples is measured before it is compressed (lp_pprof_write). */
#define PP_SMALL_SAMPLES 64

/* ---- growable tables in the arena ---- */

/* uint64 → nonzero uint64, open addressing; value 0 marks an empty slot. */
struct pp_map {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap; /* power of two, or 0 */
    size_t n;
};

static uint64_t pp_hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t pp_map_get(const struct pp_map *m, uint64_t key)
{
    if (!m->cap)
        return 0;
    for (size_t i = pp_hash64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->vals[i])
            return 0;
        if (m->keys[i] == key)
            return m->vals[i];
    }
}

static void pp_map_place(uint64_t *keys, uint64_t *vals, size_t cap, uint64_t key, uint64_t val)
{
    size_t i = pp_hash64(key) & (cap - 1);
    while (vals[i])
        i = (i + 1) & (cap - 1);
    keys[i] = key;
    vals[i] = val;
}

/* key must not be present yet. 0 or -ENOMEM. */
static int pp_map_put(struct lp_arena *a, struct pp_map *m, uint64_t key, uint64_t val)
{
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        uint64_t *keys = lp_arena_calloc(a, cap, sizeof(*keys));
        uint64_t *vals = lp_arena_calloc(a, cap, sizeof(*vals));
        if (!keys || !vals)
            return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->vals[i])
                pp_map_place(keys, vals, cap, m->keys[i], m->vals[i]);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    pp_map_place(m->keys, m->vals, m->cap, key, val);
    m->n++;
    return 0;
}

/* A growable array of pointers. */
struct pp_vec {
    void **v;
    size_t n, cap;
};

static int pp_vec_push(struct lp_arena *a, struct pp_vec *vec, void *p)
{
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? 2 * vec->cap : 64;
        void **v = lp_arena_calloc(a, cap, sizeof(*v));
        if (!v)
            return -ENOMEM;
        if (vec->n)
            memcpy(v, vec->v, vec->n * sizeof(*v));
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->n++] = p;
    return 0;
}

/* The string table: index 0 is "", every string once. The hash map's keys are FNV-1a
 * hashes; collisions are resolved by probing on to the next slot with the same hash. */
struct pp_strtab {
    struct pp_vec strs;
    uint64_t *hashes; /* per slot */
    uint64_t *idx1;   /* per slot: string index + 1, 0 if empty */
    size_t cap;
};

static uint64_t pp_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The index of s (NULL counts as ""), adding it if new; -ENOMEM. */
static int64_t pp_str(struct lp_arena *a, struct pp_strtab *t, const char *s)
{
    if (!s || !*s)
        return 0;
    uint64_t h = pp_hash_str(s);
    if (t->cap) {
        for (size_t i = h & (t->cap - 1); t->idx1[i]; i = (i + 1) & (t->cap - 1))
            if (t->hashes[i] == h && strcmp(t->strs.v[t->idx1[i] - 1], s) == 0)
                return (int64_t)(t->idx1[i] - 1);
    }
    if (2 * (t->strs.n + 1) > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        uint64_t *hashes = lp_arena_calloc(a, cap, sizeof(*hashes));
        uint64_t *idx1 = lp_arena_calloc(a, cap, sizeof(*idx1));
        if (!hashes || !idx1)
            return -ENOMEM;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->idx1[i])
                continue;
            size_t j = t->hashes[i] & (cap - 1);
            while (idx1[j])
                j = (j + 1) & (cap - 1);
            hashes[j] = t->hashes[i];
            idx1[j] = t->idx1[i];
        }
        t->hashes = hashes;
        t->idx1 = idx1;
        t->cap = cap;
    }
    size_t index = t->strs.n;
    if (pp_vec_push(a, &t->strs, (void *)s) != 0)
        return -ENOMEM;
    size_t i = h & (t->cap - 1);
    while (t->idx1[i])
        i = (i + 1) & (t->cap - 1);
    t->hashes[i] = h;
    t->idx1[i] = index + 1;
    return (int64_t)index;
}

/* ---- building the message ---- */

const struct lp_pp_kind lp_pp_contention = {
    .type = { "contentions", "delay" },
    .unit = { "count", "nanoseconds" },
    .period_type = "contentions",
    .period_unit = "count",
    .period = 1,
};

struct pp_build {
    struct lp_arena *a;
    struct lp_symbolizer *sym;
    struct pp_strtab strs;
    struct pp_vec functions;  /* Lockprof__Pprof__Function *, id = index + 1 */
    struct pp_vec locations;  /* Lockprof__Pprof__Location * */
    struct pp_vec mappings;   /* const struct lp_mapping *, referenced ones */
    struct pp_map func_by_name;   /* string index → function id */
    struct pp_map loc_by_addr;    /* address → location id (every frame) */
    struct pp_map loc_by_func;    /* function id → location id (synthetic frames) */
    struct pp_map mapping_seen;   /* lp_mapping id → 1 */
};

static const Lockprof__Pprof__Function pp_function_init = LOCKPROF__PPROF__FUNCTION__INIT;
static const Lockprof__Pprof__Location pp_location_init = LOCKPROF__PPROF__LOCATION__INIT;
static const Lockprof__Pprof__Line pp_line_init = LOCKPROF__PPROF__LINE__INIT;
static const Lockprof__Pprof__Mapping pp_mapping_init = LOCKPROF__PPROF__MAPPING__INIT;
static const Lockprof__Pprof__Sample pp_sample_init = LOCKPROF__PPROF__SAMPLE__INIT;
static const Lockprof__Pprof__ValueType pp_value_type_init = LOCKPROF__PPROF__VALUE_TYPE__INIT;
static const Lockprof__Pprof__Profile pp_profile_init = LOCKPROF__PPROF__PROFILE__INIT;

/* The id of the function called name, created if new; 0 on -ENOMEM. */
static uint64_t pp_function(struct pp_build *b, const char *name)
{
    int64_t si = pp_str(b->a, &b->strs, name);
    if (si < 0)
        return 0;
    uint64_t id = pp_map_get(&b->func_by_name, (uint64_t)si);
    if (id)
        return id;
    Lockprof__Pprof__Function *f = lp_arena_alloc(b->a, sizeof(*f));
    if (!f)
        return 0;
    *f = pp_function_init;
    id = b->functions.n + 1;
    f->id = id;
    f->name = si;
    f->system_name = si; /* symbols are the linker's names; pprof demangles C++ */
    if (pp_vec_push(b->a, &b->functions, f) != 0 ||
        pp_map_put(b->a, &b->func_by_name, (uint64_t)si, id) != 0)
        return 0;
    return id;
}

static Lockprof__Pprof__Location *pp_location_new(struct pp_build *b, uint64_t function_id)
{
    Lockprof__Pprof__Location *l = lp_arena_alloc(b->a, sizeof(*l));
    if (!l)
        return NULL;
    *l = pp_location_init;
    l->id = b->locations.n + 1;
    if (function_id) {
        Lockprof__Pprof__Line *line = lp_arena_alloc(b->a, sizeof(*line));
        Lockprof__Pprof__Line **lines = lp_arena_alloc(b->a, sizeof(*lines));
        if (!line || !lines)
            return NULL;
        *line = pp_line_init;
        line->function_id = function_id;
        lines[0] = line;
        l->n_line = 1;
        l->line = lines;
    }
    if (pp_vec_push(b->a, &b->locations, l) != 0)
        return NULL;
    return l;
}

/*
 * Synthetic frames (pprof.h) have no code address, but scrapers tell samples apart by their
 * locations' addresses alone (Grafana Alloy's fastdelta hashes a sample's address list and its
 * labels, and merges samples that hash alike), so each has one of its own: bits 4..55 of the
 * FNV-1a hash of its name, under the top byte 0xfe. On x86-64 an address is canonical only if
 * bits 63..47 (4-level paging) or 63..56 (5-level) are all equal: 0xfe… is neither, so no
 * mapping can ever hold it and no return address can be it; and it depends on the name alone,
 * so it is the same in every profile of every process. The low 4 bits stay 0: the text form
 * writes address + 1 (a return address), still inside the range.
 */
#define PP_SYNTHETIC_TOP 0xfe00000000000000ULL
#define PP_SYNTHETIC_BITS 0x00fffffffffffff0ULL

uint64_t lp_pprof_synthetic_address(const char *name)
{
    return PP_SYNTHETIC_TOP | (pp_hash_str(name ? name : "") & PP_SYNTHETIC_BITS);
}

bool lp_pprof_is_synthetic(uint64_t address)
{
    return (address & ~(PP_SYNTHETIC_BITS | 0xfULL)) == PP_SYNTHETIC_TOP;
}

/* A mapping-less location naming a synthetic frame, at its synthetic address; 0 on -ENOMEM.
 * Two names whose hashes agree in those 52 bits (about one chance in 10^13 for a hundred
 * names) would share an address: the second takes the next free one, so the addresses of one
 * profile are always distinct. */
static uint64_t pp_synthetic(struct pp_build *b, const char *name)
{
    uint64_t fid = pp_function(b, name);
    if (!fid)
        return 0;
    uint64_t id = pp_map_get(&b->loc_by_func, fid);
    if (id)
        return id;
    uint64_t addr = lp_pprof_synthetic_address(name);
    while (pp_map_get(&b->loc_by_addr, addr))
        addr = PP_SYNTHETIC_TOP | ((addr + 0x10) & PP_SYNTHETIC_BITS);
    Lockprof__Pprof__Location *l = pp_location_new(b, fid);
    if (!l || pp_map_put(b->a, &b->loc_by_func, fid, l->id) != 0 ||
        pp_map_put(b->a, &b->loc_by_addr, addr, l->id) != 0)
        return 0;
    l->address = addr;
    return l->id;
}

/* The location of return address pc: address pc - 1, in the mapping that holds it. */
static uint64_t pp_frame(struct pp_build *b, uintptr_t pc)
{
    uint64_t addr = (uint64_t)pc - 1;
    uint64_t id = pp_map_get(&b->loc_by_addr, addr);
    if (id)
        return id;
    const struct lp_mapping *m = lp_maps_find((uintptr_t)addr);
    uint64_t fid = 0;
    if (m) {
        const char *name = lp_sym_lookup(b->sym, m, (uintptr_t)addr);
        if (name && !(fid = pp_function(b, name)))
            return 0;
        if (!pp_map_get(&b->mapping_seen, m->id) &&
            (pp_map_put(b->a, &b->mapping_seen, m->id, 1) != 0 ||
             pp_vec_push(b->a, &b->mappings, (void *)m) != 0))
            return 0;
    }
    Lockprof__Pprof__Location *l = pp_location_new(b, fid);
    if (!l || pp_map_put(b->a, &b->loc_by_addr, addr, l->id) != 0)
        return 0;
    l->mapping_id = m ? m->id : 0;
    l->address = addr;
    return l->id;
}

/* Insertion sort by id: few mappings, and nearly in order already. */
static void pp_sort_mappings(struct pp_vec *v)
{
    for (size_t i = 1; i < v->n; i++) {
        void *x = v->v[i];
        uint64_t id = ((const struct lp_mapping *)x)->id;
        size_t j = i;
        for (; j > 0 && ((const struct lp_mapping *)v->v[j - 1])->id > id; j--)
            v->v[j] = v->v[j - 1];
        v->v[j] = x;
    }
}

static Lockprof__Pprof__ValueType *pp_value_type(struct pp_build *b, const char *type,
                                                 const char *unit)
{
    Lockprof__Pprof__ValueType *vt = lp_arena_alloc(b->a, sizeof(*vt));
    if (!vt)
        return NULL;
    *vt = pp_value_type_init;
    vt->type = pp_str(b->a, &b->strs, type);
    vt->unit = pp_str(b->a, &b->strs, unit);
    return vt->type < 0 || vt->unit < 0 ? NULL : vt;
}

static int pp_build_profile(struct pp_build *b, const struct lp_pp_profile *p,
                            Lockprof__Pprof__Profile *out)
{
    struct lp_arena *a = b->a;
    *out = pp_profile_init;
    if (pp_vec_push(a, &b->strs.strs, (void *)"") != 0) /* index 0, never hashed */
        return -ENOMEM;

    const struct lp_pp_kind *kind = p->kind ? p->kind : &lp_pp_contention;
    Lockprof__Pprof__ValueType **st = lp_arena_calloc(a, 2, sizeof(*st));
    if (!st || !(st[0] = pp_value_type(b, kind->type[0], kind->unit[0])) ||
        !(st[1] = pp_value_type(b, kind->type[1], kind->unit[1])) ||
        !(out->period_type = pp_value_type(b, kind->period_type, kind->period_unit)))
        return -ENOMEM;
    out->n_sample_type = 2;
    out->sample_type = st;
    out->period = kind->period;
    out->time_nanos = p->time_nanos;
    out->duration_nanos = p->duration_nanos;

    if (p->ncomments) {
        out->comment = lp_arena_calloc(a, p->ncomments, sizeof(*out->comment));
        if (!out->comment)
            return -ENOMEM;
        for (size_t i = 0; i < p->ncomments; i++)
            if ((out->comment[i] = pp_str(a, &b->strs, p->comments[i])) < 0)
                return -ENOMEM;
        out->n_comment = p->ncomments;
    }

    if (p->nsamples) {
        Lockprof__Pprof__Sample **ss = lp_arena_calloc(a, p->nsamples, sizeof(*ss));
        Lockprof__Pprof__Sample *sv = lp_arena_calloc(a, p->nsamples, sizeof(*sv));
        if (!ss || !sv)
            return -ENOMEM;
        for (size_t i = 0; i < p->nsamples; i++) {
            const struct lp_pp_sample *in = &p->samples[i];
            Lockprof__Pprof__Sample *s = &sv[i];
            *s = pp_sample_init;
            size_t n = (in->leaf ? 1 : 0) + (size_t)in->depth + (in->tail ? 1 : 0);
            s->location_id = lp_arena_calloc(a, n ? n : 1, sizeof(*s->location_id));
            s->value = lp_arena_calloc(a, 2, sizeof(*s->value));
            if (!s->location_id || !s->value)
                return -ENOMEM;
            size_t k = 0;
            if (in->leaf && !(s->location_id[k++] = pp_synthetic(b, in->leaf)))
                return -ENOMEM;
            for (unsigned d = 0; d < in->depth; d++)
                if (!(s->location_id[k++] = pp_frame(b, in->pcs[d])))
                    return -ENOMEM;
            if (in->tail && !(s->location_id[k++] = pp_synthetic(b, in->tail)))
                return -ENOMEM;
            s->n_location_id = k;
            s->value[0] = in->count;
            s->value[1] = in->delay;
            s->n_value = 2;
            ss[i] = s;
        }
        out->sample = ss;
        out->n_sample = p->nsamples;
    }

    pp_sort_mappings(&b->mappings);
    if (b->mappings.n) {
        Lockprof__Pprof__Mapping **ms = lp_arena_calloc(a, b->mappings.n, sizeof(*ms));
        if (!ms)
            return -ENOMEM;
        for (size_t i = 0; i < b->mappings.n; i++) {
            const struct lp_mapping *m = b->mappings.v[i];
            Lockprof__Pprof__Mapping *pm = lp_arena_alloc(a, sizeof(*pm));
            if (!pm)
                return -ENOMEM;
            *pm = pp_mapping_init;
            pm->id = m->id;
            pm->memory_start = m->start;
            pm->memory_limit = m->limit;
            pm->file_offset = m->offset;
            pm->filename = pp_str(a, &b->strs, m->path);
            pm->build_id = pp_str(a, &b->strs, m->build_id);
            if (pm->filename < 0 || pm->build_id < 0)
                return -ENOMEM;
            ms[i] = pm;
        }
        out->mapping = ms;
        out->n_mapping = b->mappings.n;
    }
    out->location = (Lockprof__Pprof__Location **)b->locations.v;
    out->n_location = b->locations.n;
    out->function = (Lockprof__Pprof__Function **)b->functions.v;
    out->n_function = b->functions.n;
    out->string_table = (char **)b->strs.strs.v;
    out->n_string_table = b->strs.strs.n;
    return a->failed ? -ENOMEM : 0;
}

/* ---- gzip sink ---- */

struct pp_sink {
    ProtobufCBuffer base; /* first: protobuf-c hands us a pointer to it */
    z_stream z;
    int err;              /* the first error; later appends do nothing */
    struct lp_sink *to;   /* where whole chunks of compressed output go */
    unsigned char *out;   /* PP_OUT_SIZE bytes */
};

static voidpf pp_zalloc(voidpf opaque, uInt items, uInt size)
{
    return lp_arena_calloc(opaque, items, size);
}

static void pp_zfree(voidpf opaque, voidpf address)
{
    (void)opaque; /* the arena is reset by its owner */
    (void)address;
}

static void pp_sink_flush(struct pp_sink *k)
{
    size_t n = PP_OUT_SIZE - k->z.avail_out;
    if (n && !k->err) {
        lp_sink_put(k->to, k->out, n);
        k->err = k->to->err;
    }
    k->z.next_out = k->out;
    k->z.avail_out = (uInt)PP_OUT_SIZE;
}

/* Runs deflate over whatever input is pending; flush is Z_NO_FLUSH or Z_FINISH. */
static void pp_sink_deflate(struct pp_sink *k, int flush)
{
    for (;;) {
        int rc = deflate(&k->z, flush);
        if (rc == Z_STREAM_ERROR) {
            k->err = -EIO;
            return;
        }
        if (k->z.avail_out == 0) {
            pp_sink_flush(k);
            if (k->err)
                return;
            continue;
        }
        if (flush == Z_FINISH ? rc == Z_STREAM_END : k->z.avail_in == 0)
            return;
        if (rc == Z_BUF_ERROR) { /* no progress possible with room left: cannot happen */
            k->err = -EIO;
            return;
        }
    }
}

static void pp_sink_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
    struct pp_sink *k = (struct pp_sink *)buffer;
    while (len && !k->err) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        k->z.next_in = (Bytef *)data;
        k->z.avail_in = n;
        pp_sink_deflate(k, Z_NO_FLUSH);
        data += n;
        len -= n;
    }
}

int lp_pprof_write(int fd, struct lp_arena *a, const struct lp_pp_profile *p)
{
    struct pp_build b;
    memset(&b, 0, sizeof(b));
    b.a = a;
    b.sym = lp_sym_new(a);
    if (!b.sym)
        return -ENOMEM;
    Lockprof__Pprof__Profile msg;
    int err = pp_build_profile(&b, p, &msg);
    if (err)
        goto out_close_sym;

    struct pp_sink k;
    memset(&k, 0, sizeof(k));
    k.base.append = pp_sink_append;
    /* Bufferless: every chunk deflate fills is written whole. */
    char none;
    struct lp_sink to;
    lp_sink_init(&to, fd, &none, 1);
    k.to = &to;
    k.out = lp_arena_alloc(a, PP_OUT_SIZE);
    k.z.zalloc = pp_zalloc;
    k.z.zfree = pp_zfree;
    k.z.opaque = a;
    if (!k.out) {
        err = -ENOMEM;
        goto out_close_sym;
    }
    /* deflate's state sized to the message: its default (a 32 KiB window, 256 KiB of state
     * in all) is for large profiles; a small one (the empty profiles the run's first process
     * writes at exit when it recorded nothing) gets a window of its own size, and the pages of
     * state it does not need are not touched (each is a page fault, and one more page the
     * arena zeroes again). The format is the same. */
    int bits = 15;
    if (p->nsamples <= PP_SMALL_SAMPLES) {
        size_t size = lockprof__pprof__profile__get_packed_size(&msg);
        bits = 9;
        while (bits < 15 && ((size_t)1 << bits) < size)
            bits++;
    }
    /* windowBits 16 + bits: a gzip wrapper, as pprof readers expect; memLevel 8 with the
     * default window, less with a smaller one. */
    int rc = deflateInit2(&k.z, 6, Z_DEFLATED, 16 + bits, bits - 7, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        err = rc == Z_MEM_ERROR ? -ENOMEM : -EIO;
        goto out_close_sym;
    }
    k.z.next_out = k.out;
    k.z.avail_out = (uInt)PP_OUT_SIZE;
    lockprof__pprof__profile__pack_to_buffer(&msg, &k.base);
    if (!k.err)
        pp_sink_deflate(&k, Z_FINISH);
    if (!k.err)
        pp_sink_flush(&k);
    deflateEnd(&k.z);
    err = k.err;
out_close_sym:
    lp_sym_close(b.sym); /* after packing: symbol names point into the mapped files */
    return err;
}

/* ---- Go's legacy text form ---- */

/* name (from the symbolizer: one pointer per symbol) as people read it, demangled once per
 * write: a profile's stacks name the same functions over and over, and a C++ name takes
 * microseconds to demangle (demangling every frame made the text of 4,096 stacks of templates
 * six times slower to write). */
static const char *pp_readable(struct lp_arena *a, struct pp_map *done, struct lp_demangler *dm,
                               const char *name, char *buf)
{
    const char *r = (const char *)(uintptr_t)pp_map_get(done, (uintptr_t)name);
    if (r)
        return r;
    r = lp_demangle(dm, name, buf, PP_NAME_SIZE);
    /* Not kept when the arena is full: this write then fails (-ENOMEM). */
    const char *kept = r == name ? name : lp_arena_strdup(a, r);
    if (kept)
        pp_map_put(a, done, (uintptr_t)name, (uintptr_t)kept);
    return r;
}

int lp_pprof_write_text(int fd, struct lp_arena *a, const struct lp_pp_profile *p,
                        const char *header)
{
    char *buf = lp_arena_alloc(a, PP_OUT_SIZE);
    char *readable = lp_arena_alloc(a, PP_NAME_SIZE);
    struct lp_symbolizer *sym = lp_sym_new(a);
    struct pp_map seen = { 0 }, demangled = { 0 };
    struct pp_vec maps = { 0 };
    if (!buf || !readable || !sym)
        return -ENOMEM;
    /* Names as people read them (demangle.h); a demangler that cannot be mapped leaves them
     * as they are. */
    struct lp_demangler dm;
    lp_demangle_open(&dm);
    struct lp_sink t;
    lp_sink_init(&t, fd, buf, PP_OUT_SIZE);

    /* As Go's runtime/pprof writes it (debug=1): our clock counts nanoseconds, and mutex
     * values are pre-scaled at record time (DESIGN §3.2), hence the period of 1. */
    lp_sink_printf(&t, "%s\n", header);
    lp_sink_printf(&t, "cycles/second=1000000000\n");
    if (strncmp(header, "--- mutex", 9) == 0)
        lp_sink_printf(&t, "sampling period=1\n");
    for (size_t i = 0; i < p->nsamples; i++) {
        const struct lp_pp_sample *s = &p->samples[i];
        /* The synthetic leaf and tail are at their synthetic addresses, written as return
         * addresses (+ 1) like the others: pprof takes 1 from every address of this form, so
         * its locations are those of the pprof form, and /debug/pprof/symbol names them. */
        uint64_t leaf = lp_pprof_synthetic_address(s->leaf) + 1;
        uint64_t tail = s->tail ? lp_pprof_synthetic_address(s->tail) + 1 : 0;
        lp_sink_printf(&t, "%lld %lld @ 0x%llx", (long long)s->delay, (long long)s->count,
                       (unsigned long long)leaf);
        for (unsigned d = 0; d < s->depth; d++)
            lp_sink_printf(&t, " 0x%lx", (unsigned long)s->pcs[d]);
        if (tail)
            lp_sink_printf(&t, " 0x%llx", (unsigned long long)tail);
        lp_sink_printf(&t, "\n");
        lp_sink_printf(&t, "#\t0x%llx\t%s+0x1\t\n", (unsigned long long)leaf,
                       s->leaf ? s->leaf : "");
        for (unsigned d = 0; d < s->depth; d++) {
            uintptr_t pc = s->pcs[d];
            const struct lp_mapping *m = lp_maps_find(pc - 1);
            uintptr_t off = 0;
            const char *name = m ? lp_sym_lookup_offset(sym, m, pc - 1, &off) : NULL;
            if (name)
                lp_sink_printf(&t, "#\t0x%lx\t%s+0x%lx\t\n", (unsigned long)pc,
                               pp_readable(a, &demangled, &dm, name, readable),
                               (unsigned long)(off + 1));
            else
                lp_sink_printf(&t, "#\t0x%lx\n", (unsigned long)pc);
            if (m && !pp_map_get(&seen, m->id) &&
                (pp_map_put(a, &seen, m->id, 1) != 0 || pp_vec_push(a, &maps, (void *)m) != 0))
                lp_sink_fail(&t, -ENOMEM);
        }
        if (tail)
            lp_sink_printf(&t, "#\t0x%llx\t%s+0x1\t\n", (unsigned long long)tail, s->tail);
    }
    /* Unlike Go's static binaries, ours are PIE and shared libraries: without the map,
     * pprof attributes every address to the main binary (DESIGN §3.5). */
    pp_sort_mappings(&maps);
    lp_sink_printf(&t, "--- Memory map: ---\n");
    for (size_t i = 0; i < maps.n; i++) {
        const struct lp_mapping *m = maps.v[i];
        lp_sink_printf(&t, "%08lx-%08lx r-xp %08llx 00:00 0 %s\n", (unsigned long)m->start,
                    (unsigned long)m->limit, (unsigned long long)m->offset, m->path);
    }
    int err = lp_sink_flush(&t);
    lp_demangle_close(&dm);
    lp_sym_close(sym);
    return err ? err : a->failed ? -ENOMEM : 0;
}
