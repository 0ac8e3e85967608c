/*
 * prog_queue — POSIX and System V message queues, as a program uses them; run by io.t.
 *
 * Usage: prog_queue mq|msg [rounds] [hold_ms]
 *
 *   mq   A receiver thread blocks in mq_receive (mq_blocked_receive) ROUNDS times; each time,
 *        once it is asleep, main waits HOLD_MS and sends. Then ROUNDS mq_timedreceive calls
 *        with a HOLD_MS deadline time out on the empty queue (mq_timeout), and ROUNDS more
 *        receive a message main sends HOLD_MS after they fell asleep (mq_timed_blocked).
 *        Calls that never wait: a receive with a message there (mq_ready), an O_NONBLOCK
 *        receive of an empty queue (EAGAIN), bad deadlines (EINVAL, EFAULT), a short buffer.
 *   msg  The same with msgrcv (msg_blocked_receive); msgrcv with IPC_NOWAIT on an empty queue
 *        (ENOMSG, msg_nowait) and a receive with a message there (msg_ready) never wait.
 *
 * Prints "check ..." lines (the same with and without a preload) and
 *   measure <function>_total / _count   Σ of the time around each wait, and how many.
 * Exit status 0.
 */
#include "progutil.h"

#include <errno.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#define NOINLINE __attribute__((noinline, noclone))

static int rounds = 4;
static unsigned hold_ms = 30;
static int rx_tid, rx_arrived, rx_finished, round_ready;
static uint64_t totals[3], counts[3];

static void add(int k, uint64_t d)
{
    totals[k] += d;
    counts[k]++;
}

#define CHECK(name, call)                                                                      \
    do {                                                                                       \
        errno = 12345;                                                                         \
        long rc_ = (long)(call);                                                               \
        int e_ = errno;                                                                        \
        printf("check %s rc %ld errno %s\n", name, rc_,                                        \
               e_ == 12345 ? "unchanged" : strerrorname_np(e_));                               \
    } while (0)

static void (*rx_call)(void);

