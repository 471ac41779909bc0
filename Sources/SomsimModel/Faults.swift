import SomsimWorkload

/// What one touch statement did, carried through the fault handlers.
struct FaultTally {
    var faults: UInt64 = 0
    var copies: UInt64 = 0
    var reuses: UInt64 = 0
    /// The run that holds the pages this statement allocates, made on first use.
    var newRun: Int32?
    /// The mapping has been marked as having an anon_vma during this statement.
    var anonVMAMarked = false
    /// Table indices, at the level that maps the touched mapping's pages, this statement already
    /// populated.
    var populatedTables: Range<UInt64> = 0..<0
    /// The signal that stopped the touch, if any.
    var signal: String?
    /// Memory is nearly exhausted: this step allocates no large folio (`makeRoom`).
    var noLargeFolios = false
}

extension Simulator {
    /// Accesses every page of `ranges` (ascending page indices of mapping `name` in process `p`)
    /// in order, as a program touching one byte per page would, taking the faults the kernel
    /// takes. A SIGBUS or SIGSEGV stops the touch and kills the process.
    @discardableResult
    mutating func fault(_ p: Int, _ name: String, pages ranges: [Range<UInt64>], access: Access) -> Bool {
        guard var mapping = processes[p].mappings.removeValue(forKey: name) else { return true }
        var tally = FaultTally()
        let handledInBulk = bulkFault(p, &mapping, ranges, access, &tally)
        ranges: for range in ranges where !handledInBulk {
            var position = range.lowerBound
            while position < range.upperBound {
                let vma = mapping.vma.extent(containing: position)
                guard vma.value.mapped else {
                    tally.signal = "SIGSEGV"
                    break ranges
                }
                let extent = mapping.pages.extent(containing: position)
                var end = min(extent.range.upperBound, vma.range.upperBound, range.upperBound)
                // A step never straddles PMD-mapped and PTE-mapped pages: they fault differently.
                if let pmdMapped = mapping.pmdMapped {
                    end = min(end, pmdMapped.extent(containing: position).range.upperBound)
                }
                guard makeRoom(p, mapping, position, &end, extent.value, access, &tally) else { break ranges }
                position = handle(p, &mapping, position..<end, extent.value, access, &tally)
                if tally.signal != nil { break ranges }
            }
        }
        processes[p].mappings[name] = mapping
        processes[p].minorFaults += tally.faults
        processes[p].cowCopies += tally.copies
        processes[p].cowReuses += tally.reuses
        if let signal = tally.signal {
            kill(p, signal: signal)
            return false
        }
        return true
    }

    /// The bulk path of `fault`: a touch of many ranges (random or strided) that all lie in one
    /// extent of one state and one VMA of 4 KiB private anonymous memory where no large folio can
    /// be allocated. It does exactly what the page-by-page path does — the differential test in
    /// BulkTouchTests holds it to that — but with one merge pass per map instead of several
    /// lookups per page. Returns false, having changed nothing, when it does not apply.
    private mutating func bulkFault(_ p: Int, _ m: inout Mapping, _ ranges: [Range<UInt64>], _ access: Access, _ tally: inout FaultTally) -> Bool {
        guard bulkTouches, ranges.count >= 16, m.huge == nil, m.isPrivateAnonymousLike, !m.isSingleOwner, m.pmdMapped == nil else {
            return false
        }
        let span = ranges[0].lowerBound..<ranges[ranges.count - 1].upperBound
        let vma = m.vma.extent(containing: span.lowerBound)
        guard vma.value.mapped, vma.range.upperBound >= span.upperBound else { return false }
        if !largeFolioOrders.isEmpty && Self.thpAllowed(machine.thp, vma.value) { return false }
        let extent = m.pages.extent(containing: span.lowerBound)
        guard extent.range.upperBound >= span.upperBound else { return false }
        let total = ranges.reduce(0) { $0 + UInt64($1.count) }
        // Near the memory limit the page-by-page path decides, step by step, what fits.
        guard roomPages() >= total else { return false }
        switch (extent.value, access) {
        case (.zero, .read), (.anon(_, true), _), (.anon(_, false), .read):
            return true  // present and accessible: no fault
        case (.none, .read):
            m.pages.assign(sortedRanges: ranges) { _ in .zero }
            tally.faults += total
            mapTables(p, m, coveringTablesOf: ranges)
        case (.none, .write), (.zero, .write):
            let run = runForTally(&tally, m)
            groups[Int(run)].pages.assign(sortedRanges: ranges) { _ in FramePage(mapcount: 1, present: true, dirty: true) }
            m.pages.assign(sortedRanges: ranges) { _ in .anon(run: run, writable: true) }
            markAnonVMA(p, &m)
            tally.anonVMAMarked = true
            anonPages += total
            tally.faults += total
            mapTables(p, m, coveringTablesOf: ranges)
        case (.anon(let run, false), .write):
            // Reuse where this process alone maps the page, copy where others do too.
            var reused: [Range<UInt64>] = []
            var copied: [Range<UInt64>] = []
            var small = true
            for range in ranges {
                groups[Int(run)].pages.forEach(in: range) { pages, page in
                    if page.order > 0 { small = false }
                    if page.mapcount <= 1 { reused.append(pages) } else { copied.append(pages) }
                }
            }
            guard small else { return false }
            let copiedCount = copied.reduce(0) { $0 + UInt64($1.count) }
            for range in copied { addMapcount(group: run, range, delta: -1) }
            m.pages.assign(sortedRanges: reused) { _ in .anon(run: run, writable: true) }
            if !copied.isEmpty {
                let new = runForTally(&tally, m)
                groups[Int(new)].pages.assign(sortedRanges: copied) { _ in FramePage(mapcount: 1, present: true, dirty: true) }
                m.pages.assign(sortedRanges: copied) { _ in .anon(run: new, writable: true) }
            }
            anonPages += copiedCount
            tally.faults += total
            tally.copies += copiedCount
            tally.reuses += total - copiedCount
        default:
            return false
        }
        return true
    }

