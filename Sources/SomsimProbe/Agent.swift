#if os(Linux)
import CSomsimAgent
import CSomsimProbeSupport
import Glibc
import SomsimModel
import SomsimWorkload

/// One workload process on the real kernel: a somsim-agent process and its channel.
final class Agent {
    let name: String
    let pid: pid_t
    private(set) var socket: Int32
    let pidfd: Int32
    /// VmPTE of the agent's own memory, before any workload call (bytes).
    let baselineTableBytes: UInt64

    var faults: UInt64 = 0
    var copies: UInt64 = 0
    var reuses: UInt64 = 0
    var alive = true
    var signals: [Signal] = []
    /// The workload's mappings as this process has them (a forked child inherits the table).
    var mappings: [String: RealMapping] = [:]

    /// Descriptors of the workload's files the process holds, by file ID (`mmap … file=` opens
    /// one, `close` closes it; a forked child inherits the table, as it inherits the descriptors).
    var files: [String: HeldFile] = [:]
    /// The allocator's objects as this process has them: the pointer the real call returned (0
    /// for NULL), by object name (a forked child inherits them).
    var objects: [String: UInt64] = [:]
    /// The program break the last allocator call left (the heap's start before any).
    var programBreak = WorkloadWindow.heapAddress
    /// The address ranges of the allocator's memory the model knew after the last allocator call
    /// (`Simulator.allocatorRanges`): what a call may write besides what it makes.
    var allocatorRanges: [Range<UInt64>] = []

    struct HeldFile {
        var fd: Int32
        /// The page size of the file (a hugetlbfs file's, or nil for tmpfs).
        var huge: HugePageSize?
    }

    struct RealMapping {
        var address: UInt64
        var lengthBytes: UInt64
        var options: MmapOptions
        var pageBytes: UInt64 { options.pageBytes }
    }

    /// Throws when the restore plan cannot track the agent (it is still killed at restore, as a
    /// member of its recorded process group).
    private init(name: String, pid: pid_t, socket: Int32, baselineTableBytes: UInt64) throws {
        self.name = name
        self.pid = pid
        self.socket = socket
        self.pidfd = somsim_pidfd_open(pid)
        self.baselineTableBytes = baselineTableBytes
        let tracked = somsim_restore_track_agent(pid, pidfd)
        if tracked != SOMSIM_RESTORE_ADDED.rawValue {
            if pidfd >= 0 { close(pidfd) }
            try RestorePlan.check(tracked, .agent, "the agent of process \(name) (pid \(pid))")
        }
    }

    /// Agents that are alive stay in the restore plan (killed and waited for there).
    deinit { if socket >= 0 { close(socket) } }

    /// VmPTE of a process, bytes.
    static func vmPTEBytes(_ pid: pid_t) throws -> UInt64 {
        guard let kB = try KernelFiles.keyValues("/proc/\(pid)/status")["VmPTE"] else {
            throw ProbeError.cannotRead("/proc/\(pid)/status VmPTE", SystemCallError(ENOENT))
        }
        return kB * 1024
    }

