// Page tables: tables per level, allocated by faults and fork, freed by munmap and reclaim —
// mm/memory.c (__pte_alloc, copy_page_range, free_pgtables), mm/pt_reclaim.c.

import SomsimWorkload

/// The page tables of one process inside the workload window, as sets of table indices.
///
/// x86-64 with 4-level paging: a PTE table maps 2 MiB, a PMD table 1 GiB, a PUD table 512 GiB.
/// A table is allocated when a fault (or fork's copy) first needs an entry in it and freed when the
/// last VMA in its span is unmapped (mm/memory.c: free_pgtables, free_pgd_range with the
/// neighbouring VMAs as floor and ceiling); zapping pages alone does not free tables.
struct PageTableSet {
    /// Address bits covered by one table at each level: PTE, PMD, PUD (`PageTableLevel`).
    static let spanShifts: [UInt64] = PageTableLevel.allCases.map(\.spanShift)

    /// `levels[l]` is true at index `i` when the table covering `[i << shift, (i+1) << shift)` exists.
    /// Performance: a new set shares `noTables` until its first table (copy on write): a process
    /// costs no page-table maps of its own before it needs them.
    private(set) var levels: [ExtentMap<Bool>] = noTables

    /// The levels of a process without page tables.
    /// (Immutable once made: `nonisolated(unsafe)` only because ExtentMap does not declare Sendable.)
    nonisolated(unsafe) private static let noTables: [ExtentMap<Bool>] = spanShifts.map {
        ExtentMap(length: (WorkloadWindow.highAddress >> $0) + 1, value: false)
    }

    /// Tables at all levels (PTE, PMD and PUD; the PGD is not counted): kept as tables come and
    /// go, so that reading it costs nothing (the OOM check reads it on every allocation).
    private(set) var total: UInt64 = 0
    /// The tables at each level (`total` is their sum), kept the same way.
    private var perLevel = SIMD4<UInt64>()

    /// Sets `indices` at `level` to `present`, keeping `total`.
    private mutating func set(level: Int, _ indices: Range<UInt64>, _ present: Bool) {
        guard !indices.isEmpty else { return }
        var changed: UInt64 = 0
        levels[level].forEach(in: indices) { span, value in if value != present { changed += UInt64(span.count) } }
        guard changed > 0 else { return }
        levels[level].assign(indices, present)
        if present { total += changed } else { total -= changed }
        if present { perLevel[level] += changed } else { perLevel[level] -= changed }
    }

    /// Table indices at `level` whose span meets `addresses`.
    static func indices(_ addresses: Range<UInt64>, level: Int) -> Range<UInt64> {
        let shift = spanShifts[level]
        return (addresses.lowerBound >> shift)..<(((addresses.upperBound - 1) >> shift) + 1)
    }

    /// Allocates the tables a fault in `addresses` needs, down to `lowestLevel` (0 for 4 KiB pages
    /// mapped by PTEs, 1 for 2 MiB pages mapped by PMD entries, 2 for 1 GiB pages in PUD entries).
    mutating func populate(_ addresses: Range<UInt64>, lowestLevel: Int) {
        guard !addresses.isEmpty else { return }
        for level in lowestLevel..<levels.count {
            set(level: level, Self.indices(addresses, level: level), true)
        }
    }

    /// Frees the tables of an unmapped range, keeping any that also span the neighbouring
    /// mappings ending at `floor` or starting at `ceiling`.
    mutating func free(_ addresses: Range<UInt64>, floor: UInt64?, ceiling: UInt64?) {
        guard !addresses.isEmpty else { return }
        for level in levels.indices {
            let shift = Self.spanShifts[level]
            var span = Self.indices(addresses, level: level)
            if let floor, floor > 0, (floor - 1) >> shift == span.lowerBound {
                span = (span.lowerBound + 1)..<max(span.lowerBound + 1, span.upperBound)
            }
            if let ceiling, ceiling >> shift == span.upperBound - 1, span.upperBound > span.lowerBound {
                span = span.lowerBound..<(span.upperBound - 1)
            }
            set(level: level, span, false)
        }
    }

    /// Frees the tables with indices `indices` at `level` (page-table reclaim after MADV_DONTNEED).
    mutating func release(level: Int, _ indices: Range<UInt64>) {
        set(level: level, indices, false)
    }

    /// What fork gives the child for a VMA range it copies: every table of the parent that spans
    /// part of the range (mm/memory.c: copy_page_range allocates a child table wherever the parent's
    /// entry one level up is present).
    mutating func copy(from parent: PageTableSet, for addresses: Range<UInt64>) {
        guard !addresses.isEmpty else { return }
        // Performance: a child without tables copying a range that holds every table the
        // parent has, at every level (a fork of a fleet's master of one mapping), takes the
        // parent's levels whole — shared, copy on write — the same tables the loop below would
        // give it, without a levels array of its own (nor the loop's lists): 10,000 forks
        // allocated 40,000 arrays here, and each worker kept one.
        if total == 0 && parent.total > 0 && copiesEveryTable(of: parent, for: addresses) {
            levels = parent.levels
            total = parent.total
            perLevel = parent.perLevel
            return
        }
        for level in levels.indices {
            var spans: [Range<UInt64>] = []
            var count: UInt64 = 0
            parent.levels[level].forEach(in: Self.indices(addresses, level: level)) { span, present in
                if present {
                    spans.append(span)
                    count += UInt64(span.count)
                }
            }
            // Performance: a child without tables at this level, copying a range that holds
            // every table the parent has there (a process of one mapping, or the first of its
            // VMAs that holds them all), takes the parent's map as it is — shared, copy on write —
            // instead of building its own: fork of a fleet of workers from one master then costs
            // no page-table maps until a worker frees or adds a table. The tables are the same
            // set the loop below would make (`tableCounts` and `total` read only which exist).
            if count > 0 && count == parent.perLevel[level] && perLevel[level] == 0 {
                levels[level] = parent.levels[level]
                total += count
                perLevel[level] = count
                continue
            }
            for span in spans { set(level: level, span, true) }
        }
    }

