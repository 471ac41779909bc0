#if os(Linux)
import Glibc
import SomsimWorkload

/// Why `somsim record` could not record, with the exit code it gives (sysexits.h).
public enum RecordError: Error, CustomStringConvertible, Equatable {
    case notRoot
    case noProcess(Int32)
    case kernelThread(Int32)
    case zombie(Int32)
    case vanished(Int32, String)
    case changed(Int32, String)
    case cannotRead(String, String)

    public var description: String {
        switch self {
        case .notRoot:
            return "recording needs root: /proc/PID/pagemap shows page frame numbers, and /proc/kpagecount and /proc/kpageflags open, only with CAP_SYS_ADMIN; run it with sudo"
        case .noProcess(let pid): return "no process \(pid) (/proc/\(pid) does not exist)"
        case .kernelThread(let pid): return "process \(pid) is a kernel thread: it has no memory of its own to record"
        case .zombie(let pid): return "process \(pid) has exited and waits for its parent to reap it (a zombie): it has no memory left to record"
        case .vanished(let pid, let what): return "process \(pid) exited while it was being recorded (\(what)); nothing was written"
        case .changed(let pid, let what): return "process \(pid) changed while it was being recorded (\(what)); nothing was written; record again (without --no-stop, the tree is stopped while it is read)"
        case .cannotRead(let path, let error): return "cannot read \(path): \(error)"
        }
    }

    /// EX_NOPERM 77, EX_NOINPUT 66, EX_DATAERR 65, EX_TEMPFAIL 75, EX_IOERR 74.
    public var exitCode: Int32 {
        switch self {
        case .notRoot: return 77
        case .noProcess, .vanished: return 66
        case .kernelThread, .zombie: return 65
        case .changed: return 75
        case .cannotRead: return 74
        }
    }
}

/// Reads live processes' memory into a `RecordSnapshot` (`somsim record`): /proc/PID/maps,
/// smaps and pagemap, and /proc/kpagecount and /proc/kpageflags for the frames more than one
/// process may map. Pagemap is read in preads of 64 Ki entries (256 MiB of address space) and
/// turned into runs at once, so the cost follows the pages present, and the frame files are read
/// for non-exclusive pages only, sorted, in windows.
public enum Recorder {
    public struct Options: Sendable {
        public var pids: [Int32]
        /// Follow children (/proc/PID/task/*/children), recursively.
        public var tree: Bool
        /// SIGSTOP the processes while they are read (and SIGCONT them after).
        public var stop: Bool

        public init(pids: [Int32], tree: Bool, stop: Bool = true) {
            self.pids = pids
            self.tree = tree
            self.stop = stop
        }
    }

    struct Stat {
        var state: Character
        var ppid: Int32
        var flags: UInt64
        var startTime: UInt64
        var command: String
    }

    static func stat(_ pid: Int32) -> Stat? {
        guard let text = try? KernelFiles.read("/proc/\(pid)/stat"), let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let ppid = Int32(fields[1]), let flags = UInt64(fields[6]), let start = UInt64(fields[19]) else { return nil }
        return Stat(state: state, ppid: ppid, flags: flags, startTime: start, command: String(text[text.index(after: open)..<close]))
    }

