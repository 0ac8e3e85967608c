/* writer.c — see writer.h. */
#include "writer.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "clock.h"
#include "config.h"
#include "cpuprof.h"
#include "cputimer.h"
#include "elfsym.h"
#include "event.h"
#include "families.h"
#include "locktab.h"
#include "log.h"
#include "maps.h"
#include "pprof.h"
#include "procthreads.h"
#include "sample.h"
#include "seam.h"
#include "sink.h"
#include "sys.h"
#include "sync.h"
#include "threads.h"

LP_INIT_DATA static lp_lock_t writer_lock = LP_LOCK_INIT;
LP_INIT_DATA static struct lp_arena writer_arena;                  /* under writer_lock */
LP_INIT_DATA static char writer_prefix[LP_PATH_MAX];               /* under writer_lock */
LP_INIT_DATA static struct lp_writer_info writer_info;             /* immutable after init */
static int writer_error; /* the failure last warned about, 0 after a write that worked; under
                           writer_lock */
static char writer_note[208];                         /* under writer_lock; "" for none */
static unsigned writer_snapshots;                     /* snapshots written, under writer_lock */
/* The prefix is claimed at the first write if non-zero (writer.h); under writer_lock. */
LP_INIT_DATA static int64_t writer_claim_since;

/* A window's start (writer.h): the weights of every entry then, by lp_stack_view.index. */
struct writer_weight {
    uint64_t count_fp, delay;
};
struct lp_writer_window {
    size_t bytes;        /* of this mapping */
    uint64_t limit;      /* entries in base */
    int64_t start_real;  /* when it began (ns since the epoch) */
    uint64_t start_mono;
    bool chained;        /* a stateful delta (lp_writer_delta_begin) */
    char note[256];
    struct writer_weight base[];
};

/* (Strings held, not pointed to: no relocation.) */
static const char writer_suffix[LP_NPROFILES][8] = { "block", "mutex", "cpu" };

/* (Not strncpy, which would write all of writer_prefix, a page or two, in every process.) */
LP_INIT_TEXT static void writer_set_paths(const char *prefix)
{
    lp_fmt_sigsafe(writer_prefix, sizeof writer_prefix, "%s", prefix);
}

/* PREFIX.block.pb.gz or PREFIX.mutex.pb.gz, made when written (not kept: every process would
 * write them at start, whether it ever writes a profile or not). */
static void writer_profile_path(char *buf, size_t size, int p)
{
    lp_fmt_sigsafe(buf, size, "%s.%s.pb.gz", writer_prefix, writer_suffix[p]);
}

/* Whether profile p is written: the CPU profile only when it covers the whole run. */
static bool writer_profile_on(int p)
{
    return p != LP_CPU || lp_cpuprof_continuous();
}

LP_INIT_TEXT void lp_writer_init(const char *prefix, const struct lp_writer_info *info)
{
    writer_info = *info;
    writer_claim_since = info->claim_since;
    lp_arena_init(&writer_arena, 0);
    writer_set_paths(prefix);
}

struct writer_collect {
    struct lp_pp_sample *samples;
    size_t n, cap;
    const struct lp_writer_window *w; /* a delta's baseline, or NULL */
    uint64_t by_family[LP_NFAMILIES]; /* the samples' contentions, per family of their leaf */
    struct writer_moved {             /* a stateful delta's entries as written (NULL if none): */
        uint64_t index;               /* its next baseline once the write has succeeded */
        struct writer_weight now;
    } *moved;
    size_t nmoved;
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
    /* The scale test's stalled writer (seam.h): it stops half-way through its walk of the
     * stack table while the program's threads go on recording into that table. Were anything
     * they need held by the writer, their calls would last the stall. */
    if (lp_seams.writer_stall_ns && c->n == c->cap / 2)
        lp_sleep_ns(lp_seams.writer_stall_ns);
    uint64_t count_fp = v->count_fp, delay = v->delay;
    int64_t count;
    if (c->w && c->w->chained && v->index < c->w->limit) {
        /* A stateful delta: the change of the rounded cumulative count, so that successive
         * deltas add up to the cumulative profile's count exactly (as a scraper's differences
         * of cumulative profiles do, and godeltaprof's); a delta may then have a delay and a
         * count of 0 when counts are fractional. Weights only grow (max: a count added after
         * its delay was read could look smaller than the baseline's). */
        const struct writer_weight *b = &c->w->base[v->index];
        count_fp = count_fp > b->count_fp ? count_fp : b->count_fp;
        delay = delay > b->delay ? delay : b->delay;
        count = lp_count_round(count_fp, delay) - lp_count_round(b->count_fp, b->delay);
        if (count == 0 && delay == b->delay)
            return;
        c->moved[c->nmoved++] = (struct writer_moved){ v->index, { count_fp, delay } };
        delay -= b->delay;
    } else {
        if (c->w && v->index < c->w->limit) {
            const struct writer_weight *b = &c->w->base[v->index];
            /* Weights only grow; a count added after its delay was read could look smaller. */
            count_fp = count_fp > b->count_fp ? count_fp - b->count_fp : 0;
            delay = delay > b->delay ? delay - b->delay : 0;
            if (count_fp == 0 && delay == 0)
                return;
        }
        count = lp_count_round(count_fp, delay);
    }
    struct lp_pp_sample *s = &c->samples[c->n++];
    s->leaf = v->leaf;
    s->pcs = v->pcs;
    s->depth = v->depth;
    s->tail = v->truncated ? LP_TAIL_TRUNCATED : NULL;
    s->count = count;
    s->delay = (int64_t)delay;
    c->by_family[lp_families_of_leaf(v->leaf)] += (uint64_t)s->count;
}

