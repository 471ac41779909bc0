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
}
#endif