    /// Allocates the page tables for every page of `ranges` (4 KiB pages), one call per run of
    /// adjacent PTE tables.
    private mutating func mapTables(_ p: Int, _ m: Mapping, coveringTablesOf ranges: [Range<UInt64>]) {
        let shift = PageTableSet.spanShifts[0]
        var current: Range<UInt64>? = nil
        for range in ranges {
            let tables = PageTableSet.indices(address(range, in: m), level: 0)
            if let run = current, tables.lowerBound <= run.upperBound {
                current = run.lowerBound..<max(run.upperBound, tables.upperBound)
            } else {
                if let run = current { editTables(p) { $0.populate((run.lowerBound << shift)..<(run.upperBound << shift), lowestLevel: 0) } }
                current = tables
            }
        }
        if let run = current { editTables(p) { $0.populate((run.lowerBound << shift)..<(run.upperBound << shift), lowestLevel: 0) } }
    }

    /// Handles an access to `pages`, all in state `state`; returns where handling stopped (the
    /// end, unless a signal was raised).
    private mutating func handle(
        _ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, _ state: PageState, _ access: Access, _ tally: inout FaultTally
    ) -> UInt64 {
        let count = UInt64(pages.count)
        switch state {
        case .none:
            if !tally.noLargeFolios, let folio = largeFolio(p, m, at: pages.lowerBound, access) {
                let run = folio.order == Self.pmdOrder ? pmdRun(p, m, from: folio.range, within: pages) : folio.range
                return faultLargeFolio(p, &m, run, order: folio.order, m.isSingleOwner ? .write : access, pages, &tally)
            }
            if m.isPrivateAnonymousLike {
                // The kernel decides the folio size fault by fault: a 4 KiB fallback reaches only
                // to the next aligned block that could get a large folio (measured: an unaligned
                // mapping under mthp=64K takes one 4 KiB fault, then 64 KiB folios: validation/mthp-unaligned.somw).
                let pages = pages.lowerBound..<smallFolioEnd(m, pages, access)
                let count = UInt64(pages.count)
                // Single-owner memory has no zero page: the pool serves every first touch.
                if access == .read && m.huge == nil && !m.isSingleOwner {
                    // A read of untouched private anonymous memory maps the zero page
                    // (mm/memory.c: do_anonymous_page); no anon_vma is made for it.
                    m.pages.assign(pages, .zero)
                    setPMDMapped(&m, pages, false)
                    tally.faults += count
                    mapTables(p, m, pages)
                    return pages.upperBound
                }
                if m.huge != nil && m.object != nil { return faultPrivateHugeFile(p, &m, pages, access, &tally) }
                // A private HugeTLB page is mapped writable only by a write fault: a read maps it
                // read-only (mm/hugetlb.c: hugetlb_no_page makes a writable entry only for
                // VM_SHARED), so a later write takes a fault of its own, a reuse (measured:
                // docs/kernel-facts 10a).
                return allocatePrivate(p, &m, pages, fromReservation: true, writable: access == .write || m.huge == nil, &tally)
            }
            if m.huge != nil { return faultSharedHuge(p, &m, pages, &tally) }
            if access == .read { return readFaultAround(p, &m, pages, &tally) }
            if m.isPrivate {
                // A write to a page a private file mapping has not mapped reads the file page into
                // the page cache and copies it straight into a new private page
                // (mm/memory.c: do_cow_fault): one fault, no page-cache page mapped.
                cachePages(m.object!, pages, dirty: false)
                return allocatePrivate(p, &m, pages, fromReservation: false, &tally)
            }
            // Shared write fault: the page-cache page is made (if needed), dirtied and mapped
            // writable (mm/memory.c: do_shared_fault).
            cachePages(m.object!, pages, dirty: true)
            addMapcount(group: m.object!, pages, delta: 1)
            m.pages.assign(pages, .cache(writable: true, dirty: true))
            tally.faults += count
            mapTables(p, m, pages)
            return pages.upperBound

        case .zero:
            // Writing the zero page allocates a new zeroed page: a fault, not a copy.
            if access == .read { return pages.upperBound }
            if let stop = writePMDMapped(p, &m, pages, state, &tally) { return stop }
            return allocatePrivate(p, &m, pages, fromReservation: true, &tally)

        case .anon(let run, let writable):
            if access == .read || writable { return pages.upperBound }
            if let stop = writePMDMapped(p, &m, pages, state, &tally) { return stop }
            return writeProtected(p, &m, pages, run: run, &tally)

        case .cache(let writable, let dirty):
            if access == .read { return pages.upperBound }
            if m.isPrivate {
                // A private file page is mapped read-only; writing copies it
                // (mm/memory.c: wp_page_copy; file pages are never reused). A HugeTLB copy of a
                // page-cache page takes the owner's reservation for that page (mm/hugetlb.c:
                // hugetlb_wp, outside_reserve only when the old page is not the page-cache page;
                // measured: docs/kernel-facts 11b, 11f).
                addMapcount(group: m.object!, pages, delta: -1)
                m.pages.assign(pages, .none)
                let stop = allocatePrivate(p, &m, pages, fromReservation: true, &tally)
                tally.copies += stop - pages.lowerBound
                return stop
            }
            // Shared pages are mapped writable: the write only sets the dirty bit, no fault.
            if !dirty || !writable { m.pages.assign(pages, .cache(writable: true, dirty: true)) }
            return pages.upperBound
        }
    }

