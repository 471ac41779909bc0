// VMA operations: mmap placement, munmap, the madvise walk and MADV_DONTNEED — mm/mmap.c,
// mm/vma.c, mm/madvise.c, mm/memory.c (zap_page_range).

import SomsimWorkload

extension Simulator {
    /// mmap(2). Returns the errno the kernel would give, or nil.
    /// `fileObject` is the file `file=` opened (`openForMmap`).
    /// Without `recording`, the mapping is not a placement of the workload's (the allocator's
    /// own mmaps: the real allocator's kernel places them, and validate compares the pointers).
    mutating func mmap(_ p: ProcessID, name: String, length: UInt64, options: MmapOptions, fileObject: GroupID? = nil, line: Int, recording: Bool = true) -> Errno? {
        let pageBytes = options.pageBytes
        let pageCount = length / pageBytes
        // HugeTLB mappings are aligned to their page size; 4 KiB mappings whose length is a
        // multiple of 2 MiB are PMD-aligned, as Linux aligns anonymous mappings that THP could back
        // (mm/mmap.c: __get_unmapped_area, thp_get_unmapped_area).
        let pmdBytes = PageGeometry.pmdBytes
        var alignment = options.huge != nil ? pageBytes : (length % pmdBytes == 0 ? pmdBytes : constants.pageBytes)
        // A som mapping of 1 GiB pages is aligned to 1 GiB, as a 1 GiB HugeTLB mapping is.
        if options.som && options.somPage == .size1G { alignment = PageGeometry.pudBytes }
        guard let start = processes[p].placementInPlace(length: length, alignment: alignment) else { return .ENOMEM }
        if overcommitRefuses(length: length, options: options) { return .ENOMEM }
        // A fixed single-owner pool that cannot back the mapping (SomPool.swift).
        if options.som, let errno = somPoolRefuses(length: length) { return errno }

        var object: GroupID? = nil
        var reservation: ExtentMap<Bool>? = nil
        if let huge = options.huge {
            guard let reserved = reserveHugePages(huge, pageCount: pageCount, options: options, fileObject: fileObject) else { return .ENOMEM }
            (object, reservation) = reserved
        } else if options.shared || options.file != nil {
            object = fileObject ?? pageCacheObject(named: options.file, huge: nil, pageCount: pageCount)
        }
        if let object { groups[object].mappers += 1 }

        var mapping = Mapping(
            name: name, start: start, options: options, pageCount: pageCount, object: object,
            pages: PageMap(length: pageCount, value: .none),
            vma: ExtentMap(length: pageCount, value: VMAFlags()),
            reservation: reservation)
        mergeWithNeighbours(p, &mapping)
        // (Performance: the end is read first, so that the mapping is moved into the
        // table, not copied; `insert` hashes its name once.)
        let end = mapping.end
        processes[p].mappings.insert(consume mapping)
        liveMappings += 1
        processes[p].insertLayout(start: start, end: end, name: name)
        if recording {
            let placement = Placement(line: line, process: processes[p].name, mapping: name, address: start, lengthBytes: length)
            placements.append(placement)
            outcome.placement = placement
        }

        if options.populate {
            // MAP_POPULATE faults every page in: writes for private writable mappings, reads for
            // shared ones (mm/gup.c: populate_vma_page_range). Each counts in ru_minflt like a
            // fault from user space (measured: docs/kernel-facts, 1d and 9).
            let access: Access = options.shared ? .read : .write
            fault(p, name, pages: [0..<pageCount], access: access, populating: true)
        }
        return nil
    }

    /// munmap(2) of a whole mapping: pages unmapped (freed when no process maps them any more),
    /// outstanding HugeTLB reservations returned, page tables freed.
    mutating func munmap(_ p: ProcessID, _ name: String) {
        guard let mapping = processes[p].mappings.removeValue(forKey: name) else { return }
        liveMappings -= 1
        zap(p, mapping, 0..<mapping.pageCount)
        returnReservation(mapping)
        if let object = mapping.object {
            groups[object].mappers -= 1
            releaseIfUnreferenced(object)
        }
        _ = processes[p].removeLayout(start: mapping.start)
        // The neighbours are the VMAs left: parts of mappings that are unmapped do not count.
        let (floor, ceiling) = mappedNeighbours(p, around: mapping.start..<mapping.end)
        editTables(p) { $0.free(mapping.start..<mapping.end, floor: floor, ceiling: ceiling) }
    }

