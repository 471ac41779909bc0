import SomsimModel
import SomsimWorkload
import Testing

let KiB: UInt64 = 1024
let MiB: UInt64 = 1024 * KiB
let GiB: UInt64 = 1024 * MiB

/// Simulates a workload given as the body of a file (the header is added).
func simulate(_ body: String) throws -> Report {
    let workload = try WorkloadParser.parse("somsim-workload 1\n" + body, fileName: "test.somw")
    return Simulator.run(workload)
}

extension Report {
    /// The measure labelled `label`.
    func measure(_ label: String) -> Measure {
        guard let found = measures.first(where: { $0.label == label }) else {
            Issue.record("no measure labelled \(label)")
            return measures[measures.count - 1]
        }
        return found
    }
}

extension Measure {
    /// The metrics of process `name`.
    func process(_ name: String) -> ProcessMetrics {
        guard let found = processes.first(where: { $0.name == name }) else {
            Issue.record("no process named \(name)")
            return ProcessMetrics(name: name, alive: false)
        }
        return found
    }
}
