/* Signal-safe helpers of the somsim probe: descriptor passing, the restore plan and its journal.
 * Everything in somsim_restore_now uses only async-signal-safe calls (open, read, write, close,
 * fsync, system calls such as getdents64 and pidfd_send_signal, poll, waitpid, umount2, rmdir,
 * unlink, unlinkat, nanosleep) on data prepared in advance. */
#define _GNU_SOURCE
#include "somsim_probe_support.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int somsim_send(int socket, const void *buffer, size_t length, int fd)
{
    struct iovec iov = { .iov_base = (void *)buffer, .iov_len = length };
    union {
        char bytes[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.bytes;
        msg.msg_controllen = sizeof control.bytes;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    for (;;) {
        ssize_t n = sendmsg(socket, &msg, MSG_NOSIGNAL);
        if (n >= 0)
            return n == (ssize_t)length ? 0 : -1;
        if (errno != EINTR)
            return -1;
    }
}

ssize_t somsim_receive(int socket, void *buffer, size_t length, int *fd)
{
    struct iovec iov = { .iov_base = buffer, .iov_len = length };
    union {
        char bytes[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes };
    *fd = -1;
    for (;;) {
        ssize_t n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                    memcpy(fd, CMSG_DATA(c), sizeof(int));
            /* A message longer than the buffer, or more descriptors than one, is cut by the
             * kernel without an error: refuse it rather than use part of it. */
            if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
                if (*fd >= 0)
                    close(*fd);
                *fd = -1;
                errno = EMSGSIZE;
                return -1;
            }
        }
        return n;
    }
}

int somsim_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int somsim_pidfd_wait(int pidfd, int timeout_ms)
{
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        return n > 0;
    }
}

/* ---- the restore plan ----
 *
 * What the signal handler (on_signal -> somsim_restore_now) reads and writes, and why it may:
 *
 *   write_count, mount_count, remove_count, group_count, agent_count, journaling
 *       volatile sig_atomic_t: read by the handler, set to 0 by it.
 *   writes, mounts, removes, groups, agent_pids, agent_fds
 *       the entries below each count. The main flow fills an entry whole, then (after
 *       atomic_signal_fence, so that the compiler cannot move the filling after it) raises the
 *       count: the handler only ever sees entries that are complete. It closes and clears agent
 *       slots, and the main flow never runs again after the handler (it dies of the signal).
 *   last_failure
 *       a lock-free atomic pointer (to a string literal or a step's path).
 *   journal_path
 *       written by the main flow before `journaling` is raised, only read by the handler.
 *   journal_text, journal_temporary, journal_directory
 *       main flow only (journal_save); the handler unlinks journal_path and syncs the directory.
 */

#define MAX_STEPS SOMSIM_RESTORE_MAX_STEPS
#define MAX_GROUPS SOMSIM_RESTORE_MAX_GROUPS
#define MAX_AGENTS SOMSIM_RESTORE_MAX_AGENTS
#define PATH_BYTES SOMSIM_RESTORE_PATH_BYTES
#define VALUE_BYTES SOMSIM_RESTORE_VALUE_BYTES

struct write_step {
    char path[PATH_BYTES];
    char value[VALUE_BYTES];
};
struct remove_step {
    char path[PATH_BYTES];
    int kind; /* enum somsim_remove_kind */
};
struct group_step {
    pid_t pgid;
    unsigned long long start;
};

static struct write_step writes[MAX_STEPS];
static volatile sig_atomic_t write_count;
static char mounts[MAX_STEPS][PATH_BYTES];
static volatile sig_atomic_t mount_count;
static struct remove_step removes[MAX_STEPS];
static volatile sig_atomic_t remove_count;
static struct group_step groups[MAX_GROUPS];
static volatile sig_atomic_t group_count;
/* SysV segments to remove: those created by `creator` at or after `since` (seconds). */
struct shm_step {
    pid_t creator;
    long long since;
};
static struct shm_step shms[MAX_STEPS];
static volatile sig_atomic_t shm_count;
static pid_t agent_pids[MAX_AGENTS];
static int agent_fds[MAX_AGENTS];
static volatile sig_atomic_t agent_count;
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "last_failure is set from a signal handler");
static _Atomic(const char *) last_failure = "";

