/* arena.c — see arena.h. Chunks come straight from mmap so that no allocator lock is ever
 * taken: the writer may run while another thread died holding malloc's locks (DESIGN §6). */
#include "arena.h"
#include "sys.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_CHUNK ((size_t)1 << 20)
#define ARENA_PAGE ((size_t)4096)

struct lp_arena_chunk {
    struct lp_arena_chunk *next; /* older chunk */
    size_t size;                 /* bytes mapped for this chunk, header included */
    size_t used;                 /* bytes handed out, header included */
    size_t pad;                  /* keeps the header a multiple of ARENA_ALIGN */
};

_Static_assert(sizeof(struct lp_arena_chunk) % ARENA_ALIGN == 0, "chunk header alignment");

static size_t arena_round(size_t n, size_t to)
{
    return (n + to - 1) & ~(to - 1);
}

LP_INIT_TEXT void lp_arena_init(struct lp_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? arena_round(chunk_size, ARENA_PAGE) : ARENA_DEFAULT_CHUNK;
    a->mapped = 0;
    a->failed = 0;
}

static struct lp_arena_chunk *arena_chunk_new(struct lp_arena *a, size_t need)
{
    size_t size = a->chunk_size ? a->chunk_size : ARENA_DEFAULT_CHUNK;
    size_t want = sizeof(struct lp_arena_chunk) + need;
    if (want < need) /* overflow */
        return NULL;
    if (want > size)
        size = arena_round(want, ARENA_PAGE);
    if (size < want)
        return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct lp_arena_chunk *c = p;
    c->size = size;
    c->used = sizeof(*c);
    c->next = a->head;
    a->head = c;
    a->mapped += size;
    return c;
}

void *lp_arena_alloc(struct lp_arena *a, size_t size)
{
    if (size == 0)
        size = 1;
    size_t need = arena_round(size, ARENA_ALIGN);
    if (need < size) {
        a->failed = 1;
        return NULL;
    }
    struct lp_arena_chunk *c = a->head;
    if (!c || c->size - c->used < need) {
        c = arena_chunk_new(a, need);
        if (!c) {
            a->failed = 1;
            return NULL;
        }
    }
    void *p = (char *)c + c->used;
    c->used += need;
    return p; /* fresh mmap memory is zero; reset re-zeroes what it keeps */
}

void *lp_arena_calloc(struct lp_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        a->failed = 1;
        return NULL;
    }
    return lp_arena_alloc(a, n * size);
}

char *lp_arena_strdup(struct lp_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *d = lp_arena_alloc(a, n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

char *lp_arena_strndup(struct lp_arena *a, const char *s, size_t n)
{
    char *d = lp_arena_alloc(a, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void lp_arena_reset(struct lp_arena *a)
{
    struct lp_arena_chunk *c = a->head;
    if (!c)
        return;
    while (c->next) {
        struct lp_arena_chunk *older = c->next;
        a->mapped -= c->size;
        munmap(c, c->size);
        c = older;
    }
    /* c is the first (oldest) chunk: keep it, zeroed again. */
    memset((char *)c + sizeof(*c), 0, c->used - sizeof(*c));
    c->used = sizeof(*c);
    a->head = c;
    a->failed = 0;
}

void lp_arena_destroy(struct lp_arena *a)
{
    struct lp_arena_chunk *c = a->head;
    while (c) {
        struct lp_arena_chunk *older = c->next;
        munmap(c, c->size);
        c = older;
    }
    a->head = NULL;
    a->mapped = 0;
    a->failed = 0;
}
