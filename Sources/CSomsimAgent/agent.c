/* somsim-agent: one process of a workload, driven by the somsim probe (`somsim validate`).
 *
 * It is part of every program that links SomsimProbe: the probe executes its own program
 * (/proc/self/exe) with argv[0] "somsim-agent" and the channel on SOMSIM_AGENT_FD, and
 * `enter_agent_mode`, a constructor, takes over before main (see somsim_agent.h). The dynamic
 * loader binds every symbol at load time (the probe sets LD_BIND_NOW=1), and the warm-up calls
 * each function the measured calls use, so no symbol is resolved inside a measured call: lazy
 * binding of `munmap` in a parent's first munmap after a fork wrote its write-protected GOT and
 * measured 2 faults the workload never took.
 *
 * Single-threaded, no heap: it reads fixed-size commands from SOMSIM_AGENT_FD into static
 * buffers, makes the real calls (mmap with MAP_FIXED_NOREPLACE at the model's address, madvise,
 * one-byte reads and writes, fork, exit) and replies with its workload fault count: the sum of
 * ru_minflt deltas taken around each workload operation and nothing else.
 *
 * Before it reports ready, an agent populates the page tables of all its own (non-workload)
 * memory with MADV_POPULATE_READ and writes every page it will write later, so that its VmPTE
 * outside the workload window stays constant and its bookkeeping takes no faults inside a
 * measured operation. A forked agent does the same, so its non-workload tables equal its
 * parent's. HugeTLB shared memory comes from libhugetlbfs (hugetlbfs_unlinked_fd_for_size). */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/prctl.h> /* struct prctl_mm_map */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stddef.h> /* before hugetlbfs.h, which uses size_t without it */
#include <hugetlbfs.h>
#include "somsim_probe_support.h"
#include "somsim_agent.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#define MAP_HUGE_SHIFT_BITS 26

/* What the fault-signal handler (on_fault_signal) reads and writes, and why it may:
 *
 *   in_operation      volatile sig_atomic_t: set and cleared around each measured operation.
 *   op_start_faults   volatile long: the handler runs only for a SIGBUS or SIGSEGV that a
 *   workload_faults   workload access of the agent itself raises (a synchronous signal, inside a
 *                     measured operation), never asynchronously; volatile keeps the main flow's
 *                     stores ahead of the access that faults (itself a volatile access). A
 *                     counter may exceed sig_atomic_t (int), so these stay wide.
 *   reply, command    the handler fills and sends `reply`, and receives into `command`; the main
 *                     flow never runs again after it (the agent dies of the signal).
 * Everything else here is the main flow's only. */
static struct somsim_command command;
static struct somsim_reply reply;
static char maps[256 * 1024];
static volatile uint64_t workload_faults;
static volatile long op_start_faults;
static volatile sig_atomic_t in_operation;
static volatile char sink;
/* An agent with a fresh heap (somsim_agent_main_fresh_heap): it runs the allocator's calls, and
 * makes every page of its own writable memory its own before each measured operation (glibc's
 * allocator writes its state in libc's data, which a fork write-protects). */
static int fresh_heap;
static int is_agent_channel(void);

