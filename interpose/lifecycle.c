/*
 * lifecycle.c — see lifecycle.h.
 *
 * The constructor reads the configuration, resolves the functions a signal handler may call,
 * chooses the unwinder and registers the exit-time write. What most processes never need waits
 * for the process's first entry into lockprof (lifecycle_first_entry): the tables, the token,
 * the fatal-signal handlers (signals.h; the run's first process installs them at start), and
 * for its first thread: lockprof's thread (agent.h), the other functions' lookups, the fork
 * handlers. A process with threads already, or a live feature, gets them in the constructor.
 */
#include "lifecycle.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <unistd.h>

#include "agent.h"
#include "cfi.h"
#include "clock.h"
#include "cpu.h"
#include "cpuprof.h"
#include "endpoint.h"
#include "event.h"
#include "families.h"
#include "fdcache.h"
#include "futex.h"
#include "inflight.h"
#include "lockprof.h"
#include "locktab.h"
#include "log.h"
#include "maps.h"
#include "rates.h"
#include "resolve.h"
#include "signals.h"
#include "stacktab.h"
#include "sync.h"
#include "sys.h"
#include "unwind.h"
#include "wait.h"
#include "writer.h"

LP_INIT_DATA int lp_ready_;

LP_INIT_DATA static struct lp_config lifecycle_config;       /* immutable after the constructor */
/* 1 while lockprof's thread waits for the program's first thread (atomic; 0 in a fork child,
 * which starts none: a thread would make it multithreaded behind its back). */
LP_INIT_DATA static uint32_t lifecycle_agent_deferred;
LP_INIT_DATA static int64_t lifecycle_start_realtime;         /* reset in a fork child */
LP_INIT_DATA static char lifecycle_cwd_at_start[LP_PATH_MAX]; /* immutable after the constructor */

const struct lp_config *lp_lifecycle_config(void)
{
    return &lifecycle_config;
}

/* The base name in the loader's own copy of the path (the library is never unloaded), on a
 * page the loader wrote, which a fork child shares. */
LP_INIT_DATA static const char *lifecycle_library; /* immutable after the constructor */

LP_FORK_TEXT const char *lp_lifecycle_library_name(void)
{
    return lifecycle_library ? lifecycle_library : "liblockprof.so";
}

/* Where glibc keeps a thread's id in its thread descriptor (struct pthread, whose address is
 * pthread_self()): found once in the main thread, whose id is the pid, so that a thread's id
 * costs no system call (gettid is one a program under seccomp may not allow). Not found (another
 * C library, another layout): 0, and ids come from gettid. */
LP_INIT_TEXT static void lifecycle_find_thread_id(pid_t pid)
{
    pid_t tid = lp_sys_gettid();
    if (tid != pid)
        return; /* not the main thread (loaded by dlopen from another): no way to tell */
    /* (The descriptor's address, what pthread_self returns on x86-64, without a call into libc:
     * each function of libc's lockprof calls first at start is one more lookup.) */
    const unsigned char *self = (const unsigned char *)__builtin_thread_pointer();
    for (size_t off = 0; off + sizeof(int32_t) <= 2048; off += sizeof(int32_t)) {
        int32_t v;
        memcpy(&v, self + off, sizeof v);
        if (v == tid) {
            lp_event_thread_descriptor(off);
            return;
        }
    }
}

/* The file name this library was loaded from: the object whose segments hold one of its own
 * functions (dl_iterate_phdr, which the unwinder's range asks too; dladdr does more). */
LP_INIT_TEXT static int lifecycle_library_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t addr = (uintptr_t)lp_lifecycle_library_name;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && addr >= lo && addr < lo + ph->p_memsz) {
            *(const char **)arg = info->dlpi_name;
            return 1;
        }
    }
    return 0;
}

LP_INIT_TEXT static void lifecycle_find_library(void)
{
    const char *path = NULL;
    if (!dl_iterate_phdr(lifecycle_library_cb, &path) || !path)
        return;
    const char *base = path;
    for (const char *p = path; *p; p++)
        if (*p == '/')
            base = p + 1;
    if (*base)
        lifecycle_library = base;
}

/* The token ("children no fork handler ran in", below): until the process's first entry
 * lp_lifecycle_token_ points at lifecycle_token_none; at a page of its own after; at the
 * fallback when none could be mapped. */
LP_INIT_DATA static uint32_t lifecycle_token_none; /* 0, for ever (read by every entry) */
static uint32_t lifecycle_token_fallback = 1;      /* never zero */
uint32_t *lp_lifecycle_token_ = &lifecycle_token_none;

/* ---- the exit-time write ------------------------------------------------------------------ */

LP_INIT_TEXT static bool lifecycle_recorded_nothing(void)
{
    struct lp_stacktab_stats st;
    lp_stacktab_stats(&st);
    struct lp_cpuprof_stats cs;
    lp_cpuprof_stats(&cs);
    return st.events[LP_BLOCK] + st.events[LP_MUTEX] == 0 && cs.samples == 0;
}

static bool lifecycle_is_origin(void);
static void lifecycle_fork_handlers(void);

