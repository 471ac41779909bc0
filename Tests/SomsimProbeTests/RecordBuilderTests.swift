import SomsimModel
import SomsimProbe
import SomsimWorkload
import Testing

/// `RecordBuilder` on hand-made snapshots (no root needed): the workload it writes must give,
/// under `simulate`, the values worked out by hand below from the frames of each snapshot.
@Suite struct RecordBuilderTests {
    typealias VMA = RecordSnapshot.VMA
    typealias Run = RecordSnapshot.PageRun

    static let base: UInt64 = 0x7f00_0000_0000
    /// PSS of one 4 KiB page mapped `n` times, in the kernel's fixed point (PSS_SHIFT 12).
    static func pss(_ n: UInt64) -> UInt64 { (4096 << 12) / n }

    static func vma(_ pages: [Run], count: UInt64 = 16, start: UInt64 = base, shared: Bool = false, smaps: [String: UInt64]) -> VMA {
        VMA(
            start: start, end: start + count * 4096, permissions: shared ? "rw-s" : "rw-p", inode: shared ? 1234 : 0, path: shared ? "/dev/zero (deleted)" : "",
            smaps: smaps, pages: pages)
    }

    static func simulate(_ text: String) throws -> [String: ProcessMetrics] {
        let workload = try WorkloadParser.parse(text, fileName: "recording")
        let report = Simulator.run(workload)
        #expect(report.errors.isEmpty, "\(report.errors)")
        return Dictionary(uniqueKeysWithValues: report.measures.last!.processes.map { ($0.name, $0) })
    }

    /// A parent wrote 16 pages and forked a and b (in that order); a copied pages 0–3, b pages
    /// 4–5; the parent wrote pages 8–9 after both forks (its copies; a and b still share the old
    /// frames). Frames 100+i are the parent's originals, 200+ a's copies, 300+ b's, 400+ the
    /// parent's late copies.
    @Test func forkSharingComesOutAsTheFramesShowIt() throws {
        func run(_ first: UInt64, _ count: UInt64, _ pfn: UInt64, _ mapcount: UInt64) -> Run {
            Run(first: first, count: count, pfn: pfn, exclusive: mapcount == 1, mapcount: mapcount)
        }
        // Pss by hand: parent 6 pages /2, 8 pages /3 (6–7, 10–15), 2 pages alone.
        let parentPss = 6 * Self.pss(2) + 8 * Self.pss(3) + 2 * Self.pss(1)
        let aPss = 4 * Self.pss(1) + 4 * Self.pss(2) + 8 * Self.pss(3)
        let bPss = 2 * Self.pss(1) + 6 * Self.pss(2) + 8 * Self.pss(3)
        #expect(parentPss == 128_625_320 && aPss == 145_402_536 && bPss == 128_625_320)
        let parent = Self.vma(
            [run(0, 6, 100, 2), run(6, 2, 106, 3), run(8, 2, 400, 1), run(10, 6, 110, 3)],
            smaps: ["Rss": 64, "Pss": parentPss >> 22, "Private_Dirty": 8, "Shared_Dirty": 56])
        let a = Self.vma(
            [run(0, 4, 200, 1), run(4, 2, 104, 2), run(6, 2, 106, 3), run(8, 2, 108, 2), run(10, 6, 110, 3)],
            smaps: ["Rss": 64, "Pss": aPss >> 22, "Private_Dirty": 16, "Shared_Dirty": 48])
        // b's pages 6–9 split as the reader splits them: 6–7 shared by three, 8–9 by a and b.
        let bVMA = Self.vma(
            [run(0, 4, 100, 2), run(4, 2, 304, 1), run(6, 2, 106, 3), run(8, 2, 108, 2), run(10, 6, 110, 3)],
            smaps: ["Rss": 64, "Pss": bPss >> 22, "Private_Dirty": 8, "Shared_Dirty": 56])
        let snapshot = RecordSnapshot(processes: [
            .init(pid: 10, command: "server", startTime: 1, vmas: [parent]),
            .init(pid: 12, parent: 10, command: "server", startTime: 3, vmas: [bVMA]),
            .init(pid: 11, parent: 10, command: "server", startTime: 2, vmas: [a]),
        ])
        let recording = RecordBuilder.build(snapshot)
        #expect(recording.leftOut.isEmpty, "\(recording.leftOut)")
        // Forks in the order the children started: a (11) before b (12).
        let forkA = try #require(recording.text.range(of: "p10 fork p11"))
        let forkB = try #require(recording.text.range(of: "p10 fork p12"))
        #expect(forkA.lowerBound < forkB.lowerBound)
        #expect(recording.text.contains("# p10 7f0000000000-7f0000010000 rw-p"))
        let m = try Self.simulate(recording.text)
        #expect(m["p10"]!.rssBytes == 65536 && m["p11"]!.rssBytes == 65536 && m["p12"]!.rssBytes == 65536)
        #expect(m["p10"]!.pssBytes == 31402 && m["p11"]!.pssBytes == 35498 && m["p12"]!.pssBytes == 31402)
        #expect(m["p10"]!.privateDirtyBytes == 8192 && m["p11"]!.privateDirtyBytes == 16384 && m["p12"]!.privateDirtyBytes == 8192)
        #expect(m["p10"]!.sharedDirtyBytes == 57344 && m["p11"]!.sharedDirtyBytes == 49152 && m["p12"]!.sharedDirtyBytes == 57344)
        #expect(recording.expected[10]!.pss == 31402 && recording.expected[11]!.pss == 35498)
    }

