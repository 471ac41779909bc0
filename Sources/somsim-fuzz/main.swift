// somsim-fuzz: the long fuzz campaign, kept out of `swift test` (docs/fuzzing.md).
//
//   swift build -c release --product somsim-fuzz
//   .build/release/somsim-fuzz --executions 10000000 --seed 1 [--jobs 2] [--out DIR]
//   .build/release/somsim-fuzz --replay DIR/crash-1-123.somw [--profile DIR/crash-1-123.profile]
//
// Case `i` of campaign `seed` is always the same input (CaseWriter). Workers run the cases
// through every command's code path in-process — parse, simulate (md, json, csv), compare,
// explain, validate's planning, generate — and check the reports' invariants. A trap kills a
// worker: the supervisor reads the index it was on, saves the case, shrinks it to a minimal file
// that still traps, and starts a new worker after it. A case that takes longer than
// --hang-seconds is saved as a hang.
import Foundation
import SomsimModel
import SomsimProbe
import SomsimReport
import SomsimWorkload

struct Options {
    var executions: UInt64 = 1_000_000
    var seed: UInt64 = 1
    var jobs = max(1, ProcessInfo.processInfo.activeProcessorCount)
    var out = ".build/fuzz"
    var hangSeconds = 60.0
    var worker: (first: UInt64, end: UInt64, slot: Int, progress: String)?
    var replay: String?
    var profile: String?
    var corpus = ["docs/examples", "validation", "papers/workloads"]

