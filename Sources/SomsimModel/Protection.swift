// Protection and locking: mprotect(2), mlock(2) and munlock(2) as per-range VMA attributes, the
// access check of the fault path, and the population mlock does — mm/mprotect.c
// (do_mprotect_pkey, mprotect_fixup, change_pte_range, can_change_pte_writable), mm/mlock.c
// (do_mlock, apply_vma_lock_flags, mlock_fixup), mm/gup.c (__mm_populate,
// populate_vma_page_range), kernel/fork.c (dup_mmap clears VM_LOCKED).
// Measured: docs/kernel-facts/protlock.c, FINDINGS.md sections 15 and 16.

import SomsimWorkload

extension VMAFlags {
    /// Whether an access is allowed here: the range is in the address space and its protection
    /// permits the access. A forbidden access raises SIGSEGV without a counted fault
    /// (arch/x86/mm/fault.c: access_error, bad_area_access_error; measured: kf 15a, 15b, 15e).
    func allows(_ access: Access) -> Bool { mapped && protection.allows(access) }
}

extension SimProcess {
    /// A forked child does not inherit VM_LOCKED (kernel/fork.c: dup_mmap clears VM_LOCKED_MASK;
    /// the child's locked_vm starts at 0; measured: kf 16d).
    ///
    /// dup_mmap copies VMA by VMA and does not merge: a locked VMA next to an unlocked one stays a
    /// VMA of its own in the child, with equal flags (`VMAFlags.forkSplit` keeps them apart), so
    /// an mremap that grows the mapping is EFAULT there as in the parent (found by cross-feature
    /// random validation: validation/fork-mlock-vmas.somw).
    mutating func dropLocks() {
        for name in Array(mappings.keys) {
            let m = mappings[name]!
            // The parent's extents; a VMA is a maximal run of them with equal flags apart from
            // `anonVMA`, which the model marks per piece (as `Simulator.isOneVMA` reads them).
            let extents = m.vma.extents(in: 0..<m.pageCount)
            guard extents.contains(where: { $0.value.locked }) else { continue }
            var parentVMA: VMAFlags? = nil
            var childVMA: VMAFlags? = nil
            for (range, flags) in extents {
                var key = flags
                key.anonVMA = false
                if key != parentVMA {
                    var child = key
                    child.locked = false
                    if let childVMA, childVMA == child { child.forkSplit = !childVMA.forkSplit }
                    parentVMA = key
                    childVMA = child
                }
                var new = flags
                new.locked = false
                new.forkSplit = childVMA!.forkSplit
                mappings[name]!.vma.assign(range, new)
            }
        }
    }

    /// Bytes of VM_LOCKED ranges, as `VmLck` (mm->locked_vm) counts them: the whole locked range,
    /// present or not; HugeTLB is never locked (mlock_fixup leaves it out; measured: kf 16a, 16c,
    /// 16g).
    var lockedBytes: UInt64 {
        guard everLocked else { return 0 }
        var bytes: UInt64 = 0
        for mapping in mappings.values where mapping.huge == nil {
            mapping.vma.forEach(in: 0..<mapping.pageCount) { range, flags in
                if flags.locked && flags.mapped { bytes += UInt64(range.count) * mapping.pageBytes }
            }
        }
        return bytes
    }
}

/// What the range of an mprotect, mlock or munlock call is.
enum CallRange {
    /// Refused before any VMA is looked at.
    case refused(Errno)
    /// Length 0: nothing to do.
    case empty
    case addresses(Range<UInt64>)
}

/// One VMA a call's address range meets: a maximal run of equal flags inside one mapping.
struct VMAPiece {
    var mapping: String
    /// The VMA's pages the range covers, whole pages of the mapping.
    var pages: Range<UInt64>
    /// The bytes of the mapping the range covers in this VMA (not page-aligned only where a
    /// range from a smaller-paged mapping meets a HugeTLB mapping inside a huge page).
    var bytes: Range<UInt64>
    var flags: VMAFlags
}

