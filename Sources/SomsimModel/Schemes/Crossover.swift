import SomsimWorkload

/// Where memdescs stop saving: the share of memory in small allocations at which the memdesc
/// scheme's metadata reaches struct page's.
///
/// Each point replays a workload `AllocMix` writes (small and large allocations filling RAM) and
/// costs it; nothing is computed from a closed formula, so the answer follows the engine's folio
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

    /// The two schemes on a mix of `smallPercent`% small and the rest large allocations.
    public static func evaluate(small: UInt64, large: UInt64, smallPercent: Double, ramBytes: UInt64, scheme: SchemeName = .memdesc, profile: Profile) throws -> Row {
        let mix = AllocMix(
            ramBytes: ramBytes,
            classes: [.init(sizeBytes: small, percent: smallPercent), .init(sizeBytes: large, percent: 100 - smallPercent)])
        try mix.validate()
        let workload = try WorkloadParser.parse(mix.text(), fileName: "<alloc-mix>")
        let point = SchemeRun.run(workload, profile: profile).point("filled")!
        return Row(
            smallPercent: smallPercent, structPageBytes: point.result(.structPage).metadataBytes,
            memdescBytes: point.result(scheme).metadataBytes, ramBytes: ramBytes)
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
