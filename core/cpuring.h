/*
 * cpuring.h — the CPU profile's samples on their way from the signal handler that takes them to
 * the thread that records them (DESIGN §3.6): one bounded ring of fixed-size records, shared by
 * every thread.
 *
 * One shared ring rather than a buffer per thread: a thread's buffer would have to exist before
 * its first sample, which a handler cannot make (it allocates nothing), so it would be made when
 * the thread starts (and for the threads that started before lockprof, or out of its sight, by
 * someone else), found by the drainer through a registry, and given back when its thread ends.
 * The ring needs none of that, and its memory is bounded whatever the number of threads: samples
 * come at hz × the CPUs that are busy, not × the threads, so its size depends on the CPUs only.
 * What it costs: a compare-and-swap on one shared counter per sample (at 100 Hz, 100 a second
 * per busy CPU).
 *
 * A producer claims the record at the head with a compare-and-swap once the record's state says
 * it is free for this lap of the ring (Vyukov's bounded queue), fills it in place and publishes
 * it by storing its state. A full ring refuses the claim (the sample is the caller's to count).
 * The consumer takes published records in order and frees each; it stops at the first record
 * not yet published (a producer between its claim and its publication) and takes it next time.
 * States start at zero, so the mapping's pages are touched only as records are used.
 *
 * Context: lp_cpuring_claim_sigsafe and lp_cpuring_publish_sigsafe from any thread, signal
 * handlers included (no lock, no system call, no allocation; a claim retries only when another
 * producer's claim went first); lp_cpuring_drain from one thread at a time (the caller
 * serialises); lp_cpuring_init at start; lp_cpuring_atfork_child in a new process, before its
 * first sample.
 */
#ifndef LP_CPURING_H
#define LP_CPURING_H

#include <stdbool.h>
#include <stdint.h>

/* records: rounded up to a power of two; frames: room for that many addresses per record.
 * 0, or -ENOMEM (then every claim fails). */
int lp_cpuring_init(unsigned records, unsigned frames);
/* The room per record and the number of records (0 before init). */
unsigned lp_cpuring_frames(void);
unsigned lp_cpuring_records(void);

/* The record at the head, claimed: its address array (lp_cpuring_frames() entries) to fill,
 * and *ticket to publish it with. NULL when the ring is full. */
uintptr_t *lp_cpuring_claim_sigsafe(uint64_t *ticket);
/* The claimed record holds depth addresses and the weight the consumer is to give them. */
void lp_cpuring_publish_sigsafe(uint64_t ticket, unsigned depth, bool truncated,
                                uint32_t weight);
/* Records claimed and not yet consumed, as of a claim's ticket (for the producer that wants to
 * wake the consumer when the ring is getting full). */
uint64_t lp_cpuring_used_sigsafe(uint64_t ticket);

typedef void (*lp_cpuring_fn)(const uintptr_t *pcs, unsigned depth, bool truncated,
                              uint32_t weight, void *arg);
/* Gives fn every published record in order, up to the first not yet published; returns how
 * many. The records are free again once fn has returned. */
uint64_t lp_cpuring_drain(lp_cpuring_fn fn, void *arg);

/* In a new process (fork), whose only thread is the caller: the parent's records, published or
 * not, are forgotten (a parent's thread caught between its claim and its publication would
 * otherwise stop the child's consumer for ever). Touches only the records between the two. */
void lp_cpuring_atfork_child(void);

#endif
