/// How large a workload may grow when its `repeat` blocks are expanded.
///
/// Both limits are checked before anything is expanded, by multiplying repeat counts, so a
/// `repeat 1000000000` is refused at once instead of filling memory.
public struct ExpansionLimits: Equatable, Sendable {
    /// Most statements the expanded workload may hold (every statement a `repeat` produces counts;
    /// `machine` does not).
    public var maxStatements: Int
    /// Deepest nesting of `repeat` blocks (a top-level `repeat` has depth 1).
    public var maxDepth: Int

    public init(maxStatements: Int = 20_000_000, maxDepth: Int = 16) {
        self.maxStatements = maxStatements
        self.maxDepth = maxDepth
    }

    /// 20,000,000 statements, 16 levels of nesting.
    public static let `default` = ExpansionLimits()
}

/// Reads workload replay files (format version 1; see docs/workload-format.md).
public enum WorkloadParser {
    /// Parses, expands and checks a workload file.
    ///
    /// Every `repeat` block is expanded; every statement is checked in execution order (process and
    /// mapping names, page-size multiples, `random=` counts). The first problem found is thrown with
    /// the line and column of the offending token in `text`.
    public static func parse(_ text: String, fileName: String, limits: ExpansionLimits = .default, overrides: WorkloadOverrides = .none) throws(WorkloadError) -> Workload {
        var expander = Expander(bytes: Array(text.utf8), fileName: fileName, limits: limits, overrides: overrides)
        return try expander.run()
    }

    /// `parse` with its fast paths on or off: the renamed templates of `Expander` and the
    /// checker's last-name lookups. Off, every line of every pass is substituted, parsed and
    /// checked the plain way (the differential tests hold the two to each other).
    static func parse(_ text: String, fileName: String, limits: ExpansionLimits = .default, overrides: WorkloadOverrides = .none, fastPaths: Bool) throws(WorkloadError) -> Workload {
        var expander = Expander(bytes: Array(text.utf8), fileName: fileName, limits: limits, overrides: overrides, fastPaths: fastPaths)
        return try expander.run()
    }

    /// Parses a file's bytes as they were read: a file that is not UTF-8 text is refused at the
    /// line and column of its first ill-formed byte sequence, even inside a comment.
    public static func parse(bytes: [UInt8], fileName: String, limits: ExpansionLimits = .default, overrides: WorkloadOverrides = .none) throws(WorkloadError) -> Workload {
        if let invalid = UserText.invalidUTF8(in: bytes) {
            throw WorkloadError(fileName: fileName, location: invalid.location, message: invalid.message)
        }
        var expander = Expander(bytes: bytes, fileName: fileName, limits: limits, overrides: overrides)
        return try expander.run()
    }
}

/// The parser's work: lines into a tree of `repeat` blocks, then the tree expanded and checked.
private struct Expander {
    /// A part of a token that holds `{VAR}` references.
    enum Piece {
        /// Bytes of the file.
        case literal(Range<Int>)
        /// The value of the repeat variable at this nesting depth (0 = outermost).
        case variable(Int)
        /// The value of a `param`.
        case text([UInt8])
    }

    enum Node {
        /// A statement line, by index into `lexed.lines`.
        case line(Int)
        /// A `repeat` block, by index into `blocks`.
        case block(Int)
    }

    struct Block {
        var count: UInt64
        var body: [Node]
    }

    /// A `repeat` block while its body is being read (or the file's top level).
    struct Frame {
        var lineNumber: Int
        var column: Int
        var count: UInt64
        var variable: String
        var body: [Node] = []
        /// Statements one pass of the body produces, saturating at `UInt64.max`.
        var statements: UInt64 = 0
    }

    let lexed: LexedFile
    let fileName: String
    let limits: ExpansionLimits
    let parser: StatementParser
    /// Per line: the parsed statement of a line without `{VAR}`, parsed once.
    var parsedLines: [ParsedLine?]
    /// Per line: for a line with `{VAR}`, the pieces of each of its tokens (empty for plain tokens).
    var templates: [[[Piece]]?]
    /// Per line: a line with `{VAR}` only in the names it gives (`Renamed`), parsed once.
    var renamed: [Renamed?]
    /// Whether `renamed` and the checker's caches are used (`WorkloadParser.parse(fastPaths:)`).
    let fastPaths: Bool
    var blocks: [Block] = []

