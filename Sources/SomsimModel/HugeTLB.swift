// HugeTLB: pools, reservations, faults, COW, HVO — mm/hugetlb.c, mm/hugetlb_vmemmap.c.

import SomsimWorkload

/// A HugeTLB pool of one page size, as /proc/meminfo's HugePages_* counters describe it.
struct HugePool: Equatable {
    var total: UInt64 = 0
    var free: UInt64 = 0
    /// Pages promised to mappings but not yet faulted in (HugePages_Rsvd); a subset of `free`.
    var reserved: UInt64 = 0

    /// Free pages no reservation has claimed: what a fault without a reservation may take.
    var unreserved: UInt64 { free - reserved }

    /// `count` pages of a HugeTLB file in state `page` are gone with the file: a present page is
    /// free again, a reserved one no longer promised.
    mutating func release(_ count: UInt64, of page: FramePage) {
        if page.present { free += count }
        if page.reserved { reserved -= count }
    }
}

/// The machine's HugeTLB pools, one per huge page size.
struct HugeTLBPools: Equatable {
    var size2M = HugePool()
    var size1G = HugePool()

    subscript(_ huge: HugePageSize) -> HugePool {
        get {
            switch huge {
            case .size2M: return size2M
            case .size1G: return size1G
            }
        }
        set {
            switch huge {
            case .size2M: size2M = newValue
            case .size1G: size1G = newValue
            }
        }
    }
}

extension Simulator {
    // MARK: - Reservations

