/*
 * process.c — exec (DESIGN §5): the image about to be replaced writes its final profile, and
 * the new one is told its exec generation so that, with the same pid, it does not overwrite
 * those files (lifecycle.c names them). And the environment that carries that lineage.
 *
 * The generation travels in the new image's environment (LOCKPROF_EXEC=pid:n, with the
 * tree's LOCKPROF_ORIGIN), in a copy of the environment the caller passes: the program's own
 * environ is never modified here. In a vfork child (the parent's memory, no fork handler has
 * run) nothing is written and nothing is allocated: the call goes straight to glibc.
 *
 * lockprof's two variables are there only while lockprof is there to read them: an exec whose
 * environment no longer preloads lockprof (env -i, an empty envp, LD_PRELOAD removed) gets
 * neither of them, and a program that takes lockprof out of its own LD_PRELOAD (unsetenv,
 * setenv, putenv) loses the LOCKPROF_ORIGIN lockprof put in its environ at start, so that
 * the children it spawns without an exec of its own (system, posix_spawn) do not see it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu.h"
#include "lifecycle.h"
#include "log.h"
#include "sys.h"
#include "wait.h"

extern char **environ;

#define EXEC_ENV_SMALL 256
/* What an exec hands the new image: envp as the program gave it, or a copy with the lineage
 * variables replaced, in a mapping or in the frame of exec_run_copied. */
struct exec_env {
    char **envp;      /* what the real call gets */
    size_t map_size;  /* the copy's mapping, 0 when envp is the caller's own or on the stack */
    size_t n;         /* entries of the program's envp, when a copy is made on the stack */
    struct lp_lineage next;
    bool ours;        /* the new image preloads lockprof: it gets the lineage */
    char exec_var[48];
    char origin_var[48];
};

/* One exec, whichever function the program called: which, and its arguments. */
enum exec_kind { EXEC_VE, EXEC_VPE, EXEC_F, EXEC_AT };
struct exec_call {
    enum exec_kind kind;
    int fd, flags;   /* fexecve's descriptor; execveat's directory and flags (else 0) */
    const char *path;
    char *const *argv;
    char *const *envp; /* as the program gave it */
};

/* The names the exec path compares, in .data rather than .rodata: a page of .rodata is not
 * copied to a fork child, which would fault it in to read them; the page of .data is (it was
 * written at start). */
static char exec_ld_preload[] = "LD_PRELOAD";
static char exec_exec_name[] = LP_ENV_EXEC;
static char exec_origin_name[] = LP_ENV_ORIGIN;

/* Plain loops rather than libc's string functions: in a fork child about to exec, each libc
 * function lockprof calls is more code the child touches (LP_FORK_TEXT says why it counts). */
LP_FORK_TEXT static bool env_is(const char *entry, const char *name)
{
    while (*name && *entry == *name)
        entry++, name++;
    return !*name && *entry == '=';
}

LP_FORK_TEXT static bool env_sep(char c)
{
    return c == ' ' || c == ':';
}

/* Whether an LD_PRELOAD value (paths separated by spaces or colons) names this library: by its
 * file name, wherever it is (lockprof run preloads it by absolute path, users by any path). */
LP_FORK_TEXT static bool env_preloads_us(const char *value)
{
    const char *me = lp_lifecycle_library_name();
    for (const char *p = value; p && *p;) {
        while (env_sep(*p))
            p++;
        const char *base = p;
        for (; *p && !env_sep(*p); p++)
            if (*p == '/')
                base = p + 1;
        const char *m = me;
        while (base < p && *m && *base == *m)
            base++, m++;
        if (base == p && !*m)
            return true;
    }
    return false;
}

/* "NAME=A" or "NAME=A:B" (B >= 0) into dst, which has room for it. */
LP_FORK_TEXT static void env_put(char *dst, const char *name, long a, long b)
{
    char digits[24];
    while (*name)
        *dst++ = *name++;
    *dst++ = '=';
    for (int pass = 0; pass < 2; pass++) {
        long v = pass ? b : a;
        if (pass && b < 0)
            break;
        if (pass)
            *dst++ = ':';
        if (v < 0)
            *dst++ = '-', v = -v;
        int n = 0;
        do
            digits[n++] = (char)('0' + v % 10);
        while ((v /= 10) > 0);
        while (n)
            *dst++ = digits[--n];
    }
    *dst = '\0';
}

