#if os(Linux)
import CSomsimProbeSupport
import Glibc

/// The restore plan of a run and its journal (the plan itself lives in C, where a signal handler
/// can run it: `Sources/CSomsimProbeSupport`).
///
/// Before a run changes a setting, mounts, makes a directory or starts an agent, it adds the step
/// that undoes it to the plan, and the plan is written to the journal durably (a temporary file,
/// fsync, rename, fsync of the directory). The plan runs at the end of every run, on errors and
/// from SIGINT/SIGTERM/SIGHUP handlers, and deletes the journal once every step succeeded. After
/// SIGKILL or a power cut the journal is still there: the next start of `somsim validate` (or
/// `somsim validate --restore`) runs it (`recover`).
///
/// The journal lives in `/run/somsim`, a tmpfs: a reboot empties it, and a reboot also resets
/// every setting it restores (pools, HVO, THP, mounts, /dev/shm files) to what the system
/// configures at boot, which an older journal must not overwrite. See docs/validation.md.
public enum RestorePlan {
    /// The journal's directory; the hugetlbfs mount points a run makes live here too.
    public static let directory = "/run/somsim"
    /// The journal of the run in progress, or of one that did not finish.
    public static let journalPath = directory + "/restore-journal"

    /// What `recover` found and put back.
    public struct Recovery: Sendable, Equatable {
        /// The process that wrote the journal.
        public var owner: Int32
        /// One line per step, in the words of the journal (`write 0 to …`, `unmount …`).
        public var steps: [String]
    }

    /// Starts journaling: every step added from now on is in the journal before it is acted on.
    static func startJournal() throws {
        try check(somsim_restore_journal_to(directory), .journal, "the journal in \(directory)", path: directory)
    }

    /// Remembers to write `value` back to `path`.
    static func write(_ path: String, _ value: String) throws {
        try check(somsim_restore_add_write(path, value), .write, "the setting \(path) (to write back \(value))", path: path, value: value)
    }

    /// Remembers to unmount `directory`.
    static func mount(_ directory: String) throws {
        try check(somsim_restore_add_mount(directory), .mount, "the mount \(directory)", path: directory)
    }

    enum RemoveKind: Equatable {
        case file, emptyDirectory, directoryOfFiles

        /// The C plan's kind (somsim_remove_kind).
        var cKind: Int32 {
            switch self {
            case .file: return Int32(SOMSIM_REMOVE_FILE.rawValue)
            case .emptyDirectory: return Int32(SOMSIM_REMOVE_EMPTY_DIRECTORY.rawValue)
            case .directoryOfFiles: return Int32(SOMSIM_REMOVE_DIRECTORY_OF_FILES.rawValue)
            }
        }
    }

    /// Remembers to remove `path`.
    static func remove(_ path: String, _ kind: RemoveKind) throws {
        try check(somsim_restore_add_remove(path, kind.cKind), .remove, "the removal of \(path)", path: path)
    }

    /// Remembers the process group of a spawned agent (its agents are killed at restore).
    static func group(leader: pid_t) throws {
        try group(leader: leader, start: somsim_start_time(leader))
    }

    static func group(leader: pid_t, start: UInt64) throws {
        try check(somsim_restore_track_group(leader, start), .group, "the agents of process group \(leader)")
    }

    /// Remembers to remove the SysV segments agent `creator` makes from `since` (seconds since
    /// the epoch) on; added before its first shmget.
    static func shm(creator: pid_t, since: Int64) throws {
        try check(somsim_restore_add_shm(creator, since), .shm, "the SysV segments of agent \(creator)")
    }

    /// The kinds of step, each with its own limit in the C plan.
    enum StepKind {
        case journal, write, mount, remove, group, agent, shm

        /// What the plan holds at most of this kind, in words (the limit is C's).
        var capacity: String {
            switch self {
            case .journal: return "one journal"
            case .write: return "\(SOMSIM_RESTORE_MAX_STEPS) settings to write back"
            case .mount: return "\(SOMSIM_RESTORE_MAX_STEPS) mounts to unmount"
            case .remove: return "\(SOMSIM_RESTORE_MAX_STEPS) paths to remove"
            case .group: return "\(SOMSIM_RESTORE_MAX_GROUPS) agent process groups"
            case .agent: return "\(SOMSIM_RESTORE_MAX_AGENTS) live agents"
            case .shm: return "\(SOMSIM_RESTORE_MAX_STEPS) agents that made SysV segments"
            }
        }
    }

