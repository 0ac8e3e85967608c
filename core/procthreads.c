/* procthreads.c — see procthreads.h. */
#include "procthreads.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "sys.h"

/* glibc's mutex kind bits (pthreadP.h; see interpose/mutexkind.h). */
#define KIND_ROBUST 16
#define KIND_PI 32
#define KIND_PSHARED 128
#define KIND_ELISION 256
#define KIND_NO_ELISION 512
#define FUTEX_TID_MASK_ 0x3fffffffu
#define FUTEX_OWNER_DIED_ 0x40000000u
/* glibc's __readers bits (pthread_rwlock_common.c). */
#define RW_WRPHASE 1u
#define RW_READER_SHIFT 3

/* Reads a whole small file; its length, or -errno. */
static ssize_t procthreads_read_small(const char *path, char *buf, size_t size)
{
    int fd = lp_sys_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    size_t len = 0;
    while (len < size) {
        ssize_t r = lp_sys_read(fd, buf + len, size - len);
        if (r == -EINTR)
            continue;
        if (r <= 0) {
            lp_sys_close(fd);
            return r < 0 ? r : (ssize_t)len;
        }
        len += (size_t)r;
    }
    lp_sys_close(fd);
    return (ssize_t)len;
}

unsigned long long lp_procthreads_parse_ull(const char **p, int base)
{
    const char *s = *p;
    unsigned long long v = 0;
    if (base == 16 && s[0] == '0' && s[1] == 'x')
        s += 2;
    for (;; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else
            break;
        v = v * (unsigned)base + (unsigned)d;
    }
    *p = s;
    return v;
}

