#if os(Linux)
import Foundation
import Glibc
import SomsimProbe
import SomsimWorkload
import Testing

/// Runs workloads on this machine's kernel. Needs root and hugetlbfs; changes HugeTLB pools, the
/// HVO knob and THP for a moment, and checks that they are put back in every case.
@Suite(.serialized, .enabled(if: Probe.canRun, "needs root, hugetlbfs and the somsim-agent program"))
struct RealKernelTests {
    static let small = """
        somsim-workload 1
        machine pti=\(pti ? "on" : "off") hugetlb-2m=4 hvo=on thp=never
        spawn a
        a mmap m 1M
        a touch m write
        a mmap h 4M huge=2M
        a mmap s 2M huge=2M shared
        a touch h write length=2M
        a touch s write
        a fork b
        measure forked
        b touch m write length=256K
        b touch h write
        a touch m write
        measure written
        b exit
        measure end-of-b
        """

    static var pti: Bool {
        ((try? String(contentsOfFile: "/sys/devices/system/cpu/vulnerabilities/meltdown", encoding: .utf8)) ?? "").contains("PTI")
    }

    static func settings() throws -> MachineSettings {
        var s = try MachineSettings.snapshot()
        s.hugetlbfsMounts.sort { $0.directory < $1.directory }
        return s
    }

    /// somsim-agent processes still running (or unreaped) anywhere on the machine.
    static func agentsLeft() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
            return comm.trimmingCharacters(in: .whitespacesAndNewlines) == "somsim-agent"
        }
    }

    /// The validation suite in validation/: every workload, every metric within its tolerance.
    static let suite: [String] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent("validation")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".somw") }.sorted().map { folder.appendingPathComponent($0).path }
    }()

    @Test func theSuiteHasAtLeastTenWorkloads() {
        #expect(Self.suite.count >= 10)
    }

    @Test(arguments: suite)
    func suiteWorkloadPassesOnThisKernel(_ path: String) throws {
        let before = try Self.settings()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let report = try Probe.validate(try WorkloadParser.parse(text, fileName: path))
        for failure in report.failures {
            Issue.record("\(failure.process ?? "system") \(failure.metric): predicted \(failure.predicted), measured \(failure.measured)")
        }
        #expect(report.passed)
        #expect(try Self.settings() == before)
        #expect(Self.agentsLeft().isEmpty)
    }

    @Test func smallWorkloadPassesEveryCheck() throws {
        let before = try Self.settings()
        let report = try Probe.validate(try WorkloadParser.parse(Self.small, fileName: "small.somw"))
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.checks.count == 4)
        #expect(try Self.settings() == before)
        #expect(Self.agentsLeft().isEmpty)
    }

    @Test func settingsAreRestoredAfterAFailedRun() throws {
        let before = try Self.settings()
        let workload = try WorkloadParser.parse(Self.small, fileName: "small.somw")
        // Statement 7 is `a fork b`: its agent is killed first, so the run fails there.
        #expect(throws: ProbeError.self) {
            try Probe.validate(workload, options: ProbeOptions(killAgentBeforeStatement: 7))
        }
        #expect(try Self.settings() == before)
        #expect(Self.agentsLeft().isEmpty)
    }

    @Test func refusesBeforeChangingAnything() throws {
        let before = try Self.settings()
        let workload = try WorkloadParser.parse("somsim-workload 1\nmachine hugetlb-2m=100000000 pti=\(Self.pti ? "off" : "on")\nspawn a\n", fileName: "big.somw")
        #expect {
            try Probe.validate(workload)
        } throws: { error in
            guard case ProbeError.cannotMeet(let reasons) = error else { return false }
            return reasons.count == 2 && reasons.contains { $0.contains("not enough free memory") } && reasons.contains { $0.contains("pti=") }
        }
        #expect(try Self.settings() == before)
    }

    @Test func settingsAreRestoredAfterSIGINT() throws {
        let before = try Self.settings()
        let agent = try Probe.locateAgent(nil)
        let somsim = URL(fileURLWithPath: agent).deletingLastPathComponent().appendingPathComponent("somsim")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-sigint-\(getpid()).somw")
        let long = """
            somsim-workload 1
            machine pti=\(Self.pti ? "on" : "off") hugetlb-2m=3 hvo=on
            spawn a
            a mmap h 2M huge=2M shared
            a touch h write
            a mmap m 64M
            a touch m write
            repeat 20000 as i {
              a fork c{i}
              c{i} touch m write length=4M
              c{i} exit
            }
            """
        try long.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = somsim
        process.arguments = ["validate", file.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until the run has changed the machine and started its agents.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && process.isRunning {
            let pool = (try? String(contentsOfFile: MachineSettings.pool2MPath, encoding: .utf8)) ?? ""
            if pool.trimmingCharacters(in: .whitespacesAndNewlines) == "3" && Self.agentsLeft().count >= 1 { break }
            usleep(20_000)
        }
        usleep(300_000)
        #expect(try KernelFilesForTests.number(MachineSettings.hvoPath) == 1)
        kill(process.processIdentifier, SIGINT)
        // The run must stop promptly; if it does not, kill it, put the machine back here and fail
        // (rather than hanging CI on the rest of the 20,000 forks).
        let stopBy = Date().addingTimeInterval(30)
        while process.isRunning && Date() < stopBy { usleep(20_000) }
        if process.isRunning {
            Issue.record("somsim validate did not stop within 30 s of SIGINT")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            for pid in Self.agentsLeft() { kill(pid, SIGKILL) }
            Self.forceRestore(before)
            return
        }
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == SIGINT)
        #expect(try Self.settings() == before)
        var left = Self.agentsLeft()
        for _ in 0..<50 where !left.isEmpty {
            usleep(20_000)
            left = Self.agentsLeft()
        }
        #expect(left.isEmpty)
    }
}

extension RealKernelTests {
    /// Writes `settings` back without the probe's help: the fallback when a run had to be killed.
    static func forceRestore(_ settings: MachineSettings) {
        for mount in (try? MachineSettings.snapshot().hugetlbfsMounts) ?? [] where !settings.hugetlbfsMounts.contains(mount) {
            umount2(mount.directory, 0)
            rmdir(mount.directory)
        }
        try? String(settings.hvo ? "1" : "0").write(toFile: MachineSettings.hvoPath, atomically: false, encoding: .utf8)
        try? settings.thp.write(toFile: MachineSettings.thpPath, atomically: false, encoding: .utf8)
        try? String(settings.pool1GPages).write(toFile: MachineSettings.pool1GPath, atomically: false, encoding: .utf8)
        try? String(settings.pool2MPages).write(toFile: MachineSettings.pool2MPath, atomically: false, encoding: .utf8)
    }
}

enum KernelFilesForTests {
    static func number(_ path: String) throws -> Int {
        Int(try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}
#endif
