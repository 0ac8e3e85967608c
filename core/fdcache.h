/*
 * fdcache.h — what each file descriptor is, without a syscall per read (DESIGN §2).
 *
 * (Interface fixed by the lead; implementation in fdcache.c.)
 */
#ifndef LP_FDCACHE_H
#define LP_FDCACHE_H

#include <stdint.h>

/* kinds: the LP_IO_* bits of LOCKPROF_IO (config.h). 0 or -ENOMEM. Called once by the
 * constructor, before any wrapper is live. */
int lp_fdcache_init(uint64_t kinds);

#endif