    var checker: Checker
    var machine = MachineSpec()
    var machineLine: Int?
    var statements: [Located<Statement>] = []
    var scratch = Scratch()
    var names = NameCache()
    /// Changes whenever a repeat variable's value does (the key of `names`, with a name's shape).
    var generation = 0
    /// Each name shape `Renamed` met, numbered (`Renamed.Name.shape`).
    var nameShapes: [[Int]: Int] = [:]
    /// `-D` and `--set machine.` values given on the command line.
    let overrides: WorkloadOverrides
    /// The `param` statements read so far, in file order.
    var params: [WorkloadParam] = []
    /// Every `param` line of the file by name (first line), found before the statements are
    /// read, so that a `{NAME}` used above its `param` is told where the param is.
    var paramLines: [String: Int] = [:]

    init(bytes: [UInt8], fileName: String, limits: ExpansionLimits, overrides: WorkloadOverrides = .none, fastPaths: Bool = true) {
        lexed = LexedFile(bytes)
        self.fileName = fileName
        self.limits = limits
        parser = StatementParser(fileName: fileName)
        parsedLines = Array(repeating: nil, count: lexed.lines.count)
        templates = Array(repeating: nil, count: lexed.lines.count)
        renamed = Array(repeating: nil, count: lexed.lines.count)
        self.fastPaths = fastPaths
        checker = Checker(fileName: fileName, caches: fastPaths)
        self.overrides = overrides
    }

    func error(_ line: Int, _ column: Int, _ message: String) -> WorkloadError {
        WorkloadError(fileName: fileName, location: SourceLocation(line: line, column: column), message: message)
    }

    mutating func run() throws(WorkloadError) -> Workload {
        let top = try buildTree()
        statements.reserveCapacity(Int(clamping: top.statements))
        var values: [[UInt8]] = []
        try expand(top.body, values: &values)
        // A last `measure end` is the final measure, which every run takes (Checker.measureLabel).
        if checker.endMeasure != nil, case .measure("end") = statements.last?.value {
            statements.removeLast()
        }
        if machineLine == nil, !overrides.machine.isEmpty {
            // `--set machine.KEY=VALUE` on a file without a machine line: the line it would be.
            let head = Token(text: ArraySlice("machine".utf8), column: 1, endColumn: 8)
            if case .machine(let spec) = try parser.parse(machineTokens([head]), line: 1) { machine = spec }
        }
        var workload = Workload(fileName: fileName, machine: machine, machineLine: machineLine, statements: statements)
        workload.params = params
        return workload
    }

    // MARK: - Structure

    private func token(_ index: Int) -> RawToken { lexed.tokens[index] }

    private mutating func buildTree() throws(WorkloadError) -> Frame {
        guard let first = lexed.lines.first else {
            throw error(1, 1, "the file is empty; a workload starts with the header 'somsim-workload 1'")
        }
        try checkHeader(first)
        findParamLines()
        var frames = [Frame(lineNumber: 0, column: 0, count: 1, variable: "")]
        let maxStatements = UInt64(max(0, limits.maxStatements))

        for lineIndex in 1..<lexed.lines.count {
            let line = lexed.lines[lineIndex]
            let head = token(line.tokens.lowerBound)
            let headText = lexed.text(head)
            if headText.isEqual("repeat") {
                frames.append(try openRepeat(line, frames: frames))
                continue
            }
            if isParamLine(line) {
                try readParam(line, frames: frames)
                continue
            }
            if headText.isEqual("}") {
                if line.tokens.count > 1 {
                    let extra = token(line.tokens.lowerBound + 1)
                    throw error(line.number, extra.column, "unexpected \(lexed.text(extra).quoted) after '}'; a '}' stands alone on its line")
                }
                guard frames.count > 1, let closed = frames.popLast() else {
                    throw error(line.number, head.column, "'}' without an open repeat; remove it or open a block with 'repeat COUNT as VAR {'")
                }
                let (product, overflow) = closed.count.multipliedReportingOverflow(by: closed.statements)
                let size = overflow ? UInt64.max : product
                if size > maxStatements {
                    throw tooMany(closed.lineNumber, closed.column)
                }
                // A block that runs nothing is dropped: its body was parsed and checked above, and
                // expanding it would cost one step per pass for no statement (`repeat 2^64-1` around
                // an empty body or a `repeat 0`). Every node kept runs a line on every pass, so the
                // expansion's work follows the statements it produces.
                if closed.count == 0 || closed.body.isEmpty { continue }
                blocks.append(Block(count: closed.count, body: closed.body))
                try add(.block(blocks.count - 1), statements: size, to: &frames, line: closed.lineNumber, column: closed.column, limit: maxStatements)
                continue
            }
            let scope = frames.dropFirst().map(\.variable)
            let parsed: ParsedLine
            if lexed.tokens[line.tokens].contains(where: \.hasBrace) {
                let template = try compileTemplate(line, scope: scope)
                templates[lineIndex] = template
                // Parse once with every variable at 0 so that mistakes show even in `repeat 0`.
                let zeros = [[UInt8]](repeating: [UInt8(ascii: "0")], count: scope.count)
                parsed = try parser.parse(machineTokens(substitute(line, template: template, values: zeros)), line: line.number)
                if fastPaths, case .statement(let statement, let anchors) = parsed {
                    renamed[lineIndex] = Renamed(statement, anchors: anchors, template: template, shapes: &nameShapes, bytes: lexed.bytes)
                }
            } else {
                parsed = try parser.parse(machineTokens(plainTokens(line)), line: line.number)
                parsedLines[lineIndex] = parsed
            }
            try add(.line(lineIndex), statements: parsed.emitsStatement ? 1 : 0, to: &frames, line: line.number, column: head.column, limit: maxStatements)
        }
        if frames.count > 1, let open = frames.last {
            throw error(open.lineNumber, open.column, "this repeat block is never closed; add a line with '}' after its body")
        }
        return frames[0]
    }

