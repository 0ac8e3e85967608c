/* elfsym.c — see elfsym.h.
 *
 * Files are treated as hostile: every offset, size and string read from them is checked
 * against the mapped size before use, so a truncated or corrupt file yields no names, never a
 * crash. (A file truncated by someone else *while* mapped can still raise SIGBUS; nothing
 * short of read(2) into the arena avoids that, and the writer does not handle signals.)
 *
 * Which name wins when several symbols share an address (aliases: printf, _IO_printf and
 * __printf in libc): the one a person would call. In order: a name without an "@VERSION"
 * suffix (debug files' .symtab holds both "foo" and "foo@@GLIBC_2.2.5"), a name that does not
 * start with '_' (C++'s "_Z" mangling does not count), a global or weak symbol over a local
 * one, fewer leading underscores, the shorter name, then byte order, so the choice is stable.
 */
#include "elfsym.h"
#include "elfnote.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"
#include "sys.h"

#define SYM_PATH_MAX 4096
#define SYM_DEBUG_DIR "/usr/lib/debug"

struct sym {
    uint64_t value;   /* ELF virtual address */
    uint64_t size;    /* 0 if unknown */
    const char *name; /* in a mapped file, or in the arena once its @VERSION is cut */
    bool local;
};

struct sym_file {
    struct sym_file *next;
    const char *path;     /* arena copy: the cache key with build_id */
    char build_id[65];
    struct sym *syms;     /* sorted by value, one entry per value */
    size_t nsyms;
};

struct sym_region {
    struct sym_region *next;
    void *addr;
    size_t len;
};

struct lp_symbolizer {
    struct lp_arena *arena;
    struct sym_file *files;   /* every file parsed (or failed to parse) so far */
    struct sym_region *maps;  /* file mappings to undo in lp_sym_close */
};

/* One mapped ELF file, its section headers validated. */
struct sym_elf {
    const unsigned char *base;
    size_t size;
    const Elf64_Shdr *sh;
    size_t shnum;
    const char *shstr; /* section names, may be NULL */
    size_t shstr_size;
};

struct lp_symbolizer *lp_sym_new(struct lp_arena *a)
{
    struct lp_symbolizer *s = lp_arena_alloc(a, sizeof(*s));
    if (s)
        s->arena = a;
    return s;
}

void lp_sym_close(struct lp_symbolizer *s)
{
    if (!s)
        return;
    for (struct sym_region *r = s->maps; r; r = r->next)
        munmap(r->addr, r->len);
    s->maps = NULL;
    s->files = NULL;
}

static bool sym_in_bounds(size_t size, uint64_t off, uint64_t len)
{
    return off <= size && len <= size - off;
}

/* Maps path read-only. 0 or -errno. Never opens pseudo-paths such as "[vdso]". */
static int sym_map_file(struct lp_symbolizer *s, const char *path, struct sym_elf *e)
{
    memset(e, 0, sizeof(*e));
    if (path[0] != '/')
        return -ENOENT;
    struct sym_region *r = lp_arena_alloc(s->arena, sizeof(*r));
    if (!r)
        return -ENOMEM;
    int fd = lp_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    struct stat st;
    int err = lp_sys_fstat(fd, &st);
    if (err < 0)
        goto out_close_fd;
    if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        err = -ENOEXEC;
        goto out_close_fd;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        err = -errno;
        goto out_close_fd;
    }
    r->addr = p;
    r->len = (size_t)st.st_size;
    r->next = s->maps;
    s->maps = r;
    e->base = p;
    e->size = (size_t)st.st_size;
out_close_fd:
    lp_sys_close(fd);
    return err;
}

/* Unmaps a file sym_map_file mapped, if it is still the newest one (it always is where this
 * is called: right after a failed check). */
static void sym_unmap_file(struct lp_symbolizer *s, struct sym_elf *e)
{
    struct sym_region *r = s->maps;
    if (e->base && r && r->addr == (const void *)e->base) {
        munmap(r->addr, r->len);
        s->maps = r->next;
    }
    memset(e, 0, sizeof(*e));
}

