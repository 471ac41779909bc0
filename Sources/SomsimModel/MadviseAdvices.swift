// The madvise advices that act on pages rather than on VMA flags: MADV_POPULATE_READ and
// MADV_POPULATE_WRITE, MADV_REMOVE, MADV_WILLNEED, MADV_COLD, MADV_PAGEOUT and MADV_COLLAPSE, on
// a machine without swap — mm/madvise.c, mm/gup.c (faultin_page_range), mm/shmem.c
// (shmem_fallocate), fs/hugetlbfs/inode.c (hugetlbfs_punch_hole), mm/vmscan.c (reclaim_pages,
// shrink_folio_list), mm/khugepaged.c (madvise_collapse). Measured: docs/kernel-facts 20–24.

import SomsimWorkload

extension Advice {
    /// Advices that the madvise walk applies VMA by VMA and that act on pages, not VMA flags
    /// (mm/madvise.c: madvise_vma_behavior returns before madvise_update_vma for them).
    var actsOnPages: Bool {
        switch self {
        case .remove, .willneed, .collapse, .cold, .pageout: return true
        default: return false
        }
    }

    /// MADV_POPULATE_READ and MADV_POPULATE_WRITE, which do not go through the madvise walk.
    var populates: Bool { self == .populateRead || self == .populateWrite }
}

extension Simulator {
    /// MADV_POPULATE_READ / MADV_POPULATE_WRITE over `addresses` of process `p`.
    ///
    /// The kernel does not walk the VMAs for these (mm/madvise.c: madvise_do_behavior calls
    /// madvise_populate): `faultin_page_range` faults the range in from its start as a read or a
    /// write of every page would — the same faults, zero pages, COW copies and reuses, THPs and
    /// HugeTLB pages as `touch` (each counts in `ru_minflt`, kf 9, 20a, 20c–20e) — and stops at the
    /// first page it cannot fault: an address with no VMA (a gap, or a DONTFORK range in a child)
    /// returns ENOMEM with the pages before it populated and none after it (unlike the walk, kf
    /// 20b); a VMA whose protection forbids the access (POPULATE_WRITE on PROT_READ, either on
    /// PROT_NONE) returns EINVAL the same way (check_vma_flags; kf 20b); a fault that would raise SIGBUS (a HugeTLB pool that ran dry) returns EFAULT and the
    /// process lives on (kf 20d).
    mutating func populate(_ p: ProcessID, _ advice: Advice, _ addresses: Range<UInt64>) -> Errno? {
        let access: Access = advice == .populateWrite ? .write : .read
        var position = addresses.lowerBound
        for name in processes[p].mappingNames(meeting: addresses) {
            guard let m = processes[p].mappings[name] else { continue }
            if m.start > position { return .ENOMEM }
            let end = min(addresses.upperBound, m.end)
            // A HugeTLB mapping met from a smaller-paged mapping below it: GUP faults the whole
            // huge page that holds the address.
            let pages = ((position - m.start) / m.pageBytes)..<((end - m.start + m.pageBytes - 1) / m.pageBytes)
            if let errno = populateFault(p, name, pages, access) { return errno }
            // The OOM killer chose this process: the call ends with it.
            if !processes[p].alive { return nil }
            position = end
        }
        return position < addresses.upperBound ? .ENOMEM : nil
    }

