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
        #expect(result.stdout.contains("end,,struct-page.metadata_bytes,134217728\n"))
    }
}

extension CommandLineTests {
    /// papers/ quotes notebooks-data/; both must be what the tool writes today.
    @Test func committedPaperDataIsWhatTheToolWrites() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-papers-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["papers/reproduce.sh", Self.binary.path, out.path]
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