extension Simulator {
    /// The address range of an mprotect, mlock or munlock call from `byteRange`'s offset in `own`
    /// (for `length=` bytes, or to the mapping's end), as madvise resolves it; or the errno the
    /// kernel gives before looking at any VMA. A nil range is a call of length 0, which does
    /// nothing.
    private func callRange(_ own: Mapping, _ byteRange: ByteRange, endWraps: Errno) -> CallRange {
        let offset = byteRange.offsetBytes
        let ownBytes = own.end - own.start
        // Without `length=`, the range is the rest of the mapping; past its end there is none.
        guard let length = byteRange.lengthBytes ?? (offset <= ownBytes ? ownBytes - offset : nil) else { return .refused(.ENOMEM) }
        if length == 0 { return .empty }
        let (start, startWraps) = own.start.addingReportingOverflow(offset)
        // A start past 2^64 is a low address where the workload has nothing mapped.
        if startWraps { return .refused(.ENOMEM) }
        let (end, wraps) = start.addingReportingOverflow(length)
        if wraps { return .refused(endWraps) }
        return .addresses(start..<end)
    }

    /// The VMAs of `addresses` in address order, as do_mprotect_pkey and apply_vma_lock_flags walk
    /// them, up to the first hole (unmapped addresses, or a `dontfork` range a child did not
    /// inherit); `complete` is false when there is one. A hole at the start gives no VMA at all.
    func vmaWalk(_ p: ProcessID, _ addresses: Range<UInt64>) -> (pieces: [VMAPiece], complete: Bool) {
        var pieces: [VMAPiece] = []
        var position = addresses.lowerBound
        for name in processes[p].mappingNames(meeting: addresses) {
            let m = processes[p].mappings[name]!
            if m.start > position { return (pieces, false) }
            let bytes = (max(addresses.lowerBound, m.start) - m.start)..<(min(addresses.upperBound, m.end) - m.start)
            let outer = (bytes.lowerBound / m.pageBytes)..<((bytes.upperBound + m.pageBytes - 1) / m.pageBytes)
            for (range, flags) in m.vma.extents(in: outer) {
                guard flags.mapped else { return (pieces, false) }
                let covered = max(bytes.lowerBound, range.lowerBound * m.pageBytes)..<min(bytes.upperBound, range.upperBound * m.pageBytes)
                if let last = pieces.last, last.mapping == name, last.pages.upperBound == range.lowerBound, last.flags == flags {
                    pieces[pieces.count - 1].pages = last.pages.lowerBound..<range.upperBound
                    pieces[pieces.count - 1].bytes = last.bytes.lowerBound..<covered.upperBound
                } else {
                    pieces.append(VMAPiece(mapping: name, pages: range, bytes: covered, flags: flags))
                }
            }
            position = min(m.end, addresses.upperBound)
        }
        return (pieces, position >= addresses.upperBound)
    }

    /// mprotect(2) from `byteRange`'s offset in mapping `name`. Returns the errno the kernel would
    /// give, or nil.
    ///
    /// As do_mprotect_pkey: a range whose start is not mapped is ENOMEM with nothing done; the
    /// VMAs are changed one by one in address order, also in other mappings the range runs into,
    /// and the first hole ends the call with ENOMEM, the VMAs before it changed (unlike madvise,
    /// which goes on past a hole; measured: kf 15f, 15g, 15h). A VMA whose protection is already
    /// the one asked is left alone (mprotect_fixup returns early); a HugeTLB VMA that would have
    /// to be split inside a huge page fails with EINVAL (hugetlb_vm_op_split; kf 15k).
    ///
    /// Pages keep their state: an exclusive anonymous page made read-only, or PROT_NONE, is made
    /// writable again by mprotect(PROT_READ|PROT_WRITE) without a fault (change_pte_range with
    /// MM_CP_TRY_CHANGE_WRITABLE, can_change_pte_writable: PageAnonExclusive), while a page
    /// shared by fork — `.anon(writable: false)`, even if no one else maps it any more — stays
    /// write-protected and the next write is a reuse or a copy (kf 15a, 15c, 15d). Private
    /// HugeTLB pages are not made writable again (hugetlb_change_protection has no such upgrade):
    /// the write after it is a fault and a reuse (kf 15k). A THP whose PMD the range covers only
    /// in part is split (change_pmd_range, __split_huge_pmd; the deposited PTE table is used, so
    /// page tables do not change, kf 15j). A private VM_LOCKED VMA made writable is populated
    /// with write faults at once, which copies its shared pages (mprotect_fixup,
    /// populate_vma_page_range; kf 16b, 16e).
    mutating func mprotect(_ p: ProcessID, _ name: String, _ protection: Protection, _ byteRange: ByteRange) -> Errno? {
        guard let own = processes[p].mappings[name] else { return .ENOMEM }
        let addresses: Range<UInt64>
        switch callRange(own, byteRange, endWraps: .ENOMEM) {
        case .refused(let errno): return errno
        case .empty: return nil
        case .addresses(let range): addresses = range
        }
        let (pieces, complete) = vmaWalk(p, addresses)
        for piece in pieces where piece.flags.protection != protection {
            let pageBytes = processes[p].mappings[piece.mapping]!.pageBytes
            if piece.bytes.lowerBound % pageBytes != 0 || piece.bytes.upperBound % pageBytes != 0 { return .EINVAL }
            splitPMDs(p, piece.mapping, atEdgesOf: piece.pages)
            var m = processes[p].mappings[piece.mapping]!
            m.vma.modify(piece.pages) { _, f in
                f.protection = protection
                f.forkSplit = false
            }
            if m.huge != nil && m.isPrivate && piece.flags.protection == .write {
                for (range, state) in m.pages.extents(in: piece.pages) {
                    if case .anon(let run, true) = state { m.pages.assign(range, .anon(run: run, writable: false)) }
                }
            }
            processes[p].mappings[piece.mapping] = m
            if piece.flags.locked && m.isPrivate && protection == .write {
                // populate_vma_page_range's result is ignored: a SIGBUS only stops it.
                fault(p, piece.mapping, pages: [piece.pages], access: .write, populating: true)
                if !processes[p].alive { return nil }
            }
        }
        return complete ? nil : .ENOMEM
    }