LP_FORK_TEXT static bool env_array_preloads_us(char *const *envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        if (env_is(envp[i], exec_ld_preload))
            return env_preloads_us(envp[i] + sizeof exec_ld_preload);
    return false;
}

/* The number after NAME= in envp's entry NAME, up to a ':' or the end; -1 if there is none. */
LP_FORK_TEXT static long env_array_number(char *const *envp, const char *name, size_t name_size)
{
    for (size_t i = 0; envp && envp[i]; i++)
        if (env_is(envp[i], name)) {
            const char *p = envp[i] + name_size, *end = p;
            while (*end && *end != ':')
                end++;
            long v;
            return lp_lifecycle_parse_long(p, end, &v) ? v : -1;
        }
    return -1;
}

LP_FORK_TEXT static bool env_array_has_ours(char *const *envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        if (env_is(envp[i], exec_exec_name) || env_is(envp[i], exec_origin_name))
            return true;
    return false;
}

/* envp without the lineage variables, then this process's (when the new image is lockprof's
 * too), into copy, which has room for them. */
LP_FORK_TEXT static void exec_fill(char *const *envp, struct exec_env *e, char **copy)
{
    size_t k = 0;
    for (size_t i = 0; envp && envp[i]; i++)
        if (!env_is(envp[i], exec_exec_name) && !env_is(envp[i], exec_origin_name))
            copy[k++] = envp[i];
    if (e->ours) {
        env_put(e->exec_var, exec_exec_name, e->next.pid, (long)e->next.gen);
        env_put(e->origin_var, exec_origin_name, e->next.origin, -1);
        copy[k++] = e->exec_var;
        copy[k++] = e->origin_var;
    }
    copy[k] = NULL;
    e->envp = copy;
}

/* What exec_prepare leaves to its caller. */
enum exec_plan { EXEC_READY, EXEC_COPY_ON_STACK };

/* Prepares an exec: the final profile, then envp with the lineage variables replaced — in a
 * mapping when it is large (EXEC_READY then, e->envp set), else by the caller on its stack
 * (EXEC_COPY_ON_STACK, e->n entries). On any failure the caller's envp is used unchanged
 * (the exec must not fail because of lockprof). */
LP_FORK_TEXT static enum exec_plan exec_prepare(char *const *envp, struct exec_env *e)
{
    e->envp = (char **)envp;
    e->map_size = 0;
    int running = lp_lifecycle_before_exec(&e->next);
    lp_cpu_before_exec(); /* (after the final profile, which drains its samples) */
    if (running <= 0)
        return EXEC_READY;
    /* Guarded only where lockprof may act (a mapping, under its own pid); a process that has
     * not entered lockprof since fork only reads the environment here, and a guard's errno
     * save is one more function of libc's that a shell's child would touch. */
    struct lp_guard g;
    if (e->next.may_map)
        lp_guard_enter(&g);
    /* The new image reads the lineage only if it preloads lockprof too. */
    e->ours = env_array_preloads_us(envp);
    enum exec_plan plan = EXEC_READY;
    /* Nothing to change: the image will not read the lineage and has none of it, or (the
     * usual child of fork-then-exec) what the child inherited says it all — the tree's origin,
     * and no generation of its own pid. */
    if ((!e->ours && !env_array_has_ours(envp)) ||
        (e->ours && !e->next.may_map && e->next.gen == 0 &&
         env_array_number(envp, exec_origin_name, sizeof exec_origin_name) == e->next.origin &&
         env_array_number(envp, exec_exec_name, sizeof exec_exec_name) != e->next.pid))
        goto out;
    size_t n = 0;
    if (envp)
        while (envp[n])
            n++;
    e->n = n;
    if (n + 3 <= EXEC_ENV_SMALL) {
        plan = EXEC_COPY_ON_STACK;
        goto out;
    }
    /* A mapping only where one may be made: not in a vfork child (it would stay in the
     * parent), not under seccomp (a system call the program did not make). A fork child that
     * has not entered lockprof may (it has its own memory); it is not guarded here, so errno
     * is kept by hand. */
    size_t size = (n + 3) * sizeof(char *);
    int err = errno;
    char **copy = !e->next.may_map &&
                          !(e->next.other_pid && lp_lifecycle_own_memory((pid_t)e->next.pid))
                      ? MAP_FAILED
                      : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                             -1, 0);
    errno = err;
    if (copy != MAP_FAILED) {
        exec_fill(envp, e, copy);
        e->map_size = size;
    }
