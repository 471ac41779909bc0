#if os(Linux)
import CSomsimProbeSupport
import Glibc
import SomsimModel
import SomsimValidation
import SomsimWorkload

/// How a real run is carried out.
public struct ProbeOptions: Sendable {
    /// Called before each statement with (statements done, statements in all).
    public var progress: (@Sendable (Int, Int) -> Void)?
    /// Fault injection for tests: SIGKILL the agent a statement acts on (0-based index into the
    /// expanded statements) before it runs, so the run fails there.
    public var killAgentBeforeStatement: Int?

    public init(progress: (@Sendable (Int, Int) -> Void)? = nil, killAgentBeforeStatement: Int? = nil) {
        self.progress = progress
        self.killAgentBeforeStatement = killAgentBeforeStatement
    }
}

/// Runs a workload on the real kernel next to the simulator and compares them (`somsim validate`).
///
/// Each process is a somsim-agent process: `spawn` starts one (this program again, entered as the
/// agent, see CSomsimAgent), `fork` is fork() inside the agent, each mapping is made at the
/// address the model chose with MAP_FIXED_NOREPLACE inside `WorkloadWindow`, touches are one-byte
/// reads and writes. The machine's HugeTLB pools, HVO knob, THP mode and hugetlbfs mounts are set
/// from the `machine` line and restored afterwards: on success, on error, from SIGINT/SIGTERM/
/// SIGHUP handlers, and after SIGKILL or a power cut from the journal at the next start
/// (`RestorePlan`). See docs/validation.md.
public enum Probe {
    /// True when this machine can run validations: root and hugetlbfs.
    public static var canRun: Bool {
        guard let facts = try? MachineSettings.Facts.read() else { return false }
        return facts.root && facts.hugetlbfs
    }

    /// A workload as it will run here, or why it cannot.
    public struct Plan: Sendable {
        /// The workload with what validate decides for it (the host's `pti` when not given).
        public var workload: Workload
        /// What the report says about those decisions.
        public var notes: [String]
    }

    /// Checks, without changing anything, that this machine can run `workload` as asked; throws
    /// `ProbeError.cannotMeet` with every reason when it cannot.
    public static func plan(_ workload: Workload) throws -> Plan {
        try plan(workload, facts: try MachineSettings.Facts.read())
    }

    /// `plan` with facts already read (the fuzz campaign plans millions of workloads).
    public static func plan(_ workload: Workload, facts: MachineSettings.Facts) throws -> Plan {
        var workload = workload
        var notes: [String] = []
        let usage = WorkloadUsage(workload)
        var problems = MachineSettings.problems(
            for: workload.machine, usesHugeTLB: !usage.hugePageSizes.isEmpty, usesSingleOwner: usage.singleOwner, usesSysVShm: usage.sysVShm,
            sysctlPoolPages: usage.sysctlPoolPages, facts: facts)
        if let longFileID = usage.fileIDs.first(where: { $0.utf8.count > maxFileIDBytes }) {
            problems.append("file=\(longFileID.prefix(40))…: file IDs of more than \(maxFileIDBytes) bytes do not fit the agent's path field")
        }
        if usage.spawns > maxSpawns { problems.append("\(usage.spawns) spawn statements: validate runs at most \(maxSpawns)") }
        if !workload.machine.ptiGiven, let pti = facts.pti {
            workload.machine.pti = pti
            notes.append(
                "pti: the workload does not set it, so it is validated with this machine's page-table isolation, pti=\(pti ? "on" : "off") (\(MachineSettings.ptiPath): \(facts.ptiText)); simulate and compare assume pti=on")
        }
        if usage.allocator {
            // The real allocator must be the one the model follows.
            let version = String(cString: somsim_libc_version())
            if version != "2.36" {
                problems.append(
                    "the workload runs the allocator (malloc=\(workload.machine.malloc.rawValue)), and this machine's glibc is \(version): validate compares the model with the allocator it models, so it runs these workloads only where glibc is 2.36 (Debian 12); simulate and compare work anywhere")
            }
            do { _ = try Agent.heapAgentPath() } catch { problems.append("\(error)") }
        }
        problems += capacityProblems(workload, facts: facts)
        if !problems.isEmpty { throw ProbeError.cannotMeet(problems) }
        return Plan(workload: workload, notes: notes)
    }

    /// What keeps the workload's memory from being run here, by the model: validate runs only
    /// workloads that fit. An OOM kill or a trimmed pool in the model cannot be reproduced (this
    /// machine's RAM is not the workload's `ram=`), and a workload larger than this machine's free
    /// memory would make its kernel's OOM killer pick other programs.
    static func capacityProblems(_ workload: Workload, facts: MachineSettings.Facts) -> [String] {
        var simulator = Simulator(machine: workload.machine, machineLine: workload.machineLine ?? 0)
        for statement in workload.statements { simulator.apply(statement) }
        var problems: [String] = []
        func product(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let (value, overflow) = a.multipliedReportingOverflow(by: b)
            return overflow ? .max : value
        }
        func sum(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let (value, overflow) = a.addingReportingOverflow(b)
            return overflow ? .max : value
        }
        let poolBytes = sum(product(workload.machine.hugetlb2MPages, PageGeometry.pmdBytes), product(workload.machine.hugetlb1GPages, PageGeometry.pudBytes))
        // Pools too large for this machine are refused already (MachineSettings.problems).
        let poolsFitHere = sum(poolBytes, MachineSettings.headroomBytes) <= facts.memAvailableBytes
        if let event = simulator.errors.first(where: { $0.outcome == .oomKill || ($0.outcome == .poolTrimmed && poolsFitHere) }) {
            problems.append(
                "line \(event.line): in the model, \(event.detail ?? event.errno.rawValue); validate runs workloads that fit in the workload's RAM (lower the sizes, or raise ram=)")
        }
        let needed = sum(sum(simulator.peakWorkloadBytes, poolBytes), MachineSettings.headroomBytes)
        if poolsFitHere, needed > facts.memAvailableBytes {
            problems.append(
                "not enough free memory: at its peak the workload holds \(simulator.peakWorkloadBytes >> 20) MiB of its own memory (anonymous, page cache, page tables) besides the pools, and needs \(MachineSettings.headroomBytes >> 20) MiB headroom; MemAvailable is \(facts.memAvailableBytes >> 20) MiB")
        }
        return problems
    }

    /// File IDs longer than this would not fit `somsim_command.path` with the run's directory.
    static let maxFileIDBytes = 128
    /// The restore plan records one process group per spawn (somsim_probe_support.c MAX_GROUPS).
    static let maxSpawns = 4096

    /// Runs `workload` for real and returns predicted and measured values with their checks.
    /// First restores the machine from the journal of a run that did not finish, if there is one;
    /// refuses before changing anything when the machine cannot meet the `machine` line.
    public static func validate(_ workload: Workload, options: ProbeOptions = ProbeOptions()) throws -> ValidationReport {
        try withValidateLock {
            var notes: [String] = []
            if let recovery = try RestorePlan.recover() {
                let what = "restored the machine from \(RestorePlan.journalPath), left by somsim process \(recovery.owner)"
                _ = "somsim validate: \(what)\n".withCString { write(2, $0, strlen($0)) }
                notes.append("\(what), before this run: " + recovery.steps.joined(separator: "; "))
            }
            let facts = try MachineSettings.Facts.read()
            let plan = try plan(workload, facts: facts)
            notes += plan.notes

            let before = try MachineSettings.snapshot()
            let wasSubreaper = somsim_set_subreaper(1)
            somsim_restore_install_signal_handlers()
            let result: Result<ValidationReport, Error>
            do {
                try RestorePlan.startJournal()
                try before.registerRestore()
                var run = try Run(workload: plan.workload, facts: facts, before: before, options: options, notes: notes)
                result = .success(try run.execute())
            } catch {
                result = .failure(error)
            }
            let restored = Result { try RestorePlan.runNow() }
            somsim_restore_remove_signal_handlers()
            if wasSubreaper == 0 { _ = somsim_set_subreaper(0) }
            try restored.get()
            return try result.get()
        }
    }