    // MARK: - Private pages

    /// Allocates new private pages for `pages` (a fault each). HugeTLB pages come from the pool:
    /// the reservation of the process that made the mapping first, then free pages no reservation
    /// holds; when there are none the fault raises SIGBUS (mm/hugetlb.c: alloc_hugetlb_folio).
    private mutating func allocatePrivate(
        _ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, fromReservation: Bool, writable: Bool = true, _ tally: inout FaultTally
    ) -> UInt64 {
        var end = pages.upperBound
        if let huge = m.huge {
            if m.reservationUnmapped {
                tally.signal = "SIGBUS"
                return pages.lowerBound
            }
            end = takeHugePages(huge, &m, pages, fromReservation: fromReservation)
        } else {
            anonPages += UInt64(pages.count)
        }
        let taken = pages.lowerBound..<end
        if !taken.isEmpty {
            let run = runForTally(&tally, m)
            groups[Int(run)].pages.assign(taken, FramePage(mapcount: 1, present: true, dirty: true))
            m.pages.assign(taken, .anon(run: run, writable: writable))
            setPMDMapped(&m, taken, false)
            if !tally.anonVMAMarked {
                markAnonVMA(p, &m)
                tally.anonVMAMarked = true
            }
            tally.faults += UInt64(taken.count)
            mapTables(p, m, taken, &tally)
        }
        if end < pages.upperBound { tally.signal = "SIGBUS" }
        return end
    }

    /// Takes pool pages for `pages` of a HugeTLB mapping; returns the end of what it could take.
    private mutating func takeHugePages(_ huge: HugePageSize, _ m: inout Mapping, _ pages: Range<UInt64>, fromReservation: Bool) -> UInt64 {
        var position = pages.lowerBound
        while position < pages.upperBound {
            let held = fromReservation ? (m.reservation?.extent(containing: position)) : nil
            if let held, held.value {
                let end = min(held.range.upperBound, pages.upperBound)
                let n = end - position
                pools[huge]!.reserved -= n
                pools[huge]!.free -= n
                m.reservation!.assign(position..<end, false)
                position = end
                continue
            }
            let end = min(held?.range.upperBound ?? pages.upperBound, pages.upperBound)
            let n = min(end - position, pools[huge]!.unreserved)
            pools[huge]!.free -= n
            position += n
            if position < end { return position }
        }
        return position
    }

    private mutating func runForTally(_ tally: inout FaultTally, _ m: Mapping) -> Int32 {
        if let run = tally.newRun { return run }
        groups.append(FrameGroup(kind: .anonymousRun, huge: m.huge, pageCount: m.pageCount))
        let run = Int32(groups.count - 1)
        groups[Int(run)].singleOwner = m.isSingleOwner
        tally.newRun = run
        return run
    }

    /// A write to write-protected private pages: reused where no other process maps the page
    /// (mm/memory.c: wp_can_reuse_anon_folio; counted as pgreuse), copied where one does.
    private mutating func writeProtected(_ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, run: Int32, _ tally: inout FaultTally) -> UInt64 {
        // One page (random and strided touches) needs no list of extents.
        let extents: [(range: Range<UInt64>, value: FramePage)] =
            pages.count == 1 ? [(pages, groups[Int(run)].pages.value(at: pages.lowerBound))] : groups[Int(run)].pages.extents(in: pages)
        for (range, page) in extents {
            if page.order > 0 {
                writeLargeFolio(p, &m, range, run: run, order: page.order, &tally)
                continue
            }
            if page.mapcount <= 1 {
                m.pages.assign(range, .anon(run: run, writable: true))
                tally.faults += UInt64(range.count)
                tally.reuses += UInt64(range.count)
                continue
            }
            var copyEnd = range.upperBound
            if let huge = m.huge {
                // HugeTLB COW takes a page outside any reservation. When the pool has none, the
                // owner of the mapping takes the page back from the processes it shares it with,
                // which then die of SIGBUS when they next touch it, and reuses it; anyone else
                // dies of SIGBUS now (mm/hugetlb.c: hugetlb_wp, unmap_ref_private).
                copyEnd = range.lowerBound + min(UInt64(range.count), pools[huge]!.unreserved)
                if copyEnd < range.upperBound && m.reservation != nil {
                    let stolen = copyEnd..<range.upperBound
                    unmapFromOthers(p, m.name, run: run, stolen)
                    m.pages.assign(stolen, .anon(run: run, writable: true))
                    tally.faults += UInt64(stolen.count)
                    tally.reuses += UInt64(stolen.count)
                }
            }
            let copied = range.lowerBound..<copyEnd
            if !copied.isEmpty {
                addMapcount(group: run, copied, delta: -1)
                // A HugeTLB copy can still fail (SIGBUS) and must not leave the old page mapped;
                // a 4 KiB copy always succeeds and overwrites the entry itself.
                if m.huge != nil { m.pages.assign(copied, .none) }
                _ = allocatePrivate(p, &m, copied, fromReservation: false, &tally)
                tally.copies += UInt64(copied.count)
            }
            if copyEnd < range.upperBound && m.reservation == nil {
                tally.signal = "SIGBUS"
                return copyEnd
            }
        }
        return pages.upperBound
    }

