// The single-owner pool (`mmap … som`), as the Single Owner Memory proposal describes it
// (LSF/MM/BPF 2023, linux-mm, Feb 2023): memory taken from a source (HugeTLB, devdax, memory
// outside System RAM) in `som_chunk_bytes` (1 GiB) chunks, each managed as 2 MiB units with a
// bitmap, and a list of its units per process. No kernel file: the driver was proposed, never
// merged. docs/schemes.md ("The single-owner pool") states every rule below.

import SomsimWorkload

/// The pool's chunks, their unit bitmaps and each process's units.
///
/// A unit backs one 2 MiB-aligned block of a process's virtual address space: the 4 KiB or
/// 2 MiB pages the process maps there come from it. A 1 GiB page takes 512 units of one aligned
/// run (a whole chunk with the default 1 GiB chunks). Allocation policy, for a unit a process
/// needs: the lowest free unit of the process's own chunks (those it holds units in, lowest
/// chunk first); else the lowest free unit of the lowest chunk that has one (a chunk new to the
/// process); else, when the pool may grow (`som-pool=grow`, the default), a new chunk from the
/// source. A fixed pool (`som-pool=SIZE`) never grows: mmap refuses a som mapping it cannot back
/// (ENOMEM). With `grow`, a chunk whose last unit is freed goes back to the source.
struct SomPool {
    /// Units per chunk: `som_chunk_bytes / 2 MiB`.
    let unitsPerChunk: Int
    /// Whether the pool grows (`som-pool=grow`); a fixed pool has all its chunks from the start.
    let grows: Bool
    /// Whether the workload has made a som mapping: until then no statement needs the pool.
    var active = false
    /// Used units per chunk, and each chunk's bitmap (`unitsPerChunk` bits, 64 a word).
    private(set) var used: [Int] = []
    private var bitmaps: [[UInt64]] = []
    /// The lowest chunk that may have a free unit (every chunk below it is full).
    private var lowestNotFull = 0
    /// Each process's units: the 2 MiB virtual block (address >> 21) → global unit index; its
    /// 1 GiB pages: the 1 GiB virtual block (address >> 30) → the first of their 512 units.
    private(set) var holders: [ProcessID: Holdings] = [:]

    struct Holdings {
        var units: [UInt64: Int] = [:]
        var giants: [UInt64: Int] = [:]
        /// Units held in each chunk (the process's chunk list).
        var chunks: [Int: Int] = [:]
        var unitCount: Int { units.count + giants.count * SomPool.giantUnits }
    }

    /// Units of one 1 GiB page.
    static let giantUnits = Int(PageGeometry.pudBytes / PageGeometry.pmdBytes)

    /// The chunks of a fixed pool (`som-pool=SIZE`); nil for a growing pool. A fixed pool's
    /// chunks are all the pool's from the start, but only those ever used have a bitmap here.
    let fixedChunks: Int?

    init(machine: MachineSpec, profile: Profile) {
        let chunkBytes = profile[.somChunkBytes]
        unitsPerChunk = Int(chunkBytes / PageGeometry.pmdBytes)
        grows = machine.somPoolBytes == 0
        if grows {
            fixedChunks = nil
        } else {
            // A fixed pool is whole chunks, at most what RAM holds.
            let wanted = machine.somPoolBytes / chunkBytes + (machine.somPoolBytes % chunkBytes == 0 ? 0 : 1)
            fixedChunks = Int(max(1, min(wanted, max(1, machine.ramBytes / chunkBytes))))
        }
    }

    /// Adds a chunk to the bitmaps: a new chunk from the source (growing pool), or the next
    /// chunk of a fixed pool that had not been used yet; false when a fixed pool has no more.
    private mutating func appendChunk() -> Bool {
        if let fixedChunks, used.count >= fixedChunks { return false }
        used.append(0)
        bitmaps.append([UInt64](repeating: 0, count: (unitsPerChunk + 63) / 64))
        return true
    }

    // MARK: - Figures

    /// Chunks the pool holds: all of a fixed pool; the non-empty ones of a growing pool.
    var chunkCount: Int { fixedChunks ?? used.lazy.filter { $0 > 0 }.count }
    var usedUnits: Int { used.reduce(0, +) }
    var freeUnits: Int { chunkCount * unitsPerChunk - usedUnits }

