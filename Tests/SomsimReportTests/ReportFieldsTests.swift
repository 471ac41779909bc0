import Foundation
import SomsimModel
import SomsimReport
import SomsimValidation
import SomsimWorkload
import Testing

/// The field table every format renders from: each descriptor reads its own metric, and the
/// Markdown shows exactly the metrics the table places in it.
@Suite struct ReportFieldsTests {
    /// The metrics in the contract's order (docs/workload-format.md, "Report output").
    static var processKeys: [WritableKeyPath<ProcessMetrics, UInt64>] {
        [
            \.rssBytes, \.pssBytes, \.ussBytes, \.privateCleanBytes, \.privateDirtyBytes, \.sharedCleanBytes, \.sharedDirtyBytes,
            \.privateHugetlbBytes, \.sharedHugetlbBytes, \.pageTableBytes, \.minorFaults, \.cowCopies, \.cowReuses,
            \.lockedBytes,
            \.pssAnonBytes, \.anonHugePagesBytes,
        ]
    }
    static var systemKeys: [WritableKeyPath<SystemMetrics, UInt64>] {
        [
            \.memmapPages, \.hugetlb2MTotal, \.hugetlb1GTotal, \.hugetlb2MFree, \.hugetlb2MReserved, \.hugetlb1GFree, \.hugetlb1GReserved,
            \.hugetlb2MSurplus, \.hugetlb1GSurplus, \.anonBytes, \.pageTableBytes, \.shmemBytes,
            \.somPoolChunks, \.somUnitsUsed, \.somUnitsFree, \.somStrandedBytes, \.somFragmentedUnits,
        ]
    }

    static func report(_ p: ProcessMetrics, _ s: SystemMetrics) -> Report {
        Report(machine: MachineSpec(), measures: [Measure(label: "m", processes: [p], system: s, schemes: [])])
    }

    @Test func eachProcessDescriptorReadsItsOwnMetric() {
        #expect(ReportFields.process.count == Self.processKeys.count)
        for (i, key) in Self.processKeys.enumerated() {
            var p = ProcessMetrics(name: "p", alive: true)
            p[keyPath: key] = 12_345
            let read = ReportFields.process.map { $0.value(of: p) }
            #expect(read == read.indices.map { $0 == i ? 12_345 : 0 }, "\(ReportFields.process[i].name)")
        }
    }

    @Test func eachSystemDescriptorReadsItsOwnMetric() {
        #expect(ReportFields.system.count == Self.systemKeys.count)
        for (i, key) in Self.systemKeys.enumerated() {
            var s = SystemMetrics()
            s[keyPath: key] = 12_345
            let read = ReportFields.system.map { $0.value(of: s) }
            #expect(read == read.indices.map { $0 == i ? 12_345 : 0 }, "\(ReportFields.system[i].name)")
        }
    }

    /// A metric changes the Markdown report exactly when the table places it there; JSON and CSV
    /// carry every metric.
    @Test func markdownShowsWhatTheTablePlaces() {
        let zero = ReportRenderer.render(Self.report(ProcessMetrics(name: "p", alive: true), SystemMetrics()), as: .md)
        for (metric, key) in zip(ReportFields.process, Self.processKeys) {
            var p = ProcessMetrics(name: "p", alive: true)
            p[keyPath: key] = 3 << 20
            let report = Self.report(p, SystemMetrics())
            #expect((ReportRenderer.render(report, as: .md) != zero) == (metric.markdown != .none), "\(metric.name)")
            #expect(ReportRenderer.render(report, as: .csv).contains("m,p,\(metric.name),\(3 << 20),0\n"))
            #expect(ReportRenderer.render(report, as: .json).contains("\"\(metric.name)\": \(3 << 20)"))
        }
        for (metric, key) in zip(ReportFields.system, Self.systemKeys) {
            var s = SystemMetrics()
            s[keyPath: key] = 3 << 20
            let report = Self.report(ProcessMetrics(name: "p", alive: true), s)
            // The single-owner pool's metrics are in no table: the Markdown report gives them a
            // line of their own, only where the workload has a pool (issue 11).
            let shown = metric.markdown != .none || metric.name.hasPrefix("som_")
            #expect((ReportRenderer.render(report, as: .md) != zero) == shown, "\(metric.name)")
            #expect(ReportRenderer.render(report, as: .csv).contains("m,,\(metric.name),\(3 << 20),0\n"))
        }
    }

    /// The columns of the process table, in order: metrics with the same title are summed.
    @Test func processTableColumnsFollowTheTable() {
        var p = ProcessMetrics(name: "p", alive: true)
        p.sharedCleanBytes = 1 << 20
        p.sharedDirtyBytes = 1 << 20
        let md = ReportRenderer.render(Self.report(p, SystemMetrics()), as: .md)
        let header = md.split(separator: "\n").first { $0.hasPrefix("| process") }
        let columns = header?.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(columns == ["process", "RSS", "PSS", "USS", "private dirty", "shared", "HugeTLB", "page tables", "faults", "COW copies", "COW reuses", "locked", "PSS anon", "anon THP", "state"])
        #expect(md.contains("| 2.0 MiB |"))
    }

