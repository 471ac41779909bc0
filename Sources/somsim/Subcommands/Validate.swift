import ArgumentParser
import SomsimReport
import SomsimWorkload
#if os(Linux)
import Glibc
import SomsimProbe
#endif

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a workload on the real kernel and compare it with the simulator.",
        discussion: """
            Runs FILE twice: through the model, and for real on this machine (Linux, as root): \
            each process is a small agent process, each mapping is made at the address the model \
            chose, HugeTLB memory comes from the pools (MAP_HUGETLB, and hugetlbfs files through \
            libhugetlbfs), each touch is a real read or write, and each `measure` reads /proc. \
            The HugeTLB pools, vm.hugetlb_optimize_vmemmap, the THP mode and hugetlbfs mounts are \
            set from the `machine` line and restored afterwards, also on error or Ctrl-C.

            Prints predicted and measured values, their difference, the tolerance and a verdict \
            for each metric, process and measure. Exits 0 only when every check passes, 1 when \
            one fails, 69 when the machine cannot run the workload (nothing is changed then).

            See docs/validation.md for how each value is measured and why each tolerance.

            Examples:
              sudo somsim validate validation/cow-snapshot.somw
              sudo somsim validate validation/hvo-2m.somw --format json | jq '.validation'
            """
    )

    @Argument(help: "A workload file (.somw), or - for standard input.")
    var file: String

    @Option(name: .shortAndLong, help: "Output format: md (tables), json (the report schema with measured values and checks) or csv.")
    var format: ReportFormat = .md

    @Option(help: ArgumentHelp("The somsim-agent executable (default: next to somsim).", valueName: "path"))
    var agent: String?

    func run() throws {
        let workload = try WorkloadSource.load(file)
        #if os(Linux)
        let terminal = isatty(2) == 1
        let progress: (@Sendable (Int, Int) -> Void)? = terminal ? Self.progress : nil
        let report: ValidationReport
        do {
            report = try Probe.validate(workload, options: ProbeOptions(agentPath: agent, progress: progress))
        } catch let error as ProbeError {
            if terminal { Self.clearProgress() }
            printError("somsim validate: \(error)")
            if case .cannotMeet = error { throw ExitCode(69) }  // EX_UNAVAILABLE
            throw ExitCode(70)  // EX_SOFTWARE
        }
        if terminal { Self.clearProgress() }
        print(ValidationRenderer.render(report, as: format), terminator: "")
        if !report.passed {
            printError("somsim validate: \(report.failures.count) check(s) outside their tolerance")
            throw ExitCode(1)
        }
        #else
        _ = workload
        printError("somsim validate runs workloads on the Linux kernel; this platform cannot.")
        throw ExitCode(69)
        #endif
    }

    #if os(Linux)
    /// `[done/total]` on standard error, redrawn in place at most every 0.2 s.
    @Sendable static func progress(_ done: Int, _ total: Int) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let ms = Int(now.tv_sec) * 1000 + Int(now.tv_nsec) / 1_000_000
        guard done == total || ms - lastDraw.value >= 200 else { return }
        lastDraw.value = ms
        printError("\rsomsim validate: statement \(done)/\(total)", newline: false)
    }

    static func clearProgress() { printError("\r\u{1B}[K", newline: false) }

    final class Clock: @unchecked Sendable { var value = 0 }
    static let lastDraw = Clock()
    #endif
}

private func printError(_ message: String, newline: Bool = true) {
    var text = message
    if newline { text += "\n" }
    #if os(Linux)
    _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
    #else
    print(text, terminator: "")
    #endif
}
