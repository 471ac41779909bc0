import SomsimModel
import SomsimWorkload
import Testing

/// HugeTLB pools beyond their fixed size (MAP_NORESERVE, surplus pages, nr_hugepages written
/// mid-run) and SysV shared memory. Every expected value is worked out by hand from the rules
/// in docs/model.md, and each sequence is one measured in docs/kernel-facts/pools.c (P1–P7).
@Suite("Pools and SysV shared memory")
struct PoolsAndShmTests {
    /// (total, free, reserved, surplus) of the 2 MiB pool at a measure.
    func pool2M(_ m: Measure) -> [UInt64] {
        [m.system.hugetlb2MTotal, m.system.hugetlb2MFree, m.system.hugetlb2MReserved, m.system.hugetlb2MSurplus]
    }

    /// P1: a noreserve mapping of 3 pages over a pool of 2 reserves nothing; its third page's
    /// write raises SIGBUS, and the process's exit gives the 2 pages back.
    @Test func noreserveReservesNothingAndRunsOut() throws {
        let r = try simulate("""
            machine hugetlb-2m=2
            spawn a
            a mmap m 6M huge=2M noreserve
            measure mapped
            a touch m write length=4M
            measure two
            a touch m write offset=4M
            """)
        #expect(pool2M(r.measure("mapped")) == [2, 2, 0, 0])
        #expect(pool2M(r.measure("two")) == [2, 0, 0, 0])
        #expect(r.measure("end").process("a").signals == [.SIGBUS])
        #expect(pool2M(r.measure("end")) == [2, 2, 0, 0])
    }

    /// P2: a noreserve fault never takes a page another mapping has reserved.
    @Test func noreserveLeavesReservedPages() throws {
        let r = try simulate("""
            machine hugetlb-2m=2
            spawn a
            a mmap keep 2M huge=2M
            spawn b
            b mmap m 4M huge=2M noreserve
            b touch m write length=2M
            measure one
            b touch m write offset=2M
            a touch keep write
            """)
        #expect(pool2M(r.measure("one")) == [2, 1, 1, 0])
        #expect(r.measure("end").process("b").signals == [.SIGBUS])
        #expect(r.measure("end").process("a").signals == [])
        #expect(pool2M(r.measure("end")) == [2, 1, 0, 0])
    }

    /// P3: with 1 pool page and overcommit 2, a 3-page reservation adds 2 surplus pages; a
    /// fourth is refused (ENOMEM); unmapping frees the 2 written pages to the page allocator
    /// (surplus 2 → 0) and the unused reservation's page stays (free 1).
    @Test func surplusPagesAtReservation() throws {
        let r = try simulate("""
            machine hugetlb-2m=1 hugetlb-2m-overcommit=2
            spawn a
            a mmap m 6M huge=2M
            measure reserved
            a touch m write length=4M
            measure written
            a mmap more 2M huge=2M
            a munmap m
            """)
        #expect(pool2M(r.measure("reserved")) == [3, 3, 3, 2])
        #expect(pool2M(r.measure("written")) == [3, 1, 1, 2])
        #expect(r.errors.map(\.errno) == [.ENOMEM])
        #expect(r.errors.map(\.line) == [8])
        #expect(pool2M(r.measure("end")) == [1, 1, 0, 0])
    }

    /// P3: an empty pool with overcommit 2: noreserve faults add surplus pages straight into
    /// use, the third raises SIGBUS; the exit gives both back to the page allocator.
    @Test func surplusPagesAtFault() throws {
        let r = try simulate("""
            machine hugetlb-2m-overcommit=2
            spawn a
            a mmap m 6M huge=2M noreserve
            a touch m write length=4M
            measure two
            a touch m write offset=4M
            """)
        #expect(pool2M(r.measure("two")) == [2, 0, 0, 2])
        #expect(r.measure("end").process("a").signals == [.SIGBUS])
        #expect(pool2M(r.measure("end")) == [0, 0, 0, 0])
    }

    /// P4: nr_hugepages written while 2 pages are in use and 1 reserved.
    /// Shrink to 0: min_count = 1 + 2 = 3, one free page leaves, the 3 left turn surplus.
    /// Grow to 2: 2 surplus pages become persistent. Grow to 5: the last surplus page does,
    /// then 2 new pages. Shrink to 1: 2 free pages leave (min_count 3), 2 turn surplus.
    /// The last write takes the reserved page; munmap frees 3: 2 to the page allocator.
    @Test func sysctlResizesWithPagesInUse() throws {
        let r = try simulate("""
            machine hugetlb-2m=4
            spawn a
            a mmap m 6M huge=2M
            a touch m write length=4M
            measure start
            sysctl hugetlb-2m=0
            measure s0
            sysctl hugetlb-2m=2
            measure s2
            sysctl hugetlb-2m=5
            measure s5
            sysctl hugetlb-2m=1
            measure s1
            a touch m write offset=4M
            measure all-written
            a munmap m
            """)
        #expect(pool2M(r.measure("start")) == [4, 2, 1, 0])
        #expect(pool2M(r.measure("s0")) == [3, 1, 1, 3])
        #expect(pool2M(r.measure("s2")) == [3, 1, 1, 1])
        #expect(pool2M(r.measure("s5")) == [5, 3, 1, 0])
        #expect(pool2M(r.measure("s1")) == [3, 1, 1, 2])
        #expect(pool2M(r.measure("all-written")) == [3, 0, 0, 2])
        #expect(pool2M(r.measure("end")) == [1, 1, 0, 0])
        #expect(r.errors.isEmpty)
    }

