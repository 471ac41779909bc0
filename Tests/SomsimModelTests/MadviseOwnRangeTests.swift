@testable import SomsimModel
import SomsimWorkload
import Testing

/// A madvise whose range lies inside the mapping it names skips the walk over the process's
/// layout (`Simulator.madvise`); it must do exactly what the walk does. Random workloads — many
/// small neighbouring mappings of every kind, madvise ranges inside one mapping, running past it
/// into its neighbours and into gaps, range munmaps and mremaps that leave holes and move
/// mappings, mprotect and mlock that split VMAs, forks, touches — are replayed both ways and
/// their reports, placements and per-statement outcomes compared.
@Suite struct MadviseOwnRangeTests {
    static func randomWorkload(seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed)
        let thp = ["never", "always", "madvise"][Int(rng.next(below: 3))]
        var lines = ["somsim-workload 1", "machine ram=1G thp=\(thp) mthp=64K hugetlb-2m=16", "spawn p0"]
        // Each live process's mappings: kind and size in KiB (offsets of HugeTLB ones in 2 MiB).
        var processes: [String: [String: (huge: Bool, sizeK: UInt64)]] = ["p0": [:]]
        var created = 1
        let kinds = ["", "", "", " shared", " huge=2M", " noreserve", " populate"]
        func mmap(_ name: String) {
            let kind = kinds[Int(rng.next(below: UInt64(kinds.count)))]
            let huge = kind == " huge=2M"
            let sizeK = huge ? 2048 * (1 + rng.next(below: 2)) : 4 * (1 + rng.next(below: 48))
            lines.append("p0 mmap \(name) \(sizeK)K\(kind)")
            processes["p0"]?[name] = (huge, sizeK)
        }
        for i in 0..<12 { mmap("m\(i)") }
        let advices = ["hugepage", "nohugepage", "dontneed", "dontfork", "dofork", "wipeonfork", "keeponfork", "cold", "pageout", "willneed", "remove"]
        for step in 0..<120 {
            let p = processes.keys.sorted()[Int(rng.next(below: UInt64(processes.count)))]
            let owned = processes[p]!.keys.sorted()
            if step % 30 == 29 { lines.append("measure m\(step)") }
            if rng.next(below: 12) == 0 || owned.isEmpty {
                if processes["p0"] != nil { mmap("n\(step)") }
                continue
            }
            let m = owned[Int(rng.next(below: UInt64(owned.count)))]
            let (huge, sizeK) = processes[p]![m]!
            // Offsets and lengths in pages of the mapping.
            let unit: UInt64 = huge ? 2048 : 4
            let pages = sizeK / unit
            switch rng.next(below: 20) {
            case 0..<8:
                let advice = advices[Int(rng.next(below: UInt64(advices.count)))]
                // Mostly inside the mapping; sometimes past its end, into the neighbours.
                let offset = unit * rng.next(below: pages + 1)
                switch rng.next(below: 4) {
                case 0: lines.append("\(p) madvise \(m) \(advice)")
                case 1: lines.append("\(p) madvise \(m) \(advice) offset=\(offset)K")
                case 2: lines.append("\(p) madvise \(m) \(advice) offset=\(offset)K length=\(unit * rng.next(below: pages + 1))K")
                default: lines.append("\(p) madvise \(m) \(advice) offset=\(offset)K length=\(unit * (1 + rng.next(below: pages + 64)))K")
                }
            case 8..<11:
                let access = rng.next(below: 2) == 0 ? "read" : "write"
                lines.append(rng.next(below: 2) == 0 ? "\(p) touch \(m) \(access)" : "\(p) touch \(m) \(access) random=\(1 + rng.next(below: pages)) seed=\(rng.next(below: 100))")
            case 11 where !huge && pages > 1:
                let offset = rng.next(below: pages - 1)
                lines.append("\(p) munmap \(m) offset=\(unit * offset)K length=\(unit * (1 + rng.next(below: pages - offset - 1)))K")
            case 12 where !huge:
                let newK = 4 * (1 + rng.next(below: 64))
                lines.append("\(p) mremap \(m) \(newK)K\(rng.next(below: 2) == 0 ? " maymove" : "")")
                processes[p]![m] = (huge, newK)
            case 13:
                let offset = rng.next(below: pages)
                lines.append("\(p) mprotect \(m) \(["read", "write", "none"][Int(rng.next(below: 3))]) offset=\(unit * offset)K length=\(unit * (1 + rng.next(below: pages - offset)))K")
            case 14:
                let offset = rng.next(below: pages)
                lines.append("\(p) mlock \(m) offset=\(unit * offset)K length=\(unit * (1 + rng.next(below: pages - offset)))K")
            case 15 where step % 3 == 0:
                let child = "p\(created)"
                created += 1
                lines.append("\(p) fork \(child)")
                processes[child] = processes[p]
            case 16:
                lines.append("\(p) munmap \(m)")
                processes[p]![m] = nil
            default:
                lines.append("\(p) madvise \(m) \(advices[Int(rng.next(below: UInt64(advices.count)))])")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report, the placements and each statement's outcome, with or without the shortcut
    /// (flag-setting advice applied in one lookup, the simulator's default).
    static func run(_ workload: Workload, walk: Bool) -> (Report, [Simulator.Placement], [Simulator.Outcome]) {
        run(workload, oneLookup: true, walk: walk)
    }

    @Test(arguments: 0..<40)
    func shortcutIsTheWalk(seed: UInt64) throws {
        let seed = 7100 + seed
        let text = Self.randomWorkload(seed: seed)
        let workload = try WorkloadParser.parse(text, fileName: "madvise-own-\(seed).somw")
        let walked = Self.run(workload, walk: true)
        let short = Self.run(workload, walk: false)
        #expect(short.0 == walked.0, "seed \(seed): the reports differ")
        #expect(short.1 == walked.1, "seed \(seed): the placements differ")
        #expect(short.2 == walked.2, "seed \(seed): the outcomes differ")
        // The runs reach what matters: advice refused, ranges past the mapping, measures.
        #expect(walked.0.errors.count > 0 && walked.0.measures.count >= 4, "seed \(seed)")
    }

    /// The report, the placements and each statement's outcome, with flag-setting advice applied
    /// in the lookup that reads the VMAs or in a second one (`Simulator.advise`).
    static func run(_ workload: Workload, oneLookup: Bool, walk: Bool) -> (Report, [Simulator.Placement], [Simulator.Outcome]) {
        var simulator = Simulator(machine: workload.machine, machineLine: workload.machineLine ?? 0)
        simulator.madviseFlagsInOneLookup = oneLookup
        simulator.madviseWalksLayout = walk
        var outcomes: [Simulator.Outcome] = []
        for statement in workload.statements { outcomes.append(simulator.apply(statement)) }
        simulator.measure(label: "end")
        return (simulator.report, simulator.placements, outcomes)
    }

    /// A flag-setting advice applied in one lookup does exactly what the two lookups do: the
    /// same random workloads (flag advice on fresh, touched, THP-backed, HugeTLB, split and
    /// partly unmapped mappings, refused advice, ranges past the mapping), with and without the
    /// layout walk.
    @Test(arguments: 0..<40)
    func oneLookupIsTwoLookups(seed: UInt64) throws {
        let seed = 7300 + seed
        let text = Self.randomWorkload(seed: seed)
        let workload = try WorkloadParser.parse(text, fileName: "madvise-one-lookup-\(seed).somw")
        for walk in [false, true] {
            let two = Self.run(workload, oneLookup: false, walk: walk)
            let one = Self.run(workload, oneLookup: true, walk: walk)
            #expect(one.0 == two.0, "seed \(seed), walk \(walk): the reports differ")
            #expect(one.1 == two.1, "seed \(seed), walk \(walk): the placements differ")
            #expect(one.2 == two.2, "seed \(seed), walk \(walk): the outcomes differ")
        }
    }

    /// The same over mappings backed by PMD-mapped THPs (flag advice at offsets inside 2 MiB
    /// blocks splits their PMDs first: the one-lookup path must leave those to the full one).
    @Test(arguments: 0..<12)
    func oneLookupIsTwoLookupsOverPMDMappedTHPs(seed: UInt64) throws {
        let seed = 7400 + seed
        var rng = SplitMix64(seed: seed)
        var lines = ["somsim-workload 1", "machine ram=4G thp=always mthp=64K", "spawn p0"]
        for i in 0..<3 { lines.append("p0 mmap t\(i) \(2 * (2 + rng.next(below: 3)))M") }
        let advices = ["hugepage", "nohugepage", "dontfork", "dofork", "wipeonfork", "keeponfork", "dontneed"]
        for step in 0..<30 {
            let m = "t\(rng.next(below: 3))"
            switch rng.next(below: 4) {
            case 0: lines.append("p0 touch \(m) \(rng.next(below: 2) == 0 ? "read" : "write")")
            case 1: lines.append("p0 fork c\(step)")
            default:
                let offset = 4 * rng.next(below: 1024)
                lines.append("p0 madvise \(m) \(advices[Int(rng.next(below: UInt64(advices.count)))]) offset=\(offset)K length=\(4 * (1 + rng.next(below: 1024)))K")
            }
            if step % 10 == 9 { lines.append("measure s\(step)") }
        }
        let workload = try WorkloadParser.parse(lines.joined(separator: "\n") + "\n", fileName: "madvise-one-lookup-thp-\(seed).somw")
        let two = Self.run(workload, oneLookup: false, walk: false)
        let one = Self.run(workload, oneLookup: true, walk: false)
        #expect(one.0 == two.0, "seed \(seed): the reports differ")
        #expect(one.2 == two.2, "seed \(seed): the outcomes differ")
    }
}
