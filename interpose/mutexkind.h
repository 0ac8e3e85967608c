/*
 * mutexkind.h — what glibc's ABI-public mutex fields say about a release.
 *
 * glibc's mutex kinds (pthreadP.h, stable ABI): the type in the low two bits, then flags.
 * Shared by the unlock wrappers and pthread_cond_*wait, whose entry releases the mutex.
 */
#ifndef LP_MUTEXKIND_H
#define LP_MUTEXKIND_H

#include <pthread.h>
#include <stdbool.h>

#include "event.h"

#define MUTEX_TYPE_MASK 3
#define MUTEX_RECURSIVE 1
#define MUTEX_ERRORCHECK 2
#define MUTEX_ROBUST 16
#define MUTEX_PI 32
#define MUTEX_PP 64

static inline int mutex_kind(const pthread_mutex_t *m)
{
    return __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) & 127;
}

/* glibc's PTHREAD_MUTEX_PSHARED_BIT, above the bits mutex_kind keeps. */
#define MUTEX_PSHARED 128

static inline bool mutex_pshared(const pthread_mutex_t *m)
{
    return (__atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) & MUTEX_PSHARED) != 0;
}

static inline bool mutex_owned_by_me(const pthread_mutex_t *m)
{
    return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == lp_thread_tid();
}

/* True when giving m up now really releases it (DESIGN §1 "release"): not an unlock that
 * fails with EPERM (a checked kind not owned by the caller), not an inner unlock of a
 * recursive owner. */
static inline bool mutex_unlock_releases(const pthread_mutex_t *m)
{
    int kind = mutex_kind(m), type = kind & MUTEX_TYPE_MASK;
    bool checked = type == MUTEX_RECURSIVE || type == MUTEX_ERRORCHECK ||
                   (kind & (MUTEX_ROBUST | MUTEX_PI | MUTEX_PP));
    if (checked && !mutex_owned_by_me(m))
        return false;
    if (type == MUTEX_RECURSIVE && __atomic_load_n(&m->__data.__count, __ATOMIC_RELAXED) > 1)
        return false;
    return true;
}

#endif
