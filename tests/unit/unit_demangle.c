/*
 * unit_demangle — lp_demangle (core/demangle.h) on real names: Rust's legacy and v0 schemes
 * (from Debian's rustc 1.63, v0 with -C symbol-mangling-version=v0, identifiers in Unicode
 * included), C++ from g++ 12 (libstdc++'s templates); what it leaves as it is (a C name,
 * garbage, a name over LP_DEMANGLE_MAX_NAME); cuts (a buffer too small, at a character
 * boundary); names whose demangling grows exponentially, cut in bounded time; the stack it
 * needs (its own: a thread of 64 KiB demangles the deepest names, and they use under half of
 * LP_DEMANGLE_STACK); and that it never calls malloc, calloc or realloc (this program's own
 * definitions count the calls).
 *
 * The expected names are what `c++filt -i` (binutils 2.40) prints for them.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "demangle.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* These sanitizers define malloc themselves, and demangle on the caller's stack (demangle.c). */
#define UNIT_PLAIN 0
#else
#define UNIT_PLAIN 1
#endif

/* ---- counting the allocations ---------------------------------------------------------------- */

static volatile int counting;

#if UNIT_PLAIN
static unsigned long allocs;

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

void *malloc(size_t n)
{
    if (counting)
        __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    if (counting)
        __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED);
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    if (counting)
        __atomic_add_fetch(&allocs, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, n);
}
#endif

/* lp_demangle, its allocations counted. */
static const char *dm(struct lp_demangler *d, const char *name, char *buf, size_t size)
{
    counting = 1;
    const char *r = lp_demangle(d, name, buf, size);
    counting = 0;
    return r;
}

/* ---- the names ------------------------------------------------------------------------------- */

static const struct {
    const char *what, *mangled, *readable;
} names[] = {
    { "Rust legacy", "_ZN9real_rust18convoy_waiter_wait17hf65c92748e46f128E",
      "real_rust::convoy_waiter_wait" },
    { "Rust legacy, escapes", "_ZN3std4sync4mpsc17Receiver$LT$T$GT$4recv17h4c35977de58ed60dE",
      "std::sync::mpsc::Receiver<T>::recv" },
    { "Rust legacy, .llvm suffix",
      "_ZN4core3ops8function6FnOnce40call_once$u7b$$u7b$vtable.shim$u7d$$u7d$"
      "17h5d4950ab86e5be51E.llvm.12705490928058775097",
      "core::ops::function::FnOnce::call_once{{vtable.shim}}" },
    { "Rust v0", "_RNCNvCsdh0vNxqQoqZ_3uni4main0B3_", "uni::main::{closure#0}" },
    { "Rust v0, generic",
      "_RINvMs1_NtCs6IL9ONYDOZW_4core3fmtNtB6_10ArgumentV19new_debugINtNtCsihNoVIYWwLU_5alloc3"
      "vec3VecThReEEECsdh0vNxqQoqZ_3uni",
      "<core::fmt::ArgumentV1>::new_debug::<alloc::vec::Vec<(u8, &str)>>" },
    { "Rust v0, shim",
      "_RNSNvYNCINvNtCsdyIG5SqMl5y_3std2rt10lang_startuE0INtNtNtCs6IL9ONYDOZW_4core3ops8funct"
      "ion6FnOnceuE9call_once6vtableCsdh0vNxqQoqZ_3uni",
      "<std::rt::lang_start<()>::{closure#0} as core::ops::function::FnOnce<()>>::call_once::"
      "{shim:vtable#0}" },
    { "Rust v0, Unicode (punycode)", "_RNvMCsdh0vNxqQoqZ_3uniNtB2_u9Wrter_juau8zhle_loa",
      "<uni::W\xc3\xb6rter>::z\xc3\xa4hle" },
    { "Rust v0, Unicode, generic",
      "_RINvCsdh0vNxqQoqZ_3uniu9gre_6ka8lINtNtCsihNoVIYWwLU_5alloc3vec3VecThReEEEB2_",
      "uni::gr\xc3\xbc\xc3\x9f" "e::<alloc::vec::Vec<(u8, &str)>>" },
    { "C++", "_ZN12_GLOBAL__N_118atomic_waiter_waitEi",
      "(anonymous namespace)::atomic_waiter_wait(int)" },
    { "C++, std::string abbreviated", "_ZNSs4swapERSs", "std::string::swap(std::string&)" },
    { "C++, clone suffix", "_Z3foov.cold", "foo() [clone .cold]" },
    { "C++, templates",
      "_ZSt23__atomic_wait_address_vIiZNKSt13__atomic_baseIiE4waitEiSt12memory_orderEUlvE_EvPKT_"
      "S4_T0_",
      "void std::__atomic_wait_address_v<int, std::__atomic_base<int>::wait(int, "
      "std::memory_order) const::{lambda()#1}>(int const*, int, std::__atomic_base<int>::"
      "wait(int, std::memory_order) const::{lambda()#1})" },
    { "C++, templates and lambdas",
      "_ZNSt6thread11_State_implINS_8_InvokerISt5tupleIJZN12_GLOBAL__N_110latch_partEvEUlvE_EEE"
      "EE6_M_runEv",
      "std::thread::_State_impl<std::thread::_Invoker<std::tuple<(anonymous namespace)::"
      "latch_part()::{lambda()#1}> > >::_M_run()" },
};