    /// Unmaps `pages` of `run` from every other process's mapping `name` and marks those
    /// mappings so that a later fault there raises SIGBUS.
    private mutating func unmapFromOthers(_ p: Int, _ name: String, run: Int32, _ pages: Range<UInt64>) {
        for q in processes.indices where q != p && processes[q].alive {
            guard var other = processes[q].mappings[name] else { continue }
            var touched = false
            for (range, state) in other.pages.extents(in: pages) {
                if case .anon(run, _) = state {
                    addMapcount(group: run, range, delta: -1)
                    other.pages.assign(range, .none)
                    touched = true
                }
            }
            if touched {
                other.reservationUnmapped = true
                processes[q].mappings[name] = other
            }
        }
    }

    // MARK: - Page-cache pages

    /// Makes `pages` of a page-cache object exist (a fault allocates a missing shmem or tmpfs page).
    private mutating func cachePages(_ object: Int32, _ pages: Range<UInt64>, dirty: Bool) {
        var made: UInt64 = 0
        groups[Int(object)].pages.modify(pages) { range, page in
            if !page.present { made += UInt64(range.count) }
            page.present = true
            if dirty { page.dirty = true }
        }
        if groups[Int(object)].huge == nil { cachePagesPresent += made }
    }

    /// The pages (mapping indices) a read fault on page `index` maps around it when they are in
    /// the page cache (mm/memory.c: do_fault_around): `faultAroundPages` pages from the fault's
    /// address aligned down to that size, or from the VMA's start when that is later; clamped to
    /// the VMA's end and to the end of the PTE table (a window never crosses a table). A VMA is
    /// a maximal range of equal `VMAFlags`: the kernel splits a VMA where they differ.
    func faultAroundWindow(_ m: Mapping, at index: UInt64) -> Range<UInt64> {
        let vma = m.vma.extent(containing: index).range
        let n = constants.faultAroundPages
        let perTable = UInt64(1) << constants.bitsPerLevel
        let pte = (m.start / constants.pageBytes + index) % perTable
        let vmaOffset = index - vma.lowerBound
        let from = max(pte / n * n, pte - min(pte, vmaOffset))
        let to = min(from + n, perTable, pte + (vma.upperBound - index))
        return (index + from - pte)..<(index + to - pte)
    }

    /// A read fault on a file or shmem mapping: the kernel first maps the cached pages of the
    /// fault-around window (`faultAroundWindow`), then reads the faulting page if it is not
    /// cached (mm/memory.c: do_read_fault, do_fault_around, filemap_map_pages). `pages` are all
    /// unmapped here, and are read in order.
    ///
    /// Faults are counted over the object's extents, not page by page: every page missing from
    /// the cache takes a fault of its own, and every window takes one more fault when the first
    /// of its touched pages that no earlier window mapped is already cached. Windows are aligned
    /// blocks, except the first of a VMA that does not start on a window boundary: that one runs
    /// from the VMA's start and may overlap the first aligned block. `readFaultAroundByPage` is
    /// the page-by-page reference this is held to (FaultAroundTests), and validation/ pins both
    /// to the kernel.
    private mutating func readFaultAround(_ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, _ tally: inout FaultTally) -> UInt64 {
        guard !pages.isEmpty else { return pages.upperBound }
        if faultAroundByPage { return readFaultAroundByPage(p, &m, pages, &tally) }
        let object = m.object!
        let n = constants.faultAroundPages
        let vma = m.vma.extent(containing: pages.lowerBound).range
        let basePage = m.start / constants.pageBytes
        /// The first page at or after `index` whose address is aligned to the window.
        func alignedAtOrAfter(_ index: UInt64) -> UInt64 { (basePage + index + n - 1) / n * n - basePage }
        func present(_ index: UInt64) -> Bool { groups[Int(object)].pages.value(at: index).present }
        /// The first page of `range` missing from the cache, if any.
        func firstMissing(_ range: Range<UInt64>) -> UInt64? {
            for (r, page) in groups[Int(object)].pages.sequence(in: range) where !page.present { return r.lowerBound }
            return nil
        }
        var faults: UInt64 = 0
        for (r, page) in groups[Int(object)].pages.sequence(in: pages) where !page.present { faults += UInt64(r.count) }
        var windows: [Range<UInt64>] = []
        let firstAligned = alignedAtOrAfter(vma.lowerBound)
        var headEnd = pages.lowerBound
        if pages.lowerBound < firstAligned {
            // The VMA's first window: the first access faults and maps its cached pages.
            let head = faultAroundWindow(m, at: pages.lowerBound)
            if present(pages.lowerBound) { faults += 1 }
            windows.append(head)
            headEnd = head.upperBound
        }
        if max(pages.lowerBound, firstAligned) < pages.upperBound {
            let alignedPart = max(pages.lowerBound, firstAligned)..<pages.upperBound
            let block = faultAroundWindow(m, at: alignedPart.lowerBound)
            let touched = alignedPart.lowerBound..<min(block.upperBound, pages.upperBound)
            if headEnd > touched.lowerBound {
                // The head window already mapped the cached pages of [start, headEnd): the block
                // faults at its first page that is still unmapped, if any.
                let overlap = touched.lowerBound..<min(headEnd, touched.upperBound)
                if firstMissing(overlap) != nil {
                    windows.append(block)
                } else if overlap.upperBound < touched.upperBound {
                    if present(overlap.upperBound) { faults += 1 }
                    windows.append(block)
                }
            } else {
                if present(touched.lowerBound) { faults += 1 }
                windows.append(block)
            }
            // Every later block is touched from its aligned first page.
            if block.upperBound < pages.upperBound {
                let later = block.upperBound..<pages.upperBound
                for (r, page) in groups[Int(object)].pages.sequence(in: later) where page.present {
                    let first = alignedAtOrAfter(r.lowerBound)
                    if first < r.upperBound { faults += (r.upperBound - first + n - 1) / n }
                }
                windows.append(faultAroundWindow(m, at: pages.upperBound - 1))
            }
        }
        tally.faults += faults
        // Cached pages of the windows outside the touched range are mapped too.
        for window in windows {
            if window.lowerBound < pages.lowerBound {
                mapCached(object, &m, window.lowerBound..<min(window.upperBound, pages.lowerBound))
            }
            if window.upperBound > pages.upperBound {
                mapCached(object, &m, max(window.lowerBound, pages.upperBound)..<window.upperBound)
            }
        }
        cachePages(object, pages, dirty: false)
        addMapcount(group: object, pages, delta: 1)
        m.pages.assign(pages, .cache(writable: !m.isPrivate, dirty: false))
        mapTables(p, m, pages)
        return pages.upperBound
    }

