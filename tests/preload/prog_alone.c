/*
 * prog_alone — a program that never starts a thread (host_life.t). It locks and unlocks a
 * mutex a few times, prints whether glibc still counts it single-threaded
 * (__libc_single_threaded) and how many tasks it has (/proc/self/status), then ends by HOW:
 *   return        return 0 from main
 *   pthread_exit  pthread_exit from main, the last thread: glibc then exits with status 0
 * Usage: prog_alone HOW
 */
#include <sys/single_threaded.h>

#include "progutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int tasks(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *t = strstr(buf, "\nThreads:");
    return t ? atoi(t + 9) : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (int i = 0; i < 10; i++) {
        pthread_mutex_lock(&lock);
        pthread_mutex_unlock(&lock);
    }
    printf("single_threaded %d\n", (int)__libc_single_threaded);
    printf("tasks %d\n", tasks());
    fflush(stdout);
    if (!strcmp(argv[1], "pthread_exit"))
        pthread_exit(NULL);
    return 0;
}