static long minor_faults(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

static void begin_operation(void)
{
    op_start_faults = minor_faults();
    in_operation = 1;
}

static uint64_t end_operation(void)
{
    long now = minor_faults();
    in_operation = 0;
    uint64_t delta = (uint64_t)(now - op_start_faults);
    workload_faults += delta;
    return delta;
}

static void send_reply(int status, int error, int fd)
{
    reply.status = status;
    reply.error = error;
    reply.minor_faults = workload_faults;
    if (somsim_send(SOMSIM_AGENT_FD, &reply, sizeof reply, fd) != 0)
        _exit(SOMSIM_AGENT_EXIT_SEND_FAILED);
}

/* A SIGBUS or SIGSEGV from a workload access: report the faults taken so far, let the probe look
 * at the process while it still exists, then die of the signal as the workload would. */
static void on_fault_signal(int sig)
{
    uint64_t delta = 0;
    if (in_operation) {
        delta = (uint64_t)(minor_faults() - op_start_faults);
        workload_faults += delta;
        in_operation = 0;
    }
    reply.signal = sig;
    reply.op_faults = delta;
    send_reply(SOMSIM_STATUS_SIGNAL, 0, -1);
    int fd;
    somsim_receive(SOMSIM_AGENT_FD, &command, sizeof command, &fd); /* SOMSIM_OP_DIE or EOF */
    raise(sig); /* SA_RESETHAND|SA_NODEFER: the default action, now */
}

/* Writes the pages the command path writes (stack, buffers), so that none of them takes a fault
 * inside a measured operation, also right after fork when they are write-protected. */
static void __attribute__((noinline)) warm(void)
{
    volatile char stack[128 * 1024];
    for (size_t i = 0; i < sizeof stack; i += 512)
        stack[i] = 0;
    memset(&command, 0, sizeof command);
    memset(&reply, 0, sizeof reply);
    for (size_t i = 0; i < sizeof maps; i += 4096)
        maps[i] = 0;
    workload_faults += 0;
    op_start_faults = minor_faults();
    in_operation = 0;
    sink = stack[100];
    /* Each call a measurement makes, once, with arguments the kernel refuses (EINVAL) before it
     * looks at any memory: whatever a first call costs the agent is paid here. */
    (void)mmap((void *)SOMSIM_WINDOW_LOW, 0, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    (void)munmap((void *)(SOMSIM_WINDOW_LOW + 1), 0);
    (void)syscall(SYS_mprotect, (void *)(SOMSIM_WINDOW_LOW + 1), 0, PROT_NONE); /* syscall(), for SOMSIM_OP_SYSCALL */
    errno = 0;
}

static uint64_t parse_hex(const char **p)
{
    uint64_t v = 0;
    for (;;) {
        char c = **p;
        if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
        else break;
        (*p)++;
    }
    return v;
}

/* Page tables for all of the agent's own readable memory, outside the workload window. A map
 * that cannot be read whole ends the agent (SOMSIM_AGENT_EXIT_MAPS_UNREADABLE): memory left out
 * would take faults inside measured operations. */
/* Reads /proc/self/maps whole into `maps`, NUL-terminated. Returns 0, or -1 when it cannot be read
 * or is longer than the buffer (never a cut map). */
static int read_own_maps(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t used = 0;
    int result = -1;
    while (used < sizeof maps - 1) {
        ssize_t n = read(fd, maps + used, sizeof maps - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            result = n == 0 ? 0 : -1;
            break;
        }
        used += (size_t)n;
    }
    close(fd);
    maps[used] = 0;
    return result;
}

static void populate_own_tables(void)
{
    if (read_own_maps() != 0)
        _exit(SOMSIM_AGENT_EXIT_MAPS_UNREADABLE);
    const char *p = maps;
    while (*p) {
        uint64_t start = parse_hex(&p);
        p++; /* '-' */
        uint64_t end = parse_hex(&p);
        p++; /* ' ' */
        int readable = p[0] == 'r';
        int inside = start >= SOMSIM_WINDOW_LOW && end <= SOMSIM_WINDOW_HIGH;
        const char *line_end = strchr(p, '\n');
        int special = line_end && (memmem(p, (size_t)(line_end - p), "[vsyscall]", 10) || memmem(p, (size_t)(line_end - p), "[vvar", 5));
        if (readable && !inside && !special)
            madvise((void *)start, end - start, MADV_POPULATE_READ);
        /* A private writable page of the agent's own, written with the byte it holds: after a
         * fork it is copied here, not inside the allocator's first measured call. */
        if (fresh_heap && readable && p[1] == 'w' && p[3] == 'p' && !inside && !special) {
            for (uint64_t a = start; a < end; a += 4096) {
                volatile char *c = (volatile char *)a;
                *c = *c;
            }
        }
        if (!line_end)
            break;
        p = line_end + 1;
    }
}

static void get_ready(void)
{
    warm();
    populate_own_tables();
    warm();
    /* settle: one no-op measurement so every path of begin/end has run */
    begin_operation();
    workload_faults -= end_operation();
}

static int map_flags_for_huge(uint64_t huge_bytes)
{
    int shift = 0;
    while ((1ULL << shift) < huge_bytes)
        shift++;
    return MAP_HUGETLB | (shift << MAP_HUGE_SHIFT_BITS);
}

static void do_mmap(void)
{
    int shared = command.flags & SOMSIM_FLAG_SHARED;
    int flags = MAP_FIXED_NOREPLACE | (shared ? MAP_SHARED : MAP_PRIVATE);
    if (command.flags & SOMSIM_FLAG_POPULATE)
        flags |= MAP_POPULATE;
    if (command.flags & SOMSIM_FLAG_NORESERVE)
        flags |= MAP_NORESERVE;
    int fd = -1;
    /* A file's descriptor: opened here and kept (SOMSIM_FLAG_KEEP_FD, the probe's `close` closes
     * it), or one the agent holds already (SOMSIM_FLAG_USE_FD). */
    int keep = command.flags & SOMSIM_FLAG_KEEP_FD, held = command.flags & SOMSIM_FLAG_USE_FD;
    uint64_t offset = command.args[0];
    reply.result = -1;
    if (!memchr(command.path, 0, sizeof command.path)) {
        send_reply(SOMSIM_STATUS_ERRNO, ENAMETOOLONG, -1); /* no NUL: never a cut path */
        return;
    }
    if (command.path[0] || held) {
        fd = held ? (int)command.args[1] : open(command.path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (keep)
            reply.result = fd;
        struct stat st;
        uint64_t page = command.huge_bytes ? command.huge_bytes : 4096, end = offset + command.length;
        /* A file left shorter than the mapping would raise SIGBUS at the first touch past its end.
         * (A misaligned offset is mmap's EINVAL: the file is left as it is.) */
        if (fd >= 0 && offset % page == 0 && (fstat(fd, &st) != 0 || ((uint64_t)st.st_size < end && ftruncate(fd, (off_t)end) != 0))) {
            int e = errno;
            if (!keep && !held)
                close(fd);
            send_reply(SOMSIM_STATUS_ERRNO, e, -1);
            return;
        }
    } else if (command.huge_bytes && shared) {
        /* libhugetlbfs: an unlinked file on a hugetlbfs mount of this page size */
        fd = hugetlbfs_unlinked_fd_for_size((long)command.huge_bytes);
    } else if (command.huge_bytes) {
        flags |= MAP_ANONYMOUS | map_flags_for_huge(command.huge_bytes);
    } else {
        flags |= MAP_ANONYMOUS;
    }
    if (!(flags & MAP_ANONYMOUS) && fd < 0) {
        send_reply(SOMSIM_STATUS_ERRNO, errno ? errno : ENODEV, -1);
        return;
    }
    begin_operation();
    void *p = mmap((void *)command.address, command.length, PROT_READ | PROT_WRITE, flags, fd, (off_t)offset);
    int e = errno;
    reply.op_faults = end_operation();
    if (fd >= 0 && !keep && !held)
        close(fd);
    if (p == MAP_FAILED) {
        send_reply(SOMSIM_STATUS_ERRNO, e, -1);
    } else if ((uint64_t)p != command.address) {
        munmap(p, command.length);
        send_reply(SOMSIM_STATUS_ERRNO, EEXIST, -1);
    } else {
        send_reply(SOMSIM_STATUS_OK, 0, -1);
    }
}

static void do_touch(void)
{
    int write = command.flags & SOMSIM_FLAG_WRITE;
    char s = 0;
    if (command.segment_count > SOMSIM_MAX_SEGMENTS) {
        send_reply(SOMSIM_STATUS_ERRNO, E2BIG, -1); /* more segments than the command holds */
        return;
    }
    begin_operation();
    for (uint32_t i = 0; i < command.segment_count; i++) {
        volatile char *base = (volatile char *)command.segments[i].address;
        uint64_t length = command.segments[i].length, stride = command.segments[i].stride;
        for (uint64_t offset = 0; offset < length; offset += stride) {
            if (write)
                base[offset] = 1;
            else
                s += base[offset];
        }
    }
    reply.op_faults = end_operation();
    sink = s;
    send_reply(SOMSIM_STATUS_OK, 0, -1);
}

static void do_fork(void)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        send_reply(SOMSIM_STATUS_ERRNO, errno, -1);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pair[0]);
        close(pair[1]);
        send_reply(SOMSIM_STATUS_ERRNO, e, -1);
        return;
    }
    if (pid == 0) {
        /* the child: its own channel, its own count (ru_minflt starts at 0 in a child) */
        if (dup2(pair[1], SOMSIM_AGENT_FD) != SOMSIM_AGENT_FD)
            _exit(SOMSIM_AGENT_EXIT_CHANNEL_FAILED);
        close(pair[0]);
        close(pair[1]);
        workload_faults = 0;
        get_ready();
        reply.pid = getpid();
        reply.op_faults = 0;
        send_reply(SOMSIM_STATUS_HELLO, 0, -1);
        return;
    }
    close(pair[1]);
    get_ready();
    reply.pid = pid;
    reply.op_faults = 0;
    send_reply(SOMSIM_STATUS_OK, 0, pair[0]);
    close(pair[0]);
}

