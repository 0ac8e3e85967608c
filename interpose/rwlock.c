/* rwlock.c — pass-through wrappers, profiled in a later commit of issue 3. */
#include "resolve.h"

LP_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t * a0)
{
    return REAL(pthread_rwlock_rdlock)(a0);
}

LP_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t * a0)
{
    return REAL(pthread_rwlock_wrlock)(a0);
}

LP_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t * a0)
{
    return REAL(pthread_rwlock_tryrdlock)(a0);
}

LP_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t * a0)
{
    return REAL(pthread_rwlock_trywrlock)(a0);
}

LP_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t * a0, const struct timespec * a1)
{
    return REAL(pthread_rwlock_timedrdlock)(a0, a1);
}

LP_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t * a0, const struct timespec * a1)
{
    return REAL(pthread_rwlock_timedwrlock)(a0, a1);
}

LP_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t * a0, clockid_t a1, const struct timespec * a2)
{
    return REAL(pthread_rwlock_clockrdlock)(a0, a1, a2);
}

LP_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t * a0, clockid_t a1, const struct timespec * a2)
{
    return REAL(pthread_rwlock_clockwrlock)(a0, a1, a2);
}

LP_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t * a0)
{
    return REAL(pthread_rwlock_unlock)(a0);
}
