@testable import SomsimModel
import SomsimWorkload
import Testing

/// The extent map's operations over many ascending ranges (which search forward from the range
/// before) against the same operation applied one range at a time: on fixed seeds, the extents
/// (boundaries included, not only values), the extent count and what the callbacks see must be
/// identical. Tiny chunks make the forward search cross chunks, chunks split under it and merges
/// remove chunks before it.
@Suite struct ExtentMapSortedRangesTests {
    /// A fragmented map: random assigns of a few mapcounts, some chunk shifts (fork-like +1 over
    /// everything, or over part), some -1.
    static func fragmentedMap(_ rng: inout SplitMix64, length: UInt64, chunkCapacity: Int, edits: Int) -> ExtentMap<FramePage> {
        var map = ExtentMap(length: length, value: FramePage(mapcount: 1, present: true), chunkCapacity: chunkCapacity)
        for step in 0..<edits {
            let a = rng.next(below: length)
            let range = a..<min(length, a + 1 + rng.next(below: step % 5 == 0 ? length / 4 : 4))
            switch rng.next(below: 5) {
            case 0, 1:
                map.assign(range, FramePage(mapcount: UInt32(1 + rng.next(below: 4)), present: true, dirty: rng.next(below: 2) == 0))
            case 2:
                map.addCounter(1, in: range) { _, _ in }
            case 3:
                map.addCounter(-1, in: range) { _, page in page.present = false }
            default:
                if rng.next(below: 4) == 0 { map.addCounter(1, in: 0..<length) { _, _ in } }
            }
        }
        return map
    }

