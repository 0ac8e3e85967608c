/*
 * prog_threads_churn — 10,000 short-lived threads, each of which waits once for a mutex
 * (threads_churn.t: lockprof's per-thread state must not grow with the threads that
 * came and went).
 *
 * In batches of BATCH: main holds the mutex, starts the batch's threads, waits until every
 * one of them is blocked in futex(2) on the mutex's word (/proc/self/task/TID/syscall: so each
 * really waits, and none is merely asleep inside the profiler's own work), releases it and
 * joins them. Prints:
 *   measure wait_count        the waits measured (one per thread)
 *   measure wait_total        their Σ, measured around pthread_mutex_lock
 *   measure rss_1000_kb       VmRSS (/proc/self/status) once 1,000 threads have been joined
 *   measure rss_10000_kb      ... and once all 10,000 have
 * Usage: prog_threads_churn [threads] [batch]
 */
#include "progutil.h"

#define MAX_BATCH 200

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static int arrived, tids[MAX_BATCH];
static uint64_t wait_count, wait_total;

static __attribute__((noinline)) void churn_wait(int slot)
{
    uint64_t t0 = now_ns();
    __atomic_store_n(&tids[slot], thread_id(), __ATOMIC_RELEASE);
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&m);
    uint64_t t1 = now_ns();
    pthread_mutex_unlock(&m);
    __atomic_fetch_add(&wait_total, t1 - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&wait_count, 1, __ATOMIC_RELAXED);
}

static void *churn_thread(void *arg)
{
    churn_wait((int)(intptr_t)arg);
    return NULL;
}

/* True when thread tid is in futex(2) on word. */
static int blocked_on(int tid, const void *word)
{
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long nr, addr;
    return sscanf(buf, "%llu 0x%llx", &nr, &addr) == 2 && nr == SYS_futex &&
           addr == (uintptr_t)word;
}

static uint64_t rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    int total = argc > 1 ? atoi(argv[1]) : 10000;
    int batch = argc > 2 ? atoi(argv[2]) : 100;
    if (batch < 1 || batch > MAX_BATCH || total % batch)
        return 2;
    alarm(120);
    pthread_t t[MAX_BATCH];
    uint64_t rss_1000 = 0;
    for (int done = 0; done < total; done += batch) {
        pthread_mutex_lock(&m);
        for (int i = 0; i < batch; i++)
            if (pthread_create(&t[i], NULL, churn_thread, (void *)(intptr_t)i))
                die("pthread_create");
        await_at_least(&arrived, done + batch);
        for (int i = 0; i < batch; i++)
            while (!blocked_on(__atomic_load_n(&tids[i], __ATOMIC_ACQUIRE), &m))
                sleep_ms(1);
        pthread_mutex_unlock(&m);
        for (int i = 0; i < batch; i++)
            pthread_join(t[i], NULL);
        if (done + batch == 1000)
            rss_1000 = rss_kb();
    }
    measure("wait_count", wait_count);
    measure("wait_total", wait_total);
    measure("rss_1000_kb", rss_1000);
    measure("rss_10000_kb", rss_kb());
    return 0;
}