static char journal_directory[PATH_BYTES];
static char journal_path[PATH_BYTES + 32];
static char journal_temporary[PATH_BYTES + 32];
static volatile sig_atomic_t journaling;
/* The longest lines: "write\tPATH\tVALUE\n", "remove-tree\tPATH\n", "mount\tPATH\n",
 * "group\tPGID\tSTART\n" (at most 6 + 11 + 1 + 20 + 1 bytes); the header and the owner line. */
#define WRITE_LINE_BYTES (6 + PATH_BYTES + VALUE_BYTES)
#define PATH_LINE_BYTES (12 + PATH_BYTES)
#define GROUP_LINE_BYTES 48
#define SHM_LINE_BYTES 48
static char journal_text[256 + MAX_STEPS * (WRITE_LINE_BYTES + 2 * PATH_LINE_BYTES + SHM_LINE_BYTES) + MAX_GROUPS * GROUP_LINE_BYTES];
_Static_assert(sizeof journal_text >= 64 + 2 * 32 + MAX_STEPS * (WRITE_LINE_BYTES + 2 * PATH_LINE_BYTES) + MAX_GROUPS * (6 + 11 + 1 + 20 + 1),
               "a full plan fits the journal text");

/* Publishes what the main flow wrote before it to a signal handler that interrupts it after. */
static void publish(void) { atomic_signal_fence(memory_order_seq_cst); }

static int refuse(int result, int error)
{
    errno = error;
    return result;
}

/* Copies a path or a value whole, or refuses with `too_long`: never a truncated copy. */
static int copy(char *to, const char *from, size_t size, int too_long)
{
    size_t n = strlen(from);
    if (n >= size)
        return refuse(too_long, too_long == SOMSIM_RESTORE_VALUE_TOO_LONG ? E2BIG : ENAMETOOLONG);
    memcpy(to, from, n + 1);
    return SOMSIM_RESTORE_ADDED;
}

/* One tab or newline in a path or value would break the journal's lines. */
static int printable(const char *s)
{
    for (; *s; s++)
        if (*s == '\t' || *s == '\n')
            return refuse(SOMSIM_RESTORE_BAD_TEXT, EINVAL);
    return SOMSIM_RESTORE_ADDED;
}

static int write_all(int fd, const char *text, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, text, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = EIO; /* write(2) of a regular file wrote nothing and said no error */
            return -1;
        }
        text += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync of the journal's directory, so that a rename or unlink in it is durable. 0 or -1. */
