/*
 * prog_api — lockprof's C API (include/lockprof.h), found with dlsym when preloaded, or called
 * directly when linked with -llockprof (built twice: prog_api and linked_api).
 *
 *   prog_api calls DIR     every call and its result on stdout ("call NAME RESULT"); the
 *                          profiles and the threads view written to DIR/api.{block,mutex}.pb.gz,
 *                          DIR/api.{block,mutex}.txt, DIR/api.threads.{txt,json}
 *   prog_api slowfd        a thread writes the mutex profile to a pipe nobody reads (it
 *                          blocks in write for ever); main then exits 0: exit must not wait
 *                          for it (lockprof encodes into memory, then copies without its lock)
 *   prog_api sigapi        a SIGUSR1 handler calls lockprof_snapshot while main keeps writing
 *                          profiles: no deadlock; prints "handler N RESULT…" counts
 *   prog_api rates ROUNDS  2 holder/waiter pairs make ROUNDS waits each (holds of ~1 ms) while
 *                          2 threads keep setting the block rate (1 or 2 ms) and the mutex
 *                          fraction (1 or 2) through the API; prints what the waiters measured
 *                          ("measure wait_total", "measure owed_total", "measure waits") and
 *                          how many rate changes were made ("measure changes")
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>

#include "lockprof.h"
#include "progutil.h"

#ifdef LOCKPROF_LINKED
#define API(name) name
#else
/* Preloaded: found at run time, as a program that may run without lockprof would. */
#define API(name) ((__typeof__(&name))api_find(#name))
static void *api_find(const char *name)
{
    void *f = dlsym(RTLD_DEFAULT, name);
    if (!f) {
        fprintf(stderr, "prog_api: %s not found (is lockprof preloaded?)\n", name);
        exit(98);
    }
    return f;
}
#endif

static pthread_mutex_t small = PTHREAD_MUTEX_INITIALIZER;

static __attribute__((noinline)) void api_wait(void)
{
    pthread_mutex_lock(&small);
    pthread_mutex_unlock(&small);
}

static __attribute__((noinline)) uint64_t api_release(void)
{
    uint64_t t = now_ns();
    pthread_mutex_unlock(&small);
    return t;
}

static int write_file(const char *dir, const char *name, int kind, int format)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die(path);
    int rc = API(lockprof_write_profile)(kind, fd, format);
    close(fd);
    return rc;
}

static int calls(const char *dir)
{
    printf("call version %s\n", API(lockprof_version)());
    struct small_convoy c;
    small_convoy(&small, 40, api_wait, api_release, &c);
    measure("wait_total", c.wait_total);
    measure("owed_total", c.owed);
    printf("call set_block_rate %lld\n", (long long)API(lockprof_set_block_rate)(5));
    printf("call set_block_rate %lld\n", (long long)API(lockprof_set_block_rate)(1));
    printf("call set_mutex_fraction %lld\n", (long long)API(lockprof_set_mutex_fraction)(3));
    printf("call set_mutex_fraction %lld\n", (long long)API(lockprof_set_mutex_fraction)(-1));
    printf("call set_mutex_fraction %lld\n", (long long)API(lockprof_set_mutex_fraction)(1));
    static const struct {
        const char *call, *file;
        int kind, format;
    } writes[] = {
        { "block pprof", "api.block.pb.gz", LOCKPROF_BLOCK, LOCKPROF_PPROF },
        { "mutex pprof", "api.mutex.pb.gz", LOCKPROF_MUTEX, LOCKPROF_PPROF },
        { "block text", "api.block.txt", LOCKPROF_BLOCK, LOCKPROF_TEXT },
        { "mutex text", "api.mutex.txt", LOCKPROF_MUTEX, LOCKPROF_TEXT },
        { "threads text", "api.threads.txt", LOCKPROF_THREADS, LOCKPROF_TEXT },
        { "threads json", "api.threads.json", LOCKPROF_THREADS, LOCKPROF_JSON },
        { "threads pprof", "api.bad", LOCKPROF_THREADS, LOCKPROF_PPROF },
        { "block json", "api.bad", LOCKPROF_BLOCK, LOCKPROF_JSON },
        { "kind 7", "api.bad", 7, LOCKPROF_PPROF },
    };
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
        printf("call write %s %d\n", writes[i].call,
               write_file(dir, writes[i].file, writes[i].kind, writes[i].format));
    printf("call write fd -1 %d\n",
           API(lockprof_write_profile)(LOCKPROF_BLOCK, -1, LOCKPROF_PPROF));
    printf("call write closed fd %d\n",
           API(lockprof_write_profile)(LOCKPROF_BLOCK, 1000, LOCKPROF_PPROF));
    printf("call snapshot %d\n", API(lockprof_snapshot)());
    printf("call snapshot %d\n", API(lockprof_snapshot)());
    printf("call write_profiles %d\n", API(lockprof_write_profiles)());
    return 0;
}

