import SomsimModel
import Testing

/// DONTFORK, WIPEONFORK, shared anonymous and file memory across fork. Expectations by hand,
/// checked against the kernel (docs/kernel-facts/FINDINGS.md, sections 3 to 5).
@Suite struct MadviseAndSharedTests {
    @Test func dontforkLeavesTheMappingOutOfTheChild() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap pool 64K
            parent touch pool write
            parent madvise pool dontfork
            parent fork child
            measure forked
            child touch pool read
            """)
        let forked = report.measure("forked")
        #expect(forked.process("child").rssBytes == 0)
        #expect(forked.process("child").pageTableBytes == 0)
        #expect(forked.process("parent").privateDirtyBytes == 64 * KiB)  // nothing shared
        let child = report.measure("end").process("child")
        #expect(child.signals == [.SIGSEGV])  // kernel: the range is absent in the child
        #expect(!child.alive)
        #expect(child.minorFaults == 0)
        #expect(report.errors.isEmpty)
    }

    @Test func dontforkOnPartOfAMappingKeepsTheRest() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap m 64K
            parent touch m write
            parent madvise m dontfork offset=32K length=32K
            parent fork child
            child touch m read length=32K
            measure low
            child touch m read offset=32K length=4K
            """)
        let low = report.measure("low").process("child")
        #expect(low.minorFaults == 0)
        #expect(low.sharedDirtyBytes == 32 * KiB)
        #expect(report.measure("low").process("parent").privateDirtyBytes == 32 * KiB)
        #expect(report.measure("end").process("child").signals == [.SIGSEGV])
    }

    @Test func wipeonforkGivesTheChildAnEmptyMapping() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap m 64K
            parent touch m write
            parent madvise m wipeonfork
            parent fork child
            measure forked
            child touch m read
            measure read
            child touch m write
            """)
        #expect(report.measure("forked").process("child").rssBytes == 0)
        #expect(report.measure("forked").process("parent").privateDirtyBytes == 64 * KiB)
        let read = report.measure("read").process("child")
        #expect(read.minorFaults == 16)  // kernel: 16 faults, zero pages, Rss 0
        #expect(read.rssBytes == 0)
        let end = report.measure("end").process("child")
        #expect(end.minorFaults == 32)
        #expect(end.privateDirtyBytes == 64 * KiB)
        #expect(end.cowCopies == 0)
    }

    @Test(arguments: ["shared", "huge=2M", "file=f"])
    func wipeonforkIsRefusedOutsidePrivateAnonymousMemory(_ option: String) throws {
        let report = try simulate(
            """
            machine hugetlb-2m=1
            spawn p
            p mmap m 2M \(option)
            p madvise m wipeonfork
            """)
        #expect(report.errors.map { $0.errno } == [.EINVAL])
        #expect(report.errors.first?.line == 5)
    }

    @Test func sharedAnonymousMemoryIsNotCopiedAtForkAndIsFaultedAroundByTheChild() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap s 256K shared
            parent touch s write
            parent fork child
            measure forked
            child touch s read
            measure read
            child touch s write
            """)
        let forked = report.measure("forked").process("child")
        #expect(forked.rssBytes == 0)
        #expect(forked.pageTableBytes == 0)
        let read = report.measure("read")
        // 64 cached pages, fault-around maps 16 per fault (kernel: 4 faults).
        #expect(read.process("child").minorFaults == 4)
        // Written through write faults, the pages themselves are dirty: Shared_Dirty in both.
        for name in ["parent", "child"] {
            #expect(read.process(name).sharedDirtyBytes == 256 * KiB)
            #expect(read.process(name).pssBytes == 128 * KiB)
        }
        // Fault-around maps shared pages writable: writing costs nothing more (kernel: 0).
        #expect(report.measure("end").process("child").minorFaults == 4)
        #expect(report.measure("end").process("child").cowCopies == 0)
        #expect(report.measure("end").system.anonBytes == 0)
    }

    @Test func sharedPagesDirtiedOnlyThroughThePageTableLookCleanToOthers() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap s 256K shared
            parent touch s read
            measure read
            parent touch s write
            parent fork child
            child touch s read
            """)
        let read = report.measure("read").process("parent")
        #expect(read.minorFaults == 64)  // nothing cached yet: a fault (and a new page) each
        #expect(read.privateCleanBytes == 256 * KiB)
        let end = report.measure("end")
        #expect(end.process("parent").minorFaults == 64)  // the writes set dirty bits only
        #expect(end.process("parent").sharedDirtyBytes == 256 * KiB)
        #expect(end.process("child").sharedCleanBytes == 256 * KiB)  // kernel: Shared_Clean
    }

    @Test func privateFileMappingReadsMapThePageCacheAndWritesCopy() throws {
        let report = try simulate(
            """
            spawn a
            a mmap f 256K file=data shared
            a touch f write
            spawn b
            b mmap f 256K file=data
            b touch f read
            measure read
            b touch f write
            """)
        let read = report.measure("read").process("b")
        #expect(read.minorFaults == 4)  // cached: fault-around (kernel: 4)
        #expect(read.sharedDirtyBytes == 256 * KiB)  // a's write faults dirtied the pages
        let end = report.measure("end").process("b")
        #expect(end.minorFaults == 4 + 64)
        #expect(end.cowCopies == 64)
        #expect(end.privateDirtyBytes == 256 * KiB)
        #expect(report.measure("end").process("a").privateDirtyBytes == 256 * KiB)
    }

    @Test func privateFileWriteToAHoleCopiesWithoutMappingTheCachePage() throws {
        let report = try simulate(
            """
            spawn a
            a mmap f 64K file=data
            a touch f write
            """)
        let a = report.measure("end").process("a")
        #expect(a.minorFaults == 16)
        #expect(a.cowCopies == 0)
        #expect(a.privateDirtyBytes == 64 * KiB)
        #expect(a.rssBytes == 64 * KiB)
    }

    @Test func dontneedDropsPagesAndTheNextTouchFaultsAgain() throws {
        let report = try simulate(
            """
            spawn p
            p mmap m 64K
            p touch m write
            p madvise m dontneed
            measure dropped
            p touch m write
            """)
        #expect(report.measure("dropped").process("p").rssBytes == 0)
        #expect(report.measure("dropped").system.anonBytes == 0)
        #expect(report.measure("end").process("p").minorFaults == 32)
    }

    @Test func touchesAndAdvicePastTheEndAreErrorEvents() throws {
        let report = try simulate(
            """
            spawn p
            p mmap m 64K
            p touch m write offset=60K length=8K
            p madvise m dontneed offset=64K length=4K
            p touch m write
            """)
        #expect(report.errors.map { $0.errno } == [.EFAULT, .ENOMEM])
        #expect(report.errors.map { $0.line } == [4, 5])
        #expect(report.measure("end").process("p").minorFaults == 16)
    }
}

/// madvise over a range that runs past the end of its mapping: the kernel walks the address
/// range VMA by VMA (mm/madvise.c: madvise_walk_vmas). Expectations from docs/kernel-facts 12.
@Suite struct MadvisePastTheEndTests {
    @Test func dontneedZapsTheMappedPartThenReturnsENOMEM() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 16K
            p touch a write
            p madvise a dontneed offset=8K length=16K
            measure dropped
            p touch a write
            """)
        #expect(report.errors.map { $0.errno } == [.ENOMEM])
        #expect(report.measure("dropped").process("p").rssBytes == 8 * KiB)
        #expect(report.measure("end").process("p").minorFaults == 4 + 2)
    }

    @Test func aRangeRunsIntoTheNextMappingAndAcrossAGap() throws {
        // Mappings are placed top-down: b lies right below a, and c below a 16 KiB gap under b.
        let report = try simulate(
            """
            spawn p
            p mmap a 16K
            p mmap b 16K shared
            p mmap gap 16K
            p mmap c 16K
            p munmap gap
            p touch a write
            p touch b write
            p touch c write
            p madvise b dontneed offset=8K length=16K
            measure into-a
            p madvise c dontneed offset=8K length=32K
            """)
        // The first call covers the end of b and the start of a: no gap, no error.
        #expect(report.errors.map { $0.errno } == [.ENOMEM])
        #expect(report.errors.map { $0.line } == [13])
        #expect(report.measure("into-a").process("p").rssBytes == 32 * KiB)
        // The second covers the end of c, the gap and the start of b: ENOMEM, and both zapped.
        #expect(report.measure("end").process("p").rssBytes == 16 * KiB)
    }

    @Test func flagAdviceAppliesToTheMappedPart() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap a 16K
            parent touch a write
            parent madvise a dontfork offset=8K length=16K
            parent fork child
            child touch a write length=8K
            measure first-half
            child touch a write offset=8K length=8K
            """)
        #expect(report.errors.map { $0.errno } == [.ENOMEM])
        #expect(report.measure("first-half").process("child").alive)
        #expect(report.measure("end").process("child").signals == [.SIGSEGV])
    }

    @Test func aDontforkRangeIsAGapInTheChild() throws {
        let report = try simulate(
            """
            spawn parent
            parent mmap a 16K
            parent touch a write
            parent madvise a dontfork length=8K
            parent fork child
            measure forked
            child madvise a dontneed
            """)
        #expect(report.measure("forked").process("child").rssBytes == 8 * KiB)
        #expect(report.errors.map { $0.errno } == [.ENOMEM])
        #expect(report.measure("end").process("child").rssBytes == 0)
        #expect(report.measure("end").process("parent").rssBytes == 16 * KiB)
    }

    @Test func anErrorInALaterMappingEndsTheCallAfterTheEarlierOnes() throws {
        // s at the top, a gap below it, p below the gap. WIPEONFORK from p's start through s's
        // end sets p, passes the gap and stops at s (shared memory cannot be wiped).
        let report = try simulate(
            """
            spawn parent
            parent mmap s 16K shared
            parent mmap gap 16K
            parent mmap p 16K
            parent munmap gap
            parent touch p write
            parent madvise p wipeonfork length=48K
            parent madvise s keeponfork
            parent fork child
            """)
        #expect(report.errors.map { $0.errno } == [.EINVAL])
        #expect(report.errors.map { $0.line } == [8])
        // p was wiped for the child before the walk reached s.
        #expect(report.measure("end").process("child").rssBytes == 0)
        #expect(report.measure("end").process("parent").rssBytes == 16 * KiB)
    }

    @Test func hugeTLBMappingsMetInsideAHugePage() throws {
        // a (4 KiB pages) lies right below h (2 MiB pages).
        let report = try simulate(
            """
            machine hugetlb-2m=2
            spawn p
            p mmap h 4M huge=2M
            p mmap a 16K
            p touch h write
            p touch a write
            p madvise a dontneed length=20K
            measure partial
            p madvise a dontneed length=2068K
            measure whole
            p madvise a dontfork length=20K
            p madvise h hugepage
            p madvise h dontneed offset=2M length=4M
            """)
        let partial = report.measure("partial")
        #expect(partial.process("p").rssBytes == 0)
        #expect(partial.process("p").privateHugetlbBytes == 4 * MiB)  // a partial huge page is left out
        let whole = report.measure("whole")
        #expect(whole.process("p").privateHugetlbBytes == 2 * MiB)
        #expect((whole.system.hugetlb2MFree, whole.system.hugetlb2MReserved) == (1, 1))
        // Setting DONTFORK would split h inside a huge page; HUGEPAGE on HugeTLB is accepted.
        #expect(report.errors.map { $0.errno } == [.EINVAL, .ENOMEM])
        #expect(report.errors.map { $0.line } == [12, 14])
        let end = report.measure("end")
        #expect((end.system.hugetlb2MFree, end.system.hugetlb2MReserved) == (2, 2))
    }

    @Test func zeroLengthDoesNothingAndAWrappingRangeIsEINVAL() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 16K
            p madvise a dontneed offset=1G length=0
            p madvise a dontneed length=16777215T
            """)
        #expect(report.errors.map { $0.errno } == [.EINVAL])
        #expect(report.errors.map { $0.line } == [5])
    }
}

