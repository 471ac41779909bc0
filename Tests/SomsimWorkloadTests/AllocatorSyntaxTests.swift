import Testing
import SomsimWorkload

/// The header, then `body`: the body's first line is line 2.
private func h(_ body: String) -> String { header + body }

@Suite("The allocator's statements and settings: syntax, errors and printing")
struct AllocatorSyntaxTests {
    static let bad: [BadInput] = [
        BadInput("malloc without size", h("spawn a\na malloc o"), 3, 11, "missing SIZE; the form is 'PROC malloc OBJ SIZE'"),
        BadInput("malloc size not a size", h("spawn a\na malloc o lots"), 3, 12, "malloc size 'lots' is not a size"),
        BadInput("calloc extra token", h("spawn a\na calloc o 1K zeroed"), 3, 15, "unexpected 'zeroed'"),
        BadInput("malloc object not a name", h("spawn a\na malloc 1o 8"), 3, 10, "'1o' is not a valid object name"),
        BadInput("malloc of a held name", h("spawn a\na malloc o 8\na malloc o 8"), 4, 10, "already has an object named 'o'; free it first"),
        BadInput("free of an unknown object", h("spawn a\na free o"), 3, 8, "has no object named 'o'; allocate it first"),
        BadInput("free twice", h("spawn a\na malloc o 8\na free o\na free o"), 5, 8, "has no object named 'o'"),
        BadInput("realloc of an unknown object", h("spawn a\na realloc o 8"), 3, 11, "has no object named 'o'"),
        BadInput("write of an object of another process", h("spawn a\nspawn b\na malloc o 8\nb write o"), 5, 9, "process 'b' has no object named 'o'"),
        BadInput("write past the object's end", h("spawn a\na malloc o 100\na write o offset=50 length=51"), 4, 21, "the range ends past the end of the object (100B)"),
        BadInput("read offset past the end", h("spawn a\na malloc o 100\na read o offset=101"), 4, 10, "offset 101B is past the end of the object (100B)"),
        BadInput("write past the size realloc gave", h("spawn a\na malloc o 100\na realloc o 10\na write o length=11"), 5, 11, "past the end of the object (10B)"),
        BadInput("write with an unknown option", h("spawn a\na malloc o 8\na write o stride=1"), 4, 11, "unknown write option 'stride=1'; expected offset=SIZE or length=SIZE"),
        BadInput("write after exit", h("spawn a\na malloc o 8\na exit\na write o"), 5, 1, "used after its exit on line 4"),
        BadInput("malloc unknown model", h("machine malloc=jemalloc"), 2, 9, "malloc must be glibc-2.36"),
        BadInput("mmap threshold past an int", h("machine mmap-threshold=4G"), 2, 9, "mmap-threshold must be less than 2G"),
        BadInput("top pad past an int", h("machine top-pad=2G"), 2, 9, "top-pad must be less than 2G (mallopt(3) takes an int)"),
        BadInput("trim threshold twice", h("machine trim-threshold=1M trim-threshold=2M"), 2, 27, "'trim-threshold' is given twice"),
    ]

    @Test(arguments: bad)
    func refused(_ bad: BadInput) throws {
        try bad.expectRefused()
    }

    @Test func canonicalText() throws {
        var machine = MachineSpec()
        machine.mallocMmapThreshold = 1 << 20
        machine.mallocTrimThreshold = 0
        machine.mallocTopPad = 4096
        let l = SourceLocation(line: 1)
        let w = Workload(machine: machine, statements: [
            Located(.spawn(process: "p"), at: l),
            Located(.malloc(process: "p", object: "o", bytes: 24, zeroed: false), at: l),
            Located(.malloc(process: "p", object: "z", bytes: 3 << 10, zeroed: true), at: l),
            Located(.objectAccess(process: "p", object: "z", access: .write, range: ByteRange(offsetBytes: 100, lengthBytes: 2 << 10)), at: l),
            Located(.objectAccess(process: "p", object: "o", access: .read, range: .whole), at: l),
            Located(.realloc(process: "p", object: "o", bytes: 0), at: l),
            Located(.fork(parent: "p", child: "c"), at: l),
            Located(.free(process: "c", object: "z"), at: l),
        ])
        let printed = WorkloadPrinter.print(w)
        #expect(printed == """
            somsim-workload 1
            machine mmap-threshold=1M trim-threshold=0 top-pad=4K
            spawn p
            p malloc o 24B
            p calloc z 3K
            p write z offset=100B length=2K
            p read o
            p realloc o 0
            p fork c
            c free z

            """)
        let again = try WorkloadParser.parse(printed, fileName: "x")
        #expect(again.hasSameContent(as: w))
        #expect(WorkloadPrinter.print(again) == printed)
    }

    /// A forked child holds its parent's objects: it may write and free them, and a freed name
    /// can be allocated again.
    @Test func objectsFollowForkAndFree() throws {
        let w = try WorkloadParser.parse(h("spawn a\na malloc o 64\na fork b\nb write o\nb free o\nb malloc o 8\na free o\n"), fileName: "x")
        #expect(w.statements.count == 7)
        #expect(WorkloadUsage(w).allocator)
        #expect(!WorkloadUsage(try WorkloadParser.parse(h("spawn a\n"), fileName: "x")).allocator)
    }
}
