import SomsimWorkload

/// A design for the kernel's per-page metadata that somsim can cost.
public enum SchemeName: String, CaseIterable, Sendable {
    /// Today's memmap: a 64-byte `struct page` for every page frame. The baseline.
    case structPage = "struct-page"
    /// The memmap with HugeTLB Vmemmap Optimization applied to the HugeTLB pools.
    case hvo
    /// Today's memmap seen by folio: same bytes, fewer descriptors, larger mappings.
    case folio
    /// Memdescs, final form: an 8-byte word per page plus a descriptor per allocation.
    case memdesc
    /// Memdescs, interim step: a 32-byte struct page plus a descriptor per allocation.
    case memdesc32 = "memdesc-32"
    /// A single-owner pool (`/dev/som`-style) serving single-owner memory.
    case som
    /// The single-owner pool beside memdescs: memdescs for memory outside the pool.
    case somMemdesc = "som+memdesc"

    /// One line on what the scheme is.
    public var summary: String {
        switch self {
        case .structPage: return "a struct page for every 4 KiB page frame (today's memmap; the baseline)"
        case .hvo: return "the memmap with HugeTLB Vmemmap Optimization on every HugeTLB pool page"
        case .folio: return "today's memmap, described by folios: fewer descriptors, PMD mappings, more TLB reach"
        case .memdesc: return "memdescs: an 8-byte word per page plus a separately allocated descriptor per allocation"
        case .memdesc32: return "memdescs, interim step: a 32-byte struct page plus a descriptor per allocation"
        case .som: return "a single-owner pool: single-owner memory leaves the memmap for a chunk pool"
        case .somMemdesc: return "a single-owner pool beside memdescs: memdescs for the memory outside the pool"
        }
    }
}

/// One term of a scheme's cost: what it counts, its formula, the constants it uses, its value.
public struct SchemeTerm: Equatable, Sendable {
    public var name: String
    /// The formula in the profile's names: `frames × struct_page_bytes`.
    public var formula: String
    /// The same formula with numbers: `4194304 × 64`.
    public var substituted: String
    /// The profile constants the formula uses.
    public var constants: [ProfileKey]
    /// Signed: a term can take bytes away (HVO frees vmemmap).
    public var bytes: Int64

    public init(_ name: String, _ formula: String, _ substituted: String, _ constants: [ProfileKey], _ bytes: Int64) {
        self.name = name
        self.formula = formula
        self.substituted = substituted
        self.constants = constants
        self.bytes = bytes
    }
}

/// The metadata of one allocation class under a scheme: one descriptor per folio.
public struct AllocationCost: Equatable, Sendable {
    public var kind: FolioKind
    public var order: Int
    public var count: UInt64
    /// Bytes of memory the allocations hold.
    public var memoryBytes: UInt64
    /// Metadata of one allocation under the scheme (per-page words plus its descriptor).
    public var bytesEach: UInt64
    /// Metadata of one allocation today: a struct page per page.
    public var structPageBytesEach: UInt64

    /// Metadata as a fraction of the memory it describes.
    public var ratio: Double { memoryBytes == 0 ? 0 : Double(bytesEach * count) / Double(memoryBytes) }
}

/// What a scheme costs at one measure point: its terms (their sum is `metadataBytes`), and
/// what else it changes.
public struct SchemeResult: Equatable, Sendable {
    public var scheme: SchemeName
    public var ramBytes: UInt64
    public var terms: [SchemeTerm]
    /// Per-allocation costs (memdesc schemes; folio's census uses the same rows).
    public var allocations: [AllocationCost] = []
    /// Facts the scheme changes besides bytes: folio census, TLB reach, pool layout.
    public var notes: [String] = []

    public var metadataBytes: UInt64 { UInt64(max(0, terms.reduce(Int64(0)) { $0 + $1.bytes })) }
    public var metadataRatio: Double { ramBytes == 0 ? 0 : Double(metadataBytes) / Double(ramBytes) }
}

/// Costs every scheme shares: the page tables and the per-process kernel state.
public struct CommonCosts: Equatable, Sendable {
    public var pageTables: [SchemeTerm]
    public var kernelState: [SchemeTerm]

    public var pageTableBytes: UInt64 { UInt64(pageTables.reduce(Int64(0)) { $0 + $1.bytes }) }
    public var kernelStateBytes: UInt64 { UInt64(kernelState.reduce(Int64(0)) { $0 + $1.bytes }) }
}
