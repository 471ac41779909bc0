import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `-D`, `--set`, `sweep`, `--shard`, `merge` and `plot`, run as a user runs them.
@Suite struct SweepCommandLineTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let example = root.appendingPathComponent("docs/examples/prefork-server-workers.somw").path

    static func run(_ arguments: [String]) throws -> CommandLineTests.Result { try CommandLineTests.run(arguments) }

    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-sweep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func defineAndSetOverrideTheFile() throws {
        let three = try Self.run(["simulate", Self.example, "--format", "csv"])
        let five = try Self.run(["simulate", Self.example, "-D", "workers=5", "--format", "csv"])
        #expect(three.status == 0 && five.status == 0)
        #expect(three.stdout.contains(",worker2,alive,1") && !three.stdout.contains(",worker3,"))
        #expect(five.stdout.contains(",worker4,alive,1"))
        let printed = try Self.run(["simulate", Self.example, "-D", "workers=1", "--set", "machine.ram=1G", "--print-workload"])
        #expect(printed.stdout.hasPrefix("somsim-workload 1\nparam workers=1\nparam requests=16\nmachine ram=1G\n"))
    }

    @Test func unknownOrBadOverridesAreRefused() throws {
        let unknown = try Self.run(["simulate", Self.example, "-D", "wokers=2"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("has no param 'wokers'; its params are: workers (default 3), requests (default 16)"))
        let badKey = try Self.run(["compare", Self.example, "--set", "machine.rom=1G"])
        #expect(badKey.status == 64)
        #expect(badKey.stderr.contains("unknown machine key 'rom'; expected one of: ram=SIZE"))
        let badValue = try Self.run(["simulate", Self.example, "--set", "machine.thp=sometimes"])
        #expect(badValue.status == 65)
        #expect(badValue.stderr.contains("thp must be never, madvise or always"))
        let badParam = try Self.run(["simulate", Self.example, "-D", "workers=x"])
        #expect(badParam.status == 65)
        #expect(badParam.stderr.contains(":19:8: error: repeat COUNT must be a plain non-negative integer, not 'x'"))
        let noEquals = try Self.run(["simulate", Self.example, "-D", "workers"])
        #expect(noEquals.status == 64)
    }

    @Test func sweepWritesTidyRowsAndAManifest() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("w.csv").path
        let result = try Self.run(["sweep", Self.example, "--vary", "workers=1..3", "-o", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)  // no progress line: standard error is not a terminal
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.hasPrefix("workers,measure_index,label,process,metric,value\n1,0,prefork,master,alive,1\n"))
        // Each point's rows equal simulate's with that -D (label,process,metric,value,
        // measure_index), the point and measure index in front.
        for n in 1...3 {
            let simulate = try Self.run(["simulate", Self.example, "-D", "workers=\(n)", "--format", "csv"]).stdout
            #expect(simulate.hasPrefix("label,process,metric,value,measure_index\n"))
            let expected = simulate.split(separator: "\n").dropFirst().map { line in
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                return "\(n),\(fields[4]),\(fields[0...3].joined(separator: ","))"
            }
            let got = text.split(separator: "\n").filter { $0.hasPrefix("\(n),") }.map(String.init)
            #expect(got == expected)
        }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + ".manifest.json"))) as? [String: Any]
        #expect(manifest?["tool_version"] as? String == "0.13.0")
        #expect((manifest?["input_sha256"] as? String)?.count == 64)
        #expect((manifest?["points"] as? [Any])?.count == 3)
        #expect((manifest?["command_line"] as? String)?.hasPrefix("somsim sweep ") == true)
        for key in ["git_commit", "profile"] { #expect(manifest?[key] != nil) }
        // The same bytes on one thread as on all cores.
        let serial = try Self.run(["sweep", Self.example, "--vary", "workers=1..3", "--jobs", "1"])
        #expect(serial.stdout == text)
    }

    /// On a terminal (a pseudo-terminal from script(1)) the progress line counts the points,
    /// redrawn in place, and is cleared at the end.
    @Test func progressLineOnATerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return }
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("w.csv").path
        let command = "'\(CommandLineTests.binary.path)' sweep '\(Self.example)' --vary workers=1..3 --jobs 1 -o '\(out)'"
        let result = try CommandLineTests.run(["-qec", command, "/dev/null"], executable: URL(fileURLWithPath: "/usr/bin/script"))
        #expect(result.status == 0)
        #expect(result.stdout == "\r\u{1B}[K[1/3] workers=1\r\u{1B}[K[2/3] workers=2\r\u{1B}[K[3/3] workers=3\r\u{1B}[K")
    }

    /// validate reads -D before it touches the kernel: an unknown name exits 64 at once.
    @Test func validateRefusesAnUnknownParamBeforeRunning() throws {
        let result = try Self.run(["validate", Self.example, "-D", "nope=1"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("has no param 'nope'"))
    }

    @Test func sweepRefusesWhatItCannotRun() throws {
        let unknown = try Self.run(["sweep", Self.example, "--vary", "wrkers=1,2"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("its params are: workers, requests"))
        let range = try Self.run(["sweep", Self.example, "--vary", "workers=3..1"])
        #expect(range.status == 64)
        let shardWithoutOutput = try Self.run(["sweep", Self.example, "--vary", "workers=1,2", "--shard", "0/2"])
        #expect(shardWithoutOutput.status == 64)
        let badPoint = try Self.run(["sweep", Self.example, "--vary", "workers=1,x"])
        #expect(badPoint.status == 65)
        #expect(badPoint.stderr.hasPrefix("point 1 (workers=x): "))
    }

    /// The issue's "done when": the prefork example over worker counts, sharded into 3 processes
    /// running at once, merges to the bytes of the unsharded run.
    @Test func shardsRunInParallelMergeToTheUnshardedBytes() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let whole = dir.appendingPathComponent("whole.csv").path
        let vary = ["--vary", "workers=1..5", "--vary", "requests=4,16"]
        #expect(try Self.run(["sweep", Self.example] + vary + ["-o", whole]).status == 0)
        var processes: [Process] = []
        for i in 0..<3 {
            let p = Process()
            p.executableURL = CommandLineTests.binary
            p.arguments = ["sweep", Self.example] + vary + ["--shard", "\(i)/3", "-o", dir.appendingPathComponent("part-\(i).csv").path]
            p.standardError = FileHandle.nullDevice
            try p.run()
            processes.append(p)
        }
        for p in processes {
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
        }
        let merged = dir.appendingPathComponent("merged.csv").path
        let parts = [2, 0, 1].map { dir.appendingPathComponent("part-\($0).csv").path }
        let result = try Self.run(["merge"] + parts + ["-o", merged])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: merged)) == Data(contentsOf: URL(fileURLWithPath: whole)))
        // The manifests agree but for the command line and the record of the merge.
        func manifest(_ path: String) throws -> [String: Any] {
            var m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path + ".manifest.json"))) as! [String: Any]
            m["command_line"] = nil
            m["merged_from"] = nil
            return m
        }
        #expect(NSDictionary(dictionary: try manifest(merged)).isEqual(to: try manifest(whole)))
        // A missing shard and a shard given twice are refused, naming them.
        let missing = try Self.run(["merge", parts[0], parts[1]])
        #expect(missing.status == 65)
        #expect(missing.stderr.contains("missing shards: 1/3"))
        let twice = try Self.run(["merge", parts[0], parts[0], parts[1], parts[2]])
        #expect(twice.status == 65)
        #expect(twice.stderr.contains("shard 2/3 is given twice"))
        // A shard of another sweep is refused.
        let other = dir.appendingPathComponent("other.csv").path
        #expect(try Self.run(["sweep", Self.example, "--vary", "workers=1..5", "--vary", "requests=4,8", "--shard", "1/3", "-o", other]).status == 0)
        let mixed = try Self.run(["merge", parts[1], other, parts[2]])
        #expect(mixed.status == 65)
        #expect(mixed.stderr.contains("from a different sweep"))
    }

    /// The fleet recipes of docs/sweeps.md as shell commands: each shard reads its index from the
    /// variable Slurm (`SLURM_ARRAY_TASK_ID`, array 0-3) or Kubernetes (`JOB_COMPLETION_INDEX`)
    /// sets, or from its argument as GNU parallel passes it (`{}`; run here by xargs -P, which
    /// substitutes the same way, when GNU parallel is not installed). All shards run at once.
    @Test(arguments: ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "parallel"])
    func fleetRecipesMergeToTheUnshardedBytes(_ recipe: String) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let somsim = CommandLineTests.binary.path
        let whole = dir.appendingPathComponent("whole.csv").path
        #expect(try Self.run(["sweep", Self.example, "--vary", "workers=1..6", "-o", whole]).status == 0)
        let sweep = "'\(somsim)' sweep '\(Self.example)' --vary workers=1..6 --jobs 1"
        var processes: [Process] = []
        func shell(_ script: String, environment: [String: String] = [:]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", script]
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            p.currentDirectoryURL = dir
            try p.run()
            processes.append(p)
        }
        switch recipe {
        case "parallel":
            let runner = FileManager.default.isExecutableFile(atPath: "/usr/bin/parallel") ? "parallel -j 4" : "xargs -P 4 -I{}"
            try shell("seq 0 3 | \(runner) \(sweep) --shard {}/4 -o part-{}.csv")
        default:
            for i in 0..<4 {
                try shell("\(sweep) --shard \"$\(recipe)/4\" -o \"part-$\(recipe).csv\"", environment: [recipe: "\(i)"])
            }
        }
        for p in processes {
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
        }
        let merged = dir.appendingPathComponent("merged.csv").path
        let parts = (0..<4).map { dir.appendingPathComponent("part-\($0).csv").path }
        #expect(try Self.run(["merge"] + parts + ["-o", merged]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: merged)) == Data(contentsOf: URL(fileURLWithPath: whole)))
    }

    /// Parses the SVG and checks each polyline against the data mapped through the axis ticks.
    @Test func plotDrawsOneLinePerByValue() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("w.jsonl").path
        #expect(try Self.run(["sweep", Self.example, "--vary", "workers=1..4", "--vary", "requests=4,16", "--format", "jsonl", "-o", data]).status == 0)
        let svgPath = dir.appendingPathComponent("w.svg").path
        let plotted = try Self.run(["plot", data, "--x", "workers", "--y", "anon_bytes", "--by", "requests", "-o", svgPath])
        #expect(plotted.status == 0, "\(plotted.stderr)")
        let svg = try SVG(contentsOf: svgPath)
        #expect(svg.legend == ["requests=4", "requests=16"])
        #expect(svg.polylines.map(\.name) == ["requests=4", "requests=16"])
        // The expected values: the system anon_bytes of the last measure, per point.
        var expected: [String: [(Double, Double)]] = [:]
        for line in try String(contentsOfFile: data, encoding: .utf8).split(separator: "\n") {
            let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            guard row["metric"] as? String == "anon_bytes", row["process"] as? String == "", row["measure_index"] as? Int == 2 else { continue }
            expected["requests=\(row["requests"] as! Int)", default: []].append((Double(row["workers"] as! Int), (row["value"] as! NSNumber).doubleValue))
        }
        #expect(expected.count == 2)
        for line in svg.polylines {
            let want = try #require(expected[line.name])
            #expect(line.points.count == want.count)
            for (got, data) in zip(line.points, want) {
                #expect(abs(got.0 - svg.x.map(data.0)) < 0.01, "\(line.name) x")
                #expect(abs(got.1 - svg.y.map(data.1)) < 0.01, "\(line.name) y")
            }
        }
        #expect(svg.yLabels.contains(where: { $0.hasSuffix(" KiB") || $0.hasSuffix(" MiB") }))
    }

    @Test func plotDrawsCompareAsStackedBars() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("cmp.csv").path
        let compare = try Self.run(["compare", Self.example, "--format", "csv"])
        try compare.stdout.write(toFile: csv, atomically: true, encoding: .utf8)
        let svgPath = dir.appendingPathComponent("cmp.svg").path
        #expect(try Self.run(["plot", csv, "--y", "metadata_bytes,page_table_bytes", "-o", svgPath]).status == 0)
        let svg = try SVG(contentsOf: svgPath)
        #expect(svg.legend == ["metadata_bytes", "page_table_bytes"])
        let structPage = svg.bars.filter { $0.category == "struct-page" }
        #expect(structPage.map(\.stack) == ["metadata_bytes", "page_table_bytes"])
        // Each piece's height is its value through the y scale; the second sits on the first.
        let rows = compare.stdout.split(separator: "\n").filter { $0.hasPrefix("end,struct-page,") }
        for bar in structPage {
            let value = Double(rows.first(where: { $0.hasPrefix("end,struct-page,\(bar.stack),") })!.split(separator: ",")[3])!
            #expect(abs(bar.height - (svg.y.map(0) - svg.y.map(value))) < 0.02)
        }
        #expect(abs(structPage[1].y + structPage[1].height - structPage[0].y) < 0.02)
    }
}