    /// Shared anonymous memory: the parent wrote pages 0–3, the child (forked after) wrote 2–3
    /// and read 4–5 (pages no one wrote: clean folios). Mapcounts: 0–1 one, 2–3 two, 4–5 one.
    @Test func sharedMemoryDirtyAndCleanPages() throws {
        func run(_ first: UInt64, _ count: UInt64, _ pfn: UInt64, _ mapcount: UInt64, dirty: Bool) -> Run {
            Run(first: first, count: count, pfn: pfn, exclusive: mapcount == 1, mapcount: mapcount, dirty: dirty)
        }
        let parent = Self.vma(
            [run(0, 2, 500, 1, dirty: true), run(2, 2, 502, 2, dirty: true)], count: 8, shared: true,
            smaps: ["Rss": 16, "Pss": 12, "Private_Dirty": 8, "Shared_Dirty": 8])
        let child = Self.vma(
            [run(2, 2, 502, 2, dirty: true), run(4, 2, 504, 1, dirty: false)], count: 8, shared: true,
            smaps: ["Rss": 16, "Pss": 12, "Private_Clean": 8, "Shared_Dirty": 8])
        let snapshot = RecordSnapshot(processes: [
            .init(pid: 1, startTime: 1, vmas: [parent]), .init(pid: 2, parent: 1, startTime: 2, vmas: [child]),
        ])
        let recording = RecordBuilder.build(snapshot)
        #expect(recording.leftOut.isEmpty, "\(recording.leftOut)")
        #expect(recording.text.contains("p1 mmap shared_7f0000000000 32K shared"))
        let m = try Self.simulate(recording.text)
        #expect(m["p1"]!.rssBytes == 16384 && m["p1"]!.pssBytes == 12288 && m["p1"]!.privateDirtyBytes == 8192 && m["p1"]!.sharedDirtyBytes == 8192)
        #expect(m["p2"]!.rssBytes == 16384 && m["p2"]!.pssBytes == 12288 && m["p2"]!.privateCleanBytes == 8192 && m["p2"]!.sharedDirtyBytes == 8192)
        #expect(m["p2"]!.sharedCleanBytes == 0 && m["p2"]!.privateDirtyBytes == 0)
    }

