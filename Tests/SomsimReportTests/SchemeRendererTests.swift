import Foundation
import SomsimModel
import SomsimReport
import SomsimWorkload
import Testing

/// `compare` and `explain` on every example workload, in every format.
@Suite struct SchemeRendererTests {
    static let examples: [URL] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent("docs/examples")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".somw") }.sorted().map { folder.appendingPathComponent($0) }
    }()

    static func run(_ url: URL) throws -> SchemeRun {
        let text = try String(contentsOf: url, encoding: .utf8)
        return SchemeRun.run(try WorkloadParser.parse(text, fileName: url.lastPathComponent))
    }

    @Test func examplesExist() {
        #expect(Self.examples.count >= 4)
    }

    @Test(arguments: ReportFormat.allCases)
    func compareRendersEveryExample(_ format: ReportFormat) throws {
        for url in Self.examples {
            let run = try Self.run(url)
            let text = SchemeRenderer.compare(run, schemes: SchemeName.allCases, format: format)
            switch format {
            case .json:
                let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
                let measures = try #require(object["measures"] as? [[String: Any]])
                #expect(measures.count == run.points.count)
                let schemes = try #require(measures.last?["schemes"] as? [[String: Any]])
                #expect(schemes.first?["scheme"] as? String == "struct-page")
            case .csv:
                let lines = text.split(separator: "\n")
                // 6 rows per scheme, 5 of the single-owner pool and 6 of TLB figures per process.
                let processes = run.points.reduce(0) { $0 + $1.census.processTLB.count }
                #expect(lines.count == 1 + run.points.count * (SchemeName.allCases.count * 6 + 5) + processes * 6)
                // The four columns of the contract, then measure_index (issue 13).
                #expect(lines.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 5 })
            case .md:
                #expect(text.contains("| som "))
            }
        }
    }

    @Test(arguments: ReportFormat.allCases)
    func explainRendersEverySubjectOfEveryExample(_ format: ReportFormat) throws {
        for url in Self.examples {
            let run = try Self.run(url)
            let point = try #require(run.points.last)
            for name in SchemeRenderer.Subject.names {
                let subject = try #require(SchemeRenderer.Subject(name))
                let text = SchemeRenderer.explain(subject, point, run, format: format)
                #expect(!text.isEmpty)
                if format == .json {
                    #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8))) != nil, "\(name) on \(url.lastPathComponent)")
                }
                if case .scheme(let scheme) = subject, format == .json {
                    let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
                    #expect(object["total_bytes"] as? Int == Int(point.result(scheme).metadataBytes))
                }
            }
        }
    }

    @Test func summaryRowsCarryStrandedMemoryAndTheTLB() throws {
        let workload = try WorkloadParser.parse(
            "somsim-workload 1\nmachine virt=4x4\nspawn a\na mmap m 4K som\na touch m write\nspawn b\nb mmap x 2M som\nb touch x write\n",
            fileName: "summary.somw")
        let run = SchemeRun.run(workload)
        let csv = SchemeRenderer.summary(run, schemes: [.structPage, .som], format: .csv)
        // Stranded: a holds a 2 MiB unit for 4 KiB (2,093,056 B); b maps its whole unit. Reach:
        // a's one 4 KiB entry + b's one 2 MiB entry = 2,101,248 B. Loads per miss: a walks 4
        // levels, b 3: mean 3.5; nested on 4x4 with 4 KiB host pages: (24 + 19) / 2 = 21.5.
        #expect(csv == """
            label,scheme,metadata_bytes,metadata_ratio,stranded_bytes,tlb_l2_reach_bytes,native_loads_per_miss,nested_loads_per_miss,measure_index
            end,struct-page,\(run.points[0].result(.structPage).metadataBytes),0.015625,0,2101248,3.5,21.5,0
            end,som,\(run.points[0].result(.som).metadataBytes),\(run.points[0].result(.som).metadataRatio),2093056,2101248,3.5,21.5,0

            """)
    }

    @Test(arguments: ReportFormat.allCases)
    func profileRendersEveryConstant(_ format: ReportFormat) {
        let text = SchemeRenderer.profile(.x86_64, format: format)
        for key in ProfileKey.allCases { #expect(text.contains(key.rawValue)) }
    }
}
