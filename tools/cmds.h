/*
 * cmds.h — the subcommands of the lockprof command, one file each (run.c, top.c, fetch.c),
 * as main.c dispatches them.
 *
 * Each takes the arguments from its own name on (argv[0] is "run", "top" or "fetch"),
 * prints its usage for -h or --help, and returns the command's exit status (or exits: a
 * usage error, a failure, `run` leaving the way its program left). Context: the command's
 * one thread.
 */
#ifndef LP_CMDS_H
#define LP_CMDS_H

int cmd_run(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_combine(int argc, char **argv);
int cmd_fetch(int argc, char **argv);

#endif
