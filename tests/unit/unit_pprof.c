/*
 * unit_pprof — the mapping registry (maps.c), the ELF symbolizer (elfsym.c) and the pprof
 * encoder (pprof.c), checked against what the process and the files on disk say:
 * /proc/self/maps, the ELF build-id notes, libc's separate debug file (libc6-dbg), and
 * `go tool pprof` (golang-go), which must read every file we write.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "arena.h"
#include "elfsym.h"
#include "maps.h"
#include "pprof.h"
#include "profile.pb-c.h"
#include "tap.h"

/* ---- malloc accounting: the writer must not call malloc (DESIGN §6) ---- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNIT_COUNT_MALLOC 0 /* the sanitizer owns malloc */
#else
#define UNIT_COUNT_MALLOC 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
#endif
static int unit_counting;        /* atomic */
static unsigned long unit_mallocs; /* atomic */

#if UNIT_COUNT_MALLOC
void *malloc(size_t n)
{
    if (__atomic_load_n(&unit_counting, __ATOMIC_RELAXED))
        __atomic_add_fetch(&unit_mallocs, 1, __ATOMIC_RELAXED);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (__atomic_load_n(&unit_counting, __ATOMIC_RELAXED))
        __atomic_add_fetch(&unit_mallocs, 1, __ATOMIC_RELAXED);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (__atomic_load_n(&unit_counting, __ATOMIC_RELAXED))
        __atomic_add_fetch(&unit_mallocs, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, n);
}
#endif

/* ---- frames with known names ---- */

static __attribute__((noinline)) uintptr_t unit_return_address(void)
{
    uintptr_t ra = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
    return ra;
}

/* Returns an address inside itself: the return address of its call. */
static __attribute__((noinline)) uintptr_t unit_outer(void)
{
    uintptr_t ra = unit_return_address();
    __asm__ volatile("" ::: "memory");
    return ra;
}

static __attribute__((noinline)) int unit_leafy(int x)
{
    __asm__ volatile("" ::: "memory");
    return x * 3 + 1;
}

static uintptr_t unit_thread_ra;

static __attribute__((noinline)) void *unit_thread(void *arg)
{
    unit_thread_ra = (uintptr_t)__builtin_return_address(0); /* inside start_thread */
    __asm__ volatile("" ::: "memory");
    return arg;
}

/* libc's own definition (a sanitizer runtime interposes printf and friends). */
static uintptr_t unit_libc_sym(const char *name)
{
    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    void *p = h ? dlsym(h, name) : NULL;
    if (h)
        dlclose(h);
    return (uintptr_t)p;
}

/* ---- independent readers of the truth ---- */

struct unit_maps_line {
    uintptr_t start, limit;
    uint64_t offset;
    char perms[8];
    char path[PATH_MAX];
};

/* The /proc/self/maps line that starts at start, or false. */
static bool unit_proc_maps(uintptr_t start, struct unit_maps_line *out)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[PATH_MAX + 256];
    bool found = false;
    while (f && !found && fgets(line, sizeof(line), f)) {
        struct unit_maps_line m;
        unsigned long lo, hi, off;
        m.path[0] = '\0';
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095[^\n]", &lo, &hi, m.perms, &off, m.path) < 4)
            continue;
        if (lo != start)
            continue;
        m.start = lo;
        m.limit = hi;
        m.offset = off;
        char *p = m.path;
        while (*p == ' ')
            p++;
        memmove(m.path, p, strlen(p) + 1);
        *out = m;
        found = true;
    }
    if (f)
        fclose(f);
    return found;
}

/* The GNU build-id of a file, read from its program headers with stdio; "" if none. */
static void unit_file_build_id(const char *path, char out[65])
{
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    Elf64_Ehdr eh;
    if (fread(&eh, sizeof(eh), 1, f) != 1)
        goto out;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (fseek(f, (long)(eh.e_phoff + i * sizeof(ph)), SEEK_SET) != 0 ||
            fread(&ph, sizeof(ph), 1, f) != 1)
            goto out;
        if (ph.p_type != PT_NOTE || ph.p_filesz > 65536)
            continue;
        unsigned char buf[65536];
        if (fseek(f, (long)ph.p_offset, SEEK_SET) != 0 || fread(buf, ph.p_filesz, 1, f) != 1)
            continue;
        size_t align = ph.p_align == 8 ? 8 : 4;
        for (size_t off = 0; off + 12 <= ph.p_filesz;) {
            uint32_t nsz, dsz, type;
            memcpy(&nsz, buf + off, 4);
            memcpy(&dsz, buf + off + 4, 4);
            memcpy(&type, buf + off + 8, 4);
            size_t name_at = off + 12, desc_at = name_at + ((nsz + align - 1) & ~(align - 1));
            if (type == NT_GNU_BUILD_ID && nsz == 4 && memcmp(buf + name_at, "GNU", 4) == 0) {
                for (uint32_t k = 0; k < dsz && k < 32; k++)
                    sprintf(out + 2 * k, "%02x", buf[desc_at + k]);
                goto out;
            }
            off = desc_at + ((dsz + align - 1) & ~(align - 1));
        }
    }
out:
    fclose(f);
}

static bool unit_same_file(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

static const char *unit_basename(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* ---- reading a profile back ---- */

static unsigned char *unit_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    unsigned char *buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap)
            buf = realloc(buf, cap *= 2);
    fclose(f);
    *len = n;
    return buf;
}

static Lockprof__Pprof__Profile *unit_read_profile(const char *path)
{
    size_t gz_len;
    unsigned char *gz = unit_slurp(path, &gz_len);
    if (!gz)
        return NULL;
    size_t cap = 1 << 22;
    unsigned char *raw = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof(z));
    inflateInit2(&z, 16 + 15);
    z.next_in = gz;
    z.avail_in = (uInt)gz_len;
    z.next_out = raw;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_FINISH);
    size_t len = cap - z.avail_out;
    inflateEnd(&z);
    free(gz);
    Lockprof__Pprof__Profile *p = NULL;
    if (rc == Z_STREAM_END)
        p = lockprof__pprof__profile__unpack(NULL, len, raw);
    else
        diag("inflate: %d", rc);
    free(raw);
    return p;
}

