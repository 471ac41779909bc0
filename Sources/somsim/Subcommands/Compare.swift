import ArgumentParser
import SomsimModel
import SomsimReport

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cost every metadata scheme on a workload, side by side.",
        discussion: """
            For every `measure` statement and the end, prints per scheme the metadata bytes, their \
            share of RAM, and the saving against struct page; page tables and per-process kernel \
            state are the same under every scheme and printed once. Schemes: \
            \(SchemeName.allCases.map(\.rawValue).joined(separator: ", ")). `somsim explain SCHEME` \
            shows how each number is derived.

            Examples:
              somsim compare docs/examples/prefork.somw
              somsim compare server.somw --schemes struct-page,memdesc --format csv > notebooks-data/server.csv
              somsim compare server.somw --profile my.profile --format json
              somsim compare papers/workloads/seed-vm-host.somw --summary --format csv
            """
    )

    @OptionGroup var workload: WorkloadArgument<Self>

    @Option(
        help: ArgumentHelp(
            "Comma-separated schemes to show (struct-page is always computed as the baseline). Default: all.",
            argumentType: SchemeName.self),
        completion: SchemeList.completion,
        transform: SchemeList.init(parsing:))
    var schemes: SchemeList?

    @Flag(
        help: "One row per measure and scheme: metadata, stranded memory, TLB reach and loads per TLB miss (the papers' seed tables).")
    var summary = false

    @OptionGroup var profile: ProfileOption<Self>
    @OptionGroup var output: FormatOption<Self>

    @OptionGroup var measure: MeasureOption

    func run() throws {
        let (workload, input, bytes) = try self.workload.loadWithInput()
        let profile = try self.profile.load()
        let run = SchemeRun.run(workload, profile: profile)
        try measure.check(run.points.map(\.label))
        if summary {
            print(SchemeRenderer.summary(run, schemes: schemes?.schemes ?? SchemeName.allCases, format: output.format, measure: measure.measure), terminator: "")
            return
        }
        let options = ReportOptions(
            measure: measure.measure, metadata: ReportMetadata(input: input, inputBytes: bytes, machine: workload.machine, profile: profile))
        print(SchemeRenderer.compare(run, schemes: schemes?.schemes ?? SchemeName.allCases, format: output.format, options: options), terminator: "")
    }
}

extension Compare: ArgumentTexts {}
