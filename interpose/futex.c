/*
 * futex.c — futex waits and wakes made through libc's syscall() (DESIGN §2): how Rust's std,
 * GLib, libstdc++'s C++20 waits, absl, folly and InnoDB block, none of them through pthread.
 * glibc's own pthread code makes its futex calls with inline system calls, never through
 * syscall(): nothing is seen twice.
 *
 * syscall is interposed for SYS_futex (and SYS_seccomp: process.c, lp_seccomp_syscall, as
 * prctl's PR_SET_SECCOMP). Its entry (below, in assembly) jumps on to glibc's syscall for every
 * other number, and for every futex call while the family is off
 * (LOCKPROF_FUTEX=0, before the constructor, under secure execution): no frame of lockprof's is
 * under the call, so that clone, clone3 and vfork made through syscall() return on the child's
 * stack through glibc's code exactly as without lockprof, and SYS_exit leaves nothing of
 * lockprof's behind. A futex call reaches lp_futex_syscall by a jump as well: the same
 * registers and the same stack, its seventh parameter at 8(%rsp) as glibc's syscall reads it.
 *
 * glibc's syscall (real_syscall) is resolved with dlsym by the constructor, or by any wrapper
 * that runs before it (resolve.h). A caller bound through the GOT (Rust's binaries) may come
 * earlier still: another library's constructor, a signal handler. Resolving then, from the
 * entry, would need dlsym, which takes the loader's lock and is not async-signal-safe; instead,
 * until the pointer is there, the entry makes the system call itself exactly as glibc's
 * syscall does (the number in rax, the sixth argument from the stack, a result in
 * [-4095, -1] becomes errno and -1), still with no frame of lockprof's under the instruction.
 * The futex path does the same in C (futex_raw).
 *
 * Arguments are decoded as the kernel reads them: the operation and the value are 32-bit ints
 * in 64-bit registers whose upper halves are undefined. They are passed on unchanged.
 *
 * Waits (block profile; registered on their word for the charge of its next wake):
 * FUTEX_WAIT and FUTEX_WAIT_BITSET (leaf futex_wait), FUTEX_LOCK_PI and FUTEX_LOCK_PI2
 * (futex_lock_pi), FUTEX_WAIT_REQUEUE_PI (futex_wait_requeue_pi), private or not, on any clock.
 * A call that returns 0 was woken (or, for a PI lock, took a lock its caller found taken);
 * ETIMEDOUT and EINTR slept and gave up; EAGAIN (the word had changed) and every other error
 * returned without sleeping: not a wait. As for a contended mutex, the wait is begun
 * (registered, entered in the in-flight table) before the call and ended after it. A PI
 * lock's waiter is unwound before the call too, since it returns holding the lock; a
 * FUTEX_WAIT returns holding nothing, and is unwound after it, only when it is recorded.
 *
 * Wakes (mutex profile): FUTEX_WAKE and FUTEX_WAKE_BITSET (leaf futex_wake), FUTEX_WAKE_OP
 * (futex_wake_op, a release of both its words), FUTEX_REQUEUE, FUTEX_CMP_REQUEUE and
 * FUTEX_CMP_REQUEUE_PI (futex_requeue), FUTEX_UNLOCK_PI (futex_unlock_pi) release their word
 * when they woke somebody: a result above 0 (waiters woken, or woken and requeued); for
 * FUTEX_UNLOCK_PI, success on a word that had FUTEX_WAITERS set before the call (read then,
 * while the caller owns the lock: afterwards it is the top waiter's, the kernel having handed
 * it over, and its memory may be freed at once). As a mutex's release (wait.h), the
 * charge is computed before the call, so that a waiter it wakes finds the release accounted
 * for, and recorded after it, only when the call woke somebody.
 *
 * Async-signal-safe, as folly needs (it wakes from signal handlers): no lock, no allocation,
 * no system call but the program's; lockprof's tables take no lock, and a call made while
 * lockprof's code runs on this thread passes straight through (the guard, wait.h).
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "futex.h"
#include "lifecycle.h"
#include "procthreads.h"
#include "sys.h"
#include "wait.h"

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

/* The flags the kernel takes off an operation; what is left is its command. */
#define FUTEX_FLAGS (FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)

/* 1 while futex calls are profiled (lp_futex_enable); read by the entry. */
LP_INIT_DATA uint32_t lp_futex_on_;

/* ---- the entry ------------------------------------------------------------------------------ */

long lp_futex_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
long lp_seccomp_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

#if defined(__CET__)
#define FUTEX_ENDBR "endbr64\n\t"
#else
#define FUTEX_ENDBR ""
#endif

_Static_assert(SYS_futex == 202, "the entry compares with SYS_futex as a literal");
_Static_assert(SYS_seccomp == 317, "the entry compares with SYS_seccomp as a literal");

/* syscall(number, a0 … a5): rdi, rsi, rdx, rcx, r8, r9, 8(%rsp). Only r11 is used, which no
 * argument occupies and every call may clobber. */
