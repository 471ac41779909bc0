@testable import SomsimModel
import SomsimWorkload
import Testing

/// Memory capacity (Capacity.swift): pools trimmed to what RAM holds, mmap's overcommit check,
/// and the OOM killer, each against numbers worked out by hand from the kernel's rules.
@Suite struct CapacityTests {
    /// `min_free_kbytes` follows the kernel's formula: ⌊√(lowmem_kbytes × 16)⌋, between 128 and
    /// 262144 (mm/page_alloc.c: calculate_min_free_kbytes); lowmem is RAM less the memmap.
    @Test(arguments: [
        // RAM, memmap pages (a section's 2 MiB of struct pages per 128 MiB), min_free_kbytes.
        (UInt64(16) << 30, UInt64(65536), UInt64(16255)),  // ⌊√((4194304 − 65536) × 4 × 16)⌋
        (UInt64(1) << 30, UInt64(4096), UInt64(4063)),
        (UInt64(64) << 20, UInt64(512), UInt64(1007)),
        (UInt64(4) << 40, UInt64(16_777_216), UInt64(260_087)),
        (UInt64(8) << 40, UInt64(33_554_432), UInt64(262_144)),  // clamped from 367819
        (UInt64(4) << 10, UInt64(512), UInt64(128)),  // the memmap is larger than RAM: clamped at 128
    ])
    func theFreePageReserveFollowsTheKernelsFormula(ram: UInt64, memmap: UInt64, minFreeKbytes: UInt64) {
        var machine = MachineSpec()
        machine.ramBytes = ram
        let simulator = Simulator(machine: machine)
        #expect(simulator.budget.bootMemmapPages == memmap)
        #expect(simulator.budget.reservePages == minFreeKbytes / 4)
    }

    @Test(arguments: [0, 1, 2, 3, 4, 15, 16, 17, 1 << 52, (1 << 52) - 1, UInt64.max] as [UInt64])
    func integerSquareRootIsExact(n: UInt64) {
        let root = MemoryBudget.integerSquareRoot(n)
        #expect(root.multipliedFullWidth(by: root).high == 0 && root * root <= n, "n \(n)")
        let next = (root + 1).multipliedFullWidth(by: root + 1)
        #expect(next.high > 0 || next.low > n, "n \(n)")
    }

    /// A pool cannot take the memory the memmap and the free-page reserve hold: 16 GiB of 1 GiB
    /// pages on 16 GiB of RAM reads back 15, as nr_hugepages would; 2 MiB pages fill what is left.
    @Test func poolsReadBackWhatRAMHolds() throws {
        let report = try simulate("machine ram=16G hugetlb-1g=16 hvo=on")
        #expect(report.measures[0].system.hugetlb1GTotal == 15)
        #expect(report.measures[0].system.hugetlb1GFree == 15)
        #expect(report.errors.map(\.outcome) == [.poolTrimmed])
        #expect(report.errors.first?.line == 2)
        #expect(report.errors.first?.statement == "machine hugetlb-1g=16 hvo=on")  // ram=16G is the default

        // 2 MiB pages: RAM 4194304 pages, less 65536 memmap and 4063 reserve (16255 kB), is
        // 4124705 pages; each pool page takes 512, and gives back 7 of its 8 vmemmap pages with HVO.
        let off = try simulate("machine ram=16G hugetlb-2m=10000")
        #expect(off.measures[0].system.hugetlb2MTotal == 4_124_705 / 512)
        let on = try simulate("machine ram=16G hugetlb-2m=10000 hvo=on")
        #expect(on.measures[0].system.hugetlb2MTotal == 1 + (4_124_705 - 512) / 505)
        // The memmap HVO leaves is never less than zero, however large the request.
        #expect(on.measures[0].system.memmapPages == 65536 - on.measures[0].system.hugetlb2MTotal * 7)
        let huge = try simulate("machine ram=1M hugetlb-1g=18446744073709551615 hugetlb-2m=18446744073709551615 hvo=on")
        #expect(huge.measures[0].system.hugetlb1GTotal == 0 && huge.measures[0].system.hugetlb2MTotal == 0)
        #expect(huge.errors.count == 2)
    }

    /// A pool that fits is not trimmed, and nothing is reported.
    @Test func aPoolThatFitsIsUntouched() throws {
        let report = try simulate("machine ram=16G hugetlb-2m=7000 hugetlb-1g=1")
        #expect(report.measures[0].system.hugetlb2MTotal == 7000)
        #expect(report.measures[0].system.hugetlb1GTotal == 1)
        #expect(report.errors.isEmpty)
    }

    /// One private mapping larger than the RAM the kernel manages fails at mmap (OVERCOMMIT_GUESS);
    /// HugeTLB and tmpfs-file mappings are not checked this way.
    @Test func overcommitRefusesOneMappingLargerThanRAM() throws {
        let report = try simulate(
            """
            machine ram=1G
            spawn a
            a mmap private 1G
            a mmap shared 1G shared
            a mmap fits 1000M
            a mmap file 2G file=f shared
            """)
        #expect(report.errors.map(\.line) == [4, 5])
        #expect(report.errors.allSatisfy { $0.errno == .ENOMEM && $0.outcome == nil })
    }

