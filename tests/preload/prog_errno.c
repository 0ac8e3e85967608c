/*
 * prog_errno — what every interposed family returns and leaves in errno, on the paths where
 * lockprof does its work: a call that waits and succeeds, one that waits and times out, one
 * glibc refuses at once, one that does not wait. Before each call errno is set to 4242, a
 * value no call sets; one line per call, "check NAME rc=RC errno=E", which must be the same
 * with and without the preload.
 *
 * A call that must wait is made by a thread that the other side lets go only once that thread
 * is asleep in it (/proc/self/task/TID/stat), so every such call really waits, however the
 * machine schedules the threads, and its wait is in the block profile.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/uio.h>
#include <threads.h>

#include "progutil.h"

#define SENTINEL 4242

static void check(const char *name, long rc, int err)
{
    printf("check %s rc=%ld errno=%d\n", name, rc, err);
}

/* ---- a call made by a thread of its own, let go once it sleeps in it ---------------------- */

struct waiter {
    long (*call)(void *arg);
    void *arg;
    long rc;
    int err, tid, done;
};

static void *waiter_main(void *p)
{
    struct waiter *w = p;
    __atomic_store_n(&w->tid, thread_id(), __ATOMIC_RELEASE);
    errno = SENTINEL;
    w->rc = w->call(w->arg);
    w->err = errno;
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Starts call(arg) in a new thread; returns once that thread sleeps in it (or has returned). */
static pthread_t waiter_start(struct waiter *w, long (*call)(void *), void *arg)
{
    memset(w, 0, sizeof *w);
    w->call = call;
    w->arg = arg;
    pthread_t t;
    if (pthread_create(&t, NULL, waiter_main, w) != 0)
        die("pthread_create");
    while (__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE) == 0)
        sleep_ms(1);
    /* A timed call may have slept and timed out before it is seen asleep: done then too. */
    while (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE) && !thread_sleeping(w->tid))
        sleep_ms(1);
    return t;
}

static void waiter_finish(const char *name, struct waiter *w, pthread_t t)
{
    pthread_join(t, NULL);
    check(name, w->rc, w->err);
}

/* A call made here, right now. */
#define NOW(name, expr)                                                                        \
    do {                                                                                       \
        errno = SENTINEL;                                                                      \
        long rc_ = (long)(expr);                                                               \
        check(name, rc_, errno);                                                               \
    } while (0)

/* ---- mutexes -------------------------------------------------------------------------------- */

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static mtx_t c11;

static long do_mutex_lock(void *a) { (void)a; long rc = pthread_mutex_lock(&mtx); pthread_mutex_unlock(&mtx); return rc; }
static long do_mutex_timedlock(void *a)
{
    (void)a;
    struct timespec ts = deadline_in_ms(30);
    return pthread_mutex_timedlock(&mtx, &ts);
}
static long do_mtx_lock(void *a) { (void)a; long rc = mtx_lock(&c11); mtx_unlock(&c11); return rc; }
static long do_mtx_timedlock(void *a)
{
    (void)a;
    struct timespec ts = deadline_in_ms(30);
    return mtx_timedlock(&c11, &ts);
}

