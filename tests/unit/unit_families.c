/*
 * unit_families — the family of every leaf the profiles can show (core/families.h), and the
 * counts of waits seen: summed over the threads' stripes, and zero again in a new process.
 */
#include "families.h"
#include "stacktab.h"
#include "tap.h"

int main(void)
{
    static const struct {
        const char *leaf;
        enum lp_family_id f;
    } cases[] = {
        { "pthread_mutex_lock", LP_FAM_MUTEX },     { "pthread_mutex_unlock", LP_FAM_MUTEX },
        { "mtx_timedlock", LP_FAM_MUTEX },          { "lockprof::owner_died", LP_FAM_MUTEX },
        { "pthread_rwlock_rdlock", LP_FAM_RWLOCK }, { "pthread_rwlock_unlock", LP_FAM_RWLOCK },
        { "pthread_cond_wait", LP_FAM_COND },       { "cnd_timedwait", LP_FAM_COND },
        { "sem_clockwait", LP_FAM_SEM },            { "pthread_join", LP_FAM_THREAD },
        { "pthread_timedjoin_np", LP_FAM_THREAD },  { "pthread_clockjoin_np", LP_FAM_THREAD },
        { "thrd_join", LP_FAM_THREAD },             { "pthread_barrier_wait", LP_FAM_THREAD },
        { "read", LP_FAM_IO },                      { "writev", LP_FAM_IO },
        { "mq_timedreceive", LP_FAM_IO },           { "msgrcv", LP_FAM_IO },
        { "futex_wait", LP_FAM_FUTEX },             { "futex_lock_pi", LP_FAM_FUTEX },
        { "futex_wake_op", LP_FAM_FUTEX },          { "futex_unlock_pi", LP_FAM_FUTEX },
        { LP_LEAF_TABLE_FULL, LP_FAM_OTHER },       { NULL, LP_FAM_OTHER },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        is_u64(lp_families_of_leaf(cases[i].leaf), cases[i].f, "%s: %s",
               cases[i].leaf ? cases[i].leaf : "NULL", lp_families_name(cases[i].f));
    ok(strcmp(lp_families_name(LP_FAM_IO), "pipes and queues") == 0, "names for comments");

    uint64_t n[LP_NFAMILIES];
    lp_families_seen(n);
    uint64_t total = 0;
    for (int f = 0; f < LP_NFAMILIES; f++)
        total += n[f];
    is_u64(total, 0, "nothing seen at start");
    for (int32_t tid = 100; tid < 164; tid++) /* every stripe, four times */
        lp_families_seen_add(tid % 2 ? LP_FAM_FUTEX : LP_FAM_MUTEX, tid);
    lp_families_seen_add(LP_FAM_IO, 7);
    lp_families_seen_add(LP_NFAMILIES + 3, 9); /* out of range: counted as other */
    lp_families_seen(n);
    is_u64(n[LP_FAM_FUTEX], 32, "futex waits seen, summed over the stripes");
    is_u64(n[LP_FAM_MUTEX], 32, "mutex waits seen");
    is_u64(n[LP_FAM_IO], 1, "a read seen");
    is_u64(n[LP_FAM_COND], 0, "no condition wait seen");
    is_u64(n[LP_FAM_OTHER], 1, "a family out of range counts as other");
    lp_families_atfork_child();
    lp_families_seen(n);
    is_u64(n[LP_FAM_FUTEX] + n[LP_FAM_MUTEX] + n[LP_FAM_IO] + n[LP_FAM_OTHER], 0, "a new process has seen nothing");
    return done_testing();
}
