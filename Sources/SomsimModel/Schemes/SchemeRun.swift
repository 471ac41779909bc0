import SomsimWorkload

/// Every scheme costed at every measure point of a workload: what `somsim compare` and
/// `somsim explain` print.
public struct SchemeRun: Equatable, Sendable {
    /// One measure point.
    public struct Point: Equatable, Sendable {
        public var label: String
        public var census: MemoryCensus
        /// Every scheme, `struct-page` first.
        public var results: [SchemeResult]
        public var common: CommonCosts
        /// The machine's choices for the schemes (`som-source=`, `som-pool=`).
        public var options: Schemes.Options = Schemes.Options()
        /// How many of the run's error events were recorded before this point (`Measure.errorsBefore`).
        public var errorsBefore: Int = 0

        public func result(_ scheme: SchemeName) -> SchemeResult { results.first { $0.scheme == scheme }! }
        /// Bytes `scheme` saves against struct page (negative when it costs more).
        public func saving(_ scheme: SchemeName) -> Int64 {
            Int64(result(.structPage).metadataBytes) - Int64(result(scheme).metadataBytes)
        }
    }

    public var machine: MachineSpec
    public var profile: Profile
    public var points: [Point]
    /// Statements the kernel would have refused.
    public var errors: [ErrorEvent]

    /// Replays `workload` and costs every scheme at each `measure` and at the end.
    public static func run(_ workload: Workload, profile: Profile = .x86_64) -> SchemeRun {
        var simulator = Simulator(machine: workload.machine, constants: KernelConstants(profile: profile))
        var points: [Point] = []
        func take(_ label: String) {
            let census = simulator.census()
            points.append(
                Point(
                    label: label, census: census, results: Schemes.evaluateAll(census, profile, simulator.schemeOptions),
                    common: Schemes.common(census, profile), options: simulator.schemeOptions, errorsBefore: simulator.errors.count))
        }
        for statement in workload.statements {
            if case .measure(let label) = statement.value {
                take(label)
            } else {
                simulator.apply(statement)
            }
        }
        take("end")
        return SchemeRun(machine: workload.machine, profile: profile, points: points, errors: simulator.errors)
    }

    /// The point labelled `label` (the last one with that label), or nil.
    public func point(_ label: String) -> Point? { points.last { $0.label == label } }
}
