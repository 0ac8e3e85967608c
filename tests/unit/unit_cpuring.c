/*
 * unit_cpuring — core/cpuring.c, the ring that carries CPU samples from the signal handler to
 * lockprof's thread: records come out in order and intact, a full ring refuses claims until it
 * is drained, a record claimed and not yet published stops the drain until it is, four
 * producer threads and a consumer running at once lose and duplicate nothing, a producer in a
 * signal handler that interrupts the consumer on its own thread neither waits nor corrupts,
 * and a fork child's ring starts empty whatever its parent's threads were doing.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpuring.h"
#include "tap.h"

#define RECORDS 64
#define FRAMES 8

/* What a record says, as the drain hands it over. */
struct got {
    uint64_t n;
    uintptr_t first[4096];   /* each record's pcs[0], in order, for the first 4096 */
    unsigned depth[4096];
    uint32_t weight[4096];
    bool truncated[4096];
    uint64_t bad;            /* records whose pcs were not pcs[0] + i */
};

static void take(const uintptr_t *pcs, unsigned depth, bool truncated, uint32_t weight,
                 void *arg)
{
    struct got *g = arg;
    for (unsigned i = 1; i < depth; i++)
        if (pcs[i] != pcs[0] + i)
            g->bad++;
    if (g->n < 4096) {
        g->first[g->n] = pcs[0];
        g->depth[g->n] = depth;
        g->weight[g->n] = weight;
        g->truncated[g->n] = truncated;
    }
    g->n++;
}

/* Claims a record and fills it with base, base + 1, ...; false when the ring is full. */
static bool put(uintptr_t base, unsigned depth, uint32_t weight)
{
    uint64_t t;
    uintptr_t *pcs = lp_cpuring_claim_sigsafe(&t);
    if (!pcs)
        return false;
    for (unsigned i = 0; i < depth; i++)
        pcs[i] = base + i;
    lp_cpuring_publish_sigsafe(t, depth, depth == FRAMES, weight);
    return true;
}

/* ---- producers on four threads, a consumer on a fifth ---- */

#define PER_THREAD 50000
static int producers_done;
static uint64_t refused; /* atomic */

