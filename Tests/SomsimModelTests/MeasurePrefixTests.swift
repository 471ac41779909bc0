@testable import SomsimModel
import SomsimWorkload
import Testing

/// The measure's sums over shared frame groups go through `GroupPrefix` (a prefix index with a
/// bucket index over the group's extents). These differential tests hold it to the plain
/// computation: the prefix against a walk over the group's extents on random groups and ranges,
/// and whole measures of random fork workloads against the page-by-page sums of every process's
/// mappings. Seeds are fixed; each failure names its seed.
@Suite struct MeasurePrefixTests {
    /// The sums over `range` of `group`, extent by extent (what `groupSums` does for a group
    /// without a prefix index).
    static func walkedSums(_ group: FrameGroup, _ range: Range<UInt64>, pageBytes: UInt64) -> PageSums {
        var sums = PageSums()
        for (pages, page) in group.pages.sequence(in: range) {
            sums = sums + PageSums(pages: UInt64(pages.count), mapcount: page.mapcount, dirty: page.dirty, pageBytes: pageBytes)
        }
        return sums
    }

    /// A random group: evenly spread extents, extents clustered in one corner of a long group
    /// (buckets that each hold many extents or none), a few long extents, or every page an
    /// extent of its own (a run a fleet's copies split page by page: `GroupPrefix`'s dense case).
    static func randomGroup(_ rng: inout SplitMix64, shape: UInt64) -> FrameGroup {
        let length: UInt64 = shape == 1 ? 1 << 30 : 1 + rng.next(below: 6000)
        var group = FrameGroup(kind: .anonymousRun, huge: nil, pageCount: length)
        if shape == 3 {
            // Neighbours differ, so no two pages merge.
            let offset = rng.next(below: 5)
            for page in 0..<length {
                let value = FramePage(mapcount: UInt32(1 + (page + offset) % 5), present: true, dirty: (page / 5) % 2 == 0)
                group.pages.assign(page..<page + 1, value)
            }
            return group
        }
        let region: UInt64 = shape == 1 ? 1 + rng.next(below: 5000) : length
        let writes = shape == 2 ? 1 + rng.next(below: 6) : rng.next(below: 3000)
        for _ in 0..<writes {
            let start = rng.next(below: region)
            let count = shape == 2 ? 1 + rng.next(below: length - start) : 1 + rng.next(below: min(4, region - start))
            let page = FramePage(mapcount: UInt32(rng.next(below: 7)), present: true, dirty: rng.next(below: 2) == 0)
            group.pages.assign(start..<start + count, page)
        }
        return group
    }