    static func children(_ pid: Int32) -> [Int32] {
        guard let dir = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(dir) }
        var out: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard Int32(name) != nil, let text = try? KernelFiles.read("/proc/\(pid)/task/\(name)/children") else { continue }
            out += text.split(separator: " ").compactMap { Int32($0.trimmingWhitespace) }
        }
        return out
    }

    /// Reads the processes (and with `tree` their descendants) and returns the snapshot.
    public static func snapshot(_ options: Options) throws -> RecordSnapshot {
        guard geteuid() == 0 else { throw RecordError.notRoot }
        var pids: [Int32] = []
        var seen: Set<Int32> = []
        var queue = options.pids
        var stats: [Int32: Stat] = [:]
        while !queue.isEmpty {
            var pid = queue.removeFirst()
            // A thread's id names its process (the thread group): record the process once.
            if let status = try? KernelFiles.keyValues("/proc/\(pid)/status"), let tgid = status["Tgid"], tgid != UInt64(pid), tgid > 0 {
                pid = Int32(tgid)
            }
            // Never this process itself (`somsim record $$ --tree` meets it): it would stop itself.
            guard !seen.contains(pid), pid != getpid() else { continue }
            seen.insert(pid)
            guard let s = stat(pid) else {
                throw options.pids.contains(pid) ? RecordError.noProcess(pid) : RecordError.vanished(pid, "/proc/\(pid)/stat is gone")
            }
            if s.flags & 0x0020_0000 != 0 { throw RecordError.kernelThread(pid) }  // PF_KTHREAD
            if s.state == "Z" || s.state == "X" { throw RecordError.zombie(pid) }
            stats[pid] = s
            pids.append(pid)
            if options.tree { queue += children(pid) }
        }

        // While the processes are stopped, SIGINT, SIGTERM and SIGHUP wait: a Ctrl-C then ends
        // the recording only after they are continued (a SIGKILL would leave them stopped:
        // `kill -CONT` them).
        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&blocked, signal) }
        if options.stop { pthread_sigmask(SIG_BLOCK, &blocked, &previous) }
        var stopped: [Int32] = []
        defer {
            for pid in stopped { kill(pid, SIGCONT) }
            if options.stop { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        }
        if options.stop {
            for pid in pids where stats[pid]!.state != "T" && stats[pid]!.state != "t" {
                if kill(pid, SIGSTOP) == 0 { stopped.append(pid) }
            }
            for pid in stopped {
                var polls = 0
                while true {
                    guard let s = stat(pid) else { throw RecordError.vanished(pid, "it exited when stopped") }
                    if s.state == "T" || s.state == "t" { break }
                    polls += 1
                    if polls > 5000 { throw RecordError.changed(pid, "it did not stop within 5 s") }
                    var ts = timespec(tv_sec: 0, tv_nsec: 1_000_000)
                    nanosleep(&ts, nil)
                }
            }
        }

        // The kernel may move a page (compaction, NUMA balancing) between the reads of two
        // processes or before its frame is looked up, even while the processes are stopped:
        // then a frame reads as unmapped, or a page's frame number changed. It may also split
        // a THP in place (the frames stay, the folio is no longer a THP) after smaps counted
        // it. Such a snapshot is read again, up to three times.
        var processes: [RecordSnapshot.Process] = []
        var attempt = 0
        while true {
            attempt += 1
            processes = try readProcesses(pids: pids, stats: stats, recorded: seen)
            if let moved = try framesMoved(processes) {
                if attempt < 3 { continue }
                throw RecordError.changed(moved, "page frames moved (compaction or migration) while they were read, three times in a row")
            }
            if let split = try thpsChanged(processes) {
                if attempt < 3 { continue }
                throw RecordError.changed(split, "its THPs were split or collapsed while they were read, three times in a row")
            }
            break
        }
        inferUnknownFrames(&processes)
        let facts = try? MachineSettings.Facts.read()
        return RecordSnapshot(processes: processes, ramBytes: facts.map { max($0.presentBytes, $0.memTotalBytes) / 4096 * 4096 } ?? 16 << 30, pti: facts?.pti)
    }

    static func readProcesses(pids: [Int32], stats: [Int32: Stat], recorded: Set<Int32>) throws -> [RecordSnapshot.Process] {
        var processes: [RecordSnapshot.Process] = []
        var frames = FrameTable()
        for pid in pids {
            let s = stats[pid]!
            var process = RecordSnapshot.Process(pid: pid, parent: recorded.contains(s.ppid) ? s.ppid : nil, command: s.command, startTime: s.startTime, vmas: [])
            let mapsPath = "/proc/\(pid)/maps"
            let before = try readProc(mapsPath, pid)
            if before.isEmpty {
                throw stat(pid) == nil ? RecordError.vanished(pid, "its maps became empty") : RecordError.zombie(pid)
            }
            var vmas = parseMaps(before)
            let smaps = try readSmaps(pid)
            let fd = open("/proc/\(pid)/pagemap", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let e = errno
                throw e == ENOENT || e == ESRCH ? RecordError.vanished(pid, "pagemap") : RecordError.cannotRead("/proc/\(pid)/pagemap", SystemCallError(e).description)
            }
            defer { close(fd) }
            for i in vmas.indices {
                guard let counters = smaps[vmas[i].start] else { throw RecordError.changed(pid, "smaps lacks the VMA at \(String(vmas[i].start, radix: 16))") }
                vmas[i].smaps = counters
                let (kind, _) = RecordBuilder.classify(vmas[i])
                guard let kind else { continue }
                if vmas[i].kernelPageBytes > 4096 {
                    try readHugePages(fd: fd, pid: pid, vma: &vmas[i], frames: &frames)
                } else {
                    try readPages(fd: fd, pid: pid, vma: &vmas[i], shared: kind == .sharedAnonymous, frames: &frames)
                }
            }
            let after = try readProc(mapsPath, pid)
            if after != before { throw RecordError.changed(pid, "/proc/\(pid)/maps differs before and after its pages were read") }
            guard let again = stat(pid), again.startTime == s.startTime else { throw RecordError.vanished(pid, "its pid now names another process") }
            process.vmas = vmas
            processes.append(process)
        }
        try frames.lookUp()
        for p in processes.indices {
            for v in processes[p].vmas.indices where !processes[p].vmas[v].pages.isEmpty {
                let unit = processes[p].vmas[v].kernelPageBytes / 4096
                processes[p].vmas[v].pages = unit > 1 ? frames.resolveHuge(processes[p].vmas[v].pages, unit: unit) : frames.resolve(processes[p].vmas[v].pages)
            }
        }
        return processes
    }

    /// Frames whose mapcount the frame files did not give (0): the recorded processes that map
    /// them, which is right unless processes outside the recording map them too (then the VMA's
    /// Pss differs from smaps and the builder leaves it out). Their folio's dirty flag, for
    /// shared memory: all dirty or all clean, as the VMA's smaps dirty bytes say.
    static func inferUnknownFrames(_ processes: inout [RecordSnapshot.Process]) {
        var holders: [UInt64: UInt64] = [:]
        for p in processes {
            for v in p.vmas {
                let unit = v.kernelPageBytes / 4096
                for run in v.pages where run.mapcount == 0 { for j in stride(from: 0, to: run.count, by: Int(unit)) { holders[run.pfn + j, default: 0] += 1 } }
            }
        }
        guard !holders.isEmpty else { return }
        for p in processes.indices {
            for vi in processes[p].vmas.indices {
                var v = processes[p].vmas[vi]
                guard v.pages.contains(where: { $0.mapcount == 0 }) else { continue }
                let unknown = v.pages.filter { $0.mapcount == 0 }.reduce(UInt64(0)) { $0 + $1.count }
                let knownDirty = v.pages.filter { $0.mapcount != 0 && $0.dirty }.reduce(UInt64(0)) { $0 + $1.count }
                let dirtyPages = ((v.smaps["Private_Dirty"] ?? 0) + (v.smaps["Shared_Dirty"] ?? 0)) / 4
                let dirty = v.isShared ? dirtyPages >= knownDirty + unknown : true
                var out: [RecordSnapshot.PageRun] = []
                let unit = v.kernelPageBytes / 4096
                for run in v.pages {
                    guard run.mapcount == 0 else { out.append(run); continue }
                    for j in stride(from: 0, to: run.count, by: Int(unit)) {
                        var page = run
                        page.first = run.first + j
                        page.count = unit
                        page.pfn = run.pfn + j
                        page.mapcount = holders[run.pfn + j] ?? 1
                        page.dirty = dirty
                        if let last = out.last, last.first + last.count == page.first, last.pfn + last.count == page.pfn, last.mapcount == page.mapcount,
                            last.dirty == page.dirty, last.exclusive == page.exclusive, last.pmdTHP == page.pmdTHP
                        {
                            out[out.count - 1].count += unit
                        } else {
                            out.append(page)
                        }
                    }
                }
                v.pages = out
                processes[p].vmas[vi] = v
            }
        }
    }

    /// A pid whose pages moved while the snapshot was read, or nil: a run of frames that
    /// pagemap no longer shows at its pages.
    static func framesMoved(_ processes: [RecordSnapshot.Process]) throws -> Int32? {
        for p in processes {
            let fd = open("/proc/\(p.pid)/pagemap", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RecordError.vanished(p.pid, "pagemap") }
            defer { close(fd) }
            for v in p.vmas {
                for run in v.pages where run.pfn != 0 {
                    var entries = [UInt64](repeating: 0, count: Int(run.count))
                    let want = entries.count * 8
                    let got = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t((v.start / 4096 + run.first) * 8)) }
                    guard got == want else { throw RecordError.vanished(p.pid, "pagemap") }
                    for (j, e) in entries.enumerated() where e & present == 0 || e & pfnMask != run.pfn + UInt64(j) { return p.pid }
                }
            }
        }
        return nil
    }

    /// A pid whose THPs changed while the snapshot was read, or nil: a VMA whose PMD-mapped THPs
    /// (pagemap's 2 MiB blocks that kpageflags still calls THPs) differ from the AnonHugePages
    /// its smaps gave, and whose smaps now gives another AnonHugePages. A difference that smaps
    /// read again confirms is the VMA's own (512 frames of a THP mapped by PTEs, say): the
    /// builder leaves that family out with the difference as its reason.
    static func thpsChanged(
        _ processes: [RecordSnapshot.Process], smapsNow: (Int32) throws -> [UInt64: [String: UInt64]] = readSmaps
    ) throws -> Int32? {
        for p in processes {
            var now: [UInt64: [String: UInt64]]?
            for v in p.vmas where v.kernelPageBytes == 4096 && !v.isShared && RecordBuilder.classify(v).0 != nil {
                guard let counted = v.smaps["AnonHugePages"] else { continue }
                let shown = v.pages.reduce(UInt64(0)) { $0 + ($1.pmdTHP ? $1.count * 4 : 0) }
                guard shown != counted else { continue }
                if now == nil { now = try smapsNow(p.pid) }
                if now?[v.start]?["AnonHugePages"] != counted { return p.pid }
            }
        }
        return nil
    }

    static func readProc(_ path: String, _ pid: Int32) throws -> String {
        do {
            return try KernelFiles.read(path)
        } catch ProbeError.cannotRead(_, let error) {
            if error.rawValue == ENOENT || error.rawValue == ESRCH { throw RecordError.vanished(pid, path) }
            throw RecordError.cannotRead(path, error.description)
        }
    }

    static func parseMaps(_ text: String) -> [RecordSnapshot.VMA] {
        var out: [RecordSnapshot.VMA] = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard parts.count >= 5, let dash = parts[0].firstIndex(of: "-"), let start = UInt64(parts[0][..<dash], radix: 16),
                let end = UInt64(parts[0][parts[0].index(after: dash)...], radix: 16), let offset = UInt64(parts[2], radix: 16), let inode = UInt64(parts[4])
            else { continue }
            out.append(
                RecordSnapshot.VMA(
                    start: start, end: end, permissions: String(parts[1]), offset: offset, device: String(parts[3]), inode: inode,
                    path: parts.count > 5 ? parts[5].trimmingWhitespace : ""))
        }
        return out
    }

    static func readSmaps(_ pid: Int32) throws -> [UInt64: [String: UInt64]] {
        let text = try readProc("/proc/\(pid)/smaps", pid)
        var out: [UInt64: [String: UInt64]] = [:]
        var current: UInt64?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = parts.first else { continue }
            if !first.hasSuffix(":"), let dash = first.firstIndex(of: "-"), let start = UInt64(first[..<dash], radix: 16) {
                current = start
                out[start] = [:]
                continue
            }
            guard let c = current, parts.count >= 2, let v = UInt64(parts[1]) else { continue }
            out[c]![String(first.dropLast())] = v
        }
        return out
    }

    /// A HugeTLB VMA's pages: one run per huge page present (pagemap has an entry for each of its
    /// 4 KiB pages; the first says it all), merged while frames follow each other.
    static func readHugePages(fd: Int32, pid: Int32, vma: inout RecordSnapshot.VMA, frames: inout FrameTable) throws {
        let unit = vma.kernelPageBytes / 4096
        var runs: [RecordSnapshot.PageRun] = []
        var page = vma.start / 4096
        while page < vma.end / 4096 {
            var e: UInt64 = 0
            let got = pread(fd, &e, 8, off_t(page * 8))
            guard got == 8 else {
                if got < 0 && (errno == ESRCH || errno == ENOENT) { throw RecordError.vanished(pid, "pagemap") }
                throw RecordError.cannotRead("/proc/\(pid)/pagemap", SystemCallError(got < 0 ? errno : EIO).description)
            }
            if e & present != 0 {
                let pfn = e & pfnMask, exclusive = e & exclusiveBit != 0, index = page - vma.start / 4096
                if var last = runs.last, last.first + last.count == index, last.exclusive == exclusive, last.pfn + last.count == pfn {
                    last.count += unit
                    runs[runs.count - 1] = last
                } else {
                    runs.append(RecordSnapshot.PageRun(first: index, count: unit, pfn: pfn, exclusive: exclusive))
                }
                frames.need(pfn, count: 1, mapcounts: true)
            } else if e & swapped != 0 {
                vma.problem = "HugeTLB pages that pagemap does not show present"
            }
            page += unit
        }
        vma.pages = runs
    }

    static let present: UInt64 = 1 << 63
    static let swapped: UInt64 = 1 << 62
    static let exclusiveBit: UInt64 = 1 << 56
    static let pfnMask: UInt64 = (1 << 55) - 1
    static let chunkPages: UInt64 = 65536

    /// The VMA's present pages as runs: exclusive private pages merged whatever their frames,
    /// others by consecutive frames; whole 2 MiB blocks of consecutive frames from a 2 MiB
    /// aligned frame as THP candidates (confirmed from kpageflags).
    static func readPages(fd: Int32, pid: Int32, vma: inout RecordSnapshot.VMA, shared: Bool, frames: inout FrameTable) throws {
        var runs: [RecordSnapshot.PageRun] = []
        var buffer = [UInt64](repeating: 0, count: Int(chunkPages))
        let firstPage = vma.start / 4096, endPage = vma.end / 4096
        var chunkStart = firstPage
        var swappedPages: UInt64 = 0
        while chunkStart < endPage {
            let chunkEnd = min(endPage, (chunkStart / chunkPages + 1) * chunkPages)
            let n = Int(chunkEnd - chunkStart)
            try buffer.withUnsafeMutableBytes { raw in
                var done = 0
                while done < n * 8 {
                    let got = pread(fd, raw.baseAddress! + done, n * 8 - done, off_t(chunkStart * 8) + off_t(done))
                    if got < 0 && errno == EINTR { continue }
                    if got <= 0 {
                        let e = got < 0 ? errno : EIO
                        if e == ESRCH || e == ENOENT { throw RecordError.vanished(pid, "pagemap") }
                        throw RecordError.cannotRead("/proc/\(pid)/pagemap", SystemCallError(e).description)
                    }
                    done += got
                }
            }
            var k = 0
            while k < n {
                let page = chunkStart + UInt64(k)
                let e = buffer[k]
                if e & present == 0 {
                    if e & swapped != 0 { swappedPages += 1 }
                    k += 1
                    continue
                }
                let pfn = e & pfnMask
                let exclusive = e & exclusiveBit != 0
                // A THP candidate: an aligned block inside the VMA, 512 consecutive frames.
                if !shared && page % 512 == 0 && page + 512 <= endPage && k + 512 <= n && pfn % 512 == 0 {
                    var whole = true
                    var allExclusive = true
                    for j in 0..<512 {
                        let f = buffer[k + j]
                        if f & present == 0 || f & pfnMask != pfn + UInt64(j) { whole = false; break }
                        if f & exclusiveBit == 0 { allExclusive = false }
                    }
                    if whole {
                        runs.append(RecordSnapshot.PageRun(first: page - firstPage, count: 512, pfn: pfn, exclusive: allExclusive, pmdTHP: true))
                        frames.need(pfn, count: 512, mapcounts: !allExclusive)
                        k += 512
                        continue
                    }
                }
                let index = page - firstPage
                if var last = runs.last, !last.pmdTHP, last.first + last.count == index, last.exclusive == exclusive,
                    (exclusive && !shared) || last.pfn + last.count == pfn
                {
                    last.count += 1
                    runs[runs.count - 1] = last
                } else {
                    runs.append(RecordSnapshot.PageRun(first: index, count: 1, pfn: exclusive && !shared ? 0 : pfn, exclusive: exclusive))
                }
                if !exclusive || shared { frames.need(pfn, count: 1, mapcounts: true) }
                k += 1
            }
            chunkStart = chunkEnd
        }
        if swappedPages > 0 { vma.problem = "\(swappedPages * 4096) bytes swapped out, which the model does not have" }
        vma.pages = runs
    }
}