__asm__(".text\n\t"
        ".globl syscall\n\t"
        ".type syscall, @function\n\t"
        ".p2align 4\n"
        "syscall:\n\t"
        ".cfi_startproc\n\t"
        FUTEX_ENDBR
        "cmpq $202, %rdi\n\t" /* SYS_futex */
        "jne 1f\n\t"
        "cmpl $0, lp_futex_on_(%rip)\n\t"
        "jne lp_futex_syscall\n"
        "1:\n\t"
        "cmpq $317, %rdi\n\t" /* SYS_seccomp */
        "je lp_seccomp_syscall\n\t"
        "movq real_syscall(%rip), %r11\n\t"
        "testq %r11, %r11\n\t"
        "jz 2f\n\t"
        "jmp *%r11\n"
        /* Not resolved yet: the system call, as glibc's syscall makes it. */
        "2:\n\t"
        "movq %rdi, %rax\n\t"
        "movq %rsi, %rdi\n\t"
        "movq %rdx, %rsi\n\t"
        "movq %rcx, %rdx\n\t"
        "movq %r8, %r10\n\t"
        "movq %r9, %r8\n\t"
        "movq 8(%rsp), %r9\n\t"
        "syscall\n\t"
        "cmpq $-4095, %rax\n\t"
        "jae 3f\n\t"
        "ret\n"
        "3:\n\t"
        "negl %eax\n\t"
        "subq $8, %rsp\n\t"
        ".cfi_adjust_cfa_offset 8\n\t"
        "movl %eax, (%rsp)\n\t"
        "call __errno_location@PLT\n\t"
        "movl (%rsp), %ecx\n\t"
        "movl %ecx, (%rax)\n\t"
        "addq $8, %rsp\n\t"
        ".cfi_adjust_cfa_offset -8\n\t"
        "movq $-1, %rax\n\t"
        "ret\n\t"
        ".cfi_endproc\n\t"
        ".size syscall, .-syscall\n\t"
        ".previous");

LP_INIT_TEXT void lp_futex_enable(bool on)
{
    __atomic_store_n(&lp_futex_on_, on ? 1u : 0u, __ATOMIC_RELEASE);
}

/* ---- one call -------------------------------------------------------------------------------- */

/* The call's six arguments as the program passed them (the kernel's order). */
struct futex_args {
    long a[6];
};

static inline const struct futex_args *futex_args(const struct lp_call *c)
{
    return c->more;
}

