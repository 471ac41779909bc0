import CSomsimRuntime

/// A total map from the page indices `0..<length` to values, stored as extents: runs of indices
/// that share a value.
///
/// This is what keeps the simulator's cost proportional to events and extents rather than to the
/// bytes simulated: a 1 TiB mapping written once is one extent. Extents live in chunks of at most
/// `maxChunk` boundaries, with a sorted index of each chunk's first boundary, so finding, splitting
/// and merging extents costs O(log n + maxChunk) however fragmented the map becomes (a two-level
/// B-tree, in effect).
///
/// Adjacent extents may hold equal values (an assignment merges where its edges land, and inside
/// the chunks it touches; a counter change, `addCounter`, never merges); readers must not assume
/// maximal extents.
///
/// Values with a counter (mapcounts) can be shifted a whole chunk at a time: `addCounter` records
/// the shift on each chunk it covers entirely instead of visiting its extents, every read applies
/// the chunk's shift, and every write first applies it to the chunk's values ("materializes").
/// Fork raises the mapcount over a whole run this way in O(chunks), however fragmented.
struct ExtentMap<Value: ExtentValue> {
    /// The number of indices the map covers.
    private(set) var length: UInt64
    private var chunks: [Chunk]
    /// `chunks[c].starts[0]` for every chunk, for binary search.
    private var firsts: [UInt64]
    /// Added to the counter of every value of the map, on top of its chunk's shift: a value's
    /// counter is the stored one plus both. Performance: fork raises the mapcount of every page
    /// of its parent's runs; a run that a fleet's copies split into hundreds of chunks took the
    /// raise on each (about 13,000 instructions a fork), where the map takes it once
    /// (`addCounter`). Writes to a chunk first apply both to its values (`materialize`).
    private var mapShift: Int32 = 0

    private struct Chunk {
        var starts: [UInt64] {
            didSet { startCount = Int32(truncatingIfNeeded: starts.count) }
        }
        var values: [Value]
        /// Added to the counter of every value of the chunk (see `ExtentValue`).
        var shift: Int32 = 0
        /// `starts.count`, kept beside the array's address. Performance: a lookup in a cold
        /// chunk (a worker's copy-on-write in its master's run) computes where to probe from
        /// this and the chunk's first start (`firsts`), both in the hot chunk table, so that
        /// the probe's cache miss overlaps the array header's instead of waiting for it.
        /// (A chunk holds at most `maxChunk` + 1 boundaries.)
        private(set) var startCount: Int32

        init(starts: [UInt64], values: [Value], shift: Int32 = 0) {
            self.starts = starts
            self.values = values
            self.shift = shift
            startCount = Int32(truncatingIfNeeded: starts.count)
        }

        /// The value at `i`, the chunk's shift and the map's (`base`: `mapShift`) applied.
        func value(_ i: Int, _ base: Int32) -> Value {
            let shift = self.shift &+ base
            return shift == 0 ? values[i] : values[i].shifted(by: shift)
        }
    }

    /// Boundaries a chunk holds before it splits in two. Tests use tiny chunks so that every path
    /// (splits, merges across chunks, shifted chunks splitting) runs often.
    private let maxChunk: Int

    /// A map of `length` indices, all holding `value`.
    init(length: UInt64, value: Value, chunkCapacity: Int = 128) {
        precondition(chunkCapacity >= 2)
        maxChunk = chunkCapacity
        self.length = length
        // (The boundary array `[0]` is one for every new map: copied on its first write.)
        chunks = [Chunk(starts: singleStart, values: [value])]
        firsts = singleStart
    }

    /// The number of extents (an upper bound: equal neighbours may not have been merged).
    var extentCount: Int { chunks.reduce(0) { $0 + $1.starts.count } }

    /// Whether the map is crowded: it averages at most `crowdedIndices` indices an extent, not
    /// every extent is one index, and `splitPageByPage()` would add at most `crowdedGrowth`
    /// extents — so that splitting it multiplies its extents by at most `crowdedIndices`, and
    /// adds a bounded amount of memory. Performance: the extents are counted only where the
    /// chunks could hold that many, a step a chunk through the chunk table (`startCount`, not
    /// each chunk's array header).
    var isCrowded: Bool {
        // The most extents the chunks can hold.
        let bound = UInt64(chunks.count) &* UInt64(maxChunk + 1)
        guard length <= Self.crowdedIndices &* bound, length <= bound &+ Self.crowdedGrowth else { return false }
        let extents = chunks.withUnsafeBufferPointer { chunks in
            var total: UInt64 = 0
            for c in chunks.indices { total &+= UInt64(chunks[c].startCount) }
            return total
        }
        return extents < length && length <= Self.crowdedIndices &* extents && length &- extents <= Self.crowdedGrowth
    }

    /// The most indices an extent of a crowded map averages (`isCrowded`).
    static var crowdedIndices: UInt64 { 4 }

    /// The most extents splitting a crowded map page by page adds (`isCrowded`): with the prefix
    /// index a measure builds of a run (56 bytes an extent, `GroupPrefix`), about 4.5 MiB. (With
    /// 2^20, a 4 GiB run forked and copied from, every sixth or twelfth page, was split whole:
    /// the workload's peak memory 90 → 176 MB and its measure twice as long, for a run its
    /// copies would never have split page by page.)
    static var crowdedGrowth: UInt64 { 1 << 16 }

    /// Makes every extent one index, each keeping its value: the same map, read anywhere, with
    /// as many extents as indices, cut into chunks of `maxChunk / 2` (as the merge of
    /// `assign(sortedRanges:)` cuts them), the shifts applied to the values stored. Equal
    /// neighbours stay apart, as copy-on-write's drops leave them (`addCounterInsideOneExtent`).
    mutating func splitPageByPage() {
        guard length > 0 else { return }
        var starts: [UInt64] = []
        var values: [Value] = []
        starts.reserveCapacity(Int(length))
        values.reserveCapacity(Int(length))
        forEachExtent { start, end, value in
            for index in start..<end {
                starts.append(index)
                values.append(value)
            }
        }
        replaceChunks(cutting: starts, values)
    }

    /// Makes the map the extents `starts` and `values` (ascending from 0, the shifts applied),
    /// cut into chunks of `maxChunk / 2`.
    private mutating func replaceChunks(cutting starts: [UInt64], _ values: [Value]) {
        let size = max(1, maxChunk / 2)
        var built: [Chunk] = []
        built.reserveCapacity(starts.count / size + 1)
        var from = 0
        while from < starts.count {
            let to = min(from + size, starts.count)
            built.append(Chunk(starts: Array(starts[from..<to]), values: Array(values[from..<to])))
            from = to
        }
        chunks = built
        firsts = built.map { $0.starts[0] }
        mapShift = 0
    }

    /// The value at index `index`.
    func value(at index: UInt64) -> Value {
        let (c, i) = locate(index)
        return chunks[c].value(i, mapShift)
    }

    /// Calls `body` with every extent that meets `range`, clipped to it, in ascending order.
    func forEach(in range: Range<UInt64>, _ body: (Range<UInt64>, Value) throws -> Void) rethrows {
        let upper = min(range.upperBound, length)
        guard range.lowerBound < upper else { return }
        var (c, i) = locate(range.lowerBound)
        var position = range.lowerBound
        while position < upper {
            let end = min(segmentEnd(c, i), upper)
            try body(position..<end, chunks[c].value(i, mapShift))
            position = end
            i += 1
            if i == chunks[c].starts.count {
                c += 1
                i = 0
            }
        }
    }

    /// `forEach(in: range, body)` for each of `ranges` (ascending, disjoint) in turn. Performance:
    /// each range's first extent is found by searching forward from the chunk of the range before
    /// (the bulk copy-on-write path reads the mapcounts of tens of random pages of a run split
    /// into tens of thousands of extents).
    func forEach(inSortedRanges ranges: [Range<UInt64>], _ body: (Range<UInt64>, Value) throws -> Void) rethrows {
        try forEach(inSortedRanges: ranges) { range, value, _ in try body(range, value) }
    }

    /// Where an extent was found: its chunk, its position there and the chunk's extent count at
    /// the time. A later operation may take it as a guess (see `addCounter(_:inSortedRanges:at:onZero:)`).
    struct Position {
        fileprivate let chunk: Int
        fileprivate let index: Int
        fileprivate let count: Int
    }

    /// `forEach(inSortedRanges:)`, giving `body` also where each extent was found.
    func forEach(inSortedRanges ranges: [Range<UInt64>], _ body: (Range<UInt64>, Value, Position) throws -> Void) rethrows {
        var hint = 0
        for range in ranges {
            let upper = min(range.upperBound, length)
            guard range.lowerBound < upper else { continue }
            let (c, i) = locate(range.lowerBound, hint: hint)
            hint = c
            try walk(range.lowerBound..<upper, from: c, i, body)
        }
    }

    /// Calls `body` for each extent's piece of `range`, from extent `i` of chunk `c` (the one
    /// holding the range's start) on: the walk `forEach(inSortedRanges:)` and `copyOnWrite`
    /// share once they know where a range starts.
    @inline(__always)
    private func walk(_ range: Range<UInt64>, from c: Int, _ i: Int, _ body: (Range<UInt64>, Value, Position) throws -> Void) rethrows {
        var (c, i) = (c, i)
        var position = range.lowerBound
        while position < range.upperBound {
            let end = min(segmentEnd(c, i), range.upperBound)
            try body(position..<end, chunks[c].value(i, mapShift), Position(chunk: c, index: i, count: chunks[c].starts.count))
            position = end
            i += 1
            if i == chunks[c].starts.count {
                c += 1
                i = 0
            }
        }
    }

    /// The extent holding `key` where a batched lookup's guess, extent `g` of chunk `c` (the
    /// key's chunk, found from the chunk table), missed it (extents of a few pages): stepping
    /// from the guess, a few extents at most (its neighbours share its cache lines), before
    /// searching forward from chunk `hint`.
    @inline(__always)
    private func locate(_ key: UInt64, missedIn c: Int, _ g: Int, hint: Int) -> (Int, Int) {
        var i = g
        let count = Int(chunks[c].startCount)
        let near = chunks[c].starts.withUnsafeBufferPointer { starts -> Bool in
            var steps = 0
            while starts[i] > key {
                if steps == 8 { return false }
                i -= 1
                steps += 1
            }
            while i + 1 < count && starts[i + 1] <= key {
                if steps == 8 { return false }
                i += 1
                steps += 1
            }
            return true
        }
        return near ? (c, i) : locate(key, hint: hint)
    }

