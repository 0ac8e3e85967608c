/* families.c — see families.h. */
#include "families.h"

#include <string.h>

/* (Names held, not pointed to: a table of pointers is relocated at every start.) */
static const char families_names[LP_NFAMILIES][20] = {
    [LP_FAM_MUTEX] = "mutex",     [LP_FAM_RWLOCK] = "rwlock", [LP_FAM_COND] = "condition",
    [LP_FAM_SEM] = "semaphore",   [LP_FAM_THREAD] = "thread", [LP_FAM_IO] = "pipes and queues",
    [LP_FAM_FUTEX] = "futex",     [LP_FAM_OTHER] = "other",
};

const char *lp_families_name(enum lp_family_id f)
{
    return (unsigned)f < LP_NFAMILIES ? families_names[f] : "other";
}

static int families_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum lp_family_id lp_families_of_leaf(const char *leaf)
{
    if (!leaf)
        return LP_FAM_OTHER;
    if (families_prefix(leaf, "pthread_mutex_") || families_prefix(leaf, "mtx_") ||
        strcmp(leaf, "lockprof::owner_died") == 0)
        return LP_FAM_MUTEX;
    if (families_prefix(leaf, "lockprof::"))
        return LP_FAM_OTHER;
    if (families_prefix(leaf, "pthread_rwlock_"))
        return LP_FAM_RWLOCK;
    if (families_prefix(leaf, "pthread_cond_") || families_prefix(leaf, "cnd_"))
        return LP_FAM_COND;
    if (families_prefix(leaf, "sem_"))
        return LP_FAM_SEM;
    if (families_prefix(leaf, "futex_"))
        return LP_FAM_FUTEX;
    if (families_prefix(leaf, "pthread_join") || families_prefix(leaf, "pthread_timedjoin") ||
        families_prefix(leaf, "pthread_clockjoin") || families_prefix(leaf, "thrd_join") ||
        families_prefix(leaf, "pthread_barrier_"))
        return LP_FAM_THREAD;
    return LP_FAM_IO; /* read, readv, write, writev, mq_*receive, msgrcv */
}

#define FAMILIES_STRIPES 16

/* One cache line per stripe (8 families of 8 bytes). Atomic adds. */
static struct {
    uint64_t n[LP_NFAMILIES];
} __attribute__((aligned(64))) families_seen_[FAMILIES_STRIPES];

_Static_assert(sizeof families_seen_[0] == 64, "a stripe is one cache line");

void lp_families_seen_add(enum lp_family_id f, int32_t tid)
{
    if ((unsigned)f >= LP_NFAMILIES)
        f = LP_FAM_OTHER;
    uint64_t *n = &families_seen_[(uint32_t)tid % FAMILIES_STRIPES].n[f];
    __atomic_fetch_add(n, 1, __ATOMIC_RELAXED);
}

void lp_families_seen(uint64_t out[LP_NFAMILIES])
{
    for (int f = 0; f < LP_NFAMILIES; f++) {
        out[f] = 0;
        for (int s = 0; s < FAMILIES_STRIPES; s++)
            out[f] += __atomic_load_n(&families_seen_[s].n[f], __ATOMIC_RELAXED);
    }
}

void lp_families_atfork_child(void)
{
    memset(families_seen_, 0, sizeof families_seen_);
}
