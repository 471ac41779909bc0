import SomsimWorkload

/// The kinds of memory a descriptor describes, in the kernel's words.
public enum FolioKind: String, CaseIterable, Sendable, Comparable {
    /// Private anonymous memory (`MAP_PRIVATE|MAP_ANONYMOUS`, or a private copy of a file page).
    case anon
    /// Page cache of a named file (`file=ID`, a tmpfs file).
    case file
    /// Shared anonymous memory: shmem's page cache.
    case shmem
    /// A HugeTLB page, in the pool or mapped.
    case hugetlb
    /// Single-owner memory served from the som pool.
    case som

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// How many folios of one kind and order exist.
public struct FolioCount: Equatable, Sendable {
    public var kind: FolioKind
    /// log2 of the folio's base pages: 0 for 4 KiB, 6 for 256 KiB, 9 for 2 MiB, 18 for 1 GiB.
    public var order: Int
    public var count: UInt64

    public init(kind: FolioKind, order: Int, count: UInt64) {
        self.kind = kind
        self.order = order
        self.count = count
    }

    /// Base pages in these folios.
    public var pages: UInt64 { count << UInt64(order) }
}

/// What the schemes need to know about the machine at one measure point: the folios in memory,
/// the page tables, the processes, and what maps what. Taken from the engine's state by
/// `Simulator.census()`; every scheme is a pure function of a census and a profile.
public struct MemoryCensus: Equatable, Sendable {
    public var machine: MachineSpec
    /// Folios by kind and order, sorted; HugeTLB counts every pool page (free or mapped).
    public var folios: [FolioCount] = []
    /// HugeTLB pool pages (total) by size.
    public var hugetlbPoolPages: [HugePageSize: UInt64] = [:]
    /// Page tables of the workload's mappings, summed over live processes: PTE, PMD, PUD.
    public var pageTables: [UInt64] = [0, 0, 0]
    /// Live processes (each has a PGD, a kernel stack, a task and an mm).
    public var processes: UInt64 = 0
    /// Mappings (VMAs) of live processes, and those with anonymous pages (an anon_vma).
    public var vmas: UInt64 = 0
    public var anonVMAs: UInt64 = 0
    /// TLB entries it takes to map every live process's present workload pages once: by the
    /// size each page is mapped with (4 KiB PTE, 2 MiB PMD, 1 GiB PUD).
    public var tlbEntries: [UInt64] = [0, 0, 0]
    /// Base pages of private anonymous memory mapped by exactly one process: what a
    /// single-owner pool could serve.
    public var singleOwnerPages: UInt64 = 0
    /// Base pages of private anonymous memory mapped by more than one process (shared by fork).
    public var sharedAnonPages: UInt64 = 0
    /// 2 MiB blocks of single-owner memory each live process holds (its chunk list), in
    /// creation order; only processes that have some.
    public var singleOwnerBlocks: [UInt64] = []
    /// The single-owner pool of the workload's `som` mappings (SomPool.swift): chunks, units,
    /// stranded memory, fragmentation. `singleOwnerBlocks` counts each process's units in it.
    public var somPool = SomPoolFigures()
    /// 2 MiB blocks of private anonymous memory mapped once (not `som`) that a pool would serve
    /// if that memory were single-owner memory: ⌈pages / 512⌉ per process.
    public var candidateBlocks: UInt64 = 0
    /// Base pages of the candidates' blocks that no page maps: what they would strand.
    public var candidateStrandedPages: UInt64 = 0
    /// Each live process's TLB figures, in creation order (Schemes/TLB.swift).
    public var processTLB: [ProcessTLB] = []

    public init(machine: MachineSpec) { self.machine = machine }

    /// Base page frames of RAM.
    public func frames(_ profile: Profile) -> UInt64 { machine.ramBytes / profile[.pageBytes] }

    /// Pages of the census's folios of `kind`.
    public func pages(of kind: FolioKind) -> UInt64 {
        folios.filter { $0.kind == kind }.reduce(0) { $0 + $1.pages }
    }
}

extension Simulator {
    /// The census of memory as it is now. Cost: proportional to the extents of the engine's
    /// maps, never to the pages they hold.
    public func census() -> MemoryCensus {
        var prefixes = PrefixCache(groupCount: groups.count)
        return census(prefixes: &prefixes, ownedAnonPages: nil)
    }

