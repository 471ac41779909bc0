import SomsimWorkload
import Testing

@testable import SomsimModel

/// Random touches' samples drawn ahead on a second thread (`SamplePrefetcher`, through
/// `Simulator.apply(contentsOf:)`) against each touch drawing its own: the same report.
@Suite struct SamplePrefetchTests {
    /// A master's heap written whole, then `workers` forked workers writing random pages of it —
    /// more statements than the prefetcher's window. With `mixed`, the random touches' page counts
    /// change from one to the next (the drawing thread's guess is wrong there): some touch an
    /// offset part of the heap (a range that does not start at page 0), some a second mapping of
    /// another size, some more pages than are drawn ahead.
    static func fleet(workers: Int, mixed: Bool, seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed)
        var lines = ["somsim-workload 1", "spawn master", "master mmap heap 6M", "master mmap side 2M", "master touch heap write"]
        for i in 0..<workers {
            lines.append("master fork w\(i)")
            let count = 1 + rng.next(below: 80)
            let pick = mixed ? rng.next(below: 8) : 0
            switch pick {
            case 0, 1, 2, 3:
                lines.append("w\(i) touch heap write random=\(count) seed=\(rng.next(below: 1 << 40))")
            case 4:
                lines.append("w\(i) touch heap write offset=\(4 * (1 + rng.next(below: 200)))K length=1M random=\(count) seed=\(i)")
            case 5:
                lines.append("w\(i) touch side read random=\(count) seed=\(i)")
            case 6:
                lines.append("w\(i) touch side write random=\(300 + rng.next(below: 213)) seed=\(i)")
            default:
                lines.append("w\(i) touch heap write random=\(1_025 + rng.next(below: 100)) seed=\(i)")
            }
            if i % 97 == 50 { lines.append("measure m\(i)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A run through `apply(contentsOf:)` with `mode`, on two threads where it draws ahead.
    static func run(_ workload: Workload, _ mode: Simulator.SamplesAhead) -> (report: Report, taken: Int, drawn: Int) {
        var simulator = Simulator(machine: workload.machine)
        simulator.samplesAhead = mode
        simulator.measureThreads = 2
        simulator.apply(contentsOf: workload.statements)
        simulator.measure(label: "end")
        return (simulator.report, simulator.samplesTaken.taken, simulator.samplesTaken.drawn)
    }

    /// The random touches drawn ahead and asked for (a count of 1 to `largestCount`, a range of
    /// pages), each with its range's page count, in order.
    static func sampledTouches(_ workload: Workload) -> [UInt64] {
        let pages = ["heap": UInt64(1_536), "side": 512]
        return workload.statements.compactMap { statement -> UInt64? in
            guard case .touch(_, let mapping, _, let range, .random(let count, _)) = statement.value,
                count >= 1, count <= SamplePrefetcher.largestCount
            else { return nil }
            return range.pages(inMappingOf: pages[mapping]!, pageBytes: 4_096).map { UInt64($0.count) }
        }
    }

    /// Waiting, the drawing thread runs in lock step with the simulator, so its guess is the page
    /// count of the random touch before: a touch takes the sample drawn ahead exactly where its
    /// page count is that one's (every touch but the first in a fleet of one heap).
    @Test(arguments: [UInt64(1), 2, 3])
    func samplesDrawnAheadAreTheTouchesOwn(seed: UInt64) throws {
        for mixed in [false, true] {
            let text = Self.fleet(workers: 300, mixed: mixed, seed: seed)
            let workload = try WorkloadParser.parse(text, fileName: "fleet")
            let own = Self.run(workload, .off)
            #expect(own.taken == 0 && own.drawn == 0)
            let waiting = Self.run(workload, .waiting)
            #expect(waiting.report == own.report, "seed \(seed), mixed \(mixed): waiting")
            // The random touches of page counts other than the one before draw their own (the
            // guess of touches above `largestCount` counts too; it is their range's).
            var expected = (taken: 0, drawn: 0)
            var previous: UInt64 = 0
            for statement in workload.statements {
                guard case .touch(_, let mapping, _, let range, .random(let count, _)) = statement.value else { continue }
                let pages = UInt64(range.pages(inMappingOf: mapping == "heap" ? 1_536 : 512, pageBytes: 4_096)!.count)
                if count >= 1 && count <= SamplePrefetcher.largestCount {
                    if pages == previous { expected.taken += 1 } else { expected.drawn += 1 }
                }
                previous = pages
            }
            #expect(waiting.taken == expected.taken && waiting.drawn == expected.drawn, "seed \(seed), mixed \(mixed): \(waiting.taken) taken, \(waiting.drawn) drawn; expected \(expected)")
            #expect(waiting.taken >= (mixed ? 20 : 299), "not vacuous: seed \(seed), mixed \(mixed): \(waiting.taken) taken")
            #expect(waiting.taken + waiting.drawn == Self.sampledTouches(workload).count)
            // Racing: how many are taken depends on the two threads' timing; the report does not.
            for round in 0..<3 {
                let racing = Self.run(workload, .whenWorthwhile)
                #expect(racing.report == own.report, "seed \(seed), mixed \(mixed), round \(round): racing")
                #expect(racing.taken + racing.drawn == Self.sampledTouches(workload).count)
            }
        }
    }

    /// A fresh run takes the frames the drawing thread built for its write
    /// (`SamplePrefetcher.freshRun`) only where the write copied every page it touched: a
    /// master writing random pages of its heap after a worker copied some of them reuses those
    /// (mapped by it alone), copies the rest into a fresh run, and must not take the frames
    /// built for all of them. Each master's write overlaps its worker's in a few pages.
    @Test func freshRunsBuiltAheadOnlyWhereEveryPageIsCopied() throws {
        var lines = ["somsim-workload 1"]
        for i in 0..<40 {
            lines += ["spawn m\(i)", "m\(i) mmap heap 1M", "m\(i) touch heap write", "m\(i) fork w\(i)",
                      "w\(i) touch heap write random=40 seed=\(i)", "m\(i) touch heap write random=40 seed=\(i + 500)"]
            if i % 10 == 9 { lines.append("measure m\(i)") }
        }
        let workload = try WorkloadParser.parse(lines.joined(separator: "\n") + "\n", fileName: "masters")
        var reference = Simulator(machine: workload.machine)
        reference.samplesAhead = .off
        reference.apply(contentsOf: workload.statements)
        reference.measure(label: "end")
        let reuses = reference.report.measures.last!.processes.reduce(UInt64(0)) { $0 + $1.cowReuses }
        #expect(reuses >= 40, "not vacuous: the masters' writes reused \(reuses) pages")
        for builds in [true, false] {
            var simulator = Simulator(machine: workload.machine)
            simulator.samplesAhead = .waiting
            simulator.measureThreads = 2
            simulator.bulkTakesDrawnRuns = builds
            simulator.apply(contentsOf: workload.statements)
            simulator.measure(label: "end")
            // (Compared first: a failure prints which run differs, not two whole reports.)
            let same = simulator.report == reference.report
            #expect(same, "frames built ahead: \(builds): the report differs from each touch building its own run")
            // Every worker's write copies all its pages (and the first sample is drawn by its
            // touch: no page count to guess before it).
            #expect(simulator.drawnRunsTaken >= (builds ? 39 : 0) && simulator.drawnRunsTaken <= (builds ? 80 : 0), "frames built ahead: \(builds): taken \(simulator.drawnRunsTaken)")
        }
    }

    /// `Simulator.run` (the command's path) draws ahead where a workload has random touches
    /// enough, and gives the report each touch drawing its own gives.
    @Test func runDrawsAheadAlike() throws {
        let workload = try WorkloadParser.parse(Self.fleet(workers: 200, mixed: true, seed: 9), fileName: "fleet")
        var simulator = Simulator(machine: workload.machine)
        simulator.samplesAhead = .off
        for statement in workload.statements { simulator.apply(statement) }
        simulator.measure(label: "end")
        #expect(Simulator.run(workload) == simulator.report)
        #expect(SamplePrefetcher.worthwhile(workload.statements, range: workload.statements.indices))
        #expect(!SamplePrefetcher.worthwhile(workload.statements, range: 0..<40))
    }
}
