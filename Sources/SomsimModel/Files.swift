// Files as objects: descriptors, names, file sizes; ftruncate, fallocate, close and unlink of
// tmpfs (shmem, memfd) and hugetlbfs files — fs/open.c, fs/namei.c, mm/shmem.c (shmem_setattr,
// shmem_fallocate), fs/hugetlbfs/inode.c (hugetlb_vmtruncate, hugetlbfs_fallocate,
// hugetlbfs_punch_hole), mm/truncate.c (truncate_pagecache), mm/memory.c (unmap_mapping_range).

import SomsimWorkload

/// The workload's named files: which processes hold a descriptor for which file, the names that
/// still exist, and each file's size.
///
/// A file (`file=ID`) is a page-cache object (`FrameGroup`, kind `.pageCache(named:)`), a tmpfs
/// file or, with `huge=`, a hugetlbfs file; one ID names one file per page size. Its pages stay
/// while any mapping, any descriptor or its name holds it (the inode's link count and references,
/// fs/inode.c: iput_final → shmem_evict_inode, hugetlbfs_evict_inode).
struct FileTable {
    /// Per process: file ID → the object its descriptor refers to. Descriptors are inherited by
    /// fork (kernel/fork.c: dup_fd) and closed at exit.
    var descriptors: [ProcessID: [String: GroupID]] = [:]
    /// Descriptors open on each object, over all processes.
    var openCount: [GroupID: Int] = [:]
    /// Objects whose name was removed by `unlink`.
    var unlinked: Set<GroupID> = []
    /// i_size of each named file, in bytes.
    var sizeBytes: [GroupID: UInt64] = [:]
}

extension Simulator {
    /// The key of a file in `namedObjects`: the ID, and its page size for a hugetlbfs file.
    static func fileKey(_ file: String, huge: HugePageSize?) -> String {
        huge.map { "\(file)@\($0.token)" } ?? file
    }

    /// What `mmap … file=ID` opens: the file process `p` holds a descriptor for under ID (of the
    /// same page size), else the file named ID, created if there is none, and a new descriptor
    /// for it. A file shorter than `fileoffset=` + the mapping is extended to cover it (the probe
    /// makes the file that long before mmap, as a program sizes a file before mapping it).
    /// Returns the object, or the errno of the mmap: EINVAL for a `fileoffset=` that is not a
    /// multiple of the page size (mm/mmap.c: do_mmap's offset_in_page check; fs/hugetlbfs/
    /// inode.c: hugetlbfs_file_mmap; measured: docs/kernel-facts 17b); the file is opened even
    /// then, as open(2) comes before mmap(2).
    mutating func openForMmap(_ p: ProcessID, file: String, options: MmapOptions, pageCount: UInt64) -> (GroupID, Errno?) {
        let huge = options.huge
        let object: GroupID
        if let held = files.descriptors[p]?[file], groups[held].huge == huge {
            object = held
        } else {
            let key = Self.fileKey(file, huge: huge)
            if let named = namedObjects[key] {
                object = named
            } else {
                object = newGroup(FrameGroup(kind: .pageCache(named: file), huge: huge, pageCount: 0))
                namedObjects[key] = object
                files.sizeBytes[object] = 0
            }
            if files.descriptors[p]?[file] == nil {
                files.descriptors[p, default: [:]][file] = object
                files.openCount[object, default: 0] += 1
            }
        }
        let pageBytes = options.pageBytes
        guard options.fileOffsetBytes % pageBytes == 0 else { return (object, .EINVAL) }
        // A mapping whose end in the file lies past MAX_LFS_FILESIZE (2^63 - 1) is longer than
        // any address space too: get_unmapped_area refuses a length above TASK_SIZE with ENOMEM
        // before the file is looked at, and the file could not be sized for it (EFBIG). Nothing
        // is extended. (Found by the fuzz campaign: the product trapped.)
        let (endPages, pagesOverflow) = options.fileOffsetPages.addingReportingOverflow(pageCount)
        let (end, bytesOverflow) = endPages.multipliedReportingOverflow(by: pageBytes)
        guard !pagesOverflow, !bytesOverflow, end <= UInt64(Int64.max) else { return (object, .ENOMEM) }
        files.sizeBytes[object] = max(files.sizeBytes[object] ?? 0, end)
        groups[object].pages.grow(to: options.fileOffsetPages + pageCount, value: FramePage())
        return (object, nil)
    }