    /// Faults `pages` of mapping `name` in as `fault` does, but as GUP does it: a signal the
    /// access would raise is returned as an errno instead of killing the process (mm/gup.c:
    /// faultin_page turns VM_FAULT_SIGBUS and VM_FAULT_SIGSEGV into EFAULT; an address outside
    /// every VMA is ENOMEM, check_vma_flags is not reached). Only the OOM killer still kills it.
    mutating func populateFault(_ p: ProcessID, _ name: String, _ pages: Range<UInt64>, _ access: Access) -> Errno? {
        guard !pages.isEmpty, let (mapping, slot) = processes[p].mappings.take(name) else { return nil }
        var f = FaultContext(process: p, access: access, mapping: mapping)
        var errno: Errno? = nil
        if !bulkFault(&f, [pages]) {
            var position = pages.lowerBound
            while position < pages.upperBound {
                let vma = f.mapping.vma.extent(containing: position)
                guard vma.value.mapped else {
                    errno = .ENOMEM
                    break
                }
                // A VMA whose protection forbids the access: check_vma_flags without FOLL_FORCE,
                // which __get_user_pages turns into EINVAL for FOLL_MADV_POPULATE (POPULATE_WRITE
                // on PROT_READ, either advice on PROT_NONE; kf 20b), the VMAs before it populated.
                guard vma.value.protection.allows(f.access) else {
                    errno = .EINVAL
                    break
                }
                let extent = f.mapping.pages.extent(containing: position)
                var end = min(extent.range.upperBound, vma.range.upperBound, pages.upperBound)
                if let pmdMapped = f.mapping.pmdMapped {
                    end = min(end, pmdMapped.extent(containing: position).range.upperBound)
                }
                guard makeRoom(&f, position, &end, extent.value) else { break }
                position = handle(&f, position..<end, extent.value)
                if f.tally.signal != nil {
                    errno = .EFAULT
                    // The fault that failed had its upper tables allocated already
                    // (__handle_mm_fault: pud_alloc, pmd_alloc; hugetlb_fault: huge_pte_alloc)
                    // before the page past the file's end or the missing pool page raised
                    // SIGBUS; the process lives on with them (found by cross-feature random
                    // validation: validation/mlock-sigbus.somw).
                    if position < f.mapping.pageCount {
                        let addresses = address(position..<(position + 1), in: f.mapping)
                        editTables(p) { $0.populate(addresses, lowestLevel: max(1, f.mapping.mappingLevel)) }
                    }
                    break
                }
            }
        }
        processes[p].mappings.putBack(f.mapping, at: slot)
        processes[p].minorFaults += f.tally.faults
        processes[p].cowCopies += f.tally.copies
        processes[p].cowReuses += f.tally.reuses
        // makeRoom found no memory and the OOM killer chose this process (as in `fault`).
        if errno == nil, f.tally.signal == .SIGKILL {
            kill(p, signal: .SIGKILL)
        }
        return errno
    }

    /// Applies an advice that acts on pages (`Advice.actsOnPages`) to the byte range `bytes` of
    /// mapping `name`, whose VMAs in the range are `vmas` (page ranges and flags, in order).
    /// Returns the errno that ends the madvise walk, or nil.
    mutating func applyPageAdvice(_ p: ProcessID, _ name: String, _ advice: Advice, _ bytes: Range<UInt64>, _ vmas: [(range: Range<UInt64>, flags: VMAFlags)]) -> Errno? {
        let m = processes[p].mappings[name]!
        switch advice {
        case .remove:
            return remove(m, bytes)
        case .willneed:
            // Without swap there is nothing to read in: anonymous and shmem memory only swap in
            // (swapin_walk_pmd_entry, shmem_swapin_range), tmpfs has no readahead and hugetlbfs
            // none either (vfs_fadvise). Returns 0 on every kind of mapping (kf 22).
            return nil
        case .cold, .pageout:
            // COLD deactivates the pages (folio_deactivate): nothing a measure sees. HugeTLB VMAs
            // are refused (can_madv_lru_vma; kf 23a, 23g, 23h), and so are VM_LOCKED ones, VMA by
            // VMA: the VMAs before a locked one are advised, then the walk ends with EINVAL
            // (can_madv_lru_vma; found by cross-feature random validation).
            if m.huge != nil { return .EINVAL }
            let lockedAt = vmas.firstIndex { $0.flags.locked }
            if advice == .pageout { pageout(p, name, vmas[..<(lockedAt ?? vmas.count)].map(\.range)) }
            return lockedAt == nil ? nil : .EINVAL
        case .collapse:
            return collapse(p, name, vmas)
        default:
            return nil
        }
    }

