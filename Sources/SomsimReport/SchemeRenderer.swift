import SomsimModel
import SomsimWorkload

/// Renders `somsim compare`, `somsim explain` and `somsim profile` output in md, csv and json.
public enum SchemeRenderer {
    // MARK: compare

    /// Per measure and scheme: metadata bytes, % of RAM, saving against struct page, and the
    /// rows every scheme shares (page tables, per-process kernel state).
    ///
    /// `options` picks one measure (`--measure`) and adds the JSON `metadata`; every CSV row
    /// ends with its `measure_index`, and each error event is a row of the first point taken
    /// after it (`ReportRenderer.writeCSV`), with an empty scheme.
    public static func compare(_ run: SchemeRun, schemes: [SchemeName], format: ReportFormat, options: ReportOptions = ReportOptions()) -> String {
        let selected = run.points.enumerated().filter { options.measure == nil || $0.element.label == options.measure }
        switch format {
        case .md:
            var out = ""
            for (_, point) in selected {
                out += "## \(point.label)\n\n"
                out += ReportRenderer.table(
                    header: ["scheme", "metadata", "bytes", "% of RAM", "saving vs struct-page", "saving % of RAM"],
                    rows: schemes.map { scheme in
                        let r = point.result(scheme)
                        let saving = point.saving(scheme)
                        return [
                            scheme.rawValue, ReportRenderer.bytes(r.metadataBytes), String(r.metadataBytes), ReportRenderer.percent(r.metadataRatio),
                            signedBytes(saving), ReportRenderer.percent(ratio(saving, run.machine.ramBytes)),
                        ]
                    })
                out += "\nCommon to every scheme: page tables \(ReportRenderer.bytes(point.common.pageTableBytes)) (\(point.common.pageTableBytes) B), "
                out += "per-process kernel state \(ReportRenderer.bytes(point.common.kernelStateBytes)) (\(point.common.kernelStateBytes) B) for \(point.census.processes) processes.\n\n"
                out += poolMarkdown(point, run, schemes) + tlbMarkdown(point, run)
            }
            out += errors(run)
            return out
        case .csv:
            var out = "label,scheme,metric,value,measure_index\n"
            for (index, point) in selected {
                for scheme in schemes {
                    let r = point.result(scheme)
                    let saving = point.saving(scheme)
                    out += "\(point.label),\(scheme.rawValue),metadata_bytes,\(r.metadataBytes),\(index)\n"
                    out += "\(point.label),\(scheme.rawValue),metadata_ratio,\(r.metadataRatio),\(index)\n"
                    out += "\(point.label),\(scheme.rawValue),saving_bytes,\(saving),\(index)\n"
                    out += "\(point.label),\(scheme.rawValue),saving_ratio,\(ratio(saving, run.machine.ramBytes)),\(index)\n"
                    out += "\(point.label),\(scheme.rawValue),page_table_bytes,\(point.common.pageTableBytes),\(index)\n"
                    out += "\(point.label),\(scheme.rawValue),kernel_state_bytes,\(point.common.kernelStateBytes),\(index)\n"
                }
                out += poolCSV(point, run, schemes, index: index) + tlbCSV(point, run, index: index)
                let start = index == 0 ? 0 : run.points[index - 1].errorsBefore
                let end = max(start, min(point.errorsBefore, run.errors.count))
                for e in run.errors[min(start, end)..<end] {
                    out += "\(point.label),,\(ReportRenderer.errorMetric(e)),\(e.line),\(index)\n"
                }
            }
            return out
        case .json:
            let value: JSONValue = .object([
                ("schema_version", .integer(1)),
                ("machine", .object(ReportRenderer.machine(run.machine))),
                ("profile_overrides", profileOverrides(run.profile)),
                (
                    "measures",
                    .array(
                        selected.map { index, point in
                            .object([
                                ("label", .string(point.label)),
                                (
                                    "schemes",
                                    .array(
                                        schemes.map { scheme in
                                            let r = point.result(scheme)
                                            let saving = point.saving(scheme)
                                            return .object([
                                                ("scheme", .string(scheme.rawValue)),
                                                ("metadata_bytes", .unsigned(r.metadataBytes)),
                                                ("metadata_ratio", .number(r.metadataRatio)),
                                                ("saving_bytes", .integer(saving)),
                                                ("saving_ratio", .number(ratio(saving, run.machine.ramBytes))),
                                            ])
                                        })
                                ),
                                ("page_table_bytes", .unsigned(point.common.pageTableBytes)),
                                ("kernel_state_bytes", .unsigned(point.common.kernelStateBytes)),
                                ("som_pool", poolJSON(point, run)),
                                ("tlb", tlbJSON(point, run)),
                                ("measure_index", .integer(Int64(index))),
                            ])
                        })
                ),
                (
                    "errors",
                    .array(
                        zip(run.errors, ReportRenderer.errorMeasureIndices(run.errors.count, run.points.map(\.errorsBefore))).map {
                            ReportRenderer.json($0, measureIndex: $1)
                        })
                ),
            ] + (options.metadata.map { [("metadata", $0.json)] } ?? []))
            return value.serialized() + "\n"
        }
    }