    /// Free units in chunks that are partly used: memory the pool holds that only a process
    /// with units in that chunk, or a small page, can use; it cannot go back to the source and
    /// cannot serve a 1 GiB page.
    var fragmentedUnits: Int { used.lazy.filter { $0 > 0 && $0 < unitsPerChunk }.reduce(0) { $0 + (unitsPerChunk - $1) } }
    /// The units each process holds, for the processes that hold some, by process id.
    var unitsByProcess: [(ProcessID, Int)] { holders.map { ($0.key, $0.value.unitCount) }.filter { $0.1 > 0 }.sorted { $0.0.index < $1.0.index } }
    /// Units of the chunks that have bitmaps.
    var capacityUnits: Int { used.count * unitsPerChunk }
    /// Units a fixed pool can ever hold; nil for a growing pool.
    var fixedUnits: Int? { fixedChunks.map { $0 * unitsPerChunk } }

    // MARK: - Units

    private func isUsed(_ unit: Int) -> Bool {
        let chunk = unit / unitsPerChunk
        let bit = unit % unitsPerChunk
        return bitmaps[chunk][bit / 64] & (1 << UInt64(bit % 64)) != 0
    }

    private mutating func mark(_ unit: Int, _ on: Bool) {
        let chunk = unit / unitsPerChunk
        let bit = unit % unitsPerChunk
        if on {
            bitmaps[chunk][bit / 64] |= 1 << UInt64(bit % 64)
            used[chunk] += 1
        } else {
            bitmaps[chunk][bit / 64] &= ~(1 << UInt64(bit % 64))
            used[chunk] -= 1
            lowestNotFull = min(lowestNotFull, chunk)
        }
    }

    private func firstFree(in chunk: Int) -> Int? {
        guard used[chunk] < unitsPerChunk else { return nil }
        for (w, word) in bitmaps[chunk].enumerated() where word != ~0 {
            let bit = w * 64 + (~word).trailingZeroBitCount
            if bit < unitsPerChunk { return chunk * unitsPerChunk + bit }
        }
        return nil
    }

    /// A free unit for `p` by the policy: its own chunks, then the lowest chunk with a free unit,
    /// then a new chunk (growing pool only).
    private mutating func takeUnit(_ p: ProcessID) -> Int? {
        if let own = holders[p]?.chunks.keys.sorted() {
            for chunk in own { if let unit = firstFree(in: chunk) { return unit } }
        }
        while lowestNotFull < used.count && used[lowestNotFull] == unitsPerChunk { lowestNotFull += 1 }
        for chunk in lowestNotFull..<used.count {
            if let unit = firstFree(in: chunk) { return unit }
        }
        guard appendChunk() else { return nil }
        return firstFree(in: used.count - 1)
    }

    /// Whether the aligned run of 512 units from `start` (within `capacityUnits`) is all free.
    private func runFree(_ start: Int) -> Bool {
        let run = Self.giantUnits
        if unitsPerChunk <= run {
            return (start / unitsPerChunk..<((start + run) / unitsPerChunk)).allSatisfy { used[$0] == 0 }
        }
        let chunk = start / unitsPerChunk
        if used[chunk] == 0 { return true }
        if used[chunk] > unitsPerChunk - run { return false }
        return (start..<(start + run)).allSatisfy { !isUsed($0) }
    }

    /// The first free aligned run of 512 units among the chunks that have bitmaps.
    private func firstFreeRun() -> Int? {
        let run = Self.giantUnits
        var start = 0
        while start + run <= capacityUnits {
            if runFree(start) { return start }
            start += run
        }
        return nil
    }

    /// Chunks to add for a new aligned run at the end, and whether the pool may add them.
    private func roomForNewRun() -> Bool {
        guard let fixedUnits else { return true }
        let run = Self.giantUnits
        let first = (capacityUnits + run - 1) / run * run
        return first + run <= fixedUnits
    }

    /// The first unit of an aligned run of 512 free units for a 1 GiB page, growing the pool
    /// when it may and must.
    private mutating func takeGiantRun() -> Int? {
        if let start = firstFreeRun() { return start }
        guard roomForNewRun() else { return nil }
        let run = Self.giantUnits
        let first = (capacityUnits + run - 1) / run * run
        while capacityUnits < first + run { _ = appendChunk() }
        return first
    }