    /// MADV_REMOVE on one mapping: a hole punched in the file behind a shared mapping
    /// (mm/madvise.c: madvise_remove, vfs_fallocate with FALLOC_FL_PUNCH_HOLE).
    ///
    /// madvise_remove checks each VMA in turn: a VM_LOCKED one is EINVAL before anything else
    /// (the VMAs before it in the range are punched, the walk ends there; found by cross-feature
    /// random validation: validation/remove-locked.somw). Anonymous private memory has no file:
    /// EINVAL. A private mapping of a file, a private HugeTLB mapping among them, is not
    /// shared-writable: EACCES (kf 21a, 21d, 21e, 21g). Otherwise the hole is punched in the
    /// object as `fallocate … punch` of the same file pages punches it (`removeFilePages`, the
    /// mapping's `fileoffset=` applied), only where the range meets the mapping's VMAs (not in
    /// parts a range munmap took: mixb seed 334): every process's entries of the pages are zapped (page
    /// tables stay), copies private mappings made of them stay (shmem_fallocate unmaps with
    /// even_cows 0; HugeTLB copies do not: hugetlb_vmdelete_list), and a later access finds a
    /// hole (kf 21b–21d). A HugeTLB file punches only the huge pages wholly inside the range
    /// (hugetlbfs_punch_hole rounds the start up and the end down); each page it frees goes back
    /// to the pool — to the page allocator while the pool has surplus pages (free_huge_folio) —
    /// and its index loses its reservation, while indices that were reserved and never faulted
    /// keep theirs (remove_inode_single_folio: hugetlb_unreserve_pages for each freed folio
    /// only; kf 21f).
    mutating func remove(_ m: Mapping, _ bytes: Range<UInt64>) -> Errno? {
        let pageBytes = m.pageBytes
        let outer = (bytes.lowerBound / pageBytes)..<((bytes.upperBound + pageBytes - 1) / pageBytes)
        // VMA by VMA; parts of the mapping a range munmap took are not VMAs and stay as they are.
        for (range, flags) in m.vma.extents(in: outer) where flags.mapped {
            if flags.locked { return .EINVAL }
            if m.isPrivate { return m.options.file == nil && m.huge == nil ? .EINVAL : .EACCES }
            guard let object = m.object else { return .EINVAL }
            let low = max(bytes.lowerBound, range.lowerBound * pageBytes)
            let high = min(bytes.upperBound, range.upperBound * pageBytes)
            // Whole pages only; a range inside one huge page punches nothing (and would make an
            // inverted range: fuzz seed 9010, case 208697).
            let first = (low + pageBytes - 1) / pageBytes
            let lastPage = high / pageBytes
            guard first < lastPage else { continue }
            let filePages = m.inFile(first..<lastPage)
            let last = min(filePages.upperBound, groups[object].pages.length)
            if filePages.lowerBound < last {
                removeFilePages(object, filePages.lowerBound..<last, evenCows: m.huge != nil, punching: true)
            }
        }
        return nil
    }

    /// MADV_PAGEOUT without swap, on the page ranges `ranges` of mapping `name`.
    ///
    /// The walk isolates the folios only this process maps (folio_mapcount equal to its pages;
    /// madvise_cold_or_pageout_pte_range) and reclaims them (reclaim_pages, shrink_folio_list).
    /// Anonymous pages cannot go anywhere without swap and stay (kf 23a, 23f). Page-cache pages
    /// (shmem, tmpfs) are unmapped from this process (try_to_unmap, which moves a dirty entry's
    /// bit to the page); a page that is then clean is dropped from the page cache
    /// (__remove_mapping: a clean tmpfs page holds nothing a hole would not), a dirty one stays
    /// cached, its write-back to swap failing (kf 23b–23e). Page tables stay.
    ///
    /// Not modelled: an anonymous THP this process alone maps is split by the failed swap-out, and
    /// its subpages that hold only zeros are replaced by the shared zero page (kf 23g); the model
    /// keeps the THP whole, as it does not know which bytes a page holds.
    mutating func pageout(_ p: ProcessID, _ name: String, _ ranges: [Range<UInt64>]) {
        let m = processes[p].mappings[name]!
        guard let object = m.object, m.huge == nil else { return }
        var exclusive: [Range<UInt64>] = []
        for range in ranges {
            for (r, state) in m.pages.extents(in: range) {
                guard case .cache = state else { continue }
                for (own, page) in groups[object].pages.extents(in: r) where page.mapcount == 1 {
                    exclusive.append(own)
                }
            }
        }
        for r in exclusive {
            zap(p, processes[p].mappings[name]!, r)
            processes[p].mappings[name]!.pages.assign(r, .none)
            var clean: [Range<UInt64>] = []
            for (own, page) in groups[object].pages.extents(in: r) where page.present && !page.dirty {
                clean.append(own)
            }
            for c in clean {
                groups[object].pages.modify(c) { _, page in page.present = false }
                cachePagesPresent -= UInt64(c.count)
            }
        }
    }

