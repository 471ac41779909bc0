import SomsimModel
import SomsimWorkload
import Testing

/// mprotect, mlock and munlock (Protection.swift), with expectations computed by hand from the
/// kernel's rules and checked against it (docs/kernel-facts/FINDINGS.md, sections 15 and 16).
@Suite struct ProtectionTests {
    /// The errno of the event on `line` (1 is the header, so the body's first line is 2).
    func errno(_ report: Report, line: Int) -> Errno? { report.errors.first { $0.line == line }?.errno }

    @Test func exclusivePagesAreWritableAgainWithoutAFault() throws {
        // 16 written pages, READ, reads, RW, writes: 16 faults in all (kf 15a). NONE then RW: 0.
        let report = try simulate(
            """
            spawn p
            p mmap m 64K
            p touch m write
            p mprotect m read
            p touch m read
            p mprotect m write
            p touch m write
            p mprotect m none
            p mprotect m write
            p touch m write
            measure m
            """)
        let p = report.measure("m").process("p")
        #expect(p.minorFaults == 16)
        #expect(p.cowReuses == 0 && p.cowCopies == 0)
        #expect(p.privateDirtyBytes == 64 * KiB)
        #expect(report.errors.isEmpty)
    }

    @Test func pagesForkSharedStayWriteProtected() throws {
        // kf 15c: child gone, READ/RW, 16 writes = 16 faults, 16 reuses; again READ/RW: 0 faults.
        // kf 15d: child alive: 16 faults, 16 copies.
        let report = try simulate(
            """
            spawn p
            p mmap gone 64K
            p mmap alive 64K
            p touch gone write
            p touch alive write
            p fork c
            c munmap gone
            p mprotect gone read
            p mprotect gone write
            p touch gone write
            p mprotect gone read
            p mprotect gone write
            p touch gone write
            measure reused
            p mprotect alive read
            p mprotect alive write
            p touch alive write
            measure copied
            """)
        let reused = report.measure("reused").process("p")
        #expect(reused.minorFaults == 32 + 16)
        #expect(reused.cowReuses == 16)
        #expect(reused.cowCopies == 0)
        let copied = report.measure("copied").process("p")
        #expect(copied.minorFaults == 32 + 16 + 16)
        #expect(copied.cowCopies == 16)
        #expect(copied.cowReuses == 16)
    }

    @Test func forbiddenAccessesRaiseSIGSEGVWithoutAFault() throws {
        let report = try simulate(
            """
            spawn r
            r mmap m 16K
            r mprotect m read
            r touch m read
            r touch m write length=4K
            spawn n
            n mmap m 16K
            n touch m write
            n mprotect m none offset=8K
            n touch m read length=8K
            n touch m read
            n touch m write
            """)
        let end = report.measure("end")
        let r = end.process("r")
        // 4 zero-page reads, then the write is refused: no fault for it.
        #expect(r.minorFaults == 4)
        #expect(r.signals == [.SIGSEGV])
        #expect(!r.alive)
        let n = end.process("n")
        #expect(n.minorFaults == 4)
        #expect(n.signals == [.SIGSEGV])
        // The statement after the kill is refused as the process is gone.
        #expect(errno(report, line: 13) == .ESRCH)
    }

    @Test func rangesStopAtTheFirstHole() throws {
        // Placement is top-down: a is highest, then the hole, then b. From b's page 2 over the
        // hole: b's pages 2-3 changed, ENOMEM, a untouched (kf 15g).
        let report = try simulate(
            """
            spawn p
            p mmap a 16K
            p mmap hole 16K
            p mmap b 16K
            p munmap hole
            p mprotect b read offset=8K length=40K
            p mprotect a read offset=8K length=16K
            p mprotect a none length=0
            p fork c
            c touch a write
            c touch b write length=8K
            measure child-wrote
            c touch b write offset=8K
            """)
        #expect(errno(report, line: 7) == .ENOMEM)
        #expect(errno(report, line: 8) == .ENOMEM)
        #expect(errno(report, line: 9) == nil)
        // a's pages 0-1 writable (pages 2-3 read-only after line 8): the child's write of all of
        // a stops at page 2 with SIGSEGV after 2 faults.
        let c = report.measure("child-wrote").process("c")
        #expect(!c.alive)
        #expect(c.minorFaults == 2)
        #expect(c.signals == [.SIGSEGV])
    }

    @Test func mlockPopulatesAndCountsWholeRanges() throws {
        let report = try simulate(
            """
            spawn p
            p mmap m 64K
            p mlock m
            measure locked
            p mlock m
            p munlock m offset=16K length=16K
            measure partly
            p mmap ro 16K
            p mprotect ro read
            p mlock ro
            p mmap guard 16K
            p mprotect guard none
            p mlock guard
            measure guard
            p mprotect guard write
            measure populated
            p munlock m
            p munlock ro
            p munlock guard
            measure unlocked
            """)
        let locked = report.measure("locked").process("p")
        #expect(locked.minorFaults == 16)
        #expect(locked.privateDirtyBytes == 64 * KiB)
        #expect(locked.lockedBytes == 64 * KiB)
        let partly = report.measure("partly").process("p")
        #expect(partly.minorFaults == 16)  // the second mlock faults nothing: pages are writable
        #expect(partly.lockedBytes == 48 * KiB)
        // Read-only: 4 read faults (zero pages, no RSS); PROT_NONE: ENOMEM, locked, no fault.
        let guardLocked = report.measure("guard").process("p")
        #expect(guardLocked.minorFaults == 16 + 4)
        #expect(guardLocked.rssBytes == 64 * KiB)
        #expect(guardLocked.lockedBytes == (48 + 16 + 16) * KiB)
        #expect(errno(report, line: 14) == .ENOMEM)
        // mprotect(RW) of the locked PROT_NONE range populates it with 4 write faults.
        let populated = report.measure("populated").process("p")
        #expect(populated.minorFaults == 16 + 4 + 4)
        #expect(populated.rssBytes == 80 * KiB)
        #expect(report.measure("unlocked").process("p").lockedBytes == 0)
    }

