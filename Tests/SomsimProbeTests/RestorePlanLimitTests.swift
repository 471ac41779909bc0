#if os(Linux)
import CSomsimAgent
import CSomsimProbeSupport
import Foundation
import Glibc
@testable import SomsimProbe
import SomsimWorkload
import Testing

/// The restore plan's limits (static memory, so a signal handler can run it): a step it cannot
/// record whole is refused before the change it would undo, with an error that names the step
/// and the limit, and never truncated or dropped. The plan is one per process, so these run in
/// the serialized suite; their steps only touch a scratch directory of their own, never a
/// kernel setting.
extension RealKernelTests {
    /// A directory of this test's own, with files a restore step may write or remove.
    struct Scratch {
        let directory = "/tmp/somsim-plan-limits-\(getpid())"
        var target: String { directory + "/target" }
        var untouched: String { directory + "/untouched" }

        init() throws {
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            for file in [target, untouched] { #expect(FileManager.default.createFile(atPath: file, contents: Data())) }
        }

        func contents(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func refusal(_ error: any Error) -> String? {
        guard case ProbeError.restorePlan(let message) = error else { return nil }
        return "\(error)".hasPrefix("cannot record how to undo a change to the machine, so it is not made: ") ? message : nil
    }

    @Test func aStepPastThePlansCapacityIsRefusedByName() throws {
        try RestorePlan.runNow()  // an empty plan
        let scratch = try Scratch()
        defer { scratch.remove() }
        defer { try? RestorePlan.runNow() }
        let capacity = Int(SOMSIM_RESTORE_MAX_STEPS)
        for _ in 0..<capacity {
            try RestorePlan.write(scratch.target, "x")
            try RestorePlan.mount(scratch.directory + "/not-a-mount")
            try RestorePlan.remove(scratch.directory + "/not-a-file", .file)
        }
        #expect {
            try RestorePlan.write(scratch.untouched, "refused")
        } throws: { error in
            Self.refusal(error) == "the setting \(scratch.untouched) (to write back refused): the restore plan is full, it holds at most \(capacity) settings to write back"
        }
        #expect {
            try RestorePlan.mount(scratch.untouched)
        } throws: { error in
            Self.refusal(error) == "the mount \(scratch.untouched): the restore plan is full, it holds at most \(capacity) mounts to unmount"
        }
        #expect {
            try RestorePlan.remove(scratch.untouched, .file)
        } throws: { error in
            Self.refusal(error) == "the removal of \(scratch.untouched): the restore plan is full, it holds at most \(capacity) paths to remove"
        }
        errno = 0
        #expect(somsim_restore_add_write(scratch.untouched, "refused") == SOMSIM_RESTORE_FULL.rawValue)
        #expect(errno == ENOSPC)
        // The plan runs whole, and the refused steps are not in it.
        try RestorePlan.runNow()
        #expect(scratch.contents(scratch.target) == "x")
        #expect(scratch.contents(scratch.untouched) == "")
        // Emptied: it takes steps again.
        try RestorePlan.write(scratch.target, "y")
        try RestorePlan.runNow()
        #expect(scratch.contents(scratch.target) == "y")
    }

