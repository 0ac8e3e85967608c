/*
 * prog_forkdl — forks while another thread dlopens and dlcloses a library in a loop
 * (forkdl.t, DESIGN §5: a fork child never inherits lockprof's state half-written).
 * Usage: prog_forkdl CHURN.so PLUGIN-PREFIX forks
 *
 * The churning thread opens and closes CHURN.so for ever; every dlclose makes lockprof rescan
 * the loaded objects (interpose/library.c). Before fork i the main thread opens a plugin that
 * was never loaded before, PLUGIN-PREFIX<i>.so (a copy of libplugin.so), and closes a second
 * reference to it (a dlclose that unloads nothing, after which lockprof knows the plugin: a
 * child forked while the churner is inside dlopen or dlclose cannot ask the loader), then forks
 * after a pause that varies from fork to fork, so that forks land now and then in the middle
 * of one of the churner's rescans. The child (which calls nothing of the loader's:
 * after fork in a threaded program it may not) waits once inside the new plugin's plugin_wait
 * while its main thread holds the plugin's mutex, writes its profiles (lockprof's C API, when
 * preloaded) and leaves with _exit: its profile must name the plugin's frames. The parent prints "child N status S" for each child, then "forks F done".
 */
#include <dlfcn.h>
#include <sys/wait.h>

#include "progutil.h"

struct plugin_waiter {
    int tid;
    int *arrived;
    uint64_t start, waited;
};

struct plugin {
    void (*hold)(void);
    uint64_t (*release)(void);
    void (*wait)(struct plugin_waiter *);
};

static const char *churn;
static int stop, cycles;

static void *churner(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        void *h = dlopen(churn, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            die("dlopen (churn)");
        dlclose(h);
        __atomic_fetch_add(&cycles, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static struct plugin child_plugin;

static void *waiter(void *arg)
{
    child_plugin.wait(arg);
    return NULL;
}

/* lockprof's lockprof_write_profiles when preloaded (looked up before any fork: the child may
 * not call the loader), else NULL. */
static int (*write_profiles)(void);

/* The child: one wait inside the plugin, its profiles written, then _exit: exit() would run
 * glibc's exit handlers, whose lock a dlclose in the parent's other thread may hold at the
 * moment of the fork (glibc resets it in no child; measured: children hung in exit). */
static void child(void)
{
    alarm(30);
    int arrived = 0;
    struct plugin_waiter w = { .tid = 0, .arrived = &arrived };
    child_plugin.hold();
    pthread_t t;
    if (pthread_create(&t, NULL, waiter, &w) != 0)
        _exit(99);
    await_at_least(&arrived, 1);
    int tid = __atomic_load_n(&w.tid, __ATOMIC_ACQUIRE);
    await_all_asleep(&tid, 1);
    sleep_ms(2);
    child_plugin.release();
    pthread_join(t, NULL);
    _exit(write_profiles && write_profiles() != 0 ? 96 : 0);
}

static void open_plugin(const char *path, struct plugin *p)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        exit(99);
    }
    *(void **)&p->hold = dlsym(h, "plugin_hold");
    *(void **)&p->release = dlsym(h, "plugin_release");
    *(void **)&p->wait = dlsym(h, "plugin_wait");
    if (!p->hold || !p->release || !p->wait)
        die("dlsym");
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s CHURN.so PLUGIN-PREFIX forks\n", argv[0]);
        return 2;
    }
    churn = argv[1];
    int forks = atoi(argv[3]);
    *(void **)&write_profiles = dlsym(RTLD_DEFAULT, "lockprof_write_profiles");
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, churner, NULL) != 0)
        die("pthread_create");
    await_at_least(&cycles, 1);
    for (int i = 0; i < forks; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s%d.so", argv[2], i);
        open_plugin(path, &child_plugin);
        void *again = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
        if (!again || dlclose(again) != 0)
            die("dlopen RTLD_NOLOAD");
        /* 0 to 400 us: the fork lands at varied points of the churner's cycle. */
        uint64_t until = now_ns() + (uint64_t)((i * 37) % 11) * 40000;
        while (now_ns() < until)
            ;
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0)
            child();
        int st;
        if (waitpid(pid, &st, 0) != pid)
            die("waitpid");
        printf("child %d status %d\n", (int)pid, st);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    printf("forks %d done\n", forks);
    return 0;
}
