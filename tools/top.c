/*
 * top.c — `lockprof top`: the heaviest functions of a contention profile, the way
 * `go tool pprof -top` shows them, then its heaviest stacks, for machines without Go
 * (profread.h reads the profile).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmds.h"
#include "profread.h"
#include "top.h"

#define TOP_DEFAULT_N 20
#define TOP_DEFAULT_STACKS 5
/*
 * What one stack, or the header, prints at most, so that a report's size does not grow with
 * how often a profile repeats a location or a string: the frames of a stack (lockprof's stacks
 * have at most 512, plus the frame that marks a cut one; Go's 128 and their inlined calls),
 * the bytes of a name, file or comment there (a file's base name has at most 255, lockprof's
 * comments 512; a longer function name, a rare C++ template, is cut in a stack and shown
 * whole in the table of functions, up to LP_PROFREAD_NAME_MAX bytes once demangled), and the
 * comments (lockprof writes at most 12).
 */
#define TOP_STACK_FRAMES 1024
#define TOP_TEXT_MAX 1024
#define TOP_COMMENTS 64
#define TOP_STR(x) TOP_STR_(x)
#define TOP_STR_(x) #x

static const char top_usage[] =
    "usage: lockprof top [OPTIONS] FILE...\n"
    "\n"
    "Prints the heaviest functions of a contention profile (lockprof's, or Go's block and\n"
    "mutex profiles) or of a CPU profile (lockprof's or Go's: samples and CPU time),\n"
    "gzip-compressed or not ('-' reads standard input), the way 'go tool pprof -top'\n"
    "does, then the heaviest stacks. Given a CPU profile and a block profile (of one\n"
    "run), it prints per function the CPU time and the time threads waited, side by\n"
    "side (leaving out waits lockprof does not see and time runnable but not running;\n"
    "-n applies, --by and --stacks do not). A mutex profile is shown on its own: Go's\n"
    "files do not say which they are, and one whose stacks begin at an unlock\n"
    "(sync.(*Mutex).Unlock) is taken for a mutex profile.\n"
    "  flat = samples whose leaf frame is the function. In lockprof's profiles the leaf\n"
    "         is the blocking call itself (pthread_mutex_lock, pthread_cond_wait, ...).\n"
    "  cum  = samples whose stack contains the function anywhere.\n"
    "Each profile is read within " TOP_STR(LP_PROFREAD_LIMIT_MIB) " MiB of memory "
    "(decompressed, decoded and indexed) and\n"
    "67108864 frames (each location a sample lists, a frame per line): one that needs more\n"
    "is refused, as is a negative value. Sums stop at 2^63-1. A stack shows at most "
    TOP_STR(TOP_STACK_FRAMES) "\n"
    "frames, and a name in it or a comment at most " TOP_STR(TOP_TEXT_MAX) " bytes; the header "
    "at most " TOP_STR(TOP_COMMENTS) "\n"
    "comments. Names from the file are printed with control characters escaped (\\x1b),\n"
    "C++ and Rust names demangled (as c++filt -i shows them).\n"
    "\n"
    "options:\n"
    "  -n N                     show the N heaviest functions (default 20, 0 = all)\n"
    "  --by delay|contentions   sort by time waited (default) or by number of waits\n"
    "                           (in a CPU profile: by CPU time or by samples)\n"
    "  --stacks                 show the N heaviest stacks (default: the 5 heaviest)\n"
    "  -h, --help               show this help\n";
/* The frames top_usage states. */
_Static_assert(LP_PROFREAD_MAX_FRAMES == 67108864, "top_usage states another frame limit");

struct top_stack {
    const Lockprof__Pprof__Sample *first; /* its frames */
    int64_t v[2];
};

/* The report's arrays are counted in the profile's limit (profread.h). */
_Static_assert(sizeof(struct top_stack) + sizeof(Lockprof__Pprof__Sample *) <=
                   LP_PROFREAD_PER_SAMPLE, "top_stacks' arrays exceed LP_PROFREAD_PER_SAMPLE");
_Static_assert(sizeof(uint32_t) <= LP_PROFREAD_PER_NAME,
               "top_functions' array exceeds LP_PROFREAD_PER_NAME");