    /// The first page of mapping `m` past the end of its file (mapping index), or nil for an
    /// object with no size (shared anonymous memory). A fault there raises SIGBUS
    /// (mm/shmem.c: shmem_get_folio_gfp returns -EINVAL past i_size, hence VM_FAULT_SIGBUS;
    /// mm/hugetlb.c: hugetlb_no_page, "idx >= size"; measured: docs/kernel-facts 17a, 17c).
    func endOfFile(_ m: Mapping) -> UInt64? {
        guard let object = m.object, let size = files.sizeBytes[object] else { return nil }
        let filePages = (size + m.pageBytes - 1) / m.pageBytes
        return filePages > m.fileOffsetPages ? filePages - m.fileOffsetPages : 0
    }

    /// fork(2): the child holds every descriptor its parent holds (kernel/fork.c: dup_fd).
    mutating func inheritDescriptors(_ parent: ProcessID, _ child: ProcessID) {
        guard let held = files.descriptors[parent] else { return }
        files.descriptors[child] = held
        for object in held.values { files.openCount[object, default: 0] += 1 }
    }

    /// exit(2): every descriptor of the process is closed (kernel/exit.c: exit_files).
    mutating func closeAll(_ p: ProcessID) {
        guard let held = files.descriptors.removeValue(forKey: p) else { return }
        for object in held.values { dropDescriptor(object) }
    }

    private mutating func dropDescriptor(_ object: GroupID) {
        files.openCount[object, default: 1] -= 1
        releaseIfUnreferenced(object)
    }

    /// Whether a named file has lost its name and every descriptor: its pages go with its last
    /// mapping (`releaseIfUnreferenced`).
    func isOrphanedFile(_ object: GroupID) -> Bool {
        files.unlinked.contains(object) && (files.openCount[object] ?? 0) == 0
    }

    /// close(2) of the descriptor for `file`. EBADF when the process holds none.
    mutating func close(_ p: ProcessID, file: String) -> Errno? {
        guard let object = files.descriptors[p]?.removeValue(forKey: file) else { return .EBADF }
        dropDescriptor(object)
        return nil
    }

    /// unlink(2) of the name ID, of every page size it names (a tmpfs and a hugetlbfs file may
    /// share an ID). ENOENT when there is none. A later `mmap … file=ID` without a descriptor
    /// creates a new file; the old one lives on while mapped or open.
    mutating func unlink(_ p: ProcessID, file: String) -> Errno? {
        var found = false
        for huge in [nil] + HugePageSize.allCases.map(Optional.some) {
            guard let object = namedObjects.removeValue(forKey: Self.fileKey(file, huge: huge)) else { continue }
            found = true
            files.unlinked.insert(object)
            releaseIfUnreferenced(object)
        }
        return found ? nil : .ENOENT
    }

    /// ftruncate(2) of the descriptor for `file` to `size` bytes.
    ///
    /// A shrink removes the file's pages from the first page wholly past the new end (tmpfs keeps
    /// a partial last page; a hugetlbfs size must be a multiple of the huge page size, else
    /// EINVAL): they are unmapped from every process — private copies of those pages too
    /// (truncate_pagecache: unmap_mapping_range with even_cows; hugetlb_vmtruncate:
    /// hugetlb_vmdelete_list) — and freed, and a HugeTLB file's reservations for them are
    /// returned (hugetlb_unreserve_pages). A later touch there raises SIGBUS. A grow only moves
    /// the end: a hole, no pages, no reservation (a shared mapping's fault there takes a free page
    /// no reservation holds). Measured: docs/kernel-facts 17a, 17c.
    mutating func ftruncate(_ p: ProcessID, file: String, sizeBytes size: UInt64) -> Errno? {
        guard let object = files.descriptors[p]?[file] else { return .EBADF }
        // A size above 2^63 - 1 is a negative loff_t (fs/open.c: do_ftruncate).
        guard size <= UInt64(Int64.max) else { return .EINVAL }
        let pageBytes = groups[object].huge?.bytes ?? constants.pageBytes
        if groups[object].huge != nil && size % pageBytes != 0 { return .EINVAL }
        let keep = size / pageBytes + (size % pageBytes == 0 ? 0 : 1)
        let length = groups[object].pages.length
        if keep < length {
            removeFilePages(object, keep..<length, evenCows: true)
        }
        // The partial last page is zeroed past the end and marked dirty (shmem_undo_range).
        if size % pageBytes != 0 { dirtyPartialPage(object, size / pageBytes) }
        files.sizeBytes[object] = size
        return nil
    }

