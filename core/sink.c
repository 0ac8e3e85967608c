/* sink.c — see sink.h. */
#include "sink.h"

#include <stdarg.h>
#include <string.h>

#include "log.h"
#include "sys.h"

void lp_sink_init(struct lp_sink *s, int fd, char *buf, size_t size)
{
    s->fd = fd;
    s->err = 0;
    s->buf = buf;
    s->size = size;
    s->len = 0;
}

void lp_sink_fail(struct lp_sink *s, int err)
{
    if (!s->err)
        s->err = err;
}

int lp_sink_flush(struct lp_sink *s)
{
    if (s->len && !s->err)
        lp_sink_fail(s, lp_sys_write_all(s->fd, s->buf, s->len));
    s->len = 0;
    return s->err;
}

void lp_sink_put(struct lp_sink *s, const void *p, size_t n)
{
    if (s->err)
        return;
    if (n >= s->size) { /* a whole chunk (the gzip encoder's): no copy */
        lp_sink_flush(s);
        if (!s->err)
            lp_sink_fail(s, lp_sys_write_all(s->fd, p, n));
        return;
    }
    if (s->len + n > s->size)
        lp_sink_flush(s);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

void lp_sink_str(struct lp_sink *s, const char *str)
{
    lp_sink_put(s, str, strlen(str));
}

void lp_sink_printf(struct lp_sink *s, const char *fmt, ...)
{
    char line[LP_SINK_LINE];
    va_list ap;
    va_start(ap, fmt);
    size_t n = lp_vfmt_sigsafe(line, sizeof line, fmt, ap);
    va_end(ap);
    lp_sink_put(s, line, n);
}
