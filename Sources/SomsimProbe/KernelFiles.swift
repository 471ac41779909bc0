#if os(Linux)
import Glibc
import SomsimModel
import SomsimWorkload

/// A system call's failure: its errno number, named as the model names refused calls.
public struct SystemCallError: Error, Equatable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The model's errno for this number, when it has one.
    public var errno: Errno? { Errno(code: rawValue) }

    /// `ENOMEM`, `EINVAL`, …, as the model names refused calls; `E<number>` for others.
    public var name: String { errno?.rawValue ?? "E\(rawValue)" }

    public var description: String { "\(name) (\(String(cString: strerror(rawValue))))" }
}

/// Small helpers for the kernel's text files under /proc and /sys.
enum KernelFiles {
    /// Where the symbolic link `path` points (`readlink`), e.g. a /proc/PID/map_files entry.
    static func readLink(_ path: String) throws -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { readlink(path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        guard n >= 0 else { throw ProbeError.cannotRead(path, SystemCallError(errno)) }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// The whole file as text. The corresponding C functions are `open` and `read`.
    static func read(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProbeError.cannotRead(path, SystemCallError(errno)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw ProbeError.cannotRead(path, SystemCallError(errno)) }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes a value to a /proc or /sys file. The corresponding C function is `write`.
    static func write(_ path: String, _ value: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProbeError.setting(path, value, SystemCallError(errno).description) }
        defer { close(fd) }
        let n = value.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard n == value.utf8.count else { throw ProbeError.setting(path, value, SystemCallError(errno).description) }
    }

    /// Writes `value` to `path` as `write` does, but returns the error a refused write gives
    /// (nil when it was taken whole), for calls whose errno the model predicts.
    static func writeReportingError(_ path: String, _ value: String) -> SystemCallError? {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return SystemCallError(errno) }
        defer { close(fd) }
        let n = value.withCString { Glibc.write(fd, $0, strlen($0)) }
        return n == value.utf8.count ? nil : SystemCallError(n < 0 ? errno : EIO)
    }

    static func readNumber(_ path: String) throws -> UInt64 {
        let text = try read(path).trimmingWhitespace
        guard let n = UInt64(text) else { throw ProbeError.cannotRead(path, SystemCallError(EINVAL)) }
        return n
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// `key value` lines (/proc/vmstat).
    static func vmstat() throws -> [String: UInt64] {
        var values: [String: UInt64] = [:]
        for line in try read("/proc/vmstat").split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = UInt64(parts[1]) { values[String(parts[0])] = v }
        }
        return values
    }

    /// `Key: value [kB]` lines (/proc/meminfo, /proc/PID/status): values as written (kB or counts).
    static func keyValues(_ path: String) throws -> [String: UInt64] {
        var values: [String: UInt64] = [:]
        for line in try read(path).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let rest = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let first = rest.first, let v = UInt64(first) { values[String(line[..<colon])] = v }
        }
        return values
    }

    /// `nr_memmap_boot_pages + nr_memmap_pages`: the memmap in pages.
    static func memmapPages() throws -> UInt64 {
        let v = try vmstat()
        guard let boot = v["nr_memmap_boot_pages"], let runtime = v["nr_memmap_pages"] else {
            throw ProbeError.unsupported("/proc/vmstat has no nr_memmap_pages (Linux 6.11 or later needed)")
        }
        return boot + runtime
    }
}

/// One VMA of /proc/PID/smaps with its counters in kB.
struct SmapsVMA {
    var start: UInt64
    var end: UInt64
    var permissions: String
    var name: String
    var fields: [String: UInt64] = [:]

    var kernelPageBytes: UInt64 { (fields["KernelPageSize"] ?? 4) * 1024 }
    var isHugetlb: Bool { kernelPageBytes > PageGeometry.pageBytes }
    var isPrivate: Bool { permissions.hasSuffix("p") }

