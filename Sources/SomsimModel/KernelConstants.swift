/// Every number the engine takes from the kernel while it replays a workload.
///
/// Made from a `Profile` (Profile.swift), the one home of every constant with its unit and
/// source; `KernelConstants()` is the x86-64 default profile. The schemes read the rest of the
/// profile through `profile`.
public struct KernelConstants: Equatable, Sendable {
    /// Base page size, bytes. arch/x86/include/asm/page_types.h: PAGE_SHIFT 12.
    public var pageBytes: UInt64
    /// `sizeof(struct page)`, bytes. include/linux/mm_types.h; 64 on x86-64 without debug options.
    public var structPageBytes: UInt64
    /// Memory section size, bytes: the memmap is allocated a section at a time.
    /// arch/x86/include/asm/sparsemem.h: SECTION_SIZE_BITS 27 (128 MiB).
    public var sectionBytes: UInt64
    /// Size of one page table at any level, bytes (512 entries of 8 bytes).
    public var pageTableBytes: UInt64
    /// Address bits one page-table level translates: 9 (512 entries).
    public var bitsPerLevel: UInt64
    /// Top-level table (PGD) per process, bytes: one page, or two with page-table isolation.
    /// arch/x86/mm/pgtable.c: PGD_ALLOCATION_ORDER is 1 with CONFIG_MITIGATION_PAGE_TABLE_ISOLATION.
    public var pgdBytes: UInt64
    public var pgdBytesWithPTI: UInt64
    /// Pages a read fault on a file or shmem mapping may map around the faulting one
    /// (mm/memory.c: fault_around_bytes, 64 KiB by default; the window is aligned to its size).
    public var faultAroundPages: UInt64
    /// The whole profile the engine's constants were made from; the schemes read it.
    public var profile: Profile

    public init() { self.init(profile: .x86_64) }

    public init(profile: Profile) {
        self.profile = profile
        pageBytes = profile[.pageBytes]
        structPageBytes = profile[.structPageBytes]
        sectionBytes = profile[.sectionBytes]
        pageTableBytes = profile[.pageTableBytes]
        bitsPerLevel = profile[.pageTableLevelBits]
        pgdBytes = profile[.pgdBytes]
        pgdBytesWithPTI = profile[.pgdBytesPTI]
        faultAroundPages = profile[.faultAroundPages]
    }

    /// vmemmap pages behind one huge page of `hugePageBytes`: its struct pages, in base pages.
    public func vmemmapPages(perHugePage hugePageBytes: UInt64) -> UInt64 {
        Self.vmemmapPages(perHugePage: hugePageBytes, pageBytes: pageBytes, structPageBytes: structPageBytes)
    }

    /// The one formula for vmemmap pages behind `hugePageBytes` of memory (a huge page, or a
    /// memory section): a `struct page` per base page, in base pages.
    static func vmemmapPages(perHugePage hugePageBytes: UInt64, pageBytes: UInt64, structPageBytes: UInt64) -> UInt64 {
        hugePageBytes / pageBytes * structPageBytes / pageBytes
    }
}

/// Where the engine places workload mappings in every process's address space.
///
/// A real run reserves the same window for the workload alone, so page tables that map it are the
/// workload's. Both bounds are 512 GiB aligned, so no PUD table is shared with the program's own
/// memory. Mappings are placed top-down inside it, as Linux's mmap places them below `mmap_base`.
public enum WorkloadWindow {
    /// Lowest address of the window: 16 TiB.
    public static let lowAddress: UInt64 = 0x1000_0000_0000
    /// One past the highest address of the window: 80 TiB (the window is 64 TiB).
    public static let highAddress: UInt64 = 0x5000_0000_0000
    /// Where a process's heap starts (mm->start_brk): the window's lowest address, far below the
    /// mappings top-down placement hands out. A real program's heap starts at a random page after
    /// its data segment; `validate` moves the break here (prctl PR_SET_MM_START_BRK) so that the
    /// heap's page tables are the model's.
    public static let heapAddress: UInt64 = lowAddress
}
