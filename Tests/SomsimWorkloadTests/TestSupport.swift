import SomsimWorkload

/// The header every test file starts with.
let header = "somsim-workload 1\n"

/// Parses `body` after the header.
func parse(_ body: String, limits: ExpansionLimits = .default) throws(WorkloadError) -> Workload {
    try WorkloadParser.parse(header + body, fileName: "test.somw", limits: limits)
}

/// The statements of `body` (after the header), without locations.
func statements(_ body: String) throws(WorkloadError) -> [Statement] {
    try parse(body).statementValues
}

/// The error parsing `text` (the whole file) throws, or nil when it parses.
func parseError(_ text: String, limits: ExpansionLimits = .default) -> WorkloadError? {
    do {
        _ = try WorkloadParser.parse(text, fileName: "bad.somw", limits: limits)
        return nil
    } catch {
        return error
    }
}
