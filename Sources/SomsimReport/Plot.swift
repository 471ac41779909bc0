/// `somsim plot`: self-contained SVG charts of sweep results (lines) and `compare` CSV output
/// (stacked bars), written by hand: no dependency, the same bytes for the same data.
public enum Plot {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// Rows of a CSV (header first) or JSON lines file, as column name to text.
    public struct Table: Equatable, Sendable {
        public var columns: [String]
        public var rows: [[String: String]]

        public init(columns: [String], rows: [[String: String]]) {
            self.columns = columns
            self.rows = rows
        }

        /// Reads CSV with a header (fields without quotes, as somsim writes them) or JSON lines.
        public init(parsing text: String) throws(Failure) {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            guard let first = lines.first else { throw Failure("the file is empty; plot reads the CSV or JSON lines of sweep or compare") }
            if first.hasPrefix("{") {
                var columns: [String] = []
                var rows: [[String: String]] = []
                for (n, line) in lines.enumerated() {
                    let value: JSONValue
                    do { value = try JSONValue.parse(String(line)) } catch { throw Failure("line \(n + 1): not JSON: \(error)") }
                    guard case .object(let fields) = value else { throw Failure("line \(n + 1): not a JSON object") }
                    var row: [String: String] = [:]
                    for (key, v) in fields {
                        if !columns.contains(key) { columns.append(key) }
                        switch v {
                        case .string(let s): row[key] = s
                        default: row[key] = v.serialized(pretty: false)
                        }
                    }
                    rows.append(row)
                }
                self.init(columns: columns, rows: rows)
                return
            }
            let columns = first.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            var rows: [[String: String]] = []
            for (n, line) in lines.dropFirst().enumerated() {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard fields.count == columns.count else { throw Failure("line \(n + 2): \(fields.count) fields, the header has \(columns.count)") }
                rows.append(Dictionary(uniqueKeysWithValues: zip(columns, fields)))
            }
            self.init(columns: columns, rows: rows)
        }

        /// Whether this is `compare --format csv` output (label,scheme,metric,value, then the
        /// columns added since, as `measure_index`).
        public var isCompare: Bool { columns.starts(with: ["label", "scheme", "metric", "value"]) }
    }