    /// The reservations of a HugeTLB mmap, and the page-cache object of a shared or file mapping;
    /// nil (ENOMEM) when the pool cannot promise the pages.
    mutating func reserveHugePages(_ huge: HugePageSize, pageCount: UInt64, options: MmapOptions, fileObject: GroupID? = nil) -> (object: GroupID?, reservation: ExtentMap<Bool>?)? {
        var object: GroupID? = nil
        var reservation: ExtentMap<Bool>? = nil
        if options.shared || options.file != nil {
            // Shared HugeTLB: the file's reservation covers every page not already reserved
            // or allocated (mm/hugetlb.c: hugetlb_reserve_pages, region_chg).
            let id = fileObject ?? pageCacheObject(named: options.file, huge: huge, pageCount: pageCount)
            // The file's pages under the mapping (`fileoffset=`).
            let filePages = options.fileOffsetPages..<(options.fileOffsetPages + pageCount)
            var needed: UInt64 = 0
            groups[id].pages.forEach(in: filePages) { range, page in
                if !page.present && !page.reserved { needed += UInt64(range.count) }
            }
            if options.shared {
                guard pools[huge].unreserved >= needed else {
                    dropIfUnused(id)
                    return nil
                }
                pools[huge].reserved += needed
                groups[id].pages.modify(filePages) { _, page in
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
            guard pools[huge].unreserved >= pageCount else { return nil }
            pools[huge].reserved += pageCount
            reservation = ExtentMap(length: pageCount, value: true)
        }
        return (object, reservation)
    }

    /// munmap of a private HugeTLB mapping: the reservations it still holds go back to the pool
    /// (mm/hugetlb.c: hugetlb_vm_op_close).
    mutating func returnReservation(_ mapping: Mapping) {
        guard let huge = mapping.huge, let reservation = mapping.reservation else { return }
        var outstanding: UInt64 = 0
        reservation.forEach(in: 0..<mapping.pageCount) { range, held in
            if held { outstanding += UInt64(range.count) }
        }
        pools[huge].reserved -= outstanding
    }

    /// Private HugeTLB pages `pages` of `mapping` were zapped and `freed` of them no longer mapped:
    /// they return to the pool, and with `restoringReservation` (MADV_DONTNEED by the owner) their
    /// reservation to the mapping (mm/hugetlb.c: __unmap_hugepage_range, "restore the reservation").
    mutating func freeHugePages(_ p: ProcessID, _ mapping: Mapping, _ pages: Range<UInt64>, freed: UInt64, restoringReservation: Bool) {
        guard let huge = mapping.huge else { return }
        pools[huge].free += freed
        if restoringReservation && mapping.reservation != nil && freed == UInt64(pages.count) {
            pools[huge].reserved += freed
            processes[p].mappings[mapping.name]!.reservation!.assign(pages, true)
        }
    }

    // MARK: - Faults

    /// A fault on HugeTLB pages `pages` not mapped yet (mm/hugetlb.c: hugetlb_fault,
    /// hugetlb_no_page).
    mutating func hugeTLBNoPage(_ f: inout FaultContext, _ pages: Range<UInt64>) -> UInt64 {
        guard f.mapping.isPrivate else { return faultSharedHuge(&f, pages) }
        if f.mapping.object != nil { return faultPrivateHugeFile(&f, pages) }
        // A private HugeTLB page is mapped writable only by a write fault: a read maps it
        // read-only (mm/hugetlb.c: hugetlb_no_page makes a writable entry only for
        // VM_SHARED), so a later write takes a fault of its own, a reuse (measured:
        // docs/kernel-facts 10a).
        return allocatePrivate(&f, pages, fromReservation: true, writable: f.access == .write)
    }

    /// Takes pool pages for `pages` of a HugeTLB mapping; returns the end of what it could take
    /// (the caller raises SIGBUS short of the end).
    mutating func takeHugePages(_ huge: HugePageSize, _ m: inout Mapping, _ pages: Range<UInt64>, fromReservation: Bool) -> UInt64 {
        // The owner took the pages back (`unmapFromOthers`): any fault here raises SIGBUS.
        if m.reservationUnmapped { return pages.lowerBound }
        var position = pages.lowerBound
        while position < pages.upperBound {
            let held = fromReservation ? (m.reservation?.extent(containing: position)) : nil
            if let held, held.value {
                let end = min(held.range.upperBound, pages.upperBound)
                let n = end - position
                pools[huge].reserved -= n
                pools[huge].free -= n
                m.reservation!.assign(position..<end, false)
                position = end
                continue
            }
            let end = min(held?.range.upperBound ?? pages.upperBound, pages.upperBound)
            let n = min(end - position, pools[huge].unreserved)
            pools[huge].free -= n
            position += n
            if position < end { return position }
        }
        return position
    }

    /// A write to HugeTLB pages `range` of `run` that other processes map too: copied from free
    /// pages outside any reservation. When the pool has none, the owner of the mapping takes the
    /// page back from the processes it shares it with, which then die of SIGBUS when they next
    /// touch it, and reuses it; anyone else dies of SIGBUS now (mm/hugetlb.c: hugetlb_wp,
    /// unmap_ref_private). Returns where the access stopped when it raised SIGBUS, else nil.
    mutating func copyHugePages(_ f: inout FaultContext, _ range: Range<UInt64>, run: GroupID) -> UInt64? {
        guard let huge = f.mapping.huge else { return nil }
        let copyEnd = range.lowerBound + min(UInt64(range.count), pools[huge].unreserved)
        if copyEnd < range.upperBound && f.mapping.reservation != nil {
            let stolen = copyEnd..<range.upperBound
            unmapFromOthers(f.process, f.mapping.name, run: run, stolen)
            f.mapping.pages.assign(stolen, .anon(run: run, writable: true))
            f.tally.faults += UInt64(stolen.count)
            f.tally.reuses += UInt64(stolen.count)
        }
        let copied = range.lowerBound..<copyEnd
        if !copied.isEmpty {
            addMapcount(group: run, copied, delta: -1)
            // A HugeTLB copy can still fail (SIGBUS) and must not leave the old page mapped
            // (a 4 KiB copy always succeeds and overwrites the entry itself).
            f.mapping.pages.assign(copied, .none)
            _ = allocatePrivate(&f, copied, fromReservation: false)
            f.tally.copies += UInt64(copied.count)
        }
        if copyEnd < range.upperBound && f.mapping.reservation == nil {
            f.tally.signal = .SIGBUS
            return copyEnd
        }
        return nil
    }

    /// Unmaps `pages` of `run` from every other process's mapping `name` and marks those
    /// mappings so that a later fault there raises SIGBUS.
    mutating func unmapFromOthers(_ p: ProcessID, _ name: String, run: GroupID, _ pages: Range<UInt64>) {
        for q in processes.ids where q != p && processes[q].alive {
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

    /// A fault on a shared HugeTLB mapping: the file's page is mapped, allocated first from the
    /// file's reservation or, failing that, from free pages no reservation holds (else SIGBUS).
    mutating func faultSharedHuge(_ f: inout FaultContext, _ pages: Range<UInt64>) -> UInt64 {
        let object = f.mapping.object!
        let huge = f.mapping.huge!
        var end = pages.lowerBound
        for (filePages, page) in groups[object].pages.extents(in: f.mapping.inFile(pages)) {
            let range = f.mapping.inMapping(filePages)
            var n = UInt64(range.count)
            if !page.present {
                if page.reserved {
                    pools[huge].reserved -= n
                    pools[huge].free -= n
                } else {
                    n = min(n, pools[huge].unreserved)
                    pools[huge].free -= n
                }
                groups[object].pages.modify(filePages.lowerBound..<(filePages.lowerBound + n)) { _, page in
                    page.present = true
                    page.reserved = false
                }
            }
            end = range.lowerBound + n
            if n < UInt64(range.count) { break }
        }
        let mapped = pages.lowerBound..<end
        if !mapped.isEmpty {
            addMapcount(group: object, f.mapping.inFile(mapped), delta: 1)
            f.mapping.pages.assign(mapped, .cache(writable: true, dirty: true))
            f.tally.faults += UInt64(mapped.count)
            mapTables(f.process, f.mapping, mapped)
        }
        if end < pages.upperBound { f.tally.signal = .SIGBUS }
        return end
    }

    /// A fault on pages a private mapping of a HugeTLB file has not mapped. A page the file has
    /// in its page cache is mapped read-only, as it is (a read), or copied at once into a page
    /// of the mapping's own reservation (a write: the copy `hugetlb_wp` makes in the same fault,
    /// not counted as a COW copy); a page the file does not have becomes a private page of the
    /// mapping, never a page-cache page (mm/hugetlb.c: hugetlb_no_page; measured:
    /// docs/kernel-facts 11a-11d).
    mutating func faultPrivateHugeFile(_ f: inout FaultContext, _ pages: Range<UInt64>) -> UInt64 {
        let object = f.mapping.object!
        for (filePages, page) in groups[object].pages.extents(in: f.mapping.inFile(pages)) {
            let range = f.mapping.inMapping(filePages)
            if page.present && f.access == .read {
                addMapcount(group: object, filePages, delta: 1)
                f.mapping.pages.assign(range, .cache(writable: false, dirty: false))
                f.tally.faults += UInt64(range.count)
                mapTables(&f, range)
                continue
            }
            let stop = allocatePrivate(&f, range, fromReservation: true, writable: f.access == .write)
            if stop < range.upperBound { return stop }
        }
        return pages.upperBound
    }
}

// MARK: - HVO

extension Simulator {
    /// The vmemmap pages HugeTLB Vmemmap Optimization frees from each pool page of size `huge`:
    /// all of its struct pages' pages but the `hvo-kept` first (mm/hugetlb_vmemmap.c:
    /// hugetlb_vmemmap_optimize_folio), whether or not the machine has HVO on.
    func hvoFreedPages(perHugePage huge: HugePageSize) -> UInt64 {
        let perPage = constants.vmemmapPages(perHugePage: huge.bytes)
        return perPage - min(machine.hvoKeptPages, perPage)
    }
}
