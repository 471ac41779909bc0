import SomsimModel
import Testing

/// Interactions between the issue-9 statements on file, shmem and HugeTLB mappings, found by
/// cross-feature random validation (docs/validation.md, "Cross-feature random workloads on
/// files, shmem and HugeTLB"). Expected values worked out by hand from docs/model.md; each
/// scenario is also a workload in validation/ that passes on the kernel.
@Suite struct CrossFeatureFileTests {
    private func pool(_ m: Measure) -> [UInt64] {
        [m.system.hugetlb2MTotal, m.system.hugetlb2MFree, m.system.hugetlb2MReserved, m.system.hugetlb2MSurplus]
    }

    @Test func removeFreesAHugeTLBPageToTheAllocatorWhileThePoolHasSurplusPages() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=3 hugetlb-2m-overcommit=3
            spawn p
            p mmap h 8M shared huge=2M file=hf
            p mlock h length=2M
            measure populated
            p madvise h remove length=4M
            measure removed
            """)
        // 4 reserved from 3 free pages: one surplus page added.
        #expect(pool(report.measure("populated")) == [4, 3, 3, 1])
        // Page 0 freed while a surplus page exists: it leaves the pool. Page 1 was never
        // faulted and keeps its reservation; pages 2 and 3 are outside the hole.
        #expect(pool(report.measure("removed")) == [3, 3, 3, 0])
        #expect(report.errors.isEmpty)
    }

    @Test func removePunchesTheFilePagesUnderAMappingWithAFileOffset() throws {
        let report = try simulate(
            """
            spawn p
            p mmap t 64K shared file=tf
            p touch t write
            p mmap u 16K shared file=tf fileoffset=32K
            p madvise u remove length=8K
            measure punched
            p touch t read offset=0 length=8K
            p touch t read offset=32K length=8K
            """)
        let punched = report.measure("punched")
        #expect(punched.system.shmemBytes == 56 * KiB)  // file pages 8 and 9 gone
        #expect(punched.process("p").rssBytes == 56 * KiB)
        let end = report.measure("end")
        // 16 write faults; pages 0 and 1 are still mapped; pages 8 and 9 are holes: one fault each.
        #expect(end.process("p").minorFaults == 16 + 2)
        #expect(end.system.shmemBytes == 64 * KiB)
    }

    @Test func removePunchesOnlyTheVMAsTheRangeMeets() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 64K shared
            p touch a write
            p munmap a offset=32K
            p madvise a remove
            """)
        // Pages 8-15 left the address space but not the shmem object; the walk skips them.
        #expect(report.measure("end").system.shmemBytes == 32 * KiB)
        #expect(report.measure("end").process("p").rssBytes == 0)
        #expect(report.errors.map(\.errno) == [.ENOMEM])
    }

    @Test func removeStopsWithEINVALAtALockedVMA() throws {
        let report = try simulate(
            """
            spawn p
            p mmap s 64K shared file=f
            p touch s write
            p mlock s offset=32K length=16K
            p madvise s remove
            measure removed
            p mmap r 64K file=g
            p mlock r
            p madvise r remove
            """)
        let removed = report.measure("removed")
        #expect(removed.system.shmemBytes == 32 * KiB)  // [0, 32K) punched, the rest kept
        #expect(removed.process("p").lockedBytes == 16 * KiB)
        // The locked VMA is refused before the private mapping would be (EACCES).
        #expect(report.errors.map(\.errno) == [.EINVAL, .EINVAL])
    }

    @Test func mlockPopulationEndsWithENOMEMWhereATouchWouldRaiseSIGBUS() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=2
            spawn p
            p mmap t 64K shared file=f
            p ftruncate f 16K
            p mlock t
            measure tmpfs
            p mmap h 6M huge=2M noreserve
            p mlock h
            measure hugetlb
            spawn q
            q mmap far 4M shared file=k
            q ftruncate k 4K
            q mlock far offset=2M
            measure far
            """)
        let tmpfs = report.measure("tmpfs").process("p")
        #expect(tmpfs.alive)
        #expect(tmpfs.minorFaults == 4)  // pages 0-3, each a new tmpfs page; page 4 is past the end
        #expect(tmpfs.rssBytes == 16 * KiB)
        #expect(tmpfs.lockedBytes == 64 * KiB)  // the whole range stays locked
        let hugetlb = report.measure("hugetlb")
        #expect(hugetlb.process("p").alive)
        #expect(hugetlb.process("p").privateHugetlbBytes == 4 * MiB)  // 2 pool pages, no third
        #expect(pool(hugetlb) == [2, 0, 0, 0])
        let far = report.measure("far").process("q")
        #expect(far.alive)
        #expect(far.minorFaults == 0)  // the failed fault is not counted
        #expect(far.pageTableBytes == 8 * KiB)  // its PMD and PUD tables, no PTE table
        #expect(report.errors.map(\.errno) == [.ENOMEM, .ENOMEM, .ENOMEM])
    }

    @Test func aPrivateHugeTLBFilePageWhoseCopyFailsStaysMappedFromThePageCache() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=2
            spawn q
            q mmap priv 6M huge=2M file=hf noreserve
            q mmap shr 4M shared huge=2M file=hf populate
            sysctl hugetlb-2m=1
            q mlock priv offset=2M length=2M
            """)
        let end = report.measure("end")
        let q = end.process("q")
        #expect(q.alive)
        #expect(q.minorFaults == 2)  // the populate's two; the failed fault is not counted
        // priv maps file page 1 read-only next to shr's two pages: 3 huge pages mapped, 6 MiB.
        #expect(q.privateHugetlbBytes + q.sharedHugetlbBytes == 6 * MiB)
        #expect(pool(end) == [2, 0, 0, 1])  // nothing allocated for the copy
        #expect(report.errors.map(\.errno) == [.ENOMEM])
    }

    @Test func aPunchGivesTheOwnerItsCopysReservationBackOnlyWithoutSurplusPages() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=7 hugetlb-2m-overcommit=1
            spawn p
            p mmap priv 8M huge=2M file=f populate
            p mmap shr 2M shared huge=2M file=f
            measure mapped
            p fallocate f offset=6M length=2M punch
            measure no-surplus
            sysctl hugetlb-2m=4
            measure shrunk
            p fallocate f offset=0 length=2M punch
            """)
        // 4 reserved and used by the populate; file page 0 reserved for shr.
        #expect(pool(report.measure("mapped")) == [7, 3, 1, 0])
        // priv's copy of page 3 freed, its reservation restored.
        #expect(pool(report.measure("no-surplus")) == [7, 4, 2, 0])
        // 3 in use + 2 reserved: 5 kept, 1 of them surplus.
        #expect(pool(report.measure("shrunk")) == [5, 2, 2, 1])
        // priv's copy of page 0 leaves the pool (surplus), no reservation restored; file page 0
        // was never faulted and keeps shr's reservation.
        #expect(pool(report.measure("end")) == [4, 2, 2, 0])
    }

    @Test func aRangeMunmapReturnsReservationsAndFreeSurplusPagesLeave() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=4 hugetlb-2m-overcommit=2
            spawn p
            p mmap priv 8M huge=2M
            p mmap shr 4M shared huge=2M
            measure reserved
            p munmap priv offset=6M length=2M
            measure unmapped
            p mremap priv 4M
            """)
        #expect(pool(report.measure("reserved")) == [6, 6, 6, 2])  // 4 + 2 reserved, 2 surplus
        #expect(pool(report.measure("unmapped")) == [5, 5, 5, 1])  // 1 back, 1 surplus page gone
        #expect(pool(report.measure("end")) == [4, 4, 4, 0])
    }

    @Test func aFileGrownByFtruncateFaultsInsideItsSizeThroughAGrownMapping() throws {
        let report = try simulate(
            """
            spawn p
            p mmap m 1M shared file=f
            p ftruncate f 1082563
            p mremap m 1864K maymove
            p touch m read length=1060K
            measure read
            p touch m read offset=1060K length=4K
            """)
        let read = report.measure("read")
        // ceil(1082563 / 4096) = 265 pages, each a hole: one fault and one new page each.
        #expect(read.process("p").minorFaults == 265)
        #expect(read.system.shmemBytes == 265 * 4 * KiB)
        #expect(report.measure("end").process("p").signals == [.SIGBUS])  // page 265
    }

    @Test func mapPopulateKeepsTheTablesOfTheFaultThatFailed() throws {
        let report = try simulate(
            """
            spawn r
            r mmap pp 2M shared huge=2M file=pf noreserve populate
            """)
        let r = report.measure("end").process("r")
        #expect(r.alive)  // the SIGBUS of the populate is ignored
        #expect(r.minorFaults == 0)
        #expect(r.pageTableBytes == 8 * KiB)  // huge_pte_alloc: the PMD and PUD tables
        #expect(report.errors.isEmpty)
    }
}
