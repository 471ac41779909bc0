// Partial munmap and mremap: VMA split, page-table freeing between the neighbouring VMAs, moving
// page tables — mm/vma.c (do_vmi_munmap, vms_complete_munmap_vmas), mm/memory.c (free_pgtables),
// mm/mremap.c (do_mremap, shrink_vma, expand_vma, move_vma, move_page_tables).

import SomsimWorkload

extension Simulator {
    /// munmap(2) of `byteRange` of mapping `name`: the whole mapping (`ByteRange.whole`, which
    /// releases the name) or part of it. Returns the errno the kernel would give, or nil.
    ///
    /// The range is bytes of the mapping: a range that runs past the mapping's end is refused
    /// with EINVAL and unmaps nothing (munmap(2) would unmap whatever lies there; a statement
    /// about one mapping does not reach another). A length of 0 is EINVAL, as munmap(2) says.
    /// Pages of the range that are unmapped already are left as they are (munmap of a hole
    /// succeeds). Measured: docs/kernel-facts 18.
    mutating func munmap(_ p: ProcessID, _ name: String, range byteRange: ByteRange) -> Errno? {
        if byteRange == .whole {
            munmap(p, name)
            return nil
        }
        // A name whose mmap failed: nothing to unmap (as `munmap(p, name)` does).
        guard let mapping = processes[p].mappings[name] else { return nil }
        let pageBytes = mapping.pageBytes
        let total = mapping.pageCount * pageBytes
        let offset = byteRange.offsetBytes
        guard offset <= total else { return .EINVAL }
        let length = byteRange.lengthBytes ?? (total - offset)
        guard length > 0, length <= total - offset else { return .EINVAL }
        unmapPages(p, name, (offset / pageBytes)..<((offset + length) / pageBytes))
        return nil
    }

    /// Unmaps `pages` of mapping `name`, which stays in the process with the range marked
    /// unmapped (`VMAFlags.mapped`), as do_vmi_munmap splits the VMA and removes the middle:
    /// PMD-mapped THPs across the range's edges are split first (a partially unmapped THP stays
    /// PTE-mapped, mm/huge_memory.c: __split_huge_pmd), the pages are zapped (mapcounts dropped,
    /// private pages no one maps any more freed), a private HugeTLB mapping's outstanding
    /// reservations of the range go back to the pool (mm/hugetlb.c: hugetlb_vm_op_close of the
    /// split-off VMA), and the page tables of the range are freed where no VMA left in the
    /// process shares their span (free_pgtables between the neighbouring VMAs as floor and
    /// ceiling, vms_complete_munmap_vmas). Once nothing of the mapping is mapped, its reference to
    /// its shared object is dropped (the last VMA is gone), and the object freed if it was the
    /// last. Measured: docs/kernel-facts 18.
    mutating func unmapPages(_ p: ProcessID, _ name: String, _ pages: Range<UInt64>) {
        guard !pages.isEmpty else { return }
        splitPMDs(p, name, atEdgesOf: pages)
        var mapping = processes[p].mappings[name]!
        zap(p, mapping, pages)
        mapping.pages.assign(pages, .none)
        var unmapped = VMAFlags()
        unmapped.mapped = false
        mapping.vma.assign(pages, unmapped)
        if mapping.pmdMapped != nil { mapping.pmdMapped!.assign(pages, false) }
        if let huge = mapping.huge, mapping.reservation != nil {
            var outstanding: UInt64 = 0
            mapping.reservation!.forEach(in: pages) { range, held in if held { outstanding += UInt64(range.count) } }
            // hugetlb_vm_op_close of the removed piece: hugetlb_acct_memory(-n), so free surplus
            // pages leave with the reservations (return_unused_surplus_pages), as a whole
            // munmap does (found by cross-feature random validation, mixb seed 45:
            // validation/munmap-range-surplus.somw).
            pools[huge].unreserve(outstanding)
            mapping.reservation!.assign(pages, false)
        }
        processes[p].mappings[name] = mapping
        let addresses = address(pages, in: mapping)
        let (floor, ceiling) = mappedNeighbours(p, around: addresses)
        editTables(p) { $0.free(addresses, floor: floor, ceiling: ceiling) }
        if !mapping.hasMappedPages, let object = mapping.object {
            groups[object].mappers -= 1
            releaseIfUnreferenced(object)
            processes[p].mappings[name]!.object = nil
        }
    }