out:
    if (e->next.may_map)
        lp_guard_leave(&g);
    return plan;
}

/* After an exec that failed (it returned): the copy goes, errno stays the call's. */
LP_FORK_TEXT static int exec_failed(struct exec_env *e, int rc)
{
    int err = errno;
    lp_cpu_exec_failed();
    errno = err;
    if (e->map_size) {
        struct lp_guard g;
        lp_guard_enter(&g);
        munmap(e->envp, e->map_size);
        lp_guard_leave(&g);
    }
    return rc;
}

LP_FORK_TEXT static int exec_real(const struct exec_call *c, char *const *envp)
{
    switch (c->kind) {
    case EXEC_VPE:
        return REAL(execvpe)(c->path, c->argv, envp);
    case EXEC_F:
        return REAL(fexecve)(c->fd, c->argv, envp);
    case EXEC_AT:
        return REAL(execveat)(c->fd, c->path, c->argv, envp, c->flags);
    case EXEC_VE:
        break;
    }
    return REAL(execve)(c->path, c->argv, envp);
}

/* An exec whose environment is copied on the stack: the copy is in this frame only, not in
 * every exec's. A fork child that passes its environment on as it is (a shell's command) does
 * not come here, and writes no page of its stack below what its own frames wrote (a child
 * shares its parent's pages until it writes them: each is one more page fault). */
LP_FORK_TEXT static __attribute__((noinline)) int exec_run_copied(const struct exec_call *c,
                                                                 struct exec_env *e)
{
    char *small[EXEC_ENV_SMALL];
    exec_fill(c->envp, e, small);
    return exec_failed(e, exec_real(c, e->envp));
}

LP_FORK_TEXT static int exec_run(const struct exec_call *c)
{
    struct exec_env e;
    if (exec_prepare(c->envp, &e) == EXEC_COPY_ON_STACK)
        return exec_run_copied(c, &e);
    return exec_failed(&e, exec_real(c, e.envp));
}

LP_FORK_TEXT LP_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    return exec_run(&(const struct exec_call){ EXEC_VE, 0, 0, path, argv, envp });
}

LP_FORK_TEXT LP_EXPORT int execv(const char *path, char *const argv[])
{
    return exec_run(&(const struct exec_call){ EXEC_VE, 0, 0, path, argv, environ });
}

LP_FORK_TEXT LP_EXPORT int execvp(const char *file, char *const argv[])
{
    return exec_run(&(const struct exec_call){ EXEC_VPE, 0, 0, file, argv, environ });
}

LP_FORK_TEXT LP_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return exec_run(&(const struct exec_call){ EXEC_VPE, 0, 0, file, argv, envp });
}

LP_FORK_TEXT LP_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    return exec_run(&(const struct exec_call){ EXEC_F, fd, 0, NULL, argv, envp });
}

LP_FORK_TEXT LP_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                       int flags)
{
    return exec_run(&(const struct exec_call){ EXEC_AT, dirfd, flags, path, argv, envp });
}

/* ---- the program's own environment --------------------------------------------------------
 * After a change that may have taken lockprof out of LD_PRELOAD, lockprof's variables go too. */
static void env_settle(void)
{
    if (lp_wrap_off())
        return;
    struct lp_guard g;
    lp_guard_enter(&g);
    if (!env_preloads_us(getenv("LD_PRELOAD"))) {
        REAL(unsetenv)(LP_ENV_ORIGIN);
        REAL(unsetenv)(LP_ENV_EXEC);
    }
    lp_guard_leave(&g);
}

LP_EXPORT int unsetenv(const char *name)
{
    int rc = REAL(unsetenv)(name);
    if (rc == 0)
        env_settle();
    return rc;
}

LP_EXPORT int setenv(const char *name, const char *value, int overwrite)
{
    int rc = REAL(setenv)(name, value, overwrite);
    if (rc == 0 && name && strcmp(name, "LD_PRELOAD") == 0)
        env_settle();
    return rc;
}

LP_EXPORT int putenv(char *string)
{
    int rc = REAL(putenv)(string);
    if (rc == 0 && strncmp(string, "LD_PRELOAD", 10) == 0)
        env_settle();
    return rc;
}

