/*
 * bench_spawn.c — runs one real program for `make bench` (DESIGN §9) and reports what it cost:
 * the wall time from fork to its end, and its CPU time (user + sys, all its threads) from
 * wait4's rusage, in seconds. Driven by tests/bench/run (the pigz workload).
 *
 *   bench_spawn [--preload SO] [--stdin FILE] [--stdout FILE] [--per N] -- PROG [ARG...]
 *       Prints: wall_s X cpu_s Y; with --per N (PROG starts N processes), also the cost per
 *       process in milliseconds: ms_per_proc X cpu_ms_per_proc Y
 *
 * Why a program of its own: Perl's times() counts in clock ticks (10 ms, 0.5-1 % of a pigz
 * run), and getrusage/wait4 need no module outside core Perl this way. The preload is set in
 * the child only: the spawner itself never runs under lockprof, so neither its fork nor its
 * wait is in the measurement's profile or cost.
 *
 * Exit status: 0; 1 if PROG could not be run or did not exit 0 (one line on stderr); 2 on a
 * usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

static void usage(void)
{
    fprintf(stderr, "usage: bench_spawn [--preload SO] [--stdin FILE] [--stdout FILE] [--per N] "
                    "-- PROG [ARG...]\n");
    exit(2);
}

/* In the child: FILE opened with flags onto descriptor fd, or _exit(127) saying why. */
static void redirect(const char *file, int flags, int fd)
{
    int f = open(file, flags | O_CLOEXEC, 0644);
    if (f < 0 || dup2(f, fd) < 0) {
        fprintf(stderr, "bench_spawn: %s: %s\n", file, strerror(errno));
        _exit(127);
    }
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
    const char *preload = NULL, *in = NULL, *out = NULL;
    long per = 0;
    int i = 1;
    bench_name = "bench_spawn";
    for (; i < argc; i += 2) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--preload"))
            preload = argv[i + 1];
        else if (!strcmp(argv[i], "--stdin"))
            in = argv[i + 1];
        else if (!strcmp(argv[i], "--stdout"))
            out = argv[i + 1];
        else if (!strcmp(argv[i], "--per") && (per = strtol(argv[i + 1], NULL, 10)) > 0)
            ;
        else
            usage();
    }
    if (i >= argc)
        usage();

    fflush(NULL);
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_spawn: fork");
        return 1;
    }
    if (pid == 0) {
        if (preload && setenv("LD_PRELOAD", preload, 1) != 0)
            _exit(127);
        if (in)
            redirect(in, O_RDONLY, 0);
        if (out)
            redirect(out, O_WRONLY | O_CREAT | O_TRUNC, 1);
        execvp(argv[i], argv + i);
        fprintf(stderr, "bench_spawn: exec %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("bench_spawn: wait4");
            return 1;
        }
    }
    uint64_t t1 = now_ns();
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "bench_spawn: %s died of signal %d\n", argv[i], WTERMSIG(status));
        return 1;
    }
    if (WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_spawn: %s exited with status %d\n", argv[i], WEXITSTATUS(status));
        return 1;
    }
    double wall = (double)(t1 - t0) * 1e-9, cpu = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
    printf("wall_s %.6f cpu_s %.6f", wall, cpu);
    if (per)
        printf(" ms_per_proc %.6f cpu_ms_per_proc %.6f", wall * 1e3 / (double)per,
               cpu * 1e3 / (double)per);
    printf("\n");
    return 0;
}
