/*
 * maps.h — the registry of executable mappings (DESIGN §3.5).
 *
 * Every executable PT_LOAD segment of every loaded object, as dl_iterate_phdr reports it:
 * exact start and limit (page-aligned as the kernel maps them), file offset, path (the main
 * program's resolved through /proc/self/exe), load bias, and the GNU build-id in hex.
 * Entries are never removed: an object that was unloaded keeps its entry, marked
 * unloaded, so addresses recorded while it was loaded still get its name.
 *
 * Context: lp_maps_refresh takes lockprof's maps lock, then the loader lock (dl_iterate_phdr);
 * call it from lockprof's own thread, the writer, at start, or from an application thread
 * about to dlclose (interpose/library.c, busy), never from a signal handler;
 * lp_maps_atfork_child in a new process before anything else of this file.
 * lp_maps_find is lock-free and safe from any thread (entries are published, never changed).
 * Storage is a fixed, mmapped array (LP_MAPS_MAX entries); when full, new objects are not
 * registered and their addresses stay unnamed (counted in lp_maps_dropped()).
 */
#ifndef LP_MAPS_H
#define LP_MAPS_H

#include <stdbool.h>
#include <stdint.h>

#define LP_MAPS_MAX 4096

struct lp_mapping {
    uint64_t id;             /* 1-based, stable; the pprof Mapping id */
    uintptr_t start, limit;  /* [start, limit) of the executable segment, page-aligned */
    uint64_t offset;         /* file offset of start */
    uintptr_t bias;          /* load bias: address in memory = bias + ELF vaddr */
    char path[256];          /* "[vdso]" for the vDSO, as /proc/self/maps names it */
    char build_id[65];       /* lowercase hex, "" if none */
    bool unloaded;           /* its object was seen unloaded after this entry was made */
};

/* Rescans the loaded objects if any were added or removed since the last scan (or always,
 * the first time). Returns the number of entries. */
unsigned lp_maps_refresh(void);
/* Forces the next lp_maps_refresh() to rescan. Any context. */
void lp_maps_invalidate(void);
/* The entry that holds pc, or NULL. Lock-free. */
const struct lp_mapping *lp_maps_find(uintptr_t pc);
/* All entries, in id order: *n gets the count. */
const struct lp_mapping *lp_maps_all(unsigned *n);
unsigned lp_maps_dropped(void);
/* Fork: nothing is taken in the parent (sync.h). In the child this frees the registry's lock,
 * which a thread of the parent may have held; the child keeps every entry (each is published
 * whole), and scans again only if the parent was not scanning at the fork, and while the
 * loader's state says its lock is free (maps.c). */
void lp_maps_atfork_child(void);

#endif
