// Processes: spawn, fork (dup_mmap), exit and the signals that kill — kernel/fork.c, mm/mmap.c,
// kernel/exit.c.

import SomsimWorkload

extension Simulator {
    mutating func spawn(_ name: String) {
        var process = SimProcess(name: name)
        if !mappingCapacityHints.isEmpty, let capacity = mappingCapacityHints[name] { process.mappings.reserveCapacity(capacity) }
        processIndex[name] = processes.append(process)
        liveProcesses += 1
    }

    /// fork(2): the child gets a copy of each VMA (mm/mmap.c: dup_mmap). DONTFORK VMAs are left
    /// out, WIPEONFORK VMAs arrive empty, and page-table entries are copied only for VMAs that
    /// have an anon_vma (mm/memory.c: vma_needs_copy) — HugeTLB included since the special case
    /// was dropped; private pages then become write-protected in both processes. Shared, file and
    /// zero-page-only VMAs are faulted in again by the child (measured: docs/kernel-facts, 2e, 4b,
    /// 6 "shared hugetlb").
    mutating func fork(_ p: ProcessID, child name: String) {
        var child = SimProcess(name: name)
        child.layout = processes[p].layout
        // The heap and the allocator's state are memory like any other: the child has its
        // parent's break, chunks and objects (dup_mmap copies mm->brk with the mm).
        child.programBreak = processes[p].programBreak
        child.allocator = processes[p].allocator
        child.allocatorMappings = processes[p].allocatorMappings
        // VMA by VMA in address order, as dup_mmap walks them. (Read from a copy of the
        // layout, which the walk does not change. Performance: no array of the names — a fleet's
        // forks made one each, and each allocation counts: see `bulkLists`.)
        let layout = processes[p].layout
        // Performance: the child has a mapping of every name its parent has (each set below), so
        // its table starts as the parent's, index of names and all (copy on write), and each
        // mapping replaces the parent's in its slot: a fleet's workers build no index of their
        // own (issue 12: 112 bytes and a hash a worker). Where the layout and the table do not
        // name the same mappings, the child's table is built name by name.
        if forkSharesTable && layout.count == processes[p].mappings.count {
            var all = true
            layout.forEach { entry in
                all = processes[p].mappings.contains(entry.name)
                return all
            }
            if all {
                child.mappings = processes[p].mappings
                child.mappings.emptySlots()
            }
        }
        layout.forEach { entry in
            forkMapping(p, entry.name, into: &child)
            return true
        }
        if processes[p].everLocked { child.dropLocks() }
        liveProcesses += 1
        liveMappings += UInt64(child.mappings.count)
        tablePages += child.pageTables.total
        // Performance: the child is moved into the table, not copied (`append(moving:)`).
        let childID = processes.append(moving: &child)
        processIndex[name] = childID
        named(name, childID)
        inheritDescriptors(p, childID)
    }

    /// `fork`'s copy of parent `p`'s mapping `mappingName` into `child` (dup_mmap's step for
    /// one VMA and its page tables).
    private mutating func forkMapping(_ p: ProcessID, _ mappingName: String, into child: inout SimProcess) {
        guard var parentMapping = processes.mapping(of: p, named: mappingName) else { return }
        var mapping = parentMapping
        // Performance: where every VMA piece is inherited with its page tables (mapped, not
        // DONTFORK, not WIPEONFORK, with an anon_vma), the child maps each page exactly as
        // the parent does once its private pages are write-protected below: it shares the
        // parent's map (copy on write) instead of building its own extent by extent. A
        // forked worker's map then costs nothing until it writes. (Only the values are the
        // same; where the parent's map keeps equal neighbours apart, so does the child's.)
        let sharesPages = forkSharesPages && !parentMapping.isSingleOwner
            && parentMapping.vma.sequence(in: 0..<parentMapping.pageCount).allSatisfy { _, flags in
                flags.mapped && !flags.dontfork && !flags.wipeonfork && flags.anonVMA
            }
        // The parent's map changes only where it had writable private pages.
        var parentChanged = false
        if !sharesPages { mapping.pages = PageMap(length: parentMapping.pageCount, value: .none) }
        mapping.reservation = nil
        mapping.reservationUnmapped = false
        var inherited = false
        let parentPages = parentMapping.pages
        // (Walked as sequences over copies of the parent's maps, which the walk may change:
        // no arrays of their extents.)
        for (range, flags) in parentMapping.vma.sequence(in: 0..<parentMapping.pageCount) {
            let addresses = address(range, in: parentMapping)
            // Single-owner (`som`) memory is never inherited, like a DONTFORK range.
            if !flags.mapped || flags.dontfork || parentMapping.isSingleOwner {
                mapping.vma.modify(range) { _, f in f.mapped = false }
                continue
            }
            inherited = true
            if flags.wipeonfork {
                mapping.vma.modify(range) { _, f in f.anonVMA = false }
                continue
            }
            guard flags.anonVMA else { continue }
            child.pageTables.copy(from: processes[p].pageTables, for: addresses)
            // (The stored map's sequence, each state translated here: `PageMap.sequence`'s
            // lazy map allocated its closure's context, two allocations a fork.)
            for (pages, stored) in parentPages.stored.sequence(in: range) {
                switch parentPages.outward(stored) {
                case .none:
                    break
                case .zero:
                    if !sharesPages { mapping.pages.assign(pages, .zero) }
                case .anon(let run, let writable):
                    addMapcount(group: run, pages, delta: 1)
                    if writable || !sharesPages {
                        parentMapping.pages.assign(pages, .anon(run: run, writable: false))
                        parentChanged = true
                    }
                    if !sharesPages { mapping.pages.assign(pages, .anon(run: run, writable: false)) }
                case .cache(let writable, let dirty):
                    if let object = mapping.object { addMapcount(group: object, mapping.inFile(pages), delta: 1) }
                    if !sharesPages { mapping.pages.assign(pages, .cache(writable: writable, dirty: dirty)) }
                }
            }
        }
        if !inherited {
            mapping.object = nil
        } else if let object = mapping.object {
            groups[object].mappers += 1
        }
        if sharesPages { mapping.pages = parentMapping.pages }
        if parentChanged { processes[p].mappings[mappingName] = parentMapping }
        child.mappings[mappingName] = mapping
    }

    /// exit(2): every mapping is unmapped and every page table freed.
    mutating func exit(_ p: ProcessID) {
        // In address order, as exit_mmap unmaps the VMAs.
        for name in processes[p].mappingNamesByAddress {
            munmap(p, name)
        }
        editTables(p) { $0 = PageTableSet() }
        closeAll(p)
        processes[p].alive = false
        liveProcesses -= 1
    }

    /// A signal the kernel raises on a bad access; its default action kills the process.
    mutating func kill(_ p: ProcessID, signal: Signal) {
        processes[p].signals.append(signal)
        outcome.kills.append(Kill(process: processes[p].name, signal: signal))
        exit(p)
    }
}
