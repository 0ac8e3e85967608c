/*
 * prog_dlclose — waits inside a dlopen'ed plugin, then dlclose before exit (dlclose.t).
 * Usage: prog_dlclose /abs/path/libplugin.so [rounds] [hold_ms]
 *
 * Each round: the main thread takes the plugin's mutex (plugin_hold), two threads wait for it
 * inside plugin_wait, and once both are asleep in the lock the main thread holds it HOLD ms
 * more and gives it up (plugin_release). Then the plugin is dlclose'd and the program checks
 * that it really was unloaded ("unloaded 1"). Prints what it measured:
 *   measure wait_total   Σ of the waits measured inside plugin_wait
 *   measure wait_count   their number
 *   measure holder_owed  Σ over waiters of (release − the waiter's start): what the
 *                        plugin_release calls are to be charged
 */
#include <dlfcn.h>

#include "progutil.h"

#define WAITERS 2

struct plugin_waiter {
    int tid;
    int *arrived;
    uint64_t start, waited;
};

static void (*plugin_hold)(void);
static uint64_t (*plugin_release)(void);
static void (*plugin_wait)(struct plugin_waiter *);

static void *waiter(void *arg)
{
    plugin_wait(arg);
    return NULL;
}

static void *must_sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        exit(99);
    }
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/libplugin.so [rounds] [hold_ms]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    unsigned hold_ms = argc > 3 ? (unsigned)atoi(argv[3]) : 30;
    alarm(60);

    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 99;
    }
    *(void **)&plugin_hold = must_sym(h, "plugin_hold");
    *(void **)&plugin_release = must_sym(h, "plugin_release");
    *(void **)&plugin_wait = must_sym(h, "plugin_wait");

    uint64_t wait_total = 0, wait_count = 0, holder_owed = 0;
    for (int r = 0; r < rounds; r++) {
        int arrived = 0, tids[WAITERS];
        struct plugin_waiter w[WAITERS];
        pthread_t t[WAITERS];
        plugin_hold();
        for (int i = 0; i < WAITERS; i++) {
            w[i] = (struct plugin_waiter){ .tid = 0, .arrived = &arrived };
            if (pthread_create(&t[i], NULL, waiter, &w[i]))
                die("pthread_create");
        }
        await_at_least(&arrived, WAITERS);
        for (int i = 0; i < WAITERS; i++)
            tids[i] = __atomic_load_n(&w[i].tid, __ATOMIC_ACQUIRE);
        await_all_asleep(tids, WAITERS);
        sleep_ms(hold_ms);
        uint64_t released = plugin_release();
        for (int i = 0; i < WAITERS; i++) {
            pthread_join(t[i], NULL);
            holder_owed += released - w[i].start;
            wait_total += w[i].waited;
            wait_count++;
        }
    }

    if (dlclose(h) != 0) {
        fprintf(stderr, "dlclose: %s\n", dlerror());
        return 99;
    }
    /* RTLD_NOLOAD finds a library only while it is loaded. */
    printf("unloaded %d\n", dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD) == NULL);
    measure("wait_total", wait_total);
    measure("wait_count", wait_count);
    measure("holder_owed", holder_owed);
    return 0;
}
