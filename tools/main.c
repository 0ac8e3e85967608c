/*
 * main.c — the lockprof command (DESIGN §7, tools/): its usage, --help and --version, and the
 * dispatch to one subcommand (cmds.h).
 *
 *   lockprof run [--block-rate NS] [--mutex-fraction N] [--cpu[=HZ]] [-o PREFIX] [--]
 *                PROGRAM ARGS...
 *   lockprof top [-n N] [--by delay|contentions] [--stacks] FILE...
 *   lockprof fetch [-o FILE] [--seconds N [--rate NS] [--fraction N]] [--debug 1] [--json]
 *                  [--timeout S] ADDRESS [WHAT]
 *   lockprof combine [-o FILE] CPU.pb.gz BLOCK.pb.gz
 *
 * `run` (run.c) starts PROGRAM with liblockprof.so preloaded, passes on the termination
 * signals sent to lockprof itself, says where the profiles went and leaves with PROGRAM's
 * status (or dies of the same signal). `top` (top.c, profread.c) reads any pprof profile that
 * has contentions and delay sample types (lockprof's or Go's block and mutex profiles) and
 * prints its heaviest functions, as `go tool pprof -top` does, then its heaviest stacks, for
 * machines without Go. `fetch` (fetch.c, httpc.c) gets a profile or the threads view from a
 * running program's LOCKPROF_HTTP endpoint into a file, as `go tool pprof http://...` would,
 * also for machines without Go. `combine` (combine.c) merges a run's CPU and block profiles
 * into one profile of where its threads' time went. The manual is tools/lockprof.1 and
 * include/lockprof.3.
 *
 * This program is not inside the profiled process: it may use malloc and stdio. Messages are
 * one line each, "lockprof CMD: ..." (cli.h). Exit status 2 for usage errors and for files
 * `top` cannot read; `run` otherwise leaves with the program's status; `fetch` exits 1 when
 * the fetch itself failed (no connection, no answer in time, an error from the endpoint).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "lockprof.h"

static const char main_usage[] =
    "usage: lockprof run [OPTIONS] [--] PROGRAM [ARGS...]\n"
    "       lockprof top [OPTIONS] FILE...\n"
    "       lockprof fetch [OPTIONS] ADDRESS [WHAT]\n"
    "       lockprof combine [-o FILE] CPU.pb.gz BLOCK.pb.gz\n"
    "       lockprof --help | --version\n"
    "\n"
    "lockprof finds lock contention in unmodified programs that use POSIX threads.\n"
    "'run' starts PROGRAM with liblockprof.so preloaded; when PROGRAM ends, two pprof\n"
    "profiles in Go's format are written:\n"
    "  PREFIX.block.pb.gz   where threads waited (stacks of the waiting threads)\n"
    "  PREFIX.mutex.pb.gz   who made them wait (stacks that released a lock others waited for)\n"
    "'top' prints the heaviest functions and stacks of such a profile, for machines\n"
    "without Go; 'go tool pprof' reads the same files. 'fetch' gets the profiles, or\n"
    "what each thread waits for now, from a program running with LOCKPROF_HTTP set.\n"
    "\n"
    "commands:\n"
    "  run        run a program under the profiler   (see 'lockprof run --help')\n"
    "  top        summarize a contention profile     (see 'lockprof top --help')\n"
    "  fetch      get a running program's profile    (see 'lockprof fetch --help')\n"
    "  combine    CPU and block profile in one graph (see 'lockprof combine --help')\n"
    "\n"
    "options:\n"
    "  -h, --help     show this help\n"
    "  --version      print the version\n"
    "\n"
    "example:\n"
    "  lockprof run -o /tmp/srv -- ./server --port 8080\n"
    "  lockprof top /tmp/srv.mutex.pb.gz\n"
    "\n"
    "The manual: 'man lockprof' (this command, its files and signals) and\n"
    "'man 3 lockprof' (the library: what is profiled, its LOCKPROF_* variables, the\n"
    "C API, the HTTP endpoint).\n";

static const struct {
    const char *name;
    int (*cmd)(int argc, char **argv);
} main_cmds[] = { { "run", cmd_run }, { "top", cmd_top }, { "fetch", cmd_fetch },
                  { "combine", cmd_combine } };

/* The subcommand of that name; -1 if there is none. */
static int main_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof main_cmds / sizeof main_cmds[0]; i++)
        if (strcmp(name, main_cmds[i].name) == 0)
            return (int)i;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return LP_CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        /* "help CMD": a subcommand's usage is its own --help. */
        int k = main_find(argc > 2 ? argv[2] : NULL);
        if (k < 0) {
            fputs(main_usage, stdout);
            return 0;
        }
        char *help[] = { (char *)main_cmds[k].name, (char *)"--help", NULL };
        return main_cmds[k].cmd(2, help);
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("lockprof %s\n", LOCKPROF_VERSION);
        return 0;
    }
    int k = main_find(cmd);
    if (k >= 0)
        return main_cmds[k].cmd(argc - 1, argv + 1);
    if (cmd[0] == '-')
        lp_cli_usage_error(NULL, "unknown option '%s'", cmd);
    lp_cli_usage_error(NULL, "unknown command '%s'", cmd);
}