/* "futex 40, mutex 12": the families with a non-zero count, or "none". */
static void writer_by_family(char *buf, size_t size, const uint64_t n[LP_NFAMILIES])
{
    size_t k = 0;
    buf[0] = '\0';
    for (int f = 0; f < LP_NFAMILIES && k < size; f++)
        if (n[f])
            k += (size_t)lp_fmt_sigsafe(buf + k, size - k, "%s%s %llu", k ? ", " : "",
                                        lp_families_name((enum lp_family_id)f),
                                        (unsigned long long)n[f]);
    if (k == 0)
        lp_fmt_sigsafe(buf, size, "none");
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

/* The lines every profile begins with: what it is, a delta's window, the writer's note. */
static size_t writer_head_comments(struct lp_arena *a, enum lp_profile p,
                                   const struct lp_writer_window *w, uint64_t now_mono,
                                   const char **comments)
{
    static const char *const names[LP_NPROFILES] = { "block", "mutex", "cpu" };
    size_t nc = 0;
    comments[nc++] = writer_comment(a, "lockprof %s %s profile (pid %d)", writer_info.version,
                                    names[p], (int)getpid());
    if (w) {
        uint64_t ms = (now_mono - w->start_mono) / 1000000;
        comments[nc++] = writer_comment(a, "delta profile: what was recorded in the last "
                                        "%llu.%03llu s", (unsigned long long)(ms / 1000),
                                        (unsigned long long)(ms % 1000));
        if (w->note[0])
            comments[nc++] = writer_comment(a, "%s", w->note);
    }
    if (writer_note[0])
        comments[nc++] = writer_comment(a, "%s", writer_note);
    return nc;
}

/* The block and mutex profiles' comments (at most 16 with the head's). */
static size_t writer_contention_comments(struct lp_arena *a, enum lp_profile p,
                                         const struct writer_collect *c, const char **comments,
                                         size_t nc)
{
    struct lp_stacktab_stats st;
    lp_stacktab_stats(&st);
    struct lp_locktab_stats lt;
    lp_locktab_stats(&lt);
    struct lp_sync_stats sy;
    lp_sync_stats(&sy);
    uint64_t rate = lp_rates_block(), fraction = lp_rates_fraction();
    bool changed = lp_rates_changed();

    uint64_t seen[LP_NFAMILIES], seen_total = 0;
    lp_families_seen(seen);
    for (int k = 0; k < LP_NFAMILIES; k++)
        seen_total += seen[k];
    char recorded_by[160], seen_by[160];
    writer_by_family(recorded_by, sizeof recorded_by, c->by_family);
    writer_by_family(seen_by, sizeof seen_by, seen);

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
    /* "Nothing contended" only when no family saw a wait (families.h). */
    comments[nc++] = writer_comment(
        a, "events recorded: %llu%s", (unsigned long long)st.events[p],
        st.events[p] != 0 ? ""
        : seen_total == 0 ? " (lockprof was active; nothing contended)"
                          : " (waits were seen: see the counts by family)");
    if (st.events[p] != 0 || seen_total != 0) {
        comments[nc++] = writer_comment(a, "contentions by family: %s", recorded_by);
        comments[nc++] = writer_comment(a, "waits seen by family since start, recorded or not: %s",
                                        seen_by);
    }
    comments[nc++] = writer_comment(
        a, "stack table: %llu of %llu entries; %llu events counted under %s",
        (unsigned long long)st.entries, (unsigned long long)st.capacity,
        (unsigned long long)st.overflowed[p], LP_LEAF_TABLE_FULL);
    if (p == LP_MUTEX)
        comments[nc++] = writer_comment(
            a, "waiters not attributable (lock table full): %llu",
            (unsigned long long)lt.not_registered);
    comments[nc++] = writer_comment(a, "stack depth: %u", writer_info.stack_depth);
    comments[nc++] = writer_comment(
        a, "waits on lockprof's locks: %llu, %llu ns in all (lock table: none, it takes no "
        "lock, %llu of its compare-and-swaps went again; stack table slots being filled: "
        "%llu, %llu ns; sleeps on the writer's and the mappings' locks: %llu, %llu ns)",
        (unsigned long long)(st.waits + sy.sleeps),
        (unsigned long long)(st.wait_ns + sy.sleep_ns), (unsigned long long)lt.retries,
        (unsigned long long)st.waits, (unsigned long long)st.wait_ns,
        (unsigned long long)sy.sleeps, (unsigned long long)sy.sleep_ns);
    comments[nc++] = writer_comment(
        a, "recording waits over 50 us on lockprof's tables: %llu (on another recording "
        "thread, preempted or not; the writer holds nothing a recording thread waits on)",
        (unsigned long long)st.slow_waits);

    return nc;
}

/* The CPU profile's comments (at most 16 with the head's). */
static size_t writer_cpu_comments(struct lp_arena *a, const char **comments, size_t nc)
{
    struct lp_cpuprof_stats cs;
    lp_cpuprof_stats(&cs);
    struct lp_cputimer_stats ts;
    lp_cputimer_stats(&ts);
    char sig[32];
    comments[nc++] = writer_comment(
        a, "cpu sampling: %u Hz of each thread's CPU time (a sample every %llu ns of it), "
        "by a CPU-time timer per thread and %s", lp_cpuprof_hz(),
        (unsigned long long)lp_cpuprof_period_ns(),
        lp_config_signal_name(lp_cpuprof_signal(), sig, sizeof sig));
    if (lp_cpuprof_stopped()[0])
        comments[nc++] = writer_comment(a, "cpu sampling stopped: %s", lp_cpuprof_stopped());
    comments[nc++] = writer_comment(
        a, "samples: %llu signals for %llu periods (a signal counts the periods since the one "
        "before it: the kernel checks CPU timers at its tick)%s",
        (unsigned long long)cs.samples, (unsigned long long)cs.periods,
        cs.samples ? "" : " (no thread ran a whole period on a CPU)");
    comments[nc++] = writer_comment(
        a, "samples not recorded: %llu (%llu periods: the ring was full), counted under %s; "
        "periods not sampled: %llu (threads held the signal blocked)",
        (unsigned long long)cs.lost, (unsigned long long)cs.lost_periods, LP_LEAF_CPU_LOST,
        (unsigned long long)cs.blocked_periods);
    comments[nc++] = writer_comment(
        a, "threads armed since start: %llu; timers now: %llu; timers of ended threads "
        "deleted: %llu; not armed: %llu (timer_create failed%s%s), %llu (more than %llu "
        "timers)", (unsigned long long)ts.armed, (unsigned long long)ts.live,
        (unsigned long long)ts.deleted, (unsigned long long)ts.failed,
        ts.last_error ? ": " : "", ts.last_error ? strerrordesc_np(-ts.last_error) : "",
        (unsigned long long)ts.table_full, (unsigned long long)ts.max_threads);
    comments[nc++] = writer_comment(
        a, "signals that were not lockprof's timers' (somebody else's SIGPROF: it ends the "
        "process, as without lockprof, once the profiles are written): %llu",
        (unsigned long long)cs.foreign);
    if (lp_cpuprof_continuous()) {
        struct lp_stacktab_stats st;
        lp_stacktab_stats(&st);
        comments[nc++] = writer_comment(
            a, "stack table: %llu of %llu entries, %llu of them this profile's; %llu samples "
            "counted under %s", (unsigned long long)st.entries, (unsigned long long)st.capacity,
            (unsigned long long)st.entries_of[LP_CPU], (unsigned long long)st.overflowed[LP_CPU],
            LP_LEAF_TABLE_FULL);
    } else {
        struct lp_cpuprof_window_stats ws;
        lp_cpuprof_window_stats(&ws);
        comments[nc++] = writer_comment(
            a, "the window's stack table: %llu of %llu entries (given back when the window "
            "ends); %llu samples counted under %s", (unsigned long long)ws.entries,
            (unsigned long long)ws.capacity, (unsigned long long)ws.overflowed,
            LP_LEAF_TABLE_FULL);
    }
    comments[nc++] = writer_comment(a, "stack depth: %u (%llu samples cut there)",
                                    writer_info.stack_depth, (unsigned long long)cs.truncated);
    return nc;
}

/* The CPU profile's sample types and period: Go's (runtime/pprof). */
static void writer_cpu_kind(struct lp_pp_kind *k)
{
    *k = (struct lp_pp_kind){
        .type = { "samples", "cpu" },
        .unit = { "count", "nanoseconds" },
        .period_type = "cpu",
        .period_unit = "nanoseconds",
        .period = (int64_t)lp_cpuprof_period_ns(),
    };
}

/* Visits profile p's entries: the stack table's, or for a CPU profile taken for the endpoint's
 * windows only, the open window's own table (cpuprof.h). */
static void writer_foreach(enum lp_profile p, lp_stack_visit_fn fn, void *arg)
{
    if (p == LP_CPU && !lp_cpuprof_continuous())
        lp_cpuprof_window_foreach(fn, arg);
    else
        lp_stacktab_foreach(p, fn, arg);
}

/* Writes profile p to fd: cumulative (w NULL) or the delta of w. advance (w itself, or NULL):
 * a stateful delta that moves on to what this write holds once it is written whole. */
static int writer_encode_locked(int fd, enum lp_profile p, enum lp_writer_format f,
                                const struct lp_writer_window *w,
                                struct lp_writer_window *advance)
{
    struct lp_arena *a = &writer_arena;
    lp_arena_reset(a);
    if (p == LP_CPU) {
        if (f == LP_FORMAT_TEXT)
            return -EINVAL; /* Go has no text form of a CPU profile */
        lp_cpuprof_drain();
    }
    lp_maps_refresh();

    struct writer_collect c = { .w = w };
    writer_foreach(p, writer_count, &c);
    c.samples = lp_arena_calloc(a, c.cap ? c.cap : 1, sizeof *c.samples);
    if (w && w->chained)
        c.moved = lp_arena_calloc(a, c.cap ? c.cap : 1, sizeof *c.moved);
    if (!c.samples || (w && w->chained && !c.moved))
        return -ENOMEM;
    writer_foreach(p, writer_collect_one, &c);
    int64_t now = lp_clock_realtime();
    uint64_t now_mono = lp_clock_monotonic();

    const char *comments[16];
    size_t nc = writer_head_comments(a, p, w, now_mono, comments);
    nc = p == LP_CPU ? writer_cpu_comments(a, comments, nc)
                     : writer_contention_comments(a, p, &c, comments, nc);
    struct lp_pp_kind cpu;
    if (p == LP_CPU)
        writer_cpu_kind(&cpu);
    struct lp_pp_profile prof = {
        .kind = p == LP_CPU ? &cpu : NULL,
        .samples = c.samples,
        .nsamples = c.n,
        .comments = comments,
        .ncomments = nc,
        .time_nanos = now,
        /* A delta: its window. The CPU profile: the span it was sampled over (Go's). */
        .duration_nanos = w ? now - w->start_real : p == LP_CPU ? now - lp_cpuprof_began() : 0,
    };
    int rc = f == LP_FORMAT_TEXT
                 ? lp_pprof_write_text(fd, a, &prof,
                                       p == LP_BLOCK ? "--- contention:" : "--- mutex:")
                 : lp_pprof_write(fd, a, &prof);
    if (rc == 0 && advance) {
        for (size_t i = 0; i < c.nmoved; i++)
            advance->base[c.moved[i].index] = c.moved[i].now;
        advance->start_real = now;
        advance->start_mono = now_mono;
    }
    return rc;
}

int lp_writer_encode(int fd, enum lp_profile p)
{
    return lp_writer_encode_to(fd, p, LP_FORMAT_PPROF, NULL);
}

int lp_writer_encode_to(int fd, enum lp_profile p, enum lp_writer_format f,
                        const struct lp_writer_window *w)
{
    int saved = errno;
    lp_lock(&writer_lock);
    int rc = writer_encode_locked(fd, p, f, w, NULL);
    lp_unlock(&writer_lock);
    errno = saved;
    return rc;
}

int lp_writer_delta_next(int fd, enum lp_profile p, struct lp_writer_window *w)
{
    int saved = errno;
    lp_lock(&writer_lock);
    int rc = writer_encode_locked(fd, p, LP_FORMAT_PPROF, w, w);
    lp_unlock(&writer_lock);
    errno = saved;
    return rc;
}

int lp_writer_threads(int fd, int format)
{
    int saved = errno;
    lp_lock(&writer_lock);
    lp_arena_reset(&writer_arena);
    int rc = lp_threads_write(fd, &writer_arena, (enum lp_threads_format)format);
    lp_unlock(&writer_lock);
    errno = saved;
    return rc;
}

/* The names a synthetic frame (pprof.h) can have now: the leaf of every entry, of both
 * profiles, and the tail; each string once (leaves are static strings: few pointers). */
struct writer_synth {
    const char **names;
    size_t n, cap;
};

static void writer_synth_visit(const struct lp_stack_view *v, void *arg)
{
    struct writer_synth *s = arg;
    for (size_t i = 0; i < s->n; i++)
        if (s->names[i] == v->leaf)
            return;
    if (s->n < s->cap)
        s->names[s->n++] = v->leaf;
}

/* The name at synthetic address addr (or a return address just above it), NULL if none. The
 * names are collected at the first call (s->names NULL), from the arena. */
static const char *writer_synth_name(struct writer_synth *s, struct lp_arena *a, uint64_t addr)
{
    if (!s->names) {
        s->cap = 256;
        s->names = lp_arena_calloc(a, s->cap, sizeof *s->names);
        if (!s->names)
            return NULL;
        s->names[s->n++] = LP_TAIL_TRUNCATED;
        for (int p = 0; p < LP_NPROFILES; p++)
            writer_foreach((enum lp_profile)p, writer_synth_visit, s);
    }
    for (size_t i = 0; i < s->n; i++)
        if (lp_pprof_synthetic_address(s->names[i]) == (addr & ~(uint64_t)0xf))
            return s->names[i];
    return NULL;
}

int lp_writer_symbolize(int fd, const char *addrs, size_t len)
{
    int saved = errno;
    lp_lock(&writer_lock);
    struct lp_arena *a = &writer_arena;
    lp_arena_reset(a);
    lp_maps_refresh();
    struct lp_symbolizer *sym = lp_sym_new(a);
    struct writer_synth synth = { 0 };
    char buf[4096];
    struct lp_sink out;
    lp_sink_init(&out, fd, buf, sizeof buf);
    if (!sym)
        lp_sink_fail(&out, -ENOMEM);
    for (size_t i = 0; !out.err && i < len;) {
        while (i < len && (addrs[i] == '+' || addrs[i] == ' ' || addrs[i] == '\n' ||
                           addrs[i] == '\r'))
            i++;
        size_t j = i;
        uintptr_t pc = 0;
        bool ok = j + 2 < len && addrs[j] == '0' && (addrs[j + 1] == 'x' || addrs[j + 1] == 'X');
        if (ok)
            j += 2;
        size_t digits = 0;
        for (; j < len && addrs[j] != '+' && addrs[j] != ' ' && addrs[j] != '\n' &&
               addrs[j] != '\r'; j++, digits++) {
            char c = addrs[j];
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v < 0 || digits >= 16)
                ok = false;
            else
                pc = pc << 4 | (uintptr_t)v;
        }
        i = j;
        if (!ok || digits == 0)
            continue;
        const struct lp_mapping *m = lp_maps_find(pc);
        const char *name = m                            ? lp_sym_lookup(sym, m, pc)
                           : lp_pprof_is_synthetic(pc) ? writer_synth_name(&synth, a, pc)
                                                        : NULL;
        if (!name)
            continue;
        lp_sink_printf(&out, "0x%lx ", (unsigned long)pc);
        lp_sink_str(&out, name); /* whole, however long */
        lp_sink_put(&out, "\n", 1);
    }
    int rc = lp_sink_flush(&out);
    if (sym)
        lp_sym_close(sym);
    lp_unlock(&writer_lock);
    errno = saved;
    return rc;
}

