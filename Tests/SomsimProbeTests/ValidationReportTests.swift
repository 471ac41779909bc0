import SomsimModel
import SomsimReport
import SomsimValidation
import SomsimWorkload
import Testing

/// Checks and rendering of validation results: pure, runs everywhere.
@Suite struct ValidationReportTests {
    @Test func countWithinToleranceIsOk() {
        #expect(Check(process: "a", metric: "rss_bytes", predicted: .count(4096), measured: .count(4096), tolerance: 0).ok)
        #expect(!Check(process: "a", metric: "rss_bytes", predicted: .count(4096), measured: .count(8192), tolerance: 0).ok)
        #expect(Check(process: nil, metric: "x", predicted: .count(10), measured: .count(7), tolerance: 3).difference == -3)
        #expect(!Check(process: "a", metric: "signals", predicted: .text("SIGBUS"), measured: .text(""), tolerance: 0).ok)
    }

    @Test func everyContractMetricHasADocumentedTolerance() {
        let metrics = ReportFields.fields(of: ProcessMetrics(name: "p", alive: true)).map(\.name)
            + ReportFields.fields(of: SystemMetrics()).map(\.name)
        for metric in metrics {
            let entry = Tolerances.table.first { $0.metric == metric || $0.metric == metric + "(system)" }
            #expect(entry != nil, "no tolerance entry for \(metric)")
            #expect(entry.map { !$0.reason.isEmpty } ?? false)
        }
        // BRIEF.md: the deterministic counters match exactly.
        for metric in ["memmap_pages", "hugetlb_2m_free", "hugetlb_2m_reserved", "private_hugetlb_bytes", "private_dirty_bytes", "shared_dirty_bytes", "page_table_bytes", "minor_faults", "cow_copies", "cow_reuses", "shmem_bytes"] {
            #expect(Tolerances.tolerance(for: metric) == 0)
        }
    }

    @Test func reportComparesEveryProcessAndSystemMetric() throws {
        let workload = try WorkloadParser.parse("somsim-workload 1\nspawn a\na mmap m 64K\na touch m write\nmeasure one\n", fileName: "test.somw")
        let predicted = Simulator.run(workload)
        var measured = predicted.measures.map { MeasuredMeasure(label: $0.label, processes: $0.processes, system: $0.system) }
        var report = ValidationReport(predicted: predicted, measured: measured)
        #expect(report.passed)
        #expect(report.checks[0].count == 2 + 16 + 17)
        measured[1].processes[0].minorFaults += 1
        report = ValidationReport(predicted: predicted, measured: measured)
        #expect(!report.passed)
        #expect(report.failures.map { $0.metric } == ["minor_faults"])

        let csv = ValidationRenderer.render(report, as: .csv)
        #expect(csv.hasPrefix("label,process,metric,value,measured,difference,tolerance,ok\n"))
        #expect(csv.contains("end,a,minor_faults,16,17,1,0,0\n"))
        let json = ValidationRenderer.render(report, as: .json)
        #expect(json.contains("\"measured\": {"))
        #expect(json.contains("\"passed\": false"))
        #expect(ValidationRenderer.render(report, as: .md).contains("| a       | minor_faults"))
    }
}
