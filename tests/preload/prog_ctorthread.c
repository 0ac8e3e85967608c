/*
 * prog_ctorthread — dlopens LIB (libctorthread.so), whose constructor waits for a thread of
 * its own, and prints "done N" with the library's ctorthread_done (resolve.t).
 * Usage: prog_ctorthread LIB
 */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: prog_ctorthread LIB\n");
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "prog_ctorthread: %s\n", dlerror());
        return 1;
    }
    int *done = dlsym(h, "ctorthread_done");
    printf("done %d\n", done ? *done : -1);
    return 0;
}
