@testable import SomsimModel
import SomsimWorkload
import Testing

/// `AddressLayout` (the treap with the widest gap per subtree) must answer exactly what the sorted
/// array and the linear top-down walk it replaced answered: seeded random sequences of placements,
/// inserts, removes and queries are run against both and every answer compared.
@Suite struct AddressLayoutTests {
    /// The old layout: a sorted array, the top-down walk over every gap, binary searches.
    struct LinearLayout {
        let low: UInt64
        let high: UInt64
        var layout: [(start: UInt64, end: UInt64, name: String)] = []

        func placement(length: UInt64, alignment: UInt64) -> UInt64? {
            var ceiling = high
            for range in layout.reversed() {
                if let address = Self.fit(length, alignment, below: ceiling, above: range.end) { return address }
                ceiling = range.start
            }
            return Self.fit(length, alignment, below: ceiling, above: low)
        }

        static func fit(_ length: UInt64, _ alignment: UInt64, below ceiling: UInt64, above floor: UInt64) -> UInt64? {
            guard ceiling >= floor, ceiling - floor >= length else { return nil }
            let address = (ceiling - length) / alignment * alignment
            return address >= floor ? address : nil
        }

        mutating func insert(start: UInt64, end: UInt64, name: String) {
            let index = firstIndex { $0.start > start }
            layout.insert((start, end, name), at: index)
        }

        func firstIndex(where above: ((start: UInt64, end: UInt64, name: String)) -> Bool) -> Int {
            var low = 0
            var high = layout.count
            while low < high {
                let mid = (low + high) / 2
                if above(layout[mid]) { high = mid } else { low = mid + 1 }
            }
            return low
        }

        func names(meeting addresses: Range<UInt64>) -> [String] {
            var names: [String] = []
            var i = firstIndex { $0.end > addresses.lowerBound }
            while i < layout.count, layout[i].start < addresses.upperBound {
                names.append(layout[i].name)
                i += 1
            }
            return names
        }

        mutating func remove(start: UInt64) -> (floor: UInt64?, ceiling: UInt64?) {
            let index = firstIndex { $0.start >= start }
            guard index < layout.count, layout[index].start == start else { return (nil, nil) }
            layout.remove(at: index)
            let floor = index > 0 ? layout[index - 1].end : nil
            let ceiling = index < layout.count ? layout[index].start : nil
            return (floor, ceiling)
        }
    }

    static func names(meeting addresses: Range<UInt64>, in layout: AddressLayout, pathRoom: Int = 64) -> [String] {
        var names: [String] = []
        layout.forEach(from: layout.firstIndex { $0.end > addresses.lowerBound }, pathRoom: pathRoom) { range in
            guard range.start < addresses.upperBound else { return false }
            names.append(range.name)
            return true
        }
        return names
    }

