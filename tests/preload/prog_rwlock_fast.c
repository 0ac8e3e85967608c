/*
 * prog_rwlock_fast — the uncontended rwlock path reads no clock and records nothing
 * (rwlock.t). Like prog_clockcount, it defines clock_gettime itself, so that the
 * preloaded library's clock reads land here too and are counted.
 *   uncontended: 20000 rounds of each lock call and its unlock on a free lock, one thread,
 *                in both phases glibc leaves a free lock in (after a reader: read phase;
 *                after a writer: write phase)
 *   shared:      20000 rdlock/unlock pairs while another thread holds a read lock
 *   contended:   (with an argument) a reader blocks behind the main thread's write lock,
 *                3 times: the counter works, this reads the clock
 * Prints "clock_reads <phase> N" for each phase, and the number of calls that did not
 * return 0 ("failures N").
 */
#include <dlfcn.h>

#include "progutil.h"

#include "clockcount.h"

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static int failures, held, release_it, started;

#define CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != 0)                                                                       \
            failures++;                                                                        \
    } while (0)

static void *reader(void *arg)
{
    (void)arg;
    CHECK(pthread_rwlock_rdlock(&lock));
    __atomic_store_n(&held, 1, __ATOMIC_RELEASE);
    await_at_least(&release_it, 1);
    CHECK(pthread_rwlock_unlock(&lock));
    return NULL;
}

static void *contender(void *arg)
{
    (void)arg;
    __atomic_store_n(&started, 1, __ATOMIC_RELEASE);
    CHECK(pthread_rwlock_rdlock(&lock));
    CHECK(pthread_rwlock_unlock(&lock));
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argv;
    struct timespec rt, mt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mt);
    rt.tv_sec += 60;
    mt.tv_sec += 60;
    unsigned long before = clock_reads;
    for (int i = 0; i < 20000; i++) {
        CHECK(pthread_rwlock_rdlock(&lock));
        CHECK(pthread_rwlock_unlock(&lock));
        CHECK(pthread_rwlock_wrlock(&lock));
        CHECK(pthread_rwlock_unlock(&lock)); /* leaves the lock free in a write phase */
        CHECK(pthread_rwlock_timedrdlock(&lock, &rt));
        CHECK(pthread_rwlock_unlock(&lock));
        CHECK(pthread_rwlock_timedwrlock(&lock, &rt));
        CHECK(pthread_rwlock_unlock(&lock));
        CHECK(pthread_rwlock_clockrdlock(&lock, CLOCK_MONOTONIC, &mt));
        CHECK(pthread_rwlock_unlock(&lock));
        CHECK(pthread_rwlock_clockwrlock(&lock, CLOCK_MONOTONIC, &mt));
        CHECK(pthread_rwlock_unlock(&lock));
        CHECK(pthread_rwlock_tryrdlock(&lock));
        CHECK(pthread_rwlock_unlock(&lock));
        CHECK(pthread_rwlock_trywrlock(&lock));
        CHECK(pthread_rwlock_unlock(&lock));
    }
    printf("clock_reads uncontended %lu\n", clock_reads - before);

    pthread_t t;
    if (pthread_create(&t, NULL, reader, NULL))
        die("pthread_create");
    await_at_least(&held, 1);
    before = clock_reads;
    for (int i = 0; i < 20000; i++) {
        CHECK(pthread_rwlock_rdlock(&lock));
        CHECK(pthread_rwlock_unlock(&lock));
    }
    printf("clock_reads shared %lu\n", clock_reads - before);
    __atomic_store_n(&release_it, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);

    if (argc < 2)
        goto out;
    before = clock_reads;
    for (int i = 0; i < 3; i++) {
        CHECK(pthread_rwlock_wrlock(&lock));
        started = 0;
        if (pthread_create(&t, NULL, contender, NULL))
            die("pthread_create");
        await_at_least(&started, 1);
        /* The contender's registration as a reader shows in the word: it waits. */
        while ((__atomic_load_n(&lock.__data.__readers, __ATOMIC_ACQUIRE) >> 3) == 0)
            sleep_ms(1);
        CHECK(pthread_rwlock_unlock(&lock));
        pthread_join(t, NULL);
    }
    printf("clock_reads contended %lu\n", clock_reads - before);
out:
    printf("failures %d\n", failures);
    return failures != 0;
}
