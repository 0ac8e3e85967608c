/* threadsview.c — see threadsview.h. */
#include "threadsview.h"

#include <string.h>
#include <sys/syscall.h>

#include "log.h"

/* ---- names -------------------------------------------------------------------------------- */

/* A name in the text format: quoted, printable ASCII as is except " and \. */
static void view_text_name(struct lp_sink *s, const char *str, size_t n)
{
    lp_sink_put(s, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)str[i];
        if (c == '"' || c == '\\')
            lp_sink_printf(s, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            lp_sink_printf(s, "\\x%02x", c);
        else
            lp_sink_put(s, &c, 1);
    }
    lp_sink_put(s, "\"", 1);
}

/* The length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0. */
static size_t view_utf8_valid(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (len > n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

static void view_json_str(struct lp_sink *sk, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    lp_sink_put(sk, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k;
        if (c == '"' || c == '\\') {
            lp_sink_printf(sk, "\\%c", c);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            lp_sink_printf(sk, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            lp_sink_put(sk, &s[i], 1);
            i++;
        } else if ((k = view_utf8_valid(s + i, n - i)) != 0) {
            lp_sink_put(sk, &s[i], k);
            i += k;
        } else {
            lp_sink_printf(sk, "\\u%04x", c);
            i++;
        }
    }
    lp_sink_put(sk, "\"", 1);
}

/* ---- words -------------------------------------------------------------------------------- */

static const char *view_kind_word(enum lp_lock_kind k)
{
    return k == LP_LOCK_RWLOCK ? "rwlock" : k == LP_LOCK_FUTEX_PI ? "futex" : "mutex";
}

static const char *view_state_word(const struct lp_threadsview_thread *t)
{
    if (t->own)
        return "lockprof";
    if (t->wait)
        return "blocked";
    switch (t->kstate) {
    case 'R':
        return "running";
    case 'S':
    case 'D':
        return "sleeping";
    case 'T':
    case 't':
        return "stopped";
    case 'Z':
        return "zombie";
    case 'X':
    case 'x':
        return "dead";
    default:
        return "other";
    }
}

/* The system calls a sleeping thread is usually found in, and which argument tells more. */
enum view_sysarg { ARG_NONE, ARG_ADDR, ARG_FD, ARG_MSQID };

static const char *view_syscall_name(long nr, enum view_sysarg *arg)
{
    static const struct {
        long nr;
        char name[16]; /* (held, not pointed to: no relocations at start) */
        enum view_sysarg arg;
    } table[] = {
        { SYS_futex, "futex", ARG_ADDR },
        { SYS_read, "read", ARG_FD },
        { SYS_readv, "readv", ARG_FD },
        { SYS_write, "write", ARG_FD },
        { SYS_writev, "writev", ARG_FD },
        { SYS_ppoll, "ppoll", ARG_NONE },
        { SYS_pselect6, "pselect6", ARG_NONE },
        { SYS_epoll_pwait, "epoll_pwait", ARG_FD },
        { SYS_nanosleep, "nanosleep", ARG_NONE },
        { SYS_clock_nanosleep, "clock_nanosleep", ARG_NONE },
        { SYS_accept4, "accept4", ARG_FD },
        { SYS_accept, "accept", ARG_FD },
        { SYS_connect, "connect", ARG_FD },
        { SYS_recvfrom, "recvfrom", ARG_FD },
        { SYS_recvmsg, "recvmsg", ARG_FD },
        { SYS_sendto, "sendto", ARG_FD },
        { SYS_sendmsg, "sendmsg", ARG_FD },
        { SYS_wait4, "wait4", ARG_NONE },
        { SYS_waitid, "waitid", ARG_NONE },
        { SYS_msgrcv, "msgrcv", ARG_MSQID },
        { SYS_mq_timedreceive, "mq_timedreceive", ARG_FD },
        { SYS_mq_timedsend, "mq_timedsend", ARG_FD },
        { SYS_semtimedop, "semtimedop", ARG_NONE },
        { SYS_flock, "flock", ARG_FD },
        { SYS_rt_sigtimedwait, "rt_sigtimedwait", ARG_NONE },
        { SYS_rt_sigsuspend, "rt_sigsuspend", ARG_NONE },
#ifdef SYS_poll
        { SYS_poll, "poll", ARG_NONE },
#endif
#ifdef SYS_select
        { SYS_select, "select", ARG_NONE },
#endif
#ifdef SYS_epoll_wait
        { SYS_epoll_wait, "epoll_wait", ARG_FD },
#endif
#ifdef SYS_pause
        { SYS_pause, "pause", ARG_NONE },
#endif
#ifdef SYS_semop
        { SYS_semop, "semop", ARG_NONE },
#endif
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (table[i].nr == nr) {
            *arg = table[i].arg;
            return table[i].name;
        }
    *arg = ARG_NONE;
    return NULL;
}

/* The object as text: "0x…", "mqd N", "msqid N", "fd N"; "" when there is none. */
static void view_object_text(const struct lp_threadsview_thread *t, char *buf, size_t size,
                             const char **call)
{
    buf[0] = '\0';
    *call = NULL;
    if (t->wait) {
        *call = t->wait->leaf;
        uintptr_t o = (uintptr_t)t->wait->object;
        if (t->kind == LP_LOCK_QUEUE_MQ)
            lp_fmt_sigsafe(buf, size, "mqd %d", (int)o);
        else if (t->kind == LP_LOCK_QUEUE_MSG)
            lp_fmt_sigsafe(buf, size, "msqid %d", (int)o);
        else if (o)
            lp_fmt_sigsafe(buf, size, "0x%lx", (unsigned long)o);
        return;
    }
    if (t->sys < 0)
        return;
    enum view_sysarg arg;
    *call = view_syscall_name(t->sys, &arg);
    if (arg == ARG_ADDR)
        lp_fmt_sigsafe(buf, size, "0x%llx", t->args[0]);
    else if (arg == ARG_FD)
        lp_fmt_sigsafe(buf, size, "fd %d", (int)t->args[0]);
    else if (arg == ARG_MSQID)
        lp_fmt_sigsafe(buf, size, "msqid %d", (int)t->args[0]);
}

/* "YYYY-MM-DDTHH:MM:SSZ" from ns since the epoch (days to civil date: the proleptic Gregorian
 * calendar in 400-year eras of 146097 days, years starting in March). No gmtime_r: it takes
 * glibc's time zone lock. */
static void view_iso_time(int64_t ns, char *buf, size_t size)
{
    int64_t secs = ns / 1000000000, days = secs / 86400, rem = secs % 86400;
    if (rem < 0)
        rem += 86400, days--;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                     /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                   /* March = 0 */
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    lp_fmt_sigsafe(buf, size, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", (long long)y,
                   (long long)m, (long long)d, (long long)(rem / 3600),
                   (long long)(rem / 60 % 60), (long long)(rem % 60));
}

static uint64_t view_waiting_ns(const struct lp_threadsview *v,
                                const struct lp_threadsview_thread *t)
{
    if (!t->wait || !t->wait->start_ns || t->wait->start_ns > v->now)
        return 0;
    return v->now - t->wait->start_ns;
}

static const char *view_held_word(enum lp_held h)
{
    switch (h) {
    case LP_HELD_THREAD:
        return "thread";
    case LP_HELD_READERS:
        return "readers";
    case LP_HELD_NOBODY:
        return "nobody";
    case LP_HELD_OWNER_DIED:
        return "owner_died";
    case LP_HELD_UNKNOWN:
        return "unknown";
    default:
        return NULL;
    }
}

/* ---- text --------------------------------------------------------------------------------- */

static void view_text_holder(struct lp_sink *s, const struct lp_threadsview *v,
                             const struct lp_threadsview_thread *t)
{
    switch (t->held) {
    case LP_HELD_THREAD:
        lp_sink_printf(s, " held by %d ", t->holder);
        if (t->holder_idx >= 0)
            view_text_name(s, v->th[t->holder_idx].name, v->th[t->holder_idx].name_len);
        else
            lp_sink_str(s, "(no such thread)");
        break;
    case LP_HELD_READERS:
        lp_sink_printf(s, " held by readers (%d)", t->holder);
        break;
    case LP_HELD_NOBODY:
        lp_sink_str(s, " held by nobody");
        break;
    case LP_HELD_OWNER_DIED:
        lp_sink_str(s, " held by nobody (owner died)");
        break;
    default:
        break;
    }
}

void lp_threadsview_text(struct lp_sink *s, const struct lp_threadsview *v)
{
    char when[40];
    view_iso_time(v->realtime, when, sizeof when);
    lp_sink_printf(s, "lockprof threads: pid %d, %u threads, %u waiting, at %s\n", v->pid,
                   v->n, v->waiting, when);
    for (unsigned i = 0; v->cycle_of && i < v->n; i++) {
        if (v->cycle_of[i] != (int)i)
            continue;
        lp_sink_str(s, "deadlock:");
        int k = (int)i;
        do {
            const struct lp_threadsview_thread *t = &v->th[k], *h = &v->th[t->holder_idx];
            lp_sink_printf(s, "%s %d ", k == (int)i ? "" : ",", t->tid);
            view_text_name(s, t->name, t->name_len);
            lp_sink_printf(s, " waits for %s %p held by %d ", view_kind_word(t->kind), t->lock,
                           h->tid);
            view_text_name(s, h->name, h->name_len);
            k = t->holder_idx;
        } while (k != (int)i);
        lp_sink_str(s, "\n");
    }
    if (!v->tracking)
        lp_sink_str(s, "note: waits are not tracked while LOCKPROF_BLOCK_RATE and "
                       "LOCKPROF_MUTEX_FRACTION are both 0: sleeping threads show their system "
                       "call\n");
    if (v->dropped)
        lp_sink_printf(s, "note: waits not tracked since start (the in-flight table was full): "
                          "%llu\n", (unsigned long long)v->dropped);
    for (unsigned i = 0; i < v->n; i++) {
        const struct lp_threadsview_thread *t = &v->th[i];
        lp_sink_printf(s, "thread %d ", t->tid);
        view_text_name(s, t->name, t->name_len);
        lp_sink_printf(s, " %s", view_state_word(t));
        if (!t->own) {
            char obj[48];
            const char *call;
            view_object_text(t, obj, sizeof obj, &call);
            if (t->wait) {
                lp_sink_printf(s, " in %s", call ? call : "?");
                if (obj[0])
                    lp_sink_printf(s, " on %s", obj);
                uint64_t ns = view_waiting_ns(v, t);
                if (t->wait->start_ns)
                    lp_sink_printf(s, " for %llu.%06llu s",
                                   (unsigned long long)(ns / 1000000000),
                                   (unsigned long long)(ns / 1000 % 1000000));
            } else if (call) {
                lp_sink_printf(s, obj[0] ? " in %s(%s)" : " in %s", call, obj);
            } else if (t->sys >= 0) {
                lp_sink_printf(s, " in syscall %ld", t->sys);
            }
            view_text_holder(s, v, t);
        }
        lp_sink_str(s, "\n");
    }
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void view_json_str_or_null(struct lp_sink *s, const char *str)
{
    if (str)
        view_json_str(s, str, strlen(str));
    else
        lp_sink_str(s, "null");
}

void lp_threadsview_json(struct lp_sink *s, const struct lp_threadsview *v)
{
    char when[40];
    view_iso_time(v->realtime, when, sizeof when);
    lp_sink_printf(s, "{\"pid\":%d,\"time\":\"%s\",\"tracking\":%s,\"dropped\":%llu,"
                      "\"deadlocks\":[", v->pid, when, v->tracking ? "true" : "false",
                   (unsigned long long)v->dropped);
    bool first_cycle = true;
    for (unsigned i = 0; v->cycle_of && i < v->n; i++) {
        if (v->cycle_of[i] != (int)i)
            continue;
        lp_sink_str(s, first_cycle ? "[" : ",[");
        first_cycle = false;
        int k = (int)i;
        do {
            const struct lp_threadsview_thread *t = &v->th[k];
            lp_sink_printf(s, "%s{\"tid\":%d,\"name\":", k == (int)i ? "" : ",", t->tid);
            view_json_str(s, t->name, t->name_len);
            lp_sink_printf(s, ",\"lock\":\"%s\",\"object\":\"%p\",\"holder\":%d,\"inferred\":%s}",
                           view_kind_word(t->kind), t->lock, t->holder,
                           t->inferred ? "true" : "false");
            k = t->holder_idx;
        } while (k != (int)i);
        lp_sink_str(s, "]");
    }
    lp_sink_str(s, "],\"threads\":[");
    for (unsigned i = 0; i < v->n; i++) {
        const struct lp_threadsview_thread *t = &v->th[i];
        lp_sink_printf(s, "%s{\"tid\":%d,\"name\":", i ? "," : "", t->tid);
        view_json_str(s, t->name, t->name_len);
        lp_sink_printf(s, ",\"state\":\"%s\",\"kstate\":", view_state_word(t));
        view_json_str(s, &t->kstate, 1);
        char obj[48] = "";
        const char *call = NULL;
        if (!t->own)
            view_object_text(t, obj, sizeof obj, &call);
        lp_sink_str(s, ",\"blocked_in\":");
        view_json_str_or_null(s, call);
        lp_sink_str(s, ",\"object\":");
        view_json_str_or_null(s, obj[0] ? obj : NULL);
        if (t->wait && t->wait->start_ns)
            lp_sink_printf(s, ",\"waiting_ns\":%llu", (unsigned long long)view_waiting_ns(v, t));
        else
            lp_sink_str(s, ",\"waiting_ns\":null");
        const char *held = view_held_word(t->held);
        if (held)
            lp_sink_printf(s, ",\"held\":\"%s\"", held);
        else
            lp_sink_str(s, ",\"held\":null");
        if (t->held == LP_HELD_THREAD)
            lp_sink_printf(s, ",\"holder\":%d", t->holder);
        else
            lp_sink_str(s, ",\"holder\":null");
        lp_sink_str(s, ",\"holder_name\":");
        if (t->held == LP_HELD_THREAD && t->holder_idx >= 0)
            view_json_str(s, v->th[t->holder_idx].name, v->th[t->holder_idx].name_len);
        else
            lp_sink_str(s, "null");
        lp_sink_printf(s, ",\"inferred\":%s", t->inferred ? "true" : "false");
        if (t->sys >= 0)
            lp_sink_printf(s, ",\"syscall\":%ld", t->sys);
        else
            lp_sink_str(s, ",\"syscall\":null");
        lp_sink_printf(s, ",\"nested\":%u}", t->nested);
    }
    lp_sink_str(s, "]}\n");
}
