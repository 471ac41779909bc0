import SomsimModel
import Testing

/// HugeTLB pools, reservations and COW; page tables; the memmap. Expectations by hand, checked
/// against the kernel (docs/kernel-facts/FINDINGS.md, sections 6 to 8).
@Suite struct HugeTLBTests {
    @Test func privateCOWTakesPagesOutsideTheOwnersReservation() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=4
            spawn parent
            parent mmap h 4M huge=2M
            measure mapped
            parent touch h write length=2M
            measure wrote
            parent fork child
            measure forked
            child touch h write length=2M
            measure child-copied
            child touch h write offset=2M length=2M
            measure child-took
            parent touch h write length=2M
            """)
        var system = report.measure("mapped").system
        #expect((system.hugetlb2MFree, system.hugetlb2MReserved) == (4, 2))
        system = report.measure("wrote").system
        #expect((system.hugetlb2MFree, system.hugetlb2MReserved) == (3, 1))
        #expect(report.measure("wrote").process("parent").privateHugetlbBytes == 2 * MiB)
        #expect(report.measure("wrote").process("parent").rssBytes == 0)  // HugeTLB is not in Rss
        for name in ["parent", "child"] {
            #expect(report.measure("forked").process(name).sharedHugetlbBytes == 2 * MiB)
        }
        let copied = report.measure("child-copied")
        #expect((copied.system.hugetlb2MFree, copied.system.hugetlb2MReserved) == (2, 1))
        #expect(copied.process("child").cowCopies == 1)
        #expect(copied.process("child").minorFaults == 1)
        #expect(copied.process("parent").privateHugetlbBytes == 2 * MiB)
        #expect(copied.process("child").privateHugetlbBytes == 2 * MiB)
        // The child has no reservation: the parent's reserved page stays reserved.
        let took = report.measure("child-took").system
        #expect((took.hugetlb2MFree, took.hugetlb2MReserved) == (1, 1))
        let parent = report.measure("end").process("parent")
        #expect(parent.cowReuses == 1)
        #expect(parent.minorFaults == 2)
        #expect(report.measure("end").system.hugetlb2MFree == 1)
    }

    @Test func childCOWWithThePoolDryRaisesSIGBUS() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=2
            spawn parent
            parent mmap h 4M huge=2M
            parent touch h write
            parent fork child
            child touch h write length=2M
            """)
        let child = report.measure("end").process("child")
        #expect(child.signals == [.SIGBUS])
        #expect(!child.alive)
        #expect(child.minorFaults == 0)  // a fault that fails is not counted
        #expect(report.measure("end").system.hugetlb2MFree == 0)
        #expect(report.measure("end").process("parent").privateHugetlbBytes == 4 * MiB)
    }

    @Test func ownerCOWWithThePoolDryTakesThePageBackFromTheChild() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=2
            spawn parent
            parent mmap h 4M huge=2M
            parent touch h write
            parent fork child
            parent touch h write length=2M
            measure stolen
            child touch h read offset=2M
            measure other-page
            child touch h read length=2M
            """)
        let stolen = report.measure("stolen")
        #expect(stolen.process("parent").cowReuses == 1)
        #expect(stolen.process("parent").minorFaults == 3)
        #expect(stolen.system.hugetlb2MFree == 0)
        #expect(stolen.process("child").sharedHugetlbBytes == 2 * MiB)  // only page 1 is left
        #expect(stolen.process("parent").privateHugetlbBytes == 2 * MiB)
        #expect(report.measure("other-page").process("child").alive)
        #expect(report.measure("end").process("child").signals == [.SIGBUS])
    }

    @Test func mappingMoreThanThePoolCanReserveIsENOMEM() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=2
            spawn p
            p mmap a 6M huge=2M
            p mmap b 6M huge=2M shared
            p mmap c 4M huge=2M
            measure reserved
            p munmap c
            """)
        #expect(report.errors.map { $0.errno } == [.ENOMEM, .ENOMEM])
        #expect(report.errors.map { $0.line } == [4, 5])
        #expect(report.measure("reserved").system.hugetlb2MReserved == 2)
        #expect(report.measure("end").system.hugetlb2MReserved == 0)
    }

    @Test func readsAllocateHugePagesAndDontneedRestoresTheReservation() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=4
            spawn p
            p mmap h 4M huge=2M
            p touch h read length=2M
            measure read
            p madvise h dontneed length=2M
            measure dropped
            p touch h write length=2M
            """)
        let read = report.measure("read")
        #expect((read.system.hugetlb2MFree, read.system.hugetlb2MReserved) == (3, 1))
        #expect(read.process("p").minorFaults == 1)
        let dropped = report.measure("dropped").system
        #expect((dropped.hugetlb2MFree, dropped.hugetlb2MReserved) == (4, 2))
        let end = report.measure("end").system
        #expect((end.hugetlb2MFree, end.hugetlb2MReserved) == (3, 1))
    }

    @Test func sharedHugeTLBIsNotCopiedAtFork() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=2
            spawn parent
            parent mmap h 4M huge=2M shared
            parent touch h write
            parent fork child
            child touch h read
            """)
        let end = report.measure("end")
        #expect(end.process("child").minorFaults == 2)
        #expect(end.process("child").sharedHugetlbBytes == 4 * MiB)
        #expect((end.system.hugetlb2MFree, end.system.hugetlb2MReserved) == (0, 0))
    }

    /// kernel-facts 10: a read maps a private HugeTLB page read-only, so the write after it is a
    /// fault of its own that reuses the page; a read by a child takes an unreserved page.
    @Test func privateReadThenWriteTakesAReuseFault() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=8
            spawn parent
            parent mmap h 8M huge=2M
            parent touch h read length=2M
            measure read
            parent touch h write length=2M
            measure written
            parent touch h write length=2M
            parent touch h read offset=4M length=2M
            parent fork child
            child touch h write offset=4M length=2M
            measure child-copied
            child touch h read offset=6M length=2M
            child touch h write offset=6M length=2M
            measure child-own-page
            parent touch h write offset=4M length=2M
            """)
        let read = report.measure("read")
        #expect((read.system.hugetlb2MFree, read.system.hugetlb2MReserved) == (7, 3))
        #expect((read.process("parent").minorFaults, read.process("parent").cowReuses) == (1, 0))
        #expect(read.process("parent").privateHugetlbBytes == 2 * MiB)
        let written = report.measure("written")
        #expect((written.system.hugetlb2MFree, written.system.hugetlb2MReserved) == (7, 3))
        #expect((written.process("parent").minorFaults, written.process("parent").cowReuses) == (2, 1))
        // The parent read page 2 (6, 2); the child's write copies it from an unreserved page.
        let copied = report.measure("child-copied")
        #expect((copied.system.hugetlb2MFree, copied.system.hugetlb2MReserved) == (5, 2))
        #expect((copied.process("child").minorFaults, copied.process("child").cowCopies) == (1, 1))
        // The child has no reservation: its read of page 3 takes an unreserved page; its write reuses it.
        let own = report.measure("child-own-page")
        #expect((own.system.hugetlb2MFree, own.system.hugetlb2MReserved) == (4, 2))
        #expect((own.process("child").minorFaults, own.process("child").cowReuses) == (3, 1))
        let end = report.measure("end")
        #expect((end.process("parent").minorFaults, end.process("parent").cowReuses, end.process("parent").cowCopies) == (4, 2, 0))
        #expect((end.system.hugetlb2MFree, end.system.hugetlb2MReserved) == (4, 2))
        // Page 0 is still shared; the parent's page 2 and the child's pages 2 and 3 are private.
        #expect((end.process("parent").sharedHugetlbBytes, end.process("parent").privateHugetlbBytes) == (2 * MiB, 2 * MiB))
        #expect((end.process("child").sharedHugetlbBytes, end.process("child").privateHugetlbBytes) == (2 * MiB, 4 * MiB))
    }

    /// kernel-facts 11a-11d: a private mapping of a HugeTLB file reserves every page, maps the
    /// file's cached pages read-only and copies them into its reservation when written; pages the
    /// file does not have become its own.
    @Test func privateMappingOfACachedHugeTLBFilePage() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=8
            spawn a
            a mmap s 4M huge=2M shared file=db
            a touch s write length=2M
            spawn b
            b mmap p 4M huge=2M file=db
            measure b-mapped
            b touch p read length=2M
            measure b-read
            b touch p write length=2M
            measure b-wrote
            b touch p read offset=2M
            measure b-read-hole
            b touch p write offset=2M
            a touch s read offset=2M
            measure a-read
            spawn c
            c mmap p 4M huge=2M file=db
            c touch p write length=2M
            measure c-wrote
            c munmap p
            """)
        #expect(report.errors.isEmpty)
        let mapped = report.measure("b-mapped").system
        #expect((mapped.hugetlb2MFree, mapped.hugetlb2MReserved) == (7, 3))
        let read = report.measure("b-read")
        #expect((read.system.hugetlb2MFree, read.system.hugetlb2MReserved) == (7, 3))
        #expect(read.process("b").minorFaults == 1)
        #expect(read.process("a").sharedHugetlbBytes == 2 * MiB)
        #expect(read.process("b").sharedHugetlbBytes == 2 * MiB)
        let wrote = report.measure("b-wrote")
        #expect((wrote.system.hugetlb2MFree, wrote.system.hugetlb2MReserved) == (6, 2))
        #expect((wrote.process("b").minorFaults, wrote.process("b").cowCopies) == (2, 1))
        #expect(wrote.process("a").privateHugetlbBytes == 2 * MiB)
        #expect(wrote.process("b").privateHugetlbBytes == 2 * MiB)
        // Page 1 is not in the cache: b's read makes a page of its own from its reservation.
        let hole = report.measure("b-read-hole").system
        #expect((hole.hugetlb2MFree, hole.hugetlb2MReserved) == (5, 1))
        let aRead = report.measure("a-read")
        #expect((aRead.system.hugetlb2MFree, aRead.system.hugetlb2MReserved) == (4, 0))
        #expect((aRead.process("b").minorFaults, aRead.process("b").cowReuses) == (4, 1))
        #expect(aRead.process("a").privateHugetlbBytes == 4 * MiB)
        #expect(aRead.process("b").privateHugetlbBytes == 4 * MiB)
        // A write with no read first copies in the same fault: no COW copy counted.
        let cWrote = report.measure("c-wrote")
        #expect((cWrote.system.hugetlb2MFree, cWrote.system.hugetlb2MReserved) == (3, 1))
        #expect((cWrote.process("c").minorFaults, cWrote.process("c").cowCopies) == (1, 0))
        let end = report.measure("end").system
        #expect((end.hugetlb2MFree, end.hugetlb2MReserved) == (4, 0))
    }

    /// kernel-facts 11e, 11f: fork copies a private HugeTLB file mapping's page tables only once
    /// it has a page of its own (an anon_vma); a child's copies come from unreserved pages.
    @Test func forkOfAPrivateHugeTLBFileMapping() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=8
            spawn a
            a mmap s 4M huge=2M shared file=db
            a touch s write
            spawn d
            d mmap p 4M huge=2M file=db
            d touch p read length=2M
            d fork child
            measure forked
            child touch p read length=2M
            measure child-read
            d touch p write offset=2M
            d fork child2
            measure forked2
            child2 touch p write
            """)
        let forked = report.measure("forked")
        #expect((forked.system.hugetlb2MFree, forked.system.hugetlb2MReserved) == (6, 2))
        #expect((forked.process("child").sharedHugetlbBytes, forked.process("child").privateHugetlbBytes) == (0, 0))
        #expect(forked.process("d").sharedHugetlbBytes == 2 * MiB)
        let childRead = report.measure("child-read")
        #expect(childRead.process("child").minorFaults == 1)
        #expect((childRead.system.hugetlb2MFree, childRead.system.hugetlb2MReserved) == (6, 2))
        let forked2 = report.measure("forked2")
        #expect((forked2.system.hugetlb2MFree, forked2.system.hugetlb2MReserved) == (5, 1))
        #expect((forked2.process("d").minorFaults, forked2.process("d").cowCopies) == (2, 0))
        #expect(forked2.process("child2").sharedHugetlbBytes == 4 * MiB)
        #expect(forked2.process("d").sharedHugetlbBytes == 4 * MiB)
        let end = report.measure("end")
        #expect((end.system.hugetlb2MFree, end.system.hugetlb2MReserved) == (3, 1))
        #expect((end.process("child2").minorFaults, end.process("child2").cowCopies) == (2, 2))
        #expect((end.process("d").sharedHugetlbBytes, end.process("d").privateHugetlbBytes) == (2 * MiB, 2 * MiB))
    }

    /// kernel-facts 11g: the private mapping must reserve even the page the file has cached.
    @Test func privateMappingOfACachedPageNeedsAFreeUnreservedPage() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=2
            spawn a
            a mmap s 4M huge=2M shared file=db
            a touch s write length=2M
            a mmap p 2M huge=2M file=db
            """)
        #expect(report.errors.map { $0.errno } == [.ENOMEM])
        #expect(report.errors.map { $0.line } == [6])
    }
}

