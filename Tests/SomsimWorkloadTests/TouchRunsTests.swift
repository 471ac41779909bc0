import Testing

@testable import SomsimWorkload

/// The pages a touch reaches: the one walk the engine and the probe share.
@Suite struct TouchRunsTests {
    @Test func anEmptyRangeReachesNoPage() {
        // simulate once walked [5..<5] where validate walked nothing.
        for pattern: TouchPattern in [.every, .stride(bytes: 1), .stride(bytes: 8192), .random(count: 3, seed: 1)] {
            #expect(pattern.pageRuns(5..<5, pageBytes: 4096) == [], "\(pattern)")
        }
    }

    @Test func everyPageAndShortStridesReachTheWholeRange() {
        #expect(TouchPattern.every.pageRuns(3..<9, pageBytes: 4096) == [3..<9])
        #expect(TouchPattern.stride(bytes: 4096).pageRuns(3..<9, pageBytes: 4096) == [3..<9])
        #expect(TouchPattern.stride(bytes: 100).pageRuns(3..<9, pageBytes: 2 << 20) == [3..<9])
    }

    @Test func aLongStrideReachesThePageOfEveryStrideThByte() {
        // 4096 + 1 bytes: bytes 0, 4097, 8194, 12291 → pages 0, 1, 2, 3 (adjacent: one run), then
        // byte 16388 → page 4 — all of 0..<5.
        #expect(TouchPattern.stride(bytes: 4097).pageRuns(0..<5, pageBytes: 4096) == [0..<5])
        // 3 pages: 10, 13, 16, 19 of 10..<20.
        #expect(TouchPattern.stride(bytes: 3 * 4096).pageRuns(10..<20, pageBytes: 4096) == [10..<11, 13..<14, 16..<17, 19..<20])
    }

    @Test func randomPagesAreTheSeededSampleInAscendingRuns() {
        let runs = TouchPattern.random(count: 40, seed: 7).pageRuns(100..<300, pageBytes: 4096)
        let pages = runs.flatMap { Array($0) }
        let expected = RandomPages.sample(count: 40, of: 200, seed: 7).map { 100 + $0 }
        #expect(pages == expected.sorted())
        #expect(pages.count == 40)
        for (a, b) in zip(runs, runs.dropFirst()) { #expect(a.upperBound < b.lowerBound, "runs are maximal and ascending") }
        // More pages asked for than the range has: every page.
        #expect(TouchPattern.random(count: 1000, seed: 7).pageRuns(0..<50, pageBytes: 4096) == [0..<50])
    }

    @Test func aByteRangeRoundsToWholePagesAndStopsAtTheMappingsEnd() {
        #expect(ByteRange.whole.pages(inMappingOf: 10, pageBytes: 4096) == 0..<10)
        #expect(ByteRange(offsetBytes: 4097, lengthBytes: 8191).pages(inMappingOf: 10, pageBytes: 4096) == 1..<2)
        #expect(ByteRange(offsetBytes: 10 * 4096).pages(inMappingOf: 10, pageBytes: 4096) == 10..<10)
        #expect(ByteRange(offsetBytes: 11 * 4096).pages(inMappingOf: 10, pageBytes: 4096) == nil)
        #expect(ByteRange(offsetBytes: 4096, lengthBytes: 10 * 4096).pages(inMappingOf: 10, pageBytes: 4096) == nil)
        #expect(ByteRange(offsetBytes: .max, lengthBytes: .max).pages(inMappingOf: 10, pageBytes: 4096) == nil)
    }

    @Test func hugePageSizesAreTheGeometrysPMDAndPUD() {
        #expect(HugePageSize.size2M.bytes == PageGeometry.pmdBytes)
        #expect(HugePageSize.size1G.bytes == PageGeometry.pudBytes)
        #expect(PageGeometry.pageBytes << UInt64(PageGeometry.pmdOrder) == PageGeometry.pmdBytes)
        #expect(PageTableLevel.allCases.map(\.spanShift) == [21, 30, 39])
        #expect(PageGeometry.entriesPerTable * 8 == PageGeometry.pageBytes)
    }
}

/// What a workload asks of a machine, in one walk (validate's setup reads it).
@Suite struct WorkloadUsageTests {
    @Test func oneWalkFindsSizesFilesAndSpawns() throws {
        let w = try WorkloadParser.parse(
            """
            somsim-workload 1
            machine hugetlb-2m=4 hugetlb-1g=1
            spawn a
            a mmap p 2M huge=2M
            a mmap s 1G huge=1G shared
            a mmap f 4K file=db
            a mmap g 2M huge=2M file=big
            a fork b
            b mmap f2 4K file=db
            spawn c
            c mmap o 4K som
            """, fileName: "usage.somw")
        let u = WorkloadUsage(w)
        #expect(u.spawns == 2)
        #expect(u.hugePageSizes == [.size2M, .size1G])
        #expect(u.hugetlbfsPageSizes == [.size2M, .size1G])
        #expect(u.hugeFilePageSizes == [.size2M])
        #expect(u.smallFiles)
        #expect(u.singleOwner)
        #expect(u.fileIDs == ["db", "big"])
        let none = WorkloadUsage(try WorkloadParser.parse("somsim-workload 1\nspawn a\na mmap x 4K\n", fileName: "none.somw"))
        #expect(none.spawns == 1 && none.hugePageSizes.isEmpty && none.hugetlbfsPageSizes.isEmpty && !none.smallFiles && !none.singleOwner && none.fileIDs.isEmpty)
    }
}