    /// Removes the page-table entries of `range`, dropping mapcounts and freeing private pages
    /// that no process maps any more. With `restoringReservation` (MADV_DONTNEED by the owner of
    /// a private HugeTLB mapping) a freed page's reservation is given back to the mapping
    /// (mm/hugetlb.c: __unmap_hugepage_range, "restore the reservation"; measured:
    /// docs/kernel-facts, 6h).
    mutating func zap(_ p: ProcessID, _ mapping: Mapping, _ range: Range<UInt64>, restoringReservation: Bool = false) {
        for (pages, state) in mapping.pages.extents(in: range) {
            switch state {
            case .none, .zero:
                break
            case .anon(let run, _):
                let freed = addMapcount(group: run, pages, delta: -1)
                if mapping.huge != nil {
                    freeHugePages(p, mapping, pages, freed: freed, restoringReservation: restoringReservation)
                } else {
                    anonPages -= freed
                }
            case .cache(_, let dirty):
                guard let object = mapping.object else { break }
                // Zapping a dirty entry of a file or shmem page moves the dirty bit to the page
                // (mm/memory.c: zap_present_folio_ptes, folio_mark_dirty): whoever still maps
                // it, or maps it later, sees it dirty (measured: docs/kernel-facts 13).
                let filePages = mapping.inFile(pages)
                if dirty { groups[object].pages.modify(filePages) { _, page in page.dirty = true } }
                addMapcount(group: object, filePages, delta: -1)
            }
        }
    }

    /// madvise(2) from `byteRange`'s offset in mapping `name`, for `length=` bytes or to the
    /// mapping's end. Returns the errno the kernel would give, or nil.
    ///
    /// The call is an address range, and it may run past the mapping: into other mappings of the
    /// process, or into unmapped addresses. As madvise_walk_vmas does (mm/madvise.c), the advice
    /// is applied to every VMA the range meets, in address order; a VMA the advice is invalid for
    /// returns its error at once, with the VMAs before it done; an unmapped gap is remembered and
    /// returned as ENOMEM at the end, after everything else was done (measured: docs/kernel-facts
    /// 12). Nothing of the process is assumed to lie outside its workload mappings.
    mutating func madvise(_ p: ProcessID, _ name: String, _ advice: Advice, _ byteRange: ByteRange) -> Errno? {
        // Performance: only the range of the mapping is kept, not a copy of it (a copy alive
        // while `advise` changes the mapping's VMA flags would make it copy their arrays).
        guard let own = processes[p].withMapping(name, { (start: $0.start, end: $0.end) }) else { return .ENOMEM }
        let offset = byteRange.offsetBytes
        let ownBytes = own.end - own.start
        // Without `length=`, the range is the rest of the mapping; past its end there is none.
        guard let length = byteRange.lengthBytes ?? (offset <= ownBytes ? ownBytes - offset : nil) else { return .ENOMEM }
        // A zero length does nothing, wherever it points (do_madvise).
        if length == 0 { return nil }
        // A range that wraps around the address space is refused (check_input_range).
        let (start, startWraps) = own.start.addingReportingOverflow(offset)
        let (end, endWraps) = start.addingReportingOverflow(length)
        if startWraps || endWraps { return .EINVAL }
        // MADV_POPULATE_READ/WRITE fault the range in without the walk (MadviseAdvices.swift).
        if advice.populates { return populate(p, advice, start..<end) }

        var unmapped = false
        // Performance: a range inside the mapping meets it alone (a process's mappings do not
        // overlap), so the walk over the layout is left out. `madviseWalksLayout` makes every
        // call walk, to hold this path to the walk.
        if !madviseWalksLayout, start >= own.start, end <= own.end {
            if let errno = advise(p, name, advice, (start - own.start)..<(end - own.start), &unmapped) { return errno }
            return unmapped ? .ENOMEM : nil
        }
        var position = start
        let meeting = processes[p].mappingNames(meeting: start..<end)
        // (Performance: the one mapping most calls meet is the one looked up above; any other is
        // read in place, not copied.)
        let met = meeting.count == 1 && meeting[0] == name ? [(name: name, start: own.start, end: own.end)] : meeting.compactMap { other in processes[p].withMapping(other) { (name: $0.name, start: $0.start, end: $0.end) } }
        for m in met {
            if m.start > position { unmapped = true }
            position = min(m.end, end)
            let bytes = (max(start, m.start) - m.start)..<(position - m.start)
            if let errno = advise(p, m.name, advice, bytes, &unmapped) { return errno }
        }
        if position < end { unmapped = true }
        return unmapped ? .ENOMEM : nil
    }

