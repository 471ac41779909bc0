import SomsimWorkload

/// The scheme models: each a pure function of a census, the machine's options and a profile.
///
/// Sources of each formula are in docs/schemes.md and on the constants (`somsim profile`).
public enum Schemes {
    /// Options the schemes read from the machine beyond the census.
    public struct Options: Equatable, Sendable {
        /// Where the single-owner pool takes its memory from.
        public var somSource: SomSource = .hugetlb1G
        /// A pool size the machine fixes (`som-pool=`); nil sizes it to the single-owner memory.
        public var somPoolBytes: UInt64? = nil
        public init(somSource: SomSource = .hugetlb1G, somPoolBytes: UInt64? = nil) {
            self.somSource = somSource
            self.somPoolBytes = somPoolBytes
        }
    }

    /// Every scheme, `struct-page` first.
    public static func evaluateAll(_ census: MemoryCensus, _ profile: Profile, _ options: Options = Options()) -> [SchemeResult] {
        SchemeName.allCases.map { evaluate($0, census, profile, options) }
    }

    public static func evaluate(_ scheme: SchemeName, _ census: MemoryCensus, _ profile: Profile, _ options: Options = Options()) -> SchemeResult {
        let ram = census.machine.ramBytes
        switch scheme {
        case .structPage:
            return SchemeResult(scheme: scheme, ramBytes: ram, terms: memmapTerms(census, profile))
        case .hvo:
            return hvo(census, profile)
        case .folio:
            return folio(census, profile)
        case .memdesc:
            return memdesc(scheme, census, profile, word: .memdescPageBytes)
        case .memdesc32:
            return memdesc(scheme, census, profile, word: .memdescInterimPageBytes)
        case .som:
            return som(census, profile, options)
        case .somMemdesc:
            return somMemdesc(census, profile, options)
        }
    }

    // MARK: - struct page

    /// The memmap: a struct page per frame, and page_ext when a client enables it.
    static func memmapTerms(_ census: MemoryCensus, _ profile: Profile, excludingFrames excluded: UInt64 = 0, label: String = "") -> [SchemeTerm] {
        let frames = census.frames(profile) - excluded
        let framesFormula = excluded == 0 ? "frames" : "(frames − pool_frames)"
        let framesValue = excluded == 0 ? "\(frames)" : "(\(census.frames(profile)) − \(excluded))"
        return [
            SchemeTerm(
                "memmap\(label)", "\(framesFormula) × struct_page_bytes", "\(framesValue) × \(profile[.structPageBytes])",
                [.pageBytes, .structPageBytes], Int64(frames * profile[.structPageBytes])),
            SchemeTerm(
                "page_ext\(label)", "\(framesFormula) × page_ext_bytes", "\(framesValue) × \(profile[.pageExtBytes])",
                [.pageExtBytes], Int64(frames * profile[.pageExtBytes])),
        ]
    }

    // MARK: - HVO

    /// vmemmap pages behind one huge page: its struct pages, in base pages.
    static func vmemmapPages(_ huge: HugePageSize, _ profile: Profile) -> UInt64 {
        KernelConstants.vmemmapPages(perHugePage: huge.bytes, pageBytes: profile[.pageBytes], structPageBytes: profile[.structPageBytes])
    }

