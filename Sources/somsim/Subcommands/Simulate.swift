import ArgumentParser
import SomsimModel
import SomsimReport
import SomsimWorkload

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a workload through the model of today's kernel and report what it costs.",
        discussion: """
            Without FILE, runs the embedded default workload: a prefork server whose master \
            preloads 288 MiB and forks 8 workers (see it with --print-workload).

            For every `measure` statement, and once more at the end, the report gives each \
            process's RSS, PSS, USS, private/shared clean/dirty bytes, HugeTLB bytes, page tables, \
            faults and copy-on-write copies and reuses, the machine's counters, and the metadata \
            cost of struct page. Statements the kernel would refuse are listed with their errno.

            Examples:
              somsim simulate
              somsim simulate server.somw --format json | jq '.measures[-1].processes'
              somsim simulate server.somw --format csv > notebooks-data/server.csv
              cat server.somw | somsim simulate -
            """
    )

    @OptionGroup var workload: WorkloadArgument<Self>
    @OptionGroup var output: FormatOption<Self>
    @OptionGroup var profile: ProfileOption<Self>

    @Flag(help: "Print the workload (canonical form) instead of running it.")
    var printWorkload = false

    @OptionGroup var measure: MeasureOption

    @Flag(help: "Add totals over processes, as smem -t: a 'total' row in md, total.METRIC rows (empty process) in csv.")
    var totals = false

    @Flag(help: "Show each process's mappings as pmap -x does (address, size, RSS, PSS, dirty, HugeTLB, mode, kind), at the end or at --measure.")
    var mappings = false

    func run() throws {
        let (workload, input, bytes) = try self.workload.loadWithInput()
        if printWorkload {
            print(WorkloadPrinter.print(workload), terminator: "")
            return
        }
        let profile = try self.profile.load()
        let simulator = Simulator.finished(workload, constants: KernelConstants(profile: profile))
        let report = simulator.report
        // Performance: the run's state and the workload stay alive until the process exits,
        // which frees them at once (alloc-mix 64G, 205,813 mappings, spent about 5% of its time freeing
        // them one object at a time), as compilers do (clang's -disable-free).
        keepUntilExit(simulator)
        keepUntilExit(workload)
        try measure.check(report.measures.map(\.label))
        if mappings {
            let label = measure.measure ?? "end"
            let index = report.measures.firstIndex { $0.label == label } ?? report.measures.count - 1
            let view = Simulator.mappingView(workload, constants: KernelConstants(profile: profile), at: measure.measure)
            print(MappingRenderer.render(view, label: label, measureIndex: index, as: output.format), terminator: "")
            return
        }
        let options = ReportOptions(
            measure: measure.measure, totals: totals,
            metadata: ReportMetadata(input: input, inputBytes: bytes, machine: workload.machine, profile: profile))
        var standardOutput = StandardOutput()
        ReportRenderer.write(report, as: output.format, options: options, to: &standardOutput)
        standardOutput.flush()
    }
}

extension Simulate: ArgumentTexts {
    static var format: String { "Output format: md (tables), json (the report schema) or csv (tidy rows)." }
}

/// Values `keepUntilExit` keeps: never freed, the process's exit releases their memory.
nonisolated(unsafe) private var keptUntilExit: [Any] = []

/// Keeps `value` alive until the process exits (see `Simulate.run`).
func keepUntilExit(_ value: Any) {
    keptUntilExit.append(value)
}
