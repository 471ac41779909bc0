import SomsimWorkload

/// One process's page-size mix: the TLB entries it takes to map its present workload pages once,
/// by the size each page is mapped with (4 KiB PTE, 2 MiB PMD, 1 GiB PUD).
public struct ProcessTLB: Equatable, Sendable {
    public var name: String
    /// `entries`, kept inline. Performance: a census keeps one of these a process, and an array
    /// of three was 72 bytes of heap each (issue 12: 100,000 workers in 300 MB).
    var counts = SIMD3<UInt64>()
    /// Entries by page size: 4 KiB, 2 MiB, 1 GiB.
    public var entries: [UInt64] {
        get { [counts[0], counts[1], counts[2]] }
        set {
            precondition(newValue.count == 3, "one count for each of 4 KiB, 2 MiB and 1 GiB")
            counts = SIMD3(newValue[0], newValue[1], newValue[2])
        }
    }

    public init(name: String) { self.name = name }
}

/// What one process's page-size mix gives the TLB: its reach at each level, and the memory loads
/// a TLB miss costs, natively and under virtualization.
public struct TLBFigures: Equatable, Sendable {
    public var name: String
    /// Entries to map every present page once, by page size (4 KiB, 2 MiB, 1 GiB).
    public var entries: [UInt64]
    /// Bytes mapped by each page size.
    public var bytes: [UInt64]
    /// Bytes the first- and second-level TLB map at once, filled with the largest pages first.
    public var l1ReachBytes: UInt64
    public var l2ReachBytes: UInt64
    /// Expected memory loads per second-level TLB miss, native: the levels walked, weighted by
    /// the bytes the TLB does not cover in pages of each size.
    public var nativeLoads: Double
    /// The same in a virtual machine (`virt=`): n·m + n + m per miss, n the guest levels walked
    /// for the guest page, m the host levels for the host page; nil without `virt=`.
    public var nestedLoads: Double?
    /// Second-level reach in a virtual machine: a guest page backed by smaller host pages takes
    /// entries of the host page size.
    public var nestedL2ReachBytes: UInt64?
}

public enum TLBModel {
    /// Page sizes by index: 4 KiB, 2 MiB, 1 GiB.
    public static let pageSizes: [UInt64] = [PageGeometry.pageBytes, PageGeometry.pmdBytes, PageGeometry.pudBytes]

    /// Levels a walk reads to reach a page of size index `size` with `tableLevels` levels: a
    /// 2 MiB page ends one level early (PMD entry), a 1 GiB page two (PUD entry).
    public static func levels(size: Int, tableLevels: UInt64) -> UInt64 { tableLevels - UInt64(size) }

    /// n·m + n + m: every guest table entry (n) and the final guest-physical address is
    /// translated by an m-level host walk.
    public static func nestedLoads(guestLevels n: UInt64, hostLevels m: UInt64) -> UInt64 { n * m + n + m }

    /// Entries the TLB level holds for `needed` entries of each size: 1 GiB in its own array,
    /// 2 MiB first, then 4 KiB in what a shared array leaves.
    public static func covered(_ needed: [UInt64], capacity: [UInt64], shared: Bool) -> [UInt64] {
        let giant = min(needed[2], capacity[2])
        let large = min(needed[1], capacity[1])
        let smallCapacity = shared ? capacity[0] - min(capacity[0], large) : capacity[0]
        return [min(needed[0], smallCapacity), large, giant]
    }

    static func reach(_ covered: [UInt64]) -> UInt64 { zip(covered, pageSizes).reduce(0) { $0 + $1.0 * $1.1 } }

    /// Σ uncoveredᵢ × loadsᵢ / Σ uncoveredᵢ; by bytes when the TLB covers everything; 0 with
    /// nothing mapped.
    static func expected(_ loads: [UInt64], bytes: [UInt64], covered: [UInt64]) -> Double {
        let uncovered = (0..<3).map { bytes[$0] - min(bytes[$0], covered[$0] * pageSizes[$0]) }
        let weights = uncovered.reduce(0, +) > 0 ? uncovered : bytes
        let total = weights.reduce(0, +)
        guard total > 0 else { return 0 }
        let sum = (0..<3).reduce(0.0) { $0 + Double(weights[$1]) * Double(loads[$1]) }
        return sum / Double(total)
    }

    public static func figures(_ process: ProcessTLB, _ machine: MachineSpec, _ profile: Profile) -> TLBFigures {
        let l1: [UInt64] = [profile[.tlbL14KEntries], profile[.tlbL12MEntries], profile[.tlbL11GEntries]]
        let l2: [UInt64] = [profile[.tlbL24KEntries], profile[.tlbL22MEntries], profile[.tlbL21GEntries]]
        let shared = profile[.tlbL2Shared] == 1
        let entries = process.entries
        let bytes = (0..<3).map { entries[$0] * pageSizes[$0] }
        let covered1 = covered(entries, capacity: l1, shared: false)
        let covered2 = covered(entries, capacity: l2, shared: shared)
        let levels = profile[.pageTableLevels]
        let native = expected((0..<3).map { Self.levels(size: $0, tableLevels: levels) }, bytes: bytes, covered: covered2)
        var result = TLBFigures(
            name: process.name, entries: entries, bytes: bytes, l1ReachBytes: reach(covered1), l2ReachBytes: reach(covered2), nativeLoads: native)
        if let virt = machine.virt {
            // The guest's pages: the workload's mix, or all of one size (`guest-page=`).
            var guestBytes = bytes
            if let page = machine.guestPage {
                let index = pageSizes.firstIndex(of: page.rawValue)!
                guestBytes = [0, 0, 0]
                guestBytes[index] = bytes.reduce(0, +)
            }
            let host = pageSizes.firstIndex(of: machine.hostPage.rawValue)!
            let m = Self.levels(size: host, tableLevels: virt.host)
            let loads = (0..<3).map { nestedLoads(guestLevels: Self.levels(size: $0, tableLevels: virt.guest), hostLevels: m) }
            // A TLB entry maps the smaller of the guest and the host page.
            var effective: [UInt64] = [0, 0, 0]
            for g in 0..<3 { effective[min(g, host)] += guestBytes[g] / pageSizes[min(g, host)] }
            let nestedCovered = covered(effective, capacity: l2, shared: shared)
            // Bytes each guest size leaves uncovered, in proportion to its share of the
            // effective size's entries.
            var uncoveredGuest: [UInt64] = [0, 0, 0]
            for g in 0..<3 {
                let e = min(g, host)
                let totalBytes = effective[e] * pageSizes[e]
                guard totalBytes > 0 else { continue }
                let uncovered = totalBytes - min(totalBytes, nestedCovered[e] * pageSizes[e])
                uncoveredGuest[g] = UInt64((Double(uncovered) * Double(guestBytes[g]) / Double(totalBytes)).rounded())
            }
            let weights = uncoveredGuest.reduce(0, +) > 0 ? uncoveredGuest : guestBytes
            let total = weights.reduce(0, +)
            result.nestedLoads = total == 0 ? 0 : (0..<3).reduce(0.0) { $0 + Double(weights[$1]) * Double(loads[$1]) } / Double(total)
            result.nestedL2ReachBytes = reach(nestedCovered)
        }
        return result
    }

    /// Every live process's figures at a census.
    public static func figures(_ census: MemoryCensus, _ profile: Profile) -> [TLBFigures] {
        census.processTLB.map { figures($0, census.machine, profile) }
    }
}
