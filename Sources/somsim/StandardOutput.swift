#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
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
        // A reader that went away (EPIPE) or a full disk: nothing more can be written.
        writeAll(1, buffer[...])
        buffer.removeAll(keepingCapacity: true)
    }
}