    /// The end of the highest mapped address below `addresses` and the lowest mapped address at
    /// or above its end, over every mapping of process `p` (unmapped parts of mappings, and
    /// mappings with nothing mapped, are not VMAs): the floor and ceiling free_pgtables frees
    /// tables between (mm/memory.c: free_pgtables with prev->vm_end and next->vm_start).
    func mappedNeighbours(_ p: ProcessID, around addresses: Range<UInt64>) -> (floor: UInt64?, ceiling: UInt64?) {
        let process = processes[p]
        var floor: UInt64? = nil
        var index = process.firstLayoutIndex { $0.start >= addresses.lowerBound } - 1
        while floor == nil && index >= 0 {
            let entry = process.layout[index]
            if let m = process.mappings[entry.name] {
                let limit = (min(entry.end, addresses.lowerBound) - m.start) / m.pageBytes
                m.vma.forEach(in: 0..<limit) { range, flags in
                    if flags.mapped { floor = m.start + range.upperBound * m.pageBytes }
                }
            }
            index -= 1
        }
        var ceiling: UInt64? = nil
        index = process.firstLayoutIndex { $0.end > addresses.upperBound }
        while ceiling == nil && index < process.layout.count {
            let entry = process.layout[index]
            if let m = process.mappings[entry.name] {
                let first = (max(entry.start, addresses.upperBound) - m.start) / m.pageBytes
                for (range, flags) in m.vma.extents(in: first..<m.pageCount) where flags.mapped {
                    ceiling = m.start + range.lowerBound * m.pageBytes
                    break
                }
            }
            index += 1
        }
        return (floor, ceiling)
    }

    /// mremap(2) of mapping `name` from its size to `length` bytes, with MREMAP_MAYMOVE when
    /// `mayMove`. Returns the errno the kernel would give, or nil; on success `outcome.placement`
    /// says where the mapping is now (a real run moves it there with MREMAP_FIXED).
    ///
    /// As do_mremap does (mm/mremap.c): no VMA at the mapping's start is EFAULT; a HugeTLB
    /// mapping cannot grow (align_hugetlb: EINVAL). The same size changes nothing. A smaller size
    /// unmaps the tail (shrink_vma), wherever the tail is mapped. A larger size needs the whole
    /// mapping to be one VMA (remap_is_valid: EFAULT when it is split or has holes) and the
    /// overcommit charge for the growth; it grows in place when nothing is mapped above it
    /// (vma_expandable), else moves with MREMAP_MAYMOVE (move_vma) and fails with ENOMEM
    /// without. The new address of a move is the model's: the highest that fits in the workload
    /// window, aligned as `mmap` aligns (the kernel would take get_unmapped_area's, below its
    /// mmap_base). Measured: docs/kernel-facts 19.
    mutating func mremap(_ p: ProcessID, _ name: String, length: UInt64, mayMove: Bool, line: Int, recording: Bool = true) -> Errno? {
        guard let mapping = processes[p].mappings[name], mapping.pageCount > 0, mapping.vma.value(at: 0).mapped else { return .EFAULT }
        let pageBytes = mapping.pageBytes
        let oldLength = mapping.pageCount * pageBytes
        guard length > 0, length % pageBytes == 0 else { return .EINVAL }
        if mapping.huge != nil && length > oldLength { return .EINVAL }
        let newPages = length / pageBytes
        if length < oldLength {
            unmapPages(p, name, newPages..<mapping.pageCount)
            resize(p, name, to: newPages)
        } else if length > oldLength {
            guard isOneVMA(mapping) else { return .EFAULT }
            if overcommitRefuses(length: length - oldLength, options: mapping.options) { return .ENOMEM }
            let (end, wraps) = mapping.start.addingReportingOverflow(length)
            if !wraps && end <= processes[p].layout.high && processes[p].mappingNames(meeting: mapping.end..<end).isEmpty {
                resize(p, name, to: newPages)
            } else {
                guard mayMove else { return .ENOMEM }
                let pmdBytes = PageGeometry.pmdBytes
                let alignment = length % pmdBytes == 0 ? pmdBytes : constants.pageBytes
                guard let start = processes[p].placement(length: length, alignment: alignment) else { return .ENOMEM }
                move(p, name, to: start, pages: newPages)
            }
            // A VM_LOCKED VMA grown is populated over its new part at once, as mlock would
            // (do_mremap: mm_populate(new_addr + old_len, new_len - old_len) when locked; found
            // by cross-feature random validation: validation/mremap-grow-locked.somw).
            let grown = processes[p].mappings[name]!
            let flags = grown.vma.value(at: 0)
            if flags.locked {
                let access: Access = flags.protection == .write && grown.isPrivate ? .write : .read
                if flags.protection != .none {
                    fault(p, name, pages: [mapping.pageCount..<newPages], access: access, populating: true)
                }
            }
        }
        // The population of a locked growth may have cost the process its life (the OOM killer
        // takes it when memory is short: found by the fuzzer, seed 10011): nothing is left to
        // place.
        guard recording, processes[p].alive, let moved = processes[p].mappings[name] else { return nil }
        let placement = Placement(line: line, process: processes[p].name, mapping: name, address: moved.start, lengthBytes: length)
        placements.append(placement)
        outcome.placement = placement
        return nil
    }

