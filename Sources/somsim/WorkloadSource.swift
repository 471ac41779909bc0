import ArgumentParser
import SomsimWorkload

/// Reads and parses the workload a command was given; prints parse errors the way compilers do.
enum WorkloadSource {
    /// The workload at `path` (`-` for standard input), or the embedded default without one.
    ///
    /// A file that cannot be read exits 66 (`InputFile`); one that is not a valid workload, 65
    /// (EX_DATAERR) with `FILE:LINE:COLUMN: error: MESSAGE`.
    static func load(_ path: String?, overrides: WorkloadOverrides = .none) throws -> Workload {
        try loadWithInput(path, overrides: overrides).workload
    }

    /// `load`, with the input's name as the report's metadata gives it (the path, `-`, or
    /// `(default)`) and its bytes (the embedded default: its text in UTF-8), which the metadata hashes.
    static func loadWithInput(_ path: String?, overrides: WorkloadOverrides = .none) throws -> (workload: Workload, input: String, bytes: [UInt8]) {
        let bytes = try path.map { try InputFile.readOrExit($0, kind: "workload file") }
        let loaded: (workload: Workload, input: String, bytes: [UInt8])
        do {
            if let path, let bytes {
                loaded = (try WorkloadParser.parse(bytes: bytes, fileName: InputFile.displayName(path), overrides: overrides), path, bytes)
            } else {
                loaded = (try WorkloadParser.parse(DefaultWorkload.text, fileName: DefaultWorkload.fileName, overrides: overrides), "(default)", Array(DefaultWorkload.text.utf8))
            }
        } catch {
            writeStandardError("\(error)\n")
            throw ExitCode(65)  // EX_DATAERR: the input was not a valid workload
        }
        try checkParamNames(overrides, of: loaded.workload)
        return loaded
    }

    /// Refuses a `-D NAME=…` for a name the workload declares no param for (exit 64, EX_USAGE),
    /// listing the params it has.
    static func checkParamNames(_ overrides: WorkloadOverrides, of workload: Workload) throws {
        for setting in overrides.params where !workload.params.contains(where: { $0.name == setting.name }) {
            let known = workload.params.isEmpty
                ? "it declares no param (add 'param \(setting.name)=DEFAULT' to the file)"
                : "its params are: \(workload.params.map { "\($0.name) (default \($0.defaultValue))" }.joined(separator: ", "))"
            writeStandardError("-D \(setting.name)=\(setting.value): error: \(workload.fileName) has no param '\(setting.name)'; \(known)\n")
            throw ExitCode(64)
        }
    }
}
