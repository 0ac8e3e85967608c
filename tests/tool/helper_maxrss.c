/*
 * helper_maxrss — runs a command and reports its peak resident memory, for the Perl tests
 * (Perl's core has no getrusage).
 *
 *   helper_maxrss KILL_AFTER RSS_FILE COMMAND [ARGS...]
 *
 * Runs COMMAND with this process's standard streams. If it still runs after KILL_AFTER
 * seconds it is killed (SIGKILL), so that a test of a command that does not stop still ends.
 * Then writes the command's peak resident set in KiB (ru_maxrss, from wait4) as one line to
 * RSS_FILE, and exits as the command did: its exit status, or 128 + the signal that ended
 * it. Exit 125 when COMMAND cannot be run, 2 for usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t maxrss_child;

static void maxrss_on_alarm(int sig)
{
    (void)sig;
    kill(maxrss_child, SIGKILL);
}

int main(int argc, char **argv)
{
    char *end;
    unsigned long kill_after = argc > 3 ? strtoul(argv[1], &end, 10) : 0;
    if (argc < 4 || *end || kill_after == 0) {
        fprintf(stderr, "usage: helper_maxrss KILL_AFTER RSS_FILE COMMAND [ARGS...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "helper_maxrss: fork: %s\n", strerror(errno));
        return 125;
    }
    if (pid == 0) {
        execvp(argv[3], argv + 3);
        fprintf(stderr, "helper_maxrss: %s: %s\n", argv[3], strerror(errno));
        _exit(125);
    }
    maxrss_child = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = maxrss_on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)kill_after);

    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "helper_maxrss: wait4: %s\n", strerror(errno));
            return 125;
        }
    }
    FILE *f = fopen(argv[2], "w");
    if (!f || fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || fclose(f) != 0) {
        fprintf(stderr, "helper_maxrss: %s: %s\n", argv[2], strerror(errno));
        return 125;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