/* glibc's allocator, called as the workload's statements call it (SOMSIM_OP_MALLOC). */
static void do_malloc(void)
{
    if (!fresh_heap) {
        send_reply(SOMSIM_STATUS_ERRNO, ENOTSUP, -1); /* only an agent with a fresh heap */
        return;
    }
    void *pointer = (void *)(uintptr_t)command.args[1];
    size_t size = (size_t)command.args[2];
    void *r = NULL;
    long done = 0;
    begin_operation();
    switch (command.args[0]) {
    case SOMSIM_MALLOC_MALLOC:
        r = malloc(size);
        break;
    case SOMSIM_MALLOC_CALLOC:
        r = calloc(1, size);
        break;
    case SOMSIM_MALLOC_REALLOC:
        r = realloc(pointer, size);
        break;
    case SOMSIM_MALLOC_FREE:
        free(pointer);
        break;
    case SOMSIM_MALLOC_MALLOPT:
        done = mallopt((int)(int64_t)command.args[2], (int)(int64_t)command.args[3]);
        break;
    default:
        in_operation = 0;
        send_reply(SOMSIM_STATUS_ERRNO, EINVAL, -1);
        return;
    }
    reply.op_faults = end_operation();
    reply.result = command.args[0] == SOMSIM_MALLOC_MALLOPT ? done : (int64_t)(uintptr_t)r;
    reply.program_break = (uint64_t)(uintptr_t)sbrk(0);
    send_reply(SOMSIM_STATUS_OK, 0, -1);
}

