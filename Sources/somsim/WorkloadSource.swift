import ArgumentParser
import Foundation
import SomsimWorkload

/// Reads and parses the workload a command was given; prints parse errors the way compilers do.
enum WorkloadSource {
    static func load(_ path: String?) throws -> Workload {
        let (text, name) = try read(path)
        do {
            return try WorkloadParser.parse(text, fileName: name)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(65)  // EX_DATAERR: the input was not a valid workload
        }
    }

    private static func read(_ path: String?) throws -> (String, String) {
        guard let path else { return (DefaultWorkload.text, DefaultWorkload.fileName) }
        if path == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            guard let text = String(data: data, encoding: .utf8) else {
                throw ValidationError("standard input is not UTF-8 text")
            }
            return (text, "<stdin>")
        }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let text = String(data: data, encoding: .utf8) else {
                throw ValidationError("\(path) is not UTF-8 text")
            }
            return (text, path)
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("cannot read \(path): \((error as NSError).localizedDescription)")
        }
    }
}
