/// `somsim diff A.json B.json`: two reports metric by metric (issue 13, as memray's and
/// heaptrack's diffs): per measure (matched by label), per process (by name), every metric of
/// the system, the schemes and the processes, and the machine; A, B, B − A and B / A.
///
/// Reads what `simulate --format json` and `compare --format json` write (and `validate`'s, whose
/// predicted report is the same object). The `metadata` object is not compared: two runs of
/// the same input with different builds should diff equal when their numbers are.
public struct ReportDiff: Equatable, Sendable {
    /// One metric of either report.
    public struct Row: Equatable, Sendable {
        /// The measure's label; empty for the report's own rows (`machine.*`, `errors`).
        public var label: String
        /// The process's name; empty for system, scheme and machine rows.
        public var process: String
        /// The metric's name; nested objects are joined with dots (`som_pool.chunks`), arrays
        /// of objects keyed by their `scheme`/`name`/`process` (`struct-page.metadata_bytes`).
        public var metric: String
        /// The value in A and in B; nil where that report has no such metric.
        public var a: JSONValue?
        public var b: JSONValue?
        /// The measure's index in A (in B when A has no such measure); nil for report rows.
        public var measureIndex: Int?

        public var equal: Bool { a == b }

        /// B − A for two numbers, exact for integers; nil otherwise.
        public var difference: JSONValue? {
            guard let a, let b else { return nil }
            switch (a, b) {
            case (.unsigned(let x), .unsigned(let y)):
                if y >= x { return .unsigned(y - x) }
                let d = x - y
                return d <= UInt64(Int64.max) ? .integer(-Int64(d)) : .number(-Double(d))
            default:
                guard let x = Self.double(a), let y = Self.double(b) else { return nil }
                if case .integer = a, case .integer = b, let d = Int64(exactly: y - x) { return .integer(d) }
                return .number(y - x)
            }
        }

        /// B / A for two numbers with A ≠ 0; nil otherwise.
        public var ratio: Double? {
            guard let a, let b, let x = Self.double(a), let y = Self.double(b), x != 0 else { return nil }
            return y / x
        }

        static func double(_ v: JSONValue) -> Double? {
            switch v {
            case .unsigned(let u): return Double(u)
            case .integer(let i): return Double(i)
            case .number(let d): return d
            default: return nil
            }
        }
    }

    /// Every metric of either report, in A's order, then B's metrics A lacks.
    public var rows: [Row]
    public var equal: Bool { rows.allSatisfy(\.equal) }

    /// Why a document is not a somsim report.
    public struct NotAReport: Error, CustomStringConvertible {
        public var description: String
    }

    /// The metrics of one report: `(label, process, metric)` → value, in the report's order.
    typealias Flat = [(key: Key, value: JSONValue, index: Int?)]
    struct Key: Hashable {
        var label: String
        var process: String
        var metric: String
    }

    public init(_ a: JSONValue, _ b: JSONValue) throws(NotAReport) {
        let flatA = try Self.flatten(a, "A")
        let flatB = try Self.flatten(b, "B")
        var inB: [Key: (JSONValue, Int?)] = [:]
        for row in flatB { inB[row.key] = (row.value, row.index) }
        var seen = Set<Key>()
        rows = flatA.map { row in
            seen.insert(row.key)
            return Row(label: row.key.label, process: row.key.process, metric: row.key.metric, a: row.value, b: inB[row.key]?.0, measureIndex: row.index)
        }
        for row in flatB where !seen.contains(row.key) {
            rows.append(Row(label: row.key.label, process: row.key.process, metric: row.key.metric, a: nil, b: row.value, measureIndex: row.index))
        }
    }

    /// A report's metrics; refuses a document without `schema_version` and `measures`.
    static func flatten(_ report: JSONValue, _ name: String) throws(NotAReport) -> Flat {
        guard case .object = report, report["schema_version"] != nil, case .array(let measures)? = report["measures"] else {
            throw NotAReport(description: "\(name) is not a somsim report: a JSON object with schema_version and measures, as simulate and compare write with --format json")
        }
        var out: Flat = []
        if case .object(let machine)? = report["machine"] {
            for (k, v) in machine { leaves(v, "machine." + k) { out.append((Key(label: "", process: "", metric: $0), $1, nil)) } }
        }
        if case .array(let errors)? = report["errors"] {
            out.append((Key(label: "", process: "", metric: "errors"), .unsigned(UInt64(errors.count)), nil))
        }
        for (position, measure) in measures.enumerated() {
            guard case .object(let fields) = measure, case .string(let label)? = measure["label"] else {
                throw NotAReport(description: "\(name) is not a somsim report: measure \(position) has no label")
            }
            var index = position
            if case .unsigned(let i)? = measure["measure_index"] { index = Int(i) }
            for (k, v) in fields where k != "label" && k != "measure_index" {
                if k == "processes", case .array(let processes) = v {
                    for p in processes {
                        guard case .object(let pf) = p, case .string(let pname)? = p["name"] else {
                            throw NotAReport(description: "\(name) is not a somsim report: a process of measure \(label) has no name")
                        }
                        for (pk, pv) in pf where pk != "name" {
                            leaves(pv, pk) { out.append((Key(label: label, process: pname, metric: $0), $1, index)) }
                        }
                    }
                } else {
                    leaves(v, k == "system" ? "" : k) { out.append((Key(label: label, process: "", metric: $0), $1, index)) }
                }
            }
        }
        return out
    }

