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
};

/* SOMSIM_AGENT_ARGV0, for Swift. Referencing it also keeps the agent's object file (and its
 * constructor) in every program that starts agents. */
const char *somsim_agent_argv0(void);

#endif
