import SomsimModel
import SomsimWorkload
import Testing

/// The published figures, each read from the tool's own output (a scheme run on a workload),
/// never from a constant copied into the test. Sources: ../shared/BRIEF.md, "The material".
@Suite struct PublishedFigureTests {
    func run(_ body: String, profile: Profile = .x86_64) throws -> SchemeRun {
        SchemeRun.run(try WorkloadParser.parse("somsim-workload 1\n" + body, fileName: "test.somw"), profile: profile)
    }

    /// Rounds a ratio to one decimal of a percent, as the figures are quoted.
    func percent1(_ ratio: Double) -> Double { (ratio * 1000).rounded() / 10 }

    @Test func structPageIsOneSixtyFourthOfRAM() throws {
        let point = try run("machine ram=24G\nspawn p\np mmap a 64M\np touch a write").points.last!
        let structPage = point.result(.structPage)
        #expect(structPage.metadataRatio == 0.015625)  // 1.5625%, "about 1.6%"
        #expect(percent1(structPage.metadataRatio) == 1.6)
    }

    @Test(arguments: [(UInt64(2), UInt64(6), 1.2), (UInt64(1), UInt64(7), 1.4)])
    func hvoFreesVmemmapPagesPer2MiB(kept: UInt64, freedPages: UInt64, published: Double) throws {
        // 8000 pages of 2 MiB: what 16 GiB holds beside its memmap and free-page reserve, in
        // round numbers. The figure is HVO's share of the memory in the pool.
        let point = try run("machine ram=16G hugetlb-2m=8000 hvo=on hvo-kept=\(kept)").points.last!
        #expect(point.census.hugetlbPoolPages[.size2M] == 8000)
        let freedBytes = point.saving(.hvo)
        #expect(UInt64(freedBytes) / 8000 / 4096 == freedPages)
        #expect(UInt64(freedBytes) / 8000 == freedPages * 4 * 1024)  // 24 KiB with kept=2
        #expect(percent1(Double(freedBytes) / Double(8000 << 21)) == published)
    }

    @Test func hvoFrees4095PagesPer1GiB() throws {
        let point = try run("machine ram=8G hugetlb-1g=7 hvo=on").points.last!
        #expect(point.census.hugetlbPoolPages[.size1G] == 7)
        #expect(UInt64(point.saving(.hvo)) / 7 / 4096 == 4095)
    }

    @Test func memdescCosts608BytesFor256KiBAnonymousAllocation() throws {
        let mix = AllocMix(ramBytes: 1 << 30, fillPercent: 100.0 / 4096, classes: [.init(sizeBytes: 256 << 10, percent: 100)])
        let workload = try WorkloadParser.parse(mix.text(), fileName: "mix.somw")
        let point = SchemeRun.run(workload).point("filled")!
        let rows = point.result(.memdesc).allocations
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect((row.kind, row.order, row.count) == (.anon, 6, 1))
        #expect(row.bytesEach == 608)
        #expect((row.ratio * 10000).rounded() / 100 == 0.23)
    }

    @Test func virtualizedWalkOf4LevelGuestOn4LevelHostIs24Loads() {
        let rows = TLBWalk.table(guestTableLevels: 4, hostTableLevels: 4, .x86_64)
        let small = rows.first { $0.guestPageBytes == 4096 && $0.hostPageBytes == 4096 }!
        #expect(small.loads == 24)
        let gigantic = rows.first { $0.guestPageBytes == 1 << 30 && $0.hostPageBytes == 1 << 30 }!
        #expect(gigantic.loads == 8)
    }
}

@Suite struct SchemeModelTests {
    func run(_ body: String) throws -> SchemeRun {
        SchemeRun.run(try WorkloadParser.parse("somsim-workload 1\n" + body, fileName: "test.somw"))
    }

    @Test func structPageComesFirstAndTermsAddUp() throws {
        let point = try run("spawn p\np mmap a 8M\np touch a write").points.last!
        #expect(point.results.first?.scheme == .structPage)
        #expect(point.results.map(\.scheme) == SchemeName.allCases)
        for result in point.results {
            #expect(Int64(result.metadataBytes) == result.terms.reduce(0) { $0 + $1.bytes })
        }
    }

    @Test func memdescCostsMoreThanStructPageForOrder0Pages() throws {
        // All the memory a 64 MiB machine has for them in 4 KiB anonymous pages: 8 + 96 bytes a
        // page against 64.
        let classes: [AllocMix.SizeClass] = [.init(sizeBytes: 4096, percent: 100)]
        let fill = MemdescCrossover.fillablePercent(ramBytes: 64 << 20, classes: classes, profile: .x86_64)
        let mix = AllocMix(ramBytes: 64 << 20, fillPercent: fill, classes: classes)
        let point = SchemeRun.run(try WorkloadParser.parse(mix.text(), fileName: "mix.somw")).point("filled")!
        #expect(point.result(.memdesc).allocations.first { $0.order == 0 }?.bytesEach == 104)
        #expect(point.saving(.memdesc) < 0)
    }

