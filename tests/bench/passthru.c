/*
 * passthru.c — the floor for `make bench` (DESIGN §9).
 *
 * A bare pass-through preload: it interposes the mutex, read-write lock and semaphore calls
 * the benchmarks make (the subset of lockprof's that they and pigz call), the condition
 * waits, and read and write (bench_io's pipe, file and socket workloads, and pigz's plain
 * reads and writes; not readv, writev or __read_chk, which bench_io never calls), and forwards
 * each one to the next definition. sem_post is not interposed: lockprof does not interpose it
 * either, and the floor must not pay a hop that lockprof does not. It measures what any
 * LD_PRELOAD wrapper costs (the PLT hop into a preloaded library plus one indirect call),
 * so lockprof's overhead can be split into "being a preload at all" and "lockprof's own work".
 *
 * syscall is interposed too, as lockprof interposes it: by an entry in assembly that only
 * jumps to glibc's syscall (below), never a frame of its own, so that clone, clone3 and vfork
 * made through syscall() return on the child's stack through glibc's code as without a
 * preload. Programs that block through syscall(SYS_futex) (Rust's std, GLib) and the
 * syscall(SYS_gettid) loop pay the same hop under the floor as under lockprof.
 *
 * Nothing else: no TLS, no counters, no clock, no re-entrancy guard.
 *
 * The real functions are resolved in a constructor. Until then each pointer holds a stub that
 * resolves its symbol and forwards, so a call made before the constructor (another library's
 * constructor locking) still works, and the hot path has no "resolved yet?" branch.
 *
 * Built with -fno-optimize-sibling-calls (Makefile): a tail-called dlsym(RTLD_NEXT, ...)
 * resolves relative to the caller of the wrapper, i.e. the wrong object (DESIGN §2).
 *
 * pthread_cond_wait / pthread_cond_timedwait: glibc 2.36 has two implementations
 * (GLIBC_2.2.5, the old ABI, and GLIBC_2.3.2, the default). This file is linked without a
 * version script (the Makefile's rule has none), so its wrappers are unversioned and catch
 * references of either version; they forward to the default GLIBC_2.3.2 implementation with
 * dlvsym. That is right for every program built against glibc ≥ 2.3.2 (all the benchmarks);
 * an old-ABI binary would be handed the new implementation, which is why this is a benchmark
 * floor and not a tool.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define COND_VERSION "GLIBC_2.3.2"

typedef int mutex_fn(pthread_mutex_t *);
typedef int cond_wait_fn(pthread_cond_t *, pthread_mutex_t *);
typedef int cond_timedwait_fn(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
typedef int rwlock_fn(pthread_rwlock_t *);
typedef int sem_fn(sem_t *);
typedef int sem_timedwait_fn(sem_t *, const struct timespec *);
typedef ssize_t read_fn(int, void *, size_t);
typedef ssize_t write_fn(int, const void *, size_t);

static void *passthru_resolve(const char *name, const char *version)
{
    void *p = version ? dlvsym(RTLD_NEXT, name, version) : dlsym(RTLD_NEXT, name);
    if (!p) {
        /* Neither write() nor syscall(): this file forwards both, and either may be the
         * symbol that failed. The system call itself (x86-64, as the syscall entry is). */
        static const char msg[] = "passthru: cannot resolve a forwarded symbol\n";
        long r;
        __asm__ volatile("syscall"
                         : "=a"(r)
                         : "0"((long)SYS_write), "D"(2L), "S"(msg), "d"(sizeof msg - 1)
                         : "rcx", "r11", "memory");
        (void)r;
        abort();
    }
    return p;
}

static mutex_fn stub_mutex_lock, stub_mutex_trylock, stub_mutex_unlock;
static cond_wait_fn stub_cond_wait;
static cond_timedwait_fn stub_cond_timedwait;
static rwlock_fn stub_rwlock_rdlock, stub_rwlock_wrlock, stub_rwlock_tryrdlock,
    stub_rwlock_trywrlock, stub_rwlock_unlock;
static sem_fn stub_sem_wait, stub_sem_trywait;
static sem_timedwait_fn stub_sem_timedwait;
static read_fn stub_read;
static write_fn stub_write;

static mutex_fn *real_pthread_mutex_lock = stub_mutex_lock;
static mutex_fn *real_pthread_mutex_trylock = stub_mutex_trylock;
static mutex_fn *real_pthread_mutex_unlock = stub_mutex_unlock;
static cond_wait_fn *real_pthread_cond_wait = stub_cond_wait;
static cond_timedwait_fn *real_pthread_cond_timedwait = stub_cond_timedwait;
static rwlock_fn *real_pthread_rwlock_rdlock = stub_rwlock_rdlock;
static rwlock_fn *real_pthread_rwlock_wrlock = stub_rwlock_wrlock;
static rwlock_fn *real_pthread_rwlock_tryrdlock = stub_rwlock_tryrdlock;
static rwlock_fn *real_pthread_rwlock_trywrlock = stub_rwlock_trywrlock;
static rwlock_fn *real_pthread_rwlock_unlock = stub_rwlock_unlock;
static sem_fn *real_sem_wait = stub_sem_wait;
static sem_fn *real_sem_trywait = stub_sem_trywait;
static sem_timedwait_fn *real_sem_timedwait = stub_sem_timedwait;
static read_fn *real_read = stub_read;
static write_fn *real_write = stub_write;
/* The syscall entry's target: glibc's syscall once resolved; before, the entry's slow path
 * (below, in assembly, as the entry is: a stub in C would leave its frame under the call). */