static int agent_main(void)
{
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_PDEATHSIG, 0);
    signal(SIGCHLD, SIG_IGN); /* forked agents are reaped by the kernel; the probe waits on pidfds */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault_signal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    /* Every agent runs on one CPU, the first it may use (fork keeps the mask). New folios wait in
     * the per-CPU LRU batch of the CPU that faulted them, and MADV_COLD and MADV_PAGEOUT drain
     * only the calling CPU's batch before they isolate folios from the LRU (mm/madvise.c:
     * madvise_pageout, lru_add_drain). An agent that moved between CPUs left folios in another
     * CPU's batch that pageout then skipped: validation/madvise-pageout-cold.somw failed 2 times
     * in 9 on a busy two-CPU machine. */
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
            if (!CPU_ISSET(cpu, &allowed))
                continue;
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            sched_setaffinity(0, sizeof one, &one);
            break;
        }
    }

    get_ready();
    reply.pid = getpid();
    send_reply(SOMSIM_STATUS_HELLO, 0, -1);

    for (;;) {
        int fd;
        ssize_t n = somsim_receive(SOMSIM_AGENT_FD, &command, sizeof command, &fd);
        if (n == 0)
            _exit(SOMSIM_AGENT_EXIT_OK);
        if (n < 0 && errno != EMSGSIZE)
            _exit(SOMSIM_AGENT_EXIT_RECEIVE_FAILED);
        if (fd >= 0)
            close(fd);
        reply.pid = 0;
        reply.signal = 0;
        reply.op_faults = 0;
        reply.result = 0;
        reply.program_break = 0;
        if (n != (ssize_t)sizeof command) {
            /* longer or shorter than a command: never run part of one */
            send_reply(SOMSIM_STATUS_ERRNO, EMSGSIZE, -1);
            continue;
        }
        errno = 0;
        switch (command.op) {
        case SOMSIM_OP_NOOP:
            begin_operation();
            reply.op_faults = end_operation();
            send_reply(SOMSIM_STATUS_OK, 0, -1);
            break;
        case SOMSIM_OP_MMAP:
            do_mmap();
            break;
        case SOMSIM_OP_SYSCALL: {
            /* Any call the probe names: the channel is a socketpair between the probe and the
             * agents it forked, so nothing else can ask. */
            begin_operation();
            long r = syscall((long)command.number, command.args[0], command.args[1], command.args[2],
                             command.args[3], command.args[4], command.args[5]);
            int e = errno;
            reply.op_faults = end_operation();
            reply.result = r;
            send_reply(r == -1 ? SOMSIM_STATUS_ERRNO : SOMSIM_STATUS_OK, r == -1 ? e : 0, -1);
            break;
        }
        case SOMSIM_OP_TOUCH:
            do_touch();
            break;
        case SOMSIM_OP_MALLOC:
            do_malloc();
            break;
        case SOMSIM_OP_FORK:
            do_fork();
            break;
        case SOMSIM_OP_EXIT:
            send_reply(SOMSIM_STATUS_OK, 0, -1);
            _exit(SOMSIM_AGENT_EXIT_OK);
        default:
            send_reply(SOMSIM_STATUS_ERRNO, EINVAL, -1);
            break;
        }
    }
}

