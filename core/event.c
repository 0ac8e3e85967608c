/* event.c — see event.h. */
#include "event.h"

#include <pthread.h>
#include <string.h>


#include "clock.h"
#include "families.h"
#include "inflight.h"
#include "seam.h"
#include "sys.h"
#include "stack.h"

__thread struct lp_thread lp_self __attribute__((tls_model("initial-exec")));


/* Where glibc's thread descriptor has the id; 0: unknown. */
LP_INIT_DATA static size_t event_tid_offset;

LP_INIT_TEXT void lp_event_thread_descriptor(size_t offset)
{
    __atomic_store_n(&event_tid_offset, offset, __ATOMIC_RELAXED);
}

void lp_event_thread_descriptor_recheck(void)
{
    size_t off = __atomic_load_n(&event_tid_offset, __ATOMIC_RELAXED);
    int32_t tid = 0;
    if (off)
        memcpy(&tid, (const char *)pthread_self() + off, sizeof tid);
    if (off && tid != (int32_t)lp_sys_gettid())
        lp_event_thread_descriptor(0);
}

/* (No call: __builtin_thread_pointer is the descriptor's address on x86-64, what pthread_self
 * returns; a fork child has not mapped libc's pthread_self yet.) */
LP_FORK_TEXT int32_t lp_event_descriptor_tid(void)
{
    size_t off = __atomic_load_n(&event_tid_offset, __ATOMIC_RELAXED);
    int32_t tid = 0;
    if (off)
        memcpy(&tid, (const char *)__builtin_thread_pointer() + off, sizeof tid);
    return tid;
}

int32_t lp_thread_tid(void)
{
    if (__builtin_expect(lp_self.tid == 0, 0)) {
        size_t off = __atomic_load_n(&event_tid_offset, __ATOMIC_RELAXED);
        int32_t tid = 0;
        if (off)
            memcpy(&tid, (const char *)pthread_self() + off, sizeof tid);
        lp_self.tid = tid > 0 ? tid : (int32_t)lp_sys_gettid();
    }
    return lp_self.tid;
}

void lp_event_rng_init(void)
{
    if (lp_self.rng.s == 0)
        lp_rng_seed(&lp_self.rng, (uint64_t)lp_thread_tid() << 32 ^ lp_now());
}

static void event_capture(struct lp_wait *ev)
{
    ev->depth = lp_stack_capture(ev->pcs, lp_stack_depth_, &ev->truncated);
    ev->have_stack = true;
}

void lp_event_wait_begin_buf(struct lp_wait *ev, const char *leaf, enum lp_family_id family,
                             const void *charge_lock, const void *object, bool unwind_now)
{
    ev->leaf = leaf;
    ev->family = family;
    ev->rate = lp_rates_block();
    ev->have_stack = false;
    ev->inflight = -1;
    if (lp_seams.stage < 3) {
        ev->w.start = lp_seams.stage == 2 ? lp_now() : 0;
        return;
    }
    /* The wait begins now, when the caller found it had to wait: registered (and timed)
     * first, so that time spent unwinding — or preempted while unwinding — is part of the
     * wait and of what the holder is charged. */
    bool charge = charge_lock && lp_rates_fraction() != 0;
    lp_locktab_wait_begin(&ev->w, charge_lock, charge, charge ? lp_event_arm() : 0,
                          family == LP_FAM_FUTEX); /* a futex word's entry is kept (locktab.h) */
    /* Visible to the threads view from now on, with the same start. */
    ev->inflight = lp_inflight_begin(lp_thread_tid(), leaf, object, ev->w.start);
    /* Unwind before blocking: the stack is the same, and the cost overlaps the wait. */
    if (lp_seams.stage >= 4 && ev->rate && unwind_now)
        event_capture(ev);
}

uint64_t lp_event_wait_end(struct lp_wait *ev, enum lp_wait_outcome outcome)
{
    if (lp_seams.stage < 3)
        return lp_seams.stage == 2 ? lp_now() : 0;
    lp_inflight_end(ev->inflight);
    ev->inflight = -1;
    uint64_t end = lp_locktab_wait_end(&ev->w, outcome);
    if (outcome != LP_NOT_A_WAIT)
        lp_families_seen_add(ev->family, lp_thread_tid());
    struct lp_weight wt;
    if (lp_seams.stage >= 4 && outcome != LP_NOT_A_WAIT &&
        lp_sample_block(lp_event_rng(), ev->rate, end - ev->w.start, &wt)) {
        if (!ev->have_stack) /* lp_event_wait_begin_late: unwound only now, when recorded */
            event_capture(ev);
        lp_stacktab_add(LP_BLOCK, ev->leaf, ev->pcs, ev->depth, ev->truncated, &wt);
    }
    return end;
}

