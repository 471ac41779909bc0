/// Typed views of a `JSONValue` read back (`JSONValue.parse`, JSONParser.swift), for
/// `somsim merge` and `somsim plot`, which read what somsim wrote.
extension JSONValue {
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// A number as a Double; a string that holds a number too (as CSV fields are read).
    public var doubleValue: Double? {
        switch self {
        case .unsigned(let u): return Double(u)
        case .integer(let n): return Double(n)
        case .number(let d): return d
        case .string(let s): return Double(s)
        default: return nil
        }
    }

    public var intValue: Int? {
        switch self {
        case .unsigned(let u): return Int(exactly: u)
        case .integer(let n): return Int(exactly: n)
        default: return nil
        }
    }
}
