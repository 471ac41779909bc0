import SomsimModel
import SomsimReport
import SomsimWorkload
import Testing

/// `somsim sweep`, `merge` and `plot`: the pieces, with values worked out by hand.
@Suite struct SweepTests {
    /// A sweep point's rows are simulate's CSV rows, the point's values and the measure index in
    /// front — signal and error rows too (errors and signals are in every format).
    @Test func pointRowsAreSimulatesCSVRows() throws {
        let text = """
            somsim-workload 1
            param size=8K
            spawn p
            p mmap a {size}
            p madvise a dontneed offset=4K length=64K
            measure before
            p fork c
            c mprotect a none
            c touch a read
            """
        let report = Simulator.run(try WorkloadParser.parse(text, fileName: "signals.somw"))
        let csv = ReportRenderer.csv(report).split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            return "8K,\(f[4]),\(f[0...3].joined(separator: ","))\n"
        }
        let rows = Sweep.rows(report, values: ["8K"], names: ["size"], format: .csv)
        #expect(rows == csv)
        // The workload really has an error row (madvise past the end: ENOMEM, line 5; an error
        // names a process only when it befell one, as an OOM kill) and a signal row.
        #expect(rows.contains { $0 == "8K,0,before,,error.ENOMEM,5\n" })
        #expect(rows.contains { $0.contains(",c,signal.SIGSEGV,1\n") })
    }

    @Test func axesFromListsAndRanges() throws {
        #expect(try Sweep.axis("n=1..7:3") == Sweep.Axis(name: "n", values: ["1", "4", "7"]))
        #expect(try Sweep.axis("n=1..8:3") == Sweep.Axis(name: "n", values: ["1", "4", "7"]))
        #expect(try Sweep.axis("n=2..4") == Sweep.Axis(name: "n", values: ["2", "3", "4"]))
        #expect(try Sweep.axis("machine.thp=never,always") == Sweep.Axis(name: "machine.thp", values: ["never", "always"]))
        for bad in ["n", "=1,2", "n=1,,2", "n=3..1", "n=1..5:0", "n=a..b", "n=1,1", "value=1,2"] {
            #expect(throws: Sweep.Failure.self, "\(bad)") { try Sweep.axis(bad) }
        }
    }

    @Test func pointsVaryTheFirstAxisSlowest() throws {
        let points = try Sweep.points([Sweep.Axis(name: "a", values: ["1", "2"]), Sweep.Axis(name: "b", values: ["x", "y", "z"])])
        #expect(points == [["1", "x"], ["1", "y"], ["1", "z"], ["2", "x"], ["2", "y"], ["2", "z"]])
        #expect(throws: Sweep.Failure.self) { try Sweep.points([Sweep.Axis(name: "a", values: ["1"]), Sweep.Axis(name: "a", values: ["2"])]) }
    }

    @Test func shardsPartitionThePoints() throws {
        #expect(Sweep.shardPoints(count: 7, shard: 0, of: 3) == [0, 3, 6])
        #expect(Sweep.shardPoints(count: 7, shard: 1, of: 3) == [1, 4])
        #expect(Sweep.shardPoints(count: 7, shard: 2, of: 3) == [2, 5])
        #expect(Sweep.shardPoints(count: 2, shard: 3, of: 4) == [])
        #expect(try Sweep.shard("2/3") == (2, 3))
        for bad in ["3/3", "-1/3", "1", "1/0", "a/b"] {
            #expect(throws: Sweep.Failure.self, "\(bad)") { try Sweep.shard(bad) }
        }
    }

    /// One process with 8 KiB written: rss 8192, in both formats, with the varied value first.
    @Test func rowsCarryThePointAndMeasureIndex() throws {
        let w = try WorkloadParser.parse("somsim-workload 1\nspawn p\np mmap m 8K\np touch m write\nmeasure one\n", fileName: "t.somw")
        let report = Simulator.run(w)
        let csv = Sweep.rows(report, values: ["2"], names: ["n"], format: .csv)
        #expect(Sweep.header(["n"], format: .csv) == "n,measure_index,label,process,metric,value\n")
        #expect(csv.first == "2,0,one,p,alive,1\n")
        #expect(csv.contains("2,0,one,p,rss_bytes,8192\n"))
        #expect(csv.contains("2,1,end,p,rss_bytes,8192\n"))
        #expect(csv.contains("2,0,one,,anon_bytes,8192\n"))
        let jsonl = Sweep.rows(report, values: ["2"], names: ["n"], format: .jsonl)
        #expect(Sweep.header(["n"], format: .jsonl) == "")
        #expect(jsonl.first == "{\"n\":2,\"measure_index\":0,\"label\":\"one\",\"process\":\"p\",\"metric\":\"alive\",\"value\":1}\n")
        #expect(jsonl.count == csv.count)
        let named = Sweep.rows(report, values: ["always"], names: ["machine.thp"], format: .jsonl)
        #expect(named.first?.hasPrefix("{\"machine.thp\":\"always\",") == true)
    }

    private func manifest(shard: Sweep.Manifest.Shard?, input: String = "abc") -> Sweep.Manifest {
        Sweep.Manifest(
            toolVersion: "0.13.0", gitCommit: "unknown", input: "w.somw", inputSHA256: input, profile: nil,
            commandLine: "somsim sweep w.somw --vary n=1..3", format: .csv, axes: [Sweep.Axis(name: "n", values: ["1", "2", "3"])],
            fixed: [], points: [["1"], ["2"], ["3"]], shard: shard)
    }

    @Test func manifestReadsBackWhatItWrites() throws {
        let m = manifest(shard: .init(index: 1, count: 2, points: [1], rows: [2]))
        let again = try Sweep.Manifest(parsing: m.text)
        #expect(again == m)
        #expect(again.isSameSweep(as: manifest(shard: nil)))
        #expect(!again.isSameSweep(as: manifest(shard: nil, input: "def")))
    }

    @Test func mergePutsRowsBackInPointOrder() throws {
        let header = "n,measure_index,label,process,metric,value\n"
        let s0 = Sweep.ShardOutput(path: "a", manifest: manifest(shard: .init(index: 0, count: 2, points: [0, 2], rows: [1, 2])), text: header + "1,0,l,,m,10\n3,0,l,,m,30\n3,0,l,,k,31\n")
        let s1 = Sweep.ShardOutput(path: "b", manifest: manifest(shard: .init(index: 1, count: 2, points: [1], rows: [1])), text: header + "2,0,l,,m,20\n")
        let merged = try Sweep.merge([s1, s0], commandLine: "somsim merge b a")
        #expect(merged.output == header + "1,0,l,,m,10\n2,0,l,,m,20\n3,0,l,,m,30\n3,0,l,,k,31\n")
        #expect(merged.manifest.shard == nil)
        #expect(merged.manifest.mergedFrom?.count == 2)
        #expect(merged.manifest.isSameSweep(as: manifest(shard: nil)))

        #expect(throws: Sweep.Failure("missing shards: 1/2 (given 0/2); run them with --shard and merge all 2")) { try Sweep.merge([s0], commandLine: "") }
        #expect(throws: Sweep.Failure("shard 0/2 is given twice: a and a")) { try Sweep.merge([s0, s0, s1], commandLine: "") }
        var other = s1
        other.manifest.inputSHA256 = "def"
        #expect(throws: Sweep.Failure.self) { try Sweep.merge([s0, other], commandLine: "") }
        var short = s0
        short.text = header + "1,0,l,,m,10\n"
        #expect(throws: Sweep.Failure.self) { try Sweep.merge([short, s1], commandLine: "") }
    }

    @Test func sha256KnownVectors() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Two blocks (FIPS 180-4 example).
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func jsonReaderReadsWhatJSONValueWrites() throws {
        let v = JSONValue.object([("a", .unsigned(1)), ("b", .array([.string("x\"y"), .bool(true), .null, .number(0.5), .integer(-3)]))])
        #expect(try JSONValue.parse(v.serialized()) == v)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse("{\"a\":}") }
    }

    // MARK: Plot

    @Test func niceStepsAndAxes() {
        #expect(Plot.niceStep(10) == 2)
        #expect(Plot.niceStep(7) == 2)  // 1.4 per interval -> 2
        #expect(Plot.niceStep(2) == 0.5)  // 0.4 -> 0.5
        #expect(Plot.niceStep(30) == 10)  // 6 -> 10
        let mib = Plot.axis(low: 0, high: 5 * 1_048_576, bytes: true, fromZero: true)
        #expect(mib.ticks == [0, 1, 2, 3, 4, 5].map { $0 * 1_048_576.0 })
        #expect(mib.label(3 * 1_048_576) == "3 MiB")
        let kib = Plot.axis(low: 0, high: 300 * 1024, bytes: true, fromZero: true)  // 60 KiB per interval -> 100 KiB
        #expect(kib.ticks.map { $0 / 1024 } == [0, 100, 200, 300])
        #expect(kib.label(102_400) == "100 KiB")
        #expect(Plot.number(2.5) == "2.5")
        #expect(Plot.number(4) == "4")
        #expect(Plot.fixed(1.005, 2) == "1.01" || Plot.fixed(1.005, 2) == "1.00")  // 1.005 is 1.00499… in binary
        #expect(Plot.fixed(215, 2) == "215.00")
    }

    /// x 1..3 on 450 px from 90; y 0..2 MiB on 330 px up from 380 (the default frame).
    @Test func lineChartMapsPointsThroughTheAxes() {
        let s = Plot.Series(name: "n=1", points: [(1, 0), (2, 1_048_576), (3, 2_097_152)])
        let svg = Plot.lineChart([s], title: "t", xLabel: "x", yLabel: "y", yBytes: true)
        #expect(svg.contains("points=\"90.00,380.00 315.00,215.00 540.00,50.00\""))
        #expect(svg.contains("<text class=\"legend\" x=\"574\" y=\"58\" dominant-baseline=\"middle\">n=1</text>"))
        #expect(svg.contains(">2 MiB</text>"))
    }

    @Test func lineSeriesFromASweepTable() throws {
        let text = "n,t,measure_index,label,process,metric,value\n" + [
            "1,a,0,x,,m,10", "1,a,1,end,,m,11", "2,a,1,end,,m,21", "1,b,1,end,,m,12", "2,b,1,end,,m,22", "2,b,1,end,p,m,99",
        ].joined(separator: "\n") + "\n"
        let table = try Plot.Table(parsing: text)
        let series = try Plot.lineSeries(table, x: "n", y: "m", by: "t", process: nil, measure: nil)
        #expect(series == [Plot.Series(name: "t=a", points: [(1, 11), (2, 21)]), Plot.Series(name: "t=b", points: [(1, 12), (2, 22)])])
        let first = try Plot.lineSeries(table, x: "n", y: "m", by: "t", process: nil, measure: "x")
        #expect(first == [Plot.Series(name: "t=a", points: [(1, 10)])])
        #expect(throws: Plot.Failure.self) { try Plot.lineSeries(table, x: "n", y: "m", by: nil, process: nil, measure: nil) }  // t varies too
        #expect(throws: Plot.Failure.self) { try Plot.lineSeries(table, x: "n", y: "nope", by: "t", process: nil, measure: nil) }
    }

    @Test func stackedBarsFromCompareRows() throws {
        let text = "label,scheme,metric,value\n" + [
            "end,s1,metadata_bytes,100", "end,s1,page_table_bytes,50", "end,s2,metadata_bytes,20", "end,s2,page_table_bytes,50", "end,tlb,tlb_entries_4k,9",
        ].joined(separator: "\n") + "\n"
        let table = try Plot.Table(parsing: text)
        #expect(table.isCompare)
        let (categories, series) = try Plot.barSeries(table, metrics: ["metadata_bytes", "page_table_bytes"], measure: nil)
        #expect(categories == ["s1", "s2"])
        #expect(series == [Plot.Series(name: "metadata_bytes", points: [(0, 100), (1, 20)]), Plot.Series(name: "page_table_bytes", points: [(0, 50), (1, 50)])])
        // Totals 150 and 70: 150/5 = 30 per interval -> a step of 50, so the axis is 0..150.
        let svg = Plot.stackedBars(categories: categories, series: series, title: "t", xLabel: "scheme", yLabel: "bytes", yBytes: false)
        // s1's metadata piece: 100 of 150 on 330 px = 220 px tall, from 380 up to 160.
        #expect(svg.contains("data-category=\"s1\" data-stack=\"metadata_bytes\" data-value=\"100\" x=\"123.75\" y=\"160.00\" width=\"157.50\" height=\"220.00\""))
    }
}
