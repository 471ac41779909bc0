// The simulator: its state, and statements applied one at a time, each dispatched to the file of
// its mechanism (Processes, VMAOperations, FaultDispatch). No kernel file of its own.

import SomsimWorkload

/// Replays a workload through a model of today's kernel: processes, mappings, faults, fork and
/// copy-on-write, HugeTLB pools and reservations, page tables.
///
/// Pure: no syscalls, no I/O. Cost grows with statements and extents, not with bytes.
public struct Simulator {
    public let machine: MachineSpec
    public let constants: KernelConstants
    /// `Simulator.largeFolioOrders(machine, constants)` (LargeFolios.swift).
    let largeFolioOrders: [Int]

    var processes = SimProcesses()
    var processIndex: [String: ProcessID] = [:]
    /// The processes statements last named, and the one before, with their ids (`processID`).
    var lastNamedProcess: (name: String, id: ProcessID)? = nil
    var namedBefore: (name: String, id: ProcessID)? = nil
    var groups = FrameGroups()
    var namedObjects: [String: GroupID] = [:]
    var pools = HugeTLBPools() {
        // Surplus pages and `sysctl` change the pools' sizes mid-run: what they hold of RAM
        // (and of the memmap, with HVO) follows.
        didSet {
            if pools.size2M.total != oldValue.size2M.total || pools.size1G.total != oldValue.size1G.total { fixedPages = fixedUsedPages() }
        }
    }
    /// SysV shared memory segments by key, until `shmrm` (SysVShm.swift).
    var shmSegments: [String: ShmSegment] = [:]
    /// Descriptors, names and sizes of the workload's files (Files.swift).
    var files = FileTable()
    /// Private anonymous 4 KiB pages that exist, counted once however many processes map them.
    var anonPages: UInt64 = 0
    /// Page-cache pages of shmem and tmpfs files that exist (HugeTLB files hold pool pages).
    var cachePagesPresent: UInt64 = 0
    /// PTE, PMD and PUD tables of the live processes (`PageTableSet.total`, summed).
    var tablePages: UInt64 = 0
    /// Live processes, and the mappings (VMAs) they hold.
    var liveProcesses: UInt64 = 0
    var liveMappings: UInt64 = 0
    /// What the machine's RAM holds besides the workload's pages (Capacity.swift).
    let budget: MemoryBudget
    /// OOM kills and trimmed pools not yet reported as error events.
    var capacityEvents: [CapacityEvent] = []
    /// See `peakWorkloadBytes`.
    var peakWorkloadPages: UInt64 = 0
    /// Memmap, pools and reserve, in pages: `fixedUsedPages()`, fixed once the pools are sized.
    var fixedPages: UInt64 = 0
    /// The last id handed to mappings merged into one VMA (`mergeWithNeighbours`).
    var nextMergedVMA: Int32 = 0
    /// Whether touches of many pages may take the bulk path; tests turn it off to hold the bulk
    /// path to the page-by-page one.
    var bulkTouches = true
    /// Whether fork may give the child its parent's map of page states where the child
    /// inherits every page of a mapping as the parent maps it (`fork`); tests turn it off to
    /// hold that shortcut to building the child's map extent by extent.
    var forkSharesPages = true
    /// Whether fork starts the child's table of mappings as its parent's, each mapping then
    /// replaced in its slot (`fork`); tests turn it off to hold that shortcut to building the
    /// child's table name by name.
    var forkSharesTable = true
    /// Whether a bulk copy-on-write write lets the mapping's map of page states keep the new
    /// run's arrays of boundaries where the two are the same (`bulkFault`); tests turn it off
    /// to hold that shortcut to each map keeping its own.
    var bulkSharesBoundaries = true
    /// Whether a bulk copy-on-write write lets a fresh run hold the arrays of frame values the
    /// fresh runs before it hold where they are equal (`bulkFault`, `ExtentMap.shareValues`);
    /// tests turn it off to hold that shortcut to each run keeping its own.
    var bulkSharesValues = true
    /// The arrays `bulkSharesValues` shares.
    var freshRunValues = ExtentMap<FramePage>.ValuePool()
    /// Whether a bulk copy-on-write write lets a fresh worker's mapping store its copies as its
    /// own run's (`PageMap.adopt`) and hold the arrays of states the fresh mappings before it
    /// hold where they are equal (`bulkFault`); tests turn it off to hold that shortcut to each
    /// mapping storing every state as it is, in arrays of its own.
    var bulkSharesStates = true
    /// The arrays `bulkSharesStates` shares.
    var freshStates = FreshStates()
    /// The bulk copy-on-write path's lists of pages (`bulkFault`), kept empty between calls with
    /// their storage. Performance: each worker's write made three arrays of a kilobyte or more,
    /// and glibc's malloc takes requests of that size past its per-thread cache, tidying its
    /// bins on the way (`malloc_consolidate`, `unlink_chunk`: a tenth of the statements' time
    /// of `TenThousandWorkers` was in malloc and free).
    var bulkLists = BulkLists()
    /// Whether a bulk copy-on-write write builds a fresh mapping's map of page states on its
    /// new run's boundaries (`bulkFault`, `ExtentMap.assign(alongBoundariesOf:)`); tests turn it
    /// off to hold that shortcut to the mapping's own merge of the ranges.
    var bulkMapsAlongRun = true
    /// Whether a bulk copy-on-write write reads and drops its pages' mapcounts in one batched
    /// pass (`ExtentMap.copyOnWrite`); tests turn it off to hold it to the forward lookups one
    /// range at a time, then the drops (`addCounter`).
    var bulkLookupsBatched = true
    /// Whether a bulk copy-on-write write first splits its run page by page where copies have
    /// crowded it (`ExtentMap.copyOnWrite(splitsCrowded:)`, `ExtentMap.isCrowded`); tests turn
    /// it off to hold that shortcut to the map split write by write.
    var bulkSplitsCrowdedRuns = true
    /// Whether a bulk copy-on-write write that copies every page of a random touch into a fresh
    /// run takes the run's frames as the samples' thread built them ahead
    /// (`SamplePrefetcher.freshRun`); tests turn it off to hold that shortcut to the run built
    /// in place.
    var bulkTakesDrawnRuns = true
    /// Fresh runs that took frames built ahead (tests: the shortcut is not vacuous; benchmarks
    /// report it).
    public internal(set) var drawnRunsTaken = 0
    /// Whether `apply(contentsOf:)` draws random touches' samples ahead on a thread of their own
    /// (`SamplePrefetcher`) where `measureThreads` allows a second thread; tests set `.off`, and
    /// `.waiting`, where every such touch waits for that thread's sample (taking it where the
    /// thread's guess of its page count was right) and the two threads run in lock step.
    var samplesAhead = SamplesAhead.whenWorthwhile
    enum SamplesAhead { case off, whenWorthwhile, waiting }
    /// The random touches' samples drawn ahead while `apply(contentsOf:)` runs.
    var samples: SamplePrefetcher? = nil
    /// What the last `apply(contentsOf:)` did with samples drawn ahead: touches that took one,
    /// and touches that drew their own (tests: the hand-over is not vacuous; benchmarks report it).
    public private(set) var samplesTaken = (taken: 0, drawn: 0)
    /// Whether every madvise walks the process's layout for the mappings its range meets, even
    /// a range inside the one mapping it names (`madvise`); tests turn it on to hold that
    /// shortcut to the walk.
    var madviseWalksLayout = false
    /// Whether an advice that only sets VMA flags is applied in the lookup that reads the
    /// mapping's VMAs (`advise`); tests turn it off to hold that shortcut to the second lookup.
    var madviseFlagsInOneLookup = true
    /// Whether read faults on shared and file memory are taken one access at a time (the
    /// reference path); tests turn it on to hold the extent-based path to it.
    var faultAroundByPage = false
    /// Room to reserve in the dictionary of mappings of a process spawned with one of these
    /// names (`mappingCapacityHints`).
    var mappingCapacityHints: [String: Int] = [:]
    /// Threads a measure sums the processes' metrics on (each process's sums are independent;
    /// the report is the same for any count); above 1 it also lets a first touch of very many
    /// pages merge its two maps on two threads (`parallelMergeRanges`), and `apply(contentsOf:)`
    /// draw random touches' samples ahead on a second thread (`samplesAhead`). Tests set it to
    /// hold the parallel paths to the serial ones.
    public var measureThreads = Parallel.cores
    /// A measure of fewer processes than it would spread over threads sums a mapping whose
    /// pages are kept in at least this many extent-map chunks (about 64 extents each: a random
    /// touch of a hundred thousand pages and more) in parts on `measureThreads` threads. Tests
    /// lower it to hold the split sums to the whole ones.
    var splitMappingChunks = 1_024
    /// A measure of fewer processes than it would spread over threads sums a process of at least
    /// this many mappings (alloc-mix: hundreds of thousands in one process) in parts on
    /// `measureThreads` threads, and its census counts them so. Tests lower it to hold the split
    /// sums to the whole ones.
    var splitMappingCount = 4_096
    /// A first touch of at least this many ranges (a random touch of a hundred thousand pages
    /// and more) merges them into its run's and its mapping's maps on two threads when
    /// `measureThreads` allows more than one. Tests lower it to hold that path to the serial one.
    var parallelMergeRanges = 65_536