    /// Maps every page of `range` that is in the page cache and not yet mapped in `m`.
    private mutating func mapCached(_ object: Int32, _ m: inout Mapping, _ range: Range<UInt64>) {
        for (cached, page) in groups[Int(object)].pages.extents(in: range) where page.present {
            for (unmapped, state) in m.pages.extents(in: cached) where state == .none {
                addMapcount(group: object, unmapped, delta: 1)
                m.pages.assign(unmapped, .cache(writable: !m.isPrivate, dirty: false))
            }
        }
    }

    /// `readFaultAround` the way the kernel takes it, one access at a time: an access to an
    /// unmapped page faults, maps the cached pages of its window, and reads the page into the
    /// cache if it is not there. The reference for the extent-based path, used when
    /// `faultAroundByPage` is set.
    mutating func readFaultAroundByPage(_ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, _ tally: inout FaultTally) -> UInt64 {
        let object = m.object!
        for index in pages where m.pages.value(at: index) == .none {
            tally.faults += 1
            mapCached(object, &m, faultAroundWindow(m, at: index))
            if m.pages.value(at: index) == .none {
                cachePages(object, index..<(index + 1), dirty: false)
                mapCached(object, &m, index..<(index + 1))
            }
        }
        mapTables(p, m, pages)
        return pages.upperBound
    }

    /// A fault on a shared HugeTLB mapping: the file's page is mapped, allocated first from the
    /// file's reservation or, failing that, from free pages no reservation holds (else SIGBUS).
    private mutating func faultSharedHuge(_ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, _ tally: inout FaultTally) -> UInt64 {
        let object = m.object!
        let huge = m.huge!
        var end = pages.lowerBound
        for (range, page) in groups[Int(object)].pages.extents(in: pages) {
            var n = UInt64(range.count)
            if !page.present {
                if page.reserved {
                    pools[huge]!.reserved -= n
                    pools[huge]!.free -= n
                } else {
                    n = min(n, pools[huge]!.unreserved)
                    pools[huge]!.free -= n
                }
                groups[Int(object)].pages.modify(range.lowerBound..<(range.lowerBound + n)) { _, page in
                    page.present = true
                    page.reserved = false
                }
            }
            end = range.lowerBound + n
            if n < UInt64(range.count) { break }
        }
        let mapped = pages.lowerBound..<end
        if !mapped.isEmpty {
            addMapcount(group: object, mapped, delta: 1)
            m.pages.assign(mapped, .cache(writable: true, dirty: true))
            tally.faults += UInt64(mapped.count)
            mapTables(p, m, mapped)
        }
        if end < pages.upperBound { tally.signal = "SIGBUS" }
        return end
    }

    /// A fault on pages a private mapping of a HugeTLB file has not mapped. A page the file has
    /// in its page cache is mapped read-only, as it is (a read), or copied at once into a page
    /// of the mapping's own reservation (a write: the copy `hugetlb_wp` makes in the same fault,
    /// not counted as a COW copy); a page the file does not have becomes a private page of the
    /// mapping, never a page-cache page (mm/hugetlb.c: hugetlb_no_page; measured:
    /// docs/kernel-facts 11a-11d).
    private mutating func faultPrivateHugeFile(
        _ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, _ access: Access, _ tally: inout FaultTally
    ) -> UInt64 {
        let object = m.object!
        for (range, page) in groups[Int(object)].pages.extents(in: pages) {
            if page.present && access == .read {
                addMapcount(group: object, range, delta: 1)
                m.pages.assign(range, .cache(writable: false, dirty: false))
                tally.faults += UInt64(range.count)
                mapTables(p, m, range, &tally)
                continue
            }
            let stop = allocatePrivate(p, &m, range, fromReservation: true, writable: access == .write, &tally)
            if stop < range.upperBound { return stop }
        }
        return pages.upperBound
    }

