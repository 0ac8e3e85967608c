/*
 * log.h — lockprof's messages and its tiny formatter.
 *
 * Everything lockprof says goes through here: a "lockprof: " prefix, one line, written
 * with one write system call (sys.h) from a stack buffer. No stdio, no malloc, so it is safe in every context,
 * signal handlers included (hence the _sigsafe names).
 *
 * lp_fmt understands %s %c %d %i %u %x %p %% with the l, ll and z length modifiers and
 * a field width (%5d, %-8s, %08x). Anything else is printed as is.
 */
#ifndef LP_LOG_H
#define LP_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Formats into buf (always NUL-terminated when size > 0); returns the length written. */
size_t lp_fmt_sigsafe(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t lp_vfmt_sigsafe(char *buf, size_t size, const char *fmt, va_list ap);

/* Remembers which file fd 2 is (at start): messages are written only while fd 2 is still
 * that file, never into a file the program opened after closing it. */
void lp_log_init(void);

/* "lockprof: <message>\n" on stderr (fd 2), one write(2). errno is preserved; a standard error
 * that is a pipe nobody reads raises no SIGPIPE. */
void lp_log_sigsafe(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* No message from now on (a program that restricted its system calls: checking and writing
 * standard error take calls it did not make), or again. */
void lp_log_off(void);
void lp_log_on(void);

#endif
