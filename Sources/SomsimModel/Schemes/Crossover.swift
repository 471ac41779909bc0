import SomsimWorkload

/// Where memdescs stop saving: the share of memory in small allocations at which the memdesc
/// scheme's metadata reaches struct page's.
///
/// Each point replays a workload `AllocMix` writes (small and large allocations filling the
/// memory the machine has for them) and costs it; nothing is computed from a closed formula, so the answer follows the engine's folio
/// census and the profile.
public enum MemdescCrossover {
    public struct Row: Equatable, Sendable {
        /// Share of the filled memory in small allocations, percent.
        public var smallPercent: Double
        public var structPageBytes: UInt64
        public var memdescBytes: UInt64
        public var ramBytes: UInt64
        /// Positive while memdescs save.
        public var savingBytes: Int64 { Int64(structPageBytes) - Int64(memdescBytes) }
    }

    /// A mix that cannot be run as asked.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The two schemes on a mix of `smallPercent`% small and the rest large allocations, filling
    /// all the memory the machine has for them (`fillablePercent`).
    public static func evaluate(small: UInt64, large: UInt64, smallPercent: Double, ramBytes: UInt64, scheme: SchemeName = .memdesc, profile: Profile) throws -> Row {
        let classes: [AllocMix.SizeClass] = [.init(sizeBytes: small, percent: smallPercent), .init(sizeBytes: large, percent: 100 - smallPercent)]
        let fill = fillablePercent(ramBytes: ramBytes, classes: classes, profile: profile)
        guard fill > 0 else {
            throw Problem(description: "\(WorkloadPrinter.format(size: ramBytes)) of RAM leaves no memory for allocations once the memmap and the kernel's reserve are taken; give a larger --ram")
        }
        let mix = AllocMix(ramBytes: ramBytes, fillPercent: fill, classes: classes)
        try mix.validate()
        let workload = try WorkloadParser.parse(mix.text(), fileName: "<alloc-mix>")
        let run = SchemeRun.run(workload, profile: profile)
        if let oom = run.errors.first(where: { $0.outcome != nil }) {
            throw Problem(description: "the mix does not fit in \(ramBytes) bytes of RAM: \(oom.detail ?? oom.errno.rawValue)")
        }
        let point = run.point("filled")!
        return Row(
            smallPercent: smallPercent, structPageBytes: point.result(.structPage).metadataBytes,
            memdescBytes: point.result(scheme).metadataBytes, ramBytes: ramBytes)
    }

    /// The share of RAM, percent, that one process's allocations of `classes` can fill before the
    /// machine runs out of memory (Capacity.swift): RAM less the memmap, the free-page reserve,
    /// the process's kernel state and PGD, a VMA per allocation of the sizes between 4 KiB and
    /// 2 MiB (those get one mapping each), and a PTE table per 2 MiB allocated (PMD and PUD
    /// tables: a few pages of slack).
    public static func fillablePercent(ramBytes: UInt64, classes: [AllocMix.SizeClass], profile: Profile) -> Double {
        var machine = MachineSpec()
        machine.ramBytes = ramBytes
        let constants = KernelConstants(profile: profile)
        let simulator = Simulator(machine: machine, constants: constants)
        let page = Double(constants.pageBytes)
        let budget = simulator.budget
        let fixed = (Double(budget.processBytes + 2 * budget.vmaBytes) / page).rounded(.up) + Double(budget.pgdPages) + 8
        let room = Double(simulator.roomPages()) - fixed
        // Data pages D need D/512 PTE tables and, per page, the VMA share of the mapped classes.
        let vmasPerPage = classes.filter { $0.sizeBytes > PageGeometry.pageBytes && $0.sizeBytes < PageGeometry.pmdBytes }
            .reduce(0.0) { $0 + $1.percent / 100 * page / Double($1.sizeBytes) }
        let perPage = 1 + 1 / Double(PageGeometry.entriesPerTable) + vmasPerPage * Double(budget.vmaBytes) / page
        let pages = max(0, room / perPage)
        let ramPages = Double(ramBytes) / page
        guard ramPages > 0 else { return 0 }
        return (pages / ramPages * 100 * 10_000).rounded(.down) / 10_000
    }

    /// Rows from 0% to 100% small in `steps` equal steps.
    public static func sweep(small: UInt64, large: UInt64, ramBytes: UInt64, steps: Int = 10, scheme: SchemeName = .memdesc, profile: Profile) throws -> [Row] {
        try (0...steps).map { step in
            try evaluate(small: small, large: large, smallPercent: 100 * Double(step) / Double(steps), ramBytes: ramBytes, scheme: scheme, profile: profile)
        }
    }

    /// The smallest small-allocation share (to `precision` percentage points) at which memdescs
    /// save nothing any more; nil when they save at every mix, or at none.
    public static func find(small: UInt64, large: UInt64, ramBytes: UInt64, precision: Double = 0.01, scheme: SchemeName = .memdesc, profile: Profile) throws -> Double? {
        var low = 0.0
        var high = 100.0
        guard try evaluate(small: small, large: large, smallPercent: low, ramBytes: ramBytes, scheme: scheme, profile: profile).savingBytes > 0,
            try evaluate(small: small, large: large, smallPercent: high, ramBytes: ramBytes, scheme: scheme, profile: profile).savingBytes <= 0
        else { return nil }
        while high - low > precision {
            let mid = (low + high) / 2
            if try evaluate(small: small, large: large, smallPercent: mid, ramBytes: ramBytes, scheme: scheme, profile: profile).savingBytes > 0 {
                low = mid
            } else {
                high = mid
            }
        }
        return high
    }
}
