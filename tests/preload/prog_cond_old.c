/*
 * prog_cond_old — a program built against glibc's old condition-variable ABI: init, wait,
 * timedwait, signal, broadcast and destroy all bound to GLIBC_2.2.5, used across threads
 * (a producer/consumer queue). Prints what it consumed; exits 0 when every item arrived.
 */
#include <errno.h>
#include <unistd.h>

#include "progutil.h"

__asm__(".symver pthread_cond_init, pthread_cond_init@GLIBC_2.2.5");
__asm__(".symver pthread_cond_wait, pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver pthread_cond_timedwait, pthread_cond_timedwait@GLIBC_2.2.5");
__asm__(".symver pthread_cond_signal, pthread_cond_signal@GLIBC_2.2.5");
__asm__(".symver pthread_cond_broadcast, pthread_cond_broadcast@GLIBC_2.2.5");
__asm__(".symver pthread_cond_destroy, pthread_cond_destroy@GLIBC_2.2.5");

#define ITEMS 200

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty, not_full;
static int queue[4], head, count, done;
static long sum;
static int timeouts;

static __attribute__((noinline)) void old_abi_consume(void)
{
    for (;;) {
        pthread_mutex_lock(&m);
        while (count == 0 && !done) {
            struct timespec ts = deadline_in_ms(2);
            if (count == 0 && (head & 1))
                pthread_cond_wait(&not_empty, &m);
            else if (pthread_cond_timedwait(&not_empty, &m, &ts) == ETIMEDOUT)
                timeouts++;
        }
        if (count == 0 && done) {
            pthread_mutex_unlock(&m);
            return;
        }
        sum += queue[head];
        head = (head + 1) % 4;
        count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&m);
    }
}

static void *consumer(void *arg)
{
    (void)arg;
    old_abi_consume();
    return NULL;
}

int main(void)
{
    alarm(60);
    pthread_cond_init(&not_empty, NULL);
    pthread_cond_init(&not_full, NULL);
    pthread_t c[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&c[i], NULL, consumer, NULL);
    for (int i = 1; i <= ITEMS; i++) {
        pthread_mutex_lock(&m);
        while (count == 4)
            pthread_cond_wait(&not_full, &m);
        queue[(head + count) % 4] = i;
        count++;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&m);
        if (i % 50 == 0)
            sleep_ms(5);
    }
    pthread_mutex_lock(&m);
    done = 1;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&m);
    for (int i = 0; i < 2; i++)
        pthread_join(c[i], NULL);
    pthread_cond_destroy(&not_empty);
    pthread_cond_destroy(&not_full);
    printf("consumed sum %ld of %d items\n", sum, ITEMS);
    return sum == (long)ITEMS * (ITEMS + 1) / 2 ? 0 : 1;
}
