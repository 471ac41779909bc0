@testable import SomsimModel
import SomsimWorkload
import Testing

/// The extent map's walks for bulk touches and measures against their one-lookup-at-a-time
/// equivalents, on fragmented maps with tiny chunks and shifted chunks (fixed seeds, printed on a
/// failure): `forEachExtent` against `forEach(in:)`, `extent(containing:cursor:)` against
/// `extent(containing:)`, `forEachStepping` against `forEach(inSortedRanges:)`, and the one-pass
/// `assign(sortedRanges:)` against assigning one range at a time.
@Suite struct ExtentMapWalkTests {
    typealias Record = ExtentMapSortedRangesTests.ExtentRecord
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8, 42, 4242]

    static func fragmented(seed: UInt64, chunkCapacity: Int) -> (ExtentMap<FramePage>, SplitMix64) {
        var rng = SplitMix64(seed: seed)
        let length = 200 + rng.next(below: 1800)
        let map = ExtentMapSortedRangesTests.fragmentedMap(&rng, length: length, chunkCapacity: chunkCapacity, edits: Int(rng.next(below: 600)))
        return (map, rng)
    }

    /// The extents with equal neighbours joined: what a map with maximal extents lists.
    static func maximal(_ map: ExtentMap<FramePage>) -> [Record] {
        var result: [Record] = []
        map.forEach(in: 0..<map.length) { range, value in
            if let last = result.last, last.value == value, last.range.upperBound == range.lowerBound {
                result[result.count - 1] = Record(range: last.range.lowerBound..<range.upperBound, value: value)
            } else {
                result.append(Record(range: range, value: value))
            }
        }
        return result
    }

    @Test(arguments: [2, 3, 5, 128])
    func forEachExtentIsForEachOverTheWholeMap(chunkCapacity: Int) {
        for seed in Self.seeds {
            let (map, _) = Self.fragmented(seed: seed, chunkCapacity: chunkCapacity)
            var walked: [Record] = []
            map.forEachExtent { start, end, value in walked.append(Record(range: start..<end, value: value)) }
            #expect(walked == ExtentMapSortedRangesTests.extents(map), "seed \(seed), chunks of \(chunkCapacity)")
        }
    }

    @Test(arguments: [2, 3, 5, 128])
    func cursorLookupsAreLookups(chunkCapacity: Int) {
        for seed in Self.seeds {
            var (map, rng) = Self.fragmented(seed: seed, chunkCapacity: chunkCapacity)
            // Ascending lookups (a measure's), with steps of every size, then random ones.
            var cursor = ExtentMap<FramePage>.Cursor()
            var index = rng.next(below: 4)
            while index < map.length {
                let got = map.extent(containing: index, cursor: &cursor)
                let expected = map.extent(containing: index)
                #expect(got.range == expected.range && got.value == expected.value, "seed \(seed), index \(index)")
                index += 1 + rng.next(below: rng.next(below: 3) == 0 ? 64 : 3)
            }
            for _ in 0..<300 {
                let index = rng.next(below: map.length)
                let got = map.extent(containing: index, cursor: &cursor)
                let expected = map.extent(containing: index)
                #expect(got.range == expected.range && got.value == expected.value, "seed \(seed), random index \(index)")
            }
        }
    }

    @Test(arguments: [2, 3, 5, 128])
    func forEachSteppingIsForEachOverSortedRanges(chunkCapacity: Int) {
        for seed in Self.seeds {
            var (map, rng) = Self.fragmented(seed: seed, chunkCapacity: chunkCapacity)
            let ranges = ExtentMapSortedRangesTests.sortedRanges(&rng, length: map.length)
            var stepped: [Record] = []
            var searched: [Record] = []
            map.forEachStepping(inSortedRanges: ranges) { stepped.append(Record(range: $0, value: $1)) }
            map.forEach(inSortedRanges: ranges) { searched.append(Record(range: $0, value: $1)) }
            #expect(stepped == searched, "seed \(seed), chunks of \(chunkCapacity)")
        }
    }

    /// Dense ranges (the one-pass path: at least 16, and a quarter of the extents or more) over
    /// fragmented, shifted maps: the values are those of assigning range by range, the extents
    /// are maximal, and the map keeps working (further assigns and counter shifts agree too).
    @Test(arguments: [2, 3, 5, 128])
    func bulkAssignIsAssignOneRangeAtATime(chunkCapacity: Int) {
        for seed in Self.seeds {
            var (bulk, rng) = Self.fragmented(seed: seed, chunkCapacity: chunkCapacity)
            var single = bulk
            let ranges = ExtentMapSortedRangesTests.sortedRanges(&rng, length: bulk.length)
            #expect(ranges.count >= 16 && ranges.count * 4 >= bulk.extentCount, "seed \(seed): the one-pass path runs")
            let value = { (r: Range<UInt64>) in FramePage(mapcount: UInt32(r.lowerBound % 2 + 1), present: true, dirty: true) }
            bulk.assign(sortedRanges: ranges, value)
            for range in ranges { single.assign(range, value(range)) }
            let context: Comment = "seed \(seed), chunks of \(chunkCapacity)"
            #expect(Self.maximal(bulk) == Self.maximal(single), context)
            #expect(ExtentMapSortedRangesTests.extents(bulk) == Self.maximal(bulk), context)
            #expect(bulk.extentCount == Self.maximal(bulk).count, context)
            for _ in 0..<50 {
                let a = rng.next(below: bulk.length)
                let range = a..<min(bulk.length, a + 1 + rng.next(below: 20))
                if rng.next(below: 2) == 0 {
                    let page = FramePage(mapcount: UInt32(1 + rng.next(below: 3)), present: true)
                    bulk.assign(range, page)
                    single.assign(range, page)
                } else {
                    bulk.addCounter(1, in: range) { _, _ in }
                    single.addCounter(1, in: range) { _, _ in }
                }
            }
            #expect(Self.maximal(bulk) == Self.maximal(single), context)
        }
    }
}

extension ExtentMapWalkTests {
    /// `forEachMerging` (one merge of ranges and extents when the ranges are dense, else
    /// `forEachStepping`) against `forEach(inSortedRanges:)`: dense ranges, sparse ones, ranges
    /// past the map's end.
    @Test(arguments: [2, 3, 5, 128])
    func forEachMergingIsForEachOverSortedRanges(chunkCapacity: Int) {
        for seed in Self.seeds {
            var (map, rng) = Self.fragmented(seed: seed, chunkCapacity: chunkCapacity)
            var dense = ExtentMapSortedRangesTests.sortedRanges(&rng, length: map.length)
            let sparse = stride(from: 0, to: dense.count, by: 1 + Int(rng.next(below: 40))).map { dense[$0] }
            if seed % 2 == 0 { dense.append(map.length..<(map.length + 3)) }
            for ranges in [dense, sparse] {
                var merged: [Record] = []
                var searched: [Record] = []
                map.forEachMerging(inSortedRanges: ranges) { merged.append(Record(range: $0, value: $1)) }
                map.forEach(inSortedRanges: ranges) { searched.append(Record(range: $0, value: $1)) }
                #expect(merged == searched, "seed \(seed), chunks of \(chunkCapacity), \(ranges.count) ranges")
            }
        }
    }
}