static const char *pstr(const Lockprof__Pprof__Profile *p, int64_t i)
{
    return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "(bad index)";
}

static const Lockprof__Pprof__Location *ploc(const Lockprof__Pprof__Profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_location; i++)
        if (p->location[i]->id == id)
            return p->location[i];
    return NULL;
}

static const Lockprof__Pprof__Function *pfunc(const Lockprof__Pprof__Profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_function; i++)
        if (p->function[i]->id == id)
            return p->function[i];
    return NULL;
}

static const Lockprof__Pprof__Mapping *pmap(const Lockprof__Pprof__Profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_mapping; i++)
        if (p->mapping[i]->id == id)
            return p->mapping[i];
    return NULL;
}

/* The name of the function of a location's first Line, or NULL. */
static const char *loc_name(const Lockprof__Pprof__Profile *p, const Lockprof__Pprof__Location *l)
{
    if (!l || l->n_line == 0)
        return NULL;
    const Lockprof__Pprof__Function *f = pfunc(p, l->line[0]->function_id);
    return f ? pstr(p, f->name) : NULL;
}

/* Runs a shell command and returns its stdout (malloc'd) and exit status. */
static char *unit_run(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    if (!f) {
        *status = -1;
        return strdup("");
    }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0)
        if ((n += got) == cap - 1)
            buf = realloc(buf, cap *= 2);
    buf[n] = '\0';
    *status = pclose(f);
    return buf;
}

/* Sums the values of `go tool pprof -raw`'s "Samples:" section: lines "  c  d: ids...". */
static void unit_raw_totals(const char *raw, long long *count, long long *delay, int *nsamples)
{
    *count = *delay = 0;
    *nsamples = 0;
    const char *s = strstr(raw, "\nSamples:\n");
    if (!s)
        return;
    s = strchr(s + 1, '\n') + 1;
    s = strchr(s, '\n'); /* skip the header line "contentions/count delay/nanoseconds" */
    while (s && *++s) {
        long long c, d;
        if (sscanf(s, " %lld %lld:", &c, &d) == 2) {
            *count += c;
            *delay += d;
            ++*nsamples;
        } else if (*s != ' ')
            break; /* the next section */
        s = strchr(s, '\n');
    }
}

static char unit_tmpdir[PATH_MAX];

static char *unit_tmpfile(const char *name)
{
    static char path[8][PATH_MAX + 64];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof(path[0]), "%s/%.60s", unit_tmpdir, name);
    return p;
}

/* ---- the tests ---- */

static uintptr_t unit_main_ra;

static void test_maps(void)
{
    unsigned n = lp_maps_refresh();
    cmp_ok_u64(n, ">=", 3, "lp_maps_refresh registers the program, libc and the loader");
    is_u64(lp_maps_refresh(), n, "a second refresh with nothing loaded changes nothing");
    lp_maps_invalidate();
    is_u64(lp_maps_refresh(), n, "a forced rescan finds the same entries, no duplicates");

    uintptr_t here = unit_outer();
    const struct lp_mapping *me = lp_maps_find(here);
    ok(me != NULL, "lp_maps_find finds the test program's code");
    if (me)
        ok(unit_same_file(me->path, "/proc/self/exe"), "... its path is the program (%s)",
           me->path);
    const struct lp_mapping *libc = lp_maps_find((uintptr_t)unit_libc_sym("printf"));
    ok(libc && strcmp(unit_basename(libc->path), "libc.so.6") == 0, "printf is in libc.so.6 (%s)",
       libc ? libc->path : "none");
    ok(lp_maps_find(0) == NULL && lp_maps_find(16) == NULL, "lp_maps_find(0) and (16) are NULL");
    int on_stack;
    ok(lp_maps_find((uintptr_t)&on_stack) == NULL, "lp_maps_find(stack) is NULL");

    unsigned all_n;
    const struct lp_mapping *all = lp_maps_all(&all_n);
    is_u64(all_n, n, "lp_maps_all gives every entry");
    int checked = 0, bad = 0;
    for (unsigned i = 0; i < all_n; i++) {
        const struct lp_mapping *e = &all[i];
        struct unit_maps_line m;
        if (e->id != i + 1) {
            diag("entry %u has id %llu", i, (unsigned long long)e->id);
            bad++;
        }
        if (e->unloaded)
            continue;
        if (!unit_proc_maps(e->start, &m)) {
            diag("no /proc/self/maps line starts at %#lx (%s)", (unsigned long)e->start, e->path);
            bad++;
            continue;
        }
        bool same_file = e->path[0] == '[' ? strcmp(e->path, m.path) == 0
                                           : unit_same_file(e->path, m.path);
        char id[65] = "";
        if (e->path[0] == '/')
            unit_file_build_id(e->path, id);
        if (m.limit != e->limit || m.offset != e->offset || strcmp(m.perms, "r-xp") != 0 ||
            !same_file || (e->path[0] == '/' && strcmp(id, e->build_id) != 0)) {
            diag("entry %s %#lx-%#lx off %#llx id %s; maps says %s %#lx-%#lx %s off %#llx; "
                 "file's build-id %s",
                 e->path, (unsigned long)e->start, (unsigned long)e->limit,
                 (unsigned long long)e->offset, e->build_id, m.path, (unsigned long)m.start,
                 (unsigned long)m.limit, m.perms, (unsigned long long)m.offset, id);
            bad++;
        }
        checked++;
    }
    ok(checked >= 3 && bad == 0,
       "%d entries match /proc/self/maps (start, limit, offset, r-xp, file) and their "
       "files' build-id notes",
       checked);
    ok(me && strlen(me->build_id) == 40, "the program's build-id is a 40-digit hex string (%s)",
       me ? me->build_id : "");
}