__attribute__((visibility("hidden"))) extern char passthru_syscall_slow[];
__attribute__((visibility("hidden"))) void *passthru_real_syscall = passthru_syscall_slow;

/* The stubs store with relaxed atomics: two threads may race to resolve the same symbol, and
 * both store the same value. */
#define RESOLVE(var, name, version) \
    __atomic_store_n(&(var), passthru_resolve((name), (version)), __ATOMIC_RELAXED)

static int stub_mutex_lock(pthread_mutex_t *m)
{
    RESOLVE(real_pthread_mutex_lock, "pthread_mutex_lock", NULL);
    return real_pthread_mutex_lock(m);
}

static int stub_mutex_trylock(pthread_mutex_t *m)
{
    RESOLVE(real_pthread_mutex_trylock, "pthread_mutex_trylock", NULL);
    return real_pthread_mutex_trylock(m);
}

static int stub_mutex_unlock(pthread_mutex_t *m)
{
    RESOLVE(real_pthread_mutex_unlock, "pthread_mutex_unlock", NULL);
    return real_pthread_mutex_unlock(m);
}

static int stub_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    RESOLVE(real_pthread_cond_wait, "pthread_cond_wait", COND_VERSION);
    return real_pthread_cond_wait(c, m);
}

static int stub_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts)
{
    RESOLVE(real_pthread_cond_timedwait, "pthread_cond_timedwait", COND_VERSION);
    return real_pthread_cond_timedwait(c, m, ts);
}

