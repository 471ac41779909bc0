import ArgumentParser
import SomsimModel
import SomsimReport

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Print every constant the models use: name, value, unit and source.",
        discussion: """
            The default output is the profile file format itself: save it, edit any value, and \
            pass it back with --profile FILE to simulate, compare or explain. A constant left out \
            of the file keeps its default.

            Examples:
              somsim profile > my.profile
              somsim compare server.somw --profile my.profile
              somsim profile --profile my.profile --format md
            """
    )

    @OptionGroup var profile: ProfileOption<Self>

    @Option(name: .shortAndLong, help: "Output format: text (the editable profile file), md, csv or json.")
    var format: ProfileFormat = .text

    enum ProfileFormat: String, ExpressibleByArgument, CaseIterable {
        case text, md, csv, json
    }

    func run() throws {
        let loaded = try profile.load()
        switch format {
        case .text: print(loaded.text(), terminator: "")
        case .md: print(SchemeRenderer.profile(loaded, format: .md), terminator: "")
        case .csv: print(SchemeRenderer.profile(loaded, format: .csv), terminator: "")
        case .json: print(SchemeRenderer.profile(loaded, format: .json), terminator: "")
        }
    }
}

extension ProfileCommand: ArgumentTexts {
    static var profile: String { "A profile file whose values override the defaults." }
}

/// Reads the profile a command was given with `--profile FILE`; the defaults without one.
///
/// A file that cannot be read exits 66 (`InputFile`); one with a bad line, 65 with
/// `FILE:LINE:COLUMN: error: MESSAGE`.
enum ProfileSource {
    static func load(_ path: String?) throws -> Profile {
        guard let path else { return .x86_64 }
        let bytes = try InputFile.readOrExit(path, kind: "profile file")
        do {
            return try Profile.parse(bytes: bytes, fileName: InputFile.displayName(path))
        } catch {
            writeStandardError("\(error)\n")
            throw ExitCode(65)
        }
    }
}