    /// Allocates the page tables that map `pages` of `m` in process `p`.
    private mutating func mapTables(_ p: Int, _ m: Mapping, _ pages: Range<UInt64>) {
        let addresses = address(pages, in: m)
        editTables(p) { $0.populate(addresses, lowestLevel: m.mappingLevel) }
    }

    /// `mapTables`, skipping tables this statement already populated: a touch of many pages in
    /// one table (random or strided) then costs one lookup per table, not three per page. Within
    /// one statement nothing frees tables, so what was populated stays.
    private mutating func mapTables(_ p: Int, _ m: Mapping, _ pages: Range<UInt64>, _ tally: inout FaultTally) {
        let tables = PageTableSet.indices(address(pages, in: m), level: m.mappingLevel)
        if tally.populatedTables.lowerBound <= tables.lowerBound && tables.upperBound <= tally.populatedTables.upperBound {
            return
        }
        mapTables(p, m, pages)
        tally.populatedTables = tables
    }
}

// MARK: - Large folios (THP, mTHP)

extension Simulator {
    /// The PMD order: a PMD entry maps 2^9 base pages (2 MiB).
    static let pmdOrder = 9

    /// Folio orders the machine may allocate for private anonymous memory, largest first: the
    /// PMD size when `thp` is not `never`, then each `mthp=` size. Every size follows the
    /// top-level `thp` mode, as `hugepages-SIZEkB/enabled = inherit` does
    /// (Documentation/admin-guide/mm/transhuge.rst).
    var largeFolioOrders: [Int] {
        guard machine.thp != .never else { return [] }
        return [Self.pmdOrder] + mthpOrders.filter { $0 > 0 && $0 < Self.pmdOrder }.sorted(by: >)
    }

    /// The large folio a fault on page `index` of private anonymous mapping `m` allocates, if
    /// any: the largest enabled order whose aligned range lies inside one VMA that THP may back
    /// and has no page mapped yet.
    ///
    /// A PMD-size folio also needs the PMD entry to be empty, that is no PTE table for its 2 MiB
    /// (mm/memory.c: __handle_mm_fault, create_huge_pmd; mm/huge_memory.c:
    /// thp_vma_suitable_order). Smaller orders need every PTE of the range empty (mm/memory.c:
    /// alloc_anon_folio, pte_range_none). A read allocates nothing: below the PMD size it maps
    /// the 4 KiB zero page (do_anonymous_page), at the PMD size the huge zero page.
    func largeFolio(_ p: Int, _ m: Mapping, at index: UInt64, _ access: Access) -> (range: Range<UInt64>, order: Int)? {
        guard m.huge == nil, m.isPrivateAnonymousLike else { return nil }
        // The som pool maps a whole aligned 2 MiB block with one PMD entry, whatever `thp` says.
        let orders = m.isSingleOwner ? [Self.pmdOrder] : largeFolioOrders
        guard !orders.isEmpty else { return nil }
        let access = m.isSingleOwner ? .write : access
        let flags = m.vma.value(at: index)
        guard flags.mapped, m.isSingleOwner || Self.thpAllowed(machine.thp, flags) else { return nil }
        let startPage = m.start / constants.pageBytes
        for order in orders {
            let pmd = order == Self.pmdOrder
            if access == .read && !pmd { continue }
            let span: UInt64 = 1 << UInt64(order)
            let alignedPage = (startPage + index) / span * span
            guard alignedPage >= startPage else { continue }
            let first = alignedPage - startPage
            guard first + span <= m.pageCount else { continue }
            let range = first..<(first + span)
            var uniform = true
            m.vma.forEach(in: range) { _, f in if f != flags { uniform = false } }
            guard uniform else { continue }
            var empty = true
            m.pages.forEach(in: range) { _, state in if state != .none { empty = false } }
            guard empty else { continue }
            if pmd {
                let pmdIndex = (m.start + first * constants.pageBytes) >> PageTableSet.spanShifts[0]
                if processes[p].pageTables.levels[0].value(at: pmdIndex) { continue }
            }
            return (range, order)
        }
        return nil
    }

    /// Where 4 KiB pages allocated from `pages.lowerBound` must stop, so that the next block
    /// aligned to the smallest large-folio size this access could get is decided by a fault of
    /// its own (mm/memory.c: alloc_anon_folio picks an order per fault). Reads only ever get the
    /// PMD-size huge zero page.
    func smallFolioEnd(_ m: Mapping, _ pages: Range<UInt64>, _ access: Access) -> UInt64 {
        guard m.huge == nil, !m.isSingleOwner, let smallest = largeFolioOrders.min(),
            Self.thpAllowed(machine.thp, m.vma.value(at: pages.lowerBound))
        else { return pages.upperBound }
        let span: UInt64 = 1 << UInt64(access == .read ? Self.pmdOrder : smallest)
        let startPage = m.start / constants.pageBytes
        let next = ((startPage + pages.lowerBound) / span + 1) * span - startPage
        return min(pages.upperBound, next)
    }

    /// Whether `thp` mode lets a VMA with `flags` have huge pages (mm/huge_memory.c:
    /// __thp_vma_allowable_orders; VM_HUGEPAGE is MADV_HUGEPAGE, VM_NOHUGEPAGE MADV_NOHUGEPAGE).
    static func thpAllowed(_ mode: THPMode, _ flags: VMAFlags) -> Bool {
        switch mode {
        case .never: return false
        case .madvise: return flags.hugepage
        case .always: return !flags.nohugepage
        }
    }

