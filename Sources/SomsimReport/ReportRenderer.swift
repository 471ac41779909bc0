import SomsimModel
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

/// Renders simulation reports.
public enum ReportRenderer {
    public static func render(_ report: Report, as format: ReportFormat) -> String {
        switch format {
        case .json: return json(report).serialized() + "\n"
        case .csv: return csv(report)
        case .md: return markdown(report)
        }
    }

    // MARK: JSON

    public static func json(_ report: Report) -> JSONValue {
        .object([
            ("schema_version", .integer(Int64(Report.schemaVersion))),
            ("machine", .object(ReportFields.machine(report.machine))),
            ("measures", .array(report.measures.map(json))),
            ("errors", .array(report.errors.map(json))),
        ])
    }

    public static func json(_ measure: Measure) -> JSONValue {
        .object([
            ("label", .string(measure.label)),
            ("processes", .array(measure.processes.map(json))),
            ("system", json(measure.system)),
            ("schemes", .array(measure.schemes.map(json))),
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

    /// The table of refused statements and out-of-memory outcomes, for Markdown reports.
    public static func errorTable(_ errors: [ErrorEvent]) -> String {
        let detailed = errors.contains { $0.detail != nil }
        return table(
            header: ["line", "statement", "errno"] + (detailed ? ["what happened"] : []),
            rows: errors.map { [String($0.line), "`\($0.statement)`", $0.errno.rawValue] + (detailed ? [$0.detail ?? ""] : []) })
    }

    // MARK: CSV

    /// One row per measure, process and metric. System and scheme rows leave `process` empty;
    /// scheme metrics are named `SCHEME.metadata_bytes` and `SCHEME.metadata_ratio`. Labels and
    /// names cannot hold commas or quotes (the format's name syntax), so no field needs quoting.
    public static func csv(_ report: Report) -> String {
        var out = "label,process,metric,value\n"
        for measure in report.measures {
            let label = measure.label
            for p in measure.processes {
                let name = p.name
                out += "\(label),\(name),alive,\(p.alive ? 1 : 0)\n"
                for field in ReportFields.fields(of: p) {
                    out += "\(label),\(name),\(field.name),\(field.value)\n"
                }
            }
            for field in ReportFields.fields(of: measure.system) {
                out += "\(label),,\(field.name),\(field.value)\n"
            }
            for scheme in measure.schemes {
                out += "\(label),,\(scheme.scheme).metadata_bytes,\(scheme.metadataBytes)\n"
                out += "\(label),,\(scheme.scheme).metadata_ratio,\(scheme.metadataRatio)\n"
            }
        }
        return out
    }

    // MARK: Markdown

    public static func markdown(_ report: Report) -> String {
        var out = ""
        for measure in report.measures {
            out += "## \(measure.label)\n\n"
            out += table(
                header: ["process", "RSS", "PSS", "USS", "private dirty", "shared", "HugeTLB", "page tables", "faults", "COW copies", "COW reuses", "state"],
                rows: measure.processes.map { p in
                    [
                        p.name, bytes(p.rssBytes), bytes(p.pssBytes), bytes(p.ussBytes), bytes(p.privateDirtyBytes),
                        bytes(p.sharedCleanBytes + p.sharedDirtyBytes), bytes(p.privateHugetlbBytes + p.sharedHugetlbBytes),
                        bytes(p.pageTableBytes), String(p.minorFaults), String(p.cowCopies), String(p.cowReuses),
                        p.alive ? "alive" : (p.signals.isEmpty ? "exited" : "killed (\(p.signals.map(\.rawValue).joined(separator: ", ")))"),
                    ]
                })
            let s = measure.system
            out += "\nSystem: anonymous memory \(bytes(s.anonBytes)), page tables \(bytes(s.pageTableBytes)), "
            out += "memmap \(s.memmapPages) pages (\(bytes(s.memmapPages * 4096))); "
            out += "HugeTLB 2M total/free/reserved \(s.hugetlb2MTotal)/\(s.hugetlb2MFree)/\(s.hugetlb2MReserved), "
            out += "1G \(s.hugetlb1GTotal)/\(s.hugetlb1GFree)/\(s.hugetlb1GReserved).\n\n"
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