/* dlopen a library the test does not link, note an address in it, dlclose it. */
static const char *unit_gone_path;
static uintptr_t unit_gone_fn;
static char unit_gone_name[64];
static char unit_gone_lib[PATH_MAX];

static void test_unloaded(void)
{
    static const char *const libs[][2] = {
        { "libbz2.so.1.0", "BZ2_bzlibVersion" },
        { "liblzma.so.5", "lzma_version_string" },
        { "libzstd.so.1", "ZSTD_versionNumber" },
        { "libcrypt.so.1", "crypt" },
    };
    void *h = NULL;
    size_t i;
    for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
        if (dlopen(libs[i][0], RTLD_NOW | RTLD_NOLOAD))
            continue; /* already loaded: dlclose would not unload it */
        if ((h = dlopen(libs[i][0], RTLD_NOW | RTLD_LOCAL)))
            break;
    }
    if (!ok(h != NULL, "dlopen a system library the test does not link")) {
        for (int k = 0; k < 6; k++)
            ok(0, "(no library to unload)");
        return;
    }
    unit_gone_fn = (uintptr_t)dlsym(h, libs[i][1]);
    snprintf(unit_gone_name, sizeof(unit_gone_name), "%s", libs[i][1]);
    unsigned before = lp_maps_refresh();
    const struct lp_mapping *e = lp_maps_find(unit_gone_fn);
    ok(e && !e->unloaded && strstr(e->path, libs[i][0]),
       "after dlopen(%s) a refresh registers it", libs[i][0]);
    uint64_t id = e ? e->id : 0;
    if (e)
        snprintf(unit_gone_lib, sizeof(unit_gone_lib), "%s", e->path);
    ok(dlclose(h) == 0 && !dlopen(libs[i][0], RTLD_NOW | RTLD_NOLOAD), "dlclose unloads it");
    unsigned after = lp_maps_refresh();
    is_u64(after, before, "the refresh after dlclose removes no entry");
    e = lp_maps_find(unit_gone_fn);
    ok(e && e->id == id, "lp_maps_find still finds the unloaded entry (id %llu)",
       (unsigned long long)id);
    ok(e && e->unloaded, "... marked unloaded");
    unsigned n;
    const struct lp_mapping *all = lp_maps_all(&n);
    int loaded_flagged = 0;
    for (unsigned k = 0; k < n; k++)
        if (all[k].unloaded && all[k].id != id)
            loaded_flagged++;
    is_u64(loaded_flagged, 0, "no other entry is marked unloaded");
    unit_gone_path = unit_gone_lib;
}

static void test_symbols(void)
{
    struct lp_arena a;
    lp_arena_init(&a, 0);
    struct lp_symbolizer *s = lp_sym_new(&a);
    ok(s != NULL, "lp_sym_new");

    uintptr_t ra = unit_outer();
    const struct lp_mapping *me = lp_maps_find(ra - 1);
    is_str(lp_sym_lookup(s, me, ra - 1), "unit_outer",
           "a static function of the program by a return address - 1");
    is_str(lp_sym_lookup(s, me, (uintptr_t)&unit_leafy), "unit_leafy",
           "a static function by its first byte");

    uintptr_t pf = (uintptr_t)unit_libc_sym("printf");
    const struct lp_mapping *libc = lp_maps_find(pf);
    is_str(lp_sym_lookup(s, libc, pf), "printf", "printf, not its aliases _IO_printf or __printf");
    is_str(lp_sym_lookup(s, libc, pf + 5), "printf", "an address inside printf");
    uintptr_t ml = (uintptr_t)unit_libc_sym("pthread_mutex_lock");
    is_str(lp_sym_lookup(s, lp_maps_find(ml), ml), "pthread_mutex_lock",
           "pthread_mutex_lock, not __pthread_mutex_lock");

    /* Local symbols only the separate debug file knows (libc6-dbg): main's caller, a thread's. */
    const struct lp_mapping *m = lp_maps_find(unit_main_ra - 1);
    uintptr_t off = 0;
    const char *name = lp_sym_lookup_offset(s, m, unit_main_ra - 1, &off);
    is_str(name, "__libc_start_call_main", "main's caller, from libc's debug file by build-id");
    if (name) {
        uintptr_t start = unit_main_ra - 1 - off;
        is_str(lp_sym_lookup(s, m, start), name, "its first byte (offset %#lx) has the same name",
               (unsigned long)off);
        const char *prev = lp_sym_lookup(s, m, start - 1);
        ok(!prev || strcmp(prev, name) != 0, "the byte before it belongs to another function (%s)",
           prev ? prev : "none");
    } else {
        ok(0, "its first byte has the same name");
        ok(0, "the byte before it belongs to another function");
    }
    uintptr_t dummy = unit_libc_sym("__libc_start_call_main");
    ok(dummy == 0, "__libc_start_call_main is not in libc's .dynsym");

    pthread_t t;
    pthread_create(&t, NULL, unit_thread, NULL);
    pthread_join(t, NULL);
#ifdef __SANITIZE_THREAD__
    const char *starter = "__tsan_thread_start_func"; /* TSan wraps the thread function */
#else
    const char *starter = "start_thread";
#endif
    is_str(lp_sym_lookup(s, lp_maps_find(unit_thread_ra - 1), unit_thread_ra - 1), starter,
           "a thread function's caller is %s", starter);

    if (unit_gone_path) {
        const struct lp_mapping *g = lp_maps_find(unit_gone_fn);
        is_str(lp_sym_lookup(s, g, unit_gone_fn), unit_gone_name,
               "a function of the dlclosed library keeps its name");
    } else {
        ok(0, "a function of the dlclosed library keeps its name");
    }

    ok(lp_sym_lookup(s, NULL, ra) == NULL, "no mapping: NULL");
    struct lp_mapping fake = *me;
    snprintf(fake.path, sizeof(fake.path), "[vdso]");
    ok(lp_sym_lookup(s, &fake, ra) == NULL, "a pseudo-path is never opened: NULL");
    snprintf(fake.path, sizeof(fake.path), "/nonexistent/file");
    ok(lp_sym_lookup(s, &fake, ra) == NULL, "a missing file: NULL");
    lp_sym_close(s);
    lp_arena_destroy(&a);
}

