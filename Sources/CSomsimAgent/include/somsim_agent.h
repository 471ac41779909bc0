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

/* SOMSIM_AGENT_ARGV0, for Swift. Referencing it also keeps the agent's object file (and its
 * constructor) in every program that starts agents. */
const char *somsim_agent_argv0(void);

#endif
