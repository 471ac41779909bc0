import SomsimWorkload

/// What a run of a workload produced: one `Measure` per `measure` statement and a final "end".
///
/// Field names follow the report contract (WORKLOAD-FORMAT.md, "Report output"); renderers map
/// them to snake_case.
public struct Report: Equatable, Sendable {
    public static let schemaVersion = 1
    public var machine: MachineSpec
    public var measures: [Measure]
    /// Statements the kernel would have refused, in order.
    public var errors: [ErrorEvent]

    public init(machine: MachineSpec, measures: [Measure] = [], errors: [ErrorEvent] = []) {
        self.machine = machine
        self.measures = measures
        self.errors = errors
    }
}

/// The state of the machine at one `measure` point.
public struct Measure: Equatable, Sendable {
    public var label: String
    /// Every process that exists or existed, in creation order.
    public var processes: [ProcessMetrics]
    public var system: SystemMetrics
    /// Metadata cost per scheme; the first is always `struct-page`, the baseline.
    public var schemes: [SchemeCost]
    /// How many of the report's error events were recorded before this measure was taken: the
    /// events `errorsBefore` of the previous measure up to this one's happened between the two
    /// (CSV reports give each its measure).
    public var errorsBefore: Int = 0

    public init(label: String, processes: [ProcessMetrics], system: SystemMetrics, schemes: [SchemeCost]) {
        self.label = label
        self.processes = processes
        self.system = system
        self.schemes = schemes
    }
}

/// One process's view of the workload's own mappings, as /proc/PID/smaps would add them up.
public struct ProcessMetrics: Equatable, Sendable {
    public var name: String
    public var alive: Bool
    /// Present pages, HugeTLB excluded (as smaps' `Rss`).
    public var rssBytes: UInt64 = 0
    /// Each present page divided by the number of processes mapping it, with the kernel's rounding.
    public var pssBytes: UInt64 = 0
    /// Pages mapped by this process only (Private_Clean + Private_Dirty).
    public var ussBytes: UInt64 = 0
    public var privateCleanBytes: UInt64 = 0
    public var privateDirtyBytes: UInt64 = 0
    public var sharedCleanBytes: UInt64 = 0
    public var sharedDirtyBytes: UInt64 = 0
    public var privateHugetlbBytes: UInt64 = 0
    public var sharedHugetlbBytes: UInt64 = 0
    /// PTE, PMD and PUD tables that map the workload's address range (as `VmPTE` counts them).
    public var pageTableBytes: UInt64 = 0
    /// Page faults the process took on workload memory since it was created (as `ru_minflt`).
    public var minorFaults: UInt64 = 0
    /// Write faults that copied a page.
    public var cowCopies: UInt64 = 0
    /// Write faults on a write-protected page no other process maps: reused, not copied.
    public var cowReuses: UInt64 = 0
    /// Signals the workload's accesses raised in this process (`SIGBUS`, `SIGSEGV`).
    public var signals: [Signal] = []
    /// Bytes of the process's mlocked ranges, as `VmLck` in /proc/PID/status (mm->locked_vm):
    /// whole locked ranges, present or not; HugeTLB never counts.
    public var lockedBytes: UInt64 = 0
    /// The part of `pssBytes` from anonymous pages (smaps_rollup's `Pss_Anon`): private pages
    /// and the copies a write made in a private file mapping; shmem (shared anonymous memory,
    /// tmpfs, SysV) is not anonymous. The same fixed point as `pssBytes`, shifted back once.
    public var pssAnonBytes: UInt64 = 0
    /// Anonymous memory mapped by PMD-size THPs (smaps' `AnonHugePages`): a THP another
    /// process split, or that this process maps with PTEs, counts only where a PMD maps it here;
    /// mTHP, the huge zero page and the som pool do not count.
    public var anonHugePagesBytes: UInt64 = 0

    public init(name: String, alive: Bool) {
        self.name = name
        self.alive = alive
    }
}

