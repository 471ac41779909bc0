/* Signal-safe helpers of the somsim probe: descriptor passing and the restore plan.
 * Everything in somsim_restore_now uses only async-signal-safe calls (open, write, close, kill,
 * poll, waitpid, umount2, rmdir, unlink) on data prepared in advance. */
#define _GNU_SOURCE
#include "somsim_probe_support.h"

#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

/* ---- the restore plan ---- */

#define MAX_STEPS 64
#define MAX_AGENTS 4096

struct write_step {
    char path[256];
    char value[64];
};
struct remove_step {
    char path[256];
    int directory;
};

static struct write_step writes[MAX_STEPS];
static int write_count;
static char mounts[MAX_STEPS][256];
static int mount_count;
static struct remove_step removes[MAX_STEPS];
static int remove_count;
static pid_t groups[MAX_STEPS];
static int group_count;
static pid_t agent_pids[MAX_AGENTS];
static int agent_fds[MAX_AGENTS];
static int agent_count;
static const char *last_failure = "";
static volatile sig_atomic_t restoring;

static void copy(char *to, const char *from, size_t size)
{
    size_t n = strlen(from);
    if (n >= size)
        n = size - 1;
    memcpy(to, from, n);
    to[n] = 0;
}

void somsim_restore_add_write(const char *path, const char *value)
{
    /* The latest write for a path replaces none: writes run in reverse order of registration. */
    if (write_count == MAX_STEPS)
        return;
    copy(writes[write_count].path, path, sizeof writes[0].path);
    copy(writes[write_count].value, value, sizeof writes[0].value);
    write_count++;
}

void somsim_restore_add_mount(const char *directory)
{
    if (mount_count < MAX_STEPS)
        copy(mounts[mount_count++], directory, sizeof mounts[0]);
}

void somsim_restore_add_remove(const char *path, int directory)
{
    if (remove_count == MAX_STEPS)
        return;
    copy(removes[remove_count].path, path, sizeof removes[0].path);
    removes[remove_count].directory = directory;
    remove_count++;
}

void somsim_restore_track_group(pid_t group)
{
    if (group_count < MAX_STEPS)
        groups[group_count++] = group;
}

void somsim_restore_track_agent(pid_t pid, int pidfd)
{
    if (agent_count < MAX_AGENTS) {
        agent_pids[agent_count] = pid;
        agent_fds[agent_count] = pidfd;
        agent_count++;
    }
}

void somsim_restore_untrack_agent(pid_t pid)
{
    for (int i = 0; i < agent_count; i++)
        if (agent_pids[i] == pid) {
            if (agent_fds[i] >= 0)
                close(agent_fds[i]);
            agent_pids[i] = agent_pids[agent_count - 1];
            agent_fds[i] = agent_fds[agent_count - 1];
            agent_count--;
            return;
        }
}

const char *somsim_restore_last_failure(void) { return last_failure; }

static int write_value(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = strlen(value);
    ssize_t w = write(fd, value, n);
    int saved = errno;
    close(fd);
    errno = saved;
    return w == (ssize_t)n ? 0 : -1;
}

int somsim_restore_now(void)
{
    int failures = 0;
    restoring = 1;
    /* 1. Agents: kill every group, then wait until each agent is gone (its memory is freed at
     *    exit, so the pools can shrink and the mounts are no longer busy). */
    for (int i = 0; i < group_count; i++)
        kill(-groups[i], SIGKILL);
    for (int i = 0; i < agent_count; i++) {
        kill(agent_pids[i], SIGKILL);
        if (agent_fds[i] >= 0) {
            somsim_pidfd_wait(agent_fds[i], 10000);
            close(agent_fds[i]);
        }
        waitpid(agent_pids[i], NULL, WNOHANG); /* ours, or an orphan we adopted as subreaper */
    }
    group_count = 0;
    agent_count = 0;
    /* Agents forked inside the workload were re-parented to us (the subreaper) when their
     * parents died: reap every child, so that none is left even as a zombie. Bounded (about 2 s)
     * and async-signal-safe: waitpid and nanosleep only. */
    for (int tries = 0; tries < 2000; tries++) {
        pid_t reaped = waitpid(-1, NULL, WNOHANG);
        if (reaped > 0)
            continue;
        if (reaped < 0 && errno != EINTR)
            break; /* ECHILD: no children left */
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    /* 2. Files the run made, then mounts (a busy mount is detached lazily), then directories. */
    for (int i = 0; i < remove_count; i++)
        if (!removes[i].directory && unlink(removes[i].path) != 0 && errno != ENOENT) {
            failures++;
            last_failure = "unlink of a workload file";
        }
    for (int i = mount_count - 1; i >= 0; i--)
        if (umount2(mounts[i], 0) != 0 && umount2(mounts[i], MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
            failures++;
            last_failure = "umount of a hugetlbfs mount";
        }
    for (int i = remove_count - 1; i >= 0; i--)
        if (removes[i].directory && rmdir(removes[i].path) != 0 && errno != ENOENT) {
            failures++;
            last_failure = "rmdir of a temporary directory";
        }
    /* 3. Settings, last registered first (pools before the HVO knob they were sized under). */
    for (int i = write_count - 1; i >= 0; i--)
        if (write_value(writes[i].path, writes[i].value) != 0) {
            failures++;
            last_failure = writes[i].path;
        }
    write_count = mount_count = remove_count = 0;
    restoring = 0;
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

int somsim_become_subreaper(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}