    // MARK: explain

    /// What `somsim explain` can derive: a scheme, the rows common to all, or the TLB walk.
    public enum Subject: Equatable, Sendable {
        case scheme(SchemeName)
        case common
        case tlbWalk
        /// Each process's TLB reach and walk loads from its page-size mix (issue 11).
        case tlb

        public init?(_ name: String) {
            if let scheme = SchemeName(rawValue: name) {
                self = .scheme(scheme)
            } else if name == "common" {
                self = .common
            } else if name == "tlb-walk" {
                self = .tlbWalk
            } else if name == "tlb" {
                self = .tlb
            } else {
                return nil
            }
        }

        public static var names: [String] { SchemeName.allCases.map(\.rawValue) + ["common", "tlb-walk", "tlb"] }
    }

    /// The derivation of `subject` at `point`: each term, its formula, the constants it uses and
    /// its value.
    public static func explain(_ subject: Subject, _ point: SchemeRun.Point, _ run: SchemeRun, format: ReportFormat) -> String {
        switch subject {
        case .scheme(let scheme):
            let r = point.result(scheme)
            return explain(
                title: "\(scheme.rawValue) at measure \(point.label)", summary: scheme.summary, terms: r.terms, total: r.metadataBytes,
                ramBytes: run.machine.ramBytes, allocations: r.allocations, notes: r.notes, profile: run.profile, label: point.label,
                subject: scheme.rawValue, format: format)
        case .common:
            let terms = point.common.pageTables + point.common.kernelState
            return explain(
                title: "rows common to every scheme at measure \(point.label)",
                summary: "page tables of the workload's mappings and each process's PGD; per-process kernel state", terms: terms,
                total: point.common.pageTableBytes + point.common.kernelStateBytes, ramBytes: run.machine.ramBytes, allocations: [],
                notes: [], profile: run.profile, label: point.label, subject: "common", format: format)
        case .tlbWalk:
            return tlbWalk(run.profile, format: format)
        case .tlb:
            return explainTLB(point, run, format: format)
        }
    }

