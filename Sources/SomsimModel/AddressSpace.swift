// Address space: a process, its mappings and page states, VMA flags, layout and VMA merging —
// mm/vma.c, mm/mmap.c (vm_unmapped_area).

import SomsimWorkload

/// How one page of a mapping is mapped in one process.
enum PageState: ExtentValue {
    /// No page-table entry.
    case none
    /// The shared zero page, mapped read-only by a read fault on private anonymous memory.
    case zero
    /// A private anonymous page of run `run`, at the same index; write-protected after fork.
    case anon(run: GroupID, writable: Bool)
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
    /// `mprotect`: PROT_READ|PROT_WRITE (`write`, every mapping's start), PROT_READ or PROT_NONE.
    /// An access it forbids raises SIGSEGV (Protection.swift).
    var protection: Protection = .write
    /// `mlock`: VM_LOCKED, counted in `locked_bytes` (VmLck). Never set on HugeTLB (mlock_fixup
    /// leaves it out); a forked child does not inherit it (Protection.swift).
    var locked = false
    /// Tells apart two neighbouring VMAs that fork left unmerged: dup_mmap copies the parent's
    /// VMAs one by one and clears VM_LOCKED without merging them, so a locked VMA and its
    /// unlocked neighbour become two VMAs with equal flags in the child (Protection.swift:
    /// `dropLocks`). Cleared again where mprotect, mlock or munlock changes the VMA (vma_modify
    /// merges it then).
    var forkSplit = false
}

/// One mapping (`mmap MAP …`) in one process.
struct Mapping {
    var name: String
    /// Virtual address of the first byte.
    var start: UInt64
    var options: MmapOptions
    var pageCount: UInt64
    /// The page-cache object behind a shared, file or shared HugeTLB mapping.
    var object: GroupID?
    var pages: PageMap
    var vma: ExtentMap<VMAFlags>
    /// Private HugeTLB: pages whose reservation is still outstanding. Only the process that made
    /// the mapping holds a reservation (mm/hugetlb.c: HPAGE_RESV_OWNER); a forked child has none.
    var reservation: ExtentMap<Bool>? {
        get { rare?.reservation }
        set { if newValue != nil || rare != nil { uniqueRare().reservation = newValue } }
        _modify {
            // Moved out of the box while it changes: a copy would make the map's arrays shared,
            // and copied on the first write.
            let box = uniqueRare()
            var value = box.reservation.take()
            defer { box.reservation = value }
            yield &value
        }
    }
    /// Private HugeTLB in a child whose pages the owner took back when the pool ran dry
    /// (HPAGE_RESV_UNMAPPED): any later fault on a missing page raises SIGBUS.
    var reservationUnmapped: Bool {
        get { rare?.reservationUnmapped ?? false }
        set { if newValue || rare != nil { uniqueRare().reservationUnmapped = newValue } }
    }
    /// The SysV segment key this mapping attaches (`shmat`), nil for an mmap.
    var shmKey: String? {
        get { rare?.shmKey }
        set { if newValue != nil || rare != nil { uniqueRare().shmKey = newValue } }
    }
    /// The fields only HugeTLB and SysV mappings set, apart (nil until one is set). Performance:
    /// inline they made every mapping 248 bytes, 200 without them; alloc-mix keeps 205,813
    /// mappings, and moves each into the process's table and in and out of it for its faults.
    private var rare: Rare? = nil
    private final class Rare {
        var reservation: ExtentMap<Bool>? = nil
        var reservationUnmapped = false
        var shmKey: String? = nil

        func copy() -> Rare {
            let copy = Rare()
            copy.reservation = reservation
            copy.reservationUnmapped = reservationUnmapped
            copy.shmKey = shmKey
            return copy
        }
    }
    /// The box of rare fields, made if there is none and copied if another mapping value shares
    /// it (a copy of this mapping: the fields are values).
    private mutating func uniqueRare() -> Rare {
        if rare == nil {
            rare = Rare()
        } else if !isKnownUniquelyReferenced(&rare!) {
            rare = rare!.copy()
        }
        return rare!
    }
    /// Where this process maps a PMD-size THP (or the huge zero page) with one PMD entry instead
    /// of a PTE table; nil until the mapping gets one. Meaningful only where `pages` is `.anon` or
    /// `.zero`: every path that maps a page from `.none` sets it.
    var pmdMapped: ExtentMap<Bool>? = nil
    /// Mappings of one process that the kernel merged into one VMA when they were made (see
    /// `Simulator.mergeGroup`) share this id: they share that VMA's anon_vma.
    var mergedVMA: Int32? = nil

