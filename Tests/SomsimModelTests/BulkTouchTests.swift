@testable import SomsimModel
import SomsimWorkload
import Testing

/// The bulk touch path must do exactly what the page-by-page path does. Random workloads —
/// forks, exits, random and strided touches over pages in every state, DONTNEED, WIPEONFORK,
/// with and without THP — are replayed both ways and their whole reports compared.
@Suite struct BulkTouchTests {
    static func randomWorkload(seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed)
        let thp = ["never", "always", "madvise"][Int(rng.next(below: 3))]
        var lines = ["somsim-workload 1", "machine thp=\(thp)", "spawn p0"]
        var alive = ["p0"]
        var created = 1
        let mappings = ["a", "b"]
        lines.append("p0 mmap a 4M")
        lines.append("p0 mmap b 3M")
        if seed % 2 == 0 {
            // Whole mappings written before forks: random writes then meet one write-protected
            // extent (the fork/COW bulk case).
            lines.append("p0 touch a write")
            lines.append("p0 touch b write")
        }
        if rng.next(below: 2) == 0 { lines.append("p0 madvise a hugepage") }
        for step in 0..<60 {
            let p = alive[Int(rng.next(below: UInt64(alive.count)))]
            let m = mappings[Int(rng.next(below: 2))]
            let pages: UInt64 = m == "a" ? 1024 : 768
            switch rng.next(below: 10) {
            case 0:
                let child = "p\(created)"
                created += 1
                lines.append("\(p) fork \(child)")
                alive.append(child)
            case 1 where alive.count > 1 && p != "p0":
                lines.append("\(p) exit")
                alive.removeAll { $0 == p }
            case 2:
                let offset = rng.next(below: pages / 2) * 4
                lines.append("\(p) madvise \(m) dontneed offset=\(offset)K length=\(4 * (1 + rng.next(below: 64)))K")
            case 3 where step < 10:
                lines.append("\(p) madvise \(m) wipeonfork")
            case 4, 5:
                let stride = 4 * (2 + rng.next(below: 6))
                lines.append("\(p) touch \(m) \(rng.next(below: 2) == 0 ? "read" : "write") stride=\(stride)K")
            default:
                let count = 16 + rng.next(below: 200)
                lines.append("\(p) touch \(m) \(rng.next(below: 3) == 0 ? "read" : "write") random=\(count) seed=\(rng.next(below: 1000))")
            }
            if step % 15 == 14 { lines.append("measure m\(step)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func report(_ workload: Workload, bulk: Bool) -> Report {
        replay(workload) { $0.bulkTouches = bulk }
    }

    /// A first touch of many ranges merges them into the run's and the mapping's maps on two
    /// threads: the same reports as the page-by-page path (the threshold lowered so that the
    /// random workloads' touches take it).
    @Test(arguments: 0..<12)
    func parallelMergesAgree(seed: UInt64) throws {
        let workload = try WorkloadParser.parse(Self.randomWorkload(seed: seed), fileName: "bulk-\(seed).somw")
        let reference = Self.report(workload, bulk: false)
        let parallel = replay(workload) {
            $0.bulkTouches = true
            $0.measureThreads = 2
            $0.parallelMergeRanges = 16
        }
        #expect(parallel == reference, "seed \(seed)")
    }

    @Test func preforkShapedWorkloadAgrees() throws {
        let text = """
            somsim-workload 1
            spawn master
            master mmap heap 8M
            master touch heap write
            repeat 12 as i {
              master fork w{i}
              w{i} touch heap write random=300 seed={i}
              w{i} touch heap write random=300 seed={i}
              w{i} touch heap read stride=12K
            }
            w3 exit
            master touch heap write random=500 seed=99
            w5 exit
            w7 touch heap write stride=8K
            w0 exit
            w1 exit
            w2 exit
            w4 exit
            w6 exit
            w8 exit
            w9 exit
            w10 exit
            w11 exit
            master touch heap write stride=8K
            """
        let workload = try WorkloadParser.parse(text, fileName: "prefork-shaped.somw")
        let bulk = Self.report(workload, bulk: true)
        let reference = Self.report(workload, bulk: false)
        #expect(bulk == reference)
        // The shape really copies and reuses (else this test would not test the bulk COW path).
        #expect(reference.measures[0].processes.contains { $0.cowCopies > 0 })
        #expect(reference.measures[0].processes.contains { $0.cowReuses > 0 })
    }

    /// Random touches over a mapping that earlier touches fragmented (zero pages, written pages
    /// and untouched ones interleaved: the bulk path across extents), reads and writes, then the
    /// same after a fork (write-protected pieces: the page-by-page path decides).
    @Test func fragmentedMappingAgrees() throws {
        let text = """
            somsim-workload 1
            spawn p
            p mmap big 64M
            p touch big read random=3000 seed=7
            p touch big write length=8M stride=64K
            p touch big read random=2000 seed=3
            p touch big write random=4000 seed=1
            measure fragmented
            p fork c
            c touch big write random=500 seed=5
            p touch big write random=4000 seed=2
            c touch big read random=4000 seed=9
            """
        let workload = try WorkloadParser.parse(text, fileName: "fragmented.somw")
        let bulk = Self.report(workload, bulk: true)
        let reference = Self.report(workload, bulk: false)
        #expect(bulk == reference)
        // 64 MiB is 16,384 pages: the touches really fragment it (else the path is not tested).
        let first = try #require(reference.measures.first?.processes.first)
        #expect(first.rssBytes > 4000 * 4096 && first.rssBytes < 16_384 * 4096)
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func bulkAndPageByPageAgree(seed: UInt64) throws {
        let workload = try WorkloadParser.parse(Self.randomWorkload(seed: seed), fileName: "random-\(seed).somw")
        let bulk = Self.report(workload, bulk: true)
        let reference = Self.report(workload, bulk: false)
        #expect(bulk.errors == reference.errors)
        for (b, r) in zip(bulk.measures, reference.measures) {
            #expect(b.processes == r.processes, "measure \(r.label)")
            #expect(b.system == r.system, "measure \(r.label)")
            #expect(b.schemes == r.schemes, "measure \(r.label)")
        }
    }
}

/// Replays a workload on a simulator `configure` set up (to choose a reference path), with the
/// final "end" measure, as `Simulator.run` does.
func replay(_ workload: Workload, configure: (inout Simulator) -> Void) -> Report {
    var simulator = Simulator(machine: workload.machine)
    configure(&simulator)
    for statement in workload.statements { simulator.apply(statement) }
    simulator.measure(label: "end")
    return simulator.report
}