const char *somsim_agent_argv0(void) { return SOMSIM_AGENT_ARGV0; }
const char *somsim_agent_heap_argv0(void) { return SOMSIM_AGENT_HEAP_ARGV0; }

/* Reserves (PROT_NONE, no memory, no page tables) every gap of the address space between the
 * window's top and 8 MiB below the stack, so that the kernel's top-down search for an mmap
 * without an address — glibc's own mmapped chunks — finds its highest gap in the window, where
 * the model places it (mmap_base lies at least 9 MiB below the stack's start: mm/util.c
 * mmap_base, the gap for the stack's rlimit, guard and randomization). Returns 0 or -1. */
static int reserve_above_window(void)
{
    if (read_own_maps() != 0)
        return -1;
    /* The stack's start first. */
    uint64_t stack = 0;
    for (const char *p = maps; *p;) {
        const char *line_end = strchr(p, '\n');
        const char *q = p;
        uint64_t start = parse_hex(&q);
        if (line_end && memmem(p, (size_t)(line_end - p), "[stack]", 7))
            stack = start;
        if (!line_end)
            break;
        p = line_end + 1;
    }
    if (stack < SOMSIM_WINDOW_HIGH + (16ULL << 20))
        return -1;
    uint64_t limit = stack - (8ULL << 20);
    uint64_t cursor = SOMSIM_WINDOW_HIGH;
    const char *p = maps;
    for (;;) {
        uint64_t start = limit, end = limit;
        const char *line_end = NULL;
        if (*p) {
            start = parse_hex(&p);
            p++;
            end = parse_hex(&p);
            line_end = strchr(p, '\n');
        }
        if (start > cursor && cursor < limit) {
            uint64_t top = start < limit ? start : limit;
            void *r = mmap((void *)cursor, top - cursor, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
            if (r != (void *)cursor)
                return -1;
        }
        if (end > cursor)
            cursor = end;
        if (!line_end || cursor >= limit)
            break;
        p = line_end + 1;
    }
    /* The proof: a page mapped without an address lands at the window's top. */
    void *probe = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (probe == MAP_FAILED)
        return -1;
    munmap(probe, 4096);
    return probe == (void *)(SOMSIM_WINDOW_HIGH - 4096) ? 0 : -1;
}

/* Moves the heap (start_brk and brk) to SOMSIM_HEAP_ADDRESS with PR_SET_MM_MAP, which takes the
 * whole memory map and needs no CAP_SYS_RESOURCE (kernel/sys.c: prctl_set_mm_map; the single
 * fields of PR_SET_MM do need it). The other fields are the process's own, from /proc/self/stat
 * (fields 26–28 and 45–51, proc(5)); auxv and the executable are left as they are. */
static int move_program_break(void)
{
    char text[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return -1;
    text[n] = 0;
    const char *p = strrchr(text, ')');
    if (!p)
        return -1;
    uint64_t field[53] = {0};
    int index = 2; /* field 2 ends at ')' */
    for (p++; *p && index < 52;) {
        while (*p == ' ')
            p++;
        index++;
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9')
            v = v * 10 + (uint64_t)(*p++ - '0');
        while (*p && *p != ' ' && *p != '\n')
            p++; /* a field that is not a number (the state) */
        field[index] = v;
    }
    if (index < 51)
        return -1;
    struct prctl_mm_map map;
    memset(&map, 0, sizeof map);
    map.start_code = field[26];
    map.end_code = field[27];
    map.start_stack = field[28];
    map.start_data = field[45];
    map.end_data = field[46];
    map.start_brk = SOMSIM_HEAP_ADDRESS;
    map.brk = SOMSIM_HEAP_ADDRESS;
    map.arg_start = field[48];
    map.arg_end = field[49];
    map.env_start = field[50];
    map.env_end = field[51];
    map.exe_fd = (uint32_t)-1;
    return prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&map, sizeof map, 0);
}

int somsim_agent_main_fresh_heap(int argc, char **argv)
{
    if (argc < 1 || !argv || !argv[0] || strcmp(argv[0], SOMSIM_AGENT_HEAP_ARGV0) != 0 || !is_agent_channel())
        return 64; /* EX_USAGE: only the probe starts it */
    prctl(PR_SET_NAME, SOMSIM_AGENT_ARGV0, 0, 0, 0);
    fresh_heap = 1;
    /* Nothing allocated yet (mallinfo2 allocates nothing: it initializes the arena as the first
     * malloc would), then the break moved to SOMSIM_HEAP_ADDRESS, then brk(2) so that glibc's
     * __curbrk knows it. */
    struct mallinfo2 before = mallinfo2();
    if (before.arena != 0 || before.hblks != 0)
        _exit(SOMSIM_AGENT_EXIT_HEAP_SETUP_FAILED);
    if (move_program_break() != 0 || brk((void *)SOMSIM_HEAP_ADDRESS) != 0 || sbrk(0) != (void *)SOMSIM_HEAP_ADDRESS)
        _exit(SOMSIM_AGENT_EXIT_HEAP_SETUP_FAILED);
    if (reserve_above_window() != 0)
        _exit(SOMSIM_AGENT_EXIT_HEAP_SETUP_FAILED);
    _exit(agent_main());
}

/* The probe's channel: a SOCK_SEQPACKET socket on SOMSIM_AGENT_FD. */
static int is_agent_channel(void)
{
    int type = 0;
    socklen_t length = sizeof type;
    return getsockopt(SOMSIM_AGENT_FD, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_SEQPACKET;
}

/* Runs before main (glibc passes argc, argv and envp to constructors of the main program). */
__attribute__((constructor(101), used)) static void enter_agent_mode(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc < 1 || !argv || !argv[0] || strcmp(argv[0], SOMSIM_AGENT_ARGV0) != 0 || !is_agent_channel())
        return;
    prctl(PR_SET_NAME, SOMSIM_AGENT_ARGV0, 0, 0, 0);
    _exit(agent_main());
}
