// HugeTLB: pools, reservations, faults, COW, HVO — mm/hugetlb.c, mm/hugetlb_vmemmap.c.

import SomsimWorkload

/// A HugeTLB pool of one page size, as /proc/meminfo's HugePages_* counters describe it.
struct HugePool: Equatable {
    /// Pages in the pool, surplus pages included (`nr_hugepages`, HugePages_Total).
    var total: UInt64 = 0
    var free: UInt64 = 0
    /// Pages promised to mappings but not yet faulted in (HugePages_Rsvd); a subset of `free`.
    var reserved: UInt64 = 0
    /// Pages of `total` the pool gives back to the page allocator as soon as they are free
    /// (HugePages_Surp, `surplus_hugepages`).
    var surplus: UInt64 = 0
    /// The most surplus pages the pool may hold (`nr_overcommit_hugepages`).
    var overcommit: UInt64 = 0

    /// Free pages no reservation has claimed: what a fault without a reservation may take.
    /// (`reserved` never exceeds `free` under the rules below; the clamp keeps a misuse from
    /// trapping.)
    var unreserved: UInt64 { free > reserved ? free - reserved : 0 }

    /// Pages that are not surplus (`persistent_huge_pages`).
    var persistent: UInt64 { total - surplus }

    /// `count` pages of a HugeTLB file in state `page` are gone with the file: a present page is
    /// free again, a reserved one no longer promised.
    mutating func release(_ count: UInt64, of page: FramePage) {
        if page.present { freeInUse(count) }
        if page.reserved { unreserve(count) }
    }

    /// `count` pages in use are freed: while the pool has surplus pages, each goes back to the
    /// page allocator and is one surplus page fewer (mm/hugetlb.c: free_huge_folio,
    /// `h->surplus_huge_pages_node[nid]`); the rest are free pool pages (measured:
    /// docs/kernel-facts P3, P4).
    mutating func freeInUse(_ count: UInt64) {
        let toAllocator = min(count, surplus)
        surplus -= toAllocator
        total -= toAllocator
        free += count - toAllocator
    }

    /// `count` reservations are given back, and as many free surplus pages as that, at most,
    /// leave the pool (mm/hugetlb.c: hugetlb_acct_memory with a negative delta,
    /// return_unused_surplus_pages).
    mutating func unreserve(_ count: UInt64) {
        reserved -= count
        let back = min(count, surplus, free)
        surplus -= back
        total -= back
        free -= back
    }

    /// Reserves `count` pages, adding surplus pages when the free pages are short, at most up to
    /// `overcommit` surplus pages and `room` new pages; false (ENOMEM, nothing changed) when
    /// that is not enough (mm/hugetlb.c: hugetlb_acct_memory, gather_surplus_pages).
    mutating func reserve(_ count: UInt64, room: UInt64) -> Bool {
        let needed = reserved + count > free ? reserved + count - free : 0
        if needed > 0 {
            guard needed <= overcommit - min(overcommit, surplus), needed <= room else { return false }
            surplus += needed
            total += needed
            free += needed
        }
        reserved += count
        return true
    }

    /// Surplus pages a fault without a reservation may still add, `room` allowing
    /// (mm/hugetlb.c: alloc_surplus_hugetlb_folio refuses at `nr_overcommit_hugepages`).
    func surplusRoom(_ room: UInt64) -> UInt64 { min(overcommit - min(overcommit, surplus), room) }