/* Left as they are: not C++ or Rust, or not valid. */
static const char *const unchanged[] = {
    "pthread_mutex_lock", "main", "", "_", "_Z", "_R", "_ZN3foo", "_Zxyz", "_ZZZZ",
    "_RNvC3foo", "_RB_", "__libc_start_call_main", "_ZN9real_rust18convoy_waiter_wait17hE",
    "0x7f9fb72d44a2 (libstdc++.so.6)", "\x1b[2J",
};

/* ---- helpers --------------------------------------------------------------------------------- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + ul * i, unit, ul);
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

/* A v0 name whose demangling doubles with each of k tuples, each holding the one before it
 * twice by backreference: a::f::<(((((), ()), ((), ())), …)>. */
static char *exponential_v0(int k)
{
    static const char b62[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char *s = malloc(64 + (size_t)k * 16);
    size_t n = (size_t)sprintf(s, "_RINvC1a1f"), prev = n - 2;
    n += (size_t)sprintf(s + n, "TuuE");
    for (int i = 0; i < k; i++) {
        size_t pos = n - 2, v = prev - 1; /* positions count from after "_R"; base 62, minus 1 */
        char num[16];
        int d = 0;
        do
            num[d++] = b62[v % 62];
        while ((v /= 62) != 0);
        s[n++] = 'T';
        for (int twice = 0; twice < 2; twice++) {
            s[n++] = 'B';
            for (int x = d - 1; x >= 0; x--)
                s[n++] = num[x];
            s[n++] = '_';
        }
        s[n++] = 'E';
        prev = pos;
    }
    strcpy(s + n, "E");
    return s;
}

/* The same in C++: f(a, c0<a, a>, c1<c0<a, a>, c0<a, a> >, …), each ci naming c(i-1)'s
 * instance twice by substitution. */
static char *exponential_cxx(int k)
{
    char *s = malloc(64 + (size_t)k * 32);
    size_t n = (size_t)sprintf(s, "_Z1f1a");
    int last = -1, nsub = 1;
    for (int i = 0; i < k; i++) {
        static const char b36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        char sub[16];
        if (last < 0)
            strcpy(sub, "S_");
        else if (last < 36)
            sprintf(sub, "S%c_", b36[last]);
        else
            sprintf(sub, "S%c%c_", b36[last / 36], b36[last % 36]);
        n += (size_t)sprintf(s + n, "%zuc%dI%s%sE", strlen("c") + (i < 10 ? 1 : 2), i, sub,
                             sub);
        last = nsub;
        nsub += 2;
    }
    return s;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#if UNIT_PLAIN
/* ---- the deepest names, on a small thread ---------------------------------------------------- */

struct deep {
    const char *name, *want_prefix;
    const char *got;
    char buf[4096];
    struct lp_demangler *d;
};

static void *deep_thread(void *arg)
{
    struct deep *t = arg;
    t->got = dm(t->d, t->name, t->buf, sizeof t->buf);
    return NULL;
}

/* The bytes of d's stack ever touched (its pages resident), from the top. */
static size_t stack_touched(const struct lp_demangler *d)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), start = page; /* after the guard page */
    size_t pages = LP_DEMANGLE_STACK / page;
    unsigned char *vec = malloc(pages);
    size_t touched = 0;
    if (mincore(d->map + start, LP_DEMANGLE_STACK, vec) == 0)
        for (size_t i = 0; i < pages; i++)
            if (vec[i] & 1) {
                touched = LP_DEMANGLE_STACK - i * page;
                break;
            }
    free(vec);
    return touched;
}

