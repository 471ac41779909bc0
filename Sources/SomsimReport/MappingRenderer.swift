import SomsimModel

/// `simulate --mappings`: each process's mappings as `pmap -x` lists them, at one measure.
public enum MappingRenderer {
    static let columns = [
        "rss_bytes", "pss_bytes", "private_clean_bytes", "private_dirty_bytes", "shared_clean_bytes", "shared_dirty_bytes", "dirty_bytes", "hugetlb_bytes",
    ]

    static func values(_ m: MappingMetrics) -> [UInt64] {
        [m.rssBytes, m.pssBytes, m.privateCleanBytes, m.privateDirtyBytes, m.sharedCleanBytes, m.sharedDirtyBytes, m.dirtyBytes, m.hugetlbBytes]
    }

    static func hex(_ n: UInt64) -> String {
        let digits = String(n, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    /// md: a table per process with a `total` row (as pmap -x's); csv: one row per mapping,
    /// `label,process,mapping,address,size_bytes,kind,mode,METRICS…,measure_index` (address in
    /// decimal); json: `{label, measure_index, processes: [{name, alive, mappings: […]}]}`.
    public static func render(_ view: [ProcessMappings], label: String, measureIndex: Int, as format: ReportFormat) -> String {
        switch format {
        case .md:
            var out = "# Mappings at measure \(label)\n\n"
            for p in view {
                out += "## \(p.process)\n\n"
                guard p.alive else {
                    out += "Not alive: no mappings.\n\n"
                    continue
                }
                var rows = p.mappings.map { m in
                    [hex(m.address), ReportRenderer.bytes(m.sizeBytes), ReportRenderer.bytes(m.rssBytes), ReportRenderer.bytes(m.pssBytes),
                     ReportRenderer.bytes(m.dirtyBytes), ReportRenderer.bytes(m.hugetlbBytes), m.mode, m.kind, m.name]
                }
                func sum(_ f: (MappingMetrics) -> UInt64) -> String { ReportRenderer.bytes(p.mappings.reduce(0) { $0 &+ f($1) }) }
                rows.append(["total", sum(\.sizeBytes), sum(\.rssBytes), sum(\.pssBytes), sum(\.dirtyBytes), sum(\.hugetlbBytes), "", "", "\(p.mappings.count) mappings"])
                out += ReportRenderer.table(header: ["address", "size", "RSS", "PSS", "dirty", "HugeTLB", "mode", "kind", "mapping"], rows: rows)
                out += "\n"
            }
            return out
        case .csv:
            var out = "label,process,mapping,address,size_bytes,kind,mode," + columns.joined(separator: ",") + ",measure_index\n"
            for p in view {
                for m in p.mappings {
                    out += "\(label),\(p.process),\(m.name),\(m.address),\(m.sizeBytes),\(m.kind),\(m.mode),"
                    out += values(m).map(String.init).joined(separator: ",") + ",\(measureIndex)\n"
                }
            }
            return out
        case .json:
            return JSONValue.object([
                ("label", .string(label)), ("measure_index", .integer(Int64(measureIndex))),
                (
                    "processes",
                    .array(
                        view.map { p in
                            .object([
                                ("name", .string(p.process)), ("alive", .bool(p.alive)),
                                (
                                    "mappings",
                                    .array(
                                        p.mappings.map { m in
                                            .object(
                                                [
                                                    ("name", .string(m.name)), ("address", .unsigned(m.address)), ("size_bytes", .unsigned(m.sizeBytes)),
                                                    ("kind", .string(m.kind)), ("mode", .string(m.mode)),
                                                ] + zip(columns, values(m)).map { ($0, .unsigned($1)) })
                                        })
                                ),
                            ])
                        })
                ),
            ]).serialized() + "\n"
        }
    }
}