/* ---- seccomp ------------------------------------------------------------------------------
 * A program that restricts its system calls with PR_SET_SECCOMP (strict mode, or a filter of
 * its own) made its list of them: lockprof stands aside first, while it still may make the
 * calls that takes (lp_lifecycle_restrict), and makes none of its own from then on. glibc's
 * prctl reads four more arguments whatever the option, and so does this. */
LP_EXPORT int prctl(int option, ...)
{
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
    unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
    va_end(ap);
    bool restrict_now = option == PR_SET_SECCOMP && !lp_wrap_off() && !lp_lifecycle_restricted();
    if (restrict_now)
        lp_lifecycle_restrict();
    int rc = REAL(prctl)(option, a2, a3, a4, a5);
    if (restrict_now && rc != 0) {
        int err = errno;
        lp_lifecycle_unrestrict();
        errno = err;
    }
    return rc;
}

/* syscall(SYS_seccomp, operation, flags, args), as libseccomp and some sandboxes restrict a
 * program: the same as prctl's, for the two operations that restrict. Reached by a jump from
 * syscall's entry (futex.c), possibly before the constructor. */
long lp_seccomp_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
long lp_seccomp_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    unsigned op = (unsigned)a0; /* (an unsigned int, as the kernel reads it) */
    bool restrict_now = (op == SECCOMP_SET_MODE_STRICT || op == SECCOMP_SET_MODE_FILTER) &&
                        !lp_wrap_off() && !lp_lifecycle_restricted();
    if (restrict_now)
        lp_lifecycle_restrict();
    long (*real)(long, ...) = __atomic_load_n(&real_syscall, __ATOMIC_RELAXED);
    long rc;
    if (real) {
        rc = real(nr, a0, a1, a2, a3, a4, a5);
    } else {
        rc = lp_syscall6(nr, a0, a1, a2, a3, a4, a5);
        if ((unsigned long)rc > -4096UL) {
            errno = (int)-rc;
            rc = -1;
        }
    }
    if (restrict_now && rc != 0) {
        int err = errno;
        lp_lifecycle_unrestrict();
        errno = err;
    }
    return rc;
}


/* glibc's own execl* build their argv the same way: a VLA sized by the count, the arguments
 * read up to the NULL that follows arg0. */
#pragma GCC diagnostic ignored "-Wvla"

/* The execl family is variadic: count the arguments, then gather them into an argv on the
 * stack (as glibc does, so any count that works without lockprof works with it). */
#define EXECL_COUNT(ap, arg0, n)                                                               \
    do {                                                                                       \
        va_list c_;                                                                            \
        va_copy(c_, ap);                                                                       \
        n = 1;                                                                                 \
        while (va_arg(c_, char *))                                                             \
            n++;                                                                               \
        va_end(c_);                                                                            \
    } while (0)

static void execl_gather(const char *arg0, va_list *ap, char **argv, size_t n)
{
    argv[0] = (char *)arg0;
    for (size_t i = 1; i < n; i++)
        argv[i] = va_arg(*ap, char *);
    (void)va_arg(*ap, char *); /* the terminating NULL (glibc reads past a NULL arg0 too) */
    argv[n] = NULL;
}

/* The body of each: argv gathered on the stack, then `call` (which may read more of ap). */
#define EXECL_BODY(arg0, call)                                                                 \
    va_list ap;                                                                                \
    va_start(ap, arg0);                                                                        \
    size_t n;                                                                                  \
    EXECL_COUNT(ap, arg0, n);                                                                  \
    char *argv[n + 1];                                                                         \
    execl_gather(arg0, &ap, argv, n);                                                          \
    int rc = call;                                                                             \
    va_end(ap);                                                                                \
    return rc

LP_FORK_TEXT LP_EXPORT int execl(const char *path, const char *arg0, ...)
{
    EXECL_BODY(arg0, execv(path, argv));
}

LP_FORK_TEXT LP_EXPORT int execlp(const char *file, const char *arg0, ...)
{
    EXECL_BODY(arg0, execvp(file, argv));
}

LP_FORK_TEXT LP_EXPORT int execle(const char *path, const char *arg0, ...)
{
    EXECL_BODY(arg0, execve(path, argv, va_arg(ap, char *const *)));
}