/* A duration in ns as pprof would write it: 3 significant digits, ns to hours. */
static void top_fmt_ns(char *buf, size_t size, int64_t ns)
{
    static const struct { double div; const char *unit; } units[] = {
        { 1e0, "ns" }, { 1e3, "µs" }, { 1e6, "ms" }, { 1e9, "s" }, { 60e9, "min" },
        { 3600e9, "h" },
    };
    double v = (double)ns, a = v < 0 ? -v : v;
    size_t u = 0;
    if (a >= 1000)
        u = a < 1e6 ? 1 : a < 1e9 ? 2 : a < 60e9 ? 3 : a < 3600e9 ? 4 : 5;
    double x = v / units[u].div, ax = x < 0 ? -x : x;
    if (ns == 0)
        snprintf(buf, size, "0");
    else if (u == 0)
        snprintf(buf, size, "%" PRId64 "ns", ns);
    else
        snprintf(buf, size, "%.*f%s", ax < 10 ? 2 : ax < 100 ? 1 : 0, x, units[u].unit);
}

static void top_fmt_value(char *buf, size_t size, int by, int64_t v)
{
    if (by == 1)
        top_fmt_ns(buf, size, v);
    else
        snprintf(buf, size, "%" PRId64, v);
}

/* Prints s right-aligned in width columns (UTF-8 aware: µ is one column, two bytes), after
 * at least one blank, so that a number wider than its column stays apart from the last. */
static void top_put_right(FILE *out, const char *s, int width)
{
    int cols = 0;
    for (const char *p = s; *p; p++)
        cols += ((unsigned char)*p & 0xc0) != 0x80;
    do
        fputc(' ', out);
    while (++cols < width);
    fputs(s, out);
}

/* Prints a string from the profile (or the command line) with its control characters
 * escaped: a profile is not to drive the terminal. */
static void top_put_name(FILE *out, const char *s)
{
    char *e = lp_cli_escape(s);
    fputs(e, out);
    free(e);
}

/* The same, of at most TOP_TEXT_MAX bytes of s: for what a profile can repeat. */
static void top_put_text(FILE *out, const char *s)
{
    char *e = lp_cli_escape_max(s, TOP_TEXT_MAX);
    fputs(e, out);
    free(e);
}

/* The part of path after its last '/'. Looked for among the first PATH_MAX bytes only, as a
 * path longer than that names no file, so that a long one costs no more to print than a
 * short one. */
static const char *top_base_name(const char *path)
{
    const char *slash = memrchr(path, '/', strnlen(path, PATH_MAX));
    return slash ? slash + 1 : path;
}

static double top_pct(int64_t part, int64_t total)
{
    return total ? 100.0 * (double)part / (double)total : 0.0;
}

static void top_put_pct(FILE *out, double pct, int width)
{
    char b[32];
    snprintf(b, sizeof b, "%.2f%%", pct);
    top_put_right(out, b, width);
}

struct top_sort {
    const struct lp_profread_name *names;
    int by;
};

