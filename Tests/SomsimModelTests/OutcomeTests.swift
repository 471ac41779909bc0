import SomsimModel
import SomsimWorkload
import Testing

/// `Simulator.apply` answers each statement with a typed outcome: the errno of a refused call, the
/// placement of a mapping, the processes a signal killed.
@Suite struct OutcomeTests {
    /// A simulator on the default machine and statements on consecutive lines.
    private func statements(_ list: [Statement]) -> [Located<Statement>] {
        list.enumerated().map { Located($0.element, at: SourceLocation(line: $0.offset + 2)) }
    }

    @Test func applyAnswersErrnoPlacementAndKills() {
        var simulator = Simulator(machine: MachineSpec())
        let answers = statements([
            .spawn(process: "a"),
            .mmap(process: "a", mapping: "m", lengthBytes: 64 * KiB, options: MmapOptions()),
            .madvise(process: "a", mapping: "m", advice: .dontfork, range: ByteRange(offsetBytes: 128 * KiB)),
            .touch(process: "a", mapping: "m", access: .write, range: ByteRange(), pattern: .every),
            .madvise(process: "a", mapping: "m", advice: .dontfork, range: ByteRange()),
            .fork(parent: "a", child: "b"),
            .touch(process: "b", mapping: "m", access: .read, range: ByteRange(), pattern: .every),
            .touch(process: "b", mapping: "m", access: .read, range: ByteRange(), pattern: .every),
        ]).map { simulator.apply($0) }
        #expect(answers[0] == Simulator.Outcome())
        let placement = answers[1].placement
        #expect(placement?.mapping == "m" && placement?.process == "a" && placement?.lengthBytes == 64 * KiB && placement?.line == 3)
        #expect(placement == simulator.placements.last)
        #expect(answers[1].errno == nil)
        // Past the mapping's end with no length: no range, ENOMEM (as madvise_walk_vmas finds none).
        #expect(answers[2].errno == .ENOMEM && answers[2].placement == nil)
        #expect(answers[3] == Simulator.Outcome())
        #expect(answers[6].kills == [Simulator.Kill(process: "b", signal: .SIGSEGV)])
        #expect(answers[6].errno == nil)
        #expect(answers[7].errno == .ESRCH && answers[7].kills.isEmpty)
        #expect(simulator.report.errors.map(\.errno) == [.ENOMEM, .ESRCH])
    }

    @Test func errnoAndSignalNumbersRoundTrip() {
        for errno in Errno.allCases { #expect(Errno(code: errno.code) == errno) }
        #expect(Errno(code: 12) == .ENOMEM && Errno(code: 22) == .EINVAL && Errno(code: 14) == .EFAULT && Errno(code: 3) == .ESRCH)
        #expect(Errno(code: 0) == nil && Errno(code: 4095) == nil)
        for signal in Signal.allCases { #expect(Signal(number: signal.number) == signal) }
        #expect(Signal(number: 7) == .SIGBUS && Signal(number: 11) == .SIGSEGV && Signal(number: 9) == .SIGKILL)
        #expect(Signal(number: 6) == nil)
    }
}