LP_INIT_DATA uint32_t lp_lifecycle_restricted_;
static bool lifecycle_restrict_wrote; /* the profiles were written at the restriction */

void lp_lifecycle_restrict(void)
{
    if (__atomic_load_n(&lp_lifecycle_restricted_, __ATOMIC_ACQUIRE))
        return;
    lp_lifecycle_check();
    struct lp_guard g;
    lp_guard_enter(&g);
    /* What lockprof would ask the system later, asked now (a lookup may allocate). */
    lp_clock_tsc_settle();
    lp_event_calibrate();
    lp_resolve_all();
    lifecycle_fork_handlers();
    /* The profiles so far, written while the calls that takes are still the program's own;
     * nothing is written after (the exit write, snapshots). The same rule as at exit: a
     * process that is not the run's first and recorded nothing leaves no files. */
    if (!__atomic_exchange_n(&lp_lifecycle_restricted_, 1, __ATOMIC_ACQ_REL)) {
        /* No thread of lockprof's starts now: starting one takes system calls (the threads a
         * restricted thread starts inherit its filter). One already running is not filtered. */
        __atomic_store_n(&lifecycle_agent_deferred, 0, __ATOMIC_RELEASE);
        if (lifecycle_is_origin() || !lifecycle_recorded_nothing()) {
            lp_writer_note("written when the process restricted its system calls "
                           "(PR_SET_SECCOMP): what it recorded after is in no file");
            lifecycle_restrict_wrote = lp_writer_write("seccomp", true) == 0;
        }
        lp_signals_stand_aside();
        lp_unwind_restrict();
        lp_log_off();
    }
    lp_guard_leave(&g);
}

void lp_lifecycle_unrestrict(void)
{
    struct lp_guard g;
    lp_guard_enter(&g);
    lp_writer_note("");
    lp_log_on();
    lifecycle_restrict_wrote = false;
    __atomic_store_n(&lp_lifecycle_restricted_, 0, __ATOMIC_RELEASE);
    lp_guard_leave(&g);
}

#define LIFECYCLE_CLOSE_WAIT_NS 5000000000ULL

LP_INIT_TEXT static void lifecycle_exit_write(void)
{
    /* Busy: exit or quick_exit from a signal handler that interrupted lockprof on this thread
     * (perhaps inside a write, holding the writer lock): no profile rather than a deadlock.
     * Restricted (seccomp): writing needs system calls the program did not make. */
    if (lp_wrap_off() || lp_lifecycle_restricted())
        return;
    /* Not the run's first process, nor made of it, and it never entered lockprof: nothing to
     * write, whoever it is (no need to ask for its pid), unless the CPU profile sampled it (a
     * fork child that never entered: lifecycle_postfork_child made it a child). No snapshot
     * starts after this. */
    if (lp_lifecycle_token_ == &lifecycle_token_none && !lifecycle_is_origin() &&
        !lp_cpu_sampling()) {
        lp_writer_close(LIFECYCLE_CLOSE_WAIT_NS);
        return;
    }
    /* A process fork or a raw clone made that never entered lockprof (its token, which it
     * would fault in to read, still says so) recorded nothing: it leaves no files. */
    if (lp_sys_getpid() != lp_lifecycle_pid())
        return;
    /* (A process that never entered lockprof has no token to map now: its pid says it is
     * lockprof's own.) */
    if (lp_lifecycle_token_ != &lifecycle_token_none)
        lp_lifecycle_check();
    /* A snapshot lockprof's thread is writing ends before the process does, and none starts
     * after this. One still going after the bound a fatal signal's profile has: the exit does
     * not wait longer for the final profile either. */
    if (!lp_writer_close(LIFECYCLE_CLOSE_WAIT_NS)) {
        lp_log_sigsafe("a profile was still being written after 5 s: the final profile is "
                       "not written");
        return;
    }
    /* Only the first process of a run writes profiles that say nothing was contended, so that
     * the user sees lockprof ran; the processes it starts (a build's compilers, a script's
     * commands) leave no files and pay for no write unless they recorded something. */
    if (!lifecycle_is_origin() && lifecycle_recorded_nothing())
        return;
    struct lp_guard g;
    lp_guard_enter(&g);
    lp_writer_write("exit", true);
    lp_guard_leave(&g);
}

/* ---- lineage: whose files are whose ------------------------------------------------------
 * Every process of a tree lockprof runs in knows the tree's origin, the first process
 * (LOCKPROF_ORIGIN in the environment, set by the origin itself and passed on by the exec
 * wrappers), and its exec generation (LOCKPROF_EXEC=pid:n, passed by the exec wrappers: a new
 * image with the same pid must not overwrite the files the old one wrote before exec). When
 * LOCKPROF_OUT has no %p, every process but the origin adds ".PID" to the prefix; every image
 * after an exec adds ".execN" (DESIGN §5).
 */
/* When this process started profiling (ns since the epoch), for %t in LOCKPROF_OUT and
 * LOCKPROF_HTTP; 0 when neither has one: reading the clock costs a process its first use of
 * the clock's pages (page faults), for nothing. */