    /// HVO frees all but `hvo-kept` of each pool page's vmemmap pages (mm/hugetlb_vmemmap.c:
    /// hugetlb_vmemmap_optimize_folio; Documentation/mm/vmemmap_dedup.rst). The scheme applies it
    /// to every pool page, whether or not the machine's `hvo` knob is on.
    static func hvo(_ census: MemoryCensus, _ profile: Profile) -> SchemeResult {
        var result = SchemeResult(scheme: .hvo, ramBytes: census.machine.ramBytes, terms: memmapTerms(census, profile))
        let kept = census.machine.hvoKeptPages
        for huge in HugePageSize.allCases {
            let pool = census.hugetlbPoolPages[huge] ?? 0
            let perPage = vmemmapPages(huge, profile)
            let freed = perPage - min(kept, perPage)
            let size = huge.token
            result.notes.append(
                "HVO per \(size) page: \(perPage) vmemmap pages, \(freed) freed (\(freed * profile[.pageBytes] / 1024) KiB), \(min(kept, perPage)) kept (hvo-kept=\(kept))")
            guard pool > 0 else { continue }
            result.terms.append(
                SchemeTerm(
                    "vmemmap HVO frees (\(size) pool)", "−pool_\(size.lowercased()) × (\(size) / page_bytes × struct_page_bytes / page_bytes − hvo_kept) × page_bytes",
                    "−\(pool) × (\(perPage) − \(min(kept, perPage))) × \(profile[.pageBytes])", [.pageBytes, .structPageBytes],
                    -Int64(pool * freed * profile[.pageBytes])))
        }
        return result
    }

    // MARK: - Folios

    /// Folios do not change the memmap; they change how many descriptors describe memory, the
    /// level that maps it, and TLB reach.
    static func folio(_ census: MemoryCensus, _ profile: Profile) -> SchemeResult {
        var result = SchemeResult(scheme: .folio, ramBytes: census.machine.ramBytes, terms: memmapTerms(census, profile))
        let spb = profile[.structPageBytes]
        result.allocations = census.folios.map {
            AllocationCost(
                kind: $0.kind, order: $0.order, count: $0.count, memoryBytes: $0.pages * profile[.pageBytes],
                bytesEach: (1 << UInt64($0.order)) * spb, structPageBytesEach: (1 << UInt64($0.order)) * spb)
        }
        let folios = census.folios.reduce(0) { $0 + $1.count }
        let pages = census.folios.reduce(0) { $0 + $1.pages }
        let large = census.folios.filter { $0.order > 0 }
        result.notes.append("\(folios) folios describe \(pages) pages: \(folios) descriptors where order-0 pages would need \(pages)")
        let headBytes = large.reduce(0) { $0 + $1.count } * profile[.folioStructPages] * spb
        result.notes.append(
            "large folios: \(large.reduce(0) { $0 + $1.count }), each described by its first folio_struct_pages (\(profile[.folioStructPages])) struct pages: \(headBytes) B of the memmap serve as folio descriptors; anonymous THP/mTHP have no vmemmap optimization")
        let e = census.tlbEntries
        // Summed over every process, the reach can pass 2^64 bytes (a million processes mapping
        // the same 32 TiB): it is added up exactly in 128 bits.
        let reach = WideSum.of([(e[0], profile[.pageBytes]), (e[1], PageGeometry.pmdBytes), (e[2], PageGeometry.pudBytes)])
        result.notes.append(
            "TLB entries to map every process's present workload pages once: \(e[0]) × 4 KiB + \(e[1]) × 2 MiB + \(e[2]) × 1 GiB = \(WideSum.of([(e[0], 1), (e[1], 1), (e[2], 1)])) entries for \(reach) B")
        result.notes.append(
            "page tables: 2 MiB HugeTLB pages need no PTE table and 1 GiB pages no PMD table; a PMD-mapped THP still has one (the kernel deposits a PTE table with each huge PMD)")
        return result
    }

    // MARK: - Memdescs

    static func descriptorKey(_ kind: FolioKind) -> ProfileKey {
        switch kind {
        case .anon, .som: return .memdescAnonFolioBytes
        case .file, .shmem: return .memdescFileFolioBytes
        case .hugetlb: return .memdescHugetlbFolioBytes
        }
    }

    static func roundUp(_ bytes: UInt64, _ step: UInt64) -> UInt64 {
        step == 0 ? bytes : (bytes + step - 1) / step * step
    }

