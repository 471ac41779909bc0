import Foundation
import Testing

/// Compares `actual` with the golden file `Snapshots/NAME`. Run with SOMSIM_RECORD_SNAPSHOTS=1 to
/// (re)write the golden files after an intended change; review the diff before committing it.
func expectSnapshot(_ actual: String, named name: String, filePath: String = #filePath, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let url = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Snapshots").appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["SOMSIM_RECORD_SNAPSHOTS"] == "1" {
        try actual.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        Issue.record("no snapshot \(name); record it with SOMSIM_RECORD_SNAPSHOTS=1", sourceLocation: sourceLocation)
        return
    }
    #expect(actual == expected, "output differs from Snapshots/\(name)", sourceLocation: sourceLocation)
}
