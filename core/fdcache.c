/* fdcache.c — see fdcache.h. */
#include "fdcache.h"
#include "sys.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

LP_INIT_DATA uint8_t *lp_fdcache_tab_;
LP_INIT_DATA unsigned lp_fdcache_size_;
LP_INIT_DATA uint64_t lp_fdcache_kinds_;

/* The kind's byte, LP_FD_PROFILED included: immutable after init. */
LP_INIT_DATA static uint8_t fdcache_byte[LP_FD_OTHER + 1];
/* One more than the highest descriptor ever cached (atomic): bounds the forget loops. */
static unsigned fdcache_high;
/* pipefs's st_dev, which tells an anonymous pipe from a FIFO (both S_IFIFO). Learnt from the
 * first descriptor /proc/thread-self/fd names "pipe:[…]" (atomics: published by the flag);
 * until then every S_IFIFO descriptor is asked about once. */
static uint64_t fdcache_pipe_dev;
static int fdcache_pipe_dev_known;

LP_INIT_TEXT int lp_fdcache_init(uint64_t kinds)
{
    static const struct {
        enum lp_fd_kind kind;
        uint64_t bit;
    } map[] = {
        { LP_FD_PIPE, LP_IO_PIPE },     { LP_FD_FIFO, LP_IO_FIFO },
        { LP_FD_EVENTFD, LP_IO_EVENTFD }, { LP_FD_SOCKET, LP_IO_SOCKET },
        { LP_FD_FILE, LP_IO_FILE },     { LP_FD_CHR, LP_IO_CHR },
    };
    uint64_t fd_bits = 0;
    lp_fdcache_kinds_ = kinds;
    for (unsigned k = 0; k <= LP_FD_OTHER; k++)
        fdcache_byte[k] = (uint8_t)k;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        fd_bits |= map[i].bit;
        if (kinds & map[i].bit)
            fdcache_byte[map[i].kind] |= LP_FD_PROFILED;
    }
    if (!(kinds & fd_bits))
        return 0; /* LOCKPROF_IO names no descriptor: no table, reads pass straight through */
    lp_fdcache_size_ = LP_FDCACHE_SIZE;
    return 0;
}

/* The table, mapped by the first classification; NULL (and no table any more: every read
 * passes straight through, said once) when it cannot be. One of racing mappers' is kept. */
static uint8_t *fdcache_table(void)
{
    uint8_t *t = __atomic_load_n(&lp_fdcache_tab_, __ATOMIC_ACQUIRE);
    if (t)
        return t;
    void *p = mmap(NULL, LP_FDCACHE_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        if (__atomic_exchange_n(&lp_fdcache_size_, 0, __ATOMIC_ACQ_REL))
            lp_log_sigsafe("cannot map lockprof's descriptor table: reads and writes are not "
                           "profiled");
        return NULL;
    }
    if (!__atomic_compare_exchange_n(&lp_fdcache_tab_, &t, (uint8_t *)p, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        munmap(p, LP_FDCACHE_SIZE);
        return t;
    }
    return p;
}

/* What /proc says fd is ("pipe:[123]", "anon_inode:[eventfd]", a path…), NUL-terminated, or
 * "" when /proc is not there. */
static void fdcache_link(int fd, char *buf, size_t size)
{
    char path[48];
    lp_fmt_sigsafe(path, sizeof path, "/proc/thread-self/fd/%d", fd);
    ssize_t n = readlink(path, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
}

static enum lp_fd_kind fdcache_kind(int fd, const struct stat *st)
{
    char link[32];
    switch (st->st_mode & S_IFMT) {
    case S_IFIFO:
        if (__atomic_load_n(&fdcache_pipe_dev_known, __ATOMIC_ACQUIRE))
            return st->st_dev == __atomic_load_n(&fdcache_pipe_dev, __ATOMIC_RELAXED)
                       ? LP_FD_PIPE : LP_FD_FIFO;
        fdcache_link(fd, link, sizeof link);
        if (strncmp(link, "pipe:", 5) != 0)
            return LP_FD_FIFO; /* a FIFO, or no /proc: both are profiled by default */
        __atomic_store_n(&fdcache_pipe_dev, (uint64_t)st->st_dev, __ATOMIC_RELAXED);
        __atomic_store_n(&fdcache_pipe_dev_known, 1, __ATOMIC_RELEASE);
        return LP_FD_PIPE;
    case S_IFSOCK:
        return LP_FD_SOCKET;
    case S_IFREG:
        return LP_FD_FILE;
    case S_IFCHR:
        return LP_FD_CHR;
    case 0:
        /* An anonymous inode: eventfd, timerfd, signalfd, epoll… all share one inode, and
         * only /proc tells them apart. Once per descriptor, at first sight. */
        fdcache_link(fd, link, sizeof link);
        return strcmp(link, "anon_inode:[eventfd]") == 0 ? LP_FD_EVENTFD : LP_FD_OTHER;
    default:
        return LP_FD_OTHER;
    }
}

int8_t lp_fdcache_classify(int fd)
{
    unsigned u = (unsigned)fd;
    struct stat st;
    if (u >= lp_fdcache_size_ || fstat(fd, &st) < 0)
        return LP_FD_OTHER;
    uint8_t b = fdcache_byte[fdcache_kind(fd, &st)];
    uint8_t *t = fdcache_table();
    if (!t)
        return LP_FD_OTHER;
    __atomic_store_n(&t[u], b, __ATOMIC_RELAXED);
    unsigned high = __atomic_load_n(&fdcache_high, __ATOMIC_RELAXED);
    while (u >= high && !__atomic_compare_exchange_n(&fdcache_high, &high, u + 1, true,
                                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    return (int8_t)b;
}

void lp_fdcache_forget_range(unsigned first, unsigned last)
{
    unsigned high = __atomic_load_n(&fdcache_high, __ATOMIC_RELAXED);
    if (first >= high)
        return;
    if (last >= high)
        last = high - 1;
    for (unsigned u = first; u <= last; u++)
        lp_fdcache_forget((int)u);
}