    /// Children that each mapped memory of their own at the same address after the fork: one
    /// family made by the parent, which unmaps it; each child keeps its own pages.
    @Test func mappingsOnlyChildrenHaveAreMadeByTheParentAndUnmappedThere() throws {
        let own = { (_: Int) in Self.vma([Run(first: 0, count: 4)], count: 4, smaps: ["Rss": 16, "Pss": 16, "Private_Dirty": 16]) }
        let heap = Self.vma([Run(first: 0, count: 2)], count: 2, start: 0x5500_0000_0000, smaps: ["Rss": 8, "Pss": 8, "Private_Dirty": 8])
        let snapshot = RecordSnapshot(processes: [
            .init(pid: 1, startTime: 1, vmas: [heap]), .init(pid: 2, parent: 1, startTime: 2, vmas: [own(1)]),
            .init(pid: 3, parent: 1, startTime: 3, vmas: [own(2)]),
        ])
        let recording = RecordBuilder.build(snapshot)
        #expect(recording.leftOut.isEmpty)
        #expect(recording.text.contains("p1 munmap anon_7f0000000000\n"))
        let m = try Self.simulate(recording.text)
        #expect(m["p1"]!.rssBytes == 8192 && m["p2"]!.rssBytes == 16384 + 0 && m["p3"]!.rssBytes == 16384)
        // The heap the parent wrote: each child dropped what it inherited of it.
        #expect(m["p2"]!.privateDirtyBytes == 16384 && m["p1"]!.privateDirtyBytes == 8192)
    }

    /// What cannot be reproduced is left out, with its bytes and reason, and does not change
    /// what is recorded: file mappings, the kernel's mappings, frames other processes map too,
    /// clean anonymous pages (MADV_FREE), and shared memory of processes recorded apart.
    @Test func leftOutWithBytesAndReasons() throws {
        let file = VMA(start: 0x5500_0000_0000, end: 0x5500_0000_4000, permissions: "r-xp", device: "08:01", inode: 77, path: "/usr/bin/server", smaps: ["Rss": 16])
        let vdso = VMA(start: 0x7fff_0000_0000, end: 0x7fff_0000_2000, permissions: "r-xp", path: "[vdso]", smaps: ["Rss": 8])
        // Two pages also mapped by an unrecorded process: mapcount 2, one recorded holder.
        let outside = Self.vma(
            [Run(first: 0, count: 2, pfn: 900, exclusive: false, mapcount: 2)], count: 2, start: 0x7f10_0000_0000,
            smaps: ["Rss": 8, "Pss": 4, "Shared_Dirty": 8])
        let lazyfree = Self.vma([Run(first: 0, count: 1)], count: 1, start: 0x7f20_0000_0000, smaps: ["Rss": 4, "Pss": 4, "Private_Clean": 4])
        let kept = Self.vma([Run(first: 0, count: 3)], count: 4, start: 0x7f30_0000_0000, smaps: ["Rss": 12, "Pss": 12, "Private_Dirty": 12])
        let sharedA = Self.vma([Run(first: 0, count: 1, pfn: 50, exclusive: false, mapcount: 2)], count: 1, start: 0x7f40_0000_0000, shared: true,
            smaps: ["Rss": 4, "Pss": 2, "Shared_Dirty": 4])
        let snapshot = RecordSnapshot(processes: [
            .init(pid: 1, startTime: 1, vmas: [file, outside, lazyfree, kept, sharedA, vdso]),
            .init(pid: 9, startTime: 9, vmas: [sharedA]),
        ])
        let recording = RecordBuilder.build(snapshot)
        let reasons = recording.leftOut.map { "\($0.pid) \($0.bytes) \($0.reason)" }
        #expect(recording.leftOut.count == 6, "\(reasons)")
        #expect(reasons.contains { $0.hasPrefix("1 16384 a private file mapping") })
        #expect(reasons.contains { $0.hasPrefix("1 8192 the kernel's own mapping") })
        #expect(reasons.contains { $0.hasPrefix("1 8192 frames mapped 2 times, 1 of them by recorded processes") })
        #expect(reasons.contains { $0.hasPrefix("1 4096 ") && $0.contains("clean anonymous pages") })
        #expect(reasons.contains { $0.hasPrefix("9 4096 shared memory also mapped by a process recorded without its parent") })
        #expect(recording.text.contains("#   p1: 16384 B in 1 mapping: a private file mapping"))
        #expect(recording.text.contains("# left out p1 7f1000000000-7f1000002000 rw-p: frames mapped 2 times"))
        let m = try Self.simulate(recording.text)
        #expect(m["p1"]!.rssBytes == 12288 && m["p9"]!.rssBytes == 0)
        #expect(recording.expected[1]!.rss == 12288)
    }

