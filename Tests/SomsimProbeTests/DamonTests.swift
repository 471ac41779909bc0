#if os(Linux)
import Foundation
import Glibc
@testable import SomsimProbe
import SomsimWorkload
import Synchronization
import Testing

/// A validate turns off the DAMON kdamonds that run (a scheme acts on the run's pages by
/// physical address) and starts them again after it; and a restore write the kernel refuses is
/// done when the file already holds the value (a running kdamond refuses `on`).
extension RealKernelTests {
    /// The kdamonds running on this machine, by the paths of their `state` files.
    static var runningKdamonds: [String] { (try? MachineSettings.snapshot())?.runningKdamonds ?? [] }

    @Test(.enabled(if: !runningKdamonds.isEmpty, "no DAMON kdamond runs on this machine (\(MachineSettings.damonKdamondsPath)): there is nothing for a run to turn off"))
    func aRunTurnsRunningKdamondsOffAndOnAgain() throws {
        let before = try Self.settings()
        let running = before.runningKdamonds
        // What each kdamond's state was at every statement of the run.
        let seen = Mutex<Set<String>>([])
        let options = ProbeOptions(progress: { _, _ in
            let states = running.map { (try? MachineSettings.trimmed($0)) ?? "unreadable" }
            seen.withLock { $0.formUnion(states) }
        })
        let report = try Probe.validate(try WorkloadParser.parse(Self.small, fileName: "small.somw"), options: options)
        #expect(report.passed, "\(report.failures)")
        #expect(seen.withLock { $0 } == ["off"])
        // Named by their directories (…/kdamonds/N/state).
        let names = running.map { "kdamond " + URL(fileURLWithPath: $0).deletingLastPathComponent().lastPathComponent }
        #expect(report.notes.contains { $0.hasPrefix("DAMON: \(names.joined(separator: ", ")) turned off for the run and started again after it") }, "\(report.notes)")
        #expect(try Self.settings() == before)
        #expect(Self.noAgentsLeft())
    }

    /// A write step that fails is done when the file already reads the value, and fails (the
    /// journal kept) when it does not. A read-only sysfs file refuses every write, even of its
    /// own value (kernfs: EACCES, also for root).
    @Test(arguments: [true, false])
    func aRefusedRestoreWriteIsDoneWhenTheFileHoldsTheValue(holds: Bool) throws {
        let path = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("\(path) does not exist: this kernel has no THP, which every machine of this kind has")
            return
        }
        #expect(!FileManager.default.fileExists(atPath: RestorePlan.journalPath))
        let value = try MachineSettings.trimmed(path)
        let journal = """
            somsim-restore-journal 1
            owner\t999999\t1
            write\t\(path)\t\(holds ? value : value + "0")

            """
        try FileManager.default.createDirectory(atPath: RestorePlan.directory, withIntermediateDirectories: true)
        try journal.write(toFile: RestorePlan.journalPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: RestorePlan.journalPath) }

        let (status, output) = try Self.run(Self.somsim, ["validate", "--restore"])
        if holds {
            #expect(status == 0, "\(output)")
            #expect(!FileManager.default.fileExists(atPath: RestorePlan.journalPath))
        } else {
            #expect(status != 0, "\(output)")
            #expect(output.contains(path), "\(output)")
            #expect(FileManager.default.fileExists(atPath: RestorePlan.journalPath))
        }
        #expect(try MachineSettings.trimmed(path) == value)
    }
}
#endif
