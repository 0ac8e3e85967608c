/*
 * libearly — a library whose constructor calls libc's syscall() before lockprof's constructor
 * has run (syscall.t preloads it after liblockprof.so: the loader runs the constructors of the
 * later one first). It prints what each call returned, facts that hold on any run, and
 * whether lockprof was there and not yet started (its C API answers -EAGAIN until then).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

__attribute__((constructor)) void early_calls()
{
    long tid = syscall(SYS_gettid);
    errno = 0;
    long bad = syscall(100000);
    int bad_errno = errno;
    uint32_t word = 1;
    errno = 0;
    long again = syscall(SYS_futex, &word, 128 /* FUTEX_WAIT_PRIVATE */, 0, nullptr, nullptr, 0);
    int again_errno = errno;
    errno = 55;
    long woke = syscall(SYS_futex, &word, 129 /* FUTEX_WAKE_PRIVATE */, 1, nullptr, nullptr, 0);
    int woke_errno = errno;
    printf("early gettid: %s\n", tid == getpid() ? "the pid" : "other");
    printf("early invalid number: %ld, errno %s\n", bad, bad_errno == ENOSYS ? "ENOSYS" : "other");
    printf("early futex wait on a changed word: %ld, errno %s\n", again,
           again_errno == EAGAIN ? "EAGAIN" : "other");
    printf("early futex wake of nobody: %ld, errno %d\n", woke, woke_errno);
    auto write_profile = reinterpret_cast<int (*)(int, int, int)>(
        dlsym(RTLD_DEFAULT, "lockprof_write_profile"));
    if (write_profile)
        printf("lockprof before its start: %s\n",
               write_profile(0, -1, 0) == -EAGAIN ? "yes" : "no");
    fflush(stdout);
}

} // namespace