    /// Memdescs: each page keeps one word (`memdesc_page_bytes`, or the interim 32-byte struct
    /// page) and each allocation a descriptor of its type, rounded up to `memdesc_align_bytes`
    /// (kernelnewbies MatthewWilcox/Memdescs). Memory the census does not hold — free, or the
    /// kernel's own — costs the word only.
    static func memdesc(_ scheme: SchemeName, _ census: MemoryCensus, _ profile: Profile, word: ProfileKey) -> SchemeResult {
        let frames = census.frames(profile)
        let align = profile[.memdescAlignBytes]
        var result = SchemeResult(
            scheme: scheme, ramBytes: census.machine.ramBytes,
            terms: [
                SchemeTerm(
                    "per-page words", "frames × \(word.rawValue)", "\(frames) × \(profile[word])", [.pageBytes, word],
                    Int64(frames * profile[word]))
            ])
        for folio in census.folios {
            let key = descriptorKey(folio.kind)
            let descriptor = roundUp(profile[key], align)
            result.terms.append(
                SchemeTerm(
                    "descriptors: \(folio.kind.rawValue) folio, order \(folio.order)", "count × ⌈\(key.rawValue) / memdesc_align_bytes⌉ × memdesc_align_bytes",
                    "\(folio.count) × \(descriptor)", [key, .memdescAlignBytes], Int64(folio.count * descriptor)))
            result.allocations.append(
                AllocationCost(
                    kind: folio.kind, order: folio.order, count: folio.count, memoryBytes: folio.pages * profile[.pageBytes],
                    bytesEach: (1 << UInt64(folio.order)) * profile[word] + descriptor,
                    structPageBytesEach: (1 << UInt64(folio.order)) * profile[.structPageBytes]))
        }
        let tables = census.pageTables.reduce(0, +) + census.processes * pgdPages(census, profile)
        let ptdesc = roundUp(profile[.memdescPtdescBytes], align)
        result.terms.append(
            SchemeTerm(
                "descriptors: page tables", "(PTE + PMD + PUD tables + processes × PGD pages) × ⌈memdesc_ptdesc_bytes⌉",
                "\(tables) × \(ptdesc)", [.memdescPtdescBytes, .memdescAlignBytes], Int64(tables * ptdesc)))
        let described = census.folios.reduce(0) { $0 + $1.pages } + tables
        result.notes.append(
            "\(frames - min(frames, described)) frames the workload does not use (free, or the kernel's own) cost the per-page word only")
        return result
    }

    static func pgdPages(_ census: MemoryCensus, _ profile: Profile) -> UInt64 {
        (census.machine.pti ? profile[.pgdBytesPTI] : profile[.pgdBytes]) / profile[.pageBytes]
    }

    // MARK: - Single-owner pool

    /// The pool a som scheme costs: the chunks of the workload's `som` mappings (the engine's
    /// pool), with the candidates — private anonymous memory mapped by one process — added in
    /// their 2 MiB units, into free units first, then new chunks (a growing pool) or not at all
    /// (a fixed pool: what does not fit stays in the memmap).
    public struct PoolLayout: Equatable, Sendable {
        public var chunks: UInt64
        public var unitsPerChunk: UInt64
        public var usedUnits: UInt64
        public var candidateUnits: UInt64
        public var strandedBytes: UInt64
        public var fragmentedUnits: UInt64
        /// Pool bytes, at most the RAM HugeTLB pools leave.
        public var bytes: UInt64
        public var freeUnits: UInt64 { chunks * unitsPerChunk - min(chunks * unitsPerChunk, usedUnits) }
    }