static void writer_window_visit(const struct lp_stack_view *v, void *arg)
{
    struct lp_writer_window *w = arg;
    if (v->index < w->limit)
        w->base[v->index] = (struct writer_weight){ v->count_fp, v->delay };
}

/* A baseline of zero weights for every entry, starting at the times given; NULL if it cannot
 * be mapped. */
static struct lp_writer_window *writer_window_map(int64_t start_real, uint64_t start_mono)
{
    uint64_t limit = lp_stacktab_index_limit();
    size_t bytes = sizeof(struct lp_writer_window) + limit * sizeof(struct writer_weight);
    /* NORESERVE: only the pages of entries that exist are ever touched. */
    struct lp_writer_window *w = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (w == MAP_FAILED)
        return NULL;
    w->bytes = bytes;
    w->limit = limit;
    w->start_real = start_real;
    w->start_mono = start_mono;
    return w;
}

struct lp_writer_window *lp_writer_window_begin(void)
{
    struct lp_writer_window *w = writer_window_map(lp_clock_realtime(), lp_clock_monotonic());
    if (!w)
        return NULL;
    lp_cpuprof_drain(); /* the CPU samples taken until now are before the window */
    for (int p = 0; p < LP_NPROFILES; p++)
        lp_stacktab_foreach((enum lp_profile)p, writer_window_visit, w);
    return w;
}

