#if os(Linux)
@testable import SomsimProbe
import Testing

/// `Recorder.thpsChanged`: the check that reads a snapshot again when the kernel split a THP
/// while it was read. The kernel did so once in CI: smaps counted two PMD-mapped THPs in the
/// parent of the prefork tree, and when kpageflags was read a moment later one of them was no
/// longer a THP (split in place: same frames, no compound page). The family was left out. The
/// smaps read that follows the difference is handed in here, so each case is exact.
@Suite struct RecorderTHPTests {
    typealias Run = RecordSnapshot.PageRun
    static let start: UInt64 = 0x7f00_0000_0000

    /// One process whose private anonymous VMA holds two 2 MiB blocks of frames; `thps` of them
    /// kpageflags still called THPs. smaps counted `smapsKB` of AnonHugePages.
    static func snapshot(thps: Int, smapsKB: UInt64, shared: Bool = false, path: String = "") -> [RecordSnapshot.Process] {
        let runs = (0..<2).map { Run(first: UInt64($0) * 512, count: 512, pfn: 0x10_0000 + UInt64($0) * 512, exclusive: true, pmdTHP: $0 < thps) }
        let vma = RecordSnapshot.VMA(
            start: start, end: start + (4 << 20), permissions: shared ? "rw-s" : "rw-p", inode: shared ? 99 : 0, path: shared ? "/dev/zero (deleted)" : path,
            smaps: ["Rss": 4096, "AnonHugePages": smapsKB], pages: runs)
        return [RecordSnapshot.Process(pid: 42, startTime: 1, vmas: [vma])]
    }

    @Test func aTHPSplitWhileItWasReadIsReadAgain() throws {
        // smaps said 4 MiB, the frames show one THP, and smaps now says 2 MiB: split meanwhile.
        var reads = 0
        let split = try Recorder.thpsChanged(Self.snapshot(thps: 1, smapsKB: 4096)) { pid in
            reads += 1
            #expect(pid == 42)
            return [Self.start: ["AnonHugePages": 2048]]
        }
        #expect(split == 42)
        #expect(reads == 1)
    }

    @Test func aDifferenceSmapsConfirmsIsTheVMAsOwn() throws {
        // smaps still says 4 MiB: 512 frames of a THP mapped by PTEs, say. Not read again; the
        // builder leaves the family out with the difference as its reason.
        let same = try Recorder.thpsChanged(Self.snapshot(thps: 1, smapsKB: 4096)) { _ in [Self.start: ["AnonHugePages": 4096]] }
        #expect(same == nil)
        // The VMA gone from smaps is a change too.
        let gone = try Recorder.thpsChanged(Self.snapshot(thps: 1, smapsKB: 4096)) { _ in [:] }
        #expect(gone == 42)
    }

    @Test func smapsIsNotReadAgainWhenTheFramesAgree() throws {
        for (thps, kb) in [(0, UInt64(0)), (1, 2048), (2, 4096)] {
            let agreed = try Recorder.thpsChanged(Self.snapshot(thps: thps, smapsKB: kb)) { _ in
                Issue.record("smaps read again although \(thps) THPs agree with \(kb) kB")
                return [:]
            }
            #expect(agreed == nil)
        }
    }

    @Test func onlyTheVMAsWhosePagesWereReadAreChecked() throws {
        // Shared memory has no PMD-mapped THPs in the model, and a private file mapping's pages
        // are not read: neither is a reason to read again.
        for processes in [Self.snapshot(thps: 0, smapsKB: 4096, shared: true), Self.snapshot(thps: 0, smapsKB: 4096, path: "/usr/lib/libc.so.6")] {
            let checked = try Recorder.thpsChanged(processes) { _ in
                Issue.record("smaps read again for \(processes[0].vmas[0].path)")
                return [:]
            }
            #expect(checked == nil)
        }
    }
}
#endif
