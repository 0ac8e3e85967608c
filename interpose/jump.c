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
 * (wait.h: lp_wait_nest_) whose frame the jump discards is ended (lp_wait_abandon); so is a
 * section of lockprof's own code, unless it holds (or was taking) one of lockprof's locks
 * (sync.h): then the guard stays raised for good rather than a lock be taken again by a thread
 * that abandoned it.
 *
 * Which frames a jump discards. glibc keeps the target's stack pointer in the jmp_buf mangled
 * with the thread's pointer guard (x86-64: rotated left 17 bits after an xor with the word at
 * %fs:0x30, the layout of glibc's thread control block since 2.4); it is read back the same way.
 * A target above the jumping frame is on the same stack: the frames strictly between the two
 * are discarded (a jump within a handler, or within an alternate signal stack, discards nothing
 * of the wait it interrupted). A target below it is on another stack (a handler on an alternate
 * signal stack above the thread's jumping back to it): the frames below the target are
 * discarded, and the waits of the stack left are forgotten. Elsewhere (another architecture,
 * x32) nothing is ended, as before.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "resolve.h"
#include "stacktab.h"
#include "sync.h"
#include "wait.h"

#if defined(__x86_64__) && defined(__LP64__)
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
    if (!target || target == here)
        return; /* not known */
    /* A jump up its own stack (target above here) discards the frames in between. One to
     * another stack (below here: from an alternate signal stack back to the thread's, or
     * between coroutine stacks) discards, on the target's stack, the frames below the target,
     * and leaves the stack it comes from: every other entry is forgotten (never read again),
     * for its frame may be reused before the list is next looked at. */
    bool cross = target < here;
    struct lp_wait_nest *s = &lp_wait_nest_;
    uint32_t n = s->n, kept = 0;
    bool discarded = false, keep[LP_WAIT_NEST];
    for (uint32_t i = n; i-- > 0;) {
        uintptr_t e = (uintptr_t)s->w[i];
        keep[i] = false;
        if (cross ? e < target : e > here && e < target) {
            if (s->w[i]->token == s->token[i] && !s->w[i]->abandoned)
                lp_wait_abandon(s->w[i]); /* innermost first; the guard back down */
            discarded = true;
        } else if (!cross) {
            keep[i] = true; /* above the target, or on another stack */
        }
    }
    for (uint32_t i = 0; i < n; i++)
        if (keep[i]) {
            s->w[kept] = s->w[i];
            s->token[kept] = s->token[i];
            kept++;
        }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    s->n = kept;
    if (!cross && lp_self.busy && lp_self.busy_at > here && lp_self.busy_at < target) {
        lp_self.busy = 0;
        discarded = true;
    }
    if (!discarded)
        return;
    if (lp_sync_held_) {
        /* A section that holds (or was taking) one of lockprof's locks was left: the thread
         * keeps its guard up for good rather than take that lock again. */
        lp_self.busy = 1;
        lp_self.busy_at = 0;
        return;
    }
    /* With the guard down nothing of lockprof's is live below the target: a stack it was
     * entering, an unwind it was in, were the discarded frames'. */
    if (!lp_self.busy) {
        lp_stacktab_abandon();
        lp_self.in_unwind = 0;
    }
}

/* Before lockprof's constructor, and on lockprof's own threads (always busy, never jumping out
 * of a wait), there is nothing to end; otherwise the check costs two loads. */
static inline void jump_check(const struct __jmp_buf_tag *env)
{
    if (lp_wait_nest_.n || (lp_self.busy && lp_self.busy_at))
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
