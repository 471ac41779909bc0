import SomsimWorkload

/// One named constant of the models: its value, unit and where the value comes from.
public struct ProfileConstant: Equatable, Sendable {
    public var key: ProfileKey
    public var value: UInt64
    /// `bytes`, `pages`, `levels`, `bits`, …
    public var unit: String
    /// Where the default comes from: a kernel file and symbol, a measurement on this project's
    /// machine (docs/kernel-facts), a published figure, or "estimate" with its reasoning.
    public var source: String
    /// The values the model honours; a profile file that sets another is refused.
    public var allowed: AllowedValues

    public var name: String { key.rawValue }
}

/// The values of a constant the model can honour: a range, perhaps only powers of two or
/// multiples of a step, and why.
///
/// Outside it the model would answer wrongly or not at all: the engine assumes x86-64 geometry
/// (4 KiB base pages, 512-entry tables, 4 levels), some constants divide, and every size is
/// multiplied by page, process or VMA counts, so the bounds keep those products far from 2^64.
public struct AllowedValues: Equatable, Sendable {
    public var minimum: UInt64
    public var maximum: UInt64
    /// Only powers of two.
    public var powerOfTwo: Bool
    /// Only multiples of this (1: any integer).
    public var step: UInt64
    /// Why the model needs the range: the kernel rule or the model's assumption behind it.
    public var reason: String

    public init(_ minimum: UInt64, _ maximum: UInt64, powerOfTwo: Bool = false, step: UInt64 = 1, reason: String) {
        self.minimum = minimum
        self.maximum = maximum
        self.powerOfTwo = powerOfTwo
        self.step = step
        self.reason = reason
    }

    /// Exactly one value.
    public static func only(_ value: UInt64, reason: String) -> Self { Self(value, value, reason: reason) }

    public func contains(_ value: UInt64) -> Bool {
        value >= minimum && value <= maximum && value % step == 0 && (!powerOfTwo || value & (value &- 1) == 0)
    }

    /// `4096`, `4096 or 8192`, `a power of two from 32 to 256`, `a multiple of 8 from 8 to 64`,
    /// `0 to 1024`: sizes of a mebibyte and more with the suffix a profile file may use (`64G`).
    public var description: String {
        let low = Self.spelling(minimum)
        let high = Self.spelling(maximum)
        if minimum == maximum { return low }
        if powerOfTwo { return "a power of two from \(low) to \(high)" }
        if step > 1 {
            return maximum - minimum == step ? "\(low) or \(high)" : "a multiple of \(step) from \(low) to \(high)"
        }
        return "\(low) to \(high)"
    }

    /// A value as a profile file may write it: `4096`, `2M`, `64G`.
    static func spelling(_ value: UInt64) -> String {
        for (suffix, shift) in [("T", 40), ("G", 30), ("M", 20)] as [(String, UInt64)]
        where value >= 1 << shift && value & ((1 << shift) - 1) == 0 {
            return "\(value >> shift)\(suffix)"
        }
        return String(value)
    }
}

