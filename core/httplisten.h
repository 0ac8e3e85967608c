/*
 * httplisten.h — the listening socket of lockprof's HTTP server (httpd.h) and the rules every
 * descriptor of that server follows (DESIGN §6).
 *
 * The listener: LOCKPROF_HTTP's spec parsed ("HOST:PORT" with a literal address, "localhost"
 * or "[IPv6]", or "unix:PATH" made absolute), refused unless it is a loopback address or
 * remote addresses are allowed, and opened; opened again, with the same address, when the
 * program has closed it, and when a unix socket's file has been removed.
 *
 * The descriptors (the listener, the clients, the answers' memfds): each is moved to fd_base
 * or above, out of the way of the numbers programs use, and remembered as an lp_fdid (sys.h).
 * Programs close every descriptor when they daemonize (closefrom(3)) and may reuse the number
 * at once: before each use, and at every tick of the server, a descriptor is checked, and a
 * number that no longer names our file is forgotten, never closed (it may be the program's
 * now). Nothing is closed without that check, not even a descriptor made a moment before.
 * There remains the window between a check and the call that follows it; it cannot be closed
 * from user space.
 *
 * Context: the server's thread (lp_httpd_serve's), or its only user before and after (open,
 * a fork's child), except lp_httplisten_fd: any thread.
 */
#ifndef LP_HTTPLISTEN_H
#define LP_HTTPLISTEN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "sys.h"

/* Everything belongs to the server's thread, except sock.fd: stored atomically, as
 * lp_httplisten_fd reads it from any thread. */
struct lp_httplisten {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
    } addr;                  /* what is listened on; the port chosen when 0 was asked */
    socklen_t addrlen;
    bool path_known;         /* unix: (path_dev, path_ino) is the socket file we bound */
    dev_t path_dev;
    ino_t path_ino;
    struct lp_fdid sock;     /* the listener; fd -1 while it is lost */
    int fd_base;             /* where descriptors are moved to (0: they are not moved) */
    bool lost_reported;      /* one message per loss of the listener */
    char address[sizeof(struct sockaddr_un) + 16]; /* lp_httpd_address's text */
};

/*
 * Parses spec and opens the listener (see lp_httpd_open in httpd.h for the spec and its
 * rules). l must be zeroed but for sock.fd, -1. 0, or -errno with the reason in why (without
 * the spec: the caller names it).
 */
int lp_httplisten_open(struct lp_httplisten *l, const char *spec, bool allow_remote, char *why,
                       size_t whysize);

/* Opens the lost listener again, on the same address; says so once per loss ("lockprof: HTTP:
 * the listener on … was closed …", then "listening again"). 0 or -errno. */
int lp_httplisten_reopen(struct lp_httplisten *l);

/* At every tick: the listener forgotten if it is lost, closed if its unix socket's file was
 * removed (a /tmp cleaner?), so that it is opened again. */
void lp_httplisten_check(struct lp_httplisten *l);

/* The listener's descriptor number now (-1 while it is lost). Any thread. */
int lp_httplisten_fd(const struct lp_httplisten *l);

/* strerror without translation: strerror may call gettext, which allocates and locks. */
const char *lp_httplisten_strerror(int e);

/*
 * Takes a descriptor just made (fd, or -1 with errno set by the call that failed) into f,
 * moved to l->fd_base or above if it can be (kept where it is otherwise). 0, or -errno
 * (f untouched: the call's error, or the number closed under us).
 */
int lp_httplisten_fd_take(const struct lp_httplisten *l, struct lp_fdid *f, int fd);

/* Is f still the file we opened? If not, it is forgotten (fd -1), never closed. */
bool lp_httplisten_fd_check(struct lp_fdid *f);

/* Closes f if it is still ours; forgets it either way. */
void lp_httplisten_fd_close(struct lp_fdid *f);

#endif
