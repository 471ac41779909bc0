// Physical memory: frames and their mapcounts, grouped into anonymous runs and page-cache
// objects — mm/rmap.c (mapcounts), include/linux/mm_types.h (struct folio).

import SomsimWorkload

/// What the engine knows about one physical page: how many processes map it, and for page-cache
/// (shmem, file, HugeTLB-file) pages whether the page exists, is dirty, or is only reserved.
struct FramePage: ExtentValue {
    /// Processes whose page tables map this page (the kernel's mapcount).
    var mapcount: UInt32 = 0
    /// The flags below, one bit each. Performance: packed, a page is 8 bytes rather than 12 —
    /// every run keeps one per extent, and a fleet of forked workers keeps hundreds of thousands
    /// of extents (issue 12: 100,000 workers in 300 MB).
    private var flags: UInt8 = 0
    /// log2 of the pages in the folio this page belongs to: 0 for a small folio, 9 for a PMD-size
    /// THP, 4 for a 64 KiB mTHP. A folio of order k starts at a virtual page aligned to 2^k
    /// (see `FrameGroup.firstVirtualPage`).
    var order: UInt8 = 0

    init(mapcount: UInt32 = 0, present: Bool = false, dirty: Bool = false, reserved: Bool = false, falloced: Bool = false, order: UInt8 = 0) {
        self.mapcount = mapcount
        self.order = order
        self.present = present
        self.dirty = dirty
        self.reserved = reserved
        self.falloced = falloced
    }

    /// A page a write fault has just allocated or copied: mapped once, present, dirty.
    static let copied = FramePage(mapcount: 1, present: true, dirty: true)

    /// The page exists: for anonymous pages, mapcount > 0; page-cache pages outlive their mappings.
    var present: Bool {
        get { flag(1) }
        set { set(1, newValue) }
    }
    /// The folio's dirty flag (page-cache pages): set by a write fault.
    var dirty: Bool {
        get { flag(2) }
        set { set(2, newValue) }
    }
    /// HugeTLB page-cache page reserved for a shared mapping, not yet allocated.
    var reserved: Bool {
        get { flag(4) }
        set { set(4, newValue) }
    }
    /// A tmpfs page fallocate made and no fault has touched yet: present, but not uptodate, so
    /// fault-around does not map it (mm/filemap.c: filemap_map_pages skips !uptodate folios);
    /// its first fault zeroes it and maps it (mm/shmem.c: shmem_get_folio_gfp). Files.swift.
    var falloced: Bool {
        get { flag(8) }
        set { set(8, newValue) }
    }

    @inline(__always) private func flag(_ bit: UInt8) -> Bool { flags & bit != 0 }
    @inline(__always) private mutating func set(_ bit: UInt8, _ on: Bool) {
        flags = on ? flags | bit : flags & ~bit
    }
}

extension FramePage {
    /// The mapcount is the counter an extent map shifts a chunk at a time (fork raises it over
    /// whole runs).
    func shifted(by delta: Int32) -> FramePage {
        var page = self
        page.mapcount &+= UInt32(bitPattern: delta)
        return page
    }

    var counter: UInt32 { mapcount }
}

/// Which frame group: an index into `Simulator.groups`, never reused (a freed group keeps its
/// place, emptied).
struct GroupID: Hashable {
    /// Int32 keeps `PageState`, of which every extent map holds one per extent, small.
    let index: Int32
}

/// The frame groups of a run, in creation order.
struct FrameGroups: Sequence {
    private var all: [FrameGroup] = []

    var count: Int { all.count }

    subscript(_ id: GroupID) -> FrameGroup {
        // Performance: reads borrow the group in place (`_read`, as `SimProcesses`' subscript
        // does): a getter returned a copy, retaining and releasing its extent map's arrays for
        // every `groups[id].…` read (a measure's every run lookup, a fault's every lookup).
        _read { yield all[Int(id.index)] }
        set { all[Int(id.index)] = newValue }
        _modify { yield &all[Int(id.index)] }
    }

    /// `body` of the groups in place, in id order, lent inout (pass `&lent[i]` on), not copied:
    /// `body` must only read them (as `SimProcesses.lend` lends processes). Performance: `for
    /// group in groups[slice]` copied each group out (retaining and releasing its arrays), which
    /// a census of a fleet's 10,000 runs did on two threads at once.
    func lend<R>(_ body: (_ lent: UnsafeMutablePointer<FrameGroup>?) throws -> R) rethrows -> R {
        // Never written through: `body` only reads (its contract).
        try all.withUnsafeBufferPointer { try body(UnsafeMutablePointer(mutating: $0.baseAddress)) }
    }

    /// Adds a group; returns its id.
    mutating func append(_ group: FrameGroup) -> GroupID {
        all.append(group)
        return GroupID(index: Int32(all.count - 1))
    }

    func makeIterator() -> IndexingIterator<[FrameGroup]> { all.makeIterator() }

    /// The groups with ids `range.lowerBound ..< range.upperBound`, in id order.
    subscript(_ range: Range<Int>) -> ArraySlice<FrameGroup> { all[range] }
}

/// A set of physical pages that share an identity and an index space.
///
/// Two kinds exist. An *anonymous run* holds the private anonymous pages one touch statement
/// allocated in one mapping; its index is the mapping's page index (mappings never move, and a
/// forked child maps its parent's pages at the same index). A *page-cache object* is the memory
/// behind a shared anonymous mapping (a shmem file), a named file (`file=ID`, modelled as a tmpfs
/// or hugetlbfs file), or a shared HugeTLB mapping; its index is the file's page index.
struct FrameGroup {
    enum Kind: Equatable {
        case anonymousRun
        case pageCache(named: String?)
    }

    var kind: Kind
    /// Size of each page of the group: 4 KiB or a HugeTLB size.
    var huge: HugePageSize?
    var pages: ExtentMap<FramePage>
    /// Live mappings that reference this page-cache object; an unnamed one is freed at zero.
    var mappers = 0
    /// Anonymous runs: the virtual page number (address / 4 KiB) of index 0, to which large
    /// folios are aligned.
    var firstVirtualPage: UInt64 = 0
    /// Anonymous runs of a `som` mapping: single-owner memory served from the pool.
    var singleOwner = false

    init(kind: Kind, huge: HugePageSize?, pageCount: UInt64) {
        self.init(kind: kind, huge: huge, pages: Self.freshPages(pageCount: pageCount))
    }

    /// A group whose frames are `pages`.
    init(kind: Kind, huge: HugePageSize?, pages: consuming ExtentMap<FramePage>) {
        self.kind = kind
        self.huge = huge
        self.pages = pages
    }

    /// A new group's frames: `pageCount` frames, none present.
    static func freshPages(pageCount: UInt64) -> ExtentMap<FramePage> {
        ExtentMap(length: pageCount, value: FramePage())
    }
}

extension Simulator {
    mutating func newGroup(_ group: FrameGroup) -> GroupID {
        groups.append(group)
    }

    /// Adds `delta` to the mapcount of `pages` of a group; returns how many pages it took to zero
    /// (anonymous pages, which then no longer exist).
    @discardableResult
    mutating func addMapcount(group: GroupID, _ pages: Range<UInt64>, delta: Int32) -> UInt64 {
        var freed: UInt64 = 0
        let anonymous = groups[group].kind == .anonymousRun
        groups[group].pages.addCounter(delta, in: pages) { range, page in
            if anonymous && page.present {
                page.present = false
                freed += UInt64(range.count)
            }
        }
        return freed
    }
}
