import ArgumentParser
import Foundation
import SomsimModel
import SomsimReport
import SomsimWorkload

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write workloads from a recipe.",
        subcommands: [AllocMixCommand.self]
    )
}

struct AllocMixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alloc-mix",
        abstract: "A workload whose anonymous memory is split into allocations of chosen sizes.",
        discussion: """
            --mix gives size classes as SIZE:PERCENT (sizes are powers of two from 4K to 2M); \
            together they fill --fill percent of RAM, by default all the memory the machine has \
            for them (RAM less the memmap, the kernel's free-page reserve and the process's \
            kernel state and page tables: more would end in the OOM killer). Each allocation becomes one folio of its \
            size (4K regions with nohugepage, mTHP sizes enabled with mthp=, 2M THPs), so the \
            memdesc scheme sees exactly the mix.

            --crossover replays mixes of --small and --large allocations and finds the share of \
            small allocations at which memdescs stop saving over struct page; it prints the sweep \
            and the crossover instead of a workload.

            Examples:
              somsim generate alloc-mix --mix 4K:30,64K:20,2M:50 > mix.somw && somsim compare mix.somw
              somsim generate alloc-mix --mix 256K:100 --ram 4G --fill 50
              somsim generate alloc-mix --crossover --small 4K --large 2M
            """
    )

    @Option(help: "Size classes as SIZE:PERCENT[,SIZE:PERCENT…] of the allocated memory.")
    var mix: String = "4K:50,2M:50"

    @Option(help: "RAM of the generated machine.")
    var ram: String = "1G"

    @Option(help: "Percent of RAM the allocations fill (default: all the memory the machine has for them).")
    var fill: Double?

    @Flag(help: "Find the memdesc crossover between --small and --large instead of writing a workload.")
    var crossover = false

    @Option(help: "With --crossover: the small allocation size.")
    var small: String = "4K"

    @Option(help: "With --crossover: the large allocation size.")
    var large: String = "2M"

    @Option(help: "With --crossover: the scheme to set against struct page (memdesc or memdesc-32).")
    var scheme: String = "memdesc"

    @Option(help: "A profile file whose values override the defaults (the memory the machine has for allocations; with --crossover, the schemes).")
    var profile: String?

    @Option(name: .shortAndLong, help: "With --crossover: output format md, csv or json.")
    var format: ReportFormat = .md

    func run() throws {
        let ramBytes = try Self.size(ram, "--ram")
        if crossover {
            try findCrossover(ramBytes: ramBytes)
            return
        }
        let generator: AllocMix
        let fillable: Double
        do {
            let classes = try AllocMix.parseMix(mix)
            // RAM the generator cannot write is refused in its own words first.
            if ramBytes == 0 || ramBytes % 4096 != 0 || ramBytes > AllocMix.maxRAMBytes {
                try AllocMix(ramBytes: ramBytes, fillPercent: 100, classes: classes).validate()
            }
            fillable = MemdescCrossover.fillablePercent(ramBytes: ramBytes, classes: classes, profile: try ProfileSource.load(profile))
            if fill == nil && fillable <= 0 {
                throw ValidationError("--ram \(ram) leaves no memory for allocations once the memmap and the kernel's reserve are taken; give a larger --ram")
            }
            generator = AllocMix(ramBytes: ramBytes, fillPercent: fill ?? fillable, classes: classes)
            try generator.validate()
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("\(error)")
        }
        if let fill, fill > fillable {
            FileHandle.standardError.write(
                Data("note: --fill \(fill)% is more than the \(fillable)% of RAM this machine has for allocations; the workload ends in the OOM killer\n".utf8))
        }
        print(generator.text(), terminator: "")
    }

    private func findCrossover(ramBytes: UInt64) throws {
        let smallBytes = try Self.size(small, "--small")
        let largeBytes = try Self.size(large, "--large")
        guard let chosen = SchemeName(rawValue: scheme), chosen == .memdesc || chosen == .memdesc32 else {
            throw ValidationError("--scheme must be memdesc or memdesc-32")
        }
        let loaded = try ProfileSource.load(profile)
        let rows: [MemdescCrossover.Row]
        let found: Double?
        do {
            rows = try MemdescCrossover.sweep(small: smallBytes, large: largeBytes, ramBytes: ramBytes, steps: 10, scheme: chosen, profile: loaded)
            found = try MemdescCrossover.find(small: smallBytes, large: largeBytes, ramBytes: ramBytes, scheme: chosen, profile: loaded)
        } catch let problem as AllocMix.Problem {
            throw ValidationError(problem.description)
        } catch let problem as MemdescCrossover.Problem {
            throw ValidationError(problem.description)
        }
        let answer = found.map { String(format2($0)) + "%" } ?? "none"
        switch format {
        case .md:
            print("# \(chosen.rawValue) against struct page: \(small) and \(large) allocations filling \(ram) of RAM\n")
            print(
                ReportRenderer.table(
                    header: ["\(small) share", "struct-page", chosen.rawValue, "saving", "\(chosen.rawValue) % of RAM"],
                    rows: rows.map { r in
                        [
                            "\(format2(r.smallPercent))%", String(r.structPageBytes), String(r.memdescBytes), String(r.savingBytes),
                            ReportRenderer.percent(Double(r.memdescBytes) / Double(r.ramBytes)),
                        ]
                    }), terminator: "")
            print("\nCrossover: \(chosen.rawValue) stops saving when \(answer) of the memory is in \(small) allocations (the rest \(large)).")
        case .csv:
            print("small_percent,struct_page_bytes,memdesc_bytes,saving_bytes")
            for r in rows { print("\(r.smallPercent),\(r.structPageBytes),\(r.memdescBytes),\(r.savingBytes)") }
            print("crossover,,,\(found.map { String($0) } ?? "")")
        case .json:
            let value: JSONValue = .object([
                ("small_bytes", .unsigned(smallBytes)), ("large_bytes", .unsigned(largeBytes)), ("ram_bytes", .unsigned(ramBytes)),
                ("scheme", .string(chosen.rawValue)),
                (
                    "sweep",
                    .array(
                        rows.map { r in
                            .object([
                                ("small_percent", .number(r.smallPercent)), ("struct_page_bytes", .unsigned(r.structPageBytes)),
                                ("memdesc_bytes", .unsigned(r.memdescBytes)), ("saving_bytes", .integer(r.savingBytes)),
                            ])
                        })
                ),
                ("crossover_small_percent", found.map { .number($0) } ?? .null),
            ])
            print(value.serialized())
        }
    }

    private func format2(_ value: Double) -> String {
        let hundredths = Int64((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    static func size(_ text: String, _ option: String) throws -> UInt64 {
        guard let bytes = AllocMix.parseSize(text) else {
            throw ValidationError("\(option): \(UserText.quoted(text)) is not a size (digits with an optional K, M, G or T suffix)")
        }
        return bytes
    }
}
