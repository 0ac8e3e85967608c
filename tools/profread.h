/*
 * profread.h — reading a contention profile for `lockprof top`: any pprof profile with
 * "contentions" and "delay" sample types (lockprof's, or Go's block and mutex profiles),
 * gzip-compressed or not, checked as far as the report relies on it, with its locations'
 * frames resolved, C++ and Rust names demangled, and each function's totals added up.
 *
 * The values of a sample are [0] contentions and [1] delay in nanoseconds (the profile's own
 * delay unit converted). flat: samples whose leaf frame is the function; cum: samples whose
 * stack holds the function anywhere, once per sample.
 *
 * Command code: malloc and stdio. Out of memory while a profile is read is that profile's
 * error (-ENOMEM); anywhere else it ends the command (cli.h). Context: one thread.
 */
#ifndef LP_PROFREAD_H
#define LP_PROFREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.pb-c.h"

/* gzip bombs and mistakes: no real profile comes near these. `lockprof fetch` accepts a body
 * up to LP_PROFREAD_MAX_FILE and lp_profread_gzip_check() inflates up to
 * LP_PROFREAD_MAX_INFLATED; `lockprof top` reads within LP_PROFREAD_LIMIT (below). */
#define LP_PROFREAD_MAX_FILE (1ULL << 30)
#define LP_PROFREAD_MAX_INFLATED (1ULL << 31)

/*
 * The memory `lockprof top` gives one profile: its decompressed bytes, then protobuf-c's
 * decoded form of it, the index below and the arrays a report sorts (LP_PROFREAD_PER_SAMPLE,
 * LP_PROFREAD_PER_NAME), counted together as malloc gives them; a file is refused as soon as
 * it is seen to need more. Only the compressed file, while it is decompressed, is outside it.
 *
 * Why 512 MiB: a real profile takes 7 to 13 bytes of it per byte decompressed. Measured on
 * profiles of lockprof's shape: 65,536 stacks (the default LOCKPROF_MAX_STACKS) of 64 frames
 * over 200,000 locations, 21 MB decompressed, need 140 MiB; four times the stacks, 444 MiB;
 * and a real one, 101,000 stacks of 17 frames from tests/bench/scale's program, 2.6 MB and
 * 32 MiB. Go's block and mutex profiles are far smaller. A hostile file costs more per byte:
 * an empty sample is 2 bytes on the wire and 131 in memory, so without a limit a 20 KB gzip
 * file of ten million of them took 1.3 GB.
 */
#define LP_PROFREAD_LIMIT_MIB 512
#define LP_PROFREAD_LIMIT ((size_t)LP_PROFREAD_LIMIT_MIB << 20)
/*
 * The time `lockprof top` gives one profile: the frames its samples expand to, Σ over the
 * samples of the lines of each location they list (a location without lines is one frame).
 * Memory alone does not bound it: a location of 20,000 lines listed 20,000 times by one
 * sample is 400 million frames from 339 bytes of gzip. A profile whose samples expand to
 * more than one frame per 8 bytes of the memory limit (67,108,864 frames for 512 MiB) is
 * refused as soon as the locations added up pass it, before the frames of the one that does
 * are visited: no file costs more of this work than the largest profile accepted, about a
 * second.
 *
 * Why one per 8 bytes: each location id a sample lists costs 8 bytes decoded, so a profile
 * whose locations have at most one line each (lockprof writes one) meets the memory limit
 * first. Only locations of many lines listed many times reach this one: inlined calls add a
 * line each to some of Go's locations, and the largest profile lockprof writes by default
 * (65,536 stacks of 64 frames, 4 million frames) is 16 times below it.
 */
#define LP_PROFREAD_BYTES_PER_FRAME 8
#define LP_PROFREAD_MAX_FRAMES (LP_PROFREAD_LIMIT / LP_PROFREAD_BYTES_PER_FRAME)
/* What a report may allocate beyond lp_profread per sample and per name (counted in the
 * limit when the profile is read, so that the report itself cannot exceed it). */
#define LP_PROFREAD_PER_SAMPLE 32
#define LP_PROFREAD_PER_NAME 8

/* One frame of a stack: a function (or an unnamed address) at a location. */
struct lp_profread_frame {
    uint32_t name;      /* index into lp_profread.names */
    bool inlined;       /* inlined into the next frame of the same location */
    const char *file;   /* source file or NULL */
    int64_t line;       /* 0 if unknown */
};

struct lp_profread_loc {
    uint64_t id;
    struct lp_profread_frame *frames; /* innermost first */
    size_t nframes;
};

/* The most bytes of a function's name as a report shows it: C++ and Rust names demangled
 * (demangle.h), a longer one cut, ending with "…". */
#define LP_PROFREAD_NAME_MAX 8192

/* A function's totals, by its demangled name. Unnamed frames are "0x<address> (<mapping's
 * file name>)". */