    public static func poolLayout(_ census: MemoryCensus, _ profile: Profile, _ options: Options) -> PoolLayout {
        let page = profile[.pageBytes]
        let chunk = profile[.somChunkBytes]
        let perChunk = chunk / profile[.somBlockBytes]
        let engine = census.somPool
        let room = engine.freeUnits
        var candidates = census.candidateBlocks
        var chunks = engine.chunks
        if options.somPoolBytes == nil {
            let extra = candidates - min(candidates, room)
            chunks += (extra + perChunk - 1) / perChunk
        } else {
            candidates = min(candidates, room)
        }
        let used = engine.usedUnits + candidates
        // Candidates fill the free units of partly used chunks first.
        let fragmented = engine.fragmentedUnits - min(engine.fragmentedUnits, candidates)
        let stranded = engine.strandedBytes + (candidates == census.candidateBlocks ? census.candidateStrandedPages * page : 0)
        let hugetlb = census.hugetlbPoolPages.reduce(0) { $0 + $1.value * $1.key.bytes }
        let ram = census.machine.ramBytes / page * page
        let bytes = min(chunks * chunk, ram - min(ram, hugetlb))
        return PoolLayout(
            chunks: chunks, unitsPerChunk: perChunk, usedUnits: used, candidateUnits: candidates, strandedBytes: stranded,
            fragmentedUnits: fragmented, bytes: bytes)
    }

    /// The pool's own metadata: what its source keeps of the vmemmap for `pool` bytes.
    static func poolSourceTerm(_ census: MemoryCensus, _ profile: Profile, _ source: SomSource, pool: UInt64) -> SchemeTerm {
        let page = profile[.pageBytes]
        let kept = census.machine.hvoKeptPages
        // A pool that RAM cuts short of a whole source page still has that page's kept vmemmap.
        let pages2M = (pool + HugePageSize.size2M.bytes - 1) / HugePageSize.size2M.bytes
        let pages1G = (pool + HugePageSize.size1G.bytes - 1) / HugePageSize.size1G.bytes
        switch source {
        case .hugetlb2M:
            let perPage = min(kept, vmemmapPages(.size2M, profile))
            return SchemeTerm(
                "pool vmemmap (hugetlb-2m, HVO)", "⌈pool_bytes / 2 MiB⌉ × hvo_kept × page_bytes", "\(pages2M) × \(perPage) × \(page)",
                [.pageBytes], Int64(pages2M * perPage * page))
        case .hugetlb1G, .hugetlbHVO:
            let perPage = min(kept, vmemmapPages(.size1G, profile))
            return SchemeTerm(
                "pool vmemmap (\(source.rawValue): 1 GiB HugeTLB, HVO)", "⌈pool_bytes / 1 GiB⌉ × hvo_kept × page_bytes",
                "\(pages1G) × \(perPage) × \(page)", [.pageBytes], Int64(pages1G * perPage * page))
        case .hugetlb:
            return SchemeTerm(
                "pool vmemmap (hugetlb: 1 GiB HugeTLB, no HVO)", "pool_bytes / page_bytes × struct_page_bytes",
                "\(pool / page) × \(profile[.structPageBytes])", [.pageBytes, .structPageBytes], Int64(pool / page * profile[.structPageBytes]))
        case .devdax:
            let perPage = profile[.devdaxVmemmapKeptPages]
            return SchemeTerm(
                "pool vmemmap (devdax)", "⌈pool_bytes / 2 MiB⌉ × devdax_vmemmap_kept_pages × page_bytes",
                "\(pages2M) × \(perPage) × \(page)", [.devdaxVmemmapKeptPages, .pageBytes], Int64(pages2M * perPage * page))
        case .external:
            return SchemeTerm("pool vmemmap (external)", "0: memory outside System RAM has no struct pages", "0", [], 0)
        }
    }

    /// The pool's bookkeeping: a bitmap per chunk, a unit list per process.
    static func poolBookkeeping(_ census: MemoryCensus, _ profile: Profile, _ layout: PoolLayout) -> [SchemeTerm] {
        let bitmap = layout.unitsPerChunk / 8
        let units = census.singleOwnerBlocks.reduce(0, +) - (census.candidateBlocks - layout.candidateUnits)
        let owners = UInt64(census.singleOwnerBlocks.count)
        return [
            SchemeTerm(
                "chunk bitmaps", "⌈pool_bytes / som_chunk_bytes⌉ × (som_chunk_bytes / som_block_bytes / 8)", "\(layout.chunks) × \(bitmap)",
                [.somChunkBytes, .somBlockBytes], Int64(layout.chunks * bitmap)),
            SchemeTerm(
                "per-process block lists", "blocks × som_block_entry_bytes + processes × som_process_bytes",
                "\(units) × \(profile[.somBlockEntryBytes]) + \(owners) × \(profile[.somProcessBytes])", [.somBlockEntryBytes, .somProcessBytes],
                Int64(units * profile[.somBlockEntryBytes] + owners * profile[.somProcessBytes])),
        ]
    }