    /// The census, sharing a measure's prefix index of large groups (see `GroupPrefix`), so that
    /// counting each process's single-owner pages costs O(log n) per extent, not O(n).
    /// `ownedAnonPages`, when the measure has counted them, gives each live process's private
    /// anonymous pages mapped by it alone, in process order; `tlbPages`, when the measure has
    /// counted them too, each live process's TLB entries of its mappings of 4 KiB entries only
    /// (`Mapping.tlbEntriesArePages`: their mapped pages), which the census then does not walk.
    func census(prefixes: inout PrefixCache, ownedAnonPages: [UInt64]?, tlbPages: [UInt64]? = nil) -> MemoryCensus {
        var census = MemoryCensus(machine: machine)
        var counts: [FolioKindOrder: UInt64] = [:]
        // Performance: folios are counted by kind and order in arrays over every run, and added
        // to `counts` once at the end (per run, a fresh array and a pass over its 64 orders cost
        // more than counting the run itself, with one run per small mapping). A fleet's runs
        // are counted on every core, as the measure sums its processes: counts add up the same
        // in any order.
        let threads = ownedAnonPages != nil && groups.count >= 256 ? measureThreads : 1
        let splitThreads = threads == 1 && ownedAnonPages != nil ? measureThreads : 1
        // The own runs the measure's walk counted (`PrefixCache.ownRunFolios`): their present
        // pages, all 4 KiB folios; `.max` for the runs counted here.
        // (A constant: a variable captured by the threads' closure is checked on every access.)
        let counted: [UInt64] = prefixes.ownRunFolios.isEmpty ? [] : {
            var counted: [UInt64] = []
            counted.reserveCapacity(groups.count)
            for _ in 0..<groups.count { counted.append(.max) }
            for (run, pages) in prefixes.ownRunFolios { counted[Int(run.index)] = pages }
            return counted
        }()
        // (The groups lent in place: each is read, not copied.)
        let parts = groups.lend { lent in
            Parallel.map(count: groups.count, threads: threads) { slice in
                var part = GroupFolioCounts()
                func count(_ group: inout FrameGroup, _ g: Int) {
                    switch (group.kind, group.huge) {
                    case (_, .some):
                        break  // HugeTLB pages are counted from the pool below.
                    case (.anonymousRun, nil):
                        if !counted.isEmpty && counted[g] != .max {
                            if group.singleOwner { part.som[0] += counted[g] } else { part.anon[0] += counted[g] }
                        } else if splitThreads > 1 && group.pages.chunkCount >= splitMappingChunks {
                            // A few huge runs (a random touch of millions of pages): each in parts.
                            if group.singleOwner {
                                Self.countAnonymousFolios(group, threads: splitThreads, byOrder: &part.som)
                            } else {
                                Self.countAnonymousFolios(group, threads: splitThreads, byOrder: &part.anon)
                            }
                        } else if group.singleOwner {
                            Self.countAnonymousFolios(group, byOrder: &part.som)
                        } else {
                            Self.countAnonymousFolios(group, byOrder: &part.anon)
                        }
                    case (.pageCache(let named), nil):
                        var present: UInt64 = 0
                        group.pages.forEach(in: 0..<group.pages.length) { range, page in
                            if page.present { present += UInt64(range.count) }
                        }
                        if named == nil { part.shmem += present } else { part.file += present }
                    }
                }
                for g in slice { count(&lent![g], g) }
                return part
            }
        }
        for part in parts {
            for (kind, byOrder) in [(FolioKind.anon, part.anon), (.som, part.som)] {
                for (order, count) in byOrder.enumerated() where count > 0 {
                    counts[FolioKindOrder(kind: kind, order: order), default: 0] += count
                }
            }
            if part.shmem > 0 { counts[FolioKindOrder(kind: .shmem, order: 0), default: 0] += part.shmem }
            if part.file > 0 { counts[FolioKindOrder(kind: .file, order: 0), default: 0] += part.file }
        }
        for huge in HugePageSize.allCases {
            let total = pools[huge].total
            census.hugetlbPoolPages[huge] = total
            let order = huge == .size2M ? 9 : 18
            if total > 0 { counts[FolioKindOrder(kind: .hugetlb, order: order), default: 0] += total }
        }
        census.folios = counts.filter { $0.value > 0 }
            .map { FolioCount(kind: $0.key.kind, order: $0.key.order, count: $0.value) }
            .sorted { ($0.kind, $0.order) < ($1.kind, $1.order) }

        census.somPool = somPoolFigures()
        // Performance: a fleet's processes are counted on every core (as the measure sums them),
        // each slice into a part of its own (sums, and the blocks of its processes in order),
        // the parts added up below in process order: the census is the same for any number of
        // threads. A census without the measure's single-owner counts (`census()` alone)
        // queries groups through `prefixes`, and stays on one thread. Each process's TLB row is
        // written in place into the census's array (issue 12: a fleet's rows were held in the
        // slices, at the peak of the run's memory, while the census copied their TLB rows out).
        let live = processes.ids.filter { processes[$0].alive }
        let parallel = ownedAnonPages != nil && live.count >= 256 && measureThreads > 1
        // A few processes: a huge mapping's entries are counted in parts on every core.
        let rowSplitThreads = ownedAnonPages != nil && !parallel ? measureThreads : 1
        var processParts: [MemoryCensus] = []
        census.processTLB = [ProcessTLB](unsafeUninitializedCapacity: live.count) { tlbs, initialized in
            // (nil when no process lives: then no slice writes.)
            let out = tlbs.baseAddress
            func count(_ slice: Range<Int>, prefixes: inout PrefixCache) -> MemoryCensus {
                var part = MemoryCensus(machine: machine)
                // (The processes lent in place: each is read, not copied.)
                processes.lend { lent in
                    for k in slice {
                        let row = censusRow(&lent![live[k].index], owned: ownedAnonPages?[k], tlbPages: tlbPages?[k], prefixes: &prefixes, splitThreads: rowSplitThreads)
                        part.add(row, somUnits: UInt64(somPool.holders[live[k]]?.unitCount ?? 0))
                        (out! + k).initialize(to: row.tlb)
                    }
                }
                return part
            }
            if parallel {
                processParts = Parallel.map(count: live.count, threads: measureThreads) { slice in
                    var unused = PrefixCache(groupCount: 0)
                    return count(slice, prefixes: &unused)
                }
            } else {
                processParts = [count(0..<live.count, prefixes: &prefixes)]
            }
            initialized = live.count
        }
        for part in processParts { census.addProcesses(of: part) }
        for tlb in census.processTLB { for level in 0..<3 { census.tlbEntries[level] += tlb.counts[level] } }
        census.sharedAnonPages = anonPages - min(anonPages, census.singleOwnerPages + census.pages(of: .som))
        return census
    }
}

extension MemoryCensus {
    /// Counts one live process's row in (`somUnits`: the 2 MiB units it holds of the pool), but
    /// for its TLB row, which the census writes in place.
    fileprivate mutating func add(_ row: ProcessCensusRow, somUnits: UInt64) {
        processes += 1
        for level in 0..<3 { pageTables[level] += row.tables[level] }
        vmas += row.vmas
        anonVMAs += row.anonVMAs
        let owned = row.owned
        singleOwnerPages += owned
        let candidates = (owned + blockPages - 1) / blockPages
        candidateBlocks += candidates
        candidateStrandedPages += candidates * blockPages - owned
        let blocks = candidates + somUnits
        if blocks > 0 { singleOwnerBlocks.append(blocks) }
    }

