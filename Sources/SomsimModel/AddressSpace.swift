import SomsimWorkload

/// How one page of a mapping is mapped in one process.
enum PageState: ExtentValue {
    /// No page-table entry.
    case none
    /// The shared zero page, mapped read-only by a read fault on private anonymous memory.
    case zero
    /// A private anonymous page of run `run`, at the same index; write-protected after fork.
    case anon(run: Int32, writable: Bool)
    /// The page-cache page at the same index of the mapping's object; `dirty` is this process's
    /// page-table dirty bit. Private file mappings map it read-only (a write copies it).
    case cache(writable: Bool, dirty: Bool)
}

/// Per-range attributes of a mapping: where they differ, the kernel has split the VMA.
struct VMAFlags: ExtentValue {
    /// False where the range is not in this process's address space (a `dontfork` range the
    /// child did not inherit): touching it raises SIGSEGV.
    var mapped = true
    var dontfork = false
    var wipeonfork = false
    var hugepage = false
    var nohugepage = false
    /// The VMA has an anon_vma: it got private anonymous pages (or inherited them). Only such
    /// VMAs, and HugeTLB ones, have their page tables copied at fork (mm/memory.c:
    /// vma_needs_copy).
    var anonVMA = false
}

/// One mapping (`mmap MAP …`) in one process.
struct Mapping {
    var name: String
    /// Virtual address of the first byte.
    var start: UInt64
    var options: MmapOptions
    var pageCount: UInt64
    /// The page-cache object behind a shared, file or shared HugeTLB mapping.
    var object: Int32?
    var pages: ExtentMap<PageState>
    var vma: ExtentMap<VMAFlags>
    /// Private HugeTLB: pages whose reservation is still outstanding. Only the process that made
    /// the mapping holds a reservation (mm/hugetlb.c: HPAGE_RESV_OWNER); a forked child has none.
    var reservation: ExtentMap<Bool>?
    /// Private HugeTLB in a child whose pages the owner took back when the pool ran dry
    /// (HPAGE_RESV_UNMAPPED): any later fault on a missing page raises SIGBUS.
    var reservationUnmapped = false
    /// Where this process maps a PMD-size THP (or the huge zero page) with one PMD entry instead
    /// of a PTE table; nil until the mapping gets one. Meaningful only where `pages` is `.anon` or
    /// `.zero`: every path that maps a page from `.none` sets it.
    var pmdMapped: ExtentMap<Bool>? = nil

    var pageBytes: UInt64 { options.pageBytes }
    var end: UInt64 { start + pageCount * pageBytes }
    var huge: HugePageSize? { options.huge }
    /// MAP_PRIVATE of anonymous memory or of a file: writes copy.
    var isPrivate: Bool { !options.shared }
    /// Pages a private mapping owns outright (anonymous memory, or HugeTLB private memory).
    var isPrivateAnonymousLike: Bool { isPrivate && (options.file == nil || huge != nil) }
    /// The lowest page-table level whose entries map this mapping's pages: 0 PTE, 1 PMD, 2 PUD.
    var mappingLevel: Int {
        switch huge {
        case nil: return 0
        case .size2M: return 1
        case .size1G: return 2
        }
    }
}

/// A simulated process: its mappings, page tables and counters.
struct SimProcess {
    var name: String
    var alive = true
    /// Mappings by name.
    var mappings: [String: Mapping] = [:]
    /// Every mapping's [start, end), sorted by start: placement and page-table freeing need the
    /// neighbours of a range.
    var layout: [(start: UInt64, end: UInt64)] = []
    var pageTables = PageTableSet()
    var minorFaults: UInt64 = 0
    var cowCopies: UInt64 = 0
    var cowReuses: UInt64 = 0
    var signals: [String] = []

    init(name: String) { self.name = name }

    /// The highest address range of `length` bytes aligned to `alignment` that fits in the
    /// workload window below every mapping above it: Linux's top-down search (mm/mmap.c:
    /// vm_unmapped_area with VM_UNMAPPED_AREA_TOPDOWN), restricted to the workload window.
    func placement(length: UInt64, alignment: UInt64) -> UInt64? {
        var ceiling = WorkloadWindow.highAddress
        for range in layout.reversed() {
            if let address = Self.fit(length, alignment, below: ceiling, above: range.end) { return address }
            ceiling = range.start
        }
        return Self.fit(length, alignment, below: ceiling, above: WorkloadWindow.lowAddress)
    }

    private static func fit(_ length: UInt64, _ alignment: UInt64, below ceiling: UInt64, above floor: UInt64) -> UInt64? {
        guard ceiling >= floor, ceiling - floor >= length else { return nil }
        let address = (ceiling - length) / alignment * alignment
        return address >= floor ? address : nil
    }

    mutating func insertLayout(start: UInt64, end: UInt64) {
        let index = layout.firstIndex { $0.start > start } ?? layout.count
        layout.insert((start, end), at: index)
    }

    /// Removes `start`'s range and returns the end of the range below it and the start of the
    /// range above it, the floor and ceiling the kernel frees page tables between.
    mutating func removeLayout(start: UInt64) -> (floor: UInt64?, ceiling: UInt64?) {
        guard let index = layout.firstIndex(where: { $0.start == start }) else { return (nil, nil) }
        layout.remove(at: index)
        let floor = index > 0 ? layout[index - 1].end : nil
        let ceiling = index < layout.count ? layout[index].start : nil
        return (floor, ceiling)
    }
}
