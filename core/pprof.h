/*
 * pprof.h — one contention profile as gzip-compressed profile.proto (DESIGN §3.5).
 *
 * sample_type = [contentions/count, delay/nanoseconds], period_type = contentions/count,
 * period = 1, default_sample_type unset — or, for the CPU profile, Go's CPU profile's types
 * (struct lp_pp_kind). Each sample's stack is: a mapping-less location carrying the leaf name
 * (the interposed call, or a lockprof::… synthetic frame; none for a sample without a leaf
 * name, the CPU profile's), then one location per return address, holding that address − 1,
 * with the mapping found in the registry (maps.h) and, where the symbolizer finds one, a Line
 * naming its function, then the synthetic tail if any. A synthetic frame's location is at its
 * synthetic address (lp_pprof_synthetic_address): scrapers identify a sample by its addresses
 * alone, so two stacks that differ only in their leaf must differ there too; with no mapping,
 * no symbolizer renames it. Locations, functions and mappings are deduplicated; only mappings
 * that hold a written address are emitted. has_* flags stay false so DWARF-capable tools can
 * add file:line.
 *
 * Addresses are looked up in the registry as it stands: the caller runs lp_maps_refresh()
 * first where it may take the loader lock (not on a fatal-signal path).
 *
 * Context: the writer only. Uses no malloc: everything comes from the arena, including
 * zlib's state (gzip, via deflateInit2 windowBits 16+15).
 */
#ifndef LP_PPROF_H
#define LP_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

struct lp_pp_sample {
    const char *leaf;       /* name of the synthetic leaf frame, or NULL for none */
    const uintptr_t *pcs;   /* return addresses, innermost first (the leaf's caller first) */
    unsigned depth;         /* number of pcs */
    const char *tail;       /* a synthetic outermost frame (e.g. "lockprof::truncated"), or NULL */
    int64_t count;          /* value[0]: contentions (samples), already rounded */
    int64_t delay;          /* value[1]: nanoseconds */
};

/* A profile's two sample types (value[0] and value[1] of every sample) and its period. */
struct lp_pp_kind {
    const char *type[2], *unit[2];
    const char *period_type, *period_unit;
    int64_t period;
};
/* Go's block and mutex profiles': contentions/count, delay/nanoseconds; contentions/count, 1. */
extern const struct lp_pp_kind lp_pp_contention;

struct lp_pp_profile {
    const struct lp_pp_sample *samples;
    size_t nsamples;
    const char *const *comments;
    size_t ncomments;
    int64_t time_nanos;     /* when written (cumulative) or end of the window (delta) */
    int64_t duration_nanos; /* 0 for a cumulative profile */
    const struct lp_pp_kind *kind; /* NULL: lp_pp_contention */
};

/* The address of the synthetic frame called name: non-zero, 16-aligned, derived from the name
 * alone (the same in every profile and every process), and non-canonical on x86-64, so never
 * the address of anything mapped. Any context. */
uint64_t lp_pprof_synthetic_address(const char *name);
/* Whether address (or address + 1..15, as the text form's return addresses) is in the range
 * of synthetic addresses. */
bool lp_pprof_is_synthetic(uint64_t address);

/* Encodes p and writes it, gzip-compressed, to fd. 0 or -errno (-ENOMEM: arena exhausted). */
int lp_pprof_write(int fd, struct lp_arena *a, const struct lp_pp_profile *p);

/* Writes p in Go's legacy text form (runtime/pprof debug=1): the header line the caller
 * gives ("--- contention:" or "--- mutex:"), cycles/second=1000000000, "sampling period=1"
 * for mutex, "<delay> <count> @ <return addresses>" per sample with symbolized "#" lines,
 * then "--- Memory map: ---" and the referenced mappings in /proc/self/maps form. The
 * synthetic leaf and tail are there at their synthetic address + 1 ("#" lines "name+0x1"),
 * so that pprof, which takes 1 from every address of this form, finds the pprof form's
 * locations. The "#" lines name C++ and Rust functions demangled (demangle.h), the
 * profile.proto form as they are found: pprof demangles those itself. 0 or -errno. */
int lp_pprof_write_text(int fd, struct lp_arena *a, const struct lp_pp_profile *p,
                        const char *header);

#endif
