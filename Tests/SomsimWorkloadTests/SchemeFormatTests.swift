import SomsimWorkload
import Testing

/// Format extensions for the scheme models: `machine mthp=`, `som-source=`, `som-pool=`, and the
/// `som` mmap option; parser, printer and checker agree.
@Suite struct SchemeFormatTests {
    @Test func machineKeysForFoliosAndThePool() throws {
        let w = try parse("machine thp=always mthp=256K,64K,64K som-source=devdax som-pool=4G\nspawn a")
        #expect(w.machine.mthpSizes == [64 << 10, 256 << 10])
        #expect(w.machine.somSource == .devdax)
        #expect(w.machine.somPoolBytes == 4 << 30)
        let d = MachineSpec()
        #expect(d.mthpSizes.isEmpty && d.somSource == .hugetlb1G && d.somPoolBytes == 0)
    }

    @Test func somMappingOption() throws {
        let s = try statements("spawn a\na mmap pool 64M populate som")
        #expect(s[1] == .mmap(process: "a", mapping: "pool", lengthBytes: 64 << 20, options: MmapOptions(populate: true, som: true)))
    }

    @Test func printedWorkloadsParseBackTheSame() throws {
        let w = try parse("machine mthp=16K,1M som-source=external som-pool=2G\nspawn a\na mmap p 4M som\na touch p write")
        let printed = WorkloadPrinter.print(w)
        #expect(printed.contains("machine mthp=16K,1M som-source=external som-pool=2G\n"))
        #expect(printed.contains("a mmap p 4M som\n"))
        #expect(try WorkloadParser.parse(printed, fileName: "printed.somw").hasSameContent(as: w))
    }

    @Test(arguments: [
        ("machine mthp=3K\nspawn a", 2, 9, "mthp sizes are powers of two"),
        ("machine mthp=2M\nspawn a", 2, 9, "mthp sizes are powers of two"),
        ("machine som-source=ram\nspawn a", 2, 9, "som-source must be"),
        ("machine mthp=64K mthp=64K\nspawn a", 2, 18, "'mthp' is given twice"),
        ("spawn a\na mmap p 4M shared som", 3, 20, "som memory is private anonymous"),
        ("spawn a\na mmap p 4M som som", 3, 17, "'som' is given twice"),
    ])
    func badSettingsPointAtTheirToken(text: String, line: Int, column: Int, message: String) {
        let error = parseError(header + text)
        #expect(error?.location == SourceLocation(line: line, column: column))
        #expect(error?.message.hasPrefix(message) == true)
    }
}