/// Machine-wide counters, as /proc/vmstat and /proc/meminfo show them.
public struct SystemMetrics: Equatable, Sendable {
    /// The memmap in pages: `nr_memmap_boot_pages + nr_memmap_pages`, HVO applied.
    public var memmapPages: UInt64 = 0
    /// HugeTLB pool sizes, as `nr_hugepages` reads back: less than the `machine` line asks
    /// for when RAM cannot hold it.
    public var hugetlb2MTotal: UInt64 = 0
    public var hugetlb1GTotal: UInt64 = 0
    public var hugetlb2MFree: UInt64 = 0
    public var hugetlb2MReserved: UInt64 = 0
    public var hugetlb1GFree: UInt64 = 0
    public var hugetlb1GReserved: UInt64 = 0
    /// Surplus pages of each pool (HugePages_Surp): pages beyond the persistent pool size, given
    /// back to the page allocator as they are freed.
    public var hugetlb2MSurplus: UInt64 = 0
    public var hugetlb1GSurplus: UInt64 = 0
    /// Private anonymous pages of the workload, counted once however many processes map them.
    public var anonBytes: UInt64 = 0
    /// Every live process's workload page tables plus its top-level table (PGD).
    public var pageTableBytes: UInt64 = 0
    /// Pages of the shmem page-cache objects (`Shmem` in /proc/meminfo): tmpfs and memfd files,
    /// shared anonymous memory, SysV shared memory; HugeTLB files not included.
    public var shmemBytes: UInt64 = 0
    /// The single-owner pool of the workload's `som` mappings (SomPool.swift): its chunks, its
    /// 2 MiB units used and free, the bytes of units processes hold that no page maps
    /// (stranded), and the free units in partly used chunks (fragmentation).
    public var somPoolChunks: UInt64 = 0
    public var somUnitsUsed: UInt64 = 0
    public var somUnitsFree: UInt64 = 0
    public var somStrandedBytes: UInt64 = 0
    public var somFragmentedUnits: UInt64 = 0

    public init() {}
}

/// The metadata one scheme keeps for the machine.
public struct SchemeCost: Equatable, Sendable {
    public var scheme: String
    public var metadataBytes: UInt64
    /// `metadataBytes / ram`.
    public var metadataRatio: Double

    public init(scheme: String, metadataBytes: UInt64, metadataRatio: Double) {
        self.scheme = scheme
        self.metadataBytes = metadataBytes
        self.metadataRatio = metadataRatio
    }
}

/// A statement the kernel would refuse, or an out-of-memory outcome it caused; the run records
/// it and goes on.
public struct ErrorEvent: Equatable, Sendable {
    /// Line of the statement in the workload file (the `machine` line for a trimmed pool).
    public var line: Int
    /// The statement as written (canonical form).
    public var statement: String
    /// The errno the kernel would give, by name (`ENOMEM`, `EINVAL`, …); `ENOMEM` for the
    /// out-of-memory outcomes.
    public var errno: Errno
    /// What the kernel did beyond refusing a call; nil when it only returned `errno`.
    public var outcome: Outcome?
    /// The process the outcome befell (the OOM killer's victim).
    public var process: String?
    /// The outcome in words.
    public var detail: String?

    /// Out-of-memory outcomes (docs/model.md, "Memory capacity").
    public enum Outcome: String, Equatable, Sendable {
        /// A page fault found no free memory; the OOM killer killed `process` (SIGKILL).
        case oomKill = "oom-kill"
        /// A HugeTLB pool got fewer pages than asked for, as `nr_hugepages` reads back less.
        case poolTrimmed = "pool-trimmed"
    }

    public init(line: Int, statement: String, errno: Errno, outcome: Outcome? = nil, process: String? = nil, detail: String? = nil) {
        self.line = line
        self.statement = statement
        self.errno = errno
        self.outcome = outcome
        self.process = process
        self.detail = detail
    }
}
