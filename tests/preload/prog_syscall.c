/*
 * prog_syscall — libc's syscall() with numbers other than SYS_futex, each of which must behave
 * exactly as without lockprof (syscall.t runs it with and without the preload and compares).
 * Every line it prints is a fact that holds on any run; nothing varies between runs.
 *
 *   gettid, getpid      the same as libc's own
 *   getrandom           fills the buffer, returns its length
 *   mmap, munmap        a page-aligned address (a result above 2^31), then 0
 *   errno               a call that succeeds leaves errno as it was
 *   invalid             an unknown number (and -1): -1 and ENOSYS
 *   upper bits          a number with bits above 32 set goes to the kernel as it is
 *   clone               with CLONE_VM and a new stack: the child returns from syscall() on that
 *                       stack (into child_main, whose address is the stack's top word, as
 *                       glibc's syscall returns with ret) and leaves with SYS_exit
 *   clone3              the same with clone3 (the kernel's stack + size is where ret reads)
 *   vfork               SYS_vfork: the child returns from syscall() on the parent's stack and
 *                       leaves at once with an inline exit (a frame left under the call would
 *                       have been overwritten for the parent)
 *   thread exit         a thread ends itself with syscall(SYS_exit, 0); pthread_join returns
 */
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "progutil.h"

#define STACK_SIZE (64 * 1024)

static volatile int child_ran;
static volatile uintptr_t child_sp;
static char *child_stack;

/* Runs on the new stack: it is entered by glibc's syscall's ret, and never returns. */
static __attribute__((noreturn, used)) void child_main(void)
{
    child_sp = (uintptr_t)__builtin_frame_address(0);
    child_ran = 1;
    for (;;)
        syscall(SYS_exit, 0);
}

/* The top of a fresh stack, holding child_main's address where the first ret of the child
 * finds it (16-byte aligned below it, so that child_main starts with the ABI's alignment). */
static uintptr_t *stack_with_return(void)
{
    child_stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (child_stack == MAP_FAILED)
        die("mmap");
    uintptr_t *top = (uintptr_t *)(child_stack + STACK_SIZE - 16);
    top[0] = (uintptr_t)child_main;
    return top;
}

static bool child_on_its_stack(void)
{
    return child_sp > (uintptr_t)child_stack && child_sp < (uintptr_t)child_stack + STACK_SIZE;
}

static void report_child(const char *what, long pid)
{
    int st = -1;
    if (pid <= 0 || waitpid((pid_t)pid, &st, __WALL) != pid)
        die(what);
    printf("%s: child ran on its stack: %d, exited %d\n", what, child_ran && child_on_its_stack(),
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    munmap(child_stack, STACK_SIZE);
    child_ran = 0;
    child_sp = 0;
}

static void clone_new_stack(void)
{
    uintptr_t *top = stack_with_return();
    long pid = syscall(SYS_clone, CLONE_VM | SIGCHLD, top, NULL, NULL, 0);
    report_child("clone", pid);
}

static void clone3_new_stack(void)
{
    uintptr_t *top = stack_with_return();
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_VM;
    args.exit_signal = SIGCHLD;
    args.stack = (uintptr_t)child_stack;
    args.stack_size = (uintptr_t)top - (uintptr_t)child_stack; /* the child's sp: top */
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == -1 && errno == ENOSYS) {
        printf("clone3: child ran on its stack: 1, exited 0\n"); /* (no clone3 here) */
        munmap(child_stack, STACK_SIZE);
        return;
    }
    report_child("clone3", pid);
}

static __attribute__((noinline)) void vfork_raw(void)
{
    long pid = syscall(SYS_vfork);
    if (pid == 0) {
        /* The child, on the parent's stack: nothing pushed before it is gone. */
        __asm__ volatile("syscall" : : "a"(SYS_exit), "D"(7) : "rcx", "r11", "memory");
        __builtin_unreachable();
    }
    int st = -1;
    if (pid < 0 || waitpid((pid_t)pid, &st, 0) != pid)
        die("vfork");
    printf("vfork: child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void *thread_sys_exit(void *arg)
{
    (void)arg;
    syscall(SYS_exit, 0);
    return (void *)1; /* never */
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("gettid: %s\n", syscall(SYS_gettid) == gettid() ? "same" : "different");
    printf("getpid: %s\n", syscall(SYS_getpid) == getpid() ? "same" : "different");
    unsigned char buf[16];
    memset(buf, 0, sizeof buf);
    long n = syscall(SYS_getrandom, buf, sizeof buf, 0);
    int zeros = 0;
    for (size_t i = 0; i < sizeof buf; i++)
        zeros += buf[i] == 0;
    printf("getrandom: %ld, filled: %d\n", n, zeros < 8);
    long p = syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    printf("mmap: page-aligned: %d\n", p != -1 && (p & 4095) == 0);
    printf("munmap: %ld\n", syscall(SYS_munmap, p, 4096));

    errno = 77;
    long r = syscall(SYS_getppid);
    printf("errno after a success: %d (result %s)\n", errno, r == getppid() ? "right" : "wrong");
    errno = 0;
    r = syscall(100000);
    printf("invalid number: %ld, errno %s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
    errno = 0;
    r = syscall(-1L);
    printf("number -1: %ld, errno %s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
    errno = 0;
    r = syscall((long)(1UL << 32) | SYS_getpid);
    printf("getpid with bit 32 set: %s\n",
           r == getpid() ? "getpid" : r == -1 && errno == ENOSYS ? "ENOSYS" : "other");
    errno = 0;
    uint32_t word = 0;
    r = syscall((long)(1UL << 32) | SYS_futex, &word, 1 /* FUTEX_WAKE */, 1, NULL, NULL, 0);
    printf("futex with bit 32 set: %ld, errno %s\n", r,
           r == -1 ? (errno == ENOSYS ? "ENOSYS" : "other") : "kept");

    clone_new_stack();
    clone3_new_stack();
    vfork_raw();

    pthread_t th;
    void *ret = NULL;
    if (pthread_create(&th, NULL, thread_sys_exit, NULL))
        die("pthread_create");
    printf("thread SYS_exit: joined %d, result %p\n", pthread_join(th, &ret) == 0, ret);
    return 0;
}
