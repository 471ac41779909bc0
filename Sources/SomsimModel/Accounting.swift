// Accounting: smaps-style sums, PSS in the kernel's fixed point, the memmap and system
// counters — fs/proc/task_mmu.c, mm/sparse.c.

import CSomsimRuntime
import SomsimWorkload

/// Page counts of one kind of sharing, as smaps splits them, plus PSS in the kernel's fixed point.
struct PageSums: Equatable {
    /// PSS in bytes << `pssShift`, each page adding `(pageBytes << pssShift) / mapcount` with the
    /// kernel's truncation (fs/proc/task_mmu.c: smaps_page_accumulate, PSS_SHIFT 12).
    var pssUnits: UInt64 = 0
    var privateClean: UInt64 = 0
    var privateDirty: UInt64 = 0
    var sharedClean: UInt64 = 0
    var sharedDirty: UInt64 = 0

    static let pssShift: UInt64 = 12

    /// `a + b` and `a - b` modulo 2^64, field by field, and `pages` pages of one kind modulo
    /// 2^64: for `GroupPrefix`, whose running totals may pass 2^64 over pages no process maps (a
    /// hugetlbfs file fallocated to 2^63 bytes), while every difference it is asked for is a
    /// process's own sum and fits (found by the fuzz campaign, seed 9011).
    static func wrappingSum(_ a: Self, _ b: Self) -> Self {
        PageSums(
            pssUnits: a.pssUnits &+ b.pssUnits, privateClean: a.privateClean &+ b.privateClean,
            privateDirty: a.privateDirty &+ b.privateDirty, sharedClean: a.sharedClean &+ b.sharedClean,
            sharedDirty: a.sharedDirty &+ b.sharedDirty)
    }

    static func wrappingDifference(_ a: Self, _ b: Self) -> Self {
        PageSums(
            pssUnits: a.pssUnits &- b.pssUnits, privateClean: a.privateClean &- b.privateClean,
            privateDirty: a.privateDirty &- b.privateDirty, sharedClean: a.sharedClean &- b.sharedClean,
            sharedDirty: a.sharedDirty &- b.sharedDirty)
    }

    func wrappingTimes(_ n: UInt64) -> Self {
        PageSums(
            pssUnits: pssUnits &* n, privateClean: privateClean &* n, privateDirty: privateDirty &* n,
            sharedClean: sharedClean &* n, sharedDirty: sharedDirty &* n)
    }

    static func + (a: Self, b: Self) -> Self {
        PageSums(
            pssUnits: a.pssUnits + b.pssUnits, privateClean: a.privateClean + b.privateClean,
            privateDirty: a.privateDirty + b.privateDirty, sharedClean: a.sharedClean + b.sharedClean,
            sharedDirty: a.sharedDirty + b.sharedDirty)
    }

    static func - (a: Self, b: Self) -> Self {
        PageSums(
            pssUnits: a.pssUnits - b.pssUnits, privateClean: a.privateClean - b.privateClean,
            privateDirty: a.privateDirty - b.privateDirty, sharedClean: a.sharedClean - b.sharedClean,
            sharedDirty: a.sharedDirty - b.sharedDirty)
    }

    /// `pages` pages of one mapcount and dirtiness. A page mapped once is private, else shared
    /// (fs/proc/task_mmu.c: smaps_account).
    init(pages: UInt64, mapcount: UInt32, dirty: Bool, pageBytes: UInt64) {
        let mapcount = UInt64(max(mapcount, 1))
        // Performance: a page mapped once needs no division (the quotient is the dividend).
        let units = pageBytes << Self.pssShift
        pssUnits = pages * (mapcount == 1 ? units : units / mapcount)
        switch (mapcount == 1, dirty) {
        case (true, false): privateClean = pages
        case (true, true): privateDirty = pages
        case (false, false): sharedClean = pages
        case (false, true): sharedDirty = pages
        }
    }

    init(pssUnits: UInt64 = 0, privateClean: UInt64 = 0, privateDirty: UInt64 = 0, sharedClean: UInt64 = 0, sharedDirty: UInt64 = 0) {
        self.pssUnits = pssUnits
        self.privateClean = privateClean
        self.privateDirty = privateDirty
        self.sharedClean = sharedClean
        self.sharedDirty = sharedDirty
    }

    /// The same pages seen through a dirty page-table entry.
    var allDirty: Self {
        PageSums(pssUnits: pssUnits, privateDirty: privateClean + privateDirty, sharedDirty: sharedClean + sharedDirty)
    }
}

/// What `mappingSums` gives for one mapping: the sums of all its pages and of its anonymous
/// pages, and how many pages it maps.
typealias MappingSums = (all: PageSums, anon: PageSums, mapped: UInt64)

