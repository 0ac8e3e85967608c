/*
 * unit_fdcache — the descriptor cache (core/fdcache.c): every kind is told apart, only the
 * kinds LOCKPROF_IO names are profiled, forgetting resets entries and touches nothing else,
 * and LOCKPROF_IO without a descriptor kind maps no table.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "config.h"
#include "fdcache.h"
#include "tap.h"

static int kind_of(int fd)
{
    return lp_fdcache_classify(fd) & LP_FD_KIND_MASK;
}

static bool profiled(int fd)
{
    return lp_fdcache_get(fd) < 0;
}

int main(void)
{
    plan(31);
    is_i64(lp_fdcache_init(LP_IO_MQ | LP_IO_MSG), 0, "init with queues only");
    is_u64(lp_fdcache_size_, 0, "no descriptor kind: no table, everything passes");
    ok(lp_fdcache_get(0) > 0, "and every descriptor reads as not profiled");
    ok(lp_fdcache_wants(LP_IO_MQ) && lp_fdcache_wants(LP_IO_MSG) &&
           !lp_fdcache_wants(LP_IO_PIPE),
       "the queue bits are kept");

    is_i64(lp_fdcache_init(LP_IO_PIPE | LP_IO_FIFO | LP_IO_EVENTFD | LP_IO_MQ | LP_IO_MSG), 0,
           "init with the default LOCKPROF_IO");
    is_u64(lp_fdcache_size_, LP_FDCACHE_SIZE, "the table is mapped");
    ok(lp_fdcache_tab_ == NULL && lp_fdcache_get(0) == 0,
       "not before a descriptor is classified: every descriptor reads as unknown");

    int p[2], s[2];
    if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0)
        return 99;
    char fifo[] = "/tmp/lockprof-unit-fifo-XXXXXX";
    if (!mkdtemp(fifo))
        return 99;
    char path[64];
    snprintf(path, sizeof path, "%s/f", fifo);
    if (mkfifo(path, 0600) < 0)
        return 99;
    int ff = open(path, O_RDWR);
    int ev = eventfd(0, 0), tf = timerfd_create(CLOCK_MONOTONIC, 0);
    int file = open("/proc/self/exe", O_RDONLY), chr = open("/dev/null", O_RDONLY);
    int dir = open("/", O_RDONLY | O_DIRECTORY);

    is_i64(lp_fdcache_get(p[0]), 0, "a descriptor never seen is unknown");
    /* The FIFO first: pipefs's device is not known yet (/proc tells them apart), then it is. */
    is_i64(kind_of(ff), LP_FD_FIFO, "FIFO, seen before any pipe");
    ok(lp_fdcache_tab_ != NULL, "the first classification maps the table");
    is_i64(kind_of(p[0]), LP_FD_PIPE, "pipe read end");
    is_i64(kind_of(p[1]), LP_FD_PIPE, "pipe write end");
    is_i64(kind_of(ff), LP_FD_FIFO, "FIFO, seen after a pipe");
    is_i64(kind_of(ev), LP_FD_EVENTFD, "eventfd (anon_inode:[eventfd])");
    is_i64(kind_of(tf), LP_FD_OTHER, "timerfd: another anonymous inode");
    is_i64(kind_of(s[0]), LP_FD_SOCKET, "socket");
    is_i64(kind_of(file), LP_FD_FILE, "regular file");
    is_i64(kind_of(chr), LP_FD_CHR, "character device");
    is_i64(kind_of(dir), LP_FD_OTHER, "directory");

    ok(profiled(p[0]) && profiled(ff) && profiled(ev), "pipes, FIFOs, eventfds are profiled");
    ok(!profiled(s[0]) && !profiled(file) && !profiled(chr) && !profiled(tf) && !profiled(dir),
       "sockets, files, devices, the rest are not");

    errno = 0;
    ok(lp_fdcache_classify(1000) > 0 && lp_fdcache_get(1000) == 0,
       "a closed descriptor is not cached (and reads as not profiled)");
    ok(lp_fdcache_classify(-1) > 0 && lp_fdcache_classify(LP_FDCACHE_SIZE) > 0,
       "outside the table: not profiled");

    lp_fdcache_forget(p[0]);
    is_i64(lp_fdcache_get(p[0]), 0, "forget: back to unknown");
    is_i64(lp_fdcache_get(p[1]) & LP_FD_KIND_MASK, LP_FD_PIPE, "forget: only that one");
    lp_fdcache_forget(-1);
    lp_fdcache_forget(LP_FDCACHE_SIZE + 5);

    int hi = dir > chr ? dir : chr;
    lp_fdcache_forget_range((unsigned)p[1], ~0u);
    int left = 0;
    for (int fd = p[1]; fd <= hi; fd++)
        left += lp_fdcache_get(fd) != 0;
    is_i64(left, 0, "forget_range to ~0: everything from p[1] up is unknown");
    lp_fdcache_forget_range(5, 2);
    ok(true, "an empty range is harmless");

    /* A number reused by another kind: classify again finds the new kind. */
    is_i64(kind_of(p[0]), LP_FD_PIPE, "p[0] cached as a pipe");
    close(p[0]);
    int again = open("/proc/self/exe", O_RDONLY);
    is_i64(again, p[0], "a file took the pipe's number");
    ok(!lp_fdcache_recheck(again) && (lp_fdcache_get(again) & LP_FD_KIND_MASK) == LP_FD_FILE,
       "recheck: no longer profiled, now cached as a file");

    /* Only the named kinds: LOCKPROF_IO=socket. */
    lp_fdcache_init(LP_IO_SOCKET);
    ok(lp_fdcache_classify(s[0]) < 0 && lp_fdcache_classify(p[1]) > 0,
       "LOCKPROF_IO=socket: sockets profiled, pipes not");

    unlink(path);
    rmdir(fifo);
    return done_testing();
}
