@testable import SomsimModel
import SomsimWorkload
import Testing

/// The pool's units follow the pages: after every statement, each process holds a unit for
/// exactly the 2 MiB blocks where it maps som pages (outside its 1 GiB pages), whichever path
/// took or gave back the units (faults, madvise's range, the full walk of munmap, mremap, exit,
/// a fatal signal).
@Suite struct SomPoolDifferentialTests {
    static let workload = """
        somsim-workload 1
        machine ram=64G
        spawn a
        spawn b
        a mmap s 64M som page=4K
        a mmap d 64M som
        a mmap g 2G som page=1G
        b mmap s 16M som page=4K
        repeat 40 as i {
          a touch s write random=7 seed={i}
          a touch d read random=3 seed={i}
          b touch s write random=5 seed={i}
          a madvise s dontneed offset={i}M length=2M
          a madvise d dontneed offset={i}00K length=3M
          b munmap s offset={i}00K length=64K
        }
        a touch g write offset=1G length=4K
        a fork c
        a mremap s 128M maymove
        a touch s write random=50 seed=9
        a munmap d offset=2M length=8M
        a madvise g dontneed offset=1G length=1G
        b exit
        spawn e
        e mmap x 4M som
        e touch x write
        a exit
        """

    func expectedBlocks(_ sim: Simulator, _ p: ProcessID) -> Set<UInt64> {
        var blocks: Set<UInt64> = []
        let held = sim.somPool.holders[p]?.giants ?? [:]
        guard sim.processes[p].alive else { return [] }
        for m in sim.processes[p].mappings.values where m.isSingleOwner {
            m.pages.forEach(in: 0..<m.pageCount) { range, state in
                guard case .anon = state else { return }
                let low = (m.start + range.lowerBound * 4096) >> 21
                let high = (m.start + range.upperBound * 4096 - 1) >> 21
                for block in low...high where held[block >> 9] == nil { blocks.insert(block) }
            }
        }
        return blocks
    }

    @Test func unitsMatchThePagesAfterEveryStatement() throws {
        let workload = try WorkloadParser.parse(Self.workload, fileName: "diff.somw")
        var sim = Simulator(machine: workload.machine)
        for (n, statement) in workload.statements.enumerated() {
            sim.apply(statement)
            for p in sim.processes.ids {
                let held = Set(sim.somPool.holders[p]?.units.keys.map { $0 } ?? [])
                #expect(held == expectedBlocks(sim, p), "statement \(n + 1): \(statement.value.text)")
            }
            #expect(sim.somPool.usedUnits == sim.somPool.holders.values.reduce(0) { $0 + $1.unitCount })
        }
        // b touches the holes its munmaps left: SIGSEGV kills it, and its units go back.
        #expect(sim.report.errors.contains { $0.statement == "b exit" && $0.errno == .ESRCH })
    }
}