    /// `somsim validate --restore`: restores the machine from the journal of a run that did not
    /// finish (SIGKILL, power cut) and kills the agents it left. Returns nil when there was none.
    public static func restore() throws -> RestorePlan.Recovery? {
        try withValidateLock { try RestorePlan.recover() }
    }

    /// One validation at a time on a machine: pools and knobs are machine-wide, and a journal
    /// may be restored only while no run that could own it is alive. The lock
    /// (`/run/somsim/validate.lock`) is released when the process ends, however it ends.
    private static func withValidateLock<T>(_ body: () throws -> T) throws -> T {
        guard mkdir(RestorePlan.directory, 0o700) == 0 || errno == EEXIST else {
            throw ProbeError.syscall("mkdir \(RestorePlan.directory)", SystemCallError(errno))
        }
        let path = RestorePlan.directory + "/validate.lock"
        let lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard lock >= 0 else { throw ProbeError.syscall("open \(path)", SystemCallError(errno)) }
        defer { close(lock) }
        if flock(lock, LOCK_EX | LOCK_NB) != 0 {
            _ = "somsim validate: waiting for another somsim validate to finish\n".withCString { write(2, $0, strlen($0)) }
            while flock(lock, LOCK_EX) != 0 {
                guard errno == EINTR else { throw ProbeError.syscall("flock \(path)", SystemCallError(errno)) }
            }
        }
        return try body()
    }
}

/// One real run, statement by statement, in lockstep with the simulator.
struct Run {
    let workload: Workload
    let facts: MachineSettings.Facts
    let before: MachineSettings
    let options: ProbeOptions
    let window = WorkloadWindow.lowAddress..<WorkloadWindow.highAddress
    let frames: PageFrames
    /// Whether the workload runs the allocator: then every process is an agent with a fresh heap.
    let usesAllocator: Bool

    var simulator: Simulator
    var agents: [Agent] = []
    var byName: [String: Agent] = [:]
    var measured: [MeasuredMeasure] = []
    var runChecks: [Check] = []
    var notes: [String]
    var memmapStart: UInt64 = 0
    var vmstatStart: [String: UInt64] = [:]
    /// The model's memmap for the workload's RAM with empty pools.
    let memmapModelBase: UInt64
    /// Where `file=` mappings of each HugeTLB page size live (a directory of this run on a
    /// hugetlbfs mount), and those of 4 KiB pages (on /dev/shm).
    var hugetlbfsFilesDirectory: [UInt64: String] = [:]
    var filesDirectory: String?
    /// The id of each live SysV segment by KEY (made with IPC_PRIVATE), and the agents whose
    /// segments are in the restore plan.
    var shmIDs: [String: Int64] = [:]
    var shmCreators: Set<pid_t> = []
    /// Every 4 KiB-page (shmem) segment this run made, removed or not: their pages count in
    /// `shmem_bytes` until the kernel destroys them, attached or not.
    var shmemSegmentIDs: Set<Int64> = []

    init(workload: Workload, facts: MachineSettings.Facts, before: MachineSettings, options: ProbeOptions, notes: [String]) throws {
        self.workload = workload
        self.facts = facts
        self.before = before
        self.options = options
        self.notes = notes
        self.frames = try PageFrames()
        self.usesAllocator = WorkloadUsage(workload).allocator
        self.simulator = Simulator(machine: workload.machine)
        var empty = workload.machine
        empty.hugetlb2MPages = 0
        empty.hugetlb1GPages = 0
        memmapModelBase = Simulator.run(Workload(machine: empty)).measures.last!.system.memmapPages
    }

    mutating func execute() throws -> ValidationReport {
        try setUpMachine()
        let statements = workload.statements
        for (index, located) in statements.enumerated() {
            options.progress?(index, statements.count)
            if index == options.killAgentBeforeStatement, let name = located.value.process, let agent = byName[name] {
                agent.kill()
            }
            try step(located)
        }
        options.progress?(statements.count, statements.count)
        simulator.measure(label: "end")
        measured.append(try measure(label: "end"))
        let moved = ["vmstat_pgmigrate_success_delta", "vmstat_thp_collapse_alloc_delta"].compactMap { name in
            measured.last?.counters.first { $0.name == name && $0.value > 0 }
        }
        if !moved.isEmpty {
            notes.append(
                "the kernel moved pages on its own during the run (\(moved.map { "\($0.name) \($0.value)" }.joined(separator: ", ")), machine-wide): a moved workload page changes its frame as a copy does, so cow_copies and cow_reuses can be off by that many; rerun on a quieter machine")
        }
        return ValidationReport(predicted: simulator.report, measured: measured, runChecks: runChecks, notes: notes)
    }

    // MARK: - Machine

    private mutating func setUpMachine() throws {
        let machine = workload.machine
        // The memmap is compared as its change from a machine with empty pools.
        try MachineSettings.emptyPools()
        memmapStart = try KernelFiles.memmapPages()
        vmstatStart = try KernelFiles.vmstat()
        var real = machine
        real.ramBytes = facts.presentBytes
        real.hugetlb2MPages = 0
        real.hugetlb1GPages = 0
        let atMachineRAM = Simulator.run(Workload(machine: real)).measures.last!.system.memmapPages
        runChecks.append(Check(process: nil, metric: "memmap_pages_at_machine_ram", predicted: .count(atMachineRAM), measured: .count(memmapStart), tolerance: 0))
        if machine.ramBytes != facts.presentBytes {
            notes.append(
                "RAM cannot be set: the workload says \(machine.ramBytes >> 20) MiB, this machine has \(facts.presentBytes >> 20) MiB present (MemTotal \(facts.memTotalBytes >> 10) kB). memmap_pages is measured as the model's value for \(machine.ramBytes >> 20) MiB plus the kernel's change since the pools were emptied; memmap_pages_at_machine_ram checks the model at the real size."
            )
        }
        try MachineSettings.apply(machine, before: before)
        let kdamonds = before.runningKdamonds.map { "kdamond \($0.split(separator: "/").dropLast().last ?? "")" }
        if !kdamonds.isEmpty {
            notes.append(
                "DAMON: \(kdamonds.joined(separator: ", ")) turned off for the run and started again after it (a DAMON scheme acts on pages by physical address, whoever maps them: its pageout splits THPs it cannot swap out)")
        }
        if machine.hugetlb1GOvercommit > 0 && KernelFiles.exists(MachineSettings.overcommit1GPath) {
            // The model refuses surplus 1 GiB pages as this kernel does (EINVAL): the write tells
            // whether it still does. This kernel refuses every write to the file, even of the
            // value it holds, so the old value goes into the restore plan only once a write was
            // taken (a restore step that always fails would keep the journal forever).
            let real = KernelFiles.writeReportingError(MachineSettings.overcommit1GPath, String(machine.hugetlb1GOvercommit))
            if real == nil { try RestorePlan.write(MachineSettings.overcommit1GPath, String(before.overcommit1GPages)) }
            compareErrno(process: "machine", line: workload.machineLine ?? 0, model: .EINVAL, real: real)
        }

        // hugetlbfs mounts for the page sizes shared or file HugeTLB mappings use, where none
        // exists, and directories for this run's files. Each is in the restore plan (and its
        // journal) before it is made.
        let usage = WorkloadUsage(workload)
        for huge in usage.hugetlbfsPageSizes.sorted(by: { $0.bytes < $1.bytes }) {
            let size = huge.bytes
            let mountPoint: String
            if let existing = before.hugetlbfsMounts.first(where: { $0.pageBytes == size }) {
                mountPoint = existing.directory
            } else {
                let option = "pagesize=\(huge.token)"
                mountPoint = "\(RestorePlan.directory)/hugetlbfs-\(huge.token)"
                try RestorePlan.remove(mountPoint, .emptyDirectory)
                try RestorePlan.mount(mountPoint)
                guard mkdir(mountPoint, 0o700) == 0 else { throw ProbeError.syscall("mkdir \(mountPoint)", SystemCallError(errno)) }
                guard mount("none", mountPoint, "hugetlbfs", 0, option) == 0 else {
                    throw ProbeError.setting(mountPoint, "hugetlbfs \(option)", "mount failed: \(SystemCallError(errno))")
                }
            }
            if usage.hugeFilePageSizes.contains(huge) {
                hugetlbfsFilesDirectory[size] = try makeFilesDirectory("\(mountPoint)/somsim-validate-\(getpid())")
            }
        }
        if usage.smallFiles {
            filesDirectory = try makeFilesDirectory("/dev/shm/somsim-validate-\(getpid())")
        }
    }