struct lp_writer_window *lp_writer_delta_begin(int64_t since_real, uint64_t since_mono)
{
    struct lp_writer_window *w = writer_window_map(since_real, since_mono);
    if (w)
        w->chained = true;
    return w;
}

void lp_writer_window_note(struct lp_writer_window *w, const char *note)
{
    lp_fmt_sigsafe(w->note, sizeof w->note, "%s", note ? note : "");
}

void lp_writer_window_end(struct lp_writer_window *w)
{
    if (w)
        munmap(w, w->bytes);
}

/* A name for a temporary file beside path that nobody can guess (so plant anything at in
 * advance): path.tmp. and 16 hex digits from the kernel's random pool, or, when it has none to
 * give, from the counter, the clock and the pid. */
static void writer_tmp_name(char *tmp, size_t size, const char *path)
{
    static uint64_t writer_tmp_seq; /* atomic */
    uint64_t r;
    if (lp_sys_getrandom(&r, sizeof r) != (long)sizeof r)
        r = (lp_now() ^ (uint64_t)lp_sys_getpid() << 40) * 0x9e3779b97f4a7c15ULL +
            __atomic_add_fetch(&writer_tmp_seq, 1, __ATOMIC_RELAXED);
    lp_fmt_sigsafe(tmp, size, "%s.tmp.%016llx", path, (unsigned long long)r);
}

