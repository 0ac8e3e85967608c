/*
 * real_absl — absl::Mutex, whose waiters each sleep on a futex word of their own (a per-thread
 * semaphore) through libc's syscall() (reallibs.t). A convoy: a holder holds the mutex HOLD ms
 * while 3 waiters block in absl_waiter_wait, ROUNDS rounds; absl_release unlocks. Measures its
 * own waits around each Lock() (CLOCK_MONOTONIC) and prints "measure KEY NS" lines:
 *   absl_wait_total, absl_wait_count, absl_owed (Σ release − each wait's start)
 *
 * Usage: real_absl [ROUNDS [HOLD_MS]]
 */
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include <thread>
#include <vector>

#include "progutil.h"

namespace {

constexpr int kWaiters = 3;
absl::Mutex mu;
int rounds = 4;
unsigned hold_ms = 40;
int round_started, arrived, finished, tids[kWaiters];
uint64_t starts[kWaiters];
std::atomic<uint64_t> wait_total{ 0 }, wait_count{ 0 };

__attribute__((noinline)) void absl_waiter_wait(int id)
{
    uint64_t t0 = now_ns();
    starts[id] = t0;
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    mu.Lock();
    uint64_t t1 = now_ns();
    mu.Unlock();
    wait_total += t1 - t0;
    wait_count++;
}

__attribute__((noinline)) uint64_t absl_release()
{
    uint64_t t = now_ns();
    mu.Unlock();
    return t;
}

} // namespace

int main(int argc, char **argv)
{
    setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (argc > 2)
        hold_ms = (unsigned)atoi(argv[2]);
    std::vector<std::thread> th;
    for (int i = 0; i < kWaiters; i++)
        th.emplace_back([i] {
            __atomic_store_n(&tids[i], thread_id(), __ATOMIC_RELEASE);
            for (int r = 1; r <= rounds; r++) {
                await_at_least(&round_started, r);
                absl_waiter_wait(i);
                __atomic_fetch_add(&finished, 1, __ATOMIC_ACQ_REL);
            }
        });
    uint64_t owed = 0;
    for (int r = 1; r <= rounds; r++) {
        mu.Lock();
        __atomic_store_n(&round_started, r, __ATOMIC_RELEASE);
        await_at_least(&arrived, r * kWaiters);
        await_all_asleep(tids, kWaiters);
        sleep_ms(hold_ms);
        uint64_t released = absl_release();
        for (int i = 0; i < kWaiters; i++)
            owed += released - starts[i];
        await_at_least(&finished, r * kWaiters);
    }
    for (auto &t : th)
        t.join();
    printf("absl: %d rounds\n", rounds);
    measure("absl_wait_total", wait_total);
    measure("absl_wait_count", wait_count);
    measure("absl_owed", owed);
    return 0;
}
