import SomsimModel
import SomsimWorkload
import Testing

/// Files as objects (Files.swift): descriptors, names, ftruncate, fallocate, file offsets, and
/// `shmem_bytes`. Expectations by hand, checked against the kernel (docs/kernel-facts/FINDINGS.md,
/// section 17).
@Suite struct FilesTests {
    /// 17a: a shared mapping of 4 huge pages, 2 written, truncated to 1 page, grown again.
    @Test func hugetlbfsTruncateFreesPagesAndReservationsAndGrowAddsAHole() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=8
            spawn p
            p mmap a 8M huge=2M shared file=f
            p touch a write length=4M
            measure written
            p ftruncate f 3M
            p ftruncate f 2M
            measure truncated
            p ftruncate f 8M
            p touch a write offset=4M length=2M
            measure grown
            p fork c
            c touch a read offset=2M length=2M
            """)
        let written = report.measure("written").system
        #expect((written.hugetlb2MFree, written.hugetlb2MReserved) == (6, 2))
        let truncated = report.measure("truncated")
        // Page 1 freed and unmapped, pages 2 and 3 no longer reserved.
        #expect((truncated.system.hugetlb2MFree, truncated.system.hugetlb2MReserved) == (7, 0))
        #expect(truncated.process("p").privateHugetlbBytes == 2 * MiB)
        // Grown: page 2 is a hole, a fault takes an unreserved page.
        let grown = report.measure("grown").system
        #expect((grown.hugetlb2MFree, grown.hugetlb2MReserved) == (6, 0))
        #expect(report.errors.map(\.errno) == [.EINVAL])  // 3M is not a multiple of 2M
        #expect(report.errors.first?.line == 7)
        // Page 1 is a hole inside the file: a read there takes a page no reservation holds.
        let end = report.measure("end")
        #expect(end.process("c").signals.isEmpty)
        #expect((end.system.hugetlb2MFree, end.system.hugetlb2MReserved) == (5, 0))
    }

    /// 17b: fallocate takes pool pages (rounded outward), a punch frees them (rounded inward), a
    /// mapping at a file offset maps the file's pages there and reserves only the missing ones.
    @Test func hugetlbfsFallocatePunchAndOffsets() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=8
            spawn p
            p mmap opener 2M huge=2M file=f
            p munmap opener
            p fallocate f offset=0 length=4M
            p fallocate f offset=1M length=2M
            measure fallocated
            p mmap b 4M huge=2M shared file=f fileoffset=2M
            measure mapped
            p touch b write
            measure written
            p mmap bad 2M huge=2M shared file=f fileoffset=4K
            p fallocate f offset=2M length=2M punch
            p fallocate f offset=1M length=2M punch
            measure punched
            p touch b write length=2M
            measure refaulted
            """)
        let fallocated = report.measure("fallocated").system
        #expect((fallocated.hugetlb2MFree, fallocated.hugetlb2MReserved) == (6, 0))
        let mapped = report.measure("mapped").system
        #expect((mapped.hugetlb2MFree, mapped.hugetlb2MReserved) == (6, 1))  // only file page 2
        let written = report.measure("written")
        #expect((written.system.hugetlb2MFree, written.system.hugetlb2MReserved) == (5, 0))
        #expect(written.process("p").minorFaults == 2)
        let punched = report.measure("punched")
        #expect(punched.system.hugetlb2MFree == 6)
        #expect(punched.process("p").privateHugetlbBytes == 2 * MiB)  // file page 1 unmapped
        #expect(report.measure("refaulted").system.hugetlb2MFree == 5)
        #expect(report.errors.map(\.errno) == [.EINVAL])
    }

    /// 17c: tmpfs keeps a partial last page, SIGBUS past it; truncate drops private copies past
    /// the end (even_cows), a punch keeps them; fallocate rounds outward and moves the end.
    @Test func tmpfsTruncateAndPunchAndShmemBytes() throws {
        let report = try simulate(
            """
            spawn p
            p mmap s 64K shared file=f
            p mmap q 64K file=f
            p touch s write
            p touch q write
            measure written
            p ftruncate f 20000
            measure truncated
            p fallocate f offset=0 length=8K punch
            measure punched
            p fallocate f offset=100 length=4900
            p fork c
            c touch s read offset=16K length=4K
            measure partial-page
            c touch s read offset=20K length=4K
            p fallocate f offset=96K length=8K
            measure fallocated
            p touch s read offset=20K length=4K
            """)
        let written = report.measure("written").system
        #expect(written.shmemBytes == 64 * KiB)
        #expect(written.anonBytes == 64 * KiB)
        let truncated = report.measure("truncated").system
        #expect(truncated.shmemBytes == 20 * KiB)  // 4 pages and 3616 bytes: 5 pages
        #expect(truncated.anonBytes == 20 * KiB)  // the copies past page 5 are gone
        let punched = report.measure("punched").system
        #expect(punched.shmemBytes == 12 * KiB)
        #expect(punched.anonBytes == 20 * KiB)  // copies kept
        #expect(report.measure("partial-page").system.shmemBytes == 20 * KiB)  // + pages 0 and 1
        #expect(report.measure("partial-page").process("c").signals.isEmpty)
        #expect(report.measure("fallocated").process("c").signals == [.SIGBUS])  // page 5: past the end
        #expect(report.measure("fallocated").system.shmemBytes == 28 * KiB)  // + pages 24 and 25
        // The fallocate moved the end to 104K: page 5 is inside the file again, a new page.
        let end = report.measure("end")
        #expect(end.process("p").signals.isEmpty)
        #expect(end.system.shmemBytes == 32 * KiB)
    }

    /// A file's pages go with its last mapping, descriptor and name; the descriptor is inherited
    /// at fork; after unlink, mmap by the held descriptor maps the old file, a process without one
    /// makes a new file.
    @Test func pagesStayWhileAMappingADescriptorOrTheNameHoldsThem() throws {
        let report = try simulate(
            """
            spawn p
            p mmap m 16K shared file=f
            p touch m write
            p munmap m
            p close f
            measure named
            p unlink f
            measure unlinked
            p mmap n 16K shared file=g
            p touch n write
            p fork c
            p unlink g
            p close g
            p munmap n
            measure child-holds
            c mmap again 16K shared file=g
            c touch again read
            measure remapped
            c close g
            c munmap again
            c munmap n
            measure gone
            spawn q
            q mmap fresh 8K shared file=g
            q touch fresh read
            measure new-file
            q unlink nothing
            """)
        #expect(report.measure("named").system.shmemBytes == 16 * KiB)
        #expect(report.measure("unlinked").system.shmemBytes == 0)
        #expect(report.measure("child-holds").system.shmemBytes == 16 * KiB)
        // c maps the old file by its descriptor: its pages, no new ones.
        #expect(report.measure("remapped").system.shmemBytes == 16 * KiB)
        #expect(report.measure("remapped").process("c").rssBytes == 16 * KiB)
        #expect(report.measure("gone").system.shmemBytes == 0)
        #expect(report.measure("new-file").system.shmemBytes == 8 * KiB)
        #expect(report.errors.map(\.errno) == [.ENOENT])
    }

    /// 17c and shmem_fallocate: fallocated tmpfs pages are present (shmem) and dirty but not
    /// uptodate, so fault-around skips them and each takes a fault of its own.
    @Test func fallocatedPagesAreNotMappedByFaultAround() throws {
        let report = try simulate(
            """
            spawn p
            p mmap s 64K shared file=f
            p fallocate f offset=16K length=16K
            p touch s write length=4K
            measure fallocated
            p fork c
            c touch s read
            measure read
            """)
        #expect(report.measure("fallocated").system.shmemBytes == 20 * KiB)  // pages 0 and 4-7
        let c = report.measure("read").process("c")
        // Page 0 (cached): 1 fault; pages 1-3 and 8-15 (missing) and 4-7 (not uptodate): 1 each.
        #expect(c.minorFaults == 16)
        #expect(c.privateDirtyBytes == 16 * KiB)  // pages 4-7: fallocate marked them dirty
        #expect(c.privateCleanBytes == 44 * KiB)  // pages 1-3 and 8-15
        #expect(c.sharedDirtyBytes == 4 * KiB)  // page 0, written by p
        #expect(report.measure("read").system.shmemBytes == 64 * KiB)
    }

    /// 17e: a hole punch keeps the reservation of a page of the hole that was reserved and never
    /// faulted; the pages it frees lose theirs; a truncate returns every reservation it cuts.
    @Test func holePunchKeepsReservationsOfUnfaultedPages() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=8
            spawn p
            p mmap m 6M huge=2M shared file=f
            p touch m write length=2M
            p fallocate f offset=0 length=4M punch
            measure punched
            p touch m write offset=2M length=2M
            p touch m write length=2M
            measure refaulted
            p ftruncate f 2M
            measure truncated
            """)
        let punched = report.measure("punched").system
        #expect((punched.hugetlb2MFree, punched.hugetlb2MReserved) == (8, 2))
        let refaulted = report.measure("refaulted").system
        #expect((refaulted.hugetlb2MFree, refaulted.hugetlb2MReserved) == (6, 1))
        let truncated = report.measure("truncated").system
        #expect((truncated.hugetlb2MFree, truncated.hugetlb2MReserved) == (7, 0))
    }

    /// A truncate unmaps a private HugeTLB copy from the owner and its forked child alike; once
    /// it is freed the owner has its reservation back.
    @Test func truncateFreesPrivateCopiesAndGivesTheOwnerItsReservation() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=4
            spawn p
            p mmap m 2M huge=2M file=f
            p touch m write
            p fork c
            measure forked
            p ftruncate f 0
            measure truncated
            c touch m read
            p munmap m
            """)
        let forked = report.measure("forked").system
        #expect((forked.hugetlb2MFree, forked.hugetlb2MReserved) == (3, 0))
        let truncated = report.measure("truncated")
        #expect((truncated.system.hugetlb2MFree, truncated.system.hugetlb2MReserved) == (4, 1))
        #expect(truncated.process("c").privateHugetlbBytes == 0)
        let end = report.measure("end")
        #expect(end.process("c").signals == [.SIGBUS])
        #expect((end.system.hugetlb2MFree, end.system.hugetlb2MReserved) == (4, 0))
    }

    /// One ID names a tmpfs and a hugetlbfs file; the descriptor a process holds is the first
    /// one it opened, and a mapping of the other page size opens the other file without it.
    @Test func aDescriptorIsTheFileOfTheFirstMmap() throws {
        let report = try simulate(
            """
            machine hugetlb-2m=1
            spawn p
            p mmap a 8K shared file=f
            p touch a write
            p mmap b 2M huge=2M shared file=f
            p ftruncate f 0
            measure truncated
            p fork c
            c touch a read
            p touch b write
            """)
        let truncated = report.measure("truncated").system
        #expect(truncated.shmemBytes == 0)  // the tmpfs file was truncated
        #expect(truncated.hugetlb2MReserved == 1)  // the hugetlbfs file was not
        let end = report.measure("end")
        #expect(end.process("c").signals == [.SIGBUS])
        #expect(end.process("p").sharedHugetlbBytes + end.process("p").privateHugetlbBytes == 2 * MiB)
        #expect(report.errors.isEmpty)
    }

    /// Shared anonymous memory is shmem too, and is freed with its last mapping.
    @Test func sharedAnonymousMemoryCountsAsShmem() throws {
        let report = try simulate(
            """
            spawn p
            p mmap r 32K shared
            p touch r write length=8K
            measure touched
            p munmap r
            """)
        #expect(report.measure("touched").system.shmemBytes == 8 * KiB)
        #expect(report.measure("end").system.shmemBytes == 0)
    }
}