    /// Turns a refusal of the C plan (somsim_restore_result) into an error that names the step
    /// and the limit it hit. The plan and the journal are as they were: the caller must not
    /// make the change the step would undo.
    static func check(_ result: Int32, _ kind: StepKind, _ step: String, path: String? = nil, value: String? = nil) throws {
        let e = errno
        switch result {
        case SOMSIM_RESTORE_ADDED.rawValue:
            return
        case SOMSIM_RESTORE_FULL.rawValue:
            throw ProbeError.restorePlan("\(step): the restore plan is full, it holds at most \(kind.capacity)")
        case SOMSIM_RESTORE_PATH_TOO_LONG.rawValue:
            let bytes = path?.utf8.count ?? 0
            throw ProbeError.restorePlan(
                "\(step): the path is \(bytes) bytes, the restore plan holds paths of at most \(SOMSIM_RESTORE_PATH_BYTES - 1) bytes")
        case SOMSIM_RESTORE_VALUE_TOO_LONG.rawValue:
            let bytes = value?.utf8.count ?? 0
            throw ProbeError.restorePlan(
                "\(step): the value is \(bytes) bytes, the restore plan holds values of at most \(SOMSIM_RESTORE_VALUE_BYTES - 1) bytes")
        case SOMSIM_RESTORE_BAD_TEXT.rawValue:
            throw ProbeError.restorePlan("\(step): a tab or a newline in it would break the lines of the journal \(journalPath)")
        case SOMSIM_RESTORE_JOURNAL_FAILED.rawValue:
            throw ProbeError.restorePlan("\(step): the journal \(journalPath) cannot be written: \(SystemCallError(e))")
        default:
            throw ProbeError.restorePlan("\(step): the restore plan refused it (\(result), \(SystemCallError(e)))")
        }
    }

    /// Runs the plan now; throws when a step failed (the journal is then kept).
    static func runNow() throws {
        let failed = somsim_restore_now()
        if failed > 0 {
            throw ProbeError.restore("\(String(cString: somsim_restore_last_failure())) (\(failed) step(s) failed; the journal \(journalPath) is kept, run `somsim validate --restore` to retry)")
        }
    }

    /// Restores the machine from the journal of a run that did not finish: kills the agents it
    /// left, removes its files, mounts and directories, writes the settings back, and deletes the
    /// journal. Returns nil when there is no journal. The caller holds the validate lock, so no
    /// run that could still own the journal is alive.
    static func recover() throws -> Recovery? {
        let text: String
        do {
            text = try KernelFiles.read(journalPath)
        } catch ProbeError.cannotRead(_, let e) where e.rawValue == ENOENT {
            return nil
        }
        let journal = try parse(text)
        for step in journal.steps {
            switch step {
            case .write(let path, let value): try write(path, value)
            case .mount(let directory): try mount(directory)
            case .remove(let path, let kind): try remove(path, kind)
            case .group(let leader, let start): try group(leader: leader, start: start)
            case .shm(let creator, let since): try shm(creator: creator, since: since)
            }
        }
        // The plan is whole: from here on the journal is this process's (the same steps).
        try startJournal()
        try runNow()
        return Recovery(owner: journal.owner, steps: journal.steps.map(\.description))
    }

    /// One step of the journal.
    enum Step: Equatable, CustomStringConvertible {
        case write(String, String)
        case mount(String)
        case remove(String, RemoveKind)
        case group(pid_t, UInt64)
        case shm(pid_t, Int64)

        var description: String {
            switch self {
            case .write(let path, let value): return "write \(value) to \(path)"
            case .mount(let directory): return "unmount \(directory)"
            case .remove(let path, .file): return "remove \(path)"
            case .remove(let path, .emptyDirectory): return "remove the directory \(path)"
            case .remove(let path, .directoryOfFiles): return "remove \(path) and its files"
            case .group(let leader, _): return "kill the agents of process group \(leader)"
            case .shm(let creator, _): return "remove the SysV segments of agent \(creator)"
            }
        }
    }

    struct Journal: Equatable {
        var owner: Int32
        var steps: [Step]
    }

    /// Reads the journal text (the format is in somsim_probe_support.h).
    static func parse(_ text: String) throws -> Journal {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        guard lines.first == "somsim-restore-journal 1" else {
            throw ProbeError.restore("\(journalPath) is not a restore journal this somsim can read (first line \(String(lines.first?.prefix(40) ?? "")))")
        }
        var journal = Journal(owner: 0, steps: [])
        for (index, line) in lines.enumerated().dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            func damaged() -> ProbeError { .restore("\(journalPath) line \(index + 1) is damaged: \(line.prefix(80))") }
            switch (f.first ?? "", f.count) {
            case ("owner", 3):
                guard let pid = Int32(f[1]) else { throw damaged() }
                journal.owner = pid
            case ("write", 3): journal.steps.append(.write(f[1], f[2]))
            case ("mount", 2): journal.steps.append(.mount(f[1]))
            case ("remove", 2): journal.steps.append(.remove(f[1], .file))
            case ("remove-dir", 2): journal.steps.append(.remove(f[1], .emptyDirectory))
            case ("remove-tree", 2): journal.steps.append(.remove(f[1], .directoryOfFiles))
            case ("shm", 3):
                guard let pid = Int32(f[1]), pid > 0, let since = Int64(f[2]) else { throw damaged() }
                journal.steps.append(.shm(pid, since))
            case ("group", 3):
                guard let pid = Int32(f[1]), pid > 0, let start = UInt64(f[2]) else { throw damaged() }
                journal.steps.append(.group(pid, start))
            default:
                throw damaged()
            }
        }
        return journal
    }
}
#endif