static int top_cmp_name(const void *a, const void *b, void *arg)
{
    const struct top_sort *ts = arg;
    const struct lp_profread_name *x = &ts->names[*(const uint32_t *)a];
    const struct lp_profread_name *y = &ts->names[*(const uint32_t *)b];
    int by = ts->by, other = 1 - by;
    if (x->flat[by] != y->flat[by])
        return x->flat[by] > y->flat[by] ? -1 : 1;
    if (x->flat[other] != y->flat[other])
        return x->flat[other] > y->flat[other] ? -1 : 1;
    if (x->cum[by] != y->cum[by])
        return x->cum[by] > y->cum[by] ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int top_cmp_stack_ids(const Lockprof__Pprof__Sample *a, const Lockprof__Pprof__Sample *b)
{
    if (a->n_location_id != b->n_location_id)
        return a->n_location_id < b->n_location_id ? -1 : 1;
    for (size_t i = 0; i < a->n_location_id; i++)
        if (a->location_id[i] != b->location_id[i])
            return a->location_id[i] < b->location_id[i] ? -1 : 1;
    return 0;
}

static int top_cmp_sample_ptr(const void *a, const void *b)
{
    return top_cmp_stack_ids(*(Lockprof__Pprof__Sample *const *)a,
                             *(Lockprof__Pprof__Sample *const *)b);
}

static int top_cmp_stack(const void *a, const void *b, void *arg)
{
    const struct top_stack *x = a, *y = b;
    int by = *(const int *)arg, other = 1 - by;
    if (x->v[by] != y->v[by])
        return x->v[by] > y->v[by] ? -1 : 1;
    if (x->v[other] != y->v[other])
        return x->v[other] > y->v[other] ? -1 : 1;
    return top_cmp_stack_ids(x->first, y->first);
}

static void top_header(FILE *out, const struct lp_profread *r, const char *path)
{
    const Lockprof__Pprof__Profile *p = r->p;
    char d[32];
    fputs("File: ", out);
    top_put_name(out, path);
    fputc('\n', out);
    for (size_t i = 0; i < p->n_comment && i < TOP_COMMENTS; i++) {
        fputs("Comment: ", out);
        top_put_text(out, lp_profread_str(p, p->comment[i]));
        fputc('\n', out);
    }
    if (p->n_comment > TOP_COMMENTS)
        fprintf(out, "Comment: … %zu more\n", p->n_comment - TOP_COMMENTS);
    if (p->time_nanos > 0) {
        time_t t = (time_t)(p->time_nanos / 1000000000);
        struct tm tm;
        char when[64];
        if (localtime_r(&t, &tm) && strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", &tm))
            fprintf(out, "Time: %s\n", when);
    }
    if (p->duration_nanos > 0) {
        top_fmt_ns(d, sizeof d, p->duration_nanos);
        fprintf(out, "Duration: %s\n", d);
    }
    top_fmt_ns(d, sizeof d, r->total[1]);
    if (r->cpu)
        fprintf(out, "Total: %" PRId64 " sample%s, %s CPU time, in %zu stack%s\n", r->total[0],
                r->total[0] == 1 ? "" : "s", d, p->n_sample, p->n_sample == 1 ? "" : "s");
    else
        fprintf(out, "Total: %" PRId64 " contention%s, %s delay, in %zu sample%s\n",
                r->total[0], r->total[0] == 1 ? "" : "s", d, p->n_sample,
                p->n_sample == 1 ? "" : "s");
    if (r->saturated)
        fprintf(out, "Note: the values add up to more than %" PRId64 "; the sums stop there\n",
                INT64_MAX);
}

/* What the two values are called: in a contention profile, and in a CPU profile. */
static const char *const top_what[2] = { "contentions", "delay" };
static const char *const top_col[2] = { "cont", "delay" };
static const char *const top_cpu_what[2] = { "samples", "CPU time" };
static const char *const top_cpu_col[2] = { "samp", "cpu" };

static void top_functions(FILE *out, const struct lp_profread *r, const struct lp_top_opts *o)
{
    int by = o->by, other = 1 - by;
    const char *const *what = r->cpu ? top_cpu_what : top_what;
    const char *const *col = r->cpu ? top_cpu_col : top_col;
    uint32_t *order = lp_cli_xmalloc(r->nnames * sizeof *order);
    size_t n = 0;
    for (size_t i = 0; i < r->nnames; i++)
        if (r->names[i].cum[0] || r->names[i].cum[1])
            order[n++] = (uint32_t)i;
    struct top_sort ts = { r->names, by };
    qsort_r(order, n, sizeof *order, top_cmp_name, &ts);
    size_t shown = o->n && o->n < n ? o->n : n;

    fprintf(out, "Showing the top %zu of %zu functions, by flat %s (flat: the leaf frame; cum: "
            "anywhere in the stack)\n", shown, n, what[by]);
    char h1[16], h2[16];
    snprintf(h1, sizeof h1, "flat %s", col[by]);
    snprintf(h2, sizeof h2, "cum %s", col[by]);
    fprintf(out, "%10s", h1);
    fprintf(out, "  flat%%    sum%%");
    top_put_right(out, h2, 11);
    fprintf(out, "    cum%%");
    snprintf(h1, sizeof h1, "flat %s", col[other]);
    snprintf(h2, sizeof h2, "cum %s", col[other]);
    top_put_right(out, h1, 12);
    top_put_right(out, h2, 11);
    fprintf(out, "  function\n");

    int64_t sum = 0;
    for (size_t i = 0; i < shown; i++) {
        const struct lp_profread_name *t = &r->names[order[i]];
        char b[48];
        sum = lp_profread_add(sum, t->flat[by], NULL);
        top_fmt_value(b, sizeof b, by, t->flat[by]);
        top_put_right(out, b, 10);
        top_put_pct(out, top_pct(t->flat[by], r->total[by]), 8);
        top_put_pct(out, top_pct(sum, r->total[by]), 8);
        top_fmt_value(b, sizeof b, by, t->cum[by]);
        top_put_right(out, b, 11);
        top_put_pct(out, top_pct(t->cum[by], r->total[by]), 8);
        top_fmt_value(b, sizeof b, other, t->flat[other]);
        top_put_right(out, b, 12);
        top_fmt_value(b, sizeof b, other, t->cum[other]);
        top_put_right(out, b, 11);
        fputs("  ", out);
        top_put_name(out, t->name);
        fputc('\n', out);
    }
    free(order);
}

static void top_stacks(FILE *out, const struct lp_profread *r, const struct lp_top_opts *o)
{
    const Lockprof__Pprof__Profile *p = r->p;
    int by = o->by, other = 1 - by;
    const char *const *what = r->cpu ? top_cpu_what : top_what;

    /* Samples with the same stack (they differ by labels) count as one stack. */
    Lockprof__Pprof__Sample **s = lp_cli_xmalloc(p->n_sample * sizeof *s);
    if (p->n_sample)
        memcpy(s, p->sample, p->n_sample * sizeof *s);
    qsort(s, p->n_sample, sizeof *s, top_cmp_sample_ptr);
    struct top_stack *st = lp_cli_xcalloc(p->n_sample, sizeof *st);
    size_t n = 0;
    for (size_t i = 0; i < p->n_sample; i++) {
        int64_t v[2];
        if (n == 0 || top_cmp_stack_ids(st[n - 1].first, s[i]) != 0)
            st[n++].first = s[i];
        lp_profread_values(r, s[i], v);
        st[n - 1].v[0] = lp_profread_add(st[n - 1].v[0], v[0], NULL);
        st[n - 1].v[1] = lp_profread_add(st[n - 1].v[1], v[1], NULL);
    }
    qsort_r(st, n, sizeof *st, top_cmp_stack, &by);
    size_t limit = o->stacks ? (o->n ? o->n : n) : TOP_DEFAULT_STACKS;
    size_t shown = limit < n ? limit : n;

    fprintf(out, "\nHeaviest stacks (the top %zu of %zu, by %s; leaf first):\n", shown, n,
            what[by]);
    for (size_t i = 0; i < shown; i++) {
        char b1[48], b2[48];
        top_fmt_ns(b1, sizeof b1, st[i].v[1]);
        snprintf(b2, sizeof b2, "%" PRId64 " %s%s", st[i].v[0],
                 r->cpu ? "sample" : "contention", st[i].v[0] == 1 ? "" : "s");
        fprintf(out, "%s%5zu. %s (%.2f%%), %s (%.2f%%)\n", i ? "\n" : "", i + 1,
                by == 1 ? b1 : b2, top_pct(st[i].v[by], r->total[by]),
                by == 1 ? b2 : b1, top_pct(st[i].v[other], r->total[other]));
        size_t printed = 0, more = 0;
        for (size_t k = 0; k < st[i].first->n_location_id; k++) {
            const struct lp_profread_loc *l = lp_profread_find_loc(r, st[i].first->location_id[k]);
            for (size_t f = 0; f < l->nframes; f++) {
                const struct lp_profread_frame *fr = &l->frames[f];
                if (printed == TOP_STACK_FRAMES) {
                    more += l->nframes - f;
                    break;
                }
                printed++;
                fputs("        ", out);
                top_put_text(out, r->names[fr->name].name);
                fputs(fr->inlined ? " (inline)" : "", out);
                if (fr->file && fr->line > 0) {
                    fputs("  ", out);
                    top_put_text(out, top_base_name(fr->file));
                    fprintf(out, ":%" PRId64, fr->line);
                }
                fputc('\n', out);
            }
        }
        if (more)
            fprintf(out, "        … %zu more frame%s\n", more, more == 1 ? "" : "s");
    }
    free(st);
    free(s);
}

void lp_top_report(FILE *out, const struct lp_profread *r, const char *path,
                   const struct lp_top_opts *o)
{
    top_header(out, r, path);
    if (r->p->n_sample == 0) {
        fprintf(out, "No samples: nothing was recorded (the comments above say what was in "
                "force)\n");
    } else {
        top_functions(out, r, o);
        top_stacks(out, r, o);
    }
}

/* One function of the side-by-side report: its CPU time and its waits (flat, cum). */
struct top_both {
    const char *name;
    int64_t cpu_flat, cpu_cum, wait_flat, wait_cum;
};

static int top_cmp_both_name(const void *a, const void *b)
{
    return strcmp(((const struct top_both *)a)->name, ((const struct top_both *)b)->name);
}

static int top_cmp_both(const void *a, const void *b)
{
    const struct top_both *x = a, *y = b;
    int64_t fx = lp_profread_add(x->cpu_flat, x->wait_flat, NULL);
    int64_t fy = lp_profread_add(y->cpu_flat, y->wait_flat, NULL);
    if (fx != fy)
        return fx > fy ? -1 : 1;
    int64_t cx = lp_profread_add(x->cpu_cum, x->wait_cum, NULL);
    int64_t cy = lp_profread_add(y->cpu_cum, y->wait_cum, NULL);
    if (cx != cy)
        return cx > cy ? -1 : 1;
    return strcmp(x->name, y->name);
}

void lp_top_side_by_side(FILE *out, const struct lp_profread *cpu, const char *cpu_path,
                         const struct lp_profread *blk, const char *blk_path,
                         const struct lp_top_opts *o)
{
    char d1[32], d2[32];
    fputs("CPU profile:   ", out);
    top_put_name(out, cpu_path);
    fputs("\nBlock profile: ", out);
    top_put_name(out, blk_path);
    top_fmt_ns(d1, sizeof d1, cpu->total[1]);
    top_fmt_ns(d2, sizeof d2, blk->total[1]);
    fprintf(out, "\nTotal: %s on CPU (%" PRId64 " sample%s), %s waited (%" PRId64
            " contention%s)\n", d1, cpu->total[0], cpu->total[0] == 1 ? "" : "s", d2,
            blk->total[0], blk->total[0] == 1 ? "" : "s");
    fputs("Left out: waits lockprof does not interpose, and time runnable but not running.\n",
          out);

    size_t n = cpu->nnames + blk->nnames, k = 0;
    struct top_both *t = lp_cli_xcalloc(n ? n : 1, sizeof *t);
    for (size_t i = 0; i < cpu->nnames; i++)
        t[k++] = (struct top_both){ cpu->names[i].name, cpu->names[i].flat[1],
                                    cpu->names[i].cum[1], 0, 0 };
    for (size_t i = 0; i < blk->nnames; i++)
        t[k++] = (struct top_both){ blk->names[i].name, 0, 0, blk->names[i].flat[1],
                                    blk->names[i].cum[1] };
    /* One row per name: the CPU profile's and the block profile's merged. */
    qsort(t, k, sizeof *t, top_cmp_both_name);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m && strcmp(t[m - 1].name, t[i].name) == 0) {
            t[m - 1].cpu_flat = lp_profread_add(t[m - 1].cpu_flat, t[i].cpu_flat, NULL);
            t[m - 1].cpu_cum = lp_profread_add(t[m - 1].cpu_cum, t[i].cpu_cum, NULL);
            t[m - 1].wait_flat = lp_profread_add(t[m - 1].wait_flat, t[i].wait_flat, NULL);
            t[m - 1].wait_cum = lp_profread_add(t[m - 1].wait_cum, t[i].wait_cum, NULL);
        } else if (t[i].cpu_cum || t[i].wait_cum) {
            t[m++] = t[i];
        }
    }
    qsort(t, m, sizeof *t, top_cmp_both);
    size_t shown = o->n && o->n < m ? o->n : m;
    fprintf(out, "Showing the top %zu of %zu functions, by flat CPU time + flat waits (flat: the "
            "leaf frame; cum: anywhere in the stack)\n", shown, m);
    fprintf(out, "  cpu flat   cpu cum   waited flat  waited cum  function\n");
    for (size_t i = 0; i < shown; i++) {
        char b[48];
        top_fmt_ns(b, sizeof b, t[i].cpu_flat);
        top_put_right(out, b, 10);
        top_fmt_ns(b, sizeof b, t[i].cpu_cum);
        top_put_right(out, b, 10);
        top_fmt_ns(b, sizeof b, t[i].wait_flat);
        top_put_right(out, b, 14);
        top_fmt_ns(b, sizeof b, t[i].wait_cum);
        top_put_right(out, b, 12);
        fputs("  ", out);
        top_put_name(out, t[i].name);
        fputc('\n', out);
    }
    free(t);
}