    /// MADV_COLLAPSE on the VMAs `vmas` of mapping `name` (mm/khugepaged.c: madvise_collapse).
    ///
    /// Whatever the `thp` mode (the collapse is forced, TVA_FORCED_COLLAPSE), each 2 MiB block
    /// wholly inside a VMA of private anonymous memory becomes one THP mapped by a PMD entry:
    /// a block already PMD-mapped (a THP or the huge zero page) counts as done; a block with no
    /// PTE table fails (SCAN_NO_PTE_TABLE, the next block is still tried); a block with a PTE
    /// table is copied into a new THP — absent and zero-page entries become zeroed pages, the
    /// old pages are unmapped (freed where no other process maps them; after fork the other
    /// process keeps its pages, now its own) — with no fault, no COW count, and the PTE table
    /// kept as the THP's deposited table. Any failed block makes the call EINVAL. A VMA
    /// without an anon_vma (only zero-page reads so far), a NOHUGEPAGE VMA and HugeTLB are
    /// EINVAL at once; a range holding no whole block does nothing (kf 24).
    ///
    /// Not modelled: collapsing shmem or tmpfs pages (collapse_file makes a huge page in the page
    /// cache and maps it with a PMD entry, freeing the PTE table, kf 24h); the model leaves them
    /// as they are. Nor the memory check a THP allocation makes.
    mutating func collapse(_ p: ProcessID, _ name: String, _ vmas: [(range: Range<UInt64>, flags: VMAFlags)]) -> Errno? {
        let m = processes[p].mappings[name]!
        if m.huge != nil { return .EINVAL }
        guard m.isPrivateAnonymousLike, !m.isSingleOwner else { return nil }
        let span: UInt64 = 1 << UInt64(PageGeometry.pmdOrder)
        let startPage = m.start / constants.pageBytes
        for vma in vmas {
            if vma.flags.nohugepage { return .EINVAL }
            // thp_vma_allowable_order(TVA_FORCED_COLLAPSE) looks at the whole VMA, not the range:
            // a VMA that holds no whole aligned 2 MiB block (thp_vma_suitable_order on its last
            // block), or that has no anon_vma yet, is EINVAL before any block is scanned — also
            // when the range itself holds no whole block (found by cross-feature random
            // validation: validation/collapse-small-vma.somw).
            if !vmaHoldsPMDBlock(p, name, vma.range.lowerBound) || !vma.flags.anonVMA { return .EINVAL }
            // The whole blocks in the VMA, as virtual page numbers first: a VMA that holds none
            // may end below the first block boundary after its start.
            let firstPage = (startPage + vma.range.lowerBound + span - 1) / span * span
            let endPage = (startPage + vma.range.upperBound) / span * span
            // A range that crosses no 2 MiB boundary rounds to a start above its end, and the
            // kernel's count of blocks, (hend - hstart) >> HPAGE_PMD_SHIFT, wraps around: EINVAL
            // (found by cross-feature random validation: validation/collapse-small-vma.somw).
            // One that only touches a boundary holds no block and does nothing (kf 24c).
            if firstPage > endPage { return .EINVAL }
            guard firstPage < endPage else { continue }
            // Blocks by their PTE tables, a run of blocks at a time (O(extents), not O(blocks)):
            // those without a table fail, those with one collapse unless already PMD-mapped.
            let firstTable = firstPage / span
            var failed = false
            var withTables: [Range<UInt64>] = []
            processes[p].pageTables.levels[0].forEach(in: firstTable..<(endPage / span)) { tables, present in
                if present {
                    withTables.append((tables.lowerBound * span - startPage)..<(tables.upperBound * span - startPage))
                } else {
                    failed = true
                }
            }
            for blocks in withTables {
                var toCollapse: [Range<UInt64>] = []
                if let pmdMapped = processes[p].mappings[name]!.pmdMapped {
                    for (r, mapped) in pmdMapped.extents(in: blocks) where !mapped { toCollapse.append(r) }
                } else {
                    toCollapse = [blocks]
                }
                for r in toCollapse { collapseBlocks(p, name, r) }
            }
            if failed { return .EINVAL }
        }
        return nil
    }