/* ---- rates changed mid-run from several threads ------------------------------------------ */

struct pair {
    pthread_mutex_t m;
    int rounds, go, waiter_tid, asleep_seen;
    uint64_t t0, released, wait_total, owed_total, waits, wait_sq, owed_sq;
};

static int stop_setters;
static uint64_t changes;

static __attribute__((noinline)) void rates_wait(struct pair *p)
{
    pthread_mutex_lock(&p->m);
    pthread_mutex_unlock(&p->m);
}

static __attribute__((noinline)) void rates_release(struct pair *p)
{
    p->released = now_ns();
    pthread_mutex_unlock(&p->m);
}

static void *rates_waiter(void *arg)
{
    struct pair *p = arg;
    __atomic_store_n(&p->waiter_tid, thread_id(), __ATOMIC_RELEASE);
    for (int r = 1; r <= p->rounds; r++) {
        await_at_least(&p->go, r); /* the holder holds the lock now */
        uint64_t t0 = now_ns();
        __atomic_store_n(&p->t0, t0, __ATOMIC_RELEASE);
        rates_wait(p);
        uint64_t t1 = now_ns();
        p->wait_total += t1 - t0;
        p->owed_total += p->released - t0;
        p->wait_sq += (t1 - t0) * (t1 - t0);
        p->owed_sq += (p->released - t0) * (p->released - t0);
        p->waits++;
    }
    return NULL;
}

static void *rates_holder(void *arg)
{
    struct pair *p = arg;
    await_at_least(&p->waiter_tid, 1);
    for (int r = 1; r <= p->rounds; r++) {
        pthread_mutex_lock(&p->m);
        __atomic_store_n(&p->t0, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&p->go, r, __ATOMIC_RELEASE);
        while (__atomic_load_n(&p->t0, __ATOMIC_ACQUIRE) == 0)
            ;
        int tid = p->waiter_tid;
        await_all_asleep(&tid, 1);
        sleep_ms(1);
        rates_release(p);
        /* The waiter takes the lock before the next round: wait for its count to move. */
        while (__atomic_load_n(&p->waits, __ATOMIC_ACQUIRE) < (uint64_t)r)
            sched_yield();
    }
    return NULL;
}

