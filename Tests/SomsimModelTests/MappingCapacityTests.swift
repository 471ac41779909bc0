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
}
