/* resolve.c — see resolve.h. With library.c and unwind.c, the only files that use dlfcn. */
#include <dlfcn.h>
#include <stdbool.h>

#include "log.h"
#include "sys.h"
#include "resolve.h"

/* The pointers the constructor sets, and those a shell sets and its children read, are with
 * the rest of what every process touches at start. */
#define LP_SYM(ret, name, params) ret(*real_##name) params;
#define LP_SYM_VF(ret, name, params) LP_INIT_DATA ret(*real_##name) params;
#define LP_SYM_AS(ret, name, params) LP_INIT_DATA ret(*real_##name) params;
#define LP_SYM_V(ret, name, tag, version, params) ret(*real_##name##_##tag) params;
#include "symbols.def"
#undef LP_SYM
#undef LP_SYM_VF
#undef LP_SYM_AS
#undef LP_SYM_V

/* Names held, not pointed to: a table of pointers is relocated by the loader at every start. */
const char lp_call_leaf[LP_NCALLS][LP_CALL_LEAF_MAX] = {
#define LP_SYM(ret, name, params) [LP_CALL_##name] = #name,
#define LP_SYM_V(ret, name, tag, version, params) [LP_CALL_##name##_##tag] = #name,
#include "symbols.def"
#undef LP_SYM
#undef LP_SYM_V
};

/* glibc's own entry points, for a lookup that re-enters itself. Since 2.34 they are compat
 * symbols (GLIBC_2.2.5, not default), so they are bound by version. */
__asm__(".symver glibc_mutex_lock, __pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_trylock, __pthread_mutex_trylock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_unlock, __pthread_mutex_unlock@GLIBC_2.2.5");
extern int glibc_mutex_lock(pthread_mutex_t *);
extern int glibc_mutex_trylock(pthread_mutex_t *);
extern int glibc_mutex_unlock(pthread_mutex_t *);

static __thread int resolve_depth __attribute__((tls_model("initial-exec")));

/* Where call id's pointer is, and the name and version (NULL: any) to look it up by. A switch
 * rather than a table: a table of pointers is relocated by the loader in every process. */
LP_INIT_TEXT static void **resolve_slot(enum lp_call_id id, const char **name, const char **version)
{
    switch (id) {
#define LP_SYM(ret, n, params)                                                                 \
    case LP_CALL_##n:                                                                          \
        *name = #n;                                                                            \
        *version = NULL;                                                                       \
        return (void **)&real_##n;
#define LP_SYM_V(ret, n, tag, v, params)                                                       \
    case LP_CALL_##n##_##tag:                                                                  \
        *name = #n;                                                                            \
        *version = v;                                                                          \
        return (void **)&real_##n##_##tag;
#include "symbols.def"
#undef LP_SYM
#undef LP_SYM_V
    case LP_NCALLS:
        break;
    }
    return NULL;
}

/* A lookup that re-enters lockprof this deep gives up (NULL) rather than recurse for ever. */
#define RESOLVE_MAX_DEPTH 3

LP_INIT_TEXT void *lp_resolve(enum lp_call_id id)
{
    const char *name = "", *version = NULL;
    void **slot = resolve_slot(id, &name, &version);
    if (resolve_depth) {
        /* Inside dlsym (an allocator that locks): glibc's own entry points, for this call
         * only; the next definition may be another library's, stored by the next lookup. */
        if (id == LP_CALL_pthread_mutex_lock)
            return (void *)glibc_mutex_lock;
        if (id == LP_CALL_pthread_mutex_trylock)
            return (void *)glibc_mutex_trylock;
        if (id == LP_CALL_pthread_mutex_unlock)
            return (void *)glibc_mutex_unlock;
        if (resolve_depth >= RESOLVE_MAX_DEPTH)
            return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    }
    resolve_depth++;
    /* A store of a pointer is atomic on x86-64; racing resolvers store the same value. */
    void *p = version ? dlvsym(RTLD_NEXT, name, version) : dlsym(RTLD_NEXT, name);
    resolve_depth--;
    if (p)
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    else if (!(p = __atomic_load_n(slot, __ATOMIC_ACQUIRE)))
        lp_log_sigsafe("cannot find the next definition of %s%s%s", name, version ? "@" : "",
                       version ? version : "");
    return p;
}

/* Which calls a pass resolves: a mark of symbols.def, or all. */
enum resolve_set { RESOLVE_VFORK_SAFE, RESOLVE_SIGNAL_SAFE, RESOLVE_ALL };

/* Resolves every call of set still unresolved. */
LP_INIT_TEXT static void resolve_set(enum resolve_set set)
{
#define RESOLVE_IF(in_set, id, ptr)                                                            \
    if ((in_set) && !(ptr))                                                                    \
        lp_resolve(id);
#define LP_SYM(ret, name, params) RESOLVE_IF(set == RESOLVE_ALL, LP_CALL_##name, real_##name)
#define LP_SYM_VF(ret, name, params)                                                           \
    RESOLVE_IF(set != RESOLVE_SIGNAL_SAFE, LP_CALL_##name, real_##name)
#define LP_SYM_AS(ret, name, params)                                                           \
    RESOLVE_IF(set != RESOLVE_VFORK_SAFE, LP_CALL_##name, real_##name)
#define LP_SYM_V(ret, name, tag, version, params)                                              \
    RESOLVE_IF(set == RESOLVE_ALL, LP_CALL_##name##_##tag, real_##name##_##tag)
#include "symbols.def"
#undef LP_SYM
#undef LP_SYM_VF
#undef LP_SYM_AS
#undef LP_SYM_V
#undef RESOLVE_IF
}

static bool resolve_all_done; /* atomic */

void lp_resolve_all(void)
{
    if (__atomic_load_n(&resolve_all_done, __ATOMIC_ACQUIRE))
        return;
    resolve_set(RESOLVE_ALL);
    __atomic_store_n(&resolve_all_done, true, __ATOMIC_RELEASE);
}

LP_INIT_TEXT void lp_resolve_vfork_safe(void)
{
    resolve_set(RESOLVE_VFORK_SAFE);
}

LP_INIT_DATA static uint32_t resolve_signal_safe_done; /* atomic */

LP_FORK_TEXT void lp_resolve_signal_safe(void)
{
    if (__atomic_load_n(&resolve_signal_safe_done, __ATOMIC_ACQUIRE))
        return;
    resolve_set(RESOLVE_SIGNAL_SAFE);
    __atomic_store_n(&resolve_signal_safe_done, 1, __ATOMIC_RELEASE);
}
