@testable import SomsimModel
import SomsimWorkload
import Testing

/// `PageMap` (a mapping's page states, its own run's stored under a placeholder) against a plain
/// `ExtentMap<PageState>` given the same operations: every reader sees the same extents and
/// values, whatever run the map adopted, on fixed seeds that a failure prints.
@Suite struct PageMapTests {
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8, 42, 4242]

    static func layout(_ map: PageMap) -> [(Range<UInt64>, PageState)] {
        var out: [(Range<UInt64>, PageState)] = []
        map.forEach(in: 0..<map.length) { out.append(($0, $1)) }
        return out
    }

    static func layout(_ map: ExtentMap<PageState>) -> [(Range<UInt64>, PageState)] {
        var out: [(Range<UInt64>, PageState)] = []
        map.forEach(in: 0..<map.length) { out.append(($0, $1)) }
        return out
    }

    static func same(_ a: [(Range<UInt64>, PageState)], _ b: [(Range<UInt64>, PageState)]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// Runs 0–3; the map adopts run 2 (`own`), so states of run 2 are the ones stored apart.
    static func state(_ rng: inout SplitMix64) -> PageState {
        switch rng.next(below: 5) {
        case 0: return .none
        case 1: return .zero
        case 2: return .cache(writable: rng.next(below: 2) == 0, dirty: false)
        default: return .anon(run: GroupID(index: Int32(rng.next(below: 4))), writable: rng.next(below: 2) == 0)
        }
    }

    @Test(arguments: [4, 128])
    func everyReaderSeesThePlainMap(chunkCapacity: Int) {
        let own = GroupID(index: 2)
        var storedApart = 0
        for seed in Self.seeds {
            var rng = SplitMix64(seed: seed &* 977 &+ UInt64(chunkCapacity))
            let length: UInt64 = 30 + rng.next(below: 3_000)
            let first = PageState.anon(run: GroupID(index: 0), writable: false)
            var map = PageMap(length: length, value: first, chunkCapacity: chunkCapacity)
            var plain = ExtentMap(length: length, value: first, chunkCapacity: chunkCapacity)
            let adopted = map.adopt(ownRun: own), again = map.adopt(ownRun: GroupID(index: 3))
            #expect(adopted, "seed \(seed): a map of one extent adopts a run")
            #expect(!again, "seed \(seed): only once")
            for step in 0..<300 {
                let a = rng.next(below: length)
                let range = a..<min(length, a + 1 + rng.next(below: 40))
                let context: Comment = "seed \(seed), chunks of \(chunkCapacity), step \(step)"
                switch rng.next(below: 6) {
                case 0, 1:
                    let value = Self.state(&rng)
                    map.assign(range, value)
                    plain.assign(range, value)
                case 2:
                    var ranges: [Range<UInt64>] = []
                    var p = rng.next(below: 20)
                    while p < length && ranges.count < 40 {
                        ranges.append(p..<min(length, p + 1 + rng.next(below: 3)))
                        p = ranges.last!.upperBound + 1 + rng.next(below: 60)
                    }
                    let value = Self.state(&rng)
                    map.assign(sortedRanges: ranges, to: value)
                    plain.assign(sortedRanges: ranges) { _ in value }
                case 3:
                    // Write-protect own pages, as fork does, and make others the own run's.
                    let transform: (Range<UInt64>, inout PageState) -> Void = { _, state in
                        switch state {
                        case .anon(let run, true): state = .anon(run: run, writable: false)
                        case .zero: state = .anon(run: own, writable: true)
                        default: break
                        }
                    }
                    map.modify(range, transform)
                    plain.modify(range, transform)
                case 4:
                    let index = rng.next(below: length)
                    #expect(map.value(at: index) == plain.value(at: index), context)
                    let extent = map.extent(containing: index), plainExtent = plain.extent(containing: index)
                    #expect(extent.range == plainExtent.range && extent.value == plainExtent.value, context)
                    let reads = map.extents(in: range).map { ($0.range, $0.value) }, plainReads = plain.extents(in: range).map { ($0.range, $0.value) }
                    let readsAgree = Self.same(reads, plainReads)
                    #expect(readsAgree, context)
                    var sequence: [(Range<UInt64>, PageState)] = [], plainSequence: [(Range<UInt64>, PageState)] = []
                    for (r, v) in map.sequence(in: range) { sequence.append((r, v)) }
                    for (r, v) in plain.sequence(in: range) { plainSequence.append((r, v)) }
                    let sequencesAgree = Self.same(sequence, plainSequence)
                    #expect(sequencesAgree, context)
                default:
                    let cut = max(1, length - rng.next(below: 10))
                    #expect(Self.same(Self.layout(map.truncated(to: cut)), Self.layout(plain.truncated(to: cut))), context)
                }
                #expect(Self.same(Self.layout(map), Self.layout(plain)), context)
                #expect(map.extentCount == plain.extentCount, context)
                for (_, state) in Self.layout(map) { if case .anon(own, _) = state { storedApart += 1 } }
            }
            // The own run's pages are stored under the placeholder, none under the run itself.
            var explicit = 0
            map.stored.forEach(in: 0..<length) { _, state in if case .anon(own, _) = state { explicit += 1 } }
            #expect(explicit == 0, "seed \(seed): \(explicit) extents store the own run by its id")
        }
        #expect(storedApart >= 1_000, "not vacuous: \(storedApart) extents of the own run seen")
    }

    /// A map of more than one extent, or one whose state is the run's own, adopts nothing.
    @Test func onlyAFreshMapAdopts() {
        var split = PageMap(length: 10, value: .none)
        split.assign(2..<3, .zero)
        let splitAdopted = split.adopt(ownRun: GroupID(index: 1))
        #expect(!splitAdopted)
        var mine = PageMap(length: 10, value: .anon(run: GroupID(index: 1), writable: true))
        let ownAdopted = mine.adopt(ownRun: GroupID(index: 1)), otherAdopted = mine.adopt(ownRun: GroupID(index: 2))
        #expect(!ownAdopted)
        #expect(otherAdopted)
        #expect(mine.value(at: 4) == .anon(run: GroupID(index: 1), writable: true))
    }
}
