// Large folios: THP and mTHP allocation, PMD mapping and split, large-folio COW —
// mm/huge_memory.c, mm/memory.c (alloc_anon_folio).

import SomsimWorkload

extension Simulator {
    /// Folio orders the machine may allocate for private anonymous memory, largest first: the
    /// PMD size when `thp` is not `never`, then each `mthp=` size. Every size follows the
    /// top-level `thp` mode, as `hugepages-SIZEkB/enabled = inherit` does
    /// (Documentation/admin-guide/mm/transhuge.rst).
    /// (Performance: computed once, in `init`, into `largeFolioOrders`: every fault that may
    /// allocate a large folio reads it.)
    static func largeFolioOrders(_ machine: MachineSpec, _ constants: KernelConstants) -> [Int] {
        guard machine.thp != .never else { return [] }
        // The mTHP orders of the machine's `mthp=` sizes.
        let mthpOrders = machine.mthpSizes.map { UInt64($0 / constants.pageBytes).trailingZeroBitCount }
        return [PageGeometry.pmdOrder] + mthpOrders.filter { $0 > 0 && $0 < PageGeometry.pmdOrder }.sorted(by: >)
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
    func largeFolio(_ p: ProcessID, _ m: Mapping, at index: UInt64, _ access: Access) -> (range: Range<UInt64>, order: Int)? {
        guard m.huge == nil, m.isPrivateAnonymousLike else { return nil }
        // The som pool maps a whole aligned 2 MiB block with one PMD entry, whatever `thp` says
        // (`page=2M`, the default); `page=1G` a whole aligned 1 GiB with one PUD entry when the
        // pool has a free 1 GiB run, else 2 MiB; `page=4K` only 4 KiB pages (SomPool.swift).
        let orders = m.isSingleOwner ? somFolioOrders(m) : largeFolioOrders
        guard !orders.isEmpty else { return nil }
        let access = m.isSingleOwner ? .write : access
        let flags = m.vma.value(at: index)
        guard flags.mapped, m.isSingleOwner || Self.thpAllowed(machine.thp, flags) else { return nil }
        let startPage = m.start / constants.pageBytes
        for order in orders {
            let pmd = order == PageGeometry.pmdOrder
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
            if order == SomPool.giantOrder && !somPool.canTakeGiant() { continue }
            if pmd {
                let pmdIndex = (m.start + first * constants.pageBytes) >> PageTableLevel.pte.spanShift
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
        let span: UInt64 = 1 << UInt64(access == .read ? PageGeometry.pmdOrder : smallest)
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
    func pmdRun(_ p: ProcessID, _ m: Mapping, from first: Range<UInt64>, within pages: Range<UInt64>) -> Range<UInt64> {
        let span = UInt64(first.count)
        // The folio may end past the touched range (it is aligned, the range need not be).
        guard pages.upperBound > first.upperBound else { return first }
        let blocks = (pages.upperBound - first.upperBound) / span
        guard blocks > 0 else { return first }
        let shift = PageTableLevel.pte.spanShift
        let firstIndex = (m.start + first.upperBound * constants.pageBytes) >> shift
        var end = first.upperBound + blocks * span
        processes[p].pageTables.levels[0].forEach(in: firstIndex..<(firstIndex + blocks)) { indices, present in
            if present { end = min(end, first.upperBound + (indices.lowerBound - firstIndex) * span) }
        }
        return first.lowerBound..<end
    }

    /// Maps large folios of order `order` over `folio` of the faulting mapping (whole, aligned folios): one fault
    /// each. A write allocates the folio and maps it
    /// writable, with one PMD entry for a PMD-size folio (mm/huge_memory.c:
    /// do_huge_pmd_anonymous_page) or PTEs for a smaller one (mm/memory.c: do_anonymous_page with
    /// alloc_anon_folio). A PMD-size read maps the huge zero page with one PMD entry; like any
    /// THP fault it prepares the VMA's anon_vma first (vmf_anon_prepare), so fork copies it.
    /// Returns where the caller's range `pages` is handled up to.
    mutating func faultLargeFolio(_ f: inout FaultContext, _ folio: Range<UInt64>, order: Int, _ access: Access, _ pages: Range<UInt64>) -> UInt64 {
        let pmd = order == PageGeometry.pmdOrder
        if access == .read {
            f.mapping.pages.assign(folio, .zero)
        } else {
            anonPages += UInt64(folio.count)
            let run = runForTally(&f)
            groups[run].firstVirtualPage = f.mapping.start / constants.pageBytes
            groups[run].pages.assign(folio, FramePage(mapcount: 1, present: true, dirty: true, order: UInt8(order)))
            f.mapping.pages.assign(folio, .anon(run: run, writable: true))
        }
        markAnonVMA(f.process, &f.mapping, pages: folio)
        setPMDMapped(&f.mapping, folio, pmd)
        f.tally.faults += UInt64(folio.count) >> UInt64(order)
        // A PMD-mapped THP or huge zero page still costs a PTE table: the kernel deposits one with
        // every huge PMD so that a later split cannot fail (mm/huge_memory.c:
        // __do_huge_pmd_anonymous_page, set_huge_zero_folio: pgtable_trans_huge_deposit and
        // mm_inc_nr_ptes; measured: validation/thp-madvise.somw). The single-owner pool maps its
        // 2 MiB blocks with PMD entries alone.
        var tableLevel = pmd && f.mapping.isSingleOwner ? 1 : 0
        if order == SomPool.giantOrder && f.mapping.isSingleOwner {
            // A 1 GiB som page: one PUD entry, no PMD or PTE table, and one whole 1 GiB run of
            // the pool's units, taken now (SomPool.swift).
            tableLevel = 2
            setPMDMapped(&f.mapping, folio, true)
            let key = (f.mapping.start + folio.lowerBound * constants.pageBytes) >> PageTableLevel.pmd.spanShift
            _ = somPool.takeGiant(f.process, key: key)
        } else if f.mapping.isSingleOwner && access == .write {
            takeSomUnits(f.process, f.mapping, folio)
        }
        let addresses = address(folio, in: f.mapping)
        editTables(f.process) { $0.populate(addresses, lowestLevel: tableLevel) }
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
        let span: UInt64 = 1 << UInt64(PageGeometry.pmdOrder)
        let startPage = m.start / constants.pageBytes
        let first = (startPage + index) / span * span - startPage
        return first..<min(first + span, m.pageCount)
    }

    /// Replaces this process's PMD entry for the block holding `index` by a PTE table that maps
    /// the same pages (mm/huge_memory.c: __split_huge_pmd). The folio itself stays whole.
    mutating func splitPMD(_ p: ProcessID, _ m: inout Mapping, at index: UInt64) {
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
    mutating func writePMDMapped(_ f: inout FaultContext, _ pages: Range<UInt64>, _ state: PageState) -> UInt64? {
        guard isPMDMapped(f.mapping, at: pages.lowerBound) else { return nil }
        let block = pmdBlock(f.mapping, at: pages.lowerBound)
        switch state {
        case .zero:
            // Short of memory the THP allocation fails and the fault falls back to a PTE table
            // (do_huge_zero_wp_pmd returns VM_FAULT_FALLBACK, __split_huge_pmd).
            if f.tally.noLargeFolios {
                splitPMD(f.process, &f.mapping, at: pages.lowerBound)
                return nil
            }
            return faultLargeFolio(&f, block, order: PageGeometry.pmdOrder, .write, pages)
        case .anon(let run, _):
            var mapcounts: UInt64 = 0
            groups[run].pages.forEach(in: block) { range, page in mapcounts += UInt64(range.count) * UInt64(page.mapcount) }
            if mapcounts == UInt64(block.count) {
                f.mapping.pages.assign(block, .anon(run: run, writable: true))
                f.tally.faults += 1
                f.tally.reuses += 1
                return min(block.upperBound, pages.upperBound)
            }
            splitPMD(f.process, &f.mapping, at: pages.lowerBound)
            return nil
        default:
            return nil
        }
    }

    /// Whether a write fault on a PTE-mapped page of the large folio `folio` of `run` may reuse
    /// the page: only when every mapping of the folio is this process's, and more than one page
    /// of it is still mapped (mm/memory.c: __wp_can_reuse_large_anon_folio — "free up a large
    /// folio if only a single page is mapped"). Each write fault still handles one page.
    func canReuseLargeFolio(_ m: Mapping, run: GroupID, _ folio: Range<UInt64>) -> Bool {
        var total: UInt64 = 0
        groups[run].pages.forEach(in: folio) { range, page in total += UInt64(range.count) * UInt64(page.mapcount) }
        var mine: UInt64 = 0
        m.pages.forEach(in: folio) { range, state in
            if case .anon(run, _) = state { mine += UInt64(range.count) }
        }
        return total > 1 && total == mine
    }

    /// The folio of order `order` of anonymous run `run` that holds page `index`.
    func folioRange(run: GroupID, order: UInt8, at index: UInt64) -> Range<UInt64> {
        let span: UInt64 = 1 << UInt64(order)
        let base = groups[run].firstVirtualPage
        let first = (base + index) / span * span - base
        return first..<(first + span)
    }

    /// Write faults on write-protected, PTE-mapped pages `range` of large folios of `run`: per
    /// folio, every page is reused when the folio is this process's alone, else copied into a
    /// new small folio (mm/memory.c: wp_can_reuse_anon_folio, wp_page_copy). Pages of a large
    /// folio that no process maps any more are counted freed at once, as if the deferred split
    /// had run (mm/huge_memory.c: deferred_split_folio; the kernel splits and frees them later,
    /// under memory pressure).
    mutating func writeLargeFolio(_ f: inout FaultContext, _ range: Range<UInt64>, run: GroupID, order: UInt8) {
        var position = range.lowerBound
        while position < range.upperBound {
            let folio = folioRange(run: run, order: order, at: position)
            let piece = position..<min(folio.upperBound, range.upperBound)
            let n = UInt64(piece.count)
            if canReuseLargeFolio(f.mapping, run: run, folio) {
                f.mapping.pages.assign(piece, .anon(run: run, writable: true))
                f.tally.faults += n
                f.tally.reuses += n
            } else {
                // Unlike a small page, a large folio's page can be copied when no one else maps
                // it (the rest of the folio is still shared); the old page is then unmapped and
                // no longer counts as anonymous memory (NR_ANON_MAPPED; measured:
                // validation/mthp-unaligned.somw).
                anonPages -= addMapcount(group: run, piece, delta: -1)
                f.mapping.pages.assign(piece, .none)
                _ = allocatePrivate(&f, piece, fromReservation: false)
                f.tally.copies += n
            }
            position = piece.upperBound
        }
    }

    /// Splits the PMD mappings of THPs that straddle an edge of `range`: madvise splits the VMA
    /// there, and a VMA boundary or a partial zap inside a THP splits its PMD
    /// (mm/huge_memory.c: vma_adjust_trans_huge; mm/memory.c: zap_pmd_range).
    mutating func splitPMDs(_ p: ProcessID, _ name: String, atEdgesOf range: Range<UInt64>) {
        // (Performance: asked in place; most mappings have no PMD-mapped THP to split.)
        guard processes[p].withMapping(name, { $0.pmdMapped != nil }) == true, var m = processes[p].mappings[name] else { return }
        let span: UInt64 = 1 << UInt64(PageGeometry.pmdOrder)
        let startPage = m.start / constants.pageBytes
        for edge in [range.lowerBound, range.upperBound] where edge > 0 && edge < m.pageCount && (startPage + edge) % span != 0 {
            splitPMD(p, &m, at: edge)
        }
        processes[p].mappings[name] = m
    }
}
