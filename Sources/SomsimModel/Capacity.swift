// Capacity: what RAM holds — pool sizing, overcommit, the OOM killer — mm/hugetlb.c,
// mm/util.c, mm/oom_kill.c, mm/page_alloc.c.

import SomsimWorkload

/// Memory capacity: what of the machine's RAM the workload may use, and what the kernel does when
/// a workload asks for more — HugeTLB pools that read back smaller than asked, mmap's overcommit
/// check, and the OOM killer (mm/hugetlb.c, mm/util.c, mm/oom_kill.c).
///
/// The rule, in pages of RAM: the memmap, the HugeTLB pools, the free-page reserve, each live
/// process's kernel state and VMAs, page tables, private anonymous pages and page-cache (shmem,
/// tmpfs) pages must fit in `ram`. There is no swap, and none of that memory can be reclaimed.
/// The kernel's own code, slab caches and per-CPU memory are not modelled, so the real kernel
/// runs out a little earlier than the model (docs/model.md, "Memory capacity").
struct MemoryBudget {
    /// RAM in base pages.
    let ramPages: UInt64
    /// The memmap with empty pools: what boot allocates (sections × struct pages).
    let bootMemmapPages: UInt64
    /// `min_free_kbytes` in pages: the allocator keeps this much free; page faults fail below it
    /// (mm/page_alloc.c: calculate_min_free_kbytes, `clamp(int_sqrt(lowmem_kbytes * 16), 128,
    /// 262144)`, lowmem being the RAM the memmap leaves).
    let reservePages: UInt64
    /// Kernel memory of one live process, bytes: kernel stack, task, mm, signal, sighand,
    /// files, fs and pid structures (the profile's constants, as the `common` rows use them).
    let processBytes: UInt64
    /// Kernel memory of one VMA, bytes (`vm_area_struct_bytes`).
    let vmaBytes: UInt64
    /// Top-level table (PGD) of one process, in pages.
    let pgdPages: UInt64

    init(machine: MachineSpec, constants: KernelConstants, bootMemmapPages: UInt64) {
        let profile = constants.profile
        let page = constants.pageBytes
        ramPages = machine.ramBytes / page
        self.bootMemmapPages = bootMemmapPages
        let lowmemKbytes = ramPages.subtractingClamped(bootMemmapPages) * (page / 1024)
        let minFreeKbytes = min(max(Self.integerSquareRoot(lowmemKbytes * 16), 128), 262_144)
        reservePages = minFreeKbytes * 1024 / page  // mm/page_alloc.c: pages_min = min_free_kbytes >> (PAGE_SHIFT - 10)
        let perTask: [ProfileKey] = [
            .kernelStackBytes, .taskStructBytes, .mmStructBytes, .signalStructBytes, .sighandStructBytes, .filesStructBytes,
            .fsStructBytes, .pidBytes,
        ]
        processBytes = perTask.reduce(0) { $0 + profile[$1] }
        vmaBytes = profile[.vmaBytes]
        pgdPages = (machine.pti ? constants.pgdBytesWithPTI : constants.pgdBytes) / page
    }

    /// ⌊√n⌋ (lib/math/int_sqrt.c).
    static func integerSquareRoot(_ n: UInt64) -> UInt64 {
        var x = UInt64(Double(n).squareRoot())
        while x > 0 && x > n / x { x -= 1 }
        while x + 1 <= n / (x + 1) { x += 1 }
        return x
    }
}

extension UInt64 {
    /// `self − other`, or 0 when `other` is larger.
    func subtractingClamped(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}

/// Something the capacity rules did that the report shows as an error event after the statement
/// that caused it.
enum CapacityEvent: Equatable {
    /// The OOM killer killed `process`.
    case oomKill(process: String)
    /// A pool was asked for `requested` pages and got `allocated`.
    case poolTrimmed(HugePageSize, requested: UInt64, allocated: UInt64)
    /// The kernel refused the pool's `nr_overcommit_hugepages` (EINVAL).
    case overcommitRefused(HugePageSize)
}

extension Simulator {
    /// Pages of RAM in use: everything `MemoryBudget` lists.
    func usedPages() -> UInt64 {
        let page = constants.pageBytes
        let kernelBytes = liveProcesses * budget.processBytes + liveMappings * budget.vmaBytes
        return fixedPages + (kernelBytes + page - 1) / page + tablePages + liveProcesses * budget.pgdPages + anonPages + cachePagesPresent
    }