    init(name: String, start: UInt64, options: MmapOptions, pageCount: UInt64, object: GroupID?, pages: PageMap, vma: ExtentMap<VMAFlags>, reservation: ExtentMap<Bool>?) {
        self.name = name
        self.start = start
        self.options = options
        self.pageCount = pageCount
        self.object = object
        self.pages = pages
        self.vma = vma
        self.reservation = reservation
    }

    var pageBytes: UInt64 { options.pageBytes }
    var end: UInt64 { start + pageCount * pageBytes }
    /// The file page of the mapping's page 0 (`fileoffset=`): mapping page i is page
    /// `fileOffsetPages + i` of `object` (Files.swift).
    var fileOffsetPages: UInt64 { options.fileOffsetPages }
    /// Mapping pages `pages` as pages of the mapping's object.
    func inFile(_ pages: Range<UInt64>) -> Range<UInt64> {
        (pages.lowerBound + fileOffsetPages)..<(pages.upperBound + fileOffsetPages)
    }
    /// Pages `filePages` of the mapping's object as pages of the mapping.
    func inMapping(_ filePages: Range<UInt64>) -> Range<UInt64> {
        (filePages.lowerBound - fileOffsetPages)..<(filePages.upperBound - fileOffsetPages)
    }
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
    /// Mappings by name (`MappingTable`: dense slots, changed in place).
    var mappings = MappingTable()
    /// Every mapping's [start, end), sorted by start: placement and page-table freeing need the
    /// neighbours of a range.
    var layout = AddressLayout()
    var pageTables = PageTableSet()
    var minorFaults: UInt64 = 0
    var cowCopies: UInt64 = 0
    var cowReuses: UInt64 = 0
    var signals: [Signal] = []
    /// Whether the process ever mlocked a range: only then does a measure look for locked VMAs.
    var everLocked = false
    /// The program break (mm->brk); the heap starts at `WorkloadWindow.heapAddress`
    /// (ProcessHeap.swift).
    var programBreak = WorkloadWindow.heapAddress
    /// The allocator's state and the workload's objects, from the first allocator statement.
    /// Performance: kept in an immutable box, written whole (as the heap statements do: take it,
    /// change it, put it back): inline, its 240 bytes made every process 448 bytes, which a fleet
    /// of 100,000 forked workers that never call the allocator kept for nothing (issue 12).
    var allocator: ProcessAllocator? {
        get { allocatorBox?.value }
        set { allocatorBox = newValue.map(AllocatorBox.init) }
    }
    private var allocatorBox: AllocatorBox? = nil
    private final class AllocatorBox {
        let value: ProcessAllocator
        init(_ value: ProcessAllocator) { self.value = value }
    }
    /// Mappings the allocator made so far (names of its mmapped chunks: `[malloc-N]`).
    var allocatorMappings = 0

    init(name: String) { self.name = name }

    /// The names of the process's mappings in address order, as the kernel walks its VMAs
    /// (`mappings` is a dictionary, whose order is random).
    var mappingNamesByAddress: [String] { layout.namesInOrder }

    /// The highest address range of `length` bytes aligned to `alignment` that fits in the
    /// workload window below every mapping above it: Linux's top-down search (mm/mmap.c:
    /// vm_unmapped_area with VM_UNMAPPED_AREA_TOPDOWN), restricted to the workload window.
    /// O(log n) in the process's mappings (`AddressLayout`).
    func placement(length: UInt64, alignment: UInt64) -> UInt64? {
        layout.placement(length: length, alignment: alignment)
    }

