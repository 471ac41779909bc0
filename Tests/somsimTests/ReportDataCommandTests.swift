import Foundation
import Testing

/// Issue 13 on the command line: metadata, measure_index, --measure, --totals, --mappings,
/// `somsim diff`, duplicate labels (the built binary, as a user runs it).
@Suite struct ReportDataCommandTests {
    typealias CLI = CommandLineTests

    /// a writes 4 pages; after measure one it forks b, which copies one page.
    static let workload = "somsim-workload 1\nspawn a\na mmap x 16K\na touch x write\nmeasure one\na fork b\nb touch x write length=4K\n"

    static func file(_ text: String = workload) throws -> String { try CLI.temporaryFile(text) }

    @Test func jsonCarriesMetadataWithTheInputHash() throws {
        let path = try Self.file()
        defer { try? FileManager.default.removeItem(atPath: path) }
        for command in ["simulate", "compare"] {
            let result = try CLI.run([command, path, "--format", "json"])
            #expect(result.status == 0)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let metadata = try #require(json["metadata"] as? [String: Any])
            #expect(metadata["tool_version"] as? String == "0.13.0")
            #expect(metadata["input"] as? String == path)
            #expect(metadata["input_sha256"] as? String == Self.sha256)
            let machine = try #require(metadata["machine"] as? [String: Any])
            #expect(machine["som_source"] as? String == "hugetlb-1g")
            #expect((machine["mthp_bytes"] as? [Any])?.isEmpty == true)
            let measures = try #require(json["measures"] as? [[String: Any]])
            #expect(measures.map { $0["measure_index"] as? Int } == [0, 1])
        }
        // The embedded default is hashed from its text; standard input from its bytes.
        let stdin = try CLI.run(["simulate", "-", "--format", "json"], stdin: Self.workload)
        #expect(stdin.stdout.contains(#""input": "-""#))
        #expect(stdin.stdout.contains(Self.sha256))
        #expect(try CLI.run(["simulate", "--format", "json"]).stdout.contains(#""input": "(default)""#))
    }

    /// `sha256sum` of `workload`.
    static let sha256 = "3fddbea0041aa5139dc279c9d9836ce9843dfe7955934686ef74cbc4c85468dc"

