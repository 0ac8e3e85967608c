/*
 * prog_snapfill — snapshots on a disk that fills up (DESIGN §5: files are complete or absent).
 *
 * Each step records new distinct stacks (a 1 ms pthread_cond_timedwait that times out, reached
 * through 9 levels of two functions: up to 512 stacks) and calls lockprof_snapshot(). After
 * snapshot 4 the "disk" fills: RLIMIT_FSIZE becomes the size of the largest file written so
 * far plus 200 bytes (SIGXFSZ ignored: a write past it fails with EFBIG), and the next steps
 * record 150 new stacks each, so their snapshots, and the final profile at exit, cannot be
 * written whole. Prints "snapshot STEP RC" for each of the 7 steps.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "progutil.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static __attribute__((noinline)) void fill_wait(void)
{
    struct timespec ts = deadline_in_ms(1);
    pthread_mutex_lock(&m);
    pthread_cond_timedwait(&cv, &m, &ts);
    pthread_mutex_unlock(&m);
}

static off_t size_of(const char *prefix, int n, const char *what)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s.snapshot-%d.%s", prefix, n, what);
    return stat(path, &st) == 0 ? st.st_size : 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int (*snapshot)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "lockprof_snapshot");
    const char *prefix = getenv("LOCKPROF_OUT");
    if (!snapshot || !prefix) {
        fprintf(stderr, "run under the preload, with LOCKPROF_OUT\n");
        return 2;
    }
    signal(SIGXFSZ, SIG_IGN);
    unsigned next = 0;
    for (int step = 1; step <= 7; step++) {
        if (step == 5) {
            off_t largest = 0;
            for (int n = 1; n <= 4; n++) {
                const char *what[] = { "block.pb.gz", "mutex.pb.gz", "threads.txt" };
                for (int w = 0; w < 3; w++)
                    if (size_of(prefix, n, what[w]) > largest)
                        largest = size_of(prefix, n, what[w]);
            }
            struct rlimit rl = { (rlim_t)largest + 200, (rlim_t)largest + 200 };
            if (largest == 0 || setrlimit(RLIMIT_FSIZE, &rl) != 0)
                die("setrlimit");
        }
        for (unsigned end = next + (step <= 4 ? 1 : 150); next < end && next < 512; next++)
            distinct_stack(fill_wait, next, 9);
        printf("snapshot %d %d\n", step, snapshot());
    }
    return 0;
}
