// A minimal timing harness for the benchmark workloads, independent of the benchmark plugin.
//
//   swift run --scratch-path ../.build-bench -c release somsim-bench-timing [NAME ...] [--runs N]
//   swift run --scratch-path ../.build-bench -c release somsim-bench-timing --file PATH.somw
//
// `--file` times any workload file instead of the built-in cases (handy for profiling a smaller
// variant of a case under `valgrind --tool=callgrind`).
// Prints the best and median wall-clock time of the simulation per case (parsing and any
// set-up statements excluded).
import Foundation
import SomsimBenchmarkWorkloads
import SomsimModel
import SomsimWorkload

var names: [String] = []
var runs = 3
var file: BenchmarkWorkloads.Case? = nil
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    if argument == "--runs", let value = arguments.popFirst(), let n = Int(value), n > 0 {
        runs = n
    } else if argument == "--file", let path = arguments.popFirst() {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let workload = try WorkloadParser.parse(text, fileName: path)
        file = BenchmarkWorkloads.Case(name: path, workload: workload, distinctTouches: 0, measuredFrom: 0)
    } else {
        names.append(argument)
    }
}

// Only the cases asked for are parsed (see `BenchmarkWorkloads.cases(named:)`).
let cases = file.map { [$0] } ?? BenchmarkWorkloads.cases(named: names)
let clock = ContinuousClock()
for benchmarkCase in cases where file != nil || names.isEmpty || names.contains(benchmarkCase.name) {
    var times: [Duration] = []
    var measures = 0
    for _ in 0..<runs {
        var simulator = benchmarkCase.prepare()
        let start = clock.now
        let report = benchmarkCase.finish(&simulator)
        times.append(clock.now - start)
        measures = report.measures.count
    }
    times.sort()
    let best = times[0]
    let median = times[times.count / 2]
    let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) * 1e-18
    var line = "\(benchmarkCase.name): best \(best), median \(median) over \(runs) run(s), \(measures) measure(s)"
    if benchmarkCase.distinctTouches > 0 {
        let rate = Double(benchmarkCase.distinctTouches) / seconds
        line += ", \(Int(rate)) distinct touches/s"
    }
    print(line)
}
