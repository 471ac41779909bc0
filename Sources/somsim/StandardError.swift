#if canImport(Glibc)
    import Glibc
    private let systemWrite = Glibc.write
#elseif canImport(Darwin)
    import Darwin
    private let systemWrite = Darwin.write
#endif

/// Writes `text` to standard error at once: the messages of commands that fail. (With libc's
/// `write`, so that the command line needs no Foundation: the static binary links only
/// FoundationEssentials, through argument-parser.)
func writeStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    var start = 0
    while start < bytes.count {
        let n = bytes[start...].withUnsafeBytes { systemWrite(2, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { break }
        start += n
    }
}
