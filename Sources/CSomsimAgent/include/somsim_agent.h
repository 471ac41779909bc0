/* somsim-agent: one workload process of `somsim validate`, built into every program that links
 * SomsimProbe (somsim, and the test runner).
 *
 * The probe starts an agent by executing its own program (/proc/self/exe) with argv[0] equal to
 * SOMSIM_AGENT_ARGV0 and the agent's channel on SOMSIM_AGENT_FD. A constructor in this target
 * sees that before main, before any Swift code runs, and becomes the agent; it never returns. Any
 * other start of the program is left alone. */
#ifndef SOMSIM_AGENT_H
#define SOMSIM_AGENT_H

/* argv[0] of an agent; also its process name (/proc/PID/comm). */
#define SOMSIM_AGENT_ARGV0 "somsim-agent"

/* How an agent process ends (its exit status; the probe names them in its messages). An agent
 * that a workload access killed dies of that signal instead (SOMSIM_OP_DIE). */
enum somsim_agent_exit {
    /* SOMSIM_OP_EXIT, or its channel closed (the probe is gone): the workload process exits. */
    SOMSIM_AGENT_EXIT_OK = 0,
    /* A reply could not be sent whole on the channel (sendmsg failed or sent part of it). */
    SOMSIM_AGENT_EXIT_SEND_FAILED = 70,
    /* A command could not be received (recvmsg failed). */
    SOMSIM_AGENT_EXIT_RECEIVE_FAILED = 71,
    /* /proc/self/maps could not be read whole while the agent got ready, so some of its own
     * memory would take faults inside measured operations. */
    SOMSIM_AGENT_EXIT_MAPS_UNREADABLE = 72,
    /* A forked agent could not put its channel on SOMSIM_AGENT_FD. */
    SOMSIM_AGENT_EXIT_CHANNEL_FAILED = 73,
    /* An agent with a fresh heap (somsim-agent, the program) found its heap used before the
     * workload, or could not move its program break into the window (prctl PR_SET_MM_MAP), or could not steer mmap's placement into the window. */
    SOMSIM_AGENT_EXIT_HEAP_SETUP_FAILED = 74,
};

/* argv[0] of an agent with a fresh heap: the standalone program somsim-agent (Sources/
 * somsim-agent), which links nothing but this target and libc, so that glibc's allocator has
 * run no call before the workload's first. The constructor leaves it alone; its main calls
 * somsim_agent_main_fresh_heap. */
#define SOMSIM_AGENT_HEAP_ARGV0 "somsim-agent-heap"

/* The agent of a workload that runs the allocator: moves the program break to
 * SOMSIM_HEAP_ADDRESS, reserves the address space above the window so that the kernel places
 * the allocator's own mmaps in it, then serves commands as every agent does. Never returns. */
int somsim_agent_main_fresh_heap(int argc, char **argv);

/* SOMSIM_AGENT_HEAP_ARGV0, for Swift. */
const char *somsim_agent_heap_argv0(void);

/* SOMSIM_AGENT_ARGV0, for Swift. Referencing it also keeps the agent's object file (and its
 * constructor) in every program that starts agents. */
const char *somsim_agent_argv0(void);

#endif
