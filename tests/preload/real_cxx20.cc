/*
 * real_cxx20 — libstdc++'s C++20 waits, which block through libc's syscall() (reallibs.t):
 * std::atomic<int>::wait / notify_all, std::latch, std::counting_semaphore. Each part measures
 * its own waits around the blocking call, with CLOCK_MONOTONIC, and prints "measure KEY NS"
 * lines (progutil.h).
 *
 *   atomic     atomic_waiter_wait blocks in a.wait(old) until atomic_notify stores a new value
 *              and calls notify_all, HOLD ms after the waiter is asleep; ROUNDS rounds.
 *              atomic_wait_total, atomic_owed
 *   latch      2 threads arrive_and_wait in latch_arrive; the main thread counts down last,
 *              HOLD ms after both are asleep (latch_count_down). latch_wait_total
 *   semaphore  sem_acquire blocks in acquire() on a counting_semaphore at 0 until sem_release
 *              releases one, HOLD ms after it is asleep; ROUNDS rounds.
 *              sem_wait_total, sem_owed
 *
 * Usage: real_cxx20 [ROUNDS [HOLD_MS [linger]]]
 * linger: then prints "lingering" and waits for the end of standard input, so that a test can
 * read the live endpoint's views of the waits (demangle.t).
 */
#include <atomic>
#include <latch>
#include <semaphore>
#include <thread>
#include <vector>

#include "progutil.h"

namespace {

int rounds = 4;
int hold_ms = 40;

void await_asleep(const std::atomic<int> &tid)
{
    while (tid.load() == 0 || !thread_sleeping(tid.load()))
        std::this_thread::sleep_for(std::chrono::microseconds(200));
}

void await_at_least(const std::atomic<int> &v, int want)
{
    while (v.load() < want)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
}

/* ---- atomic wait / notify_all ---- */

std::atomic<int> value{ 0 }, atomic_ready{ 0 }, atomic_tid{ 0 };
std::atomic<uint64_t> atomic_start{ 0 }, atomic_total{ 0 };

__attribute__((noinline)) void atomic_waiter_wait(int old)
{
    uint64_t t0 = now_ns();
    atomic_start = t0;
    atomic_ready = old + 1;
    value.wait(old);
    atomic_total += now_ns() - t0;
}

__attribute__((noinline)) uint64_t atomic_notify(int v)
{
    uint64_t t = now_ns();
    value.store(v);
    value.notify_all();
    return t;
}

void atomic_part()
{
    std::thread th([] {
        atomic_tid = thread_id();
        for (int r = 0; r < rounds; r++)
            atomic_waiter_wait(r);
    });
    uint64_t owed = 0;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(atomic_ready, r);
        await_asleep(atomic_tid);
        std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
        uint64_t start = atomic_start.load();
        owed += atomic_notify(r) - start;
    }
    th.join();
    printf("atomic: %d rounds\n", rounds);
    measure("atomic_wait_total", atomic_total);
    measure("atomic_owed", owed);
}

/* ---- latch ---- */

std::atomic<int> latch_tids[2];
std::atomic<uint64_t> latch_total{ 0 };

__attribute__((noinline)) void latch_arrive(std::latch &l, int i)
{
    uint64_t t0 = now_ns();
    latch_tids[i] = thread_id();
    l.arrive_and_wait();
    latch_total += now_ns() - t0;
}

__attribute__((noinline)) void latch_count_down(std::latch &l)
{
    l.count_down();
}

void latch_part()
{
    std::latch l(3);
    std::vector<std::thread> th;
    for (int i = 0; i < 2; i++)
        th.emplace_back([&l, i] { latch_arrive(l, i); });
    for (auto &t : latch_tids)
        await_asleep(t);
    std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
    latch_count_down(l);
    for (auto &t : th)
        t.join();
    printf("latch: released\n");
    measure("latch_wait_total", latch_total);
}

/* ---- counting_semaphore ---- */

std::counting_semaphore<16> sem(0);
std::atomic<int> sem_ready{ 0 }, sem_tid{ 0 };
std::atomic<uint64_t> sem_start{ 0 }, sem_total{ 0 };

__attribute__((noinline)) void sem_acquire(int r)
{
    uint64_t t0 = now_ns();
    sem_start = t0;
    sem_ready = r;
    sem.acquire();
    sem_total += now_ns() - t0;
}

__attribute__((noinline)) uint64_t sem_release()
{
    uint64_t t = now_ns();
    sem.release();
    return t;
}

void semaphore_part()
{
    std::thread th([] {
        sem_tid = thread_id();
        for (int r = 1; r <= rounds; r++)
            sem_acquire(r);
    });
    uint64_t owed = 0;
    for (int r = 1; r <= rounds; r++) {
        await_at_least(sem_ready, r);
        await_asleep(sem_tid);
        std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
        uint64_t start = sem_start.load();
        owed += sem_release() - start;
    }
    th.join();
    printf("semaphore: %d rounds\n", rounds);
    measure("sem_wait_total", sem_total);
    measure("sem_owed", owed);
}

} // namespace

int main(int argc, char **argv)
{
    setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (argc > 2)
        hold_ms = atoi(argv[2]);
    atomic_part();
    latch_part();
    semaphore_part();
    if (argc > 3 && strcmp(argv[3], "linger") == 0) {
        printf("lingering\n");
        while (getchar() != EOF)
            ;
    }
    return 0;
}
