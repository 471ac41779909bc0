import Foundation
import Testing

/// The `somsim` binary run as a user runs it: exit codes, standard error, formats.
@Suite struct CommandLineTests {
    /// The built `somsim` next to the test bundle.
    static var binary: URL {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = products.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("somsim").path), directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("somsim")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `somsim` (or `executable`, a wrapper such as setpriv) with `arguments`.
    static func run(_ arguments: [String], stdin: String? = nil, executable: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable ?? binary
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self), stderr: String(decoding: stderrData, as: UTF8.self))
    }

    static func temporaryFile(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-\(UUID().uuidString).somw")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func noArgumentsSimulatesTheDefaultWorkload() throws {
        let result = try Self.run([])
        #expect(result.status == 0)
        #expect(result.stdout.contains("| worker7 |"))
        #expect(result.stdout.contains("struct-page"))
    }

    @Test func badFileIsRefusedWithFileLineAndColumn() throws {
        let path = try Self.temporaryFile("somsim-workload 1\nspawn p\np mmap m 4K hugee\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Self.run(["simulate", path, "--format", "json"])
        #expect(result.status == 65)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("\(path):3:13: error: "))
    }

    @Test func readsStandardInputAndPrintsJSON() throws {
        let result = try Self.run(["simulate", "-", "--format", "json"], stdin: "somsim-workload 1\nspawn p\np mmap m 8K\np touch m write\n")
        #expect(result.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let measures = object?["measures"] as? [[String: Any]]
        let process = (measures?.last?["processes"] as? [[String: Any]])?.first
        #expect(process?["private_dirty_bytes"] as? Int == 8192)
    }

    @Test func printWorkloadRoundTrips() throws {
        let printed = try Self.run(["simulate", "--print-workload"])
        #expect(printed.status == 0)
        let again = try Self.run(["simulate", "-", "--format", "csv"], stdin: printed.stdout)
        let original = try Self.run(["simulate", "--format", "csv"])
        #expect(again.status == 0)
        #expect(again.stdout == original.stdout)
    }

    @Test func unknownFormatIsAUsageError() throws {
        let result = try Self.run(["simulate", "--format", "yaml"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("yaml"))
    }
}

extension CommandLineTests {
    @Test func simulateTakesAProfile() throws {
        let printed = try Self.run(["profile"])
        #expect(printed.status == 0)
        let edited = printed.stdout.replacingOccurrences(of: "struct_page_bytes           = 64", with: "struct_page_bytes           = 32")
        #expect(edited != printed.stdout)
        let path = try Self.temporaryFile(edited)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Self.run(["simulate", "--profile", path, "--format", "csv"])
        #expect(result.status == 0)
        // 16 GiB of 4 KiB frames at 32 bytes each: 128 MiB.
        #expect(result.stdout.contains("end,,struct-page.metadata_bytes,134217728,1\n"))
    }
}

extension CommandLineTests {
    /// papers/ quotes notebooks-data/; both must be what the tool writes today.
    @Test func committedPaperDataIsWhatTheToolWrites() throws {
        let root = Self.repositoryRoot
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-papers-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The figures are PaperFiguresTests'.
        process.arguments = ["papers/reproduce.sh", "--no-figures", Self.binary.path, out.path]
        process.currentDirectoryURL = root
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let committed = root.appendingPathComponent("notebooks-data/published-figures")
        let names = try FileManager.default.contentsOfDirectory(atPath: committed.path).sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == names)
        for name in names {
            let expected = try String(contentsOf: committed.appendingPathComponent(name), encoding: .utf8)
            let actual = try String(contentsOf: out.appendingPathComponent(name), encoding: .utf8)
            #expect(actual == expected, "notebooks-data/published-figures/\(name) is stale: run sh papers/reproduce.sh")
        }
    }
}

extension CommandLineTests {
    /// `generate` refuses what its parser would refuse, or what would not be the mix asked for.
    @Test(arguments: [
        (["--ram", "0"], "Error: RAM (--ram) must be a positive multiple of 4K, not 0"),
        (["--ram", "4097B"], "Error: RAM (--ram) must be a positive multiple of 4K, not 4097B"),
        (["--ram", "1T", "--mix", "64K:100"], "Error: the workload would hold 49298390 statements, more than the parser's expansion limit of 20000000 (each allocation between 4K and 2M is a mapping of its own); lower --ram or --fill, or the share of those sizes"),
        (["--fill", "nan"], "Error: fill (--fill) must be more than 0 and at most 100 percent, not nan"),
        (["--fill", "150"], "Error: fill (--fill) must be more than 0 and at most 100 percent, not 150"),
        (["--mix", "4K:inf"], "Error: --mix takes SIZE:PERCENT pairs separated by commas (4K:30,2M:70), not '4K:inf'"),
        (["--mix", "4K:60,2M:60"], "Error: the shares add up to 120%, more than 100%"),
        (["--mix", "3K:100"], "Error: allocation size 3K is not a power of two from 4K to 2M"),
        (["--crossover", "--ram", "2M"], "Error: 2M of RAM leaves no memory for allocations once the memmap and the kernel's reserve are taken; give a larger --ram"),
        (["--crossover", "--small", "2M"], "Error: the size 2M is given twice; give each size once"),
        (["--crossover", "--ram", "128T"], "Error: RAM (--ram) 128T is more than 64T, the address window the engine maps a workload into"),
        (["--summary"], "Error: --summary prints the crossover; give it with --crossover"),
    ])
    func generateRefusesWhatItCannotWrite(_ arguments: [String], _ message: String) throws {
        let result = try Self.run(["generate", "alloc-mix"] + arguments)
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").first.map(String.init) == message)
    }
}