    private func tooMany(_ line: Int, _ column: Int) -> WorkloadError {
        error(line, column, "the workload would expand to more than \(limits.maxStatements) statements (the expansion limit); lower the repeat counts")
    }

    private func add(_ node: Node, statements: UInt64, to frames: inout [Frame], line: Int, column: Int, limit: UInt64) throws(WorkloadError) {
        let top = frames.count - 1
        frames[top].body.append(node)
        let (sum, overflow) = frames[top].statements.addingReportingOverflow(statements)
        frames[top].statements = overflow ? UInt64.max : sum
        // Inside a block the block's own size is checked when it closes; the top level adds up here.
        if top == 0, frames[0].statements > limit {
            throw tooMany(line, column)
        }
    }

    private func checkHeader(_ line: RawLine) throws(WorkloadError) {
        let head = token(line.tokens.lowerBound)
        guard lexed.text(head).isEqual("somsim-workload") else {
            throw error(line.number, head.column, "a workload starts with the header 'somsim-workload 1', not \(lexed.text(head).quoted); add the header as the first line")
        }
        guard line.tokens.count >= 2 else {
            throw error(line.number, head.endColumn, "missing format version; the header is 'somsim-workload 1'")
        }
        let version = token(line.tokens.lowerBound + 1)
        guard lexed.text(version).isEqual("1") else {
            throw error(line.number, version.column, "unsupported format version \(lexed.text(version).quoted); this somsim reads version 1 ('somsim-workload 1')")
        }
        if line.tokens.count > 2 {
            let extra = token(line.tokens.lowerBound + 2)
            throw error(line.number, extra.column, "unexpected \(lexed.text(extra).quoted) after the header; the header is 'somsim-workload 1'")
        }
    }

