import Testing
import SomsimWorkload

/// The header, then `body`: the body's first line is line 2.
private func h(_ body: String) -> String { header + body }

@Suite("Pools and SysV shm: syntax, errors and printing")
struct PoolsAndShmSyntaxTests {
    static let bad: [BadInput] = [
        BadInput("sysctl without setting", h("sysctl"), 2, 7, "missing hugetlb-2m=N"),
        BadInput("sysctl unknown setting", h("sysctl hugetlb-4m=1"), 2, 8, "unknown sysctl setting 'hugetlb-4m=1'"),
        BadInput("sysctl bad count", h("sysctl hugetlb-2m=x"), 2, 8, "hugetlb-2m page count 'x' is not a plain"),
        BadInput("sysctl extra token", h("sysctl hugetlb-2m=1 now"), 2, 21, "unexpected 'now'"),
        BadInput("machine after sysctl", h("sysctl hugetlb-2m=1\nmachine hugetlb-2m=1"), 3, 1, "machine must come before any sysctl statement (the first is on line 2)"),
        BadInput("sysctl as process name", h("spawn sysctl"), 2, 7, "'sysctl' starts statements and cannot name a process"),
        BadInput("shmget without size", h("spawn a\na shmget k"), 3, 11, "missing SIZE"),
        BadInput("shmget unknown option", h("spawn a\na shmget k 2M hugee=2M"), 3, 15, "unknown shmget option 'hugee=2M'"),
        BadInput("shmget bad huge size", h("spawn a\na shmget k 2M huge=4M"), 3, 15, "unknown HugeTLB page size in 'huge=4M'"),
        BadInput("shmget extra token", h("spawn a\na shmget k 2M huge=2M x"), 3, 23, "unexpected 'x'"),
        BadInput("shmget size not a page multiple", h("spawn a\na shmget k 3M huge=2M"), 3, 12, "segment size 3M is not a multiple of the page size 2M"),
        BadInput("shmget size 0", h("spawn a\na shmget k 0"), 3, 12, "segment size must be larger than 0"),
        BadInput("shmget key in use", h("spawn a\na shmget k 4K\na shmget k 4K"), 4, 10, "segment key 'k' is already in use (shmget on line 3)"),
        BadInput("shmget after exit", h("spawn a\na exit\na shmget k 4K"), 4, 1, "used after its exit on line 3"),
        BadInput("shmat unknown key", h("spawn a\na shmat k m"), 3, 9, "there is no segment with key 'k'"),
        BadInput("shmat removed key", h("spawn a\na shmget k 4K\na shmrm k\na shmat k m"), 5, 9, "there is no segment with key 'k'"),
        BadInput("shmat mapping name taken", h("spawn a\na mmap m 4K\na shmget k 4K\na shmat k m"), 5, 11, "already has a mapping named 'm'"),
        BadInput("shmat without mapping", h("spawn a\na shmat k"), 3, 10, "missing MAP"),
        BadInput("shmdt of an mmap", h("spawn a\na mmap m 4K\na shmdt m"), 4, 9, "is not a SysV attachment (shmat); unmap it with munmap"),
        BadInput("shmdt unknown mapping", h("spawn a\na shmdt m"), 3, 9, "has no mapping named 'm'"),
        BadInput("shmrm unknown key", h("spawn a\na shmrm k"), 3, 9, "there is no segment with key 'k' to remove"),
        BadInput("noreserve twice", h("spawn a\na mmap m 4K noreserve noreserve"), 3, 23, "'noreserve' is given twice"),
        BadInput("noreserve with som", h("spawn a\na mmap m 4K som noreserve"), 3, 17, "noreserve is MAP_NORESERVE"),
        BadInput("overcommit twice", h("machine hugetlb-2m-overcommit=1 hugetlb-2m-overcommit=2"), 2, 33, "'hugetlb-2m-overcommit' is given twice"),
        BadInput("overcommit not a number", h("machine hugetlb-1g-overcommit=-1"), 2, 9, "hugetlb-1g-overcommit page count '-1' is not a plain"),
    ]

    @Test(arguments: bad)
    func refused(_ bad: BadInput) throws {
        try bad.expectRefused()
    }

    @Test func canonicalText() throws {
        var machine = MachineSpec()
        machine.hugetlb2MPages = 1
        machine.hugetlb2MOvercommit = 3
        machine.hugetlb1GOvercommit = 2
        let l = SourceLocation(line: 1)
        let w = Workload(machine: machine, statements: [
            Located(.spawn(process: "p"), at: l),
            Located(.mmap(process: "p", mapping: "m", lengthBytes: 4 << 20, options: MmapOptions(shared: true, huge: .size2M, noreserve: true)), at: l),
            Located(.sysctl(huge: .size2M, pages: 4), at: l),
            Located(.sysctl(huge: .size1G, pages: 0), at: l),
            Located(.shmget(process: "p", key: "db", lengthBytes: 1 << 30, huge: .size1G), at: l),
            Located(.shmget(process: "p", key: "small", lengthBytes: 12 << 10, huge: nil), at: l),
            Located(.shmat(process: "p", key: "small", mapping: "s"), at: l),
            Located(.shmdt(process: "p", mapping: "s"), at: l),
            Located(.shmrm(process: "p", key: "small"), at: l),
        ])
        let printed = WorkloadPrinter.print(w)
        #expect(printed == """
            somsim-workload 1
            machine hugetlb-2m=1 hugetlb-2m-overcommit=3 hugetlb-1g-overcommit=2
            spawn p
            p mmap m 4M shared huge=2M noreserve
            sysctl hugetlb-2m=4
            sysctl hugetlb-1g=0
            p shmget db 1G huge=1G
            p shmget small 12K
            p shmat small s
            p shmdt s
            p shmrm small

            """)
        let again = try WorkloadParser.parse(printed, fileName: "x")
        #expect(again.hasSameContent(as: w))
        #expect(WorkloadPrinter.print(again) == printed)
    }

    /// A key can be used again once removed; attachments follow fork, so the child may detach.
    @Test func namesFollowRemovalAndFork() throws {
        let w = try WorkloadParser.parse(h("spawn a\na shmget k 4K\na shmat k m\na fork b\nb shmdt m\na shmrm k\na shmget k 8K\nsysctl hugetlb-2m=1"), fileName: "x")
        #expect(w.statements.count == 8)
        let usage = WorkloadUsage(w)
        #expect(usage.sysVShm)
        #expect(usage.sysctlPoolPages == [.size2M: 1])
    }
}
