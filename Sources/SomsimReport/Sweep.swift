import SomsimModel
import SomsimValidation

/// `somsim sweep`: the points of a parameter sweep, its tidy rows, its manifest, and the merge of
/// sharded runs (docs/sweeps.md).
public enum Sweep {
    /// One `--vary NAME=…`: a param name (or `machine.KEY`) and the values it takes, in order.
    public struct Axis: Equatable, Sendable {
        public var name: String
        public var values: [String]
        public init(name: String, values: [String]) {
            self.name = name
            self.values = values
        }
    }

    /// The output formats: tidy CSV, or JSON lines with the same keys.
    public enum Format: String, CaseIterable, Sendable {
        case csv, jsonl
    }

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// The columns after the varied names.
    public static let fixedColumns = ["measure_index", "label", "process", "metric", "value"]

    /// The most points a sweep takes (a typo such as `1..100000000` is refused, not run).
    public static let maxPoints = 1_000_000

    /// Reads `NAME=V1,V2,…` or `NAME=A..B[:STEP]` (integers, A ≤ B, STEP ≥ 1, default 1).
    public static func axis(_ text: String) throws(Failure) -> Axis {
        let usage = "--vary takes NAME=V1,V2,... or NAME=A..B[:STEP] (integers)"
        guard let eq = text.firstIndex(of: "=") else { throw Failure("--vary \(text): no '='; \(usage)") }
        let name = String(text[..<eq])
        let spec = String(text[text.index(after: eq)...])
        guard !name.isEmpty else { throw Failure("--vary \(text): no NAME before '='; \(usage)") }
        if fixedColumns.contains(name) { throw Failure("--vary \(text): '\(name)' is a column of the output; a param cannot take that name in a sweep") }
        let parts = spec.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3, parts[1].isEmpty {
            let from = parts[0]
            var rest = parts[2]
            var step: UInt64 = 1
            if let colon = rest.firstIndex(of: ":") {
                guard let s = UInt64(rest[rest.index(after: colon)...]), s > 0 else {
                    throw Failure("--vary \(text): STEP must be a positive integer; \(usage)")
                }
                step = s
                rest = rest[..<colon]
            }
            guard let a = UInt64(from), let b = UInt64(rest) else { throw Failure("--vary \(text): A and B must be non-negative integers; \(usage)") }
            guard a <= b else { throw Failure("--vary \(text): A (\(a)) is greater than B (\(b)); write the range from low to high") }
            guard (b - a) / step < UInt64(maxPoints) else { throw Failure("--vary \(text): more than \(maxPoints) values") }
            var values: [String] = []
            var v = a
            while true {
                values.append(String(v))
                let (next, overflow) = v.addingReportingOverflow(step)
                if overflow || next > b { break }
                v = next
            }
            return Axis(name: name, values: values)
        }
        let values = spec.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if values.contains(where: \.isEmpty) { throw Failure("--vary \(text): an empty value; \(usage)") }
        var seen: Set<String> = []
        for v in values where !seen.insert(v).inserted { throw Failure("--vary \(text): value '\(v)' is given twice") }
        return Axis(name: name, values: values)
    }

    /// Every combination of the axes' values, the first axis varying slowest (as nested loops
    /// over the axes in the order given): point k's values, one per axis.
    public static func points(_ axes: [Axis]) throws(Failure) -> [[String]] {
        var names: Set<String> = []
        for axis in axes where !names.insert(axis.name).inserted { throw Failure("--vary \(axis.name) is given twice; give all its values in one --vary") }
        var total = 1
        for axis in axes {
            let (product, overflow) = total.multipliedReportingOverflow(by: axis.values.count)
            guard !overflow, product <= maxPoints else { throw Failure("the sweep has more than \(maxPoints) points; vary fewer values") }
            total = product
        }
        var result: [[String]] = []
        result.reserveCapacity(total)
        for k in 0..<total {
            var rest = k
            var values = [String](repeating: "", count: axes.count)
            for a in axes.indices.reversed() {
                values[a] = axes[a].values[rest % axes[a].values.count]
                rest /= axes[a].values.count
            }
            result.append(values)
        }
        return result
    }