extension CommandLineTests {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Runs papers/reproduce.sh with `somsim` into a copy of the committed data; returns the exit
    /// status, standard error and the copy (the caller removes it). Without `figures`, it draws
    /// no figure (`--no-figures`); with it, it draws them into that folder.
    static func reproduce(with somsim: String, figures: URL? = nil, environment: [String: String] = [:]) throws -> (status: Int32, stderr: String, out: URL) {
        let committed = repositoryRoot.appendingPathComponent("notebooks-data/published-figures")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-papers-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: committed, to: out)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["papers/reproduce.sh"] + (figures == nil ? ["--no-figures", somsim, out.path] : [somsim, out.path, figures!.path])
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = repositoryRoot
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, stderr, out)
    }

    static func contents(of folder: URL) throws -> [String: String] {
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            files[name] = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
        }
        return files
    }

    /// Without a somsim to run, the script stops before it writes anything.
    @Test func reproduceWithoutABinaryChangesNothing() throws {
        let run = try Self.reproduce(with: "/nonexistent/somsim")
        defer { try? FileManager.default.removeItem(at: run.out) }
        #expect(run.status != 0)
        #expect(run.stderr == "reproduce.sh: /nonexistent/somsim is not an executable somsim; build it (swift build) or pass its path; nothing was written\n")
        #expect(try Self.contents(of: run.out) == Self.contents(of: Self.repositoryRoot.appendingPathComponent("notebooks-data/published-figures")))
    }

    /// A command that fails half-way leaves its file as it was and no temporary file behind; the
    /// files written before it are complete.
    @Test func reproduceWritesEachFileWhole() throws {
        let fake = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-fake-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: fake) }
        // Succeeds for compare; for explain, writes half a file and fails.
        try "#!/bin/sh\nif [ \"$1\" = explain ]; then echo partial; exit 3; fi\necho \"fake $*\"\n".write(to: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        let run = try Self.reproduce(with: fake.path)
        defer { try? FileManager.default.removeItem(at: run.out) }
        let before = try Self.contents(of: Self.repositoryRoot.appendingPathComponent("notebooks-data/published-figures"))
        let after = try Self.contents(of: run.out)
        #expect(run.status != 0)
        #expect(run.stderr == "reproduce.sh: '\(fake.path) explain hvo papers/workloads/hvo-1g.somw --format json' failed; \(run.out.path)/t3-hvo-1g.json is unchanged\n")
        #expect(Set(after.keys) == Set(before.keys), "no temporary file is left")
        #expect(after["t1-struct-page.csv"] == "fake compare papers/workloads/struct-page.somw --schemes struct-page --format csv\n")
        #expect(after["t3-hvo-1g.json"] == before["t3-hvo-1g.json"])
        #expect(after["t5-tlb-walk.csv"] == before["t5-tlb-walk.csv"])
    }
}

extension CommandLineTests {
    /// Scheme names, subjects and sizes are read by the argument parser: a bad value is a usage
    /// error (64) that names the option and what it accepts, before any work is done.
    @Test(arguments: [
        (["compare", "--schemes", "struct-page,foo"], "Error: The value 'struct-page,foo' is invalid for '--schemes <schemes>': unknown scheme 'foo'; expected one of: struct-page, hvo, folio, memdesc, memdesc-32, som, som+memdesc"),
        (["explain", "foo"], "Error: The value 'foo' is invalid for '<scheme>'. Please provide one of the following:"),
        (["generate", "alloc-mix", "--ram", "1X"], "Error: The value '1X' is invalid for '--ram <size>'"),
        (["generate", "alloc-mix", "--crossover", "--small", "4k"], "Error: The value '4k' is invalid for '--small <size>'"),
        (["generate", "alloc-mix", "--crossover", "--scheme", "hvo"], "Error: The value 'hvo' is invalid for '--scheme <scheme>'. Please provide one of 'memdesc' and 'memdesc-32'."),
    ])
    func theParserRefusesBadValues(_ arguments: [String], _ message: String) throws {
        let result = try Self.run(arguments)
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").first.map(String.init) == message)
        #expect(result.stderr.contains("Usage: somsim \(arguments[0] == "generate" ? "generate alloc-mix" : arguments[0]) "))
    }

    /// `explain tlb-walk` and `common` are subjects beside the schemes; `--schemes` skips empty names.
    @Test func theParserAcceptsEveryValueHelpLists() throws {
        let help = try Self.run(["explain", "--help"])
        for name in ["struct-page", "hvo", "folio", "memdesc", "memdesc-32", "som", "common", "tlb-walk"] {
            #expect(help.stdout.contains("  \(name) "), "explain --help does not list \(name)")
        }
        #expect(try Self.run(["explain", "tlb-walk", "--format", "csv"]).status == 0)
        let one = try Self.run(["compare", "--schemes", "hvo", "--format", "csv"])
        let padded = try Self.run(["compare", "--schemes", ",hvo,", "--format", "csv"])
        #expect(one.status == 0)
        #expect(padded.stdout == one.stdout)
    }
}