    /// Takes `count` pages for faults without a reservation: free pages no reservation holds
    /// first, then new surplus pages (which go straight into use), at most `room` of those.
    /// Returns how many it took.
    mutating func takeUnreserved(_ count: UInt64, room: UInt64) -> UInt64 {
        let fromFree = min(count, unreserved)
        free -= fromFree
        let added = min(count - fromFree, surplusRoom(room))
        surplus += added
        total += added
        return fromFree + added
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
            if options.shared && !options.noreserve {
                guard pools[huge].reserve(needed, room: surplusRoomPages(huge)) else {
                    dropIfUnused(id)
                    return nil
                }
                groups[id].pages.modify(filePages) { _, page in
                    if !page.present { page.reserved = true }
                }
            }
            // A private mapping of a HugeTLB file maps the pages the file has in its page
            // cache read-only (docs/kernel-facts 11a).
            object = id
        }
        if !options.shared && !options.noreserve {
            // A private mapping reserves every page, cached or not (mm/hugetlb.c:
            // hugetlb_reserve_pages, chg = to - from for a private mapping; measured:
            // docs/kernel-facts 11, 11g).
            guard pools[huge].reserve(pageCount, room: surplusRoomPages(huge)) else { return nil }
            reservation = ExtentMap(length: pageCount, value: true)
        }
        // MAP_NORESERVE reserves nothing, and a private mapping made with it owns no reservation
        // map (mm/hugetlb.c: hugetlb_reserve_pages returns before HPAGE_RESV_OWNER is set for
        // VM_NORESERVE): its faults take unreserved pages, and a COW copy that finds none
        // raises SIGBUS (measured: docs/kernel-facts P1, P2).
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
        pools[huge].unreserve(outstanding)
    }

    /// Private HugeTLB pages `pages` of `mapping` were zapped and `freed` of them no longer mapped:
    /// they return to the pool, and with `restoringReservation` (MADV_DONTNEED by the owner) their
    /// reservation to the mapping (mm/hugetlb.c: __unmap_hugepage_range, "restore the reservation").
    mutating func freeHugePages(_ p: ProcessID, _ mapping: Mapping, _ pages: Range<UInt64>, freed: UInt64, restoringReservation: Bool) {
        guard let huge = mapping.huge else { return }
        // A page whose reservation is restored raises the reserve count as it is freed
        // (mm/hugetlb.c: free_huge_folio, HPageRestoreReserve); while the pool has surplus pages
        // nothing is restored, neither the count nor the mapping's entry (__unmap_hugepage_range
        // sets the flag only when `!h->surplus_huge_pages`; measured: docs/kernel-facts P9).
        if restoringReservation && mapping.reservation != nil && freed == UInt64(pages.count) && pools[huge].surplus == 0 {
            pools[huge].reserved += freed
            processes[p].mappings[mapping.name]!.reservation!.assign(pages, true)
        }
        pools[huge].freeInUse(freed)
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
            let n = pools[huge].takeUnreserved(end - position, room: surplusRoomPages(huge))
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
        let copyEnd = range.lowerBound + min(UInt64(range.count), pools[huge].unreserved + pools[huge].surplusRoom(surplusRoomPages(huge)))
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
                    n = pools[huge].takeUnreserved(n, room: surplusRoomPages(huge))
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
            if stop < range.upperBound {
                // hugetlb_no_page maps the page-cache page (read-only) before hugetlb_wp copies
                // it: when the copy finds no page (SIGBUS), the page stays mapped. Only a process
                // that lives on sees it (mlock, populate: GUP returns EFAULT); the failed fault is
                // not counted (found by cross-feature random validation, mixb seed 64:
                // validation/mlock-sigbus.somw).
                if page.present {
                    let left = stop..<(stop + 1)
                    addMapcount(group: object, f.mapping.inFile(left), delta: 1)
                    f.mapping.pages.assign(left, .cache(writable: false, dirty: false))
                    mapTables(&f, left)
                }
                return stop
            }
        }
        return pages.upperBound
    }
}

// MARK: - Surplus pages and pool resizing

extension Simulator {
    /// How many new huge pages of `huge` RAM holds now: a surplus page is allocated whole from
    /// the page allocator (mm/hugetlb.c: alloc_surplus_hugetlb_folio). Gigantic (1 GiB) pages
    /// are never surplus pages on this kernel: writing their `nr_overcommit_hugepages` fails
    /// with EINVAL (measured: docs/kernel-facts P5), so their `overcommit` stays 0.
    func surplusRoomPages(_ huge: HugePageSize) -> UInt64 {
        guard pools[huge].overcommit > pools[huge].surplus else { return 0 }
        return roomPages() / (huge.bytes / constants.pageBytes)
    }

    /// `sysctl hugetlb-2m=N`: writes the pool's `nr_hugepages` (mm/hugetlb.c: set_max_huge_pages).
    /// Growing, surplus pages become persistent first, then new pages are allocated while RAM
    /// holds them (`sizePools`' rule). Shrinking, free pages leave the pool down to what the
    /// reservations and the pages in use keep (`min_count = resv + in use`), and the rest of
    /// the difference turns pages in use into surplus pages, which leave the pool as they are
    /// freed: `nr_hugepages` reads back more than was written (measured: docs/kernel-facts P4).
    mutating func setPoolSize(_ huge: HugePageSize, _ count: UInt64) {
        var pool = pools[huge]
        if count > pool.persistent {
            let persisted = min(pool.surplus, count - pool.persistent)
            pool.surplus -= persisted
            let wanted = count - pool.persistent
            let size = huge.bytes / constants.pageBytes
            let cost = machine.hvo ? size - hvoFreedPages(perHugePage: huge) : size
            let free = roomPages()
            let fits = free >= size ? 1 + (free - size) / cost : 0
            let allocated = min(wanted, fits)
            pool.total += allocated
            pool.free += allocated
            if allocated < wanted {
                capacityEvents.append(.poolTrimmed(huge, requested: count, allocated: pool.persistent))
            }
        } else {
            let inUse = pool.total - pool.free
            let minCount = max(count, pool.reserved + inUse)
            let removable = min(pool.persistent > minCount ? pool.persistent - minCount : 0, pool.free)
            pool.total -= removable
            pool.free -= removable
            if pool.persistent > count {
                pool.surplus += min(pool.persistent - count, pool.total - pool.surplus)
            }
        }
        pools[huge] = pool
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