    /// Applies `advice` to the byte range `bytes` (offsets inside mapping `name`) of one mapping,
    /// VMA by VMA (the mapping's VMA-attribute extents); a range not in the address space (a
    /// DONTFORK range in a child) sets `unmapped`. Returns the errno that ends the call, or nil.
    ///
    /// Only HugeTLB mappings can be met at an offset that is not a multiple of their page size
    /// (a range coming from a smaller-paged mapping next to them): MADV_DONTNEED then fails when
    /// the range starts inside a huge page and leaves out a last partial huge page
    /// (madvise_dontneed_free_valid_vma), and an advice that changes a VMA's flags fails where
    /// it would have to split the VMA inside a huge page (hugetlb_vm_op_split), unless the flags
    /// already are what it asks (madvise_update_vma returns early). Measured: docs/kernel-facts
    /// 12f, 12g.
    mutating func advise(_ p: ProcessID, _ name: String, _ advice: Advice, _ bytes: Range<UInt64>, _ unmapped: inout Bool) -> Errno? {
        // Performance: the mapping is read in place (`withMapping`), not through a copy (a copy
        // alive while its flags change below would make the change copy the VMA map's arrays).
        let oneLookup = madviseFlagsInOneLookup
        let (kind, pageBytes, huge, isSingleOwner, startsInsidePage, endsInsidePage, outer, vmas, pmdMapped, flagged) = processes[p].withMapping(name) {
            (mapping: inout Mapping) -> (MmapOptions, UInt64, HugePageSize?, Bool, Bool, Bool, Range<UInt64>, [(range: Range<UInt64>, flags: VMAFlags)], Bool, Errno??) in
            let pageBytes = mapping.pageBytes
            let startsInsidePage = bytes.lowerBound % pageBytes != 0
            let endsInsidePage = bytes.upperBound % pageBytes != 0
            let outer = (bytes.lowerBound / pageBytes)..<((bytes.upperBound + pageBytes - 1) / pageBytes)
            // The VMAs: maximal runs of equal attributes (the map need not keep its extents maximal).
            var vmas: [(range: Range<UInt64>, flags: VMAFlags)] = []
            mapping.vma.forEach(in: outer) { range, flags in
                if !flags.mapped {
                    unmapped = true
                } else if let last = vmas.last, last.range.upperBound == range.lowerBound, last.flags == flags {
                    vmas[vmas.count - 1].range = last.range.lowerBound..<range.upperBound
                } else {
                    vmas.append((range, flags))
                }
            }
            // Performance: an advice that only sets flags, on a mapping with no PMD-mapped THP to
            // split and that `Self.refuses` lets through (`madvise hugepage` before the first
            // touch, as alloc-mix does 200,000 times), is applied here, in this one lookup: the
            // same steps, in the same order, as the lookup at the end of this function.
            var flagged: Errno?? = nil
            if oneLookup, !vmas.isEmpty, !advice.actsOnPages, advice != .dontneed, mapping.pmdMapped == nil,
               !Self.refuses(advice, options: mapping.options, huge: mapping.huge, isSingleOwner: mapping.isSingleOwner) {
                flagged = .some(Self.setFlags(of: &mapping, advice, vmas, outer: outer, startsInsidePage: startsInsidePage, endsInsidePage: endsInsidePage))
            }
            return (mapping.options, pageBytes, mapping.huge, mapping.isSingleOwner, startsInsidePage, endsInsidePage, outer, vmas, mapping.pmdMapped != nil, flagged)
        }!
        if let flagged { return flagged }
        guard !vmas.isEmpty else { return nil }
        // REMOVE, WILLNEED, COLD, PAGEOUT and COLLAPSE act on pages (MadviseAdvices.swift).
        if advice.actsOnPages { return applyPageAdvice(p, name, advice, bytes, vmas) }
        if Self.refuses(advice, options: kind, huge: huge, isSingleOwner: isSingleOwner) { return .EINVAL }
        // (Performance: `splitPMDs` looks the mapping up only when it has PMD-mapped THPs.)
        if pmdMapped { splitPMDs(p, name, atEdgesOf: outer) }
        if advice == .dontneed {
            if startsInsidePage && vmas[0].range.contains(outer.lowerBound) { return .EINVAL }
            // A last partial huge page is left out.
            let whole = outer.lowerBound..<(bytes.upperBound / pageBytes)
            for vma in vmas where vma.range.overlaps(whole) {
                // A VM_LOCKED VMA is refused, the VMAs before it zapped
                // (madvise_dontneed_free_valid_vma; found by cross-feature random validation).
                if vma.flags.locked { return .EINVAL }
                dontneed(p, name, vma.range.clamped(to: whole))
            }
            return nil
        }
        // (Performance: the mapping is looked up once for all its VMAs.)
        return processes[p].withMapping(name) { mapping -> Errno? in
            Self.setFlags(of: &mapping, advice, vmas, outer: outer, startsInsidePage: startsInsidePage, endsInsidePage: endsInsidePage)
        }!
    }

