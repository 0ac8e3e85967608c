/*
 * fdcache.h — what each file descriptor is, without a syscall per read (DESIGN §2).
 *
 * Reads and writes are waits only on the kinds of descriptor LOCKPROF_IO names (pipes, FIFOs
 * and eventfds by default). The kind comes from one byte per descriptor in a table mapped at the
 * first classification (MAP_NORESERVE: only the pages of descriptors in use are ever touched;
 * a process that reads and writes nothing through the wrappers maps none): 0 is "unknown", and
 * a descriptor is classified by fstat on first sight (plus one readlink of /proc/thread-self/fd
 * for an anonymous inode, which is how an eventfd shows itself). The byte is the kind, with
 * LP_FD_PROFILED set when LOCKPROF_IO names it: a read of a kind that is not profiled costs
 * one byte load and one compare.
 *
 * The table is kept current by the calls that free descriptor numbers (close, close_range,
 * closefrom, dup2, dup3 over an open target, fclose): they only ever reset bytes to unknown,
 * which is always safe, even from a vfork child that shares the parent's memory. glibc closes
 * some descriptors internally (pclose, freopen, closedir, getaddrinfo…), out of our sight; the
 * entry of such a number may be stale until it is closed through a wrapper:
 *   - cached as profiled, reused as something else: harmless — the wrapper re-checks a slow
 *     call with lp_fdcache_recheck before recording it, and fast calls are never waits;
 *   - cached as not profiled, reused as a pipe: that pipe's waits are missed until then.
 *
 * Descriptors at or above LP_FDCACHE_SIZE (Linux's default fs.nr_open) are never profiled.
 *
 * Context: lp_fdcache_init once in the constructor, before any wrapper is live; every other
 * function from any thread (bytes are relaxed atomics; the table is published once).
 * lp_fdcache_get and the forget calls make no syscall and leave errno alone; classify and
 * recheck make syscalls that may set errno (the caller saves it).
 */
#ifndef LP_FDCACHE_H
#define LP_FDCACHE_H

#include <stdbool.h>
#include <stdint.h>

#define LP_FDCACHE_SIZE (1u << 20)

/* The kinds (the low 7 bits of a byte). */
enum lp_fd_kind {
    LP_FD_UNKNOWN = 0,
    LP_FD_PIPE,
    LP_FD_FIFO,
    LP_FD_EVENTFD,
    LP_FD_SOCKET,
    LP_FD_FILE,  /* regular files, POSIX message queue descriptors included */
    LP_FD_CHR,
    LP_FD_OTHER, /* directories, block devices, timerfd, signalfd, epoll, … */
};
#define LP_FD_KIND_MASK 0x7f
#define LP_FD_PROFILED 0x80

/* The table and its bound: 0 until init, and for ever when LOCKPROF_IO names no kind of
 * descriptor (every read then passes straight through), or when the table could not be mapped;
 * the table NULL until the first classification maps it (atomic). */
extern uint8_t *lp_fdcache_tab_;
extern unsigned lp_fdcache_size_;
/* The LP_IO_* bits of LOCKPROF_IO (config.h). Immutable after init. */
extern uint64_t lp_fdcache_kinds_;

/* kinds: the LP_IO_* bits of LOCKPROF_IO (config.h). 0 (the table is mapped later, by
 * lp_fdcache_classify). Called once by the constructor, before any wrapper is live. */
int lp_fdcache_init(uint64_t kinds);

/* True when LOCKPROF_IO names bit (LP_IO_MQ, LP_IO_MSG: calls that need no cache). */
static inline bool lp_fdcache_wants(uint64_t bit)
{
    return (lp_fdcache_kinds_ & bit) != 0;
}

/* The cached byte of fd, as a signed byte: 0 unknown, > 0 a kind that is not profiled
 * (descriptors outside the table included), < 0 a profiled kind. */
static inline int8_t lp_fdcache_get(int fd)
{
    unsigned u = (unsigned)fd;
    if (u >= lp_fdcache_size_)
        return LP_FD_OTHER;
    const uint8_t *t = __atomic_load_n(&lp_fdcache_tab_, __ATOMIC_ACQUIRE);
    return t ? (int8_t)__atomic_load_n(&t[u], __ATOMIC_RELAXED) : LP_FD_UNKNOWN;
}

/* Classifies fd now (fstat, and readlink for an anonymous inode) and caches the result. Returns
 * the byte as lp_fdcache_get would; a descriptor fstat cannot see (EBADF) is not cached and
 * reads as not profiled. */
int8_t lp_fdcache_classify(int fd);

/* After a slow call on a descriptor cached as profiled: classifies it again (the cached kind
 * may be stale, see above) and says whether it still is profiled. */
static inline bool lp_fdcache_recheck(int fd)
{
    return lp_fdcache_classify(fd) < 0;
}

/* fd's number was freed or now names another file: back to unknown. */
static inline void lp_fdcache_forget(int fd)
{
    unsigned u = (unsigned)fd;
    uint8_t *t = __atomic_load_n(&lp_fdcache_tab_, __ATOMIC_ACQUIRE);
    /* Loaded first: a store would dirty (allocate) an untouched page of the table. */
    if (u < lp_fdcache_size_ && t && __atomic_load_n(&t[u], __ATOMIC_RELAXED) != 0)
        __atomic_store_n(&t[u], 0, __ATOMIC_RELAXED);
}

/* The same for every descriptor in [first, last] (close_range, closefrom). Costs at most the
 * highest descriptor ever classified, not the range. */
void lp_fdcache_forget_range(unsigned first, unsigned last);

#endif
