/* demangle.c — see demangle.h. */
#include "demangle.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <libiberty/demangle.h>

/*
 * Why LP_DEMANGLE_MAX_NAME is 1024. cp-demangle.c keeps its parse on the stack, in two
 * variable-length arrays sized by the name's length (2 components of 32 bytes and 1
 * substitution of 8 per byte), and refuses a name of more than 1024 bytes itself (when 2 ×
 * length passes DEMANGLE_RECURSION_LIMIT, 2048): passing it no longer name bounds those arrays,
 * and the stack measured below, by our own check rather than by its internals.
 * rust-demangle.c has no such arrays; the same limit bounds the region its allocation takes
 * (LP_DEMANGLE_HEAP). Real names are far shorter: the longest of libstdc++'s 5,891 exported
 * C++ names has 177 bytes.
 *
 * Why LP_DEMANGLE_STACK is 1 MiB. Measured with Debian's libiberty 20230104 on x86-64, the
 * most stack a name took, lp_demangle's own frames included: 438 KiB for a C++ name of 1024
 * bytes chaining pointer or reference types ("_Z1fPPP…v", "_Z1fPKPK…v"), where the printer's
 * recursion limit stops it (1020 bytes take as much); at most 82 KiB for 9,000 random names of
 * 1024 bytes; 152 KiB for a Rust name recursing to its limit ("_RB_", a backreference to
 * itself). tests/unit/unit_demangle.c checks the deepest of them against half of it.
 */
#define DEMANGLE_GUARD ((size_t)4096)
/* The options of cp-demangle.c (demangle.h says why these). */
#define DEMANGLE_CPLUS_OPTIONS (DMGL_PARAMS | DMGL_ANSI)
/* "…", which ends a name that was cut. */
static const char demangle_cut_mark[] = "\xe2\x80\xa6";
#define DEMANGLE_MARK_LEN (sizeof demangle_cut_mark - 1)

/* ---- the allocator the demanglers' malloc, realloc and free are renamed to ------------------- */

/*
 * A bump region, emptied for each name: rust-demangle.c allocates one block per punycode
 * identifier, grows it with realloc one code point at a time and frees it, so the newest block
 * grows in place and a free of the newest block gives its room back. Anything else is served
 * from what is left, or refused (NULL: the demangler fails, and the name stays as it is).
 * Each block is preceded by its size.
 */
struct demangle_heap {
    char *base;
    size_t size, used;
    size_t last;    /* offset of the newest block's header, or SIZE_MAX */
};

/* The heap of the name being demangled on this thread, NULL outside lp_demangle. */
static __thread struct demangle_heap *demangle_heap_cur __attribute__((tls_model("initial-exec")));

#define DEMANGLE_ALIGN ((size_t)16)

static size_t demangle_round(size_t n)
{
    return (n + DEMANGLE_ALIGN - 1) & ~(DEMANGLE_ALIGN - 1);
}

/* A block of n bytes with its header at offset at, which becomes the newest: at, or SIZE_MAX
 * (and nothing changed) when the heap has no room for it. */
static size_t demangle_heap_take(struct demangle_heap *h, size_t at, size_t n)
{
    if (n > h->size || demangle_round(n) + DEMANGLE_ALIGN > h->size - at)
        return SIZE_MAX;
    memcpy(h->base + at, &n, sizeof n);
    h->used = at + DEMANGLE_ALIGN + demangle_round(n);
    h->last = at;
    return at;
}

void *lp_demangle_malloc(size_t n);
void *lp_demangle_realloc(void *p, size_t n);
void lp_demangle_free(void *p);

void *lp_demangle_malloc(size_t n)
{
    struct demangle_heap *h = demangle_heap_cur;
    if (!h)
        return NULL;
    size_t at = demangle_heap_take(h, h->used, n);
    return at == SIZE_MAX ? NULL : h->base + at + DEMANGLE_ALIGN;
}

void *lp_demangle_realloc(void *p, size_t n)
{
    struct demangle_heap *h = demangle_heap_cur;
    if (!p)
        return lp_demangle_malloc(n);
    if (!h)
        return NULL;
    size_t at = (size_t)((char *)p - h->base) - DEMANGLE_ALIGN, old;
    memcpy(&old, h->base + at, sizeof old);
    if (at == h->last) /* the newest block: grown (or shrunk) in place */
        return demangle_heap_take(h, at, n) == SIZE_MAX ? NULL : p;
    void *q = lp_demangle_malloc(n);
    if (q)
        memcpy(q, p, old < n ? old : n);
    return q;
}

void lp_demangle_free(void *p)
{
    struct demangle_heap *h = demangle_heap_cur;
    if (!p || !h)
        return;
    size_t at = (size_t)((char *)p - h->base) - DEMANGLE_ALIGN;
    if (at == h->last) {
        h->used = at;
        h->last = SIZE_MAX;
    }
}

/* ---- one name, on the demangler's stack ------------------------------------------------------ */

