import Foundation
import Testing

/// The papers' data as notebooks read it, and the notebooks that draw the papers' figures from it
/// (papers/figures.sh, run by papers/reproduce.sh).
@Suite struct PaperFiguresTests {
    static let root = CommandLineTests.repositoryRoot
    static let data = root.appendingPathComponent("notebooks-data/published-figures")
    static let figures = root.appendingPathComponent("papers/figures")

    /// The interpreter papers/figures.sh runs the notebooks with.
    static var python: String { ProcessInfo.processInfo.environment["SOMSIM_PYTHON"] ?? "/usr/bin/python3" }

    /// Whether `python` has what the notebooks import (jupyter's nbconvert, ipykernel, pandas,
    /// matplotlib).
    static let notebooksCanRun: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import pandas, matplotlib, nbconvert, nbformat, ipykernel"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// CI (`CI=true`, set by .ci/run) runs the notebooks whether or not jupyter is here: without it
    /// the test fails rather than pass unseen.
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Every CSV under notebooks-data/.
    static func committedCSVs() throws -> [URL] {
        let folder = root.appendingPathComponent("notebooks-data")
        let paths = try FileManager.default.subpathsOfDirectory(atPath: folder.path)
        return paths.filter { $0.hasSuffix(".csv") }.sorted().map { folder.appendingPathComponent($0) }
    }