    /// HVO on the HugeTLB pools, as the hvo scheme applies it: a som kernel is today's kernel
    /// with HVO (its pool is built on it), so HugeTLB memory outside the pool counts the same.
    static func hvoTerms(_ census: MemoryCensus, _ profile: Profile) -> [SchemeTerm] {
        hvo(census, profile).terms.filter { $0.bytes < 0 }
    }

    static func poolNotes(_ census: MemoryCensus, _ layout: PoolLayout, _ options: Options) -> [String] {
        var notes = [
            "pool: \(layout.chunks) chunks (\(layout.bytes) B) from \(options.somSource.rawValue), "
                + (options.somPoolBytes.map { "fixed (som-pool=\($0))" } ?? "growing (som-pool=grow)")
                + "; units used \(layout.usedUnits) (\(census.somPool.usedUnits) of som mappings, \(layout.candidateUnits) of candidates), free \(layout.freeUnits)",
            "stranded: \(layout.strandedBytes) B held in units that no page maps; fragmentation: \(layout.fragmentedUnits) free units in partly used chunks",
        ]
        let anon = census.singleOwnerPages + census.sharedAnonPages
        if anon > 0 {
            notes.append(
                "single-owner: \(census.singleOwnerPages) of \(anon) private anonymous pages are mapped by one process (\(percent(census.singleOwnerPages, anon))); they are costed in the pool")
        }
        notes.append("never shared: a forked child does not inherit som memory; page tables are the engine's (common rows)")
        notes.append(
            "sources: memmap and page_ext — include/linux/mm_types.h, mm/page_ext.c; HVO of HugeTLB pools and the HugeTLB/devdax pool vmemmap — mm/hugetlb_vmemmap.c, Documentation/mm/vmemmap_dedup.rst; chunks of 2 MiB units with bitmaps, per-process lists, external memory without struct pages — Single Owner Memory (linux-mm, Feb 2023; LSF/MM/BPF 2023); entry and per-process sizes — estimates (docs/profile.md)")
        return notes
    }

    /// The single-owner pool: the single-owner memory leaves the memmap for a pool of
    /// `som_chunk_bytes` chunks from `source`, managed in `som_block_bytes` units with a bitmap
    /// per chunk, and a list of units per process (Single Owner Memory, LSF/MM/BPF 2023). HugeTLB
    /// memory outside the pool keeps HVO, as under the hvo scheme.
    static func som(_ census: MemoryCensus, _ profile: Profile, _ options: Options) -> SchemeResult {
        let layout = poolLayout(census, profile, options)
        let poolFrames = layout.bytes / profile[.pageBytes]
        var result = SchemeResult(
            scheme: .som, ramBytes: census.machine.ramBytes, terms: memmapTerms(census, profile, excludingFrames: poolFrames, label: " outside the pool"))
        result.terms += hvoTerms(census, profile)
        result.terms.append(poolSourceTerm(census, profile, options.somSource, pool: layout.bytes))
        result.terms += poolBookkeeping(census, profile, layout)
        result.notes = poolNotes(census, layout, options)
        return result
    }

