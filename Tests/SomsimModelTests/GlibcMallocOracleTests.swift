import Foundation
import SomsimModel
import Testing

/// GlibcMalloc against the real glibc of this machine: docs/kernel-facts/malloc-oracle.c is
/// compiled here, runs seeded random scripts of malloc/calloc/realloc/free/mallopt, and prints
/// after every call the result's offset from the initial break (or its mapped chunk's size and
/// pages), the break, the state of every heap page from /proc/self/pagemap, and mallinfo2's arena,
/// free bytes, top size and mapped bytes, and (the oracle's -w) the minor faults the call took and
/// the pages of the heap and of the mapped chunks it wrote (a userfaultfd's asynchronous write
/// protection, armed before each call). The model runs the same script on a recording host whose
/// heap starts at the same page offset and counts the same faults from its accesses (a first touch,
/// a write to a zero page, a first write to a page present before the call); every line must be
/// equal. Together with the page states before and after, equal fault counts also mean the same
/// pages were read while untouched (mapping the zero page) and the same of them written afterwards.
/// SOMSIM_MALLOC_ORACLE_SEEDS=FIRST-LAST runs other seeds (by hand; the default is 1-100). The
/// oracle turns transparent huge pages off for itself (PR_SET_THP_DISABLE), so the machine's THP
/// settings, which a `validate` running beside it changes, do not reach its heap.
@Suite(.serialized) struct GlibcMallocOracleTests {
    static let scripts = 100
    static let opsPerScript = 400

