#if os(Linux)
import CSomsimAgent
import CSomsimProbeSupport
import Glibc
@testable import SomsimProbe
import SomsimModel
import SomsimWorkload
import Testing

/// Constants written twice, once in C (the agent, the restore plan) and once in Swift (the model,
/// the probe), that must agree. Nothing else checks them: a change on one side only would make
/// the agent map outside the model's window, send other advice than the model applied, or plan
/// runs the restore plan cannot record.
@Suite struct SharedConstantsTests {
    /// The agent's window (it populates its own memory outside it) is the model's.
    @Test func theAgentsWorkloadWindowIsTheModels() {
        #expect(WorkloadWindow.lowAddress == SOMSIM_WINDOW_LOW)
        #expect(WorkloadWindow.highAddress == SOMSIM_WINDOW_HIGH)
        #expect(WorkloadWindow.heapAddress == SOMSIM_HEAP_ADDRESS)
    }

    /// The advice values the probe sends are the C library's MADV_* constants.
    @Test(arguments: Advice.allCases)
    func theAdviceSentIsTheCLibrarysValue(_ advice: Advice) {
        let expected: Int32
        switch advice {
        case .dontneed: expected = MADV_DONTNEED
        case .dontfork: expected = MADV_DONTFORK
        case .dofork: expected = MADV_DOFORK
        case .hugepage: expected = MADV_HUGEPAGE
        case .nohugepage: expected = MADV_NOHUGEPAGE
        case .wipeonfork: expected = MADV_WIPEONFORK
        case .keeponfork: expected = MADV_KEEPONFORK
        case .remove: expected = MADV_REMOVE
        case .willneed: expected = MADV_WILLNEED
        case .populateRead: expected = MADV_POPULATE_READ
        case .populateWrite: expected = MADV_POPULATE_WRITE
        // glibc's <sys/mman.h> has no MADV_COLLAPSE yet: the value of
        // include/uapi/asm-generic/mman-common.h.
        case .collapse: expected = 25
        case .cold: expected = MADV_COLD
        case .pageout: expected = MADV_PAGEOUT
        }
        #expect(Run.adviceValue(advice) == expected, "\(advice)")
    }

    /// The model's errno numbers, which turn the agent's errno into the model's typed `Errno`,
    /// are the C library's.
    @Test(arguments: Errno.allCases)
    func theModelsErrnoNumbersAreTheCLibrarys(_ errno: Errno) {
        let expected: Int32
        switch errno {
        case .EPERM: expected = EPERM
        case .ENOENT: expected = ENOENT
        case .ESRCH: expected = ESRCH
        case .EINTR: expected = EINTR
        case .EIO: expected = EIO
        case .EBADF: expected = EBADF
        case .EAGAIN: expected = EAGAIN
        case .ENOMEM: expected = ENOMEM
        case .EACCES: expected = EACCES
        case .EFAULT: expected = EFAULT
        case .EBUSY: expected = EBUSY
        case .EEXIST: expected = EEXIST
        case .ENODEV: expected = ENODEV
        case .EINVAL: expected = EINVAL
        case .ENOSPC: expected = ENOSPC
        case .EOVERFLOW: expected = EOVERFLOW
        case .EFBIG: expected = EFBIG
        }
        #expect(errno.code == expected, "\(errno)")
        #expect(SystemCallError(expected).name == errno.rawValue)
    }

    /// The model's signal numbers, which name the signal an agent died of, are the C library's.
    @Test(arguments: Signal.allCases)
    func theModelsSignalNumbersAreTheCLibrarys(_ signal: Signal) {
        let expected: Int32
        switch signal {
        case .SIGBUS: expected = SIGBUS
        case .SIGSEGV: expected = SIGSEGV
        case .SIGKILL: expected = SIGKILL
        }
        #expect(signal.number == expected, "\(signal)")
    }