    private static func explain(
        title: String, summary: String, terms: [SchemeTerm], total: UInt64, ramBytes: UInt64, allocations: [AllocationCost], notes: [String],
        profile: Profile, label: String, subject: String, format: ReportFormat
    ) -> String {
        let keys = ProfileKey.allCases.filter { key in terms.contains { $0.constants.contains(key) } }
        switch format {
        case .md:
            var out = "# \(title)\n\n\(summary).\n\n"
            out += ReportRenderer.table(
                header: ["term", "formula", "with values", "bytes"],
                rows: terms.map { [$0.name, $0.formula, $0.substituted, String($0.bytes)] }
                    + [["total", "", "", "\(total)"]])
            out += "\nTotal: \(ReportRenderer.bytes(total)) = \(ReportRenderer.percent(ratio(Int64(total), ramBytes))) of \(ReportRenderer.bytes(ramBytes)) RAM.\n\n"
            if !allocations.isEmpty {
                out += "Per allocation (one descriptor per folio):\n\n"
                out += ReportRenderer.table(
                    header: ["kind", "order", "size", "count", "memory", "metadata each", "% of memory", "struct page each"],
                    rows: allocations.map { a in
                        [
                            a.kind.rawValue, String(a.order), ReportRenderer.bytes(PageGeometry.pageBytes << UInt64(a.order)), String(a.count),
                            ReportRenderer.bytes(a.memoryBytes), "\(a.bytesEach) B", ReportRenderer.percent(a.ratio), "\(a.structPageBytesEach) B",
                        ]
                    })
                out += "\n"
            }
            for note in notes { out += "- \(note)\n" }
            if !notes.isEmpty { out += "\n" }
            if !keys.isEmpty {
                out += "Constants (override with --profile FILE; see `somsim profile`):\n\n"
                out += ReportRenderer.table(
                    header: ["constant", "value", "unit", "source"],
                    rows: keys.map { let c = profile.constant($0); return [c.name, String(c.value), c.unit, c.source] })
            }
            return out
        case .csv:
            var out = "label,subject,term,formula,substituted,bytes\n"
            for t in terms {
                out += "\(label),\(subject),\(csvField(t.name)),\(csvField(t.formula)),\(csvField(t.substituted)),\(t.bytes)\n"
            }
            out += "\(label),\(subject),total,,,\(total)\n"
            for a in allocations {
                out += "\(label),\(subject),\(csvField("allocation \(a.kind.rawValue) order \(a.order) each")),,\(a.count),\(a.bytesEach)\n"
            }
            return out
        case .json:
            let value: JSONValue = .object([
                ("label", .string(label)),
                ("subject", .string(subject)),
                ("summary", .string(summary)),
                (
                    "terms",
                    .array(
                        terms.map { t in
                            .object([
                                ("name", .string(t.name)), ("formula", .string(t.formula)), ("substituted", .string(t.substituted)),
                                ("constants", .array(t.constants.map { .string($0.rawValue) })), ("bytes", .integer(t.bytes)),
                            ])
                        })
                ),
                ("total_bytes", .unsigned(total)),
                ("ratio", .number(ratio(Int64(total), ramBytes))),
                (
                    "allocations",
                    .array(
                        allocations.map { a in
                            .object([
                                ("kind", .string(a.kind.rawValue)), ("order", .integer(Int64(a.order))), ("count", .unsigned(a.count)),
                                ("memory_bytes", .unsigned(a.memoryBytes)), ("metadata_bytes_each", .unsigned(a.bytesEach)),
                                ("metadata_ratio", .number(a.ratio)), ("struct_page_bytes_each", .unsigned(a.structPageBytesEach)),
                            ])
                        })
                ),
                ("notes", .array(notes.map { .string($0) })),
                ("constants", .array(keys.map { constantJSON(profile.constant($0)) })),
            ])
            return value.serialized() + "\n"
        }
    }

    /// The two-dimensional TLB walk, n·m + n + m loads, for every guest and host page size, with
    /// 4-level and 5-level tables.
    public static func tlbWalk(_ profile: Profile, format: ReportFormat) -> String {
        let configurations: [(UInt64, UInt64)] = [(4, 4), (5, 5), (4, 5)]
        let rows = configurations.flatMap { (g, h) in
            TLBWalk.table(guestTableLevels: g, hostTableLevels: h, profile).map { (g, h, $0) }
        }
        switch format {
        case .md:
            var out = "# TLB miss under virtualization\n\nA guest walk of n levels whose every table address, and the final guest-physical address, takes an m-level host walk: n·m + n + m memory loads. A 2 MiB page ends its walk one level early, a 1 GiB page two.\n\n"
            out += ReportRenderer.table(
                header: ["guest tables", "host tables", "guest page", "host page", "n", "m", "loads = n·m + n + m"],
                rows: rows.map { g, h, r in
                    ["\(g)-level", "\(h)-level", ReportRenderer.bytes(r.guestPageBytes), ReportRenderer.bytes(r.hostPageBytes), String(r.guestLevels), String(r.hostLevels), String(r.loads)]
                })
            return out
        case .csv:
            var out = "guest_table_levels,host_table_levels,guest_page_bytes,host_page_bytes,guest_levels,host_levels,loads\n"
            for (g, h, r) in rows {
                out += "\(g),\(h),\(r.guestPageBytes),\(r.hostPageBytes),\(r.guestLevels),\(r.hostLevels),\(r.loads)\n"
            }
            return out
        case .json:
            return JSONValue.array(
                rows.map { g, h, r in
                    .object([
                        ("guest_table_levels", .unsigned(g)), ("host_table_levels", .unsigned(h)), ("guest_page_bytes", .unsigned(r.guestPageBytes)),
                        ("host_page_bytes", .unsigned(r.hostPageBytes)), ("guest_levels", .unsigned(r.guestLevels)),
                        ("host_levels", .unsigned(r.hostLevels)), ("loads", .unsigned(r.loads)),
                    ])
                }
            ).serialized() + "\n"
        }
    }