    /// Memdescs outside the pool, the pool inside: per-page words and descriptors for memory the
    /// pool does not hold, the pool's source metadata, bitmaps and lists for what it holds. `som`
    /// folios have no descriptor; candidates' anonymous folio descriptors go in proportion of the
    /// single-owner pages to all private anonymous pages (the census does not split folios by
    /// owner count).
    static func somMemdesc(_ census: MemoryCensus, _ profile: Profile, _ options: Options) -> SchemeResult {
        let layout = poolLayout(census, profile, options)
        let poolFrames = layout.bytes / profile[.pageBytes]
        var base = memdesc(.memdesc, census, profile, word: .memdescPageBytes)
        let frames = census.frames(profile) - min(census.frames(profile), poolFrames)
        var terms = [
            SchemeTerm(
                "per-page words outside the pool", "(frames − pool_frames) × memdesc_page_bytes",
                "(\(census.frames(profile)) − \(poolFrames)) × \(profile[.memdescPageBytes])", [.pageBytes, .memdescPageBytes],
                Int64(frames * profile[.memdescPageBytes]))
        ]
        let anon = census.singleOwnerPages + census.sharedAnonPages
        for term in base.terms.dropFirst() {
            if term.name.hasPrefix("descriptors: som folio") { continue }
            if term.name.hasPrefix("descriptors: anon folio"), anon > 0, layout.candidateUnits == census.candidateBlocks {
                // bytes × shared / anon, in 128 bits: both factors can pass 2^32 on a large machine.
                let product = UInt64(term.bytes).multipliedFullWidth(by: census.sharedAnonPages)
                let kept = Int64(anon.dividingFullWidth((product.high, product.low)).quotient)
                terms.append(
                    SchemeTerm(
                        term.name + " (not single-owner)", term.formula + " × shared_anon_pages / anon_pages",
                        term.substituted + " × \(census.sharedAnonPages) / \(anon)", term.constants, kept))
                continue
            }
            terms.append(term)
        }
        terms.append(poolSourceTerm(census, profile, options.somSource, pool: layout.bytes))
        terms += poolBookkeeping(census, profile, layout)
        base.terms = terms
        base.scheme = .somMemdesc
        base.allocations = []
        base.notes = poolNotes(census, layout, options)
        return base
    }

    // MARK: - Common rows

    /// Page tables and per-process kernel state: the same under every scheme.
    public static func common(_ census: MemoryCensus, _ profile: Profile) -> CommonCosts {
        let table = profile[.pageTableBytes]
        let names = ["PTE", "PMD", "PUD"]
        var pageTables = (0..<3).map { level in
            SchemeTerm(
                "\(names[level]) tables", "\(names[level].lowercased())_tables × page_table_bytes", "\(census.pageTables[level]) × \(table)",
                [.pageTableBytes], Int64(census.pageTables[level] * table))
        }
        let pgdKey: ProfileKey = census.machine.pti ? .pgdBytesPTI : .pgdBytes
        pageTables.append(
            SchemeTerm(
                "PGDs", "processes × \(pgdKey.rawValue)", "\(census.processes) × \(profile[pgdKey])", [pgdKey],
                Int64(census.processes * profile[pgdKey])))
        let perTask: [ProfileKey] = [.taskStructBytes, .mmStructBytes, .signalStructBytes, .sighandStructBytes, .filesStructBytes, .fsStructBytes, .pidBytes]
        let taskBytes = perTask.reduce(0) { $0 + profile[$1] }
        let kernelState = [
            SchemeTerm(
                "kernel stacks", "processes × kernel_stack_bytes", "\(census.processes) × \(profile[.kernelStackBytes])", [.kernelStackBytes],
                Int64(census.processes * profile[.kernelStackBytes])),
            SchemeTerm(
                "task, mm, signal, sighand, files, fs, pid", "processes × (" + perTask.map(\.rawValue).joined(separator: " + ") + ")",
                "\(census.processes) × \(taskBytes)", perTask, Int64(census.processes * taskBytes)),
            SchemeTerm(
                "VMAs", "vmas × vm_area_struct_bytes", "\(census.vmas) × \(profile[.vmaBytes])", [.vmaBytes],
                Int64(census.vmas * profile[.vmaBytes])),
            SchemeTerm(
                "anon_vma and chain", "anon_vmas × (anon_vma_bytes + anon_vma_chain_bytes)",
                "\(census.anonVMAs) × \(profile[.anonVMABytes] + profile[.anonVMAChainBytes])", [.anonVMABytes, .anonVMAChainBytes],
                Int64(census.anonVMAs * (profile[.anonVMABytes] + profile[.anonVMAChainBytes]))),
        ]
        return CommonCosts(pageTables: pageTables, kernelState: kernelState)
    }

