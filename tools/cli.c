/* cli.c — the lockprof command's messages, exits, allocators and option parsing (cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void cli_vmessage(const char *cmd, const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, cmd ? "lockprof %s: " : "lockprof: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void lp_cli_message(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vmessage(cmd, fmt, ap);
    va_end(ap);
}

void lp_cli_fail(int status, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vmessage(cmd, fmt, ap);
    va_end(ap);
    exit(status);
}

void lp_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cmd)
        lp_cli_fail(LP_CLI_USAGE, cmd, "%s; try 'lockprof %s --help'", msg, cmd);
    lp_cli_fail(LP_CLI_USAGE, NULL, "%s; try 'lockprof --help'", msg);
}

void *lp_cli_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        lp_cli_fail(LP_CLI_USAGE, NULL, "out of memory");
    return p;
}

void *lp_cli_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        lp_cli_fail(LP_CLI_USAGE, NULL, "out of memory");
    return p;
}

void *lp_cli_xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n ? n : 1);
    if (!p)
        lp_cli_fail(LP_CLI_USAGE, NULL, "out of memory");
    return p;
}

char *lp_cli_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(lp_cli_xmalloc(n), s, n);
}

char *lp_cli_xasprintf(const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        lp_cli_fail(LP_CLI_USAGE, NULL, "out of memory");
    return s;
}

const char *lp_cli_opt_value(const char *cmd, int argc, char **argv, int *i, const char *lng,
                             const char *shrt)
{
    const char *a = argv[*i];
    size_t n = strlen(lng);
    if (strncmp(a, lng, n) == 0 && a[n] == '=')
        return a + n + 1;
    if (shrt && strncmp(a, shrt, 2) == 0 && a[2] != '\0')
        return a + 2;
    if (strcmp(a, lng) != 0 && !(shrt && strcmp(a, shrt) == 0))
        return NULL;
    if (*i + 1 >= argc)
        lp_cli_usage_error(cmd, "option '%s' needs a value", a);
    return argv[++*i];
}

bool lp_cli_parse_whole(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (!lp_config_parse_u64(s, &v) || v > max)
        return false;
    *out = v;
    return true;
}

bool lp_cli_config_number(const char *var, const char *value, uint64_t *out, char *expected,
                          size_t size)
{
    uint64_t min, max;
    if (!lp_config_check(var, value, expected, size))
        return false;
    if (!lp_config_range(var, &min, &max) || !lp_cli_parse_whole(value, max, out)) {
        snprintf(expected, size, "%s is not a number", var);
        return false;
    }
    return true;
}
