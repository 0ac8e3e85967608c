/*
 * prog_exec — a program that replaces itself (DESIGN §5: exec writes a final profile first,
 * and the new image's files do not overwrite it).
 *
 * Stage N runs a small convoy (2 waiters on a mutex held ~HOLD ms) whose waiters are in
 * stageN_waiter_wait and whose holder is stageN_holder_release, prints its measures with the
 * prefix "stageN_", then goes on to stage N+1 (up to LAST) by HOW:
 *   execv execve execvp execvpe execl execlp execle fexecve execveat   this process execs
 *   fork    a child execs (the parent waits for it, then exits)
 *   vfork   a vfork child execs
 *   spawn   posix_spawn
 *   fail    an exec that fails (ENOENT): prints its errno, goes on as stage N
 * The calls that take an environment get environ without LOCKPROF_ORIGIN/LOCKPROF_EXEC, to
 * show lockprof passes its lineage on anyway.
 * Usage: prog_exec HOW LAST [STAGE]
 */
#include <errno.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "progutil.h"

extern char **environ;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const unsigned hold_ms = 30;

#define STAGE_FUNCS(n)                                                                         \
    static __attribute__((noinline)) void stage##n##_waiter_wait(void)                         \
    {                                                                                          \
        pthread_mutex_lock(&lock);                                                             \
        pthread_mutex_unlock(&lock);                                                           \
        __asm__ volatile("" ::: "memory");                                                     \
    }                                                                                          \
    static __attribute__((noinline)) uint64_t stage##n##_holder_release(void)                  \
    {                                                                                          \
        uint64_t t = now_ns();                                                                 \
        pthread_mutex_unlock(&lock);                                                           \
        __asm__ volatile("" ::: "memory");                                                     \
        return t;                                                                              \
    }
STAGE_FUNCS(1)
STAGE_FUNCS(2)
STAGE_FUNCS(3)

static void (*const waiter_fn[4])(void) = { 0, stage1_waiter_wait, stage2_waiter_wait,
                                            stage3_waiter_wait };
static uint64_t (*const release_fn[4])(void) = { 0, stage1_holder_release,
                                                 stage2_holder_release, stage3_holder_release };
static int stage;

static void convoy(void)
{
    struct small_convoy c;
    small_convoy(&lock, hold_ms, waiter_fn[stage], release_fn[stage], &c);
    char key[64];
    snprintf(key, sizeof key, "stage%d_pid", stage);
    measure(key, (uint64_t)getpid());
    snprintf(key, sizeof key, "stage%d_wait_total", stage);
    measure(key, c.wait_total);
    snprintf(key, sizeof key, "stage%d_wait_count", stage);
    measure(key, c.wait_count);
    snprintf(key, sizeof key, "stage%d_owed", stage);
    measure(key, c.owed);
    fflush(stdout);
}

/* environ without lockprof's lineage variables. */
static char **plain_env(void)
{
    static char *env[4096];
    int k = 0;
    for (char **e = environ; *e && k < 4094; e++)
        if (strncmp(*e, "LOCKPROF_ORIGIN=", 16) != 0 && strncmp(*e, "LOCKPROF_EXEC=", 14) != 0)
            env[k++] = *e;
    env[k] = NULL;
    return env;
}

static void wait_child(pid_t pid)
{
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        die("waitpid");
    measure("child_status", (uint64_t)st);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *how = argv[1];
    int last = atoi(argv[2]);
    stage = argc > 3 ? atoi(argv[3]) : 1;
    convoy();
    if (stage >= last)
        return 0;

    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        die("readlink");
    self[n] = '\0';
    char next[16], dir[4096];
    snprintf(next, sizeof next, "%d", stage + 1);
    char *args[] = { "prog_exec", (char *)how, argv[2], next, NULL };
    strcpy(dir, self);
    *strrchr(dir, '/') = '\0';

    if (!strcmp(how, "execv")) {
        execv(self, args);
    } else if (!strcmp(how, "execve")) {
        execve(self, args, plain_env());
    } else if (!strcmp(how, "execvp")) {
        setenv("PATH", dir, 1);
        execvp("prog_exec", args);
    } else if (!strcmp(how, "execvpe")) {
        setenv("PATH", dir, 1);
        execvpe("prog_exec", args, plain_env());
    } else if (!strcmp(how, "execl")) {
        execl(self, "prog_exec", how, argv[2], next, (char *)NULL);
    } else if (!strcmp(how, "execlp")) {
        setenv("PATH", dir, 1);
        execlp("prog_exec", "prog_exec", how, argv[2], next, (char *)NULL);
    } else if (!strcmp(how, "execle")) {
        execle(self, "prog_exec", how, argv[2], next, (char *)NULL, plain_env());
    } else if (!strcmp(how, "fexecve")) {
        int fd = open(self, O_RDONLY); /* not O_CLOEXEC: fexecve runs a script-less binary */
        fexecve(fd, args, plain_env());
    } else if (!strcmp(how, "execveat")) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY);
        execveat(fd, "prog_exec", args, plain_env(), 0);
    } else if (!strcmp(how, "fork")) {
        pid_t pid = fork();
        if (pid == 0) {
            execv(self, args);
            _exit(127);
        }
        wait_child(pid);
        return 0;
    } else if (!strcmp(how, "vfork")) {
        pid_t pid = vfork();
        if (pid == 0) {
            execv(self, args);
            _exit(127);
        }
        wait_child(pid);
        return 0;
    } else if (!strcmp(how, "spawn")) {
        pid_t pid;
        if (posix_spawn(&pid, self, NULL, NULL, args, environ) != 0)
            die("posix_spawn");
        wait_child(pid);
        return 0;
    } else if (!strcmp(how, "fail")) {
        errno = 0;
        int rc = execv("/nonexistent/prog_exec", args);
        measure("fail_rc", (uint64_t)(rc + 1));
        measure("fail_errno", (uint64_t)errno);
        return 0;
    }
    die(how);
}