    @Test(arguments: 1...30 as ClosedRange<UInt64>)
    func prefixAgreesWithWalk(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let group = Self.randomGroup(&rng, shape: seed % 4)
        let length = group.pages.length
        let pageBytes: UInt64 = seed % 5 == 0 ? 2 * MiB : 4 * KiB
        let prefix = GroupPrefix(group, pageBytes: pageBytes)
        #expect(prefix.dense == (seed % 4 == 3), "seed \(seed): \(group.pages.extentCount) extents of \(length) pages")
        var ranges: [Range<UInt64>] = [0..<length, 0..<0, length..<length]
        for _ in 0..<400 {
            // Endpoints anywhere, and endpoints on the clustered corner's extents.
            let bound = rng.next(below: 2) == 0 ? length + 1 : min(length + 1, 6000)
            let a = rng.next(below: bound)
            let b = rng.next(below: bound)
            ranges.append(min(a, b)..<max(a, b))
        }
        // Ascending neighbouring ranges, as one process's queries come (the prefix's hint path).
        var position: UInt64 = 0
        for _ in 0..<400 where position < length {
            let end = min(length, position + 1 + rng.next(below: 8))
            ranges.append(position..<end)
            position = end + rng.next(below: 3)
        }
        for range in ranges {
            #expect(
                prefix.sums(range) == Self.walkedSums(group, range, pageBytes: pageBytes),
                "seed \(seed): range \(range) of a group of \(length) pages, \(group.pages.extentCount) extents")
        }
        // The same ranges asked for in batches of every size up to `mappingSums`'s (the answers
        // prefetched first), against the walks' sum modulo 2^64.
        for size in [1, 2, 3, 7, GapStreak.gapBatch] {
            for first in stride(from: 0, to: ranges.count, by: size) {
                let batch = Array(ranges[first..<min(first + size, ranges.count)])
                let walked = batch.reduce(PageSums()) { PageSums.wrappingSum($0, Self.walkedSums(group, $1, pageBytes: pageBytes)) }
                #expect(
                    batch.withUnsafeBufferPointer { prefix.sums(of: $0) } == walked,
                    "seed \(seed): batch of \(batch.count) from range \(first) of a group of \(length) pages")
            }
        }
    }

    /// A group whose unmapped pages alone pass 2^64 in PSS units (2^42 pages of 2 MiB, as a
    /// hugetlbfs file fallocated near 2^63 bytes leaves its page map) still answers a query over
    /// its mapped pages exactly. Before, building the prefix trapped on the overflow (fuzz seed
    /// 9011, case 691716).
    @Test func totalsPastTwoToTheSixtyFourStillGiveExactSums() {
        let pageBytes: UInt64 = 2 * MiB
        var group = FrameGroup(kind: .anonymousRun, huge: nil, pageCount: 1 << 42)
        // Pages 0..<3 mapped by two processes (dirty), page 3 by one (clean); the rest unmapped.
        group.pages.assign(0..<3, FramePage(mapcount: 2, present: true, dirty: true))
        group.pages.assign(3..<4, FramePage(mapcount: 1, present: true, dirty: false))
        let prefix = GroupPrefix(group, pageBytes: pageBytes)
        let sums = prefix.sums(0..<4)
        // PSS: 3 pages of 2 MiB halved plus one whole page = 2.5 pages of 2 MiB, in 2^-12 bytes.
        #expect(sums.pssUnits == (3 * (pageBytes << 12) / 2) + (pageBytes << 12))
        #expect(sums.sharedDirty == 3 && sums.privateClean == 1 && sums.privateDirty == 0 && sums.sharedClean == 0)
        // A range that ends far into the unmapped pages: its true sum is past 2^64 in PSS units, the
        // one place the wrapped answer differs from a walk, and no measure asks for it. A range of
        // mapped pages after that point still comes out exact.
        group.pages.assign((1 << 41)..<((1 << 41) + 2), FramePage(mapcount: 1, present: true, dirty: true))
        let later = GroupPrefix(group, pageBytes: pageBytes)
        #expect(later.sums((1 << 41)..<((1 << 41) + 2)) == Self.walkedSums(group, (1 << 41)..<((1 << 41) + 2), pageBytes: pageBytes))
    }

    /// A fork workload: a master with a private heap, a shared mapping and a shared file; workers
    /// forked from it (and from each other) that write and read random pages, some exiting, so
    /// that the master's run splits into many extents of many mapcounts.
    static func randomWorkload(seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed)
        var lines = ["somsim-workload 1", "spawn master"]
        let heapPages = 256 + rng.next(below: 1024)
        lines.append("master mmap heap \(heapPages * 4)K")
        lines.append("master mmap s 512K shared")
        lines.append("master mmap f 768K file=data shared")
        lines.append("master touch heap write")
        lines.append("master touch s write random=\(1 + rng.next(below: 128)) seed=\(seed)")
        lines.append("master touch f read")
        var alive = ["master"]
        for i in 0..<(10 + rng.next(below: 30)) {
            let parent = alive[Int(rng.next(below: UInt64(alive.count)))]
            let child = "w\(i)"
            lines.append("\(parent) fork \(child)")
            alive.append(child)
            let mapping = ["heap", "heap", "s", "f"][Int(rng.next(below: 4))]
            let access = rng.next(below: 4) == 0 ? "read" : "write"
            lines.append("\(child) touch \(mapping) \(access) random=\(1 + rng.next(below: 96)) seed=\(rng.next(below: 10_000))")
            if rng.next(below: 3) == 0 {
                lines.append("\(child) touch heap write random=\(1 + rng.next(below: 16)) seed=\(rng.next(below: 10_000))")
            }
            if rng.next(below: 8) == 0, alive.count > 2 {
                let victim = alive.remove(at: 1 + Int(rng.next(below: UInt64(alive.count - 1))))
                lines.append("\(victim) exit")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test(arguments: 1...25 as ClosedRange<UInt64>)
    func measureAgreesWithPageByPage(seed: UInt64) throws {
        let workload = try WorkloadParser.parse(Self.randomWorkload(seed: seed), fileName: "measure-\(seed).somw")
        var simulator = Simulator(machine: workload.machine)
        for statement in workload.statements { simulator.apply(statement) }
        simulator.measure(label: "end")
        let measure = simulator.measures[simulator.measures.count - 1]
        let pageBytes = simulator.constants.pageBytes
        var singleOwner: UInt64 = 0
        var builtPrefix = false
        for (process, metrics) in zip(simulator.processes, measure.processes) where process.alive {
            var sums = PageSums()
            for mapping in process.mappings.values {
                for page in 0..<mapping.pageCount {
                    let one: PageSums
                    switch mapping.pages.value(at: page) {
                    case .none, .zero:
                        continue
                    case .anon(let run, _):
                        let frame = simulator.groups[run].pages.value(at: page)
                        one = PageSums(pages: 1, mapcount: frame.mapcount, dirty: frame.dirty, pageBytes: pageBytes)
                        if one.privateClean + one.privateDirty > 0 { singleOwner += 1 }
                        if simulator.groups[run].pages.extentCount > 32 { builtPrefix = true }
                    case .cache(_, let dirty):
                        let frame = simulator.groups[mapping.object!].pages.value(at: page)
                        let viewed = PageSums(pages: 1, mapcount: frame.mapcount, dirty: frame.dirty, pageBytes: pageBytes)
                        one = dirty ? viewed.allDirty : viewed
                    }
                    sums = sums + one
                }
            }
            let context: Comment = "seed \(seed): process \(process.name)"
            #expect(metrics.pssBytes == sums.pssUnits >> PageSums.pssShift, context)
            #expect(metrics.privateCleanBytes == sums.privateClean * pageBytes, context)
            #expect(metrics.privateDirtyBytes == sums.privateDirty * pageBytes, context)
            #expect(metrics.sharedCleanBytes == sums.sharedClean * pageBytes, context)
            #expect(metrics.sharedDirtyBytes == sums.sharedDirty * pageBytes, context)
        }
        // The census counts single-owner pages through its own prefix indexes.
        #expect(simulator.census().singleOwnerPages == singleOwner, "seed \(seed)")
        // The workload really splits a shared run into many extents (else the prefix goes unused).
        #expect(builtPrefix, "seed \(seed)")
    }

    /// A measure sums a worker's own run (`PageMap.ownRun`: the pages it copied) from counts of
    /// its pages mapped once, clean and dirty, made into sums after the walk, and the rest page
    /// by page: the same as the page-by-page sums, with the own runs' frames made clean here
    /// and there (no statement writes a clean anonymous page: a bulk copy is dirty) and mapped
    /// twice where a worker forked a child of its own.
    @Test(arguments: 1...8 as ClosedRange<UInt64>)
    func ownRunsSumAsPageByPage(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed &* 0x5851_F42D)
        var lines = ["somsim-workload 1", "spawn master", "master mmap heap \(2 + rng.next(below: 4))M", "master touch heap write"]
        var workers: [String] = []
        for i in 0..<(20 + rng.next(below: 30)) {
            let parent = !workers.isEmpty && rng.next(below: 4) == 0 ? workers[Int(rng.next(below: UInt64(workers.count)))] : "master"
            lines.append("\(parent) fork w\(i)")
            workers.append("w\(i)")
            lines.append("w\(i) touch heap write random=\(1 + rng.next(below: 96)) seed=\(rng.next(below: 10_000))")
        }
        let workload = try WorkloadParser.parse(lines.joined(separator: "\n") + "\n", fileName: "own-sums-\(seed).somw")
        var simulator = Simulator(machine: workload.machine)
        for statement in workload.statements { simulator.apply(statement) }
        #expect(simulator.errors.isEmpty, "seed \(seed): \(simulator.errors)")
        // Some present frames of every own run made clean.
        var owned = Set<Int32>()
        for process in simulator.processes where process.alive {
            for mapping in process.mappings.values { if let run = mapping.pages.ownRun { owned.insert(run.index) } }
        }
        var clean = 0
        var shared = 0
        for index in owned.sorted() {
            let run = GroupID(index: index)
            var frames: [(Range<UInt64>, FramePage)] = []
            simulator.groups[run].pages.forEachExtent { start, end, frame in frames.append((start..<end, frame)) }
            for (range, frame) in frames where frame.present {
                if frame.mapcount > 1 { shared += 1 }
                if rng.next(below: 3) == 0 {
                    var made = frame
                    made.dirty = false
                    simulator.groups[run].pages.assign(range, made)
                    clean += 1
                }
            }
        }
        #expect(clean >= 20 && shared >= 1, "not vacuous: seed \(seed), \(clean) extents of own runs made clean, \(shared) mapped twice")
        let pageBytes = simulator.constants.pageBytes
        for threads in [1, 2] {
            simulator.measureThreads = threads
            let pass = simulator.processPass()
            for (process, metrics) in zip(simulator.processes, pass.metrics) where process.alive {
                var sums = PageSums()
                for mapping in process.mappings.values {
                    for page in 0..<mapping.pageCount {
                        guard case .anon(let run, _) = mapping.pages.value(at: page) else { continue }
                        let frame = simulator.groups[run].pages.value(at: page)
                        sums = sums + PageSums(pages: 1, mapcount: frame.mapcount, dirty: frame.dirty, pageBytes: pageBytes)
                    }
                }
                let context: Comment = "seed \(seed), \(threads) threads: process \(process.name)"
                #expect(metrics.pssBytes == sums.pssUnits >> PageSums.pssShift, context)
                #expect(metrics.privateCleanBytes == sums.privateClean * pageBytes, context)
                #expect(metrics.privateDirtyBytes == sums.privateDirty * pageBytes, context)
                #expect(metrics.sharedCleanBytes == sums.sharedClean * pageBytes, context)
                #expect(metrics.sharedDirtyBytes == sums.sharedDirty * pageBytes, context)
            }
        }
    }

    /// A measure of a fleet sums its processes on several threads, each slice with prefix
    /// indexes of its own: the report must be the serial one, for any number of threads (and
    /// slices that cut the fleet anywhere: 1 to 7 threads over 301 processes, 2 measures).
    /// A measure of a few processes sums each mapping of many extent-map chunks in parts, one
    /// per thread: the report is the one-thread report, whatever the cut (every state a mapping
    /// can hold: copied and shared anonymous pages, zero pages, page cache, untouched gaps; a
    /// shared run queried through its prefix index from both sides of a cut).
    @Test func splitMappingSumsAreTheWholeOnes() throws {
        let text = """
            somsim-workload 1
            spawn p
            p mmap heap 64M
            p mmap file 8M shared
            p touch heap write random=3000 seed=1
            p touch heap read random=2000 seed=2
            p touch file write random=500 seed=3
            p fork c
            c touch heap write random=1500 seed=4
            c touch file read random=700 seed=5
            measure forked
            p touch heap write random=900 seed=6
            """
        let workload = try WorkloadParser.parse(text, fileName: "split.somw")
        let serial = replay(workload) { $0.measureThreads = 1 }
        #expect(serial.measures.count == 2)
        // Not vacuous: the heap is kept in many chunks, so the cuts below really cut it.
        var simulator = Simulator(machine: workload.machine)
        for statement in workload.statements { simulator.apply(statement) }
        let child = try #require(simulator.processIndex["c"])
        let heap = try #require(simulator.processes[child].mappings["heap"])
        #expect(heap.pages.chunkCount >= 16)
        for chunks in [1, 2, 7, 16] {
            for threads in 2...5 {
                let parallel = replay(workload) {
                    $0.measureThreads = threads
                    $0.splitMappingChunks = chunks
                }
                #expect(parallel == serial, "\(threads) threads, mappings of \(chunks)+ chunks split")
            }
        }
    }

    /// The census of a few processes counts a huge mapping's TLB entries, and a huge run's
    /// folios, in parts on every core: the census is the one-thread census whatever the cut,
    /// large folios (64 KiB and 2 MiB, whole and split by partial frees) included, whose runs
    /// the cuts fall inside.
    @Test func splitCensusIsTheWholeOne() throws {
        let text = """
            somsim-workload 1
            machine thp=always mthp=64K
            spawn p
            p mmap heap 64M
            p mmap small 8M
            p madvise small nohugepage
            p touch heap write stride=64K
            p touch heap write random=4000 seed=1
            p madvise heap dontneed offset=1M length=3M
            p touch small write random=1500 seed=2
            p madvise small dontneed offset=64K length=1M
            p fork c
            c touch heap write random=700 seed=3
            """
        let workload = try WorkloadParser.parse(text, fileName: "split-census.somw")
        var simulator = Simulator(machine: workload.machine)
        for statement in workload.statements { simulator.apply(statement) }
        let owned = simulator.processes.filter(\.alive).map { _ in UInt64(0) }
        var prefixes = PrefixCache(groupCount: simulator.groups.count)
        simulator.measureThreads = 1
        let one = simulator.census(prefixes: &prefixes, ownedAnonPages: owned)
        // Not vacuous: large folios are counted, and the maps are kept in many chunks.
        #expect(one.folios.contains { $0.kind == .anon && $0.order == 9 && $0.count > 0 })
        #expect(one.folios.contains { $0.kind == .anon && $0.order == 4 && $0.count > 0 })
        #expect(simulator.groups.contains { $0.pages.chunkCount >= 16 })
        for chunks in [1, 2, 3, 7, 16] {
            for threads in 2...5 {
                simulator.measureThreads = threads
                simulator.splitMappingChunks = chunks
                #expect(simulator.census(prefixes: &prefixes, ownedAnonPages: owned) == one, "\(threads) threads, \(chunks)+ chunks split")
            }
        }
    }

    /// A process of many mappings (as alloc-mix makes: hundreds of thousands in one process) is
    /// summed, and counted by the census, in parts of its mappings on every core: the report and
    /// the census are the one-thread ones whatever the cut. The mappings are of every kind the
    /// sums tell apart: private written and read, forked and copied, shared, file-backed,
    /// HugeTLB, THP (PMD-mapped, for AnonHugePages and the TLB), mTHP, single-owner.
    @Test func mappingPartsAreTheWholeProcess() throws {
        var lines = [
            "somsim-workload 1", "machine ram=1G thp=always mthp=64K hugetlb-2m=8",
            "spawn p", "p mmap huge 4M huge=2M", "p touch huge write", "p mmap s 1M shared", "p touch s write",
            "p mmap pool 4M som", "p touch pool write",
        ]
        for i in 0..<40 {
            let kind = ["", " shared", " file=f\(i % 3) shared", ""][i % 4]
            lines.append("p mmap m\(i) \(64 * (1 + i % 5))K\(kind)")
            lines.append("p touch m\(i) \(i % 3 == 0 ? "read" : "write")")
        }
        lines.append("p mmap big 4M")
        lines.append("p touch big write")
        lines.append("p fork c")
        lines.append("c touch m0 write")
        lines.append("c touch m4 write random=3 seed=4")
        lines.append("c touch big write random=9 seed=5")
        lines.append("measure both")
        let workload = try WorkloadParser.parse(lines.joined(separator: "\n"), fileName: "parts.somw")
        let serial = replay(workload) { $0.measureThreads = 1 }
        #expect(serial.errors.isEmpty, "\(serial.errors)")
        var simulator = Simulator(machine: workload.machine)
        for statement in workload.statements { simulator.apply(statement) }
        let owned = simulator.processes.filter(\.alive).map { _ in UInt64(0) }
        var prefixes = PrefixCache(groupCount: simulator.groups.count)
        simulator.measureThreads = 1
        let one = simulator.census(prefixes: &prefixes, ownedAnonPages: owned)
        // Not vacuous: PMD-mapped THPs and HugeTLB pages give TLB entries above the PTE level.
        #expect(one.tlbEntries[1] > 0)
        for count in [1, 2, 7, 40] {
            for threads in 2...5 {
                let parallel = replay(workload) {
                    $0.measureThreads = threads
                    $0.splitMappingCount = count
                }
                #expect(parallel == serial, "\(threads) threads, processes of \(count)+ mappings split")
                simulator.measureThreads = threads
                simulator.splitMappingCount = count
                #expect(simulator.census(prefixes: &prefixes, ownedAnonPages: owned) == one, "census: \(threads) threads, \(count)+ mappings split")
            }
        }
    }

    /// The census takes the TLB entries of mappings of 4 KiB entries from the measure's walk
    /// (`mappingSums`'s mapped pages, `Mapping.tlbEntriesArePages`) instead of walking them
    /// again: the census with the measure's counts is the census that walks every mapping, on
    /// random fork workloads and on a process of every kind of mapping (zero pages read, page
    /// cache, HugeTLB, PMD-mapped THPs, mTHP, som pages of 2 MiB and 1 GiB, whose entries the
    /// census still counts itself; som pages of 4 KiB, whose it takes), on one thread and with processes and mappings cut in parts.
    @Test(arguments: 0...12 as ClosedRange<UInt64>)
    func censusTakesTheMeasuresTLBCounts(seed: UInt64) throws {
        let text: String
        if seed == 0 {
            var lines = [
                "somsim-workload 1", "machine ram=4G thp=always mthp=64K hugetlb-2m=8",
                "spawn p", "p mmap huge 4M huge=2M", "p touch huge write", "p mmap s 1M shared", "p touch s write",
                "p mmap pool 4M som", "p touch pool write", "p mmap giant 1G som page=1G", "p touch giant write random=3 seed=9",
                "p mmap small 1M som page=4K", "p touch small write random=7 seed=8",
            ]
            for i in 0..<24 {
                let kind = ["", " shared", " file=f\(i % 3) shared", ""][i % 4]
                lines.append("p mmap m\(i) \(64 * (1 + i % 5))K\(kind)")
                lines.append("p touch m\(i) \(i % 3 == 0 ? "read" : "write")\(i % 2 == 0 ? " random=5 seed=\(i)" : "")")
            }
            lines += ["p mmap big 4M", "p touch big write", "p fork c", "c touch m0 write", "c touch big write random=9 seed=5"]
            text = lines.joined(separator: "\n")
        } else {
            text = Self.randomWorkload(seed: seed)
        }
        let workload = try WorkloadParser.parse(text, fileName: "tlb-\(seed).somw")
        var simulator = Simulator(machine: workload.machine)
        for statement in workload.statements { simulator.apply(statement) }
        #expect(simulator.errors.isEmpty, "seed \(seed): \(simulator.errors)")
        let mappings = simulator.processes.filter(\.alive).flatMap { Array($0.mappings.values) }
        // Not vacuous: mappings the census takes from the measure, and (seed 0) mappings it
        // still walks, each kind.
        #expect(mappings.contains { $0.tlbEntriesArePages }, "seed \(seed)")
        if seed == 0 {
            #expect(mappings.contains { $0.huge != nil } && mappings.contains { $0.pmdMapped != nil && !$0.isSingleOwner })
            #expect(mappings.contains { $0.isSingleOwner && $0.options.somPage == .size1G })
            #expect(mappings.contains { m in m.tlbEntriesArePages && (0..<m.pageCount).contains { m.pages.value(at: $0) == .zero } })
        }
        for (threads, split) in [(1, 1_000_000), (2, 1), (3, 2)] {
            simulator.measureThreads = threads
            simulator.splitMappingCount = split
            simulator.splitMappingChunks = split
            var prefixes = PrefixCache(groupCount: simulator.groups.count)
            let pass = simulator.processPass()
            #expect(pass.tlbPages.contains { $0 > 0 }, "seed \(seed)")
            let walked = simulator.census(prefixes: &prefixes, ownedAnonPages: pass.owned, tlbPages: nil)
            let taken = simulator.census(prefixes: &prefixes, ownedAnonPages: pass.owned, tlbPages: pass.tlbPages)
            #expect(taken == walked, "seed \(seed), \(threads) threads, parts of \(split)+")
            #expect(taken.processTLB == simulator.census().processTLB, "seed \(seed), \(threads) threads")
        }
    }

    /// The census takes the present pages of the own runs the measure's walk read whole
    /// (`PrefixCache.ownRunFolios`) instead of walking them again: the same census as the
    /// census that walks every run, on fleets whose workers write, fork children that share
    /// their runs and write again, unmap part of a mapping whose pages a child still maps and
    /// madvise(MADV_DONTNEED) part of their run, some under `thp=always`, on one thread and on
    /// two.
    @Test(arguments: 1...16 as ClosedRange<UInt64>)
    func censusTakesTheWalksOwnRunCounts(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9)
        var lines = ["somsim-workload 1"]
        if seed % 4 == 0 { lines.append("machine thp=always") }
        lines += ["spawn master", "master mmap heap \(2 + rng.next(below: 6))M", "master touch heap write"]
        var workers: [String] = []
        // (Unmapped and dropped pages at the end, once every child is forked and has written:
        // a later write into a hole would kill the worker.)
        var last: [String] = []
        for i in 0..<(20 + rng.next(below: 40)) {
            let parent = !workers.isEmpty && rng.next(below: 5) == 0 ? workers[Int(rng.next(below: UInt64(workers.count)))] : "master"
            let child = "w\(i)"
            lines.append("\(parent) fork \(child)")
            workers.append(child)
            let pattern = rng.next(below: 6) == 0 ? "length=\(4 * (1 + rng.next(below: 600)))K" : "random=\(1 + rng.next(below: 96)) seed=\(rng.next(below: 10_000))"
            lines.append("\(child) touch heap write \(pattern)")
            switch rng.next(below: 8) {
            case 0: lines.append("\(child) touch heap write random=\(1 + rng.next(below: 16)) seed=\(rng.next(below: 10_000))")
            case 1: last.append("\(child) madvise heap dontneed offset=\(4 * rng.next(below: 256))K length=\(4 * (1 + rng.next(below: 256)))K")
            case 2: last.append("\(child) munmap heap offset=\(4 * rng.next(below: 256))K length=\(4 * (1 + rng.next(below: 64)))K")
            default: break
            }
        }
        lines += last
        let workload = try WorkloadParser.parse(lines.joined(separator: "\n") + "\n", fileName: "own-runs-\(seed).somw")
        var simulator = Simulator(machine: workload.machine)
        for statement in workload.statements { simulator.apply(statement) }
        #expect(simulator.errors.isEmpty, "seed \(seed): \(simulator.errors)")
        for threads in [1, 2] {
            simulator.measureThreads = threads
            var pass = simulator.processPass()
            // Not vacuous: runs counted by the walk (under `thp=always` a write takes the
            // page-by-page path, which keeps no own runs: all left to the census).
            if seed % 4 != 0 {
                #expect(pass.prefixes.ownRunFolios.count >= 5, "seed \(seed), \(threads) threads: \(pass.prefixes.ownRunFolios.count) runs counted")
            }
            var walked = PrefixCache(groupCount: simulator.groups.count)
            #expect(walked.ownRunFolios.isEmpty)
            let taken = simulator.census(prefixes: &pass.prefixes, ownedAnonPages: pass.owned, tlbPages: pass.tlbPages)
            let census = simulator.census(prefixes: &walked, ownedAnonPages: pass.owned, tlbPages: pass.tlbPages)
            #expect(taken == census, "seed \(seed), \(threads) threads")
            #expect(taken.folios == simulator.census().folios, "seed \(seed), \(threads) threads")
        }
    }

    @Test func parallelMeasureIsTheSerialOne() throws {
        let text = """
            somsim-workload 1
            spawn master
            master mmap heap 2M
            master mmap file 1M shared
            master touch heap write
            master touch file write
            repeat 300 as i {
              master fork w{i}
              w{i} touch heap write random=8 seed={i}
              w{i} touch file read random=4 seed={i}
            }
            measure forked
            w7 exit
            master touch heap write random=100 seed=1
            """
        let workload = try WorkloadParser.parse(text, fileName: "fleet.somw")
        let serial = replay(workload) { $0.measureThreads = 1 }
        #expect(serial.measures[0].processes.count == 301)
        // Workers share the master's pages: the sums really go through shared runs.
        #expect(serial.measures[0].processes.contains { $0.sharedDirtyBytes > 0 && $0.privateDirtyBytes > 0 })
        for threads in 2...7 {
            let parallel = replay(workload) { $0.measureThreads = threads }
            #expect(parallel == serial, "\(threads) threads")
        }
        // The census behind the schemes is counted on every core too: the same, field by field
        // and process by process, as on one thread (the report holds only its sums).
        var simulator = Simulator(machine: workload.machine)
        for statement in workload.statements { simulator.apply(statement) }
        let owned = (0..<300).map { UInt64($0) * 1_000 }
        var prefixes = PrefixCache(groupCount: simulator.groups.count)
        simulator.measureThreads = 1
        let one = simulator.census(prefixes: &prefixes, ownedAnonPages: owned)
        #expect(one.processTLB.count == 300)
        for threads in 2...7 {
            simulator.measureThreads = threads
            #expect(simulator.census(prefixes: &prefixes, ownedAnonPages: owned) == one, "\(threads) threads")
        }
    }
}
