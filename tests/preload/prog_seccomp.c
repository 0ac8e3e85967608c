/*
 * prog_seccomp — a program that restricts its own system calls (host_life.t).
 * Usage: prog_seccomp strict|filter
 *   strict  reads a pipe once, enters SECCOMP_MODE_STRICT (read, write, exit, sigreturn only),
 *           reads the rest of the pipe, writes it to stdout and leaves with SYS_exit(7)
 *   filter  starts a worker and contends with it on a mutex 20 times in contend_before (waits
 *           the main thread really sleeps in), installs a filter (SECCOMP_RET_KILL_PROCESS for
 *           any call not in its list: the calls this program makes from then on), contends 20
 *           times more in contend_after, joins the worker, prints, and exits 7 through exit()
 * Any call outside the list kills the process with SIGSYS.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

#include "progutil.h"

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
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
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
        sleep_ms(2); /* holds it while the main thread waits for it */
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

static void filter_mode(void)
{
    static const int allowed[] = {
        SYS_read, SYS_write, SYS_futex, SYS_exit, SYS_exit_group, SYS_rt_sigreturn,
        SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep, SYS_sched_yield, SYS_mmap,
        SYS_munmap, SYS_madvise, SYS_mprotect, SYS_brk, SYS_rt_sigprocmask,
    };
    enum { N = sizeof allowed / sizeof allowed[0] };
    struct sock_filter f[N + 6];
    int k = 0;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, nr));
    for (int i = 0; i < N; i++) /* to the ALLOW at the end, N - i instructions on */
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, allowed[i],
                                              (unsigned char)(N - i), 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = { .len = (unsigned short)k, .filter = f };

    printf("filter: start\n"); /* stdout set up before the filter */
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        die("pthread_create");
    contend_before();
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        die("prctl");
    contend_after();
    pthread_join(t, NULL);
    printf("filter: 40 rounds\n");
    exit(7);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "strict"))
        strict_mode();
    if (!strcmp(argv[1], "filter"))
        filter_mode();
    return 2;
}