/* Debug files found through .gnu_debuglink, beside the object or in its .debug/ directory,
 * matched by build-id when both have one, else by the link's CRC. */
static void test_debuglink(void)
{
    const struct lp_mapping *me = lp_maps_find((uintptr_t)&unit_leafy);
    char cmd[8 * PATH_MAX];
    int st;
    snprintf(cmd, sizeof(cmd),
             "set -e; cd '%s'; mkdir -p .debug; cp '%s' copy; "
             "objcopy --only-keep-debug copy .debug/noid.dbg; "
             "objcopy --strip-all --remove-section=.note.gnu.build-id "
             "--add-gnu-debuglink=.debug/noid.dbg copy noid; "
             "objcopy --only-keep-debug copy withid.dbg; "
             "objcopy --strip-all --add-gnu-debuglink=withid.dbg copy withid 2>&1",
             unit_tmpdir, me->path); /* not /proc/self/exe: that would be cp's */
    char *out = unit_run(cmd, &st);
    if (!ok(st == 0, "objcopy makes stripped copies with debug links")) {
        diag("%s", out);
        free(out);
        for (int k = 0; k < 4; k++)
            ok(0, "(no stripped copies)");
        return;
    }
    free(out);
    struct lp_mapping fake = *me;
    struct lp_arena a;
    lp_arena_init(&a, 0);

    /* No build-id anywhere: the CRC decides. */
    fake.build_id[0] = '\0';
    snprintf(fake.path, sizeof(fake.path), "%.200s/noid", unit_tmpdir);
    struct lp_symbolizer *s = lp_sym_new(&a);
    is_str(lp_sym_lookup(s, &fake, (uintptr_t)&unit_leafy), "unit_leafy",
           "a stripped copy without build-id: names from DIR/.debug/ by CRC");
    lp_sym_close(s);

    /* With a build-id (not under /usr/lib/debug): the link, checked by build-id. */
    snprintf(fake.build_id, sizeof(fake.build_id), "%s", me->build_id);
    snprintf(fake.path, sizeof(fake.path), "%.200s/withid", unit_tmpdir);
    s = lp_sym_new(&a);
    is_str(lp_sym_lookup(s, &fake, (uintptr_t)&unit_leafy), "unit_leafy",
           "a stripped copy with build-id: names from DIR/ by build-id");
    lp_sym_close(s);

    /* A debug file that changed since: its CRC no longer matches, so it is not used. */
    char *dbg = unit_tmpfile(".debug/noid.dbg");
    FILE *f = fopen(dbg, "ab");
    fputs("x", f);
    fclose(f);
    fake.build_id[0] = '\0';
    snprintf(fake.path, sizeof(fake.path), "%.200s/noid", unit_tmpdir);
    s = lp_sym_new(&a);
    ok(lp_sym_lookup(s, &fake, (uintptr_t)&unit_leafy) == NULL,
       "a debug file whose CRC does not match is ignored");
    lp_sym_close(s);

    /* A file whose build-id differs from the mapping's is not the object that was loaded. */
    snprintf(fake.build_id, sizeof(fake.build_id), "%040d", 0);
    snprintf(fake.path, sizeof(fake.path), "/proc/self/exe");
    s = lp_sym_new(&a);
    ok(lp_sym_lookup(s, &fake, (uintptr_t)&unit_leafy) == NULL,
       "a file whose build-id differs from the mapping's gives no names");
    lp_sym_close(s);
    lp_arena_destroy(&a);
}

/* Truncated and corrupted copies of an ELF file must yield no names or some names, but
 * never a crash. */
static void test_hostile_files(void)
{
    size_t len;
    unsigned char *img = unit_slurp("/proc/self/exe", &len);
    ok(img && len > 4096, "read the test program (%zu bytes)", len);
    if (!img)
        return;
    const struct lp_mapping *me = lp_maps_find((uintptr_t)&unit_leafy);
    struct lp_mapping fake = *me;
    fake.build_id[0] = '\0';
    char *path = unit_tmpfile("hostile.elf");
    snprintf(fake.path, sizeof(fake.path), "%s", path);
    unsigned char *copy = malloc(len);
    unsigned seed = 12345;
    int lookups = 0, named = 0;
    size_t cuts[] = { 0, 1, 16, 63, 64, 65, 200, 4096, len / 3, len / 2, len - 1, len };
    for (int round = 0; round < 400; round++) {
        size_t n = len;
        memcpy(copy, img, len);
        if (round < (int)(sizeof(cuts) / sizeof(cuts[0]))) {
            n = cuts[round];
        } else {
            /* Flip bytes in the headers and the section header table, where offsets live. */
            const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
            for (int k = 0; k < 8; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at;
                if (k % 2 == 0)
                    at = (seed >> 8) % 64;
                else
                    at = eh->e_shoff + (seed >> 8) % ((size_t)eh->e_shnum * sizeof(Elf64_Shdr));
                seed = seed * 1103515245u + 12345u;
                if (at < len)
                    copy[at] = (unsigned char)(seed >> 16);
            }
        }
        FILE *f = fopen(path, "wb");
        fwrite(copy, 1, n, f);
        fclose(f);
        struct lp_arena a;
        lp_arena_init(&a, 0);
        struct lp_symbolizer *s = lp_sym_new(&a);
        const char *name = lp_sym_lookup(s, &fake, (uintptr_t)&unit_leafy);
        lookups++;
        named += name != NULL;
        if (round == (int)(sizeof(cuts) / sizeof(cuts[0])) - 1)
            is_str(name, "unit_leafy", "the intact copy names unit_leafy");
        lp_sym_close(s);
        lp_arena_destroy(&a);
    }
    ok(lookups == 400, "400 truncated or corrupted copies: no crash (%d gave a name)", named);
    unlink(path);
    free(copy);
    free(img);
}

