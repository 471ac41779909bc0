import Foundation
import SomsimWorkload
import Testing

/// The README's claims that code can check.
@Suite struct ReadmeTests {
    static let readme: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
    }()

    /// Code blocks of the README that are workloads.
    static var workloads: [String] {
        Self.readme.components(separatedBy: "```").enumerated().compactMap { index, block in
            guard index % 2 == 1 else { return nil }
            let body = block.drop { $0 != "\n" }.dropFirst()
            return body.hasPrefix("somsim-workload 1") ? String(body) : nil
        }
    }

    @Test func everyWorkloadInTheReadmeParses() throws {
        #expect(!Self.workloads.isEmpty)
        for text in Self.workloads {
            _ = try WorkloadParser.parse(text, fileName: "README.md")
        }
    }

    @Test func quickStartRunsTheCommandsCIRuns() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let ci = try String(contentsOf: root.appendingPathComponent(".ci/run"), encoding: .utf8)
        #expect(Self.readme.contains("swift run somsim"))
        #expect(Self.readme.contains("\nswift test"))
        #expect(ci.contains("\nswift run somsim\n"))
        #expect(ci.contains("\nswift test\n"))
    }
}