    /// Adds what `part` counted of a slice of the live processes (`add`), the slices in
    /// process order.
    fileprivate mutating func addProcesses(of part: MemoryCensus) {
        processes += part.processes
        for level in 0..<3 { pageTables[level] += part.pageTables[level] }
        vmas += part.vmas
        anonVMAs += part.anonVMAs
        singleOwnerPages += part.singleOwnerPages
        candidateBlocks += part.candidateBlocks
        candidateStrandedPages += part.candidateStrandedPages
        singleOwnerBlocks += part.singleOwnerBlocks
    }
}

extension Simulator {

    /// What the census counts of one live process: its tables, VMAs, TLB entries, and its
    /// private anonymous pages mapped by it alone (`owned` when the measure has counted them;
    /// else queried here through `prefixes`). `tlbPages`, when the measure has counted them, are
    /// the TLB entries of its mappings of 4 KiB entries only, which are then not walked here.
    /// The process is lent (`SimProcesses.lend`): only read.
    private func censusRow(_ process: inout SimProcess, owned ownedByMeasure: UInt64?, tlbPages: UInt64?, prefixes: inout PrefixCache, splitThreads: Int = 1) -> ProcessCensusRow {
        var row = ProcessCensusRow(tables: process.pageTables.tableCountsByLevel, tlb: ProcessTLB(name: process.name))
        let measured = tlbPages != nil
        row.tlb.counts[0] = tlbPages ?? 0
        if let ownedByMeasure, splitThreads > 1 && process.mappings.count >= splitMappingCount {
            // Performance: a process of very many mappings counted in parts, one per core (as
            // the measure sums it); counts add up the same for any cut.
            for part in Self.mappingParts(process.mappings, threads: splitThreads, { mappings in
                var part = ProcessCensusRow(tables: .zero, tlb: ProcessTLB(name: ""))
                mappings.visit { mapping in countVMA(mapping, into: &part, threads: 1, measured: measured) }
                return part
            }) {
                row.vmas += part.vmas
                row.anonVMAs += part.anonVMAs
                row.tlb.counts &+= part.tlb.counts
            }
            row.owned = ownedByMeasure
            return row
        }
        var owned: UInt64 = 0
        // (Each mapping lent in place, not copied out: `visit`.)
        process.mappings.values.visit { mapping in
            countVMA(mapping, into: &row, threads: splitThreads, measured: measured)
            // The single-owner pages, when the measure has not counted them (`som` pages are
            // not candidates: the pool holds them already).
            guard ownedByMeasure == nil, mapping.huge == nil, !mapping.isSingleOwner else { return }
            mapping.pages.forEach(in: 0..<mapping.pageCount) { range, state in
                guard case .anon(let run, _) = state else { return }
                // Pages mapped once are the private ones (anonymous pages are always dirty).
                let sums = groupSums(run, range, prefixes: &prefixes)
                owned += sums.privateClean + sums.privateDirty
            }
        }
        row.owned = ownedByMeasure ?? owned
        return row
    }