    /// `repeat COUNT as VAR {`
    private func openRepeat(_ line: RawLine, frames: [Frame]) throws(WorkloadError) -> Frame {
        let usage = "the form is 'repeat COUNT as VAR {'"
        let t = Array(lexed.tokens[line.tokens])
        let head = t[0]
        func missing(_ what: String) -> WorkloadError {
            error(line.number, t[t.count - 1].endColumn, "missing \(what); \(usage)")
        }
        guard t.count >= 2 else { throw missing("COUNT") }
        var countText = lexed.text(t[1])
        if t[1].hasBrace {
            countText = try paramsOnly(t[1], line: line, scope: frames.dropFirst().map(\.variable))
        }
        let count: UInt64
        switch Sizes.parseInteger(countText) {
        case .success(let n): count = n
        case .failure(.overflow):
            throw error(line.number, t[1].column, "repeat COUNT \(countText.quoted) does not fit in 64 bits; lower it")
        case .failure(.notANumber):
            throw error(line.number, t[1].column, "repeat COUNT must be a plain non-negative integer, not \(countText.quoted)")
        }
        guard t.count >= 3 else { throw missing("'as'") }
        guard lexed.text(t[2]).isEqual("as") else {
            throw error(line.number, t[2].column, "expected 'as' after the repeat count, not \(lexed.text(t[2]).quoted); \(usage)")
        }
        guard t.count >= 4 else { throw missing("VAR") }
        let variable = lexed.text(t[3])
        guard isName(variable) else {
            throw error(line.number, t[3].column, "repeat variable \(variable.quoted) is not a name; \(StatementParser.nameRule)")
        }
        if let param = params.first(where: { $0.name.utf8.elementsEqual(variable) }) {
            throw error(line.number, t[3].column, "repeat variable \(variable.quoted) has the name of the param on line \(param.line); choose another name")
        }
        if let outer = frames.dropFirst().first(where: { $0.variable.utf8.elementsEqual(variable) }) {
            throw error(line.number, t[3].column, "repeat variable \(variable.quoted) shadows the variable of the enclosing repeat on line \(outer.lineNumber); choose another name")
        }
        guard t.count >= 5 else { throw missing("'{'") }
        guard lexed.text(t[4]).isEqual("{") else {
            throw error(line.number, t[4].column, "expected '{' after the repeat variable, not \(lexed.text(t[4]).quoted); \(usage)")
        }
        if t.count > 5 {
            throw error(line.number, t[5].column, "unexpected \(lexed.text(t[5]).quoted) after '{'; the body starts on the next line")
        }
        let depth = frames.count  // frames[0] is the top level
        if depth > limits.maxDepth {
            throw error(line.number, head.column, "repeat blocks nest \(depth) deep here; the limit is \(limits.maxDepth)")
        }
        return Frame(lineNumber: line.number, column: head.column, count: count, variable: variable.string)
    }

    // MARK: - Tokens and {VAR}

    private func plainTokens(_ line: RawLine) -> [Token] {
        lexed.tokens[line.tokens].map { Token(text: lexed.text($0), column: $0.column, endColumn: $0.endColumn) }
    }

    /// Splits each token of a line into literal bytes and `{VAR}` references, resolved against the
    /// variables of the enclosing blocks (outermost first).
    private func compileTemplate(_ line: RawLine, scope: [String]) throws(WorkloadError) -> [[Piece]] {
        var result: [[Piece]] = []
        for raw in lexed.tokens[line.tokens] {
            guard raw.hasBrace else {
                result.append([])
                continue
            }
            let bytes = lexed.bytes
            let text = lexed.text(raw)
            var pieces: [Piece] = []
            var literalStart = raw.start
            var i = raw.start
            while i < raw.end {
                if bytes[i] == UInt8(ascii: "}") {
                    throw error(line.number, raw.column, "stray '}' in \(text.quoted); a variable is written {VAR}")
                }
                guard bytes[i] == UInt8(ascii: "{") else {
                    i += 1
                    continue
                }
                var j = i + 1
                while j < raw.end, bytes[j] != UInt8(ascii: "}"), bytes[j] != UInt8(ascii: "{") { j += 1 }
                guard j < raw.end, bytes[j] == UInt8(ascii: "}") else {
                    throw error(line.number, raw.column, "unclosed '{' in \(text.quoted); a variable is written {VAR}")
                }
                let name = bytes[(i + 1)..<j]
                guard isName(name) else {
                    throw error(line.number, raw.column, "\("{\(name.string)}".quoted) in \(text.quoted) is not a variable; a variable is written {VAR} with VAR the name of an enclosing repeat's variable")
                }
                let piece: Piece
                if let depth = scope.lastIndex(where: { $0.utf8.elementsEqual(name) }) {
                    piece = .variable(depth)
                } else {
                    piece = .text(try paramValue(name, line: line.number, column: raw.column, in: text, scope: scope))
                }
                if literalStart < i { pieces.append(.literal(literalStart..<i)) }
                pieces.append(piece)
                i = j + 1
                literalStart = i
            }
            if literalStart < raw.end { pieces.append(.literal(literalStart..<raw.end)) }
            result.append(pieces)
        }
        return result
    }

    /// The tokens of a line with `{VAR}` replaced by `values` (indexed by nesting depth).
    private func substitute(_ line: RawLine, template: [[Piece]], values: [[UInt8]]) -> [Token] {
        var scratch = Scratch()
        Self.substitute(line, template: template, values: values, lexed: lexed, into: &scratch)
        return scratch.tokens
    }