static void deep_names(const char *at)
{
    /* The deepest names, on a thread of 64 KiB: the demangler's stack is its own. Each
     * recurses as deep as its demangler lets it (demangle.c); prefix NULL: refused, after
     * recursing to the limit. */
    char *refs = repeat("_Z1f", "R", LP_DEMANGLE_MAX_NAME - 5, "v");
    char *pks = repeat("_Z1f", "PK", (LP_DEMANGLE_MAX_NAME - 5) / 2, "v");
    char *rust_refs = repeat("_RINvC1a1f", "R", 1000, "uE");
    struct deep t[] = {
        { .name = at, .want_prefix = "f(void**" },
        { .name = refs, .want_prefix = "f(void&" },
        { .name = pks, .want_prefix = "f(void const* const*" },
        { .name = rust_refs, .want_prefix = "a::f::<&&&" },
        { .name = "_RB_", .want_prefix = NULL },
        { .name = "_RYB_B_", .want_prefix = NULL },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct lp_demangler dd;
        lp_demangle_open(&dd);
        t[i].d = &dd;
        pthread_attr_t attr;
        pthread_t th;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        int rc = pthread_create(&th, &attr, deep_thread, &t[i]);
        if (rc == 0)
            pthread_join(th, NULL);
        pthread_attr_destroy(&attr);
        size_t used = stack_touched(&dd);
        const char *want = t[i].want_prefix;
        bool as_wanted = want ? t[i].got == t[i].buf && strncmp(t[i].got, want, strlen(want)) == 0
                              : t[i].got == t[i].name;
        ok(rc == 0 && as_wanted, "on a thread of 64 KiB: \"%.20s…\" (%zu bytes) -> \"%.20s…\"",
           t[i].name, strlen(t[i].name), t[i].got ? t[i].got : "(null)");
        ok(used > 0 && used < LP_DEMANGLE_STACK / 2,
           "… on %zu KiB of its own stack (under half of LP_DEMANGLE_STACK)", used >> 10);
        lp_demangle_close(&dd);
    }
    is_u64(allocs, 0, "no malloc, calloc or realloc there either");
    free(refs);
    free(pks);
    free(rust_refs);
}

#endif

