/*
 * prog_readchk — read() built with _FORTIFY_SOURCE=2, where glibc's headers turn a read into a
 * buffer of known size and a length the compiler cannot bound into a call to __read_chk.
 * (Defined here rather than in the Makefile: -O1, which the test programs are built with, is
 * enough for fortification.) io.t checks with objdump that chk_blocked_read calls
 * __read_chk.
 *
 * Usage: prog_readchk [rounds] [hold_ms]
 * A thread blocks in read() on a pipe ROUNDS times (chk_blocked_read); each time, once it is
 * asleep, main waits HOLD_MS and writes a byte. Prints
 *   measure chk_blocked_read_total / _count   Σ of the time around each call, and how many.
 */
#define _FORTIFY_SOURCE 2
#include "progutil.h"

#define NOINLINE __attribute__((noinline, noclone))

static int rounds = 4;
static unsigned hold_ms = 30;
static int p[2], tid, arrived, finished, round_ready;
static uint64_t total, count;
static volatile size_t read_len = 1; /* not a constant: fortified read becomes __read_chk */

static NOINLINE void chk_blocked_read(void)
{
    char buf[16];
    __atomic_fetch_add(&arrived, 1, __ATOMIC_ACQ_REL);
    uint64_t t0 = now_ns();
    ssize_t n = read(p[0], buf, read_len);
    total += now_ns() - t0;
    count++;
    if (n != 1)
        die("read");
}

static void *reader(void *arg)
{
    (void)arg;
    __atomic_store_n(&tid, thread_id(), __ATOMIC_RELEASE);
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&round_ready, r);
        chk_blocked_read();
        __atomic_fetch_add(&finished, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atoi(argv[1]);
    if (argc > 2)
        hold_ms = (unsigned)atoi(argv[2]);
    pthread_t t;
    if (pipe(p) < 0 || pthread_create(&t, NULL, reader, NULL))
        die("setup");
    for (int r = 1; r <= rounds; r++) {
        __atomic_store_n(&round_ready, r, __ATOMIC_RELEASE);
        await_at_least(&arrived, r);
        await_all_asleep(&tid, 1);
        sleep_ms(hold_ms);
        if (write(p[1], "x", 1) != 1)
            die("write");
        await_at_least(&finished, r);
    }
    pthread_join(t, NULL);
    measure("chk_blocked_read_total", total);
    measure("chk_blocked_read_count", count);
    return 0;
}
