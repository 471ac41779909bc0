#if os(Linux)
import CSomsimProbeSupport
import Foundation
import Glibc
@testable import SomsimProbe
import SomsimModel
import SomsimWorkload
import Testing

/// The agent: its own work never enters a measurement, and it ships inside the program.
extension RealKernelTests {
    /// Each call of each kind, made first after a fork (when the agent's writable pages are
    /// write-protected), in the parent and in the child, measures 0 faults when it touches no
    /// workload memory. A lazily bound agent measured 2 faults in the parent's first munmap.
    @Test func anAgentsFirstCallsAfterAForkMeasureNoFaults() throws {
        defer { try? RestorePlan.runNow() }  // kills the agents
        let parent = try Agent.spawn(name: "parent")
        let child = try parent.fork(child: "child")
        let address = WorkloadWindow.lowAddress
        for agent in [parent, child] {
            var calls: [(String, somsim_command)] = []
            func command(_ op: somsim_op, address: UInt64 = 0, length: UInt64 = 0) -> somsim_command {
                var c = somsim_command()
                c.op = UInt32(op.rawValue)
                c.address = address
                c.length = length
                return c
            }
            /// A system call through SOMSIM_OP_SYSCALL, as the probe makes munmap, madvise, mprotect.
            func call(_ system: somsim_syscall, _ a0: UInt64, _ a1: UInt64, _ a2: UInt64 = 0) -> somsim_command {
                var c = command(SOMSIM_OP_SYSCALL)
                c.number = Int64(system.rawValue)
                c.args.0 = a0
                c.args.1 = a1
                c.args.2 = a2
                return c
            }
            let unmapNothing = call(SOMSIM_SYS_MUNMAP, address, 1 << 20)
            calls.append(("noop", command(SOMSIM_OP_NOOP)))
            calls.append(("munmap of nothing", unmapNothing))
            // MADV_DONTNEED (4): ENOMEM, nothing is mapped there.
            calls.append(("madvise of nothing", call(SOMSIM_SYS_MADVISE, address, 1 << 20, UInt64(MADV_DONTNEED))))
            calls.append(("mmap", command(SOMSIM_OP_MMAP, address: address, length: 1 << 20)))
            calls.append(("touch of no segment", command(SOMSIM_OP_TOUCH)))
            calls.append(("munmap", unmapNothing))
            calls.append(("mprotect of nothing", call(SOMSIM_SYS_MPROTECT, address, 1 << 20, UInt64(PROT_READ))))
            for (what, command) in calls {
                var c = command
                let reply = try agent.call(&c).reply
                #expect(reply.op_faults == 0, "\(agent.name): \(what) measured \(reply.op_faults) fault(s)")
            }
            #expect(agent.faults == 0)
        }
    }

    /// SOMSIM_OP_SYSCALL makes the call the probe names, with its arguments, and returns what
    /// it returned or its errno: here mprotect(2) on nothing (ENOMEM), on a mapping (0), and
    /// the protection it set, seen in /proc/PID/maps.
    @Test func theSyscallOpMakesTheNamedCall() throws {
        defer { try? RestorePlan.runNow() }  // kills the agent
        let agent = try Agent.spawn(name: "caller")
        let address = WorkloadWindow.lowAddress
        let nothing = try agent.syscall(SOMSIM_SYS_MPROTECT, address, 1 << 20, UInt64(PROT_READ)).reply
        #expect(nothing.status == SOMSIM_STATUS_ERRNO.rawValue && nothing.error == ENOMEM && nothing.result == -1)
        var map = somsim_command()
        map.op = UInt32(SOMSIM_OP_MMAP.rawValue)
        map.address = address
        map.length = 1 << 20
        #expect(try agent.call(&map).reply.status == SOMSIM_STATUS_OK.rawValue)
        let done = try agent.syscall(SOMSIM_SYS_MPROTECT, address, 1 << 20, UInt64(PROT_READ)).reply
        #expect(done.status == SOMSIM_STATUS_OK.rawValue && done.result == 0 && done.op_faults == 0)
        let maps = try String(contentsOfFile: "/proc/\(agent.pid)/maps", encoding: .utf8)
        let line = maps.split(separator: "\n").first { $0.hasPrefix(String(address, radix: 16) + "-") }
        #expect(line?.split(separator: " ")[1] == "r--p", "\(line ?? "no line for the mapping")")
    }

