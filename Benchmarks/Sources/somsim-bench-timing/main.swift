// A minimal timing harness for the benchmark workloads, independent of the benchmark plugin.
//
//   swift run --scratch-path ../.build-bench -c release somsim-bench-timing [NAME ...] [--runs N] [--measure-threads N]
//   swift run --scratch-path ../.build-bench -c release somsim-bench-timing --file PATH.somw
//
// `--file` times any workload file instead of the built-in cases (handy for profiling a smaller
// variant of a case under `valgrind --tool=callgrind`).
// Prints the best and median wall-clock time of the simulation per case (parsing and any
// set-up statements excluded), and where the best run's time went: the statements, and the
// final measure (with `--file`, also the time the file took to parse).
import Foundation
import SomsimBenchmarkWorkloads
import SomsimModel
import SomsimWorkload

// As somsim does at its start (results never depend on it; see `HeapTuning`).
HeapTuning.keepFreedMemory()
var names: [String] = []
var runs = 3
// Threads the final measure may use (default: every core, as somsim does).
var measureThreads: Int? = nil
// The built-in cases are parsed only when no file is given, and then only those named
// (`BenchmarkWorkloads.cases(named:)`: AllocMix64G alone is 617,000 statements to parse).
var fileCase: BenchmarkWorkloads.Case? = nil
var parseTime: Duration? = nil
let clock = ContinuousClock()
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    if argument == "--runs", let value = arguments.popFirst(), let n = Int(value), n > 0 {
        runs = n
    } else if argument == "--measure-threads", let value = arguments.popFirst(), let n = Int(value), n > 0 {
        measureThreads = n
    } else if argument == "--file", let path = arguments.popFirst() {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let start = clock.now
        let workload = try WorkloadParser.parse(text, fileName: path)
        parseTime = clock.now - start
        fileCase = BenchmarkWorkloads.Case(name: path, workload: workload, distinctTouches: 0, measuredFrom: 0)
    } else {
        names.append(argument)
    }
}
let cases = fileCase.map { [$0] } ?? BenchmarkWorkloads.cases(named: names)

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

for benchmarkCase in cases {
    // (total, statements, final measure) per run. The run is what `Case.finish` does, with a
    // clock reading between its statements and its final measure.
    var times: [(total: Duration, statements: Duration, measure: Duration)] = []
    // Random touches that took a sample drawn ahead on the second core, and that drew their own
    // (`Simulator.samplesTaken`), summed over the runs.
    var samples = (taken: 0, drawn: 0)
    // Fresh runs that took their frames as the second core built them (`Simulator.drawnRunsTaken`).
    var drawnRuns = 0
    var measures = 0
    for _ in 0..<runs {
        var simulator = benchmarkCase.prepare()
        if let measureThreads { simulator.measureThreads = measureThreads }
        let start = clock.now
        // As `Simulator.run` does first; part of the statements' time (see `Case.finish`).
        if benchmarkCase.measuredFrom == 0 { simulator.reserveRoom(for: benchmarkCase.workload) }
        let statements = benchmarkCase.workload.statements
        simulator.apply(contentsOf: statements, range: benchmarkCase.measuredFrom..<statements.count)
        let statementsDone = clock.now
        simulator.measure(label: "end")
        let report = simulator.report
        let end = clock.now
        times.append((end - start, statementsDone - start, end - statementsDone))
        samples = (samples.taken + simulator.samplesTaken.taken, samples.drawn + simulator.samplesTaken.drawn)
        drawnRuns += simulator.drawnRunsTaken
        measures = report.measures.count
    }
    times.sort { $0.total < $1.total }
    let best = times[0]
    let median = times[times.count / 2].total
    var line = "\(benchmarkCase.name): best \(best.total), median \(median) over \(runs) run(s), \(measures) measure(s)"
    if benchmarkCase.distinctTouches > 0 {
        let rate = Double(benchmarkCase.distinctTouches) / seconds(best.total)
        line += ", \(Int(rate)) distinct touches/s"
    }
    line += "; best run: statements \(seconds(best.statements)) s, final measure \(seconds(best.measure)) s"
    if let parseTime { line += "; parse \(seconds(parseTime)) s" }
    if samples != (0, 0) { line += "; samples drawn ahead taken by \(samples.taken) random touches, drawn by \(samples.drawn)" }
    if drawnRuns > 0 { line += "; fresh runs built ahead taken by \(drawnRuns) writes" }
    print(line)
}