    /// The VMAs of a process that lie inside `window`.
    static func read(pid: pid_t, window: Range<UInt64>) throws -> [SmapsVMA] {
        var vmas: [SmapsVMA] = []
        var inside = false
        for line in try KernelFiles.read("/proc/\(pid)/smaps").split(separator: "\n", omittingEmptySubsequences: true) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = parts.first, let dash = first.firstIndex(of: "-"), !first.hasSuffix(":"),
                let start = UInt64(first[..<dash], radix: 16), let end = UInt64(first[first.index(after: dash)...], radix: 16)
            {
                inside = start >= window.lowerBound && end <= window.upperBound
                if inside {
                    vmas.append(SmapsVMA(start: start, end: end, permissions: parts.count > 1 ? String(parts[1]) : "",
                                         name: parts.count > 5 ? parts[5...].joined(separator: " ") : ""))
                }
                continue
            }
            guard inside, parts.count >= 2, parts[0].hasSuffix(":"), let v = UInt64(parts[1]) else { continue }
            vmas[vmas.count - 1].fields[String(parts[0].dropLast())] = v
        }
        return vmas
    }
}

/// /proc/PID/pagemap, /proc/kpagecount and /proc/kpageflags (root sees page frame numbers).
final class PageFrames {
    static let present: UInt64 = 1 << 63
    static let pfnMask: UInt64 = (1 << 55) - 1
    /// PM_FILE: a file page or shared anonymous page (Documentation/admin-guide/mm/pagemap.rst).
    static let fileOrShared: UInt64 = 1 << 61
    /// kpageflags bits (include/uapi/linux/kernel-page-flags.h).
    static let anonFlag: UInt64 = 1 << 12
    static let zeroPageFlag: UInt64 = 1 << 24

    private let kpagecount: Int32
    private let kpageflags: Int32

    init() throws {
        kpagecount = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC)
        kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC)
        guard kpagecount >= 0, kpageflags >= 0 else { throw ProbeError.cannotRead("/proc/kpagecount", SystemCallError(errno)) }
    }

    deinit {
        close(kpagecount)
        close(kpageflags)
    }

    /// pagemap entries of `count` pages of 4 KiB from `address`, or of one 4 KiB page every
    /// `stepBytes` when it is larger.
    static func entries(pid: pid_t, address: UInt64, count: Int, stepBytes: UInt64 = PageGeometry.pageBytes) throws -> [UInt64] {
        let path = "/proc/\(pid)/pagemap"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProbeError.cannotRead(path, SystemCallError(errno)) }
        defer { close(fd) }
        var out = [UInt64](repeating: 0, count: count)
        if stepBytes == PageGeometry.pageBytes {
            try out.withUnsafeMutableBytes { try preadAll(fd, $0, offset: address / PageGeometry.pageBytes * 8, path: path) }
        } else {
            for i in 0..<count {
                try withUnsafeMutableBytes(of: &out[i]) {
                    try preadAll(fd, $0, offset: (address + UInt64(i) * stepBytes) / PageGeometry.pageBytes * 8, path: path)
                }
            }
        }
        return out
    }

    private static func preadAll(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, offset: UInt64, path: String) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ProbeError.cannotRead(path, SystemCallError(n < 0 ? errno : EIO)) }
            done += n
        }
    }

    /// The values of `pfns` in /proc/kpagecount or /proc/kpageflags, reading runs of
    /// consecutive frames at once.
    private func values(_ fd: Int32, _ pfns: [UInt64], path: String) throws -> [UInt64] {
        var out = [UInt64](repeating: 0, count: pfns.count)
        var i = 0
        while i < pfns.count {
            var j = i + 1
            while j < pfns.count && pfns[j] == pfns[j - 1] + 1 && j - i < 65536 { j += 1 }
            try out.withUnsafeMutableBytes { all in
                let slice = UnsafeMutableRawBufferPointer(rebasing: all[(i * 8)..<(j * 8)])
                try Self.preadAll(fd, slice, offset: pfns[i] * 8, path: path)
            }
            i = j
        }
        return out
    }

    func mapcounts(_ pfns: [UInt64]) throws -> [UInt64] { try values(kpagecount, pfns, path: "/proc/kpagecount") }
    func flags(_ pfns: [UInt64]) throws -> [UInt64] { try values(kpageflags, pfns, path: "/proc/kpageflags") }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
#endif
