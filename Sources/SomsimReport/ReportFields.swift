import SomsimModel
import SomsimWorkload

/// The report's values as named fields, in the contract's order and with its snake_case names.
/// JSON, CSV and Markdown all render from these, so the three formats cannot drift apart.
public enum ReportFields {
    /// A named numeric field of a process or of the system.
    public struct Field: Sendable {
        public var name: String
        public var value: UInt64
    }

    public static func fields(of p: ProcessMetrics) -> [Field] {
        [
            Field(name: "rss_bytes", value: p.rssBytes),
            Field(name: "pss_bytes", value: p.pssBytes),
            Field(name: "uss_bytes", value: p.ussBytes),
            Field(name: "private_clean_bytes", value: p.privateCleanBytes),
            Field(name: "private_dirty_bytes", value: p.privateDirtyBytes),
            Field(name: "shared_clean_bytes", value: p.sharedCleanBytes),
            Field(name: "shared_dirty_bytes", value: p.sharedDirtyBytes),
            Field(name: "private_hugetlb_bytes", value: p.privateHugetlbBytes),
            Field(name: "shared_hugetlb_bytes", value: p.sharedHugetlbBytes),
            Field(name: "page_table_bytes", value: p.pageTableBytes),
            Field(name: "minor_faults", value: p.minorFaults),
            Field(name: "cow_copies", value: p.cowCopies),
            Field(name: "cow_reuses", value: p.cowReuses),
        ]
    }

    public static func fields(of s: SystemMetrics) -> [Field] {
        [
            Field(name: "memmap_pages", value: s.memmapPages),
            Field(name: "hugetlb_2m_total", value: s.hugetlb2MTotal),
            Field(name: "hugetlb_1g_total", value: s.hugetlb1GTotal),
            Field(name: "hugetlb_2m_free", value: s.hugetlb2MFree),
            Field(name: "hugetlb_2m_reserved", value: s.hugetlb2MReserved),
            Field(name: "hugetlb_1g_free", value: s.hugetlb1GFree),
            Field(name: "hugetlb_1g_reserved", value: s.hugetlb1GReserved),
            Field(name: "anon_bytes", value: s.anonBytes),
            Field(name: "page_table_bytes", value: s.pageTableBytes),
        ]
    }

    public static func machine(_ m: MachineSpec) -> [(String, JSONValue)] {
        [
            ("ram_bytes", .unsigned(m.ramBytes)),
            ("hugetlb_2m_pages", .unsigned(m.hugetlb2MPages)),
            ("hugetlb_1g_pages", .unsigned(m.hugetlb1GPages)),
            ("hvo", .bool(m.hvo)),
            ("hvo_kept_pages", .unsigned(m.hvoKeptPages)),
            ("thp", .string(m.thp.rawValue)),
            ("pti", .bool(m.pti)),
        ]
    }
}
