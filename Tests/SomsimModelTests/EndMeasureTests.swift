@testable import SomsimModel
import SomsimWorkload
import Testing

/// A run that ends with a `measure` statement takes its final `end` measure as a copy of that
/// one (`Simulator.measureAtEnd`); it must be the measure taken anew. Random workloads (the
/// madvise ones: many mappings of every kind, forks, touches, munmaps, mremaps, mprotect, mlock,
/// measures between) are run through `Simulator.finished` and compared with the same statements
/// applied and the end measured in full — ending with a measure, ending with a measure right
/// after another, and ending with any other statement (where the copy must not be taken).
@Suite struct EndMeasureTests {
    /// The statements applied, then the end measured in full.
    static func measuredInFull(_ workload: Workload) -> Report {
        var simulator = Simulator(machine: workload.machine, machineLine: workload.machineLine ?? 0)
        simulator.reserveRoom(for: workload)
        for statement in workload.statements { simulator.apply(statement) }
        simulator.measureAtEnd(afterMeasureStatement: true, reusing: false)
        return simulator.report
    }

    @Test(arguments: 0..<30)
    func endMeasureCopiedIsTheEndMeasured(seed: UInt64) throws {
        let seed = 7500 + seed
        let base = MadviseOwnRangeTests.randomWorkload(seed: seed)
        for (variant, text) in [("ends with a measure", base + "measure last\n"),
                                ("ends with two measures", base + "measure one\nmeasure two\n"),
                                ("ends with another statement", base)] {
            let workload = try WorkloadParser.parse(text, fileName: "end-measure-\(seed).somw")
            let full = Self.measuredInFull(workload)
            let finished = Simulator.finished(workload).report
            #expect(finished == full, "seed \(seed), \(variant): the reports differ")
            #expect(finished.measures.last?.label == "end", "seed \(seed), \(variant)")
        }
    }

    /// Across the seeds, some workloads end with a statement after whose measure a copy of
    /// the measure before would be wrong: the test above sees the copy taken where it must not be.
    @Test func someWorkloadsChangeAfterTheirLastMeasure() throws {
        var changed = 0
        for seed in UInt64(7500)..<7530 {
            let text = MadviseOwnRangeTests.randomWorkload(seed: seed) + "measure last\np0 mmap tail 64K\np0 touch tail write\n"
            let workload = try WorkloadParser.parse(text, fileName: "end-measure-\(seed).somw")
            let full = Self.measuredInFull(workload)
            let finished = Simulator.finished(workload).report
            #expect(finished == full, "seed \(seed): the reports differ")
            guard full.measures.count >= 2 else { continue }
            var previous = full.measures[full.measures.count - 2]
            previous.label = "end"
            previous.errorsBefore = full.measures[full.measures.count - 1].errorsBefore
            if previous != full.measures.last! { changed += 1 }
        }
        #expect(changed >= 10, "only \(changed) of 30 workloads change after their last measure")
    }
}
