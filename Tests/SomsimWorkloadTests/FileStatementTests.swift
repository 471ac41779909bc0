import Testing
import SomsimWorkload

/// The file statements and `fileoffset=`: what they parse to and their canonical text.
@Suite("File statements")
struct FileStatementTests {
    @Test func parsesAndPrintsCanonically() throws {
        let text = """
            somsim-workload 1
            spawn p
            p mmap m 8M huge=2M shared file=db fileoffset=2048K
            p mmap z 4K file=log fileoffset=0
            p ftruncate db 4194304
            p fallocate db length=1 offset=1 punch
            p fallocate log offset=0 length=4K
            p close db
            p unlink db

            """
        let w = try WorkloadParser.parse(text, fileName: "f.somw")
        var options = MmapOptions(shared: true, huge: .size2M, file: "db")
        options.fileOffsetBytes = 2 << 20
        #expect(w.statementValues == [
            .spawn(process: "p"),
            .mmap(process: "p", mapping: "m", lengthBytes: 8 << 20, options: options),
            .mmap(process: "p", mapping: "z", lengthBytes: 4096, options: MmapOptions(file: "log")),
            .ftruncate(process: "p", file: "db", sizeBytes: 4 << 20),
            .fallocate(process: "p", file: "db", offsetBytes: 1, lengthBytes: 1, punch: true),
            .fallocate(process: "p", file: "log", offsetBytes: 0, lengthBytes: 4096, punch: false),
            .close(process: "p", file: "db"),
            .unlink(process: "p", file: "db"),
        ])
        #expect(WorkloadPrinter.print(w) == """
            somsim-workload 1
            spawn p
            p mmap m 8M shared huge=2M file=db fileoffset=2M
            p mmap z 4K file=log
            p ftruncate db 4M
            p fallocate db offset=1B length=1B punch
            p fallocate log offset=0 length=4K
            p close db
            p unlink db

            """)
    }

    /// A descriptor comes from mmap, survives munmap and a failed mmap alike (open comes first),
    /// is inherited at fork, and ends with close; unlink needs no descriptor.
    @Test func descriptorsFollowMmapForkAndClose() throws {
        _ = try WorkloadParser.parse(
            """
            somsim-workload 1
            spawn a
            a mmap m 4K file=f
            a munmap m
            a ftruncate f 0
            a fork b
            b fallocate f offset=0 length=4K
            b close f
            a close f
            a mmap n 4K file=f fileoffset=1K
            a close f
            b unlink f
            spawn c
            c unlink g
            """, fileName: "ok.somw")
    }
}