    /// The part of `usedPages` a run does not change: the memmap (HVO applied), the pools and the
    /// free-page reserve. (Called on every fault step, so it is worked out once.)
    func fixedUsedPages() -> UInt64 {
        let page = constants.pageBytes
        let poolPages = HugePageSize.allCases.reduce(UInt64(0)) { $0 + pools[$1].total * ($1.bytes / page) }
        return memmapPages() + poolPages + budget.reservePages
    }

    /// Pages a fault may still allocate before the machine is out of memory.
    func roomPages() -> UInt64 { budget.ramPages.subtractingClamped(usedPages()) }

    // MARK: - HugeTLB pools

    /// Sizes the pools the way writing `nr_hugepages` does: one huge page at a time while free
    /// memory lasts, 2 MiB pages first, then 1 GiB pages (the order `validate` sets them in).
    /// A pool page needs its whole size free when it is allocated; with HVO on, the vmemmap pages
    /// it frees then go back to the free memory (mm/hugetlb.c: set_max_huge_pages,
    /// alloc_pool_huge_folio; mm/hugetlb_vmemmap.c). Fragmentation is not modelled.
    mutating func sizePools() {
        let page = constants.pageBytes
        var free = budget.ramPages.subtractingClamped(budget.bootMemmapPages + budget.reservePages)
        for (huge, requested) in [(HugePageSize.size2M, machine.hugetlb2MPages), (.size1G, machine.hugetlb1GPages)] {
            let size = huge.bytes / page
            let cost = machine.hvo ? size - hvoFreedPages(perHugePage: huge) : size
            let fits = free >= size ? 1 + (free - size) / cost : 0
            let allocated = min(requested, fits)
            free -= allocated * cost
            pools[huge] = HugePool(total: allocated, free: allocated)
            if allocated < requested {
                capacityEvents.append(.poolTrimmed(huge, requested: requested, allocated: allocated))
            }
        }
        // Surplus pages: `nr_overcommit_hugepages`. Gigantic pages cannot be surplus pages on
        // this kernel: the write fails with EINVAL (measured: docs/kernel-facts P5).
        pools[.size2M].overcommit = machine.hugetlb2MOvercommit
        if machine.hugetlb1GOvercommit > 0 { capacityEvents.append(.overcommitRefused(.size1G)) }
    }

    // MARK: - mmap

    /// Whether mmap's overcommit check refuses a mapping of `length` bytes (ENOMEM). Under the
    /// default heuristic (vm.overcommit_memory = 0) a mapping the kernel accounts for — private
    /// writable memory, and shared anonymous (shmem) memory — fails when it alone is larger than
    /// the RAM the kernel manages plus swap (mm/util.c: __vm_enough_memory, OVERCOMMIT_GUESS;
    /// mm/mmap.c: accountable_mapping; mm/shmem.c: shmem_acct_size). HugeTLB mappings have
    /// reservations instead; mappings of tmpfs files are charged page by page.
    func overcommitRefuses(length: UInt64, options: MmapOptions) -> Bool {
        // MAP_NORESERVE: not accounted (mm/mmap.c: VM_NORESERVE under the heuristic mode).
        guard options.huge == nil, !options.shared || options.file == nil, !options.noreserve else { return false }
        let managed = budget.ramPages.subtractingClamped(budget.bootMemmapPages)
        return length / constants.pageBytes > managed
    }

    // MARK: - The OOM killer

