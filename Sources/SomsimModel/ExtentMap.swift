/// A total map from the page indices `0..<length` to values, stored as extents: runs of indices
/// that share a value.
///
/// This is what keeps the simulator's cost proportional to events and extents rather than to the
/// bytes simulated: a 1 TiB mapping written once is one extent. Extents live in chunks of at most
/// `maxChunk` boundaries, with a sorted index of each chunk's first boundary, so finding, splitting
/// and merging extents costs O(log n + maxChunk) however fragmented the map becomes (a two-level
/// B-tree, in effect).
///
/// Adjacent extents may hold equal values (merging is done where an operation's edges land, and
/// inside the chunks it touches); readers must not assume maximal extents.
struct ExtentMap<Value: Equatable> {
    /// The number of indices the map covers.
    private(set) var length: UInt64
    private var chunks: [Chunk]
    /// `chunks[c].starts[0]` for every chunk, for binary search.
    private var firsts: [UInt64]

    private struct Chunk {
        var starts: [UInt64]
        var values: [Value]
    }

    private static var maxChunk: Int { 128 }

    /// A map of `length` indices, all holding `value`.
    init(length: UInt64, value: Value) {
        self.length = length
        chunks = [Chunk(starts: [0], values: [value])]
        firsts = [0]
    }

    /// The number of extents (an upper bound: equal neighbours may not have been merged).
    var extentCount: Int { chunks.reduce(0) { $0 + $1.starts.count } }

    /// The value at index `index`.
    func value(at index: UInt64) -> Value {
        let (c, i) = locate(index)
        return chunks[c].values[i]
    }

    /// Calls `body` with every extent that meets `range`, clipped to it, in ascending order.
    func forEach(in range: Range<UInt64>, _ body: (Range<UInt64>, Value) throws -> Void) rethrows {
        let upper = min(range.upperBound, length)
        guard range.lowerBound < upper else { return }
        var (c, i) = locate(range.lowerBound)
        var position = range.lowerBound
        while position < upper {
            let end = min(segmentEnd(c, i), upper)
            try body(position..<end, chunks[c].values[i])
            position = end
            i += 1
            if i == chunks[c].starts.count {
                c += 1
                i = 0
            }
        }
    }

    /// The extent containing `index`, and its value.
    func extent(containing index: UInt64) -> (range: Range<UInt64>, value: Value) {
        let (c, i) = locate(index)
        return (chunks[c].starts[i]..<segmentEnd(c, i), chunks[c].values[i])
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
        split(at: range.upperBound)
        split(at: range.lowerBound)
        let (c, i) = locate(range.lowerBound)
        chunks[c].values[i] = value
        removeBoundaries(after: c, i, before: range.upperBound)
        mergeBoundary(at: range.upperBound)
        mergeBoundary(at: range.lowerBound)
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
            let first = i
            while i < chunks[c].starts.count, chunks[c].starts[i] < range.upperBound {
                transform(chunks[c].starts[i]..<segmentEnd(c, i), &chunks[c].values[i])
                i += 1
            }
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
        if chunks[c].values[chunks[c].values.count - 1] != value {
            chunks[c].starts.append(oldLength)
            chunks[c].values.append(value)
            rebalance(c)
        }
    }

    // MARK: - Internals

    /// The chunk and position of the extent containing `index` (`index < length`, or 0).
    private func locate(_ index: UInt64) -> (Int, Int) {
        let c = lastIndex(in: firsts, notAbove: index)
        return (c, lastIndex(in: chunks[c].starts, notAbove: index))
    }

    /// The largest `k` with `sorted[k] <= key`; `sorted[0] <= key` must hold.
    private func lastIndex(in sorted: [UInt64], notAbove key: UInt64) -> Int {
        var low = 0
        var high = sorted.count
        while high - low > 1 {
            let mid = (low + high) / 2
            if sorted[mid] <= key { low = mid } else { high = mid }
        }
        return low
    }

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
        chunks[c].starts.insert(index, at: i + 1)
        chunks[c].values.insert(chunks[c].values[i], at: i + 1)
        rebalance(c)
    }

    /// Splits chunk `c` in two when it has grown past `maxChunk`.
    private mutating func rebalance(_ c: Int) {
        let count = chunks[c].starts.count
        guard count > Self.maxChunk else { return }
        let half = count / 2
        let upper = Chunk(starts: Array(chunks[c].starts[half...]), values: Array(chunks[c].values[half...]))
        chunks[c].starts.removeSubrange(half...)
        chunks[c].values.removeSubrange(half...)
        chunks.insert(upper, at: c + 1)
        firsts.insert(upper.starts[0], at: c + 1)
    }

    /// Removes every extent boundary after position (c, i) that lies below `bound`.
    private mutating func removeBoundaries(after c: Int, _ i: Int, before bound: UInt64) {
        let starts = chunks[c].starts
        var k = i + 1
        while k < starts.count, starts[k] < bound { k += 1 }
        chunks[c].starts.removeSubrange((i + 1)..<k)
        chunks[c].values.removeSubrange((i + 1)..<k)
        guard k == starts.count else { return }
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

    /// Removes the boundary at `index` if the extents on both sides hold equal values.
    private mutating func mergeBoundary(at index: UInt64) {
        guard index > 0, index < length else { return }
        let (c, i) = locate(index)
        guard chunks[c].starts[i] == index else { return }
        let previous = i > 0 ? chunks[c].values[i - 1] : chunks[c - 1].values[chunks[c - 1].values.count - 1]
        guard previous == chunks[c].values[i] else { return }
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
        var write = from + 1
        for read in (from + 1)..<to {
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
