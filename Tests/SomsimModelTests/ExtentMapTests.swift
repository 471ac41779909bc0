@testable import SomsimModel
import SomsimWorkload
import Testing

/// The extent map against a plain array of values, over random operation sequences: every value,
/// after every operation, must be what the array says. Small lengths with many operations force
/// chunk splits (more than 128 extents), merges across chunks and lazy counter shifts.
@Suite struct ExtentMapTests {
    /// A reference model: one value per index.
    struct Dense {
        var values: [FramePage]

        mutating func assign(_ range: Range<UInt64>, _ value: FramePage) {
            for i in range { values[Int(i)] = value }
        }

        mutating func add(_ delta: Int32, _ range: Range<UInt64>) -> [UInt64] {
            var zeroed: [UInt64] = []
            for i in range {
                values[Int(i)] = values[Int(i)].shifted(by: delta)
                if values[Int(i)].mapcount == 0 {
                    values[Int(i)].present = false
                    zeroed.append(i)
                }
            }
            return zeroed
        }
    }

    static func check(_ map: ExtentMap<FramePage>, _ dense: Dense) {
        var expected = 0
        map.forEach(in: 0..<map.length) { range, value in
            for i in range {
                #expect(Int(i) == expected)
                #expect(value == dense.values[Int(i)], "index \(i)")
                expected += 1
            }
        }
        #expect(expected == dense.values.count)
        for i in stride(from: 0, to: dense.values.count, by: 7) {
            #expect(map.value(at: UInt64(i)) == dense.values[i])
            let extent = map.extent(containing: UInt64(i))
            #expect(extent.range.contains(UInt64(i)))
            #expect(extent.value == dense.values[i])
        }
    }

    @Test(arguments: [(1, 2), (2, 3), (3, 4), (4, 8), (5, 128), (6, 128)] as [(UInt64, Int)])
    func randomOperationsAgreeWithADenseArray(seed: UInt64, chunkCapacity: Int) {
        var rng = SplitMix64(seed: seed)
        let length: UInt64 = 2000
        let initial = FramePage(mapcount: 1, present: true)
        var map = ExtentMap(length: length, value: initial, chunkCapacity: chunkCapacity)
        var dense = Dense(values: Array(repeating: initial, count: Int(length)))
        for step in 0..<6000 {
            // Mostly short ranges (many extents, full chunks that split), often long ones (whole
            // chunks shifted at once).
            let a = rng.next(below: length)
            let b = min(length, a + 1 + rng.next(below: step % 3 == 0 ? length : 4))
            let range = a..<b
            switch rng.next(below: 4) {
            case 0:
                let page = FramePage(mapcount: UInt32(1 + rng.next(below: 3)), present: true, dirty: rng.next(below: 2) == 0)
                map.assign(range, page)
                dense.assign(range, page)
            case 1:
                // Fork-like: +1 over a range of present pages (what the engine does).
                let present = (a..<b).allSatisfy { dense.values[Int($0)].mapcount > 0 }
                guard present else { continue }
                map.addCounter(1, in: range) { _, _ in Issue.record("+1 cannot reach zero") }
                _ = dense.add(1, range)
            case 2:
                // Unmap-like: -1 over pages that are mapped; zeroed pages are freed.
                let mapped = (a..<b).allSatisfy { dense.values[Int($0)].mapcount > 0 }
                guard mapped else { continue }
                var zeroed: [UInt64] = []
                map.addCounter(-1, in: range) { pages, page in
                    page.present = false
                    zeroed.append(contentsOf: pages)
                }
                #expect(zeroed == dense.add(-1, range))
            default:
                map.modify(range) { _, page in page.dirty.toggle() }
                for i in range { dense.values[Int(i)].dirty.toggle() }
            }
            if step % 100 == 0 { Self.check(map, dense) }
        }
        Self.check(map, dense)
    }

    /// Runs of equal values in `dense`: the extents of a map with no two equal neighbours.
    static func runs(_ dense: Dense) -> Int {
        var runs = dense.values.isEmpty ? 0 : 1
        for i in dense.values.indices.dropFirst() where dense.values[i] != dense.values[i - 1] { runs += 1 }
        return runs
    }

    /// The map's boundaries: where its stored extents start, 0 aside (equal neighbours kept apart
    /// count, which is what the merging policy is about).
    static func boundaries(_ map: ExtentMap<FramePage>) -> Set<UInt64> {
        var starts: Set<UInt64> = []
        map.forEachExtent { start, _, _ in if start > 0 { starts.insert(start) } }
        return starts
    }

    /// What `ExtentMap` promises about its extents after one operation on `range`: a counter
    /// change (`addCounter`) merges nothing and splits only at the range's edges, so the
    /// boundaries are the ones before plus those edges; an assignment leaves no boundary inside
    /// the range and one at each of its edges exactly where the values on either side differ.
    static func expectEdges(_ map: ExtentMap<FramePage>, before: Set<UInt64>, range: Range<UInt64>, assigned: Bool, _ context: Comment) {
        let after = boundaries(map)
        let edges = Set([range.lowerBound, range.upperBound].filter { $0 > 0 && $0 < map.length })
        if !assigned {
            #expect(after == before.union(edges), "\(context): a counter change over \(range)")
            return
        }
        #expect(!after.contains { range.lowerBound < $0 && $0 < range.upperBound }, "\(context): a boundary inside the assigned \(range)")
        for edge in edges {
            let differ = map.value(at: edge - 1) != map.value(at: edge)
            #expect(after.contains(edge) == differ, "\(context): the edge \(edge) of the assigned \(range)")
        }
    }