    /// Makes sure the fault step `position..<end` of the faulting mapping `f.mapping` (not in
    /// its process while it is being faulted) can allocate what it needs. Near the limit, the step is shortened
    /// to what fits and large folios are not allocated (a THP allocation is the first to fail
    /// when memory is short, and the fault falls back to 4 KiB pages). When nothing fits, the
    /// OOM killer runs: it kills the live process with the highest badness — its RSS plus its
    /// page tables, in pages (mm/oom_kill.c: oom_badness, `get_mm_rss + mm_pgtables_bytes /
    /// PAGE_SIZE`; HugeTLB pages are not in the RSS) — the latest created on a tie, as
    /// select_bad_process walks the task list in creation order and takes a later task with
    /// equal points. Returns false when the faulting process itself was chosen: it dies of
    /// SIGKILL (`tally.signal`).
    mutating func makeRoom(_ f: inout FaultContext, _ position: UInt64, _ end: inout UInt64, _ state: PageState) -> Bool {
        f.tally.noLargeFolios = false
        // A step allocates at most its pages, and a large folio may reach up to a PMD-size folio
        // before or past them.
        let slack: UInt64 = 1 << UInt64(PageGeometry.pmdOrder)
        while true {
            let room = roomPages()
            if room >= end - position + slack { return true }
            let (need, perPage) = allocationNeed(f.mapping, position..<end, state, f.access)
            if need == 0 || need + slack <= room { return true }
            if room > slack + perPage {
                end = position + (room - slack) / perPage
                return true
            }
            // Less than a PMD-size folio left: 4 KiB pages only, as many as fit.
            f.tally.noLargeFolios = true
            if need <= room { return true }
            if room >= perPage {
                end = position + room / perPage
                return true
            }
            let victim = oomVictim(faulting: f.process, inFlight: f.mapping)
            capacityEvents.append(.oomKill(process: processes[victim].name))
            if victim == f.process {
                f.tally.signal = .SIGKILL
                return false
            }
            kill(victim, signal: .SIGKILL)
        }
    }

    /// Pages a fault step on `range` (all in `state`) allocates at most, and the most it
    /// allocates per page (2 where a private file write reads the file page into the cache and
    /// copies it). Only called near the limit: it walks extents.
    func allocationNeed(_ m: Mapping, _ range: Range<UInt64>, _ state: PageState, _ access: Access) -> (UInt64, UInt64) {
        guard m.huge == nil else { return (0, 1) }  // HugeTLB pages come from the pools.
        let count = UInt64(range.count)
        func missing(_ object: GroupID?) -> UInt64 {
            guard let object else { return 0 }
            var n: UInt64 = 0
            groups[object].pages.forEach(in: m.inFile(range)) { r, page in if !page.present { n += UInt64(r.count) } }
            return n
        }
        switch state {
        case .none:
            if m.isPrivateAnonymousLike { return (access == .read && !m.isSingleOwner ? 0 : count, 1) }
            if access == .read { return (missing(m.object), 1) }
            if m.isPrivate { return (missing(m.object) + count, 2) }
            return (missing(m.object), 1)
        case .zero:
            return (access == .read ? 0 : count, 1)
        case .anon(let run, let writable):
            guard access == .write, !writable else { return (0, 1) }
            var copies: UInt64 = 0
            groups[run].pages.forEach(in: range) { r, page in
                if page.mapcount > 1 || page.order > 0 { copies += UInt64(r.count) }
            }
            return (copies, 1)
        case .cache:
            return (access == .write && m.isPrivate ? count : 0, 1)
        }
    }

    /// The process the OOM killer picks (see `makeRoom`).
    func oomVictim(faulting p: ProcessID, inFlight: Mapping) -> ProcessID {
        var chosen = p
        var chosenPoints: UInt64 = 0
        var first = true
        for q in processes.ids where processes[q].alive {
            var rss: UInt64 = 0
            for mapping in processes[q].mappings.values { rss += residentPages(mapping) }
            if q == p { rss += residentPages(inFlight) }
            let points = rss + processes[q].pageTables.total
            if first || points >= chosenPoints {
                chosen = q
                chosenPoints = points
                first = false
            }
        }
        return chosen
    }

    /// Base pages of `m` this process maps, HugeTLB and the zero page excluded (the mm's RSS
    /// counters: MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES).
    func residentPages(_ m: Mapping) -> UInt64 {
        guard m.huge == nil else { return 0 }
        var pages: UInt64 = 0
        m.pages.forEach(in: 0..<m.pageCount) { r, state in
            switch state {
            case .anon, .cache: pages += UInt64(r.count)
            case .none, .zero: break
            }
        }
        return pages
    }
}
