/*
 * lockprof.h — lockprof's public C API.
 *
 * lockprof is usually preloaded (LD_PRELOAD=liblockprof.so, or `lockprof run`), and then a
 * program that wants to steer it finds these functions with dlsym(RTLD_DEFAULT, "lockprof_…"):
 * when lockprof is not loaded the lookup returns NULL and the program runs on without it.
 * A program may also link with -llockprof. Every function is safe to call from any thread,
 * at any time after the program's main() starts. From a signal handler that interrupted
 * lockprof on the same thread, the functions that write return -EDEADLK rather than wait.
 */
#ifndef LOCKPROF_H
#define LOCKPROF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOCKPROF_VERSION "0.1.0"

/* The version of the loaded library, e.g. "0.1.0". */
const char *lockprof_version(void);

/*
 * Sets the block profile rate in nanoseconds (as Go's runtime.SetBlockProfileRate: 0 off,
 * 1 every wait, N one wait sampled per N ns waited on average) and returns the previous rate,
 * which Go's function does not. A negative rate is taken as 0. Waits in flight keep the rate
 * they started with, so every sample stays correctly weighted.
 */
int64_t lockprof_set_block_rate(int64_t rate_ns);

/*
 * Sets the mutex profile fraction (as Go's runtime.SetMutexProfileFraction: 0 off, n one
 * charge in n on average) and returns the previous fraction. A negative value changes nothing
 * and returns the current fraction, as in Go.
 */
int64_t lockprof_set_mutex_fraction(int64_t fraction);

/* Writes both profiles to their files now (the same files as at exit). 0, or -errno. */
int lockprof_write_profiles(void);

/* What lockprof_write_profile writes. */
enum lockprof_kind {
    LOCKPROF_BLOCK = 0,   /* the block profile: where threads waited */
    LOCKPROF_MUTEX = 1,   /* the mutex profile: the holders that made them wait */
    LOCKPROF_THREADS = 2, /* the threads view: who waits on what now, held by whom */
};
enum lockprof_format {
    LOCKPROF_PPROF = 0, /* gzip-compressed pprof (profiles only) */
    LOCKPROF_TEXT = 1,  /* Go's legacy text, as ?debug=1 (profiles); the line format (threads) */
    LOCKPROF_JSON = 2,  /* JSON (threads only) */
};

/*
 * Writes the cumulative profile (or the threads view) of the given kind to fd, in the given
 * format, now, from the calling thread. It is encoded into memory first and copied to fd
 * after: a descriptor that does not drain blocks only this caller. 0, or -errno: -EINVAL for
 * a kind and format that do not go together, -EAGAIN before lockprof has started, or the
 * error writing to fd.
 */
int lockprof_write_profile(int kind, int fd, int format);

/*
 * Writes a snapshot now, as LOCKPROF_SIGNAL does: PREFIX.snapshot-N.block.pb.gz,
 * PREFIX.snapshot-N.mutex.pb.gz and PREFIX.snapshot-N.threads.txt, N counting from 1 (the
 * newest LOCKPROF_KEEP are kept). Returns N, or -errno.
 */
int lockprof_snapshot(void);

#ifdef __cplusplus
}
#endif

#endif
