@testable import SomsimModel
import SomsimWorkload
import Testing

/// Read faults on shared and file memory are counted over extents; the access-by-access path the
/// kernel takes (`readFaultAroundByPage`) is the reference. Random workloads — shared anonymous,
/// shared and private file mappings of sizes that are not multiples of the 64 KiB window (so
/// windows are clamped at both ends), reads and writes of random, strided and offset ranges,
/// forks, exits, DONTNEED and VMA splits — are replayed both ways and their whole reports compared.
@Suite struct FaultAroundTests {
    static func randomWorkload(seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed)
        var lines = ["somsim-workload 1", "spawn p0"]
        let sizes: [UInt64] = [1028, 1536, 2048, 260]  // KiB
        let options = ["shared", "file=f shared", "file=f", "file=g shared"]
        for (k, size) in sizes.enumerated() { lines.append("p0 mmap m\(k) \(size)K \(options[k])") }
        var alive = ["p0"]
        var created = 1
        for step in 0..<50 {
            let p = alive[Int(rng.next(below: UInt64(alive.count)))]
            let k = Int(rng.next(below: UInt64(sizes.count)))
            let pages = sizes[k] / 4
            let access = rng.next(below: 3) == 0 ? "write" : "read"
            switch rng.next(below: 9) {
            case 0:
                let child = "p\(created)"
                created += 1
                lines.append("\(p) fork \(child)")
                alive.append(child)
            case 1 where alive.count > 1 && p != "p0":
                lines.append("\(p) exit")
                alive.removeAll { $0 == p }
            case 2 where step < 8:
                // Splits the VMA: windows are clamped at its edges.
                let offset = rng.next(below: pages) * 4
                lines.append("\(p) madvise m\(k) dontfork offset=\(offset)K length=\(4 * (1 + rng.next(below: (pages - offset / 4))))K")
            case 2:
                let offset = rng.next(below: pages) * 4
                lines.append("\(p) madvise m\(k) dontneed offset=\(offset)K length=\(4 * (1 + rng.next(below: (pages - offset / 4))))K")
            case 3:
                lines.append("\(p) touch m\(k) \(access) stride=\(4 * (1 + rng.next(below: 40)))K")
            case 4, 5:
                let offset = rng.next(below: pages) * 4
                lines.append("\(p) touch m\(k) \(access) offset=\(offset)K length=\(4 * (1 + rng.next(below: (pages - offset / 4))))K")
            default:
                lines.append("\(p) touch m\(k) \(access) random=\(1 + rng.next(below: pages)) seed=\(rng.next(below: 1000))")
            }
            if step % 10 == 9 { lines.append("measure m\(step)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func report(_ workload: Workload, byPage: Bool) -> Report {
        replay(workload) { $0.faultAroundByPage = byPage }
    }

    @Test(arguments: 1...60 as ClosedRange<UInt64>)
    func extentsAndPagesAgree(seed: UInt64) throws {
        let workload = try WorkloadParser.parse(Self.randomWorkload(seed: seed), fileName: "fault-around-\(seed).somw")
        let extents = Self.report(workload, byPage: false)
        let byPage = Self.report(workload, byPage: true)
        #expect(extents.errors == byPage.errors, "seed \(seed)")
        for (e, w) in zip(extents.measures, byPage.measures) {
            #expect(e.processes == w.processes, "seed \(seed), measure \(w.label)")
            #expect(e.system == w.system, "seed \(seed), measure \(w.label)")
            #expect(e.schemes == w.schemes, "seed \(seed), measure \(w.label)")
        }
        // Not vacuous: the reads fault around cached pages in some processes.
        #expect(byPage.measures.last!.processes.contains { $0.minorFaults > 0 }, "seed \(seed)")
    }

    /// A 32 TiB shared file mapping populated in one statement, its first 8 TiB already in the
    /// page cache: one fault per 64 KiB window there, one per page elsewhere — computed from
    /// extents (the access-by-access path would take 2^33 steps).
    @Test func aHugeSharedMappingIsReadInExtents() throws {
        let report = try simulate(
            """
            machine ram=64T
            spawn a
            a mmap writer 8T file=f shared
            a touch writer write
            measure written
            a mmap reader 32T file=f shared populate
            measure read
            """)
        let written = report.measure("written").process("a").minorFaults
        #expect(written == (8 << 40) / 4096)
        let read = report.measure("read").process("a").minorFaults - written
        #expect(read == (8 << 40) / (64 << 10) + (24 << 40) / 4096)
    }
}