    /// Whether a 1 GiB page could be had now.
    func canTakeGiant() -> Bool { firstFreeRun() != nil || roomForNewRun() }

    /// Takes a 1 GiB page for `p` at 1 GiB virtual block `key`; false when the pool has none.
    mutating func takeGiant(_ p: ProcessID, key: UInt64) -> Bool {
        if holders[p]?.giants[key] != nil { return true }
        guard let first = takeGiantRun() else { return false }
        for unit in first..<(first + Self.giantUnits) { mark(unit, true) }
        holders[p, default: Holdings()].giants[key] = first
        for unit in stride(from: first, to: first + Self.giantUnits, by: 1) {
            holders[p]!.chunks[unit / unitsPerChunk, default: 0] += 1
        }
        return true
    }

    /// Takes a unit for `p`'s 2 MiB virtual block `block` unless it holds one (a fault).
    mutating func takeUnit(_ p: ProcessID, block: UInt64) {
        if holders[p]?.units[block] != nil { return }
        if let giants = holders[p]?.giants, giants[block >> (PageTableLevel.pmd.spanShift - PageTableLevel.pte.spanShift)] != nil { return }
        guard let unit = takeUnit(p) else { return }
        mark(unit, true)
        holders[p, default: Holdings()].units[block] = unit
        holders[p]!.chunks[unit / unitsPerChunk, default: 0] += 1
    }

    /// Gives back `p`'s unit of 2 MiB virtual block `block`, if it holds one.
    mutating func releaseUnit(_ p: ProcessID, block: UInt64) {
        guard var holding = holders[p], let unit = holding.units[block] else { return }
        mark(unit, false)
        holding.units[block] = nil
        release(&holding, unit)
        holders[p] = holding.unitCount == 0 ? nil : holding
    }

    /// Gives back `p`'s 1 GiB page of 1 GiB virtual block `key`, if it holds one.
    mutating func releaseGiant(_ p: ProcessID, key: UInt64) {
        guard var holding = holders[p], let first = holding.giants[key] else { return }
        for unit in first..<(first + Self.giantUnits) {
            mark(unit, false)
            release(&holding, unit)
        }
        holding.giants[key] = nil
        holders[p] = holding.unitCount == 0 ? nil : holding
    }

    /// Makes `p`'s units exactly the blocks in `blocks` (2 MiB virtual blocks) and its 1 GiB
    /// pages those of `giants` that it holds: frees the rest, takes what is missing (in block
    /// order). Blocks the pool cannot back (a fixed pool, full) are left without a unit.
    mutating func reconcile(_ p: ProcessID, blocks: [UInt64], giants: Set<UInt64>) {
        var holding = holders[p] ?? Holdings()
        let wanted = Set(blocks)
        for (key, unit) in holding.units where !wanted.contains(key) {
            mark(unit, false)
            holding.units[key] = nil
            release(&holding, unit)
        }
        for (key, first) in holding.giants where !giants.contains(key) {
            for unit in first..<(first + Self.giantUnits) {
                mark(unit, false)
                release(&holding, unit)
            }
            holding.giants[key] = nil
        }
        holders[p] = holding
        for block in blocks where holders[p]!.units[block] == nil {
            guard let unit = takeUnit(p) else { break }
            mark(unit, true)
            holders[p]!.units[block] = unit
            holders[p]!.chunks[unit / unitsPerChunk, default: 0] += 1
        }
        if holders[p]!.unitCount == 0 { holders[p] = nil }
    }

    private func release(_ holding: inout Holdings, _ unit: Int) {
        let chunk = unit / unitsPerChunk
        holding.chunks[chunk]! -= 1
        if holding.chunks[chunk] == 0 { holding.chunks[chunk] = nil }
    }
}

/// What the pool holds at a measure point (`SystemMetrics` and the census carry it).
public struct SomPoolFigures: Equatable, Sendable {
    public var chunks: UInt64 = 0
    public var usedUnits: UInt64 = 0
    public var freeUnits: UInt64 = 0
    /// Bytes of units processes hold that no page of theirs maps.
    public var strandedBytes: UInt64 = 0
    /// Free units in partly used chunks.
    public var fragmentedUnits: UInt64 = 0
    /// Units each process holds (its chunk list's length), for processes that hold some.
    public var unitsPerProcess: [UInt64] = []
    /// 1 GiB pages mapped.
    public var giantPages: UInt64 = 0