    /// A pool resized mid-run holds RAM as the machine line's does: the memmap with HVO shrinks
    /// by 7 vmemmap pages per 2 MiB page the pool gains.
    @Test func sysctlFollowsHVO() throws {
        let r = try simulate("""
            machine hvo=on
            measure empty
            sysctl hugetlb-2m=3
            measure three
            """)
        #expect(r.measure("empty").system.memmapPages - r.measure("three").system.memmapPages == 3 * 7)
    }

    /// P9: with a surplus page in the pool, the owner's MADV_DONTNEED frees the page to the page
    /// allocator and restores no reservation; the next write adds a surplus page again. Without
    /// surplus pages (kf 6h) the reservation comes back.
    @Test func dontneedRestoresNoReservationWithSurplusPages() throws {
        let r = try simulate("""
            machine hugetlb-2m=1 hugetlb-2m-overcommit=1
            spawn t
            t mmap m 4M huge=2M
            t touch m write
            measure written
            t madvise m dontneed length=2M
            measure dontneed
            t touch m write length=2M
            measure rewritten
            t munmap m
            """)
        #expect(pool2M(r.measure("written")) == [2, 0, 0, 1])
        #expect(pool2M(r.measure("dontneed")) == [1, 0, 0, 0])
        #expect(pool2M(r.measure("rewritten")) == [2, 0, 0, 1])
        #expect(pool2M(r.measure("end")) == [1, 1, 0, 0])
        let plain = try simulate("""
            machine hugetlb-2m=2
            spawn t
            t mmap m 4M huge=2M
            t touch m write
            t madvise m dontneed length=2M
            """)
        #expect(pool2M(plain.measure("end")) == [2, 1, 1, 0])
    }

    /// MAP_POPULATE of a noreserve mapping larger than the free pool populates 2 of 3 pages and
    /// the process lives (populate ignores the fault's error); its own write to the third page
    /// raises SIGBUS.
    @Test func populateIgnoresSIGBUS() throws {
        let r = try simulate("""
            machine hugetlb-2m=2
            spawn t
            t mmap m 6M huge=2M noreserve populate
            measure populated
            t touch m write offset=4M
            """)
        let populated = r.measure("populated")
        #expect(populated.process("t").alive)
        #expect(populated.process("t").minorFaults == 2)
        #expect(populated.process("t").privateHugetlbBytes == 4 * MiB)
        #expect(pool2M(populated) == [2, 0, 0, 0])
        #expect(r.measure("end").process("t").signals == [.SIGBUS])
    }

    /// Surplus 1 GiB pages: the kernel refuses nr_overcommit_hugepages (EINVAL) and the pool
    /// gets none; a noreserve fault on an empty 1 GiB pool raises SIGBUS (P5).
    @Test func gigantOvercommitRefused() throws {
        let r = try simulate("""
            machine hugetlb-1g-overcommit=1
            spawn a
            a mmap g 1G huge=1G noreserve
            a touch g write
            """)
        #expect(r.errors.map(\.errno) == [.EINVAL])
        #expect(r.errors.map(\.line) == [2])
        #expect(r.measure("end").process("a").signals == [.SIGBUS])
        #expect(r.measure("end").system.hugetlb1GSurplus == 0)
    }

    /// P6: shmget reserves (or fails with ENOMEM); attachments follow fork; IPC_RMID while
    /// attached keeps the segment until the last detach.
    @Test func hugeSegmentLifetime() throws {
        let r = try simulate("""
            machine hugetlb-2m=3
            spawn p
            p shmget big 8M huge=2M
            p shmget k 4M huge=2M
            measure got
            p shmat k m
            p touch m write length=2M
            p fork c
            c touch m read length=2M
            measure forked
            p shmrm k
            p shmdt m
            measure detached
            c exit
            """)
        #expect(r.errors.map(\.errno) == [.ENOMEM])
        #expect(r.errors.map(\.line) == [4])
        #expect(pool2M(r.measure("got")) == [3, 3, 2, 0])
        let forked = r.measure("forked")
        #expect(pool2M(forked) == [3, 2, 1, 0])
        #expect(forked.process("p").minorFaults == 1)
        #expect(forked.process("c").minorFaults == 1)
        #expect(forked.process("c").sharedHugetlbBytes == 2 * MiB)
        #expect(pool2M(r.measure("detached")) == [3, 2, 1, 0])
        #expect(pool2M(r.measure("end")) == [3, 3, 0, 0])
    }

    /// P7: a 64-page shmem segment: 64 write faults; a forked child reads with 64 faults (no
    /// fault-around through shm), and the two share the pages: PSS 128 KiB each.
    @Test func smallSegmentSharedAcrossFork() throws {
        let r = try simulate("""
            spawn p
            p shmget k 256K
            p shmat k m
            p touch m write
            p fork c
            c touch m read
            measure shared
            c exit
            p shmdt m
            measure detached
            p shmrm k
            """)
        let shared = r.measure("shared")
        #expect(shared.process("p").minorFaults == 64)
        #expect(shared.process("c").minorFaults == 64)
        #expect(shared.process("p").pssBytes == 128 * KiB)
        #expect(shared.process("c").pssBytes == 128 * KiB)
        #expect(r.measure("detached").process("p").rssBytes == 0)
    }

    /// The overcommit heuristic: MAP_NORESERVE is not accounted, so a private mapping larger than
    /// RAM is made with it and refused without it.
    @Test func noreserveSkipsTheOvercommitCheck() throws {
        let r = try simulate("""
            machine ram=1G
            spawn a
            a mmap big 2G noreserve
            a mmap refused 2G
            """)
        #expect(r.errors.map(\.errno) == [.ENOMEM])
        #expect(r.errors.map(\.line) == [5])
    }
}