    /// Reusable storage for substituted tokens, so expanding a line allocates nothing once warm.
    struct Scratch {
        var tokens: [Token] = []
        var bytes: [UInt8] = []
        var spans: [Range<Int>] = []
    }

    /// (Static, so that filling `self.scratch` does not copy the whole expander.)
    private static func substitute(
        _ line: RawLine, template: [[Piece]], values: [[UInt8]], lexed: LexedFile, into scratch: inout Scratch
    ) {
        // Drop the previous tokens' slices first, so that `bytes` is unshared and reused in place.
        let tokenCount = line.tokens.count
        if scratch.tokens.count != tokenCount {
            scratch.tokens = Array(repeating: Token(text: [], column: 0, endColumn: 0), count: tokenCount)
        } else {
            for k in 0..<tokenCount { scratch.tokens[k].text = [] }
        }
        scratch.bytes.removeAll(keepingCapacity: true)
        scratch.spans.removeAll(keepingCapacity: true)
        for (k, raw) in lexed.tokens[line.tokens].enumerated() where raw.hasBrace {
            let start = scratch.bytes.count
            for piece in template[k] {
                switch piece {
                case .literal(let r): scratch.bytes.append(contentsOf: lexed.bytes[r])
                case .variable(let depth): scratch.bytes.append(contentsOf: values[depth])
                case .text(let value): scratch.bytes.append(contentsOf: value)
                }
            }
            scratch.spans.append(start..<scratch.bytes.count)
        }
        var span = 0
        for (k, raw) in lexed.tokens[line.tokens].enumerated() {
            var text = lexed.text(raw)
            if raw.hasBrace {
                text = scratch.bytes[scratch.spans[span]]
                span += 1
            }
            scratch.tokens[k] = Token(text: text, column: raw.column, endColumn: raw.endColumn)
        }
    }

    // MARK: - Params

    /// `param NAME=VALUE`: a line whose first word is `param` and whose second is not a verb
    /// (`param fork child` is the process `param` forking, as in format version 1).
    private func isParamLine(_ line: RawLine) -> Bool {
        guard lexed.text(token(line.tokens.lowerBound)).isEqual("param") else { return false }
        guard line.tokens.count >= 2 else { return true }
        let second = lexed.text(token(line.tokens.lowerBound + 1)).string
        return !StatementParser.verbList.contains(second)
    }

    /// Notes the line of every `param NAME=…` before the statements are read.
    private mutating func findParamLines() {
        for line in lexed.lines.dropFirst() where isParamLine(line) && line.tokens.count >= 2 {
            let setting = lexed.text(token(line.tokens.lowerBound + 1))
            let name = setting.prefix(while: { $0 != UInt8(ascii: "=") }).string
            if paramLines[name] == nil { paramLines[name] = line.number }
        }
    }

    /// Reads `param NAME=DEFAULT`, replacing the default by the `-D` override if there is one.
    private mutating func readParam(_ line: RawLine, frames: [Frame]) throws(WorkloadError) {
        let usage = "the form is 'param NAME=DEFAULT'"
        let t = Array(lexed.tokens[line.tokens])
        guard t.count >= 2 else {
            throw error(line.number, t[0].endColumn, "missing NAME=DEFAULT; \(usage)")
        }
        if t.count > 2 {
            throw error(line.number, t[2].column, "unexpected \(lexed.text(t[2]).quoted) after the param; \(usage), one param per line")
        }
        if frames.count > 1 {
            throw error(line.number, t[0].column, "a param is declared at the top level, not inside a repeat block (open on line \(frames[frames.count - 1].lineNumber)); move it above the block")
        }
        let setting = lexed.text(t[1])
        guard let eq = setting.firstIndex(of: UInt8(ascii: "=")) else {
            throw error(line.number, t[1].column, "a param needs a default value: \(setting.quoted) has no '='; \(usage)")
        }
        let name = setting[setting.startIndex..<eq]
        let fileValue = setting[(eq + 1)...]
        guard isName(name) else {
            throw error(line.number, t[1].column, "param name \(name.quoted) is not a name; \(StatementParser.nameRule)")
        }
        if let first = params.first(where: { $0.name.utf8.elementsEqual(name) }) {
            throw error(line.number, t[1].column, "param \(name.quoted) is declared a second time (first on line \(first.line)); remove one, or override it with -D \(name.string)=VALUE")
        }
        if fileValue.isEmpty {
            throw error(line.number, t[1].column, "param \(name.quoted) has an empty default; write a value after '=' (param \(name.string)=VALUE)")
        }
        if t[1].hasBrace {
            throw error(line.number, t[1].column, "a param's default is a plain value; '{' and '}' cannot be used in it")
        }
        var value = fileValue.string
        if let given = overrides.param(name.string) {
            if let problem = WorkloadOverrides.problem(withValue: given) {
                throw error(line.number, t[1].column, "-D \(name.string)=\(given) cannot replace the default of param \(name.quoted): \(problem)")
            }
            value = given
        }
        params.append(WorkloadParam(name: name.string, value: value, defaultValue: fileValue.string, line: line.number))
    }

