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

/* The length of the valid UTF-8 sequence at p (2 to 4), or 0 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF). p[0] >= 0x80; p is NUL-terminated. */
static size_t cli_utf8_len(const unsigned char *p)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4;
    else
        return 0;
    if (p[0] == 0xe0)
        lo = 0xa0;
    else if (p[0] == 0xed)
        hi = 0x9f;
    else if (p[0] == 0xf0)
        lo = 0x90;
    else if (p[0] == 0xf4)
        hi = 0x8f;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

char *lp_cli_escape(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    char *out = lp_cli_xmalloc(4 * strlen(s) + 1), *o = out;
    while (*p) {
        size_t n = 1;
        bool esc = *p < 0x20 || *p == 0x7f;
        if (*p >= 0x80) {
            n = cli_utf8_len(p);
            esc = n == 0 || (p[0] == 0xc2 && p[1] <= 0x9f);
            n = n ? n : 1;
        }
        for (size_t i = 0; i < n; i++, p++) {
            if (esc) {
                *o++ = '\\';
                *o++ = 'x';
                *o++ = hex[*p >> 4];
                *o++ = hex[*p & 15];
            } else {
                *o++ = (char)*p;
            }
        }
    }
    *o = '\0';
    return out;
}

char *lp_cli_escape_max(const char *s, size_t max)
{
    if (strnlen(s, max + 1) <= max)
        return lp_cli_escape(s);
    /* s[n] is the first byte left out: back to the start of its character if it is in one
     * (a UTF-8 character is at most 4 bytes long). */
    size_t n = max;
    for (int back = 0; back < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; back++)
        n--;
    char *head = lp_cli_xmalloc(n + 1);
    memcpy(head, s, n);
    head[n] = '\0';
    char *e = lp_cli_escape(head);
    free(head);
    size_t len = strlen(e);
    e = lp_cli_xrealloc(e, len + sizeof "…");
    memcpy(e + len, "…", sizeof "…");
    return e;
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
