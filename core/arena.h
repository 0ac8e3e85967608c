/*
 * arena.h — bump allocation from anonymous mmap chunks, for the writer.
 *
 * The writer may run while the program is dying of a signal, interrupted anywhere, malloc's
 * locks included (DESIGN §6), so everything it needs (protobuf-c messages, zlib's state,
 * symbol tables) comes from here. One arena belongs to one writer at a time; it is not
 * thread-safe. Memory is zeroed. lp_arena_reset() keeps the first chunk and unmaps the rest.
 */
#ifndef LP_ARENA_H
#define LP_ARENA_H

#include <stddef.h>

struct lp_arena_chunk;

struct lp_arena {
    struct lp_arena_chunk *head; /* newest chunk first */
    size_t chunk_size;           /* default size of a new chunk */
    size_t mapped;               /* bytes mapped now, for the memory bound */
    int failed;                  /* an allocation failed since the last reset */
};

/* chunk_size 0 means 1 MiB. No memory is mapped until the first allocation. */
void lp_arena_init(struct lp_arena *a, size_t chunk_size);
/* Zeroed, 16-byte aligned; NULL (and a->failed set) when mmap fails. */
void *lp_arena_alloc(struct lp_arena *a, size_t size);
void *lp_arena_calloc(struct lp_arena *a, size_t n, size_t size);
char *lp_arena_strdup(struct lp_arena *a, const char *s);
/* The first n bytes of s (which need not be NUL-terminated), NUL-terminated. */
char *lp_arena_strndup(struct lp_arena *a, const char *s, size_t n);
void lp_arena_reset(struct lp_arena *a);
/* Unmaps every chunk (tests and tools; lockprof itself never tears down). */
void lp_arena_destroy(struct lp_arena *a);

#endif
