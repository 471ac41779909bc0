#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file a command writes with `-o FILE`, written whole or not at all (a temporary file beside
/// it, then `rename`), with failures in plain words:
///
///     cannot write 'out/x.somw': the folder 'out' does not exist       (73, EX_CANTCREAT)
///     cannot write 'x.somw': permission denied                         (73: sysexits.h keeps
///                                                                       77 for permissions above
///                                                                       the file system)
///
/// The caller puts its name in front (`somsim record: …`). The exit codes are README.md's table
/// "Exit codes".
enum OutputFile {
    struct Failure: Error, Equatable, CustomStringConvertible {
        var message: String
        /// 73 when the file cannot be created, for whatever reason.
        var exitCode: Int32
        var description: String { message }
    }

    /// The folder `path` goes into: `.` for a bare name.
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Checks, before any work is done, that `path` can be written: its folder exists, is a
    /// folder and is writable, and `path` is not a folder itself.
    static func check(_ path: String) throws(Failure) {
        let folder = folder(of: path)
        var status = stat()
        if stat(folder, &status) != 0 { throw failure(errno, path: path) }
        if status.st_mode & S_IFMT != S_IFDIR {
            throw Failure(message: "cannot write '\(path)': '\(folder)' is not a folder", exitCode: 73)
        }
        if stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR {
            throw Failure(message: "cannot write '\(path)': it is a directory; give a file name", exitCode: 73)
        }
        if access(folder, W_OK) != 0 { throw failure(errno, path: path) }
    }

    /// Writes `bytes` to `path`: a temporary file in the same folder, synced and renamed over
    /// `path`, so that a reader sees the old file or the whole new one; nothing is left on failure.
    static func write(_ bytes: [UInt8], to path: String) throws(Failure) {
        try check(path)
        let temporary = path + ".tmp-\(getpid())"
        var fd: Int32
        repeat { fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw failure(errno, path: path) }
        var code = writeAll(fd, bytes[...])
        if code == 0 && fsync(fd) != 0 { code = errno }
        close(fd)
        if code == 0 && rename(temporary, path) != 0 { code = errno }
        if code != 0 {
            unlink(temporary)
            throw failure(code, path: path)
        }
    }

    /// The sentence and exit code for a failed call on the way to writing `path`.
    static func failure(_ code: Int32, path: String) -> Failure {
        let folder = folder(of: path)
        switch code {
        case ENOENT: return Failure(message: "cannot write '\(path)': the folder '\(folder)' does not exist", exitCode: 73)
        case ENOTDIR: return Failure(message: "cannot write '\(path)': a folder on its path is a file", exitCode: 73)
        case EISDIR: return Failure(message: "cannot write '\(path)': it is a directory; give a file name", exitCode: 73)
        case EACCES, EPERM: return Failure(message: "cannot write '\(path)': permission denied", exitCode: 73)
        case EROFS: return Failure(message: "cannot write '\(path)': the file system is read-only", exitCode: 73)
        case ENOSPC, EDQUOT: return Failure(message: "cannot write '\(path)': the disk is full", exitCode: 73)
        default: return Failure(message: "cannot write '\(path)': \(InputFile.systemWords(code))", exitCode: 73)
        }
    }
}
