/*
 * prog_ioclock — counts lockprof's clock reads around reads and writes. This program defines
 * clock_gettime itself (as prog_clockcount does): the preloaded library's calls land here too.
 *   file    10000 reads of a regular file
 *   socket  10000 writes and reads of 64 bytes on a socketpair
 *   pipe    10000 writes and reads of 1 byte on a pipe (profiled: clocks are read)
 * Prints "clock_reads <what> N" for each. A second thread sleeps throughout (the profiled
 * programs have several).
 */
#include <dlfcn.h>
#include <sys/socket.h>

#include "progutil.h"

#include "clockcount.h"

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

int main(void)
{
    char buf[4096];
    int p[2], s[2];
    pthread_t t;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* resolve before counting */
    if (pthread_create(&t, NULL, sleeper, NULL) || pipe(p) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0)
        die("setup");
    int fd = open("/proc/self/exe", O_RDONLY);
    if (fd < 0)
        die("open");

    unsigned long before = clock_reads;
    for (int i = 0; i < 10000; i++)
        if (pread(fd, buf, 1, 0) != 1 || lseek(fd, 0, SEEK_SET) != 0 || read(fd, buf, sizeof buf) <= 0)
            die("file");
    printf("clock_reads file %lu\n", clock_reads - before);

    before = clock_reads;
    for (int i = 0; i < 10000; i++)
        if (write(s[1], buf, 64) != 64 || read(s[0], buf, 64) != 64)
            die("socket");
    printf("clock_reads socket %lu\n", clock_reads - before);

    before = clock_reads;
    for (int i = 0; i < 10000; i++)
        if (write(p[1], buf, 1) != 1 || read(p[0], buf, 1) != 1)
            die("pipe");
    printf("clock_reads pipe %lu\n", clock_reads - before);
    return 0;
}
