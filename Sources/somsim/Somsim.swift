import ArgumentParser
import SomsimModel
import SomsimReport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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

            Exit codes follow sysexits.h: 0 success, 1 a validate check outside its tolerance, 64 \
            bad arguments, 65 a workload or profile that is not valid, 66 an input file that \
            cannot be read, 70 an internal error; the table of every code and the commands that \
            give it is in README.md, section "Exit codes".
            """,
        version: "somsim \(SomsimVersion.string)",
        subcommands: [Simulate.self, Validate.self, Compare.self, Explain.self, ProfileCommand.self, Generate.self, Record.self, SweepCommand.self, MergeCommand.self, PlotCommand.self, Diff.self],
        defaultSubcommand: Simulate.self
    )

    /// As argument-parser's `main`, except that an error no command turned into an exit code is
    /// an internal error, 70 (EX_SOFTWARE), not argument-parser's 1, which is validate's "a check
    /// outside its tolerance".
    static func main() {
        HeapTuning.keepFreedMemory()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ExitCode {
            exit(withError: error)
        } catch {
            if exitCode(for: error) == .failure {
                let text = "somsim: internal error (please report it): \(error)\n"
                _ = text.withCString { write(2, $0, strlen($0)) }
                exit(withError: ExitCode(70))
            }
            exit(withError: error)
        }
    }
}