    /// A PMD-mapped THP the parent wrote before fork and the child still maps whole: the
    /// mapping is padded to 2 MiB and the block advised `hugepage`, so the model makes a THP
    /// (one PTE table, one fault) and the child shares it.
    @Test func transparentHugePagesAreMadeAsTHPs() throws {
        let start = Self.base + 0x1000  // a VMA that starts 4 KiB past a 2 MiB boundary
        let thp = Run(first: 511, count: 512, pfn: 0x10_0000, exclusive: false, mapcount: 2, pmdTHP: true)
        let v = Self.vma([thp], count: 1024, start: start, smaps: ["Rss": 2048, "Pss": 1024, "Shared_Dirty": 2048])
        let snapshot = RecordSnapshot(processes: [.init(pid: 1, startTime: 1, vmas: [v]), .init(pid: 2, parent: 1, startTime: 2, vmas: [v])])
        let recording = RecordBuilder.build(snapshot)
        #expect(recording.leftOut.isEmpty, "\(recording.leftOut)")
        #expect(recording.text.contains("machine thp=madvise"))
        #expect(recording.text.contains("p1 mmap anon_7f0000001000 6M\np1 munmap anon_7f0000001000 length=4K\n"))
        #expect(recording.text.contains("p1 madvise anon_7f0000001000 hugepage offset=2M length=2M"))
        let m = try Self.simulate(recording.text)
        #expect(m["p1"]!.rssBytes == 2 << 20 && m["p2"]!.rssBytes == 2 << 20 && m["p1"]!.pssBytes == 1 << 20)
        #expect(m["p1"]!.minorFaults == 1)
        // Both map the THP with a PMD entry: AnonHugePages 2 MiB each, Pss_Anon = Pss (1 MiB).
        for (pid, name) in [(Int32(1), "p1"), (2, "p2")] {
            #expect((recording.expected[pid]!.anonHugePages, recording.expected[pid]!.pssAnon) == (2 << 20, 1 << 20))
            #expect((m[name]!.anonHugePagesBytes, m[name]!.pssAnonBytes) == (2 << 20, 1 << 20))
        }
        // smaps saying otherwise (the 512 frames PTE-mapped, not a PMD): the family is left out.
        let pte = Self.vma([thp], count: 1024, start: start, smaps: ["Rss": 2048, "Pss": 1024, "Shared_Dirty": 2048, "AnonHugePages": 0])
        let split = RecordBuilder.build(RecordSnapshot(processes: [.init(pid: 1, startTime: 1, vmas: [pte]), .init(pid: 2, parent: 1, startTime: 2, vmas: [pte])]))
        #expect(split.leftOut.contains { $0.reason.contains("smaps AnonHugePages 0") }, "\(split.leftOut)")
    }