    static func parse(_ arguments: [String]) -> Options {
        var o = Options()
        var i = 1
        func value() -> String {
            i += 1
            guard i < arguments.count else { fail("\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        func number(_ text: String) -> UInt64 {
            guard let n = UInt64(text.replacingOccurrences(of: "_", with: "")) else { fail("'\(text)' is not a number") }
            return n
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--executions": o.executions = number(value())
            case "--seed": o.seed = number(value())
            case "--jobs": o.jobs = Int(number(value()))
            case "--out": o.out = value()
            case "--hang-seconds": o.hangSeconds = Double(number(value()))
            case "--replay": o.replay = value()
            case "--dump":
                let index = number(value())
                let c = CaseWriter(corpus: readCorpus(o.corpus)).make(seed: o.seed, index: index)
                print(save(c, as: "case-\(o.seed)-\(index)", in: o.out))
                exit(0)
            case "--profile": o.profile = value()
            case "--worker":
                let parts = value().split(separator: ":")
                guard parts.count == 4 else { fail("--worker FIRST:END:SLOT:PROGRESS") }
                o.worker = (number(String(parts[0])), number(String(parts[1])), Int(number(String(parts[2]))), String(parts[3]))
            case "-h", "--help":
                print(
                    """
                    somsim-fuzz: seeded fuzz campaign over every somsim command (docs/fuzzing.md)
                      --executions N   cases to run (default 1000000)
                      --seed S         the campaign's seed (default 1); case i of seed S is always the same
                      --jobs J         worker processes (default: the processor count)
                      --out DIR        where traps, hangs and findings are saved (default .build/fuzz)
                      --hang-seconds T a case taking longer is a hang (default 60)
                      --dump I         save case I of --seed in --out (after --seed and --out)
                      --replay FILE    run one saved case (with --profile FILE for its profile; a
                                       FILE.allocmix beside it is its generator recipe)
                    """)
                exit(0)
            default: fail("unknown argument \(arguments[i]); see --help")
            }
            i += 1
        }
        return o
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("somsim-fuzz: \(message)\n".utf8))
    exit(64)
}

// MARK: - Running one case

/// Runs a case through every command's code path; returns the invariants it broke.
func run(_ c: FuzzCase, facts: MachineSettings.Facts?, compare: Bool = true, deep: Bool) -> [String] {
    var findings: [String] = []
    var profile = Profile.x86_64
    if let text = c.profile {
        profile = (try? Profile.parse(text, fileName: "fuzz.profile")) ?? .x86_64
        if c.profile != nil { _ = SchemeRenderer.profile(profile, format: .md) }
    }
    var texts = [c.workload]
    if let mix = c.allocMix {
        let fillable = MemdescCrossover.fillablePercent(ramBytes: mix.ram, classes: mix.classes, profile: profile)
        let generator = AllocMix(ramBytes: mix.ram, fillPercent: mix.fill ?? fillable, classes: mix.classes)
        if (try? generator.validate()) != nil {
            let text = generator.text()
            if (try? WorkloadParser.parse(text, fileName: "generated.somw")) == nil {
                findings.append("generate alloc-mix wrote a file its own parser refuses: ram \(mix.ram) fill \(String(describing: mix.fill))")
            }
            texts.append(text)
        }
        // The sweep replays 3 machines full of allocations; small machines keep it quick.
        if deep, mix.classes.count >= 2, mix.ram <= 16 << 20 || mix.classes.allSatisfy({ $0.sizeBytes == 4096 || $0.sizeBytes == 2 << 20 }) {
            _ = try? MemdescCrossover.sweep(
                small: mix.classes[0].sizeBytes, large: mix.classes[1].sizeBytes, ramBytes: mix.ram, steps: 2, profile: profile)
        }
    }
    for text in texts {
        let limits = ExpansionLimits(maxStatements: 50_000, maxDepth: 16)
        guard let workload = try? WorkloadParser.parse(text, fileName: "fuzz.somw", limits: limits) else { continue }
        _ = WorkloadPrinter.print(workload)
        let report = Simulator.run(workload, constants: KernelConstants(profile: profile))
        for format in ReportFormat.allCases { _ = ReportRenderer.render(report, as: format) }
        findings += invariants(report)
        // simulate's report costs every scheme already; the compare and explain renderings
        // replay the workload once more, so they run for one case in four.
        guard compare || deep else { continue }
        let schemeRun = SchemeRun.run(workload, profile: profile)
        _ = SchemeRenderer.compare(schemeRun, schemes: SchemeName.allCases, format: .md)
        if deep, let point = schemeRun.points.last {
            for name in SchemeRenderer.Subject.names {
                guard let subject = SchemeRenderer.Subject(name) else { continue }
                for format in ReportFormat.allCases {
                    _ = subject == .tlbWalk ? SchemeRenderer.tlbWalk(profile, format: format) : SchemeRenderer.explain(subject, point, schemeRun, format: format)
                }
            }
            _ = SchemeRenderer.compare(schemeRun, schemes: SchemeName.allCases, format: .json)
            _ = SchemeRenderer.compare(schemeRun, schemes: SchemeName.allCases, format: .csv)
        }
        if deep, let facts { _ = try? Probe.plan(workload, facts: facts) }
    }
    return findings
}

/// What every report must satisfy, whatever the workload.
func invariants(_ report: Report) -> [String] {
    var broken: [String] = []
    let ram = report.machine.ramBytes
    for measure in report.measures {
        for p in measure.processes {
            let sum = p.privateCleanBytes + p.privateDirtyBytes + p.sharedCleanBytes + p.sharedDirtyBytes
            if sum != p.rssBytes { broken.append("\(measure.label)/\(p.name): clean+dirty \(sum) != rss \(p.rssBytes)") }
            if p.ussBytes != p.privateCleanBytes + p.privateDirtyBytes { broken.append("\(measure.label)/\(p.name): uss != private") }
            if p.pssBytes > p.rssBytes { broken.append("\(measure.label)/\(p.name): pss \(p.pssBytes) > rss \(p.rssBytes)") }
            if !p.alive && (p.rssBytes != 0 || p.pageTableBytes != 0) { broken.append("\(measure.label)/\(p.name): dead but holds memory") }
        }
        let s = measure.system
        if s.hugetlb2MFree > s.hugetlb2MTotal || s.hugetlb1GFree > s.hugetlb1GTotal { broken.append("\(measure.label): free > total") }
        if s.hugetlb2MReserved > s.hugetlb2MFree || s.hugetlb1GReserved > s.hugetlb1GFree { broken.append("\(measure.label): reserved > free") }
        if s.anonBytes > ram { broken.append("\(measure.label): anon \(s.anonBytes) > ram \(ram)") }
        if s.hugetlb2MTotal * (2 << 20) + s.hugetlb1GTotal * (1 << 30) > ram { broken.append("\(measure.label): pools larger than RAM") }
    }
    return broken
}

// MARK: - Worker

func readCorpus(_ folders: [String]) -> [String] {
    var texts: [String] = []
    for folder in folders {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".somw") }.sorted()
        texts += names.compactMap { try? String(contentsOfFile: "\(folder)/\($0)", encoding: .utf8) }
    }
    return texts.isEmpty ? ["somsim-workload 1\nspawn a\na mmap m 1M\na touch m write\n"] : texts
}

func save(_ c: FuzzCase, as name: String, in out: String) -> String {
    try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    for (suffix, text) in c.files { try? text.write(toFile: "\(out)/\(name).\(suffix)", atomically: true, encoding: .utf8) }
    return "\(out)/\(name).somw"
}

