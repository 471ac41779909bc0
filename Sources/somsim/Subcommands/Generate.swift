import ArgumentParser
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
            and the crossover instead of a workload. Its CSV is tidy (one numeric row per mix); \
            --summary prints the crossover alone (CSV: one row with the scheme, the sizes and \
            crossover_small_percent), for a file of its own.

            Examples:
              somsim generate alloc-mix --mix 4K:30,64K:20,2M:50 > mix.somw && somsim compare mix.somw
              somsim generate alloc-mix --mix 256K:100 --ram 4G --fill 50
              somsim generate alloc-mix --crossover --small 4K --large 2M
              somsim generate alloc-mix --crossover --summary --format csv
            """
    )

    @Option(help: "Size classes as SIZE:PERCENT[,SIZE:PERCENT…] of the allocated memory.")
    var mix: String = "4K:50,2M:50"

    @Option(help: ArgumentHelp("RAM of the generated machine: digits with an optional K, M, G or T suffix.", valueName: "size"))
    var ram = ByteSize(argument: "1G")!

    @Option(help: "Percent of RAM the allocations fill (default: all the memory the machine has for them).")
    var fill: Double?

    @Flag(help: "Find the memdesc crossover between --small and --large instead of writing a workload.")
    var crossover = false

    @Option(help: ArgumentHelp("With --crossover: the small allocation size (digits with an optional K, M, G or T suffix).", valueName: "size"))
    var small = ByteSize(argument: "4K")!

    @Option(help: ArgumentHelp("With --crossover: the large allocation size (digits with an optional K, M, G or T suffix).", valueName: "size"))
    var large = ByteSize(argument: "2M")!

    @Option(help: "With --crossover: the scheme to set against struct page.")
    var scheme: CrossoverScheme = .memdesc

    @Flag(help: "With --crossover: print only the crossover (CSV: one row), not the sweep.")
    var summary = false

    @OptionGroup var profile: ProfileOption<Self>
    @OptionGroup var output: FormatOption<Self>

    func validate() throws {
        if summary && !crossover {
            throw ValidationError("--summary prints the crossover; give it with --crossover")
        }
    }

    func run() throws {
        if crossover {
            try findCrossover()
            return
        }
        let ramBytes = ram.bytes
        let generator: AllocMix
        let fillable: Double
        do {
            let classes = try AllocMix.parseMix(mix)
            // RAM the generator cannot write is refused in its own words first.
            if ramBytes == 0 || ramBytes % 4096 != 0 || ramBytes > AllocMix.maxRAMBytes {
                try AllocMix(ramBytes: ramBytes, fillPercent: 100, classes: classes).validate()
            }
            fillable = MemdescCrossover.fillablePercent(ramBytes: ramBytes, classes: classes, profile: try profile.load())
            if fill == nil && fillable <= 0 {
                throw ValidationError("--ram \(ram.text) leaves no memory for allocations once the memmap and the kernel's reserve are taken; give a larger --ram")
            }
            generator = AllocMix(ramBytes: ramBytes, fillPercent: fill ?? fillable, classes: classes)
            try generator.validate()
        } catch let error as ValidationError {
            throw error
        } catch let error as ExitCode {
            throw error  // a --profile that cannot be read (66) or is not valid (65), already said
        } catch {
            throw ValidationError("\(error)")
        }
        if let fill, fill > fillable {
            writeStandardError("note: --fill \(fill)% is more than the \(fillable)% of RAM this machine has for allocations; the workload ends in the OOM killer\n")
        }
        print(generator.text(), terminator: "")
    }

    private func findCrossover() throws {
        let loaded = try profile.load()
        let rows: [MemdescCrossover.Row]
        let found: Double?
        do {
            rows = summary ? [] : try MemdescCrossover.sweep(small: small.bytes, large: large.bytes, ramBytes: ram.bytes, steps: 10, scheme: scheme.scheme, profile: loaded)
            found = try MemdescCrossover.find(small: small.bytes, large: large.bytes, ramBytes: ram.bytes, scheme: scheme.scheme, profile: loaded)
        } catch let problem as AllocMix.Problem {
            throw ValidationError(problem.description)
        } catch let problem as MemdescCrossover.Problem {
            throw ValidationError(problem.description)
        }
        let sweep = CrossoverRenderer.Sweep(
            scheme: scheme.scheme, smallBytes: small.bytes, largeBytes: large.bytes, ramBytes: ram.bytes,
            smallText: small.text, largeText: large.text, ramText: ram.text, rows: rows, crossover: found)
        print(summary ? CrossoverRenderer.summary(sweep, format: output.format) : CrossoverRenderer.render(sweep, format: output.format), terminator: "")
    }
}

extension AllocMixCommand: ArgumentTexts {
    static var profile: String {
        "A profile file whose values override the defaults (the memory the machine has for allocations; with --crossover, the schemes)."
    }
    static var format: String { "With --crossover: output format md, csv or json." }
}
