/* maps.c — see maps.h.
 *
 * Writers (lp_maps_refresh) serialise on maps_lock, one of lockprof's own locks (sync.h).
 * Readers never lock: an entry is filled completely before the count that covers it is
 * stored with release semantics, and only the `unloaded` flag of a published entry ever
 * changes afterwards (an atomic byte store). */
#include "maps.h"
#include "clock.h"
#include "elfnote.h"
#include "seam.h"
#include "sync.h"

#include <elf.h>
#include <link.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

/* Lock order (sync.h): the loader lock (inside dl_iterate_phdr) is taken while maps_lock is
 * held; nothing takes maps_lock under the loader lock. */
static lp_lock_t maps_lock = LP_LOCK_INIT;
static struct lp_mapping *maps_entries;    /* LP_MAPS_MAX entries; atomic pointer, set once */
static unsigned *maps_seen;                /* scan generation per entry; under maps_lock */
static unsigned maps_count;                /* published entries; atomic (release/acquire) */
static unsigned maps_dropped_count;        /* atomic */
static int maps_force = 1;                 /* rescan even if adds/subs are unchanged; atomic */
static unsigned long long maps_adds, maps_subs; /* as of the last scan; under maps_lock */
static unsigned maps_generation;           /* under maps_lock */
static char maps_exe[sizeof(((struct lp_mapping *)0)->path)];
                                           /* /proc/self/exe; under maps_lock */

static uintptr_t maps_page_size(void)
{
    unsigned long p = getauxval(AT_PAGESZ);
    return p ? (uintptr_t)p : 4096;
}

static void maps_copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static const char *maps_exe_path(void)
{
    if (!maps_exe[0]) {
        ssize_t n = readlink("/proc/self/exe", maps_exe, sizeof(maps_exe) - 1);
        maps_exe[n > 0 ? n : 0] = '\0';
    }
    return maps_exe;
}

/* The GNU build-id of a loaded object, from its PT_NOTE segments in memory, as lowercase hex
 * (at most 32 bytes of id, so it fits build_id[65]); "" if it has none. */
static void maps_build_id(const struct dl_phdr_info *info, char out[65])
{
    out[0] = '\0';
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_NOTE &&
            lp_elfnote_build_id((const void *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz,
                                ph->p_align, out))
            return;
    }
}

struct maps_scan {
    unsigned calls;   /* objects seen in this iteration */
    bool skipped;     /* nothing changed: the iteration stopped at the first object */
    uintptr_t vdso;   /* address of the vDSO's ELF header, 0 if none */
};

static void maps_add(uintptr_t start, uintptr_t limit, uint64_t offset, uintptr_t bias,
                     const char *path, const char *build_id)
{
    unsigned n = __atomic_load_n(&maps_count, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < n; i++) {
        struct lp_mapping *e = &maps_entries[i];
        if (!__atomic_load_n(&e->unloaded, __ATOMIC_RELAXED) && e->start == start &&
            e->bias == bias && strcmp(e->path, path) == 0) {
            maps_seen[i] = maps_generation;
            return;
        }
    }
    if (n >= LP_MAPS_MAX) {
        __atomic_fetch_add(&maps_dropped_count, 1, __ATOMIC_RELAXED);
        return;
    }
    struct lp_mapping *e = &maps_entries[n];
    e->id = n + 1;
    e->start = start;
    e->limit = limit;
    e->offset = offset;
    e->bias = bias;
    maps_copy_str(e->path, sizeof(e->path), path);
    maps_copy_str(e->build_id, sizeof(e->build_id), build_id);
    e->unloaded = false;
    maps_seen[n] = maps_generation;
    __atomic_store_n(&maps_count, n + 1, __ATOMIC_RELEASE);
}

static int maps_callback(struct dl_phdr_info *info, size_t size, void *data)
{
    struct maps_scan *scan = data;
    bool first = scan->calls++ == 0;
    if (lp_seams.maps_scan_stall_ns && first)
        lp_sleep_ns(lp_seams.maps_scan_stall_ns);
    bool have_counts = size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs);
    if (first && have_counts) {
        bool force = __atomic_exchange_n(&maps_force, 0, __ATOMIC_ACQ_REL);
        if (!force && info->dlpi_adds == maps_adds && info->dlpi_subs == maps_subs) {
            scan->skipped = true;
            return 1; /* stop: nothing was loaded or unloaded since the last scan */
        }
        maps_adds = info->dlpi_adds;
        maps_subs = info->dlpi_subs;
    }

    const char *path = info->dlpi_name ? info->dlpi_name : "";
    bool is_vdso = false;
    for (int i = 0; i < info->dlpi_phnum && scan->vdso; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && ph->p_offset == 0) {
            is_vdso = info->dlpi_addr + ph->p_vaddr == scan->vdso;
            break;
        }
    }
    if (is_vdso)
        path = "[vdso]"; /* as /proc/self/maps names it; pprof knows it cannot be opened */
    else if (!path[0]) {
        if (!first)
            return 0; /* an object without a file: nothing to name it by */
        path = maps_exe_path();
    }

    char build_id[65];
    maps_build_id(info, build_id);
    uintptr_t page = maps_page_size();
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || ph->p_memsz == 0)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        uintptr_t start = lo & ~(page - 1);
        uintptr_t limit = (lo + ph->p_memsz + page - 1) & ~(page - 1);
        uint64_t offset = ph->p_offset & ~(uint64_t)(page - 1);
        maps_add(start, limit, offset, info->dlpi_addr, path, build_id);
    }
    return 0;
}

