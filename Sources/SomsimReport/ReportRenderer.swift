import SomsimModel
import SomsimValidation
import SomsimWorkload

/// Output formats of reports.
public enum ReportFormat: String, CaseIterable, Sendable {
    /// Tables a person reads.
    case md
    /// One JSON object, the contract's schema.
    case json
    /// Tidy rows `label,process,metric,value` for notebooks.
    case csv
}

/// What a report shows beyond its measures (issue 13): one measure only, totals, metadata.
public struct ReportOptions: Sendable {
    /// Only the measures with this label (`--measure LABEL`); nil: every measure. Measures keep
    /// their `measure_index` (their place in the workload), and the run's errors are all kept in
    /// md and json (they belong to the run); CSV keeps the error rows of the measures it shows.
    public var measure: String?
    /// A totals row over processes (`--totals`, as `smem -t`): in md a `total` row under each
    /// process table, in csv `total.METRIC` rows with an empty process (json: none).
    public var totals: Bool
    /// The JSON report's `metadata` object; nil leaves it out (reports built in code).
    public var metadata: ReportMetadata?

    public init(measure: String? = nil, totals: Bool = false, metadata: ReportMetadata? = nil) {
        self.measure = measure
        self.totals = totals
        self.metadata = metadata
    }

    /// The measures to show, each with its index in the report.
    func selected(_ measures: [Measure]) -> [(index: Int, measure: Measure)] {
        measures.enumerated().filter { measure == nil || $0.element.label == measure }.map { ($0.offset, $0.element) }
    }
}

/// Renders simulation reports.
public enum ReportRenderer {
    public static func render(_ report: Report, as format: ReportFormat, options: ReportOptions = ReportOptions()) -> String {
        var out = ""
        write(report, as: format, options: options, to: &out)
        return out
    }

    /// Writes what `render` returns to `out` a process at a time for json and csv, so that the
    /// whole text of a large report (100,000 processes: tens of MB) is never built in memory.
    /// Markdown aligns its columns over every row and is built whole.
    public static func write<Out: TextOutputStream>(_ report: Report, as format: ReportFormat, options: ReportOptions = ReportOptions(), to out: inout Out) {
        switch format {
        case .json: writeJSON(report, options: options, to: &out)
        case .csv: writeCSV(report, options: options, to: &out)
        case .md: out.write(markdown(report, options: options))
        }
    }

    // MARK: JSON

    /// `json(report).serialized()` and a newline, written a measure and a process at a time
    /// with the same layout (two-space indent; each container as `JSONValue` writes it).
    static func writeJSON<Out: TextOutputStream>(_ report: Report, options: ReportOptions = ReportOptions(), to out: inout Out) {
        /// Writes a container's items (an object's when `item` writes keys), each by `item` at
        /// `indent + 2`, as `JSONValue` lays a container out.
        func container<Item>(_ items: [Item], _ open: String, _ close: String, _ indent: Int, _ out: inout Out, _ item: (Item, Int, inout Out) -> Void) {
            out.write(open)
            guard !items.isEmpty else { return out.write(close) }
            let inner = String(repeating: " ", count: indent + 2)
            for (index, value) in items.enumerated() {
                out.write(index > 0 ? ",\n" : "\n")
                out.write(inner)
                item(value, indent + 2, &out)
            }
            out.write("\n" + String(repeating: " ", count: indent) + close)
        }
        func value(_ v: JSONValue, _ indent: Int, _ out: inout Out) {
            var text = ""
            v.write(to: &text, indent: indent)
            out.write(text)
        }
        func key(_ name: String, _ out: inout Out) {
            value(.string(name), 0, &out)
            out.write(": ")
        }
        let keys = ["schema_version", "machine", "measures", "errors"] + (options.metadata == nil ? [] : ["metadata"])
        container(keys, "{", "}", 0, &out) { name, indent, out in
            key(name, &out)
            switch name {
            case "schema_version": value(.integer(Int64(Report.schemaVersion)), indent, &out)
            case "machine": value(.object(machine(report.machine)), indent, &out)
            case "measures":
                container(options.selected(report.measures), "[", "]", indent, &out) { selected, indent, out in
                    let measure = selected.measure
                    container(["label", "processes", "system", "schemes", "measure_index"], "{", "}", indent, &out) { name, indent, out in
                        key(name, &out)
                        switch name {
                        case "label": value(.string(measure.label), indent, &out)
                        case "processes":
                            container(measure.processes, "[", "]", indent, &out) { p, indent, out in value(json(p), indent, &out) }
                        case "system": value(json(measure.system), indent, &out)
                        case "schemes": value(.array(measure.schemes.map(json)), indent, &out)
                        default: value(.integer(Int64(selected.index)), indent, &out)
                        }
                    }
                }
            case "errors":
                let indices = errorMeasureIndices(report.errors.count, report.measures.map(\.errorsBefore))
                container(Array(zip(report.errors, indices)), "[", "]", indent, &out) { e, indent, out in value(json(e.0, measureIndex: e.1), indent, &out) }
            default:
                value(options.metadata?.json ?? .null, indent, &out)
            }
        }
        out.write("\n")
    }

