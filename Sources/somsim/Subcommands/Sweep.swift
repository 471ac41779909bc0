import ArgumentParser
import Dispatch
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SomsimModel
import SomsimReport
import SomsimWorkload

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Simulate a workload at every combination of param values, on all cores, as tidy rows.",
        discussion: """
            Each --vary names a param of the workload (`param NAME=DEFAULT`) or a machine setting \
            (`machine.KEY`) and its values: a list V1,V2,... or an integer range A..B[:STEP]. The \
            points are every combination, the first --vary varying slowest; they run in parallel \
            and their rows are written in point order, so the output is the same however many \
            cores run it. Each point gives the rows `simulate --format csv` gives (the metrics of \
            every process, the system and every scheme's metadata, per measure), with the varied \
            values and measure_index (0-based, in workload order) in front. With -o OUT a manifest \
            OUT.manifest.json records the tool version, git commit, input hash, profile, command \
            line and points. --shard I/N runs the points k with k mod N = I (0-based); \
            `somsim merge` joins the N outputs into the unsharded one, byte for byte. See docs/sweeps.md.

            Examples:
              somsim sweep docs/examples/prefork-server-workers.somw --vary workers=1..8 -o workers.csv
              somsim sweep w.somw --vary workers=1,2,4 --vary machine.thp=never,always --format jsonl -o w.jsonl
              somsim sweep w.somw --vary workers=1..64 --shard $SLURM_ARRAY_TASK_ID/16 -o part-$SLURM_ARRAY_TASK_ID.csv
            """
    )

    @Argument(help: "A workload file (.somw) with the params to vary.")
    var file: String

    @Option(help: ArgumentHelp("NAME=V1,V2,... or NAME=A..B[:STEP]: a param (or machine.KEY) and its values (repeatable).", valueName: "NAME=VALUES"))
    var vary: [String] = []

    @OptionGroup var overrides: OverrideOptions
    @OptionGroup var profile: ProfileOption<Self>

    @Option(name: .shortAndLong, help: "Output format: csv (tidy rows) or jsonl (one JSON object per row, the same keys).")
    var format: Sweep.Format = .csv

    @Option(name: .shortAndLong, help: "Write the rows to OUT and the manifest to OUT.manifest.json (default: rows to standard output, no manifest).")
    var output: String?

    @Option(help: ArgumentHelp("Run only shard I of N (0-based): the points k with k mod N = I. Needs -o.", valueName: "I/N"))
    var shard: String?

    @Option(help: "Points run at the same time (default: every core).")
    var jobs: Int?

    func validate() throws {
        if vary.isEmpty { throw ValidationError("give at least one --vary NAME=VALUES") }
        if shard != nil && output == nil { throw ValidationError("--shard needs -o OUT: merge reads each shard's OUT and OUT.manifest.json") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let axes: [Sweep.Axis]
        let points: [[String]]
        var shardSpec: (index: Int, count: Int)?
        do {
            axes = try vary.map(Sweep.axis)
            points = try Sweep.points(axes)
            if let shard { shardSpec = try Sweep.shard(shard) }
        } catch {
            sweepError("somsim sweep: error: \(error)")
            throw ExitCode(64)
        }
        let fixed = try overrides.parsed()
        for axis in axes where fixed.params.contains(where: { $0.name == axis.name }) || fixed.machine.contains(where: { "machine.\($0.name)" == axis.name }) {
            sweepError("somsim sweep: error: \(axis.name) is given both to --vary and to -D/--set; give it once")
            throw ExitCode(64)
        }
        // Machine settings varied: each value checked as --set checks it.
        for axis in axes where axis.name.hasPrefix("machine.") {
            _ = try OverrideOptions.overrides(define: [], set: axis.values.map { "\(axis.name)=\($0)" })
        }
        let bytes = try InputFile.readOrExit(file)
        let fileName = InputFile.displayName(file)
        // The workload as written (with -D/--set): refuses a bad file (65) and unknown names (64).
        let base = try WorkloadSource.load(file, overrides: fixed)
        for axis in axes where !axis.name.hasPrefix("machine.") && !base.params.contains(where: { $0.name == axis.name }) {
            let known = base.params.isEmpty ? "it declares no param (add 'param \(axis.name)=DEFAULT')" : "its params are: \(base.params.map(\.name).joined(separator: ", ")) (and machine.KEY for a machine setting)"
            sweepError("--vary \(axis.name): error: \(fileName) has no param '\(axis.name)'; \(known)")
            throw ExitCode(64)
        }
        let profileValue = try profile.load()
        let profileRecord = try profile.profile.map { path in (path: path, sha256: SHA256.hex(try InputFile.readOrExit(path))) }
        let constants = KernelConstants(profile: profileValue)
        let selected = shardSpec.map { Sweep.shardPoints(count: points.count, shard: $0.index, of: $0.count) } ?? Array(points.indices)
        let names = axes.map(\.name)

        // Each point: parse with its values, simulate, render; results land in their slot.
        let results = SweepResults(count: selected.count)
        let terminal = isatty(2) == 1
        let format = self.format
        let work: @Sendable (Int) -> Void = { slot in
            let values = points[selected[slot]]
            var o = fixed
            for (axis, value) in zip(axes, values) {
                if axis.name.hasPrefix("machine.") {
                    o.machine.append(.init(name: String(axis.name.dropFirst(8)), value: value))
                } else {
                    o.params.append(.init(name: axis.name, value: value))
                }
            }
            let outcome = Result { () throws(WorkloadError) -> [String] in
                let workload = try WorkloadParser.parse(bytes: bytes, fileName: fileName, overrides: o)
                let report = Simulator.run(workload, constants: constants)
                return Sweep.rows(report, values: values, names: names, format: format)
            }
            let done = results.store(outcome, at: slot)
            if terminal {
                let label = zip(names, values).map { "\($0)=\($1)" }.joined(separator: " ")
                sweepError("\r\u{1B}[K[\(done)/\(selected.count)] \(label)", newline: false)
            }
        }
        let jobs = self.jobs ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        if jobs <= 1 {
            for slot in selected.indices { work(slot) }
        } else {
            // concurrentPerform runs one iteration per core; with --jobs J, J strands each take
            // every J-th point.
            DispatchQueue.concurrentPerform(iterations: min(jobs, max(1, selected.count))) { strand in
                for slot in stride(from: strand, to: selected.count, by: jobs) { work(slot) }
            }
        }
        if terminal { sweepError("\r\u{1B}[K", newline: false) }

        var text = Sweep.header(names, format: format)
        var rowCounts: [Int] = []
        for (slot, outcome) in results.all().enumerated() {
            switch outcome {
            case .success(let rows):
                rowCounts.append(rows.count)
                for row in rows { text += row }
            case .failure(let error):
                let values = zip(names, points[selected[slot]]).map { "\($0)=\($1)" }.joined(separator: " ")
                sweepError("point \(selected[slot]) (\(values)): \(error)")
                throw ExitCode(65)
            case nil:
                throw ExitCode(70)
            }
        }
        guard let output else {
            var out = StandardOutput()
            out.write(text)
            out.flush()
            return
        }
        let manifest = Sweep.Manifest(
            toolVersion: SomsimVersion.string, gitCommit: SweepFiles.gitCommit(), input: file, inputSHA256: SHA256.hex(bytes),
            profile: profileRecord, commandLine: SweepFiles.commandLine(), format: format, axes: axes,
            fixed: overrides.define + overrides.set, points: points,
            shard: shardSpec.map { .init(index: $0.index, count: $0.count, points: selected, rows: rowCounts) })
        try SweepFiles.write(text, to: output)
        try SweepFiles.write(manifest.text, to: output + ".manifest.json")
    }
}