/// Cumulative `PageSums` over a frame group's extents, so that the sums over any index range cost
/// O(1) expected (O(log n) at worst) however many processes map the group. Built once per measure
/// for large groups.
///
/// A class, so that the measure's cache hands out a reference, and so that it can keep the `hint`
/// of its last query. Performance: its three tables are buffers it owns (freed in `deinit`), so
/// that a query reads them with no bounds check, no closure and no reference count.
final class GroupPrefix {
    /// Per extent: where it starts, and its pages' mapcount and dirtiness as `mapcount << 1 |
    /// dirty`. Performance: a query inside one extent needs just these, and the two lie side by
    /// side — a fleet's measure asks, for every page a worker copied, for that one page of its
    /// master's run (tens of thousands of extents, read at random, past the core's cache): one
    /// line holds the extent's start, its key and mostly the next extent's start, where two
    /// arrays cost a miss each. The sums of the extents before each (40 bytes an extent) are
    /// read once per process, for its span.
    private let entries: UnsafeMutableBufferPointer<Entry>
    private let before: UnsafeMutableBufferPointer<PageSums>
    private let pageBytes: UInt64
    /// Bucket index over the extents' starts: `buckets[b]` is the extent containing index
    /// `b << shift`, for every `b` up to `length >> shift`. Buckets are at most about twice the
    /// extents, so a query finds its extent between two neighbouring buckets' — one or two
    /// extents when the group's extents spread evenly (a forked heap whose pages copy-on-write
    /// split one by one), a binary search between them when they cluster. Every process's query
    /// on the group then costs O(1), not a search over all the group's extents. (32 bits: a map
    /// of 2^32 extents would not fit in memory.)
    private let buckets: UnsafeMutableBufferPointer<UInt32>
    private let shift: UInt64
    /// Every extent is one page (extent `k` is page `k`): a group split page by page, as a
    /// fleet's copies split their master's run. Performance: a query then finds its extent
    /// from the index alone, with no bucket read and no search (each of a fleet's processes
    /// asks for every page it copied: a search and a bucket miss apiece).
    let dense: Bool
    /// The extent the last query ended in. A process's queries on a group come in ascending
    /// order, and the next one mostly starts one extent further on — just past the page the
    /// process copied on write — so it is found by a step or two from here, with no lookup.
    /// (Unchecked: a measure is single-threaded and never nests queries.)
    @exclusivity(unchecked) private var hint = 0

    private struct Entry {
        let start: UInt64
        let key: UInt64
    }

