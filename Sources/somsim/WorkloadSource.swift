import ArgumentParser
import SomsimWorkload

/// Reads and parses the workload a command was given; prints parse errors the way compilers do.
enum WorkloadSource {
    /// The workload at `path` (`-` for standard input), or the embedded default without one.
    ///
    /// A file that cannot be read exits 66 (`InputFile`); one that is not a valid workload, 65
    /// (EX_DATAERR) with `FILE:LINE:COLUMN: error: MESSAGE`.
    static func load(_ path: String?) throws -> Workload {
        let bytes = try path.map { try InputFile.readOrExit($0, kind: "workload file") }
        do {
            if let path, let bytes {
                return try WorkloadParser.parse(bytes: bytes, fileName: InputFile.displayName(path))
            }
            return try WorkloadParser.parse(DefaultWorkload.text, fileName: DefaultWorkload.fileName)
        } catch {
            writeStandardError("\(error)\n")
            throw ExitCode(65)  // EX_DATAERR: the input was not a valid workload
        }
    }
}
