/// A token as it stands in the file: a byte range of the source and where it starts.
struct RawToken {
    /// Byte offsets into the file's UTF-8 bytes.
    var start: Int
    var end: Int
    /// 1-based column of the first character (counted in Unicode scalars; a tab counts as one).
    var column: Int
    /// 1-based column just after the last character, where a missing next token would go.
    var endColumn: Int
    /// Whether the token holds `{` or `}`, so it needs `{VAR}` substitution or a brace check.
    var hasBrace: Bool
}

/// A line that holds at least one token.
struct RawLine {
    /// 1-based line number.
    var number: Int
    /// Indices into `LexedFile.tokens`.
    var tokens: Range<Int>
}

/// A workload file cut into lines and tokens, without copying any token's text.
///
/// Tokens are separated by spaces, tabs and carriage returns; `#` starts a comment that runs to the
/// end of the line, also in the middle of a token. Lines without tokens are dropped.
struct LexedFile {
    var bytes: [UInt8]
    var tokens: [RawToken] = []
    var lines: [RawLine] = []

    /// Cuts `bytes`, UTF-8 text (callers check that first).
    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        tokens.reserveCapacity(bytes.count / 4)
        var i = 0
        var lineNumber = 1
        let n = bytes.count
        while i <= n {
            var column = 1
            let firstToken = tokens.count
            var inComment = false
            while i < n, bytes[i] != UInt8(ascii: "\n") {
                let b = bytes[i]
                if inComment {
                    i += 1
                    continue
                }
                if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") {
                    i += 1
                    column += 1
                    continue
                }
                if b == UInt8(ascii: "#") {
                    inComment = true
                    i += 1
                    continue
                }
                let start = i
                let startColumn = column
                var hasBrace = false
                while i < n {
                    let c = bytes[i]
                    if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r")
                        || c == UInt8(ascii: "\n") || c == UInt8(ascii: "#")
                    {
                        break
                    }
                    if c == UInt8(ascii: "{") || c == UInt8(ascii: "}") { hasBrace = true }
                    // Count Unicode scalars: every byte that is not a UTF-8 continuation byte.
                    if c & 0xC0 != 0x80 { column += 1 }
                    i += 1
                }
                tokens.append(
                    RawToken(start: start, end: i, column: startColumn, endColumn: column, hasBrace: hasBrace))
            }
            if tokens.count > firstToken {
                lines.append(RawLine(number: lineNumber, tokens: firstToken..<tokens.count))
            }
            lineNumber += 1
            i += 1  // past the newline (or past the end, which ends the loop)
        }
    }

    func text(_ t: RawToken) -> ArraySlice<UInt8> { bytes[t.start..<t.end] }
}

/// A token ready for the statement parser: its text after `{VAR}` substitution, and where it stands
/// in the original line.
struct Token {
    var text: ArraySlice<UInt8>
    var column: Int
    var endColumn: Int

    var string: String { String(decoding: text, as: UTF8.self) }

    /// The token as a message quotes it (`UserText.quoted`).
    var quoted: String { UserText.quoted(text) }

    func isEqual(_ s: StaticString) -> Bool {
        guard text.count == s.utf8CodeUnitCount else { return false }
        return s.withUTF8Buffer { buffer in
            var j = text.startIndex
            for b in buffer {
                if text[j] != b { return false }
                j += 1
            }
            return true
        }
    }

    /// Splits `KEY=VALUE` at the first `=`; nil when there is no `=`.
    func keyValue() -> (key: ArraySlice<UInt8>, value: ArraySlice<UInt8>)? {
        guard let eq = text.firstIndex(of: UInt8(ascii: "=")) else { return nil }
        return (text[text.startIndex..<eq], text[(eq + 1)...])
    }
}

extension ArraySlice where Element == UInt8 {
    func isEqual(_ s: StaticString) -> Bool {
        Token(text: self, column: 0, endColumn: 0).isEqual(s)
    }
    var string: String { String(decoding: self, as: UTF8.self) }
    var quoted: String { UserText.quoted(self) }
}

extension StringProtocol {
    /// The text as a message quotes it (`UserText.quoted`).
    var quoted: String { UserText.quoted(self) }
}

/// Names of processes, mappings, files, variables and labels: `[A-Za-z_][A-Za-z0-9_.-]*`.
func isName(_ s: ArraySlice<UInt8>) -> Bool {
    guard let first = s.first else { return false }
    func letter(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || b == UInt8(ascii: "_")
    }
    guard letter(first) else { return false }
    for b in s.dropFirst() {
        let ok =
            letter(b) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: ".")
            || b == UInt8(ascii: "-")
        if !ok { return false }
    }
    return true
}
