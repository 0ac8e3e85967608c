/*
 * prog_quiet — a program that never contends: prints a few fixed lines, locks and unlocks an
 * uncontended mutex a few times (one thread), and exits with status 7. The bad-input tests
 * compare its stdout and exit status with and without the preload.
 */
#include "progutil.h"

static pthread_mutex_t quiet_lock = PTHREAD_MUTEX_INITIALIZER;

int main(void)
{
    unsigned sum = 0;
    printf("quiet: start\n");
    for (int i = 0; i < 5; i++) {
        if (pthread_mutex_lock(&quiet_lock))
            die("pthread_mutex_lock");
        sum += (unsigned)i;
        if (pthread_mutex_unlock(&quiet_lock))
            die("pthread_mutex_unlock");
    }
    printf("quiet: sum %u\n", sum);
    printf("quiet: done\n");
    return 7;
}