    public init() {}
}

extension Simulator {
    /// Brings `p`'s units in line with the som pages it maps now (after a statement of `p`).
    mutating func reconcileSomPool(_ p: ProcessID) {
        guard somPool.holders[p] != nil || processes[p].alive && processes[p].mappings.values.contains(where: { $0.isSingleOwner }) else { return }
        var blocks: [UInt64] = []
        var giants: Set<UInt64> = []
        if processes[p].alive {
            let held = somPool.holders[p]?.giants ?? [:]
            let mappings = processes[p].mappings.values.filter(\.isSingleOwner).sorted { $0.start < $1.start }
            for m in mappings {
                m.pages.forEach(in: 0..<m.pageCount) { range, state in
                    guard case .anon = state else { return }
                    let low = m.start + range.lowerBound * constants.pageBytes
                    let high = m.start + range.upperBound * constants.pageBytes
                    var block = low >> PageTableLevel.pte.spanShift
                    while block << PageTableLevel.pte.spanShift < high {
                        let giant = (block << PageTableLevel.pte.spanShift) >> PageTableLevel.pmd.spanShift
                        if held[giant] != nil {
                            giants.insert(giant)
                            block = (giant + 1) << (PageTableLevel.pmd.spanShift - PageTableLevel.pte.spanShift)
                            continue
                        }
                        if blocks.last != block { blocks.append(block) }
                        block += 1
                    }
                }
            }
        }
        somPool.reconcile(p, blocks: blocks, giants: giants)
    }

    /// ENOMEM for a som mapping of `length` bytes that a fixed pool cannot back: the 2 MiB
    /// units every live som mapping may take (⌈length / 2 MiB⌉ each), this one included, would
    /// exceed the pool's units. nil when the pool grows or has room.
    func somPoolRefuses(length: UInt64) -> Errno? {
        guard !somPool.grows else { return nil }
        let unit = PageGeometry.pmdBytes
        var committed = (length + unit - 1) / unit
        for process in processes where process.alive {
            for m in process.mappings.values where m.isSingleOwner {
                committed += (m.pageCount * m.pageBytes + unit - 1) / unit
            }
        }
        return committed > UInt64(somPool.fixedUnits ?? 0) ? .ENOMEM : nil
    }

    /// The pool's figures now.
    func somPoolFigures() -> SomPoolFigures {
        var figures = SomPoolFigures()
        figures.chunks = UInt64(somPool.chunkCount)
        figures.usedUnits = UInt64(somPool.usedUnits)
        figures.freeUnits = UInt64(somPool.freeUnits)
        figures.fragmentedUnits = UInt64(somPool.fragmentedUnits)
        figures.unitsPerProcess = somPool.unitsByProcess.map { UInt64($0.1) }
        figures.giantPages = UInt64(somPool.holders.values.reduce(0) { $0 + $1.giants.count })
        // No unit held, nothing stranded: the walk over every process (a fleet's measure
        // visited 10,000 processes' mappings here for no som mapping at all) is not needed.
        guard figures.usedUnits > 0 else { return figures }
        var mapped: UInt64 = 0
        for process in processes where process.alive {
            for m in process.mappings.values where m.isSingleOwner {
                m.pages.forEach(in: 0..<m.pageCount) { range, state in
                    if case .anon = state { mapped += UInt64(range.count) * constants.pageBytes }
                }
            }
        }
        let held = figures.usedUnits * PageGeometry.pmdBytes
        figures.strandedBytes = held - min(held, mapped)
        return figures
    }
}

