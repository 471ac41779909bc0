// SysV shared memory: segments, attachments, IPC_RMID — ipc/shm.c, mm/shmem.c
// (shmem_kernel_file_setup), fs/hugetlbfs/inode.c (hugetlb_file_setup), mm/hugetlb.c
// (hugetlb_reserve_pages).

import SomsimWorkload

/// A SysV shared memory segment: the page-cache object of its shm file (a shmem object, or a
/// HugeTLB file with `huge`), the very kind of object a shared anonymous mapping has, so its
/// pages count wherever those do. The segment's ID holds one reference to the object (one of its
/// `mappers`), each attachment one more; IPC_RMID drops the ID's, and the object goes with
/// the last (ipc/shm.c: shm_destroy at nattch 0 once SHM_DEST is set).
struct ShmSegment: Equatable {
    var object: GroupID
    var huge: HugePageSize?
    var pageCount: UInt64
}

extension Simulator {
    /// The page size, page count and HugeTLB size of live segment `key` (for the real run).
    public func shmSegmentSize(_ key: String) -> (pageBytes: UInt64, pages: UInt64, huge: HugePageSize?)? {
        guard let segment = shmSegments[key] else { return nil }
        return (segment.huge?.bytes ?? constants.pageBytes, segment.pageCount, segment.huge)
    }

    /// shmget(IPC_PRIVATE, SIZE, IPC_CREAT [| SHM_HUGETLB]) (ipc/shm.c: newseg). A HugeTLB
    /// segment reserves all its pages at once, adding surplus pages where the pool allows, or
    /// fails with ENOMEM (hugetlb_file_setup → hugetlb_reserve_pages; measured: docs/kernel-facts
    /// P6). A shmem segment is accounted like a shared anonymous mapping: the overcommit
    /// heuristic refuses one larger than RAM (shmem_acct_size). Returns the errno, or nil.
    mutating func shmget(_ p: ProcessID, key: String, length: UInt64, huge: HugePageSize?) -> Errno? {
        if shmSegments[key] != nil { return .EEXIST }
        let pageBytes = huge?.bytes ?? constants.pageBytes
        guard length > 0, length % pageBytes == 0 else { return .EINVAL }
        let pageCount = length / pageBytes
        if huge == nil && overcommitRefuses(length: length, options: MmapOptions(shared: true)) { return .ENOMEM }
        let object = pageCacheObject(named: nil, huge: huge, pageCount: pageCount)
        if let huge {
            guard pools[huge].reserve(pageCount, room: surplusRoomPages(huge)) else {
                dropIfUnused(object)
                return .ENOMEM
            }
            groups[object].pages.modify(0..<pageCount) { _, page in page.reserved = true }
        }
        // The ID's reference.
        groups[object].mappers += 1
        shmSegments[key] = ShmSegment(object: object, huge: huge, pageCount: pageCount)
        return nil
    }

    /// shmat(id, addr, 0): a shared mapping of the segment, placed as mmap places a shared
    /// mapping of that size (the real run passes the model's address; a HugeTLB segment needs a
    /// huge-page-aligned one, measured: docs/kernel-facts P6). Its reservation was made by
    /// shmget, so attaching reserves nothing more (region_chg finds every page reserved or
    /// present). EINVAL when the key names no segment.
    mutating func shmat(_ p: ProcessID, key: String, mapping name: String, line: Int) -> Errno? {
        guard let segment = shmSegments[key] else { return .EINVAL }
        let options = MmapOptions(shared: true, huge: segment.huge)
        let pageBytes = options.pageBytes
        let length = segment.pageCount * pageBytes
        let pmdBytes = PageGeometry.pmdBytes
        let alignment = segment.huge != nil ? pageBytes : (length % pmdBytes == 0 ? pmdBytes : constants.pageBytes)
        guard let start = processes[p].placement(length: length, alignment: alignment) else { return .ENOMEM }
        groups[segment.object].mappers += 1
        var mapping = Mapping(
            name: name, start: start, options: options, pageCount: segment.pageCount, object: segment.object,
            pages: PageMap(length: segment.pageCount, value: .none),
            vma: ExtentMap(length: segment.pageCount, value: VMAFlags()),
            reservation: nil)
        mapping.shmKey = key
        processes[p].mappings[name] = mapping
        liveMappings += 1
        processes[p].insertLayout(start: start, end: mapping.end, name: name)
        let placement = Placement(line: line, process: processes[p].name, mapping: name, address: start, lengthBytes: length)
        placements.append(placement)
        outcome.placement = placement
        return nil
    }

    /// A read fault on an attachment of a shmem segment: one fault per page, no fault-around —
    /// shm's vm_operations have no `map_pages`, so do_read_fault never maps the cached pages
    /// around the fault (ipc/shm.c: shm_vm_ops; mm/memory.c: should_fault_around; measured:
    /// docs/kernel-facts P7, a child reads 64 cached pages with 64 faults).
    mutating func shmReadFault(_ f: inout FaultContext, _ pages: Range<UInt64>) -> UInt64 {
        guard let object = f.mapping.object else { return pages.upperBound }
        cachePages(object, pages, dirty: false)
        addMapcount(group: object, pages, delta: 1)
        f.mapping.pages.assign(pages, .cache(writable: true, dirty: false))
        f.tally.faults += UInt64(pages.count)
        mapTables(f.process, f.mapping, pages)
        return pages.upperBound
    }

    /// shmdt(addr): the attachment is unmapped like munmap would (which detaches too: measured,
    /// docs/kernel-facts P6); EINVAL when MAP is not an attachment (ipc/shm.c: ksys_shmdt).
    /// A child that did not inherit the attachment (`madvise dontfork` before the fork) has no
    /// VMA at the address: EINVAL, and the name is gone as the checker has it.
    mutating func shmdt(_ p: ProcessID, _ name: String) -> Errno? {
        guard let mapping = processes[p].mappings[name], mapping.shmKey != nil else { return .EINVAL }
        munmap(p, name)
        return mapping.object == nil ? .EINVAL : nil
    }

    /// shmctl(id, IPC_RMID): the key is gone at once (and can name a new segment); the segment
    /// lives on while attachments remain and is destroyed — its pages freed, its reservations
    /// returned — at the last detach (ipc/shm.c: do_shm_rmid, shm_destroy; measured:
    /// docs/kernel-facts P6). EINVAL when the key names no segment.
    mutating func shmrm(_ key: String) -> Errno? {
        guard let segment = shmSegments.removeValue(forKey: key) else { return .EINVAL }
        groups[segment.object].mappers -= 1
        releaseIfUnreferenced(segment.object)
        return nil
    }
}
