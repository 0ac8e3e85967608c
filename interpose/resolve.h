/*
 * resolve.h — the interposed symbols, as interpose/symbols.def lists them: their next
 * definitions (real_<name>), and their call descriptors' ids and names (lp_call_id).
 *
 * REAL(name) is the next definition. The constructor resolves the calls a vfork child may make
 * (LP_SYM_VF in symbols.def), the program's first signal handler those a handler may make
 * (LP_SYM_AS); every other one is resolved at its first call, and so is any call a wrapper
 * makes before lockprof's constructor (other libraries' constructors lock). A lookup that
 * re-enters itself (dlsym calling a malloc that locks) falls back to glibc's own
 * __pthread_mutex_* entry points, which exist for exactly the calls an allocator makes.
 */
#ifndef LP_RESOLVE_H
#define LP_RESOLVE_H

#include <mqueue.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
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

/*
 * Every interposed call has an id, LP_CALL_<name> (LP_CALL_<name>_<tag> for the versioned
 * ones), and its name as profiles show it in a leaf frame, lp_call_leaf[id] (DESIGN §3.4). A
 * wrapper describes its call to the skeleton (wait.h) by id, never by a number of its own.
 * Leaves are compared by address: calls that are one in the profiles (both versions of
 * pthread_cond_wait, __read_chk and read) use one id's leaf.
 */
enum lp_call_id {
#define LP_SYM(ret, name, params) LP_CALL_##name,
#define LP_SYM_V(ret, name, tag, version, params) LP_CALL_##name##_##tag,
#include "symbols.def"
#undef LP_SYM
#undef LP_SYM_V
    LP_NCALLS
};
#define LP_CALL_LEAF_MAX 32
extern const char lp_call_leaf[LP_NCALLS][LP_CALL_LEAF_MAX];

/* Resolves the calls a vfork child may make (LP_SYM_VF). The constructor. */
void lp_resolve_vfork_safe(void);
/* Resolves the calls a signal handler may make (LP_SYM_AS), once: as the program installs a
 * handler (signals.c), before any handler of its can run. */
void lp_resolve_signal_safe(void);
/* Resolves every call not yet resolved, once: while the process has one thread (the
 * constructor, or as the program starts its first thread). dlsym takes the loader's lock, which
 * dlopen holds while it runs constructors: a constructor that waits for a thread of its own
 * would wait for ever if that thread's first call looked its symbol up then. */
void lp_resolve_all(void);
/* Resolves call id and returns its next definition (NULL when there is none); any thread, not
 * from a signal handler (in practice a thread of a process that has one: see lp_resolve_all). */
void *lp_resolve(enum lp_call_id id);

#define REAL(name)                                                                             \
    (__builtin_expect(real_##name != NULL, 1) ? real_##name                                    \
                                              : (__typeof__(real_##name))lp_resolve(LP_CALL_##name))

/* 1 once lockprof is initialised and profiling; wrappers pass straight through until then
 * (and for ever in a secure-execution process). */
extern int lp_ready_;
static inline int lp_ready(void)
{
    return __atomic_load_n(&lp_ready_, __ATOMIC_ACQUIRE);
}

#endif
