import ArgumentParser
import Foundation
import SomsimWorkload

/// Reads and parses the workload a command was given; prints parse errors the way compilers do.
enum WorkloadSource {
    /// The workload at `path` (`-` for standard input), or the embedded default without one.
    ///
    /// A file that cannot be read exits 66 (`InputFile`); one that is not a valid workload, 65
    /// (EX_DATAERR) with `FILE:LINE:COLUMN: error: MESSAGE`.
    static func load(_ path: String?) throws -> Workload { try loadWithInput(path).workload }

    /// `load`, with the input's name as the report's metadata gives it (the path, `-`, or
    /// `(default)`) and its bytes (the embedded default: its text in UTF-8), which the metadata hashes.
    static func loadWithInput(_ path: String?) throws -> (workload: Workload, input: String, bytes: [UInt8]) {
        let bytes = try path.map(InputFile.readOrExit)
        do {
            if let path, let bytes {
                return (try WorkloadParser.parse(bytes: bytes, fileName: InputFile.displayName(path)), path, bytes)
            }
            return (try WorkloadParser.parse(DefaultWorkload.text, fileName: DefaultWorkload.fileName), "(default)", Array(DefaultWorkload.text.utf8))
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(65)  // EX_DATAERR: the input was not a valid workload
        }
    }
}