LP_INIT_TEXT static int64_t lifecycle_start_time(void)
{
    if (!lp_config_pattern_has(lifecycle_config.out, 't') &&
        !lp_config_pattern_has(lifecycle_config.http, 't'))
        return 0;
    return lp_clock_realtime();
}

/* The tree's first process; immutable after the constructor. */
LP_INIT_DATA static long lifecycle_origin;
/* 0 in a fresh process, n after n execs; 0 again in a fork child. */
LP_INIT_DATA static unsigned lifecycle_exec_gen;
/* LOCKPROF_OUT contains %p; immutable after the constructor. */
LP_INIT_DATA static bool lifecycle_out_has_pid;
/* This process (set again in a fork child). */
LP_INIT_DATA static pid_t lifecycle_pid;

/* A decimal number that is the whole of [s, end); false otherwise. */
LP_INIT_TEXT bool lp_lifecycle_parse_long(const char *s, const char *end, long *out)
{
    long v = 0;
    if (s == end)
        return false;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9' || v > 100000000000L)
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

static const char *lifecycle_getenv(const char *name);

LP_INIT_TEXT static void lifecycle_lineage_init(long pid)
{
    const char *o = lifecycle_getenv(LP_ENV_ORIGIN);
    long origin;
    if (o && lp_lifecycle_parse_long(o, o + strlen(o), &origin) && origin > 0) {
        lifecycle_origin = origin;
    } else {
        lifecycle_origin = pid;
        /* In the constructor, before the program's threads: children spawned by means no
         * wrapper sees (system, popen, posix_spawn) inherit it through environ. */
        char v[24];
        lp_fmt_sigsafe(v, sizeof v, "%ld", pid);
        setenv(LP_ENV_ORIGIN, v, 1);
    }
    const char *e = lifecycle_getenv(LP_ENV_EXEC);
    const char *colon = e ? strchr(e, ':') : NULL;
    long epid, gen;
    if (colon && lp_lifecycle_parse_long(e, colon, &epid) && epid == pid &&
        lp_lifecycle_parse_long(colon + 1, colon + strlen(colon), &gen) && gen < 1000000)
        lifecycle_exec_gen = (unsigned)gen;
}

/* LOCKPROF_OUT made absolute against the directory lockprof started in (daemons chdir("/")),
 * with the lineage's suffixes. */
LP_INIT_TEXT static void lifecycle_expand_out(char *dst, size_t size, long pid)
{
    long start = (long)(lifecycle_start_realtime / 1000000000);
    if (lp_config_expand_out(dst, (unsigned)size, lifecycle_config.out, pid, start,
                             lifecycle_cwd_at_start) < 0) {
        lp_log_sigsafe("LOCKPROF_OUT='%s' is too long once expanded; using lockprof.%ld",
                       lifecycle_config.out, pid);
        lp_fmt_sigsafe(dst, size, "%s/lockprof.%ld", lifecycle_cwd_at_start, pid);
    }
    size_t n = strlen(dst);
    char suffix[48] = "";
    size_t k = 0;
    if (!lifecycle_out_has_pid && pid != lifecycle_origin)
        k += lp_fmt_sigsafe(suffix + k, sizeof suffix - k, ".%ld", pid);
    if (lifecycle_exec_gen)
        k += lp_fmt_sigsafe(suffix + k, sizeof suffix - k, ".exec%u", lifecycle_exec_gen);
    if (n + k + 40 < size) /* room for ".block.pb.gz.tmp." and 16 hex digits */
        memcpy(dst + n, suffix, k + 1);
}

/* LOCKPROF_HTTP expanded for this process, or "" when it serves no endpoint: one endpoint per
 * tree — the first process (and what it execs) serves, not the shells and helpers it starts
 * with system() or popen() — unless the address has %p, which gives each process its own. */
LP_INIT_TEXT static void lifecycle_http_spec(char *dst, size_t size)
{
    dst[0] = '\0';
    const char *spec = lifecycle_config.http;
    if (!spec[0] || (lifecycle_origin != (long)lifecycle_pid && !lp_config_pattern_has(spec, 'p')))
        return;
    char pid[24], start[24];
    lp_fmt_sigsafe(pid, sizeof pid, "%d", (int)lifecycle_pid);
    lp_fmt_sigsafe(start, sizeof start, "%lld", (long long)(lifecycle_start_realtime / 1000000000));
    if (lp_config_expand(dst, size, spec, pid, start, 0) < 0) {
        lp_log_sigsafe("LOCKPROF_HTTP='%s' is too long once expanded; the endpoint is off",
                       spec);
        dst[0] = '\0';
    }
}

pid_t lp_lifecycle_pid(void)
{
    return lifecycle_pid;
}

/* The process the user started (or lockprof run did), in any of its exec'd images. */
static bool lifecycle_is_origin(void)
{
    return lifecycle_origin == (long)lifecycle_pid;
}

LP_FORK_TEXT int lp_lifecycle_before_exec(struct lp_lineage *next)
{
    if (!lp_ready())
        return 0;
    next->origin = lifecycle_origin;
    next->pid = (long)lifecycle_pid;
    next->gen = lifecycle_exec_gen;
    next->may_map = false;
    next->other_pid = false;
    /* Restricted (seccomp): no write, and no getpid (the lineage is passed on all the same,
     * from the caller's frame). */
    if (lp_lifecycle_restricted()) {
        next->gen += lifecycle_restrict_wrote; /* its files take this generation's name */
        return 1;
    }
    /* Another pid: a vfork child (the parent's memory: touch nothing), or a process fork or a
     * raw clone made that has not entered lockprof since (the child of fork-then-exec). Neither
     * recorded anything of its own: the next image is the first generation of this pid. Told
     * without reading the token, whose page a fork child does not have yet. */
    long pid = (long)lp_sys_getpid();
    if (pid != (long)lifecycle_pid) {
        next->pid = pid;
        next->gen = 0;
        next->other_pid = true;
        return 1;
    }
    next->may_map = true;
    if (lp_self.busy)
        return 1; /* exec from a handler that interrupted lockprof: no write, no deadlock */
    if (lp_lifecycle_token_ == &lifecycle_token_none)
        return 1; /* never entered lockprof: nothing recorded, nothing to adopt */
    lp_lifecycle_check();
    /* A final profile, unless this image recorded nothing (a shell that execs the program):
     * then there is nothing the next image could overwrite, and it keeps this image's name. */
    if (lifecycle_recorded_nothing())
        return 1;
    struct lp_guard g;
    lp_guard_enter(&g);
    lp_writer_write("exec", true);
    lp_guard_leave(&g);
    next->gen++;
    return 1;
}

/* ---- fork -----------------------------------------------------------------------------------
 * The parent's fork neither waits for nor touches anything of lockprof's: every store to
 * lockprof's memory around a fork copies a page the child still shares (one page fault each,
 * in a shell that forks for every command). The child becomes one lazily (below).
 */

/* Set when this thread forked from a signal handler that interrupted lockprof on this thread
 * (the child then becomes one at once: the interrupted code goes on in it). */
static __thread int lifecycle_prefork_skipped __attribute__((tls_model("initial-exec")));

static bool lifecycle_token_wipes(void);

/* The prepare handler and the child handler. Nothing runs in the parent after the fork. */
LP_FORK_TEXT static void lifecycle_prefork(void)
{
    lifecycle_prefork_skipped = lp_self.busy != 0;
}

/* The child profiles itself from zero under its own pid (DESIGN §5); the parent's waiters,
 * threads, listener and start time are not its own. Each atfork_child frees the locks that
 * threads of the parent held at the fork (or at a clone no handler saw). */
static void lifecycle_become_child(void)
{
    lp_sync_held_ = 0;
    lp_locktab_atfork_child();
    lp_stacktab_atfork_child();
    lp_cpu_atfork_child();
    lp_event_atfork_child();
    lp_families_atfork_child();
    lp_maps_atfork_child();
    lp_inflight_atfork_child();
    /* A window open in the parent (rate=/fraction=) has no thread here to end it: the rates
     * it saved are the child's again. */
    lp_endpoint_atfork_child();
    lp_agent_atfork_child();
    lp_signals_atfork_child();
    lifecycle_agent_deferred = 0;
    lifecycle_pid = lp_sys_getpid();
    lifecycle_exec_gen = 0;
    lifecycle_start_realtime = lifecycle_start_time();
    char prefix[LP_PATH_MAX];
    lifecycle_expand_out(prefix, sizeof prefix, (long)lifecycle_pid);
    lp_writer_atfork_child(prefix);
    /* A child that has no token page yet maps its own at its next entry (its pid is lockprof's
     * now: nothing more to do then). */
    if (lp_lifecycle_token_ != &lifecycle_token_none)
        __atomic_store_n(lp_lifecycle_token_, 1, __ATOMIC_RELEASE);
    /* No agent thread here: a thread would make the child multithreaded behind its back
     * (unshare(CLONE_NEWUSER) then fails, pids.max counts it). The child writes at exit and
     * through the API; a fatal signal ends it without a profile. Unless the CPU profile
     * samples it (LOCKPROF_CPU_HZ, a live feature, DESIGN §5): its samples need lockprof's
     * thread to drain the ring as it fills, or all but the ring's worth would be lost. */
    if (lp_cpu_sampling())
        lp_agent_start(&lifecycle_config, "");
}

LP_FORK_TEXT static void lifecycle_postfork_child(void)
{
    if (lp_self.busy++ == 0)
        lp_self.busy_at = 0; /* (jump.c: never taken down by a jump) */
    if (lp_lifecycle_restricted()) {
        /* Restricted (seccomp): the child writes nothing, so it keeps its parent's tables as
         * they are rather than make the system calls that clearing them takes; only the locks
         * a thread of the parent held are its own again. */
        lp_writer_atfork_child(NULL);
        lp_maps_atfork_child();
        __atomic_store_n(lp_lifecycle_token_, 1, __ATOMIC_RELEASE);
        lifecycle_agent_deferred = 0;
        lp_self.busy--;
        return;
    }
    /* A child sampled for the CPU profile becomes one now: its timer cannot wait for its first
     * entry into lockprof, which a CPU-bound child may never make, and its samples are its
     * profile's. */
    if (lifecycle_prefork_skipped || lp_lifecycle_token_ == &lifecycle_token_fallback ||
        lp_cpu_sampling()) {
        lifecycle_become_child();
        lp_self.busy--;
        return;
    }
    /* Most children exec or exit without entering lockprof again (a shell's commands, a
     * daemon's helpers): they become children when they first do (lp_lifecycle_adopt: the
     * token reads 0 in a new process, or the pid is not lockprof's), not here, because every
     * store to lockprof's memory here copies a page the child shares with its parent. Locks a
     * thread of the parent held at the fork stay so until then; nothing takes them before
     * (every path to them checks the token first). Now: this thread's own state, and what
     * cannot wait — the rates an HTTP window set (no thread here ends it; every draw reads
     * them), the listener's sockets, a snapshot signal that has no thread here to serve it. */
    lp_sync_held_ = 0;
    lp_event_atfork_child(); /* (this thread's id and draws: its own from here) */
    lp_rates_atfork_child();
    lp_agent_atfork_child();
    lp_signals_atfork_child();
    lp_self.busy--;
}

/* ---- lockprof's tables ----------------------------------------------------------------------
 * The tables of locks with waiters, of stacks, of waits in progress and the unwinder's cache
 * are mapped at the process's first entry (below), not at start: five mappings that most
 * processes never use (a shell's commands, a build's compilers). Nothing reads them before:
 * every path that records checks the token first, the unlocks look at a count of registered
 * waiters that stays 0, and the writer and the views take an unmapped table for an empty one.
 * In the constructor already for a process with threads of its own or a live feature. A
 * process that finds no memory for them is not profiled: lockprof passes straight through
 * from then on, as when the constructor could not map them. */
#define LIFECYCLE_INFLIGHT_SLOTS 4096 /* waits in progress the threads view can name */
LP_INIT_DATA static uint32_t lifecycle_tables_mapped; /* set once; a fork child inherits them */

/* The run's CPU profile keeps as many stacks again, within a share of its own, so that it never
 * crowds out the block and mutex profiles. (The endpoint's windows have a table of their own,
 * as large, for as long as each is open: cpuprof.h.) */
static unsigned lifecycle_stack_shares(void)
{
    return lp_cpuprof_continuous() ? 2 : 1;
}

static bool lifecycle_tables_map(void)
{
    if (__atomic_load_n(&lifecycle_tables_mapped, __ATOMIC_ACQUIRE))
        return true;
    unsigned stacks = (unsigned)lifecycle_config.max_stacks;
    unsigned shares = lifecycle_stack_shares();
    if (lp_locktab_init((unsigned)lifecycle_config.lock_stripes) < 0 ||
        lp_stacktab_init(stacks * shares, stacks * 16 * shares) < 0) {
        lp_log_sigsafe("cannot map lockprof's tables: profiling is off");
        __atomic_store_n(&lp_ready_, 0, __ATOMIC_RELEASE);
        return false;
    }
    lp_stacktab_limit(LP_CPU, stacks, stacks * 16);
    lp_cpuprof_window_size(stacks, stacks * 16);
    lp_stacktab_limit_contention(stacks, stacks * 16); /* (LOCKPROF_MAX_STACKS: both together) */
    if (lp_inflight_init(LIFECYCLE_INFLIGHT_SLOTS) < 0)
        lp_log_sigsafe("cannot map lockprof's table of waits in progress: the threads view "
                       "shows system calls only");
    lp_cfi_init(); /* (none: the unwinder works without its cache) */
    __atomic_store_n(&lifecycle_tables_mapped, 1, __ATOMIC_RELEASE);
    return true;
}

/* ---- children no fork handler ran in -------------------------------------------------------
 * A process made by a raw clone (syscall(SYS_clone, SIGCHLD, …)) runs no fork handler: it would
 * keep its parent's tables and output name, and at its exit overwrite the parent's profile.
 * The token lives in a page mapped MADV_WIPEONFORK, which the kernel gives every new process
 * zeroed (any clone without CLONE_VM): lockprof's entries read it, and a zero says "a new
 * process", which then becomes a child as after fork. A vfork child shares the parent's memory
 * and sees the parent's token (lp_lifecycle_before_exec tells it by its pid).
 *
 * The page is mapped at the process's first entry, not at start: most processes never enter
 * (a shell's commands, a build's compilers), and the mapping costs two system calls and a page
 * fault. Until then lp_lifecycle_token_ points at lifecycle_token_none, which reads 0: the
 * first entry comes to lp_lifecycle_adopt, which tells a new process by its pid (one a fork or
 * a raw clone made of a process that had not entered either), makes it a child, and maps.
 */
LP_FORK_TEXT bool lp_lifecycle_own_memory(pid_t pid)
{
    if (lifecycle_token_wipes())
        return __atomic_load_n(lp_lifecycle_token_, __ATOMIC_ACQUIRE) == 0;
    /* No page yet: glibc's fork (and only its fork) gives the child's thread descriptor the
     * child's id, which is its pid; a vfork child, or a raw clone's, still has its parent's
     * thread's there (a raw clone's child is not told apart from a vfork child then). */
    return lp_lifecycle_token_ == &lifecycle_token_none && pid != 0 &&
           lp_event_descriptor_tid() == pid;
}

/* A page of the process's own, mapped. */
LP_FORK_TEXT static bool lifecycle_token_wipes(void)
{
    return lp_lifecycle_token_ != &lifecycle_token_fallback &&
           lp_lifecycle_token_ != &lifecycle_token_none;
}

/* Maps the process's token page (reading 1), or settles for the fallback; one thread's page
 * is kept when several race. */
static void lifecycle_token_map(void)
{
    uint32_t *t = &lifecycle_token_fallback;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        if (madvise(p, 4096, MADV_WIPEONFORK) == 0) {
            *(uint32_t *)p = 1;
            t = p;
        } else {
            munmap(p, 4096);
        }
    }
    uint32_t *expected = &lifecycle_token_none;
    if (!__atomic_compare_exchange_n(&lp_lifecycle_token_, &expected, t, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
        t != &lifecycle_token_fallback)
        munmap(t, 4096);
}

/* The first entry of a process that has no token page (above): its tables, its token, its
 * signal handlers. A new process has one thread at its first entry (pthread_create enters
 * first), so it adopts alone. A restricted one (seccomp; not known to happen: the restriction
 * enters first) makes no system call: it takes the fallback, which never reads 0. False when
 * the tables could not be mapped: lockprof is off. */
static bool lifecycle_first_entry(void)
{
    if (lp_lifecycle_restricted()) {
        uint32_t *expected = &lifecycle_token_none;
        __atomic_compare_exchange_n(&lp_lifecycle_token_, &expected, &lifecycle_token_fallback,
                                    false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        return true;
    }
    if (lp_sys_getpid() != lifecycle_pid) {
        lp_event_thread_descriptor_recheck(); /* (as after a raw clone: see below) */
        lifecycle_become_child();
    }
    if (!lifecycle_tables_map())
        return false;
    lifecycle_token_map();
    lp_signals_install();
    return true;
}

bool lp_lifecycle_adopt(void)
{
    /* One thread adopts (0 -> 2, then 1); another that arrives meanwhile waits for it. The
     * child usually adopts while it has one thread: pthread_create checks first. */
    bool nested = lp_self.busy != 0;
    struct lp_guard g;
    lp_guard_enter(&g); /* first: a handler on this thread must not come here and wait for us */
    if (__atomic_load_n(&lp_lifecycle_token_, __ATOMIC_ACQUIRE) == &lifecycle_token_none) {
        bool on = lifecycle_first_entry();
        lp_guard_leave(&g);
        return on;
    }
    uint32_t expected = 0;
    if (!__atomic_compare_exchange_n(lp_lifecycle_token_, &expected, 2, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        /* Another thread is adopting: wait for it, unless this one is inside lockprof already
         * (a handler that interrupted it, perhaps in this very adoption: waiting would never
         * end). */
        while (!nested && __atomic_load_n(lp_lifecycle_token_, __ATOMIC_ACQUIRE) == 2)
            sched_yield();
        lp_guard_leave(&g);
        return true;
    }
    if (lp_lifecycle_restricted()) {
        /* A restricted child (seccomp) writes nothing: it need not become one, which takes
         * system calls. */
        __atomic_store_n(lp_lifecycle_token_, 1, __ATOMIC_RELEASE);
    } else {
        /* After a raw clone, glibc's thread descriptors still hold the parent's thread ids (no
         * fork of glibc's ran): then they come from the kernel. */
        lp_event_thread_descriptor_recheck();
        lifecycle_become_child();
    }
    lp_guard_leave(&g);
    return true;
}

/* ---- lockprof's thread, when the program starts its own ---------------------------------- */

void lp_lifecycle_threads_begin(void)
{
    if (lp_wrap_off())
        return;
    lp_lifecycle_check(); /* a raw clone child adopts while it still has one thread */
    lp_resolve_all();     /* while it has one thread (resolve.h) */
    lifecycle_fork_handlers();
    if (!__atomic_load_n(&lifecycle_agent_deferred, __ATOMIC_ACQUIRE))
        return;
    if (!__atomic_exchange_n(&lifecycle_agent_deferred, 0, __ATOMIC_ACQ_REL))
        return;
    struct lp_guard g;
    lp_guard_enter(&g);
    lp_agent_start(&lifecycle_config, "");
    lp_guard_leave(&g);
}

/* ---- the constructor ---------------------------------------------------------------------- */

/* What pthread_atfork, atexit and at_quick_exit call: those three are stubs that
 * libc_nonshared.a links into every object that uses them, one more page of code for every
 * process to fault in at start. */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                             void *dso_handle);
/* This library's handle for __cxa_atexit and __register_atfork, which crtbeginS.o would
 * define: the library is linked without the start files (Makefile). */
void *__dso_handle __attribute__((visibility("hidden"))) = &__dso_handle;
extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso_handle);
extern int __cxa_at_quick_exit(void (*fn)(void *), void *dso_handle);

LP_INIT_TEXT static void lifecycle_exit_write_cxa(void *arg)
{
    (void)arg;
    lifecycle_exit_write();
}

/* The fork handlers, registered once, where no other library's fork handler can be running
 * (glibc holds its handlers' lock while they run, and registering takes it): in the
 * constructor when lockprof's thread starts there or the program has threads already, as the
 * program starts its first thread, and before a restriction of system calls. A process that
 * does none of these runs none at its forks: its children become children at their first
 * entry, as those whose handler left them to it do (it has no thread, HTTP listener or
 * snapshot signal of lockprof's for a handler to take down). Registering costs every process
 * two page faults, glibc's table of handlers and its code, which most never need. */
static void lifecycle_fork_handlers(void)
{
    static uint32_t registered; /* atomic */
    if (__atomic_load_n(&registered, __ATOMIC_ACQUIRE) ||
        __atomic_exchange_n(&registered, 1, __ATOMIC_ACQ_REL))
        return;
    __register_atfork(lifecycle_prefork, NULL, lifecycle_postfork_child, __dso_handle);
}

/* LOCKPROF_OUT naming a directory (ending in "/", or an existing directory when it has no %)
 * means the default name in it, DIR/lockprof.%p, as lockprof run -o DIR does: not hidden
 * files named ".block.pb.gz", nor files beside the directory. */
LP_INIT_TEXT static void lifecycle_out_directory(void)
{
    char *out = lifecycle_config.out;
    size_t n = strlen(out);
    struct stat st;
    bool dir = n && (out[n - 1] == '/' ||
                     (!strchr(out, '%') && lp_sys_stat(out, &st) == 0 && S_ISDIR(st.st_mode)));
    char buf[64];
    const char *base = dir ? lp_config_default("LOCKPROF_OUT", buf, sizeof buf) : NULL;
    if (!base)
        return;
    if (n + 1 + strlen(base) >= sizeof lifecycle_config.out) {
        lp_log_sigsafe("LOCKPROF_OUT='%s' is too long with %s added; using %s", out, base, base);
        strcpy(out, base);
        return;
    }
    if (out[n - 1] != '/')
        out[n++] = '/';
    strcpy(out + n, base);
}

/* The environment's LOCKPROF_ entries (past that prefix), gathered in one pass by the
 * constructor: the configuration asks for each of its variables, and getenv would read the
 * whole environment for every one. Set while the constructor runs (the array is on its
 * stack). */
#define LIFECYCLE_ENV_MAX 32
#define LIFECYCLE_ENV_PREFIX "LOCKPROF_"
LP_INIT_DATA static const char **lifecycle_env;
LP_INIT_DATA static unsigned lifecycle_env_n; /* more than LIFECYCLE_ENV_MAX: ask getenv */

/* The length of prefix when s begins with it, else 0. */
LP_INIT_TEXT static size_t lifecycle_prefix(const char *s, const char *prefix)
{
    size_t n = 0;
    for (; prefix[n]; n++)
        if (s[n] != prefix[n])
            return 0;
    return n;
}

LP_INIT_TEXT static void lifecycle_env_gather(const char **env)
{
    unsigned n = 0;
    for (char **e = environ; e && *e; e++) {
        size_t k = lifecycle_prefix(*e, LIFECYCLE_ENV_PREFIX);
        if (k && n++ < LIFECYCLE_ENV_MAX)
            env[n - 1] = *e + k;
    }
    lifecycle_env = env;
    lifecycle_env_n = n;
}

/* getenv(name), as getenv answers it: the first NAME= entry. */
LP_INIT_TEXT static const char *lifecycle_getenv(const char *name)
{
    size_t k = lifecycle_prefix(name, LIFECYCLE_ENV_PREFIX);
    if (!lifecycle_env || lifecycle_env_n > LIFECYCLE_ENV_MAX || !k || !name[k])
        return getenv(name);
    for (unsigned i = 0; i < lifecycle_env_n; i++) {
        size_t n = lifecycle_prefix(lifecycle_env[i], name + k);
        if (n && lifecycle_env[i][n] == '=')
            return lifecycle_env[i] + n + 1;
    }
    return NULL;
}

/* Each signal has one role: the CPU profile's signal is not also a fatal or the snapshot
 * signal (said once). */
LP_INIT_TEXT static void lifecycle_signals_init(int cpu)
{
    uint64_t fatal = lifecycle_config.fatal_signals;
    int snapshot = (int)lifecycle_config.snapshot_signal;
    char name[32];
    /* For the endpoint's windows only, the signal stays what the user named it for. */
    if (cpu && !lp_cpuprof_continuous() && (snapshot == cpu || (fatal & (1ULL << cpu)))) {
        lp_cpu_stand_aside(snapshot == cpu ? "its signal is LOCKPROF_SIGNAL's"
                                           : "its signal is one of LOCKPROF_FATAL_SIGNALS");
        cpu = 0;
    }
    if (cpu && snapshot == cpu) {
        lp_log_sigsafe("LOCKPROF_SIGNAL=%s is the CPU profile's signal (LOCKPROF_CPU_HZ): no "
                       "snapshots on it", lp_config_signal_name(cpu, name, sizeof name));
        snapshot = 0;
    }
    if (cpu && (fatal & (1ULL << cpu))) {
        lp_log_sigsafe("LOCKPROF_FATAL_SIGNALS names %s, the CPU profile's signal "
                       "(LOCKPROF_CPU_HZ): it is not one of them",
                       lp_config_signal_name(cpu, name, sizeof name));
        fatal &= ~(1ULL << cpu);
    }
    lp_signals_init(fatal, snapshot, cpu);
}

__attribute__((constructor(101))) static void lifecycle_init(void)
{
    if (getauxval(AT_SECURE))
        return; /* setuid and friends: dormant (DESIGN §4) */
    lp_self.busy++; /* (busy_at 0: never taken down by a jump) */
    const char *env[LIFECYCLE_ENV_MAX];
    lifecycle_env_gather(env);
    lp_log_init();
    lp_resolve_vfork_safe();
    if (!__libc_single_threaded) { /* threads started before lockprof: no later time is safe */
        lp_resolve_all();
        lp_agent_init();
    }
    lp_config_load(&lifecycle_config, lifecycle_getenv);
    lifecycle_out_directory();
    if (lifecycle_config.show_config)
        lp_config_show(&lifecycle_config);

    lp_clock_tsc_init(lifecycle_config.tsc);
    lifecycle_start_realtime = lifecycle_start_time();
    /* (The system call itself: libc's getcwd is one more page of code to fault in.) A
     * directory that cannot be named (deleted, or beyond the root) counts as "/". */
    if (lp_sys_getcwd(lifecycle_cwd_at_start, sizeof lifecycle_cwd_at_start) <= 0 ||
        lifecycle_cwd_at_start[0] != '/')
        strcpy(lifecycle_cwd_at_start, "/");
    lifecycle_pid = lp_sys_getpid();
    lifecycle_find_library();
    lifecycle_find_thread_id(lifecycle_pid);
    lifecycle_out_has_pid = lp_config_pattern_has(lifecycle_config.out, 'p');
    lifecycle_lineage_init((long)lifecycle_pid);
    char prefix[LP_PATH_MAX];
    lifecycle_expand_out(prefix, sizeof prefix, (long)lifecycle_pid);

    lp_fdcache_init(lifecycle_config.io);
    lp_stack_set_depth((unsigned)lifecycle_config.stack_depth);
    lp_unwind_add_self_range((const void *)lifecycle_init);
    lp_unwind_load(lifecycle_config.libunwind);
    char http[LP_HTTP_SPEC_MAX + 32];
    lifecycle_http_spec(http, sizeof http);
    /* (With the endpoint on, the CPU profile is ready for its windows.) */
    int cpu_signal = lp_cpu_init(&lifecycle_config, http[0] != '\0');
    lp_stacktab_plan((unsigned)lifecycle_config.max_stacks * lifecycle_stack_shares());

    /* A prefix without %p may be another process's too: the writer claims it at its first
     * write, against the files changed since now (the clock is read only for such a prefix). */
    struct lp_writer_info info = {
        .version = LOCKPROF_VERSION,
        .stack_depth = (unsigned)lifecycle_config.stack_depth,
        .claim_since = lifecycle_out_has_pid ? 0 : lp_clock_realtime(),
    };
    lp_writer_init(prefix, &info);

    /* The rates before lockprof's threads: an HTTP window that opens at once saves these. */
    lp_rates_init(lifecycle_config.block_rate, lifecycle_config.mutex_fraction);
    /* lockprof's thread starts now only for a live feature; otherwise with the program's first
     * thread of its own (lp_lifecycle_threads_begin): a program that never starts one stays
     * single-threaded (DESIGN §5). */
    bool live = http[0] || lifecycle_config.interval || lifecycle_config.snapshot_signal ||
                cpu_signal;
    if ((live || !__libc_single_threaded) && !lifecycle_tables_map()) {
        lifecycle_env = NULL;
        lp_self.busy--;
        return;
    }
    if (live || !__libc_single_threaded)
        lifecycle_fork_handlers();
    if (live)
        lp_agent_start(&lifecycle_config, http);
    else
        __atomic_store_n(&lifecycle_agent_deferred, 1, __ATOMIC_RELEASE);
    lifecycle_signals_init(cpu_signal);
    /* The handlers now in the run's first process, whose profiles a fatal signal must leave
     * even if it records nothing, and for a live feature (the CPU profile's among them); in the
     * processes it starts, at their first entry: until one records something, its death leaves
     * nothing to write. */
    if (live || lifecycle_is_origin())
        lp_signals_install();
    __cxa_atexit(lifecycle_exit_write_cxa, NULL, __dso_handle);
    __cxa_at_quick_exit(lifecycle_exit_write_cxa, __dso_handle); /* a normal termination too */

    lp_futex_enable(lifecycle_config.futex);
    lp_cpu_start(); /* once its signal's handler is in place */
    lifecycle_env = NULL;
    __atomic_store_n(&lp_ready_, 1, __ATOMIC_RELEASE);
    lp_self.busy--;
}
