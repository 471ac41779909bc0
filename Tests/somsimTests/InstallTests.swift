import Foundation
import Testing

/// README.md's "Install", followed as written into a temporary PREFIX: a static release build
/// (`.ci/install.sh`, incremental in .build-install), then what it installed. Slow the first
/// time (a release build); `SOMSIM_SKIP_INSTALL_TEST=1` skips it for quick local runs.
@Suite struct InstallTests {
    typealias CLI = CommandLineTests

    /// The commands of the README's "Install" section: its first `sh` block.
    static var readmeCommands: [String] {
        let readme = ReadmeTests.readme
        guard let start = readme.range(of: "\n## Install\n") else { return [] }
        let section = readme[start.upperBound...].components(separatedBy: "\n## ").first ?? ""
        guard let block = section.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "```").first else { return [] }
        return block.split(separator: "\n").map(String.init)
    }

    static func shell(_ script: String) throws -> CLI.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-ec", script]
        process.currentDirectoryURL = CLI.repositoryRoot
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the build runs, so that neither fills.
        nonisolated(unsafe) var errData = Data()
        let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        return CLI.Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["SOMSIM_SKIP_INSTALL_TEST"] != "1", "SOMSIM_SKIP_INSTALL_TEST=1"))
    func theReadmeInstallsAStaticSomsim() throws {
        let commands = Self.readmeCommands
        #expect(commands.first == "PREFIX=/usr/local")
        #expect(commands.contains(".ci/install.sh \"$PREFIX\""))
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-prefix-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        let script = (["PREFIX='\(prefix)'"] + commands.dropFirst()).joined(separator: "\n")
        let run = try Self.shell(script)
        #expect(run.status == 0, "the README's install commands failed:\n\(run.stderr)")
        #expect(run.stdout.hasSuffix("somsim \(ConventionsTests.version)\n"))

        let somsim = URL(fileURLWithPath: "\(prefix)/bin/somsim")
        let version = try CLI.run(["--version"], executable: somsim)
        #expect(version.status == 0 && version.stdout == "somsim \(ConventionsTests.version)\n")
        #expect(FileManager.default.isExecutableFile(atPath: "\(prefix)/bin/somsim-agent"))

        // Static: the Swift runtime and Foundation are inside the binary, not the toolchain's.
        let ldd = try CLI.run([somsim.path], executable: URL(fileURLWithPath: "/usr/bin/ldd"))
        #expect(ldd.status == 0)
        #expect(!ldd.stdout.contains("libswift") && !ldd.stdout.contains("libFoundation") && !ldd.stdout.contains("/opt/swift"), "\(ldd.stdout)")
        #expect(ldd.stdout.contains("libc.so"))

        // The installed binary gives the built one's results.
        let installed = try CLI.run(["simulate", "--format", "csv"], executable: somsim)
        let built = try CLI.run(["simulate", "--format", "csv"])
        #expect(installed.status == 0)
        #expect(installed.stdout == built.stdout)
        #expect(installed.stdout.contains("end,worker7,"))

        // The manual page and the completions.
        let manual = try String(contentsOfFile: "\(prefix)/share/man/man1/somsim.1", encoding: .utf8)
        #expect(manual == ManualTests.page)
        let bash = try String(contentsOfFile: "\(prefix)/share/bash-completion/completions/somsim", encoding: .utf8)
        #expect(bash.contains("-fX '!*.@(somw)'"))
        #expect(FileManager.default.fileExists(atPath: "\(prefix)/share/zsh/site-functions/_somsim"))
        #expect(FileManager.default.fileExists(atPath: "\(prefix)/share/fish/vendor_completions.d/somsim.fish"))
    }
}
