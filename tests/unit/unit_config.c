/*
 * unit_config — the manual against the library's one table of variables (core/config.c):
 * every variable the library reads has an entry in lockprof(3)'s ENVIRONMENT with its default
 * and, for a number, its range, as the table has them; every entry there is a variable of the
 * table (or one lockprof sets itself); every LOCKPROF_ name either page mentions exists; both
 * pages carry this version in their title line and lockprof(3) names every function of
 * lockprof.h.
 *
 *   unit_config [LOCKPROF.3 [LOCKPROF.1]]   (default: include/lockprof.3 tools/lockprof.1)
 *
 * An entry is written
 *     .TP
 *     .B LOCKPROF_NAME
 *     Default \fBVALUE\fR; MIN to MAX ...
 * ("Default empty" for an empty default; the range only for numbers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lockprof.h"
#include "tap.h"

/* Variables lockprof sets in a process's environment and reads in the processes it starts
 * (interpose/lifecycle.h's LP_ENV_ORIGIN and LP_ENV_EXEC): documented, not in the table. */
static const char *const lineage_vars[] = { "LOCKPROF_ORIGIN", "LOCKPROF_EXEC" };

/* lockprof.h's other LOCKPROF_ names, which the pages may mention. Each is used below, so a
 * name that leaves the header fails to compile here. */
static const char *const api_names[] = { "LOCKPROF_BLOCK", "LOCKPROF_MUTEX", "LOCKPROF_THREADS",
                                         "LOCKPROF_PPROF", "LOCKPROF_TEXT",  "LOCKPROF_JSON",
                                         "LOCKPROF_VERSION" };
static const int api_values[] = { LOCKPROF_BLOCK, LOCKPROF_MUTEX, LOCKPROF_THREADS,
                                  LOCKPROF_PPROF, LOCKPROF_TEXT,  LOCKPROF_JSON };