/* The call itself: glibc's syscall, or before it is resolved the same done here. */
static long futex_raw(const long *a)
{
    long (*real)(long, ...) = __atomic_load_n(&real_syscall, __ATOMIC_RELAXED);
    if (__builtin_expect(real != NULL, 1))
        return real(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
    long rc = lp_syscall6(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
    if ((unsigned long)rc > -4096UL) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

static long futex_call(const struct lp_call *c)
{
    return futex_raw(futex_args(c)->a);
}

/* The leaves (DESIGN §3.4): one per kind of call, whatever its flags and variant. */
static const char futex_leaf_wait[] = "futex_wait";
static const char futex_leaf_lock_pi[] = "futex_lock_pi";
static const char futex_leaf_wait_requeue_pi[] = "futex_wait_requeue_pi";
static const char futex_leaf_wake[] = "futex_wake";
static const char futex_leaf_wake_op[] = "futex_wake_op";
static const char futex_leaf_requeue[] = "futex_requeue";
static const char futex_leaf_unlock_pi[] = "futex_unlock_pi";

#define FUTEX_CALL(leaf_, word, args)                                                          \
    (&(const struct lp_call){ .id = LP_CALL_syscall, .leaf = (leaf_), .obj = (word),           \
                              .charge = (word), .more = (args) })

/* ---- waits ---------------------------------------------------------------------------------- */

static enum lp_wait_outcome futex_outcome(const struct lp_call *c, long rc, int err)
{
    (void)c;
    if (rc == 0)
        return LP_ACQUIRED;
    if (rc == -1 && (err == ETIMEDOUT || err == EINTR))
        return LP_GAVE_UP;
    return LP_NOT_A_WAIT;
}

/* FUTEX_LOCK_PI and FUTEX_WAIT_REQUEUE_PI return holding the lock: unwound before the call,
 * as a mutex's waiter, so as not to lengthen the critical section that follows. */
static const struct lp_family futex_family_lock = {
    .id = LP_FAM_FUTEX,
    .call = futex_call,
    .outcome = futex_outcome,
};

/* FUTEX_WAIT returns holding nothing: unwound after the call, only when recorded. */
static const struct lp_family futex_family_wait = {
    .id = LP_FAM_FUTEX,
    .call = futex_call,
    .outcome = futex_outcome,
    .unwind_after = true,
};

static __attribute__((noinline)) long futex_wait_profiled(const struct lp_family *f,
                                                          const struct lp_call *c)
{
    return lp_wait_run(f, c);
}

/* ---- wakes ---------------------------------------------------------------------------------- */

/* Whether word's release has anything to do (mutex.c's rule: an entry in its stripe, and one
 * armed or owed there, or this release's draw arms the next); *arm gets the draw. */
static inline bool futex_release_due(const void *word, uint64_t *arm)
{
    unsigned hint = lp_locktab_hint(word);
    if (hint == 0)
        return false;
    *arm = lp_event_arm();
    return !lp_event_release_quiet(hint, *arm);
}

/* Whether the call woke somebody (see the top of the file). pi_word: for FUTEX_UNLOCK_PI, the
 * lock word as it was before the call. */
static bool futex_woke(int cmd, uint32_t pi_word, long rc)
{
    if (cmd == FUTEX_UNLOCK_PI)
        return rc == 0 && (pi_word & FUTEX_WAITERS) != 0;
    return rc > 0;
}

/* A PI lock's word before FUTEX_UNLOCK_PI, while the caller still owns it: after the call the
 * lock is a waiter's, who may free its memory at once. Read without a fault (the pointer is
 * the program's, unchecked); 0 when unreadable, or once the process restricted its system
 * calls (the read is one). errno is kept. */
static uint32_t futex_pi_word(const void *word)
{
    uint32_t v = 0;
    if (lp_lifecycle_restricted())
        return 0;
    int saved = errno;
    if (!lp_procthreads_read_mem(word, &v, sizeof v))
        v = 0;
    errno = saved;
    return v;
}

/* A wake whose word (and, for FUTEX_WAKE_OP, second word word2) may have waiters: each due
 * release is charged before the call and recorded, as one event at this stack, if it woke
 * somebody. arm, arm2: their draws; NULL word2: none. */
static __attribute__((noinline)) long futex_wake_profiled(const struct lp_call *c, int cmd,
                                                          const void *word2, uint64_t arm,
                                                          uint64_t arm2)
{
    if (!lp_lifecycle_check())
        return futex_call(c);
    struct lp_guard g;
    lp_guard_enter(&g);
    struct lp_weight wt = { 0, 0 }, wt2;
    bool picked = c->obj && lp_event_release_charge_armed(c->obj, arm, &wt);
    if (word2 && lp_event_release_charge_armed(word2, arm2, &wt2)) {
        wt.count_fp += wt2.count_fp;
        wt.delay += wt2.delay;
        picked = true;
    }
    uint32_t pi_word = picked && cmd == FUTEX_UNLOCK_PI
                           ? futex_pi_word((const void *)futex_args(c)->a[0]) : 0;
    lp_guard_call(&g);
    long rc = futex_call(c);
    lp_guard_return(&g);
    if (picked && futex_woke(cmd, pi_word, rc))
        lp_event_record_charge(c->leaf, &wt, NULL);
    lp_guard_leave(&g);
    return rc;
}

static long futex_wake(const char *leaf, int cmd, struct futex_args *fa, bool two)
{
    void *word = (void *)fa->a[0], *word2 = two ? (void *)fa->a[4] : NULL;
    uint64_t arm = 0, arm2 = 0;
    bool due = futex_release_due(word, &arm);
    bool due2 = word2 && futex_release_due(word2, &arm2);
    if (!due && !due2)
        return futex_raw(fa->a);
    return futex_wake_profiled(FUTEX_CALL(leaf, due ? word : NULL, fa), cmd,
                               due2 ? word2 : NULL, arm, arm2);
}

/* ---- the futex path ------------------------------------------------------------------------- */

long lp_futex_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    (void)nr;
    struct futex_args fa = { { a0, a1, a2, a3, a4, a5 } };
    if (lp_wrap_passes_locks())
        return futex_raw(fa.a);
    void *word = (void *)a0;
    switch ((int)a1 & ~FUTEX_FLAGS) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET:
        return futex_wait_profiled(&futex_family_wait, FUTEX_CALL(futex_leaf_wait, word, &fa));
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
        return futex_wait_profiled(&futex_family_lock,
                                   FUTEX_CALL(futex_leaf_lock_pi, word, &fa));
    case FUTEX_WAIT_REQUEUE_PI:
        return futex_wait_profiled(&futex_family_lock,
                                   FUTEX_CALL(futex_leaf_wait_requeue_pi, word, &fa));
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET:
        return futex_wake(futex_leaf_wake, FUTEX_WAKE, &fa, false);
    case FUTEX_WAKE_OP:
        return futex_wake(futex_leaf_wake_op, FUTEX_WAKE_OP, &fa, true);
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE:
    case FUTEX_CMP_REQUEUE_PI:
        return futex_wake(futex_leaf_requeue, FUTEX_REQUEUE, &fa, false);
    case FUTEX_UNLOCK_PI:
        return futex_wake(futex_leaf_unlock_pi, FUTEX_UNLOCK_PI, &fa, false);
    default: /* FUTEX_TRYLOCK_PI and the rest never sleep; unknown ones are the kernel's */
        return futex_raw(fa.a);
    }
}
