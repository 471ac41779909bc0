/* somsim-agent: the agent of `somsim validate` for workloads that run glibc's allocator.
 *
 * The same agent as the one inside somsim (CSomsimAgent), as a program of its own that loads
 * nothing but libc and libhugetlbfs (which allocates nothing at load): glibc's allocator must be
 * untouched when the workload's first malloc comes, as in a fresh C program. Started only by the
 * probe (argv[0] "somsim-agent-heap", its channel on descriptor 3).
 *
 * SwiftPM links every executable with swiftc, which adds the Swift runtime (libswiftCore, and
 * with it libstdc++) and swiftrt.o. Their load-time initializers allocate — libstdc++'s
 * exception pool takes 72704 bytes, the runtime's backtracer strdups its path — so a workload's
 * first malloc would not be a fresh program's. Three lines keep them out:
 *   - swiftrt.o, which registers Swift metadata sections, calls swift_addNewDSOImage and refers
 *     to _swift_backtrace_isThunkFunction: defined here, empty, as this program has no Swift code;
 *   - "-Wl,--as-needed", passed to the link through this object's autolink entries (the section
 *     swiftc's swift-autolink-extract copies onto the link line before -lswiftCore), so that the
 *     runtime, needed by nothing any more, is not loaded.
 * `ldd somsim-agent` shows libc, libhugetlbfs and the loader; SharedConstantsTests holds it. */
#include "somsim_agent.h"

__attribute__((section(".swift1_autolink_entries"), used)) static const char autolink_entries[] = "-Wl,--as-needed";

void swift_addNewDSOImage(const void *header);
void swift_addNewDSOImage(const void *header) { (void)header; }
int _swift_backtrace_isThunkFunction(const char *name);
int _swift_backtrace_isThunkFunction(const char *name)
{
    (void)name;
    return 0;
}

int main(int argc, char **argv)
{
    return somsim_agent_main_fresh_heap(argc, argv);
}
