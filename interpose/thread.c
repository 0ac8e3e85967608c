/* thread.c — pass-through wrappers, profiled in a later commit of issue 3. */
#include "resolve.h"

LP_EXPORT int pthread_join(pthread_t a0, void ** a1)
{
    return REAL(pthread_join)(a0, a1);
}

LP_EXPORT int pthread_timedjoin_np(pthread_t a0, void ** a1, const struct timespec * a2)
{
    return REAL(pthread_timedjoin_np)(a0, a1, a2);
}

LP_EXPORT int pthread_clockjoin_np(pthread_t a0, void ** a1, clockid_t a2, const struct timespec * a3)
{
    return REAL(pthread_clockjoin_np)(a0, a1, a2, a3);
}

LP_EXPORT int thrd_join(thrd_t a0, int * a1)
{
    return REAL(thrd_join)(a0, a1);
}

LP_EXPORT int pthread_barrier_wait(pthread_barrier_t * a0)
{
    return REAL(pthread_barrier_wait)(a0);
}