    /// The value of param `name` for a `{NAME}` that is not a repeat variable in scope.
    private func paramValue(_ name: ArraySlice<UInt8>, line: Int, column: Int, in text: ArraySlice<UInt8>, scope: [String]) throws(WorkloadError) -> [UInt8] {
        if let param = params.first(where: { $0.name.utf8.elementsEqual(name) }) {
            return Array(param.value.utf8)
        }
        let reference = "{\(name.string)}".quoted
        if let later = paramLines[name.string] {
            throw error(line, column, "\(reference) in \(text.quoted) is used before its param on line \(later); move the 'param \(name.string)=…' line above its first use")
        }
        var known: [String] = []
        if !scope.isEmpty { known.append("the enclosing repeat blocks define: \(scope.map { UserText.clipped($0) }.joined(separator: ", "))") }
        if !params.isEmpty { known.append("the params are: \(params.map { UserText.clipped($0.name) }.joined(separator: ", "))") }
        if known.isEmpty { known.append("there is no enclosing repeat block and no param; declare one with 'param NAME=DEFAULT'") }
        throw error(line, column, "unknown variable \(reference) in \(text.quoted); \(known.joined(separator: "; "))")
    }

    /// A `repeat` COUNT with `{NAME}`: only params may stand in it (the count is fixed before
    /// any pass of the block runs).
    private func paramsOnly(_ raw: RawToken, line: RawLine, scope: [String]) throws(WorkloadError) -> ArraySlice<UInt8> {
        let template = try compileTemplate(RawLine(number: line.number, tokens: line.tokens.lowerBound + 1..<line.tokens.lowerBound + 2), scope: scope)
        var out: [UInt8] = []
        for piece in template[0] {
            switch piece {
            case .literal(let r): out.append(contentsOf: lexed.bytes[r])
            case .text(let value): out.append(contentsOf: value)
            case .variable:
                throw error(line.number, raw.column, "repeat COUNT \(lexed.text(raw).quoted) uses a repeat variable: a COUNT is a plain integer or a {PARAM} (param NAME=DEFAULT); {VAR} cannot be used in it")
            }
        }
        return out[...]
    }

    /// A `machine` line's tokens with the settings `--set machine.KEY=VALUE` replaces left out
    /// and the given ones added at the end; other lines as they are.
    private func machineTokens(_ tokens: [Token]) -> [Token] {
        guard !overrides.machine.isEmpty, let head = tokens.first, head.isEqual("machine") else { return tokens }
        var given: [String: String] = [:]
        var order: [String] = []
        for setting in overrides.machine {
            if given[setting.name] == nil { order.append(setting.name) }
            given[setting.name] = setting.value
        }
        var result = [head]
        for token in tokens.dropFirst() {
            if let (key, _) = token.keyValue(), given[key.string] != nil { continue }
            result.append(token)
        }
        let column = tokens.last?.endColumn ?? head.endColumn
        for name in order {
            result.append(Token(text: ArraySlice("\(name)=\(given[name]!)".utf8), column: column, endColumn: column))
        }
        return result
    }

    // MARK: - Expansion

    /// Adds one to a decimal number written in ASCII digits, in place ("9" -> "10").
    static func increment(_ digits: inout [UInt8]) {
        var k = digits.count - 1
        while k >= 0 {
            if digits[k] < UInt8(ascii: "9") {
                digits[k] += 1
                return
            }
            digits[k] = UInt8(ascii: "0")
            k -= 1
        }
        digits.insert(UInt8(ascii: "1"), at: 0)
    }

