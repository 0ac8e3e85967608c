/*
 * elfsym.h — names for addresses, from ELF files on disk (DESIGN §3.5).
 *
 * For one mapping, the symbol tables of its file (.symtab, .dynsym) and of its separate debug
 * file when installed: /usr/lib/debug/.build-id/xx/yyyy.debug by build-id, or the
 * .gnu_debuglink file beside the object, in its .debug/ directory, or under /usr/lib/debug.
 * Files are mmapped read-only; tables are built in the caller's arena (no malloc), sorted,
 * and looked up by binary search. C++ names are returned mangled, as pprof wants them.
 *
 * Context: the writer only (lockprof's thread or the exiting thread). Not thread-safe: one
 * lp_symbolizer per writer, living in that writer's arena.
 */
#ifndef LP_ELFSYM_H
#define LP_ELFSYM_H

#include <stdint.h>

#include "arena.h"
#include "maps.h"

struct lp_symbolizer;

struct lp_symbolizer *lp_sym_new(struct lp_arena *a);
/* The name of the function that holds pc (an address in memory inside m), or NULL. The string
 * lives in the arena or in a mapped file, valid until the arena is reset. */
const char *lp_sym_lookup(struct lp_symbolizer *s, const struct lp_mapping *m, uintptr_t pc);
/* The same, and *offset (if not NULL) gets pc minus the function's start address. */
const char *lp_sym_lookup_offset(struct lp_symbolizer *s, const struct lp_mapping *m,
                                 uintptr_t pc, uintptr_t *offset);
/* Unmaps the files the symbolizer mapped (the arena's memory is the caller's to reset). */
void lp_sym_close(struct lp_symbolizer *s);

#endif