    /// Whether `advice` is refused outright on a mapping of this kind (the errno is EINVAL).
    static func refuses(_ advice: Advice, options kind: MmapOptions, huge: HugePageSize?, isSingleOwner: Bool) -> Bool {
        switch advice {
        // Only private anonymous memory can be wiped on fork (mm/madvise.c: a VMA with a file,
        // HugeTLB included, or VM_SHARED is refused); KEEPONFORK is refused nowhere here.
        case .wipeonfork where kind.shared || kind.file != nil || huge != nil: return true
        // Single-owner memory cannot be made inheritable.
        case .dofork where isSingleOwner: return true
        default: return false
        }
    }

    /// Sets the flags `advice` asks on each of `vmas` of `mapping`; a VMA the range cuts inside a
    /// huge page ends the call with EINVAL unless its flags already are what it asks.
    static func setFlags(of mapping: inout Mapping, _ advice: Advice, _ vmas: [(range: Range<UInt64>, flags: VMAFlags)], outer: Range<UInt64>, startsInsidePage: Bool, endsInsidePage: Bool) -> Errno? {
        for vma in vmas {
            let advised = Self.flags(vma.flags, after: advice)
            let partial = (startsInsidePage && vma.range.contains(outer.lowerBound)) || (endsInsidePage && vma.range.contains(outer.upperBound - 1))
            if partial {
                if advised != vma.flags { return .EINVAL }
                continue
            }
            mapping.vma.modify(vma.range) { _, f in f = Self.flags(f, after: advice) }
        }
        return nil
    }

    /// The VMA flags `flags` become after a flag-setting advice (mm/madvise.c:
    /// madvise_vma_behavior). HUGEPAGE and NOHUGEPAGE are accepted on HugeTLB too, where they
    /// change nothing that matters (measured: docs/kernel-facts 12f).
    static func flags(_ flags: VMAFlags, after advice: Advice) -> VMAFlags {
        var flags = flags
        switch advice {
        case .dontfork, .dofork: flags.dontfork = advice == .dontfork
        case .wipeonfork, .keeponfork: flags.wipeonfork = advice == .wipeonfork
        case .hugepage, .nohugepage:
            flags.hugepage = advice == .hugepage
            flags.nohugepage = advice == .nohugepage
        case .dontneed: break
        case .remove, .willneed, .populateRead, .populateWrite, .collapse, .cold, .pageout: break
        }
        return flags
    }

    /// MADV_DONTNEED of `range` (pages of one VMA of mapping `name`): zaps it; the next touch
    /// faults anew.
    mutating func dontneed(_ p: ProcessID, _ name: String, _ range: Range<UInt64>) {
        let mapping = processes[p].mappings[name]!
        zap(p, mapping, range, restoringReservation: true)
        processes[p].mappings[name]!.pages.assign(range, .none)
        // CONFIG_PT_RECLAIM (6.14+) frees the PTE tables whose whole 2 MiB span the zap of one
        // VMA emptied; tables it only partly covered stay (measured: docs/kernel-facts, 7f). PMD
        // and PUD tables are never reclaimed this way.
        let addresses = address(range, in: mapping)
        let pmdBytes = PageGeometry.pmdBytes
        let first = (addresses.lowerBound + pmdBytes - 1) / pmdBytes
        let last = addresses.upperBound / pmdBytes
        if mapping.huge == nil, first < last {
            editTables(p) { $0.release(level: 0, first..<last) }
        }
    }
}
