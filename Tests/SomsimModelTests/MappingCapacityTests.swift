@testable import SomsimModel
import SomsimWorkload
import Testing

/// `Simulator.reserveRoom(for:)` (room reserved in a process's dictionary of mappings before the
/// run) must change no result: a run with it is compared with the same run without it, and the
/// hints with the peaks they are meant to be.
@Suite struct MappingCapacityTests {
    /// 6,000 mappings in one process (above the hint threshold), some unmapped and mapped again,
    /// with madvise, touches, a fork and measures between.
    static let text = """
        somsim-workload 1
        machine ram=64G thp=madvise mthp=64K
        spawn app
        spawn other
        other mmap o 4M
        repeat 6000 as i {
          app mmap m{i} 64K
          app madvise m{i} hugepage
          app touch m{i} write
        }
        measure filled
        repeat 1000 as i {
          app munmap m{i}
        }
        repeat 500 as i {
          app mmap n{i} 128K
          app touch n{i} read
        }
        app fork child
        child touch m5999 write
        measure forked
        """

    @Test func runWithRoomReservedIsTheRunWithout() throws {
        let workload = try WorkloadParser.parse(Self.text, fileName: "capacity.somw")
        var plain = Simulator(machine: workload.machine, machineLine: workload.machineLine ?? 0)
        for statement in workload.statements { plain.apply(statement) }
        plain.measure(label: "end")
        var reserved = Simulator(machine: workload.machine, machineLine: workload.machineLine ?? 0)
        reserved.reserveRoom(for: workload)
        #expect(reserved.mappingCapacityHints == ["app": 6000])
        for statement in workload.statements { reserved.apply(statement) }
        reserved.measure(label: "end")
        #expect(reserved.report == plain.report)
        #expect(reserved.placements == plain.placements)
        #expect(Simulator.run(workload) == plain.report)
    }

    @Test func hintsFollowThePeakOfLiveMappings() {
        func located(_ s: Statement) -> Located<Statement> { Located(s, at: SourceLocation(line: 1)) }
        var statements: [Located<Statement>] = []
        let threshold = Simulator.minimumMappingCapacityHint
        statements.append(located(.mmap(process: "a", mapping: "m0", lengthBytes: 8192, options: MmapOptions())))
        // Ranges of a mapping keep its name: only whole munmaps count down.
        statements.append(located(.munmap(process: "a", mapping: "m0", range: ByteRange(offsetBytes: 0, lengthBytes: 4096))))
        for i in 1..<(threshold + 10) { statements.append(located(.mmap(process: "a", mapping: "m\(i)", lengthBytes: 4096, options: MmapOptions()))) }
        for i in 0..<20 { statements.append(located(.munmap(process: "a", mapping: "m\(i)", range: .whole))) }
        for i in 0..<15 { statements.append(located(.mmap(process: "a", mapping: "x\(i)", lengthBytes: 4096, options: MmapOptions()))) }
        // A process below the threshold gets no hint.
        for i in 0..<10 { statements.append(located(.mmap(process: "b", mapping: "m\(i)", lengthBytes: 4096, options: MmapOptions()))) }
        #expect(Simulator.mappingCapacityHints(statements) == ["a": threshold + 10])
    }

    /// Processes named in turn (the counts of the one named last are kept apart from the others'
    /// until another is named): the hints are the peaks counted one statement at a time.
    @Test func hintsOfProcessesNamedInTurn() {
        func located(_ s: Statement) -> Located<Statement> { Located(s, at: SourceLocation(line: 1)) }
        var statements: [Located<Statement>] = []
        var rng = SplitMix64(seed: 4711)
        let names = ["a", "b", "c"]
        for i in 0..<(6 * Simulator.minimumMappingCapacityHint) {
            let process = names[Int(rng.next(below: 3))]
            if rng.next(below: 5) == 0 {
                statements.append(located(.munmap(process: process, mapping: "m\(i)", range: .whole)))
            } else {
                statements.append(located(.mmap(process: process, mapping: "m\(i)", lengthBytes: 4096, options: MmapOptions())))
            }
        }
        var live: [String: (now: Int, peak: Int)] = [:]
        for statement in statements {
            switch statement.value {
            case .mmap(let process, _, _, _): live[process, default: (0, 0)].now += 1
            case .munmap(let process, _, _): live[process, default: (0, 0)].now -= 1
            default: break
            }
            for (name, counts) in live { live[name]!.peak = max(counts.peak, counts.now) }
        }
        let expected = live.compactMapValues { $0.peak >= Simulator.minimumMappingCapacityHint ? $0.peak : nil }
        #expect(!expected.isEmpty, "seed 4711: no process reaches the threshold")
        #expect(Simulator.mappingCapacityHints(statements) == expected, "seed 4711")
    }
}
