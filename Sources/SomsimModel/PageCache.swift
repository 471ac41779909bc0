// Page cache: shmem, tmpfs and HugeTLB-file objects, their pages, read faults and fault-around —
// mm/filemap.c, mm/shmem.c, mm/memory.c (do_read_fault, do_fault_around).

import SomsimWorkload

extension Simulator {
    /// The page-cache object for a named file, or a new one for an anonymous shared mapping.
    mutating func pageCacheObject(named file: String?, huge: HugePageSize?, pageCount: UInt64) -> GroupID {
        if let file {
            let key = huge.map { "\(file)@\($0.token)" } ?? file
            if let id = namedObjects[key] {
                groups[id].pages.grow(to: pageCount, value: FramePage())
                return id
            }
            let id = newGroup(FrameGroup(kind: .pageCache(named: file), huge: huge, pageCount: pageCount))
            namedObjects[key] = id
            return id
        }
        return newGroup(FrameGroup(kind: .pageCache(named: nil), huge: huge, pageCount: pageCount))
    }

    mutating func dropIfUnused(_ id: GroupID) {
        if case .pageCache(named: nil) = groups[id].kind, groups[id].mappers == 0 {
            groups[id].pages = ExtentMap(length: 0, value: FramePage())
        }
    }

    /// Frees an anonymous page-cache object (shmem or HugeTLB) once no mapping references it, and
    /// a named file once it has no name, no descriptor and no mapping either (Files.swift).
    mutating func releaseIfUnreferenced(_ object: GroupID) {
        let group = groups[object]
        guard case .pageCache(let name) = group.kind, group.mappers == 0, name == nil || isOrphanedFile(object) else { return }
        // HugeTLB: every page is freed first, then the reservations left are returned
        // (hugetlbfs_evict_inode: remove_inode_hugepages, then hugetlb_unreserve_pages), which
        // matters once the pool has surplus pages.
        var present: UInt64 = 0
        var reserved: UInt64 = 0
        group.pages.forEach(in: 0..<group.pages.length) { range, page in
            if group.huge != nil {
                if page.present { present += UInt64(range.count) }
                if page.reserved { reserved += UInt64(range.count) }
            } else if page.present {
                cachePagesPresent -= UInt64(range.count)
            }
        }
        if let huge = group.huge {
            pools[huge].freeInUse(present)
            pools[huge].unreserve(reserved)
        }
        groups[object].pages = ExtentMap(length: 0, value: FramePage())
    }

    /// A write to a page a private file mapping has not mapped reads the file page into the page
    /// cache and copies it straight into a new private page (mm/memory.c: do_cow_fault): one
    /// fault, no page-cache page mapped.
    mutating func cowFault(_ f: inout FaultContext, _ pages: Range<UInt64>) -> UInt64 {
        guard let object = f.mapping.object else { return pages.upperBound }
        cachePages(object, f.mapping.inFile(pages), dirty: false)
        return allocatePrivate(&f, pages, fromReservation: false)
    }

    /// Shared write fault: the page-cache page is made (if needed), dirtied and mapped writable
    /// (mm/memory.c: do_shared_fault).
    mutating func sharedWriteFault(_ f: inout FaultContext, _ pages: Range<UInt64>) -> UInt64 {
        guard let object = f.mapping.object else { return pages.upperBound }
        cachePages(object, f.mapping.inFile(pages), dirty: true)
        addMapcount(group: object, f.mapping.inFile(pages), delta: 1)
        f.mapping.pages.assign(pages, .cache(writable: true, dirty: true))
        f.tally.faults += UInt64(pages.count)
        mapTables(f.process, f.mapping, pages)
        return pages.upperBound
    }

    /// A write to a page-cache page a private mapping maps read-only copies it
    /// (mm/memory.c: wp_page_copy; file pages are never reused). A HugeTLB copy of a
    /// page-cache page takes the owner's reservation for that page (mm/hugetlb.c:
    /// hugetlb_wp, outside_reserve only when the old page is not the page-cache page;
    /// measured: docs/kernel-facts 11b, 11f).
    mutating func copyFilePage(_ f: inout FaultContext, _ pages: Range<UInt64>) -> UInt64 {
        guard let object = f.mapping.object else { return pages.upperBound }
        addMapcount(group: object, f.mapping.inFile(pages), delta: -1)
        f.mapping.pages.assign(pages, .none)
        let stop = allocatePrivate(&f, pages, fromReservation: true)
        f.tally.copies += stop - pages.lowerBound
        return stop
    }

    /// Makes `pages` of a page-cache object exist (a fault allocates a missing shmem or tmpfs page,
    /// and makes a fallocated one uptodate).
    mutating func cachePages(_ object: GroupID, _ pages: Range<UInt64>, dirty: Bool) {
        var made: UInt64 = 0
        groups[object].pages.modify(pages) { range, page in
            if !page.present { made += UInt64(range.count) }
            page.present = true
            page.falloced = false
            if dirty { page.dirty = true }
        }
        if groups[object].huge == nil { cachePagesPresent += made }
    }

