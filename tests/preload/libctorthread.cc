/*
 * libctorthread — a library whose constructor starts a thread and waits for it (resolve.t).
 * dlopen runs the constructor holding the loader's lock; the thread's calls (a read-write lock,
 * a semaphore, a join with a timeout) are the process's first of their kind. ctorthread_done
 * is 1 once the constructor has seen the thread end.
 */
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

extern "C" {
int ctorthread_done;
}

namespace {

void *ctorthread_sleeper(void *)
{
    return nullptr;
}

void *ctorthread_worker(void *)
{
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    pthread_rwlock_rdlock(&rw);
    pthread_rwlock_unlock(&rw);
    pthread_rwlock_wrlock(&rw);
    pthread_rwlock_unlock(&rw);
    sem_t s;
    sem_init(&s, 0, 1);
    sem_wait(&s);
    sem_destroy(&s);
    pthread_t t;
    if (pthread_create(&t, nullptr, ctorthread_sleeper, nullptr) == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 60;
        pthread_timedjoin_np(t, nullptr, &ts);
    }
    return nullptr;
}

__attribute__((constructor)) void ctorthread_start()
{
    pthread_t t;
    if (pthread_create(&t, nullptr, ctorthread_worker, nullptr) == 0 &&
        pthread_join(t, nullptr) == 0)
        ctorthread_done = 1;
}

} // namespace
