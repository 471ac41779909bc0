import SomsimWorkload

/// What one touch statement did, carried through the fault handlers.
struct FaultTally {
    var faults: UInt64 = 0
    var copies: UInt64 = 0
    var reuses: UInt64 = 0
    /// The run that holds the pages this statement allocates, made on first use.
    var newRun: Int32?
    /// The signal that stopped the touch, if any.
    var signal: String?
}

extension Simulator {
    /// Accesses every page of `ranges` (ascending page indices of mapping `name` in process `p`)
    /// in order, as a program touching one byte per page would, taking the faults the kernel
    /// takes. A SIGBUS or SIGSEGV stops the touch and kills the process.
    @discardableResult
    mutating func fault(_ p: Int, _ name: String, pages ranges: [Range<UInt64>], access: Access) -> Bool {
        guard var mapping = processes[p].mappings.removeValue(forKey: name) else { return true }
        var tally = FaultTally()
        ranges: for range in ranges {
            var position = range.lowerBound
            while position < range.upperBound {
                let vma = mapping.vma.extent(containing: position)
                guard vma.value.mapped else {
                    tally.signal = "SIGSEGV"
                    break ranges
                }
                let extent = mapping.pages.extent(containing: position)
                let end = min(extent.range.upperBound, vma.range.upperBound, range.upperBound)
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
    private mutating func handle(
        _ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, _ state: PageState, _ access: Access, _ tally: inout FaultTally
    ) -> UInt64 {
        let count = UInt64(pages.count)
        switch state {
        case .none:
            if m.isPrivateAnonymousLike {
                if access == .read && m.huge == nil {
                    // A read of untouched private anonymous memory maps the zero page
                    // (mm/memory.c: do_anonymous_page); no anon_vma is made for it.
                    m.pages.assign(pages, .zero)
                    tally.faults += count
                    mapTables(p, m, pages)
                    return pages.upperBound
                }
                return allocatePrivate(p, &m, pages, fromReservation: true, &tally)
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
            mapCache(m, pages, dirty: true)
            m.pages.assign(pages, .cache(writable: true, dirty: true))
            tally.faults += count
            mapTables(p, m, pages)
            return pages.upperBound

        case .zero:
            // Writing the zero page allocates a new zeroed page: a fault, not a copy.
            return access == .read ? pages.upperBound : allocatePrivate(p, &m, pages, fromReservation: true, &tally)

        case .anon(let run, let writable):
            if access == .read || writable { return pages.upperBound }
            return writeProtected(p, &m, pages, run: run, &tally)

        case .cache(let writable, let dirty):
            if access == .read { return pages.upperBound }
            if m.isPrivate {
                // A private file page is mapped read-only; writing copies it
                // (mm/memory.c: wp_page_copy; file pages are never reused).
                addMapcount(group: m.object!, pages, delta: -1)
                m.pages.assign(pages, .none)
                let stop = allocatePrivate(p, &m, pages, fromReservation: false, &tally)
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
        _ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, fromReservation: Bool, _ tally: inout FaultTally
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
            m.pages.assign(taken, .anon(run: run, writable: true))
            m.vma.modify(0..<m.pageCount) { _, flags in flags.anonVMA = true }
            tally.faults += UInt64(taken.count)
            mapTables(p, m, taken)
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
        tally.newRun = run
        return run
    }

    /// A write to write-protected private pages: reused where no other process maps the page
    /// (mm/memory.c: wp_can_reuse_anon_folio; counted as pgreuse), copied where one does.
    private mutating func writeProtected(_ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, run: Int32, _ tally: inout FaultTally) -> UInt64 {
        for (range, page) in groups[Int(run)].pages.extents(in: pages) {
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
                m.pages.assign(copied, .none)
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
        groups[Int(object)].pages.modify(pages) { _, page in
            page.present = true
            if dirty { page.dirty = true }
        }
    }

    /// Raises the mapcount of page-cache pages this process now maps.
    private mutating func mapCache(_ m: Mapping, _ pages: Range<UInt64>, dirty: Bool) {
        addMapcount(group: m.object!, pages, delta: 1)
    }

    /// A read fault on a file or shmem mapping. Before reading the missing page, the kernel maps
    /// the pages around it that are already in the page cache: the window of
    /// `faultAroundPages` pages aligned in the address space, clamped to the mapping
    /// (mm/memory.c: do_read_fault, do_fault_around). Handles `pages` (all unmapped here) block
    /// by block.
    private mutating func readFaultAround(_ p: Int, _ m: inout Mapping, _ pages: Range<UInt64>, _ tally: inout FaultTally) -> UInt64 {
        let object = m.object!
        let window = constants.faultAroundPages
        let basePage = m.start / constants.pageBytes
        var position = pages.lowerBound
        while position < pages.upperBound {
            let blockStart = max((basePage + position) / window * window, basePage) - basePage
            let blockEnd = min(blockStart + window, m.pageCount)
            let touchedEnd = min(blockEnd, pages.upperBound)
            // The first access in the block faults and maps every cached, unmapped page of it.
            tally.faults += 1
            var missing: UInt64 = 0
            for (range, page) in groups[Int(object)].pages.extents(in: position..<touchedEnd) where !page.present {
                missing += UInt64(range.count)
            }
            // Each missing page is a fault of its own (the first access's fault is one of them).
            if !groups[Int(object)].pages.value(at: position).present { missing -= 1 }
            tally.faults += missing
            for (range, page) in groups[Int(object)].pages.extents(in: blockStart..<blockEnd) where page.present {
                for (unmapped, state) in m.pages.extents(in: range) where state == .none {
                    addMapcount(group: object, unmapped, delta: 1)
                    m.pages.assign(unmapped, .cache(writable: !m.isPrivate, dirty: false))
                }
            }
            cachePages(object, position..<touchedEnd, dirty: false)
            for (range, state) in m.pages.extents(in: position..<touchedEnd) where state == .none {
                addMapcount(group: object, range, delta: 1)
                m.pages.assign(range, .cache(writable: !m.isPrivate, dirty: false))
            }
            mapTables(p, m, blockStart..<blockEnd)
            position = touchedEnd
        }
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

    /// Allocates the page tables that map `pages` of `m` in process `p`.
    private mutating func mapTables(_ p: Int, _ m: Mapping, _ pages: Range<UInt64>) {
        processes[p].pageTables.populate(address(pages, in: m), lowestLevel: m.mappingLevel)
    }
}
