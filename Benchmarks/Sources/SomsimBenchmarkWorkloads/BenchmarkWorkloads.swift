import SomsimModel
import SomsimWorkload

/// The workloads the benchmarks replay. Each is written in the workload format (so it reads like
/// a user's file) and parsed once, outside any measured region: the benchmarks time
/// `Simulator.run` only.
public enum BenchmarkWorkloads {
    /// One benchmark case: a name, the parsed workload, and how many distinct pages its measured
    /// touch statements fault (for touches-per-second figures; 0 where that is not the point).
    public struct Case: Sendable {
        public var name: String
        public var workload: Workload
        public var distinctTouches: Int
        /// Statements before this index only set the stage: `prepare()` applies them outside the
        /// measured region (0 for cases that time the whole run).
        public var measuredFrom: Int

        public init(name: String, workload: Workload, distinctTouches: Int, measuredFrom: Int) {
            self.name = name
            self.workload = workload
            self.distinctTouches = distinctTouches
            self.measuredFrom = measuredFrom
        }

        /// A simulator with the unmeasured set-up statements already applied.
        public func prepare() -> Simulator {
            var simulator = Simulator(machine: workload.machine)
            // As `Simulator.run` does first (one pass over the statements): timed in `finish`
            // when the whole run is, set-up here otherwise.
            if measuredFrom > 0 { simulator.reserveRoom(for: workload) }
            simulator.apply(contentsOf: workload.statements, range: 0..<measuredFrom)
            return simulator
        }

        /// The measured part: the remaining statements and the final measure, exactly as
        /// `Simulator.run` does them. With `measuredFrom == 0` this is `Simulator.run(workload)`.
        public func finish(_ simulator: inout Simulator) -> Report {
            if measuredFrom == 0 { simulator.reserveRoom(for: workload) }
            simulator.apply(contentsOf: workload.statements, range: measuredFrom..<workload.statements.count)
            simulator.measure(label: "end")
            return simulator.report
        }
    }

    /// `Terabyte`: one process maps 1 TiB and writes every page of it, then the final measure.
    /// 2^28 pages in one statement: the engine must cost O(extents), not O(pages).
    public static let terabyte = make(
        "Terabyte",
        """
        machine ram=4T
        spawn p
        p mmap big 1T
        p touch big write
        """)

    /// `TenThousandWorkers`: a 150 MiB master heap, written, then 10,000 forked workers that each
    /// write 64 random pages of it, fork and write interleaved (the worst case for fragmentation:
    /// every fork copies a mapping that earlier workers' COW faults have split), then the final
    /// measure over 10,001 processes.
    public static let tenThousandWorkers = make(
        "TenThousandWorkers",
        """
        spawn master
        master mmap heap 150M
        master touch heap write
        repeat 10000 as i {
          master fork w{i}
          w{i} touch heap write random=64 seed={i}
        }
        """)

    /// `HundredThousandWorkers`: `TenThousandWorkers` at fleet scale, 100,000 forked workers of
    /// the same 150 MiB master (issue 12: ≤ 2 s and ≤ 300 MB peak memory).
    public static let hundredThousandWorkers = make(
        "HundredThousandWorkers",
        """
        machine ram=64G
        spawn master
        master mmap heap 150M
        master touch heap write
        repeat 100000 as i {
          master fork w{i}
          w{i} touch heap write random=64 seed={i}
        }
        """)

    /// `RandomTouches`: 2,000,000 distinct random pages written in a fresh 64 GiB mapping (every
    /// touched page becomes its own extent: about 2 M extents after one statement).
    public static let randomTouches = make(
        "RandomTouches",
        """
        machine ram=128G
        spawn p
        p mmap big 64G
        p touch big write random=2000000 seed=1
        """,
        distinctTouches: 2_000_000)

    /// `RandomTouchesFragmented`: the same 2,000,000-page random write, on a mapping that already
    /// has extents: 500,000 random pages read first (zero-page extents) and every 16th page of the
    /// first 8 GiB written (131,072 anonymous extents). Those set-up statements run outside the
    /// measured region: only the last touch and the final measure are timed.
    public static let randomTouchesFragmented = make(
        "RandomTouchesFragmented",
        """
        machine ram=128G
        spawn p
        p mmap big 64G
        p touch big read random=500000 seed=7
        p touch big write length=8G stride=64K
        p touch big write random=2000000 seed=1
        """,
        distinctTouches: 2_000_000, measuredFrom: 4)

    /// `AllocMix64G`: what `somsim generate alloc-mix --mix 4K:30,64K:20,2M:50 --ram 64G` writes
    /// (without its `measure filled`: the final measure stands for it): one process with a 2 MiB
    /// THP region, 205,813 mappings of 64 KiB (one mTHP each, every one placed top-down below the
    /// one before) and a 4 KiB region. 205,815 placements, inserts and madvise walks in one
    /// address space: placement and the layout must cost O(log n) in the mappings.
    public static let allocMix64G = make(
        "AllocMix64G",
        """
        machine ram=64G thp=madvise mthp=64K
        spawn app
        app mmap a2m 32158M
        app madvise a2m hugepage
        app touch a2m write
        repeat 205813 as i {
          app mmap a64k_{i} 64K
          app madvise a64k_{i} hugepage
          app touch a64k_{i} write
        }
        app mmap a4k 19758128K
        app madvise a4k nohugepage
        app touch a4k write
        """)

    public static let all: [Case] = [terabyte, tenThousandWorkers, hundredThousandWorkers, randomTouches, randomTouchesFragmented, allocMix64G]

    /// The cases named (every case when `names` is empty), in the order of `all`. Only those are
    /// parsed, so that timing one case neither waits for nor holds the others' parsed workloads
    /// (`HundredThousandWorkers` alone is 200,000 statements).
    public static func cases(named names: [String]) -> [Case] {
        let lazily: [(name: String, make: () -> Case)] = [
            ("Terabyte", { terabyte }), ("TenThousandWorkers", { tenThousandWorkers }),
            ("HundredThousandWorkers", { hundredThousandWorkers }), ("RandomTouches", { randomTouches }),
            ("RandomTouchesFragmented", { randomTouchesFragmented }), ("AllocMix64G", { allocMix64G }),
        ]
        return lazily.filter { names.isEmpty || names.contains($0.name) }.map { $0.make() }
    }

    private static func make(_ name: String, _ body: String, distinctTouches: Int = 0, measuredFrom: Int = 0) -> Case {
        do {
            let workload = try WorkloadParser.parse("somsim-workload 1\n" + body, fileName: "\(name).somw")
            precondition(measuredFrom <= workload.statements.count)
            return Case(name: name, workload: workload, distinctTouches: distinctTouches, measuredFrom: measuredFrom)
        } catch {
            fatalError("benchmark workload \(name) does not parse: \(error)")
        }
    }
}
