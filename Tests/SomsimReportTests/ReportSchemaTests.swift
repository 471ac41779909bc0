import Foundation
import SomsimModel
import SomsimReport
import SomsimWorkload
import Testing

/// docs/report.schema.json against every report the tests can produce, and the validator
/// against documents it must refuse (issue 13).
@Suite struct ReportSchemaTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func schema() throws -> SchemaValidator {
        let text = try String(contentsOf: root.appendingPathComponent("docs/report.schema.json"), encoding: .utf8)
        return try SchemaValidator(JSONValue.parse(text))
    }

    /// Every committed workload: validation/, docs/examples/, papers/workloads/, and the fuzz
    /// crashers the parser takes.
    static func workloads() throws -> [(name: String, bytes: [UInt8], workload: Workload)] {
        var out: [(String, [UInt8], Workload)] = []
        for folder in ["validation", "docs/examples", "papers/workloads", "Tests/SomsimReportTests/FuzzCrashers"] {
            let url = root.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() where name.hasSuffix(".somw") {
                let bytes = Array(try Data(contentsOf: url.appendingPathComponent(name)))
                guard let workload = try? WorkloadParser.parse(bytes: bytes, fileName: name) else {
                    #expect(folder.hasPrefix("Tests"), "\(folder)/\(name) does not parse")
                    continue
                }
                out.append(("\(folder)/\(name)", bytes, workload))
            }
        }
        return out
    }

    @Test func everyReportOfEveryCommittedWorkloadFollowsTheSchema() throws {
        let validator = try Self.schema()
        let profile = Profile()
        let workloads = try Self.workloads()
        #expect(workloads.count > 100)
        for (name, bytes, workload) in workloads {
            let metadata = ReportMetadata(input: name, inputBytes: bytes, machine: workload.machine, profile: profile)
            let report = Simulator.run(workload)
            let simulate = try JSONValue.parse(ReportRenderer.render(report, as: .json, options: ReportOptions(metadata: metadata)))
            #expect(validator.errors(simulate) == [], "simulate \(name)")
            let run = SchemeRun.run(workload)
            let compare = try JSONValue.parse(SchemeRenderer.compare(run, schemes: SchemeName.allCases, format: .json, options: ReportOptions(metadata: metadata)))
            #expect(validator.errors(compare) == [], "compare \(name)")
            // One measure only (--measure): the same schema.
            let last = report.measures.last!.label
            let one = try JSONValue.parse(ReportRenderer.render(report, as: .json, options: ReportOptions(measure: last, metadata: metadata)))
            #expect(validator.errors(one) == [], "simulate --measure \(name)")
        }
    }

    @Test func profileOverridesFollowTheSchema() throws {
        let validator = try Self.schema()
        var profile = Profile()
        let key = ProfileKey.structPageBytes
        profile[key] = profile[key] + 1
        let workload = try WorkloadParser.parse("somsim-workload 1\nmachine ram=1G mthp=16K,64K som-pool=2G virt=4x5 guest-page=2M mmap-threshold=64K\nspawn a\n", fileName: "t")
        let metadata = ReportMetadata(input: "t", inputBytes: [], machine: workload.machine, profile: profile)
        let json = try JSONValue.parse(ReportRenderer.render(Simulator.run(workload, constants: KernelConstants(profile: profile)), as: .json, options: ReportOptions(metadata: metadata)))
        #expect(validator.errors(json) == [])
        #expect(json["metadata"]?["profile_overrides"]?[key.rawValue] == .unsigned(Profile()[key] + 1))
        #expect(json["metadata"]?["machine"]?["mthp_bytes"] == .array([.unsigned(16384), .unsigned(65536)]))
        #expect(json["metadata"]?["machine"]?["virt"] == .string("4x5"))
        #expect(json["metadata"]?["machine"]?["mmap_threshold_bytes"] == .unsigned(65536))
        #expect(json["metadata"]?["machine"]?["som_pool_bytes"] == .unsigned(2 << 30))
        // SHA-256 of no bytes (FIPS 180-4's empty-message digest).
        #expect(json["metadata"]?["input_sha256"] == .string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
    }

    // MARK: The validator refuses what it must

    static let small = """
        {"$defs": {"p": {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"enum": ["a", "b"]}},
                         "required": ["n"], "additionalProperties": false}},
         "type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/p"}}, "x": {"type": ["number", "null"]}},
         "required": ["items"], "additionalProperties": false}
        """

    func errors(_ document: String) throws -> [String] {
        try SchemaValidator(JSONValue.parse(Self.small)).errors(JSONValue.parse(document))
    }

    @Test func acceptsAValidDocument() throws {
        #expect(try errors(#"{"items": [{"n": 1, "s": "a"}, {"n": 2}], "x": 1.5}"#) == [])
        #expect(try errors(#"{"items": [], "x": null}"#) == [])
    }

    @Test func refusesAMissingRequiredKey() throws {
        #expect(try errors(#"{"items": [{"s": "a"}]}"#) == ["$.items[0]: missing required key 'n'"])
        #expect(try errors(#"{}"#) == ["$: missing required key 'items'"])
    }

    @Test func refusesAWrongType() throws {
        #expect(try errors(#"{"items": [{"n": "1"}]}"#) == [#"$.items[0].n: expected integer, found "1""#])
        #expect(try errors(#"{"items": [{"n": 1.5}]}"#) == ["$.items[0].n: expected integer, found 1.5"])
        #expect(try errors(#"{"items": {}}"#) == ["$.items: expected array, found {}"])
        #expect(try errors(#"{"items": [], "x": "no"}"#) == [#"$.x: expected number or null, found "no""#])
    }

    @Test func refusesAnExtraKey() throws {
        #expect(try errors(#"{"items": [{"n": 1, "m": 2}]}"#) == ["$.items[0]: key 'm' is not in the schema"])
        #expect(try errors(#"{"items": [], "y": 0}"#) == ["$: key 'y' is not in the schema"])
    }

    @Test func refusesAValueOutsideTheEnum() throws {
        #expect(try errors(#"{"items": [{"n": 1, "s": "c"}]}"#) == [#"$.items[0].s: "c" is not one of ["a","b"]"#])
    }

    @Test func oneOfNeedsExactlyOneMatch() throws {
        let v = try SchemaValidator(JSONValue.parse(#"{"oneOf": [{"type": "integer"}, {"type": "number"}]}"#))
        #expect(v.errors(.number(1.5)) == [])
        #expect(v.errors(.unsigned(1)) == ["$: matches 2 of the 2 oneOf schemas, not exactly one"])
        #expect(v.errors(.string("a")) == ["$: matches 0 of the 2 oneOf schemas, not exactly one"])
    }

    @Test func refusesASchemaWithKeywordsItDoesNotCheck() throws {
        #expect(throws: SchemaValidator.UnsupportedKeyword.self) { try SchemaValidator(JSONValue.parse(#"{"minimum": 0}"#)) }
        #expect(throws: SchemaValidator.UnsupportedKeyword.self) {
            try SchemaValidator(JSONValue.parse(#"{"properties": {"a": {"pattern": "x"}}}"#))
        }
    }

    @Test func refusesAReportWithoutMetadataOrWithAnExtraMetric() throws {
        let validator = try Self.schema()
        let workload = try WorkloadParser.parse("somsim-workload 1\nspawn a\n", fileName: "t")
        let report = Simulator.run(workload)
        let bare = try JSONValue.parse(ReportRenderer.render(report, as: .json))
        #expect(validator.errors(bare).contains { $0.contains("oneOf") })
        let metadata = ReportMetadata(input: "t", inputBytes: [], machine: workload.machine, profile: Profile())
        guard case .object(var fields) = try JSONValue.parse(ReportRenderer.render(report, as: .json, options: ReportOptions(metadata: metadata))) else {
            Issue.record("not an object")
            return
        }
        #expect(validator.errors(.object(fields)) == [])
        fields.append(("extra", .null))
        #expect(validator.errors(.object(fields)) == ["$: matches 0 of the 2 oneOf schemas, not exactly one"])
    }
}
