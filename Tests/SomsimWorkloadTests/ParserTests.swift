import Testing
@testable import SomsimWorkload

@Suite("Parsing statements")
struct ParserTests {
    /// The largest random and strided touches one statement may name, and the most RAM, parse;
    /// one page more, or one byte more, is refused (ParserErrorTests).
    @Test func theLimitsThemselvesAreAccepted() throws {
        let workload = try WorkloadParser.parse(
            """
            somsim-workload 1
            machine ram=4096T
            spawn a
            a mmap m 128G
            a touch m write random=16777216 seed=1
            a touch m write stride=8K
            a touch m write stride=18446744073709551615
            """, fileName: "limits.somw")
        #expect(workload.statements.count == 5)
        #expect(workload.machine.ramBytes == 1 << 52)
    }

    @Test func headerOnlyIsAnEmptyWorkload() throws {
        let w = try WorkloadParser.parse("somsim-workload 1\n", fileName: "x.somw")
        #expect(w.statements.isEmpty)
        #expect(w.machine == MachineSpec())
        #expect(w.fileName == "x.somw")
    }

    @Test func commentsBlankLinesTabsAndCRLF() throws {
        let text = "# leading comment\n\n\tsomsim-workload\t1   # header\r\n\n  spawn a# no space before the comment\r\n\t\ta  exit\n"
        let w = try WorkloadParser.parse(text, fileName: "x")
        #expect(w.statementValues == [.spawn(process: "a"), .exit(process: "a")])
        #expect(w.statements[0].location == SourceLocation(line: 5, column: 3))
        #expect(w.statements[1].location == SourceLocation(line: 6, column: 3))
    }

    @Test func everyStatementKind() throws {
        let s = try statements("""
            spawn p
            p mmap m 8K
            p madvise m dontneed
            p touch m write
            measure mid
            p fork c
            c munmap m
            c exit
            """)
        let expected: [Statement] = [
            .spawn(process: "p"),
            .mmap(process: "p", mapping: "m", lengthBytes: 8192, options: MmapOptions()),
            .madvise(process: "p", mapping: "m", advice: .dontneed, range: .whole),
            .touch(process: "p", mapping: "m", access: .write, range: .whole, pattern: .every),
            .measure(label: "mid"),
            .fork(parent: "p", child: "c"),
            .munmap(process: "c", mapping: "m", range: .whole),
            .exit(process: "c"),
        ]
        #expect(s == expected)
    }

    static let mmapCases: [(String, MmapOptions, UInt64)] = [
        ("p mmap m 4K", MmapOptions(), 4096),
        ("p mmap m 4K shared", MmapOptions(shared: true), 4096),
        ("p mmap m 4M huge=2M", MmapOptions(huge: .size2M), 4 << 20),
        ("p mmap m 2G huge=1G", MmapOptions(huge: .size1G), 2 << 30),
        ("p mmap m 2M huge=2048K", MmapOptions(huge: .size2M), 2 << 20),
        ("p mmap m 12K file=data.bin", MmapOptions(file: "data.bin"), 12288),
        ("p mmap m 4K populate", MmapOptions(populate: true), 4096),
        ("p mmap m 2M populate file=f huge=2M shared", MmapOptions(shared: true, huge: .size2M, file: "f", populate: true), 2 << 20),
    ]

    @Test(arguments: mmapCases)
    func mmapOptions(line: String, options: MmapOptions, length: UInt64) throws {
        let s = try statements("spawn p\n" + line)
        #expect(s.last == .mmap(process: "p", mapping: "m", lengthBytes: length, options: options))
    }

    @Test(arguments: Advice.allCases)
    func madviseAdvice(advice: Advice) throws {
        let s = try statements("spawn p\np mmap m 64K\np madvise m \(advice.rawValue) offset=8K length=16K")
        #expect(s.last == .madvise(process: "p", mapping: "m", advice: advice, range: ByteRange(offsetBytes: 8192, lengthBytes: 16384)))
    }

    static let touchCases: [(String, Access, ByteRange, TouchPattern)] = [
        ("read", .read, .whole, .every),
        ("write", .write, .whole, .every),
        ("write offset=4K", .write, ByteRange(offsetBytes: 4096), .every),
        ("read length=8K", .read, ByteRange(lengthBytes: 8192), .every),
        ("write length=8K offset=4K", .write, ByteRange(offsetBytes: 4096, lengthBytes: 8192), .every),
        ("write stride=64", .write, .whole, .stride(bytes: 64)),
        ("write stride=16K offset=0", .write, .whole, .stride(bytes: 16384)),
        ("read random=3 seed=42", .read, .whole, .random(count: 3, seed: 42)),
        ("write seed=0 random=16 length=64K", .write, ByteRange(lengthBytes: 65536), .random(count: 16, seed: 0)),
        ("write random=0 seed=18446744073709551615", .write, .whole, .random(count: 0, seed: .max)),
        ("write length=0", .write, ByteRange(lengthBytes: 0), .every),
    ]

