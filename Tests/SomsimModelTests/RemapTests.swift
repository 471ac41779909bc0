import SomsimModel
import SomsimWorkload
import Testing

/// Partial munmap and mremap (issue 9). Expectations by hand, checked against the kernel
/// (docs/kernel-facts/FINDINGS.md, sections 18 and 19).
///
/// Page-table arithmetic: the first mapping of a process goes at the top of the workload window,
/// a 512 GiB-aligned address H, so a mapping of up to 2 MiB right below H lies in one PTE table
/// [H-2M, H), under one PMD and one PUD table: 12 KiB.
@Suite struct RemapTests {
    @Test func partialMunmapFreesATableOnlyWhenNoVMAIsLeftInItsSpan() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 4M
            p touch a write
            measure written
            p munmap a offset=1M length=2M
            measure hole
            p munmap a length=1M
            measure low
            p munmap a offset=3M
            measure gone
            """)
        // [H-4M, H): two PTE tables, a PMD, a PUD.
        #expect(report.measure("written").process("p").pageTableBytes == 16 * KiB)
        // [1M,3M) out: each table still holds 1 MiB of the VMA (kf 18a).
        let hole = report.measure("hole").process("p")
        #expect(hole.pageTableBytes == 16 * KiB)
        #expect(hole.rssBytes == 2 * MiB)
        #expect(report.measure("hole").system.anonBytes == 2 * MiB)
        // [0,1M) out: table 0's span has no VMA left; table 1 keeps [3M,4M).
        #expect(report.measure("low").process("p").pageTableBytes == 12 * KiB)
        #expect(report.measure("low").process("p").rssBytes == 1 * MiB)
        // Nothing left: PMD and PUD go with the last PTE table.
        #expect(report.measure("gone").process("p").pageTableBytes == 0)
        #expect(report.measure("gone").process("p").rssBytes == 0)
        #expect(report.errors.isEmpty)
    }

    @Test func firstAndLastPageKeepBothTables() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 4M
            p touch a write
            p munmap a offset=4K length=4088K
            """)
        let p = report.measure("end").process("p")
        #expect(p.pageTableBytes == 16 * KiB)  // kf 18b
        #expect(p.rssBytes == 8 * KiB)
    }

    @Test func theNameStaysHeldAndItsHolesAreUnmapped() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 16K
            p touch a write
            p munmap a offset=4K length=8K
            p munmap a offset=4K length=4K
            p munmap a offset=8K length=0
            p munmap a offset=12K length=8K
            p madvise a dontneed
            p fork c
            c touch a write offset=12K
            c touch a write offset=4K length=4K
            """)
        // A hole again: nothing; length 0: EINVAL; past the end: EINVAL, nothing done; madvise
        // over the hole: ENOMEM after zapping the two pages left.
        #expect(report.errors.map(\.line) == [7, 8, 9])
        #expect(report.errors.map(\.errno) == [.EINVAL, .EINVAL, .ENOMEM])
        let end = report.measure("end")
        #expect(end.process("p").rssBytes == 0)
        // The child writes the last page (a fresh page: 1 fault), then the hole: SIGSEGV.
        #expect(end.process("c").signals == [.SIGSEGV])
        #expect(end.process("c").minorFaults == 1)
    }

    @Test func aForkedChildKeepsThePagesTheParentUnmaps() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 1M
            p touch a write
            p fork c
            p munmap a length=512K
            measure unmapped
            c touch a write length=512K
            """)
        let unmapped = report.measure("unmapped")
        #expect(unmapped.process("p").rssBytes == 512 * KiB)
        #expect(unmapped.process("c").rssBytes == 1 * MiB)
        // The first half is mapped by c alone now: PSS 512K + 512K/2; writes reuse.
        #expect(unmapped.process("c").pssBytes == 768 * KiB)
        #expect(report.measure("end").process("c").cowReuses == 128)
        #expect(report.measure("end").process("c").cowCopies == 0)
    }

    @Test func hugeTLBReservationsOfUnmappedPagesGoBack() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=4
            spawn p
            p mmap h 6M huge=2M
            p touch h write length=2M
            measure mapped
            p munmap h offset=2M length=2M
            measure unfaulted
            p munmap h length=2M
            measure faulted
            p mmap s 6M huge=2M shared
            p touch s write length=2M
            p munmap s offset=2M length=2M
            p munmap s length=2M
            measure shared
            p munmap s offset=4M
            measure shared-gone
            """)
        func pool(_ label: String) -> (UInt64, UInt64) {
            let s = report.measure(label).system
            return (s.hugetlb2MFree, s.hugetlb2MReserved)
        }
        #expect(pool("mapped") == (3, 2))
        #expect(pool("unfaulted") == (3, 1))  // kf 19i: an unfaulted page's reservation returns
        #expect(pool("faulted") == (4, 1))
        // Shared: the file keeps its page and its reservations while any part is mapped (kf 18e).
        #expect(pool("shared") == (3, 3))
        #expect(pool("shared-gone") == (4, 1))
        #expect(report.errors.isEmpty)
    }

    @Test func mremapShrinksGrowsInPlaceAndMoves() throws {
        let workload = try WorkloadParser.parse(
            """
            somsim-workload 1
            spawn p
            p mmap top 4K
            p mmap gap 1M
            p mmap a 1M
            p touch a write
            p mremap a 512K
            measure shrunk
            p mremap a 2M
            p munmap gap
            p mremap a 2M
            p mremap a 3M
            p mremap a 3M maymove
            p touch a write
            measure moved
            """, fileName: "t.somw")
        var simulator = Simulator(machine: workload.machine)
        for statement in workload.statements { simulator.apply(statement) }
        let report = simulator.report
        // top [H-4K, H), gap below it, a [H-2M-4K, H-1M-4K): its pages meet the PTE tables
        // [H-4M, H-2M) and [H-2M, H). The shrink frees neither (gap and a share them).
        let h: UInt64 = 0x5000_0000_0000
        #expect(report.measure("shrunk").process("p").rssBytes == 512 * KiB)
        #expect(report.measure("shrunk").process("p").pageTableBytes == 16 * KiB)
        // gap is above: ENOMEM; once it is gone, a grows in place; then top is above: ENOMEM.
        #expect(report.errors.map(\.errno) == [.ENOMEM, .ENOMEM])
        #expect(report.errors.map(\.line) == [9, 12])
        // With maymove: 3M is no multiple of 2M, so 4K-aligned, right below a: H-5M-4K.
        let addresses = simulator.placements.filter { $0.mapping == "a" }.map(\.address)
        #expect(addresses == [h - 2 * MiB - 4 * KiB, h - 2 * MiB - 4 * KiB, h - 2 * MiB - 4 * KiB, h - 5 * MiB - 4 * KiB])
        let moved = report.measures.last!.process("p")
        // The 512K written before kept their pages through the move: 256 + (768 - 128) faults.
        #expect(moved.minorFaults == 256 + 640)
        #expect(moved.rssBytes == 3 * MiB)
        // Tables made at [H-6M, H-4M) for the moved part of table [H-4M, H-2M)'s pages; the
        // source's tables stay (the moved mapping and top are in their spans): 3 PTE + PMD + PUD.
        #expect(moved.pageTableBytes == 20 * KiB)
    }

    @Test func mremapRefusals() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=2
            spawn p
            p mmap h 2M huge=2M
            p mremap h 4M maymove
            p mmap split 8K
            p madvise split dontfork offset=4K
            p mremap split 16K maymove
            p mremap split 4K
            p mmap hole 8K
            p munmap hole length=4K
            p mremap hole 4K
            """)
        // HugeTLB cannot grow; two VMAs cannot grow; shrinking to the first works; nothing
        // mapped at the start: EFAULT even for a shrink.
        #expect(report.errors.map(\.errno) == [.EINVAL, .EFAULT, .EFAULT])
        #expect(report.errors.map(\.line) == [5, 8, 12])
    }

    @Test func sharedMemoryGrownPastItsObjectRaisesSIGBUS() throws {
        let report = try simulate(
            """
            spawn p
            p mmap top 4K
            p mmap gap 64K
            p mmap s 64K shared
            p touch s write
            p munmap gap
            p mremap s 128K
            p touch s read
            """)
        let p = report.measure("end").process("p")
        #expect(p.signals == [.SIGBUS])
        #expect(p.minorFaults == 16)
    }

    /// Each VMA of a mapping gets its own anon_vma: fork copies the tables of those that have
    /// one (validation/anon-vma-per-vma.somw).
    @Test func onlyTheFaultingVMAGetsAnAnonVMA() throws {
        let report = try simulate(
            """
            spawn p
            p mmap a 2M
            p munmap a offset=604K length=48K
            p touch a write offset=852K length=48K
            p touch a read length=256K
            p mremap a 428K
            p fork c
            measure forked
            c touch a read length=256K
            spawn q
            q mmap e 1M
            q touch e write offset=512K
            q munmap e offset=256K length=4K
            q touch e read length=256K
            q fork f
            f touch e read length=256K
            """)
        // [0,604K) was split off before the write: no anon_vma, nothing copied, 64 faults anew.
        #expect(report.measure("forked").process("c").pageTableBytes == 0)
        #expect(report.measure("end").process("c").minorFaults == 64)
        // Split after the write: both parts keep the anon_vma; the zero-page entries are copied.
        #expect(report.measure("end").process("f").minorFaults == 0)
        #expect(report.measure("end").process("f").pageTableBytes == 12 * KiB)
    }

    @Test func aMoveKeepsCopyOnWriteWithAForkedChild() throws {
        let report = try simulate(
            """
            spawn p
            p mmap top 4K
            p mmap a 64K
            p touch a write
            p fork c
            p mremap a 128K maymove
            p touch a write length=64K
            c touch a write
            """)
        let end = report.measure("end")
        #expect(end.process("p").cowCopies == 16)
        #expect(end.process("c").cowReuses == 16)
    }
}

