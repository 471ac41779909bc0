import SomsimModel
import SomsimWorkload
import Testing

/// The single-owner pool as the proposal describes it (issue 11): 1 GiB chunks of 512 units of
/// 2 MiB with a bitmap, a list of units per process, 4 KiB / 2 MiB / 1 GiB pages. Every expected
/// value is worked out by hand in the comment beside it.
@Suite struct SomPoolTests {
    func schemes(_ body: String, profile: Profile = .x86_64) throws -> SchemeRun {
        SchemeRun.run(try WorkloadParser.parse("somsim-workload 1\n" + body, fileName: "test.somw"), profile: profile)
    }

    @Test func tenThousandSmallProcessesHoldTenThousandUnits() throws {
        let report = try simulate(
            """
            machine ram=64G
            repeat 10000 as i {
              spawn p{i}
              p{i} mmap m 4K som
              p{i} touch m write
            }
            """)
        let system = report.measure("end").system
        // One 2 MiB unit per process, whatever it maps of it: 10,000 units.
        #expect(system.somUnitsUsed == 10_000)
        // ⌈10,000 / 512⌉ = 20 chunks; 19 full (9,728 units), the last holds 272 and has 240 free.
        #expect(system.somPoolChunks == 20)
        #expect(system.somUnitsFree == 240)
        #expect(system.somFragmentedUnits == 240)
        // Each unit maps 4 KiB of its 2 MiB: 10,000 × (2,097,152 − 4,096) = 20,930,560,000 B.
        #expect(system.somStrandedBytes == 20_930_560_000)
        // The som scheme's pool: the same 20 chunks, 20 × 64-byte bitmaps, and 10,000 list
        // entries of 16 B plus 10,000 × 64 B of per-process state.
        let point = try schemes("machine ram=64G\nrepeat 10000 as i {\n spawn p{i}\n p{i} mmap m 4K som\n p{i} touch m write\n}").points.last!
        let som = point.result(.som)
        #expect(som.terms.contains { $0.name == "chunk bitmaps" && $0.bytes == 20 * 64 })
        let lists: Int64 = 10_000 * 16 + 10_000 * 64
        #expect(som.terms.contains { $0.name == "per-process block lists" && $0.bytes == lists })
        #expect(Schemes.poolLayout(point.census, .x86_64, point.options).strandedBytes == 20_930_560_000)
    }

    @Test func oneGiBPagesMapWithOneFaultEach() throws {
        let report = try simulate("machine ram=16G\nspawn a\na mmap m 4G som page=1G\na touch m write")
        let a = report.measure("end").process("a")
        // 4 GiB of 1 GiB pages: 4 faults, one PUD entry each, in one PUD table and no PMD or PTE table.
        #expect(a.minorFaults == 4)
        #expect(a.pageTableBytes == 4096)
        #expect(a.rssBytes == 4 * GiB)
        let system = report.measure("end").system
        // 4 whole chunks of 512 units, nothing stranded, nothing fragmented.
        #expect(system.somPoolChunks == 4)
        #expect(system.somUnitsUsed == 2048)
        #expect(system.somStrandedBytes == 0)
        #expect(system.somFragmentedUnits == 0)
        let point = try schemes("machine ram=16G\nspawn a\na mmap m 4G som page=1G\na touch m write").points.last!
        #expect(point.census.tlbEntries == [0, 0, 4])
    }

    @Test func smallPagesComeFromTheProcessUnits() throws {
        let report = try simulate("spawn a\na mmap m 2M som page=4K\na touch m write")
        let end = report.measure("end")
        // 512 faults of 4 KiB, one PTE table (plus PMD and PUD tables), one unit.
        #expect(end.process("a").minorFaults == 512)
        #expect(end.process("a").pageTableBytes == 3 * 4096)
        #expect(end.system.somUnitsUsed == 1)
        #expect(end.system.somStrandedBytes == 0)
    }

    @Test func ownChunksFirstThenTheLowestChunkWithRoom() throws {
        let report = try simulate(
            """
            spawn a
            spawn b
            spawn c
            a mmap x 2M som
            a touch x write
            b mmap g 1G som page=1G
            b touch g write
            a mmap y 2M som
            a touch y write
            c mmap z 2M som
            c touch z write
            measure three
            a exit
            """)
        // a takes unit 0 of chunk 0; b's 1 GiB page needs a whole free chunk: chunk 1 (grown);
        // a's second unit comes from its own chunk 0; c's from the lowest chunk with room, 0.
        let three = report.measure("three").system
        #expect(three.somPoolChunks == 2)
        #expect(three.somUnitsUsed == 515)
        #expect(three.somFragmentedUnits == 512 - 3)
        // a's exit frees its 2 units: chunk 0 keeps c's.
        let end = report.measure("end").system
        #expect(end.somUnitsUsed == 513)
        #expect(end.somFragmentedUnits == 511)
    }