    /// A file the agent opens for an mmap stays open (SOMSIM_FLAG_KEEP_FD, its number in the
    /// reply), sized to the mapping's end in the file; a forked child holds it too, and the
    /// generic system-call op acts on it (ftruncate, close); SOMSIM_FLAG_USE_FD maps it again.
    @Test func theAgentKeepsAFilesDescriptorAcrossFork() throws {
        var template = Array("/dev/shm/somsim-agent-test-XXXXXX".utf8CString)
        let directory = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        let path = directory + "/f"
        defer {
            try? RestorePlan.runNow()  // kills the agents
            unlink(path)
            rmdir(directory)
        }
        let parent = try Agent.spawn(name: "opener")
        let address = WorkloadWindow.lowAddress
        func fileSize() -> Int {
            var st = stat()
            return stat(path, &st) == 0 ? Int(st.st_size) : -1
        }
        var map = somsim_command()
        map.op = UInt32(SOMSIM_OP_MMAP.rawValue)
        map.address = address
        map.length = 8192
        map.flags = UInt32(SOMSIM_FLAG_SHARED.rawValue | SOMSIM_FLAG_KEEP_FD.rawValue)
        map.args.0 = 4096  // the file offset
        try map.setPath(path)
        let opened = try parent.call(&map).reply
        #expect(opened.status == SOMSIM_STATUS_OK.rawValue)
        #expect(opened.result > 3)  // not the channel
        #expect(fileSize() == 4096 + 8192)
        let fd = UInt64(opened.result)
        let child = try parent.fork(child: "holder")
        let truncated = try child.syscall(SOMSIM_SYS_FTRUNCATE, fd, 4096).reply
        #expect(truncated.status == SOMSIM_STATUS_OK.rawValue && truncated.op_faults == 0)
        #expect(fileSize() == 4096)
        var again = somsim_command()
        again.op = UInt32(SOMSIM_OP_MMAP.rawValue)
        again.address = address + (1 << 21)
        again.length = 4096
        again.flags = UInt32(SOMSIM_FLAG_SHARED.rawValue | SOMSIM_FLAG_USE_FD.rawValue)
        again.args.1 = fd
        #expect(try parent.call(&again).reply.status == SOMSIM_STATUS_OK.rawValue)
        #expect(try parent.syscall(SOMSIM_SYS_CLOSE, fd).reply.status == SOMSIM_STATUS_OK.rawValue)
        let closedTwice = try parent.syscall(SOMSIM_SYS_CLOSE, fd).reply
        #expect(closedTwice.status == SOMSIM_STATUS_ERRNO.rawValue && closedTwice.error == EBADF)
        #expect(try child.syscall(SOMSIM_SYS_CLOSE, fd).reply.status == SOMSIM_STATUS_OK.rawValue)  // its own copy
    }

    /// The documented install: the `somsim` program alone, anywhere. It validates a workload
    /// with no somsim-agent file next to it (the agent is the program itself).
    @Test func theSomsimProgramAloneValidates() throws {
        let before = try Self.settings()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("somsim-install-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let installed = directory.appendingPathComponent("somsim").path
        try FileManager.default.copyItem(atPath: Self.somsim, toPath: installed)
        let workload = directory.appendingPathComponent("small.somw")
        try Self.small.write(to: workload, atomically: true, encoding: .utf8)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["small.somw", "somsim"])
        let (status, output) = try Self.run(installed, ["validate", workload.path, "--format", "csv"])
        #expect(status == 0, "\(output)")
        #expect(output.hasPrefix("label,process,metric,value,measured,difference,tolerance,ok\n"))
        #expect(try Self.settings() == before)
        #expect(Self.noAgentsLeft())
    }
}
#endif

#if os(Linux)
/// The agent with a fresh heap (somsim-agent): nothing but libc and libhugetlbfs loaded, its
/// break moved to the model's heap start, the space above the window reserved, and glibc's first
/// malloc answering as in a fresh C program, after a fork too.
extension RealKernelTests {
    @Test func theFreshHeapAgentStartsAsAFreshProgram() throws {
        defer { try? RestorePlan.runNow() }  // kills the agents
        let parent = try Agent.spawn(name: "fresh", freshHeap: true)
        let maps = try String(contentsOfFile: "/proc/\(parent.pid)/maps", encoding: .utf8)
        #expect(!maps.contains("libswiftCore"), "somsim-agent loads the Swift runtime:\n\(maps)")
        #expect(!maps.contains("libstdc++"), "somsim-agent loads libstdc++:\n\(maps)")
        // The reservation above the window: one PROT_NONE range starting at the window's top.
        #expect(maps.contains(String(WorkloadWindow.highAddress, radix: 16) + "-"))
        func call(_ agent: Agent, _ kind: somsim_malloc_call, pointer: UInt64 = 0, size: UInt64 = 0) throws -> somsim_reply {
            var c = somsim_command()
            c.op = UInt32(SOMSIM_OP_MALLOC.rawValue)
            c.args.0 = UInt64(kind.rawValue)
            c.args.1 = pointer
            c.args.2 = size
            return try agent.call(&c).reply
        }
        // glibc's first malloc(24): the tcache's 0x290-byte chunk, then this one; the break grows
        // by 0x21000 (top_pad 128 KiB + the request, page-rounded).
        let first = try call(parent, SOMSIM_MALLOC_MALLOC, size: 24)
        #expect(UInt64(bitPattern: first.result) == WorkloadWindow.heapAddress + 0x2a0)
        #expect(first.program_break == WorkloadWindow.heapAddress + 0x21000)
        #expect(first.op_faults == 1)
        // A forked child's first calls fault only on heap pages (glibc's own state in libc's
        // data was copied while the agent got ready): the tcache page, copied.
        let child = try parent.fork(child: "child")
        let second = try call(child, SOMSIM_MALLOC_MALLOC, size: 24)
        #expect(UInt64(bitPattern: second.result) == WorkloadWindow.heapAddress + 0x2c0)
        #expect(second.op_faults == 1)
        // An agent inside somsim refuses the allocator op: its heap is not fresh.
        let plain = try Agent.spawn(name: "plain")
        let refused = try call(plain, SOMSIM_MALLOC_MALLOC, size: 24)
        #expect(refused.status == SOMSIM_STATUS_ERRNO.rawValue && refused.error == ENOTSUP)
    }
}
#endif