/* The stubs of the one-argument calls differ only in their names and types. */
#define STUB1(stub, type, name)                 \
    static int stub(type *x)                    \
    {                                           \
        RESOLVE(real_##name, #name, NULL);      \
        return real_##name(x);                  \
    }
STUB1(stub_rwlock_rdlock, pthread_rwlock_t, pthread_rwlock_rdlock)
STUB1(stub_rwlock_wrlock, pthread_rwlock_t, pthread_rwlock_wrlock)
STUB1(stub_rwlock_tryrdlock, pthread_rwlock_t, pthread_rwlock_tryrdlock)
STUB1(stub_rwlock_trywrlock, pthread_rwlock_t, pthread_rwlock_trywrlock)
STUB1(stub_rwlock_unlock, pthread_rwlock_t, pthread_rwlock_unlock)
STUB1(stub_sem_wait, sem_t, sem_wait)
STUB1(stub_sem_trywait, sem_t, sem_trywait)

static int stub_sem_timedwait(sem_t *s, const struct timespec *ts)
{
    RESOLVE(real_sem_timedwait, "sem_timedwait", NULL);
    return real_sem_timedwait(s, ts);
}

static ssize_t stub_read(int fd, void *buf, size_t n)
{
    RESOLVE(real_read, "read", NULL);
    return real_read(fd, buf, n);
}

static ssize_t stub_write(int fd, const void *buf, size_t n)
{
    RESOLVE(real_write, "write", NULL);
    return real_write(fd, buf, n);
}

__attribute__((constructor)) static void passthru_init(void)
{
    RESOLVE(real_pthread_mutex_lock, "pthread_mutex_lock", NULL);
    RESOLVE(real_pthread_mutex_trylock, "pthread_mutex_trylock", NULL);
    RESOLVE(real_pthread_mutex_unlock, "pthread_mutex_unlock", NULL);
    RESOLVE(real_pthread_cond_wait, "pthread_cond_wait", COND_VERSION);
    RESOLVE(real_pthread_cond_timedwait, "pthread_cond_timedwait", COND_VERSION);
    RESOLVE(real_pthread_rwlock_rdlock, "pthread_rwlock_rdlock", NULL);
    RESOLVE(real_pthread_rwlock_wrlock, "pthread_rwlock_wrlock", NULL);
    RESOLVE(real_pthread_rwlock_tryrdlock, "pthread_rwlock_tryrdlock", NULL);
    RESOLVE(real_pthread_rwlock_trywrlock, "pthread_rwlock_trywrlock", NULL);
    RESOLVE(real_pthread_rwlock_unlock, "pthread_rwlock_unlock", NULL);
    RESOLVE(real_sem_wait, "sem_wait", NULL);
    RESOLVE(real_sem_trywait, "sem_trywait", NULL);
    RESOLVE(real_sem_timedwait, "sem_timedwait", NULL);
    RESOLVE(real_read, "read", NULL);
    RESOLVE(real_write, "write", NULL);
    RESOLVE(passthru_real_syscall, "syscall", NULL);
}

/* ---- syscall ---- */

/* Resolves glibc's syscall for the entry's slow path and returns it. */
__attribute__((used)) static void *passthru_resolve_syscall(void)
{
    RESOLVE(passthru_real_syscall, "syscall", NULL);
    return passthru_real_syscall;
}

#if defined(__CET__)
#define PASSTHRU_ENDBR "endbr64\n\t"
#else
#define PASSTHRU_ENDBR ""
#endif

/* syscall(number, a0 … a5) arrives in rdi, rsi, rdx, rcx, r8, r9 and 8(%rsp); the entry is a
 * jump through passthru_real_syscall and nothing else. The slow path, its target until the
 * constructor has run, saves the six argument registers around the resolution (8 bytes more
 * keep the stack aligned for the call), restores them and jumps on with the stack as the
 * caller left it, touching only r11 (no argument's register, clobbered by any call). */
__asm__(".text\n\t"
        ".globl syscall\n\t"
        ".type syscall, @function\n\t"
        ".p2align 4\n"
        "syscall:\n\t"
        ".cfi_startproc\n\t"
        PASSTHRU_ENDBR
        "jmp *passthru_real_syscall(%rip)\n\t"
        ".cfi_endproc\n\t"
        ".size syscall, .-syscall\n\t"
        ".globl passthru_syscall_slow\n\t"
        ".hidden passthru_syscall_slow\n\t"
        ".type passthru_syscall_slow, @function\n"
        "passthru_syscall_slow:\n\t"
        ".cfi_startproc\n\t"
        PASSTHRU_ENDBR
        "pushq %rdi\n\t.cfi_adjust_cfa_offset 8\n\t"
        "pushq %rsi\n\t.cfi_adjust_cfa_offset 8\n\t"
        "pushq %rdx\n\t.cfi_adjust_cfa_offset 8\n\t"
        "pushq %rcx\n\t.cfi_adjust_cfa_offset 8\n\t"
        "pushq %r8\n\t.cfi_adjust_cfa_offset 8\n\t"
        "pushq %r9\n\t.cfi_adjust_cfa_offset 8\n\t"
        "subq $8, %rsp\n\t.cfi_adjust_cfa_offset 8\n\t"
        "call passthru_resolve_syscall\n\t"
        "movq %rax, %r11\n\t"
        "addq $8, %rsp\n\t.cfi_adjust_cfa_offset -8\n\t"
        "popq %r9\n\t.cfi_adjust_cfa_offset -8\n\t"
        "popq %r8\n\t.cfi_adjust_cfa_offset -8\n\t"
        "popq %rcx\n\t.cfi_adjust_cfa_offset -8\n\t"
        "popq %rdx\n\t.cfi_adjust_cfa_offset -8\n\t"
        "popq %rsi\n\t.cfi_adjust_cfa_offset -8\n\t"
        "popq %rdi\n\t.cfi_adjust_cfa_offset -8\n\t"
        "jmp *%r11\n\t"
        ".cfi_endproc\n\t"
        ".size passthru_syscall_slow, .-passthru_syscall_slow\n\t"
        ".previous");

/* The wrappers: one relaxed load of the pointer and an indirect call, nothing else. A plain
 * load would do on x86-64; the atomic keeps the race with the stubs well-defined. */
EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    return __atomic_load_n(&real_pthread_mutex_lock, __ATOMIC_RELAXED)(m);
}

EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    return __atomic_load_n(&real_pthread_mutex_trylock, __ATOMIC_RELAXED)(m);
}

EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    return __atomic_load_n(&real_pthread_mutex_unlock, __ATOMIC_RELAXED)(m);
}

EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    return __atomic_load_n(&real_pthread_cond_wait, __ATOMIC_RELAXED)(c, m);
}

EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *ts)
{
    return __atomic_load_n(&real_pthread_cond_timedwait, __ATOMIC_RELAXED)(c, m, ts);
}

#define FORWARD1(name, type)                                              \
    EXPORT int name(type *x)                                              \
    {                                                                     \
        return __atomic_load_n(&real_##name, __ATOMIC_RELAXED)(x);        \
    }
FORWARD1(pthread_rwlock_rdlock, pthread_rwlock_t)
FORWARD1(pthread_rwlock_wrlock, pthread_rwlock_t)
FORWARD1(pthread_rwlock_tryrdlock, pthread_rwlock_t)
FORWARD1(pthread_rwlock_trywrlock, pthread_rwlock_t)
FORWARD1(pthread_rwlock_unlock, pthread_rwlock_t)
FORWARD1(sem_wait, sem_t)
FORWARD1(sem_trywait, sem_t)

EXPORT int sem_timedwait(sem_t *s, const struct timespec *ts)
{
    return __atomic_load_n(&real_sem_timedwait, __ATOMIC_RELAXED)(s, ts);
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    return __atomic_load_n(&real_read, __ATOMIC_RELAXED)(fd, buf, n);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    return __atomic_load_n(&real_write, __ATOMIC_RELAXED)(fd, buf, n);
}