    init(_ group: FrameGroup, pageBytes: UInt64) {
        // Written in place into the buffers the prefix keeps: `forEachExtent` visits each of
        // the map's `extentCount` stored extents once.
        let capacity = group.pages.extentCount
        let entries = UnsafeMutableBufferPointer<Entry>.allocate(capacity: capacity)
        let before = UnsafeMutableBufferPointer<PageSums>.allocate(capacity: capacity)
        var filled = 0
        var total = PageSums()
        // Performance: read chunk by chunk (`forEachExtent`), and a page's sums made once for a
        // run of extents of one key (each is a division).
        var lastKey = UInt64.max
        var perPage = PageSums()
        group.pages.forEachExtent { start, end, page in
            let key = UInt64(page.mapcount) << 1 | (page.dirty ? 1 : 0)
            if key != lastKey {
                lastKey = key
                perPage = Self.perPage(key, pageBytes)
            }
            entries.initializeElement(at: filled, to: Entry(start: start, key: key))
            before.initializeElement(at: filled, to: total)
            filled += 1
            total = PageSums.wrappingSum(total, perPage.wrappingTimes(end - start))
        }
        precondition(filled == capacity, "forEachExtent visits every stored extent once")
        let length = group.pages.length
        let extents = UInt64(max(capacity, 1))
        precondition(extents < UInt64(UInt32.max))
        var shift: UInt64 = 0
        while (length >> shift) >= 2 * extents { shift += 1 }
        let count = Int(length >> shift) + 1
        let buckets = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: count)
        var k = 0
        for b in 0..<count {
            let key = UInt64(b) << shift
            while k + 1 < capacity, entries[k + 1].start <= key { k += 1 }
            buckets[b] = UInt32(k)
        }
        self.entries = entries
        self.before = before
        self.pageBytes = pageBytes
        self.buckets = buckets
        self.shift = shift
        // `capacity` extents, ascending and covering `0..<length`: as many as pages only when
        // each is one page.
        dense = UInt64(capacity) == length
        assert(!dense || (0..<capacity).allSatisfy { entries[$0].start == UInt64($0) })
    }

    deinit {
        entries.deallocate()
        before.deallocate()
        buckets.deallocate()
    }

    /// The sums of one page of mapcount and dirtiness `key` (as `entries` holds them).
    @inline(__always)
    private static func perPage(_ key: UInt64, _ pageBytes: UInt64) -> PageSums {
        PageSums(pages: 1, mapcount: UInt32(truncatingIfNeeded: key >> 1), dirty: key & 1 != 0, pageBytes: pageBytes)
    }

    /// The extent containing `index`: the last with a start not above it (the last extent for
    /// `index >= length`, as a plain search over the starts gives).
    @inline(__always)
    private func extentIndex(_ index: UInt64) -> Int {
        let b = Int(min(index >> shift, UInt64(buckets.count - 1)))
        // The largest k in low...high with a start not above `index` (halving, as
        // `lastIndex(notAbove:from:through:)` searches).
        var base = Int(buckets[b])
        let high = b + 1 < buckets.count ? Int(buckets[b + 1]) : entries.count - 1
        var n = high - base + 1
        while n > 1 {
            let half = n >> 1
            let probe = base &+ half
            base = entries[probe].start <= index ? probe : base
            n &-= half
        }
        return base
    }

    /// `extentIndex(index)`, trying a few steps forward from extent `from` first (in a dense
    /// group, the extent is the index).
    @inline(__always)
    private func extentIndex(_ index: UInt64, from: Int) -> Int {
        if dense { return Int(min(index, UInt64(entries.count - 1))) }
        guard from < entries.count, entries[from].start <= index else { return extentIndex(index) }
        var k = from
        for _ in 0..<4 {
            guard k + 1 < entries.count, entries[k + 1].start <= index else { return k }
            k += 1
        }
        return extentIndex(index)
    }

    /// Sums over indices `0..<index`, `index` lying in extent `low`.
    private func cumulative(_ index: UInt64, in low: Int) -> PageSums {
        let n = index - entries[low].start
        return PageSums.wrappingSum(before[low], Self.perPage(entries[low].key, pageBytes).wrappingTimes(n))
    }

    /// The sum of `sums(range)` over `ranges`, modulo 2^64 (each range inside the group, as
    /// `sums` takes them). Performance: a fleet's worker asks for each page it copied of its
    /// master's run, hundreds of extents apart, and each query is two cache misses one after the
    /// other (its bucket, then its extent). Asked together, the buckets of all of them are
    /// prefetched first, then their extents, so that the misses overlap; the queries that follow
    /// find their lines in the cache. The answers are `sums`'s own.
    func sums(of ranges: UnsafeBufferPointer<Range<UInt64>>) -> PageSums {
        if dense {
            let last = UInt64(entries.count - 1)
            for range in ranges { somsim_prefetch(entries.baseAddress! + Int(min(range.lowerBound, last))) }
        } else {
            prefetchExtents(of: ranges)
        }
        var total = PageSums()
        for range in ranges {
            total = PageSums.wrappingSum(total, sumsInline(range))
        }
        return total
    }

    /// Prefetches the buckets of `ranges`' starts, then their extents.
    private func prefetchExtents(of ranges: UnsafeBufferPointer<Range<UInt64>>) {
        let last = UInt64(buckets.count - 1)
        for range in ranges {
            somsim_prefetch(buckets.baseAddress! + Int(min(range.lowerBound >> shift, last)))
        }
        for range in ranges {
            somsim_prefetch(entries.baseAddress! + Int(buckets[Int(min(range.lowerBound >> shift, last))]))
        }
    }

    func sums(_ range: Range<UInt64>) -> PageSums {
        sumsInline(range)
    }

    /// `sums(range)`, inlined where many are added up (`sums(of:)`). Performance: called, each
    /// answer came back through memory, five words stored one by one and read back two at a
    /// time — a read that waits for the stores to retire (a quarter of `mappingSums`' samples).
    @inline(__always)
    private func sumsInline(_ range: Range<UInt64>) -> PageSums {
        let low = extentIndex(range.lowerBound, from: hint)
        // Performance: a range inside one extent (a page a worker copied, as `mappingSums` asks
        // for it) is its pages' sums, from the extent's key alone — the same as the difference
        // of the two cumulative sums below, modulo 2^64 as they are kept.
        if low + 1 == entries.count || range.upperBound <= entries[low + 1].start {
            hint = low
            let one = Self.perPage(entries[low].key, pageBytes)
            let count = range.upperBound &- range.lowerBound
            return count == 1 ? one : one.wrappingTimes(count)
        }
        let high = extentIndex(range.upperBound, from: low)
        hint = high
        return PageSums.wrappingDifference(cumulative(range.upperBound, in: high), cumulative(range.lowerBound, in: low))
    }
}

/// A run of a mapping's extents of one prefixed run, as `mappingSums` sums them: the span from
/// its first extent's start to its last one's end, less the gaps between them, the gaps asked
/// of the prefix index in batches (`GroupPrefix.sums(of:)`).
struct GapStreak {
    /// Gaps asked for at once: a worker's copied pages of its master's run (64 in
    /// `TenThousandWorkers`) in one batch.
    static let gapBatch = 64

    let prefix: GroupPrefix
    let run: GroupID
    let start: UInt64
    private(set) var end: UInt64
    /// The gaps' sums asked for so far, modulo 2^64.
    private var gaps = PageSums()
    private var pendingCount = 0

    init(prefix: GroupPrefix, run: GroupID, range: Range<UInt64>) {
        self.prefix = prefix
        self.run = run
        start = range.lowerBound
        end = range.upperBound
    }

    /// Takes in the next extent of the run, `range` (at or past `end`), its gap from `end`
    /// pending in `pending`.
    @inline(__always)
    mutating func extend(to range: Range<UInt64>, pending: UnsafeMutablePointer<Range<UInt64>>) {
        if range.lowerBound > end {
            pending[pendingCount] = end..<range.lowerBound
            pendingCount += 1
            if pendingCount == Self.gapBatch { flush(pending) }
        }
        end = range.upperBound
    }

