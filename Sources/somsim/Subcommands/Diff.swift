import ArgumentParser
import SomsimReport

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two JSON reports metric by metric.",
        discussion: """
            Reads two reports that `simulate --format json` or `compare --format json` wrote and \
            shows every metric that differs: per measure (matched by label), per process (by \
            name), the system, the schemes and the machine, with A, B, B − A and B / A. The \
            metadata object (tool version, input hash) is not compared.

            Exit status, as diff(1): 0 when every metric is equal, 1 when some differ, 65 when \
            an input is not a somsim report, 66 when one cannot be read.

            Examples:
              somsim simulate a.somw --format json > a.json
              somsim simulate b.somw --format json > b.json
              somsim diff a.json b.json
              somsim diff a.json b.json --format csv > notebooks-data/a-vs-b.csv
            """
    )

    @Argument(help: "The first report (A), or - for standard input.")
    var a: String

    @Argument(help: "The second report (B), or - for standard input.")
    var b: String

    @Flag(help: "Show every metric, equal or not.")
    var all = false

    @OptionGroup var output: FormatOption<Self>

    func run() throws {
        func report(_ path: String, _ which: String) throws -> JSONValue {
            let bytes = try InputFile.readOrExit(path)
            do {
                return try JSONValue.parse(String(decoding: bytes, as: UTF8.self))
            } catch {
                writeStandardError("Error: \(InputFile.displayName(path)) (\(which)) is not JSON: \(error)\n")
                throw ExitCode(65)
            }
        }
        let diff: ReportDiff
        do {
            diff = try ReportDiff(try report(a, "A"), try report(b, "B"))
        } catch let error as ReportDiff.NotAReport {
            writeStandardError("Error: \(error.description)\n")
            throw ExitCode(65)
        }
        print(diff.render(as: output.format, all: all, nameA: InputFile.displayName(a), nameB: InputFile.displayName(b)), terminator: "")
        if !diff.equal { throw ExitCode(1) }
    }
}

extension Diff: ArgumentTexts {
    static var format: String { "Output format: md (a table of the differences), csv (tidy rows) or json." }
}