    /// The example: 110 GiB of anonymous memory on a 16 GiB machine. The process is
    /// killed once its writes fill RAM, and its memory is freed.
    @Test func writingMoreThanRAMEndsInTheOOMKiller() throws {
        let report = try simulate(
            """
            machine ram=16G
            spawn app
            repeat 11 as i {
              app mmap heap{i} 10G
              app touch heap{i} write
            }
            measure after
            """)
        let app = report.measure("after").process("app")
        #expect(!app.alive)
        #expect(app.signals == [.SIGKILL])
        #expect(report.measure("after").system.anonBytes == 0)
        let oom = try #require(report.errors.first { $0.outcome == .oomKill })
        #expect(oom.process == "app" && oom.errno == .ENOMEM && oom.line == 6)
        // It faulted in what fit before it died: RAM less the memmap, the reserve, its kernel
        // state and page tables.
        #expect(app.minorFaults > 4_000_000 && app.minorFaults < 4_124_705)
        // The statements after the kill are refused: the process is gone.
        #expect(report.errors.dropFirst().allSatisfy { $0.errno == .ESRCH })
    }

    /// The OOM killer picks the process with the most RSS plus page tables, not the one that
    /// faulted: here the hog, and the allocating process goes on.
    @Test func theVictimIsTheLargestProcess() throws {
        let report = try simulate(
            """
            machine ram=1G
            spawn hog
            hog mmap m 800M
            hog touch m write
            spawn small
            small mmap m 400M
            small touch m write
            measure after
            """)
        let measure = report.measure("after")
        #expect(!measure.process("hog").alive && measure.process("hog").signals == [.SIGKILL])
        #expect(measure.process("small").alive)
        #expect(measure.process("small").rssBytes == 400 << 20)
        #expect(report.errors.map(\.process) == ["hog"])
        #expect(report.errors.first?.line == 8)
    }

    /// Equal badness: the kernel walks tasks in creation order and takes a later task with equal
    /// points, so the last created of the largest is killed.
    @Test func onATieTheLatestCreatedDies() throws {
        let report = try simulate(
            """
            machine ram=1G
            spawn a
            a mmap m 340M
            a touch m write
            spawn b
            b mmap m 340M
            b touch m write
            spawn c
            c mmap m 340M
            c touch m write
            measure after
            """)
        let measure = report.measure("after")
        #expect(report.errors.map(\.process) == ["b"])
        #expect(measure.process("a").alive && !measure.process("b").alive && measure.process("c").alive)
    }

    /// Shared memory counts too, and is not freed when one of its mappers dies: the process that
    /// wrote it is killed, then the next allocation kills the process still mapping it.
    @Test func sharedMemoryIsCountedAndOutlivesOneMapper() throws {
        let report = try simulate(
            """
            machine ram=1G
            spawn a
            a mmap shm 700M shared
            a touch shm write
            a fork b
            b touch shm read
            spawn c
            c mmap m 400M
            c touch m write
            measure after
            """)
        let measure = report.measure("after")
        // b maps 700 MiB of shmem plus page tables; a the same but was created first: b dies,
        // but the shmem lives on in a; c still cannot fit, so a dies as well.
        #expect(report.errors.compactMap(\.process) == ["b", "a"])
        #expect(measure.process("c").alive && measure.process("c").rssBytes == 400 << 20)
    }

    /// Near the limit, faults fall back from THPs to 4 KiB pages before the OOM killer runs:
    /// no process dies while memory is left.
    @Test func largeFoliosFallBackToSmallPagesNearTheLimit() throws {
        let report = try simulate(
            """
            machine ram=1G thp=always
            spawn a
            a mmap m 1000M
            a touch m write length=978M
            measure filled
            """)
        #expect(report.errors.isEmpty)
        #expect(report.measure("filled").process("a").rssBytes == 978 << 20)
    }

    /// The counters the capacity check reads stay equal to a count over the engine's maps, on
    /// the random workloads of the fault-around and bulk-touch tests (shared, file and private
    /// memory, forks, exits, DONTNEED, WIPEONFORK, THP).
    @Test(arguments: 1...20 as ClosedRange<UInt64>)
    func countersMatchAFullRecount(seed: UInt64) throws {
        for text in [FaultAroundTests.randomWorkload(seed: seed), BulkTouchTests.randomWorkload(seed: seed)] {
            let workload = try WorkloadParser.parse(text, fileName: "counters-\(seed).somw")
            var simulator = Simulator(machine: workload.machine)
            for statement in workload.statements {
                simulator.apply(statement)
                var tables: UInt64 = 0
                var mappings: UInt64 = 0
                for process in simulator.processes where process.alive {
                    tables += process.pageTables.tableCounts.reduce(0, +)
                    mappings += UInt64(process.mappings.count)
                }
                var cached: UInt64 = 0
                for group in simulator.groups where group.huge == nil {
                    if case .pageCache = group.kind {
                        group.pages.forEach(in: 0..<group.pages.length) { range, page in if page.present { cached += UInt64(range.count) } }
                    }
                }
                let place = "seed \(seed), line \(statement.location.line)"
                #expect(simulator.tablePages == tables, "\(place)")
                #expect(simulator.liveMappings == mappings, "\(place)")
                #expect(simulator.cachePagesPresent == cached, "\(place)")
                #expect(simulator.liveProcesses == UInt64(simulator.processes.filter(\.alive).count), "\(place)")
            }
        }
    }
}
