/*
 * prog_seccomp — a program that restricts its own system calls (host_life.t).
 * Usage: prog_seccomp strict|filter|thread-fork|exec|sysexit [syscall]
 *   strict  reads a pipe once, enters SECCOMP_MODE_STRICT (read, write, exit, sigreturn only),
 *           reads the rest of the pipe, writes it to stdout and leaves with SYS_exit(7)
 *   filter  starts a worker and contends with it on a mutex 20 times in contend_before (waits
 *           the main thread really sleeps in), installs a filter (SECCOMP_RET_KILL_PROCESS for
 *           any call not in its list: the calls this program makes from then on), contends 20
 *           times more in contend_after, joins the worker, prints, and exits 7 through exit()
 *   thread-fork  installs a filter, then starts its first thread and joins it, then forks a
 *           child that writes a line and leaves; exits 7
 *   exec    a sandbox launcher: a filter, then execve of /bin/echo with an empty environment
 *   sysexit starts a worker, installs a filter that allows every call, and leaves main by
 *           pthread_exit; the worker ends the process with SYS_exit 100 ms later (status 0)
 * Any call outside the list kills the process with SIGSYS. With "syscall", the restriction is
 * made with syscall(SYS_seccomp, ...) rather than prctl(PR_SET_SECCOMP, ...), as libseccomp
 * and some sandboxes make it.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "progutil.h"

static int by_syscall; /* the restriction through syscall(SYS_seccomp), not prctl */

static int restrict_calls(unsigned mode, void *prog)
{
    if (by_syscall)
        return (int)syscall(SYS_seccomp, mode == SECCOMP_MODE_STRICT ? SECCOMP_SET_MODE_STRICT
                                                                     : SECCOMP_SET_MODE_FILTER,
                            0, prog);
    return prctl(PR_SET_SECCOMP, mode, prog);
}

static void strict_mode(void)
{
    int p[2];
    if (pipe(p) != 0)
        die("pipe");
    if (write(p[1], "first\nsecond\n", 13) != 13)
        die("write");
    close(p[1]);
    char c;
    if (read(p[0], &c, 1) != 1) /* the pipe is read once before: known to be a pipe */
        die("read");
    if (restrict_calls(SECCOMP_MODE_STRICT, NULL) != 0)
        die("prctl");
    char buf[64];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0)
        if (write(1, buf, (size_t)n) != n)
            break;
    syscall(SYS_exit, 7); /* strict mode has no exit_group */
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int turn;

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 40; i++) {
        pthread_mutex_lock(&lock);
        __atomic_store_n(&turn, 1, __ATOMIC_RELEASE);
        /* Holds it until the main thread sleeps in its lock call (glibc marks a mutex with
         * sleepers 2), however late a loaded machine runs it, then 2 ms more. */
        while (__atomic_load_n(&lock.__data.__lock, __ATOMIC_ACQUIRE) != 2)
            sched_yield();
        sleep_ms(2);
        pthread_mutex_unlock(&lock);
        while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != 0)
            sched_yield();
    }
    return NULL;
}

/* 20 waits for the mutex the worker holds. */
static void contend(void)
{
    for (int i = 0; i < 20; i++) {
        while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != 1)
            sched_yield();
        pthread_mutex_lock(&lock); /* the worker holds it: a wait */
        __atomic_store_n(&turn, 0, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&lock);
    }
}
static __attribute__((noinline)) void contend_before(void) { contend(); __asm__ volatile(""); }
static __attribute__((noinline)) void contend_after(void) { contend(); __asm__ volatile(""); }

/* Installs a filter that kills the process at any call not in allowed[0..n). */
static void install_filter(const int *allowed, int n)
{
    struct sock_filter f[64];
    int k = 0;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, nr));
    for (int i = 0; i < n; i++) /* to the ALLOW at the end, n - i instructions on */
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)allowed[i],
                                              (unsigned char)(n - i), 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = { .len = (unsigned short)k, .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        restrict_calls(SECCOMP_MODE_FILTER, &prog) != 0)
        die("prctl");
}

#define INSTALL(...)                                                                          \
    do {                                                                                      \
        static const int allowed_[] = { __VA_ARGS__ };                                       \
        install_filter(allowed_, (int)(sizeof allowed_ / sizeof allowed_[0]));               \
    } while (0)
#define BASE_CALLS                                                                            \
    SYS_read, SYS_write, SYS_futex, SYS_exit, SYS_exit_group, SYS_rt_sigreturn,               \
        SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep, SYS_sched_yield, SYS_mmap,     \
        SYS_munmap, SYS_madvise, SYS_mprotect, SYS_brk, SYS_rt_sigprocmask

static void filter_mode(void)
{
    printf("filter: start\n"); /* stdout set up before the filter */
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        die("pthread_create");
    contend_before();
    INSTALL(BASE_CALLS);
    contend_after();
    pthread_join(t, NULL);
    printf("filter: 40 rounds\n");
    exit(7);
}

static void *idle(void *arg)
{
    return arg;
}

/* The program's first thread, then a fork, both after the filter. */
static void thread_fork_mode(void)
{
    printf("thread: start\n");
    fflush(stdout);
    INSTALL(BASE_CALLS, SYS_clone, SYS_clone3, SYS_set_robust_list, SYS_rseq, SYS_wait4,
            SYS_rt_sigaction);
    pthread_t t;
    if (pthread_create(&t, NULL, idle, NULL) != 0)
        die("pthread_create");
    pthread_join(t, NULL);
    printf("thread: joined\n");
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        if (write(1, "fork: child\n", 12) != 12)
            syscall(SYS_exit_group, 1);
        syscall(SYS_exit_group, 0);
    }
    int st = -1;
    waitpid(p, &st, 0);
    printf("fork: child status %d\n", st);
    exit(7);
}

/* A sandbox launcher: the filter, then the target with an environment of its own (no
 * LD_PRELOAD). The target's calls are the loader's. */
static void exec_mode(void)
{
    INSTALL(SYS_read, SYS_write, SYS_exit, SYS_exit_group, SYS_rt_sigreturn, SYS_execve,
            SYS_brk, SYS_arch_prctl, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_access, SYS_openat,
            SYS_newfstatat, SYS_close, SYS_pread64, SYS_set_tid_address, SYS_set_robust_list,
            SYS_rseq, SYS_prlimit64, SYS_getrandom, SYS_fstat, SYS_futex);
    char *argv[] = { "echo", "exec: target ran", NULL }, *envp[] = { NULL };
    execve("/bin/echo", argv, envp);
    _exit(4);
}

/* A filter that allows everything, then the main thread leaves (pthread_exit) and the last
 * worker ends with SYS_exit 100 ms later: the process ends then, with status 0. */
static void *last_worker(void *arg)
{
    (void)arg;
    sleep_ms(100);
    syscall(SYS_exit, 0);
    return NULL;
}

static void sysexit_mode(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, last_worker, NULL) != 0)
        die("pthread_create");
    struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
    struct sock_fprog prog = { .len = 1, .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        restrict_calls(SECCOMP_MODE_FILTER, &prog) != 0)
        die("prctl");
    pthread_exit(NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    by_syscall = argc > 2 && !strcmp(argv[2], "syscall");
    if (!strcmp(argv[1], "strict"))
        strict_mode();
    if (!strcmp(argv[1], "filter"))
        filter_mode();
    if (!strcmp(argv[1], "thread-fork"))
        thread_fork_mode();
    if (!strcmp(argv[1], "exec"))
        exec_mode();
    if (!strcmp(argv[1], "sysexit"))
        sysexit_mode();
    return 2;
}
