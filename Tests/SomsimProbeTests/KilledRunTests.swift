#if os(Linux)
import CSomsimProbeSupport
import Foundation
import Glibc
@testable import SomsimProbe
import SomsimWorkload
import Testing

/// A validate killed outright (SIGKILL; a power cut looks the same to the next start) leaves
/// nothing behind once the next start, or `somsim validate --restore`, has run the journal.
extension RealKernelTests {
    enum NextStart: String, CaseIterable {
        case restoreCommand = "somsim validate --restore"
        case nextValidate = "the next somsim validate"
    }

    @Test(arguments: NextStart.allCases)
    func aKilledValidateIsUndoneAtTheNextStart(_ next: NextStart) throws {
        let before = try Self.settings()
        #expect(!FileManager.default.fileExists(atPath: RestorePlan.journalPath))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-sigkill-\(getpid()).somw")
        defer { try? FileManager.default.removeItem(at: file) }
        // Every kind of change: both pools, HVO, THP and the per-size mTHP knobs, a hugetlbfs
        // mount, directories of files on it and on /dev/shm, and agents.
        let machine = "hugetlb-2m=3 hugetlb-1g=1 hvo=on thp=always mthp=64K"
        guard let process = try Self.startLongValidate(Self.longWorkload(machine: machine), pool2M: 3, file: file) else {
            _ = try? Probe.restore()
            Self.forceRestore(before)
            return
        }
        let pid = process.processIdentifier
        kill(pid, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)

        // The machine is still changed, and the journal says how to undo each change.
        #expect(try Self.settings() != before)
        let journal = try RestorePlan.parse(String(contentsOfFile: RestorePlan.journalPath, encoding: .utf8))
        #expect(journal.owner == pid)
        let writes = Dictionary(journal.steps.compactMap { step -> (String, String)? in
            if case .write(let path, let value) = step { return (path, value) }
            return nil
        }, uniquingKeysWith: { first, _ in first })
        #expect(writes[MachineSettings.pool2MPath] == String(before.pool2MPages))
        #expect(writes[MachineSettings.pool1GPath] == String(before.pool1GPages))
        #expect(writes[MachineSettings.hvoPath] == (before.hvo ? "1" : "0"))
        #expect(writes[MachineSettings.thpPath] == before.thp)
        // Each kdamond that ran is off, and the journal starts it again.
        for path in before.runningKdamonds {
            #expect(writes[path] == "on", "\(path)")
            #expect((try? MachineSettings.trimmed(path)) == "off", "\(path)")
        }
        #expect(!before.mthpModes.isEmpty)
        for (path, mode) in before.mthpModes { #expect(writes[path] == mode, "\(path)") }
        let mountPoint = "\(RestorePlan.directory)/hugetlbfs-2M"
        #expect(before.hugetlbfsMounts.isEmpty, "this test expects no hugetlbfs mount of its own at the start")
        #expect(journal.steps.contains(.mount(mountPoint)))
        #expect(journal.steps.contains(.remove(mountPoint, .emptyDirectory)))
        let runDirectories = ["/dev/shm/somsim-validate-\(pid)", "\(mountPoint)/somsim-validate-\(pid)"]
        for directory in runDirectories {
            #expect(journal.steps.contains(.remove(directory, .directoryOfFiles)))
            #expect(FileManager.default.fileExists(atPath: directory), "\(directory) should exist before the restore")
        }
        #expect(journal.steps.contains { if case .group = $0 { return true } else { return false } })

        switch next {
        case .restoreCommand:
            let (status, output) = try Self.run(Self.somsim, ["validate", "--restore"])
            #expect(status == 0, "\(output)")
            #expect(output.contains("restored the machine from \(RestorePlan.journalPath), left by somsim process \(pid)"))
            let (again, nothing) = try Self.run(Self.somsim, ["validate", "--restore"])
            #expect(again == 0 && nothing.contains("nothing to restore"), "\(nothing)")
        case .nextValidate:
            let small = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-small-\(getpid()).somw")
            defer { try? FileManager.default.removeItem(at: small) }
            try Self.small.write(to: small, atomically: true, encoding: .utf8)
            let (status, output) = try Self.run(Self.somsim, ["validate", small.path, "--format", "json"])
            #expect(status == 0, "\(output)")
            #expect(output.contains("restored the machine from \(RestorePlan.journalPath), left by somsim process \(pid)"))
        }
        #expect(try Self.settings() == before)
        #expect(!FileManager.default.fileExists(atPath: RestorePlan.journalPath))
        for directory in runDirectories + [mountPoint] {
            #expect(!FileManager.default.fileExists(atPath: directory), "\(directory) is left")
        }
        #expect(Self.noAgentsLeft())
        if try Self.settings() != before { Self.forceRestore(before) }
    }

    /// The restore kills the agents of a journaled process group, and nothing else: not an agent
    /// of another group, not another program in that group, not an agent of a group whose
    /// leader the journal says started later (the number was reused).
    @Test(arguments: [false, true])
    func restoreKillsOnlyTheJournaledAgents(numberReused: Bool) throws {
        #expect(!FileManager.default.fileExists(atPath: RestorePlan.journalPath))
        let left = try LeftAgent.start(group: 0)
        let otherAgent = try LeftAgent.start(group: 0)
        let otherProgram = try LeftAgent.start(group: left.pid, program: "/bin/sleep", arguments: ["600"])
        defer { [left, otherAgent, otherProgram].forEach { $0.end() } }

        let files = "/dev/shm/somsim-restore-test-\(getpid())"
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: false)
        for name in ["a", "b.bin", "c"] { _ = FileManager.default.createFile(atPath: "\(files)/\(name)", contents: Data([1])) }
        let thp = try MachineSettings.snapshot().thp
        let start = somsim_start_time(left.pid) + (numberReused ? 1 : 0)
        let journal = """
            somsim-restore-journal 1
            owner\t999999\t1
            write\t\(MachineSettings.thpPath)\t\(thp)
            remove-tree\t\(files)
            group\t\(left.pid)\t\(start)

            """
        try FileManager.default.createDirectory(atPath: RestorePlan.directory, withIntermediateDirectories: true)
        try journal.write(toFile: RestorePlan.journalPath, atomically: true, encoding: .utf8)

        let (status, output) = try Self.run(Self.somsim, ["validate", "--restore"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("kill the agents of process group \(left.pid)"))
        #expect(!FileManager.default.fileExists(atPath: RestorePlan.journalPath))
        #expect(!FileManager.default.fileExists(atPath: files))
        #expect(left.exited == !numberReused)
        #expect(!otherAgent.exited)
        #expect(!otherProgram.exited)
    }

    @Test func restoreTakesNoWorkload() throws {
        let (none, missing) = try Self.run(Self.somsim, ["validate"])
        #expect(none == 64 && missing.contains("missing a workload FILE (or --restore)"), "\(missing)")
        let (both, twice) = try Self.run(Self.somsim, ["validate", "--restore", "x.somw"])
        #expect(both == 64 && twice.contains("give either a workload FILE or --restore, not both"), "\(twice)")
    }

    /// Whether the restore journal on disk has a `group` step for the group led by `leader`.
    static func journaled(group leader: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: RestorePlan.journalPath, encoding: .utf8),
              let journal = try? RestorePlan.parse(text) else { return false }
        return journal.steps.contains { if case .group(leader, _) = $0 { return true } else { return false } }
    }

