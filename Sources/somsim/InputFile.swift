import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bytes of a file a command was given (a workload or a profile), read with `open`, `fstat`
/// and `read` so that a failure is reported in the system's own words.
///
/// A file that cannot be read exits 66 (EX_NOINPUT, sysexits.h: "an input file did not exist or
/// was not readable"), whatever the reason: missing, not permitted, a directory. What the file
/// holds is the parsers' business: an empty file is refused by them at `FILE:1:1`, text that is
/// not UTF-8 at the line and column of its first bad byte (exit 65).
enum InputFile {
    /// The largest file somsim reads, 256 MiB: far more than any workload written by hand needs
    /// (`repeat` writes large ones), and small enough that lexing it cannot exhaust memory.
    /// (`/dev/zero` would otherwise be read forever.)
    static let maxBytes = 256 << 20

    /// Why a file could not be read: `PATH: error: REASON`.
    struct Failure: Error, Equatable, CustomStringConvertible {
        var path: String
        var reason: String
        /// 66 when the file cannot be read, 65 when it is too large to be a workload.
        var exitCode: Int32
        var description: String { "\(path): error: \(reason)" }
    }

    /// Reads `path`, or standard input for `-`; on failure prints the reason to standard error
    /// and exits with its code.
    static func readOrExit(_ path: String) throws -> [UInt8] {
        do {
            return try contents(of: path)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(error.exitCode)
        }
    }

    /// The name messages give a file: its path, or `<stdin>` for `-`.
    static func displayName(_ path: String) -> String { path == "-" ? "<stdin>" : path }

    static func contents(of path: String) throws(Failure) -> [UInt8] {
        let name = displayName(path)
        if path == "-" { return try readAll(STDIN_FILENO, name: name) }
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw Failure(path: name, reason: systemWords(errno), exitCode: 66) }
        defer { close(fd) }
        return try readAll(fd, name: name)
    }

    private static func readAll(_ fd: Int32, name: String) throws(Failure) -> [UInt8] {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw Failure(path: name, reason: systemWords(errno), exitCode: 66) }
        if status.st_mode & S_IFMT == S_IFDIR {
            throw Failure(path: name, reason: systemWords(EISDIR), exitCode: 66)
        }
        var bytes: [UInt8] = []
        if status.st_mode & S_IFMT == S_IFREG {
            bytes.reserveCapacity(Int(min(Int64(status.st_size), Int64(maxBytes) + 1)))
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(path: name, reason: systemWords(errno), exitCode: 66)
            }
            if count == 0 { return bytes }
            if bytes.count + count > maxBytes {
                throw Failure(
                    path: name,
                    reason: "the file is larger than \(maxBytes >> 20) MiB, the most somsim reads; write large workloads with repeat blocks",
                    exitCode: 65)
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// `strerror`'s words for an errno value ("No such file or directory").
    private static func systemWords(_ code: Int32) -> String { String(cString: strerror(code)) }
}