    /// Counts `mapping` into a census row: a VMA, an anon_vma if it has one, its TLB entries
    /// (but for a mapping of 4 KiB entries only when `measured`: the measure counted those).
    private func countVMA(_ mapping: Mapping, into row: inout ProcessCensusRow, threads: Int, measured: Bool) {
        row.vmas += 1
        if !(measured && mapping.tlbEntriesArePages) { countEntries(mapping, into: &row.tlb.counts, threads: threads) }
        var anon = false
        mapping.vma.forEach(in: 0..<mapping.pageCount) { _, flags in if flags.anonVMA { anon = true } }
        if anon { row.anonVMAs += 1 }
    }

    /// TLB entries that map `mapping`'s present pages: one per HugeTLB page, one per PMD-mapped
    /// 2 MiB block, one per other 4 KiB page.
    private func countEntries(_ mapping: Mapping, into entries: inout SIMD3<UInt64>, threads: Int) {
        var mapped: UInt64 = 0
        var pmd: UInt64 = 0
        let chunks = mapping.pages.chunkCount
        if threads > 1 && chunks >= splitMappingChunks {
            // A huge mapping (a random touch of millions of pages) counted in parts, one per core.
            for part in Parallel.map(count: chunks, threads: threads, { mappedPages(mapping, chunks: $0) }) {
                mapped += part.mapped
                pmd += part.pmd
            }
        } else {
            (mapped, pmd) = mappedPages(mapping, chunks: 0..<chunks)
        }
        // 1 GiB som pages are PMD-marked too (`setPMDMapped`): their frames have the 1 GiB order.
        var pud: UInt64 = 0
        if mapping.isSingleOwner && mapping.options.somPage == .size1G {
            mapping.pages.forEach(in: 0..<mapping.pageCount) { range, state in
                guard case .anon(let run, _) = state else { return }
                groups[run].pages.forEach(in: range) { pages, page in
                    if Int(page.order) == SomPool.giantOrder && page.present { pud += UInt64(pages.count) }
                }
            }
        }
        switch mapping.huge {
        case .size2M: entries[1] += mapped
        case .size1G: entries[2] += mapped
        case nil:
            entries[0] += mapped - pmd
            entries[1] += (pmd - pud) / blockPages
            entries[2] += pud / gigaPages
        }
    }