struct lp_profread_name {
    char *name;
    int64_t flat[2], cum[2];
    size_t stamp; /* 1 + the last sample counted in cum (a function counts once per sample) */
};

/* The memory of one profile, counted against its limit (malloc_usable_size of each block):
 * used and peak never pass the limit by more than malloc's rounding of one grown block,
 * less than a page. */
struct lp_profread_mem {
    size_t limit, used, peak;
    bool over;     /* a request was refused for the limit */
    bool nomem;    /* malloc failed below the limit */
};

struct lp_profread {
    struct lp_profread_mem mem;
    ProtobufCAllocator pbc;         /* protobuf-c's allocations, counted in mem */
    Lockprof__Pprof__Profile *p;
    int vi[2];                      /* sample value index of contentions and delay (of samples
                                     * and cpu in a CPU profile) */
    int64_t delay_mul;              /* delay unit to nanoseconds */
    bool cpu;                       /* a CPU profile (samples/count, cpu/nanoseconds) */
    struct lp_profread_loc *locs;   /* sorted by id */
    size_t nlocs;
    struct lp_profread_name *names;
    size_t nnames, names_cap;
    uint32_t *hash;                 /* open addressing: 0 empty, else name index + 1 */
    size_t hash_cap;
    size_t frames, frames_limit;    /* frames the samples expanded to, and the most allowed */
    int64_t total[2];               /* saturated at INT64_MAX, as flat and cum are */
    bool saturated;                 /* some sum reached INT64_MAX */
};

/*
 * Reads path ("-": standard input) within LP_PROFREAD_LIMIT and LP_PROFREAD_MAX_FRAMES. 0, or
 * -errno with why the file is not a contention profile in *err (to free; "truncated or
 * corrupt gzip data", "not a pprof profile (...)", "exceeds lockprof top's limit of 512 MiB
 * per profile (...)", "exceeds lockprof top's limit of 67108864 frames per profile (...)",
 * "out of memory after ...", a system error's text): -EFBIG for a limit, -ENOMEM when malloc
 * failed below it, -EBADMSG for what is not a contention profile. Names from the file in
 * *err are escaped (lp_cli_escape). r is to be closed either way, and is not to be moved
 * before.
 *
 * Contentions and delays are counts and times, never negative: a sample with a negative one
 * (as in a difference of two profiles, pprof -diff_base) is refused. Sums stop at INT64_MAX.
 */
int lp_profread_open(struct lp_profread *r, const char *path, char **err);
/* The same from len bytes in memory (gzip-compressed or not) within limit bytes, and one
 * frame per LP_PROFREAD_BYTES_PER_FRAME of them. */
int lp_profread_load(struct lp_profread *r, const uint8_t *buf, size_t len, size_t limit,
                     char **err);
void lp_profread_close(struct lp_profread *r);

/* Sample s's contentions and delay in nanoseconds (the delay stopping at INT64_MAX), of a
 * profile lp_profread_open accepted. */
void lp_profread_values(const struct lp_profread *r, const Lockprof__Pprof__Sample *s,
                        int64_t v[2]);
/* a + b for non-negative a and b, stopping at INT64_MAX; sets *saturated when it does. */
int64_t lp_profread_add(int64_t a, int64_t b, bool *saturated);

/* What a profile lp_profread_open accepted is. lockprof's say so in their first comment; Go's
 * block and mutex profiles have the same types and period and no comments: a contention
 * profile whose stacks begin at a release (a function whose name's last part, after its last
 * '.', begins with "unlock" or "runlock" in any case: sync.(*Mutex).Unlock, runtime.unlock;
 * or a release leaf of lockprof's: pthread_mutex_unlock, futex_wake, ..., for one of its
 * profiles whose comments were taken out) is taken for a mutex profile, any other for a block
 * profile. */
enum lp_profread_kind { LP_PROFREAD_CPU, LP_PROFREAD_BLOCK, LP_PROFREAD_MUTEX };
enum lp_profread_kind lp_profread_kind(const struct lp_profread *r);

/* The location of that id; NULL if the profile has none. */
const struct lp_profread_loc *lp_profread_find_loc(const struct lp_profread *r, uint64_t id);
/* String i of p's table, "" when out of range. */
const char *lp_profread_str(const Lockprof__Pprof__Profile *p, int64_t i);

/*
 * Checks that in[0, inlen) is whole gzip data (one member or several concatenated): inflates
 * it into a fixed scratch buffer and throws the output away, so a gzip bomb costs time, not
 * memory. 0, -EBADMSG (truncated or corrupt), -EFBIG (larger than LP_PROFREAD_MAX_INFLATED
 * once inflated) or -ENOMEM (zlib's state). inlen is at most LP_PROFREAD_MAX_FILE.
 */
int lp_profread_gzip_check(const uint8_t *in, size_t inlen);

#endif