    /// Every report field has its tolerance and how it is measured in its descriptor;
    /// `Tolerances.table` holds them and the checks that are not report fields.
    @Test func tolerancesComeFromTheDescriptors() {
        for metric in ReportFields.process {
            #expect(!metric.measuredAs.isEmpty)
            #expect(Tolerances.table.contains { $0.metric == metric.name && $0.reason == metric.measuredAs && $0.tolerance == metric.tolerance })
        }
        for metric in ReportFields.system {
            #expect(!metric.measuredAs.isEmpty)
            #expect(Tolerances.table.contains { ($0.metric == metric.name || $0.metric == metric.name + "(system)") && $0.reason == metric.measuredAs })
        }
        #expect(Tolerances.table.count == Tolerances.checks.count + ReportFields.process.count + ReportFields.system.count)
        #expect(Set(Tolerances.table.map(\.metric)).count == Tolerances.table.count, "a metric is listed twice")
    }
}

/// `generate alloc-mix --crossover` output, rendered by SomsimReport.
@Suite struct CrossoverRendererTests {
    static let sweep: CrossoverRenderer.Sweep = {
        let rows = try! MemdescCrossover.sweep(small: 4096, large: 2 << 20, ramBytes: 256 << 20, steps: 2, profile: .x86_64)
        let found = try! MemdescCrossover.find(small: 4096, large: 2 << 20, ramBytes: 256 << 20, precision: 1, profile: .x86_64)
        return CrossoverRenderer.Sweep(
            scheme: .memdesc, smallBytes: 4096, largeBytes: 2 << 20, ramBytes: 256 << 20, smallText: "4K", largeText: "2M", ramText: "256M",
            rows: rows, crossover: found)
    }()

    @Test func markdownNamesTheSizesAsGiven() {
        let md = CrossoverRenderer.render(Self.sweep, format: .md)
        #expect(md.hasPrefix("# memdesc against struct page: 4K and 2M allocations filling 256M of RAM\n\n| 4K share |"))
        #expect(md.split(separator: "\n").filter { $0.hasPrefix("|") }.count == 2 + Self.sweep.rows.count)
        #expect(md.hasSuffix("of the memory is in 4K allocations (the rest 2M).\n"))
    }

    /// Tidy: a header and one row per mix, every field a number; no trailer row.
    @Test func csvHasARowPerMixAndNothingElse() {
        let lines = CrossoverRenderer.render(Self.sweep, format: .csv).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "small_percent,struct_page_bytes,memdesc_bytes,saving_bytes")
        #expect(lines.count == 1 + Self.sweep.rows.count + 1)
        #expect(lines.last == "")
        for line in lines.dropFirst().dropLast() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            #expect(fields.count == 4 && fields.allSatisfy { Double($0) != nil }, "not a row of numbers: \(line)")
        }
        #expect(lines[1] == "0.0,\(Self.sweep.rows[0].structPageBytes),\(Self.sweep.rows[0].memdescBytes),\(Self.sweep.rows[0].savingBytes)")
    }

    /// `--summary`: the crossover alone, the same share in every format.
    @Test func summaryIsTheCrossoverAlone() throws {
        let share = try #require(Self.sweep.crossover)
        #expect(
            CrossoverRenderer.summary(Self.sweep, format: .csv)
                == "scheme,small_bytes,large_bytes,ram_bytes,crossover_small_percent\nmemdesc,4096,2097152,268435456,\(share)\n")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(CrossoverRenderer.summary(Self.sweep, format: .json).utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["scheme", "small_bytes", "large_bytes", "ram_bytes", "crossover_small_percent"])
        #expect(object["crossover_small_percent"] as? Double == share)
        let sentence = CrossoverRenderer.summary(Self.sweep, format: .md)
        #expect(sentence.hasPrefix("Crossover: memdesc stops saving when "))
        #expect(CrossoverRenderer.render(Self.sweep, format: .md).hasSuffix("\n" + sentence))
    }

    /// Without a crossover the CSV's share is empty (a missing number to pandas) and JSON's null.
    @Test func summaryWithoutACrossoverLeavesTheShareEmpty() {
        var none = Self.sweep
        none.crossover = nil
        #expect(CrossoverRenderer.summary(none, format: .csv).hasSuffix("\nmemdesc,4096,2097152,268435456,\n"))
        #expect(CrossoverRenderer.summary(none, format: .json).contains("\"crossover_small_percent\": null"))
        #expect(CrossoverRenderer.summary(none, format: .md).contains(" when none of the memory"))
    }

    @Test func jsonIsOneObject() throws {
        let text = CrossoverRenderer.render(Self.sweep, format: .json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["scheme"] as? String == "memdesc")
        #expect((object["sweep"] as? [Any])?.count == Self.sweep.rows.count)
        #expect(text.hasSuffix("}\n"))
    }
}
