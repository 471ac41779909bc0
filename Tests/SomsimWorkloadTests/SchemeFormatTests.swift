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

    @Test func somPagesPoolAndTLBKeysPrintCanonicallyAndParseBack() throws {
        let w = try parse(
            "machine som-source=hugetlb-hvo som-pool=grow virt=5x4 guest-page=2M host-page=1G\nspawn a\na mmap g 2G som page=1G\na mmap s 4M som page=4K\na mmap d 4M som page=2M")
        #expect(w.machine.somSource == .hugetlbHVO && w.machine.somPoolBytes == 0)
        #expect(w.machine.virt == VirtLevels(guest: 5, host: 4) && w.machine.guestPage == .size2M && w.machine.hostPage == .size1G)
        let printed = WorkloadPrinter.print(w)
        // som-pool=grow is the default, so the canonical text leaves it out.
        #expect(printed.contains("machine som-source=hugetlb-hvo virt=5x4 guest-page=2M host-page=1G\n"))
        #expect(printed.contains("a mmap g 2G som page=1G\n"))
        #expect(printed.contains("a mmap s 4M som page=4K\n"))
        #expect(printed.contains("a mmap d 4M som page=2M\n"))
        #expect(try WorkloadParser.parse(printed, fileName: "printed.somw").hasSameContent(as: w))
        let fixed = try parse("machine som-source=hugetlb som-pool=3G\nspawn a")
        #expect(WorkloadPrinter.print(fixed).contains("machine som-source=hugetlb som-pool=3G\n"))
        // Without page= the option stays unprinted: existing files print as before.
        #expect(WorkloadPrinter.print(try parse("spawn a\na mmap p 4M som")).contains("a mmap p 4M som\n"))
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