static void mutexes(void)
{
    struct waiter w;
    pthread_t t;
    mtx_init(&c11, mtx_plain);

    pthread_mutex_lock(&mtx);
    t = waiter_start(&w, do_mutex_lock, NULL);
    NOW("mutex_unlock_release", pthread_mutex_unlock(&mtx));
    waiter_finish("mutex_lock_waited", &w, t);

    pthread_mutex_lock(&mtx);
    t = waiter_start(&w, do_mutex_timedlock, NULL);
    waiter_finish("mutex_timedlock_timeout", &w, t);
    struct timespec bad = { 0, 2000000000L };
    NOW("mutex_timedlock_einval", pthread_mutex_timedlock(&mtx, &bad));
    struct timespec ts = deadline_in_ms(10);
    NOW("mutex_clocklock_badclock", pthread_mutex_clocklock(&mtx, CLOCK_PROCESS_CPUTIME_ID, &ts));
    pthread_mutex_unlock(&mtx);
    NOW("mutex_lock_free", pthread_mutex_lock(&mtx));
    NOW("mutex_trylock_busy", pthread_mutex_trylock(&mtx));
    NOW("mutex_unlock_free", pthread_mutex_unlock(&mtx));

    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_t ec;
    pthread_mutex_init(&ec, &at);
    pthread_mutex_lock(&ec);
    NOW("mutex_errorcheck_edeadlk", pthread_mutex_lock(&ec));
    pthread_mutex_unlock(&ec);
    NOW("mutex_errorcheck_eperm", pthread_mutex_unlock(&ec));

    mtx_lock(&c11);
    t = waiter_start(&w, do_mtx_lock, NULL);
    NOW("mtx_unlock_release", mtx_unlock(&c11));
    waiter_finish("mtx_lock_waited", &w, t);
    mtx_lock(&c11);
    t = waiter_start(&w, do_mtx_timedlock, NULL);
    waiter_finish("mtx_timedlock_timeout", &w, t);
    mtx_unlock(&c11);
}

/* ---- read-write locks ------------------------------------------------------------------------ */

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

static long do_rdlock(void *a) { (void)a; long rc = pthread_rwlock_rdlock(&rw); pthread_rwlock_unlock(&rw); return rc; }
static long do_timedwrlock(void *a)
{
    (void)a;
    struct timespec ts = deadline_in_ms(30);
    return pthread_rwlock_timedwrlock(&rw, &ts);
}

static void rwlocks(void)
{
    struct waiter w;
    pthread_t t;
    pthread_rwlock_wrlock(&rw);
    t = waiter_start(&w, do_rdlock, NULL);
    NOW("rwlock_unlock_release", pthread_rwlock_unlock(&rw));
    waiter_finish("rwlock_rdlock_waited", &w, t);

    pthread_rwlock_rdlock(&rw);
    t = waiter_start(&w, do_timedwrlock, NULL);
    waiter_finish("rwlock_timedwrlock_timeout", &w, t);
    struct timespec bad = { 0, -1 };
    NOW("rwlock_clockwrlock_einval", pthread_rwlock_clockwrlock(&rw, CLOCK_MONOTONIC, &bad));
    NOW("rwlock_trywrlock_busy", pthread_rwlock_trywrlock(&rw));
    pthread_rwlock_unlock(&rw);
    pthread_rwlock_wrlock(&rw);
    NOW("rwlock_wrlock_edeadlk", pthread_rwlock_wrlock(&rw));
    pthread_rwlock_unlock(&rw);
}

/* ---- semaphores --------------------------------------------------------------------------- */

static sem_t sem;

static long do_sem_wait(void *a) { (void)a; return sem_wait(&sem); }
static long do_sem_timedwait(void *a)
{
    (void)a;
    struct timespec ts = deadline_in_ms(30);
    return sem_timedwait(&sem, &ts);
}

static void semaphores(void)
{
    struct waiter w;
    pthread_t t;
    sem_init(&sem, 0, 0);
    t = waiter_start(&w, do_sem_wait, NULL);
    sem_post(&sem);
    waiter_finish("sem_wait_waited", &w, t);
    t = waiter_start(&w, do_sem_timedwait, NULL);
    waiter_finish("sem_timedwait_timeout", &w, t);
    struct timespec ts = deadline_in_ms(10);
    NOW("sem_clockwait_badclock", sem_clockwait(&sem, CLOCK_THREAD_CPUTIME_ID, &ts));
    NOW("sem_trywait_eagain", sem_trywait(&sem));
    sem_post(&sem);
    NOW("sem_wait_token", sem_wait(&sem));
}

/* ---- condition variables ----------------------------------------------------------------- */

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static cnd_t ccv;
static mtx_t ccm;
static int signalled;

static long do_cond_wait(void *a)
{
    (void)a;
    long rc = 0;
    pthread_mutex_lock(&cm);
    while (!signalled) {
        errno = SENTINEL;
        rc = pthread_cond_wait(&cv, &cm);
    }
    int err = errno;
    pthread_mutex_unlock(&cm);
    errno = err;
    return rc;
}