/// The name of every constant the engine and the schemes use.
///
/// The order of the cases is the order `somsim profile` prints them in.
public enum ProfileKey: String, CaseIterable, Sendable {
    // Pages and the memmap
    case pageBytes = "page_bytes"
    case structPageBytes = "struct_page_bytes"
    case sectionBytes = "section_bytes"
    case pageExtBytes = "page_ext_bytes"
    // Page tables
    case pageTableBytes = "page_table_bytes"
    case pageTableLevelBits = "page_table_level_bits"
    case pageTableLevels = "page_table_levels"
    case pgdBytes = "pgd_bytes"
    case pgdBytesPTI = "pgd_bytes_pti"
    case faultAroundPages = "fault_around_pages"
    // Folios and HugeTLB
    case folioStructPages = "folio_struct_pages"
    case devdaxVmemmapKeptPages = "devdax_vmemmap_kept_pages"
    // Memdescs
    case memdescPageBytes = "memdesc_page_bytes"
    case memdescInterimPageBytes = "memdesc_interim_page_bytes"
    case memdescAlignBytes = "memdesc_align_bytes"
    case memdescAnonFolioBytes = "memdesc_anon_folio_bytes"
    case memdescFileFolioBytes = "memdesc_file_folio_bytes"
    case memdescHugetlbFolioBytes = "memdesc_hugetlb_folio_bytes"
    case memdescPtdescBytes = "memdesc_ptdesc_bytes"
    // Single-owner pool
    case somChunkBytes = "som_chunk_bytes"
    case somBlockBytes = "som_block_bytes"
    case somBlockEntryBytes = "som_block_entry_bytes"
    case somProcessBytes = "som_process_bytes"
    // Per-process kernel state
    case kernelStackBytes = "kernel_stack_bytes"
    case taskStructBytes = "task_struct_bytes"
    case mmStructBytes = "mm_struct_bytes"
    case signalStructBytes = "signal_struct_bytes"
    case sighandStructBytes = "sighand_struct_bytes"
    case filesStructBytes = "files_struct_bytes"
    case fsStructBytes = "fs_struct_bytes"
    case pidBytes = "pid_bytes"
    case vmaBytes = "vm_area_struct_bytes"
    case anonVMABytes = "anon_vma_bytes"
    case anonVMAChainBytes = "anon_vma_chain_bytes"
    // TLB (issue 11): entries per level and page size
    case tlbL14KEntries = "tlb_l1_4k_entries"
    case tlbL12MEntries = "tlb_l1_2m_entries"
    case tlbL11GEntries = "tlb_l1_1g_entries"
    case tlbL24KEntries = "tlb_l2_4k_entries"
    case tlbL22MEntries = "tlb_l2_2m_entries"
    case tlbL21GEntries = "tlb_l2_1g_entries"
    case tlbL2Shared = "tlb_l2_shared_4k_2m"
}

/// Every constant of the models, in one place a person can print (`somsim profile`), edit and
/// pass back (`--profile FILE`).
///
/// Defaults are x86-64 as measured on this project's machine (Linux 6.18, see
/// docs/kernel-facts/FINDINGS.md) or as the cited source gives them. `KernelConstants` — what
/// the engine reads while it replays a workload — is made from a profile, so the two cannot
/// disagree.
public struct Profile: Equatable, Sendable {
    /// The constants in `ProfileKey` order.
    public private(set) var constants: [ProfileConstant]

    /// The x86-64 defaults.
    public static let x86_64 = Profile(constants: Self.defaults)

    private init(constants: [ProfileConstant]) {
        self.constants = constants
    }

    public init() { self = .x86_64 }

    public subscript(key: ProfileKey) -> UInt64 {
        get { constants[Self.position[key]!].value }
        set { constants[Self.position[key]!].value = newValue }
    }

    public func constant(_ key: ProfileKey) -> ProfileConstant { constants[Self.position[key]!] }

    /// The keys whose value differs from the default.
    public var overridden: [ProfileKey] {
        zip(constants, Self.defaults).filter { $0.value != $1.value }.map(\.0.key)
    }

    private static let position: [ProfileKey: Int] = Dictionary(
        uniqueKeysWithValues: ProfileKey.allCases.enumerated().map { ($1, $0) })

    private static func c(_ key: ProfileKey, _ value: UInt64, _ unit: String, _ source: String, _ allowed: AllowedValues) -> ProfileConstant {
        ProfileConstant(key: key, value: value, unit: unit, source: source, allowed: allowed)
    }

