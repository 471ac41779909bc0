/* somsim probe: the wire protocol between the probe and its agents, and the signal-safe parts of
 * the probe (passing descriptors, restoring machine settings from a signal handler).
 *
 * Commands and replies are fixed-size structs sent as one SOCK_SEQPACKET message each, so the
 * agent reads them into preallocated buffers and never allocates on the command path. */
#ifndef SOMSIM_PROBE_SUPPORT_H
#define SOMSIM_PROBE_SUPPORT_H

#include <stdint.h>
#include <sys/types.h>

/* The descriptor an agent talks on (a SOCK_SEQPACKET socket). */
#define SOMSIM_AGENT_FD 3

/* Where workload mappings live (must match SomsimModel's WorkloadWindow). */
#define SOMSIM_WINDOW_LOW 0x100000000000ULL
#define SOMSIM_WINDOW_HIGH 0x500000000000ULL

enum somsim_op {
    SOMSIM_OP_NOOP = 0,    /* measure nothing: the fault delta must be 0 */
    SOMSIM_OP_MMAP = 1,    /* address, length, huge_bytes, flags, path */
    SOMSIM_OP_MUNMAP = 2,  /* address, length */
    SOMSIM_OP_MADVISE = 3, /* address, length, advice */
    SOMSIM_OP_TOUCH = 4,   /* segments, flags & WRITE */
    SOMSIM_OP_FORK = 5,    /* reply carries the child's pid and its socket (SCM_RIGHTS) */
    SOMSIM_OP_EXIT = 6,    /* reply, then _exit(0) */
    SOMSIM_OP_DIE = 7,     /* after a fault-signal report: die of that signal */
};

enum somsim_flags {
    SOMSIM_FLAG_WRITE = 1,
    SOMSIM_FLAG_SHARED = 2,
    SOMSIM_FLAG_POPULATE = 4,
};

enum somsim_status {
    SOMSIM_STATUS_OK = 0,
    SOMSIM_STATUS_ERRNO = 1,  /* the call failed with `error` */
    SOMSIM_STATUS_SIGNAL = 2, /* the access raised `signal`; the agent waits for SOMSIM_OP_DIE */
    SOMSIM_STATUS_HELLO = 3,  /* a new agent is warm and ready; `pid` is its pid */
};

#define SOMSIM_MAX_SEGMENTS 128
#define SOMSIM_PATH_BYTES 256

/* Touch one byte at address, address + stride, ... below address + length. */
struct somsim_segment {
    uint64_t address;
    uint64_t length;
    uint64_t stride;
};

struct somsim_command {
    uint32_t op;
    uint32_t flags;
    uint64_t address;
    uint64_t length;
    uint64_t huge_bytes;
    int32_t advice;
    uint32_t segment_count;
    char path[SOMSIM_PATH_BYTES];
    struct somsim_segment segments[SOMSIM_MAX_SEGMENTS];
};

struct somsim_reply {
    int32_t status;
    int32_t error;
    int32_t signal;
    int32_t pid;
    uint64_t minor_faults; /* workload faults since the agent was created (ru_minflt deltas) */
    uint64_t op_faults;    /* faults of this command */
};

/* Sends `length` bytes as one message, with `fd` attached when it is >= 0. Returns 0 or -1. */
int somsim_send(int socket, const void *buffer, size_t length, int fd);
/* Receives one message; `*fd` gets an attached descriptor or -1. Returns bytes or -1 (0 at EOF). */
ssize_t somsim_receive(int socket, void *buffer, size_t length, int *fd);

/* ---- restoring the machine from anywhere, a signal handler included ---- */

/* Remembers a value to write back to a /proc or /sys file (copied; up to 64 entries). */
void somsim_restore_add_write(const char *path, const char *value);
/* Remembers a mount point to unmount and remove. */
void somsim_restore_add_mount(const char *directory);
/* Remembers a file or empty directory to remove (after unmounting). */
void somsim_restore_add_remove(const char *path, int directory);
/* Remembers an agent: its process group gets SIGKILL; its pidfd is waited on. */
void somsim_restore_track_group(pid_t group);
void somsim_restore_track_agent(pid_t pid, int pidfd);
/* Forgets an agent that has exited and closes its pidfd. */
void somsim_restore_untrack_agent(pid_t pid);
/* Kills every agent, waits for them, writes every value back, unmounts, removes; then forgets the
 * plan. Safe to call twice and from a signal handler. Returns the number of steps that failed. */
int somsim_restore_now(void);
/* SIGINT/SIGTERM/SIGHUP handlers that run somsim_restore_now() and then die of the same signal. */
void somsim_restore_install_signal_handlers(void);
void somsim_restore_remove_signal_handlers(void);
/* The last step that failed in somsim_restore_now, for messages. */
const char *somsim_restore_last_failure(void);

/* pidfd_open(2) and waiting on it: returns 1 when the process has exited, 0 on timeout. */
int somsim_pidfd_open(pid_t pid);
int somsim_pidfd_wait(int pidfd, int timeout_ms);

/* prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned agents become our children, so we can reap them. */
int somsim_become_subreaper(void);

#endif