/* The scan itself, under maps_lock. */
static void maps_scan_locked(void)
{
    if (!maps_entries) {
        size_t bytes = LP_MAPS_MAX * (sizeof(struct lp_mapping) + sizeof(unsigned));
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return;
        maps_seen = (unsigned *)((struct lp_mapping *)p + LP_MAPS_MAX);
        __atomic_store_n(&maps_entries, (struct lp_mapping *)p, __ATOMIC_RELEASE);
    }
    maps_generation++;
    struct maps_scan scan = { 0, false, (uintptr_t)getauxval(AT_SYSINFO_EHDR) };
    dl_iterate_phdr(maps_callback, &scan);
    if (!scan.skipped) {
        unsigned n = __atomic_load_n(&maps_count, __ATOMIC_RELAXED);
        for (unsigned i = 0; i < n; i++)
            if (maps_seen[i] != maps_generation)
                __atomic_store_n(&maps_entries[i].unloaded, true, __ATOMIC_RELEASE);
    }
}

/*
 * A fork child whose parent had other threads may find the loader's lock held for ever:
 * glibc 2.36 resets dl_load_lock in the child, not dl_load_write_lock, which dl_iterate_phdr
 * takes and dlopen and dlclose hold while they change the list of objects (measured: a child
 * forked while another thread looped on dlopen/dlclose hung in lockprof's exit-time scan, 1
 * fork in 7). Those changes happen while the loader's r_state is not RT_CONSISTENT, and the
 * child inherits that state, so the child scans only while every namespace is RT_CONSISTENT;
 * otherwise it keeps the registry it inherited (objects loaded since the parent's last scan
 * then have no names in the child). A thread of the parent inside a dl_iterate_phdr at the
 * moment of the fork leaves the lock held with the state consistent: lockprof's own scan, made
 * under maps_lock, does so when a fork comes while another thread writes a profile (the
 * slowscan variant makes it happen at every fork: tests/preload/forkwrite.t). So a child whose
 * parent held maps_lock at the fork never scans: it keeps the registry it inherited. A scan
 * of the program's own at the fork is out of lockprof's reach (the program's next
 * dl_iterate_phdr would hang in that child too). The fork handler takes no lock: a scan there
 * would wait for the loader's lock, and a thread holding it inside a dl_iterate_phdr callback
 * may be waiting for the forking thread.
 */
static bool maps_in_child;     /* this process is a fork child; under maps_lock */
static bool maps_forked_scan;  /* ... of a parent that held maps_lock at the fork */

/* Every namespace's state (dlmopen makes namespaces of their own, each with its r_debug: glibc
 * 2.35's r_debug_extended, r_version 2, chained from _r_debug). */
static bool maps_loader_consistent(void)
{
    const struct r_debug_extended *r = (const struct r_debug_extended *)&_r_debug;
    for (int n = 0; r && n < 64; n++) {
        if (__atomic_load_n(&r->base.r_state, __ATOMIC_ACQUIRE) != RT_CONSISTENT)
            return false;
        if (__atomic_load_n(&r->base.r_version, __ATOMIC_RELAXED) < 2)
            break;
        r = __atomic_load_n(&r->r_next, __ATOMIC_ACQUIRE);
    }
    return true;
}

static bool maps_loader_usable(void)
{
    return !maps_in_child || (!maps_forked_scan && maps_loader_consistent());
}

unsigned lp_maps_refresh(void)
{
    lp_lock(&maps_lock);
    if (maps_loader_usable())
        maps_scan_locked();
    unsigned n = __atomic_load_n(&maps_count, __ATOMIC_RELAXED);
    lp_unlock(&maps_lock);
    return n;
}

void lp_maps_invalidate(void)
{
    __atomic_store_n(&maps_force, 1, __ATOMIC_RELEASE);
}

/* Newest first: when an unloaded object's range was reused, a loaded entry wins; an address
 * recorded before the unload cannot be told apart from one recorded after it. */
const struct lp_mapping *lp_maps_find(uintptr_t pc)
{
    unsigned n = __atomic_load_n(&maps_count, __ATOMIC_ACQUIRE);
    const struct lp_mapping *e = __atomic_load_n(&maps_entries, __ATOMIC_ACQUIRE);
    const struct lp_mapping *gone = NULL;
    for (unsigned i = n; i-- > 0;) {
        if (pc < e[i].start || pc >= e[i].limit)
            continue;
        if (!__atomic_load_n(&e[i].unloaded, __ATOMIC_ACQUIRE))
            return &e[i];
        if (!gone)
            gone = &e[i];
    }
    return gone;
}

const struct lp_mapping *lp_maps_all(unsigned *n)
{
    *n = __atomic_load_n(&maps_count, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&maps_entries, __ATOMIC_ACQUIRE);
}

unsigned lp_maps_dropped(void)
{
    return __atomic_load_n(&maps_dropped_count, __ATOMIC_RELAXED);
}

void lp_maps_atfork_child(void)
{
    /* Held at the fork (by a thread that is not here): the parent may have been inside
     * dl_iterate_phdr, whose lock no thread of the child will ever give back. Once set, for
     * the child's life, and its children's. */
    if (__atomic_load_n(&maps_lock.word, __ATOMIC_RELAXED) != 0)
        maps_forked_scan = true;
    maps_in_child = true;
    /* A scan the parent was making at the fork leaves the registry usable: entries are
     * published whole, and the next scan marks them afresh. */
    lp_lock_reset(&maps_lock);
}