@Suite struct PageTableTests {
    /// Typed up front, so that type-checking the literal stays fast on a loaded machine.
    static let cases: [(String, String, UInt64)] = [
        // One 4 KiB page needs a PTE, a PMD and a PUD table (kernel: VmPTE +12 kB).
        ("m 4K", "write length=4K", 12 * KiB),
        // 4 MiB of 4 KiB pages, 2 MiB aligned: 2 PTE tables, 1 PMD, 1 PUD (kernel: +16 kB).
        ("m 4M", "write", 16 * KiB),
        // A 2 MiB HugeTLB page is a PMD entry: PMD and PUD tables (kernel: +8 kB).
        ("m 2M huge=2M", "write", 8 * KiB),
        // A 1 GiB HugeTLB page is a PUD entry: the PUD table alone (kernel: +4 kB).
        ("m 1G huge=1G", "write", 4 * KiB),
    ]

    @Test(arguments: cases)
    func tablesForEachPageSize(mapping: String, touch: String, expected: UInt64) throws {
        let report = try simulate(
            """
            machine hugetlb-2m=1 hugetlb-1g=1
            spawn p
            p mmap \(mapping)
            p touch m \(touch)
            measure touched
            p munmap m
            """)
        #expect(report.measure("touched").process("p").pageTableBytes == expected)
        #expect(report.measure("end").process("p").pageTableBytes == 0)  // kernel: back to baseline
    }