    /// Private HugeTLB memory (MAP_HUGETLB): the parent wrote two 2 MiB pages before fork, the
    /// child copied the second. smaps counts them in Private_Hugetlb and Shared_Hugetlb only.
    @Test func hugeTLBPagesAndTheirCopies() throws {
        let unit: UInt64 = 512
        func vma(_ pages: [Run], _ fields: [String: UInt64]) -> VMA {
            VMA(
                start: 0x7f40_0000_0000, end: 0x7f40_0000_0000 + 3 * (2 << 20), permissions: "rw-p", device: "00:10", inode: 5, path: "/anon_hugepage (deleted)",
                smaps: fields.merging(["KernelPageSize": 2048]) { a, _ in a }, pages: pages)
        }
        let parent = vma(
            [Run(first: 0, count: unit, pfn: 0x20_0000, exclusive: false, mapcount: 2), Run(first: unit, count: unit, pfn: 0x20_0200)],
            ["Shared_Hugetlb": 2048, "Private_Hugetlb": 2048])
        let child = vma(
            [Run(first: 0, count: unit, pfn: 0x20_0000, exclusive: false, mapcount: 2), Run(first: unit, count: unit, pfn: 0x30_0000)],
            ["Shared_Hugetlb": 2048, "Private_Hugetlb": 2048])
        let snapshot = RecordSnapshot(processes: [.init(pid: 1, startTime: 1, vmas: [parent]), .init(pid: 2, parent: 1, startTime: 2, vmas: [child])])
        let recording = RecordBuilder.build(snapshot)
        #expect(recording.leftOut.isEmpty, "\(recording.leftOut)")
        // The mapping's 3 pages (the parent's reservation) and the 3 present ones.
        #expect(recording.text.contains("machine hugetlb-2m=7"))
        #expect(recording.text.contains("p1 mmap huge_7f4000000000 6M huge=2M\n"))
        #expect(recording.text.contains("p2 touch huge_7f4000000000 write offset=2M length=2M\n"))
        let m = try Self.simulate(recording.text)
        #expect(m["p1"]!.sharedHugetlbBytes == 2 << 20 && m["p1"]!.privateHugetlbBytes == 2 << 20 && m["p1"]!.rssBytes == 0)
        #expect(m["p2"]!.sharedHugetlbBytes == 2 << 20 && m["p2"]!.privateHugetlbBytes == 2 << 20 && m["p2"]!.pssBytes == 0)
    }

    /// A POSIX shared memory file (/dev/shm) two unrelated processes map: each tree maps the
    /// file by name (`file=`), the pages are shared through it. Process 9 maps file pages 2–5
    /// (offset 8K); pages 2–3 are mapped by both.
    @Test func tmpfsFilesAreSharedByName() throws {
        func vma(_ start: UInt64, _ pages: UInt64, offset: UInt64, _ runs: [Run], _ fields: [String: UInt64]) -> VMA {
            VMA(start: start, end: start + pages * 4096, permissions: "rw-s", offset: offset, device: "00:1a", inode: 42, path: "/dev/shm/cache", smaps: fields, pages: runs)
        }
        let a = vma(0x7f10_0000_0000, 8, offset: 0,
            [Run(first: 0, count: 2, pfn: 700, mapcount: 1, dirty: true), Run(first: 2, count: 2, pfn: 702, exclusive: false, mapcount: 2, dirty: true)],
            ["Rss": 16, "Pss": 12, "Private_Dirty": 8, "Shared_Dirty": 8])
        let b = vma(0x7f20_0000_0000, 4, offset: 8192,
            [Run(first: 0, count: 2, pfn: 702, exclusive: false, mapcount: 2, dirty: true)], ["Rss": 8, "Pss": 4, "Shared_Dirty": 8])
        let snapshot = RecordSnapshot(processes: [.init(pid: 1, startTime: 1, vmas: [a]), .init(pid: 9, startTime: 9, vmas: [b])])
        let recording = RecordBuilder.build(snapshot)
        #expect(recording.leftOut.isEmpty, "\(recording.leftOut)")
        #expect(recording.text.contains("p1 mmap f42_7f1000000000 32K shared file=f42\n"))
        // Each tree maps the file over the pages any process has, and unmaps what it lacks.
        #expect(recording.text.contains("p9 mmap f42_7f1000000000 32K shared file=f42\np9 touch f42_7f1000000000 write offset=8K length=8K\np9 munmap f42_7f1000000000 length=8K\np9 munmap f42_7f1000000000 offset=24K\n"))
        let m = try Self.simulate(recording.text)
        #expect(m["p1"]!.rssBytes == 16384 && m["p1"]!.pssBytes == 12288 && m["p1"]!.privateDirtyBytes == 8192 && m["p1"]!.sharedDirtyBytes == 8192)
        #expect(m["p9"]!.rssBytes == 8192 && m["p9"]!.pssBytes == 4096 && m["p9"]!.sharedDirtyBytes == 8192)
    }
}