    /// Whether the whole mapping is one VMA: every page mapped, with the same flags (whether it
    /// has an anon_vma does not split VMAs).
    func isOneVMA(_ m: Mapping) -> Bool {
        var first: VMAFlags? = nil
        var one = true
        m.vma.forEach(in: 0..<m.pageCount) { _, flags in
            var f = flags
            f.anonVMA = false
            if !f.mapped { one = false }
            if let first, first != f { one = false }
            if first == nil { first = f }
        }
        return one
    }

    /// Gives mapping `name` `pages` pages in place: the tail beyond is dropped (unmapped
    /// already), or new unmapped-yet pages join the last VMA (vma_merge_extend).
    mutating func resize(_ p: ProcessID, _ name: String, to pages: UInt64) {
        var m = processes[p].mappings[name]!
        if pages < m.pageCount {
            m.pages = m.pages.truncated(to: pages)
            m.vma = m.vma.truncated(to: pages)
            m.reservation = m.reservation?.truncated(to: pages)
            m.pmdMapped = m.pmdMapped?.truncated(to: pages)
        } else {
            let last = m.vma.value(at: m.pageCount - 1)
            m.pages.grow(to: pages, value: .none)
            m.vma.grow(to: pages, value: last)
            m.pmdMapped?.grow(to: pages, value: false)
        }
        m.pageCount = pages
        _ = processes[p].removeLayout(start: m.start)
        processes[p].insertLayout(start: m.start, end: m.end, name: name)
        processes[p].mappings[name] = m
    }

    /// Moves mapping `name` to `start`, `pages` pages long (move_vma): its pages, mapcounts and
    /// reservations go with it; page tables are moved (move_page_tables): for 4 KiB mappings,
    /// every part of the old range whose PTE table exists gets one at the new address — a PTE
    /// table, PMD-mapped THP included, moves whole when both addresses are 2 MiB aligned, else
    /// the THP is split and mapped by PTEs (move_huge_pmd only for aligned extents); HugeTLB
    /// pages get their tables where a page is mapped (move_hugetlb_page_tables). The old range's
    /// tables are freed as munmap frees them. Measured: docs/kernel-facts 19c, 19d, 19g, 19h.
    mutating func move(_ p: ProcessID, _ name: String, to start: UInt64, pages: UInt64) {
        var m = processes[p].mappings[name]!
        let old = m.start..<m.end
        let delta = start &- m.start
        if m.huge == nil {
            var moved: [Range<UInt64>] = []
            processes[p].pageTables.levels[0].forEach(in: PageTableSet.indices(old, level: 0)) { span, present in
                guard present else { return }
                let shift = PageTableLevel.pte.spanShift
                let from = max(old.lowerBound, span.lowerBound << shift)
                let to = min(old.upperBound, span.upperBound << shift)
                moved.append((from &+ delta)..<(to &+ delta))
            }
            editTables(p) { tables in for range in moved { tables.populate(range, lowestLevel: 0) } }
            let aligned = start % PageGeometry.pmdBytes == m.start % PageGeometry.pmdBytes
            if m.isSingleOwner {
                // The som pool maps its blocks with PMD entries and no PTE table; a block moved
                // out of alignment is mapped by PTEs.
                for (range, state) in m.pages.extents(in: 0..<m.pageCount) where state != .none {
                    let addresses = address(range, in: m)
                    editTables(p) { $0.populate((addresses.lowerBound &+ delta)..<(addresses.upperBound &+ delta), lowestLevel: aligned ? 1 : 0) }
                }
            }
            if !aligned, m.pmdMapped != nil {
                m.pmdMapped = nil
            }
        } else {
            var present: [Range<UInt64>] = []
            for (range, state) in m.pages.extents(in: 0..<m.pageCount) where state != .none { present.append(range) }
            let level = m.mappingLevel
            let pageBytes = m.pageBytes
            editTables(p) { tables in
                for range in present {
                    tables.populate((start + range.lowerBound * pageBytes)..<(start + range.upperBound * pageBytes), lowestLevel: level)
                }
            }
        }
        _ = processes[p].removeLayout(start: m.start)
        processes[p].mappings[name] = nil
        m.start = start
        if pages > m.pageCount {
            let last = m.vma.value(at: m.pageCount - 1)
            m.pages.grow(to: pages, value: .none)
            m.vma.grow(to: pages, value: last)
            m.pmdMapped?.grow(to: pages, value: false)
            m.pageCount = pages
        }
        // The moved VMA leaves the VMA it was merged with, and may merge at its new place
        // (copy_vma: vma_merge_new_range).
        m.mergedVMA = nil
        mergeWithNeighbours(p, &m)
        processes[p].mappings[name] = m
        processes[p].insertLayout(start: m.start, end: m.end, name: name)
        let (floor, ceiling) = mappedNeighbours(p, around: old)
        editTables(p) { $0.free(old, floor: floor, ceiling: ceiling) }
    }