    /// The pages of `mapping` that are mapped, and those of them mapped by a PMD, in the extents
    /// of chunks `chunks` of its pages.
    private func mappedPages(_ mapping: Mapping, chunks: Range<Int>) -> (mapped: UInt64, pmd: UInt64) {
        var mapped: UInt64 = 0
        var pmd: UInt64 = 0
        // Performance: the map's extents read chunk by chunk (`forEachExtent`), without a lookup
        // per extent: a randomly touched mapping has millions.
        let pmdMapped = mapping.huge == nil ? mapping.pmdMapped : nil
        mapping.pages.forEachExtent(inChunks: chunks) { start, end, state in
            guard start < mapping.pageCount else { return }
            if case .none = state { return }
            let range = start..<min(end, mapping.pageCount)
            mapped += UInt64(range.count)
            if let pmdMapped {
                pmdMapped.forEach(in: range) { pages, huge in if huge { pmd += UInt64(pages.count) } }
            }
        }
        return (mapped, pmd)
    }

    /// Counts the folios of an anonymous run: runs of present pages of one order, in whole
    /// aligned folios; pages of a large folio left over after part of it was freed count as
    /// small folios (the deferred split, see `writeLargeFolio`).
    /// Counted by order in `byOrder` (64 orders), which the census merges into its totals once:
    /// a dictionary update per extent would dominate the census of many small runs.
    private static func countAnonymousFolios(_ group: FrameGroup, byOrder: inout [UInt64]) {
        var run: (start: UInt64, end: UInt64, order: UInt8)? = nil
        // (The state goes in and out as arguments: a local function over captured variables,
        // called from the walk's closure, would box them and check every access at run time.)
        let base = group.firstVirtualPage
        func flush(_ run: inout (start: UInt64, end: UInt64, order: UInt8)?, _ byOrder: inout [UInt64]) {
            guard let r = run else { return }
            countFolioRun(r, base: base, into: &byOrder)
            run = nil
        }
        // Performance: read chunk by chunk (`forEachExtent`): a randomly touched run has millions
        // of extents. Present 4 KiB pages are a folio each wherever they lie, so they are only
        // counted (`small`), not joined into runs: a fleet's worker runs are single pages.
        var small: UInt64 = 0
        group.pages.forEachExtent { start, end, page in
            guard page.present else {
                flush(&run, &byOrder)
                return
            }
            if page.order == 0 {
                flush(&run, &byOrder)
                small += end - start
                return
            }
            if let r = run, r.end == start, r.order == page.order {
                run!.end = end
            } else {
                flush(&run, &byOrder)
                run = (start, end, page.order)
            }
        }
        flush(&run, &byOrder)
        byOrder[0] += small
    }
}

extension Simulator {
    /// The folios of one run of present pages of one order (`countAnonymousFolios`): whole
    /// aligned folios of that order, the pages left over as small folios.
    fileprivate static func countFolioRun(_ r: FolioRun, base: UInt64, into byOrder: inout [UInt64]) {
        let pages = r.end - r.start
        var whole: UInt64 = 0
        if r.order > 0 {
            let span: UInt64 = 1 << UInt64(r.order)
            let first = (base + r.start + span - 1) / span * span - base
            if first + span <= r.end { whole = (r.end - first) / span }
            byOrder[Int(r.order)] += whole
        }
        byOrder[0] += pages - whole << UInt64(r.order)
    }

    /// `countAnonymousFolios` of a run of millions of extents, its chunks cut into `threads`
    /// parts counted on as many threads. A part counts the runs of pages wholly inside it and
    /// hands back its first and last runs, which may go on in the parts beside it; they are
    /// joined here, so the runs counted are those of the one-thread walk.
    fileprivate static func countAnonymousFolios(_ group: FrameGroup, threads: Int, byOrder: inout [UInt64]) {
        let base = group.firstVirtualPage
        let parts = Parallel.map(count: group.pages.chunkCount, threads: threads) { folioRunPart(group, chunks: $0) }
        var carry: FolioRun? = nil
        for part in parts {
            if part.tailIsHead, let r = part.tail {
                // The whole part is one run: it continues the carried run, or starts a new one.
                if let c = carry, c.end == r.start, c.order == r.order {
                    carry = (c.start, r.end, c.order)
                } else {
                    if let c = carry { countFolioRun(c, base: base, into: &byOrder) }
                    carry = r
                }
                continue
            }
            if let h = part.head {
                if let c = carry, c.end == h.start, c.order == h.order {
                    countFolioRun((c.start, h.end, c.order), base: base, into: &byOrder)
                } else {
                    if let c = carry { countFolioRun(c, base: base, into: &byOrder) }
                    countFolioRun(h, base: base, into: &byOrder)
                }
            } else if let c = carry {
                countFolioRun(c, base: base, into: &byOrder)
            }
            for order in 0..<64 { byOrder[order] += part.byOrder[order] }
            carry = part.tail
        }
        if let c = carry { countFolioRun(c, base: base, into: &byOrder) }
    }