/// The frames whose /proc/kpagecount and /proc/kpageflags the recording needs, read sorted
/// in windows of consecutive frames.
struct FrameTable {
    private var wanted: [UInt64] = []
    private var pfns: [UInt64] = []
    private var counts: [UInt64] = []
    private var flags: [UInt64] = []

    static let dirtyFlag: UInt64 = 1 << 4
    static let thpFlag: UInt64 = 1 << 22
    static let zeroFlag: UInt64 = 1 << 24

    mutating func need(_ pfn: UInt64, count: Int, mapcounts: Bool) {
        if mapcounts {
            for j in 0..<UInt64(count) { wanted.append(pfn + j) }
        } else {
            wanted.append(pfn)
        }
    }

    mutating func lookUp() throws {
        wanted.sort()
        for p in wanted where pfns.last != p { pfns.append(p) }
        wanted = []
        counts = try Self.read("/proc/kpagecount", pfns)
        flags = try Self.read("/proc/kpageflags", pfns)
    }

    static func read(_ path: String, _ pfns: [UInt64]) throws -> [UInt64] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RecordError.cannotRead(path, SystemCallError(errno).description) }
        defer { close(fd) }
        var out = [UInt64](repeating: 0, count: pfns.count)
        var window = [UInt64](repeating: 0, count: 4096)
        var i = 0
        while i < pfns.count {
            let base = pfns[i]
            var j = i
            while j < pfns.count && pfns[j] - base < 4096 { j += 1 }
            let n = Int(pfns[j - 1] - base + 1)
            try window.withUnsafeMutableBytes { raw in
                var done = 0
                while done < n * 8 {
                    let got = pread(fd, raw.baseAddress! + done, n * 8 - done, off_t(base * 8) + off_t(done))
                    if got < 0 && errno == EINTR { continue }
                    guard got > 0 else { throw RecordError.cannotRead(path, SystemCallError(got < 0 ? errno : EIO).description) }
                    done += got
                }
            }
            for k in i..<j { out[k] = window[Int(pfns[k] - base)] }
            i = j
        }
        return out
    }

    func index(_ pfn: UInt64) -> Int? {
        var lo = 0, hi = pfns.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if pfns[mid] < pfn { lo = mid + 1 } else { hi = mid }
        }
        return lo < pfns.count && pfns[lo] == pfn ? lo : nil
    }

    /// Runs with mapcounts, dirty flags and THPs filled in from the frame files: runs split
    /// where those differ, zero pages dropped, THP candidates that are not THPs made plain.
    func resolve(_ runs: [RecordSnapshot.PageRun]) -> [RecordSnapshot.PageRun] {
        var out: [RecordSnapshot.PageRun] = []
        for run in runs {
            var run = run
            if run.pmdTHP {
                guard let h = index(run.pfn) else { continue }
                if flags[h] & Self.zeroFlag != 0 { continue }  // the huge zero page
                if flags[h] & Self.thpFlag == 0 { run.pmdTHP = false }
                if index(run.pfn + 1) != nil {
                    out += split(run)
                } else if run.pmdTHP {
                    out.append(run)
                } else {
                    run.pfn = 0  // exclusive 4 KiB pages whose frames happen to follow each other
                    out.append(run)
                }
                continue
            }
            if run.exclusive && index(run.pfn) == nil {
                out.append(run)
                continue
            }
            out += split(run)
        }
        return out
    }

    /// HugeTLB runs: the mapcount of each huge page from its first frame (0 when unknown).
    func resolveHuge(_ runs: [RecordSnapshot.PageRun], unit: UInt64) -> [RecordSnapshot.PageRun] {
        var out: [RecordSnapshot.PageRun] = []
        for run in runs {
            var h: UInt64 = 0
            while h < run.count {
                let pfn = run.pfn + h
                var page = RecordSnapshot.PageRun(first: run.first + h, count: unit, pfn: pfn, exclusive: run.exclusive, mapcount: 1, dirty: true)
                if let i = index(pfn) {
                    page.mapcount = counts[i] == 0 && flags[i] == 0 ? 0 : max(counts[i], 1)
                }
                if var last = out.last, last.first + last.count == page.first, last.pfn + last.count == page.pfn, last.mapcount == page.mapcount,
                    last.exclusive == page.exclusive
                {
                    last.count += unit
                    out[out.count - 1] = last
                } else {
                    out.append(page)
                }
                h += unit
            }
        }
        return out
    }

    /// Splits a run of consecutive frames where mapcount or the dirty flag change.
    private func split(_ run: RecordSnapshot.PageRun) -> [RecordSnapshot.PageRun] {
        var out: [RecordSnapshot.PageRun] = []
        for j in 0..<run.count {
            guard let i = index(run.pfn + j) else { continue }
            let f = flags[i]
            if f & Self.zeroFlag != 0 { continue }
            // Some frames read as 0 in both files although a process maps them (seen on this
            // VM for frames of its highest memory section): their mapcount is left 0, unknown,
            // for `Recorder.inferUnknownFrames`.
            let unknown = counts[i] == 0 && f == 0
            let mapcount = unknown ? 0 : run.exclusive ? 1 : counts[i]
            let dirty = f & Self.dirtyFlag != 0
            if var last = out.last, last.first + last.count == run.first + j, last.mapcount == mapcount, last.dirty == dirty {
                last.count += 1
                out[out.count - 1] = last
            } else {
                out.append(
                    RecordSnapshot.PageRun(first: run.first + j, count: 1, pfn: run.pfn + j, exclusive: run.exclusive, mapcount: mapcount, dirty: dirty, pmdTHP: run.pmdTHP))
            }
        }
        return out
    }
}
#endif
