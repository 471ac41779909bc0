import Foundation
import Testing
import SomsimWorkload

@Suite("Printing and round trips")
struct PrinterTests {
    @Test func canonicalText() throws {
        var machine = MachineSpec()
        machine.hugetlb2MPages = 8
        machine.pti = false
        let w = Workload(machine: machine, statements: [
            Located(.spawn(process: "p"), at: SourceLocation(line: 1)),
            Located(.mmap(process: "p", mapping: "m", lengthBytes: 4 << 20, options: MmapOptions(shared: true, huge: .size2M, file: "f", populate: true)), at: SourceLocation(line: 1)),
            Located(.madvise(process: "p", mapping: "m", advice: .dontfork, range: .whole), at: SourceLocation(line: 1)),
            Located(.madvise(process: "p", mapping: "m", advice: .dontneed, range: ByteRange(offsetBytes: 2 << 20, lengthBytes: 2 << 20)), at: SourceLocation(line: 1)),
            Located(.touch(process: "p", mapping: "m", access: .read, range: ByteRange(lengthBytes: 0), pattern: .stride(bytes: 4097)), at: SourceLocation(line: 1)),
            Located(.touch(process: "p", mapping: "m", access: .write, range: ByteRange(offsetBytes: 2 << 20), pattern: .random(count: 1, seed: 42)), at: SourceLocation(line: 1)),
            Located(.fork(parent: "p", child: "c"), at: SourceLocation(line: 1)),
            Located(.munmap(process: "c", mapping: "m", range: .whole), at: SourceLocation(line: 1)),
            Located(.exit(process: "c"), at: SourceLocation(line: 1)),
            Located(.measure(label: "end-1"), at: SourceLocation(line: 1)),
        ])
        #expect(WorkloadPrinter.print(w) == """
            somsim-workload 1
            machine hugetlb-2m=8 pti=off
            spawn p
            p mmap m 4M shared huge=2M file=f populate
            p madvise m dontfork
            p madvise m dontneed offset=2M length=2M
            p touch m read length=0 stride=4097B
            p touch m write offset=2M random=1 seed=42
            p fork c
            c munmap m
            c exit
            measure end-1

            """)
        #expect(try WorkloadParser.parse(WorkloadPrinter.print(w), fileName: "x").hasSameContent(as: w))
    }

    /// `munmap` with a range and `mremap` (issue 9): canonical text and round trip.
    @Test func munmapRangesAndMremap() throws {
        let w = Workload(statements: [
            Located(.spawn(process: "p"), at: SourceLocation(line: 1)),
            Located(.mmap(process: "p", mapping: "m", lengthBytes: 8 << 20, options: MmapOptions()), at: SourceLocation(line: 1)),
            Located(.munmap(process: "p", mapping: "m", range: ByteRange(offsetBytes: 2 << 20, lengthBytes: 1 << 20)), at: SourceLocation(line: 1)),
            Located(.munmap(process: "p", mapping: "m", range: ByteRange(offsetBytes: 6 << 20)), at: SourceLocation(line: 1)),
            Located(.munmap(process: "p", mapping: "m", range: ByteRange(lengthBytes: 4096)), at: SourceLocation(line: 1)),
            Located(.mremap(process: "p", mapping: "m", lengthBytes: 3 << 20, mayMove: false), at: SourceLocation(line: 1)),
            Located(.mremap(process: "p", mapping: "m", lengthBytes: 12 << 20, mayMove: true), at: SourceLocation(line: 1)),
            Located(.munmap(process: "p", mapping: "m", range: .whole), at: SourceLocation(line: 1)),
        ])
        #expect(WorkloadPrinter.print(w) == """
            somsim-workload 1
            spawn p
            p mmap m 8M
            p munmap m offset=2M length=1M
            p munmap m offset=6M
            p munmap m length=4K
            p mremap m 3M
            p mremap m 12M maymove
            p munmap m

            """)
        #expect(try WorkloadParser.parse(WorkloadPrinter.print(w), fileName: "x").hasSameContent(as: w))
        // offset=0 alone is the whole mapping: it prints, and acts, as a plain munmap.
        let parsed = try WorkloadParser.parse("somsim-workload 1\nspawn p\np mmap m 8K\np munmap m offset=0\np mmap m 4K\n", fileName: "x")
        #expect(parsed.statements[2].value == .munmap(process: "p", mapping: "m", range: .whole))
    }

    @Test func defaultMachineHasNoLine() {
        #expect(WorkloadPrinter.format(machine: MachineSpec()) == nil)
        #expect(WorkloadPrinter.print(Workload()) == "somsim-workload 1\n")
    }

    @Test func everyMachineKey() throws {
        var m = MachineSpec()
        m.ramBytes = 3 << 30
        m.hugetlb2MPages = 1
        m.hugetlb1GPages = 2
        m.hvo = true
        m.hvoKeptPages = 2
        m.thp = .madvise
        m.pti = false
        #expect(WorkloadPrinter.format(machine: m) == "machine ram=3G hugetlb-2m=1 hugetlb-1g=2 hvo=on hvo-kept=2 thp=madvise pti=off")
        #expect(try WorkloadParser.parse(WorkloadPrinter.print(Workload(machine: m)), fileName: "x").machine == m)
    }

    static let files: [String] = [
        """
        somsim-workload 1
        machine ram=1536M hugetlb-1g=1 hvo=on thp=always
        measure start
        spawn a
        a mmap big 1G huge=1G file=db populate
        a mmap small 12K
        a touch small write offset=4K length=8K stride=100
        a madvise small wipeonfork
        a fork b
        b touch big write random=1 seed=3
        b madvise small keeponfork offset=4K
        b munmap small
        b exit
        a touch small read random=3 seed=0
        """,
        """
        somsim-workload 1
        machine hugetlb-2m=4
        spawn p
        p mmap f 4M huge=2M shared file=db fileoffset=2M
        p mmap t 64K file=log fileoffset=0
        p fork c
        c ftruncate db 2M
        c fallocate log offset=100 length=4900
        c fallocate db offset=0 length=2M punch
        c close db
        p unlink log
        """,
        """
        somsim-workload 1
        machine hugetlb-2m=2 thp=madvise
        spawn p
        p mmap heap 4M
        p madvise heap populate_read
        p madvise heap populate_write offset=2M
        p madvise heap collapse length=2M
        p madvise heap cold
        p madvise heap pageout offset=4K length=8K
        p madvise heap willneed
        p mmap ring 4M huge=2M shared
        p madvise ring remove offset=2M
        """,
        """
        somsim-workload 1   # the comments and layout go away in the print
        spawn s
        s mmap heap 64M
        repeat 3 as i {
          s fork w{i}
          repeat 2 as j {
            w{i} touch heap write offset={i}{j}M length=1M
            measure w{i}-{j}
          }
          w{i} exit
        }
        """,
    ]

    /// Each advice prints as the word the parser reads (`populate_write`, not the Swift case name).
    @Test(arguments: Advice.allCases)
    func adviceRoundTrip(advice: Advice) throws {
        let statement = Statement.madvise(process: "p", mapping: "m", advice: advice, range: ByteRange(offsetBytes: 4096, lengthBytes: 8192))
        let text = WorkloadPrinter.format(statement)
        #expect(text == "p madvise m \(advice.rawValue) offset=4K length=8K")
        let parsed = try WorkloadParser.parse("somsim-workload 1\nspawn p\np mmap m 16K\n" + text, fileName: "a.somw")
        #expect(parsed.statementValues.last == statement)
    }

    @Test(arguments: files)
    func roundTrip(text: String) throws {
        let w = try WorkloadParser.parse(text, fileName: "a.somw")
        let printed = WorkloadPrinter.print(w)
        let again = try WorkloadParser.parse(printed, fileName: "b.somw")
        #expect(again.machine == w.machine)
        #expect(again.statementValues == w.statementValues)
        #expect(WorkloadPrinter.print(again) == printed)  // printing is a fixed point
    }

    @Test(arguments: try exampleFiles())
    func examplesRoundTrip(url: URL) throws {
        let w = try WorkloadParser.parse(String(contentsOf: url, encoding: .utf8), fileName: url.lastPathComponent)
        #expect(try WorkloadParser.parse(WorkloadPrinter.print(w), fileName: "x").hasSameContent(as: w))
    }
}

/// The example workloads under docs/examples.
func exampleFiles() throws -> [URL] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = root.appendingPathComponent("docs/examples")
    return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
        .filter { $0.pathExtension == "somw" }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
}

@Suite("docs/examples")
struct ExampleFileTests {
    @Test func thereAreExamples() throws {
        let names = try exampleFiles().map(\.lastPathComponent)
        #expect(names.contains("cow-basic.somw"))
        #expect(names.contains("prefork.somw"))
        #expect(names.contains("hugetlb-cow.somw"))
        #expect(names.contains("shared-anon.somw"))
    }

    @Test(arguments: try exampleFiles())
    func parses(url: URL) throws {
        let w = try WorkloadParser.parse(String(contentsOf: url, encoding: .utf8), fileName: url.lastPathComponent)
        #expect(!w.statements.isEmpty)
    }

    @Test func examplesInTheFormatDocParse() throws {
        // Every ```somw block of docs/workload-format.md that starts with the header is a complete workload.
        let doc = try String(contentsOf: exampleFiles()[0].deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("workload-format.md"), encoding: .utf8)
        let blocks = doc.components(separatedBy: "```somw\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        let complete = blocks.filter { $0.hasPrefix("somsim-workload 1") }
        #expect(complete.count >= 2)
        for block in complete {
            #expect(throws: Never.self) { try WorkloadParser.parse(block, fileName: "workload-format.md") }
        }
    }
}
