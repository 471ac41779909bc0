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
            """
    )

    @Argument(help: "A workload file (.somw), or - for standard input. Default: the embedded prefork server.")
    var file: String?

    @Option(help: "Comma-separated schemes to show (struct-page is always computed as the baseline). Default: all.")
    var schemes: String?

    @Option(help: "A profile file whose values override the default constants (see `somsim profile`).")
    var profile: String?

    @Option(name: .shortAndLong, help: "Output format: md, csv or json.")
    var format: ReportFormat = .md

    func run() throws {
        let chosen = try Self.schemeList(schemes)
        let workload = try WorkloadSource.load(file)
        let run = SchemeRun.run(workload, profile: try ProfileSource.load(profile))
        print(SchemeRenderer.compare(run, schemes: chosen, format: format), terminator: "")
    }

    static func schemeList(_ text: String?) throws -> [SchemeName] {
        guard let text else { return SchemeName.allCases }
        return try text.split(separator: ",").map { name in
            guard let scheme = SchemeName(rawValue: String(name)) else {
                throw ValidationError("unknown scheme '\(name)'; expected one of: \(SchemeName.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return scheme
        }
    }
}