    private mutating func flush(_ pending: UnsafeMutablePointer<Range<UInt64>>) {
        guard pendingCount > 0 else { return }
        gaps = PageSums.wrappingSum(gaps, prefix.sums(of: UnsafeBufferPointer(start: pending, count: pendingCount)))
        pendingCount = 0
    }

    /// The streak's sums: its span's less its gaps'.
    mutating func close(pending: UnsafeMutablePointer<Range<UInt64>>) -> PageSums {
        flush(pending)
        return PageSums.wrappingDifference(prefix.sums(start..<end), gaps)
    }
}

/// One run's frames as `mappingSums` reads them: a copy of the run's map and a cursor for its
/// ascending lookups.
struct RunView {
    let run: GroupID
    let pages: ExtentMap<FramePage>
    let pageBytes: UInt64
    var cursor = ExtentMap<FramePage>.Cursor()

    init(run: GroupID, pages: ExtentMap<FramePage>, pageBytes: UInt64) {
        self.run = run
        self.pages = pages
        self.pageBytes = pageBytes
    }

    /// The sums over `range` when it lies inside one extent of the run; nil otherwise.
    @inline(__always)
    mutating func sums(_ range: Range<UInt64>) -> PageSums? {
        guard range.lowerBound < pages.length else { return nil }
        let (extent, page) = pages.extent(containing: range.lowerBound, cursor: &cursor)
        guard range.upperBound <= extent.upperBound else { return nil }
        return PageSums(pages: UInt64(range.count), mapcount: page.mapcount, dirty: page.dirty, pageBytes: pageBytes)
    }
}

/// The prefix indexes one measure builds, by group (an array: this is on the measure's hot path).
struct PrefixCache {
    private var byGroup: [GroupPrefix?]
    /// Per group, the chunk of its extent map where the last direct lookup ended (see
    /// `ExtentMap.extent(containing:hint:)`).
    var lookupHints: [Int]
    /// Own runs (`PageMap.ownRun`) whose every frame a mapping's walk read beside its states,
    /// each with its present pages, all of them 4 KiB folios (`Simulator.mappingSums`): the
    /// census takes these counts instead of walking the runs again. A run may come more than
    /// once (mappings that share it), with the same count.
    var ownRunFolios: [(run: GroupID, pages: UInt64)] = []

    init(groupCount: Int) {
        byGroup = Array(repeating: nil, count: groupCount)
        lookupHints = Array(repeating: 0, count: groupCount)
    }

    subscript(_ id: GroupID) -> GroupPrefix? {
        get { byGroup[Int(id.index)] }
        set { byGroup[Int(id.index)] = newValue }
    }
}

extension Simulator {
    /// Records a measure point: every process's view of its workload mappings, the machine's
    /// counters, and the metadata cost of each scheme.
    public mutating func measure(label: String) {
        var pass = processPass()
        let schemes = schemeCosts(prefixes: &pass.prefixes, ownedAnonPages: pass.owned, tlbPages: pass.tlbPages)
        var measure = Measure(label: label, processes: pass.metrics, system: systemMetrics(), schemes: schemes)
        measure.errorsBefore = errors.count
        measures.append(measure)
    }

    /// The measure's pass over the processes: every process's metrics, in process order; for
    /// each live process, in order, its private anonymous 4 KiB pages mapped by it alone and the
    /// TLB entries of its mappings of 4 KiB entries only (`Mapping.tlbEntriesArePages`), which
    /// the census takes instead of counting them again; and the prefix indexes of the first
    /// slice, which the census queries.
    func processPass() -> (metrics: [ProcessMetrics], owned: [UInt64], tlbPages: [UInt64], prefixes: PrefixCache) {
        // Performance: a fleet's processes are summed on every core, each slice with prefix
        // indexes of its own (a `GroupPrefix` keeps the hint of its last query); the slices come
        // back in process order, so the report is the same for any number of threads.
        // A few processes with huge mappings (a random touch of millions of pages) are summed
        // mapping by mapping instead, each huge mapping's parts on every core.
        let threads = processes.count >= 256 ? measureThreads : 1
        let splitThreads = threads == 1 ? measureThreads : 1
        // Performance: each slice writes its processes' metrics in place into the report's
        // array (issue 12: the slices' arrays and the array they were copied into, 16.8 and 16.0
        // MB for 100,000 processes, were held at once: the peak of a fleet's memory).
        let count = processes.count
        var slices: [(owned: [UInt64], tlbPages: [UInt64], prefixes: PrefixCache)] = []
        let metrics = [ProcessMetrics](unsafeUninitializedCapacity: count) { buffer, initialized in
            // (nil when there is no process: then no slice writes.)
            let out = buffer.baseAddress
            // (The processes lent in place: each is read, not copied.)
            slices = processes.lend { lent in
                Parallel.map(count: count, threads: threads) { slice in
                    var prefixes = PrefixCache(groupCount: groups.count)
                    var owned: [UInt64] = []
                    var tlbPages: [UInt64] = []
                    for index in slice {
                        let (processSums, pages) = processMetrics(&lent![index], prefixes: &prefixes, splitThreads: splitThreads)
                        if processSums.alive {
                            owned.append(pages.owned)
                            tlbPages.append(pages.tlbPages)
                        }
                        (out! + index).initialize(to: processSums)
                    }
                    return (owned, tlbPages, prefixes)
                }
            }
            initialized = count
        }
        if slices.count == 1 { return (metrics, slices[0].owned, slices[0].tlbPages, slices[0].prefixes) }
        var prefixes = slices[0].prefixes
        for slice in slices.dropFirst() { prefixes.ownRunFolios += slice.prefixes.ownRunFolios }
        return (metrics, slices.flatMap(\.owned), slices.flatMap(\.tlbPages), prefixes)
    }

