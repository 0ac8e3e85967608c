/* io.c — pass-through wrappers, profiled in a later commit of issue 3. */
#include "resolve.h"

#include <sys/msg.h>

ssize_t __read_chk(int, void *, size_t, size_t);

LP_EXPORT ssize_t read(int a0, void * a1, size_t a2)
{
    return REAL(read)(a0, a1, a2);
}

LP_EXPORT ssize_t readv(int a0, const struct iovec * a1, int a2)
{
    return REAL(readv)(a0, a1, a2);
}

LP_EXPORT ssize_t __read_chk(int a0, void * a1, size_t a2, size_t a3)
{
    return REAL(__read_chk)(a0, a1, a2, a3);
}

LP_EXPORT ssize_t write(int a0, const void * a1, size_t a2)
{
    return REAL(write)(a0, a1, a2);
}

LP_EXPORT ssize_t writev(int a0, const struct iovec * a1, int a2)
{
    return REAL(writev)(a0, a1, a2);
}

LP_EXPORT ssize_t mq_receive(mqd_t a0, char * a1, size_t a2, unsigned * a3)
{
    return REAL(mq_receive)(a0, a1, a2, a3);
}

LP_EXPORT ssize_t mq_timedreceive(mqd_t a0, char *restrict a1, size_t a2, unsigned *restrict a3, const struct timespec *restrict a4)
{
    return REAL(mq_timedreceive)(a0, a1, a2, a3, a4);
}

LP_EXPORT ssize_t msgrcv(int a0, void * a1, size_t a2, long a3, int a4)
{
    return REAL(msgrcv)(a0, a1, a2, a3, a4);
}

LP_EXPORT int close(int a0)
{
    return REAL(close)(a0);
}

LP_EXPORT int close_range(unsigned a0, unsigned a1, int a2)
{
    return REAL(close_range)(a0, a1, a2);
}

LP_EXPORT void closefrom(int a0)
{
    REAL(closefrom)(a0);
}

LP_EXPORT int dup2(int a0, int a1)
{
    return REAL(dup2)(a0, a1);
}

LP_EXPORT int dup3(int a0, int a1, int a2)
{
    return REAL(dup3)(a0, a1, a2);
}

LP_EXPORT int fclose(FILE * a0)
{
    return REAL(fclose)(a0);
}