    @Test func crossoverLiesWhereTheSweepChangesSign() throws {
        let found = try #require(try MemdescCrossover.find(small: 4096, large: 2 << 20, ramBytes: 1 << 30, profile: .x86_64))
        // Per page: 104 B for a 4 KiB folio, 8 + 96/512 B for a 2 MiB one, against 64 B; the
        // ~2% of RAM the allocations cannot fill (memmap, free-page reserve) costs 8 B against 64 B
        // and moves the crossover above the 58.2% of a machine filled to the last page.
        #expect(found > 59 && found < 59.5)
        let below = try MemdescCrossover.evaluate(small: 4096, large: 2 << 20, smallPercent: found - 0.5, ramBytes: 1 << 30, profile: .x86_64)
        let above = try MemdescCrossover.evaluate(small: 4096, large: 2 << 20, smallPercent: found + 0.5, ramBytes: 1 << 30, profile: .x86_64)
        #expect(below.savingBytes > 0 && above.savingBytes < 0)
    }

    @Test func somPoolRoundsSingleOwnerMemoryToChunks() throws {
        let point = try run("machine ram=4G\nspawn p\np mmap a 100M\np touch a write").points.last!
        #expect(point.census.singleOwnerPages == 25600)
        let som = point.result(.som)
        // 1 GiB leaves the memmap (16 MiB) for 1 vmemmap page (HVO on a 1 GiB page), a 64-byte
        // bitmap, and a 50-block list.
        let memmap = som.terms.first { $0.name.hasPrefix("memmap") }!
        #expect(memmap.bytes == Int64((4 << 30) - (1 << 30)) / 4096 * 64)
        #expect(som.terms.contains { $0.name == "chunk bitmaps" && $0.bytes == 64 })
        #expect(som.terms.contains { $0.name == "per-process block lists" && $0.bytes == 50 * 16 + 64 })
    }

    @Test func commonRowsCountTablesAndProcesses() throws {
        let point = try run("machine pti=off\nspawn p\np mmap a 4M\np touch a write\np fork c").points.last!
        #expect(point.common.pageTableBytes == 2 * (16 << 10) + 2 * 4096)  // 2 PTE + PMD + PUD each, and 2 PGDs
        #expect(point.census.processes == 2)
    }
}

@Suite struct ProfileTests {
    @Test func defaultsAreInKeyOrderWithSources() {
        #expect(Profile.x86_64.constants.map(\.key) == ProfileKey.allCases)
        #expect(Profile.x86_64.constants.allSatisfy { !$0.source.isEmpty && !$0.unit.isEmpty })
    }

    @Test func roundTripsThroughItsText() throws {
        var edited = Profile.x86_64
        edited[.memdescAnonFolioBytes] = 112
        edited[.sectionBytes] = 1 << 30
        #expect(try Profile.parse(edited.text()) == edited)
        #expect(try Profile.parse(Profile.x86_64.text()) == .x86_64)
        #expect(edited.overridden == [.sectionBytes, .memdescAnonFolioBytes])
    }

    @Test func aFileOverridesOnlyWhatItNames() throws {
        let profile = try Profile.parse("# mine\nstruct_page_bytes = 128   # a debug kernel\n\nsom_chunk_bytes=2G\n")
        #expect(profile[.structPageBytes] == 128)
        #expect(profile[.somChunkBytes] == 2 << 30)
        #expect(profile[.pageBytes] == 4096)
        #expect(KernelConstants(profile: profile).structPageBytes == 128)
    }

    @Test(arguments: [
        ("nope = 1", 1, "unknown constant 'nope'"),
        ("page_bytes 4096", 1, "expected NAME = VALUE"),
        ("page_bytes = 4096\npage_bytes = 8192", 2, "'page_bytes' is set twice"),
        ("\npage_bytes = lots", 2, "'lots' is not a non-negative integer"),
    ])
    func badLinesAreRefusedWithTheirLine(text: String, line: Int, message: String) {
        #expect {
            _ = try Profile.parse(text, fileName: "my.profile")
        } throws: { error in
            guard let error = error as? ProfileError else { return false }
            return error.line == line && error.message.hasPrefix(message) && error.description.hasPrefix("my.profile:\(line):")
        }
    }

    @Test func theProfileChangesTheSchemes() throws {
        var profile = Profile.x86_64
        profile[.memdescAnonFolioBytes] = 120
        let mix = AllocMix(ramBytes: 1 << 30, fillPercent: 100.0 / 4096, classes: [.init(sizeBytes: 256 << 10, percent: 100)])
        let workload = try WorkloadParser.parse(mix.text(), fileName: "mix.somw")
        let row = SchemeRun.run(workload, profile: profile).point("filled")!.result(.memdesc).allocations[0]
        #expect(row.bytesEach == 512 + 128)  // 120 rounded up to 16-byte steps
    }
}
