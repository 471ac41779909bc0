import Foundation
import Testing

/// docs/man/somsim.1, the manual page that `.ci/install.sh` installs, is argument-parser's
/// GenerateManual rendering of the commands' help (`sh .ci/manual.sh` regenerates it). The page is
/// compared with what the built binary says of itself (`--experimental-dump-help`, the input the
/// plugin renders): every command, option and help text in the order the plugin writes them, and
/// no option the binary no longer has. A command or option added without regenerating the page
/// fails here.
@Suite struct ManualTests {
    typealias CLI = CommandLineTests

    static var page: String {
        (try? String(contentsOf: CLI.repositoryRoot.appendingPathComponent("docs/man/somsim.1"), encoding: .utf8)) ?? ""
    }

    /// The parts of the binary's command tree, as argument-parser's dump gives it.
    struct Command: Decodable {
        var commandName: String
        var abstract: String?
        var discussion: String?
        var shouldDisplay: Bool?
        var arguments: [Argument]?
        var subcommands: [Command]?
    }

    struct Argument: Decodable {
        struct Name: Decodable {
            var kind: String
            var name: String
        }
        var kind: String
        var names: [Name]?
        var valueName: String?
        var isRepeating: Bool?
        var shouldDisplay: Bool
        var abstract: String?
    }

    struct Dump: Decodable { var command: Command }

    static func dump() throws -> Command {
        let result = try CLI.run(["--experimental-dump-help"])
        #expect(result.status == 0)
        return try JSONDecoder().decode(Dump.self, from: Data(result.stdout.utf8)).command
    }

    /// The `.It` line GenerateManual writes for an argument: `.It Fl f , -format Ar format`.
    static func item(_ argument: Argument) -> String {
        let value = (argument.valueName ?? "") + (argument.isRepeating == true ? "..." : "")
        if argument.kind == "positional" { return ".It Ar \(value)" }
        let names = (argument.names ?? []).sorted { ($0.kind == "short" ? 0 : 1) < ($1.kind == "short" ? 0 : 1) }
            .map { $0.kind == "long" ? "-\($0.name)" : $0.name }
        return ".It Fl \(names.joined(separator: " , "))" + (argument.kind == "option" ? " Ar \(value)" : "")
    }

    /// Text as GenerateManual writes it on a text line: ASCII only (it drops the rest), `\e` for
    /// a backslash, `\&` before a leading dot or apostrophe.
    static func textLine(_ text: String) -> String {
        var escaped = text.filter(\.isASCII).replacingOccurrences(of: "\\", with: "\\e")
        if escaped.hasPrefix(".") || escaped.hasPrefix("'") { escaped = "\\&" + escaped }
        return escaped
    }

    /// What the page must hold, in its order: each command's name, abstract and discussion, and
    /// each of its arguments' line and abstract; then its subcommands.
    static func expected(_ command: Command, root: Bool) -> [String] {
        var parts: [String] = []
        if !root { parts.append(".It Em \(command.commandName)") }
        if let abstract = command.abstract, !abstract.isEmpty {
            parts.append(root ? ".Nd \"\(abstract.filter(\.isASCII).replacingOccurrences(of: "\"", with: "\\(dq"))\"" : textLine(abstract))
        }
        if let discussion = command.discussion, !discussion.isEmpty { parts.append(textLine(discussion)) }
        for argument in command.arguments ?? [] where argument.shouldDisplay {
            parts.append(item(argument))
            if let abstract = argument.abstract, !abstract.isEmpty { parts.append(textLine(abstract)) }
        }
        for subcommand in command.subcommands ?? [] where subcommand.shouldDisplay != false {
            parts += expected(subcommand, root: false)
        }
        return parts
    }

    static func items(_ command: Command) -> Set<String> {
        var lines = Set((command.arguments ?? []).filter(\.shouldDisplay).map(item))
        lines.insert(".It Em \(command.commandName)")
        for subcommand in command.subcommands ?? [] { lines.formUnion(items(subcommand)) }
        return lines
    }

    /// Why `page` is not the rendering of `command`: the first part it lacks (in its place), and
    /// every command or option line it has that the binary no longer has. Empty when current.
    static func problems(page: String, command: Command) -> [String] {
        var problems: [String] = []
        var position = page.startIndex
        for part in expected(command, root: true) {
            guard let found = page.range(of: part, range: position..<page.endIndex) else {
                problems.append("it lacks \(part.debugDescription) (in this place)")
                break
            }
            position = found.upperBound
        }
        // Argument values (the schemes explain takes) are `.It Ar` lines of their own, checked
        // above with their argument's text; commands and options must all be the binary's.
        let known = items(command)
        for line in page.split(separator: "\n").map(String.init) where line.hasPrefix(".It Fl") || line.hasPrefix(".It Em") {
            if !known.contains(line) { problems.append("\(line) is no longer a command or option") }
        }
        return problems
    }

    @Test func theCommittedPageDescribesEveryCommandAndOption() throws {
        let page = Self.page
        #expect(page.hasPrefix(".\\\" \"Generated by swift-argument-parser\"\n"), "docs/man/somsim.1 is not GenerateManual's output")
        for problem in Self.problems(page: page, command: try Self.dump()) {
            Issue.record("docs/man/somsim.1 is stale: \(problem); run sh .ci/manual.sh")
        }
    }

    /// The check can fail: a page that lacks an option, or has one the binary does not, is stale.
    @Test func aPageWithAnOptionMoreOrLessIsStale() throws {
        let command = try Self.dump()
        let page = Self.page
        let without = page.replacingOccurrences(of: ".It Fl -print-workload\n", with: "")
        #expect(without != page)
        #expect(Self.problems(page: without, command: command) == [#"it lacks ".It Fl -print-workload" (in this place)"#])
        let extra = page.replacingOccurrences(of: ".It Fl -print-workload\n", with: ".It Fl -print-workload\n.It Fl -gone\n")
        #expect(Self.problems(page: extra, command: command) == [".It Fl -gone is no longer a command or option"])
    }
}
