// Fault dispatch: touch statements and the page-fault entry, as handle_mm_fault routes a fault —
// mm/memory.c.

import SomsimWorkload

/// What one touch statement did, carried through the fault handlers.
struct FaultTally {
    var faults: UInt64 = 0
    var copies: UInt64 = 0
    var reuses: UInt64 = 0
    /// The run that holds the pages this statement allocates, made on first use.
    var newRun: GroupID?
    /// The mapping has been marked as having an anon_vma during this statement.
    var anonVMAMarked = false
    /// Table indices, at the level that maps the touched mapping's pages, this statement already
    /// populated.
    var populatedTables: Range<UInt64> = 0..<0
    /// The signal that stopped the touch, if any.
    var signal: Signal?
    /// Memory is nearly exhausted: this step allocates no large folio (`makeRoom`).
    var noLargeFolios = false
}

extension Simulator {
    /// Reads or writes one byte per page (or per stride, or in COUNT random pages) of a range
    /// (`TouchPattern.pageRuns`, the walk the probe makes too). Returns the errno the kernel
    /// would give (EFAULT past the end of the mapping), or nil.
    mutating func touch(_ p: Int, _ name: String, _ access: Access, _ byteRange: ByteRange, _ pattern: TouchPattern) -> Errno? {
        guard let mapping = processes[p].mappings[name] else { return .EFAULT }
        guard let range = byteRange.pages(inMappingOf: mapping.pageCount, pageBytes: mapping.pageBytes) else { return .EFAULT }
        fault(p, name, pages: pattern.pageRuns(range, pageBytes: mapping.pageBytes), access: access)
        return nil
    }

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
                    tally.signal = .SIGSEGV
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

    /// Handles an access to `pages`, all in state `state`; returns where handling stopped (the
    /// end, unless a signal was raised).
    mutating func handle(
        _ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, _ state: PageState, _ access: Access, _ tally: inout FaultTally
    ) -> UInt64 {
        switch state {
        case .none:
            // HugeTLB first (hugetlb_fault), then a large folio, then a small page: anonymous
            // (do_anonymous_page) or from the page cache (do_fault).
            if m.huge != nil { return hugeTLBNoPage(p, &m, pages, access, &tally) }
            if !tally.noLargeFolios, let folio = largeFolio(p, m, at: pages.lowerBound, access) {
                let run = folio.order == PageGeometry.pmdOrder ? pmdRun(p, m, from: folio.range, within: pages) : folio.range
                return faultLargeFolio(p, &m, run, order: folio.order, m.isSingleOwner ? .write : access, pages, &tally)
            }
            if m.isPrivateAnonymousLike { return anonymousFault(p, &m, pages, access, &tally) }
            if access == .read { return readFaultAround(p, &m, pages, &tally) }
            if m.isPrivate { return cowFault(p, &m, pages, &tally) }
            return sharedWriteFault(p, &m, pages, &tally)

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
            if m.isPrivate { return copyFilePage(p, &m, pages, &tally) }
            // Shared pages are mapped writable: the write only sets the dirty bit, no fault.
            if !dirty || !writable { m.pages.assign(pages, .cache(writable: true, dirty: true)) }
            return pages.upperBound
        }
    }
}