/* Validates the ELF header and the section header table. */
static bool sym_elf_parse(struct sym_elf *e)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)e->base;
    if (e->size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
        (eh->e_type != ET_DYN && eh->e_type != ET_EXEC) || eh->e_shoff == 0 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff % 8 != 0 ||
        !sym_in_bounds(e->size, eh->e_shoff, sizeof(Elf64_Shdr)))
        return false;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(e->base + eh->e_shoff);
    size_t shnum = eh->e_shnum ? eh->e_shnum : sh[0].sh_size; /* extended numbering */
    if (shnum == 0 || shnum > (e->size - eh->e_shoff) / sizeof(Elf64_Shdr))
        return false;
    e->sh = sh;
    e->shnum = shnum;
    size_t shstrndx = eh->e_shstrndx == SHN_XINDEX ? sh[0].sh_link : eh->e_shstrndx;
    if (shstrndx != SHN_UNDEF && shstrndx < shnum && sh[shstrndx].sh_type == SHT_STRTAB &&
        sh[shstrndx].sh_size > 0 &&
        sym_in_bounds(e->size, sh[shstrndx].sh_offset, sh[shstrndx].sh_size)) {
        e->shstr = (const char *)e->base + sh[shstrndx].sh_offset;
        e->shstr_size = sh[shstrndx].sh_size;
    }
    return true;
}

/* The contents of the section called name (any type but SHT_NOBITS), or NULL. */
static const unsigned char *sym_elf_section(const struct sym_elf *e, const char *name,
                                            size_t *size)
{
    if (!e->shstr)
        return NULL;
    size_t len = strlen(name);
    for (size_t i = 1; i < e->shnum; i++) {
        const Elf64_Shdr *sh = &e->sh[i];
        if (sh->sh_type == SHT_NOBITS || sh->sh_name >= e->shstr_size ||
            e->shstr_size - sh->sh_name <= len ||
            memcmp(e->shstr + sh->sh_name, name, len + 1) != 0)
            continue;
        if (!sym_in_bounds(e->size, sh->sh_offset, sh->sh_size))
            return NULL;
        *size = sh->sh_size;
        return e->base + sh->sh_offset;
    }
    return NULL;
}

/* The GNU build-id of a file, from its SHT_NOTE sections, as lowercase hex; "" if none. */
static void sym_elf_build_id(const struct sym_elf *e, char out[65])
{
    out[0] = '\0';
    for (size_t i = 1; i < e->shnum; i++) {
        const Elf64_Shdr *sh = &e->sh[i];
        if (sh->sh_type == SHT_NOTE && sym_in_bounds(e->size, sh->sh_offset, sh->sh_size) &&
            lp_elfnote_build_id(e->base + sh->sh_offset, sh->sh_size, sh->sh_addralign, out))
            return;
    }
}

/* The symbol table section at index i with its string table, validated; false if unusable. */
static bool sym_elf_symtab(const struct sym_elf *e, size_t i, const Elf64_Sym **syms, size_t *n,
                           const char **str, size_t *str_size)
{
    const Elf64_Shdr *sh = &e->sh[i];
    if ((sh->sh_type != SHT_SYMTAB && sh->sh_type != SHT_DYNSYM) ||
        sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_offset % 8 != 0 ||
        !sym_in_bounds(e->size, sh->sh_offset, sh->sh_size) || sh->sh_link >= e->shnum)
        return false;
    const Elf64_Shdr *st = &e->sh[sh->sh_link];
    if (st->sh_type != SHT_STRTAB || st->sh_size == 0 ||
        !sym_in_bounds(e->size, st->sh_offset, st->sh_size))
        return false;
    *syms = (const Elf64_Sym *)(e->base + sh->sh_offset);
    *n = sh->sh_size / sizeof(Elf64_Sym);
    *str = (const char *)e->base + st->sh_offset;
    *str_size = st->sh_size;
    return true;
}

static bool sym_elf_has_symtab(const struct sym_elf *e)
{
    for (size_t i = 1; i < e->shnum; i++)
        if (e->sh[i].sh_type == SHT_SYMTAB)
            return true;
    return false;
}

/* Appends the function symbols of every symbol table of e to out (NULL: only counts them).
 * Returns how many there are. */
static size_t sym_elf_collect(const struct sym_elf *e, struct sym *out)
{
    size_t count = 0;
    for (size_t i = 1; i < e->shnum; i++) {
        const Elf64_Sym *syms;
        const char *str;
        size_t n, str_size;
        if (!sym_elf_symtab(e, i, &syms, &n, &str, &str_size))
            continue;
        for (size_t k = 1; k < n; k++) {
            const Elf64_Sym *y = &syms[k];
            unsigned type = ELF64_ST_TYPE(y->st_info);
            if ((type != STT_FUNC && type != STT_GNU_IFUNC) || y->st_value == 0 ||
                y->st_shndx == SHN_UNDEF || y->st_name == 0 || y->st_name >= str_size)
                continue;
            const char *name = str + y->st_name;
            if (!name[0] || !memchr(name, '\0', str_size - y->st_name))
                continue;
            if (out) {
                out[count].value = y->st_value;
                out[count].size = y->st_size;
                out[count].name = name;
                out[count].local = ELF64_ST_BIND(y->st_info) == STB_LOCAL;
            }
            count++;
        }
    }
    return count;
}

