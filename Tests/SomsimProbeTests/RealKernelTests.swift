#if os(Linux)
import Foundation
import Glibc
import SomsimProbe
import SomsimWorkload
import Testing

/// Runs workloads on this machine's kernel. Needs root and hugetlbfs; changes HugeTLB pools, the
/// HVO knob and THP for a moment, and checks that they are put back in every case.
///
/// Every test that touches the kernel is in this suite (some in extensions in other files), so
/// that they run one at a time.
@Suite(.serialized, .enabled(if: Probe.canRun, "needs root and hugetlbfs"))
struct RealKernelTests {
    /// No `pti=`: validated with this machine's page-table isolation.
    static let small = """
        somsim-workload 1
        machine hugetlb-2m=4 hvo=on thp=never
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

    /// Polls `condition` until it holds; false when `seconds` pass first (the deadline only
    /// fails a hung test, it is not a measurement).
    static func eventually(_ seconds: Int, _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !condition() {
            if ContinuousClock.now > deadline { return false }
            usleep(5_000)
        }
        return true
    }

    /// Agents exit when their run ends; one whose parent is gone is reaped by init, a moment later.
    static func noAgentsLeft() -> Bool {
        eventually(30) { agentsLeft().isEmpty }
    }

    /// The built `somsim` program, next to the test bundle.
    static let somsim: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = String(decoding: buffer[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("somsim").path
    }()

    static func number(_ path: String) -> Int {
        Int(((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
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
        #expect(Self.noAgentsLeft())
    }

    @Test func smallWorkloadPassesEveryCheck() throws {
        let before = try Self.settings()
        let report = try Probe.validate(try WorkloadParser.parse(Self.small, fileName: "small.somw"))
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.checks.count == 4)
        // No pti= in the workload: the host's setting, and the report says so.
        #expect(report.predicted.machine.pti == Self.pti)
        #expect(report.notes.contains { $0.hasPrefix("pti: the workload does not set it") && $0.contains("pti=\(Self.pti ? "on" : "off")") })
        #expect(try Self.settings() == before)
        #expect(Self.noAgentsLeft())
    }

    /// Each spawned agent leads a process group of its own: a spawn after every earlier agent
    /// exited used to join a group that no longer existed (posix_spawn: EPERM).
    @Test func aSpawnAfterEveryAgentExitedRuns() throws {
        let text = "somsim-workload 1\nspawn a\na mmap m 64K\na touch m write\na exit\nspawn b\nb mmap m 64K\nb touch m write\n"
        let report = try Probe.validate(try WorkloadParser.parse(text, fileName: "respawn.somw"))
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(Self.noAgentsLeft())
    }

    @Test func settingsAreRestoredAfterAFailedRun() throws {
        let before = try Self.settings()
        let workload = try WorkloadParser.parse(Self.small, fileName: "small.somw")
        // Statement 7 is `a fork b`: its agent is killed first, so the run fails there.
        #expect(throws: ProbeError.self) {
            try Probe.validate(workload, options: ProbeOptions(killAgentBeforeStatement: 7))
        }
        #expect(try Self.settings() == before)
        #expect(Self.noAgentsLeft())
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

    /// A workload that holds the machine changed for minutes: 20,000 forks of a 64 MiB writer.
    static func longWorkload(machine: String) -> String {
        """
        somsim-workload 1
        machine \(machine)
        spawn a
        a mmap h 2M huge=2M shared
        a touch h write
        a mmap hf 2M huge=2M file=pool
        a mmap f 64K file=data
        a touch f write
        a mmap m 64M
        a touch m write
        repeat 20000 as i {
          a fork c{i}
          c{i} touch m write length=4M
          c{i} exit
        }
        """
    }

    /// Starts `somsim validate` on `text` and returns once the run has changed the machine and its
    /// first agent is journaled: the 2 MiB pool is at `pool2M`, HVO is on, and an agent of the run
    /// is alive with its process group in the restore journal (agents are spawned after every
    /// setting, mount and directory is in place).
    ///
    /// The agent is in /proc a moment before somsim journals its group (posix_spawn returns, then
    /// `RestorePlan.group` writes): waiting for the agent alone let a kill land in that moment
    /// (CI, stop 18). Killed there, nothing is left either — the agent exits when it reads end of
    /// file on its socket (agent.c) — but the journal the test inspects has no group step yet.
    static func startLongValidate(_ text: String, pool2M: Int, file: URL) throws -> Process? {
        try text.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: somsim)
        process.arguments = ["validate", file.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        let started = eventually(120) {
            !process.isRunning
                || (number(MachineSettings.pool2MPath) == pool2M && number(MachineSettings.hvoPath) == 1
                    && agentsLeft().contains { parent(of: $0) == pid && journaled(group: $0) })
        }
        guard started, process.isRunning else {
            Issue.record("somsim validate did not get going (running: \(process.isRunning))")
            if process.isRunning { kill(pid, SIGKILL) }
            process.waitUntilExit()
            return nil
        }
        return process
    }

    static func parent(of pid: Int32) -> Int32 {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) ?? 0 : 0
    }

    @Test func settingsAreRestoredAfterSIGINT() throws {
        let before = try Self.settings()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-sigint-\(getpid()).somw")
        defer { try? FileManager.default.removeItem(at: file) }
        guard let process = try Self.startLongValidate(Self.longWorkload(machine: "hugetlb-2m=3 hvo=on"), pool2M: 3, file: file) else {
            Self.forceRestore(before)
            return
        }
        kill(process.processIdentifier, SIGINT)
        // The run must stop promptly; if it does not, kill it, put the machine back here and fail
        // (rather than hanging CI on the rest of the 20,000 forks).
        if !Self.eventually(30, { !process.isRunning }) {
            Issue.record("somsim validate did not stop within 30 s of SIGINT")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            _ = try? Probe.restore()
            Self.forceRestore(before)
            return
        }
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == SIGINT)
        #expect(try Self.settings() == before)
        #expect(!FileManager.default.fileExists(atPath: RestorePlan.journalPath))
        #expect(Self.noAgentsLeft())
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
        for (path, mode) in settings.mthpModes { try? mode.write(toFile: path, atomically: false, encoding: .utf8) }
        try? String(settings.pool1GPages).write(toFile: MachineSettings.pool1GPath, atomically: false, encoding: .utf8)
        try? String(settings.pool2MPages).write(toFile: MachineSettings.pool2MPath, atomically: false, encoding: .utf8)
        let knobs: [(String, String?)] = [
            (MachineSettings.compactionPath, settings.compactionProactiveness), (MachineSettings.khugepagedSleepPath, settings.khugepagedSleep),
            (MachineSettings.khugepagedMaxPtesNonePath, settings.khugepagedMaxPtesNone),
            (MachineSettings.khugepagedMaxPtesSharedPath, settings.khugepagedMaxPtesShared),
        ]
        for case let (path, value?) in knobs { try? value.write(toFile: path, atomically: false, encoding: .utf8) }
        // A running kdamond refuses `on`: only those off now that were on.
        for path in settings.runningKdamonds where (try? String(contentsOfFile: path, encoding: .utf8)) == "off\n" {
            try? "on".write(toFile: path, atomically: false, encoding: .utf8)
        }
    }
}
#endif
