#if os(Linux)
import CSomsimProbeSupport
import Foundation
import Glibc
@testable import SomsimProbe
import SomsimModel
import SomsimWorkload
import Testing

/// The agent: its own work never enters a measurement, and it ships inside the program.
extension RealKernelTests {
    /// Each call of each kind, made first after a fork (when the agent's writable pages are
    /// write-protected), in the parent and in the child, measures 0 faults when it touches no
    /// workload memory. A lazily bound agent measured 2 faults in the parent's first munmap.
    @Test func anAgentsFirstCallsAfterAForkMeasureNoFaults() throws {
        defer { try? RestorePlan.runNow() }  // kills the agents
        let parent = try Agent.spawn(name: "parent")
        let child = try parent.fork(child: "child")
        let address = WorkloadWindow.lowAddress
        for agent in [parent, child] {
            var calls: [(String, somsim_command)] = []
            func command(_ op: somsim_op, address: UInt64 = 0, length: UInt64 = 0, advice: Int32 = 0) -> somsim_command {
                var c = somsim_command()
                c.op = UInt32(op.rawValue)
                c.address = address
                c.length = length
                c.advice = advice
                return c
            }
            let unmapNothing = command(SOMSIM_OP_MUNMAP, address: address, length: 1 << 20)
            calls.append(("noop", command(SOMSIM_OP_NOOP)))
            calls.append(("munmap of nothing", unmapNothing))
            // MADV_DONTNEED (4): ENOMEM, nothing is mapped there.
            calls.append(("madvise of nothing", command(SOMSIM_OP_MADVISE, address: address, length: 1 << 20, advice: 4)))
            calls.append(("mmap", command(SOMSIM_OP_MMAP, address: address, length: 1 << 20)))
            calls.append(("touch of no segment", command(SOMSIM_OP_TOUCH)))
            calls.append(("munmap", unmapNothing))
            for (what, command) in calls {
                var c = command
                let reply = try agent.call(&c).reply
                #expect(reply.op_faults == 0, "\(agent.name): \(what) measured \(reply.op_faults) fault(s)")
            }
            #expect(agent.faults == 0)
        }
    }

    /// The documented install: the `somsim` program alone, anywhere. It validates a workload
    /// with no somsim-agent file next to it (the agent is the program itself).
    @Test func theSomsimProgramAloneValidates() throws {
        let before = try Self.settings()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-install-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let installed = directory.appendingPathComponent("somsim").path
        try FileManager.default.copyItem(atPath: Self.somsim, toPath: installed)
        let workload = directory.appendingPathComponent("small.somw")
        try Self.small.write(to: workload, atomically: true, encoding: .utf8)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["small.somw", "somsim"])
        let (status, output) = try Self.run(installed, ["validate", workload.path, "--format", "csv"])
        #expect(status == 0, "\(output)")
        #expect(output.hasPrefix("label,process,metric,value,measured,difference,tolerance,ok\n"))
        #expect(try Self.settings() == before)
        #expect(Self.noAgentsLeft())
    }
}
#endif
