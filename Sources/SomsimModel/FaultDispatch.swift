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
    /// Table indices, at the level that maps the touched mapping's pages, this statement already
    /// populated.
    var populatedTables: Range<UInt64> = 0..<0
    /// The signal that stopped the touch, if any.
    var signal: Signal?
    /// Memory is nearly exhausted: this step allocates no large folio (`makeRoom`).
    var noLargeFolios = false
}

/// One touch of one mapping as the fault handlers see it: the faulting process, the access, the
/// mapping (taken out of the process while the handlers change it) and the tally of what the
/// statement did.
struct FaultContext {
    /// The faulting process (`Simulator.processes` index).
    let process: ProcessID
    let access: Access
    var mapping: Mapping
    var tally = FaultTally()

    /// The frames a fresh run takes from a copy-on-write write of exactly this touch's pages,
    /// built ahead on the samples' thread (`SamplePrefetcher.freshRun`), or nil.
    var freshRun: ExtentMap<FramePage>? = nil

    /// The mapping, handed back to the process when the handlers are done. Performance: moved
    /// out of the consumed context, not copied (a copy retains each of its extent maps).
    consuming func takeMapping() -> Mapping { mapping }
}

extension Simulator {
    /// Reads or writes one byte per page (or per stride, or in COUNT random pages) of a range
    /// (`TouchPattern.pageRuns`, the walk the probe makes too). Returns the errno the kernel
    /// would give (EFAULT past the end of the mapping), or nil.
    mutating func touch(_ p: ProcessID, _ name: String, _ access: Access, _ byteRange: ByteRange, _ pattern: TouchPattern) -> Errno? {
        // (Performance: the mapping is taken out of the process once, here, for `fault`, and
        // put back into its slot.)
        guard let (mapping, slot) = processes[p].mappings.take(name) else { return .EFAULT }
        guard let range = byteRange.pages(inMappingOf: mapping.pageCount, pageBytes: mapping.pageBytes) else {
            processes[p].mappings.putBack(mapping, at: slot)
            return .EFAULT
        }
        let runs: [Range<UInt64>]
        // A random touch's sample may have been drawn ahead (`SamplePrefetcher`): the same runs.
        if case .random(let count, let seed) = pattern, let samples,
            let drawn = samples.take(count: count, pages: UInt64(range.count), seed: seed)
        {
            let base = range.lowerBound
            guard base != 0 else {
                // (nil where the drawing thread builds none: `bulkTakesDrawnRuns` off.)
                fault(p, name, taken: mapping, slot: slot, pages: drawn, access: access, freshRun: samples.takeFreshRun())
                // (Freed by the thread that drew them: `giveBack`.)
                samples.giveBack(drawn)
                return nil
            }
            runs = drawn.map { ($0.lowerBound + base)..<($0.upperBound + base) }
        } else {
            runs = pattern.pageRuns(range, pageBytes: mapping.pageBytes)
        }
        fault(p, name, taken: mapping, slot: slot, pages: runs, access: access)
        return nil
    }

    /// Accesses every page of `ranges` (ascending page indices of mapping `name` in process `p`)
    /// in order, as a program touching one byte per page would, taking the faults the kernel
    /// takes. A SIGBUS or SIGSEGV stops the touch and kills the process. With `populating`
    /// (MAP_POPULATE), a SIGBUS only stops the walk: populate ignores the error and mmap
    /// succeeds (mm/gup.c: __mm_populate; measured: a noreserve populate past the free pages
    /// leaves the process alive with the pages it got).
    @discardableResult
    mutating func fault(_ p: ProcessID, _ name: String, pages ranges: [Range<UInt64>], access: Access, populating: Bool = false) -> Bool {
        guard let (mapping, slot) = processes[p].mappings.take(name) else { return true }
        return fault(p, name, taken: mapping, slot: slot, pages: ranges, access: access, populating: populating)
    }