    public internal(set) var measures: [Measure] = []
    public internal(set) var errors: [ErrorEvent] = []
    /// Where each mapping was placed, in statement order: a real run maps at the same addresses.
    public internal(set) var placements: [Placement] = []
    /// What the statement being applied has answered so far (`apply`).
    var outcome = Outcome()
    /// The single-owner pool: chunks, unit bitmaps, each process's units (SomPool.swift).
    var somPool: SomPool
    /// The process whose allocator is running, and the line of its statement (ProcessHeap.swift:
    /// the simulator is the allocator's `MallocHost` while it runs).
    var allocatorProcess: ProcessID? = nil
    var allocatorLine = 0
    /// Pages the running allocator statement read, and wrote, while they were unmapped, by
    /// mapping (`Outcome.unseenFaults`).
    var allocatorReadAbsent: [String: [Range<UInt64>]] = [:]
    var allocatorWroteAbsent: [String: [Range<UInt64>]] = [:]

    /// Where the engine put one mapping.
    public struct Placement: Equatable, Sendable {
        public var line: Int
        public var process: String
        public var mapping: String
        public var address: UInt64
        public var lengthBytes: UInt64
    }

    /// A machine as `machine` describes it, its HugeTLB pools sized to what its RAM holds (a
    /// pool that got fewer pages than asked for is an error event on `machineLine`).
    public init(machine: MachineSpec, constants: KernelConstants = KernelConstants(), machineLine: Int = 0) {
        self.machine = machine
        self.constants = constants
        largeFolioOrders = Self.largeFolioOrders(machine, constants)
        somPool = SomPool(machine: machine, profile: constants.profile)
        budget = MemoryBudget(machine: machine, constants: constants, bootMemmapPages: Self.bootMemmapPages(machine.ramBytes, constants))
        sizePools()
        fixedPages = fixedUsedPages()
        recordCapacityEvents(line: machineLine, statement: WorkloadPrinter.format(machine: machine) ?? "machine")
    }