    /// Starts a fresh agent (`spawn`) in a new process group: this program again
    /// (`/proc/self/exe`, whatever its path), entered as the agent (CSomsimAgent), with every
    /// symbol bound at load time (`LD_BIND_NOW`), so no symbol is resolved inside a measured call.
    ///
    /// With `freshHeap`, the agent is the program somsim-agent beside this one (`heapAgentPath`):
    /// glibc's allocator untouched, the program break at `WorkloadWindow.heapAddress`, and no
    /// MALLOC_* or GLIBC_TUNABLES variable in its environment to change the allocator.
    static func spawn(name: String, freshHeap: Bool = false) throws -> Agent {
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw ProbeError.syscall("socketpair", SystemCallError(errno))
        }
        // Keep the child's end off descriptor 3 so dup2 onto 3 really clears close-on-exec.
        let childEnd = fcntl(pair[1], F_DUPFD_CLOEXEC, 10)
        close(pair[1])
        // Closed right after the spawn: an agent that dies before its hello then closes the
        // channel's last other end, and the wait for the hello ends (EOF) instead of hanging.
        var childEndOpen = true
        defer { if childEndOpen { close(childEnd) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childEnd, SOMSIM_AGENT_FD)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, s) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var pid: pid_t = 0
        let program = freshHeap ? try heapAgentPath() : "/proc/self/exe"
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(freshHeap ? somsim_agent_heap_argv0() : somsim_agent_argv0()), nil]
        var environment: [UnsafeMutablePointer<CChar>?] = [strdup("LD_BIND_NOW=1")]
        var e = environ
        while let entry = e.pointee {
            let dropped = strncmp(entry, "LD_BIND_NOW=", 12) == 0 || (freshHeap && (strncmp(entry, "MALLOC_", 7) == 0 || strncmp(entry, "GLIBC_TUNABLES=", 15) == 0))
            if !dropped { environment.append(strdup(entry)) }
            e += 1
        }
        environment.append(nil)
        defer { (argv + environment).forEach { free($0) } }
        let status = posix_spawn(&pid, program, &actions, &attributes, argv, environment)
        close(childEnd)
        childEndOpen = false
        guard status == 0 else {
            close(pair[0])
            throw ProbeError.syscall("posix_spawn of the agent (\(program))", SystemCallError(status))
        }
        do {
            try RestorePlan.group(leader: pid)
        } catch {
            _ = Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
            close(pair[0])
            throw error
        }
        let hello = try receive(socket: pair[0], process: name, pid: pid)
        guard hello.reply.status == SOMSIM_STATUS_HELLO.rawValue, hello.reply.pid == pid else {
            throw ProbeError.agent(process: name, "did not start (status \(hello.reply.status))")
        }
        return try Agent(name: name, pid: pid, socket: pair[0], baselineTableBytes: try vmPTEBytes(pid))
    }

    /// The program somsim-agent, beside this program (whatever its path): the agent of
    /// workloads that run the allocator. Throws, saying where it looked, when it is not there.
    static func heapAgentPath() throws -> String {
        guard let own = try? KernelFiles.readLink("/proc/self/exe") else {
            throw ProbeError.cannotRead("/proc/self/exe", SystemCallError(errno))
        }
        let directory = own.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let path = directory + "/somsim-agent"
        guard access(path, X_OK) == 0 else {
            throw ProbeError.workload(
                "workloads that run the allocator (malloc, calloc, realloc, free) are validated by the program somsim-agent, which must be beside \(own); it is not (\(path): \(SystemCallError(errno))). `swift build` builds both")
        }
        return path
    }

    struct Received {
        var reply: somsim_reply
        var fd: Int32
    }

    /// Receives one reply. When the channel has closed and the agent is our child (a spawned
    /// agent, not a forked one), the error says how it ended.
    private static func receive(socket: Int32, process: String, pid: pid_t? = nil) throws -> Received {
        var reply = somsim_reply()
        var fd: Int32 = -1
        let n = somsim_receive(socket, &reply, MemoryLayout<somsim_reply>.size, &fd)
        guard n == MemoryLayout<somsim_reply>.size else {
            if n == 0 {
                let ending = pid.flatMap { howItEnded($0) }.map { "; \($0)" } ?? ""
                throw ProbeError.agent(process: process, "died (its channel closed\(ending))")
            }
            throw ProbeError.agent(process: process, n < 0 ? "cannot receive a reply: \(SystemCallError(errno))" : "short reply (\(n) bytes)")
        }
        return Received(reply: reply, fd: fd)
    }

    /// How a child agent ended (it is not reaped), or nil when it is not our child or has not
    /// ended within a second of closing its channel.
    static func howItEnded(_ pid: pid_t) -> String? {
        let pidfd = somsim_pidfd_open(pid)
        if pidfd >= 0 {
            _ = somsim_pidfd_wait(pidfd, 1000)
            close(pidfd)
        }
        var code: Int32 = 0
        var signal: Int32 = 0
        guard somsim_exit_status(pid, &code, &signal) == 1 else { return nil }
        if code < 0 { return "killed by signal \(signal)" }
        return "exited with status \(code): \(exitMeaning(code))"
    }

    /// The meaning of an agent's exit status (somsim_agent_exit in somsim_agent.h).
    static func exitMeaning(_ code: Int32) -> String {
        switch code {
        case Int32(SOMSIM_AGENT_EXIT_OK.rawValue): return "its command channel closed or it was told to exit"
        case Int32(SOMSIM_AGENT_EXIT_SEND_FAILED.rawValue): return "it could not send a reply"
        case Int32(SOMSIM_AGENT_EXIT_RECEIVE_FAILED.rawValue): return "it could not receive a command"
        case Int32(SOMSIM_AGENT_EXIT_MAPS_UNREADABLE.rawValue): return "it could not read its /proc/self/maps whole to get ready"
        case Int32(SOMSIM_AGENT_EXIT_CHANNEL_FAILED.rawValue): return "a forked agent could not set up its channel"
        case Int32(SOMSIM_AGENT_EXIT_HEAP_SETUP_FAILED.rawValue):
            return "it could not set up a fresh heap: its allocator was used already, the program break could not be moved into the window (prctl PR_SET_MM_MAP), or mmap's placement could not be steered into it"
        default: return "not a status an agent exits with"
        }
    }

    /// Sends one command and returns the reply.
    func call(_ command: inout somsim_command) throws -> Received {
        guard somsim_send(socket, &command, MemoryLayout<somsim_command>.size, -1) == 0 else {
            throw ProbeError.agent(process: name, "cannot send a command: \(SystemCallError(errno))")
        }
        let received = try Self.receive(socket: socket, process: name, pid: pid)
        faults = received.reply.minor_faults
        return received
    }

    /// Makes the system call `system` with `arguments` (at most six) in the agent, measured like
    /// every command: how a statement's real call is made without a command of its own.
    func syscall(_ system: somsim_syscall, _ arguments: UInt64...) throws -> Received {
        precondition(arguments.count <= 6, "a system call takes at most six arguments")
        var command = somsim_command()
        command.op = UInt32(SOMSIM_OP_SYSCALL.rawValue)
        command.number = Int64(system.rawValue)
        withUnsafeMutableBytes(of: &command.args) { raw in
            for (i, argument) in arguments.enumerated() { raw.storeBytes(of: argument, toByteOffset: i * 8, as: UInt64.self) }
        }
        return try call(&command)
    }

    /// `fork`: the child agent, warm, with the parent's non-workload page-table baseline.
    func fork(child: String) throws -> Agent {
        var command = somsim_command()
        command.op = UInt32(SOMSIM_OP_FORK.rawValue)
        let r = try call(&command)
        guard r.reply.status == SOMSIM_STATUS_OK.rawValue, r.fd >= 0 else {
            throw ProbeError.agent(process: name, "fork failed: \(SystemCallError(r.reply.error))")
        }
        let hello = try Self.receive(socket: r.fd, process: child)
        guard hello.reply.status == SOMSIM_STATUS_HELLO.rawValue, hello.reply.pid == r.reply.pid else {
            throw ProbeError.agent(process: child, "did not start after fork")
        }
        let agent = try Agent(name: child, pid: r.reply.pid, socket: r.fd, baselineTableBytes: baselineTableBytes)
        agent.mappings = mappings
        agent.files = files
        agent.objects = objects
        agent.programBreak = programBreak
        agent.allocatorRanges = allocatorRanges
        return agent
    }

    /// `exit`: the agent exits; returns once the process is gone (its memory is freed).
    func exit() throws {
        var command = somsim_command()
        command.op = UInt32(SOMSIM_OP_EXIT.rawValue)
        _ = try call(&command)
        waitGone()
        alive = false
    }

    /// Waits until the process has exited and reaps it if it is our child (or an adopted orphan).
    func waitGone() {
        _ = somsim_pidfd_wait(pidfd, 10_000)
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
        somsim_restore_untrack_agent(pid)  // closes the pidfd
        close(socket)
        socket = -1
    }

    /// Sends SIGKILL (fault injection in tests; the restore plan kills every agent anyway).
    func kill() { _ = Glibc.kill(pid, SIGKILL) }
}

extension somsim_command {
    /// Sets `path`; throws when it does not fit the field.
    mutating func setPath(_ path: String) throws {
        try withUnsafeMutableBytes(of: &self.path) { buffer in
            let bytes = Array(path.utf8)
            guard bytes.count < buffer.count else { throw ProbeError.workload("the path \(path.prefix(60))… is longer than the agent's \(buffer.count - 1) bytes") }
            buffer.copyBytes(from: bytes + [0])
        }
    }

    /// Sets the touch segments (at most SOMSIM_MAX_SEGMENTS).
    mutating func setSegments(_ segments: [somsim_segment]) {
        segment_count = UInt32(segments.count)
        withUnsafeMutableBytes(of: &self.segments) { buffer in
            let typed = buffer.bindMemory(to: somsim_segment.self)
            for (i, s) in segments.enumerated() { typed[i] = s }
        }
    }
}
#endif