    @Test func unitsGoBackWhenTheirLastPageGoes() throws {
        let report = try simulate(
            """
            spawn a
            a mmap m 4M som page=4K
            a touch m write
            measure two
            a madvise m dontneed length=2M
            measure one
            a madvise m dontneed offset=2M length=4K
            measure holed
            a munmap m
            """)
        // 4 MiB of 4 KiB pages: 2 units. Dropping the first 2 MiB frees its unit; dropping one
        // page of the second leaves the unit held with 4 KiB stranded; munmap frees the last,
        // and the growing pool gives its empty chunk back.
        #expect(report.measure("two").system.somUnitsUsed == 2)
        #expect(report.measure("one").system.somUnitsUsed == 1)
        #expect(report.measure("one").system.somStrandedBytes == 0)
        #expect(report.measure("holed").system.somUnitsUsed == 1)
        #expect(report.measure("holed").system.somStrandedBytes == 4096)
        #expect(report.measure("end").system.somUnitsUsed == 0)
        #expect(report.measure("end").system.somPoolChunks == 0)
    }

    @Test func aFixedPoolRefusesWhatItCannotBack() throws {
        let report = try simulate("machine som-pool=1G\nspawn a\na mmap x 1G som\na mmap y 4K som\na touch x write")
        // 512 units committed to x; y needs one more of a 512-unit pool: ENOMEM.
        #expect(report.errors.map(\.errno) == [.ENOMEM])
        #expect(report.errors.first?.line == 5)
        #expect(report.measure("end").system.somUnitsUsed == 512)
        // A growing pool takes both.
        let grown = try simulate("spawn a\na mmap x 1G som\na mmap y 4K som\na touch x write\na touch y write")
        #expect(grown.errors.isEmpty)
        #expect(grown.measure("end").system.somPoolChunks == 2)
    }

    @Test func aFixedPoolWithoutAFreeChunkMaps2MiBPages() throws {
        let body = """
            machine som-pool=2G
            spawn p0
            spawn p1
            spawn p2
            spawn p3
            p0 mmap g 1G som page=1G
            p0 touch g write
            p1 mmap x 2M som
            p1 touch x write
            p0 exit
            p2 mmap y 2M som
            p2 touch y write
            p3 mmap g 1G som page=1G
            p3 touch g write
            """
        let report = try simulate(body)
        // p0's 1 GiB page took chunk 0 and p1's unit went to chunk 1; p0's exit freed chunk 0
        // and p2's unit went to its lowest free unit. Both chunks are partly used, so p3's
        // 1 GiB page falls back to 512 pages of 2 MiB: 512 faults.
        #expect(report.errors.isEmpty)
        #expect(report.measure("end").process("p3").minorFaults == 512)
        let system = report.measure("end").system
        #expect(system.somUnitsUsed == 514)
        #expect(system.somUnitsFree == 1024 - 514)
        let point = try schemes(body).points.last!
        #expect(point.census.processTLB.last?.entries == [0, 512, 0])
    }

    @Test func aMachineAllInThePoolCostsTheSourceAndTheBookkeeping() throws {
        func body(_ source: String) -> String { "machine ram=4G som-pool=4G som-source=\(source)\nspawn a\na mmap m 1G som page=1G\na touch m write" }
        // The pool is all 4 GiB of RAM: no memmap outside it. Bitmaps: 4 chunks × 512 bits = 4 × 64 B;
        // lists: 512 units × 16 B + 1 process × 64 B = 8,256 B.
        let bitmaps: Int64 = 4 * 64
        let lists: Int64 = 512 * 16 + 64
        let bookkeeping = bitmaps + lists
        let expected: [String: Int64] = [
            // HVO'd 1 GiB HugeTLB keeps 1 vmemmap page per GiB: 4 × 4,096.
            "hugetlb-hvo": 4 * 4096,
            "hugetlb-1g": 4 * 4096,
            // Without HVO, every 4 KiB keeps its 64-byte struct page: 4 GiB / 4 KiB × 64.
            "hugetlb": (4 << 30) / 4096 * 64,
            // HVO'd 2 MiB HugeTLB: 2,048 pages × 1 kept page.
            "hugetlb-2m": 2048 * 4096,
            // devdax keeps 2 of 8 vmemmap pages per 2 MiB: 2,048 × 2 × 4,096.
            "devdax": 2048 * 2 * 4096,
            "external": 0,
        ]
        for (source, metadata) in expected {
            let point = try schemes(body(source)).points.last!
            let som = point.result(.som)
            #expect(som.metadataBytes == UInt64(metadata + bookkeeping), "\(source)")
            #expect(som.terms.first { $0.name.hasPrefix("memmap") }?.bytes == 0, "\(source)")
        }
    }

    @Test func hugeTLBMemoryCountsTheSameUnderHVOAndSom() throws {
        let point = try schemes("machine ram=16G hugetlb-1g=8 hvo=on\nspawn a").points.last!
        // 4,194,304 frames × 64 B − 8 pages × 4,095 freed vmemmap pages × 4,096 B.
        #expect(point.result(.hvo).metadataBytes == 268_435_456 - 134_184_960)
        #expect(point.result(.som).metadataBytes == point.result(.hvo).metadataBytes)
    }