    /// SplitMix64: the scripts depend on the seed only.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: UInt64) -> UInt64 { next() % n }
        mutating func within(_ range: ClosedRange<UInt64>) -> UInt64 {
            range.lowerBound + below(range.upperBound - range.lowerBound + 1)
        }
    }

    /// A script of `count` operations for `seed`: sizes spread over tcache, fastbin, small and
    /// large bins, the consolidation and trim thresholds and mapped chunks; bursts of equal sizes
    /// (fill the tcache, then fastbins); reallocs that grow, shrink, move and free; mallopt variants.
    static func script(seed: UInt64, count: Int) -> [MallocScriptOp] {
        var random = Random(state: seed)
        var ops: [MallocScriptOp] = []
        let slots = 48
        var live = Array(repeating: false, count: slots)
        var sizes = Array(repeating: UInt64(0), count: slots)
        let popular = (0..<6).map { _ in random.within(1...1100) }

        switch seed % 10 {
        case 6: ops.append(.mallopt(.mmapThreshold, 65536))
        case 7:
            ops.append(.mallopt(.trimThreshold, 262_144))
            ops.append(.mallopt(.topPad, 4096))
        case 8: ops.append(.mallopt(.mmapMax, 0))
        case 9: ops.append(.mallopt(.maxFast, 0))
        case 5:
            // The break meets a mapping 1-3 MiB up: sbrk fails, sysmalloc falls back to mmap.
            ops.append(.blockBreak(random.within(256...768) * 4096))
        default: break
        }

        func size() -> UInt64 {
            let r = random.below(100)
            if r < 10 { return popular[Int(random.below(UInt64(popular.count)))] }
            switch r {
            case ..<35: return random.within(0...128)
            case ..<55: return random.within(129...1040)
            case ..<68: return random.within(1041...8192)
            case ..<80: return random.within(8193...65536)
            case ..<94: return random.within(65537...300_000)
            default: return random.within(300_001...900_000)
            }
        }

        while ops.count < count {
            let r = random.below(1000)
            if r < 4 {
                // A mallopt in the middle of the run (malloc_consolidate first).
                switch random.below(3) {
                case 0: ops.append(.mallopt(.mmapThreshold, Int32(random.within(4096...1_048_576))))
                case 1: ops.append(.mallopt(.trimThreshold, Int32(random.within(0...524_288))))
                default: ops.append(.mallopt(.topPad, Int32(random.within(0...262_144))))
                }
                continue
            }
            if r < 50 {
                // A burst of equal small sizes, then frees: the tcache fills, the rest go to fastbins.
                let s = random.below(2) == 0 ? random.within(1...120) : random.within(121...1040)
                let free = (0..<slots).filter { !live[$0] }.prefix(Int(random.within(8...12)))
                for slot in free {
                    ops.append(.malloc(slot, s))
                    live[slot] = true
                    sizes[slot] = s
                }
                for slot in free.shuffledDeterministically(&random) where random.below(4) != 0 {
                    ops.append(.free(slot))
                    live[slot] = false
                }
                continue
            }
            let slot = Int(random.below(UInt64(slots)))
            let c = random.below(100)
            if c < 40 && !live[slot] {
                let s = size()
                ops.append(.malloc(slot, s))
                live[slot] = true
                sizes[slot] = s
            } else if c < 52 && !live[slot] {
                let s = size()
                ops.append(.calloc(slot, s))
                live[slot] = true
                sizes[slot] = s
            } else if c < 72 {
                let old = sizes[slot]
                let k = random.below(10)
                let s: UInt64
                if k < 4 && live[slot] {
                    s = max(1, old / 2 + random.within(0...old))  // 50%..150%
                } else if k == 4 {
                    s = 0
                } else {
                    s = size()
                }
                ops.append(.realloc(slot, s))
                if s == 0 { live[slot] = false } else { live[slot] = true; sizes[slot] = s }
            } else if live[slot] {
                ops.append(.free(slot))
                live[slot] = false
            } else {
                let s = size()
                ops.append(.malloc(slot, s))
                live[slot] = true
                sizes[slot] = s
            }
        }
        return Array(ops.prefix(count))
    }

    /// Compiles the oracle into `directory`; nil (with an issue recorded) when no C compiler runs.
    static func buildOracle(in directory: URL) -> URL? {
        let source = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/kernel-facts/malloc-oracle.c")
        let binary = directory.appendingPathComponent("malloc-oracle")
        var failures: [String] = []
        for compiler in ["cc", "clang", "gcc"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [compiler, "-O1", "-fno-builtin", "-o", binary.path, source.path]
            let errors = Pipe()
            process.standardError = errors
            do {
                try process.run()
            } catch {
                failures.append("\(compiler): \(error)")
                continue
            }
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            if process.terminationStatus == 0 { return binary }
            failures.append("\(compiler) exited \(process.terminationStatus): \(message)")
        }
        Issue.record("cannot compile the malloc oracle (no working cc, clang or gcc): \(failures.joined(separator: "; "))")
        return nil
    }

    /// Runs the oracle on `ops`: its output lines.
    static func runOracle(_ oracle: URL, _ ops: [MallocScriptOp], in directory: URL, seed: UInt64) throws -> [String] {
        let scriptFile = directory.appendingPathComponent("script-\(seed)")
        try (ops.map(\.description).joined(separator: "\n") + "\n").write(to: scriptFile, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = oracle
        process.arguments = [scriptFile.path, "-i", "-w"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "oracle exited \(process.terminationStatus) on seed \(seed)")
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Compares one script: the first differing line is recorded with the seed and the ops before it.
    static func compare(seed: UInt64, ops: [MallocScriptOp], oracle: URL, directory: URL) throws -> Bool {
        let lines = try runOracle(oracle, ops, in: directory, seed: seed)
        guard let first = lines.first, first.hasPrefix("init brkoff=") else {
            Issue.record("seed \(seed): oracle printed no init line: \(lines.prefix(3))")
            return false
        }
        let brkOffset = UInt64(first.dropFirst("init brkoff=".count), radix: 16) ?? 0
        #expect(brkOffset == 0, "seed \(seed): the initial break is not page aligned (\(brkOffset)); page 0 would mix bss")
        var runner = MallocScriptRunner(heapStart: 0x5555_5555_6000 + brkOffset)
        runner.withWrites = true
        #expect(lines.count == ops.count + 1, "seed \(seed): oracle printed \(lines.count - 1) of \(ops.count) lines")
        for (index, op) in ops.enumerated() where index + 1 < lines.count {
            let expected = lines[index + 1]
            let actual = "\(index) " + runner.run(op)
            if expected != actual {
                let context = ops[max(0, index - 12)...index].map(\.description).joined(separator: "; ")
                Issue.record("seed \(seed), op \(index) (\(op)):\n real:  \(expected)\n model: \(actual)\n last ops: \(context)")
                return false
            }
        }
        return true
    }

    @Test func modelMatchesTheRealGlibcOnSeededScripts() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("somsim-malloc-oracle-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        guard let oracle = Self.buildOracle(in: directory) else { return }
        var failed: [UInt64] = []
        var seeds = 1...UInt64(Self.scripts)
        if let text = ProcessInfo.processInfo.environment["SOMSIM_MALLOC_ORACLE_SEEDS"] {
            let bounds = text.split(separator: "-").compactMap { UInt64($0) }
            if bounds.count == 2, bounds[0] <= bounds[1] { seeds = bounds[0]...bounds[1] }
        }
        for seed in seeds {
            let ops = Self.script(seed: seed, count: Self.opsPerScript)
            if try !Self.compare(seed: seed, ops: ops, oracle: oracle, directory: directory) { failed.append(seed) }
        }
        #expect(failed.isEmpty, "scripts differing from the real glibc: seeds \(failed)")
    }

    @Test func handWrittenScriptsMatchTheRealGlibc() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("somsim-malloc-oracle-hand-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        guard let oracle = Self.buildOracle(in: directory) else { return }
        // The unit tests' scenarios (GlibcMallocTests), and mallopt's acceptance of a threshold
        // above HEAP_MAX_SIZE / 2 (glibc 2.36 returns 1).
        let scripts: [[MallocScriptOp]] = [
            [.malloc(0, 24), .malloc(1, 24), .free(0), .malloc(2, 20)],
            [.malloc(0, 100_000), .malloc(1, 100_000), .free(1)],
            [.malloc(0, 131_056), .free(0), .malloc(1, 131_056)],
            [.calloc(0, 120_000), .calloc(1, 120_000), .calloc(2, 200_000)],
            [.malloc(0, 100), .realloc(0, 4096), .malloc(1, 24), .realloc(0, 8192), .realloc(0, 0)],
            [.malloc(0, 200_000), .realloc(0, 400_000), .realloc(0, 399_000)],
            [.mallopt(.mmapThreshold, 300_000_000), .malloc(0, 40_000_000), .free(0)],
            [.mallopt(.mmapMax, 0), .malloc(0, 778_260), .realloc(0, 399_863), .calloc(1, 162_163)],
            [.malloc(0, 2000), .malloc(1, 2000), .malloc(2, 24), .free(0), .free(1), .malloc(3, 4000)],
            // _int_malloc's use_top retry: top (0x40 left) cannot serve, fastbins hold a chunk:
            // malloc_consolidate, then sysmalloc.
            [.malloc(0, 24), .malloc(1, 24), .malloc(2, 24), .malloc(3, 24), .malloc(4, 24), .malloc(5, 24),
             .malloc(6, 24), .malloc(7, 24), .malloc(8, 134_184),
             .free(0), .free(1), .free(2), .free(3), .free(4), .free(5), .free(6), .free(7), .malloc(9, 200)],
            // unlink_chunk of a large chunk heading its size group (0x500 twice, 0x520 once, one
            // bin): freeing the chunk before it reroutes the fd_nextsize list to the second 0x500.
            [.malloc(0, 1112), .malloc(1, 1272), .malloc(2, 24), .malloc(3, 1272), .malloc(4, 24),
             .malloc(5, 1304), .malloc(6, 24), .free(1), .free(3), .free(5), .malloc(7, 8184), .free(0),
             .malloc(8, 1272), .malloc(9, 1272)],
            [.malloc(0, 24), .blockBreak(0x22000), .mallopt(.mmapMax, 0), .malloc(1, 0x30000 - 24), .malloc(2, 24),
             .free(1), .malloc(3, 0x100000), .malloc(4, 100), .free(3)],
            // The allocator calls of p0 in a random validation workload (gen-malloc seed 359,
            // `machine mmap-threshold=1048576B`): the realloc of o11 (294662 -> 508666 bytes)
            // cannot grow into top (too small): _int_malloc's sysmalloc extends top by brk and
            // returns the chunk right after o11, which _int_realloc merges in place.
            [.mallopt(.mmapThreshold, 1_048_576), .calloc(1, 66689), .free(1), .malloc(2, 979), .malloc(3, 0),
             .calloc(4, 188_464), .malloc(6, 40), .realloc(3, 7763), .free(3), .realloc(4, 939), .malloc(9, 41662),
             .malloc(11, 294_662), .malloc(13, 54947), .calloc(15, 90541), .free(9), .realloc(11, 508_666),
             .malloc(18, 78), .malloc(19, 817), .free(19), .malloc(20, 315), .malloc(21, 248)],
        ]
        for (index, ops) in scripts.enumerated() {
            _ = try Self.compare(seed: 1_000_000 + UInt64(index), ops: ops, oracle: oracle, directory: directory)
        }
    }
}

extension Array {
    /// A Fisher–Yates shuffle driven by the script's own generator.
    func shuffledDeterministically(_ random: inout GlibcMallocOracleTests.Random) -> [Element] {
        var copy = self
        if copy.count < 2 { return copy }
        for i in stride(from: copy.count - 1, to: 0, by: -1) {
            copy.swapAt(i, Int(random.below(UInt64(i + 1))))
        }
        return copy
    }
}

extension ArraySlice {
    func shuffledDeterministically(_ random: inout GlibcMallocOracleTests.Random) -> [Element] {
        Array(self).shuffledDeterministically(&random)
    }
}
