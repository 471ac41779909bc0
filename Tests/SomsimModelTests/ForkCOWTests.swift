import SomsimModel
import Testing

/// Fork and copy-on-write, with expectations computed by hand and checked against the kernel
/// (docs/kernel-facts/FINDINGS.md, section 2; programs cow.c and anon.c).
@Suite struct ForkCOWTests {
    @Test func childCopiesThenParentReusesWhatTheChildCopied() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap heap 64K
            parent touch heap write
            measure before
            parent fork child
            measure forked
            child touch heap write length=32K
            measure child-wrote
            parent touch heap write
            measure parent-wrote
            """)
        let before = report.measure("before").process("parent")
        #expect(before.minorFaults == 16)
        #expect(before.rssBytes == 64 * KiB)
        #expect(before.privateDirtyBytes == 64 * KiB)
        #expect(before.pssBytes == 64 * KiB)

        // Right after fork both map all 16 pages: Pss 32K, all Shared_Dirty (kernel: same).
        for name in ["parent", "child"] {
            let p = report.measure("forked").process(name)
            #expect(p.rssBytes == 64 * KiB)
            #expect(p.pssBytes == 32 * KiB)
            #expect(p.sharedDirtyBytes == 64 * KiB)
            #expect(p.privateDirtyBytes == 0)
        }
        #expect(report.measure("forked").process("child").minorFaults == 0)

        // The child's 8 writes copy 8 pages: 8 private and 8 shared each side, Pss 8*4K + 8*2K.
        let wrote = report.measure("child-wrote")
        #expect(wrote.process("child").minorFaults == 8)
        #expect(wrote.process("child").cowCopies == 8)
        for name in ["parent", "child"] {
            #expect(wrote.process(name).pssBytes == 48 * KiB)
            #expect(wrote.process(name).sharedDirtyBytes == 32 * KiB)
            #expect(wrote.process(name).privateDirtyBytes == 32 * KiB)
        }

        // The parent writes all 16: the 8 the child copied are mapped once now and are reused;
        // the other 8 are still shared and are copied (kernel: 16 faults, pgreuse +8).
        let parent = report.measure("parent-wrote").process("parent")
        #expect(parent.minorFaults == 16 + 16)
        #expect(parent.cowReuses == 8)
        #expect(parent.cowCopies == 8)
        #expect(parent.privateDirtyBytes == 64 * KiB)
        #expect(report.measure("parent-wrote").process("child").privateDirtyBytes == 64 * KiB)
        #expect(report.measure("parent-wrote").system.anonBytes == 128 * KiB)
    }

    @Test func snapshotParentReusesEveryPageAfterTheChildExits() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap array 64K
            parent touch array write
            parent fork snapshot
            snapshot touch array read
            snapshot exit
            parent touch array write
            """)
        let parent = report.measure("end").process("parent")
        // One fault per write-protected page, each a reuse (kernel: 16 faults, pgreuse +16).
        #expect(parent.minorFaults == 16 + 16)
        #expect(parent.cowReuses == 16)
        #expect(parent.cowCopies == 0)
        let snapshot = report.measure("end").process("snapshot")
        #expect(!snapshot.alive)
        #expect(snapshot.minorFaults == 0)  // its reads found the copied page-table entries
        #expect(snapshot.rssBytes == 0)
    }

    @Test func readsOfUntouchedMemoryMapTheZeroPage() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 64K
            p touch a read
            measure read
            p touch a write
            """)
        let read = report.measure("read").process("p")
        #expect(read.minorFaults == 16)
        #expect(read.rssBytes == 0)
        #expect(report.measure("read").system.anonBytes == 0)
        let end = report.measure("end").process("p")
        #expect(end.minorFaults == 32)  // kernel: read then write is 2 faults a page
        #expect(end.cowCopies == 0)  // replacing the zero page is an allocation, not a copy
        #expect(end.privateDirtyBytes == 64 * KiB)
    }

    @Test func forkDoesNotCopyAZeroPageOnlyMappingButCopiesOneWithAnonPages() throws {
        let report = try simulate(
            """
            spawn p
            p mmap zeros 64K
            p mmap apart 4K shared
            p mmap mixed 64K
            p touch zeros read
            p touch mixed read
            p touch mixed write length=4K
            p fork c
            c touch zeros read
            measure zeros
            c touch mixed read
            """)
        // No anon_vma: no page tables copied, the child faults every page (kernel: 16 faults).
        #expect(report.measure("zeros").process("c").minorFaults == 16)
        // With one anonymous page the whole VMA is copied, zero-page entries too (kernel: 0).
        #expect(report.measure("end").process("c").minorFaults == 16)
    }

    /// Two private anonymous mappings made one against the other are one VMA in the kernel
    /// (vma_merge_new_range): when either gets an anonymous page the VMA has an anon_vma, and
    /// fork copies the page tables of both (validation/anon-vma-merge.somw).
    @Test func adjacentAnonymousMappingsShareTheirVMAsAnonVMA() throws {
        let report = try simulate(
            """
            spawn p
            p mmap zeros 64K
            p mmap mixed 64K
            p touch zeros read
            p touch mixed write length=4K
            p fork c
            c touch zeros read
            measure zeros
            p mmap later 64K
            p touch later read
            p fork d
            d touch later read
            """)
        // The zero-page entries came with the fork: no fault.
        #expect(report.measure("zeros").process("c").minorFaults == 0)
        // A mapping made against a VMA that already has an anon_vma joins it, so its zero-page
        // entries are copied at fork as well.
        #expect(report.measure("end").process("d").minorFaults == 0)
    }

    @Test func populateFaultsEveryPageInAndCountsTheFaults() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 256K populate
            measure populated
            p touch a write
            """)
        let p = report.measure("populated").process("p")
        #expect(p.minorFaults == 64)  // kernel: ru_minflt +64 (kernel-facts 1d, 9)
        #expect(p.privateDirtyBytes == 256 * KiB)
        #expect(report.measure("end").process("p").minorFaults == 64)
    }

    @Test func pssAndUssWithThreeSharers() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap a 12K
            parent touch a write
            parent fork c1
            parent fork c2
            measure three
            c2 touch a write length=4K
            """)
        // Each page mapped 3 times: the kernel adds (4096 << 12) / 3 = 5592405 per page.
        for name in ["parent", "c1", "c2"] {
            let p = report.measure("three").process(name)
            #expect(p.rssBytes == 12 * KiB)
            #expect(p.pssBytes == (3 * 5_592_405) >> 12)
            #expect(p.ussBytes == 0)
        }
        let end = report.measure("end")
        // c2 copied page 0: parent and c1 share it two ways, pages 1 and 2 stay three-way.
        let twoWays: UInt64 = (4096 << 12) / 2
        #expect(end.process("parent").pssBytes == (twoWays + 2 * 5_592_405) >> 12)
        #expect(end.process("c1").pssBytes == (twoWays + 2 * 5_592_405) >> 12)
        #expect(end.process("c2").pssBytes == ((4096 << 12) + 2 * 5_592_405) >> 12)
        #expect(end.process("c2").ussBytes == 4 * KiB)
        #expect(end.process("parent").ussBytes == 0)
        #expect(end.system.anonBytes == 16 * KiB)
    }

    @Test func forkedChildOfAForkedChildSharesThreeWays() throws {
        let report = try simulate(
            """
            spawn a
            a mmap m 8K
            a touch m write
            a fork b
            b fork c
            c touch m write length=4K
            """)
        let end = report.measure("end")
        #expect(end.process("c").cowCopies == 1)
        #expect(end.process("c").ussBytes == 4 * KiB)
        #expect(end.process("a").sharedDirtyBytes == 8 * KiB)
        #expect(end.process("b").sharedDirtyBytes == 8 * KiB)
    }
}
