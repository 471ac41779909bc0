import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The command line's conventions (issue 13, point 5): `--version`, the exit codes of README.md's
/// table, files that cannot be read or written said in plain words, completions.
@Suite struct ConventionsTests {
    typealias CLI = CommandLineTests

    /// The one version constant, read from its source file.
    static var version: String {
        let source = (try? String(contentsOf: CLI.repositoryRoot.appendingPathComponent("Sources/SomsimReport/Version.swift"), encoding: .utf8)) ?? ""
        guard let start = source.range(of: "static let string = \"") else { return "" }
        return String(source[start.upperBound...].prefix { $0 != "\"" })
    }

    @Test func versionPrintsTheOneConstant() throws {
        #expect(Self.version == "0.13.0")
        for arguments in [["--version"], ["simulate", "--version"]] {
            let result = try CLI.run(arguments)
            #expect(result.status == 0)
            #expect(result.stdout == "somsim \(Self.version)\n")
            #expect(result.stderr.isEmpty)
        }
    }

    /// README.md's table "Exit codes": its codes, in order; the root help points at it.
    static var readmeCodes: [Int] {
        let readme = ReadmeTests.readme
        guard let start = readme.range(of: "\n## Exit codes\n") else { return [] }
        let section = readme[start.upperBound...].prefix { _ in true }
        let body = section.components(separatedBy: "\n## ").first ?? ""
        return body.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("| ") else { return nil }
            return Int(line.dropFirst(2).prefix { $0.isNumber })
        }
    }

    @Test func theExitCodesAreOneTableTheHelpPointsAt() throws {
        #expect(Self.readmeCodes == [0, 1, 64, 65, 66, 69, 70, 73, 74, 75, 77])
        let help = try CLI.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("sysexits.h"))
        #expect(help.stdout.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: " ").contains("README.md, section \"Exit codes\""))
    }

    /// The codes a user meets without root, each from a command that gives it.
    @Test func eachCodeOfTheTableThatNeedsNoRoot() throws {
        let bad = try CLI.temporaryFile("somsim-workload 1\nspawn p\np mmap m 4K hugee\n")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        #expect(try CLI.run(["compare", "--format", "csv"]).status == 0)
        #expect(try CLI.run(["simulate", "--no-such-option"]).status == 64)
        #expect(try CLI.run(["explain", "memdesc", "--measure", "nope"]).status == 64)
        #expect(try CLI.run(["explain", "memdesc", bad]).status == 65)
        #expect(try CLI.run(["compare", "/nonexistent/x.somw"]).status == 66)
        #expect(try CLI.run(["record", "1", "-o", "/nonexistent/folder/x.somw"]).status == 73)
    }

    /// A file that cannot be read is said in somsim's words, never Foundation's.
    @Test(arguments: [
        (["simulate", "/nonexistent/x.somw"], 66, "somsim: cannot read '/nonexistent/x.somw': no such file\n"),
        (["compare", "/etc/passwd/x.somw"], 66, "somsim: cannot read '/etc/passwd/x.somw': a folder on its path is a file\n"),
        (["explain", "hvo", "/"], 66, "somsim: '/' is a directory, not a workload file\n"),
        (["validate", "/"], 66, "somsim: '/' is a directory, not a workload file\n"),
        (["profile", "--profile", "/"], 66, "somsim: '/' is a directory, not a profile file\n"),
        (["generate", "alloc-mix", "--profile", "/nonexistent.profile"], 66, "somsim: cannot read '/nonexistent.profile': no such file\n"),
        (["compare", "--profile", "/nonexistent.profile"], 66, "somsim: cannot read '/nonexistent.profile': no such file\n"),
    ])
    func unreadableInputsInPlainWords(_ arguments: [String], _ status: Int32, _ message: String) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == status)
        #expect(result.stderr == message)
        #expect(result.stdout.isEmpty)
        #expect(!result.stderr.contains("NSCocoaErrorDomain") && !result.stderr.contains("The file"))
    }

    /// `record -o` refuses an output it cannot create before it stops or reads any process.
    @Test func anOutputThatCannotBeCreatedIs73() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("plain").path
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        for (output, message) in [
            ("\(folder.path)/missing/x.somw", "the folder '\(folder.path)/missing' does not exist"),
            ("\(file)/x.somw", "'\(file)' is not a folder"),
            (folder.path, "it is a directory; give a file name"),
        ] {
            let result = try CLI.run(["record", "1", "-o", output])
            #expect(result.status == 73)
            #expect(result.stderr == "somsim record: cannot write '\(output)': \(message)\n")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["plain"])
    }

    /// Not root: validate says so and exits 77 before it reads or changes anything of the
    /// machine (run as `nobody` when the test runs as root).
    @Test(.enabled(if: InputFileTests.canDenyReading, "running as root without /usr/bin/setpriv, or where nobody cannot run the built somsim"))
    func validateWithoutRootIs77() throws {
        let path = try CLI.temporaryFile("somsim-workload 1\nspawn p\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        for (arguments, doing) in [(["validate", path], "validating"), (["validate", "--restore"], "restoring")] {
            let result: CLI.Result
            if geteuid() == 0 {
                result = try CLI.run(["--reuid=65534", "--regid=65534", "--clear-groups", CLI.binary.path] + arguments, executable: URL(fileURLWithPath: "/usr/bin/setpriv"))
            } else {
                result = try CLI.run(arguments)
            }
            #expect(result.status == 77)
            #expect(result.stderr.hasPrefix("somsim validate: \(doing) changes the machine's HugeTLB pools, THP modes and mounts, which needs root"))
            #expect(result.stdout.isEmpty)
        }
    }

    /// Scheme names the binary accepts: the values `explain` lists in its help dump (the
    /// registry), checked against the schemes this test knows.
    static func schemeNames() throws -> [String] {
        let dump = try CLI.run(["--experimental-dump-help"])
        let object = try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any]
        let commands = (object?["command"] as? [String: Any])?["subcommands"] as? [[String: Any]] ?? []
        let explain = commands.first { $0["commandName"] as? String == "explain" }
        let scheme = (explain?["arguments"] as? [[String: Any]])?.first { $0["valueName"] as? String == "scheme" }
        return scheme?["allValues"] as? [String] ?? []
    }

    @Test func bashCompletesWorkloadFilesAndSchemeNames() throws {
        let result = try CLI.run(["--generate-completion-script", "bash"])
        #expect(result.status == 0)
        let script = result.stdout
        // FILE of simulate, validate, compare, explain, and record -o: .somw files (and folders).
        #expect(script.components(separatedBy: "-o plusdirs -fX '!*.@(somw)'").count - 1 == 5)
        // --profile: any file.
        #expect(script.contains("'--profile')\n        __somsim_add_completions -f\n"))
        let names = try Self.schemeNames()
        #expect(Set(["struct-page", "hvo", "folio", "memdesc", "memdesc-32", "som", "som+memdesc", "common", "tlb-walk", "tlb"]).isSubset(of: Set(names)))
        // explain's SCHEME: every subject; compare --schemes: every scheme (not the subjects).
        let explainWords = names.map { "'\($0)'" }.joined(separator: "$'\\n'")
        #expect(script.contains("-W \(explainWords)"))
        let schemes = names.filter { !["common", "tlb-walk", "tlb"].contains($0) }
        #expect(script.contains("-W \(schemes.map { "'\($0)'" }.joined(separator: "$'\\n'"))\n"))
    }

    @Test(arguments: ["zsh", "fish"])
    func otherShellsCompleteTheSame(_ shell: String) throws {
        let result = try CLI.run(["--generate-completion-script", shell])
        #expect(result.status == 0)
        #expect(result.stdout.contains("somw"))
        for name in try Self.schemeNames() { #expect(result.stdout.contains(name), "\(shell) does not complete \(name)") }
    }
}