    /// Whether the whole VMA that holds page `page` of mapping `name` — its maximal run of equal
    /// flags, continued into neighbouring mappings the kernel merged into the same VMA — holds
    /// at least one whole aligned 2 MiB block (thp_vma_suitable_order(vma, vm_end - HPAGE_PMD_SIZE)).
    func vmaHoldsPMDBlock(_ p: ProcessID, _ name: String, _ page: UInt64) -> Bool {
        let m = processes[p].mappings[name]!
        let flags = m.vma.value(at: page)
        var low = m.vma.extent(containing: page).range
        var high = low
        while low.lowerBound > 0, m.vma.value(at: low.lowerBound - 1) == flags { low = m.vma.extent(containing: low.lowerBound - 1).range }
        while high.upperBound < m.pageCount, m.vma.value(at: high.upperBound) == flags { high = m.vma.extent(containing: high.upperBound).range }
        var start = m.start + low.lowerBound * m.pageBytes
        var end = m.start + high.upperBound * m.pageBytes
        // Mappings merged into one VMA at mmap (`mergedVMA`) continue it where their edge flags match.
        if let id = m.mergedVMA {
            let merged = processes[p].mappings.values.filter { $0.mergedVMA == id }.sorted { $0.start < $1.start }
            if low.lowerBound == 0 {
                for other in merged.reversed() where other.end == start && other.vma.value(at: other.pageCount - 1) == flags {
                    start = other.start + other.vma.extent(containing: other.pageCount - 1).range.lowerBound * other.pageBytes
                }
            }
            if high.upperBound == m.pageCount {
                for other in merged where other.start == end && other.vma.value(at: 0) == flags {
                    end = other.start + other.vma.extent(containing: 0).range.upperBound * other.pageBytes
                }
            }
        }
        let span = constants.pageBytes << UInt64(PageGeometry.pmdOrder)
        return (start + span - 1) / span * span + span <= end
    }

    /// Replaces the pages of `blocks` (whole 2 MiB blocks) of mapping `name` by new PMD-mapped
    /// THPs, one per block (mm/khugepaged.c: collapse_huge_page, __collapse_huge_page_copy).
    mutating func collapseBlocks(_ p: ProcessID, _ name: String, _ blocks: Range<UInt64>) {
        var m = processes[p].mappings[name]!
        for (r, state) in m.pages.extents(in: blocks) {
            if case .anon(let run, _) = state { anonPages -= addMapcount(group: run, r, delta: -1) }
        }
        let run = newGroup(FrameGroup(kind: .anonymousRun, huge: nil, pageCount: m.pageCount))
        groups[run].firstVirtualPage = m.start / constants.pageBytes
        groups[run].pages.assign(blocks, FramePage(mapcount: 1, present: true, dirty: true, order: UInt8(PageGeometry.pmdOrder)))
        anonPages += UInt64(blocks.count)
        m.pages.assign(blocks, .anon(run: run, writable: true))
        setPMDMapped(&m, blocks, true)
        processes[p].mappings[name] = m
    }
}