    /// The system calls the probe makes by number are the C library's.
    @Test func theNamedSystemCallsAreTheKernels() {
        // x86-64 (arch/x86/entry/syscalls/syscall_64.tbl): munmap 11, madvise 28, mprotect 10.
        #expect(SOMSIM_SYS_MUNMAP.rawValue == 11)
        #expect(SOMSIM_SYS_MADVISE.rawValue == 28)
        #expect(SOMSIM_SYS_MPROTECT.rawValue == 10)
        #expect(SOMSIM_SYS_MLOCK.rawValue == 149)
        #expect(SOMSIM_SYS_MUNLOCK.rawValue == 150)
        // ftruncate 77, fallocate 285, close 3.
        #expect(SOMSIM_SYS_FTRUNCATE.rawValue == 77)
        #expect(SOMSIM_SYS_FALLOCATE.rawValue == 285)
        #expect(SOMSIM_SYS_CLOSE.rawValue == 3)
        // mremap 25.
        #expect(SOMSIM_SYS_MREMAP.rawValue == 25)
    }

    /// The mmap command's flags are distinct bits: the agent tests each alone.
    @Test func theMmapFlagsAreDistinctBits() {
        let flags = [SOMSIM_FLAG_WRITE, SOMSIM_FLAG_SHARED, SOMSIM_FLAG_POPULATE, SOMSIM_FLAG_NORESERVE, SOMSIM_FLAG_KEEP_FD, SOMSIM_FLAG_USE_FD].map(\.rawValue)
        #expect(flags.allSatisfy { $0 != 0 && $0 & ($0 - 1) == 0 })
        #expect(flags.reduce(0, |) == flags.reduce(0, +))
    }

    /// Planning refuses more spawns than the restore plan has process groups for.
    @Test func plannedSpawnsFitTheRestorePlansGroups() {
        #expect(Probe.maxSpawns == Int(SOMSIM_RESTORE_MAX_GROUPS))
    }

    /// The longest `file=` path validate makes fits the agent's path field: the file ID planning
    /// allows, in the longest directory a run makes (`Run.setUpMachine`: a hugetlbfs mount of its
    /// own, pid up to pid_max's 4194304).
    @Test func theLongestPlannedFilePathFitsTheAgentsPathField() {
        let directory = "\(RestorePlan.directory)/hugetlbfs-2M/somsim-validate-4194304"
        let bytes = directory.utf8.count + 1 + Probe.maxFileIDBytes
        #expect(bytes < Int(SOMSIM_PATH_BYTES), "\(bytes) bytes")
        #expect(directory.utf8.count < Int(SOMSIM_RESTORE_PATH_BYTES))
    }

    /// The restore plan kills a process as an agent by its name in /proc/PID/stat, which the
    /// kernel cuts at 15 bytes (TASK_COMM_LEN): the name agents take must be that name, whole.
    @Test func theAgentsProcessNameIsTheNameTheRestoreLooksFor() {
        let argv0 = String(cString: somsim_agent_argv0())
        #expect(argv0 == SOMSIM_AGENT_COMM)
        #expect(argv0.utf8.count <= 15)
    }

    /// Each exit status of an agent has its own meaning in the probe's messages.
    @Test func eachAgentExitStatusHasItsOwnMeaning() {
        let codes = [SOMSIM_AGENT_EXIT_OK, SOMSIM_AGENT_EXIT_SEND_FAILED, SOMSIM_AGENT_EXIT_RECEIVE_FAILED,
                     SOMSIM_AGENT_EXIT_MAPS_UNREADABLE, SOMSIM_AGENT_EXIT_CHANNEL_FAILED].map { Int32($0.rawValue) }
        let meanings = codes.map(Agent.exitMeaning)
        #expect(Set(codes).count == codes.count)
        #expect(Set(meanings).count == meanings.count)
        #expect(!meanings.contains(Agent.exitMeaning(1)))
    }
}
#endif