    /// Sums over `range` of group `id`, through the measure's prefix index for large groups.
    func groupSums(_ id: GroupID, _ range: Range<UInt64>, prefixes: inout PrefixCache) -> PageSums {
        if let prefix = prefixes[id] { return prefix.sums(range) }
        // Performance: one copy of the group for the whole query (each `groups[id]` is one).
        let group = groups[id]
        let pageBytes = group.huge?.bytes ?? constants.pageBytes
        // A query inside one extent (a page a process copied on write) is one lookup.
        if range.lowerBound < group.pages.length {
            let (extent, page) = group.pages.extent(containing: range.lowerBound, hint: &prefixes.lookupHints[Int(id.index)])
            if range.upperBound <= extent.upperBound {
                return PageSums(pages: UInt64(range.count), mapcount: page.mapcount, dirty: page.dirty, pageBytes: pageBytes)
            }
        }
        // Small queries (a page or a few extents) walk the group directly; the first query that
        // crosses many extents builds the group's prefix index, for it and every later query.
        var sums = PageSums()
        var visited = 0
        for (pages, page) in group.pages.sequence(in: range) {
            visited += 1
            if visited > 32 {
                let prefix = GroupPrefix(group, pageBytes: pageBytes)
                prefixes[id] = prefix
                return prefix.sums(range)
            }
            sums = sums + PageSums(pages: UInt64(pages.count), mapcount: page.mapcount, dirty: page.dirty, pageBytes: pageBytes)
        }
        return sums
    }

    /// What one mapping's pages add up to, as smaps sums them (fs/proc/task_mmu.c:
    /// smaps_pte_entry): all of them, and its anonymous pages alone (for Pss_Anon and the
    /// single-owner count). A page-cache page mapped through a dirty entry counts as dirty.
    /// `mapped` is the pages the mapping maps (any state but `.none`): the census's TLB entries
    /// of a mapping of 4 KiB entries only (`Mapping.tlbEntriesArePages`), counted in the same
    /// walk so that the census need not walk the mapping again.
    @inline(__always)
    func mappingSums(_ mapping: Mapping, prefixes: inout PrefixCache) -> MappingSums {
        mappingSums(mapping, chunks: 0..<mapping.pages.chunkCount, prefixes: &prefixes)
    }

    /// `mappingSums` of a mapping of many extents, its chunks cut into `threads` parts summed on
    /// as many threads (each with prefix indexes of its own), the parts' sums added up: integer
    /// sums, the same for any cut.
    func mappingSums(_ mapping: Mapping, threads: Int) -> MappingSums {
        let chunks = mapping.pages.chunkCount
        let parts = Parallel.map(count: chunks, threads: threads) { slice in
            var prefixes = PrefixCache(groupCount: groups.count)
            return mappingSums(mapping, chunks: slice, prefixes: &prefixes)
        }
        return parts.dropFirst().reduce(parts[0]) { ($0.all + $1.all, $0.anon + $1.anon, $0.mapped + $1.mapped) }
    }