static void *receiver(void *arg)
{
    (void)arg;
    __atomic_store_n(&rx_tid, thread_id(), __ATOMIC_RELEASE);
    for (int r = 1; r <= rounds; r++) {
        await_at_least(&round_ready, r);
        rx_call();
        __atomic_fetch_add(&rx_finished, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

/* Runs ROUNDS rounds of call() in a receiver thread; main runs send() HOLD_MS after the
 * receiver fell asleep in the call (send NULL: nobody sends, the call times out). */
static void run_rounds(void (*call)(void), void (*send)(void))
{
    pthread_t t;
    rx_arrived = rx_finished = round_ready = 0;
    rx_call = call;
    if (pthread_create(&t, NULL, receiver, NULL))
        die("pthread_create");
    for (int r = 1; r <= rounds; r++) {
        __atomic_store_n(&round_ready, r, __ATOMIC_RELEASE);
        await_at_least(&rx_arrived, r);
        await_all_asleep(&rx_tid, 1);
        if (send) {
            sleep_ms(hold_ms);
            send();
        }
        await_at_least(&rx_finished, r);
    }
    pthread_join(t, NULL);
}

/* ---- POSIX ----------------------------------------------------------------------------------- */

static mqd_t mq;
static char mq_name[64];

static void mq_send_one(void)
{
    if (mq_send(mq, "hello", 5, 1) < 0)
        die("mq_send");
}

static NOINLINE void mq_blocked_receive(void)
{
    char buf[64];
    __atomic_fetch_add(&rx_arrived, 1, __ATOMIC_ACQ_REL);
    uint64_t t0 = now_ns();
    ssize_t n = mq_receive(mq, buf, sizeof buf, NULL);
    add(0, now_ns() - t0);
    if (n != 5)
        die("mq_receive");
}

static NOINLINE void mq_timeout(void)
{
    char buf[64];
    struct timespec dl = deadline_in_ms(hold_ms);
    __atomic_fetch_add(&rx_arrived, 1, __ATOMIC_ACQ_REL);
    uint64_t t0 = now_ns();
    ssize_t n = mq_timedreceive(mq, buf, sizeof buf, NULL, &dl);
    add(1, now_ns() - t0);
    if (n != -1 || errno != ETIMEDOUT)
        die("mq_timedreceive should time out");
}

static NOINLINE void mq_timed_blocked(void)
{
    char buf[64];
    struct timespec dl = deadline_in_ms(60000);
    __atomic_fetch_add(&rx_arrived, 1, __ATOMIC_ACQ_REL);
    uint64_t t0 = now_ns();
    ssize_t n = mq_timedreceive(mq, buf, sizeof buf, NULL, &dl);
    add(2, now_ns() - t0);
    if (n != 5)
        die("mq_timedreceive");
}

static NOINLINE void mq_ready(void)
{
    char buf[64];
    unsigned prio = 0;
    for (int i = 0; i < 1000; i++) {
        mq_send_one();
        if (mq_receive(mq, buf, sizeof buf, &prio) != 5 || prio != 1)
            die("mq_receive ready");
    }
    struct timespec dl = deadline_in_ms(1000);
    for (int i = 0; i < 1000; i++) {
        mq_send_one();
        if (mq_timedreceive(mq, buf, sizeof buf, &prio, &dl) != 5)
            die("mq_timedreceive ready");
    }
}

static void run_mq(void)
{
    struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
    char buf[64];
    snprintf(mq_name, sizeof mq_name, "/lockprof-test-%d", (int)getpid());
    mq = mq_open(mq_name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    if (mq == (mqd_t)-1)
        die("mq_open");
    run_rounds(mq_blocked_receive, mq_send_one);
    run_rounds(mq_timeout, NULL);
    run_rounds(mq_timed_blocked, mq_send_one);
    mq_ready();

    struct timespec bad = { 0, -1 }, past = { 0, 0 };
    mq_send_one();
    CHECK("mq_timedreceive-bad-deadline-with-message", mq_timedreceive(mq, buf, sizeof buf, NULL, &bad));
    CHECK("mq_timedreceive-bad-pointer-with-message",
          mq_timedreceive(mq, buf, sizeof buf, NULL, (const struct timespec *)8));
    CHECK("mq_receive-short-buffer", mq_receive(mq, buf, 8, NULL));
    CHECK("mq_receive-message", mq_receive(mq, buf, sizeof buf, NULL));
    CHECK("mq_timedreceive-past-empty", mq_timedreceive(mq, buf, sizeof buf, NULL, &past));
    CHECK("mq_receive-bad-descriptor", mq_receive((mqd_t)-1, buf, sizeof buf, NULL));
    struct mq_attr nb = { .mq_flags = O_NONBLOCK };
    mq_setattr(mq, &nb, NULL);
    CHECK("mq_receive-nonblock-empty", mq_receive(mq, buf, sizeof buf, NULL));
    CHECK("mq_timedreceive-nonblock-empty", mq_timedreceive(mq, buf, sizeof buf, NULL, &past));
    mq_close(mq);
    mq_unlink(mq_name);
    printf("measure mq_blocked_receive_total %llu\nmeasure mq_blocked_receive_count %llu\n",
           (unsigned long long)totals[0], (unsigned long long)counts[0]);
    printf("measure mq_timeout_total %llu\nmeasure mq_timeout_count %llu\n",
           (unsigned long long)totals[1], (unsigned long long)counts[1]);
    printf("measure mq_timed_blocked_total %llu\nmeasure mq_timed_blocked_count %llu\n",
           (unsigned long long)totals[2], (unsigned long long)counts[2]);
}

/* ---- System V ------------------------------------------------------------------------------- */

static int msq;

struct msg {
    long type;
    char text[16];
};

static void msg_send_one(void)
{
    struct msg m = { 1, "hello" };
    if (msgsnd(msq, &m, 6, 0) < 0)
        die("msgsnd");
}

static NOINLINE void msg_blocked_receive(void)
{
    struct msg m;
    __atomic_fetch_add(&rx_arrived, 1, __ATOMIC_ACQ_REL);
    uint64_t t0 = now_ns();
    ssize_t n = msgrcv(msq, &m, sizeof m.text, 0, 0);
    add(0, now_ns() - t0);
    if (n != 6)
        die("msgrcv");
}

static NOINLINE void msg_nowait(void)
{
    struct msg m;
    for (int i = 0; i < 1000; i++)
        if (msgrcv(msq, &m, sizeof m.text, 0, IPC_NOWAIT) != -1 || errno != ENOMSG)
            die("msgrcv IPC_NOWAIT");
    CHECK("msgrcv-nowait-empty", msgrcv(msq, &m, sizeof m.text, 0, IPC_NOWAIT));
}

static NOINLINE void msg_ready(void)
{
    struct msg m;
    for (int i = 0; i < 1000; i++) {
        msg_send_one();
        if (msgrcv(msq, &m, sizeof m.text, 0, 0) != 6)
            die("msgrcv ready");
    }
}

static void run_msg(void)
{
    struct msg m;
    msq = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (msq < 0)
        die("msgget");
    run_rounds(msg_blocked_receive, msg_send_one);
    msg_nowait();
    msg_ready();
    msg_send_one();
    CHECK("msgrcv-too-big", msgrcv(msq, &m, 2, 0, 0));
    CHECK("msgrcv-other-type", msgrcv(msq, &m, sizeof m.text, 7, IPC_NOWAIT));
    CHECK("msgrcv-noerror", msgrcv(msq, &m, 2, 0, MSG_NOERROR));
    CHECK("msgrcv-bad-id", msgrcv(-1, &m, sizeof m.text, 0, 0));
    msg_send_one(); /* a message there: MSG_COPY is still EINVAL without IPC_NOWAIT */
    CHECK("msgrcv-copy-without-nowait", msgrcv(msq, &m, sizeof m.text, 0, MSG_COPY));
    CHECK("msgrcv-negative-size", msgrcv(msq, &m, (size_t)-1, 0, 0));
    CHECK("msgrcv-copy", msgrcv(msq, &m, sizeof m.text, 0, MSG_COPY | IPC_NOWAIT));
    msgctl(msq, IPC_RMID, NULL);
    printf("measure msg_blocked_receive_total %llu\nmeasure msg_blocked_receive_count %llu\n",
           (unsigned long long)totals[0], (unsigned long long)counts[0]);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "mq";
    if (argc > 2)
        rounds = atoi(argv[2]);
    if (argc > 3)
        hold_ms = (unsigned)atoi(argv[3]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "mq"))
        run_mq();
    else if (!strcmp(mode, "msg"))
        run_msg();
    else {
        fprintf(stderr, "prog_queue: unknown mode %s\n", mode);
        return 2;
    }
    printf("check %s done\n", mode);
    return 0;
}
