/// A `param NAME=DEFAULT` statement of a workload: a name whose `{NAME}` is replaced by its value
/// wherever a `repeat` variable may stand (and in a `repeat` COUNT), at parse time.
public struct WorkloadParam: Equatable, Sendable {
    public var name: String
    /// The value the workload was parsed with: the default, or the override (`-D NAME=VALUE`).
    public var value: String
    /// The value written in the file.
    public var defaultValue: String
    /// The line of the `param` statement.
    public var line: Int

    public init(name: String, value: String, defaultValue: String, line: Int) {
        self.name = name
        self.value = value
        self.defaultValue = defaultValue
        self.line = line
    }
}

/// Values given on the command line that replace what a workload file says: `-D NAME=VALUE`
/// replaces a `param`'s default, `--set machine.KEY=VALUE` one setting of the `machine` line.
public struct WorkloadOverrides: Equatable, Sendable {
    public struct Setting: Equatable, Sendable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// `-D NAME=VALUE`, in the order given (a later one for the same name wins).
    public var params: [Setting]
    /// `--set machine.KEY=VALUE` as `KEY` and `VALUE`, in the order given (a later one wins).
    public var machine: [Setting]

    public init(params: [Setting] = [], machine: [Setting] = []) {
        self.params = params
        self.machine = machine
    }

    public static let none = WorkloadOverrides()

    public var isEmpty: Bool { params.isEmpty && machine.isEmpty }

    /// The override of param `name`, the last one given.
    func param(_ name: String) -> String? { params.last(where: { $0.name == name })?.value }

    /// The keys the `machine` statement takes (and `--set machine.KEY=VALUE`), in the order the
    /// format lists them.
    public static let machineKeys: [String] = StatementParser.machineKeys
        .split(separator: ",").map { part in
            let trimmed = part.drop(while: { $0 == " " })
            return String(trimmed.prefix(while: { $0 != "=" }))
        }

    /// The accepted keys with their values, as the `machine` statement's errors list them.
    public static let machineKeyUsage = StatementParser.machineKeys

    /// Checks one `--set machine.KEY=VALUE` setting as the `machine` statement would; the error
    /// (`--set:1:1: error: …`) says what is wrong and lists the keys or values accepted.
    public static func checkMachineSetting(_ setting: Setting) throws(WorkloadError) {
        let parser = StatementParser(fileName: "--set machine.\(setting.name)=\(setting.value)")
        let head = Token(text: ArraySlice("machine".utf8), column: 1, endColumn: 8)
        let token = Token(text: ArraySlice("\(setting.name)=\(setting.value)".utf8), column: 1, endColumn: 1)
        _ = try parser.parse([head, token], line: 1)
    }

    /// Why a `-D` value cannot stand for `{NAME}`, or nil when it can: a value is one token of
    /// the format (no spaces, `#`, braces), and not empty.
    public static func problem(withValue value: String) -> String? {
        if value.isEmpty { return "a param value cannot be empty" }
        for c in value.unicodeScalars {
            if c == " " || c == "\t" || c == "\r" || c == "\n" { return "a param value cannot hold spaces or line breaks" }
            if c == "#" { return "a param value cannot hold '#' (it starts a comment)" }
            if c == "{" || c == "}" { return "a param value cannot hold '{' or '}'" }
        }
        return nil
    }
}

extension StatementParser {
    /// The verbs of `PROC VERB …` statements, as a set (from `verbs`).
    static let verbList: Set<String> = Set(verbs.split(separator: ",").map { String($0.drop(while: { $0 == " " })) })
}
