import SomsimModel
import Testing

/// Interactions between the issue-9 statements on anonymous memory (mprotect, mlock, munmap
/// ranges, mremap, the madvise advices, fork), found by cross-feature random validation against
/// the kernel. Expected values worked out by hand from docs/model.md; each case is also a
/// validation workload (named in the test) that passes `somsim validate` with zero tolerance.
@Suite struct CrossFeatureTests {
    /// validation/populate-protection.somw
    @Test func populateChecksEachVMAsProtection() throws {
        let report = try simulate(
            """
            machine thp=madvise
            spawn p
            p mmap a 64K
            p mprotect a read
            p madvise a populate_write
            p madvise a populate_read
            p mprotect a none
            p madvise a populate_read
            p mmap b 128K
            p mprotect b read offset=64K
            p madvise b populate_write
            """)
        // Lines (header = 1): 6 populate_write on read-only, 9 populate_read on none, 12
        // populate_write reaching b's read-only half.
        #expect(report.errors.map(\.line) == [6, 9, 12])
        #expect(report.errors.map(\.errno) == [.EINVAL, .EINVAL, .EINVAL])
        let p = report.measure("end").process("p")
        #expect(p.minorFaults == 16 + 16)  // a: 16 zero-page reads; b: its first 64K written
        #expect(p.rssBytes == 64 * KiB)  // b's first 16 pages; zero pages are not counted
    }

    /// validation/collapse-small-vma.somw
    @Test func collapseRefusesAVMAWithoutABlockAndARangeInsideOneBlock() throws {
        let report = try simulate(
            """
            machine thp=madvise
            spawn p
            p mmap b 4M
            p touch b write
            p mprotect b read offset=1M length=1M
            p madvise b collapse
            p madvise b collapse offset=2M
            p mmap c 8M populate
            p madvise c collapse offset=6464K length=1M
            p madvise c collapse offset=1M length=2M
            """)
        // Line 7: the first VMA, [0, 1M), holds no whole 2 MiB block. Line 10: [6464K, 7488K)
        // crosses no 2 MiB boundary. Line 8 collapses [2M, 4M); line 11 only touches 2M.
        #expect(report.errors.map(\.line) == [7, 10])
        #expect(report.errors.map(\.errno) == [.EINVAL, .EINVAL])
        let p = report.measure("end").process("p")
        #expect(p.rssBytes == 12 * MiB)  // every page was written; collapse changes no RSS here
    }

    /// validation/madvise-locked.somw
    @Test func dontneedColdAndPageoutStopAtALockedVMA() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 256K
            p touch a write
            p mlock a offset=64K length=64K
            p madvise a dontneed
            p madvise a cold
            p madvise a pageout offset=128K
            """)
        #expect(report.errors.map(\.line) == [6, 7])
        #expect(report.errors.map(\.errno) == [.EINVAL, .EINVAL])
        let p = report.measure("end").process("p")
        #expect(p.rssBytes == 192 * KiB)  // only [0, 64K), before the locked VMA, was zapped
        #expect(p.lockedBytes == 64 * KiB)
    }

    /// validation/fork-mlock-vmas.somw
    @Test func aForkedChildKeepsTheLockedVMAApartFromItsNeighbour() throws {
        let report = try simulate(
            """
            spawn p
            p mmap m 64K
            p mlock m offset=16K length=48K
            p fork c
            c mremap m 1M maymove
            p mremap m 1M maymove
            c mremap m 32K
            """)
        #expect(report.errors.map(\.line) == [6, 7])
        #expect(report.errors.map(\.errno) == [.EFAULT, .EFAULT])
        #expect(report.measure("end").process("c").lockedBytes == 0)
    }

    /// validation/wipeonfork-merged-neighbour.somw
    @Test func aWipeonforkMappingsAnonVMADoesNotReachItsMergedNeighbour() throws {
        let report = try simulate(
            """
            spawn p
            p mmap m0 1M
            p mmap m1 1M
            p madvise m1 wipeonfork
            p fork c0
            c0 touch m1 write
            c0 fork c1
            """)
        // c1 gets m1 wiped and m0 without an anon_vma: no page table is copied.
        #expect(report.measure("end").process("c1").pageTableBytes == 0)
        #expect(report.measure("end").process("c0").rssBytes == 1 * MiB)
    }

    /// validation/wipeonfork-merged-neighbour.somw, process q
    @Test func anAnonVMADoesNotCrossAPieceWithOtherFlags() throws {
        let report = try simulate(
            """
            spawn q
            q mmap n0 2M
            q mmap n1 4M
            q mmap n2 256K
            q madvise n1 hugepage offset=1536K length=1M
            q touch n2 write offset=64K length=128K
            q touch n0 read
            q fork q1
            """)
        // Top-down: n2 lowest, then n1, n0 highest, one VMA until the HUGEPAGE piece splits it.
        // q1 gets n2's page-table path only: PTE + PMD + PUD (n0's zero pages are not copied).
        #expect(report.measure("end").process("q1").pageTableBytes == 12 * KiB)
        #expect(report.measure("end").process("q").pageTableBytes == 16 * KiB)  // + n0's PTE table
    }

    /// validation/mremap-grow-locked.somw
    @Test func growingALockedMappingPopulatesTheNewPart() throws {
        let report = try simulate(
            """
            machine thp=madvise
            spawn p
            p mmap m 6M
            p mlock m length=2M
            p mremap m 64K
            p mremap m 128K maymove
            """)
        #expect(report.errors.isEmpty)
        let p = report.measure("end").process("p")
        #expect(p.minorFaults == 512 + 16)  // mlock: 2 MiB of 4 KiB write faults; the growth: 16
        #expect(p.rssBytes == 128 * KiB)
        #expect(p.lockedBytes == 128 * KiB)
    }
}
