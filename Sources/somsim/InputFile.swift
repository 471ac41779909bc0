import ArgumentParser

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bytes of a file a command was given (a workload or a profile), read with `open`, `fstat`
/// and `read`, so that a failure is reported in plain words of somsim's own:
///
///     somsim: cannot read 'x.somw': no such file                       (66, EX_NOINPUT)
///     somsim: 'dir' is a directory, not a workload file                (66)
///     somsim: cannot read 'x.somw': permission denied                  (66)
///
/// Not 77 (EX_NOPERM) for a file that may not be read: sysexits.h keeps that code for
/// permissions above the file system ("not intended for file system problems, which should use
/// NOINPUT or CANTCREAT"); somsim gives it when root is needed (validate, record).
/// What the file holds is the parsers' business: an empty file is refused by them at `FILE:1:1`,
/// text that is not UTF-8 at the line and column of its first bad byte (exit 65). The exit codes
/// are README.md's table "Exit codes".
enum InputFile {
    /// The largest file somsim reads, 256 MiB: far more than any workload written by hand needs
    /// (`repeat` writes large ones), and small enough that lexing it cannot exhaust memory.
    /// (`/dev/zero` would otherwise be read forever.)
    static let maxBytes = 256 << 20

    /// Why a file could not be read, in a sentence that names the file.
    struct Failure: Error, Equatable, CustomStringConvertible {
        var message: String
        /// 66 when the file cannot be read (also when that is not permitted), 65 when it is too
        /// large to be a workload.
        var exitCode: Int32
        var description: String { "somsim: \(message)" }
    }

    /// Reads `path`, or standard input for `-`; on failure prints the reason to standard error
    /// and exits with its code. `kind` names what the file should be ("workload file").
    static func readOrExit(_ path: String, kind: String = "workload file") throws -> [UInt8] {
        do {
            return try contents(of: path, kind: kind)
        } catch {
            writeStandardError("\(error)\n")
            throw ExitCode(error.exitCode)
        }
    }

    /// The name messages give a file: its path, or `<stdin>` for `-`.
    static func displayName(_ path: String) -> String { path == "-" ? "<stdin>" : path }

    static func contents(of path: String, kind: String = "workload file") throws(Failure) -> [UInt8] {
        let name = displayName(path)
        if path == "-" { return try readAll(STDIN_FILENO, name: name, kind: kind) }
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw failure(errno, name: name, kind: kind) }
        defer { close(fd) }
        return try readAll(fd, name: name, kind: kind)
    }

    private static func readAll(_ fd: Int32, name: String, kind: String) throws(Failure) -> [UInt8] {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw failure(errno, name: name, kind: kind) }
        if status.st_mode & S_IFMT == S_IFDIR {
            throw failure(EISDIR, name: name, kind: kind)
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
                throw failure(errno, name: name, kind: kind)
            }
            if count == 0 { return bytes }
            if bytes.count + count > maxBytes {
                throw Failure(
                    message: "cannot read '\(name)': the file is larger than \(maxBytes >> 20) MiB, the most somsim reads; write large workloads with repeat blocks",
                    exitCode: 65)
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// The sentence and exit code for a failed `open`, `fstat` or `read` of the file `name`.
    static func failure(_ code: Int32, name: String, kind: String) -> Failure {
        switch code {
        case EISDIR: return Failure(message: "'\(name)' is a directory, not a \(kind)", exitCode: 66)
        case ENOENT: return Failure(message: "cannot read '\(name)': no such file", exitCode: 66)
        case ENOTDIR: return Failure(message: "cannot read '\(name)': a folder on its path is a file", exitCode: 66)
        case EACCES, EPERM: return Failure(message: "cannot read '\(name)': permission denied", exitCode: 66)
        case ELOOP: return Failure(message: "cannot read '\(name)': too many symbolic links on its path", exitCode: 66)
        case ENAMETOOLONG: return Failure(message: "cannot read '\(name)': the name is too long", exitCode: 66)
        default: return Failure(message: "cannot read '\(name)': \(systemWords(code))", exitCode: 66)
        }
    }

    /// `strerror`'s words for an errno value, in lower case as the sentence goes on
    /// ("input/output error").
    static func systemWords(_ code: Int32) -> String { String(cString: strerror(code)).lowercased() }
}