static const char *const api_functions[] = {
    "lockprof_version",       "lockprof_set_block_rate", "lockprof_set_mutex_fraction",
    "lockprof_write_profiles", "lockprof_write_profile", "lockprof_snapshot",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* The lines of a page, split in place (each ends at its '\n'). */
struct lines {
    char **v;
    size_t n;
};

static void split(char *text, struct lines *l)
{
    l->n = 0;
    l->v = NULL;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
        l->v[l->n++] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
}

static bool is_var_name(const char *s, size_t len)
{
    if (len <= 9 || strncmp(s, "LOCKPROF_", 9) != 0)
        return false;
    for (size_t i = 9; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static bool in_table(const char *name)
{
    for (size_t i = 0; lp_config_name(i); i++)
        if (strcmp(lp_config_name(i), name) == 0)
            return true;
    return false;
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* The first line of ENVIRONMENT's entry for name (the line after ".B name"), or NULL. */
static const char *entry_of(const struct lines *l, size_t from, size_t to, const char *name)
{
    for (size_t i = from; i + 2 < to; i++)
        if (strcmp(l->v[i], ".TP") == 0 && strncmp(l->v[i + 1], ".B ", 3) == 0 &&
            strcmp(l->v[i + 1] + 3, name) == 0)
            return l->v[i + 2];
    return NULL;
}

/* Every LOCKPROF_ name in text is one the library has. */
static void check_names(const char *page, const char *text)
{
    size_t n = 0, unknown = 0;
    for (const char *p = strstr(text, "LOCKPROF_"); p; p = strstr(p + 1, "LOCKPROF_")) {
        size_t len = 9;
        while ((p[len] >= 'A' && p[len] <= 'Z') || (p[len] >= '0' && p[len] <= '9') ||
               p[len] == '_')
            len++;
        if (len == 9) /* "LOCKPROF_*": the family, not a name */
            continue;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        n++;
        if (!is_var_name(name, strlen(name)) ||
            !(in_table(name) || in_list(name, lineage_vars, N_OF(lineage_vars)) ||
              in_list(name, api_names, N_OF(api_names)))) {
            unknown++;
            diag("%s names %s, which is neither a variable of the library nor in lockprof.h",
                 page, name);
        }
    }
    is_u64(unknown, 0, "%s: every one of its %zu LOCKPROF_ names exists", page, n);
}

/* The page's .TH line carries this version. */
static void check_version(const char *page, const struct lines *l)
{
    const char *th = NULL;
    for (size_t i = 0; i < l->n && !th; i++)
        if (strncmp(l->v[i], ".TH ", 4) == 0)
            th = l->v[i];
    ok(th && strstr(th, "\"lockprof " LOCKPROF_VERSION "\""), "%s: .TH says lockprof %s",
       page, LOCKPROF_VERSION);
    if (th)
        diag("  %s", th);
}

int main(int argc, char **argv)
{
    const char *page3 = argc > 1 ? argv[1] : "include/lockprof.3";
    const char *page1 = argc > 2 ? argv[2] : "tools/lockprof.1";
    char *text3 = slurp(page3), *text1 = slurp(page1);
    if (!ok(text3 && text1, "read %s and %s", page3, page1))
        return done_testing();
    for (size_t i = 0; i < N_OF(api_values); i++)
        (void)api_values[i];

    check_names(page3, text3);
    check_names(page1, text1);
    for (size_t i = 0; i < N_OF(api_functions); i++)
        ok(strstr(text3, api_functions[i]) != NULL, "%s names %s()", page3, api_functions[i]);

    struct lines l3, l1;
    split(text3, &l3);
    split(text1, &l1);
    check_version(page3, &l3);
    check_version(page1, &l1);

    /* ENVIRONMENT: from its .SH to the next .SH. */
    size_t from = l3.n, to = l3.n;
    for (size_t i = 0; i < l3.n; i++) {
        if (from == l3.n && strcmp(l3.v[i], ".SH ENVIRONMENT") == 0)
            from = i + 1;
        else if (from < l3.n && strncmp(l3.v[i], ".SH ", 4) == 0) {
            to = i;
            break;
        }
    }
    if (!ok(from < l3.n, "%s has an ENVIRONMENT section", page3))
        return done_testing();

    /* Every variable of the table: its entry, default and range. */
    size_t nvars = 0;
    for (size_t i = 0; lp_config_name(i); i++, nvars++) {
        const char *name = lp_config_name(i);
        const char *first = entry_of(&l3, from, to, name);
        if (!ok(first != NULL, "%s: an entry in ENVIRONMENT", name)) {
            diag("  expected '.TP', then '.B %s'", name);
            continue;
        }
        char buf[128], want[256];
        const char *def = lp_config_default(name, buf, sizeof buf);
        uint64_t min, max;
        if (!def || !def[0])
            snprintf(want, sizeof want, "Default empty");
        else if (lp_config_range(name, &min, &max))
            snprintf(want, sizeof want, "Default \\fB%s\\fR; %llu to %llu", def,
                     (unsigned long long)min, (unsigned long long)max);
        else
            snprintf(want, sizeof want, "Default \\fB%s\\fR", def);
        if (!ok(strncmp(first, want, strlen(want)) == 0, "%s: default and range as the table's",
                name))
            diag("  the entry begins '%s', expected '%s'", first, want);
    }
    cmp_ok_u64(nvars, ">=", 18, "the table has its variables");

    /* Every entry in ENVIRONMENT: a variable of the table, or one lockprof sets. */
    size_t entries = 0;
    for (size_t i = from; i + 1 < to; i++) {
        if (strcmp(l3.v[i], ".TP") != 0 || strncmp(l3.v[i + 1], ".B LOCKPROF_", 12) != 0)
            continue;
        const char *name = l3.v[i + 1] + 3;
        entries++;
        ok(in_table(name) || in_list(name, lineage_vars, N_OF(lineage_vars)),
           "ENVIRONMENT's %s is a variable the library reads", name);
    }
    is_u64(entries, nvars + N_OF(lineage_vars), "ENVIRONMENT: one entry per variable");

    free(l3.v);
    free(l1.v);
    free(text3);
    free(text1);
    return done_testing();
}
