/*
 * prog_unwind — a C program that dlopens a C++ library (libthrower.cc) and reports on
 * the unwinding it finds, then times the library's exceptions.
 *
 * Everything it prints but the measure lines must be the same with and without the preload:
 *   unw_backtrace: NULL                   no libunwind symbol in the global scope
 *   SYMBOL: FILE                          where dlsym(RTLD_DEFAULT, SYMBOL) resolves (dladdr
 *                                         basename), for libgcc's _Unwind_* entry points
 *   thrower binds _Unwind_RaiseException: FILE
 *                                         the definition the C++ library itself binds to
 *   caught N / cleanups M                 the exceptions really were thrown and unwound
 * then
 *   measure throw_ns T                    CLOCK_MONOTONIC time of thrower_run(N)
 *   measure libunwind_mapped 0|1          whether libunwind.so.8 is in the process at all
 *                                         (under the preload it must be: else the timing
 *                                         compares nothing)
 *
 * The library is opened RTLD_GLOBAL so that dlsym(RTLD_DEFAULT, …) looks where its own
 * references look first: a libunwind linked into lockprof would come first there.
 *
 * Usage: prog_unwind LIBTHROWER [N]   (N defaults to 200000)
 */
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "progutil.h"

static const char *where(const void *addr)
{
    Dl_info info;
    if (!addr)
        return "NULL";
    if (!dladdr(addr, &info) || !info.dli_fname)
        return "(unknown)";
    const char *slash = strrchr(info.dli_fname, '/');
    return slash ? slash + 1 : info.dli_fname;
}

static void report(const char *sym)
{
    printf("%s: %s\n", sym, where(dlsym(RTLD_DEFAULT, sym)));
}

static int find_libunwind(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    return info->dlpi_name && strstr(info->dlpi_name, "libunwind.so.8") != NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: prog_unwind LIBTHROWER [N]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 200000;

    report("unw_backtrace");
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
        return 99;
    }
    long (*run)(long) = (long (*)(long))dlsym(h, "thrower_run");
    long (*cleanups)(void) = (long (*)(void))dlsym(h, "thrower_cleanups");
    void *(*raise_address)(void) = (void *(*)(void))dlsym(h, "thrower_raise_address");
    if (!run || !cleanups || !raise_address) {
        fprintf(stderr, "%s: thrower_* missing\n", argv[1]);
        return 99;
    }

    report("unw_backtrace");
    report("unw_getcontext");
    report("_ULx86_64_init_local");
    report("_Unwind_RaiseException");
    report("_Unwind_Resume");
    report("_Unwind_Backtrace");
    report("_Unwind_GetIP");
    report("_Unwind_Find_FDE");
    printf("thrower binds _Unwind_RaiseException: %s\n", where(raise_address()));

    /* Warm up: the first throws fill libgcc's caches and allocate libstdc++'s pools. */
    long warm = run(1000);
    long before = cleanups();
    uint64_t t0 = now_ns();
    long caught = run(n);
    uint64_t t1 = now_ns();
    printf("caught %ld of %ld (warm-up %ld)\n", caught, n, warm);
    printf("cleanups %ld\n", cleanups() - before);
    measure("throw_ns", t1 - t0);
    measure("libunwind_mapped", (uint64_t)dl_iterate_phdr(find_libunwind, NULL));
    return 0;
}
