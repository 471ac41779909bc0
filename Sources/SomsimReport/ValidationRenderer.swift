import SomsimModel
import SomsimValidation

/// Renders `somsim validate` results: the simulation report with, for each measure, the measured
/// values and the checks (predicted, measured, difference, tolerance, verdict).
public enum ValidationRenderer {
    public static func render(_ report: ValidationReport, as format: ReportFormat) -> String {
        switch format {
        case .json: return json(report).serialized() + "\n"
        case .csv: return csv(report)
        case .md: return markdown(report)
        }
    }

    // MARK: JSON

    /// The contract's report object; each measure also carries `measured` and `checks`, and the
    /// object ends with `validation`: the verdict, run-level checks and notes.
    public static func json(_ report: ValidationReport) -> JSONValue {
        guard case .object(var fields) = ReportRenderer.json(report.predicted) else { return .null }
        let measures: [JSONValue] = report.predicted.measures.indices.map { i in
            guard case .object(var measure) = ReportRenderer.json(report.predicted.measures[i], index: i) else { return .null }
            if i < report.measured.count {
                let m = report.measured[i]
                var system = ReportRenderer.json(m.system)
                if case .object(var s) = system {
                    s += m.counters.map { ($0.name, .unsigned($0.value)) }
                    system = .object(s)
                }
                measure.append(("measured", .object([("processes", .array(m.processes.map(ReportRenderer.json))), ("system", system)])))
                measure.append(("checks", .array(report.checks[i].map(json))))
            }
            return .object(measure)
        }
        if let index = fields.firstIndex(where: { $0.0 == "measures" }) { fields[index].1 = .array(measures) }
        fields.append((
            "validation",
            .object([
                ("passed", .bool(report.passed)),
                ("failed_checks", .unsigned(UInt64(report.failures.count))),
                ("run_checks", .array(report.runChecks.map(json))),
                ("notes", .array(report.notes.map { .string($0) })),
            ])
        ))
        return .object(fields)
    }

    public static func json(_ check: Check) -> JSONValue {
        func value(_ v: Check.Value) -> JSONValue {
            switch v {
            case .count(let n): return .unsigned(n)
            case .text(let s): return .string(s)
            }
        }
        return .object([
            ("process", check.process.map { .string($0) } ?? .null),
            ("metric", .string(check.metric)),
            ("predicted", value(check.predicted)),
            ("measured", value(check.measured)),
            ("difference", check.difference.map { .integer($0) } ?? .null),
            ("tolerance", .unsigned(check.tolerance)),
            ("ok", .bool(check.ok)),
        ])
    }

    // MARK: CSV

    /// One row per measure, process and metric: the contract's `label,process,metric,value`
    /// (value is the prediction) followed by `measured,difference,tolerance,ok`. Run-level checks
    /// have the label `run`.
    public static func csv(_ report: ValidationReport) -> String {
        var out = "label,process,metric,value,measured,difference,tolerance,ok\n"
        func row(_ label: String, _ c: Check) {
            out += "\(label),\(c.process ?? ""),\(c.metric),\(csvField(c.predicted)),\(csvField(c.measured)),"
            out += "\(c.difference.map(String.init) ?? ""),\(c.tolerance),\(c.ok ? 1 : 0)\n"
        }
        for (i, checks) in report.checks.enumerated() {
            for c in checks { row(report.predicted.measures[i].label, c) }
        }
        for c in report.runChecks { row("run", c) }
        return out
    }

    private static func csvField(_ v: Check.Value) -> String {
        let s = v.description
        guard s.contains(",") || s.contains("\"") else { return s }
        return "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    // MARK: Markdown

    /// Per measure, a table of every check; a summary with the verdict and the worst error first.
    public static func markdown(_ report: ValidationReport) -> String {
        var out = "# Validation: \(report.passed ? "PASS" : "FAIL")\n\n"
        let all = report.checks.flatMap { $0 } + report.runChecks
        out += "\(all.count) checks, \(report.failures.count) outside their tolerance.\n\n"
        for note in report.notes { out += "- \(note)\n" }
        if !report.notes.isEmpty { out += "\n" }
        if !report.failures.isEmpty {
            out += "## Failed checks\n\n" + table(report.failures.map { ("", $0) }, withLabel: false) + "\n"
        }
        for (i, checks) in report.checks.enumerated() {
            out += "## \(report.predicted.measures[i].label)\n\n" + table(checks.map { ("", $0) }, withLabel: false) + "\n"
        }
        if !report.runChecks.isEmpty {
            out += "## Run\n\n" + table(report.runChecks.map { ("", $0) }, withLabel: false) + "\n"
        }
        return out
    }

    private static func table(_ checks: [(String, Check)], withLabel: Bool) -> String {
        ReportRenderer.table(
            header: ["process", "metric", "predicted", "measured", "difference", "tolerance", "verdict"],
            rows: checks.map { _, c in
                [c.process ?? "(system)", c.metric, c.predicted.description, c.measured.description,
                 c.difference.map { $0 > 0 ? "+\($0)" : String($0) } ?? (c.ok ? "" : "≠"), String(c.tolerance), c.ok ? "ok" : "FAIL"]
            })
    }

    /// The largest |difference| among a report's checks, with the check, for summaries.
    public static func worst(_ report: ValidationReport) -> Check? {
        (report.checks.flatMap { $0 } + report.runChecks).max { a, b in
            let da = a.difference.map { $0.magnitude } ?? (a.ok ? 0 : UInt64.max)
            let db = b.difference.map { $0.magnitude } ?? (b.ok ? 0 : UInt64.max)
            return da < db
        }
    }
}
