#if os(Linux)
import CSomsimProbeSupport
import Foundation
import Glibc
@testable import SomsimProbe
import SomsimWorkload
import Testing

/// The probe's parts for pools and SysV shared memory that need no validation run.
@Suite struct PoolsAndShmProbeTests {
    /// x86-64 (arch/x86/entry/syscalls/syscall_64.tbl): shmget 29, shmat 30, shmctl 31, shmdt 67.
    @Test func theSysVCallsAreTheKernels() {
        #expect(SOMSIM_SYS_SHMGET.rawValue == 29)
        #expect(SOMSIM_SYS_SHMAT.rawValue == 30)
        #expect(SOMSIM_SYS_SHMCTL.rawValue == 31)
        #expect(SOMSIM_SYS_SHMDT.rawValue == 67)
    }

    @Test func theJournalReadsSegmentSteps() throws {
        let journal = try RestorePlan.parse("somsim-restore-journal 1\nowner\t42\t7\nshm\t43\t1700000000\n")
        #expect(journal.steps == [.shm(43, 1_700_000_000)])
        #expect(journal.steps[0].description == "remove the SysV segments of agent 43")
        for damaged in ["somsim-restore-journal 1\nshm\t43\n", "somsim-restore-journal 1\nshm\t0\t1\n", "somsim-restore-journal 1\nshm\tx\t1\n"] {
            #expect(throws: ProbeError.self, "\(damaged.debugDescription)") { try RestorePlan.parse(damaged) }
        }
    }

    /// What validate asks of the machine for a workload that resizes a pool mid-run, adds
    /// surplus pages or makes SysV segments: the largest pool it ever holds must fit.
    @Test func planningCountsSysctlAndSurplusPages() throws {
        let w = try WorkloadParser.parse(
            "somsim-workload 1\nmachine hugetlb-2m=1 hugetlb-2m-overcommit=2\nsysctl hugetlb-2m=3\nspawn a\na shmget k 2M huge=2M\n", fileName: "x")
        let usage = WorkloadUsage(w)
        #expect(usage.sysctlPoolPages == [.size2M: 3])
        #expect(usage.hugePageSizes == [.size2M])
        // 3 pool pages + 2 surplus = 10 MiB, + 512 MiB headroom: 521 MiB of MemAvailable is short.
        var facts = MachineSettings.Facts(presentBytes: 1 << 30, memTotalBytes: 1 << 30, memAvailableBytes: 521 << 20, pti: false, ptiText: "", root: true, hugetlbfs: true)
        let short = MachineSettings.problems(for: w.machine, usesHugeTLB: true, sysctlPoolPages: usage.sysctlPoolPages, facts: facts)
        #expect(short.contains { $0.contains("the pools need 10 MiB + 512 MiB headroom") })
        facts.memAvailableBytes = 522 << 20
        let enough = MachineSettings.problems(for: w.machine, usesHugeTLB: true, sysctlPoolPages: usage.sysctlPoolPages, facts: facts)
        #expect(!enough.contains { $0.contains("not enough free memory") })
    }
}

extension RealKernelTests {
    /// The restore plan removes the SysV segments a creator made since its time, even when the
    /// run never said which (their ids are known only after shmget): not another creator's, nor
    /// one made before the time.
    @Test func theRestorePlanRemovesTheSegmentsOfItsCreators() throws {
        try RestorePlan.runNow()
        defer { try? RestorePlan.runNow() }
        let id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)
        try #require(id >= 0)
        defer { shmctl(id, IPC_RMID, nil) }
        var ds = shmid_ds()
        try #require(shmctl(id, IPC_STAT, &ds) == 0)
        try RestorePlan.shm(creator: getpid(), since: Int64(ds.shm_ctime) + 1)
        try RestorePlan.shm(creator: getpid() + 1, since: 0)
        try RestorePlan.runNow()
        #expect(shmctl(id, IPC_STAT, &ds) == 0)
        try RestorePlan.shm(creator: getpid(), since: Int64(ds.shm_ctime))
        try RestorePlan.runNow()
        #expect(shmctl(id, IPC_STAT, &ds) == -1 && errno == EINVAL)
    }

    /// The ids of the SysV segments `creator` made (SHM_STAT over every index).
    static func segments(createdBy creator: pid_t) -> [Int32] {
        var info = shm_info()
        let highest = withUnsafeMutablePointer(to: &info) { $0.withMemoryRebound(to: shmid_ds.self, capacity: 1) { shmctl(0, SHM_INFO, $0) } }
        guard highest >= 0 else { return [] }
        var ids: [Int32] = []
        for index in 0...highest {
            var ds = shmid_ds()
            let id = shmctl(index, SHM_STAT, &ds)
            if id >= 0 && ds.shm_cpid == creator { ids.append(id) }
        }
        return ids
    }

    /// A validate killed (SIGKILL) after its agent made a HugeTLB and a shmem segment: the
    /// journal names the agent, and `somsim validate --restore` removes both segments (their
    /// ids were never journaled), so the pool is free again and written back.
    @Test func aKilledValidatesSegmentsAreRemovedAtRestore() throws {
        let before = try Self.settings()
        #expect(!FileManager.default.fileExists(atPath: RestorePlan.journalPath))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-shm-sigkill-\(getpid()).somw")
        defer { try? FileManager.default.removeItem(at: file) }
        let text = """
            somsim-workload 1
            machine hugetlb-2m=3 hvo=on
            spawn a
            a shmget k 2M huge=2M
            a shmget s 64K
            a mmap m 64M
            a touch m write
            repeat 20000 as i {
              a fork c{i}
              c{i} touch m write length=4M
              c{i} exit
            }
            """
        guard let process = try Self.startLongValidate(text, pool2M: 3, file: file) else {
            _ = try? Probe.restore()
            Self.forceRestore(before)
            return
        }
        let pid = process.processIdentifier
        let agent = Self.agentsLeft().first { Self.parent(of: $0) == pid } ?? 0
        #expect(Self.eventually(60) { Self.segments(createdBy: agent).count == 2 })
        kill(pid, SIGKILL)
        process.waitUntilExit()
        let journal = try RestorePlan.parse(String(contentsOfFile: RestorePlan.journalPath, encoding: .utf8))
        #expect(journal.steps.contains { if case .shm(agent, _) = $0 { return true } else { return false } })
        let (status, output) = try Self.run(Self.somsim, ["validate", "--restore"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("remove the SysV segments of agent \(agent)"))
        #expect(Self.segments(createdBy: agent).isEmpty)
        #expect(try Self.settings() == before)
        #expect(Self.noAgentsLeft())
        if try Self.settings() != before { Self.forceRestore(before) }
    }
}
#endif
