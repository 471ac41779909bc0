/* somsim probe: the wire protocol between the probe and its agents, and the signal-safe parts of
 * the probe (passing descriptors, restoring machine settings from a signal handler).
 *
 * Commands and replies are fixed-size structs sent as one SOCK_SEQPACKET message each, so the
 * agent reads them into preallocated buffers and never allocates on the command path. */
#ifndef SOMSIM_PROBE_SUPPORT_H
#define SOMSIM_PROBE_SUPPORT_H

#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>

/* The descriptor an agent talks on (a SOCK_SEQPACKET socket). */
#define SOMSIM_AGENT_FD 3

/* Where workload mappings live (must match SomsimModel's WorkloadWindow). */
#define SOMSIM_WINDOW_LOW 0x100000000000ULL
#define SOMSIM_WINDOW_HIGH 0x500000000000ULL
/* Where an agent with a fresh heap puts its program break (must match SomsimModel's
 * WorkloadWindow.heapAddress). */
#define SOMSIM_HEAP_ADDRESS SOMSIM_WINDOW_LOW

enum somsim_op {
    SOMSIM_OP_NOOP = 0,    /* measure nothing: the fault delta must be 0 */
    SOMSIM_OP_MMAP = 1,    /* address, length, huge_bytes, flags, path; args[0] the file offset,
                            * args[1] the descriptor with SOMSIM_FLAG_USE_FD */
    /* 2 and 3 were munmap and madvise: they are SOMSIM_OP_SYSCALL calls now. */
    SOMSIM_OP_TOUCH = 4,   /* segments, flags & WRITE */
    SOMSIM_OP_FORK = 5,    /* reply carries the child's pid and its socket (SCM_RIGHTS) */
    SOMSIM_OP_EXIT = 6,    /* reply, then _exit(0) */
    SOMSIM_OP_DIE = 7,     /* after a fault-signal report: die of that signal */
    SOMSIM_OP_SYSCALL = 8, /* syscall(number, args[0..5]), measured; reply.result is its return.
                            * A memory call the probe makes for a statement (mprotect, mlock, …)
                            * needs no new op: the probe names the call, the agent makes it. */
    SOMSIM_OP_MALLOC = 9,  /* glibc's allocator (an agent with a fresh heap only): args[0] a
                            * somsim_malloc_call, args[1] the pointer (realloc, free), args[2] the
                            * size (or mallopt's param and args[3] its value), measured;
                            * reply.result is the pointer returned, reply.program_break sbrk(0) */
};

enum somsim_malloc_call {
    SOMSIM_MALLOC_MALLOC = 0,
    SOMSIM_MALLOC_CALLOC = 1,
    SOMSIM_MALLOC_REALLOC = 2,
    SOMSIM_MALLOC_FREE = 3,
    SOMSIM_MALLOC_MALLOPT = 4, /* mallopt(args[2], args[3]); reply.result is its return (1 = done) */
};

/* The system calls the probe makes through SOMSIM_OP_SYSCALL, named here because Swift does not
 * import <sys/syscall.h>'s macros. A statement whose real call is a new one adds a line here. */
enum somsim_syscall {
    SOMSIM_SYS_MUNMAP = SYS_munmap,
    SOMSIM_SYS_MADVISE = SYS_madvise,
    SOMSIM_SYS_MPROTECT = SYS_mprotect,
    SOMSIM_SYS_MLOCK = SYS_mlock,
    SOMSIM_SYS_MUNLOCK = SYS_munlock,
    SOMSIM_SYS_SHMGET = SYS_shmget,
    SOMSIM_SYS_SHMAT = SYS_shmat,
    SOMSIM_SYS_SHMDT = SYS_shmdt,
    SOMSIM_SYS_SHMCTL = SYS_shmctl,
    SOMSIM_SYS_FTRUNCATE = SYS_ftruncate,
    SOMSIM_SYS_FALLOCATE = SYS_fallocate,
    SOMSIM_SYS_CLOSE = SYS_close,
    SOMSIM_SYS_MREMAP = SYS_mremap,
};