/* Reports path, which lp_profread_open read into r (rc, err: what it returned and said), and
 * closes it. 0, or LP_CLI_USAGE after a one-line error. */
static int top_report_read(const char *path, struct lp_profread *r, int rc, char *err,
                           const struct lp_top_opts *o, bool *printed)
{
    int status = LP_CLI_USAGE;
    if (rc < 0) {
        char *name = lp_cli_escape(path);
        lp_cli_message("top", "%s: %s", name, err);
        free(name);
    } else {
        if (*printed)
            putchar('\n');
        *printed = true;
        lp_top_report(stdout, r, path, o);
        fflush(stdout);
        status = 0;
    }
    free(err);
    lp_profread_close(r);
    return status;
}

/* Reports one file. 0, or LP_CLI_USAGE after a one-line error. */
static int top_one(const char *path, const struct lp_top_opts *o, bool *printed)
{
    struct lp_profread r;
    char *err = NULL;
    int rc = lp_profread_open(&r, path, &err);
    return top_report_read(path, &r, rc, err, o, printed);
}

/* Two files, each read once: a CPU profile and a block profile (of one run) side by side,
 * anything else one by one. 0, or LP_CLI_USAGE after a one-line error. */
static int top_two(char *const files[2], const struct lp_top_opts *o, bool *printed)
{
    struct lp_profread r[2];
    char *err[2] = { NULL, NULL };
    int rc[2];
    enum lp_profread_kind kind[2] = { LP_PROFREAD_MUTEX, LP_PROFREAD_MUTEX };
    for (int i = 0; i < 2; i++) {
        rc[i] = lp_profread_open(&r[i], files[i], &err[i]);
        if (rc[i] >= 0)
            kind[i] = lp_profread_kind(&r[i]);
    }
    if ((kind[0] == LP_PROFREAD_CPU && kind[1] == LP_PROFREAD_BLOCK) ||
        (kind[0] == LP_PROFREAD_BLOCK && kind[1] == LP_PROFREAD_CPU)) {
        int c = kind[0] == LP_PROFREAD_CPU ? 0 : 1;
        lp_top_side_by_side(stdout, &r[c], files[c], &r[1 - c], files[1 - c], o);
        fflush(stdout);
        for (int i = 0; i < 2; i++)
            lp_profread_close(&r[i]);
        return 0;
    }
    int status = top_report_read(files[0], &r[0], rc[0], err[0], o, printed);
    if (top_report_read(files[1], &r[1], rc[1], err[1], o, printed) != 0)
        status = LP_CLI_USAGE;
    return status;
}