    /// `placement(length:alignment:)`, asked through a mutating access that changes nothing.
    /// Performance: `processes[p].placement(…)` copied the whole process (its mappings'
    /// dictionary, layout, tables: a retain and a release each) in every mmap, where the read
    /// borrowed it only up to the call; an in-place access lends it (as `withMapping` does).
    mutating func placementInPlace(length: UInt64, alignment: UInt64) -> UInt64? {
        layout.placement(length: length, alignment: alignment)
    }

    mutating func insertLayout(start: UInt64, end: UInt64, name: String) {
        layout.insert(start: start, end: end, name: name)
    }

    /// The first index of `layout` whose range satisfies `above` (which must be false for a
    /// prefix of the ranges and true after it), by binary search.
    func firstLayoutIndex(where above: (AddressLayout.Entry) -> Bool) -> Int {
        layout.firstIndex(where: above)
    }

    /// The names of the mappings that meet `addresses`, in address order.
    func mappingNames(meeting addresses: Range<UInt64>) -> [String] {
        var names: [String] = []
        let first = firstLayoutIndex { $0.end > addresses.lowerBound }
        layout.forEach(from: first) { range in
            guard range.start < addresses.upperBound else { return false }
            names.append(range.name)
            return true
        }
        return names
    }

    /// Removes `start`'s range and returns the end of the range below it and the start of the
    /// range above it, the floor and ceiling the kernel frees page tables between.
    mutating func removeLayout(start: UInt64) -> (floor: UInt64?, ceiling: UInt64?) {
        layout.remove(start: start)
    }

    /// What `body` returns of mapping `name`, which it reads (or changes) in place; nil when the
    /// process has no such mapping. Performance: `mappings[name]` read copies the whole mapping
    /// out, retaining and releasing each of its extent maps, where `body` needs a field or two;
    /// this finds it with one hash and lends it in place.
    mutating func withMapping<R>(_ name: String, _ body: (inout Mapping) -> R) -> R? {
        mappings.withMapping(name, body)
    }
}

// MARK: - VMA merging (mm/vma.c: vma_merge_new_range)

extension Mapping {
    /// Private anonymous 4 KiB memory: the mappings the kernel merges with a neighbour.
    var mergesAsAnonymous: Bool { isPrivate && options.file == nil && huge == nil && !isSingleOwner }
}

extension VMAFlags {
    /// The flags a new anonymous mapping gets, ignoring whether it has an anon_vma.
    var isDefaultForMerge: Bool { mapped && !dontfork && !wipeonfork && !hugepage && !nohugepage && protection == .write && !locked }
}

/// Which process: an index into `Simulator.processes`, in creation order (a process that exited
/// keeps its place).
struct ProcessID: Hashable {
    let index: Int
}

/// Every process of a run, alive or not, in creation order.
struct SimProcesses: Sequence {
    private var all: [SimProcess] = []

    subscript(_ id: ProcessID) -> SimProcess {
        // Performance: reads borrow the process in place (`_read`); a getter returned a copy,
        // retaining and releasing each of its mappings' dictionary, layout and tables for every
        // `processes[p].…` read (a sixth of alloc-mix's engine time).
        _read { yield all[id.index] }
        set { all[id.index] = newValue }
        _modify { yield &all[id.index] }
    }

    /// Process `id`'s mapping `name`, copied out. Performance: a plain function where
    /// `processes[id].mappings[name]` goes through the subscript's `_read` coroutine, whose frame,
    /// called from `forkMapping`, did not fit its caller's buffer and was allocated with malloc
    /// on every fork.
    func mapping(of id: ProcessID, named name: String) -> Mapping? {
        all[id.index].mappings[name]
    }

    /// The ids of every process, in creation order.
    var ids: [ProcessID] { all.indices.map(ProcessID.init(index:)) }

    /// `body` of the processes in place, in creation order, lent inout (pass `&lent[i]` on),
    /// not copied: `body` must only read them. Performance: a measure's pass handed each process
    /// of a fleet to its sums as a copy (retaining and releasing its table, layout and page
    /// tables), on two threads at once; a value passed inout is read where it lies (exclusive
    /// access lets the compiler pass it on without a copy, as `MappingTable.Values.visit` lends
    /// mappings), where a value read through a pointer and passed on was still copied.
    func lend<R>(_ body: (_ lent: UnsafeMutablePointer<SimProcess>?) throws -> R) rethrows -> R {
        // Never written through: `body` only reads (its contract).
        try all.withUnsafeBufferPointer { try body(UnsafeMutablePointer(mutating: $0.baseAddress)) }
    }

