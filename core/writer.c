/* writer.c — see writer.h. */
#include "writer.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "clock.h"
#include "config.h"
#include "event.h"
#include "locktab.h"
#include "log.h"
#include "maps.h"
#include "pprof.h"
#include "sample.h"
#include "sync.h"

static lp_lock_t writer_lock = LP_LOCK_INIT;
static struct lp_arena writer_arena;                  /* under writer_lock */
static char writer_prefix[LP_PATH_MAX];               /* under writer_lock */
static char writer_paths[LP_NPROFILES][LP_PATH_MAX];  /* under writer_lock */
static struct lp_writer_info writer_info;             /* immutable after init */
static int writer_error;                              /* first error, under writer_lock */

static const char *const writer_suffix[LP_NPROFILES] = { "block", "mutex" };

static void writer_set_paths(const char *prefix)
{
    strncpy(writer_prefix, prefix, sizeof writer_prefix - 1);
    for (int p = 0; p < LP_NPROFILES; p++)
        lp_fmt_sigsafe(writer_paths[p], sizeof writer_paths[p], "%s.%s.pb.gz", writer_prefix,
                       writer_suffix[p]);
}

void lp_writer_init(const char *prefix, const struct lp_writer_info *info)
{
    writer_info = *info;
    lp_arena_init(&writer_arena, 0);
    writer_set_paths(prefix);
}

const char *lp_writer_path(enum lp_profile p)
{
    return writer_paths[p];
}

struct writer_collect {
    struct lp_pp_sample *samples;
    size_t n, cap;
};

static void writer_count(const struct lp_stack_view *v, void *arg)
{
    struct writer_collect *c = arg;
    (void)v;
    c->cap++;
}

static void writer_collect_one(const struct lp_stack_view *v, void *arg)
{
    struct writer_collect *c = arg;
    if (c->n == c->cap) /* entries published since we counted: next time */
        return;
    struct lp_pp_sample *s = &c->samples[c->n++];
    s->leaf = v->leaf;
    s->pcs = v->pcs;
    s->depth = v->depth;
    s->tail = v->truncated ? LP_TAIL_TRUNCATED : NULL;
    s->count = lp_count_round(v->count_fp, v->delay);
    s->delay = (int64_t)v->delay;
}

static const char *writer_comment(struct lp_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *writer_comment(struct lp_arena *a, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    lp_vfmt_sigsafe(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return lp_arena_strdup(a, buf);
}

static int writer_encode_locked(int fd, enum lp_profile p)
{
    struct lp_arena *a = &writer_arena;
    lp_arena_reset(a);
    lp_maps_refresh();

    struct writer_collect c = { 0 };
    lp_stacktab_foreach(p, writer_count, &c);
    c.samples = lp_arena_calloc(a, c.cap ? c.cap : 1, sizeof *c.samples);
    if (!c.samples)
        return -ENOMEM;
    lp_stacktab_foreach(p, writer_collect_one, &c);

    struct lp_stacktab_stats st;
    lp_stacktab_stats(&st);
    struct lp_locktab_stats lt;
    lp_locktab_stats(&lt);
    uint64_t rate = lp_block_rate(), fraction = lp_mutex_fraction();
    bool changed = __atomic_load_n(&lp_rates_changed_, __ATOMIC_RELAXED) != 0;

    const char *comments[8];
    size_t nc = 0;
    comments[nc++] = writer_comment(a, "lockprof %s %s profile (pid %d)", writer_info.version,
                                    p == LP_BLOCK ? "block" : "mutex", (int)getpid());
    if (p == LP_BLOCK)
        comments[nc++] = writer_comment(
            a, "block rate: %llu ns%s%s", (unsigned long long)rate,
            rate == 0 ? " (off: no waits recorded)" : rate == 1 ? " (every wait)" : "",
            changed ? "; rates were changed at run time" : "");
    else
        comments[nc++] = writer_comment(
            a, "mutex fraction: %llu%s%s", (unsigned long long)fraction,
            fraction == 0 ? " (off: no charges recorded)" : fraction == 1 ? " (every charge)" : "",
            changed ? "; rates were changed at run time" : "");
    comments[nc++] = writer_comment(a, "events recorded: %llu%s",
                                    (unsigned long long)st.events[p],
                                    st.events[p] == 0 ? " (lockprof was active; nothing contended)"
                                                      : "");
    comments[nc++] = writer_comment(
        a, "stack table: %llu of %llu entries; %llu events counted under %s",
        (unsigned long long)st.entries, (unsigned long long)st.capacity,
        (unsigned long long)st.overflowed[p], LP_LEAF_TABLE_FULL);
    if (p == LP_MUTEX)
        comments[nc++] = writer_comment(
            a, "waiters not attributable (lock table full): %llu",
            (unsigned long long)lt.not_registered);
    comments[nc++] = writer_comment(a, "stack depth: %u", writer_info.stack_depth);

    struct lp_pp_profile prof = {
        .samples = c.samples,
        .nsamples = c.n,
        .comments = comments,
        .ncomments = nc,
        .time_nanos = lp_clock_realtime(),
        .duration_nanos = 0,
    };
    return lp_pprof_write(fd, a, &prof);
}

int lp_writer_encode(int fd, enum lp_profile p)
{
    lp_lock(&writer_lock);
    int rc = writer_encode_locked(fd, p);
    lp_unlock(&writer_lock);
    return rc;
}

static int writer_file(enum lp_profile p)
{
    char tmp[LP_PATH_MAX + 32];
    lp_fmt_sigsafe(tmp, sizeof tmp, "%s.tmp.%d", writer_paths[p], (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = writer_encode_locked(fd, p);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, writer_paths[p]) < 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int lp_writer_write(const char *why)
{
    int saved = errno;
    lp_lock(&writer_lock);
    int first = 0;
    for (int p = 0; p < LP_NPROFILES; p++) {
        int rc = writer_file((enum lp_profile)p);
        if (rc && !first)
            first = rc;
    }
    if (first && !writer_error) {
        writer_error = first;
        lp_log_sigsafe("cannot write %s (%s): %s; the program is not affected",
                       writer_paths[0], why, strerrordesc_np(-first));
    }
    lp_unlock(&writer_lock);
    errno = saved;
    return first;
}

void lp_writer_atfork_child(const char *new_prefix)
{
    lp_lock_reset(&writer_lock);
    if (new_prefix)
        writer_set_paths(new_prefix);
}

void lp_writer_prefork(void)
{
    lp_lock(&writer_lock);
}

void lp_writer_postfork_parent(void)
{
    lp_unlock(&writer_lock);
}