    // MARK: profile

    /// The profile as a table (md), rows (csv) or an array (json); the editable text form is
    /// `Profile.text()`.
    public static func profile(_ profile: Profile, format: ReportFormat) -> String {
        switch format {
        case .md:
            return ReportRenderer.table(
                header: ["constant", "value", "unit", "source"],
                rows: profile.constants.map { [$0.name, String($0.value), $0.unit, $0.source] })
        case .csv:
            return "name,value,unit,source\n" + profile.constants.map { "\($0.name),\($0.value),\(csvField($0.unit)),\(csvField($0.source))\n" }.joined()
        case .json:
            return JSONValue.array(profile.constants.map(constantJSON)).serialized() + "\n"
        }
    }

    // MARK: helpers

    static func constantJSON(_ c: ProfileConstant) -> JSONValue {
        .object([("name", .string(c.name)), ("value", .unsigned(c.value)), ("unit", .string(c.unit)), ("source", .string(c.source))])
    }

    static func profileOverrides(_ profile: Profile) -> JSONValue {
        .object(profile.overridden.map { ($0.rawValue, .unsigned(profile[$0])) })
    }

    static func ratio(_ bytes: Int64, _ ram: UInt64) -> Double { ram == 0 ? 0 : Double(bytes) / Double(ram) }

    static func signedBytes(_ n: Int64) -> String {
        n < 0 ? "-" + ReportRenderer.bytes(UInt64(-n)) : ReportRenderer.bytes(UInt64(n))
    }

    /// Quotes a CSV field that holds a comma or a quote (RFC 4180).
    static func csvField(_ s: String) -> String {
        guard s.contains(",") || s.contains("\"") else { return s }
        return "\"" + s.replacingAll("\"", with: "\"\"") + "\""
    }