    /// Adds a process; returns its id.
    mutating func append(_ process: SimProcess) -> ProcessID {
        all.append(process)
        return ProcessID(index: all.count - 1)
    }

    /// Adds `process`, moved in (an empty, unnamed process is left in its place); returns its
    /// id. Performance: `append` copied a forked child into the table (retaining and releasing
    /// its table, layout and page tables: a tenth of fork's instructions), and neither a
    /// `consuming` parameter nor `consume` (a compiler error in Swift 6.3) spared the copy.
    mutating func append(moving process: inout SimProcess) -> ProcessID {
        all.append(SimProcess(name: ""))
        swap(&all[all.count - 1], &process)
        return ProcessID(index: all.count - 1)
    }

    /// Room for `capacity` processes in all (`Simulator.reserveRoom(for:)`).
    mutating func reserveCapacity(_ capacity: Int) { all.reserveCapacity(capacity) }

    func makeIterator() -> IndexingIterator<[SimProcess]> { all.makeIterator() }

    /// The number of processes, dead or alive.
    var count: Int { all.count }

    /// The processes with ids in `range` (creation order).
    subscript(_ range: Range<Int>) -> ArraySlice<SimProcess> { all[range] }
}

extension Simulator {
    /// A new private anonymous mapping placed right against another private anonymous mapping of
    /// the process, whose touching VMA has the same flags, becomes part of that VMA in the kernel
    /// (mm/vma.c: vma_merge_new_range, can_vma_merge_after/before; is_mergeable_anon_vma allows a
    /// VMA without anon_vma to join one with). The model keeps both mappings but lets them share
    /// the VMA's anon_vma: when either gets anonymous pages, fork copies the page tables of both
    /// (mm/memory.c: vma_needs_copy), and a split later keeps the anon_vma in every part
    /// (anon_vma_clone). Measured: random validation workloads where a mapping only read sat next
    /// to one written (docs/validation.md, "Model changes"). Merges that madvise makes later, and
    /// THPs across the merged range, are not modelled.
    mutating func mergeWithNeighbours(_ p: ProcessID, _ new: inout Mapping) {
        guard new.mergesAsAnonymous else { return }
        // A neighbour that may merge: its name, the flags of its page that touches the new
        // mapping, its merged-VMA id. (Performance: read in place, as is the process; copies of
        // them retained every map they hold.)
        struct Neighbour {
            let name: String
            let edge: VMAFlags
            let mergedVMA: Int32?
        }
        func mergeable(_ m: inout Mapping, edgePage: UInt64, noreserve: Bool) -> Neighbour? {
            guard m.mergesAsAnonymous, m.options.noreserve == noreserve else { return nil }
            let edge = m.vma.value(at: edgePage)
            return edge.isDefaultForMerge ? Neighbour(name: m.name, edge: edge, mergedVMA: m.mergedVMA) : nil
        }
        var above: Neighbour? = nil
        var below: Neighbour? = nil
        let (newStart, newEnd, noreserve) = (new.start, new.end, new.options.noreserve)
        let next = processes[p].firstLayoutIndex { $0.start >= newEnd }
        if next < processes[p].layout.count, case let range = processes[p].layout[next], range.start == newEnd {
            above = processes[p].withMapping(range.name) { mergeable(&$0, edgePage: 0, noreserve: noreserve) } ?? nil
        }
        let previous = processes[p].firstLayoutIndex { $0.end > newStart } - 1
        if previous >= 0, case let range = processes[p].layout[previous], range.end == newStart {
            below = processes[p].withMapping(range.name) { mergeable(&$0, edgePage: $0.pageCount - 1, noreserve: noreserve) } ?? nil
        }
        // With two neighbours that each have an anon_vma of their own, the kernel merges with
        // the one below (prev) only; the model joins below first either way.
        guard let neighbour = below ?? above else { return }
        let edge = neighbour.edge
        let id: Int32
        if let existing = neighbour.mergedVMA {
            id = existing
        } else {
            nextMergedVMA += 1
            id = nextMergedVMA
            processes[p].mappings[neighbour.name]!.mergedVMA = id
        }
        new.mergedVMA = id
        if edge.anonVMA { new.vma.modify(0..<new.pageCount) { _, flags in flags.anonVMA = true } }
        // Filling a gap between two: the one above joins too unless both have an anon_vma.
        if below != nil, let other = above, other.mergedVMA != id, !(edge.anonVMA && other.edge.anonVMA) {
            let joining = other.mergedVMA
            // (The names first: a loop over the table itself would hold a copy of it while
            // changing it, and copy every slot.)
            let names = processes[p].mappings.values.filter { m in m.name == other.name || (joining != nil && m.mergedVMA == joining) }.map(\.name)
            for name in names {
                processes[p].mappings[name]!.mergedVMA = id
            }
            if edge.anonVMA || other.edge.anonVMA { markAnonVMA(p, &new) }
        }
    }

