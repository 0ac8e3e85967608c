/*
 * helper_pty — runs a command on a new pseudo-terminal and types Ctrl-C at it.
 *
 *   helper_pty WAIT_FOR_TEXT -- CMD [ARGS...]
 *
 * CMD runs as the session leader of a new pty (forkpty), so it and its children form the
 * terminal's foreground process group, as under an interactive shell. Everything the pty
 * prints is copied to stdout (with the terminal's \r\n line ends). Once WAIT_FOR_TEXT has
 * appeared in that output, the terminal's interrupt character (c_cc[VINTR], ^C by default)
 * is written to the master once: the line discipline then sends SIGINT to the whole
 * foreground group, which is what a user's Ctrl-C does. The output is copied on until EOF;
 * then the helper exits with CMD's exit status, or 128 + the signal that killed it.
 *
 * HELPER_PTY_TIMEOUT (seconds, default 120): past it the pty's process group is killed with
 * SIGKILL, a line says so on stderr, and the exit status is 124 (as timeout(1)).
 * Other failures: a line "helper_pty: ..." on stderr, exit status 125; 127 when CMD cannot be
 * executed.
 */
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EXIT_HELPER 125
#define EXIT_TIMEOUT 124

static void pty_fail(const char *what) __attribute__((noreturn));
static void pty_fail(const char *what)
{
    fprintf(stderr, "helper_pty: %s: %s\n", what, strerror(errno));
    exit(EXIT_HELPER);
}

static double pty_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pty_copy_out(const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nobody reads our stdout any more: keep draining the pty regardless */
        }
        buf += w;
        n -= (size_t)w;
    }
}

/* Kills the pty's process group (the command is its leader) and leaves as timeout(1) does. */
static void pty_timed_out(pid_t pid, const char *cmd, double timeout) __attribute__((noreturn));
static void pty_timed_out(pid_t pid, const char *cmd, double timeout)
{
    fprintf(stderr, "helper_pty: %s still running after %g s: killing it\n", cmd, timeout);
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    exit(EXIT_TIMEOUT);
}

/* The terminal's interrupt character, as the line discipline knows it. */
static char pty_intr_char(int master)
{
    struct termios t;
    if (tcgetattr(master, &t) == 0 && t.c_cc[VINTR] != _POSIX_VDISABLE)
        return (char)t.c_cc[VINTR];
    return '\003';
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--") != 0 || argv[1][0] == '\0') {
        fprintf(stderr, "usage: helper_pty WAIT_FOR_TEXT -- CMD [ARGS...]\n");
        return EXIT_HELPER;
    }
    const char *want = argv[1];
    size_t want_len = strlen(want);
    char **cmd = argv + 3;

    double timeout = 120;
    const char *t = getenv("HELPER_PTY_TIMEOUT");
    if (t && *t)
        timeout = atof(t);

    fflush(NULL);
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    if (pid < 0)
        pty_fail("forkpty");
    if (pid == 0) {
        /* The command gets default dispositions for the signals a terminal sends, unblocked,
         * whatever our parent left us (a non-interactive shell's '&' ignores SIGINT). */
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        sigset_t tty_sigs;
        sigemptyset(&tty_sigs);
        sigaddset(&tty_sigs, SIGINT);
        sigaddset(&tty_sigs, SIGQUIT);
        sigprocmask(SIG_UNBLOCK, &tty_sigs, NULL);
        execvp(cmd[0], cmd);
        fprintf(stderr, "helper_pty: %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }

    /* The last want_len - 1 bytes seen, so that the text is found across reads too. */
    char *window = malloc(want_len + 4096);
    if (!window)
        pty_fail("malloc");
    size_t kept = 0;
    int sent = 0;
    double deadline = pty_now() + timeout;

    for (;;) {
        double left = deadline - pty_now();
        if (left <= 0)
            pty_timed_out(pid, cmd[0], timeout);
        struct pollfd p = { .fd = master, .events = POLLIN };
        int rc = poll(&p, 1, left > 1 ? 1000 : (int)(left * 1000) + 1);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            pty_fail("poll");
        }
        if (rc == 0)
            continue;
        char *buf = window + kept;
        ssize_t n = read(master, buf, 4096);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EIO: every process has closed the slave side */
        pty_copy_out(buf, (size_t)n);
        if (sent)
            continue;
        size_t have = kept + (size_t)n;
        if (memmem(window, have, want, want_len)) {
            char c = pty_intr_char(master);
            while (write(master, &c, 1) < 0) {
                if (errno != EINTR)
                    pty_fail("write to the pty");
            }
            sent = 1;
            continue;
        }
        kept = want_len - 1 < have ? want_len - 1 : have;
        memmove(window, window + have - kept, kept);
    }
    free(window);
    close(master);

    /* The slave may be closed before the command is done with: wait for it, still bounded. */
    int status;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            pty_fail("waitpid");
        if (pty_now() > deadline)
            pty_timed_out(pid, cmd[0], timeout);
        struct timespec ts = { 0, 5000000 };
        nanosleep(&ts, NULL);
    }
    if (!sent)
        fprintf(stderr, "helper_pty: '%s' never appeared in the output of %s\n", want, cmd[0]);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
