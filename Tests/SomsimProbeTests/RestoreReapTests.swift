#if os(Linux)
import CSomsimProbeSupport
import Glibc
@testable import SomsimProbe
import Testing

extension RealKernelTests {
    /// The restore reaps the agents it killed, and only them: a child of the process's own that
    /// ended before the restore (here `/bin/sh -c 'exit 7'`) is still its owner's to wait for,
    /// with its status. (A restore that reaped every child took the exit of a `somsim` that a
    /// command-line test in the same test process had started: the test read status 0 for 66.)
    @Test func theRestoreReapsItsAgentsAndNoOtherChild() throws {
        var pid: pid_t = 0
        let words: [String] = ["/bin/sh", "-c", "exit 7"]
        let arguments: [UnsafeMutablePointer<CChar>?] = words.map { word in strdup(word) } + [nil]
        defer { arguments.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/sh", nil, nil, arguments, environ) == 0)
        // Ended (without being reaped) before the restore runs.
        var code: Int32 = 0
        var signal: Int32 = 0
        var ended: Int32 = 0
        for _ in 0..<10_000 {
            ended = somsim_exit_status(pid, &code, &signal)
            if ended != 0 { break }
            usleep(1_000)
        }
        #expect(ended == 1 && code == 7, "the shell ended with 7 within 10 s")
        let agent = try Agent.spawn(name: "reaped")
        let agentPID = agent.pid
        try RestorePlan.runNow()
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid, "the shell's exit is still ours to collect: \(String(cString: strerror(errno)))")
        #expect(status >> 8 & 0xFF == 7)
        // The agent was killed and reaped: no process of its number is our child any more.
        #expect(waitpid(agentPID, nil, WNOHANG) == -1 && errno == ECHILD)
    }
}
#endif
