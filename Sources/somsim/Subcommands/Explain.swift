import ArgumentParser
import SomsimModel
import SomsimReport

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how a scheme's cost is derived: each term, its formula, its constants, its value.",
        discussion: """
            SCHEME is one of \(SchemeRenderer.Subject.names.joined(separator: ", ")). `common` \
            derives the page tables and per-process kernel state every scheme shares; `tlb-walk` \
            the memory loads of a TLB miss under virtualization (no workload needed).

            Examples:
              somsim explain memdesc docs/examples/prefork.somw
              somsim explain hvo docs/examples/hugetlb-cow.somw --measure reserved
              somsim explain tlb-walk
            """
    )

    @Argument(help: "The scheme (or common, tlb-walk).")
    var scheme: String

    @Argument(help: "A workload file (.somw), or - for standard input. Default: the embedded prefork server.")
    var file: String?

    @Option(help: "The measure to explain. Default: the end of the workload.")
    var measure: String = "end"

    @Option(help: "A profile file whose values override the default constants (see `somsim profile`).")
    var profile: String?

    @Option(name: .shortAndLong, help: "Output format: md, csv or json.")
    var format: ReportFormat = .md

    func run() throws {
        guard let subject = SchemeRenderer.Subject(scheme) else {
            throw ValidationError("unknown scheme '\(scheme)'; expected one of: \(SchemeRenderer.Subject.names.joined(separator: ", "))")
        }
        let loaded = try ProfileSource.load(profile)
        if subject == .tlbWalk {
            print(SchemeRenderer.tlbWalk(loaded, format: format), terminator: "")
            return
        }
        let run = SchemeRun.run(try WorkloadSource.load(file), profile: loaded)
        guard let point = run.point(measure) else {
            throw ValidationError("no measure labelled '\(measure)'; the workload has: \(run.points.map(\.label).joined(separator: ", "))")
        }
        print(SchemeRenderer.explain(subject, point, run, format: format), terminator: "")
    }
}