func worker(_ o: Options, first: UInt64, end: UInt64, slot: Int, progress: String) {
    let writer = CaseWriter(corpus: readCorpus(o.corpus))
    let facts = try? MachineSettings.Facts.read()
    let fd = open(progress, O_WRONLY)
    guard fd >= 0 else { fail("cannot open \(progress)") }
    var slowest: (index: UInt64, seconds: Double) = (first, 0)
    var slowSeconds = 0.0
    var slowCount = 0
    var index = first
    while index < end {
        // The supervisor reads this slot to know which case a dead or stuck worker was on.
        var record: (UInt64, UInt64) = (index, 1)
        _ = withUnsafeBytes(of: &record) { pwrite(fd, $0.baseAddress, 16, off_t(slot * 16)) }
        let c = writer.make(seed: o.seed, index: index)
        let start = DispatchTime.now().uptimeNanoseconds
        let findings = run(c, facts: facts, compare: index % 4 == 0, deep: index % 32 == 0)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if seconds > slowest.seconds { slowest = (index, seconds) }
        if seconds > 0.05 { slowSeconds += seconds; slowCount += 1 }
        if !findings.isEmpty {
            let path = save(c, as: "finding-\(o.seed)-\(index)", in: o.out)
            print("FINDING \(index) \(path): \(findings.prefix(3).joined(separator: "; "))")
        }
        index += 1
    }
    var done: (UInt64, UInt64) = (end, 2)
    _ = withUnsafeBytes(of: &done) { pwrite(fd, $0.baseAddress, 16, off_t(slot * 16)) }
    print("SLOWEST \(slowest.index) \(String(format: "%.3f", slowest.seconds)) s; \(slowCount) cases over 50 ms took \(String(format: "%.1f", slowSeconds)) s")
}

// MARK: - Supervisor

/// One worker process and what it printed (lines are appended on the main queue only).
final class Worker: @unchecked Sendable {
    let slot: Int
    var process: Process
    var first: UInt64
    let end: UInt64
    var lastIndex: UInt64
    var lastChange = Date()
    let output = Pipe()
    var lines: [String] = []

    init(slot: Int, first: UInt64, end: UInt64, options: Options, progress: String) throws {
        self.slot = slot
        self.first = first
        self.end = end
        lastIndex = first
        process = Process()
        try start(options: options, progress: progress)
    }

    func start(options: Options, progress: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = [
            "--worker", "\(first):\(end):\(slot):\(progress)", "--seed", "\(options.seed)", "--out", options.out,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            if !text.isEmpty { DispatchQueue.main.async { self?.lines += text.split(separator: "\n").map(String.init) } }
        }
        try process.run()
        lastChange = Date()
    }
}

