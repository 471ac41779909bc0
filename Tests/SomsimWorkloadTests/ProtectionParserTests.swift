import Testing
import SomsimWorkload

/// The header (ParserErrorTests has a static `header` of its own, which hides the global one).
private let protectionHeader = "somsim-workload 1\n"

/// mprotect, mlock and munlock: what the parser refuses, where, and why (the same `BadInput`
/// table as ParserErrorTests), and the statements it makes.
extension ParserErrorTests {
    static let protection: [BadInput] = [
        BadInput("unknown protection", protectionHeader + "spawn a\na mmap m 16K\na mprotect m rw", 4, 14, "unknown mprotect protection 'rw'; expected read (PROT_READ), write (PROT_READ|PROT_WRITE) or none (PROT_NONE)"),
        BadInput("mprotect without protection", protectionHeader + "spawn a\na mmap m 16K\na mprotect m", 4, 13, "missing read|write|none; the form is 'PROC mprotect MAP read|write|none [offset=SIZE] [length=SIZE]'"),
        BadInput("mprotect without mapping", protectionHeader + "spawn a\na mprotect", 3, 11, "missing MAP"),
        BadInput("mlock without mapping", protectionHeader + "spawn a\na mlock", 3, 8, "missing MAP; the form is 'PROC mlock MAP [offset=SIZE] [length=SIZE]'"),
        BadInput("unknown mlock option", protectionHeader + "spawn a\na mmap m 16K\na mlock m size=4K", 4, 11, "unknown mlock option 'size=4K'; expected offset=SIZE or length=SIZE"),
        BadInput("mlock option without value", protectionHeader + "spawn a\na mmap m 16K\na mlock m read", 4, 11, "unknown mlock option 'read'"),
        BadInput("munlock offset twice", protectionHeader + "spawn a\na mmap m 16K\na munlock m offset=4K offset=8K", 4, 23, "'offset' is given twice in this statement; keep one"),
        BadInput("mprotect length twice", protectionHeader + "spawn a\na mmap m 16K\na mprotect m none length=4K length=4K", 4, 29, "'length' is given twice"),
        BadInput("mprotect bad size", protectionHeader + "spawn a\na mmap m 16K\na mprotect m none length=4k", 4, 19, "length"),
        BadInput("mprotect unaligned offset", protectionHeader + "spawn a\na mmap m 16K\na mprotect m read offset=2K", 4, 19, "offset 2K is not a multiple of the mapping's page size 4K"),
        BadInput("mlock HugeTLB length", protectionHeader + "spawn a\na mmap m 4M huge=2M\na mlock m length=4K", 4, 11, "length 4K is not a multiple of the mapping's page size 2M"),
        BadInput("munlock unknown mapping", protectionHeader + "spawn a\na munlock x", 3, 11, "process 'a' has no mapping named 'x'"),
        BadInput("mprotect after munmap", protectionHeader + "spawn a\na mmap m 16K\na munmap m\na mprotect m read", 5, 12, "has no mapping named 'm'"),
        BadInput("mlock by a process that exited", protectionHeader + "spawn a\na mmap m 16K\na exit\na mlock m", 5, 1, "'a'"),
    ]

    @Test(arguments: protection)
    func refusedProtection(_ bad: BadInput) throws {
        try bad.expectRefused()
    }

    @Test func protectionStatements() throws {
        let parsed = try statements("spawn a\na mmap m 16K\na mprotect m none offset=4K length=8K\na mprotect m write\na mlock m length=4K\na munlock m offset=12K")
        #expect(parsed[2] == .mprotect(process: "a", mapping: "m", protection: .none, range: ByteRange(offsetBytes: 4096, lengthBytes: 8192)))
        #expect(parsed[3] == .mprotect(process: "a", mapping: "m", protection: .write, range: .whole))
        #expect(parsed[4] == .mlock(process: "a", mapping: "m", range: ByteRange(lengthBytes: 4096)))
        #expect(parsed[5] == .munlock(process: "a", mapping: "m", range: ByteRange(offsetBytes: 12288)))
    }

    @Test func protectionAllowsWhatItSays() {
        #expect(Protection.write.allows(.read) && Protection.write.allows(.write))
        #expect(Protection.read.allows(.read) && !Protection.read.allows(.write))
        #expect(!Protection.none.allows(.read) && !Protection.none.allows(.write))
        // PROT_READ = 1, PROT_WRITE = 2 (include/uapi/asm-generic/mman-common.h)
        #expect(Protection.read.bits == 1 && Protection.write.bits == 3 && Protection.none.bits == 0)
    }
}

extension PrinterTests {
    @Test func protectionCanonicalText() throws {
        let text = """
            somsim-workload 1
            spawn p
            p mmap m 4M huge=2M
            p mmap n 64K
            p mprotect m read
            p mprotect m none offset=2M length=2M
            p mprotect n write offset=4K length=0
            p mlock n
            p mlock m offset=2M
            p munlock n offset=8K length=16K
            p munlock m length=2M

            """
        let w = try WorkloadParser.parse(text, fileName: "p.somw")
        #expect(WorkloadPrinter.print(w) == text)
        // The printer's sizes: the largest unit that divides, whatever the input spelling.
        let spelled = try WorkloadParser.parse("somsim-workload 1\nspawn p\np mmap n 64K\np mlock n offset=4096 length=8192B\n", fileName: "q.somw")
        #expect(WorkloadPrinter.print(spelled).contains("p mlock n offset=4K length=8K\n"))
        #expect(try WorkloadParser.parse(WorkloadPrinter.print(spelled), fileName: "r.somw").hasSameContent(as: spelled))
    }
}
