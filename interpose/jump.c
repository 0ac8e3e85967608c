/*
 * jump.c — a signal handler that leaves by siglongjmp (or longjmp) what it interrupted.
 *
 * POSIX leaves it undefined, and real programs do it: a handler for SIGALRM or SIGINT jumps
 * back to a main loop, out of whatever call the signal interrupted. When that call was a wait
 * lockprof was timing, the wait never ends through its wrapper: its waiter would stay
 * registered on the lock (every later release charged for it), its entry would stay in the
 * table of waits in progress, and a jump out of lockprof's own code would leave the thread's
 * guard raised (nothing on it profiled again, no profile written by it).
 *
 * So the jumps are interposed. Before the real one, each of the thread's waits in progress
 * (wait.h: lp_wait_open_) whose frame the jump discards is ended (lp_wait_abandon); so is a
 * section of lockprof's own code, unless it holds one of lockprof's locks (sync.h): then the
 * guard stays raised rather than a lock be taken again by a thread that abandoned it.
 *
 * Which frames a jump discards: those between the jumping frame and the target's stack pointer,
 * on the same stack. glibc keeps the target's stack pointer in the jmp_buf mangled with the
 * thread's pointer guard (x86-64: rotated left 17 bits after an xor with the word at %fs:0x30,
 * the layout of glibc's thread control block since 2.4); read back the same way. A frame counts
 * only when it lies strictly between the two stack pointers, so that a jump made on an
 * alternate signal stack, or within the handler itself, discards nothing of the wait it
 * interrupted. Elsewhere (another architecture) nothing is ended, as before.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "resolve.h"
#include "stacktab.h"
#include "sync.h"
#include "wait.h"

#if defined(__x86_64__)
#define JUMP_SP_INDEX 6 /* glibc's JB_RSP */
static uintptr_t jump_target_sp(const struct __jmp_buf_tag *env)
{
    uintptr_t guard, v = (uintptr_t)env->__jmpbuf[JUMP_SP_INDEX];
    __asm__("mov %%fs:0x30, %0" : "=r"(guard));
    v = (v >> 17) | (v << (64 - 17));
    return v ^ guard;
}
#else
static uintptr_t jump_target_sp(const struct __jmp_buf_tag *env)
{
    (void)env;
    return 0;
}
#endif

/* Ends what a jump from here to env discards. */
static __attribute__((noinline)) void jump_leave(const struct __jmp_buf_tag *env)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    uintptr_t target = jump_target_sp(env);
    if (target <= here)
        return; /* not a jump to an older frame of this stack (or not known) */
    bool discarded = false;
    struct lp_waiting *w;
    while ((w = lp_wait_open_) && (uintptr_t)w > here && (uintptr_t)w < target) {
        lp_wait_abandon(w); /* the guard back to where the wrapper found it: down */
        discarded = true;
    }
    if (lp_self.busy && lp_self.busy_at > here && lp_self.busy_at < target &&
        !lp_sync_held_) {
        lp_self.busy = 0;
        discarded = true;
    }
    /* With the guard down nothing of lockprof's is live below the target: a stack it was
     * entering, an unwind it was in, were the discarded frames'. */
    if (discarded && !lp_self.busy) {
        lp_stacktab_abandon();
        lp_self.in_unwind = 0;
    }
}

/* Before lockprof's constructor, and on lockprof's own threads (always busy, never jumping out
 * of a wait), there is nothing to end; otherwise the check costs two loads. */
static inline void jump_check(const struct __jmp_buf_tag *env)
{
    if (lp_wait_open_ || (lp_self.busy && lp_self.busy_at))
        jump_leave(env);
}

LP_EXPORT __attribute__((noreturn)) void siglongjmp(sigjmp_buf env, int val)
{
    jump_check(env);
    REAL(siglongjmp)(env, val);
    __builtin_unreachable();
}

LP_EXPORT __attribute__((noreturn)) void longjmp(jmp_buf env, int val)
{
    jump_check(env);
    REAL(longjmp)(env, val);
    __builtin_unreachable();
}

LP_EXPORT __attribute__((noreturn)) void _longjmp(jmp_buf env, int val)
{
    jump_check(env);
    REAL(_longjmp)(env, val);
    __builtin_unreachable();
}

/* What longjmp and siglongjmp become in a program built with _FORTIFY_SOURCE. */
void __longjmp_chk(jmp_buf env, int val) __attribute__((noreturn));
LP_EXPORT __attribute__((noreturn)) void __longjmp_chk(jmp_buf env, int val)
{
    jump_check(env);
    REAL(__longjmp_chk)(env, val);
    __builtin_unreachable();
}