    /// Runs a whole workload and returns its report, with a final measure labelled "end".
    ///
    /// Safe for workloads built in code, which the parser's checker has not seen: `apply` never
    /// lets a statement corrupt the state. What the checker refuses in a file, the engine records
    /// as an error event and ignores — a process name taken already (a second `spawn a`, or a
    /// fork child of a taken name: EEXIST), a mapping name the process holds already (EEXIST), an
    /// mmap length that is not a positive multiple of the page size (EINVAL) — and a statement of
    /// a process that does not exist, like one of a process that died, is ESRCH. A mapping name
    /// the process does not hold is what it is in a file after a refused mmap: munmap does
    /// nothing, madvise is ENOMEM, touch EFAULT. A parsed workload never meets the first three.
    public static func run(_ workload: Workload, constants: KernelConstants = KernelConstants()) -> Report {
        finished(workload, constants: constants).report
    }

    /// The simulator after `run`: every statement applied and the final measure taken (its
    /// `report` is what `run` returns). A command that exits right after the report can keep
    /// it alive to the end instead of freeing its state object by object.
    public static func finished(_ workload: Workload, constants: KernelConstants = KernelConstants()) -> Simulator {
        var simulator = Simulator(machine: workload.machine, constants: constants, machineLine: workload.machineLine ?? 0)
        simulator.reserveRoom(for: workload)
        simulator.apply(contentsOf: workload.statements)
        simulator.measureAtEnd(afterMeasureStatement: workload.statements.last.map { if case .measure = $0.value { true } else { false } } ?? false)
        return simulator
    }

    /// The final measure, labelled `end`. Performance: when the statement applied last was a
    /// measure (alloc-mix ends with `measure filled`), nothing a measure reads has changed since
    /// — unless that statement's apply recorded error events after its measure, which then is
    /// taken again — so the end measure is that one, relabelled: a measure of 200,000 mappings
    /// is taken once, not twice. `reusing: false` always measures, to hold the copy to it.
    mutating func measureAtEnd(afterMeasureStatement: Bool, reusing: Bool = true) {
        if reusing, afterMeasureStatement, var last = measures.last, last.errorsBefore == errors.count {
            last.label = "end"
            measures.append(last)
            return
        }
        measure(label: "end")
    }

