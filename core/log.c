/* log.c — see log.h. Written by hand because vsnprintf is not async-signal-safe. */
#include "log.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sys.h"

struct out {
    char *buf;
    size_t size, len;
};

LP_INIT_TEXT static void out_char(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

LP_INIT_TEXT static void out_pad(struct out *o, const char *s, size_t n, int width, bool left, char pad)
{
    int fill = width > (int)n ? width - (int)n : 0;
    if (!left)
        while (fill-- > 0)
            out_char(o, pad);
    for (size_t i = 0; i < n; i++)
        out_char(o, s[i]);
    if (left)
        while (fill-- > 0)
            out_char(o, ' ');
}

LP_INIT_TEXT static void out_num(struct out *o, unsigned long long v, bool neg, unsigned base, int width,
                    bool left, char pad)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    char rev[24];
    for (size_t i = 0; i < n; i++)
        rev[i] = tmp[n - 1 - i];
    out_pad(o, rev, n, width, left, pad);
}

LP_INIT_TEXT size_t lp_vfmt_sigsafe(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            out_char(&o, *p);
            continue;
        }
        const char *start = p++;
        bool left = false;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*p == '-') {
            left = true;
            p++;
        }
        if (*p == '0') {
            pad = '0';
            p++;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        while (*p == 'l') {
            lng++;
            p++;
        }
        if (*p == 'z') {
            lng = 2;
            p++;
        }
        switch (*p) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            out_pad(&o, s, strlen(s), width, left, ' ');
            break;
        }
        case 'c':
            out_char(&o, (char)va_arg(ap, int));
            break;
        case 'd':
        case 'i': {
            long long v = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
            unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
            out_num(&o, u, v < 0, 10, width, left, pad);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = lng >= 2 ? va_arg(ap, unsigned long long)
                                 : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            out_num(&o, v, false, *p == 'x' ? 16 : 10, width, left, pad);
            break;
        }
        case 'p':
            out_char(&o, '0');
            out_char(&o, 'x');
            out_num(&o, (uintptr_t)va_arg(ap, void *), false, 16, width, left, pad);
            break;
        case '%':
            out_char(&o, '%');
            break;
        default: /* unknown: print the directive as written */
            for (const char *q = start; q <= p && *q; q++)
                out_char(&o, *q);
            if (!*p)
                p--;
            break;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len < size ? o.len : (size ? size - 1 : 0);
}

LP_INIT_TEXT size_t lp_fmt_sigsafe(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = lp_vfmt_sigsafe(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* What fd 2 was when lockprof started (DESIGN §6: a long-lived fd is re-checked before use).
 * A daemon that closes every descriptor and opens its own files may get one of them as fd 2:
 * a message written there would land in the program's file, so it is dropped instead. */
LP_INIT_DATA static struct {
    bool checked;        /* lp_log_init ran */
    struct lp_fdid id;   /* fd -1: fd 2 was closed at start */
} log_stderr;

LP_INIT_TEXT void lp_log_init(void)
{
    lp_fdid_take(&log_stderr.id, 2);
    log_stderr.checked = true;
}

/* True when fd 2 is still the file it was at start (true before lp_log_init). */
static bool log_stderr_same(void)
{
    return !log_stderr.checked || lp_fdid_same(&log_stderr.id);
}

static uint32_t log_off; /* atomic: lp_log_off */

void lp_log_off(void)
{
    __atomic_store_n(&log_off, 1, __ATOMIC_RELEASE);
}

void lp_log_on(void)
{
    __atomic_store_n(&log_off, 0, __ATOMIC_RELEASE);
}

void lp_log_sigsafe(const char *fmt, ...)
{
    if (__atomic_load_n(&log_off, __ATOMIC_ACQUIRE) || !log_stderr_same())
        return;
    char line[512];
    size_t n = lp_fmt_sigsafe(line, sizeof line, "lockprof: ");
    va_list ap;
    va_start(ap, fmt);
    n += lp_vfmt_sigsafe(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    lp_sys_write_all_nosigpipe(2, line, n);
}
