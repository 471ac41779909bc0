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

/// Workloads built in code, which the parser's checker never saw: misuse is an error event, and
/// the state stays what it was (`Simulator.run`).
@Suite struct MisuseInCodeTests {
    private func run(_ list: [Statement]) -> Report {
        let located = list.enumerated().map { Located($0.element, at: SourceLocation(line: $0.offset + 2)) }
        return Simulator.run(Workload(statements: located))
    }

    private static let write64K: [Statement] = [
        .mmap(process: "a", mapping: "m", lengthBytes: 64 * KiB, options: MmapOptions()),
        .touch(process: "a", mapping: "m", access: .write, range: ByteRange(), pattern: .every),
    ]

    @Test func aSecondSpawnOfANameIsRefusedAndKeepsTheFirstProcess() {
        let report = run([.spawn(process: "a")] + Self.write64K + [.spawn(process: "a")])
        #expect(report.errors.map(\.errno) == [.EEXIST])
        #expect(report.errors.first?.line == 5)
        let end = report.measure("end")
        #expect(end.processes.map(\.name) == ["a"])
        #expect(end.process("a").alive && end.process("a").privateDirtyBytes == 64 * KiB)
    }

    @Test func aForkChildOfATakenNameIsRefused() {
        let report = run([.spawn(process: "a"), .spawn(process: "b")] + Self.write64K + [.fork(parent: "a", child: "b")])
        #expect(report.errors.map(\.errno) == [.EEXIST])
        let end = report.measure("end")
        #expect(end.processes.map(\.name) == ["a", "b"])
        // No child shares a's pages.
        #expect(end.process("a").privateDirtyBytes == 64 * KiB && end.process("b").rssBytes == 0)
    }

    @Test func aSecondMmapOfAMappingNameIsRefusedAndExitFreesEverything() {
        let report = run(
            [.spawn(process: "a")] + Self.write64K + [
                .mmap(process: "a", mapping: "m", lengthBytes: 128 * KiB, options: MmapOptions()),
                .measure(label: "twice"),
                .exit(process: "a"),
            ])
        #expect(report.errors.map(\.errno) == [.EEXIST])
        #expect(report.measure("twice").process("a").privateDirtyBytes == 64 * KiB)
        let end = report.measure("end").system
        #expect(end.anonBytes == 0 && end.pageTableBytes == 0)
    }

    @Test func mmapLengthsThatAreNotWholePagesAreRefused() {
        let report = run([
            .spawn(process: "a"),
            .mmap(process: "a", mapping: "z", lengthBytes: 0, options: MmapOptions()),
            .mmap(process: "a", mapping: "h", lengthBytes: 4 * KiB, options: MmapOptions(huge: .size2M)),
            .mmap(process: "a", mapping: "m", lengthBytes: 6 * KiB, options: MmapOptions()),
            .touch(process: "a", mapping: "m", access: .write, range: ByteRange(), pattern: .every),
        ])
        #expect(report.errors.map(\.errno) == [.EINVAL, .EINVAL, .EINVAL, .EFAULT])
        #expect(report.measure("end").system.anonBytes == 0)
    }

    @Test func statementsOfAnUnknownProcessAreESRCH() {
        let report = run([
            .spawn(process: "a"),
            .touch(process: "ghost", mapping: "m", access: .write, range: ByteRange(), pattern: .every),
            .fork(parent: "ghost", child: "c"),
            .exit(process: "ghost"),
        ])
        #expect(report.errors.map(\.errno) == [.ESRCH, .ESRCH, .ESRCH])
        #expect(report.measure("end").processes.map(\.name) == ["a"])
    }
}