    /// Extends the PMD-size folio `first` over the following whole 2 MiB blocks of `pages` (one
    /// unmapped extent inside one VMA) that have no PTE table: each would get a THP of its own,
    /// so they are handled in one step, one fault per folio, never per page.
    func pmdRun(_ p: Int, _ m: Mapping, from first: Range<UInt64>, within pages: Range<UInt64>) -> Range<UInt64> {
        let span = UInt64(first.count)
        // The folio may end past the touched range (it is aligned, the range need not be).
        guard pages.upperBound > first.upperBound else { return first }
        let blocks = (pages.upperBound - first.upperBound) / span
        guard blocks > 0 else { return first }
        let shift = PageTableSet.spanShifts[0]
        let firstIndex = (m.start + first.upperBound * constants.pageBytes) >> shift
        var end = first.upperBound + blocks * span
        processes[p].pageTables.levels[0].forEach(in: firstIndex..<(firstIndex + blocks)) { indices, present in
            if present { end = min(end, first.upperBound + (indices.lowerBound - firstIndex) * span) }
        }
        return first.lowerBound..<end
    }

    /// Maps large folios of order `order` over `folio` of `m` (whole, aligned folios): one fault
    /// each. A write allocates the folio and maps it
    /// writable, with one PMD entry for a PMD-size folio (mm/huge_memory.c:
    /// do_huge_pmd_anonymous_page) or PTEs for a smaller one (mm/memory.c: do_anonymous_page with
    /// alloc_anon_folio). A PMD-size read maps the huge zero page with one PMD entry; like any
    /// THP fault it prepares the VMA's anon_vma first (vmf_anon_prepare), so fork copies it.
    /// Returns where the caller's range `pages` is handled up to.
    mutating func faultLargeFolio(
        _ p: Int, _ m: inout Mapping, _ folio: Range<UInt64>, order: Int, _ access: Access,
        _ pages: Range<UInt64>, _ tally: inout FaultTally
    ) -> UInt64 {
        let pmd = order == Self.pmdOrder
        if access == .read {
            m.pages.assign(folio, .zero)
        } else {
            anonPages += UInt64(folio.count)
            let run = runForTally(&tally, m)
            groups[Int(run)].firstVirtualPage = m.start / constants.pageBytes
            groups[Int(run)].pages.assign(folio, FramePage(mapcount: 1, present: true, dirty: true, order: UInt8(order)))
            m.pages.assign(folio, .anon(run: run, writable: true))
        }
        markAnonVMA(p, &m)
        setPMDMapped(&m, folio, pmd)
        tally.faults += UInt64(folio.count) >> UInt64(order)
        // A PMD-mapped THP or huge zero page still costs a PTE table: the kernel deposits one with
        // every huge PMD so that a later split cannot fail (mm/huge_memory.c:
        // __do_huge_pmd_anonymous_page, set_huge_zero_folio: pgtable_trans_huge_deposit and
        // mm_inc_nr_ptes; measured: validation/thp-madvise.somw). The single-owner pool maps its
        // 2 MiB blocks with PMD entries alone.
        let tableLevel = pmd && m.isSingleOwner ? 1 : 0
        let addresses = address(folio, in: m)
        editTables(p) { $0.populate(addresses, lowestLevel: tableLevel) }
        return min(folio.upperBound, pages.upperBound)
    }

    /// Records whether `pages` of `m` are mapped by a PMD entry in this process.
    func setPMDMapped(_ m: inout Mapping, _ pages: Range<UInt64>, _ mapped: Bool) {
        if m.pmdMapped == nil {
            guard mapped else { return }
            m.pmdMapped = ExtentMap(length: m.pageCount, value: false)
        }
        m.pmdMapped!.assign(pages, mapped)
    }

    func isPMDMapped(_ m: Mapping, at index: UInt64) -> Bool {
        m.pmdMapped?.value(at: index) ?? false
    }

    /// The 2 MiB block of `m` that contains page `index` (PMD-mapped blocks are aligned).
    func pmdBlock(_ m: Mapping, at index: UInt64) -> Range<UInt64> {
        let span: UInt64 = 1 << UInt64(Self.pmdOrder)
        let startPage = m.start / constants.pageBytes
        let first = (startPage + index) / span * span - startPage
        return first..<min(first + span, m.pageCount)
    }

    /// Replaces this process's PMD entry for the block holding `index` by a PTE table that maps
    /// the same pages (mm/huge_memory.c: __split_huge_pmd). The folio itself stays whole.
    mutating func splitPMD(_ p: Int, _ m: inout Mapping, at index: UInt64) {
        guard isPMDMapped(m, at: index) else { return }
        let block = pmdBlock(m, at: index)
        setPMDMapped(&m, block, false)
        var mapped = false
        m.pages.forEach(in: block) { _, state in if state != .none { mapped = true } }
        if mapped {
            let addresses = address(block, in: m)
            editTables(p) { $0.populate(addresses, lowestLevel: 0) }
        }
    }

