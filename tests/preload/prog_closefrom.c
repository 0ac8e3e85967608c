/*
 * prog_closefrom — a daemon-like start (DESIGN §6): right after main begins
 * it closes every descriptor above 2 (closefrom(3)) or every descriptor (close_range(0, ~0)),
 * opens its own files (which get the lowest numbers, 0, 1 and 2 in the second case), runs a
 * convoy, and writes one line to each file. lockprof must profile it correctly and never
 * write a byte into those files.
 *   closefrom DIR   closefrom(3); DIR/data gets "data\n" and the measures
 *   all DIR         close everything; DIR/data0, data1, data2 are fds 0, 1, 2; data1 gets the
 *                   measures (it is stdout now), data0 "zero\n", data2 "two\n"
 * Also prints "measure fds N": the descriptors below 512 open at the end (/proc/self/fd).
 */
#include <dirent.h>

#include "progutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __attribute__((noinline)) void closefrom_waiter_wait(void)
{
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
    __asm__ volatile("" ::: "memory");
}

static uint64_t closefrom_release(void)
{
    uint64_t t = now_ns();
    pthread_mutex_unlock(&lock);
    return t;
}

static int open_in(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    /* The program's own range: the lowest numbers (libunwind's pipe, when lockprof is there,
     * lives at the top of the descriptor range). */
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && atoi(e->d_name) < 512)
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *dir = argv[2];
    int data;
    if (!strcmp(argv[1], "closefrom")) {
        closefrom(3);
        data = open_in(dir, "data");
    } else {
        close_range(0, ~0U, 0);
        if (open_in(dir, "data0") != 0 || open_in(dir, "data1") != 1 ||
            open_in(dir, "data2") != 2)
            return 3;
        data = 0;
    }
    if (data < 0)
        return 4;

    struct small_convoy c;
    small_convoy(&lock, 30, closefrom_waiter_wait, closefrom_release, &c);

    if (!strcmp(argv[1], "closefrom")) {
        dprintf(data, "data\n");
    } else {
        dprintf(0, "zero\n");
        dprintf(2, "two\n");
    }
    measure("wait_total", c.wait_total);
    measure("fds", (uint64_t)count_fds());
    fflush(stdout);
    return 0;
}
