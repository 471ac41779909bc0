#if os(Linux)
import Foundation
import Glibc
import Testing

/// `somsim record` on a real process tree (root: pagemap frame numbers and /proc/kpage*): a
/// prefork program is recorded with --tree, the recording simulated, and every process's
/// simulated metrics compared field by field with its live smaps over the recorded mappings.
extension RealKernelTests {
    /// docs/examples/prefork-record.c: a parent with an anonymous region written before fork, a
    /// shared anonymous region, a THP region (MADV_HUGEPAGE), and three children that each write
    /// different parts of each after fork and allocate memory of their own. It prints "PARENT
    /// CHILD CHILD CHILD ANON SHARED THP" once every child is ready (a pipe, no sleeps), then
    /// waits for its standard input to close.
    static let preforkSource: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/examples/prefork-record.c")

    /// What smaps says of one process over the VMAs that start at `starts`, and its Pss worked
    /// out exactly from pagemap and /proc/kpagecount (smaps rounds each VMA's Pss down to a kB;
    /// the sum of exact values is what smaps_rollup would show for those VMAs alone). Each VMA's
    /// exact value is checked against its smaps line.
    ///
    /// `Pss_Anon` is the same sum over the anonymous frames (kpageflags KPF_ANON; where kpageflags
    /// reads empty, a pagemap entry without PM_FILE): per-VMA smaps has no Pss_Anon, and
    /// smaps_rollup's covers the whole process, file mappings' anonymous copies included.
    ///
    /// Some frames read 0 in both /proc/kpagecount and /proc/kpageflags on this VM although
    /// processes map them; for those, the number of recorded processes that map the frame
    /// (`holders`) stands in for the mapcount, and the smaps check of each VMA says whether that
    /// was right.
    static func live(pid: Int32, starts: Set<UInt64>, holders: [UInt64: UInt64]) throws -> [String: UInt64] {
        // Read to the end: /proc files report a size of 0.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/\(pid)/smaps"))
        let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        try handle.close()
        var totals: [String: UInt64] = [:]
        var current: (start: UInt64, end: UInt64)?
        var vmaFields: [(UInt64, UInt64, [String: UInt64])] = []
        for line in smaps.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = parts.first, !first.hasSuffix(":"), let dash = first.firstIndex(of: "-") {
                let start = UInt64(first[..<dash], radix: 16)!, end = UInt64(first[first.index(after: dash)...], radix: 16)!
                current = starts.contains(start) ? (start, end) : nil
                if current != nil { vmaFields.append((start, end, [:])) }
                continue
            }
            guard current != nil, parts.count >= 2, let v = UInt64(parts[1]) else { continue }
            vmaFields[vmaFields.count - 1].2[String(parts[0].dropLast())] = v
        }
        #expect(Set(vmaFields.map(\.0)) == starts, "pid \(pid): recorded VMAs missing from smaps")
        let pagemap = open("/proc/\(pid)/pagemap", O_RDONLY), counts = open("/proc/kpagecount", O_RDONLY), flags = open("/proc/kpageflags", O_RDONLY)
        defer { close(pagemap); close(counts); close(flags) }
        var pssFixed: UInt64 = 0
        var pssAnonFixed: UInt64 = 0
        for (start, end, fields) in vmaFields {
            for key in ["Rss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Hugetlb", "Shared_Hugetlb", "AnonHugePages"] {
                totals[key, default: 0] += (fields[key] ?? 0) * 1024
            }
            if (fields["KernelPageSize"] ?? 4) > 4 { continue }  // HugeTLB: in *_Hugetlb only, never in Pss
            var vmaFixed: UInt64 = 0
            var entries = [UInt64](repeating: 0, count: Int((end - start) / 4096))
            _ = entries.withUnsafeMutableBytes { pread(pagemap, $0.baseAddress, $0.count, off_t(start / 4096 * 8)) }
            for e in entries where e >> 63 == 1 {
                let pfn = e & ((1 << 55) - 1)
                var count: UInt64 = 0, flag: UInt64 = 0
                _ = pread(counts, &count, 8, off_t(pfn * 8))
                _ = pread(flags, &flag, 8, off_t(pfn * 8))
                if flag & (1 << 24) != 0 { continue }  // the zero page
                let anon = flag & (1 << 12) != 0 || (flag == 0 && e & (1 << 61) == 0)
                if count == 0 && flag == 0 { count = holders[pfn] ?? 1 }
                vmaFixed += (4096 << 12) / max(count, 1)
                if anon { pssAnonFixed += (4096 << 12) / max(count, 1) }
            }
            #expect(vmaFixed >> 22 == fields["Pss"] ?? 0, "pid \(pid) VMA \(String(start, radix: 16)): Pss from frames \(vmaFixed >> 22) kB, smaps \(fields["Pss"] ?? 0) kB")
            pssFixed += vmaFixed
        }
        totals["Pss"] = pssFixed >> 12
        totals["Pss_Anon"] = pssAnonFixed >> 12
        return totals
    }

    /// How many of `pids` map each frame, over the VMAs starting at `starts`.
    static func holders(_ starts: [Int32: Set<UInt64>], _ ranges: [Int32: [Range<UInt64>]]) -> [UInt64: UInt64] {
        var out: [UInt64: UInt64] = [:]
        for (pid, list) in ranges {
            let pagemap = open("/proc/\(pid)/pagemap", O_RDONLY)
            defer { close(pagemap) }
            for r in list where starts[pid]?.contains(r.lowerBound) == true {
                var entries = [UInt64](repeating: 0, count: Int((r.upperBound - r.lowerBound) / 4096))
                _ = entries.withUnsafeMutableBytes { pread(pagemap, $0.baseAddress, $0.count, off_t(r.lowerBound / 4096 * 8)) }
                for e in entries where e >> 63 == 1 { out[e & ((1 << 55) - 1), default: 0] += 1 }
            }
        }
        return out
    }

    /// One run of the prefork tree: everything the checks need, read while the tree was alive.
    struct TreeRun {
        var pids: [Int32]
        var regions: [UInt64]
        var text: String
        /// The recorded VMAs of each process, from the comments that name each mapping's sources.
        var ranges: [Int32: [Range<UInt64>]]
        var processes: [[String: Any]]
        var live: [Int32: [String: UInt64]]
        var states: [Int32: Substring]
        /// Each process's AnonHugePages in the THP region (kB), before the recording and after
        /// the live values were read.
        var thpBefore: [Int32: UInt64]
        var thpAfter: [Int32: UInt64]
        /// /proc/vmstat's THP split counters over the run.
        var splits: [String: Int]

        /// Why this run cannot be compared, or nil: the kernel split (or never made) the THPs the
        /// tree asks for, so the recording and the live values need not be of the same state.
        var disturbed: String? {
            if thpBefore != thpAfter {
                return "AnonHugePages in the THP region went \(thpBefore.sorted { $0.key < $1.key }.map { "\($0.value)" }) kB → \(thpAfter.sorted { $0.key < $1.key }.map { "\($0.value)" }) kB"
            }
            if (thpBefore[pids[0]] ?? 0) < 2048 { return "the parent has \(thpBefore[pids[0]] ?? 0) kB of PMD-mapped THPs when it was recorded (it wrote 4 MiB)" }
            return nil
        }
    }

    /// A process's AnonHugePages (kB) in the VMA that holds `address`, from its smaps.
    static func anonHugePages(pid: Int32, at address: UInt64) -> UInt64 {
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps") else { return 0 }
        defer { try? handle.close() }
        var inside = false
        for line in String(decoding: handle.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = parts.first else { continue }
            if !first.hasSuffix(":"), let dash = first.firstIndex(of: "-"), let lo = UInt64(first[..<dash], radix: 16),
                let hi = UInt64(first[first.index(after: dash)...], radix: 16)
            {
                inside = (lo..<hi).contains(address)
            } else if inside, first == "AnonHugePages:", parts.count >= 2 {
                return UInt64(parts[1]) ?? 0
            }
        }
        return 0
    }

    /// What memory the machine had free and this test process held, for a disturbed run's report.
    static func memoryNow() -> String {
        func kB(_ path: String, _ key: String) -> Int {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let line = text.split(separator: "\n").first { $0.hasPrefix(key) } ?? ""
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) } ?? 0
        }
        let available = kB("/proc/meminfo", "MemAvailable:"), rss = kB("/proc/self/status", "VmRSS:")
        return "MemAvailable \(available / 1024) MiB, the test process's VmRSS \(rss / 1024) MiB"
    }

    static func thpSplitCounters() -> [String: Int] {
        let text = (try? String(contentsOfFile: "/proc/vmstat", encoding: .utf8)) ?? ""
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0].hasPrefix("thp_split") || parts[0].hasPrefix("thp_deferred") || parts[0] == "thp_migration_split" {
                out[String(parts[0])] = Int(parts[1])
            }
        }
        return out
    }

    /// Starts the prefork tree, records it, simulates the recording and reads the live values.
    static func runTree(_ program: URL, in directory: URL) throws -> TreeRun {
        let tree = Process()
        tree.executableURL = program
        let input = Pipe(), output = Pipe()
        tree.standardInput = input
        tree.standardOutput = output
        try tree.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let fields = String(decoding: line, as: UTF8.self).split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        let pids = fields.prefix(4).compactMap { Int32($0) }
        defer {
            try? input.fileHandleForWriting.close()  // every process of the tree exits at EOF
            for pid in pids.dropFirst() { kill(pid, SIGKILL) }
            tree.waitUntilExit()
        }
        try #require(pids.count == 4 && fields.count == 8, "the prefork program did not start: \(fields)")
        let regions = fields[4...].map { UInt64($0, radix: 16)! }
        let splitsBefore = thpSplitCounters()
        let thpBefore = Dictionary(uniqueKeysWithValues: pids.map { ($0, anonHugePages(pid: $0, at: regions[2])) })

        let recording = directory.appendingPathComponent("tree.somw")
        let record = Process()
        record.executableURL = URL(fileURLWithPath: Self.somsim)
        record.arguments = ["record", String(pids[0]), "--tree", "-o", recording.path]
        try record.run()
        record.waitUntilExit()
        try #require(record.terminationStatus == 0)
        let text = try String(contentsOf: recording, encoding: .utf8)
        var states: [Int32: Substring] = [:]
        for pid in pids {
            let stat = (try? FileHandle(forReadingAtPath: "/proc/\(pid)/stat")?.readToEnd()).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } ?? ""
            states[pid] = stat.split(separator: ")").last?.split(separator: " ").first ?? ""
        }

        let simulate = Process()
        simulate.executableURL = URL(fileURLWithPath: Self.somsim)
        simulate.arguments = ["simulate", recording.path, "--format", "json"]
        let json = Pipe()
        simulate.standardOutput = json
        try simulate.run()
        let data = json.fileHandleForReading.readDataToEndOfFile()
        simulate.waitUntilExit()
        try #require(simulate.terminationStatus == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let measures = try #require(report["measures"] as? [[String: Any]])
        let processes = try #require(measures.last?["processes"] as? [[String: Any]])

        // The recorded VMAs, from the comments that name each mapping's sources.
        var starts: [Int32: Set<UInt64>] = [:]
        var ranges: [Int32: [Range<UInt64>]] = [:]
        for l in text.split(separator: "\n") where l.hasPrefix("# p") && !l.hasPrefix("# pid") {
            let parts = l.split(separator: " ")
            guard parts.count >= 3, let pid = Int32(parts[1].dropFirst()), let dash = parts[2].firstIndex(of: "-"),
                let start = UInt64(parts[2][..<dash], radix: 16), let end = UInt64(parts[2][parts[2].index(after: dash)...], radix: 16) else { continue }
            starts[pid, default: []].insert(start)
            ranges[pid, default: []].append(start..<end)
        }
        let holders = Self.holders(starts, ranges)
        var live: [Int32: [String: UInt64]] = [:]
        for pid in pids { live[pid] = try Self.live(pid: pid, starts: starts[pid] ?? [], holders: holders) }
        let thpAfter = Dictionary(uniqueKeysWithValues: pids.map { ($0, anonHugePages(pid: $0, at: regions[2])) })
        var splits: [String: Int] = [:]
        for (name, count) in thpSplitCounters() where count != splitsBefore[name] { splits[name] = count - (splitsBefore[name] ?? 0) }
        return TreeRun(
            pids: pids, regions: regions, text: text, ranges: ranges, processes: processes, live: live, states: states, thpBefore: thpBefore, thpAfter: thpAfter,
            splits: splits)
    }

    /// The tree is recorded while its THPs stand as the program made them. The kernel may split
    /// a THP at any time (in CI it once split one of the parent's two while the parent was being
    /// recorded; on this VM kind a DAMON pageout scheme splits THPs in regions it sees cold: see
    /// docs/record.md); the recorder then reads the snapshot again, but a split between the recording
    /// and the live values read here would compare two different states. Such a run is reported
    /// and made again with a fresh tree, up to three times; a third disturbed run fails.
    @Test func recordAPreforkTreeAndSimulateItBack() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-record-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = Self.preforkSource, program = directory.appendingPathComponent("prefork")
        // The first C compiler that builds it: cc, or the Swift toolchain's clang, or gcc.
        var built = false
        for compiler in ["cc", "clang", "gcc"] where !built {
            let cc = Process()
            cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            cc.arguments = [compiler, "-O1", "-o", program.path, source.path]
            cc.standardError = FileHandle.nullDevice
            guard (try? cc.run()) != nil else { continue }
            cc.waitUntilExit()
            built = cc.terminationStatus == 0
        }
        try #require(built, "no C compiler (cc, clang, gcc) could build the prefork program")

        // Four 2 MiB HugeTLB pages for the program's HugeTLB region, put back afterwards.
        let poolPath = "/proc/sys/vm/nr_hugepages"
        let pool = Self.number(poolPath)
        try #require(pool >= 0)
        try String(pool + 4).write(toFile: poolPath, atomically: false, encoding: .utf8)
        defer { try? String(pool).write(toFile: poolPath, atomically: false, encoding: .utf8) }

        let thpAvailable = ((try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? "").contains("[madvise]")
            || ((try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? "").contains("[always]")
        var run = try Self.runTree(program, in: directory)
        for attempt in 2...3 {
            guard thpAvailable, let why = run.disturbed else { break }
            print("record: run \(attempt - 1) not compared, the kernel changed the tree's THPs: \(why); THP split counters went up by \(run.splits); \(Self.memoryNow()); again with a fresh tree")
            run = try Self.runTree(program, in: directory)
        }
        if thpAvailable, let why = run.disturbed {
            Issue.record("the kernel changed the tree's THPs in three runs in a row; the last: \(why); THP split counters went up by \(run.splits); \(Self.memoryNow())")
        }
        let (pids, regions, text) = (run.pids, run.regions, run.text)
        #expect(regions[3] != 0, "no HugeTLB region: the pool did not grow")
        // Stopped while they were read, continued since.
        for pid in pids { #expect(run.states[pid] != "T", "pid \(pid) is still stopped") }

        for pid in pids {
            for region in regions where region != 0 {
                #expect(run.ranges[pid]?.contains { $0.contains(region) } == true, "pid \(pid): region \(String(region, radix: 16)) not recorded")
            }
        }
        // Only what the recorder does not model is left out: file mappings and the kernel's.
        for l in text.split(separator: "\n") where l.hasPrefix("# left out ") {
            #expect(l.hasSuffix("file pages (and the anonymous copies in it) are not recorded") || l.hasSuffix("the kernel's own mapping"), "\(l)")
        }

        let fieldsCompared = [
            ("rss_bytes", "Rss"), ("pss_bytes", "Pss"), ("private_clean_bytes", "Private_Clean"), ("private_dirty_bytes", "Private_Dirty"),
            ("shared_clean_bytes", "Shared_Clean"), ("shared_dirty_bytes", "Shared_Dirty"), ("private_hugetlb_bytes", "Private_Hugetlb"),
            ("shared_hugetlb_bytes", "Shared_Hugetlb"),
            ("pss_anon_bytes", "Pss_Anon"), ("anon_huge_pages_bytes", "AnonHugePages"),
        ]
        for pid in pids {
            let live = run.live[pid] ?? [:]
            let simulated = try #require(run.processes.first { $0["name"] as? String == "p\(pid)" })
            for (json, smaps) in fieldsCompared {
                let s = (simulated[json] as? NSNumber)?.uint64Value
                #expect(s == live[smaps], "pid \(pid) \(json): simulated \(s.map(String.init) ?? "nil"), live \(live[smaps] ?? 0)")
            }
            print("record: pid \(pid) live " + fieldsCompared.map { "\($0.1)=\(live[$0.1] ?? 0)" }.joined(separator: " "))
            // The children write well under a megabyte of their own; the shared regions dominate.
            #expect((live["Rss"] ?? 0) > 8 << 20)
            #expect((live["Private_Hugetlb"] ?? 0) + (live["Shared_Hugetlb"] ?? 0) == 4 << 20)
            if thpAvailable {
                #expect(live["AnonHugePages"] ?? 0 >= 2 << 20, "pid \(pid): no THP left to record")
            }
        }
    }

    /// Clear messages and exit codes, and no output file, when a recording cannot be made.
    @Test func recordRefusesWithClearMessages() throws {
        func run(_ arguments: [String], as user: Bool = false) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: user ? "/usr/bin/setpriv" : Self.somsim)
            p.arguments = user ? ["--reuid=65534", "--regid=65534", "--clear-groups", Self.somsim] + arguments : arguments
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, text)
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-record-refused-\(getpid()).somw").path
        // A pid that no longer names a process: a child that was reaped.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let (status, message) = try run(["record", String(gone.processIdentifier), "-o", out])
        #expect(status == 66 && message.contains("no process \(gone.processIdentifier)"), "\(status) \(message)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let (kthread, kmessage) = try run(["record", "2", "-o", out])  // kthreadd
        #expect(kthread == 65 && kmessage.contains("kernel thread"), "\(kthread) \(kmessage)")
        #expect(!FileManager.default.fileExists(atPath: out))
        if FileManager.default.fileExists(atPath: "/usr/bin/setpriv") {
            let (user, umessage) = try run(["record", "1"], as: true)
            #expect(user == 77 && umessage.contains("needs root"), "\(user) \(umessage)")
        }
    }
}
#endif