    // The ranges the model honours, shared by constants of one kind.
    private static let x86Geometry =
        "the engine models x86-64 paging with 4 KiB base pages, 512-entry page tables and 4 levels; page-table spans, THP and HugeTLB sizes are fixed in PageTableSet and the fault paths"
    private static let pgdRange = AllowedValues(
        4096, 8192, step: 4096, reason: "a PGD is one page, or two with page-table isolation (arch/x86/mm/pgtable.c: PGD_ALLOCATION_ORDER 0 or 1)")
    private static let memdescWord = AllowedValues(
        8, 64, step: 8, reason: "a per-page memdesc is whole 8-byte words, at most today's 64-byte struct page")
    private static let slabObject = AllowedValues(
        8, 4096, reason: "a descriptor is a slab object: at least one 8-byte word, at most a page")
    private static let tlbEntries = AllowedValues(
        0, 65536, reason: "a TLB level holds at most 64K entries of one page size (today's largest hold a few thousand); 0 when it holds none of that size")
    private static let kernelObject = AllowedValues(
        1, 1 << 20, reason: "a kernel object has a size, and 1 MiB keeps its products with process and VMA counts far from 2^64")

    // The table is in `ProfileKey` order; a test checks it.
    static let defaults: [ProfileConstant] = [
        c(.pageBytes, PageGeometry.pageBytes, "bytes", "arch/x86/include/asm/page_types.h: PAGE_SHIFT 12",
          AllowedValues.only(PageGeometry.pageBytes, reason: x86Geometry)),
        c(.structPageBytes, 64, "bytes", "include/linux/mm_types.h: sizeof(struct page) on x86-64 without debug options",
          AllowedValues(32, 256, powerOfTwo: true, reason: "the model always applies HVO, which the kernel does only when sizeof(struct page) is a power of two (mm/hugetlb_vmemmap.h: hugetlb_vmemmap_optimizable_size); 32 is the interim memdesc struct page, 256 leaves room for debug options")),
        c(.sectionBytes, 128 << 20, "bytes", "arch/x86/include/asm/sparsemem.h: SECTION_SIZE_BITS 27; the memmap is allocated a section at a time",
          AllowedValues(4 << 20, 64 << 30, powerOfTwo: true, reason: "a memory section is a power of two (SECTION_SIZE_BITS) that holds the largest buddy block, 4 MiB with MAX_PAGE_ORDER 10 (include/linux/mmzone.h); 64 GiB bounds the what-if (architectures use 16 MiB to 1 GiB)")),
        c(.pageExtBytes, 0, "bytes per page", "mm/page_ext.c: struct page_ext plus each enabled client's data (page_owner, page_table_check, ...); 0 when no client is enabled, the default",
          AllowedValues(0, 1024, reason: "0 without page_ext clients; a few words per page with them (mm/page_ext.c), and 1 KiB bounds it at a quarter of the page it describes")),
        c(.pageTableBytes, PageGeometry.entriesPerTable * 8, "bytes", "arch/x86: every page-table level is one 4 KiB page of 512 8-byte entries",
          AllowedValues.only(PageGeometry.entriesPerTable * 8, reason: x86Geometry)),
        c(.pageTableLevelBits, UInt64(PageGeometry.entriesPerTable.trailingZeroBitCount), "bits", "arch/x86/include/asm/pgtable_64_types.h: PTRS_PER_PTE 512",
          AllowedValues.only(UInt64(PageGeometry.entriesPerTable.trailingZeroBitCount), reason: x86Geometry)),
        c(.pageTableLevels, 4, "levels", "measured: 4-level paging at runtime (no la57) although CONFIG_PGTABLE_LEVELS=5 (docs/kernel-facts/FINDINGS.md)",
          AllowedValues.only(4, reason: x86Geometry + "; 5-level paging (la57) is not modelled")),
        c(.pgdBytes, 4096, "bytes", "measured: PageTables grows by VmPTE + 4 KiB per process with PTI off (docs/kernel-facts, 7h)",
          pgdRange),
        c(.pgdBytesPTI, 8192, "bytes", "arch/x86/mm/pgtable.c: PGD_ALLOCATION_ORDER 1 with CONFIG_MITIGATION_PAGE_TABLE_ISOLATION",
          pgdRange),
        c(.faultAroundPages, 16, "pages", "mm/memory.c: fault_around_bytes 64 KiB (measured: docs/kernel-facts, 4a)",
          AllowedValues(1, 512, powerOfTwo: true, reason: "mm/memory.c: fault_around_bytes_set rounds down to a power of two and refuses more than PTRS_PER_PTE pages; the model aligns the window to its size")),
        c(.folioStructPages, 4, "struct pages", "include/linux/mm_types.h: struct folio spans the first 4 struct pages of a large folio in current kernels (3 before ~6.15)",
          AllowedValues(1, 4, reason: "struct folio overlays the first struct pages of a large folio, and the smallest large anonymous folio (order 2, 16 KiB: THP_ORDERS_ALL_ANON) has 4")),
        c(.devdaxVmemmapKeptPages, 2, "pages per 2 MiB", "Documentation/mm/vmemmap_dedup.rst: device-DAX compound pages keep 2 of 8 vmemmap pages per 2 MiB",
          AllowedValues(1, 32, reason: "at least the head vmemmap page, at most all the vmemmap of a 2 MiB page at the largest struct_page_bytes (512 × 256 B = 32 pages)")),
        c(.memdescPageBytes, 8, "bytes per page", "kernelnewbies.org/MatthewWilcox/Memdescs: struct page shrinks to one 8-byte memdesc word",
          memdescWord),
        c(.memdescInterimPageBytes, 32, "bytes per page", "kernelnewbies.org/MatthewWilcox/Memdescs/Path: the interim step, a 32-byte struct page",
          memdescWord),
        c(.memdescAlignBytes, 16, "bytes", "kernelnewbies.org/MatthewWilcox/Memdescs: descriptors are allocated from slab in 16-byte steps",
          AllowedValues(8, 4096, powerOfTwo: true, reason: "slab objects are aligned to a power of two, at least ARCH_SLAB_MINALIGN (8) and at most a page")),
        c(.memdescAnonFolioBytes, 96, "bytes", "linux-mm, Single Owner Memory thread (Feb 2023): 'about 96 bytes' for an anonymous folio's descriptor",
          slabObject),
        c(.memdescFileFolioBytes, 80, "bytes", "estimate: struct folio's first-page fields (flags, lru, mapping, index, private, mapcount, refcount, memcg_data: 72 B) rounded up to 16",
          slabObject),
        c(.memdescHugetlbFolioBytes, 96, "bytes", "estimate: a folio plus HugeTLB's fields (subpool, cgroup), as large as an anonymous folio",
          slabObject),
        c(.memdescPtdescBytes, 64, "bytes", "estimate: struct ptdesc overlays one struct page today (include/linux/mm_types.h)",
          slabObject),
        c(.somChunkBytes, 1 << 30, "bytes", "Single Owner Memory proposal (LSF/MM/BPF 2023): the pool hands out memory in 1 GiB chunks",
          AllowedValues(16 << 20, 1 << 40, powerOfTwo: true, reason: "a chunk is a whole number of 2 MiB blocks with a bitmap of at least one byte (8 blocks); 1 TiB bounds the pool's rounding")),
        c(.somBlockBytes, PageGeometry.pmdBytes, "bytes", "Single Owner Memory proposal: 1 GiB chunks are managed in 2 MiB chunks with bitmaps",
          AllowedValues.only(PageGeometry.pmdBytes, reason: "the census counts single-owner memory in 2 MiB blocks (Schemes/Census.swift)")),
        c(.somBlockEntryBytes, 16, "bytes per 2 MiB", "estimate: one entry of a process's list or tree of 2 MiB chunks (address and state); the proposal gives no size",
          AllowedValues(1, 4096, reason: "an entry of a per-process block list: more than 0 bytes, at most a page")),
        c(.somProcessBytes, 64, "bytes per process", "estimate: a process's som state (list head, lock, counters); the proposal gives no size",
          kernelObject),
        c(.kernelStackBytes, 16384, "bytes", "arch/x86/include/asm/page_64_types.h: THREAD_SIZE 16 KiB (KASAN off)",
          AllowedValues(4096, 1 << 20, powerOfTwo: true, reason: "THREAD_SIZE is PAGE_SIZE << THREAD_SIZE_ORDER (arch/x86/include/asm/page_64_types.h); 1 MiB bounds its products with process counts")),
        c(.taskStructBytes, 4240, "bytes", "measured: /sys/kernel/slab/task_struct/object_size on Linux 6.18",
          kernelObject),
        c(.mmStructBytes, 1568, "bytes", "measured: /sys/kernel/slab/mm_struct/object_size on Linux 6.18",
          kernelObject),
        c(.signalStructBytes, 1152, "bytes", "measured: /sys/kernel/slab/signal_cache/object_size on Linux 6.18",
          kernelObject),
        c(.sighandStructBytes, 2080, "bytes", "measured: /sys/kernel/slab/sighand_cache/object_size on Linux 6.18",
          kernelObject),
        c(.filesStructBytes, 704, "bytes", "measured: /sys/kernel/slab/files_cache/object_size on Linux 6.18",
          kernelObject),
        c(.fsStructBytes, 64, "bytes", "measured: /sys/kernel/slab/fs_cache/object_size on Linux 6.18",
          kernelObject),
        c(.pidBytes, 184, "bytes", "measured: /sys/kernel/slab/pid/object_size on Linux 6.18",
          kernelObject),
        c(.vmaBytes, 192, "bytes per VMA", "measured: /sys/kernel/slab/vm_area_struct/object_size on Linux 6.18",
          kernelObject),
        c(.anonVMABytes, 96, "bytes per VMA with anonymous pages", "measured: /sys/kernel/slab/anon_vma/object_size on Linux 6.18",
          kernelObject),
        c(.anonVMAChainBytes, 64, "bytes per VMA with anonymous pages", "measured: /sys/kernel/slab/anon_vma_chain/object_size on Linux 6.18",
          kernelObject),
        c(.tlbL14KEntries, 64, "entries", "Intel 64 and IA-32 Architectures Optimization Reference Manual, Skylake microarchitecture: first-level DTLB, 4 KiB pages, 64 entries (4-way)",
          tlbEntries),
        c(.tlbL12MEntries, 32, "entries", "Intel Optimization Reference Manual, Skylake: first-level DTLB, 2 MiB/4 MiB pages, 32 entries (4-way)",
          tlbEntries),
        c(.tlbL11GEntries, 4, "entries", "Intel Optimization Reference Manual, Skylake: first-level DTLB, 1 GiB pages, 4 entries",
          tlbEntries),
        c(.tlbL24KEntries, 1536, "entries", "Intel Optimization Reference Manual, Skylake: STLB, 4 KiB and 2 MiB pages, 1536 entries (12-way)",
          tlbEntries),
        c(.tlbL22MEntries, 1536, "entries", "Intel Optimization Reference Manual, Skylake: the STLB's 1536 entries also hold 2 MiB pages (shared with 4 KiB, tlb_l2_shared_4k_2m = 1)",
          tlbEntries),
        c(.tlbL21GEntries, 16, "entries", "Intel Optimization Reference Manual, Skylake: STLB, 1 GiB pages, 16 entries (4-way)",
          tlbEntries),
        c(.tlbL2Shared, 1, "0 or 1", "Intel Optimization Reference Manual, Skylake: the STLB holds 4 KiB and 2 MiB entries in one array (1); 0 for separate arrays",
          AllowedValues(0, 1, reason: "1 when 4 KiB and 2 MiB entries share the second-level array, 0 when they do not")),
    ]
}

