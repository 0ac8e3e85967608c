/*
 * prog_envclean — a program that hands its children an environment of its own choosing
 * (host_life.t). Usage: prog_envclean MODE
 *   execle    execle printenv with an environment of one variable, X=1
 *   empty     execve printenv with an empty environment
 *   unset     unsetenv("LD_PRELOAD"), then system("printenv")
 *   keep      execv printenv with the program's own environment, unchanged
 * printenv prints the environment the child got.
 */
#include <stdlib.h>
#include <string.h>

#include "progutil.h"

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *printenv[] = { "printenv", NULL };
    if (strcmp(argv[1], "execle") == 0) {
        char *env[] = { "X=1", NULL };
        execle("/usr/bin/printenv", "printenv", (char *)NULL, env);
    } else if (strcmp(argv[1], "empty") == 0) {
        char *env[] = { NULL };
        execve("/usr/bin/printenv", printenv, env);
    } else if (strcmp(argv[1], "unset") == 0) {
        unsetenv("LD_PRELOAD");
        return system("printenv") == 0 ? 0 : 1;
    } else if (strcmp(argv[1], "keep") == 0) {
        execv("/usr/bin/printenv", printenv);
    }
    die("exec");
}