    /// fallocate(2) of the descriptor for `file`: mode 0 allocates every page the byte range
    /// touches (rounded outward) and moves the end of the file to the range's end when that is
    /// past it; `punch` (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) frees the pages wholly inside
    /// the range (rounded inward) and unmaps them.
    ///
    /// tmpfs (mm/shmem.c: shmem_fallocate): allocated pages are in the page cache, dirty; a punch
    /// unmaps the file's pages but keeps private copies (unmap_mapping_range without even_cows).
    /// hugetlbfs (fs/hugetlbfs/inode.c: hugetlbfs_fallocate): each missing page takes the file's
    /// reservation for it, or else a free page no reservation holds, or else the call stops with
    /// ENOSPC (the pages allocated so far stay, the size does not move); a punch
    /// (hugetlbfs_punch_hole) unmaps the pages from every mapping, private copies included
    /// (hugetlb_vmdelete_list), frees them and returns their reservations. A length of 0 is
    /// EINVAL, an offset or length above 2^63 - 1 too, an end past 2^63 - 1 EFBIG. Measured:
    /// docs/kernel-facts 17b, 17c.
    mutating func fallocate(_ p: ProcessID, file: String, offsetBytes offset: UInt64, lengthBytes length: UInt64, punch: Bool) -> Errno? {
        guard let object = files.descriptors[p]?[file] else { return .EBADF }
        // fs/open.c: vfs_fallocate takes loff_t values: a negative offset or a length that is
        // not positive is EINVAL, an end past the largest file (MAX_LFS_FILESIZE) EFBIG.
        guard length > 0, length <= UInt64(Int64.max), offset <= UInt64(Int64.max) else { return .EINVAL }
        let end = offset + length
        guard end <= UInt64(Int64.max) else { return .EFBIG }
        let huge = groups[object].huge
        let pageBytes = huge?.bytes ?? constants.pageBytes
        if punch {
            let first = (offset + pageBytes - 1) / pageBytes
            let last = min(end / pageBytes, groups[object].pages.length)
            if first < last { removeFilePages(object, first..<last, evenCows: huge != nil, punching: true) }
            // tmpfs zeroes the partial pages at either end of the hole and marks them dirty
            // (mm/shmem.c: shmem_undo_range, folio_mark_dirty before truncate_inode_partial_folio).
            if huge == nil {
                if offset % pageBytes != 0 { dirtyPartialPage(object, offset / pageBytes) }
                if end % pageBytes != 0 { dirtyPartialPage(object, end / pageBytes) }
            }
            return nil
        }
        let pages = (offset / pageBytes)..<((end + pageBytes - 1) / pageBytes)
        groups[object].pages.grow(to: pages.upperBound, value: FramePage())
        if let huge {
            for (range, page) in groups[object].pages.extents(in: pages) where !page.present {
                var n = UInt64(range.count)
                if page.reserved {
                    pools[huge].reserved -= n
                    pools[huge].free -= n
                } else {
                    // Free pages no reservation holds, then surplus pages where the pool's
                    // overcommit allows (alloc_hugetlb_folio without a reservation).
                    n = pools[huge].takeUnreserved(n, room: surplusRoomPages(huge))
                }
                groups[object].pages.modify(range.lowerBound..<(range.lowerBound + n)) { _, page in
                    page.present = true
                    page.reserved = false
                }
                if n < UInt64(range.count) { return .ENOSPC }
            }
        } else {
            // Pages the machine cannot hold: the call fails and undoes the pages it made
            // (shmem_fallocate: ENOSPC past the tmpfs size, ENOMEM when allocation fails, then
            // shmem_undo_range of its own pages). The model has no tmpfs size (/dev/shm's is the
            // host's), so it refuses with ENOSPC only what RAM cannot hold, before making any.
            // (Found by the fuzz campaign: a 4097T fallocate overflowed the PSS sums.)
            var missing: UInt64 = 0
            groups[object].pages.forEach(in: pages) { range, page in if !page.present { missing += UInt64(range.count) } }
            if missing > roomPages() { return .ENOSPC }
            // Every page of the range is marked dirty, the ones it makes stay !uptodate
            // (shmem_fallocate: "If !uptodate, leave it that way … But mark it dirty").
            var made: UInt64 = 0
            groups[object].pages.modify(pages) { range, page in
                if !page.present {
                    made += UInt64(range.count)
                    page.present = true
                    page.falloced = true
                }
                page.dirty = true
            }
            cachePagesPresent += made
        }
        files.sizeBytes[object] = max(files.sizeBytes[object] ?? 0, end)
        return nil
    }