struct demangle_job {
    const char *name;
    char *buf;
    size_t size, len;   /* len: bytes in buf so far */
    int ok;             /* a demangler took the name (or it was cut) */
    void *jmp[5];       /* __builtin_setjmp's buffer */
};

/* The demanglers' output callback: appends to buf; when the output does not fit, cuts it at a
 * character boundary, marks it, and leaves the demangler (which would print on, possibly for
 * ever). __builtin_longjmp, not longjmp: lockprof interposes longjmp (interpose/jump.c), and
 * this jump stays inside lp_demangle's own frames on its own stack. */
static void demangle_put(const char *s, size_t n, void *opaque)
{
    struct demangle_job *j = opaque;
    size_t room = j->size - 1 - j->len;
    if (n <= room) {
        memcpy(j->buf + j->len, s, n);
        j->len += n;
        return;
    }
    memcpy(j->buf + j->len, s, room);
    size_t len = j->size - 1 - DEMANGLE_MARK_LEN;
    while (len > 0 && ((unsigned char)j->buf[len] & 0xc0) == 0x80)
        len--;
    memcpy(j->buf + len, demangle_cut_mark, DEMANGLE_MARK_LEN);
    j->len = len + DEMANGLE_MARK_LEN;
    __builtin_longjmp(j->jmp, 1);
}

static void demangle_run(void *arg)
{
    struct demangle_job *j = arg;
    if (__builtin_setjmp(j->jmp) != 0) {
        j->ok = 1; /* cut */
        return;
    }
    j->ok = rust_demangle_callback(j->name, 0, demangle_put, j);
    if (!j->ok && j->name[0] == '_' && j->name[1] == 'Z') {
        j->len = 0; /* what a v0 name printed before it failed */
        j->ok = cplus_demangle_v3_callback(j->name, DEMANGLE_CPLUS_OPTIONS, demangle_put, j);
    }
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* AddressSanitizer and ThreadSanitizer keep their own account of each thread's stack, which
 * a switch they are not told of confuses: their builds (tests only, on threads of 8 MiB)
 * demangle on the caller's stack. */
static void demangle_call_on(void *arg, void (*fn)(void *), void *top)
{
    (void)top;
    fn(arg);
}
#else
/* Calls fn(arg) with the stack pointer at top (16-byte aligned) and returns on the caller's
 * stack. A frame-pointer frame, described to the unwinders, so that a debugger's backtrace
 * goes on from the demangler's frames to the caller's. */
__attribute__((naked, noinline)) static void demangle_call_on(void *arg, void (*fn)(void *),
                                                               void *top)
{
    (void)arg, (void)fn, (void)top;
    __asm__("push %rbp\n\t"
            ".cfi_adjust_cfa_offset 8\n\t"
            ".cfi_rel_offset %rbp, 0\n\t"
            "mov %rsp, %rbp\n\t"
            ".cfi_def_cfa_register %rbp\n\t"
            "mov %rdx, %rsp\n\t"
            "call *%rsi\n\t"
            "mov %rbp, %rsp\n\t"
            ".cfi_def_cfa_register %rsp\n\t"
            "pop %rbp\n\t"
            ".cfi_adjust_cfa_offset -8\n\t"
            ".cfi_restore %rbp\n\t"
            "ret\n\t");
}
#endif

/* ---- the interface --------------------------------------------------------------------------- */

int lp_demangle_open(struct lp_demangler *d)
{
    size_t len = DEMANGLE_GUARD + LP_DEMANGLE_STACK + LP_DEMANGLE_HEAP;
    d->map = NULL;
    d->len = 0;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED)
        return -errno;
    if (mprotect(m, DEMANGLE_GUARD, PROT_NONE) != 0) {
        int err = -errno;
        munmap(m, len);
        return err;
    }
    d->map = m;
    d->len = len;
    return 0;
}

void lp_demangle_close(struct lp_demangler *d)
{
    if (d->map)
        munmap(d->map, d->len);
    d->map = NULL;
    d->len = 0;
}

const char *lp_demangle(struct lp_demangler *d, const char *name, char *buf, size_t size)
{
    /* Only _Z (C++, Rust legacy) and _R (Rust v0) names are anyone's to demangle. */
    if (!d->map || size <= DEMANGLE_MARK_LEN || name[0] != '_' ||
        (name[1] != 'Z' && name[1] != 'R') || strnlen(name, LP_DEMANGLE_MAX_NAME + 1) >
        LP_DEMANGLE_MAX_NAME)
        return name;
    char *heap = d->map + d->len - LP_DEMANGLE_HEAP;
    struct demangle_heap h = { .base = heap, .size = LP_DEMANGLE_HEAP, .last = SIZE_MAX };
    struct demangle_job j = { .name = name, .buf = buf, .size = size };
    demangle_heap_cur = &h;
    demangle_call_on(&j, demangle_run, heap);
    demangle_heap_cur = NULL;
    if (!j.ok || j.len == 0)
        return name;
    buf[j.len] = '\0';
    return buf;
}