    /// Reserves room for what `workload` will hold, before its statements are applied: results
    /// are the same without it (see `mappingCapacityHints`).
    public mutating func reserveRoom(for workload: Workload) {
        mappingCapacityHints = Self.mappingCapacityHints(workload.statements)
        // Performance: room for every process the workload creates (its spawns and forks, an
        // upper bound), so that the dictionary of names and the table of processes do not grow
        // by doubling, rehashing or moving all of them each time (`HundredThousandWorkers`:
        // `_copyOrMoveAndResize` under `fork`). Only room: which processes exist stays the same.
        let created = workload.statements.reduce(0) { count, statement in
            switch statement.value {
            case .spawn, .fork: count + 1
            default: count
            }
        }
        processIndex.reserveCapacity(processIndex.count + created)
        processes.reserveCapacity(processes.count + created)
    }

    /// For each process name that will hold many mappings at once (at least
    /// `minimumMappingCapacityHint`), about the most it holds: its mmap and shmat statements less
    /// its munmaps of whole mappings and shmdts before them, at their peak. Performance: `spawn`
    /// reserves that much room in the process's dictionary of mappings, which otherwise grows
    /// by doubling, moving every mapping each time (a tenth of alloc-mix 64G's run). Only room:
    /// which mappings exist, and every result, stay the same.
    static func mappingCapacityHints(_ statements: [Located<Statement>]) -> [String: Int] {
        var live: [String: (now: Int, peak: Int)] = [:]
        // (One lookup per statement: the entry is changed in place.)
        func count(_ entry: inout (now: Int, peak: Int), _ delta: Int) {
            entry.now += delta
            entry.peak = max(entry.peak, entry.now)
        }
        // Performance: the counts of the process the statements before named are kept out of
        // the dictionary until another process is named (alloc-mix: 200,000 mmaps of one
        // process, each a hash of its name); the counts are the same.
        var current: (process: String, counts: (now: Int, peak: Int))? = nil
        func add(_ process: String, _ delta: Int) {
            if current?.process != process {
                if let (name, counts) = current { live[name] = counts }
                current = (process, live[process] ?? (0, 0))
            }
            count(&current!.counts, delta)
        }
        for statement in statements {
            switch statement.value {
            case .mmap(let process, _, _, _), .shmat(let process, _, _): add(process, 1)
            case .munmap(let process, _, let range) where range == .whole: add(process, -1)
            case .shmdt(let process, _): add(process, -1)
            default: break
            }
        }
        if let (name, counts) = current { live[name] = counts }
        return live.compactMapValues { $0.peak >= minimumMappingCapacityHint ? $0.peak : nil }
    }

    /// Below this many mappings, growing a process's dictionary costs little.
    static let minimumMappingCapacityHint = 4096

    /// The report so far.
    public var report: Report { Report(machine: machine, measures: measures, errors: errors) }

    /// Applies one statement and returns what the kernel answered it: the errno of a refused
    /// call, the placement of a mapping, the processes killed. Statements the kernel would refuse
    /// are recorded in `errors` too, and so are the processes the OOM killer killed while it ran
    /// (their error events carry ENOMEM; the outcome's `errno` is the statement's own).
    @discardableResult
    public mutating func apply(_ located: Located<Statement>) -> Outcome {
        outcome = Outcome()
        applyStatement(located)
        reconcileSomPoolAfter(located.value)
        // (Performance: asked only when there are events; the statement's text is formatted
        // only then either way, but the closure that would format it held a copy of the
        // statement for every statement.)
        if !capacityEvents.isEmpty { recordCapacityEvents(line: located.location.line, statement: WorkloadPrinter.format(located.value)) }
        peakWorkloadPages = max(peakWorkloadPages, anonPages + cachePagesPresent + tablePages + liveProcesses * budget.pgdPages)
        // (Performance: the outcome is moved out, not copied; the next statement starts from an
        // empty one anyway.)
        var answered = Outcome()
        swap(&answered, &outcome)
        return answered
    }

