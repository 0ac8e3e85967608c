/* resolve.c — see resolve.h. With library.c and unwind.c, the only files that use dlfcn. */
#include <dlfcn.h>
#include <stdbool.h>

#include "log.h"
#include "sys.h"
#include "resolve.h"

#define LP_SYM(ret, name, params) ret(*real_##name) params;
#define LP_SYM_V(ret, name, tag, version, params) ret(*real_##name##_##tag) params;
#include "symbols.def"
#undef LP_SYM
#undef LP_SYM_V

const char *const lp_call_leaf[LP_NCALLS] = {
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

LP_INIT_TEXT void lp_resolve_all(void)
{
    if (resolve_depth) {
        if (!real_pthread_mutex_lock)
            real_pthread_mutex_lock = glibc_mutex_lock;
        if (!real_pthread_mutex_trylock)
            real_pthread_mutex_trylock = glibc_mutex_trylock;
        if (!real_pthread_mutex_unlock)
            real_pthread_mutex_unlock = glibc_mutex_unlock;
        return;
    }
    resolve_depth++;
    /* A store of a pointer is atomic on x86-64; racing resolvers store the same value. The
     * re-entrant fallbacks above are replaced by the real next definitions here. */
#define LP_SYM(ret, name, params)                                                              \
    {                                                                                          \
        void *p = dlsym(RTLD_NEXT, #name);                                                     \
        if (p)                                                                                 \
            __atomic_store_n((void **)&real_##name, p, __ATOMIC_RELEASE);                      \
        else if (!real_##name)                                                                 \
            lp_log_sigsafe("cannot find the next definition of %s", #name);                    \
    }
#define LP_SYM_V(ret, name, tag, version, params)                                              \
    {                                                                                          \
        void *p = dlvsym(RTLD_NEXT, #name, version);                                           \
        if (p)                                                                                 \
            __atomic_store_n((void **)&real_##name##_##tag, p, __ATOMIC_RELEASE);              \
        else if (!real_##name##_##tag)                                                         \
            lp_log_sigsafe("cannot find the next definition of %s@%s", #name, version);        \
    }
#include "symbols.def"
#undef LP_SYM
#undef LP_SYM_V
    resolve_depth--;
}