enum somsim_flags {
    SOMSIM_FLAG_WRITE = 1,
    SOMSIM_FLAG_SHARED = 2,
    SOMSIM_FLAG_POPULATE = 4,
    SOMSIM_FLAG_NORESERVE = 8,
    /* SOMSIM_OP_MMAP of a file (`path`): keep the descriptor open; reply.result is it (or -1). */
    SOMSIM_FLAG_KEEP_FD = 16,
    /* SOMSIM_OP_MMAP of the descriptor args[1], which the agent holds (no `path`). */
    SOMSIM_FLAG_USE_FD = 32,
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
    uint32_t segment_count;
    int64_t number;   /* SOMSIM_OP_SYSCALL: the system call number (<sys/syscall.h>) */
    uint64_t args[6]; /* SOMSIM_OP_SYSCALL: its arguments */
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
    int64_t result;        /* SOMSIM_OP_SYSCALL: what the call returned (-1 with `error` on failure) */
    uint64_t program_break; /* SOMSIM_OP_MALLOC: sbrk(0) after the call */
};

/* The version of the glibc this program runs with (gnu_get_libc_version), e.g. "2.36". */
const char *somsim_libc_version(void);

/* Sends `length` bytes as one message, with `fd` attached when it is >= 0. Returns 0 or -1. */
int somsim_send(int socket, const void *buffer, size_t length, int fd);
/* Receives one message; `*fd` gets an attached descriptor or -1. Returns bytes or -1 (0 at EOF);
 * -1 with EMSGSIZE for a message longer than `length` or with more than one descriptor. */
ssize_t somsim_receive(int socket, void *buffer, size_t length, int *fd);

/* ---- restoring the machine from anywhere, a signal handler included ----
 *
 * The restore plan: what to write back, unmount, remove and kill. While a journal is set
 * (somsim_restore_journal_to), every addition to the plan first rewrites the journal durably
 * (a temporary file, fsync, rename, fsync of the directory), so a run killed by SIGKILL or a
 * power cut can be restored at the next start. somsim_restore_now deletes the journal once every
 * step has succeeded. The journal is text, one step a line, fields separated by tabs:
 *
 *     somsim-restore-journal 1
 *     owner PID STARTTIME          the process that wrote it (for messages)
 *     write PATH VALUE             write VALUE to the /proc or /sys file PATH
 *     mount DIRECTORY              unmount (a busy mount lazily)
 *     remove PATH                  unlink a file
 *     remove-tree DIRECTORY        unlink the files in DIRECTORY, then remove it
 *     remove-dir DIRECTORY         remove an empty directory (after unmounting)
 *     group PGID STARTTIME         kill the agents of this process group
 *     shm PID SINCE                IPC_RMID every SysV segment PID created at or after SINCE
 *                                  (seconds since the epoch)
 *
 * Steps run in this order: agents, files and trees, mounts, directories, SysV segments, writes;
 * each kind in
 * reverse order of registration.
 *
 * The plan is static memory (a signal handler runs it), so it has limits. An add function that
 * cannot record its step whole returns a negative somsim_restore_result and leaves the plan and
 * the journal as they were: the caller must then not make the change the step would undo. Nothing
 * is ever truncated or dropped. */

/* Steps of each kind (values to write back, mounts, removals) the plan holds. */
#define SOMSIM_RESTORE_MAX_STEPS 64
/* Process groups (one per spawned agent) and live agents the plan tracks. */
#define SOMSIM_RESTORE_MAX_GROUPS 4096
#define SOMSIM_RESTORE_MAX_AGENTS 4096
/* Bytes of a path in a step, its terminating NUL included: at most 255 bytes of path. */
#define SOMSIM_RESTORE_PATH_BYTES 256
/* Bytes of a value to write back, its terminating NUL included: at most 63 bytes of value. */
#define SOMSIM_RESTORE_VALUE_BYTES 64

