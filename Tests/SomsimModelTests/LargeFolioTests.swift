import SomsimModel
import SomsimWorkload
import Testing

/// Large folios (THP, mTHP) and single-owner mappings in the engine. Expectations by hand from
/// the kernel source cited in LargeFolios.swift (mm/huge_memory.c, mm/memory.c, Linux 6.18).
@Suite struct LargeFolioTests {
    func run(_ body: String) throws -> SchemeRun {
        SchemeRun.run(try WorkloadParser.parse("somsim-workload 1\n" + body, fileName: "test.somw"))
    }

    @Test func thpFaultMapsA2MiBFolioWithOnePMDEntry() throws {
        let report = try simulate("machine thp=always\nspawn p\np mmap a 4M\np touch a write\nmeasure m")
        let p = report.measure("m").process("p")
        #expect(p.minorFaults == 2)
        #expect(p.rssBytes == 4 * MiB)
        // PMD + PUD, and the PTE table the kernel deposits with each huge PMD (2 THPs: 2 tables);
        // measured with validation/thp-madvise.somw.
        #expect(p.pageTableBytes == 16 * KiB)
        let census = try run("machine thp=always\nspawn p\np mmap a 4M\np touch a write").points.last!.census
        #expect(census.folios == [FolioCount(kind: .anon, order: 9, count: 2)])
        #expect(census.tlbEntries == [0, 2, 0])
    }

    @Test func madviseModeNeedsHugepageAdvice() throws {
        let plain = try simulate("machine thp=madvise\nspawn p\np mmap a 2M\np touch a write")
        #expect(plain.measure("end").process("p").minorFaults == 512)
        let advised = try simulate("machine thp=madvise\nspawn p\np mmap a 2M\np madvise a hugepage\np touch a write")
        #expect(advised.measure("end").process("p").minorFaults == 1)
    }

    @Test func readMapsTheHugeZeroPageAndAWriteAllocatesTheTHP() throws {
        let report = try simulate("machine thp=always\nspawn p\np mmap a 2M\np touch a read\nmeasure r\np touch a write")
        #expect(report.measure("r").process("p").rssBytes == 0)
        #expect(report.measure("r").process("p").minorFaults == 1)
        #expect(report.measure("end").process("p").minorFaults == 2)
        #expect(report.measure("end").process("p").rssBytes == 2 * MiB)
    }

    @Test func writeToASharedTHPSplitsThePMDAndCopiesOnePage() throws {
        let report = try simulate(
            """
            machine thp=always pti=off
            spawn parent
            parent mmap a 2M
            parent touch a write
            parent fork child
            measure forked
            child touch a write length=4K
            measure copied
            parent touch a write length=4K
            measure parent-copied
            child exit
            parent touch a write offset=8K length=4K
            """)
        let forked = report.measure("forked")
        // copy_huge_pmd deposits a PTE table for the child's huge PMD too: PTE + PMD + PUD.
        #expect(forked.process("child").pageTableBytes == 12 * KiB)
        let copied = report.measure("copied").process("child")
        #expect((copied.minorFaults, copied.cowCopies) == (1, 1))
        #expect(copied.pageTableBytes == 12 * KiB)  // the split PMD uses the deposited table
        #expect(copied.privateDirtyBytes == 4 * KiB)
        // The parent's page 0 is mapped only by the parent now, but the folio is still mapped by
        // the child: a PTE-mapped large folio is reused only when this process maps all of it.
        let parent = report.measure("parent-copied").process("parent")
        #expect((parent.cowCopies, parent.cowReuses) == (1, 0))
        // With the child gone, the rest of the (now PTE-mapped) folio is the parent's alone.
        let end = report.measure("end").process("parent")
        #expect((end.cowCopies, end.cowReuses) == (1, 1))
    }

    @Test func exclusivePMDMappedTHPIsReusedWhole() throws {
        let report = try simulate("machine thp=always\nspawn p\np mmap a 2M\np touch a write\np fork c\nc exit\np touch a write")
        let p = report.measure("end").process("p")
        #expect((p.minorFaults, p.cowReuses, p.cowCopies) == (2, 1, 0))
    }

    @Test func mTHPAllocatesFoliosOfTheEnabledSize() throws {
        let point = try run("machine thp=always mthp=64K\nspawn p\np mmap a 1M\np touch a write").points.last!
        #expect(point.census.folios == [FolioCount(kind: .anon, order: 4, count: 16)])
        let report = try simulate("machine thp=always mthp=64K\nspawn p\np mmap a 1M\np touch a write")
        #expect(report.measure("end").process("p").minorFaults == 16)
    }

    @Test func singleOwnerMemoryIsNotInherited() throws {
        let report = try simulate(
            """
            spawn p
            p mmap pool 4M som
            p touch pool read
            p fork c
            c touch pool write
            """)
        #expect(report.measure("end").process("p").privateDirtyBytes == 4 * MiB)
        #expect(report.measure("end").process("p").minorFaults == 2)  // one per 2 MiB block
        #expect(report.measure("end").process("c").signals == [.SIGSEGV])
        let census = try run("spawn p\np mmap pool 4M som\np touch pool write").points.last!.census
        #expect(census.folios == [FolioCount(kind: .som, order: 9, count: 2)])
        #expect(census.singleOwnerBlocks == [2])
    }
}

extension LargeFolioTests {
    /// Measured on the kernel by validation/mthp-unaligned.somw; numbers by hand.
    @Test func unalignedMappingTakesA4KFaultThen64KFoliosAndCopiesAgainWithinASharedFolio() throws {
        let report = try simulate(
            """
            machine thp=always mthp=64K pti=off
            spawn parent
            parent mmap odd 1028K
            parent touch odd write
            measure folios
            parent fork child
            child touch odd write offset=4K length=4K
            parent touch odd write offset=4K length=8K
            measure parent-wrote
            """)
        // 257 pages starting 4 KiB below a 64 KiB boundary: 1 small fault + 16 folios of 16 pages.
        #expect(report.measure("folios").process("parent").minorFaults == 17)
        let wrote = report.measure("parent-wrote")
        // Page 1: the child copied it, yet the parent copies it again (the folio is still mapped by
        // the child); page 2: shared, copied. The original page 1 is mapped by no one any more.
        #expect(wrote.process("parent").cowCopies == 2)
        #expect(wrote.system.anonBytes == (257 + 1 + 2 - 1) * 4 * KiB)
    }
}
