/// What `somsim record` reads of live processes, as plain values: the pure half of the recorder.
///
/// The Linux reader (`Recorder`, Recorder.swift) fills it from /proc/PID/maps, smaps and pagemap
/// and /proc/kpagecount and kpageflags; `RecordBuilder` turns it into a workload. Tests build
/// snapshots by hand.
public struct RecordSnapshot: Sendable, Equatable {
    public var processes: [Process]
    /// The machine's RAM (the memory blocks present) and page-table isolation, for the
    /// `machine` line.
    public var ramBytes: UInt64
    public var pti: Bool?
    /// Free-form lines for the header (the command, the time, the kernel).
    public var header: [String]

    public init(processes: [Process], ramBytes: UInt64 = 16 << 30, pti: Bool? = nil, header: [String] = []) {
        self.processes = processes
        self.ramBytes = ramBytes
        self.pti = pti
        self.header = header
    }

    /// One process: its place in the tree and its VMAs.
    public struct Process: Sendable, Equatable {
        public var pid: Int32
        /// The parent's pid (`PPid`); a recorded parent makes this process its forked child.
        public var parent: Int32?
        /// `comm`, for comments.
        public var command: String
        /// Clock ticks after boot the process started (field 22 of /proc/PID/stat): the order
        /// of a parent's forks.
        public var startTime: UInt64
        public var vmas: [VMA]

        public init(pid: Int32, parent: Int32? = nil, command: String = "", startTime: UInt64 = 0, vmas: [VMA]) {
            self.pid = pid
            self.parent = parent
            self.command = command
            self.startTime = startTime
            self.vmas = vmas
        }
    }

    /// One line of /proc/PID/maps, its smaps counters and its present pages.
    public struct VMA: Sendable, Equatable {
        public var start: UInt64
        public var end: UInt64
        /// `rw-p`, `rw-s`, …
        public var permissions: String
        /// The file offset (bytes) of `start`.
        public var offset: UInt64
        /// `MAJOR:MINOR`, as maps writes it.
        public var device: String
        public var inode: UInt64
        /// The path or the kernel's name (`[heap]`, `/dev/zero (deleted)`); empty for anonymous.
        public var path: String
        /// smaps counters as written (kB, except counts).
        public var smaps: [String: UInt64]
        /// Present pages in address order (zero pages left out).
        public var pages: [PageRun]
        /// Something the reader met that the recording cannot reproduce (swapped-out pages, …).
        public var problem: String?

        public init(
            start: UInt64, end: UInt64, permissions: String = "rw-p", offset: UInt64 = 0, device: String = "00:00", inode: UInt64 = 0, path: String = "",
            smaps: [String: UInt64] = [:], pages: [PageRun] = [], problem: String? = nil
        ) {
            self.start = start
            self.end = end
            self.permissions = permissions
            self.offset = offset
            self.device = device
            self.inode = inode
            self.path = path
            self.smaps = smaps
            self.pages = pages
            self.problem = problem
        }

        public var pageCount: UInt64 { (end - start) / 4096 }
        public var isShared: Bool { permissions.hasSuffix("s") }
        public var kernelPageBytes: UInt64 { (smaps["KernelPageSize"] ?? 4) * 1024 }

        /// The line as maps shows it, shortened: `7f12a000-7f12b000 rw-p [heap]`.
        public var summary: String {
            "\(String(start, radix: 16))-\(String(end, radix: 16)) \(permissions)" + (path.isEmpty ? "" : " \(path)")
        }
    }

    /// A run of present pages of one VMA that share their state.
    public struct PageRun: Sendable, Equatable {
        /// The first page's index in its VMA.
        public var first: UInt64
        public var count: UInt64
        /// The first page's frame; page i of the run is frame `pfn + i`. Meaningless (0) for
        /// exclusive private pages, which no other process can map.
        public var pfn: UInt64
        /// Mapped by this process only (pagemap's PM_MMAP_EXCLUSIVE).
        public var exclusive: Bool
        /// Mappings of each page (/proc/kpagecount); 1 when exclusive.
        public var mapcount: UInt64
        /// The folio's dirty flag (KPF_DIRTY); meaningful for shared memory.
        public var dirty: Bool
        /// Pages of PMD-mapped transparent huge pages; such runs hold whole 2 MiB blocks.
        public var pmdTHP: Bool

        public init(first: UInt64, count: UInt64, pfn: UInt64 = 0, exclusive: Bool = true, mapcount: UInt64 = 1, dirty: Bool = true, pmdTHP: Bool = false) {
            self.first = first
            self.count = count
            self.pfn = pfn
            self.exclusive = exclusive
            self.mapcount = mapcount
            self.dirty = dirty
            self.pmdTHP = pmdTHP
        }
    }
}
