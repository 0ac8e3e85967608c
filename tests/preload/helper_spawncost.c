/*
 * helper_spawncost — runs a command many times under a preload and reports the mean minor
 * page faults of one run, for startcost.t (Perl's core has no getrusage).
 *
 *   helper_spawncost N PRELOAD COMMAND [ARGS...]
 *
 * Starts COMMAND N times, one after another, with this process's environment plus
 * LD_PRELOAD=PRELOAD ("-": none), by vfork and execve (the child copies no page of this
 * process first; this process itself runs without the preload), and prints "faults F", the
 * mean of wait4's ru_minflt over the runs, two decimals. Exit 1 if a run could not be started
 * or did not exit 0 (one line on stderr), 2 for usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    char *end;
    long n = argc > 3 ? strtol(argv[1], &end, 10) : 0;
    if (argc < 4 || *end || n <= 0) {
        fprintf(stderr, "usage: helper_spawncost N PRELOAD COMMAND [ARGS...]\n");
        return 2;
    }
    size_t k = 0;
    while (environ[k])
        k++;
    char **envp = calloc(k + 2, sizeof *envp);
    char *preload = malloc(strlen(argv[2]) + sizeof "LD_PRELOAD=");
    if (!envp || !preload) {
        fprintf(stderr, "helper_spawncost: out of memory\n");
        return 1;
    }
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
            envp[m++] = environ[i];
    if (strcmp(argv[2], "-") != 0) {
        strcpy(preload, "LD_PRELOAD=");
        strcat(preload, argv[2]);
        envp[m++] = preload;
    }
    envp[m] = NULL;
    long faults = 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = vfork();
        if (pid == 0) {
            execve(argv[3], argv + 3, envp);
            _exit(127);
        }
        if (pid < 0) {
            fprintf(stderr, "helper_spawncost: vfork: %s\n", strerror(errno));
            return 1;
        }
        int st;
        struct rusage ru;
        if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "helper_spawncost: %s did not exit 0 (status %d)\n", argv[3], st);
            return 1;
        }
        faults += ru.ru_minflt;
    }
    printf("faults %.2f\n", (double)faults / (double)n);
    return 0;
}
