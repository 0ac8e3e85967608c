/* unwind.h — choosing the unwinder (constructor only) and naming lockprof's own text ranges. */
#ifndef LP_UNWIND_H
#define LP_UNWIND_H

#include <stdbool.h>

/* Installs lp_unwinder: lockprof's own (core/cfi.h), or with use_libunwind, libunwind's
 * unw_backtrace, dlopen'ed here; 0, or -1 when libunwind cannot be loaded (stacks stay empty,
 * said once). */
int lp_unwind_load(bool use_libunwind);
/* The program restricts its system calls (seccomp): lockprof's own unwinder from now on, which
 * makes none (libunwind's memory checks are reads and writes of a pipe). */
void lp_unwind_restrict(void);
/* Registers the executable segment that holds addr as lockprof's own (never in a stack). */
void lp_unwind_add_self_range(const void *addr);

/*
 * libunwind validates memory through a pipe it opens once and keeps (its descriptor numbers in
 * a static of its own). A program that closes every descriptor (closefrom(3), a daemon's
 * close loop) closes that pipe, and the numbers go to the program's next files: libunwind's
 * next validation would read a byte from one of them, write one into another, or — when the
 * read fails — close both (measured: it closed a freshly opened data file). While libunwind
 * runs (lp_self.in_unwind), the read and close wrappers send its calls here: only the pipe it
 * really opened (moved to the top of the descriptor range), checked by identity, is read;
 * anything else reads as EBADF, so libunwind opens a new pipe; and nothing is ever closed.
 */
#include <stdbool.h>
#include <sys/types.h>

/* True for the numbers of the pipe libunwind opened (whatever they name now): only calls on
 * those go to the two functions below — a signal handler's reads and closes of its own
 * descriptors, and libunwind's of the ELF files it maps, go to glibc as usual. */
bool lp_unwind_pipe_fd(int fd);
ssize_t lp_unwind_read(int fd, void *buf, size_t n);
int lp_unwind_close(int fd);

#endif