    /// Whether `addresses` meets every table `parent` has, at every level: at each level with
    /// tables, the parent's first extent (from index 0) holds none below the range's first
    /// index, and its last extent none from the range's end on. Performance: two reads a level,
    /// no search, where counting the tables inside the range walked the level's extents there
    /// (13.6 M of the 87.7 M instructions of 10,000 forks). Where equal neighbours were kept
    /// apart this answers false, never wrongly true, and `copy` takes its general loop, which
    /// gives the same tables.
    private func copiesEveryTable(of parent: PageTableSet, for addresses: Range<UInt64>) -> Bool {
        for level in parent.levels.indices where parent.perLevel[level] > 0 {
            let met = Self.indices(addresses, level: level)
            let map = parent.levels[level]
            if met.lowerBound > 0 {
                let first = map.firstExtent
                guard !first.value, first.range.upperBound >= met.lowerBound else { return false }
            }
            if met.upperBound < map.length {
                let last = map.lastExtent
                guard !last.value, last.range.lowerBound <= met.upperBound else { return false }
            }
        }
        return true
    }

    /// Number of tables at each level: PTE, PMD, PUD. Performance: kept as tables come and go
    /// (a measure reads it two or three times per process).
    var tableCounts: [UInt64] {
        (0..<levels.count).map { perLevel[$0] }
    }

    /// `tableCounts` of the PTE, PMD and PUD levels, without an array.
    var tableCountsByLevel: SIMD3<UInt64> {
        SIMD3(perLevel[0], perLevel[1], perLevel[2])
    }

    /// `tableCounts` walked from the maps themselves: what the kept counts must equal (tests).
    var tableCountsWalked: [UInt64] {
        levels.map { map in
            var count: UInt64 = 0
            map.forEach(in: 0..<map.length) { span, present in
                if present { count += UInt64(span.count) }
            }
            return count
        }
    }
}

extension Simulator {
    /// Changes process `p`'s page tables, keeping `tablePages`.
    mutating func editTables(_ p: ProcessID, _ body: (inout PageTableSet) -> Void) {
        let before = processes[p].pageTables.total
        body(&processes[p].pageTables)
        tablePages = tablePages + processes[p].pageTables.total - before
    }

    /// Allocates the page tables for every page of `ranges` (4 KiB pages), one call per run of
    /// adjacent PTE tables.
    mutating func mapTables(_ p: ProcessID, _ m: Mapping, coveringTablesOf ranges: [Range<UInt64>]) {
        let shift = PageTableLevel.pte.spanShift
        // Performance: the PTE tables of each range computed here with the shift at hand (what
        // `PageTableSet.indices(address(range, in: m), level: 0)` gives, without reading the
        // static table of shifts once per range: a random touch passes millions of ranges).
        let start = m.start
        let pageBytes = m.pageBytes
        var current: Range<UInt64>? = nil
        for range in ranges {
            let tables = ((start + range.lowerBound * pageBytes) >> shift)..<(((start + range.upperBound * pageBytes - 1) >> shift) + 1)
            if let run = current, tables.lowerBound <= run.upperBound {
                current = run.lowerBound..<max(run.upperBound, tables.upperBound)
            } else {
                if let run = current { editTables(p) { $0.populate((run.lowerBound << shift)..<(run.upperBound << shift), lowestLevel: 0) } }
                current = tables
            }
        }
        if let run = current { editTables(p) { $0.populate((run.lowerBound << shift)..<(run.upperBound << shift), lowestLevel: 0) } }
    }

    /// Allocates the page tables that map `pages` of `m` in process `p`.
    mutating func mapTables(_ p: ProcessID, _ m: Mapping, _ pages: Range<UInt64>) {
        let addresses = address(pages, in: m)
        editTables(p) { $0.populate(addresses, lowestLevel: m.mappingLevel) }
    }

    /// `mapTables`, skipping tables this statement already populated: a touch of many pages in
    /// one table (random or strided) then costs one lookup per table, not three per page. Within
    /// one statement nothing frees tables, so what was populated stays.
    mutating func mapTables(_ f: inout FaultContext, _ pages: Range<UInt64>) {
        let tables = PageTableSet.indices(address(pages, in: f.mapping), level: f.mapping.mappingLevel)
        if f.tally.populatedTables.lowerBound <= tables.lowerBound && tables.upperBound <= f.tally.populatedTables.upperBound {
            return
        }
        mapTables(f.process, f.mapping, pages)
        f.tally.populatedTables = tables
    }
}