// MARK: - The profile file

/// A line of a profile file that could not be read.
public struct ProfileError: Error, Equatable, CustomStringConvertible {
    public var fileName: String
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "\(fileName):\(line):\(column): error: \(message)" }
}

extension Profile {
    /// The profile as the text `somsim profile` prints and `--profile` reads back: one
    /// `name = value` line per constant, its unit, the values the model honours and its source
    /// in a comment.
    public func text() -> String {
        var out = """
            # somsim profile: every constant the models use, with its unit, the values the model
            # honours, and its source. Edit values and pass this file with --profile FILE. A
            # constant left out keeps its default. Values are integers, with an optional K, M, G
            # or T suffix (binary). docs/profile.md says why each range is what it is.

            """
        let width = constants.map { $0.name.count }.max() ?? 0
        for constant in constants {
            let pad = String(repeating: " ", count: width - constant.name.count)
            out += "\(constant.name)\(pad) = \(constant.value)  # \(constant.unit); allowed: \(constant.allowed.description); \(constant.source)\n"
        }
        return out
    }

    /// Reads a profile file's bytes as they were read: a file that is not UTF-8 text is refused
    /// at the line and column of its first ill-formed byte sequence, even inside a comment.
    public static func parse(bytes: [UInt8], fileName: String = "<profile>", base: Profile = .x86_64) throws(ProfileError) -> Profile {
        if let invalid = UserText.invalidUTF8(in: bytes) {
            throw ProfileError(fileName: fileName, line: invalid.location.line, column: invalid.location.column, message: invalid.message)
        }
        return try parse(String(decoding: bytes, as: UTF8.self), fileName: fileName, base: base)
    }

