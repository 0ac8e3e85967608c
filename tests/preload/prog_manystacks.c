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

int main(void)
{
    for (unsigned i = 0; i < 512; i++)
        distinct_stack(leaf_wait, i, 9);
    printf("waits %d\n", waits);
    return 0;
}