    /// Applies `statements[range]` in order, as `apply` each. Performance: where they hold
    /// random touches enough and `measureThreads` allows a second thread, the touches' samples
    /// are drawn ahead on it (`SamplePrefetcher`); the results are the same.
    public mutating func apply(contentsOf statements: [Located<Statement>], range: Range<Int>? = nil) {
        let range = range ?? statements.indices
        let ahead: SamplePrefetcher?
        switch samplesAhead {
        case .off:
            ahead = nil
        case .whenWorthwhile:
            ahead = measureThreads > 1 && SamplePrefetcher.worthwhile(statements, range: range) ? SamplePrefetcher(statements, range: range, buildsRuns: bulkTakesDrawnRuns) : nil
        case .waiting:
            ahead = SamplePrefetcher(statements, range: range, waits: true, buildsRuns: bulkTakesDrawnRuns)
        }
        guard let ahead else {
            for k in range { apply(statements[k]) }
            return
        }
        samples = ahead
        ahead.start()
        for k in range {
            ahead.begin(k)
            apply(statements[k])
        }
        ahead.finish()
        samples = nil
        samplesTaken = (ahead.taken, ahead.drawn)
    }

    /// The most memory the workload's own pages held at once, between statements: private
    /// anonymous and page-cache pages, and page tables (HugeTLB pools and the kernel's own
    /// structures not included). `validate` checks that the machine it runs on has it free.
    public var peakWorkloadBytes: UInt64 { peakWorkloadPages * constants.pageBytes }

    /// Turns `capacityEvents` into error events of the statement on `line`.
    /// (`statement` is the statement's text, formatted only when there is an event to report.)
    mutating func recordCapacityEvents(line: Int, statement text: @autoclosure () -> String) {
        guard !capacityEvents.isEmpty else { return }
        let statement = text()
        for event in capacityEvents {
            switch event {
            case .oomKill(let process):
                errors.append(
                    ErrorEvent(
                        line: line, statement: statement, errno: .ENOMEM, outcome: .oomKill, process: process,
                        detail: "out of memory: the OOM killer killed \(process) (SIGKILL)"))
            case .poolTrimmed(let huge, let requested, let allocated):
                errors.append(
                    ErrorEvent(
                        line: line, statement: statement, errno: .ENOMEM, outcome: .poolTrimmed, process: nil,
                        detail: "the \(huge.token) HugeTLB pool holds \(allocated) of the \(requested) pages asked for: that is what RAM holds"))
            case .overcommitRefused(let huge):
                errors.append(
                    ErrorEvent(
                        line: line, statement: statement, errno: .EINVAL, process: nil,
                        detail: "the kernel refuses surplus \(huge.token) HugeTLB pages (nr_overcommit_hugepages of gigantic pages: EINVAL); the pool gets none"))
            }
        }
        capacityEvents.removeAll()
    }