    @Test func mlockPastTheEndLocksWhatIsMappedAndPopulatesNothing() throws {
        let report = try simulate(
            """
            spawn p
            p mmap m 16K
            p mlock m offset=8K length=16K
            measure past
            p munlock m offset=8K length=16K
            measure unlocked
            p mlock m offset=16K
            p mlock m offset=20K
            """)
        let past = report.measure("past").process("p")
        #expect(past.lockedBytes == 8 * KiB)
        #expect(past.minorFaults == 0)
        #expect(past.rssBytes == 0)
        #expect(errno(report, line: 4) == .ENOMEM)
        #expect(errno(report, line: 6) == .ENOMEM)
        #expect(report.measure("unlocked").process("p").lockedBytes == 0)
        // At the end with no length: length 0, nothing; past the end with no length: ENOMEM.
        #expect(errno(report, line: 8) == nil)
        #expect(errno(report, line: 9) == .ENOMEM)
    }

    @Test func forkDropsTheLockAndTheChildsMlockCopies() throws {
        // kf 16d: the child has VmLck 0; its mlock copies the 16 shared pages; the parent's next
        // mlock reuses its 16 (no longer shared) pages.
        let report = try simulate(
            """
            spawn p
            p mmap m 64K
            p touch m write
            p mlock m
            p fork c
            measure forked
            c mlock m
            p mlock m
            measure relocked
            """)
        let forked = report.measure("forked")
        #expect(forked.process("p").lockedBytes == 64 * KiB)
        #expect(forked.process("c").lockedBytes == 0)
        let relocked = report.measure("relocked")
        #expect(relocked.process("c").minorFaults == 16)
        #expect(relocked.process("c").cowCopies == 16)
        #expect(relocked.process("c").lockedBytes == 64 * KiB)
        #expect(relocked.process("p").minorFaults == 16 + 16)
        #expect(relocked.process("p").cowReuses == 16)
    }

    @Test func hugeTLBIsPopulatedButNeverLockedNorMadeWritableAgain() throws {
        // kf 16g: mlock of 2 private huge pages: 2 faults, from the reservation, VmLck 0.
        // kf 15k: READ/RW then writes: a fault and a reuse each; an unaligned split: EINVAL.
        let report = try simulate(
            """
            machine hugetlb-2m=4
            spawn p
            p mmap h 4M huge=2M
            p mlock h
            measure locked
            p mprotect h read
            p mprotect h write
            p touch h write
            measure rewritten
            p mmap small 16K
            p mmap h2 4M huge=2M
            """)
        let locked = report.measure("locked")
        #expect(locked.process("p").minorFaults == 2)
        #expect(locked.process("p").lockedBytes == 0)
        #expect(locked.system.hugetlb2MFree == 2)
        #expect(locked.system.hugetlb2MReserved == 0)
        let rewritten = report.measure("rewritten").process("p")
        #expect(rewritten.minorFaults == 4)
        #expect(rewritten.cowReuses == 2)
        #expect(rewritten.cowCopies == 0)
    }

    @Test func aRangeEndingInsideAHugePageIsEINVAL() throws {
        // A 4 KiB mapping placed right below a HugeTLB one (top-down: the HugeTLB mapping first,
        // 2 MiB aligned; the small one just below it): a range from the small one that ends 4 KiB
        // into the huge page would split it there (hugetlb_vm_op_split).
        let report = try simulate(
            """
            machine hugetlb-2m=2
            spawn p
            p mmap h 2M huge=2M
            p mmap s 16K
            p mprotect s read offset=8K length=12K
            p mprotect s read offset=8K length=8K
            p mlock s offset=8K length=12K
            measure m
            p touch s write length=8K
            p touch s write offset=8K
            """)
        #expect(errno(report, line: 6) == .EINVAL)
        #expect(errno(report, line: 7) == nil)
        // mlock never splits a HugeTLB VMA (mlock_fixup skips it first): locks s's 2 pages, and
        // populates them (read faults: PROT_READ) and the huge page (a write fault).
        #expect(errno(report, line: 8) == nil)
        let m = report.measure("m").process("p")
        #expect(m.lockedBytes == 8 * KiB)
        #expect(m.minorFaults == 2 + 1)
        #expect(m.privateHugetlbBytes == 2 * MiB)
        let end = report.measure("end").process("p")
        #expect(end.signals == [.SIGSEGV])
        #expect(end.minorFaults == 3 + 2)
    }

    @Test func aPartialProtectionChangeSplitsATHPsPMD() throws {
        // kf 15j: a THP written, READ on its first 4 KiB: the PMD is split (the rest of the folio
        // stays mapped, writable: the writes after RW cost nothing); page tables unchanged.
        let report = try simulate(
            """
            machine thp=madvise
            spawn p
            p mmap m 2M
            p madvise m hugepage
            p touch m write length=4K
            measure thp
            p mprotect m read length=4K
            measure split
            p mprotect m write length=4K
            p touch m write
            measure written
            """)
        let thp = report.measure("thp").process("p")
        #expect(thp.minorFaults == 1)
        #expect(thp.rssBytes == 2 * MiB)
        let split = report.measure("split").process("p")
        #expect(split.pageTableBytes == thp.pageTableBytes)
        #expect(split.rssBytes == 2 * MiB)
        #expect(report.measure("written").process("p").minorFaults == 1)
    }
}