    /// A fault on pages of a shared or file mapping beyond the end of its object (a mapping that
    /// mremap grew past its shmem object or file) raises SIGBUS (mm/shmem.c: shmem_fault past
    /// i_size; mm/filemap.c: filemap_fault). Returns where the caller stops, or nil to go on.
    /// Pages below the end are handled first. Measured: docs/kernel-facts 19j.
    mutating func faultPastObjectEnd(_ f: inout FaultContext, _ pages: Range<UInt64>, _ state: PageState) -> UInt64? {
        guard let object = f.mapping.object, f.mapping.huge == nil else { return nil }
        // A file: its size (i_size) decides, and `handle` checked it (endOfFile). A page inside
        // the size that the object's pages do not reach yet (a file grown by ftruncate, mapped
        // by a mapping mremap grew) is a hole like any other (found by cross-feature random
        // validation, mixb seed 456: validation/mremap-truncated-file.somw).
        if endOfFile(f.mapping) != nil {
            let needed = f.mapping.inFile(pages).upperBound
            if groups[object].pages.length < needed { groups[object].pages.grow(to: needed, value: FramePage()) }
            return nil
        }
        let end = groups[object].pages.length
        guard pages.upperBound > end else { return nil }
        if pages.lowerBound < end { return handle(&f, pages.lowerBound..<end, state) }
        f.tally.signal = .SIGBUS
        return pages.lowerBound
    }
}

extension Simulator {
    /// The anon_vma of a fault in a mapping the kernel holds as several VMAs — split by unmapped
    /// holes (a range munmap, a DONTFORK range in a child) or by madvise flags: only the VMAs
    /// `pages` meet get one (mm/rmap.c: __anon_vma_prepare attaches it to the faulting VMA; a
    /// VMA split later gives both parts the anon_vma, anon_vma_clone). The VMAs are the maximal
    /// mapped runs of equal flags (whether a run has an anon_vma aside). Returns nil when the
    /// whole mapping is one VMA, else whether a marked VMA reaches the mapping's first or last
    /// page, where a merged neighbour shares it. Found by validating random workloads: a VMA
    /// only read, next to a written one of the same mapping, had its tables copied at fork.
    func markAnonVMAOfPieces(_ m: inout Mapping, _ pages: Range<UInt64>) -> Bool? {
        guard !pages.isEmpty else { return nil }
        var pieces: [Range<UInt64>] = []
        var current: (range: Range<UInt64>, flags: VMAFlags)? = nil
        var split = false
        m.vma.forEach(in: 0..<m.pageCount) { range, flags in
            var f = flags
            f.anonVMA = false
            if let c = current, c.flags == f, f.mapped {
                current = (c.range.lowerBound..<range.upperBound, f)
                return
            }
            if current != nil { split = true }
            if let c = current, c.flags.mapped { pieces.append(c.range) }
            current = (range, f)
        }
        guard split else { return nil }
        if let c = current, c.flags.mapped { pieces.append(c.range) }
        var edge = false
        for piece in pieces where piece.overlaps(pages) {
            m.vma.modify(piece) { _, flags in flags.anonVMA = true }
            if piece.lowerBound == 0 || piece.upperBound == m.pageCount { edge = true }
        }
        return edge
    }
}

extension Mapping {
    /// Whether any page of the mapping is in the address space.
    var hasMappedPages: Bool {
        var mapped = false
        vma.forEach(in: 0..<pageCount) { _, flags in if flags.mapped { mapped = true } }
        return mapped
    }
}

extension ExtentMap {
    /// The map cut to its first `newLength` indices.
    func truncated(to newLength: UInt64) -> ExtentMap {
        guard newLength < length, newLength > 0 else { return self }
        var map = ExtentMap(length: newLength, value: value(at: 0))
        for (range, value) in extents(in: 0..<newLength) { map.assign(range, value) }
        return map
    }
}
