#if canImport(Glibc)
    import Glibc
    private let systemWrite = Glibc.write
#elseif canImport(Darwin)
    import Darwin
    private let systemWrite = Darwin.write
#endif

/// Writes all of `bytes` to descriptor `fd`, again after EINTR and short writes; returns 0, or
/// the errno that stopped it (EIO for a write of nothing). The command line's one write loop:
/// standard error, standard output (`StandardOutput`) and `-o` files (`OutputFile`).
@discardableResult
func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Int32 {
    var start = bytes.startIndex
    while start < bytes.endIndex {
        let n = bytes[start...].withUnsafeBytes { systemWrite(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return n < 0 ? errno : EIO }
        start += n
    }
    return 0
}

/// Writes `text` to standard error at once: the messages of commands that fail. (With libc's
/// `write`, so that the command line needs no Foundation: the static binary links only
/// FoundationEssentials, through argument-parser.)
func writeStandardError(_ text: String) {
    writeAll(2, Array(text.utf8)[...])
}
