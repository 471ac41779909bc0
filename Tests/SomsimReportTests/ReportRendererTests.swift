import Foundation
import SomsimModel
import SomsimReport
import SomsimWorkload
import Testing

@Suite struct ReportRendererTests {
    static let report = Simulator.run(DefaultWorkload.parsed())

    @Test(arguments: ReportFormat.allCases)
    func defaultWorkloadRendersAsRecorded(_ format: ReportFormat) throws {
        try expectSnapshot(ReportRenderer.render(Self.report, as: format), named: "default.\(format.rawValue)")
    }

    /// The keys and their order, copied from the report contract (../shared/WORKLOAD-FORMAT.md, "Report output").
    @Test func jsonFollowsTheContractsFieldNamesAndOrder() throws {
        let text = ReportRenderer.render(Self.report, as: .json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["schema_version"] as? Int == 1)
        let measures = try #require(object["measures"] as? [[String: Any]])
        #expect(measures.map { $0["label"] as? String } == ["preloaded", "end"])
        let process = try #require((measures[0]["processes"] as? [[String: Any]])?.first)
        #expect(
            Set(process.keys) == [
                "name", "alive", "rss_bytes", "pss_bytes", "uss_bytes", "private_clean_bytes", "private_dirty_bytes",
                "shared_clean_bytes", "shared_dirty_bytes", "private_hugetlb_bytes", "shared_hugetlb_bytes",
                "page_table_bytes", "minor_faults", "cow_copies", "cow_reuses", "locked_bytes", "signals",
                "pss_anon_bytes", "anon_huge_pages_bytes",
            ])
        let system = try #require(measures[0]["system"] as? [String: Any])
        #expect(
            Set(system.keys) == [
                "memmap_pages", "hugetlb_2m_total", "hugetlb_1g_total", "hugetlb_2m_free", "hugetlb_2m_reserved", "hugetlb_1g_free",
                "hugetlb_1g_reserved", "hugetlb_2m_surplus", "hugetlb_1g_surplus",
                "anon_bytes", "page_table_bytes", "shmem_bytes",
                "som_pool_chunks", "som_units_used", "som_units_free", "som_stranded_bytes", "som_fragmented_units",
            ])
        let schemes = try #require(measures[0]["schemes"] as? [[String: Any]])
        #expect(schemes.first?["scheme"] as? String == "struct-page")
        #expect(schemes.first?["metadata_ratio"] as? Double == 0.015625)
        let machine = try #require(object["machine"] as? [String: Any])
        #expect(machine["ram_bytes"] as? Int == 16 << 30)
        #expect(machine["hvo"] as? Bool == false)
        #expect(object["errors"] as? [Any] != nil)
        // Field order in the text follows the contract: name first, then alive, then rss.
        let name = try #require(text.range(of: "\"name\""))
        let alive = try #require(text.range(of: "\"alive\""))
        let rss = try #require(text.range(of: "\"rss_bytes\""))
        #expect(name.lowerBound < alive.lowerBound && alive.lowerBound < rss.lowerBound)
    }

    @Test func csvHasOneRowPerMeasureProcessAndMetric() throws {
        let lines = ReportRenderer.render(Self.report, as: .csv).split(separator: "\n")
        #expect(lines.first == "label,process,metric,value,measure_index")
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.allSatisfy { $0.count == 5 })
        // preloaded: 1 process; end: 9 processes. 17 rows each (alive + 16 metrics), 17 system
        // rows (12, and 5 of the single-owner pool) and 2 per scheme.
        #expect(rows.count == (1 + 9) * 17 + 2 * (17 + 2 * SchemeName.allCases.count))
        #expect(rows.contains { $0 == ["end", "worker3", "cow_copies", "512", "1"] })
        #expect(rows.contains { $0 == ["end", "", "memmap_pages", "65536", "1"] })
        #expect(rows.contains { $0 == ["preloaded", "", "memmap_pages", "65536", "0"] })
    }

    @Test func errorsAreListedWithLineAndErrno() throws {
        let workload = try WorkloadParser.parse(
            "somsim-workload 1\nmachine hugetlb-2m=1\nspawn p\np mmap h 4M huge=2M\n", fileName: "t.somw")
        let report = Simulator.run(workload)
        let json = ReportRenderer.render(report, as: .json)
        #expect(json.contains("\"statement\": \"p mmap h 4M huge=2M\""))
        #expect(json.contains("\"errno\": \"ENOMEM\""))
        #expect(ReportRenderer.render(report, as: .md).contains("| 4    | `p mmap h 4M huge=2M` | ENOMEM |"))
    }

    static let byteTexts: [(UInt64, String)] = [
        (0, "0"), (512, "512 B"), (4096, "4.0 KiB"), (1536 * 1024, "1.5 MiB"), (1 << 40, "1.0 TiB"),
    ]

    @Test(arguments: byteTexts)
    func bytesAreHumanReadable(_ bytes: UInt64, _ text: String) {
        #expect(ReportRenderer.bytes(bytes) == text)
    }

    @Test func jsonEscapesStrings() {
        #expect(JSONValue.string("a\"b\\c\n\u{1}").serialized() == #""a\"b\\c\n\u0001""#)
        #expect(JSONValue.object([("k", .array([.unsigned(1), .null]))]).serialized(pretty: false) == #"{"k":[1,null]}"#)
    }
}
