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
            var noop = somsim_command()
            noop.op = UInt32(SOMSIM_OP_NOOP.rawValue)
            calls.append(("noop", noop))
            var unmapNothing = somsim_command()
            unmapNothing.op = UInt32(SOMSIM_OP_MUNMAP.rawValue)
            unmapNothing.address = address
            unmapNothing.length = 1 << 20
            calls.append(("munmap of nothing", unmapNothing))
            var adviseNothing = somsim_command()
            adviseNothing.op = UInt32(SOMSIM_OP_MADVISE.rawValue)
            adviseNothing.address = address
            adviseNothing.length = 1 << 20
            adviseNothing.advice = 4  // MADV_DONTNEED: ENOMEM, nothing is mapped there
            calls.append(("madvise of nothing", adviseNothing))
            var map = somsim_command()
            map.op = UInt32(SOMSIM_OP_MMAP.rawValue)
            map.address = address
            map.length = 1 << 20
            calls.append(("mmap", map))
            var touchNothing = somsim_command()
            touchNothing.op = UInt32(SOMSIM_OP_TOUCH.rawValue)
            calls.append(("touch of no segment", touchNothing))
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