int cmd_top(int argc, char **argv)
{
    struct lp_top_opts o = { .n = TOP_DEFAULT_N, .by = 1, .stacks = false };
    /* (Held in a static too: a usage error exits with it still reachable, not leaked.) */
    static char **volatile top_files;
    char **files = top_files = lp_cli_xcalloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    bool opts_done = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (opts_done || a[0] != '-' || a[1] == '\0') {
            files[nfiles++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            opts_done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(top_usage, stdout);
            free(files);
            return 0;
        } else if (strcmp(a, "--stacks") == 0) {
            o.stacks = true;
        } else if ((v = lp_cli_opt_value("top", argc, argv, &i, "--by", NULL))) {
            if (strcmp(v, "delay") == 0)
                o.by = 1;
            else if (strcmp(v, "contentions") == 0)
                o.by = 0;
            else
                lp_cli_usage_error("top", "--by '%s': expected delay or contentions", v);
        } else if ((v = lp_cli_opt_value("top", argc, argv, &i, "--nodes", "-n"))) {
            uint64_t n;
            if (!lp_cli_parse_whole(v, SIZE_MAX / 2, &n))
                lp_cli_usage_error("top", "-n '%s': expected a whole number", v);
            o.n = (size_t)n;
        } else {
            lp_cli_usage_error("top", "unknown option '%s'", a);
        }
    }
    if (nfiles == 0)
        lp_cli_usage_error("top", "no profile to read");

    int status = 0;
    bool printed = false;
    if (nfiles == 2) {
        status = top_two(files, &o, &printed);
        free(files);
        if (fflush(stdout) != 0 || ferror(stdout))
            lp_cli_fail(LP_CLI_USAGE, "top", "writing the report: %s", strerror(errno));
        return status;
    }
    for (size_t i = 0; i < nfiles; i++)
        if (top_one(files[i], &o, &printed) != 0)
            status = LP_CLI_USAGE;
    free(files);
    if (fflush(stdout) != 0 || ferror(stdout))
        lp_cli_fail(LP_CLI_USAGE, "top", "writing the report: %s", strerror(errno));
    return status;
}