    /// Marks `m` (being faulted, not in `processes[p]`) as having an anon_vma, with every mapping
    /// of the process that shares its VMA. Where the kernel holds `m` as several VMAs (holes, or
    /// different flags), only those that `pages`, the faulting pages, meet get it
    /// (`markAnonVMAOfPieces`).
    mutating func markAnonVMA(_ p: ProcessID, _ m: inout Mapping, pages: Range<UInt64>? = nil) {
        var reachesEdge = true
        if let pages {
            // The faulting pages' VMA has one already (and so do the VMAs it shares it with).
            var marked = true
            m.vma.forEach(in: pages) { _, flags in if !flags.anonVMA { marked = false } }
            if marked { return }
        }
        if let pages, let edge = markAnonVMAOfPieces(&m, pages) {
            reachesEdge = edge
        } else {
            // Already marked (every fault that allocates calls this): nothing to do, and the
            // VMA's other mappings were marked with it.
            var marked = true
            m.vma.forEach(in: 0..<m.pageCount) { _, flags in if !flags.anonVMA { marked = false } }
            if marked { return }
            m.vma.modify(0..<m.pageCount) { _, flags in flags.anonVMA = true }
        }
        guard reachesEdge, let id = m.mergedVMA else { return }
        // Only the mappings still in the same VMA: a chain of neighbours, each one VMA with the
        // flags of the edge it continues. A later madvise, mprotect or mlock may have split the
        // merged mappings apart (found by cross-feature random validation: a `wipeonfork` or
        // `hugepage` piece between them; validation/wipeonfork-merged-neighbour.somw).
        let group = processes[p].mappings.values.filter { $0.mergedVMA == id && $0.name != m.name }
        func unanon(_ f: VMAFlags) -> VMAFlags {
            var f = f
            f.anonVMA = false
            return f
        }
        for upward in [true, false] {
            let edgePage = upward ? m.pageCount - 1 : 0
            guard m.vma.value(at: edgePage).anonVMA else { continue }
            let flags = unanon(m.vma.value(at: edgePage))
            var boundary = upward ? m.end : m.start
            while let other = group.first(where: { upward ? $0.start == boundary : $0.end == boundary }),
                  isOneVMA(other), unanon(other.vma.value(at: 0)) == flags {
                if !other.vma.value(at: 0).anonVMA {
                    processes[p].mappings[other.name]!.vma.modify(0..<other.pageCount) { _, flags in flags.anonVMA = true }
                }
                boundary = upward ? other.end : other.start
            }
        }
    }
}

extension Simulator {
    func address(_ pages: Range<UInt64>, in mapping: Mapping) -> Range<UInt64> {
        (mapping.start + pages.lowerBound * mapping.pageBytes)..<(mapping.start + pages.upperBound * mapping.pageBytes)
    }
}

extension Mapping {
    /// Single-owner memory from the som pool (`mmap … som`).
    var isSingleOwner: Bool { options.som }
}
