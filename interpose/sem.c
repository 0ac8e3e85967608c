/* sem.c — pass-through wrappers, profiled in a later commit of issue 3. */
#include "resolve.h"

LP_EXPORT int sem_wait(sem_t * a0)
{
    return REAL(sem_wait)(a0);
}

LP_EXPORT int sem_trywait(sem_t * a0)
{
    return REAL(sem_trywait)(a0);
}

LP_EXPORT int sem_timedwait(sem_t * a0, const struct timespec * a1)
{
    return REAL(sem_timedwait)(a0, a1);
}

LP_EXPORT int sem_clockwait(sem_t * a0, clockid_t a1, const struct timespec * a2)
{
    return REAL(sem_clockwait)(a0, a1, a2);
}