static int sync_directory(void)
{
    int fd = open(journal_directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

/* Rewrites the journal from the plan: a temporary file, fsync, rename over the journal, fsync
 * of the directory. The journal on disk is always a whole plan, the old one or the new one.
 * Returns SOMSIM_RESTORE_ADDED or SOMSIM_RESTORE_JOURNAL_FAILED (errno set). */
static int journal_save(void)
{
    if (!journaling)
        return SOMSIM_RESTORE_ADDED;
    size_t used = 0, room = sizeof journal_text;
#define PUT(...)                                                                 \
    do {                                                                         \
        int n = snprintf(journal_text + used, room - used, __VA_ARGS__);         \
        if (n < 0 || (size_t)n >= room - used)                                   \
            return refuse(SOMSIM_RESTORE_JOURNAL_FAILED, n < 0 ? errno : EOVERFLOW); \
        used += (size_t)n;                                                       \
    } while (0)
    PUT("somsim-restore-journal 1\n");
    PUT("owner\t%d\t%llu\n", (int)getpid(), somsim_start_time(getpid()));
    for (int i = 0; i < write_count; i++)
        PUT("write\t%s\t%s\n", writes[i].path, writes[i].value);
    for (int i = 0; i < mount_count; i++)
        PUT("mount\t%s\n", mounts[i]);
    for (int i = 0; i < remove_count; i++)
        PUT("%s\t%s\n",
            removes[i].kind == SOMSIM_REMOVE_FILE              ? "remove"
            : removes[i].kind == SOMSIM_REMOVE_EMPTY_DIRECTORY ? "remove-dir"
                                                               : "remove-tree",
            removes[i].path);
    for (int i = 0; i < group_count; i++)
        PUT("group\t%d\t%llu\n", (int)groups[i].pgid, groups[i].start);
    for (int i = 0; i < shm_count; i++)
        PUT("shm\t%d\t%lld\n", (int)shms[i].creator, shms[i].since);
#undef PUT
    int fd = open(journal_temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return SOMSIM_RESTORE_JOURNAL_FAILED;
    int failed = write_all(fd, journal_text, used) != 0 || fsync(fd) != 0;
    int saved = errno;
    if (close(fd) != 0 && !failed) { /* the descriptor is gone either way: never closed twice */
        failed = 1;
        saved = errno;
    }
    if (failed) {
        unlink(journal_temporary);
        errno = saved;
        return SOMSIM_RESTORE_JOURNAL_FAILED;
    }
    if (rename(journal_temporary, journal_path) != 0) {
        int saved = errno;
        unlink(journal_temporary);
        errno = saved;
        return SOMSIM_RESTORE_JOURNAL_FAILED;
    }
    if (sync_directory() != 0)
        return SOMSIM_RESTORE_JOURNAL_FAILED;
    return SOMSIM_RESTORE_ADDED;
}

int somsim_restore_journal_to(const char *directory)
{
    if (mkdir(directory, 0700) != 0 && errno != EEXIST)
        return SOMSIM_RESTORE_JOURNAL_FAILED;
    struct stat st;
    if (lstat(directory, &st) != 0)
        return SOMSIM_RESTORE_JOURNAL_FAILED;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return refuse(SOMSIM_RESTORE_JOURNAL_FAILED, ENOTDIR);
    int r = copy(journal_directory, directory, sizeof journal_directory, SOMSIM_RESTORE_PATH_TOO_LONG);
    if (r != SOMSIM_RESTORE_ADDED)
        return r;
    int n = snprintf(journal_path, sizeof journal_path, "%s/restore-journal", directory);
    int m = snprintf(journal_temporary, sizeof journal_temporary, "%s/restore-journal.new", directory);
    if (n < 0 || (size_t)n >= sizeof journal_path || m < 0 || (size_t)m >= sizeof journal_temporary)
        return refuse(SOMSIM_RESTORE_PATH_TOO_LONG, ENAMETOOLONG);
    publish();
    journaling = 1;
    r = journal_save();
    if (r != SOMSIM_RESTORE_ADDED) {
        int saved = errno;
        journaling = 0;
        errno = saved;
    }
    return r;
}

int somsim_restore_add_write(const char *path, const char *value)
{
    /* Writes run in reverse order of registration. */
    if (write_count == MAX_STEPS)
        return refuse(SOMSIM_RESTORE_FULL, ENOSPC);
    int r;
    if ((r = printable(path)) != 0 || (r = printable(value)) != 0 ||
        (r = copy(writes[write_count].path, path, sizeof writes[0].path, SOMSIM_RESTORE_PATH_TOO_LONG)) != 0 ||
        (r = copy(writes[write_count].value, value, sizeof writes[0].value, SOMSIM_RESTORE_VALUE_TOO_LONG)) != 0)
        return r;
    publish();
    write_count++;
    if ((r = journal_save()) != 0) {
        write_count--;
        return r;
    }
    return SOMSIM_RESTORE_ADDED;
}

int somsim_restore_add_mount(const char *directory)
{
    if (mount_count == MAX_STEPS)
        return refuse(SOMSIM_RESTORE_FULL, ENOSPC);
    int r;
    if ((r = printable(directory)) != 0 || (r = copy(mounts[mount_count], directory, sizeof mounts[0], SOMSIM_RESTORE_PATH_TOO_LONG)) != 0)
        return r;
    publish();
    mount_count++;
    if ((r = journal_save()) != 0) {
        mount_count--;
        return r;
    }
    return SOMSIM_RESTORE_ADDED;
}

int somsim_restore_add_remove(const char *path, int kind)
{
    if (remove_count == MAX_STEPS)
        return refuse(SOMSIM_RESTORE_FULL, ENOSPC);
    /* An unknown kind would be journaled as a tree and run as nothing. */
    if (kind != SOMSIM_REMOVE_FILE && kind != SOMSIM_REMOVE_EMPTY_DIRECTORY && kind != SOMSIM_REMOVE_DIRECTORY_OF_FILES)
        return refuse(SOMSIM_RESTORE_BAD_TEXT, EINVAL);
    int r;
    if ((r = printable(path)) != 0 || (r = copy(removes[remove_count].path, path, sizeof removes[0].path, SOMSIM_RESTORE_PATH_TOO_LONG)) != 0)
        return r;
    removes[remove_count].kind = kind;
    publish();
    remove_count++;
    if ((r = journal_save()) != 0) {
        remove_count--;
        return r;
    }
    return SOMSIM_RESTORE_ADDED;
}

int somsim_restore_track_group(pid_t group, unsigned long long leader_start_time)
{
    if (group_count == MAX_GROUPS)
        return refuse(SOMSIM_RESTORE_FULL, ENOSPC);
    groups[group_count].pgid = group;
    groups[group_count].start = leader_start_time;
    publish();
    group_count++;
    int r = journal_save();
    if (r != 0) {
        group_count--;
        return r;
    }
    return SOMSIM_RESTORE_ADDED;
}

int somsim_restore_add_shm(pid_t creator, long long since)
{
    if (shm_count == MAX_STEPS)
        return refuse(SOMSIM_RESTORE_FULL, ENOSPC);
    shms[shm_count].creator = creator;
    shms[shm_count].since = since;
    publish();
    shm_count++;
    int r = journal_save();
    if (r != 0) {
        shm_count--;
        return r;
    }
    return SOMSIM_RESTORE_ADDED;
}

/* IPC_RMID of every SysV segment a recorded creator made since its time (the creators are
 * agents, dead by now: a removed segment is destroyed at once). Returns the failures. */
static int remove_segments(void)
{
    int failures = 0;
    if (shm_count == 0)
        return 0;
    struct shm_info info;
    int highest = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
    if (highest < 0)
        return 1;
    for (int index = 0; index <= highest; index++) {
        struct shmid_ds ds;
        int id = shmctl(index, SHM_STAT, &ds);
        if (id < 0)
            continue;
        for (int i = 0; i < shm_count; i++)
            if (ds.shm_cpid == shms[i].creator && (long long)ds.shm_ctime >= shms[i].since) {
                if (shmctl(id, IPC_RMID, NULL) != 0 && errno != EINVAL && errno != EIDRM)
                    failures++;
                break;
            }
    }
    return failures;
}

int somsim_restore_track_agent(pid_t pid, int pidfd)
{
    if (agent_count == MAX_AGENTS)
        return refuse(SOMSIM_RESTORE_FULL, ENOSPC);
    agent_pids[agent_count] = pid;
    agent_fds[agent_count] = pidfd;
    publish();
    agent_count++;
    return SOMSIM_RESTORE_ADDED;
}

void somsim_restore_untrack_agent(pid_t pid)
{
    for (int i = 0; i < agent_count; i++)
        if (agent_pids[i] == pid) {
            /* The last slot moves into this one before the count drops; meanwhile a handler sees
             * this agent (exited) or the last one twice (alive): never a stranger. */
            int fd = agent_fds[i];
            int last = agent_count - 1;
            agent_pids[i] = agent_pids[last];
            agent_fds[i] = agent_fds[last];
            publish();
            agent_count = last;
            publish();
            if (fd >= 0)
                close(fd);
            return;
        }
}

const char *somsim_restore_last_failure(void) { return atomic_load(&last_failure); }

/* ---- processes, read from /proc with system calls only ---- */

struct process_stat {
    char comm[32];
    char state;
    pid_t ppid;
    pid_t pgid;
    unsigned long long start;
};

static int read_stat(pid_t pid, struct process_stat *out)
{
    char path[48], text[1024];
    char digits[16];
    int n = 0;
    for (pid_t p = pid; p > 0 && n < (int)sizeof digits; p /= 10)
        digits[n++] = (char)('0' + p % 10);
    memcpy(path, "/proc/", 6);
    int at = 6;
    while (n > 0)
        path[at++] = digits[--n];
    memcpy(path + at, "/stat", 6);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    if (got <= 0)
        return -1;
    text[got] = 0;
    /* "PID (COMM) STATE PPID PGRP ... STARTTIME(22) ...": COMM may hold spaces and parentheses. */
    char *open_paren = strchr(text, '(');
    char *close_paren = strrchr(text, ')');
    if (!open_paren || !close_paren || close_paren < open_paren || close_paren[1] != ' ')
        return -1;
    size_t length = (size_t)(close_paren - open_paren - 1);
    if (length >= sizeof out->comm)
        length = sizeof out->comm - 1;
    memcpy(out->comm, open_paren + 1, length);
    out->comm[length] = 0;
    char *p = close_paren + 2;
    unsigned long long fields[20] = { 0 }; /* fields 4.. of stat, as numbers */
    out->state = *p;
    int field = 3;
    while (*p && field < 22) {
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
        field++;
        unsigned long long v = 0;
        int negative = *p == '-';
        for (char *q = p + negative; *q >= '0' && *q <= '9'; q++)
            v = v * 10 + (unsigned long long)(*q - '0');
        if (field - 4 < 20)
            fields[field - 4] = negative ? 0 : v;
    }
    if (field != 22)
        return -1;
    out->ppid = (pid_t)fields[4 - 4];
    out->pgid = (pid_t)fields[5 - 4];
    out->start = fields[22 - 4];
    return 0;
}

unsigned long long somsim_start_time(pid_t pid)
{
    struct process_stat st;
    return read_stat(pid, &st) == 0 ? st.start : 0;
}

/* The recorded group a live process belongs to as an agent, or -1. */
static int agent_group_of(pid_t pid)
{
    struct process_stat st;
    if (read_stat(pid, &st) != 0 || st.state == 'Z' || st.state == 'X' || strcmp(st.comm, SOMSIM_AGENT_COMM) != 0)
        return -1;
    for (int i = 0; i < group_count; i++)
        if (groups[i].pgid == st.pgid && st.start >= groups[i].start)
            return i;
    return -1;
}

/* Calls visit(pid, context) for every process in /proc but ours, adding up what it returns;
 * returns -1 when /proc cannot be listed. (getdents64 and open only: async-signal-safe.) */
static int each_process(int (*visit)(pid_t pid, void *context), void *context)
{
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0)
        return -1;
    int total = 0;
    char buffer[8192];
    for (;;) {
        long n = syscall(SYS_getdents64, proc, buffer, sizeof buffer);
        if (n < 0) {
            close(proc);
            return -1;
        }
        if (n == 0)
            break;
        for (long at = 0; at < n;) {
            unsigned short record;
            memcpy(&record, buffer + at + 16, sizeof record); /* struct linux_dirent64: d_reclen */
            const char *name = buffer + at + 19;
            at += record;
            pid_t pid = 0;
            const char *c = name;
            for (; *c >= '0' && *c <= '9'; c++)
                pid = pid * 10 + (*c - '0');
            if (*c || pid <= 0 || pid == getpid())
                continue;
            total += visit(pid, context);
        }
    }
    close(proc);
    return total;
}

/* SIGKILL to `pid` if it is a live agent of the recorded groups, checked again through a pidfd,
 * so that a number reused by another process in between is never signalled: 1 if it was. */
static int kill_if_group_agent(pid_t pid, void *context)
{
    (void)context;
    if (agent_group_of(pid) < 0)
        return 0;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return 0;
    int killed = 0;
    if (agent_group_of(pid) >= 0) {
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        killed = 1;
    }
    close(pidfd);
    return killed;
}

/* SIGKILL to every live agent of the recorded groups. Returns how many were alive, or -1 when
 * /proc cannot be listed (then agents may be left: not "none alive"). */
static int kill_group_agents(void)
{
    if (group_count == 0)
        return 0;
    return each_process(kill_if_group_agent, NULL);
}

/* Reaps `pid` if it is an agent and our child (an orphaned agent we adopted as subreaper): 1 if
 * it is one that has not ended yet. */
static int reap_if_agent_child(pid_t pid, void *context)
{
    (void)context;
    struct process_stat st;
    if (read_stat(pid, &st) != 0 || st.ppid != getpid() || strcmp(st.comm, SOMSIM_AGENT_COMM) != 0)
        return 0;
    return waitpid(pid, NULL, WNOHANG) == 0 ? 1 : 0;
}

/* Unlinks the files of a directory (one level), then removes it. */
static int remove_tree(const char *directory)
{
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    char buffer[4096];
    for (int pass = 0; pass < 64; pass++) {
        int removed = 0;
        lseek(fd, 0, SEEK_SET);
        for (;;) {
            long n = syscall(SYS_getdents64, fd, buffer, sizeof buffer);
            if (n <= 0)
                break;
            for (long at = 0; at < n;) {
                unsigned short record;
                memcpy(&record, buffer + at + 16, sizeof record); /* struct linux_dirent64 */
                const char *name = buffer + at + 19;
                at += record;
                if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                    continue;
                if (unlinkat(fd, name, 0) == 0)
                    removed++;
            }
        }
        if (removed == 0)
            break;
    }
    close(fd);
    return rmdir(directory) == 0 || errno == ENOENT ? 0 : -1;
}

static int write_value(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = strlen(value);
    ssize_t w;
    do
        w = write(fd, value, n);
    while (w < 0 && errno == EINTR);
    int saved = w >= 0 && w != (ssize_t)n ? EIO : errno; /* a short write: part of the value only */
    int closed = close(fd);
    if (w == (ssize_t)n && closed != 0)
        return -1;
    errno = saved;
    return w == (ssize_t)n ? 0 : -1;
}

/* Whether `path` already reads `value` (its trailing newline aside). A restore write the kernel
 * refuses may ask for what the file holds: a kdamond's `state` answers EBUSY to `on` while it
 * runs (mm/damon/sysfs.c: damon_sysfs_turn_damon_on), so a journal replayed after someone
 * started it again is still done. */
static int holds_value(const char *path, const char *value)
{
    char buffer[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n;
    do
        n = read(fd, buffer, sizeof buffer);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return 0;
    if (buffer[n - 1] == '\n')
        n--;
    size_t length = strlen(value);
    return (size_t)n == length && memcmp(buffer, value, length) == 0;
}

static void pause_1ms(void)
{
    struct timespec pause = { 0, 1000000 };
    nanosleep(&pause, NULL);
}

int somsim_restore_now(void)
{
    int failures = 0;
    /* 1. Agents: SIGKILL to each tracked agent and to every agent of the recorded groups (also
     *    those forked a moment ago), until none is alive; then wait for each tracked one (its
     *    memory is freed at exit, so the pools can shrink and the mounts are no longer busy).
     *    A slot whose agent is gone is cleared (pid 0, fd -1) and skipped: kill(0) would be our
     *    own process group, should a signal run this again while it runs. */
    for (int i = 0; i < agent_count; i++) {
        if (agent_fds[i] >= 0)
            syscall(SYS_pidfd_send_signal, agent_fds[i], SIGKILL, NULL, 0);
        else if (agent_pids[i] > 0)
            kill(agent_pids[i], SIGKILL);
    }
    int alive = kill_group_agents();
    for (int tries = 0; tries < 5000 && alive > 0; tries++) {
        pause_1ms();
        alive = kill_group_agents();
    }
    if (alive != 0) {
        failures++;
        atomic_store(&last_failure, alive < 0 ? "listing /proc to kill the agents of the recorded process groups"
                                              : "agents of the recorded process groups still alive 5 s after SIGKILL");
    }
    for (int i = 0; i < agent_count; i++) {
        if (agent_fds[i] >= 0) {
            if (!somsim_pidfd_wait(agent_fds[i], 10000)) {
                failures++;
                atomic_store(&last_failure, "an agent still alive 10 s after SIGKILL");
            }
            int fd = agent_fds[i];
            agent_fds[i] = -1;
            publish();
            close(fd);
        }
        if (agent_pids[i] > 0)
            waitpid(agent_pids[i], NULL, WNOHANG); /* ours, or an orphan we adopted as subreaper */
        agent_pids[i] = 0;
    }
    agent_count = 0;
    /* Agents forked inside the workload were re-parented to us (the subreaper) when their
     * parents died: reap each agent among our children, so that none is left even as a zombie.
     * Agents only: the process may have children of its own (a test runner's commands, whose
     * exit is their owner's to collect; a waitpid(-1) here took a `somsim` command's exit from
     * the test that ran it, which then read status 0). Bounded (about 2 s) and
     * async-signal-safe: /proc's listing, reads, waitpid and nanosleep only. */
    for (int tries = 0; tries < 2000 && each_process(reap_if_agent_child, NULL) > 0; tries++)
        pause_1ms();
    /* 2. Files the run made, then mounts (a busy mount is detached lazily), then directories. */
    for (int i = remove_count - 1; i >= 0; i--) {
        if (removes[i].kind == SOMSIM_REMOVE_FILE && unlink(removes[i].path) != 0 && errno != ENOENT) {
            failures++;
            atomic_store(&last_failure, "unlink of a workload file");
        }
        if (removes[i].kind == SOMSIM_REMOVE_DIRECTORY_OF_FILES && remove_tree(removes[i].path) != 0) {
            failures++;
            atomic_store(&last_failure, "removal of a directory of workload files");
        }
    }
    for (int i = mount_count - 1; i >= 0; i--)
        if (umount2(mounts[i], 0) != 0 && umount2(mounts[i], MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
            failures++;
            atomic_store(&last_failure, "umount of a hugetlbfs mount");
        }
    for (int i = remove_count - 1; i >= 0; i--)
        if (removes[i].kind == SOMSIM_REMOVE_EMPTY_DIRECTORY && rmdir(removes[i].path) != 0 && errno != ENOENT) {
            failures++;
            atomic_store(&last_failure, "rmdir of a temporary directory");
        }
    /* SysV segments, whose HugeTLB pages go back to the pools before the pools are restored. */
    if (remove_segments() != 0) {
        failures++;
        atomic_store(&last_failure, "IPC_RMID of a SysV shared memory segment of the run");
    }
    /* 3. Settings, last registered first (pools before the HVO knob they were sized under). */
    for (int i = write_count - 1; i >= 0; i--)
        if (write_value(writes[i].path, writes[i].value) != 0 && !holds_value(writes[i].path, writes[i].value)) {
            failures++;
            atomic_store(&last_failure, writes[i].path);
        }
    write_count = 0;
    mount_count = 0;
    remove_count = 0;
    group_count = 0;
    shm_count = 0;
    /* 4. The journal: deleted when everything is back; kept for the next start otherwise. */
    if (journaling) {
        if (failures == 0 && unlink(journal_path) == 0 && sync_directory() != 0) {
            failures++;
            atomic_store(&last_failure, "fsync of the journal's directory after deleting the journal");
        }
        journaling = 0;
    }
    return failures;
}

static void on_signal(int sig)
{
    somsim_restore_now();
    signal(sig, SIG_DFL);
    raise(sig);
}

void somsim_restore_install_signal_handlers(void)
{
    /* A parent may have started us with these signals blocked (Foundation's Process does, from a
     * test runner's thread): unblock them, or Ctrl-C would never reach the handler. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

void somsim_restore_remove_signal_handlers(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

int somsim_exit_status(pid_t pid, int *code, int *signal)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int r;
    do
        r = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
    while (r != 0 && errno == EINTR);
    if (r != 0)
        return -1;
    if (info.si_pid == 0)
        return 0;
    if (info.si_code == CLD_EXITED) {
        *code = info.si_status;
        *signal = 0;
    } else {
        *code = -1;
        *signal = info.si_status;
    }
    return 1;
}

int somsim_set_subreaper(int on)
{
    int previous = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &previous, 0, 0, 0) != 0 || prctl(PR_SET_CHILD_SUBREAPER, on, 0, 0, 0) != 0)
        return -1;
    return previous != 0;
}

#include <gnu/libc-version.h>
const char *somsim_libc_version(void) { return gnu_get_libc_version(); }
