/*
 * demo.c — the program `make demo` profiles: a tiny threaded "server" with one obvious
 * culprit for each profile.
 *
 *   - WORKERS threads answer requests in handle_request(): each looks a key up in a shared
 *     cache under cache_lock, for a microsecond or two, then "sends the reply" (sleeps).
 *   - One thread, in rebuild_cache(), refreshes that cache every few milliseconds and reads
 *     the new contents (a sleep standing in for slow I/O) *while holding cache_lock*: the
 *     classic mistake. Every worker queues up behind it.
 *       block profile (where threads waited):  pthread_mutex_lock <- handle_request
 *       mutex profile (who made them wait):    pthread_mutex_unlock <- rebuild_cache
 *   - A producer/consumer queue: accept_loop() pushes a job every millisecond; the consumer
 *     waits for jobs in queue_pop(), in pthread_cond_wait — a second, smaller, entry of the
 *     block profile.
 *
 * The rebuilder releases cache_lock a few hundred times during the run, each time with
 * several workers waiting, so at the default mutex fraction (one release in 10 recorded)
 * rebuild_cache is still recorded dozens of times. Sleeps are nanosleep(), which lockprof
 * does not profile (sleeping is not contention), so the profiles show only the lock and
 * queue waits. Runs for RUN_MS milliseconds, prints one line, exits 0.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUN_MS 1500
#define WORKERS 6
#define CACHE_SLOTS 256
#define REBUILD_HOLD_US 2000  /* cache_lock held this long per rebuild ... */
#define REBUILD_EVERY_US 5000 /* ... once in this period */
#define REPLY_US 50           /* a worker's time outside the lock per request */
#define JOB_EVERY_US 1000     /* the producer's pace */
#define JOB_WORK_US 600       /* the consumer's time per job */
#define QUEUE_CAP 64

#define NOINLINE __attribute__((noinline, noclone))

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t cache_keys[CACHE_SLOTS];   /* under cache_lock */
static uint64_t cache_values[CACHE_SLOTS]; /* under cache_lock */
static uint64_t cache_generation;          /* under cache_lock */

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    uint64_t jobs[QUEUE_CAP]; /* under lock */
    unsigned head, len;       /* under lock */
    bool closed;              /* under lock */
};

static struct queue job_queue = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .nonempty = PTHREAD_COND_INITIALIZER,
};

static atomic_bool stopping; /* set once by main, polled by the threads */

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* The short, innocent critical section: look one key up. */
static NOINLINE uint64_t handle_request(uint64_t key)
{
    uint64_t value = 0;
    pthread_mutex_lock(&cache_lock);
    unsigned slot = (unsigned)(key % CACHE_SLOTS);
    if (cache_keys[slot] == key)
        value = cache_values[slot];
    else
        cache_keys[slot] = key, cache_values[slot] = value = mix(key + cache_generation);
    pthread_mutex_unlock(&cache_lock);
    return value;
}

/* The culprit: refreshes the cache and does its slow reading while holding the lock. */
static NOINLINE void rebuild_cache(void)
{
    pthread_mutex_lock(&cache_lock);
    cache_generation++;
    sleep_us(REBUILD_HOLD_US); /* "reads the new table from disk" */
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        cache_values[i] = mix(cache_keys[i] + cache_generation);
    pthread_mutex_unlock(&cache_lock);
}

static NOINLINE void queue_push(struct queue *q, uint64_t job)
{
    pthread_mutex_lock(&q->lock);
    if (q->len < QUEUE_CAP) {
        q->jobs[(q->head + q->len) % QUEUE_CAP] = job;
        q->len++;
    }
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

/* Waits for a job; false when the queue is closed and drained. */
static NOINLINE bool queue_pop(struct queue *q, uint64_t *job)
{
    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->closed)
        pthread_cond_wait(&q->nonempty, &q->lock);
    bool got = q->len > 0;
    if (got) {
        *job = q->jobs[q->head];
        q->head = (q->head + 1) % QUEUE_CAP;
        q->len--;
    }
    pthread_mutex_unlock(&q->lock);
    return got;
}

static NOINLINE void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

struct worker {
    pthread_t thread;
    unsigned id;
    uint64_t requests;
};

static NOINLINE void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t key = w->id;
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        key = mix(key) % 1000;
        handle_request(key);
        w->requests++;
        sleep_us(REPLY_US); /* "sends the reply" */
    }
    return NULL;
}

static uint64_t rebuilds;

static NOINLINE void *rebuilder_main(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        rebuild_cache();
        rebuilds++;
        sleep_us(REBUILD_EVERY_US - REBUILD_HOLD_US);
    }
    return NULL;
}

static uint64_t jobs_done;

static NOINLINE void *accept_loop(void *arg)
{
    (void)arg;
    for (uint64_t job = 1; !atomic_load_explicit(&stopping, memory_order_relaxed); job++) {
        queue_push(&job_queue, job);
        sleep_us(JOB_EVERY_US);
    }
    queue_close(&job_queue);
    return NULL;
}

static NOINLINE void *consumer_main(void *arg)
{
    (void)arg;
    uint64_t job;
    while (queue_pop(&job_queue, &job)) {
        sleep_us(JOB_WORK_US); /* "processes the job" */
        jobs_done++;
    }
    return NULL;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    int rc = pthread_create(t, NULL, fn, arg);
    if (rc != 0) {
        fprintf(stderr, "demo: pthread_create: %s\n", strerror(rc));
        exit(1);
    }
}

int main(void)
{
    static struct worker workers[WORKERS];
    pthread_t rebuilder, producer, consumer;
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    start(&consumer, consumer_main, NULL);
    start(&producer, accept_loop, NULL);
    start(&rebuilder, rebuilder_main, NULL);
    for (unsigned i = 0; i < WORKERS; i++) {
        workers[i].id = i + 1;
        start(&workers[i].thread, worker_main, &workers[i]);
    }

    /* Sleep rather than join: main waiting in pthread_join for the whole run would be the
     * biggest entry of the block profile, and not an interesting one. */
    sleep_us(RUN_MS * 1000L);
    atomic_store(&stopping, true);

    uint64_t requests = 0;
    for (unsigned i = 0; i < WORKERS; i++) {
        pthread_join(workers[i].thread, NULL);
        requests += workers[i].requests;
    }
    pthread_join(rebuilder, NULL);
    pthread_join(producer, NULL);
    pthread_join(consumer, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("demo: %d workers served %llu requests, the cache was rebuilt %llu times, "
           "%llu jobs went through the queue, in %.2f s\n",
           WORKERS, (unsigned long long)requests, (unsigned long long)rebuilds,
           (unsigned long long)jobs_done, secs);
    return 0;
}