/* What the add and track functions return (errno is set too on a refusal). */
enum somsim_restore_result {
    SOMSIM_RESTORE_ADDED = 0,
    SOMSIM_RESTORE_FULL = -1,           /* this kind of step is at its limit above (ENOSPC) */
    SOMSIM_RESTORE_PATH_TOO_LONG = -2,  /* the path has SOMSIM_RESTORE_PATH_BYTES or more (ENAMETOOLONG) */
    SOMSIM_RESTORE_VALUE_TOO_LONG = -3, /* the value has SOMSIM_RESTORE_VALUE_BYTES or more (E2BIG) */
    SOMSIM_RESTORE_BAD_TEXT = -4,       /* a tab or newline (the journal's separators), or an unknown kind (EINVAL) */
    SOMSIM_RESTORE_JOURNAL_FAILED = -5, /* the journal could not be written durably: errno says why */
};

/* Kinds of somsim_restore_add_remove. */
enum somsim_remove_kind {
    SOMSIM_REMOVE_FILE = 0,               /* unlink a file */
    SOMSIM_REMOVE_EMPTY_DIRECTORY = 1,    /* rmdir, after the mounts are gone */
    SOMSIM_REMOVE_DIRECTORY_OF_FILES = 2, /* unlink its files, then rmdir */
};

#define SOMSIM_AGENT_COMM "somsim-agent"

/* Starts journaling the plan to DIRECTORY/restore-journal (DIRECTORY is made, mode 0700).
 * Returns a somsim_restore_result (the directory's path obeys the path limit). */
int somsim_restore_journal_to(const char *directory);
/* Remembers a value to write back to a /proc or /sys file (copied). */
int somsim_restore_add_write(const char *path, const char *value);
/* Remembers a mount point to unmount. */
int somsim_restore_add_mount(const char *directory);
/* Remembers a path to remove; kind is a somsim_remove_kind. */
int somsim_restore_add_remove(const char *path, int kind);
/* Remembers to remove the SysV shared memory segments `creator` (an agent) makes from `since`
 * (time(2) seconds) on: a run adds it before the agent's first shmget, since the segment's id is
 * known only after. */
int somsim_restore_add_shm(pid_t creator, long long since);
/* Remembers a process group of agents: its leader's pid and start time (somsim_start_time).
 * A process is killed as an agent of the group only while its name is SOMSIM_AGENT_COMM, its
 * process group is the group, and it started no earlier than the leader: never anything else
 * that may have the group's number later. */
int somsim_restore_track_group(pid_t group, unsigned long long leader_start_time);
/* Remembers an agent: it gets SIGKILL through its pidfd, which is then waited on. Returns
 * SOMSIM_RESTORE_ADDED, or SOMSIM_RESTORE_FULL when SOMSIM_RESTORE_MAX_AGENTS are tracked. */
int somsim_restore_track_agent(pid_t pid, int pidfd);
/* Forgets an agent that has exited and closes its pidfd. */
void somsim_restore_untrack_agent(pid_t pid);
/* Kills every agent, waits for them, removes files, unmounts, removes directories, writes every
 * value back; then forgets the plan, and deletes the journal when no step failed. Safe to call
 * twice and from a signal handler. Returns the number of steps that failed. */
int somsim_restore_now(void);
/* SIGINT/SIGTERM/SIGHUP handlers that run somsim_restore_now() and then die of the same signal. */
void somsim_restore_install_signal_handlers(void);
void somsim_restore_remove_signal_handlers(void);
/* The last step that failed in somsim_restore_now, for messages. */
const char *somsim_restore_last_failure(void);

/* A process's start time (field 22 of /proc/PID/stat, clock ticks after boot), 0 if gone. */
unsigned long long somsim_start_time(pid_t pid);

/* pidfd_open(2) and waiting on it: returns 1 when the process has exited, 0 on timeout. */
int somsim_pidfd_open(pid_t pid);
int somsim_pidfd_wait(int pidfd, int timeout_ms);

/* How a child process ended, without reaping it (waitid with WNOWAIT): returns 1 with *code its
 * exit status and *signal 0, or *code -1 and *signal the signal that killed it; 0 when it has
 * not ended; -1 when it is not our child (errno ECHILD). */
int somsim_exit_status(pid_t pid, int *code, int *signal);

/* prctl(PR_SET_CHILD_SUBREAPER, on): while on, orphaned agents become our children, so we can
 * reap them. Returns the previous setting (0 or 1), or -1. */
int somsim_set_subreaper(int on);

#endif
