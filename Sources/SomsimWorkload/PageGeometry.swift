/// The x86-64 page geometry: the one home of every page and page-table size the format, the
/// engine and the probe use. (The profile's `page_bytes` and `page_table_bytes` take their only
/// allowed value from here.)
///
/// arch/x86/include/asm/page_types.h (PAGE_SHIFT 12), arch/x86/include/asm/pgtable_64_types.h
/// (PMD_SHIFT 21, PUD_SHIFT 30, P4D/PGDIR_SHIFT 39 with 4-level paging, PTRS_PER_* 512).
public enum PageGeometry {
    /// A base page: 4 KiB (PAGE_SHIFT).
    public static let pageShift: UInt64 = 12
    public static let pageBytes: UInt64 = 1 << pageShift
    /// What one PMD entry maps: 2 MiB (PMD_SHIFT), a PMD-mapped THP or a 2 MiB HugeTLB page.
    public static let pmdShift: UInt64 = 21
    public static let pmdBytes: UInt64 = 1 << pmdShift
    /// The folio order of a PMD-sized folio: 9 (HPAGE_PMD_ORDER).
    public static let pmdOrder = Int(pmdShift - pageShift)
    /// What one PUD entry maps: 1 GiB (PUD_SHIFT), a 1 GiB HugeTLB page.
    public static let pudShift: UInt64 = 30
    public static let pudBytes: UInt64 = 1 << pudShift
    /// Entries in one table at any level: 512 (PTRS_PER_PTE, _PMD, _PUD), of 8 bytes.
    public static let entriesPerTable: UInt64 = 512
}

/// The levels of x86-64 page tables the engine allocates, each one page of 512 entries; the
/// top-level PGD is per process and counted apart.
public enum PageTableLevel: Int, CaseIterable, Sendable {
    /// A PTE table: maps 2 MiB of 4 KiB pages.
    case pte = 0
    /// A PMD table: maps 1 GiB.
    case pmd = 1
    /// A PUD table: maps 512 GiB.
    case pud = 2

    /// Address bits one table of this level spans: 21, 30, 39.
    public var spanShift: UInt64 {
        switch self {
        case .pte: return PageGeometry.pmdShift
        case .pmd: return PageGeometry.pudShift
        case .pud: return PageGeometry.pudShift + 9
        }
    }
}