    /// Reads a profile file: the defaults with every `name = value` line applied. Blank lines
    /// and `#` comments are ignored; an unknown name, a repeated name, a bad value or a value
    /// outside the constant's `allowed` values is an error.
    public static func parse(_ text: String, fileName: String = "<profile>", base: Profile = .x86_64) throws(ProfileError) -> Profile {
        var profile = base
        var seen: Set<ProfileKey> = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = number + 1
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = line.trimmingSpaces
            if trimmed.isEmpty { continue }
            let column = line.prefix { $0 == " " || $0 == "\t" }.count + 1
            let parts = trimmed.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw ProfileError(fileName: fileName, line: lineNumber, column: column, message: "expected NAME = VALUE")
            }
            let name = parts[0].trimmingSpaces
            guard let key = ProfileKey(rawValue: String(name)) else {
                throw ProfileError(fileName: fileName, line: lineNumber, column: column, message: "unknown constant \(UserText.quoted(name))")
            }
            guard seen.insert(key).inserted else {
                throw ProfileError(fileName: fileName, line: lineNumber, column: column, message: "'\(name)' is set twice")
            }
            let valueText = parts[1].trimmingSpaces
            let valueColumn = column + parts[0].count + 1 + (parts[1].count - parts[1].drop { $0 == " " || $0 == "\t" }.count)
            guard let value = Self.integer(valueText) else {
                throw ProfileError(
                    fileName: fileName, line: lineNumber, column: valueColumn,
                    message: "\(UserText.quoted(valueText)) is not a non-negative integer (with an optional K, M, G or T suffix)")
            }
            let allowed = profile.constant(key).allowed
            guard allowed.contains(value) else {
                throw ProfileError(
                    fileName: fileName, line: lineNumber, column: valueColumn,
                    message: "\(name) = \(value) is outside the range the model honours: \(allowed.description) (\(allowed.reason))")
            }
            profile[key] = value
        }
        return profile
    }

    /// A non-negative integer with an optional binary suffix.
    private static func integer(_ text: Substring) -> UInt64? {
        let multipliers: [(String, UInt64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
            ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1),
        ]
        var digits = text
        var multiplier: UInt64 = 1
        for (suffix, value) in multipliers where text.hasSuffix(suffix) {
            digits = text.dropLast(suffix.count)
            multiplier = value
            break
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }), let number = UInt64(digits) else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        var trimmed = self
        while let first = trimmed.first, isSpace(first) { trimmed.removeFirst() }
        while let last = trimmed.last, isSpace(last) { trimmed.removeLast() }
        return trimmed
    }
}
