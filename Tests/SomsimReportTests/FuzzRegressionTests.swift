import Foundation
import SomsimModel
import SomsimReport
import SomsimWorkload
import Testing

/// Inputs that once trapped or hung somsim, kept as regression tests: the fuzz campaign's
/// minimized cases (docs/fuzzing.md) and the classes issue 7 listed. Each must be refused with a
/// message or run to the end through every command's path — simulate in every format, compare,
/// explain of every scheme — without a trap; a hang would time the suite out.
@Suite(.timeLimit(.minutes(5))) struct FuzzRegressionTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FuzzCrashers")

    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".somw") }.sorted()
    }()

    @Test func thereAreCases() {
        #expect(Self.cases.count >= 10)
    }

    @Test(arguments: cases)
    func replaysWithoutATrap(_ name: String) throws {
        let url = Self.folder.appendingPathComponent(name)
        let text = try String(contentsOf: url, encoding: .utf8)
        var profile = Profile.x86_64
        let profileURL = url.deletingPathExtension().appendingPathExtension("profile")
        if let profileText = try? String(contentsOf: profileURL, encoding: .utf8) {
            profile = (try? Profile.parse(profileText, fileName: profileURL.lastPathComponent)) ?? .x86_64
        }
        let workload: Workload
        do {
            workload = try WorkloadParser.parse(text, fileName: name)
        } catch {
            // Refused with a place and a message: that is a right answer too.
            #expect(error.description.hasPrefix("\(name):"), "\(error)")
            return
        }
        let report = Simulator.run(workload, constants: KernelConstants(profile: profile))
        for format in ReportFormat.allCases { #expect(!ReportRenderer.render(report, as: format).isEmpty) }
        let run = SchemeRun.run(workload, profile: profile)
        _ = SchemeRenderer.compare(run, schemes: SchemeName.allCases, format: .md)
        let point = try #require(run.points.last)
        for subjectName in SchemeRenderer.Subject.names {
            let subject = try #require(SchemeRenderer.Subject(subjectName))
            for format in ReportFormat.allCases {
                _ = subject == .tlbWalk ? SchemeRenderer.tlbWalk(profile, format: format) : SchemeRenderer.explain(subject, point, run, format: format)
            }
        }
    }
}
