import SomsimModel
import SomsimWorkload

/// What the real kernel showed at one `measure` point, with the report's field names.
public struct MeasuredMeasure: Equatable, Sendable {
    public var label: String
    /// Every process of the workload, in creation order (the model's order).
    public var processes: [ProcessMetrics]
    public var system: SystemMetrics
    /// Kernel counters that are reported but not checked (system-wide, shared with every other
    /// program on the machine): name and value, in order.
    public var counters: [Counter]

    /// A named kernel counter.
    public struct Counter: Equatable, Sendable {
        public var name: String
        public var value: UInt64
        public init(name: String, value: UInt64) {
            self.name = name
            self.value = value
        }
    }

    public init(label: String, processes: [ProcessMetrics], system: SystemMetrics, counters: [Counter] = []) {
        self.label = label
        self.processes = processes
        self.system = system
        self.counters = counters
    }
}

/// One predicted-versus-measured comparison.
public struct Check: Equatable, Sendable {
    /// A value compared: a count, or a name (an errno, a signal list).
    public enum Value: Equatable, Sendable, CustomStringConvertible {
        case count(UInt64)
        case text(String)

        public var description: String {
            switch self {
            case .count(let n): return String(n)
            case .text(let s): return s
            }
        }
    }

    /// The process the metric belongs to; nil for system metrics.
    public var process: String?
    public var metric: String
    public var predicted: Value
    public var measured: Value
    /// The largest |measured − predicted| accepted (0 for names: they must be equal).
    public var tolerance: UInt64
    public var ok: Bool

    public init(process: String?, metric: String, predicted: Value, measured: Value, tolerance: UInt64) {
        self.process = process
        self.metric = metric
        self.predicted = predicted
        self.measured = measured
        self.tolerance = tolerance
        switch (predicted, measured) {
        case (.count(let p), .count(let m)): ok = (p > m ? p - m : m - p) <= tolerance
        default: ok = predicted == measured
        }
    }

    /// measured − predicted, for counts.
    public var difference: Int64? {
        guard case .count(let p) = predicted, case .count(let m) = measured else { return nil }
        return m >= p ? Int64(clamping: m - p) : -Int64(clamping: p - m)
    }
}

/// The tolerance of each checked metric, with the reason it has that value: the report's fields
/// (their descriptors in `ReportFields`) and the checks that are not report fields.
///
/// Every metric is measured in a way that is exact for the workload's own memory (see
/// docs/validation.md), so every tolerance is zero. A non-zero tolerance must come with the
/// reason the measurement cannot be exact; none is needed today.
public enum Tolerances {
    public struct Entry: Sendable {
        public var metric: String
        public var tolerance: UInt64
        /// How the value is measured, and why that tolerance.
        public var reason: String
    }

    /// Checks that are not fields of the report: whether a process lives, its signals, the
    /// machine's memmap and the errno of refused calls.
    public static let checks: [Entry] = [
        Entry(metric: "alive", tolerance: 0, reason: "whether the agent process still exists (pidfd)"),
        Entry(metric: "signals", tolerance: 0, reason: "the signal the agent's SIGBUS/SIGSEGV handler reported before it died of it"),
        Entry(metric: "memmap_pages_at_machine_ram", tolerance: 0, reason: "nr_memmap_pages + nr_memmap_boot_pages with empty pools against the model run with the machine's present memory"),
        Entry(metric: "errno", tolerance: 0, reason: "the errno of the real call, for each statement the model says the kernel refuses (and any real call that failed)"),
    ]

    /// Every checked metric: the non-field checks, then the process and the system fields. A
    /// system field named like a process field is `NAME(system)`.
    public static let table: [Entry] =
        checks
        + ReportFields.process.map { Entry(metric: $0.name, tolerance: $0.tolerance, reason: $0.measuredAs) }
        + ReportFields.system.map { metric in
            let clashes = ReportFields.process.contains { $0.name == metric.name }
            return Entry(metric: clashes ? metric.name + "(system)" : metric.name, tolerance: metric.tolerance, reason: metric.measuredAs)
        }

    /// The tolerance of a metric; `system` distinguishes the system-wide page_table_bytes.
    public static func tolerance(for metric: String, system: Bool = false) -> UInt64 {
        let key = system && metric == "page_table_bytes" ? "page_table_bytes(system)" : metric
        return table.first { $0.metric == key }?.tolerance ?? 0
    }
}

/// A workload run by the simulator and on the real kernel, side by side.
public struct ValidationReport: Equatable, Sendable {
    /// What the simulator predicted (its measures include the final "end").
    public var predicted: Report
    /// What the kernel showed, one per predicted measure, in the same order.
    public var measured: [MeasuredMeasure]
    /// The checks of each measure, in the same order.
    public var checks: [[Check]]
    /// Checks that belong to the run, not to a measure: refused calls, the machine's memmap.
    public var runChecks: [Check]
    /// What the reader must know to read the numbers (RAM that could not be set, …).
    public var notes: [String]

    public init(predicted: Report, measured: [MeasuredMeasure], runChecks: [Check] = [], notes: [String] = []) {
        self.predicted = predicted
        self.measured = measured
        self.runChecks = runChecks
        self.notes = notes
        self.checks = zip(predicted.measures, measured).map { Self.compare($0, $1) }
    }

    /// True when every check is within its tolerance.
    public var passed: Bool { failures.isEmpty }

    public var failures: [Check] { (checks.flatMap { $0 } + runChecks).filter { !$0.ok } }

    /// Compares one measure: every process metric, then every system metric.
    public static func compare(_ predicted: Measure, _ measured: MeasuredMeasure) -> [Check] {
        var checks: [Check] = []
        for p in predicted.processes {
            guard let m = measured.processes.first(where: { $0.name == p.name }) else {
                checks.append(Check(process: p.name, metric: "alive", predicted: .count(p.alive ? 1 : 0), measured: .text("missing"), tolerance: 0))
                continue
            }
            checks.append(Check(process: p.name, metric: "alive", predicted: .count(p.alive ? 1 : 0), measured: .count(m.alive ? 1 : 0), tolerance: 0))
            checks.append(Check(
                process: p.name, metric: "signals", predicted: .text(p.signals.map(\.rawValue).joined(separator: " ")),
                measured: .text(m.signals.map(\.rawValue).joined(separator: " ")), tolerance: 0))
            for (pf, mf) in zip(ReportFields.fields(of: p), ReportFields.fields(of: m)) {
                checks.append(Check(process: p.name, metric: pf.name, predicted: .count(pf.value), measured: .count(mf.value), tolerance: pf.tolerance))
            }
        }
        for (pf, mf) in zip(ReportFields.fields(of: predicted.system), ReportFields.fields(of: measured.system)) {
            checks.append(Check(process: nil, metric: pf.name, predicted: .count(pf.value), measured: .count(mf.value), tolerance: pf.tolerance))
        }
        return checks
    }
}