static void test_arena(void)
{
    struct lp_arena a;
    lp_arena_init(&a, 4096);
    ok(a.mapped == 0, "a new arena maps nothing");
    char *p = lp_arena_alloc(&a, 100);
    ok(p && ((uintptr_t)p & 15) == 0, "alloc is 16-byte aligned");
    bool zero = true;
    for (int i = 0; i < 100; i++)
        zero &= p[i] == 0;
    ok(zero, "alloc is zeroed");
    memset(p, 0xab, 100);
    char *big = lp_arena_alloc(&a, 100000);
    ok(big && big[99999] == 0, "an allocation larger than a chunk gets its own chunk");
    cmp_ok_u64(a.mapped, ">=", 4096 + 100000, "mapped counts both chunks");
    is_str(lp_arena_strdup(&a, "hello"), "hello", "strdup");
    is_str(lp_arena_strndup(&a, "hello@@V", 5), "hello", "strndup");
    ok(lp_arena_calloc(&a, SIZE_MAX / 2, 4) == NULL && a.failed,
       "calloc overflow fails, sets failed");
    lp_arena_reset(&a);
    is_u64(a.mapped, 4096, "reset keeps only the first chunk");
    ok(!a.failed, "reset clears failed");
    char *q = lp_arena_alloc(&a, 100);
    ok(q == p && q[0] == 0 && q[99] == 0, "reset memory is reused, zeroed");
    lp_arena_destroy(&a);
    is_u64(a.mapped, 0, "destroy unmaps everything");
}

static bool unit_have_go(void)
{
    int st;
    char *out = unit_run("command -v go 2>/dev/null", &st);
    bool have = st == 0 && out[0];
    free(out);
    return have;
}