    static func same(_ a: [(start: UInt64, end: UInt64, name: String)], _ b: [(start: UInt64, end: UInt64, name: String)]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.start == $1.start && $0.end == $1.end && $0.name == $1.name }
    }

    /// What one seeded run did, to show the runs reach the cases that matter.
    struct Tally {
        var placed = 0
        var refused = 0
        var removed = 0
        var largest = 0
    }

    /// Replays `steps` random operations on both layouts; returns a description of the first
    /// difference (naming the seed and the step), or nil.
    ///
    /// With `overlapping`, inserts also go at random addresses that may overlap other ranges or
    /// start where another starts: placement and remove must still agree with the walk, which
    /// takes the previous range's end as a gap's floor whatever it is. Queries whose predicate is
    /// not monotone on overlapping ranges (by end) are then left out.
    static func run(seed: UInt64, steps: Int, overlapping: Bool, tally: inout Tally) -> String? {
        var rng = SplitMix64(seed: seed)
        let page: UInt64 = 4096
        let low: UInt64 = 0x4000_0000
        let high: UInt64 = low + (UInt64(1) << (20 + rng.next(below: 8)))  // 1 MiB to 128 MiB
        var tree = AddressLayout(low: low, high: high)
        var linear = LinearLayout(low: low, high: high)
        var created = 0
        func fail(_ step: Int, _ what: String) -> String { "seed \(seed) step \(step): \(what)" }
        for step in 0..<steps {
            let window = high - low
            switch rng.next(below: 10) {
            case 0..<5:
                // mmap-like: place, and insert where placed.
                let pages = rng.next(below: 4) == 0 ? 1 + rng.next(below: max(1, window / page / 4)) : 1 + rng.next(below: 32)
                let length = pages * page
                let alignment = [page, page, 4 * page, 16 * page, 512 * page, 3 * page][Int(rng.next(below: 6))]
                let expected = linear.placement(length: length, alignment: alignment)
                let got = tree.placement(length: length, alignment: alignment)
                guard got == expected else {
                    return fail(step, "placement(\(length), \(alignment)) is \(String(describing: got)), the walk gives \(String(describing: expected))")
                }
                if let address = got {
                    created += 1
                    linear.insert(start: address, end: address + length, name: "m\(created)")
                    tree.insert(start: address, end: address + length, name: "m\(created)")
                    tally.placed += 1
                } else {
                    tally.refused += 1
                }
            case 5 where overlapping:
                let start = low + rng.next(below: window / page) * page
                let end = start + (1 + rng.next(below: 16)) * page
                created += 1
                linear.insert(start: start, end: end, name: "m\(created)")
                tree.insert(start: start, end: end, name: "m\(created)")
            case 5..<9:
                // munmap-like: a range that exists, or any address.
                let start: UInt64
                if !linear.layout.isEmpty, rng.next(below: 5) != 0 {
                    start = linear.layout[Int(rng.next(below: UInt64(linear.layout.count)))].start
                } else {
                    start = low + rng.next(below: window / page) * page
                }
                let expected = linear.remove(start: start)
                let got = tree.remove(start: start)
                guard got.floor == expected.floor, got.ceiling == expected.ceiling else {
                    return fail(step, "remove(\(start)) gives \(got), the array \(expected)")
                }
                if expected.floor != nil || expected.ceiling != nil { tally.removed += 1 }
            default:
                // Queries.
                let address = low + rng.next(below: window + 1)
                let byStart = tree.firstIndex { $0.start > address }
                guard byStart == linear.firstIndex(where: { $0.start > address }) else { return fail(step, "firstIndex(start > \(address))") }
                let atOrAbove = tree.firstIndex { $0.start >= address }
                guard atOrAbove == linear.firstIndex(where: { $0.start >= address }) else { return fail(step, "firstIndex(start >= \(address))") }
                if !overlapping {
                    let byEnd = tree.firstIndex { $0.end > address }
                    guard byEnd == linear.firstIndex(where: { $0.end > address }) else { return fail(step, "firstIndex(end > \(address))") }
                    let upper = address + rng.next(below: window / 4 + 1)
                    let expected = linear.names(meeting: address..<upper)
                    guard names(meeting: address..<upper, in: tree) == expected else {
                        return fail(step, "names meeting \(address)..<\(upper)")
                    }
                    // The walk's path held in an array past a room of one, two or three nodes.
                    for room in 1...3 where names(meeting: address..<upper, in: tree, pathRoom: room) != expected {
                        return fail(step, "names meeting \(address)..<\(upper), a path's room of \(room)")
                    }
                }
                if !linear.layout.isEmpty {
                    let i = Int(rng.next(below: UInt64(linear.layout.count)))
                    guard same([tree[i]], [linear.layout[i]]) else { return fail(step, "range \(i)") }
                }
            }
            guard tree.count == linear.layout.count, same(tree.entries, linear.layout) else {
                return fail(step, "the ranges differ: \(tree.entries.count) against \(linear.layout.count)")
            }
            tally.largest = max(tally.largest, tree.count)
        }
        return nil
    }

    @Test(arguments: 0..<40)
    func placementAndQueriesMatchTheLinearWalk(seed: UInt64) {
        var tally = Tally()
        let difference = Self.run(seed: 1000 + seed, steps: 1500, overlapping: false, tally: &tally)
        #expect(difference == nil, "\(difference ?? "")")
        // Each run places, refuses for want of room, and removes.
        #expect(tally.placed > 100 && tally.refused > 0 && tally.removed > 50, "seed \(1000 + seed): \(tally)")
    }

    @Test(arguments: 0..<10)
    func overlappingRangesStillMatch(seed: UInt64) {
        var tally = Tally()
        let difference = Self.run(seed: 5000 + seed, steps: 1500, overlapping: true, tally: &tally)
        #expect(difference == nil, "\(difference ?? "")")
    }

    /// A misaligned gap wide enough for the length but not for length and alignment must be
    /// passed over for a lower one, as the walk does.
    @Test func aGapTooNarrowOnceAlignedIsSkipped() {
        let page: UInt64 = 4096
        let low: UInt64 = 0x4000_0000
        var layout = AddressLayout(low: low, high: low + 64 * page)
        layout.insert(start: low + 61 * page, end: low + 64 * page, name: "top")
        layout.insert(start: low + 40 * page, end: low + 57 * page, name: "mid")
        // Gap [57, 61): 4 pages, but no 4-page-aligned 4-page range in it; gap [0, 40) has one.
        #expect(layout.placement(length: 4 * page, alignment: 4 * page) == low + 36 * page)
        #expect(layout.placement(length: 4 * page, alignment: page) == low + 57 * page)
        #expect(layout.placement(length: 41 * page, alignment: page) == nil)
    }

    /// Copies are values: a forked process's layout changes apart from its parent's.
    @Test func copiesAreIndependent() {
        var parent = AddressLayout(low: 0x1000, high: 0x100_0000)
        parent.insert(start: 0x10_0000, end: 0x20_0000, name: "a")
        var child = parent
        child.insert(start: 0x30_0000, end: 0x40_0000, name: "b")
        _ = parent.remove(start: 0x10_0000)
        #expect(parent.entries.map(\.name) == [])
        #expect(child.entries.map(\.name) == ["a", "b"])
    }
}