static void *rates_setter(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg; /* a fixed seed per setter */
    while (!__atomic_load_n(&stop_setters, __ATOMIC_ACQUIRE)) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        API(lockprof_set_block_rate)(s & 1 ? 1 : 2000000);
        API(lockprof_set_mutex_fraction)(s & 2 ? 1 : 2);
        __atomic_fetch_add(&changes, 1, __ATOMIC_RELAXED);
        struct timespec ts = { 0, 200000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int rates(int rounds)
{
    struct pair p[2];
    pthread_t h[2], w[2], s[2];
    memset(p, 0, sizeof p);
    for (int i = 0; i < 2; i++) {
        pthread_mutex_init(&p[i].m, NULL);
        p[i].rounds = rounds;
    }
    for (int i = 0; i < 2; i++)
        if (pthread_create(&s[i], NULL, rates_setter, (void *)(uintptr_t)(0x9e3779b9u + i)))
            die("pthread_create");
    for (int i = 0; i < 2; i++)
        if (pthread_create(&w[i], NULL, rates_waiter, &p[i]) ||
            pthread_create(&h[i], NULL, rates_holder, &p[i]))
            die("pthread_create");
    for (int i = 0; i < 2; i++) {
        pthread_join(h[i], NULL);
        pthread_join(w[i], NULL);
    }
    __atomic_store_n(&stop_setters, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(s[i], NULL);
    /* Every wait after this is recorded exactly: the totals above are what is compared. */
    API(lockprof_set_block_rate)(1);
    API(lockprof_set_mutex_fraction)(1);
    measure("wait_total", p[0].wait_total + p[1].wait_total);
    measure("owed_total", p[0].owed_total + p[1].owed_total);
    measure("waits", p[0].waits + p[1].waits);
    measure("wait_sq", p[0].wait_sq + p[1].wait_sq); /* Σ d², for the variance bound */
    measure("owed_sq", p[0].owed_sq + p[1].owed_sq);
    measure("changes", changes);
    return 0;
}

static int slow_pipe[2], slow_tid;

static void *slow_writer(void *arg)
{
    (void)arg;
    __atomic_store_n(&slow_tid, thread_id(), __ATOMIC_RELEASE);
    API(lockprof_write_profile)(LOCKPROF_MUTEX, slow_pipe[1], LOCKPROF_TEXT);
    return NULL;
}

static int slowfd(void)
{
    struct small_convoy c;
    small_convoy(&small, 20, api_wait, api_release, &c); /* something to write */
    if (pipe(slow_pipe))
        die("pipe");
    fcntl(slow_pipe[1], F_SETFL, O_NONBLOCK);
    char junk[4096] = { 0 };
    while (write(slow_pipe[1], junk, sizeof junk) > 0)
        ;
    fcntl(slow_pipe[1], F_SETFL, 0); /* full, and blocking again */
    pthread_t t;
    if (pthread_create(&t, NULL, slow_writer, NULL))
        die("pthread_create");
    await_at_least(&slow_tid, 1);
    int tid = slow_tid;
    await_all_asleep(&tid, 1); /* blocked in write, holding nothing of lockprof's */
    printf("exiting\n");
    exit(0);
}

static volatile sig_atomic_t handled, deadlk, numbered;

static void on_usr1(int sig)
{
    (void)sig;
    int rc = API(lockprof_snapshot)();
    handled++;
    if (rc == -EDEADLK)
        deadlk++;
    else if (rc > 0)
        numbered++;
}

static void *usr1_sender(void *arg)
{
    pthread_t main_thread = *(pthread_t *)arg;
    for (int i = 0; i < 200; i++) {
        pthread_kill(main_thread, SIGUSR1);
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int sigapi(void)
{
    signal(SIGUSR1, on_usr1);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    pthread_t self = pthread_self(), t;
    if (pthread_create(&t, NULL, usr1_sender, &self))
        die("pthread_create");
    for (int i = 0; i < 400; i++)
        API(lockprof_write_profile)(i & 1 ? LOCKPROF_BLOCK : LOCKPROF_THREADS, devnull,
                                    LOCKPROF_TEXT);
    pthread_join(t, NULL);
    printf("handler %d deadlk %d numbered %d\n", (int)handled, (int)deadlk, (int)numbered);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "calls") == 0)
        return calls(argv[2]);
    if (argc == 2 && strcmp(argv[1], "slowfd") == 0)
        return slowfd();
    if (argc == 2 && strcmp(argv[1], "sigapi") == 0)
        return sigapi();
    if (argc == 3 && strcmp(argv[1], "rates") == 0)
        return rates(atoi(argv[2]));
    fprintf(stderr, "usage: prog_api calls DIR | rates ROUNDS\n");
    return 2;
}
