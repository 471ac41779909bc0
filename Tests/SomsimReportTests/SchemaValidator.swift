import SomsimReport

/// A JSON Schema (draft 2020-12) validator for the subset docs/report.schema.json uses: `type`
/// (a name or a list of names), `properties`, `required`, `additionalProperties` (false or a
/// schema), `items`, `enum`, `oneOf`, and `$ref` to `#/$defs/NAME`. Any other keyword is refused
/// when the schema is loaded, so that the schema cannot say more than the validator checks.
/// (No JSON Schema validator is available as a Swift package.)
struct SchemaValidator {
    let root: JSONValue

    /// Keywords that check nothing (annotations) or that this validator implements.
    static let annotations: Set<String> = ["$schema", "$id", "title", "description", "$defs"]
    static let checked: Set<String> = ["type", "properties", "required", "additionalProperties", "items", "enum", "oneOf", "$ref"]

    struct UnsupportedKeyword: Error, CustomStringConvertible {
        var keyword: String
        var path: String
        var description: String { "the schema uses '\(keyword)' at \(path), which this validator does not implement" }
    }

    init(_ schema: JSONValue) throws {
        root = schema
        try Self.checkKeywords(schema, "#")
    }

    static func checkKeywords(_ schema: JSONValue, _ path: String) throws {
        guard case .object(let fields) = schema else { return }
        for (key, value) in fields {
            guard annotations.contains(key) || checked.contains(key) else { throw UnsupportedKeyword(keyword: key, path: path) }
            switch key {
            case "properties", "$defs":
                if case .object(let subs) = value { for (name, sub) in subs { try checkKeywords(sub, "\(path)/\(key)/\(name)") } }
            case "items", "additionalProperties":
                try checkKeywords(value, "\(path)/\(key)")
            case "oneOf":
                if case .array(let subs) = value { for (i, sub) in subs.enumerated() { try checkKeywords(sub, "\(path)/oneOf/\(i)") } }
            default: break
            }
        }
    }

    /// Every place `instance` breaks the schema, as `PATH: what`; empty when it is valid.
    func errors(_ instance: JSONValue) -> [String] {
        var out: [String] = []
        check(instance, root, "$", &out)
        return out
    }

    func resolve(_ ref: String) -> JSONValue? {
        guard ref.hasPrefix("#/$defs/") else { return nil }
        return root["$defs"]?[String(ref.dropFirst("#/$defs/".count))]
    }

    static func typeMatches(_ v: JSONValue, _ type: String) -> Bool {
        switch (type, v) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): return true
        case ("integer", .integer), ("integer", .unsigned): return true
        case ("integer", .number(let d)): return d.rounded() == d
        case ("number", .integer), ("number", .unsigned), ("number", .number): return true
        default: return false
        }
    }

    func check(_ v: JSONValue, _ schema: JSONValue, _ path: String, _ out: inout [String]) {
        if case .bool(let allowed) = schema {
            if !allowed { out.append("\(path): not allowed here") }
            return
        }
        if case .string(let ref)? = schema["$ref"] {
            guard let target = resolve(ref) else { return out.append("\(path): unresolvable $ref \(ref)") }
            check(v, target, path, &out)
        }
        if let type = schema["type"] {
            let names: [String]
            switch type {
            case .string(let s): names = [s]
            case .array(let items): names = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
            default: names = []
            }
            if !names.contains(where: { Self.typeMatches(v, $0) }) {
                out.append("\(path): expected \(names.joined(separator: " or ")), found \(v.serialized(pretty: false).prefix(60))")
                return
            }
        }
        if case .array(let allowed)? = schema["enum"], !allowed.contains(where: { $0 == v || (Self.number($0) != nil && Self.number($0) == Self.number(v)) }) {
            out.append("\(path): \(v.serialized(pretty: false).prefix(60)) is not one of \(JSONValue.array(allowed).serialized(pretty: false))")
        }
        if case .array(let options)? = schema["oneOf"] {
            let matching = options.filter { option in
                var errs: [String] = []
                check(v, option, path, &errs)
                return errs.isEmpty
            }.count
            if matching != 1 { out.append("\(path): matches \(matching) of the \(options.count) oneOf schemas, not exactly one") }
        }
        if case .object(let fields) = v {
            let properties: [(String, JSONValue)]
            if case .object(let p)? = schema["properties"] { properties = p } else { properties = [] }
            if case .array(let required)? = schema["required"] {
                for case .string(let name) in required where !fields.contains(where: { $0.0 == name }) {
                    out.append("\(path): missing required key '\(name)'")
                }
            }
            for (key, value) in fields {
                if let sub = properties.first(where: { $0.0 == key })?.1 {
                    check(value, sub, "\(path).\(key)", &out)
                } else if let additional = schema["additionalProperties"] {
                    if case .bool(false) = additional {
                        out.append("\(path): key '\(key)' is not in the schema")
                    } else {
                        check(value, additional, "\(path).\(key)", &out)
                    }
                }
            }
        }
        if case .array(let items) = v, let itemSchema = schema["items"] {
            for (i, item) in items.enumerated() { check(item, itemSchema, "\(path)[\(i)]", &out) }
        }
    }

    static func number(_ v: JSONValue) -> Double? {
        switch v {
        case .integer(let i): return Double(i)
        case .unsigned(let u): return Double(u)
        case .number(let d): return d
        default: return nil
        }
    }
}