    /// Counter changes split at the edges of their range and merge nothing, assignments merge at
    /// their edges (`expectEdges`), through every path: the general ones, the one-lookup fast
    /// paths of `place` (a copy-on-write drop inside one extent, an assignment inside one) and
    /// chunk splits. Values are the dense model's after every operation.
    @Test(arguments: [(11, 2), (12, 3), (13, 5), (14, 128), (15, 128), (16, 128)] as [(UInt64, Int)])
    func countersSplitAtTheirEdgesAndAssignmentsMergeThere(seed: UInt64, chunkCapacity: Int) {
        var rng = SplitMix64(seed: seed)
        let length: UInt64 = 3000
        let initial = FramePage(mapcount: 2, present: true)
        var map = ExtentMap(length: length, value: initial, chunkCapacity: chunkCapacity)
        var dense = Dense(values: Array(repeating: initial, count: Int(length)))
        for step in 0..<8000 {
            // Mostly one page (a copy-on-write copy), sometimes a few, now and then a long range.
            let a = rng.next(below: length)
            let b = min(length, a + 1 + rng.next(below: step % 50 == 0 ? length : (step % 3 == 0 ? 4 : 1)))
            let range = a..<b
            let before = Self.boundaries(map)
            let context: Comment = "seed \(seed), chunk capacity \(chunkCapacity), step \(step)"
            switch rng.next(below: 3) {
            case 0:
                let page = FramePage(mapcount: UInt32(1 + rng.next(below: 4)), present: true)
                map.assign(range, page)
                dense.assign(range, page)
                Self.expectEdges(map, before: before, range: range, assigned: true, context)
            case 1:
                map.addCounter(1, in: range) { _, _ in Issue.record("seed \(seed): +1 cannot reach zero") }
                _ = dense.add(1, range)
                Self.expectEdges(map, before: before, range: range, assigned: false, context)
            default:
                guard (a..<b).allSatisfy({ dense.values[Int($0)].mapcount > 1 }) else { continue }
                map.addCounter(-1, inSortedRanges: [range]) { _, _ in Issue.record("seed \(seed): no counter here reaches zero") }
                _ = dense.add(-1, range)
                Self.expectEdges(map, before: before, range: range, assigned: false, context)
            }
            if step % 100 == 0 { Self.check(map, dense) }
        }
        Self.check(map, dense)
    }

    @Test func aWholeRunShiftIsPerChunkNotPerExtent() {
        // 1000 single-page extents with different mapcounts, then +1 over everything.
        var map = ExtentMap(length: 1000, value: FramePage(mapcount: 1, present: true))
        for i in stride(from: 0, to: 1000, by: 2) {
            map.assign(UInt64(i)..<UInt64(i + 1), FramePage(mapcount: 2, present: true))
        }
        let extents = map.extentCount
        map.addCounter(1, in: 0..<1000) { _, _ in }
        #expect(map.extentCount == extents)
        #expect(map.value(at: 0).mapcount == 3)
        #expect(map.value(at: 1).mapcount == 2)
        #expect(map.value(at: 999).mapcount == 2)
    }
}

extension ExtentMapTests {
    @Test(arguments: [2, 3, 128])
    func bulkAssignAgreesWithAssigningOneRangeAtATime(chunkCapacity: Int) {
        var rng = SplitMix64(seed: UInt64(chunkCapacity))
        for round in 0..<40 {
            let length: UInt64 = 500
            var bulk = ExtentMap(length: length, value: FramePage(mapcount: 1, present: true), chunkCapacity: chunkCapacity)
            for _ in 0..<(round * 3) {
                let a = rng.next(below: length)
                bulk.assign(a..<min(length, a + 1 + rng.next(below: 5)), FramePage(mapcount: UInt32(1 + rng.next(below: 2)), present: true))
            }
            if round % 2 == 0 { bulk.addCounter(1, in: 0..<length) { _, _ in } }
            var single = bulk
            var ranges: [Range<UInt64>] = []
            var position = rng.next(below: 4)
            while position < length {
                let end = min(length, position + 1 + rng.next(below: 3))
                ranges.append(position..<end)
                position = end + rng.next(below: 6)
            }
            let value = { (r: Range<UInt64>) in FramePage(mapcount: UInt32(r.lowerBound % 3 + 1), present: true, dirty: true) }
            bulk.assign(sortedRanges: ranges, value)
            for range in ranges { single.assign(range, value(range)) }
            for i in 0..<length {
                #expect(bulk.value(at: i) == single.value(at: i), "index \(i), round \(round)")
            }
        }
    }
}