    /// A path the plan cannot hold whole is refused: cut at 255 bytes, this one would name
    /// another file (`prefix`), which the restore would then overwrite or remove.
    @Test func aPathOrValueTooLongForThePlanIsRefusedByName() throws {
        try RestorePlan.runNow()
        let scratch = try Scratch()
        defer { scratch.remove() }
        defer { try? RestorePlan.runNow() }
        let limit = Int(SOMSIM_RESTORE_PATH_BYTES) - 1
        let prefix = scratch.directory + "/" + String(repeating: "p", count: limit - scratch.directory.utf8.count - 1)
        #expect(prefix.utf8.count == limit)
        #expect(FileManager.default.createFile(atPath: prefix, contents: Data("kept".utf8)))
        let long = prefix + "/" + String(repeating: "q", count: 300 - limit - 1)
        #expect(long.utf8.count == 300)

        #expect {
            try RestorePlan.write(long, "x")
        } throws: { error in
            Self.refusal(error) == "the setting \(long) (to write back x): the path is 300 bytes, the restore plan holds paths of at most \(limit) bytes"
        }
        #expect {
            try RestorePlan.remove(long, .file)
        } throws: { error in
            Self.refusal(error) == "the removal of \(long): the path is 300 bytes, the restore plan holds paths of at most \(limit) bytes"
        }
        #expect {
            try RestorePlan.mount(long)
        } throws: { error in
            Self.refusal(error) == "the mount \(long): the path is 300 bytes, the restore plan holds paths of at most \(limit) bytes"
        }
        errno = 0
        #expect(somsim_restore_add_remove(long, Int32(SOMSIM_REMOVE_FILE.rawValue)) == SOMSIM_RESTORE_PATH_TOO_LONG.rawValue)
        #expect(errno == ENAMETOOLONG)
        // A path of 255 bytes the plan holds whole (a missing file: nothing to remove).
        try RestorePlan.remove(prefix.dropLast() + "x", .file)

        // Values: at most 63 bytes.
        let valueLimit = Int(SOMSIM_RESTORE_VALUE_BYTES) - 1
        #expect {
            try RestorePlan.write(scratch.untouched, String(repeating: "v", count: valueLimit + 1))
        } throws: { error in
            Self.refusal(error)?.hasSuffix(": the value is \(valueLimit + 1) bytes, the restore plan holds values of at most \(valueLimit) bytes") == true
        }
        try RestorePlan.write(scratch.target, String(repeating: "w", count: valueLimit))
        // A removal kind the plan does not know would be journaled as one thing and run as none.
        errno = 0
        #expect(somsim_restore_add_remove(scratch.untouched, 3) == SOMSIM_RESTORE_BAD_TEXT.rawValue)
        #expect(errno == EINVAL)

        try RestorePlan.runNow()
        #expect(scratch.contents(prefix) == "kept")
        #expect(scratch.contents(scratch.untouched) == "")
        #expect(scratch.contents(scratch.target) == String(repeating: "w", count: valueLimit))
    }

    /// When the plan cannot record how to put a setting back, validate stops before it changes
    /// any: here the plan has room for two of the snapshot's settings only.
    @Test func noSettingChangesWhenThePlanCannotRecordItsRestore() throws {
        try RestorePlan.runNow()
        let scratch = try Scratch()
        defer { scratch.remove() }
        defer { try? RestorePlan.runNow() }
        let before = try Self.settings()
        for _ in 0..<(Int(SOMSIM_RESTORE_MAX_STEPS) - 2) { try RestorePlan.write(scratch.target, "x") }
        let workload = try WorkloadParser.parse(
            "somsim-workload 1\nmachine hugetlb-2m=2 hvo=\(before.hvo ? "off" : "on") thp=\(before.thp == "never" ? "always" : "never")\nspawn a\na mmap m 64K\na touch m write\n",
            fileName: "plan-full.somw")
        #expect {
            _ = try Probe.validate(workload)
        } throws: { error in
            Self.refusal(error)?.hasSuffix(": the restore plan is full, it holds at most \(SOMSIM_RESTORE_MAX_STEPS) settings to write back") == true
        }
        #expect(try Self.settings() == before)
        #expect(Self.noAgentsLeft())
        #expect(!FileManager.default.fileExists(atPath: RestorePlan.journalPath))
        #expect(scratch.contents(scratch.target) == "x")  // the plan ran, refused step and all
    }

    /// The live agents the plan tracks (killed and waited for at restore): one past the limit is
    /// refused. The entries are fake (no pidfd, pids below 0, which the restore never signals),
    /// and untracked before any restore runs.
    @Test func anAgentPastThePlansCapacityIsRefused() throws {
        try RestorePlan.runNow()
        let fakes = (0..<Int32(SOMSIM_RESTORE_MAX_AGENTS)).map { -1000 - $0 }
        defer { fakes.forEach(somsim_restore_untrack_agent) }
        for pid in fakes { #expect(somsim_restore_track_agent(pid, -1) == SOMSIM_RESTORE_ADDED.rawValue) }
        errno = 0
        #expect(somsim_restore_track_agent(-999, -1) == SOMSIM_RESTORE_FULL.rawValue)
        #expect(errno == ENOSPC)
        #expect(throws: ProbeError.restorePlan("the agent of process p (pid 7): the restore plan is full, it holds at most \(SOMSIM_RESTORE_MAX_AGENTS) live agents")) {
            try RestorePlan.check(SOMSIM_RESTORE_FULL.rawValue, .agent, "the agent of process p (pid 7)")
        }
    }

    /// The journal the C plan writes is the one Swift reads at the next start (two ends of one
    /// format); written here to a directory of the test's own.
    @Test func theJournalTheCPlanWritesIsTheOneSwiftReads() throws {
        try RestorePlan.runNow()
        let scratch = try Scratch()
        defer { scratch.remove() }
        defer { try? RestorePlan.runNow() }
        let directory = scratch.directory + "/journal"
        #expect(somsim_restore_journal_to(directory) == SOMSIM_RESTORE_ADDED.rawValue)
        try RestorePlan.write(scratch.target, "x")
        try RestorePlan.mount(scratch.directory + "/not-a-mount")
        try RestorePlan.remove(scratch.directory + "/a", .file)
        try RestorePlan.remove(scratch.directory + "/b", .emptyDirectory)
        try RestorePlan.remove(scratch.directory + "/c", .directoryOfFiles)
        // A leader that starts after every process: the restore kills nothing of this group.
        try RestorePlan.group(leader: 4_000_000, start: .max)
        let journal = try RestorePlan.parse(try String(contentsOfFile: directory + "/restore-journal", encoding: .utf8))
        #expect(journal.owner == getpid())
        #expect(
            journal.steps == [
                .write(scratch.target, "x"), .mount(scratch.directory + "/not-a-mount"), .remove(scratch.directory + "/a", .file),
                .remove(scratch.directory + "/b", .emptyDirectory), .remove(scratch.directory + "/c", .directoryOfFiles),
                .group(4_000_000, .max),
            ])
        try RestorePlan.runNow()
        #expect(!FileManager.default.fileExists(atPath: directory + "/restore-journal"))
        #expect(scratch.contents(scratch.target) == "x")
    }

    /// An agent that ends says how, by the names of somsim_agent.h: this one cannot send its
    /// reply (the probe shut its receiving side) and exits SOMSIM_AGENT_EXIT_SEND_FAILED.
    @Test func anAgentThatCannotReplySaysSoByItsExitStatus() throws {
        defer { try? RestorePlan.runNow() }  // kills and reaps the agent
        let agent = try Agent.spawn(name: "a")
        #expect(shutdown(agent.socket, Int32(SHUT_RD)) == 0)
        var command = somsim_command()
        command.op = UInt32(SOMSIM_OP_NOOP.rawValue)
        let code = Int32(SOMSIM_AGENT_EXIT_SEND_FAILED.rawValue)
        #expect(throws: ProbeError.agent(process: "a", "died (its channel closed; exited with status \(code): \(Agent.exitMeaning(code)))")) {
            _ = try agent.call(&command)
        }
    }
}
#endif