    /// `mappingSums` over the extents of chunks `chunks` of the mapping's pages.
    func mappingSums(_ mapping: Mapping, chunks: Range<Int>, prefixes: inout PrefixCache) -> MappingSums {
        var sums = PageSums()
        var anon = PageSums()
        var mapped: UInt64 = 0
        // Performance: the extents of a run's frames, looked up in ascending order through a
        // cursor on one copy of its map (`RunView`), not through `groupSums` (which copies the
        // group on every call): after a random touch, a mapping and its run are split alike into
        // millions of one-page extents, each answered by the run's extent at or just past the
        // cursor. Two runs keep their cursors (a mapping fragmented by two touches interleaves
        // them). A range that crosses extents of the run goes through `groupSums`; both add the
        // same sums.
        var near: RunView? = nil
        var far: RunView? = nil
        // Performance: the ranges of a run with a prefix index (a forked master's heap, which
        // each worker maps but for the pages it copied) are summed as one span from the first to
        // the last, less the gaps between them — a gap is a page or a few, so each costs one
        // index search and a step, where a range cost two searches (its ends lie hundreds of
        // extents apart). The gaps are asked for in batches (`GroupPrefix.sums(of:)`), so that
        // their cache misses overlap. Sums modulo 2^64 (as `GroupPrefix` keeps them); the result
        // is the ranges' sum exactly.
        var streak: GapStreak? = nil
        // The streak's pending gaps (`GapStreak.gapBatch` of them), allocated with the first streak.
        var pending: UnsafeMutablePointer<Range<UInt64>>? = nil
        defer { pending?.deallocate() }
        // Performance: the frames of the mapping's own run (`PageMap.ownRun`: a fleet's
        // worker's copies) come beside its states, on the extents the two maps share
        // (`forEachExtent(inChunks:alongside:)`), with no lookup in the run.
        let own = mapping.pages.ownRun
        // (nil without one: a process of many mappings, each walked, once copied a map of no
        // frames for each, every copy a retain of one shared object from every thread.)
        let ownFrames = own.map { groups[$0].pages }
        let ownPageBytes = own.map { groups[$0].huge?.bytes ?? constants.pageBytes } ?? constants.pageBytes
        // Performance: where the walk reads every frame of the own run beside the states (the
        // whole map, each chunk cut alike: a fleet's worker), it also counts the run's present
        // pages for the census (`PrefixCache.ownRunFolios`), which then does not walk the run
        // again (the census's second walk of every worker's run was a sixth of the measure).
        // Counted only while every present frame is a 4 KiB folio; a large folio, or an
        // extent without its frame, leaves the run to the census.
        var ownCounted = own != nil && chunks == 0..<mapping.pages.chunkCount
            && ownFrames!.length == mapping.pages.stored.length && ownFrames!.chunkCount == mapping.pages.chunkCount
            && groups[own!].kind == .anonymousRun && groups[own!].huge == nil
        var ownPresent: UInt64 = 0
        // Pages of the own run mapped once (clean, dirty), summed after the walk.
        var ownSoleClean: UInt64 = 0
        var ownSoleDirty: UInt64 = 0
        // (The states as stored, the own run's pages under `PageMap.own`, translated here: the
        // map's translating walk cost a call a state.)
        mapping.pages.stored.forEachExtent(inChunks: chunks, alongside: ownFrames) { start, end, state, ownFrame in
            if ownCounted {
                if let ownFrame {
                    if ownFrame.present {
                        if ownFrame.order == 0 { ownPresent &+= end &- start } else { ownCounted = false }
                    }
                } else {
                    ownCounted = false
                }
            }
            guard start < mapping.pageCount else { return }
            let range = start..<min(end, mapping.pageCount)
            switch state {
            case .none:
                return
            case .zero:
                mapped &+= range.upperBound &- range.lowerBound
            case .anon(let storedRun, _):
                let run = storedRun == PageMap.own ? own! : storedRun
                mapped &+= range.upperBound &- range.lowerBound
                if run == own, let ownFrame {
                    // Pages its process alone maps (a worker's copies) are counted, and their
                    // sums made once after the walk: the same integer sums.
                    if ownFrame.mapcount <= 1 {
                        if ownFrame.dirty { ownSoleDirty &+= range.upperBound &- range.lowerBound } else { ownSoleClean &+= range.upperBound &- range.lowerBound }
                        return
                    }
                    let viewed = PageSums(pages: range.upperBound &- range.lowerBound, mapcount: ownFrame.mapcount, dirty: ownFrame.dirty, pageBytes: ownPageBytes)
                    sums = sums + viewed
                    anon = anon + viewed
                    return
                }
                // (The streak's run has its prefix index: the cache's entry is read only where
                // a streak starts or ends.)
                if streak?.run == run {
                    streak!.extend(to: range, pending: pending!)
                    return
                }
                if let prefix = prefixes[run] {
                    if streak != nil {
                        let viewed = streak!.close(pending: pending!)
                        sums = sums + viewed
                        anon = anon + viewed
                    }
                    if pending == nil { pending = .allocate(capacity: GapStreak.gapBatch) }
                    streak = GapStreak(prefix: prefix, run: run, range: range)
                    return
                }
                do {
                    if near?.run != run {
                        if far?.run == run {
                            swap(&near, &far)
                        } else {
                            far = near
                            near = RunView(run: run, pages: groups[run].pages, pageBytes: groups[run].huge?.bytes ?? constants.pageBytes)
                        }
                    }
                    if let viewed = near!.sums(range) {
                        sums = sums + viewed
                        anon = anon + viewed
                        return
                    }
                }
                let viewed = groupSums(run, range, prefixes: &prefixes)
                sums = sums + viewed
                anon = anon + viewed
            case .cache(_, let dirty):
                mapped &+= range.upperBound &- range.lowerBound
                let viewed = groupSums(mapping.object!, mapping.inFile(range), prefixes: &prefixes)
                sums = sums + (dirty ? viewed.allDirty : viewed)
            }
        }
        if streak != nil {
            let viewed = streak!.close(pending: pending!)
            sums = sums + viewed
            anon = anon + viewed
        }
        if ownSoleClean > 0 || ownSoleDirty > 0 {
            let viewed = PageSums(pages: ownSoleClean, mapcount: 1, dirty: false, pageBytes: ownPageBytes)
                + PageSums(pages: ownSoleDirty, mapcount: 1, dirty: true, pageBytes: ownPageBytes)
            sums = sums + viewed
            anon = anon + viewed
        }
        if ownCounted { prefixes.ownRunFolios.append((own!, ownPresent)) }
        return (sums, anon, mapped)
    }

