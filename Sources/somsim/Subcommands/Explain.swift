import ArgumentParser
import SomsimModel
import SomsimReport

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how a scheme's cost is derived: each term, its formula, its constants, its value.",
        discussion: """
            SCHEME is one of \(SchemeRenderer.Subject.names.joined(separator: ", ")). `common` \
            derives the page tables and per-process kernel state every scheme shares; `tlb-walk` \
            the memory loads of a TLB miss under virtualization (no workload needed); `tlb` each \
            process's TLB reach and loads per miss from the workload's page sizes (native, and \
            nested with machine virt=).

            Examples:
              somsim explain memdesc docs/examples/prefork.somw
              somsim explain hvo docs/examples/hugetlb-cow.somw --measure reserved
              somsim explain tlb-walk
              somsim explain tlb docs/examples/prefork.somw
            """
    )

    @Argument(
        help: ArgumentHelp("The scheme (or common, tlb-walk, tlb).", argumentType: SchemeRenderer.Subject.self),
        completion: .list(SchemeRenderer.Subject.names))
    var scheme: SchemeRenderer.Subject

    @OptionGroup var workload: WorkloadArgument<Self>

    @Option(help: "The measure to explain. Default: the end of the workload.")
    var measure: String = "end"

    @OptionGroup var profile: ProfileOption<Self>
    @OptionGroup var output: FormatOption<Self>

    func run() throws {
        let loaded = try profile.load()
        if scheme == .tlbWalk {
            print(SchemeRenderer.tlbWalk(loaded, format: output.format), terminator: "")
            return
        }
        let run = SchemeRun.run(try workload.load(), profile: loaded)
        guard let point = run.point(measure) else {
            throw ValidationError("no measure labelled '\(measure)'; the workload has: \(run.points.map(\.label).joined(separator: ", "))")
        }
        print(SchemeRenderer.explain(scheme, point, run, format: output.format), terminator: "")
    }
}

extension Explain: ArgumentTexts {}