void lp_event_wait_drop(struct lp_wait *ev)
{
    if (ev->inflight >= 0) {
        lp_inflight_end(ev->inflight);
        ev->inflight = -1;
    }
    /* A registered waiter leaves as one that gave up: what it waited is owed by the next
     * release (DESIGN §3.3: leave on cancel). */
    if (lp_seams.stage >= 3 && ev->w.registered)
        lp_locktab_wait_end(&ev->w, LP_GAVE_UP);
}

bool lp_event_release_charge_armed(const void *lock, uint64_t arm, struct lp_weight *wt)
{
    if (lp_seams.stage < 3)
        return false;
    uint64_t charge, fraction;
    if (!lp_locktab_release(lock, arm, &charge, &fraction))
        return false;
    /* Picked at the fraction the release before it drew with; nothing is recorded once the
     * mutex profile is off. */
    if (lp_seams.stage < 4 || lp_rates_fraction() == 0)
        return false;
    lp_sample_mutex_weight(fraction, charge, wt);
    return true;
}

void lp_event_release_unseen(const void *lock)
{
    if (lp_seams.stage >= 3)
        lp_locktab_rebase(lock);
}

void lp_event_record_charge(const char *leaf, const struct lp_weight *wt, struct lp_wait *ev)
{
    struct lp_wait local;
    LP_EVENT_STACK_BUF(&local);
    if (!ev || !ev->have_stack) {
        ev = &local;
        event_capture(ev);
    }
    lp_stacktab_add(LP_MUTEX, leaf, ev->pcs, ev->depth, ev->truncated, wt);
}

void lp_event_record_charge_synthetic(const char *leaf, const struct lp_weight *wt)
{
    lp_stacktab_add(LP_MUTEX, leaf, NULL, 0, false, wt);
}

uint64_t lp_wait_threshold_ns_; /* 0 until lp_event_calibrate */

void lp_event_calibrate(void)
{
    if (__atomic_load_n(&lp_wait_threshold_ns_, __ATOMIC_RELAXED))
        return;
    /* The fastest of a few null syscalls, clock reads included: a call that returned at once
     * costs about that. 20 of them is well above any non-blocking read of a pipe with data
     * ready, and well below a wait, which takes two context switches. Bounded both ways so
     * that a slow first syscall (a cold cache, a preempted constructor) changes nothing. */
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 32; i++) {
        uint64_t t0 = lp_now();
        lp_sys_getppid();
        uint64_t d = lp_now() - t0;
        if (d < best)
            best = d;
    }
    uint64_t t = best * 20;
    if (t < 2000)
        t = 2000;
    if (t > 50000)
        t = 50000;
    __atomic_store_n(&lp_wait_threshold_ns_, t, __ATOMIC_RELAXED);
}

bool lp_event_pick_wait(uint64_t start, uint64_t end, struct lp_weight *wt)
{
    /* Calibrated here, by the first call that lasted "at least 0": a process that makes no
     * timed call (most short-lived ones) pays for no calibration. */
    if (__builtin_expect(__atomic_load_n(&lp_wait_threshold_ns_, __ATOMIC_RELAXED) == 0, 0))
        lp_event_calibrate();
    return lp_seams.stage >= 4 && lp_event_is_wait(start, end) &&
           lp_sample_block(lp_event_rng(), lp_rates_block(), end - start, wt);
}

void lp_event_record_picked(const char *leaf, enum lp_family_id family,
                            const struct lp_weight *wt)
{
    lp_families_seen_add(family, lp_thread_tid());
    struct lp_wait ev;
    LP_EVENT_STACK_BUF(&ev);
    event_capture(&ev);
    lp_stacktab_add(LP_BLOCK, leaf, ev.pcs, ev.depth, ev.truncated, wt);
}

LP_FORK_TEXT void lp_event_atfork_child(void)
{
    lp_self.tid = 0;
    lp_self.rng.s = 0;
}