    @Test func dontneedReclaimsOnlyPTETablesItCoversWhole() throws {
        let report = try simulate(
            """
            spawn p
            p mmap whole 2M
            p mmap halves 2M
            p touch whole write
            p touch halves write
            measure before
            p madvise whole dontneed
            p madvise halves dontneed length=1M
            p madvise halves dontneed offset=1M length=1M
            """)
        #expect(report.measure("before").process("p").pageTableBytes == 16 * KiB)
        // kernel-facts 7f: one call over the whole 2 MiB frees its table; two halves do not.
        #expect(report.measure("end").process("p").pageTableBytes == 12 * KiB)
    }

    @Test func forkCopiesTablesOnlyForVMAsWithAnonymousPages() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap private 64K
            parent touch private write
            parent mmap shared 64K shared
            parent touch shared write
            parent fork child
            """)
        let end = report.measure("end")
        // Both mappings sit in one 2 MiB region: one PTE + PMD + PUD table in the parent.
        #expect(end.process("parent").pageTableBytes == 12 * KiB)
        #expect(end.process("child").pageTableBytes == 12 * KiB)
        // PGDs are 8 KiB with page-table isolation (the default, pti=on).
        #expect(end.system.pageTableBytes == 2 * (12 + 8) * KiB)
    }

    @Test func systemPageTablesUseAOnePageTopLevelWithoutPTI() throws {
        let report = try simulate(
            """
            machine pti=off
            spawn p
            """)
        #expect(report.measure("end").system.pageTableBytes == 4 * KiB)
    }
}

@Suite struct MemmapTests {
    /// Typed up front: left to inference, this literal can exceed the type checker's time limit
    /// on a loaded machine.
    static let cases: [(String, UInt64)] = [
        // 16 GiB = 128 sections of 128 MiB; each needs 128 MiB / 4 KiB * 64 B = 2 MiB = 512 pages.
        ("", UInt64(128 * 512)),
        // RAM that ends inside a section still pays for the whole section.
        ("ram=129M", UInt64(2 * 512)),
        // HVO with one kept page frees 7 of the 8 vmemmap pages of each 2 MiB page (kernel: -70).
        ("hugetlb-2m=10 hvo=on", UInt64(128 * 512 - 70)),
        // ... and 4095 of the 4096 of a 1 GiB page (kernel: -4095).
        ("hugetlb-1g=1 hvo=on", UInt64(128 * 512 - 4095)),
        // Keeping two pages (kernels 5.14-5.17) frees 6 per 2 MiB page.
        ("hugetlb-2m=10 hvo=on hvo-kept=2", UInt64(128 * 512 - 60)),
        // Without HVO the pools change nothing.
        ("hugetlb-2m=10 hugetlb-1g=1", UInt64(128 * 512)),
    ]

    @Test(arguments: cases)
    func memmapPages(machine: String, expected: UInt64) throws {
        let report = try simulate(machine.isEmpty ? "" : "machine \(machine)\n")
        #expect(report.measure("end").system.memmapPages == expected)
    }

    @Test func structPageSchemeIsOneSixtyFourthOfRAM() throws {
        let report = try simulate("machine ram=1T\n")
        let scheme = report.measure("end").schemes[0]
        #expect(scheme.scheme == "struct-page")
        #expect(scheme.metadataBytes == 16 * GiB)
        #expect(scheme.metadataRatio == 0.015625)
    }
}
