/*
 * prog_manystacks — 512 distinct stacks, each waiting once: a 1 ms pthread_cond_timedwait
 * that times out, reached through 9 levels that each go through one of two functions.
 * Prints "waits N".
 */
#include <errno.h>

#include "progutil.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int waits;

static __attribute__((noinline)) void leaf_wait(void)
{
    struct timespec ts = deadline_in_ms(1);
    pthread_mutex_lock(&m);
    if (pthread_cond_timedwait(&cv, &m, &ts) == ETIMEDOUT)
        waits++;
    pthread_mutex_unlock(&m);
}

static void level(unsigned bits, int n);

static __attribute__((noinline)) void level_a(unsigned bits, int n)
{
    level(bits, n);
    __asm__ volatile("" ::: "memory"); /* keep the call a call, not a tail jump */
}

static __attribute__((noinline)) void level_b(unsigned bits, int n)
{
    level(bits, n);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void level(unsigned bits, int n)
{
    if (n == 0)
        leaf_wait();
    else if (bits & 1)
        level_a(bits >> 1, n - 1);
    else
        level_b(bits >> 1, n - 1);
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    for (unsigned i = 0; i < 512; i++)
        level(i, 9);
    printf("waits %d\n", waits);
    return 0;
}