static unsigned sym_underscores(const char *name)
{
    unsigned n = 0;
    while (name[n] == '_')
        n++;
    return n;
}

/* Negative if a is the better name for their shared address (see the top of the file). */
static int sym_name_order(const struct sym *a, const struct sym *b)
{
    bool av = strchr(a->name, '@') != NULL, bv = strchr(b->name, '@') != NULL;
    if (av != bv)
        return av ? 1 : -1;
    bool au = a->name[0] == '_' && a->name[1] != 'Z';
    bool bu = b->name[0] == '_' && b->name[1] != 'Z';
    if (au != bu)
        return au ? 1 : -1;
    if (a->local != b->local)
        return a->local ? 1 : -1;
    unsigned an = sym_underscores(a->name), bn = sym_underscores(b->name);
    if (an != bn)
        return an < bn ? -1 : 1;
    size_t al = strlen(a->name), bl = strlen(b->name);
    if (al != bl)
        return al < bl ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Heapsort by value: glibc's qsort may call malloc (DESIGN §6). */
static void sym_sift_down(struct sym *v, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && v[child + 1].value > v[child].value)
            child++;
        if (v[root].value >= v[child].value)
            return;
        struct sym t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

static void sym_sort(struct sym *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sym_sift_down(v, i, n);
    for (size_t end = n; end-- > 1;) {
        struct sym t = v[0];
        v[0] = v[end];
        v[end] = t;
        sym_sift_down(v, 0, end);
    }
}

/* Sorts and keeps one entry per address: the best name, the largest size. */
static size_t sym_sort_unique(struct sym *v, size_t n)
{
    sym_sort(v, n);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out > 0 && v[out - 1].value == v[i].value) {
            struct sym *keep = &v[out - 1];
            uint64_t size = keep->size > v[i].size ? keep->size : v[i].size;
            if (sym_name_order(&v[i], keep) < 0)
                *keep = v[i];
            keep->size = size;
            continue;
        }
        v[out++] = v[i];
    }
    return out;
}

static void sym_dirname(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= size)
        n = size - 1;
    memcpy(dir, path, n);
    dir[n] = '\0';
}

/* Maps and validates a separate debug file: it must have a .symtab, and match the object
 * by build-id when both carry one, or else by the CRC the .gnu_debuglink names. */
static bool sym_try_debug(struct lp_symbolizer *s, const char *path, const char *build_id,
                          bool check_crc, uint32_t crc, struct sym_elf *dbg)
{
    if (sym_map_file(s, path, dbg) != 0)
        return false;
    if (!sym_elf_parse(dbg) || !sym_elf_has_symtab(dbg))
        goto fail_unmap;
    char id[65];
    sym_elf_build_id(dbg, id);
    if (build_id[0] && id[0]) {
        if (strcmp(build_id, id) != 0)
            goto fail_unmap;
        return true;
    }
    if (!check_crc)
        return true;
    uLong c = crc32(0L, Z_NULL, 0);
    const unsigned char *p = dbg->base;
    size_t left = dbg->size;
    while (left > 0) {
        uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        c = crc32(c, p, chunk);
        p += chunk;
        left -= chunk;
    }
    if ((uint32_t)c == crc)
        return true;
fail_unmap:
    sym_unmap_file(s, dbg);
    return false;
}

/* Finds the separate debug file of the object at path (build_id: the object's, may be ""). */
static bool sym_find_debug(struct lp_symbolizer *s, const char *path, const char *build_id,
                           const struct sym_elf *obj, struct sym_elf *dbg)
{
    char buf[SYM_PATH_MAX];
    size_t id_len = strlen(build_id);
    if (id_len > 2) {
        size_t n = lp_fmt_sigsafe(buf, sizeof(buf), SYM_DEBUG_DIR "/.build-id/%c%c/%s.debug",
                                  build_id[0], build_id[1], build_id + 2);
        if (n < sizeof(buf) && sym_try_debug(s, buf, build_id, false, 0, dbg))
            return true;
    }

    size_t link_size = 0;
    const unsigned char *link = obj ? sym_elf_section(obj, ".gnu_debuglink", &link_size) : NULL;
    const unsigned char *nul = link ? memchr(link, '\0', link_size) : NULL;
    if (!nul || nul == link)
        return false;
    size_t crc_off = ((size_t)(nul - link) + 1 + 3) & ~(size_t)3;
    if (crc_off + 4 > link_size)
        return false;
    uint32_t crc;
    memcpy(&crc, link + crc_off, 4);
    const char *name = (const char *)link;
    if (strchr(name, '/'))
        return false; /* a base name, by definition; anything else is suspect */

    char dir[SYM_PATH_MAX];
    sym_dirname(path, dir, sizeof(dir));
    for (int form = 0; form < 3; form++) {
        size_t n = form == 0   ? lp_fmt_sigsafe(buf, sizeof(buf), "%s/%s", dir, name)
                   : form == 1 ? lp_fmt_sigsafe(buf, sizeof(buf), "%s/.debug/%s", dir, name)
                               : lp_fmt_sigsafe(buf, sizeof(buf), SYM_DEBUG_DIR "%s/%s", dir, name);
        if (n >= sizeof(buf) || strcmp(buf, path) == 0)
            continue;
        if (sym_try_debug(s, buf, build_id, true, crc, dbg))
            return true;
    }
    return false;
}