    /// Calls `emit` with every scalar under `value`, named by its path from `prefix`.
    static func leaves(_ value: JSONValue, _ prefix: String, _ emit: (String, JSONValue) -> Void) {
        func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : a + "." + b }
        switch value {
        case .object(let fields):
            for (k, v) in fields { leaves(v, join(prefix, k), emit) }
        case .array(let items):
            if items.allSatisfy({ if case .object = $0 { return true } else { return false } }), !items.isEmpty {
                for (i, item) in items.enumerated() {
                    var key = String(i)
                    var rest = item
                    for name in ["scheme", "name", "process"] {
                        if case .string(let s)? = item[name], case .object(let fields) = item {
                            key = s
                            rest = .object(fields.filter { $0.0 != name })
                            break
                        }
                    }
                    // Schemes are named by themselves (`struct-page.metadata_bytes`), as the CSV names them.
                    leaves(rest, prefix == "schemes" ? key : join(prefix, key), emit)
                }
            } else {
                // Arrays of scalars (a process's signals, mTHP sizes): compared whole, as text.
                emit(prefix, .string(value.serialized(pretty: false)))
            }
        default:
            emit(prefix, value)
        }
    }

    // MARK: Rendering

    /// The rows to show: those that differ, or every row with `all`.
    public func shown(all: Bool) -> [Row] { all ? rows : rows.filter { !$0.equal } }

    static func text(_ v: JSONValue?) -> String {
        guard let v else { return "" }
        if case .string(let s) = v { return s }
        return v.serialized(pretty: false)
    }

    static func ratioText(_ r: Double?) -> String { r.map { "\($0)" } ?? "" }

    /// md: a table per report (a line when nothing differs); csv: tidy rows
    /// `label,process,metric,a,b,difference,ratio,measure_index`; json: `{equal, compared, rows}`.
    public func render(as format: ReportFormat, all: Bool, nameA: String, nameB: String) -> String {
        let rows = shown(all: all)
        switch format {
        case .md:
            var out = "# somsim diff\n\nA: \(nameA)\nB: \(nameB)\n\n"
            if equal { out += "No differences: \(self.rows.count) metrics compared.\n\n" }
            if !rows.isEmpty {
                out += ReportRenderer.table(
                    header: ["measure", "process", "metric", "A", "B", "B − A", "B / A"],
                    rows: rows.map { [$0.label, $0.process, $0.metric, Self.text($0.a), Self.text($0.b), Self.text($0.difference), Self.ratioText($0.ratio)] })
                if !equal { out += "\n\(self.rows.filter { !$0.equal }.count) of \(self.rows.count) metrics differ.\n" }
            }
            return out
        case .csv:
            var out = "label,process,metric,a,b,difference,ratio,measure_index\n"
            for r in rows {
                let cells = [r.label, r.process, r.metric, Self.text(r.a), Self.text(r.b), Self.text(r.difference), Self.ratioText(r.ratio), r.measureIndex.map(String.init) ?? ""]
                out += cells.map(SchemeRenderer.csvField).joined(separator: ",") + "\n"
            }
            return out
        case .json:
            return JSONValue.object([
                ("a", .string(nameA)), ("b", .string(nameB)), ("equal", .bool(equal)), ("compared", .unsigned(UInt64(self.rows.count))),
                (
                    "rows",
                    .array(
                        rows.map { r in
                            .object([
                                ("label", .string(r.label)), ("process", .string(r.process)), ("metric", .string(r.metric)),
                                ("a", r.a ?? .null), ("b", r.b ?? .null), ("difference", r.difference ?? .null),
                                ("ratio", r.ratio.map { .number($0) } ?? .null),
                                ("measure_index", r.measureIndex.map { .integer(Int64($0)) } ?? .null),
                            ])
                        })
                ),
            ]).serialized() + "\n"
        }
    }
}