/* Writes path atomically: fill(fd) into a new temporary file beside it (created exclusively,
 * never through a symlink, under a name nobody can guess), then rename. What is already at
 * path must be a regular file (a profile of before) or nothing: a symlink, FIFO, directory or
 * device put there is refused (-EEXIST) and left as it is. 0 or -errno. Not replace: linked
 * instead of renamed, so that the file is made only if nothing is at path yet (-EEXIST). */
static int writer_file_new(const char *path, int (*fill)(int fd, int arg), int arg,
                           bool replace)
{
    struct stat st;
    if (lp_sys_lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return -EEXIST;
    char tmp[LP_PATH_MAX + 64];
    int fd = -EEXIST;
    for (int attempt = 0; attempt < 8 && fd == -EEXIST; attempt++) {
        writer_tmp_name(tmp, sizeof tmp, path);
        fd = lp_sys_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    }
    if (fd < 0)
        return fd;
    int rc = fill(fd, arg);
    int closed = lp_sys_close(fd);
    if (closed < 0 && rc == 0)
        rc = closed;
    if (rc == 0 && (replace ? rename(tmp, path) : link(tmp, path)) < 0)
        rc = -errno;
    if (rc != 0 || !replace)
        unlink(tmp);
    return rc;
}

static int writer_file_with(const char *path, int (*fill)(int fd, int arg), int arg)
{
    return writer_file_new(path, fill, arg, true);
}

static int writer_fill_profile(int fd, int p)
{
    return writer_encode_locked(fd, (enum lp_profile)p, LP_FORMAT_PPROF, NULL, NULL);
}

static int writer_fill_threads(int fd, int format)
{
    lp_arena_reset(&writer_arena);
    return lp_threads_write(fd, &writer_arena, (enum lp_threads_format)format);
}

/* The first error of a write, reported once for the life of the process (STYLE). */
/* One warning per failure, not one per write: a write that fails as the one before it did is
 * not warned about again (a full disk under LOCKPROF_INTERVAL=1), a different failure or the
 * first after a write that worked is; always_warn (a final profile) warns whatever came
 * before. */
static void writer_report(int rc, const char *path, const char *why, bool always_warn)
{
    if (rc == 0) {
        writer_error = 0;
        return;
    }
    if (rc == writer_error && !always_warn)
        return;
    writer_error = rc;
    lp_log_sigsafe("cannot write %s (%s): %s; the program is not affected", path, why,
                   rc == -EEXIST ? "something other than a regular file is there "
                                   "(lockprof writes through no symlink, FIFO or device)"
                                 : strerrordesc_np(-rc));
}

void lp_writer_note(const char *note)
{
    lp_lock(&writer_lock);
    lp_fmt_sigsafe(writer_note, sizeof writer_note, "%s", note);
    lp_unlock(&writer_lock);
}

static void writer_snapshot_path(char *buf, size_t size, unsigned n, int which);

/* A process's start, in clock ticks since boot (field 22 of /proc/PID/stat): with the pid,
 * what tells a live process from a later one that reuses its pid. 0 if it cannot be read. */
static unsigned long long writer_start_ticks(long pid)
{
    char path[48], buf[1024];
    lp_fmt_sigsafe(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = lp_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    ssize_t n = lp_sys_read(fd, buf, sizeof buf - 1);
    lp_sys_close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command's name, which may hold anything */
    if (!p)
        return 0;
    /* ") state ppid ..." : starttime is the 20th field after the name. */
    for (int field = 0; field < 20 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return 0;
    p++;
    return lp_procthreads_parse_ull(&p, 10);
}

/* Who claimed the prefix: "PID TICKS" in PREFIX.owner. False if there is no such file or it
 * does not hold that (a symlink or anything else planted there is no owner). */
static bool writer_owner_read(const char *path, long *pid, unsigned long long *ticks)
{
    char buf[64];
    int fd = lp_sys_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct stat st;
    ssize_t n = lp_sys_fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
                    ? lp_sys_read(fd, buf, sizeof buf - 1) : -1;
    lp_sys_close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *p = buf;
    unsigned long long v = lp_procthreads_parse_ull(&p, 10);
    if (*p++ != ' ' || v == 0 || v > INT32_MAX) /* pids are at most 2^22 */
        return false;
    *pid = (long)v;
    *ticks = lp_procthreads_parse_ull(&p, 10);
    return true;
}

static int writer_fill_owner(int fd, int unused)
{
    (void)unused;
    char buf[64];
    long pid = lp_sys_getpid();
    size_t n = lp_fmt_sigsafe(buf, sizeof buf, "%ld %llu\n", pid, writer_start_ticks(pid));
    return lp_sys_write_all(fd, buf, n);
}

/*
 * Claims the prefix: creates PREFIX.owner exclusively if there is none (of two processes, one
 * does), or replaces a previous run's claim (pid and ticks as read, -1 and 0 for a file that
 * holds no claim) while holding PREFIX.owner.take, also created exclusively: of two processes
 * replacing the same claim, one does and the other writes under its pid. A .take older than
 * this process (left by one that died holding it) is removed and tried again, once.
 * 1 claimed, 0 lost to another process, -errno when it cannot be written.
 */
static int writer_take_claim(const char *owner, bool had, long pid, unsigned long long ticks,
                             int64_t since)
{
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    if (!had) {
        /* Written whole beside it, then linked: never seen empty, and the link fails if
         * another process's claim got there first. */
        int rc = writer_file_new(owner, writer_fill_owner, 0, false);
        return rc == 0 ? 1 : rc == -EEXIST ? 0 : rc;
    }
    char take[LP_PATH_MAX + 80];
    lp_fmt_sigsafe(take, sizeof take, "%s.take", owner);
    int fd = lp_sys_open(take, flags, 0644);
    struct stat st;
    if (fd == -EEXIST && lp_sys_lstat(take, &st) == 0 && S_ISREG(st.st_mode) &&
        (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec < since) {
        unlink(take);
        fd = lp_sys_open(take, flags, 0644);
    }
    if (fd < 0)
        return fd == -EEXIST ? 0 : fd;
    lp_sys_close(fd);
    long p2 = -1;
    unsigned long long t2 = 0;
    if (!writer_owner_read(owner, &p2, &t2))
        p2 = -1, t2 = 0;
    int rc = p2 == pid && t2 == ticks ? writer_file_with(owner, writer_fill_owner, 0) : 0;
    unlink(take);
    return rc == 0 && p2 == pid && t2 == ticks ? 1 : rc == -EEXIST ? 0 : rc;
}

/*
 * The first write under a prefix that other processes may share (writer.h). The prefix is
 * another process's when PREFIX.owner names a live process other than this one, or when a
 * regular file at one of the names this process would write first changed after it started
 * (a process that wrote there meanwhile and has ended). Then this one writes under PREFIX.PID
 * from now on, and says so. Otherwise it is a previous run's, or nobody's: this process
 * claims it in PREFIX.owner and writes over what is there. Under writer_lock.
 */
static void writer_claim(void)
{
    int64_t since = writer_claim_since;
    if (!since)
        return;
    writer_claim_since = 0;
    char path[LP_PATH_MAX + 64], owner[LP_PATH_MAX + 64];
    lp_fmt_sigsafe(owner, sizeof owner, "%s.owner", writer_prefix);
    long me = lp_sys_getpid(), pid;
    unsigned long long ticks;
    const char *taken = NULL;
    if (writer_owner_read(owner, &pid, &ticks) && pid != me && ticks &&
        writer_start_ticks(pid) == ticks)
        taken = owner;
    for (int which = 0; !taken && which < LP_NPROFILES + 1; which++) {
        if (which < LP_NPROFILES)
            writer_profile_path(path, sizeof path, which);
        else
            writer_snapshot_path(path, sizeof path, 1, 0);
        struct stat st;
        if (lp_sys_lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec >= since)
            taken = path;
    }
    if (!taken) {
        struct stat st;
        bool had = lp_sys_lstat(owner, &st) == 0;
        if (!had || !S_ISREG(st.st_mode) || !writer_owner_read(owner, &pid, &ticks))
            pid = -1, ticks = 0;
        /* Claimed, or it cannot be (the directory is missing or read-only: the profiles'
         * own write says so): the name stays. Lost to another process: its pid is added. */
        if (writer_take_claim(owner, had, pid, ticks, since) != 0)
            return;
        taken = owner;
    }
    size_t n = strlen(writer_prefix);
    char suffix[24];
    size_t k = lp_fmt_sigsafe(suffix, sizeof suffix, ".%ld", me);
    if (n + k + 40 >= sizeof writer_prefix) /* room for the suffixes and a tmp name */
        return;
    memcpy(writer_prefix + n, suffix, k + 1);
    lp_log_sigsafe("%s is another running process's (the same LOCKPROF_OUT): this one "
                   "writes %s.* instead", taken, writer_prefix);
}

int lp_writer_write(const char *why, bool final)
{
    int saved = errno;
    lp_lock(&writer_lock);
    writer_claim();
    int first = 0;
    char path[LP_NPROFILES][LP_PATH_MAX + 16];
    const char *first_path = path[0];
    for (int p = 0; p < LP_NPROFILES; p++) {
        if (!writer_profile_on(p))
            continue;
        writer_profile_path(path[p], sizeof path[p], p);
        int rc = writer_file_with(path[p], writer_fill_profile, p);
        if (rc && !first) {
            first = rc;
            first_path = path[p];
        }
    }
    writer_report(first, first_path, why, final);
    lp_unlock(&writer_lock);
    errno = saved;
    return first;
}

/* A snapshot's files: the profiles (by enum lp_profile), then the threads view. */
#define WRITER_SNAP_THREADS LP_NPROFILES
#define WRITER_SNAP_FILES (LP_NPROFILES + 1)
static const char writer_snapshot_suffix[WRITER_SNAP_FILES][16] = {
    "block.pb.gz", "mutex.pb.gz", "cpu.pb.gz", "threads.txt"
};

static void writer_snapshot_path(char *buf, size_t size, unsigned n, int which)
{
    lp_fmt_sigsafe(buf, size, "%s.snapshot-%u.%s", writer_prefix, n,
                   writer_snapshot_suffix[which]);
}

/* Set at exit by lp_writer_close: no snapshot starts after it. Atomic. */
LP_INIT_DATA static uint32_t writer_closed;

LP_INIT_TEXT bool lp_writer_close(uint64_t bound_ns)
{
    bool locked = lp_trylock(&writer_lock);
    if (!locked) {
        /* A snapshot (or a view, a live profile) is being written: wait for it, a while. */
        uint64_t deadline = lp_clock_monotonic() + bound_ns;
        while (!(locked = lp_trylock(&writer_lock)) && lp_clock_monotonic() < deadline)
            lp_sleep_ns(1000000);
    }
    __atomic_store_n(&writer_closed, 1, __ATOMIC_RELEASE);
    if (locked)
        lp_unlock(&writer_lock);
    return locked;
}

int lp_writer_snapshot(unsigned keep, const char *why)
{
    int saved = errno;
    lp_lock(&writer_lock);
    if (__atomic_load_n(&writer_closed, __ATOMIC_ACQUIRE)) {
        lp_unlock(&writer_lock);
        errno = saved;
        return -ECANCELED; /* the process is ending: a set it began could be cut in half */
    }
    writer_claim();
    /* A number is taken only by a complete snapshot: a set that could not be written whole is
     * removed, and the next attempt takes the same number. So snapshots 1..N are all complete,
     * and the one that keep pushes out goes only once its replacement is on disk: a disk that
     * fails leaves the newest complete snapshots where they were. */
    unsigned n = writer_snapshots + 1;
    char path[LP_PATH_MAX + 64];
    int first = 0, which = 0;
    for (; which < WRITER_SNAP_FILES; which++) {
        if (which != WRITER_SNAP_THREADS && !writer_profile_on(which))
            continue;
        writer_snapshot_path(path, sizeof path, n, which);
        first = which != WRITER_SNAP_THREADS
                    ? writer_file_with(path, writer_fill_profile, which)
                    : writer_file_with(path, writer_fill_threads, LP_THREADS_TEXT);
        if (first)
            break;
    }
    writer_report(first, path, why, false);
    if (first) {
        for (int done = 0; done < which; done++) { /* the files of this set already written */
            if (done != WRITER_SNAP_THREADS && !writer_profile_on(done))
                continue;
            char written[LP_PATH_MAX + 64];
            writer_snapshot_path(written, sizeof written, n, done);
            unlink(written);
        }
        /* A name somebody else holds stays held: the next snapshot takes the next number. */
        if (first == -EEXIST)
            writer_snapshots = n;
    } else {
        writer_snapshots = n;
        if (keep && n > keep)
            for (int old = 0; old < WRITER_SNAP_FILES; old++) {
                writer_snapshot_path(path, sizeof path, n - keep, old);
                unlink(path);
            }
    }
    lp_unlock(&writer_lock);
    errno = saved;
    return first ? first : (int)n;
}

void lp_writer_atfork_child(const char *new_prefix)
{
    /* The lock's word is as it was at the fork. Taken: a thread of the parent was writing,
     * and the arena may be half-changed (a chunk unmapped, the list not yet updated), so the
     * child forgets it rather than walk it (its chunks stay mapped, untouched: copies of the
     * parent's pages that cost the child nothing until written). */
    if (__atomic_load_n(&writer_lock.word, __ATOMIC_RELAXED))
        lp_arena_init(&writer_arena, 0);
    lp_lock_reset(&writer_lock);
    writer_snapshots = 0;
    writer_closed = 0;
    writer_claim_since = 0; /* the child's name has its pid in it */
    if (new_prefix)
        writer_set_paths(new_prefix);
}