    static func percent(_ part: UInt64, _ whole: UInt64) -> String {
        guard whole > 0 else { return "0%" }
        let tenths = (part * 1000 + whole / 2) / whole
        return "\(tenths / 10).\(tenths % 10)%"
    }
}

/// The cost of a TLB miss under virtualization: a two-dimensional walk of n guest and m host
/// page-table levels takes n·m + n + m memory loads (each of the n guest entries and the final
/// guest-physical address is translated by an m-level host walk).
public enum TLBWalk {
    public struct Row: Equatable, Sendable {
        public var guestPageBytes: UInt64
        public var hostPageBytes: UInt64
        public var guestLevels: UInt64
        public var hostLevels: UInt64
        public var loads: UInt64
    }

    public static func loads(guestLevels n: UInt64, hostLevels m: UInt64) -> UInt64 { n * m + n + m }

    /// Levels walked to reach a page of `pageBytes`: a 2 MiB page ends one level early, 1 GiB two.
    public static func levels(pageBytes: UInt64, tableLevels: UInt64, _ profile: Profile) -> UInt64 {
        var levels = tableLevels
        var span = profile[.pageBytes]
        while span < pageBytes && levels > 1 {
            span <<= profile[.pageTableLevelBits]
            levels -= 1
        }
        return levels
    }

    /// Every pairing of guest and host page size (4 KiB, 2 MiB, 1 GiB) for `guestTableLevels`
    /// guest and `hostTableLevels` host levels (4, or 5 with la57).
    public static func table(guestTableLevels: UInt64, hostTableLevels: UInt64, _ profile: Profile) -> [Row] {
        let sizes: [UInt64] = [profile[.pageBytes], PageGeometry.pmdBytes, PageGeometry.pudBytes]
        return sizes.flatMap { guest in
            sizes.map { host in
                let n = levels(pageBytes: guest, tableLevels: guestTableLevels, profile)
                let m = levels(pageBytes: host, tableLevels: hostTableLevels, profile)
                return Row(guestPageBytes: guest, hostPageBytes: host, guestLevels: n, hostLevels: m, loads: loads(guestLevels: n, hostLevels: m))
            }
        }
    }
}

/// Σ aᵢ × bᵢ of 64-bit values, exact in 128 bits and written in decimal: for figures that add
/// up over every process and can pass 2^64.
enum WideSum {
    static func of(_ terms: [(UInt64, UInt64)]) -> String {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (a, b) in terms {
            let product = a.multipliedFullWidth(by: b)
            let (sum, carry) = low.addingReportingOverflow(product.low)
            low = sum
            high += product.high + (carry ? 1 : 0)
        }
        return decimal(high: high, low: low)
    }

    /// The decimal digits of high × 2^64 + low.
    static func decimal(high: UInt64, low: UInt64) -> String {
        guard high > 0 else { return String(low) }
        // Split into a quotient and a remainder by 10^19 (both fit), twice at most.
        let divisor: UInt64 = 10_000_000_000_000_000_000
        let (quotientHigh, remainderHigh) = high.quotientAndRemainder(dividingBy: divisor)
        let (quotientLow, remainder) = divisor.dividingFullWidth((remainderHigh, low))
        let rest = String(remainder)
        return decimal(high: quotientHigh, low: quotientLow) + String(repeating: "0", count: 19 - rest.count) + rest
    }
}