    public static func json(_ report: Report, options: ReportOptions = ReportOptions()) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("schema_version", .integer(Int64(Report.schemaVersion))),
            ("machine", .object(machine(report.machine))),
            ("measures", .array(options.selected(report.measures).map { json($0.measure, index: $0.index) })),
            ("errors", .array(zip(report.errors, errorMeasureIndices(report.errors.count, report.measures.map(\.errorsBefore))).map { json($0, measureIndex: $1) })),
        ]
        if let metadata = options.metadata { fields.append(("metadata", metadata.json)) }
        return .object(fields)
    }

    /// The machine a report ran on, as the contract names its fields.
    public static func machine(_ m: MachineSpec) -> [(String, JSONValue)] {
        [
            ("ram_bytes", .unsigned(m.ramBytes)),
            ("hugetlb_2m_pages", .unsigned(m.hugetlb2MPages)),
            ("hugetlb_1g_pages", .unsigned(m.hugetlb1GPages)),
            ("hvo", .bool(m.hvo)),
            ("hvo_kept_pages", .unsigned(m.hvoKeptPages)),
            ("thp", .string(m.thp.rawValue)),
            ("pti", .bool(m.pti)),
        ]
    }

    public static func json(_ measure: Measure, index: Int) -> JSONValue {
        .object([
            ("label", .string(measure.label)),
            ("processes", .array(measure.processes.map(json))),
            ("system", json(measure.system)),
            ("schemes", .array(measure.schemes.map(json))),
            ("measure_index", .integer(Int64(index))),
        ])
    }

    public static func json(_ p: ProcessMetrics) -> JSONValue {
        var fields: [(String, JSONValue)] = [("name", .string(p.name)), ("alive", .bool(p.alive))]
        fields += ReportFields.fields(of: p).map { ($0.name, .unsigned($0.value)) }
        fields.append(("signals", .array(p.signals.map { .string($0.rawValue) })))
        return .object(fields)
    }

    public static func json(_ s: SystemMetrics) -> JSONValue {
        .object(ReportFields.fields(of: s).map { ($0.name, .unsigned($0.value)) })
    }

    public static func json(_ s: SchemeCost) -> JSONValue {
        .object([
            ("scheme", .string(s.scheme)),
            ("metadata_bytes", .unsigned(s.metadataBytes)),
            ("metadata_ratio", .number(s.metadataRatio)),
        ])
    }

    public static func json(_ e: ErrorEvent) -> JSONValue {
        var fields: [(String, JSONValue)] = [("line", .integer(Int64(e.line))), ("statement", .string(e.statement)), ("errno", .string(e.errno.rawValue))]
        if let outcome = e.outcome { fields.append(("outcome", .string(outcome.rawValue))) }
        if let process = e.process { fields.append(("process", .string(process))) }
        if let detail = e.detail { fields.append(("detail", .string(detail))) }
        return .object(fields)
    }

    /// For each of `count` error events, the index of the measure it belongs to: the first taken
    /// after it (the measure whose `errorsBefore` passes it); nil when no measure was.
    public static func errorMeasureIndices(_ count: Int, _ errorsBefore: [Int]) -> [Int?] {
        (0..<count).map { i in errorsBefore.firstIndex { $0 > i } }
    }

    /// `json(e)` with the `measure_index` of the measure the event belongs to, last (issue 13).
    public static func json(_ e: ErrorEvent, measureIndex: Int?) -> JSONValue {
        guard let measureIndex, case .object(var fields) = json(e) else { return json(e) }
        fields.append(("measure_index", .integer(Int64(measureIndex))))
        return .object(fields)
    }

    /// The table of refused statements and out-of-memory outcomes, for Markdown reports.
    public static func errorTable(_ errors: [ErrorEvent]) -> String {
        let detailed = errors.contains { $0.detail != nil }
        return table(
            header: ["line", "statement", "errno"] + (detailed ? ["what happened"] : []),
            rows: errors.map { [String($0.line), "`\($0.statement)`", $0.errno.rawValue] + (detailed ? [$0.detail ?? ""] : []) })
    }

    // MARK: CSV

    /// One row per measure, process and metric, then the row's `measure_index` (0-based, the
    /// measure's place in the workload, so that a notebook keeps the workload's order). System
    /// and scheme rows leave `process` empty; scheme metrics are named `SCHEME.metadata_bytes`
    /// and `SCHEME.metadata_ratio`. A process killed by a signal has a row `signal.SIGNAME`
    /// (the times it was raised); each error event is a row of the first measure taken after it:
    /// `error.ERRNO` (`error.ERRNO.OUTCOME` for an out-of-memory outcome), its process (empty
    /// when it befell none) and the statement's line as the value. With totals, `total.METRIC`
    /// rows with an empty process sum the processes. Labels and names cannot hold commas or
    /// quotes (the format's name syntax), so no field needs quoting.
    public static func csv(_ report: Report, options: ReportOptions = ReportOptions()) -> String {
        var out = ""
        writeCSV(report, options: options, to: &out)
        return out
    }

    /// The header of `csv`: the contract's four columns, then `measure_index` (issue 13).
    public static let csvHeader = "label,process,metric,value,measure_index\n"

    /// The error events recorded between the measure before `index` and the measure `index`.
    static func errors(of report: Report, measure index: Int) -> ArraySlice<ErrorEvent> {
        let start = index == 0 ? 0 : report.measures[index - 1].errorsBefore
        let end = max(start, min(report.measures[index].errorsBefore, report.errors.count))
        return report.errors[min(start, end)..<end]
    }

    /// The CSV metric of an error event: `error.ERRNO`, or `error.ERRNO.OUTCOME`.
    public static func errorMetric(_ e: ErrorEvent) -> String {
        "error.\(e.errno.rawValue)" + (e.outcome.map { ".\($0.rawValue)" } ?? "")
    }

    /// `csv`, written a process at a time.
    static func writeCSV<Out: TextOutputStream>(_ report: Report, options: ReportOptions = ReportOptions(), to out: inout Out) {
        out.write(csvHeader)
        for (index, measure) in options.selected(report.measures) {
            let label = measure.label
            for p in measure.processes {
                let name = p.name
                var rows = "\(label),\(name),alive,\(p.alive ? 1 : 0),\(index)\n"
                for field in ReportFields.fields(of: p) {
                    rows += "\(label),\(name),\(field.name),\(field.value),\(index)\n"
                }
                for signal in Signal.allCases {
                    let count = p.signals.filter { $0 == signal }.count
                    if count > 0 { rows += "\(label),\(name),signal.\(signal.rawValue),\(count),\(index)\n" }
                }
                out.write(rows)
            }
            var rows = ""
            for field in ReportFields.fields(of: measure.system) {
                rows += "\(label),,\(field.name),\(field.value),\(index)\n"
            }
            for scheme in measure.schemes {
                rows += "\(label),,\(scheme.scheme).metadata_bytes,\(scheme.metadataBytes),\(index)\n"
                rows += "\(label),,\(scheme.scheme).metadata_ratio,\(scheme.metadataRatio),\(index)\n"
            }
            if options.totals {
                for (name, value) in totals(measure.processes) {
                    rows += "\(label),,total.\(name),\(value),\(index)\n"
                }
            }
            for e in errors(of: report, measure: index) {
                rows += "\(label),\(e.process ?? ""),\(errorMetric(e)),\(e.line),\(index)\n"
            }
            out.write(rows)
        }
    }

    /// Every process metric summed over `processes` (as `smem -t`), with `alive` the number
    /// of live processes; in the order of `ReportFields.process`. Sums wrap past 2^64 - 1,
    /// which no machine reaches (the sum of RSS over processes is at most processes × RAM).
    public static func totals(_ processes: [ProcessMetrics]) -> [(name: String, value: UInt64)] {
        var sums: [(name: String, value: UInt64)] = [("alive", UInt64(processes.filter(\.alive).count))]
        sums += ReportFields.process.map { metric in
            (metric.name, processes.reduce(UInt64(0)) { $0 &+ metric.value(of: $1) })
        }
        return sums
    }

    // MARK: Markdown

    /// Per measure, the process table, the system line and the scheme table; then the refused
    /// statements. The process table's columns and the system line's clauses are the fields'
    /// `ReportFields.Markdown` places.
    public static func markdown(_ report: Report, options: ReportOptions = ReportOptions()) -> String {
        var out = ""
        for (_, measure) in options.selected(report.measures) {
            out += "## \(measure.label)\n\n"
            out += processTable(measure.processes, totals: options.totals)
            out += "\nSystem: \(systemLine(measure.system)).\n\n"
            let s = measure.system
            if s.somPoolChunks + s.somUnitsUsed + s.somUnitsFree + s.somStrandedBytes + s.somFragmentedUnits > 0 {
                out += "Single-owner pool: \(s.somPoolChunks) chunks, units used/free \(s.somUnitsUsed)/\(s.somUnitsFree), stranded \(bytes(s.somStrandedBytes)) (\(s.somStrandedBytes) B), fragmentation \(s.somFragmentedUnits) free units in partly used chunks.\n\n"
            }
            out += table(
                header: ["scheme", "metadata", "% of RAM"],
                rows: measure.schemes.map { [$0.scheme, bytes($0.metadataBytes), percent($0.metadataRatio)] })
            out += "\n"
        }
        if !report.errors.isEmpty {
            out += "## Refused by the kernel\n\n"
            out += errorTable(report.errors)
            out += "\n"
        }
        return out
    }

    /// One row per process: its name, a column per `.column` title (its fields summed), its state.
    static func processTable(_ processes: [ProcessMetrics], totals: Bool = false) -> String {
        var titles: [String] = []
        for metric in ReportFields.process {
            if case .column(let title) = metric.markdown, !titles.contains(title) { titles.append(title) }
        }
        func cells(_ fields: [ReportFields.Field]) -> [String] {
            titles.map { title in
                let summed = fields.filter { $0.markdown == .column(title) }
                return text(summed.reduce(0) { $0 &+ $1.value }, summed[0].unit)
            }
        }
        var rows = processes.map { p in
            let state = p.alive ? "alive" : (p.signals.isEmpty ? "exited" : "killed (\(p.signals.map(\.rawValue).joined(separator: ", ")))")
            return [p.name] + cells(ReportFields.fields(of: p)) + [state]
        }
        if totals {
            // The processes' fields summed field by field, then per column as a process's are.
            let sums = Dictionary(uniqueKeysWithValues: Self.totals(processes).map { ($0.name, $0.value) })
            let template = ReportFields.fields(of: ProcessMetrics(name: "", alive: false))
            let summed = template.map { field in
                var field = field
                field.value = sums[field.name] ?? 0
                return field
            }
            let alive = sums["alive"] ?? 0
            rows.append(["total"] + cells(summed) + ["\(processes.count) processes, \(alive) alive"])
        }
        return table(header: ["process"] + titles + ["state"], rows: rows)
    }

    /// The system's `.clause` fields: `anonymous memory 1.0 MiB, …; HugeTLB 2M total/free/reserved 0/0/0, …`.
    static func systemLine(_ s: SystemMetrics) -> String {
        var clauses: [(title: String, part: Int, rank: Int, values: [String])] = []
        for field in ReportFields.fields(of: s) {
            guard case .clause(let title, let part, let rank) = field.markdown else { continue }
            let value = text(field.value, field.unit)
            if let i = clauses.firstIndex(where: { $0.title == title }) {
                clauses[i].values.append(value)
            } else {
                clauses.append((title, part, rank, [value]))
            }
        }
        let parts = Dictionary(grouping: clauses, by: \.part).sorted { $0.key < $1.key }
        return parts.map { _, clauses in
            clauses.sorted { $0.rank < $1.rank }.map { "\($0.title) \($0.values.joined(separator: "/"))" }.joined(separator: ", ")
        }.joined(separator: "; ")
    }

    /// A value as a person reads it.
    static func text(_ value: UInt64, _ unit: ReportFields.Unit) -> String {
        switch unit {
        case .bytes: return bytes(value)
        case .count: return String(value)
        case .pages: return "\(value) pages (\(bytes(value * PageGeometry.pageBytes)))"
        }
    }

    /// A Markdown table with numeric-looking columns right-aligned.
    public static func table(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        let numeric = header.indices.map { column in
            column > 0 && rows.allSatisfy { row in row[column].first.map { $0.isNumber || $0 == "-" } ?? true }
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return numeric[i] ? pad + cell : cell + pad
            }
            return "| " + padded.joined(separator: " | ") + " |\n"
        }
        var out = line(header)
        out += "|" + widths.indices.map { i in numeric[i] ? String(repeating: "-", count: widths[i] + 1) + ":" : String(repeating: "-", count: widths[i] + 2) }.joined(separator: "|") + "|\n"
        for row in rows { out += line(row) }
        return out
    }

    /// Bytes in binary units with one decimal: `0`, `512 B`, `4.0 KiB`, `1.5 MiB`.
    public static func bytes(_ n: UInt64) -> String {
        if n == 0 { return "0" }
        if n < 1024 { return "\(n) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(n) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return oneDecimal(value) + " " + units[unit]
    }

    public static func percent(_ ratio: Double) -> String {
        let scaled = (ratio * 100 * 10_000).rounded() / 10_000
        return "\(scaled)%"
    }

    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
