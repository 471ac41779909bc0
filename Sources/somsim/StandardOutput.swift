#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// Standard output as a buffered `TextOutputStream`, for reports written a piece at a time
/// (`ReportRenderer.write`): 64 KiB go to descriptor 1 at once. Call `flush()` when done; it
/// first flushes C's `stdout`, which `print` writes to, so that earlier text comes first.
struct StandardOutput: TextOutputStream {
    private var buffer: [UInt8] = []
    private static let capacity = 1 << 16

    mutating func write(_ string: String) {
        buffer.append(contentsOf: string.utf8)
        if buffer.count >= Self.capacity { flush() }
    }

    mutating func flush() {
        fflush(nil)
        var start = 0
        while start < buffer.count {
            let n = buffer[start...].withUnsafeBytes { systemWrite(1, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            // A reader that went away (EPIPE) or a full disk: nothing more can be written.
            guard n > 0 else { break }
            start += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
