/*
 * futex.h — the futex family: libc's syscall() interposed for SYS_futex (futex.c).
 *
 * Context: lp_futex_enable in the constructor, before lp_ready.
 */
#ifndef LP_FUTEX_H
#define LP_FUTEX_H

#include <stdbool.h>

/* Profiles futex calls made through syscall() from now on (LOCKPROF_FUTEX), or not. */
void lp_futex_enable(bool on);

#endif