    /// One part of `countAnonymousFolios(_:threads:byOrder:)`: the extents of chunks `chunks`.
    private static func folioRunPart(_ group: FrameGroup, chunks: Range<Int>) -> FolioRunPart {
        var part = FolioRunPart()
        let base = group.firstVirtualPage
        var run: FolioRun? = nil
        var first = true
        // Whether `run` began at the part's first extent (then it is the part's head, not counted).
        var headOpen = false
        group.pages.forEachExtent(inChunks: chunks) { start, end, page in
            if first {
                first = false
                headOpen = page.present
            }
            if page.present, let r = run, r.end == start, r.order == page.order {
                run = (r.start, end, r.order)
                return
            }
            if let r = run {
                if headOpen {
                    part.head = r
                    headOpen = false
                } else {
                    countFolioRun(r, base: base, into: &part.byOrder)
                }
                run = nil
            }
            if page.present { run = (start, end, page.order) }
        }
        part.tail = run
        part.tailIsHead = headOpen && run != nil
        return part
    }
}

/// A run of present pages of one order in a frame group: pages `start..<end`, log2 of its folios' pages.
private typealias FolioRun = (start: UInt64, end: UInt64, order: UInt8)

/// What one part of a run's folio count hands back (`folioRunPart`).
private struct FolioRunPart {
    /// The folios of the runs wholly inside the part.
    var byOrder = [UInt64](repeating: 0, count: 64)
    /// The run that began at the part's first extent and ended inside the part.
    var head: FolioRun? = nil
    /// The run open at the part's end.
    var tail: FolioRun? = nil
    /// The tail began at the part's first extent: the whole part is one run.
    var tailIsHead = false
}

/// What the census counts of a slice of the frame groups: folios of anonymous runs by order
/// (plain and single-owner), present page-cache pages (shmem and named files).
private struct GroupFolioCounts {
    var anon = [UInt64](repeating: 0, count: 64)
    var som = [UInt64](repeating: 0, count: 64)
    var shmem: UInt64 = 0
    var file: UInt64 = 0
}

/// One live process's part of the census (`Simulator.censusRow`).
private struct ProcessCensusRow {
    /// Page tables at the PTE, PMD and PUD levels (an array was an allocation a process).
    var tables: SIMD3<UInt64>
    var vmas: UInt64 = 0
    var anonVMAs: UInt64 = 0
    var tlb: ProcessTLB
    var owned: UInt64 = 0
}

private struct FolioKindOrder: Hashable {
    var kind: FolioKind
    var order: Int
}

extension Mapping {
    /// Whether each page the mapping maps takes one 4 KiB TLB entry: no HugeTLB pages, no
    /// PMD-mapped blocks (THP or som), no 1 GiB som pages. `countEntries` then counts its mapped
    /// pages at the PTE level and nothing else, which the measure's walk counts too
    /// (`mappingSums`'s `mapped`), so that the census need not walk it again.
    var tlbEntriesArePages: Bool {
        huge == nil && pmdMapped == nil && !(isSingleOwner && options.somPage == .size1G)
    }
}

extension Simulator {
    /// The machine's choices for the schemes (`som-source=`, `som-pool=`).
    public var schemeOptions: Schemes.Options {
        Schemes.Options(somSource: machine.somSource, somPoolBytes: machine.somPoolBytes == 0 ? nil : machine.somPoolBytes)
    }
}

/// Base pages in one 2 MiB block: a PMD-mapped THP, a single-owner block.
private let blockPages = PageGeometry.pmdBytes / PageGeometry.pageBytes
/// Base pages in one 1 GiB page.
private let gigaPages = PageGeometry.pudBytes / PageGeometry.pageBytes
