/*
 * cli.h — what every subcommand of the lockprof command shares: its messages, its exits, its
 * allocators and its option parsing.
 *
 * Messages are one line each on stderr, "lockprof CMD: ..." ("lockprof: ..." with a NULL
 * CMD), after stdout is flushed so that the two stay in order. Exit status 2 (LP_CLI_USAGE)
 * is for usage errors and for what lockprof itself could not do; a subcommand says what its
 * other statuses mean. The allocators never return NULL: out of memory is a message and exit
 * 2, as for any other failure of lockprof itself.
 *
 * This is the command, not the preloaded library: malloc and stdio are fine here. Context:
 * the command's one thread.
 */
#ifndef LP_CLI_H
#define LP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LP_CLI_USAGE 2

void lp_cli_message(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message, then exit(status). */
void lp_cli_fail(int status, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
/* A usage error: the message and a hint ("; try 'lockprof CMD --help'"), one line, exit 2. */
void lp_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

void *lp_cli_xmalloc(size_t n);
void *lp_cli_xcalloc(size_t n, size_t size);
void *lp_cli_xrealloc(void *old, size_t n);
char *lp_cli_xstrdup(const char *s);
char *lp_cli_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * s made safe to print on a terminal, as a new string: what could drive the terminal is
 * written as \xNN, byte by byte. That is the C0 controls (bytes below 0x20, tab and newline
 * included: what is printed stays on its line), DEL, the C1 controls U+0080..U+009F (as UTF-8,
 * c2 80..c2 9f, which some terminals obey, or as raw bytes 0x80..0x9f) and every other byte
 * that is not part of valid UTF-8. Valid UTF-8 text is kept, backslashes included: the result
 * is for reading, not for decoding back. For strings from files and from the network.
 */
char *lp_cli_escape(const char *s);
/* The same of s's first max bytes at most (cut at a character's start, and then "…" added),
 * in time that does not grow with what is cut: for a string a report may print many times. */
char *lp_cli_escape_max(const char *s, size_t max);

/*
 * Matches argv[*i] against an option that takes a value: "--long VALUE", "--long=VALUE",
 * "-s VALUE" or "-sVALUE" (shrt may be NULL). Returns the value (advancing *i past it), or
 * NULL if argv[*i] is another option; a usage error if the value is missing.
 */
const char *lp_cli_opt_value(const char *cmd, int argc, char **argv, int *i, const char *lng,
                             const char *shrt);

/* A whole decimal number, digits only (no sign, no blanks), up to max. */
bool lp_cli_parse_whole(const char *s, uint64_t max, uint64_t *out);

/*
 * An option's value for the library's variable var (LOCKPROF_BLOCK_RATE, ...), accepted by
 * the library's own table (core/config.h): a value the library would refuse is refused by the
 * command, before the program runs, rather than replaced by a default inside it. False with
 * what the variable expects ("expected a whole number ...") in expected.
 */
bool lp_cli_config_number(const char *var, const char *value, uint64_t *out, char *expected,
                          size_t size);

#endif