    /// pandas reads each column of a tidy file as one type: every field of a column is a number,
    /// or none is (an empty field is a missing value in either). A trailer or summary row would
    /// put text in a column of numbers.
    @Test func everyCommittedCSVHasColumnsOfOneType() throws {
        let files = try Self.committedCSVs()
        #expect(!files.isEmpty)
        #expect(files.contains { $0.lastPathComponent == "t6-crossover-4k-2m-summary.csv" })
        for file in files {
            let name = file.lastPathComponent
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.last == "", "\(name) does not end with a newline")
            let header = lines[0].split(separator: ",", omittingEmptySubsequences: false)
            #expect(Set(header).count == header.count && !header.contains(""), "\(name): a column name is empty or repeated")
            let rows = lines.dropFirst().dropLast().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            #expect(!rows.isEmpty, "\(name) has no rows")
            for (index, row) in rows.enumerated() where row.count != header.count {
                Issue.record("\(name):\(index + 2): \(row.count) fields, the header has \(header.count)")
            }
            for (column, title) in header.enumerated() {
                let values = rows.compactMap { column < $0.count ? $0[column] : nil }.filter { !$0.isEmpty }
                let numbers = values.filter { Double($0) != nil }
                #expect(
                    numbers.isEmpty || numbers.count == values.count,
                    "\(name): column \(title) mixes numbers and text: \(values.filter { Double($0) == nil }.prefix(3))")
            }
        }
    }

    /// The crossover has a file of its own; the sweep's CSV holds only the sweep.
    @Test func theCrossoverSummaryIsItsOwnFile() throws {
        let sweep = try String(contentsOf: Self.data.appendingPathComponent("t6-crossover-4k-2m.csv"), encoding: .utf8)
        #expect(!sweep.contains("crossover"))
        let summary = try String(contentsOf: Self.data.appendingPathComponent("t6-crossover-4k-2m-summary.csv"), encoding: .utf8)
        let lines = summary.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first == "scheme,small_bytes,large_bytes,ram_bytes,crossover_small_percent")
        #expect(lines.last?.hasPrefix("memdesc,4096,2097152,1073741824,59.") == true)
    }

    /// The notebooks are committed without outputs (papers/figures holds what they draw), so a
    /// diff shows only a change of code.
    @Test func committedNotebooksHaveNoOutputs() throws {
        let folder = Self.root.appendingPathComponent("notebooks-data")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".ipynb") }.sorted()
        #expect(names == ["malloc-scenarios.ipynb", "published-figures.ipynb"])
        for name in names {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            let notebook = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name) is not JSON")
            let cells = try #require(notebook["cells"] as? [[String: Any]])
            #expect(!cells.isEmpty)
            for cell in cells where cell["cell_type"] as? String == "code" {
                #expect((cell["outputs"] as? [Any])?.isEmpty == true, "\(name) has a cell with outputs: clear them")
                #expect(cell["execution_count"] is NSNull, "\(name) has an executed cell: clear its outputs")
            }
        }
    }

    /// Every figure of papers/ is referenced by a paper, and every figure a paper references is drawn.
    @Test func thePapersShowEveryFigure() throws {
        let drawn = Set(try FileManager.default.contentsOfDirectory(atPath: Self.figures.path).filter { $0.hasSuffix(".svg") })
        #expect(!drawn.isEmpty)
        var linked: Set<String> = []
        for paper in ["published-figures.md", "malloc-scenarios.md"] {
            let text = try String(contentsOf: Self.root.appendingPathComponent("papers/\(paper)"), encoding: .utf8)
            for part in text.components(separatedBy: "](figures/").dropFirst() {
                linked.insert(String(part.prefix { $0 != ")" }))
            }
        }
        #expect(linked == drawn)
    }

    /// papers/figures.sh runs every notebook headless on the committed data: the figures it draws
    /// are byte for byte the committed ones (the notebooks fix matplotlib's ids and leave out the
    /// date, so the same data draws the same bytes).
    @Test(.enabled(if: notebooksCanRun || inCI, "needs jupyter-nbconvert, python3-ipykernel, python3-pandas, python3-matplotlib (papers/README.md)"))
    func committedFiguresAreWhatTheNotebooksDraw() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-figures-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["papers/figures.sh", Self.data.path, out.path]
        process.currentDirectoryURL = Self.root
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "papers/figures.sh failed: \(stderr)")
        let committed = try FileManager.default.contentsOfDirectory(atPath: Self.figures.path).sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == committed)
        for name in committed {
            let expected = try Data(contentsOf: Self.figures.appendingPathComponent(name))
            let actual = try Data(contentsOf: out.appendingPathComponent(name))
            #expect(actual == expected, "papers/figures/\(name) is not what the notebooks draw: run sh papers/figures.sh")
        }
    }

    /// Without jupyter, reproduce.sh writes the data, then stops with what to install (69,
    /// EX_UNAVAILABLE) and draws nothing.
    @Test func reproduceWithoutJupyterWritesTheDataAndSaysWhatToInstall() throws {
        let fake = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-fake-\(UUID().uuidString)")
        let figures = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-figures-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: fake)
            try? FileManager.default.removeItem(at: figures)
        }
        // simulate's CSV header, which reproduce.sh reads the columns' places from.
        try "#!/bin/sh\nif [ \"$1\" = simulate ]; then echo label,process,metric,value; fi\necho \"fake $*\"\n".write(to: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        let run = try CommandLineTests.reproduce(with: fake.path, figures: figures, environment: ["SOMSIM_PYTHON": "/nonexistent/python3"])
        defer { try? FileManager.default.removeItem(at: run.out) }
        #expect(run.status == 69)
        #expect(
            run.stderr
                == "figures.sh: the notebooks need /nonexistent/python3 with pandas, matplotlib, nbconvert, nbformat and ipykernel; on Debian: apt-get install -y python3-pandas python3-matplotlib jupyter-nbconvert python3-ipykernel python3-nbformat (or give another interpreter in SOMSIM_PYTHON); no figure was drawn\n"
        )
        let summary = try String(contentsOf: run.out.appendingPathComponent("t6-crossover-4k-2m-summary.csv"), encoding: .utf8)
        #expect(summary == "fake generate alloc-mix --crossover --summary --small 4K --large 2M --ram 1G --format csv\n")
        #expect(!FileManager.default.fileExists(atPath: figures.path))
    }
}
