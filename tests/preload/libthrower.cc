/*
 * libthrower — C++ that a C program dlopens, to see that the host's own unwinding is
 * untouched under the preload (DESIGN §3.4: libunwind linked into lockprof made libgcc's
 * _Unwind_* lose to its own in the host, and C++ exceptions 10.8× slower).
 *
 *   long thrower_run(long n)      throws and catches n exceptions, each thrown three frames
 *                                 down through frames with destructors (so both unwinding
 *                                 phases run: search, then cleanups); returns how many were
 *                                 caught with the right value
 *   long thrower_cleanups(void)   destructors run so far during unwinding
 *   void *thrower_raise_address(void)
 *                                 the _Unwind_RaiseException this library's code binds to,
 *                                 which is the one libstdc++'s __cxa_throw, loaded with it,
 *                                 binds to too
 */
#include <unwind.h>

namespace {

struct thrower_error {
    long n;
};

volatile long cleanups;

struct thrower_guard {
    ~thrower_guard() { cleanups = cleanups + 1; }
};

__attribute__((noinline)) void thrower_leaf(long i)
{
    thrower_guard g;
    if (i >= 0)
        throw thrower_error{ i };
}

__attribute__((noinline)) void thrower_mid(long i)
{
    thrower_guard g;
    thrower_leaf(i);
}

__attribute__((noinline)) void thrower_top(long i)
{
    thrower_guard g;
    thrower_mid(i);
}

} // namespace

extern "C" long thrower_run(long n)
{
    long caught = 0;
    for (long i = 0; i < n; i++) {
        try {
            thrower_top(i);
        } catch (const thrower_error &e) {
            caught += e.n == i;
        }
    }
    return caught;
}

extern "C" long thrower_cleanups(void)
{
    return cleanups;
}

extern "C" void *thrower_raise_address(void)
{
    return (void *)&_Unwind_RaiseException;
}