    /// The pages (mapping indices) a read fault on page `index` maps around it when they are in
    /// the page cache (mm/memory.c: do_fault_around): `faultAroundPages` pages from the fault's
    /// address aligned down to that size, or from the VMA's start when that is later; clamped to
    /// the VMA's end and to the end of the PTE table (a window never crosses a table). A VMA is
    /// a maximal range of equal `VMAFlags`: the kernel splits a VMA where they differ.
    func faultAroundWindow(_ m: Mapping, at index: UInt64) -> Range<UInt64> {
        var vma = m.vma.extent(containing: index).range
        // A mapping mremap grew past its object maps nothing beyond the object's end
        // (filemap_map_pages stops at the file's end).
        if let object = m.object, groups[object].pages.length < vma.upperBound { vma = vma.lowerBound..<max(groups[object].pages.length, index + 1) }
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
    mutating func readFaultAround(_ f: inout FaultContext, _ pages: Range<UInt64>) -> UInt64 {
        guard !pages.isEmpty else { return pages.upperBound }
        if faultAroundByPage { return readFaultAroundByPage(&f, pages) }
        let object = f.mapping.object!
        let n = constants.faultAroundPages
        let vma = f.mapping.vma.extent(containing: pages.lowerBound).range
        let basePage = f.mapping.start / constants.pageBytes
        // Mapping page i is file page i + shift (`fileoffset=`).
        let shift = f.mapping.fileOffsetPages
        /// The first page at or after `index` whose address is aligned to the window.
        func alignedAtOrAfter(_ index: UInt64) -> UInt64 { (basePage + index + n - 1) / n * n - basePage }
        // A page fault-around maps: in the cache and uptodate (not just fallocated).
        func present(_ index: UInt64) -> Bool { groups[object].pages.value(at: index + shift).mappable }
        /// The first page of `range` missing from the cache, if any.
        func firstMissing(_ range: Range<UInt64>) -> UInt64? {
            for (r, page) in groups[object].pages.sequence(in: f.mapping.inFile(range)) where !page.mappable { return r.lowerBound - shift }
            return nil
        }
        var faults: UInt64 = 0
        for (r, page) in groups[object].pages.sequence(in: f.mapping.inFile(pages)) where !page.mappable { faults += UInt64(r.count) }
        var windows: [Range<UInt64>] = []
        let firstAligned = alignedAtOrAfter(vma.lowerBound)
        var headEnd = pages.lowerBound
        if pages.lowerBound < firstAligned {
            // The VMA's first window: the first access faults and maps its cached pages.
            let head = faultAroundWindow(f.mapping, at: pages.lowerBound)
            if present(pages.lowerBound) { faults += 1 }
            windows.append(head)
            headEnd = head.upperBound
        }
        if max(pages.lowerBound, firstAligned) < pages.upperBound {
            let alignedPart = max(pages.lowerBound, firstAligned)..<pages.upperBound
            let block = faultAroundWindow(f.mapping, at: alignedPart.lowerBound)
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
                for (fileRange, page) in groups[object].pages.sequence(in: f.mapping.inFile(later)) where page.mappable {
                    let r = f.mapping.inMapping(fileRange)
                    let first = alignedAtOrAfter(r.lowerBound)
                    if first < r.upperBound { faults += (r.upperBound - first + n - 1) / n }
                }
                windows.append(faultAroundWindow(f.mapping, at: pages.upperBound - 1))
            }
        }
        f.tally.faults += faults
        // Cached pages of the windows outside the touched range are mapped too.
        for window in windows {
            if window.lowerBound < pages.lowerBound {
                mapCached(object, &f.mapping, window.lowerBound..<min(window.upperBound, pages.lowerBound))
            }
            if window.upperBound > pages.upperBound {
                mapCached(object, &f.mapping, max(window.lowerBound, pages.upperBound)..<window.upperBound)
            }
        }
        cachePages(object, f.mapping.inFile(pages), dirty: false)
        addMapcount(group: object, f.mapping.inFile(pages), delta: 1)
        f.mapping.pages.assign(pages, .cache(writable: !f.mapping.isPrivate, dirty: false))
        mapTables(f.process, f.mapping, pages)
        return pages.upperBound
    }

    /// Maps every page of `range` that is in the page cache and not yet mapped in `m`.
    mutating func mapCached(_ object: GroupID, _ m: inout Mapping, _ range: Range<UInt64>) {
        for (cachedInFile, page) in groups[object].pages.extents(in: m.inFile(range)) where page.mappable {
            for (unmapped, state) in m.pages.extents(in: m.inMapping(cachedInFile)) where state == .none {
                addMapcount(group: object, m.inFile(unmapped), delta: 1)
                m.pages.assign(unmapped, .cache(writable: !m.isPrivate, dirty: false))
            }
        }
    }

    /// `readFaultAround` the way the kernel takes it, one access at a time: an access to an
    /// unmapped page faults, maps the cached pages of its window, and reads the page into the
    /// cache if it is not there. The reference for the extent-based path, used when
    /// `faultAroundByPage` is set.
    mutating func readFaultAroundByPage(_ f: inout FaultContext, _ pages: Range<UInt64>) -> UInt64 {
        let object = f.mapping.object!
        for index in pages where f.mapping.pages.value(at: index) == .none {
            f.tally.faults += 1
            mapCached(object, &f.mapping, faultAroundWindow(f.mapping, at: index))
            if f.mapping.pages.value(at: index) == .none {
                cachePages(object, f.mapping.inFile(index..<(index + 1)), dirty: false)
                mapCached(object, &f.mapping, index..<(index + 1))
            }
        }
        mapTables(f.process, f.mapping, pages)
        return pages.upperBound
    }
}

extension FramePage {
    /// A page-cache page fault-around maps: present and uptodate (`falloced` is not).
    var mappable: Bool { present && !falloced }
}