    /// A tmpfs page a truncate or a hole punch cuts through: zeroed in part and marked dirty, if
    /// it is in the page cache.
    private mutating func dirtyPartialPage(_ object: GroupID, _ index: UInt64) {
        guard index < groups[object].pages.length, groups[object].pages.value(at: index).present else { return }
        groups[object].pages.modify(index..<(index + 1)) { _, page in page.dirty = true }
    }

    /// Unmaps file pages `filePages` of `object` from every live process (with `evenCows`, the
    /// private copies of them too), then frees them: a HugeTLB page goes back to its pool, a tmpfs
    /// page leaves the page cache. A truncate also returns the file's reservations of pages not
    /// made yet (remove_inode_hugepages ends with hugetlb_unreserve_pages over the whole range);
    /// a hole punch (`punching`) drops only the reservation entries of the pages it frees, one
    /// by one (remove_inode_single_folio): an unfaulted page of the hole keeps its reservation
    /// (measured: docs/kernel-facts 17e).
    mutating func removeFilePages(_ object: GroupID, _ filePages: Range<UInt64>, evenCows: Bool, punching: Bool = false) {
        // Private HugeTLB copies the owner of their mapping had: their reservations come back
        // once every process has unmapped them (below).
        var ownersCopies: [(process: ProcessID, mapping: String, pages: Range<UInt64>)] = []
        for q in processes.ids where processes[q].alive {
            for name in processes[q].mappingNamesByAddress {
                let m = processes[q].mappings[name]!
                guard m.object == object else { continue }
                let offset = m.fileOffsetPages
                let lower = max(filePages.lowerBound, offset) - offset
                let upper = min(filePages.upperBound, offset + m.pageCount)
                guard upper > offset, lower < upper - offset else { continue }
                let range = lower..<(upper - offset)
                var zapped: [Range<UInt64>] = []
                for (pages, state) in m.pages.extents(in: range) {
                    switch state {
                    case .none: break
                    case .cache: zapped.append(pages)
                    case .zero, .anon: if evenCows { zapped.append(pages) }
                    }
                }
                for pages in zapped {
                    // __unmap_hugepage_range restores the reservation only while the pool has
                    // no surplus pages (`!h->surplus_huge_pages`), as for dontneed (found by
                    // cross-feature random validation, mixb seed 408: validation/punch-copy-surplus.somw).
                    if let huge = m.huge, m.reservation != nil, pools[huge].surplus == 0 {
                        for (run, state) in m.pages.extents(in: pages) {
                            if case .anon = state { ownersCopies.append((q, name, run)) }
                        }
                    }
                    zap(q, processes[q].mappings[name]!, pages)
                    processes[q].mappings[name]!.pages.assign(pages, .none)
                }
            }
        }
        // The owner's zap restores the reservation of each private copy in its reserve map and
        // marks the page so that HugePages_Rsvd rises when the page is freed
        // (mm/hugetlb.c: __unmap_hugepage_range, "restore the reservation";
        // free_huge_folio, restore_reserve). Every mapping of the copy is a mapping of this
        // file, so all are gone now and the copies are free: the reservations are back.
        for copy in ownersCopies {
            guard let huge = processes[copy.process].mappings[copy.mapping]?.huge else { continue }
            pools[huge].reserved += UInt64(copy.pages.count)
            processes[copy.process].mappings[copy.mapping]!.reservation!.assign(copy.pages, true)
        }
        let huge = groups[object].huge
        var freedCache: UInt64 = 0
        var freed: [Range<UInt64>] = []
        groups[object].pages.forEach(in: filePages) { range, page in
            if let huge, !punching {
                pools[huge].release(UInt64(range.count), of: page)
            } else if page.present {
                if let huge { pools[huge].freeInUse(UInt64(range.count)) } else { freedCache += UInt64(range.count) }
                freed.append(range)
            }
        }
        cachePagesPresent -= freedCache
        if punching {
            for range in freed { groups[object].pages.assign(range, FramePage()) }
        } else {
            groups[object].pages.assign(filePages, FramePage())
        }
    }
}