    private mutating func expand(_ nodes: [Node], values: inout [[UInt8]]) throws(WorkloadError) {
        for node in nodes {
            switch node {
            case .line(let index):
                let line = lexed.lines[index]
                if let fast = renamed[index] {
                    let statement = fast.statement(values: values, bytes: lexed.bytes, generation: generation, names: &names)
                    let column = token(line.tokens.lowerBound).column
                    try checker.check(statement, line: line.number, at: fast.anchors)
                    statements.append(Located(statement, at: SourceLocation(line: line.number, column: column)))
                    continue
                }
                let parsed: ParsedLine
                if let plain = parsedLines[index] {
                    parsed = plain
                } else if let template = templates[index] {
                    Self.substitute(line, template: template, values: values, lexed: lexed, into: &scratch)
                    parsed = try parser.parse(machineTokens(scratch.tokens), line: line.number)
                } else {
                    continue  // unreachable: every statement line has one or the other
                }
                let column = token(line.tokens.lowerBound).column
                switch parsed {
                case .machine(let spec):
                    try checker.machine(line: line.number, column: column)
                    machine = spec
                    machineLine = line.number
                case .statement(let statement, let anchors):
                    try checker.check(statement, line: line.number, at: anchors)
                    statements.append(Located(statement, at: SourceLocation(line: line.number, column: column)))
                }
            case .block(let index):
                let block = blocks[index]
                values.append([UInt8(ascii: "0")])
                generation &+= 1
                let depth = values.count - 1
                var i: UInt64 = 0
                // Before the first pass and after it: the process that last created a mapping,
                // and its count (`reserveMappings`).
                let before = block.count > 2 ? checker.growthMark : nil
                var afterFirst: (process: Int, count: Int)? = nil
                while true {
                    try expand(block.body, values: &values)
                    i += 1
                    if i == block.count { break }
                    if i == 1 {
                        afterFirst = checker.growthMark
                    } else if i == 2, let m0 = before, let m1 = afterFirst, let m2 = checker.growthMark,
                              m0.process == m1.process, m1.process == m2.process,
                              case let added = m1.count - m0.count, added > 0, m2.count - m1.count == added {
                        // Each pass so far gave one process as many new mappings: room for as
                        // many in each pass left (within the expansion limit, checked before).
                        let (more, overflow) = added.multipliedReportingOverflow(by: Int(clamping: block.count - 2))
                        let (total, overflowTotal) = m2.count.addingReportingOverflow(more)
                        if !overflow && !overflowTotal { checker.reserveMappings(process: m2.process, total: total) }
                    }
                    Self.increment(&values[depth])
                    generation &+= 1
                }
                values.removeLast()
                generation &+= 1
            }
        }
    }
}

extension Expander {
    /// A statement line whose `{VAR}`s stand only in the names it gives: its process (the first
    /// token; `spawn`'s second) and its mapping, child or label (the third token; `measure`'s
    /// second). It is parsed once, with every variable at 0; each pass then only builds the names
    /// and puts them into that statement.
    ///
    /// Performance: `repeat 205813 as i { app mmap a64k_{i} 64K … }` (alloc-mix at 64 GiB) spent
    /// ~6,000 instructions per statement substituting, re-lexing and parsing each line.
    ///
    /// Why every pass parses to that statement with its names replaced: a variable's value is
    /// decimal digits, never empty, and a name token parses by `isName` alone (and, for the
    /// process `spawn` or `fork` creates, by not being a keyword). Its first byte is a literal's
    /// or a param's in every pass (a variable first would start it with a digit, which the parse
    /// with zeros refused); digits are name characters; no keyword holds a digit. Options, sizes
    /// and verbs with `{VAR}` take the plain path (`templates`). The differential tests
    /// (RenamedTemplateTests) hold the two paths to each other.
    /// (A class: each pass reads it from `renamed` without copying its pieces.)
    final class Renamed {
        /// The statement parsed with every variable at 0.
        let base: Statement
        let anchors: Anchors
        /// A name token with `{VAR}`.
        struct Name {
            let pieces: [Piece]
            /// The same number for tokens of the same text with the same variables (`a64k_{i}` on
            /// three lines of a block), so one pass makes their String once (`NameCache`).
            let shape: Int
        }
        /// The first name's token, nil when it holds no `{VAR}`.
        let first: Name?
        /// The second name's token, nil when it holds no `{VAR}`.
        let second: Name?

