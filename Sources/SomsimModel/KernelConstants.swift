/// Every number the engine takes from the kernel, with its unit and source, in one place.
///
/// Defaults are x86-64 with 4-level page tables. Values checked on this project's machines are
/// marked "measured" with the program under docs/kernel-facts/ that shows them.
public struct KernelConstants: Equatable, Sendable {
    /// Base page size, bytes. arch/x86/include/asm/page_types.h: PAGE_SHIFT 12.
    public var pageBytes: UInt64 = 4096
    /// `sizeof(struct page)`, bytes. include/linux/mm_types.h; 64 on x86-64 without debug options.
    public var structPageBytes: UInt64 = 64
    /// Memory section size, bytes: the memmap is allocated a section at a time.
    /// arch/x86/include/asm/sparsemem.h: SECTION_SIZE_BITS 27 (128 MiB).
    public var sectionBytes: UInt64 = 128 << 20
    /// Size of one page table at any level, bytes (512 entries of 8 bytes).
    public var pageTableBytes: UInt64 = 4096
    /// Address bits one page-table level translates: 9 (512 entries).
    public var bitsPerLevel: UInt64 = 9
    /// Top-level table (PGD) per process, bytes: one page, or two with page-table isolation.
    /// arch/x86/mm/pgtable.c: PGD_ALLOCATION_ORDER is 1 with CONFIG_MITIGATION_PAGE_TABLE_ISOLATION.
    public var pgdBytes: UInt64 = 4096
    public var pgdBytesWithPTI: UInt64 = 8192
    /// Pages a read fault on a file or shmem mapping may map around the faulting one
    /// (mm/memory.c: fault_around_bytes, 64 KiB by default; the window is aligned to its size).
    public var faultAroundPages: UInt64 = 16

    public init() {}

    /// vmemmap pages behind one huge page of `hugePageBytes`: its struct pages, in base pages.
    public func vmemmapPages(perHugePage hugePageBytes: UInt64) -> UInt64 {
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
}