    /// The first pass of the batched lookups (`copyOnWrite`): for each of `ranges`, its
    /// chunk and the extent its start is guessed to lie in (`places[2k]`, `places[2k + 1]`;
    /// chunk -1: an empty range) from the chunk table alone (which stays in cache; the chunk
    /// found between the chunks `guide` gives for the start's block and the next block's, where
    /// the table agrees, else galloping from the chunk of the range before), then those
    /// extents' bounds (`bounds[2k]`, `bounds[2k + 1]`) and stored values (`values[k]`, without
    /// the shifts), all read before any is used. The second pass takes each range that lies
    /// inside the extent it guessed, and steps from the guess, or searches, for the others
    /// (`locate(_:missedIn:_:hint:)`). Performance: a worker's copy-on-write reads the
    /// mapcounts of 64 random pages of its master's run (38,400 one-page extents, 600 KB,
    /// mostly out of the core's cache); one lookup after another, each waited for its own cache
    /// misses, where reads issued together overlap theirs (`ExtentMap.locate(_:hint:)` was
    /// 13.5% of the samples of `TenThousandWorkers`; the batched passes, 10.7%). A single pass,
    /// with fewer instructions, was slower.
    @inline(__always)
    private func guessExtents(_ ranges: [Range<UInt64>], guide: inout ChunkGuide, places: UnsafeMutableBufferPointer<Int>, bounds: UnsafeMutableBufferPointer<UInt64>, values: UnsafeMutableBufferPointer<Value>) {
        let n = ranges.count
        let length = self.length
        let slack = guide.slack(chunkCount: firsts.count, length: length)
        let guided = slack != nil
        let gained = slack ?? 0
        let blockShift = guide.shift
        var misses = 0
        var answered = 0
        // Pass 1a, in the chunk table: each range's chunk and guessed extent
        // (-1: an empty range).
        firsts.withUnsafeBufferPointer { firsts in
            chunks.withUnsafeBufferPointer { chunks in
                guide.blocks.withUnsafeBufferPointer { guideBlocks in
                    // (No blocks where the guide does not fit: every key is searched.)
                    let blocks = guided ? guideBlocks : UnsafeBufferPointer(start: nil, count: 0)
                    var hint = 0
                    for k in 0..<n {
                        let key = ranges[k].lowerBound
                        guard key < Swift.min(ranges[k].upperBound, length) else {
                            places[2 * k] = -1
                            continue
                        }
                        var c = hint
                        if let guided = Self.chunk(of: key, firsts: firsts, blocks: blocks, shift: blockShift, gained: gained) {
                            c = guided
                            answered &+= 1
                        } else if firsts[c] <= key {
                            if guided { misses += 1 }
                            // As `locate(_:hint:)` finds it: galloping forward from
                            // the chunk of the range before.
                            var step = 1
                            while true {
                                let probe = c &+ step
                                guard probe < firsts.count else {
                                    c = firsts.lastIndexPicking(notAbove: key, from: c, through: firsts.count - 1)
                                    break
                                }
                                if firsts[probe] > key {
                                    c = firsts.lastIndexPicking(notAbove: key, from: c, through: probe - 1)
                                    break
                                }
                                c = probe
                                step &<<= 1
                            }
                        } else {
                            if guided { misses += 1 }
                            c = firsts.lastIndexPicking(notAbove: key, from: 0, through: firsts.count - 1)
                        }
                        hint = c
                        let first = firsts[c]
                        let end = c + 1 < firsts.count ? firsts[c + 1] : length
                        let count = Int(chunks[c].startCount)
                        // A chunk of one-page extents (a run copy-on-write split page
                        // by page) is guessed exactly, with no division.
                        let span = end &- first
                        let guess = span == UInt64(count) ? Int(key &- first) : Int(Double(key &- first) / Double(span) * Double(count))
                        places[2 * k] = c
                        places[2 * k + 1] = Swift.min(Swift.max(guess, 0), count - 1)
                    }
                }
            }
        }
        guide.misses += misses
        guide.answered += answered
        // Pass 1b: the guessed extents' bounds and values, reads that do not wait
        // for one another.
        for k in 0..<n where places[2 * k] >= 0 {
            let c = places[2 * k]
            let g = places[2 * k + 1]
            // (A chunk of one-page extents gives them with no read of its starts.)
            (bounds[2 * k], bounds[2 * k + 1]) = self.bounds(c, g)
            chunks[c].values.withUnsafeBufferPointer { chunkValues in
                (values.baseAddress! + k).initialize(to: chunkValues[g])
            }
        }
    }

    /// Pieces `ExtentMap<FramePage>.copyOnWrite` leaves to `addCounter(_:inSortedRanges:at:onZero:)`,
    /// and where it found them. The storage is the caller's, kept between calls.
    struct DeferredCounts {
        var ranges: [Range<UInt64>] = []
        var positions: [Position] = []
    }

    /// The chunk holding `key` as a guide's `blocks` (of 2^`shift` indices each, built before
    /// the map gained `gained` chunks) tell it: between the chunks of the key's block and of
    /// the next block, where the chunk table agrees at both ends; nil where it does not (a stale
    /// or foreign guide, or no guide: no blocks).
    @inline(__always)
    private static func chunk(of key: UInt64, firsts: UnsafeBufferPointer<UInt64>, blocks: UnsafeBufferPointer<Int32>, shift: UInt64, gained: Int) -> Int? {
        let chunkCount = firsts.count
        let b = Int(truncatingIfNeeded: key &>> shift)
        guard b < blocks.count else { return nil }
        let low = Int(blocks[b])
        let high = b &+ 1 < blocks.count ? Swift.min(Int(blocks[b &+ 1]) &+ gained, chunkCount &- 1) : chunkCount &- 1
        guard low <= high, firsts[low] <= key, high &+ 1 == chunkCount || firsts[high &+ 1] > key else { return nil }
        return firsts.lastIndexPicking(notAbove: key, from: low, through: high)
    }

    /// Where `copyOnWrite` starts each lookup in the chunk table: for every block of 2^`shift`
    /// indices, the chunk that holds the block's first index, so that a key's chunk lies
    /// between its block's and the next block's (a search of a chunk or two, where galloping
    /// from the chunk of the key before and bisecting took seven dependent probes: the key
    /// before is some ten chunks back in a master's run that a fleet split page by page). The
    /// caller keeps it between calls on the same map (`Simulator.BulkLists`); it is only a
    /// hint: each answer is checked against the chunk table at both ends, a key it does not
    /// answer is searched as before, and a guide built for another map, or before the chunks
    /// changed, answers fewer keys, never a wrong one. It stays in use while its map gains a
    /// few chunks (the early workers' copies split the master's run chunk after chunk: a
    /// rebuild after each split cost more than the lookups it spared), and `copyOnWrite`
    /// rebuilds it when it does not fit (`slack(chunkCount:length:)`).
    struct ChunkGuide {
        fileprivate var shift: UInt64 = 0
        fileprivate var blocks: [Int32] = []
        fileprivate var chunkCount = -1
        fileprivate var length: UInt64 = 0
        /// Keys it did not answer since it was built.
        fileprivate(set) var misses = 0
        /// Keys it answered since it was built (for tests: the guide is not vacuous).
        fileprivate(set) var answered = 0

        init() {}

        /// A guide of any blocks, said to fit a map of `chunkCount` chunks and `length` indices
        /// (for tests: whatever it holds, it never changes an answer).
        init(shift: UInt64, blocks: [Int32], chunkCount: Int, length: UInt64) {
            precondition(blocks.allSatisfy { $0 >= 0 }, "a guide names chunks")
            self.shift = shift
            self.blocks = blocks
            self.chunkCount = chunkCount
            self.length = length
        }

        /// How many chunks the map has gained since the guide was built for it (a chunk split
        /// in two moves every chunk after it one place on, so a key's chunk lies at most this
        /// many places past its block's next block's), or nil where the guide is to be rebuilt:
        /// built for a map of another length, the map has fewer chunks or many more, or the
        /// guide missed more than a quarter of the keys it was asked.
        fileprivate func slack(chunkCount: Int, length: UInt64) -> Int? {
            let gained = chunkCount - self.chunkCount
            guard length == self.length, gained >= 0, gained <= 16, misses <= answered / 4 + 16 else { return nil }
            return gained
        }
    }

    /// Rebuilds `guide` for this map's chunks where it does not fit them (`ChunkGuide.slack`)
    /// and a rebuild costs no more than about the lookups of `keys` keys: blocks of the
    /// smallest power of two indices such that there are at most four blocks a chunk, each
    /// block's chunk found by one walk of the chunk table. A map of a chunk or a few is
    /// searched without one.
    fileprivate func refresh(_ guide: inout ChunkGuide, keys: Int) {
        let count = firsts.count
        guard count >= 8, guide.slack(chunkCount: count, length: length) == nil, count <= 32 * keys else { return }
        var shift: UInt64 = 0
        while shift < 63 && (length &- 1) >> shift >= UInt64(4 * count) { shift += 1 }
        let blockCount = Int((length &- 1) >> shift) + 1
        var blocks: [Int32] = []
        blocks.reserveCapacity(blockCount)
        firsts.withUnsafeBufferPointer { firsts in
            var c = 0
            for b in 0..<blockCount {
                let first = UInt64(b) << shift
                while c + 1 < count && firsts[c + 1] <= first { c += 1 }
                blocks.append(Int32(truncatingIfNeeded: c))
            }
        }
        guide = ChunkGuide()
        guide.shift = shift
        guide.blocks = blocks
        guide.chunkCount = count
        guide.length = length
    }

    /// The extents that meet `range`, clipped to it, as a sequence: what hot loops use, since a
    /// `for` loop's state stays in registers where a closure's mutable captures would be boxed.
    func sequence(in range: Range<UInt64>) -> ExtentSequence {
        ExtentSequence(map: self, lower: range.lowerBound, upper: min(range.upperBound, length))
    }

    struct ExtentSequence: Sequence, IteratorProtocol {
        fileprivate let map: ExtentMap
        fileprivate var c = 0
        fileprivate var i = 0
        fileprivate var position: UInt64
        fileprivate let upper: UInt64

        fileprivate init(map: ExtentMap, lower: UInt64, upper: UInt64) {
            self.map = map
            self.position = lower
            self.upper = upper
            if lower < upper { (c, i) = map.locate(lower) }
        }

        mutating func next() -> (range: Range<UInt64>, value: Value)? {
            guard position < upper else { return nil }
            let end = Swift.min(map.segmentEnd(c, i), upper)
            let result = (position..<end, map.chunks[c].value(i, map.mapShift))
            position = end
            i += 1
            if i == map.chunks[c].starts.count {
                c += 1
                i = 0
            }
            return result
        }
    }

    /// The extent containing `index`, and its value.
    func extent(containing index: UInt64) -> (range: Range<UInt64>, value: Value) {
        let (c, i) = locate(index)
        return (chunks[c].starts[i]..<segmentEnd(c, i), chunks[c].value(i, mapShift))
    }

    /// The map's first extent (the one holding index 0) and its value, with no search.
    var firstExtent: (range: Range<UInt64>, value: Value) {
        (0..<segmentEnd(0, 0), chunks[0].value(0, mapShift))
    }