extension Simulator {
    /// After a statement: the units of its process, and of any process the OOM killer took.
    /// Faults take their units as they map pages (`takeSomUnits`); only a statement that can
    /// free som pages (or move them) needs the walk over the process's som mappings.
    mutating func reconcileSomPoolAfter(_ statement: Statement) {
        if case .mmap(_, _, _, let options) = statement, options.som { somPool.active = true }
        guard somPool.active else { return }
        switch statement {
        case .touch, .mmap, .spawn, .fork, .measure, .sysctl, .mlock, .munlock, .mprotect:
            // A fatal signal (SIGSEGV, SIGBUS) kills the process: its units go back.
            if let name = statement.process, let p = processIndex[name], !processes[p].alive { reconcileSomPool(p) }
        case .madvise(let name, let mapping, _, let range):
            // madvise frees pages of its range only: look at the blocks it covers.
            guard let p = processIndex[name], processes[p].alive, let m = processes[p].mappings[mapping], m.isSingleOwner else { break }
            let offset = min(range.offsetBytes, m.pageCount * m.pageBytes)
            let end = min(m.pageCount * m.pageBytes, range.lengthBytes.map { offset &+ $0 < offset ? UInt64.max : offset + $0 } ?? UInt64.max)
            if end > offset { releaseSomBlocks(p, addresses: (m.start + offset)..<(m.start + end)) }
        default:
            if let name = statement.process, let p = processIndex[name] { reconcileSomPool(p) }
        }
        for case .oomKill(let name) in capacityEvents {
            if let p = processIndex[name] { reconcileSomPool(p) }
        }
    }
}

extension SomPool {
    /// The folio order of a 1 GiB page.
    static let giantOrder = Int(PageGeometry.pudShift - PageGeometry.pageShift)
}

extension Simulator {
    /// The large folio orders a fault on som mapping `m` may take, largest first.
    func somFolioOrders(_ m: Mapping) -> [Int] {
        switch m.options.somPage {
        case .size4K: return []
        case .size1G: return [SomPool.giantOrder, PageGeometry.pmdOrder]
        case .size2M, nil: return [PageGeometry.pmdOrder]
        }
    }
}

extension Simulator {
    /// A fault mapped som pages `pages` of `m` in `p`: each 2 MiB block they fall in takes a
    /// unit by the pool's policy, unless the process holds one for it already.
    mutating func takeSomUnits(_ p: ProcessID, _ m: Mapping, _ pages: Range<UInt64>) {
        guard m.isSingleOwner, !pages.isEmpty else { return }
        let shift = PageTableLevel.pte.spanShift
        let first = (m.start + pages.lowerBound * constants.pageBytes) >> shift
        let last = (m.start + pages.upperBound * constants.pageBytes - 1) >> shift
        for block in first...last { somPool.takeUnit(p, block: block) }
    }
}

extension Simulator {
    /// Whether `p` maps a som page in `addresses`.
    func somPresent(_ p: ProcessID, _ addresses: Range<UInt64>) -> Bool {
        for m in processes[p].mappings.values where m.isSingleOwner && m.start < addresses.upperBound && m.end > addresses.lowerBound {
            let low = (max(m.start, addresses.lowerBound) - m.start) / constants.pageBytes
            let high = (min(m.end, addresses.upperBound) - m.start + constants.pageBytes - 1) / constants.pageBytes
            var present = false
            m.pages.forEach(in: low..<high) { _, state in if case .anon = state { present = true } }
            if present { return true }
        }
        return false
    }

    /// Gives back the units (and 1 GiB pages) of `p`'s blocks in `addresses` that no som page
    /// of `p` maps any more.
    mutating func releaseSomBlocks(_ p: ProcessID, addresses: Range<UInt64>) {
        guard let holding = somPool.holders[p] else { return }
        let shift = PageTableLevel.pte.spanShift
        let gigaShift = PageTableLevel.pmd.spanShift
        for key in (addresses.lowerBound >> gigaShift)...((addresses.upperBound - 1) >> gigaShift) where holding.giants[key] != nil {
            if !somPresent(p, (key << gigaShift)..<((key + 1) << gigaShift)) { somPool.releaseGiant(p, key: key) }
        }
        let first = addresses.lowerBound >> shift
        let last = (addresses.upperBound - 1) >> shift
        // Few held units against a long range: look at the units, not at every block.
        if UInt64(holding.units.count) < last - first + 1 {
            for block in holding.units.keys.sorted() where block >= first && block <= last {
                if !somPresent(p, (block << shift)..<((block + 1) << shift)) { somPool.releaseUnit(p, block: block) }
            }
        } else {
            for block in first...last where holding.units[block] != nil {
                if !somPresent(p, (block << shift)..<((block + 1) << shift)) { somPool.releaseUnit(p, block: block) }
            }
        }
    }
}