    /// One line of a line chart, or one stack of the bars.
    public struct Series: Equatable, Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
        public static func == (a: Series, b: Series) -> Bool {
            a.name == b.name && a.points.count == b.points.count && zip(a.points, b.points).allSatisfy { $0.x == $1.x && $0.y == $1.y }
        }
    }

    // MARK: Selecting the data

    /// The series of a line chart from sweep rows: metric `y` of `process` (system rows without
    /// one) at measure `measure` (default: the last measure), against column `x`, one series
    /// per value of column `by`. Series are in ascending order of their value (numeric when all
    /// are numbers), points in ascending x.
    public static func lineSeries(_ table: Table, x: String, y: String, by: String?, process: String?, measure: String?) throws(Failure) -> [Series] {
        for column in [x] + (by.map { [$0] } ?? []) where !table.columns.contains(column) {
            throw Failure("no column '\(column)'; the columns are: \(table.columns.joined(separator: ", "))")
        }
        guard table.columns.contains("metric"), table.columns.contains("value") else {
            throw Failure("not a sweep result: no metric and value columns (the columns are: \(table.columns.joined(separator: ", ")))")
        }
        var rows = table.rows.filter { $0["metric"] == y }
        if rows.isEmpty {
            let metrics = uniqueInOrder(table.rows.compactMap { $0["metric"] })
            throw Failure("no metric '\(y)'; the metrics are: \(metrics.joined(separator: ", "))")
        }
        rows = rows.filter { ($0["process"] ?? "") == (process ?? "") }
        if rows.isEmpty {
            throw Failure(process == nil ? "metric '\(y)' has no system row; give --process P" : "no rows of process '\(process!)' for metric '\(y)'")
        }
        // The measure: the last measure_index (with that label, when given).
        let candidates = rows.filter { measure == nil || $0["label"] == measure }
        guard let index = candidates.compactMap({ $0["measure_index"].flatMap { Int($0) } }).max() else {
            let labels = uniqueInOrder(rows.compactMap { $0["label"] })
            throw Failure("no measure '\(measure ?? "")'; the labels are: \(labels.joined(separator: ", "))")
        }
        rows = rows.filter { $0["measure_index"] == String(index) }
        var groups: [String: [(x: Double, y: Double)]] = [:]
        var seen: Set<String> = []
        for row in rows {
            guard let xv = row[x].flatMap({ Double($0) }) else { throw Failure("column '\(x)' holds '\(row[x] ?? "")', not a number; --x takes a numeric column") }
            guard let yv = row["value"].flatMap({ Double($0) }) else { throw Failure("value '\(row["value"] ?? "")' is not a number") }
            let key = by.map { row[$0] ?? "" } ?? y
            guard seen.insert("\(key)\u{0}\(xv)").inserted else {
                throw Failure("several rows for \(x)=\(row[x]!)\(by.map { " and \($0)=\(key)" } ?? ""); another column varies too: give it as --by")
            }
            groups[key, default: []].append((xv, yv))
        }
        let names = groups.keys.sorted { a, b in
            if let da = Double(a), let db = Double(b), da != db { return da < db }
            return a < b
        }
        return names.map { name in Series(name: by.map { "\($0)=\(name)" } ?? name, points: groups[name]!.sorted { $0.x < $1.x }) }
    }

    /// The stacks of a bar chart from `compare` rows: per category (scheme, in file order) the
    /// value of each metric in `metrics` at measure `measure` (default: the last label). Series
    /// k holds metric k, its point i (x = i) the value for category i.
    public static func barSeries(_ table: Table, metrics: [String], measure: String?) throws(Failure) -> (categories: [String], series: [Series]) {
        let labels = uniqueInOrder(table.rows.compactMap { $0["label"] })
        guard let label = measure ?? labels.last else { throw Failure("the compare output has no rows") }
        guard labels.contains(label) else { throw Failure("no measure '\(label)'; the labels are: \(labels.joined(separator: ", "))") }
        let rows = table.rows.filter { $0["label"] == label }
        // Schemes with every metric asked for (compare also writes rows of the som pool and the
        // TLB, which have metrics of their own).
        let categories = uniqueInOrder(rows.compactMap { $0["scheme"] }).filter { scheme in
            metrics.allSatisfy { metric in rows.contains { $0["scheme"] == scheme && $0["metric"] == metric } }
        }
        guard !categories.isEmpty else {
            throw Failure("no scheme has every metric of \(metrics.joined(separator: ",")); the metrics are: \(uniqueInOrder(rows.compactMap { $0["metric"] }).joined(separator: ", "))")
        }
        var series: [Series] = []
        for metric in metrics {
            var points: [(x: Double, y: Double)] = []
            for (i, category) in categories.enumerated() {
                guard let row = rows.last(where: { $0["scheme"] == category && $0["metric"] == metric }), let v = row["value"].flatMap({ Double($0) }) else {
                    throw Failure("no metric '\(metric)' for scheme '\(category)'; the metrics are: \(uniqueInOrder(rows.compactMap { $0["metric"] }).joined(separator: ", "))")
                }
                points.append((Double(i), v))
            }
            series.append(Series(name: metric, points: points))
        }
        return (categories, series)
    }

    static func uniqueInOrder(_ items: [String]) -> [String] {
        var seen: Set<String> = []
        return items.filter { seen.insert($0).inserted }
    }

    // MARK: Axes

    /// An axis: its range and the ticks on it, all multiples of `step`.
    public struct Axis: Equatable, Sendable {
        public var low: Double
        public var high: Double
        public var ticks: [Double]
        /// For bytes: the IEC unit the tick labels use (1, 1024, 1024², …) and its suffix.
        public var unit: Double
        public var suffix: String

        /// Where `v` falls on a line of `length` pixels (0 at `low`).
        public func position(_ v: Double, length: Double) -> Double {
            high == low ? 0 : (v - low) / (high - low) * length
        }

        public func label(_ v: Double) -> String { Plot.number(v / unit) + suffix }
    }

    /// A "nice" step for about `count` intervals over `span`: 1, 2 or 5 times a power of ten.
    public static func niceStep(_ span: Double, count: Int = 5) -> Double {
        guard span > 0, span.isFinite else { return 1 }
        let raw = span / Double(count)
        var power = 1.0
        while power * 10 <= raw { power *= 10 }
        while power > raw { power /= 10 }
        let f = raw / power
        let nice: Double = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10
        return nice * power
    }

    /// An axis from `low` to `high` extended to whole steps; with `bytes`, steps are nice in the
    /// IEC unit that suits the largest value (KiB, MiB, GiB, TiB) and labels carry the suffix.
    public static func axis(low: Double, high: Double, bytes: Bool, fromZero: Bool) -> Axis {
        var lo = fromZero ? min(0, low) : low
        var hi = high
        if hi <= lo { hi = lo + 1 }
        var unit = 1.0
        var suffix = ""
        if bytes {
            let units = [("KiB", 1024.0), ("MiB", 1048576.0), ("GiB", 1073741824.0), ("TiB", 1099511627776.0)]
            for (s, u) in units where max(abs(hi), abs(lo)) >= u {
                unit = u
                suffix = " " + s
            }
        }
        let step = niceStep((hi - lo) / unit) * unit
        lo = (lo / step).rounded(.down) * step
        hi = (hi / step).rounded(.up) * step
        var ticks: [Double] = []
        var k = 0.0
        while lo + k * step <= hi + step / 1e9 {
            ticks.append(lo + k * step)
            k += 1
        }
        return Axis(low: lo, high: hi, ticks: ticks, unit: unit, suffix: suffix)
    }

    /// A number as a tick label: no trailing zeros, at most 6 decimals (`2`, `2.5`, `0.125`).
    public static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        var s = fixed(v, 6)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// `v` with `digits` decimals, rounded half away from zero (coordinates use 2).
    public static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(v) * scale).rounded()
        let whole = Int64(scaled / scale)
        let fraction = Int64(scaled - Double(whole) * scale)
        var f = String(fraction)
        while f.count < digits { f = "0" + f }
        let sign = v < 0 && scaled != 0 ? "-" : ""
        return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(f)"
    }

    // MARK: SVG

    /// Where the plot area lies in the picture.
    public struct Frame: Equatable, Sendable {
        public var width = 720.0
        public var height = 440.0
        public var left = 90.0
        public var right = 180.0
        public var top = 50.0
        public var bottom = 60.0
        public init() {}
        public var plotWidth: Double { width - left - right }
        public var plotHeight: Double { height - top - bottom }
    }

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Whether a metric counts bytes (its axis gets IEC units).
    public static func isBytes(_ metric: String) -> Bool { metric.hasSuffix("bytes") }

    /// A line chart: one polyline (class `series`, `data-series` its name) per series.
    public static func lineChart(_ series: [Series], title: String, xLabel: String, yLabel: String, yBytes: Bool, frame: Frame = Frame()) -> String {
        let xs = series.flatMap { $0.points.map(\.x) }
        let ys = series.flatMap { $0.points.map(\.y) }
        let xAxis = axis(low: xs.min() ?? 0, high: xs.max() ?? 1, bytes: false, fromZero: false)
        let yAxis = axis(low: ys.min() ?? 0, high: ys.max() ?? 1, bytes: yBytes, fromZero: true)
        var out = open(frame, title: title)
        out += axes(frame, x: xAxis, y: yAxis, xLabel: xLabel, yLabel: yLabel, categories: nil)
        for (k, s) in series.enumerated() {
            let color = palette[k % palette.count]
            let points = s.points.map { p in
                "\(fixed(frame.left + xAxis.position(p.x, length: frame.plotWidth), 2)),\(fixed(frame.top + frame.plotHeight - yAxis.position(p.y, length: frame.plotHeight), 2))"
            }
            out += "<polyline class=\"series\" data-series=\"\(escape(s.name))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
        }
        out += legend(frame, names: series.map(\.name))
        return out + "</svg>\n"
    }

    /// Stacked bars: per category a bar of the series' values stacked in series order; each
    /// piece a rect of class `bar` with `data-category`, `data-stack` and `data-value`.
    public static func stackedBars(categories: [String], series: [Series], title: String, xLabel: String, yLabel: String, yBytes: Bool, frame: Frame = Frame()) -> String {
        let totals = categories.indices.map { i in series.reduce(0.0) { $0 + $1.points[i].y } }
        let yAxis = axis(low: 0, high: totals.max() ?? 1, bytes: yBytes, fromZero: true)
        var out = open(frame, title: title)
        out += axes(frame, x: nil, y: yAxis, xLabel: xLabel, yLabel: yLabel, categories: categories)
        let slot = frame.plotWidth / Double(max(1, categories.count))
        for (i, category) in categories.enumerated() {
            var base = 0.0
            for (k, s) in series.enumerated() {
                let v = s.points[i].y
                let y0 = frame.top + frame.plotHeight - yAxis.position(base, length: frame.plotHeight)
                let y1 = frame.top + frame.plotHeight - yAxis.position(base + v, length: frame.plotHeight)
                out += "<rect class=\"bar\" data-category=\"\(escape(category))\" data-stack=\"\(escape(s.name))\" data-value=\"\(number(v))\" x=\"\(fixed(frame.left + slot * Double(i) + slot * 0.15, 2))\" y=\"\(fixed(y1, 2))\" width=\"\(fixed(slot * 0.7, 2))\" height=\"\(fixed(y0 - y1, 2))\" fill=\"\(palette[k % palette.count])\"/>\n"
                base += v
            }
        }
        out += legend(frame, names: series.map(\.name))
        return out + "</svg>\n"
    }

    static func open(_ frame: Frame, title: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(number(frame.width))" height="\(number(frame.height))" viewBox="0 0 \(number(frame.width)) \(number(frame.height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text class="title" x="\(number(frame.width / 2))" y="24" text-anchor="middle" font-size="15">\(escape(title))</text>

        """
    }

    static func axes(_ frame: Frame, x: Axis?, y: Axis, xLabel: String, yLabel: String, categories: [String]?) -> String {
        let bottom = frame.top + frame.plotHeight
        let right = frame.left + frame.plotWidth
        var out = "<g class=\"axes\" stroke=\"black\">\n"
        out += "<line x1=\"\(number(frame.left))\" y1=\"\(number(bottom))\" x2=\"\(number(right))\" y2=\"\(number(bottom))\"/>\n"
        out += "<line x1=\"\(number(frame.left))\" y1=\"\(number(frame.top))\" x2=\"\(number(frame.left))\" y2=\"\(number(bottom))\"/>\n"
        out += "</g>\n"
        for t in y.ticks {
            let py = fixed(bottom - y.position(t, length: frame.plotHeight), 2)
            out += "<line class=\"grid\" x1=\"\(number(frame.left))\" y1=\"\(py)\" x2=\"\(number(right))\" y2=\"\(py)\" stroke=\"#dddddd\"/>\n"
            out += "<text class=\"ytick\" data-value=\"\(number(t))\" x=\"\(number(frame.left - 6))\" y=\"\(py)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(escape(y.label(t)))</text>\n"
        }
        if let x {
            for t in x.ticks {
                let px = fixed(frame.left + x.position(t, length: frame.plotWidth), 2)
                out += "<line x1=\"\(px)\" y1=\"\(number(bottom))\" x2=\"\(px)\" y2=\"\(number(bottom + 5))\" stroke=\"black\"/>\n"
                out += "<text class=\"xtick\" data-value=\"\(number(t))\" x=\"\(px)\" y=\"\(number(bottom + 18))\" text-anchor=\"middle\">\(escape(x.label(t)))</text>\n"
            }
        }
        if let categories {
            let slot = frame.plotWidth / Double(max(1, categories.count))
            for (i, c) in categories.enumerated() {
                out += "<text class=\"xtick\" x=\"\(fixed(frame.left + slot * (Double(i) + 0.5), 2))\" y=\"\(number(bottom + 18))\" text-anchor=\"middle\">\(escape(c))</text>\n"
            }
        }
        out += "<text class=\"xlabel\" x=\"\(number(frame.left + frame.plotWidth / 2))\" y=\"\(number(frame.height - 12))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        out += "<text class=\"ylabel\" transform=\"translate(16 \(number(frame.top + frame.plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        return out
    }

    static func legend(_ frame: Frame, names: [String]) -> String {
        var out = "<g class=\"legend\">\n"
        let x = frame.left + frame.plotWidth + 16
        for (k, name) in names.enumerated() {
            let y = frame.top + 8 + Double(k) * 20
            out += "<rect x=\"\(number(x))\" y=\"\(number(y - 6))\" width=\"12\" height=\"12\" fill=\"\(palette[k % palette.count])\"/>\n"
            out += "<text class=\"legend\" x=\"\(number(x + 18))\" y=\"\(number(y))\" dominant-baseline=\"middle\">\(escape(name))</text>\n"
        }
        return out + "</g>\n"
    }
}