static long do_cond_timedwait(void *a)
{
    (void)a;
    struct timespec ts = deadline_in_ms(30);
    pthread_mutex_lock(&cm);
    long rc;
    do {
        errno = SENTINEL;
        rc = pthread_cond_timedwait(&cv, &cm, &ts);
    } while (rc == 0);
    int err = errno;
    pthread_mutex_unlock(&cm);
    errno = err;
    return rc;
}

static long do_cnd_timedwait(void *a)
{
    (void)a;
    struct timespec ts = deadline_in_ms(30);
    mtx_lock(&ccm);
    long rc;
    do {
        errno = SENTINEL;
        rc = cnd_timedwait(&ccv, &ccm, &ts);
    } while (rc == thrd_success);
    int err = errno;
    mtx_unlock(&ccm);
    errno = err;
    return rc;
}

static void conditions(void)
{
    struct waiter w;
    pthread_t t;
    cnd_init(&ccv);
    mtx_init(&ccm, mtx_plain);
    t = waiter_start(&w, do_cond_wait, NULL);
    pthread_mutex_lock(&cm);
    signalled = 1;
    NOW("cond_signal", pthread_cond_signal(&cv));
    pthread_mutex_unlock(&cm);
    waiter_finish("cond_wait_waited", &w, t);
    t = waiter_start(&w, do_cond_timedwait, NULL);
    waiter_finish("cond_timedwait_timeout", &w, t);
    t = waiter_start(&w, do_cnd_timedwait, NULL);
    waiter_finish("cnd_timedwait_timeout", &w, t);
    struct timespec bad = { 0, 1000000000L };
    pthread_mutex_lock(&cm);
    NOW("cond_timedwait_einval", pthread_cond_timedwait(&cv, &cm, &bad));
    struct timespec ts = deadline_in_ms(10);
    NOW("cond_clockwait_badclock", pthread_cond_clockwait(&cv, &cm, CLOCK_PROCESS_CPUTIME_ID, &ts));
    pthread_mutex_unlock(&cm);
}

/* ---- threads: joins and barriers ---------------------------------------------------------- */

static int main_tid, let_go;
static pthread_barrier_t barrier;

/* Ends once the main thread sleeps (in its join), or once let go. */
static void *joined_main(void *a)
{
    (void)a;
    if (a)
        await_all_asleep(&main_tid, 1);
    else
        await_at_least(&let_go, 1);
    return NULL;
}

static long do_barrier(void *a) { (void)a; return pthread_barrier_wait(&barrier); }

static void threads(void)
{
    pthread_t t;
    main_tid = thread_id();
    pthread_create(&t, NULL, joined_main, (void *)1);
    NOW("join_waited", pthread_join(t, NULL));
    pthread_create(&t, NULL, joined_main, NULL);
    struct timespec ts = deadline_in_ms(30);
    NOW("timedjoin_timeout", pthread_timedjoin_np(t, NULL, &ts));
    __atomic_store_n(&let_go, 1, __ATOMIC_RELEASE);
    NOW("join_late", pthread_join(t, NULL));
    NOW("join_self_edeadlk", pthread_join(pthread_self(), NULL));

    struct waiter w;
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_t b = waiter_start(&w, do_barrier, NULL);
    NOW("barrier_last_serial", pthread_barrier_wait(&barrier));
    waiter_finish("barrier_waited", &w, b);
}

/* ---- pipes and queues ----------------------------------------------------------------------- */

static int pfd[2];
static char byte;

static long do_read(void *a) { (void)a; return read(pfd[0], &byte, 1); }
static long do_readv(void *a)
{
    (void)a;
    struct iovec v = { &byte, 1 };
    return readv(pfd[0], &v, 1);
}
static long do_write(void *a) { (void)a; return write(pfd[1], "w", 1); }

static mqd_t mq;
static char mqbuf[64];
static int msq;
struct msg {
    long type;
    char text[8];
};