        /// Nil when the line has `{VAR}` anywhere but its names (or is a statement without this path).
        init?(_ statement: Statement, anchors: Anchors, template: [[Piece]], shapes: inout [[Int]: Int], bytes: [UInt8]) {
            let firstToken: Int?
            let secondToken: Int?
            switch statement {
            case .spawn, .measure:
                (firstToken, secondToken) = (nil, 1)
            case .exit:
                (firstToken, secondToken) = (0, nil)
            case .fork, .mmap, .munmap, .madvise, .touch, .mprotect, .mlock, .munlock, .mremap:
                (firstToken, secondToken) = (0, 2)
            default:
                return nil
            }
            for (k, pieces) in template.enumerated() where !pieces.isEmpty && k != firstToken && k != secondToken {
                return nil
            }
            func name(_ token: Int?) -> Name? {
                guard let token, !template[token].isEmpty else { return nil }
                // The shape: constant bytes as themselves, the variable of depth d as -1 - d.
                var key: [Int] = []
                for piece in template[token] {
                    switch piece {
                    case .literal(let r): key += bytes[r].map { Int($0) }
                    case .variable(let depth): key.append(-1 - depth)
                    case .text(let value): key += value.map { Int($0) }
                    }
                }
                let shape = shapes[key] ?? shapes.count
                shapes[key] = shape
                return Name(pieces: template[token], shape: shape)
            }
            base = statement
            self.anchors = anchors
            first = name(firstToken)
            second = name(secondToken)
        }

        /// The statement of the pass whose variables have `values` (by depth).
        func statement(values: [[UInt8]], bytes: [UInt8], generation: Int, names: inout NameCache) -> Statement {
            var a: String? = nil
            var b: String? = nil
            if let first { a = names.text(first, values: values, bytes: bytes, generation: generation) }
            if let second { b = names.text(second, values: values, bytes: bytes, generation: generation) }
            switch base {
            case .spawn(let p): return .spawn(process: b ?? p)
            case .measure(let label): return .measure(label: b ?? label)
            case .exit(let p): return .exit(process: a ?? p)
            case .fork(let parent, let child): return .fork(parent: a ?? parent, child: b ?? child)
            case .mmap(let p, let m, let length, let options):
                return .mmap(process: a ?? p, mapping: b ?? m, lengthBytes: length, options: options)
            case .munmap(let p, let m, let range): return .munmap(process: a ?? p, mapping: b ?? m, range: range)
            case .madvise(let p, let m, let advice, let range):
                return .madvise(process: a ?? p, mapping: b ?? m, advice: advice, range: range)
            case .touch(let p, let m, let access, let range, let pattern):
                return .touch(process: a ?? p, mapping: b ?? m, access: access, range: range, pattern: pattern)
            case .mprotect(let p, let m, let protection, let range):
                return .mprotect(process: a ?? p, mapping: b ?? m, protection: protection, range: range)
            case .mlock(let p, let m, let range): return .mlock(process: a ?? p, mapping: b ?? m, range: range)
            case .munlock(let p, let m, let range): return .munlock(process: a ?? p, mapping: b ?? m, range: range)
            case .mremap(let p, let m, let length, let mayMove):
                return .mremap(process: a ?? p, mapping: b ?? m, lengthBytes: length, mayMove: mayMove)
            default:
                return base  // unreachable: `init` takes only the statements above
            }
        }

    }

    /// The last name `Renamed` built, kept so that the lines of one pass that give the same name
    /// (`mmap a64k_{i}`, `madvise a64k_{i}`, `touch a64k_{i}`) make its String once.
    struct NameCache {
        var scratch: [UInt8] = []
        var shape = -1
        var generation = -1
        var string = ""

        /// A name token's text in this pass (as `Token.string` makes it), made once for all the
        /// names of one shape while the variables keep their values.
        mutating func text(_ name: Renamed.Name, values: [[UInt8]], bytes source: [UInt8], generation: Int) -> String {
            if name.shape == shape && generation == self.generation { return string }
            scratch.removeAll(keepingCapacity: true)
            for piece in name.pieces {
                switch piece {
                case .literal(let r): scratch.append(contentsOf: source[r])
                case .variable(let depth): scratch.append(contentsOf: values[depth])
                case .text(let value): scratch.append(contentsOf: value)
                }
            }
            string = String(decoding: scratch, as: UTF8.self)
            shape = name.shape
            self.generation = generation
            return string
        }
    }
}