/* Parses the object at m's path and its debug file into a table. Failures leave it empty. */
static void sym_file_load(struct lp_symbolizer *s, struct sym_file *f)
{
    struct sym_elf obj, dbg;
    bool have_obj = sym_map_file(s, f->path, &obj) == 0 && sym_elf_parse(&obj);
    if (have_obj && f->build_id[0]) {
        char id[65];
        sym_elf_build_id(&obj, id);
        if (id[0] && strcmp(id, f->build_id) != 0)
            have_obj = false; /* replaced on disk since it was loaded: its names would lie */
    }
    if (!have_obj)
        sym_unmap_file(s, &obj);
    char id[65];
    const char *build_id = f->build_id;
    if (!build_id[0] && have_obj) {
        sym_elf_build_id(&obj, id);
        build_id = id;
    }
    bool have_dbg = false;
    if (!have_obj || !sym_elf_has_symtab(&obj))
        have_dbg = sym_find_debug(s, f->path, build_id, have_obj ? &obj : NULL, &dbg);

    size_t n = (have_obj ? sym_elf_collect(&obj, NULL) : 0) +
               (have_dbg ? sym_elf_collect(&dbg, NULL) : 0);
    if (n == 0)
        return;
    struct sym *v = lp_arena_calloc(s->arena, n, sizeof(*v));
    if (!v)
        return;
    size_t k = have_obj ? sym_elf_collect(&obj, v) : 0;
    if (have_dbg)
        k += sym_elf_collect(&dbg, v + k);
    f->syms = v;
    f->nsyms = sym_sort_unique(v, k);
}

static struct sym_file *sym_file_get(struct lp_symbolizer *s, const struct lp_mapping *m)
{
    for (struct sym_file *f = s->files; f; f = f->next)
        if (strcmp(f->build_id, m->build_id) == 0 && strcmp(f->path, m->path) == 0)
            return f;
    struct sym_file *f = lp_arena_alloc(s->arena, sizeof(*f));
    if (!f)
        return NULL;
    f->path = lp_arena_strdup(s->arena, m->path);
    if (!f->path)
        return NULL;
    memcpy(f->build_id, m->build_id, sizeof(f->build_id));
    f->build_id[sizeof(f->build_id) - 1] = '\0';
    f->next = s->files;
    s->files = f;
    sym_file_load(s, f);
    return f;
}

/* The entry for ELF address v: the symbol that contains it; failing that, the nearest one
 * below if its size is unknown (hand-written assembly often has none). */
static struct sym *sym_find(struct sym_file *f, uint64_t v)
{
    size_t lo = 0, hi = f->nsyms; /* first index with value > v */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->syms[mid].value <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    struct sym *near = &f->syms[lo - 1];
    /* A few symbols back, in case a smaller one starts inside a larger function. */
    for (size_t i = lo, tries = 0; i-- > 0 && tries < 8; tries++) {
        struct sym *y = &f->syms[i];
        if (y->size && v - y->value < y->size)
            return y;
    }
    return near->size == 0 ? near : NULL;
}

const char *lp_sym_lookup_offset(struct lp_symbolizer *s, const struct lp_mapping *m,
                                 uintptr_t pc, uintptr_t *offset)
{
    if (!s || !m || !m->path[0] || m->path[0] == '[' || pc < m->bias)
        return NULL;
    struct sym_file *f = sym_file_get(s, m);
    if (!f || f->nsyms == 0)
        return NULL;
    struct sym *y = sym_find(f, pc - m->bias);
    if (!y)
        return NULL;
    const char *at = strchr(y->name, '@');
    if (at) { /* "foo@@GLIBC_2.2.5" → "foo", once */
        char *cut = lp_arena_strndup(s->arena, y->name, (size_t)(at - y->name));
        if (!cut)
            return NULL;
        y->name = cut;
    }
    if (offset)
        *offset = pc - m->bias - y->value;
    return y->name;
}

const char *lp_sym_lookup(struct lp_symbolizer *s, const struct lp_mapping *m, uintptr_t pc)
{
    return lp_sym_lookup_offset(s, m, pc, NULL);
}
