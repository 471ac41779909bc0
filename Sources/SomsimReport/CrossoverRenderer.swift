import SomsimModel

/// Renders `somsim generate alloc-mix --crossover`: the sweep of small/large mixes and the share
/// of small allocations at which a memdesc scheme stops saving over struct page
/// (`MemdescCrossover`).
public enum CrossoverRenderer {
    /// A sweep and its crossover, with the sizes as the user wrote them (the Markdown repeats them).
    public struct Sweep: Sendable {
        public var scheme: SchemeName
        public var smallBytes: UInt64
        public var largeBytes: UInt64
        public var ramBytes: UInt64
        /// The sizes as given on the command line: `4K`, `2M`, `1G`.
        public var smallText: String
        public var largeText: String
        public var ramText: String
        public var rows: [MemdescCrossover.Row]
        /// The small share, percent, at which the scheme stops saving; nil when there is none.
        public var crossover: Double?

        public init(
            scheme: SchemeName, smallBytes: UInt64, largeBytes: UInt64, ramBytes: UInt64, smallText: String, largeText: String,
            ramText: String, rows: [MemdescCrossover.Row], crossover: Double?
        ) {
            self.scheme = scheme
            self.smallBytes = smallBytes
            self.largeBytes = largeBytes
            self.ramBytes = ramBytes
            self.smallText = smallText
            self.largeText = largeText
            self.ramText = ramText
            self.rows = rows
            self.crossover = crossover
        }
    }

    public static func render(_ sweep: Sweep, format: ReportFormat) -> String {
        switch format {
        case .md: return markdown(sweep)
        case .csv: return csv(sweep)
        case .json: return json(sweep).serialized() + "\n"
        }
    }

    /// A title, the sweep's table and the crossover in a sentence.
    public static func markdown(_ s: Sweep) -> String {
        let name = s.scheme.rawValue
        var out = "# \(name) against struct page: \(s.smallText) and \(s.largeText) allocations filling \(s.ramText) of RAM\n\n"
        out += ReportRenderer.table(
            header: ["\(s.smallText) share", "struct-page", name, "saving", "\(name) % of RAM"],
            rows: s.rows.map { r in
                [
                    "\(twoDecimals(r.smallPercent))%", String(r.structPageBytes), String(r.memdescBytes), String(r.savingBytes),
                    ReportRenderer.percent(Double(r.memdescBytes) / Double(r.ramBytes)),
                ]
            })
        out += "\n" + sentence(s)
        return out
    }

    /// The crossover in words, one line: what the Markdown ends with and `--summary` prints.
    static func sentence(_ s: Sweep) -> String {
        let answer = s.crossover.map { twoDecimals($0) + "%" } ?? "none"
        return "Crossover: \(s.scheme.rawValue) stops saving when \(answer) of the memory is in \(s.smallText) allocations (the rest \(s.largeText)).\n"
    }

    /// One tidy row per mix and nothing else: every column is numeric (the crossover is
    /// `summary`'s, in a file of its own).
    public static func csv(_ s: Sweep) -> String {
        var out = "small_percent,struct_page_bytes,memdesc_bytes,saving_bytes\n"
        for r in s.rows { out += "\(r.smallPercent),\(r.structPageBytes),\(r.memdescBytes),\(r.savingBytes)\n" }
        return out
    }

    /// `generate alloc-mix --crossover --summary`: the crossover alone, without the sweep. CSV is
    /// a header and one row `scheme,small_bytes,large_bytes,ram_bytes,crossover_small_percent`
    /// (the share empty when there is none), JSON one object with the same keys, Markdown the
    /// sentence.
    public static func summary(_ s: Sweep, format: ReportFormat) -> String {
        switch format {
        case .md: return sentence(s)
        case .csv:
            return "scheme,small_bytes,large_bytes,ram_bytes,crossover_small_percent\n"
                + "\(s.scheme.rawValue),\(s.smallBytes),\(s.largeBytes),\(s.ramBytes),\(s.crossover.map { String($0) } ?? "")\n"
        case .json:
            return JSONValue.object([
                ("scheme", .string(s.scheme.rawValue)), ("small_bytes", .unsigned(s.smallBytes)), ("large_bytes", .unsigned(s.largeBytes)),
                ("ram_bytes", .unsigned(s.ramBytes)), ("crossover_small_percent", s.crossover.map { .number($0) } ?? .null),
            ]).serialized() + "\n"
        }
    }

    public static func json(_ s: Sweep) -> JSONValue {
        .object([
            ("small_bytes", .unsigned(s.smallBytes)), ("large_bytes", .unsigned(s.largeBytes)), ("ram_bytes", .unsigned(s.ramBytes)),
            ("scheme", .string(s.scheme.rawValue)),
            (
                "sweep",
                .array(
                    s.rows.map { r in
                        .object([
                            ("small_percent", .number(r.smallPercent)), ("struct_page_bytes", .unsigned(r.structPageBytes)),
                            ("memdesc_bytes", .unsigned(r.memdescBytes)), ("saving_bytes", .integer(r.savingBytes)),
                        ])
                    })
            ),
            ("crossover_small_percent", s.crossover.map { .number($0) } ?? .null),
        ])
    }

    /// A percentage with two decimals: `12.50`.
    static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int64((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
