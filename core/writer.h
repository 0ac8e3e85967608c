/*
 * writer.h — writing both profiles to their files, atomically (DESIGN §3.5, §5).
 *
 * Each file is written to a temporary file beside it (created exclusively, under a name
 * nobody can guess) and renamed, so a reader never sees half a profile. A failure is reported
 * as one "lockprof:" line, not again while writes keep failing the same way (a final profile's
 * always); it never changes the program's behaviour.
 *
 * Context: lockprof's own thread or the exiting thread, never a signal handler. Uses no malloc
 * (its arena is mmapped). Serialised by the writer lock (first in the lock order of sync.h).
 */
#ifndef LP_WRITER_H
#define LP_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stacktab.h"

struct lp_writer_info {
    const char *version;        /* "0.1.0" */
    unsigned stack_depth;
    int64_t claim_since;        /* a prefix without the pid in it: when the process started
                                   (lp_clock_realtime); 0 for a prefix of its own */
};

/* prefix: absolute, already expanded. Copies what it is given.
 * A prefix that other processes may share (info->claim_since set) is claimed at the first
 * write, in PREFIX.owner (pid and start time; made whole, then linked, so of two processes
 * one gets it; a previous run's is replaced under PREFIX.owner.take, also exclusive).
 * Profiles already there are a previous run's and are replaced, unless PREFIX.owner names
 * another live process, or one of them was written after claim_since (by a process that has
 * ended since): then this process writes under PREFIX.PID instead (warned once). */
void lp_writer_init(const char *prefix, const struct lp_writer_info *info);
/* Writes both profiles now. 0, or the first error (-errno), reported: always for a final
 * profile (the process ends or execs), otherwise unless the write before failed the same way. */
int lp_writer_write(const char *why, bool final);
/* A comment every profile written from now on carries (copied; at most 200 bytes). */
void lp_writer_note(const char *note);
/* Encodes one cumulative profile to fd (pprof, gzip): the writer's core, also for tests. */
int lp_writer_encode(int fd, enum lp_profile p);

/*
 * Live profiles (DESIGN §5: on LOCKPROF_SIGNAL, every LOCKPROF_INTERVAL, the C API, HTTP).
 *
 * A window (HTTP's seconds=N) starts with lp_writer_window_begin, which copies every entry's
 * weights (an mmapped baseline, freed by lp_writer_window_end); lp_writer_encode_to with that
 * window writes what was recorded since — Go's delta profile, time_nanos the end of the window
 * and duration_nanos its length. Samples are weighted when recorded, so a delta needs nothing
 * but the subtraction.
 */
enum lp_writer_format {
    LP_FORMAT_PPROF = 0, /* gzip-compressed profile.proto */
    LP_FORMAT_TEXT = 1,  /* Go's legacy text, debug=1 (DESIGN §3.5) */
};
struct lp_writer_window;
/* NULL if the baseline cannot be mapped. */
struct lp_writer_window *lp_writer_window_begin(void);
/* A line for the delta's comments (replacing any given before); NULL or "" for none. */
void lp_writer_window_note(struct lp_writer_window *w, const char *note);
void lp_writer_window_end(struct lp_writer_window *w);
/* Writes profile p to fd: cumulative (w NULL) or the delta of window w (for a stateful
 * delta, what lp_writer_delta_next would write now, without moving it). 0 or -errno. */
int lp_writer_encode_to(int fd, enum lp_profile p, enum lp_writer_format f,
                        const struct lp_writer_window *w);

/*
 * A stateful delta (Go's /debug/pprof/delta_mutex and delta_block, as pyroscope-go's
 * godeltaprof serves them): lp_writer_delta_begin maps a baseline of zero weights (NORESERVE:
 * only the pages of entries that exist are touched) starting at since_real, since_mono (ns
 * since the epoch; lp_clock_monotonic()); each lp_writer_delta_next writes, in pprof, what
 * profile p recorded since the previous one (the first: since the start given), time_nanos
 * now and duration_nanos since then, and, once the profile is written whole, moves p's
 * entries of the baseline and the start to what it wrote. Counts are the changes of the
 * rounded cumulative counts, so the deltas of one profile add up to its cumulative profile
 * exactly. Use one per profile; freed by lp_writer_window_end. NULL if it cannot be mapped.
 */
struct lp_writer_window *lp_writer_delta_begin(int64_t since_real, uint64_t since_mono);
int lp_writer_delta_next(int fd, enum lp_profile p, struct lp_writer_window *w);
/* Writes the threads view (threads.h; format: enum lp_threads_format) to fd. 0 or -errno. */
int lp_writer_threads(int fd, int format);

/*
 * Go's /debug/pprof/symbol: for each address of addrs ("0x1234+0x5678", as pprof's remote
 * symbolizer sends them; '+' or spaces between), the line "0x1234 name\n" when a mapping and
 * a name are found, or when it is the synthetic address of a leaf the profiles hold or of a
 * tail (pprof.h: how pprof names them in the text form); unknown addresses are left out, as
 * Go does. 0 or -errno.
 */
int lp_writer_symbolize(int fd, const char *addrs, size_t len);

/*
 * A snapshot: PREFIX.snapshot-N.block.pb.gz, PREFIX.snapshot-N.mutex.pb.gz and
 * PREFIX.snapshot-N.threads.txt, each written atomically; N counts from 1 in each process
 * image, so no snapshot overwrites another. With keep > 0, the files of snapshot N − keep are
 * removed first, so no more than the newest keep are ever there. Returns N, or -errno (reported once, like every
 * write error).
 */
int lp_writer_snapshot(unsigned keep, const char *why);
/* At exit: waits at most bound_ns for a write in progress (a snapshot), and from then on
 * starts no snapshot (-ECANCELED), so the end of the process cuts no snapshot set in half.
 * Profiles (lp_writer_write) are still written. False when the write in progress was still
 * going after bound_ns (a final profile would wait for it without a bound). */
bool lp_writer_close(uint64_t bound_ns);

/* In a new process (after fork, or a raw clone), before its first write: the writer lock is
 * free again, a write that was in progress in the parent at the fork is forgotten, and the
 * files take new_prefix. The fork does not wait for a write in progress. */
void lp_writer_atfork_child(const char *new_prefix);

#endif
