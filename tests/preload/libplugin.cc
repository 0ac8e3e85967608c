/*
 * libplugin — a plugin that prog_dlclose dlopens, contends on inside its own functions, and
 * dlcloses before the profiles are written (dlclose.t, DESIGN §3.5: an unloaded
 * library keeps its names). The mutex is the plugin's own; C linkage so dlsym finds the
 * names and the profiles show them unmangled.
 *
 *   void plugin_hold(void)                  locks the plugin's mutex
 *   uint64_t plugin_release(void)           unlocks it; returns the time just before
 *   void plugin_wait(struct plugin_waiter *w)
 *                                           announces itself (tid, then arrived += 1), locks
 *                                           the mutex (waiting for the holder), unlocks it;
 *                                           w->start and w->waited are its measured wait
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern "C" {

struct plugin_waiter {
    int tid;
    int *arrived;
    uint64_t start, waited;
};

static pthread_mutex_t plugin_mutex = PTHREAD_MUTEX_INITIALIZER;

static uint64_t plugin_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((visibility("default"), noinline)) void plugin_hold(void)
{
    pthread_mutex_lock(&plugin_mutex);
}

__attribute__((visibility("default"), noinline)) uint64_t plugin_release(void)
{
    uint64_t t = plugin_now();
    pthread_mutex_unlock(&plugin_mutex);
    return t;
}

__attribute__((visibility("default"), noinline)) void plugin_wait(struct plugin_waiter *w)
{
    uint64_t t0 = plugin_now();
    w->start = t0;
    __atomic_store_n(&w->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
    __atomic_fetch_add(w->arrived, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&plugin_mutex);
    w->waited = plugin_now() - t0;
    pthread_mutex_unlock(&plugin_mutex);
}

}