int lp_procthreads_list(struct lp_arena *a, int32_t **out, unsigned *count)
{
    int fd = lp_sys_open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    unsigned n = 0, cap = 256;
    int32_t *tids = lp_arena_calloc(a, cap, sizeof *tids);
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        long r = lp_sys_getdents64(fd, buf, sizeof buf);
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        for (long off = 0; off < r;) {
            /* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            const char *name = buf + off + 19;
            off += reclen;
            if (name[0] < '1' || name[0] > '9')
                continue;
            if (!tids)
                break;
            if (n == cap) {
                int32_t *more = lp_arena_calloc(a, cap * 2, sizeof *tids);
                if (more)
                    memcpy(more, tids, n * sizeof *tids);
                tids = more;
                cap *= 2;
                if (!tids)
                    break;
            }
            const char *p = name;
            tids[n++] = (int32_t)lp_procthreads_parse_ull(&p, 10);
        }
    }
    lp_sys_close(fd);
    if (!tids)
        return -ENOMEM;
    /* Shell sort (no qsort: glibc's may malloc). */
    for (unsigned gap = n / 2; gap; gap /= 2)
        for (unsigned i = gap; i < n; i++)
            for (unsigned j = i; j >= gap && tids[j - gap] > tids[j]; j -= gap) {
                int32_t x = tids[j];
                tids[j] = tids[j - gap];
                tids[j - gap] = x;
            }
    *out = tids;
    *count = n;
    return 0;
}

/* "TID (NAME) S …", NAME up to 15 bytes that may hold anything, ')' included: it ends at the
 * last ')'. */
bool lp_procthreads_stat(int32_t tid, char name[16], uint8_t *name_len, char *kstate)
{
    char path[64], buf[512];
    lp_fmt_sigsafe(path, sizeof path, "/proc/self/task/%d/stat", tid);
    ssize_t n = procthreads_read_small(path, buf, sizeof buf - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *open_paren = memchr(buf, '(', (size_t)n), *close_paren = NULL;
    for (char *p = buf + n - 1; p > buf; p--)
        if (*p == ')') {
            close_paren = p;
            break;
        }
    if (!open_paren || !close_paren || close_paren < open_paren || close_paren + 2 >= buf + n)
        return false;
    size_t len = (size_t)(close_paren - open_paren - 1);
    if (len > 16)
        len = 16;
    memcpy(name, open_paren + 1, len);
    *name_len = (uint8_t)len;
    *kstate = close_paren[2];
    return true;
}

/* "NR ARG0 … ARG5 SP PC" while it sleeps in a system call, "-1 SP PC" when blocked
 * elsewhere, "running" when it runs. */
long lp_procthreads_syscall(int32_t tid, unsigned long long args[3])
{
    char path[64], buf[256];
    lp_fmt_sigsafe(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    ssize_t n = procthreads_read_small(path, buf, sizeof buf - 1);
    if (n <= 0 || buf[0] < '0' || buf[0] > '9')
        return -1;
    buf[n] = '\0';
    const char *p = buf;
    long nr = (long)lp_procthreads_parse_ull(&p, 10);
    for (int i = 0; i < 3; i++) {
        while (*p == ' ')
            p++;
        args[i] = lp_procthreads_parse_ull(&p, 16);
    }
    return nr;
}

bool lp_procthreads_lock_wait(long nr, const unsigned long long args[3])
{
    if (nr != SYS_futex || args[2] != 2)
        return false;
    unsigned op = (unsigned)args[1] & ~(128u | 256u); /* PRIVATE_FLAG, CLOCK_REALTIME */
    return op == 0 || op == 9;                         /* FUTEX_WAIT, FUTEX_WAIT_BITSET */
}

bool lp_procthreads_read_mem(const void *addr, void *out, size_t n)
{
    struct iovec local = { out, n }, remote = { (void *)addr, n };
    ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (r == (ssize_t)n)
        return true;
    if (r >= 0 || errno == EFAULT)
        return false;
    /* Refused (a seccomp policy, ENOSYS): the same through /proc/self/mem. */
    int fd = lp_sys_open("/proc/self/mem", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return false;
    r = lp_sys_pread(fd, out, n, (off_t)(uintptr_t)addr);
    lp_sys_close(fd);
    return r == (ssize_t)n;
}

/* The kernel's record of a robust or PI futex's owner: its tid in the word. */
static void procthreads_tid_word_holder(unsigned word, enum lp_held *held, int32_t *holder)
{
    if (word & FUTEX_OWNER_DIED_)
        *held = LP_HELD_OWNER_DIED;
    else if ((word & FUTEX_TID_MASK_) == 0)
        *held = LP_HELD_NOBODY;
    else
        *held = LP_HELD_THREAD, *holder = (int32_t)(word & FUTEX_TID_MASK_);
}

void lp_procthreads_mutex_holder(const void *lock, enum lp_held *held, int32_t *holder)
{
    pthread_mutex_t m;
    *held = LP_HELD_UNKNOWN;
    if (!lp_procthreads_read_mem(lock, &m, sizeof m))
        return;
    unsigned lockword = (unsigned)m.__data.__lock;
    if (m.__data.__kind & (KIND_ROBUST | KIND_PI)) {
        procthreads_tid_word_holder(lockword, held, holder);
        return;
    }
    int owner = m.__data.__owner;
    if (owner > 0 && (unsigned)owner <= FUTEX_TID_MASK_)
        *held = LP_HELD_THREAD, *holder = owner;
    else if (lockword == 0)
        *held = LP_HELD_NOBODY;
}

void lp_procthreads_pi_holder(const void *word, enum lp_held *held, int32_t *holder)
{
    uint32_t w;
    *held = LP_HELD_UNKNOWN;
    if (lp_procthreads_read_mem(word, &w, sizeof w))
        procthreads_tid_word_holder(w, held, holder);
}

void lp_procthreads_rwlock_holder(const void *lock, enum lp_held *held, int32_t *holder)
{
    pthread_rwlock_t rw;
    *held = LP_HELD_UNKNOWN;
    if (!lp_procthreads_read_mem(lock, &rw, sizeof rw))
        return;
    unsigned r = rw.__data.__readers;
    if (rw.__data.__cur_writer > 0)
        *held = LP_HELD_THREAD, *holder = rw.__data.__cur_writer;
    else if (!(r & RW_WRPHASE) && (r >> RW_READER_SHIFT) != 0)
        *held = LP_HELD_READERS, *holder = (int32_t)(r >> RW_READER_SHIFT);
    else if (r == 0)
        *held = LP_HELD_NOBODY;
}

int32_t lp_procthreads_waited_owner(const void *addr)
{
    pthread_mutex_t m;
    if (lp_procthreads_read_mem(addr, &m, sizeof m) && m.__data.__lock == 2 &&
        (m.__data.__kind & ~(3 | KIND_PSHARED | KIND_ELISION | KIND_NO_ELISION)) == 0 &&
        m.__data.__owner > 0)
        return m.__data.__owner;
    return 0;
}
