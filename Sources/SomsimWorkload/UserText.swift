/// Text that comes from a user's file: where it stops being UTF-8, and how a message quotes it.
///
/// Workload and profile files share these rules, so their messages read alike.
public enum UserText {
    /// Characters (Unicode scalars) of user text a message quotes; longer text is cut there.
    public static let quoteLimit = 64

    /// `'text'`; text longer than `quoteLimit` characters is cut, followed by `…` and its length
    /// in bytes: `'aaaa…' (104857600 bytes)`. A message stays short however long the token.
    public static func quoted(_ text: some StringProtocol) -> String {
        quoted(ArraySlice(text.utf8))
    }

    /// `quoted` for the bytes of a token (UTF-8; a file's bytes are checked before any is quoted).
    public static func quoted(_ bytes: ArraySlice<UInt8>) -> String {
        let (shown, cut) = clip(bytes)
        return cut ? "'\(shown)…' (\(bytes.count) bytes)" : "'\(shown)'"
    }

    /// The text as it goes inside a larger quoted phrase (`'spawn NAME'`): cut to `quoteLimit`
    /// characters with `…`, without quotes or length.
    public static func clipped(_ text: some StringProtocol) -> String {
        let (shown, cut) = clip(ArraySlice(text.utf8))
        return cut ? shown + "…" : shown
    }

    /// The first `quoteLimit` characters, and whether anything was left out.
    private static func clip(_ bytes: ArraySlice<UInt8>) -> (String, Bool) {
        var characters = 0
        var end = bytes.startIndex
        while end < bytes.endIndex {
            // A character starts at every byte that is not a UTF-8 continuation byte.
            if bytes[end] & 0xC0 != 0x80 {
                if characters == quoteLimit { break }
                characters += 1
            }
            end += 1
        }
        return (String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self), end < bytes.endIndex)
    }

    /// Where `bytes` stop being UTF-8 text, or nil when all of them are.
    public static func invalidUTF8(in bytes: [UInt8]) -> InvalidUTF8? {
        // The standard library's validation is fast even in a debug build; the slow walk below
        // runs only to find the place of a problem.
        let valid = bytes.withUnsafeBufferPointer { String(validating: $0, as: UTF8.self) != nil }
        if valid { return nil }
        // (Clamped: should the two validations ever disagree, the message points at the last
        // byte rather than trapping.)
        let offset = min(firstIllFormedSequence(bytes), bytes.count - 1)
        var line = 1
        var lineStart = 0
        for i in 0..<offset where bytes[i] == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
        }
        // Columns count Unicode scalars, as the lexer does; the bytes before `offset` are valid.
        var column = 1
        for i in lineStart..<offset where bytes[i] & 0xC0 != 0x80 { column += 1 }
        return InvalidUTF8(location: SourceLocation(line: line, column: column), byteOffset: offset, byte: bytes[offset])
    }

    /// The offset of the first byte that does not start a well-formed UTF-8 sequence (The
    /// Unicode Standard, table 3-7), or `bytes.count`.
    static func firstIllFormedSequence(_ bytes: [UInt8]) -> Int {
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                i += 1
                continue
            }
            let length: Int
            var secondLow: UInt8 = 0x80
            var secondHigh: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondLow = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondHigh = 0x9F
            case 0xF0: length = 4; secondLow = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondHigh = 0x8F
            default: return i
            }
            guard i + length <= n, bytes[i + 1] >= secondLow, bytes[i + 1] <= secondHigh else { return i }
            for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { return i }
            i += length
        }
        return n
    }
}

/// The first place where a file is not UTF-8 text.
public struct InvalidUTF8: Equatable, Sendable {
    /// Line and column of the character that is not UTF-8 (columns count the characters before it).
    public var location: SourceLocation
    /// Offset of its first byte in the file.
    public var byteOffset: Int
    /// Its first byte.
    public var byte: UInt8

    public init(location: SourceLocation, byteOffset: Int, byte: UInt8) {
        self.location = location
        self.byteOffset = byteOffset
        self.byte = byte
    }

    public var message: String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "the file is not UTF-8 text: byte 0x\(hex.count < 2 ? "0" : "")\(hex) at offset \(byteOffset) does not start a valid UTF-8 sequence; save the file as UTF-8"
    }
}
