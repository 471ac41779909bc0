import ArgumentParser
import SomsimReport
import SomsimValidation
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
            each process is a small agent process (this program, started again as \
            `somsim-agent`: nothing else needs to be installed), each mapping is made at the \
            address the model chose, HugeTLB memory comes from the pools (MAP_HUGETLB, and \
            hugetlbfs files through libhugetlbfs), each touch is a real read or write, and each \
            `measure` reads /proc. The HugeTLB pools, vm.hugetlb_optimize_vmemmap, the THP modes \
            and hugetlbfs mounts are set from the `machine` line, proactive compaction and \
            khugepaged are quieted and running DAMON kdamonds turned off so that no page \
            moves or splits during the run, and all of it is \
            restored afterwards, also on error or Ctrl-C. A workload without `pti=` is validated with this machine's \
            page-table isolation (the report says so); an explicit `pti=` that differs is refused.

            Before a setting changes, its original value is journaled in \
            /run/somsim/restore-journal. If a run is killed outright (SIGKILL, power cut), the \
            next `somsim validate` restores the machine from the journal before it starts, and \
            `somsim validate --restore` does only that.

            Prints predicted and measured values, their difference, the tolerance and a verdict \
            for each metric, process and measure. Exits 0 only when every check passes, 1 when \
            one fails, 69 when the machine cannot run the workload (nothing is changed then), 70 \
            when the run broke (settings restored), 77 when not run as root (README.md, "Exit \
            codes", has the table for every command).

            See docs/validation.md for how each value is measured and why each tolerance.

            Examples:
              sudo somsim validate validation/cow-snapshot.somw
              sudo somsim validate validation/memmap-hvo-on.somw --format json | jq '.validation'
              sudo somsim validate --restore
            """
    )

    @OptionGroup var workload: WorkloadArgument<Self>
    @OptionGroup var output: FormatOption<Self>

    @Flag(help: "Only restore the machine from the journal of a validate run that was killed (SIGKILL, power cut), and kill the agents it left.")
    var restore = false

    func validate() throws {
        if restore && workload.file != nil { throw ValidationError("give either a workload FILE or --restore, not both") }
        if !restore && workload.file == nil { throw ValidationError("missing a workload FILE (or --restore)") }
    }

    func run() throws {
        #if os(Linux)
        if restore {
            try Self.requireRoot("restoring")
            do {
                if let recovery = try Probe.restore() {
                    print("restored the machine from \(RestorePlan.journalPath), left by somsim process \(recovery.owner):")
                    for step in recovery.steps { print("  \(step)") }
                } else {
                    print("nothing to restore: no journal at \(RestorePlan.journalPath)")
                }
            } catch {
                printError("somsim validate --restore: \(error)")
                throw ExitCode(70)  // EX_SOFTWARE
            }
            return
        }
        #endif
        let workload = try WorkloadSource.load(self.workload.file ?? "-", overrides: try self.workload.overrides.parsed())
        #if os(Linux)
        try Self.requireRoot("validating")
        let terminal = isatty(2) == 1
        let progress: (@Sendable (Int, Int) -> Void)? = terminal ? Self.progress : nil
        let report: ValidationReport
        do {
            report = try Probe.validate(workload, options: ProbeOptions(progress: progress))
        } catch let error as ProbeError {
            if terminal { Self.clearProgress() }
            printError("somsim validate: \(error)")
            if case .cannotMeet = error { throw ExitCode(69) }  // EX_UNAVAILABLE
            throw ExitCode(70)  // EX_SOFTWARE
        } catch {
            if terminal { Self.clearProgress() }
            printError("somsim validate: \(error)")
            throw ExitCode(70)  // EX_SOFTWARE: not ExitCode 1, which says a check failed
        }
        if terminal { Self.clearProgress() }
        print(ValidationRenderer.render(report, as: output.format), terminator: "")
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
    /// Pools, knobs, mounts and the journal in /run need root: said at once (exit 77, EX_NOPERM),
    /// before anything is tried.
    static func requireRoot(_ doing: String) throws {
        guard geteuid() != 0 else { return }
        printError("somsim validate: \(doing) changes the machine's HugeTLB pools, THP modes and mounts, which needs root; run it as root (sudo somsim validate …)")
        throw ExitCode(77)
    }

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

extension Validate: ArgumentTexts {
    static var file: String { "A workload file (.somw), or - for standard input." }
    static var format: String { "Output format: md (tables), json (the report schema with measured values and checks) or csv." }
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