    private mutating func applyStatement(_ located: Located<Statement>) {
        let line = located.location.line
        let statement = located.value
        if case .measure(let label) = statement {
            measure(label: label)
            return
        }
        if case .sysctl(let huge, let pages) = statement {
            setPoolSize(huge, pages)
            return
        }
        if case .spawn(let name) = statement {
            if processIndex[name] != nil {
                record(statement, line: line, errno: .EEXIST, detail: "process name \(UserText.quoted(name)) is already taken: the statement is ignored")
                return
            }
            spawn(name)
            return
        }
        // A process can have died of a signal (or never existed, in statements built in code).
        guard let name = statement.process, let p = processID(named: name), processes[p].alive else {
            record(statement, line: line, errno: .ESRCH)
            return
        }
        switch statement {
        case .fork(_, let child):
            if processIndex[child] != nil {
                record(statement, line: line, errno: .EEXIST, detail: "process name \(UserText.quoted(child)) is already taken: the statement is ignored")
                return
            }
            fork(p, child: child)
        case .exit:
            exit(p)
        case .mmap(_, let mapping, let length, let options):
            // (Performance: `contains` asks without copying the mapping out.)
            if processes[p].mappings.contains(mapping) {
                record(statement, line: line, errno: .EEXIST, detail: "process \(UserText.quoted(name)) already has a mapping named \(UserText.quoted(mapping)): the statement is ignored")
                return
            }
            if length == 0 || length % options.pageBytes != 0 {
                record(statement, line: line, errno: .EINVAL, detail: "the length is not a positive multiple of the page size: the statement is ignored")
                return
            }
            // A file is opened before it is mapped, and stays open (Files.swift).
            var fileObject: GroupID? = nil
            if let file = options.file {
                let (object, errno) = openForMmap(p, file: file, options: options, pageCount: length / options.pageBytes)
                if let errno {
                    record(statement, line: line, errno: errno)
                    return
                }
                fileObject = object
            }
            if let errno = mmap(p, name: mapping, length: length, options: options, fileObject: fileObject, line: line) {
                record(statement, line: line, errno: errno)
            }
        case .munmap(_, let mapping, let range):
            if let errno = munmap(p, mapping, range: range) {
                record(statement, line: line, errno: errno)
            }
        case .madvise(_, let mapping, let advice, let range):
            if let errno = madvise(p, mapping, advice, range) {
                record(statement, line: line, errno: errno)
            }
        case .touch(_, let mapping, let access, let range, let pattern):
            if let errno = touch(p, mapping, access, range, pattern) {
                record(statement, line: line, errno: errno)
            }
        case .shmget(_, let key, let length, let huge):
            if let errno = shmget(p, key: key, length: length, huge: huge) {
                record(statement, line: line, errno: errno)
            }
        case .shmat(_, let key, let mapping):
            if processes[p].mappings[mapping] != nil {
                record(statement, line: line, errno: .EEXIST, detail: "process \(UserText.quoted(name)) already has a mapping named \(UserText.quoted(mapping)): the statement is ignored")
                return
            }
            if let errno = shmat(p, key: key, mapping: mapping, line: line) {
                record(statement, line: line, errno: errno)
            }
        case .shmdt(_, let mapping):
            if let errno = shmdt(p, mapping) {
                record(statement, line: line, errno: errno)
            }
        case .shmrm(_, let key):
            if let errno = shmrm(key) {
                record(statement, line: line, errno: errno)
            }
        case .spawn, .measure, .sysctl:
            break
        case .mprotect(_, let mapping, let protection, let range):
            if let errno = mprotect(p, mapping, protection, range) {
                record(statement, line: line, errno: errno)
            }
        case .mlock(_, let mapping, let range), .munlock(_, let mapping, let range):
            let lock: Bool
            if case .mlock = statement { lock = true } else { lock = false }
            if let errno = mlock(p, mapping, range, lock: lock) {
                record(statement, line: line, errno: errno)
            }
        case .ftruncate(_, let file, let size):
            if let errno = ftruncate(p, file: file, sizeBytes: size) { record(statement, line: line, errno: errno) }
        case .fallocate(_, let file, let offset, let length, let punch):
            if let errno = fallocate(p, file: file, offsetBytes: offset, lengthBytes: length, punch: punch) { record(statement, line: line, errno: errno) }
        case .close(_, let file):
            if let errno = close(p, file: file) { record(statement, line: line, errno: errno) }
        case .unlink(_, let file):
            if let errno = unlink(p, file: file) { record(statement, line: line, errno: errno) }
        case .mremap(_, let mapping, let length, let mayMove):
            if let errno = mremap(p, mapping, length: length, mayMove: mayMove, line: line) {
                record(statement, line: line, errno: errno)
            }
        case .malloc, .realloc, .free, .objectAccess:
            if let (errno, detail) = runAllocator(p, statement, line: line) {
                record(statement, line: line, errno: errno, detail: detail)
            }
        }
    }

    /// `processIndex[name]`. Performance: runs of statements name one process; its id is kept,
    /// which a name keeps for good (spawn and fork refuse a name taken, by a live process or a
    /// dead one), so that each statement compares the name instead of hashing it.
    /// Two names are kept, the last named first: a fleet's statements alternate between a
    /// master that forks and the worker it forked, which a fork names (`named(_:_:)`).
    private mutating func processID(named name: String) -> ProcessID? {
        if let last = lastNamedProcess, last.name == name { return last.id }
        if let before = namedBefore, before.name == name {
            swap(&lastNamedProcess, &namedBefore)
            return before.id
        }
        guard let id = processIndex[name] else { return nil }
        named(name, id)
        return id
    }

    /// Keeps `name`'s id as the last named (see `processID(named:)`).
    mutating func named(_ name: String, _ id: ProcessID) {
        namedBefore = lastNamedProcess
        lastNamedProcess = (name, id)
    }

    private mutating func record(_ statement: Statement, line: Int, errno: Errno, detail: String? = nil) {
        errors.append(ErrorEvent(line: line, statement: WorkloadPrinter.format(statement), errno: errno, detail: detail))
        outcome.errno = errno
    }
}