static long do_mq_receive(void *a) { (void)a; return mq_receive(mq, mqbuf, sizeof mqbuf, NULL); }
static long do_mq_timedreceive(void *a)
{
    (void)a;
    struct timespec ts = deadline_in_ms(30);
    return mq_timedreceive(mq, mqbuf, sizeof mqbuf, NULL, &ts);
}
static long do_msgrcv(void *a)
{
    (void)a;
    struct msg m;
    return msgrcv(msq, &m, sizeof m.text, 0, 0);
}

static void pipes_and_queues(void)
{
    struct waiter w;
    pthread_t t;
    if (pipe(pfd) != 0)
        die("pipe");
    t = waiter_start(&w, do_read, NULL);
    NOW("write_pipe", write(pfd[1], "x", 1));
    waiter_finish("read_waited", &w, t);
    t = waiter_start(&w, do_readv, NULL);
    NOW("write_pipe_2", write(pfd[1], "y", 1));
    waiter_finish("readv_waited", &w, t);

    /* A full pipe: a write waits until the main thread reads. */
    fcntl(pfd[1], F_SETFL, O_NONBLOCK);
    char big[4096];
    memset(big, 'z', sizeof big);
    long filled = 0;
    for (ssize_t n; (n = write(pfd[1], big, sizeof big)) > 0;)
        filled += n;
    fcntl(pfd[1], F_SETFL, 0);
    t = waiter_start(&w, do_write, NULL);
    for (long left = filled + 1; left > 0;) {
        ssize_t n = read(pfd[0], big, left < (long)sizeof big ? (size_t)left : sizeof big);
        if (n <= 0)
            die("read");
        left -= n;
    }
    waiter_finish("write_waited", &w, t);
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    NOW("read_eagain", read(pfd[0], &byte, 1));
    NOW("read_ebadf", read(-1, &byte, 1));

    char name[64];
    snprintf(name, sizeof name, "/lockprof-errno-%d", (int)getpid());
    struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = sizeof mqbuf };
    mq = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (mq == (mqd_t)-1)
        die("mq_open");
    mq_unlink(name);
    t = waiter_start(&w, do_mq_receive, NULL);
    NOW("mq_send", mq_send(mq, "m", 1, 0));
    waiter_finish("mq_receive_waited", &w, t);
    t = waiter_start(&w, do_mq_timedreceive, NULL);
    waiter_finish("mq_timedreceive_timeout", &w, t);

    msq = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (msq < 0)
        die("msgget");
    t = waiter_start(&w, do_msgrcv, NULL);
    struct msg m = { 1, "q" };
    NOW("msgsnd", msgsnd(msq, &m, 1, 0));
    waiter_finish("msgrcv_waited", &w, t);
    NOW("msgrcv_nowait_enomsg", msgrcv(msq, &m, sizeof m.text, 0, IPC_NOWAIT));
    msgctl(msq, IPC_RMID, NULL);
}

/* ---- the other wrappers --------------------------------------------------------------------- */

static void others(void)
{
    NOW("close_ebadf", close(-1));
    NOW("dup2_ebadf", dup2(-1, 100));
    NOW("close_range_einval", close_range(10, 5, 0));
    int p[2];
    NOW("pipe2_einval", pipe2(p, -1));
    char *argv[] = { "nonexistent", NULL };
    NOW("execve_enoent", execve("/nonexistent/lockprof-errno", argv, argv + 1));
    NOW("execvp_enoent", execvp("lockprof-errno-nonexistent", argv));
    NOW("sigaction_einval", sigaction(0, NULL, NULL));
    NOW("signal_kill_einval", signal(SIGKILL, SIG_IGN) == SIG_ERR);
    NOW("sigaction_term_ok", sigaction(SIGTERM, NULL, NULL));
    void *h = dlopen("libm.so.6", RTLD_NOW);
    NOW("dlclose_ok", h ? dlclose(h) : -2);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    mutexes();
    rwlocks();
    semaphores();
    conditions();
    threads();
    pipes_and_queues();
    others();
    printf("done\n");
    return 0;
}