    /// One process's metrics, and what the census takes from the same walk: its private
    /// anonymous 4 KiB pages mapped by it alone (the single-owner pages) and the TLB entries of
    /// its mappings of 4 KiB entries only (`Mapping.tlbEntriesArePages`). The process is lent
    /// (`SimProcesses.lend`): only read.
    private func processMetrics(_ process: inout SimProcess, prefixes: inout PrefixCache, splitThreads: Int) -> (ProcessMetrics, (owned: UInt64, tlbPages: UInt64)) {
        var metrics = ProcessMetrics(name: process.name, alive: process.alive)
        metrics.minorFaults = process.minorFaults
        metrics.cowCopies = process.cowCopies
        metrics.cowReuses = process.cowReuses
        metrics.signals = process.signals
        guard process.alive else { return (metrics, (0, 0)) }
        var totals = MappingTotals()
        if splitThreads > 1 && process.mappings.count >= splitMappingCount {
            // Performance: a process of very many mappings (alloc-mix: 200,000 of them, one
            // process) is summed in parts, one per core, each with prefix indexes of its own;
            // integer sums, the same for any cut.
            for part in Self.mappingParts(process.mappings, threads: splitThreads, { mappings in
                var partPrefixes = PrefixCache(groupCount: groups.count)
                var part = MappingTotals()
                mappings.visit { mapping in addMappingTotals(mapping, into: &part, prefixes: &partPrefixes, splitThreads: 1) }
                return part
            }) {
                totals.add(part)
            }
        } else {
            // (Each mapping lent in place, not copied out: `visit`.)
            process.mappings.values.visit { mapping in
                addMappingTotals(mapping, into: &totals, prefixes: &prefixes, splitThreads: splitThreads)
            }
        }
        let (small, owned) = (totals.small, totals.owned)
        let (hugePrivateBytes, hugeSharedBytes) = (totals.hugePrivateBytes, totals.hugeSharedBytes)
        let (pssAnonUnits, anonHugePages) = (totals.pssAnonUnits, totals.anonHugePages)
        let pageBytes = constants.pageBytes
        metrics.privateCleanBytes = small.privateClean * pageBytes
        metrics.privateDirtyBytes = small.privateDirty * pageBytes
        metrics.sharedCleanBytes = small.sharedClean * pageBytes
        metrics.sharedDirtyBytes = small.sharedDirty * pageBytes
        metrics.rssBytes = metrics.privateCleanBytes + metrics.privateDirtyBytes + metrics.sharedCleanBytes + metrics.sharedDirtyBytes
        metrics.ussBytes = metrics.privateCleanBytes + metrics.privateDirtyBytes
        metrics.pssBytes = small.pssUnits >> PageSums.pssShift
        metrics.privateHugetlbBytes = hugePrivateBytes
        metrics.sharedHugetlbBytes = hugeSharedBytes
        metrics.pageTableBytes = process.pageTables.tableCounts.reduce(0, +) * constants.pageTableBytes
        metrics.lockedBytes = process.lockedBytes
        metrics.pssAnonBytes = pssAnonUnits >> PageSums.pssShift
        metrics.anonHugePagesBytes = anonHugePages * pageBytes
        return (metrics, (owned, totals.tlbPages))
    }

    /// What a process's metrics add up over its mappings.
    struct MappingTotals {
        var small = PageSums()
        var hugePrivateBytes: UInt64 = 0
        var hugeSharedBytes: UInt64 = 0
        var pssAnonUnits: UInt64 = 0
        var anonHugePages: UInt64 = 0
        var owned: UInt64 = 0
        /// The census's TLB entries of the mappings of 4 KiB entries only: their mapped pages.
        var tlbPages: UInt64 = 0

        mutating func add(_ other: Self) {
            small = small + other.small
            hugePrivateBytes += other.hugePrivateBytes
            hugeSharedBytes += other.hugeSharedBytes
            pssAnonUnits += other.pssAnonUnits
            anonHugePages += other.anonHugePages
            owned += other.owned
            tlbPages += other.tlbPages
        }
    }

    /// Adds what `mapping` contributes to its process's metrics to `totals`.
    private func addMappingTotals(_ mapping: Mapping, into totals: inout MappingTotals, prefixes: inout PrefixCache, splitThreads: Int) {
        let split = splitThreads > 1 && mapping.pages.chunkCount >= splitMappingChunks
        let (sums, anon, mapped) = split ? mappingSums(mapping, threads: splitThreads) : mappingSums(mapping, prefixes: &prefixes)
        if mapping.tlbEntriesArePages { totals.tlbPages += mapped }
        if mapping.huge == nil { totals.pssAnonUnits += anon.pssUnits }
        if mapping.huge == nil && !mapping.isSingleOwner {
            totals.owned += anon.privateClean + anon.privateDirty
        }
        totals.anonHugePages += pmdMappedAnonPages(mapping)
        if mapping.huge != nil {
            // HugeTLB pages are reported apart from Rss and Pss (fs/proc/task_mmu.c:
            // smaps_hugetlb_range), private when mapped once.
            totals.hugePrivateBytes += (sums.privateClean + sums.privateDirty) * mapping.pageBytes
            totals.hugeSharedBytes += (sums.sharedClean + sums.sharedDirty) * mapping.pageBytes
        } else {
            totals.small = totals.small + sums
        }
    }

