import Foundation
@testable import SomsimModel
import SomsimWorkload
import Testing

/// The fast paths of a forked worker's statements (issue 12: 10,000 forks) against the general
/// paths they stand in for, on fixed seeds that a failure prints.
@Suite struct ForkWorkerPathTests {
    typealias Record = ExtentMapSortedRangesTests.ExtentRecord
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8, 42, 4242]

    /// Ascending, disjoint ranges, `count` of them in `0..<length`: single pages mostly, some
    /// longer, some adjacent, some empty, the first at 0 and the last reaching the end (or past
    /// it) on some seeds.
    static func fewRanges(_ rng: inout SplitMix64, count: Int, length: UInt64) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        let gap = max(1, length / UInt64(count + 1))
        var position = rng.next(below: 3) == 0 ? 0 : rng.next(below: gap)
        while ranges.count < count && position < length {
            let size: UInt64 = rng.next(below: 10) == 0 ? 0 : (rng.next(below: 5) == 0 ? 1 + rng.next(below: 6) : 1)
            var end = min(length, position + size)
            if ranges.count == count - 1 && rng.next(below: 3) == 0 { end = length + rng.next(below: 3) }
            ranges.append(position..<end)
            position = end + (rng.next(below: 4) == 0 ? 0 : rng.next(below: 2 * gap))
        }
        return ranges
    }

    /// A map's extents as stored (equal neighbours apart) and how they are cut into chunks.
    static func storedLayout(_ map: ExtentMap<FramePage>) -> ([ExtentMapSortedRangesTests.ExtentRecord], Int, Int) {
        (ExtentMapSortedRangesTests.extents(map), map.extentCount, map.chunkCount)
    }

    /// `assign(sortedRanges:)` over a map of one extent (a worker's fresh mapping or run; the
    /// one-extent path) leaves what assigning one range at a time leaves: the same extents,
    /// boundaries included, every one maximal; and the map keeps working (further assigns and
    /// counter shifts agree too). Chunk capacities from 8 (the path needs 16 ranges, at most
    /// twice the capacity) up to the default, a shifted chunk, values equal to the old one
    /// and adjacent ranges with equal values.
    @Test(arguments: [8, 9, 16, 31, 128])
    func oneExtentAssignIsAssignOneRangeAtATime(chunkCapacity: Int) {
        for seed in Self.seeds {
            for round in 0..<6 {
                var rng = SplitMix64(seed: seed &* 100 &+ UInt64(round) &+ UInt64(chunkCapacity) << 32)
                let length: UInt64 = 40 + rng.next(below: round < 3 ? 400 : 40_000)
                var bulk = ExtentMap(length: length, value: FramePage(mapcount: 2, present: true), chunkCapacity: chunkCapacity)
                if round % 2 == 1 { bulk.addCounter(1, in: 0..<length) { _, _ in } }
                let count = 16 + Int(rng.next(below: UInt64(2 * chunkCapacity - 15)))
                let ranges = Self.fewRanges(&rng, count: count, length: length)
                let context: Comment = "seed \(seed), round \(round), chunks of \(chunkCapacity), \(ranges.count) ranges"
                guard ranges.count >= 16 else { continue }
                var single = bulk
                // Some ranges get the old value back (mapcount 2, or 3 under the shift), so that
                // they merge with the extents around them.
                let value = { (r: Range<UInt64>) in
                    FramePage(mapcount: UInt32(r.lowerBound % 3 + 1), present: true, dirty: r.lowerBound % 5 == 0)
                }
                bulk.assign(sortedRanges: ranges, value)
                for range in ranges { single.assign(range, value(range)) }
                let maximal = ExtentMapWalkTests.maximal(single)
                #expect(ExtentMapSortedRangesTests.extents(bulk) == maximal, context)
                #expect(ExtentMapSortedRangesTests.extents(single) == maximal, context)
                #expect(bulk.extentCount == maximal.count, context)
                for _ in 0..<60 {
                    let a = rng.next(below: length)
                    let range = a..<min(length, a + 1 + rng.next(below: 20))
                    switch rng.next(below: 3) {
                    case 0:
                        let page = FramePage(mapcount: UInt32(1 + rng.next(below: 3)), present: true)
                        bulk.assign(range, page)
                        single.assign(range, page)
                    case 1:
                        bulk.addCounter(1, in: range) { _, _ in }
                        single.addCounter(1, in: range) { _, _ in }
                    default:
                        bulk.addCounter(-1, in: range) { _, page in page.present = false }
                        single.addCounter(-1, in: range) { _, page in page.present = false }
                    }
                }
                #expect(ExtentMapWalkTests.maximal(bulk) == ExtentMapWalkTests.maximal(single), context)
                for i in stride(from: 0, to: length, by: max(1, Int(length / 500))) {
                    #expect(bulk.value(at: i) == single.value(at: i), "\(context), index \(i)")
                }
            }
        }
    }

    /// Copy-on-write drops of one-page extents (`place`'s whole-extent path) against a dense
    /// model, a value per index: a map of one-page extents with a few mapcounts (as a fleet's
    /// run becomes), then single-page and short drops and raises, fork-like +1 over the whole
    /// map (chunk shifts) and assigns. The values must be the dense model's, and each operation
    /// must split and merge as `ExtentMapTests.expectEdges` says (a drop that makes a page equal
    /// to a neighbour leaves the two apart; an assignment merges at its edges).
    @Test(arguments: [2, 3, 8, 128])
    func copyOnWriteDropsAreTheDenseModel(chunkCapacity: Int) {
        for seed in Self.seeds {
            var rng = SplitMix64(seed: seed &+ UInt64(chunkCapacity) << 40)
            let length: UInt64 = 100 + rng.next(below: 900)
            var dense = (0..<length).map { _ in FramePage(mapcount: UInt32(2 + rng.next(below: 3)), present: true) }
            var map = ExtentMap(length: length, value: FramePage(mapcount: 2, present: true), chunkCapacity: chunkCapacity)
            for i in 0..<length { map.assign(i..<(i + 1), dense[Int(i)]) }
            let context: Comment = "seed \(seed), chunks of \(chunkCapacity)"
            func check(_ step: Int) {
                for i in 0..<length where map.value(at: i) != dense[Int(i)] {
                    Issue.record("\(context), step \(step): index \(i) holds \(map.value(at: i)), not \(dense[Int(i)])")
                    return
                }
            }
            check(0)
            for step in 1...400 {
                let a = rng.next(below: length)
                let range = a..<min(length, a + (rng.next(below: 4) == 0 ? 1 + rng.next(below: 5) : 1))
                let before = ExtentMapTests.boundaries(map)
                let stepContext: Comment = "\(context), step \(step)"
                switch rng.next(below: 10) {
                case 0:
                    map.addCounter(1, in: 0..<length) { _, _ in }
                    for i in dense.indices { dense[i] = dense[i].shifted(by: 1) }
                    ExtentMapTests.expectEdges(map, before: before, range: 0..<length, assigned: false, stepContext)
                case 1, 2:
                    map.addCounter(1, in: range) { _, _ in }
                    for i in range { dense[Int(i)] = dense[Int(i)].shifted(by: 1) }
                    ExtentMapTests.expectEdges(map, before: before, range: range, assigned: false, stepContext)
                case 3:
                    let page = FramePage(mapcount: UInt32(2 + rng.next(below: 3)), present: true)
                    map.assign(range, page)
                    for i in range { dense[Int(i)] = page }
                    ExtentMapTests.expectEdges(map, before: before, range: range, assigned: true, stepContext)
                default:
                    // Drops that reach zero take the general path; these mostly do not.
                    guard (range.lowerBound..<range.upperBound).allSatisfy({ dense[Int($0)].mapcount > 1 }) else { continue }
                    var ranges = [range]
                    if rng.next(below: 2) == 0, range.upperBound + 2 < length, dense[Int(range.upperBound) + 1].mapcount > 1 {
                        ranges.append((range.upperBound + 1)..<(range.upperBound + 2))
                    }
                    map.addCounter(-1, inSortedRanges: ranges) { _, page in page.present = false }
                    for r in ranges { for i in r { dense[Int(i)] = dense[Int(i)].shifted(by: -1) } }
                    // Each range splits only at its own edges.
                    let edges = Set(ranges.flatMap { [$0.lowerBound, $0.upperBound] }.filter { $0 > 0 && $0 < length })
                    #expect(ExtentMapTests.boundaries(map) == before.union(edges), "\(stepContext): drops over \(ranges)")
                }
                if step % 20 == 0 { check(step) }
            }
            check(401)
        }
    }

    /// Fork's child shares its parent's map of page states where it inherits every page as the
    /// parent maps it (`forkSharesPages`), and starts its table of mappings as its parent's
    /// (`forkSharesTable`): every example and validation workload that forks (DONTFORK,
    /// WIPEONFORK, shared, file, HugeTLB and locked mappings, large folios), 40 random
    /// fork-and-touch workloads, and a parent whose table has a free slot reused (a mapping
    /// unmapped, another mapped) give the same report, measure by measure, with each shortcut
    /// as without it (the child's map built extent by extent, its table name by name).
    @Test func forkSharingPagesIsBuildingThem() throws {
        var texts: [(String, String)] = MutationFuzzTests.seeds.compactMap { path in
            guard let text = try? String(contentsOf: MutationFuzzTests.root.appendingPathComponent(path), encoding: .utf8),
                  text.contains(" fork ") else { return nil }
            return (path, text)
        }
        #expect(texts.count >= 40, "not vacuous: the workloads that fork")
        for seed in UInt64(1)...40 { texts.append(("random seed \(seed)", BulkTouchTests.randomWorkload(seed: seed))) }
        texts.append(("slots", """
            somsim-workload 1
            spawn p
            p mmap a 1M
            p mmap b 1M
            p mmap c 1M
            p touch b write
            p munmap a
            p mmap d 64K
            p touch d write
            p fork c1
            c1 munmap b
            c1 mmap e 1M
            c1 touch e write
            c1 fork c2
            c2 touch d write
            c2 mmap a 2M
            measure before
            p munmap d
            p fork c3
            c3 touch c read
            c3 touch b write
            measure after

            """))
        var shared = 0
        for (name, text) in texts {
            let workload = try WorkloadParser.parse(text, fileName: name)
            let with = replay(workload) { $0.forkSharesPages = true }
            let without = replay(workload) { $0.forkSharesPages = false }
            #expect(with == without, "\(name)")
            let ownTable = replay(workload) { $0.forkSharesTable = false }
            #expect(with == ownTable, "\(name): the child's own table")
            // What no report shows: each table's count of mappings (the child's table starts
            // as its parent's with every slot emptied), and the live mappings the kernel's
            // budget counts.
            var simulators: [Simulator] = []
            for shares in [true, false] {
                var simulator = Simulator(machine: workload.machine)
                simulator.forkSharesTable = shares
                for statement in workload.statements { simulator.apply(statement) }
                simulators.append(simulator)
            }
            let counts = simulators.map { simulator in simulator.processes.map(\.mappings.count) }
            let named = simulators.map { simulator in simulator.processes.map(\.mappings.keys.count) }
            #expect(counts[0] == counts[1], "\(name): mapping counts")
            #expect(counts[0] == named[0], "\(name): each table counts the mappings it holds")
            #expect(simulators[0].liveMappings == simulators[1].liveMappings, "\(name): live mappings")
            if with.measures.last?.processes.count ?? 0 > 1 { shared += 1 }
        }
        #expect(shared >= 40)
    }

    /// Fork's copy of the page tables for a VMA range against the tables it must give: the
    /// child's own, plus every table of the parent whose span meets the range, at each level
    /// (dense, a flag per table index of a 64 GiB window). Random parents (tables populated
    /// at each lowest level, some freed), children with or without tables, ranges that meet
    /// every table of the parent (the whole-levels shortcut) or some; the kept counts must be
    /// the walked ones.
    @Test func tableCopyIsEveryTableTheRangeMeets() {
        let base = WorkloadWindow.lowAddress
        let window: UInt64 = 64 << 30
        func dense(_ set: PageTableSet, level: Int) -> [Bool] {
            let indices = PageTableSet.indices(base..<(base + window), level: level)
            var flags = [Bool](repeating: false, count: Int(indices.count))
            set.levels[level].forEach(in: indices) { span, present in
                if present { for i in span { flags[Int(i - indices.lowerBound)] = true } }
            }
            return flags
        }
        func randomRange(_ rng: inout SplitMix64, maxPages: UInt64) -> Range<UInt64> {
            let start = base + rng.next(below: window / 4096 - maxPages) * 4096
            return start..<(start + 4096 * (1 + rng.next(below: maxPages)))
        }
        var shortcuts = 0
        for seed in UInt64(1)...120 {
            var rng = SplitMix64(seed: seed)
            var parent = PageTableSet()
            for _ in 0..<(1 + rng.next(below: 6)) {
                parent.populate(randomRange(&rng, maxPages: rng.next(below: 2) == 0 ? 600 : 300_000), lowestLevel: Int(rng.next(below: 3)))
            }
            if rng.next(below: 3) == 0 {
                let range = randomRange(&rng, maxPages: 2_000)
                parent.free(range, floor: nil, ceiling: nil)
            }
            var child = PageTableSet()
            if rng.next(below: 3) == 0 { child.populate(randomRange(&rng, maxPages: 5_000), lowestLevel: 0) }
            let addresses = rng.next(below: 2) == 0 ? base..<(base + window) : randomRange(&rng, maxPages: 400_000)
            if child.total == 0 && parent.total > 0 && addresses == base..<(base + window) { shortcuts += 1 }
            let context: Comment = "seed \(seed)"
            var copied = child
            copied.copy(from: parent, for: addresses)
            for level in 0..<PageTableLevel.allCases.count {
                let met = PageTableSet.indices(addresses, level: level)
                let lower = PageTableSet.indices(base..<(base + window), level: level).lowerBound
                let expected = zip(dense(child, level: level), dense(parent, level: level)).enumerated().map { i, pair in
                    pair.0 || (met.contains(lower + UInt64(i)) && pair.1)
                }
                #expect(dense(copied, level: level) == expected, "\(context), level \(level)")
            }
            #expect(copied.tableCounts == copied.tableCountsWalked, context)
            #expect(copied.total == copied.tableCounts.reduce(0, +), context)
        }
        #expect(shortcuts >= 20, "not vacuous: children without tables copying every table")
    }

    /// The boundaries of `map`'s extents and their values, as stored (equal neighbours apart).
    static func layout<V>(_ map: ExtentMap<V>) -> (starts: [UInt64], values: [V]) {
        var starts: [UInt64] = []
        var values: [V] = []
        map.forEach(in: 0..<map.length) { range, value in
            starts.append(range.lowerBound)
            values.append(value)
        }
        return (starts, values)
    }

    /// Whether `a` and `b` store the same extents with the same values (equal neighbours apart).
    static func sameLayout<V: Equatable>(_ a: ExtentMap<V>, _ b: ExtentMap<V>) -> Bool {
        let (x, y) = (layout(a), layout(b))
        return x.starts == y.starts && x.values == y.values
    }

    /// A random page state for the edits made after sharing or building: the zero page, or a
    /// page of one of three runs, writable or not.
    static func randomState(_ rng: inout SplitMix64) -> PageState {
        rng.next(below: 2) == 0 ? .zero : .anon(run: GroupID(index: Int32(rng.next(below: 3))), writable: rng.next(below: 2) == 0)
    }

    /// `shareBoundaries(with:)` (a worker's mapping keeping its new run's arrays of boundaries)
    /// leaves every extent and value of the map as it was, shares where the two maps were built
    /// alike from one extent, not where their boundaries differ (some ranges given the old value
    /// back, which merges them away, or a map fragmented first), and either map keeps working
    /// on its own afterwards: changes to one, then the other, agree with unshared copies.
    @Test(arguments: [8, 9, 16, 128])
    func sharedBoundariesKeepEveryExtent(chunkCapacity: Int) {
        var sharedCount = 0
        var keptCount = 0
        for seed in Self.seeds {
            for round in 0..<8 {
                var rng = SplitMix64(seed: seed &* 1000 &+ UInt64(round) &+ UInt64(chunkCapacity) << 32)
                let length: UInt64 = 40 + rng.next(below: round < 4 ? 400 : 40_000)
                let old = PageState.anon(run: GroupID(index: 0), writable: false)
                let new = PageState.anon(run: GroupID(index: 1), writable: true)
                var run = ExtentMap(length: length, value: FramePage(), chunkCapacity: chunkCapacity)
                var states = ExtentMap(length: length, value: old, chunkCapacity: chunkCapacity)
                // Round 2 mod 4: a map already fragmented; round 3 mod 4: some ranges keep the
                // old value. Both leave boundaries the run does not have.
                if round % 4 == 2 {
                    for _ in 0..<(1 + rng.next(below: 4)) {
                        let a = rng.next(below: length)
                        states.assign(a..<min(length, a + 1 + rng.next(below: 8)), .zero)
                    }
                }
                let count = 16 + Int(rng.next(below: UInt64(2 * chunkCapacity - 15)))
                let ranges = Self.fewRanges(&rng, count: count, length: length)
                guard ranges.count >= 16 else { continue }
                let context: Comment = "seed \(seed), round \(round), chunks of \(chunkCapacity), \(ranges.count) ranges"
                run.assign(sortedRanges: ranges) { _ in FramePage(mapcount: 1, present: true, dirty: true) }
                let keepsOld = round % 4 == 3
                states.assign(sortedRanges: ranges) { r in keepsOld && r.lowerBound % 3 == 0 ? old : new }
                let before = Self.layout(states)
                let runBefore = Self.layout(run)
                var shared = states
                let didShare = shared.shareBoundaries(with: run)
                if didShare { sharedCount += 1 } else { keptCount += 1 }
                #expect(Self.layout(shared).starts == before.starts, context)
                #expect(Self.layout(shared).values == before.values, context)
                #expect(Self.layout(run).starts == runBefore.starts, context)
                if round % 4 < 2 { #expect(didShare, "\(context): built alike from one extent") }
                if before.starts != runBefore.starts { #expect(!didShare, context) }
                var unsharedRun = run
                for step in 0..<40 {
                    let a = rng.next(below: length)
                    let range = a..<min(length, a + 1 + rng.next(below: 20))
                    if step % 2 == 0 {
                        let value = Self.randomState(&rng)
                        shared.assign(range, value)
                        states.assign(range, value)
                    } else {
                        run.addCounter(-1, in: range) { _, page in page.present = false }
                        unsharedRun.addCounter(-1, in: range) { _, page in page.present = false }
                    }
                    #expect(Self.sameLayout(shared, states), "\(context), step \(step)")
                    #expect(Self.sameLayout(run, unsharedRun), "\(context), step \(step)")
                }
            }
        }
        #expect(sharedCount >= 20 && keptCount >= 10, "not vacuous: \(sharedCount) shared, \(keptCount) kept")
    }

    /// `shareValues(from:)` (a fresh worker's run holding the arrays of frame values the fresh
    /// runs before it hold) leaves every extent and value of each map as it was; maps built
    /// alike share (the same two values in the same order over the same number of extents),
    /// maps with other values do not; and each map keeps working on its own afterwards: writes
    /// to one, to another that shares its arrays, and counter shifts, agree with unshared twins.
    @Test(arguments: [8, 9, 16, 128])
    func sharedValuesAreOwnValues(chunkCapacity: Int) {
        var pool = ExtentMap<FramePage>.ValuePool()
        var maps: [ExtentMap<FramePage>] = []
        var twins: [ExtentMap<FramePage>] = []
        var before: [(starts: [UInt64], values: [FramePage])] = []
        for seed in Self.seeds {
            for round in 0..<6 {
                var rng = SplitMix64(seed: seed &* 6007 &+ UInt64(round) &+ UInt64(chunkCapacity) << 32)
                let length: UInt64 = 40 + rng.next(below: round < 3 ? 400 : 4_000)
                // Rounds 0–3: a fresh worker's run (new frames over untouched ones); round 4 its
                // copies' frames already shared once; round 5 frames of another kind.
                let newFrame = round == 5 ? FramePage(mapcount: 2, present: true) : FramePage(mapcount: 1, present: true, dirty: true)
                var map = ExtentMap(length: length, value: FramePage(), chunkCapacity: chunkCapacity)
                // Every other map gets the same number of single pages as the map before it, so
                // that its arrays match the pool's.
                let count = round % 2 == 1 && !maps.isEmpty ? maps[maps.count - 1].extentCount / 2 : 8 + Int(rng.next(below: UInt64(3 * chunkCapacity)))
                var ranges: [Range<UInt64>] = []
                var page = 1 + rng.next(below: 3)
                while ranges.count < count && page + 1 < length {
                    ranges.append(page..<(page + 1))
                    page += 2 + rng.next(below: max(1, length / UInt64(count + 1)))
                }
                map.assign(sortedRanges: ranges) { _ in newFrame }
                if round == 4 { map.addCounter(1, in: 0..<length) { _, _ in } }
                twins.append(map)
                before.append(Self.layout(map))
                map.shareValues(from: &pool)
                maps.append(map)
            }
        }
        #expect(pool.shared >= 20, "not vacuous: \(pool.shared) chunks shared")
        for (m, map) in maps.enumerated() {
            #expect(Self.sameLayout(map, twins[m]), "map \(m)")
            #expect(Self.layout(map).starts == before[m].starts && Self.layout(map).values == before[m].values, "map \(m)")
        }
        var rng = SplitMix64(seed: UInt64(chunkCapacity))
        for step in 0..<400 {
            let m = Int(rng.next(below: UInt64(maps.count)))
            let length = maps[m].length
            let a = rng.next(below: length)
            let range = a..<min(length, a + 1 + rng.next(below: 20))
            switch rng.next(below: 3) {
            case 0:
                let value = FramePage(mapcount: UInt32(rng.next(below: 3)), present: rng.next(below: 2) == 0)
                maps[m].assign(range, value)
                twins[m].assign(range, value)
            case 1:
                maps[m].addCounter(-1, in: range) { _, page in page.present = false }
                twins[m].addCounter(-1, in: range) { _, page in page.present = false }
            default:
                maps[m].addCounter(1, in: 0..<length) { _, _ in }
                twins[m].addCounter(1, in: 0..<length) { _, _ in }
            }
            // The map written and every other map (some hold the arrays it held) agree.
            for k in maps.indices where k == m || k % 7 == step % 7 {
                #expect(Self.sameLayout(maps[k], twins[k]), "map \(k) after step \(step) wrote map \(m)")
            }
        }
    }

    /// `assign(alongBoundariesOf:)` (a fresh worker's page states built on its new run's
    /// boundaries) leaves what the map's own `assign(sortedRanges:)` of the same ranges leaves:
    /// the same extents and values, equal neighbours apart alike, cut into the same chunks (the
    /// own merge's boundaries share with the run's), and the map keeps working afterwards.
    /// Runs with a shifted chunk, fewer than 16 ranges (assigned one at a time) and more; maps
    /// that are not one extent, or of another chunk capacity, are refused and left as they are.
    @Test(arguments: [8, 9, 16, 128])
    func alongBoundariesIsOwnMerge(chunkCapacity: Int) {
        var built = 0
        var refused = 0
        for seed in Self.seeds {
            for round in 0..<8 {
                var rng = SplitMix64(seed: seed &* 4099 &+ UInt64(round) &+ UInt64(chunkCapacity) << 32)
                let length: UInt64 = 40 + rng.next(below: round < 4 ? 400 : 40_000)
                let old = PageState.anon(run: GroupID(index: 0), writable: false)
                let new = PageState.anon(run: GroupID(index: 1), writable: true)
                let oldFrame = FramePage(mapcount: round % 4 == 1 ? 2 : 0, present: round % 4 == 1)
                let newFrame = FramePage(mapcount: 1, present: true, dirty: true)
                var run = ExtentMap(length: length, value: oldFrame, chunkCapacity: chunkCapacity)
                if round % 4 == 1 { run.addCounter(1, in: 0..<length) { _, _ in } }
                var states = ExtentMap(length: length, value: old, chunkCapacity: round == 6 ? chunkCapacity + 1 : chunkCapacity)
                if round == 7 { states.assign(1..<2, .zero) }
                let count = round % 4 == 2 ? 1 + Int(rng.next(below: 15)) : 16 + Int(rng.next(below: UInt64(2 * chunkCapacity - 15)))
                let ranges = Self.fewRanges(&rng, count: count, length: length)
                let context: Comment = "seed \(seed), round \(round), chunks of \(chunkCapacity), \(ranges.count) ranges"
                run.assign(sortedRanges: ranges) { _ in newFrame }
                var own = states
                own.assign(sortedRanges: ranges) { _ in new }
                var along = states
                let didBuild = along.assign(alongBoundariesOf: run) { $0 == newFrame ? new : old }
                if round >= 6 {
                    refused += 1
                    #expect(!didBuild, context)
                    #expect(Self.sameLayout(along, states), context)
                    continue
                }
                built += 1
                #expect(didBuild, context)
                #expect(Self.sameLayout(along, own), context)
                #expect(along.extentCount == own.extentCount, context)
                var ownShared = own
                let ownShares = ownShared.shareBoundaries(with: run)
                let alongShares = along.shareBoundaries(with: run)
                #expect(ownShares, "\(context): the own merge has the run's chunks")
                #expect(alongShares, "\(context): built on the run's chunks")
                for step in 0..<40 {
                    let a = rng.next(below: length)
                    let range = a..<min(length, a + 1 + rng.next(below: 20))
                    let value = Self.randomState(&rng)
                    along.assign(range, value)
                    own.assign(range, value)
                    #expect(Self.sameLayout(along, own), "\(context), step \(step)")
                }
            }
        }
        #expect(built >= 40 && refused >= 10, "not vacuous: \(built) built, \(refused) refused")
    }

    /// Every read a map offers, as one record: the extents as stored (equal neighbours apart),
    /// the walk by chunks, the lookups with positions, the merge with ranges, the sequence,
    /// cursor lookups and single values.
    static func reads(_ map: ExtentMap<FramePage>, _ ranges: [Range<UInt64>]) -> [String] {
        var out: [String] = []
        map.forEach(in: 0..<map.length) { out.append("e \($0) \($1)") }
        map.forEachExtent { out.append("x \($0) \($1) \($2)") }
        map.forEach(inSortedRanges: ranges) { out.append("f \($0) \($1) \($2)") }
        map.forEachMerging(inSortedRanges: ranges) { out.append("m \($0) \($1)") }
        for (range, value) in map.sequence(in: 0..<map.length) { out.append("s \(range) \(value)") }
        var cursor = ExtentMap<FramePage>.Cursor()
        var hint = 0
        for index in stride(from: UInt64(0), to: map.length, by: max(1, Int(map.length / 97))) {
            out.append("c \(map.extent(containing: index, cursor: &cursor))")
            out.append("h \(map.extent(containing: index, hint: &hint))")
            out.append("v \(map.value(at: index))")
        }
        out.append("n \(map.extentCount) \(map.chunkCount)")
        return out
    }

    /// A raise of every counter of a map (fork: the mapcount of every page of a run) kept once
    /// for the whole map (`addCounter`'s `wholeMapShift`) against the raise kept on every
    /// chunk: after random sequences of whole raises, range drops that reach zero (`onZero`
    /// changing the value), range raises, assigns of one range and of many (the merges that
    /// rebuild the map), growth, modifications, and maps built on a shifted map's boundaries,
    /// every read is the same (`reads`). Chunk capacities from 2 up to the default.
    @Test(arguments: [2, 3, 8, 128])
    func wholeMapShiftIsChunkShifts(chunkCapacity: Int) {
        var shifted = 0
        for seed in Self.seeds {
            for round in 0..<4 {
                var rng = SplitMix64(seed: seed &* 31337 &+ UInt64(round) &+ UInt64(chunkCapacity) << 32)
                var length: UInt64 = 30 + rng.next(below: round < 2 ? 500 : 20_000)
                var once = ExtentMapSortedRangesTests.fragmentedMap(&rng, length: length, chunkCapacity: chunkCapacity, edits: 10 + Int(rng.next(below: 300)))
                var chunked = once
                let context: Comment = "seed \(seed), round \(round), chunks of \(chunkCapacity)"
                for step in 0..<120 {
                    let a = rng.next(below: length)
                    let range = a..<min(length, a + 1 + (rng.next(below: 3) == 0 ? rng.next(below: 200) : rng.next(below: 4)))
                    switch rng.next(below: 12) {
                    case 0, 1, 2:
                        let delta = Int32(1 + rng.next(below: 2))
                        once.addCounter(delta, in: 0..<(length + rng.next(below: 2))) { _, _ in }
                        chunked.addCounter(delta, in: 0..<length, wholeMapShift: false) { _, _ in }
                        shifted += 1
                    case 3:
                        once.addCounter(-1, in: range) { _, page in page.present = false }
                        chunked.addCounter(-1, in: range, wholeMapShift: false) { _, page in page.present = false }
                    case 4:
                        once.addCounter(1, in: range) { _, _ in }
                        chunked.addCounter(1, in: range, wholeMapShift: false) { _, _ in }
                    case 5:
                        let ranges = Self.fewRanges(&rng, count: 16 + Int(rng.next(below: 40)), length: length)
                        once.addCounter(-1, inSortedRanges: ranges) { _, page in page.present = false }
                        chunked.addCounter(-1, inSortedRanges: ranges) { _, page in page.present = false }
                    case 6:
                        let page = FramePage(mapcount: UInt32(rng.next(below: 4)), present: rng.next(below: 2) == 0)
                        once.assign(range, page)
                        chunked.assign(range, page)
                    case 7:
                        let ranges = rng.next(below: 2) == 0 ? ExtentMapSortedRangesTests.sortedRanges(&rng, length: length) : Self.fewRanges(&rng, count: 16 + Int(rng.next(below: 40)), length: length)
                        let value = { (r: Range<UInt64>) in FramePage(mapcount: UInt32(r.lowerBound % 4), present: true) }
                        once.assign(sortedRanges: ranges, value)
                        chunked.assign(sortedRanges: ranges, value)
                    case 8:
                        let page = FramePage(mapcount: UInt32(rng.next(below: 3)), present: true)
                        length += 1 + rng.next(below: 50)
                        once.grow(to: length, value: page)
                        chunked.grow(to: length, value: page)
                    case 9:
                        once.modify(range) { _, page in page.dirty.toggle() }
                        chunked.modify(range) { _, page in page.dirty.toggle() }
                    case 10:
                        // A map built on the shifted map's boundaries reads its shifted values.
                        var a = ExtentMap(length: length, value: PageState.none, chunkCapacity: chunkCapacity)
                        var b = a
                        let builtA = a.assign(alongBoundariesOf: once) { .anon(run: GroupID(index: Int32($0.mapcount % 7)), writable: $0.present) }
                        let builtB = b.assign(alongBoundariesOf: chunked) { .anon(run: GroupID(index: Int32($0.mapcount % 7)), writable: $0.present) }
                        #expect(builtA && builtB, "\(context), step \(step)")
                        #expect(Self.layout(a).starts == Self.layout(b).starts && Self.layout(a).values == Self.layout(b).values, "\(context), step \(step)")
                    default:
                        // A copy that shares the shifted map's storage, then changes.
                        var copy = once
                        copy.assign(range, FramePage(mapcount: 9, present: true))
                        once.addCounter(1, in: 0..<length) { _, _ in }
                        chunked.addCounter(1, in: 0..<length, wholeMapShift: false) { _, _ in }
                        #expect(copy.value(at: range.lowerBound) == FramePage(mapcount: 9, present: true), "\(context), step \(step)")
                    }
                    if step % 10 == 9 {
                        let ranges = Self.fewRanges(&rng, count: 64, length: length)
                        let readsOnce = Self.reads(once, ranges)
                        let readsChunked = Self.reads(chunked, ranges)
                        #expect(readsOnce == readsChunked, "\(context), step \(step)")
                        if readsOnce != readsChunked { break }
                    }
                }
            }
        }
        #expect(shifted >= 100, "not vacuous")
    }

    /// `forEachExtent(inChunks:alongside:)` (a measure reading a worker's frames beside its
    /// states) against each extent's value looked up in the other map: the other map's value
    /// on every extent of a chunk whose boundaries the two maps keep in one array, nil on the
    /// others — a map built along another's boundaries shares them all; after a write to a
    /// few of its chunks (which copies their arrays), those chunks give nil and the rest still
    /// the other's values; a map of the same extents built apart gives nil everywhere.
    @Test(arguments: [3, 8, 128])
    func alongsideValuesAreTheOtherMapsOnSharedBoundaries(chunkCapacity: Int) {
        var given = 0
        for seed in Self.seeds {
            var rng = SplitMix64(seed: seed &* 7919 &+ UInt64(chunkCapacity))
            let length: UInt64 = 40 + rng.next(below: 4_000)
            var run = ExtentMap(length: length, value: FramePage(), chunkCapacity: chunkCapacity)
            let ranges = Self.fewRanges(&rng, count: 16 + Int(rng.next(below: 100)), length: length)
            run.assign(sortedRanges: ranges) { range in FramePage(mapcount: UInt32(1 + range.lowerBound % 3), present: true, dirty: true) }
            let new = PageState.anon(run: GroupID(index: 1), writable: true)
            let old = PageState.anon(run: GroupID(index: 0), writable: false)
            var states = ExtentMap(length: length, value: old, chunkCapacity: chunkCapacity)
            #expect(states.assign(alongBoundariesOf: run) { $0.present ? new : old }, "seed \(seed)")
            var apart = ExtentMap(length: length, value: old, chunkCapacity: chunkCapacity)
            apart.assign(sortedRanges: ranges) { _ in new }
            // A write to a page in the middle: its chunk's arrays are copied.
            var written = states
            let page = rng.next(below: length)
            written.assign(page..<page + 1, .zero)
            for (map, name, shares) in [(states, "built along", true), (apart, "built apart", false), (written, "written", true)] {
                var extents = 0
                map.forEachExtent(inChunks: 0..<map.chunkCount, alongside: run) { start, end, state, frame in
                    extents += 1
                    let context: Comment = "seed \(seed), chunks of \(chunkCapacity): \(name), extent \(start)..<\(end)"
                    #expect(state == map.value(at: start), context)
                    guard let frame else {
                        // Only a chunk the write touched may lose its shared boundaries.
                        #expect(!shares || name == "written", context)
                        return
                    }
                    given += 1
                    #expect(shares, context)
                    let (range, value) = run.extent(containing: start)
                    #expect(range == start..<end && value == frame, context)
                }
                #expect(extents == map.extentCount, "seed \(seed): \(name)")
                // Without another map: every extent, no value beside it.
                var walked = 0
                map.forEachExtent(inChunks: 0..<map.chunkCount, alongside: nil as ExtentMap<FramePage>?) { start, _, state, frame in
                    walked += 1
                    #expect(frame == nil && state == map.value(at: start), "seed \(seed): \(name), alone")
                }
                #expect(walked == map.extentCount, "seed \(seed): \(name), alone")
            }
        }
        #expect(given >= 100, "not vacuous: \(given) values given alongside")
    }

    /// A bulk copy-on-write write with the mapping keeping its new run's boundaries
    /// (`bulkSharesBoundaries`) against each map keeping its own, with its lookups batched
    /// (`bulkLookupsBatched`) against one at a time, with fresh runs sharing their arrays of
    /// values (`bulkSharesValues`) against each keeping its own, and with fresh mappings storing
    /// their copies as their own run's and sharing their arrays of states (`bulkSharesStates`)
    /// against each storing every state as it is: the same report, measure by
    /// measure, on a small fleet (a master written whole, forked workers writing random pages,
    /// some writing twice, some forking) and on the 40 random workloads of BulkTouchTests.
    @Test func sharedBoundariesAreOwnBoundaries() throws {
        var fleet = ["somsim-workload 1", "spawn master", "master mmap heap 6M", "master touch heap write"]
        for i in 0..<60 {
            fleet.append("master fork w\(i)")
            fleet.append("w\(i) touch heap write random=\(16 + i % 50) seed=\(i)")
            if i % 7 == 3 { fleet.append("w\(i) touch heap write random=40 seed=\(i + 1000)") }
            if i % 9 == 4 { fleet.append("w\(i) fork v\(i)"); fleet.append("v\(i) touch heap write random=30 seed=\(i)") }
            if i % 10 == 9 { fleet.append("measure m\(i)") }
        }
        var texts = [("fleet", fleet.joined(separator: "\n") + "\n")]
        for seed in UInt64(1)...40 { texts.append(("random seed \(seed)", BulkTouchTests.randomWorkload(seed: seed))) }
        for (name, text) in texts {
            let workload = try WorkloadParser.parse(text, fileName: name)
            let with = replay(workload) { $0.bulkSharesBoundaries = true }
            let without = replay(workload) { $0.bulkSharesBoundaries = false; $0.bulkMapsAlongRun = false }
            #expect(with == without, "\(name)")
            let ownMerge = replay(workload) { $0.bulkMapsAlongRun = false }
            #expect(with == ownMerge, "\(name): the mapping's own merge")
            let forward = replay(workload) { $0.bulkLookupsBatched = false }
            #expect(with == forward, "\(name): batched lookups")
            let ownValues = replay(workload) { $0.bulkSharesValues = false }
            #expect(with == ownValues, "\(name): each run's own values")
            let ownStates = replay(workload) { $0.bulkSharesStates = false }
            #expect(with == ownStates, "\(name): each mapping's own states")
            let splitByWrites = replay(workload) { $0.bulkSplitsCrowdedRuns = false }
            #expect(with == splitByWrites, "\(name): runs split write by write")
            if name == "fleet" {
                var simulator = Simulator(machine: workload.machine)
                for statement in workload.statements { simulator.apply(statement) }
                #expect(simulator.freshRunValues.shared >= 10, "not vacuous: the fleet's runs shared \(simulator.freshRunValues.shared) chunks of values")
                #expect(simulator.freshStates.reused >= 10, "not vacuous: the fleet's mappings shared \(simulator.freshStates.reused) chunks of states")
                // The master's heap run, crowded by the workers' copies, was split page by page
                // (and is not, split write by write).
                let run = (0..<simulator.groups.count).map { GroupID(index: Int32($0)) }.first { simulator.groups[$0].kind == .anonymousRun && simulator.groups[$0].pages.length == 1_536 }
                #expect(run.map { simulator.groups[$0].pages.extentCount } == 1_536, "not vacuous: the master's run split page by page")
                var apart = Simulator(machine: workload.machine)
                apart.bulkSplitsCrowdedRuns = false
                for statement in workload.statements { apart.apply(statement) }
                #expect(run.map { apart.groups[$0].pages.extentCount < 1_536 } == true, "the master's run, split write by write, is not all single pages")
            }
        }
    }

    /// `ExtentMap.copyOnWrite` (a worker's copy-on-write write: the batched lookups, guessed
    /// from the chunk table in a first pass and checked in a second, each copied page's
    /// mapcount dropped in place or through `addCounter`) against the forward path
    /// `bulkFault` takes without it: `forEach(inSortedRanges:)` with the same decisions, then
    /// `addCounter(-1, inSortedRanges: copied, at: positions)`. The same pieces reused and
    /// copied, the same count, the same map (`reads`) — or nil and the map unchanged where a
    /// piece lies in a large folio — on fragmented maps with shifted chunks (guesses that miss,
    /// ranges across extents and chunks, empty ranges and ranges past the end), stretches split
    /// page by page (the drops in place), pages mapped once (reused) and large folios, for chunk
    /// capacities from 2 up to the default; with the guide to the chunks the pass builds, and
    /// with guides of random blocks (`ExtentMap.ChunkGuide`: a hint, which must never change an
    /// answer).
    @Test(arguments: [2, 3, 5, 128])
    func copyOnWriteIsForwardLookupsThenDrops(chunkCapacity: Int) {
        var alike = 0
        var stopped = 0
        var answered: [String: Int] = [:]
        for seed in Self.seeds {
            for round in 0..<6 {
                var rng = SplitMix64(seed: seed &* 7919 &+ UInt64(round) &+ UInt64(chunkCapacity) << 32)
                let length: UInt64 = 50 + rng.next(below: round < 3 ? 2_000 : 60_000)
                var map = ExtentMapSortedRangesTests.fragmentedMap(&rng, length: length, chunkCapacity: chunkCapacity, edits: 20 + Int(rng.next(below: 400)))
                if round % 2 == 1 {
                    // One-page extents over a stretch, as a fleet's master run becomes.
                    let from = rng.next(below: length / 2)
                    for page in stride(from: from, to: min(length, from + 3_000), by: 1) where rng.next(below: 4) != 0 {
                        map.assign(page..<(page + 1), FramePage(mapcount: UInt32(2 + page % 3), present: true))
                    }
                }
                var ranges = round % 3 == 0 ? ExtentMapSortedRangesTests.sortedRanges(&rng, length: length) : Self.fewRanges(&rng, count: 64, length: length)
                if round == 4, !ranges.isEmpty {
                    // A large folio under one of the pages written: the write leaves everything
                    // to the page-by-page path.
                    let page = ranges[Int(rng.next(below: UInt64(ranges.count)))].lowerBound
                    map.assign(page..<(page + 1), FramePage(mapcount: 2, present: true, order: 2))
                }
                if rng.next(below: 2) == 0, let last = ranges.last { ranges.append(last.upperBound..<(last.upperBound + 5)) }
                let context: Comment = "seed \(seed), round \(round), chunks of \(chunkCapacity), \(ranges.count) ranges"
                let anonymous = round % 2 == 0
                // The forward path.
                var forward = map
                var (reused, copied, positions): ([Range<UInt64>], [Range<UInt64>], [ExtentMap<FramePage>.Position]) = ([], [], [])
                var small = true
                var count: UInt64 = 0
                forward.forEach(inSortedRanges: ranges) { pages, page, position in
                    if page.order > 0 { small = false }
                    if page.mapcount <= 1 {
                        reused.append(pages)
                    } else {
                        copied.append(pages)
                        positions.append(position)
                        count += UInt64(pages.count)
                    }
                }
                if small {
                    forward.addCounter(-1, inSortedRanges: copied, at: positions) { _, page in
                        if anonymous && page.present { page.present = false }
                    }
                }
                // The one pass, with the guide to the chunks it builds itself (where the map
                // has chunks enough), and with a guide of random blocks said to fit this map
                // or one of a few chunks fewer: a guide is a hint, which never changes an answer.
                var random: [Int32] = []
                for _ in 0..<(1 + rng.next(below: 300)) { random.append(Int32(rng.next(below: UInt64(map.chunkCount + 3)))) }
                let guides = [
                    ("its own guide", ExtentMap<FramePage>.ChunkGuide()),
                    ("a random guide", ExtentMap<FramePage>.ChunkGuide(shift: rng.next(below: 12), blocks: random, chunkCount: max(0, map.chunkCount - Int(rng.next(below: 5))), length: map.length)),
                ]
                for (name, start) in guides {
                    var guide = start
                    var fused = map
                    var (fusedReused, fusedCopied) = ([Range<UInt64>](), [Range<UInt64>]())
                    var deferred = ExtentMap<FramePage>.DeferredCounts()
                    let fusedCount = fused.copyOnWrite(ranges, anonymous: anonymous, reused: &fusedReused, copied: &fusedCopied, deferred: &deferred, guide: &guide)
                    let with: Comment = "\(context), \(name)"
                    #expect(deferred.ranges.isEmpty && deferred.positions.isEmpty, with)
                    answered[name, default: 0] += guide.answered
                    guard small else {
                        stopped += 1
                        #expect(fusedCount == nil, with)
                        #expect(Self.storedLayout(fused) == Self.storedLayout(map), "\(with): a large folio changes nothing")
                        continue
                    }
                    #expect(fusedCount == count, with)
                    #expect(fusedReused == reused && fusedCopied == copied, with)
                    let same = Self.storedLayout(fused) == Self.storedLayout(forward)
                    #expect(same, "\(with): the map after the drops")
                    if same && count > 0 { alike += 1 }
                }
            }
        }
        #expect(alike >= 60 && stopped >= 10, "not vacuous: \(alike) writes alike, \(stopped) stopped by a large folio")
        #expect(answered["its own guide", default: 0] >= 100, "not vacuous: the guides built answered \(answered["its own guide", default: 0]) lookups")
    }

    /// Every page's value, in order.
    static func pages(_ map: ExtentMap<FramePage>) -> [FramePage] {
        var out: [FramePage] = []
        map.forEachExtent { start, end, value in
            for _ in start..<end { out.append(value) }
        }
        return out
    }

    /// `ranges` with adjacent ranges joined (the pieces of one range that crossed extents).
    static func joined(_ ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        for range in ranges {
            if let last = out.last, last.upperBound == range.lowerBound {
                out[out.count - 1] = last.lowerBound..<range.upperBound
            } else {
                out.append(range)
            }
        }
        return out
    }

    /// A map split page by page (`splitPageByPage`: what `copyOnWrite(splitsCrowded:)` does to
    /// a crowded run first) holds the same value at every page, one extent a page, in chunks of
    /// `maxChunk / 2` pages; `isCrowded` is its definition's count; and the three — the map
    /// left as it is, the same map written with `splitsCrowded` (split where a write finds it
    /// crowded) and the map split at once — read the same after the same random edits: assigns
    /// of one range and of many, drops that reach zero, raises of ranges and of the whole map,
    /// copy-on-write writes (the same count, and the same pages reused and copied, joined where
    /// one range crossed extents). Fragmented maps with chunk and map shifts, chunk capacities
    /// from 2 up to the default.
    @Test(arguments: [2, 3, 8, 128])
    func pageByPageIsTheSameMap(chunkCapacity: Int) {
        var crowded = 0
        var sparse = 0
        var splitByWrites = 0
        var writes = 0
        for seed in Self.seeds {
            for round in 0..<6 {
                var rng = SplitMix64(seed: seed &* 3571 &+ UInt64(round) &+ UInt64(chunkCapacity) << 32)
                let length: UInt64 = 1 + rng.next(below: round < 3 ? 300 : 5_000)
                var map = ExtentMapSortedRangesTests.fragmentedMap(&rng, length: length, chunkCapacity: chunkCapacity, edits: Int(rng.next(below: length + 1)))
                if rng.next(below: 2) == 0 { map.addCounter(1, in: 0..<length) { _, _ in } }
                let context: Comment = "seed \(seed), round \(round), chunks of \(chunkCapacity), \(length) pages, \(map.extentCount) extents"
                let extents = UInt64(map.extentCount)
                let isCrowded = extents < length && length <= 4 * extents
                #expect(map.isCrowded == isCrowded, context)
                if isCrowded { crowded += 1 } else { sparse += 1 }
                var split = map
                split.splitPageByPage()
                #expect(Self.pages(split) == Self.pages(map), context)
                #expect(split.extentCount == Int(length), context)
                let size = max(1, chunkCapacity / 2)
                #expect(split.chunkCount == (Int(length) + size - 1) / size, context)
                #expect(!split.isCrowded, context)
                // The map as it is, the map written with `splitsCrowded`, the map split at once.
                var maps = [map, map, split]
                for step in 0..<40 {
                    let a = rng.next(below: length)
                    let range = a..<min(length, a + 1 + rng.next(below: step % 7 == 0 ? length / 3 : 6))
                    let value = FramePage(mapcount: UInt32(1 + rng.next(below: 4)), present: true, dirty: rng.next(below: 2) == 0)
                    switch rng.next(below: 6) {
                    case 0:
                        for m in maps.indices { maps[m].assign(range, value) }
                    case 1:
                        for m in maps.indices { maps[m].addCounter(-1, in: range) { _, page in page.present = false } }
                    case 2:
                        let raised = rng.next(below: 3) == 0 ? 0..<length : range
                        for m in maps.indices { maps[m].addCounter(1, in: raised) { _, _ in } }
                    case 3:
                        let ranges = ExtentMapSortedRangesTests.sortedRanges(&rng, length: length)
                        for m in maps.indices { maps[m].assign(sortedRanges: ranges) { _ in value } }
                    default:
                        let ranges = Self.fewRanges(&rng, count: 1 + Int(rng.next(below: 64)), length: length)
                        var answers: [(UInt64?, [Range<UInt64>], [Range<UInt64>])] = []
                        for m in maps.indices {
                            var guide = ExtentMap<FramePage>.ChunkGuide()
                            var deferred = ExtentMap<FramePage>.DeferredCounts()
                            var (reused, copied) = ([Range<UInt64>](), [Range<UInt64>]())
                            let wasSplit = maps[m].extentCount == Int(length)
                            let count = maps[m].copyOnWrite(ranges, anonymous: true, reused: &reused, copied: &copied, deferred: &deferred, guide: &guide, splitsCrowded: m == 1)
                            if m == 1 && !wasSplit && maps[m].extentCount == Int(length) { splitByWrites += 1 }
                            answers.append((count, Self.joined(reused), Self.joined(copied)))
                        }
                        writes += 1
                        for m in 1..<maps.count {
                            #expect(answers[m].0 == answers[0].0 && answers[m].1 == answers[0].1 && answers[m].2 == answers[0].2, "\(context), step \(step), map \(m)")
                        }
                    }
                    for m in 1..<maps.count where Self.pages(maps[m]) != Self.pages(maps[0]) {
                        Issue.record("\(context), step \(step): map \(m) reads otherwise")
                    }
                }
            }
        }
        #expect(crowded >= 20 && sparse >= 20 && splitByWrites >= 10 && writes >= 200, "not vacuous: \(crowded) crowded maps, \(sparse) not, \(splitByWrites) split by a write, \(writes) writes")
    }

    /// `isCrowded` at its bounds: a map of extents of three pages is crowded while splitting it
    /// adds at most `crowdedGrowth` extents, and not past that (a big run its copies would
    /// never split page by page); extents of four pages are crowded, of five not.
    @Test func crowdedMapsAreBoundedInGrowth() {
        func map(length: UInt64, extentPages: UInt64) -> ExtentMap<FramePage> {
            var map = ExtentMap<FramePage>(length: length, value: FramePage(mapcount: 2, present: true))
            var ranges: [Range<UInt64>] = []
            for start in stride(from: extentPages, to: length, by: Int(2 * extentPages)) {
                ranges.append(start..<min(length, start + extentPages))
            }
            map.assign(sortedRanges: ranges) { _ in FramePage(mapcount: 3, present: true) }
            return map
        }
        let growth = ExtentMap<FramePage>.crowdedGrowth
        // Three pages an extent: splitting adds two thirds of the length.
        let fits = 3 * (growth / 2) - 3
        #expect(map(length: fits, extentPages: 3).isCrowded, "\(fits) pages, \(map(length: fits, extentPages: 3).extentCount) extents")
        let past = 3 * (growth / 2) + 300
        #expect(!map(length: past, extentPages: 3).isCrowded, "\(past) pages")
        #expect(map(length: 4_000, extentPages: 4).isCrowded)
        #expect(!map(length: 5_000, extentPages: 5).isCrowded)
        #expect(!map(length: 4_000, extentPages: 1).isCrowded, "one page an extent: nothing to split")
    }

    /// `copyOnWriteOfSplitPages` (single pages of chunks of one-page extents: a fleet's master's
    /// run once its workers split it page by page) gives what the general pass gives — the
    /// same count, pieces reused and copied, and map — and leaves everything to it (nil,
    /// nothing changed) where a range is not such a page: runs split page by page with pages
    /// mapped once, chunk and map shifts (forks), a large folio, a range of two pages (which
    /// `copyOnWrite` hands it as two ranges of a page, `singlePages`: the same pieces), a range
    /// past the end, one range of five pages (more than four a range: the general pass only);
    /// for chunk capacities from 2 up to the default.
    @Test(arguments: [2, 3, 5, 128])
    func splitPagesAreTheGeneralPass(chunkCapacity: Int) {
        var applied = 0
        var declined = 0
        var pairsTaken = 0
        for seed in Self.seeds {
            for round in 0..<8 {
                var rng = SplitMix64(seed: seed &* 6151 &+ UInt64(round) &+ UInt64(chunkCapacity) << 32)
                let length: UInt64 = 100 + rng.next(below: 3_000)
                var map = ExtentMap<FramePage>(length: length, value: FramePage(mapcount: 2, present: true), chunkCapacity: chunkCapacity)
                // Every page an extent of its own: neighbours' mapcounts differ.
                for page in 0..<length {
                    let mapcount: UInt32 = page % 11 == 5 ? 1 : UInt32(2 + page % 3)
                    map.assign(page..<(page + 1), FramePage(mapcount: mapcount, present: true))
                }
                if round % 2 == 1 { map.addCounter(1, in: 0..<length) { _, _ in } }
                if round % 4 == 3 {
                    let from = rng.next(below: length / 2)
                    map.addCounter(1, in: from..<min(length, from + 1 + rng.next(below: 400))) { _, _ in }
                }
                var pages = Set<UInt64>()
                while pages.count < 64 && UInt64(pages.count) < length / 2 { pages.insert(rng.next(below: length)) }
                var ranges = pages.sorted().map { $0..<($0 + 1) }
                switch round {
                case 2:
                    // A large folio under one of the pages written.
                    let page = ranges[Int(rng.next(below: UInt64(ranges.count)))].lowerBound
                    map.assign(page..<(page + 1), FramePage(mapcount: 3, present: true, order: 2))
                case 4:
                    // A range of two pages: two pieces, as the general pass gives them.
                    if let k = ranges.indices.first(where: { ranges[$0].upperBound < length && ($0 + 1 == ranges.count || ranges[$0 + 1].lowerBound > ranges[$0].upperBound) }) {
                        ranges[k] = ranges[k].lowerBound..<(ranges[k].upperBound + 1)
                    }
                case 6:
                    ranges.append(length..<(length + 1))
                case 7:
                    // One range of five pages: more than four a range, the general pass only.
                    let from = rng.next(below: length - 5)
                    ranges = [from..<(from + 5)]
                default:
                    break
                }
                let context: Comment = "seed \(seed), round \(round), chunks of \(chunkCapacity), \(ranges.count) ranges"
                var results: [(UInt64?, [Range<UInt64>], [Range<UInt64>], ([ExtentMapSortedRangesTests.ExtentRecord], Int, Int))] = []
                for splitPages in [true, false] {
                    var written = map
                    var guide = ExtentMap<FramePage>.ChunkGuide()
                    var deferred = ExtentMap<FramePage>.DeferredCounts()
                    var (reused, copied) = ([Range<UInt64>](), [Range<UInt64>]())
                    let count = written.copyOnWrite(ranges, anonymous: true, reused: &reused, copied: &copied, deferred: &deferred, guide: &guide, splitPages: splitPages)
                    if count == nil { (reused, copied) = ([], []) }  // (partial lists: the caller drops them)
                    results.append((count, reused, copied, Self.storedLayout(written)))
                    if splitPages {
                        // Whether the split pages' pass took the write, with the guide the
                        // write built: nil (declined) changes nothing and appends nothing.
                        var probe = map
                        var (r, c) = ([Range<UInt64>](), [Range<UInt64>]())
                        let pages = ExtentMap<FramePage>.singlePages(ranges)
                        #expect((pages != nil) == (round == 4), "\(context): a range of a few pages, a range a page")
                        if probe.copyOnWriteOfSplitPages(pages ?? ranges, reused: &r, copied: &c, guide: guide) == nil {
                            declined += 1
                            #expect(r.isEmpty && c.isEmpty && Self.storedLayout(probe) == Self.storedLayout(map), "\(context): declined, unchanged")
                        } else {
                            applied += 1
                            if round == 4 { pairsTaken += 1 }
                        }
                    }
                }
                #expect(results[0].0 == results[1].0, context)
                #expect(results[0].1 == results[1].1 && results[0].2 == results[1].2, context)
                #expect(results[0].3 == results[1].3, "\(context): the map after the drops")
            }
        }
        #expect(applied >= 20 && declined >= 20 && pairsTaken >= 5, "not vacuous: the split pages' pass took \(applied) writes (\(pairsTaken) with a range of two pages) and declined \(declined)")
    }
}
