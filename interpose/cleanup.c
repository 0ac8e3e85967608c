/*
 * cleanup.c — the two entry points of the C++ ABI's unwinder that the wrappers' cancellation
 * cleanups need (-fexceptions: a thread cancelled inside pthread_cond_wait, read or sem_wait
 * unwinds through the wrapper, whose cleanup ends the wait it registered; wait.h).
 *
 * Code compiled with -fexceptions refers to __gcc_personality_v0 (named in every function's
 * unwind information) and _Unwind_Resume (called at the end of a cleanup). Linked normally,
 * both come from libgcc_s, which every process would then load at start for calls made only
 * while a thread unwinds. Here they are this library's own, and forward to the unwinder that
 * is unwinding: one in the program's global scope (a C++ program's libgcc_s), or the libgcc_s
 * that glibc loads, privately, to cancel a thread. Both exist by the time either is called,
 * because only that unwinder calls the personality routine, and only through it are cleanups
 * reached. They are looked up at that first call (the loader is asked only then: every process
 * starts without the cost, and one that never unwinds never pays it).
 *
 * The types are the ABI's (the Itanium C++ ABI's unwinding interface, as x86-64 passes them):
 * the reason code and the actions are ints, the exception class 64 bits; the exception and the
 * context are only passed on. (<unwind.h> is not included: interpose/unwind.h is lockprof's.)
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>

static void *cleanup_find(void **cache, const char *name)
{
    void *p = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (p)
        return p;
    int saved = errno;
    p = dlsym(RTLD_DEFAULT, name);
    if (!p) {
        /* glibc's private copy: RTLD_NOLOAD finds it without loading anything. The reference
         * is kept (it is glibc's for the life of the process anyway). */
        void *h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD);
        if (h)
            p = dlsym(h, name);
    }
    if (p)
        __atomic_store_n(cache, p, __ATOMIC_RELEASE);
    errno = saved;
    return p;
}

enum { CLEANUP_CONTINUE_UNWIND = 8 }; /* _URC_CONTINUE_UNWIND */
typedef int (*cleanup_personality_fn)(int, int, uint64_t, void *, void *);
static void *cleanup_personality;
static void *cleanup_resume;

int __gcc_personality_v0(int version, int actions, uint64_t cls, void *ue, void *ctx);
int __gcc_personality_v0(int version, int actions, uint64_t cls, void *ue, void *ctx)
{
    cleanup_personality_fn real =
        (cleanup_personality_fn)cleanup_find(&cleanup_personality, "__gcc_personality_v0");
    if (!real)
        return CLEANUP_CONTINUE_UNWIND; /* no unwinder of libgcc's: the frame has no cleanup */
    return real(version, actions, cls, ue, ctx);
}

void _Unwind_Resume(void *ue);
void _Unwind_Resume(void *ue)
{
    void (*real)(void *) = (void (*)(void *))cleanup_find(&cleanup_resume, "_Unwind_Resume");
    if (real)
        real(ue);
    __builtin_trap(); /* unreachable: a cleanup runs only under a personality found above */
}
