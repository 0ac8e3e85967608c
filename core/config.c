/* config.c — the one table of lockprof's environment variables (DESIGN §4). */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "log.h"

enum config_type { CONFIG_U64, CONFIG_BOOL, CONFIG_PATH };

struct config_var {
    const char *name;
    enum config_type type;
    size_t offset;
    uint64_t def, min, max; /* numbers and booleans */
    const char *def_str;    /* paths */
    const char *meaning;
};

/*
 * The defaults. Block rate 10 µs: every wait of 10 µs or more is recorded exactly, shorter
 * ones are sampled in proportion to their length (expected totals stay exact), which keeps
 * the cost of the many sub-microsecond waits of a busy mutex low. Mutex fraction 10: a
 * release that made others wait is unwound one time in ten (the unwind is most of its cost);
 * weights are pre-scaled, so totals stay unbiased. Issue #5 measures and revisits both.
 */
#define CONFIG_DEFAULT_OUT "lockprof.%p"

static const struct config_var config_vars[] = {
    { "LOCKPROF_BLOCK_RATE", CONFIG_U64, offsetof(struct lp_config, block_rate),
      10000, 0, 1000000000000ULL, NULL,
      "block profile rate in ns: 0 off, 1 every wait, N one wait per N ns waited" },
    { "LOCKPROF_MUTEX_FRACTION", CONFIG_U64, offsetof(struct lp_config, mutex_fraction),
      10, 0, 1000000000ULL, NULL, "mutex profile: 0 off, n one charge in n" },
    { "LOCKPROF_STACK_DEPTH", CONFIG_U64, offsetof(struct lp_config, stack_depth),
      64, 1, 512, NULL, "frames kept per stack" },
    { "LOCKPROF_MAX_STACKS", CONFIG_U64, offsetof(struct lp_config, max_stacks),
      65536, 64, 4194304, NULL, "distinct stacks kept, both profiles together" },
    { "LOCKPROF_LOCK_STRIPES", CONFIG_U64, offsetof(struct lp_config, lock_stripes),
      1024, 16, 1048576, NULL, "stripes of the table of locks with waiters (6 locks each)" },
    { "LOCKPROF_SHOW_CONFIG", CONFIG_BOOL, offsetof(struct lp_config, show_config),
      0, 0, 1, NULL, "print these settings at start" },
    { "LOCKPROF_OUT", CONFIG_PATH, offsetof(struct lp_config, out),
      0, 0, 0, CONFIG_DEFAULT_OUT, "output prefix (%p pid, %t start time)" },
};

static bool config_parse_u64(const char *s, uint64_t *out)
{
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* The value as echoed in a message: long ones are cut (the message must stay one line). */
static const char *config_echo(const char *value, char *buf, size_t size)
{
    size_t keep = size - 4;
    if (strlen(value) <= keep)
        return value;
    memcpy(buf, value, keep);
    memcpy(buf + keep, "...", 4);
    return buf;
}

static void config_reject(const struct config_var *v, const char *raw)
{
    char cut[104];
    const char *value = config_echo(raw, cut, sizeof cut);
    switch (v->type) {
    case CONFIG_U64:
        lp_log_sigsafe("%s='%s': expected a whole number from %llu to %llu; using %llu", v->name,
                       value, (unsigned long long)v->min, (unsigned long long)v->max,
                       (unsigned long long)v->def);
        break;
    case CONFIG_BOOL:
        lp_log_sigsafe("%s='%s': expected 0 or 1; using %llu", v->name, value,
                       (unsigned long long)v->def);
        break;
    case CONFIG_PATH:
        lp_log_sigsafe("%s='%s': expected a path prefix shorter than %d bytes, with only %%p, "
                       "%%t or %%%% after a %%; using %s", v->name, value, LP_PATH_MAX / 2,
                       v->def_str);
        break;
    }
}

static bool config_path_ok(const char *s)
{
    if (!*s || strlen(s) >= LP_PATH_MAX / 2)
        return false;
    for (; *s; s++)
        if (*s == '%') {
            s++;
            if (*s != 'p' && *s != 't' && *s != '%')
                return false;
        }
    return true;
}

void lp_config_load(struct lp_config *c, const char *(*getenv_fn)(const char *))
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof config_vars / sizeof config_vars[0]; i++) {
        const struct config_var *v = &config_vars[i];
        char *field = (char *)c + v->offset;
        const char *value = getenv_fn ? getenv_fn(v->name) : NULL;
        uint64_t n;
        switch (v->type) {
        case CONFIG_U64:
        case CONFIG_BOOL:
            n = v->def;
            if (value && !(config_parse_u64(value, &n) && n >= v->min && n <= v->max)) {
                config_reject(v, value);
                n = v->def;
            }
            if (v->type == CONFIG_BOOL)
                *(bool *)field = n != 0;
            else
                *(uint64_t *)field = n;
            break;
        case CONFIG_PATH:
            if (value && !config_path_ok(value)) {
                config_reject(v, value);
                value = NULL;
            }
            strncpy(field, value ? value : v->def_str, LP_PATH_MAX - 1);
            break;
        }
    }
}

void lp_config_show(const struct lp_config *c)
{
    for (size_t i = 0; i < sizeof config_vars / sizeof config_vars[0]; i++) {
        const struct config_var *v = &config_vars[i];
        const char *field = (const char *)c + v->offset;
        switch (v->type) {
        case CONFIG_U64:
            lp_log_sigsafe("%s=%llu (%s)", v->name, (unsigned long long)*(const uint64_t *)field,
                           v->meaning);
            break;
        case CONFIG_BOOL:
            lp_log_sigsafe("%s=%d (%s)", v->name, *(const bool *)field ? 1 : 0, v->meaning);
            break;
        case CONFIG_PATH:
            lp_log_sigsafe("%s=%s (%s)", v->name, field, v->meaning);
            break;
        }
    }
}

int lp_config_expand_out(char *dst, unsigned size, const char *prefix, long pid, long start,
                         const char *cwd)
{
    size_t n = 0;
    char num[32];
    if (prefix[0] != '/') {
        size_t l = strlen(cwd);
        if (l + 2 >= size)
            return -ENAMETOOLONG;
        memcpy(dst, cwd, l);
        n = l;
        if (n == 0 || dst[n - 1] != '/')
            dst[n++] = '/';
    }
    for (const char *p = prefix; *p; p++) {
        const char *piece = p;
        size_t len = 1;
        if (*p == '%') {
            p++;
            if (*p == 'p' || *p == 't') {
                len = lp_fmt_sigsafe(num, sizeof num, "%ld", *p == 'p' ? pid : start);
                piece = num;
            } else if (*p != '%') {
                return -EINVAL;
            } else {
                piece = p;
            }
        }
        if (n + len + 1 > size)
            return -ENAMETOOLONG;
        memcpy(dst + n, piece, len);
        n += len;
    }
    dst[n] = '\0';
    return 0;
}