int main(void)
{
    struct lp_demangler d;
    is_i64(lp_demangle_open(&d), 0, "lp_demangle_open maps its stack");
    char buf[4096];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        is_str(dm(&d, names[i].mangled, buf, sizeof buf), names[i].readable, "%s",
               names[i].what);
    for (size_t i = 0; i < sizeof unchanged / sizeof unchanged[0]; i++)
        ok(dm(&d, unchanged[i], buf, sizeof buf) == unchanged[i],
           "left as it is: \"%s\"", unchanged[i][0] == 0x1b ? "\\x1b[2J" : unchanged[i]);

    /* The length limit: a valid name of LP_DEMANGLE_MAX_NAME bytes is demangled, one more byte
     * and it stays as it is (a Rust one too). */
    char *at = repeat("_Z1f", "P", LP_DEMANGLE_MAX_NAME - 5, "v");
    char *over = repeat("_Z1f", "P", LP_DEMANGLE_MAX_NAME - 4, "v");
    char *rust_over =
        repeat("_ZN", "3abc", (LP_DEMANGLE_MAX_NAME - 20) / 4, "17hf65c92748e46f128E");
    is_u64(strlen(at), LP_DEMANGLE_MAX_NAME, "a C++ name of LP_DEMANGLE_MAX_NAME bytes…");
    const char *r = dm(&d, at, buf, sizeof buf);
    ok(r == buf && strncmp(buf, "f(void*", 7) == 0, "… is demangled");
    ok(dm(&d, over, buf, sizeof buf) == over, "one byte more, and it stays as it is");
    ok(strlen(rust_over) > LP_DEMANGLE_MAX_NAME &&
           dm(&d, rust_over, buf, sizeof buf) == rust_over,
       "a Rust name over LP_DEMANGLE_MAX_NAME stays as it is");

    /* Buffers too small. */
    const char *tmpl = names[11].mangled, *tmpl_full = names[11].readable;
    ok(dm(&d, tmpl, buf, 3) == tmpl, "a buffer of 3 bytes: the name as it is");
    r = dm(&d, tmpl, buf, 4);
    is_str(r, "\xe2\x80\xa6", "a buffer of 4 bytes: the mark alone");
    r = dm(&d, tmpl, buf, 40);
    if (!ok(r == buf && strlen(buf) == 39 && strncmp(buf, tmpl_full, 36) == 0 &&
                strcmp(buf + 36, "\xe2\x80\xa6") == 0,
            "a buffer of 40 bytes: 36 of the name, then the mark"))
        diag("  got \"%s\"", r);
    /* "<uni::W" is 7 bytes, then ö takes 2: a cut at 8 goes back to 7. */
    r = dm(&d, names[6].mangled, buf, 12);
    is_str(r, "<uni::W\xe2\x80\xa6", "a cut inside a character goes back to its start");
    r = dm(&d, names[0].mangled, buf, strlen(names[0].readable) + 1);
    is_str(r, names[0].readable, "a buffer that just fits: the whole name");
    r = dm(&d, names[0].mangled, buf, strlen(names[0].readable));
    ok(r == buf && strlen(buf) == strlen(names[0].readable) - 1 &&
           strcmp(buf + strlen(buf) - 3, "\xe2\x80\xa6") == 0,
       "one byte less: cut, with the mark");

    /* Exponential demanglings stop at the buffer: 2^40 tuples would take days to print. */
    char *ev0 = exponential_v0(40), *ecxx = exponential_cxx(30);
    double t0 = now_s();
    r = dm(&d, ev0, buf, sizeof buf);
    ok(r == buf && strlen(buf) > sizeof buf - 8 && strncmp(buf, "a::f::<((), ()), ((", 18) == 0 &&
           strcmp(buf + strlen(buf) - 3, "\xe2\x80\xa6") == 0,
       "a v0 name of %zu bytes whose demangling doubles 40 times: cut at the buffer",
       strlen(ev0));
    r = dm(&d, ecxx, buf, sizeof buf);
    ok(r == buf && strlen(buf) > sizeof buf - 8 && strncmp(buf, "f(a, c0<a, a>", 13) == 0 &&
           strcmp(buf + strlen(buf) - 3, "\xe2\x80\xa6") == 0,
       "a C++ name of %zu bytes whose demangling doubles 30 times: cut at the buffer",
       strlen(ecxx));
    double took = now_s() - t0;
    /* Each stops after at most a few thousand callbacks (the buffer), microseconds each. */
    ok(took < 2.0, "both in %.3f s (< 2 s)", took);

#if UNIT_PLAIN
    is_u64(allocs, 0, "no malloc, calloc or realloc while demangling all of the above");
    deep_names(at);
#else
    diag("the allocation count and the demangler's own stack are checked in the plain build");
#endif

    /* A closed (or never mapped) demangler leaves every name as it is. */
    lp_demangle_close(&d);
    ok(dm(&d, names[0].mangled, buf, sizeof buf) == names[0].mangled,
       "a closed demangler leaves names as they are");
    free(at);
    free(over);
    free(rust_over);
    free(ev0);
    free(ecxx);
    return done_testing();
}
