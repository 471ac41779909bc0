// Anonymous faults: private pages, the zero page, copy-on-write and reuse — mm/memory.c
// (do_anonymous_page, do_wp_page, wp_page_copy).

import SomsimWorkload

extension Simulator {
    /// A fault on private anonymous pages `pages` that no large folio serves: a read maps the zero
    /// page, a write allocates small pages.
    mutating func anonymousFault(_ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, _ access: Access, _ tally: inout FaultTally) -> UInt64 {
        // The kernel decides the folio size fault by fault: a 4 KiB fallback reaches only
        // to the next aligned block that could get a large folio (measured: an unaligned
        // mapping under mthp=64K takes one 4 KiB fault, then 64 KiB folios: validation/mthp-unaligned.somw).
        let pages = pages.lowerBound..<smallFolioEnd(m, pages, access)
        let count = UInt64(pages.count)
        // Single-owner memory has no zero page: the pool serves every first touch.
        if access == .read && !m.isSingleOwner {
            // A read of untouched private anonymous memory maps the zero page
            // (mm/memory.c: do_anonymous_page); no anon_vma is made for it.
            m.pages.assign(pages, .zero)
            setPMDMapped(&m, pages, false)
            tally.faults += count
            mapTables(p, m, pages)
            return pages.upperBound
        }
        return allocatePrivate(p, &m, pages, fromReservation: true, &tally)
    }

    /// The bulk path of `fault`: a touch of many ranges (random or strided) that all lie in one
    /// extent of one state and one VMA of 4 KiB private anonymous memory where no large folio can
    /// be allocated. It does exactly what the page-by-page path does — the differential test in
    /// BulkTouchTests holds it to that — but with one merge pass per map instead of several
    /// lookups per page. Returns false, having changed nothing, when it does not apply.
    mutating func bulkFault(_ p: Int, _ m: inout Mapping, _ ranges: [Range<UInt64>], _ access: Access, _ tally: inout FaultTally) -> Bool {
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
            groups[run].pages.assign(sortedRanges: ranges) { _ in FramePage(mapcount: 1, present: true, dirty: true) }
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
                groups[run].pages.forEach(in: range) { pages, page in
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
                groups[new].pages.assign(sortedRanges: copied) { _ in FramePage(mapcount: 1, present: true, dirty: true) }
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

    /// Allocates new private pages for `pages` (a fault each). HugeTLB pages come from the pool:
    /// the reservation of the process that made the mapping first, then free pages no reservation
    /// holds; when there are none the fault raises SIGBUS (mm/hugetlb.c: alloc_hugetlb_folio).
    mutating func allocatePrivate(
        _ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, fromReservation: Bool, writable: Bool = true, _ tally: inout FaultTally
    ) -> UInt64 {
        var end = pages.upperBound
        if let huge = m.huge {
            end = takeHugePages(huge, &m, pages, fromReservation: fromReservation)
        } else {
            anonPages += UInt64(pages.count)
        }
        let taken = pages.lowerBound..<end
        if !taken.isEmpty {
            let run = runForTally(&tally, m)
            groups[run].pages.assign(taken, FramePage(mapcount: 1, present: true, dirty: true))
            m.pages.assign(taken, .anon(run: run, writable: writable))
            setPMDMapped(&m, taken, false)
            if !tally.anonVMAMarked {
                markAnonVMA(p, &m)
                tally.anonVMAMarked = true
            }
            tally.faults += UInt64(taken.count)
            mapTables(p, m, taken, &tally)
        }
        if end < pages.upperBound { tally.signal = .SIGBUS }
        return end
    }

    mutating func runForTally(_ tally: inout FaultTally, _ m: Mapping) -> GroupID {
        if let run = tally.newRun { return run }
        let run = newGroup(FrameGroup(kind: .anonymousRun, huge: m.huge, pageCount: m.pageCount))
        groups[run].singleOwner = m.isSingleOwner
        tally.newRun = run
        return run
    }

    /// A write to write-protected private pages: reused where no other process maps the page
    /// (mm/memory.c: wp_can_reuse_anon_folio; counted as pgreuse), copied where one does.
    mutating func writeProtected(_ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, run: GroupID, _ tally: inout FaultTally) -> UInt64 {
        // One page (random and strided touches) needs no list of extents.
        let extents: [(range: Range<UInt64>, value: FramePage)] =
            pages.count == 1 ? [(pages, groups[run].pages.value(at: pages.lowerBound))] : groups[run].pages.extents(in: pages)
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
            if m.huge != nil {
                if let stop = copyHugePages(p, &m, range, run: run, &tally) { return stop }
                continue
            }
            addMapcount(group: run, range, delta: -1)
            _ = allocatePrivate(p, &m, range, fromReservation: false, &tally)
            tally.copies += UInt64(range.count)
        }
        return pages.upperBound
    }
}
