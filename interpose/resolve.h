/*
 * resolve.h — the next definitions of the interposed symbols (real_<name>), and the few
 * helpers every wrapper shares.
 *
 * REAL(name) is the next definition, resolved on first use when a wrapper runs before
 * lockprof's constructor (other libraries' constructors lock). A lookup that re-enters itself
 * (dlsym calling a malloc that locks) falls back to glibc's own __pthread_mutex_* entry
 * points, which exist for exactly the calls an allocator makes.
 */
#ifndef LP_RESOLVE_H
#define LP_RESOLVE_H

#include <mqueue.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <threads.h>
#include <time.h>
#include <sys/types.h>
#include <sys/uio.h>

#define LP_EXPORT __attribute__((visibility("default")))

#define LP_SYM(ret, name, params) extern ret(*real_##name) params;
#define LP_SYM_V(ret, name, tag, version, params) extern ret(*real_##name##_##tag) params;
#include "symbols.def"
#undef LP_SYM
#undef LP_SYM_V

/* Resolves every real_* pointer still NULL. Idempotent; any thread. */
void lp_resolve_all(void);

#define REAL(name) (__builtin_expect(real_##name != NULL, 1) ? real_##name : (lp_resolve_all(), real_##name))

/* 1 once lockprof is initialised and profiling; wrappers pass straight through until then
 * (and for ever in a secure-execution process). */
extern int lp_ready_;
static inline int lp_ready(void)
{
    return __atomic_load_n(&lp_ready_, __ATOMIC_ACQUIRE);
}

#endif
