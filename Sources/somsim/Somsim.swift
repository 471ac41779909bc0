import ArgumentParser

@main
struct Somsim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "somsim",
        abstract: "Single-owner memory simulator: what memory costs beyond the bytes a program asked for.",
        discussion: """
            somsim replays a workload (processes, mappings, touches, forks) through a model of the \
            kernel's memory management and reports what it costs: resident and shared memory per \
            process, copy-on-write copies, page tables, and the machine's page metadata.

            Workload files are described in docs/workload-format.md.
            """,
        subcommands: [Simulate.self, Validate.self, Compare.self, Explain.self, ProfileCommand.self, Generate.self, Record.self, Diff.self],
        defaultSubcommand: Simulate.self
    )
}
