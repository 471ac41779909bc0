import Benchmark
import SomsimBenchmarkWorkloads
import SomsimModel

/// Distinct pages faulted per second by the measured random touch (higher is better).
private let distinctTouchesPerSecond = BenchmarkMetric.custom("Distinct touches (#/s)", polarity: .prefersLarger)

let benchmarks: @Sendable () -> Void = {
    // As somsim does at its start (results never depend on it; see `HeapTuning`).
    HeapTuning.keepFreedMemory()
    // Each case replays a whole workload; a few iterations give a stable figure while the whole
    // suite stays within a couple of minutes on a 2-core machine.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock],
        warmupIterations: 1,
        maxDuration: .seconds(5),
        maxIterations: 5
    )

    for benchmarkCase in BenchmarkWorkloads.all {
        var configuration = Benchmark.defaultConfiguration
        if benchmarkCase.distinctTouches > 0 {
            configuration.metrics = [.wallClock, distinctTouchesPerSecond]
        }
        Benchmark(benchmarkCase.name, configuration: configuration) { benchmark in
            // The workload was parsed once, and set-up statements are applied here, outside the
            // measurement: only the simulation of the measured statements is timed.
            var simulator = benchmarkCase.prepare()
            let clock = ContinuousClock()
            benchmark.startMeasurement()
            let start = clock.now
            let report = benchmarkCase.finish(&simulator)
            let elapsed = clock.now - start
            benchmark.stopMeasurement()
            blackHole(report)
            if benchmarkCase.distinctTouches > 0 {
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                benchmark.measurement(distinctTouchesPerSecond, Int(Double(benchmarkCase.distinctTouches) / seconds))
            }
        }
    }
}