/// A shared page written through an already-writable entry is dirty in that entry only; zapping
/// the entry moves the bit to the page (mm/memory.c: zap_present_folio_ptes). Expectations from
/// docs/kernel-facts 13.
@Suite struct DirtyBitOnZapTests {
    static let ends = ["w munmap s", "w exit", "w madvise s dontneed"]

    @Test(arguments: ["shared", "shared file=f"], ends)
    func theRemainingMapperSeesTheWritersPagesDirty(_ kind: String, _ end: String) throws {
        let report = try simulate(
            """
            spawn w
            w mmap s 256K \(kind)
            w touch s read
            w touch s write
            w fork r
            r touch s read
            measure before
            \(end)
            """)
        #expect(report.measure("before").process("w").minorFaults == 64)  // the write costs none
        #expect(report.measure("before").process("r").sharedCleanBytes == 256 * KiB)
        let reader = report.measure("end").process("r")
        #expect(reader.privateDirtyBytes == 256 * KiB)
        #expect(reader.privateCleanBytes == 0)
    }

    @Test func halfZappedHalfStillClean() throws {
        let report = try simulate(
            """
            spawn w
            w mmap s 256K shared
            w touch s read
            w touch s write
            w fork r
            r touch s read
            w madvise s dontneed length=128K
            """)
        let reader = report.measure("end").process("r")
        #expect(reader.sharedCleanBytes == 128 * KiB)
        #expect(reader.privateDirtyBytes == 128 * KiB)
    }

    @Test func aLaterMapperSeesTheDirtyPages() throws {
        let report = try simulate(
            """
            spawn w
            w mmap s 256K shared
            w fork r
            w touch s read
            w touch s write
            w munmap s
            r touch s read
            """)
        #expect(report.measure("end").process("r").privateDirtyBytes == 256 * KiB)
    }
}