extension SweepCommand: ArgumentTexts {}

/// The points' outcomes, each stored once by the thread that ran it.
final class SweepResults: @unchecked Sendable {
    /// Serializes the threads' stores (Dispatch, not Foundation's NSLock: the command line
    /// links no Foundation).
    private let queue = DispatchQueue(label: "somsim.sweep.results")
    private var slots: [Result<[String], WorkloadError>?]
    private var done = 0

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// Stores a point's outcome; returns how many points are done.
    func store(_ outcome: Result<[String], WorkloadError>, at slot: Int) -> Int {
        queue.sync {
            slots[slot] = outcome
            done += 1
            return done
        }
    }

    func all() -> [Result<[String], WorkloadError>?] {
        queue.sync { slots }
    }
}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the outputs of `sweep --shard I/N` into the output of the unsharded sweep.",
        discussion: """
            Reads each SHARD_OUT and SHARD_OUT.manifest.json. All N shards of one sweep must be \
            given (in any order); the rows are put back in point order, so the result is byte for \
            byte what the sweep without --shard writes. Shards of different sweeps (input, \
            version, commit, profile, --vary, -D/--set, format), a shard given twice and missing \
            shards are refused (exit 65), naming them. See docs/sweeps.md.

            Example:
              somsim merge part-*.csv -o workers.csv
            """
    )

    @Argument(help: "The outputs of the shards (each with its .manifest.json beside it).")
    var shards: [String] = []

    @Option(name: .shortAndLong, help: "Write the merged rows to OUT and its manifest to OUT.manifest.json (default: rows to standard output).")
    var output: String?

    func validate() throws {
        if shards.isEmpty { throw ValidationError("give the outputs of the shards to merge") }
    }

    func run() throws {
        var parts: [Sweep.ShardOutput] = []
        for path in shards {
            let text = String(decoding: try InputFile.readOrExit(path), as: UTF8.self)
            let manifestText = String(decoding: try InputFile.readOrExit(path + ".manifest.json"), as: UTF8.self)
            do {
                parts.append(Sweep.ShardOutput(path: path, manifest: try Sweep.Manifest(parsing: manifestText), text: text))
            } catch {
                sweepError("\(path).manifest.json: error: \(error)")
                throw ExitCode(65)
            }
        }
        let merged: (output: String, manifest: Sweep.Manifest)
        do {
            merged = try Sweep.merge(parts, commandLine: SweepFiles.commandLine())
        } catch {
            sweepError("somsim merge: error: \(error)")
            throw ExitCode(65)
        }
        guard let output else {
            var out = StandardOutput()
            out.write(merged.output)
            out.flush()
            return
        }
        try SweepFiles.write(merged.output, to: output)
        try SweepFiles.write(merged.manifest.text, to: output + ".manifest.json")
    }
}