/// What the tests read from an SVG somsim wrote, with XMLParser.
final class SVG: NSObject, XMLParserDelegate {
    struct Scale {
        var a: (value: Double, at: Double)
        var b: (value: Double, at: Double)
        func map(_ v: Double) -> Double { a.at + (v - a.value) / (b.value - a.value) * (b.at - a.at) }
    }
    var polylines: [(name: String, points: [(Double, Double)])] = []
    var bars: [(category: String, stack: String, y: Double, height: Double)] = []
    var legend: [String] = []
    var yLabels: [String] = []
    private var xTicks: [(Double, Double)] = []
    private var yTicks: [(Double, Double)] = []
    private var textClass: String?
    private var text = ""

    init(contentsOf path: String) throws {
        super.init()
        let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: path)))
        parser.delegate = self
        guard parser.parse() else { throw parser.parserError ?? CocoaError(.fileReadCorruptFile) }
    }

    var x: Scale { Scale(a: xTicks.first!, b: xTicks.last!) }
    var y: Scale { Scale(a: yTicks.first!, b: yTicks.last!) }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String] = [:]) {
        if name == "polyline", a["class"] == "series" {
            let points = (a["points"] ?? "").split(separator: " ").map { pair in
                let xy = pair.split(separator: ",").map { Double($0)! }
                return (xy[0], xy[1])
            }
            polylines.append((a["data-series"] ?? "", points))
        }
        if name == "rect", a["class"] == "bar" {
            bars.append((a["data-category"] ?? "", a["data-stack"] ?? "", Double(a["y"] ?? "")!, Double(a["height"] ?? "")!))
        }
        if name == "text" {
            textClass = a["class"]
            text = ""
            if a["class"] == "xtick", let v = a["data-value"].flatMap(Double.init) { xTicks.append((v, Double(a["x"]!)!)) }
            if a["class"] == "ytick", let v = a["data-value"].flatMap(Double.init) { yTicks.append((v, Double(a["y"]!)!)) }
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        guard name == "text" else { return }
        if textClass == "legend" { legend.append(text) }
        if textClass == "ytick" { yLabels.append(text) }
        textClass = nil
    }
}
