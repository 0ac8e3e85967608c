/*
 * prog_snapexit — a snapshot asked for just before the process ends (DESIGN §5).
 *
 * Records 256 distinct stacks (a 1 ms pthread_cond_timedwait that times out, reached through 8
 * levels of two functions), so that a snapshot takes a moment to write, then sends itself
 * LOCKPROF_SIGNAL (SIGUSR2) and returns from main at once: the snapshot and the exit race.
 * Prints "waits N".
 */
#include <signal.h>

#include "progutil.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int waits;

static __attribute__((noinline)) void exit_race_wait(void)
{
    struct timespec ts = deadline_in_ms(1);
    pthread_mutex_lock(&m);
    pthread_cond_timedwait(&cv, &m, &ts);
    waits++;
    pthread_mutex_unlock(&m);
}

int main(void)
{
    for (unsigned i = 0; i < 256; i++)
        distinct_stack(exit_race_wait, i, 8);
    printf("waits %d\n", waits);
    fflush(stdout);
    kill(getpid(), SIGUSR2);
    return 0;
}