    /// The map's last extent (the one holding index `length - 1`) and its value, with no search.
    var lastExtent: (range: Range<UInt64>, value: Value) {
        let c = chunks.count - 1
        let i = chunks[c].starts.count - 1
        return (chunks[c].starts[i]..<length, chunks[c].value(i, mapShift))
    }

    /// `extent(containing: index)`, searching the chunks forward from chunk `hint` and leaving
    /// there the chunk it found: ascending lookups (a measure walking a process's mapping extent
    /// by extent over a run of millions of extents) then cost a step or two, not a full search.
    func extent(containing index: UInt64, hint: inout Int) -> (range: Range<UInt64>, value: Value) {
        let (c, i) = locate(index, hint: hint)
        hint = c
        return (chunks[c].starts[i]..<segmentEnd(c, i), chunks[c].value(i, mapShift))
    }

    /// Calls `body` with every extent of the map as its start, its end and its value, in ascending
    /// order. Performance: each chunk is read through buffer pointers, with no lookup and no
    /// bounds check per extent (a measure walks maps of millions of extents).
    @inline(__always)
    func forEachExtent(_ body: (UInt64, UInt64, Value) throws -> Void) rethrows {
        try forEachExtent(inChunks: chunks.indices, body)
    }

    /// The chunks the extents are kept in; `forEachExtent(inChunks:)` walks a range of them.
    var chunkCount: Int { chunks.count }

    /// `forEachExtent`, for the extents of chunks `range` only: the map's extents cut into
    /// ascending, disjoint parts by chunk (a measure walks the parts of one huge map on every
    /// core).
    @inline(__always)
    func forEachExtent(inChunks range: Range<Int>, _ body: (UInt64, UInt64, Value) throws -> Void) rethrows {
        try forEachExtent(inChunks: range, alongside: nil as Self?) { start, end, value, _ in try body(start, end, value) }
    }

    /// `forEachExtent(inChunks:)`, giving `body` also `other`'s value on the same extent where
    /// the two maps keep the very same array of boundaries for the extent's chunk, and the chunk
    /// ends at the same index in both (then each of its extents is one of `other`'s); nil
    /// elsewhere, and everywhere without `other`. Performance: a fleet's worker's mapping keeps
    /// its run's arrays of boundaries (`shareBoundaries`, `assign(alongBoundariesOf:)`), so a
    /// measure reads each of its pages' frames beside its state, where a lookup in the run
    /// stepped from the last one (a third of the measure's instructions of 10,000 forks).
    @inline(__always)
    func forEachExtent<Other>(inChunks range: Range<Int>, alongside other: ExtentMap<Other>?, _ body: (UInt64, UInt64, Value, Other?) throws -> Void) rethrows {
        let length = self.length
        for c in range {
            let chunkEnd = c + 1 < chunks.count ? firsts[c + 1] : length
            let shift = chunks[c].shift &+ mapShift
            var alike = false
            if let other, c < other.chunks.count, (c + 1 < other.chunks.count ? other.firsts[c + 1] : other.length) == chunkEnd {
                alike = chunks[c].starts.withUnsafeBufferPointer { mine in
                    other.chunks[c].starts.withUnsafeBufferPointer { theirs in mine.baseAddress == theirs.baseAddress }
                }
            }
            try chunks[c].starts.withUnsafeBufferPointer { starts in
                try chunks[c].values.withUnsafeBufferPointer { values in
                    guard alike, let other else {
                        for e in 0..<starts.count {
                            let end = e + 1 < starts.count ? starts[e + 1] : chunkEnd
                            try body(starts[e], end, shift == 0 ? values[e] : values[e].shifted(by: shift), nil)
                        }
                        return
                    }
                    let otherShift = other.chunks[c].shift &+ other.mapShift
                    try other.chunks[c].values.withUnsafeBufferPointer { others in
                        for e in 0..<starts.count {
                            let end = e + 1 < starts.count ? starts[e + 1] : chunkEnd
                            try body(starts[e], end, shift == 0 ? values[e] : values[e].shifted(by: shift), otherShift == 0 ? others[e] : others[e].shifted(by: otherShift))
                        }
                    }
                }
            }
        }
    }

    /// A place in the map for a run of ascending lookups (`extent(containing:cursor:)`); valid
    /// while the map does not change (any cursor still gives the right answer, only slower).
    struct Cursor {
        fileprivate var chunk = 0
        fileprivate var index = 0
    }

    /// `extent(containing: index)`, stepping forward a few extents from `cursor` before searching,
    /// and leaving `cursor` at the extent found. Performance: a measure looks up, in ascending
    /// order, the frames of every extent of a mapping whose run is split the same way (a random
    /// touch makes millions of one-page extents): the next one is mostly the next extent or two.
    @inline(__always)
    func extent(containing index: UInt64, cursor: inout Cursor) -> (range: Range<UInt64>, value: Value) {
        var c = cursor.chunk
        var i = cursor.index
        if c < chunks.count, i < chunks[c].starts.count, chunks[c].starts[i] <= index {
            var steps = 0
            while true {
                let count = chunks[c].starts.count
                let end = i + 1 < count ? chunks[c].starts[i + 1] : (c + 1 < chunks.count ? firsts[c + 1] : length)
                if index < end {
                    cursor = Cursor(chunk: c, index: i)
                    return (chunks[c].starts[i]..<end, chunks[c].value(i, mapShift))
                }
                steps += 1
                if steps == 4 || (i + 1 == count && c + 1 == chunks.count) { break }
                if i + 1 < count {
                    i += 1
                } else {
                    c += 1
                    i = 0
                }
            }
        }
        (c, i) = locate(index, hint: c < chunks.count ? c : 0)
        cursor = Cursor(chunk: c, index: i)
        return (chunks[c].starts[i]..<segmentEnd(c, i), chunks[c].value(i, mapShift))
    }