    @Test func somPlusMemdescCountsNoDescriptorsForPoolMemory() throws {
        let point = try schemes("machine ram=4G som-pool=4G som-source=external\nspawn a\na mmap m 1G som page=1G\na touch m write").points.last!
        // Every frame is in the pool: no per-page words, no folio descriptors; one ptdesc per
        // page-table page (1 PUD table + 2 PGD pages with PTI = 3 × 64 B) and the bookkeeping.
        let expected: UInt64 = 3 * 64 + 4 * 64 + 512 * 16 + 64
        #expect(point.result(.somMemdesc).metadataBytes == expected)
    }
}

/// TLB reach and walk loads from each process's page-size mix.
@Suite struct TLBModelTests {
    func figures(_ body: String, profile: Profile = .x86_64) throws -> [TLBFigures] {
        let run = SchemeRun.run(try WorkloadParser.parse("somsim-workload 1\n" + body, fileName: "test.somw"), profile: profile)
        return TLBModel.figures(run.points.last!.census, profile)
    }

    static let mix = """
        spawn small
        small mmap m 64M
        small touch m write
        spawn large
        large mmap m 64M som
        large touch m write
        spawn giant
        giant mmap m 2G som page=1G
        giant touch m write
        """

    @Test func walkLoadsFollowThePageSizes() throws {
        let native = try figures("machine ram=16G\n" + Self.mix)
        // 4 KiB pages walk 4 levels, 2 MiB pages 3, 1 GiB pages 2.
        #expect(native.map(\.nativeLoads) == [4, 3, 2])
        #expect(native.map(\.nestedLoads) == [nil, nil, nil])
        // Reach: 1,536 STLB entries × 4 KiB = 6 MiB of the 64 MiB; 32 × 2 MiB = 64 MiB; 2 × 1 GiB.
        #expect(native.map(\.l2ReachBytes) == [6 * MiB, 64 * MiB, 2 * GiB])
        #expect(native.map(\.l1ReachBytes) == [64 * 4 * KiB, 32 * 2 * MiB, 2 * GiB])
        // 4-level guest on a 4-level host backed by 4 KiB pages: n·m + n + m with m = 4 and
        // n = 4, 3, 2: 24, 19, 14.
        let nested = try figures("machine ram=16G virt=4x4\n" + Self.mix)
        #expect(nested.map(\.nestedLoads) == [24, 19, 14])
        // Host 2 MiB pages (m = 3): 19, 15, 11. Host 1 GiB (m = 2): 14, 11, 8.
        #expect(try figures("machine ram=16G virt=4x4 host-page=2M\n" + Self.mix).map(\.nestedLoads) == [19, 15, 11])
        #expect(try figures("machine ram=16G virt=4x4 host-page=1G\n" + Self.mix).map(\.nestedLoads) == [14, 11, 8])
        // 5-level guest and host, 4 KiB: 5·5 + 5 + 5 = 35; a 4-level guest on a 5-level host: 4·5 + 4 + 5 = 29.
        #expect(try figures("machine ram=16G virt=5x5\n" + Self.mix).map(\.nestedLoads) == [35, 29, 23])
        #expect(try figures("machine ram=16G virt=4x5\n" + Self.mix).map(\.nestedLoads) == [29, 23, 17])
        // guest-page=2M makes every guest page 2 MiB: n = 3 for all, m = 4: 19.
        #expect(try figures("machine ram=16G virt=4x4 guest-page=2M\n" + Self.mix).map(\.nestedLoads) == [19, 19, 19])
        // A 2 MiB guest page backed by 4 KiB host pages takes 4 KiB entries: 1,536 × 4 KiB.
        #expect(nested[1].nestedL2ReachBytes == 6 * MiB)
    }

    @Test func loadsPerMissWeighTheUncoveredBytes() throws {
        var profile = Profile.x86_64
        profile[.tlbL21GEntries] = 1
        let f = try figures("machine ram=16G\nspawn p\np mmap x 64M\np touch x write\np mmap g 2G som page=1G\np touch g write", profile: profile)[0]
        // 4 KiB: 16,384 entries, 1,536 covered: 64 MiB − 6 MiB = 60,817,408 B uncovered, 4 loads.
        // 1 GiB: 2 entries, 1 covered: 1,073,741,824 B uncovered, 2 loads.
        // (60,817,408 × 4 + 1,073,741,824 × 2) / (60,817,408 + 1,073,741,824) = 2,390,753,280 / 1,134,559,232.
        #expect(f.entries == [16384, 0, 2])
        #expect(f.l2ReachBytes == 6 * MiB + GiB)
        #expect(f.nativeLoads == 2_390_753_280.0 / 1_134_559_232.0)
    }
}