    @Test(arguments: touchCases)
    func touchOptions(options: String, access: Access, range: ByteRange, pattern: TouchPattern) throws {
        let s = try statements("spawn p\np mmap m 64K\np touch m \(options)")
        #expect(s.last == .touch(process: "p", mapping: "m", access: access, range: range, pattern: pattern))
    }

    @Test func randomCountMayEqualThePagesOfTheRange() throws {
        _ = try statements("spawn p\np mmap m 64K\np touch m write random=16 seed=1")
        _ = try statements("spawn p\np mmap m 64K\np touch m write offset=32K random=8 seed=1")
        _ = try statements("spawn p\np mmap m 8M huge=2M\np touch m write length=4M random=2 seed=1")
        // A range past the end is a run-time EFAULT, not a parse error.
        _ = try statements("spawn p\np mmap m 64K\np touch m write offset=1M length=8K")
        _ = try statements("spawn p\np mmap m 64K\np touch m write offset=128K random=5 seed=1")
    }

    @Test func machineDefaultsAndEveryKey() throws {
        #expect(try parse("machine").machine == MachineSpec())
        let w = try parse("machine ram=8G hugetlb-2m=512 hugetlb-1g=2 hvo=on hvo-kept=2 thp=always pti=off\nspawn a")
        var expected = MachineSpec()
        expected.ramBytes = 8 << 30
        expected.hugetlb2MPages = 512
        expected.hugetlb1GPages = 2
        expected.hvo = true
        expected.hvoKeptPages = 2
        expected.thp = .always
        expected.pti = false
        #expect(w.machine == expected)
        #expect(try parse("machine thp=madvise hvo=off pti=on hvo-kept=1").machine.thp == .madvise)
    }

    @Test func machineMayFollowAMeasure() throws {
        let w = try parse("measure boot\nmachine ram=1G\nspawn a")
        #expect(w.machine.ramBytes == 1 << 30)
        #expect(w.statementValues == [.measure(label: "boot"), .spawn(process: "a")])
    }

    @Test func namesUseTheWholeCharset() throws {
        let s = try statements("spawn _A.b-9\n_A.b-9 mmap x.y-Z_1 4K\nmeasure end.of-run_2")
        #expect(s[1] == .mmap(process: "_A.b-9", mapping: "x.y-Z_1", lengthBytes: 4096, options: MmapOptions()))
        #expect(s[2] == .measure(label: "end.of-run_2"))
    }

    @Test func processNamesMayLookLikeVerbs() throws {
        let s = try statements("spawn fork\nfork fork touch\ntouch exit")
        #expect(s == [.spawn(process: "fork"), .fork(parent: "fork", child: "touch"), .exit(process: "touch")])
    }

    @Test func mappingLifecycle() throws {
        // munmap frees the name for reuse, with another size; a child inherits the parent's names
        // and its own munmap does not touch the parent's.
        let s = try statements("""
            spawn p
            p mmap m 4K
            p fork c
            c touch m write
            c munmap m
            c mmap m 8K
            p touch m read
            p munmap m
            p mmap m 2M huge=2M
            """)
        #expect(s.count == 9)
    }

    @Test func locationsPointAtTheFirstToken() throws {
        let w = try parse("  spawn a\n\n\t a mmap m 4K  # c\n")
        #expect(w.statements.map(\.location) == [SourceLocation(line: 2, column: 3), SourceLocation(line: 4, column: 3)])
    }
}

@Suite("Sizes")
struct SizeTests {
    static let valid: [(String, UInt64)] = [
        ("0", 0), ("4096", 4096), ("4096B", 4096), ("0B", 0), ("1K", 1024), ("1KiB", 1024),
        ("3M", 3 << 20), ("3MiB", 3 << 20), ("2G", 2 << 30), ("2GiB", 2 << 30), ("5T", 5 << 40),
        ("5TiB", 5 << 40), ("007K", 7 << 10), ("16777215T", 16_777_215 << 40),
        ("18446744073709551615", .max), ("18446744073709551615B", .max),
    ]

    @Test(arguments: valid)
    func parsesSize(text: String, bytes: UInt64) {
        #expect((try? Sizes.parseSize(ArraySlice(text.utf8)).get()) == bytes)
    }

    static let invalid: [String] = ["", "K", "4BiB", "4k", "4KB", "4 K", "-4K", "4.5M", "4Ki", "0x10", "4P", "4MIB", "+1"]

    @Test(arguments: invalid)
    func rejectsSize(text: String) {
        #expect(throws: Sizes.Failure.self) { try Sizes.parseSize(ArraySlice(text.utf8)).get() }
    }

    static let overflowing: [String] = ["18446744073709551616", "16777216T", "17179869184G", "99999999999999999999K"]

    @Test(arguments: overflowing)
    func rejectsOverflow(text: String) {
        guard case .failure(.overflow) = Sizes.parseSize(ArraySlice(text.utf8)) else {
            Issue.record("\(text) should overflow")
            return
        }
    }