enum SweepFiles {
    /// Writes `text` to `path` whole or not at all (`OutputFile`); exit 73 (EX_CANTCREAT) when it cannot.
    static func write(_ text: String, to path: String) throws {
        do {
            try OutputFile.write(Array(text.utf8), to: path)
        } catch {
            sweepError("somsim: \(error.message)")
            throw ExitCode(error.exitCode)
        }
    }

    /// The commit of the source tree this binary was built from: `git rev-parse HEAD` run at
    /// run time in the directory the sources were compiled from (`#filePath`), "unknown" when
    /// that directory or git is not there (an installed binary on another machine).
    static func gitCommit() -> String {
        var root = "\(#filePath)"
        for _ in 0..<4 { root = OutputFile.folder(of: root) }
        guard access(root + "/.git", F_OK) == 0 else { return "unknown" }
        let quoted = "'" + root.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        guard let pipe = popen("git -C \(quoted) rev-parse HEAD 2>/dev/null", "r") else { return "unknown" }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 128)
        while true {
            let n = fread(&buffer, 1, buffer.count, pipe)
            if n <= 0 { break }
            bytes += buffer[..<n]
        }
        let status = pclose(pipe)
        let commit = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
        return status == 0 && commit.count == 40 ? commit : "unknown"
    }

    /// The command line as a shell would take it back: `somsim` and the arguments, quoted where needed.
    static func commandLine() -> String {
        (["somsim"] + CommandLine.arguments.dropFirst()).map { arg in
            let plain = !arg.isEmpty && arg.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil || "-_./=,:+@%".unicodeScalars.contains($0) }
            return plain ? arg : "'" + arg.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        }.joined(separator: " ")
    }
}

func sweepError(_ message: String, newline: Bool = true) {
    writeStandardError(message + (newline ? "\n" : ""))
}