    static func errors(_ run: SchemeRun) -> String {
        guard !run.errors.isEmpty else { return "" }
        return "## Refused by the kernel\n\n"
            + ReportRenderer.errorTable(run.errors) + "\n"
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

// MARK: - The single-owner pool and the TLB (issue 11)

extension SchemeRenderer {
    static func showsPool(_ schemes: [SchemeName]) -> Bool { schemes.contains(.som) || schemes.contains(.somMemdesc) }

    static func poolMarkdown(_ point: SchemeRun.Point, _ run: SchemeRun, _ schemes: [SchemeName]) -> String {
        guard showsPool(schemes) else { return "" }
        let layout = Schemes.poolLayout(point.census, run.profile, point.options)
        guard layout.chunks > 0 else { return "" }
        return "Single-owner pool (som, som+memdesc): \(layout.chunks) chunks (\(ReportRenderer.bytes(layout.bytes))), units used/free \(layout.usedUnits)/\(layout.freeUnits) "
            + "(\(point.census.somPool.usedUnits) of som mappings, \(layout.candidateUnits) of candidates), stranded \(ReportRenderer.bytes(layout.strandedBytes)) (\(layout.strandedBytes) B), "
            + "fragmentation \(layout.fragmentedUnits) free units in partly used chunks.\n\n"
    }

    static func poolCSV(_ point: SchemeRun.Point, _ run: SchemeRun, _ schemes: [SchemeName], index: Int? = nil) -> String {
        let suffix = index.map { ",\($0)" } ?? ""
        guard showsPool(schemes) else { return "" }
        let layout = Schemes.poolLayout(point.census, run.profile, point.options)
        return [
            ("som_pool_chunks", layout.chunks), ("som_units_used", layout.usedUnits), ("som_units_free", layout.freeUnits),
            ("som_stranded_bytes", layout.strandedBytes), ("som_fragmented_units", layout.fragmentedUnits),
        ].map { "\(point.label),som-pool,\($0.0),\($0.1)\(suffix)\n" }.joined()
    }

    static func poolJSON(_ point: SchemeRun.Point, _ run: SchemeRun) -> JSONValue {
        let layout = Schemes.poolLayout(point.census, run.profile, point.options)
        return .object([
            ("chunks", .unsigned(layout.chunks)), ("pool_bytes", .unsigned(layout.bytes)), ("units_used", .unsigned(layout.usedUnits)),
            ("units_free", .unsigned(layout.freeUnits)), ("som_mapping_units", .unsigned(point.census.somPool.usedUnits)),
            ("candidate_units", .unsigned(layout.candidateUnits)), ("stranded_bytes", .unsigned(layout.strandedBytes)),
            ("fragmented_units", .unsigned(layout.fragmentedUnits)),
        ])
    }

    /// A loads-per-miss figure with two decimals.
    static func loads(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let cents = hundredths % 100
        return "\(hundredths / 100).\(cents < 10 ? "0" : "")\(cents)"
    }

    static func virtText(_ machine: MachineSpec) -> String {
        guard let virt = machine.virt else { return "native only (no virt=)" }
        return "virt=\(virt.token) guest-page=\(machine.guestPage?.token ?? "workload") host-page=\(machine.hostPage.token)"
    }

    static func tlbMarkdown(_ point: SchemeRun.Point, _ run: SchemeRun) -> String {
        let figures = TLBModel.figures(point.census, run.profile)
        guard !figures.isEmpty else { return "" }
        var out = "TLB per process (\(virtText(run.machine))):\n\n"
        out += tlbTable(figures, run.machine)
        return out + "\n"
    }

    static func tlbTable(_ figures: [TLBFigures], _ machine: MachineSpec) -> String {
        var header = ["process", "4K entries", "2M entries", "1G entries", "L1 reach", "L2 reach", "loads per miss (native)"]
        if machine.virt != nil { header += ["L2 reach (nested)", "loads per miss (nested)"] }
        return ReportRenderer.table(
            header: header,
            rows: figures.map { f in
                var row = [
                    f.name, String(f.entries[0]), String(f.entries[1]), String(f.entries[2]), ReportRenderer.bytes(f.l1ReachBytes),
                    ReportRenderer.bytes(f.l2ReachBytes), loads(f.nativeLoads),
                ]
                if let nested = f.nestedLoads { row += [ReportRenderer.bytes(f.nestedL2ReachBytes ?? 0), loads(nested)] }
                return row
            })
    }

    static func tlbCSV(_ point: SchemeRun.Point, _ run: SchemeRun, index: Int? = nil) -> String {
        let suffix = index.map { ",\($0)" } ?? ""
        var out = ""
        for f in TLBModel.figures(point.census, run.profile) {
            var rows: [(String, String)] = [
                ("tlb_entries_4k", String(f.entries[0])), ("tlb_entries_2m", String(f.entries[1])), ("tlb_entries_1g", String(f.entries[2])),
                ("tlb_l1_reach_bytes", String(f.l1ReachBytes)), ("tlb_l2_reach_bytes", String(f.l2ReachBytes)),
                ("tlb_native_loads_per_miss", String(f.nativeLoads)),
            ]
            if let nested = f.nestedLoads {
                rows += [("tlb_nested_l2_reach_bytes", String(f.nestedL2ReachBytes ?? 0)), ("tlb_nested_loads_per_miss", String(nested))]
            }
            out += rows.map { "\(point.label),tlb/\(f.name),\($0.0),\($0.1)\(suffix)\n" }.joined()
        }
        return out
    }

    static func tlbFigureJSON(_ f: TLBFigures) -> JSONValue {
        .object([
            ("process", .string(f.name)), ("entries_4k", .unsigned(f.entries[0])), ("entries_2m", .unsigned(f.entries[1])),
            ("entries_1g", .unsigned(f.entries[2])), ("l1_reach_bytes", .unsigned(f.l1ReachBytes)), ("l2_reach_bytes", .unsigned(f.l2ReachBytes)),
            ("native_loads_per_miss", .number(f.nativeLoads)),
            ("nested_l2_reach_bytes", f.nestedL2ReachBytes.map { .unsigned($0) } ?? .null),
            ("nested_loads_per_miss", f.nestedLoads.map { .number($0) } ?? .null),
        ])
    }

    static func tlbJSON(_ point: SchemeRun.Point, _ run: SchemeRun) -> JSONValue {
        .array(TLBModel.figures(point.census, run.profile).map(tlbFigureJSON))
    }

    /// `somsim explain tlb`: each process's reach and walk loads with the rule and constants.
    static func explainTLB(_ point: SchemeRun.Point, _ run: SchemeRun, format: ReportFormat) -> String {
        let figures = TLBModel.figures(point.census, run.profile)
        let keys: [ProfileKey] = [.pageTableLevels, .tlbL14KEntries, .tlbL12MEntries, .tlbL11GEntries, .tlbL24KEntries, .tlbL22MEntries, .tlbL21GEntries, .tlbL2Shared]
        switch format {
        case .md:
            var out = "# TLB at measure \(point.label)\n\n"
            out += "Each process's present workload pages, by the page size that maps them, fill each TLB level largest pages first "
            out += "(1 GiB entries in their own array; 2 MiB, then 4 KiB in what a shared second-level array leaves): the reach is the bytes the covered entries map. "
            out += "A miss walks page_table_levels levels for a 4 KiB page, one fewer for 2 MiB, two fewer for 1 GiB; loads per miss weight each size by the bytes the second-level TLB leaves uncovered (by all bytes when it covers everything). "
            out += "Under virt=GxH a miss costs n·m + n + m loads, n = G − (0, 1, 2) for the guest page, m = H − (0, 1, 2) for the host page; a TLB entry maps the smaller of the two pages. \(virtText(run.machine)).\n\n"
            out += tlbTable(figures, run.machine)
            if let virt = run.machine.virt {
                let host = TLBModel.pageSizes.firstIndex(of: run.machine.hostPage.rawValue)!
                let m = TLBModel.levels(size: host, tableLevels: virt.host)
                out += "\nNested walk per guest page size (host page \(run.machine.hostPage.token): m = \(virt.host) − \(host) = \(m)):\n\n"
                out += ReportRenderer.table(
                    header: ["guest page", "n", "m", "loads = n·m + n + m"],
                    rows: (0..<3).map { g in
                        let n = TLBModel.levels(size: g, tableLevels: virt.guest)
                        return [ReportRenderer.bytes(TLBModel.pageSizes[g]), String(n), String(m), String(TLBModel.nestedLoads(guestLevels: n, hostLevels: m))]
                    })
            }
            out += "\nConstants (override with --profile FILE; see `somsim profile`):\n\n"
            out += ReportRenderer.table(
                header: ["constant", "value", "unit", "source"],
                rows: keys.map { let c = run.profile.constant($0); return [c.name, String(c.value), c.unit, c.source] })
            return out
        case .csv:
            return "label,scheme,metric,value\n" + tlbCSV(point, run)
        case .json:
            return JSONValue.object([
                ("label", .string(point.label)), ("subject", .string("tlb")),
                ("virt", run.machine.virt.map { .string($0.token) } ?? .null),
                ("guest_page_bytes", run.machine.guestPage.map { .unsigned($0.rawValue) } ?? .null),
                ("host_page_bytes", .unsigned(run.machine.hostPage.rawValue)),
                ("processes", .array(figures.map(tlbFigureJSON))),
                ("constants", .array(keys.map { constantJSON(run.profile.constant($0)) })),
            ]).serialized() + "\n"
        }
    }
}

// MARK: - The seed tables (issue 11)

extension SchemeRenderer {
    /// One measure's row for a scheme: metadata, stranded memory, the processes' TLB figures.
    struct SummaryRow {
        var label: String
        var scheme: SchemeName
        var metadataBytes: UInt64
        var metadataRatio: Double
        var strandedBytes: UInt64
        var l2ReachBytes: UInt64
        var nativeLoads: Double
        var nestedLoads: Double?
    }

    static func summaryRows(_ run: SchemeRun, _ schemes: [SchemeName]) -> [SummaryRow] {
        run.points.flatMap { point -> [SummaryRow] in
            let tlb = TLBModel.figures(point.census, run.profile)
            let layout = Schemes.poolLayout(point.census, run.profile, point.options)
            let reach = tlb.reduce(UInt64(0)) { $0 &+ $1.l2ReachBytes }
            let count = Double(max(1, tlb.count))
            let native = tlb.reduce(0.0) { $0 + $1.nativeLoads } / count
            let nested = run.machine.virt == nil ? nil : tlb.reduce(0.0) { $0 + ($1.nestedLoads ?? 0) } / count
            return schemes.map { scheme in
                let r = point.result(scheme)
                // Only the single-owner pool holds memory in units larger than what is mapped.
                let stranded = scheme == .som || scheme == .somMemdesc ? layout.strandedBytes : 0
                return SummaryRow(
                    label: point.label, scheme: scheme, metadataBytes: r.metadataBytes, metadataRatio: r.metadataRatio, strandedBytes: stranded,
                    l2ReachBytes: reach, nativeLoads: native, nestedLoads: nested)
            }
        }
    }

    /// `compare --summary`: per measure and scheme, metadata, stranded memory (the single-owner
    /// pool's units that no page maps), TLB reach (Σ of every process's second-level reach) and
    /// loads per TLB miss (the mean over processes), native and nested (with `virt=`).
    public static func summary(_ run: SchemeRun, schemes: [SchemeName], format: ReportFormat, measure: String? = nil) -> String {
        let indexOf = Dictionary(run.points.enumerated().map { ($0.element.label, $0.offset) }, uniquingKeysWith: { first, _ in first })
        let rows = summaryRows(run, schemes).filter { measure == nil || $0.label == measure }
        let nested = run.machine.virt != nil
        switch format {
        case .md:
            var out = ""
            for label in run.points.map(\.label) where measure == nil || label == measure {
                out += "## \(label)\n\n"
                var header = ["scheme", "metadata", "% of RAM", "stranded", "TLB reach (L2, Σ processes)", "loads per miss (native)"]
                if nested { header.append("loads per miss (nested, \(virtText(run.machine)))") }
                out += ReportRenderer.table(
                    header: header,
                    rows: rows.filter { $0.label == label }.map { r in
                        var row = [
                            r.scheme.rawValue, ReportRenderer.bytes(r.metadataBytes), ReportRenderer.percent(r.metadataRatio),
                            ReportRenderer.bytes(r.strandedBytes), ReportRenderer.bytes(r.l2ReachBytes), loads(r.nativeLoads),
                        ]
                        if let n = r.nestedLoads { row.append(loads(n)) }
                        return row
                    })
                out += "\n"
            }
            return out + errors(run)
        case .csv:
            var out = "label,scheme,metadata_bytes,metadata_ratio,stranded_bytes,tlb_l2_reach_bytes,native_loads_per_miss,nested_loads_per_miss,measure_index\n"
            for r in rows {
                out += "\(r.label),\(r.scheme.rawValue),\(r.metadataBytes),\(r.metadataRatio),\(r.strandedBytes),\(r.l2ReachBytes),\(r.nativeLoads),\(r.nestedLoads.map { String($0) } ?? ""),\(indexOf[r.label] ?? 0)\n"
            }
            return out
        case .json:
            return JSONValue.object([
                ("machine", .object(ReportRenderer.machine(run.machine))),
                (
                    "rows",
                    .array(
                        rows.map { r in
                            .object([
                                ("label", .string(r.label)), ("scheme", .string(r.scheme.rawValue)), ("metadata_bytes", .unsigned(r.metadataBytes)),
                                ("metadata_ratio", .number(r.metadataRatio)), ("stranded_bytes", .unsigned(r.strandedBytes)),
                                ("tlb_l2_reach_bytes", .unsigned(r.l2ReachBytes)), ("native_loads_per_miss", .number(r.nativeLoads)),
                                ("nested_loads_per_miss", r.nestedLoads.map { .number($0) } ?? .null),
                                ("measure_index", .integer(Int64(indexOf[r.label] ?? 0))),
                            ])
                        })
                ),
            ]).serialized() + "\n"
        }
    }
}