    static let printed: [(UInt64, String)] = [
        (0, "0"), (1, "1B"), (4095, "4095B"), (4096, "4K"), (4097, "4097B"), (1024, "1K"),
        (1536 << 10, "1536K"), (2 << 20, "2M"), (3 << 30, "3G"), (3 << 40, "3T"), (1 << 50, "1024T"),
        (.max, "18446744073709551615B"), (UInt64.max - 1023, "18014398509481983K"),
    ]

    @Test(arguments: printed)
    func printsSize(bytes: UInt64, text: String) throws {
        #expect(WorkloadPrinter.format(size: bytes) == text)
        #expect(try Sizes.parseSize(ArraySlice(text.utf8)).get() == bytes)
    }

    @Test func sizesAcceptedInEveryPosition() throws {
        let s = try statements("spawn p\np mmap m 1MiB\np touch m write offset=4KiB length=8192B stride=1536")
        #expect(s.last == .touch(process: "p", mapping: "m", access: .write, range: ByteRange(offsetBytes: 4096, lengthBytes: 8192), pattern: .stride(bytes: 1536)))
    }
}

@Suite("repeat blocks")
struct RepeatTests {
    @Test func expandsInOrderWithTheVariable() throws {
        let s = try statements("""
            spawn p
            repeat 3 as i {
              p mmap m{i} 1{i}M
            }
            """)
        #expect(Array(s.dropFirst()) == [
            .mmap(process: "p", mapping: "m0", lengthBytes: 10 << 20, options: MmapOptions()),
            .mmap(process: "p", mapping: "m1", lengthBytes: 11 << 20, options: MmapOptions()),
            .mmap(process: "p", mapping: "m2", lengthBytes: 12 << 20, options: MmapOptions()),
        ])
    }

    @Test func nestedBlocksSeeOuterVariablesAnywhereInAToken() throws {
        let w = try parse("""
            spawn root
            root mmap heap 16M
            repeat 2 as i {
              root fork w{i}
              repeat 3 as j {
                w{i} touch heap write offset={j}{i}08K length=4K random=1 seed={i}{j}
                measure l{i}.{j}-x
              }
            }
            """)
        let s = w.statementValues
        #expect(s.count == 2 + 2 * (1 + 3 * 2))
        #expect(s[2] == .fork(parent: "root", child: "w0"))
        // i=1, j=1: offset = "1" "1" "08" K = 1108K; seed = "1" "1" = 11.
        let expected = Statement.touch(
            process: "w1", mapping: "heap", access: .write,
            range: ByteRange(offsetBytes: 1108 << 10, lengthBytes: 4096), pattern: .random(count: 1, seed: 11))
        #expect(s[2 + 7 + 1 + 2] == expected)
        #expect(s.contains(.measure(label: "l0.2-x")))
        #expect(s.last == .measure(label: "l1.2-x"))
        // Every expanded statement keeps the line and column of its source line.
        #expect(w.statements[2].location == SourceLocation(line: 5, column: 3))
        #expect(w.statements[3].location == SourceLocation(line: 7, column: 5))
        #expect(w.statements[4].location == SourceLocation(line: 8, column: 5))
        #expect(w.statements[9].location == SourceLocation(line: 5, column: 3))
    }

    @Test func zeroCountRunsNothing() throws {
        let s = try statements("repeat 0 as i {\n  spawn p{i}\n}\nspawn q")
        #expect(s == [.spawn(process: "q")])
    }

    @Test func siblingBlocksMayReuseAVariableName() throws {
        let s = try statements("repeat 2 as i {\nspawn a{i}\n}\nrepeat 2 as i {\na{i} exit\n}")
        #expect(s.count == 4)
    }

    @Test func machineInsideASingleRepeatIsAccepted() throws {
        let w = try parse("repeat 1 as i {\nmachine hugetlb-2m=1{i}\n}\nspawn p")
        #expect(w.machine.hugetlb2MPages == 10)
    }

    @Test func sixteenLevelsNest() throws {
        var text = ""
        for d in 0..<16 { text += "repeat 1 as v\(d) {\n" }
        text += "measure m{v0}{v15}\n"
        for _ in 0..<16 { text += "}\n" }
        #expect(try statements(text) == [.measure(label: "m00")])
    }

    @Test func limitsAreExactBoundaries() throws {
        let text = "repeat 10 as i {\nrepeat 10 as j {\nmeasure m{i}{j}\n}\n}\n"
        #expect(try parse(text, limits: ExpansionLimits(maxStatements: 100)).statements.count == 100)
        #expect(parseError(header + text, limits: ExpansionLimits(maxStatements: 99)) != nil)
        #expect(try parse("repeat 1 as a {\nrepeat 1 as b {\n}\n}", limits: ExpansionLimits(maxDepth: 2)).statements.isEmpty)
    }
}

@Suite("DefaultWorkload")
struct DefaultWorkloadTests {
    @Test func parsesAndRoundTrips() throws {
        let w = try WorkloadParser.parse(DefaultWorkload.text, fileName: DefaultWorkload.fileName)
        #expect(w == DefaultWorkload.parsed())
        #expect(try WorkloadParser.parse(WorkloadPrinter.print(w), fileName: "x").hasSameContent(as: w))
    }
}