/// Shrinks a trapping case: drops lines, then tokens, while `--replay` still dies of a signal.
func minimize(_ path: String, profile: String?) -> String {
    func traps(_ text: String) -> Bool {
        let candidate = path.replacingOccurrences(of: ".somw", with: ".min-try.somw")
        try? text.write(toFile: candidate, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        p.arguments = ["--replay", candidate] + (profile.map { ["--profile", $0] } ?? [])
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        try? FileManager.default.removeItem(atPath: candidate)
        return p.terminationReason == .uncaughtSignal
    }
    guard var lines = (try? String(contentsOfFile: path, encoding: .utf8))?.components(separatedBy: "\n") else { return path }
    var changed = true
    while changed {
        changed = false
        var i = lines.count - 1
        while i >= 1 {
            var candidate = lines
            candidate.remove(at: i)
            if traps(candidate.joined(separator: "\n")) {
                lines = candidate
                changed = true
            }
            i -= 1
        }
    }
    let minimal = path.replacingOccurrences(of: ".somw", with: ".min.somw")
    try? lines.joined(separator: "\n").write(toFile: minimal, atomically: true, encoding: .utf8)
    return minimal
}

func supervise(_ o: Options) throws {
    try FileManager.default.createDirectory(atPath: o.out, withIntermediateDirectories: true)
    let progress = "\(o.out)/progress-\(o.seed)"
    FileManager.default.createFile(atPath: progress, contents: Data(count: 16 * o.jobs))
    let fd = open(progress, O_RDONLY)
    let writer = CaseWriter(corpus: readCorpus(o.corpus))
    var workers: [Worker] = []
    for j in 0..<o.jobs {
        let first = o.executions * UInt64(j) / UInt64(o.jobs)
        let end = o.executions * UInt64(j + 1) / UInt64(o.jobs)
        workers.append(try Worker(slot: j, first: first, end: end, options: o, progress: progress))
    }
    let started = Date()
    var lastReport = Date()
    var traps: [String] = []
    var hangs: [String] = []
    var findings = 0
    func current(_ slot: Int) -> (UInt64, UInt64) {
        var record: (UInt64, UInt64) = (0, 0)
        _ = withUnsafeMutableBytes(of: &record) { pread(fd, $0.baseAddress, 16, off_t(slot * 16)) }
        return record
    }
    func done() -> UInt64 {
        workers.reduce(0) { $0 + (min(current($1.slot).0, $1.end) - (o.executions * UInt64($1.slot) / UInt64(o.jobs))) }
    }
    print("somsim-fuzz: seed \(o.seed), \(o.executions) executions, \(o.jobs) workers, output in \(o.out)")
    while workers.contains(where: { $0.process.isRunning || current($0.slot).1 != 2 }) {
        RunLoop.main.run(until: Date().addingTimeInterval(0.5))
        for w in workers {
            let (index, state) = current(w.slot)
            if index != w.lastIndex {
                w.lastIndex = index
                w.lastChange = Date()
            }
            if w.process.isRunning {
                if Date().timeIntervalSince(w.lastChange) > o.hangSeconds {
                    w.process.terminate()
                    kill(w.process.processIdentifier, SIGKILL)
                    w.process.waitUntilExit()
                    let path = save(writer.make(seed: o.seed, index: index), as: "hang-\(o.seed)-\(index)", in: o.out)
                    hangs.append(path)
                    print("HANG case \(index): \(path)")
                    w.first = index + 1
                    if w.first < w.end { try w.start(options: o, progress: progress) }
                }
                continue
            }
            if state == 2 { continue }
            // The worker died before its end: a trap on case `index`.
            let c = writer.make(seed: o.seed, index: index)
            let path = save(c, as: "crash-\(o.seed)-\(index)", in: o.out)
            let profilePath = c.profile == nil ? nil : path.replacingOccurrences(of: ".somw", with: ".profile")
            let minimal = minimize(path, profile: profilePath)
            traps.append(minimal)
            print("TRAP case \(index) (\(w.process.terminationReason == .uncaughtSignal ? "signal \(w.process.terminationStatus)" : "exit \(w.process.terminationStatus)")): \(minimal)")
            w.first = index + 1
            if w.first < w.end { try w.start(options: o, progress: progress) } else { w.first = w.end }
        }
        if Date().timeIntervalSince(lastReport) >= 10 {
            lastReport = Date()
            let n = done()
            let rate = Double(n) / Date().timeIntervalSince(started)
            FileHandle.standardError.write(Data("somsim-fuzz: \(n)/\(o.executions) cases, \(Int(rate))/s, \(traps.count) traps, \(hangs.count) hangs\n".utf8))
        }
        for w in workers {
            for line in w.lines where line.hasPrefix("FINDING") || line.hasPrefix("SLOWEST") {
                if line.hasPrefix("FINDING") { findings += 1 }
                print(line)
            }
            w.lines.removeAll()
        }
    }
    RunLoop.main.run(until: Date().addingTimeInterval(0.5))
    for w in workers {
        for line in w.lines where line.hasPrefix("FINDING") || line.hasPrefix("SLOWEST") {
            if line.hasPrefix("FINDING") { findings += 1 }
            print(line)
        }
    }
    let seconds = Date().timeIntervalSince(started)
    print(
        "somsim-fuzz: seed \(o.seed): \(o.executions) executions in \(Int(seconds)) s (\(Int(Double(o.executions) / seconds))/s): \(traps.count) traps, \(hangs.count) hangs, \(findings) broken invariants")
    if !traps.isEmpty || !hangs.isEmpty || findings > 0 { exit(1) }
}

// MARK: - Main

let options = Options.parse(CommandLine.arguments)
if let path = options.replay {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fail("cannot read \(path)") }
    let profile = options.profile.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }
    var c = FuzzCase(workload: text, profile: profile)
    let recipe = path.replacingOccurrences(of: ".somw", with: ".allocmix")
    if let mix = (try? String(contentsOfFile: recipe, encoding: .utf8)).flatMap(FuzzCase.recipe) { c.allocMix = mix }
    let findings = run(c, facts: try? MachineSettings.Facts.read(), deep: true)
    for finding in findings { print("FINDING \(finding)") }
    exit(findings.isEmpty ? 0 : 1)
} else if let w = options.worker {
    worker(options, first: w.first, end: w.end, slot: w.slot, progress: w.progress)
} else {
    do { try supervise(options) } catch { fail("\(error)") }
}
