/// One named constant of the models: its value, unit and where the value comes from.
public struct ProfileConstant: Equatable, Sendable {
    public var key: ProfileKey
    public var value: UInt64
    /// `bytes`, `pages`, `levels`, `bits`, …
    public var unit: String
    /// Where the default comes from: a kernel file and symbol, a measurement on this project's
    /// machine (docs/kernel-facts), a published figure, or "estimate" with its reasoning.
    public var source: String

    public var name: String { key.rawValue }
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

    private static func c(_ key: ProfileKey, _ value: UInt64, _ unit: String, _ source: String) -> ProfileConstant {
        ProfileConstant(key: key, value: value, unit: unit, source: source)
    }

    // The table is in `ProfileKey` order; a test checks it.
    static let defaults: [ProfileConstant] = [
        c(.pageBytes, 4096, "bytes", "arch/x86/include/asm/page_types.h: PAGE_SHIFT 12"),
        c(.structPageBytes, 64, "bytes", "include/linux/mm_types.h: sizeof(struct page) on x86-64 without debug options"),
        c(.sectionBytes, 128 << 20, "bytes", "arch/x86/include/asm/sparsemem.h: SECTION_SIZE_BITS 27; the memmap is allocated a section at a time"),
        c(.pageExtBytes, 0, "bytes per page", "mm/page_ext.c: struct page_ext plus each enabled client's data (page_owner, page_table_check, ...); 0 when no client is enabled, the default"),
        c(.pageTableBytes, 4096, "bytes", "arch/x86: every page-table level is one 4 KiB page of 512 8-byte entries"),
        c(.pageTableLevelBits, 9, "bits", "arch/x86/include/asm/pgtable_64_types.h: PTRS_PER_PTE 512"),
        c(.pageTableLevels, 4, "levels", "measured: 4-level paging at runtime (no la57) although CONFIG_PGTABLE_LEVELS=5 (docs/kernel-facts/FINDINGS.md)"),
        c(.pgdBytes, 4096, "bytes", "measured: PageTables grows by VmPTE + 4 KiB per process with PTI off (docs/kernel-facts, 7h)"),
        c(.pgdBytesPTI, 8192, "bytes", "arch/x86/mm/pgtable.c: PGD_ALLOCATION_ORDER 1 with CONFIG_MITIGATION_PAGE_TABLE_ISOLATION"),
        c(.faultAroundPages, 16, "pages", "mm/memory.c: fault_around_bytes 64 KiB (measured: docs/kernel-facts, 4a)"),
        c(.folioStructPages, 4, "struct pages", "include/linux/mm_types.h: struct folio spans the first 4 struct pages of a large folio in current kernels (3 before ~6.15)"),
        c(.devdaxVmemmapKeptPages, 2, "pages per 2 MiB", "Documentation/mm/vmemmap_dedup.rst: device-DAX compound pages keep 2 of 8 vmemmap pages per 2 MiB"),
        c(.memdescPageBytes, 8, "bytes per page", "kernelnewbies.org/MatthewWilcox/Memdescs: struct page shrinks to one 8-byte memdesc word"),
        c(.memdescInterimPageBytes, 32, "bytes per page", "kernelnewbies.org/MatthewWilcox/Memdescs/Path: the interim step, a 32-byte struct page"),
        c(.memdescAlignBytes, 16, "bytes", "kernelnewbies.org/MatthewWilcox/Memdescs: descriptors are allocated from slab in 16-byte steps"),
        c(.memdescAnonFolioBytes, 96, "bytes", "linux-mm, Single Owner Memory thread (Feb 2023): 'about 96 bytes' for an anonymous folio's descriptor"),
        c(.memdescFileFolioBytes, 80, "bytes", "estimate: struct folio's first-page fields (flags, lru, mapping, index, private, mapcount, refcount, memcg_data: 72 B) rounded up to 16"),
        c(.memdescHugetlbFolioBytes, 96, "bytes", "estimate: a folio plus HugeTLB's fields (subpool, cgroup), as large as an anonymous folio"),
        c(.memdescPtdescBytes, 64, "bytes", "estimate: struct ptdesc overlays one struct page today (include/linux/mm_types.h)"),
        c(.somChunkBytes, 1 << 30, "bytes", "Single Owner Memory proposal (LSF/MM/BPF 2023): the pool hands out memory in 1 GiB chunks"),
        c(.somBlockBytes, 2 << 20, "bytes", "Single Owner Memory proposal: 1 GiB chunks are managed in 2 MiB chunks with bitmaps"),
        c(.somBlockEntryBytes, 16, "bytes per 2 MiB", "estimate: one entry of a process's list or tree of 2 MiB chunks (address and state); the proposal gives no size"),
        c(.somProcessBytes, 64, "bytes per process", "estimate: a process's som state (list head, lock, counters); the proposal gives no size"),
        c(.kernelStackBytes, 16384, "bytes", "arch/x86/include/asm/page_64_types.h: THREAD_SIZE 16 KiB (KASAN off)"),
        c(.taskStructBytes, 4240, "bytes", "measured: /sys/kernel/slab/task_struct/object_size on Linux 6.18"),
        c(.mmStructBytes, 1568, "bytes", "measured: /sys/kernel/slab/mm_struct/object_size on Linux 6.18"),
        c(.signalStructBytes, 1152, "bytes", "measured: /sys/kernel/slab/signal_cache/object_size on Linux 6.18"),
        c(.sighandStructBytes, 2080, "bytes", "measured: /sys/kernel/slab/sighand_cache/object_size on Linux 6.18"),
        c(.filesStructBytes, 704, "bytes", "measured: /sys/kernel/slab/files_cache/object_size on Linux 6.18"),
        c(.fsStructBytes, 64, "bytes", "measured: /sys/kernel/slab/fs_cache/object_size on Linux 6.18"),
        c(.pidBytes, 184, "bytes", "measured: /sys/kernel/slab/pid/object_size on Linux 6.18"),
        c(.vmaBytes, 192, "bytes per VMA", "measured: /sys/kernel/slab/vm_area_struct/object_size on Linux 6.18"),
        c(.anonVMABytes, 96, "bytes per VMA with anonymous pages", "measured: /sys/kernel/slab/anon_vma/object_size on Linux 6.18"),
        c(.anonVMAChainBytes, 64, "bytes per VMA with anonymous pages", "measured: /sys/kernel/slab/anon_vma_chain/object_size on Linux 6.18"),
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
    /// `name = value` line per constant, its unit and source in a comment.
    public func text() -> String {
        var out = """
            # somsim profile: every constant the models use, with its unit and source.
            # Edit values and pass this file with --profile FILE. A constant left out keeps its
            # default. Values are integers, with an optional K, M, G or T suffix (binary).

            """
        let width = constants.map { $0.name.count }.max() ?? 0
        for constant in constants {
            let pad = String(repeating: " ", count: width - constant.name.count)
            out += "\(constant.name)\(pad) = \(constant.value)  # \(constant.unit); \(constant.source)\n"
        }
        return out
    }

    /// Reads a profile file: the defaults with every `name = value` line applied. Blank lines
    /// and `#` comments are ignored; an unknown name, a repeated name or a bad value is an error.
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
                throw ProfileError(fileName: fileName, line: lineNumber, column: column, message: "unknown constant '\(name)'")
            }
            guard seen.insert(key).inserted else {
                throw ProfileError(fileName: fileName, line: lineNumber, column: column, message: "'\(name)' is set twice")
            }
            let valueText = parts[1].trimmingSpaces
            let valueColumn = column + parts[0].count + 1 + (parts[1].count - parts[1].drop { $0 == " " || $0 == "\t" }.count)
            guard let value = Self.integer(valueText) else {
                throw ProfileError(
                    fileName: fileName, line: lineNumber, column: valueColumn,
                    message: "'\(valueText)' is not a non-negative integer (with an optional K, M, G or T suffix)")
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
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let number = UInt64(digits) else { return nil }
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
