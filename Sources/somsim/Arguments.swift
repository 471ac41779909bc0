import ArgumentParser
import SomsimModel
import SomsimReport
import SomsimWorkload

// The options several commands share, as option groups, and the values the parser reads itself
// (formats, schemes, sizes): `--help` lists the allowed values and a bad value is refused by the
// parser, with the option it was given to.

/// What a command's shared arguments say in its `--help`; a command overrides what differs.
protocol ArgumentTexts {
    /// The workload FILE argument.
    static var file: String { get }
    /// `--profile FILE`.
    static var profile: String { get }
    /// `--format md|json|csv`.
    static var format: String { get }
}

extension ArgumentTexts {
    static var file: String { "A workload file (.somw), or - for standard input. Default: the embedded prefork server." }
    static var profile: String { "A profile file whose values override the default constants (see `somsim profile`)." }
    static var format: String { "Output format: md, csv or json." }
}

/// The workload FILE argument (`-` for standard input; the embedded default without one).
struct WorkloadArgument<Texts: ArgumentTexts>: ParsableArguments {
    @Argument(help: ArgumentHelp(Texts.file), completion: .file(extensions: ["somw"]))
    var file: String?

    @OptionGroup var overrides: OverrideOptions

    /// The workload, read and parsed (`WorkloadSource`: exit 66 or 65 on a bad file; 64 for a
    /// `-D` or `--set` the workload has no place for).
    func load() throws -> Workload { try WorkloadSource.load(file, overrides: try overrides.parsed()) }

    /// `load`, with the input's name and bytes for the report's metadata.
    func loadWithInput() throws -> (workload: Workload, input: String, bytes: [UInt8]) {
        try WorkloadSource.loadWithInput(file, overrides: try overrides.parsed())
    }
}

/// `-D NAME=VALUE` and `--set machine.KEY=VALUE`: values that replace a param's default and a
/// machine setting of the workload (docs/workload-format.md, "Params").
struct OverrideOptions: ParsableArguments {
    @Option(
        name: .customShort("D"),
        help: ArgumentHelp("Replace the default of the workload's `param NAME=…` (repeatable).", valueName: "NAME=VALUE"))
    var define: [String] = []

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Replace one setting of the workload's machine line, as `machine KEY=VALUE` takes it (repeatable).", valueName: "machine.KEY=VALUE"))
    var set: [String] = []

    /// The options as overrides; exit 64 for a malformed one or an unknown machine key, 65 for a
    /// machine value the `machine` statement refuses.
    func parsed() throws -> WorkloadOverrides { try Self.overrides(define: define, set: set) }

    static func overrides(define: [String], set: [String]) throws -> WorkloadOverrides {
        var result = WorkloadOverrides()
        for text in define {
            guard let eq = text.firstIndex(of: "="), !text[..<eq].isEmpty else {
                overrideError("-D \(text): error: -D takes NAME=VALUE (the name of a param of the workload, then its value)")
                throw ExitCode(64)
            }
            result.params.append(.init(name: String(text[..<eq]), value: String(text[text.index(after: eq)...])))
        }
        for text in set {
            let keys = WorkloadOverrides.machineKeys.joined(separator: ", ")
            guard text.hasPrefix("machine."), let eq = text.firstIndex(of: "=") else {
                overrideError("--set \(text): error: --set takes machine.KEY=VALUE with KEY one of: \(keys)")
                throw ExitCode(64)
            }
            let key = String(text[text.index(text.startIndex, offsetBy: 8)..<eq])
            guard WorkloadOverrides.machineKeys.contains(key) else {
                overrideError("--set \(text): error: unknown machine key '\(key)'; expected one of: \(WorkloadOverrides.machineKeyUsage)")
                throw ExitCode(64)
            }
            let setting = WorkloadOverrides.Setting(name: key, value: String(text[text.index(after: eq)...]))
            do {
                try WorkloadOverrides.checkMachineSetting(setting)
            } catch {
                overrideError("--set \(text): error: \(error.message)")
                throw ExitCode(65)
            }
            result.machine.append(setting)
        }
        return result
    }
}

/// `--profile FILE`: constants that override the defaults.
struct ProfileOption<Texts: ArgumentTexts>: ParsableArguments {
    @Option(help: ArgumentHelp(Texts.profile), completion: .file())
    var profile: String?

    /// The profile, read and parsed (`ProfileSource`); the defaults without `--profile`.
    func load() throws -> Profile { try ProfileSource.load(profile) }
}

/// `-f, --format md|json|csv`.
struct FormatOption<Texts: ArgumentTexts>: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp(Texts.format))
    var format: ReportFormat = .md
}

extension ReportFormat: ExpressibleByArgument {}

extension SchemeName: ExpressibleByArgument {
    public static var allValueDescriptions: [String: String] {
        Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0.summary) })
    }
}

extension SchemeRenderer.Subject: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }

    public static var allValueStrings: [String] { names }

    public static var allValueDescriptions: [String: String] {
        SchemeName.allValueDescriptions.merging([
            "common": "the page tables and per-process kernel state every scheme shares",
            "tlb-walk": "the memory loads of a TLB miss under virtualization (no workload needed)",
        ]) { scheme, _ in scheme }
    }
}

/// `--schemes a,b,…`: scheme names separated by commas (empty names are skipped).
struct SchemeList {
    /// What shells complete `--schemes` with: every scheme there is.
    static var completion: CompletionKind { .list(SchemeName.allCases.map(\.rawValue)) }

    var schemes: [SchemeName]

    /// Refuses the first name that is not a scheme, naming it and the schemes there are.
    struct UnknownScheme: Error, CustomStringConvertible {
        var name: String
        var description: String {
            "unknown scheme '\(name)'; expected one of: \(SchemeName.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }

    init(parsing text: String) throws {
        schemes = try text.split(separator: ",").map { name in
            guard let scheme = SchemeName(rawValue: String(name)) else { throw UnknownScheme(name: String(name)) }
            return scheme
        }
    }
}

/// A size as the workload format writes it (`4K`, `2M`, `1G`), kept with the text it was given as.
struct ByteSize: ExpressibleByArgument {
    var bytes: UInt64
    /// As given on the command line; reports repeat it.
    var text: String

    init?(argument: String) {
        guard let bytes = AllocMix.parseSize(argument) else { return nil }
        self.bytes = bytes
        self.text = argument
    }

    var defaultValueDescription: String { text }
}

/// The schemes `generate alloc-mix --crossover` can set against struct page.
enum CrossoverScheme: String, CaseIterable, ExpressibleByArgument {
    case memdesc
    case memdesc32 = "memdesc-32"

    var scheme: SchemeName {
        switch self {
        case .memdesc: return .memdesc
        case .memdesc32: return .memdesc32
        }
    }
}

/// One line on standard error for a `-D` or `--set` that cannot be used.
private func overrideError(_ message: String) {
    writeStandardError("\(message)\n")
}
extension Sweep.Format: ExpressibleByArgument {}
/// `--measure LABEL`: only that measure in the output (issue 13).
struct MeasureOption: ParsableArguments {
    @Option(help: "Show only the measure with this label (`end` is the final one); its measure_index stays its place in the workload.")
    var measure: String?

    /// Exits 64 (EX_USAGE) with the labels there are when `labels` has none called `measure`.
    func check(_ labels: [String]) throws {
        guard let measure, !labels.contains(measure) else { return }
        writeStandardError("Error: no measure is labelled '\(measure)'; the labels are: \(labels.joined(separator: ", "))\n")
        throw ExitCode(64)
    }
}