    /// `forEach(inSortedRanges:)` without positions, as one merge of the ranges with every extent
    /// of the map: for ranges at least a quarter as many as the extents (a random touch of
    /// millions of pages over a fragmented mapping), where each range's extent is at most a few
    /// extents past the last one's. Performance: the chunks and the ranges are read through
    /// buffer pointers, with no lookup and no bounds check per piece.
    func forEachMerging(inSortedRanges ranges: [Range<UInt64>], _ body: (Range<UInt64>, Value) throws -> Void) rethrows {
        guard ranges.count * 4 >= extentCount else {
            try forEachStepping(inSortedRanges: ranges, body)
            return
        }
        let length = self.length
        try ranges.withUnsafeBufferPointer { ranges in
            var k = 0
            for c in chunks.indices {
                guard k < ranges.count else { return }
                let chunkEnd = c + 1 < chunks.count ? firsts[c + 1] : length
                // Chunks that end before the next range holds nothing of it.
                if chunkEnd <= ranges[k].lowerBound { continue }
                let shift = chunks[c].shift &+ mapShift
                try chunks[c].starts.withUnsafeBufferPointer { starts in
                    try chunks[c].values.withUnsafeBufferPointer { values in
                        for e in 0..<starts.count {
                            let start = starts[e]
                            let end = e + 1 < starts.count ? starts[e + 1] : chunkEnd
                            while k < ranges.count && ranges[k].lowerBound < end {
                                let lower = Swift.max(ranges[k].lowerBound, start)
                                let upper = Swift.min(ranges[k].upperBound, end)
                                if lower < upper {
                                    try body(lower..<upper, shift == 0 ? values[e] : values[e].shifted(by: shift))
                                }
                                if ranges[k].upperBound > end { break }
                                k += 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// `forEach(inSortedRanges:)` without positions, for ranges about as dense as the extents
    /// (a random touch of millions of pages): each range's first extent is found by stepping
    /// forward from where the range before ended (a few extents), searching only past that.
    func forEachStepping(inSortedRanges ranges: [Range<UInt64>], _ body: (Range<UInt64>, Value) throws -> Void) rethrows {
        var cursor = Cursor()
        for range in ranges {
            let upper = min(range.upperBound, length)
            guard range.lowerBound < upper else { continue }
            _ = extent(containing: range.lowerBound, cursor: &cursor)
            var c = cursor.chunk
            var i = cursor.index
            var position = range.lowerBound
            while position < upper {
                let end = min(segmentEnd(c, i), upper)
                try body(position..<end, chunks[c].value(i, mapShift))
                position = end
                if position < upper {
                    i += 1
                    if i == chunks[c].starts.count {
                        c += 1
                        i = 0
                    }
                }
            }
            cursor = Cursor(chunk: c, index: i)
        }
    }

    /// The extents that meet `range`, clipped to it.
    func extents(in range: Range<UInt64>) -> [(range: Range<UInt64>, value: Value)] {
        var result: [(range: Range<UInt64>, value: Value)] = []
        forEach(in: range) { result.append(($0, $1)) }
        return result
    }

    /// Sets every index of `range` to `value`.
    mutating func assign(_ range: Range<UInt64>, _ value: Value) {
        let range = range.clamped(to: 0..<length)
        guard !range.isEmpty else { return }
        // Performance: assigning a value the range already holds, inside one extent, is common
        // (page tables that already exist, pages already in that state). Return after one lookup
        // instead of splitting and merging — but only where the general path would not merge a
        // pre-existing boundary at either edge, so the extents are exactly what it would leave.
        if isNoOp(assigning: value, to: range) { return }
        if assignInsideOneExtent(range, value) { return }
        split(at: range.upperBound)
        split(at: range.lowerBound)
        let (c, i) = locate(range.lowerBound)
        materialize(c)
        chunks[c].values[i] = value
        removeBoundaries(after: c, i, before: range.upperBound)
        mergeBoundary(at: range.upperBound)
        mergeBoundary(at: range.lowerBound)
    }

    /// Sets each of `ranges` (ascending, disjoint) to the value `value(range)` gives. Many ranges
    /// are merged into the map in one pass, O(extents + ranges), rather than one by one.
    mutating func assign(sortedRanges ranges: [Range<UInt64>], _ value: (Range<UInt64>) -> Value) {
        assign(sortedRanges: ranges, pool: nil, value)
    }

    /// `assign(sortedRanges: ranges, value)`, then `shareValues(from: &pool)`, leaving the same
    /// map and pool. Performance: a fresh worker's new run (`bulkFault`) is built with the pool's
    /// arrays of values where they are equal, instead of arrays of its own that the sharing
    /// then dropped (two allocations a worker, each making its array's type metadata at run time).
    mutating func assign(sortedRanges ranges: [Range<UInt64>], sharingValuesFrom pool: inout ValuePool, _ value: (Range<UInt64>) -> Value) {
        withUnsafeMutablePointer(to: &pool) { pool in
            assign(sortedRanges: ranges, pool: pool, value)
        }
    }

    /// `assign(sortedRanges:_:)`, then, with a pool, `shareValues(from:)` — which the merge into
    /// a map of one extent does as it builds the chunks.
    private mutating func assign(sortedRanges ranges: [Range<UInt64>], pool: UnsafeMutablePointer<ValuePool>?, _ value: (Range<UInt64>) -> Value) {
        var shared = false
        defer { if let pool, !shared { shareValues(from: &pool.pointee) } }
        guard !ranges.isEmpty else { return }
        if ranges.count < 16 || ranges.count * 4 < extentCount {
            for range in ranges { assign(range, value(range)) }
            return
        }
        if chunks.count == 1 && chunks[0].starts.count == 1 && ranges.count <= 2 * maxChunk {
            assignIntoOneExtent(sortedRanges: ranges, pool: pool, value)
            shared = true
            return
        }
        // Performance: the merge writes the extents through raw pointers into two arrays made at
        // their final size (at most one extent per old extent plus two per range), reading the old
        // chunks and the ranges through buffer pointers, then cuts them into chunks of
        // `maxChunk / 2` (a random touch of 2 million pages merges millions of ranges here; an
        // append per extent checked capacity and uniqueness every time). Equal neighbours merge
        // across the whole map: a boundary only where the value changes. (No local function
        // over captured variables: those would be boxed, every access checked at run time.)
        let capacity = extentCount + 2 * ranges.count
        let length = self.length
        var values: [Value] = []
        let starts = [UInt64](unsafeUninitializedCapacity: capacity) { startsOut, startsCount in
            values = [Value](unsafeUninitializedCapacity: capacity) { valuesOut, valuesCount in
                let startsBase = startsOut.baseAddress!
                let valuesBase = valuesOut.baseAddress!
                var n = 0
                ranges.withUnsafeBufferPointer { ranges in
                    var k = 0
                    for c in chunks.indices {
                        let chunkEnd = c + 1 < chunks.count ? firsts[c + 1] : length
                        let shift = chunks[c].shift &+ mapShift
                        chunks[c].starts.withUnsafeBufferPointer { oldStarts in
                            chunks[c].values.withUnsafeBufferPointer { oldValues in
                                for e in 0..<oldStarts.count {
                                    let extentEnd = e + 1 < oldStarts.count ? oldStarts[e + 1] : chunkEnd
                                    let old = shift == 0 ? oldValues[e] : oldValues[e].shifted(by: shift)
                                    var position = oldStarts[e]
                                    while position < extentEnd {
                                        while k < ranges.count && ranges[k].upperBound <= position { k += 1 }
                                        let v: Value
                                        let next: UInt64
                                        if k < ranges.count && ranges[k].lowerBound < extentEnd {
                                            let r = ranges[k]
                                            if r.lowerBound > position {
                                                v = old
                                                next = r.lowerBound
                                            } else {
                                                v = value(r)
                                                next = Swift.min(r.upperBound, extentEnd)
                                            }
                                        } else {
                                            v = old
                                            next = extentEnd
                                        }
                                        if n == 0 || valuesBase[n - 1] != v {
                                            (startsBase + n).initialize(to: position)
                                            (valuesBase + n).initialize(to: v)
                                            n += 1
                                        }
                                        position = next
                                    }
                                }
                            }
                        }
                    }
                }
                valuesCount = n
            }
            startsCount = values.count
        }
        replaceChunks(cutting: starts, values)
    }

    /// Whether `a` holds `b`'s values. Performance: through buffer pointers, one comparison a
    /// value (`elementsEqual` iterated the array generically: 1% of the samples of 10,000 forks).
    private static func equal(_ a: [Value], _ b: UnsafeBufferPointer<Value>) -> Bool {
        a.withUnsafeBufferPointer { a in
            guard a.count == b.count else { return false }
            for i in 0..<a.count where a[i] != b[i] { return false }
            return true
        }
    }

    /// `assign(sortedRanges:)`'s merge for a map that is one extent (all `length` indices hold
    /// one value), leaving the same extents. Performance: a forked worker's random write of tens
    /// of pages builds two such maps, its mapping's and its new run's (129 extents each for
    /// `random=64`); the general merge wrote them into two arrays and copied those into chunks
    /// of `maxChunk / 2` (eight allocations a map, three chunks). This writes the extents into
    /// a buffer on the stack, then into chunks of at most `maxChunk`, evenly filled (two chunks
    /// for 129 extents: less memory a worker, issue 12). Only for a few ranges (at most
    /// `2 * maxChunk`, so the buffer stays small).
    private mutating func assignIntoOneExtent(sortedRanges ranges: [Range<UInt64>], pool: UnsafeMutablePointer<ValuePool>?, _ value: (Range<UInt64>) -> Value) {
        let old = chunks[0].value(0, mapShift)
        let length = self.length
        let capacity = 1 + 2 * ranges.count
        let maxChunk = self.maxChunk
        var builtFirsts: [UInt64] = []
        let built: [Chunk] = withUnsafeTemporaryAllocation(of: UInt64.self, capacity: capacity) { starts in
            withUnsafeTemporaryAllocation(of: Value.self, capacity: capacity) { values in
                // As the general merge: a boundary only where the value changes.
                var n = 0
                var position: UInt64 = 0
                for range in ranges {
                    let upper = Swift.min(range.upperBound, length)
                    guard range.lowerBound < upper else { continue }
                    if range.lowerBound > position {
                        if n == 0 || values[n - 1] != old {
                            starts.initializeElement(at: n, to: position)
                            values.initializeElement(at: n, to: old)
                            n += 1
                        }
                    }
                    let v = value(range)
                    if n == 0 || values[n - 1] != v {
                        starts.initializeElement(at: n, to: range.lowerBound)
                        values.initializeElement(at: n, to: v)
                        n += 1
                    }
                    position = upper
                }
                if position < length && (n == 0 || values[n - 1] != old) {
                    starts.initializeElement(at: n, to: position)
                    values.initializeElement(at: n, to: old)
                    n += 1
                }
                if n == 0 {
                    // No range met the map: it stays as it is.
                    starts.initializeElement(at: 0, to: 0)
                    values.initializeElement(at: 0, to: old)
                    n = 1
                }
                // Chunks of at most `maxChunk` boundaries, as even as they can be.
                let count = (n + maxChunk - 1) / maxChunk
                var result: [Chunk] = []
                result.reserveCapacity(count)
                builtFirsts.reserveCapacity(count)
                var from = 0
                for k in 0..<count {
                    let to = n * (k + 1) / count
                    let size = to - from
                    // (Copied from buffers: `Array(unsafeUninitializedCapacity:)` looks the
                    // storage type's metadata up on every call, see `MappingTable.emptySlots`.)
                    let chunkStarts = [UInt64](UnsafeBufferPointer(start: starts.baseAddress! + from, count: size))
                    // With a pool, the values are the pool's array of their length where they
                    // equal it, as `shareValues(from:)` would leave them, without an array made
                    // for them first.
                    let built = UnsafeBufferPointer(start: values.baseAddress! + from, count: size)
                    let chunkValues: [Value]
                    if let pool, let kept = pool.pointee.arrays[size], Self.equal(kept, built) {
                        chunkValues = kept
                        pool.pointee.shared += 1
                    } else {
                        chunkValues = [Value](built)
                        pool?.pointee.arrays[size] = chunkValues
                    }
                    result.append(Chunk(starts: chunkStarts, values: chunkValues))
                    builtFirsts.append(starts[from])
                    from = to
                }
                return result
            }
        }
        chunks = built
        firsts = builtFirsts
        mapShift = 0
    }

    /// Makes this map keep `other`'s arrays of boundaries (each chunk's starts, and the chunks'
    /// firsts) where the two maps have exactly the same boundaries cut into the same chunks;
    /// leaves it as it is otherwise. Returns whether it shares them. The extents and values
    /// stay what they are: only storage is shared (copy on write, so either map may change
    /// afterwards without the other seeing it). Performance: a forked worker's random write
    /// builds its mapping's page states and its new run's frames with the same 129 boundaries
    /// (`bulkFault`); held once, they cost a worker about 1 KB less (issue 12: 100,000
    /// workers in 300 MB).
    @discardableResult
    mutating func shareBoundaries<Other>(with other: ExtentMap<Other>) -> Bool {
        guard length == other.length, chunks.count == other.chunks.count, firsts == other.firsts else { return false }
        for c in chunks.indices where chunks[c].starts != other.chunks[c].starts { return false }
        firsts = other.firsts
        for c in chunks.indices { chunks[c].starts = other.chunks[c].starts }
        return true
    }

    /// Arrays of values that maps built alike hold in common (copy on write): at most one array
    /// of each length, the last one offered. See `shareValues(from:)`.
    struct ValuePool {
        fileprivate var arrays: [Int: [Value]] = [:]
        /// Chunks that took an array of the pool (for tests: the sharing is not vacuous).
        fileprivate(set) var shared = 0
    }

    /// Makes each chunk whose values equal the pool's array of their length hold that array
    /// (shared, copy on write: a later write to either copies it first), and offers the pool
    /// every other chunk's values in place of the array it kept for their length. Nothing a
    /// reader sees changes. Performance: the run a fresh worker's random write makes holds two
    /// values, not present and its copies, alternating over its ~129 extents, so that each
    /// fleet worker would keep an array of 1 KiB equal to every other worker's (`bulkFault`;
    /// issue 12: 100,000 workers in 300 MB).
    mutating func shareValues(from pool: inout ValuePool) {
        for c in chunks.indices {
            let count = chunks[c].values.count
            if let kept = pool.arrays[count], kept == chunks[c].values {
                chunks[c].values = kept
                pool.shared += 1
            } else {
                pool.arrays[count] = chunks[c].values
            }
        }
    }

    /// Makes this map, one extent, hold `other`'s extents, each with the value `value` gives for
    /// `other`'s, on `other`'s own arrays of boundaries (shared, copy on write, as
    /// `shareBoundaries(with:)` leaves them). Returns false, having changed nothing, unless this
    /// map is one extent as long as `other`, with the same chunk capacity. It is what
    /// `assign(sortedRanges:)` leaves where `other` was one extent that took the same ranges
    /// (each map one value for all of them, other than its old one): the caller knows that.
    /// Performance: a forked worker's random write builds its mapping's page states this way
    /// from its new run's frames (`bulkFault`), the values' arrays only: three allocations a
    /// worker fewer than building its own boundaries and then dropping them for the run's.
    @discardableResult
    mutating func assign<Other>(alongBoundariesOf other: ExtentMap<Other>, _ value: (Other) -> Value) -> Bool {
        assign(alongBoundariesOf: other, chunkValues: { $0.map(value) })
    }

    /// `assign(alongBoundariesOf:_:)` a chunk at a time: `chunkValues` gets the values of one of
    /// `other`'s chunks (its shifts applied) and returns as many for the same extents of this
    /// map. Performance: a caller that maps equal arrays to equal arrays can hand back the same
    /// array for the same one (a fleet's fresh workers: `Simulator.FreshStates`).
    @discardableResult
    mutating func assign<Other>(alongBoundariesOf other: ExtentMap<Other>, chunkValues: ([Other]) -> [Value]) -> Bool {
        guard length == other.length, maxChunk == other.maxChunk, chunks.count == 1, chunks[0].startCount == 1 else { return false }
        var built: [Chunk] = []
        built.reserveCapacity(other.chunks.count)
        // (Chunk by index, each read in place: a `for` over the chunks copied each one out, a
        // retain and a release more for each chunk, of arrays of values the samples' thread
        // retains too for every run it builds.)
        for c in other.chunks.indices {
            let shift = other.chunks[c].shift &+ other.mapShift
            let values = chunkValues(shift == 0 ? other.chunks[c].values : other.chunks[c].values.map { $0.shifted(by: shift) })
            precondition(values.count == other.chunks[c].values.count, "one value for each extent")
            built.append(Chunk(starts: other.chunks[c].starts, values: values))
        }
        chunks = built
        firsts = other.firsts
        mapShift = 0
        return true
    }

    /// Applies `transform` to the value of every extent in `range` (split at the range's edges);
    /// `transform` also gets the extent's index range.
    mutating func modify(_ range: Range<UInt64>, _ transform: (Range<UInt64>, inout Value) -> Void) {
        let range = range.clamped(to: 0..<length)
        guard !range.isEmpty else { return }
        split(at: range.upperBound)
        split(at: range.lowerBound)
        var (c, i) = locate(range.lowerBound)
        while c < chunks.count, chunks[c].starts[i] < range.upperBound {
            // Performance: one chunk at a time through buffer pointers, so the loop does not pay
            // two nested uniqueness checks and bounds checks per extent (fork raises the mapcount
            // of every extent of a run; with thousands of forks this loop dominates).
            let first = i
            let chunkEnd = c + 1 < chunks.count ? firsts[c + 1] : length
            materialize(c)
            let starts = chunks[c].starts
            let stop = starts.withUnsafeBufferPointer { starts in
                chunks[c].values.withUnsafeMutableBufferPointer { values in
                    var k = first
                    while k < starts.count, starts[k] < range.upperBound {
                        let end = k + 1 < starts.count ? starts[k + 1] : chunkEnd
                        transform(starts[k]..<end, &values[k])
                        k += 1
                    }
                    return k
                }
            }
            i = stop
            compact(chunk: c, from: first, to: i)
            c += 1
            i = 0
        }
        mergeBoundary(at: range.upperBound)
        mergeBoundary(at: range.lowerBound)
    }

    /// Extends the map to `newLength` indices; the new ones hold `value`.
    mutating func grow(to newLength: UInt64, value: Value) {
        guard newLength > length else { return }
        let oldLength = length
        length = newLength
        let c = chunks.count - 1
        if chunks[c].value(chunks[c].values.count - 1, mapShift) != value {
            materialize(c)
            chunks[c].starts.append(oldLength)
            chunks[c].values.append(value)
            rebalance(c)
        }
    }

    /// Adds `delta` to the counter of every value in `range`; `onZero` sees each extent whose
    /// counter drops to zero. Chunks the range covers whole take the delta as their shift when it
    /// is positive (nothing can reach zero), in O(1) each; a positive delta over the whole map
    /// goes on the map's shift (`mapShift`) in O(1) when `wholeMapShift` (tests turn it off to
    /// hold that to the chunks' shifts).
    mutating func addCounter(_ delta: Int32, in range: Range<UInt64>, wholeMapShift: Bool = true, onZero: (Range<UInt64>, inout Value) -> Void) {
        let range = range.clamped(to: 0..<length)
        guard !range.isEmpty, delta != 0 else { return }
        if wholeMapShift && delta > 0 && range == 0..<length {
            mapShift &+= delta
            return
        }
        if addCounterInsideOneExtent(delta, range, hint: 0) != nil { return }
        split(at: range.upperBound)
        split(at: range.lowerBound)
        var (c, i) = locate(range.lowerBound)
        while c < chunks.count, chunks[c].starts[i] < range.upperBound {
            if i == 0 && delta > 0 {
                // Performance: the run of chunks the range covers whole takes the shift in one
                // pass through buffer pointers (fork shifts every chunk of a run: hundreds of
                // chunks per fork, each otherwise paying a uniqueness check and bounds checks).
                let whole = shiftWholeChunks(from: c, by: delta, through: range.upperBound)
                if whole > c {
                    c = whole
                    continue
                }
            }
            // A chunk the range covers in part (or any chunk, for a negative delta). Counters add
            // modulo 2^32 (see `ExtentValue`), so the delta goes onto the stored values under the
            // chunk's shift without materializing it — unless a counter reaches zero and `onZero`
            // must see, and may change, the real value.
            while i < chunks[c].starts.count, chunks[c].starts[i] < range.upperBound {
                chunks[c].values[i] = chunks[c].values[i].shifted(by: delta)
                if chunks[c].value(i, mapShift).counter == 0 {
                    materialize(c)
                    onZero(chunks[c].starts[i]..<segmentEnd(c, i), &chunks[c].values[i])
                }
                i += 1
            }
            c += 1
            i = 0
        }
        // No merge at the range's edges (see `addCounterInsideOneExtent`).
    }

    /// `addCounter(delta, in: range, onZero: onZero)` for each of `ranges` (ascending, disjoint)
    /// in turn, leaving exactly what those calls leave. Performance: a range inside one extent
    /// whose counter does not reach zero (every page a bulk copy-on-write fault copies) is found by
    /// searching forward from the chunk of the range before, instead of from the first chunk.
    mutating func addCounter(_ delta: Int32, inSortedRanges ranges: [Range<UInt64>], onZero: (Range<UInt64>, inout Value) -> Void) {
        addCounter(delta, inSortedRanges: ranges, at: [], onZero: onZero)
    }

    /// `addCounter(_:inSortedRanges:onZero:)`, where `positions[k]` (when there are as many as
    /// ranges) is where `forEach(inSortedRanges:)` found the extent holding the start of
    /// `ranges[k]` before this call. Performance: the bulk copy-on-write path reads every page's
    /// mapcount, then drops it; the second lookup becomes a check of the first one's position,
    /// moved by the extents the chunk has gained or lost since. A position that does not check
    /// out (a chunk split or merged away, or any stale or wrong position) falls back to the
    /// search, so the result is the same whatever `positions` holds.
    mutating func addCounter(_ delta: Int32, inSortedRanges ranges: [Range<UInt64>], at positions: [Position], onZero: (Range<UInt64>, inout Value) -> Void) {
        let guessed = positions.count == ranges.count
        var hint = 0
        var k = 0
        while k < ranges.count {
            // Performance: ranges that are one-page extents of chunks split page by page, at
            // the positions given, change in place, as many in a row as there are (below).
            if guessed && delta != 0 {
                k = addCounterInPlace(delta, ranges, positions, from: k)
                guard k < ranges.count else { return }
            }
            let range = ranges[k].clamped(to: 0..<length)
            k += 1
            guard !range.isEmpty, delta != 0 else { continue }
            if let c = addCounterInsideOneExtent(delta, range, hint: hint, guess: guessed ? positions[k - 1] : nil) {
                hint = c
                continue
            }
            addCounter(delta, in: range, onZero: onZero)
        }
    }

    /// The in-place part of `addCounter(_:inSortedRanges:at:onZero:)`: from range `k` on, each
    /// range that is exactly the one-page extent at its position (moved as `checked` moves it)
    /// in a chunk of one-page extents, and whose counter does not reach zero, takes the delta on
    /// its stored value — what `addCounterInsideOneExtent` does there, with no insertion and
    /// no search. Returns the first range it did not change. Performance: a worker's
    /// copy-on-write drops the mapcounts of 64 pages of its master's run, split page by page;
    /// one pass through the chunk table's buffer, where each range otherwise paid the table's
    /// and its chunk's uniqueness checks and bounds checks (`addCounter` was 5% of the samples
    /// of `TenThousandWorkers`).
    private mutating func addCounterInPlace(_ delta: Int32, _ ranges: [Range<UInt64>], _ positions: [Position], from k: Int) -> Int {
        let length = self.length
        let mapShift = self.mapShift
        return firsts.withUnsafeBufferPointer { firsts in
            chunks.withUnsafeMutableBufferPointer { chunks in
                var k = k
                while k < ranges.count {
                    let range = ranges[k]
                    let position = positions[k]
                    let c = position.chunk
                    guard c >= 0, c < chunks.count else { return k }
                    let count = Int(chunks[c].startCount)
                    let first = firsts[c]
                    let chunkEnd = c + 1 < firsts.count ? firsts[c + 1] : length
                    // A chunk of one-page extents: extent i is page first + i.
                    guard chunkEnd &- first == UInt64(count) else { return k }
                    let i = position.index + (count - position.count)
                    guard i >= 0, i < count, range.lowerBound == first &+ UInt64(i), range.upperBound == range.lowerBound &+ 1 else { return k }
                    let shift = chunks[c].shift &+ mapShift
                    let done = chunks[c].values.withUnsafeMutableBufferPointer { values -> Bool in
                        let new = values[i].shifted(by: delta)
                        guard new.shifted(by: shift).counter != 0 else { return false }
                        values[i] = new
                        return true
                    }
                    guard done else { return k }
                    k += 1
                }
                return k
            }
        }
    }

    // MARK: - Internals

    /// Performance: `addCounter` over a range inside one extent whose counter does not reach
    /// zero — every copy-on-write copy drops the mapcount of one page of the run it copies from.
    /// One lookup and at most two insertions, under the chunk's shift (no materializing), leaving
    /// exactly the extents the general path leaves. Returns the chunk that held the extent, or nil
    /// (doing nothing) otherwise. `hint` is a chunk to search forward from (see `locate(_:hint:)`).
    ///
    /// Neither path merges a changed extent with an equal neighbour. Performance: a fleet's
    /// copies drop the mapcounts of a run's pages one page at a time, about as often as each of
    /// its neighbours; where the two came out equal, a merge joined them only for the next copy
    /// of either to split them again, and the joined extents put the lookups' interpolated
    /// guesses off for the rest of their chunk (10% of the instructions of 10,000 forks). Once a
    /// run is split page by page it stays so, and its mapcounts change in place.
    @inline(__always)
    private mutating func addCounterInsideOneExtent(_ delta: Int32, _ range: Range<UInt64>, hint: Int, guess: Position? = nil) -> Int? {
        // (No `flatMap` closure: this is the copy-on-write hot path, and it must inline.)
        var found: (Int, Int)? = nil
        if let guess { found = checked(guess, holds: range.lowerBound) }
        let (c, i) = found ?? locate(range.lowerBound, hint: hint)
        let (start, end) = bounds(c, i)
        guard range.upperBound <= end else { return nil }
        let old = chunks[c].values[i]
        let new = old.shifted(by: delta)
        guard new.shifted(by: chunks[c].shift &+ mapShift).counter != 0 else { return nil }
        place(new, over: range, insideExtentAt: c, i, start: start, end: end, old: old, merging: false)
        return c
    }

    /// Adds `delta` to the shift of chunks `c`, `c + 1`, … as long as each ends at or before
    /// `upper`; returns the first chunk it did not shift.
    private mutating func shiftWholeChunks(from c: Int, by delta: Int32, through upper: UInt64) -> Int {
        let length = self.length
        return firsts.withUnsafeBufferPointer { firsts in
            chunks.withUnsafeMutableBufferPointer { chunks in
                var k = c
                while k < chunks.count {
                    let end = k + 1 < chunks.count ? firsts[k + 1] : length
                    guard end <= upper else { break }
                    chunks[k].shift &+= delta
                    k += 1
                }
                return k
            }
        }
    }

    /// Applies chunk `c`'s shift, and the map's, to its values, before anything writes to them
    /// (the chunk's shift then cancels the map's).
    private mutating func materialize(_ c: Int) {
        let shift = chunks[c].shift &+ mapShift
        guard shift != 0 else { return }
        chunks[c].shift = 0 &- mapShift
        chunks[c].values.withUnsafeMutableBufferPointer { values in
            for k in values.indices { values[k] = values[k].shifted(by: shift) }
        }
    }

    /// True when `assign(range, value)` would leave the map exactly as it is: `range` lies in one
    /// extent that already holds `value`, and neither edge sits on a boundary the general path
    /// would merge away (a boundary between two extents that hold equal values).
    private func isNoOp(assigning value: Value, to range: Range<UInt64>) -> Bool {
        let (c, i) = locate(range.lowerBound)
        guard chunks[c].value(i, mapShift) == value else { return false }
        let start = chunks[c].starts[i]
        let end = segmentEnd(c, i)
        guard range.upperBound <= end else { return false }
        if range.lowerBound == start && start > 0 {
            let previous = i > 0 ? chunks[c].value(i - 1, mapShift) : chunks[c - 1].value(chunks[c - 1].values.count - 1, mapShift)
            if previous == value { return false }
        }
        if range.upperBound == end && end < length {
            let next = i + 1 < chunks[c].values.count ? chunks[c].value(i + 1, mapShift) : chunks[c + 1].value(0, mapShift)
            if next == value { return false }
        }
        return true
    }

    /// Performance: `assign` of a value that differs from the extent holding `range`, with `range`
    /// inside that one extent — every fault on untouched or differently-mapped pages. Done with
    /// one lookup and at most two insertions in one chunk, instead of two splits, a removal and
    /// two merges (five lookups). It leaves exactly the extents the general path leaves: the new
    /// value differs from the old, so only an edge that falls on the extent's own boundary can
    /// merge, with the neighbour beyond it. Returns false (doing nothing) when not applicable.
    private mutating func assignInsideOneExtent(_ range: Range<UInt64>, _ value: Value) -> Bool {
        let (c, i) = locate(range.lowerBound)
        let old = chunks[c].value(i, mapShift)
        guard old != value else { return false }
        let start = chunks[c].starts[i]
        let end = segmentEnd(c, i)
        guard range.upperBound <= end else { return false }
        materialize(c)
        place(value, over: range, insideExtentAt: c, i, start: start, end: end, old: old, merging: true)
        return true
    }

    /// Gives `range`, which lies inside the extent at position (c, i) spanning `start..<end` and
    /// holding `old`, the value `new` (both as stored in chunk `c`, under its shift): at most two
    /// insertions, then, when `merging`, merges where an edge of `range` is an edge of the extent.
    /// The shared core of the one-lookup fast paths of `assign` (merging) and `addCounter` (not).
    private mutating func place(_ new: Value, over range: Range<UInt64>, insideExtentAt c: Int, _ i: Int, start: UInt64, end: UInt64, old: Value, merging: Bool) {
        switch (range.lowerBound > start, range.upperBound < end) {
        case (true, true):
            chunks[c].starts.insertTrivial(range.lowerBound, range.upperBound, at: i + 1)
            chunks[c].values.insertTrivial(new, old, at: i + 1)
            rebalance(c)
        case (true, false):
            chunks[c].starts.insertTrivial(range.lowerBound, at: i + 1)
            chunks[c].values.insertTrivial(new, at: i + 1)
            // Performance: unless the chunk split, the boundary at `end` is the next position
            // (or the next chunk's first, which `mergeBoundary(chunk:position:at:)` looks up).
            if !merging {
                rebalance(c)
            } else if rebalance(c) {
                mergeBoundary(at: end, hint: c)
            } else {
                mergeBoundary(chunk: c, position: i + 2, at: end)
            }
        case (false, true):
            chunks[c].values[i] = new
            chunks[c].starts.insertTrivial(range.upperBound, at: i + 1)
            chunks[c].values.insertTrivial(old, at: i + 1)
            // Performance: unless the chunk split, the boundary at `start` is still position i.
            if !merging {
                rebalance(c)
            } else if rebalance(c) {
                mergeBoundary(at: start, hint: c)
            } else {
                mergeBoundary(chunk: c, position: i, at: start)
            }
        case (false, false):
            // Values stored in one chunk compare like their shifted values.
            // Performance: `range` is the whole extent, inside its chunk, and mostly differs from
            // both neighbours after the write: one write and two comparisons through a buffer
            // pointer, where the two merges below would find nothing to merge.
            if !merging {
                // A page of a run split page by page: its value changes in place.
                chunks[c].values[i] = new
                return
            }
            if i > 0 && i + 1 < chunks[c].values.count {
                let merges = chunks[c].values.withUnsafeMutableBufferPointer { values in
                    values[i] = new
                    return values[i - 1] == new || values[i + 1] == new
                }
                if !merges { return }
            }
            chunks[c].values[i] = new
            mergeBoundary(chunk: c, position: i + 1, at: end)
            mergeBoundary(chunk: c, position: i, at: start)
        }
    }

    /// The chunk and position of the extent containing `index` (`index < length`, or 0).
    private func locate(_ index: UInt64) -> (Int, Int) {
        let c = firsts.lastIndex(notAbove: index)
        return (c, position(in: c, of: index))
    }

    /// The position in chunk `c` of the extent containing `index` (`firsts[c] <= index`).
    /// Performance: searched by interpolation (`lastIndex(notAbove:interpolatingFrom:through:first:end:)`):
    /// once a fleet's copy-on-write has split a run into one-page extents, a lookup of one of
    /// the tens of random pages a worker copies mostly reads one cache line of its cold chunk,
    /// where a binary search makes seven dependent reads of four or five lines.
    @inline(__always)
    private func position(in c: Int, of index: UInt64) -> Int {
        let end = c + 1 < chunks.count ? firsts[c + 1] : length
        let count = Int(chunks[c].startCount)
        let first = firsts[c]
        return chunks[c].starts.withUnsafeBufferPointer { starts in
            starts.lastIndex(notAbove: index, interpolatingFrom: 0, through: count - 1, first: first, end: end)
        }
    }

    /// `locate(index)` if `position`, moved by the extents its chunk has gained or lost since it
    /// was taken, is the extent containing `index` (only one extent does); nil otherwise.
    @inline(__always)
    private func checked(_ position: Position, holds index: UInt64) -> (Int, Int)? {
        let c = position.chunk
        guard c >= 0, c < chunks.count else { return nil }
        let count = Int(chunks[c].startCount)
        let i = position.index + (count - position.count)
        guard i >= 0, i < count else { return nil }
        let (start, end) = bounds(c, i)
        guard start <= index, index < end else { return nil }
        return (c, i)
    }

    /// Where extent `i` of chunk `c` starts and ends. Performance: from the count kept beside
    /// the chunk (`startCount`) and the chunk table, and for a chunk of one-page extents from
    /// the index alone — `count` ascending starts from `first` below `first + count` are
    /// `first, first + 1, ...` — without reading the starts array: a cache miss for each page a
    /// fleet's worker copies in its master's run, split page by page.
    @inline(__always)
    private func bounds(_ c: Int, _ i: Int) -> (UInt64, UInt64) {
        let first = firsts[c]
        let count = Int(chunks[c].startCount)
        let chunkEnd = c + 1 < firsts.count ? firsts[c + 1] : length
        if chunkEnd &- first == UInt64(count) { return (first &+ UInt64(i), first &+ UInt64(i) &+ 1) }
        return (chunks[c].starts[i], i + 1 < count ? chunks[c].starts[i + 1] : chunkEnd)
    }

    /// `locate(index)`, searching the chunks forward from chunk `hint` (galloping: hint + 1, + 2,
    /// + 4, …, then a binary search between): cheap when the extent lies in or just past that
    /// chunk, as it does for ascending lookups. Any hint gives the same answer: one whose chunk
    /// starts past `index` (or that is out of range, or 0) falls back to the full search.
    private func locate(_ index: UInt64, hint: Int) -> (Int, Int) {
        guard hint > 0, hint < firsts.count, firsts[hint] <= index else { return locate(index) }
        let c = firsts.withUnsafeBufferPointer { firsts -> Int in
            var low = hint
            var step = 1
            while true {
                let probe = low &+ step
                guard probe < firsts.count else {
                    return firsts.lastIndex(notAbove: index, from: low, through: firsts.count - 1)
                }
                if firsts[probe] > index {
                    return firsts.lastIndex(notAbove: index, from: low, through: probe - 1)
                }
                low = probe
                step &<<= 1
            }
        }
        return (c, position(in: c, of: index))
    }


    @inline(__always)
    private func segmentEnd(_ c: Int, _ i: Int) -> UInt64 {
        if i + 1 < chunks[c].starts.count { return chunks[c].starts[i + 1] }
        if c + 1 < chunks.count { return firsts[c + 1] }
        return length
    }

    /// Makes `index` the start of an extent (no-op at 0 and at or past the end).
    private mutating func split(at index: UInt64) {
        guard index > 0, index < length else { return }
        let (c, i) = locate(index)
        guard chunks[c].starts[i] != index else { return }
        chunks[c].starts.insertTrivial(index, at: i + 1)
        chunks[c].values.insertTrivial(chunks[c].values[i], at: i + 1)
        rebalance(c)
    }

    /// Splits chunk `c` in two if it holds more than `maxChunk` boundaries; returns whether it did.
    @discardableResult
    private mutating func rebalance(_ c: Int) -> Bool {
        let count = chunks[c].starts.count
        guard count > maxChunk else { return false }
        let half = count / 2
        let upper = Chunk(starts: Array(chunks[c].starts[half...]), values: Array(chunks[c].values[half...]), shift: chunks[c].shift)
        chunks[c].starts.removeSubrange(half...)
        chunks[c].values.removeSubrange(half...)
        chunks.insert(upper, at: c + 1)
        firsts.insert(upper.starts[0], at: c + 1)
        return true
    }

    /// Removes every extent boundary after position (c, i) that lies below `bound`.
    private mutating func removeBoundaries(after c: Int, _ i: Int, before bound: UInt64) {
        // Performance: count first and remove only when there is something to remove; holding a
        // copy of `starts` across the removal would make the array copy itself on every call.
        let count = chunks[c].starts.count
        var k = i + 1
        while k < count, chunks[c].starts[k] < bound { k += 1 }
        if k > i + 1 {
            chunks[c].starts.removeSubrange((i + 1)..<k)
            chunks[c].values.removeSubrange((i + 1)..<k)
        }
        guard k == count else { return }
        while c + 1 < chunks.count, firsts[c + 1] < bound {
            let next = chunks[c + 1].starts
            var j = 0
            while j < next.count, next[j] < bound { j += 1 }
            if j == next.count {
                chunks.remove(at: c + 1)
                firsts.remove(at: c + 1)
            } else {
                // The extent that straddles `bound` now starts at `bound` (it was split there).
                chunks[c + 1].starts.removeSubrange(0..<j)
                chunks[c + 1].values.removeSubrange(0..<j)
                firsts[c + 1] = chunks[c + 1].starts[0]
                return
            }
        }
    }

    /// `mergeBoundary(at:)` for the boundary at position `i` of chunk `c` (or just past its last
    /// extent when `i == count`): when the neighbours are in the same chunk and differ, as they
    /// mostly do, this costs no lookup.
    private mutating func mergeBoundary(chunk c: Int, position i: Int, at index: UInt64) {
        if i > 0 && i < chunks[c].values.count {
            // Both neighbours in chunk `c` (their stored values compare like their shifted ones):
            // what `mergeBoundary(at:)` would find, without the lookup. A position inside the
            // chunk keeps the chunk non-empty and its first boundary.
            guard chunks[c].values[i - 1] == chunks[c].values[i] else { return }
            chunks[c].starts.remove(at: i)
            chunks[c].values.remove(at: i)
            return
        }
        mergeBoundary(at: index, hint: c)
    }

    /// Removes the boundary at `index` if the extents on both sides hold equal values; `hint` is a
    /// chunk to search forward from (see `locate(_:hint:)`; any hint gives the same result).
    private mutating func mergeBoundary(at index: UInt64, hint: Int = 0) {
        guard index > 0, index < length else { return }
        let (c, i) = locate(index, hint: hint)
        guard chunks[c].starts[i] == index else { return }
        let previous = i > 0 ? chunks[c].value(i - 1, mapShift) : chunks[c - 1].value(chunks[c - 1].values.count - 1, mapShift)
        guard previous == chunks[c].value(i, mapShift) else { return }
        chunks[c].starts.remove(at: i)
        chunks[c].values.remove(at: i)
        if chunks[c].starts.isEmpty {
            chunks.remove(at: c)
            firsts.remove(at: c)
        } else if i == 0 {
            firsts[c] = chunks[c].starts[0]
        }
    }

    /// Merges equal neighbours among positions `from..<to` of chunk `c` (the first is kept).
    private mutating func compact(chunk c: Int, from: Int, to: Int) {
        guard to - from > 1 else { return }
        // Performance: scan read-only for the first equal neighbour; most calls find none and
        // then write nothing (the loop below would otherwise rewrite every element in place).
        var firstEqual = chunks[c].values.withUnsafeBufferPointer { values in
            var read = from + 1
            while read < to, values[read] != values[read - 1] { read += 1 }
            return read
        }
        guard firstEqual < to else { return }
        var write = firstEqual
        firstEqual += 1
        for read in firstEqual..<to {
            if chunks[c].values[read] != chunks[c].values[write - 1] {
                chunks[c].starts[write] = chunks[c].starts[read]
                chunks[c].values[write] = chunks[c].values[read]
                write += 1
            }
        }
        guard write < to else { return }
        chunks[c].starts.removeSubrange(write..<to)
        chunks[c].values.removeSubrange(write..<to)
    }
}

/// The boundaries of a map of one extent, shared by every new map. Performance: a fleet's worker
/// makes a new run whose map its first write rebuilds at once; its arrays `[0]` were two of the
/// allocations a worker made.
private let singleStart: [UInt64] = [0]

extension ExtentMap where Value == FramePage {
    /// A copy-on-write write's pass over the run its pages map (`Simulator.bulkFault`): for
    /// each piece of `ranges` (ascending, disjoint) in each extent, in order, a page mapped by
    /// this process alone is reused (the piece goes to `reused`), any other is copied (to
    /// `copied`) and its mapcount dropped by one — what `forEach(inSortedRanges:)` with those
    /// decisions, then `addCounter(-1, inSortedRanges: copied, at:, onZero:)` do, `onZero`
    /// marking the pages of an anonymous run not present. Returns the pages copied, or nil,
    /// having changed nothing in the map, where a piece lies in a large folio (the page-by-page
    /// path decides those). `reused` and `copied` are appended to; `deferred` is storage, left
    /// empty. With `splitPages` (tests turn it off), ranges that are all single pages of chunks
    /// of one-page extents take `copyOnWriteOfSplitPages`, which gives the same (ranges of a
    /// few pages there, a range a page: `singlePages`). With
    /// `splitsCrowded`, a crowded map (`isCrowded`) is first split page by page
    /// (`splitPageByPage`): the same values everywhere, so the same pieces, count and values
    /// — the extents stored are then all one page (also where a large folio returns nil).
    ///
    /// Performance: the lookups are batched (`guessExtents`: their cache misses in the master's
    /// run overlap), and a piece that is its whole extent, found where its lookup guessed, takes
    /// the drop on its stored value — every page a fleet's worker copies of its master's run,
    /// split page by page — with no second lookup, no closure and no list: the two passes
    /// and the lists between them were a third of the statements' instructions of 10,000
    /// forks. A drop in place moves no boundary, so the drops left to `addCounter` after it
    /// leave the extents they leave in order.
    mutating func copyOnWrite(_ ranges: [Range<UInt64>], anonymous: Bool, reused: inout [Range<UInt64>], copied: inout [Range<UInt64>], deferred: inout DeferredCounts, guide: inout ChunkGuide, splitPages: Bool = true, splitsCrowded: Bool = false) -> UInt64? {
        let n = ranges.count
        guard n > 0 else { return 0 }
        refresh(&guide, keys: n)
        if splitPages, let done = copyOnWriteOfSplitPages(ranges, reused: &reused, copied: &copied, guide: guide) { return done }
        // A range of a few pages over one-page extents gives a piece a page: as many ranges of
        // one page each give the same pieces. Performance: a worker whose sample holds two
        // neighbouring pages (one in ten of 10,000 workers) took the general pass for them all.
        let pages = splitPages ? Self.singlePages(ranges) : nil
        if let pages, let done = copyOnWriteOfSplitPages(pages, reused: &reused, copied: &copied, guide: guide) { return done }
        if splitsCrowded && isCrowded {
            // Performance: a map that copies have split to a few pages an extent (a fleet's
            // master's run, a few dozen workers in) is split page by page at once — the same
            // values, at most `crowdedIndices` times the extents — so that its pages' drops,
            // this write's and every later one's, change values in place (the split pages'
            // pass) instead of inserting boundaries into chunk after chunk: the general pass
            // cost three times the split pages' pass a page, and took the writes of the first
            // few thousand of 10,000 workers.
            splitPageByPage()
            refresh(&guide, keys: n)
            if splitPages, let done = copyOnWriteOfSplitPages(pages ?? ranges, reused: &reused, copied: &copied, guide: guide) { return done }
        }
        let length = self.length
        var copiedPages: UInt64 = 0
        let changed = withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * n) { places -> Bool in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 2 * n) { bounds in
                withUnsafeTemporaryAllocation(of: FramePage.self, capacity: n) { values in
                    withUnsafeTemporaryAllocation(of: Range<UInt64>.self, capacity: n) { pending in
                        // (The second half of `places`: the extents dropped in place, as
                        // chunk and index pairs, at most one a range.)
                        let guesses = UnsafeMutableBufferPointer(rebasing: places[0..<(2 * n)])
                        let inPlace = UnsafeMutableBufferPointer(rebasing: places[(2 * n)...])
                        guessExtents(ranges, guide: &guide, places: guesses, bounds: bounds, values: values)
                        var placed = 0
                        // Copied pieces of guessed extents, appended to `copied` in a batch
                        // (before any other piece, to keep the list ascending).
                        var waiting = 0
                        func flush() {
                            guard waiting > 0 else { return }
                            copied.append(contentsOf: UnsafeBufferPointer(rebasing: pending[0..<waiting]))
                            waiting = 0
                        }
                        var hint = 0
                        for k in 0..<n {
                            let range = ranges[k]
                            let upper = Swift.min(range.upperBound, length)
                            guard range.lowerBound < upper else { continue }
                            let c = guesses[2 * k]
                            let g = guesses[2 * k + 1]
                            let piece = range.lowerBound..<upper
                            if bounds[2 * k] <= range.lowerBound && upper <= bounds[2 * k + 1] {
                                let shift = chunks[c].shift &+ mapShift
                                let page = shift == 0 ? values[k] : values[k].shifted(by: shift)
                                hint = c
                                if page.order > 0 { return false }
                                if page.mapcount <= 1 {
                                    reused.append(piece)
                                    continue
                                }
                                pending[waiting] = piece
                                waiting += 1
                                copiedPages += upper &- range.lowerBound
                                // Mapped by others: the drop leaves the count above zero.
                                if bounds[2 * k] == range.lowerBound && upper == bounds[2 * k + 1] {
                                    inPlace[2 * placed] = c
                                    inPlace[2 * placed + 1] = g
                                    placed += 1
                                } else {
                                    deferred.ranges.append(piece)
                                    deferred.positions.append(Position(chunk: c, index: g, count: Int(chunks[c].startCount)))
                                }
                                continue
                            }
                            let (c2, i) = locate(range.lowerBound, missedIn: c, g, hint: hint)
                            hint = c2
                            flush()
                            var large = false
                            walk(piece, from: c2, i) { piece, page, position in
                                if page.order > 0 {
                                    large = true
                                } else if page.mapcount <= 1 {
                                    reused.append(piece)
                                } else {
                                    copied.append(piece)
                                    copiedPages += UInt64(piece.count)
                                    deferred.ranges.append(piece)
                                    deferred.positions.append(position)
                                }
                            }
                            if large { return false }
                        }
                        flush()
                        if placed > 0 {
                            chunks.withUnsafeMutableBufferPointer { chunks in
                                for p in 0..<placed {
                                    let i = inPlace[2 * p + 1]
                                    chunks[inPlace[2 * p]].values.withUnsafeMutableBufferPointer { values in
                                        values[i] = values[i].shifted(by: -1)
                                    }
                                }
                            }
                        }
                        return true
                    }
                }
            }
        }
        defer {
            deferred.ranges.removeAll(keepingCapacity: true)
            deferred.positions.removeAll(keepingCapacity: true)
        }
        guard changed else { return nil }
        if !deferred.ranges.isEmpty {
            addCounter(-1, inSortedRanges: deferred.ranges, at: deferred.positions) { _, page in
                if anonymous && page.present { page.present = false }
            }
        }
        return copiedPages
    }

    /// Each page of `ranges` a range of its own, where some range holds more than one page and
    /// none is empty, and they hold at most four pages a range; nil otherwise.
    static func singlePages(_ ranges: [Range<UInt64>]) -> [Range<UInt64>]? {
        var total: UInt64 = 0
        for range in ranges {
            guard range.lowerBound < range.upperBound else { return nil }
            total &+= Swift.min(range.upperBound &- range.lowerBound, 1 << 32)
        }
        guard total > UInt64(ranges.count), total <= 4 &* UInt64(ranges.count) else { return nil }
        var pages: [Range<UInt64>] = []
        pages.reserveCapacity(Int(total))
        for range in ranges {
            var page = range.lowerBound
            while page < range.upperBound {
                pages.append(page..<(page &+ 1))
                page &+= 1
            }
        }
        return pages
    }

    /// `copyOnWrite` where every range is one page in a chunk of one-page extents (a fleet's
    /// worker writing its master's run once the workers before it split the run page by page)
    /// and the guide answers every page's chunk: each page's chunk from the guide, its extent
    /// from the chunk's first page, no bounds to check, every copy a drop in place. Returns
    /// what `copyOnWrite` returns (`.some(nil)`: a large folio, nothing changed), or nil where
    /// a range is not such a page (then nothing has changed and nothing was appended).
    /// Performance: the general pass spent about 240 instructions a page on searches, guesses
    /// and bounds that such a page does not need.
    mutating func copyOnWriteOfSplitPages(_ ranges: [Range<UInt64>], reused: inout [Range<UInt64>], copied: inout [Range<UInt64>], guide: ChunkGuide) -> UInt64?? {
        let n = ranges.count
        guard let gained = guide.slack(chunkCount: firsts.count, length: length) else { return nil }
        let length = self.length
        let shift = guide.shift
        return withUnsafeTemporaryAllocation(of: (chunk: Int, index: Int).self, capacity: n) { places -> UInt64?? in
            withUnsafeTemporaryAllocation(of: FramePage.self, capacity: n) { values -> UInt64?? in
                // Each page's chunk and index, from the chunk table alone; then their values,
                // loads that do not wait for one another.
                let found = firsts.withUnsafeBufferPointer { firsts in
                    chunks.withUnsafeBufferPointer { chunks in
                        guide.blocks.withUnsafeBufferPointer { blocks -> Bool in
                            let chunkCount = firsts.count
                            for k in 0..<n {
                                let key = ranges[k].lowerBound
                                guard ranges[k].upperBound == key &+ 1, key < length,
                                    let c = Self.chunk(of: key, firsts: firsts, blocks: blocks, shift: shift, gained: gained)
                                else { return false }
                                let first = firsts[c]
                                let end = c &+ 1 < chunkCount ? firsts[c &+ 1] : length
                                guard end &- first == UInt64(chunks[c].startCount) else { return false }
                                places[k] = (c, Int(key &- first))
                            }
                            return true
                        }
                    }
                }
                guard found else { return nil }
                chunks.withUnsafeBufferPointer { chunks in
                    for k in 0..<n {
                        let (c, i) = places[k]
                        chunks[c].values.withUnsafeBufferPointer { (values.baseAddress! + k).initialize(to: $0[i]) }
                    }
                }
                // The decisions, then the drops (a large folio anywhere leaves everything
                // as it was). The pages copied are appended to `copied` at once (an append
                // each checked the list's capacity and uniqueness).
                var drops = 0
                let decided = withUnsafeTemporaryAllocation(of: Range<UInt64>.self, capacity: n) { pieces -> Bool in
                    for k in 0..<n {
                        let (c, i) = places[k]
                        let shift = chunks[c].shift &+ mapShift
                        let page = shift == 0 ? values[k] : values[k].shifted(by: shift)
                        if page.order > 0 { return false }
                        if page.mapcount <= 1 {
                            reused.append(ranges[k])
                        } else {
                            pieces[drops] = ranges[k]
                            places[drops] = (c, i)
                            drops += 1
                        }
                    }
                    copied.append(contentsOf: UnsafeBufferPointer(rebasing: pieces[0..<drops]))
                    return true
                }
                guard decided else { return .some(nil) }
                chunks.withUnsafeMutableBufferPointer { chunks in
                    for d in 0..<drops {
                        let (c, i) = places[d]
                        chunks[c].values.withUnsafeMutableBufferPointer { values in
                            values[i] = values[i].shifted(by: -1)
                        }
                    }
                }
                return .some(UInt64(drops))
            }
        }
    }
}

/// A value an `ExtentMap` can hold. Values with a counter (a page's mapcount) let the map shift
/// the counter of a whole chunk at once; the rest keep the defaults.
protocol ExtentValue: Equatable {
    /// This value with `delta` added to its counter, modulo 2^32 (so that shifts commute and a
    /// stored value may run "below zero" under a chunk's positive shift); values without a
    /// counter return themselves.
    func shifted(by delta: Int32) -> Self
    /// The counter `shifted(by:)` changes; 0 for values without one.
    var counter: UInt32 { get }
}

extension ExtentValue {
    func shifted(by delta: Int32) -> Self { self }
    var counter: UInt32 { 0 }
}

extension Bool: ExtentValue {}

extension Array {
    /// `insert(element, at: index)`. Performance: the standard library's `insert` goes through
    /// a generic `replaceSubrange` (about a hundred instructions a call, measured with callgrind);
    /// an extent map inserts two or four elements for every page a copy-on-write fault splits
    /// off. This appends, then moves the tail up by one in place (`Element` must be trivial:
    /// no references, as every `ExtentValue` and the starts are).
    @inline(__always)
    mutating func insertTrivial(_ element: Element, at index: Int) {
        precondition(_isPOD(Element.self) && index >= 0 && index <= count)
        append(element)
        withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            let moved = buffer.count - 1 - index
            if moved > 0 {
                // memmove (the regions overlap).
                UnsafeMutableRawPointer(base + index + 1).copyMemory(from: base + index, byteCount: moved * MemoryLayout<Element>.stride)
                base[index] = element
            }
        }
    }

    /// `insert(contentsOf: [first, second], at: index)`, without the array literal's allocation:
    /// what `insertTrivial(_:at:)` does, for two elements.
    @inline(__always)
    mutating func insertTrivial(_ first: Element, _ second: Element, at index: Int) {
        precondition(_isPOD(Element.self) && index >= 0 && index <= count)
        append(first)
        append(second)
        withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            let moved = buffer.count - 2 - index
            if moved > 0 {
                UnsafeMutableRawPointer(base + index + 2).copyMemory(from: base + index, byteCount: moved * MemoryLayout<Element>.stride)
            }
            base[index] = first
            base[index + 1] = second
        }
    }
}

extension Array where Element == UInt64 {
    /// The largest `k` with `self[k] <= key` in this ascending array; `self[0] <= key` must hold.
    /// Performance: through a buffer pointer, without bounds checks or reference counting in the
    /// loop; every extent-map operation and every prefix-index query starts with such a search.
    func lastIndex(notAbove key: UInt64) -> Int {
        withUnsafeBufferPointer { $0.lastIndex(notAbove: key, from: 0, through: $0.count - 1) }
    }
}

extension UnsafeBufferPointer where Element == UInt64 {
    /// `lastIndex(notAbove:from:through:)`, probing first where `key` would lie were
    /// `self[low...high]` spread evenly from `self[low]` up to `end` (a bound above
    /// `self[high]`); the search then narrows to the side the probe left, so the answer is the
    /// same for any spread. Performance: one probe, mostly, into a chunk's extents once
    /// copy-on-write has split a run into one-page extents (see `position(in:of:)`; the chunks'
    /// firsts are few and stay in cache, where the binary search costs fewer instructions).
    /// `first` is `self[low]`, which the caller knows without reading this buffer.
    @inline(__always)
    func lastIndex(notAbove key: UInt64, interpolatingFrom low: Int, through high: Int, first: UInt64, end: UInt64) -> Int {
        let n = high - low + 1
        guard n > 8, key < end else { return lastIndex(notAbove: key, from: low, through: high) }
        // One-page extents (a run copy-on-write split page by page) are guessed exactly, with
        // no division.
        let span = end &- first
        let guess = low + (span == UInt64(n) ? Int(key &- first) : Int(Double(key &- first) / Double(span) * Double(n)))
        let g = Swift.min(Swift.max(guess, low), high)
        if self[g] <= key {
            if g == high || self[g + 1] > key { return g }
            return lastIndex(notAbove: key, from: g + 1, through: high)
        }
        return lastIndex(notAbove: key, from: low, through: g - 1)
    }

    /// The largest `k` in `low...high` with `self[k] <= key`, in this ascending buffer;
    /// `self[low] <= key` must hold, and `self[high + 1] > key` where it exists.
    /// Each step halves the candidates as the classic search does. (The compiler makes the pick
    /// a branch; `lastIndexPicking` is the search with a conditional move.)
    @inline(__always)
    func lastIndex(notAbove key: UInt64, from low: Int, through high: Int) -> Int {
        var base = low
        var n = high - low + 1
        while n > 1 {
            let half = n >> 1
            let probe = base &+ half
            base = self[probe] <= key ? probe : base
            n &-= half
        }
        return base
    }

    /// `lastIndex(notAbove:from:through:)` with each pick a conditional move, so that the loop
    /// never mispredicts: the loop is C's (`somsim_last_index_not_above`), since written in
    /// Swift the pick compiles to a branch (LLVM's x86 cmov-conversion), which mispredicts about
    /// every other step on random keys. Used where the keys are random (a fleet's copy-on-write
    /// lookups in its master's run, `copyOnWrite`): the call is opaque to Swift's reference
    /// counting, so where the buffer is an array's (`locate`) it cost a retain and a release.
    @inline(__always)
    func lastIndexPicking(notAbove key: UInt64, from low: Int, through high: Int) -> Int {
        somsim_last_index_not_above(baseAddress!, low, high - low + 1, key)
    }
}

/// Positions compare equal when they name the same place (tests hold the batched lookups to the
/// forward ones, positions included).
extension ExtentMap.Position: Equatable {}