    /// Runs a program to its end; its exit status and its standard output and error.
    static func run(_ program: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// A process the test starts the way the probe starts an agent (this program as
/// `somsim-agent`, its channel on fd 3, in a process group of its own or of `group`), or another
/// program; it lives until `end`, as an agent left by a killed run does while its channel is open.
final class LeftAgent {
    let pid: pid_t
    let pidfd: Int32
    let channel: Int32

    private init(pid: pid_t, channel: Int32) {
        self.pid = pid
        self.channel = channel
        pidfd = somsim_pidfd_open(pid)
    }

    static func start(group: pid_t, program: String = "/proc/self/exe", arguments: [String] = []) throws -> LeftAgent {
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else { throw SystemCallError(errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair[1], SOMSIM_AGENT_FD)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, group)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        let agent = program == "/proc/self/exe"
        let argv: [UnsafeMutablePointer<CChar>?] = ([agent ? "somsim-agent" : program] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, program, &actions, &attributes, argv, environ)
        close(pair[1])
        guard status == 0 else { throw SystemCallError(status) }
        if agent {
            // Its hello: the agent is warm and named somsim-agent.
            var hello = somsim_reply()
            var fd: Int32 = -1
            guard somsim_receive(pair[0], &hello, MemoryLayout<somsim_reply>.size, &fd) == MemoryLayout<somsim_reply>.size else { throw SystemCallError(EIO) }
        }
        return LeftAgent(pid: pid, channel: pair[0])
    }

    /// Whether the process has exited (killed).
    var exited: Bool { somsim_pidfd_wait(pidfd, 0) == 1 }

    func end() {
        _ = kill(pid, SIGKILL)
        _ = somsim_pidfd_wait(pidfd, 10_000)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        close(pidfd)
        close(channel)
    }
}
#endif
