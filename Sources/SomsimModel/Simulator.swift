import SomsimWorkload

/// Replays a workload through a model of today's kernel: processes, mappings, faults, fork and
/// copy-on-write, HugeTLB pools and reservations, page tables.
///
/// Pure: no syscalls, no I/O. Cost grows with statements and extents, not with bytes.
public struct Simulator {
    public let machine: MachineSpec
    public let constants: KernelConstants

    var processes: [SimProcess] = []
    var processIndex: [String: Int] = [:]
    var groups: [FrameGroup] = []
    var namedObjects: [String: Int32] = [:]
    var pools: [HugePageSize: HugePool] = [:]
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
    /// Whether read faults on shared and file memory are taken one access at a time (the
    /// reference path); tests turn it on to hold the extent-based path to it.
    var faultAroundByPage = false

    public internal(set) var measures: [Measure] = []
    public private(set) var errors: [ErrorEvent] = []
    /// Where each mapping was placed, in statement order: a real run maps at the same addresses.
    public private(set) var placements: [Placement] = []

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
        pools[.size2M] = HugePool()
        pools[.size1G] = HugePool()
        budget = MemoryBudget(machine: machine, constants: constants, bootMemmapPages: Self.bootMemmapPages(machine.ramBytes, constants))
        sizePools()
        fixedPages = fixedUsedPages()
        recordCapacityEvents(line: machineLine, statement: WorkloadPrinter.format(machine: machine) ?? "machine")
    }

    /// Runs a whole workload and returns its report, with a final measure labelled "end".
    public static func run(_ workload: Workload, constants: KernelConstants = KernelConstants()) -> Report {
        var simulator = Simulator(machine: workload.machine, constants: constants, machineLine: workload.machineLine ?? 0)
        for statement in workload.statements {
            simulator.apply(statement)
        }
        simulator.measure(label: "end")
        return simulator.report
    }

    /// The report so far.
    public var report: Report { Report(machine: machine, measures: measures, errors: errors) }

    /// Applies one statement. Statements the kernel would refuse are recorded in `errors`, and
    /// so are the processes the OOM killer killed while it ran.
    public mutating func apply(_ located: Located<Statement>) {
        applyStatement(located)
        recordCapacityEvents(line: located.location.line, statement: WorkloadPrinter.format(located.value))
        peakWorkloadPages = max(peakWorkloadPages, anonPages + cachePagesPresent + tablePages + liveProcesses * budget.pgdPages)
    }

    /// The most memory the workload's own pages held at once, between statements: private
    /// anonymous and page-cache pages, and page tables (HugeTLB pools and the kernel's own
    /// structures not included). `validate` checks that the machine it runs on has it free.
    public var peakWorkloadBytes: UInt64 { peakWorkloadPages * constants.pageBytes }

    /// Turns `capacityEvents` into error events of the statement on `line`.
    mutating func recordCapacityEvents(line: Int, statement: String) {
        for event in capacityEvents {
            switch event {
            case .oomKill(let process):
                errors.append(
                    ErrorEvent(
                        line: line, statement: statement, errno: "ENOMEM", outcome: .oomKill, process: process,
                        detail: "out of memory: the OOM killer killed \(process) (SIGKILL)"))
            case .poolTrimmed(let huge, let requested, let allocated):
                errors.append(
                    ErrorEvent(
                        line: line, statement: statement, errno: "ENOMEM", outcome: .poolTrimmed, process: nil,
                        detail: "the \(huge.token) HugeTLB pool holds \(allocated) of the \(requested) pages asked for: that is what RAM holds"))
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
        if case .spawn(let name) = statement {
            spawn(name)
            return
        }
        // The parser guarantees the names exist; a process can still have died of a signal.
        guard let name = statement.process, let p = processIndex[name], processes[p].alive else {
            record(statement, line: line, errno: "ESRCH")
            return
        }
        switch statement {
        case .fork(_, let child):
            fork(p, child: child)
        case .exit:
            exit(p)
        case .mmap(_, let mapping, let length, let options):
            if let errno = mmap(p, name: mapping, length: length, options: options, line: line) {
                record(statement, line: line, errno: errno)
            }
        case .munmap(_, let mapping):
            munmap(p, mapping)
        case .madvise(_, let mapping, let advice, let range):
            if let errno = madvise(p, mapping, advice, range) {
                record(statement, line: line, errno: errno)
            }
        case .touch(_, let mapping, let access, let range, let pattern):
            if let errno = touch(p, mapping, access, range, pattern) {
                record(statement, line: line, errno: errno)
            }
        case .spawn, .measure:
            break
        }
    }

    private mutating func record(_ statement: Statement, line: Int, errno: String) {
        errors.append(ErrorEvent(line: line, statement: WorkloadPrinter.format(statement), errno: errno))
    }

    // MARK: - Processes

    mutating func spawn(_ name: String) {
        processIndex[name] = processes.count
        processes.append(SimProcess(name: name))
        liveProcesses += 1
    }

    /// Changes process `p`'s page tables, keeping `tablePages`.
    mutating func editTables(_ p: Int, _ body: (inout PageTableSet) -> Void) {
        let before = processes[p].pageTables.total
        body(&processes[p].pageTables)
        tablePages = tablePages + processes[p].pageTables.total - before
    }

    /// fork(2): the child gets a copy of each VMA (mm/mmap.c: dup_mmap). DONTFORK VMAs are left
    /// out, WIPEONFORK VMAs arrive empty, and page-table entries are copied only for VMAs that
    /// have an anon_vma (mm/memory.c: vma_needs_copy) — HugeTLB included since the special case
    /// was dropped; private pages then become write-protected in both processes. Shared, file and
    /// zero-page-only VMAs are faulted in again by the child (measured: docs/kernel-facts, 2e, 4b,
    /// 6 "shared hugetlb").
    mutating func fork(_ p: Int, child name: String) {
        var child = SimProcess(name: name)
        child.layout = processes[p].layout
        for (mappingName, var parentMapping) in processes[p].mappings {
            var mapping = parentMapping
            mapping.pages = ExtentMap(length: parentMapping.pageCount, value: .none)
            mapping.reservation = nil
            mapping.reservationUnmapped = false
            var inherited = false
            for (range, flags) in parentMapping.vma.extents(in: 0..<parentMapping.pageCount) {
                let addresses = address(range, in: parentMapping)
                // Single-owner (`som`) memory is never inherited, like a DONTFORK range.
                if !flags.mapped || flags.dontfork || parentMapping.isSingleOwner {
                    mapping.vma.modify(range) { _, f in f.mapped = false }
                    continue
                }
                inherited = true
                if flags.wipeonfork {
                    mapping.vma.modify(range) { _, f in f.anonVMA = false }
                    continue
                }
                guard flags.anonVMA else { continue }
                child.pageTables.copy(from: processes[p].pageTables, for: addresses)
                for (pages, state) in parentMapping.pages.extents(in: range) {
                    switch state {
                    case .none:
                        break
                    case .zero:
                        mapping.pages.assign(pages, .zero)
                    case .anon(let run, _):
                        addMapcount(group: run, pages, delta: 1)
                        parentMapping.pages.assign(pages, .anon(run: run, writable: false))
                        mapping.pages.assign(pages, .anon(run: run, writable: false))
                    case .cache(let writable, let dirty):
                        if let object = mapping.object { addMapcount(group: object, pages, delta: 1) }
                        mapping.pages.assign(pages, .cache(writable: writable, dirty: dirty))
                    }
                }
            }
            if !inherited {
                mapping.object = nil
            } else if let object = mapping.object {
                groups[Int(object)].mappers += 1
            }
            processes[p].mappings[mappingName] = parentMapping
            child.mappings[mappingName] = mapping
        }
        processIndex[name] = processes.count
        processes.append(child)
        liveProcesses += 1
        liveMappings += UInt64(child.mappings.count)
        tablePages += child.pageTables.total
    }

    /// exit(2): every mapping is unmapped and every page table freed.
    mutating func exit(_ p: Int) {
        for name in Array(processes[p].mappings.keys) {
            munmap(p, name)
        }
        editTables(p) { $0 = PageTableSet() }
        processes[p].alive = false
        liveProcesses -= 1
    }

    /// A signal the kernel raises on a bad access; its default action kills the process.
    mutating func kill(_ p: Int, signal: String) {
        processes[p].signals.append(signal)
        exit(p)
    }

    // MARK: - Mappings

    /// mmap(2). Returns the errno the kernel would give, or nil.
    mutating func mmap(_ p: Int, name: String, length: UInt64, options: MmapOptions, line: Int) -> String? {
        let pageBytes = options.pageBytes
        let pageCount = length / pageBytes
        // HugeTLB mappings are aligned to their page size; 4 KiB mappings whose length is a
        // multiple of 2 MiB are PMD-aligned, as Linux aligns anonymous mappings that THP could back
        // (mm/mmap.c: __get_unmapped_area, thp_get_unmapped_area).
        let pmdBytes: UInt64 = 1 << 21
        let alignment = options.huge != nil ? pageBytes : (length % pmdBytes == 0 ? pmdBytes : constants.pageBytes)
        guard let start = processes[p].placement(length: length, alignment: alignment) else { return "ENOMEM" }
        if overcommitRefuses(length: length, options: options) { return "ENOMEM" }

        var object: Int32? = nil
        var reservation: ExtentMap<Bool>? = nil
        if let huge = options.huge {
            if options.shared || options.file != nil {
                // Shared HugeTLB: the file's reservation covers every page not already reserved
                // or allocated (mm/hugetlb.c: hugetlb_reserve_pages, region_chg).
                let id = pageCacheObject(named: options.file, huge: huge, pageCount: pageCount)
                var needed: UInt64 = 0
                groups[Int(id)].pages.forEach(in: 0..<pageCount) { range, page in
                    if !page.present && !page.reserved { needed += UInt64(range.count) }
                }
                if options.shared {
                    guard pools[huge]!.unreserved >= needed else {
                        dropIfUnused(id)
                        return "ENOMEM"
                    }
                    pools[huge]!.reserved += needed
                    groups[Int(id)].pages.modify(0..<pageCount) { _, page in
                        if !page.present { page.reserved = true }
                    }
                }
                // A private mapping of a HugeTLB file maps the pages the file has in its page
                // cache read-only (docs/kernel-facts 11a).
                object = id
            }
            if !options.shared {
                // A private mapping reserves every page, cached or not (mm/hugetlb.c:
                // hugetlb_reserve_pages, chg = to - from for a private mapping; measured:
                // docs/kernel-facts 11, 11g).
                guard pools[huge]!.unreserved >= pageCount else { return "ENOMEM" }
                pools[huge]!.reserved += pageCount
                reservation = ExtentMap(length: pageCount, value: true)
            }
        } else if options.shared || options.file != nil {
            object = pageCacheObject(named: options.file, huge: nil, pageCount: pageCount)
        }
        if let object { groups[Int(object)].mappers += 1 }

        var mapping = Mapping(
            name: name, start: start, options: options, pageCount: pageCount, object: object,
            pages: ExtentMap(length: pageCount, value: .none),
            vma: ExtentMap(length: pageCount, value: VMAFlags()),
            reservation: reservation)
        mergeWithNeighbours(p, &mapping)
        processes[p].mappings[name] = mapping
        liveMappings += 1
        processes[p].insertLayout(start: start, end: mapping.end, name: name)
        placements.append(Placement(line: line, process: processes[p].name, mapping: name, address: start, lengthBytes: length))

        if options.populate {
            // MAP_POPULATE faults every page in: writes for private writable mappings, reads for
            // shared ones (mm/gup.c: populate_vma_page_range). Each counts in ru_minflt like a
            // fault from user space (measured: docs/kernel-facts, 1d and 9).
            let access: Access = options.shared ? .read : .write
            fault(p, name, pages: [0..<pageCount], access: access)
        }
        return nil
    }

    /// The page-cache object for a named file, or a new one for an anonymous shared mapping.
    private mutating func pageCacheObject(named file: String?, huge: HugePageSize?, pageCount: UInt64) -> Int32 {
        if let file {
            let key = huge.map { "\(file)@\($0.token)" } ?? file
            if let id = namedObjects[key] {
                groups[Int(id)].pages.grow(to: pageCount, value: FramePage())
                return id
            }
            let id = newGroup(FrameGroup(kind: .pageCache(named: file), huge: huge, pageCount: pageCount))
            namedObjects[key] = id
            return id
        }
        return newGroup(FrameGroup(kind: .pageCache(named: nil), huge: huge, pageCount: pageCount))
    }

    private mutating func newGroup(_ group: FrameGroup) -> Int32 {
        groups.append(group)
        return Int32(groups.count - 1)
    }

    private mutating func dropIfUnused(_ id: Int32) {
        if case .pageCache(named: nil) = groups[Int(id)].kind, groups[Int(id)].mappers == 0 {
            groups[Int(id)].pages = ExtentMap(length: 0, value: FramePage())
        }
    }

    /// munmap(2) of a whole mapping: pages unmapped (freed when no process maps them any more),
    /// outstanding HugeTLB reservations returned, page tables freed.
    mutating func munmap(_ p: Int, _ name: String) {
        guard let mapping = processes[p].mappings.removeValue(forKey: name) else { return }
        liveMappings -= 1
        zap(p, mapping, 0..<mapping.pageCount)
        if let huge = mapping.huge, let reservation = mapping.reservation {
            var outstanding: UInt64 = 0
            reservation.forEach(in: 0..<mapping.pageCount) { range, held in
                if held { outstanding += UInt64(range.count) }
            }
            pools[huge]!.reserved -= outstanding
        }
        if let object = mapping.object {
            groups[Int(object)].mappers -= 1
            releaseIfUnreferenced(object)
        }
        let (floor, ceiling) = processes[p].removeLayout(start: mapping.start)
        editTables(p) { $0.free(mapping.start..<mapping.end, floor: floor, ceiling: ceiling) }
    }

    /// Removes the page-table entries of `range`, dropping mapcounts and freeing private pages
    /// that no process maps any more. With `restoringReservation` (MADV_DONTNEED by the owner of
    /// a private HugeTLB mapping) a freed page's reservation is given back to the mapping
    /// (mm/hugetlb.c: __unmap_hugepage_range, "restore the reservation"; measured:
    /// docs/kernel-facts, 6h).
    private mutating func zap(_ p: Int, _ mapping: Mapping, _ range: Range<UInt64>, restoringReservation: Bool = false) {
        for (pages, state) in mapping.pages.extents(in: range) {
            switch state {
            case .none, .zero:
                break
            case .anon(let run, _):
                let freed = addMapcount(group: run, pages, delta: -1)
                if let huge = mapping.huge {
                    pools[huge]!.free += freed
                    if restoringReservation && mapping.reservation != nil && freed == UInt64(pages.count) {
                        pools[huge]!.reserved += freed
                        processes[p].mappings[mapping.name]!.reservation!.assign(pages, true)
                    }
                } else {
                    anonPages -= freed
                }
            case .cache(_, let dirty):
                guard let object = mapping.object else { break }
                // Zapping a dirty entry of a file or shmem page moves the dirty bit to the page
                // (mm/memory.c: zap_present_folio_ptes, folio_mark_dirty): whoever still maps
                // it, or maps it later, sees it dirty (measured: docs/kernel-facts 13).
                if dirty { groups[Int(object)].pages.modify(pages) { _, page in page.dirty = true } }
                addMapcount(group: object, pages, delta: -1)
            }
        }
    }

    /// Frees an anonymous page-cache object (shmem or HugeTLB) once no mapping references it.
    private mutating func releaseIfUnreferenced(_ object: Int32) {
        let group = groups[Int(object)]
        guard case .pageCache(named: nil) = group.kind, group.mappers == 0 else { return }
        group.pages.forEach(in: 0..<group.pages.length) { range, page in
            if let huge = group.huge {
                if page.present { pools[huge]!.free += UInt64(range.count) }
                if page.reserved { pools[huge]!.reserved -= UInt64(range.count) }
            } else if page.present {
                cachePagesPresent -= UInt64(range.count)
            }
        }
        groups[Int(object)].pages = ExtentMap(length: 0, value: FramePage())
    }

    /// Adds `delta` to the mapcount of `pages` of a group; returns how many pages it took to zero
    /// (anonymous pages, which then no longer exist).
    @discardableResult
    mutating func addMapcount(group: Int32, _ pages: Range<UInt64>, delta: Int32) -> UInt64 {
        var freed: UInt64 = 0
        let anonymous = groups[Int(group)].kind == .anonymousRun
        groups[Int(group)].pages.addCounter(delta, in: pages) { range, page in
            if anonymous && page.present {
                page.present = false
                freed += UInt64(range.count)
            }
        }
        return freed
    }

    // MARK: - madvise

    /// madvise(2) from `byteRange`'s offset in mapping `name`, for `length=` bytes or to the
    /// mapping's end. Returns the errno the kernel would give, or nil.
    ///
    /// The call is an address range, and it may run past the mapping: into other mappings of the
    /// process, or into unmapped addresses. As madvise_walk_vmas does (mm/madvise.c), the advice
    /// is applied to every VMA the range meets, in address order; a VMA the advice is invalid for
    /// returns its error at once, with the VMAs before it done; an unmapped gap is remembered and
    /// returned as ENOMEM at the end, after everything else was done (measured: docs/kernel-facts
    /// 12). Nothing of the process is assumed to lie outside its workload mappings.
    mutating func madvise(_ p: Int, _ name: String, _ advice: Advice, _ byteRange: ByteRange) -> String? {
        guard let own = processes[p].mappings[name] else { return "ENOMEM" }
        let offset = byteRange.offsetBytes
        let ownBytes = own.end - own.start
        // Without `length=`, the range is the rest of the mapping; past its end there is none.
        guard let length = byteRange.lengthBytes ?? (offset <= ownBytes ? ownBytes - offset : nil) else { return "ENOMEM" }
        // A zero length does nothing, wherever it points (do_madvise).
        if length == 0 { return nil }
        // A range that wraps around the address space is refused (check_input_range).
        let (start, startWraps) = own.start.addingReportingOverflow(offset)
        let (end, endWraps) = start.addingReportingOverflow(length)
        if startWraps || endWraps { return "EINVAL" }

        var unmapped = false
        var position = start
        let met = processes[p].mappingNames(meeting: start..<end).compactMap { processes[p].mappings[$0] }
        for m in met {
            if m.start > position { unmapped = true }
            position = min(m.end, end)
            let bytes = (max(start, m.start) - m.start)..<(position - m.start)
            if let errno = advise(p, m.name, advice, bytes, &unmapped) { return errno }
        }
        if position < end { unmapped = true }
        return unmapped ? "ENOMEM" : nil
    }

    /// Applies `advice` to the byte range `bytes` (offsets inside mapping `name`) of one mapping,
    /// VMA by VMA (the mapping's VMA-attribute extents); a range not in the address space (a
    /// DONTFORK range in a child) sets `unmapped`. Returns the errno that ends the call, or nil.
    ///
    /// Only HugeTLB mappings can be met at an offset that is not a multiple of their page size
    /// (a range coming from a smaller-paged mapping next to them): MADV_DONTNEED then fails when
    /// the range starts inside a huge page and leaves out a last partial huge page
    /// (madvise_dontneed_free_valid_vma), and an advice that changes a VMA's flags fails where
    /// it would have to split the VMA inside a huge page (hugetlb_vm_op_split), unless the flags
    /// already are what it asks (madvise_update_vma returns early). Measured: docs/kernel-facts
    /// 12f, 12g.
    private mutating func advise(_ p: Int, _ name: String, _ advice: Advice, _ bytes: Range<UInt64>, _ unmapped: inout Bool) -> String? {
        let mapping = processes[p].mappings[name]!
        let pageBytes = mapping.pageBytes
        let startsInsidePage = bytes.lowerBound % pageBytes != 0
        let endsInsidePage = bytes.upperBound % pageBytes != 0
        let outer = (bytes.lowerBound / pageBytes)..<((bytes.upperBound + pageBytes - 1) / pageBytes)
        // The VMAs: maximal runs of equal attributes (the map need not keep its extents maximal).
        var vmas: [(range: Range<UInt64>, flags: VMAFlags)] = []
        for (range, flags) in mapping.vma.extents(in: outer) {
            if !flags.mapped {
                unmapped = true
            } else if let last = vmas.last, last.range.upperBound == range.lowerBound, last.flags == flags {
                vmas[vmas.count - 1].range = last.range.lowerBound..<range.upperBound
            } else {
                vmas.append((range, flags))
            }
        }
        guard !vmas.isEmpty else { return nil }
        let kind = mapping.options
        switch advice {
        // Only private anonymous memory can be wiped on fork (mm/madvise.c: a VMA with a file,
        // HugeTLB included, or VM_SHARED is refused); KEEPONFORK is refused nowhere here.
        case .wipeonfork where kind.shared || kind.file != nil || mapping.huge != nil:
            return "EINVAL"
        // Single-owner memory cannot be made inheritable.
        case .dofork where mapping.isSingleOwner:
            return "EINVAL"
        default:
            break
        }
        splitPMDs(p, name, atEdgesOf: outer)
        if advice == .dontneed {
            if startsInsidePage && vmas[0].range.contains(outer.lowerBound) { return "EINVAL" }
            // A last partial huge page is left out.
            let whole = outer.lowerBound..<(bytes.upperBound / pageBytes)
            for vma in vmas where vma.range.overlaps(whole) {
                dontneed(p, name, vma.range.clamped(to: whole))
            }
            return nil
        }
        for vma in vmas {
            let advised = Self.flags(vma.flags, after: advice)
            let partial = (startsInsidePage && vma.range.contains(outer.lowerBound)) || (endsInsidePage && vma.range.contains(outer.upperBound - 1))
            if partial {
                if advised != vma.flags { return "EINVAL" }
                continue
            }
            processes[p].mappings[name]!.vma.modify(vma.range) { _, f in f = Self.flags(f, after: advice) }
        }
        return nil
    }

    /// The VMA flags `flags` become after a flag-setting advice (mm/madvise.c:
    /// madvise_vma_behavior). HUGEPAGE and NOHUGEPAGE are accepted on HugeTLB too, where they
    /// change nothing that matters (measured: docs/kernel-facts 12f).
    private static func flags(_ flags: VMAFlags, after advice: Advice) -> VMAFlags {
        var flags = flags
        switch advice {
        case .dontfork, .dofork: flags.dontfork = advice == .dontfork
        case .wipeonfork, .keeponfork: flags.wipeonfork = advice == .wipeonfork
        case .hugepage, .nohugepage:
            flags.hugepage = advice == .hugepage
            flags.nohugepage = advice == .nohugepage
        case .dontneed: break
        }
        return flags
    }

    /// MADV_DONTNEED of `range` (pages of one VMA of mapping `name`): zaps it; the next touch
    /// faults anew.
    private mutating func dontneed(_ p: Int, _ name: String, _ range: Range<UInt64>) {
        let mapping = processes[p].mappings[name]!
        zap(p, mapping, range, restoringReservation: true)
        processes[p].mappings[name]!.pages.assign(range, .none)
        // CONFIG_PT_RECLAIM (6.14+) frees the PTE tables whose whole 2 MiB span the zap of one
        // VMA emptied; tables it only partly covered stay (measured: docs/kernel-facts, 7f). PMD
        // and PUD tables are never reclaimed this way.
        let addresses = address(range, in: mapping)
        let pmdBytes: UInt64 = 1 << 21
        let first = (addresses.lowerBound + pmdBytes - 1) / pmdBytes
        let last = addresses.upperBound / pmdBytes
        if mapping.huge == nil, first < last {
            editTables(p) { $0.release(level: 0, first..<last) }
        }
    }

    // MARK: - Touch

    /// Reads or writes one byte per page (or per stride, or in COUNT random pages) of a range
    /// (`TouchPattern.pageRuns`, the walk the probe makes too). Returns the errno the kernel
    /// would give (EFAULT past the end of the mapping), or nil.
    mutating func touch(_ p: Int, _ name: String, _ access: Access, _ byteRange: ByteRange, _ pattern: TouchPattern) -> String? {
        guard let mapping = processes[p].mappings[name] else { return "EFAULT" }
        guard let range = byteRange.pages(inMappingOf: mapping.pageCount, pageBytes: mapping.pageBytes) else { return "EFAULT" }
        fault(p, name, pages: pattern.pageRuns(range, pageBytes: mapping.pageBytes), access: access)
        return nil
    }

    func address(_ pages: Range<UInt64>, in mapping: Mapping) -> Range<UInt64> {
        (mapping.start + pages.lowerBound * mapping.pageBytes)..<(mapping.start + pages.upperBound * mapping.pageBytes)
    }
}