    /// A directory for this run's `file=` files, removed with them at restore.
    private func makeFilesDirectory(_ directory: String) throws -> String {
        try RestorePlan.remove(directory, .directoryOfFiles)
        guard mkdir(directory, 0o700) == 0 else { throw ProbeError.syscall("mkdir \(directory)", SystemCallError(errno)) }
        return directory
    }

    // MARK: - Statements

    private mutating func step(_ located: Located<Statement>) throws {
        let outcome = simulator.apply(located)
        let modelErrno = outcome.errno
        let placement = outcome.placement
        let line = located.location.line

        switch located.value {
        case .measure(let label):
            measured.append(try measure(label: label))
            return
        case .spawn(let name):
            let agent = try Agent.spawn(name: name, freshHeap: usesAllocator)
            add(agent)
            if usesAllocator { try setAllocatorOptions(agent, line: line) }
            return
        case .sysctl(let huge, let pages):
            // Pool sizes are in the restore plan from the start (MachineSettings.registerRestore).
            let path = huge == .size2M ? MachineSettings.pool2MPath : MachineSettings.pool1GPath
            let real = KernelFiles.writeReportingError(path, String(pages))
            compareErrno(process: "sysctl", line: line, model: modelErrno, real: real)
            return
        default:
            break
        }
        let process = located.value.process!
        guard let agent = byName[process], agent.alive else {
            compareErrno(process: process, line: line, model: modelErrno, real: SystemCallError(ESRCH))
            return
        }
        switch located.value {
        case .fork(_, let child):
            add(try agent.fork(child: child))
            compareErrno(process: process, line: line, model: modelErrno, real: nil)
        case .exit:
            try agent.exit()
            compareErrno(process: process, line: line, model: modelErrno, real: nil)
        case .mmap(_, let name, let length, let options):
            let address = placement?.address ?? WorkloadWindow.lowAddress
            var command = somsim_command()
            command.op = UInt32(SOMSIM_OP_MMAP.rawValue)
            command.address = address
            command.length = length
            command.huge_bytes = options.huge?.bytes ?? 0
            command.flags = (options.shared ? UInt32(SOMSIM_FLAG_SHARED.rawValue) : 0) | (options.populate ? UInt32(SOMSIM_FLAG_POPULATE.rawValue) : 0)
                | (options.noreserve ? UInt32(SOMSIM_FLAG_NORESERVE.rawValue) : 0)
            var keeps = false
            if let file = options.file {
                // The descriptor the process holds for the file, else the file opened by name and
                // kept open (Files.swift: openForMmap).
                command.args.0 = options.fileOffsetBytes
                if let held = agent.files[file], held.huge == options.huge {
                    command.flags |= UInt32(SOMSIM_FLAG_USE_FD.rawValue)
                    command.args.1 = UInt64(bitPattern: Int64(held.fd))
                } else {
                    let directory = options.huge.map { hugetlbfsFilesDirectory[$0.bytes] } ?? filesDirectory
                    guard let directory else { throw ProbeError.workload("no directory for file=\(file)") }
                    try command.setPath("\(directory)/\(file)")
                    keeps = agent.files[file] == nil
                    if keeps { command.flags |= UInt32(SOMSIM_FLAG_KEEP_FD.rawValue) }
                }
            }
            let reply = try agent.call(&command).reply
            if keeps, let file = options.file, reply.result >= 0 {
                agent.files[file] = Agent.HeldFile(fd: Int32(reply.result), huge: options.huge)
            }
            if reply.status == SOMSIM_STATUS_OK.rawValue {
                if placement == nil {
                    // The kernel took a mapping the model refused: undo it, and the check fails.
                    _ = try agent.syscall(SOMSIM_SYS_MUNMAP, address, length)
                } else {
                    agent.mappings[name] = Agent.RealMapping(address: address, lengthBytes: length, options: options)
                }
                compareErrno(process: process, line: line, model: modelErrno, real: nil)
            } else {
                compareErrno(process: process, line: line, model: modelErrno, real: SystemCallError(reply.error))
            }
        case .munmap(_, let name, let range):
            guard let mapping = agent.mappings[name] else { return }
            if range == .whole { agent.mappings[name] = nil }
            // The same bytes as the model's call (Simulator.munmap in Remap.swift); one past the
            // mapping's end would unmap what lies there, and is not made.
            let offset = range.offsetBytes
            guard offset <= mapping.lengthBytes, let length = range.lengthBytes ?? Optional(mapping.lengthBytes - offset), length <= mapping.lengthBytes - offset else {
                notes.append("line \(line): a munmap past the mapping's end was not run (the model says \(modelErrno?.rawValue ?? "it succeeds"))")
                return
            }
            let reply = try agent.syscall(SOMSIM_SYS_MUNMAP, mapping.address + offset, length).reply
            compareErrno(process: process, line: line, model: modelErrno, real: reply.status == 0 ? nil : SystemCallError(reply.error))
        case .mremap(_, let name, let length, let mayMove):
            guard let mapping = agent.mappings[name] else {
                notes.append("line \(line): mremap of a mapping the process does not have was not run (the model says \(modelErrno?.rawValue ?? "it succeeds"))")
                return
            }
            // Where the model finds no room above the mapping but the kernel has it — past the
            // window's top (the agent's addresses, not measured), or addresses a held mapping
            // name keeps (docs/workload-format.md, munmap) — the kernel would grow in place: the
            // call is not made, so both keep the mapping as it is.
            if modelErrno == .ENOMEM, !mayMove, placement == nil {
                let above = (mapping.address + mapping.lengthBytes)..<(mapping.address + max(length, mapping.lengthBytes))
                var taken = false
                for entry in try KernelFiles.read("/proc/\(agent.pid)/maps").split(separator: "\n") {
                    let bounds = entry.prefix { $0 != " " }.split(separator: "-")
                    guard bounds.count == 2, let low = UInt64(bounds[0], radix: 16), let high = UInt64(bounds[1], radix: 16) else { continue }
                    if low < above.upperBound && high > above.lowerBound { taken = true }
                }
                if !taken && !above.isEmpty {
                    notes.append(
                        "line \(line): mremap was not run: the kernel has room above the mapping and would grow it in place, the model keeps \(above.upperBound > window.upperBound ? "the window's top" : "addresses a held mapping name reserves") (it says ENOMEM)")
                    return
                }
            }
            // Where the model moves the mapping, the kernel is told the address
            // (MREMAP_MAYMOVE | MREMAP_FIXED); where the model resizes in place, the call may not
            // move (flags 0); where the model refuses, the statement's own call is made.
            let flags: UInt64
            var target: UInt64 = 0
            if let placement, placement.address != mapping.address {
                flags = Self.mremapMayMove | Self.mremapFixed
                target = placement.address
            } else if placement != nil {
                flags = 0
            } else {
                flags = mayMove ? Self.mremapMayMove : 0
            }
            let reply = try agent.syscall(SOMSIM_SYS_MREMAP, mapping.address, mapping.lengthBytes, length, flags, target).reply
            if reply.status == 0 {
                let address = UInt64(bitPattern: reply.result)
                agent.mappings[name] = Agent.RealMapping(address: address, lengthBytes: length, options: mapping.options)
                func hex(_ a: UInt64?) -> String { a.map { "0x" + String($0, radix: 16) } ?? "none" }
                runChecks.append(Check(process: process, metric: "address(line \(line))", predicted: .text(hex(placement?.address)), measured: .text(hex(address)), tolerance: 0))
            }
            compareErrno(process: process, line: line, model: modelErrno, real: reply.status == 0 ? nil : SystemCallError(reply.error))
        case .madvise(_, let name, let advice, let range):
            // The same bytes as the model's call: from the offset, for `length=` or to the
            // mapping's end, even past it (Simulator.madvise in VMAOperations.swift). Inside the
            // window only workload mappings exist; the call is made only when every address of
            // it outside the window is unmapped in the agent too (then both see a gap there), or
            // when its end wraps (the kernel refuses it with EINVAL before looking at any VMA).
            guard let (address, length, endWraps) = try callRange(agent, name, range, verb: "madvise", line: line, model: modelErrno, makesWrappingEnd: true) else { return }
            let end = address &+ length
            // MADV_POPULATE_WRITE takes write faults as a touch does: the frames of the pages it
            // reaches, in this mapping and in any the range runs on into, before and after, tell
            // its COW copies from its reuses.
            let populated = advice == .populateWrite && !endWraps ? Self.pagesReached(address..<end, in: agent.mappings.values) : []
            let reply = try classifying(agent, populated) { try agent.syscall(SOMSIM_SYS_MADVISE, address, length, UInt64(Self.adviceValue(advice))) }.reply
            compareErrno(process: process, line: line, model: modelErrno, real: reply.status == 0 ? nil : SystemCallError(reply.error))
        case .touch(_, let name, let access, let range, let pattern):
            guard let mapping = agent.mappings[name], let pages = range.pages(inMappingOf: mapping.lengthBytes / mapping.pageBytes, pageBytes: mapping.pageBytes), modelErrno == nil else {
                notes.append("line \(line): a touch outside the mapping was not run (the model says \(modelErrno?.rawValue ?? "it succeeds"))")
                return
            }
            try touch(agent, mapping, access, pages, pattern)
        case .shmget(_, let key, let length, let huge):
            if shmCreators.insert(agent.pid).inserted {
                try RestorePlan.shm(creator: agent.pid, since: Int64(time(nil)))
            }
            // IPC_CREAT | 0600, and SHM_HUGETLB with the page size's log2 (SHM_HUGE_SHIFT 26).
            var flags: UInt64 = 0o1000 | 0o600
            if let huge { flags |= 0o4000 | (UInt64(huge.bytes.trailingZeroBitCount) << 26) }
            let reply = try agent.syscall(SOMSIM_SYS_SHMGET, 0, length, flags).reply
            if reply.status == 0 {
                shmIDs[key] = reply.result
                if huge == nil { shmemSegmentIDs.insert(reply.result) }
            }
            compareErrno(process: process, line: line, model: modelErrno, real: reply.status == 0 ? nil : SystemCallError(reply.error))
        case .shmat(_, let key, let name):
            // At the model's address, as mmap is; an id of -1 (no segment) is EINVAL.
            let id = shmIDs[key] ?? -1
            let address = placement?.address ?? WorkloadWindow.lowAddress
            let reply = try agent.syscall(SOMSIM_SYS_SHMAT, UInt64(bitPattern: id), address, 0).reply
            if reply.status == 0 {
                if placement == nil {
                    _ = try agent.syscall(SOMSIM_SYS_SHMDT, address)
                } else if let segment = simulatorSegment(key) {
                    let bytes = segment.pageBytes * segment.pages
                    agent.mappings[name] = Agent.RealMapping(address: address, lengthBytes: bytes, options: MmapOptions(shared: true, huge: segment.huge))
                }
            }
            compareErrno(process: process, line: line, model: modelErrno, real: reply.status == 0 ? nil : SystemCallError(reply.error))
        case .shmdt(_, let name):
            guard let mapping = agent.mappings[name] else { return }
            let reply = try agent.syscall(SOMSIM_SYS_SHMDT, mapping.address).reply
            if reply.status == 0 { agent.mappings[name] = nil }
            compareErrno(process: process, line: line, model: modelErrno, real: reply.status == 0 ? nil : SystemCallError(reply.error))
        case .shmrm(_, let key):
            let id = shmIDs.removeValue(forKey: key) ?? -1
            let reply = try agent.syscall(SOMSIM_SYS_SHMCTL, UInt64(bitPattern: id), 0, 0).reply
            compareErrno(process: process, line: line, model: modelErrno, real: reply.status == 0 ? nil : SystemCallError(reply.error))
        case .spawn, .measure, .sysctl:
            break
        case .mprotect(_, let name, let protection, let range):
            // mprotect(PROT_READ|PROT_WRITE) populates a locked private VMA (mprotect_fixup).
            try rangeCall(agent, process: process, line: line, verb: "mprotect", name: name, range: range, model: modelErrno, classifies: protection == .write) {
                try agent.syscall(SOMSIM_SYS_MPROTECT, $0, $1, UInt64(protection.bits))
            }
        case .mlock(_, let name, let range):
            try rangeCall(agent, process: process, line: line, verb: "mlock", name: name, range: range, model: modelErrno, classifies: true) {
                try agent.syscall(SOMSIM_SYS_MLOCK, $0, $1)
            }
        case .munlock(_, let name, let range):
            try rangeCall(agent, process: process, line: line, verb: "munlock", name: name, range: range, model: modelErrno, classifies: false) {
                try agent.syscall(SOMSIM_SYS_MUNLOCK, $0, $1)
            }
        case .ftruncate(_, let file, let size):
            try fileCall(agent, process: process, line: line, file: file, model: modelErrno) { fd in
                try agent.syscall(SOMSIM_SYS_FTRUNCATE, fd, size)
            }
        case .fallocate(_, let file, let offset, let length, let punch):
            // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE (include/uapi/linux/falloc.h).
            let mode: UInt64 = punch ? 0x02 | 0x01 : 0
            try fileCall(agent, process: process, line: line, file: file, model: modelErrno) { fd in
                try agent.syscall(SOMSIM_SYS_FALLOCATE, fd, mode, offset, length)
            }
        case .close(_, let file):
            try fileCall(agent, process: process, line: line, file: file, model: modelErrno) { fd in
                try agent.syscall(SOMSIM_SYS_CLOSE, fd)
            }
            agent.files[file] = nil
        case .malloc(_, let object, let bytes, let zeroed):
            let real = try allocatorCall(agent, process: process, line: line, outcome: outcome, call: zeroed ? SOMSIM_MALLOC_CALLOC : SOMSIM_MALLOC_MALLOC, pointer: 0, size: bytes)
            if let real { agent.objects[object] = real }
        case .realloc(_, let object, let bytes):
            let old = agent.objects[object] ?? 0
            let real = try allocatorCall(agent, process: process, line: line, outcome: outcome, call: SOMSIM_MALLOC_REALLOC, pointer: old, size: bytes)
            // NULL leaves the object as it was, except realloc(p, 0), which freed it.
            if let real, real != 0 || (bytes == 0 && old != 0) { agent.objects[object] = real }
        case .free(_, let object):
            let old = agent.objects.removeValue(forKey: object) ?? 0
            _ = try allocatorCall(agent, process: process, line: line, outcome: outcome, call: SOMSIM_MALLOC_FREE, pointer: old, size: 0)
        case .objectAccess(_, let object, let access, let range):
            let pointer = agent.objects[object] ?? 0
            let offset = range.offsetBytes
            try objectAccess(agent, process: process, pointer: pointer &+ offset, length: range.lengthBytes ?? objectBytes(process, object, after: offset), access: access)
        case .unlink(_, let file):
            // The name in each directory of this run's files (tmpfs and each hugetlbfs size);
            // the probe removes it itself: a name is the machine's, not the process's.
            var found = false
            var failure: SystemCallError?
            for directory in [filesDirectory] + hugetlbfsFilesDirectory.keys.sorted().map({ hugetlbfsFilesDirectory[$0] }) {
                guard let directory else { continue }
                if Glibc.unlink("\(directory)/\(file)") == 0 {
                    found = true
                } else if errno != ENOENT {
                    failure = SystemCallError(errno)
                }
            }
            compareErrno(process: process, line: line, model: modelErrno, real: found ? nil : failure ?? SystemCallError(ENOENT))
        }
    }

    // MARK: - The allocator


    /// The `machine` line's mallopt settings, made in a new agent before anything else.
    private mutating func setAllocatorOptions(_ agent: Agent, line: Int) throws {
        // M_TRIM_THRESHOLD -1, M_TOP_PAD -2, M_MMAP_THRESHOLD -3 (malloc/malloc.h).
        let settings: [(Int64, UInt64?)] = [(-3, workload.machine.mallocMmapThreshold), (-1, workload.machine.mallocTrimThreshold), (-2, workload.machine.mallocTopPad)]
        for (parameter, value) in settings {
            guard let value else { continue }
            var command = somsim_command()
            command.op = UInt32(SOMSIM_OP_MALLOC.rawValue)
            command.args.0 = UInt64(SOMSIM_MALLOC_MALLOPT.rawValue)
            command.args.2 = UInt64(bitPattern: parameter)
            command.args.3 = value
            let reply = try agent.call(&command).reply
            guard reply.status == SOMSIM_STATUS_OK.rawValue, reply.result == 1 else {
                throw ProbeError.agent(process: agent.name, "mallopt(\(parameter), \(value)) was refused (the machine line's setting)")
            }
        }
    }

    /// The bytes of object `object` of `process` from `offset` to its end, as the model sized it.
    private func objectBytes(_ process: String, _ object: String, after offset: UInt64) -> UInt64 {
        let bytes = simulator.objectSize(process: process, object: object) ?? 0
        return bytes > offset ? bytes - offset : 0
    }

    /// One call of the real allocator (malloc, calloc, realloc, free), compared with the model's:
    /// the pointer it returned and the program break after it, each exactly (on the heap, as
    /// offsets from its start, which is the same address in both). The frames of the allocator's
    /// memory before and after tell its faults' copies from reuses. Returns the pointer (0 for
    /// NULL), or nil when the call killed the process.
    private mutating func allocatorCall(
        _ agent: Agent, process: String, line: Int, outcome: Simulator.Outcome, call: somsim_malloc_call, pointer: UInt64, size: UInt64
    ) throws -> UInt64? {
        let after = simulator.allocatorRanges(process: process)
        let ranges = Self.union(agent.allocatorRanges + after + [WorkloadWindow.heapAddress..<Self.pageEnd(max(agent.programBreak, outcome.programBreak ?? 0))])
        var command = somsim_command()
        command.op = UInt32(SOMSIM_OP_MALLOC.rawValue)
        command.args.0 = UInt64(call.rawValue)
        command.args.1 = pointer
        command.args.2 = size
        // A realloc of an mmapped chunk that the model moves (mremap_chunk: mremap with
        // MREMAP_MAYMOVE) carries its pages to the new address: their frames before the call are
        // read where they were.
        var moved: (from: UInt64, to: UInt64, length: UInt64)? = nil
        if call == SOMSIM_MALLOC_REALLOC, let newPointer = outcome.pointer, newPointer != pointer,
            let old = agent.allocatorRanges.first(where: { $0.lowerBound &+ 16 == pointer }),
            let new = after.first(where: { $0.lowerBound &+ 16 == newPointer })
        {
            moved = (old.lowerBound, new.lowerBound, min(old.upperBound - old.lowerBound, new.upperBound - new.lowerBound))
        }
        let received = try classifyingRanges(agent, ranges, unseen: outcome.unseenFaults, moved: moved) { try agent.call(&command) }
        let reply = received.reply
        if reply.status == SOMSIM_STATUS_SIGNAL.rawValue {
            try die(agent, reply)
            return nil
        }
        guard reply.status == SOMSIM_STATUS_OK.rawValue else {
            throw ProbeError.agent(process: process, "the allocator call failed: \(SystemCallError(reply.error))")
        }
        let real = UInt64(bitPattern: reply.result)
        agent.programBreak = reply.program_break
        agent.allocatorRanges = after
        if call != SOMSIM_MALLOC_FREE {
            runChecks.append(
                Check(process: process, metric: "pointer(line \(line))", predicted: .text(Self.heapText(outcome.pointer ?? 0)), measured: .text(Self.heapText(real)), tolerance: 0))
        }
        runChecks.append(
            Check(
                process: process, metric: "program_break(line \(line))", predicted: .text(Self.heapText(outcome.programBreak ?? WorkloadWindow.heapAddress)),
                measured: .text(Self.heapText(reply.program_break)), tolerance: 0))
        return real
    }

    /// `write` or `read` of an object's bytes: one byte in every page they reach, first the
    /// first byte, then each page's first byte after it (what the model's access reaches).
    private mutating func objectAccess(_ agent: Agent, process: String, pointer: UInt64, length: UInt64, access: Access) throws {
        guard length > 0 else { return }
        let page = PageGeometry.pageBytes
        let (end, wraps) = pointer.addingReportingOverflow(length)
        let last = wraps ? UInt64.max : end
        var segments = [somsim_segment(address: pointer, length: 1, stride: page)]
        let next = (pointer / page + 1) * page
        if next < last { segments.append(somsim_segment(address: next, length: last - next, stride: page)) }
        var command = somsim_command()
        command.op = UInt32(SOMSIM_OP_TOUCH.rawValue)
        command.flags = access == .write ? UInt32(SOMSIM_FLAG_WRITE.rawValue) : 0
        command.setSegments(segments)
        // A read takes no copy and reuses nothing: only a write's faults are classified.
        let reply = access == .write
            ? try classifyingRanges(agent, [(pointer / page * page)..<Self.pageEnd(last)]) { try agent.call(&command) }.reply
            : try agent.call(&command).reply
        if reply.status == SOMSIM_STATUS_SIGNAL.rawValue { try die(agent, reply) }
    }

    /// Makes `call`, reading the frames of every page of `ranges` before and after it: its
    /// faults there are COW copies, reuses or new pages, told apart as a write touch's are. Some
    /// faults of an allocator call leave no trace in the frames (a page read while unmapped, then
    /// written or unmapped again: `Simulator.Outcome.unseenFaults`); those are the model's count,
    /// and the call's fault count, checked exactly, holds the model to the real faults.
    private func classifyingRanges(
        _ agent: Agent, _ ranges: [Range<UInt64>], unseen: UInt64 = 0, moved: (from: UInt64, to: UInt64, length: UInt64)? = nil,
        _ call: () throws -> Agent.Received
    ) throws -> Agent.Received {
        let page = PageGeometry.pageBytes
        func read() throws -> [UInt64] {
            try ranges.flatMap { try PageFrames.entries(pid: agent.pid, address: $0.lowerBound, count: Int(($0.upperBound - $0.lowerBound) / page), stepBytes: page) }
        }
        var before = try read()
        if let moved {
            // Where the pages go, their frames as they are where they come from.
            let source = try PageFrames.entries(pid: agent.pid, address: moved.from, count: Int(moved.length / page), stepBytes: page)
            var index = 0
            for range in ranges {
                var address = range.lowerBound
                while address < range.upperBound {
                    if address >= moved.to && address - moved.to < moved.length { before[index] = source[Int((address - moved.to) / page)] }
                    address += page
                    index += 1
                }
            }
        }
        let received = try call()
        if received.reply.status != SOMSIM_STATUS_SIGNAL.rawValue {
            let faults = received.reply.op_faults
            let (copies, reuses) = try classify(before: before, after: try read(), faults: faults > unseen ? faults - unseen : 0)
            agent.copies += copies
            agent.reuses += reuses
        }
        return received
    }

    /// The agent's access raised a signal: it dies of it, as the model's process does.
    private func die(_ agent: Agent, _ reply: somsim_reply) throws {
        guard let signal = Signal(number: reply.signal) else {
            throw ProbeError.agent(process: agent.name, "stopped by signal \(reply.signal), which the agent does not catch")
        }
        agent.signals.append(signal)
        var die = somsim_command()
        die.op = UInt32(SOMSIM_OP_DIE.rawValue)
        _ = somsim_send(agent.socket, &die, MemoryLayout<somsim_command>.size, -1)
        agent.waitGone()
        agent.alive = false
    }

    static func pageEnd(_ address: UInt64) -> UInt64 {
        let page = PageGeometry.pageBytes
        return address > UInt64.max - (page - 1) ? UInt64.max / page * page : (address + page - 1) / page * page
    }

    /// Page-aligned ranges merged where they overlap or touch, ascending; empty ones dropped.
    static func union(_ ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        var merged: [Range<UInt64>] = []
        for r in ranges.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        return merged
    }

    /// An address as a report shows allocator addresses: `heap+0x2a0` from the heap's start
    /// (within 1 TiB of it), `NULL`, or the address in hex.
    static func heapText(_ address: UInt64) -> String {
        if address == 0 { return "NULL" }
        let start = WorkloadWindow.heapAddress
        if address >= start && address - start < 1 << 40 { return "heap+0x" + String(address - start, radix: 16) }
        return "0x" + String(address, radix: 16)
    }

    /// Makes `call`, reading the frames of the pages `reached` (`pagesReached`) before and after
    /// it: the faults it takes there (populate, mlock, the population of mprotect on a locked
    /// VMA) are COW copies, reuses or new pages, told apart as a write touch's are.
    private func classifying(
        _ agent: Agent, _ reached: [(mapping: Agent.RealMapping, pages: Range<UInt64>)], _ call: () throws -> Agent.Received
    ) throws -> Agent.Received {
        let before = try reached.flatMap { try frameEntries(agent, $0.mapping, $0.pages) }
        let received = try call()
        if !reached.isEmpty {
            let after = try reached.flatMap { try frameEntries(agent, $0.mapping, $0.pages) }
            let (copies, reuses) = try classify(before: before, after: after, faults: received.reply.op_faults)
            agent.copies += copies
            agent.reuses += reuses
        }
        return received
    }

    /// The bytes of a call on `range` of mapping `name` (madvise, mprotect, mlock, munlock), the
    /// same as the model's: from the offset, for `length=` or to the mapping's end, even past it
    /// (VMAOperations.swift, Protection.swift). Inside the window only workload mappings exist;
    /// the call is made only when every address of it outside the window is unmapped in the agent
    /// too (then both see a gap there), or, with `makesWrappingEnd`, when its end wraps (madvise:
    /// the kernel refuses it with EINVAL before looking at any VMA). Nil, with a note, when the
    /// call is not made.
    private mutating func callRange(
        _ agent: Agent, _ name: String, _ range: ByteRange, verb: String, line: Int, model modelErrno: Errno?, makesWrappingEnd: Bool
    ) throws -> (address: UInt64, length: UInt64, endWraps: Bool)? {
        guard let mapping = agent.mappings[name],
            let length = range.lengthBytes ?? (range.offsetBytes <= mapping.lengthBytes ? mapping.lengthBytes - range.offsetBytes : nil)
        else {
            notes.append("line \(line): \(verb) with no mapping, or past its end with no length, was not run (the model says \(modelErrno?.rawValue ?? "it succeeds"))")
            return nil
        }
        let (address, startWraps) = mapping.address.addingReportingOverflow(range.offsetBytes)
        let (end, endWraps) = address.addingReportingOverflow(length)
        var ownMemory: [String] = []
        if !startWraps && !endWraps && length > 0 && (address < window.lowerBound || end > window.upperBound) {
            for entry in try KernelFiles.read("/proc/\(agent.pid)/maps").split(separator: "\n") {
                let bounds = entry.prefix { $0 != " " }.split(separator: "-")
                guard bounds.count == 2, let low = UInt64(bounds[0], radix: 16), let high = UInt64(bounds[1], radix: 16) else { continue }
                if low < end && high > address && !(low >= window.lowerBound && high <= window.upperBound) {
                    ownMemory.append(entry.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "))
                }
            }
        }
        guard !startWraps, !endWraps || makesWrappingEnd, ownMemory.isEmpty else {
            let reason = startWraps || endWraps ? "its \(startWraps ? "start" : "end") address wraps" : "it reaches the agent's own memory (\(ownMemory[0]))"
            notes.append("line \(line): \(verb) was not run: \(reason) (the model says \(modelErrno?.rawValue ?? "it succeeds"))")
            return nil
        }
        return (address, length, endWraps)
    }

    /// mprotect, mlock or munlock of the same bytes as the model's call: from the offset, for
    /// `length=` or to the mapping's end, even past it (Simulator.mprotect and mlock in
    /// Protection.swift). As for madvise, the call is made only when every address of it outside
    /// the window is unmapped in the agent too. With `classifies`, the frames of the workload
    /// mappings the range meets are read before and after the call: the faults its population
    /// takes (mlock; mprotect of a locked VMA) are copies, reuses or new pages as a write touch's
    /// are.
    private mutating func rangeCall(
        _ agent: Agent, process: String, line: Int, verb: String, name: String, range: ByteRange, model modelErrno: Errno?, classifies: Bool,
        _ call: (UInt64, UInt64) throws -> Agent.Received
    ) throws {
        guard let (address, length, _) = try callRange(agent, name, range, verb: verb, line: line, model: modelErrno, makesWrappingEnd: false) else { return }
        // The pages of each workload mapping the range meets, in address order.
        let met = classifies && length > 0 ? Self.pagesReached(address..<(address + length), in: agent.mappings.values) : []
        let reply = try classifying(agent, met) { try call(address, length) }.reply
        compareErrno(process: process, line: line, model: modelErrno, real: reply.status == 0 ? nil : SystemCallError(reply.error))
    }

    /// The size of segment `key` as the workload made it (the last `shmget` of that key so far).
    private func simulatorSegment(_ key: String) -> (pageBytes: UInt64, pages: UInt64, huge: HugePageSize?)? {
        simulator.shmSegmentSize(key)
    }

    /// A call on the descriptor the process holds for `file` (EBADF when it holds none, as the
    /// model says then too), compared with the model's errno.
    private mutating func fileCall(
        _ agent: Agent, process: String, line: Int, file: String, model: Errno?, _ call: (UInt64) throws -> Agent.Received
    ) throws {
        guard let held = agent.files[file] else {
            compareErrno(process: process, line: line, model: model, real: SystemCallError(EBADF))
            return
        }
        let reply = try call(UInt64(bitPattern: Int64(held.fd))).reply
        compareErrno(process: process, line: line, model: model, real: reply.status == 0 ? nil : SystemCallError(reply.error))
    }

    private mutating func add(_ agent: Agent) {
        agents.append(agent)
        byName[agent.name] = agent
    }

    /// Checks the errno the model gave a statement against the one the kernel returned.
    private mutating func compareErrno(process: String, line: Int, model: Errno?, real: SystemCallError?) {
        guard model != nil || real != nil else { return }
        runChecks.append(
            Check(process: process, metric: "errno(line \(line))", predicted: .text(model?.rawValue ?? "none"), measured: .text(real?.name ?? "none"), tolerance: 0))
    }

    /// mremap(2) flags (include/uapi/linux/mman.h).
    static let mremapMayMove: UInt64 = 1
    static let mremapFixed: UInt64 = 2

    /// The pages of `mappings` that the address range `addresses` reaches, each mapping's own
    /// (a HugeTLB page counts when the range reaches into it), in address order.
    static func pagesReached(_ addresses: Range<UInt64>, in mappings: some Sequence<Agent.RealMapping>) -> [(mapping: Agent.RealMapping, pages: Range<UInt64>)] {
        var reached: [(mapping: Agent.RealMapping, pages: Range<UInt64>)] = []
        for m in mappings where m.address < addresses.upperBound && m.address + m.lengthBytes > addresses.lowerBound {
            let low = max(addresses.lowerBound, m.address) - m.address
            let high = min(addresses.upperBound, m.address + m.lengthBytes) - m.address
            reached.append((m, (low / m.pageBytes)..<((high + m.pageBytes - 1) / m.pageBytes)))
        }
        return reached.sorted { $0.mapping.address < $1.mapping.address }
    }

    /// madvise(2) advice values (include/uapi/asm-generic/mman-common.h).
    static func adviceValue(_ advice: Advice) -> Int32 {
        switch advice {
        case .dontneed: return 4
        case .dontfork: return 10
        case .dofork: return 11
        case .hugepage: return 14
        case .nohugepage: return 15
        case .wipeonfork: return 18
        case .keeponfork: return 19
        case .remove: return 9
        case .willneed: return 3
        case .populateRead: return 22
        case .populateWrite: return 23
        case .collapse: return 25
        case .cold: return 20
        case .pageout: return 21
        }
    }

    // MARK: - Touches

    private mutating func touch(_ agent: Agent, _ mapping: Agent.RealMapping, _ access: Access, _ pages: Range<UInt64>, _ pattern: TouchPattern) throws {
        let pageBytes = mapping.pageBytes
        var segments: [(somsim_segment, Range<UInt64>)] = []
        if case .stride(let stride) = pattern, !pages.isEmpty {
            let segment = somsim_segment(address: mapping.address + pages.lowerBound * pageBytes, length: UInt64(pages.count) * pageBytes, stride: stride)
            segments = [(segment, pages)]
        } else {
            for run in pattern.pageRuns(pages, pageBytes: pageBytes) {
                segments.append((somsim_segment(address: mapping.address + run.lowerBound * pageBytes, length: UInt64(run.count) * pageBytes, stride: pageBytes), run))
            }
        }
        let write = access == .write
        var start = 0
        while start < segments.count && agent.alive {
            let batch = segments[start..<min(start + Int(SOMSIM_MAX_SEGMENTS), segments.count)]
            start += batch.count
            // Pages a write touches: their frames before and after tell copies from reuses.
            var touched: [Range<UInt64>] = []
            if write {
                if case .stride(let stride) = pattern, stride > pageBytes {
                    touched = pattern.pageRuns(pages, pageBytes: pageBytes)
                } else {
                    touched = batch.map { $0.1 }
                }
            }
            let beforeFrames = try touched.map { try frameEntries(agent, mapping, $0) }
            var command = somsim_command()
            command.op = UInt32(SOMSIM_OP_TOUCH.rawValue)
            command.flags = write ? UInt32(SOMSIM_FLAG_WRITE.rawValue) : 0
            command.setSegments(batch.map { $0.0 })
            let reply = try agent.call(&command).reply
            if write {
                let afterFrames = try touched.map { try frameEntries(agent, mapping, $0) }
                let (copies, reuses) = try classify(before: beforeFrames.flatMap { $0 }, after: afterFrames.flatMap { $0 }, faults: reply.op_faults)
                agent.copies += copies
                agent.reuses += reuses
            }
            if reply.status == SOMSIM_STATUS_SIGNAL.rawValue { try die(agent, reply) }
        }
    }

    private func frameEntries(_ agent: Agent, _ mapping: Agent.RealMapping, _ run: Range<UInt64>) throws -> [UInt64] {
        try PageFrames.entries(pid: agent.pid, address: mapping.address + run.lowerBound * mapping.pageBytes, count: run.count, stepBytes: mapping.pageBytes)
    }

    /// Copies: written pages whose frame changed from a present page other than the zero page.
    /// Reuses: the touch's faults minus those that mapped an absent page or replaced any frame.
    private func classify(before: [UInt64], after: [UInt64], faults: UInt64) throws -> (UInt64, UInt64) {
        var mappedAbsent: UInt64 = 0
        var changed: [UInt64] = []
        for (b, a) in zip(before, after) where a & PageFrames.present != 0 {
            if b & PageFrames.present == 0 {
                mappedAbsent += 1
            } else if b & PageFrames.pfnMask != a & PageFrames.pfnMask {
                changed.append(b & PageFrames.pfnMask)
            }
        }
        let zero = try frames.flags(changed).filter { $0 & PageFrames.zeroPageFlag != 0 }.count
        let copies = UInt64(changed.count - zero)
        let accounted = mappedAbsent + UInt64(changed.count)
        return (copies, faults > accounted ? faults - accounted : 0)
    }

    // MARK: - Measures

    /// The frames one agent maps in the window, read from its pagemap.
    private struct AgentFrames {
        var vmas: [SmapsVMA] = []
        /// 4 KiB frames (zero page excluded) and whether each is an anonymous page.
        var small: [(pfn: UInt64, anon: Bool)] = []
        /// HugeTLB pages: head frame and size.
        var huge: [(pfn: UInt64, bytes: UInt64)] = []
    }

    private mutating func measure(label: String) throws -> MeasuredMeasure {
        // Pass 1: every live agent's frames; a frame's mapcount is the number of workload
        // mappings of it (only agents map the window, and each maps a frame at most once).
        var framesOf: [Int: AgentFrames] = [:]
        var mappers: [UInt64: UInt64] = [:]
        for (i, agent) in agents.enumerated() where agent.alive {
            let f = try readFrames(agent)
            for s in f.small { mappers[s.pfn, default: 0] += 1 }
            for h in f.huge { mappers[h.pfn, default: 0] += 1 }
            framesOf[i] = f
        }
        var processes: [ProcessMetrics] = []
        var anonFrames = Set<UInt64>()
        var tables: UInt64 = 0
        var live: UInt64 = 0
        for (i, agent) in agents.enumerated() {
            var m = ProcessMetrics(name: agent.name, alive: agent.alive)
            m.minorFaults = agent.faults
            m.cowCopies = agent.copies
            m.cowReuses = agent.reuses
            m.signals = agent.signals
            if let f = framesOf[i] {
                var smapsHugePrivate: UInt64 = 0
                for vma in f.vmas {
                    let v = vma.fields
                    m.rssBytes += (v["Rss"] ?? 0) * 1024
                    m.privateCleanBytes += (v["Private_Clean"] ?? 0) * 1024
                    m.privateDirtyBytes += (v["Private_Dirty"] ?? 0) * 1024
                    m.sharedCleanBytes += (v["Shared_Clean"] ?? 0) * 1024
                    m.sharedDirtyBytes += (v["Shared_Dirty"] ?? 0) * 1024
                    smapsHugePrivate += (v["Private_Hugetlb"] ?? 0) * 1024
                    m.anonHugePagesBytes += (v["AnonHugePages"] ?? 0) * 1024
                }
                m.ussBytes = m.privateCleanBytes + m.privateDirtyBytes
                var pssUnits: UInt64 = 0
                var pssAnonUnits: UInt64 = 0
                for s in f.small {
                    let units = (PageGeometry.pageBytes << 12) / max(mappers[s.pfn] ?? 1, 1)
                    pssUnits += units
                    if s.anon { anonFrames.insert(s.pfn) }
                    // Pss_Anon: per-VMA smaps has none (smaps_rollup alone prints it), so it is
                    // the same sum over the anonymous frames.
                    if s.anon { pssAnonUnits += units }
                }
                m.pssBytes = pssUnits >> 12
                m.pssAnonBytes = pssAnonUnits >> 12
                for h in f.huge {
                    if (mappers[h.pfn] ?? 1) > 1 { m.sharedHugetlbBytes += h.bytes } else { m.privateHugetlbBytes += h.bytes }
                }
                if smapsHugePrivate != m.privateHugetlbBytes {
                    notes.append(
                        "\(label), \(agent.name): smaps says Private_Hugetlb \(smapsHugePrivate >> 10) kB, the pages' mappers say \(m.privateHugetlbBytes >> 10) kB (smaps misreports 1 GiB pages, see docs/validation.md)")
                }
                m.lockedBytes = (try KernelFiles.keyValues("/proc/\(agent.pid)/status")["VmLck"] ?? 0) * 1024
                let vmPTE = try Agent.vmPTEBytes(agent.pid)
                m.pageTableBytes = vmPTE >= agent.baselineTableBytes ? vmPTE - agent.baselineTableBytes : 0
                tables += m.pageTableBytes
                live += 1
            }
            processes.append(m)
        }
        var system = SystemMetrics()
        let memmapNow = try KernelFiles.memmapPages()
        // The model's base plus the kernel's change (HVO can make it negative), never below 0.
        system.memmapPages = memmapNow >= memmapStart
            ? saturatingSum([memmapModelBase, memmapNow - memmapStart]) : memmapModelBase - min(memmapModelBase, memmapStart - memmapNow)
        let pools = "/sys/kernel/mm/hugepages"
        system.hugetlb2MTotal = try KernelFiles.readNumber("\(pools)/hugepages-2048kB/nr_hugepages")
        system.hugetlb2MFree = try KernelFiles.readNumber("\(pools)/hugepages-2048kB/free_hugepages")
        system.hugetlb2MReserved = try KernelFiles.readNumber("\(pools)/hugepages-2048kB/resv_hugepages")
        system.hugetlb2MSurplus = try KernelFiles.readNumber("\(pools)/hugepages-2048kB/surplus_hugepages")
        if KernelFiles.exists("\(pools)/hugepages-1048576kB") {
            system.hugetlb1GTotal = try KernelFiles.readNumber("\(pools)/hugepages-1048576kB/nr_hugepages")
            system.hugetlb1GFree = try KernelFiles.readNumber("\(pools)/hugepages-1048576kB/free_hugepages")
            system.hugetlb1GReserved = try KernelFiles.readNumber("\(pools)/hugepages-1048576kB/resv_hugepages")
            system.hugetlb1GSurplus = try KernelFiles.readNumber("\(pools)/hugepages-1048576kB/surplus_hugepages")
        }
        system.anonBytes = UInt64(anonFrames.count) * PageGeometry.pageBytes
        system.pageTableBytes = tables + live * (workload.machine.pti ? 2 : 1) * PageGeometry.pageBytes
        system.shmemBytes = shmemBytes(framesOf)

        let vmstat = try KernelFiles.vmstat()
        let meminfo = try KernelFiles.keyValues("/proc/meminfo")
        func delta(_ key: String) -> UInt64 { (vmstat[key] ?? 0) &- (vmstatStart[key] ?? 0) }
        let counters = [
            MeasuredMeasure.Counter(name: "vmstat_pgfault_delta", value: delta("pgfault")),
            MeasuredMeasure.Counter(name: "vmstat_pgreuse_delta", value: delta("pgreuse")),
            // Pages the kernel moved or collapsed on its own (compaction, khugepaged): a moved
            // page of the workload would count as a copy. The run quiets both; these say whether
            // anything moved anyway.
            MeasuredMeasure.Counter(name: "vmstat_pgmigrate_success_delta", value: delta("pgmigrate_success")),
            MeasuredMeasure.Counter(name: "vmstat_thp_collapse_alloc_delta", value: delta("thp_collapse_alloc")),
            MeasuredMeasure.Counter(name: "vmstat_memmap_pages", value: memmapNow),
            MeasuredMeasure.Counter(name: "meminfo_anon_pages_bytes", value: (meminfo["AnonPages"] ?? 0) * 1024),
            MeasuredMeasure.Counter(name: "meminfo_page_tables_bytes", value: (meminfo["PageTables"] ?? 0) * 1024),
            MeasuredMeasure.Counter(name: "meminfo_shmem_bytes", value: (meminfo["Shmem"] ?? 0) * 1024),
        ]
        return MeasuredMeasure(label: label, processes: processes, system: system, counters: counters)
    }

    /// The workload's shmem pages: every distinct tmpfs inode (shared anonymous memory, tmpfs and
    /// memfd files) that a live agent maps in the window (a VMA that is not HugeTLB) or holds
    /// open (a file without `huge=`), or that is one of the run's files in /dev/shm, counted by
    /// its st_blocks (shmem keeps i_blocks at its allocated
    /// pages × 8; mm/shmem.c: shmem_recalc_inode). Shmem in /proc/meminfo is the machine's and
    /// folds its per-CPU counts in lazily (docs/kernel-facts 17c), so it is only reported.
    private func shmemBytes(_ framesOf: [Int: AgentFrames]) -> UInt64 {
        var seen = Set<[UInt64]>()
        var total: UInt64 = 0
        func add(_ path: String) {
            var st = stat()
            // SysV segments are counted below, attached or not ("/SYSV%08x (deleted)").
            if path.hasPrefix("/proc/"), (try? KernelFiles.readLink(path))?.hasPrefix("/SYSV") == true { return }
            guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return }
            if seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted { total += UInt64(st.st_blocks) * 512 }
        }
        func entries(_ directory: String) -> [String] {
            guard let dir = opendir(directory) else { return [] }
            defer { closedir(dir) }
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            return names
        }
        for (i, agent) in agents.enumerated() where agent.alive {
            for vma in framesOf[i]?.vmas ?? [] where !vma.isHugetlb {
                add("/proc/\(agent.pid)/map_files/\(String(vma.start, radix: 16))-\(String(vma.end, radix: 16))")
            }
            for held in agent.files.values where held.huge == nil { add("/proc/\(agent.pid)/fd/\(held.fd)") }
        }
        if let filesDirectory {
            for name in entries(filesDirectory) { add("\(filesDirectory)/\(name)") }
        }
        // The run's shmem segments, by their `rss` in /proc/sysvipc/shm (bytes: the shmem
        // inode's nrpages << PAGE_SHIFT; ipc/shm.c: shm_add_rss_swap, sysvipc_shm_proc_show),
        // listed until the segment is destroyed — after IPC_RMID too while it is attached.
        if !shmemSegmentIDs.isEmpty, let table = try? KernelFiles.read("/proc/sysvipc/shm") {
            var columns: [Substring] = []
            for row in table.split(separator: "\n") {
                let fields = row.split(separator: " ", omittingEmptySubsequences: true)
                if columns.isEmpty {
                    columns = fields
                    continue
                }
                guard let idColumn = columns.firstIndex(of: "shmid"), let rssColumn = columns.firstIndex(of: "rss"),
                    fields.count > max(idColumn, rssColumn), let id = Int64(fields[idColumn]), shmemSegmentIDs.contains(id),
                    let rss = UInt64(fields[rssColumn])
                else { continue }
                total += rss
            }
        }
        return total
    }

    /// The window's VMAs (smaps) and the frames they map (pagemap). A 4 KiB frame is anonymous
    /// when kpageflags says so, or, where kpageflags reads an empty entry for a mapped frame
    /// (seen on this kernel, docs/validation.md), when pagemap does not flag it PM_FILE.
    private func readFrames(_ agent: Agent) throws -> AgentFrames {
        var f = AgentFrames()
        f.vmas = try SmapsVMA.read(pid: agent.pid, window: window)
        for vma in f.vmas {
            let pageBytes = vma.kernelPageBytes
            let count = Int((vma.end - vma.start) / pageBytes)
            let entries = try PageFrames.entries(pid: agent.pid, address: vma.start, count: count, stepBytes: pageBytes)
            let mapped = entries.filter { $0 & PageFrames.present != 0 && $0 & (1 << 62) == 0 }
            let pfns = mapped.map { $0 & PageFrames.pfnMask }
            if vma.isHugetlb {
                f.huge += pfns.map { (pfn: $0, bytes: pageBytes) }
                continue
            }
            for ((entry, pfn), flags) in zip(zip(mapped, pfns), try frames.flags(pfns)) where flags & PageFrames.zeroPageFlag == 0 {
                // Where kpageflags reads an empty entry, pagemap's own bit says whether the page
                // is anonymous: PM_FILE is set for a file or shared-anonymous page (fs/proc/
                // task_mmu.c: pte_to_pagemap_entry). A private file mapping's COW copies are
                // anonymous, so the VMA's kind alone cannot tell.
                let anon = flags & PageFrames.anonFlag != 0 || (flags == 0 && entry & PageFrames.fileOrShared == 0)
                f.small.append((pfn: pfn, anon: anon))
            }
        }
        return f
    }
}
#endif