    @Test func csvHasTheMeasureIndexLast() throws {
        let result = try CLI.run(["simulate", "-", "--format", "csv"], stdin: Self.workload)
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines[0] == "label,process,metric,value,measure_index")
        #expect(lines.contains("one,a,rss_bytes,16384,0"))
        #expect(lines.contains("end,b,cow_copies,1,1"))
        let compare = try CLI.run(["compare", "-", "--format", "csv"], stdin: Self.workload)
        #expect(compare.stdout.hasPrefix("label,scheme,metric,value,measure_index\n"))
        #expect(compare.stdout.contains("end,struct-page,page_table_bytes,"))
    }

    @Test func signalsAndErrorsAreRowsOfTheCSV() throws {
        let text = "somsim-workload 1\nspawn p\np mmap s 4K shared\np madvise s wipeonfork\np mmap a 8K\np madvise a dontfork\np fork c\nc touch a write\n"
        let result = try CLI.run(["simulate", "-", "--format", "csv"], stdin: text)
        #expect(result.status == 0)
        #expect(result.stdout.contains("end,c,alive,0,0\n"))
        #expect(result.stdout.contains("end,c,signal.SIGSEGV,1,0\n"))
        #expect(result.stdout.contains("end,,error.EINVAL,4,0\n"))
    }

    @Test func measureShowsOneMeasureOrListsTheLabels() throws {
        let one = try CLI.run(["simulate", "-", "--measure", "one", "--format", "csv"], stdin: Self.workload)
        #expect(one.status == 0)
        #expect(!one.stdout.contains("\nend,"))
        #expect(one.stdout.contains("one,a,rss_bytes,16384,0\n"))
        let end = try CLI.run(["compare", "-", "--measure", "end", "--format", "csv"], stdin: Self.workload)
        #expect(end.status == 0)
        #expect(!end.stdout.contains("\none,"))
        #expect(end.stdout.contains(",1\n"))
        for command in ["simulate", "compare"] {
            let unknown = try CLI.run([command, "-", "--measure", "two"], stdin: Self.workload)
            #expect(unknown.status == 64)
            #expect(unknown.stdout.isEmpty)
            #expect(unknown.stderr.contains("no measure is labelled 'two'; the labels are: one, end"))
        }
    }

    @Test func totalsAsSmem() throws {
        let md = try CLI.run(["simulate", "-", "--measure", "end", "--totals"], stdin: Self.workload)
        #expect(md.status == 0)
        // RSS 16 KiB each; PSS a: 4096 + 3 × 2048, b the same: 20 KiB in all.
        #expect(md.stdout.contains("| total   | 32.0 KiB | 20.0 KiB |"))
        let csv = try CLI.run(["simulate", "-", "--totals", "--format", "csv"], stdin: Self.workload)
        #expect(csv.stdout.contains("end,,total.rss_bytes,32768,1\n"))
        #expect(csv.stdout.contains("end,,total.pss_bytes,20480,1\n"))
        #expect(csv.stdout.contains("one,,total.rss_bytes,16384,0\n"))
        #expect(!(try CLI.run(["simulate", "-", "--format", "csv"], stdin: Self.workload)).stdout.contains("total."))
    }

    @Test func mappingsAsPmap() throws {
        let csv = try CLI.run(["simulate", "-", "--mappings", "--format", "csv"], stdin: Self.workload)
        #expect(csv.status == 0)
        let lines = csv.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "label,process,mapping,address,size_bytes,kind,mode,rss_bytes,pss_bytes,private_clean_bytes,private_dirty_bytes,shared_clean_bytes,shared_dirty_bytes,dirty_bytes,hugetlb_bytes,measure_index")
        // a's x: 1 page its own (b copied its first), 3 shared with b: PSS 4096 + 3 × 2048.
        #expect(lines.contains { $0.hasPrefix("end,a,x,") && $0.hasSuffix(",16384,private anon,rw-,16384,10240,0,4096,0,12288,16384,0,1") })
        let one = try CLI.run(["simulate", "-", "--mappings", "--measure", "one"], stdin: Self.workload)
        #expect(one.stdout.contains("# Mappings at measure one"))
        #expect(!one.stdout.contains("## b"))
        let json = try CLI.run(["simulate", "-", "--mappings", "--format", "json"], stdin: Self.workload)
        #expect(json.stdout.contains(#""pss_bytes": 10240"#))
    }

    @Test func diffExitsAsDiff() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func report(_ text: String, _ name: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try CLI.run(["simulate", "-", "--format", "json"], stdin: text).stdout.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let a = try report(Self.workload, "a.json")
        let b = try report(Self.workload.replacingOccurrences(of: "length=4K", with: "length=8K"), "b.json")
        let same = try CLI.run(["diff", a, a])
        #expect(same.status == 0)
        #expect(same.stdout.contains("No differences"))
        let differ = try CLI.run(["diff", a, b, "--format", "csv"])
        #expect(differ.status == 1)
        // b copies 2 pages instead of 1.
        #expect(differ.stdout.contains("end,b,cow_copies,1,2,1,2.0,1\n"))
        let notReport = dir.appendingPathComponent("x.json").path
        try "{\"a\": 1}".write(toFile: notReport, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["diff", a, notReport])
        #expect(bad.status == 65)
        #expect(bad.stderr.contains("B is not a somsim report"))
        let notJSON = try CLI.run(["diff", "-", a], stdin: "label,process\n")
        #expect(notJSON.status == 65)
        #expect(notJSON.stderr.contains("is not JSON"))
        let missing = try CLI.run(["diff", a, dir.appendingPathComponent("none.json").path])
        #expect(missing.status == 66)
    }

    @Test func duplicateLabelsAreRefused() throws {
        let result = try CLI.run(["simulate", "-"], stdin: "somsim-workload 1\nspawn a\nmeasure x\nmeasure x\n")
        #expect(result.status == 65)
        #expect(result.stderr.contains("<stdin>:4:9: error: measure label 'x' is given a second time (first on line 3)"))
    }
}