static void test_profile(void)
{
    struct lp_arena a;
    lp_arena_init(&a, 0);
    lp_maps_refresh();

    uintptr_t outer = unit_outer();
    uintptr_t leafy = (uintptr_t)&unit_leafy + 1;
    uintptr_t pf = (uintptr_t)unit_libc_sym("printf") + 1;
    uintptr_t nowhere = 0x10; /* in no mapping */
    uintptr_t pcs1[] = { outer, leafy, pf };
    uintptr_t pcs2[] = { outer, pf };
    uintptr_t pcs3[] = { leafy };
    uintptr_t pcs4[] = { nowhere, unit_main_ra };
    struct lp_pp_sample samples[] = {
        { "pthread_mutex_lock", pcs1, 3, NULL, 3, 3000 },
        { "pthread_mutex_unlock", pcs2, 2, "lockprof::truncated", 1, 500 },
        { "pthread_mutex_lock", pcs3, 1, NULL, 2, 7 },
        { "sem_wait", pcs4, 2, NULL, 5, 1000000 },
    };
    const char *comments[] = { "lockprof test", "block rate=1" };
    struct lp_pp_profile prof = { samples, 4, comments, 2, 1700000000123456789LL, 2500000000LL,
                                  NULL };

    char *path = unit_tmpfile("test.pb.gz");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    __atomic_store_n(&unit_mallocs, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&unit_counting, 1, __ATOMIC_RELAXED);
    int rc = lp_pprof_write(fd, &a, &prof);
    __atomic_store_n(&unit_counting, 0, __ATOMIC_RELAXED);
    close(fd);
    is_i64(rc, 0, "lp_pprof_write succeeds");
    if (UNIT_COUNT_MALLOC)
        is_u64(unit_mallocs, 0, "lp_pprof_write calls no malloc, calloc or realloc");
    else
        ok(1, "# SKIP malloc is the sanitizer's");

    Lockprof__Pprof__Profile *p = unit_read_profile(path);
    if (!ok(p != NULL, "the file is gzip'd profile.proto")) {
        diag("cannot continue without the profile");
        return;
    }
    is_str(pstr(p, 0), "", "string_table[0] is \"\"");
    int dups = 0;
    for (size_t i = 0; i < p->n_string_table; i++)
        for (size_t j = i + 1; j < p->n_string_table; j++)
            dups += strcmp(p->string_table[i], p->string_table[j]) == 0;
    is_u64(dups, 0, "the string table has no duplicates (%zu strings)", p->n_string_table);
    is_u64(p->n_sample_type, 2, "two sample types");
    if (p->n_sample_type == 2) {
        is_str(pstr(p, p->sample_type[0]->type), "contentions", "sample_type[0] contentions");
        is_str(pstr(p, p->sample_type[0]->unit), "count", "... /count");
        is_str(pstr(p, p->sample_type[1]->type), "delay", "sample_type[1] delay");
        is_str(pstr(p, p->sample_type[1]->unit), "nanoseconds", "... /nanoseconds");
    }
    ok(p->period_type && strcmp(pstr(p, p->period_type->type), "contentions") == 0 &&
           strcmp(pstr(p, p->period_type->unit), "count") == 0,
       "period_type contentions/count");
    is_i64(p->period, 1, "period 1");
    is_i64(p->default_sample_type, 0, "default_sample_type unset");
    is_i64(p->time_nanos, 1700000000123456789LL, "time_nanos");
    is_i64(p->duration_nanos, 2500000000LL, "duration_nanos");
    is_u64(p->n_comment, 2, "two comments");
    if (p->n_comment == 2) {
        is_str(pstr(p, p->comment[0]), "lockprof test", "comment 0");
        is_str(pstr(p, p->comment[1]), "block rate=1", "comment 1");
    }

    is_u64(p->n_sample, 4, "four samples");
    if (p->n_sample != 4)
        return;
    const Lockprof__Pprof__Sample *s1 = p->sample[0], *s2 = p->sample[1], *s3 = p->sample[2],
                                  *s4 = p->sample[3];
    ok(s1->n_value == 2 && s1->value[0] == 3 && s1->value[1] == 3000, "sample 1 values [3, 3000]");
    ok(s2->n_value == 2 && s2->value[0] == 1 && s2->value[1] == 500, "sample 2 values [1, 500]");
    ok(s4->n_value == 2 && s4->value[0] == 5 && s4->value[1] == 1000000,
       "sample 4 values [5, 1000000]");
    is_u64(s1->n_location_id, 4, "sample 1: leaf + 3 frames");
    is_u64(s2->n_location_id, 4, "sample 2: leaf + 2 frames + tail");
    is_u64(s3->n_location_id, 2, "sample 3: leaf + 1 frame");
    is_u64(s4->n_location_id, 3, "sample 4: leaf + 2 frames");
    if (s1->n_location_id != 4 || s2->n_location_id != 4 || s3->n_location_id != 2 ||
        s4->n_location_id != 3)
        return;

    const Lockprof__Pprof__Location *leaf = ploc(p, s1->location_id[0]);
    uint64_t leaf_addr = lp_pprof_synthetic_address("pthread_mutex_lock");
    ok(leaf && leaf->address == leaf_addr && leaf->mapping_id == 0,
       "the leaf is at its synthetic address (%#llx), with no mapping",
       (unsigned long long)leaf_addr);
    ok(leaf_addr >> 56 == 0xfe && (leaf_addr & 0xf) == 0,
       "... 0xfe…0: non-canonical (no mapping can hold it), 16-aligned");
    is_u64(leaf_addr, 0xfec9bd806dc7e150ULL,
           "... a fixed function of the name (FNV-1a): the same in every process and build");
    ok(lp_pprof_is_synthetic(leaf_addr) && lp_pprof_is_synthetic(leaf_addr + 1) &&
           !lp_pprof_is_synthetic(outer - 1) && !lp_pprof_is_synthetic(0),
       "lp_pprof_is_synthetic: it and its return address are, real and 0 are not");
    is_str(loc_name(p, leaf), "pthread_mutex_lock", "the leaf names the interposed call");
    if (leaf && leaf->n_line == 1) {
        const Lockprof__Pprof__Function *f = pfunc(p, leaf->line[0]->function_id);
        ok(f && strcmp(pstr(p, f->system_name), "pthread_mutex_lock") == 0 && f->filename == 0 &&
               f->start_line == 0,
           "the leaf's function: system_name = name, no file, no line");
    } else {
        ok(0, "the leaf has one Line");
    }
    const char *want1[] = { "unit_outer", "unit_leafy", "printf" };
    uintptr_t addr1[] = { outer - 1, leafy - 1, pf - 1 };
    for (int i = 0; i < 3; i++) {
        const Lockprof__Pprof__Location *l = ploc(p, s1->location_id[i + 1]);
        const struct lp_mapping *m = lp_maps_find(addr1[i]);
        ok(l && l->address == addr1[i], "frame %d holds the return address - 1 (%#lx)", i + 1,
           (unsigned long)addr1[i]);
        ok(l && m && l->mapping_id == m->id, "frame %d's mapping is registry entry %llu", i + 1,
           m ? (unsigned long long)m->id : 0ULL);
        is_str(loc_name(p, l), want1[i], "frame %d is named %s", i + 1, want1[i]);
        if (l && l->n_line == 1) {
            const Lockprof__Pprof__Function *f = pfunc(p, l->line[0]->function_id);
            ok(f && f->name == f->system_name && f->filename == 0 && f->start_line == 0,
               "frame %d's function: system_name = name, filename \"\", start_line 0", i + 1);
        } else {
            ok(0, "frame %d has exactly one Line", i + 1);
        }
    }
    is_u64(s3->location_id[0], s1->location_id[0], "the same leaf is one location");
    is_u64(s2->location_id[1], s1->location_id[1], "the same return address is one location");
    is_u64(s3->location_id[1], s1->location_id[2], "... in any sample, at any depth");
    is_u64(s2->location_id[2], s1->location_id[3], "... printf's too");
    ok(s2->location_id[0] != s1->location_id[0], "different leaves are different locations");
    is_str(loc_name(p, ploc(p, s2->location_id[0])), "pthread_mutex_unlock", "sample 2's leaf");
    const Lockprof__Pprof__Location *leaf2 = ploc(p, s2->location_id[0]);
    ok(leaf2 && leaf2->address == lp_pprof_synthetic_address("pthread_mutex_unlock") &&
           leaf2->address != leaf->address,
       "... at an address of its own: different leaves, different addresses");
    const Lockprof__Pprof__Location *tail = ploc(p, s2->location_id[3]);
    ok(tail && tail->address == lp_pprof_synthetic_address("lockprof::truncated") &&
           tail->mapping_id == 0,
       "the tail is at its synthetic address, with no mapping");
    int addr_dups = 0;
    for (size_t i = 0; i < p->n_location; i++)
        for (size_t j = i + 1; j < p->n_location; j++)
            addr_dups += p->location[i]->address == p->location[j]->address;
    is_u64(addr_dups, 0, "no two locations share an address");
    is_str(loc_name(p, tail), "lockprof::truncated", "the tail names the synthetic frame");
    const Lockprof__Pprof__Location *nw = ploc(p, s4->location_id[1]);
    ok(nw && nw->address == nowhere - 1 && nw->mapping_id == 0 && nw->n_line == 0,
       "an address in no mapping: raw address - 1, no mapping, no Line");
    is_str(loc_name(p, ploc(p, s4->location_id[2])), "__libc_start_call_main",
           "libc's internal function by its debug file");

    is_u64(p->n_location, 9, "9 locations: 3 leaves, 1 tail, 5 addresses");
    is_u64(p->n_function, 8, "8 functions, one per name");
    int fdups = 0;
    for (size_t i = 0; i < p->n_function; i++)
        for (size_t j = i + 1; j < p->n_function; j++)
            fdups += strcmp(pstr(p, p->function[i]->name), pstr(p, p->function[j]->name)) == 0;
    is_u64(fdups, 0, "function names are unique");
    int ids_ok = 1;
    for (size_t i = 0; i < p->n_location; i++)
        ids_ok &= p->location[i]->id == i + 1 &&
                  (p->location[i]->mapping_id == 0 || pmap(p, p->location[i]->mapping_id));
    ok(ids_ok, "location ids are 1..n and every mapping_id refers to a written mapping");

    const struct lp_mapping *me = lp_maps_find(outer), *libc = lp_maps_find(pf);
    is_u64(p->n_mapping, 2, "only the 2 referenced mappings are written");
    const struct lp_mapping *want_m[] = { me, libc };
    for (int i = 0; i < 2 && p->n_mapping == 2; i++) {
        const struct lp_mapping *e = want_m[i];
        const Lockprof__Pprof__Mapping *pm = e ? pmap(p, e->id) : NULL;
        struct unit_maps_line ml;
        char id[65];
        if (!ok(pm && unit_proc_maps(pm->memory_start, &ml), "mapping %s is written with id %llu",
                e ? unit_basename(e->path) : "?", e ? (unsigned long long)e->id : 0ULL)) {
            for (int k = 0; k < 4; k++)
                ok(0, "(mapping missing)");
            continue;
        }
        unit_file_build_id(e->path, id);
        ok(pm->memory_start == ml.start && pm->memory_limit == ml.limit &&
               pm->file_offset == ml.offset,
           "... start %#llx limit %#llx offset %#llx as /proc/self/maps says",
           (unsigned long long)pm->memory_start, (unsigned long long)pm->memory_limit,
           (unsigned long long)pm->file_offset);
        ok(unit_same_file(pstr(p, pm->filename), ml.path) &&
               strcmp(pstr(p, pm->filename), e->path) == 0,
           "... filename %s", pstr(p, pm->filename));
        is_str(pstr(p, pm->build_id), id, "... build_id as the file's note says");
        ok(!pm->has_functions && !pm->has_filenames && !pm->has_line_numbers &&
               !pm->has_inline_frames,
           "... has_* all false");
    }
    lockprof__pprof__profile__free_unpacked(p, NULL);

    /* The text form, from the same data. */
    char *tpath = unit_tmpfile("test.txt");
    fd = open(tpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    lp_arena_reset(&a);
    __atomic_store_n(&unit_mallocs, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&unit_counting, 1, __ATOMIC_RELAXED);
    rc = lp_pprof_write_text(fd, &a, &prof, "--- mutex:");
    __atomic_store_n(&unit_counting, 0, __ATOMIC_RELAXED);
    close(fd);
    is_i64(rc, 0, "lp_pprof_write_text succeeds");
    if (UNIT_COUNT_MALLOC)
        is_u64(unit_mallocs, 0, "lp_pprof_write_text calls no malloc");
    else
        ok(1, "# SKIP malloc is the sanitizer's");
    size_t tlen;
    char *text = (char *)unit_slurp(tpath, &tlen);
    text = realloc(text, tlen + 1);
    text[tlen] = '\0';
    ok(strncmp(text, "--- mutex:\ncycles/second=1000000000\nsampling period=1\n", 54) == 0,
       "text header");
    char want[512];
    snprintf(want, sizeof(want), "\n3000 3 @ 0x%llx 0x%lx 0x%lx 0x%lx\n",
             (unsigned long long)leaf_addr + 1, (unsigned long)outer, (unsigned long)leafy,
             (unsigned long)pf);
    ok(strstr(text, want) != NULL,
       "text sample line: the leaf's synthetic address + 1, then the return addresses");
    snprintf(want, sizeof(want), "#\t0x%llx\tpthread_mutex_lock+0x1\t\n",
             (unsigned long long)leaf_addr + 1);
    ok(strstr(text, want) != NULL, "text # line names the leaf");
    snprintf(want, sizeof(want), "\n500 1 @ 0x%llx 0x%lx 0x%lx 0x%llx\n",
             (unsigned long long)lp_pprof_synthetic_address("pthread_mutex_unlock") + 1,
             (unsigned long)outer, (unsigned long)pf,
             (unsigned long long)lp_pprof_synthetic_address("lockprof::truncated") + 1);
    ok(strstr(text, want) != NULL, "text sample line: the tail's synthetic address + 1 last");
    snprintf(want, sizeof(want), "#\t0x%lx\tunit_leafy+0x1\t\n", (unsigned long)leafy);
    ok(strstr(text, want) != NULL, "text # line names the frame with its offset");
    ok(strstr(text, "\n--- Memory map: ---\n") != NULL, "text has the memory map");
    snprintf(want, sizeof(want), "%08lx-%08lx r-xp %08llx 00:00 0 %s\n", (unsigned long)libc->start,
             (unsigned long)libc->limit, (unsigned long long)libc->offset, libc->path);
    ok(strstr(text, want) != NULL, "the memory map holds libc's line");
    free(text);
    lp_arena_destroy(&a);

    /* go tool pprof must read both. */
    if (!ok(unit_have_go(), "go is on PATH (CI installs golang-go)")) {
        for (int k = 0; k < 9; k++)
            ok(0, "(go tool pprof unavailable)");
        return;
    }
    char cmd[PATH_MAX * 2];
    int st;
    snprintf(cmd, sizeof(cmd), "go tool pprof -raw '%s' 2>&1", path);
    char *raw = unit_run(cmd, &st);
    is_i64(st, 0, "go tool pprof -raw reads the profile");
    long long tc, td;
    int ns;
    unit_raw_totals(raw, &tc, &td, &ns);
    ok(ns == 4 && tc == 11 && td == 1003507,
       "-raw: 4 samples, totals 11 / 1003507 (got %d, %lld / %lld)",
       ns, tc, td);
    ok(strstr(raw, "unit_outer") && strstr(raw, "printf") && strstr(raw, "pthread_mutex_lock") &&
           strstr(raw, "lockprof::truncated") && strstr(raw, "__libc_start_call_main"),
       "-raw shows our names");
    if (st != 0 || ns != 4)
        diag("%s", raw);
    free(raw);

    snprintf(cmd, sizeof(cmd), "go tool pprof -top -nodefraction=0 '%s' 2>&1", path);
    char *top = unit_run(cmd, &st);
    is_i64(st, 0, "go tool pprof -top reads the profile");
    ok(strstr(top, "unit_leafy") && strstr(top, "pthread_mutex_lock") && strstr(top, "sem_wait"),
       "-top shows the names");
    ok(strstr(top, "Type: delay") != NULL,
       "-top shows the delay by default (default_sample_type unset)");
    ok(strstr(top, "lockprof test") != NULL, "-top shows the comments");
    if (st != 0)
        diag("%s", top);
    free(top);

    snprintf(cmd, sizeof(cmd), "go tool pprof -raw '%s' 2>&1", tpath);
    raw = unit_run(cmd, &st);
    is_i64(st, 0, "go tool pprof -raw reads the text form");
    unit_raw_totals(raw, &tc, &td, &ns);
    ok(ns == 4 && tc == 11 && td == 1003507,
       "text form: 4 samples, same totals 11 / 1003507 (got %d, %lld / %lld)", ns, tc, td);
    ok(strstr(raw, "libc.so.6") != NULL, "text form: pprof read the memory map");
    if (st != 0 || ns != 4)
        diag("%s", raw);
    free(raw);
}

/* The CPU profile's kind: Go's CPU sample types and period, and samples without a leaf name,
 * whose first address is the interrupted pc + 1 (a location at that pc). */
static void test_cpu_kind(void)
{
    struct lp_arena a;
    lp_arena_init(&a, 0);
    uintptr_t pcs[] = { unit_outer() + 1, unit_main_ra };
    struct lp_pp_sample s = { NULL, pcs, 2, NULL, 7, 70000000 };
    const struct lp_pp_kind cpu = { { "samples", "cpu" }, { "count", "nanoseconds" },
                                    "cpu", "nanoseconds", 10000000 };
    struct lp_pp_profile prof = { &s, 1, NULL, 0, 5, 2000000000LL, &cpu };
    char *path = unit_tmpfile("cpu.pb.gz");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    is_i64(lp_pprof_write(fd, &a, &prof), 0, "cpu kind: written");
    close(fd);
    Lockprof__Pprof__Profile *p = unit_read_profile(path);
    if (!ok(p && p->n_sample_type == 2 && p->n_sample == 1, "cpu kind: read back")) {
        lp_arena_destroy(&a);
        return;
    }
    ok(strcmp(pstr(p, p->sample_type[0]->type), "samples") == 0 &&
           strcmp(pstr(p, p->sample_type[0]->unit), "count") == 0 &&
           strcmp(pstr(p, p->sample_type[1]->type), "cpu") == 0 &&
           strcmp(pstr(p, p->sample_type[1]->unit), "nanoseconds") == 0,
       "cpu kind: sample types samples/count, cpu/nanoseconds");
    ok(p->period_type && strcmp(pstr(p, p->period_type->type), "cpu") == 0 &&
           strcmp(pstr(p, p->period_type->unit), "nanoseconds") == 0 && p->period == 10000000,
       "cpu kind: period type cpu/nanoseconds, period 10000000");
    is_u64(p->sample[0]->n_location_id, 2, "cpu kind: no synthetic leaf, 2 frames");
    const Lockprof__Pprof__Location *l = NULL;
    for (size_t i = 0; i < p->n_location; i++)
        if (p->location[i]->id == p->sample[0]->location_id[0])
            l = p->location[i];
    ok(l && l->address == unit_outer(), "cpu kind: the first frame's location is the pc itself");
    lockprof__pprof__profile__free_unpacked(p, NULL);
    lp_arena_destroy(&a);
}

static void test_write_errors(void)
{
    struct lp_arena a;
    lp_arena_init(&a, 0);
    uintptr_t pcs[] = { unit_outer() };
    struct lp_pp_sample s = { "pthread_mutex_lock", pcs, 1, NULL, 1, 1 };
    struct lp_pp_profile prof = { &s, 1, NULL, 0, 1, 0, NULL };
    is_i64(lp_pprof_write(-1, &a, &prof), -EBADF, "a bad fd: -EBADF");
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        lp_arena_reset(&a);
        is_i64(lp_pprof_write(fd, &a, &prof), -ENOSPC, "a full disk: -ENOSPC");
        close(fd);
    } else {
        ok(0, "open /dev/full");
    }
    struct lp_pp_profile empty = { NULL, 0, NULL, 0, 42, 0, NULL };
    char *path = unit_tmpfile("empty.pb.gz");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    lp_arena_reset(&a);
    is_i64(lp_pprof_write(fd, &a, &empty), 0, "an empty profile is written");
    close(fd);
    Lockprof__Pprof__Profile *p = unit_read_profile(path);
    ok(p && p->n_sample == 0 && p->n_sample_type == 2 && p->time_nanos == 42,
       "... and reads back with its sample types and no samples");
    if (p)
        lockprof__pprof__profile__free_unpacked(p, NULL);
    lp_arena_destroy(&a);
}

int main(void)
{
    unit_main_ra = (uintptr_t)__builtin_return_address(0);
    const char *tmp = getenv("TMPDIR");
    snprintf(unit_tmpdir, sizeof(unit_tmpdir), "%s/unit_pprof.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(unit_tmpdir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_arena();
    test_maps();
    test_unloaded();
    test_symbols();
    test_debuglink();
    test_hostile_files();
    test_profile();
    test_cpu_kind();
    test_write_errors();
    /* UNIT_KEEP=1 keeps the files written, for a look with helper_pbdump or go tool pprof. */
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", unit_tmpdir);
    if (getenv("UNIT_KEEP"))
        diag("files kept in %s", unit_tmpdir);
    else if (system(cmd) != 0)
        diag("could not remove %s", unit_tmpdir);
    return done_testing();
}
