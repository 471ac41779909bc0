import ArgumentParser
import SomsimReport

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw a sweep result as a line chart, or compare CSV output as stacked bars, in SVG.",
        discussion: """
            A sweep result (CSV or JSON lines from `somsim sweep`) gives a line chart of metric \
            --y against the varied column --x, at the last measure (or --measure LABEL), for the \
            system row (or --process P), one line per value of --by. `compare --format csv` output \
            gives stacked bars per scheme of the metrics --y (comma-separated; default \
            metadata_bytes,page_table_bytes,kernel_state_bytes) at the last measure (or --measure). \
            Byte metrics are labelled in KiB, MiB, GiB. The SVG is self-contained.

            Examples:
              somsim plot workers.csv --x workers --y anon_bytes -o workers.svg
              somsim plot sweep.csv --x workers --y rss_bytes --process master --by thp -o rss.svg
              somsim compare w.somw --format csv > cmp.csv && somsim plot cmp.csv -o cmp.svg
            """
    )

    @Argument(help: "A sweep result (.csv or .jsonl) or compare --format csv output.")
    var result: String

    @Option(help: "The varied column on the x axis (sweep results).")
    var x: String?

    @Option(help: "The metric on the y axis (sweep); the stacked metrics, comma-separated (compare).")
    var y: String?

    @Option(help: "A column whose values each get a line (sweep results).")
    var by: String?

    @Option(help: "The process whose metric is drawn (default: the system rows).")
    var process: String?

    @Option(help: "The measure label (default: the last measure).")
    var measure: String?

    @Option(help: "The chart's title (default: from the metric and file).")
    var title: String?

    @Option(name: .shortAndLong, help: "The SVG file to write.")
    var output: String

    func run() throws {
        let text = String(decoding: try InputFile.readOrExit(result), as: UTF8.self)
        let svg: String
        do {
            let table = try Plot.Table(parsing: text)
            if table.isCompare {
                let metrics = (y ?? "metadata_bytes,page_table_bytes,kernel_state_bytes").split(separator: ",").map(String.init)
                let (categories, series) = try Plot.barSeries(table, metrics: metrics, measure: measure)
                svg = Plot.stackedBars(
                    categories: categories, series: series, title: title ?? "\(metrics.joined(separator: " + ")) per scheme (\(InputFile.displayName(result)))",
                    xLabel: "scheme", yLabel: metrics.allSatisfy(Plot.isBytes) ? "bytes" : "value", yBytes: metrics.allSatisfy(Plot.isBytes))
            } else {
                guard let x, let y else {
                    plotError("somsim plot: error: a sweep result needs --x COLUMN and --y METRIC")
                    throw ExitCode(64)
                }
                let series = try Plot.lineSeries(table, x: x, y: y, by: by, process: process, measure: measure)
                svg = Plot.lineChart(
                    series, title: title ?? "\(y)\(process.map { " of \($0)" } ?? "") by \(x) (\(InputFile.displayName(result)))",
                    xLabel: x, yLabel: y, yBytes: Plot.isBytes(y))
            }
        } catch let error as Plot.Failure {
            plotError("\(InputFile.displayName(result)): error: \(error)")
            throw ExitCode(65)
        }
        try SweepFiles.write(svg, to: output)
    }
}

private func plotError(_ message: String) {
    writeStandardError("\(message)\n")
}
