/*
 * elfnote.h — the GNU build-id in a block of ELF notes.
 *
 * One parser for both places notes come from: a loaded object's PT_NOTE segments in memory
 * (maps.c) and a file's SHT_NOTE sections on disk (elfsym.c). Bounds-checked: the block may
 * be truncated or hostile. Pure function, safe from any context.
 */
#ifndef LP_ELFNOTE_H
#define LP_ELFNOTE_H

#include <stdbool.h>
#include <stddef.h>

/* Looks for an NT_GNU_BUILD_ID note named "GNU" in notes[0, len), aligned to `align` (4 or
 * 8). On success writes at most 32 bytes of id as lowercase hex into out and returns true. */
bool lp_elfnote_build_id(const void *notes, size_t len, size_t align, char out[65]);

#endif
