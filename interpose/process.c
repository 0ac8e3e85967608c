/* process.c — pass-through wrappers, profiled in a later commit of issue 3. */
#include <errno.h>

#include "resolve.h"

#include <unistd.h>

LP_EXPORT int execve(const char * a0, char *const a1[], char *const a2[])
{
    return REAL(execve)(a0, a1, a2);
}

LP_EXPORT int execv(const char * a0, char *const a1[])
{
    return REAL(execv)(a0, a1);
}

LP_EXPORT int execvp(const char * a0, char *const a1[])
{
    return REAL(execvp)(a0, a1);
}

LP_EXPORT int execvpe(const char * a0, char *const a1[], char *const a2[])
{
    return REAL(execvpe)(a0, a1, a2);
}

LP_EXPORT int fexecve(int a0, char *const a1[], char *const a2[])
{
    return REAL(fexecve)(a0, a1, a2);
}

LP_EXPORT int execveat(int a0, const char * a1, char *const a2[], char *const a3[], int a4)
{
    return REAL(execveat)(a0, a1, a2, a3, a4);
}

#include <stdarg.h>

/* glibc's own execl* build their argv the same way: a VLA sized by the count. And glibc
 * declares arg0 non-null, but a NULL arg0 (an empty argv) is passed through as it is. */
#pragma GCC diagnostic ignored "-Wvla"
#pragma GCC diagnostic ignored "-Wnonnull-compare"

/* The execl family is variadic: count the arguments, then gather them into an argv on the
 * stack (as glibc does, so any count that works without lockprof works with it). */
#define EXECL_COUNT(ap, arg0, n)                                                               \
    do {                                                                                       \
        va_list c_;                                                                            \
        va_copy(c_, ap);                                                                       \
        n = 1;                                                                                 \
        if (arg0)                                                                              \
            while (va_arg(c_, char *))                                                         \
                n++;                                                                           \
        va_end(c_);                                                                            \
    } while (0)

static void execl_gather(const char *arg0, va_list *ap, char **argv, size_t n)
{
    argv[0] = (char *)arg0;
    for (size_t i = 1; i < n; i++)
        argv[i] = va_arg(*ap, char *);
    if (arg0)
        (void)va_arg(*ap, char *); /* the terminating NULL */
    argv[n] = NULL;
}

LP_EXPORT int execl(const char *path, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    size_t n;
    EXECL_COUNT(ap, arg0, n);
    char *argv[n + 1];
    execl_gather(arg0, &ap, argv, n);
    va_end(ap);
    return execv(path, argv);
}

LP_EXPORT int execlp(const char *file, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    size_t n;
    EXECL_COUNT(ap, arg0, n);
    char *argv[n + 1];
    execl_gather(arg0, &ap, argv, n);
    va_end(ap);
    return execvp(file, argv);
}

LP_EXPORT int execle(const char *path, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    size_t n;
    EXECL_COUNT(ap, arg0, n);
    char *argv[n + 1];
    execl_gather(arg0, &ap, argv, n);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}