    /// `body` over `threads` contiguous parts of a process's mappings, on as many threads, the
    /// results in part order.
    static func mappingParts<T>(_ mappings: MappingTable, threads: Int, _ body: (MappingTable.Values) -> T) -> [T] {
        // Cut by slot: a part holds the mappings of its run of slots.
        Parallel.map(count: mappings.slotCount, threads: threads) { slots in
            body(mappings.part(slots))
        }
    }

    /// The pages of `mapping` that a PMD entry maps to an anonymous THP: smaps adds
    /// `HPAGE_PMD_SIZE` to `AnonHugePages` for each PMD-mapped anonymous folio (fs/proc/task_mmu.c:
    /// smaps_pmd_entry, `mss->anonymous_thp`). PTE-mapped pieces of a THP (a split PMD) and mTHP
    /// never count; the huge zero page is not a normal page (vm_normal_page_pmd) and counts
    /// neither here nor in Rss. The som pool maps its blocks with PMD entries too, but its
    /// memory is pool memory, not a THP (docs/model.md, "Metrics"). Measured: docs/kernel-facts
    /// smapsanon.c.
    private func pmdMappedAnonPages(_ mapping: Mapping) -> UInt64 {
        guard mapping.huge == nil, !mapping.isSingleOwner, let pmdMapped = mapping.pmdMapped else { return 0 }
        var pages: UInt64 = 0
        for (blocks, mapped) in pmdMapped.sequence(in: 0..<mapping.pageCount) where mapped {
            for (range, state) in mapping.pages.sequence(in: blocks) {
                if case .anon = state { pages += UInt64(range.count) }
            }
        }
        return pages
    }

    /// The memmap as the kernel has it: a section's worth of struct pages for every memory
    /// section of RAM, less what HVO freed from each pool page allocated while it was on.
    func memmapPages() -> UInt64 {
        var pages = Self.bootMemmapPages(machine.ramBytes, constants)
        if machine.hvo {
            for huge in HugePageSize.allCases {
                // Pools never hold more than RAM (`sizePools`), so this never goes below zero.
                pages = pages.subtractingClamped(pools[huge].total * hvoFreedPages(perHugePage: huge))
            }
        }
        return pages
    }

    /// The memmap boot allocates for `ramBytes` of RAM: a section's worth of struct pages for
    /// every memory section, the last one whole even when RAM ends inside it.
    static func bootMemmapPages(_ ramBytes: UInt64, _ constants: KernelConstants) -> UInt64 {
        let sections = ramBytes / constants.sectionBytes + (ramBytes % constants.sectionBytes == 0 ? 0 : 1)
        return sections * constants.vmemmapPages(perHugePage: constants.sectionBytes)
    }

    private func systemMetrics() -> SystemMetrics {
        var system = SystemMetrics()
        system.memmapPages = memmapPages()
        system.hugetlb2MTotal = pools[.size2M].total
        system.hugetlb1GTotal = pools[.size1G].total
        system.hugetlb2MFree = pools[.size2M].free
        system.hugetlb2MReserved = pools[.size2M].reserved
        system.hugetlb1GFree = pools[.size1G].free
        system.hugetlb1GReserved = pools[.size1G].reserved
        system.hugetlb2MSurplus = pools[.size2M].surplus
        system.hugetlb1GSurplus = pools[.size1G].surplus
        system.anonBytes = anonPages * constants.pageBytes
        // Every shmem page-cache object's pages (PageCache.swift: cachePages; Files.swift).
        system.shmemBytes = cachePagesPresent * constants.pageBytes
        let pgd = machine.pti ? constants.pgdBytesWithPTI : constants.pgdBytes
        // Performance: each process read in place (`for process in processes` copied each one,
        // a retain and a release of every field: a fleet has 100,000).
        for index in 0..<processes.count where processes[ProcessID(index: index)].alive {
            system.pageTableBytes += processes[ProcessID(index: index)].pageTables.tableCounts.reduce(0, +) * constants.pageTableBytes + pgd
        }
        if somPool.active {
            let pool = somPoolFigures()
            system.somPoolChunks = pool.chunks
            system.somUnitsUsed = pool.usedUnits
            system.somUnitsFree = pool.freeUnits
            system.somStrandedBytes = pool.strandedBytes
            system.somFragmentedUnits = pool.fragmentedUnits
        }
        return system
    }

    /// The metadata each scheme keeps (Schemes/Schemes.swift), `struct-page` first: today's
    /// kernel, a `struct page` for every page frame of RAM, is the baseline.
    private func schemeCosts(prefixes: inout PrefixCache, ownedAnonPages: [UInt64], tlbPages: [UInt64]) -> [SchemeCost] {
        Schemes.evaluateAll(census(prefixes: &prefixes, ownedAnonPages: ownedAnonPages, tlbPages: tlbPages), constants.profile, schemeOptions).map {
            SchemeCost(scheme: $0.scheme.rawValue, metadataBytes: $0.metadataBytes, metadataRatio: $0.metadataRatio)
        }
    }
}