    /// A write to a write-protected page this process maps with a PMD entry.
    ///
    /// The kernel reuses the whole THP when no other process maps it; otherwise it splits this
    /// process's PMD into a PTE table and retries, which copies one 4 KiB page (mm/huge_memory.c:
    /// do_huge_pmd_wp_page: reuse when the folio is exclusive, else __split_huge_pmd and
    /// VM_FAULT_FALLBACK). A write to the huge zero page allocates a THP (do_huge_zero_wp_pmd,
    /// 6.12+). Returns nil when the caller must go on with the PTE-level path.
    mutating func writePMDMapped(
        _ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, _ state: PageState, _ tally: inout FaultTally
    ) -> UInt64? {
        guard isPMDMapped(m, at: pages.lowerBound) else { return nil }
        let block = pmdBlock(m, at: pages.lowerBound)
        switch state {
        case .zero:
            // Short of memory the THP allocation fails and the fault falls back to a PTE table
            // (do_huge_zero_wp_pmd returns VM_FAULT_FALLBACK, __split_huge_pmd).
            if tally.noLargeFolios {
                splitPMD(p, &m, at: pages.lowerBound)
                return nil
            }
            return faultLargeFolio(p, &m, block, order: Self.pmdOrder, .write, pages, &tally)
        case .anon(let run, _):
            var mapcounts: UInt64 = 0
            groups[Int(run)].pages.forEach(in: block) { range, page in mapcounts += UInt64(range.count) * UInt64(page.mapcount) }
            if mapcounts == UInt64(block.count) {
                m.pages.assign(block, .anon(run: run, writable: true))
                tally.faults += 1
                tally.reuses += 1
                return min(block.upperBound, pages.upperBound)
            }
            splitPMD(p, &m, at: pages.lowerBound)
            return nil
        default:
            return nil
        }
    }

    /// Whether a write fault on a PTE-mapped page of the large folio `folio` of `run` may reuse
    /// the page: only when every mapping of the folio is this process's, and more than one page
    /// of it is still mapped (mm/memory.c: __wp_can_reuse_large_anon_folio — "free up a large
    /// folio if only a single page is mapped"). Each write fault still handles one page.
    func canReuseLargeFolio(_ m: Mapping, run: Int32, _ folio: Range<UInt64>) -> Bool {
        var total: UInt64 = 0
        groups[Int(run)].pages.forEach(in: folio) { range, page in total += UInt64(range.count) * UInt64(page.mapcount) }
        var mine: UInt64 = 0
        m.pages.forEach(in: folio) { range, state in
            if case .anon(run, _) = state { mine += UInt64(range.count) }
        }
        return total > 1 && total == mine
    }

    /// The folio of order `order` of anonymous run `run` that holds page `index`.
    func folioRange(run: Int32, order: UInt8, at index: UInt64) -> Range<UInt64> {
        let span: UInt64 = 1 << UInt64(order)
        let base = groups[Int(run)].firstVirtualPage
        let first = (base + index) / span * span - base
        return first..<(first + span)
    }
}

extension Simulator {
    /// Write faults on write-protected, PTE-mapped pages `range` of large folios of `run`: per
    /// folio, every page is reused when the folio is this process's alone, else copied into a
    /// new small folio (mm/memory.c: wp_can_reuse_anon_folio, wp_page_copy). Pages of a large
    /// folio that no process maps any more are counted freed at once, as if the deferred split
    /// had run (mm/huge_memory.c: deferred_split_folio; the kernel splits and frees them later,
    /// under memory pressure).
    fileprivate mutating func writeLargeFolio(_ p: Int, _ m: inout Mapping, _ range: Range<UInt64>, run: Int32, order: UInt8, _ tally: inout FaultTally) {
        var position = range.lowerBound
        while position < range.upperBound {
            let folio = folioRange(run: run, order: order, at: position)
            let piece = position..<min(folio.upperBound, range.upperBound)
            let n = UInt64(piece.count)
            if canReuseLargeFolio(m, run: run, folio) {
                m.pages.assign(piece, .anon(run: run, writable: true))
                tally.faults += n
                tally.reuses += n
            } else {
                // Unlike a small page, a large folio's page can be copied when no one else maps
                // it (the rest of the folio is still shared); the old page is then unmapped and
                // no longer counts as anonymous memory (NR_ANON_MAPPED; measured:
                // validation/mthp-unaligned.somw).
                anonPages -= addMapcount(group: run, piece, delta: -1)
                m.pages.assign(piece, .none)
                _ = allocatePrivate(p, &m, piece, fromReservation: false, &tally)
                tally.copies += n
            }
            position = piece.upperBound
        }
    }

    /// mTHP orders from the machine's `mthp=` sizes.
    var mthpOrders: [Int] {
        machine.mthpSizes.map { UInt64($0 / constants.pageBytes).trailingZeroBitCount }
    }
}

extension Mapping {
    /// Single-owner memory from the som pool (`mmap … som`).
    var isSingleOwner: Bool { options.som }
}

extension Simulator {
    /// Splits the PMD mappings of THPs that straddle an edge of `range`: madvise splits the VMA
    /// there, and a VMA boundary or a partial zap inside a THP splits its PMD
    /// (mm/huge_memory.c: vma_adjust_trans_huge; mm/memory.c: zap_pmd_range).
    mutating func splitPMDs(_ p: Int, _ name: String, atEdgesOf range: Range<UInt64>) {
        guard var m = processes[p].mappings[name], m.pmdMapped != nil else { return }
        let span: UInt64 = 1 << UInt64(Self.pmdOrder)
        let startPage = m.start / constants.pageBytes
        for edge in [range.lowerBound, range.upperBound] where edge > 0 && edge < m.pageCount && (startPage + edge) % span != 0 {
            splitPMD(p, &m, at: edge)
        }
        processes[p].mappings[name] = m
    }
}
