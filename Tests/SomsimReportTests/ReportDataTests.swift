import SomsimModel
import SomsimReport
import SomsimWorkload
import Testing

/// Issue 13, data a notebook can trust: measure_index, signal and error rows, totals, --measure,
/// the metadata's hash, per-mapping views and report diffs, with hand-computed values.
@Suite struct ReportDataTests {
    static func report(_ body: String) throws -> Report {
        Simulator.run(try WorkloadParser.parse("somsim-workload 1\n" + body, fileName: "t.somw"))
    }

    @Test func sha256OfTheStandardVectors() {
        // FIPS 180-2 appendix B.1 and B.2, and the empty message.
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A million 'a's: many blocks.
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func jsonParserKeepsIntegersExactAndKeysInOrder() throws {
        let v = try JSONValue.parse(#" {"b": 18446744073709551615, "a": -3, "c": 1.5, "d": [true, null, "x\n\u00e9\ud83d\ude00"], "e": 1e3} "#)
        #expect(
            v
                == .object([
                    ("b", .unsigned(UInt64.max)), ("a", .integer(-3)), ("c", .number(1.5)),
                    ("d", .array([.bool(true), .null, .string("x\né😀")])), ("e", .number(1000)),
                ]))
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse("{\"a\": 1,}") }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse("[1] 2") }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse("") }
    }

    @Test func csvRowsCarryTheMeasureIndexSignalsAndErrors() throws {
        // Line 5: wipeonfork on shared memory is EINVAL; the child dies of SIGSEGV touching
        // the DONTFORK range it did not inherit (line 9).
        let report = try Self.report(
            """
            spawn p
            p mmap s 4K shared
            p madvise s wipeonfork
            p mmap a 8K
            measure first
            p madvise a dontfork
            p fork c
            c touch a write
            """)
        let csv = ReportRenderer.csv(report)
        let lines = csv.split(separator: "\n").map(String.init)
        #expect(lines[0] == "label,process,metric,value,measure_index")
        #expect(lines.contains("first,p,alive,1,0"))
        #expect(lines.contains("first,,error.EINVAL,4,0"))
        #expect(lines.contains("end,c,alive,0,1"))
        #expect(lines.contains("end,c,signal.SIGSEGV,1,1"))
        // JSON gives the error the same measure.
        let json = try JSONValue.parse(ReportRenderer.render(report, as: .json))
        #expect(json["errors"] == .array([.object([("line", .unsigned(4)), ("statement", .string("p madvise s wipeonfork")), ("errno", .string("EINVAL")), ("measure_index", .unsigned(0))])]))
        // The error belongs to the first measure only; nothing was refused after it.
        #expect(lines.filter { $0.contains(",error.") }.count == 1)
        // Every row has five fields and an integer last one.
        #expect(lines.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 5 && Int($0.split(separator: ",").last!) != nil })
    }

    @Test func totalsSumTheProcesses() throws {
        // a writes 4 pages and forks b: each maps the 4 shared pages (RSS 16 KiB each, PSS
        // 8 KiB each); b then writes one page: a copy (b: 1 private + 3 shared).
        let report = try Self.report("spawn a\na mmap x 16K\na touch x write\na fork b\nb touch x write length=4K\n")
        let totals = Dictionary(uniqueKeysWithValues: ReportRenderer.totals(report.measures[0].processes).map { ($0.name, $0.value) })
        #expect(totals["alive"] == 2)
        #expect(totals["rss_bytes"] == 32768)
        // a: 1 page alone (4096) + 3 shared (3 × 2048) = 10240; b the same.
        #expect(totals["pss_bytes"] == 20480)
        #expect(totals["cow_copies"] == 1)
        let csv = ReportRenderer.csv(report, options: ReportOptions(totals: true))
        #expect(csv.contains("end,,total.rss_bytes,32768,0\n"))
        #expect(csv.contains("end,,total.pss_bytes,20480,0\n"))
        #expect(!ReportRenderer.csv(report).contains("total."))
        let md = ReportRenderer.markdown(report, options: ReportOptions(totals: true))
        #expect(md.contains("| total   | 32.0 KiB | 20.0 KiB |"))
        #expect(md.contains("2 processes, 2 alive"))
    }

    @Test func oneMeasureKeepsItsIndex() throws {
        let report = try Self.report("spawn a\nmeasure one\na mmap x 4K\nmeasure two\n")
        let csv = ReportRenderer.csv(report, options: ReportOptions(measure: "two"))
        let labels = Set(csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[0] })
        #expect(labels == ["two"])
        #expect(csv.contains("two,a,alive,1,1\n"))
        let json = try JSONValue.parse(ReportRenderer.render(report, as: .json, options: ReportOptions(measure: "two")))
        #expect(json["measures"] == .array([ReportRenderer.json(report.measures[1], index: 1)]))
        #expect(ReportRenderer.markdown(report, options: ReportOptions(measure: "one")).contains("## one"))
        #expect(!ReportRenderer.markdown(report, options: ReportOptions(measure: "one")).contains("## two"))
    }

    @Test func compareCSVEndsWithTheMeasureIndex() throws {
        let workload = try WorkloadParser.parse("somsim-workload 1\nspawn p\np mmap s 4K shared\np madvise s wipeonfork\nmeasure first\n", fileName: "t")
        let run = SchemeRun.run(workload)
        let csv = SchemeRenderer.compare(run, schemes: [.structPage], format: .csv)
        #expect(csv.hasPrefix("label,scheme,metric,value,measure_index\nfirst,struct-page,metadata_bytes,"))
        #expect(csv.contains("first,,error.EINVAL,4,0\n"))
        #expect(csv.contains("end,struct-page,kernel_state_bytes,"))
        #expect(csv.split(separator: "\n").last!.hasSuffix(",1"))
        let one = SchemeRenderer.compare(run, schemes: [.structPage], format: .csv, options: ReportOptions(measure: "end"))
        #expect(!one.contains("\nfirst,"))
    }

    @Test func mappingViewByHand() throws {
        // a maps x (4 pages, written) and f (2 file pages, read), forks b; b writes x's first page.
        let workload = try WorkloadParser.parse(
            "somsim-workload 1\nspawn a\na mmap x 16K\na touch x write\na mmap f 8K shared file=F\na touch f read\na fork b\nmeasure forked\nb touch x write length=4K\n",
            fileName: "t")
        let end = Simulator.mappingView(workload)
        let a = try #require(end.first { $0.process == "a" })
        let x = try #require(a.mappings.first { $0.name == "x" })
        #expect(x.sizeBytes == 16384)
        #expect(x.rssBytes == 16384)
        #expect(x.pssBytes == 4096 + 3 * 2048)
        #expect(x.privateDirtyBytes == 4096)
        #expect(x.sharedDirtyBytes == 3 * 4096)
        #expect(x.dirtyBytes == 16384)
        #expect(x.kind == "private anon")
        #expect(x.mode == "rw-")
        let f = try #require(a.mappings.first { $0.name == "f" })
        #expect(f.kind == "shared file=F")
        #expect(f.rssBytes == 8192 && f.privateCleanBytes == 8192 && f.dirtyBytes == 0)
        // Address order, as pmap: f was placed below x (top-down).
        #expect(a.mappings.map(\.name) == ["f", "x"])
        #expect(f.address + 8192 == x.address)
        // The mappings add up to the process's metrics.
        let metrics = Simulator.run(workload).measures.last!.processes.first { $0.name == "a" }!
        #expect(a.mappings.reduce(0) { $0 + $1.rssBytes } == metrics.rssBytes)
        #expect(a.mappings.reduce(0) { $0 + $1.pssBytes } == metrics.pssBytes)
        // Before b's write, x is shared whole: PSS 8 KiB in each.
        let forked = Simulator.mappingView(workload, at: "forked")
        #expect(forked.first { $0.process == "b" }!.mappings.first { $0.name == "x" }!.pssBytes == 8192)
        let csv = MappingRenderer.render(forked, label: "forked", measureIndex: 0, as: .csv)
        #expect(csv.contains("forked,a,x,\(x.address),16384,private anon,rw-,16384,8192,0,0,0,16384,16384,0,0\n"))
    }

    @Test func diffOfTwoReportsByHand() throws {
        let a = try JSONValue.parse(ReportRenderer.render(try Self.report("spawn p\np mmap x 16K\np touch x write\n"), as: .json))
        let b = try JSONValue.parse(ReportRenderer.render(try Self.report("spawn p\np mmap x 16K\np touch x write length=8K\n"), as: .json))
        #expect(try ReportDiff(a, a).equal)
        let diff = try ReportDiff(a, b)
        #expect(!diff.equal)
        let rss = try #require(diff.rows.first { $0.process == "p" && $0.metric == "rss_bytes" })
        #expect(rss.a == .unsigned(16384) && rss.b == .unsigned(8192))
        #expect(rss.difference == .integer(-8192))
        #expect(rss.ratio == 0.5)
        #expect(rss.label == "end" && rss.measureIndex == 0)
        let anon = try #require(diff.rows.first { $0.process == "" && $0.metric == "anon_bytes" })
        #expect(anon.difference == .integer(-8192))
        let csv = diff.render(as: .csv, all: false, nameA: "a", nameB: "b")
        #expect(csv.hasPrefix("label,process,metric,a,b,difference,ratio,measure_index\n"))
        #expect(csv.contains("end,p,rss_bytes,16384,8192,-8192,0.5,0\n"))
        // Equal rows are left out unless asked for.
        #expect(!csv.contains(",alive,"))
        #expect(diff.render(as: .csv, all: true, nameA: "a", nameB: "b").contains("end,p,alive,true,true,,,0\n"))
        #expect(throws: ReportDiff.NotAReport.self) { try ReportDiff(a, .object([])) }
        #expect(throws: ReportDiff.NotAReport.self) { try ReportDiff(.array([]), a) }
    }

    @Test func diffRowsOnOneSideOnly() throws {
        let a = try JSONValue.parse(ReportRenderer.render(try Self.report("spawn p\n"), as: .json))
        let b = try JSONValue.parse(ReportRenderer.render(try Self.report("spawn p\nspawn q\n"), as: .json))
        let diff = try ReportDiff(a, b)
        let q = try #require(diff.rows.first { $0.process == "q" && $0.metric == "rss_bytes" })
        #expect(q.a == nil && q.b == .unsigned(0) && q.difference == nil && !q.equal)
    }
}