    /// Ascending, disjoint ranges: mostly single pages (random touches), some longer ones that
    /// span several extents, some adjacent.
    static func sortedRanges(_ rng: inout SplitMix64, length: UInt64) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        var position = rng.next(below: 8)
        let gap = 1 + rng.next(below: 40)
        while position < length {
            let end = min(length, position + 1 + (rng.next(below: 6) == 0 ? rng.next(below: 12) : 0))
            ranges.append(position..<end)
            position = end + rng.next(below: gap)
        }
        return ranges
    }

    static func extents(_ map: ExtentMap<FramePage>) -> [ExtentRecord] {
        var result: [ExtentRecord] = []
        map.forEach(in: 0..<map.length) { result.append(ExtentRecord(range: $0, value: $1)) }
        return result
    }

    struct ExtentRecord: Equatable {
        let range: Range<UInt64>
        let value: FramePage
    }

    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8, 42, 4242]

    @Test(arguments: [2, 3, 5, 128])
    func addCounterOverSortedRangesIsAddCounterOverEachRange(chunkCapacity: Int) {
        for seed in Self.seeds {
            var rng = SplitMix64(seed: seed &* 1_000 &+ UInt64(chunkCapacity))
            let length: UInt64 = 300 + rng.next(below: 1200)
            let original = Self.fragmentedMap(&rng, length: length, chunkCapacity: chunkCapacity, edits: Int(rng.next(below: 600)))
            for round in 0..<4 {
                let ranges = Self.sortedRanges(&rng, length: length)
                // -1 mostly (the copy-on-write path; some counters reach zero, which takes the
                // general path), sometimes +1.
                let delta: Int32 = round == 3 ? 1 : -1
                var fused = original
                var single = original
                var fusedZeroed: [ExtentRecord] = []
                var singleZeroed: [ExtentRecord] = []
                fused.addCounter(delta, inSortedRanges: ranges) { range, page in
                    fusedZeroed.append(ExtentRecord(range: range, value: page))
                    page.present = false
                }
                for range in ranges {
                    single.addCounter(delta, in: range) { range, page in
                        singleZeroed.append(ExtentRecord(range: range, value: page))
                        page.present = false
                    }
                }
                #expect(Self.extents(fused) == Self.extents(single), "seed \(seed), chunk capacity \(chunkCapacity), round \(round)")
                #expect(fused.extentCount == single.extentCount, "seed \(seed), chunk capacity \(chunkCapacity), round \(round)")
                #expect(fusedZeroed == singleZeroed, "seed \(seed), chunk capacity \(chunkCapacity), round \(round)")
                // Later operations (which search with hints too) must agree on the result.
                let more = Self.sortedRanges(&rng, length: length)
                fused.addCounter(-1, inSortedRanges: more) { _, page in page.present = false }
                for range in more { single.addCounter(-1, in: range) { _, page in page.present = false } }
                #expect(Self.extents(fused) == Self.extents(single), "seed \(seed), chunk capacity \(chunkCapacity), round \(round), second pass")
            }
        }
    }

    /// The extents `forEach(inSortedRanges:)` gives for `ranges` (clipped), and where it found each.
    static func recorded(_ map: ExtentMap<FramePage>, _ ranges: [Range<UInt64>]) -> ([Range<UInt64>], [ExtentMap<FramePage>.Position]) {
        var extents: [Range<UInt64>] = []
        var positions: [ExtentMap<FramePage>.Position] = []
        map.forEach(inSortedRanges: ranges) { range, _, position in
            extents.append(range)
            positions.append(position)
        }
        return (extents, positions)
    }

    /// Drops the counters of `ranges` in `map` by one with `guesses` as positions and range by
    /// range, expecting the same extents, extent count and `onZero` calls; returns the former.
    @discardableResult
    static func expectDropAtPositions(_ map: ExtentMap<FramePage>, _ ranges: [Range<UInt64>], at guesses: [ExtentMap<FramePage>.Position], _ context: String) -> ExtentMap<FramePage> {
        var single = map
        var singleZeroed: [ExtentRecord] = []
        for range in ranges {
            single.addCounter(-1, in: range) { range, page in
                singleZeroed.append(ExtentRecord(range: range, value: page))
                page.present = false
            }
        }
        var fused = map
        var fusedZeroed: [ExtentRecord] = []
        fused.addCounter(-1, inSortedRanges: ranges, at: guesses) { range, page in
            fusedZeroed.append(ExtentRecord(range: range, value: page))
            page.present = false
        }
        #expect(extents(fused) == extents(single), "\(context)")
        #expect(fused.extentCount == single.extentCount, "\(context)")
        #expect(fusedZeroed == singleZeroed, "\(context)")
        return fused
    }

    /// As the bulk copy-on-write path uses it: read the extents of ascending ranges (recording
    /// where each was found), then add -1 over the clipped extents with those positions as
    /// guesses. Positions recorded on another map (wrong ones) must give the same result too.
    @Test(arguments: [2, 3, 5, 128])
    func addCounterAtRecordedPositionsIsAddCounterOverEachRange(chunkCapacity: Int) {
        for seed in Self.seeds {
            var rng = SplitMix64(seed: seed &* 104_729 &+ UInt64(chunkCapacity))
            let length: UInt64 = 300 + rng.next(below: 1200)
            let original = Self.fragmentedMap(&rng, length: length, chunkCapacity: chunkCapacity, edits: Int(rng.next(below: 600)))
            let other = Self.fragmentedMap(&rng, length: length, chunkCapacity: chunkCapacity, edits: Int(rng.next(below: 600)))
            for round in 0..<4 {
                let touched = Self.sortedRanges(&rng, length: length)
                let (extents, positions) = Self.recorded(original, touched)
                var wrong: [ExtentMap<FramePage>.Position] = []
                other.forEach(inSortedRanges: touched) { _, _, position in wrong.append(position) }
                wrong = Array(wrong.prefix(extents.count))
                while wrong.count < extents.count { wrong.append(positions[wrong.count]) }
                for (name, guesses) in [("recorded", positions), ("wrong", wrong), ("reversed", Array(positions.reversed()))] {
                    Self.expectDropAtPositions(original, extents, at: guesses, "seed \(seed), chunk capacity \(chunkCapacity), round \(round), \(name) positions")
                }
            }
        }
    }

    /// Chunks of one-page extents (a run split page by page, as a fleet's copy-on-write splits
    /// its master's), where a decrement at recorded positions changes the stored values in
    /// place: the same extents and the same `onZero` calls as range by range, under chunk and
    /// map shifts, with counters that reach zero, ranges of several pages, and positions gone
    /// stale (taken before the ranges of an earlier round split or shifted the map).
    @Test(arguments: [2, 3, 5, 128])
    func addCounterAtPositionsInChunksOfOnePageExtents(chunkCapacity: Int) {
        for seed in Self.seeds {
            var rng = SplitMix64(seed: seed &* 15_485_863 &+ UInt64(chunkCapacity))
            let length: UInt64 = 200 + rng.next(below: 600)
            var map = ExtentMap(length: length, value: FramePage(mapcount: 1, present: true), chunkCapacity: chunkCapacity)
            // Neighbours differ, so every page is an extent of its own.
            for page in 0..<length {
                map.assign(page..<page + 1, FramePage(mapcount: UInt32(1 + (page + seed) % 3), present: true))
            }
            #expect(map.extentCount == Int(length), "seed \(seed), chunk capacity \(chunkCapacity): one extent a page")
            var stale: [ExtentMap<FramePage>.Position] = []
            for round in 0..<6 {
                // Shifts: a whole-map raise (the map's shift), a raise over part (chunks' shifts).
                switch round % 3 {
                case 1: map.addCounter(1, in: 0..<length) { _, _ in }
                case 2:
                    let a = rng.next(below: length)
                    map.addCounter(1, in: a..<min(length, a + 1 + rng.next(below: length / 2))) { _, _ in }
                default: break
                }
                let touched = Self.sortedRanges(&rng, length: length)
                let (extents, positions) = Self.recorded(map, touched)
                // Where each touched range's first page was found.
                var starts: [ExtentMap<FramePage>.Position] = []
                for (range, position) in zip(extents, positions) where starts.count < touched.count && range.lowerBound == touched[starts.count].lowerBound {
                    starts.append(position)
                }
                #expect(starts.count == touched.count)
                let stalePositions = Array((stale + positions).prefix(extents.count))
                // Clipped extents (as the bulk path passes them) and whole ranges of several
                // pages (positions of their starts).
                for (name, ranges, guesses) in [
                    ("recorded", extents, positions), ("stale", extents, stalePositions),
                    ("whole ranges", touched, starts),
                ] {
                    let fused = Self.expectDropAtPositions(map, ranges, at: guesses, "seed \(seed), chunk capacity \(chunkCapacity), round \(round), \(name)")
                    if name == "recorded" { map = fused }
                }
                stale = positions
            }
        }
    }

    @Test(arguments: [2, 3, 5, 128])
    func forEachOverSortedRangesIsForEachOverEachRange(chunkCapacity: Int) {
        for seed in Self.seeds {
            var rng = SplitMix64(seed: seed &* 7_919 &+ UInt64(chunkCapacity))
            let length: UInt64 = 300 + rng.next(below: 1200)
            let map = Self.fragmentedMap(&rng, length: length, chunkCapacity: chunkCapacity, edits: Int(rng.next(below: 600)))
            var ranges = Self.sortedRanges(&rng, length: length)
            // A range past the end and an empty one are skipped as `forEach(in:)` skips them.
            ranges.append(length..<length + 3)
            var fused: [ExtentRecord] = []
            var single: [ExtentRecord] = []
            map.forEach(inSortedRanges: ranges) { fused.append(ExtentRecord(range: $0, value: $1)) }
            for range in ranges { map.forEach(in: range) { single.append(ExtentRecord(range: $0, value: $1)) } }
            #expect(fused == single, "seed \(seed), chunk capacity \(chunkCapacity)")
            #expect(!fused.isEmpty, "seed \(seed), chunk capacity \(chunkCapacity)")
        }
    }
}