    /// `fault` of mapping `name`, which the caller took out of the process (`mapping`, from
    /// `slot`); it is put back.
    @discardableResult
    mutating func fault(_ p: ProcessID, _ name: String, taken mapping: consuming Mapping, slot: MappingTable.Slot, pages ranges: [Range<UInt64>], access: Access, populating: Bool = false, freshRun: ExtentMap<FramePage>? = nil) -> Bool {
        var f = FaultContext(process: p, access: access, mapping: mapping, freshRun: freshRun)
        let handledInBulk = bulkFault(&f, ranges)
        ranges: for range in ranges where !handledInBulk {
            var position = range.lowerBound
            while position < range.upperBound {
                let vma = f.mapping.vma.extent(containing: position)
                // Outside the address space, or an access the protection forbids: the kernel's
                // bad area (arch/x86/mm/fault.c: access_error), no fault counted.
                guard vma.value.allows(f.access) else {
                    f.tally.signal = .SIGSEGV
                    break ranges
                }
                let extent = f.mapping.pages.extent(containing: position)
                var end = min(extent.range.upperBound, vma.range.upperBound, range.upperBound)
                // A step never straddles PMD-mapped and PTE-mapped pages: they fault differently.
                if let pmdMapped = f.mapping.pmdMapped {
                    end = min(end, pmdMapped.extent(containing: position).range.upperBound)
                }
                guard makeRoom(&f, position, &end, extent.value) else { break ranges }
                position = handle(&f, position..<end, extent.value)
                if f.tally.signal != nil {
                    // MAP_POPULATE goes on living after a SIGBUS: the failed fault's upper
                    // tables stay, as in `populateFault` (found by cross-feature random
                    // validation, mixb seed 672: validation/mlock-sigbus.somw).
                    if populating, f.tally.signal == .SIGBUS, position < f.mapping.pageCount {
                        let addresses = address(position..<(position + 1), in: f.mapping)
                        editTables(p) { $0.populate(addresses, lowestLevel: max(1, f.mapping.mappingLevel)) }
                    }
                    break ranges
                }
            }
        }
        let tally = f.tally
        // (Performance: `consume` moves the context out of `f`; `f.takeMapping()` alone copied
        // the whole context, retaining every map of its mapping, once per touch.)
        processes[p].mappings.putBack((consume f).takeMapping(), at: slot)
        processes[p].minorFaults += tally.faults
        processes[p].cowCopies += tally.copies
        processes[p].cowReuses += tally.reuses
        if let signal = tally.signal, !(populating && signal == .SIGBUS) {
            kill(p, signal: signal)
            return false
        }
        return true
    }

    /// Handles an access to `pages`, all in state `state`; returns where handling stopped (the
    /// end, unless a signal was raised).
    mutating func handle(_ f: inout FaultContext, _ pages: Range<UInt64>, _ state: PageState) -> UInt64 {
        switch state {
        case .none:
            // Past the end of a file (after ftruncate): SIGBUS (Files.swift: endOfFile).
            if let eof = endOfFile(f.mapping), pages.upperBound > eof {
                if eof > pages.lowerBound {
                    let stop = handle(&f, pages.lowerBound..<eof, state)
                    if f.tally.signal != nil || stop < eof { return stop }
                }
                f.tally.signal = .SIGBUS
                return max(eof, pages.lowerBound)
            }
            // HugeTLB first (hugetlb_fault), then a large folio, then a small page: anonymous
            // (do_anonymous_page) or from the page cache (do_fault).
            if let stop = faultPastObjectEnd(&f, pages, state) { return stop }
            if f.mapping.huge != nil { return hugeTLBNoPage(&f, pages) }
            if !f.tally.noLargeFolios, let folio = largeFolio(f.process, f.mapping, at: pages.lowerBound, f.access) {
                let run = folio.order == PageGeometry.pmdOrder ? pmdRun(f.process, f.mapping, from: folio.range, within: pages) : folio.range
                return faultLargeFolio(&f, run, order: folio.order, f.mapping.isSingleOwner ? .write : f.access, pages)
            }
            if f.mapping.isPrivateAnonymousLike { return anonymousFault(&f, pages) }
            if f.access == .read { return f.mapping.shmKey != nil ? shmReadFault(&f, pages) : readFaultAround(&f, pages) }
            if f.mapping.isPrivate { return cowFault(&f, pages) }
            return sharedWriteFault(&f, pages)

        case .zero:
            // Writing the zero page allocates a new zeroed page: a fault, not a copy.
            if f.access == .read { return pages.upperBound }
            if let stop = writePMDMapped(&f, pages, state) { return stop }
            return allocatePrivate(&f, pages, fromReservation: true)

        case .anon(let run, let writable):
            if f.access == .read || writable { return pages.upperBound }
            if let stop = writePMDMapped(&f, pages, state) { return stop }
            return writeProtected(&f, pages, run: run)

        case .cache(let writable, let dirty):
            if f.access == .read { return pages.upperBound }
            if f.mapping.isPrivate { return copyFilePage(&f, pages) }
            // Shared pages are mapped writable: the write only sets the dirty bit, no fault.
            if !dirty || !writable { f.mapping.pages.assign(pages, .cache(writable: true, dirty: true)) }
            return pages.upperBound
        }
    }
}