    /// `--shard I/N`: 0-based shard I of N takes the points k with k mod N = I.
    public static func shardPoints(count points: Int, shard: Int, of shards: Int) -> [Int] {
        Array(stride(from: shard, to: points, by: shards))
    }

    /// Reads `I/N` (0 ≤ I < N).
    public static func shard(_ text: String) throws(Failure) -> (index: Int, count: Int) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            throw Failure("--shard \(text): expected I/N with 0 <= I < N (shards are numbered from 0, as $JOB_COMPLETION_INDEX; with Slurm use --array=0-(N-1))")
        }
        return (i, n)
    }

    // MARK: Rows

    /// The header line (CSV) or nothing (JSON lines).
    public static func header(_ names: [String], format: Format) -> String {
        format == .csv ? (names + fixedColumns).joined(separator: ",") + "\n" : ""
    }

    /// One point's rows, each ending in a newline: per measure (in workload order, from 0) the
    /// rows `simulate --format csv` gives, with the point's values in front.
    public static func rows(_ report: Report, values: [String], names: [String], format: Format) -> [String] {
        var result: [String] = []
        let csvPrefix = values.joined(separator: ",")
        var jsonPrefix = "{"
        for (name, value) in zip(names, values) {
            jsonPrefix += quote(name) + ":" + jsonScalar(value) + ","
        }
        func add(_ index: Int, _ label: String, _ process: String, _ metric: String, _ value: String) {
            switch format {
            case .csv:
                result.append((names.isEmpty ? "" : csvPrefix + ",") + "\(index),\(label),\(process),\(metric),\(value)\n")
            case .jsonl:
                result.append(jsonPrefix + "\"measure_index\":\(index),\"label\":\(quote(label)),\"process\":\(quote(process)),\"metric\":\(quote(metric)),\"value\":\(value)}\n")
            }
        }
        for (index, measure) in report.measures.enumerated() {
            for p in measure.processes {
                add(index, measure.label, p.name, "alive", p.alive ? "1" : "0")
                for field in ReportFields.fields(of: p) { add(index, measure.label, p.name, field.name, "\(field.value)") }
                // Signals and errors as simulate's CSV has them (ReportRenderer.writeCSV).
                for signal in Signal.allCases {
                    let count = p.signals.filter { $0 == signal }.count
                    if count > 0 { add(index, measure.label, p.name, "signal.\(signal.rawValue)", "\(count)") }
                }
            }
            for field in ReportFields.fields(of: measure.system) { add(index, measure.label, "", field.name, "\(field.value)") }
            for scheme in measure.schemes {
                add(index, measure.label, "", "\(scheme.scheme).metadata_bytes", "\(scheme.metadataBytes)")
                // As simulate's CSV writes it; JSON has no NaN or infinity (null, as the report's JSON).
                let ratio = format == .csv ? "\(scheme.metadataRatio)" : JSONValue.number(scheme.metadataRatio).serialized()
                add(index, measure.label, "", "\(scheme.scheme).metadata_ratio", ratio)
            }
            for e in ReportRenderer.errors(of: report, measure: index) {
                add(index, measure.label, e.process ?? "", ReportRenderer.errorMetric(e), "\(e.line)")
            }
        }
        return result
    }

    /// A varied value in a JSON line: a number when it is a plain decimal integer, else a string.
    static func jsonScalar(_ value: String) -> String {
        let digits = !value.isEmpty && value.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } && (value == "0" || !value.hasPrefix("0"))
        return digits && UInt64(value) != nil ? value : quote(value)
    }

    static func quote(_ s: String) -> String { JSONValue.string(s).serialized() }

    // MARK: Manifest

    /// What a sweep's `<OUT>.manifest.json` says: where its numbers came from.
    public struct Manifest: Equatable, Sendable {
        public var toolVersion: String
        public var gitCommit: String
        public var input: String
        public var inputSHA256: String
        /// The `--profile` file and its hash; nil for the built-in x86-64 profile.
        public var profile: (path: String, sha256: String)?
        public var commandLine: String
        public var format: Format
        public var axes: [Axis]
        /// `-D` and `--set` given besides the varied names, as `NAME=VALUE` / `machine.KEY=VALUE`.
        public var fixed: [String]
        public var points: [[String]]
        /// Set in a shard's manifest: which shard, its points and their row counts.
        public var shard: Shard?
        /// Set by `somsim merge`: the command lines of the shards merged.
        public var mergedFrom: [String]?

        public struct Shard: Equatable, Sendable {
            public var index: Int
            public var count: Int
            public var points: [Int]
            public var rows: [Int]
            public init(index: Int, count: Int, points: [Int], rows: [Int]) {
                self.index = index
                self.count = count
                self.points = points
                self.rows = rows
            }
        }

        public init(toolVersion: String, gitCommit: String, input: String, inputSHA256: String, profile: (path: String, sha256: String)?, commandLine: String, format: Format, axes: [Axis], fixed: [String], points: [[String]], shard: Shard? = nil, mergedFrom: [String]? = nil) {
            self.toolVersion = toolVersion
            self.gitCommit = gitCommit
            self.input = input
            self.inputSHA256 = inputSHA256
            self.profile = profile
            self.commandLine = commandLine
            self.format = format
            self.axes = axes
            self.fixed = fixed
            self.points = points
            self.shard = shard
            self.mergedFrom = mergedFrom
        }

        public static func == (a: Manifest, b: Manifest) -> Bool { a.json == b.json }

        /// Equal but for the command line, the shard and the merge record: the same sweep.
        public func isSameSweep(as other: Manifest) -> Bool {
            var a = self, b = other
            a.commandLine = ""; b.commandLine = ""
            a.shard = nil; b.shard = nil
            a.mergedFrom = nil; b.mergedFrom = nil
            return a == b
        }

        public var json: JSONValue {
            var fields: [(String, JSONValue)] = [
                ("tool_version", .string(toolVersion)),
                ("git_commit", .string(gitCommit)),
                ("input", .string(input)),
                ("input_sha256", .string(inputSHA256)),
                ("profile", profile.map { .object([("path", .string($0.path)), ("sha256", .string($0.sha256))]) } ?? .string("built-in x86-64")),
                ("command_line", .string(commandLine)),
                ("format", .string(format.rawValue)),
                ("vary", .array(axes.map { .object([("name", .string($0.name)), ("values", .array($0.values.map(JSONValue.string)))]) })),
                ("fixed", .array(fixed.map(JSONValue.string))),
                ("points", .array(points.enumerated().map { k, values in
                    .object([("index", .unsigned(UInt64(k))), ("values", .object(zip(axes, values).map { ($0.name, .string($1)) }))])
                })),
            ]
            if let shard {
                fields.append(("shard", .object([
                    ("index", .unsigned(UInt64(shard.index))), ("count", .unsigned(UInt64(shard.count))),
                    ("points", .array(shard.points.map { .unsigned(UInt64($0)) })),
                    ("rows", .array(shard.rows.map { .unsigned(UInt64($0)) })),
                ])))
            }
            if let mergedFrom { fields.append(("merged_from", .array(mergedFrom.map(JSONValue.string)))) }
            return .object(fields)
        }

        /// The manifest file's text.
        public var text: String { json.serialized() + "\n" }

        /// Reads a manifest `text` wrote.
        public init(parsing text: String) throws(Failure) {
            let value: JSONValue
            do { value = try JSONValue.parse(text) } catch { throw Failure("not a sweep manifest: \(error)") }
            func string(_ key: String) throws(Failure) -> String {
                guard let s = value[key]?.stringValue else { throw Failure("not a sweep manifest: no '\(key)'") }
                return s
            }
            toolVersion = try string("tool_version")
            gitCommit = try string("git_commit")
            input = try string("input")
            inputSHA256 = try string("input_sha256")
            if let p = value["profile"], let path = p["path"]?.stringValue, let sha = p["sha256"]?.stringValue {
                profile = (path, sha)
            } else {
                profile = nil
            }
            commandLine = try string("command_line")
            guard let f = Format(rawValue: try string("format")) else { throw Failure("not a sweep manifest: bad 'format'") }
            format = f
            axes = (value["vary"]?.arrayValue ?? []).map { Axis(name: $0["name"]?.stringValue ?? "", values: ($0["values"]?.arrayValue ?? []).compactMap(\.stringValue)) }
            fixed = (value["fixed"]?.arrayValue ?? []).compactMap(\.stringValue)
            let names = axes.map(\.name)
            points = (value["points"]?.arrayValue ?? []).map { p in names.map { p["values"]?[$0]?.stringValue ?? "" } }
            if let s = value["shard"], let i = s["index"]?.intValue, let n = s["count"]?.intValue {
                shard = Shard(index: i, count: n, points: (s["points"]?.arrayValue ?? []).compactMap(\.intValue), rows: (s["rows"]?.arrayValue ?? []).compactMap(\.intValue))
            } else {
                shard = nil
            }
            mergedFrom = value["merged_from"]?.arrayValue?.compactMap(\.stringValue)
        }
    }

    // MARK: Merge

    /// A shard's output as `somsim merge` reads it.
    public struct ShardOutput: Sendable {
        public var path: String
        public var manifest: Manifest
        public var text: String
        public init(path: String, manifest: Manifest, text: String) {
            self.path = path
            self.manifest = manifest
            self.text = text
        }
    }

    /// The output and manifest of the unsharded run, from all N shards of one sweep (the
    /// manifest's command line is `commandLine`, the shards' are kept in `merged_from`).
    /// Refuses shards of different sweeps, a shard given twice, missing shards, and rows that
    /// do not add up to what the manifests say.
    public static func merge(_ shards: [ShardOutput], commandLine: String) throws(Failure) -> (output: String, manifest: Manifest) {
        guard let first = shards.first else { throw Failure("no shard outputs given") }
        var byIndex: [Int: ShardOutput] = [:]
        for s in shards {
            guard let shard = s.manifest.shard else {
                throw Failure("\(s.path) is not a shard's output (its manifest has no 'shard'); merge takes the outputs of sweep --shard I/N")
            }
            guard s.manifest.isSameSweep(as: first.manifest) else {
                throw Failure("\(s.path) is from a different sweep than \(first.path) (input, version, commit, profile, format, --vary or -D/--set differ); merge only the shards of one sweep command")
            }
            guard shard.count == first.manifest.shard!.count else {
                throw Failure("\(s.path) is shard \(shard.index)/\(shard.count) but \(first.path) is one of \(first.manifest.shard!.count); merge only the shards of one sweep command")
            }
            if let other = byIndex[shard.index] {
                throw Failure("shard \(shard.index)/\(shard.count) is given twice: \(other.path) and \(s.path)")
            }
            byIndex[shard.index] = s
        }
        let count = first.manifest.shard!.count
        let missing = (0..<count).filter { byIndex[$0] == nil }
        if !missing.isEmpty {
            throw Failure("missing shards: \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")) (given \(byIndex.keys.sorted().map { "\($0)/\(count)" }.joined(separator: ", "))); run them with --shard and merge all \(count)")
        }
        let manifest = first.manifest
        let pointCount = manifest.points.count
        let header = Self.header(manifest.axes.map(\.name), format: manifest.format)
        var perPoint = [[Substring]?](repeating: nil, count: pointCount)
        for index in 0..<count {
            let s = byIndex[index]!
            let shard = s.manifest.shard!
            guard shard.points == shardPoints(count: pointCount, shard: index, of: count), shard.rows.count == shard.points.count else {
                throw Failure("\(s.path): its manifest's points are not those of shard \(index)/\(count)")
            }
            guard s.text.hasPrefix(header) else { throw Failure("\(s.path) does not start with the header \(header.isEmpty ? "(none)" : header.dropLast())") }
            var lines = s.text.dropFirst(header.count).split(separator: "\n", omittingEmptySubsequences: false)
            if lines.last == "" { lines.removeLast() }
            guard lines.count == shard.rows.reduce(0, +) else {
                throw Failure("\(s.path) holds \(lines.count) rows but its manifest says \(shard.rows.reduce(0, +)); was it cut short or edited?")
            }
            var at = 0
            for (point, rows) in zip(shard.points, shard.rows) {
                perPoint[point] = Array(lines[at..<(at + rows)])
                at += rows
            }
        }
        var output = header
        for rows in perPoint {
            for line in rows ?? [] {
                output += line
                output += "\n"
            }
        }
        var merged = manifest
        merged.shard = nil
        merged.commandLine = commandLine
        merged.mergedFrom = (0..<count).map { byIndex[$0]!.manifest.commandLine }
        return (output, merged)
    }
}