    /// mlock(2) (`lock`) or munlock(2) from `byteRange`'s offset in mapping `name`. Returns the
    /// errno the kernel would give, or nil.
    ///
    /// As apply_vma_lock_flags: a range whose start is not mapped is ENOMEM with nothing done;
    /// VM_LOCKED is set (or cleared) VMA by VMA, also in other mappings the range runs into,
    /// until the first hole, which makes the call ENOMEM with the VMAs before it changed — and
    /// then mlock populates nothing (do_mlock returns before __mm_populate; kf 16c). HugeTLB VMAs
    /// are never marked (mlock_fixup) but are populated. The root the probe runs as has
    /// CAP_IPC_LOCK, so RLIMIT_MEMLOCK never refuses (do_mlock; not modelled for other users).
    ///
    /// mlock then populates the range VMA by VMA as __mm_populate does: a private writable VMA
    /// with write faults (breaking COW: copies of pages others map, reuses of write-protected
    /// pages no one else maps, new pages for the zero page), any other VMA with read faults; a
    /// PROT_NONE VMA stops it with ENOMEM (populate fails with EFAULT, which
    /// __mlock_posix_error_return turns into ENOMEM), the VMAs before it populated and every
    /// VMA locked (kf 16a, 16b, 16d, 16f, 16g, 16h). Faults taken by population count as minor
    /// faults, as MAP_POPULATE's do (kf 9).
    mutating func mlock(_ p: ProcessID, _ name: String, _ byteRange: ByteRange, lock: Bool) -> Errno? {
        guard let own = processes[p].mappings[name] else { return .ENOMEM }
        let addresses: Range<UInt64>
        switch callRange(own, byteRange, endWraps: .EINVAL) {
        case .refused(let errno): return errno
        case .empty: return nil
        case .addresses(let range): addresses = range
        }
        if lock { processes[p].everLocked = true }
        let (pieces, complete) = vmaWalk(p, addresses)
        for piece in pieces where piece.flags.locked != lock {
            guard processes[p].mappings[piece.mapping]!.huge == nil else { continue }
            splitPMDs(p, piece.mapping, atEdgesOf: piece.pages)
            processes[p].mappings[piece.mapping]!.vma.modify(piece.pages) { _, f in
                f.locked = lock
                f.forkSplit = false
            }
        }
        guard complete else { return .ENOMEM }
        guard lock else { return nil }
        for piece in pieces {
            guard let m = processes[p].mappings[piece.mapping] else { continue }
            let flags = m.vma.value(at: piece.pages.lowerBound)
            if flags.protection == .none { return .ENOMEM }
            let access: Access = flags.protection == .write && m.isPrivate ? .write : .read
            // Population is GUP: a fault that would raise SIGBUS (a page past the end of a
            // file, a HugeTLB pool that ran dry) ends it with EFAULT, which
            // __mlock_posix_error_return turns into ENOMEM; the process lives, the pages before
            // it populated (found by cross-feature random validation: validation/mlock-sigbus.somw).
            if populateFault(p, piece.mapping, piece.pages, access) == .EFAULT { return .ENOMEM }
            if !processes[p].alive { return nil }
        }
        return nil
    }
}
