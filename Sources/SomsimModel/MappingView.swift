import SomsimWorkload

/// One mapping of one process as `pmap -x` shows it (issue 13: `simulate --mappings`): where it
/// starts, how large it is, what it maps, and the smaps fields of its pages. Computed from the
/// engine's state with the sums the process metrics add up (`Accounting.processMetrics`), one
/// mapping at a time, so that a process's mappings add up to its metrics (PSS: within the
/// truncation of each mapping's fixed point, as smaps' per-VMA `Pss` lines do).
public struct MappingMetrics: Equatable, Sendable {
    public var name: String
    /// The first byte of the mapping's first mapped page.
    public var address: UInt64
    /// Bytes of the mapping in the address space (`pmap -x`'s Kbytes): its pages that are
    /// mapped (a `dontfork` range a child did not inherit is not).
    public var sizeBytes: UInt64
    /// `private`/`shared`, `anon`/`file=ID`, then `huge=SIZE`, `som`, `locked` when they apply.
    public var kind: String
    /// Protection of the mapping's first mapped range (`rw-`, `r--`, `---`; `mixed` when
    /// mprotect left parts different), as pmap's Mode.
    public var mode: String
    public var rssBytes: UInt64 = 0
    public var pssBytes: UInt64 = 0
    public var privateCleanBytes: UInt64 = 0
    public var privateDirtyBytes: UInt64 = 0
    public var sharedCleanBytes: UInt64 = 0
    public var sharedDirtyBytes: UInt64 = 0
    /// Present HugeTLB bytes (not in RSS, as smaps).
    public var hugetlbBytes: UInt64 = 0
    /// `pmap -x`'s Dirty: private and shared dirty bytes.
    public var dirtyBytes: UInt64 { privateDirtyBytes + sharedDirtyBytes }
}

/// A process's mappings in address order.
public struct ProcessMappings: Equatable, Sendable {
    public var process: String
    public var alive: Bool
    public var mappings: [MappingMetrics]
}

extension Simulator {
    /// Every process's mappings now; a process that died has none.
    public func mappingView() -> [ProcessMappings] {
        var prefixes = PrefixCache(groupCount: groups.count)
        return processes.map { process in
            guard process.alive else { return ProcessMappings(process: process.name, alive: false, mappings: []) }
            let rows = process.mappingNamesByAddress.compactMap { name -> MappingMetrics? in
                guard let mapping = process.mappings[name] else { return nil }
                return mappingMetrics(mapping, prefixes: &prefixes)
            }
            return ProcessMappings(process: process.name, alive: true, mappings: rows)
        }
    }

    /// The view at the measure labelled `label` (nil: at the end, after the last statement).
    public static func mappingView(_ workload: Workload, constants: KernelConstants = KernelConstants(), at label: String? = nil) -> [ProcessMappings] {
        var simulator = Simulator(machine: workload.machine, constants: constants, machineLine: workload.machineLine ?? 0)
        for statement in workload.statements {
            if let label, case .measure(let l) = statement.value, l == label { return simulator.mappingView() }
            _ = simulator.apply(statement)
        }
        return simulator.mappingView()
    }

    private func mappingMetrics(_ mapping: Mapping, prefixes: inout PrefixCache) -> MappingMetrics {
        let sums = mappingSums(mapping, prefixes: &prefixes).all
        var mappedPages: UInt64 = 0
        var firstMapped: UInt64?
        var modes: Set<String> = []
        var locked = false
        for (range, flags) in mapping.vma.sequence(in: 0..<mapping.pageCount) where flags.mapped {
            mappedPages += UInt64(range.count)
            if firstMapped == nil { firstMapped = range.lowerBound }
            modes.insert(Self.mode(flags.protection))
            locked = locked || flags.locked
        }
        var kind = [mapping.options.shared ? "shared" : "private", mapping.options.file.map { "file=\($0)" } ?? "anon"]
        if let huge = mapping.huge { kind.append("huge=\(huge.token)") }
        if mapping.isSingleOwner { kind.append("som") }
        if locked { kind.append("locked") }
        var m = MappingMetrics(
            name: mapping.name, address: mapping.start + (firstMapped ?? 0) * mapping.pageBytes, sizeBytes: mappedPages * mapping.pageBytes,
            kind: kind.joined(separator: " "), mode: modes.count == 1 ? modes.first! : (modes.isEmpty ? "---" : "mixed"))
        if mapping.huge != nil {
            m.hugetlbBytes = (sums.privateClean + sums.privateDirty + sums.sharedClean + sums.sharedDirty) * mapping.pageBytes
        } else {
            let pageBytes = constants.pageBytes
            m.privateCleanBytes = sums.privateClean * pageBytes
            m.privateDirtyBytes = sums.privateDirty * pageBytes
            m.sharedCleanBytes = sums.sharedClean * pageBytes
            m.sharedDirtyBytes = sums.sharedDirty * pageBytes
            m.rssBytes = m.privateCleanBytes + m.privateDirtyBytes + m.sharedCleanBytes + m.sharedDirtyBytes
            m.pssBytes = sums.pssUnits >> PageSums.pssShift
        }
        return m
    }

    static func mode(_ p: Protection) -> String {
        switch p {
        case .write: return "rw-"
        case .read: return "r--"
        case .none: return "---"
        }
    }
}
