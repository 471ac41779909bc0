import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Files the commands cannot use: the exit status and the exact words on standard error.
@Suite struct InputFileTests {
    typealias CLI = CommandLineTests

    static let emptyFile = "error: the file is empty; a workload starts with the header 'somsim-workload 1'\n"

    static func temporaryBytes(_ bytes: [UInt8], suffix: String = ".somw") throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-\(UUID().uuidString)\(suffix)")
        try Data(bytes).write(to: url)
        return url.path
    }

    @Test func aMissingFileExits66InPlainWords() throws {
        let result = try CLI.run(["simulate", "/nonexistent/x.somw"])
        #expect(result.status == 66)
        #expect(result.stderr == "somsim: cannot read '/nonexistent/x.somw': no such file\n")
        #expect(result.stdout.isEmpty)
    }

    @Test func aDirectoryIsADirectory() throws {
        let directory = FileManager.default.temporaryDirectory.path
        let result = try CLI.run(["compare", directory])
        #expect(result.status == 66)
        #expect(result.stderr == "somsim: '\(directory)' is a directory, not a workload file\n")
    }

    @Test func devNullIsAnEmptyFile() throws {
        let result = try CLI.run(["simulate", "/dev/null"])
        #expect(result.status == 65)
        #expect(result.stderr == "/dev/null:1:1: " + Self.emptyFile)
    }

    @Test func emptyStandardInputIsAnEmptyFile() throws {
        let result = try CLI.run(["explain", "memdesc", "-"], stdin: "")
        #expect(result.status == 65)
        #expect(result.stderr == "<stdin>:1:1: " + Self.emptyFile)
    }

    @Test func anEndlessFileIsRefusedAfter256MiB() throws {
        let result = try CLI.run(["simulate", "/dev/zero"])
        #expect(result.status == 65)
        #expect(result.stderr == "somsim: cannot read '/dev/zero': the file is larger than 256 MiB, the most somsim reads; write large workloads with repeat blocks\n")
    }

    /// Whether this test can make a file unreadable to somsim: as root (which reads any file),
    /// only by running somsim as `nobody`, which needs setpriv and a binary `nobody` may run.
    static let canDenyReading: Bool = {
        guard geteuid() == 0 else { return true }
        guard let result = try? CLI.run(["--reuid=65534", "--regid=65534", "--clear-groups", CLI.binary.path, "--help"], executable: URL(fileURLWithPath: "/usr/bin/setpriv")) else { return false }
        return result.status == 0
    }()

    /// Run as root, the command runs as `nobody`; otherwise as it is.
    @Test(.enabled(if: canDenyReading, "running as root without /usr/bin/setpriv, or where nobody cannot run the built somsim"))
    func anUnreadableFileIsAPermissionProblem() throws {
        let path = try CommandLineTests.temporaryFile("somsim-workload 1\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: path)
        let result: CommandLineTests.Result
        if geteuid() == 0 {
            result = try CLI.run(["--reuid=65534", "--regid=65534", "--clear-groups", CLI.binary.path, "simulate", path], executable: URL(fileURLWithPath: "/usr/bin/setpriv"))
        } else {
            result = try CLI.run(["simulate", path])
        }
        #expect(result.status == 66)
        #expect(result.stderr == "somsim: cannot read '\(path)': permission denied\n")
    }

    @Test func invalidUTF8InACommentHasItsPlace() throws {
        let path = try Self.temporaryBytes(Array("somsim-workload 1\n# caf\u{e9} ".utf8) + [0xFF] + Array("\nspawn a\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try CLI.run(["simulate", path])
        #expect(result.status == 65)
        #expect(result.stderr == "\(path):2:8: error: the file is not UTF-8 text: byte 0xFF at offset 26 does not start a valid UTF-8 sequence; save the file as UTF-8\n")
    }

    @Test func profileFilesAreReadTheSameWay() throws {
        let missing = try CLI.run(["profile", "--profile", "/nonexistent/my.profile"])
        #expect(missing.status == 66)
        #expect(missing.stderr == "somsim: cannot read '/nonexistent/my.profile': no such file\n")

        let directory = FileManager.default.temporaryDirectory.path
        let isDirectory = try CLI.run(["simulate", "--profile", directory])
        #expect(isDirectory.status == 66)
        #expect(isDirectory.stderr == "somsim: '\(directory)' is a directory, not a profile file\n")

        let path = try Self.temporaryBytes(Array("page_bytes = 4096\n# \u{e9}".utf8) + [0xC3, 0x28], suffix: ".profile")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let notUTF8 = try CLI.run(["compare", "--profile", path])
        #expect(notUTF8.status == 65)
        #expect(notUTF8.stderr == "\(path):2:4: error: the file is not UTF-8 text: byte 0xC3 at offset 22 does not start a valid UTF-8 sequence; save the file as UTF-8\n")
    }

    @Test func aProfileValueTheModelCannotHonourIsRefused() throws {
        let path = try CommandLineTests.temporaryFile("# what if\npage_bytes = 8K\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try CLI.run(["simulate", "--profile", path])
        #expect(result.status == 65)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr
                == "\(path):2:14: error: page_bytes = 8192 is outside the range the model honours: 4096 (the engine models x86-64 paging with 4 KiB base pages, 512-entry page tables and 4 levels; page-table spans, THP and HugeTLB sizes are fixed in PageTableSet and the fault paths)\n"
        )
    }

    @Test func theProfilePrintsEachAllowedRange() throws {
        let result = try CLI.run(["profile"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines.count == 41)
        #expect(lines.allSatisfy { $0.contains("; allowed: ") })
        #expect(result.stdout.contains("struct_page_bytes           = 64  # bytes; allowed: a power of two from 32 to 256; include/linux/mm_types.h"))
        #expect(result.stdout.contains("section_bytes               = 134217728  # bytes; allowed: a power of two from 4M to 64G; "))
    }
}