static void *producer(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    for (uint64_t k = 0; k < PER_THREAD; k++) {
        /* pcs[0] names the thread (high bits) and its record's number: the consumer checks
         * that each thread's records come in order and none twice. */
        while (!put((id << 40) | (k << 4), 1 + (unsigned)(k % FRAMES), 1)) {
            __atomic_fetch_add(&refused, 1, __ATOMIC_RELAXED);
            sched_yield(); /* (on 2 cores, let the consumer run) */
        }
    }
    __atomic_fetch_add(&producers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

struct per_thread {
    uint64_t next[4];
    uint64_t out_of_order, n, bad;
};

static void take_mt(const uintptr_t *pcs, unsigned depth, bool truncated, uint32_t weight,
                    void *arg)
{
    struct per_thread *p = arg;
    (void)truncated;
    (void)weight;
    uintptr_t id = pcs[0] >> 40, k = (pcs[0] & ((1ULL << 40) - 1)) >> 4;
    if (id >= 4 || k != p->next[id])
        p->out_of_order++;
    else
        p->next[id]++;
    if (depth != 1 + k % FRAMES)
        p->bad++;
    for (unsigned i = 1; i < depth; i++)
        if (pcs[i] != pcs[0] + i)
            p->bad++;
    p->n++;
}

/* ---- a producer in a signal handler, on the consumer's own thread ---- */

static volatile uint64_t sig_put, sig_full;
static uintptr_t sig_next = 1;

static void on_prof(int sig)
{
    (void)sig;
    if (put(sig_next << 4, 3, 2)) {
        sig_put++;
        sig_next++;
    } else {
        sig_full++;
    }
}

struct in_order {
    uintptr_t next;
    uint64_t n, bad;
};

static void take_sig(const uintptr_t *pcs, unsigned depth, bool truncated, uint32_t weight,
                     void *arg)
{
    struct in_order *o = arg;
    (void)truncated;
    if (pcs[0] != o->next << 4 || depth != 3 || weight != 2 || pcs[2] != pcs[0] + 2)
        o->bad++;
    o->next = (pcs[0] >> 4) + 1;
    o->n++;
}

int main(void)
{
    ok(lp_cpuring_claim_sigsafe(&(uint64_t){ 0 }) == NULL, "before init: every claim fails");
    ok(lp_cpuring_init(50, FRAMES) == 0, "init");
    is_u64(lp_cpuring_records(), RECORDS, "50 records round up to 64");
    is_u64(lp_cpuring_frames(), FRAMES, "room for 8 frames per record");

    /* In order and intact. */
    static struct got g;
    for (unsigned i = 0; i < 10; i++)
        put(1000 * (i + 1), 1 + i % FRAMES, i + 1);
    is_u64(lp_cpuring_drain(take, &g), 10, "10 records published, 10 drained");
    bool same = g.bad == 0;
    for (unsigned i = 0; i < 10; i++)
        same = same && g.first[i] == 1000 * (i + 1) && g.depth[i] == 1 + i % FRAMES &&
               g.weight[i] == i + 1 && g.truncated[i] == (g.depth[i] == FRAMES);
    ok(same, "in order, each with its addresses, depth, weight and truncation");
    is_u64(lp_cpuring_drain(take, &g), 0, "drained: nothing more");

    /* Full: RECORDS claims, then none until a drain. */
    unsigned n = 0;
    while (n < 1000 && put(n + 1, 2, 1))
        n++;
    is_u64(n, RECORDS, "a full ring takes exactly its 64 records");
    uint64_t t;
    ok(lp_cpuring_claim_sigsafe(&t) == NULL, "and refuses the next claim");
    memset(&g, 0, sizeof g);
    is_u64(lp_cpuring_drain(take, &g), RECORDS, "a drain takes all 64");
    ok(put(7, 1, 1), "then claims succeed again");
    lp_cpuring_drain(take, &g);

    /* A record claimed and not yet published stops the drain there. */
    uint64_t held;
    uintptr_t *hp = lp_cpuring_claim_sigsafe(&held);
    put(5000, 2, 1);
    put(6000, 2, 1);
    memset(&g, 0, sizeof g);
    is_u64(lp_cpuring_drain(take, &g), 0, "an unpublished record stops the drain before it");
    is_u64(lp_cpuring_used_sigsafe(held + 2), 3, "three records in use");
    hp[0] = 4000;
    hp[1] = 4001;
    lp_cpuring_publish_sigsafe(held, 2, false, 1);
    is_u64(lp_cpuring_drain(take, &g), 3, "published, it and the two after it are drained");
    ok(g.first[0] == 4000 && g.first[1] == 5000 && g.first[2] == 6000, "in claim order");

    /* Four producers, one consumer. */
    pthread_t th[4];
    for (uintptr_t i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, producer, (void *)i);
    static struct per_thread pt;
    while (__atomic_load_n(&producers_done, __ATOMIC_ACQUIRE) < 4)
        lp_cpuring_drain(take_mt, &pt);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    lp_cpuring_drain(take_mt, &pt);
    is_u64(pt.n, 4 * PER_THREAD, "4 threads x 50,000 records: every one drained once");
    is_u64(pt.out_of_order, 0, "each thread's records in its order, none twice, none lost");
    is_u64(pt.bad, 0, "every record intact");
    diag("claims refused while the ring was full: %llu", (unsigned long long)refused);

    /* A producer in a signal handler on the consumer's thread (the writer drains on program
     * threads, which take samples too). */
    struct sigaction sa = { .sa_handler = on_prof, .sa_flags = SA_RESTART };
    sigaction(SIGPROF, &sa, NULL);
    struct itimerval it = { { 0, 200 }, { 0, 200 } };
    setitimer(ITIMER_PROF, &it, NULL);
    struct in_order o = { .next = 1 };
    /* (The kernel checks CPU timers at its tick: about 250 samples a second here.) */
    while (sig_put < 100)
        lp_cpuring_drain(take_sig, &o);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_PROF, &off, NULL);
    lp_cpuring_drain(take_sig, &o);
    is_u64(o.n, sig_put, "samples put from a handler interrupting the drain: all drained");
    is_u64(o.bad, 0, "in order and intact");
    diag("the handler found the ring full %llu times", (unsigned long long)sig_full);

    /* A fork child: a parent's record claimed, never published, and one published. */
    lp_cpuring_claim_sigsafe(&held);
    put(8000, 2, 1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        lp_cpuring_atfork_child();
        memset(&g, 0, sizeof g);
        int bad = lp_cpuring_drain(take, &g) != 0;
        for (unsigned i = 0; i < RECORDS; i++)
            bad |= !put(9000 + 10 * i, 2, 1);
        bad |= lp_cpuring_drain(take, &g) != RECORDS || g.first[0] != 9000 ||
               g.first[RECORDS - 1] != 9000 + 10 * (RECORDS - 1);
        _exit(bad);
    }
    int status;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "fork child: the parent's records are gone, and its own 64 fit and drain in order");
    done_testing();
    return tap_failed != 0;
}
