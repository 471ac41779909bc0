import SomsimModel
import SomsimWorkload
import Testing

/// The allocator inside a process: the brk heap at `WorkloadWindow.heapAddress`, glibc's own
/// mmaps placed as any mmap, objects inherited by fork. Expected values are computed by hand from
/// glibc 2.36's rules (x86-64: SIZE_SZ 8, MINSIZE 32, chunks a multiple of 16, the tcache's
/// 0x290-byte chunk first, top_pad 128 KiB) and the kernel's (validation/ runs the same
/// workloads on the real allocator and kernel).
@Suite("The allocator in a process: heap, chunks, fork")
struct ProcessHeapTests {
    let heap = WorkloadWindow.heapAddress

    /// Applies the statements of `body` one by one; returns the simulator and each outcome.
    func run(_ body: String) throws -> (Simulator, [Simulator.Outcome]) {
        let workload = try WorkloadParser.parse("somsim-workload 1\n" + body, fileName: "heap.somw")
        var simulator = Simulator(machine: workload.machine)
        var outcomes: [Simulator.Outcome] = []
        for s in workload.statements { outcomes.append(simulator.apply(s)) }
        return (simulator, outcomes)
    }

    /// The first malloc makes the heap: sysmalloc asks for nb + top_pad + MINSIZE = 0x290 (the
    /// tcache's chunk) + 0x20000 + 0x20, page-rounded: 0x21000. The tcache's chunk sits at +0,
    /// malloc(24)'s 32-byte chunk at +0x290, so the pointer is +0x2a0. Every write (the top's
    /// header, the chunks' headers, the zeroed tcache) lands in the first page: one fault, 4 KiB,
    /// and the heap's PUD, PMD and PTE tables.
    @Test func firstMallocMakesTheHeap() throws {
        let (simulator, outcomes) = try run("spawn a\na malloc o 24\n")
        #expect(outcomes[1].pointer == heap + 0x2a0)
        #expect(outcomes[1].programBreak == heap + 0x21000)
        #expect(simulator.allocatorRanges(process: "a") == [heap..<(heap + 0x21000)])
        var s = simulator
        s.measure(label: "m")
        let a = s.report.measures[0].process("a")
        #expect(a.rssBytes == 4 * KiB)
        #expect(a.minorFaults == 1)
        #expect(a.pageTableBytes == 12 * KiB)
    }

    /// 200 KiB is above the 128 KiB mmap threshold: request2size(204800) = 204816, mapped as
    /// ALIGN_UP(204816 + 8, 4096) = 208896 bytes at the window's top, the pointer 16 bytes in.
    /// Its free raises the threshold to 208896 (the dynamic threshold), so the same request
    /// then comes from the heap: the top (0x21000 - 0x290 = 134512 bytes) grows by
    /// ALIGN_UP(204816 + 0x20000 + 0x20 - 134512, 4096) = ALIGN_UP(201408, 4096) = 204800 bytes:
    /// the break is at 0x21000 + 0x32000 = 0x53000.
    @Test func mmappedChunkAndTheDynamicThreshold() throws {
        let (simulator, outcomes) = try run("spawn a\na malloc big 200K\na free big\na malloc again 200K\n")
        let chunk = WorkloadWindow.highAddress - 208_896
        #expect(outcomes[1].pointer == chunk + 16)
        #expect(outcomes[1].programBreak == heap + 0x21000)
        #expect(outcomes[3].pointer == heap + 0x2a0)
        #expect(outcomes[3].programBreak == heap + 0x53000)
        #expect(simulator.allocatorRanges(process: "a") == [heap..<(heap + 0x53000)])
    }

    /// The prefork case: eight 1000-byte objects (1008-byte chunks from +0x290), three freed into
    /// the tcache; a forked child's malloc(1000) takes the last freed one (+0x1640, pointer
    /// +0x1650), clearing its key in page 1 and its count in the tcache (page 0): two copies. The
    /// parent wrote pages 0–2 (the top's header after the last chunk is at +0x2210).
    @Test func childAllocationInAPreforkHoleCopiesTwoPages() throws {
        var body = "spawn a\n"
        for i in 1...8 { body += "a malloc o\(i) 1000\n" }
        body += "a free o2\na free o4\na free o6\na fork b\nb malloc n 1000\nmeasure m\n"
        let (simulator, outcomes) = try run(body)
        #expect(outcomes[1].pointer == heap + 0x2a0)
        #expect(outcomes[6].pointer == heap + 0x1650)
        #expect(outcomes[13].pointer == heap + 0x1650)
        let m = simulator.report.measures[0]
        #expect(m.process("a").rssBytes == 12 * KiB)
        #expect(m.process("b").cowCopies == 2)
        #expect(m.process("b").rssBytes == 12 * KiB)
        #expect(m.process("b").privateDirtyBytes == 8 * KiB)
    }

    /// A NULL object: malloc of more than PTRDIFF_MAX returns NULL (checked_request2size: an
    /// ENOMEM event);
    /// writing it is an access at address 0, which kills the process with SIGSEGV.
    @Test func nullObjectWriteIsSIGSEGV() throws {
        let (simulator, outcomes) = try run("spawn a\na malloc o 9223372036854775808B\na write o length=1\n")
        #expect(outcomes[1].pointer == 0)
        #expect(outcomes[1].errno == .ENOMEM)
        #expect(outcomes[2].kills == [Simulator.Kill(process: "a", signal: .SIGSEGV)])
        #expect(simulator.report.errors.count == 1)
    }

    /// Statements built in code skip the checker: an object the process does not hold, or one it
    /// holds already for malloc, is an error event, and the allocator is left as it was — the
    /// next malloc(24) still comes right after the first (0x2a0 + 0x20).
    @Test func misuseBuiltInCodeLeavesTheAllocatorAsItWas() {
        var simulator = Simulator(machine: MachineSpec())
        let l = SourceLocation(line: 1)
        simulator.apply(Located(.spawn(process: "a"), at: l))
        #expect(simulator.apply(Located(.malloc(process: "a", object: "o", bytes: 24, zeroed: false), at: l)).pointer == heap + 0x2a0)
        #expect(simulator.apply(Located(.realloc(process: "a", object: "x", bytes: 100), at: l)).errno == .EINVAL)
        #expect(simulator.apply(Located(.free(process: "a", object: "x"), at: l)).errno == .EINVAL)
        #expect(simulator.apply(Located(.objectAccess(process: "a", object: "x", access: .write, range: .whole), at: l)).errno == .EINVAL)
        #expect(simulator.apply(Located(.malloc(process: "a", object: "o", bytes: 24, zeroed: false), at: l)).errno == .EEXIST)
        #expect(simulator.apply(Located(.malloc(process: "a", object: "p", bytes: 24, zeroed: false), at: l)).pointer == heap + 0x2c0)
        #expect(simulator.report.errors.count == 4)
    }

    /// realloc(p, 0) frees p and returns NULL (REALLOC_ZERO_BYTES_FREES): no error event.
    @Test func reallocToZeroFrees() throws {
        let (simulator, outcomes) = try run("spawn a\na malloc o 100\na realloc o 0\n")
        #expect(outcomes[2].pointer == 0)
        #expect(outcomes[2].errno == nil)
        #expect(simulator.report.errors.isEmpty)
    }
}
